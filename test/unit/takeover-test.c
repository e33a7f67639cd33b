/* Unit tests for --takeover's address matching (preload/match.c). */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "preload.h"
#include "tap.h"

struct addr {
	struct sockaddr_storage ss;
	struct match_sock m;
};

/* "127.0.0.1:80", "[::1]:80", "unix:/path", "unix:@name"; stream, v6only 0. */
static struct match_sock *
addr(struct addr *a, const char *text)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)&a->ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a->ss;
	struct sockaddr_un *sun = (struct sockaddr_un *)&a->ss;
	char host[64];
	const char *colon = strrchr(text, ':');
	size_t n;

	memset(a, 0, sizeof(*a));
	a->m.type = SOCK_STREAM;
	a->m.addr = (struct sockaddr *)&a->ss;
	if (strncmp(text, "unix:", 5) == 0) {
		n = strlen(text + 5);
		sun->sun_family = AF_UNIX;
		memcpy(sun->sun_path, text + 5, n);
		a->m.len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
		    n + 1);
		if (sun->sun_path[0] == '@') {
			sun->sun_path[0] = '\0';
			a->m.len--;
		}
		return &a->m;
	}
	memcpy(host, text, (size_t)(colon - text));
	host[colon - text] = '\0';
	if (host[0] == '[') {
		host[strlen(host) - 1] = '\0';
		s6->sin6_family = AF_INET6;
		inet_pton(AF_INET6, host + 1, &s6->sin6_addr);
		s6->sin6_port = htons((uint16_t)atoi(colon + 1));
		a->m.len = sizeof(*s6);
	} else {
		s4->sin_family = AF_INET;
		inet_pton(AF_INET, host, &s4->sin_addr);
		s4->sin_port = htons((uint16_t)atoi(colon + 1));
		a->m.len = sizeof(*s4);
	}
	return &a->m;
}

static struct addr h, w;

static bool
matches(const char *held, const char *want)
{
	return match_bind(addr(&h, held), addr(&w, want));
}

static void
test_ipv4(void)
{
	ok(matches("127.0.0.1:8080", "127.0.0.1:8080"), "same v4 address");
	ok(!matches("127.0.0.1:8080", "127.0.0.1:8081"), "other port");
	ok(!matches("127.0.0.1:8080", "127.0.0.2:8080"), "other v4 address");
	ok(matches("0.0.0.0:8080", "0.0.0.0:8080"), "wildcard matches wildcard");
	ok(!matches("0.0.0.0:8080", "127.0.0.1:8080"),
	    "held wildcard does not match one address");
	ok(!matches("127.0.0.1:8080", "0.0.0.0:8080"),
	    "held address does not match the wildcard");
	ok(!matches("0.0.0.0:8080", "0.0.0.0:0") &&
	    !matches("127.0.0.1:8080", "127.0.0.1:0"), "port 0 never matches");
}

static void
test_types(void)
{
	addr(&h, "127.0.0.1:53");
	addr(&w, "127.0.0.1:53");
	w.m.type = SOCK_DGRAM;
	ok(!match_bind(&h.m, &w.m), "stream held, datagram bind");
	h.m.type = SOCK_DGRAM;
	ok(match_bind(&h.m, &w.m), "datagram held, datagram bind");
	w.m.protocol = IPPROTO_UDP;
	ok(!match_bind(&h.m, &w.m), "other protocol");
}

static void
test_ipv6(void)
{
	ok(matches("[::1]:8080", "[::1]:8080"), "same v6 address");
	ok(matches("[::]:8080", "[::]:8080"), "v6 wildcard");
	ok(!matches("[::]:8080", "[::1]:8080"), "v6 wildcard, one address");
	ok(!matches("[::1]:8080", "[::1]:8081"), "v6 other port");
	ok(!matches("[::1]:8080", "127.0.0.1:8080"), "v6 loopback, v4 loopback");
	addr(&w, "[::]:8080");
	w.m.v6only = true;
	ok(match_bind(addr(&h, "[::]:8080"), &w.m),
	    "a v6only bind takes the dual-stack wildcard");
}

