/*
 * selfbind: a test program that binds its own listening sockets, the way
 * programs never written for socket handoff do, for --takeover's tests.
 *
 *   selfbind [OPTION]... ADDRESS...
 *
 * ADDRESS: 127.0.0.1:PORT, 0.0.0.0:PORT, [::1]:PORT, [::]:PORT,
 * unix:/PATH, unix:@NAME. For each it makes a socket (SOCK_CLOEXEC, like
 * most servers), sets SO_REUSEADDR, binds and listens, and appends
 * "bound ADDRESS pid=P fd=N ino=I cloexec=C nonblock=B name=NAME" to the
 * --log file. Then, unless --pause, it places the sockets at 3, 4, ... and
 * execs the test HTTP server (httpd, next to selfbind) on them through
 * LISTEN_FDS; with --workers N it first forks N-1 more processes that do
 * the same. With --pause it just waits for a signal and exits 0.
 *
 * Options, each a habit of some real server:
 *   --reuseport          SO_REUSEPORT before bind
 *   --v6only=0|1|toggle  IPV6_V6ONLY on IPv6 sockets (toggle: 1, then 0)
 *   --nonblock           SOCK_NONBLOCK
 *   --inherit            no SOCK_CLOEXEC
 *   --rebind             bind, close, make the socket again and bind again
 *   --unlink             unlink a unix socket path before bind
 *   --close-all=loop|closefrom|range   close every fd from 3 at start
 *   --cloexec-all        mark every fd from 3 close-on-exec at start (node)
 *   --workers=N          N processes serve, forked after bind
 *   --pause              bind and wait; do not exec the server
 *   --log=FILE           where the "bound" lines go
 * Exit: 2 on bad usage, 3 when a bind or listen fails.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_ADDRS 8

static struct {
	bool reuseport, nonblock, inherit, rebind, unlink_first, cloexec_all;
	bool pause;
	int v6only;		/* -1 untouched, 0, 1, 2 = toggle */
	const char *close_all;
	int workers;
	const char *log;
} opt = { .v6only = -1, .workers = 1 };

struct addr {
	const char *text;
	struct sockaddr_storage ss;
	socklen_t len;
};

static _Noreturn void
die(int status, const char *what, const char *text)
{
	fprintf(stderr, "selfbind: %s %s: %s\n", what, text, strerror(errno));
	exit(status);
}

static bool
parse_inet(const char *text, struct addr *a)
{
	char host[64];
	const char *colon = strrchr(text, ':');
	struct sockaddr_in *s4 = (struct sockaddr_in *)&a->ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a->ss;
	long port;

	if (colon == NULL || (size_t)(colon - text) >= sizeof(host))
		return false;
	port = strtol(colon + 1, NULL, 10);
	memcpy(host, text, (size_t)(colon - text));
	host[colon - text] = '\0';
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		host[strlen(host) - 1] = '\0';
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		a->len = sizeof(*s6);
		return inet_pton(AF_INET6, host + 1, &s6->sin6_addr) == 1;
	}
	s4->sin_family = AF_INET;
	s4->sin_port = htons((uint16_t)port);
	a->len = sizeof(*s4);
	return inet_pton(AF_INET, host, &s4->sin_addr) == 1;
}

static bool
parse_addr(const char *text, struct addr *a)
{
	struct sockaddr_un *sun = (struct sockaddr_un *)&a->ss;
	size_t n;

	memset(a, 0, sizeof(*a));
	a->text = text;
	if (strncmp(text, "unix:", 5) != 0)
		return parse_inet(text, a);
	n = strlen(text + 5);
	if (n == 0 || n >= sizeof(sun->sun_path))
		return false;
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, text + 5, n);
	a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	if (sun->sun_path[0] == '@') {
		sun->sun_path[0] = '\0';
		a->len--;
	}
	return true;
}

static void
set_int(int fd, int level, int name, int value, const char *text)
{
	if (setsockopt(fd, level, name, &value, sizeof(value)) == -1)
		die(3, "setsockopt", text);
}

static int
make_socket(const struct addr *a)
{
	int family = a->ss.ss_family, fd;

	fd = socket(family, SOCK_STREAM | (opt.inherit ? 0 : SOCK_CLOEXEC) |
	    (opt.nonblock ? SOCK_NONBLOCK : 0), 0);
	if (fd == -1)
		die(3, "socket", a->text);
	if (family == AF_UNIX)
		return fd;
	set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1, a->text);
	if (opt.reuseport)
		set_int(fd, SOL_SOCKET, SO_REUSEPORT, 1, a->text);
	if (family == AF_INET6 && opt.v6only == 2)
		set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1, a->text);
	if (family == AF_INET6 && opt.v6only >= 0)
		set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, opt.v6only == 1, a->text);
	return fd;
}

static void
log_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
log_line(const char *fmt, ...)
{
	va_list ap;
	FILE *f;

	if (opt.log == NULL || (f = fopen(opt.log, "ae")) == NULL)
		return;
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fclose(f);
}

static void
log_bound(const struct addr *a, int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char name[INET6_ADDRSTRLEN + 8] = "?";
	struct stat st;
	int fdfl = fcntl(fd, F_GETFD), fl = fcntl(fd, F_GETFL);

	if (fstat(fd, &st) == -1)
		die(3, "fstat", a->text);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
		if (ss.ss_family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr,
			    name, sizeof(name));
		else if (ss.ss_family == AF_INET6)
			inet_ntop(AF_INET6,
			    &((struct sockaddr_in6 *)&ss)->sin6_addr, name,
			    sizeof(name));
		else if (ss.ss_family == AF_UNIX)
			snprintf(name, sizeof(name), "unix");
	}
	log_line("bound %s pid=%ld fd=%d ino=%llu cloexec=%d nonblock=%d "
	    "name=%s\n", a->text, (long)getpid(), fd,
	    (unsigned long long)st.st_ino, (fdfl & FD_CLOEXEC) != 0,
	    (fl & O_NONBLOCK) != 0, name);
}

