// The dashboard page's behaviour in a real browser (Debian's headless
// Chromium over the DevTools protocol, tests/tools/cdp.mjs), issue #14:
//   - times in the session's zone (--tz Asia/Kolkata), the zone shown;
//   - the call's buttons follow its state (no Start break outside a call,
//     no End break off a break, no Start call while one runs);
//   - the count-in reads "count-in 2 of 4", never a bar like -1|4;
//   - the timecode runs at the frame rate: >= 20 labels in 1 s at 24 fps;
//   - at 390 px (a phone) nothing scrolls sideways;
//   - Wrap asks first (Cancel writes nothing), then checks everyone out;
//   - kill -9 of the coordinator: within 3 s the page says "Coordinator
//     unreachable since HH:MM:SS" and every room shows "unknown".
// Every check runs even when an earlier one failed (each is reported), so
// the log shows all that is wrong.
//
// env: DASH_URL, TUTTI_BIN, IT_DIR, OUT_DIR, CPID (the coordinator, for the
// kill), TZ_NAME, and the CLI's TUTTI_COORDINATOR / TUTTI_SERVER_KEY /
// TUTTI_KEY (operator).
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const { launch } = await import(path.join(here, '..', 'tools', 'cdp.mjs'));
const { DASH_URL, TUTTI_BIN, IT_DIR, OUT_DIR, CPID, TZ_NAME } = process.env;
const tutti = (...args) => execFileSync(path.join(TUTTI_BIN, 'tutti'), args, { encoding: 'utf8' });
const history = (kind) => tutti('history', '--json', '--kind', kind).trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
const log = (m) => console.log(`[page] ${m}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const failures = [];
async function check(name, fn) {
  try {
    await fn();
    log(`ok: ${name}`);
  } catch (e) {
    failures.push(name);
    log(`FAIL: ${name}: ${e.message}`);
  }
}
function expect(cond, what) {
  if (!cond) throw new Error(what);
}

const browser = await launch({ userDataDir: path.join(IT_DIR, 'chromium-profile-page'), width: 1400, height: 1000 });
const ev = (x) => browser.evaluate(x);
const text = (sel) => ev(`(document.querySelector(${JSON.stringify(sel)}) || {}).textContent?.trim() ?? null`);
const disabled = (ids) => ev(`Object.fromEntries(${JSON.stringify(ids)}.map((id) => [id, document.getElementById(id).disabled]))`);
const CALL_BUTTONS = ['call-start', 'break-start', 'break-end', 'call-wrap'];
async function buttonsAre(want) {
  // The state reaches the page over SSE: give it a moment, then compare.
  const expr = `(() => { const w = ${JSON.stringify(want)};
      return Object.keys(w).every((id) => document.getElementById(id).disabled === !w[id]); })()`;
  try {
    await browser.waitFor(expr, 3000);
  } catch {
    throw new Error(`enabled ${JSON.stringify(want)}, page has disabled ${JSON.stringify(await disabled(Object.keys(want)))}`);
  }
}

try {
  await browser.goto(DASH_URL + '/');
  await browser.waitFor(`[...document.querySelectorAll('[data-room] .room-online')]
      .filter(e => e.textContent.trim() === 'online').length === 2`, 10000);
  log('two rooms online');

  await check('times in the session zone, zone shown', async () => {
    await browser.waitFor(`document.getElementById('tz-name').textContent.trim() === ${JSON.stringify(TZ_NAME)}`, 3000);
    const fmt = new Intl.DateTimeFormat('en-GB', { timeZone: TZ_NAME, hourCycle: 'h23', hour: '2-digit', minute: '2-digit' });
    const before = fmt.format(new Date());
    const shown = (await text('#wall-clock')).slice(0, 5);
    const after = fmt.format(new Date());
    expect(shown === before || shown === after, `wall clock ${shown}, ${TZ_NAME} says ${before}`);
  });

  await check('no call: only Start call', () =>
    buttonsAre({ 'call-start': true, 'break-start': false, 'break-end': false, 'call-wrap': false }));

  // The call from the page.
  await browser.evaluate(`(() => { const s = document.getElementById('rules-select');
      s.value = 'afm-film-la'; s.dispatchEvent(new Event('change')); })()`);
  await browser.click('#call-start');
  await browser.waitFor(`document.getElementById('call-status').textContent.includes('call running')`, 5000);
  await check('call running: Start break and Wrap, not Start call or End break', () =>
    buttonsAre({ 'call-start': false, 'break-start': true, 'break-end': false, 'call-wrap': true }));
  await browser.click('#break-start');
  await browser.waitFor(`document.getElementById('call-status').textContent.includes('on break')`, 5000);
  await check('on a break: End break and Wrap only', () =>
    buttonsAre({ 'call-start': false, 'break-start': false, 'break-end': true, 'call-wrap': true }));
  await browser.click('#break-end');
  await browser.waitFor(`document.getElementById('call-status').textContent.includes('call running')`, 5000);

  tutti('presence', 'stage', '--in', 'Ann Lee', '--in', 'Bo Chen');
  tutti('presence', 'london-strings', '--in', 'Cy Park-Wunderlich-Montgomery');
  await browser.waitFor(`!!document.querySelector('[data-player="Cy Park-Wunderlich-Montgomery"]')`, 3000);

  // A roll: count-in 4 beats of 1 s at 24 fps (the map the harness loaded).
  tutti('arm', '1M1');
  tutti('roll', '1M1', '--lead-ms', '300');
  await check('count-in shows the count', async () => {
    const seen = await ev(`new Promise((resolve) => {
        const el = document.getElementById('transport-barbeat'), seen = new Set(), t0 = performance.now();
        const iv = setInterval(() => {
          seen.add(el.textContent.trim());
          const st = document.getElementById('transport-state').textContent.trim();
          if ((st === 'rolling' && seen.has('1|1')) || performance.now() - t0 > 9000) {
            clearInterval(iv);
            resolve([...seen]);
          }
        }, 20);
      })`);
    log(`bar|beat texts: ${seen.join(', ')}`);
    expect(seen.includes('count-in 2 of 4'), 'never showed "count-in 2 of 4"');
    expect(!seen.some((t) => /^-?\d+\|\d+$/.test(t) && Number(t.split('|')[0]) < 1), 'showed a count-off bar');
  });
  await check('timecode at the frame rate', async () => {
    await browser.waitFor(`document.getElementById('transport-state').textContent.trim() === 'rolling'`, 5000);
    const labels = await ev(`new Promise((resolve) => {
        const el = document.getElementById('transport-timecode'), seen = [], t0 = performance.now();
        const iv = setInterval(() => {
          const t = el.textContent.trim();
          if (seen[seen.length - 1] !== t) seen.push(t);
          if (performance.now() - t0 >= 1000) { clearInterval(iv); resolve(seen); }
        }, 4);
      })`);
    log(`${labels.length} timecodes in 1 s: ${labels[0]} .. ${labels[labels.length - 1]}`);
    expect(labels.length >= 20, `${labels.length} distinct timecodes in 1 s at 24 fps`);
    expect(labels.every((l) => /^01:00:0\d:\d\d$/.test(l)), `labels ${labels.slice(0, 3).join(' ')}`);
  });

  // A phone, mid-take, a break taken, three players in, the wrap question open.
  await browser.send('Emulation.setDeviceMetricsOverride', { width: 390, height: 844, deviceScaleFactor: 1, mobile: true });
  await sleep(500);
  await check('fits 390 px while rolling', async () => {
    const w = await ev('document.documentElement.scrollWidth');
    expect(w <= 390, `scrollWidth ${w}`);
  });
  const wrapsBefore = history('call').filter((r) => r.action === 'wrap').length;
  await browser.click('#call-wrap');
  await check('Wrap asks first', async () => {
    await browser.waitFor(`!document.getElementById('wrap-confirm').hidden`, 2000);
    const q = await text('#wrap-confirm-text');
    expect(/3 players/.test(q), `question: ${q}`);
    await sleep(500);
    expect(history('call').filter((r) => r.action === 'wrap').length === wrapsBefore, 'wrapped without asking');
  });
  await check('fits 390 px with the wrap question open', async () => {
    const w = await ev('document.documentElement.scrollWidth');
    expect(w <= 390, `scrollWidth ${w}`);
  });
  mkdirSync(OUT_DIR, { recursive: true });
  await browser.screenshot(path.join(OUT_DIR, 'dashboard-phone.png'), { fullPage: true });
  await check('Cancel writes nothing', async () => {
    await browser.click('#wrap-no');
    await browser.waitFor(`document.getElementById('wrap-confirm').hidden`, 2000);
    await sleep(300);
    expect(history('call').filter((r) => r.action === 'wrap').length === wrapsBefore, 'Cancel wrapped');
  });
  await check('Wrap checks everyone out', async () => {
    if (await ev(`document.getElementById('wrap-confirm').hidden`)) await browser.click('#call-wrap');
    await browser.click('#wrap-yes');
    await browser.waitFor(`document.getElementById('call-status').textContent.includes('wrapped')`, 5000);
    const wrap = history('call').filter((r) => r.action === 'wrap').pop();
    const outs = history('presence').filter((r) => (r.out || []).length);
    const out = outs.flatMap((r) => r.out).sort();
    expect(JSON.stringify(out) === JSON.stringify(['Ann Lee', 'Bo Chen', 'Cy Park-Wunderlich-Montgomery']), `checked out ${out}`);
    expect(outs.every((r) => r.actor === 'contractor' && r.seq < wrap.seq), 'check-outs not before the wrap, or not by the dashboard');
    await browser.waitFor(`document.querySelectorAll('[data-player]').length === 0`, 3000);
  });
  await check('wrapped: only Start call', () =>
    buttonsAre({ 'call-start': true, 'break-start': false, 'break-end': false, 'call-wrap': false }));
  tutti('stop');

  // The coordinator dies.
  await browser.send('Emulation.setDeviceMetricsOverride', { width: 1400, height: 1000, deviceScaleFactor: 1, mobile: false });
  const killed = Date.now();
  process.kill(Number(CPID), 'SIGKILL');
  await check('outage shown within 3 s, rooms unknown', async () => {
    const ms = await browser.waitFor(`(() => {
        const o = document.getElementById('outage');
        const rooms = [...document.querySelectorAll('[data-room]')];
        return !o.hidden && /^Coordinator unreachable since \\d\\d:\\d\\d:\\d\\d$/.test(
            document.getElementById('outage-text').textContent.trim()) && rooms.length === 2 &&
          rooms.every((r) => r.querySelector('.room-online').textContent.trim() === 'unknown' &&
            r.querySelector('.clock-state').textContent.trim() === 'unknown' &&
            !/µs/.test(r.querySelector('.clock-offset').textContent) &&
            r.querySelector('.clock-bound').textContent.includes('—'));
      })()`, 3000);
    log(`outage shown ${Date.now() - killed} ms after the kill (${ms} ms of waiting)`);
    const r = await ev(`(() => { const b = document.getElementById('outage').getBoundingClientRect();
        return { top: b.top, bottom: b.bottom, h: innerHeight, y: scrollY }; })()`);
    expect(r.top >= 0 && r.bottom <= r.h, `the banner is out of view (scrolled ${r.y}: ${r.top}..${r.bottom})`);
    // "since" is the coordinator's last answer: the second of the kill or
    // up to 3 s before, in the session's zone.
    const since = (await text('#outage-text')).slice(-8);
    const fmt = new Intl.DateTimeFormat('en-GB', { timeZone: TZ_NAME, hourCycle: 'h23', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    const secs = (hms) => hms.split(':').reduce((a, x) => a * 60 + Number(x), 0);
    const behind = (secs(fmt.format(new Date(killed))) - secs(since) + 86400) % 86400;
    expect(behind <= 3, `since ${since}, killed at ${fmt.format(new Date(killed))}`);
    const d = await disabled(CALL_BUTTONS);
    expect(Object.values(d).every(Boolean), `controls enabled during the outage: ${JSON.stringify(d)}`);
  });
  await browser.screenshot(path.join(OUT_DIR, 'dashboard-outage.png'));
} catch (e) {
  failures.push(`scenario: ${e.message}`);
  log(`FAIL: ${e.message}`);
  try {
    mkdirSync(OUT_DIR, { recursive: true });
    await browser.screenshot(path.join(OUT_DIR, 'dashboard-page-failed.png'));
  } catch {}
} finally {
  await browser.close();
}
if (failures.length) {
  console.error(`[page] FAIL: ${failures.length} check(s): ${failures.join('; ')}`);
  process.exit(1);
}
console.log('[page] PASS');
