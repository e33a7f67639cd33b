#!/usr/bin/env bats
# The control socket (-c) and the client verbs: reload, status, stop; every
# exit status of each; clients that misbehave; who may connect.

load helpers/common
load helpers/control

@test "reload through the socket: exit 0, one line, and the new generation serves" {
	local pid2
	start_srv --ready notify -c "$T/ctl"
	run gr reload
	assert_success
	pid2=$(generation_pid 2)
	assert_output --regexp "^reload: generation 2 \(pid $pid2\) ready in [0-9]+\.[0-9]{2}s$"
	assert_equal "${#lines[@]}" 1
	assert_equal "$(served_by "$port")" "$pid2"
	wait_for_line "$T/gr.err" "generation 1 \(pid $pid1\) exited 0 after draining"
}

@test "reload of a new version that crashes: exit 1, one line, the old pid still answers" {
	start_srv --ready notify --ready-timeout 1s -c "$T/ctl"
	httpd_knobs 2 HTTPD_FAIL_START=3
	run gr reload
	assert_failure 1
	assert_output "reload failed: generation 2 exited with status 3 before it was ready; generation 1 still serving"
	assert_equal "$(served_by "$port")" "$pid1"
	# A reload that is never ready is a failure too.
	httpd_knobs 3 HTTPD_START_DELAY_MS=600000
	run gr reload
	assert_failure 1
	assert_output --regexp "^reload failed: generation 3 \(pid [0-9]+\) not ready within 1\.00s; generation 1 still serving$"
	assert_equal "$(served_by "$port")" "$pid1"
	# And the next good one succeeds.
	run gr reload
	assert_success
	assert_output --regexp '^reload: generation 4 '
}

@test "a reload the --check command fails: exit 1 and nothing spawned" {
	start_srv --ready notify -c "$T/ctl" --check "test ! -e '$T/bad-config'"
	touch "$T/bad-config"
	run gr reload
	assert_failure 1
	assert_output "reload failed: check command exited with status 1; generation 1 still serving"
	run generation_pid 2
	assert_output ""
}

@test "status: text and --json; exit 0 while a generation serves" {
	start_srv --ready notify -c "$T/ctl"
	run gr status
	assert_success
	assert_line --index 0 "graceful-run (pid $GR_PID): serving"
	assert_line --index 1 --regexp "^generation 1 \(pid $pid1\): ready, up [0-9.]+s, ready in [0-9.]+s \(READY=1\)$"
	assert_line --index 2 "no reload yet"
	gr reload
	run gr status --json
	assert_success
	assert_equal "${#lines[@]}" 1
	echo "$output" >"$T/status.json"
	status_file_ok "$T/status.json"
	assert_equal "$(json_get "$T/status.json" 'j["state"], j["serving"], j["pid"]')" "('serving', True, $GR_PID)"
	assert_equal "$(json_get "$T/status.json" '[g["generation"] for g in j["generations"] if g["state"] == "ready"]')" "[2]"
	assert_equal "$(json_get "$T/status.json" 'j["last_reload"]["ok"], j["last_reload"]["generation"], j["reloads"]')" "(True, 2, 1)"
	json_get "$T/status.json" 'j["generations"][-1]["age"] >= 0'
}

@test "status exits 1 while no generation serves yet; the STATUS= text shows" {
	port=$(free_port)
	make_httpd_script
	httpd_knobs 1 HTTPD_STATUS_FIRST=1 HTTPD_START_DELAY_MS=600000
	start_gr -l "127.0.0.1:$port" --ready notify -c "$T/ctl" -- "$T/srv"
	wait_for_line "$T/httpd-1.log" '^start gen=1 '
	retry_until 20 status_shows 'status "starting"'
	run gr status
	assert_failure 1
	assert_line --index 0 "graceful-run (pid $GR_PID): starting"
	assert_line --index 1 --regexp '^generation 1 \(pid [0-9]+\): starting, up [0-9.]+s, status "starting"$'
	run gr status --json
	assert_failure 1
	echo "$output" >"$T/status.json"
	assert_equal "$(json_get "$T/status.json" 'j["serving"], j["generations"][0]["status"], j["generations"][0]["ready_by"]')" "(False, 'starting', None)"
}

