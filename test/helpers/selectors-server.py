# A small HTTP server on the socket at fd 3 (LISTEN_FDS), waiting for
# connections with a selectors class: python3 selectors-server.py KIND GATEDIR
# where KIND is default (epoll on Linux), poll or select. It touches neither
# the socket nor any selector until GATEDIR/gate-$GRACEFUL_RUN_GENERATION
# exists (a fixture may poll; graceful-run must see it is not accepting).
# The body is "pid=... gen=...", as test/helpers/httpd answers.
import os
import selectors
import signal
import socket
import sys
import time

KINDS = {"default": selectors.DefaultSelector, "poll": selectors.PollSelector,
         "select": selectors.SelectSelector}


def wait_gate(path):
    while not os.path.exists(path):
        time.sleep(0.02)


def answer(conn):
    conn.settimeout(10)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return
        data += chunk
    body = b"pid=%010d gen=%06d\n" % (os.getpid(), int(os.environ.get(
        "GRACEFUL_RUN_GENERATION", "0")))
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n"
                 b"Connection: close\r\n\r\n%s" % (len(body), body))


def main():
    kind, gatedir = sys.argv[1], sys.argv[2]
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    wait_gate(os.path.join(gatedir, "gate-%s" % os.environ.get(
        "GRACEFUL_RUN_GENERATION", "0")))
    lsock = socket.socket(fileno=3)
    lsock.setblocking(False)
    sel = KINDS[kind]()
    sel.register(lsock, selectors.EVENT_READ)
    while not stop:
        for _key, _ev in sel.select(timeout=0.5):
            try:
                conn, _ = lsock.accept()
            except (BlockingIOError, InterruptedError):
                continue
            with conn:
                conn.setblocking(True)
                try:
                    answer(conn)
                except OSError:
                    pass


main()
