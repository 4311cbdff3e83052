// sioclient.js drives official socket.io-client 4.8 connections for hub's
// interop tests. Usage: node sioclient.js URL (run with NODE_PATH or cwd
// interop/node so require finds the pinned packages).
//
// It reads commands as JSON lines on stdin:
//   {"op":"connect","id":"a1","transports":["websocket"]}
//   {"op":"emit","id":"a1","ev":"nick","args":["ann"],"tag":"t1"}
//   {"op":"close","id":"a1"}
// and prints what happens as JSON lines on stdout, in the order received:
//   {"id":"a1","ev":"connect","sid":"..."}
//   {"id":"a1","ev":"said","data":{...}}          (any server event)
//   {"id":"a1","ack":"t1","data":{...}}           (an ack; "err" on timeout)
//   {"id":"a1","ev":"closed"}
// It exits when stdin closes.
'use strict';
const { io } = require('socket.io-client');
const readline = require('readline');

const url = process.argv[2];
const socks = new Map();
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');

function connect(c) {
  const s = io(url, {
    transports: c.transports || ['polling', 'websocket'],
    reconnection: false,
    forceNew: true,
    timeout: 5000,
  });
  socks.set(c.id, s);
  s.on('connect', () => out({ id: c.id, ev: 'connect', sid: s.id, transport: s.io.engine.transport.name }));
  s.on('connect_error', (e) => out({ id: c.id, ev: 'connect_error', data: e.message }));
  s.on('disconnect', (r) => out({ id: c.id, ev: 'disconnect', data: r }));
  s.onAny((ev, ...args) => out({ id: c.id, ev, data: args[0] }));
}

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  let c;
  try { c = JSON.parse(line); } catch (e) { out({ error: 'bad command: ' + line }); return; }
  const s = socks.get(c.id);
  switch (c.op) {
    case 'connect':
      connect(c);
      break;
    case 'emit':
      s.timeout(c.timeout || 5000).emit(c.ev, ...(c.args || []), (err, data) => {
        out(err ? { id: c.id, ack: c.tag, err: err.message } : { id: c.id, ack: c.tag, data });
      });
      break;
    case 'close':
      s.disconnect();
      out({ id: c.id, ev: 'closed' });
      break;
    default:
      out({ error: 'unknown op ' + c.op });
  }
});
rl.on('close', () => {
  for (const s of socks.values()) s.disconnect();
  process.exit(0);
});
