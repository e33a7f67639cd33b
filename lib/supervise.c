/*
 * The loop: one ppoll over the signalfd and the readiness channels of the
 * generations, with the nearest deadline as its timeout, so nothing wakes
 * it when nothing is due. It turns each event into a call on the state
 * machine (cycle.c), which owns the generations.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "graceful-run.h"

#define POLL_MAX (1 + 2 * MAX_GENERATIONS + CONTROL_POLL_MAX)

/* A generation's main process ended: control clients waiting on a stop hear. */
static void
supervise_reaped(struct supervisor *sv, pid_t pid, int status)
{
	struct generation was, *g;
	size_t i;

	memset(&was, 0, sizeof(was));
	for (i = 0; i < MAX_GENERATIONS; i++)
		if (sv->gens[i].id != 0 && sv->gens[i].pid == pid &&
		    !sv->gens[i].exited)
			was = sv->gens[i];
	cycle_reaped(sv, pid, status);
	if (was.id == 0)
		return;
	/* Not when --forking hands the generation over to its daemon. */
	g = cycle_find(sv, was.id);
	if (g != NULL && !g->exited)
		return;
	was.exited = true;
	was.status = status;
	control_generation_exited(&was);
}

/* Every child that exited, then what that may have left to us. */
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
	cycle_sweep(sv);
}

static void
supervise_forward(struct supervisor *sv, int signo)
{
	struct generation *g = cycle_current(sv);

	if (g == NULL)
		g = cycle_starting(sv);
	if (g == NULL || !gen_alive(g)) {
		log_info("SIG%s not forwarded: no generation running",
		    parse_signame(signo));
		return;
	}
	log_debug("forwarding SIG%s to generation %u (pid %ld)",
	    parse_signame(signo), g->id, (long)g->pid);
	kill_pid(g->pid, signo);
}

static void
supervise_signal(struct supervisor *sv, int signo)
{
	if (signo == SIGCHLD)
		supervise_reap(sv);
	else if (signo == (sv->cfg->reload_signal ? sv->cfg->reload_signal :
	    SIGHUP))
		cycle_reload(sv);
	else if (signo == SIGTERM || signo == SIGINT || signo == SIGQUIT)
		cycle_stop(sv, signo);
	else if (signals_is_forwarded(signo))
		supervise_forward(sv, signo);
}

static size_t
supervise_pollset(struct supervisor *sv, int sigfd, struct pollfd *pfd,
    unsigned *owner, size_t *nchannels)
{
	struct generation *g;
	size_t i, n = 0;

	pfd[n] = (struct pollfd){ .fd = sigfd, .events = POLLIN };
	owner[n++] = 0;
	for (i = 0; i < MAX_GENERATIONS; i++) {
		g = &sv->gens[i];
		if (g->id == 0)
			continue;
		/* Read on after readiness: a late line must not be an EPIPE. */
		if (g->ready_fd != -1) {
			pfd[n] = (struct pollfd){ .fd = g->ready_fd, .events = POLLIN };
			owner[n++] = g->id;
		}
		if (g->notify_fd != -1) {
			pfd[n] = (struct pollfd){ .fd = g->notify_fd, .events = POLLIN };
			owner[n++] = g->id;
		}
	}
	*nchannels = n;
	return n + control_pollfds(pfd + n, POLL_MAX - n);
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
	unsigned owner[POLL_MAX];
	struct timespec ts, *tsp = NULL;
	int64_t at = clock_earliest(cycle_deadline(sv), control_deadline()), left;
	size_t nch, n = supervise_pollset(sv, sigfd, pfd, owner, &nch), i;
	struct generation *g;
	int signo;

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
	/* A slot may be freed and reused while events are handled. */
	for (i = 1; i < nch; i++)
		if (pfd[i].revents != 0 &&
		    (g = cycle_find(sv, owner[i])) != NULL)
			cycle_channel(sv, g, pfd[i].fd);
	if (pfd[0].revents != 0)
		while (signals_read(sigfd, &signo) == 1)
			supervise_signal(sv, signo);
	control_on_ready(sv, pfd + nch, n - nch);
	cycle_timers(sv, clock_now());
	control_timers(clock_now());
	supervise_report(sv);
}

static struct supervisor sv;

/* After a fatal error: nothing graceful-run started may outlive it. */
void
supervise_abort(void)
{
	size_t i;

	if (sv.cfg == NULL)
		return;
	sweep_orphans(&sv);
	for (i = 0; i < MAX_GENERATIONS; i++)
		if (sv.gens[i].id != 0)
			gen_kill(&sv.gens[i]);
	if (sv.check_pid > 0)
		kill_group(sv.check_pid, SIGKILL);
	sweep_kill_strays(&sv);
	for (i = 0; i < MAX_GENERATIONS; i++)
		gen_close_channels(&sv.gens[i]);
	notify_dir_remove();
}

int
supervise_run(const struct config *cfg, const struct listeners *ls, int sigfd)
{
	memset(&sv, 0, sizeof(sv));
	sv.cfg = cfg;
	sv.listeners = ls;
	cycle_start(&sv);
	supervise_report(&sv);
	while (!cycle_done(&sv))
		supervise_wait(&sv, sigfd);
	notify_dir_remove();
	return cycle_exit_status(&sv);
}
