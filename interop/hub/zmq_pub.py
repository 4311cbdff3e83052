#!/usr/bin/python3
"""A pyzmq PUB service for switchboard's ZeroMQ door (--zmq-in-sub).

usage: zmq_pub.py XSUB_ENDPOINT

It connects a PUB socket to the door's XSUB socket and publishes
[b"lobby", b"from a pyzmq publisher", b"pypub"] every 20 ms (a PUB drops
until the subscription arrives), until its stdin is closed or 20 s pass.
"""
import select
import sys
import time

import zmq

ctx = zmq.Context()
pub = ctx.socket(zmq.PUB)
pub.setsockopt(zmq.LINGER, 0)
pub.connect(sys.argv[1])
deadline = time.monotonic() + 20
sent = 0
while time.monotonic() < deadline:
    pub.send_multipart([b"lobby", b"from a pyzmq publisher", b"pypub"])
    sent += 1
    ready, _, _ = select.select([sys.stdin], [], [], 0.02)
    if ready and not sys.stdin.read(1):
        break
print(sent, flush=True)
pub.close()
ctx.term()
