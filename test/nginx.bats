#!/usr/bin/env bats
# nginx from Debian, unchanged: it takes graceful-run's sockets from its own
# variable NGINX ("3;4;") instead of binding, and with --stop-signal QUIT
# the old master winds its workers down while the new one serves. nginx
# expects the sockets it inherits to be non-blocking (it never sets
# O_NONBLOCK on them itself): -l ADDRESS,nonblock.

load helpers/common
load helpers/ab
load helpers/daemons

nginx_available() {
	command -v nginx >/dev/null || skip "nginx not installed (apt-get install nginx-light)"
	ab_available
}

# nginx_conf on|off [LISTEN]: $T/nginx/nginx.conf with the listen
# directives LISTEN (default: on 127.0.0.1:$port), with every
# path nginx writes in $T/nginx; /worker names the worker that answers, /
# says "ok" at 1000 requests a second at most (limit_req delays the rest:
# the load stays bounded, and none is refused).
nginx_conf() {
	local user= listen=${2:-"listen 127.0.0.1:$port;"}
	mkdir -p "$T/nginx/html"
	# A file, not "return": limit_req comes after the rewrite phase.
	echo ok >"$T/nginx/html/index.html"
	# Only root may name the workers' user (nginx warns otherwise).
	[ "$(id -u)" -eq 0 ] && user="user $(id -un);"
	cat >"$T/nginx/nginx.conf" <<-EOF
		daemon $1;
		master_process on;
		worker_processes 2;
		$user
		pid $T/nginx/nginx.pid;
		error_log $T/nginx/error.log notice;
		events { worker_connections 256; }
		http {
			access_log off;
			limit_req_zone \$server_port zone=load:1m rate=1000r/s;
			client_body_temp_path $T/nginx/body;
			proxy_temp_path $T/nginx/proxy;
			fastcgi_temp_path $T/nginx/fastcgi;
			uwsgi_temp_path $T/nginx/uwsgi;
			scgi_temp_path $T/nginx/scgi;
			server {
				$listen
				location / {
					limit_req zone=load burst=1000;
					root $T/nginx/html;
				}
				location /worker { return 200 "worker=\$pid\n"; }
			}
		}
	EOF
}

# start_nginx on|off [OPTION]...: graceful-run running nginx with that
# daemon setting.
start_nginx() {
	local daemon=$1
	shift
	port=$(free_port)
	nginx_conf "$daemon"
	start_gr -l "127.0.0.1:$port,nonblock" --stop-signal QUIT "$@" -- \
		nginx -p "$T/nginx" -e "$T/nginx/error.log" -c "$T/nginx/nginx.conf"
}

# serving_master: the master of the nginx worker that answers now.
serving_master() {
	local worker
	worker=$(http_get "$port" /worker | sed -n 's/^worker=//p')
	ps -o ppid= -p "$worker" | tr -d ' '
}

# nginx_reloads N MAIN: N reloads under ab; after each, once the old master
# has drained, the new master (as MAIN N names it) serves.
nginx_reloads() {
	local n last=$1 main=$2 masters=()
	masters+=("$($main 1)")
	assert_equal "$(serving_master)" "${masters[0]}"
	start_ab 4
	for n in $(seq 2 $((last + 1))); do
		reload_to "$n" 30
		wait_for_line "$T/gr.err" "generation $((n - 1)) \(pid ${masters[-1]}\) exited 0 after draining" 30
		masters+=("$($main "$n")")
		assert_equal "$(serving_master)" "${masters[-1]}"
	done
	stop_ab
	assert_ab_clean
	# A new master each time, each one on the inherited socket.
	assert_equal "$(printf '%s\n' "${masters[@]}" | sort -u | wc -l)" $((last + 1))
	assert_equal "$(grep -c 'using inherited sockets from "3;"' "$T/nginx/error.log")" $((last + 1))
	run grep -E '\[(emerg|alert|crit)\]' "$T/nginx/error.log"
	assert_output ""
	kill -TERM "$GR_PID"
	wait_gr_exit
	assert_equal "$GR_STATUS" 0
	for n in "${masters[@]}"; do
		run kill -0 "$n"
		assert_failure
	done
	run port_listening "$port"
	assert_failure
}

