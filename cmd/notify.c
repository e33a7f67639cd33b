/*
 * graceful-run notify [--ready] [--status TEXT]: for children that are
 * shell scripts, tell the waiting graceful-run through whichever channel
 * the environment names.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "graceful-run.h"
#include "commands.h"

/* 0 written, 1 when no pipe is named, -1 on failure (logged). */
static int
notify_ready_fd(void)
{
	const char *env = getenv("GRACEFUL_RUN_READY_FD");
	struct log_excerpt ex;
	uint64_t fd;
	ssize_t n;

	if (env == NULL)
		return 1;
	if (parse_uint(env, 10, INT32_MAX, &fd) == -1) {
		log_warnx("notify: GRACEFUL_RUN_READY_FD is not a descriptor "
		    "number: %s", log_excerpt(&ex, env));
		return -1;
	}
	do
		n = write((int)fd, "ready\n", 6);
	while (n == -1 && errno == EINTR);
	if (n == -1) {
		log_warn("notify: ready fd %d", (int)fd);
		return -1;
	}
	return 0;
}

/*
 * One line of printable text: a newline would start a line of its own in
 * the datagram ("x\nREADY=1" would say ready).
 */
static bool
notify_status_valid(const char *status)
{
	const unsigned char *p;
	struct log_excerpt ex;

	for (p = (const unsigned char *)status; *p != '\0'; p++) {
		if (*p >= ' ' && *p != 0x7f)
			continue;
		log_warnx("notify: --status text has a control character "
		    "(0x%02x at byte %zu): %s", *p,
		    (size_t)(p - (const unsigned char *)status),
		    log_excerpt(&ex, status));
		return false;
	}
	return true;
}

int
notify_command(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "ready", no_argument, NULL, 'r' },
		{ "status", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	const char *status = NULL, *sock = getenv("NOTIFY_SOCKET");
	struct log_excerpt ex;
	char msg[1024];
	bool ready = false;
	char text[LOG_EXCERPT_MAX + 2];	/* one more: the excerpt says it was cut */
	int ch, start = optind, rc;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+:", longopts, NULL)) != -1) {
		if (ch == 'r')
			ready = true;
		else if (ch == 's')
			status = optarg;
		else {
			cmd_option_text(text, sizeof(text), argv, start);
			log_warnx("notify: %s %s (--ready, --status TEXT)",
			    ch == ':' ? "option needs an argument:" :
			    "unknown option", log_excerpt(&ex, text));
			return EXIT_OWN_FAILURE;
		}
		start = optind;
	}
	if (optind != argc || (!ready && status == NULL)) {
		log_warnx("notify: say --ready, --status TEXT or both");
		return EXIT_OWN_FAILURE;
	}
	if (status != NULL && !notify_status_valid(status))
		return EXIT_OWN_FAILURE;
	if (sock == NULL) {
		/* The pipe carries readiness only; a status has nowhere to go. */
		rc = ready ? notify_ready_fd() : 1;
		if (rc == 1)
			log_warnx("notify: neither NOTIFY_SOCKET nor "
			    "GRACEFUL_RUN_READY_FD is set");
		return rc == 0 ? 0 : EXIT_FAILURE;
	}
	snprintf(msg, sizeof(msg), "%s%s%s%s", ready ? "READY=1\n" : "",
	    status != NULL ? "STATUS=" : "", status != NULL ? status : "",
	    status != NULL ? "\n" : "");
	if (sdnotify_send(sock, msg) == -1) {
		log_warn("notify: %s", sock);
		return EXIT_FAILURE;
	}
	return 0;
}
