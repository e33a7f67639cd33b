/*
 * httpd: a tiny HTTP/1.1 test server for graceful-run's load tests.
 *
 * It takes its listening sockets the systemd way (LISTEN_FDS/LISTEN_PID),
 * answers every request with a fixed-width "pid=... gen=..." body, speaks
 * every readiness protocol graceful-run understands, and drains gracefully
 * on SIGTERM/SIGINT/SIGQUIT.  Knobs (environment):
 *   HTTPD_READY=auto|notify|fd|both|none   readiness via NOTIFY_SOCKET and/or
 *                                          GRACEFUL_RUN_READY_FD (auto: the former if set)
 *   HTTPD_STATUS_FIRST=1     send STATUS=starting before the start delay
 *   HTTPD_START_DELAY_MS=N   do not accept for N ms (the old generation serves)
 *   HTTPD_START_GATE=FILE    then neither accept nor notify until FILE exists
 *   HTTPD_ACCEPT=poll|epoll|thread  how it waits for connections: poll() in
 *                            the main thread (the default), an epoll loop,
 *                            or one thread per socket blocked in accept4()
 *   HTTPD_FAIL_START=N       exit N instead of becoming ready
 *   HTTPD_IGNORE_TERM=1      SIGTERM is ignored
 *   HTTPD_FORK_HELPER=1      fork an idle child in our process group
 *   HTTPD_DRAIN_IDLE_MS=N    after TERM, close keep-alive connections idle N ms
 *   HTTPD_LOG=PATH           append event lines (start, ready, signal X, ...)
 * Any request path; "?sleep=MS" delays the response.  Exit: 0 after a drain,
 * 2 on usage/environment errors, N for HTTPD_FAIL_START.
 *
 * Threads: the main thread owns signals and, unless HTTPD_ACCEPT=thread,
 * accept(); one detached worker thread per connection, with all signals
 * blocked.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define HEAD_MAX 8192               /* larger request headers get a 431 */
#define BODY_MAX (1024 * 1024)      /* larger request bodies get a 413 */
#define SLEEP_MAX_MS 600000
#define LINGER_MS 250               /* bound on waiting for the client's FIN */
#define ACCEPT_TICK_MS 100          /* bound on a stray blocking accept4() */

enum ready_mode { READY_AUTO, READY_NOTIFY, READY_FD, READY_BOTH, READY_NONE };
enum accept_mode { ACCEPT_POLL, ACCEPT_EPOLL, ACCEPT_THREAD };

static struct config {
    int gen;
    int start_delay_ms;
    int fail_start;                 /* -1: start normally */
    int drain_idle_ms;
    bool ignore_term, fork_helper, status_first;
    bool use_notify, use_ready_fd;  /* resolved from HTTPD_READY */
    const char *notify_socket;
    const char *log_path;
    const char *start_gate;         /* NULL if none */
    enum accept_mode accept_mode;
    int ready_fd;                   /* -1 if none */
} cfg;

static int log_fd = -1;
static int nlisten;
static int sig_pipe[2] = { -1, -1 };    /* signal handler -> main thread */
static int drain_pipe[2] = { -1, -1 };  /* write end closed => draining */
static volatile sig_atomic_t stop_requested;
static atomic_bool draining;
static atomic_int nconn;

static const struct { int sig; const char *name; } signals[] = {
    { SIGTERM, "TERM" }, { SIGINT, "INT" },   { SIGQUIT, "QUIT" },
    { SIGHUP, "HUP" },   { SIGUSR1, "USR1" }, { SIGUSR2, "USR2" },
    { SIGWINCH, "WINCH" }, { SIGTTIN, "TTIN" }, { SIGTTOU, "TTOU" },
};
#define NSIGNALS (sizeof signals / sizeof signals[0])

/* ---------------------------------------------------------------- utils */

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

__attribute__((format(printf, 1, 2)))
static void log_event(const char *fmt, ...)
{
    char line[256];
    va_list ap;
    if (log_fd < 0)
        return;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof line - 2)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    /* One write() per line so concurrent appenders never interleave. */
    while (write(log_fd, line, (size_t)n) < 0 && errno == EINTR)
        ;
}

static _Noreturn void finish(int status)
{
    log_event("exit status=%d", status);
    exit(status);
}

