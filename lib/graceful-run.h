/*
 * graceful-run: the one internal header, a section per file of lib/.
 */
#ifndef GRACEFUL_RUN_H
#define GRACEFUL_RUN_H

#include <sys/types.h>
#include <sys/socket.h>
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
void log_on_fatal(void (*)(void));
#define LOG_LINE_MAX 1024
/* A bounded, escaped excerpt of user input: "text" or "text"... */
#define LOG_EXCERPT_MAX 64
struct log_excerpt {
	char s[LOG_EXCERPT_MAX * 4 + 6];
};
const char *log_excerpt(struct log_excerpt *, const char *text);
int log_reason(char *why, size_t whylen, const char *, ...) PRINTFLIKE(3, 4);

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
	char port[6];		/* the number, normalized: no leading zeros */
	char path[108];		/* unix; abstract names start with '@' */
	int backlog;
	bool reuseport;
	bool nonblock;		/* O_NONBLOCK from the start (nginx) */
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
int sockets_adopt_env(struct listeners *, const char *pid_env,
    const char *fds_env, const char *names_env, pid_t self);
void sockets_release(struct listeners *);
struct sockaddr_un;
bool sockets_unix_stale(const struct sockaddr_un *, socklen_t);

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
bool spawn_has_exited(pid_t);

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

/*
 * accepting.c: whether a starting generation accepts on a shared socket,
 * read from /proc. It looks at every process whose process group is pgid
 * (none when pgid <= 1) and at each pid in extra[] (say, a daemon that
 * left the group), and at each of their threads. Returns ACCEPTING_YES
 * with how set to the rule that matched ("accepting on fd 3 via epoll",
 * the fd as the child got it), ACCEPTING_NOT_YET, or ACCEPTING_CANNOT_SEE
 * with how saying what could not be read (no permission, another pid
 * namespace, no /proc). howlen must be more than 0. Costs a walk of /proc
 * and a few small reads per process of the group; keeps nothing.
 */
enum accepting_verdict {
	ACCEPTING_CANNOT_SEE = -1,
	ACCEPTING_NOT_YET = 0,
	ACCEPTING_YES = 1,
};
int accepting_check(pid_t pgid, const pid_t *extra, size_t nextra,
    const struct listeners *, char *how, size_t howlen);

/* ready.c: how a starting generation proves it serves. */
enum ready_mode { READY_AUTO, READY_NOTIFY, READY_DELAY, READY_EXEC,
    READY_ACCEPTING };
struct ready_config {
	enum ready_mode mode;
	int64_t wait_ns;	/* auto: silence allowed; delay: how long */
	const char *command;	/* exec */
	int64_t timeout_ns;
	const struct listeners *listeners;	/* for the accepting check */
};
/* ready.c's own part of a generation; all zero at spawn. */
struct ready_state {
	int64_t alive_ns;	/* auto: its DURATION is up; delay: ready;
				   exec: the next probe */
	int64_t check_ns;	/* the next look at whether it accepts */
	int64_t check_every_ns;	/* from 1 ms, doubling up to 10 ms */
	int64_t resume_ns;	/* a flooded notify socket is read again */
	int64_t burst_ns;	/* notify messages are counted from then */
	int burst_count;
	int seen;		/* the last look's accepting_verdict */
	size_t pipe_bytes;	/* read from the pipe with no newline yet */
	bool pipe_held;		/* pipe_fd: open (a late line is no EPIPE)
				   but no longer polled */
	bool notify_held;	/* notify_fd: not polled until resume_ns */
	bool flood_logged;
	bool notified;		/* auto: it said so, it is looked at until it
				   also accepts */
	int pipe_fd;
	int notify_fd;
	char how[48];		/* what made it ready, when composed */
};
struct generation;
enum ready_verdict { READY_PENDING, READY_YES, READY_FAILED };
int ready_parse(const char *, struct ready_config *);
bool ready_offers_channels(const struct ready_config *);
void ready_arm(struct generation *, const struct ready_config *, int64_t now);
enum ready_verdict ready_on_pipe(struct generation *);
enum ready_verdict ready_on_notify(struct generation *);
enum ready_verdict ready_confirm(struct generation *, const struct ready_config *, int64_t now);
enum ready_verdict ready_on_timer(struct generation *, const struct ready_config *, int64_t now);
enum ready_verdict ready_on_probe_exit(struct generation *, int status, int64_t now);
const char *ready_how(const struct generation *);
void ready_release(struct generation *);

