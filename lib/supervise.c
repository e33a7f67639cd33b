/*
 * The loop: one ppoll over the signalfd and the readiness channels of the
 * starting generations, with the nearest deadline as its timeout. Nothing
 * wakes it when nothing is pending. What each event means is cycle.c's.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "graceful-run.h"

#define POLL_MAX (1 + 2 * MAX_GENERATIONS + CONTROL_POLL_MAX)
/*
 * How often a generation whose leader is gone is checked for members left.
 * Their deaths are not always signalled (an orphan that was already a
 * zombie when it was reparented to us need not raise SIGCHLD), so this is
 * polled, but only while such a generation exists.
 */
#define LINGER_CHECK (50 * NSEC_PER_MSEC)

struct generation *
supervise_current(struct supervisor *sv)
{
	size_t i;

	for (i = 0; i < MAX_GENERATIONS; i++)
		if (sv->gens[i].id != 0 && sv->gens[i].state == GEN_READY &&
		    !sv->gens[i].exited)
			return &sv->gens[i];
	return NULL;
}

struct generation *
supervise_starting(struct supervisor *sv)
{
	size_t i;

	for (i = 0; i < MAX_GENERATIONS; i++)
		if (sv->gens[i].id != 0 && sv->gens[i].state == GEN_STARTING)
			return &sv->gens[i];
	return NULL;
}

static struct generation *
supervise_find(struct supervisor *sv, pid_t pid, bool probe)
{
	struct generation *g;
	size_t i;

	for (i = 0; i < MAX_GENERATIONS; i++) {
		g = &sv->gens[i];
		if (g->id != 0 && (probe ? g->probe_pid : g->pid) == pid &&
		    (probe || !g->exited))
			return g;
	}
	return NULL;
}

static void
supervise_forward(struct supervisor *sv, int signo)
{
	struct generation *g = supervise_current(sv);

	if (g == NULL)
		g = supervise_starting(sv);
	if (g == NULL || g->exited) {
		log_info("SIG%s not forwarded: no generation running",
		    parse_signame(signo));
		return;
	}
	log_debug("forwarding SIG%s to generation %u (pid %ld)",
	    parse_signame(signo), g->id, (long)g->pid);
	if (kill(g->pid, signo) == -1)
		log_warn("kill %ld", (long)g->pid);
}

static void
supervise_reaped(struct supervisor *sv, pid_t pid, int status)
{
	struct generation *g;

	if ((g = supervise_find(sv, pid, false)) != NULL) {
		g->exited = true;
		g->status = status;
		cycle_exited(sv, g);
		control_generation_exited(g);
	} else if ((g = supervise_find(sv, pid, true)) != NULL) {
		if (ready_on_probe_exit(g, status, clock_now()) == READY_YES)
			cycle_ready(sv, g);
	} else if (pid == sv->check_pid)
		cycle_check_exited(sv, status);
	else
		log_debug("reaped pid %ld (status %d)", (long)pid, status);
}

/* A generation is gone once its leader is reaped and its group is empty. */
static void
supervise_free_gone(struct supervisor *sv)
{
	struct generation *g;
	size_t i;

	for (i = 0; i < MAX_GENERATIONS; i++) {
		g = &sv->gens[i];
		if (g->id == 0 || !g->exited || g->probe_pid != 0 ||
		    gen_has_members(g))
			continue;
		log_debug("generation %u (pid %ld) gone", g->id, (long)g->pid);
		gen_close_channels(g);
		memset(g, 0, sizeof(*g));
	}
}

static void
supervise_reap(struct supervisor *sv)
{
	pid_t pid;
	int ws;

	for (;;) {
		pid = waitpid(-1, &ws, WNOHANG);
		if (pid == -1 && errno == EINTR)
			continue;
		if (pid <= 0)
			break;
		supervise_reaped(sv, pid, spawn_exit_status(ws));
	}
	if (pid == -1 && errno != ECHILD)
		log_warn("waitpid");
	supervise_free_gone(sv);
}

static bool
supervise_lingering(struct supervisor *sv)
{
	size_t i;

	for (i = 0; i < MAX_GENERATIONS; i++)
		if (sv->gens[i].id != 0 && sv->gens[i].exited)
			return true;
	return false;
}

static void
supervise_signal(struct supervisor *sv, int signo)
{
	if (signo == SIGCHLD)
		supervise_reap(sv);
	else if (signo == (sv->cfg->reload_signal ? sv->cfg->reload_signal : SIGHUP))
		cycle_reload(sv);
	else if (signo == SIGTERM || signo == SIGINT || signo == SIGQUIT)
		cycle_stop(sv, signo);
	else if (signals_is_forwarded(signo))
		supervise_forward(sv, signo);
}

