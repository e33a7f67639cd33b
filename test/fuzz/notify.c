/*
 * NOTIFY_SOCKET datagrams, through the real path: each input is sent over a
 * socketpair(AF_UNIX, SOCK_DGRAM) with SO_PASSCRED to notify_recv. The
 * first byte says how many fds ride along (SCM_RIGHTS, 0-71: more than
 * notify.c has room for), the rest is the datagram. Checked: a message is
 * taken iff it is 1-4096 bytes and its fds fit, the passed fds are closed,
 * one datagram is one message, and READY and STATUS are what a model of
 * the protocol reads (the last STATUS=, cut at 127 bytes, control
 * characters shown as '?').
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "graceful-run.h"
#include "fuzz.h"

#define MSG_MAX 4096
#define FDS_ROOM 64
#define FDS_SENT_MAX 72

static int pair[2] = { -1, -1 };
static int devnull = -1;

static void
setup(void)
{
	int on = 1;

	if (pair[0] != -1)
		return;
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, pair) == -1 ||
	    setsockopt(pair[0], SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)) == -1 ||
	    (devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1)
		fuzz_fail("setup: %s", strerror(errno));
}

/* 0 sent; -1 when the kernel refuses it (then there is nothing to check). */
static int
send_datagram(const uint8_t *payload, size_t len, size_t nfds)
{
	union {
		struct cmsghdr align;
		char space[CMSG_SPACE(sizeof(int) * FDS_SENT_MAX)];
	} control;
	struct iovec iov = { (void *)(uintptr_t)payload, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;
	int fds[FDS_SENT_MAX];
	size_t i;

	if (nfds > 0) {
		for (i = 0; i < nfds; i++)
			fds[i] = devnull;
		memset(&control, 0, sizeof(control));
		mh.msg_control = &control;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	return sendmsg(pair[1], &mh, MSG_DONTWAIT) == (ssize_t)len ? 0 : -1;
}

/* What a reader of the protocol makes of the text up to its first NUL. */
static void
model(const uint8_t *payload, size_t len, struct notify_msg *want)
{
	char text[MSG_MAX + 1], *line, *p;

	memset(want, 0, sizeof(*want));
	memcpy(text, payload, len);
	text[len] = '\0';
	for (line = text; line != NULL; line = p) {
		if ((p = strchr(line, '\n')) != NULL)
			*p++ = '\0';
		if (strcmp(line, "READY=1") == 0)
			want->ready = true;
		if (strncmp(line, "STATUS=", 7) != 0)
			continue;
		want->has_status = true;
		memset(want->status, 0, sizeof(want->status));
		strncpy(want->status, line + 7, sizeof(want->status) - 1);
	}
	for (p = want->status; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
}

static void
check(const uint8_t *payload, size_t len, size_t nfds, int rc,
    const struct notify_msg *msg)
{
	struct notify_msg want, again;

	FUZZ_CHECK(rc == ((len >= 1 && len <= MSG_MAX && nfds <= FDS_ROOM) ?
	    1 : 2));
	FUZZ_CHECK(notify_recv(pair[0], &again) == 0);
	if (rc != 1)
		return;
	model(payload, len, &want);
	FUZZ_CHECK(msg->pid == getpid());
	FUZZ_CHECK(msg->ready == want.ready);
	FUZZ_CHECK(msg->has_status == want.has_status);
	FUZZ_CHECK(strcmp(msg->status, want.status) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct notify_msg msg;
	size_t nfds;
	int lowest, rc;

	if (size == 0)
		return 0;
	setup();
	nfds = data[0] % FDS_SENT_MAX;
	lowest = fuzz_lowest_free_fd();
	if (send_datagram(data + 1, size - 1, nfds) == -1)
		return 0;
	rc = notify_recv(pair[0], &msg);
	FUZZ_CHECK(fuzz_lowest_free_fd() == lowest);
	check(data + 1, size - 1, nfds, rc, &msg);
	return 0;
}
