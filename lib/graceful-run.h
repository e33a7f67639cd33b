/*
 * graceful-run: the one internal header, a section per file of lib/.
 */
#ifndef GRACEFUL_RUN_H
#define GRACEFUL_RUN_H

#include <sys/types.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdnoreturn.h>

#define PRINTFLIKE(f, a) __attribute__((format(printf, f, a)))

/* Exit statuses of graceful-run's own, as DESIGN.md fixes them. */
#define EXIT_OWN_FAILURE 125
#define EXIT_NOT_EXECUTABLE 126
#define EXIT_NOT_FOUND 127

/* The child's fds: sockets from 3 on, the ready pipe right after them. */
#define FIRST_LISTEN_FD 3
#define MAX_LISTENERS 256
/* Generations alive at once (one current, one starting, the rest draining). */
#define MAX_GENERATIONS 64

/* log.c */
enum log_verbosity { LOG_QUIET = -1, LOG_NORMAL = 0, LOG_VERBOSE = 1 };
void log_init(int verbosity);
void log_warn(const char *, ...) PRINTFLIKE(1, 2);
void log_warnx(const char *, ...) PRINTFLIKE(1, 2);
void log_info(const char *, ...) PRINTFLIKE(1, 2);
void log_debug(const char *, ...) PRINTFLIKE(1, 2);
noreturn void fatal(const char *, ...) PRINTFLIKE(1, 2);
noreturn void fatalx(const char *, ...) PRINTFLIKE(1, 2);
#define LOG_LINE_MAX 1024
/* A bounded, escaped excerpt of user input: "text" or "text"... */
#define LOG_EXCERPT_MAX 64
struct log_excerpt {
	char s[LOG_EXCERPT_MAX * 4 + 6];
};
const char *log_excerpt(struct log_excerpt *, const char *text);

/* clock.c: monotonic time in nanoseconds; 0 means "no deadline". */
#define NSEC_PER_MSEC INT64_C(1000000)
#define NSEC_PER_SEC INT64_C(1000000000)
int64_t clock_now(void);
double clock_seconds(int64_t ns);
int64_t clock_earliest(int64_t a, int64_t b);

/* parse.c: numbers, durations and signal names as the command line spells them. */
int parse_uint(const char *, unsigned base, uint64_t max, uint64_t *);
int parse_duration(const char *, int64_t *ns);
int parse_signal(const char *, int *signo);
const char *parse_signame(int signo);

/* listen.c: one -l spec, parsed; nothing is bound here. */
enum listen_kind { LISTEN_TCP, LISTEN_UDP, LISTEN_UNIX };
struct listen_spec {
	const char *text;	/* as the user wrote it */
	enum listen_kind kind;
	char name[256];		/* empty: derived from the address */
	char host[256];		/* empty: every interface */
	uint16_t port;
	char path[108];		/* unix; abstract names start with '@' */
	int backlog;
	bool reuseport;
	bool v6only;
	bool has_mode;
	mode_t mode;
	bool has_owner;
	uid_t uid;
	gid_t gid;
};
int listen_parse(const char *text, struct listen_spec *, char *why, size_t whylen);

/* sockets.c: bind the specs, or adopt systemd's sockets; release them. */
struct listener {
	int fd;
	char name[256];		/* its LISTEN_FDNAMES entry */
	char addr[300];		/* for logs: "[::1]:8080", "/run/a.sock" */
	char starter[300];	/* its SERVER_STARTER_PORT key */
	char unlink_path[108];	/* a unix socket file graceful-run made */
	dev_t dev;
	ino_t ino;
};
struct listeners {
	struct listener v[MAX_LISTENERS];
	size_t n;
};
int sockets_bind(const struct listen_spec *, size_t, struct listeners *);
void sockets_close_inherited(void);
void sockets_close_passed(void);
int sockets_adopt(struct listeners *);
void sockets_release(struct listeners *);

/* childenv.c: the environment a generation, or a helper command, sees. */
struct childenv {
	char **vars;		/* NULL-terminated, for execve */
	char *listen_pid;	/* "LISTEN_PID=" slot the child fills in */
	char *listen_pidfdid;	/* "LISTEN_PIDFDID=" slot, likewise */
	size_t pidfdid_slot;	/* its index, dropped where there is no pidfs */
	size_t first_owned;	/* vars before this belong to environ */
};
struct childenv_input {
	const struct listeners *listeners;	/* NULL for helper commands */
	unsigned generation;
	int ready_fd;		/* -1: no ready pipe */
	const char *notify_path;	/* NULL: no NOTIFY_SOCKET */
	pid_t target_pid;	/* > 0: GRACEFUL_RUN_PID for probes */
};
int childenv_build(struct childenv *, const struct childenv_input *);
void childenv_set_pid(struct childenv *, pid_t);
void childenv_free(struct childenv *);

/* signals.c: every signal graceful-run handles arrives on one signalfd. */
int signals_ignore_pipe(void);
int signals_open(int reload_signal);
int signals_read(int fd, int *signo);
int signals_reset_for_exec(void);
const char *signals_unfit_for_reload(int signo);
bool signals_is_forwarded(int signo);

