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
# $T/gr.err, its pid in GR_PID. bats' own fd 3 is not passed on.
start_gr() {
	"$GR_BIN" "$@" >"$T/gr.out" 2>"$T/gr.err" 3>&- &
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

# wait_for_count FILE REGEX N [SECONDS]: until N lines match.
wait_for_count() {
	local file=$1 re=$2 n=$3 limit=${4:-20} i=0
	while [ "$(grep -Ec -- "$re" "$file" 2>/dev/null)" -lt "$n" ]; do
		if [ $i -ge $((limit * 20)) ]; then
			echo "timed out waiting for $n \"$re\" in $file" >&2
			cat "$file" >&2
			return 1
		fi
		sleep 0.05
		i=$((i + 1))
	done
}

# wait_gr_exit [SECONDS]: wait for graceful-run to exit; its status in
# GR_STATUS. Fails if it is still running after SECONDS.
wait_gr_exit() {
	local limit=${1:-20} i=0
	while kill -0 "$GR_PID" 2>/dev/null; do
		if ! ps -o stat= -p "$GR_PID" | grep -qv Z; then
			break
		fi
		if [ $i -ge $((limit * 20)) ]; then
			echo "graceful-run still running after ${limit}s" >&2
			cat "$T/gr.err" >&2
			return 1
		fi
		sleep 0.05
		i=$((i + 1))
	done
	GR_STATUS=0
	wait "$GR_PID" || GR_STATUS=$?
}

# wait_gone PID [SECONDS]: until the process is gone (or a zombie).
wait_gone() {
	local pid=$1 limit=${2:-20} i=0
	while kill -0 "$pid" 2>/dev/null &&
		ps -o stat= -p "$pid" 2>/dev/null | grep -qv Z; do
		if [ $i -ge $((limit * 20)) ]; then
			echo "pid $pid still running after ${limit}s" >&2
			return 1
		fi
		sleep 0.05
		i=$((i + 1))
	done
}

# wait_port_free PORT: until nothing listens on 127.0.0.1:PORT.
port_listening() {
	ss -Htln "sport = :$1" | grep -q .
}

http_get() {
	curl -fsS --max-time 20 "http://127.0.0.1:$1${2:-/}"
}
