// Official socket.io 4.8 servers for the Go client's interop tests
// (socketio/client_node_test.go).
//
// usage: node server.js [plainPort recoveryPort]
// Starts two servers on 127.0.0.1 (port 0 = any): "plain" and "recovery"
// (connectionStateRecovery on), prints one JSON line
// {"plain": port, "recovery": port} and serves until stdin closes or
// SIGTERM. Short heartbeats (pingInterval 1000, pingTimeout 1000) keep
// the tests quick.
"use strict";
const http = require("http");
const { Server } = require("socket.io");

const [plainPort = "0", recoveryPort = "0"] = process.argv.slice(2);

function handlers(io) {
  const log = [];
  io.of("/").on("connection", (socket) => {
    socket.on("echo", (...args) => {
      const cb = typeof args[args.length - 1] === "function" ? args.pop() : null;
      if (cb) cb(...args);
    });
    socket.on("bin", (m, cb) => {
      const blob = Buffer.from(m.blob);
      const ok = Array.isArray(m.list) && Buffer.from(m.list[0]).toString() === "ab";
      cb({ blob: Buffer.from(blob).reverse(), ok });
    });
    socket.on("pleaseAsk", (n) => {
      socket.timeout(5000).emit("ask", n, Buffer.from([1, 2, 3]), (err, x, blob) => {
        if (err) socket.emit("askResult", { error: String(err) });
        else socket.emit("askResult", { n: x, blobHex: Buffer.from(blob).toString("hex") });
      });
    });
    socket.on("record", (v) => log.push(v));
    socket.on("getLog", (cb) => cb(log.splice(0)));
    socket.on("whoami", (cb) => cb(socket.nsp.name, socket.conn.id, socket.conn.transport.name, socket.handshake.auth, socket.handshake.query.extra || null, socket.handshake.headers["x-extra"] || null));
    socket.on("kick", () => socket.disconnect());
    socket.on("join", (room, cb) => { socket.join(room); io.to(room).emit("welcome", 0); cb(socket.id); });
    socket.on("dropMe", (room, n) => {
      socket.conn.close();
      setTimeout(() => { for (let i = 1; i <= n; i++) io.to(room).emit("missed", i); }, 50);
    });
    socket.on("go", (count, payload) => { for (let i = 0; i < count; i++) io.emit("m", i, payload); });
    socket.on("ticks", (n) => { for (let i = 0; i < n; i++) socket.emit("tick", i); });
  });
  io.of("/chat").on("connection", (socket) => {
    socket.on("whoami", (cb) => cb(socket.nsp.name, socket.conn.id, socket.conn.transport.name, socket.handshake.auth));
  });
  io.of("/private").use((socket, next) => {
    if (socket.handshake.auth && socket.handshake.auth.token === "good") return next();
    const err = new Error("not authorized");
    err.data = { code: 401 };
    next(err);
  });
  io.of("/private").on("connection", (socket) => {
    socket.on("whoami", (cb) => cb(socket.nsp.name));
  });
}

function start(port, opts) {
  return new Promise((resolve, reject) => {
    const srv = http.createServer();
    const io = new Server(srv, { pingInterval: 1000, pingTimeout: 1000, ...opts });
    handlers(io);
    srv.once("error", reject);
    srv.listen(Number(port), "127.0.0.1", () => resolve({ srv, io, port: srv.address().port }));
  });
}

(async () => {
  const plain = await start(plainPort, {});
  const recovery = await start(recoveryPort, {
    connectionStateRecovery: { maxDisconnectionDuration: 30000, skipMiddlewares: true },
  });
  process.stdout.write(JSON.stringify({ plain: plain.port, recovery: recovery.port }) + "\n");
  const stop = () => {
    plain.io.close();
    recovery.io.close();
    process.exit(0);
  };
  process.stdin.on("end", stop);
  process.stdin.on("close", stop);
  process.stdin.resume();
  process.on("SIGTERM", stop);
})().catch((e) => { process.stderr.write(String(e.stack || e) + "\n"); process.exit(1); });
