#!/usr/bin/python3
"""ircpeer.py drives one IRC connection made with Debian's python3-irc
library (irc.client) for switchboard's interop tests.

Usage: /usr/bin/python3 ircpeer.py HOST PORT NICK

It reads commands as JSON lines on stdin:
  {"op": "join", "channel": "#lobby"}
  {"op": "privmsg", "target": "#lobby", "text": "hi"}
  {"op": "action", "target": "#lobby", "text": "waves"}
  {"op": "topic", "channel": "#lobby", "text": "plans"}
  {"op": "part", "channel": "#lobby"}
  {"op": "quit", "text": "bye"}
and prints what happens as JSON lines on stdout:
  {"ev": "welcome", "nick": "py"}
  {"ev": "pubmsg", "source": "ann", "target": "#lobby", "text": "hi"}
  {"ev": "privmsg", ...}, {"ev": "action", ...}, {"ev": "notice", ...},
  {"ev": "join", "source": ..., "target": ...}, {"ev": "part", ...},
  {"ev": "topic", ...}, {"ev": "namreply", "text": "ann py"},
  {"ev": "error", "text": ...}, {"ev": "disconnect"}
It exits when stdin closes or the server disconnects.
"""
import json
import queue
import sys
import threading

import irc.client


def out(**kw):
    sys.stdout.write(json.dumps(kw) + "\n")
    sys.stdout.flush()


def main():
    host, port, nick = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    # Reactor in irc >= 11; IRC in older releases (Debian ships 8.5).
    reactor = getattr(irc.client, "Reactor", None) or irc.client.IRC
    reactor = reactor()
    conn = reactor.server().connect(host, port, nick, username=nick, ircname=nick + " via python3-irc")
    done = threading.Event()

    def src(e):
        return str(e.source or "").split("!", 1)[0]

    def text(e):
        return e.arguments[-1] if e.arguments else ""

    def on(kind):
        def handler(c, e):
            out(ev=kind, source=src(e), target=e.target or "", text=text(e))
        return handler

    conn.add_global_handler("welcome", lambda c, e: out(ev="welcome", nick=c.get_nickname()))
    for kind in ("pubmsg", "privmsg", "action", "pubnotice", "privnotice", "join", "part", "topic", "error"):
        conn.add_global_handler(kind, on(kind))
    conn.add_global_handler("namreply", lambda c, e: out(ev="namreply", target=e.arguments[1], text=e.arguments[2]))
    conn.add_global_handler("currenttopic", lambda c, e: out(ev="currenttopic", target=e.arguments[0], text=e.arguments[1]))

    def on_disconnect(c, e):
        out(ev="disconnect", text=text(e))
        done.set()
    conn.add_global_handler("disconnect", on_disconnect)

    cmds = queue.Queue()

    def read_stdin():
        for line in sys.stdin:
            cmds.put(line)
        cmds.put(None)
    threading.Thread(target=read_stdin, daemon=True).start()

    while not done.is_set():
        reactor.process_once(0.05)
        while True:
            try:
                line = cmds.get_nowait()
            except queue.Empty:
                break
            if line is None:
                if conn.is_connected():
                    conn.quit("stdin closed")
                    reactor.process_once(0.2)
                return
            c = json.loads(line)
            op = c["op"]
            if op == "join":
                conn.join(c["channel"])
            elif op == "privmsg":
                conn.privmsg(c["target"], c["text"])
            elif op == "action":
                conn.action(c["target"], c["text"])
            elif op == "topic":
                conn.topic(c["channel"], c["text"])
            elif op == "part":
                conn.part(c["channel"])
            elif op == "quit":
                conn.quit(c.get("text", ""))
            else:
                out(ev="bad", text=line)


if __name__ == "__main__":
    main()
