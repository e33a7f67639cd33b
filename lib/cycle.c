/*
 * The reload cycle as one state machine. A generation goes
 * starting -> ready -> draining -> gone; the wrapper is running, stopping
 * (TERM/INT/QUIT) or exiting (nothing serves any more).
 *
 * event           starting gen          ready gen (current)     draining gen
 * --------------  --------------------  ----------------------  -----------
 * HUP             remembered, once      starts a reload         -
 * ready           becomes current;      drains (stop signal,    -
 *                 older ones drain      SIGKILL later)
 * not ready       SIGKILL; reload       -                       -
 *   (timeout)     failed
 * leader exits    reload failed (the    without a starting one: gone
 *                 old one serves); the  the wrapper exits with
 *                 first one: exit with  its status; else the
 *                 its status            starting one may take over
 * kill deadline   -                     -                       SIGKILL
 * TERM/INT/QUIT   stop signal to every generation; the second TERM/INT: SIGKILL
 *
 * A reload with --check runs the check first; a check that fails, or is
 * not done within --ready-timeout, fails the reload before anything is
 * spawned. When the current generation died during a reload, a failed
 * reload means exiting with the dead one's status. A generation is freed
 * once its leader is reaped and its process group is empty (supervise.c).
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "graceful-run.h"

static void cycle_reload_finished(struct supervisor *);

static struct generation *
cycle_free_slot(struct supervisor *sv)
{
	size_t i;

	for (i = 0; i < MAX_GENERATIONS; i++)
		if (sv->gens[i].id == 0)
			return &sv->gens[i];
	return NULL;
}

static void
cycle_describe_serving(struct supervisor *sv, char *out, size_t len)
{
	struct generation *cur = supervise_current(sv);

	if (cur != NULL)
		snprintf(out, len, "generation %u still serving", cur->id);
	else
		snprintf(out, len, "no generation serving");
}

static void
cycle_reload_failed(struct supervisor *sv, const char *why)
{
	char serving[64];

	cycle_describe_serving(sv, serving, sizeof(serving));
	log_warnx("reload failed: %s; %s", why, serving);
	sdnotify("READY=1\nSTATUS=reload failed: %s; %s", why, serving);
	cycle_reload_finished(sv);
}

/* The stop signal to every generation not yet told; a check is killed. */
static void
cycle_stop_everything(struct supervisor *sv)
{
	int64_t now = clock_now();
	size_t i;

	for (i = 0; i < MAX_GENERATIONS; i++)
		if (sv->gens[i].id != 0)
			gen_stop(&sv->gens[i], sv->cfg->stop_signal,
			    sv->cfg->stop_timeout_ns, now);
	if (sv->check_pid > 0 && kill(-sv->check_pid, SIGKILL) == -1)
		log_warn("kill check command (pgid %ld)", (long)sv->check_pid);
}

/* Stop what is left and leave with this status once all of it is gone. */
static void
cycle_begin_exit(struct supervisor *sv, int status)
{
	sv->exiting = true;
	sv->reload_pending = false;
	if (!sv->have_exit_status) {
		sv->have_exit_status = true;
		sv->exit_status = status;
	}
	cycle_stop_everything(sv);
}

static void
cycle_spawn(struct supervisor *sv)
{
	struct spawn_context ctx = { sv->cfg->argv, sv->listeners,
	    &sv->cfg->ready };
	struct generation *g = cycle_free_slot(sv);
	unsigned id = ++sv->next_id;
	char why[128];
	int status;

	if (g == NULL) {
		snprintf(why, sizeof(why), "%d generations still draining",
		    MAX_GENERATIONS);
		cycle_reload_failed(sv, why);
		return;
	}
	if (gen_spawn(g, id, &ctx, &status) == -1) {
		if (supervise_current(sv) == NULL) {
			cycle_begin_exit(sv, status);
			return;
		}
		snprintf(why, sizeof(why), "generation %u could not start", id);
		cycle_reload_failed(sv, why);
		return;
	}
	ready_arm(g, &sv->cfg->ready, g->started_ns);
	log_info("generation %u (pid %ld) started", g->id, (long)g->pid);
}

void
cycle_start(struct supervisor *sv)
{
	sv->reload_started_ns = clock_now();
	cycle_spawn(sv);
}

