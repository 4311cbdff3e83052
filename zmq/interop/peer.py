#!/usr/bin/python3
"""A libzmq peer (through pyzmq) driven by switchboard's interop tests.

One long-lived process runs many scenarios: it reads one JSON request per
line on stdin and answers each with one JSON line on stdout, in order:
{"ok": true, ...} or {"ok": false, "error": "..."}. Frames travel as
base64 strings. Sockets are named by the integer "sock" that the "socket"
request returns. Every blocking request takes "timeout_ms" (default 5000)
and fails with "timeout" when it runs out, so the process never hangs.

Requests (fields beyond "op"):
  socket     type ("PUSH", ...), opts {routing_id: b64, sndhwm, rcvhwm, linger,
             heartbeat_ivl, heartbeat_timeout, heartbeat_ttl, router_mandatory,
             xpub_verbose, immediate, reconnect_ivl, ipv6}                      -> sock
  bind       sock, ep ("tcp://127.0.0.1:*" allowed)        -> endpoint
  connect    sock, ep
  unbind / disconnect   sock, ep
  close      sock
  send       sock, frames [b64], retry_unroutable (ROUTER: retry while the
             peer is not there yet)
  send_big   sock, size: one frame of size bytes, byte i = i % 251
  recv       sock, digest (answer sizes and sha256 instead of frames)
                                                           -> frames | sizes, sha256
  recv_none  sock, wait_ms: succeeds if nothing arrives in wait_ms
  subscribe / unsubscribe   sock, prefix b64
  events     sock: read ZMQ_EVENTS, which makes libzmq process pending
             commands (a bound socket attaches new peers only then)
  monitor    sock: start recording its events
  wait_event sock, event ("DISCONNECTED", "HANDSHAKE_SUCCEEDED", ...)
  proxy      kind -> frontend, backend: an XSUB (frontend) / XPUB (backend) pair
             (kind "queue": ROUTER / DEALER),
             both bound on tcp://127.0.0.1:*, joined by zmq.proxy_steerable in
             a thread; proxy_stop ends it
  quit
"""

import base64
import hashlib
import json
import sys
import threading
import time

import zmq
from zmq.utils.monitor import recv_monitor_message

ctx = zmq.Context()
socks = {}
monitors = {}
proxies = {}
next_id = [1]

OPTS = {
    "sndhwm": zmq.SNDHWM,
    "rcvhwm": zmq.RCVHWM,
    "linger": zmq.LINGER,
    "heartbeat_ivl": zmq.HEARTBEAT_IVL,
    "heartbeat_timeout": zmq.HEARTBEAT_TIMEOUT,
    "heartbeat_ttl": zmq.HEARTBEAT_TTL,
    "router_mandatory": zmq.ROUTER_MANDATORY,
    "xpub_verbose": zmq.XPUB_VERBOSE,
    "immediate": zmq.IMMEDIATE,
    "reconnect_ivl": zmq.RECONNECT_IVL,
    "ipv6": zmq.IPV6,
}


def b64(data):
    return base64.b64encode(data).decode()


def unb64(s):
    return base64.b64decode(s)


def new_id():
    n = next_id[0]
    next_id[0] += 1
    return n


def timeout_of(req):
    return req.get("timeout_ms", 5000)


def op_socket(req):
    s = ctx.socket(getattr(zmq, req["type"]))
    s.linger = 0
    for k, v in req.get("opts", {}).items():
        if k == "routing_id":
            s.setsockopt(zmq.ROUTING_ID, unb64(v))
        else:
            s.setsockopt(OPTS[k], v)
    n = new_id()
    socks[n] = s
    return {"sock": n}


def op_bind(req):
    s = socks[req["sock"]]
    s.bind(req["ep"])
    return {"endpoint": s.getsockopt_string(zmq.LAST_ENDPOINT)}


def op_connect(req):
    socks[req["sock"]].connect(req["ep"])
    return {}


def op_unbind(req):
    socks[req["sock"]].unbind(req["ep"])
    return {}


def op_disconnect(req):
    socks[req["sock"]].disconnect(req["ep"])
    return {}


def op_close(req):
    n = req["sock"]
    m = monitors.pop(n, None)
    if m is not None:
        socks[n].disable_monitor()
        m.close(0)
    socks.pop(n).close(0)
    return {}


def send_frames(req, frames):
    s = socks[req["sock"]]
    deadline = time.monotonic() + timeout_of(req) / 1000.0
    while True:
        try:
            if not s.poll(max(1, int((deadline - time.monotonic()) * 1000)), zmq.POLLOUT):
                raise TimeoutError("timeout")
            s.send_multipart(frames, zmq.NOBLOCK)
            return {}
        except zmq.Again:
            continue
        except zmq.ZMQError as e:
            if e.errno == zmq.EHOSTUNREACH and req.get("retry_unroutable"):
                if time.monotonic() > deadline:
                    raise TimeoutError("timeout: peer never routable")
                time.sleep(0.005)
                continue
            raise


