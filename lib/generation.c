/*
 * One generation: a started copy of the command, its process group, and
 * its readiness channels.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "graceful-run.h"

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
	/* Without a notify socket (said by notify.c), the pipe alone. */
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
		in.notify_path = g->notify_fd != -1 ? g->notify_path : NULL;
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
	g->state = GEN_STARTING;
	g->started_ns = clock_now();
	return 0;
fail:
	if (pipe_write != -1)
		close(pipe_write);
	gen_close_channels(g);
	g->id = 0;
	return -1;
}

/* To the whole process group: helpers the command forked go too. */
void
gen_signal(struct generation *g, int signo)
{
	if (kill(-g->pid, signo) == -1 && errno != ESRCH)
		log_warn("kill generation %u (pgid %ld)", g->id, (long)g->pid);
}

void
gen_stop(struct generation *g, int signo, int64_t timeout_ns, int64_t now)
{
	if (g->signalled)
		return;
	g->signalled = true;
	g->stop_ns = now;
	g->kill_ns = now + timeout_ns;
	g->timer_ns = 0;
	if (g->probe_pid > 0 && kill(-g->probe_pid, SIGKILL) == -1 &&
	    errno != ESRCH)
		log_warn("kill ready command of generation %u", g->id);
	gen_signal(g, signo);
}

/* Whether anything of its process group, the leader included, is left. */
bool
gen_has_members(const struct generation *g)
{
	return kill(-g->pid, 0) == 0 || errno == EPERM;
}

void
gen_close_channels(struct generation *g)
{
	if (g->ready_fd != -1)
		close(g->ready_fd);
	g->ready_fd = -1;
	if (g->notify_fd != -1 || g->notify_path[0] != '\0')
		notify_close(g->notify_fd, g->notify_path);
	g->notify_fd = -1;
	g->notify_path[0] = '\0';
}
