// sbclient.js runs hub/web/sb.js (the page's own Socket.IO client) in Node
// against a hub, without a browser:
//
//   node [--experimental-websocket] sbclient.js URL SB_JS TRANSPORTS
//
// TRANSPORTS is sb.js's transports option, comma-separated (e.g.
// "websocket,polling" or "polling"). Two clients pick names and join a
// room; one says a line, the other must receive it and the sender get the
// ack. The last line printed is {"ok":true,"transports":[...]} or
// {"ok":false,"error":...}.
'use strict';
const fs = require('fs');
const vm = require('vm');

const [url, sbPath, transports] = process.argv.slice(2);
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');

function load() {
  const ctx = { console, setTimeout, clearTimeout, fetch, AbortController, URL, WebSocket: globalThis.WebSocket };
  ctx.globalThis = ctx;
  vm.createContext(ctx);
  vm.runInContext(fs.readFileSync(sbPath, 'utf8'), ctx, { filename: 'sb.js' });
  return ctx.SB;
}

function once(sock, ev, ms) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('timeout waiting for ' + ev)), ms || 10000);
    const fn = (...args) => { clearTimeout(t); sock.off(ev, fn); resolve(args); };
    sock.on(ev, fn);
  });
}

async function main() {
  const SB = load();
  const opts = { url, transports: transports.split(',') };
  const a = SB.connect(opts);
  const b = SB.connect(opts);
  try {
    await Promise.all([once(a, 'connect'), once(b, 'connect')]);
    for (const [s, n] of [[a, 'ann'], [b, 'bob']]) {
      const r1 = await s.emitWithAck('nick', n);
      const r2 = await s.emitWithAck('join', 'lobby');
      if (!r1.ok || !r2.ok) throw new Error('nick/join: ' + JSON.stringify([r1, r2]));
    }
    const said = once(b, 'said');
    const ack = await a.emitWithAck('say', { room: 'lobby', text: 'hi from sb.js' });
    if (!ack.ok || !ack.id) throw new Error('say ack: ' + JSON.stringify(ack));
    const [m] = await said;
    if (m.id !== ack.id || m.from !== 'ann' || m.text !== 'hi from sb.js') throw new Error('said: ' + JSON.stringify(m));
    const names = [a.transport && a.transport.name, b.transport && b.transport.name];
    out({ ok: true, transports: names });
  } finally {
    a.close();
    b.close();
  }
}

main().then(() => process.exit(0), (e) => {
  out({ ok: false, error: String(e && e.stack || e) });
  process.exit(1);
});
