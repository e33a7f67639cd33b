/*
 * One generation: a started copy of the command, its process group, the
 * orphans it left to graceful-run, and its readiness channels. Stopping is
 * systemd's KillMode=mixed, improved: the stop signal goes to the main
 * process alone (a prefork master winds its own workers down); once the
 * main process has exited, whatever is left of the generation gets it too;
 * SIGKILL for all that remains at the stop timeout.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "graceful-run.h"

/* 0 is the free-slot marker, so numbering skips it when it wraps. */
unsigned
gen_next_id(unsigned last)
{
	return last == UINT32_MAX ? 1 : last + 1;
}

static int
gen_open_channels(struct generation *g, int *pipe_write)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC) == -1) {
		log_warn("ready pipe");
		return -1;
	}
	if (fcntl(p[0], F_SETFL, O_NONBLOCK) == -1) {
		log_warn("ready pipe");
		close(p[0]);
		close(p[1]);
		return -1;
	}
	g->ready_fd = p[0];
	*pipe_write = p[1];
	/* Without a notify socket (no writable directory) the pipe serves. */
	g->notify_fd = notify_open(g->id, g->notify_path,
	    sizeof(g->notify_path));
	return 0;
}

/* 0 and the generation started; -1 and *status as the shell would say. */
int
gen_spawn(struct generation *g, unsigned id, const struct spawn_context *ctx,
    int *status)
{
	const struct listeners *ls = ctx->listeners;
	int fds[MAX_LISTENERS + 1], pipe_write = -1, exec_errno;
	struct childenv_input in = { .listeners = ls, .generation = id,
	    .ready_fd = -1 };
	struct childenv env = { 0 };
	struct spawn_request req = { .argv = ctx->argv, .env = &env,
	    .fds = fds };
	size_t i, nfds = ls->n;

	memset(g, 0, sizeof(*g));
	g->id = id;
	g->ready_fd = g->notify_fd = -1;
	*status = EXIT_OWN_FAILURE;
	for (i = 0; i < ls->n; i++)
		fds[i] = ls->v[i].fd;
	if (ready_offers_channels(ctx->ready)) {
		if (gen_open_channels(g, &pipe_write) == -1)
			goto fail;
		fds[nfds] = pipe_write;
		in.ready_fd = FIRST_LISTEN_FD + (int)nfds++;
		if (g->notify_fd != -1)
			in.notify_path = g->notify_path;
	}
	if (childenv_build(&env, &in) == -1) {
		log_warn("environment of generation %u", id);
		goto fail;
	}
	req.nfds = nfds;
	g->pid = spawn_process(&req, &exec_errno);
	childenv_free(&env);
	if (g->pid == -1) {
		if (exec_errno != 0)
			*status = exec_errno == ENOENT ? EXIT_NOT_FOUND :
			    EXIT_NOT_EXECUTABLE;
		goto fail;
	}
	if (pipe_write != -1)
		close(pipe_write);
	g->pgid = g->pid;
	g->state = GEN_STARTING;
	g->started_ns = clock_now();
	return 0;
fail:
	if (pipe_write != -1)
		close(pipe_write);
	gen_close_channels(g);
	g->id = 0;
	g->pid = 0;
	return -1;
}

/*
 * One process of the generation besides its groups, each signal once (a
 * second stop signal means "now" to many programs): nothing for a member
 * of a group the generation signals as a whole; a process that leads a
 * group of its own takes that group along.
 */
static void
gen_signal_one(const struct generation *g, pid_t pid, int signo)
{
	pid_t ppid, pgrp;

	if (orphans_stat(pid, &ppid, &pgrp) == -1) {
		kill_pid(pid, signo);
		return;
	}
	if (pgrp == g->pgid || (g->daemon_pgid != 0 && pgrp == g->daemon_pgid))
		return;
	if (pgrp == pid)
		kill_group(pgrp, signo);
	else
		kill_pid(pid, signo);
}

/*
 * Everything of the generation: its group (and a --forking daemon's own
 * group), its main process, its orphans.
 */