static void
supervise_timers(struct supervisor *sv)
{
	int64_t now = clock_now();
	struct generation *g;
	enum ready_verdict v;
	char why[64];
	size_t i;

	if (sv->check_deadline_ns != 0 && now >= sv->check_deadline_ns)
		cycle_check_overdue(sv);
	for (i = 0; i < MAX_GENERATIONS; i++) {
		g = &sv->gens[i];
		if (g->id == 0)
			continue;
		if (g->kill_ns != 0 && now >= g->kill_ns)
			cycle_kill_due(sv, g);
		if (g->state != GEN_STARTING || g->exited || g->signalled)
			continue;
		v = ready_on_timer(g, &sv->cfg->ready, now);
		if (v == READY_YES)
			cycle_ready(sv, g);
		else if (v == READY_FAILED) {
			snprintf(why, sizeof(why), "not ready within %.2fs",
			    clock_seconds(sv->cfg->ready.timeout_ns));
			cycle_not_ready(sv, g, why);
		}
	}
}

static int64_t
supervise_deadline(struct supervisor *sv)
{
	int64_t at = sv->check_deadline_ns;
	struct generation *g;
	size_t i;

	for (i = 0; i < MAX_GENERATIONS; i++) {
		g = &sv->gens[i];
		if (g->id == 0)
			continue;
		at = clock_earliest(at, g->kill_ns);
		if (g->exited)
			at = clock_earliest(at, clock_now() + LINGER_CHECK);
		if (g->state == GEN_STARTING && !g->exited && !g->signalled) {
			at = clock_earliest(at, g->timer_ns);
			at = clock_earliest(at, g->ready_deadline_ns);
		}
	}
	return clock_earliest(at, control_deadline());
}

static size_t
supervise_pollset(struct supervisor *sv, int sigfd, struct pollfd *pfd,
    struct generation **owner, size_t *nchannels)
{
	struct generation *g;
	size_t i, n = 0;

	pfd[n] = (struct pollfd){ .fd = sigfd, .events = POLLIN };
	owner[n++] = NULL;
	for (i = 0; i < MAX_GENERATIONS; i++) {
		g = &sv->gens[i];
		if (g->id == 0)
			continue;
		/* Read on after readiness: a late line must not be an EPIPE. */
		if (g->ready_fd != -1) {
			pfd[n] = (struct pollfd){ .fd = g->ready_fd, .events = POLLIN };
			owner[n++] = g;
		}
		if (g->notify_fd != -1) {
			pfd[n] = (struct pollfd){ .fd = g->notify_fd, .events = POLLIN };
			owner[n++] = g;
		}
	}
	*nchannels = n;
	return n + control_pollfds(pfd + n, POLL_MAX - n);
}

static void
supervise_channel(struct supervisor *sv, struct generation *g, int fd)
{
	enum ready_verdict v;

	if (g->id == 0)
		return;
	if (fd == g->ready_fd)
		v = ready_on_pipe(g);
	else if (fd == g->notify_fd)
		v = ready_on_notify(g);
	else
		return;
	if (v == READY_YES && g->state == GEN_STARTING && !g->exited &&
	    !g->signalled)
		cycle_ready(sv, g);
}

/* After every round of events: answer who waits, publish the status. */
static void
supervise_report(struct supervisor *sv)
{
	control_after_events(sv);
	statusfile_update(sv);
}

static void
supervise_wait(struct supervisor *sv, int sigfd)
{
	struct pollfd pfd[POLL_MAX];
	struct generation *owner[POLL_MAX];
	struct timespec ts, *tsp = NULL;
	int64_t at = supervise_deadline(sv), left;
	size_t nch, n = supervise_pollset(sv, sigfd, pfd, owner, &nch), i;
	int signo, rc;

	if (at != 0) {
		left = at - clock_now();
		if (left < 0)
			left = 0;
		ts.tv_sec = left / NSEC_PER_SEC;
		ts.tv_nsec = left % NSEC_PER_SEC;
		tsp = &ts;
	}
	if (ppoll(pfd, n, tsp, NULL) == -1) {
		if (errno != EINTR)
			fatal("ppoll");
		return;
	}
	sv->event_ns = clock_now();
	for (i = 1; i < nch; i++)
		if (pfd[i].revents != 0)
			supervise_channel(sv, owner[i], pfd[i].fd);
	if (pfd[0].revents != 0)
		while ((rc = signals_read(sigfd, &signo)) == 1)
			supervise_signal(sv, signo);
	control_on_ready(sv, pfd + nch, n - nch);
	supervise_timers(sv);
	control_timers(clock_now());
	if (supervise_lingering(sv))
		supervise_reap(sv);
	supervise_report(sv);
}

static bool
supervise_done(struct supervisor *sv)
{
	size_t i;

	if (!sv->stopping && !sv->exiting)
		return false;
	if (sv->check_pid > 0)
		return false;
	for (i = 0; i < MAX_GENERATIONS; i++)
		if (sv->gens[i].id != 0)
			return false;
	return true;
}

int
supervise_run(const struct config *cfg, const struct listeners *ls, int sigfd)
{
	static struct supervisor sv;

	memset(&sv, 0, sizeof(sv));
	sv.cfg = cfg;
	sv.listeners = ls;
	cycle_start(&sv);
	supervise_report(&sv);
	while (!supervise_done(&sv))
		supervise_wait(&sv, sigfd);
	notify_dir_remove();
	return sv.have_exit_status ? sv.exit_status : 0;
}
