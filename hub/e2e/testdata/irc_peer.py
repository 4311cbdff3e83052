#!/usr/bin/python3
"""IRC participant of the hub's end-to-end test (hub/e2e), on Debian's
python3-irc (the irc.client library, a real IRC client).

usage: irc_peer.py HOST PORT

Registers as "ircpy", joins "#lobby". Commands on stdin, one a line: "say
TEXT", "quit". Reports on stdout, one JSON object a line, as web.js does
({"who":"ircpy","ev":"said","from":F,"text":T}, "presence" from the
server's "*** U has logged in/out" notices, "sent", "error"). Stops after
50 s whatever happens.
"""
import json
import os
import re
import select
import sys
import time

import irc.client


def out(**o):
    o.setdefault("who", "ircpy")
    print(json.dumps(o), flush=True)


host, port = sys.argv[1], int(sys.argv[2])
Reactor = getattr(irc.client, "Reactor", None) or irc.client.IRC  # older python3-irc
reactor = Reactor()
conn = reactor.server().connect(host, port, "ircpy", username="ircpy", ircname="e2e")
state = {"running": True}


def on_welcome(c, e):
    c.join("#lobby")


def on_join(c, e):
    if e.source.nick == "ircpy":
        out(ev="ready")


def on_pubmsg(c, e):
    out(ev="said", **{"from": e.source.nick, "text": e.arguments[0]})


def on_notice(c, e):
    m = re.match(r"^\*\*\* (\S+) has logged (in|out)$", e.arguments[0])
    if m:
        out(ev="presence", user=m.group(1), state="online" if m.group(2) == "in" else "offline")


def on_error(c, e):
    out(ev="error", error="server error %r" % (e.arguments,))
    state["running"] = False


conn.add_global_handler("welcome", on_welcome)
conn.add_global_handler("join", on_join)
conn.add_global_handler("pubmsg", on_pubmsg)
conn.add_global_handler("privnotice", on_notice)
conn.add_global_handler("error", on_error)

deadline = time.monotonic() + 50
buf = b""
while state["running"] and time.monotonic() < deadline:
    reactor.process_once(0.05)
    r, _, _ = select.select([sys.stdin], [], [], 0)
    if not r:
        continue
    chunk = os.read(sys.stdin.fileno(), 4096)
    if not chunk:
        break
    buf += chunk
    while b"\n" in buf:
        line, buf = buf.split(b"\n", 1)
        cmd, _, text = line.decode().partition(" ")
        if cmd == "say":
            conn.privmsg("#lobby", text)
            out(ev="sent", text=text)
        elif cmd == "quit":
            state["running"] = False
if conn.is_connected():
    conn.quit("bye")
