#!/usr/bin/env bats
# Readiness with no tuning: real servers that never notify, each reloaded
# while its new generation starts slowly (held by a gate file the test
# creates), are made current only once /proc shows them accepting: the old
# generation answers until then, whatever the auto timer says, and the log
# names the rule that decided.

load helpers/common

# gate N: let generation N of a gated fixture start serving.
gate() {
	touch "$T/gate-$1"
}

# ready_reason N: the "(...)" at the end of generation N's ready line.
ready_reason() {
	sed -n "s/.*generation $1 (pid [0-9]*) ready in [0-9.]*s (\\(.*\\))\$/\\1/p" \
		"$T/gr.err"
}

# answers_from PID [N]: N (3) fresh requests in a row are all served by PID.
answers_from() {
	local i
	for i in $(seq "${2:-3}"); do
		assert_equal "$(served_by "$port")" "$1"
	done
}

# held_past_timer N: generation N has started and is not made ready by the
# auto timer: no ready line for 2s, well past auto:1s.
held_past_timer() {
	wait_for_line "$T/gr.err" "generation $1 \(pid [0-9]+\) started"
	no_line_for "$T/gr.err" "generation $1 \(pid [0-9]+\) ready" 2
}

# reload_held REASON-REGEX: with generation 1 serving on $port, reload; the
# new generation is held at its gate; generation 1 alone answers, past the
# auto timer; once the gate opens, generation 2 is ready for REASON and
# serves; generation 1 drains.
reload_held() {
	local pid1 pid2
	pid1=$(generation_pid 1)
	kill -HUP "$GR_PID"
	held_past_timer 2
	answers_from "$pid1"
	gate 2
	wait_ready 2
	run ready_reason 2
	assert_output --regexp "^$1\$"
	pid2=$(generation_pid 2)
	wait_for_line "$T/gr.err" "generation 1 \(pid $pid1\) exited 0 after draining" 30
	answers_from "$pid2"
}

# httpd_gated MODE: httpd (HTTPD_ACCEPT=MODE, silent) on $port, each
# generation held until its gate; generation 1's gate is open.
httpd_gated() {
	local n
	port=$(free_port)
	make_httpd_script
	for n in 1 2 3; do
		httpd_knobs "$n" HTTPD_READY=none HTTPD_ACCEPT="$1" \
			HTTPD_START_GATE="$T/gate-$n"
	done
	gate 1
	start_gr -l "127.0.0.1:$port" -- "$T/srv"
	wait_ready 1
}

@test "httpd, a thread blocked in accept4: the old generation serves until the new one accepts" {
	httpd_gated thread
	run ready_reason 1
	assert_output "accepting on fd 3"
	reload_held "accepting on fd 3"
}

@test "httpd, an epoll loop: the old generation serves until the new one accepts" {
	httpd_gated epoll
	run ready_reason 1
	assert_output "accepting on fd 3 via epoll"
	reload_held "accepting on fd 3 via epoll"
}

@test "httpd, poll in the main thread: the old generation serves until the new one accepts" {
	httpd_gated poll
	run ready_reason 1
	assert_output "accepting on fd 3 via poll"
	reload_held "accepting on fd 3 via poll"
}

@test "a slow silent first generation is ready by the timer; the next is still waited for until it accepts" {
	local pid1
	port=$(free_port)
	make_httpd_script
	httpd_knobs 1 HTTPD_READY=none HTTPD_START_GATE="$T/gate-1"
	httpd_knobs 2 HTTPD_READY=none HTTPD_START_GATE="$T/gate-2"
	start_gr -l "127.0.0.1:$port" -- "$T/srv"
	# Nothing was ever seen accepting: the first generation's DURATION decides.
	wait_ready 1
	run ready_reason 1
	assert_output "silent and alive"
	gate 1
	pid1=$(generation_pid 1)
	retry_until 20 has_served "$pid1"
	# Generation 1 accepts now, so generation 2 is held to it.
	reload_held "accepting on fd 3 via poll"
}

has_served() {
	[ "$(served_by "$port")" = "$1" ]
}

# selectors_server KIND REASON-REGEX
selectors_server() {
	port=$(free_port)
	gate 1
	start_gr -l "127.0.0.1:$port" -- \
		python3 "$HELPERS_SRC/selectors-server.py" "$1" "$T"
	wait_ready 1
	run ready_reason 1
	assert_output --regexp "^$2\$"
	reload_held "$2"
}

@test "a Python selectors server (epoll): waited for until it accepts" {
	selectors_server default "accepting on fd 3 via epoll"
}