static void
gen_signal_all(struct generation *g, int signo)
{
	size_t i;

	if (kill_group_alive(g->pgid))
		kill_group(g->pgid, signo);
	if (g->daemon_pgid != 0 && kill_group_alive(g->daemon_pgid))
		kill_group(g->daemon_pgid, signo);
	if (!g->exited)
		gen_signal_one(g, g->pid, signo);
	for (i = 0; i < g->norphans; i++)
		gen_signal_one(g, g->orphans[i], signo);
}

/* A generation that is stopped no longer waits for its daemon to show. */
static void
gen_stop_awaiting(struct generation *g)
{
	g->awaiting_daemon = false;
	g->pidfile_ns = 0;
}

/*
 * The first stop signal: to the main process, or with --stop-group (or
 * once the main process is gone) to everything at once.
 */
void
gen_stop(struct generation *g, int signo, bool whole, int64_t timeout_ns,
    int64_t now)
{
	if (g->signalled || g->killed)
		return;
	gen_stop_awaiting(g);
	g->signalled = true;
	g->stop_signal = signo;
	g->stop_ns = now;
	g->kill_ns = now + timeout_ns;
	g->timer_ns = 0;
	if (g->probe_pid > 0)
		kill_group(g->probe_pid, SIGKILL);
	if (whole || g->exited) {
		g->rest_signalled = true;
		gen_signal_all(g, signo);
	} else
		kill_pid(g->pid, signo);
}

/* The main process is gone: what it left behind gets the stop signal. */
void
gen_stop_rest(struct generation *g)
{
	if (!g->signalled || g->rest_signalled || g->killed)
		return;
	g->rest_signalled = true;
	gen_signal_all(g, g->stop_signal);
}

void
gen_kill(struct generation *g)
{
	if (g->probe_pid > 0)
		kill_group(g->probe_pid, SIGKILL);
	gen_stop_awaiting(g);
	g->killed = true;
	g->kill_ns = 0;
	g->timer_ns = 0;
	gen_signal_all(g, SIGKILL);
}

/* Alive and not a zombie: an exit whose SIGCHLD is not read yet counts. */
bool
gen_alive(const struct generation *g)
{
	return !g->exited && !spawn_has_exited(g->pid);
}

/*
 * Whether anything of it is left: main process, groups, orphans; or a
 * --forking generation whose daemon may still show up.
 */
bool
gen_has_members(const struct generation *g)
{
	return !g->exited || g->awaiting_daemon || g->norphans > 0 ||
	    kill_group_alive(g->pgid) ||
	    (g->daemon_pgid != 0 && kill_group_alive(g->daemon_pgid));
}

/* An orphan of this generation, reparented to graceful-run. */
bool
gen_adopt(struct generation *g, pid_t pid)
{
	if (g->norphans == GEN_ORPHANS_MAX)
		return false;
	g->orphans[g->norphans++] = pid;
	/* A member of its groups got the signal with the group. */
	if (g->killed)
		gen_signal_one(g, pid, SIGKILL);
	else if (g->rest_signalled)
		gen_signal_one(g, pid, g->stop_signal);
	return true;
}

bool
gen_owns_orphan(const struct generation *g, pid_t pid)
{
	size_t i;

	for (i = 0; i < g->norphans; i++)
		if (g->orphans[i] == pid)
			return true;
	return false;
}

void
gen_forget_orphan(struct generation *g, pid_t pid)
{
	size_t i;

	for (i = 0; i < g->norphans; i++) {
		if (g->orphans[i] != pid)
			continue;
		g->orphans[i] = g->orphans[--g->norphans];
		return;
	}
}

void
gen_close_channels(struct generation *g)
{
	ready_release(g);
	if (g->ready_fd != -1)
		close(g->ready_fd);
	g->ready_fd = -1;
	if (g->notify_fd != -1 || g->notify_path[0] != '\0')
		notify_close(g->notify_fd, g->notify_path);
	g->notify_fd = -1;
	g->notify_path[0] = '\0';
}
