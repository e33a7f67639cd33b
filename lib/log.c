/*
 * One line per event on stderr, "graceful-run[PID]: ...", in the style of the
 * OpenBSD daemons: log_warn appends strerror(errno), log_warnx does not.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "graceful-run.h"

/* How long one line may wait for a reader of a non-blocking stderr. */
#define LOG_STALL_MS 1000

static int verbosity = LOG_NORMAL;
/* The reader of a non-blocking stderr did not keep up: wait no more. */
static bool stalled;

void
log_init(int level)
{
	verbosity = level;
}

/*
 * All of it, or as much as stderr takes: the rest after a short write,
 * again after EINTR, and on a non-blocking stderr (shared with whoever
 * set O_NONBLOCK on it) a bounded wait for room. Any other error (EPIPE: no
 * reader) drops the line: there is no one left to tell.
 */
static void
log_write_all(const char *buf, size_t n)
{
	struct pollfd pfd = { .fd = STDERR_FILENO, .events = POLLOUT };
	ssize_t w;

	while (n > 0) {
		w = write(STDERR_FILENO, buf, n);
		if (w > 0) {
			buf += w;
			n -= (size_t)w;
			stalled = false;
			continue;
		}
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1 && errno == EAGAIN && !stalled &&
		    poll(&pfd, 1, LOG_STALL_MS) > 0)
			continue;
		if (w == -1 && errno == EAGAIN)
			stalled = true;
		return;
	}
}

/* One write(2) a line, so lines from several processes never interleave. */
static void
log_emit(const char *fmt, va_list ap, int errnum)
{
	char line[LOG_LINE_MAX];
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
	log_write_all(line, n);
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
	exit(EXIT_OWN_FAILURE);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(fmt, ap, 0);
	va_end(ap);
	exit(EXIT_OWN_FAILURE);
}
