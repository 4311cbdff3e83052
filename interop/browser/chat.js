// chat.js: drives two switchboard chat pages in Debian's headless Chromium
// through playwright-core, against a hub a Go test started.
//
//   NODE_PATH=interop/node/node_modules node interop/browser/chat.js URL [SCREENSHOT.png]
//
// Page A uses WebSocket, page B long-polling with the upgrade to WebSocket.
// Both pick a name and join "lobby"; A says a line and must see it pending,
// then confirmed; B must show it; B answers and A must show that. Then it
// prints {"step":"restart"} and waits for a line on stdin: the Go test
// restarts the server meanwhile, and both pages must reconnect, restore
// name and room, and talk again. Last, B leaves the room with its button
// (A sees bob leave), then closes (A sees bob go offline).
// Progress and the result are JSON lines on stdout; the last is
// {"ok":true,...} or {"ok":false,"error":...}. Never downloads a browser: it runs
// /usr/bin/chromium (or $CHROMIUM) with a fresh profile directory.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

const url = process.argv[2];
const shot = process.argv[3];
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const T = 15000; // per-step timeout, ms

// nextLine resolves with the next line on stdin (the Go test's go-ahead).
const stdinLines = [];
const stdinWaiters = [];
require('readline').createInterface({ input: process.stdin }).on('line', (l) => {
  const w = stdinWaiters.shift();
  if (w) w(l); else stdinLines.push(l);
});
function nextLine() {
  if (stdinLines.length) return Promise.resolve(stdinLines.shift());
  return new Promise((resolve) => stdinWaiters.push(resolve));
}

async function openChat(ctx, name, transport, problems) {
  const page = await ctx.newPage();
  page.on('console', (m) => { if (m.type() === 'error') problems.push(name + ' console: ' + m.text()); });
  page.on('pageerror', (e) => problems.push(name + ' page error: ' + e.message));
  page.on('requestfailed', (r) => {
    // aborted polls are expected when polling upgrades to WebSocket
    if (!/transport=polling/.test(r.url())) problems.push(name + ' request failed: ' + r.url());
  });
  await page.goto(url + '?transport=' + transport, { timeout: T });
  await page.locator('#status[data-state="online"]').waitFor({ timeout: T });
  await page.fill('#nick', name);
  await page.press('#nick', 'Enter');
  await page.locator('#room:not([disabled])').waitFor({ timeout: T });
  await page.fill('#room', 'lobby');
  await page.press('#room', 'Enter');
  await page.locator('#room-title', { hasText: '#lobby' }).waitFor({ timeout: T });
  await page.locator('#text:not([disabled])').waitFor({ timeout: T });
  out({ step: 'joined', page: name });
  return page;
}

async function transportOf(page) {
  return page.evaluate(() => window.sbChat.sock.transport && window.sbChat.sock.transport.name);
}

async function main() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-chromium-'));
  const problems = [];
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run'],
    viewport: { width: 1100, height: 700 },
  });
  try {
    const a = await openChat(ctx, 'ada', 'websocket', problems);
    const b = await openChat(ctx, 'bob', 'polling', problems);

    // A sees B join and come online.
    await a.locator('#online li', { hasText: 'bob' }).waitFor({ timeout: T });
    await a.locator('ol.log li.sys', { hasText: 'bob joined' }).waitFor({ timeout: T });

    // A says a line: it shows as pending, then confirmed. A MutationObserver
    // records every state the line goes through.
    await a.evaluate(() => {
      window.seenStates = [];
      const record = (li) => window.seenStates.push(li.dataset.state);
      new MutationObserver((muts) => {
        for (const m of muts) {
          if (m.type === 'attributes' && m.target.matches('li.msg.mine')) record(m.target);
          for (const n of m.addedNodes || []) if (n.matches && n.matches('li.msg.mine')) record(n);
        }
      }).observe(document.getElementById('logs'), { subtree: true, childList: true, attributes: true, attributeFilter: ['data-state'] });
    });
    const text = 'hello from ada ' + Date.now();
    await a.fill('#text', text);
    await a.press('#text', 'Enter');
    const mine = a.locator('li.msg.mine', { hasText: text });
    await a.locator('li.msg.mine[data-state="confirmed"]', { hasText: text }).waitFor({ timeout: T });
    const id = await mine.getAttribute('data-id');
    const states = await a.evaluate(() => window.seenStates);
    out({ step: 'confirmed', page: 'ada', states, id });
    if (states.join(',') !== 'pending,confirmed') throw new Error('line states: ' + states.join(','));

    // B shows it, from ada, with the same id.
    const got = b.locator('li.msg[data-from="ada"]', { hasText: text });
    await got.waitFor({ timeout: T });
    const gotID = await got.getAttribute('data-id');
    out({ step: 'received', page: 'bob', id: gotID });
    if (gotID !== id) throw new Error('message id differs: ' + id + ' vs ' + gotID);

    // B answers; A shows it.
    const reply = 'hi ada, bob here';
    await b.fill('#text', reply);
    await b.press('#text', 'Enter');
    await b.locator('li.msg.mine[data-state="confirmed"]', { hasText: reply }).waitFor({ timeout: T });
    await a.locator('li.msg[data-from="bob"]', { hasText: reply }).waitFor({ timeout: T });
    out({ step: 'replied' });

    const ta = await transportOf(a);
    const tb = await transportOf(b);
    if (shot) await a.screenshot({ path: shot, fullPage: true });

    // The Go test restarts the server (a new, empty hub on the same port).
    // Both pages reconnect and restore their name and room, then talk.
    out({ step: 'restart' });
    await nextLine();
    for (const p of [a, b]) {
      await p.locator('ol.log li.sys', { hasText: 'Reconnected.' }).waitFor({ timeout: T });
    }
    const again = 'after the restart';
    await a.fill('#text', again);
    await a.press('#text', 'Enter');
    await a.locator('li.msg.mine[data-state="confirmed"]', { hasText: again }).waitFor({ timeout: T });
    await b.locator('li.msg[data-from="ada"]', { hasText: again }).waitFor({ timeout: T });
    out({ step: 'reconnected' });

    // B leaves the room with its button: A sees bob leave; B's page drops
    // the room. Then B closes its page: A sees bob go offline.
    await b.getByRole('button', { name: 'Leave room lobby' }).click();
    await a.locator('ol.log li.sys', { hasText: 'bob left' }).waitFor({ timeout: T });
    await b.locator('#rooms li').waitFor({ state: 'detached', timeout: T });
    await b.close();
    await a.locator('#online li', { hasText: 'bob' }).waitFor({ state: 'detached', timeout: T });
    await a.locator('ol.log li.sys', { hasText: 'bob went offline' }).waitFor({ timeout: T });
    out({ step: 'left' });

    if (problems.length) throw new Error(problems.join('; '));
    out({ ok: true, states, transports: { ada: ta, bob: tb } });
  } finally {
    await ctx.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

main().then(() => process.exit(), (e) => {
  out({ ok: false, error: String(e && e.stack || e) });
  process.exit(1);
});
