// Socket.IO interop scenarios for socketio's Go tests, run against a Go
// server with the official socket.io-client 4.8.
//
// usage: node scenarios.js <url> <recoveryURL> [scenario ...]
// Every scenario runs concurrently; each prints JSON lines
// {"s": scenario, "k": key, "v": value} and ends with {"s", "k": "done"} or
// {"s", "k": "error", "v": message}. The Go test checks the values.
"use strict";
const { io } = require("socket.io-client");

const [url, recoveryURL, ...only] = process.argv.slice(2);
const STEP = 10000; // ms bound on each awaited step

function out(s, k, v) {
  process.stdout.write(JSON.stringify({ s, k, v }) + "\n");
}

function within(p, what) {
  let t;
  return Promise.race([
    p,
    new Promise((_, rej) => { t = setTimeout(() => rej(new Error("timeout: " + what)), STEP); }),
  ]).finally(() => clearTimeout(t));
}

const once = (em, ev) => within(new Promise((res) => em.once(ev, (...a) => res(a))), ev);

function connect(path, opts = {}, base = url) {
  const sock = io(base + path, { forceNew: true, reconnection: false, ...opts });
  return sock;
}

async function connected(sock) {
  await within(new Promise((res, rej) => {
    sock.once("connect", res);
    sock.once("connect_error", rej);
  }), "connect");
  return sock;
}

const hex = (b) => Buffer.from(b).toString("hex");

// basic: events and acks both ways, binary both ways, over one transport
// setting; reports the transport in use at the end.
function basic(transports) {
  return async (s) => {
    const opts = transports ? { transports } : {};
    const sock = await connected(connect("/", opts));
    const echo = await within(sock.emitWithAck("echo", 1, "two", { three: [3] }), "echo");
    out(s, "echo", echo);
    const bin = await within(sock.emitWithAck("bin", { blob: Buffer.from([1, 2, 3]), list: [Buffer.from("ab")] }), "bin");
    out(s, "bin", { blob: hex(bin.blob), kind: Buffer.isBuffer(bin.blob) || bin.blob instanceof ArrayBuffer });
    // server -> client with ack, binary argument
    const ask = new Promise((res) => sock.once("ask", (n, blob, cb) => { cb(n * 2, Buffer.from(blob).reverse()); res(hex(blob)); }));
    sock.emit("pleaseAsk", 21);
    out(s, "asked", await within(ask, "ask"));
    const [result] = await once(sock, "askResult");
    out(s, "askResult", result);
    if (!transports) {
      if (sock.io.engine.transport.name !== "websocket") await once(sock.io.engine, "upgrade");
    }
    out(s, "transport", sock.io.engine.transport.name);
    sock.disconnect();
  };
}

// rooms: 5 clients (odd ones long-polling, even ones on WebSocket),
// even/odd rooms; to room, broadcast but sender, acks collected from every
// client.
async function rooms(s) {
  const n = 5;
  const socks = await Promise.all(Array.from({ length: n }, (_, i) =>
    connected(connect("/rooms", { auth: { i, room: i % 2 ? "odd" : "even" }, transports: i % 2 ? ["polling"] : ["websocket"] }))));
  const got = socks.map(() => []);
  socks.forEach((sk, i) => {
    sk.onAny((ev, ...args) => { if (ev !== "vote") got[i].push(ev + ":" + args[0]); });
    sk.on("vote", (q, cb) => cb(i));
  });
  await within(socks[0].emitWithAck("toRoom", "even", "hi-even"), "toRoom");
  await within(socks[1].emitWithAck("shout", "all-but-1"), "shout");
  const votes = await within(socks[2].emitWithAck("poll"), "poll");
  out(s, "votes", votes);
  // Wait until each socket has what it should get (other connections
  // have no ordering with ours).
  const want = socks.map((_, i) => (i % 2 === 0 && i !== 0 ? 1 : 0) + (i !== 1 ? 1 : 0));
  await within(new Promise((res) => {
    const check = () => (got.every((g, i) => g.length >= want[i]) ? res() : setTimeout(check, 5));
    check();
  }), "room messages");
  out(s, "got", got);
  socks.forEach((sk) => sk.disconnect());
}

// middleware: refusal with data, then success with the right token.
async function middleware(s) {
  const bad = connect("/private", { auth: { token: "bad" } });
  const [err] = await once(bad, "connect_error");
  out(s, "refused", { message: err.message, data: err.data });
  bad.close();
  const good = await connected(connect("/private", { auth: { token: "good" } }));
  out(s, "accepted", good.connected);
  good.disconnect();
}

// dynamic: a namespace matching the pattern, and one that does not.
async function dynamic(s) {
  const ok = await connected(connect("/dyn-42"));
  const name = await within(ok.emitWithAck("whoami"), "whoami");
  out(s, "whoami", name);
  ok.disconnect();
  const no = connect("/dyn-x");
  const [err] = await once(no, "connect_error");
  out(s, "invalid", err.message);
  no.close();
}

// disconnects: the server kicks us; we leave a namespace ourselves.
async function disconnects(s) {
  const a = await connected(connect("/bye"));
  a.emit("kick");
  const [reason] = await once(a, "disconnect");
  out(s, "kicked", reason);
  const b = await connected(connect("/bye"));
  b.disconnect();
  out(s, "left", true);
}

// malformed: a raw engine message that is no Socket.IO packet gets us
// dropped; a neighbour keeps working.
async function malformed(s) {
  const bad = await connected(connect("/"));
  const good = await connected(connect("/"));
  bad.io.engine.send('2{"not":"an array"}');
  const [reason] = await once(bad, "disconnect");
  out(s, "dropped", reason);
  const echo = await within(good.emitWithAck("echo", "still here"), "echo");
  out(s, "neighbour", echo);
  good.disconnect();
}

// recovery: receive a broadcast, lose the connection, miss two broadcasts,
// reconnect: same id, recovered, missed packets delivered.
async function recovery(s) {
  const watcher = await connected(connect("/", { auth: { watcher: true } }, recoveryURL));
  const a = await connected(connect("/", { auth: { room: "a" } }, recoveryURL));
  const ticks = [];
  a.on("tick", (n, blobOrOffset) => ticks.push(Buffer.isBuffer(blobOrOffset) ? n + ":" + hex(blobOrOffset) : n));
  const firstID = a.id;
  out(s, "first", { recovered: a.recovered });
  const tick1 = once(a, "tick");
  a.emit("ready");
  await tick1;
  const missedSent = once(watcher, "missedSent");
  a.io.engine.close();
  await missedSent;
  a.connect();
  await once(a, "connect");
  const last = await within(a.emitWithAck("sync"), "sync"); // after missed packets
  out(s, "second", { recovered: a.recovered, sameID: a.id === firstID, ticks, last });
  a.disconnect();
  watcher.disconnect();
}

const scenarios = {
  "basic-polling": basic(["polling"]),
  "basic-websocket": basic(["websocket"]),
  "basic-upgrade": basic(null),
  rooms,
  middleware,
  dynamic,
  disconnects,
  malformed,
  recovery,
};

const names = only.length ? only : Object.keys(scenarios);
Promise.all(names.map(async (name) => {
  try {
    await scenarios[name](name);
    out(name, "done", true);
  } catch (e) {
    out(name, "error", String(e && e.stack || e));
  }
})).then(() => process.exit(0));
