#!/usr/bin/env bats
# Running under others: what systemd hears on graceful-run's own
# NOTIFY_SOCKET, the unit files, a real supervisord, and the container
# recipes in examples/.

load helpers/common
load helpers/control

EXAMPLES="$GR_SRCDIR/examples"

# notify_listener: a datagram socket at $T/notify.sock, standing in for
# systemd's; each message goes to $T/notify.log as one line, "|" between
# its fields.
notify_listener() {
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
out = open(sys.argv[2], "a", buffering=1)
open(sys.argv[2] + ".up", "w").close()
while True:
    out.write(s.recv(65536).decode(errors="replace").strip("\n").replace("\n", "|") + "\n")
' "$T/notify.sock" "$T/notify.log" 3>&- &
	echo $! >"$T/listener.pid"
	retry_until 20 test -e "$T/notify.log.up"
}

monotonic_usec() {
	python3 -c 'import time; print(time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000)'
}

# usec_of N: MONOTONIC_USEC= of the Nth RELOADING=1 message.
usec_of() {
	grep '^RELOADING=1' "$T/notify.log" | sed -n "$1s/.*MONOTONIC_USEC=\([0-9]*\).*/\1/p"
}

@test "systemd hears READY, then RELOADING with MONOTONIC_USEC and READY around each reload, good or failed, then STOPPING" {
	local before after pid2 usec
	notify_listener
	NOTIFY_SOCKET="$T/notify.sock" start_srv --ready notify -c "$T/ctl"
	wait_for_line "$T/notify.log" "^READY=1\|STATUS=generation 1 \(pid $pid1\) ready in "
	# A reload through the control socket (ExecReload=graceful-run reload).
	before=$(monotonic_usec)
	gr reload
	after=$(monotonic_usec)
	pid2=$(generation_pid 2)
	wait_for_count "$T/notify.log" '^READY=1' 2
	usec=$(usec_of 1)
	[ "$before" -le "$usec" ]
	[ "$usec" -le "$after" ]
	# A failed one; then a HUP, as Type=notify-reload sends it.
	httpd_knobs 3 HTTPD_FAIL_START=3
	run gr reload
	assert_failure 1
	kill -HUP "$GR_PID"
	wait_for_count "$T/notify.log" '^READY=1' 4
	kill -TERM "$GR_PID"
	wait_gr_exit
	wait_for_line "$T/notify.log" '^STOPPING=1'
	run sed -E 's/MONOTONIC_USEC=[0-9]+/MONOTONIC_USEC=N/; s/ready in [0-9.]+s/ready in Xs/' "$T/notify.log"
	assert_output - <<-EOF
		READY=1|STATUS=generation 1 (pid $pid1) ready in Xs
		RELOADING=1|MONOTONIC_USEC=N|STATUS=reloading
		READY=1|STATUS=reload: generation 2 (pid $pid2) ready in Xs
		RELOADING=1|MONOTONIC_USEC=N|STATUS=reloading
		READY=1|STATUS=reload failed: generation 3 exited with status 3 before it was ready; generation 2 still serving
		RELOADING=1|MONOTONIC_USEC=N|STATUS=reloading
		READY=1|STATUS=reload: generation 4 (pid $(generation_pid 4)) ready in Xs
		STOPPING=1|STATUS=stopping
	EOF
	# Each reload's stamp is later than the one before.
	[ "$(usec_of 2)" -gt "$(usec_of 1)" ]
	[ "$(usec_of 3)" -gt "$(usec_of 2)" ]
}

# unit_for_verify FILE: a copy of an example unit in $T/units whose
# graceful-run is the one under test (systemd-analyze checks that the
# ExecStart= binary exists).
unit_for_verify() {
	mkdir -p "$T/units"
	sed "s|/usr/local/bin/graceful-run|$GR_BIN|g" "$1" >"$T/units/${1##*/}"
}

systemd_analyze_runs() {
	command -v systemd-analyze >/dev/null || return 1
	printf '[Service]\nExecStart=/bin/true\n' >"$T/probe.service"
	systemd-analyze verify "$T/probe.service" >/dev/null 2>&1
}

@test "examples/systemd: the units pass systemd-analyze verify" {
	local unit
	systemd_analyze_runs || skip "systemd-analyze verify cannot run here"
	for unit in app.service app-activated.socket app-activated.service app-notify-reload.service; do
		unit_for_verify "$EXAMPLES/systemd/$unit"
	done
	run systemd-analyze verify "$T/units/app.service"
	assert_success
	assert_output ""
	run systemd-analyze verify "$T/units/app-activated.socket" "$T/units/app-activated.service"
	assert_success
	assert_output ""
	# Every ExecReload= goes through the control socket.
	run grep -h '^ExecReload=' "$T"/units/*.service
	assert_output - <<-EOF
		ExecReload=$GR_BIN reload -c /run/app/control
		ExecReload=$GR_BIN reload -c /run/app/control
	EOF
}

@test "examples/systemd: the Type=notify-reload unit passes systemd-analyze verify" {
	local version
	systemd_analyze_runs || skip "systemd-analyze verify cannot run here"
	version=$(systemctl --version | sed -n '1s/^systemd \([0-9]*\).*/\1/p')
	if [ "${version:-0}" -lt 253 ]; then
		skip "Type=notify-reload needs systemd 253, this is ${version:-unknown}"
	fi
	unit_for_verify "$EXAMPLES/systemd/app-notify-reload.service"
	run systemd-analyze verify "$T/units/app-notify-reload.service"
	assert_success
	assert_output ""
}

