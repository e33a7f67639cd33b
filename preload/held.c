/*
 * The sockets graceful-run holds, found again in every process image of
 * the generation. graceful-run names them in GRACEFUL_RUN_TAKEOVER_FDS as
 * "FD:INODE,...": the descriptor the first process gets each at, and the
 * socket's inode, which identifies it wherever it is. An image whose
 * descriptor no longer holds that socket (the program moved or reused it)
 * finds it among its other descriptors, by inode.
 *
 * Each socket found gets a private duplicate, close-on-exec and at a high
 * number, made before the program's main() runs: a daemon that closes
 * every descriptor it does not know, or a program that marks them all
 * close-on-exec (node), cannot take them from the library. The duplicates
 * do not survive exec; the next image finds the sockets again as above.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "preload.h"

/* Private duplicates go this far below the usual 1024 descriptor limit. */
#define HELD_HEADROOM 16

static struct held_sock held[PRELOAD_MAX_HELD];
static size_t nheld;
static int lowest_private = INT_MAX;
static bool any_file;		/* some held socket has a file */

size_t
held_count(void)
{
	return nheld;
}

struct held_sock *
held_at(size_t i)
{
	return &held[i];
}

/* Where private duplicates start: high, yet below the limit most run at. */
static int
held_base(size_t wanted)
{
	struct rlimit rl;
	rlim_t limit = 1024;
	long base;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < limit)
		limit = rl.rlim_cur;
	base = (long)limit - (long)wanted - HELD_HEADROOM;
	return base < 10 ? 10 : (int)base;
}

static void
held_update_lowest(void)
{
	size_t i;

	lowest_private = INT_MAX;
	for (i = 0; i < nheld; i++)
		if (held[i].fd != -1 && held[i].fd < lowest_private)
			lowest_private = held[i].fd;
}

static bool
held_is_inode(int fd, ino_t ino)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_ino == ino;
}

static int
held_getint(int fd, int level, int name, int *value)
{
	socklen_t len = sizeof(*value);

	return getsockopt(fd, level, name, value, &len);
}

/* What bind() is matched against: type, protocol, address, v6only. */
static int
held_describe(struct held_sock *h, int fd)
{
	socklen_t len = sizeof(h->addr);
	int family, v6only = 0;
	struct stat st;

	if (held_getint(fd, SOL_SOCKET, SO_TYPE, &h->match.type) == -1 ||
	    held_getint(fd, SOL_SOCKET, SO_PROTOCOL, &h->match.protocol) == -1 ||
	    held_getint(fd, SOL_SOCKET, SO_DOMAIN, &family) == -1 ||
	    getsockname(fd, (struct sockaddr *)&h->addr, &len) == -1)
		return -1;
	if (family == AF_INET6 &&
	    held_getint(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only) == -1)
		return -1;
	h->match.v6only = v6only != 0;
	h->match.addr = (const struct sockaddr *)&h->addr;
	h->match.len = len;
	/* Its file, so that the program's unlink() of it can be refused. */
	if (family == AF_UNIX && match_unix_named(h->match.addr, len) &&
	    ((struct sockaddr_un *)&h->addr)->sun_path[0] != '\0' &&
	    stat(((struct sockaddr_un *)&h->addr)->sun_path, &st) == 0 &&
	    S_ISSOCK(st.st_mode)) {
		h->has_file = any_file = true;
		h->file_dev = st.st_dev;
		h->file_ino = st.st_ino;
	}
	return 0;
}

static void
held_add(int fd, ino_t ino, size_t wanted)
{
	struct held_sock *h = &held[nheld];
	int priv;

	memset(h, 0, sizeof(*h));
	priv = fcntl(fd, F_DUPFD_CLOEXEC, held_base(wanted));
	if (priv == -1)
		priv = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (priv == -1)
		return;
	if (held_describe(h, priv) == -1) {
		real()->close(priv);
		return;
	}
	h->ino = ino;
	h->fd = priv;
	nheld++;
	held_update_lowest();
}

static bool
held_known(ino_t ino)
{
	size_t i;

	for (i = 0; i < nheld; i++)
		if (held[i].ino == ino)
			return true;
	return false;
}

