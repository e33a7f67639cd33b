/* Unit tests for what lib/ parses: -l specs, durations, signals, --ready. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>

#include "graceful-run.h"
#include "tap.h"

static struct listen_spec spec;
static char why[256];

static int
parses(const char *text)
{
	return listen_parse(text, &spec, why, sizeof(why)) == 0;
}

static void
test_listen_inet(void)
{
	char text[305];

	ok(parses("8080") && spec.kind == LISTEN_TCP && spec.host[0] == '\0' &&
	    strcmp(spec.port, "8080") == 0, "bare port");
	ok(parses(":8080") && spec.host[0] == '\0', ":port is every interface");
	ok(parses("127.0.0.1:80") && strcmp(spec.host, "127.0.0.1") == 0,
	    "v4 host");
	ok(parses("[::1]:80") && strcmp(spec.host, "::1") == 0, "v6 host");
	ok(parses("localhost:80") && strcmp(spec.host, "localhost") == 0,
	    "host name");
	ok(parses("udp:127.0.0.1:53") && spec.kind == LISTEN_UDP, "udp");
	ok(parses("tcp:9000") && spec.kind == LISTEN_TCP, "tcp: prefix");
	ok(parses("web=:8080") && strcmp(spec.name, "web") == 0, "name prefix");
	ok(parses(":8080") && strcmp(spec.name, "tcp-8080") == 0,
	    "derived name");
	ok(parses(":8080,backlog=16,reuseport,v6only") && spec.backlog == 16 &&
	    spec.reuseport && spec.v6only, "inet options");
	ok(parses("127.0.0.1:000008080") && strcmp(spec.port, "8080") == 0 &&
	    strcmp(spec.name, "tcp-8080") == 0, "leading zeros: port %s",
	    spec.port);
	ok(parses("unix:/run/a.sock,nonblock") && spec.nonblock, "nonblock");
	ok(!parses("::1:80"), "bare v6 rejected: %s", why);
	ok(!parses(":0") && !parses(":65536") && !parses(":http") &&
	    !parses("host:") && !parses(":+80") && !parses(": 80") &&
	    !parses(":-0") && !parses(":99999999999999999999999"),
	    "bad ports rejected: %s", why);
	ok(!parses(":80,backlog=+5") && !parses(":80,backlog=0") &&
	    !parses(":80,backlog=65536"), "bad backlogs rejected: %s", why);
	ok(!parses("[::1:80"), "unclosed bracket rejected: %s", why);
	memset(text, 'a', sizeof(text));
	memcpy(text, "[", 1);
	memcpy(text + 300, "]:80", 5);
	ok(!parses(text), "bracketed host too long: %s", why);
	ok(!parses(":80,mode=0600"), "mode on tcp rejected: %s", why);
	ok(!parses("udp::53,backlog=3"), "backlog on udp rejected: %s", why);
	ok(!parses(":80,frobnicate"), "unknown option rejected: %s", why);
	ok(!parses("a:b=:80") && !parses("=:80"), "bad names rejected");
}

static void
test_listen_unix(void)
{
	ok(parses("unix:/run/app.sock") && spec.kind == LISTEN_UNIX &&
	    strcmp(spec.path, "/run/app.sock") == 0 &&
	    strcmp(spec.name, "app.sock") == 0, "unix path");
	ok(parses("unix:@abstract") && strcmp(spec.path, "@abstract") == 0 &&
	    strcmp(spec.name, "abstract") == 0, "abstract");
	ok(parses("unix:/tmp/s,mode=0660,owner=root:root") && spec.has_mode &&
	    spec.mode == 0660 && spec.has_owner && spec.uid == 0,
	    "mode and owner");
	ok(!parses("unix:/tmp/s,mode=999"), "bad mode: %s", why);
	ok(!parses("unix:/tmp/s,mode=100000000000") &&
	    !parses("unix:/tmp/s,mode=-0") && !parses("unix:/tmp/s,mode=010000") &&
	    !parses("unix:/tmp/s,mode=") && !parses("unix:/tmp/s,mode=+7"),
	    "out of range or signed modes: %s", why);
	ok(parses("unix:/tmp/s,mode=07777") && spec.mode == 07777 &&
	    parses("unix:/tmp/s,mode=0") && spec.mode == 0, "mode bounds");
	ok(!parses("unix:/tmp/s,mode=100000000000"), "mode past 32 bits: %s",
	    why);
	ok(!parses("unix:/tmp/s,mode=-0"), "signed mode: %s", why);
	ok(!parses("unix:/tmp/s,mode= 660"), "blank before mode: %s", why);
	ok(!parses("unix:/tmp/s,owner=no-such-user-here"), "bad owner: %s", why);
	ok(!parses("unix:@x,mode=0600"), "mode on abstract: %s", why);
	ok(!parses("unix:"), "empty path: %s", why);
	ok(!parses("unix:/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
	    "long path: %s", why);
}

static void
test_durations(void)
{
	int64_t ns;

	ok(parse_duration("250ms", &ns) == 0 && ns == 250 * NSEC_PER_MSEC,
	    "250ms");
	ok(parse_duration("2s", &ns) == 0 && ns == 2 * NSEC_PER_SEC, "2s");
	ok(parse_duration("1m", &ns) == 0 && ns == 60 * NSEC_PER_SEC, "1m");
	ok(parse_duration("3", &ns) == 0 && ns == 3 * NSEC_PER_SEC,
	    "bare number is seconds");
	ok(parse_duration("1.5s", &ns) == 0 && ns == 1500 * NSEC_PER_MSEC,
	    "fraction");
	ok(parse_duration("0", &ns) == 0 && ns == 0, "zero");
	ok(parse_duration("120000ms", &ns) == 0 && ns == 120 * NSEC_PER_SEC,
	    "the cap is on the duration, not the number");
	ok(parse_duration("86400000ms", &ns) == 0 && parse_duration("24h", &ns) == 0
	    && parse_duration("1440m", &ns) == 0, "24h exactly");
	ok(parse_duration("86400001ms", &ns) == -1 && errno == ERANGE &&
	    parse_duration("99999999999999999999999s", &ns) == -1 &&
	    errno == ERANGE, "over 24h: ERANGE");
	ok(parse_duration("86400000ms", &ns) == 0 &&
	    parse_duration("1440m", &ns) == 0 && ns == 86400 * NSEC_PER_SEC &&
	    parse_duration("86400001ms", &ns) == -1 &&
	    parse_duration("1441m", &ns) == -1, "24h in any unit, no more");
	ok(parse_duration("", &ns) == -1 && parse_duration("-1s", &ns) == -1 &&
	    parse_duration("5x", &ns) == -1 && parse_duration("s", &ns) == -1 &&
	    parse_duration("25h", &ns) == -1, "bad durations rejected");
}

static void
test_signals(void)
{
	int signo;

	ok(parse_signal("TERM", &signo) == 0 && signo == SIGTERM, "TERM");
	ok(parse_signal("sigquit", &signo) == 0 && signo == SIGQUIT, "sigquit");
	ok(parse_signal("10", &signo) == 0 && signo == 10, "number");
	ok(parse_signal("NOPE", &signo) == -1 && parse_signal("0", &signo) == -1
	    && parse_signal("999", &signo) == -1 &&
	    parse_signal("15x", &signo) == -1 &&
	    parse_signal("99999999999999999999", &signo) == -1,
	    "bad signals rejected");
	ok(parse_signal("32", &signo) == -1 && parse_signal("33", &signo) == -1,
	    "glibc's own signals rejected");
	snprintf(why, sizeof(why), "%d", SIGRTMIN);
	ok(parse_signal(why, &signo) == 0 && signo == SIGRTMIN, "SIGRTMIN");
	ok(strcmp(parse_signame(SIGWINCH), "WINCH") == 0, "signame");
}

static void
test_numbers(void)
{
	uint64_t n;

	ok(parse_uint("000008080", 10, 65535, &n) == 0 && n == 8080,
	    "leading zeros");
	ok(parse_uint("0660", 8, 07777, &n) == 0 && n == 0660, "octal");
	ok(parse_uint("08", 8, 07777, &n) == -1 && errno == EINVAL,
	    "not an octal digit");
	ok(parse_uint("65536", 10, 65535, &n) == -1 && errno == ERANGE,
	    "over the maximum");
	ok(parse_uint("18446744073709551616", 10, UINT64_MAX, &n) == -1 &&
	    errno == ERANGE && parse_uint("18446744073709551615", 10,
	    UINT64_MAX, &n) == 0 && n == UINT64_MAX, "no overflow");
	ok(parse_uint("", 10, 9, &n) == -1 && parse_uint("-0", 10, 9, &n) == -1
	    && parse_uint("+1", 10, 9, &n) == -1 &&
	    parse_uint(" 1", 10, 9, &n) == -1, "digits only");
}

static void
test_excerpts(void)
{
	struct log_excerpt ex;
	char big[5000];

	ok(strcmp(log_excerpt(&ex, "a\"b\\c\nd"), "\"a\\\"b\\\\c\\x0ad\"") == 0,
	    "quotes, backslashes and control characters escaped: %s", ex.s);
	memset(big, '\n', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ok(strlen(log_excerpt(&ex, big)) == 2 + 4 * LOG_EXCERPT_MAX + 3 &&
	    strcmp(ex.s + strlen(ex.s) - 4, "\"...") == 0, "bounded: %zu bytes",
	    strlen(ex.s));
	ok(strcmp(log_excerpt(&ex, ""), "\"\"") == 0, "empty");
}

static void
test_ready(void)
{
	struct ready_config rc = { 0 };

	ok(ready_parse("auto", &rc) == 0 && rc.mode == READY_AUTO &&
	    rc.wait_ns == NSEC_PER_SEC && rc.timeout_ns == 60 * NSEC_PER_SEC,
	    "auto defaults");
	ok(ready_parse("auto:250ms", &rc) == 0 &&
	    rc.wait_ns == 250 * NSEC_PER_MSEC, "auto:250ms");
	ok(ready_parse("delay:2s", &rc) == 0 && rc.mode == READY_DELAY, "delay");
	ok(ready_parse("exec:true", &rc) == 0 && rc.mode == READY_EXEC &&
	    strcmp(rc.command, "true") == 0, "exec");
	ok(ready_parse("notify", &rc) == 0 && ready_offers_channels(&rc),
	    "notify offers channels");
	ok(ready_parse("delay:x", &rc) == -1 && ready_parse("exec:", &rc) == -1
	    && ready_parse("sometimes", &rc) == -1, "bad modes rejected");
}

int
main(void)
{
	test_listen_inet();
	test_listen_unix();
	test_durations();
	test_signals();
	test_numbers();
	test_excerpts();
	test_ready();
	return tap_done();
}
