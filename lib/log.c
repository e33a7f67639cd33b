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

/*
 * TEXT as a log line shows it: quoted, control characters and quotes
 * escaped (a newline in an argument must not forge a line), and cut after
 * LOG_EXCERPT_MAX bytes with "..." so the line says what is wrong first.
 */
const char *
log_excerpt(struct log_excerpt *ex, const char *text)
{
	static const char hex[] = "0123456789abcdef";
	size_t len = strnlen(text, LOG_EXCERPT_MAX + 1), i, o = 0;
	bool cut = len > LOG_EXCERPT_MAX;
	unsigned char c;

	if (cut) {
		len = LOG_EXCERPT_MAX;
		/* Not in the middle of a UTF-8 sequence. */
		while (len > 0 && ((unsigned char)text[len] & 0xc0) == 0x80)
			len--;
	}
	ex->s[o++] = '"';
	for (i = 0; i < len; i++) {
		c = (unsigned char)text[i];
		if (c < ' ' || c == 0x7f) {
			ex->s[o++] = '\\';
			ex->s[o++] = 'x';
			ex->s[o++] = hex[c >> 4];
			ex->s[o++] = hex[c & 0xf];
		} else {
			if (c == '"' || c == '\\')
				ex->s[o++] = '\\';
			ex->s[o++] = (char)c;
		}
	}
	ex->s[o++] = '"';
	if (cut) {
		memcpy(ex->s + o, "...", 3);
		o += 3;
	}
	ex->s[o] = '\0';
	return ex->s;
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

/* Say why something was refused into a caller's buffer; always -1. */
int
log_reason(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return -1;
}
