# ab (ApacheBench) in the background against 127.0.0.1:$port, bounded, for
# the tests that prove reloads lose nothing. Load after common.bash.

# start_ab [CONCURRENCY]: one new connection per request, until stop_ab;
# the report goes to $T/ab.out.
start_ab() {
	ab -r -c "${1:-4}" -t 300 -n 3000000 "http://127.0.0.1:$port/" \
		>"$T/ab.out" 2>&1 3>&- &
	echo $! >"$T/ab.pid"
}

# stop_ab: SIGINT ab, which prints its report, and wait for it; it must
# still have been running.
stop_ab() {
	local pid
	pid=$(cat "$T/ab.pid")
	if ! kill -INT "$pid"; then
		echo "ab had finished before the test was done:" >&2
		cat "$T/ab.out" >&2
		return 1
	fi
	wait "$pid" || true
}

# assert_ab_clean: ab completed requests, none failed, nothing but 2xx.
assert_ab_clean() {
	run cat "$T/ab.out"
	assert_line --regexp '^Complete requests: +[1-9][0-9]*$'
	assert_line --regexp '^Failed requests: +0$'
	refute_output --partial 'Non-2xx'
	# The figures, as TAP comments, for whoever reads the log.
	grep -E '^(Complete|Failed) requests' "$T/ab.out" | sed 's/^/# ab: /' >&3
}

ab_available() {
	command -v ab >/dev/null || skip "ab (apache2-utils) missing"
}
