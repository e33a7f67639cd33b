/*
 * Bind the parsed -l specs once for the wrapper's whole life, or adopt the
 * sockets systemd passed to graceful-run itself. Either way the result is a
 * list of close-on-exec fds that spawn.c places at 3, 4, ... in each child.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "graceful-run.h"

static void
sockets_format(const struct sockaddr *sa, socklen_t len, char *out,
    size_t outlen)
{
	const struct sockaddr_in *sin = (const void *)sa;
	const struct sockaddr_in6 *sin6 = (const void *)sa;
	const struct sockaddr_un *sun = (const void *)sa;
	char host[INET6_ADDRSTRLEN];
	size_t pathlen;

	switch (sa->sa_family) {
	case AF_INET:
		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		snprintf(out, outlen, "%s:%u", host, ntohs(sin->sin_port));
		break;
	case AF_INET6:
		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		snprintf(out, outlen, "[%s]:%u", host, ntohs(sin6->sin6_port));
		break;
	case AF_UNIX:
		pathlen = len - offsetof(struct sockaddr_un, sun_path);
		if (pathlen > 0 && sun->sun_path[0] == '\0')
			snprintf(out, outlen, "@%.*s", (int)(pathlen - 1),
			    sun->sun_path + 1);
		else
			snprintf(out, outlen, "%.*s", (int)pathlen,
			    sun->sun_path);
		break;
	default:
		snprintf(out, outlen, "family-%d", sa->sa_family);
	}
}

static struct listener *
sockets_add(struct listeners *ls, const char *what)
{
	struct log_excerpt ex;
	struct listener *l;

	if (ls->n == MAX_LISTENERS) {
		log_warnx("listen: more than %d sockets: %s", MAX_LISTENERS,
		    log_excerpt(&ex, what));
		return NULL;
	}
	l = &ls->v[ls->n];
	memset(l, 0, sizeof(*l));
	l->fd = -1;
	return l;
}

static int
sockets_open(int family, int type, const char *what)
{
	int fd = socket(family, type | SOCK_CLOEXEC, 0);
	struct log_excerpt ex;

	if (fd == -1 && (errno == EMFILE || errno == ENFILE))
		log_warnx("listen: too many sockets for the fd limit: %s",
		    log_excerpt(&ex, what));
	else if (fd == -1 && errno != EAFNOSUPPORT)
		log_warn("socket for %s", log_excerpt(&ex, what));
	return fd;
}

static int
sockets_setopt(int fd, int level, int name, int value, const char *what)
{
	struct log_excerpt ex;

	if (setsockopt(fd, level, name, &value, sizeof(value)) == -1) {
		log_warn("setsockopt for %s", log_excerpt(&ex, what));
		return -1;
	}
	return 0;
}

static int
sockets_inet_options(int fd, const struct listen_spec *spec, int family,
    bool v6only)
{
	if (sockets_setopt(fd, SOL_SOCKET, SO_REUSEADDR, 1, spec->text) == -1)
		return -1;
	if (spec->reuseport &&
	    sockets_setopt(fd, SOL_SOCKET, SO_REUSEPORT, 1, spec->text) == -1)
		return -1;
	if (family == AF_INET6 &&
	    sockets_setopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, v6only, spec->text) == -1)
		return -1;
	return 0;
}

/*
 * Bind one inet address; 1 when the host has no such address family, or,
 * for one of several addresses, when that address is not available here.
 */
