/*
 * Orphans: processes a generation started that were reparented to
 * graceful-run, the child subreaper (a daemon that forked and setsid, a
 * worker whose master died). The kernel tells nobody when it reparents, so
 * graceful-run looks at its own children under /proc when something
 * happened that can have made new ones: a child of its was reaped, or a
 * generation is being stopped. An orphan's generation is read from the
 * environment it inherited (GRACEFUL_RUN_GENERATION); one that cleared it
 * belongs to nobody and is stopped when graceful-run leaves.
 */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "graceful-run.h"

#define GEN_VAR "GRACEFUL_RUN_GENERATION="

static ssize_t
orphans_read(int fd, char *buf, size_t len)
{
	ssize_t n;

	do
		n = read(fd, buf, len);
	while (n == -1 && errno == EINTR);
	return n;
}

/* Fields of /proc/PID/stat after the command name, which may hold ')'. */
int
orphans_stat(pid_t pid, pid_t *ppid, pid_t *pgrp)
{
	char path[64], buf[1024], *p;
	long pp, pg;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = orphans_read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 1, " %*c %ld %ld", &pp, &pg) != 2)
		return -1;
	*ppid = (pid_t)pp;
	*pgrp = (pid_t)pg;
	return 0;
}

/*
 * The generation a process's environment names, 0 for none. The
 * environment is read in chunks: graceful-run's variables come last, after
 * whatever the user's environment holds.
 */
unsigned
orphans_generation(pid_t pid)
{
	char path[64], buf[4096], entry[sizeof(GEN_VAR) + 10];
	size_t have = 0, i;
	unsigned long gen = 0;
	bool found = false;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/environ", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	while (!found && (n = orphans_read(fd, buf, sizeof(buf))) > 0) {
		for (i = 0; i < (size_t)n && !found; i++) {
			if (buf[i] != '\0') {
				if (have < sizeof(entry) - 1)
					entry[have++] = buf[i];
				continue;
			}
			entry[have] = '\0';
			have = 0;
			if (strncmp(entry, GEN_VAR, strlen(GEN_VAR)) == 0) {
				gen = strtoul(entry + strlen(GEN_VAR), NULL, 10);
				found = true;
			}
		}
	}
	close(fd);
	return found && gen <= UINT32_MAX ? (unsigned)gen : 0;
}

/* graceful-run's children, from /proc/self/task/TID/children. */
static size_t
orphans_children_fast(pid_t *out, size_t max, bool *ok)
{
	char path[64], buf[8192], *p, *end;
	size_t n = 0;
	ssize_t len;
	long pid;
	int fd;

	*ok = false;
	snprintf(path, sizeof(path), "/proc/self/task/%ld/children",
	    (long)getpid());
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	len = orphans_read(fd, buf, sizeof(buf) - 1);
	close(fd);
	/* A full buffer may have been cut: the slow way is exact. */
	if (len < 0 || (size_t)len == sizeof(buf) - 1)
		return 0;
	buf[len] = '\0';
	for (p = buf; n < max; p = end) {
		pid = strtol(p, &end, 10);
		if (end == p)
			break;
		out[n++] = (pid_t)pid;
	}
	*ok = true;
	return n;
}

/* The same by reading every /proc/PID/stat: for kernels without it. */
static size_t
orphans_children_slow(pid_t *out, size_t max)
{
	pid_t self = getpid(), ppid, pgrp;
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	if ((d = opendir("/proc")) == NULL) {
		log_warn("opendir /proc");
		return 0;
	}
	while (n < max && (de = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		if (orphans_stat((pid_t)atol(de->d_name), &ppid, &pgrp) == 0 &&
		    ppid == self)
			out[n++] = (pid_t)atol(de->d_name);
	}
	closedir(d);
	return n;
}

/* Up to max of graceful-run's children, as the kernel has them now. */
size_t
orphans_children(pid_t *out, size_t max)
{
	bool ok;
	size_t n = orphans_children_fast(out, max, &ok);

	return ok ? n : orphans_children_slow(out, max);
}
