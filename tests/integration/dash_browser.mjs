// The dashboard in a real browser (Debian's headless Chromium, driven over
// the DevTools protocol by tests/tools/cdp.mjs, no npm packages):
// two rooms online; `tutti roll` and `tutti take rate` show up within 1 s
// without a reload; "check in" from the page becomes a log record.
//
// env: DASH_URL, TUTTI_BIN, IT_DIR (temp dir), OUT_DIR (screenshot), and
// the CLI's TUTTI_COORDINATOR / TUTTI_SERVER_KEY / TUTTI_KEY (operator).
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const { launch } = await import(path.join(here, '..', 'tools', 'cdp.mjs'));
const { DASH_URL, TUTTI_BIN, IT_DIR, OUT_DIR } = process.env;
const tutti = (...args) => execFileSync(path.join(TUTTI_BIN, 'tutti'), args, { encoding: 'utf8' });
const log = (m) => console.log(`[browser] ${m}`);

const browser = await launch({ userDataDir: path.join(IT_DIR, 'chromium-profile') });
let failed = null;
try {
  await browser.goto(DASH_URL + '/');
  await browser.waitFor(`[...document.querySelectorAll('[data-room] .room-online')]
      .filter(e => e.textContent.trim() === 'online').length === 2`, 10000);
  log('two rooms online');

  // Roll: the page shows it within 1 s, no reload.
  const seqBefore = await browser.evaluate('Number(document.body.dataset.seq)');
  tutti('roll', '1M1', '--lead-ms', '200');
  const tRoll = await browser.waitFor(`['count-in','rolling'].includes(
      document.getElementById('transport-state').textContent.trim().toLowerCase())`, 1000);
  log(`roll shown after ${tRoll} ms`);
  // The count-in (2 bars at 92: 5.2 s) shows its count, then bar|beat.
  await browser.waitFor(`/^count-in \\d of 8$/.test(document.getElementById('transport-barbeat').textContent)`, 3000);
  await browser.waitFor(`document.getElementById('transport-barbeat').textContent.includes('|')`, 8000);
  const reloaded = await browser.evaluate(`performance.getEntriesByType('navigation').length !== 1 ||
      Number(document.body.dataset.seq) < ${seqBefore}`);
  if (reloaded) throw new Error('the page reloaded');
  tutti('stop');
  await browser.waitFor(`document.getElementById('transport-state').textContent.trim().toLowerCase() === 'stopped'`, 3000);

  // Rating: within 1 s.
  tutti('take', 'rate', '1M1', '1', 'circled', '--note', 'lovely horns');
  const tRate = await browser.waitFor(`(() => { const r = document.querySelector(
      'tr[data-cue="1M1"][data-take="1"] .rating'); return r && r.textContent.includes('circled'); })()`, 1000);
  log(`rating shown after ${tRate} ms`);

  // Check in from the page: a record in the history.
  await browser.type('[data-room="stage"] input.checkin-name', 'Ida Haendel');
  await browser.click('[data-room="stage"] button.checkin');
  await browser.waitFor(`!!document.querySelector('[data-room="stage"] [data-player="Ida Haendel"]')`, 3000);
  const hist = tutti('history', '--json', '--kind', 'presence');
  const rec = hist.trim().split('\n').map((l) => JSON.parse(l))
    .find((r) => r.room === 'stage' && (r.in || []).includes('Ida Haendel'));
  if (!rec || rec.actor !== 'contractor') throw new Error(`no check-in record: ${hist}`);
  log(`check-in recorded as ${rec.seq} by ${rec.actor}`);

  // Start the call from the page: a record, and the session clock runs.
  await browser.evaluate(`(() => { const s = document.getElementById('rules-select');
      s.value = 'afm-film-la'; s.dispatchEvent(new Event('change')); })()`);
  await browser.click('#call-start');
  await browser.waitFor(`/\\d:\\d\\d:\\d\\d/.test(document.getElementById('call-elapsed').textContent)`, 3000);
  const calls = tutti('history', '--json', '--kind', 'call');
  if (!calls.includes('"afm-film-la"')) throw new Error(`no call start record: ${calls}`);
  log('call started from the page');

  // A second take, photographed while it rolls.
  tutti('arm', '1M1');
  tutti('roll', '1M1', '--from-bar', '3', '--lead-ms', '200');
  await browser.waitFor(`document.getElementById('transport-state').textContent.trim().toLowerCase() === 'rolling'`, 8000);
  mkdirSync(OUT_DIR, { recursive: true });
  await browser.screenshot(path.join(OUT_DIR, 'dashboard.png'));
  tutti('stop');
  log(`screenshot ${path.join(OUT_DIR, 'dashboard.png')}`);
} catch (e) {
  failed = e;
  try { mkdirSync(OUT_DIR, { recursive: true }); await browser.screenshot(path.join(OUT_DIR, 'dashboard-failed.png')); } catch {}
} finally {
  await browser.close();
}
if (failed) {
  console.error(`[browser] FAIL: ${failed.message}`);
  process.exit(1);
}
console.log('[browser] PASS');
