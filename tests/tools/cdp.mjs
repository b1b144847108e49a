// cdp.mjs — a tiny Chrome DevTools Protocol client for Node 18/20.
//
// No npm packages: the WebSocket client (RFC 6455) is written here over the
// node:http upgrade handshake and the raw node:net socket it hands back.
//
//   import { launch } from './cdp.mjs';
//   const b = await launch({ width: 1400, height: 1000 });
//   try {
//     await b.goto('http://127.0.0.1:8080/');
//     await b.waitFor('document.body.dataset.seq', 5000);
//     await b.type('[data-room="stage"] input.checkin-name', 'Ann Lee');
//     await b.click('[data-room="stage"] button.checkin');
//     console.log(await b.evaluate('document.title'));
//     await b.screenshot('/tmp/page.png');
//   } finally {
//     await b.close();
//   }
//
// launch() spawns its own Chromium in its own process group and close()
// makes sure every process of that group is gone. When no userDataDir is
// given a temporary profile is made and removed again by close(); a profile
// directory the caller names is never removed.

import http from 'node:http';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const OP_CONT = 0x0, OP_TEXT = 0x1, OP_BINARY = 0x2, OP_CLOSE = 0x8, OP_PING = 0x9, OP_PONG = 0xa;
const MAX_OUT_FRAME = 1 << 20; // outgoing messages above 1 MiB go out fragmented

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------
// WebSocket client
// ---------------------------------------------------------------------------

/**
 * Minimal RFC 6455 client. Events: 'message' (string for text, Buffer for
 * binary), 'ping' (Buffer), 'pong' (Buffer), 'close' ({code, reason}),
 * 'error' (Error).
 */
