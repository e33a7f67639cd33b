#!/usr/bin/env bats
# The reload cycle: spawn a new generation, wait until it is ready, drain the
# old one; and everything that can go wrong on the way.

load helpers/common

@test "HUP starts generation 2, then drains generation 1; the wrapper and the sockets stay" {
	local ino pid2
	start_srv --ready notify
	assert_equal "$(served_by "$port")" "$pid1"
	ino=$(listen_inode "$port")
	[ -n "$ino" ]
	start_http_loop "$port"
	wait_for_count "$T/loop.out" '^200 ' 5

	httpd_knobs 2 HTTPD_START_GATE="$T/gate"
	kill -HUP "$GR_PID"
	wait_for_line "$T/httpd-2.log" '^start gen=2 '
	pid2=$(generation_pid 2)
	# While generation 2 starts, generation 1 is left alone and serves.
	echo "=== gen 2 starting" >>"$T/loop.out"
	wait_for_count "$T/loop.out" "^200 $pid1 1 " \
		$(($(grep -c "^200 $pid1 1 " "$T/loop.out") + 10))
	run grep -c 'generation 2 (pid [0-9]*) ready' "$T/gr.err"
	assert_output 0
	run cat "$T/httpd-1.log"
	refute_output --partial "signal"

	touch "$T/gate"
	wait_ready 2
	wait_for_line "$T/gr.err" "generation 1 \(pid $pid1\) exited 0 after draining"
	# Requests made once generation 1 is gone reach generation 2.
	echo "=== gen 1 gone" >>"$T/loop.out"
	wait_for_count "$T/loop.out" "^200 $pid2 2 " 5
	stop_http_loop

	grep -q "generation 1 (pid $pid1) stopping (SIGTERM)" "$T/gr.err"
	run grep -Eo 'generation 2 \(pid [0-9]+\) (started|ready)|generation 1 \(pid [0-9]+\) exited' "$T/gr.err"
	assert_output - <<-EOF
		generation 2 (pid $pid2) started
		generation 2 (pid $pid2) ready
		generation 1 (pid $pid1) exited
	EOF
	# Every request of the loop succeeded; once gen 1 left only gen 2
	# answered.
	run grep -v -E '^(200 [0-9]+ [12] |=== )' "$T/loop.out"
	assert_output ""
	run sed -n '/^=== gen 1 gone/,$p' "$T/loop.out"
	refute_line --regexp "^200 $pid1 "
	assert_equal "$(served_by "$port")" "$pid2"
	# Same wrapper, same listening socket.
	kill -0 "$GR_PID"
	run grep -v "^graceful-run\[$GR_PID\]: " "$T/gr.err"
	assert_output ""
	assert_equal "$(listen_inode "$port")" "$ino"
	wait_gone "$pid1"
}

@test "the command is looked up in PATH anew at each reload" {
	local port
	port=$(free_port)
	mkdir "$T/bin1" "$T/bin2"
	# version a, in the second PATH directory
	cat >"$T/bin2/srv" <<-EOF
		#!/bin/sh
		echo "a \$GRACEFUL_RUN_GENERATION" >>"$T/versions"
		exec "$GR_HELPERS/httpd"
	EOF
	sed 's/^echo "a /echo "b /' "$T/bin2/srv" >"$T/srv-b"
	sed 's/^echo "a /echo "c /' "$T/bin2/srv" >"$T/srv-c"
	chmod +x "$T/bin2/srv" "$T/srv-b" "$T/srv-c"
	# A PATH of directories we may search (an unreadable one would turn
	# "not found" into "Permission denied", as execvp does).
	PATH="$T/bin1:$T/bin2:/usr/bin:/bin" start_gr -l "127.0.0.1:$port" \
		--ready notify -- srv
	wait_ready 1

	# version b appears earlier in PATH, as a symlink
	ln -s "$T/srv-b" "$T/bin1/srv"
	reload_to 2
	# the symlink moves to version c
	ln -s "$T/srv-c" "$T/bin1/srv.new"
	mv -T "$T/bin1/srv.new" "$T/bin1/srv"
	reload_to 3
	wait_for_line "$T/gr.err" "generation 2 \(pid [0-9]+\) exited 0 after draining"
	run cat "$T/versions"
	assert_output - <<-EOF
		a 1
		b 2
		c 3
	EOF
	assert_equal "$(served_by "$port")" "$(generation_pid 3)"

	# Gone from PATH: the reload fails, generation 3 serves on.
	rm "$T/bin1/srv" "$T/bin2/srv"
	kill -HUP "$GR_PID"
	wait_for_line "$T/gr.err" 'reload failed: generation 4 could not start; generation 3 still serving'
	grep -q 'exec "srv": No such file or directory' "$T/gr.err"
	assert_equal "$(served_by "$port")" "$(generation_pid 3)"
	ln -s "$T/srv-b" "$T/bin2/srv"
	reload_to 5
	assert_equal "$(tail -n 1 "$T/versions")" "b 5"
}

