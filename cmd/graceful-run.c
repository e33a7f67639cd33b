/*
 * graceful-run: bind the listening sockets once, run a server on them, and
 * replace it on SIGHUP without refusing a connection.
 *
 * main: options -> config -> sockets -> the supervise loop.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "graceful-run.h"
#include "commands.h"

enum {
	OPT_READY = 256, OPT_READY_TIMEOUT, OPT_CHECK, OPT_STOP_SIGNAL,
	OPT_STOP_TIMEOUT, OPT_RELOAD_SIGNAL, OPT_STOP_GROUP, OPT_RESTART,
	OPT_RESTART_DELAY, OPT_RESTART_MAX_DELAY, OPT_FORKING,
};

static const struct option longopts[] = {
	{ "listen", required_argument, NULL, 'l' },
	{ "ready", required_argument, NULL, OPT_READY },
	{ "ready-timeout", required_argument, NULL, OPT_READY_TIMEOUT },
	{ "check", required_argument, NULL, OPT_CHECK },
	{ "stop-signal", required_argument, NULL, OPT_STOP_SIGNAL },
	{ "stop-timeout", required_argument, NULL, OPT_STOP_TIMEOUT },
	{ "reload-signal", required_argument, NULL, OPT_RELOAD_SIGNAL },
	{ "stop-group", no_argument, NULL, OPT_STOP_GROUP },
	{ "restart", no_argument, NULL, OPT_RESTART },
	{ "restart-delay", required_argument, NULL, OPT_RESTART_DELAY },
	{ "restart-max-delay", required_argument, NULL, OPT_RESTART_MAX_DELAY },
	{ "forking", optional_argument, NULL, OPT_FORKING },
	{ "quiet", no_argument, NULL, 'q' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

#define FDS_PER_RELOAD 8

struct options {
	struct config cfg;
	struct listen_spec specs[MAX_LISTENERS];
	size_t nspecs;
	const char *ready_text;
	int64_t ready_timeout_ns;
};

static void
usage(void)
{
	printf(
"Usage: graceful-run [OPTION]... -- COMMAND [ARG]...\n"
"       graceful-run notify [--ready] [--status TEXT]\n"
"Run COMMAND with listening sockets at fd 3, 4, ...; on SIGHUP start a new\n"
"copy, wait until it is ready, then stop the old one gracefully.\n"
"\n"
"  -l, --listen [NAME=]ADDRESS[,OPT]...\n"
"                         bind ADDRESS: PORT, :PORT, HOST:PORT, [V6]:PORT,\n"
"                         unix:PATH, unix:@NAME, udp:HOST:PORT; OPT is\n"
"                         backlog=N, reuseport, v6only, nonblock,\n"
"                         mode=0660, owner=USER[:GROUP]; repeatable, in\n"
"                         fd order\n"
"      --ready MODE       auto[:DURATION] (default auto:1s), notify,\n"
"                         delay:DURATION or exec:COMMAND\n"
"      --ready-timeout DURATION\n"
"                         a new generation not ready by then has failed\n"
"                         (default 60s)\n"
"      --check COMMAND    run COMMAND before each reload; if it fails, or\n"
"                         is not done within the ready timeout, so does\n"
"                         the reload\n"
"      --stop-signal SIG  sent to an old generation's main process, then,\n"
"                         once that has exited, to what it left (default\n"
"                         TERM)\n"
"      --stop-group       send the stop signal to the whole process group\n"
"                         at once\n"
"      --stop-timeout DURATION\n"
"                         SIGKILL what is left of an old generation this\n"
"                         long after the stop signal (default 30s)\n"
"      --restart          start the command again when the current\n"
"                         generation dies by itself\n"
"      --restart-delay DURATION\n"
"                         the first wait before a restart (default 1s);\n"
"                         it doubles at each crash\n"
"      --restart-max-delay DURATION\n"
"                         the longest wait (default 1m); a generation\n"
"                         that served that long resets it\n"
"      --forking[=PIDFILE]\n"
"                         the command forks a daemon and exits 0; the\n"
"                         daemon (named by PIDFILE, else the process it\n"
"                         left) is the generation's main process\n"
"      --reload-signal SIG\n"
"                         reload on SIG instead of HUP; HUP is then\n"
"                         forwarded to the current generation\n"
"  -q, --quiet            log errors only\n"
"  -v, --verbose          log more\n"
"  -h, --help             show this help and exit\n"
"  -V, --version          show the version and exit\n"
"\n"
"DURATION: 250ms, 2s, 1m, 1h; a bare number is seconds.\n"
"Without -l, sockets passed by systemd (LISTEN_FDS) are handed on.\n"
"Exit status: the command's (128+N for signal N); 125 graceful-run failed;\n"
"126 COMMAND not executable; 127 COMMAND not found.\n");
}

static noreturn void usage_error(const char *, ...) PRINTFLIKE(1, 2);

static noreturn void
usage_error(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warnx("%s (see graceful-run --help)", msg);
	exit(EXIT_OWN_FAILURE);
}

static void
parse_listen_option(struct options *o, const char *text)
{
	char why[256];

	if (o->nspecs == MAX_LISTENERS)
		usage_error("more than %d -l options at \"%s\"", MAX_LISTENERS, text);
	if (listen_parse(text, &o->specs[o->nspecs], why, sizeof(why)) == -1) {
		log_warnx("listen \"%s\": %s", text, why);
		exit(EXIT_OWN_FAILURE);
	}
	o->nspecs++;
}

static int64_t
parse_duration_option(const char *name, const char *text)
{
	int64_t ns;

	if (parse_duration(text, &ns) == -1) {
		log_warnx("%s \"%s\": bad duration (e.g. 250ms, 2s, 1m; "
		    "at most 24h)", name, text);
		exit(EXIT_OWN_FAILURE);
	}
	return ns;
}

static int
parse_signal_option(const char *name, const char *text)
{
	int signo;

	if (parse_signal(text, &signo) == -1) {
		log_warnx("%s \"%s\": unknown signal (e.g. TERM, SIGQUIT, 15)",
		    name, text);
		exit(EXIT_OWN_FAILURE);
	}
	return signo;
}

static void
parse_one_option(struct options *o, int ch, char *argv[])
{
	switch (ch) {
	case 'l':
		parse_listen_option(o, optarg);
		break;
	case OPT_READY:
		o->ready_text = optarg;
		break;
	case OPT_READY_TIMEOUT:
		o->ready_timeout_ns = parse_duration_option("--ready-timeout",
		    optarg);
		if (o->ready_timeout_ns == 0)
			usage_error("--ready-timeout \"%s\": must be more "
			    "than 0", optarg);
		break;
	case OPT_CHECK:
		o->cfg.check = optarg;
		break;
	case OPT_STOP_SIGNAL:
		o->cfg.stop_signal = parse_signal_option("--stop-signal", optarg);
		break;
	case OPT_STOP_TIMEOUT:
		o->cfg.stop_timeout_ns = parse_duration_option("--stop-timeout",
		    optarg);
		break;
	case OPT_STOP_GROUP:
		o->cfg.stop_group = true;
		break;
	case OPT_RESTART:
		o->cfg.restart = true;
		break;
	case OPT_RESTART_DELAY:
		o->cfg.restart_delay_ns = parse_duration_option(
		    "--restart-delay", optarg);
		break;
	case OPT_RESTART_MAX_DELAY:
		o->cfg.restart_max_delay_ns = parse_duration_option(
		    "--restart-max-delay", optarg);
		break;
	case OPT_FORKING:
		o->cfg.forking = true;
		if (optarg != NULL && *optarg == '\0')
			usage_error("--forking=: empty pid file name");
		o->cfg.forking_pidfile = optarg;
		break;
	case OPT_RELOAD_SIGNAL:
		o->cfg.reload_signal = parse_signal_option("--reload-signal",
		    optarg);
		break;
	case 'q':
		log_init(LOG_QUIET);
		break;
	case 'v':
		log_init(LOG_VERBOSE);
		break;
	case 'h':
		usage();
		exit(0);
	case 'V':
		printf("graceful-run %s\n", PACKAGE_VERSION);
		exit(0);
	case ':':
		usage_error("option \"%s\" needs an argument", argv[optind - 1]);
	default:
		usage_error("unknown option \"%s\"", argv[optind - 1]);
	}
}

static void
parse_options(struct options *o, int argc, char *argv[])
{
	int ch;

	o->cfg.stop_signal = SIGTERM;
	o->cfg.stop_timeout_ns = 30 * NSEC_PER_SEC;
	o->cfg.restart_delay_ns = NSEC_PER_SEC;
	o->cfg.restart_max_delay_ns = 60 * NSEC_PER_SEC;
	o->ready_text = "auto";
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+:l:qvhV", longopts, NULL)) != -1)
		parse_one_option(o, ch, argv);
	if (optind == argc)
		usage_error("missing %s", "-- COMMAND");
	if (strcmp(argv[optind - 1], "--") != 0)
		usage_error("missing \"--\" before \"%s\"", argv[optind]);
	o->cfg.argv = argv + optind;
	o->cfg.ready.timeout_ns = o->ready_timeout_ns;
	if (ready_parse(o->ready_text, &o->cfg.ready) == -1)
		usage_error("--ready \"%s\": want auto[:DURATION], notify, "
		    "delay:DURATION or exec:COMMAND", o->ready_text);
	if (o->cfg.restart_delay_ns == 0 ||
	    o->cfg.restart_max_delay_ns < o->cfg.restart_delay_ns)
		usage_error("--restart-delay must be more than 0 and at most "
		    "--restart-max-delay");
	if (o->cfg.reload_signal == SIGTERM || o->cfg.reload_signal == SIGINT ||
	    o->cfg.reload_signal == SIGQUIT || o->cfg.reload_signal == SIGCHLD ||
	    o->cfg.reload_signal == SIGKILL || o->cfg.reload_signal == SIGSTOP)
		usage_error("--reload-signal %s: that signal has another use",
		    parse_signame(o->cfg.reload_signal));
}

/* A closed 0, 1 or 2 would hand a socket to the child as its stdin. */
static void
open_standard_fds(void)
{
	int fd;

	for (fd = 0; fd < 3; fd++) {
		if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
			continue;
		if (open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) != fd)
			exit(EXIT_OWN_FAILURE);
	}
}

