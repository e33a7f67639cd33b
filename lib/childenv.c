/*
 * The environment of a child: graceful-run's own, less what describes
 * graceful-run itself (its LISTEN_*, its NOTIFY_SOCKET), plus the variables
 * of every socket-passing protocol so programs written for systemd, einhorn,
 * socketmaster or Server::Starter, and nginx, run unchanged.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "graceful-run.h"

extern char **environ;

/* Names meant for graceful-run, or set by it: never inherited as they are. */
static const char *const stripped_exact[] = {
	"LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "LISTEN_PIDFDID",
	"NOTIFY_SOCKET",
	"WATCHDOG_USEC", "WATCHDOG_PID", "SERVER_STARTER_PORT",
	"SERVER_STARTER_GENERATION", "EINHORN_FDS", "EINHORN_FD_COUNT",
	"NGINX",
};
static const char *const stripped_prefix[] = { "EINHORN_FD_", "GRACEFUL_RUN_" };

/* Room for any pid, and for any 64-bit inode number. */
#define LISTEN_PID_DIGITS 20
/* statfs(2) f_type of the pidfs filesystem (Linux 6.9 and later). */
#define CHILDENV_PIDFS_MAGIC 0x50494446

/* With -u, the child's own user replaces these (see childenv_build). */
static const char *const user_vars[] = { "HOME", "USER", "LOGNAME" };

static bool
childenv_stripped(const char *var)
{
	size_t len = strcspn(var, "="), i;

	for (i = 0; i < sizeof(user_vars) / sizeof(*user_vars); i++)
		if (runas_user_of_children() != NULL &&
		    strlen(user_vars[i]) == len &&
		    strncmp(var, user_vars[i], len) == 0)
			return true;

	for (i = 0; i < sizeof(stripped_exact) / sizeof(*stripped_exact); i++)
		if (strlen(stripped_exact[i]) == len &&
		    strncmp(var, stripped_exact[i], len) == 0)
			return true;
	for (i = 0; i < sizeof(stripped_prefix) / sizeof(*stripped_prefix); i++)
		if (strncmp(var, stripped_prefix[i],
		    strlen(stripped_prefix[i])) == 0)
			return true;
	return false;
}

struct envbuf {
	char **vars;
	size_t n, cap;
	bool failed;
};

static void envbuf_add(struct envbuf *, const char *, ...) PRINTFLIKE(2, 3);

static void
envbuf_add(struct envbuf *eb, const char *fmt, ...)
{
	va_list ap;
	char *var;

	if (eb->failed || eb->n + 1 >= eb->cap) {
		eb->failed = true;
		return;
	}
	va_start(ap, fmt);
	if (vasprintf(&var, fmt, ap) == -1)
		eb->failed = true;
	else
		eb->vars[eb->n++] = var;
	va_end(ap);
}

/* "3 4", "a:b", "key=3;key=4" and "3;4;": one list joined four ways. */
static char *
childenv_join(const struct listeners *ls, int kind)
{
	size_t i, len = 1;
	char *out, item[320];

	for (i = 0; i < ls->n; i++)
		len += sizeof(item);
	if ((out = malloc(len)) == NULL)
		return NULL;
	out[0] = '\0';
	for (i = 0; i < ls->n; i++) {
		int fd = FIRST_LISTEN_FD + (int)i;

		if (kind == 'e')
			snprintf(item, sizeof(item), "%s%d", i ? " " : "", fd);
		else if (kind == 'n')
			snprintf(item, sizeof(item), "%s%s", i ? ":" : "",
			    ls->v[i].name);
		else if (kind == 'g')
			snprintf(item, sizeof(item), "%d;", fd);
		else
			snprintf(item, sizeof(item), "%s%s=%d", i ? ";" : "",
			    ls->v[i].starter, fd);
		strlcat(out, item, len);
	}
	return out;
}

static void
childenv_add_sockets(struct envbuf *eb, struct childenv *env,
    const struct listeners *ls)
{
	char *fds = childenv_join(ls, 'e'), *names = childenv_join(ls, 'n');
	char *starter = childenv_join(ls, 's'), *nginx = childenv_join(ls, 'g');
	size_t i;

	if (fds == NULL || names == NULL || starter == NULL || nginx == NULL)
		eb->failed = true;
	else {
		envbuf_add(eb, "LISTEN_FDS=%zu", ls->n);
		envbuf_add(eb, "LISTEN_PID=%*s", LISTEN_PID_DIGITS, "");
		if (!eb->failed)
			env->listen_pid = eb->vars[eb->n - 1] + strlen("LISTEN_PID=");
		envbuf_add(eb, "LISTEN_PIDFDID=%*s", LISTEN_PID_DIGITS, "");
		if (!eb->failed) {
			env->pidfdid_slot = eb->n - 1;
			env->listen_pidfdid = eb->vars[eb->n - 1] +
			    strlen("LISTEN_PIDFDID=");
		}
		envbuf_add(eb, "LISTEN_FDNAMES=%s", names);
		envbuf_add(eb, "EINHORN_FD_COUNT=%zu", ls->n);
		for (i = 0; i < ls->n; i++)
			envbuf_add(eb, "EINHORN_FD_%zu=%d", i,
			    FIRST_LISTEN_FD + (int)i);
		envbuf_add(eb, "EINHORN_FDS=%s", fds);
		envbuf_add(eb, "SERVER_STARTER_PORT=%s", starter);
		/* nginx's own: the fds it uses instead of binding its own. */
		envbuf_add(eb, "NGINX=%s", nginx);
	}
	free(fds);
	free(names);
	free(starter);
	free(nginx);
}

