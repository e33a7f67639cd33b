#!/usr/bin/env bats
# Readiness: when a generation counts as ready in each --ready mode, through
# each channel, and what --ready-timeout does to one that never gets there.

load helpers/common
# The shared teardown, kept under another name: this file's adds to it.
eval "common_$(declare -f teardown)"

# ready_line N: graceful-run's "generation N ... ready in ..." line.
ready_line() {
	grep -E "generation $1 \(pid [0-9]+\) ready in" "$T/gr.err"
}

# ready_secs N: how long generation N took to get ready, as logged.
ready_secs() {
	ready_line "$1" | sed -n 's/.* ready in \([0-9.]*\)s (.*/\1/p'
}

# at_least X Y: X >= Y (decimals).
at_least() {
	awk -v x="$1" -v y="$2" 'BEGIN { exit !(x >= y) }' || {
		echo "$1 < $2" >&2
		return 1
	}
}

@test "auto (default): a child that never notifies nor accepts is ready after 1s as silent and alive" {
	local port
	port=$(free_port)
	HTTPD_READY=none HTTPD_START_GATE="$T/never" start_gr \
		-l "127.0.0.1:$port" -- "$GR_HELPERS/httpd"
	wait_ready 1
	run ready_line 1
	assert_output --regexp "ready in [0-9.]+s \(silent and alive\)$"
	at_least "$(ready_secs 1)" 1.00
	running "$(generation_pid 1)"
}

@test "auto: a child that never notifies is ready once seen accepting, before the 1s" {
	local port
	port=$(free_port)
	HTTPD_READY=none start_gr -l "127.0.0.1:$port" -- "$GR_HELPERS/httpd"
	wait_ready 1
	run ready_line 1
	assert_output --regexp "ready in [0-9.]+s \(accepting on fd 3 via poll\)$"
	at_least 0.99 "$(ready_secs 1)"
	assert_equal "$(served_by "$port")" "$(generation_pid 1)"
}

@test "auto: a child that sends READY=1 at once is ready by READY=1, before the 1s" {
	local port
	port=$(free_port)
	start_gr -l "127.0.0.1:$port" -- "$GR_HELPERS/httpd"
	wait_ready 1
	run ready_line 1
	assert_output --regexp "ready in [0-9.]+s \(READY=1\)$"
	at_least 0.99 "$(ready_secs 1)"
	# A reload is as fast.
	reload_to 2
	run ready_line 2
	assert_output --regexp "ready in [0-9.]+s \(READY=1\)$"
}

@test "auto: a child that sent STATUS= first is waited for until READY=1" {
	local port
	port=$(free_port)
	HTTPD_STATUS_FIRST=1 HTTPD_START_GATE="$T/go" \
		start_gr -v -l "127.0.0.1:$port" -- "$GR_HELPERS/httpd"
	wait_for_line "$T/gr.err" 'generation 1: STATUS=starting'
	# Past the auto timer, and nothing else decides for it.
	no_line_for "$T/gr.err" 'ready in' 2
	touch "$T/go"
	wait_ready 1 20
	run ready_line 1
	assert_output --regexp "ready in [0-9.]+s \(READY=1\)$"
	at_least "$(ready_secs 1)" 2.00
}

@test "auto:2s: a child that never notifies nor accepts is waited for 2s" {
	local port
	port=$(free_port)
	HTTPD_READY=none HTTPD_START_GATE="$T/never" start_gr \
		-l "127.0.0.1:$port" --ready auto:2s -- "$GR_HELPERS/httpd"
	wait_ready 1
	run ready_line 1
	assert_output --regexp "\(silent and alive\)$"
	at_least "$(ready_secs 1)" 2.00
}

@test "auto:5s: a child that speaks the protocol is ready by READY=1, not by silence" {
	local port
	port=$(free_port)
	HTTPD_STATUS_FIRST=1 HTTPD_START_GATE="$T/go" \
		start_gr -v -l "127.0.0.1:$port" --ready auto:5s -- "$GR_HELPERS/httpd"
	wait_for_line "$T/gr.err" 'generation 1: STATUS=starting'
	touch "$T/go"
	wait_ready 1
	run ready_line 1
	assert_output --regexp "\(READY=1\)$"
	at_least 4.99 "$(ready_secs 1)"
}

