/*
 * The environment of an adopted socket set (LISTEN_PID, LISTEN_FDS,
 * LISTEN_FDNAMES) through sockets_adopt_env, which reads them without
 * touching an fd. The input holds the three values separated by NUL bytes
 * (an environment value cannot hold one); a missing value is unset. The
 * wrapper's own pid is taken to be 4242. Checked: sockets are adopted iff
 * LISTEN_PID is 4242 and LISTEN_FDS a count of 1-256; they are fds 3, 4,
 * ... in order, each named by its LISTEN_FDNAMES entry ("unknown" when
 * empty or missing), a name that can be passed on in a ':' list.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "graceful-run.h"
#include "fuzz.h"

#define SELF 4242
#define NAMES_MAX 4096

static struct listeners ls;

/* A value as strtonum reads it; -1 when it is not a number. */
static long long
number(const char *s)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	return end == s || *end != '\0' || errno != 0 ? -1 : v;
}

/* The i-th entry of the name list, as it should be handed on. */
static void
nth_name(const char *names, size_t i, char *out, size_t outlen)
{
	size_t len;

	for (; names != NULL && i > 0; i--)
		if ((names = strchr(names, ':')) != NULL)
			names++;
	len = names != NULL ? strcspn(names, ":") : 0;
	if (len == 0) {
		strlcpy(out, "unknown", outlen);
		return;
	}
	if (len >= outlen)
		len = outlen - 1;
	memcpy(out, names, len);
	out[len] = '\0';
}

static void
check_adopted(const char *names)
{
	char want[256];
	size_t i;

	if (names != NULL && strlen(names) >= NAMES_MAX)
		names = NULL;
	for (i = 0; i < ls.n; i++) {
		FUZZ_CHECK(ls.v[i].fd == FIRST_LISTEN_FD + (int)i);
		FUZZ_CHECK(ls.v[i].name[0] != '\0');
		FUZZ_CHECK(strchr(ls.v[i].name, ':') == NULL);
		nth_name(names, i, want, sizeof(want));
		FUZZ_CHECK(strcmp(ls.v[i].name, want) == 0);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *field[3] = { NULL, NULL, NULL };
	char *buf, *p, *end;
	long long n;
	size_t i;
	int rc;

	if ((buf = malloc(size + 1)) == NULL)
		abort();
	memcpy(buf, data, size);
	buf[size] = '\0';
	end = buf + size;
	for (i = 0, p = buf; i < 3 && p <= end; i++, p += strlen(p) + 1)
		field[i] = p;
	/* An empty input leaves everything unset, not LISTEN_PID="". */
	if (size == 0)
		field[0] = NULL;
	rc = sockets_adopt_env(&ls, field[0], field[1], field[2], SELF);
	n = field[1] != NULL ? number(field[1]) : -1;
	if (field[0] == NULL || field[1] == NULL || number(field[0]) != SELF)
		FUZZ_CHECK(rc == 0 && ls.n == 0);
	else if (n < 0 || n > MAX_LISTENERS)
		FUZZ_CHECK(rc == -1 && ls.n == 0);
	else
		FUZZ_CHECK(rc == (n > 0) && ls.n == (size_t)n);
	if (rc == 1)
		check_adopted(field[2]);
	free(buf);
	return 0;
}
