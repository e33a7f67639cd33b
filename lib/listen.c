/*
 * Parse one -l spec, "[NAME=]ADDRESS[,OPTION]...", into a listen_spec.
 * Nothing is bound or resolved here, so a typo fails before any port is
 * taken.
 */
#include "config.h"

#include <ctype.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "graceful-run.h"

#define LISTEN_BACKLOG_MAX 65535

static int fail(char *, size_t, const char *, ...) PRINTFLIKE(3, 4);

static int
fail(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return -1;
}

/* systemd's rule for LISTEN_FDNAMES entries: printable, no ':', < 256. */
static bool
listen_name_valid(const char *name)
{
	const char *p;

	if (*name == '\0' || strlen(name) > 255)
		return false;
	for (p = name; *p != '\0'; p++)
		if (!isprint((unsigned char)*p) || *p == ':' || *p == ' ')
			return false;
	return true;
}

static int
listen_parse_port(const char *text, struct listen_spec *spec, char *why,
    size_t whylen)
{
	const char *errstr = NULL;

	strtonum(text, 1, 65535, &errstr);
	if (*text == '\0' || !isdigit((unsigned char)*text) || errstr != NULL)
		return fail(why, whylen, "bad port \"%s\" (1-65535)", text);
	strlcpy(spec->port, text, sizeof(spec->port));
	return 0;
}

/* PORT, :PORT, HOST:PORT or [V6]:PORT. */
static int
listen_parse_inet(char *text, struct listen_spec *spec, char *why,
    size_t whylen)
{
	char *colon, *end;

	if (text[0] == '[') {
		end = strchr(text, ']');
		if (end == NULL || end[1] != ':')
			return fail(why, whylen, "bad IPv6 address \"%s\" "
			    "(want [ADDRESS]:PORT)", text);
		*end = '\0';
		if (end == text + 1)
			return fail(why, whylen, "%s", "empty IPv6 address");
		strlcpy(spec->host, text + 1, sizeof(spec->host));
		return listen_parse_port(end + 2, spec, why, whylen);
	}
	colon = strrchr(text, ':');
	if (colon == NULL)
		return listen_parse_port(text, spec, why, whylen);
	if (strchr(text, ':') != colon)
		return fail(why, whylen, "bad address \"%s\" (write IPv6 "
		    "addresses as [ADDRESS]:PORT)", text);
	*colon = '\0';
	if (strlcpy(spec->host, text, sizeof(spec->host)) >= sizeof(spec->host))
		return fail(why, whylen, "%s", "host name too long");
	return listen_parse_port(colon + 1, spec, why, whylen);
}

static int
listen_parse_unix(const char *path, struct listen_spec *spec, char *why,
    size_t whylen)
{
	if (*path == '\0' || strcmp(path, "@") == 0)
		return fail(why, whylen, "%s", "empty unix socket path");
	if (strlcpy(spec->path, path, sizeof(spec->path)) >= sizeof(spec->path))
		return fail(why, whylen, "unix socket path too long "
		    "(%zu bytes at most)", sizeof(spec->path) - 1);
	return 0;
}

static int
listen_parse_owner(const char *value, struct listen_spec *spec, char *why,
    size_t whylen)
{
	char user[256];
	const char *group;
	struct passwd *pw;
	struct group *gr;

	strlcpy(user, value, sizeof(user));
	group = NULL;
	if (strchr(user, ':') != NULL) {
		*strchr(user, ':') = '\0';
		group = strchr(value, ':') + 1;
	}
	pw = getpwnam(user);
	if (pw == NULL)
		return fail(why, whylen, "owner: no such user \"%s\"", user);
	spec->uid = pw->pw_uid;
	spec->gid = pw->pw_gid;
	if (group != NULL && *group != '\0') {
		gr = getgrnam(group);
		if (gr == NULL)
			return fail(why, whylen, "owner: no such group \"%s\"",
			    group);
		spec->gid = gr->gr_gid;
	}
	spec->has_owner = true;
	return 0;
}

