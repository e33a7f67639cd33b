/*
 * Parse one -l spec, "[NAME=]ADDRESS[,OPTION]...", into a listen_spec.
 * Nothing is bound or resolved here, so a typo fails before any port is
 * taken.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "graceful-run.h"

#define LISTEN_BACKLOG_MAX 65535
/* Longer than any address with options: a typo or garbage. */
#define LISTEN_TEXT_MAX 1023

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

/* A number, leading zeros and all: "000008080" is port 8080. */
static int
listen_parse_port(const char *text, struct listen_spec *spec, char *why,
    size_t whylen)
{
	struct log_excerpt ex;
	uint64_t port;

	if (parse_uint(text, 10, 65535, &port) == -1 || port == 0)
		return log_reason(why, whylen, "bad port %s (1-65535)",
		    log_excerpt(&ex, text));
	/* The number, not the text: leading zeros would not fit. */
	snprintf(spec->port, sizeof(spec->port), "%u", (unsigned)port);
	return 0;
}

/* PORT, :PORT, HOST:PORT or [V6]:PORT. */
static int
listen_parse_inet(char *text, struct listen_spec *spec, char *why,
    size_t whylen)
{
	struct log_excerpt ex;
	char *colon, *end;

	if (text[0] == '[') {
		end = strchr(text, ']');
		if (end == NULL || end[1] != ':')
			return log_reason(why, whylen, "bad IPv6 address %s "
			    "(want [ADDRESS]:PORT)", log_excerpt(&ex, text));
		*end = '\0';
		if (end == text + 1)
			return log_reason(why, whylen,
			    "%s", "empty IPv6 address");
		if (strlcpy(spec->host, text + 1, sizeof(spec->host)) >=
		    sizeof(spec->host))
			return log_reason(why, whylen,
			    "host name too long (%zu "
			    "bytes, at most %zu)", strlen(text + 1),
			    sizeof(spec->host) - 1);
		return listen_parse_port(end + 2, spec, why, whylen);
	}
	colon = strrchr(text, ':');
	if (colon == NULL)
		return listen_parse_port(text, spec, why, whylen);
	if (strchr(text, ':') != colon)
		return log_reason(why, whylen, "bad address %s (write IPv6 "
		    "addresses as [ADDRESS]:PORT)", log_excerpt(&ex, text));
	*colon = '\0';
	if (strlcpy(spec->host, text, sizeof(spec->host)) >= sizeof(spec->host))
		return log_reason(why, whylen,
		    "host name too long (%zu bytes, at "
		    "most %zu)", strlen(text), sizeof(spec->host) - 1);
	return listen_parse_port(colon + 1, spec, why, whylen);
}

static int
listen_parse_unix(const char *path, struct listen_spec *spec, char *why,
    size_t whylen)
{
	if (*path == '\0' || strcmp(path, "@") == 0)
		return log_reason(why, whylen, "%s", "empty unix socket path");
	if (strlcpy(spec->path, path, sizeof(spec->path)) >= sizeof(spec->path))
		return log_reason(why, whylen, "unix socket path too long (%zu "
		    "bytes, at most %zu)", strlen(path),
		    sizeof(spec->path) - 1);
	return 0;
}

static int
listen_parse_owner(const char *value, struct listen_spec *spec, char *why,
    size_t whylen)
{
	struct log_excerpt ex;
	char user[256];
	const char *group;
	struct passwd *pw;
	struct group *gr;

	group = strchr(value, ':');
	if ((group != NULL ? (size_t)(group - value) : strlen(value)) >=
	    sizeof(user))
		return log_reason(why, whylen, "owner: user name too long: %s",
		    log_excerpt(&ex, value));
	strlcpy(user, value, sizeof(user));
	if (group != NULL) {
		user[group - value] = '\0';
		group++;
	}
	pw = getpwnam(user);
	if (pw == NULL)
		return log_reason(why, whylen, "owner: no such user %s",
		    log_excerpt(&ex, user));
	spec->uid = pw->pw_uid;
	spec->gid = pw->pw_gid;
	if (group != NULL && *group != '\0') {
		gr = getgrnam(group);
		if (gr == NULL)
			return log_reason(why, whylen,
			    "owner: no such group %s",
			    log_excerpt(&ex, group));
		spec->gid = gr->gr_gid;
	}
	spec->has_owner = true;
	return 0;
}

static int
listen_parse_option(char *opt, struct listen_spec *spec, char *why,
    size_t whylen)
{
	struct log_excerpt ex;
	uint64_t n;
	char *value;
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
		if (parse_uint(value, 10, LISTEN_BACKLOG_MAX, &n) == -1 ||
		    n == 0)
			return log_reason(why, whylen,
			    "bad backlog %s (1-65535)",
			    log_excerpt(&ex, value));
		spec->backlog = (int)n;
	} else if (strcmp(opt, "mode") == 0 && value != NULL && is_file) {
		/* Checked in range before it becomes a mode_t. */
		if (parse_uint(value, 8, 07777, &n) == -1)
			return log_reason(why, whylen,
			    "bad mode %s (octal digits, "
			    "at most 07777, e.g. 0660)",
			    log_excerpt(&ex, value));
		spec->mode = (mode_t)n;
		spec->has_mode = true;
	} else if (strcmp(opt, "owner") == 0 && value != NULL && is_file)
		return listen_parse_owner(value, spec, why, whylen);
	else
		return log_reason(why, whylen, "option %s does not apply here "
		    "(backlog=N, reuseport, v6only, nonblock; mode=, owner= "
		    "for unix paths)", log_excerpt(&ex, opt));
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
		return log_reason(why, whylen, "%s", "missing address");
	return listen_parse_inet(addr, spec, why, whylen);
}

int
listen_parse(const char *text, struct listen_spec *spec, char *why,
    size_t whylen)
{
	char buf[LISTEN_TEXT_MAX + 1], *rest, *name, *opt;
	struct log_excerpt ex;

	memset(spec, 0, sizeof(*spec));
	spec->text = text;
	spec->kind = LISTEN_TCP;
	spec->backlog = SOMAXCONN;
	if (strlcpy(buf, text, sizeof(buf)) >= sizeof(buf))
		return log_reason(why, whylen,
		    "argument too long (%zu bytes, at "
		    "most %d)", strlen(text), LISTEN_TEXT_MAX);
	rest = buf;
	name = listen_split_name(buf);
	if (name != NULL) {
		rest = name + strlen(name) + 1;
		if (!listen_name_valid(name))
			return log_reason(why, whylen,
			    "bad name %s (printable, no "
			    "':' or space, 255 bytes at most)",
			    log_excerpt(&ex, name));
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
