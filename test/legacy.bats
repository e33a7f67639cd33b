#!/usr/bin/env bats
# --forking[=PIDFILE]: a traditional daemon (fork, setsid, maybe a second
# fork, a pid file) whose first process exits 0. The daemon it leaves is
# the generation's main process: readiness, the stop signal and the exit
# status are its own. The fixture, test/helpers/forkd.py, serves from the
# socket at fd 3 and answers with the daemon's pid.

load helpers/common
load helpers/ab
load helpers/daemons

# make_food: $T/food, the daemon command: forkd.py logging to $T/forkd.log,
# with its arguments, plus those in $T/args-N for generation N.
make_food() {
	cat >"$T/food" <<-EOF
		#!/bin/sh
		extra=\$(cat "$T/args-\$GRACEFUL_RUN_GENERATION" 2>/dev/null)
		exec python3 "$HELPERS_SRC/forkd.py" --log "$T/forkd.log" "\$@" \$extra
	EOF
	chmod +x "$T/food"
}

# start_food [GR-OPTION]... -- [FORKD-OPTION]...: graceful-run on a fresh
# $port running $T/food.
start_food() {
	local opts=()
	while [ "$1" != "--" ]; do
		opts+=("$1")
		shift
	done
	shift
	port=$(free_port)
	make_food
	start_gr -l "127.0.0.1:$port" "${opts[@]}" -- "$T/food" "$@"
}

# wait_daemon N: until generation N is ready with its daemon as its main
# process; the daemon's pid is then $daemon.
wait_daemon() {
	wait_for_line "$T/gr.err" "generation $1 \(pid [0-9]+\) ready in" "${2:-20}"
	daemon=$(main_pid "$1")
	grep -q "generation $1 (pid $daemon) ready in" "$T/gr.err"
	# The process the fixture says is its daemon (with a double fork, the
	# grandchild of the first process).
	assert_equal "$daemon" "$(sed -n "s/^daemon pid=\([0-9]*\) gen=$1\$/\1/p" "$T/forkd.log")"
}

# gone_for_good PID...: not a process any more, not even a zombie.
gone_for_good() {
	local pid
	for pid in "$@"; do
		run kill -0 "$pid"
		assert_failure
	done
}

# twenty_reloads_under_ab: generation 1 serves; 20 reloads while ab runs,
# each a new daemon that answers once the old one has drained; then TERM
# leaves no process and no socket behind.
twenty_reloads_under_ab() {
	local n daemons=()
	ab_available
	wait_daemon 1
	daemons+=("$daemon")
	assert_equal "$(served_by "$port")" "$daemon"
	start_ab 4
	for n in $(seq 2 21); do
		kill -HUP "$GR_PID"
		wait_daemon "$n" 30
		wait_for_line "$T/gr.err" "generation $((n - 1)) \(pid ${daemons[-1]}\) exited 0 after draining" 30
		assert_equal "$(served_by "$port")" "$daemon"
		daemons+=("$daemon")
	done
	stop_ab
	assert_ab_clean
	# 21 different daemons, each a process of its own.
	assert_equal "$(printf '%s\n' "${daemons[@]}" | sort -u | wc -l)" 21
	kill -TERM "$GR_PID"
	wait_gr_exit
	assert_equal "$GR_STATUS" 0
	gone_for_good "${daemons[@]}"
	run port_listening "$port"
	assert_failure
	run grep -v "^graceful-run\[$GR_PID\]: " "$T/gr.err"
	assert_output ""
}

@test "--forking=PIDFILE: 20 reloads under ab, a new daemon answering after each, nothing left after TERM" {
	start_food --forking="$T/d.pid" -- --pidfile "$T/d.pid" --notify
	twenty_reloads_under_ab
	[ ! -e "$T/d.pid" ]
}

@test "--forking without PIDFILE, one fork: 20 reloads under ab, nothing left after TERM" {
	start_food --forking -- --notify
	twenty_reloads_under_ab
}

@test "--forking without PIDFILE, a double fork: 20 reloads under ab, nothing left after TERM" {
	start_food --forking -- --double --notify
	twenty_reloads_under_ab
}

@test "--forking: a silent daemon that closed every fd is seen accepting, by its own pid" {
	start_food --forking="$T/d.pid" -- --pidfile "$T/d.pid"
	wait_daemon 1
	run grep "generation 1 (pid $daemon) ready in" "$T/gr.err"
	assert_output --regexp "ready in [0-9.]+s \(accepting on fd [0-9]+[^)]*\)$"
	assert_equal "$(served_by "$port")" "$daemon"
	assert_equal "$(cat "$T/d.pid")" "$daemon"
}