void
cycle_reload(struct supervisor *sv)
{
	struct childenv_input in = { .ready_fd = -1 };
	struct childenv env;
	struct timespec ts;

	if (sv->stopping || sv->exiting) {
		log_info("reload ignored: stopping");
		return;
	}
	if (sv->check_pid > 0 || supervise_starting(sv) != NULL) {
		sv->reload_pending = true;
		log_info("reload requested during a reload: it runs next");
		return;
	}
	sv->reload_started_ns = clock_now();
	clock_gettime(CLOCK_MONOTONIC, &ts);
	sdnotify("RELOADING=1\nMONOTONIC_USEC=%lld\nSTATUS=reloading",
	    (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
	if (sv->cfg->check == NULL) {
		log_info("reload: starting generation %u", sv->next_id + 1);
		cycle_spawn(sv);
		return;
	}
	log_info("reload: running the check command");
	if (childenv_build(&env, &in) == -1) {
		cycle_reload_failed(sv, "no memory for the check command");
		return;
	}
	sv->check_pid = spawn_shell(sv->cfg->check, &env);
	sv->check_deadline_ns = clock_now() + sv->cfg->ready.timeout_ns;
	sv->check_timed_out = false;
	childenv_free(&env);
	if (sv->check_pid == -1) {
		sv->check_pid = 0;
		cycle_reload_failed(sv, "the check command could not start");
	}
}

void
cycle_check_exited(struct supervisor *sv, int status)
{
	char why[96];

	sv->check_pid = 0;
	sv->check_deadline_ns = 0;
	if (sv->stopping || sv->exiting)
		return;
	if (status == 0 && !sv->check_timed_out) {
		cycle_spawn(sv);
		return;
	}
	if (sv->check_timed_out)
		snprintf(why, sizeof(why), "check command not done within "
		    "%.2fs", clock_seconds(sv->cfg->ready.timeout_ns));
	else
		snprintf(why, sizeof(why), "check command exited with "
		    "status %d", status);
	cycle_reload_failed(sv, why);
}

/* A hung check must not hold every later reload back. */
void
cycle_check_overdue(struct supervisor *sv)
{
	sv->check_deadline_ns = 0;
	sv->check_timed_out = true;
	if (kill(-sv->check_pid, SIGKILL) == -1)
		log_warn("kill check command (pgid %ld)", (long)sv->check_pid);
}

static void
cycle_reload_finished(struct supervisor *sv)
{
	if (supervise_current(sv) == NULL && supervise_starting(sv) == NULL &&
	    sv->check_pid == 0 && sv->have_dead_status) {
		cycle_begin_exit(sv, sv->dead_status);
		return;
	}
	if (sv->reload_pending) {
		sv->reload_pending = false;
		cycle_reload(sv);
	}
}

void
cycle_ready(struct supervisor *sv, struct generation *g)
{
	int64_t now = clock_now();
	struct generation *old;
	size_t i;

	if (sv->stopping || sv->exiting || g->state != GEN_STARTING)
		return;
	/* --takeover: serving on a socket of its own is no start. */
	if (!takeover_loaded(g->pid)) {
		cycle_not_ready(sv, g, "runs without the --takeover library "
		    "(statically linked?)");
		return;
	}
	g->state = GEN_READY;
	g->ready_ns = now;
	g->timer_ns = 0;
	sv->have_dead_status = false;
	log_info("generation %u (pid %ld) ready in %.2fs (%s)", g->id,
	    (long)g->pid, clock_seconds(now - g->started_ns), ready_how(g));
	for (i = 0; i < MAX_GENERATIONS; i++) {
		old = &sv->gens[i];
		if (old->id == 0 || old->state != GEN_READY || old == g)
			continue;
		old->state = GEN_DRAINING;
		gen_stop(old, sv->cfg->stop_signal, sv->cfg->stop_timeout_ns,
		    now);
		log_info("generation %u (pid %ld) stopping (SIG%s)", old->id,
		    (long)old->pid, parse_signame(sv->cfg->stop_signal));
		log_debug("generation %u: stop signal sent %.3fms after the "
		    "ready event was read", old->id,
		    (double)(clock_now() - sv->event_ns) / NSEC_PER_MSEC);
	}
	sdnotify("READY=1\nSTATUS=generation %u (pid %ld) ready in %.2fs",
	    g->id, (long)g->pid, clock_seconds(now - sv->reload_started_ns));
	cycle_reload_finished(sv);
}

void
cycle_not_ready(struct supervisor *sv, struct generation *g, const char *why)
{
	char msg[160];

	g->state = GEN_DRAINING;
	gen_stop(g, SIGKILL, sv->cfg->stop_timeout_ns, clock_now());
	snprintf(msg, sizeof(msg), "generation %u (pid %ld) %s", g->id,
	    (long)g->pid, why);
	if (supervise_current(sv) == NULL && !sv->have_dead_status) {
		log_warnx("%s; killed", msg);
		cycle_begin_exit(sv, 128 + SIGKILL);
		return;
	}
	cycle_reload_failed(sv, msg);
}

static void
cycle_log_exit(struct supervisor *sv, struct generation *g, const char *what)
{
	if (g->status == 0)
		log_info("generation %u (pid %ld) exited 0%s", g->id,
		    (long)g->pid, what);
	else if (g->signalled && g->status == 128 + sv->cfg->stop_signal)
		log_info("generation %u (pid %ld) exited on SIG%s%s", g->id,
		    (long)g->pid, parse_signame(sv->cfg->stop_signal), what);
	else
		log_warnx("generation %u (pid %ld) exited with status %d%s",
		    g->id, (long)g->pid, g->status, what);
}

static void
cycle_starting_exited(struct supervisor *sv, struct generation *g)
{
	char why[128];

	g->state = GEN_DRAINING;
	gen_stop(g, SIGKILL, sv->cfg->stop_timeout_ns, clock_now());
	if (supervise_current(sv) == NULL && !sv->have_dead_status) {
		cycle_log_exit(sv, g, " before it was ready");
		cycle_begin_exit(sv, g->status);
		return;
	}
	snprintf(why, sizeof(why), "generation %u exited with status %d "
	    "before it was ready", g->id, g->status);
	cycle_reload_failed(sv, why);
}

/* The current generation died by itself. */
static void
cycle_current_exited(struct supervisor *sv, struct generation *g)
{
	struct generation *next = supervise_starting(sv);

	g->state = GEN_DRAINING;
	cycle_log_exit(sv, g, "");
	gen_stop(g, sv->cfg->stop_signal, sv->cfg->stop_timeout_ns, clock_now());
	if (next == NULL && sv->check_pid == 0) {
		cycle_begin_exit(sv, g->status);
		return;
	}
	/* A reload under way may still bring a replacement. */
	sv->have_dead_status = true;
	sv->dead_status = g->status;
	log_warnx("no generation serving until the reload under way is done");
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

void
cycle_exited(struct supervisor *sv, struct generation *g)
{
	int64_t now = clock_now();
	char what[64];

	if (sv->stopping || sv->exiting) {
		cycle_log_exit(sv, g, "");
		if (g->id == sv->status_generation && !sv->have_exit_status) {
			sv->have_exit_status = true;
			sv->exit_status = g->status == 128 + sv->cfg->stop_signal ?
			    0 : g->status;
		}
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

void
cycle_kill_due(struct supervisor *sv, struct generation *g)
{
	log_warnx("generation %u (pid %ld) still running %.2fs after SIG%s; "
	    "sending SIGKILL", g->id, (long)g->pid,
	    clock_seconds(sv->cfg->stop_timeout_ns),
	    parse_signame(sv->cfg->stop_signal));
	g->kill_ns = 0;
	gen_signal(g, SIGKILL);
}

static void
cycle_kill_everything(struct supervisor *sv)
{
	size_t i;

	for (i = 0; i < MAX_GENERATIONS; i++) {
		if (sv->gens[i].id == 0)
			continue;
		sv->gens[i].kill_ns = 0;
		gen_signal(&sv->gens[i], SIGKILL);
	}
}

void
cycle_stop(struct supervisor *sv, int signo)
{
	struct generation *g = supervise_current(sv);

	if (sv->stopping) {
		if (signo == SIGTERM || signo == SIGINT) {
			log_warnx("second SIG%s: killing every generation",
			    parse_signame(signo));
			cycle_kill_everything(sv);
		}
		return;
	}
	sv->stopping = true;
	sv->reload_pending = false;
	if (g == NULL)
		g = supervise_starting(sv);
	if (sv->have_dead_status && !sv->have_exit_status) {
		sv->have_exit_status = true;
		sv->exit_status = sv->dead_status;
	} else if (g != NULL && !sv->have_exit_status)
		sv->status_generation = g->id;
	sdnotify("STOPPING=1\nSTATUS=stopping");
	log_info("SIG%s: stopping every generation with SIG%s",
	    parse_signame(signo), parse_signame(sv->cfg->stop_signal));
	cycle_stop_everything(sv);
}