static int
sockets_bind_inet(struct listeners *ls, const struct listen_spec *spec,
    const struct sockaddr *sa, socklen_t len, bool v6only, bool optional)
{
	int type = spec->kind == LISTEN_UDP ? SOCK_DGRAM : SOCK_STREAM;
	struct log_excerpt ex;
	struct listener *l;
	int fd;

	if ((l = sockets_add(ls, spec->text)) == NULL)
		return -1;
	sockets_format(sa, len, l->addr, sizeof(l->addr));
	if ((fd = sockets_open(sa->sa_family, type |
	    (spec->nonblock ? SOCK_NONBLOCK : 0), spec->text)) == -1)
		return errno == EAFNOSUPPORT ? 1 : -1;
	l->fd = fd;
	ls->n++;
	if (sockets_inet_options(fd, spec, sa->sa_family, v6only) == -1)
		return -1;
	if (bind(fd, sa, len) == -1) {
		if (optional && errno == EADDRNOTAVAIL) {
			log_info("listen: skipping %s: %s: %s", l->addr,
			    strerror(errno), log_excerpt(&ex, spec->text));
			close(fd);
			ls->n--;
			return 1;
		}
		log_warn("bind %s%s", spec->kind == LISTEN_UDP ? "udp:" : "",
		    l->addr);
		return -1;
	}
	if (type == SOCK_STREAM && listen(fd, spec->backlog) == -1) {
		log_warn("listen %s", l->addr);
		return -1;
	}
	strlcpy(l->name, spec->name, sizeof(l->name));
	if (spec->host[0] == '\0')
		strlcpy(l->starter, spec->port, sizeof(l->starter));
	else
		strlcpy(l->starter, l->addr, sizeof(l->starter));
	log_debug("bound %s as fd %d, named %s", l->addr, fd, l->name);
	return 0;
}

/* ":PORT": one dual-stack socket where the host has IPv6, else 0.0.0.0. */
static int
sockets_bind_wildcard(struct listeners *ls, const struct listen_spec *spec)
{
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };
	struct sockaddr_in sin = { .sin_family = AF_INET };
	uint16_t port = (uint16_t)atoi(spec->port);
	int rc;

	sin6.sin6_addr = in6addr_any;
	sin6.sin6_port = htons(port);
	rc = sockets_bind_inet(ls, spec, (struct sockaddr *)&sin6,
	    sizeof(sin6), spec->v6only, false);
	if (rc != 1)
		return rc;
	sin.sin_addr.s_addr = htonl(INADDR_ANY);
	sin.sin_port = htons(port);
	return sockets_bind_inet(ls, spec, (struct sockaddr *)&sin,
	    sizeof(sin), false, false);
}

static bool
sockets_seen(const struct addrinfo *list, const struct addrinfo *ai)
{
	for (; list != ai; list = list->ai_next)
		if (list->ai_addrlen == ai->ai_addrlen &&
		    memcmp(list->ai_addr, ai->ai_addr, ai->ai_addrlen) == 0)
			return true;
	return false;
}

/* HOST:PORT: every address the host resolves to is bound. */
static int
sockets_bind_host(struct listeners *ls, const struct listen_spec *spec)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICSERV }, *res, *ai;
	struct log_excerpt ex;
	bool several;
	int rc, bound = 0;

	hints.ai_socktype = spec->kind == LISTEN_UDP ? SOCK_DGRAM : SOCK_STREAM;
	rc = getaddrinfo(spec->host, spec->port, &hints, &res);
	if (rc != 0) {
		log_warnx("listen: cannot resolve %s: %s",
		    log_excerpt(&ex, spec->host),
		    rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return -1;
	}
	several = res->ai_next != NULL;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if (sockets_seen(res, ai))
			continue;
		/* Overlapping v4 and v6 wildcards must not collide. */
		rc = sockets_bind_inet(ls, spec, ai->ai_addr, ai->ai_addrlen,
		    spec->v6only || several, several);
		if (rc == -1)
			break;
		bound += rc == 0;
	}
	freeaddrinfo(res);
	if (rc != -1 && bound == 0) {
		log_warnx("listen: no address of %s can be bound here",
		    log_excerpt(&ex, spec->host));
		return -1;
	}
	return rc == -1 ? -1 : 0;
}

/*
 * A socket file is stale when nothing accepts connections on it (the
 * control socket follows the same rule).
 */
bool
sockets_unix_stale(const struct sockaddr_un *sun, socklen_t len)
{
	struct stat st;
	int fd, rc;

	if (lstat(sun->sun_path, &st) == -1 || !S_ISSOCK(st.st_mode))
		return false;
	/* Non-blocking: a live server with a full backlog is not stale. */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1)
		return false;
	rc = connect(fd, (const struct sockaddr *)sun, len);
	close(fd);
	return rc == -1 && errno == ECONNREFUSED;
}

