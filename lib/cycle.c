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

static void
cycle_set_state(struct supervisor *sv, enum wrapper_state s)
{
	if (sv->state != s)
		log_debug("state: %s -> %s", state_names[sv->state],
		    state_names[s]);
	sv->state = s;
}

static bool
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

/* --- how it ends: the exit status is decided here alone ------------- */

static void
cycle_end_with(struct supervisor *sv, int status)
{
	if (sv->end.known || sv->end.gen != 0)
		return;
	sv->end.known = true;
	sv->end.status = status;
}

static void
cycle_end_on_exit_of(struct supervisor *sv, const struct generation *g)
{
	if (sv->end.known || sv->end.gen != 0)
		return;
	sv->end.gen = g->id;
	sv->end.graceful = true;
}

static void
cycle_end_gen_exited(struct supervisor *sv, const struct generation *g)
{
	if (!sv->end.known && sv->end.gen == g->id) {
		sv->end.known = true;
		sv->end.status = g->status;
	}
}

/*
 * DESIGN.md, "Exit status": the status of the generation that ended it;
 * after a graceful stop, 0 when it exited 0 or died of the stop signal.
 */
int
cycle_exit_status(const struct supervisor *sv)
{
	const struct wrapper_end *e = &sv->end;

	if (!e->known)
		return 0;
	if (e->graceful && (e->status == 0 ||
	    e->status == 128 + sv->cfg->stop_signal))
		return 0;
	return e->status;
}

/* --- reload outcomes, for whoever waits on one ------------------------ */

static void cycle_record(struct supervisor *, unsigned, bool, unsigned,
    const char *, ...) PRINTFLIKE(5, 6);

static void
cycle_record(struct supervisor *sv, unsigned seq, bool ok, unsigned gen,
    const char *fmt, ...)
{
	struct reload_outcome *o = &sv->outcomes[seq % RELOAD_OUTCOMES];
	va_list ap;

	memset(o, 0, sizeof(*o));
	o->seq = seq;
	o->ok = ok;
	o->gen = gen;
	o->seconds = clock_seconds(clock_now() - sv->reload_started_ns);
	va_start(ap, fmt);
	vsnprintf(o->text, sizeof(o->text), fmt, ap);
	va_end(ap);
}

const struct reload_outcome *
cycle_outcome(const struct supervisor *sv, unsigned seq)
{
	const struct reload_outcome *o = &sv->outcomes[seq % RELOAD_OUTCOMES];

	return seq != 0 && o->seq == seq ? o : NULL;
}

/* Reloads asked for and not done get their answer: graceful-run leaves. */
static void
cycle_refuse_reloads(struct supervisor *sv)
{
	if (sv->reload_open)
		cycle_record(sv, sv->reload_seq, false, 0,
		    "reload failed: graceful-run is stopping");
	if (sv->reload_pending)
		cycle_record(sv, sv->reload_seq + 1, false, 0,
		    "reload failed: graceful-run is stopping");
	sv->reload_open = false;
	sv->reload_pending = false;
}

/* --- stopping ---------------------------------------------------------- */

static void
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
}

/* Stop what is left and leave with this status once all of it is gone. */
static void
cycle_begin_exit(struct supervisor *sv, int status)
{
	cycle_end_with(sv, status);
	cycle_refuse_reloads(sv);
	cycle_set_state(sv, WRAPPER_EXITING);
	cycle_stop_everything(sv);
}

/* Nothing serves and nothing starts: restart later, or leave. */
static void
cycle_none_serving(struct supervisor *sv, int status)
{
	int64_t delay = sv->restart_delay_ns;

	sv->has_dead = true;
	sv->dead_status = status;
	if (!sv->cfg->restart) {
		cycle_begin_exit(sv, status);
		return;
	}
	cycle_refuse_reloads(sv);
	cycle_set_state(sv, WRAPPER_BACKOFF);
	sv->restart_at_ns = clock_now() + delay;
	sv->restart_delay_ns = delay * 2 > sv->cfg->restart_max_delay_ns ?
	    sv->cfg->restart_max_delay_ns : delay * 2;
	log_warnx("no generation serving: restarting in %.2fs (then %.2fs "
	    "if it fails again)", clock_seconds(delay),
	    clock_seconds(sv->restart_delay_ns));
	sdnotify("STATUS=no generation serving: restarting in %.2fs",
	    clock_seconds(delay));
}

/* --- spawning ---------------------------------------------------------- */

static void cycle_reload_failed(struct supervisor *, const char *, ...)
    PRINTFLIKE(2, 3);

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

static void
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

static void
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
static void
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

static void
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
	g->state = GEN_READY;
	g->ready_ns = now;
	g->timer_ns = 0;
	sv->has_dead = false;
	log_info("generation %u (pid %ld) ready in %.2fs (%s)", g->id,
	    (long)g->pid, secs, ready_how(g));
	cycle_drain_older(sv, g, now);
	sdnotify("READY=1\nSTATUS=generation %u (pid %ld) ready in %.2fs",
	    g->id, (long)g->pid, secs);
	if (sv->reload_open)
		cycle_record(sv, sv->reload_seq, true, g->id,
		    "reload: generation %u (pid %ld) ready in %.2fs", g->id,
		    (long)g->pid, clock_seconds(now - sv->reload_started_ns));
	cycle_reload_over(sv);
}

static void
cycle_not_ready(struct supervisor *sv, struct generation *g, const char *why)
{
	g->state = GEN_DRAINING;
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
	if (v == READY_YES)
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
	if (cycle_leaving(sv) && cycle_free_slot(sv) != NULL &&
	    cycle_starting(sv) == NULL && cycle_current(sv) == NULL)
		sweep_stop_strays(sv);
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
	cycle_refuse_reloads(sv);
	cycle_set_state(sv, WRAPPER_STOPPING);
	sv->restart_at_ns = 0;
	sdnotify("STOPPING=1\nSTATUS=stopping");
	log_info("SIG%s: stopping every generation with SIG%s",
	    parse_signame(signo), parse_signame(sv->cfg->stop_signal));
	cycle_stop_everything(sv);
	cycle_sweep(sv);
}

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
		/* A start that failed for want of a daemon may be freed. */
		if (g->id != 0)
			cycle_starting_timers(sv, g, now);
	}
	if (sv->state == WRAPPER_BACKOFF && now >= sv->restart_at_ns) {
		sv->restart_at_ns = 0;
		sv->restarts++;
		log_info("restart %u", sv->restarts);
		cycle_set_state(sv, WRAPPER_STARTING);
		cycle_spawn(sv);
	}
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
