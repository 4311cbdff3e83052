// The official socket.io 4.8 server for socketio's side-by-side broadcast
// benchmark (BenchmarkBroadcastVsNode). It listens on 127.0.0.1 (port
// printed as a JSON line) and, on a "go" event with (count, payload),
// broadcasts count "m" events to every client. It exits when stdin closes.
"use strict";
const http = require("http");
const { Server } = require("socket.io");

const srv = http.createServer();
const io = new Server(srv, { transports: ["websocket"] });
io.on("connection", (socket) => {
  socket.on("go", (count, payload) => {
    for (let i = 0; i < count; i++) io.emit("m", i, payload);
  });
});
srv.listen(0, "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ port: srv.address().port }) + "\n");
});
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
