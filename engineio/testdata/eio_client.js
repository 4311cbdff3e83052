// Drives the official engine.io-client against a switchboard engineio
// server (an echo server), one scenario per run, and prints one JSON line
// with what it saw. Run by TestInteropEngineIOClient with NODE_PATH set to
// interop/node/node_modules. Usage: node eio_client.js URL SCENARIO
"use strict";
const { Socket } = require("engine.io-client");

const [url, scenario] = process.argv.slice(2);
const opts = {
  "upgrade": { transports: ["polling", "websocket"] },
  "websocket": { transports: ["websocket"] },
  "polling": { transports: ["polling"] },
  "heartbeat": { transports: ["polling", "websocket"] },
  "server-close": { transports: ["websocket"] },
  "large": { transports: ["polling"] },
}[scenario];
if (!opts) { console.log(JSON.stringify({ error: "unknown scenario" })); process.exit(2); }

const out = { scenario, messages: [], upgraded: false };
const socket = new Socket(url, { path: "/engine.io/", ...opts });
const timer = setTimeout(() => finish("timeout"), 8000);

function finish(error) {
  clearTimeout(timer);
  if (error) out.error = error;
  out.transport = socket.transport ? socket.transport.name : null;
  console.log(JSON.stringify(out));
  socket.close();
  setTimeout(() => process.exit(0), 50);
}

function encode(m) {
  return typeof m === "string" ? { text: m } : { binary: Buffer.from(m).toString("hex") };
}

let expected = 0;
function sendAll(list) {
  expected = list.length;
  for (const m of list) socket.send(m);
}

socket.on("open", () => {
  out.sid = socket.id;
  switch (scenario) {
    case "upgrade":
      socket.on("upgrade", () => {
        out.upgraded = true;
        sendAll(["hello", Uint8Array.from([1, 2, 3, 4]), "€ ☃"]);
      });
      break;
    case "websocket":
    case "polling":
      sendAll(["hello", Uint8Array.from([1, 2, 3, 4]), "€ ☃", "x".repeat(1000)]);
      break;
    case "large":
      sendAll(["y".repeat(200000), Uint8Array.from(Array(100000).fill(7))]);
      break;
    case "heartbeat":
      out.pings = 0;
      socket.on("ping", () => {
        out.pings++;
        if (out.pings === 3) finish();
      });
      break;
    case "server-close":
      socket.send("close me");
      break;
  }
});

socket.on("message", (data) => {
  if (scenario === "large") {
    out.messages.push(typeof data === "string" ? { textLen: data.length } : { binaryLen: data.byteLength });
  } else {
    out.messages.push(encode(data));
  }
  if (expected > 0 && out.messages.length === expected) finish();
});

socket.on("close", (reason) => {
  out.closeReason = reason;
  if (scenario === "server-close") finish();
});

socket.on("error", (err) => { out.socketError = String(err); });