@test "--reload-signal USR2 reloads; USR1 is forwarded to the current generation" {
	start_srv --ready notify --reload-signal USR2
	kill -USR2 "$GR_PID"
	wait_ready 2
	wait_for_line "$T/gr.err" "generation 1 \(pid $pid1\) exited 0 after draining"
	kill -USR1 "$GR_PID"
	wait_for_line "$T/httpd-2.log" '^signal USR1$'
	# During a reload, the current generation (not the starting one) gets it.
	httpd_knobs 3 HTTPD_START_GATE="$T/gate"
	kill -USR2 "$GR_PID"
	wait_for_line "$T/httpd-3.log" '^start gen=3 '
	kill -USR1 "$GR_PID"
	wait_for_count "$T/httpd-2.log" '^signal USR1$' 2
	touch "$T/gate"
	wait_ready 3
	wait_for_line "$T/gr.err" "generation 2 \(pid [0-9]+\) exited 0 after draining"
	kill -WINCH "$GR_PID"
	wait_for_line "$T/httpd-3.log" '^signal WINCH$'
	# USR2 was the wrapper's; USR1 went to generation 2 only.
	run grep -h '^signal' "$T/httpd-1.log" "$T/httpd-2.log" "$T/httpd-3.log"
	assert_output - <<-EOF
		signal TERM
		signal USR1
		signal USR1
		signal TERM
		signal WINCH
	EOF
	assert_equal "$(served_by "$port")" "$(generation_pid 3)"
}

@test "with --reload-signal, HUP is forwarded to the child, not a reload" {
	start_srv --ready notify --reload-signal USR2
	kill -HUP "$GR_PID"
	wait_for_line "$T/httpd-1.log" '^signal HUP$'
	no_line_for "$T/gr.err" 'generation 2' 1
	kill -USR2 "$GR_PID"
	wait_ready 2
}

@test "a --check that hangs fails the reload at --ready-timeout" {
	start_srv --ready notify --ready-timeout 1s \
		--check "test -e '$T/ok' || exec sleep 1000"
	kill -HUP "$GR_PID"
	wait_for_line "$T/gr.err" 'reload failed: check command not done within 1.00s; generation 1 still serving'
	assert_equal "$(served_by "$port")" "$pid1"
	touch "$T/ok"
	reload_to 2
}

@test "--check: a failing check fails the reload before anything is spawned" {
	start_srv --ready notify --check "echo check >>'$T/checks'; test -e '$T/ok'"
	kill -HUP "$GR_PID"
	wait_for_line "$T/gr.err" 'reload failed: check command exited with status 1; generation 1 still serving'
	run grep -E 'generation 2 \(pid' "$T/gr.err"
	assert_output ""
	assert_equal "$(served_by "$port")" "$pid1"
	assert_equal "$(grep -c . "$T/checks")" 1

	touch "$T/ok"
	reload_to 2
	wait_for_line "$T/gr.err" "generation 1 \(pid $pid1\) exited 0 after draining"
	assert_equal "$(served_by "$port")" "$(generation_pid 2)"
	assert_equal "$(grep -c . "$T/checks")" 2
	run grep -c 'reload failed' "$T/gr.err"
	assert_output 1
}