static void
test_dual_stack(void)
{
	ok(matches("[::]:8080", "0.0.0.0:8080"),
	    "v4 wildcard on a dual-stack socket");
	addr(&h, "[::]:8080");
	h.m.v6only = true;
	ok(!match_bind(&h.m, addr(&w, "0.0.0.0:8080")),
	    "v4 wildcard on a v6only socket");
	ok(!matches("[::]:8080", "127.0.0.1:8080"),
	    "one v4 address on a dual-stack wildcard");
	ok(!matches("[::]:8080", "0.0.0.0:8081"), "dual-stack, other port");
	ok(matches("[::ffff:127.0.0.1]:8080", "127.0.0.1:8080"),
	    "v4 address on its mapped v6 address");
	ok(matches("127.0.0.1:8080", "[::ffff:127.0.0.1]:8080"),
	    "mapped v6 bind on the v4 socket");
	addr(&w, "[::ffff:127.0.0.1]:8080");
	w.m.v6only = true;
	ok(!match_bind(addr(&h, "127.0.0.1:8080"), &w.m),
	    "mapped bind from a v6only socket");
	ok(!matches("0.0.0.0:8080", "[::]:8080"),
	    "v4 wildcard held, v6 wildcard bind");
}

static void
test_link_local(void)
{
	addr(&h, "[fe80::1]:8080");
	addr(&w, "[fe80::1]:8080");
	((struct sockaddr_in6 *)&h.ss)->sin6_scope_id = 2;
	((struct sockaddr_in6 *)&w.ss)->sin6_scope_id = 3;
	ok(!match_bind(&h.m, &w.m), "link-local on another interface");
	((struct sockaddr_in6 *)&w.ss)->sin6_scope_id = 2;
	ok(match_bind(&h.m, &w.m), "link-local on the same interface");
}

static void
test_unix(void)
{
	ok(matches("unix:/run/a.sock", "unix:/run/a.sock"), "same path");
	ok(!matches("unix:/run/a.sock", "unix:/run/b.sock"), "other path");
	ok(!matches("unix:/run/a.sock", "unix:/run/a.so"), "a prefix");
	ok(matches("unix:@app", "unix:@app"), "same abstract name");
	ok(!matches("unix:@app", "unix:@ap"), "shorter abstract name");
	ok(!matches("unix:/app", "unix:@app"), "path and abstract");
	ok(!matches("unix:/run/a.sock", "127.0.0.1:80"), "unix held, v4 bind");
	ok(!matches("127.0.0.1:80", "unix:/run/a.sock"), "v4 held, unix bind");
	addr(&h, "unix:/run/a.sock");
	addr(&w, "unix:/run/a.sock");
	w.m.len = sizeof(struct sockaddr_un);
	ok(match_bind(&h.m, &w.m), "the whole sockaddr_un as its length");
	w.m.len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
	    strlen("/run/a.sock"));
	ok(match_bind(&h.m, &w.m), "a length without the NUL");
	w.m.len = offsetof(struct sockaddr_un, sun_path);
	ok(!match_bind(&h.m, &w.m), "unnamed (autobind)");
}

static void
test_short(void)
{
	addr(&h, "127.0.0.1:80");
	addr(&w, "127.0.0.1:80");
	w.m.len = sizeof(struct sockaddr_in) - 1;
	ok(!match_bind(&h.m, &w.m), "a short sockaddr_in");
	addr(&h, "[::1]:80");
	addr(&w, "[::1]:80");
	w.m.len = sizeof(struct sockaddr_in6) - 1;
	ok(!match_bind(&h.m, &w.m), "a short sockaddr_in6");
}

/* The address written back as the -v line names it. */
static const char *
formatted(const char *text)
{
	static char out[128];
	struct match_sock *m = addr(&w, text);

	match_format(m->addr, m->len, out, sizeof(out));
	return out;
}

static void
test_format(void)
{
	const char *texts[] = { "127.0.0.1:80", "[::1]:80", "unix:/run/a",
	    "unix:@x" };
	size_t i;

	for (i = 0; i < sizeof(texts) / sizeof(*texts); i++)
		ok(strcmp(formatted(texts[i]), texts[i]) == 0, "format %s: %s",
		    texts[i], formatted(texts[i]));
}

int
main(void)
{
	test_ipv4();
	test_types();
	test_ipv6();
	test_dual_stack();
	test_link_local();
	test_unix();
	test_short();
	test_format();
	return tap_done();
}
