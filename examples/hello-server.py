#!/usr/bin/env python3
"""A small HTTP server written for graceful-run.

It takes its listening socket from fd 3 (LISTEN_FDS, as systemd passes it),
says READY=1 on NOTIFY_SOCKET once it serves, and on SIGTERM stops accepting,
finishes the requests in flight and exits 0 - all a server needs for
zero-downtime reloads under graceful-run.

    graceful-run -l :8080 -- python3 examples/hello-server.py
    curl http://127.0.0.1:8080/        # hello from generation 1 (pid ...)
    kill -HUP <graceful-run's pid>     # generation 2 takes over
"""
import http.server
import os
import signal
import socket
import sys
import threading
import time

LISTEN_FDS_START = 3


def listening_socket():
    if os.environ.get("LISTEN_PID") != str(os.getpid()) or \
            int(os.environ.get("LISTEN_FDS", "0")) < 1:
        sys.exit("hello-server: run me under graceful-run -l ADDRESS --")
    return socket.socket(fileno=LISTEN_FDS_START)


def notify(message):
    path = os.environ.get("NOTIFY_SOCKET")
    if not path:
        return
    if path.startswith("@"):
        path = "\0" + path[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.sendto(message.encode(), path)


class Hello(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 5  # idle keep-alive connections go away, so a stop ends

    def do_GET(self):
        delay = self.path.partition("sleep=")[2]
        if delay.isdigit():
            time.sleep(int(delay) / 1000)
        body = "hello from generation %s (pid %d)\n" % (
            os.environ.get("GRACEFUL_RUN_GENERATION", "?"), os.getpid())
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        if self.server.stopping:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, fmt, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = False  # server_close() waits for requests in flight
    stopping = False


def main():
    server = Server(("", 0), Hello, bind_and_activate=False)
    server.socket = listening_socket()

    def stop(signo, frame):
        server.stopping = True
        threading.Thread(target=server.shutdown).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    notify("READY=1")
    print("ready gen=%s pid=%d" % (
        os.environ.get("GRACEFUL_RUN_GENERATION", "?"), os.getpid()),
        flush=True)
    server.serve_forever()
    server.server_close()


if __name__ == "__main__":
    main()