@test "a new generation that exits at start fails the reload; nothing is retried until the next HUP" {
	start_srv --ready notify
	httpd_knobs 2 HTTPD_FAIL_START=3
	kill -HUP "$GR_PID"
	wait_for_line "$T/gr.err" 'reload failed: generation 2 exited with status 3 before it was ready; generation 1 still serving'
	wait_for_line "$T/httpd-2.log" '^exit status=3$'
	assert_equal "$(served_by "$port")" "$pid1"
	# Nothing is retried by itself.
	no_line_for "$T/gr.err" 'generation 3' 3
	run grep -c 'generation 1 (pid [0-9]*) stopping' "$T/gr.err"
	assert_output 0
	assert_equal "$(served_by "$port")" "$pid1"

	# The next HUP (knob off for generation 3) works.
	reload_to 3
	wait_for_line "$T/gr.err" "generation 1 \(pid $pid1\) exited 0 after draining"
	assert_equal "$(served_by "$port")" "$(generation_pid 3)"
}

@test "a new generation not ready within --ready-timeout is killed; the old one serves" {
	local pid2
	start_srv --ready notify --ready-timeout 2s
	httpd_knobs 2 HTTPD_READY=none
	kill -HUP "$GR_PID"
	wait_for_line "$T/gr.err" 'generation 2 \(pid [0-9]+\) started'
	pid2=$(generation_pid 2)
	wait_for_line "$T/gr.err" "reload failed: generation 2 \(pid $pid2\) not ready within 2.00s; generation 1 still serving"
	wait_reaped "$pid2"
	wait_group_gone "$pid2"
	wait_for_line "$T/gr.err" "generation 2 \(pid $pid2\) exited with status 137"
	# It was killed, not stopped: it never logged its exit.
	run grep -c '^exit' "$T/httpd-2.log"
	assert_output 0
	assert_equal "$(served_by "$port")" "$pid1"
	run grep -c 'generation 1 (pid [0-9]*) stopping' "$T/gr.err"
	assert_output 0
	kill -0 "$GR_PID"
}

@test "HUPs during a reload are remembered once: exactly one more reload runs" {
	local i
	start_srv --ready notify
	httpd_knobs 2 HTTPD_START_GATE="$T/gate"
	kill -HUP "$GR_PID"
	wait_for_line "$T/gr.err" 'generation 2 \(pid [0-9]+\) started'
	# Each HUP is seen by the wrapper while generation 2 still starts.
	for i in 1 2 3; do
		kill -HUP "$GR_PID"
		wait_for_count "$T/gr.err" 'reload requested during a reload: it runs next' "$i"
	done
	run grep -c 'generation 2 (pid [0-9]*) ready' "$T/gr.err"
	assert_output 0
	touch "$T/gate"
	wait_ready 2
	wait_ready 3
	no_line_for "$T/gr.err" 'generation 4' 3
	# Generation 3 was started only once generation 2 was ready.
	run grep -Eo 'generation [23] \(pid [0-9]+\) (started|ready)' "$T/gr.err"
	assert_output - <<-EOF
		generation 2 (pid $(generation_pid 2)) started
		generation 2 (pid $(generation_pid 2)) ready
		generation 3 (pid $(generation_pid 3)) started
		generation 3 (pid $(generation_pid 3)) ready
	EOF
	wait_for_line "$T/gr.err" "generation 2 \(pid [0-9]+\) exited 0 after draining"
	assert_equal "$(served_by "$port")" "$(generation_pid 3)"
}

