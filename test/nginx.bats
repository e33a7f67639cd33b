#!/usr/bin/env bats
# nginx from Debian, unchanged: it takes graceful-run's sockets from its own
# variable NGINX ("3;4;") instead of binding, and with --stop-signal QUIT
# the old master winds its workers down while the new one serves.

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