static bool parse_int(const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return false;
    *out = v;
    return true;
}

/* Strict numeric env knob: garbage is a usage error, not a silent default. */
static int env_int(const char *name, int def, long min, long max)
{
    const char *s = getenv(name);
    long v;
    if (!s || !*s)
        return def;
    if (!parse_int(s, min, max, &v)) {
        fprintf(stderr, "httpd: invalid %s=%s\n", name, s);
        exit(2);
    }
    return (int)v;
}

static bool env_flag(const char *name)
{
    const char *s = getenv(name);
    return s && strcmp(s, "1") == 0;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* ---------------------------------------------------------- configuration */

static void load_accept_mode(void)
{
    static const char *const names[] = { "poll", "epoll", "thread" };
    const char *mode = getenv("HTTPD_ACCEPT");
    size_t i;
    cfg.accept_mode = ACCEPT_POLL;
    if (!mode || !*mode)
        return;
    for (i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(mode, names[i]) == 0) {
            cfg.accept_mode = (enum accept_mode)i;
            return;
        }
    fprintf(stderr, "httpd: invalid HTTPD_ACCEPT=%s\n", mode);
    exit(2);
}

static void load_config(void)
{
    cfg.gen = env_int("GRACEFUL_RUN_GENERATION", 0, 0, 999999);
    cfg.start_delay_ms = env_int("HTTPD_START_DELAY_MS", 0, 0, 3600000);
    cfg.fail_start = env_int("HTTPD_FAIL_START", -1, 0, 255);
    cfg.drain_idle_ms = env_int("HTTPD_DRAIN_IDLE_MS", 1000, 0, 3600000);
    cfg.ready_fd = env_int("GRACEFUL_RUN_READY_FD", -1, 0, 1 << 20);
    cfg.ignore_term = env_flag("HTTPD_IGNORE_TERM");
    cfg.fork_helper = env_flag("HTTPD_FORK_HELPER");
    cfg.status_first = env_flag("HTTPD_STATUS_FIRST");
    cfg.log_path = getenv("HTTPD_LOG");
    cfg.notify_socket = getenv("NOTIFY_SOCKET");
    if (cfg.notify_socket && !*cfg.notify_socket)
        cfg.notify_socket = NULL;
    cfg.start_gate = getenv("HTTPD_START_GATE");
    if (cfg.start_gate && !*cfg.start_gate)
        cfg.start_gate = NULL;
    load_accept_mode();

    static const char *const names[] = { "auto", "notify", "fd", "both", "none" };
    const char *mode = getenv("HTTPD_READY");
    enum ready_mode m = READY_AUTO;
    if (mode && *mode) {
        size_t i;
        for (i = 0; i < sizeof names / sizeof names[0]; i++)
            if (strcmp(mode, names[i]) == 0)
                break;
        if (i == sizeof names / sizeof names[0]) {
            fprintf(stderr, "httpd: invalid HTTPD_READY=%s\n", mode);
            exit(2);
        }
        m = (enum ready_mode)i;
    }
    cfg.use_notify = m == READY_NOTIFY || m == READY_BOTH ||
                     (m == READY_AUTO && cfg.notify_socket);
    cfg.use_ready_fd = m == READY_FD || m == READY_BOTH ||
                       (m == READY_AUTO && !cfg.notify_socket);
}

/* Validates LISTEN_FDS/LISTEN_PID; the sockets are fds 3..3+n-1. */
static void take_listen_fds(void)
{
    const char *fds = getenv("LISTEN_FDS"), *pid = getenv("LISTEN_PID");
    long n, p;
    if (!fds || !pid || !parse_int(fds, 1, 1024, &n) ||
        !parse_int(pid, 1, INT32_MAX, &p) || p != (long)getpid()) {
        fprintf(stderr, "httpd: no listening sockets (LISTEN_FDS/LISTEN_PID missing or not for pid %d)\n",
                (int)getpid());
        finish(2);
    }
    for (int fd = 3; fd < 3 + n; fd++) {
        int type = 0;
        socklen_t len = sizeof type;
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_STREAM) {
            fprintf(stderr, "httpd: fd %d is not a stream socket\n", fd);
            finish(2);
        }
    }
    if (cfg.ready_fd >= 3 && cfg.ready_fd < 3 + n) {
        fprintf(stderr, "httpd: GRACEFUL_RUN_READY_FD=%d is a listening socket\n", cfg.ready_fd);
        finish(2);
    }
    nlisten = (int)n;
}