/* kill.c: every signal graceful-run sends; pids <= 1 are refused. */
int kill_pid(pid_t pid, int signo);
int kill_group(pid_t pgid, int signo);
bool kill_group_alive(pid_t pgid);

/* orphans.c: graceful-run's children under /proc, and whose they are. */
int orphans_stat(pid_t pid, pid_t *ppid, pid_t *pgrp);
unsigned orphans_generation(pid_t pid);
size_t orphans_children(pid_t *out, size_t max);

/* generation.c: one started copy of the command. */
/* "Gone" is no state: a gone generation's slot is freed (id 0). */
enum gen_state { GEN_STARTING, GEN_READY, GEN_DRAINING };
#define GEN_ORPHANS_MAX 32
struct generation {
	unsigned id;
	pid_t pid;		/* its main process: gets the stop signal */
	pid_t pgid;		/* the process group of its first process */
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
	bool signalled;		/* the stop signal went to the main process */
	bool rest_signalled;	/* ... and to everything else of it */
	bool killed;		/* SIGKILL went to all of it */
	int stop_signal;
	bool exited;		/* the main process is reaped */
	int status;		/* the main process's exit status */
	bool awaiting_daemon;	/* --forking: its first process exited 0 */
	bool handed_over;	/* --forking: pid is the daemon it left */
	bool ready_seen;	/* ready said before the daemon took over */
	int64_t pidfile_ns;	/* --forking=PIDFILE: read it again at */
	int64_t takeover_ns;	/* ready but no --takeover library: look again at */
	pid_t daemon_pgid;	/* --forking: the daemon's group, if not pgid */
	char status_text[128];
	pid_t orphans[GEN_ORPHANS_MAX];	/* reparented to graceful-run */
	size_t norphans;
	struct ready_state rs;	/* readiness bookkeeping (ready.c) */
};
struct spawn_context {
	char *const *argv;
	const struct listeners *listeners;
	const struct ready_config *ready;
};
unsigned gen_next_id(unsigned last);
int gen_spawn(struct generation *, unsigned id, const struct spawn_context *, int *status);
void gen_stop(struct generation *, int signo, bool whole, int64_t timeout_ns, int64_t now);
void gen_stop_rest(struct generation *);
void gen_kill(struct generation *);
bool gen_alive(const struct generation *);
bool gen_has_members(const struct generation *);
bool gen_adopt(struct generation *, pid_t);
bool gen_owns_orphan(const struct generation *, pid_t);
void gen_forget_orphan(struct generation *, pid_t);
void gen_close_channels(struct generation *);

/* cycle.c, sweep.c and supervise.c: the state machine and the loop. */
struct config {
	char *const *argv;
	struct ready_config ready;
	const char *check;
	int stop_signal;
	int64_t stop_timeout_ns;
	bool stop_group;	/* the stop signal to the whole group at once */
	int reload_signal;	/* 0: HUP only */
	bool restart;
	int64_t restart_delay_ns;
	int64_t restart_max_delay_ns;
	bool forking;
	const char *forking_pidfile;	/* NULL: the process left behind */
};

/*
 * The wrapper's own state; cycle.c has the table of what each event does
 * in each of them.
 */
enum wrapper_state {
	WRAPPER_STARTING,	/* the first generation is not ready yet */
	WRAPPER_SERVING,	/* a current generation serves, nothing else */
	WRAPPER_RELOADING,	/* a check or a new generation is under way */
	WRAPPER_BACKOFF,	/* --restart: waiting to start again */
	WRAPPER_STOPPING,	/* asked to stop: every generation is told */
	WRAPPER_EXITING,	/* nothing serves: leave once all is gone */
};

/* How graceful-run ends; cycle_exit_status() reads it. */
struct wrapper_end {
	bool known;		/* status is decided */
	int status;
	unsigned gen;		/* else: decided when this generation exits */
	bool graceful;		/* it was asked to stop */
};

/* The outcome of one reload, for whoever asked for it. */
#define RELOAD_OUTCOMES 8
struct reload_outcome {
	unsigned seq;		/* 0: empty */
	bool ok;
	unsigned gen;
	double seconds;
	int64_t ended_ns;
	char text[256];
};