/* The sockets not at their named descriptors, looked for among all. */
static void
held_scan(const ino_t *missing, size_t nmissing, size_t wanted)
{
	struct dirent *de;
	struct stat st;
	size_t i;
	DIR *d;
	int fd;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return;
	while ((de = readdir(d)) != NULL && nheld < PRELOAD_MAX_HELD) {
		fd = atoi(de->d_name);
		if (de->d_name[0] < '0' || de->d_name[0] > '9' ||
		    fd == dirfd(d) || fstat(fd, &st) == -1 ||
		    !S_ISSOCK(st.st_mode) || held_known(st.st_ino))
			continue;
		for (i = 0; i < nmissing; i++)
			if (missing[i] == st.st_ino) {
				held_add(fd, st.st_ino, wanted);
				break;
			}
	}
	closedir(d);
}

/* "FD:INODE" at *p; advances p past it and its comma. */
static bool
held_parse_entry(const char **p, long *fd, ino_t *ino)
{
	char *end;

	errno = 0;
	*fd = strtol(*p, &end, 10);
	if (end == *p || *end != ':' || *fd < 0 || *fd > INT_MAX)
		return false;
	*p = end + 1;
	*ino = (ino_t)strtoull(*p, &end, 10);
	if (end == *p || (*end != ',' && *end != '\0') || errno != 0)
		return false;
	*p = *end == ',' ? end + 1 : end;
	return true;
}

static void
held_init(void)
{
	static ino_t missing[PRELOAD_MAX_HELD];
	const char *env = getenv(PRELOAD_ENV_FDS), *p;
	size_t nmissing = 0, wanted = 0;
	ino_t ino;
	long fd;

	if (env == NULL)
		return;
	for (p = env; *p != '\0' && held_parse_entry(&p, &fd, &ino);)
		wanted++;
	for (p = env; *p != '\0' && nheld < PRELOAD_MAX_HELD &&
	    held_parse_entry(&p, &fd, &ino);) {
		if (held_known(ino))
			continue;
		if (held_is_inode((int)fd, ino))
			held_add((int)fd, ino, wanted);
		else if (nmissing < PRELOAD_MAX_HELD)
			missing[nmissing++] = ino;
	}
	if (nmissing > 0)
		held_scan(missing, nmissing, wanted);
}

__attribute__((constructor)) static void
held_constructor(void)
{
	int saved = errno;

	held_init();
	errno = saved;
}

/* The private duplicate, if it is still the socket. */
int
held_fd(struct held_sock *h)
{
	if (h->fd != -1 && !held_is_inode(h->fd, h->ino)) {
		h->fd = -1;
		held_update_lowest();
	}
	return h->fd;
}

/* The held socket that fd is (at any descriptor), or NULL. */
struct held_sock *
held_by_fd(int fd)
{
	struct stat st;
	size_t i;

	if (nheld == 0 || fstat(fd, &st) == -1 || !S_ISSOCK(st.st_mode))
		return NULL;
	for (i = 0; i < nheld; i++)
		if (held[i].ino == st.st_ino)
			return &held[i];
	return NULL;
}

bool
held_is_private(int fd)
{
	size_t i;

	if (fd < lowest_private)
		return false;
	for (i = 0; i < nheld; i++)
		if (held[i].fd == fd)
			return true;
	return false;
}

/* The program is about to dup2() onto a private duplicate: move it away. */
void
held_move_private(int fd)
{
	int saved = errno, moved;
	size_t i;

	for (i = 0; i < nheld; i++) {
		if (held[i].fd != fd)
			continue;
		moved = fcntl(fd, F_DUPFD_CLOEXEC, held_base(nheld));
		if (moved == -1 || moved == fd)
			moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		held[i].fd = moved;
	}
	held_update_lowest();
	errno = saved;
}

/* Whether path names the file of a held unix socket. */
bool
held_is_socket_file(int dirfd, const char *path)
{
	struct stat st;
	size_t i;
	int saved = errno;
	bool found = false;

	if (!any_file || path == NULL)
		return false;
	if (fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISSOCK(st.st_mode))
		for (i = 0; i < nheld && !found; i++)
			found = held[i].has_file && held[i].file_dev == st.st_dev &&
			    held[i].file_ino == st.st_ino;
	errno = saved;
	return found;
}