@test "a HUP remembered during a reload that fails runs after it" {
	start_srv --ready notify
	httpd_knobs 2 HTTPD_START_GATE="$T/gate" HTTPD_FAIL_START=3
	kill -HUP "$GR_PID"
	wait_for_line "$T/gr.err" 'generation 2 \(pid [0-9]+\) started'
	kill -HUP "$GR_PID"
	wait_for_line "$T/gr.err" 'reload requested during a reload: it runs next'
	touch "$T/gate"
	wait_for_line "$T/gr.err" 'reload failed: generation 2 exited with status 3 before it was ready; generation 1 still serving'
	wait_ready 3
	no_line_for "$T/gr.err" 'generation 4' 2
	wait_for_line "$T/gr.err" "generation 1 \(pid $pid1\) exited 0 after draining"
	assert_equal "$(served_by "$port")" "$(generation_pid 3)"
}

@test "a HUP while generation 1 starts runs once it is ready" {
	port=$(free_port)
	make_httpd_script
	httpd_knobs 1 HTTPD_START_GATE="$T/gate"
	start_gr -l "127.0.0.1:$port" --ready notify -- "$T/srv"
	wait_for_line "$T/httpd-1.log" '^start gen=1 '
	kill -HUP "$GR_PID"
	wait_for_line "$T/gr.err" 'reload requested during a reload: it runs next'
	run grep -c 'generation 2' "$T/gr.err"
	assert_output 0
	touch "$T/gate"
	wait_ready 1
	wait_ready 2
	run grep -Eo 'generation [12] \(pid [0-9]+\) (started|ready)' "$T/gr.err"
	assert_output - <<-EOF
		generation 1 (pid $(generation_pid 1)) started
		generation 1 (pid $(generation_pid 1)) ready
		generation 2 (pid $(generation_pid 2)) started
		generation 2 (pid $(generation_pid 2)) ready
	EOF
}

@test "a HUP during --check runs once after the reload" {
	start_srv --ready notify --check "echo check >>'$T/checks'; while [ ! -e '$T/go' ]; do sleep 0.05; done"
	kill -HUP "$GR_PID"
	wait_for_line "$T/checks" check
	kill -HUP "$GR_PID"
	wait_for_line "$T/gr.err" 'reload requested during a reload: it runs next'
	touch "$T/go"
	wait_ready 2
	wait_ready 3
	no_line_for "$T/gr.err" 'generation 4' 2
	assert_equal "$(grep -c . "$T/checks")" 2
}

@test "reloads while an older generation still drains a request" {
	start_srv --ready notify
	curl -sS --max-time 30 -o "$T/slow.body" -w '%{http_code}\n' \
		"http://127.0.0.1:$port/?sleep=3000" >"$T/slow.code" 2>&1 3>&- &
	echo $! >"$T/curl.pid"
	wait_accepted "$pid1" "$port"
	reload_to 2
	reload_to 3
	reload_to 4
	wait_for_line "$T/gr.err" "generation 3 \(pid [0-9]+\) exited 0 after draining"
	# Generation 1 still drains, behind two younger ones already gone.
	kill -0 "$pid1"
	run grep -c "generation 1 (pid $pid1) exited" "$T/gr.err"
	assert_output 0
	wait "$(cat "$T/curl.pid")"
	assert_equal "$(cat "$T/slow.code")" 200
	assert_equal "$(body_pid <"$T/slow.body")" "$pid1"
	wait_for_line "$T/gr.err" "generation 1 \(pid $pid1\) exited 0 after draining"
	wait_group_gone "$pid1"
	assert_equal "$(served_by "$port")" "$(generation_pid 4)"
}

