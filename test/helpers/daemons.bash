# For tests of daemons that leave the generation's process group
# (--forking): the pid graceful-run took as a generation's main process,
# and a teardown that kills those daemons and their groups too. Load after
# common.bash.

# main_pid N: the daemon graceful-run named generation N's main process.
main_pid() {
	sed -n "s/.*generation $1 (pid [0-9]*) forked into the background: pid \\([0-9]*\\) is its main process.*/\\1/p" \
		"$T/gr.err" 2>/dev/null | tail -n 1
}

# daemon_pids: every daemon named in the log, and every daemon and helper
# test/helpers/forkd.py logged to $T/forkd.log.
daemon_pids() {
	sed -n 's/.*forked into the background: pid \([0-9]*\) is its main process.*/\1/p' \
		"$T/gr.err" 2>/dev/null
	sed -n 's/^\(daemon\|helper\) pid=\([0-9]*\).*/\2/p' "$T/forkd.log" 2>/dev/null
}

eval "common_$(declare -f teardown)"
teardown() {
	local pid
	for pid in $(daemon_pids); do
		kill -KILL -- "-$pid" 2>/dev/null || true
		kill -KILL "$pid" 2>/dev/null || true
	done
	common_teardown
}
