/*
 * graceful-run reload|status|stop -c PATH [--timeout D] [--json]: ask the
 * graceful-run listening on control socket PATH, print its answer, and
 * exit with what it says. The protocol is described in lib/control.c.
 *
 * Exit status: 0 the request was carried out (reload: the new generation
 * is ready; status: a generation serves; stop: graceful-run exits 0);
 * 1 it was not, or no answer came within --timeout; 2 nothing answers
 * at PATH (no socket, no graceful-run, or not allowed); 125 bad usage.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "graceful-run.h"
#include "commands.h"

#define CLIENT_NOT_DONE 1
#define CLIENT_NO_ANSWER 2
/* The longest answer line taken: a status in JSON is one line. */
#define CLIENT_LINE_MAX (256 * 1024)

struct client {
	const char *verb;
	const char *path;
	bool json;
	int64_t timeout_ns;	/* 0: wait as long as it takes */
	int64_t deadline_ns;
	int fd;
};

static int client_usage(const struct client *, const char *, ...)
    PRINTFLIKE(2, 3);

static int
client_usage(const struct client *cl, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warnx("%s: %s (usage: graceful-run %s -c PATH [--timeout D]%s)",
	    cl->verb, msg, cl->verb,
	    strcmp(cl->verb, "status") == 0 ? " [--json]" : "");
	return EXIT_OWN_FAILURE;
}

static int
client_parse(struct client *cl, int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "control", required_argument, NULL, 'c' },
		{ "timeout", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+:c:", longopts, NULL)) != -1) {
		if (ch == 'c')
			cl->path = optarg;
		else if (ch == 't') {
			if (parse_duration(optarg, &cl->timeout_ns) == -1 ||
			    cl->timeout_ns == 0)
				return client_usage(cl, "--timeout \"%s\": bad "
				    "duration (e.g. 500ms, 10s, 1m)", optarg);
		} else if (ch == 'j' && strcmp(cl->verb, "status") == 0)
			cl->json = true;
		else if (ch == ':')
			return client_usage(cl, "option \"%s\" needs an "
			    "argument", argv[optind - 1]);
		else
			return client_usage(cl, "unknown option \"%s\"",
			    argv[optind - 1]);
	}
	if (optind != argc)
		return client_usage(cl, "unexpected argument \"%s\"",
		    argv[optind]);
	if (cl->path == NULL)
		return client_usage(cl, "%s", "missing -c PATH");
	return 0;
}

static int
client_no_answer(const struct client *cl, const char *why)
{
	log_warnx("%s: %s: %s", cl->verb, cl->path, why);
	return CLIENT_NO_ANSWER;
}

/* Milliseconds left for poll, -1 without a timeout, 0 once it is due. */
static int
client_left_ms(const struct client *cl)
{
	int64_t left;

	if (cl->deadline_ns == 0)
		return -1;
	left = cl->deadline_ns - clock_now();
	if (left <= 0)
		return 0;
	return (int)((left + NSEC_PER_MSEC - 1) / NSEC_PER_MSEC);
}

/* A full listen queue makes connect wait: the timeout bounds that too. */
static int
client_connect(struct client *cl)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tv;
	int64_t left;

	if (strlcpy(sun.sun_path, cl->path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path))
		return client_no_answer(cl, "path too long for a unix socket");
	if ((cl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		log_warn("%s: socket", cl->verb);
		return CLIENT_NO_ANSWER;
	}
	if (cl->deadline_ns != 0) {
		left = cl->deadline_ns - clock_now();
		tv.tv_sec = (time_t)(left / NSEC_PER_SEC);
		tv.tv_usec = (suseconds_t)(left % NSEC_PER_SEC / 1000);
		if (setsockopt(cl->fd, SOL_SOCKET, SO_SNDTIMEO, &tv,
		    sizeof(tv)) == -1) {
			log_warn("%s: setsockopt", cl->verb);
			return CLIENT_NO_ANSWER;
		}
	}
	while (connect(cl->fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN)
			return client_no_answer(cl, "graceful-run is too busy "
			    "to accept (its listen queue is full)");
		if (errno == EACCES || errno == EPERM)
			return client_no_answer(cl, "not allowed (Permission "
			    "denied)");
		log_warnx("%s: %s: nothing answers (%s)", cl->verb, cl->path,
		    strerror(errno));
		return CLIENT_NO_ANSWER;
	}
	return 0;
}

