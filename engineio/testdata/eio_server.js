// The Node.js side of BenchmarkCompare*: the official engine.io server
// (6.x, as socket.io 4.8 uses it) on 127.0.0.1, path /engine.io/. It
// prints "port N" once listening. A message "bcast:K:SIZE" from any client
// makes it send K messages of SIZE bytes to every open socket. It exits
// when stdin closes. Run with NODE_PATH=interop/node/node_modules.
"use strict";
const http = require("http");
const engine = require("engine.io");

const httpServer = http.createServer();
const server = new engine.Server({ pingInterval: 3600e3, pingTimeout: 60e3, maxHttpBufferSize: 1e6 });
server.attach(httpServer, { path: "/engine.io/" });

server.on("connection", (socket) => {
  socket.on("message", (data) => {
    const m = /^bcast:(\d+):(\d+)$/.exec(String(data));
    if (!m) return;
    const k = Number(m[1]);
    const msg = "x".repeat(Number(m[2]));
    for (let i = 0; i < k; i++) {
      for (const id in server.clients) server.clients[id].send(msg);
    }
  });
});

httpServer.listen(0, "127.0.0.1", () => {
  console.log("port " + httpServer.address().port);
});
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
