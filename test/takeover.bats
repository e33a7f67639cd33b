#!/usr/bin/env bats
# --takeover: programs that bind their own ports (python3 -m http.server,
# node, a C server: test/helpers/selfbind) get graceful-run's socket from
# their own bind(), and reload under ab load (127.0.0.1 and ::1 only) with
# nothing lost; what can never work (a static program) is refused.

load helpers/common

# In the --enable-sanitizers build the C fixtures are ASan programs, and
# the preloaded library comes before the ASan runtime in their library list.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"

setup_file() {
	command -v ab >/dev/null || skip "ab (apache2-utils) missing"
}

# --- load and checks ------------------------------------------------------

# start_ab URL: ab, a new connection per request, in the background until
# stop_ab; -t bounds it should a test hang.
start_ab() {
	local name=ab${2:-}
	ab -r -c 8 -t 120 -n 1000000 "$1" >"$T/$name.out" 2>&1 3>&- &
	echo $! >"$T/$name.pid"
}

# stop_ab [SUFFIX]: SIGINT ab, which prints its report; assert it ran
# the whole time and completed requests, none refused and none non-2xx.
stop_ab() {
	local name=ab${1:-} pid
	pid=$(cat "$T/$name.pid")
	kill -INT "$pid" || fail "ab had stopped before the test was done"
	wait "$pid" || true
	run cat "$T/$name.out"
	assert_line --regexp '^Complete requests: +[1-9][0-9]*$'
	refute_output --regexp 'Connect: [1-9]'
	refute_output --partial 'Non-2xx'
}

# assert_ab_no_failed [SUFFIX]: and not one request failed.
assert_ab_no_failed() {
	run grep -E '^Failed requests:' "$T/ab${1:-}.out"
	assert_output --regexp '^Failed requests: +0$'
}

# start_gr_sigint ARG...: start_gr with SIGINT at its default disposition
# for graceful-run and so its children: bats starts background commands
# with SIGINT ignored, and graceful-run passes that on to its children.
start_gr_sigint() {
	env --default-signal=INT "$GR_BIN" "$@" >"$T/gr.out" 2>"$T/gr.err" 3>&- &
	GR_PID=$!
}

# answered_by PORT PID [PATH]: a request is answered by process PID (the
# body starts "pid=PID ").
answered_by() {
	http_get "$1" "${3:-/}" 2>/dev/null | grep -Eq "^pid=0*$2 "
}

# reload_20 PORT [PATH]: reloads to generations 2..21, each answering.
reload_20() {
	local n
	for n in $(seq 2 21); do
		reload_to "$n" 60
		retry_until 30 answered_by "$1" "$(generation_pid "$n")" "${2:-}" ||
			fail "generation $n never answered on port $1"
	done
}

# assert_shared PORT PID...: one socket listens on PORT (any address), and
# graceful-run and every PID hold it.
assert_shared() {
	local port=$1 pid
	shift
	run ss -Htlnp "sport = :$port"
	assert_equal "${#lines[@]}" 1
	assert_output --partial "(\"graceful-run\",pid=$GR_PID,"
	for pid in "$@"; do
		assert_output --partial "\",pid=$pid,"
	done
}

# stop_and_check_clean PORT [PATH]: TERM; graceful-run exits 0 and leaves
# no process of any generation, no listening socket, no socket file.
stop_and_check_clean() {
	local pg
	kill -TERM "$GR_PID"
	wait_gr_exit 40
	assert_equal "$GR_STATUS" 0
	for pg in $(generation_pids); do
		wait_group_gone "$pg"
	done
	run port_listening "$1"
	assert_failure
	if [ -n "${2:-}" ]; then
		run test -e "$2"
		assert_failure
	fi
}

# make_selfbind_script: $T/srv execs selfbind with its arguments, httpd's
# log in $T/httpd-N.log. $T/knobs-N, if there, is sourced first: it may
# set SELFBIND to another program or change the arguments with "set --".
make_selfbind_script() {
	cat >"$T/srv" <<SCRIPT
#!/bin/sh
SELFBIND="$GR_HELPERS/selfbind"
knobs="$T/knobs-\$GRACEFUL_RUN_GENERATION"
[ -f "\$knobs" ] && . "\$knobs"
HTTPD_LOG="$T/httpd-\$GRACEFUL_RUN_GENERATION.log"
export HTTPD_LOG
exec "\$SELFBIND" --log="$T/selfbind.log" "\$@"
SCRIPT
	chmod +x "$T/srv"
}

