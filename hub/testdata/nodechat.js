// nodechat.js: the chat protocol of package hub (nick, join, say with
// acks; said to the room but the sender) on the official socket.io 4.8
// server, for BenchmarkChatVsNode. A minimal version: no validation, no
// presence. It listens on 127.0.0.1 (port printed as a JSON line) and
// exits when stdin closes. Run with cwd interop/node.
'use strict';
const http = require('http');
const { Server } = require('socket.io');

const srv = http.createServer();
const io = new Server(srv, { transports: ['websocket'] });
let seq = 0;
io.on('connection', (s) => {
  s.on('nick', (name, ack) => { s.data.nick = name; if (ack) ack({ ok: true, nick: name }); });
  s.on('join', (room, ack) => { s.join(room); if (ack) ack({ ok: true, room }); });
  s.on('say', (m, ack) => {
    const id = 'n-' + (++seq).toString(36);
    const at = Date.now();
    s.to(m.room).emit('said', { room: m.room, from: s.data.nick, text: m.text, id, at });
    if (ack) ack({ ok: true, id, at });
  });
});
srv.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: srv.address().port }) + '\n');
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
