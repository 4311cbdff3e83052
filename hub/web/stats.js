// The live connections page: polls /api/conns once a second, lists every
// connection and plots message and byte rates. No outside scripts; CSP
// "script-src 'self'" compatible (no inline code, no eval).
'use strict';
(function () {
  const N = 120; // samples kept (two minutes)
  const hist = { t: [], mi: [], mo: [], bi: [], bo: [] };
  let prev = null;
  let token = sessionStorage.getItem('sb-admin-token') || '';
  const m = /(?:^|[#&])token=([^&]*)/.exec(location.hash);
  if (m) { token = decodeURIComponent(m[1]); sessionStorage.setItem('sb-admin-token', token); history.replaceState(null, '', location.pathname); }
  const $ = (id) => document.getElementById(id);

  $('auth').addEventListener('submit', (e) => {
    e.preventDefault();
    token = $('token').value;
    sessionStorage.setItem('sb-admin-token', token);
    $('auth').hidden = true;
    poll();
  });

  function fmt(n) {
    if (n >= 1e9) return (n / 1e9).toFixed(1) + 'G';
    if (n >= 1e6) return (n / 1e6).toFixed(1) + 'M';
    if (n >= 1e4) return (n / 1e3).toFixed(1) + 'k';
    return String(Math.round(n * 10) / 10);
  }
  function age(s) {
    if (s < 60) return Math.floor(s) + 's';
    if (s < 3600) return Math.floor(s / 60) + 'm' + Math.floor(s % 60) + 's';
    return Math.floor(s / 3600) + 'h' + Math.floor((s % 3600) / 60) + 'm';
  }
  function td(text, cls) {
    const e = document.createElement('td');
    e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }

  function render(snap) {
    const t = snap.totals;
    $('t-conns').textContent = t.conns;
    $('t-msgs').textContent = fmt(t.msgs_in) + ' / ' + fmt(t.msgs_out);
    $('t-bytes').textContent = fmt(t.bytes_in) + ' / ' + fmt(t.bytes_out);
    $('t-queue').textContent = t.queue;
    const body = $('conns');
    const rows = document.createDocumentFragment();
    for (const c of snap.conns) {
      const tr = document.createElement('tr');
      if (c.age_s < 2) tr.className = 'new';
      tr.append(td(c.door || ''), td(c.proto), td(c.local), td(c.remote || ''), td(c.user || ''),
        td((c.rooms || []).join(' ')), td(fmt(c.msgs_in), 'n'), td(fmt(c.msgs_out), 'n'),
        td(fmt(c.bytes_in), 'n'), td(fmt(c.bytes_out), 'n'), td(String(c.queue), 'n'), td(age(c.age_s), 'n'));
      rows.append(tr);
    }
    body.replaceChildren(rows);
    // Rates come from each connection's growth since the last poll, so a
    // connection that goes does not make the totals (and rates) drop.
    const now = Date.parse(snap.time) / 1000;
    const byID = new Map();
    for (const c of snap.conns) byID.set(c.id + '|' + c.door, c);
    if (prev && now > prev.time) {
      const dt = now - prev.time;
      const sum = { mi: 0, mo: 0, bi: 0, bo: 0 };
      for (const [k, c] of byID) {
        const p = prev.conns.get(k) || (c.age_s <= dt ? { msgs_in: 0, msgs_out: 0, bytes_in: 0, bytes_out: 0 } : c);
        sum.mi += Math.max(0, c.msgs_in - p.msgs_in);
        sum.mo += Math.max(0, c.msgs_out - p.msgs_out);
        sum.bi += Math.max(0, c.bytes_in - p.bytes_in);
        sum.bo += Math.max(0, c.bytes_out - p.bytes_out);
      }
      push('t', now);
      for (const k of ['mi', 'mo', 'bi', 'bo']) push(k, sum[k] / dt);
      plot($('plot-msgs'), hist.mi, hist.mo);
      plot($('plot-bytes'), hist.bi, hist.bo);
    }
    prev = { time: now, conns: byID };
    $('status').textContent = 'pid ' + snap.process.pid + ' · ' + new Date(snap.time).toLocaleTimeString();
  }
  function push(k, v) {
    hist[k].push(v);
    if (hist[k].length > N) hist[k].shift();
  }

  function plot(cv, a, b) {
    const ctx = cv.getContext('2d');
    const w = cv.width, h = cv.height, pad = 40;
    ctx.clearRect(0, 0, w, h);
    const max = Math.max(1, ...a, ...b);
    ctx.strokeStyle = '#ddd';
    ctx.fillStyle = '#777';
    ctx.font = '11px sans-serif';
    for (let i = 0; i <= 4; i++) {
      const y = h - 10 - (h - 20) * i / 4;
      ctx.beginPath(); ctx.moveTo(pad, y); ctx.lineTo(w, y); ctx.stroke();
      ctx.fillText(fmt(max * i / 4), 2, y + 4);
    }
    const line = (vals, color) => {
      ctx.strokeStyle = color;
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      vals.forEach((v, i) => {
        const x = pad + (w - pad) * (i + N - vals.length) / (N - 1);
        const y = h - 10 - (h - 20) * v / max;
        if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
      });
      ctx.stroke();
    };
    line(a, '#1f77b4');
    line(b, '#d62728');
  }

  let timer = null;
  async function poll() {
    clearTimeout(timer);
    try {
      const headers = token ? { Authorization: 'Bearer ' + token } : {};
      const r = await fetch('api/conns', { headers: headers, cache: 'no-store' });
      if (r.status === 401 || r.status === 403) {
        $('status').textContent = 'admin token required';
        $('auth').hidden = false;
        return;
      }
      if (!r.ok) throw new Error(r.status + ' ' + r.statusText);
      render(await r.json());
    } catch (e) {
      $('status').textContent = 'no answer: ' + e.message;
    }
    timer = setTimeout(poll, 1000);
  }
  poll();
})();