static int
bind_one(const struct addr *a)
{
	int fd = make_socket(a);

	if (opt.unlink_first && a->ss.ss_family == AF_UNIX &&
	    a->text[5] != '@' && unlink(a->text + 5) == -1 && errno != ENOENT)
		die(3, "unlink", a->text);
	if (bind(fd, (const struct sockaddr *)&a->ss, a->len) == -1)
		die(3, "bind", a->text);
	if (opt.rebind) {
		close(fd);
		fd = make_socket(a);
		if (bind(fd, (const struct sockaddr *)&a->ss, a->len) == -1)
			die(3, "bind again", a->text);
	}
	if (listen(fd, 5) == -1)
		die(3, "listen", a->text);
	log_bound(a, fd);
	return fd;
}

static void
start_habits(void)
{
	int fd;

	if (opt.cloexec_all)
		for (fd = 3; fd < 1024; fd++)
			(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	if (opt.close_all == NULL)
		return;
	if (strcmp(opt.close_all, "loop") == 0)
		for (fd = 3; fd < 1024; fd++)
			(void)close(fd);
	else if (strcmp(opt.close_all, "closefrom") == 0)
		closefrom(3);
	else if (close_range(3, ~0U, 0) == -1)
		die(3, "close_range", "3");
}

/* The sockets at 3, 4, ..., nothing else past stderr, then the server. */
static _Noreturn void
exec_server(const int *fds, int n, const char *self)
{
	char httpd[PATH_MAX], count[16], pid[16];
	const char *slash = strrchr(self, '/');
	int moved[MAX_ADDRS], i;

	for (i = 0; i < n; i++)
		if ((moved[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 100)) == -1)
			die(3, "fcntl", "F_DUPFD");
	for (i = 0; i < n; i++)
		if (dup2(moved[i], 3 + i) == -1)
			die(3, "dup2", "socket");
	closefrom(3 + n);
	snprintf(count, sizeof(count), "%d", n);
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	setenv("LISTEN_FDS", count, 1);
	setenv("LISTEN_PID", pid, 1);
	unsetenv("LISTEN_FDNAMES");
	unsetenv("GRACEFUL_RUN_READY_FD");
	snprintf(httpd, sizeof(httpd), "%.*shttpd",
	    slash != NULL ? (int)(slash - self + 1) : 0, self);
	execl(httpd, httpd, (char *)NULL);
	die(3, "exec", httpd);
}

static bool
parse_option(const char *arg)
{
	if (strcmp(arg, "--reuseport") == 0)
		opt.reuseport = true;
	else if (strcmp(arg, "--nonblock") == 0)
		opt.nonblock = true;
	else if (strcmp(arg, "--inherit") == 0)
		opt.inherit = true;
	else if (strcmp(arg, "--rebind") == 0)
		opt.rebind = true;
	else if (strcmp(arg, "--unlink") == 0)
		opt.unlink_first = true;
	else if (strcmp(arg, "--cloexec-all") == 0)
		opt.cloexec_all = true;
	else if (strcmp(arg, "--pause") == 0)
		opt.pause = true;
	else if (strncmp(arg, "--close-all=", 12) == 0)
		opt.close_all = arg + 12;
	else if (strncmp(arg, "--log=", 6) == 0)
		opt.log = arg + 6;
	else if (strncmp(arg, "--workers=", 10) == 0)
		opt.workers = atoi(arg + 10);
	else if (strcmp(arg, "--v6only=toggle") == 0)
		opt.v6only = 2;
	else if (strncmp(arg, "--v6only=", 9) == 0)
		opt.v6only = atoi(arg + 9) != 0;
	else
		return false;
	return true;
}

int
main(int argc, char *argv[])
{
	struct addr addrs[MAX_ADDRS];
	int fds[MAX_ADDRS], n = 0, i, sig;
	sigset_t set;

	for (i = 1; i < argc && strncmp(argv[i], "--", 2) == 0; i++)
		if (!parse_option(argv[i])) {
			fprintf(stderr, "selfbind: unknown option %s\n", argv[i]);
			return 2;
		}
	for (; i < argc && n < MAX_ADDRS; i++, n++)
		if (!parse_addr(argv[i], &addrs[n])) {
			fprintf(stderr, "selfbind: bad address %s\n", argv[i]);
			return 2;
		}
	if (n == 0 || opt.workers < 1) {
		fprintf(stderr, "usage: selfbind [OPTION]... ADDRESS...\n");
		return 2;
	}
	start_habits();
	for (i = 0; i < n; i++)
		fds[i] = bind_one(&addrs[i]);
	if (opt.pause) {
		sigemptyset(&set);
		sigaddset(&set, SIGTERM);
		sigaddset(&set, SIGINT);
		sigprocmask(SIG_BLOCK, &set, NULL);
		sigwait(&set, &sig);
		return 0;
	}
	for (i = 1; i < opt.workers; i++) {
		pid_t pid = fork();

		if (pid == -1)
			die(3, "fork", "worker");
		if (pid == 0)
			break;
	}
	exec_server(fds, n, argv[0]);
}
