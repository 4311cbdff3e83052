#!/usr/bin/python3
"""Capture the bytes libzmq (through pyzmq) puts on the wire, as golden files.

Usage (from the repository root, with Debian's python3-zmq):

    /usr/bin/python3 zmq/interop/capture_golden.py zmq/internal/zmtp/testdata

A raw TCP socket on 127.0.0.1 plays the other ZMTP peer: it answers with a
hand-written greeting and READY so that libzmq completes the handshake, then
records exactly what libzmq sends (or answers). Every file holds raw bytes
with no framing of our own; MANIFEST lists each file with its size and
SHA-256 so a diff shows what changed after a libzmq upgrade. The captures are
deterministic: running the script again gives the same files.

Run with --check instead of a directory to compare against the committed
files without writing anything.
"""

import hashlib
import os
import socket
import struct
import sys
import time

import zmq
import zmq.auth.thread

TIMEOUT = 5.0

SOCKET_TYPES = [
    ("PAIR", zmq.PAIR, "PAIR"),
    ("PUB", zmq.PUB, "SUB"),
    ("SUB", zmq.SUB, "PUB"),
    ("REQ", zmq.REQ, "REP"),
    ("REP", zmq.REP, "REQ"),
    ("DEALER", zmq.DEALER, "ROUTER"),
    ("ROUTER", zmq.ROUTER, "DEALER"),
    ("PULL", zmq.PULL, "PUSH"),
    ("PUSH", zmq.PUSH, "PULL"),
    ("XPUB", zmq.XPUB, "SUB"),
    ("XSUB", zmq.XSUB, "PUB"),
]


def greeting(mechanism=b"NULL", as_server=0, minor=1):
    """A ZMTP 3.x greeting as RFC 23/37 define it (64 bytes)."""
    sig = b"\xff" + b"\x00" * 8 + b"\x7f"
    mech = mechanism + b"\x00" * (20 - len(mechanism))
    return sig + bytes([3, minor]) + mech + bytes([as_server]) + b"\x00" * 31


def prop(name, value):
    return bytes([len(name)]) + name + struct.pack(">I", len(value)) + value


def command(name, body=b""):
    payload = bytes([len(name)]) + name + body
    if len(payload) <= 255:
        return bytes([0x04, len(payload)]) + payload
    return bytes([0x06]) + struct.pack(">Q", len(payload)) + payload


def ready(socket_type, identity=None):
    body = prop(b"Socket-Type", socket_type.encode())
    if identity is not None:
        body += prop(b"Identity", identity)
    return command(b"READY", body)


