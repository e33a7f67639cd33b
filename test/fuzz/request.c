/*
 * Control socket request lines (request_parse): the parser accepts exactly
 * what a model of the grammar accepts (the version word, one verb, "json"
 * after "status" only, words separated by spaces, no control bytes), with
 * the same verb, and says why whenever it refuses.
 */
#include "config.h"

#include <string.h>

#include "graceful-run.h"
#include "fuzz.h"

#define WORDS_MAX 4

/* The line's space-separated words, at most WORDS_MAX (-1: more). */
static int
model_words(const uint8_t *data, size_t size, const uint8_t **w, size_t *len)
{
	size_t i = 0;
	int n = 0;

	for (;;) {
		while (i < size && data[i] == ' ')
			i++;
		if (i == size)
			return n;
		if (n == WORDS_MAX)
			return -1;
		w[n] = data + i;
		while (i < size && data[i] != ' ')
			i++;
		len[n] = (size_t)(data + i - w[n]);
		n++;
	}
}

static bool
model_is(const uint8_t *w, size_t len, const char *word)
{
	return strlen(word) == len && memcmp(w, word, len) == 0;
}

/* -1: refused; else the verb, with *json. */
static int
model_parse(const uint8_t *data, size_t size, bool *json)
{
	const uint8_t *w[WORDS_MAX];
	size_t len[WORDS_MAX], i;
	int n, verb;

	*json = false;
	for (i = 0; i < size; i++)
		if (data[i] < ' ' || data[i] == 0x7f)
			return -1;
	n = model_words(data, size, w, len);
	if (n < 2 || !model_is(w[0], len[0], CONTROL_PROTOCOL))
		return -1;
	if (model_is(w[1], len[1], "reload"))
		verb = CONTROL_RELOAD;
	else if (model_is(w[1], len[1], "status"))
		verb = CONTROL_STATUS;
	else if (model_is(w[1], len[1], "stop"))
		verb = CONTROL_STOP;
	else
		return -1;
	if (n == 3 && verb == CONTROL_STATUS && model_is(w[2], len[2], "json"))
		*json = true;
	else if (n != 2)
		return -1;
	return verb;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct control_request req;
	const char *why = NULL;
	bool json;
	int rc, verb;

	/* What the server hands over: bounded by its input buffer. */
	if (size >= CONTROL_REQUEST_MAX)
		return 0;
	rc = request_parse((const char *)data, size, &req, &why);
	verb = model_parse(data, size, &json);
	FUZZ_CHECK(rc == 0 || rc == -1);
	FUZZ_CHECK((rc == 0) == (verb != -1));
	if (rc == 0) {
		FUZZ_CHECK((int)req.verb == verb);
		FUZZ_CHECK(req.json == json);
	} else
		FUZZ_CHECK(why != NULL && why[0] != '\0');
	return 0;
}