static int
listen_parse_option(char *opt, struct listen_spec *spec, char *why,
    size_t whylen)
{
	const char *errstr = NULL;
	char *value, *end;
	bool is_inet = spec->kind != LISTEN_UNIX;
	bool is_file = spec->kind == LISTEN_UNIX && spec->path[0] != '@';

	value = strchr(opt, '=');
	if (value != NULL)
		*value++ = '\0';
	if (strcmp(opt, "reuseport") == 0 && value == NULL && is_inet)
		spec->reuseport = true;
	else if (strcmp(opt, "v6only") == 0 && value == NULL && is_inet)
		spec->v6only = true;
	else if (strcmp(opt, "nonblock") == 0 && value == NULL)
		spec->nonblock = true;
	else if (strcmp(opt, "backlog") == 0 && value != NULL &&
	    spec->kind != LISTEN_UDP) {
		spec->backlog = (int)strtonum(value, 1, LISTEN_BACKLOG_MAX,
		    &errstr);
		if (errstr != NULL)
			return fail(why, whylen, "backlog \"%s\" (1-65535)",
			    value);
	} else if (strcmp(opt, "mode") == 0 && value != NULL && is_file) {
		spec->mode = (mode_t)strtoul(value, &end, 8);
		if (*value == '\0' || *end != '\0' || spec->mode > 07777)
			return fail(why, whylen, "bad mode \"%s\" (octal, "
			    "e.g. 0660)", value);
		spec->has_mode = true;
	} else if (strcmp(opt, "owner") == 0 && value != NULL && is_file)
		return listen_parse_owner(value, spec, why, whylen);
	else
		return fail(why, whylen, "option \"%s\" does not apply here "
		    "(backlog=N, reuseport, v6only, nonblock; mode=, owner= "
		    "for unix paths)", opt);
	return 0;
}

static void
listen_default_name(struct listen_spec *spec)
{
	const char *base;

	switch (spec->kind) {
	case LISTEN_TCP:
		snprintf(spec->name, sizeof(spec->name), "tcp-%s", spec->port);
		break;
	case LISTEN_UDP:
		snprintf(spec->name, sizeof(spec->name), "udp-%s", spec->port);
		break;
	case LISTEN_UNIX:
		base = strrchr(spec->path, '/');
		base = base != NULL ? base + 1 : spec->path;
		if (*base == '@')
			base++;
		strlcpy(spec->name, *base != '\0' ? base : "unix",
		    sizeof(spec->name));
		if (!listen_name_valid(spec->name))
			strlcpy(spec->name, "unix", sizeof(spec->name));
		break;
	}
}

/* A NAME= prefix: an '=' before anything an address can start with. */
static char *
listen_split_name(char *text)
{
	size_t span = strcspn(text, "=:,/[@");

	if (text[span] != '=')
		return NULL;
	text[span] = '\0';
	return text;
}

static int
listen_parse_address(char *addr, struct listen_spec *spec, char *why,
    size_t whylen)
{
	if (strncmp(addr, "unix:", 5) == 0) {
		spec->kind = LISTEN_UNIX;
		return listen_parse_unix(addr + 5, spec, why, whylen);
	}
	if (strncmp(addr, "udp:", 4) == 0) {
		spec->kind = LISTEN_UDP;
		addr += 4;
	} else if (strncmp(addr, "tcp:", 4) == 0)
		addr += 4;
	if (*addr == '\0')
		return fail(why, whylen, "%s", "missing address");
	return listen_parse_inet(addr, spec, why, whylen);
}

int
listen_parse(const char *text, struct listen_spec *spec, char *why,
    size_t whylen)
{
	char buf[1024], *rest, *name, *opt;

	memset(spec, 0, sizeof(*spec));
	spec->text = text;
	spec->kind = LISTEN_TCP;
	spec->backlog = SOMAXCONN;
	if (strlcpy(buf, text, sizeof(buf)) >= sizeof(buf))
		return fail(why, whylen, "%s", "too long");
	rest = buf;
	name = listen_split_name(buf);
	if (name != NULL) {
		rest = name + strlen(name) + 1;
		if (!listen_name_valid(name))
			return fail(why, whylen, "bad name \"%s\" (printable, "
			    "no ':' or space, 255 bytes at most)", name);
		strlcpy(spec->name, name, sizeof(spec->name));
	}
	opt = strchr(rest, ',');
	if (opt != NULL)
		*opt++ = '\0';
	if (listen_parse_address(rest, spec, why, whylen) == -1)
		return -1;
	while (opt != NULL) {
		char *next = strchr(opt, ',');

		if (next != NULL)
			*next++ = '\0';
		if (listen_parse_option(opt, spec, why, whylen) == -1)
			return -1;
		opt = next;
	}
	if (spec->name[0] == '\0')
		listen_default_name(spec);
	return 0;
}