# start_selfbind [GR-OPTION]... -- [SELFBIND-ARG]...: graceful-run
# --takeover on 127.0.0.1:$port running $T/srv; waits for generation 1.
start_selfbind() {
	local gr=()
	while [ "$1" != -- ]; do
		gr+=("$1")
		shift
	done
	shift
	port=$(free_port)
	make_selfbind_script
	# A test may start several: no line of the last one may count.
	rm -f "$T/gr.err" "$T/gr.out"
	start_gr --takeover -l "127.0.0.1:$port" "${gr[@]}" -- "$T/srv" "$@" \
		"127.0.0.1:$port"
	wait_ready 1
}

# bound_line PID: what selfbind logged about its bind in process PID.
bound_line() {
	grep " pid=$1 " "$T/selfbind.log"
}

# gr_socket_inode PORT: the inode of graceful-run's socket on PORT.
gr_socket_inode() {
	ss -Htlne "sport = :$1" | sed -n 's/.* ino:\([0-9]*\) .*/\1/p'
}

# One habit of a real server, then a reload: both generations get
# graceful-run's socket from their bind() and nothing else listens.
check_habit() {
	local pid1 pid2
	start_selfbind -- "$@"
	pid1=$(generation_pid 1)
	assert_shared "$port" "$pid1"
	run bound_line "$pid1"
	assert_output --partial " ino=$(gr_socket_inode "$port") "
	reload_to 2
	pid2=$(generation_pid 2)
	wait_reaped "$pid1"
	assert_shared "$port" "$pid2"
	retry_until 20 answered_by "$port" "$pid2"
	stop_and_check_clean "$port"
}

# --- real programs under load ---------------------------------------------

# http.server has no graceful stop: INT (KeyboardInterrupt) makes it finish
# the requests it is handling (TERM kills them), but one it accepted in the
# instant INT arrives is dropped, a few times in 20 reloads under ab. So
# this proves no connection is ever refused and each reload serves; the
# zero-loss proof is the node and C servers' below, which drain.
@test "python3 -m http.server binds its own port: 20 reloads under ab, none refused" {
	port=$(free_port)
	# Each generation serves its own directory with a file naming its pid.
	cat >"$T/srv" <<-SCRIPT
	#!/bin/sh
	dir="$T/www-\$GRACEFUL_RUN_GENERATION"
	mkdir -p "\$dir" && cd "\$dir" || exit 1
	echo "pid=\$\$ gen=\$GRACEFUL_RUN_GENERATION" >pid
	exec python3 -m http.server $port --bind 127.0.0.1 \
		2>"$T/python-\$GRACEFUL_RUN_GENERATION.log"
	SCRIPT
	chmod +x "$T/srv"
	start_gr_sigint --takeover --stop-signal INT -l "127.0.0.1:$port" -- \
		"$T/srv"
	wait_ready 1
	retry_until 20 answered_by "$port" "$(generation_pid 1)" /pid
	assert_shared "$port" "$(generation_pid 1)"
	start_ab "http://127.0.0.1:$port/"
	reload_20 "$port" /pid
	stop_ab
	assert_shared "$port" "$(generation_pid 21)"
	run grep -Ec 'reload failed|exited with status' "$T/gr.err"
	assert_output 0
	stop_and_check_clean "$port"
}

@test "without --takeover, a first generation that binds the port itself fails, with a hint" {
	port=$(free_port)
	start_gr -l "127.0.0.1:$port" -- python3 -m http.server "$port" \
		--bind 127.0.0.1
	wait_gr_exit
	assert_equal "$GR_STATUS" 1
	grep -q 'Address already in use' "$T/gr.err"
	run grep 'hint:' "$T/gr.err"
	assert_output --partial "run it with --takeover"
}

@test "the README's http.server command line, unchanged, reloads" {
	port=$(free_port)
	start_gr_sigint --takeover --stop-signal INT -l "127.0.0.1:$port" -- \
		python3 -m http.server "$port" --bind 127.0.0.1
	wait_ready 1
	run http_get "$port"
	assert_success
	assert_shared "$port" "$(generation_pid 1)"
	reload_to 2
	wait_for_line "$T/gr.err" 'generation 1 \(pid [0-9]+\) exited 0 after draining'
	assert_shared "$port" "$(generation_pid 2)"
	run http_get "$port"
	assert_success
	stop_and_check_clean "$port"
}

@test "node's listen(PORT, '127.0.0.1'): 20 reloads under ab, nothing lost" {
	command -v node >/dev/null || skip "node missing"
	port=$(free_port)
	# A short silence is enough: until the new node binds, connections wait
	# in the shared socket's queue, not refused.
	start_gr --takeover --ready auto:250ms -l "127.0.0.1:$port" -- \
		node "$HELPERS_SRC/node-server.js" "$port"
	wait_ready 1
	retry_until 20 answered_by "$port" "$(generation_pid 1)"
	assert_shared "$port" "$(generation_pid 1)"
	start_ab "http://127.0.0.1:$port/"
	reload_20 "$port"
	stop_ab
	assert_ab_no_failed
	assert_shared "$port" "$(generation_pid 21)"
	run grep -Ec 'reload failed|exited with status' "$T/gr.err"
	assert_output 0
	stop_and_check_clean "$port"
}

