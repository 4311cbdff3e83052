#!/usr/bin/python3
"""pyzmq participant of the hub's end-to-end test (hub/e2e).

usage: zmq_peer.py PUB_ENDPOINT IN_ENDPOINT

A SUB socket on the door's XPUB subscribes to "lobby" and "@presence"; a
PUSH socket on the door's PULL speaks as the user "py". Commands on stdin,
one a line: "say TEXT", "quit". Reports on stdout, one JSON object a line,
as web.js does ({"who":"py","ev":"said","from":F,"text":T}, "presence",
"sent", "error"). Stops after 50 s whatever happens.
"""
import json
import os
import sys
import time

import zmq


def out(**o):
    o.setdefault("who", "py")
    print(json.dumps(o), flush=True)


pub_ep, in_ep = sys.argv[1:3]
ctx = zmq.Context()
sub = ctx.socket(zmq.SUB)
sub.setsockopt(zmq.LINGER, 0)
sub.setsockopt(zmq.SUBSCRIBE, b"lobby")
sub.setsockopt(zmq.SUBSCRIBE, b"@presence")
sub.connect(pub_ep)
push = ctx.socket(zmq.PUSH)
push.setsockopt(zmq.LINGER, 2000)
push.connect(in_ep)

poller = zmq.Poller()
poller.register(sub, zmq.POLLIN)
poller.register(sys.stdin.fileno(), zmq.POLLIN)
out(ev="ready")
deadline = time.monotonic() + 50
buf = b""
running = True
while running and time.monotonic() < deadline:
    for sock, _ in poller.poll(200):
        if sock is sub:
            frames = [f.decode() for f in sub.recv_multipart()]
            if frames[0] == "@presence" and len(frames) == 4:
                if frames[2] in ("online", "offline"):
                    out(ev="presence", user=frames[1], state=frames[2])
            elif frames[0] == "lobby" and len(frames) == 5 and frames[3] and frames[4].isdigit():
                out(ev="said", **{"from": frames[1], "text": frames[2]})
            else:
                out(ev="error", error="bad message %r" % frames)
            continue
        chunk = os.read(sys.stdin.fileno(), 4096)
        if not chunk:
            running = False
            break
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            cmd, _, text = line.decode().partition(" ")
            if cmd == "say":
                push.send_multipart([b"lobby", text.encode(), b"py"])
                out(ev="sent", text=text)
            elif cmd == "quit":
                running = False
sub.close()
push.close()
ctx.term()
