#!/usr/bin/env python3
"""forkd: a traditional daemon, for graceful-run's --forking tests.

The first process forks; the child calls setsid (and with --double forks
once more), writes its pid to --pidfile, closes every fd it does not know
(the ready pipe among them, as classic daemons do) and serves HTTP on the
socket at fd 3, which it takes as it is: LISTEN_PID names the first
process, not the daemon. Every answer is "pid=<daemon pid> gen=<N>";
"?sleep=MS" delays it. On TERM, INT or QUIT the daemon stops accepting,
finishes the requests in flight, removes its pid file and exits 0.

Options:
  --pidfile PATH    write the daemon's pid there
  --double          fork twice (the pid file names the grandchild)
  --notify          send READY=1 to NOTIFY_SOCKET once serving
  --wait-ready      the first process exits only once the daemon serves
  --first-exit N    the first process exits N (it still forks the daemon)
  --nothing         the first process exits 0 and forks nothing
  --foreground      no fork at all: the first process is the daemon
  --no-pidfile-die  the daemon exits 3 before it writes its pid file
  --helper          the daemon forks a helper into its process group; it
                    exits on TERM, and the daemon, once stopped, waits for
                    it (as a master that expects its group to be signalled)
  --log PATH        append event lines: "first pid=P", "daemon pid=D gen=N",
                    "serving pid=D", "signal TERM", "exit pid=D",
                    "helper pid=H", "helper signal TERM"
"""
import argparse
import http.server
import os
import signal
import socket
import sys
import threading
import time
import urllib.parse

LISTEN_FD = 3
STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGQUIT}


def log(path, line):
    if path:
        with open(path, "a") as f:
            f.write(line + "\n")


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        ms = int(query.get("sleep", ["0"])[0] or 0)
        if ms > 0:
            time.sleep(min(ms, 600000) / 1000)
        body = ("pid=%010d gen=%06d\n" % (os.getpid(), GEN)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    # Requests in flight are finished (joined) at server_close().
    daemon_threads = False

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler, bind_and_activate=False)
        self.socket.close()
        self.socket = socket.socket(fileno=LISTEN_FD)
        # Every generation of forkd shares the socket: a blocking accept()
        # could wait on a connection another generation took.
        self.socket.setblocking(False)

    def handle_error(self, request, client_address):
        # A client that went away (a load generator that was stopped) is
        # no error of the server's.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def notify(msg):
    path = os.environ.get("NOTIFY_SOCKET", "")
    if not path:
        return
    if path.startswith("@"):
        path = "\0" + path[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.sendto(msg.encode(), path)


def helper(args):
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    pid = os.fork()
    if pid != 0:
        log(args.log, "helper pid=%d" % pid)
        return pid

    def on_term(sig, frame):
        log(args.log, "helper signal TERM")
        os._exit(0)

    signal.signal(signal.SIGTERM, on_term)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    while True:
        signal.pause()


def serve(args, ready_w):
    pid = os.getpid()
    helper_pid = helper(args) if args.helper else 0
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    server = Server()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,))
    thread.start()
    log(args.log, "serving pid=%d" % pid)
    if args.notify:
        notify("READY=1")
    if ready_w is not None:
        os.write(ready_w, b"x")
        os.close(ready_w)
    sig = signal.sigwait(STOP_SIGNALS)
    log(args.log, "signal %s" % signal.Signals(sig).name[3:])
    server.shutdown()
    thread.join()
    server.server_close()
    if helper_pid:
        os.waitpid(helper_pid, 0)
    if args.pidfile:
        try:
            with open(args.pidfile) as f:
                mine = f.read().strip() == str(pid)
            if mine:
                os.unlink(args.pidfile)
        except OSError:
            pass
    log(args.log, "exit pid=%d" % pid)
    os._exit(0)


def daemonize(args, ready_w):
    if not args.foreground:
        os.setsid()
    if args.double and os.fork() != 0:
        os._exit(0)
    log(args.log, "daemon pid=%d gen=%d" % (os.getpid(), GEN))
    if args.no_pidfile_die:
        os._exit(3)
    # Every fd it does not know goes; fd 3 is the socket.
    keep = {LISTEN_FD} | ({ready_w} if ready_w is not None else set())
    for fd in range(LISTEN_FD + 1, 1024):
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    if args.pidfile:
        tmp = "%s.%d" % (args.pidfile, os.getpid())
        with open(tmp, "w") as f:
            f.write("%d\n" % os.getpid())
        os.rename(tmp, args.pidfile)
    serve(args, ready_w)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--pidfile")
    p.add_argument("--double", action="store_true")
    p.add_argument("--notify", action="store_true")
    p.add_argument("--wait-ready", action="store_true")
    p.add_argument("--first-exit", type=int, default=0)
    p.add_argument("--nothing", action="store_true")
    p.add_argument("--foreground", action="store_true")
    p.add_argument("--no-pidfile-die", action="store_true")
    p.add_argument("--helper", action="store_true")
    p.add_argument("--log")
    args = p.parse_args()
    log(args.log, "first pid=%d" % os.getpid())
    if args.nothing:
        sys.exit(0)
    if args.foreground:
        daemonize(args, None)
    ready_r = ready_w = None
    if args.wait_ready:
        ready_r, ready_w = os.pipe()
    if os.fork() == 0:
        if ready_r is not None:
            os.close(ready_r)
        daemonize(args, ready_w)
    if ready_r is not None:
        os.close(ready_w)
        os.read(ready_r, 1)
    os._exit(args.first_exit)


GEN = int(os.environ.get("GRACEFUL_RUN_GENERATION", "0"))

if __name__ == "__main__":
    main()
