#!/usr/bin/env bats
# The wrapper's own state: --restart and its backoff, the exit status, and
# faults of the reload cycle (a check that cannot start, a wrapper stopped
# mid-reload, the generation cap, idle wake-ups).

load helpers/common

# restart_line N: the Nth "restarting in" line of the log.
restart_line() {
	grep -E 'no generation serving: restarting in' "$T/gr.err" | sed -n "${1}p"
}

# crash N: SIGKILL generation N's main process once it is ready.
crash() {
	wait_ready "$1"
	kill -KILL "$(generation_pid "$1")"
}

@test "--restart: a crashing current generation is restarted; the delay doubles up to the cap, then resets" {
	start_srv --ready notify --restart --restart-delay 200ms \
		--restart-max-delay 800ms
	crash 1
	wait_for_count "$T/gr.err" 'restarting in' 1
	assert_equal "$(restart_line 1)" \
		"graceful-run[$GR_PID]: no generation serving: restarting in 0.20s (then 0.40s if it fails again)"
	crash 2
	wait_for_count "$T/gr.err" 'restarting in' 2
	run restart_line 2
	assert_output --partial "restarting in 0.40s (then 0.80s"
	crash 3
	wait_for_count "$T/gr.err" 'restarting in' 3
	run restart_line 3
	assert_output --partial "restarting in 0.80s (then 0.80s"
	crash 4
	wait_for_count "$T/gr.err" 'restarting in' 4
	run restart_line 4
	assert_output --partial "restarting in 0.80s"
	wait_ready 5
	assert_equal "$(served_by "$port")" "$(generation_pid 5)"
	# Served longer than the cap: the next crash starts afresh. (A wait
	# for time to pass, which is what is tested, not a synchronisation.)
	sleep 1
	kill -KILL "$(generation_pid 5)"
	wait_for_count "$T/gr.err" 'restarting in' 5
	run restart_line 5
	assert_output --partial "restarting in 0.20s"
	wait_ready 6
	grep -q 'restart 5$' "$T/gr.err"
	kill -0 "$GR_PID"
}

@test "--restart: TERM during the backoff stops at once with the crash's status" {
	start_srv --ready notify --restart --restart-delay 1m
	crash 1
	wait_for_line "$T/gr.err" 'restarting in 60.00s'
	kill -TERM "$GR_PID"
	wait_gr_exit 5
	assert_equal "$GR_STATUS" 137
	run grep -c 'generation 2' "$T/gr.err"
	assert_output 0
}

@test "--restart: a HUP during the backoff starts at once" {
	start_srv --ready notify --restart --restart-delay 1m
	crash 1
	wait_for_line "$T/gr.err" 'restarting in 60.00s'
	kill -HUP "$GR_PID"
	wait_ready 2
	assert_equal "$(served_by "$port")" "$(generation_pid 2)"
}

@test "--restart: a failed reload is never retried" {
	start_srv --ready notify --restart --restart-delay 100ms
	httpd_knobs 2 HTTPD_FAIL_START=3
	kill -HUP "$GR_PID"
	wait_for_line "$T/gr.err" 'reload failed: generation 2 exited with status 3 before it was ready; generation 1 still serving'
	no_line_for "$T/gr.err" 'generation 3|restarting' 2
	assert_equal "$(served_by "$port")" "$pid1"
}

@test "--restart: a first generation that fails is started again" {
	port=$(free_port)
	make_httpd_script
	httpd_knobs 1 HTTPD_FAIL_START=4
	start_gr -l "127.0.0.1:$port" --ready notify --restart \
		--restart-delay 100ms -- "$T/srv"
	wait_for_line "$T/gr.err" 'generation 1 \(pid [0-9]+\) exited with status 4 before it was ready'
	wait_ready 2
	assert_equal "$(served_by "$port")" "$(generation_pid 2)"
}

@test "without --restart the current generation dying ends graceful-run with its status" {
	start_srv --ready notify
	kill -KILL "$pid1"
	wait_gr_exit
	assert_equal "$GR_STATUS" 137
	run grep -c 'restarting' "$T/gr.err"
	assert_output 0
}