@test "a Python selectors server (poll): waited for until it accepts" {
	selectors_server poll "accepting on fd 3 via poll"
}

@test "a Python selectors server (select): waited for until it accepts" {
	selectors_server select "accepting on fd 3 via select"
}

@test "node http.createServer().listen({fd: 3}), late: waited for until it listens" {
	command -v node >/dev/null || skip "node is not installed"
	port=$(free_port)
	gate 1
	start_gr -l "127.0.0.1:$port" -- node "$HELPERS_SRC/node-fd3-server.js" "$T"
	wait_ready 1
	run ready_reason 1
	assert_output "accepting on fd 3 via epoll"
	reload_held "accepting on fd 3 via epoll"
}

# gunicorn_master_of PID: the ppid in a gunicorn worker's answer is PID.
gunicorn_answers_from() {
	local i
	for i in 1 2 3; do
		run http_get "$port"
		assert_output --regexp "^gunicorn pid=[0-9]+ ppid=$1\$"
	done
}

@test "gunicorn, 2 workers, a slow app import: waited for until a worker accepts" {
	command -v gunicorn >/dev/null || skip "gunicorn is not installed"
	local pid1 pid2
	port=$(free_port)
	gate 1
	# gunicorn's arbiter sends READY=1 as soon as it has booted, before its
	# workers have loaded the app: here it is a server that never notifies.
	SLOWAPP_DIR=$T start_gr -l "127.0.0.1:$port" -- env -u NOTIFY_SOCKET \
		gunicorn --workers 2 --chdir "$HELPERS_SRC" --graceful-timeout 10 \
		slowapp:app
	wait_ready 1 30
	run ready_reason 1
	assert_output --regexp "^accepting on fd 3( via (select|poll|epoll))?\$"
	pid1=$(generation_pid 1)
	gunicorn_answers_from "$pid1"
	kill -HUP "$GR_PID"
	held_past_timer 2
	gunicorn_answers_from "$pid1"
	gate 2
	wait_ready 2 30
	run ready_reason 2
	assert_output --regexp "^accepting on fd 3( via (select|poll|epoll))?\$"
	pid2=$(generation_pid 2)
	wait_for_line "$T/gr.err" "generation 1 \(pid $pid1\) exited 0 after draining" 40
	gunicorn_answers_from "$pid2"
}

@test "gunicorn as a new user runs it: its early READY=1 waits until a worker accepts" {
	command -v gunicorn >/dev/null || skip "gunicorn is not installed"
	local pid1 pid2
	port=$(free_port)
	gate 1
	# NOTIFY_SOCKET offered, as by default: the arbiter says READY=1 as
	# soon as it has booted, before its workers have imported the app.
	SLOWAPP_DIR=$T start_gr -l "127.0.0.1:$port" -- \
		gunicorn --workers 2 --chdir "$HELPERS_SRC" --graceful-timeout 10 \
		slowapp:app
	wait_ready 1 30
	pid1=$(generation_pid 1)
	retry_until 20 http_get "$port" >/dev/null
	gunicorn_answers_from "$pid1"
	kill -HUP "$GR_PID"
	wait_for_line "$T/gr.err" "generation 2 \(pid [0-9]+\) said READY=1 but does not accept yet: waiting until it does" 30
	held_past_timer 2
	gunicorn_answers_from "$pid1"
	gate 2
	wait_ready 2 30
	run ready_reason 2
	assert_output "READY=1"
	pid2=$(generation_pid 2)
	wait_for_line "$T/gr.err" "generation 1 \(pid $pid1\) exited 0 after draining" 40
	gunicorn_answers_from "$pid2"
}

# udp_ask PORT: one datagram's answer from the UDP server.
udp_ask() {
	python3 -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(10)
s.sendto(b"?", ("127.0.0.1", int(sys.argv[1])))
print(s.recv(512).decode().split()[0][4:].lstrip("0"))' "$1"
}

@test "a datagram server: ready once it waits in recvfrom on the socket" {
	local pid1
	port=$(free_port)
	gate 1
	start_gr -l "udp:127.0.0.1:$port" -- python3 "$HELPERS_SRC/udp-server.py" "$T"
	wait_ready 1
	run ready_reason 1
	assert_output "receiving on fd 3"
	pid1=$(generation_pid 1)
	kill -HUP "$GR_PID"
	held_past_timer 2
	assert_equal "$(udp_ask "$port")" "$pid1"
	gate 2
	wait_ready 2
	run ready_reason 2
	assert_output "receiving on fd 3"
}