@test "stop: waits for the end, prints how each generation ended, exit 0" {
	start_srv --ready notify -c "$T/ctl"
	run gr stop
	assert_success
	assert_line --index 0 --regexp "^generation 1 \(pid $pid1\) exited with status 0 \([0-9.]+s after the stop signal\)$"
	assert_line --index 1 "graceful-run exits with status 0"
	# graceful-run is gone (or going), its socket file removed already.
	[ ! -e "$T/ctl" ]
	wait_gr_exit
	assert_equal "$GR_STATUS" 0
	wait_gone "$pid1"
}

@test "stop that has to kill: exit 1, the status says so" {
	start_srv --ready notify -c "$T/ctl" --stop-timeout 300ms
	httpd_knobs 2 HTTPD_IGNORE_TERM=1
	gr reload
	run gr stop
	assert_failure 1
	assert_line --index 0 --regexp "^generation 2 \(pid [0-9]+\) died of SIGKILL \([0-9.]+s after the stop signal\)$"
	assert_line --index 1 "graceful-run exits with status 137"
	wait_gr_exit
	assert_equal "$GR_STATUS" 137
}

@test "every verb exits 2 with one line when nothing answers at PATH" {
	local verb
	for verb in reload status stop; do
		run gr "$verb" -c "$T/none"
		assert_failure 2
		assert_output --regexp "^graceful-run\[[0-9]+\]: $verb: $T/none: nothing answers \(No such file or directory\)$"
	done
	# A socket file nobody listens on.
	python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$T/stale"
	run gr status -c "$T/stale"
	assert_failure 2
	assert_output --partial "nothing answers (Connection refused)"
	# Something that is not a graceful-run: it closes without a word.
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1]); s.listen()
open(sys.argv[2], "w").close()
c, _ = s.accept(); c.recv(100); c.close()
' "$T/other" "$T/other.ready" 3>&- &
	echo $! >"$T/other.pid"
	retry_until 20 test -e "$T/other.ready"
	run gr reload -c "$T/other"
	assert_failure 2
	assert_output --partial "closed the connection without an answer"
}

@test "every verb exits 125 on bad usage" {
	run "$GR_BIN" reload
	assert_failure 125
	assert_output --partial "reload: missing -c PATH"
	run "$GR_BIN" status -c "$T/ctl" --bogus
	assert_failure 125
	assert_output --partial 'status: unknown option "--bogus"'
	run "$GR_BIN" reload -c "$T/ctl" --json
	assert_failure 125
	assert_output --partial 'reload: unknown option "--json"'
	run "$GR_BIN" stop -c "$T/ctl" extra
	assert_failure 125
	assert_output --partial 'stop: unexpected argument "extra"'
	run "$GR_BIN" stop -c "$T/ctl" --timeout soon
	assert_failure 125
	assert_output --partial 'stop: --timeout "soon": bad duration'
	run "$GR_BIN" status -c
	assert_failure 125
	assert_output --partial 'status: option "-c" needs an argument'
}

@test "--timeout: no answer in time exits 1, and the reload goes on" {
	start_srv --ready notify -c "$T/ctl"
	gated_knobs 2
	run gr reload --timeout 300ms
	assert_failure 1
	assert_output --regexp "reload: $T/ctl: no answer within 0\.30s$"
	open_gate 2
	wait_ready 2
	# A graceful-run that does not answer at all (stopped) is not serving.
	kill -STOP "$GR_PID"
	run gr status --timeout 200ms
	kill -CONT "$GR_PID"
	assert_failure 1
	assert_output --partial "no answer within 0.20s"
	run gr status --timeout 5s
	assert_success
}