# supervisord_config: examples/supervisord.conf made to run here, with its
# own socket, log and pid file in $T.
supervisord_config() {
	cat >"$T/supervisord.conf" <<-EOF
		[unix_http_server]
		file=$T/supervisor.sock
		chmod=0700

		[supervisord]
		logfile=$T/supervisord.log
		pidfile=$T/supervisord.pid
		childlogdir=$T
		nodaemon=true

		[rpcinterface:supervisor]
		supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

		[supervisorctl]
		serverurl=unix://$T/supervisor.sock

	EOF
	sed -e "s|/usr/local/bin/graceful-run|$GR_BIN|" \
		-e "s|/run/app/control|$T/ctl|" \
		-e "s| -u app||" \
		-e "s|-C /srv/app/current|-C $T --ready notify|" \
		-e "s|127.0.0.1:8080|127.0.0.1:$port|" \
		-e "s|./bin/server|$T/srv|" \
		"$EXAMPLES/supervisord.conf" >>"$T/supervisord.conf"
	printf 'stderr_logfile=%s\n' "$T/gr.err" >>"$T/supervisord.conf"
}

sv_ctl() {
	supervisorctl -c "$T/supervisord.conf" "$@"
}

app_running() {
	sv_ctl status app | grep -q RUNNING
}

@test "examples/supervisord.conf under a real supervisord: signal HUP reloads, stop is graceful, one pid throughout" {
	local pid
	port=$(free_port)
	make_httpd_script
	supervisord_config
	supervisord -c "$T/supervisord.conf" 3>&- &
	echo $! >"$T/svd.pid"
	retry_until 30 app_running
	wait_ready 1
	pid=$(sv_ctl pid app)
	GR_PID=$pid
	pid1=$(generation_pid 1)
	assert_equal "$(served_by "$port")" "$pid1"
	run sv_ctl signal HUP app
	assert_success
	wait_ready 2
	wait_for_line "$T/gr.err" "generation 1 \(pid $pid1\) exited 0 after draining"
	assert_equal "$(sv_ctl pid app)" "$pid"
	# The control socket works beside it.
	run gr reload
	assert_success
	assert_equal "$(sv_ctl pid app)" "$pid"
	# A graceful stop: the generation gets SIGTERM and drains.
	run sv_ctl stop app
	assert_success
	grep -q "SIGTERM: stopping every generation with SIGTERM" "$T/gr.err"
	grep -q 'generation 3 (pid [0-9]*) exited 0$' "$T/gr.err"
	run grep -c 'SIGKILL' "$T/gr.err"
	assert_output 0
	wait_gone "$pid"
	run sv_ctl status app
	assert_output --partial STOPPED
	sv_ctl shutdown >/dev/null
	exit_of svd
	assert_equal "$EXIT" 0
}

@test "examples/kubernetes.yaml and examples/Dockerfile: the probe is graceful-run status on the control socket" {
	python3 -c 'import yaml' 2>/dev/null || skip "python3-yaml is not installed"
	run python3 -c '
import sys, yaml
docs = list(yaml.safe_load_all(open(sys.argv[1])))
assert len(docs) == 1 and docs[0]["kind"] == "Deployment", docs
spec = docs[0]["spec"]["template"]["spec"]
c = spec["containers"][0]
print(" ".join(c["readinessProbe"]["exec"]["command"]))
print(spec["terminationGracePeriodSeconds"])
' "$EXAMPLES/kubernetes.yaml"
	assert_success
	assert_line --index 0 "graceful-run status -c /run/app/control --timeout 2s"
	# More than the default --stop-timeout (30s).
	[ "${lines[1]}" -gt 30 ]
	# The Dockerfile's exec-form lines are JSON arrays; the entrypoint is
	# graceful-run with the same control socket, and so is its health check.
	run python3 -c '
import json, re, sys
text = open(sys.argv[1]).read().replace("\\\n", " ")
for key in ("ENTRYPOINT", "CMD"):
    m = re.search(r"^" + key + r" (\[.*\])$", text, re.M)
    print(" ".join(json.loads(m.group(1))))
m = re.search(r"^HEALTHCHECK .* CMD (\[.*\])$", text, re.M)
print(" ".join(json.loads(m.group(1))))
' "$EXAMPLES/Dockerfile"
	assert_success
	assert_line --index 0 "/usr/local/bin/graceful-run -c /run/app/control -u app -C /srv/app -l :8080 --"
	assert_line --index 1 "./bin/server"
	assert_line --index 2 "/usr/local/bin/graceful-run status -c /run/app/control --timeout 2s"
}

@test "the readiness probe of the recipes: status exits 1 until a generation serves, then 0" {
	port=$(free_port)
	make_httpd_script
	gated_knobs 1
	start_gr -l "127.0.0.1:$port" --ready notify -c "$T/ctl" -- "$T/srv"
	retry_until 20 test -S "$T/ctl"
	run "$GR_BIN" status -c "$T/ctl" --timeout 2s
	assert_failure 1
	open_gate 1
	wait_ready 1
	run "$GR_BIN" status -c "$T/ctl" --timeout 2s
	assert_success
}
