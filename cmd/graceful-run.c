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
	OPT_RESTART_DELAY, OPT_RESTART_MAX_DELAY, OPT_FORKING, OPT_STATUS_FILE,
	OPT_TAKEOVER,
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
	{ "pid-file", required_argument, NULL, 'p' },
	{ "control", required_argument, NULL, 'c' },
	{ "status-file", required_argument, NULL, OPT_STATUS_FILE },
	{ "user", required_argument, NULL, 'u' },
	{ "chdir", required_argument, NULL, 'C' },
	{ "takeover", no_argument, NULL, OPT_TAKEOVER },
	{ "quiet", no_argument, NULL, 'q' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

struct options {
	struct config cfg;
	struct listen_spec specs[MAX_LISTENERS];
	size_t nspecs;
	const char *ready_text;
	int64_t ready_timeout_ns;
	const char *pid_file;
	const char *control;
	const char *status_file;
	struct runas user;
	const char *dir;
	bool takeover;
	bool verbose;
};

static void
usage(void)
{
	printf(
"Usage: graceful-run [OPTION]... -- COMMAND [ARG]...\n"
"       graceful-run reload|stop -c PATH [--timeout DURATION]\n"
"       graceful-run status -c PATH [--json] [--timeout DURATION]\n"
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
"      --ready MODE       auto[:DURATION] (default auto:1s): ready at the\n"
"                         first notification, else once seen accepting,\n"
"                         else once alive DURATION; accepting, notify,\n"
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
"  -p, --pid-file FILE    write graceful-run's pid to FILE, locked: a second\n"
"                         graceful-run on FILE fails\n"
"  -c, --control PATH     answer reload, status and stop on unix socket PATH\n"
"                         (mode 0600)\n"
"      --status-file FILE keep FILE a JSON copy of the status, replaced at\n"
"                         every change\n"
"  -u, --user USER[:GROUP]\n"
"                         run every generation, check and probe as USER\n"
"                         (sockets and files are made before)\n"
"  -C, --chdir DIR        start every generation in DIR, resolved anew at\n"
"                         each reload\n"
"      --takeover         for a COMMAND that binds its own ports: its bind()\n"
"                         of an address given with -l gets graceful-run's\n"
"                         socket instead (a preloaded library; not for\n"
"                         statically linked programs)\n"
"  -q, --quiet            log errors only\n"
"  -v, --verbose          log more\n"
"  -h, --help             show this help and exit\n"
"  -V, --version          show the version and exit\n"
"\n"
"DURATION: 250ms, 2s, 1m, 1h; a bare number is seconds.\n"
"Without -l, sockets passed by systemd (LISTEN_FDS) are handed on.\n"
"Exit status: the command's (128+N for signal N); 125 graceful-run failed;\n"
"126 COMMAND not executable; 127 COMMAND not found.\n"
"reload, status, stop: 0 done (status: a generation serves); 1 not done,\n"
"or no answer within --timeout; 2 nothing answers at PATH; 125 bad usage.\n");
}

static noreturn void usage_error(const char *, ...) PRINTFLIKE(1, 2);

static noreturn void
usage_error(const char *fmt, ...)
{
	char msg[LOG_LINE_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warnx("%s (see graceful-run --help)", msg);
	exit(EXIT_OWN_FAILURE);
}

/* Every error names the option and what is wrong, then an excerpt. */
static void
parse_listen_option(struct options *o, const char *text)
{
	struct log_excerpt ex;
	char why[512];

	if (o->nspecs == MAX_LISTENERS)
		usage_error("listen: more than %d -l options: %s", MAX_LISTENERS,
		    log_excerpt(&ex, text));
	if (listen_parse(text, &o->specs[o->nspecs], why, sizeof(why)) == -1) {
		log_warnx("listen: %s: %s", why, log_excerpt(&ex, text));
		exit(EXIT_OWN_FAILURE);
	}
	o->nspecs++;
}

static int64_t
parse_duration_option(const char *name, const char *text)
{
	struct log_excerpt ex;
	int64_t ns;

	if (parse_duration(text, &ns) == -1) {
		if (errno == ERANGE)
			log_warnx("%s: more than 24h: %s", name,
			    log_excerpt(&ex, text));
		else
			log_warnx("%s: bad duration (e.g. 250ms, 2s, 1m; at "
			    "most 24h): %s", name, log_excerpt(&ex, text));
		exit(EXIT_OWN_FAILURE);
	}
	return ns;
}

static int
parse_signal_option(const char *name, const char *text)
{
	struct log_excerpt ex;
	uint64_t n;
	int signo;

	if (parse_signal(text, &signo) == -1) {
		if (parse_uint(text, 10, 64, &n) == 0 && n > 31 &&
		    n < (uint64_t)SIGRTMIN)
			log_warnx("%s: signal %d is reserved by the C library: "
			    "%s", name, (int)n, log_excerpt(&ex, text));
		else
			log_warnx("%s: unknown signal (e.g. TERM, SIGQUIT, 15): "
			    "%s", name, log_excerpt(&ex, text));
		exit(EXIT_OWN_FAILURE);
	}
	return signo;
}

/* Only root can become another user; say so now, not at the first spawn. */
static void
parse_user_option(struct options *o, const char *text)
{
	struct log_excerpt ex;
	char why[256];

	if (runas_parse(text, &o->user, why, sizeof(why)) == -1) {
		log_warnx("-u: %s: %s", why, log_excerpt(&ex, text));
		exit(EXIT_OWN_FAILURE);
	}
	if (geteuid() != 0 && o->user.uid != geteuid()) {
		log_warnx("-u: only root can run children as another user: %s",
		    log_excerpt(&ex, text));
		exit(EXIT_OWN_FAILURE);
	}
}

/*
 * The option getopt stopped at: the text of a long one ("--name", as far
 * as any "="), or "-c" for a short one, even inside a cluster such as
 * "-xq", where optind has not moved on.
 */
void
cmd_option_text(char *out, size_t len, char *argv[], int start)
{
	const char *arg = argv[optind - 1];

	if (optind > start && strncmp(arg, "--", 2) == 0)
		snprintf(out, len, "%.*s", (int)strcspn(arg, "="), arg);
	else
		snprintf(out, len, "-%c", optopt);
}

/* Why getopt refused a long option: "--quiet=3", "--re" or a typo. */
static const char *
option_why(const char *text, const char *arg)
{
	const struct option *found = NULL;
	size_t len = strlen(text + 2), i, matches = 0;

	for (i = 0; longopts[i].name != NULL; i++) {
		if (strncmp(longopts[i].name, text + 2, len) != 0)
			continue;
		found = &longopts[i];
		if (found->name[len] == '\0') {
			matches = 1;
			break;
		}
		matches++;
	}
	if (matches > 1)
		return "ambiguous option";
	if (matches == 1 && found->has_arg == no_argument &&
	    strchr(arg, '=') != NULL)
		return "no argument allowed for option";
	return "unknown option";
}

static noreturn void
option_error(int ch, char *argv[], int start)
{
	const char *arg = argv[optind - 1];
	struct log_excerpt ex;
	char text[LOG_EXCERPT_MAX + 2];	/* one more: the excerpt says it was cut */

	cmd_option_text(text, sizeof(text), argv, start);
	if (ch == ':')
		usage_error("option %s needs an argument", log_excerpt(&ex, text));
	if (text[1] == '-')
		usage_error("%s %s", option_why(text, arg),
		    log_excerpt(&ex, text));
	usage_error("unknown option %s", log_excerpt(&ex, text));
}

/* Refused at once: one that cannot be blocked would kill the wrapper. */
static void
check_reload_signal(int signo, const char *text)
{
	const char *why = signals_unfit_for_reload(signo);
	struct log_excerpt ex;

	if (why == NULL)
		return;
	if (strcmp(parse_signame(signo), "?") != 0)
		usage_error("--reload-signal: SIG%s cannot be the reload "
		    "signal (%s): %s", parse_signame(signo), why,
		    log_excerpt(&ex, text));
	usage_error("--reload-signal: signal %d cannot be the reload signal "
	    "(%s): %s", signo, why, log_excerpt(&ex, text));
}

static void
parse_one_option(struct options *o, int ch, char *argv[], int start)
{
	struct log_excerpt ex;

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
			usage_error("--ready-timeout: must be more than 0: %s",
			    log_excerpt(&ex, optarg));
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
		check_reload_signal(o->cfg.reload_signal, optarg);
		break;
	case 'p':
		o->pid_file = optarg;
		break;
	case 'c':
		o->control = optarg;
		break;
	case OPT_STATUS_FILE:
		o->status_file = optarg;
		break;
	case 'u':
		parse_user_option(o, optarg);
		break;
	case 'C':
		if (*optarg == '\0')
			usage_error("-C: empty directory: \"\"");
		o->dir = optarg;
		break;
	case OPT_TAKEOVER:
		o->takeover = true;
		break;
	case 'q':
		log_init(LOG_QUIET);
		o->verbose = false;
		break;
	case 'v':
		log_init(LOG_VERBOSE);
		o->verbose = true;
		break;
	case 'h':
		usage();
		exit(0);
	case 'V':
		printf("graceful-run %s\n", PACKAGE_VERSION);
		exit(0);
	default:
		option_error(ch, argv, start);
	}
}

static void
parse_options(struct options *o, int argc, char *argv[])
{
	struct log_excerpt ex;
	int ch, start = optind;

	o->cfg.stop_signal = SIGTERM;
	o->cfg.stop_timeout_ns = 30 * NSEC_PER_SEC;
	o->cfg.restart_delay_ns = NSEC_PER_SEC;
	o->cfg.restart_max_delay_ns = 60 * NSEC_PER_SEC;
	o->ready_text = "auto";
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+:l:p:c:u:C:qvhV", longopts,
	    NULL)) != -1) {
		parse_one_option(o, ch, argv, start);
		start = optind;
	}
	if (optind == argc)
		usage_error("missing %s", "-- COMMAND");
	if (strcmp(argv[optind - 1], "--") != 0)
		usage_error("missing \"--\" before %s",
		    log_excerpt(&ex, argv[optind]));
	o->cfg.argv = argv + optind;
	o->cfg.ready.timeout_ns = o->ready_timeout_ns;
	errno = 0;
	if (ready_parse(o->ready_text, &o->cfg.ready) == -1)
		usage_error("--ready: %s: %s", errno == ERANGE ?
		    "more than 24h" : "want auto[:DURATION], accepting, "
		    "notify, delay:DURATION or exec:COMMAND",
		    log_excerpt(&ex, o->ready_text));
	if (o->cfg.restart_delay_ns == 0 ||
	    o->cfg.restart_max_delay_ns < o->cfg.restart_delay_ns)
		usage_error("--restart-delay must be more than 0 and at most "
		    "--restart-max-delay");
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
	size_t need;
	int rc;

	if (o->nspecs > 0) {
		sockets_close_passed();
		rc = sockets_bind(o->specs, o->nspecs, ls);
	} else
		rc = sockets_adopt(ls);
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDNAMES");
	unsetenv("LISTEN_PIDFDID");
	if (rc == -1)
		return -1;
	/* Now, not at the first spawn or the first reload. */
	need = spawn_fds_needed(ls->n);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    need > rl.rlim_cur) {
		log_warnx("fd limit too low for %zu socket%s: graceful-run "
		    "needs %zu, the limit (ulimit -n) is %llu", ls->n,
		    ls->n == 1 ? "" : "s", need,
		    (unsigned long long)rl.rlim_cur);
		sockets_release(ls);
		return -1;
	}
	return 0;
}

