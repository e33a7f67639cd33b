/* Unit tests for the control protocol's request parser (lib/request.c). */
#include "config.h"

#include <string.h>

#include "graceful-run.h"
#include "tap.h"

static struct control_request req;
static const char *why;

static int
parses(const char *line)
{
	why = "";
	return request_parse(line, strlen(line), &req, &why) == 0;
}

static void
test_good(void)
{
	ok(parses("graceful-run/1 reload") && req.verb == CONTROL_RELOAD &&
	    !req.json, "reload");
	ok(parses("graceful-run/1 status") && req.verb == CONTROL_STATUS &&
	    !req.json, "status");
	ok(parses("graceful-run/1 status json") && req.verb == CONTROL_STATUS &&
	    req.json, "status json");
	ok(parses("graceful-run/1 stop") && req.verb == CONTROL_STOP, "stop");
	ok(parses("  graceful-run/1   reload  "), "spaces around words");
}

/* Refused, and why: the reason is read only after the parse. */
static void
refused(const char *line, const char *want, const char *what)
{
	int r = parses(line);

	ok(!r && strstr(why, want) != NULL, "%s: %s", what, why);
}

static void
test_bad(void)
{
	refused("", "not a graceful-run/1", "empty");
	refused("graceful-run/2 reload", "not a graceful-run/1", "another version");
	refused("graceful-run/1", "unknown verb", "no verb");
	refused("graceful-run/1 restart", "unknown verb", "unknown verb");
	refused("graceful-run/1 reload json", "unexpected words", "json on reload");
	refused("graceful-run/1 status json now", "unexpected words", "extra word");
	refused("graceful-run/1 stop\r", "control characters", "carriage return");
	refused("graceful-run/1 reloadx", "unknown verb", "words match whole");
	refused("graceful-run/1x reload", "not a graceful-run/1", "version whole");
}

/* A line is bounded by its length, not by a NUL. */
static void
test_length(void)
{
	const char line[] = "graceful-run/1 stopXXXX";
	char nul[] = "graceful-run/1 reload\0 stop";
	int r;

	r = request_parse(line, strlen("graceful-run/1 stop"), &req, &why);
	ok(r == 0 && req.verb == CONTROL_STOP, "only len bytes are read");
	r = request_parse(nul, sizeof(nul) - 1, &req, &why);
	ok(r == -1 && strstr(why, "control characters") != NULL,
	    "a NUL inside the line is refused: %s", why);
}

int
main(void)
{
	test_good();
	test_bad();
	test_length();
	return tap_done();
}
