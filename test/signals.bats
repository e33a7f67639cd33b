#!/usr/bin/env bats
# Signals to graceful-run: graceful stop, the stop timeout, forwarding, and
# reaping as a subreaper or as PID 1.

load helpers/common

# start_probe [OPTIONS...]: graceful-run OPTIONS -- probe-child, then wait
# until the child is ready.
start_probe() {
	PROBE_LOG="$T/probe.log" start_gr "$@" -- "$HELPERS_SRC/probe-child"
	wait_for_line "$T/gr.err" 'generation 1 \(pid [0-9]+\) ready'
}

@test "TERM stops the child with the stop signal and exits 0" {
	start_probe
	kill -TERM "$GR_PID"
	wait_gr_exit
	assert_equal "$GR_STATUS" 0
	run cat "$T/probe.log"
	assert_line "signal TERM"
	assert_line "exit 0"
	run grep -c 'SIGTERM: stopping every generation with SIGTERM' "$T/gr.err"
	assert_output 1
}

@test "INT and QUIT stop gracefully too" {
	local sig
	for sig in INT QUIT; do
		start_probe
		kill -"$sig" "$GR_PID"
		wait_gr_exit
		assert_equal "$GR_STATUS" 0
		run grep -c "SIG$sig: stopping every generation with SIGTERM" "$T/gr.err"
		assert_output 1
	done
}

@test "--stop-signal chooses what the process group gets" {
	start_gr --stop-signal QUIT --stop-timeout 30s -- python3 -c '
import os, signal, sys
def on_quit(signo, frame):
    open(sys.argv[1], "a").write("got QUIT\n")
    sys.exit(0)
signal.signal(signal.SIGQUIT, on_quit)
os.write(int(os.environ["GRACEFUL_RUN_READY_FD"]), b"ready\n")
while True:
    signal.pause()' "$T/probe.log"
	wait_for_line "$T/gr.err" 'generation 1 .* ready'
	kill -TERM "$GR_PID"
	wait_gr_exit
	assert_equal "$GR_STATUS" 0
	run cat "$T/probe.log"
	assert_line "got QUIT"
}

@test "after a graceful stop the exit status is the child's own" {
	PROBE_TERM_EXIT=3 start_probe
	kill -TERM "$GR_PID"
	wait_gr_exit
	assert_equal "$GR_STATUS" 3
}

@test "a child that ignores TERM is killed after --stop-timeout; exit 137" {
	PROBE_IGNORE_TERM=1 start_probe --stop-timeout 500ms
	local child=$(generation_pid 1)
	kill -TERM "$GR_PID"
	wait_gr_exit 30
	assert_equal "$GR_STATUS" 137
	run grep -E "generation 1 \(pid $child\) still running 0.50s after SIGTERM; sending SIGKILL" "$T/gr.err"
	assert_success
	run kill -0 "$child"
	assert_failure
}

@test "a second TERM kills at once" {
	PROBE_IGNORE_TERM=1 start_probe --stop-timeout 10m
	kill -TERM "$GR_PID"
	wait_for_line "$T/probe.log" "signal TERM"
	kill -TERM "$GR_PID"
	wait_gr_exit 30
	assert_equal "$GR_STATUS" 137
	run grep -c "second SIGTERM: killing every generation" "$T/gr.err"
	assert_output 1
}

@test "USR1, USR2, WINCH, TTIN and TTOU are forwarded to the child" {
	start_probe
	local sig
	for sig in USR1 USR2 WINCH TTIN TTOU; do
		kill -"$sig" "$GR_PID"
		wait_for_line "$T/probe.log" "signal $sig"
	done
	# The wrapper is still running and still the same process.
	kill -0 "$GR_PID"
	run grep -c "stopping" "$T/gr.err"
	assert_output 0
}

