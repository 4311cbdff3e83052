// app.js: the switchboard chat page. It talks to the hub through sb.js.
//
// Page URL parameters: ?transport=websocket (default: WebSocket, polling if
// that fails), ?transport=polling (long-polling, then upgrade) or
// ?transport=polling-only.
(function () {
  'use strict';

  const $ = (id) => document.getElementById(id);
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const hhmm = (ms) => new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });

  const params = new URLSearchParams(location.search);
  const transports = {
    websocket: ['websocket', 'polling'],
    polling: ['polling', 'websocket'],
    'polling-only': ['polling'],
  }[params.get('transport') || 'websocket'] || ['websocket', 'polling'];

  const state = {
    me: null,              // our user name once the server accepted it
    rooms: new Map(),      // name → { item, pick, badge, log, members: Set, unread }
    current: null,         // the room shown
    online: new Set(),
    seq: 0,                // local ids of lines being sent
  };

  const sock = SB.connect({ transports });
  window.sbChat = { sock, state }; // for tests and the curious

  // ready resolves once the session is usable: connected, and after a
  // reconnect, name and rooms restored. Lines typed meanwhile wait for it
  // (shown as sending), so they never reach the server before their room.
  let ready, readyResolve;
  const notReady = () => { ready = new Promise((r) => { readyResolve = r; }); };
  notReady();
  const within = (p, ms) => Promise.race([p.then(() => true), new Promise((r) => setTimeout(() => r(false), ms))]);

  // ---- status and errors

  function setStatus(s, text) {
    const p = $('status');
    p.dataset.state = s;
    p.textContent = text;
  }

  function showError(msg) {
    $('error').textContent = msg || '';
  }

  function reason(reply, err) {
    if (err) return err.message.replace(/^sb: /, '');
    if (reply && reply.error) return reply.error.replace(/^hub: /, '');
    return 'unknown error';
  }

  // ---- rendering

  function renderOnline() {
    const ul = $('online');
    ul.replaceChildren();
    for (const u of [...state.online].sort()) {
      const li = el('li', u === state.me ? 'me' : '', u);
      if (u === state.me) li.append(el('span', 'visually-hidden', ' (you)'));
      ul.append(li);
    }
    $('online-count').textContent = String(state.online.size);
  }

  function renderHead() {
    const r = state.rooms.get(state.current);
    $('room-title').textContent = r ? '#' + state.current : 'No room';
    $('members').textContent = r ? 'In this room: ' + [...r.members].sort().join(', ') : '';
    $('text').disabled = !r;
    $('say-form').querySelector('button').disabled = !r;
    $('welcome').hidden = !!r;
  }

  function atBottom(box) {
    return box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  }

  function append(room, node) {
    const r = state.rooms.get(room);
    if (!r) return;
    const box = $('logs');
    const stick = room !== state.current || atBottom(box);
    r.log.append(node);
    // keep the page bounded: at most 500 lines per room
    while (r.log.childElementCount > 500) r.log.firstElementChild.remove();
    if (room === state.current) {
      if (stick) box.scrollTop = box.scrollHeight;
    } else {
      r.unread++;
      r.badge.textContent = String(r.unread);
      r.badge.hidden = false;
    }
  }

  function sys(room, text) {
    append(room, el('li', 'sys', text));
  }

  function msgLine(from, text, mine) {
    const li = el('li', 'msg' + (mine ? ' mine' : ''));
    li.dataset.from = from;
    li.append(el('span', 'from', from), el('span', 'text', text), el('span', 'meta'));
    return li;
  }

  function setLineState(li, s, meta, label) {
    li.dataset.state = s;
    const m = li.querySelector('.meta');
    m.textContent = meta;
    m.setAttribute('aria-label', label || meta);
  }

  function selectRoom(name) {
    state.current = name;
    for (const [n, r] of state.rooms) {
      const on = n === name;
      r.log.hidden = !on;
      r.pick.setAttribute('aria-current', on ? 'true' : 'false');
      if (on) { r.unread = 0; r.badge.hidden = true; }
    }
    renderHead();
    $('logs').scrollTop = $('logs').scrollHeight;
  }

  function addRoom(name, members) {
    let r = state.rooms.get(name);
    if (!r) {
      const item = el('li');
      const pick = el('button', 'pick', '#' + name);
      pick.type = 'button';
      const badge = el('span', 'unread');
      badge.hidden = true;
      badge.setAttribute('aria-label', 'unread messages');
      pick.append(' ', badge);
      pick.addEventListener('click', () => selectRoom(name));
      const leave = el('button', 'leave', '×');
      leave.type = 'button';
      leave.title = 'Leave #' + name;
      leave.setAttribute('aria-label', 'Leave room ' + name);
      leave.addEventListener('click', () => leaveRoom(name));
      item.append(pick, leave);
      $('rooms').append(item);
      const log = el('ol', 'log');
      log.setAttribute('role', 'log');
      log.setAttribute('aria-live', 'polite');
      log.setAttribute('aria-label', 'Messages in #' + name);
      log.dataset.room = name;
      $('logs').append(log);
      r = { item, pick, badge, log, members: new Set(), unread: 0 };
      state.rooms.set(name, r);
    }
    r.members = new Set(members || []);
    $('rooms-empty').hidden = true;
    return r;
  }

  function removeRoom(name) {
    const r = state.rooms.get(name);
    if (!r) return;
    r.item.remove();
    r.log.remove();
    state.rooms.delete(name);
    $('rooms-empty').hidden = state.rooms.size > 0;
    if (state.current === name) selectRoom(state.rooms.size ? state.rooms.keys().next().value : null);
  }

  // ---- requests

  async function setNick(name) {
    let reply, err;
    try { reply = await sock.emitWithAck('nick', name); } catch (e) { err = e; }
    if (err || !reply || !reply.ok) {
      showError('Name not set: ' + reason(reply, err));
      return false;
    }
    state.me = reply.nick;
    state.online = new Set(reply.online || []);
    renderOnline();
    $('room').disabled = false;
    $('join-form').querySelector('button').disabled = false;
    showError('');
    return true;
  }

  async function join(name) {
    let reply, err;
    try { reply = await sock.emitWithAck('join', name); } catch (e) { err = e; }
    if (err || !reply || !reply.ok) {
      showError('Could not join #' + name + ': ' + reason(reply, err));
      return false;
    }
    const fresh = !state.rooms.has(reply.room);
    addRoom(reply.room, reply.members);
    if (fresh) sys(reply.room, 'You joined #' + reply.room + '.');
    showError('');
    return true;
  }

  async function leaveRoom(name) {
    let reply, err;
    try { reply = await sock.emitWithAck('leave', name); } catch (e) { err = e; }
    if ((err || !reply || !reply.ok) && !(reply && reply.code === 'not_in_room')) {
      showError('Could not leave #' + name + ': ' + reason(reply, err));
      return;
    }
    removeRoom(name);
  }

  async function say(room, text) {
    const li = msgLine(state.me, text, true);
    li.dataset.local = String(++state.seq);
    setLineState(li, 'pending', 'sending…', 'sending');
    append(room, li);
    let reply, err;
    const deadline = Date.now() + 30000;
    let usable = false;
    while (!usable && Date.now() < deadline) {
      usable = (await within(ready, deadline - Date.now())) && sock.connected;
    }
    if (!usable) {
      err = new Error('offline');
    } else {
      try { reply = await sock.emitWithAck('say', { room, text }); } catch (e) { err = e; }
    }
    if (err || !reply || !reply.ok) {
      setLineState(li, 'failed', 'not sent: ' + reason(reply, err));
      return;
    }
    li.dataset.id = reply.id;
    setLineState(li, 'confirmed', '✓ ' + hhmm(reply.at), 'delivered at ' + hhmm(reply.at));
  }

  // ---- forms

  $('nick-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const name = $('nick').value.trim();
    if (!name) return;
    if (await setNick(name)) $('room').focus();
  });

  $('join-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const name = $('room').value.trim().replace(/^#/, '');
    if (!name) return;
    if (await join(name)) {
      selectRoom(name);
      $('text').focus();
    }
  });

  $('say-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const input = $('text');
    const text = input.value;
    if (!text.trim() || !state.current) return;
    input.value = '';
    say(state.current, text);
  });

  // ---- server events

  sock.on('connect', async () => {
    const resolve = readyResolve; // this session's; a disconnect makes a new one
    setStatus('online', 'Online');
    renderHead();
    if (state.me) {
      // A new session: tell the server who we are and where we were.
      const rooms = [...state.rooms.keys()];
      if (await setNick(state.me)) {
        for (const name of rooms) {
          if (await join(name)) sys(name, 'Reconnected.');
        }
      }
      renderHead();
    }
    resolve();
  });

  sock.on('disconnect', () => {
    notReady();
    setStatus('reconnecting', 'Reconnecting…');
    renderHead();
  });

  sock.on('connect_error', () => {
    if (!sock.connected) setStatus('offline', 'Offline, retrying…');
  });

  sock.on('said', (m) => {
    if (!m || !state.rooms.has(m.room)) return;
    const li = msgLine(m.from, m.text, m.from === state.me);
    li.dataset.id = m.id;
    setLineState(li, 'received', hhmm(m.at), 'at ' + hhmm(m.at));
    append(m.room, li);
  });

  sock.on('joined', (ev) => {
    const r = ev && state.rooms.get(ev.room);
    if (!r) return;
    r.members.add(ev.user);
    if (ev.user !== state.me) sys(ev.room, ev.user + ' joined.');
    if (ev.room === state.current) renderHead();
  });

  sock.on('left', (ev) => {
    const r = ev && state.rooms.get(ev.room);
    if (!r) return;
    r.members.delete(ev.user);
    sys(ev.room, ev.user + ' left.');
    if (ev.room === state.current) renderHead();
  });

  sock.on('presence', (ev) => {
    if (!ev || !ev.user) return;
    if (ev.state === 'online') state.online.add(ev.user);
    else state.online.delete(ev.user);
    renderOnline();
    if (state.current && ev.user !== state.me) {
      sys(state.current, ev.user + (ev.state === 'online' ? ' is online.' : ' went offline.'));
    }
  });

  if (params.get('nick')) $('nick').value = params.get('nick');
  $('nick').focus();
})();
