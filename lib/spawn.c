/*
 * fork and exec one process in its own process group, with the given fds at
 * 3, 4, ... and nothing else open past stderr. An exec failure comes back to
 * the parent through a close-on-exec pipe, so it is known before spawn
 * returns.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "graceful-run.h"

enum spawn_stage { STAGE_SETUP, STAGE_EXEC, STAGE_USER, STAGE_DIR };

struct spawn_failure {
	int stage;
	int errnum;
};

static void
spawn_report(int fd, int stage)
{
	struct spawn_failure f = { stage, errno };
	ssize_t n;

	do
		n = write(fd, &f, sizeof(f));
	while (n == -1 && errno == EINTR);
}

/*
 * Sources that sit where another fd must land are moved above the target
 * range first; then each lands on its number, inheritable.
 */
static int
spawn_place_fds(const int *fds, size_t n, int *errfd)
{
	int src[MAX_LISTENERS + 1], top = FIRST_LISTEN_FD + (int)n, fd;
	size_t i;

	if ((fd = fcntl(*errfd, F_DUPFD_CLOEXEC, top)) == -1)
		return -1;
	*errfd = fd;
	for (i = 0; i < n; i++) {
		src[i] = fds[i];
		if (src[i] < top && src[i] != FIRST_LISTEN_FD + (int)i &&
		    (src[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, top)) == -1)
			return -1;
	}
	for (i = 0; i < n; i++) {
		fd = FIRST_LISTEN_FD + (int)i;
		if (src[i] == fd ? fcntl(fd, F_SETFD, 0) == -1 :
		    dup2(src[i], fd) == -1)
			return -1;
	}
	if (*errfd != top && dup3(*errfd, top, O_CLOEXEC) == -1)
		return -1;
	*errfd = top;
	closefrom(top + 1);
	return 0;
}

static noreturn void
spawn_child(const struct spawn_request *req, int errfd)
{
	enum runas_stage stage;

	if (signals_reset_for_exec() == -1 || setpgid(0, 0) == -1 ||
	    spawn_place_fds(req->fds, req->nfds, &errfd) == -1) {
		spawn_report(errfd, STAGE_SETUP);
		_exit(EXIT_OWN_FAILURE);
	}
	if (runas_enter(&stage) == -1) {
		spawn_report(errfd, stage == RUNAS_STAGE_USER ? STAGE_USER :
		    STAGE_DIR);
		_exit(EXIT_OWN_FAILURE);
	}
	childenv_set_pid(req->env, getpid());
	execvpe(req->argv[0], req->argv, req->env->vars);
	spawn_report(errfd, STAGE_EXEC);
	_exit(errno == ENOENT ? EXIT_NOT_FOUND : EXIT_NOT_EXECUTABLE);
}

/*
 * The fds a reload with N sockets needs at its peak, counted from the
 * code. The wrapper holds stdio (3), the signalfd, the N sockets, the new
 * generation's ready pipe (2) and notify socket, the exec-error pipe (2),
 * the serving generation's ready pipe and notify socket (2), the pid
 * file, the control socket and the client that asked for the reload. The
 * forked child inherits all that, and spawn_place_fds moves the error
 * pipe and every socket in the way above the target range before placing
 * them (N + 1): 2N + 15 in all.
 */
size_t
spawn_fds_needed(size_t nsockets)
{
	size_t wrapper = 3 + 1 + nsockets + 2 + 1 + 2 + 2 + 1 + 1 + 1;

	return wrapper + nsockets + 1;
}

static void
spawn_log_identity(const struct spawn_request *req, int stage)
{
	const struct runas *ra = runas_user_of_children();

	(void)req;
	if (stage == STAGE_DIR)
		log_warn("chdir %s", runas_dir());
	else
		log_warn("run as user %s", ra != NULL ? ra->name : "?");
}

/* The child's pid, or -1 (exec_errno is 0 when fork itself failed). */
pid_t
spawn_process(const struct spawn_request *req, int *exec_errno)
{
	struct spawn_failure f;
	struct log_excerpt ex;
	int errpipe[2], ws;
	ssize_t n;
	pid_t pid;

	*exec_errno = 0;
	if (req->nfds > MAX_LISTENERS + 1) {
		errno = EMFILE;
		log_warn("spawn %s", log_excerpt(&ex, req->argv[0]));
		return -1;
	}
	if (pipe2(errpipe, O_CLOEXEC) == -1) {
		log_warn("pipe");
		return -1;
	}
	if ((pid = fork()) == -1) {
		log_warn("fork");
		close(errpipe[0]);
		close(errpipe[1]);
		return -1;
	}
	if (pid == 0)
		spawn_child(req, errpipe[1]);
	close(errpipe[1]);
	/* Both sides set the group, so a signal to it can never miss. */
	if (setpgid(pid, pid) == -1 && errno != EACCES && errno != ESRCH)
		log_warn("setpgid %ld", (long)pid);
	do
		n = read(errpipe[0], &f, sizeof(f));
	while (n == -1 && errno == EINTR);
	close(errpipe[0]);
	if (n != (ssize_t)sizeof(f))
		return pid;
	while (waitpid(pid, &ws, 0) == -1 && errno == EINTR)
		;
	errno = f.errnum;
	if (f.stage == STAGE_USER || f.stage == STAGE_DIR) {
		spawn_log_identity(req, f.stage);
		return -1;
	}
	if (f.stage == STAGE_SETUP) {
		log_warn("setting up %s", log_excerpt(&ex, req->argv[0]));
		return -1;
	}
	*exec_errno = f.errnum;
	/* Bounded, so that the reason at the end is never cut off. */
	log_warn("exec %s", log_excerpt(&ex, req->argv[0]));
	return -1;
}

pid_t
spawn_shell(const char *command, struct childenv *env)
{
	char sh[] = "/bin/sh", dash_c[] = "-c", *cmd = strdup(command);
	char *argv[] = { sh, dash_c, cmd, NULL };
	struct spawn_request req = { .argv = argv, .env = env };
	struct log_excerpt ex;
	int exec_errno;
	pid_t pid;

	if (cmd == NULL) {
		log_warn("spawn %s", log_excerpt(&ex, command));
		return -1;
	}
	pid = spawn_process(&req, &exec_errno);
	free(cmd);
	return pid;}

int
spawn_exit_status(int ws)
{
	if (WIFEXITED(ws))
		return WEXITSTATUS(ws);
	if (WIFSIGNALED(ws))
		return 128 + WTERMSIG(ws);
	return EXIT_OWN_FAILURE;
}

/* Whether a child has exited, without reaping it (the loop does that). */
bool
spawn_has_exited(pid_t pid)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == -1)
		return errno == ECHILD;
	return si.si_pid != 0;
}
