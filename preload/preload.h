/*
 * The --takeover preload library: one internal header, a section per file.
 * Everything here is hidden; only the libc functions the library replaces
 * are exported, so nothing of it can clash with a name of the program's.
 */
#ifndef PRELOAD_H
#define PRELOAD_H

#include <sys/types.h>
#include <sys/socket.h>
#include <stdbool.h>

#pragma GCC visibility push(hidden)

/* The variables graceful-run sets in a generation's environment. */
#define PRELOAD_ENV_FDS "GRACEFUL_RUN_TAKEOVER_FDS"
#define PRELOAD_ENV_VERBOSE "GRACEFUL_RUN_TAKEOVER_VERBOSE"
#define PRELOAD_MAX_HELD 256

/* match.c: does a bind() address name a socket graceful-run holds? */
struct match_sock {
	int type;		/* SOCK_STREAM, SOCK_DGRAM, ... */
	int protocol;
	bool v6only;		/* IPV6_V6ONLY of an AF_INET6 socket */
	const struct sockaddr *addr;
	socklen_t len;
};
bool match_bind(const struct match_sock *held, const struct match_sock *want);
bool match_unix_named(const struct sockaddr *addr, socklen_t len);
bool match_port_zero(const struct sockaddr *addr, socklen_t len);
void match_format(const struct sockaddr *addr, socklen_t len, char *out,
    size_t outlen);

/* real.c: the next definition of each function the library replaces. */
struct real_fns {
	int (*bind)(int, const struct sockaddr *, socklen_t);
	int (*listen)(int, int);
	int (*close)(int);
	int (*close_range)(unsigned int, unsigned int, int);
	int (*dup2)(int, int);
	int (*dup3)(int, int, int);
	int (*unlink)(const char *);
	int (*unlinkat)(int, const char *, int);
	int (*remove)(const char *);
};
const struct real_fns *real(void);

/* held.c: the sockets graceful-run holds, as this process sees them. */
struct held_sock {
	ino_t ino;		/* the socket's identity */
	int fd;			/* private duplicate; -1: not in this process */
	struct match_sock match;
	struct sockaddr_storage addr;
	bool has_file;		/* a unix socket with a file in the filesystem */
	dev_t file_dev;
	ino_t file_ino;
};
size_t held_count(void);
struct held_sock *held_at(size_t);
int held_fd(struct held_sock *);
struct held_sock *held_by_fd(int fd);
bool held_is_private(int fd);
void held_move_private(int fd);
bool held_is_socket_file(int dirfd, const char *path);

/* say.c: the one line under graceful-run -v, on standard error. */
void say_unmatched(int fd, const struct sockaddr *addr, socklen_t len,
    const char *why);

#pragma GCC visibility pop

#endif
