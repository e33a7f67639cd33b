/*
 * bind() and listen(), replaced. A bind() on an address graceful-run holds
 * puts graceful-run's socket on the program's descriptor instead and
 * succeeds; a listen() on that socket succeeds without touching its
 * backlog. Every other call goes through as it came.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "preload.h"

#define EXPORT __attribute__((visibility("default")))

static int
bind_getint(int fd, int name, int *value)
{
	socklen_t len = sizeof(*value);

	return getsockopt(fd, SOL_SOCKET, name, value, &len);
}

/* The held socket this bind asks for, or NULL. */
static struct held_sock *
bind_find(int fd, const struct sockaddr *sa, socklen_t len)
{
	struct match_sock want = { .addr = sa, .len = len };
	int family, v6only = 0;
	socklen_t vlen = sizeof(v6only);
	size_t i;

	if (bind_getint(fd, SO_DOMAIN, &family) == -1 || family != sa->sa_family ||
	    bind_getint(fd, SO_TYPE, &want.type) == -1 ||
	    bind_getint(fd, SO_PROTOCOL, &want.protocol) == -1)
		return NULL;
	if (family == AF_INET6 &&
	    getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &vlen) == 0)
		want.v6only = v6only != 0;
	for (i = 0; i < held_count(); i++)
		if (match_bind(&held_at(i)->match, &want))
			return held_at(i);
	return NULL;
}

/*
 * The socket's O_NONBLOCK is shared by every generation and graceful-run;
 * it is set to what this program asked for on its own socket, since an
 * event loop that gets a blocking socket hangs in accept().
 */
static void
bind_set_nonblock(int priv, int wanted_flags)
{
	int fl = fcntl(priv, F_GETFL);

	if (fl != -1 && (fl & O_NONBLOCK) != (wanted_flags & O_NONBLOCK))
		(void)fcntl(priv, F_SETFL, (fl & ~O_NONBLOCK) |
		    (wanted_flags & O_NONBLOCK));
}

/* graceful-run's socket onto fd, with fd's close-on-exec flag kept. */
static int
bind_take(int fd, int priv)
{
	int fdflags = fcntl(fd, F_GETFD), flflags = fcntl(fd, F_GETFL);

	if (fdflags == -1 || flflags == -1)
		return -1;
	bind_set_nonblock(priv, flflags);
	if (real()->dup3(priv, fd, fdflags & FD_CLOEXEC ? O_CLOEXEC : 0) == -1)
		return -1;
	return 0;
}

/* Binds that are not worth a line: ports left to the kernel, autobind. */
static bool
bind_worth_saying(const struct sockaddr *sa, socklen_t len)
{
	if (sa->sa_family == AF_UNIX)
		return match_unix_named(sa, len);
	return (sa->sa_family == AF_INET || sa->sa_family == AF_INET6) &&
	    !match_port_zero(sa, len);
}

EXPORT int
bind(int fd, const struct sockaddr *sa, socklen_t len)
{
	int saved = errno, priv;
	struct held_sock *h;

	if (held_count() == 0 || sa == NULL || len < sizeof(sa->sa_family))
		return real()->bind(fd, sa, len);
	if ((h = bind_find(fd, sa, len)) == NULL) {
		if (bind_worth_saying(sa, len))
			say_unmatched(fd, sa, len, "not an address graceful-run "
			    "holds");
		errno = saved;
		return real()->bind(fd, sa, len);
	}
	if ((priv = held_fd(h)) == -1) {
		say_unmatched(fd, sa, len, "graceful-run holds it, but this "
		    "process did not inherit it");
		errno = saved;
		return real()->bind(fd, sa, len);
	}
	if (bind_take(fd, priv) == -1)
		return -1;
	errno = saved;
	return 0;
}

EXPORT int
listen(int fd, int backlog)
{
	int saved = errno, accepting;
	socklen_t len = sizeof(accepting);

	if (held_count() > 0 && held_by_fd(fd) != NULL &&
	    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) == 0 &&
	    accepting) {
		errno = saved;
		return 0;
	}
	errno = saved;
	return real()->listen(fd, backlog);
}