@test "--forking: READY=1 sent before the first process exits counts for the daemon" {
	local first
	start_food --forking="$T/d.pid" -- --pidfile "$T/d.pid" --notify --wait-ready
	wait_daemon 1
	first=$(generation_pid 1)
	grep -q "generation 1 (pid $daemon) ready in [0-9.]*s (READY=1)" "$T/gr.err"
	run grep -E "generation 1 \(pid $first\) (ready|exited)" "$T/gr.err"
	assert_output ""
	assert_equal "$(served_by "$port")" "$daemon"
	kill -HUP "$GR_PID"
	wait_daemon 2
	wait_for_line "$T/gr.err" "generation 1 \(pid [0-9]+\) exited 0 after draining"
	assert_equal "$(served_by "$port")" "$daemon"
	kill -0 "$GR_PID"
}

@test "--forking=PIDFILE: a command that stays in the foreground and names itself in PIDFILE is its own main process" {
	local first
	start_food --forking="$T/d.pid" -- --pidfile "$T/d.pid" --foreground
	wait_ready 1
	first=$(generation_pid 1)
	grep -q "generation 1 (pid $first) stays in the foreground, and $T/d.pid names it: it is its own main process" "$T/gr.err"
	assert_equal "$(served_by "$port")" "$first"
	kill -HUP "$GR_PID"
	wait_ready 2
	wait_for_line "$T/gr.err" "generation 1 \(pid $first\) exited 0 after draining"
	assert_equal "$(served_by "$port")" "$(generation_pid 2)"
}

@test "--forking: a command that never forks is not ready; the line says why" {
	start_food --forking --ready-timeout 2s -- --foreground
	wait_gr_exit
	assert_equal "$GR_STATUS" 137
	grep -q "generation 1 (pid $(generation_pid 1)) did not fork into the background and exit 0 within 2.00s (--forking); killed" "$T/gr.err"
	run port_listening "$port"
	assert_failure
}

@test "--forking: a first process that exits non-zero is a failed start; what it forked is stopped" {
	local d
	start_food --forking="$T/d.pid" -- --pidfile "$T/d.pid" --first-exit 3 \
		--wait-ready
	wait_gr_exit
	assert_equal "$GR_STATUS" 3
	grep -q "generation 1 (pid $(generation_pid 1)) exited with status 3 before it was ready" "$T/gr.err"
	d=$(sed -n 's/^daemon pid=\([0-9]*\).*/\1/p' "$T/forkd.log")
	[ -n "$d" ]
	gone_for_good "$d"
	run port_listening "$port"
	assert_failure
}

@test "--forking: a first process that exits non-zero at a reload fails the reload; the old daemon serves on" {
	local d1 d2
	start_food --forking="$T/d.pid" -- --pidfile "$T/d.pid" --notify
	wait_daemon 1
	d1=$daemon
	echo "--first-exit 3 --wait-ready" >"$T/args-2"
	kill -HUP "$GR_PID"
	wait_for_line "$T/gr.err" "reload failed: generation 2 exited with status 3 before it was ready; generation 1 still serving"
	d2=$(sed -n 's/^daemon pid=\([0-9]*\) gen=2$/\1/p' "$T/forkd.log")
	[ -n "$d2" ]
	wait_reaped "$d2"
	assert_equal "$(served_by "$port")" "$d1"
	kill -HUP "$GR_PID"
	wait_daemon 3
	wait_for_line "$T/gr.err" "generation 1 \(pid $d1\) exited 0 after draining"
	assert_equal "$(served_by "$port")" "$daemon"
}

@test "--forking: a first process that exits 0 and leaves nothing is a failed start, with a clear line" {
	start_food --forking -- --nothing
	wait_gr_exit
	assert_equal "$GR_STATUS" 125
	grep -q "generation 1 (pid $(generation_pid 1)) exited 0 and left no process behind (--forking)" "$T/gr.err"
	# With a pid file to wait for, it is known at once too.
	start_food --forking="$T/d.pid" --ready-timeout 30s -- --nothing
	wait_gr_exit 10
	assert_equal "$GR_STATUS" 125
	grep -q "generation 1 (pid $(generation_pid 1)) exited 0 and left no process behind (--forking=$T/d.pid)" "$T/gr.err"
	run port_listening "$port"
	assert_failure
}

