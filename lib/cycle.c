/*
 * The state machine: the wrapper's state and the generations it owns. The
 * loop (supervise.c) turns every event into one call here; nothing here
 * calls back into the loop.
 *
 * The wrapper, event by state (- : nothing happens):
 *
 *             STARTING     SERVING     RELOADING      BACKOFF     STOPPING   EXITING
 * reload      pending      RELOADING   pending, runs  STARTING    refused    refused
 *             (runs once)  (check or   once after     (at once)
 *                          spawn)
 * new ready   SERVING      -           SERVING; the   -           -          -
 *                                      old ones drain
 * new fails   EXITING or   -           SERVING (the   -           -          -
 *             BACKOFF                  old serves on)
 * current     -            EXITING or  RELOADING      -           -          -
 *  dies                    BACKOFF     (none serves)
 * restart     -            -           -              STARTING    -          -
 *  due
 * TERM, INT,  STOPPING     STOPPING    STOPPING       STOPPING    2nd TERM/  STOPPING
 *  QUIT                                                           INT: KILL
 * all gone    -            -           -              -           exit       exit
 *
 * "EXITING or BACKOFF": BACKOFF with --restart. A reload that ends with
 * no generation serving (the current one died meanwhile) counts as the
 * current dying. A pending reload runs when the wrapper gets to SERVING.
 *
 * A generation, event by state:
 *
 *             starting                ready (current)         draining
 * ready       current; older ones     -                       -
 *             drain (stop signal)
 * not ready   SIGKILL to all of it    -                       -
 *  in time
 * main        failed (--forking: an   what it left gets the   what it left gets
 *  exits      exit 0 hands over to    stop signal; see        the stop signal
 *             the daemon it left)     "current dies"
 * stop        -                       -                       SIGKILL to all
 *  timeout
 * It is freed once its main process is reaped and nothing of it is left.
 */
#include "config.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "graceful-run.h"

/* How soon a ready generation without the --takeover library is seen again. */
#define TAKEOVER_RECHECK (10 * NSEC_PER_MSEC)

static const char *const state_names[] = {
	[WRAPPER_STARTING] = "starting",
	[WRAPPER_SERVING] = "serving",
	[WRAPPER_RELOADING] = "reloading",
	[WRAPPER_BACKOFF] = "backoff",
	[WRAPPER_STOPPING] = "stopping",
	[WRAPPER_EXITING] = "exiting",
};

static void cycle_reload_over(struct supervisor *);

const char *
cycle_state_name(enum wrapper_state s)
{
	return state_names[s];
}

void
cycle_set_state(struct supervisor *sv, enum wrapper_state s)
{
	if (sv->state != s)
		log_debug("state: %s -> %s", state_names[sv->state],
		    state_names[s]);
	sv->state = s;
}

bool
cycle_leaving(const struct supervisor *sv)
{
	return sv->state == WRAPPER_STOPPING || sv->state == WRAPPER_EXITING;
}

/* --- the generation table ------------------------------------------- */

struct generation *
cycle_current(struct supervisor *sv)
{
	size_t i;

	for (i = 0; i < MAX_GENERATIONS; i++)
		if (sv->gens[i].id != 0 && sv->gens[i].state == GEN_READY &&
		    !sv->gens[i].exited)
			return &sv->gens[i];
	return NULL;
}

struct generation *
cycle_starting(struct supervisor *sv)
{
	size_t i;

	for (i = 0; i < MAX_GENERATIONS; i++)
		if (sv->gens[i].id != 0 && sv->gens[i].state == GEN_STARTING)
			return &sv->gens[i];
	return NULL;
}

struct generation *
cycle_find(struct supervisor *sv, unsigned id)
{
	size_t i;

	for (i = 0; id != 0 && i < MAX_GENERATIONS; i++)
		if (sv->gens[i].id == id)
			return &sv->gens[i];
	return NULL;
}

static struct generation *
cycle_free_slot(struct supervisor *sv)
{
	size_t i;

	for (i = 0; i < MAX_GENERATIONS; i++)
		if (sv->gens[i].id == 0)
			return &sv->gens[i];
	return NULL;
}

/* --- stopping ---------------------------------------------------------- */

void
cycle_stop_gen(struct supervisor *sv, struct generation *g, int64_t now)
{
	gen_stop(g, sv->cfg->stop_signal, sv->cfg->stop_group,
	    sv->cfg->stop_timeout_ns, now);
}

