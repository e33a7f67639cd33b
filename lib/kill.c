/*
 * Every signal graceful-run sends goes through here. kill(2) with 0, -1 or
 * 1 (or their groups) would hit graceful-run's own group, every process
 * it may signal, or init: a pid that is not a real target is a bug, and it
 * is refused, loudly, instead of being sent.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <unistd.h>

#include "graceful-run.h"

static bool
kill_refused(pid_t target, bool group)
{
	if (target > 1 && !(group && target == getpgrp()) &&
	    !(!group && target == getpid()))
		return false;
	log_warnx("refusing to send a signal to %s %ld (a bug in "
	    "graceful-run)", group ? "process group" : "pid", (long)target);
	errno = EINVAL;
	return true;
}

/* 0 sent (or the process is already gone: ESRCH), -1 otherwise. */
int
kill_pid(pid_t pid, int signo)
{
	if (kill_refused(pid, false))
		return -1;
	if (kill(pid, signo) == -1 && errno != ESRCH) {
		log_warn("kill %ld (SIG%s)", (long)pid, parse_signame(signo));
		return -1;
	}
	return 0;
}

int
kill_group(pid_t pgid, int signo)
{
	if (kill_refused(pgid, true))
		return -1;
	if (kill(-pgid, signo) == -1 && errno != ESRCH) {
		log_warn("kill process group %ld (SIG%s)", (long)pgid,
		    parse_signame(signo));
		return -1;
	}
	return 0;
}

/* Whether anything is left of a process group (EPERM: something is). */
bool
kill_group_alive(pid_t pgid)
{
	if (pgid <= 1)
		return false;
	return kill(-pgid, 0) == 0 || errno == EPERM;
}