@test "auto: once a generation has notified, a later slow one is waited for until it does, past the timer" {
	local port pid1
	port=$(free_port)
	make_httpd_script
	httpd_knobs 1 HTTPD_READY=fd
	httpd_knobs 2 HTTPD_START_GATE="$T/gate-2"
	start_gr -l "127.0.0.1:$port" -- "$T/srv"
	wait_ready 1
	run ready_line 1
	assert_output --regexp "\(ready fd\)$"
	pid1=$(generation_pid 1)
	kill -HUP "$GR_PID"
	wait_for_line "$T/httpd-2.log" '^waiting for '
	no_line_for "$T/gr.err" 'generation 2 \(pid [0-9]+\) ready' 2
	assert_equal "$(served_by "$port")" "$pid1"
	touch "$T/gate-2"
	wait_ready 2
	run ready_line 2
	assert_output --regexp "\(READY=1\)$"
	at_least "$(ready_secs 2)" 2.00
}

@test "auto: once a generation has notified, a later one that only accepts fails at --ready-timeout" {
	local port pid1 pid2
	port=$(free_port)
	make_httpd_script
	httpd_knobs 2 HTTPD_READY=none
	start_gr -l "127.0.0.1:$port" --ready-timeout 3s -- "$T/srv"
	wait_ready 1
	pid1=$(generation_pid 1)
	kill -HUP "$GR_PID"
	wait_for_line "$T/gr.err" 'reload failed: generation 2 \(pid [0-9]+\) not ready within 3.00s; generation 1 still serving'
	pid2=$(generation_pid 2)
	wait_group_gone "$pid2"
	assert_equal "$(served_by "$port")" "$pid1"
}

@test "the ready pipe: a line on GRACEFUL_RUN_READY_FD, the fd right after the sockets" {
	local p1 p2
	p1=$(free_port)
	p2=$(free_port)
	HTTPD_READY=fd start_gr -l "127.0.0.1:$p1" -l "127.0.0.1:$p2" \
		--ready notify -- "$GR_HELPERS/httpd"
	wait_ready 1
	run ready_line 1
	assert_output --regexp "\(ready fd\)$"
	run grep -z '^GRACEFUL_RUN_READY_FD=' "/proc/$(generation_pid 1)/environ"
	assert_output --partial "GRACEFUL_RUN_READY_FD=5"
	assert_equal "$(served_by "$p2")" "$(generation_pid 1)"
}

@test "a child that closes the ready pipe has said nothing: not ready with --ready notify" {
	local port pid
	port=$(free_port)
	start_gr -l "127.0.0.1:$port" --ready notify --ready-timeout 2s -- \
		sh -c 'eval "exec $GRACEFUL_RUN_READY_FD>&-"
			echo "closed $GRACEFUL_RUN_READY_FD" >"$0"
			exec sleep 1000' "$T/closed"
	wait_for_line "$T/closed" '^closed 4$'
	wait_gr_exit 20
	assert_equal "$GR_STATUS" 137
	pid=$(generation_pid 1)
	grep -Eq "generation 1 \(pid $pid\) not ready within 2.00s" "$T/gr.err"
	run grep -c 'ready in' "$T/gr.err"
	assert_output 0
	run kill -0 -- "-$pid"
	assert_failure
}

@test "a child that closes the ready pipe has said nothing: silent and alive with auto" {
	local port
	port=$(free_port)
	start_gr -l "127.0.0.1:$port" -- \
		sh -c 'eval "exec $GRACEFUL_RUN_READY_FD>&-"
			echo "closed $GRACEFUL_RUN_READY_FD" >"$0"
			exec sleep 1000' "$T/closed"
	wait_for_line "$T/closed" '^closed 4$'
	wait_ready 1
	run ready_line 1
	assert_output --regexp "\(silent and alive\)$"
	at_least "$(ready_secs 1)" 1.00
}