/* ------------------------------------------------------------- readiness */

/* Minimal sd_notify(): one datagram to $NOTIFY_SOCKET, '@' = abstract. */
static void notify(const char *msg)
{
    const char *path = cfg.notify_socket;
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    size_t n = path ? strlen(path) : 0;
    if (n == 0 || n >= sizeof sa.sun_path)
        return;
    memcpy(sa.sun_path, path, n);
    if (path[0] == '@')
        sa.sun_path[0] = '\0';
    socklen_t alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (path[0] != '@'));
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    ssize_t r;
    do
        r = sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa, alen);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        fprintf(stderr, "httpd: notify %s: %s\n", path, strerror(errno));
    close(fd);
}

static void signal_ready(void)
{
    if (cfg.use_notify)
        notify("READY=1");
    if (cfg.ready_fd >= 0) {
        ssize_t r;
        do
            r = write(cfg.ready_fd, "ready\n", 6);
        while (r < 0 && errno == EINTR);
        if (r < 0)
            fprintf(stderr, "httpd: ready fd %d: %s\n", cfg.ready_fd, strerror(errno));
        close(cfg.ready_fd);
        cfg.ready_fd = -1;
    }
    printf("ready gen=%d pid=%d\n", cfg.gen, (int)getpid());
    fflush(stdout);
    log_event("ready gen=%d pid=%d", cfg.gen, (int)getpid());
}

/* ------------------------------------------------------- helper & signals */

/* A do-nothing child so tests can check that the whole group gets cleaned up. */
static void fork_helper(void)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "httpd: fork: %s\n", strerror(errno));
        finish(2);
    }
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        for (size_t i = 0; i < NSIGNALS; i++)
            signal(signals[i].sig, SIG_DFL);
        signal(SIGPIPE, SIG_DFL);
        close_range(3, ~0U, 0);     /* must not hold the listening sockets */
        for (;;)
            pause();
    }
    fprintf(stderr, "httpd: helper pid=%d\n", (int)pid);
    log_event("helper pid=%d", (int)pid);
}

/* Only records the signal; the main thread does the work. */
static void on_signal(int sig)
{
    int saved = errno;
    unsigned char b = (unsigned char)sig;
    if (sig == SIGTERM || sig == SIGINT || sig == SIGQUIT)
        stop_requested = 1;
    ssize_t r = write(sig_pipe[1], &b, 1);
    (void)r;                        /* pipe full: the flag still holds */
    errno = saved;
}

/* Its only job is to make a blocking accept4() fail with EINTR. */
static void on_alarm(int sig)
{
    (void)sig;
}

static void install_signals(void)
{
    struct sigaction sa = { .sa_handler = on_signal };  /* no SA_RESTART */
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < NSIGNALS; i++) {
        if (signals[i].sig == SIGTERM && cfg.ignore_term)
            signal(SIGTERM, SIG_IGN);
        else
            sigaction(signals[i].sig, &sa, NULL);
    }
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static const char *signal_name(int sig)
{
    for (size_t i = 0; i < NSIGNALS; i++)
        if (signals[i].sig == sig)
            return signals[i].name;
    return "?";
}

/* Drains the self-pipe, logging each signal; returns true once stopping. */
static bool handle_signals(void)
{
    unsigned char b[64];
    ssize_t n;
    while ((n = read(sig_pipe[0], b, sizeof b)) > 0 || (n < 0 && errno == EINTR))
        for (ssize_t i = 0; i < n; i++)
            if (b[i] != 0)          /* 0: the last worker left */
                log_event("signal %s", signal_name(b[i]));
    return stop_requested;
}

/* Sleeps up to ms while still reacting to signals; false if told to stop. */
static bool wait_start_delay(int ms)
{
    long long end = now_ms() + ms;
    for (;;) {
        if (handle_signals())
            return false;
        long long left = end - now_ms();
        if (left <= 0)
            return true;
        struct pollfd p = { .fd = sig_pipe[0], .events = POLLIN };
        poll(&p, 1, (int)left);
    }
}

/*
 * Waits until the test creates cfg.start_gate, watching its directory with
 * inotify (set up before the first look, so a creation cannot slip by);
 * false if told to stop first.
 */
