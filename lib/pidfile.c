/*
 * -p FILE: the pid file, through libbsd's pidfile(3). It is opened and
 * locked before anything is bound, so a second graceful-run on the same
 * file fails at once and names the pid that holds it; the pid is written
 * once the sockets are bound; the file is removed on every way out.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libutil.h>
#include <unistd.h>

#include "graceful-run.h"

static struct pidfh *pidfile_handle;
static pid_t pidfile_owner;
static const char *pidfile_path;

int
pidfile_lock(const char *path)
{
	pid_t other = -1;
	int fd;

	pidfile_handle = pidfile_open(path, 0644, &other);
	if (pidfile_handle == NULL) {
		if (errno == EEXIST && other > 0)
			log_warnx("pid file %s: in use by pid %ld", path,
			    (long)other);
		else if (errno == EEXIST)
			log_warnx("pid file %s: locked by a process that has "
			    "not written its pid yet", path);
		else
			log_warn("pid file %s", path);
		return -1;
	}
	pidfile_owner = getpid();
	pidfile_path = path;
	/* The lock must not outlive us in a child. */
	fd = pidfile_fileno(pidfile_handle);
	if (fd != -1 && fcntl(fd, F_SETFD, FD_CLOEXEC) == -1) {
		log_warn("pid file %s", path);
		pidfile_cleanup();
		return -1;
	}
	return 0;
}

int
pidfile_publish(void)
{
	if (pidfile_handle == NULL)
		return 0;
	if (pidfile_write(pidfile_handle) == -1) {
		log_warn("pid file %s", pidfile_path);
		return -1;
	}
	return 0;
}

/* Safe to call more than once, and from exit handlers. */
void
pidfile_cleanup(void)
{
	if (pidfile_handle == NULL || pidfile_owner != getpid())
		return;
	if (pidfile_remove(pidfile_handle) == -1 && errno != ENOENT)
		log_warn("removing pid file %s", pidfile_path);
	pidfile_handle = NULL;
}