static int
open_sockets(const struct options *o, struct listeners *ls)
{
	struct rlimit rl;
	int rc;

	rc = o->nspecs > 0 ? sockets_bind(o->specs, o->nspecs, ls) :
	    sockets_adopt(ls);
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDNAMES");
	if (rc == -1)
		return -1;
	/*
	 * Besides 0-2 and the sockets, a reload holds the signalfd, a ready
	 * pipe, a notify socket and an exec-error pipe, and the old
	 * generation's notify socket.
	 */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    FIRST_LISTEN_FD + ls->n + FDS_PER_RELOAD > rl.rlim_cur) {
		log_warnx("%zu sockets: too many for the fd limit (%llu; "
		    "graceful-run needs %zu)", ls->n,
		    (unsigned long long)rl.rlim_cur,
		    FIRST_LISTEN_FD + ls->n + FDS_PER_RELOAD);
		sockets_release(ls);
		return -1;
	}
	return 0;
}

static struct listeners *listeners_for_cleanup;

static void
cleanup_after_fatal(void)
{
	supervise_abort();
	if (listeners_for_cleanup != NULL)
		sockets_release(listeners_for_cleanup);
}

int
main(int argc, char *argv[])
{
	static struct options o;
	static struct listeners ls;
	int sigfd, status;

	if (argc > 1 && strcmp(argv[1], "notify") == 0)
		return notify_command(argc - 1, argv + 1);
	open_standard_fds();
	parse_options(&o, argc, argv);
	sdnotify_capture();
	if ((sigfd = signals_open(o.cfg.reload_signal)) == -1)
		fatal("signals");
	if (getpid() != 1 && prctl(PR_SET_CHILD_SUBREAPER, 1) == -1)
		fatal("prctl PR_SET_CHILD_SUBREAPER");
	if (open_sockets(&o, &ls) == -1)
		return EXIT_OWN_FAILURE;
	listeners_for_cleanup = &ls;
	log_on_fatal(cleanup_after_fatal);
	status = supervise_run(&o.cfg, &ls, sigfd);
	sockets_release(&ls);
	close(sigfd);
	return status;
}
