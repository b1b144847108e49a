// cdp_selftest.mjs — checks tests/tools/cdp.mjs and the agents/dash/web front-end
// together, with no npm packages and no C server:
//
//   node tests/tools/cdp_selftest.mjs        (exit 0 = pass, 1 = fail)
//
// 1. The WebSocket client against a small in-process server: masking, ping/
//    pong, fragmented messages (split inside a UTF-8 character, a ping in
//    between), 16- and 64-bit lengths, fragmented sends, the close handshake.
// 2. A fake tutti-dash server (node:http) serves agents/dash/web, answers
//    /api/state with dash_fake_state.json, /api/session, /events (SSE: the
//    state, then 500 ms later a changed one with take 4 rated "hold"), and
//    records every POST. Headless Chromium (via cdp.mjs) loads the page and
//    the test checks rendering, the live update, check-in/out POSTs with the
//    CSRF header, error display, local ticking, SSE reconnection with
//    Last-Event-ID, read-only mode and the login page.
// Screenshots: /tmp/dash-selftest.png (dashboard), /tmp/dash-login.png.

import http from 'node:http';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch, WebSocketClient } from './cdp.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const DASH = path.join(ROOT, 'agents', 'dash', 'web');
const FAKE_STATE = path.join(HERE, 'dash_fake_state.json');
const SHOT = '/tmp/dash-selftest.png';
const LOGIN_SHOT = '/tmp/dash-login.png';
const CSRF = 'selftest-csrf-7f3a9c';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let passed = 0;
let current = '';

