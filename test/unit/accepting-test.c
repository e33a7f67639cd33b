/*
 * Unit tests for lib/accepting.c: real child processes wait on a shared
 * socket in each way a server can, and accepting_check() must name the rule;
 * children that hold the socket without waiting on it must not count. The
 * last test times the check against a child blocked in accept().
 */
#include "config.h"

#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "graceful-run.h"
#include "tap.h"

enum way { ACCEPT, POLL, EPOLL, EPOLL_OUT_ONLY, SELECT, RECVFROM, SLEEP,
    POLL_OTHER };

static struct listeners ls;
static char how[128];

static int
make_socket(int type)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);

	if (fd == -1 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    (type == SOCK_STREAM && listen(fd, 8) == -1)) {
		perror("socket");
		exit(2);
	}
	return fd;
}

static void
wait_in_epoll(int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events }, out;
	int ep = epoll_create1(0);

	if (ep == -1 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == -1)
		_exit(3);
	for (;;)
		epoll_wait(ep, &out, 1, -1);
}

/* Waits on fd (a dup of the shared socket, so its number differs). */
static void
child_wait(enum way way, int fd, int other)
{
	struct pollfd pf[2] = { { .fd = other, .events = POLLIN },
	    { .fd = fd, .events = POLLIN } };
	char buf[16];
	fd_set rd;

	switch (way) {
	case ACCEPT:
		for (;;)
			accept4(fd, NULL, NULL, 0);
	case POLL:
		for (;;)
			poll(pf, 2, -1);
	case EPOLL:
		wait_in_epoll(fd, EPOLLIN);
		break;
	case EPOLL_OUT_ONLY:
		wait_in_epoll(fd, EPOLLOUT);
		break;
	case SELECT:
		for (;;) {
			FD_ZERO(&rd);
			FD_SET(fd, &rd);
			FD_SET(other, &rd);
			select((fd > other ? fd : other) + 1, &rd, NULL, NULL, NULL);
		}
	case RECVFROM:
		for (;;)
			recvfrom(fd, buf, sizeof(buf), 0, NULL, NULL);
	case POLL_OTHER:
		for (;;)
			poll(pf, 1, -1);
	case SLEEP:
		break;
	}
	for (;;)
		pause();
}

/* A child in its own process group waiting on the shared socket. */
static pid_t
spawn(enum way way, bool own_group)
{
	int other = make_socket(SOCK_STREAM), fd;
	pid_t pid = fork();

	if (pid == -1) {
		perror("fork");
		exit(2);
	}
	if (pid == 0) {
		if (own_group)
			setpgid(0, 0);
		if ((fd = dup(ls.v[0].fd)) == -1)
			_exit(3);
		close(ls.v[0].fd);
		child_wait(way, fd, other);
	}
	close(other);
	if (own_group)
		setpgid(pid, pid);
	return pid;
}

static void
reap(pid_t pid)
{
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
		;
}

/* The verdict once the child had 2s to get where it waits. */
static int
settle(pid_t pgid, const pid_t *extra, size_t nextra)
{
	struct timespec ts = { 0, 5 * 1000 * 1000 };
	int v = ACCEPTING_NOT_YET, i;

	for (i = 0; i < 400; i++) {
		v = accepting_check(pgid, extra, nextra, &ls, how, sizeof(how));
		if (v != ACCEPTING_NOT_YET)
			break;
		nanosleep(&ts, NULL);
	}
	return v;
}

static void
expect(enum way way, int type, const char *want)
{
	pid_t pid;
	int v;

	ls.v[0].fd = make_socket(type);
	pid = spawn(way, true);
	v = settle(pid, NULL, 0);
	if (want != NULL)
		ok(v == ACCEPTING_YES && strcmp(how, want) == 0,
		    "%s: %d \"%s\"", want, v, how);
	reap(pid);
	close(ls.v[0].fd);
}

/* Holding the socket, or waiting on something else, is not accepting. */
static void
expect_not(enum way way, const char *what)
{
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	pid_t pid;
	int v;

	ls.v[0].fd = make_socket(SOCK_STREAM);
	pid = spawn(way, true);
	nanosleep(&ts, NULL);
	v = accepting_check(pid, NULL, 0, &ls, how, sizeof(how));
	ok(v == ACCEPTING_NOT_YET, "%s: not accepting (%d \"%s\")", what, v, how);
	reap(pid);
	close(ls.v[0].fd);
}

/* A process outside the group counts only when named in extra[]. */
static void
test_extra(void)
{
	pid_t pid, none = 0;
	int v;

	ls.v[0].fd = make_socket(SOCK_STREAM);
	pid = spawn(ACCEPT, true);
	ok(settle(none, &pid, 1) == ACCEPTING_YES, "an extra pid is looked at");
	v = accepting_check(getpgrp(), NULL, 0, &ls, how, sizeof(how));
	ok(v == ACCEPTING_NOT_YET, "another group is not (%d \"%s\")", v, how);
	v = accepting_check(999999999, NULL, 0, &ls, how, sizeof(how));
	ok(v == ACCEPTING_NOT_YET, "an empty group is not accepting");
	reap(pid);
	close(ls.v[0].fd);
}

static double
elapsed_us(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1e6 +
	    (double)(b->tv_nsec - a->tv_nsec) / 1e3;
}

/* The cost of one look at a group of one process, to see and to miss. */
static void
test_cost(void)
{
	struct timespec t0, t1, c0, c1;
	pid_t pid;
	int i, n = 500, yes = 0;

	ls.v[0].fd = make_socket(SOCK_STREAM);
	pid = spawn(SLEEP, true);
	settle(pid, NULL, 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
	for (i = 0; i < n; i++)
		yes += accepting_check(pid, NULL, 0, &ls, how, sizeof(how)) ==
		    ACCEPTING_YES;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
	printf("# one look at a process that does not accept: %.1f us wall, "
	    "%.1f us CPU\n", elapsed_us(&t0, &t1) / n, elapsed_us(&c0, &c1) / n);
	ok(yes == 0, "cost measured (%d looks)", n);
	reap(pid);
	close(ls.v[0].fd);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	ls.n = 1;
	strlcpy(ls.v[0].addr, "127.0.0.1", sizeof(ls.v[0].addr));
	expect(ACCEPT, SOCK_STREAM, "accepting on fd 3");
	expect(POLL, SOCK_STREAM, "accepting on fd 3 via poll");
	expect(EPOLL, SOCK_STREAM, "accepting on fd 3 via epoll");
	expect(SELECT, SOCK_STREAM, "accepting on fd 3 via select");
	expect(RECVFROM, SOCK_DGRAM, "receiving on fd 3");
	expect(POLL, SOCK_DGRAM, "accepting on fd 3 via poll");
	expect_not(SLEEP, "holding it, asleep");
	expect_not(POLL_OTHER, "polling another socket");
	expect_not(EPOLL_OUT_ONLY, "in epoll for output only");
	test_extra();
	test_cost();
	return tap_done();
}