def op_send(req):
    return send_frames(req, [unb64(f) for f in req["frames"]])


def op_send_big(req):
    size = req["size"]
    pattern = bytes(i % 251 for i in range(251))
    body = (pattern * (size // 251 + 1))[:size]
    return send_frames(req, [body])


def op_recv(req):
    s = socks[req["sock"]]
    if not s.poll(timeout_of(req)):
        raise TimeoutError("timeout")
    frames = s.recv_multipart()
    if req.get("digest"):
        return {"sizes": [len(f) for f in frames],
                "sha256": [hashlib.sha256(f).hexdigest() for f in frames]}
    return {"frames": [b64(f) for f in frames]}


def op_recv_none(req):
    s = socks[req["sock"]]
    if s.poll(req.get("wait_ms", 200)):
        return {"ok": False, "error": "unexpected message",
                "frames": [b64(f) for f in s.recv_multipart()]}
    return {}


def op_events(req):
    # Reading ZMQ_EVENTS makes libzmq process the socket's pending commands
    # (such as attaching a newly accepted pipe), as any API call does.
    return {"events": socks[req["sock"]].getsockopt(zmq.EVENTS)}


def op_subscribe(req):
    socks[req["sock"]].setsockopt(zmq.SUBSCRIBE, unb64(req["prefix"]))
    return {}


def op_unsubscribe(req):
    socks[req["sock"]].setsockopt(zmq.UNSUBSCRIBE, unb64(req["prefix"]))
    return {}


def op_monitor(req):
    n = req["sock"]
    monitors[n] = socks[n].get_monitor_socket()
    return {}


def op_wait_event(req):
    m = monitors[req["sock"]]
    want = getattr(zmq, "EVENT_" + req["event"])
    deadline = time.monotonic() + timeout_of(req) / 1000.0
    seen = []
    while True:
        left = int((deadline - time.monotonic()) * 1000)
        if left <= 0 or not m.poll(left):
            raise TimeoutError("timeout waiting for %s; saw %s" % (req["event"], seen))
        ev = recv_monitor_message(m)
        seen.append(int(ev["event"]))
        if ev["event"] == want:
            return {"endpoint": ev["endpoint"].decode(errors="replace")}


def op_proxy(req):
    if req.get("kind") == "queue":
        front, back = ctx.socket(zmq.ROUTER), ctx.socket(zmq.DEALER)
    else:
        front, back = ctx.socket(zmq.XSUB), ctx.socket(zmq.XPUB)
    for s in (front, back):
        s.linger = 0
    front.bind("tcp://127.0.0.1:*")
    back.bind("tcp://127.0.0.1:*")
    n = new_id()
    addr = "inproc://proxy-control-%d" % n
    control = ctx.socket(zmq.PAIR)
    control.bind(addr)
    peer = ctx.socket(zmq.PAIR)
    peer.connect(addr)

    def run():
        try:
            zmq.proxy_steerable(front, back, None, peer)
        except zmq.ContextTerminated:
            pass
        finally:
            for s in (front, back, peer):
                s.close(0)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    proxies[n] = (t, control)
    return {"proxy": n,
            "frontend": front.getsockopt_string(zmq.LAST_ENDPOINT),
            "backend": back.getsockopt_string(zmq.LAST_ENDPOINT)}


def op_proxy_stop(req):
    t, control = proxies.pop(req["proxy"])
    control.send(b"TERMINATE")
    t.join(timeout_of(req) / 1000.0)
    control.close(0)
    if t.is_alive():
        raise TimeoutError("timeout: proxy did not stop")
    return {}


OPS = {name[3:]: fn for name, fn in globals().items() if name.startswith("op_")}


def main():
    out = sys.stdout
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        req = json.loads(line)
        if req.get("op") == "quit":
            break
        try:
            res = OPS[req["op"]](req)
            res.setdefault("ok", True)
        except TimeoutError as e:
            res = {"ok": False, "error": str(e) or "timeout"}
        except Exception as e:  # reported to the test, which fails loudly
            res = {"ok": False, "error": "%s: %s" % (type(e).__name__, e)}
        out.write(json.dumps(res) + "\n")
        out.flush()
    for n in list(proxies):
        op_proxy_stop({"proxy": n})
    for n in list(socks):
        op_close({"sock": n})
    ctx.term()


if __name__ == "__main__":
    main()
