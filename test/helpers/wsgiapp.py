# The WSGI application gunicorn serves in test/servers.bats.
import os


def app(environ, start_response):
    body = ("gunicorn pid=%d ppid=%d\n" % (os.getpid(), os.getppid())).encode()
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(body)))])
    return [body]
