// bench_chat.js: the hub's chat protocol (nick, join, say with acks; said
// to the room but the sender) on the official socket.io 4.8 server, Node's
// side of the hub benchmark (internal/hubbench, ci/bench.d/hub.sh). The
// same handlers as hubbench's bare Go server: no validation, no presence,
// default settings. Listens on 127.0.0.1, prints {"port":N} once
// listening, exits when stdin closes. Run with cwd interop/node (or
// NODE_PATH=interop/node/node_modules).
'use strict';
const http = require('http');
const { Server } = require('socket.io');

const srv = http.createServer();
const io = new Server(srv);
let seq = 0;
io.on('connection', (s) => {
  s.on('nick', (name, ack) => { s.data.nick = name; if (typeof ack === 'function') ack({ ok: true, nick: name }); });
  s.on('join', (room, ack) => { s.join(room); if (typeof ack === 'function') ack({ ok: true, room }); });
  s.on('say', (m, ack) => {
    const id = (++seq).toString(36);
    const at = Date.now();
    s.to(m.room).emit('said', { room: m.room, from: s.data.nick, text: m.text, id, at });
    if (typeof ack === 'function') ack({ ok: true, id, at });
  });
});
srv.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: srv.address().port }) + '\n');
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
