# Prints what a child of graceful-run holds: its fds (leaving out the one
# this listing itself opens) and the socket-passing environment variables.
import os
import socket
import sys

lines = []
own_dir = "/proc/%d/fd" % os.getpid()
for name in sorted(os.listdir("/proc/self/fd"), key=int):
    try:
        target = os.readlink("/proc/self/fd/" + name)
    except OSError:
        continue
    if target == own_dir:
        continue
    kind = target.split(":")[0]
    lines.append("fd %s %s\n" % (name, kind))
for key in sorted(os.environ):
    if key.startswith(("LISTEN_", "EINHORN_", "SERVER_STARTER_",
                       "GRACEFUL_RUN_", "NOTIFY_SOCKET")):
        lines.append("env %s=%s\n" % (key, os.environ[key]))
lines.append("pid %d pgid %d\n" % (os.getpid(), os.getpgid(0)))
for fd in range(3, 3 + int(os.environ.get("LISTEN_FDS", "0"))):
    s = socket.socket(fileno=fd)
    flags = "nonblocking" if not s.getblocking() else "blocking"
    lines.append("sock %d %s %s\n" % (fd, s.type.name, flags))
    s.detach()
# Opened last, so that the listing does not show it.
with open(sys.argv[1], "w") if len(sys.argv) > 1 else sys.stdout as out:
    out.writelines(lines)