@test "a C server binding v4, [::1] and a unix path itself: 20 reloads under load, nothing lost" {
	local sock="$T/app.sock" n
	port=$(free_port)
	make_selfbind_script
	# --unlink: it removes its socket file before bind, as C servers do.
	start_gr --takeover -l "127.0.0.1:$port" -l "[::1]:$port" \
		-l "unix:$sock" -- "$T/srv" --unlink "127.0.0.1:$port" \
		"[::1]:$port" "unix:$sock"
	wait_ready 1
	start_ab "http://127.0.0.1:$port/" 4
	start_ab "http://[::1]:$port/" 6
	(while [ ! -e "$T/unix.stop" ]; do
		curl -sS --max-time 20 --unix-socket "$sock" -o /dev/null \
			-w '%{http_code}\n' http://localhost/ || echo ERR
	done >"$T/unix.out" 2>&1) 3>&- &
	echo $! >"$T/unix.pid"
	reload_20 "$port"
	touch "$T/unix.stop"
	wait "$(cat "$T/unix.pid")"
	stop_ab 4
	assert_ab_no_failed 4
	stop_ab 6
	assert_ab_no_failed 6
	run grep -vc '^200$' "$T/unix.out"
	assert_output 0
	has_lines "$T/unix.out" '^200$' 1
	n=$(generation_pid 21)
	run curl -fsS --max-time 20 --unix-socket "$sock" http://localhost/
	assert_output --regexp "^pid=0*$n "
	run curl -fsS --max-time 20 -g "http://[::1]:$port/"
	assert_output --regexp "^pid=0*$n "
	run bound_line "$n"
	assert_line --partial "bound unix:$sock pid=$n "
	assert_line --regexp "bound \[::1\]:$port pid=$n .* name=::1$"
	run grep -Ec 'reload failed|exited with status' "$T/gr.err"
	assert_output 0
	stop_and_check_clean "$port" "$sock"
}

# --- refusals ----------------------------------------------------------

@test "a statically linked command is refused at start: one line, 125, nothing bound" {
	[ -x "$GR_HELPERS/selfbind-static" ] || skip "no static linking here"
	port=$(free_port)
	run -125 "$GR_BIN" --takeover -l "127.0.0.1:$port" -- \
		"$GR_HELPERS/selfbind-static" "127.0.0.1:$port"
	assert_equal "${#lines[@]}" 1
	assert_output --regexp "^graceful-run\[[0-9]+\]: --takeover: .*/selfbind-static is statically linked"
	run port_listening "$port"
	assert_failure
}

@test "a generation that runs without the library (a script execs a static server) is a failed reload" {
	[ -x "$GR_HELPERS/selfbind-static" ] || skip "no static linking here"
	local other
	other=$(free_port)
	# Generation 1 notifies, so generation 2 is waited for until it does.
	start_selfbind --ready-timeout 3s --
	# Generation 2 binds a port of its own and sits silently on it.
	printf 'SELFBIND=%s\nset -- --pause 127.0.0.1:%s\n' \
		"$GR_HELPERS/selfbind-static" "$other" >"$T/knobs-2"
	kill -HUP "$GR_PID"
	wait_for_line "$T/gr.err" "reload failed: generation 2 \(pid [0-9]+\) runs without the --takeover library \(statically linked\?\); generation 1 still serving"
	wait_reaped "$(generation_pid 2)"
	run port_listening "$other"
	assert_failure
	run served_by "$port"
	assert_output "$(generation_pid 1)"
	stop_and_check_clean "$port"
}

@test "--takeover without the library, or without -l: one line and 125" {
	GRACEFUL_RUN_TAKEOVER_LIBRARY=$T/none.so run -125 "$GR_BIN" \
		--takeover -l "127.0.0.1:$(free_port)" -- true
	assert_output --regexp "^graceful-run\[[0-9]+\]: --takeover: $T/none.so: No such file or directory$"
	run -125 "$GR_BIN" --takeover -- true
	assert_output --regexp "^graceful-run\[[0-9]+\]: --takeover: no sockets to hand over"
}

# --- only what graceful-run holds -----------------------------------------

@test "a bind of an address graceful-run does not hold gets the program's own socket; -v says so once" {
	local other
	other=$(free_port)
	start_selfbind -v -- "127.0.0.1:$other"
	local pid1
	pid1=$(generation_pid 1)
	# Its own socket, held by the child alone.
	run ss -Htlnp "sport = :$other"
	assert_equal "${#lines[@]}" 1
	refute_output --partial graceful-run
	assert_output --partial "pid=$pid1,"
	assert_shared "$port" "$pid1"
	run grep takeover "$T/gr.err"
	assert_output --regexp "^graceful-run takeover\[$pid1\]: bind 127.0.0.1:$other \(fd [0-9]+\): not an address graceful-run holds; the program binds a socket of its own$"
	stop_and_check_clean "$port"
}