@test "two clients at once plus a HUP: each gets the outcome of the reload that covered it" {
	start_srv --ready notify -c "$T/ctl"
	gated_knobs 2
	httpd_knobs 3 HTTPD_FAIL_START=4
	gr reload >"$T/a.out" 2>&1 &
	echo $! >"$T/a.pid"
	wait_for_line "$T/gr.err" 'generation 2 \(pid [0-9]+\) started'
	# Generation 2 is starting: these join the next reload, 3.
	gr reload >"$T/b.out" 2>&1 &
	echo $! >"$T/b.pid"
	wait_for_count "$T/gr.err" 'reload requested during a reload' 1
	kill -HUP "$GR_PID"
	wait_for_count "$T/gr.err" 'reload requested during a reload' 2
	gr reload >"$T/c.out" 2>&1 &
	echo $! >"$T/c.pid"
	wait_for_count "$T/gr.err" 'reload requested during a reload' 3
	open_gate 2
	exit_of a
	assert_equal "$EXIT" 0
	exit_of b
	assert_equal "$EXIT" 1
	exit_of c
	assert_equal "$EXIT" 1
	run cat "$T/a.out"
	assert_output --regexp '^reload: generation 2 \(pid [0-9]+\) ready in '
	run cat "$T/b.out"
	assert_output "reload failed: generation 3 exited with status 4 before it was ready; generation 2 still serving"
	run cat "$T/c.out"
	assert_output "reload failed: generation 3 exited with status 4 before it was ready; generation 2 still serving"
	# One reload for b, c and the HUP: nothing after generation 3.
	no_line_for "$T/gr.err" 'generation 4' 1
	assert_equal "$(served_by "$port")" "$(generation_pid 2)"
}

@test "a client that goes away cancels nothing" {
	start_srv --ready notify -c "$T/ctl"
	gated_knobs 2
	gr reload >"$T/a.out" 2>&1 &
	echo $! >"$T/a.pid"
	wait_for_line "$T/gr.err" 'generation 2 \(pid [0-9]+\) started'
	kill "$(cat "$T/a.pid")"
	open_gate 2
	wait_ready 2
	wait_for_line "$T/gr.err" "generation 1 \(pid $pid1\) exited 0 after draining"
	run gr status
	assert_success
}

@test "a silent client and a 1 MiB one are dropped; HUPs and other clients go on" {
	start_srv --ready notify -c "$T/ctl"
	silent_client "$T/ctl"
	wait_for_line "$T/silent.out" '^connected$'
	head -c 1048576 /dev/zero | tr '\0' x | raw_client "$T/ctl" >"$T/big.out" || true
	wait_for_line "$T/gr.err" 'control: request dropped: longer than 256 bytes'
	reload_to 2
	run gr reload
	assert_success
	assert_output --regexp '^reload: generation 3 '
	run gr status
	assert_success
	# The silent one is dropped after its 5 seconds, not before.
	wait_for_line "$T/silent.out" '^closed' 10
	wait_for_line "$T/gr.err" 'control: client dropped: no request within 5s'
	run awk '/^closed/ { print ($2 >= 4.5) }' "$T/silent.out"
	assert_output 1
	kill -0 "$GR_PID"
}

@test "malformed requests get one error line and are dropped" {
	start_srv --ready notify -c "$T/ctl"
	run raw_client "$T/ctl" <<<"graceful-run/2 reload"
	assert_output "error not a graceful-run/1 request"
	run raw_client "$T/ctl" <<<"graceful-run/1 restart"
	assert_output "error unknown verb (reload, status, stop)"
	run raw_client "$T/ctl" <<<"graceful-run/1 reload now"
	assert_output "error unexpected words after the verb"
	run raw_client "$T/ctl" < <(printf 'graceful-run/1 status\ngraceful-run/1 stop\n')
	assert_output "error one request line per connection"
	run raw_client "$T/ctl" < <(printf 'graceful-run/1 \033status\n')
	assert_output "error control characters in the request"
	# None of it did anything.
	run gr status
	assert_success
	run generation_pid 2
	assert_output ""
}

@test "the socket is 0600; another uid is refused, even when the mode lets it in" {
	start_srv --ready notify -c "$T/ctl"
	run stat -c '%a %u' "$T/ctl"
	assert_output "600 0"
	chmod 755 "$T"
	run setpriv --reuid nobody --regid nogroup --clear-groups "$GR_BIN" status -c "$T/ctl"
	assert_failure 2
	assert_output --partial "status: $T/ctl: not allowed (Permission denied)"
	# With the mode opened up, the peer uid check still refuses.
	chmod 666 "$T/ctl"
	run setpriv --reuid nobody --regid nogroup --clear-groups "$GR_BIN" reload -c "$T/ctl"
	assert_failure 2
	assert_output --partial "reload: $T/ctl: not allowed"
	wait_for_line "$T/gr.err" 'control: connection from uid 65534 \(pid [0-9]+\) refused'
	run generation_pid 2
	assert_output ""
}

