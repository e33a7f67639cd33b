/*
 * Readiness: how a starting generation proves it serves. The supervisor
 * feeds events in (a pipe readable, a notify message, a timer, a probe that
 * exited) and gets a verdict back; what a verdict does is cycle.c's affair.
 *
 * In auto mode a generation is ready at its first notification; one that
 * says anything at all is waited for until it does, and so is every later
 * generation once one has notified. One that never notified is ready once
 * /proc shows it accepting on a shared socket (accepting.c), looked at
 * every few milliseconds, but only while it starts. Its DURATION decides
 * only where /proc cannot show it, or for a command never seen accepting
 * (it serves in a way the kernel does not show, or does not serve). A
 * notification from a command seen accepting before counts once it also
 * accepts: gunicorn's master says READY=1 before its workers have loaded
 * the application.
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
/* The first look at /proc comes 1 ms after the spawn; then up to 10 ms. */
#define CHECK_FIRST NSEC_PER_MSEC
#define CHECK_MAX (10 * NSEC_PER_MSEC)
/* The work one wake-up does on a channel, so a chatty child cannot hog us. */
#define PIPE_READ_MAX 4096
#define PIPE_LINE_MAX 4096
#define NOTIFY_BURST 64
#define NOTIFY_PAUSE (10 * NSEC_PER_MSEC)

/* What earlier generations showed: the same program will do it again. */
static struct {
	bool notifies;		/* one wrote a line or sent any message */
	bool accepts;		/* one was seen accepting */
	pid_t unproven;		/* ready by DURATION, though /proc could see */
	bool blind_logged;
} learned;