@test "orphaned grandchildren are reaped (child subreaper)" {
	start_gr --ready delay:0 -- sh -c '
		(sh -c "ps -o ppid= -p \$\$ | tr -d \" \" >$1/orphan.ppid
		        echo \$\$ >$1/orphan.pid" &)
		while :; do sleep 1000 & wait $!; done' _ "$T"
	wait_for_line "$T/orphan.pid" '[0-9]'
	# Its parent (the subshell) was gone, so it was the wrapper's to reap:
	# kill -0 succeeds on a zombie, so "reaped" means no process at all.
	wait_reaped "$(cat "$T/orphan.pid")"
	assert_equal "$(cat "$T/orphan.ppid")" "$GR_PID"
	kill -0 "$GR_PID"
}

@test "as PID 1 it reaps, forwards TERM and exits with the child's status" {
	unshare --pid --fork --mount-proc true 2>/dev/null ||
		skip "no pid namespaces here"
	# The orphan exits at once; only PID 1 can reap it. The child waits
	# (bounded) until it is reaped, then exits 5 - or 9 if it never is.
	run unshare --pid --fork --mount-proc "$GR_BIN" -- sh -c '
		(sh -c "echo \$\$ >$1/orphan.pid" &)
		i=0
		until [ -s "$1/orphan.pid" ] && ! kill -0 "$(cat "$1/orphan.pid")" 2>/dev/null; do
			[ $((i += 1)) -lt 400 ] || exit 9
			sleep 0.05
		done
		exit 5' _ "$T"
	assert_equal "$status" 5
	unshare --pid --fork --mount-proc "$GR_BIN" -- "$HELPERS_SRC/probe-child" \
		>"$T/gr.out" 2>"$T/gr.err" 3>&- &
	local outer=$!
	wait_for_line "$T/gr.out" "ready gen=1"
	local inner=$(pgrep -P "$outer" -f graceful-run)
	[ -n "$inner" ]
	kill -TERM "$inner"
	local st=0
	wait "$outer" || st=$?
	assert_equal "$st" 0
	run grep -c "SIGTERM: stopping every generation" "$T/gr.err"
	assert_output 1
}

# An ignored SIGCHLD makes the kernel reap children itself: graceful-run
# must put it back to its default, or no exit would ever be seen.
@test "an inherited ignored SIGCHLD: exits are still seen, TERM still stops" {
	start_gr_ignoring CHLD,TERM,HUP -- sh -c '
		echo ready >&$GRACEFUL_RUN_READY_FD
		until [ -e "$1/go" ]; do sleep 0.05; done
		exit 7' _ "$T"
	wait_for_line "$T/gr.err" 'generation 1 \(pid [0-9]+\) ready in .*\(ready fd\)'
	touch "$T/go"
	wait_gr_exit 10
	assert_equal "$GR_STATUS" 7
	run grep -c 'generation 1 (pid [0-9]*) exited with status 7$' "$T/gr.err"
	assert_output 1

	PROBE_LOG="$T/probe.log" start_gr_ignoring CHLD,TERM,HUP -- \
		"$HELPERS_SRC/probe-child"
	wait_for_line "$T/gr.err" 'generation 1 \(pid [0-9]+\) ready'
	kill -HUP "$GR_PID"
	wait_for_line "$T/gr.err" 'generation 2 \(pid [0-9]+\) ready'
	wait_for_line "$T/gr.err" 'generation 1 \(pid [0-9]+\) exited 0 after draining'
	kill -TERM "$GR_PID"
	wait_gr_exit 10
	assert_equal "$GR_STATUS" 0
}

# "cmd &" in a script ignores INT and QUIT; the child must not inherit
# that, or --stop-signal INT would always end in SIGKILL (137).
@test "INT and QUIT ignored by graceful-run's parent: --stop-signal INT still stops" {
	start_gr_ignoring INT,QUIT --stop-signal INT --stop-timeout 10s -- \
		sh -c 'echo ready >&$GRACEFUL_RUN_READY_FD; exec sleep 1000'
	wait_for_line "$T/gr.err" 'generation 1 \(pid [0-9]+\) ready'
	kill -TERM "$GR_PID"
	wait_gr_exit 8
	assert_equal "$GR_STATUS" 0
	run grep -c 'generation 1 (pid [0-9]*) exited on SIGINT$' "$T/gr.err"
	assert_output 1
	run grep -c 'SIGKILL' "$T/gr.err"
	assert_output 0
}

@test "the child starts with no signal ignored or blocked, whatever graceful-run inherited" {
	BLOCKING=ALRM,USR1,RTMIN start_gr_ignoring \
		INT,QUIT,ALRM,PIPE,URG,VTALRM,PROF,XFSZ,USR2,RTMAX,32,33 \
		--ready delay:0 -- \
		sh -c 'exec grep -E "^Sig(Ign|Blk):" /proc/self/status'
	wait_gr_exit
	assert_equal "$GR_STATUS" 0
	run cat "$T/gr.out"
	assert_line "SigBlk:	0000000000000000"
	assert_line "SigIgn:	0000000000000000"
}
