/*
 * prefork: a prefork HTTP test server, the way Starman, unicorn or Apache
 * work, for graceful-run's stop tests.
 *
 * A master forks PREFORK_WORKERS (default 2) workers that accept on fd 3
 * (taken as it is: no LISTEN_PID check, so it also runs behind a shell that
 * does not exec it) and answer one request per connection with the body
 * "pid=<worker> gen=<generation>"; "?sleep=MS" delays the answer.
 *
 * Stopping, as prefork masters do it:
 * - a worker that gets TERM, INT or QUIT itself dies at once (default
 *   disposition): a request it was serving is cut;
 * - the master, on TERM, INT or QUIT, closes a pipe every worker watches:
 *   each worker finishes the request it serves and exits 0; the master
 *   waits for all of them and exits 0.
 *
 * Readiness: a line on GRACEFUL_RUN_READY_FD once the workers are forked.
 * PREFORK_LOG=PATH appends event lines: "master pid=P gen=N", "worker
 * pid=W", "signal TERM", "request pid=W" (a request was read), "worker
 * pid=W exit", "master exit status=S".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LISTEN_FD 3
#define MAX_WORKERS 16
#define REQUEST_MAX 4096
#define SLEEP_MAX_MS 600000
#define ACCEPT_TICK_US 100000	/* bounds a stray blocking accept4() */

static int log_fd = -1;
static int gen;

static void
log_event(const char *fmt, ...)
{
	char line[200];
	va_list ap;
	int n;

	if (log_fd == -1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	/* One write per line: master and workers append to one file. */
	while (write(log_fd, line, (size_t)n) == -1 && errno == EINTR)
		;
}

static void
die(const char *what)
{
	fprintf(stderr, "prefork: %s: %s\n", what, strerror(errno));
	exit(2);
}

static int
env_number(const char *name, int def, int max)
{
	const char *s = getenv(name);
	char *end;
	long v;

	if (s == NULL || *s == '\0')
		return def;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 0 || v > max) {
		fprintf(stderr, "prefork: bad %s=%s\n", name, s);
		exit(2);
	}
	return (int)v;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* --- a worker ------------------------------------------------------ */

static long
request_sleep(const char *req)
{
	const char *p = strstr(req, "sleep=");
	long v;

	if (p == NULL || p > strchr(req, '\n'))
		return 0;
	v = strtol(p + 6, NULL, 10);
	return v < 0 ? 0 : v > SLEEP_MAX_MS ? SLEEP_MAX_MS : v;
}

static void
send_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = send(fd, p, n, MSG_NOSIGNAL);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

/* Reads the request head, answers it, closes the connection. */
static void
serve(int fd)
{
	char req[REQUEST_MAX], body[64], resp[256];
	size_t len = 0;
	ssize_t n;
	int bl, rl;

	while (len < sizeof(req) - 1) {
		n = recv(fd, req + len, sizeof(req) - 1 - len, 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		req[len] = '\0';
		if (strstr(req, "\r\n\r\n") != NULL)
			break;
	}
	req[len] = '\0';
	if (strstr(req, "\r\n\r\n") == NULL) {
		close(fd);
		return;
	}
	log_event("request pid=%d", (int)getpid());
	sleep_ms(request_sleep(req));
	bl = snprintf(body, sizeof(body), "pid=%010d gen=%06d\n",
	    (int)getpid(), gen);
	rl = snprintf(resp, sizeof(resp), "HTTP/1.1 200 OK\r\n"
	    "Content-Type: text/plain\r\nContent-Length: %d\r\n"
	    "Connection: close\r\n\r\n%s", bl, body);
	send_all(fd, resp, (size_t)rl);
	/* Half-close, then wait briefly for the client's FIN: no RST. */
	shutdown(fd, SHUT_WR);
	{
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (poll(&p, 1, 250) > 0)
			while (recv(fd, req, sizeof(req), 0) > 0)
				;
	}
	close(fd);
}

static void
on_alarm(int sig)
{
	(void)sig;
}

/* A connection, or -1 when none was there (another process took it). */
static int
worker_accept(void)
{
	struct itimerval tick = { { 0, ACCEPT_TICK_US }, { 0, ACCEPT_TICK_US } };
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	int fd, err;

	setitimer(ITIMER_REAL, &tick, NULL);
	fd = accept4(LISTEN_FD, NULL, NULL, SOCK_CLOEXEC);
	err = errno;
	setitimer(ITIMER_REAL, &off, NULL);
	errno = err;
	return fd;
}

static void
worker(int drain_fd)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	struct pollfd p[2];
	sigset_t none;
	int fd;

	/* The stop signals kill a worker at once, as in Starman or unicorn. */
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGQUIT, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);	/* no SA_RESTART: accept4 -> EINTR */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	log_event("worker pid=%d", (int)getpid());
	p[0] = (struct pollfd){ .fd = drain_fd, .events = POLLIN };
	p[1] = (struct pollfd){ .fd = LISTEN_FD, .events = POLLIN };
	for (;;) {
		if (poll(p, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		/* The master closed the pipe: no new connection, exit. */
		if (p[0].revents != 0)
			break;
		if (p[1].revents != 0 && (fd = worker_accept()) != -1)
			serve(fd);
	}
	log_event("worker pid=%d exit", (int)getpid());
	_exit(0);
}

/* --- the master ---------------------------------------------------- */

/* Only the master says it is ready; a worker must not hold the pipe. */
static void
ready_fd_close(void)
{
	int fd = env_number("GRACEFUL_RUN_READY_FD", -1, 1 << 20);

	if (fd > LISTEN_FD)
		close(fd);
}

static void
say_ready(void)
{
	int fd = env_number("GRACEFUL_RUN_READY_FD", -1, 1 << 20);

	if (fd <= LISTEN_FD)
		return;
	while (write(fd, "ready\n", 6) == -1 && errno == EINTR)
		;
	close(fd);
}

static const char *
signal_name(int sig)
{
	return sig == SIGTERM ? "TERM" : sig == SIGINT ? "INT" :
	    sig == SIGQUIT ? "QUIT" : sig == SIGCHLD ? "CHLD" : "?";
}

int
main(void)
{
	pid_t workers[MAX_WORKERS];
	int nworkers, drain[2], sig, i, ws;
	const char *log_path = getenv("PREFORK_LOG");
	sigset_t set;

	gen = env_number("GRACEFUL_RUN_GENERATION", 0, 999999);
	nworkers = env_number("PREFORK_WORKERS", 2, MAX_WORKERS);
	if (log_path != NULL && (log_fd = open(log_path,
	    O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644)) == -1)
		die(log_path);
	log_event("master pid=%d gen=%d", (int)getpid(), gen);
	/* The master takes its signals with sigwait: block them first. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1)
		die("sigprocmask");
	if (pipe2(drain, O_CLOEXEC) == -1)
		die("pipe2");
	for (i = 0; i < nworkers; i++) {
		if ((workers[i] = fork()) == -1)
			die("fork");
		if (workers[i] == 0) {
			close(drain[1]);
			ready_fd_close();
			worker(drain[0]);
		}
	}
	close(drain[0]);
	say_ready();
	do {
		if (sigwait(&set, &sig) != 0)
			die("sigwait");
		log_event("signal %s", signal_name(sig));
	} while (sig == SIGCHLD);
	/* Wind the workers down: each ends the request it serves. */
	close(drain[1]);
	for (i = 0; i < nworkers; i++)
		while (waitpid(workers[i], &ws, 0) == -1 && errno == EINTR)
			;
	log_event("master exit status=0");
	return 0;
}