static bool wait_start_gate(void)
{
    char dir[PATH_MAX];
    char ev[sizeof(struct inotify_event) + NAME_MAX + 1];
    int in;
    bool open_gate = true;
    if (!cfg.start_gate)
        return true;
    snprintf(dir, sizeof dir, "%s", cfg.start_gate);
    in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (in < 0 || inotify_add_watch(in, dirname(dir), IN_CREATE | IN_MOVED_TO | IN_ATTRIB) < 0) {
        fprintf(stderr, "httpd: inotify %s: %s\n", cfg.start_gate, strerror(errno));
        finish(2);
    }
    log_event("waiting for %s", cfg.start_gate);
    while (access(cfg.start_gate, F_OK) != 0) {
        if (handle_signals()) {
            open_gate = false;
            break;
        }
        struct pollfd p[2] = { { .fd = sig_pipe[0], .events = POLLIN },
                               { .fd = in, .events = POLLIN } };
        if (poll(p, 2, -1) < 0 && errno != EINTR)
            break;
        while (read(in, ev, sizeof ev) > 0)
            ;
    }
    close(in);
    return open_gate;
}

/* ------------------------------------------------------------ connections */

struct conn {
    int fd;
    size_t len;                     /* bytes buffered in buf */
    long long last;                 /* last activity, for the drain idle rule */
    char buf[HEAD_MAX];
};

/*
 * Waits until the client socket is readable.  While draining, a connection
 * that has been silent for HTTPD_DRAIN_IDLE_MS is given up (false): closing
 * it sooner would race with a keep-alive client's next request.
 */
static bool wait_readable(struct conn *c)
{
    for (;;) {
        int timeout = -1;
        bool d = atomic_load(&draining);
        if (d) {
            long long idle = now_ms() - c->last;
            if (idle >= cfg.drain_idle_ms)
                return false;
            timeout = (int)(cfg.drain_idle_ms - idle);
        }
        struct pollfd p[2] = {
            { .fd = c->fd, .events = POLLIN },
            { .fd = d ? -1 : drain_pipe[0], .events = POLLIN },
        };
        if (poll(p, 2, timeout) < 0 && errno != EINTR)
            return false;
        if (p[0].revents)
            return true;
    }
}

/* recv() with the drain rule applied; <= 0 means the connection is done. */
static ssize_t conn_recv(struct conn *c, char *dst, size_t cap)
{
    for (;;) {
        if (!wait_readable(c))
            return 0;
        ssize_t n = recv(c->fd, dst, cap, 0);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n > 0)
            c->last = now_ms();
        return n;
    }
}

static bool send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;           /* EPIPE/ECONNRESET: client went away */
        p += w;
        n -= (size_t)w;
    }
    return true;
}

static void send_error(struct conn *c, const char *status)
{
    char r[160];
    int n = snprintf(r, sizeof r, "HTTP/1.1 %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", status);
    send_all(c->fd, r, (size_t)n);
}

/* Case-insensitive search for a token in a comma-separated header value. */
static bool has_token(const char *value, const char *token)
{
    size_t tl = strlen(token);
    for (const char *p = value; *p;) {
        p += strspn(p, " \t,");
        size_t n = strcspn(p, " \t,");
        if (n == tl && strncasecmp(p, token, tl) == 0)
            return true;
        p += n;
    }
    return false;
}

struct request {
    bool head, keep_alive, bad, chunked;
    long content_length;
    long sleep_ms;
};

/* The value of a "sleep=MS" query parameter, on any path; 0 if absent. */
static long query_sleep(const char *target)
{
    for (const char *p = strchr(target, '?'); p; p = strchr(p, '&')) {
        p++;
        if (strncmp(p, "sleep=", 6) != 0)
            continue;
        char *end;
        long v = strtol(p + 6, &end, 10);
        if (end != p + 6 && (*end == '\0' || *end == '&') && v > 0)
            return v < SLEEP_MAX_MS ? v : SLEEP_MAX_MS;
    }
    return 0;
}