int
ready_parse(const char *text, struct ready_config *rc)
{
	int64_t timeout = rc->timeout_ns ? rc->timeout_ns : DEFAULT_READY_TIMEOUT;
	const struct listeners *ls = rc->listeners;

	memset(rc, 0, sizeof(*rc));
	rc->timeout_ns = timeout;
	rc->listeners = ls;
	if (strcmp(text, "auto") == 0) {
		rc->mode = READY_AUTO;
		rc->wait_ns = DEFAULT_AUTO_WAIT;
	} else if (strncmp(text, "auto:", 5) == 0) {
		rc->mode = READY_AUTO;
		return parse_duration(text + 5, &rc->wait_ns);
	} else if (strcmp(text, "notify") == 0)
		rc->mode = READY_NOTIFY;
	else if (strcmp(text, "accepting") == 0)
		rc->mode = READY_ACCEPTING;
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

/* The generation's one timer is the soonest of ready.c's own. */
static void
ready_rearm(struct generation *g)
{
	int64_t at = clock_earliest(g->rs.alive_ns, g->rs.check_ns);

	if (g->rs.notify_held)
		at = clock_earliest(at, g->rs.resume_ns);
	g->timer_ns = at;
}

/*
 * Whether the generation accepts: its process group, its main process if
 * that left the group (a --forking daemon), and the orphans it left.
 */
static int
ready_accepting(const struct generation *g, const struct ready_config *rc,
    char *how, size_t howlen)
{
	pid_t extra[1 + GEN_ORPHANS_MAX];
	size_t n = 0, i;

	if (g->pid != g->pgid)
		extra[n++] = g->pid;
	for (i = 0; i < g->norphans && i < GEN_ORPHANS_MAX; i++)
		extra[n++] = g->orphans[i];
	return accepting_check(g->pgid, extra, n, rc->listeners, how, howlen);
}

/*
 * A generation made ready by its DURATION may have been slow, not blind:
 * if it accepts now, the command is one whose later generations are
 * waited for until they accept. It is looked at once, when the next starts.
 */
static void
ready_learn_from_last(const struct ready_config *rc)
{
	char how[128];

	if (learned.accepts || learned.unproven <= 1)
		return;
	if (accepting_check(learned.unproven, NULL, 0, rc->listeners, how,
	    sizeof(how)) == ACCEPTING_YES) {
		learned.accepts = true;
		log_debug("the generation of process group %ld is %s: later "
		    "generations are waited for until they accept",
		    (long)learned.unproven, how);
	}
	learned.unproven = 0;
}

void
ready_arm(struct generation *g, const struct ready_config *rc, int64_t now)
{
	g->ready_deadline_ns = now + rc->timeout_ns;
	g->probe_backoff_ns = PROBE_FIRST_BACKOFF;
	g->rs.alive_ns = g->rs.check_ns = 0;
	switch (rc->mode) {
	case READY_AUTO:
		ready_learn_from_last(rc);
		/* It will notify again, however slowly: no timer, no look. */
		if (learned.notifies)
			break;
		g->rs.alive_ns = now + rc->wait_ns;
		g->rs.check_ns = now + CHECK_FIRST;
		break;
	case READY_ACCEPTING:
		g->rs.check_ns = now + CHECK_FIRST;
		break;
	case READY_DELAY:
		g->rs.alive_ns = now + rc->wait_ns;
		break;
	case READY_EXEC:
		g->rs.alive_ns = now;
		break;
	case READY_NOTIFY:
		break;
	}
	ready_rearm(g);
}

/* A child that says anything speaks the protocol: wait for its word. */
static void
ready_spoke(struct generation *g)
{
	g->spoke = true;
	g->rs.alive_ns = 0;
	if (!g->rs.notified)
		g->rs.check_ns = 0;
	ready_rearm(g);
}

/* Keep the read end open, so a late line is no EPIPE, but poll it no more. */
static void
ready_hold_pipe(struct generation *g)
{
	g->rs.pipe_fd = g->ready_fd;
	g->rs.pipe_held = true;
	g->ready_fd = -1;
}

/* A line on the pipe is readiness; EOF without one says nothing. */
enum ready_verdict
ready_on_pipe(struct generation *g)
{
	char buf[PIPE_READ_MAX];
	ssize_t n;

	/* Ready, and the command known to notify: nothing more to learn. */
	if (g->state != GEN_STARTING && learned.notifies) {
		ready_hold_pipe(g);
		return READY_PENDING;
	}
	do
		n = read(g->ready_fd, buf, sizeof(buf));
	while (n == -1 && errno == EINTR);
	if (n == -1 && errno == EAGAIN)
		return READY_PENDING;
	if (n <= 0) {
		if (n == -1)
			log_warn("generation %u: ready pipe", g->id);
		close(g->ready_fd);
		g->ready_fd = -1;
		return READY_PENDING;
	}
	ready_spoke(g);
	if (memchr(buf, '\n', (size_t)n) != NULL) {
		learned.notifies = true;
		ready_hold_pipe(g);
		if (g->state != GEN_STARTING)
			return READY_PENDING;
		g->ready_by = "ready fd";
		return READY_YES;
	}
	g->rs.pipe_bytes += (size_t)n;
	if (g->rs.pipe_bytes >= PIPE_LINE_MAX) {
		log_warnx("generation %u: %zu bytes on the ready pipe and no "
		    "newline; it is no longer read", g->id, g->rs.pipe_bytes);
		ready_hold_pipe(g);
	}
	return READY_PENDING;
}

static void
ready_resume_notify(struct generation *g)
{
	if (!g->rs.notify_held)
		return;
	g->notify_fd = g->rs.notify_fd;
	g->rs.notify_held = false;
	ready_rearm(g);
}

/*
 * More messages in NOTIFY_PAUSE than any notifier sends: while it starts,
 * read that many per NOTIFY_PAUSE at most; once it is ready, read no more.
 */
static void
ready_notify_flood(struct generation *g, bool starting)
{
	/* Closing happens once; reading at the capped rate is said once. */
	if (!starting || !g->rs.flood_logged)
		log_warnx("generation %u: %d notify messages within %lldms; %s",
		    g->id, NOTIFY_BURST,
		    (long long)(NOTIFY_PAUSE / NSEC_PER_MSEC), starting ? "read at that rate from now on" :
		    "its notify socket is closed");
	g->rs.flood_logged = true;
	if (!starting) {
		notify_close(g->notify_fd, g->notify_path);
		g->notify_fd = -1;
		g->notify_path[0] = '\0';
		return;
	}
	g->rs.notify_fd = g->notify_fd;
	g->rs.notify_held = true;
	g->rs.resume_ns = g->rs.burst_ns + NOTIFY_PAUSE;
	g->notify_fd = -1;
	ready_rearm(g);
}

enum ready_verdict
ready_on_notify(struct generation *g)
{
	enum ready_verdict v = READY_PENDING;
	int64_t now = clock_now();
	struct notify_msg msg;
	int rc = 0;

	if (now - g->rs.burst_ns >= NOTIFY_PAUSE) {
		g->rs.burst_ns = now;
		g->rs.burst_count = 0;
	}
	for (; g->rs.burst_count < NOTIFY_BURST &&
	    (rc = notify_recv(g->notify_fd, &msg)) > 0; g->rs.burst_count++) {
		if (rc != 1)
			continue;
		ready_spoke(g);
		learned.notifies = true;
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
	if (g->rs.burst_count == NOTIFY_BURST)
		ready_notify_flood(g, g->state == GEN_STARTING &&
		    v != READY_YES);
	return v;
}

/*
 * auto: a notification is readiness, except from a command seen accepting
 * before that is not accepting yet: it is looked at until it does, within
 * --ready-timeout. One not seen accepting now may be slow, not blind: the
 * next generation's start looks at it again (ready_learn_from_last).
 */
enum ready_verdict
ready_confirm(struct generation *g, const struct ready_config *rc,
    int64_t now)
{
	char how[128];
	int seen;

	if (rc->mode != READY_AUTO || g->rs.notified)
		return READY_YES;
	seen = ready_accepting(g, rc, how, sizeof(how));
	if (seen == ACCEPTING_YES)
		learned.accepts = true;
	if (seen != ACCEPTING_NOT_YET)
		return READY_YES;
	if (!learned.accepts) {
		learned.unproven = g->pgid;
		return READY_YES;
	}
	log_info("generation %u (pid %ld) said %s but does not accept yet: "
	    "waiting until it does", g->id, (long)g->pid, ready_how(g));
	g->rs.notified = true;
	g->rs.check_every_ns = 0;
	g->rs.check_ns = now + CHECK_FIRST;
	ready_rearm(g);
	return READY_PENDING;
}

static void
ready_probe_later(struct generation *g, int64_t now)
{
	g->rs.alive_ns = now + g->probe_backoff_ns;
	g->probe_backoff_ns *= 2;
	if (g->probe_backoff_ns > PROBE_MAX_BACKOFF)
		g->probe_backoff_ns = PROBE_MAX_BACKOFF;
	ready_rearm(g);
}

/* A probe that cannot be started is tried again, as one that failed. */
static void
ready_probe(struct generation *g, const struct ready_config *rc, int64_t now)
{
	struct childenv_input in = { .ready_fd = -1, .target_pid = g->pid };
	struct childenv env;

	if (childenv_build(&env, &in) == -1) {
		log_warn("ready command environment");
		ready_probe_later(g, now);
		return;
	}
	g->probe_pid = spawn_shell(rc->command, &env);
	childenv_free(&env);
	if (g->probe_pid > 0)
		return;
	g->probe_pid = 0;
	log_warnx("generation %u: ready command could not start; again in "
	    "%.2fs", g->id, clock_seconds(g->probe_backoff_ns));
	ready_probe_later(g, now);
}

static void
ready_log_blind(const struct generation *g, const struct ready_config *rc,
    const char *why)
{
	if (learned.blind_logged)
		return;
	learned.blind_logged = true;
	if (rc->mode == READY_ACCEPTING)
		log_warnx("generation %u: cannot see whether it accepts (%s); "
		    "--ready accepting cannot tell", g->id, why);
	else
		log_info("generation %u: cannot see whether it accepts (%s); "
		    "unless it notifies, it is ready once alive %.2fs", g->id,
		    why, clock_seconds(rc->wait_ns));
}

/* What the channels hold now, read before the poll loop gets to them. */
static enum ready_verdict
ready_read_channels(struct generation *g)
{
	ready_resume_notify(g);
	if (g->ready_fd != -1 && ready_on_pipe(g) == READY_YES)
		return READY_YES;
	if (g->notify_fd != -1 && ready_on_notify(g) == READY_YES)
		return READY_YES;
	return READY_PENDING;
}

/* One look at /proc; the next comes a little later each time. */
static enum ready_verdict
ready_look(struct generation *g, const struct ready_config *rc, int64_t now)
{
	char how[128];

	g->rs.seen = ready_accepting(g, rc, how, sizeof(how));
	if (g->rs.seen == ACCEPTING_YES && g->rs.notified) {
		/* The notification stays the rule that made it ready. */
		log_debug("generation %u: %s", g->id, how);
		g->rs.check_ns = 0;
		return READY_YES;
	}
	if (g->rs.seen == ACCEPTING_YES) {
		learned.accepts = true;
		/* A notification sent before it accepted names the rule, and
		 * teaches it. */
		if (ready_read_channels(g) == READY_YES)
			return READY_YES;
		strlcpy(g->rs.how, how, sizeof(g->rs.how));
		g->ready_by = g->rs.how;
		g->rs.check_ns = 0;
		return READY_YES;
	}
	if (g->rs.seen == ACCEPTING_CANNOT_SEE)
		ready_log_blind(g, rc, how);
	g->rs.check_every_ns = g->rs.check_every_ns == 0 ? CHECK_FIRST :
	    g->rs.check_every_ns * 2;
	if (g->rs.check_every_ns > CHECK_MAX)
		g->rs.check_every_ns = CHECK_MAX;
	g->rs.check_ns = now + g->rs.check_every_ns;
	return READY_PENDING;
}

/* Its DURATION (auto, delay) is up, or its probe is due (exec). */
static enum ready_verdict
ready_alive(struct generation *g, const struct ready_config *rc, int64_t now)
{
	g->rs.alive_ns = 0;
	switch (rc->mode) {
	case READY_AUTO:
		/* A command seen accepting is waited for until it does. */
		if (g->spoke || (learned.accepts &&
		    g->rs.seen != ACCEPTING_CANNOT_SEE))
			return READY_PENDING;
		if (g->rs.seen == ACCEPTING_NOT_YET)
			learned.unproven = g->pgid;
		g->rs.check_ns = 0;
		g->ready_by = "silent and alive";
		return READY_YES;
	case READY_DELAY:
		g->ready_by = "alive long enough";
		return READY_YES;
	case READY_EXEC:
		if (g->probe_pid == 0)
			ready_probe(g, rc, now);
		return READY_PENDING;
	case READY_NOTIFY:
	case READY_ACCEPTING:
		break;
	}
	return READY_PENDING;
}

/* At the deadline, what is already there still counts (we may have been
 * stopped meanwhile): the channels are read and /proc looked at once more. */
static enum ready_verdict
ready_last_word(struct generation *g, const struct ready_config *rc,
    int64_t now)
{
	if (ready_read_channels(g) == READY_YES)
		return READY_YES;
	if (g->rs.check_ns != 0 && ready_look(g, rc, now) == READY_YES)
		return READY_YES;
	return READY_FAILED;
}

enum ready_verdict
ready_on_timer(struct generation *g, const struct ready_config *rc,
    int64_t now)
{
	enum ready_verdict v = READY_PENDING;

	if (g->rs.notify_held && now >= g->rs.resume_ns)
		ready_resume_notify(g);
	if (now >= g->ready_deadline_ns)
		v = ready_last_word(g, rc, now);
	else if (g->rs.check_ns != 0 && now >= g->rs.check_ns)
		v = ready_look(g, rc, now);
	if (v == READY_PENDING && g->rs.alive_ns != 0 && now >= g->rs.alive_ns)
		v = ready_alive(g, rc, now);
	if (v == READY_YES)
		ready_resume_notify(g);
	ready_rearm(g);
	return v;
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
	ready_probe_later(g, now);
	return READY_PENDING;
}

const char *
ready_how(const struct generation *g)
{
	return g->ready_by != NULL ? g->ready_by : "?";
}

/* Held channels go back to the generation, to be closed with it. */
void
ready_release(struct generation *g)
{
	ready_resume_notify(g);
	if (g->rs.pipe_held && g->ready_fd == -1)
		g->ready_fd = g->rs.pipe_fd;
	else if (g->rs.pipe_held)
		close(g->rs.pipe_fd);
	g->rs.pipe_held = false;
}