@test "notify: systemd-notify --ready from a shell-script child" {
	local port
	command -v systemd-notify >/dev/null || skip "systemd-notify missing"
	port=$(free_port)
	start_gr -v -l "127.0.0.1:$port" --ready notify --ready-timeout 20s -- \
		sh -c 'systemd-notify --status="from systemd-notify" &&
			systemd-notify --ready && exec sleep 1000'
	wait_ready 1
	run ready_line 1
	assert_output --regexp "\(READY=1\)$"
	grep -q 'generation 1: STATUS=from systemd-notify' "$T/gr.err"
}

@test "graceful-run notify --status, then --ready, through NOTIFY_SOCKET" {
	local port
	port=$(free_port)
	start_gr -v -l "127.0.0.1:$port" --ready notify -- \
		sh -c '"$0" notify --status "warming up" || exit 9
			while [ ! -e "$1/go" ]; do sleep 0.05; done
			"$0" notify --ready --status "serving" || exit 9
			exec sleep 1000' "$GR_BIN" "$T"
	wait_for_line "$T/gr.err" 'generation 1: STATUS=warming up'
	# A status is not readiness.
	run grep -c 'ready in' "$T/gr.err"
	assert_output 0
	touch "$T/go"
	wait_ready 1
	run ready_line 1
	assert_output --regexp "\(READY=1\)$"
	grep -q 'generation 1: STATUS=serving' "$T/gr.err"
}

@test "graceful-run notify --ready uses the ready pipe when NOTIFY_SOCKET is unset" {
	local port
	port=$(free_port)
	start_gr -l "127.0.0.1:$port" --ready notify -- \
		sh -c 'unset NOTIFY_SOCKET
			"$0" notify --ready || exit 9
			exec sleep 1000' "$GR_BIN"
	wait_ready 1
	run ready_line 1
	assert_output --regexp "\(ready fd\)$"
}

@test "graceful-run notify outside graceful-run, or with nothing to say, fails" {
	run --separate-stderr env -u NOTIFY_SOCKET -u GRACEFUL_RUN_READY_FD \
		"$GR_BIN" notify --ready
	assert_equal "$status" 1
	assert_equal "${#stderr_lines[@]}" 1
	assert_regex "${stderr_lines[0]}" \
		'notify: neither NOTIFY_SOCKET nor GRACEFUL_RUN_READY_FD is set'
	run --separate-stderr "$GR_BIN" notify
	assert_equal "$status" 125
	assert_regex "${stderr_lines[0]}" 'notify: say --ready, --status TEXT or both'
}

@test "delay:D: ready after D as alive long enough; no notification channel offered" {
	local port
	port=$(free_port)
	start_gr -l "127.0.0.1:$port" --ready delay:1500ms -- \
		sh -c 'python3 "$0" "$1/child" && exec sleep 1000' \
		"$HELPERS_SRC/fdlist.py" "$T"
	wait_ready 1
	run ready_line 1
	assert_output --regexp "\(alive long enough\)$"
	at_least "$(ready_secs 1)" 1.50
	run cat "$T/child"
	refute_output --partial NOTIFY_SOCKET
	refute_output --partial GRACEFUL_RUN_READY_FD
	assert_line "env GRACEFUL_RUN_GENERATION=1"
	# Nothing but stdio and the socket.
	run sed -n 's/^fd \([0-9]*\) .*/\1/p' "$T/child"
	assert_output - <<-EOF
		0
		1
		2
		3
	EOF
	assert_line --index 3 3
	grep -q '^fd 3 socket$' "$T/child"
}

