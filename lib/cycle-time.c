/*
 * The state machine's deadlines: what is due when the loop wakes, and when
 * the next thing is due, so that the loop sleeps until then and no longer.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>

#include "graceful-run.h"

static void
cycle_kill_due(struct supervisor *sv, struct generation *g)
{
	log_warnx("generation %u (pid %ld) still running %.2fs after SIG%s; "
	    "sending SIGKILL", g->id, (long)g->pid,
	    clock_seconds(sv->cfg->stop_timeout_ns),
	    parse_signame(g->stop_signal));
	sweep_orphans(sv);
	gen_kill(g);
}

static void
cycle_starting_timers(struct supervisor *sv, struct generation *g,
    int64_t now)
{
	enum ready_verdict v;
	char why[512];

	if (g->state != GEN_STARTING || g->signalled || g->killed)
		return;
	/* What it said while the wrapper could not listen counts first. */
	if (now >= g->ready_deadline_ns) {
		if (g->ready_fd != -1)
			cycle_channel(sv, g, g->ready_fd);
		if (g->notify_fd != -1 && g->state == GEN_STARTING)
			cycle_channel(sv, g, g->notify_fd);
		if (g->state != GEN_STARTING)
			return;
	}
	v = ready_on_timer(g, &sv->cfg->ready, now);
	if (v == READY_YES)
		cycle_ready(sv, g);
	else if (v == READY_FAILED) {
		if (!forking_why_not_ready(sv, g, why, sizeof(why)))
			snprintf(why, sizeof(why), "not ready within %.2fs",
			    clock_seconds(sv->cfg->ready.timeout_ns));
		/* Silent, as learned readiness waits for it: say why if known. */
		if (gen_alive(g) && !takeover_loaded(g->pid))
			snprintf(why, sizeof(why), "runs without the "
			    "--takeover library (statically linked?)");
		cycle_not_ready(sv, g, why);
	}
}

void
cycle_timers(struct supervisor *sv, int64_t now)
{
	struct generation *g;
	size_t i;

	if (sv->check_deadline_ns != 0 && now >= sv->check_deadline_ns)
		cycle_check_overdue(sv);
	for (i = 0; i < MAX_GENERATIONS; i++) {
		g = &sv->gens[i];
		if (g->id == 0)
			continue;
		if (g->kill_ns != 0 && now >= g->kill_ns)
			cycle_kill_due(sv, g);
		if (g->pidfile_ns != 0 && now >= g->pidfile_ns)
			forking_retry(sv, g);
		if (g->takeover_ns != 0 && now >= g->takeover_ns) {
			g->takeover_ns = 0;
			cycle_ready(sv, g);
		}
		/* A start that failed for want of a daemon may be freed. */
		if (g->id != 0)
			cycle_starting_timers(sv, g, now);
	}
	if (sv->state == WRAPPER_BACKOFF && now >= sv->restart_at_ns)
		cycle_restart_due(sv);
	sweep_timers(sv, now);
}

int64_t
cycle_deadline(struct supervisor *sv)
{
	int64_t at = sv->check_deadline_ns;
	struct generation *g;
	size_t i;

	for (i = 0; i < MAX_GENERATIONS; i++) {
		g = &sv->gens[i];
		if (g->id == 0)
			continue;
		at = clock_earliest(at, g->kill_ns);
		at = clock_earliest(at, g->pidfile_ns);
		at = clock_earliest(at, g->takeover_ns);
		if (g->state == GEN_STARTING && !g->signalled && !g->killed) {
			at = clock_earliest(at, g->timer_ns);
			at = clock_earliest(at, g->ready_deadline_ns);
		}
	}
	if (sv->state == WRAPPER_BACKOFF)
		at = clock_earliest(at, sv->restart_at_ns);
	return clock_earliest(at, sv->strays_kill_ns);
}

bool
cycle_done(const struct supervisor *sv)
{
	size_t i;

	if (!cycle_leaving(sv) || sv->check_pid > 0 || sv->nstrays > 0)
		return false;
	for (i = 0; i < MAX_GENERATIONS; i++)
		if (sv->gens[i].id != 0)
			return false;
	return true;
}