function check(cond, what) {
  if (!cond) throw new Error(what);
}
function eq(actual, expected, what) {
  const a = JSON.stringify(actual), e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: expected ${e}, got ${a}`);
}
async function step(name, fn) {
  current = name;
  const t0 = Date.now();
  await fn();
  passed++;
  console.log(`ok ${passed} - ${name} (${Date.now() - t0} ms)`);
}

// ---------------------------------------------------------------------------
// 1. WebSocket client against a minimal in-process server
// ---------------------------------------------------------------------------

function serverFrame(op, payload, fin = true) {
  const len = payload.length;
  let hdr;
  if (len < 126) hdr = Buffer.from([(fin ? 0x80 : 0) | op, len]);
  else if (len < 65536) {
    hdr = Buffer.alloc(4);
    hdr[0] = (fin ? 0x80 : 0) | op;
    hdr[1] = 126;
    hdr.writeUInt16BE(len, 2);
  } else {
    hdr = Buffer.alloc(10);
    hdr[0] = (fin ? 0x80 : 0) | op;
    hdr[1] = 127;
    hdr.writeBigUInt64BE(BigInt(len), 2);
  }
  return Buffer.concat([hdr, payload]);
}

/** Parses client frames; calls onFrame({fin, op, masked, payload}). */
function frameReader(onFrame) {
  let buf = Buffer.alloc(0);
  return (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      if (buf.length < 2) return;
      const fin = (buf[0] & 0x80) !== 0, op = buf[0] & 0x0f, masked = (buf[1] & 0x80) !== 0;
      let len = buf[1] & 0x7f, off = 2;
      if (len === 126) {
        if (buf.length < 4) return;
        len = buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (buf.length < 10) return;
        len = Number(buf.readBigUInt64BE(2));
        off = 10;
      }
      if (buf.length < off + (masked ? 4 : 0) + len) return;
      const mask = masked ? buf.subarray(off, off + 4) : null;
      off += masked ? 4 : 0;
      const payload = Buffer.from(buf.subarray(off, off + len));
      if (mask) for (let i = 0; i < len; i++) payload[i] ^= mask[i & 3];
      buf = buf.subarray(off + len);
      onFrame({ fin, op, masked, payload });
    }
  };
}

async function websocketSelftest() {
  const got = []; // frames the server received
  let sock = null;
  const server = http.createServer((req, res) => res.writeHead(404).end());
  server.on('upgrade', (req, socket) => {
    const accept = crypto.createHash('sha1').update(req.headers['sec-websocket-key'] + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    sock = socket;
    const read = frameReader((f) => {
      got.push(f);
      if (f.op === 0x8) {
        socket.write(serverFrame(0x8, f.payload.subarray(0, 2)));
        socket.end();
      }
    });
    socket.on('data', read);
    socket.on('error', () => {});
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const port = server.address().port;
  try {
    const ws = await WebSocketClient.connect(`ws://127.0.0.1:${port}/x`);
    const messages = [];
    ws.on('message', (m) => messages.push(m));
    const waitFrames = async (pred, what) => {
      for (let i = 0; i < 200; i++) {
        if (pred()) return;
        await sleep(10);
      }
      throw new Error(`websocket: timed out waiting for ${what}`);
    };

    // ping -> masked pong with the same payload
    sock.write(serverFrame(0x9, Buffer.from('p1')));
    await waitFrames(() => got.some((f) => f.op === 0xa), 'pong');
    const pong = got.find((f) => f.op === 0xa);
    check(pong.masked, 'websocket: client pong must be masked');
    eq(pong.payload.toString(), 'p1', 'websocket: pong payload');

    // fragmented text, split inside 'é' and 'ö', with a ping between fragments,
    // written to the socket a few bytes at a time
    const whole = Buffer.from('héllo wörld — ✓', 'utf8');
    const cut1 = whole.indexOf(0xc3) + 1; // between the two bytes of é
    const cut2 = whole.lastIndexOf(0xc3) + 1; // between the two bytes of ö
    const wire = Buffer.concat([
      serverFrame(0x1, whole.subarray(0, cut1), false),
      serverFrame(0x9, Buffer.from('mid')),
      serverFrame(0x0, whole.subarray(cut1, cut2), false),
      serverFrame(0x0, whole.subarray(cut2), true),
    ]);
    for (let i = 0; i < wire.length; i += 3) sock.write(wire.subarray(i, i + 3));
    await waitFrames(() => messages.length >= 1, 'fragmented message');
    eq(messages[0], 'héllo wörld — ✓', 'websocket: reassembled fragmented message');
    await waitFrames(() => got.filter((f) => f.op === 0xa).length >= 2, 'pong to the interleaved ping');

    // 16-bit and 64-bit lengths, the big one arriving in 1000-byte pieces
    const mid = 'm'.repeat(300);
    const big = 'B'.repeat(200000) + 'END';
    sock.write(serverFrame(0x1, Buffer.from(mid)));
    const bigFrame = serverFrame(0x1, Buffer.from(big));
    for (let i = 0; i < bigFrame.length; i += 1000) sock.write(bigFrame.subarray(i, i + 1000));
    await waitFrames(() => messages.length >= 3, '300-byte and 200 kB messages');
    eq(messages[1], mid, 'websocket: 16-bit length message');
    check(messages[2] === big, `websocket: 64-bit length message (got ${messages[2].length} bytes)`);

    // client sends: small, > 64 KiB (64-bit length), > 1 MiB (fragmented)
    const before = got.length;
    ws.send('hello server');
    const c2 = 'c'.repeat(100000);
    ws.send(c2);
    const c3 = crypto.randomBytes(1500000).toString('hex'); // 3 MB of text
    ws.send(c3);
    await waitFrames(() => {
      const text = got.slice(before).filter((f) => f.op === 0x1 || f.op === 0x0);
      return text.filter((f) => f.fin).length >= 3;
    }, 'client messages');
    const frames = got.slice(before).filter((f) => f.op === 0x1 || f.op === 0x0);
    check(frames.every((f) => f.masked), 'websocket: every client frame is masked');
    eq(frames[0].payload.toString(), 'hello server', 'websocket: small client message');
    check(frames[1].fin && frames[1].payload.toString() === c2, 'websocket: 100 kB client message');
    const rest = frames.slice(2);
    check(rest.length > 1 && rest[0].op === 0x1 && rest.slice(1).every((f) => f.op === 0x0), 'websocket: 3 MB client message goes out fragmented');
    check(Buffer.concat(rest.map((f) => f.payload)).toString() === c3, 'websocket: fragmented client message reassembles');

    // close handshake
    const closed = new Promise((r) => ws.once('close', r));
    await ws.close(1000, 'bye');
    const ev = await closed;
    const cf = got.find((f) => f.op === 0x8);
    check(cf && cf.payload.readUInt16BE(0) === 1000, 'websocket: client close frame with code 1000');
    eq(ev.code, 1000, 'websocket: close code echoed by the server');
  } finally {
    if (sock) sock.destroy();
    server.close();
  }
}

