/*
 * Shared by every driver of test/fuzz/. make fuzz runs the drivers with
 * -close_fd_mask=2, so what lib/ logs per input does not flood the log; the
 * invariant reports go to a copy of stderr taken before that.
 */
#include "config.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"

static int report_fd = -1;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	report_fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
	return 0;
}

/* A broken invariant: say which, then abort so libFuzzer saves the input. */
void
fuzz_fail(const char *fmt, ...)
{
	int fd = report_fd != -1 ? report_fd : STDERR_FILENO;
	va_list ap;

	dprintf(fd, "invariant broken: ");
	va_start(ap, fmt);
	vdprintf(fd, fmt, ap);
	va_end(ap);
	dprintf(fd, "\n");
	abort();
}

/* Arguments and environment values cannot hold a NUL: NULL for those. */
char *
fuzz_cstring(const uint8_t *data, size_t size)
{
	char *s;

	if (memchr(data, '\0', size) != NULL)
		return NULL;
	if ((s = malloc(size + 1)) == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/*
 * The lowest free fd: the kernel hands out the lowest first, so an fd the
 * code under test left open shows as a change.
 */
int
fuzz_lowest_free_fd(void)
{
	int fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 0);

	if (fd == -1)
		abort();
	close(fd);
	return fd;
}