@test "a --check that cannot start fails the reload; the wrapper lives on past --ready-timeout" {
	port=$(free_port)
	# No shell to run the check with, as in a distroless image.
	unshare --mount bash -c 'mount --bind /dev/null /bin/sh && exec "$@"' \
		gr "$GR_BIN" -l "127.0.0.1:$port" --ready delay:100ms \
		--ready-timeout 2s --check true -- "$GR_HELPERS/httpd" \
		>"$T/gr.out" 2>"$T/gr.err" 3>&- &
	GR_PID=$!
	wait_ready 1
	pid1=$(generation_pid 1)
	kill -HUP "$GR_PID"
	wait_for_line "$T/gr.err" 'reload failed: the check command could not start; generation 1 still serving'
	# Past the check's deadline nothing else happens (it used to SIGKILL
	# its own process group here).
	no_line_for "$T/gr.err" 'refusing|killed|exited' 3
	kill -0 "$GR_PID"
	assert_equal "$(served_by "$port")" "$pid1"
	kill -TERM "$GR_PID"
	wait_gr_exit
	assert_equal "$GR_STATUS" 0
}

@test "a generation that got ready while the wrapper was stopped is ready after SIGCONT, not timed out" {
	local port
	port=$(free_port)
	cat >"$T/srv" <<-EOF
		#!/bin/sh
		if [ "\$GRACEFUL_RUN_GENERATION" = 2 ]; then
			while [ ! -e "$T/gate" ]; do sleep 0.01; done
		fi
		HTTPD_LOG="$T/httpd-\$GRACEFUL_RUN_GENERATION.log" exec "$GR_HELPERS/httpd"
	EOF
	chmod +x "$T/srv"
	start_gr -l "127.0.0.1:$port" --ready notify --ready-timeout 2s -- "$T/srv"
	wait_ready 1
	kill -HUP "$GR_PID"
	wait_for_line "$T/gr.err" 'generation 2 \(pid [0-9]+\) started'
	kill -STOP "$GR_PID"
	touch "$T/gate"
	wait_for_line "$T/httpd-2.log" '^ready'
	# The ready deadline passes while the wrapper is stopped.
	sleep 2.2
	kill -CONT "$GR_PID"
	wait_ready 2
	run grep -c 'not ready within' "$T/gr.err"
	assert_output 0
	assert_equal "$(served_by "$port")" "$(generation_pid 2)"
}

@test "the 64-generation cap: the reload fails saying too many generations still drain" {
	local i
	httpd_knobs 1 HTTPD_IGNORE_TERM=1
	start_srv --ready notify --stop-timeout 1m
	for i in $(seq 2 63); do
		httpd_knobs "$i" HTTPD_IGNORE_TERM=1
		reload_to "$i"
	done
	reload_to 64
	kill -HUP "$GR_PID"
	wait_for_line "$T/gr.err" 'reload failed: too many generations still draining \(64 at once at most\); generation 64 still serving'
	# (The draining ones ignore TERM and still accept: no served_by here.)
	run grep -c 'generation 65 (pid' "$T/gr.err"
	assert_output 0
	kill -0 "$(generation_pid 64)"
	kill -TERM "$GR_PID"
	wait_for_line "$T/gr.err" 'SIGTERM: stopping every generation'
	kill -TERM "$GR_PID"
	wait_gr_exit
}

@test "no wake-ups while a finished generation's helper lingers" {
	local a b
	start_with_sleeper --ready notify --stop-timeout 1m
	reload_to 2
	wait_for_line "$T/gr.err" "generation 1 \(pid $pid1\) exited 0 after draining"
	# An observation window: nothing is due until the stop timeout.
	a=$(ctx_switches)
	sleep 2
	b=$(ctx_switches)
	echo "lingering: $a -> $b context switches" >&2
	[ $((b - a)) -le 2 ]
	kill -0 "$(cat "$T/sleeper.pid")"
}