@test "exec:CMD: ready once CMD exits 0, retried until then, GRACEFUL_RUN_PID is the child" {
	local port pid
	port=$(free_port)
	start_gr -l "127.0.0.1:$port" -v \
		--ready "exec:echo \"\$GRACEFUL_RUN_PID\" >>'$T/probes'; test -e '$T/go'" \
		-- "$GR_HELPERS/httpd"
	wait_for_line "$T/gr.err" 'generation 1 \(pid [0-9]+\) started'
	pid=$(generation_pid 1)
	wait_for_count "$T/probes" . 3
	run grep -c 'ready in' "$T/gr.err"
	assert_output 0
	touch "$T/go"
	wait_ready 1
	run ready_line 1
	assert_output --regexp "\(ready command\)$"
	run sort -u "$T/probes"
	assert_output "$pid"
	# Not one probe more once it is ready.
	local n
	n=$(grep -c . "$T/probes")
	kill -HUP "$GR_PID"
	wait_for_line "$T/gr.err" 'generation 2 \(pid [0-9]+\) started'
	wait_ready 2
	run sed -n "$((n + 1)),\$p" "$T/probes"
	assert_output "$(generation_pid 2)"
	# The probes were reaped; none is left.
	run ps --ppid "$GR_PID" -o pid=,stat=,args=
	refute_output --partial "sh -c"
}

@test "exec:CMD: a probe of the new child over HTTP" {
	local port
	port=$(free_port)
	HTTPD_READY=none HTTPD_START_GATE="$T/go" start_gr -v \
		-l "127.0.0.1:$port" --ready \
		"exec:curl -fsS --max-time 1 http://127.0.0.1:$port/ | grep -q \"^pid=0*\$GRACEFUL_RUN_PID \"" \
		-- "$GR_HELPERS/httpd"
	# Tried and failed while the server is held at its gate.
	wait_for_count "$T/gr.err" 'ready command exited [1-9]' 2
	run grep -c 'ready in' "$T/gr.err"
	assert_output 0
	touch "$T/go"
	wait_ready 1
	run ready_line 1
	assert_output --regexp "\(ready command\)$"
	assert_equal "$(served_by "$port")" "$(generation_pid 1)"
}

# times_out [OPTION]...: generation 1 of httpd under these options is never
# ready within --ready-timeout 1s: killed, the wrapper exits 137.
times_out() {
	local port pid
	port=$(free_port)
	start_gr -l "127.0.0.1:$port" --ready-timeout 1s "$@" -- \
		"$GR_HELPERS/httpd"
	wait_gr_exit 20
	pid=$(generation_pid 1)
	[ -n "$pid" ]
	assert_equal "$GR_STATUS" 137
	run grep -E "generation 1 \(pid $pid\) not ready within 1.00s" "$T/gr.err"
	assert_success
	run grep -c 'ready in' "$T/gr.err"
	assert_output 0
	run kill -0 -- "-$pid"
	assert_failure
	run port_listening "$port"
	assert_failure
}

@test "--ready-timeout: the first generation never notifying (notify) is killed, exit 137" {
	HTTPD_READY=none times_out --ready notify
}

@test "--ready-timeout: the first generation saying STATUS= but never READY=1 (auto) is killed" {
	HTTPD_STATUS_FIRST=1 HTTPD_START_GATE="$T/never" times_out
}

@test "--ready-timeout: bounds delay:D too" {
	HTTPD_READY=none times_out --ready delay:10s
}

@test "--ready-timeout: a ready command that never passes" {
	HTTPD_READY=none times_out --ready exec:false
}