def recv_exact(conn, n):
    buf = b""
    deadline = time.monotonic() + TIMEOUT
    while len(buf) < n:
        if time.monotonic() > deadline:
            raise TimeoutError("timed out after %d of %d bytes" % (len(buf), n))
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise EOFError("peer closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return buf


def recv_frame(conn):
    """One ZMTP frame, returned as its exact wire bytes."""
    flags = recv_exact(conn, 1)
    if flags[0] & 0x02:
        hdr = recv_exact(conn, 8)
        size = struct.unpack(">Q", hdr)[0]
    else:
        hdr = recv_exact(conn, 1)
        size = hdr[0]
    return flags + hdr + recv_exact(conn, size)


def recv_message(conn):
    """Frames up to and including the one without MORE, as wire bytes."""
    out = b""
    while True:
        f = recv_frame(conn)
        out += f
        if not (f[0] & 0x01) or (f[0] & 0x04):
            return out


class Raw:
    """A raw TCP listener that one libzmq socket connects to."""

    def __init__(self):
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(1)
        self.lsock.settimeout(TIMEOUT)
        self.endpoint = "tcp://127.0.0.1:%d" % self.lsock.getsockname()[1]
        self.conn = None

    def accept(self):
        self.conn, _ = self.lsock.accept()
        self.conn.settimeout(TIMEOUT)
        return self.conn

    def close(self):
        if self.conn:
            self.conn.close()
        self.lsock.close()


def handshake(ctx, stype, peer_type, minor=1, setup=None):
    """Connect a libzmq socket of stype to a raw peer; return (sock, raw,
    libzmq's greeting, libzmq's READY)."""
    raw = Raw()
    s = ctx.socket(stype)
    s.linger = 0
    if setup:
        setup(s)
    s.connect(raw.endpoint)
    c = raw.accept()
    c.sendall(greeting(minor=minor))
    g = recv_exact(c, 64)
    r = recv_frame(c)
    c.sendall(ready(peer_type))
    return s, raw, g, r


def capture():
    files = {}
    ctx = zmq.Context()
    try:
        # Greeting and READY of every socket type, connecting side.
        for name, stype, peer in SOCKET_TYPES:
            s, raw, g, r = handshake(ctx, stype, peer)
            files["greeting-null.bin"] = g
            files["ready-%s.bin" % name.lower()] = r
            s.close()
            raw.close()

        # Greeting when libzmq binds and we connect: the same bytes.
        s = ctx.socket(zmq.PULL)
        s.linger = 0
        port = s.bind_to_random_port("tcp://127.0.0.1")
        c = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        c.settimeout(TIMEOUT)
        c.sendall(greeting())
        files["greeting-null-bind.bin"] = recv_exact(c, 64)
        files["ready-pull-bind.bin"] = recv_frame(c)
        c.sendall(ready("PUSH"))
        # A message we send with the same bytes our golden files hold must
        # arrive intact: proves our hand-written frames are what libzmq reads.
        c.sendall(bytes([0x00, 5]) + b"hello")
        if s.poll(int(TIMEOUT * 1000)) == 0 or s.recv() != b"hello":
            raise RuntimeError("libzmq did not accept a hand-written frame")
        c.close()
        s.close()

        # READY carrying an Identity (a DEALER with a routing id).
        s, raw, g, r = handshake(
            ctx, zmq.DEALER, "ROUTER",
            setup=lambda s: s.setsockopt(zmq.ROUTING_ID, b"dealer-1"))
        files["ready-dealer-identity.bin"] = r
        s.close()
        raw.close()

        # Data frames from PUSH: short, the 255/256 short/long boundary,
        # empty, multipart with an empty middle frame.
        s, raw, g, r = handshake(ctx, zmq.PUSH, "PULL")
        s.send(b"hello")
        files["msg-short.bin"] = recv_message(raw.conn)
        s.send(b"")
        files["msg-empty.bin"] = recv_message(raw.conn)
        s.send(bytes(range(256))[:255])
        files["msg-255.bin"] = recv_message(raw.conn)
        s.send(bytes(range(256)))
        files["msg-256.bin"] = recv_message(raw.conn)
        s.send_multipart([b"part1", b"", b"part3"])
        files["msg-multipart.bin"] = recv_message(raw.conn)
        s.close()
        raw.close()

        # REQ puts an empty delimiter before the request.
        s, raw, g, r = handshake(ctx, zmq.REQ, "REP")
        s.send(b"ping")
        files["req-request.bin"] = recv_message(raw.conn)
        s.close()
        raw.close()

        # SUB subscribe/unsubscribe: a 3.1 peer gets SUBSCRIBE/CANCEL
        # commands, a 3.0 peer the \x01/\x00 prefixed data frames.
        for minor in (1, 0):
            s, raw, g, r = handshake(ctx, zmq.SUB, "PUB", minor=minor)
            s.setsockopt(zmq.SUBSCRIBE, b"topic")
            files["subscribe-3%d.bin" % minor] = recv_message(raw.conn)
            s.setsockopt(zmq.UNSUBSCRIBE, b"topic")
            files["cancel-3%d.bin" % minor] = recv_message(raw.conn)
            s.setsockopt(zmq.SUBSCRIBE, b"")
            files["subscribe-all-3%d.bin" % minor] = recv_message(raw.conn)
            s.close()
            raw.close()
        files["greeting-null-30-peer.bin"] = greeting(minor=0)

        # Heartbeats: libzmq's PING (TTL from HEARTBEAT_TTL, in tenths of a
        # second; empty context) and its PONG answering our PING.
        def hb(s):
            s.setsockopt(zmq.HEARTBEAT_IVL, 50)
            s.setsockopt(zmq.HEARTBEAT_TTL, 3000)
            s.setsockopt(zmq.HEARTBEAT_TIMEOUT, 5000)
        s, raw, g, r = handshake(ctx, zmq.DEALER, "ROUTER", setup=hb)
        files["ping.bin"] = recv_frame(raw.conn)
        ours = command(b"PING", struct.pack(">H", 100) + b"ctx-123")
        files["ping-ours.bin"] = ours
        raw.conn.sendall(ours)
        while True:
            f = recv_frame(raw.conn)
            if f[0] & 0x04 and f[3:7] == b"PONG":
                files["pong.bin"] = f
                break
        s.close()
        raw.close()

        # PLAIN: the client's greeting and HELLO, and a server's WELCOME and
        # READY. (No ZAP handler: libzmq's PLAIN server then accepts all.)
        raw = Raw()
        s = ctx.socket(zmq.DEALER)
        s.linger = 0
        s.plain_username = b"admin"
        s.plain_password = b"secret"
        s.connect(raw.endpoint)
        c = raw.accept()
        c.sendall(greeting(mechanism=b"PLAIN", as_server=1))
        files["greeting-plain-client.bin"] = recv_exact(c, 64)
        files["hello.bin"] = recv_frame(c)
        s.close()
        raw.close()

        # libzmq 4.3's PLAIN server needs a ZAP handler: pyzmq's
        # ThreadAuthenticator with one user. A wrong password gets ERROR.
        auth = zmq.auth.thread.ThreadAuthenticator(ctx)
        auth.start()
        try:
            auth.configure_plain(domain="*", passwords={"admin": "secret"})
            s = ctx.socket(zmq.ROUTER)
            s.linger = 0
            s.plain_server = True
            port = s.bind_to_random_port("tcp://127.0.0.1")
            c = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
            c.settimeout(TIMEOUT)
            c.sendall(greeting(mechanism=b"PLAIN"))
            files["greeting-plain-server.bin"] = recv_exact(c, 64)
            c.sendall(command(b"HELLO", b"\x05admin\x06secret"))
            files["welcome.bin"] = recv_frame(c)
            c.sendall(command(b"INITIATE", prop(b"Socket-Type", b"DEALER")))
            files["ready-plain-router.bin"] = recv_frame(c)
            c.close()
            c = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
            c.settimeout(TIMEOUT)
            c.sendall(greeting(mechanism=b"PLAIN"))
            recv_exact(c, 64)
            c.sendall(command(b"HELLO", b"\x05admin\x05wrong"))
            files["error-plain-denied.bin"] = recv_frame(c)
            c.close()
            s.close()
        finally:
            auth.stop()

        # A wrong socket type: libzmq answers an incompatible READY with an
        # ERROR command before closing (libzmq 4.3 does this for NULL).
        s = ctx.socket(zmq.PULL)
        s.linger = 0
        port = s.bind_to_random_port("tcp://127.0.0.1")
        c = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        c.settimeout(TIMEOUT)
        c.sendall(greeting())
        recv_exact(c, 64)
        recv_frame(c)
        c.sendall(ready("PUB"))
        try:
            f = recv_frame(c)
            if f[0] & 0x04:
                files["error-socket-type.bin"] = f
        except (EOFError, ConnectionError):
            pass  # closed without an ERROR: nothing to record
        c.close()
        s.close()
    finally:
        ctx.destroy(linger=0)
    return files


def manifest(files):
    lines = ["# libzmq %s, pyzmq %s" % (zmq.zmq_version(), zmq.__version__)]
    for name in sorted(files):
        data = files[name]
        lines.append("%s %d %s" % (name, len(data), hashlib.sha256(data).hexdigest()))
    return "\n".join(lines) + "\n"


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: capture_golden.py DIR | --check DIR is implied by --check")
    files = capture()
    if sys.argv[1] == "--check":
        here = os.path.dirname(os.path.abspath(__file__))
        out = os.path.join(here, "..", "internal", "zmtp", "testdata")
        bad = 0
        for name, data in sorted(files.items()):
            path = os.path.join(out, name)
            try:
                with open(path, "rb") as f:
                    old = f.read()
            except FileNotFoundError:
                old = None
            if old != data:
                print("differs: %s" % name)
                bad += 1
        print("%d files, %d differ" % (len(files), bad))
        sys.exit(1 if bad else 0)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, data in files.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    with open(os.path.join(out, "MANIFEST"), "w") as f:
        f.write(manifest(files))
    print("wrote %d files to %s" % (len(files), out))


if __name__ == "__main__":
    main()