/* spawn.c: fork and exec with the fds placed and the env given. */
struct spawn_request {
	char *const *argv;
	struct childenv *env;
	const int *fds;		/* placed at 3, 4, ... in order */
	size_t nfds;
};
pid_t spawn_process(const struct spawn_request *, int *exec_errno);
pid_t spawn_shell(const char *command, struct childenv *env);
size_t spawn_fds_needed(size_t nsockets);
int spawn_exit_status(int wait_status);

/* notify.c: the private NOTIFY_SOCKET of each generation. */
struct notify_msg {
	bool ready;
	bool has_status;
	char status[128];
	pid_t pid;
};
int notify_dir_create(void);
void notify_dir_remove(void);
int notify_open(unsigned generation, char *path, size_t pathlen);
int notify_recv(int fd, struct notify_msg *);
void notify_close(int fd, const char *path);

/* sdnotify.c: speaking sd_notify to whoever supervises graceful-run. */
void sdnotify_capture(void);
void sdnotify(const char *fmt, ...) PRINTFLIKE(1, 2);
int sdnotify_send(const char *socket_path, const char *msg);

/* ready.c: how a starting generation proves it serves. */
enum ready_mode { READY_AUTO, READY_NOTIFY, READY_DELAY, READY_EXEC };
struct ready_config {
	enum ready_mode mode;
	int64_t wait_ns;	/* auto: silence allowed; delay: how long */
	const char *command;	/* exec */
	int64_t timeout_ns;
};
struct generation;
enum ready_verdict { READY_PENDING, READY_YES, READY_FAILED };
int ready_parse(const char *, struct ready_config *);
bool ready_offers_channels(const struct ready_config *);
void ready_arm(struct generation *, const struct ready_config *, int64_t now);
enum ready_verdict ready_on_pipe(struct generation *);
enum ready_verdict ready_on_notify(struct generation *);
enum ready_verdict ready_on_timer(struct generation *, const struct ready_config *, int64_t now);
enum ready_verdict ready_on_probe_exit(struct generation *, int status, int64_t now);
const char *ready_how(const struct generation *);

/* generation.c: one started copy of the command. */
/* "Gone" is no state: a gone generation's slot is freed (id 0). */
enum gen_state { GEN_STARTING, GEN_READY, GEN_DRAINING };
struct generation {
	unsigned id;
	pid_t pid;		/* also its process group */
	enum gen_state state;
	int64_t started_ns;
	int64_t ready_ns;
	int64_t stop_ns;
	int64_t ready_deadline_ns;	/* starting: failed if not ready by then */
	int64_t timer_ns;	/* starting: auto/delay/probe timer */
	int64_t kill_ns;	/* signalled: SIGKILL at */
	int ready_fd;		/* read end of the ready pipe */
	int notify_fd;
	char notify_path[108];
	bool spoke;		/* said something on a channel */
	const char *ready_by;	/* which event made it ready */
	pid_t probe_pid;
	int64_t probe_backoff_ns;
	bool signalled;
	bool exited;		/* the leader is reaped */
	int status;		/* the leader's exit status */
	char status_text[128];
};
struct spawn_context {
	char *const *argv;
	const struct listeners *listeners;
	const struct ready_config *ready;
};
int gen_spawn(struct generation *, unsigned id, const struct spawn_context *, int *status);
void gen_signal(struct generation *, int signo);
void gen_stop(struct generation *, int signo, int64_t timeout_ns, int64_t now);
bool gen_has_members(const struct generation *);
void gen_close_channels(struct generation *);

/* supervise.c and cycle.c: the loop, and the reload state machine. */
struct config {
	char *const *argv;
	struct ready_config ready;
	const char *check;
	int stop_signal;
	int64_t stop_timeout_ns;
	int reload_signal;	/* 0: HUP only */
};
struct supervisor {
	const struct config *cfg;
	const struct listeners *listeners;
	struct generation gens[MAX_GENERATIONS];
	unsigned next_id;
	pid_t check_pid;	/* --check of the reload under way */
	int64_t check_deadline_ns;	/* killed when not done by then */
	bool check_timed_out;
	bool reload_pending;	/* a HUP arrived during a reload */
	bool stopping;		/* TERM, INT or QUIT arrived */
	int64_t stop_started_ns;
	bool exiting;		/* no generation serves; leave when all are gone */
	bool have_exit_status;
	int exit_status;
	unsigned status_generation;	/* whose status a stop exits with */
	bool have_dead_status;	/* the current died during a reload */
	int dead_status;
	int64_t reload_started_ns;
	int64_t event_ns;	/* when the loop woke for the events at hand */
};
int supervise_run(const struct config *, const struct listeners *, int sigfd);
struct generation *supervise_current(struct supervisor *);
struct generation *supervise_starting(struct supervisor *);
void cycle_start(struct supervisor *);
void cycle_reload(struct supervisor *);
void cycle_ready(struct supervisor *, struct generation *);
void cycle_not_ready(struct supervisor *, struct generation *, const char *why);
void cycle_exited(struct supervisor *, struct generation *);
void cycle_check_exited(struct supervisor *, int status);
void cycle_check_overdue(struct supervisor *);
void cycle_kill_due(struct supervisor *, struct generation *);
void cycle_stop(struct supervisor *, int signo);

#endif