static int
sockets_unix_file(struct listener *l, const struct listen_spec *spec)
{
	struct stat st;

	if (stat(spec->path, &st) == -1) {
		log_warn("stat %s", spec->path);
		return -1;
	}
	strlcpy(l->unlink_path, spec->path, sizeof(l->unlink_path));
	l->dev = st.st_dev;
	l->ino = st.st_ino;
	if (spec->has_owner && chown(spec->path, spec->uid, spec->gid) == -1) {
		log_warn("chown %s", spec->path);
		return -1;
	}
	if (spec->has_mode && chmod(spec->path, spec->mode) == -1) {
		log_warn("chmod %s", spec->path);
		return -1;
	}
	return 0;
}

static int
sockets_bind_unix(struct listeners *ls, const struct listen_spec *spec)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	bool abstract = spec->path[0] == '@';
	size_t pathlen = strlen(spec->path);
	socklen_t len = offsetof(struct sockaddr_un, sun_path) + pathlen +
	    !abstract;
	struct listener *l;
	int rc;

	memcpy(sun.sun_path, spec->path, pathlen);
	if (abstract)
		sun.sun_path[0] = '\0';
	if ((l = sockets_add(ls, spec->text)) == NULL)
		return -1;
	strlcpy(l->addr, spec->path, sizeof(l->addr));
	strlcpy(l->starter, spec->path, sizeof(l->starter));
	strlcpy(l->name, spec->name, sizeof(l->name));
	if ((l->fd = sockets_open(AF_UNIX, SOCK_STREAM |
	    (spec->nonblock ? SOCK_NONBLOCK : 0), spec->text)) == -1)
		return -1;
	ls->n++;
	rc = bind(l->fd, (struct sockaddr *)&sun, len);
	if (rc == -1 && errno == EADDRINUSE && !abstract &&
	    sockets_unix_stale(&sun, len)) {
		log_info("replacing stale socket %s", spec->path);
		if (unlink(spec->path) == -1 && errno != ENOENT)
			log_warn("unlink %s", spec->path);
		rc = bind(l->fd, (struct sockaddr *)&sun, len);
	}
	if (rc == -1) {
		log_warn("bind unix:%s", spec->path);
		return -1;
	}
	if (!abstract && sockets_unix_file(l, spec) == -1)
		return -1;
	if (listen(l->fd, spec->backlog) == -1) {
		log_warn("listen unix:%s", spec->path);
		return -1;
	}
	return 0;
}

int
sockets_bind(const struct listen_spec *specs, size_t n, struct listeners *ls)
{
	const struct listen_spec *spec;
	int rc = 0;
	size_t i;

	ls->n = 0;
	for (i = 0; i < n && rc == 0; i++) {
		spec = &specs[i];
		if (spec->kind == LISTEN_UNIX)
			rc = sockets_bind_unix(ls, spec);
		else if (spec->host[0] == '\0')
			rc = sockets_bind_wildcard(ls, spec);
		else
			rc = sockets_bind_host(ls, spec);
	}
	if (rc != 0)
		sockets_release(ls);
	return rc;
}

static const char *
sockets_next_name(char **names)
{
	char *name = *names;

	if (name == NULL)
		return "unknown";
	*names = strchr(name, ':');
	if (*names != NULL)
		*(*names)++ = '\0';
	return *name != '\0' ? name : "unknown";
}

static int
sockets_adopt_one(struct listener *l)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (fcntl(l->fd, F_SETFD, FD_CLOEXEC) == -1) {
		log_warn("LISTEN_FDS: fd %d", l->fd);
		return -1;
	}
	if (getsockname(l->fd, (struct sockaddr *)&ss, &len) == 0)
		sockets_format((struct sockaddr *)&ss, len, l->addr,
		    sizeof(l->addr));
	else
		snprintf(l->addr, sizeof(l->addr), "fd %d", l->fd);
	strlcpy(l->starter, l->addr, sizeof(l->starter));
	log_debug("adopted fd %d (%s), named %s", l->fd, l->addr, l->name);
	return 0;
}

