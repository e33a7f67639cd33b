#!/usr/bin/env bats
# Faults from outside: too few fds, fork failing, no stderr, no writable
# temp dir. Each: one clear line, the right exit status, the old generation
# still serving where a reload is involved, and nothing left behind.

load helpers/common

# The common teardown, then the cgroup a test made, once its processes
# are gone (they leave it when they exit, zombie or not).
eval "common_$(declare -f teardown)"
teardown() {
	common_teardown
	if [ -n "${CG:-}" ]; then
		echo max >"$CG/pids.max" 2>/dev/null || true
		retry_until 10 rmdir "$CG" 2>/dev/null ||
			echo "cgroup $CG left behind" >&2
	fi
}

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
	assert_regex "$stderr" '^graceful-run\[[0-9]+\]: fd limit too low for 4 sockets: graceful-run needs [0-9]+, the limit \(ulimit -n\) is 16$'
	assert_equal "$output" ""
	nothing_left
}

# The count is what a reload needs at its peak: with exactly that many,
# the first generation starts and a reload succeeds.
@test "with the fd limit it asks for, it starts and reloads" {
	local specs need
	mapfile -t specs < <(unix_specs 4)
	run --separate-stderr bash -c 'ulimit -n 16; exec "$@"' _ \
		"$GR_BIN" "${specs[@]}" -- "$HELPERS_SRC/probe-child"
	need=$(echo "$stderr" | sed -n 's/.*graceful-run needs \([0-9]*\),.*/\1/p')
	[ "$need" -gt 16 ]
	# With a control client waiting on the reload, as it does with -c.
	PROBE_LOG="$T/probe.log" bash -c 'ulimit -n "$0"; exec "$@"' "$need" \
		"$GR_BIN" -c "$T/ctl" -p "$T/gr.pid" "${specs[@]}" -- \
		"$HELPERS_SRC/probe-child" >"$T/gr.out" 2>"$T/gr.err" 3>&- &
	GR_PID=$!
	wait_ready 1
	run "$GR_BIN" reload -c "$T/ctl"
	assert_success
	wait_ready 2
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

# make_pids_cgroup: a new cgroup with the pids controller, in CG; 1 when
# none can be made here (the reason on stdout).
make_pids_cgroup() {
	local root
	root=$(findmnt -n -t cgroup2 -o TARGET 2>/dev/null | head -n 1)
	if [ -n "$root" ] && grep -qw pids "$root/cgroup.controllers" 2>/dev/null; then
		CG=$(mktemp -d "$root/gr-test.XXXXXX") || return 1
		if [ ! -e "$CG/pids.max" ]; then
			echo +pids >"$root/cgroup.subtree_control" 2>/dev/null || true
		fi
		[ -e "$CG/pids.max" ] && return 0
		rmdir "$CG"
		CG=
	fi
	root=$(findmnt -n -t cgroup -o TARGET,OPTIONS 2>/dev/null |
		awk '$2 ~ /(^|,)pids(,|$)/ { print $1; exit }')
	if [ -n "$root" ] && CG=$(mktemp -d "$root/gr-test.XXXXXX" 2>/dev/null); then
		[ -e "$CG/pids.max" ] && return 0
		rmdir "$CG"
		CG=
	fi
	echo "no cgroup with a pids controller can be made here"
	return 1
}

@test "fork failing during a reload: reload failed, the old generation serves on" {
	[ "$(id -u)" = 0 ] || skip "needs root to make a cgroup"
	make_pids_cgroup >"$T/why" || skip "$(cat "$T/why")"
	start_srv
	echo "$GR_PID" >"$CG/cgroup.procs"
	# The wrapper alone is in it: no room for one more process.
	cat "$CG/pids.current" >"$CG/pids.max"
	kill -HUP "$GR_PID"
	wait_for_line "$T/gr.err" 'reload failed: .*could not start; generation 1 still serving'
	run grep -c 'fork: Resource temporarily unavailable' "$T/gr.err"
	assert_output 1
	run served_by "$port"
	assert_output "$pid1"
	# Nothing of the failed generation is left: no process, no socket.
	run ls "$TMPDIR"/graceful-run.*/
	assert_output 1
	# And nothing is broken: with room again, the next reload works.
	echo max >"$CG/pids.max"
	reload_to 3
	run served_by "$port"
	assert_output "$(generation_pid 3)"
	kill -TERM "$GR_PID"
	wait_gr_exit
	assert_equal "$GR_STATUS" 0
	run ls -A "$TMPDIR"
	assert_output ""
}

@test "stderr closed: it runs, reloads and exits with the child's status" {
	PROBE_TERM_EXIT=3 PROBE_LOG="$T/probe.log" \
		"$GR_BIN" -- "$HELPERS_SRC/probe-child" >"$T/gr.out" 2>&- &
	GR_PID=$!
	wait_for_line "$T/gr.out" '^ready gen=1 '
	sed -n 's/^ready gen=1 pid=//p' "$T/gr.out" >"$T/gen1.pid"
	kill -HUP "$GR_PID"
	wait_for_line "$T/gr.out" '^ready gen=2 '
	sed -n 's/^ready gen=2 pid=//p' "$T/gr.out" >"$T/gen2.pid"
	# Generation 1 drains: TERM, and its exit 3 is only logged.
	wait_gone "$(cat "$T/gen1.pid")"
	# What the children got as stderr: /dev/null, not whatever fd 2 became.
	assert_equal "$(readlink "/proc/$(cat "$T/gen2.pid")/fd/2")" /dev/null
	kill -TERM "$GR_PID"
	wait_gr_exit
	assert_equal "$GR_STATUS" 3
	run grep -c '^exit 3$' "$T/probe.log"
	assert_output 2
	run ls -A "$TMPDIR"
	assert_output ""
}