/* Whatever way graceful-run leaves, its files do not stay behind. */
static void
remove_files(void)
{
	pidfile_cleanup();
	statusfile_remove();
	control_close();
}

/*
 * The pid file is locked first, so a second graceful-run on it fails
 * before it binds anything; its pid is written once everything is made.
 */
static int
open_everything(const struct options *o, struct listeners *ls)
{
	if (o->pid_file != NULL && pidfile_lock(o->pid_file) == -1)
		return -1;
	if (open_sockets(o, ls) == -1)
		return -1;
	if ((o->control != NULL && control_open(o->control) == -1) ||
	    (o->status_file != NULL && statusfile_init(o->status_file) == -1) ||
	    pidfile_publish() == -1) {
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

	/* Before anything is written: a closed reader is EPIPE, not death. */
	if (signals_ignore_pipe() == -1)
		return EXIT_OWN_FAILURE;
	if (argc > 1 && strcmp(argv[1], "notify") == 0)
		return notify_command(argc - 1, argv + 1);
	if (argc > 1 && client_is_verb(argv[1]))
		return client_command(argc - 1, argv + 1);
	open_standard_fds();
	sockets_close_inherited();
	parse_options(&o, argc, argv);
	if (o.takeover && takeover_enable(o.cfg.argv[0], o.verbose) == -1)
		return EXIT_OWN_FAILURE;
	sdnotify_capture();
	if ((sigfd = signals_open(o.cfg.reload_signal)) == -1)
		fatal("signals");
	if (getpid() != 1 && prctl(PR_SET_CHILD_SUBREAPER, 1) == -1)
		fatal("prctl PR_SET_CHILD_SUBREAPER");
	if (atexit(remove_files) != 0)
		fatalx("atexit");
	if (open_everything(&o, &ls) == -1)
		return EXIT_OWN_FAILURE;
	o.cfg.ready.listeners = &ls;
	if (o.takeover && ls.n == 0) {
		log_warnx("--takeover: no sockets to hand over (give -l for "
		    "each address the command binds)");
		return EXIT_OWN_FAILURE;
	}
	listeners_for_cleanup = &ls;
	log_on_fatal(cleanup_after_fatal);
	runas_configure(o.user.set ? &o.user : NULL, o.dir);
	status_init();
	status = supervise_run(&o.cfg, &ls, sigfd);
	/* Gone before a stop client hears "ok", so a new one can start. */
	sockets_release(&ls);
	pidfile_cleanup();
	statusfile_remove();
	control_finish(status);
	close(sigfd);
	return status;
}
