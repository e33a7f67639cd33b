/*
 * Signal names and numbers (--stop-signal, --reload-signal): a signal
 * parse_signal takes is one graceful-run can block, catch and send (1-31 or
 * a real-time signal glibc leaves to programs, never the two it keeps for
 * threads), and a name maps to the signal of that name both ways.
 */
#include "config.h"

#include <ctype.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "graceful-run.h"
#include "fuzz.h"

static void
check_usable(int signo)
{
	FUZZ_CHECK((signo >= 1 && signo < 32) ||
	    (signo >= SIGRTMIN && signo <= SIGRTMAX));
}

static void
check_named(const char *text, int signo)
{
	const char *bare = strncasecmp(text, "SIG", 3) == 0 ? text + 3 : text;
	const char *name = parse_signame(signo);
	int again = -1;

	FUZZ_CHECK(strcasecmp(bare, name) == 0);
	FUZZ_CHECK(parse_signal(name, &again) == 0 && again == signo);
}

/* A number is decimal digits only, and names the signal of that number. */
static void
check_numbered(const char *text, int signo)
{
	const char *p;
	long n = 0;

	for (p = text; *p != '\0'; p++) {
		FUZZ_CHECK(isdigit((unsigned char)*p));
		if (n < 1000)
			n = n * 10 + (*p - '0');
	}
	FUZZ_CHECK(n == signo);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text;
	int signo = 0;

	if ((text = fuzz_cstring(data, size)) == NULL)
		return 0;
	if (parse_signal(text, &signo) == 0) {
		check_usable(signo);
		if (isdigit((unsigned char)text[0]))
			check_numbered(text, signo);
		else
			check_named(text, signo);
	}
	free(text);
	return 0;
}
