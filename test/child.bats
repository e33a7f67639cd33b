#!/usr/bin/env bats
# What the child gets: the fds, the environment, its own process group,
# its exit status, and stdout/stderr untouched.

load helpers/common

# has_pidfs: whether pidfds live on pidfs here (Linux 6.9 and later), so
# that the inode of one names its process.
has_pidfs() {
	python3 -c 'import os, subprocess, sys
fd = os.pidfd_open(os.getpid())
fs = subprocess.run(["stat", "-f", "-c", "%t", "/proc/self/fd/%d" % fd],
                    pass_fds=[fd], capture_output=True, text=True).stdout
sys.exit(0 if fs.strip() == "50494446" else 1)' 2>/dev/null
}

# run_fdlist ARGS...: graceful-run ARGS -- fdlist.py, which exits at once.
run_fdlist() {
	start_gr "$@" -- python3 "$HELPERS_SRC/fdlist.py" "$T/child"
	wait_gr_exit
	assert_equal "$GR_STATUS" 0
}

@test "the sockets are at 3, 4, 5 and the ready pipe right after; nothing else" {
	local p1=$(free_port) p2=$(free_port)
	run_fdlist -l "127.0.0.1:$p1" -l "unix:$T/s" -l "udp:127.0.0.1:$p2"
	run grep '^fd ' "$T/child"
	assert_output "fd 0 /dev/null
fd 1 $T/gr.out
fd 2 $T/gr.err
fd 3 socket
fd 4 socket
fd 5 socket
fd 6 pipe"
	run grep '^sock ' "$T/child"
	assert_output "sock 3 SOCK_STREAM blocking
sock 4 SOCK_STREAM blocking
sock 5 SOCK_DGRAM blocking"
}

@test "the environment names the sockets for every protocol" {
	local p1=$(free_port) p2=$(free_port)
	run_fdlist -l "127.0.0.1:$p1" -l "api=unix:$T/s" -l ":$p2"
	local pid=$(sed -n 's/^pid \([0-9]*\) .*/\1/p' "$T/child")
	run grep '^env ' "$T/child"
	assert_line "env LISTEN_FDS=3"
	assert_line "env LISTEN_PID=$pid"
	assert_line "env LISTEN_FDNAMES=tcp-$p1:api:tcp-$p2"
	assert_line "env EINHORN_FD_COUNT=3"
	assert_line "env EINHORN_FD_0=3"
	assert_line "env EINHORN_FD_1=4"
	assert_line "env EINHORN_FD_2=5"
	assert_line "env EINHORN_FDS=3 4 5"
	assert_line "env SERVER_STARTER_PORT=127.0.0.1:$p1=3;$T/s=4;$p2=5"
	assert_line "env SERVER_STARTER_GENERATION=1"
	assert_line "env GRACEFUL_RUN_GENERATION=1"
	assert_line "env GRACEFUL_RUN_READY_FD=6"
	assert_line --regexp "^env NOTIFY_SOCKET=/.+/1$"
	if has_pidfs; then
		assert_line --regexp "^env LISTEN_PIDFDID=[0-9]+$"
		assert_equal "${#lines[@]}" 14
	else
		refute_line --partial LISTEN_PIDFDID
		assert_equal "${#lines[@]}" 13
	fi
}

# pidfd_env: the child's LISTEN_PIDFDID, LISTEN_PID and the inode of a
# pidfd it opens on itself, one a line; LISTEN_FDS last, to show the
# environment is whole.
PIDFD_CHILD='import os
fd = os.pidfd_open(os.getpid())
print(os.environ.get("LISTEN_PIDFDID", "unset"))
print(os.environ["LISTEN_PID"] == str(os.getpid()))
print(os.fstat(fd).st_ino)
print(os.environ.get("LISTEN_FDS"), len(os.environ))'

@test "LISTEN_PIDFDID is the inode of a pidfd of the child, as systemd sets it" {
	has_pidfs || skip "pidfds are not on pidfs here (Linux < 6.9): no LISTEN_PIDFDID"
	start_gr -q -l "127.0.0.1:$(free_port)" -- python3 -c "$PIDFD_CHILD"
	wait_gr_exit
	assert_equal "$GR_STATUS" 0
	run cat "$T/gr.out"
	assert_line --index 1 True
	assert_equal "${lines[0]}" "${lines[2]}"
	assert_line --index 3 --regexp '^1 [0-9]+$'
	# Not from the wrapper's own environment.
	LISTEN_PIDFDID=12345 start_gr -q -- python3 -c 'import os
print(os.environ.get("LISTEN_PIDFDID", "unset"))'
	wait_gr_exit
	assert_equal "$(cat "$T/gr.out")" unset
}

