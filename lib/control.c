/*
 * The control socket (-c PATH): a unix stream socket, mode 0600, where
 * deploy scripts and supervisors ask the running graceful-run to reload,
 * report or stop, and wait for the answer; what they say is request.c's.
 * Here: the socket, its clients, and their I/O. Only our own uid and root
 * are let in (checked with SO_PEERCRED, besides the file mode). Nothing
 * here blocks the loop: every fd is non-blocking, a client that is slow to
 * ask or to take its answer is dropped at a deadline that the loop's
 * timeout includes, and input is bounded by one request line.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "graceful-run.h"

#define CONTROL_CLIENTS_MAX (CONTROL_POLL_MAX - 1)
#define CONTROL_CLIENT_TIMEOUT (5 * NSEC_PER_SEC)
#define CONTROL_BACKLOG 16

static struct {
	int fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t dev;
	ino_t ino;
	pid_t owner;
	struct control_client clients[CONTROL_CLIENTS_MAX];
} ctl = { .fd = -1 };

static void
control_drop(struct control_client *c)
{
	if (c->fd != -1)
		close(c->fd);
	free(c->out);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->phase = CLIENT_FREE;
}

/* Send what is queued: 0 all of it, 1 some is left, -1 the peer is gone. */
static int
control_flush(struct control_client *c)
{
	ssize_t n;

	while (c->outsent < c->outlen) {
		n = send(c->fd, c->out + c->outsent, c->outlen - c->outsent,
		    MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 1;
		if (n == -1)
			return -1;
		c->outsent += (size_t)n;
	}
	return 0;
}

/* Queued text goes out now, or when poll says so (once it is final). */
static void
control_send(struct control_client *c)
{
	int rc = control_flush(c);

	if (rc == -1) {
		log_debug("control: a client went away before its answer");
		control_drop(c);
	} else if (rc == 0 && c->final)
		control_drop(c);
	else if (rc == 1 && c->final && c->phase != CLIENT_WRITING) {
		c->phase = CLIENT_WRITING;
		c->deadline_ns = clock_now() + CONTROL_CLIENT_TIMEOUT;
	}
}

/* Append to the answer; bounded by what formats it. No memory: no answer. */
void
control_queue(struct control_client *c, const char *fmt, ...)
{
	va_list ap;
	char *more;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&more, fmt, ap);
	va_end(ap);
	if (n < 0 || (c->out = reallocf(c->out, c->outlen + (size_t)n)) == NULL) {
		log_warnx("control: no memory for an answer");
		if (n >= 0)
			free(more);
		c->outlen = c->outsent = 0;
		c->final = true;
		return;
	}
	memcpy(c->out + c->outlen, more, (size_t)n);
	c->outlen += (size_t)n;
	free(more);
}

/* The final line: "ok", "failed" or "error", then the connection closes. */
void
control_answer(struct control_client *c, const char *word, const char *text)
{
	c->final = true;
	control_queue(c, "%s%s%s\n", word, *text != '\0' ? " " : "", text);
	control_send(c);
}

/* The request is taken; the answer comes later, with no deadline. */
void
control_wait(struct control_client *c)
{
	c->phase = CLIENT_WAITING;
	c->deadline_ns = 0;
}

static void
control_read(struct supervisor *sv, struct control_client *c)
{
	char *nl;
	ssize_t n;

	do
		n = recv(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen,
		    MSG_DONTWAIT);
	while (n == -1 && errno == EINTR);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	if (n <= 0) {
		log_debug("control: a client left before its request was done");
		control_drop(c);
		return;
	}
	c->inlen += (size_t)n;
	if ((nl = memchr(c->in, '\n', c->inlen)) != NULL) {
		if ((size_t)(nl - c->in) + 1 != c->inlen)
			control_answer(c, "error", "one request line per "
			    "connection");
		else
			request_handle(sv, c, c->in, (size_t)(nl - c->in));
	} else if (c->inlen == sizeof(c->in)) {
		log_warnx("control: request dropped: longer than %d bytes",
		    CONTROL_REQUEST_MAX);
		control_answer(c, "error", "request line too long");
	}
}

/* A waiting client may only hang up: anything else breaks the protocol. */
static void
control_hangup(struct control_client *c)
{
	char byte;
	ssize_t n;

	do
		n = recv(c->fd, &byte, 1, MSG_DONTWAIT);
	while (n == -1 && errno == EINTR);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	if (n == 1) {
		log_warnx("control: client dropped: it sent more than one "
		    "request");
		c->outlen = c->outsent = 0;
		control_answer(c, "error", "one request line per connection");
		return;
	}
	log_debug("control: a waiting client went away");
	control_drop(c);
}

