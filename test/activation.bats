#!/usr/bin/env bats
# graceful-run socket-activated by the real systemd-socket-activate: it
# adopts the sockets it is given instead of binding, and hands them on.

load helpers/common

setup_file() {
	command -v systemd-socket-activate >/dev/null ||
		skip "systemd-socket-activate is not installed"
}

# activate ARGS...: systemd-socket-activate ARGS (it execs graceful-run on
# the first connection, so the wrapper's pid is this one).
activate() {
	systemd-socket-activate "$@" >"$T/gr.out" 2>"$T/gr.err" 3>&- &
	GR_PID=$!
}

@test "adopted sockets serve, across a reload" {
	local port=$(free_port)
	activate -l "127.0.0.1:$port" "$GR_BIN" --ready notify -- \
		"$GR_HELPERS/httpd"
	wait_for_line "$T/gr.err" "Listening on 127.0.0.1:$port"
	# The first connection starts graceful-run, which adopts fd 3.
	run http_get "$port"
	assert_success
	assert_output --regexp '^pid=[0-9]{10} gen=000001$'
	kill -HUP "$GR_PID"
	wait_for_line "$T/gr.err" 'generation 2 \(pid [0-9]+\) ready'
	run http_get "$port"
	assert_success
	assert_output --regexp 'gen=000002$'
	kill -TERM "$GR_PID"
	wait_gr_exit
	assert_equal "$GR_STATUS" 0
}

@test "names and addresses of adopted sockets are handed on" {
	local p1=$(free_port) p2=$(free_port)
	activate -l "127.0.0.1:$p1" -l "127.0.0.1:$p2" --fdname=web:api \
		"$GR_BIN" -v -- python3 "$HELPERS_SRC/fdlist.py" "$T/child"
	wait_for_line "$T/gr.err" "Listening on 127.0.0.1:$p2"
	python3 -c 'import socket, sys
socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20).close()' "$p1"
	wait_gr_exit
	assert_equal "$GR_STATUS" 0
	local pid=$(sed -n 's/^pid \([0-9]*\) .*/\1/p' "$T/child")
	run grep '^env \|^fd \|^sock ' "$T/child"
	assert_line "env LISTEN_FDS=2"
	assert_line "env LISTEN_PID=$pid"
	assert_line "env LISTEN_FDNAMES=web:api"
	assert_line "env SERVER_STARTER_PORT=127.0.0.1:$p1=3;127.0.0.1:$p2=4"
	assert_line "fd 3 socket"
	assert_line "fd 4 socket"
	assert_line "fd 5 pipe"
	grep -q "adopted fd 3 (127.0.0.1:$p1), named web" "$T/gr.err"
}

@test "with -l given, systemd's sockets are not adopted nor passed on" {
	local p1=$(free_port) p2=$(free_port)
	activate -l "127.0.0.1:$p1" "$GR_BIN" -l "127.0.0.1:$p2" -- \
		python3 "$HELPERS_SRC/fdlist.py" "$T/child"
	wait_for_line "$T/gr.err" "Listening on 127.0.0.1:$p1"
	# The connection that activates it may be reset: graceful-run closes
	# the socket it does not adopt.
	python3 -c 'import socket, sys
try:
    socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20).close()
except ConnectionResetError:
    pass' "$p1"
	wait_gr_exit
	run grep '^env \|^fd ' "$T/child"
	assert_line "env LISTEN_FDS=1"
	assert_line "env SERVER_STARTER_PORT=127.0.0.1:$p2=3"
	assert_line "fd 3 socket"
	assert_line "fd 4 pipe"
	refute_line --regexp "^fd 5"
}
