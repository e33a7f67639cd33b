/*
 * --forking[=PIDFILE]: a traditional daemon. The generation's first
 * process forks the daemon and exits 0; the daemon (named by PIDFILE, else
 * the one process left behind, which graceful-run as the child subreaper
 * has inherited) becomes the generation's main process: readiness applies
 * to it, the stop signal goes to it, its exit is the generation's exit.
 * A process reparented to graceful-run while such a generation starts is
 * taken as its own unless it names another generation: a daemon may have
 * written over its environment (nginx puts its title there).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "graceful-run.h"

/* How soon to look at the pid file again while it names nobody yet. */
#define PIDFILE_RETRY (20 * NSEC_PER_MSEC)

static pid_t
forking_read_pidfile(const char *path)
{
	char buf[32], *nl;
	const char *errstr = NULL;
	ssize_t n;
	pid_t pid;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return 0;
	do
		n = read(fd, buf, sizeof(buf) - 1);
	while (n == -1 && errno == EINTR);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	if ((nl = strchr(buf, '\n')) != NULL)
		*nl = '\0';
	pid = (pid_t)strtonum(buf, 2, INT32_MAX, &errstr);
	return errstr == NULL ? pid : 0;
}

/* The starting --forking generation: what shows up now is likely its. */
struct generation *
forking_claimant(struct supervisor *sv)
{
	struct generation *g;

	if (!sv->cfg->forking || (g = cycle_starting(sv)) == NULL ||
	    g->signalled || g->killed)
		return NULL;
	return g;
}

/* Only a child of graceful-run can be a main process: its exit is seen. */
static bool
forking_ours(const struct generation *g, pid_t pid)
{
	pid_t ppid, pgrp;

	if (orphans_stat(pid, &ppid, &pgrp) == -1 || ppid != getpid())
		return false;
	return gen_owns_orphan(g, pid) || orphans_generation(pid) == g->id;
}

/* Without a pid file: the one orphan left, or the one leading a group. */
static pid_t
forking_left_behind(const struct generation *g)
{
	pid_t ppid, pgrp, found = 0;
	size_t i, leaders = 0;

	if (g->norphans == 1)
		return g->orphans[0];
	for (i = 0; i < g->norphans; i++) {
		if (orphans_stat(g->orphans[i], &ppid, &pgrp) == 0 &&
		    pgrp == g->orphans[i]) {
			found = g->orphans[i];
			leaders++;
		}
	}
	return leaders == 1 ? found : 0;
}

static void
forking_take(struct supervisor *sv, struct generation *g, pid_t pid)
{
	pid_t ppid, pgrp;

	gen_forget_orphan(g, pid);
	log_info("generation %u (pid %ld) forked into the background: pid "
	    "%ld is its main process", g->id, (long)g->pid, (long)pid);
	g->pid = pid;
	g->exited = false;
	g->awaiting_daemon = false;
	g->handed_over = true;
	g->pidfile_ns = 0;
	/* A daemon that called setsid leads a group of its own: stop it too. */
	if (orphans_stat(pid, &ppid, &pgrp) == 0 && pgrp != g->pgid)
		g->daemon_pgid = pgrp;
	cycle_daemon_found(sv, g);
}

static bool
forking_find(struct supervisor *sv, struct generation *g)
{
	const char *pidfile = sv->cfg->forking_pidfile;
	pid_t pid;

	pid = pidfile != NULL ? forking_read_pidfile(pidfile) :
	    forking_left_behind(g);
	if (pid <= 1 || !forking_ours(g, pid))
		return false;
	forking_take(sv, g, pid);
	return true;
}

static bool
forking_anything_left(const struct generation *g)
{
	return g->norphans > 0 || kill_group_alive(g->pgid) ||
	    (g->daemon_pgid != 0 && kill_group_alive(g->daemon_pgid));
}

