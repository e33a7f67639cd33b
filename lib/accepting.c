/*
 * Whether a starting generation accepts on one of the shared sockets, as
 * the kernel shows it under /proc: a thread blocked in accept() or recv()
 * on one, a pollfd array or select() set naming one, or one registered in
 * an epoll instance. A socket is known by its inode, whatever fd number
 * the child moved it to.
 *
 * This runs every few milliseconds while a generation starts, so it opens
 * only what it needs, reads into fixed buffers and keeps nothing between
 * calls. It needs to read other processes' /proc/PID/syscall and mem,
 * which the kernel allows only to a tracer (same user, dumpable; or
 * CAP_SYS_PTRACE), and a /proc of graceful-run's own pid namespace; where
 * it cannot, it says so and the caller decides without it.
 */
#include "config.h"

#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "graceful-run.h"

/* Per process, how many fds on a shared socket and epoll fds are noted. */
#define ACC_SHARED_MAX 64
#define ACC_EPOLL_MAX 16
/* Bounds on what one look reads from another process. */
#define ACC_POLLFD_MAX 4096
#define ACC_FDINFO_MAX (256 * 1024)
#define ULONG_BITS (CHAR_BIT * sizeof(unsigned long))

struct acc_socket {
	dev_t dev;
	ino_t ino;
};

/* One look: what is sought, and what stood in the way. */
struct acc_scan {
	struct acc_socket socks[MAX_LISTENERS];
	size_t nsocks;
	char *how;
	size_t howlen;
	bool blind;		/* something could not be read */
};

/* One process of the generation, as far as its fd table goes. */
struct acc_proc {
	pid_t pid;
	int dirfd;		/* /proc/PID */
	int memfd;		/* /proc/PID/mem, opened on first need */
	size_t nshared;
	struct {
		int fd;		/* its number in that process */
		size_t sock;	/* index into the listeners */
	} shared[ACC_SHARED_MAX];
	size_t nepoll;
	int epoll[ACC_EPOLL_MAX];
};

static void acc_say(struct acc_scan *, const char *, ...) PRINTFLIKE(2, 3);

static void
acc_say(struct acc_scan *sc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sc->how, sc->howlen, fmt, ap);
	va_end(ap);
}

/* The process is gone (or going): not a reason to fall back. */
static bool
acc_vanished(int errnum)
{
	return errnum == ENOENT || errnum == ESRCH;
}

/* Remember the first thing that could not be read, for the log. */
static void
acc_blind(struct acc_scan *sc, pid_t pid, const char *what, int errnum)
{
	if (acc_vanished(errnum) || sc->blind)
		return;
	sc->blind = true;
	acc_say(sc, "/proc/%ld/%s: %s", (long)pid, what, strerror(errnum));
}