// ---------------------------------------------------------------------------
// 2. Fake tutti-dash server
// ---------------------------------------------------------------------------

function makeFakeServer() {
  const state1 = JSON.parse(fs.readFileSync(FAKE_STATE, 'utf8'));
  const state2 = structuredClone(state1);
  state2.seq = 58;
  state2.now_unix_ms += 1000;
  state2.call.elapsed_ms += 1000;
  state2.call.next_break_in_ms -= 1000;
  state2.transport = { ...state2.transport, take: 4, bar: 1, beat: 1, timecode: '01:00:00:00' };
  state2.cues[0].takes.push({ take: 4, state: 'open', rating: 'hold', notes: ['tempo ok'], forced: false });
  const record58 = { seq: 58, kind: 'roll', actor: 'conductor', at_unix_ms: state2.now_unix_ms, summary: '1M1 take 4 rolled from bar 1' };

  const fake = {
    readOnly: false,
    current: state1,
    posts: [], // {path, headers, body, raw}
    events: [], // {lastEventId} per /events request
    logins: [], // {type, password} per POST /login
    streams: new Set(),
    state1,
    state2,
    dropStreams() {
      for (const res of this.streams) res.destroy();
      this.streams.clear();
    },
  };

  const types = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };
  const statics = { '/': 'index.html', '/index.html': 'index.html', '/app.js': 'app.js', '/style.css': 'style.css', '/login.html': 'login.html' };
  const sendJSON = (res, code, obj) => {
    res.writeHead(code, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
    res.end(JSON.stringify(obj));
  };
  const sse = (res, event, id, data) => res.write(`event: ${event}\nid: ${id}\ndata: ${JSON.stringify(data)}\n\n`);

  fake.server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    if (req.method === 'GET' && statics[url.pathname]) {
      const file = path.join(DASH, statics[url.pathname]);
      res.writeHead(200, {
        'Content-Type': types[path.extname(file)],
        'Cache-Control': 'no-store',
        // as strict as a real server may be: the page must not need inline code
        'Content-Security-Policy': "default-src 'self'",
      });
      res.end(fs.readFileSync(file));
      return;
    }
    if (req.method === 'GET' && url.pathname === '/api/state') return sendJSON(res, 200, { ...fake.current, read_only: fake.readOnly });
    if (req.method === 'GET' && url.pathname === '/api/session') return sendJSON(res, 200, { csrf: CSRF, read_only: fake.readOnly, name: 'contractor' });
    if (req.method === 'GET' && url.pathname === '/report.csv') {
      res.writeHead(200, { 'Content-Type': 'text/csv' });
      res.end('seq,kind\n57,roll\n');
      return;
    }
    if (req.method === 'GET' && url.pathname === '/events') {
      const lastEventId = req.headers['last-event-id'] || null;
      fake.events.push({ lastEventId });
      res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', Connection: 'keep-alive' });
      res.write('retry: 300\n\n');
      fake.streams.add(res);
      req.on('close', () => fake.streams.delete(res));
      const ro = (s) => ({ ...s, read_only: fake.readOnly });
      if (lastEventId) {
        sse(res, 'state', fake.current.seq, ro(fake.current)); // resume
        return;
      }
      sse(res, 'state', fake.current.seq, ro(fake.current));
      if (fake.current === state1) {
        setTimeout(() => {
          if (res.destroyed) return;
          fake.current = state2;
          sse(res, 'record', record58.seq, record58);
          sse(res, 'state', state2.seq, ro(state2));
        }, 500);
      }
      return;
    }
    if (req.method === 'POST' && url.pathname === '/login') {
      // like tutti-dash: a wrong password gets the login page back with 401
      // (the browser stays at /login); the right one a redirect and a cookie
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
        fake.logins.push({ type: req.headers['content-type'], password: form.get('password') });
        if (form.get('password') === 'right-password') {
          res.writeHead(303, { Location: '/', 'Set-Cookie': 'tutti_dash=1; Path=/; HttpOnly; SameSite=Strict' });
          res.end();
          return;
        }
        res.writeHead(401, { 'Content-Type': types['.html'], 'Content-Security-Policy': "default-src 'self'" });
        res.end(fs.readFileSync(path.join(DASH, 'login.html')));
      });
      return;
    }
    if (req.method === 'POST' && (url.pathname === '/api/presence' || url.pathname === '/api/call')) {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        let body = null;
        try {
          body = JSON.parse(raw);
        } catch {
          /* recorded as null */
        }
        fake.posts.push({ path: url.pathname, headers: req.headers, body, raw });
        if (req.headers['x-csrf-token'] !== CSRF) return sendJSON(res, 403, { error: 'bad CSRF token' });
        if (url.pathname === '/api/call' && body && body.action === 'break-end') return sendJSON(res, 409, { error: 'not on break' });
        sendJSON(res, 200, { ok: true, seq: 59 + fake.posts.length });
      });
      return;
    }
    sendJSON(res, 404, { error: 'not found' });
  });
  return fake;
}

