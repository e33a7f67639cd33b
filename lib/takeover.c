/*
 * --takeover, the wrapper's side: find the preload library, refuse at
 * start a command it can never be loaded into, describe the held sockets
 * to it, and tell whether a generation really runs with it.
 *
 * The library is at its installed path, $(pkglibdir)/takeover.so, unless
 * GRACEFUL_RUN_TAKEOVER_LIBRARY names another (the tests of an uninstalled
 * build use that). Like log.c's verbosity, the one setting is kept here.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "graceful-run.h"

#ifndef TAKEOVER_LIBRARY
#error "TAKEOVER_LIBRARY must name the installed preload library"
#endif

static char library[PATH_MAX];	/* empty: no --takeover */
static bool verbose;

const char *
takeover_library(void)
{
	return library[0] != '\0' ? library : NULL;
}

bool
takeover_verbose(void)
{
	return verbose;
}

/* Where execvp() would find command; false when it would not. */
static bool
takeover_which(const char *command, char *out, size_t len)
{
	const char *path = getenv("PATH"), *dir, *end;
	struct stat st;
	int n;

	if (strchr(command, '/') != NULL)
		return strlcpy(out, command, len) < len;
	if (path == NULL)
		path = "/bin:/usr/bin";
	for (dir = path; ; dir = end + 1) {
		end = strchrnul(dir, ':');
		n = snprintf(out, len, "%.*s%s%s", (int)(end - dir), dir,
		    end == dir ? "" : "/", command);
		if (n > 0 && (size_t)n < len && access(out, X_OK) == 0 &&
		    stat(out, &st) == 0 && S_ISREG(st.st_mode))
			return true;
		if (*end == '\0')
			return false;
	}
}

static int
takeover_check_library(const char *path, struct elfinfo *info)
{
	if (realpath(path, library) == NULL ||
	    elfinfo_read(library, info) == -1) {
		log_warn("--takeover: %s", path);
		library[0] = '\0';
		return -1;
	}
	if (!info->elf) {
		log_warnx("--takeover: %s: not a shared library", library);
		library[0] = '\0';
		return -1;
	}
	/* The dynamic loader splits LD_PRELOAD at both. */
	if (strpbrk(library, " :") != NULL) {
		log_warnx("--takeover: %s: a path with a space or a colon "
		    "cannot be preloaded", library);
		library[0] = '\0';
		return -1;
	}
	return 0;
}

/* Why the library can never be loaded into command, or NULL. */
static const char *
takeover_refusal(const char *command, const struct elfinfo *lib)
{
	struct elfinfo prog;
	struct stat st;

	if (stat(command, &st) == -1 || elfinfo_read(command, &prog) == -1)
		return NULL;	/* exec will say what is wrong */
	if (st.st_mode & (S_ISUID | S_ISGID))
		return "is set-user-ID or set-group-ID, and the dynamic "
		    "loader ignores LD_PRELOAD for such programs";
	if (!prog.elf)
		return NULL;	/* a script: its interpreter runs */
	if (!elfinfo_compatible(lib, &prog))
		return "is built for another architecture than the takeover "
		    "library";
	if (!prog.interp)
		return "is statically linked, so the takeover library cannot "
		    "be loaded into it";
	return NULL;
}

/* --takeover was given: 0, or -1 after one line saying why it cannot work. */
int
takeover_enable(const char *command, bool be_verbose)
{
	const char *path = getenv("GRACEFUL_RUN_TAKEOVER_LIBRARY");
	char found[PATH_MAX];
	struct elfinfo lib;
	const char *why;

	if (path == NULL || *path == '\0')
		path = TAKEOVER_LIBRARY;
	if (takeover_check_library(path, &lib) == -1)
		return -1;
	verbose = be_verbose;
	if (!takeover_which(command, found, sizeof(found)))
		return 0;	/* spawning says "not found" */
	if ((why = takeover_refusal(found, &lib)) != NULL) {
		log_warnx("--takeover: %s %s", found, why);
		library[0] = '\0';
		return -1;
	}
	return 0;
}

/* "3:INODE,4:INODE": where each socket is in a child, and which it is. */
char *
takeover_fds_value(const struct listeners *ls)
{
	size_t len = ls->n * 32 + 1, i, at = 0;
	struct stat st;
	char *out;
	int n;

	if ((out = malloc(len)) == NULL)
		return NULL;
	out[0] = '\0';
	for (i = 0; i < ls->n; i++) {
		if (fstat(ls->v[i].fd, &st) == -1) {
			free(out);
			return NULL;
		}
		n = snprintf(out + at, len - at, "%s%d:%llu", i ? "," : "",
		    FIRST_LISTEN_FD + (int)i, (unsigned long long)st.st_ino);
		if (n < 0 || (size_t)n >= len - at) {
			free(out);
			return NULL;
		}
		at += (size_t)n;
	}
	return out;
}

static bool
takeover_maps_line(const char *line, size_t len)
{
	static const char deleted[] = " (deleted)";
	size_t lib = strlen(library), dl = sizeof(deleted) - 1;

	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len > dl && memcmp(line + len - dl, deleted, dl) == 0)
		len -= dl;
	return len > lib && line[len - lib - 1] == ' ' &&
	    memcmp(line + len - lib, library, lib) == 0;
}

/*
 * Whether pid has the library mapped. Without --takeover, or when the
 * maps cannot be read or are empty (the process is gone or going: its
 * exit says the rest), yes.
 */
bool
takeover_loaded(pid_t pid)
{
	char path[64], *line = NULL;
	size_t cap = 0;
	ssize_t len;
	bool found = false, any = false;
	FILE *f;

	if (library[0] == '\0')
		return true;
	snprintf(path, sizeof(path), "/proc/%ld/maps", (long)pid);
	if ((f = fopen(path, "re")) == NULL) {
		log_debug("--takeover: cannot read %s: %s", path,
		    strerror(errno));
		return true;
	}
	while (!found && (len = getline(&line, &cap, f)) != -1) {
		any = true;
		found = takeover_maps_line(line, (size_t)len);
	}
	free(line);
	fclose(f);
	/* A zombie's maps are empty. */
	return found || !any;
}
