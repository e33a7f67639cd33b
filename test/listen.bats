#!/usr/bin/env bats
# Every -l form of DESIGN.md, bound for real and served by the test httpd.

load helpers/common

HTTPD() { echo "$GR_HELPERS/httpd"; }

# serve SPEC...: graceful-run -l SPEC... -- httpd, waiting until it serves.
serve() {
	local args=() spec
	for spec in "$@"; do
		args+=(-l "$spec")
	done
	start_gr --ready notify "${args[@]}" -- "$(HTTPD)"
	wait_for_line "$T/gr.err" 'generation 1 \(pid [0-9]+\) ready'
}

@test "PORT and :PORT bind one dual-stack socket" {
	local port=$(free_port)
	serve "$port"
	run http_get "$port"
	assert_success
	run curl -fsS --max-time 20 "http://[::1]:$port/"
	assert_success
	assert_output --regexp '^pid=[0-9]{10} gen=000001$'
	assert_equal "$(ss -Htln "sport = :$port" | wc -l)" 1
}

@test ":PORT,v6only takes IPv6 only" {
	local port=$(free_port)
	serve ":$port,v6only"
	run curl -fsS --max-time 20 "http://[::1]:$port/"
	assert_success
	run http_get "$port"
	assert_failure
}

@test "HOST:PORT with v4 and [v6] addresses" {
	local p4=$(free_port) p6=$(free_port)
	serve "127.0.0.1:$p4" "[::1]:$p6"
	run http_get "$p4"
	assert_success
	run curl -fsS --max-time 20 "http://[::1]:$p6/"
	assert_success
	run curl -sS --max-time 5 "http://[::1]:$p4/"
	assert_failure
}

@test "a host name binds every address it resolves to" {
	unshare --mount true 2>/dev/null || skip "no mount namespaces here"
	local port=$(free_port)
	printf '127.0.0.1 dual.test\n127.0.0.2 dual.test\n::1 dual.test\n' >"$T/hosts"
	unshare --mount sh -c 'mount --bind "$1" /etc/hosts && shift && exec "$@"' \
		_ "$T/hosts" "$GR_BIN" -l "dual.test:$port" -- \
		python3 "$HELPERS_SRC/fdlist.py" "$T/child" 3>&-
	run grep -c '^sock' "$T/child"
	assert_output 3
	# In the resolver's order, one fd each.
	run grep '^env SERVER_STARTER_PORT=' "$T/child"
	assert_output --partial "127.0.0.1:$port="
	assert_output --partial "127.0.0.2:$port="
	assert_output --partial "[::1]:$port="
}

@test "localhost resolves and serves" {
	local port=$(free_port)
	serve "localhost:$port"
	run http_get "$port"
	assert_success
}

@test "unix:PATH serves, takes mode= and owner=, and is removed at exit" {
	serve "unix:$T/app.sock,mode=0660,owner=nobody:nogroup"
	run curl -fsS --max-time 20 --unix-socket "$T/app.sock" http://x/
	assert_success
	assert_equal "$(stat -c '%a %U %G %F' "$T/app.sock")" "660 nobody nogroup socket"
	kill -TERM "$GR_PID"
	wait_gr_exit
	assert_equal "$GR_STATUS" 0
	[ ! -e "$T/app.sock" ]
}

@test "unix:@abstract serves" {
	local name="gr-test-$$-$RANDOM"
	serve "unix:@$name"
	run curl -fsS --max-time 20 --abstract-unix-socket "$name" http://x/
	assert_success
}

@test "a stale socket file is replaced; a live one is not" {
	python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$T/stale.sock"
	[ -S "$T/stale.sock" ]
	serve "unix:$T/stale.sock"
	run curl -fsS --max-time 20 --unix-socket "$T/stale.sock" http://x/
	assert_success
	grep -q "replacing stale socket $T/stale.sock" "$T/gr.err"
	# A second graceful-run must not steal the live socket.
	run --separate-stderr "$GR_BIN" -l "unix:$T/stale.sock" -- true
	assert_equal "$status" 125
	assert_regex "$stderr" "^graceful-run\[[0-9]+\]: bind unix:$T/stale.sock: Address already in use$"
	run curl -fsS --max-time 20 --unix-socket "$T/stale.sock" http://x/
	assert_success
}

@test "udp:HOST:PORT hands over a datagram socket" {
	local port=$(free_port)
	start_gr --ready delay:0 -l "udp:127.0.0.1:$port" -- python3 -c '
import socket, sys
s = socket.socket(fileno=3)
open(sys.argv[1], "w").write("up\n")
data, peer = s.recvfrom(100)
open(sys.argv[1], "a").write("got " + data.decode() + "\n")' "$T/udp"
	wait_for_line "$T/udp" up
	python3 -c 'import socket, sys
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"ping", ("127.0.0.1", int(sys.argv[1])))' "$port"
	wait_for_line "$T/udp" "got ping"
	wait_gr_exit
	assert_equal "$GR_STATUS" 0
}

@test "backlog= sets the listen queue; reuseport lets two wrappers share" {
	local port=$(free_port)
	serve "127.0.0.1:$port,backlog=7,reuseport"
	assert_equal "$(ss -Htln "sport = :$port" | awk '{print $3}')" 7
	run --separate-stderr "$GR_BIN" -l "127.0.0.1:$port,reuseport" -- true
	assert_success
	run --separate-stderr "$GR_BIN" -l "127.0.0.1:$port" -- true
	assert_equal "$status" 125
}

@test "names go into LISTEN_FDNAMES; defaults derive from the address" {
	local p1=$(free_port) p2=$(free_port)
	start_gr -l "web=127.0.0.1:$p1" -l "udp:127.0.0.1:$p2" \
		-l "unix:$T/a.sock" -l "unix:@abs-$$" -- \
		python3 "$HELPERS_SRC/fdlist.py" "$T/child"
	wait_gr_exit
	run grep '^env LISTEN_FDNAMES=' "$T/child"
	assert_output "env LISTEN_FDNAMES=web:udp-$p2:a.sock:abs-$$"
}