@test "no busy waiting while a generation starts or drains" {
	local a b
	start_srv --ready notify
	httpd_knobs 2 HTTPD_START_GATE="$T/gate"
	curl -sS --max-time 30 -o /dev/null "http://127.0.0.1:$port/?sleep=5000" \
		3>&- &
	echo $! >"$T/curl.pid"
	wait_accepted "$pid1" "$port"
	kill -HUP "$GR_PID"
	wait_for_line "$T/httpd-2.log" '^start gen=2 '
	# An observation window, not a synchronisation: nothing is due in it.
	a=$(ctx_switches)
	sleep 1
	b=$(ctx_switches)
	echo "starting: $a -> $b context switches" >&2
	[ $((b - a)) -le 10 ]
	touch "$T/gate"
	wait_ready 2
	wait_for_line "$T/gr.err" "generation 1 \(pid $pid1\) stopping"
	a=$(ctx_switches)
	sleep 1
	b=$(ctx_switches)
	echo "draining: $a -> $b context switches" >&2
	[ $((b - a)) -le 10 ]
	wait_for_line "$T/gr.err" "generation 1 \(pid $pid1\) exited 0 after draining" 30
}

@test "--stop-signal QUIT is what the old generation gets" {
	start_srv --ready notify --stop-signal QUIT
	reload_to 2
	wait_for_line "$T/gr.err" "generation 1 \(pid $pid1\) stopping \(SIGQUIT\)"
	wait_for_line "$T/gr.err" "generation 1 \(pid $pid1\) exited 0 after draining"
	run grep '^signal' "$T/httpd-1.log"
	assert_output "signal QUIT"
}

@test "TERM during a reload stops every generation; the wrapper exits 0" {
	local pid2 helper
	start_srv --ready notify
	httpd_knobs 2 HTTPD_START_GATE="$T/never" HTTPD_FORK_HELPER=1
	kill -HUP "$GR_PID"
	wait_for_line "$T/gr.err" 'generation 2 \(pid [0-9]+\) started'
	pid2=$(generation_pid 2)
	wait_for_line "$T/httpd-2.log" '^helper pid='
	helper=$(sed -n 's/^helper pid=//p' "$T/httpd-2.log")
	kill -TERM "$GR_PID"
	wait_gr_exit 20
	assert_equal "$GR_STATUS" 0
	grep -q 'SIGTERM: stopping every generation with SIGTERM' "$T/gr.err"
	run kill -0 -- "-$pid1"
	assert_failure
	run kill -0 -- "-$pid2"
	assert_failure
	run kill -0 "$helper"
	assert_failure
	run grep -c 'generation 2 (pid [0-9]*) ready' "$T/gr.err"
	assert_output 0
	run port_listening "$port"
	assert_failure
}

@test "the current generation dying while an older one drains: exit with its status after the drain" {
	local pid2
	start_srv --ready notify
	curl -sS --max-time 30 -o "$T/slow.body" -w '%{http_code}\n' \
		"http://127.0.0.1:$port/?sleep=4000" >"$T/slow.code" 2>&1 3>&- &
	echo $! >"$T/curl.pid"
	wait_accepted "$pid1" "$port"
	reload_to 2
	pid2=$(generation_pid 2)
	wait_for_line "$T/gr.err" "generation 1 \(pid $pid1\) stopping"
	kill -0 "$pid1"
	kill -KILL "$pid2"
	wait_for_line "$T/gr.err" "generation 2 \(pid $pid2\) exited with status 137"
	wait_gr_exit 30
	assert_equal "$GR_STATUS" 137
	wait "$(cat "$T/curl.pid")"
	assert_equal "$(cat "$T/slow.code")" 200
	assert_equal "$(body_pid <"$T/slow.body")" "$pid1"
	# Generation 1 left only after generation 2 died, having drained.
	run grep -Eo "generation [12] \(pid [0-9]+\) exited.*" "$T/gr.err"
	assert_line --index 0 "generation 2 (pid $pid2) exited with status 137"
	assert_line --index 1 --regexp "^generation 1 \(pid $pid1\) exited 0"
	run kill -0 -- "-$pid1"
	assert_failure
}