/* Parses the NUL-terminated header block (CRLF-separated lines). */
static void parse_request(char *head, struct request *rq)
{
    char *save = NULL, *wsave = NULL;
    char *line = strtok_r(head, "\r\n", &save);
    char *method = line ? strtok_r(line, " ", &wsave) : NULL;
    char *target = method ? strtok_r(NULL, " ", &wsave) : NULL;
    char *version = target ? strtok_r(NULL, " ", &wsave) : NULL;
    *rq = (struct request){ .content_length = 0 };
    if (!version || strncmp(version, "HTTP/1.", 7) != 0 ||
        (version[7] != '0' && version[7] != '1') || version[8]) {
        rq->bad = true;
        return;
    }
    rq->head = strcmp(method, "HEAD") == 0;
    rq->keep_alive = version[7] == '1';
    rq->sleep_ms = query_sleep(target);
    while ((line = strtok_r(NULL, "\r\n", &save)) != NULL) {
        char *colon = strchr(line, ':');
        if (!colon) {
            rq->bad = true;
            continue;
        }
        *colon = '\0';
        char *value = colon + 1 + strspn(colon + 1, " \t");
        for (size_t n = strlen(value); n > 0 && (value[n - 1] == ' ' || value[n - 1] == '\t');)
            value[--n] = '\0';
        if (strcasecmp(line, "Connection") == 0) {
            if (has_token(value, "close"))
                rq->keep_alive = false;
            else if (has_token(value, "keep-alive"))
                rq->keep_alive = true;
        } else if (strcasecmp(line, "Content-Length") == 0) {
            if (!parse_int(value, 0, LONG_MAX, &rq->content_length))
                rq->bad = true;
        } else if (strcasecmp(line, "Transfer-Encoding") == 0) {
            rq->chunked = true;
        }
    }
}

/* Drops the request body: part may already sit in the buffer after head. */
static bool discard_body(struct conn *c, size_t head_len, long cl)
{
    size_t have = c->len - head_len;
    size_t take = (size_t)cl < have ? (size_t)cl : have;
    memmove(c->buf, c->buf + head_len + take, have - take);
    c->len = have - take;
    for (long left = cl - (long)take; left > 0;) {
        char scratch[4096];
        ssize_t n = conn_recv(c, scratch, (size_t)left < sizeof scratch ? (size_t)left : sizeof scratch);
        if (n <= 0)
            return false;
        left -= n;
    }
    return true;
}

static bool respond(struct conn *c, const struct request *rq, bool keep_alive)
{
    char body[64], r[320];
    int bl = snprintf(body, sizeof body, "pid=%010d gen=%06d\n", (int)getpid(), cfg.gen);
    int n = snprintf(r, sizeof r,
                     "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                     "Content-Length: %d\r\nConnection: %s\r\n\r\n%s",
                     bl, keep_alive ? "keep-alive" : "close", rq->head ? "" : body);
    return send_all(c->fd, r, (size_t)n);
}

/* Reads and answers one request; returns true to keep the connection. */
static bool serve_one(struct conn *c)
{
    char *end;
    while (!(end = memmem(c->buf, c->len, "\r\n\r\n", 4))) {
        if (c->len == HEAD_MAX) {
            send_error(c, "431 Request Header Fields Too Large");
            return false;
        }
        ssize_t n = conn_recv(c, c->buf + c->len, HEAD_MAX - c->len);
        if (n <= 0)
            return false;
        c->len += (size_t)n;
    }
    size_t head_len = (size_t)(end - c->buf) + 4;
    c->buf[head_len - 1] = '\0';    /* parse the header block in place */
    struct request rq;
    parse_request(c->buf, &rq);
    if (rq.bad || rq.chunked) {
        send_error(c, rq.bad ? "400 Bad Request" : "501 Not Implemented");
        return false;
    }
    if (rq.content_length > BODY_MAX) {
        send_error(c, "413 Content Too Large");
        return false;
    }
    if (!discard_body(c, head_len, rq.content_length))
        return false;
    if (rq.sleep_ms > 0)
        sleep_ms(rq.sleep_ms);
    /* Decided after the sleep: a drain that began meanwhile closes it. */
    bool keep = rq.keep_alive && !atomic_load(&draining);
    bool ok = respond(c, &rq, keep);
    c->last = now_ms();
    return ok && keep;
}

/* Half-close and wait briefly for the client's FIN so that unread input
 * does not turn our close into a RST that could destroy the response. */
