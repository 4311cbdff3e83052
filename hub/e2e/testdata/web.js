// web.js: two participants of the hub's end-to-end test (hub/e2e) in one
// Node process: the chat page in Debian's headless Chromium (through
// playwright-core) as the user "web", and the official socket.io-client
// 4.8 as the user "sio". Both join "lobby".
//
//   NODE_PATH=interop/node/node_modules node web.js URL
//
// Commands on stdin, one a line: "say WHO TEXT" (WHO is web or sio),
// "quit". Reports on stdout, one JSON object a line:
//   {"who":"web","ev":"ready"}                      joined lobby
//   {"who":"sio","ev":"said","from":F,"text":T}     a line heard (each time)
//   {"who":"web","ev":"presence","user":U,"state":S}
//   {"who":"web","ev":"sent","text":T}              own line confirmed
//   {"ev":"error","error":E}                        then exit 1
// The page's lines are read from its DOM (li.msg not mine, sys lines for
// presence), so what is reported is what a person would see.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');
const { io } = require('socket.io-client');

const url = process.argv[2];
const T = 15000;
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const fail = (e) => { out({ ev: 'error', error: String(e && e.stack || e) }); process.exit(1); };

async function startSIO() {
  const s = io(url, { reconnection: false, forceNew: true, timeout: 5000 });
  s.on('said', (m) => out({ who: 'sio', ev: 'said', from: m.from, text: m.text }));
  s.on('presence', (m) => out({ who: 'sio', ev: 'presence', user: m.user, state: m.state }));
  s.on('connect_error', fail);
  await new Promise((resolve) => s.once('connect', resolve));
  const ack = (ev, arg) => s.timeout(T).emitWithAck(ev, arg);
  const n = await ack('nick', 'sio');
  if (!n.ok) throw new Error('nick: ' + JSON.stringify(n));
  const j = await ack('join', 'lobby');
  if (!j.ok) throw new Error('join: ' + JSON.stringify(j));
  out({ who: 'sio', ev: 'ready' });
  return {
    say: async (text) => {
      const a = await ack('say', { room: 'lobby', text });
      if (!a.ok) throw new Error('say: ' + JSON.stringify(a));
      out({ who: 'sio', ev: 'sent', text });
    },
    close: () => s.close(),
  };
}

async function startPage(ctx) {
  const page = await ctx.newPage();
  page.on('pageerror', (e) => fail('page error: ' + e.message));
  // Every line and presence notice the page shows, reported once each.
  await page.exposeFunction('sbReport', (o) => out(Object.assign({ who: 'web' }, o)));
  await page.goto(url + '?transport=websocket', { timeout: T });
  await page.locator('#status[data-state="online"]').waitFor({ timeout: T });
  await page.fill('#nick', 'web');
  await page.press('#nick', 'Enter');
  await page.locator('#room:not([disabled])').waitFor({ timeout: T });
  await page.fill('#room', 'lobby');
  await page.press('#room', 'Enter');
  await page.locator('#room-title', { hasText: '#lobby' }).waitFor({ timeout: T });
  await page.locator('#text:not([disabled])').waitFor({ timeout: T });
  await page.evaluate(() => {
    const seen = (li) => {
      if (li.matches('li.msg:not(.mine)')) {
        window.sbReport({ ev: 'said', from: li.dataset.from, text: li.querySelector('.text').textContent });
      } else if (li.matches('li.sys')) {
        const m = /^(\S+) (is online|went offline)\.$/.exec(li.textContent);
        if (m) window.sbReport({ ev: 'presence', user: m[1], state: m[2] === 'is online' ? 'online' : 'offline' });
      }
    };
    new MutationObserver((muts) => {
      for (const m of muts) for (const n of m.addedNodes || []) if (n.matches) seen(n);
    }).observe(document.getElementById('logs'), { subtree: true, childList: true });
  });
  out({ who: 'web', ev: 'ready' });
  return {
    say: async (text) => {
      await page.fill('#text', text);
      await page.press('#text', 'Enter');
      await page.locator('li.msg.mine[data-state="confirmed"]', { hasText: text }).waitFor({ timeout: T });
      out({ who: 'web', ev: 'sent', text });
    },
  };
}

async function main() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-e2e-chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run'],
  });
  try {
    const who = { sio: await startSIO(), web: await startPage(ctx) };
    const rl = require('readline').createInterface({ input: process.stdin });
    for await (const line of rl) {
      const [cmd, name, ...rest] = line.split(' ');
      if (cmd === 'quit') break;
      if (cmd === 'say' && who[name]) await who[name].say(rest.join(' '));
      else throw new Error('bad command: ' + line);
    }
    who.sio.close();
  } finally {
    await ctx.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), fail);
