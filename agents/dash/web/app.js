// tutti-dash — the music contractor's live dashboard.
// Plain ES2020, no framework, no build step. Talks to the tutti-dash server:
//   GET /api/session, GET /api/state, GET /events (SSE), POST /api/call,
//   POST /api/presence, GET /report.csv.
// Also handles login.html (shows "Wrong password" for ?error=1), so neither
// page needs an inline script and a strict CSP (default-src 'self') works.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);

  if (document.body && document.body.id === 'login-page') {
    initLogin();
    return;
  }

  // ------------------------------------------------------------------ utils

  /** h('div', {class:'x', text:'y', dataset:{a:'b'}, onclick: fn}, child...) */
  function h(tag, attrs, ...kids) {
    const el = document.createElement(tag);
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (v === null || v === undefined || v === false) continue;
        if (k === 'class') el.className = v;
        else if (k === 'text') el.textContent = v;
        else if (k === 'dataset') Object.assign(el.dataset, v);
        else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
        else el.setAttribute(k, v === true ? '' : String(v));
      }
    }
    for (const kid of kids.flat()) {
      if (kid === null || kid === undefined || kid === false) continue;
      el.append(kid instanceof Node ? kid : String(kid));
    }
    return el;
  }

  function setText(el, text) {
    if (typeof el === 'string') el = $(el);
    if (el && el.textContent !== text) el.textContent = text;
  }

  /** Like setText, and marks the element .is-empty while it shows "—". */
  function setValue(id, text) {
    const el = $(id);
    setText(el, text);
    el.classList.toggle('is-empty', text === '—');
  }

  const pad2 = (n) => String(n).padStart(2, '0');

  /** H:MM:SS of a non-negative duration (floor). */
  function hms(ms) {
    const s = Math.max(0, Math.floor(ms / 1000));
    return `${Math.floor(s / 3600)}:${pad2(Math.floor(s / 60) % 60)}:${pad2(s % 60)}`;
  }

  /** M:SS of a non-negative number of whole seconds. */
  function mss(sec) {
    return `${Math.floor(sec / 60)}:${pad2(sec % 60)}`;
  }

  /** Countdown: remaining time rounds up, so 0:00 is the moment it is due. */
  function countdown(ms, overPrefix) {
    if (ms > 0) return mss(Math.ceil(ms / 1000));
    return `${overPrefix} +${mss(Math.floor(-ms / 1000))}`;
  }

  // The session's time zone (tutti-dash --tz): the server names it and says
  // its offset now; the browser's own zone plays no part.
  let tzName = '';
  let tzOffsetS = 0;
  let tzFormat = null; // Intl formatter for tzName, null when the browser does not know it

  function setZone(tz) {
    if (!tz || typeof tz.name !== 'string') return;
    tzOffsetS = Number(tz.offset_s) || 0;
    if (tz.name === tzName) return;
    tzName = tz.name;
    try {
      tzFormat = new Intl.DateTimeFormat('en-GB', { timeZone: tzName, hourCycle: 'h23', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    } catch {
      tzFormat = null; // not an IANA name the browser has: use the offset
    }
    setText('tz-name', tzName);
    renderRecords(); // records that came before the zone: their times again
  }

  /** Time of day in the session's time zone, HH:MM:SS (or HH:MM). */
  function tod(unixMs, withSeconds = true) {
    if (!unixMs || unixMs <= 0) return '—';
    let hh, mm, ss;
    if (tzFormat) {
      const parts = {};
      for (const p of tzFormat.formatToParts(new Date(unixMs))) parts[p.type] = p.value;
      [hh, mm, ss] = [parts.hour, parts.minute, parts.second];
    } else {
      const d = new Date(unixMs + tzOffsetS * 1000);
      [hh, mm, ss] = [pad2(d.getUTCHours()), pad2(d.getUTCMinutes()), pad2(d.getUTCSeconds())];
    }
    return withSeconds ? `${hh}:${mm}:${ss}` : `${hh}:${mm}`;
  }

  /** SMPTE label of a frame count since 00:00:00:00 (tt_timecode_fields). */
  function tcLabel(frame, nominal, drop) {
    const day = drop ? 2589408 : nominal * 86400;
    let n = ((frame % day) + day) % day;
    if (drop) {
      const blocks = Math.floor(n / 17982), rest = n % 17982;
      n += 18 * blocks + (rest >= 2 ? 2 * Math.floor((rest - 2) / 1798) : 0);
    }
    const f = n % nominal, s = Math.floor(n / nominal) % 60;
    const m = Math.floor(n / (nominal * 60)) % 60, h = Math.floor(n / (nominal * 3600));
    return `${pad2(h)}:${pad2(m)}:${pad2(s)}${drop ? ';' : ':'}${pad2(f)}`;
  }

  function fmtMicros(us) {
    const a = Math.abs(us);
    return a >= 100 ? String(Math.round(us)) : us.toFixed(1);
  }

  const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;

  // ------------------------------------------------------------------ state

  let session = null; // {csrf, read_only, name}
  let state = null; // last state JSON rendered
  let statePerf = 0; // performance.now() when `state` arrived
  let sawStreamState = false; // the SSE stream has delivered a state
  let es = null; // EventSource
  let reconnectTimer = 0;
  let rulesTouched = false; // the user picked a preset: stop following the server's
  const records = []; // record events, newest first
  const recordSeqs = new Set();
  const roomCards = new Map(); // room name -> {el, ...}
  const lastJSON = {}; // slice name -> JSON last rendered (skip unchanged DOM work)
  const MAX_RECORDS = 30;

  const readOnly = () => !!((session && session.read_only) || (state && state.read_only));
  /** Server time now, ticked locally from the last state's now_unix_ms. */
  const sinceState = () => (state ? Math.max(0, performance.now() - statePerf) : 0);

  // ---------------------------------------------------------------- network

  class AuthError extends Error {}

  function toLogin() {
    if (!/\/login(\.html)?$/.test(location.pathname)) location.assign('/login.html');
  }

  async function getJSON(path) {
    const res = await fetch(path, { credentials: 'same-origin', cache: 'no-store', headers: { Accept: 'application/json' } });
    if (res.status === 401 || (res.redirected && /\/login/.test(res.url))) throw new AuthError('not logged in');
    if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
    return res.json();
  }

  async function loadSession() {
    session = await getJSON('/api/session');
    setText('user-name', session.name || '');
    applyControls();
  }

  /** POST JSON with the CSRF token; shows the outcome in #message. */
  async function post(path, body, btn, okText) {
    if (!session) {
      showMessage('Not connected yet — try again in a moment.', 'error');
      return null;
    }
    if (readOnly()) {
      showMessage('This dashboard is read-only.', 'error');
      return null;
    }
    if (btn) {
      btn.disabled = true;
      btn.classList.add('busy');
    }
    try {
      const res = await fetch(path, {
        method: 'POST',
        credentials: 'same-origin',
        cache: 'no-store',
        headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': session.csrf, Accept: 'application/json' },
        body: JSON.stringify(body),
      });
      let data = null;
      try {
        data = await res.json();
      } catch {
        /* not JSON */
      }
      if (!res.ok || !data || data.error || data.ok === false) {
        const text = data && data.error ? data.error : `${res.status} ${res.statusText || 'request failed'}`;
        showMessage(text, 'error');
        if (res.status === 401) setTimeout(toLogin, 1500);
        if (res.status === 403) loadSession().catch(() => {}); // CSRF token may have rotated
        return null;
      }
      showMessage(`${okText}${data.seq !== undefined ? ` (#${data.seq})` : ''}`, 'ok');
      if (!es || es.readyState !== EventSource.OPEN) refreshState();
      return data;
    } catch (e) {
      showMessage(`Network error: ${e.message}`, 'error');
      return null;
    } finally {
      if (btn) btn.classList.remove('busy');
      applyControls(); // what the call's state allows now
    }
  }

  async function refreshState() {
    try {
      const s = await getJSON('/api/state');
      if (!state || s.seq > state.seq || (s.seq === state.seq && s.now_unix_ms >= state.now_unix_ms)) applyState(s);
    } catch (e) {
      if (e instanceof AuthError) toLogin();
    }
  }

  function setLive(mode) {
    const el = $('live');
    const text = { live: 'live', connecting: 'connecting…', reconnecting: 'reconnecting…', offline: 'offline — retrying' }[mode];
    setText(el, text);
    el.className = `pill live-${mode}`;
    document.body.dataset.live = mode;
  }

  function connect() {
    clearTimeout(reconnectTimer);
    if (es) es.close();
    setLive(state ? 'reconnecting' : 'connecting');
    es = new EventSource('/events');
    es.onopen = () => setLive('live');
    es.onerror = () => {
      if (es.readyState === EventSource.CLOSED) {
        // The browser gave up (HTTP error or wrong type): check login, retry.
        setLive('offline');
        reconnectTimer = setTimeout(async () => {
          try {
            await loadSession();
          } catch (e) {
            if (e instanceof AuthError) {
              toLogin();
              return;
            }
          }
          connect();
          refreshState();
        }, 3000);
      } else {
        setLive('reconnecting'); // EventSource retries by itself, with Last-Event-ID
      }
    };
    es.addEventListener('state', (ev) => {
      let s;
      try {
        s = JSON.parse(ev.data);
      } catch {
        return;
      }
      sawStreamState = true;
      setLive('live');
      applyState(s);
    });
    es.addEventListener('record', (ev) => {
      try {
        addRecord(JSON.parse(ev.data));
      } catch {
        /* ignore a malformed record */
      }
    });
  }

  // ---------------------------------------------------------------- message

  let messageTimer = 0;
  function showMessage(text, kind) {
    const bar = $('message-bar');
    setText('message', text);
    bar.className = `message-bar message-${kind}`;
    bar.hidden = false;
    clearTimeout(messageTimer);
    if (kind === 'ok') {
      messageTimer = setTimeout(() => {
        bar.hidden = true;
        setText('message', '');
      }, 6000);
    }
  }

  // ---------------------------------------------------------------- render

  function applyState(s) {
    if (!s || typeof s !== 'object') return;
    state = s;
    statePerf = performance.now();
    render();
  }

  function changed(key, value) {
    const j = JSON.stringify(value);
    if (lastJSON[key] === j) return false;
    lastJSON[key] = j;
    return true;
  }

  function render() {
    const s = state;
    document.body.classList.remove('booting');
    setText('session-name', s.session_name || '—');
    document.title = s.session_name ? `${s.session_name} · tutti-dash` : 'tutti-dash';

    setZone(s.tz);
    const co = $('coordinator');
    setText(co, s.coordinator_online ? 'coordinator online' : 'coordinator unreachable');
    co.className = `pill ${s.coordinator_online ? 'pill-on' : 'pill-off'}`;
    renderOutage(s);

    renderCall(s.call || {}, s.presets || []);
    renderTransport(s.transport || {}, s.cues || []);
    renderRooms(s.rooms || []);
    renderTakes(s.cues || [], s.transport || {});
    renderChanges(s.changes || []);
    applyControls();
    tick();
    document.body.dataset.seq = String(s.seq);
  }

  // -- coordinator outage: the whole page says so; nothing on it is current

  function renderOutage(s) {
    const down = !s.coordinator_online;
    document.body.classList.toggle('coordinator-down', down);
    $('outage').hidden = !down;
    if (down) {
      const since = s.coordinator && s.coordinator.unreachable_since_unix_ms;
      setText('outage-text', since > 0 ? `Coordinator unreachable since ${tod(since)}` : 'Coordinator unreachable');
    }
  }

  // -- session clock

  function renderCall(c, presets) {
    const sel = $('rules-select');
    if (changed('presets', presets)) {
      const keep = sel.value;
      sel.replaceChildren(...presets.map((p) => h('option', { value: p.id, text: p.title || p.id })));
      if (keep && presets.some((p) => p.id === keep)) sel.value = keep;
    }
    if (!rulesTouched && c.rules_id && presets.some((p) => p.id === c.rules_id)) sel.value = c.rules_id;

    const wrapped = c.wrap_unix_ms > 0;
    let status = 'no call', cls = 'pill';
    if (wrapped) [status, cls] = [`wrapped ${tod(c.wrap_unix_ms, false)}`, 'pill pill-muted'];
    else if (c.on_break) [status, cls] = ['on break', 'pill pill-amber'];
    else if (c.started && c.running) [status, cls] = ['call running', 'pill pill-on'];
    else if (c.started) [status, cls] = ['call stopped', 'pill pill-muted'];
    const st = $('call-status');
    setText(st, status);
    st.className = cls;
    setText('rules-title', c.rules_title || '');
    setText('call-start-time', c.started ? tod(c.start_unix_ms) : '—');

    const alert = c.alert === 'amber' || c.alert === 'red' ? c.alert : '';
    $('call-panel').dataset.alert = alert;
    $('break-box').dataset.alert = alert;

    if (c.started && c.call_minutes > 0) {
      const end = c.start_unix_ms + c.call_minutes * 60000;
      setText('call-length', `${c.call_minutes} min · to ${tod(end, false)}`);
    } else setText('call-length', c.call_minutes > 0 ? `${c.call_minutes} min` : '—');

    const breaks = c.breaks || [];
    setText('breaks-taken', String(c.breaks_taken ?? breaks.length));
    if (changed('breaks', breaks)) {
      $('breaks-list').replaceChildren(...(breaks.length
        ? breaks.map((b) => {
            const open = !(b.end_unix_ms > 0);
            const mins = open ? '' : ` (${Math.round((b.end_unix_ms - b.start_unix_ms) / 60000)}′)`;
            return h('span', { class: `break-chip${open ? ' is-open' : ''}`, text: `${tod(b.start_unix_ms, false)}–${open ? 'now' : tod(b.end_unix_ms, false)}${mins}` });
          })
        : ['—']));
    }

    // Highlight the action that fits the call's state (applyControls
    // disables the ones that do not).
    const running = c.started && c.running && !wrapped;
    $('call-start').classList.toggle('btn-primary', !running);
    $('break-start').classList.toggle('btn-primary', running && !c.on_break && !!c.break_due && !!alert);
    $('break-end').classList.toggle('btn-primary', running && !!c.on_break);
    if (!running) hideWrapConfirm();
  }

  /** Which call controls the call's state allows (id -> enabled). */
  function callAllows(c) {
    const running = !!(c.started && c.running && !(c.wrap_unix_ms > 0));
    return {
      'rules-select': !running,
      'call-start': !running,
      'break-start': running && !c.on_break,
      'break-end': running && !!c.on_break,
      'call-wrap': running,
      'wrap-yes': running,
    };
  }

  /** Live numbers, re-computed every 200 ms from the last state. */
  function tick() {
    if (!state) return;
    const d = sinceState();
    const c = state.call || {};
    setText('wall-clock', state.now_unix_ms > 0 ? tod(state.now_unix_ms + d) : '—');

    const wrapped = c.wrap_unix_ms > 0;
    const running = c.started && c.running && !wrapped;
    setValue('call-elapsed', c.started ? hms(c.elapsed_ms + (running ? d : 0)) : '—');

    const box = $('break-box');
    let label = 'Next break', text = '—', sub = '\u00a0';
    if (!c.started) {
      sub = 'call not started';
    } else if (wrapped) {
      label = 'Call';
      text = 'wrapped';
      sub = `at ${tod(c.wrap_unix_ms)}`;
    } else if (c.on_break) {
      label = 'On break — remaining';
      text = countdown(c.break_remaining_ms - (running ? d : 0), 'over');
      sub = `break ${hms(c.break_elapsed_ms + (running ? d : 0))} so far`;
    } else if (!c.break_due) {
      // break_due false: the rules owe no further break in this call
      sub = 'no further break owed';
    } else if (running) {
      const left = c.next_break_in_ms - d;
      text = countdown(left, 'due');
      sub = left <= 0 ? 'break due now' : `at ${tod(state.now_unix_ms + c.next_break_in_ms, false)}`;
    } else {
      text = countdown(c.next_break_in_ms, 'due');
      sub = 'call stopped';
    }
    setText('break-label', label);
    setValue('break-countdown', text);
    setText('break-sub', sub);
    box.classList.toggle('on-break', !!c.on_break && !wrapped);

    const otRunning = running && c.overtime_ms > 0; // elapsed (breaks included) past the call
    const ot = (c.overtime_ms || 0) + (otRunning ? d : 0);
    const units = c.overtime_units || 0;
    setText('overtime', c.started || ot > 0 || units > 0
      ? `${hms(ot)} · ${plural(units, 'unit', 'units')} × ${c.overtime_unit_minutes || 0} min`
      : '—');
    $('overtime').classList.toggle('is-over', ot > 0 || units > 0);
  }

  // -- transport

  function renderTransport(t, cues) {
    setValue('transport-cue', t.cue || '—');
    const cue = cues.find((c) => c.name === t.cue);
    setText('transport-cue-title', cue && cue.title ? cue.title : '\u00a0');
    setValue('transport-take', t.take > 0 ? String(t.take) : '—');
    tickTransport();
  }

  /** State, bar|beat (or the count-in) and timecode now: the last state
   * moved on by the time since it came, every 10 ms, so the timecode runs
   * at the frame rate and the count at the beat. */
  function tickTransport() {
    if (!state) return;
    const t = state.transport || {};
    const d = sinceState();
    let st = t.state || 'idle';
    let active = st === 'count-in' || st === 'rolling';
    if (active && typeof t.stop_in_ms === 'number' && d >= t.stop_in_ms) {
      st = 'stopped';
      active = false;
    }
    if (st === 'count-in' && typeof t.downbeat_in_ms === 'number' && d >= t.downbeat_in_ms) st = 'rolling';
    setText('transport-state', st);
    $('transport-panel').dataset.state = st;
    let pos = { bar: t.bar, beat: t.beat, count: t.count_in ? t.count_in.beat : 0 };
    for (const b of t.beats || []) {
      if (b.in_ms > d) break;
      pos = b;
    }
    let where = '—';
    if (active && st === 'count-in' && t.count_in) {
      where = pos.count > 0 ? `count-in ${pos.count} of ${t.count_in.of}` : 'count-in';
    } else if (active) {
      where = `${pos.bar}|${pos.beat}`;
    }
    setValue('transport-barbeat', where);
    $('transport-barbeat').classList.toggle('is-count', where.startsWith('count-in'));
    let tc = '—';
    if (active && t.tc && t.tc.den > 0) {
      const frame = t.tc.frame + Math.floor(t.tc.phase + (d / 1000) * (t.tc.num / t.tc.den));
      tc = tcLabel(frame, t.tc.nominal, !!t.tc.drop);
    } else if (active && t.timecode) {
      tc = t.timecode;
    }
    setValue('transport-timecode', tc);
  }

  // -- rooms

  function makeRoomCard(name) {
    const online = h('span', { class: 'room-online' });
    const clockState = h('span', { class: 'clock-state' });
    const bound = h('span', { class: 'clock-bound mono', title: 'clock error bound' });
    const offset = h('span', { class: 'clock-offset mono', title: 'clock offset' });
    const count = h('span', { class: 'count' });
    const players = h('ul', { class: 'players' });
    const input = h('input', {
      class: 'checkin-name', type: 'text', placeholder: 'Player name', autocomplete: 'off',
      spellcheck: 'false', 'aria-label': `player to check in at ${name}`, maxlength: '120',
    });
    const btn = h('button', { class: 'btn btn-small checkin', type: 'submit', text: 'check in' });
    const form = h('form', { class: 'checkin-row', novalidate: true }, input, btn);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const player = input.value.trim();
      if (!player) {
        showMessage(`Type a player's name to check in at ${name}.`, 'error');
        input.focus();
        return;
      }
      const ok = await post('/api/presence', { room: name, player, in: true }, btn, `Checked in ${player} at ${name}`);
      if (ok) input.value = '';
    });
    players.addEventListener('click', (ev) => {
      const b = ev.target.closest('button.checkout');
      if (!b) return;
      const player = b.closest('[data-player]').dataset.player;
      post('/api/presence', { room: name, player, in: false }, b, `Checked out ${player} from ${name}`);
    });
    const alert = h('p', { class: 'room-alert', role: 'status', hidden: true });
    const el = h('article', { class: 'room', dataset: { room: name } },
      h('header', { class: 'room-head' }, h('span', { class: 'room-name', text: name, title: name }), online),
      alert,
      h('div', { class: 'room-clock' }, h('span', { class: 'stat-label', text: 'clock' }), clockState, bound, offset),
      h('div', { class: 'players-head' }, h('span', { class: 'stat-label', text: 'players' }), count),
      players,
      form);
    return { el, online, clockState, bound, offset, count, players, alert, key: '' };
  }

  // What the room's agent reports of its replica and its store, in words.
  function roomAlert(r) {
    const c = r.conflict, f = r.store_fault, parts = [];
    if (c && c.kind === 'ahead') {
      parts.push(`Replica ahead of the coordinator (replica ${c.replica_seq}, coordinator ${c.coordinator_seq}): was the coordinator's store restored from a backup?`);
    } else if (c && c.kind === 'diverged') {
      parts.push(`Replica diverged from the coordinator at record ${c.conflict_seq}: the coordinator's store was restored from a backup and written to since; this room takes nothing more from it.`);
    } else if (c) {
      parts.push(`Replica disagrees with the coordinator (${c.kind}).`);
    }
    if (f && f.cause === 'map_full') parts.push('Store full: restart the agent with a larger --map-size-mb.');
    else if (f && f.cause === 'disk_full') parts.push("Disk full on the agent's machine: free space there.");
    else if (f) parts.push(`Store write failed: ${f.text}`);
    const p = r.prelays;
    if (p && p.held < p.wanted) {
      parts.push(`Prelays ${p.held}/${p.wanted}: missing ${p.missing.join(', ')} (the roll waits for them).`);
    }
    return parts.join(' ');
  }

  function renderRooms(rooms) {
    const box = $('rooms');
    const seen = new Set();
    if (rooms.length && box.querySelector(':scope > .empty')) box.replaceChildren();
    rooms.forEach((r, i) => {
      let card = roomCards.get(r.name);
      if (!card) {
        card = makeRoomCard(r.name);
        roomCards.set(r.name, card);
      }
      seen.add(r.name);
      updateRoomCard(card, r);
      if (box.children[i] !== card.el) box.insertBefore(card.el, box.children[i] || null);
    });
    for (const [name, card] of roomCards) {
      if (!seen.has(name)) {
        card.el.remove();
        roomCards.delete(name);
      }
    }
    if (!rooms.length && !box.querySelector(':scope > .empty')) box.replaceChildren(h('p', { class: 'empty', text: 'No rooms yet.' }));
    const on = rooms.filter((r) => r.online).length;
    const people = rooms.reduce((n, r) => n + (r.players || []).length, 0);
    const reach = rooms.some((r) => r.reach === 'unknown') ? 'reach unknown' : `${on}/${rooms.length} online`;
    setText('rooms-summary', rooms.length ? `${reach} · ${plural(people, 'player', 'players')} in` : '');
  }

  function updateRoomCard(card, r) {
    // "unknown" while the coordinator is unreachable: no last-known clock.
    const reach = r.reach || (r.online ? 'online' : 'offline');
    const unknown = reach === 'unknown';
    card.el.classList.toggle('is-online', reach === 'online');
    card.el.classList.toggle('is-offline', reach === 'offline');
    card.el.classList.toggle('is-unknown', unknown);
    setText(card.online, reach);
    card.online.className = `room-online ${reach === 'online' ? 'on' : unknown ? 'unknown' : 'off'}`;
    const alert = roomAlert(r);
    setText(card.alert, alert);
    card.alert.hidden = !alert;
    card.el.classList.toggle('has-alert', !!alert);

    const ck = r.clock || {};
    const cs = unknown ? 'unknown' : ck.state || '';
    setText(card.clockState, cs || 'no clock');
    card.clockState.className = `clock-state ${cs === 'locked' ? 'ok' : cs ? 'warn' : 'none'}`;
    const hasBound = typeof ck.error_bound_us === 'number' && ck.error_bound_us >= 0;
    setText(card.bound, hasBound ? `±${fmtMicros(ck.error_bound_us)} µs` : '±— µs');
    const off = typeof ck.offset_us === 'number' ? ck.offset_us : 0;
    setText(card.offset, hasBound ? `offset ${off >= 0 ? '+' : '−'}${fmtMicros(Math.abs(off))} µs` : '');

    const players = r.players || [];
    setText(card.count, String(players.length));
    const key = JSON.stringify(players);
    if (card.key !== key) {
      card.key = key;
      card.players.replaceChildren(...(players.length
        ? players.map((p) => h('li', { class: 'player', dataset: { player: p } },
            h('span', { class: 'player-name', text: p, title: p }),
            h('button', { class: 'btn btn-tiny checkout', type: 'button', text: 'check out', title: `check ${p} out of ${r.name}` })))
        : [h('li', { class: 'empty', text: 'nobody checked in' })]));
    }
  }

  // -- takes

  function renderTakes(cues, t) {
    if (!changed('takes', [cues, t.cue, t.take, t.state])) return;
    const box = $('takes');
    if (!cues.length) {
      box.replaceChildren(h('p', { class: 'empty', text: 'No cues yet.' }));
      setText('takes-summary', '');
      return;
    }
    // The cue on the transport first, then the rest in the server's order.
    const ordered = [...cues].sort((a, b) => (b.name === t.cue) - (a.name === t.cue));
    let takeCount = 0;
    const blocks = ordered.map((cue) => {
      const takes = cue.takes || [];
      takeCount += takes.length;
      const current = cue.name === t.cue;
      const circled = takes.filter((k) => k.rating === 'circled').map((k) => k.take);
      const rows = takes.map((k) => {
        const isNow = current && k.take === t.take;
        return h('tr', { dataset: { cue: cue.name, take: String(k.take) }, class: isNow ? 'current' : null },
          h('td', { class: 'take-no mono', text: String(k.take) }),
          h('td', { class: 'take-state' },
            h('span', { class: `state-chip state-${slug(k.state)}`, text: k.state || '—' }),
            k.forced ? h('span', { class: 'forced', text: 'forced', title: 'state was forced by an operator' }) : null),
          h('td', { class: `rating rating-${slug(k.rating)}`, text: k.rating || '' }),
          h('td', { class: 'notes' }, (k.notes || []).join(' · '),
            k.note_count > (k.notes || []).length
              ? h('span', { class: 'more-notes', text: ` +${k.note_count - (k.notes || []).length} more` })
              : null));
      });
      return h('div', { class: `cue-block${current ? ' is-current' : ''}`, dataset: { cueBlock: cue.name } },
        h('div', { class: 'cue-head' },
          h('span', { class: 'cue-name mono', text: cue.name }),
          h('span', { class: 'cue-title', text: cue.title || '' }),
          h('span', { class: 'cue-meta muted', text: `${plural(takes.length, 'take', 'takes')}${circled.length ? ` · circled ${circled.join(', ')}` : ''}` })),
        takes.length
          ? h('table', { class: 'takes-table' },
              h('thead', null, h('tr', null, h('th', { text: 'Take' }), h('th', { text: 'State' }), h('th', { text: 'Rating' }), h('th', { text: 'Notes' }))),
              h('tbody', null, rows))
          : h('p', { class: 'empty', text: 'no takes yet' }));
    });
    box.replaceChildren(...blocks);
    setText('takes-summary', `${plural(cues.length, 'cue', 'cues')} · ${plural(takeCount, 'take', 'takes')}`);
  }

  function slug(s) {
    return String(s || 'none').toLowerCase().replace(/[^a-z0-9]+/g, '-');
  }

  // -- changes

  function renderChanges(changes) {
    if (!changed('changes', changes)) return;
    const ul = $('changes');
    const pending = changes.filter((c) => (c.not_acked || []).length).length;
    setText('changes-summary', changes.length ? `${pending} awaiting ack` : '');
    if (!changes.length) {
      ul.replaceChildren(h('li', { class: 'empty', text: 'No open changes.' }));
      return;
    }
    const sorted = [...changes].sort((a, b) => ((b.not_acked || []).length > 0) - ((a.not_acked || []).length > 0) || b.id - a.id);
    ul.replaceChildren(...sorted.map((c) => {
      const waiting = (c.not_acked || []).length > 0;
      const where = [c.cue, c.bars ? `bars ${c.bars}` : '', c.parts].filter(Boolean).join(' · ');
      return h('li', { class: `change${waiting ? ' is-waiting' : ' is-acked'}`, dataset: { change: String(c.id) } },
        h('div', { class: 'change-head' },
          h('span', { class: 'change-id mono', text: `#${c.id}` }),
          h('span', { class: 'change-where', text: where })),
        h('div', { class: 'change-text', text: c.text || '' }),
        h('div', { class: 'acks' },
          (c.not_acked || []).map((r) => h('span', { class: 'ack not-acked', dataset: { ackRoom: r }, text: r, title: `${r} has not acknowledged` })),
          (c.acked || []).map((r) => h('span', { class: 'ack acked', text: `✓ ${r}`, title: `${r} acknowledged` }))));
    }));
  }

  // -- records

  function addRecord(r) {
    if (!r || recordSeqs.has(r.seq)) return;
    recordSeqs.add(r.seq);
    records.push(r);
    records.sort((a, b) => b.seq - a.seq);
    while (records.length > MAX_RECORDS) recordSeqs.delete(records.pop().seq);
    renderRecords();
  }

  function renderRecords() {
    if (!records.length) return;
    $('records').replaceChildren(...records.map((x) =>
      h('li', { class: 'record', dataset: { seq: String(x.seq) } },
        h('span', { class: 'rec-time mono', text: tod(x.at_unix_ms) }),
        h('span', { class: `rec-kind kind-${slug(x.kind)}`, text: x.kind || '?' }),
        h('span', { class: 'rec-actor', text: x.actor || '' }),
        h('span', { class: 'rec-summary', text: x.summary || '', title: x.summary || '' }),
        h('span', { class: 'rec-seq mono', text: `#${x.seq}` }))));
  }

  // -------------------------------------------------------------- controls

  // Every control is off when read-only, before the session is known and
  // while the coordinator is unreachable; the call's buttons follow the
  // call's state (no Start break outside a call, no End break off a break).
  function applyControls() {
    const ro = readOnly();
    const down = !!state && !state.coordinator_online;
    const off = ro || !session || down;
    const allows = callAllows((state && state.call) || {});
    $('read-only-badge').hidden = !ro;
    document.body.classList.toggle('read-only', ro);
    for (const el of document.querySelectorAll('main button, main input, main select')) {
      if (el.classList.contains('keep-enabled')) continue;
      if (el.classList.contains('busy')) continue; // re-enabled when its request ends
      el.disabled = off || (el.id in allows && !allows[el.id]);
    }
  }

  // Wrap asks first: it ends the call and checks everyone out.
  function showWrapConfirm() {
    const rooms = (state && state.checked_in) || [];
    const names = rooms.flatMap((r) => r.players || []);
    const who = names.length
      ? `check out ${plural(names.length, 'player', 'players')} (${names.slice(0, 6).join(', ')}${names.length > 6 ? ', …' : ''})`
      : 'nobody is checked in';
    setText('wrap-confirm-text', `Wrap the call now${names.length ? ' and ' : '; '}${who}?`);
    $('wrap-confirm').hidden = false;
    $('wrap-no').focus();
  }

  function hideWrapConfirm() {
    $('wrap-confirm').hidden = true;
  }

  function bindControls() {
    $('message-close').addEventListener('click', () => {
      $('message-bar').hidden = true;
      setText('message', '');
    });
    $('rules-select').addEventListener('change', () => {
      rulesTouched = true;
    });
    $('call-start').addEventListener('click', (ev) => {
      const sel = $('rules-select');
      const rules = sel.value;
      if (!rules) {
        showMessage('Pick a rules preset first.', 'error');
        return;
      }
      const title = sel.selectedOptions[0] ? sel.selectedOptions[0].textContent : rules;
      post('/api/call', { action: 'start', rules }, ev.currentTarget, `Call started (${title})`);
    });
    $('break-start').addEventListener('click', (ev) => post('/api/call', { action: 'break-start' }, ev.currentTarget, 'Break started'));
    $('break-end').addEventListener('click', (ev) => post('/api/call', { action: 'break-end' }, ev.currentTarget, 'Break ended'));
    $('call-wrap').addEventListener('click', showWrapConfirm);
    $('wrap-no').addEventListener('click', hideWrapConfirm);
    $('wrap-confirm').addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape') hideWrapConfirm();
    });
    $('wrap-yes').addEventListener('click', async (ev) => {
      const res = await post('/api/call', { action: 'wrap' }, ev.currentTarget, 'Call wrapped');
      if (res) {
        hideWrapConfirm();
        showMessage(`Call wrapped (#${res.seq}); ${plural(res.checked_out || 0, 'player', 'players')} checked out`, 'ok');
      }
    });
  }

  // ------------------------------------------------------------------ boot

  async function boot() {
    bindControls();
    applyControls();
    setLive('connecting');
    for (;;) {
      try {
        await loadSession();
        break;
      } catch (e) {
        if (e instanceof AuthError) {
          toLogin();
          return;
        }
        showMessage(`Cannot reach the dashboard server (${e.message}); retrying…`, 'error');
        await new Promise((r) => setTimeout(r, 3000));
      }
    }
    if (!$('message-bar').hidden && $('message-bar').classList.contains('message-error')) $('message-bar').hidden = true;
    connect();
    getJSON('/api/state')
      .then((s) => {
        if (!sawStreamState) applyState(s);
      })
      .catch((e) => {
        if (e instanceof AuthError) toLogin();
      });
    setInterval(tick, 200);
    setInterval(tickTransport, 10);
  }

  boot();

  // ----------------------------------------------------------------- login

  function initLogin() {
    const params = new URLSearchParams(location.search);
    const err = $('login-error');
    const code = params.get('error');
    // ?error=1 after a redirect; a server that answers a wrong password with
    // the login page itself leaves the browser at /login (the form's action).
    const wrong = (code && code !== '0') || location.pathname === '/login';
    if (err) err.hidden = !wrong;
    const pw = $('password');
    if (pw) pw.focus();
  }
})();
