/*
 * The control protocol, version 1, spoken on the control socket (the
 * socket and its clients are control.c's). A client sends one request
 * line of at most CONTROL_REQUEST_MAX bytes, newline included, within 5
 * seconds of connecting:
 *
 *	graceful-run/1 reload
 *	graceful-run/1 status [json]
 *	graceful-run/1 stop
 *
 * The answer is zero or more lines "- TEXT" (TEXT is shown to the user),
 * then one final line, after which the server closes the connection:
 *
 *	ok [TEXT]	done (reload: ready; status: a generation serves;
 *			stop: graceful-run exits 0)
 *	failed [TEXT]	not done (reload failed, nothing serves, ...)
 *	error TEXT	the request was not understood or not allowed
 *
 * reload is answered once the reload that covers the request has ended:
 * the one it starts, or, when a reload is under way, the next one, which
 * it shares with every client and HUP that came during it. status answers
 * at once. stop sends a line as each generation ends and the final line
 * when graceful-run is about to exit. A client that goes away cancels
 * nothing. One request per connection: anything sent after the request
 * line, a line that is too long, or no line within the timeout gets the
 * client dropped.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graceful-run.h"

/* The next space-separated word, or NULL at the end of the line. */
static const char *
request_word(const char **p, const char *end, size_t *len)
{
	const char *w;

	while (*p < end && **p == ' ')
		(*p)++;
	if (*p == end)
		return NULL;
	w = *p;
	while (*p < end && **p != ' ')
		(*p)++;
	*len = (size_t)(*p - w);
	return w;
}

static bool
request_is(const char *w, size_t len, const char *word)
{
	return w != NULL && strlen(word) == len && memcmp(w, word, len) == 0;
}

/*
 * One request line, without its newline: 0 and *req filled in, or -1 and
 * *why says what is wrong with it. A pure function (for the fuzzer).
 */
int
request_parse(const char *line, size_t len, struct control_request *req,
    const char **why)
{
	const char *p = line, *end = line + len, *w;
	size_t wlen = 0, i;

	memset(req, 0, sizeof(*req));
	for (i = 0; i < len; i++)
		if ((unsigned char)line[i] < ' ' || line[i] == 0x7f) {
			*why = "control characters in the request";
			return -1;
		}
	w = request_word(&p, end, &wlen);
	if (!request_is(w, wlen, CONTROL_PROTOCOL)) {
		*why = "not a " CONTROL_PROTOCOL " request";
		return -1;
	}
	w = request_word(&p, end, &wlen);
	if (request_is(w, wlen, "reload"))
		req->verb = CONTROL_RELOAD;
	else if (request_is(w, wlen, "status"))
		req->verb = CONTROL_STATUS;
	else if (request_is(w, wlen, "stop"))
		req->verb = CONTROL_STOP;
	else {
		*why = "unknown verb (reload, status, stop)";
		return -1;
	}
	w = request_word(&p, end, &wlen);
	if (req->verb == CONTROL_STATUS && request_is(w, wlen, "json")) {
		req->json = true;
		w = request_word(&p, end, &wlen);
	}
	if (w != NULL) {
		*why = "unexpected words after the verb";
		return -1;
	}
	return 0;
}

static void
request_reload(struct supervisor *sv, struct control_client *c)
{
	c->ticket = cycle_reload(sv);
	log_debug("control: reload requested (reload #%u answers it)",
	    c->ticket);
	control_wait(c);
	/* It may have ended already: refused, or a spawn that failed at once. */
	request_progress(sv, c);
}

/* Text of several lines goes out as "- " lines. */
static void
request_lines(struct control_client *c, const char *text)
{
	const char *nl;

	for (; *text != '\0'; text = nl + 1) {
		if ((nl = strchr(text, '\n')) == NULL)
			nl = text + strlen(text);
		control_queue(c, "- %.*s\n", (int)(nl - text), text);
		if (*nl == '\0')
			break;
	}
}

static void
request_status(struct supervisor *sv, struct control_client *c)
{
	char *text;
	int serving;

	if ((serving = status_format(sv, c->req.json, true, &text)) == -1) {
		control_answer(c, "error", "no memory for the status");
		return;
	}
	request_lines(c, text);
	free(text);
	control_answer(c, serving ? "ok" : "failed", "");
}

static void
request_stop(struct supervisor *sv, struct control_client *c)
{
	control_wait(c);
	if (sv->state != WRAPPER_STOPPING && sv->state != WRAPPER_EXITING) {
		log_info("control: stop requested");
		cycle_stop(sv, SIGTERM);
	}
}

/* A complete request line (len without its newline) has come. */
void
request_handle(struct supervisor *sv, struct control_client *c,
    const char *line, size_t len)
{
	const char *why;

	if (request_parse(line, len, &c->req, &why) == -1) {
		log_warnx("control: request dropped: %s", why);
		control_answer(c, "error", why);
		return;
	}
	switch (c->req.verb) {
	case CONTROL_RELOAD:
		request_reload(sv, c);
		break;
	case CONTROL_STATUS:
		request_status(sv, c);
		break;
	case CONTROL_STOP:
		request_stop(sv, c);
		break;
	}
}

/* After events: a waiting reload client is answered once its ticket is. */
void
request_progress(struct supervisor *sv, struct control_client *c)
{
	const struct reload_outcome *o;

	if (c->req.verb != CONTROL_RELOAD)
		return;
	if ((o = cycle_outcome(sv, c->ticket)) != NULL)
		control_answer(c, o->ok ? "ok" : "failed", o->text);
	else if (c->ticket + RELOAD_OUTCOMES <= sv->reload_seq)
		control_answer(c, "failed", "reload: its outcome was "
		    "overwritten by later reloads");
}

/* A line for clients waiting on a stop: how a generation ended. */
void
request_exit_line(const struct generation *g, int64_t now, char *out,
    size_t len)
{
	char after[48] = "";

	if (g->stop_ns != 0)
		snprintf(after, sizeof(after), " (%.2fs after the stop "
		    "signal)", clock_seconds(now - g->stop_ns));
	if (g->status > 128)
		snprintf(out, len, "generation %u (pid %ld) died of SIG%s%s",
		    g->id, (long)g->pid, parse_signame(g->status - 128), after);
	else
		snprintf(out, len, "generation %u (pid %ld) exited with "
		    "status %d%s", g->id, (long)g->pid, g->status, after);
}

/* graceful-run exits with status: the last word to a waiting client. */
void
request_finish(struct control_client *c, int status)
{
	char text[64];

	if (c->req.verb == CONTROL_STOP) {
		snprintf(text, sizeof(text), "graceful-run exits with status "
		    "%d", status);
		control_answer(c, status == 0 ? "ok" : "failed", text);
	} else {
		snprintf(text, sizeof(text), "reload failed: graceful-run "
		    "exits with status %d", status);
		control_answer(c, "failed", text);
	}
}
