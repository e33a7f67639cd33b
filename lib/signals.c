/*
 * Every signal graceful-run acts on is blocked for good and read from one
 * signalfd in the loop, so no work ever happens in a handler.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "graceful-run.h"

/* Linux's first real-time signal; the C library keeps some for itself. */
#define SIGNALS_KERNEL_RTMIN 32

static const int handled_signals[] = {
	SIGHUP, SIGTERM, SIGINT, SIGQUIT, SIGCHLD,
	SIGUSR1, SIGUSR2, SIGWINCH, SIGTTIN, SIGTTOU,
};

static int reload_signo;

static int
signals_set_default(int signo)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	if (sigemptyset(&sa.sa_mask) == -1)
		return -1;
	return sigaction(signo, &sa, NULL);
}

/* A client gone mid-write is an EPIPE to handle, not a death. */
int
signals_ignore_pipe(void)
{
	return signal(SIGPIPE, SIG_IGN) == SIG_ERR ? -1 : 0;
}

/*
 * Blocked first, then put back to their defaults: a disposition inherited
 * as ignored would lose them (an ignored SIGCHLD even makes the kernel reap
 * the children itself, so no exit would ever be seen).
 */
int
signals_open(int reload_signal)
{
	sigset_t set;
	size_t i, n = sizeof(handled_signals) / sizeof(*handled_signals);

	reload_signo = reload_signal;
	if (sigemptyset(&set) == -1)
		return -1;
	for (i = 0; i < n; i++)
		if (sigaddset(&set, handled_signals[i]) == -1)
			return -1;
	if (reload_signal > 0 && sigaddset(&set, reload_signal) == -1)
		return -1;
	if (sigprocmask(SIG_SETMASK, &set, NULL) == -1)
		return -1;
	for (i = 0; i < n; i++)
		if (signals_set_default(handled_signals[i]) == -1)
			return -1;
	if (reload_signal > 0 && signals_set_default(reload_signal) == -1)
		return -1;
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

/* 1 and *signo set, 0 when nothing is pending, -1 on error. */
int
signals_read(int fd, int *signo)
{
	struct signalfd_siginfo si;
	ssize_t n;

	do
		n = read(fd, &si, sizeof(si));
	while (n == -1 && errno == EINTR);
	if (n == -1 && errno == EAGAIN)
		return 0;
	if (n != (ssize_t)sizeof(si))
		return -1;
	*signo = (int)si.ssi_signo;
	return 1;
}

/* The signals the C library keeps for itself: no disposition to set. */
static bool
signals_reserved(int signo)
{
	return signo >= SIGNALS_KERNEL_RTMIN && signo < SIGRTMIN;
}

/*
 * The C library refuses to touch its reserved signals, yet they can be
 * inherited ignored (GNU make leaves 32 and 33 so) and stay so across
 * exec. The kernel takes an all-zero sigaction as SIG_DFL with no flags
 * and an empty mask, whatever its layout on this architecture.
 */
static int
signals_reserved_default(int signo)
{
	static const long zero[16];

	return (int)syscall(SYS_rt_sigaction, signo, zero, NULL,
	    (size_t)(NSIG - 1) / 8);
}

/*
 * In a forked child: every disposition and the mask as a fresh process has
 * them, since an ignored signal survives exec (a parent's "&" ignores INT
 * and QUIT). Async-signal-safe; -1 with errno set on failure.
 */
int
signals_reset_for_exec(void)
{
	sigset_t empty;
	int signo, rc;

	for (signo = 1; signo < NSIG; signo++) {
		if (signo == SIGKILL || signo == SIGSTOP)
			continue;
		rc = signals_reserved(signo) ? signals_reserved_default(signo) :
		    signals_set_default(signo);
		if (rc == -1)
			return -1;
	}
	if (sigemptyset(&empty) == -1)
		return -1;
	return sigprocmask(SIG_SETMASK, &empty, NULL);
}

/*
 * Why SIGNO cannot be the reload signal, or NULL when it can: it must be
 * one that can be blocked and read from the signalfd, and mean nothing
 * else to graceful-run or to the kernel.
 */
const char *
signals_unfit_for_reload(int signo)
{
	switch (signo) {
	case SIGKILL: case SIGSTOP:
		return "it cannot be caught or blocked";
	case SIGTERM: case SIGINT: case SIGQUIT:
		return "it stops graceful-run";
	case SIGCHLD:
		return "it reports exited children";
	case SIGPIPE:
		return "graceful-run ignores it";
	case SIGCONT:
		return "it resumes a stopped process";
	case SIGSEGV: case SIGBUS: case SIGFPE: case SIGILL: case SIGTRAP:
	case SIGSYS: case SIGABRT:
		return "it reports a fault";
	case SIGXCPU: case SIGXFSZ:
		return "the kernel sends it at a resource limit";
	}
	if (signo <= 0 || signo >= NSIG)
		return "no such signal";
	if (signals_reserved(signo))
		return "the C library reserves it, so it cannot be blocked";
	return NULL;
}

/* With --reload-signal, HUP is the child's like USR1 is. */
bool
signals_is_forwarded(int signo)
{
	if (signo == reload_signo)
		return false;
	return signo == SIGUSR1 || signo == SIGUSR2 || signo == SIGWINCH ||
	    signo == SIGTTIN || signo == SIGTTOU ||
	    (signo == SIGHUP && reload_signo > 0);
}