@test "--forking=PIDFILE: a daemon that dies before it names itself fails the start at once" {
	start_food --forking="$T/d.pid" --ready-timeout 30s -- --pidfile "$T/d.pid" --no-pidfile-die
	wait_gr_exit 10
	assert_equal "$GR_STATUS" 125
	# Two lines, and nothing about a generation that is gone.
	run sed "s/^graceful-run\[$GR_PID\]: //" "$T/gr.err"
	assert_output - <<-EOF
		generation 1 (pid $(generation_pid 1)) started
		generation 1 (pid $(generation_pid 1)) exited 0 and left no process behind (--forking=$T/d.pid)
	EOF
}

@test "--forking: a reload whose first process leaves nothing fails; the old daemon serves on" {
	start_food --forking="$T/d.pid" -- --pidfile "$T/d.pid" --notify
	wait_daemon 1
	echo "--nothing" >"$T/args-2"
	kill -HUP "$GR_PID"
	wait_for_line "$T/gr.err" "reload failed: generation 2 \(pid [0-9]+\) exited 0 and left no process behind \(--forking=$T/d.pid\); generation 1 still serving" 10
	assert_equal "$(served_by "$port")" "$daemon"
	kill -0 "$GR_PID"
}

@test "--forking=PIDFILE: a pid file that never names the daemon fails at --ready-timeout, saying so" {
	local d
	start_food --forking="$T/d.pid" --ready-timeout 2s -- --pidfile "$T/other.pid" --notify
	wait_gr_exit
	assert_equal "$GR_STATUS" 137
	grep -q "generation 1 (pid $(generation_pid 1)) exited 0, but $T/d.pid named no process of it within 2.00s; killed" "$T/gr.err"
	d=$(sed -n 's/^daemon pid=\([0-9]*\).*/\1/p' "$T/forkd.log")
	gone_for_good "$d"
}

@test "--forking=PIDFILE: TERM while graceful-run waits for the pid file stops the daemon and exits" {
	local d
	start_food --forking="$T/d.pid" -- --pidfile "$T/other.pid"
	wait_for_line "$T/forkd.log" '^serving pid='
	d=$(sed -n 's/^daemon pid=\([0-9]*\).*/\1/p' "$T/forkd.log")
	kill -TERM "$GR_PID"
	wait_gr_exit 10
	assert_equal "$GR_STATUS" 0
	gone_for_good "$d"
	grep -q "^signal TERM$" "$T/forkd.log"
}

@test "--forking with --stop-group: the daemon's own process group gets the stop signal" {
	local helper
	start_food --forking="$T/d.pid" --stop-group --stop-timeout 20s -- \
		--pidfile "$T/d.pid" --notify --helper
	wait_daemon 1
	helper=$(sed -n 's/^helper pid=//p' "$T/forkd.log")
	# The helper is in the daemon's group, not the first process's.
	assert_equal "$(ps -o pgid= -p "$helper" | tr -d ' ')" "$daemon"
	kill -TERM "$GR_PID"
	# The daemon waits for its helper, which waits for the signal.
	wait_gr_exit 10
	assert_equal "$GR_STATUS" 0
	grep -q '^helper signal TERM$' "$T/forkd.log"
	gone_for_good "$daemon" "$helper"
}

@test "--forking with --stop-group: a daemon leading its own group gets the stop signal once" {
	# A real-time stop signal is queued once per kill(): the daemon, which
	# blocks it, counts how many times it was sent.
	cat >"$T/countd.py" <<-EOF
		import os, signal, sys, time
		signal.pthread_sigmask(signal.SIG_BLOCK, {40})
		if os.fork() != 0:
		    os._exit(0)
		os.setsid()
		with open("$T/countd.pid", "w") as f:
		    f.write("%d\n" % os.getpid())
		signal.sigwait({40})
		while not os.path.exists("$T/count"):
		    time.sleep(0.05)
		n = 1
		while signal.sigtimedwait({40}, 0) is not None:
		    n += 1
		with open("$T/signals", "w") as f:
		    f.write("%d\n" % n)
	EOF
	port=$(free_port)
	start_gr -l "127.0.0.1:$port" --forking="$T/countd.pid" --stop-group \
		--stop-signal 40 --ready delay:0 -- python3 "$T/countd.py"
	wait_ready 1
	kill -TERM "$GR_PID"
	wait_for_line "$T/gr.err" "SIGTERM: stopping every generation"
	touch "$T/count"
	wait_gr_exit
	assert_equal "$(cat "$T/signals")" 1
}
