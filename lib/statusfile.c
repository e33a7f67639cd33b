/*
 * --status-file FILE: the JSON status, replaced whenever it changes. The
 * loop calls statusfile_update after every round of events; the file is
 * rewritten only when the text differs (it holds no ages, so time alone
 * changes nothing). A temporary file in the same directory renamed over
 * the old one means a reader sees the old object or the new one, never a
 * mix. There is no fsync: the file describes a running process and means
 * nothing after a crash, so durability is not worth blocking the loop.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "graceful-run.h"

static struct {
	char path[1024];
	char tmpl[1100];	/* "DIR/.NAME.XXXXXX" */
	char *last;		/* what the file holds */
	bool failing;		/* the last write failed (and was logged) */
	pid_t owner;
} sf;

static int
statusfile_write_all(int fd, const char *text, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, text, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		text += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
statusfile_replace(const char *text)
{
	char tmp[sizeof(sf.tmpl)];
	int fd, saved;

	strlcpy(tmp, sf.tmpl, sizeof(tmp));
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1)
		return -1;
	if (fchmod(fd, 0644) == -1 ||
	    statusfile_write_all(fd, text, strlen(text)) == -1) {
		saved = errno;
		close(fd);
		unlink(tmp);
		errno = saved;
		return -1;
	}
	if (close(fd) == -1 || rename(tmp, sf.path) == -1) {
		saved = errno;
		unlink(tmp);
		errno = saved;
		return -1;
	}
	return 0;
}

/* Checked at start, so a bad path is a start-up failure, not a warning. */
int
statusfile_init(const char *path)
{
	char copy[sizeof(sf.path)], *dir, *base;
	int fd;

	if (strlcpy(sf.path, path, sizeof(sf.path)) >= sizeof(sf.path) ||
	    *path == '\0') {
		log_warnx("status file \"%s\": empty or too long", path);
		return -1;
	}
	strlcpy(copy, path, sizeof(copy));
	dir = dirname(copy);
	snprintf(sf.tmpl, sizeof(sf.tmpl), "%s/", dir);
	strlcpy(copy, path, sizeof(copy));
	base = basename(copy);
	strlcat(sf.tmpl, ".", sizeof(sf.tmpl));
	strlcat(sf.tmpl, base, sizeof(sf.tmpl));
	if (strlcat(sf.tmpl, ".XXXXXX", sizeof(sf.tmpl)) >= sizeof(sf.tmpl)) {
		log_warnx("status file \"%s\": path too long", path);
		return -1;
	}
	strlcpy(copy, sf.tmpl, sizeof(copy));
	if ((fd = mkostemp(copy, O_CLOEXEC)) == -1) {
		log_warn("status file %s", path);
		return -1;
	}
	close(fd);
	unlink(copy);
	sf.owner = getpid();
	return 0;
}

void
statusfile_update(struct supervisor *sv)
{
	char *text;

	if (sf.owner == 0)
		return;
	if (status_format(sv, true, false, &text) == -1) {
		log_warnx("status file %s: no memory", sf.path);
		return;
	}
	if (sf.last != NULL && strcmp(sf.last, text) == 0) {
		free(text);
		return;
	}
	if (statusfile_replace(text) == -1) {
		if (!sf.failing)
			log_warn("status file %s", sf.path);
		sf.failing = true;
		free(text);
		return;
	}
	if (sf.failing)
		log_info("status file %s: written again", sf.path);
	sf.failing = false;
	free(sf.last);
	sf.last = text;
}

/* Nothing is left behind: the file goes with the process it describes. */
void
statusfile_remove(void)
{
	if (sf.owner == 0 || sf.owner != getpid())
		return;
	if (sf.last != NULL && unlink(sf.path) == -1 && errno != ENOENT)
		log_warn("removing status file %s", sf.path);
	free(sf.last);
	sf.last = NULL;
	sf.owner = 0;
}