@test "--ready accepting: ready once seen accepting; no channel offered" {
	local pid
	port=$(free_port)
	start_gr -l "127.0.0.1:$port" --ready accepting -- "$GR_HELPERS/httpd"
	wait_ready 1
	run ready_reason 1
	assert_output "accepting on fd 3 via poll"
	pid=$(generation_pid 1)
	run tr '\0' '\n' <"/proc/$pid/environ"
	refute_output --partial NOTIFY_SOCKET
	refute_output --partial GRACEFUL_RUN_READY_FD
}

@test "--ready accepting: a child that never accepts fails at --ready-timeout" {
	local pid
	port=$(free_port)
	start_gr -l "127.0.0.1:$port" --ready accepting --ready-timeout 2s -- \
		sh -c 'exec sleep 1000'
	wait_gr_exit 20
	assert_equal "$GR_STATUS" 137
	pid=$(generation_pid 1)
	run grep -E "generation 1 \(pid $pid\) not ready within 2.00s" "$T/gr.err"
	assert_success
	run grep -c 'ready in' "$T/gr.err"
	assert_output 0
}

# A server that makes itself non-dumpable first: a graceful-run that is not
# root may then not read its /proc/PID/fd, syscall or mem.
UNDUMPABLE='import ctypes, socket
ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE, 0
s = socket.socket(fileno=3)
while True:
    s.accept()[0].close()'

# start_gr_as_nobody [OPTION]...: start_gr, graceful-run running as nobody.
start_gr_as_nobody() {
	setpriv --reuid=nobody --regid=nogroup --clear-groups \
		"$GR_BIN" "$@" >"$T/gr.out" 2>"$T/gr.err" 3>&- &
	GR_PID=$!
}

can_run_as_nobody() {
	[ "$(id -u)" = 0 ] || skip "needs root to run graceful-run as nobody"
	command -v setpriv >/dev/null || skip "setpriv is not installed"
	getent group nogroup >/dev/null || skip "no group nogroup"
}

@test "cannot see (graceful-run not root, a non-dumpable child): said once; the auto timer decides" {
	can_run_as_nobody
	local pid1
	port=$(free_port)
	start_gr_as_nobody -l "127.0.0.1:$port" --ready auto:3s -- \
		python3 -c "$UNDUMPABLE"
	wait_ready 1 20
	pid1=$(generation_pid 1)
	run grep -E "generation 1: cannot see whether it accepts \(/proc/$pid1/[a-z/0-9]+: Permission denied\); unless it notifies, it is ready once alive 3.00s" "$T/gr.err"
	assert_success
	run ready_reason 1
	assert_output "silent and alive"
	reload_to 2
	run ready_reason 2
	assert_output "silent and alive"
	run grep -c 'cannot see' "$T/gr.err"
	assert_output 1
}

@test "cannot see, with --ready accepting: said, and the generation fails at --ready-timeout" {
	can_run_as_nobody
	port=$(free_port)
	start_gr_as_nobody -l "127.0.0.1:$port" --ready accepting \
		--ready-timeout 3s -- python3 -c "$UNDUMPABLE"
	wait_gr_exit 20
	assert_equal "$GR_STATUS" 137
	run grep -E 'generation 1: cannot see whether it accepts \(.*Permission denied\); --ready accepting cannot tell' "$T/gr.err"
	assert_success
	run grep -E 'generation 1 \(pid [0-9]+\) not ready within 3.00s' "$T/gr.err"
	assert_success
}

@test "cannot see (a /proc of another pid namespace): said once; the auto timer decides" {
	[ "$(id -u)" = 0 ] || skip "needs root for a pid namespace"
	unshare --pid --fork --kill-child true 2>/dev/null ||
		skip "cannot make a pid namespace here"
	port=$(free_port)
	# Its log is not gr.err: the pids in it are the namespace's, and the
	# shared teardown must not kill those numbers out here.
	HTTPD_READY=none unshare --pid --fork --kill-child "$GR_BIN" \
		-l "127.0.0.1:$port" -- "$GR_HELPERS/httpd" \
		>"$T/ns.out" 2>"$T/ns.err" 3>&- &
	GR_PID=$!
	wait_for_line "$T/ns.err" 'generation 1 \(pid [0-9]+\) ready in [0-9.]+s \(silent and alive\)'
	run grep -c 'generation 1: cannot see whether it accepts (/proc is of another pid namespace)' "$T/ns.err"
	assert_output 1
	run http_get "$port"
	assert_success
}