# Where pidfd_open fails (no pidfs, or a seccomp filter), the variable is
# dropped from the child's environment and nothing else is lost.
@test "no LISTEN_PIDFDID where a pidfd cannot be had; the rest is whole" {
	command -v strace >/dev/null || skip "strace is not installed"
	strace -f -o /dev/null -e trace=pidfd_open -e inject=pidfd_open:error=ENOSYS \
		true 2>/dev/null || skip "strace cannot inject faults here"
	# LeakSanitizer cannot work under ptrace (both runs: same environment).
	export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
	local port=$(free_port)
	start_gr -q -l "127.0.0.1:$port" -- python3 -c "$PIDFD_CHILD"
	wait_gr_exit
	local whole=$(sed -n 4p "$T/gr.out")
	rm "$T/gr.out"
	strace -f -o /dev/null -e trace=pidfd_open -e inject=pidfd_open:error=ENOSYS \
		"$GR_BIN" -q -l "127.0.0.1:$port" -- python3 -c 'import os
print(os.environ.get("LISTEN_PIDFDID", "unset"))
print(os.environ["LISTEN_PID"] == str(os.getpid()))
print(os.environ.get("LISTEN_FDS"), len(os.environ))' >"$T/gr.out" 2>"$T/gr.err"
	run cat "$T/gr.out"
	assert_line --index 0 unset
	assert_line --index 1 True
	if has_pidfs; then
		# One variable fewer than with LISTEN_PIDFDID, none lost besides.
		local n=${whole#* }
		assert_line --index 2 "1 $((n - 1))"
	else
		assert_line --index 2 "$whole"
	fi
}

# outer_supervisor: a datagram socket at $T/outer.sock standing for
# systemd's NOTIFY_SOCKET; what it receives goes to $T/outer.msgs.
outer_supervisor() {
	python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[1])
open(sys.argv[2], "w").write("x")
while True:
    m = s.recv(4096).decode().replace("\n", " ")
    with open(sys.argv[3], "a") as f:
        f.write(m + "\n")' "$T/outer.sock" "$T/outer.up" "$T/outer.msgs" 3>&- &
	echo $! >"$T/outer.pid"
	wait_for_line "$T/outer.up" x
}

@test "graceful-run's own variables do not leak to the child" {
	local port=$(free_port)
	outer_supervisor
	LISTEN_FDS=7 LISTEN_PID=1 LISTEN_FDNAMES=outer EINHORN_FDS=99 \
		EINHORN_FD_COUNT=1 EINHORN_FD_0=99 SERVER_STARTER_PORT=x=99 \
		GRACEFUL_RUN_GENERATION=42 NOTIFY_SOCKET="$T/outer.sock" \
		WATCHDOG_USEC=1000000 \
		run_fdlist -l "127.0.0.1:$port"
	run grep '^env ' "$T/child"
	assert_line "env LISTEN_FDS=1"
	assert_line "env LISTEN_FDNAMES=tcp-$port"
	assert_line "env EINHORN_FDS=3"
	assert_line "env EINHORN_FD_COUNT=1"
	assert_line "env EINHORN_FD_0=3"
	assert_line "env SERVER_STARTER_PORT=127.0.0.1:$port=3"
	assert_line "env GRACEFUL_RUN_GENERATION=1"
	refute_line --partial "outer.sock"
	refute_line --partial "WATCHDOG"
}

@test "graceful-run tells its own supervisor READY, RELOADING and STOPPING" {
	outer_supervisor
	NOTIFY_SOCKET="$T/outer.sock" PROBE_LOG="$T/probe.log" \
		start_gr -- "$HELPERS_SRC/probe-child"
	wait_for_line "$T/outer.msgs" '^READY=1 STATUS=generation 1 '
	kill -HUP "$GR_PID"
	wait_for_line "$T/outer.msgs" '^RELOADING=1 MONOTONIC_USEC=[0-9]+ '
	wait_for_line "$T/outer.msgs" '^READY=1 STATUS=reload: generation 2 \(pid [0-9]+\) ready in '
	kill -TERM "$GR_PID"
	wait_for_line "$T/outer.msgs" '^STOPPING=1'
	wait_gr_exit
	assert_equal "$GR_STATUS" 0
}

@test "the child runs in its own process group" {
	run_fdlist
	run grep '^pid ' "$T/child"
	local pid=$(echo "$output" | cut -d' ' -f2) pgid=$(echo "$output" | cut -d' ' -f4)
	assert_equal "$pid" "$pgid"
	refute [ "$pgid" = "$(ps -o pgid= -p $$ | tr -d ' ')" ]
}

@test "the command is looked up in PATH" {
	mkdir "$T/bin"
	printf '#!/bin/sh\necho "found $0"\n' >"$T/bin/my-server"
	chmod +x "$T/bin/my-server"
	PATH="$T/bin:$PATH" start_gr -- my-server
	wait_gr_exit
	assert_equal "$GR_STATUS" 0
	assert_equal "$(cat "$T/gr.out")" "found $T/bin/my-server"
}