@test "each generation has its own NOTIFY_SOCKET: the old one's READY=1 is not the new one's" {
	local port pid1 pid2 path1 path2
	port=$(free_port)
	make_httpd_script
	httpd_knobs 2 HTTPD_START_GATE="$T/gate-2"
	start_gr -v -l "127.0.0.1:$port" --ready notify -- "$T/srv"
	wait_ready 1
	pid1=$(generation_pid 1)
	kill -HUP "$GR_PID"
	wait_for_line "$T/httpd-2.log" '^start gen=2 '
	pid2=$(generation_pid 2)
	path1=$(tr '\0' '\n' <"/proc/$pid1/environ" | sed -n 's/^NOTIFY_SOCKET=//p')
	path2=$(tr '\0' '\n' <"/proc/$pid2/environ" | sed -n 's/^NOTIFY_SOCKET=//p')
	assert [ -n "$path1" ]
	assert [ -n "$path2" ]
	assert [ "$path1" != "$path2" ]
	assert [ -S "$path1" ]
	assert [ -S "$path2" ]
	# READY=1 on generation 1's socket while generation 2 starts.
	python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendto(b"READY=1\nSTATUS=stray ready", sys.argv[1])' "$path1"
	wait_for_line "$T/gr.err" 'generation 1: STATUS=stray ready'
	run grep -c 'generation 2 (pid [0-9]*) ready' "$T/gr.err"
	assert_output 0
	run grep -c 'generation 1 (pid [0-9]*) stopping' "$T/gr.err"
	assert_output 0
	touch "$T/gate-2"
	wait_ready 2
	run ready_line 2
	assert_output --regexp "\(READY=1\)$"
	# A gone generation's socket is removed, and the directory at exit.
	wait_for_line "$T/gr.err" "generation 1 \(pid $pid1\) exited 0 after draining"
	wait_reaped "$pid1"
	local i=0
	while [ -e "$path1" ] && [ $i -lt 100 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	[ ! -e "$path1" ]
	kill -TERM "$GR_PID"
	wait_gr_exit 20
	assert_equal "$GR_STATUS" 0
	[ ! -e "$path2" ]
	[ ! -e "$(dirname "$path2")" ]
}

@test "a ready line written after readiness does no harm" {
	local port=$(free_port)
	start_gr --ready auto:200ms -l "127.0.0.1:$port" -- sh -c '
		while [ ! -e "$1/go" ]; do sleep 0.05; done
		echo late >&$GRACEFUL_RUN_READY_FD && echo wrote >"$1/late"
		exec sleep 1000' _ "$T"
	wait_for_line "$T/gr.err" 'generation 1 \(pid [0-9]+\) ready in [0-9.]+s \(silent and alive\)'
	touch "$T/go"
	wait_for_line "$T/late" wrote
	kill -0 "$(generation_pid 1)"
	run grep -c 'exited' "$T/gr.err"
	assert_output 0
}

# cpu_ticks PID: the user + system CPU time PID has used, in clock ticks.
cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}

# cpu_ms_over PID SECONDS: the CPU time PID uses over the next SECONDS, in ms.
cpu_ms_over() {
	local t0 t1 hz
	hz=$(getconf CLK_TCK)
	t0=$(cpu_ticks "$1")
	sleep "$2"
	t1=$(cpu_ticks "$1")
	echo $(((t1 - t0) * 1000 / hz))
}

@test "a child streaming on the ready pipe does not keep graceful-run busy; the old generation serves" {
	local port pid1 ms
	port=$(free_port)
	make_httpd_script
	httpd_knobs 2 HTTPD_START_GATE="$T/gate-2"
	cat >"$T/stream" <<-EOF
	#!/bin/sh
	# An endless stream with no newline on the ready pipe, from the group.
	[ "\$GRACEFUL_RUN_GENERATION" = 2 ] &&
		tr '\\0' x </dev/zero >&"\$GRACEFUL_RUN_READY_FD" &
	exec "$T/srv"
	EOF
	chmod +x "$T/stream"
	start_gr -l "127.0.0.1:$port" -- "$T/stream"
	wait_ready 1
	pid1=$(generation_pid 1)
	kill -HUP "$GR_PID"
	wait_for_line "$T/gr.err" 'generation 2: [0-9]+ bytes on the ready pipe and no newline; it is no longer read'
	# The writer is blocked now, and graceful-run idle (it spun before).
	ms=$(cpu_ms_over "$GR_PID" 2)
	echo "graceful-run used ${ms}ms of CPU in 2s" >&2
	assert [ "$ms" -lt 200 ]
	assert_equal "$(served_by "$port")" "$pid1"
	touch "$T/gate-2"
	wait_ready 2
	run ready_line 2
	assert_output --regexp "\(READY=1\)$"
	assert_equal "$(served_by "$port")" "$(generation_pid 2)"
}

