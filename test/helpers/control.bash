# Helpers for the control socket, pid file, status file and supervisor
# tests (test/control.bats, test/files.bats, test/supervisors.bats).

# gr VERB [ARG]...: the client, on $T/ctl unless -c is given.
gr() {
	local verb=$1
	shift
	"$GR_BIN" "$verb" -c "$T/ctl" "$@"
}

# exit_of NAME: wait for the background job whose pid is in $T/NAME.pid
# (a child of the test's shell); its exit status in EXIT.
exit_of() {
	EXIT=0
	wait "$(cat "$T/$1.pid")" || EXIT=$?
}

# status_shows TEXT: the status in text has TEXT.
status_shows() {
	gr status | grep -qF -- "$1"
}

# open_gate N: let generation N set up with gated_knobs start.
open_gate() {
	touch "$T/gate-$1"
}

# gated_knobs N [VAR=VALUE]...: like httpd_knobs, but generation N of
# $T/srv waits for `open_gate N` before it starts (the knobs file is shell
# that $T/srv sources).
gated_knobs() {
	local n=$1
	shift
	{
		echo "while [ ! -e '$T/gate-$n' ]; do sleep 0.02; done"
		printf '%s\n' "$@"
	} >"$T/knobs-$n"
}

# raw_client PATH: connect to the unix socket PATH, send stdin, print what
# comes back until the server closes (bounded by 20s).
raw_client() {
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(20)
s.connect(sys.argv[1])
data = sys.stdin.buffer.read()
try:
    s.sendall(data)
except OSError as e:
    print("send: %s" % e.strerror)
out = b""
try:
    while True:
        b = s.recv(65536)
        if not b:
            break
        out += b
except OSError as e:
    print("recv: %s" % e.strerror)
sys.stdout.write(out.decode(errors="replace"))
' "$1"
}

# silent_client PATH: connect and send nothing, in the background; writes
# "connected" then "closed AFTER" (seconds) to $T/silent.out. Its pid is in
# $T/silent.pid, which the teardown kills.
silent_client() {
	python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
out = open(sys.argv[2], "a", buffering=1)
out.write("connected\n")
t = time.monotonic()
s.settimeout(60)
try:
    data = s.recv(4096)
    out.write("closed %.1f %s\n" % (time.monotonic() - t, data.decode().strip()))
except OSError as e:
    out.write("error %s\n" % e)
' "$1" "$T/silent.out" 3>&- &
	echo $! >"$T/silent.pid"
}

# json_get FILE EXPR: evaluate a python expression on the JSON object "j"
# read from FILE (fails when FILE is not one valid JSON object).
json_get() {
	python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
print(eval(sys.argv[2]))
' "$1" "$2"
}

# status_file_ok FILE: python3 -m json.tool accepts it.
status_file_ok() {
	python3 -m json.tool "$1" >/dev/null
}
