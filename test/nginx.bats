#!/usr/bin/env bats
# nginx from Debian, unchanged: it takes graceful-run's sockets from its own
# variable NGINX ("3;4;") instead of binding, and with --stop-signal QUIT
# the old master winds its workers down while the new one serves. nginx
# expects the sockets it inherits to be non-blocking (it never sets
# O_NONBLOCK on them itself): -l ADDRESS,nonblock.

load helpers/common

@test "every child gets NGINX with its sockets' fds, each followed by ';'" {
	local port2
	port=$(free_port)
	port2=$(free_port)
	start_gr -l "127.0.0.1:$port" -l "127.0.0.1:$port2" --ready delay:0 -- \
		sh -c 'echo "$NGINX" >"$1/nginx.env"' _ "$T"
	wait_gr_exit
	assert_equal "$(cat "$T/nginx.env")" "3;4;"
	# graceful-run's own NGINX is not passed on where it has no socket.
	NGINX="7;" start_gr --ready delay:0 -- \
		sh -c 'echo "${NGINX-unset}" >"$1/nginx.env"' _ "$T"
	wait_gr_exit
	assert_equal "$(cat "$T/nginx.env")" "unset"
}

# fd_flags: the file status flags of fd 3 as the child sees them (octal).
fd3_flags() {
	start_gr "$@" --ready delay:0 -- \
		sh -c 'sed -n "s/^flags:[[:space:]]*//p" /proc/$$/fdinfo/3 >"$1/flags"' _ "$T"
	wait_gr_exit
	cat "$T/flags"
}

@test "-l ADDRESS,nonblock hands the socket over non-blocking; without it, blocking" {
	port=$(free_port)
	(( 0$(fd3_flags -l "127.0.0.1:$port,nonblock") & 04000 ))
	(( ! (0$(fd3_flags -l "127.0.0.1:$port") & 04000) ))
	(( 0$(fd3_flags -l "unix:$T/s.sock,nonblock") & 04000 ))
	# It listens, too.
	start_gr -l "127.0.0.1:$port,nonblock" --ready delay:0 -- sleep 1000
	wait_ready 1
	retry_until 20 port_listening "$port"
	run "$GR_BIN" -l "127.0.0.1:$port,nonblock=1" -- true
	assert_equal "$status" 125
	assert_output --partial 'option "nonblock" does not apply here'
}