static void linger_close(int fd)
{
    shutdown(fd, SHUT_WR);
    long long end = now_ms() + LINGER_MS;
    char scratch[1024];
    for (long long left; (left = end - now_ms()) > 0;) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int r = poll(&p, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        ssize_t n = recv(fd, scratch, sizeof scratch, 0);
        if (n == 0 || (n < 0 && errno != EINTR))
            break;
    }
    close(fd);
}

static void *conn_thread(void *arg)
{
    struct conn c = { .fd = (int)(intptr_t)arg, .last = now_ms() };
    while (serve_one(&c))
        ;
    linger_close(c.fd);
    /* The last one out during a drain wakes main, so exit is not delayed. */
    if (atomic_fetch_sub(&nconn, 1) == 1 && atomic_load(&draining)) {
        unsigned char b = 0;
        ssize_t r = write(sig_pipe[1], &b, 1);
        (void)r;
    }
    return NULL;
}

static void spawn_worker(int fd)
{
    pthread_attr_t attr;
    pthread_t tid;
    sigset_t all, old;
    sigfillset(&all);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    atomic_fetch_add(&nconn, 1);
    /* Workers inherit a full mask, so signals always land on main. */
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int err = pthread_create(&tid, &attr, conn_thread, (void *)(intptr_t)fd);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (err) {
        fprintf(stderr, "httpd: pthread_create: %s\n", strerror(err));
        close(fd);
        atomic_fetch_sub(&nconn, 1);
    }
}

/* ------------------------------------------------------------- main loop */

static void set_accept_tick(bool on)
{
    struct itimerval it = { { 0, 0 }, { 0, 0 } };
    if (on)
        it.it_interval.tv_usec = it.it_value.tv_usec = ACCEPT_TICK_MS * 1000;
    setitimer(ITIMER_REAL, &it, NULL);
}

/*
 * poll() said readable, but a process sharing the socket may have taken the
 * connection, leaving accept4() blocked (we must not set O_NONBLOCK on a
 * shared socket).  A repeating SIGALRM interrupts it within ACCEPT_TICK_MS,
 * so a TERM that slips in just before the call cannot strand us.
 * Returns false if the socket is unusable and should no longer be polled.
 */
static bool accept_one(int lfd)
{
    if (stop_requested)
        return true;
    set_accept_tick(true);
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    int err = errno;
    set_accept_tick(false);
    if (fd >= 0) {
        spawn_worker(fd);           /* even if TERM arrived: it is ours now */
        return true;
    }
    switch (err) {
    case EINTR: case EAGAIN: case ECONNABORTED: case EPROTO:
        return true;                /* taken by another process, or aborted */
    case EMFILE: case ENFILE: case ENOBUFS: case ENOMEM:
        fprintf(stderr, "httpd: accept4: %s\n", strerror(err));
        sleep_ms(50);               /* avoid spinning on a full fd table */
        return true;
    default:
        fprintf(stderr, "httpd: accept4 on fd %d: %s (no longer polled)\n", lfd, strerror(err));
        return false;
    }
}

static void accept_loop_poll(void)
{
    struct pollfd p[1 + 1024];
    p[0] = (struct pollfd){ .fd = sig_pipe[0], .events = POLLIN };
    for (int i = 0; i < nlisten; i++)
        p[1 + i] = (struct pollfd){ .fd = 3 + i, .events = POLLIN };
    for (;;) {
        if (handle_signals())
            return;
        if (poll(p, (nfds_t)(1 + nlisten), -1) < 0)
            continue;               /* EINTR: recheck the signal pipe */
        for (int i = 1; i <= nlisten; i++) {
            /* POLLERR etc. without POLLIN would otherwise make poll() spin. */
            if (p[i].revents && !accept_one(p[i].fd))
                p[i].fd = -1;
        }
    }
}