@test "the current generation dying while a new one starts: the new one takes over" {
	local pid2
	start_srv --ready notify
	httpd_knobs 2 HTTPD_START_GATE="$T/gate"
	kill -HUP "$GR_PID"
	wait_for_line "$T/gr.err" 'generation 2 \(pid [0-9]+\) started'
	pid2=$(generation_pid 2)
	kill -KILL "$pid1"
	wait_for_line "$T/gr.err" "generation 1 \(pid $pid1\) exited with status 137"
	wait_for_line "$T/gr.err" 'no generation serving until the reload under way is done'
	run grep -c 'generation 2 (pid [0-9]*) ready' "$T/gr.err"
	assert_output 0
	touch "$T/gate"
	wait_ready 2
	assert_equal "$(served_by "$port")" "$pid2"
	kill -0 "$GR_PID"
	# It is an ordinary current generation now: reloads go on.
	reload_to 3
	wait_for_line "$T/gr.err" "generation 2 \(pid $pid2\) exited 0 after draining"
	assert_equal "$(served_by "$port")" "$(generation_pid 3)"
	kill -0 "$GR_PID"
}

@test "the current generation dying while the new one fails: exit with the dead one's status" {
	start_srv --ready notify
	httpd_knobs 2 HTTPD_START_GATE="$T/gate" HTTPD_FAIL_START=3
	kill -HUP "$GR_PID"
	wait_for_line "$T/gr.err" 'generation 2 \(pid [0-9]+\) started'
	kill -KILL "$pid1"
	wait_for_line "$T/gr.err" 'no generation serving until the reload under way is done'
	touch "$T/gate"
	wait_gr_exit 30
	assert_equal "$GR_STATUS" 137
	grep -q 'reload failed: generation 2 exited with status 3 before it was ready; no generation serving' "$T/gr.err"
	run port_listening "$port"
	assert_failure
}

@test "a crash during a reload keeps its status through a graceful stop" {
	start_srv --ready notify
	httpd_knobs 2 HTTPD_START_GATE="$T/never"
	kill -HUP "$GR_PID"
	wait_for_line "$T/gr.err" 'generation 2 \(pid [0-9]+\) started'
	kill -KILL "$pid1"
	wait_for_line "$T/gr.err" 'no generation serving until the reload under way is done'
	kill -TERM "$GR_PID"
	wait_gr_exit 30
	assert_equal "$GR_STATUS" 137
}

@test "-q: a reload and a stop that go as planned log nothing" {
	port=$(free_port)
	start_gr -q --ready delay:100ms -l "127.0.0.1:$port" -- sleep 1000
	# -q hides the started line: find the generation through the wrapper.
	local i=0
	until pgrep -P "$GR_PID" -x sleep >/dev/null; do
		[ $((i += 1)) -lt 400 ] || fail "no child"
		sleep 0.05
	done
	local first=$(pgrep -P "$GR_PID" -x sleep)
	kill -HUP "$GR_PID"
	wait_reaped "$first"
	kill -TERM "$GR_PID"
	wait_gr_exit
	assert_equal "$GR_STATUS" 0
	assert_equal "$(cat "$T/gr.err")" ""
}

@test "an old generation that ignores TERM is killed after --stop-timeout" {
	httpd_knobs 1 HTTPD_IGNORE_TERM=1
	start_srv --ready notify --stop-timeout 1s
	reload_to 2
	wait_for_line "$T/gr.err" "generation 1 \(pid $pid1\) still running 1.00s after SIGTERM; sending SIGKILL"
	wait_for_line "$T/gr.err" "generation 1 \(pid $pid1\) exited with status 137 after draining"
	wait_reaped "$pid1"
	wait_group_gone "$pid1"
	run grep -c '^exit' "$T/httpd-1.log"
	assert_output 0
	assert_equal "$(served_by "$port")" "$(generation_pid 2)"
}

@test "a helper that ignores TERM is killed with its group though the leader left" {
	local sleeper
	start_with_sleeper --ready notify --stop-timeout 1s
	sleeper=$(cat "$T/sleeper.pid")
	assert_equal "$(ps -o pgid= -p "$sleeper" | tr -d ' ')" "$pid1"
	reload_to 2
	wait_for_line "$T/gr.err" "generation 1 \(pid $pid1\) exited 0 after draining"
	wait_for_line "$T/gr.err" "generation 1 \(pid $pid1\) still running 1.00s after SIGTERM; sending SIGKILL"
	wait_reaped "$sleeper"
	wait_group_gone "$pid1"
	kill -0 "$GR_PID"
}

