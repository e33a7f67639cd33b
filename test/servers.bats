#!/usr/bin/env bats
# Real servers in other languages serve through graceful-run: the Python
# example (socket.socket(fileno=3)), a shell-script child, and gunicorn
# from Debian's package reading LISTEN_FDS/LISTEN_PID.

load helpers/common

EXAMPLE() { echo "$GR_SRCDIR/examples/hello-server.py"; }

@test "the Python example serves and hands over on HUP" {
	local port=$(free_port)
	start_gr -l "127.0.0.1:$port" -- python3 "$(EXAMPLE)"
	wait_for_line "$T/gr.err" 'generation 1 \(pid [0-9]+\) ready in [0-9.]+s \(READY=1\)'
	run http_get "$port"
	assert_success
	assert_output "hello from generation 1 (pid $(generation_pid 1))"
	kill -HUP "$GR_PID"
	wait_for_line "$T/gr.err" 'generation 1 \(pid [0-9]+\) exited 0 after draining'
	run http_get "$port"
	assert_output "hello from generation 2 (pid $(generation_pid 2))"
}

@test "a request in flight to the Python example finishes across a reload" {
	local port=$(free_port)
	start_gr -l "127.0.0.1:$port" -- python3 "$(EXAMPLE)"
	wait_for_line "$T/gr.err" 'generation 1 .* ready'
	curl -fsS --max-time 30 "http://127.0.0.1:$port/?sleep=1500" \
		>"$T/slow" 2>&1 3>&- &
	local slow=$!
	# HUP only once the request is on the wire.
	local i=0
	until ss -Htn state established "dport = :$port" | grep -q .; do
		[ $((i += 1)) -lt 400 ] || fail "the request never connected"
		sleep 0.05
	done
	kill -HUP "$GR_PID"
	wait "$slow"
	assert_equal "$(cat "$T/slow")" "hello from generation 1 (pid $(generation_pid 1))"
	wait_for_line "$T/gr.err" 'generation 1 .* exited 0 after draining'
}

@test "a shell-script child sets up, says ready, and execs the server" {
	local port=$(free_port)
	cat >"$T/run.sh" <<-EOF
	#!/bin/sh
	# what a legacy start script does: prepare, announce, exec
	echo "preparing generation \$GRACEFUL_RUN_GENERATION" >>"$T/script.log"
	"$GR_BIN" notify --status "warming up"
	exec python3 "$(EXAMPLE)"
	EOF
	chmod +x "$T/run.sh"
	start_gr --ready notify -l "127.0.0.1:$port" -- "$T/run.sh"
	wait_for_line "$T/gr.err" 'generation 1 .* ready'
	run http_get "$port"
	assert_output "hello from generation 1 (pid $(generation_pid 1))"
	kill -HUP "$GR_PID"
	wait_for_line "$T/gr.err" 'generation 2 .* ready'
	run http_get "$port"
	assert_output "hello from generation 2 (pid $(generation_pid 2))"
	run cat "$T/script.log"
	assert_output "preparing generation 1
preparing generation 2"
}

@test "gunicorn takes the sockets from LISTEN_FDS and reloads" {
	command -v gunicorn >/dev/null || skip "gunicorn is not installed"
	local port=$(free_port)
	start_gr -l "127.0.0.1:$port" -- gunicorn --workers 2 \
		--chdir "$HELPERS_SRC" --graceful-timeout 10 wsgiapp:app
	wait_for_line "$T/gr.err" 'generation 1 .* ready'
	run http_get "$port"
	assert_success
	assert_output --regexp "^gunicorn pid=[0-9]+ ppid=$(generation_pid 1)$"
	kill -HUP "$GR_PID"
	wait_for_line "$T/gr.err" 'generation 2 .* ready'
	wait_for_line "$T/gr.err" 'generation 1 .* exited 0 after draining' 40
	run http_get "$port"
	assert_output --regexp "^gunicorn pid=[0-9]+ ppid=$(generation_pid 2)$"
	kill -TERM "$GR_PID"
	wait_gr_exit 40
	assert_equal "$GR_STATUS" 0
}
