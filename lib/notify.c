/*
 * The private NOTIFY_SOCKET of each generation: a datagram socket in a
 * directory only graceful-run's user can enter, one socket a generation, so
 * a message can only be credited to the generation it was given to; it is
 * closed and removed when that generation is gone.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "graceful-run.h"

#define NOTIFY_MSG_MAX 4096
#define NOTIFY_FDS_MAX 64

/* Room left in sun_path for "/" and a generation number. */
static char notify_dir[sizeof(((struct sockaddr_un *)0)->sun_path) - 12];

/*
 * With -u the children run as another user, who must reach the sockets:
 * the directory stays ours, its group theirs with search permission only,
 * in a base any user can enter (our XDG_RUNTIME_DIR or TMPDIR may not be).
 */
static int
notify_dir_share(const struct runas *ra)
{
	if (chown(notify_dir, getuid(), ra->gid) == -1 ||
	    chmod(notify_dir, 0710) == -1) {
		log_warn("notify directory %s", notify_dir);
		rmdir(notify_dir);
		notify_dir[0] = '\0';
		return -1;
	}
	return 0;
}

static int
notify_dir_try(const char *base)
{
	if (base == NULL || *base != '/')
		return -1;
	if ((size_t)snprintf(notify_dir, sizeof(notify_dir),
	    "%s/graceful-run.XXXXXX", base) >= sizeof(notify_dir) ||
	    mkdtemp(notify_dir) == NULL) {
		notify_dir[0] = '\0';
		return -1;
	}
	return 0;
}

/*
 * Where a daemon keeps such things: $XDG_RUNTIME_DIR, $TMPDIR, /run for
 * root, /tmp (with -u: /run, /tmp, $TMPDIR); the first one it can make the
 * directory in. Where none will do (a read-only /tmp in a hardened
 * container), the children get the ready pipe alone, and one line says so
 * once.
 */
int
notify_dir_create(void)
{
	const struct runas *ra = runas_user_of_children();
	static bool told;
	bool made;

	if (ra != NULL)
		made = notify_dir_try("/run") == 0 || notify_dir_try("/tmp") == 0 ||
		    notify_dir_try(getenv("TMPDIR")) == 0;
	else
		made = notify_dir_try(getenv("XDG_RUNTIME_DIR")) == 0 ||
		    notify_dir_try(getenv("TMPDIR")) == 0 ||
		    (geteuid() == 0 && notify_dir_try("/run") == 0) ||
		    notify_dir_try("/tmp") == 0;
	if (made)
		return ra != NULL ? notify_dir_share(ra) : 0;
	if (!told)
		log_warnx("no directory for notify sockets can be made "
		    "(%s): children get the ready pipe only", ra != NULL ?
		    "/run, /tmp, $TMPDIR" : geteuid() == 0 ?
		    "$XDG_RUNTIME_DIR, $TMPDIR, /run, /tmp" :
		    "$XDG_RUNTIME_DIR, $TMPDIR, /tmp");
	told = true;
	return -1;
}

void
notify_dir_remove(void)
{
	if (notify_dir[0] != '\0' && rmdir(notify_dir) == -1)
		log_warn("rmdir %s", notify_dir);
	notify_dir[0] = '\0';
}

int
notify_open(unsigned generation, char *path, size_t pathlen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	const struct runas *ra;
	int fd, on = 1;

	path[0] = '\0';
	if (notify_dir[0] == '\0' && notify_dir_create() == -1)
		return -1;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%u", notify_dir,
	    generation);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1) {
		log_warn("notify socket");
		return -1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)) == -1 ||
	    bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		log_warn("notify socket %s", sun.sun_path);
		close(fd);
		return -1;
	}
	/* Only the children's user may send: the socket is theirs, 0600. */
	if ((ra = runas_user_of_children()) != NULL &&
	    (chown(sun.sun_path, ra->uid, ra->gid) == -1 ||
	    chmod(sun.sun_path, 0600) == -1)) {
		log_warn("notify socket %s", sun.sun_path);
		close(fd);
		unlink(sun.sun_path);
		return -1;
	}
	strlcpy(path, sun.sun_path, pathlen);
	return fd;
}

void
notify_close(int fd, const char *path)
{
	if (fd != -1)
		close(fd);
	if (path[0] != '\0' && unlink(path) == -1 && errno != ENOENT)
		log_warn("unlink %s", path);
}

/* Passed fds (FDSTORE=1) are not ours to keep: close them at once. */
static bool
notify_take_control(struct msghdr *mh, struct ucred **cred)
{
	struct cmsghdr *c;
	int *fds;
	size_t i, n;
	bool had_fds = false;

	*cred = NULL;
	for (c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET)
			continue;
		if (c->cmsg_type == SCM_CREDENTIALS &&
		    c->cmsg_len == CMSG_LEN(sizeof(struct ucred)))
			*cred = (struct ucred *)(void *)CMSG_DATA(c);
		if (c->cmsg_type == SCM_RIGHTS) {
			fds = (int *)(void *)CMSG_DATA(c);
			n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (i = 0; i < n; i++)
				close(fds[i]);
			had_fds = true;
		}
	}
	return had_fds;
}

static void
notify_parse(char *text, struct notify_msg *msg)
{
	char *line, *p;

	for (line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
		if (strcmp(line, "READY=1") == 0)
			msg->ready = true;
		else if (strncmp(line, "STATUS=", 7) == 0) {
			strlcpy(msg->status, line + 7, sizeof(msg->status));
			for (p = msg->status; *p != '\0'; p++)
				if ((unsigned char)*p < ' ' || *p == 0x7f)
					*p = '?';
			msg->has_status = true;
		}
	}
}

/* 1: a message, 2: one dropped, 0: nothing left to read, -1: error. */
int
notify_recv(int fd, struct notify_msg *msg)
{
	char buf[NOTIFY_MSG_MAX + 1];
	union {
		struct cmsghdr align;
		char space[CMSG_SPACE(sizeof(struct ucred)) +
		    CMSG_SPACE(sizeof(int) * NOTIFY_FDS_MAX)];
	} control;
	struct iovec iov = { buf, sizeof(buf) - 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
	    .msg_control = &control, .msg_controllen = sizeof(control) };
	struct ucred *cred;
	ssize_t n;

	memset(msg, 0, sizeof(*msg));
	do
		n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		return errno == EAGAIN ? 0 : -1;
	if (notify_take_control(&mh, &cred))
		log_debug("notify: passed fds closed (no fd store here)");
	if ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0 || n == 0) {
		log_debug("notify: truncated or empty message dropped");
		return 2;
	}
	if (cred == NULL || (cred->uid != getuid() && cred->uid != 0 &&
	    !runas_is_child_uid(cred->uid))) {
		log_warnx("notify: message from uid %ld dropped",
		    cred != NULL ? (long)cred->uid : -1L);
		return 2;
	}
	buf[n] = '\0';
	msg->pid = cred->pid;
	notify_parse(buf, msg);
	return 1;
}