@test "every child gets NGINX with its sockets' fds, each followed by ';'" {
	local port2
	port=$(free_port)
	port2=$(free_port)
	start_gr -l "127.0.0.1:$port" -l "127.0.0.1:$port2" --ready delay:0 -- \
		sh -c 'echo "$NGINX" >"$1/nginx.env"' _ "$T"
	wait_gr_exit
	assert_equal "$(cat "$T/nginx.env")" "3;4;"
	# graceful-run's own NGINX is not passed on where it has no socket.
	NGINX="7;" start_gr --ready delay:0 -- \
		sh -c 'echo "${NGINX-unset}" >"$1/nginx.env"' _ "$T"
	wait_gr_exit
	assert_equal "$(cat "$T/nginx.env")" "unset"
}

# fd3_flags OPTION...: the file status flags of fd 3 as the child sees them (octal).
fd3_flags() {
	start_gr "$@" --ready delay:0 -- \
		sh -c 'sed -n "s/^flags:[[:space:]]*//p" /proc/$$/fdinfo/3 >"$1/flags"' _ "$T"
	wait_gr_exit
	cat "$T/flags"
}

@test "-l ADDRESS,nonblock hands the socket over non-blocking; without it, blocking" {
	port=$(free_port)
	(( 0$(fd3_flags -l "127.0.0.1:$port,nonblock") & 04000 ))
	(( ! (0$(fd3_flags -l "127.0.0.1:$port") & 04000) ))
	(( 0$(fd3_flags -l "unix:$T/s.sock,nonblock") & 04000 ))
	# It listens, too.
	start_gr -l "127.0.0.1:$port,nonblock" --ready delay:0 -- sleep 1000
	wait_ready 1
	retry_until 20 port_listening "$port"
	run "$GR_BIN" -l "127.0.0.1:$port,nonblock=1" -- true
	assert_equal "$status" 125
	assert_output --partial 'option "nonblock" does not apply here'
}

@test "nginx with daemon off and QUIT: 20 reloads under ab, no failed request, a new master after each" {
	nginx_available
	start_nginx off
	wait_ready 1
	nginx_reloads 20 generation_pid
}

@test "nginx in its default daemon mode with --forking=PIDFILE: 10 reloads under ab, no failed request" {
	nginx_available
	start_nginx on --forking="$T/nginx/nginx.pid"
	wait_ready 1
	# Given its sockets, nginx stays in the foreground and names itself.
	grep -q "generation 1 (pid $(generation_pid 1)) stays in the foreground, and $T/nginx/nginx.pid names it" "$T/gr.err"
	nginx_reloads 10 generation_pid
}

@test "nginx with the usual pair \"listen PORT; listen [::]:PORT;\" takes both sockets" {
	nginx_available
	python3 -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null ||
		skip "no IPv6 loopback here"
	port=$(free_port)
	nginx_conf off "listen $port; listen [::]:$port;"
	start_gr -l "0.0.0.0:$port,nonblock" -l "[::]:$port,v6only,nonblock" \
		--stop-signal QUIT -- \
		nginx -p "$T/nginx" -e "$T/nginx/error.log" -c "$T/nginx/nginx.conf"
	wait_ready 1
	reload_to 2
	wait_for_line "$T/gr.err" "generation 1 \(pid [0-9]+\) exited 0 after draining"
	assert_equal "$(serving_master)" "$(generation_pid 2)"
	run curl -fsS --max-time 20 "http://[::1]:$port/"
	assert_output "ok"
	assert_equal "$(grep -c 'using inherited sockets from "3;4;"' "$T/nginx/error.log")" 2
	run grep -E '\[(emerg|alert|crit)\]' "$T/nginx/error.log"
	assert_output ""
}