/* An epoll loop over the signal pipe and the sockets, as event loops do. */
static void accept_loop_epoll(void)
{
    struct epoll_event ev = { .events = EPOLLIN }, out[16];
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) {
        fprintf(stderr, "httpd: epoll_create1: %s\n", strerror(errno));
        finish(2);
    }
    for (int i = -1; i < nlisten; i++) {
        ev.data.fd = i < 0 ? sig_pipe[0] : 3 + i;
        if (epoll_ctl(ep, EPOLL_CTL_ADD, ev.data.fd, &ev) < 0) {
            fprintf(stderr, "httpd: epoll_ctl: %s\n", strerror(errno));
            finish(2);
        }
    }
    while (!handle_signals()) {
        int n = epoll_wait(ep, out, 16, -1);
        for (int i = 0; i < n; i++)
            if (out[i].data.fd != sig_pipe[0] && !accept_one(out[i].data.fd))
                epoll_ctl(ep, EPOLL_CTL_DEL, out[i].data.fd, NULL);
    }
    close(ep);
}

/* One thread per socket, blocked in accept4() as thread-per-socket servers are. */
static void *acceptor(void *arg)
{
    int lfd = (int)(intptr_t)arg;
    while (!stop_requested) {
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0)
            spawn_worker(fd);
        else if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
            sleep_ms(50);
        else if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED && errno != EPROTO)
            break;
    }
    return NULL;
}

static void accept_loop_threads(void)
{
    pthread_t t[1024];
    sigset_t all, old;
    int n = 0;
    sigfillset(&all);
    sigdelset(&all, SIGALRM);       /* the main thread's nudge out of accept4() */
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (; n < nlisten; n++)
        if (pthread_create(&t[n], NULL, acceptor, (void *)(intptr_t)(3 + n)) != 0) {
            fprintf(stderr, "httpd: pthread_create failed\n");
            finish(2);
        }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    while (!handle_signals()) {
        struct pollfd p = { .fd = sig_pipe[0], .events = POLLIN };
        poll(&p, 1, -1);
    }
    /* A nudge can land just before accept4(): repeat until each is out. */
    for (int i = 0; i < n; i++)
        while (pthread_tryjoin_np(t[i], NULL) == EBUSY) {
            pthread_kill(t[i], SIGALRM);
            sleep_ms(10);
        }
}

static void accept_loop(void)
{
    switch (cfg.accept_mode) {
    case ACCEPT_POLL:
        accept_loop_poll();
        break;
    case ACCEPT_EPOLL:
        accept_loop_epoll();
        break;
    case ACCEPT_THREAD:
        accept_loop_threads();
        break;
    }
}

static _Noreturn void drain_and_exit(void)
{
    for (int i = 0; i < nlisten; i++)
        close(3 + i);               /* our copies only; never shutdown() */
    atomic_store(&draining, true);
    close(drain_pipe[1]);           /* wakes idle workers: EOF on drain_pipe[0] */
    log_event("draining");
    while (atomic_load(&nconn) > 0) {
        struct pollfd p = { .fd = sig_pipe[0], .events = POLLIN };
        if (poll(&p, 1, 1000) > 0)
            handle_signals();
    }
    close(drain_pipe[0]);
    close(sig_pipe[0]);
    close(sig_pipe[1]);
    finish(0);
}

int main(void)
{
    load_config();
    if (cfg.log_path) {
        log_fd = open(cfg.log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (log_fd < 0) {
            fprintf(stderr, "httpd: %s: %s\n", cfg.log_path, strerror(errno));
            return 2;
        }
    }
    log_event("start gen=%d pid=%d", cfg.gen, (int)getpid());
    take_listen_fds();
    if (cfg.ready_fd >= 0 && !cfg.use_ready_fd) {
        close(cfg.ready_fd);        /* unused: must not leak to children */
        cfg.ready_fd = -1;
    } else if (cfg.ready_fd >= 0) {
        fcntl(cfg.ready_fd, F_SETFD, FD_CLOEXEC);
    }
    if (cfg.fork_helper)
        fork_helper();
    if (pipe2(sig_pipe, O_NONBLOCK | O_CLOEXEC) < 0 || pipe2(drain_pipe, O_CLOEXEC) < 0) {
        fprintf(stderr, "httpd: pipe2: %s\n", strerror(errno));
        finish(2);
    }
    install_signals();
    if (cfg.status_first && cfg.notify_socket)
        notify("STATUS=starting");
    if (!wait_start_delay(cfg.start_delay_ms) || !wait_start_gate())
        finish(0);                  /* stopped before ever being ready */
    if (cfg.fail_start >= 0) {
        fprintf(stderr, "failing start\n");
        finish(cfg.fail_start);
    }
    signal_ready();
    accept_loop();
    drain_and_exit();
}
