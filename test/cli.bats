#!/usr/bin/env bats
# Bad input: one line on stderr naming the thing and the reason, exit 125
# (126/127 for the command), and nothing left behind.

load helpers/common

# run_gr ARGS...: run graceful-run to completion, stderr in $T/err.
run_gr() {
	run --separate-stderr "$GR_BIN" "$@"
}

assert_one_line() {
	assert_equal "${#stderr_lines[@]}" 1
	assert_regex "${stderr_lines[0]}" "^graceful-run\[[0-9]+\]: $1"
}

@test "--help and --version print and exit 0" {
	run_gr --help
	assert_success
	assert_output --partial "Usage: graceful-run [OPTION]... -- COMMAND"
	assert_output --partial "--ready-timeout"
	run_gr --version
	assert_success
	assert_output --regexp "^graceful-run [0-9]+\.[0-9]+"
}

@test "malformed addresses are named with the reason" {
	run_gr -l '127.0.0.1:99999' -- true
	assert_equal "$status" 125
	assert_one_line 'listen "127.0.0.1:99999": bad port "99999"'
	run_gr -l '::1:80' -- true
	assert_equal "$status" 125
	assert_one_line 'listen "::1:80": bad address'
	run_gr -l ':80,mode=0600' -- true
	assert_equal "$status" 125
	assert_one_line 'listen ":80,mode=0600": option "mode" does not apply'
	run_gr -l 'bad:name=:80' -- true
	assert_equal "$status" 125
}

@test "an unknown option is refused" {
	run_gr --frobnicate -- true
	assert_equal "$status" 125
	assert_one_line 'unknown option "--frobnicate"'
}

@test "a missing -- or command is refused" {
	run_gr -l 127.0.0.1:1 true
	assert_equal "$status" 125
	assert_one_line 'missing "--" before "true"'
	run_gr -l 127.0.0.1:1 --
	assert_equal "$status" 125
	assert_one_line 'missing -- COMMAND'
	run_gr -l
	assert_equal "$status" 125
	assert_one_line 'option "-l" needs an argument'
}

@test "a port in use fails and frees the ports bound before it" {
	local free=$(free_port) busy=$(free_port)
	python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen()
open(sys.argv[2], "w").write("x")
time.sleep(60)' "$busy" "$T/held" 3>&- &
	echo $! >"$T/holder.pid"
	wait_for_line "$T/held" x
	run_gr -l "127.0.0.1:$free" -l "127.0.0.1:$busy" -- true
	assert_equal "$status" 125
	assert_one_line "bind 127.0.0.1:$busy: Address already in use"
	run port_listening "$free"
	assert_failure
}

@test "a privileged port as an unprivileged user is refused" {
	command -v setpriv || skip "setpriv missing"
	[ "$(id -u)" = 0 ] || skip "needs root to become nobody"
	[ "$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start)" -gt 80 ] ||
		skip "unprivileged ports start below 80 here"
	run --separate-stderr setpriv --reuid=nobody --regid=nogroup \
		--clear-groups "$GR_BIN" -l 127.0.0.1:80 -- true
	assert_equal "$status" 125
	assert_one_line "bind 127.0.0.1:80: Permission denied"
}

@test "a host name that does not resolve is named" {
	run_gr -l 'no-such-host.invalid:8080' -- true
	assert_equal "$status" 125
	assert_one_line 'listen "no-such-host.invalid:8080": cannot resolve "no-such-host.invalid"'
}

@test "a unix path in a missing directory fails and leaves no file" {
	run_gr -l "unix:$T/sock" -l "unix:$T/missing/dir/sock" -- true
	assert_equal "$status" 125
	assert_one_line "bind unix:$T/missing/dir/sock: No such file or directory"
	[ ! -e "$T/sock" ]
}