// ---------------------------------------------------------------------------
// 3. The browser test
// ---------------------------------------------------------------------------

function liveGroupMembers(pgid) {
  const out = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(f[2]) === pgid && f[0] !== 'Z' && f[0] !== 'X') out.push(Number(e));
    } catch {
      /* gone */
    }
  }
  return out;
}

async function dashSelftest() {
  const fake = makeFakeServer();
  await new Promise((r) => fake.server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${fake.server.address().port}`;
  let browser = null;
  const onSignal = async () => {
    if (browser) await browser.close();
    process.exit(1);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await step('launch chromium via cdp.mjs', async () => {
      browser = await launch({ chromium: CHROMIUM, width: 1400, height: 1000 });
    });
    const b = browser;
    const text = (sel) => b.evaluate(`(document.querySelector(${JSON.stringify(sel)}) || {}).textContent`);
    const waitText = (sel, want, ms = 5000) =>
      b.waitFor(`(document.querySelector(${JSON.stringify(sel)}) || {}).textContent === ${JSON.stringify(want)}`, ms)
        .catch(async (e) => {
          throw new Error(`${sel} should read ${JSON.stringify(want)}, reads ${JSON.stringify(await text(sel))} (${e.message})`);
        });
    const lastPost = async (n) => {
      for (let i = 0; i < 100 && fake.posts.length < n; i++) await sleep(20);
      check(fake.posts.length >= n, `expected ${n} POSTs at the fake server, got ${fake.posts.length}`);
      return fake.posts[n - 1];
    };

    // Record every seq the page renders, from before app.js runs: both 57 and
    // 58 in one JS realm means the update arrived without a reload.
    await b.send('Page.addScriptToEvaluateOnNewDocument', {
      source: `window.__seqs = [];
        new MutationObserver(() => { const s = document.body && document.body.dataset.seq;
          if (s && window.__seqs[window.__seqs.length - 1] !== s) window.__seqs.push(s); })
          .observe(document, { attributes: true, subtree: true, attributeFilter: ['data-seq'] });`,
    });
    let loads = 0;
    b.on('Page.loadEventFired', () => loads++);
    const consoleErrors = [];
    b.on('Runtime.exceptionThrown', (p) => consoleErrors.push(p.exceptionDetails.exception?.description || p.exceptionDetails.text));
    // CSP violations, failed loads, console.error: all count, except the
    // stream the test cuts on purpose, the 409 and the 401 (wrong password)
    // it provokes on purpose and the favicon nobody serves.
    await b.send('Log.enable');
    b.on('Log.entryAdded', ({ entry }) => {
      if (entry.level !== 'error') return;
      if (/\/events\b|\/api\/call\b|\/login(?![.\w])|favicon\.ico/.test(`${entry.url || ''} ${entry.text}`)) return;
      consoleErrors.push(`${entry.source}: ${entry.text}${entry.url ? ` (${entry.url})` : ''}`);
    });
    b.on('Runtime.consoleAPICalled', (p) => {
      if (p.type === 'error') consoleErrors.push(`console.error: ${p.args.map((a) => a.value ?? a.description).join(' ')}`);
    });

    await step('page renders the fake state (rooms, transport)', async () => {
      await b.goto(`${base}/`);
      await b.waitFor('document.body.dataset.seq', 5000);
      await waitText('[data-room="stage"] .room-online', 'online');
      await waitText('[data-room="london-strings"] .room-online', 'offline');
      check(await b.evaluate(`!!document.querySelector('[data-room="stage"] [data-player="Ann Lee"]') && !!document.querySelector('[data-room="stage"] [data-player="Bo Chen"]')`),
        'players Ann Lee and Bo Chen listed in stage');
      eq(await text('#session-name'), 'scoring-day-3', 'session name');
      eq(await text('#transport-state'), 'rolling', 'transport state');
      eq(await text('#transport-cue'), '1M1', 'transport cue');
      eq(await text('#transport-barbeat') !== '—', true, 'bar|beat shown while rolling');
      eq(await text('[data-room="stage"] .clock-bound'), '±12.5 µs', 'stage clock error bound');
      eq(await text('[data-room="london-strings"] .clock-bound'), '±— µs', 'london-strings has no error bound');
      check(await b.evaluate(`!!document.querySelector('tr[data-cue="1M1"][data-take="1"] .rating')`), 'takes row 1M1/1 with .rating');
      eq(await text('tr[data-cue="1M1"][data-take="1"] .rating'), 'circled', 'take 1 rating');
      check(await b.evaluate(`document.querySelector('#changes .not-acked[data-ack-room="london-strings"]') !== null`), 'change #45 highlights london-strings as not acked');
      eq(await b.evaluate(`document.querySelector('#rules-select').options.length`), 4, 'rules presets in the select');
      eq(await b.evaluate(`document.querySelector('#report-link').getAttribute('href')`), '/report.csv', 'report link');
    });

    await step('SSE update shows up without reload (take 4, rating "hold")', async () => {
      await waitText('#transport-take', '4', 5000);
      await waitText('tr[data-cue="1M1"][data-take="4"] .rating', 'hold');
      await waitText('#transport-barbeat', '1|1');
      await waitText('#transport-timecode', '01:00:00:00');
      eq(await b.evaluate('document.body.dataset.seq'), '58', 'body data-seq');
      eq(await b.evaluate('window.__seqs'), ['57', '58'], 'seqs rendered in one page life');
      eq(loads, 1, 'page loads (no reload)');
      await waitText('#live', 'live');
      await b.waitFor(`document.querySelector('#records [data-seq="58"]') !== null`, 2000);
      check((await text('#records [data-seq="58"]')).includes('take 4 rolled'), 'record 58 in the feed');
    });

    await step('session clock: alert colour, due countdown, local ticking', async () => {
      eq(await b.evaluate(`document.querySelector('#break-box').dataset.alert`), 'red', 'break box alert');
      check(/^due \+0:\d\d$/.test(await text('#break-countdown')), `break countdown "${await text('#break-countdown')}" should read "due +0:SS"`);
      check(/^1:00:\d\d$/.test(await text('#call-elapsed')), `elapsed "${await text('#call-elapsed')}" should be 1:00:SS`);
      const e1 = await text('#call-elapsed');
      await b.waitFor(`document.querySelector('#call-elapsed').textContent !== ${JSON.stringify(e1)}`, 2500);
      check((await text('#overtime')).includes('0 units'), `overtime "${await text('#overtime')}" names the units`);
    });

    await step('check in a player at "stage": POST /api/presence with CSRF header', async () => {
      const n = fake.posts.length;
      await b.type('[data-room="stage"] input.checkin-name', 'Cy Diaz');
      await b.click('[data-room="stage"] button.checkin');
      const p = await lastPost(n + 1);
      eq(p.path, '/api/presence', 'POST path');
      eq(p.body, { room: 'stage', player: 'Cy Diaz', in: true }, 'presence body');
      eq(p.headers['x-csrf-token'], CSRF, 'X-CSRF-Token header');
      check(/^application\/json/.test(p.headers['content-type'] || ''), `Content-Type should be application/json, is ${p.headers['content-type']}`);
      await b.waitFor(`document.querySelector('[data-room="stage"] input.checkin-name').value === ''`, 2000);
      await b.waitFor(`document.querySelector('#message').textContent.includes('Cy Diaz')`, 2000);
    });

    await step('check out a player: POST /api/presence in:false', async () => {
      const n = fake.posts.length;
      await b.click('[data-room="stage"] [data-player="Bo Chen"] button.checkout');
      const p = await lastPost(n + 1);
      eq(p.body, { room: 'stage', player: 'Bo Chen', in: false }, 'check-out body');
      eq(p.headers['x-csrf-token'], CSRF, 'X-CSRF-Token header');
    });

    await step('start call with the chosen preset; a 4xx error shows in #message', async () => {
      let n = fake.posts.length;
      await b.evaluate(`(() => { const s = document.querySelector('#rules-select'); s.value = 'afm-sound'; s.dispatchEvent(new Event('change')); })()`);
      await b.click('#call-start');
      let p = await lastPost(n + 1);
      eq([p.path, p.body], ['/api/call', { action: 'start', rules: 'afm-sound' }], 'start call POST');
      n = fake.posts.length;
      await b.click('#break-end');
      p = await lastPost(n + 1);
      eq(p.body, { action: 'break-end' }, 'break-end POST');
      await waitText('#message', 'not on break');
      check(await b.evaluate(`!document.querySelector('#message-bar').hidden && document.querySelector('#message').getBoundingClientRect().height > 0`), '#message visible');
      // back to a calm screen for the screenshot
      await b.evaluate(`document.querySelector('#message-close').click()`);
    });

    await step('screenshot the dashboard', async () => {
      await b.evaluate('window.scrollTo(0, 0)');
      await sleep(100);
      await b.screenshot(SHOT);
      const png = fs.readFileSync(SHOT);
      check(png.length > 10000 && png.subarray(1, 4).toString() === 'PNG', `${SHOT} is a PNG`);
    });

    await step('SSE reconnect sends Last-Event-ID and goes live again; typing survives re-renders', async () => {
      await b.type('[data-room="london-strings"] input.checkin-name', 'Zed Half-Typed');
      const n = fake.events.length;
      fake.dropStreams();
      for (let i = 0; i < 150 && fake.events.length <= n; i++) await sleep(20);
      check(fake.events.length > n, 'EventSource reconnected');
      eq(fake.events[fake.events.length - 1].lastEventId, '58', 'Last-Event-ID on reconnect');
      await waitText('#live', 'live', 3000);
      await sleep(100); // the resumed state has been rendered by now
      eq(await b.evaluate(`(() => { const i = document.querySelector('[data-room="london-strings"] input.checkin-name');
        return [i.value, document.activeElement === i]; })()`), ['Zed Half-Typed', true], 'half-typed check-in name and focus kept');
    });

    await step('read-only: badge shown, every control disabled', async () => {
      fake.readOnly = true;
      await b.goto(`${base}/`);
      await b.waitFor(`document.body.dataset.seq && !document.querySelector('#read-only-badge').hidden`, 5000);
      const enabled = await b.evaluate(`[...document.querySelectorAll('main button, main select, main input')].filter((e) => !e.disabled).map((e) => e.id || e.className)`);
      eq(enabled, [], 'enabled controls in read-only mode');
      for (const id of ['#call-start', '#break-start', '#break-end', '#call-wrap', '#rules-select']) {
        check(await b.evaluate(`document.querySelector('${id}').disabled`), `${id} disabled`);
      }
      const n = fake.posts.length;
      await b.click('#call-wrap');
      await sleep(200);
      eq(fake.posts.length, n, 'no POST from a disabled button');
      fake.readOnly = false;
    });

    await step('login page: form posts the password; ?error=1 or a 401 at /login shows "Wrong password"', async () => {
      await b.goto(`${base}/login.html`);
      check(await b.evaluate(`document.querySelector('#login-error').hidden`), 'no error without ?error');
      await b.goto(`${base}/login.html?error=1`);
      await b.waitFor(`!document.querySelector('#login-error').hidden`, 2000);
      eq(await text('#login-error'), 'Wrong password', 'login error text');
      eq(await b.evaluate(`(() => { const f = document.querySelector('form'); return [f.method, new URL(f.action).pathname, f.querySelector('input[name=password]').type]; })()`),
        ['post', '/login', 'password'], 'login form');
      await b.screenshot(LOGIN_SHOT);
      // a wrong password answered with the page itself (401, browser at /login)
      await b.goto(`${base}/login.html`);
      await b.type('#password', 'wrong-password');
      await b.click('form button[type=submit]');
      await b.waitFor(`location.pathname === '/login' && document.readyState === 'complete' && !document.querySelector('#login-error').hidden`, 5000);
      eq(fake.logins[fake.logins.length - 1], { type: 'application/x-www-form-urlencoded', password: 'wrong-password' }, 'login POST (form-encoded)');
      await b.type('#password', 'right-password');
      await b.click('form button[type=submit]');
      await b.waitFor(`location.pathname === '/' && document.body.dataset.seq`, 5000);
    });

    await step('no script errors on the pages', async () => {
      eq(consoleErrors, [], 'page errors (exceptions, CSP violations, failed loads, console.error)');
    });
  } finally {
    if (browser) {
      const pid = browser.pid;
      await browser.close();
      const left = liveGroupMembers(pid);
      if (left.length) {
        console.error(`FAIL: chromium processes left running: ${left.join(' ')}`);
        process.exitCode = 1;
      }
    }
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    fake.dropStreams();
    fake.server.closeAllConnections?.();
    fake.server.close();
  }
  await step('chromium is gone after close()', async () => {
    // checked in the finally block above; recorded here so it counts
    check(process.exitCode !== 1, 'chromium processes left running');
  });
}

// ---------------------------------------------------------------------------

const watchdog = setTimeout(() => {
  console.error(`FAIL: self-test did not finish within 120 s (at: ${current})`);
  process.exit(1);
}, 120000);

try {
  await step('websocket client: ping/pong, fragments, 16/64-bit lengths, close', websocketSelftest);
  await dashSelftest();
  clearTimeout(watchdog);
  console.log(`screenshots: ${SHOT} ${LOGIN_SHOT}`);
  console.log(`${passed} passed, 0 failed`);
  process.exit(process.exitCode || 0);
} catch (e) {
  clearTimeout(watchdog);
  console.error(`FAIL: ${current}: ${e.message}`);
  console.log(`${passed} passed, 1 failed`);
  process.exit(1);
}