@test "a shell-script child: the old generation's whole process group goes" {
	local port httpd1
	port=$(free_port)
	# Not an exec: the shell stays, httpd is its child (a subshell that
	# execs it, so that LISTEN_PID can name httpd's own pid).
	start_gr -l "127.0.0.1:$port" --ready notify -- \
		bash -c '(
				export LISTEN_PID=$BASHPID
				export HTTPD_LOG="$1/httpd-$GRACEFUL_RUN_GENERATION.log"
				exec "$0"
			)
			echo "shell: httpd exited $?" >&2' "$GR_HELPERS/httpd" "$T"
	wait_ready 1
	pid1=$(generation_pid 1)
	httpd1=$(sed -n 's/^start gen=1 pid=//p' "$T/httpd-1.log")
	[ -n "$httpd1" ]
	# The shell leads the group; httpd is its child, not an exec of it.
	[ "$httpd1" != "$pid1" ]
	assert_equal "$(ps -o pgid= -p "$httpd1" | tr -d ' ')" "$pid1"
	assert_equal "$(served_by "$port")" "$httpd1"
	reload_to 2
	wait_for_line "$T/gr.err" "generation 1 \(pid $pid1\) exited"
	wait_reaped "$httpd1"
	wait_reaped "$pid1"
	wait_group_gone "$pid1"
	grep -q '^signal TERM$' "$T/httpd-1.log"
	grep -q '^exit status=0$' "$T/httpd-1.log"
	httpd2=$(sed -n 's/^start gen=2 pid=//p' "$T/httpd-2.log")
	assert_equal "$(served_by "$port")" "$httpd2"
}

@test "a child that forks a helper: the old generation's whole process group goes" {
	local helper
	httpd_knobs 1 HTTPD_FORK_HELPER=1
	start_srv --ready notify
	helper=$(sed -n 's/^helper pid=//p' "$T/httpd-1.log")
	[ -n "$helper" ]
	assert_equal "$(ps -o pgid= -p "$helper" | tr -d ' ')" "$pid1"
	reload_to 2
	wait_for_line "$T/gr.err" "generation 1 \(pid $pid1\) exited 0 after draining"
	wait_reaped "$helper"
	wait_group_gone "$pid1"
	# The helper was reaped by graceful-run, not left a zombie.
	run ps --ppid "$GR_PID" -o pid=,stat=
	refute_output --regexp 'Z'
}

@test "failed reloads of every kind leak no fd and leave no process" {
	local fds n pg
	start_srv --ready notify --ready-timeout 1s --check "test ! -e '$T/nocheck'"
	fds=$(ls "/proc/$GR_PID/fd" | wc -l)
	# exits at start (generations 2-6)
	for n in 2 3 4 5 6; do
		httpd_knobs "$n" HTTPD_FAIL_START=3
		kill -HUP "$GR_PID"
		wait_for_line "$T/gr.err" "reload failed: generation $n exited with status 3"
	done
	# cannot be executed (generations 7-11)
	chmod -x "$T/srv"
	for n in 7 8 9 10 11; do
		kill -HUP "$GR_PID"
		wait_for_line "$T/gr.err" "reload failed: generation $n could not start"
	done
	chmod +x "$T/srv"
	# never ready (generations 12-13)
	for n in 12 13; do
		httpd_knobs "$n" HTTPD_READY=none
		kill -HUP "$GR_PID"
		wait_for_line "$T/gr.err" "reload failed: generation $n \(pid [0-9]+\) not ready within 1.00s"
	done
	# the check fails (nothing spawned)
	touch "$T/nocheck"
	for n in 1 2 3 4 5; do
		kill -HUP "$GR_PID"
		wait_for_count "$T/gr.err" 'reload failed: check command exited' "$n"
	done
	rm "$T/nocheck"
	for pg in $(generation_pids); do
		[ "$pg" = "$pid1" ] || wait_group_gone "$pg"
	done
	n=0
	while [ "$(ls "/proc/$GR_PID/fd" | wc -l)" -ne "$fds" ] && [ $n -lt 100 ]; do
		sleep 0.05
		n=$((n + 1))
	done
	run ls -l "/proc/$GR_PID/fd"
	assert_equal "${#lines[@]}" $((fds + 1)) # "total 0" + one line a fd
	run ps --ppid "$GR_PID" -o pid=,stat=,args=
	assert_equal "${#lines[@]}" 1
	refute_output --regexp ' Z'
	assert_equal "$(served_by "$port")" "$pid1"
	# ... and the next good reload works.
	reload_to 14
	wait_for_line "$T/gr.err" "generation 1 \(pid $pid1\) exited 0 after draining"
	assert_equal "$(served_by "$port")" "$(generation_pid 14)"
}