@test "a child flooding its notify socket does not keep graceful-run busy; the old generation serves" {
	local port pid1 ms
	port=$(free_port)
	make_httpd_script
	httpd_knobs 2 HTTPD_START_GATE="$T/gate-2"
	cat >"$T/flood" <<-EOF
	#!/bin/sh
	# Generation 2 floods NOTIFY_SOCKET with STATUS= from its group.
	[ "\$GRACEFUL_RUN_GENERATION" = 2 ] && python3 -c '
	import socket, sys, time
	s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
	while True:
	    try:
	        s.sendto(b"STATUS=flood", sys.argv[1])
	    except OSError:
	        time.sleep(0.001)
	' "\$NOTIFY_SOCKET" &
	exec "$T/srv"
	EOF
	chmod +x "$T/flood"
	start_gr -l "127.0.0.1:$port" -- "$T/flood"
	wait_ready 1
	pid1=$(generation_pid 1)
	kill -HUP "$GR_PID"
	wait_for_line "$T/gr.err" 'generation 2: 64 notify messages within 10ms; read at that rate from now on'
	ms=$(cpu_ms_over "$GR_PID" 2)
	echo "graceful-run used ${ms}ms of CPU in 2s of flood while generation 2 starts" >&2
	assert [ "$ms" -lt 200 ]
	assert_equal "$(served_by "$port")" "$pid1"
	touch "$T/gate-2"
	wait_ready 2
	run ready_line 2
	assert_output --regexp "\(READY=1\)$"
	# Ready, it floods on: its socket is closed, graceful-run stays idle.
	wait_for_line "$T/gr.err" 'generation 2: 64 notify messages within 10ms; its notify socket is closed'
	ms=$(cpu_ms_over "$GR_PID" 1)
	echo "graceful-run used ${ms}ms of CPU in 1s once generation 2 is ready" >&2
	assert [ "$ms" -lt 100 ]
	assert_equal "$(served_by "$port")" "$(generation_pid 2)"
}

# A pids cgroup (v1 or v2) for the test, or nothing when none can be made.
make_pids_cgroup() {
	local base
	for base in /sys/fs/cgroup/pids /sys/fs/cgroup; do
		[ -w "$base/cgroup.procs" ] && [ -d "$base" ] || continue
		CG="$base/gr-test-$$-$BATS_TEST_NUMBER"
		mkdir "$CG" 2>/dev/null && [ -e "$CG/pids.max" ] && return 0
		rmdir "$CG" 2>/dev/null
	done
	CG=
	return 1
}

teardown() {
	local cg=${CG:-}
	# The test's processes first, so the cgroup can go.
	if [ -n "$cg" ] && [ -e "$cg/pids.max" ]; then
		echo max >"$cg/pids.max" 2>/dev/null || true
	fi
	common_teardown
	if [ -n "$cg" ]; then
		retry_until 10 rmdir "$cg" 2>/dev/null || true
	fi
}

@test "exec:CMD: a probe that cannot be started (fork fails) is tried again" {
	[ "$(id -u)" = 0 ] || skip "needs root for a pids cgroup"
	make_pids_cgroup || skip "no pids cgroup can be made here"
	local port
	port=$(free_port)
	# Room for graceful-run and its generation, not for a probe.
	echo 2 >"$CG/pids.max"
	sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CG" \
		"$GR_BIN" -l "127.0.0.1:$port" --ready exec:true -- sleep 1000 \
		>"$T/gr.out" 2>"$T/gr.err" 3>&- &
	GR_PID=$!
	# Tried again after the first fork failed.
	wait_for_count "$T/gr.err" 'fork' 2
	run grep -c 'ready in' "$T/gr.err"
	assert_output 0
	echo max >"$CG/pids.max"
	wait_ready 1
	run ready_line 1
	assert_output --regexp "\(ready command\)$"
}
