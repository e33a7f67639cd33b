#!/usr/bin/env bats
# The pid file (-p) and the status file (--status-file): written when they
# should be, locked, replaced whole, and never left behind.

load helpers/common
load helpers/control

@test "-p: the pid is written; a second graceful-run on the file fails with 125 naming it; removed at exit" {
	local port2
	start_srv --ready notify -p "$T/pid"
	assert_equal "$(cat "$T/pid")" "$GR_PID"
	port2=$(free_port)
	run "$GR_BIN" -p "$T/pid" -l "127.0.0.1:$port2" -- "$T/srv"
	assert_failure 125
	assert_output --regexp "^graceful-run\[[0-9]+\]: pid file $T/pid: in use by pid $GR_PID$"
	# It failed before it bound anything, and left the file alone.
	run port_listening "$port2"
	assert_failure
	assert_equal "$(cat "$T/pid")" "$GR_PID"
	# The pid file names the process to signal.
	kill -HUP "$(cat "$T/pid")"
	wait_ready 2
	kill -TERM "$(cat "$T/pid")"
	wait_gr_exit
	assert_equal "$GR_STATUS" 0
	[ ! -e "$T/pid" ]
}

@test "-p: the pid file is not left behind when graceful-run fails to start" {
	local port
	port=$(free_port)
	start_srv --ready notify
	# The address is taken.
	run "$GR_BIN" -p "$T/pid" -l "127.0.0.1:$port" -- true
	assert_failure 125
	assert_output --partial "Address already in use"
	[ ! -e "$T/pid" ]
	# The control socket cannot be made.
	run "$GR_BIN" -p "$T/pid" -c "$T/no/such/dir/ctl" -l "127.0.0.1:$(free_port)" -- true
	assert_failure 125
	assert_output --regexp "control socket $T/no/such/dir/ctl: No such file or directory$"
	[ ! -e "$T/pid" ]
	# The status file cannot be made.
	run "$GR_BIN" -p "$T/pid" --status-file "$T/no/status.json" -l "127.0.0.1:$(free_port)" -- true
	assert_failure 125
	assert_output --regexp "status file $T/no/status.json: No such file or directory$"
	[ ! -e "$T/pid" ]
	# The pid file itself cannot be made.
	run "$GR_BIN" -p "$T/no/pid" -l "127.0.0.1:$(free_port)" -- true
	assert_failure 125
	assert_output --regexp "pid file $T/no/pid: No such file or directory$"
	# The command is not found: 127, and still nothing left.
	run "$GR_BIN" -p "$T/pid" -c "$T/ctl" --status-file "$T/status.json" -l "127.0.0.1:$(free_port)" -- "$T/none"
	assert_failure 127
	[ ! -e "$T/pid" ]
	[ ! -e "$T/ctl" ]
	[ ! -e "$T/status.json" ]
}

# status_is EXPR: the status file parses and EXPR holds for it.
status_is() {
	status_file_ok "$T/status.json" &&
		[ "$(json_get "$T/status.json" "$1")" = True ]
}

@test "--status-file: valid JSON after each step, replaced whole at each change, removed at exit" {
	local ino ino2 pid2
	start_srv --ready notify -c "$T/ctl" --status-file "$T/status.json"
	retry_until 20 status_is 'j["state"] == "serving" and j["last_reload"] is None'
	assert_equal "$(json_get "$T/status.json" 'j["pid"], j["generations"][0]["pid"], j["generations"][0]["ready_by"]')" "($GR_PID, $pid1, 'READY=1')"
	# Ages are not in the file: nothing changes it while nothing happens.
	run json_get "$T/status.json" '"age" in j["generations"][0]'
	assert_output False
	ino=$(stat -c %i "$T/status.json")
	gr status >/dev/null
	assert_equal "$(stat -c %i "$T/status.json")" "$ino"

	gr reload
	pid2=$(generation_pid 2)
	retry_until 20 status_is "j['last_reload']['ok'] and j['last_reload']['generation'] == 2 and [g['pid'] for g in j['generations']] == [$pid2]"
	ino2=$(stat -c %i "$T/status.json")
	[ "$ino2" != "$ino" ]

	httpd_knobs 3 HTTPD_FAIL_START=5
	run gr reload
	assert_failure 1
	retry_until 20 status_is "not j['last_reload']['ok'] and j['reloads'] == 2"
	run json_get "$T/status.json" 'j["last_reload"]["text"]'
	assert_output "reload failed: generation 3 exited with status 5 before it was ready; generation 2 still serving"
	status_file_ok "$T/status.json"
	# No temporary file is left beside it.
	run ls -A "$T"
	refute_output --partial ".status.json."

	kill -TERM "$GR_PID"
	wait_gr_exit
	[ ! -e "$T/status.json" ]
}

@test "--status-file: a reader never sees a partial object" {
	start_srv --ready notify -c "$T/ctl" --status-file "$T/status.json"
	retry_until 20 test -e "$T/status.json"
	python3 -c '
import json, os, sys, time
path, stop, out = sys.argv[1], sys.argv[2], sys.argv[3]
reads = bad = 0
while True:
    try:
        with open(path) as f:
            json.load(f)
        reads += 1
    except ValueError:
        bad += 1
    if reads == 1:
        open(out + ".started", "w").close()
    if os.path.exists(stop):
        break
open(out, "w").write("%d %d\n" % (reads, bad))
' "$T/status.json" "$T/reader.stop" "$T/reader.out" 3>&- &
	echo $! >"$T/reader.pid"
	retry_until 20 test -e "$T/reader.out.started"
	for _ in 1 2 3 4 5; do
		gr reload >/dev/null
	done
	touch "$T/reader.stop"
	exit_of reader
	read -r reads bad <"$T/reader.out"
	[ "$reads" -gt 1 ]
	assert_equal "$bad" 0
}
