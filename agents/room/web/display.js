// display.js — the room's display, served by its agent (tutti-agent --http).
//
// The agent sends three documents when they change, never per frame
// (agents/room/agent_view.h): `clock` (session time as a line of the
// agent's local clock), `roll` (the roll in session time: beats with
// bar|beat and click, the count-in, changes, markers, the timecode's
// anchor), `room` (transport phase, coordinator reachability, open score
// changes). Times are computed by the agent's C tempo code; this page only
// compares them with "now".
//
// Drawing on time: the page maps its own performance.now() to the agent's
// local clock with pings (/api/ping: the minimum round trip of a burst of
// eight, its midpoint; bursts repeat, quickly at first, then every 5 s, and
// a line is fitted through the last ones so a browser clock running at
// another rate than the agent's stays mapped), then to session time through
// the clock document. Each animation frame is drawn for the instant it is
// expected on screen (its requestAnimationFrame time plus one frame
// period), so a streamer's end meets the punch on the frame nearest the true
// instant, and a flutter's flashes fall on theirs. Every streamer end,
// punch, flutter flash, hit and visual click drawn is recorded in
// window.ttDrawLog:
// {kind, id, perf (expected display time, performance.now() ms), raf,
// gap (ms since the frame before), session_ns (the session time the frame
// stood for), target_ns, late (its own frame never came: drawn on the next)}.
//
// The page keeps drawing from its last mapping when the coordinator, or
// even the agent, goes away, and says so.
(() => {
  'use strict';

  const $ = (id) => document.getElementById(id);
  const NS_PER_MS = 1e6;
  const FLAG_DOWNBEAT = 1, FLAG_COUNTIN = 2, FLAG_CLICK = 4;
  const CLICK_FLASH_NS = 110e6; // the visual click stays lit this long
  const HIT_SHOW_BEFORE_NS = 2e9, HIT_SHOW_AFTER_NS = 1e9;
  const COLORS = {
    white: '#ffffff', red: '#ff3b30', green: '#34c759', yellow: '#ffd60a',
    blue: '#0a84ff', orange: '#ff9f0a', cyan: '#64d2ff', magenta: '#ff2d95',
  };

  window.ttDrawLog = [];
  window.ttSync = () => ({ off: sync.off, slope: sync.slope, pref: sync.pref, rtt: sync.rtt, bursts: sync.bursts.length, period: frames.period, frames: frames.count, dropped: frames.dropped });
  const MAX_LOG = 20000;

  // --------------------------------------------------------------- documents

  let session = null; // {csrf, room}
  let clock = null; // {valid, state, local_ref_ns, session_ref_ns, rate, error_bound_us}
  let roll = null; // {active, ...} (agent_view_roll_json)
  let room = null; // {room, phase, coordinator: {online, since_unix_ms}, changes}
  let agentUp = false; // the event stream is open
  let agentLostAt = 0; // Date.now() when it dropped

  // ------------------------------------------------- page clock -> agent clock

  // local(perf) = perf * 1e6 + off + slope * (perf - pref), in ns.
  const sync = { bursts: [], off: null, slope: 0, pref: 0, rtt: null, fails: 0 };

  function localAt(perf) {
    if (sync.off === null) return null;
    return perf * NS_PER_MS + sync.off + sync.slope * (perf - sync.pref);
  }

  function sessionAt(perf) {
    const l = localAt(perf);
    if (l === null || !clock || !clock.valid) return null;
    return clock.session_ref_ns + (l - clock.local_ref_ns) * clock.rate;
  }

  function median(a) {
    const s = [...a].sort((x, y) => x - y);
    return s.length ? s[s.length >> 1] : 0;
  }

  // A line through the bursts' offsets (least squares), bursts whose round
  // trip was far above the usual left out; with too short a span, the last.
  function fitSync() {
    const all = sync.bursts;
    const usual = median(all.map((b) => b.rtt));
    const bs = all.filter((b) => b.rtt <= Math.max(3 * usual, usual + 0.5));
    const last = all[all.length - 1];
    if (bs.length < 3 || bs[bs.length - 1].perf - bs[0].perf < 4000) {
      sync.off = last.off;
      sync.pref = last.perf;
      sync.slope = 0;
      return;
    }
    const n = bs.length;
    const pm = bs.reduce((s, b) => s + b.perf, 0) / n;
    const om = bs.reduce((s, b) => s + b.off, 0) / n;
    let sxy = 0, sxx = 0;
    for (const b of bs) {
      sxy += (b.perf - pm) * (b.off - om);
      sxx += (b.perf - pm) * (b.perf - pm);
    }
    sync.slope = sxx > 0 ? sxy / sxx : 0; // ns per ms: the two clocks' rate difference
    sync.pref = pm;
    sync.off = om;
  }

  async function pingBurst() {
    let best = null;
    for (let i = 0; i < 8; i++) {
      const t0 = performance.now();
      const res = await fetch('/api/ping', { cache: 'no-store', credentials: 'same-origin' });
      const t1 = performance.now();
      if (!res.ok) throw new Error(`ping: HTTP ${res.status}`);
      const j = await res.json();
      const rtt = t1 - t0, mid = (t0 + t1) / 2;
      if (!best || rtt < best.rtt) best = { perf: mid, off: j.local_ns - mid * NS_PER_MS, rtt };
    }
    sync.bursts.push(best);
    if (sync.bursts.length > 16) sync.bursts.shift();
    sync.rtt = best.rtt;
    fitSync();
  }

  async function pingLoop() {
    for (let n = 0; ; n++) {
      try {
        await pingBurst();
        sync.fails = 0;
      } catch (e) {
        sync.fails++;
      }
      await new Promise((r) => setTimeout(r, n < 4 ? 300 : n < 14 ? 2000 : 5000));
    }
  }

  // ------------------------------------------------------------------ network

  async function getJSON(path) {
    const res = await fetch(path, { credentials: 'same-origin', cache: 'no-store' });
    if (res.status === 401) {
      location.assign('/login.html');
      throw new Error('not logged in');
    }
    if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
    return res.json();
  }

  function take(name, data) {
    if (name === 'clock') clock = data;
    else if (name === 'roll') roll = data;
    else if (name === 'room') {
      room = data;
      renderRoom();
    }
  }

  function connect() {
    const es = new EventSource('/events');
    es.onopen = () => {
      if (agentLostAt) {
        // The agent may have restarted (a new local clock): map it afresh.
        sync.bursts.length = 0;
        pingBurst().catch(() => {});
      }
      agentUp = true;
      agentLostAt = 0;
      renderRoom();
    };
    es.onerror = () => {
      if (agentUp) agentLostAt = Date.now();
      agentUp = false;
      renderRoom();
      if (es.readyState === EventSource.CLOSED) {
        setTimeout(() => {
          getJSON('/api/session').then((s) => { session = s; }).catch(() => {});
          connect();
        }, 2000);
      }
    };
    for (const name of ['clock', 'roll', 'room'])
      es.addEventListener(name, (ev) => {
        try {
          take(name, JSON.parse(ev.data));
        } catch {
          /* a broken document: keep the last */
        }
      });
  }

  // ------------------------------------------------------------------ text

  const shown = new Map(); // element id -> text last written (skip DOM work)
  function setText(id, text) {
    if (shown.get(id) === text) return;
    shown.set(id, text);
    $(id).textContent = text;
  }
  function setClass(el, cls) {
    if (el.className !== cls) el.className = cls;
  }
  const pad2 = (n) => String(n).padStart(2, '0');

  function clockText(unixMs) {
    const d = new Date(unixMs);
    return `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
  }

  // The timecode label of a frame count, as tt_timecode_fields makes it.
  function tcLabel(frame, tc) {
    const day = tc.drop ? 2589408 : tc.nominal * 86400;
    let n = ((frame % day) + day) % day;
    if (tc.drop) {
      const blocks = Math.floor(n / 17982), rest = n % 17982;
      n += 18 * blocks + (rest >= 2 ? 2 * Math.floor((rest - 2) / 1798) : 0);
    }
    const f = n % tc.nominal, s = Math.floor(n / tc.nominal);
    return `${pad2(Math.floor(s / 3600))}:${pad2(Math.floor(s / 60) % 60)}:${pad2(s % 60)}${tc.drop ? ';' : ':'}${pad2(f)}`;
  }

  function renderRoom() {
    if (!room) return;
    setText('room', room.room);
    const out = $('outage');
    let text = '';
    if (!agentUp && agentLostAt)
      text = `room agent unreachable since ${clockText(agentLostAt)} — showing its last clock`;
    else if (room.coordinator && !room.coordinator.online)
      text = `coordinator unreachable${room.coordinator.since_unix_ms ? ` since ${clockText(room.coordinator.since_unix_ms)}` : ''} — click continues from this room's clock`;
    out.textContent = text;
    out.hidden = !text;
    document.body.dataset.coordinator = room.coordinator && room.coordinator.online ? 'online' : 'away';
    const live = $('live');
    live.textContent = agentUp ? 'live' : 'reconnecting…';
    setClass(live, `pill ${agentUp ? 'live' : 'down'}`);
    renderChanges();
  }

  function renderChanges() {
    const ul = $('changes');
    const open = room.changes || [];
    const key = JSON.stringify(open);
    if (ul.dataset.key === key) return;
    ul.dataset.key = key;
    ul.replaceChildren();
    if (!open.length) {
      const li = document.createElement('li');
      li.className = 'empty';
      li.textContent = 'none open';
      ul.append(li);
      return;
    }
    for (const c of open) {
      const li = document.createElement('li');
      li.className = 'change';
      li.dataset.change = String(c.id);
      const meta = document.createElement('div');
      meta.className = 'meta';
      meta.textContent = `change ${c.id} · ${c.cue}`;
      const what = document.createElement('div');
      what.className = 'what';
      what.textContent = c.text;
      const btn = document.createElement('button');
      btn.className = 'btn ack';
      btn.textContent = 'Acknowledge';
      btn.addEventListener('click', () => acknowledge(c.id, btn));
      li.append(meta, what, btn);
      ul.append(li);
    }
  }

  function showMessage(text, kind) {
    const m = $('message');
    m.textContent = text;
    m.className = `message ${kind}`;
    m.hidden = false;
  }

  async function acknowledge(id, btn) {
    if (!session) return showMessage('not connected yet: try again in a moment', 'error');
    btn.disabled = true;
    try {
      const res = await fetch('/api/ack', {
        method: 'POST',
        credentials: 'same-origin',
        cache: 'no-store',
        headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': session.csrf },
        body: JSON.stringify({ change: id }),
      });
      let data = null;
      try {
        data = await res.json();
      } catch {
        /* not JSON */
      }
      if (!res.ok || !data || !data.ok) {
        showMessage(`change ${id}: ${data && data.error ? data.error : `HTTP ${res.status}`}`, 'error');
        btn.disabled = false;
        return;
      }
      showMessage(`change ${id} acknowledged (record ${data.seq})`, 'ok');
    } catch (e) {
      showMessage(`change ${id}: ${e.message}`, 'error');
      btn.disabled = false;
    }
  }

  // ---------------------------------------------------------------- drawing

  // The picture's marks are a few composited layers (a band per streamer,
  // the punch disc, the punch line) moved with transform and opacity only:
  // a frame then costs the compositor the band's strip, not a repaint of
  // the whole screen (a canvas redrawn every frame made a loaded machine
  // skip frames).
  const sweep = $('sweep');
  const bands = []; // pooled streamer bands
  function band(i) {
    while (bands.length <= i) {
      const d = document.createElement('div');
      d.className = 'band';
      sweep.append(d);
      bands.push({ el: d, x: null, color: null });
    }
    return bands[i];
  }
  const disc = { el: $('punch-disc'), on: false, color: null };
  const edge = { el: $('punch-line'), on: false, color: null };
  function show(mark, on, color) {
    if (on && mark.color !== color) {
      mark.el.style.background = color;
      mark.color = color;
    }
    if (mark.on !== on) {
      mark.el.style.opacity = on ? '1' : '0';
      mark.on = on;
    }
  }

  const logged = new Set();
  function logDraw(kind, id, frame, target, late) {
    const key = `${roll.start_ns}:${kind}:${id}`;
    if (logged.has(key)) return;
    logged.add(key);
    if (window.ttDrawLog.length >= MAX_LOG) window.ttDrawLog.shift();
    window.ttDrawLog.push({
      kind, id, perf: frame.D, raf: frame.ts, period: frame.P, gap: frame.gap, session_ns: frame.S, target_ns: target, late,
      cue: roll.cue, take: roll.take,
    });
  }

  // Where an instant falls for this frame: 0 on the frame nearest it (the
  // one whose display time is within half a frame), -1 before, 1 after.
  function place(frame, t) {
    const d = frame.S - t;
    if (d <= -frame.Pn / 2) return -1;
    if (d <= frame.Pn / 2) return 0;
    return 1;
  }

  // A punch: the disc in the middle of the picture and the punch line at
  // the right edge, on the nearest frame and the one after (two frames are
  // what the eye takes in). Returns its color when lit.
  function punch(frame, t, kind, id, color) {
    const p = place(frame, t);
    const d = frame.S - t;
    if (p === 0) logDraw(kind, id, frame, t, false);
    else if (p === 1 && d <= 3 * frame.Pn) logDraw(kind, id, frame, t, true); // its frame never came
    return p === 0 || (p === 1 && d <= 1.5 * frame.Pn) ? color : null;
  }

  function drawMarkers(frame) {
    const W = window.innerWidth;
    const markers = roll && roll.active && frame.S !== null ? roll.markers || [] : [];
    let nb = 0, lit = null, line = null;
    for (let i = 0; i < markers.length; i++) {
      const m = markers[i];
      const color = m.rgb || COLORS[m.color] || '#ffffff';
      if (m.kind === 'streamer' || m.kind === 'warning') {
        const len = m.ns - m.start_ns;
        if (frame.S < m.start_ns || frame.S > m.ns + 3 * frame.Pn || len <= 0) continue;
        const p = place(frame, m.ns);
        if (p <= 0) {
          // The leading edge: at the punch line on the nearest frame.
          const x = p === 0 ? W : W * (1 - (m.ns - frame.S) / len);
          const b = band(nb++);
          if (b.color !== color) {
            b.el.style.background = color;
            b.color = color;
          }
          if (b.x !== x) {
            b.el.style.transform = `translate3d(${(x - W / 60).toFixed(1)}px,0,0)`;
            b.el.style.opacity = '0.85';
            b.x = x;
          }
        }
        const c = punch(frame, m.ns, m.kind, `${i}`, color);
        if (c) lit = line = c;
      } else if (m.kind === 'punch' || m.kind === 'hit') {
        if (Math.abs(frame.S - m.ns) > 3 * frame.Pn) continue;
        const c = punch(frame, m.ns, m.kind, `${i}`, color);
        if (c) lit = line = c;
      } else if (m.kind === 'flutter') {
        const flashes = m.flashes || [m.ns];
        for (let k = 0; k < flashes.length; k++) {
          const t = flashes[k];
          const p = place(frame, t);
          if (p === 0) {
            lit = color;
            logDraw('flutter', `${i}.${k}`, frame, t, false);
          } else if (p === 1 && frame.S - t <= 1.5 * frame.Pn) {
            logDraw('flutter', `${i}.${k}`, frame, t, true); // its frame never came
          }
        }
      }
    }
    for (let i = nb; i < bands.length; i++)
      if (bands[i].x !== null) {
        bands[i].el.style.opacity = '0';
        bands[i].x = null;
      }
    show(disc, !!lit, lit);
    show(edge, !!line, line);
  }

  // The last beat at or before s (beats are in time order).
  function beatAt(s) {
    const b = roll.beats;
    let lo = 0, hi = b.length - 1, found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (b[mid][0] <= s) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }

  function transportState(s) {
    if (!room) return 'connecting';
    if (room.phase === 'idle') return 'idle';
    if (room.phase === 'armed') return 'armed';
    if (!roll || !roll.active || s === null) return 'rolled';
    if (s < roll.start_ns) return 'armed';
    if (s < roll.origin_ns) return 'count-in';
    if (roll.stop_ns !== null && s >= roll.stop_ns) return 'stopped';
    return 'rolling';
  }

  const dots = [];
  function renderBeats(perBar, current, lit) {
    const box = $('beats');
    if (dots.length !== perBar) {
      box.replaceChildren();
      dots.length = 0;
      for (let i = 0; i < perBar; i++) {
        const d = document.createElement('i');
        box.append(d);
        dots.push(d);
      }
    }
    for (let i = 0; i < dots.length; i++)
      setClass(dots[i], i + 1 === current && lit ? (i === 0 ? 'on down' : 'on') : '');
  }

  function renderText(frame) {
    const s = frame.S;
    const st = transportState(s);
    document.body.dataset.state = st;
    setText('state', st);
    setClass($('state'), `badge state-${st}`);
    if (!roll || !roll.active) {
      const armed = room && room.phase === 'armed';
      setText('cue', armed ? room.cue : 'no cue');
      setText('take', '');
      setText('barbeat', armed ? room.cue : '–');
      setClass($('barbeat'), 'barbeat mono idle');
      setText('timecode', '');
      setText('next', armed ? 'armed: waiting for the roll' : '\u00a0');
      renderBeats(0, 0, false);
      return;
    }
    setText('cue', roll.title ? `${roll.cue} “${roll.title}”` : roll.cue);
    setText('take', `take ${roll.take}`);
    if (s === null) return;
    // A beat shows from the frame nearest it on (the one within half a frame).
    const i = st === 'armed' ? -1 : beatAt(s + frame.Pn / 2);
    const bb = $('barbeat');
    if (i < 0) {
      setText('barbeat', '–');
      setClass(bb, 'barbeat mono');
      renderBeats(0, 0, false);
    } else {
      const [ns, bar, beat, flags] = roll.beats[i];
      if (flags & FLAG_COUNTIN) {
        const k = Math.round((ns - roll.start_ns) / roll.countin.beat_ns) + 1;
        setText('barbeat', `count-in ${k} of ${roll.countin.beats}`);
        setClass(bb, 'barbeat mono countin');
      } else {
        setText('barbeat', `${bar}|${beat}`);
        setClass(bb, 'barbeat mono');
      }
      const clickOn = $('click-toggle').checked && flags & FLAG_CLICK && s - ns < CLICK_FLASH_NS;
      renderBeats(flags & FLAG_COUNTIN ? roll.countin.per_bar : beatsInBar(i), beat, clickOn && st !== 'stopped');
      if (clickOn && place(frame, ns) === 0) logDraw('click', `${bar}.${beat}`, frame, ns, false);
    }
    // Timecode at the cue's frame rate (cue time from the roll's origin).
    const cue = s - roll.origin_ns + roll.c_from_ns;
    const frameNo = roll.tc.start_frame + Math.floor((cue * roll.tc.num) / roll.tc.den / 1e9 + 1e-9);
    setText('timecode', tcLabel(frameNo, roll.tc));
    // The next tempo or meter change.
    const next = (roll.changes || []).find((c) => c[0] > s);
    setText('next', next ? `bar ${next[1]}: ${next[2]}` : '\u00a0');
    // A hit's name while it is near.
    const hit = (roll.markers || []).find((m) => m.kind === 'hit' && m.name &&
      s > m.ns - HIT_SHOW_BEFORE_NS && s < m.ns + HIT_SHOW_AFTER_NS);
    const h = $('hit');
    h.hidden = !hit;
    if (hit) setText('hit', hit.name);
  }

  // Beats in the bar of beat i (its last beat's number).
  function beatsInBar(i) {
    const b = roll.beats;
    let n = b[i][2];
    for (let k = i + 1; k < b.length && b[k][1] === b[i][1]; k++) n = b[k][2];
    return n;
  }

  const frames = { last: 0, deltas: [], period: 1000 / 60, count: 0, dropped: 0, gap: 0 };
  // The last 20 s of frames, [requestAnimationFrame time, session time drawn for], for diagnosis.
  const frameRing = new Array(1200);
  window.ttFrames = () => frameRing.filter(Boolean).sort((a, b) => a[0] - b[0]);

  function onFrame(ts) {
    requestAnimationFrame(onFrame);
    frames.gap = frames.last ? ts - frames.last : 0;
    if (frames.last && frames.gap > 1.5 * frames.period) frames.dropped++; // the browser skipped a frame
    if (frames.last) {
      const d = ts - frames.last;
      if (d > 4 && d < 100) {
        frames.deltas.push(d);
        if (frames.deltas.length > 120) frames.deltas.shift();
      }
    }
    frames.last = ts;
    if (++frames.count % 30 === 0 && frames.deltas.length >= 10) frames.period = median(frames.deltas);
    const P = frames.period;
    // The frame begun now is on screen one period later.
    const D = ts + P;
    const frame = { ts, D, P, Pn: P * NS_PER_MS, S: sessionAt(D), gap: frames.gap };
    frameRing[frames.count % frameRing.length] = [ts, frame.S];
    drawMarkers(frame);
    renderText(frame);
    if (frames.count % 30 === 0) renderFoot();
  }

  function renderFoot() {
    if (clock) {
      const b = clock.error_bound_us;
      setText('clock-state', `clock ${clock.state}${b !== null && b !== undefined ? ` ±${b < 100 ? b.toFixed(1) : Math.round(b)} µs` : ''}`);
    }
    setText('sync', sync.rtt === null ? 'page ↔ room —' : `page ↔ room rtt ${sync.rtt.toFixed(2)} ms${sync.fails ? ' (pings failing)' : ''}`);
    setText('fps', `${(1000 / frames.period).toFixed(1)} fps`);
  }

  // --------------------------------------------------------------- start

  async function start() {
    try {
      session = await getJSON('/api/session');
      const all = await getJSON('/api/state');
      for (const name of ['clock', 'roll', 'room']) if (all[name]) take(name, all[name]);
    } catch {
      /* the stream brings them */
    }
    connect();
    pingLoop();
    requestAnimationFrame(onFrame);
  }
  start();
})();