/* The stop signal to every generation not yet told; a check is killed. */
static void
cycle_stop_everything(struct supervisor *sv)
{
	int64_t now = clock_now();
	size_t i;

	sweep_orphans(sv);
	for (i = 0; i < MAX_GENERATIONS; i++)
		if (sv->gens[i].id != 0)
			cycle_stop_gen(sv, &sv->gens[i], now);
	if (sv->check_pid > 0)
		kill_group(sv->check_pid, SIGKILL);
	sweep_stop_strays(sv);
}

/* Stop what is left and leave with this status once all of it is gone. */
static void
cycle_begin_exit(struct supervisor *sv, int status)
{
	cycle_end_with(sv, status);
	cycle_refuse_reloads(sv, "graceful-run is stopping");
	cycle_set_state(sv, WRAPPER_EXITING);
	cycle_stop_everything(sv);
}

/* Nothing serves and nothing starts: restart later, or leave. */
void
cycle_none_serving(struct supervisor *sv, int status)
{
	int64_t delay = sv->restart_delay_ns;
	char why[80];

	sv->has_dead = true;
	sv->dead_status = status;
	if (!sv->cfg->restart) {
		cycle_begin_exit(sv, status);
		return;
	}
	snprintf(why, sizeof(why), "no generation serving: restarting in "
	    "%.2fs", clock_seconds(delay));
	cycle_refuse_reloads(sv, why);
	cycle_set_state(sv, WRAPPER_BACKOFF);
	sv->restart_at_ns = clock_now() + delay;
	sv->restart_delay_ns = delay * 2 > sv->cfg->restart_max_delay_ns ?
	    sv->cfg->restart_max_delay_ns : delay * 2;
	log_warnx("%s (then %.2fs if it fails again)", why,
	    clock_seconds(sv->restart_delay_ns));
	sdnotify("STATUS=%s", why);
}

/* --- spawning ---------------------------------------------------------- */


static void
cycle_spawn_failed(struct supervisor *sv, const char *why, int status)
{
	if (sv->state == WRAPPER_RELOADING) {
		cycle_reload_failed(sv, "%s", why);
		return;
	}
	/* Not a reload: the line that said why (exec ...: ...) is enough. */
	cycle_none_serving(sv, status);
}

static void
cycle_spawn(struct supervisor *sv)
{
	struct spawn_context ctx = { sv->cfg->argv, sv->listeners,
	    &sv->cfg->ready };
	struct generation *g = cycle_free_slot(sv);
	char why[128];
	unsigned id;
	int status;

	if (g == NULL) {
		snprintf(why, sizeof(why), "too many generations still "
		    "draining (%d at once at most)", MAX_GENERATIONS);
		if (sv->state != WRAPPER_RELOADING)
			log_warnx("%s", why);
		cycle_spawn_failed(sv, why, EXIT_OWN_FAILURE);
		return;
	}
	id = sv->next_id = gen_next_id(sv->next_id);
	if (gen_spawn(g, id, &ctx, &status) == -1) {
		snprintf(why, sizeof(why), "generation %u could not start", id);
		cycle_spawn_failed(sv, why, status);
		return;
	}
	ready_arm(g, &sv->cfg->ready, g->started_ns);
	log_info("generation %u (pid %ld) started", g->id, (long)g->pid);
}

/* BACKOFF is over: the command starts again. */
void
cycle_restart_due(struct supervisor *sv)
{
	sv->restart_at_ns = 0;
	sv->restarts++;
	log_info("restart %u", sv->restarts);
	cycle_set_state(sv, WRAPPER_STARTING);
	cycle_spawn(sv);
}

void
cycle_start(struct supervisor *sv)
{
	sv->restart_delay_ns = sv->cfg->restart_delay_ns;
	sv->reload_started_ns = clock_now();
	cycle_set_state(sv, WRAPPER_STARTING);
	cycle_spawn(sv);
}

/* --- reloading --------------------------------------------------------- */

static void
cycle_describe_serving(struct supervisor *sv, char *out, size_t len)
{
	struct generation *cur = cycle_current(sv);

	if (cur != NULL)
		snprintf(out, len, "generation %u still serving", cur->id);
	else
		snprintf(out, len, "no generation serving");
}

