// The official socket.io 4.8 server's side of the Socket.IO speed
// comparison (ci/bench.d/sio.sh, driven by internal/siobench), with the
// same handlers as internal/siobench/server (switchboard's side):
//   "go" (count, payload): broadcast count "m" events (i, payload) to all;
//   "echo" (...args, ack): acknowledge with the same arguments.
// Default settings (run with node --expose-gc); listens on 127.0.0.1, prints {"port":N} once
// listening, exits when stdin closes.
"use strict";
const http = require("http");
const { Server } = require("socket.io");

const srv = http.createServer();
const io = new Server(srv);
io.on("connection", (socket) => {
  socket.on("go", (count, payload) => {
    for (let i = 0; i < count; i++) io.emit("m", i, payload);
  });
  socket.on("echo", (...args) => {
    const ack = args.pop();
    if (typeof ack === "function") ack(...args);
  });
});
srv.listen(0, "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ port: srv.address().port }) + "\n");
});
// A line "gc" runs a full garbage collection (node --expose-gc), then
// prints "gc done", as switchboard's server does.
let pending = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => {
  pending += chunk;
  let i;
  while ((i = pending.indexOf("\n")) >= 0) {
    const line = pending.slice(0, i);
    pending = pending.slice(i + 1);
    if (line === "gc" && global.gc) {
      global.gc();
      process.stdout.write("gc done\n");
    }
  }
});
process.stdin.on("end", () => process.exit(0));
