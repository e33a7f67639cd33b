/*
 * The library's only output: under graceful-run -v, one line on standard
 * error for a bind() it could not match, so a user can see why a program
 * bound a socket of its own. Silent otherwise: the program's output is
 * the program's.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "preload.h"

static bool verbose;

/* Read before main(), which may clear the environment. */
__attribute__((constructor)) static void
say_constructor(void)
{
	const char *v = getenv(PRELOAD_ENV_VERBOSE);

	verbose = v != NULL && strcmp(v, "1") == 0;
}

void
say_unmatched(int fd, const struct sockaddr *sa, socklen_t len,
    const char *why)
{
	char addr[160], line[384];
	int saved = errno, n;
	ssize_t w;

	if (!verbose)
		return;
	match_format(sa, len, addr, sizeof(addr));
	n = snprintf(line, sizeof(line), "graceful-run takeover[%ld]: bind %s "
	    "(fd %d): %s; the program binds a socket of its own\n",
	    (long)getpid(), addr, fd, why);
	if (n > 0 && (size_t)n >= sizeof(line)) {
		n = (int)sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	do
		w = write(STDERR_FILENO, line, n > 0 ? (size_t)n : 0);
	while (w == -1 && errno == EINTR);
	errno = saved;
}
