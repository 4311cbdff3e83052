// sb.js: switchboard's small Socket.IO client for the browser.
//
// It speaks Engine.IO 4 (WebSocket, or HTTP long-polling with an upgrade to
// WebSocket) and Socket.IO 5 (events and acks on the main namespace; no
// binary attachments), and reconnects with backoff. No dependencies, no
// build step.
//
//   const sock = SB.connect({ path: '/socket.io/' });
//   sock.on('connect', () => ...);
//   sock.on('said', (msg) => ...);
//   const reply = await sock.emitWithAck('say', { room, text });
//
// Options (all optional):
//   url          base URL of the server; default the page's origin
//   path         Engine.IO path; default '/socket.io/'
//   transports   ['websocket', 'polling'] (the default: WebSocket first,
//                polling if it fails) or ['polling', 'websocket'] (polling
//                first, then upgrade), or a single one
//   auth         object sent in the CONNECT packet
//   ackTimeout   ms before emitWithAck rejects; default 10000
//   maxBuffer    emits kept while disconnected; default 100
//   reconnectDelay / reconnectDelayMax   backoff bounds in ms; 500 / 5000
//
// Events: 'connect', 'disconnect' (reason), 'connect_error' (Error),
// 'reconnect_attempt' (n), 'transport' (name), and the server's events.
// On 'connect', handlers run first, then the emits buffered while
// disconnected go out, so a handler can restore state (name, rooms) first.
(function (global) {
  'use strict';

  const SEP = '\x1e'; // Engine.IO 4 polling payload separator

  // Engine.IO packet types.
  const EIO = { OPEN: '0', CLOSE: '1', PING: '2', PONG: '3', MESSAGE: '4', UPGRADE: '5', NOOP: '6' };
  // Socket.IO packet types.
  const SIO = { CONNECT: 0, DISCONNECT: 1, EVENT: 2, ACK: 3, CONNECT_ERROR: 4, BINARY_EVENT: 5, BINARY_ACK: 6 };
  // Event names an application may not emit.
  const RESERVED = new Set(['connect', 'connect_error', 'disconnect', 'disconnecting', 'newListener', 'removeListener']);

  // encodeSIO encodes a Socket.IO packet on the main namespace.
  function encodeSIO(type, data, id) {
    let s = String(type);
    if (id !== undefined) s += id;
    if (data !== undefined) s += JSON.stringify(data);
    return s;
  }

  // decodeSIO parses a Socket.IO text packet; it returns null if malformed.
  function decodeSIO(s) {
    const type = s.charCodeAt(0) - 48;
    if (!(type >= 0 && type <= 6)) return null;
    let i = 1;
    if (type === SIO.BINARY_EVENT || type === SIO.BINARY_ACK) {
      return { type, binary: true }; // attachments are not supported
    }
    let nsp = '/';
    if (s[i] === '/') {
      const c = s.indexOf(',', i);
      nsp = c < 0 ? s.slice(i) : s.slice(i, c);
      i = c < 0 ? s.length : c + 1;
    }
    let id;
    const start = i;
    while (i < s.length && s[i] >= '0' && s[i] <= '9') i++;
    if (i > start) id = Number(s.slice(start, i));
    let data;
    if (i < s.length) {
      try { data = JSON.parse(s.slice(i)); } catch (e) { return null; }
    }
    return { type, nsp, id, data };
  }

  function httpToWS(u) {
    return u.replace(/^http/, 'ws');
  }

  // ---- transports: each calls owner.onPacket(str), owner.onTransportClose(t, reason)

  class WSTransport {
    constructor(owner, url) {
      this.name = 'websocket';
      this.owner = owner; // may be swapped while probing an upgrade
      this.open = false;
      this.ws = new WebSocket(httpToWS(url));
      this.ws.onopen = () => { this.open = true; this.owner.onTransportOpen(this); };
      this.ws.onmessage = (ev) => {
        if (this.done) return;
        if (typeof ev.data === 'string') this.owner.onPacket(this, ev.data);
        // binary messages are not supported; ignore them
      };
      this.ws.onclose = () => this.closed('transport close');
      this.ws.onerror = () => this.closed('transport error');
    }
    send(packets) {
      for (const p of packets) this.ws.send(p);
    }
    closed(reason) {
      if (this.done) return;
      this.done = true;
      this.owner.onTransportClose(this, reason, this.open);
    }
    close() {
      this.done = true;
      try { this.ws.close(); } catch (e) { /* already closed */ }
    }
  }

  class PollTransport {
    constructor(owner, url) {
      this.name = 'polling';
      this.owner = owner;
      this.url = url;
      this.open = false;
      this.sending = false;
      this.queue = [];
      this.abort = new AbortController();
      this.paused = false;
      this.polling = false;
      this.poll();
    }
    urlFor() {
      return this.url + '&t=' + Date.now().toString(36) + Math.random().toString(36).slice(2, 6);
    }
    async poll() {
      if (this.done || this.paused) return;
      this.polling = true;
      let text;
      try {
        const res = await fetch(this.urlFor(), { signal: this.abort.signal, cache: 'no-store' });
        if (!res.ok) throw new Error('HTTP ' + res.status);
        text = await res.text();
      } catch (e) {
        this.polling = false;
        this.closed('transport error');
        return;
      }
      this.polling = false;
      if (this.done) return;
      for (const p of text.split(SEP)) {
        if (!this.open && p[0] === EIO.OPEN) {
          this.open = true;
          // the owner learns the sid from the open packet and fixes our URL
          this.owner.onPacket(this, p);
          this.owner.onTransportOpen(this);
          continue;
        }
        this.owner.onPacket(this, p);
        if (this.done) return;
      }
      if (this.onPollDone) this.onPollDone();
      this.poll();
    }
    setSid(sid) {
      this.url += '&sid=' + encodeURIComponent(sid);
    }
    send(packets) {
      this.queue.push(...packets);
      this.flush();
    }
    async flush() {
      if (this.sending || this.done || this.queue.length === 0) return;
      const body = this.queue.join(SEP);
      this.queue = [];
      this.sending = true;
      try {
        const res = await fetch(this.urlFor(), {
          method: 'POST', body, signal: this.abort.signal,
          headers: { 'Content-Type': 'text/plain;charset=UTF-8' },
        });
        if (!res.ok) throw new Error('HTTP ' + res.status);
        await res.text();
      } catch (e) {
        this.sending = false;
        this.closed('transport error');
        return;
      }
      this.sending = false;
      if (this.onDrain && this.queue.length === 0) this.onDrain();
      this.flush();
    }
    // pause stops polling once the request in flight returns, then calls fn.
    pause(fn) {
      this.paused = true;
      const check = () => {
        if (!this.polling && !this.sending) { this.onPollDone = null; this.onDrain = null; fn(); }
      };
      this.onPollDone = check;
      this.onDrain = check;
      check();
    }
    closed(reason) {
      if (this.done) return;
      this.done = true;
      this.abort.abort();
      this.owner.onTransportClose(this, reason, this.open);
    }
    close() {
      this.done = true;
      this.abort.abort();
    }
  }

  // ---- the socket

  class Socket {
    constructor(opts) {
      opts = opts || {};
      this.opts = {
        url: opts.url || (global.location ? global.location.origin : 'http://127.0.0.1'),
        path: opts.path || '/socket.io/',
        transports: opts.transports || ['websocket', 'polling'],
        auth: opts.auth,
        ackTimeout: opts.ackTimeout || 10000,
        maxBuffer: opts.maxBuffer || 100,
        reconnectDelay: opts.reconnectDelay || 500,
        reconnectDelayMax: opts.reconnectDelayMax || 5000,
      };
      this.handlers = new Map();
      this.connected = false;
      this.id = undefined;
      this.transport = null;
      this.buffer = [];   // Socket.IO packets waiting for a connection
      this.acks = new Map();
      this.nextAck = 0;
      this.attempts = 0;
      this.closedByUser = false;
      this.timers = new Set();
      this.open();
    }

    // ---- public API

    on(event, fn) {
      if (!this.handlers.has(event)) this.handlers.set(event, []);
      this.handlers.get(event).push(fn);
      return this;
    }

    off(event, fn) {
      const list = this.handlers.get(event);
      if (list) this.handlers.set(event, list.filter((f) => f !== fn));
      return this;
    }

    // emit sends an event. If the last argument is a function, it is called
    // with the server's ack arguments. Returns false if the event was
    // dropped (buffer full while disconnected).
    emit(event, ...args) {
      if (RESERVED.has(event)) throw new Error('sb: "' + event + '" is a reserved event name');
      let ack;
      if (args.length && typeof args[args.length - 1] === 'function') ack = args.pop();
      return this._send(event, args, ack ? { fn: ack } : undefined);
    }

    // emitWithAck sends an event and resolves with the first argument of
    // the server's ack, or rejects on timeout, disconnect or full buffer.
    emitWithAck(event, ...args) {
      if (RESERVED.has(event)) return Promise.reject(new Error('sb: "' + event + '" is a reserved event name'));
      return new Promise((resolve, reject) => {
        const entry = {
          fn: (v) => { this._clearTimer(entry.timer); resolve(v); },
          fail: (err) => { this._clearTimer(entry.timer); reject(err); },
        };
        entry.timer = this._timer(() => {
          this._dropAck(entry);
          reject(new Error('sb: ack timeout'));
        }, this.opts.ackTimeout);
        if (!this._send(event, args, entry)) {
          this._clearTimer(entry.timer);
          reject(new Error('sb: send buffer full'));
        }
      });
    }

    // close disconnects for good: no reconnect.
    close() {
      this.closedByUser = true;
      for (const t of this.timers) clearTimeout(t);
      this.timers.clear();
      if (this.transport) {
        if (this.connected) this.transport.send([EIO.MESSAGE + encodeSIO(SIO.DISCONNECT)]);
        this._closeTransport(this.transport);
      }
      this._lost('io client disconnect');
    }

    // ---- internals

    _emitLocal(event, ...args) {
      for (const fn of (this.handlers.get(event) || []).slice()) {
        try { fn(...args); } catch (e) { setTimeout(() => { throw e; }); }
      }
    }

    _timer(fn, ms) {
      const t = setTimeout(() => { this.timers.delete(t); fn(); }, ms);
      this.timers.add(t);
      return t;
    }

    _clearTimer(t) {
      if (t === undefined) return;
      clearTimeout(t);
      this.timers.delete(t);
    }

    _dropAck(entry) {
      for (const [id, e] of this.acks) if (e === entry) this.acks.delete(id);
      const i = this.buffer.findIndex((b) => b.ack === entry);
      if (i >= 0) this.buffer.splice(i, 1);
    }

    _send(event, args, ack) {
      const item = { event, args, ack };
      if (this.connected) {
        this._write(item);
        return true;
      }
      if (this.buffer.length >= this.opts.maxBuffer) return false;
      this.buffer.push(item);
      return true;
    }

    _write(item) {
      let id;
      if (item.ack) {
        id = this.nextAck++;
        this.acks.set(id, item.ack);
      }
      this.transport.send([EIO.MESSAGE + encodeSIO(SIO.EVENT, [item.event, ...item.args], id)]);
    }

    _baseURL(transport) {
      let u = this.opts.url.replace(/\/$/, '') + this.opts.path;
      u += (u.includes('?') ? '&' : '?') + 'EIO=4&transport=' + transport;
      return u;
    }

    open() {
      this.sid = undefined;
      this.upgrading = null;
      this._start(0);
    }

    // _start opens the i-th transport of opts.transports.
    _start(i) {
      const name = this.opts.transports[i];
      this.transportIndex = i;
      try {
        this.transport = name === 'polling' ? new PollTransport(this, this._baseURL('polling'))
          : new WSTransport(this, this._baseURL('websocket'));
      } catch (e) {
        const dead = { name, close() {} };
        this.transport = dead;
        this.onTransportClose(dead, 'transport error', false);
      }
    }

    _closeTransport(t) {
      if (t) t.close();
      if (this.pingTimer !== undefined) { this._clearTimer(this.pingTimer); this.pingTimer = undefined; }
    }

    onTransportOpen(t) {
      if (t === this.transport) this._emitLocal('transport', t.name);
    }

    onTransportClose(t, reason, wasOpen) {
      if (t !== this.transport || this.closedByUser) return; // a stale transport
      this._closeTransport(t);
      this.transport = null;
      if (this.upgrading) { this.upgrading.close(); this.upgrading = null; }
      // This transport never opened: try the next one at once.
      if (!wasOpen && this.sid === undefined && this.transportIndex + 1 < this.opts.transports.length) {
        this._start(this.transportIndex + 1);
        return;
      }
      if (!this.connected) this._emitLocal('connect_error', new Error('sb: ' + reason));
      this._lost(reason);
      this._reconnect();
    }

    _lost(reason) {
      const was = this.connected;
      this.connected = false;
      this.transport = null;
      this.sid = undefined;
      const acks = this.acks;
      this.acks = new Map();
      for (const a of acks.values()) if (a.fail) a.fail(new Error('sb: disconnected (' + reason + ')'));
      if (was) this._emitLocal('disconnect', reason);
      if (this.closedByUser) {
        for (const b of this.buffer) if (b.ack && b.ack.fail) b.ack.fail(new Error('sb: closed'));
        this.buffer = [];
      }
    }

    _reconnect() {
      if (this.closedByUser || this.reconnectTimer !== undefined) return;
      this.attempts++;
      const base = Math.min(this.opts.reconnectDelayMax, this.opts.reconnectDelay * Math.pow(2, this.attempts - 1));
      const delay = Math.round(base * (0.5 + Math.random() * 0.5));
      this.reconnectTimer = this._timer(() => {
        this.reconnectTimer = undefined;
        this._emitLocal('reconnect_attempt', this.attempts);
        this.open();
      }, delay);
    }

    _armPing() {
      if (this.pingTimer !== undefined) this._clearTimer(this.pingTimer);
      this.pingTimer = this._timer(() => {
        this.pingTimer = undefined;
        const t = this.transport;
        this._closeTransport(t);
        this.onTransportClose(t, 'ping timeout', true);
      }, this.pingInterval + this.pingTimeout);
    }

    onPacket(t, p) {
      if (t !== this.transport || p.length === 0) return;
      switch (p[0]) {
        case EIO.OPEN: {
          let hs;
          try { hs = JSON.parse(p.slice(1)); } catch (e) { return; }
          this.sid = hs.sid;
          this.pingInterval = hs.pingInterval || 25000;
          this.pingTimeout = hs.pingTimeout || 20000;
          if (t.setSid) t.setSid(hs.sid);
          this._armPing();
          // Socket.IO CONNECT to the main namespace.
          t.send([EIO.MESSAGE + encodeSIO(SIO.CONNECT, this.opts.auth)]);
          if (t.name === 'polling' && (hs.upgrades || []).includes('websocket') &&
              this.opts.transports.includes('websocket') && typeof WebSocket !== 'undefined') {
            this._upgrade();
          }
          break;
        }
        case EIO.PING:
          this._armPing();
          t.send([EIO.PONG + p.slice(1)]);
          break;
        case EIO.CLOSE:
          this._closeTransport(t);
          this.onTransportClose(t, 'transport close', true);
          break;
        case EIO.MESSAGE:
          this._onSIO(p.slice(1));
          break;
        default: // pong, noop, upgrade: nothing to do
      }
    }

    // _upgrade probes a WebSocket next to the polling transport.
    _upgrade() {
      let ws;
      try {
        ws = new WSTransport(this, this._baseURL('websocket') + '&sid=' + encodeURIComponent(this.sid));
      } catch (e) { return; }
      this.upgrading = ws;
      ws.owner = {
        onTransportOpen: () => ws.send([EIO.PING + 'probe']),
        onPacket: (_, p) => this._onProbe(p),
        onTransportClose: () => { if (this.upgrading === ws) this.upgrading = null; },
      };
    }

    _onProbe(p) {
      const ws = this.upgrading;
      if (!ws) return;
      if (p !== EIO.PONG + 'probe') { ws.close(); this.upgrading = null; return; }
      const poll = this.transport;
      poll.pause(() => {
        if (this.upgrading !== ws || this.transport !== poll) return;
        this.upgrading = null;
        ws.owner = this;
        ws.send([EIO.UPGRADE]);
        poll.close();
        this.transport = ws;
        this._emitLocal('transport', ws.name);
        if (poll.queue.length) { ws.send(poll.queue); poll.queue = []; }
      });
    }

    _onSIO(s) {
      const pkt = decodeSIO(s);
      if (!pkt || pkt.binary || pkt.nsp !== '/') return;
      switch (pkt.type) {
        case SIO.CONNECT: {
          this.connected = true;
          this.attempts = 0;
          this.id = pkt.data && pkt.data.sid;
          this._emitLocal('connect');
          const buf = this.buffer;
          this.buffer = [];
          for (const item of buf) {
            if (this.connected) this._write(item);
            else this.buffer.push(item);
          }
          break;
        }
        case SIO.CONNECT_ERROR: {
          const msg = pkt.data && pkt.data.message ? pkt.data.message : 'connect error';
          const err = new Error(msg);
          err.data = pkt.data && pkt.data.data;
          this._emitLocal('connect_error', err);
          const t = this.transport;
          this._closeTransport(t);
          this._lost('connect error');
          this._reconnect();
          break;
        }
        case SIO.DISCONNECT: {
          // The server ended the session on purpose: do not reconnect.
          this.closedByUser = true;
          this._closeTransport(this.transport);
          this._lost('io server disconnect');
          break;
        }
        case SIO.EVENT: {
          if (!Array.isArray(pkt.data) || typeof pkt.data[0] !== 'string') return;
          const [event, ...args] = pkt.data;
          if (pkt.id !== undefined) {
            let sent = false;
            args.push((...reply) => {
              if (sent || !this.connected) return;
              sent = true;
              this.transport.send([EIO.MESSAGE + encodeSIO(SIO.ACK, reply, pkt.id)]);
            });
          }
          this._emitLocal(event, ...args);
          break;
        }
        case SIO.ACK: {
          const a = this.acks.get(pkt.id);
          if (!a) return;
          this.acks.delete(pkt.id);
          a.fn(...(Array.isArray(pkt.data) ? pkt.data : []));
          break;
        }
        default:
      }
    }
  }

  global.SB = {
    connect: (opts) => new Socket(opts),
    Socket,
    // exported for tests
    _encode: encodeSIO,
    _decode: decodeSIO,
  };
})(typeof window !== 'undefined' ? window : globalThis);
