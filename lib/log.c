/*
 * One line per event on stderr, "graceful-run[PID]: ...", in the style of the
 * OpenBSD daemons: log_warn appends strerror(errno), log_warnx does not.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "graceful-run.h"

static int verbosity = LOG_NORMAL;
static void (*fatal_cleanup)(void);

/* What fatal() undoes before it exits: children, sockets, files. */
void
log_on_fatal(void (*cleanup)(void))
{
	fatal_cleanup = cleanup;
}

static noreturn void
log_exit_fatal(void)
{
	void (*cleanup)(void) = fatal_cleanup;

	/* A fatal error inside the cleanup must not loop. */
	fatal_cleanup = NULL;
	if (cleanup != NULL)
		cleanup();
	exit(EXIT_OWN_FAILURE);
}

static void log_emit(const char *, va_list, int) PRINTFLIKE(1, 0);
static void log_at(int, bool, const char *, va_list) PRINTFLIKE(3, 0);

void
log_init(int level)
{
	verbosity = level;
}

/* One write(2) a line, so lines from several processes never interleave. */
static void
log_emit(const char *fmt, va_list ap, int errnum)
{
	char line[1024];
	size_t n;
	int m;

	m = snprintf(line, sizeof(line), "graceful-run[%ld]: ", (long)getpid());
	n = m > 0 ? (size_t)m : 0;
	m = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	n = m > 0 ? n + (size_t)m : n;
	if (errnum != 0 && n < sizeof(line) - 1) {
		m = snprintf(line + n, sizeof(line) - n, ": %s", strerror(errnum));
		n = m > 0 ? n + (size_t)m : n;
	}
	/* Leave room for the newline when the text was cut. */
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	while (write(STDERR_FILENO, line, n) == -1 && errno == EINTR)
		;
}

/* Log at a level if the verbosity allows; errno survives the call. */
static void
log_at(int level, bool with_errno, const char *fmt, va_list ap)
{
	int saved = errno;

	if (verbosity >= level)
		log_emit(fmt, ap, with_errno ? saved : 0);
	errno = saved;
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_at(LOG_QUIET, true, fmt, ap);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_at(LOG_QUIET, false, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_at(LOG_NORMAL, false, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_at(LOG_VERBOSE, false, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_at(LOG_QUIET, true, fmt, ap);
	va_end(ap);
	log_exit_fatal();
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(fmt, ap, 0);
	va_end(ap);
	log_exit_fatal();
}