/* Reads up to len - 1 bytes of a small /proc file into buf, NUL-ended. */
static ssize_t
acc_read_small(int dirfd, const char *path, char *buf, size_t len)
{
	ssize_t n, got = 0;
	int fd, saved;

	if ((fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	while ((size_t)got < len - 1) {
		n = read(fd, buf + got, len - 1 - (size_t)got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			saved = errno;
			close(fd);
			errno = saved;
			return -1;
		}
		if (n == 0)
			break;
		got += n;
	}
	close(fd);
	buf[got] = '\0';
	return got;
}

static int
acc_load_sockets(struct acc_scan *sc, const struct listeners *ls)
{
	struct stat st;
	size_t i;

	for (i = 0; i < ls->n && i < MAX_LISTENERS; i++) {
		if (fstat(ls->v[i].fd, &st) == -1) {
			acc_say(sc, "fstat %s: %s", ls->v[i].addr,
			    strerror(errno));
			return -1;
		}
		sc->socks[i].dev = st.st_dev;
		sc->socks[i].ino = st.st_ino;
	}
	sc->nsocks = i;
	return 0;
}

/* Which shared socket has this inode; -1 when none. */
static ssize_t
acc_socket_index(const struct acc_scan *sc, unsigned long long ino,
    const dev_t *dev)
{
	size_t i;

	for (i = 0; i < sc->nsocks; i++)
		if (sc->socks[i].ino == ino &&
		    (dev == NULL || sc->socks[i].dev == *dev))
			return (ssize_t)i;
	return -1;
}

/* /proc must be of our own pid namespace, with per-thread syscall files. */
static bool
accepting_proc_usable(struct acc_scan *sc)
{
	static int has_syscall = -1;
	char link[32];
	ssize_t n;
	long pid;

	if ((n = readlink("/proc/self", link, sizeof(link) - 1)) == -1) {
		acc_say(sc, "/proc/self: %s", strerror(errno));
		return false;
	}
	link[n] = '\0';
	pid = strtol(link, NULL, 10);
	if (pid != (long)getpid()) {
		acc_say(sc, "/proc is of another pid namespace");
		return false;
	}
	if (has_syscall == -1)
		has_syscall = access("/proc/self/syscall", R_OK) == 0;
	if (!has_syscall) {
		acc_say(sc, "this kernel has no /proc/PID/syscall");
		return false;
	}
	return true;
}

/* Note the fds on a shared socket and the epoll fds of one process. */
static int
acc_list_fds(struct acc_scan *sc, struct acc_proc *p)
{
	char target[64];
	struct dirent *d;
	ssize_t n, sock;
	DIR *dir;
	long fd;
	int dfd;

	if ((dfd = openat(p->dirfd, "fd", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1 || (dir = fdopendir(dfd)) == NULL) {
		acc_blind(sc, p->pid, "fd", errno);
		if (dfd != -1)
			close(dfd);
		return -1;
	}
	while ((d = readdir(dir)) != NULL) {
		if (!isdigit((unsigned char)d->d_name[0]))
			continue;
		fd = strtol(d->d_name, NULL, 10);
		n = readlinkat(dfd, d->d_name, target, sizeof(target) - 1);
		if (n == -1)
			continue;
		target[n] = '\0';
		if (strcmp(target, "anon_inode:[eventpoll]") == 0) {
			if (p->nepoll < ACC_EPOLL_MAX)
				p->epoll[p->nepoll++] = (int)fd;
		} else if (strncmp(target, "socket:[", 8) == 0 &&
		    (sock = acc_socket_index(sc, strtoull(target + 8, NULL,
		    10), NULL)) != -1 && p->nshared < ACC_SHARED_MAX) {
			p->shared[p->nshared].fd = (int)fd;
			p->shared[p->nshared++].sock = (size_t)sock;
		}
	}
	closedir(dir);
	return 0;
}

/* The shared socket behind fd in that process; -1 when it is not one. */
static ssize_t
acc_shared(const struct acc_proc *p, unsigned long long fd)
{
	size_t i;

	for (i = 0; i < p->nshared; i++)
		if ((unsigned long long)p->shared[i].fd == fd)
			return (ssize_t)p->shared[i].sock;
	return -1;
}

static int
acc_found(struct acc_scan *sc, const struct acc_proc *p, pid_t tid,
    const char *verb, size_t sock, const char *via)
{
	acc_say(sc, "%s on fd %d%s%s", verb, FIRST_LISTEN_FD + (int)sock,
	    via[0] != '\0' ? " via " : "", via);
	log_debug("accepting: pid %ld (thread %ld): %s", (long)p->pid,
	    (long)tid, sc->how);
	return 1;
}

/*
 * One "tfd: N events: E data: D pos:P ino:I sdev:S" line of an epoll fd's
 * fdinfo (inode and device in hex, the device as the kernel encodes it).
 */
static ssize_t
acc_epoll_line(const struct acc_scan *sc, const char *line)
{
	unsigned long long ino;
	unsigned int events, sdev;
	dev_t dev;
	int tfd;

	if (sscanf(line, "tfd: %d events: %x data: %*x pos:%*d ino:%llx "
	    "sdev:%x", &tfd, &events, &ino, &sdev) != 4)
		return -1;
	if ((events & (EPOLLIN | EPOLLRDNORM)) == 0)
		return -1;
	dev = makedev(sdev >> 20, sdev & 0xfffff);
	return acc_socket_index(sc, ino, &dev);
}

/* Scan an epoll fd's target list, a bounded chunk at a time. */
static int
acc_check_epoll(struct acc_scan *sc, struct acc_proc *p, int epfd)
{
	char path[40], buf[4096], *line, *nl;
	size_t have = 0, total = 0;
	ssize_t n, sock;
	int fd;

	snprintf(path, sizeof(path), "fdinfo/%d", epfd);
	if ((fd = openat(p->dirfd, path, O_RDONLY | O_CLOEXEC)) == -1) {
		acc_blind(sc, p->pid, path, errno);
		return 0;
	}
	while (total < ACC_FDINFO_MAX) {
		n = read(fd, buf + have, sizeof(buf) - 1 - have);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		total += (size_t)n;
		have += (size_t)n;
		buf[have] = '\0';
		for (line = buf; (nl = strchr(line, '\n')) != NULL;
		    line = nl + 1) {
			*nl = '\0';
			if ((sock = acc_epoll_line(sc, line)) != -1) {
				close(fd);
				return acc_found(sc, p, p->pid, "accepting",
				    (size_t)sock, "epoll");
			}
		}
		/* Keep a partial line; a line longer than buf is dropped. */
		have = line == buf && have == sizeof(buf) - 1 ? 0 :
		    have - (size_t)(line - buf);
		memmove(buf, line, have);
	}
	close(fd);
	return 0;
}

/* pread from the other process's memory; false when it cannot be had. */
static bool
acc_peek(struct acc_scan *sc, struct acc_proc *p, unsigned long long addr,
    void *buf, size_t len)
{
	ssize_t n;

	if (addr > (unsigned long long)INT64_MAX - len)
		return false;
	if (p->memfd == -1 &&
	    (p->memfd = openat(p->dirfd, "mem", O_RDONLY | O_CLOEXEC)) == -1) {
		acc_blind(sc, p->pid, "mem", errno);
		return false;
	}
	do
		n = pread(p->memfd, buf, len, (off_t)addr);
	while (n == -1 && errno == EINTR);
	if (n == -1 && (errno == EACCES || errno == EPERM))
		acc_blind(sc, p->pid, "mem", errno);
	return n == (ssize_t)len;
}

/* poll/ppoll(fds, nfds, ...): a pollfd asking for input on a shared socket. */
static int
acc_check_poll(struct acc_scan *sc, struct acc_proc *p, pid_t tid,
    unsigned long long addr, unsigned long long nfds)
{
	struct pollfd v[128];
	size_t i, k, chunk;
	ssize_t sock;

	if (nfds > ACC_POLLFD_MAX)
		nfds = ACC_POLLFD_MAX;
	for (i = 0; i < nfds; i += chunk) {
		chunk = nfds - i < 128 ? (size_t)(nfds - i) : 128;
		if (!acc_peek(sc, p, addr + i * sizeof(v[0]), v,
		    chunk * sizeof(v[0])))
			return 0;
		for (k = 0; k < chunk; k++)
			if (v[k].fd >= 0 && (v[k].events & (POLLIN |
			    POLLRDNORM)) != 0 &&
			    (sock = acc_shared(p, (unsigned)v[k].fd)) != -1)
				return acc_found(sc, p, tid, "accepting",
				    (size_t)sock, "poll");
	}
	return 0;
}

/* select/pselect6(nfds, readfds, ...): a shared socket's bit in readfds. */
static int
acc_check_select(struct acc_scan *sc, struct acc_proc *p, pid_t tid,
    unsigned long long nfds, unsigned long long readfds)
{
	unsigned long word;
	size_t i;
	int fd;

	if (readfds == 0)
		return 0;
	for (i = 0; i < p->nshared; i++) {
		fd = p->shared[i].fd;
		if ((unsigned long long)fd >= nfds ||
		    !acc_peek(sc, p, readfds + fd / ULONG_BITS * sizeof(word),
		    &word, sizeof(word)))
			continue;
		if ((word >> (fd % ULONG_BITS)) & 1UL)
			return acc_found(sc, p, tid, "accepting",
			    p->shared[i].sock, "select");
	}
	return 0;
}

/* What a thread blocked in syscall nr with args a[] is waiting for. */
static int
acc_check_syscall(struct acc_scan *sc, struct acc_proc *p, pid_t tid,
    long nr, const unsigned long long *a)
{
	ssize_t sock;

	switch (nr) {
#ifdef SYS_accept
	case SYS_accept:
#endif
	case SYS_accept4:
		if ((sock = acc_shared(p, a[0])) != -1)
			return acc_found(sc, p, tid, "accepting",
			    (size_t)sock, "");
		return 0;
#ifdef SYS_recv
	case SYS_recv:
#endif
#ifdef SYS_read
	case SYS_read:
#endif
#ifdef SYS_recvmmsg
	case SYS_recvmmsg:
#endif
	case SYS_recvfrom:
	case SYS_recvmsg:
		/* Only a datagram socket can block here: a listener fails. */
		if ((sock = acc_shared(p, a[0])) != -1)
			return acc_found(sc, p, tid, "receiving",
			    (size_t)sock, "");
		return 0;
#ifdef SYS_poll
	case SYS_poll:
#endif
	case SYS_ppoll:
		return acc_check_poll(sc, p, tid, a[0], a[1]);
#ifdef SYS_select
	case SYS_select:
#endif
	case SYS_pselect6:
		return acc_check_select(sc, p, tid, a[0], a[1]);
	default:
		return 0;
	}
}

/* "NR 0xA1 ... 0xA6 0xSP 0xPC", "-1 0xSP 0xPC" or "running". */
static int
acc_check_thread(struct acc_scan *sc, struct acc_proc *p, int taskfd,
    long tid)
{
	char path[48], line[256], *s, *end;
	unsigned long long a[6];
	long nr;
	size_t i;

	snprintf(path, sizeof(path), "%ld/syscall", tid);
	if (acc_read_small(taskfd, path, line, sizeof(line)) == -1) {
		snprintf(path, sizeof(path), "task/%ld/syscall", tid);
		acc_blind(sc, p->pid, path, errno);
		return 0;
	}
	nr = strtol(line, &end, 10);
	if (end == line || nr < 0)
		return 0;
	for (i = 0, s = end; i < 6; i++, s = end) {
		a[i] = strtoull(s, &end, 16);
		if (end == s)
			return 0;
	}
	return acc_check_syscall(sc, p, (pid_t)tid, nr, a);
}

static int
acc_check_threads(struct acc_scan *sc, struct acc_proc *p)
{
	struct dirent *d;
	int taskfd, found = 0;
	DIR *dir;

	if ((taskfd = openat(p->dirfd, "task", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1 || (dir = fdopendir(taskfd)) == NULL) {
		acc_blind(sc, p->pid, "task", errno);
		if (taskfd != -1)
			close(taskfd);
		return 0;
	}
	while (!found && (d = readdir(dir)) != NULL)
		if (isdigit((unsigned char)d->d_name[0]))
			found = acc_check_thread(sc, p, taskfd,
			    strtol(d->d_name, NULL, 10));
	closedir(dir);
	return found;
}

static int
acc_check_process(struct acc_scan *sc, pid_t pid)
{
	struct acc_proc p = { .pid = pid, .memfd = -1 };
	char path[32];
	int found = 0;
	size_t i;

	snprintf(path, sizeof(path), "/proc/%ld", (long)pid);
	if ((p.dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		acc_blind(sc, pid, ".", errno);
		return 0;
	}
	if (acc_list_fds(sc, &p) == 0) {
		for (i = 0; !found && i < p.nepoll; i++)
			found = acc_check_epoll(sc, &p, p.epoll[i]);
		if (!found && p.nshared > 0)
			found = acc_check_threads(sc, &p);
	}
	if (p.memfd != -1)
		close(p.memfd);
	close(p.dirfd);
	return found;
}

/* Every process of the group, found by its pgid in a walk of /proc. */
static int
acc_check_group(struct acc_scan *sc, pid_t pgid)
{
	struct dirent *d;
	int found = 0;
	DIR *dir;
	long pid;

	if ((dir = opendir("/proc")) == NULL) {
		acc_say(sc, "/proc: %s", strerror(errno));
		sc->blind = true;
		return 0;
	}
	while (!found && (d = readdir(dir)) != NULL) {
		if (!isdigit((unsigned char)d->d_name[0]))
			continue;
		pid = strtol(d->d_name, NULL, 10);
		if (pid > 0 && pid <= INT_MAX && getpgid((pid_t)pid) == pgid)
			found = acc_check_process(sc, (pid_t)pid);
	}
	closedir(dir);
	return found;
}

int
accepting_check(pid_t pgid, const pid_t *extra, size_t nextra,
    const struct listeners *ls, char *how, size_t howlen)
{
	struct acc_scan sc = { .how = how, .howlen = howlen };
	size_t i;

	if (howlen > 0)
		how[0] = '\0';
	if (acc_load_sockets(&sc, ls) == -1 || !accepting_proc_usable(&sc))
		return ACCEPTING_CANNOT_SEE;
	if (pgid > 1 && acc_check_group(&sc, pgid))
		return ACCEPTING_YES;
	for (i = 0; i < nextra; i++)
		if (extra[i] > 1 && (pgid <= 1 || getpgid(extra[i]) != pgid) &&
		    acc_check_process(&sc, extra[i]))
			return ACCEPTING_YES;
	return sc.blind ? ACCEPTING_CANNOT_SEE : ACCEPTING_NOT_YET;
}
