#!/usr/bin/env bats
# Stopping a generation: the stop signal goes to its main process first (a
# prefork master winds its own workers down), to what it leaves once it has
# exited, SIGKILL at --stop-timeout; --stop-group signals the whole group.

load helpers/common
load helpers/ab

# start_prefork [OPTION]...: graceful-run on a fresh $port running the
# prefork fixture (2 workers), logging to $T/prefork.log; waits for
# generation 1, whose master is then $pid1.
start_prefork() {
	port=$(free_port)
	PREFORK_LOG="$T/prefork.log" start_gr -l "127.0.0.1:$port" "$@" \
		-- "$GR_HELPERS/prefork"
	wait_ready 1
	pid1=$(generation_pid 1)
}

# slow_request MS: a request that takes MS to answer, in the background;
# its HTTP code goes to $T/slow.code, its body to $T/slow.body.
slow_request() {
	curl -sS --max-time 30 -o "$T/slow.body" -w '%{http_code}\n' \
		"http://127.0.0.1:$port/?sleep=$1" >"$T/slow.code" \
		2>"$T/slow.err" 3>&- &
	echo $! >"$T/curl.pid"
}

# wait_slow_request: until the request is done.
wait_slow_request() {
	wait "$(cat "$T/curl.pid")" || true
}

# in_group PID PGID: PID is a member of process group PGID.
in_group() {
	[ "$(ps -o pgid= -p "$1" | tr -d ' ')" = "$2" ]
}

@test "prefork: a request in flight at a reload completes from the old worker (the master drains it)" {
	local worker
	start_prefork
	slow_request 1500
	wait_for_line "$T/prefork.log" '^request pid='
	worker=$(sed -n 's/^request pid=//p' "$T/prefork.log")
	in_group "$worker" "$pid1"
	reload_to 2
	wait_for_line "$T/gr.err" "generation 1 \(pid $pid1\) stopping \(SIGTERM\)"
	wait_slow_request
	assert_equal "$(cat "$T/slow.code")" 200
	assert_equal "$(body_pid <"$T/slow.body")" "$worker"
	wait_for_line "$T/gr.err" "generation 1 \(pid $pid1\) exited 0 after draining"
	# Only the master got the signal; the worker finished, then left.
	run grep -c "^signal TERM$" "$T/prefork.log"
	assert_output 1
	grep -q "^worker pid=$worker exit$" "$T/prefork.log"
	wait_group_gone "$pid1"
	[ "$(served_by "$port")" != "$worker" ]
}

@test "prefork with --stop-group: the whole group gets the signal at once, so the request in flight is cut" {
	local worker
	start_prefork --stop-group
	slow_request 1500
	wait_for_line "$T/prefork.log" '^request pid='
	worker=$(sed -n 's/^request pid=//p' "$T/prefork.log")
	reload_to 2
	wait_slow_request
	assert_equal "$(cat "$T/slow.code")" 000
	run cat "$T/slow.err"
	assert_output --partial "Empty reply from server"
	wait_for_line "$T/gr.err" "generation 1 \(pid $pid1\) exited 0 after draining"
	# The worker died of the signal: it never logged its exit.
	run grep -c "^worker pid=$worker exit$" "$T/prefork.log"
	assert_output 0
	wait_group_gone "$pid1"
}

@test "prefork under ab: 10 reloads, no failed request, each master drains its workers" {
	local n
	ab_available
	start_prefork --ready notify
	start_ab 4
	for n in $(seq 2 11); do
		reload_to "$n" 30
		wait_for_line "$T/gr.err" "generation $((n - 1)) \(pid [0-9]+\) exited 0 after draining" 30
	done
	stop_ab
	assert_ab_clean
	# No worker was killed by a signal: every one of the 10 old
	# generations' 20 workers logged its exit.
	assert_equal "$(grep -c '^worker pid=[0-9]* exit$' "$T/prefork.log")" 20
	kill -TERM "$GR_PID"
	wait_gr_exit
	assert_equal "$GR_STATUS" 0
}

@test "a shell wrapper that does not exec: the shell gets the signal, then the server it left; a request in flight completes" {
	local shell server
	port=$(free_port)
	cat >"$T/wrapper" <<-EOF
		#!/bin/bash
		# Not an exec: the shell stays and waits for the server, its child
		# (a subshell that execs it, so that LISTEN_PID names it).
		( export LISTEN_PID=\$BASHPID HTTPD_LOG="$T/httpd.log"
		  exec "$GR_HELPERS/httpd" )
		echo "server exited \$?" >>"$T/shell.log"
	EOF
	chmod +x "$T/wrapper"
	start_gr -l "127.0.0.1:$port" --ready notify -- "$T/wrapper"
	wait_ready 1
	shell=$(generation_pid 1)
	server=$(sed -n 's/^start gen=1 pid=//p' "$T/httpd.log")
	[ "$server" != "$shell" ]
	in_group "$server" "$shell"
	slow_request 1500
	wait_accepted "$server" "$port"

	kill -TERM "$GR_PID"
	wait_for_line "$T/gr.err" "generation 1 \(pid $shell\) exited on SIGTERM"
	wait_gr_exit
	assert_equal "$GR_STATUS" 0
	wait_slow_request
	assert_equal "$(cat "$T/slow.code")" 200
	assert_equal "$(body_pid <"$T/slow.body")" "$server"
	# The server got the stop signal once, after the shell had gone (so
	# the shell never saw its exit), and drained.
	run grep -c '^signal TERM$' "$T/httpd.log"
	assert_output 1
	grep -q '^exit status=0$' "$T/httpd.log"
	[ ! -e "$T/shell.log" ]
	run kill -0 "$server"
	assert_failure
	run port_listening "$port"
	assert_failure
}

@test "a child that ignores the stop signal is killed at --stop-timeout: exit 137, the log names the signal sent" {
	start_gr --ready delay:100ms --stop-signal INT --stop-timeout 500ms -- \
		sh -c 'trap "" INT; exec sleep 1000'
	wait_ready 1
	pid1=$(generation_pid 1)
	kill -TERM "$GR_PID"
	wait_gr_exit
	assert_equal "$GR_STATUS" 137
	run cat "$T/gr.err"
	assert_line --partial "SIGTERM: stopping every generation with SIGINT"
	assert_line --partial "generation 1 (pid $pid1) still running 0.50s after SIGINT; sending SIGKILL"
	assert_line --partial "generation 1 (pid $pid1) exited with status 137"
	run kill -0 "$pid1"
	assert_failure
}