/* The reload under way is over, well or not. */
static void
cycle_reload_over(struct supervisor *sv)
{
	sv->reload_open = false;
	if (cycle_current(sv) == NULL) {
		cycle_none_serving(sv, sv->dead_status);
		return;
	}
	cycle_set_state(sv, WRAPPER_SERVING);
	if (sv->reload_pending) {
		sv->reload_pending = false;
		cycle_reload(sv);
	}
}

void
cycle_reload_failed(struct supervisor *sv, const char *fmt, ...)
{
	const struct reload_outcome *o;
	char why[160], serving[64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	cycle_describe_serving(sv, serving, sizeof(serving));
	cycle_record(sv, sv->reload_seq, false, 0, "reload failed: %s; %s",
	    why, serving);
	o = cycle_outcome(sv, sv->reload_seq);
	log_warnx("%s", o->text);
	sdnotify("READY=1\nSTATUS=%s", o->text);
	cycle_reload_over(sv);
}

static void
cycle_run_check(struct supervisor *sv)
{
	struct childenv_input in = { .ready_fd = -1 };
	struct childenv env;
	pid_t pid;

	log_info("reload: running the check command");
	if (childenv_build(&env, &in) == -1) {
		cycle_reload_failed(sv, "no memory for the check command");
		return;
	}
	pid = spawn_shell(sv->cfg->check, &env);
	childenv_free(&env);
	if (pid == -1) {
		cycle_reload_failed(sv, "the check command could not start");
		return;
	}
	sv->check_pid = pid;
	sv->check_deadline_ns = clock_now() + sv->cfg->ready.timeout_ns;
	sv->check_timed_out = false;
}

static unsigned
cycle_begin_reload(struct supervisor *sv)
{
	sv->reload_seq++;
	sv->reload_open = true;
	sv->reload_started_ns = clock_now();
	sdnotify("RELOADING=1\nMONOTONIC_USEC=%lld\nSTATUS=reloading",
	    (long long)(sv->reload_started_ns / 1000));
	return sv->reload_seq;
}

/* A reload is asked for: the number of the reload that will answer it. */
unsigned
cycle_reload(struct supervisor *sv)
{
	unsigned ticket;

	switch (sv->state) {
	case WRAPPER_STOPPING:
	case WRAPPER_EXITING:
		log_info("reload ignored: stopping");
		ticket = ++sv->reload_seq;
		cycle_record(sv, ticket, false, 0,
		    "reload failed: graceful-run is stopping");
		return ticket;
	case WRAPPER_STARTING:
	case WRAPPER_RELOADING:
		sv->reload_pending = true;
		log_info("reload requested during a reload: it runs next");
		return sv->reload_seq + 1;
	case WRAPPER_BACKOFF:
		ticket = cycle_begin_reload(sv);
		log_info("reload: restarting now instead of after the backoff");
		sv->restart_at_ns = 0;
		cycle_set_state(sv, WRAPPER_STARTING);
		cycle_spawn(sv);
		return ticket;
	case WRAPPER_SERVING:
		break;
	}
	ticket = cycle_begin_reload(sv);
	cycle_set_state(sv, WRAPPER_RELOADING);
	if (sv->cfg->check != NULL)
		cycle_run_check(sv);
	else {
		log_info("reload: starting generation %u",
		    gen_next_id(sv->next_id));
		cycle_spawn(sv);
	}
	return ticket;
}

void
cycle_check_exited(struct supervisor *sv, int status)
{
	sv->check_pid = 0;
	sv->check_deadline_ns = 0;
	if (sv->state != WRAPPER_RELOADING)
		return;
	if (status == 0 && !sv->check_timed_out)
		cycle_spawn(sv);
	else if (sv->check_timed_out)
		cycle_reload_failed(sv, "check command not done within %.2fs",
		    clock_seconds(sv->cfg->ready.timeout_ns));
	else
		cycle_reload_failed(sv, "check command exited with status %d",
		    status);
}

/* A hung check must not hold every later reload back. */
void
cycle_check_overdue(struct supervisor *sv)
{
	sv->check_deadline_ns = 0;
	/* Done just in time: its exit is on its way to the loop. */
	if (spawn_has_exited(sv->check_pid))
		return;
	sv->check_timed_out = true;
	kill_group(sv->check_pid, SIGKILL);
}

/* --- a generation's events -------------------------------------------- */

static void
cycle_drain_older(struct supervisor *sv, struct generation *g, int64_t now)
{
	struct generation *old;
	size_t i;

	for (i = 0; i < MAX_GENERATIONS; i++) {
		old = &sv->gens[i];
		if (old->id == 0 || old->state != GEN_READY || old == g)
			continue;
		old->state = GEN_DRAINING;
		cycle_stop_gen(sv, old, now);
		log_info("generation %u (pid %ld) stopping (SIG%s)", old->id,
		    (long)old->pid, parse_signame(sv->cfg->stop_signal));
		log_debug("generation %u: stop signal sent %.3fms after the "
		    "ready event was read", old->id,
		    (double)(clock_now() - sv->event_ns) / NSEC_PER_MSEC);
	}
}

void
cycle_ready(struct supervisor *sv, struct generation *g)
{
	int64_t now = clock_now();
	double secs = clock_seconds(now - g->started_ns);

	if (cycle_leaving(sv) || g->state != GEN_STARTING || g->signalled ||
	    g->killed)
		return;
	if (forking_defers_ready(sv, g))
		return;
	/* A main process that died is not ready: its exit is on its way. */
	if (!gen_alive(g))
		return;
	/*
	 * --takeover: serving on a socket of its own is no start. The main
	 * process may be in the middle of an exec, before the loader maps
	 * the library: look again shortly; the ready deadline ends it.
	 */
	if (!takeover_loaded(g->pid)) {
		g->takeover_ns = now + TAKEOVER_RECHECK;
		return;
	}
	g->takeover_ns = 0;
	g->state = GEN_READY;
	g->ready_ns = now;
	g->timer_ns = 0;
	sv->has_dead = false;
	log_info("generation %u (pid %ld) ready in %.2fs (%s)", g->id,
	    (long)g->pid, secs, ready_how(g));
	cycle_drain_older(sv, g, now);
	/* STATUS= says how the last reload went, as a control client hears. */
	if (sv->reload_open) {
		cycle_record(sv, sv->reload_seq, true, g->id,
		    "reload: generation %u (pid %ld) ready in %.2fs", g->id,
		    (long)g->pid, clock_seconds(now - sv->reload_started_ns));
		sdnotify("READY=1\nSTATUS=%s",
		    cycle_outcome(sv, sv->reload_seq)->text);
	} else
		sdnotify("READY=1\nSTATUS=generation %u (pid %ld) ready in "
		    "%.2fs", g->id, (long)g->pid, secs);
	cycle_reload_over(sv);
}

void
cycle_not_ready(struct supervisor *sv, struct generation *g, const char *why)
{
	g->state = GEN_DRAINING;
	sweep_orphans(sv);
	gen_kill(g);
	if (sv->state == WRAPPER_RELOADING) {
		cycle_reload_failed(sv, "generation %u (pid %ld) %s", g->id,
		    (long)g->pid, why);
		return;
	}
	log_warnx("generation %u (pid %ld) %s; killed", g->id, (long)g->pid,
	    why);
	cycle_none_serving(sv, 128 + SIGKILL);
}

/* --- stop requests and deadlines ------------------------------------- */

static void
cycle_kill_everything(struct supervisor *sv)
{
	size_t i;

	sweep_orphans(sv);
	for (i = 0; i < MAX_GENERATIONS; i++)
		if (sv->gens[i].id != 0)
			gen_kill(&sv->gens[i]);
}

void
cycle_stop(struct supervisor *sv, int signo)
{
	struct generation *g;

	if (sv->state == WRAPPER_STOPPING) {
		if (signo == SIGTERM || signo == SIGINT) {
			log_warnx("second SIG%s: killing every generation",
			    parse_signame(signo));
			cycle_kill_everything(sv);
		}
		return;
	}
	if (sv->has_dead)
		cycle_end_with(sv, sv->dead_status);
	else if ((g = cycle_current(sv)) != NULL ||
	    (g = cycle_starting(sv)) != NULL)
		cycle_end_on_exit_of(sv, g);
	cycle_refuse_reloads(sv, "graceful-run is stopping");
	cycle_set_state(sv, WRAPPER_STOPPING);
	sv->restart_at_ns = 0;
	sdnotify("STOPPING=1\nSTATUS=stopping");
	log_info("SIG%s: stopping every generation with SIG%s",
	    parse_signame(signo), parse_signame(sv->cfg->stop_signal));
	cycle_stop_everything(sv);
}

