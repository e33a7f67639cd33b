# Shared by every test/*.bats: per-test temp dir, free ports, starting
# graceful-run in the background, waiting on events, and a teardown that
# kills everything a test started.

bats_require_minimum_version 1.5.0
load /usr/lib/bats/bats-support/load.bash
load /usr/lib/bats/bats-assert/load.bash

: "${GR_BIN:?run the tests through make check}"
: "${GR_HELPERS:?run the tests through make check}"
: "${GR_SRCDIR:?run the tests through make check}"
HELPERS_SRC="$GR_SRCDIR/test/helpers"

setup() {
	T=$(mktemp -d "${BATS_TMPDIR:-/tmp}/gr-test.XXXXXX")
	GR_PID=
	# graceful-run makes its notify directory here, so one a teardown
	# had to SIGKILL goes with $T instead of piling up in /tmp.
	mkdir "$T/tmp"
	export TMPDIR="$T/tmp"
	unset XDG_RUNTIME_DIR
}

teardown() {
	local pid pg
	if [ -n "$GR_PID" ] && kill -0 "$GR_PID" 2>/dev/null; then
		kill -KILL "$GR_PID" 2>/dev/null || true
	fi
	# Every generation is its own process group: kill what is left of each.
	for pg in $(generation_pids); do
		kill -KILL -- "-$pg" 2>/dev/null || true
	done
	for pid in $(cat "$T"/*.pid 2>/dev/null); do
		kill -KILL "$pid" 2>/dev/null || true
	done
	rm -rf "$T"
}

# The pids of every generation the current wrapper logged as started.
generation_pids() {
	sed -n 's/.*generation [0-9]* (pid \([0-9]*\)) started.*/\1/p' \
		"$T/gr.err" 2>/dev/null
}

generation_pid() {
	sed -n "s/.*generation $1 (pid \\([0-9]*\\)) started.*/\\1/p" \
		"$T/gr.err" 2>/dev/null
}

free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# Start graceful-run in the background: stdout/stderr in $T/gr.out and
# $T/gr.err, its pid in GR_PID.
#
# bats waits until every holder of its fd 3 (its TAP output) has closed
# it, so anything a test leaves running must not hold it: other background
# commands here get "3>&-". graceful-run needs none: it closes every fd it
# inherits past stderr first thing, and its children never get them.
start_gr() {
	# Gone first: a wait on them must not see the last wrapper's lines.
	rm -f "$T/gr.out" "$T/gr.err"
	"$GR_BIN" "$@" >"$T/gr.out" 2>"$T/gr.err" &
	GR_PID=$!
}

# ignoring SIG[,SIG]... CMD...: exec CMD with those signals ignored and,
# with BLOCKING=SIG[,SIG]..., those blocked, as a careless parent leaves
# them. 32 and 33, which the C library keeps for itself, are set with the
# raw system call (x86_64 and arm64; elsewhere left as they are). It
# replaces the shell that runs it: for "ignoring ... &" only.
ignoring() {
	exec python3 -c 'import ctypes, os, platform, signal, sys
def sigs(text):
    return [getattr(signal, "SIG" + n) for n in text.split(",")
            if n and not n.isdigit()]
def raw_ignore(signo):
    nr = {"x86_64": 13, "aarch64": 134}.get(platform.machine())
    if nr is not None:
        act = (ctypes.c_ulong * 4)(1, 0, 0, 0)  # SIG_IGN, no flags
        ctypes.CDLL(None, use_errno=True).syscall(nr, signo, act, None, 8)
for s in sigs(sys.argv[1]):
    signal.signal(s, signal.SIG_IGN)
for n in sys.argv[1].split(","):
    if n.isdigit():
        raw_ignore(int(n))
signal.pthread_sigmask(signal.SIG_BLOCK, sigs(os.environ.get("BLOCKING", "")))
os.execvp(sys.argv[2], sys.argv[2:])' "$@"
}

# start_gr_ignoring SIG[,SIG]... ARGS...: start_gr, with those signals
# ignored (and BLOCKING ones blocked) when graceful-run starts.
start_gr_ignoring() {
	local sigs=$1
	shift
	rm -f "$T/gr.out" "$T/gr.err"
	ignoring "$sigs" "$GR_BIN" "$@" >"$T/gr.out" 2>"$T/gr.err" &
	GR_PID=$!
}

# wait_for_line FILE REGEX [SECONDS]: wait until FILE has a line matching
# REGEX; fail fast, with the file shown, if graceful-run died first.
wait_for_line() {
	local file=$1 re=$2 limit=${3:-20} i=0
	while ! grep -Eq -- "$re" "$file" 2>/dev/null; do
		if [ -n "$GR_PID" ] && ! kill -0 "$GR_PID" 2>/dev/null &&
			! grep -Eq -- "$re" "$file" 2>/dev/null; then
			echo "graceful-run died before \"$re\" showed in $file" >&2
			cat "$T/gr.err" >&2
			return 1
		fi
		if [ $i -ge $((limit * 20)) ]; then
			echo "timed out waiting for \"$re\" in $file" >&2
			cat "$file" >&2
			echo "--- gr.err" >&2
			cat "$T/gr.err" >&2
			return 1
		fi
		sleep 0.05
		i=$((i + 1))
	done
}

# retry_until SECONDS CMD...: run CMD every 50 ms until it succeeds; fail
# once SECONDS have passed.
retry_until() {
	local limit=$1 i=0
	shift
	until "$@"; do
		[ $((i += 1)) -le $((limit * 20)) ] || return 1
		sleep 0.05
	done
}

has_lines() { # FILE REGEX N
	[ "$(grep -Ec -- "$2" "$1" 2>/dev/null)" -ge "$3" ]
}

# wait_for_count FILE REGEX N [SECONDS]: until N lines match.
wait_for_count() {
	retry_until "${4:-20}" has_lines "$1" "$2" "$3" && return
	echo "timed out waiting for $3 \"$2\" in $1" >&2
	cat "$1" >&2
	return 1
}

# running PID: alive and not a zombie.
running() {
	kill -0 "$1" 2>/dev/null && ps -o stat= -p "$1" 2>/dev/null | grep -qv Z
}

not() { ! "$@"; }

# wait_gr_exit [SECONDS]: wait for graceful-run to exit; its status in
# GR_STATUS. Fails if it is still running after SECONDS.
wait_gr_exit() {
	if ! retry_until "${1:-20}" not running "$GR_PID"; then
		echo "graceful-run still running after ${1:-20}s" >&2
		cat "$T/gr.err" >&2
		echo "--- its children and what is left of each generation:" >&2
		ps -o pid,ppid,pgid,stat,args --ppid "$GR_PID" >&2
		ps -o pid,ppid,pgid,stat,args -g "$(generation_pids | paste -sd,)" >&2
		return 1
	fi
	GR_STATUS=0
	wait "$GR_PID" || GR_STATUS=$?
}

# wait_gone PID [SECONDS]: until the process is gone (or a zombie).
wait_gone() {
	retry_until "${2:-20}" not running "$1" && return
	echo "pid $1 still running after ${2:-20}s" >&2
	return 1
}

# wait_port_free PORT: until nothing listens on 127.0.0.1:PORT.
port_listening() {
	ss -Htln "sport = :$1" | grep -q .
}

http_get() {
	curl -fsS --max-time 20 "http://127.0.0.1:$1${2:-/}"
}

# --- reload, readiness and load tests -------------------------------------

# make_httpd_script: write $T/srv, a command that runs httpd with the knobs
# httpd_knobs set for its generation, logging to $T/httpd-N.log (N being
# GRACEFUL_RUN_GENERATION), so each generation can behave differently.
make_httpd_script() {
	cat >"$T/srv" <<SCRIPT
#!/bin/sh
knobs="$T/knobs-\$GRACEFUL_RUN_GENERATION"
if [ -f "\$knobs" ]; then
	set -a
	. "\$knobs"
	set +a
fi
HTTPD_LOG="$T/httpd-\$GRACEFUL_RUN_GENERATION.log"
export HTTPD_LOG
exec "$GR_HELPERS/httpd" "\$@"
SCRIPT
	chmod +x "$T/srv"
}

# httpd_knobs N VAR=VALUE...: the environment of generation N of $T/srv.
httpd_knobs() {
	local n=$1
	shift
	printf '%s\n' "$@" >"$T/knobs-$n"
}

# wait_ready N [SECONDS]: until graceful-run logs generation N ready.
wait_ready() {
	wait_for_line "$T/gr.err" "generation $1 \(pid [0-9]+\) ready in" "${2:-20}"
}

# reload_to N [SECONDS]: HUP graceful-run and wait for generation N ready.
reload_to() {
	kill -HUP "$GR_PID"
	wait_ready "$@"
}

# body_pid: the pid in an httpd response body read on stdin.
body_pid() {
	sed -n 's/^pid=0*\([0-9][0-9]*\) gen=[0-9]*$/\1/p'
}

# served_by PORT: the pid of the httpd answering a fresh request.
served_by() {
	http_get "$1" | body_pid
}

# listen_inode PORT: the inode of the socket listening on 127.0.0.1:PORT.
listen_inode() {
	ss -Htlne "sport = :$1" | sed -n 's/.* ino:\([0-9]*\) .*/\1/p'
}

# wait_accepted PID PORT [SECONDS]: until process PID holds an established
# connection on local PORT (it has accepted it).
has_accepted() { # PID PORT
	ss -Htnp state established "( sport = :$2 )" | grep -q "pid=$1,"
}
wait_accepted() {
	retry_until "${3:-20}" has_accepted "$1" "$2" && return
	echo "pid $1 accepted no connection on $2" >&2
	ss -Htnp "( sport = :$2 )" >&2
	return 1
}

# no_line_for FILE REGEX SECONDS: fail if FILE gets a line matching REGEX
# within SECONDS (for "nothing else happens" checks).
no_line_for() {
	local file=$1 re=$2 limit=$3 i=0
	while [ $i -lt $((limit * 20)) ]; do
		if grep -Eq -- "$re" "$file" 2>/dev/null; then
			echo "unexpected \"$re\" in $file:" >&2
			cat "$file" >&2
			return 1
		fi
		sleep 0.05
		i=$((i + 1))
	done
}

# wait_reaped PID [SECONDS]: until PID no longer exists, not even as a zombie.
wait_reaped() {
	retry_until "${2:-20}" not kill -0 "$1" 2>/dev/null && return
	echo "pid $1 still exists after ${2:-20}s:" >&2
	ps -o pid,ppid,stat,args -p "$1" >&2
	return 1
}

# wait_group_gone PGID [SECONDS]: until no process is left in the group.
wait_group_gone() {
	retry_until "${2:-20}" not kill -0 -- "-$1" 2>/dev/null && return
	echo "process group $1 still has members after ${2:-20}s:" >&2
	ps -o pid,pgid,stat,args -g "$1" >&2
	return 1
}

# start_srv [OPTION]...: graceful-run on a fresh $port running $T/srv
# (httpd with per-generation knobs); waits for generation 1 to be ready,
# whose pid is then $pid1.
start_srv() {
	port=$(free_port)
	make_httpd_script
	start_gr -l "127.0.0.1:$port" "$@" -- "$T/srv"
	wait_ready 1
	pid1=$(generation_pid 1)
}

# start_http_loop PORT: request http://127.0.0.1:PORT/ over and over, one
# new connection each, until stop_http_loop. One line per request is
# appended to $T/loop.out: "STATUS PID GEN SECONDS", or "ERR WHAT SECONDS".
# Tests may append their own marker lines to $T/loop.out meanwhile.
start_http_loop() {
	python3 -c '
import http.client, os, sys, time
port, out, stop = int(sys.argv[1]), sys.argv[2], sys.argv[3]
f = open(out, "a", buffering=1)
while not os.path.exists(stop):
    t = time.monotonic()
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        c.request("GET", "/", headers={"Connection": "close"})
        r = c.getresponse()
        body = r.read().decode(errors="replace").split()
        c.close()
        pid = body[0][4:].lstrip("0") if len(body) == 2 else "?"
        gen = body[1][4:].lstrip("0") if len(body) == 2 else "?"
        f.write("%d %s %s %.3f\n" % (r.status, pid, gen, time.monotonic() - t))
    except Exception as e:
        f.write("ERR %s %.3f\n" % (type(e).__name__, time.monotonic() - t))
' "$1" "$T/loop.out" "$T/loop.stop" 3>&- &
	echo $! >"$T/loop.pid"
}

# stop_http_loop: stop the request loop and wait for it to finish.
stop_http_loop() {
	touch "$T/loop.stop"
	wait "$(cat "$T/loop.pid")" || true
}

# ctx_switches: how often graceful-run has been scheduled so far.
ctx_switches() {
	awk '/ctxt_switches/ { n += $2 } END { print n }' "/proc/$GR_PID/status"
}

# start_with_sleeper [OPTION]...: graceful-run on a fresh $port running
# httpd, whose first generation leaves a helper in its process group that
# ignores TERM ("sleep 1000", pid in $T/sleeper.pid); waits for generation
# 1 to be ready, whose pid is then $pid1.
start_with_sleeper() {
	port=$(free_port)
	start_gr -l "127.0.0.1:$port" "$@" -- \
		sh -c 'if [ "$GRACEFUL_RUN_GENERATION" = 1 ]; then
				trap "" TERM
				sleep 1000 &
				echo $! >"$1/sleeper.pid"
				trap - TERM
			fi
			exec "$0"' "$GR_HELPERS/httpd" "$T"
	wait_ready 1
	pid1=$(generation_pid 1)
}