@test "a command that is not found exits 127" {
	local port=$(free_port)
	run -127 --separate-stderr "$GR_BIN" -l "127.0.0.1:$port" -- \
		"$T/no-such-command"
	assert_one_line "exec $T/no-such-command: No such file or directory"
	run -127 --separate-stderr "$GR_BIN" -- no-such-command-in-path-either
	run port_listening "$port"
	assert_failure
}

@test "a command that is not executable exits 126" {
	printf 'echo hi\n' >"$T/script"
	chmod 644 "$T/script"
	run_gr -l "unix:$T/sock" -- "$T/script"
	assert_equal "$status" 126
	assert_one_line "exec $T/script: Permission denied"
	[ ! -e "$T/sock" ]
	run_gr -- "$T"
	assert_equal "$status" 126
}

@test "bad durations are refused" {
	run_gr --stop-timeout 5x -- true
	assert_equal "$status" 125
	assert_one_line '--stop-timeout "5x": bad duration'
	run_gr --ready-timeout -1 -- true
	assert_equal "$status" 125
	run_gr --ready-timeout 0 -- true
	assert_equal "$status" 125
	assert_one_line '--ready-timeout "0": must be more than 0'
	run_gr --ready delay:soon -- true
	assert_equal "$status" 125
	assert_one_line '--ready "delay:soon": want auto'
}

@test "bad signal names are refused" {
	run_gr --stop-signal TERMINATE -- true
	assert_equal "$status" 125
	assert_one_line '--stop-signal "TERMINATE": unknown signal'
	run_gr --reload-signal TERM -- true
	assert_equal "$status" 125
	assert_one_line '--reload-signal TERM: that signal has another use'
}

@test "too many sockets for the fd limit are refused and freed" {
	local args=() i
	# Unix sockets in $T: no port another test could be holding.
	for i in 1 2 3 4 5 6; do
		args+=(-l "unix:$T/s$i")
	done
	run --separate-stderr bash -c 'ulimit -n 12; exec "$@"' _ \
		"$GR_BIN" "${args[@]}" -- true
	assert_equal "$status" 125
	assert_one_line "(listen \"unix:$T/s[0-9]\": too many sockets for the fd limit|6 sockets: too many for the fd limit)"
	run ls "$T"
	refute_output --partial "s1"
}

@test "a usage error exits 125 even when nobody reads stderr" {
	run python3 -c 'import os, subprocess, sys
r, w = os.pipe()
os.close(r)
# subprocess gives the child SIGPIPE at its default disposition.
print(subprocess.run([sys.argv[1], "--frobnicate", "--", "true"],
                     stderr=w).returncode)' "$GR_BIN"
	assert_success
	assert_output 125
}

# A stderr left non-blocking by whoever shares it: a full buffer must delay
# the line, not lose it or cut it.
@test "a log line waits for room on a non-blocking stderr" {
	run python3 -c 'import os, socket, subprocess, sys, time
a, b = socket.socketpair()
b.setblocking(False)
try:
    while True:
        b.send(b"x" * 1024)
except BlockingIOError:
    pass
p = subprocess.Popen([sys.argv[1], "--frobnicate", "--", "true"],
                     stderr=b.fileno())
b.close()
def waiting(pid):
    try:
        return "poll" in open("/proc/%d/wchan" % pid).read()
    except OSError:
        return False
# Until it waits for room (or has given up and exited), bounded.
deadline = time.monotonic() + 20
while p.poll() is None and not waiting(p.pid) and time.monotonic() < deadline:
    time.sleep(0.01)
a.settimeout(20)
data = b""
while True:
    chunk = a.recv(65536)
    if not chunk:
        break
    data += chunk
print(p.wait())
sys.stdout.write(data.lstrip(b"x").decode())' "$GR_BIN"
	assert_success
	assert_line --index 0 125
	assert_line --index 1 --regexp '^graceful-run\[[0-9]+\]: unknown option "--frobnicate"'
	assert_equal "${#lines[@]}" 2
}
