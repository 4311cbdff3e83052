// browser.js: runs the official socket.io browser client (socket.io.min.js
// 4.8) in Debian's headless Chromium through playwright-core against a Go
// test's server, which serves the page at URL.
//
// usage: node browser.js URL
// For each transport setting (polling, websocket, polling then upgrade) the
// page connects, has an event acknowledged, sends binary and gets binary
// back (ArrayBuffer), and answers a server-side ack request with binary.
// Prints one JSON line per setting, {"s", "k", "v"} as scenarios.js does.
// Never downloads a browser: it runs /usr/bin/chromium (or $CHROMIUM).
"use strict";
const fs = require("fs");
const os = require("os");
const path = require("path");
const { chromium } = require("playwright-core");

const url = process.argv[2];
const out = (s, k, v) => process.stdout.write(JSON.stringify({ s, k, v }) + "\n");

async function inPage(transports) {
  const STEP = 10000;
  const within = (p, what) => Promise.race([p, new Promise((_, rej) => setTimeout(() => rej(new Error("timeout: " + what)), STEP))]);
  const hex = (b) => Array.from(new Uint8Array(b)).map((x) => x.toString(16).padStart(2, "0")).join("");
  const sock = io({ forceNew: true, reconnection: false, ...(transports ? { transports } : {}) });
  await within(new Promise((res, rej) => { sock.once("connect", res); sock.once("connect_error", rej); }), "connect");
  const res = {};
  res.echo = await within(sock.emitWithAck("echo", 1, "two"), "echo");
  const bin = await within(sock.emitWithAck("bin", { blob: new Uint8Array([1, 2, 3]), list: [new TextEncoder().encode("ab")] }), "bin");
  res.bin = { blob: hex(bin.blob), kind: bin.blob instanceof ArrayBuffer };
  const asked = new Promise((r) => sock.once("ask", (n, blob, cb) => { const h = hex(blob); cb(n * 2, new Uint8Array(blob).slice().reverse()); r(h); }));
  const result = new Promise((r) => sock.once("askResult", r));
  sock.emit("pleaseAsk", 21);
  res.asked = await within(asked, "ask");
  res.askResult = await within(result, "askResult");
  if (!transports && sock.io.engine.transport.name !== "websocket") {
    await within(new Promise((r) => sock.io.engine.once("upgrade", r)), "upgrade");
  }
  res.transport = sock.io.engine.transport.name;
  sock.disconnect();
  return res;
}

async function main() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "sb-sio-chromium-"));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
  });
  try {
    const page = await ctx.newPage();
    await page.goto(url, { timeout: 15000 });
    await Promise.all([["polling"], ["websocket"], null].map(async (tr) => {
      const name = "browser-" + (tr ? tr[0] : "upgrade");
      try {
        for (const [k, v] of Object.entries(await page.evaluate(inPage, tr))) out(name, k, v);
        out(name, "done", true);
      } catch (e) {
        out(name, "error", String(e && e.message || e));
      }
    }));
  } finally {
    await ctx.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

main().catch((e) => { out("browser", "error", String(e && e.stack || e)); process.exitCode = 1; });
