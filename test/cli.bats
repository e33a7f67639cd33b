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

# assert_one_line_text TEXT: one line, whose message starts with TEXT as is.
assert_one_line_text() {
	assert_equal "${#stderr_lines[@]}" 1
	assert_regex "${stderr_lines[0]}" '^graceful-run\[[0-9]+\]: '
	local msg=${stderr_lines[0]#*]: }
	assert_equal "${msg:0:${#1}}" "$1"
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
	assert_one_line 'listen: bad port "99999" \(1-65535\): "127\.0\.0\.1:99999"$'
	run_gr -l '::1:80' -- true
	assert_equal "$status" 125
	assert_one_line 'listen: bad address "::1:80" \(write IPv6'
	run_gr -l ':80,mode=0600' -- true
	assert_equal "$status" 125
	assert_one_line 'listen: option "mode" does not apply here .*: ":80,mode=0600"$'
	run_gr -l 'bad:name=:80' -- true
	assert_equal "$status" 125
	assert_one_line 'listen: bad address "bad:name=:80"'
	run_gr -l 'bad name=:80' -- true
	assert_equal "$status" 125
	assert_one_line 'listen: bad name "bad name" \(printable, no .:. or space'
	run_gr -l $'a\tb=:80' -- true
	assert_equal "$status" 125
	assert_one_line 'listen: bad name "a\\x09b" .*: "a\\x09b=:80"$'
}

@test "a port is a number: leading zeros are not cut, signs and spaces are refused" {
	local port=$(free_port)
	start_gr -l "127.0.0.1:0000000$port" -- python3 "$HELPERS_SRC/fdlist.py" "$T/child"
	wait_gr_exit
	assert_equal "$GR_STATUS" 0
	run grep '^env \(LISTEN_FDNAMES\|SERVER_STARTER_PORT\)=' "$T/child"
	assert_line "env LISTEN_FDNAMES=tcp-$port"
	assert_line "env SERVER_STARTER_PORT=127.0.0.1:$port=3"
	local bad
	for bad in +80 ' 80' -0 0 00000 65536 0x50 8080x; do
		run_gr -l "127.0.0.1:$bad" -- true
		assert_equal "$status" 125
		assert_one_line_text "listen: bad port \"$bad\" (1-65535): "
	done
	run_gr -l ":80,backlog=+5" -- true
	assert_equal "$status" 125
	assert_one_line 'listen: bad backlog "\+5" \(1-65535\)'
}

@test "a socket mode is octal digits up to 07777, checked before any cast" {
	local bad
	for bad in 100000000000 -0 0660x 08 '' 010000 ' 0660'; do
		run_gr -l "unix:$T/s,mode=$bad" -- true
		assert_equal "$status" 125
		assert_one_line_text "listen: bad mode \"$bad\" (octal digits, at most 07777"
	done
	[ ! -e "$T/s" ]
}

# What is wrong comes first, then a bounded excerpt: a huge argument
# must not push the reason out of the line.
@test "huge arguments: the reason first, then a bounded excerpt" {
	local big=$(printf 'a%.0s' $(seq 65536)) line
	run_gr -l "$big" -- true
	assert_equal "$status" 125
	assert_one_line 'listen: argument too long \(65536 bytes, at most 1023\): "a{64}"\.\.\.$'
	run_gr -l "unix:/${big:0:500}" -- true
	assert_equal "$status" 125
	assert_one_line 'listen: unix socket path too long \(501 bytes, at most 107\): "unix:/a+"\.\.\.$'
	run_gr -l "$big.example:80" -- true
	assert_equal "$status" 125
	assert_one_line 'listen: argument too long'
	run_gr -l "${big:0:1000}:80" -- true
	assert_equal "$status" 125
	assert_one_line 'listen: host name too long \(1000 bytes, at most 255\): "a+"\.\.\.$'
	run_gr --stop-timeout "$big" -- true
	assert_one_line '--stop-timeout: bad duration .*: "a+"\.\.\.$'
	run_gr --stop-signal "$big" -- true
	assert_one_line '--stop-signal: unknown signal .*: "a+"\.\.\.$'
	run_gr --ready "$big" -- true
	assert_one_line '--ready: want auto.*: "a+"\.\.\. \(see graceful-run --help\)$'
	run_gr "--$big" -- true
	assert_one_line 'unknown option "-+a+"\.\.\.'
	run_gr -q "$big"
	assert_one_line 'missing "--" before "a+"\.\.\.'
	for line in "${stderr_lines[@]}"; do
		[ "${#line}" -lt 200 ]
	done
}

@test "an unknown option is refused, and named even inside a cluster" {
	run_gr --frobnicate -- true
	assert_equal "$status" 125
	assert_one_line 'unknown option "--frobnicate"'
	run_gr -xq -- true
	assert_equal "$status" 125
	assert_one_line 'unknown option "-x"'
	run_gr -q -vx -- true
	assert_equal "$status" 125
	assert_one_line 'unknown option "-x"'
	run_gr --quiet=3 -- true
	assert_equal "$status" 125
	assert_one_line 'no argument allowed for option "--quiet"'
	run_gr --re 1 -- true
	assert_equal "$status" 125
	assert_one_line 'ambiguous option "--re"'
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
	run_gr -ql
	assert_equal "$status" 125
	assert_one_line 'option "-l" needs an argument'
	run_gr --stop-timeout
	assert_equal "$status" 125
	assert_one_line 'option "--stop-timeout" needs an argument'
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
	assert_one_line 'listen: cannot resolve "no-such-host.invalid": '
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
	assert_one_line "exec \"$T/no-such-command\": No such file or directory"
	run -127 --separate-stderr "$GR_BIN" -- no-such-command-in-path-either
	assert_one_line "exec \"no-such-command-in-path-either\": No such file or directory"
	# A huge name: the reason still ends the line.
	run -126 --separate-stderr "$GR_BIN" -- "$(printf 'x%.0s' $(seq 5000))"
	assert_one_line 'exec "x{64}"\.\.\.: File name too long$'
	run port_listening "$port"
	assert_failure
}

@test "a command that is not executable exits 126" {
	printf 'echo hi\n' >"$T/script"
	chmod 644 "$T/script"
	run_gr -l "unix:$T/sock" -- "$T/script"
	assert_equal "$status" 126
	assert_one_line "exec \"$T/script\": Permission denied"
	[ ! -e "$T/sock" ]
	run_gr -- "$T"
	assert_equal "$status" 126
	assert_one_line "exec \"$T\": Permission denied"
}

@test "bad durations are refused" {
	run_gr --stop-timeout 5x -- true
	assert_equal "$status" 125
	assert_one_line '--stop-timeout: bad duration \(e\.g\. 250ms, 2s, 1m; at most 24h\): "5x"$'
	run_gr --ready-timeout -1 -- true
	assert_equal "$status" 125
	assert_one_line '--ready-timeout: bad duration .*: "-1"$'
	run_gr --ready-timeout 0 -- true
	assert_equal "$status" 125
	assert_one_line '--ready-timeout: must be more than 0: "0"'
	run_gr --ready delay:soon -- true
	assert_equal "$status" 125
	assert_one_line '--ready: want auto\[:DURATION\], accepting, notify, delay:DURATION or exec:COMMAND: "delay:soon"'
	run_gr --stop-timeout 86400001ms -- true
	assert_equal "$status" 125
	assert_one_line '--stop-timeout: more than 24h: "86400001ms"$'
	run_gr --ready delay:25h -- true
	assert_equal "$status" 125
	assert_one_line '--ready: more than 24h: "delay:25h" '
}

# The 24h cap is on the duration, not on the number before the unit.
@test "a duration counts in its unit: 120000ms is two minutes" {
	run_gr -q --stop-timeout 120000ms --ready-timeout 86400000ms \
		--ready delay:0.5ms -- true
	assert_success
	assert_equal "$stderr" ""
}

@test "bad signal names are refused" {
	run_gr --stop-signal TERMINATE -- true
	assert_equal "$status" 125
	assert_one_line '--stop-signal: unknown signal \(e\.g\. TERM, SIGQUIT, 15\): "TERMINATE"$'
	local bad
	for bad in 0 +15 ' 15' 15x 65 99999999999999999999; do
		run_gr --stop-signal "$bad" -- true
		assert_equal "$status" 125
		assert_one_line "--stop-signal: unknown signal"
	done
}

# One that cannot be blocked would kill the wrapper (32: status 160) and
# leave the generation holding the port.
@test "--reload-signal refuses what cannot be blocked or has another use" {
	local sig
	for sig in TERM INT QUIT CHLD KILL STOP PIPE CONT SEGV BUS FPE ILL \
		TRAP SYS ABRT XCPU XFSZ; do
		run_gr --reload-signal "$sig" -- true
		assert_equal "$status" 125
		assert_one_line "--reload-signal: (SIG$sig|signal $sig) cannot be the reload signal \\(.+\\): \"$sig\""
	done
	for sig in 32 33; do
		run_gr --reload-signal "$sig" -- true
		assert_equal "$status" 125
		assert_one_line "--reload-signal: signal $sig is reserved by the C library: \"$sig\"$"
	done
	run_gr --reload-signal TERM -- true
	assert_one_line '--reload-signal: SIGTERM cannot be the reload signal \(it stops graceful-run\)'
	for sig in USR2 WINCH URG 34 64; do
		run_gr -q --reload-signal "$sig" -- true
		assert_success
	done
}

# notify_via_socket ARGS...: graceful-run notify ARGS with NOTIFY_SOCKET
# bound by a reader; prints its exit status, then what the socket got.
notify_via_socket() {
	rm -f "$T/notify.sock"
	python3 -c 'import os, socket, subprocess, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
env = dict(os.environ, NOTIFY_SOCKET=sys.argv[1])
print(subprocess.run(sys.argv[2:], env=env).returncode)
try:
    print(s.recv(4096, socket.MSG_DONTWAIT).decode().replace("\n", "|"))
except BlockingIOError:
    print("nothing")' "$T/notify.sock" "$GR_BIN" notify "$@"
}

@test "notify --status: one line of printable text, or refused" {
	run --separate-stderr notify_via_socket --status $'x\nREADY=1'
	assert_output "125
nothing"
	assert_one_line 'notify: --status text has a control character \(0x0a at byte 1\): "x\\x0aREADY=1"$'
	run --separate-stderr notify_via_socket --status $'tab\there'
	assert_output "125
nothing"
	run --separate-stderr notify_via_socket --status 'loading cache' --ready
	assert_output "0
READY=1|STATUS=loading cache|"
	assert_equal "$stderr" ""
}

@test "notify: bad usage and a bad GRACEFUL_RUN_READY_FD are named" {
	run_gr notify -xq
	assert_equal "$status" 125
	assert_one_line 'notify: unknown option "-x"'
	run_gr notify --status
	assert_equal "$status" 125
	assert_one_line 'notify: option needs an argument: "--status"'
	GRACEFUL_RUN_READY_FD=+3 run_gr notify --ready
	assert_equal "$status" 1
	assert_one_line 'notify: GRACEFUL_RUN_READY_FD is not a descriptor number: "\+3"$'
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
	assert_one_line "fd limit too low for 6 sockets: graceful-run needs 27, the limit \\(ulimit -n\\) is 12$"
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
