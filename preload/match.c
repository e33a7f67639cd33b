/*
 * The matching rules of --takeover: whether a program's bind() asks for an
 * address that one of graceful-run's sockets already serves. Pure
 * functions of the two addresses, so they are unit tested on their own.
 *
 * Same type and protocol, same port (never port 0), and the same address,
 * where a wildcard matches only the wildcard. An IPv4 bind matches a
 * dual-stack IPv6 socket where the kernel would deliver that IPv4 traffic
 * to it: [::] for 0.0.0.0, [::ffff:A] for A. A unix path matches the same
 * path, an abstract name the same name.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "preload.h"

static const struct sockaddr_in *
match_in(const struct sockaddr *sa, socklen_t len)
{
	if (sa->sa_family != AF_INET || len < sizeof(struct sockaddr_in))
		return NULL;
	return (const struct sockaddr_in *)(const void *)sa;
}

static const struct sockaddr_in6 *
match_in6(const struct sockaddr *sa, socklen_t len)
{
	if (sa->sa_family != AF_INET6 || len < sizeof(struct sockaddr_in6))
		return NULL;
	return (const struct sockaddr_in6 *)(const void *)sa;
}

/* The IPv4 address an IPv6 one carries as ::ffff:A.B.C.D. */
static bool
match_mapped(const struct in6_addr *a6, struct in_addr *a4)
{
	if (!IN6_IS_ADDR_V4MAPPED(a6))
		return false;
	memcpy(&a4->s_addr, &a6->s6_addr[12], sizeof(a4->s_addr));
	return true;
}

static bool
match_in6_same(const struct sockaddr_in6 *h, const struct sockaddr_in6 *w)
{
	if (memcmp(&h->sin6_addr, &w->sin6_addr, sizeof(h->sin6_addr)) != 0)
		return false;
	/* fe80::1 on two interfaces are two addresses. */
	return !IN6_IS_ADDR_LINKLOCAL(&h->sin6_addr) ||
	    h->sin6_scope_id == w->sin6_scope_id;
}

/* An IPv4 bind against an IPv6 socket that also takes IPv4. */
static bool
match_v4_on_v6(const struct sockaddr_in6 *h, bool v6only,
    const struct sockaddr_in *w)
{
	struct in_addr mapped;

	if (v6only || h->sin6_port != w->sin_port)
		return false;
	if (IN6_IS_ADDR_UNSPECIFIED(&h->sin6_addr))
		return w->sin_addr.s_addr == htonl(INADDR_ANY);
	return match_mapped(&h->sin6_addr, &mapped) &&
	    mapped.s_addr == w->sin_addr.s_addr;
}

static bool
match_inet(const struct match_sock *held, const struct match_sock *want)
{
	const struct sockaddr_in *h4 = match_in(held->addr, held->len);
	const struct sockaddr_in *w4 = match_in(want->addr, want->len);
	const struct sockaddr_in6 *h6 = match_in6(held->addr, held->len);
	const struct sockaddr_in6 *w6 = match_in6(want->addr, want->len);
	struct in_addr mapped;

	if (h4 != NULL && w4 != NULL)
		return h4->sin_port == w4->sin_port &&
		    h4->sin_addr.s_addr == w4->sin_addr.s_addr;
	if (h6 != NULL && w6 != NULL)
		return h6->sin6_port == w6->sin6_port && match_in6_same(h6, w6);
	if (h6 != NULL && w4 != NULL)
		return match_v4_on_v6(h6, held->v6only, w4);
	if (h4 != NULL && w6 != NULL && !want->v6only)
		return h4->sin_port == w6->sin6_port &&
		    match_mapped(&w6->sin6_addr, &mapped) &&
		    mapped.s_addr == h4->sin_addr.s_addr;
	return false;
}

bool
match_port_zero(const struct sockaddr *sa, socklen_t len)
{
	const struct sockaddr_in *s4 = match_in(sa, len);
	const struct sockaddr_in6 *s6 = match_in6(sa, len);

	return (s4 != NULL && s4->sin_port == 0) ||
	    (s6 != NULL && s6->sin6_port == 0);
}

/* The significant bytes of a unix address: a path stops at its NUL. */
static size_t
match_unix_len(const struct sockaddr_un *sun, socklen_t len)
{
	size_t max = len - offsetof(struct sockaddr_un, sun_path);

	if (max > sizeof(sun->sun_path))
		max = sizeof(sun->sun_path);
	if (max > 0 && sun->sun_path[0] == '\0')
		return max;
	return strnlen(sun->sun_path, max);
}

/* A path or an abstract name, not an unnamed (autobind) address. */
bool
match_unix_named(const struct sockaddr *sa, socklen_t len)
{
	return sa->sa_family == AF_UNIX &&
	    len > offsetof(struct sockaddr_un, sun_path);
}

static bool
match_unix(const struct match_sock *held, const struct match_sock *want)
{
	const struct sockaddr_un *h = (const void *)held->addr;
	const struct sockaddr_un *w = (const void *)want->addr;
	size_t hl, wl;

	if (!match_unix_named(held->addr, held->len) ||
	    !match_unix_named(want->addr, want->len))
		return false;
	hl = match_unix_len(h, held->len);
	wl = match_unix_len(w, want->len);
	return hl == wl && hl > 0 && memcmp(h->sun_path, w->sun_path, hl) == 0;
}

bool
match_bind(const struct match_sock *held, const struct match_sock *want)
{
	if (held->type != want->type || held->protocol != want->protocol)
		return false;
	if (held->addr->sa_family == AF_UNIX)
		return want->addr->sa_family == AF_UNIX && match_unix(held, want);
	if (match_port_zero(want->addr, want->len))
		return false;
	return match_inet(held, want);
}

/* "127.0.0.1:80", "[::1]:80", "/run/a.sock", "@name", for the -v line. */
void
match_format(const struct sockaddr *sa, socklen_t len, char *out,
    size_t outlen)
{
	const struct sockaddr_in *s4 = match_in(sa, len);
	const struct sockaddr_in6 *s6 = match_in6(sa, len);
	const struct sockaddr_un *sun = (const void *)sa;
	char host[INET6_ADDRSTRLEN];
	size_t n;

	if (s4 != NULL && inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host)))
		snprintf(out, outlen, "%s:%u", host, ntohs(s4->sin_port));
	else if (s6 != NULL &&
	    inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host)))
		snprintf(out, outlen, "[%s]:%u", host, ntohs(s6->sin6_port));
	else if (match_unix_named(sa, len)) {
		n = match_unix_len(sun, len);
		if (sun->sun_path[0] == '\0')
			snprintf(out, outlen, "unix:@%.*s", (int)(n - 1),
			    sun->sun_path + 1);
		else
			snprintf(out, outlen, "unix:%.*s", (int)n,
			    sun->sun_path);
	} else
		snprintf(out, outlen, "an address of family %d", sa->sa_family);
}