# rss_kib: graceful-run's resident set size.
rss_kib() {
	ps -o rss= -p "$GR_PID" | tr -d ' '
}

# fd_count: how many fds graceful-run holds.
fd_count() {
	ls "/proc/$GR_PID/fd" | wc -l
}

# reload_fast N: HUP and poll briskly for generation N ready (many reloads).
reload_fast() {
	local n=$1 i=0
	kill -HUP "$GR_PID"
	while [ "$(grep -c ' ready in ' "$T/gr.err")" -lt "$n" ]; do
		if [ $i -ge 3000 ] || ! kill -0 "$GR_PID" 2>/dev/null; then
			echo "generation $n never got ready" >&2
			tail -20 "$T/gr.err" >&2
			return 1
		fi
		sleep 0.01
		i=$((i + 1))
	done
}

# settled N: every generation but N is gone and the fd count is back to FDS.
wait_settled() {
	local n=$1 fds=$2 i=0
	wait_for_count "$T/gr.err" ' exited 0 after draining' $((n - 1)) 30
	while [ "$(fd_count)" -ne "$fds" ]; do
		if [ $i -ge 200 ]; then
			echo "fd count $(fd_count), expected $fds:" >&2
			ls -l "/proc/$GR_PID/fd" >&2
			return 1
		fi
		sleep 0.05
		i=$((i + 1))
	done
}

@test "200 reloads in a row leak no fd, no zombie and no memory" {
	local port n fds rss0 rss1
	port=$(free_port)
	# Under ASan freed memory sits in quarantine and would look like a leak.
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0" \
		start_gr -l "127.0.0.1:$port" --ready notify -- \
		"$GR_HELPERS/httpd"
	wait_ready 1
	fds=$(fd_count)
	# Warm up: the first reloads may grow the heap once.
	for n in $(seq 2 11); do
		reload_fast "$n"
	done
	wait_settled 11 "$fds"
	rss0=$(rss_kib)
	for n in $(seq 12 211); do
		reload_fast "$n"
	done
	wait_settled 211 "$fds"
	rss1=$(rss_kib)
	echo "fds $fds, rss ${rss0} KiB -> ${rss1} KiB" >&2
	assert_equal "$(fd_count)" "$fds"
	run ps --ppid "$GR_PID" -o pid=,stat=,args=
	refute_output --regexp ' Z'
	assert_equal "${#lines[@]}" 1
	# Under ASan the allocator's own bookkeeping grows for a few hundred
	# reloads before it levels off: only a gross leak can be told there.
	if grep -q __asan_init "$GR_BIN"; then
		[ $((rss1 - rss0)) -le 4096 ]
	else
		[ $((rss1 - rss0)) -le 200 ]
	fi
	run grep -c 'reload failed' "$T/gr.err"
	assert_output 0
	assert_equal "$(served_by "$port")" "$(generation_pid 211)"
}