static bool
control_allowed(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
		log_warn("control: peer credentials");
		return false;
	}
	if (cred.uid == getuid() || cred.uid == 0)
		return true;
	log_warnx("control: connection from uid %ld (pid %ld) refused",
	    (long)cred.uid, (long)cred.pid);
	return false;
}

static struct control_client *
control_free_slot(void)
{
	size_t i;

	for (i = 0; i < CONTROL_CLIENTS_MAX; i++)
		if (ctl.clients[i].phase == CLIENT_FREE)
			return &ctl.clients[i];
	return NULL;
}

/* A refusal goes out in one try: the client is not waited for. */
static void
control_refuse(int fd, const char *line)
{
	ssize_t n;

	do
		n = send(fd, line, strlen(line), MSG_DONTWAIT | MSG_NOSIGNAL);
	while (n == -1 && errno == EINTR);
	close(fd);
}

static void
control_accept(void)
{
	struct control_client *c;
	int fd;

	for (;;) {
		fd = accept4(ctl.fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd == -1 && errno == EINTR)
			continue;
		if (fd == -1) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != ECONNABORTED)
				log_warn("control: accept");
			return;
		}
		if (!control_allowed(fd)) {
			control_refuse(fd, "error not allowed\n");
			continue;
		}
		if ((c = control_free_slot()) == NULL) {
			log_warnx("control: connection refused: %d clients "
			    "already", CONTROL_CLIENTS_MAX);
			control_refuse(fd, "error too many clients\n");
			continue;
		}
		memset(c, 0, sizeof(*c));
		c->fd = fd;
		c->phase = CLIENT_READING;
		c->deadline_ns = clock_now() + CONTROL_CLIENT_TIMEOUT;
	}
}

/* Born 0600 (umask), so no other user can connect before the chmod. */
static int
control_bind(int fd, const struct sockaddr_un *sun, socklen_t len)
{
	mode_t mask = umask(0177);
	int rc;

	rc = bind(fd, (const struct sockaddr *)sun, len);
	if (rc == -1 && errno == EADDRINUSE && sockets_unix_stale(sun, len)) {
		log_info("control: replacing stale socket %s", sun->sun_path);
		if (unlink(sun->sun_path) == -1 && errno != ENOENT)
			log_warn("unlink %s", sun->sun_path);
		rc = bind(fd, (const struct sockaddr *)sun, len);
	}
	umask(mask);
	return rc;
}

/* Remembered to be removed later; the mode is set and checked. */
static int
control_own_file(void)
{
	struct stat st;

	if (lstat(ctl.path, &st) == -1) {
		log_warn("control socket %s", ctl.path);
		return -1;
	}
	ctl.dev = st.st_dev;
	ctl.ino = st.st_ino;
	if (chmod(ctl.path, 0600) == -1) {
		log_warn("chmod %s", ctl.path);
		return -1;
	}
	if (lstat(ctl.path, &st) == -1 || (st.st_mode & 07777) != 0600) {
		log_warnx("control socket %s: mode is not 0600", ctl.path);
		return -1;
	}
	return 0;
}

int
control_open(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	socklen_t len;
	size_t i;

	for (i = 0; i < CONTROL_CLIENTS_MAX; i++)
		ctl.clients[i].fd = -1;
	if (path[0] == '\0' || strlcpy(sun.sun_path, path,
	    sizeof(sun.sun_path)) >= sizeof(sun.sun_path)) {
		log_warnx("control socket \"%s\": path empty or too long "
		    "(%zu bytes at most)", path, sizeof(sun.sun_path) - 1);
		return -1;
	}
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
	    strlen(path) + 1);
	ctl.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (ctl.fd == -1) {
		log_warn("control socket");
		return -1;
	}
	if (control_bind(ctl.fd, &sun, len) == -1) {
		log_warn("control socket %s", path);
		control_close();
		return -1;
	}
	strlcpy(ctl.path, path, sizeof(ctl.path));
	ctl.owner = getpid();
	if (control_own_file() == -1) {
		control_close();
		return -1;
	}
	if (listen(ctl.fd, CONTROL_BACKLOG) == -1) {
		log_warn("listen %s", path);
		control_close();
		return -1;
	}
	return 0;
}

