# A datagram server on the UDP socket at fd 3: python3 udp-server.py GATEDIR.
# Once GATEDIR/gate-$GRACEFUL_RUN_GENERATION exists it waits in recvfrom()
# and answers each datagram with "pid=... gen=...".
import os
import socket
import sys
import time

gen = int(os.environ.get("GRACEFUL_RUN_GENERATION", "0"))
while not os.path.exists(os.path.join(sys.argv[1], "gate-%d" % gen)):
    time.sleep(0.02)
s = socket.socket(fileno=3)
while True:
    data, peer = s.recvfrom(512)
    s.sendto(b"pid=%010d gen=%06d\n" % (os.getpid(), gen), peer)
