#!/usr/bin/env bats
# Nothing escapes: graceful-run is a child subreaper, so what a generation
# starts in a session of its own (setsid) is reparented to it once its
# parent exits; it is stopped with its generation, killed at --stop-timeout,
# and graceful-run does not exit while any of it runs.

load helpers/common

# make_escaper: $T/escaper, a command that starts a grandchild in a session
# of its own (it ignores TERM and logs what it gets to $T/grandchild.log,
# its pid in $T/grandchild-N.pid for generation N), then serves: httpd.
make_escaper() {
	cat >"$T/escaper" <<-EOF
		#!/bin/sh
		setsid sh -c 'trap "echo TERM >>$T/grandchild.log" TERM
			echo \$\$ >"$T/grandchild-\$GRACEFUL_RUN_GENERATION.pid"
			while :; do sleep 0.2; done' 4>&- &
		export HTTPD_LOG="$T/httpd-\$GRACEFUL_RUN_GENERATION.log"
		exec "$GR_HELPERS/httpd"
	EOF
	chmod +x "$T/escaper"
}

# start_escaper: graceful-run on a fresh $port running $T/escaper, with a
# 1s stop timeout; generation 1's pid in $pid1, its grandchild's in
# $grandchild.
start_escaper() {
	port=$(free_port)
	make_escaper
	start_gr -l "127.0.0.1:$port" --ready notify --stop-timeout 1s -- "$T/escaper"
	wait_ready 1
	pid1=$(generation_pid 1)
	wait_for_line "$T/grandchild-1.pid" '^[0-9]+$'
	grandchild=$(cat "$T/grandchild-1.pid")
}

@test "a command that leaves an orphan in its own session: the orphan is stopped, then graceful-run exits 0" {
	start_gr --stop-timeout 20s -- sh -c '
		setsid sh -c "trap \"echo TERM >>$0/orphan.log; exit 0\" TERM
			echo \$\$ >$0/orphan.pid
			while :; do sleep 0.1; done" &
		until [ -s "$0/orphan.pid" ]; do sleep 0.05; done' "$T"
	wait_gr_exit 20
	assert_equal "$GR_STATUS" 0
	# graceful-run left only once the orphan was gone; the orphan was
	# asked to stop (it got TERM and left by itself).
	run kill -0 "$(cat "$T/orphan.pid")"
	assert_failure
	run cat "$T/orphan.log"
	assert_output "TERM"
	run grep -c 'SIGKILL' "$T/gr.err"
	assert_output 0
}

@test "a server that setsid's a grandchild: on TERM the grandchild is stopped, killed at --stop-timeout, and graceful-run exits 0 after it" {
	local grandchild
	start_escaper
	# In a session of its own: not in the generation's process group.
	[ "$(ps -o sid= -p "$grandchild" | tr -d ' ')" = "$grandchild" ]
	assert_equal "$(served_by "$port")" "$pid1"

	kill -TERM "$GR_PID"
	wait_gr_exit 20
	assert_equal "$GR_STATUS" 0
	run kill -0 "$grandchild"
	assert_failure
	run cat "$T/grandchild.log"
	assert_output "TERM"
	run cat "$T/gr.err"
	assert_line --partial "generation 1 (pid $pid1) exited 0"
	assert_line --partial "still running 1.00s after SIGTERM; sending SIGKILL"
	grep -q '^exit status=0$' "$T/httpd-1.log"
	run port_listening "$port"
	assert_failure
}

@test "the grandchild of an old generation is stopped when that generation drains, while the new one serves" {
	local grandchild
	start_escaper
	reload_to 2
	wait_for_line "$T/gr.err" "generation 1 \(pid $pid1\) exited 0 after draining"
	wait_for_line "$T/gr.err" "generation 1 \(pid $pid1\) still running 1.00s after SIGTERM; sending SIGKILL"
	wait_reaped "$grandchild"
	run cat "$T/grandchild.log"
	assert_output "TERM"
	# Generation 2 and its own grandchild are left alone.
	kill -0 "$GR_PID"
	assert_equal "$(served_by "$port")" "$(generation_pid 2)"
	running "$(cat "$T/grandchild-2.pid")"
	run grep -c "^TERM$" "$T/grandchild.log"
	assert_output 1
}

@test "as PID 1 of a PID namespace: the orphan of the namespace is stopped before graceful-run exits" {
	unshare --pid --fork --mount-proc true 2>/dev/null ||
		skip "no pid namespaces here"
	# When PID 1 exits, the kernel kills what is left in the namespace:
	# that the orphan got TERM (and said so) shows graceful-run stopped it.
	run unshare --pid --fork --mount-proc "$GR_BIN" --stop-timeout 20s -- sh -c '
		setsid sh -c "trap \"echo TERM >>$0/orphan.log; exit 0\" TERM
			echo \$\$ >$0/orphan.pid
			while :; do sleep 0.1; done" &
		until [ -s "$0/orphan.pid" ]; do sleep 0.05; done' "$T"
	assert_equal "$status" 0
	run cat "$T/orphan.log"
	assert_output "TERM"
}

# count_stop_signals WAIT-FOR [ENV-ARG]...: graceful-run with stop signal
# 40 runs a child that leaves an orphan leading its own group (started
# through env ENV-ARG...); once graceful-run has logged WAIT-FOR, the
# orphan counts how many times it was sent signal 40 (real-time signals are
# queued once per kill(); it blocks it) into $T/signals.
count_stop_signals() {
	local wait_for=$1
	shift
	rm -f "$T/orphan.pid" "$T/count" "$T/signals"
	cat >"$T/orphan.py" <<-EOF
		import os, signal, sys, time
		signal.pthread_sigmask(signal.SIG_BLOCK, {40})
		with open("$T/orphan.pid", "w") as f:
		    f.write("%d\n" % os.getpid())
		while not os.path.exists("$T/count"):
		    time.sleep(0.05)
		n = 0
		while signal.sigtimedwait({40}, 0) is not None:
		    n += 1
		with open("$T/signals", "w") as f:
		    f.write("%d\n" % n)
	EOF
	start_gr --ready delay:0 --stop-signal 40 -- \
		sh -c 'env "$@" setsid python3 "$0/orphan.py" & exec sleep 1000' "$T" "$@"
	wait_for_line "$T/orphan.pid" '^[0-9]+$'
	kill -TERM "$GR_PID"
	wait_for_line "$T/gr.err" "$wait_for"
	touch "$T/count"
	wait_gr_exit
	assert_equal "$GR_STATUS" 0
}

@test "what a generation left gets the stop signal once, however many ways reach it" {
	count_stop_signals "generation 1 \(pid [0-9]+\) exited on SIG"
	assert_equal "$(cat "$T/signals")" 1
	# The same for one that names no generation, stopped as graceful-run
	# leaves.
	count_stop_signals "stopping pid [0-9]+, left behind" -u GRACEFUL_RUN_GENERATION
	assert_equal "$(cat "$T/signals")" 1
}
