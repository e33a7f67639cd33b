# A WSGI app whose import is slow: it returns only once
# $SLOWAPP_DIR/gate-$GRACEFUL_RUN_GENERATION exists, so each gunicorn
# worker (the app is imported after the fork) starts accepting only then.
import os
import time

_gate = os.path.join(os.environ["SLOWAPP_DIR"],
                     "gate-" + os.environ.get("GRACEFUL_RUN_GENERATION", "0"))
while not os.path.exists(_gate):
    time.sleep(0.02)


def app(environ, start_response):
    body = ("gunicorn pid=%d ppid=%d\n" % (os.getpid(), os.getppid())).encode()
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(body)))])
    return [body]
