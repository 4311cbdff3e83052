// The official socket.io-client 4.8 side of socketio's client benchmarks
// (BenchmarkClientVsNode): the same work as the Go client, timed in-process.
//
// usage: node bench-client.js URL MODE N TRANSPORT
//   echo  N sequential emitWithAck("echo", payload) round trips
//   recv  asks the server for N "tick" events ("ticks", N) and receives them
// Prints one JSON line {"ns": total nanoseconds of the timed loop}.
"use strict";
const { io } = require("socket.io-client");

const [url, mode, nStr, transport] = process.argv.slice(2);
const n = Number(nStr);
const payload = "x".repeat(64);

const sock = io(url, { transports: [transport], reconnection: false, forceNew: true });
sock.on("connect_error", (e) => { process.stderr.write(String(e) + "\n"); process.exit(1); });
sock.on("connect", async () => {
  for (let i = 0; i < 50; i++) await sock.emitWithAck("echo", payload); // warm up
  const t0 = process.hrtime.bigint();
  if (mode === "echo") {
    for (let i = 0; i < n; i++) await sock.emitWithAck("echo", payload);
  } else {
    await new Promise((res) => {
      let got = 0;
      sock.on("tick", () => { if (++got === n) res(); });
      sock.emit("ticks", n);
    });
  }
  const ns = process.hrtime.bigint() - t0;
  process.stdout.write(JSON.stringify({ ns: Number(ns) }) + "\n");
  sock.close();
  process.exit(0);
});
