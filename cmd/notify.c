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

static int
notify_ready_fd(void)
{
	const char *env = getenv("GRACEFUL_RUN_READY_FD"), *errstr = NULL;
	ssize_t n;
	int fd;

	if (env == NULL)
		return -1;
	fd = (int)strtonum(env, 0, INT32_MAX, &errstr);
	if (errstr != NULL) {
		log_warnx("notify: GRACEFUL_RUN_READY_FD=\"%s\": %s", env, errstr);
		return -1;
	}
	do
		n = write(fd, "ready\n", 6);
	while (n == -1 && errno == EINTR);
	if (n == -1) {
		log_warn("notify: ready fd %d", fd);
		return -1;
	}
	return 0;
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
	char msg[1024];
	bool ready = false;
	int ch;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
		if (ch == 'r')
			ready = true;
		else if (ch == 's')
			status = optarg;
		else {
			log_warnx("notify: unknown option \"%s\" (--ready, "
			    "--status TEXT)", argv[optind - 1]);
			return EXIT_OWN_FAILURE;
		}
	}
	if (optind != argc || (!ready && status == NULL)) {
		log_warnx("notify: say --ready, --status TEXT or both");
		return EXIT_OWN_FAILURE;
	}
	if (sock == NULL) {
		/* The pipe carries readiness only; a status has nowhere to go. */
		if (ready && notify_ready_fd() == 0)
			return 0;
		log_warnx("notify: neither NOTIFY_SOCKET nor "
		    "GRACEFUL_RUN_READY_FD is set");
		return EXIT_FAILURE;
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
