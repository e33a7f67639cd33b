/* Unit tests for the core's guards: the kill guard, generation numbers. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "graceful-run.h"
#include "tap.h"

static void
test_kill_guard(void)
{
	pid_t child;
	int ws;

	errno = 0;
	ok(kill_pid(0, 0) == -1 && errno == EINVAL, "kill_pid(0) is refused");
	ok(kill_pid(1, 0) == -1 && errno == EINVAL, "kill_pid(1) is refused");
	ok(kill_pid(-1, 0) == -1, "kill_pid(-1) is refused");
	ok(kill_pid(-5, 0) == -1, "a negative pid is refused");
	ok(kill_pid(getpid(), 0) == -1, "graceful-run's own pid is refused");
	ok(kill_group(0, 0) == -1, "kill_group(0) is refused");
	ok(kill_group(1, 0) == -1, "kill_group(1) is refused");
	ok(kill_group(getpgrp(), 0) == -1,
	    "graceful-run's own process group is refused");

	/* A real target still gets its signal. */
	if ((child = fork()) == 0) {
		setpgid(0, 0);
		pause();
		_exit(0);
	}
	setpgid(child, child);
	ok(kill_group(child, SIGTERM) == 0, "a child's group is signalled");
	ok(waitpid(child, &ws, 0) == child && WIFSIGNALED(ws) &&
	    WTERMSIG(ws) == SIGTERM, "and it died of the signal");
	ok(kill_pid(child, SIGTERM) == 0, "a pid already gone is no error");
}

static void
test_generation_numbers(void)
{
	ok(gen_next_id(0) == 1, "the first generation is 1");
	ok(gen_next_id(41) == 42, "numbers count up");
	ok(gen_next_id(UINT32_MAX) == 1, "the wrap skips 0, the free slot");
}

int
main(void)
{
	log_init(LOG_QUIET);
	test_kill_guard();
	test_generation_numbers();
	return tap_done();
}
