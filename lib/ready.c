/*
 * Readiness: how a starting generation proves it serves. The supervisor
 * feeds events in (a pipe readable, a notify message, a timer, a probe that
 * exited) and gets a verdict back; what a verdict does is cycle.c's affair.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "graceful-run.h"

#define DEFAULT_AUTO_WAIT NSEC_PER_SEC
#define DEFAULT_READY_TIMEOUT (60 * NSEC_PER_SEC)
#define PROBE_FIRST_BACKOFF (50 * NSEC_PER_MSEC)
#define PROBE_MAX_BACKOFF NSEC_PER_SEC

int
ready_parse(const char *text, struct ready_config *rc)
{
	int64_t timeout = rc->timeout_ns ? rc->timeout_ns : DEFAULT_READY_TIMEOUT;

	memset(rc, 0, sizeof(*rc));
	rc->timeout_ns = timeout;
	if (strcmp(text, "auto") == 0) {
		rc->mode = READY_AUTO;
		rc->wait_ns = DEFAULT_AUTO_WAIT;
	} else if (strncmp(text, "auto:", 5) == 0) {
		rc->mode = READY_AUTO;
		return parse_duration(text + 5, &rc->wait_ns);
	} else if (strcmp(text, "notify") == 0)
		rc->mode = READY_NOTIFY;
	else if (strncmp(text, "delay:", 6) == 0) {
		rc->mode = READY_DELAY;
		return parse_duration(text + 6, &rc->wait_ns);
	} else if (strncmp(text, "exec:", 5) == 0 && text[5] != '\0') {
		rc->mode = READY_EXEC;
		rc->command = text + 5;
	} else
		return -1;
	return 0;
}

bool
ready_offers_channels(const struct ready_config *rc)
{
	return rc->mode == READY_AUTO || rc->mode == READY_NOTIFY;
}

void
ready_arm(struct generation *g, const struct ready_config *rc, int64_t now)
{
	g->ready_deadline_ns = now + rc->timeout_ns;
	g->probe_backoff_ns = PROBE_FIRST_BACKOFF;
	g->timer_ns = 0;
	if (rc->mode == READY_AUTO || rc->mode == READY_DELAY)
		g->timer_ns = now + rc->wait_ns;
	else if (rc->mode == READY_EXEC)
		g->timer_ns = now;
}

/* A line on the pipe is readiness; EOF without one says nothing. */
enum ready_verdict
ready_on_pipe(struct generation *g)
{
	char buf[256];
	ssize_t n;

	for (;;) {
		n = read(g->ready_fd, buf, sizeof(buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return READY_PENDING;
		if (n <= 0) {
			if (n == -1)
				log_warn("generation %u: ready pipe", g->id);
			close(g->ready_fd);
			g->ready_fd = -1;
			return READY_PENDING;
		}
		g->spoke = true;
		if (memchr(buf, '\n', (size_t)n) != NULL) {
			g->ready_by = "ready fd";
			return READY_YES;
		}
	}
}

enum ready_verdict
ready_on_notify(struct generation *g)
{
	enum ready_verdict v = READY_PENDING;
	struct notify_msg msg;
	int rc;

	while ((rc = notify_recv(g->notify_fd, &msg)) > 0) {
		if (rc != 1)
			continue;
		g->spoke = true;
		if (msg.has_status) {
			strlcpy(g->status_text, msg.status, sizeof(g->status_text));
			log_debug("generation %u: STATUS=%s", g->id, msg.status);
		}
		if (msg.ready && g->state == GEN_STARTING) {
			g->ready_by = "READY=1";
			v = READY_YES;
		}
	}
	if (rc == -1)
		log_warn("generation %u: notify socket", g->id);
	return v;
}

static void
ready_probe(struct generation *g, const struct ready_config *rc)
{
	struct childenv_input in = { .ready_fd = -1, .target_pid = g->pid };
	struct childenv env;

	g->timer_ns = 0;
	if (childenv_build(&env, &in) == -1) {
		log_warn("ready probe environment");
		return;
	}
	g->probe_pid = spawn_shell(rc->command, &env);
	childenv_free(&env);
	if (g->probe_pid == -1)
		g->probe_pid = 0;
}

enum ready_verdict
ready_on_timer(struct generation *g, const struct ready_config *rc,
    int64_t now)
{
	if (now >= g->ready_deadline_ns)
		return READY_FAILED;
	if (g->timer_ns == 0 || now < g->timer_ns)
		return READY_PENDING;
	g->timer_ns = 0;
	switch (rc->mode) {
	case READY_AUTO:
		/* A child that spoke the protocol is waited for until READY=1. */
		if (g->spoke)
			return READY_PENDING;
		g->ready_by = "silent and alive";
		return READY_YES;
	case READY_DELAY:
		g->ready_by = "alive long enough";
		return READY_YES;
	case READY_EXEC:
		if (g->probe_pid == 0)
			ready_probe(g, rc);
		return READY_PENDING;
	case READY_NOTIFY:
		break;
	}
	return READY_PENDING;
}

enum ready_verdict
ready_on_probe_exit(struct generation *g, int status, int64_t now)
{
	g->probe_pid = 0;
	if (status == 0) {
		g->ready_by = "ready command";
		return READY_YES;
	}
	log_debug("generation %u: ready command exited %d; again in %.2fs",
	    g->id, status, clock_seconds(g->probe_backoff_ns));
	g->timer_ns = now + g->probe_backoff_ns;
	g->probe_backoff_ns *= 2;
	if (g->probe_backoff_ns > PROBE_MAX_BACKOFF)
		g->probe_backoff_ns = PROBE_MAX_BACKOFF;
	return READY_PENDING;
}

const char *
ready_how(const struct generation *g)
{
	return g->ready_by != NULL ? g->ready_by : "?";
}
