/*
 * Ready pipe lines, through the real path: the input is written into a
 * pipe and ready_on_pipe reads it from a zeroed generation, as the loop
 * would each time poll says the pipe is readable. Bit 0 of the first byte
 * says whether the child closed its end afterwards; the rest is what it
 * wrote. Checked: ready iff a newline came, no call reads nothing while
 * data waits, EOF closes the pipe exactly once, and no fd is left open.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "graceful-run.h"
#include "fuzz.h"

static size_t
pending(int fd)
{
	int n = 0;

	if (ioctl(fd, FIONREAD, &n) == -1)
		fuzz_fail("FIONREAD: %s", strerror(errno));
	return (size_t)n;
}

/* The loop's part: call again while poll would still say readable. */
static enum ready_verdict
feed(struct generation *g, bool eof)
{
	enum ready_verdict v;
	size_t before;

	for (;;) {
		before = pending(g->ready_fd);
		v = ready_on_pipe(g);
		if (v != READY_PENDING || g->ready_fd == -1)
			return v;
		if (before == 0 && !eof)
			return v;
		/* Readable and still open: the call must have made progress. */
		FUZZ_CHECK(before > 0 && pending(g->ready_fd) < before);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct generation g;
	enum ready_verdict v;
	ssize_t written = 0;
	int p[2], lowest;
	bool eof, newline;

	if (size == 0)
		return 0;
	eof = data[0] & 1;
	lowest = fuzz_lowest_free_fd();
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) == -1)
		fuzz_fail("pipe2: %s", strerror(errno));
	if (size > 1 && (written = write(p[1], data + 1, size - 1)) == -1)
		fuzz_fail("write: %s", strerror(errno));
	if (eof)
		close(p[1]);
	memset(&g, 0, sizeof(g));
	g.ready_fd = p[0];
	g.notify_fd = -1;
	v = feed(&g, eof);
	/* A pipe no longer polled (after the line) is held, not closed. */
	ready_release(&g);
	newline = memchr(data + 1, '\n', (size_t)written) != NULL;
	FUZZ_CHECK(v == (newline ? READY_YES : READY_PENDING));
	FUZZ_CHECK(g.spoke == (written > 0));
	if (newline)
		FUZZ_CHECK(g.ready_fd == p[0] &&
		    strcmp(ready_how(&g), "ready fd") == 0);
	else
		FUZZ_CHECK(g.ready_fd == (eof ? -1 : p[0]));
	if (g.ready_fd != -1)
		close(g.ready_fd);
	if (!eof)
		close(p[1]);
	FUZZ_CHECK(fuzz_lowest_free_fd() == lowest);
	return 0;
}