/* Processes left to graceful-run that no live generation owns. */
#define STRAYS_MAX 64
struct stray {
	pid_t pid;
	bool signalled;
};
#define CHILDREN_MAX 1024

struct supervisor {
	const struct config *cfg;
	const struct listeners *listeners;
	enum wrapper_state state;
	struct generation gens[MAX_GENERATIONS];
	unsigned next_id;
	/* the reload under way */
	pid_t check_pid;	/* --check of the reload under way */
	int64_t check_deadline_ns;	/* killed when not done by then */
	bool check_timed_out;
	bool reload_pending;	/* a reload was asked for during one */
	unsigned reload_seq;	/* the reload under way, or the last one */
	bool reload_open;	/* reload_seq has no outcome yet */
	int64_t reload_started_ns;
	struct reload_outcome outcomes[RELOAD_OUTCOMES];
	/* the current generation died and nothing replaced it yet */
	bool has_dead;
	int dead_status;
	/* --restart */
	int64_t restart_at_ns;
	int64_t restart_delay_ns;
	unsigned restarts;
	struct wrapper_end end;
	struct stray strays[STRAYS_MAX];
	size_t nstrays;
	int64_t strays_kill_ns;	/* SIGKILL for the strays at */
	int64_t event_ns;	/* when the loop woke for the events at hand */
};
int supervise_run(const struct config *, const struct listeners *, int sigfd);
void supervise_abort(void);

struct generation *cycle_current(struct supervisor *);
struct generation *cycle_starting(struct supervisor *);
struct generation *cycle_find(struct supervisor *, unsigned id);
void cycle_start(struct supervisor *);
unsigned cycle_reload(struct supervisor *);
void cycle_stop(struct supervisor *, int signo);
void cycle_channel(struct supervisor *, struct generation *, int fd);
void cycle_reaped(struct supervisor *, pid_t pid, int status);
void cycle_sweep(struct supervisor *);
void cycle_timers(struct supervisor *, int64_t now);
int64_t cycle_deadline(struct supervisor *);
bool cycle_done(const struct supervisor *);
int cycle_exit_status(const struct supervisor *);
const struct reload_outcome *cycle_outcome(const struct supervisor *, unsigned seq);
const char *cycle_state_name(enum wrapper_state);
void cycle_daemon_found(struct supervisor *, struct generation *);
/* Between the cycle*.c files only. */
bool cycle_leaving(const struct supervisor *);
void cycle_ready(struct supervisor *, struct generation *);
void cycle_not_ready(struct supervisor *, struct generation *, const char *why);
void cycle_check_overdue(struct supervisor *);
void cycle_restart_due(struct supervisor *);
void cycle_end_with(struct supervisor *, int status);
void cycle_end_on_exit_of(struct supervisor *, const struct generation *);
void cycle_end_gen_exited(struct supervisor *, const struct generation *);
void cycle_record(struct supervisor *, unsigned seq, bool ok, unsigned gen,
    const char *, ...) PRINTFLIKE(5, 6);
void cycle_refuse_reloads(struct supervisor *, const char *why);
void cycle_set_state(struct supervisor *, enum wrapper_state);
void cycle_none_serving(struct supervisor *, int status);
void cycle_stop_gen(struct supervisor *, struct generation *, int64_t now);
void cycle_check_exited(struct supervisor *, int status);
void cycle_reload_failed(struct supervisor *, const char *, ...)
    PRINTFLIKE(2, 3);
void cycle_daemon_missing(struct supervisor *, struct generation *, const char *why);

/* forking.c: --forking, the daemon a generation leaves is its main process. */
struct generation *forking_claimant(struct supervisor *);
bool forking_exited(struct supervisor *, struct generation *, int status);
void forking_retry(struct supervisor *, struct generation *);
bool forking_defers_ready(struct supervisor *, struct generation *);
bool forking_why_not_ready(const struct supervisor *, const struct generation *, char *, size_t);

/*
 * sweep.c: graceful-run's children that are no generation's main process:
 * orphans go to the generation they came from; the rest are strays,
 * stopped when graceful-run leaves (or at once, when their generation is
 * already gone).
 */