/* Look for the daemon; where there can be none, the start has failed. */
static void
forking_look(struct supervisor *sv, struct generation *g)
{
	const char *pidfile = sv->cfg->forking_pidfile;
	char why[512];

	if (forking_find(sv, g))
		return;
	if (!forking_anything_left(g))
		snprintf(why, sizeof(why), "exited 0 and left no process "
		    "behind (--forking%s%s)", pidfile != NULL ? "=" : "",
		    pidfile != NULL ? pidfile : "");
	else if (pidfile == NULL)
		snprintf(why, sizeof(why), "exited 0 and left several "
		    "processes behind: name the daemon with --forking=PIDFILE");
	else {
		g->pidfile_ns = clock_now() + PIDFILE_RETRY;
		return;
	}
	g->awaiting_daemon = false;
	cycle_daemon_missing(sv, g, why);
}

/*
 * The main process of a starting generation exited: true if --forking
 * takes it over (its daemon is the main process now, or is waited for, or
 * the start failed for want of one).
 */
bool
forking_exited(struct supervisor *sv, struct generation *g, int status)
{
	if (!sv->cfg->forking || g->state != GEN_STARTING || g->signalled ||
	    g->killed || status != 0)
		return false;
	/* Gone: nothing may be sent to its pid any more. */
	g->exited = true;
	g->status = 0;
	g->awaiting_daemon = true;
	g->handed_over = false;
	forking_look(sv, g);
	return true;
}

/*
 * With a pid file, a command that stays in the foreground may be its own
 * daemon (nginx does not fork when it inherits its sockets): once it has
 * said it is ready, it is the main process if the pid file names it.
 */
static bool
forking_is_own_daemon(struct supervisor *sv, struct generation *g)
{
	const char *pidfile = sv->cfg->forking_pidfile;

	if (pidfile == NULL || g->awaiting_daemon || !gen_alive(g) ||
	    forking_read_pidfile(pidfile) != g->pid)
		return false;
	log_info("generation %u (pid %ld) stays in the foreground, and %s "
	    "names it: it is its own main process", g->id, (long)g->pid,
	    pidfile);
	g->handed_over = true;
	g->pidfile_ns = 0;
	return true;
}

void
forking_retry(struct supervisor *sv, struct generation *g)
{
	g->pidfile_ns = 0;
	if (g->awaiting_daemon)
		forking_look(sv, g);
	else if (g->ready_seen && !g->handed_over) {
		if (forking_is_own_daemon(sv, g))
			cycle_daemon_found(sv, g);
		else
			g->pidfile_ns = clock_now() + PIDFILE_RETRY;
	}
}

/*
 * Readiness said before the daemon is known (the first process may wait
 * for its daemon to serve before it exits) is kept for the daemon.
 */
bool
forking_defers_ready(struct supervisor *sv, struct generation *g)
{
	if (!sv->cfg->forking || (g->handed_over && gen_alive(g)) ||
	    forking_is_own_daemon(sv, g))
		return false;
	g->ready_seen = true;
	/* The pid file may name the first process itself a little later. */
	if (sv->cfg->forking_pidfile != NULL && !g->awaiting_daemon &&
	    g->pidfile_ns == 0)
		g->pidfile_ns = clock_now() + PIDFILE_RETRY;
	return true;
}

/* Why a starting --forking generation is not ready. */
bool
forking_why_not_ready(const struct supervisor *sv, const struct generation *g,
    char *why, size_t len)
{
	const char *pidfile = sv->cfg->forking_pidfile;
	double secs = clock_seconds(sv->cfg->ready.timeout_ns);

	if (!sv->cfg->forking || g->handed_over)
		return false;
	if (g->awaiting_daemon && pidfile != NULL)
		snprintf(why, len, "exited 0, but %s named no process of it "
		    "within %.2fs", pidfile, secs);
	else if (!g->awaiting_daemon)
		snprintf(why, len, "did not fork into the background and exit "
		    "0 within %.2fs (--forking)", secs);
	else
		return false;
	return true;
}
