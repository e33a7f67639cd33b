/*
 * Who a child runs as (-u USER[:GROUP]) and where it starts (-C DIR).
 * Everything that needs the user database is looked up once, at start,
 * so the forked child only makes system calls: setgroups, setgid, setuid,
 * then chdir, which runs as the user and anew at every spawn, so a
 * "current -> releases/N" symlink switch takes effect at the next reload.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "graceful-run.h"

static struct runas identity;

/* A name, or a number the database knows. */
static struct passwd *
runas_user(const char *text)
{
	const char *errstr = NULL;
	struct passwd *pw;
	long long id;

	if ((pw = getpwnam(text)) != NULL)
		return pw;
	id = strtonum(text, 0, INT32_MAX, &errstr);
	return errstr == NULL ? getpwuid((uid_t)id) : NULL;
}

static struct group *
runas_group(const char *text)
{
	const char *errstr = NULL;
	struct group *gr;
	long long id;

	if ((gr = getgrnam(text)) != NULL)
		return gr;
	id = strtonum(text, 0, INT32_MAX, &errstr);
	return errstr == NULL ? getgrgid((gid_t)id) : NULL;
}

/* The user's supplementary groups, as initgroups(3) would set them. */
static int
runas_groups(struct runas *ra, gid_t base, char *why, size_t whylen)
{
	int n = RUNAS_GROUPS_MAX;

	if (getgrouplist(ra->name, base, ra->groups, &n) == -1)
		return log_reason(why, whylen, "user \"%s\" is in too many "
		    "groups", ra->name);
	ra->ngroups = (size_t)n;
	return 0;
}

int
runas_parse(const char *text, struct runas *ra, char *why, size_t whylen)
{
	char user[256], *colon;
	struct passwd *pw;
	struct group *gr;

	memset(ra, 0, sizeof(*ra));
	if (strlcpy(user, text, sizeof(user)) >= sizeof(user) || *text == '\0')
		return log_reason(why, whylen, "%s", "empty or too long");
	if ((colon = strchr(user, ':')) != NULL)
		*colon++ = '\0';
	errno = 0;
	if ((pw = runas_user(user)) == NULL)
		return log_reason(why, whylen, "no such user \"%s\"", user);
	ra->uid = pw->pw_uid;
	ra->gid = pw->pw_gid;
	if (strlcpy(ra->name, pw->pw_name, sizeof(ra->name)) >= sizeof(ra->name) ||
	    strlcpy(ra->home, pw->pw_dir, sizeof(ra->home)) >= sizeof(ra->home))
		return log_reason(why, whylen, "user \"%s\": name or home "
		    "too long", user);
	if (colon != NULL) {
		if ((gr = runas_group(colon)) == NULL)
			return log_reason(why, whylen, "no such group \"%s\"",
			    colon);
		ra->gid = gr->gr_gid;
	}
	if (runas_groups(ra, ra->gid, why, whylen) == -1)
		return -1;
	ra->set = true;
	return 0;
}

void
runas_configure(const struct runas *ra, const char *dir)
{
	if (ra != NULL)
		identity = *ra;
	identity.dir = dir;
}

/* The user children run as, or NULL when they run as graceful-run does. */
const struct runas *
runas_user_of_children(void)
{
	return identity.set ? &identity : NULL;
}

const char *
runas_dir(void)
{
	return identity.dir;
}

bool
runas_is_child_uid(uid_t uid)
{
	return identity.set && uid == identity.uid;
}

/*
 * In the forked child, before exec: take the identity, then the directory.
 * 0, or -1 with errno set and *stage naming the step that failed.
 */
int
runas_enter(enum runas_stage *stage)
{
	*stage = RUNAS_STAGE_USER;
	if (identity.set &&
	    (setgroups(identity.ngroups, identity.groups) == -1 ||
	    setgid(identity.gid) == -1 || setuid(identity.uid) == -1))
		return -1;
	*stage = RUNAS_STAGE_DIR;
	if (identity.dir != NULL && chdir(identity.dir) == -1)
		return -1;
	return 0;
}
