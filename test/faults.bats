#!/usr/bin/env bats
# Faults from outside: too few fds, fork failing, no stderr, no writable
# temp dir. Each: one clear line, the right exit status, the old generation
# still serving where a reload is involved, and nothing left behind.

load helpers/common

# unix_specs N: -l options for N unix sockets in $T (no port to collide).
unix_specs() {
	local i
	for i in $(seq "$1"); do
		printf -- '-l\nunix:%s/s%d\n' "$T" "$i"
	done
}

# nothing_left: no socket file and no notify directory in $T.
nothing_left() {
	run find "$T" -name 's[0-9]*' -o -name 'graceful-run.*'
	assert_output ""
}

@test "an fd limit too low for the sockets fails at start, with one line" {
	local specs
	mapfile -t specs < <(unix_specs 4)
	run --separate-stderr bash -c 'ulimit -n 16; exec "$@"' _ \
		"$GR_BIN" "${specs[@]}" -- "$HELPERS_SRC/probe-child"
	assert_equal "$status" 125
	assert_equal "${#stderr_lines[@]}" 1
	assert_regex "$stderr" '^graceful-run\[[0-9]+\]: fd limit too low for 4 sockets: graceful-run needs 21, the limit \(ulimit -n\) is 16$'
	assert_equal "$output" ""
	nothing_left
}

# The count is what a reload needs at its peak: with exactly that many,
# the first generation starts and a reload succeeds.
@test "with the fd limit it asks for, it starts and reloads" {
	local specs
	mapfile -t specs < <(unix_specs 4)
	PROBE_LOG="$T/probe.log" bash -c 'ulimit -n 21; exec "$@"' _ \
		"$GR_BIN" "${specs[@]}" -- "$HELPERS_SRC/probe-child" \
		>"$T/gr.out" 2>"$T/gr.err" 3>&- &
	GR_PID=$!
	wait_ready 1
	reload_to 2
	wait_for_line "$T/gr.err" 'generation 1 \(pid [0-9]+\) exited 0 after draining'
	run grep -c 'Too many open files' "$T/gr.err"
	assert_output 0
	kill -TERM "$GR_PID"
	wait_gr_exit
	assert_equal "$GR_STATUS" 0
	nothing_left
}

# read_only_tmp ARGS...: run ARGS (exec'd, same pid) in a mount namespace
# where /tmp and /run are read-only but $T stays writable, with neither
# TMPDIR nor XDG_RUNTIME_DIR set: a hardened container.
read_only_tmp() {
	exec unshare --mount sh -c '
		t=$1
		shift
		mount --bind "$t" "$t" &&
			mount --rbind /tmp /tmp &&
			mount -o remount,bind,ro /tmp &&
			mount --bind /run /run &&
			mount -o remount,bind,ro /run || exit 99
		exec env -u TMPDIR -u XDG_RUNTIME_DIR "$@"' _ "$T" "$@"
}

@test "no writable temp dir: the children get the ready pipe alone, reloads work" {
	[ "$(id -u)" = 0 ] || skip "needs root for a mount namespace"
	unshare --mount true 2>/dev/null || skip "no mount namespaces here"
	port=$(free_port)
	make_httpd_script
	# The pipe only: httpd readies through NOTIFY_SOCKET when it is set.
	read_only_tmp "$GR_BIN" --ready notify -l "127.0.0.1:$port" -- "$T/srv" \
		>"$T/gr.out" 2>"$T/gr.err" 3>&- &
	GR_PID=$!
	wait_ready 1
	run grep -c 'no directory for notify sockets can be made (\$XDG_RUNTIME_DIR, \$TMPDIR, /run, /tmp): children get the ready pipe only' "$T/gr.err"
	assert_output 1
	run grep -c 'ready in .*(ready fd)' "$T/gr.err"
	assert_output 1
	reload_to 2
	run served_by "$port"
	assert_output "$(generation_pid 2)"
	# Said once for the wrapper's whole life, not at every spawn.
	run grep -c 'no directory for notify sockets' "$T/gr.err"
	assert_output 1
	kill -TERM "$GR_PID"
	wait_gr_exit
	assert_equal "$GR_STATUS" 0
	run ls -A "$T/tmp"
	assert_output ""
}
