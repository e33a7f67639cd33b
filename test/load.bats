#!/usr/bin/env bats
# Proof under load (wrk, ab, a request loop; 127.0.0.1 only): reloads lose
# no request, refuse no connection, and make no request wait.

load helpers/common
load helpers/ab

setup_file() {
	command -v wrk >/dev/null || skip "wrk missing"
	command -v ab >/dev/null || skip "ab missing"
}

# wait_clients N: until N client connections to $port are established.
has_clients() {
	[ "$(ss -Htn state established "( dport = :$port )" | wc -l)" -ge "$1" ]
}
wait_clients() {
	retry_until 20 has_clients "$1" && return
	echo "fewer than $1 clients connected to $port" >&2
	return 1
}

# start_wrk ARG...: wrk in the background (output in $T/wrk.out) against
# $port; it runs until stop_load.
start_wrk() {
	wrk --latency --timeout 10s -d 300s "$@" "http://127.0.0.1:$port/" \
		>"$T/wrk.out" 2>&1 3>&- &
	echo $! >"$T/wrk.pid"
}

# stop_load NAME: SIGINT the load generator NAME (wrk), which prints
# its report, and wait for it; it must have still been running.
stop_load() {
	local pid
	pid=$(cat "$T/$1.pid")
	if ! kill -INT "$pid"; then
		echo "$1 had finished before the test was done:" >&2
		cat "$T/$1.out" >&2
		return 1
	fi
	wait "$pid" || true
}

# assert_wrk_clean: wrk saw requests, no socket error, nothing but 2xx.
assert_wrk_clean() {
	run cat "$T/wrk.out"
	assert_output --regexp '[1-9][0-9]* requests in '
	refute_output --partial 'Socket errors'
	refute_output --partial 'Non-2xx'
}

# wrk_max_ms: the highest latency wrk measured, in whole milliseconds.
wrk_max_ms() {
	awk '$1 == "Latency" && NF >= 4 {
		v = $4; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v)
		f = u == "us" ? 0.001 : u == "ms" ? 1 : u == "s" ? 1000 : 60000
		printf "%d\n", v * f; exit }' "$T/wrk.out"
}

# reload_20_times: reloads to generations 2..21, each serving (seen by the
# request loop) before the next, then all 20 old ones drained.
reload_20_times() {
	local n
	start_http_loop "$port"
	for n in $(seq 2 21); do
		reload_to "$n" 60
		wait_for_count "$T/loop.out" "^200 $(generation_pid "$n") $n " 1 60
	done
	stop_http_loop
	wait_for_count "$T/gr.err" ' exited 0 after draining' 20 60
}

@test "20 reloads under keep-alive load: no socket error, nothing but 2xx" {
	start_srv --ready notify
	start_wrk -t2 -c32
	wait_clients 32
	reload_20_times
	stop_load wrk
	assert_wrk_clean
	run grep -v '^200 ' "$T/loop.out"
	assert_output ""
	run grep -Ec 'reload failed|exited with status' "$T/gr.err"
	assert_output 0
	assert_equal "$(served_by "$port")" "$(generation_pid 21)"
}

@test "20 reloads with a new connection per request: no failed request" {
	start_srv --ready notify
	start_ab 16
	wait_for_line "$T/ab.out" 'Benchmarking'
	wait_clients 1
	reload_20_times
	stop_ab
	assert_ab_clean
	run grep -v '^200 ' "$T/loop.out"
	assert_output ""
	run grep -Ec 'reload failed|exited with status' "$T/gr.err"
	assert_output 0
	assert_equal "$(served_by "$port")" "$(generation_pid 21)"
}

@test "new generations that crash at start, under load: no failed request, the old one serves" {
	local n
	start_srv --ready notify
	start_ab 16
	wait_for_line "$T/ab.out" 'Benchmarking'
	wait_clients 1
	for n in 2 3 4 5 6; do
		httpd_knobs "$n" HTTPD_START_DELAY_MS=300 HTTPD_FAIL_START=3
		kill -HUP "$GR_PID"
		wait_for_line "$T/gr.err" "reload failed: generation $n exited with status 3 before it was ready; generation 1 still serving" 60
	done
	stop_ab
	assert_ab_clean
	run grep -c 'stopping' "$T/gr.err"
	assert_output 0
	assert_equal "$(served_by "$port")" "$pid1"
}

@test "a new generation 2s slow to get ready: the old one answers meanwhile, no request waits 1s" {
	local pid2 max
	start_srv --ready notify
	httpd_knobs 2 HTTPD_START_DELAY_MS=2000
	start_wrk -t1 -c8 -H 'Connection: close'
	start_http_loop "$port"
	wait_for_count "$T/loop.out" '^200 ' 5
	echo "=== HUP" >>"$T/loop.out"
	kill -HUP "$GR_PID"
	wait_for_line "$T/gr.err" 'generation 2 \(pid [0-9]+\) started' 60
	pid2=$(generation_pid 2)
	wait_ready 2 60
	echo "=== gen 2 ready" >>"$T/loop.out"
	wait_for_count "$T/loop.out" "^200 $pid2 2 " 5 60
	stop_http_loop
	stop_load wrk
	assert_wrk_clean
	max=$(wrk_max_ms)
	echo "wrk max latency ${max} ms" >&2
	[ "$max" -lt 1000 ]
	# Every request of the loop succeeded within a second.
	run grep -v -E '^(200 [0-9]+ [12] 0\.[0-9]+|=== .*)$' "$T/loop.out"
	assert_output ""
	# While generation 2 started, generation 1 answered.
	run sed -n '/^=== HUP/,/^=== gen 2 ready/p' "$T/loop.out"
	[ "$(printf '%s\n' "${lines[@]}" | grep -c "^200 $pid1 1 ")" -ge 10 ]
}

@test "a request in flight for 3s when the reload fires completes from the old generation" {
	start_srv --ready notify
	start_wrk -t1 -c8
	wait_clients 8
	curl -sS --max-time 30 -o "$T/slow.body" -w '%{http_code}\n' \
		"http://127.0.0.1:$port/?sleep=3000" >"$T/slow.code" 2>&1 3>&- &
	echo $! >"$T/curl.pid"
	wait_accepted "$pid1" "$port"
	reload_to 2 60
	wait_for_line "$T/gr.err" "generation 1 \(pid $pid1\) stopping"
	wait "$(cat "$T/curl.pid")"
	assert_equal "$(cat "$T/slow.code")" 200
	assert_equal "$(body_pid <"$T/slow.body")" "$pid1"
	wait_for_line "$T/gr.err" "generation 1 \(pid $pid1\) exited 0 after draining" 60
	stop_load wrk
	assert_wrk_clean
}
