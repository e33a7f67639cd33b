/*
 * Exits: a child of graceful-run was reaped. A generation's main process
 * ending means what the state table in cycle.c says for the generation's
 * state; an orphan or a stray is crossed off; a generation whose main
 * process is reaped and of which nothing is left is freed.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "graceful-run.h"

static void
cycle_log_exit(struct supervisor *sv, struct generation *g, const char *what)
{
	if (g->status == 0)
		log_info("generation %u (pid %ld) exited 0%s", g->id,
		    (long)g->pid, what);
	else if (g->signalled && g->status == 128 + g->stop_signal)
		log_info("generation %u (pid %ld) exited on SIG%s%s", g->id,
		    (long)g->pid, parse_signame(g->stop_signal), what);
	else
		log_warnx("generation %u (pid %ld) exited with status %d%s",
		    g->id, (long)g->pid, g->status, what);
	(void)sv;
}

static void
cycle_starting_exited(struct supervisor *sv, struct generation *g)
{
	g->state = GEN_DRAINING;
	if (sv->state == WRAPPER_RELOADING) {
		gen_kill(g);
		cycle_reload_failed(sv, "generation %u exited with status %d "
		    "before it was ready", g->id, g->status);
		return;
	}
	/* Nothing else runs: what it left is stopped as after any exit. */
	cycle_stop_gen(sv, g, clock_now());
	cycle_log_exit(sv, g, " before it was ready");
	/* The most common first failure of a program never written for it. */
	if (g->id == 1 && sv->listeners->n > 0 && takeover_library() == NULL &&
	    g->status != 0 && g->status < 126)
		log_info("hint: a command that binds its own port fails with "
		    "\"address in use\" against graceful-run's socket; run it "
		    "with --takeover");
	cycle_none_serving(sv, g->status);
}

/* The current generation died by itself. */
static void
cycle_current_exited(struct supervisor *sv, struct generation *g)
{
	int64_t now = clock_now();

	g->state = GEN_DRAINING;
	cycle_log_exit(sv, g, "");
	cycle_stop_gen(sv, g, now);
	/* One that served long enough starts the backoff afresh. */
	if (now - g->ready_ns >= sv->cfg->restart_max_delay_ns)
		sv->restart_delay_ns = sv->cfg->restart_delay_ns;
	if (sv->state == WRAPPER_RELOADING) {
		sv->has_dead = true;
		sv->dead_status = g->status;
		log_warnx("no generation serving until the reload under way "
		    "is done");
		return;
	}
	cycle_none_serving(sv, g->status);
}

/* Reload time: from the reload request until no older leader is left. */
static void
cycle_log_reload_done(struct supervisor *sv, int64_t now)
{
	size_t i;

	for (i = 0; i < MAX_GENERATIONS; i++)
		if (sv->gens[i].id != 0 && !sv->gens[i].exited &&
		    sv->gens[i].state == GEN_DRAINING)
			return;
	log_debug("reload done in %.3fms (request to old generations gone)",
	    (double)(now - sv->reload_started_ns) / NSEC_PER_MSEC);
}

static void
cycle_main_exited(struct supervisor *sv, struct generation *g, int status)
{
	int64_t now = clock_now();
	char what[64];

	sweep_orphans(sv);
	if (forking_exited(sv, g, status))
		return;
	g->exited = true;
	g->status = status;
	gen_stop_rest(g);
	cycle_end_gen_exited(sv, g);
	if (cycle_leaving(sv) || sv->state == WRAPPER_BACKOFF) {
		cycle_log_exit(sv, g, "");
		return;
	}
	switch (g->state) {
	case GEN_STARTING:
		cycle_starting_exited(sv, g);
		break;
	case GEN_READY:
		cycle_current_exited(sv, g);
		break;
	case GEN_DRAINING:
		snprintf(what, sizeof(what), " after draining %.2fs",
		    clock_seconds(now - g->stop_ns));
		cycle_log_exit(sv, g, what);
		cycle_log_reload_done(sv, now);
		break;
	}
}

/* The daemon a --forking generation left is found: it is the main one. */
void
cycle_daemon_found(struct supervisor *sv, struct generation *g)
{
	if (g->ready_seen) {
		g->ready_seen = false;
		cycle_ready(sv, g);
	}
}

void
cycle_channel(struct supervisor *sv, struct generation *g, int fd)
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
	if (v == READY_YES && g->state == GEN_STARTING &&
	    ready_confirm(g, &sv->cfg->ready, clock_now()) == READY_YES)
		cycle_ready(sv, g);
}

void
cycle_reaped(struct supervisor *sv, pid_t pid, int status)
{
	struct generation *g;
	size_t i;

	if (pid == sv->check_pid) {
		cycle_check_exited(sv, status);
		return;
	}
	for (i = 0; i < MAX_GENERATIONS; i++) {
		g = &sv->gens[i];
		if (g->id == 0)
			continue;
		if (g->pid == pid && !g->exited) {
			cycle_main_exited(sv, g, status);
			return;
		}
		if (g->probe_pid == pid) {
			if (ready_on_probe_exit(g, status, clock_now()) ==
			    READY_YES)
				cycle_ready(sv, g);
			return;
		}
	}
	if (!sweep_reaped(sv, pid))
		log_debug("reaped pid %ld (status %d)", (long)pid, status);
}

/* After children were reaped: find orphans, free what is gone. */
void
cycle_sweep(struct supervisor *sv)
{
	struct generation *g;
	size_t i;

	sweep_orphans(sv);
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

/* A --forking generation left no daemon to run: a failed start. */
void
cycle_daemon_missing(struct supervisor *sv, struct generation *g,
    const char *why)
{
	g->state = GEN_DRAINING;
	if (sv->state == WRAPPER_RELOADING) {
		gen_kill(g);
		cycle_reload_failed(sv, "generation %u (pid %ld) %s", g->id,
		    (long)g->pid, why);
	} else {
		cycle_stop_gen(sv, g, clock_now());
		log_warnx("generation %u (pid %ld) %s", g->id, (long)g->pid,
		    why);
		cycle_none_serving(sv, EXIT_OWN_FAILURE);
	}
	/* It may be gone already, and no exit is left to say so. */
	cycle_sweep(sv);
}
