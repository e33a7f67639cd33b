/*
 * What a program does that would take the held sockets from the library:
 * closing every descriptor (daemons, at start), dup2() onto a number the
 * library uses, unlinking a socket file graceful-run made (a server that
 * removes its socket before bind, or at exit, would cut the path off for
 * every other generation). The private duplicates survive the first two;
 * the socket file, the last. Everything else goes through untouched.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "preload.h"

#define EXPORT __attribute__((visibility("default")))

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* close_range(2) on one stretch without a private duplicate in it. */
static int
guard_close_stretch(unsigned int lo, unsigned int hi, int flags)
{
	unsigned long long fd, top = hi;
	struct rlimit rl;
	long rc;

	if (real()->close_range != NULL)
		rc = real()->close_range(lo, hi, flags);
	else
		rc = syscall(SYS_close_range, lo, hi, flags);
	if (rc == 0 || errno != ENOSYS)
		return rc == 0 ? 0 : -1;
	/* A kernel before 5.9: one descriptor at a time, up to the limit. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur <= top)
		top = rl.rlim_cur - 1;
	for (fd = lo; fd <= top; fd++)
		if ((unsigned int)flags & CLOSE_RANGE_CLOEXEC)
			(void)fcntl((int)fd, F_SETFD, FD_CLOEXEC);
		else
			(void)real()->close((int)fd);
	return 0;
}

/* The private duplicates in [lo, hi], ascending. */
static size_t
guard_privates(unsigned int lo, unsigned int hi, unsigned int *out)
{
	size_t n = 0, i, j;
	unsigned int fd, t;

	for (i = 0; i < held_count(); i++) {
		if (held_at(i)->fd < 0)
			continue;
		fd = (unsigned int)held_at(i)->fd;
		if (fd < lo || fd > hi)
			continue;
		for (j = n++; j > 0 && out[j - 1] > fd; j--) {
			t = out[j - 1];
			out[j - 1] = fd;
			fd = t;
		}
		out[j] = fd;
	}
	return n;
}

static int
guard_close_range(unsigned int first, unsigned int last, int flags)
{
	unsigned int skip[PRELOAD_MAX_HELD], lo = first;
	size_t n, i;

	/* Close-on-exec is what the duplicates have already. */
	if ((unsigned int)flags & CLOSE_RANGE_CLOEXEC || first > last)
		return guard_close_stretch(first, last, flags);
	n = guard_privates(first, last, skip);
	for (i = 0; i < n; i++) {
		if (skip[i] > lo && guard_close_stretch(lo, skip[i] - 1,
		    flags) == -1)
			return -1;
		lo = skip[i] + 1;
	}
	if (n > 0 && skip[n - 1] == last)
		return 0;
	return guard_close_stretch(lo, last, flags);
}

EXPORT int
close(int fd)
{
	if (held_is_private(fd))
		return 0;
	return real()->close(fd);
}

EXPORT int
close_range(unsigned int first, unsigned int last, int flags)
{
	return guard_close_range(first, last, flags);
}

EXPORT void
closefrom(int lowfd)
{
	int saved = errno;

	if (lowfd < 0)
		lowfd = 0;
	(void)guard_close_range((unsigned int)lowfd, ~0U, 0);
	errno = saved;
}

EXPORT int
dup2(int oldfd, int newfd)
{
	if (oldfd != newfd && held_is_private(newfd))
		held_move_private(newfd);
	return real()->dup2(oldfd, newfd);
}

EXPORT int
dup3(int oldfd, int newfd, int flags)
{
	if (oldfd != newfd && held_is_private(newfd))
		held_move_private(newfd);
	return real()->dup3(oldfd, newfd, flags);
}

EXPORT int
unlink(const char *path)
{
	if (held_is_socket_file(AT_FDCWD, path))
		return 0;
	return real()->unlink(path);
}

EXPORT int
unlinkat(int dirfd, const char *path, int flags)
{
	if ((flags & AT_REMOVEDIR) == 0 && held_is_socket_file(dirfd, path))
		return 0;
	return real()->unlinkat(dirfd, path, flags);
}

EXPORT int
remove(const char *path)
{
	if (held_is_socket_file(AT_FDCWD, path))
		return 0;
	return real()->remove(path);
}