export class WebSocketClient extends EventEmitter {
  /** Connect to ws://host:port/path; resolves once the handshake is done. */
  static connect(url, { timeoutMs = 10000, headers = {} } = {}) {
    return new Promise((resolve, reject) => {
      const u = new URL(url);
      if (u.protocol !== 'ws:') {
        reject(new Error(`only ws:// URLs are supported: ${url}`));
        return;
      }
      const key = crypto.randomBytes(16).toString('base64');
      const req = http.request({
        host: u.hostname.replace(/^\[|\]$/g, ''),
        port: u.port || 80,
        path: u.pathname + u.search,
        headers: {
          Connection: 'Upgrade',
          Upgrade: 'websocket',
          'Sec-WebSocket-Key': key,
          'Sec-WebSocket-Version': '13',
          ...headers,
        },
      });
      const timer = setTimeout(() => {
        req.destroy(new Error(`WebSocket handshake with ${url} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      req.on('upgrade', (res, socket, head) => {
        clearTimeout(timer);
        const want = crypto.createHash('sha1').update(key + WS_GUID).digest('base64');
        if (res.headers['sec-websocket-accept'] !== want) {
          socket.destroy();
          reject(new Error(`bad Sec-WebSocket-Accept from ${url}`));
          return;
        }
        const ws = new WebSocketClient(socket);
        if (head && head.length) ws._onData(head);
        resolve(ws);
      });
      req.on('response', (res) => {
        clearTimeout(timer);
        res.resume();
        reject(new Error(`WebSocket handshake with ${url} refused: HTTP ${res.statusCode}`));
      });
      req.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      req.end();
    });
  }

  constructor(socket) {
    super();
    this.socket = socket;
    this.readyState = 'open'; // open | closing | closed
    this._chunks = [];
    this._len = 0;
    this._need = 2; // bytes needed before parsing can progress
    this._fragOp = null;
    this._frags = [];
    this._closeSent = false;
    socket.setNoDelay(true);
    socket.on('data', (c) => this._onData(c));
    socket.on('error', (err) => this.emit('error', err));
    socket.on('close', () => this._finish(1006, 'connection lost'));
  }

  /** Send a text message (string) or a binary one (Buffer). */
  send(data) {
    if (this.readyState !== 'open') throw new Error('WebSocket is not open');
    const binary = Buffer.isBuffer(data);
    const payload = binary ? data : Buffer.from(String(data), 'utf8');
    const op = binary ? OP_BINARY : OP_TEXT;
    if (payload.length <= MAX_OUT_FRAME) {
      this._sendFrame(op, payload, true);
      return;
    }
    for (let off = 0; off < payload.length; off += MAX_OUT_FRAME) {
      const part = payload.subarray(off, off + MAX_OUT_FRAME);
      const last = off + MAX_OUT_FRAME >= payload.length;
      this._sendFrame(off === 0 ? op : OP_CONT, part, last);
    }
  }

  ping(data = Buffer.alloc(0)) {
    this._sendFrame(OP_PING, Buffer.from(data), true);
  }

  /** Start the closing handshake; resolves when the socket is closed. */
  close(code = 1000, reason = '') {
    return new Promise((resolve) => {
      if (this.readyState === 'closed') {
        resolve();
        return;
      }
      this.once('close', () => resolve());
      if (!this._closeSent) {
        const r = Buffer.from(reason, 'utf8');
        const p = Buffer.alloc(2 + r.length);
        p.writeUInt16BE(code, 0);
        r.copy(p, 2);
        try {
          this._sendFrame(OP_CLOSE, p, true);
        } catch {
          /* socket already gone */
        }
        this._closeSent = true;
      }
      this.readyState = 'closing';
      // Do not wait forever for the peer's close frame.
      setTimeout(() => this.socket.destroy(), 1000).unref();
    });
  }

  _sendFrame(op, payload, fin) {
    const len = payload.length;
    const extra = len < 126 ? 0 : len < 65536 ? 2 : 8;
    const hdr = Buffer.alloc(2 + extra + 4);
    hdr[0] = (fin ? 0x80 : 0) | op;
    if (len < 126) {
      hdr[1] = 0x80 | len;
    } else if (len < 65536) {
      hdr[1] = 0x80 | 126;
      hdr.writeUInt16BE(len, 2);
    } else {
      hdr[1] = 0x80 | 127;
      hdr.writeBigUInt64BE(BigInt(len), 2);
    }
    const mask = crypto.randomBytes(4);
    mask.copy(hdr, 2 + extra);
    const body = Buffer.allocUnsafe(len);
    for (let i = 0; i < len; i++) body[i] = payload[i] ^ mask[i & 3];
    this.socket.write(Buffer.concat([hdr, body]));
  }

  _onData(chunk) {
    this._chunks.push(chunk);
    this._len += chunk.length;
    if (this._len < this._need) return; // wait for the whole frame: no quadratic copying
    let buf = this._chunks.length === 1 ? this._chunks[0] : Buffer.concat(this._chunks, this._len);
    this._chunks = [];
    this._len = 0;
    let pos = 0;
    for (;;) {
      const avail = buf.length - pos;
      if (avail < 2) {
        this._need = 2;
        break;
      }
      const b0 = buf[pos], b1 = buf[pos + 1];
      const fin = (b0 & 0x80) !== 0;
      const op = b0 & 0x0f;
      const masked = (b1 & 0x80) !== 0;
      let len = b1 & 0x7f;
      let hs = 2;
      if (len === 126) hs += 2;
      else if (len === 127) hs += 8;
      if (masked) hs += 4;
      if (avail < hs) {
        this._need = hs;
        break;
      }
      if (len === 126) len = buf.readUInt16BE(pos + 2);
      else if (len === 127) {
        const big = buf.readBigUInt64BE(pos + 2);
        if (big > BigInt(Number.MAX_SAFE_INTEGER)) {
          this._fail(1009, 'frame too large');
          return;
        }
        len = Number(big);
      }
      if (avail < hs + len) {
        this._need = hs + len;
        break;
      }
      let payload = buf.subarray(pos + hs, pos + hs + len);
      if (masked) {
        // Servers must not mask, but unmask anyway rather than choke.
        const m = buf.subarray(pos + hs - 4, pos + hs);
        const out = Buffer.allocUnsafe(len);
        for (let i = 0; i < len; i++) out[i] = payload[i] ^ m[i & 3];
        payload = out;
      }
      pos += hs + len;
      this._onFrame(fin, op, payload);
      if (this.readyState === 'closed') return;
    }
    if (pos < buf.length) {
      const rest = buf.subarray(pos);
      this._chunks = [rest];
      this._len = rest.length;
    }
  }

  _onFrame(fin, op, payload) {
    switch (op) {
      case OP_TEXT:
      case OP_BINARY:
        if (this._fragOp !== null) {
          this._fail(1002, 'new message inside a fragmented one');
          return;
        }
        if (fin) this._deliver(op, payload);
        else {
          this._fragOp = op;
          this._frags = [Buffer.from(payload)];
        }
        return;
      case OP_CONT:
        if (this._fragOp === null) {
          this._fail(1002, 'continuation without a start frame');
          return;
        }
        this._frags.push(Buffer.from(payload));
        if (fin) {
          const whole = Buffer.concat(this._frags);
          const fop = this._fragOp;
          this._fragOp = null;
          this._frags = [];
          this._deliver(fop, whole);
        }
        return;
      case OP_PING:
        if (this.readyState === 'open') this._sendFrame(OP_PONG, payload, true);
        this.emit('ping', Buffer.from(payload));
        return;
      case OP_PONG:
        this.emit('pong', Buffer.from(payload));
        return;
      case OP_CLOSE: {
        const code = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
        const reason = payload.length > 2 ? payload.subarray(2).toString('utf8') : '';
        if (!this._closeSent) {
          const echo = Buffer.alloc(2);
          echo.writeUInt16BE(code === 1005 ? 1000 : code, 0);
          try {
            this._sendFrame(OP_CLOSE, echo, true);
          } catch {
            /* ignore */
          }
          this._closeSent = true;
        }
        this.socket.end();
        this._finish(code, reason);
        return;
      }
      default:
        this._fail(1002, `unknown opcode ${op}`);
    }
  }

  _deliver(op, buf) {
    this.emit('message', op === OP_TEXT ? buf.toString('utf8') : buf);
  }

  _fail(code, reason) {
    this.emit('error', new Error(`WebSocket protocol error: ${reason}`));
    try {
      const p = Buffer.alloc(2);
      p.writeUInt16BE(code, 0);
      this._sendFrame(OP_CLOSE, p, true);
    } catch {
      /* ignore */
    }
    this._closeSent = true;
    this.socket.destroy();
    this._finish(code, reason);
  }

  _finish(code, reason) {
    if (this.readyState === 'closed') return;
    this.readyState = 'closed';
    this.emit('close', { code, reason });
  }
}

// ---------------------------------------------------------------------------
// CDP connection (one browser-level WebSocket, flattened page sessions)
// ---------------------------------------------------------------------------

class CDPConnection extends EventEmitter {
  constructor(ws) {
    super();
    this.ws = ws;
    this.nextId = 1;
    this.pending = new Map();
    ws.on('message', (text) => {
      let msg;
      try {
        msg = JSON.parse(text);
      } catch {
        return;
      }
      if (msg.id !== undefined) {
        const p = this.pending.get(msg.id);
        if (!p) return;
        this.pending.delete(msg.id);
        if (msg.error) p.reject(new Error(`${p.method}: ${msg.error.message}${msg.error.data ? ` (${msg.error.data})` : ''}`));
        else p.resolve(msg.result || {});
      } else if (msg.method) {
        this.emit(`${msg.sessionId || ''}:${msg.method}`, msg.params || {});
      }
    });
    ws.on('error', () => {}); // surfaced through 'close'
    ws.on('close', () => {
      for (const p of this.pending.values()) p.reject(new Error(`${p.method}: DevTools connection closed`));
      this.pending.clear();
      this.emit('disconnected');
    });
  }

  send(method, params = {}, sessionId = undefined, timeoutMs = 30000) {
    if (this.ws.readyState !== 'open') return Promise.reject(new Error(`${method}: DevTools connection closed`));
    const id = this.nextId++;
    const msg = { id, method, params };
    if (sessionId) msg.sessionId = sessionId;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${method}: no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        method,
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.ws.send(JSON.stringify(msg));
    });
  }
}

// ---------------------------------------------------------------------------
// Browser
// ---------------------------------------------------------------------------

class Browser {
  constructor({ proc, conn, sessionId, targetId, userDataDir, ownsDir }) {
    this.proc = proc;
    this.pid = proc.pid;
    this.conn = conn;
    this.sessionId = sessionId;
    this.targetId = targetId;
    this.userDataDir = userDataDir;
    this._ownsDir = ownsDir;
    this._closed = false;
    this._exitGuard = () => killGroupSync(this.pid);
    process.on('exit', this._exitGuard);
  }

  /** Send a raw CDP command to the page session. */
  send(method, params = {}, timeoutMs = 30000) {
    return this.conn.send(method, params, this.sessionId, timeoutMs);
  }

  /** Subscribe to a page session event; returns an unsubscribe function. */
  on(method, fn) {
    const key = `${this.sessionId}:${method}`;
    this.conn.on(key, fn);
    return () => this.conn.off(key, fn);
  }

  /** Navigate and wait for the load event. */
  async goto(url, { timeoutMs = 30000 } = {}) {
    let off = () => {};
    const loaded = new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`goto ${url}: no load event within ${timeoutMs} ms`));
      }, timeoutMs);
      off = this.on('Page.loadEventFired', () => {
        clearTimeout(timer);
        off();
        resolve();
      });
    });
    loaded.catch(() => {}); // handled below; avoid unhandled rejection if navigate throws first
    let res;
    try {
      res = await this.send('Page.navigate', { url }, timeoutMs);
    } catch (e) {
      off();
      throw e;
    }
    if (res.errorText) {
      off();
      throw new Error(`goto ${url}: ${res.errorText}`);
    }
    if (!res.loaderId) {
      off(); // same-document navigation: no load event comes
      return;
    }
    await loaded;
  }

  /** Evaluate an expression in the page; promises are awaited; returns the value. */
  async evaluate(expr) {
    const res = await this.send('Runtime.evaluate', {
      expression: String(expr),
      returnByValue: true,
      awaitPromise: true,
      userGesture: true,
    });
    if (res.exceptionDetails) {
      const d = res.exceptionDetails;
      const desc = (d.exception && (d.exception.description || d.exception.value)) || d.text || 'exception';
      throw new Error(`evaluate(${short(expr)}) threw: ${desc}`);
    }
    return res.result ? res.result.value : undefined;
  }

  /** Poll expr every 50 ms until it is truthy; returns the elapsed ms. */
  async waitFor(expr, timeoutMs = 5000) {
    const t0 = Date.now();
    let lastErr = null;
    for (;;) {
      try {
        if (await this.evaluate(expr)) return Date.now() - t0;
        lastErr = null;
      } catch (e) {
        lastErr = e;
      }
      if (Date.now() - t0 >= timeoutMs) {
        throw new Error(`waitFor timed out after ${timeoutMs} ms: ${expr}${lastErr ? ` (last error: ${lastErr.message})` : ''}`);
      }
      await sleep(50);
    }
  }

  /** Scroll the element into view and click its centre with real mouse events. */
  async click(selector) {
    const box = await this.evaluate(`(() => {
      const el = document.querySelector(${JSON.stringify(selector)});
      if (!el) return null;
      el.scrollIntoView({ block: 'center', inline: 'center' });
      const r = el.getBoundingClientRect();
      return { x: r.left + r.width / 2, y: r.top + r.height / 2, w: r.width, h: r.height };
    })()`);
    if (!box) throw new Error(`click: no element matches ${selector}`);
    if (box.w === 0 || box.h === 0) throw new Error(`click: element ${selector} has no size (hidden?)`);
    const base = { x: box.x, y: box.y, button: 'left', modifiers: 0 };
    await this.send('Input.dispatchMouseEvent', { type: 'mouseMoved', x: box.x, y: box.y });
    await this.send('Input.dispatchMouseEvent', { ...base, type: 'mousePressed', clickCount: 1, buttons: 1 });
    await this.send('Input.dispatchMouseEvent', { ...base, type: 'mouseReleased', clickCount: 1, buttons: 0 });
  }

  /** Focus the element and insert text as if typed. */
  async type(selector, text) {
    const ok = await this.evaluate(`(() => {
      const el = document.querySelector(${JSON.stringify(selector)});
      if (!el) return false;
      el.scrollIntoView({ block: 'center', inline: 'center' });
      el.focus();
      return document.activeElement === el;
    })()`);
    if (!ok) throw new Error(`type: no focusable element matches ${selector}`);
    await this.send('Input.insertText', { text: String(text) });
  }

  /** Save a PNG of the viewport (or the whole page with {fullPage:true}). */
  async screenshot(file, { fullPage = false } = {}) {
    const params = { format: 'png' };
    if (fullPage) {
      const m = await this.send('Page.getLayoutMetrics');
      const size = m.cssContentSize || m.contentSize;
      params.captureBeyondViewport = true;
      params.clip = { x: 0, y: 0, width: Math.ceil(size.width), height: Math.ceil(size.height), scale: 1 };
    }
    const res = await this.send('Page.captureScreenshot', params, 60000);
    fs.writeFileSync(file, Buffer.from(res.data, 'base64'));
    return file;
  }

  /** Browser.close, then kill the process (group) if still alive after 2 s. */
  async close() {
    if (this._closed) return;
    this._closed = true;
    try {
      await Promise.race([this.conn.send('Browser.close', {}, undefined, 2000), sleep(2000)]);
    } catch {
      /* connection may already be gone */
    }
    let exited = await waitExit(this.proc, 2000);
    if (!exited) {
      killGroupSync(this.pid);
      exited = await waitExit(this.proc, 3000);
    }
    // The browser's helpers (zygote, renderers) share its process group.
    for (let i = 0; i < 20 && groupAlive(this.pid); i++) {
      killGroupSync(this.pid);
      await sleep(100);
    }
    try {
      this.conn.ws.socket.destroy();
    } catch {
      /* ignore */
    }
    process.off('exit', this._exitGuard);
    if (this._ownsDir) {
      try {
        fs.rmSync(this.userDataDir, { recursive: true, force: true });
      } catch {
        /* ignore */
      }
    }
  }
}

function short(s) {
  s = String(s).replace(/\s+/g, ' ');
  return s.length > 80 ? s.slice(0, 77) + '...' : s;
}

function waitExit(proc, ms) {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      proc.off('exit', onExit);
      resolve(false);
    }, ms);
    function onExit() {
      clearTimeout(t);
      resolve(true);
    }
    proc.once('exit', onExit);
  });
}

// True while a live (non-zombie) process is left in the group. Zombies are
// dead already; they only wait for init to reap them.
function groupAlive(pid) {
  try {
    process.kill(-pid, 0);
  } catch {
    return false;
  }
  let entries;
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return true; // no /proc: trust kill(0)
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    let stat;
    try {
      stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
    } catch {
      continue;
    }
    // pid (comm) state ppid pgrp ...  — comm may contain spaces/parens
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(f[2]) === pid && f[0] !== 'Z' && f[0] !== 'X') return true;
  }
  return false;
}

// Kills the process group that launch() created (its leader is our child),
// falling back to the single PID.
function killGroupSync(pid) {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

/**
 * Launch headless Chromium and attach to its page target.
 * Options: chromium, userDataDir, width, height, timeoutMs, extraArgs.
 */
export async function launch({
  chromium = '/usr/bin/chromium',
  userDataDir,
  width = 1400,
  height = 1000,
  timeoutMs = 30000,
  extraArgs = [],
} = {}) {
  let ownsDir = false;
  if (!userDataDir) {
    userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdp-profile-'));
    ownsDir = true;
  } else {
    fs.mkdirSync(userDataDir, { recursive: true });
  }
  const portFile = path.join(userDataDir, 'DevToolsActivePort');
  let before = null;
  try {
    before = fs.readFileSync(portFile, 'utf8'); // stale file of an earlier run: ignore its content
  } catch {
    /* none */
  }

  const args = [
    '--headless=new',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--remote-debugging-port=0',
    `--user-data-dir=${userDataDir}`,
    `--window-size=${width},${height}`,
    ...extraArgs,
    'about:blank',
  ];
  const proc = spawn(chromium, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let stderrTail = '';
  proc.stderr.on('data', (d) => {
    stderrTail = (stderrTail + d.toString()).slice(-4000);
  });
  let spawnError = null;
  proc.on('error', (e) => {
    spawnError = e;
  });
  const guard = () => killGroupSync(proc.pid);
  process.on('exit', guard);

  const fail = async (msg) => {
    if (proc.pid) killGroupSync(proc.pid);
    await waitExit(proc, 2000);
    process.off('exit', guard);
    if (ownsDir) fs.rmSync(userDataDir, { recursive: true, force: true });
    throw new Error(`${msg}${stderrTail ? `\n--- chromium stderr ---\n${stderrTail}` : ''}`);
  };

  // Wait for DevToolsActivePort: "PORT\n/devtools/browser/ID\n".
  const t0 = Date.now();
  let port = 0, wsPath = '';
  for (;;) {
    if (spawnError) return fail(`cannot start ${chromium}: ${spawnError.message}`);
    if (proc.exitCode !== null || proc.signalCode !== null) {
      return fail(`${chromium} exited (${proc.exitCode ?? proc.signalCode}) before opening DevTools`);
    }
    let text = null;
    try {
      text = fs.readFileSync(portFile, 'utf8');
    } catch {
      /* not yet */
    }
    if (text !== null && text !== before) {
      const lines = text.split('\n');
      if (lines.length >= 2 && /^\d+$/.test(lines[0].trim()) && lines[1].startsWith('/devtools/browser/')) {
        port = Number(lines[0].trim());
        wsPath = lines[1].trim();
        break;
      }
    }
    if (Date.now() - t0 > timeoutMs) return fail(`no ${portFile} within ${timeoutMs} ms`);
    await sleep(50);
  }

  let conn;
  try {
    const ws = await WebSocketClient.connect(`ws://127.0.0.1:${port}${wsPath}`);
    conn = new CDPConnection(ws);
    let { targetInfos } = await conn.send('Target.getTargets');
    let page = targetInfos.find((t) => t.type === 'page');
    for (let i = 0; !page && i < 40; i++) {
      await sleep(50);
      ({ targetInfos } = await conn.send('Target.getTargets'));
      page = targetInfos.find((t) => t.type === 'page');
    }
    let targetId = page ? page.targetId : (await conn.send('Target.createTarget', { url: 'about:blank' })).targetId;
    const { sessionId } = await conn.send('Target.attachToTarget', { targetId, flatten: true });
    await conn.send('Page.enable', {}, sessionId);
    await conn.send('Runtime.enable', {}, sessionId);
    await conn.send('Emulation.setDeviceMetricsOverride', { width, height, deviceScaleFactor: 1, mobile: false }, sessionId);
    process.off('exit', guard);
    return new Browser({ proc, conn, sessionId, targetId, userDataDir, ownsDir });
  } catch (e) {
    try {
      conn && conn.ws.socket.destroy();
    } catch {
      /* ignore */
    }
    return fail(`cannot attach to chromium's page: ${e.message}`);
  }
}