@test "a stale socket file is replaced; a live one is not; the file goes at exit only if still ours" {
	local gr1
	python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$T/ctl"
	start_srv --ready notify -c "$T/ctl"
	grep -q "control: replacing stale socket $T/ctl" "$T/gr.err"
	gr1=$GR_PID
	# A second graceful-run on the same live socket fails and leaves it be.
	run "$GR_BIN" -l "127.0.0.1:$(free_port)" -c "$T/ctl" -- true
	assert_failure 125
	assert_output --regexp "control socket $T/ctl: Address already in use$"
	run gr status
	assert_success
	# Replaced behind its back: the other file is not removed at exit.
	mv "$T/ctl" "$T/ctl.moved"
	touch "$T/ctl"
	kill -TERM "$gr1"
	wait_gr_exit
	[ -f "$T/ctl" ]
	[ -S "$T/ctl.moved" ]
}

# has_clients N: N client connections to $port are established.
has_clients() {
	[ "$(ss -Htn state established "( dport = :$port )" | wc -l)" -ge "$1" ]
}

@test "a reload client under ab load: no request fails" {
	start_srv --ready notify -c "$T/ctl"
	ab -r -c 8 -t 300 -n 3000000 "http://127.0.0.1:$port/" >"$T/ab.out" 2>&1 3>&- &
	echo $! >"$T/ab.pid"
	retry_until 20 has_clients 1
	run gr reload
	assert_success
	run gr reload
	assert_success
	assert_output --regexp '^reload: generation 3 '
	# ab prints its report on SIGINT; it must still have been running.
	kill -INT "$(cat "$T/ab.pid")"
	exit_of ab
	run cat "$T/ab.out"
	assert_line --regexp '^Complete requests: +[1-9][0-9]*$'
	assert_line --regexp '^Failed requests: +0$'
	refute_output --partial 'Non-2xx'
}

@test "--restart: status during the backoff exits 1 and says when; a reload starts it at once" {
	start_srv --ready notify -c "$T/ctl" --restart --restart-delay 10m --restart-max-delay 10m
	kill -KILL "$pid1"
	wait_for_line "$T/gr.err" 'no generation serving: restarting in'
	run gr status
	assert_failure 1
	assert_line --index 0 --regexp "^graceful-run \(pid $GR_PID\): backoff, starting again in [0-9]+m[0-9]{2}s$"
	run gr status --json
	assert_failure 1
	echo "$output" >"$T/status.json"
	assert_equal "$(json_get "$T/status.json" 'j["state"], j["restart_at"] is not None')" "('backoff', True)"
	run gr reload
	assert_success
	assert_output --regexp '^reload: generation 2 \(pid [0-9]+\) ready in '
	run gr status
	assert_success
}

@test "clients beyond 32 at once are refused with a line; the loop and later clients go on" {
	start_srv --ready notify -c "$T/ctl"
	python3 -c '
import socket, sys, time
held = []
for i in range(32):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    held.append(s)
extra = socket.socket(socket.AF_UNIX)
extra.settimeout(10)
extra.connect(sys.argv[1])
print(extra.recv(100).decode().strip())
open(sys.argv[2], "w").close()
# Hold the 32 until told, then let go of them.
while True:
    try:
        open(sys.argv[3]).close()
        break
    except FileNotFoundError:
        time.sleep(0.02)
' "$T/ctl" "$T/full" "$T/release" >"$T/extra.out" 3>&- &
	echo $! >"$T/holder.pid"
	retry_until 20 test -e "$T/full"
	run cat "$T/extra.out"
	assert_output "error too many clients"
	grep -q 'control: connection refused: 32 clients already' "$T/gr.err"
	reload_to 2
	touch "$T/release"
	exit_of holder
	run gr status
	assert_success
}