/* The listening socket, then every client; see control_on_ready. */
size_t
control_pollfds(struct pollfd *pfd, size_t max)
{
	struct control_client *c;
	size_t i, n = 0;

	if (ctl.fd == -1 || max == 0)
		return 0;
	pfd[n++] = (struct pollfd){ .fd = ctl.fd, .events = POLLIN };
	for (i = 0; i < CONTROL_CLIENTS_MAX && n < max; i++) {
		c = &ctl.clients[i];
		if (c->phase == CLIENT_FREE)
			continue;
		pfd[n++] = (struct pollfd){ .fd = c->fd,
		    .events = c->phase == CLIENT_WRITING ? POLLOUT : POLLIN };
	}
	return n;
}

static struct control_client *
control_client_of(int fd)
{
	size_t i;

	for (i = 0; i < CONTROL_CLIENTS_MAX; i++)
		if (ctl.clients[i].phase != CLIENT_FREE &&
		    ctl.clients[i].fd == fd)
			return &ctl.clients[i];
	return NULL;
}

/* Clients first: those that left free their slots for the newcomers. */
void
control_on_ready(struct supervisor *sv, const struct pollfd *pfd, size_t n)
{
	struct control_client *c;
	bool incoming = false;
	size_t i;

	for (i = 0; i < n; i++) {
		if (pfd[i].revents == 0)
			continue;
		if (pfd[i].fd == ctl.fd) {
			incoming = true;
			continue;
		}
		if ((c = control_client_of(pfd[i].fd)) == NULL)
			continue;
		if (c->phase == CLIENT_READING)
			control_read(sv, c);
		else if (c->phase == CLIENT_WAITING)
			control_hangup(c);
		else if (c->phase == CLIENT_WRITING)
			control_send(c);
	}
	if (incoming)
		control_accept();
}

int64_t
control_deadline(void)
{
	int64_t at = 0;
	size_t i;

	for (i = 0; i < CONTROL_CLIENTS_MAX; i++)
		if (ctl.clients[i].phase != CLIENT_FREE)
			at = clock_earliest(at, ctl.clients[i].deadline_ns);
	return at;
}

void
control_timers(int64_t now)
{
	struct control_client *c;
	size_t i;

	for (i = 0; i < CONTROL_CLIENTS_MAX; i++) {
		c = &ctl.clients[i];
		if (c->phase == CLIENT_FREE || c->deadline_ns == 0 ||
		    now < c->deadline_ns)
			continue;
		log_warnx("control: client dropped: %s within %.0fs",
		    c->phase == CLIENT_READING ? "no request" :
		    "it did not take its answer",
		    clock_seconds(CONTROL_CLIENT_TIMEOUT));
		control_drop(c);
	}
}

/* After every round of events: answer each client whose answer is due. */
void
control_after_events(struct supervisor *sv)
{
	size_t i;

	for (i = 0; i < CONTROL_CLIENTS_MAX; i++)
		if (ctl.clients[i].phase == CLIENT_WAITING)
			request_progress(sv, &ctl.clients[i]);
}

/* A generation's main process ended: stop clients hear how. */
void
control_generation_exited(const struct generation *g)
{
	struct control_client *c;
	char text[160];
	size_t i;

	request_exit_line(g, clock_now(), text, sizeof(text));
	for (i = 0; i < CONTROL_CLIENTS_MAX; i++) {
		c = &ctl.clients[i];
		if (c->phase != CLIENT_WAITING || c->req.verb != CONTROL_STOP)
			continue;
		control_queue(c, "- %s\n", text);
		control_send(c);
	}
}

/*
 * graceful-run is about to exit with this status, its sockets and other
 * files already gone: the socket file goes, each waiting client gets its
 * final line in one try (it fits the socket buffer), and all is closed.
 */
void
control_finish(int status)
{
	size_t i;

	control_unlink();
	for (i = 0; i < CONTROL_CLIENTS_MAX; i++)
		if (ctl.clients[i].phase == CLIENT_WAITING)
			request_finish(&ctl.clients[i], status);
	control_close();
}

/* Remove the socket file, if it is still the one made here. */
void
control_unlink(void)
{
	struct stat st;

	if (ctl.path[0] == '\0' || ctl.owner != getpid())
		return;
	if (lstat(ctl.path, &st) == 0 && st.st_dev == ctl.dev &&
	    st.st_ino == ctl.ino && unlink(ctl.path) == -1)
		log_warn("unlink %s", ctl.path);
	ctl.path[0] = '\0';
}

void
control_close(void)
{
	size_t i;

	if (ctl.owner != 0 && ctl.owner != getpid())
		return;
	control_unlink();
	for (i = 0; i < CONTROL_CLIENTS_MAX; i++)
		if (ctl.clients[i].phase != CLIENT_FREE)
			control_drop(&ctl.clients[i]);
	if (ctl.fd != -1)
		close(ctl.fd);
	ctl.fd = -1;
}
