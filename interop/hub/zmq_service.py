#!/usr/bin/python3
"""A pyzmq service for switchboard's ZeroMQ door (hub/zmqdoor interop test).

usage: zmq_service.py PUB_ENDPOINT IN_ENDPOINT RPC_ENDPOINT

It subscribes to the room "lobby" on the door's XPUB socket, pushes into
the room through the PULL socket as the user "py", and serves the RPC
service "reverse" as a DEALER worker. When "web" says "hello from web" it
answers "hello from py"; when "web" says "bye" it says "done" and prints
what it heard as one JSON line, then exits. Everything it heard must come
from others, each line once.
"""
import json
import sys
import time

import zmq

pub_ep, in_ep, rpc_ep = sys.argv[1:4]
ctx = zmq.Context()
sub = ctx.socket(zmq.SUB)
sub.setsockopt(zmq.LINGER, 0)
sub.setsockopt(zmq.SUBSCRIBE, b"lobby")
sub.connect(pub_ep)
push = ctx.socket(zmq.PUSH)
push.setsockopt(zmq.LINGER, 2000)
push.connect(in_ep)
worker = ctx.socket(zmq.DEALER)
worker.setsockopt(zmq.LINGER, 0)
worker.connect(rpc_ep)
worker.send_multipart([b"READY", b"reverse"])

poller = zmq.Poller()
poller.register(sub, zmq.POLLIN)
poller.register(worker, zmq.POLLIN)
heard = []
bad = []
served = 0
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    for sock, _ in poller.poll(200):
        frames = sock.recv_multipart()
        if sock is worker:
            rid, body = frames[0], frames[1]
            text = json.loads(body)
            worker.send_multipart([rid, json.dumps(text[::-1]).encode()])
            served += 1
            continue
        if len(frames) != 5:
            bad.append("frames %d" % len(frames))
            continue
        room, frm, text, mid, at = (f.decode() for f in frames)
        if room != "lobby" or not mid or not at.isdigit():
            bad.append("bad message %r" % frames)
        heard.append(frm + ": " + text)
        if frm == "web" and text == "hello from web":
            push.send_multipart([b"lobby", b"hello from py", b"py"])
        if frm == "web" and text == "bye":
            push.send_multipart([b"lobby", b"done", b"py"])
            print(json.dumps({"heard": heard, "bad": bad, "served": served}), flush=True)
            sub.close()
            worker.close()
            push.close()  # lingers until "done" is out
            ctx.term()
            sys.exit(0)
print(json.dumps({"heard": heard, "bad": bad, "served": served, "error": "timed out"}), flush=True)
ctx.destroy(linger=0)
sys.exit(1)
