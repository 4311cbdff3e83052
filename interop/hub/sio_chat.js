// The official socket.io-client in a room with ZeroMQ services, for
// switchboard's ZeroMQ door (hub/zmqdoor interop test).
//
// usage: node sio_chat.js URL   (NODE_PATH=interop/node/node_modules)
//
// It joins "lobby" as "web", says "hello from web", and when "py" answers
// makes RPCs (upper: a Go worker; reverse: a pyzmq worker; ignored: a Go
// worker that never answers; nope: no worker), then says "bye". When "py"
// says "done" it prints what it heard and the acks as one JSON line.
const { io } = require("socket.io-client");

const url = process.argv[2];
const socket = io(url, { reconnection: false });
const heard = [];
const rpcs = [];
const fail = (why) => {
  console.log(JSON.stringify({ error: String(why), heard, rpcs }));
  process.exit(1);
};
setTimeout(() => fail("timed out"), 30000).unref();

const ack = (ev, arg) => socket.timeout(10000).emitWithAck(ev, arg);

socket.on("connect_error", fail);
socket.on("said", async (m) => {
  heard.push(m.from + ": " + m.text);
  if (m.from === "py" && m.text === "hello from py") {
    for (const [service, body] of [["upper", "abc"], ["reverse", "abc"], ["ignored", "x"], ["nope", 1]]) {
      rpcs.push(await ack("rpc", { service, body }));
    }
    await ack("say", { room: "lobby", text: "bye" });
  }
  if (m.from === "py" && m.text === "done") {
    console.log(JSON.stringify({ heard, rpcs }));
    socket.close();
    process.exit(0);
  }
});

socket.on("connect", async () => {
  try {
    const n = await ack("nick", "web");
    if (!n.ok) throw new Error(JSON.stringify(n));
    const j = await ack("join", "lobby");
    if (!j.ok) throw new Error(JSON.stringify(j));
    const s = await ack("say", { room: "lobby", text: "hello from web" });
    if (!s.ok) throw new Error(JSON.stringify(s));
  } catch (e) {
    fail(e);
  }
});
