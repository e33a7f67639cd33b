/*
 * Durations ("250ms", "2s", "1m", a bare number is seconds) and signal names
 * ("TERM", "SIGTERM", "15") as options take them.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "graceful-run.h"

static const struct {
	const char *suffix;
	int64_t ns;
} duration_units[] = {
	{ "ms", NSEC_PER_MSEC },
	{ "s", NSEC_PER_SEC },
	{ "m", 60 * NSEC_PER_SEC },
	{ "h", 3600 * NSEC_PER_SEC },
	{ "", NSEC_PER_SEC },
};

/* Up to a day with millisecond precision: anything longer is a typo. */
#define DURATION_MAX (24 * 3600 * NSEC_PER_SEC)

/*
 * Digits only, in BASE (8 or 10): no sign, no space, no prefix, however
 * many leading zeros. 0 and *out, or -1 with errno EINVAL (not a number)
 * or ERANGE (more than MAX), checked before anything can overflow.
 */
int
parse_uint(const char *text, unsigned base, uint64_t max, uint64_t *out)
{
	uint64_t v = 0, d;
	const char *p;

	if (*text == '\0') {
		errno = EINVAL;
		return -1;
	}
	for (p = text; *p != '\0'; p++) {
		d = (uint64_t)(unsigned char)*p - '0';
		if (*p < '0' || d >= base) {
			errno = EINVAL;
			return -1;
		}
	}
	for (p = text; *p != '\0'; p++) {
		d = (uint64_t)(*p - '0');
		if (v > (max - d) / base) {
			errno = ERANGE;
			return -1;
		}
		v = v * base + d;
	}
	*out = v;
	return 0;
}

/* -1 with errno EINVAL when malformed, ERANGE when more than 24h. */
int
parse_duration(const char *text, int64_t *ns)
{
	const char *p = text;
	int64_t whole = 0, frac = 0, scale = 1;
	size_t i;

	errno = EINVAL;
	if (!isdigit((unsigned char)*p))
		return -1;
	for (; isdigit((unsigned char)*p); p++) {
		whole = whole * 10 + (*p - '0');
		/* Past a day in the smallest unit is past a day in any. */
		if (whole > DURATION_MAX / NSEC_PER_MSEC) {
			errno = ERANGE;
			return -1;
		}
	}
	if (*p == '.') {
		for (p++; isdigit((unsigned char)*p); p++) {
			if (scale < 1000000) {
				frac = frac * 10 + (*p - '0');
				scale *= 10;
			}
		}
	}
	for (i = 0; i < sizeof(duration_units) / sizeof(duration_units[0]); i++) {
		if (strcmp(p, duration_units[i].suffix) != 0)
			continue;
		if (whole > DURATION_MAX / duration_units[i].ns) {
			errno = ERANGE;
			return -1;
		}
		*ns = whole * duration_units[i].ns +
		    frac * (duration_units[i].ns / scale);
		if (*ns > DURATION_MAX) {
			errno = ERANGE;
			return -1;
		}
		return 0;
	}
	return -1;
}

static const struct {
	const char *name;
	int signo;
} signal_names[] = {
	{ "HUP", SIGHUP }, { "INT", SIGINT }, { "QUIT", SIGQUIT },
	{ "ILL", SIGILL }, { "TRAP", SIGTRAP }, { "ABRT", SIGABRT },
	{ "BUS", SIGBUS }, { "FPE", SIGFPE }, { "KILL", SIGKILL },
	{ "USR1", SIGUSR1 }, { "SEGV", SIGSEGV }, { "USR2", SIGUSR2 },
	{ "PIPE", SIGPIPE }, { "ALRM", SIGALRM }, { "TERM", SIGTERM },
	{ "CHLD", SIGCHLD }, { "CONT", SIGCONT }, { "STOP", SIGSTOP },
	{ "TSTP", SIGTSTP }, { "TTIN", SIGTTIN }, { "TTOU", SIGTTOU },
	{ "URG", SIGURG }, { "XCPU", SIGXCPU }, { "XFSZ", SIGXFSZ },
	{ "VTALRM", SIGVTALRM }, { "PROF", SIGPROF }, { "WINCH", SIGWINCH },
	{ "IO", SIGIO }, { "PWR", SIGPWR }, { "SYS", SIGSYS },
};

int
parse_signal(const char *text, int *signo)
{
	uint64_t n;
	size_t i;

	if (isdigit((unsigned char)text[0])) {
		/* glibc keeps those between 31 and SIGRTMIN for its threads. */
		if (parse_uint(text, 10, (uint64_t)SIGRTMAX, &n) == -1 ||
		    n == 0 || (n > 31 && n < (uint64_t)SIGRTMIN))
			return -1;
		*signo = (int)n;
		return 0;
	}
	if (strncasecmp(text, "SIG", 3) == 0)
		text += 3;
	for (i = 0; i < sizeof(signal_names) / sizeof(signal_names[0]); i++) {
		if (strcasecmp(text, signal_names[i].name) == 0) {
			*signo = signal_names[i].signo;
			return 0;
		}
	}
	return -1;
}

const char *
parse_signame(int signo)
{
	size_t i;

	for (i = 0; i < sizeof(signal_names) / sizeof(signal_names[0]); i++)
		if (signal_names[i].signo == signo)
			return signal_names[i].name;
	return "?";
}