@test "without -v the library writes nothing" {
	local other
	other=$(free_port)
	start_selfbind -- "127.0.0.1:$other"
	run grep -c takeover "$T/gr.err" "$T/gr.out"
	assert_output "$T/gr.err:0
$T/gr.out:0"
	stop_and_check_clean "$port"
}

# --- habits of real servers -----------------------------------------------

@test "SO_REUSEPORT set before bind: still graceful-run's socket, not a second one" {
	port=$(free_port)
	make_selfbind_script
	start_gr --takeover -l "127.0.0.1:$port,reuseport" -- "$T/srv" \
		--reuseport "127.0.0.1:$port"
	wait_ready 1
	assert_shared "$port" "$(generation_pid 1)"
	reload_to 2
	wait_reaped "$(generation_pid 1)"
	assert_shared "$port" "$(generation_pid 2)"
	stop_and_check_clean "$port"
}

@test "close and bind again" {
	check_habit --rebind
}

@test "close every fd at start, as daemons do (close loop, closefrom, close_range)" {
	check_habit --close-all=loop
	check_habit --close-all=closefrom
	check_habit --close-all=range
}

@test "every fd marked close-on-exec at start, as node does" {
	check_habit --cloexec-all
}

@test "workers forked after bind all serve graceful-run's socket" {
	local w1 w2
	start_selfbind -- --workers=3
	wait_for_count "$T/httpd-1.log" '^ready ' 3
	w1=$(sed -n 's/^ready gen=1 pid=\([0-9]*\)$/\1/p' "$T/httpd-1.log")
	assert_shared "$port" $w1
	reload_to 2
	wait_for_count "$T/httpd-2.log" '^ready ' 3
	w2=$(sed -n 's/^ready gen=2 pid=\([0-9]*\)$/\1/p' "$T/httpd-2.log")
	for pid in $w1; do
		wait_reaped "$pid"
	done
	assert_shared "$port" $w2
	stop_and_check_clean "$port"
}

@test "the close-on-exec and O_NONBLOCK the program asked for are kept" {
	start_selfbind -- --nonblock
	run bound_line "$(generation_pid 1)"
	assert_output --regexp " cloexec=1 nonblock=1 "
	# O_NONBLOCK is the socket's, shared: graceful-run's fd has it now.
	local fd
	fd=$(ls -l "/proc/$GR_PID/fd" | sed -n "s/.* \([0-9]*\) -> socket:\[$(gr_socket_inode "$port")\]$/\1/p")
	run grep '^flags:' "/proc/$GR_PID/fdinfo/$fd"
	assert_output --regexp '^flags:.*[4567][0-7]{3}$'
	# A generation that asks for a blocking, inheritable socket gets one.
	echo 'set -- --inherit 127.0.0.1:'"$port" >"$T/knobs-2"
	reload_to 2
	run bound_line "$(generation_pid 2)"
	assert_output --regexp " cloexec=0 nonblock=0 "
	run grep '^flags:' "/proc/$GR_PID/fdinfo/$fd"
	assert_output --regexp '^flags:.*[0-3][0-7]{3}$'
	stop_and_check_clean "$port"
}

@test "IPv4 wildcard bind on the dual-stack [::] socket of -l :PORT; getsockname tells the truth" {
	port=$(free_port)
	make_selfbind_script
	start_gr --takeover -l ":$port" -- "$T/srv" "0.0.0.0:$port"
	wait_ready 1
	assert_shared "$port" "$(generation_pid 1)"
	run bound_line "$(generation_pid 1)"
	assert_output --regexp " name=::$"
	run curl -fsS --max-time 20 -g "http://[::1]:$port/"
	assert_output --regexp "^pid=0*$(generation_pid 1) "
	run http_get "$port"
	assert_output --regexp "^pid=0*$(generation_pid 1) "
	stop_and_check_clean "$port"
}

@test "IPV6_V6ONLY toggled before bind: [::] still gets the dual-stack socket" {
	port=$(free_port)
	make_selfbind_script
	start_gr --takeover -l ":$port" -- "$T/srv" --v6only=toggle "[::]:$port"
	wait_ready 1
	assert_shared "$port" "$(generation_pid 1)"
	reload_to 2
	wait_reaped "$(generation_pid 1)"
	assert_shared "$port" "$(generation_pid 2)"
	run http_get "$port"
	assert_output --regexp "^pid=0*$(generation_pid 2) "
	stop_and_check_clean "$port"
}