static int
client_send(struct client *cl)
{
	char req[CONTROL_REQUEST_MAX];
	size_t len, off = 0;
	ssize_t n;

	len = (size_t)snprintf(req, sizeof(req), "%s %s%s\n", CONTROL_PROTOCOL,
	    cl->verb, cl->json ? " json" : "");
	while (off < len) {
		n = send(cl->fd, req + off, len - off, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		/* Refused before it asked: the answer says why. */
		if (n == -1 && (errno == EPIPE || errno == ECONNRESET))
			return 0;
		if (n == -1)
			return client_no_answer(cl, strerror(errno));
		off += (size_t)n;
	}
	return 0;
}

/* One answer line: -1 while more is to come, else the exit status. */
static int
client_line(const struct client *cl, char *line)
{
	const char *text;

	if (strncmp(line, "- ", 2) == 0) {
		printf("%s\n", line + 2);
		return -1;
	}
	text = strchr(line, ' ') != NULL ? strchr(line, ' ') + 1 : "";
	*strchrnul(line, ' ') = '\0';
	if (strcmp(line, "ok") == 0) {
		if (*text != '\0')
			printf("%s\n", text);
		return 0;
	}
	if (strcmp(line, "failed") == 0) {
		fflush(stdout);
		if (*text != '\0')
			fprintf(stderr, "%s\n", text);
		return CLIENT_NOT_DONE;
	}
	if (strcmp(line, "error") == 0)
		return client_no_answer(cl, *text != '\0' ? text :
		    "request refused");
	return client_no_answer(cl, "not a graceful-run control socket "
	    "(unexpected answer)");
}

/* Complete lines out of buf; the rest moves to its front. */
static int
client_lines(const struct client *cl, char *buf, size_t *len)
{
	char *nl, *p = buf;
	int rc;

	while ((nl = memchr(p, '\n', *len - (size_t)(p - buf))) != NULL) {
		*nl = '\0';
		if ((rc = client_line(cl, p)) != -1)
			return rc;
		p = nl + 1;
	}
	*len -= (size_t)(p - buf);
	memmove(buf, p, *len);
	if (*len == CLIENT_LINE_MAX)
		return client_no_answer(cl, "answer line too long");
	return -1;
}

static int
client_wait(struct client *cl)
{
	static char buf[CLIENT_LINE_MAX];
	struct pollfd pfd = { .fd = cl->fd, .events = POLLIN };
	size_t len = 0;
	ssize_t n;
	int rc;

	for (;;) {
		rc = poll(&pfd, 1, client_left_ms(cl));
		if (rc == -1 && errno == EINTR)
			continue;
		if (rc == -1) {
			log_warn("%s: poll", cl->verb);
			return CLIENT_NOT_DONE;
		}
		if (rc == 0) {
			fflush(stdout);
			log_warnx("%s: %s: no answer within %.2fs", cl->verb,
			    cl->path, clock_seconds(cl->timeout_ns));
			return CLIENT_NOT_DONE;
		}
		n = read(cl->fd, buf + len, sizeof(buf) - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return client_no_answer(cl, n == 0 ? "graceful-run "
			    "closed the connection without an answer" :
			    strerror(errno));
		len += (size_t)n;
		if ((rc = client_lines(cl, buf, &len)) != -1)
			return rc;
	}
}

int
client_command(int argc, char *argv[])
{
	struct client cl = { .verb = argv[0], .fd = -1 };
	int rc;

	if ((rc = client_parse(&cl, argc, argv)) != 0)
		return rc;
	if (cl.timeout_ns != 0)
		cl.deadline_ns = clock_now() + cl.timeout_ns;
	if ((rc = client_connect(&cl)) == 0 && (rc = client_send(&cl)) == 0)
		rc = client_wait(&cl);
	if (cl.fd != -1)
		close(cl.fd);
	if (fflush(stdout) == EOF && rc == 0)
		rc = CLIENT_NOT_DONE;
	return rc;
}

bool
client_is_verb(const char *word)
{
	return strcmp(word, "reload") == 0 || strcmp(word, "status") == 0 ||
	    strcmp(word, "stop") == 0;
}
