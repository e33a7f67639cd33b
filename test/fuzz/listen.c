/*
 * -l specs: listen_parse on any text an argument can hold. A spec it takes
 * must be bindable as the user wrote it: a valid name, the host, port or
 * path the user wrote (not a cut or converted copy), options only where
 * they apply, and each option's value the one written.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "graceful-run.h"
#include "fuzz.h"

/* systemd's rule for LISTEN_FDNAMES, which listen.c promises to keep. */
static void
check_name(const char *name)
{
	size_t len = strlen(name);
	const char *p;

	FUZZ_CHECK(len > 0 && len <= 255);
	for (p = name; *p != '\0'; p++)
		FUZZ_CHECK(isprint((unsigned char)*p) && *p != ':' && *p != ' ');
}

/* A strictly written number in base 8 or 10; -1 if it is not one. */
static long
strict_number(const char *s, int base)
{
	long v = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s >= '0' + base)
			return -1;
		v = v * base + (*s - '0');
		if (v > 1000000)
			v = 1000000;
	}
	return v;
}

static void
check_inet(const struct listen_spec *spec, char *addr)
{
	const char *host = "";
	char *port, *end;
	long n;

	FUZZ_CHECK(spec->path[0] == '\0');
	FUZZ_CHECK(!spec->has_mode && !spec->has_owner);
	if (addr[0] == '[') {
		end = strchr(addr, ']');
		FUZZ_CHECK(end != NULL && end[1] == ':');
		*end = '\0';
		host = addr + 1;
		port = end + 2;
	} else if ((port = strrchr(addr, ':')) != NULL) {
		*port++ = '\0';
		host = addr;
		FUZZ_CHECK(strchr(host, ':') == NULL);
	} else
		port = addr;
	FUZZ_CHECK(strcmp(spec->host, host) == 0);
	n = strict_number(port, 10);
	FUZZ_CHECK(n >= 1 && n <= 65535);
	FUZZ_CHECK(strict_number(spec->port, 10) == n);
}

static void
check_unix(const struct listen_spec *spec, const char *path)
{
	FUZZ_CHECK(spec->host[0] == '\0' && spec->port[0] == '\0');
	FUZZ_CHECK(!spec->reuseport && !spec->v6only);
	FUZZ_CHECK(strcmp(spec->path, path) == 0 && strcmp(path, "@") != 0);
	if (path[0] == '@')
		FUZZ_CHECK(!spec->has_mode && !spec->has_owner);
}

/* Each option as written; the last mode= and backlog= are the ones kept. */
static void
check_options(const struct listen_spec *spec, char *opts)
{
	char *opt, *value;
	long mode = -1, backlog = SOMAXCONN;

	for (opt = strtok(opts, ","); opt != NULL; opt = strtok(NULL, ",")) {
		if ((value = strchr(opt, '=')) == NULL)
			continue;
		*value++ = '\0';
		if (strcmp(opt, "mode") == 0) {
			mode = strict_number(value, 8);
			FUZZ_CHECK(mode >= 0 && mode <= 07777);
		} else if (strcmp(opt, "backlog") == 0)
			backlog = strtol(value, NULL, 10);
	}
	FUZZ_CHECK(spec->has_mode == (mode != -1));
	FUZZ_CHECK(!spec->has_mode || (long)spec->mode == mode);
	FUZZ_CHECK(spec->backlog == backlog);
	FUZZ_CHECK(spec->backlog >= 1 && spec->backlog <= 65535);
}

/* Taken apart independently of listen.c: NAME=, ADDRESS, ,OPTIONS. */
static void
check_spec(const struct listen_spec *spec, const char *text)
{
	char buf[1024], none[1] = "", *addr, *opts;
	size_t span;

	FUZZ_CHECK(strlen(text) < sizeof(buf));
	strcpy(buf, text);
	span = strcspn(buf, "=:,/[@");
	addr = buf[span] == '=' ? buf + span + 1 : buf;
	if ((opts = strchr(addr, ',')) != NULL)
		*opts++ = '\0';
	check_name(spec->name);
	FUZZ_CHECK(spec->text == text);
	if (strncmp(addr, "unix:", 5) == 0) {
		FUZZ_CHECK(spec->kind == LISTEN_UNIX);
		check_unix(spec, addr + 5);
	} else if (strncmp(addr, "udp:", 4) == 0) {
		FUZZ_CHECK(spec->kind == LISTEN_UDP);
		check_inet(spec, addr + 4);
	} else {
		FUZZ_CHECK(spec->kind == LISTEN_TCP);
		check_inet(spec, strncmp(addr, "tcp:", 4) == 0 ? addr + 4 : addr);
	}
	check_options(spec, opts != NULL ? opts : none);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct listen_spec spec;
	char why[256], *text;

	if ((text = fuzz_cstring(data, size)) == NULL)
		return 0;
	why[0] = '\0';
	if (listen_parse(text, &spec, why, sizeof(why)) == 0)
		check_spec(&spec, text);
	else
		FUZZ_CHECK(why[0] != '\0' && strlen(why) < sizeof(why));
	free(text);
	return 0;
}
