/*
 * What graceful-run, the child subreaper, finds among its children besides
 * the main processes, the check and the probes. An orphan whose
 * environment names a live generation joins it (and so is stopped with
 * it); one of a generation already gone is stopped at once; one that names
 * none is left alone until graceful-run leaves, when every child left is
 * stopped, then killed at the stop timeout: nothing escapes.
 */
#include "config.h"

#include <signal.h>
#include <string.h>

#include "graceful-run.h"

static bool
sweep_known(struct supervisor *sv, pid_t pid)
{
	const struct generation *g;
	size_t i;

	if (pid == sv->check_pid)
		return true;
	for (i = 0; i < MAX_GENERATIONS; i++) {
		g = &sv->gens[i];
		if (g->id == 0)
			continue;
		if ((pid == g->pid && !g->exited) || pid == g->probe_pid ||
		    gen_owns_orphan(g, pid))
			return true;
	}
	for (i = 0; i < sv->nstrays; i++)
		if (sv->strays[i].pid == pid)
			return true;
	return false;
}

/* A live generation whose process group this process is in. */
static struct generation *
sweep_group_owner(struct supervisor *sv, pid_t pid)
{
	pid_t ppid, pgrp;
	size_t i;

	if (orphans_stat(pid, &ppid, &pgrp) == -1)
		return NULL;
	for (i = 0; i < MAX_GENERATIONS; i++)
		if (sv->gens[i].id != 0 && (sv->gens[i].pgid == pgrp ||
		    sv->gens[i].daemon_pgid == pgrp))
			return &sv->gens[i];
	return NULL;
}

static void
sweep_stop_one(struct supervisor *sv, struct stray *s, int signo)
{
	pid_t ppid, pgrp;

	/* Once each: a group leader takes its group along. */
	if (orphans_stat(s->pid, &ppid, &pgrp) == 0 && pgrp == s->pid)
		kill_group(pgrp, signo);
	else
		kill_pid(s->pid, signo);
	s->signalled = true;
	if (sv->strays_kill_ns == 0)
		sv->strays_kill_ns = clock_now() + sv->cfg->stop_timeout_ns;
}

static void
sweep_add_stray(struct supervisor *sv, pid_t pid, unsigned gen)
{
	struct stray *s;

	if (sv->nstrays == STRAYS_MAX)
		return;
	s = &sv->strays[sv->nstrays++];
	memset(s, 0, sizeof(*s));
	s->pid = pid;
	if (sv->state == WRAPPER_STOPPING || sv->state == WRAPPER_EXITING) {
		log_info("stopping pid %ld, left behind (SIG%s)", (long)pid,
		    parse_signame(sv->cfg->stop_signal));
		sweep_stop_one(sv, s, sv->cfg->stop_signal);
	} else if (gen != 0) {
		log_info("pid %ld of generation %u, which is gone, left behind: "
		    "stopping it", (long)pid, gen);
		sweep_stop_one(sv, s, sv->cfg->stop_signal);
	} else
		log_debug("pid %ld left to graceful-run belongs to no "
		    "generation: stopped when graceful-run leaves", (long)pid);
}

/*
 * While a --forking generation starts, what is left to graceful-run and
 * names no other generation is likely its daemon: adopted, so it can be
 * named the main process.
 */
static bool
sweep_claimed(struct supervisor *sv, pid_t pid, struct generation *owner,
    unsigned gen)
{
	struct generation *g = forking_claimant(sv);

	if (g == NULL || (owner != NULL && owner != g) ||
	    (owner == NULL && gen != 0 && gen != g->id) || !gen_adopt(g, pid))
		return false;
	log_debug("pid %ld left to graceful-run: taken for generation %u, "
	    "which forks into the background", (long)pid, g->id);
	return true;
}

static void
sweep_attribute(struct supervisor *sv, pid_t pid)
{
	struct generation *g, *owner = sweep_group_owner(sv, pid);
	unsigned gen = orphans_generation(pid);

	if (sweep_claimed(sv, pid, owner, gen))
		return;
	/* A member of a generation's group goes with the group anyway. */
	if (owner != NULL)
		return;
	if (gen != 0 && (g = cycle_find(sv, gen)) != NULL) {
		if (gen_adopt(g, pid)) {
			log_debug("pid %ld left to graceful-run: an orphan of "
			    "generation %u", (long)pid, gen);
			return;
		}
	}
	sweep_add_stray(sv, pid, gen);
}

void
sweep_orphans(struct supervisor *sv)
{
	static pid_t kids[CHILDREN_MAX];
	size_t n = orphans_children(kids, CHILDREN_MAX), i;

	for (i = 0; i < n; i++)
		if (!sweep_known(sv, kids[i]))
			sweep_attribute(sv, kids[i]);
}

/* A reaped orphan or stray: true when it was one. */
bool
sweep_reaped(struct supervisor *sv, pid_t pid)
{
	size_t i;

	for (i = 0; i < MAX_GENERATIONS; i++) {
		if (sv->gens[i].id != 0 && gen_owns_orphan(&sv->gens[i], pid)) {
			gen_forget_orphan(&sv->gens[i], pid);
			return true;
		}
	}
	for (i = 0; i < sv->nstrays; i++) {
		if (sv->strays[i].pid != pid)
			continue;
		sv->strays[i] = sv->strays[--sv->nstrays];
		if (sv->nstrays == 0)
			sv->strays_kill_ns = 0;
		return true;
	}
	return false;
}

/* graceful-run is leaving: every stray gets the stop signal. */
void
sweep_stop_strays(struct supervisor *sv)
{
	size_t i;

	for (i = 0; i < sv->nstrays; i++) {
		if (sv->strays[i].signalled)
			continue;
		log_info("stopping pid %ld, left behind (SIG%s)",
		    (long)sv->strays[i].pid, parse_signame(sv->cfg->stop_signal));
		sweep_stop_one(sv, &sv->strays[i], sv->cfg->stop_signal);
	}
}

void
sweep_kill_strays(struct supervisor *sv)
{
	size_t i;

	for (i = 0; i < sv->nstrays; i++)
		sweep_stop_one(sv, &sv->strays[i], SIGKILL);
	sv->strays_kill_ns = 0;
}

void
sweep_timers(struct supervisor *sv, int64_t now)
{
	size_t i;

	if (sv->strays_kill_ns == 0 || now < sv->strays_kill_ns)
		return;
	for (i = 0; i < sv->nstrays; i++)
		log_warnx("pid %ld still running %.2fs after SIG%s; sending "
		    "SIGKILL", (long)sv->strays[i].pid,
		    clock_seconds(sv->cfg->stop_timeout_ns),
		    parse_signame(sv->cfg->stop_signal));
	sweep_kill_strays(sv);
}