/*
 * How many sockets systemd's variables pass to SELF, from fd 3 on: 0 when
 * none, or none to this process; -1 when LISTEN_FDS is no count.
 */
static int
sockets_passed_env(const char *pid_env, const char *fds_env, pid_t self)
{
	const char *errstr = NULL;
	long long pid, n;

	if (pid_env == NULL || fds_env == NULL)
		return 0;
	pid = strtonum(pid_env, 1, INT32_MAX, &errstr);
	if (errstr != NULL || pid != self)
		return 0;
	n = strtonum(fds_env, 0, MAX_LISTENERS, &errstr);
	return errstr != NULL ? -1 : (int)n;
}

static int
sockets_passed(void)
{
	return sockets_passed_env(getenv("LISTEN_PID"), getenv("LISTEN_FDS"),
	    getpid());
}

/*
 * Everything inherited past stderr is closed at start: held for the
 * wrapper's whole life, a pipe from "$(...)" or a test harness would
 * never see EOF. Only the sockets systemd passed stay, to be adopted.
 */
void
sockets_close_inherited(void)
{
	int n = sockets_passed();

	closefrom(FIRST_LISTEN_FD + (n > 0 ? n : 0));
}

/* With -l given, systemd's sockets are not adopted: not kept either. */
void
sockets_close_passed(void)
{
	int n = sockets_passed(), i;

	for (i = 0; i < n; i++)
		close(FIRST_LISTEN_FD + i);
	if (n > 0)
		log_debug("-l given: %d socket%s passed by socket activation "
		    "closed", n, n == 1 ? "" : "s");
}

/*
 * What systemd's variables say, without touching a single fd (so it can be
 * fuzzed): 1 with each passed fd's number and name in ls, 0 when nothing
 * was passed to self, -1 on a bad LISTEN_FDS.
 */
int
sockets_adopt_env(struct listeners *ls, const char *pid_env,
    const char *fds_env, const char *names_env, pid_t self)
{
	char names[4096], *cursor = NULL;
	struct log_excerpt ex;
	struct listener *l;
	int n, i;

	ls->n = 0;
	if ((n = sockets_passed_env(pid_env, fds_env, self)) == -1) {
		log_warnx("LISTEN_FDS: not a number of sockets (0-%d): %s",
		    MAX_LISTENERS, log_excerpt(&ex, fds_env));
		return -1;
	}
	if (names_env != NULL &&
	    strlcpy(names, names_env, sizeof(names)) < sizeof(names))
		cursor = names;
	for (i = 0; i < n; i++) {
		if ((l = sockets_add(ls, "LISTEN_FDS")) == NULL) {
			ls->n = 0;
			return -1;
		}
		l->fd = FIRST_LISTEN_FD + i;
		strlcpy(l->name, sockets_next_name(&cursor), sizeof(l->name));
		ls->n++;
	}
	return n > 0;
}

/* systemd socket activation of graceful-run itself: 1 adopted, 0 none. */
int
sockets_adopt(struct listeners *ls)
{
	size_t i;
	int rc;

	rc = sockets_adopt_env(ls, getenv("LISTEN_PID"), getenv("LISTEN_FDS"),
	    getenv("LISTEN_FDNAMES"), getpid());
	for (i = 0; rc == 1 && i < ls->n; i++) {
		if (sockets_adopt_one(&ls->v[i]) == -1) {
			ls->n = 0;
			return -1;
		}
	}
	return rc;
}

/* Close every socket; remove only the socket files this process made. */
void
sockets_release(struct listeners *ls)
{
	struct listener *l;
	struct stat st;
	size_t i;

	for (i = 0; i < ls->n; i++) {
		l = &ls->v[i];
		if (l->fd != -1)
			close(l->fd);
		l->fd = -1;
		if (l->unlink_path[0] != '\0' &&
		    lstat(l->unlink_path, &st) == 0 &&
		    st.st_dev == l->dev && st.st_ino == l->ino)
			unlink(l->unlink_path);
		l->unlink_path[0] = '\0';
	}
	ls->n = 0;
}