void sweep_orphans(struct supervisor *);
bool sweep_reaped(struct supervisor *, pid_t);
void sweep_stop_strays(struct supervisor *);
void sweep_timers(struct supervisor *, int64_t now);
void sweep_kill_strays(struct supervisor *);

/* control.c: the control socket, -c, and its clients. */
#define CONTROL_PROTOCOL "graceful-run/1"
#define CONTROL_REQUEST_MAX 256	/* a request line, newline included */
#define CONTROL_POLL_MAX (1 + 32)	/* the socket and its clients */
enum control_verb { CONTROL_RELOAD, CONTROL_STATUS, CONTROL_STOP };
struct control_request {
	enum control_verb verb;
	bool json;
};
enum client_phase { CLIENT_FREE, CLIENT_READING, CLIENT_WAITING, CLIENT_WRITING };
struct control_client {
	int fd;
	enum client_phase phase;
	struct control_request req;
	unsigned ticket;	/* reload: the seq of the reload that answers it */
	int64_t deadline_ns;	/* reading or writing: dropped then */
	char in[CONTROL_REQUEST_MAX];
	size_t inlen;
	char *out;		/* the answer, as much as is not sent yet */
	size_t outlen, outsent;
	bool final;		/* the final line is queued: close once sent */
};
struct pollfd;
int control_open(const char *path);
size_t control_pollfds(struct pollfd *, size_t max);
void control_on_ready(struct supervisor *, const struct pollfd *, size_t n);
int64_t control_deadline(void);
void control_timers(int64_t now);
void control_after_events(struct supervisor *);
void control_generation_exited(const struct generation *);
void control_finish(int status);
void control_unlink(void);
void control_close(void);
void control_queue(struct control_client *, const char *, ...)
    PRINTFLIKE(2, 3);
void control_answer(struct control_client *, const char *word,
    const char *text);
void control_wait(struct control_client *);

/* request.c: the control protocol (described there). */
int request_parse(const char *line, size_t len, struct control_request *,
    const char **why);
void request_handle(struct supervisor *, struct control_client *,
    const char *line, size_t len);
void request_progress(struct supervisor *, struct control_client *);
void request_exit_line(const struct generation *, int64_t now, char *out,
    size_t len);
void request_finish(struct control_client *, int status);

/* status.c: the status as text or JSON, for the control socket and file. */
void status_init(void);
int status_format(struct supervisor *, bool json, bool live, char **text);

/* statusfile.c: --status-file, the JSON status replaced at every change. */
int statusfile_init(const char *path);
void statusfile_update(struct supervisor *);
void statusfile_remove(void);

/* pidfile.c: -p, the locked pid file. */
int pidfile_lock(const char *path);
int pidfile_publish(void);
void pidfile_cleanup(void);

/* runas.c: the user (-u) and directory (-C) every child starts with. */
#define RUNAS_GROUPS_MAX 256
struct runas {
	bool set;
	uid_t uid;
	gid_t gid;
	char name[256];
	char home[1024];
	gid_t groups[RUNAS_GROUPS_MAX];	/* supplementary, gid included */
	size_t ngroups;
	const char *dir;	/* -C: NULL to stay where graceful-run is */
};
enum runas_stage { RUNAS_STAGE_USER, RUNAS_STAGE_DIR };
int runas_parse(const char *text, struct runas *, char *why, size_t whylen);
void runas_configure(const struct runas *, const char *dir);
const struct runas *runas_user_of_children(void);
const char *runas_dir(void);
bool runas_is_child_uid(uid_t);
int runas_enter(enum runas_stage *);
/* elfinfo.c: what the dynamic loader would make of an executable. */
struct elfinfo {
	bool elf;		/* false: a script or some other file */
	unsigned char class;	/* ELFCLASS32 or ELFCLASS64 */
	unsigned char data;	/* byte order */
	uint16_t machine;
	bool interp;		/* PT_INTERP: dynamically linked */
};
int elfinfo_read(const char *path, struct elfinfo *);
bool elfinfo_compatible(const struct elfinfo *lib, const struct elfinfo *prog);

/* takeover.c: --takeover, the wrapper's side of the preload library. */
int takeover_enable(const char *command, bool verbose);
const char *takeover_library(void);
bool takeover_verbose(void);
char *takeover_fds_value(const struct listeners *);
bool takeover_loaded(pid_t);

#endif