/* --takeover: the library first in LD_PRELOAD, and where the sockets are. */
static void
childenv_add_takeover(struct envbuf *eb, const struct listeners *ls)
{
	const char *old = getenv("LD_PRELOAD");
	char *fds = takeover_fds_value(ls);

	if (fds == NULL) {
		eb->failed = true;
		return;
	}
	if (old != NULL && *old != '\0')
		envbuf_add(eb, "LD_PRELOAD=%s:%s", takeover_library(), old);
	else
		envbuf_add(eb, "LD_PRELOAD=%s", takeover_library());
	envbuf_add(eb, "GRACEFUL_RUN_TAKEOVER_FDS=%s", fds);
	if (takeover_verbose())
		envbuf_add(eb, "GRACEFUL_RUN_TAKEOVER_VERBOSE=1");
	free(fds);
}

int
childenv_build(struct childenv *env, const struct childenv_input *in)
{
	const struct runas *ra;
	bool takeover = in->listeners != NULL && takeover_library() != NULL;
	struct envbuf eb = { 0 };
	size_t n = 0, i;
	char **e;

	for (e = environ; *e != NULL; e++)
		n++;
	eb.cap = n + 20 + 3 + (in->listeners != NULL ? in->listeners->n : 0);
	if ((eb.vars = calloc(eb.cap, sizeof(*eb.vars))) == NULL)
		return -1;
	for (e = environ; *e != NULL; e++)
		if (!childenv_stripped(*e) &&
		    !(takeover && strncmp(*e, "LD_PRELOAD=", 11) == 0))
			eb.vars[eb.n++] = *e;
	memset(env, 0, sizeof(*env));
	env->first_owned = eb.n;
	if (in->listeners != NULL && in->listeners->n > 0)
		childenv_add_sockets(&eb, env, in->listeners);
	if (takeover)
		childenv_add_takeover(&eb, in->listeners);
	if (in->generation > 0) {
		envbuf_add(&eb, "GRACEFUL_RUN_GENERATION=%u", in->generation);
		envbuf_add(&eb, "SERVER_STARTER_GENERATION=%u", in->generation);
	}
	if (in->ready_fd >= 0)
		envbuf_add(&eb, "GRACEFUL_RUN_READY_FD=%d", in->ready_fd);
	if (in->notify_path != NULL)
		envbuf_add(&eb, "NOTIFY_SOCKET=%s", in->notify_path);
	if (in->target_pid > 0)
		envbuf_add(&eb, "GRACEFUL_RUN_PID=%ld", (long)in->target_pid);
	if ((ra = runas_user_of_children()) != NULL) {
		envbuf_add(&eb, "HOME=%s", ra->home);
		envbuf_add(&eb, "USER=%s", ra->name);
		envbuf_add(&eb, "LOGNAME=%s", ra->name);
	}
	env->vars = eb.vars;
	if (eb.failed) {
		childenv_free(env);
		return -1;
	}
	for (i = eb.n; i < eb.cap; i++)
		eb.vars[i] = NULL;
	return 0;
}

/* Digits into a preallocated slot: async-signal-safe. */
static void
childenv_put_number(char *slot, uint64_t v)
{
	char digits[LISTEN_PID_DIGITS];
	size_t n = 0, i;

	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0 && n < sizeof(digits));
	for (i = 0; i < n; i++)
		slot[i] = digits[n - 1 - i];
	slot[n] = '\0';
}

/* Take a variable out of the child's copy of the array: the last one moves in. */
static void
childenv_drop(struct childenv *env, size_t slot)
{
	size_t last = slot;

	while (env->vars[last + 1] != NULL)
		last++;
	env->vars[slot] = env->vars[last];
	env->vars[last] = NULL;
}

/*
 * LISTEN_PIDFDID as systemd sets it: the inode of a pidfd of the child,
 * which names the process for good only where pidfds live on pidfs (on
 * older kernels every pidfd shares one anonymous inode: no variable then).
 */
static void
childenv_set_pidfdid(struct childenv *env, pid_t pid)
{
	struct statfs sfs;
	struct stat st;
	int fd = -1;
	bool ok = false;

#ifdef SYS_pidfd_open
	fd = (int)syscall(SYS_pidfd_open, pid, 0);
#endif
	if (fd != -1 && fstatfs(fd, &sfs) == 0 &&
	    sfs.f_type == CHILDENV_PIDFS_MAGIC && fstat(fd, &st) == 0) {
		childenv_put_number(env->listen_pidfdid, (uint64_t)st.st_ino);
		ok = true;
	}
	if (fd != -1)
		close(fd);
	if (!ok)
		childenv_drop(env, env->pidfdid_slot);
}

/* Runs in the forked child, before exec: no allocation, no stdio. */
void
childenv_set_pid(struct childenv *env, pid_t pid)
{
	if (env->listen_pid == NULL)
		return;
	childenv_put_number(env->listen_pid, (uint64_t)pid);
	childenv_set_pidfdid(env, pid);
}

void
childenv_free(struct childenv *env)
{
	size_t i;

	if (env->vars == NULL)
		return;
	for (i = env->first_owned; env->vars[i] != NULL; i++)
		free(env->vars[i]);
	free(env->vars);
	env->vars = NULL;
	env->listen_pid = NULL;
	env->listen_pidfdid = NULL;
}