@test "the exit status is the child's, 128+N for signal N" {
	start_gr -- sh -c 'exit 7'
	wait_gr_exit
	assert_equal "$GR_STATUS" 7
	start_gr -- sh -c 'kill -USR1 $$'
	wait_gr_exit
	assert_equal "$GR_STATUS" $((128 + 10))
}

@test "the child's stdout and stderr pass through untouched" {
	start_gr -q -- sh -c 'printf "out line\\n"; printf "err line\\n" >&2; printf "no newline"'
	wait_gr_exit
	assert_equal "$GR_STATUS" 0
	assert_equal "$(cat "$T/gr.out")" "out line
no newline"
	assert_equal "$(cat "$T/gr.err")" "err line"
}

@test "logs: one line per event; -q keeps errors only; -v says more" {
	start_gr -- sh -c 'exit 3'
	wait_gr_exit
	run cat "$T/gr.err"
	assert_line --regexp '^graceful-run\[[0-9]+\]: generation 1 \(pid [0-9]+\) started$'
	assert_line --regexp '^graceful-run\[[0-9]+\]: generation 1 \(pid [0-9]+\) exited with status 3 before it was ready$'
	start_gr -q -- sh -c 'exit 0'
	wait_gr_exit
	assert_equal "$(cat "$T/gr.err")" ""
	start_gr -v -l "127.0.0.1:$(free_port)" -- true
	wait_gr_exit
	run grep -c 'bound 127.0.0.1' "$T/gr.err"
	assert_output 1
}

# --- what graceful-run itself keeps of what it inherited -----------------

# fd_targets PID: where each of its fds past stderr points, one a line.
fd_targets() {
	local fd
	for fd in /proc/"$1"/fd/*; do
		[ "${fd##*/}" -gt 2 ] && readlink "$fd"
	done
	return 0
}

@test "\$(graceful-run ... &) returns at once: the inherited pipe is not held" {
	# The substitution's pipe is on fd 7 only; stdout and stderr are files.
	(
		out=$(
			exec 7>&1 >"$T/gr.out" 2>"$T/gr.err"
			"$GR_BIN" --ready delay:0 -- sleep 1000 &
			echo $! >"$T/gr.pid"
		)
		echo done >"$T/captured"
	) 3>&- &
	wait_for_line "$T/captured" done 10
	GR_PID=$(cat "$T/gr.pid")
	wait_for_line "$T/gr.err" 'generation 1 \(pid [0-9]+\) ready'
	running "$GR_PID"
}

@test "fds inherited past stderr are closed at start" {
	echo x >"$T/inherited"
	start_gr --ready delay:0 -- sleep 1000 7<"$T/inherited" 9>>"$T/inherited"
	wait_for_line "$T/gr.err" 'generation 1 \(pid [0-9]+\) ready'
	run fd_targets "$GR_PID"
	refute_output --partial "$T/inherited"
	run fd_targets "$(generation_pid 1)"
	refute_output --partial "$T/inherited"
}

# activated ARGS...: graceful-run ARGS with a listening socket at fd 3
# and LISTEN_FDS=1 naming its pid, as systemd passes one; the socket's
# inode is in $T/passed.ino.
activated() {
	exec python3 -c 'import os, socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen()
open(sys.argv[1], "w").write("socket:[%d]\n" % os.fstat(s.fileno()).st_ino)
if s.fileno() != 3:
    os.dup2(s.fileno(), 3)
os.set_inheritable(3, True)
os.environ.update(LISTEN_PID=str(os.getpid()), LISTEN_FDS="1")
os.execv(sys.argv[2], sys.argv[2:])' "$T/passed.ino" "$GR_BIN" "$@"
}

@test "systemd's sockets are kept and adopted; with -l given, closed" {
	activated --ready delay:0 -- sleep 1000 >"$T/gr.out" 2>"$T/gr.err" 3>&- &
	GR_PID=$!
	wait_for_line "$T/gr.err" 'generation 1 \(pid [0-9]+\) ready'
	run fd_targets "$GR_PID"
	assert_line "$(cat "$T/passed.ino")"
	kill -TERM "$GR_PID"
	wait_gr_exit
	rm "$T/gr.err" "$T/passed.ino"
	activated -l "127.0.0.1:$(free_port)" --ready delay:0 -- sleep 1000 \
		>"$T/gr.out" 2>"$T/gr.err" 3>&- &
	GR_PID=$!
	wait_for_line "$T/gr.err" 'generation 1 \(pid [0-9]+\) ready'
	run fd_targets "$GR_PID"
	refute_line "$(cat "$T/passed.ino")"
	run fd_targets "$(generation_pid 1)"
	refute_line "$(cat "$T/passed.ino")"
}
