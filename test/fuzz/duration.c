/*
 * Durations (--ready-timeout, --stop-timeout, delay:, auto:): parse_duration
 * against a model of the grammar the man page gives, DIGITS[.DIGITS][UNIT]
 * with UNIT one of ms, s, m, h (none: seconds). The model keeps six
 * decimals, as parse.c does, and works in 128 bits: a duration is taken iff
 * it is well formed and at most 24h, whatever unit and however many
 * leading zeros it is written with, and then to the nanosecond.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "graceful-run.h"
#include "fuzz.h"

#define DAY_NS (24 * 3600 * NSEC_PER_SEC)

static int64_t
unit_ns(const char *suffix)
{
	if (strcmp(suffix, "ms") == 0)
		return NSEC_PER_MSEC;
	if (strcmp(suffix, "s") == 0 || *suffix == '\0')
		return NSEC_PER_SEC;
	if (strcmp(suffix, "m") == 0)
		return 60 * NSEC_PER_SEC;
	if (strcmp(suffix, "h") == 0)
		return 3600 * NSEC_PER_SEC;
	return 0;
}

/* 1 and *ns when the model takes text, else 0. */
static int
model(const char *p, int64_t *ns)
{
	__int128 whole = 0, frac = 0, scale = 1, unit, v;

	if (!isdigit((unsigned char)*p))
		return 0;
	for (; isdigit((unsigned char)*p); p++) {
		whole = whole * 10 + (*p - '0');
		if (whole > DAY_NS)	/* too long in any unit; no overflow */
			whole = DAY_NS + 1;
	}
	if (*p == '.') {
		for (p++; isdigit((unsigned char)*p); p++) {
			if (scale < 1000000) {
				frac = frac * 10 + (*p - '0');
				scale *= 10;
			}
		}
	}
	if ((unit = unit_ns(p)) == 0)
		return 0;
	v = whole * unit + frac * unit / scale;
	if (v > DAY_NS)
		return 0;
	*ns = (int64_t)v;
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int64_t ns = -1, want = -1;
	char *text;
	int rc, ok;

	if ((text = fuzz_cstring(data, size)) == NULL)
		return 0;
	rc = parse_duration(text, &ns);
	ok = model(text, &want);
	FUZZ_CHECK(rc == 0 || rc == -1);
	if (rc == 0)
		FUZZ_CHECK(ns >= 0 && ns <= DAY_NS);
	if (ok != (rc == 0))
		fuzz_fail("\"%.64s\": parse_duration %s, the model %s", text,
		    rc == 0 ? "takes it" : "refuses it",
		    ok ? "takes it" : "refuses it");
	if (ok)
		FUZZ_CHECK(ns == want);
	free(text);
	return 0;
}
