/*
 * The client side of sd_notify: graceful-run telling its own supervisor
 * (systemd, or an outer graceful-run), and `graceful-run notify` telling
 * the graceful-run that waits for a child.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "graceful-run.h"

static char supervisor_socket[sizeof(((struct sockaddr_un *)0)->sun_path)];

/* Taken once, so that no child ever sees the wrapper's own socket. */
void
sdnotify_capture(void)
{
	const char *path = getenv("NOTIFY_SOCKET");

	if (path != NULL && (path[0] == '/' || path[0] == '@'))
		strlcpy(supervisor_socket, path, sizeof(supervisor_socket));
	unsetenv("NOTIFY_SOCKET");
}

int
sdnotify_send(const char *path, const char *msg)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	size_t len = strlen(path);
	ssize_t n;
	int fd;

	if ((path[0] != '/' && path[0] != '@') || len >= sizeof(sun.sun_path)) {
		errno = EINVAL;
		return -1;
	}
	memcpy(sun.sun_path, path, len);
	if (path[0] == '@')
		sun.sun_path[0] = '\0';
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	do
		n = sendto(fd, msg, strlen(msg), MSG_NOSIGNAL,
		    (struct sockaddr *)&sun,
		    offsetof(struct sockaddr_un, sun_path) + len);
	while (n == -1 && errno == EINTR);
	close(fd);
	return n == -1 ? -1 : 0;
}

void
sdnotify(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (supervisor_socket[0] == '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (sdnotify_send(supervisor_socket, msg) == -1)
		log_warn("notify %s", supervisor_socket);
}
