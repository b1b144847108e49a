#!/usr/bin/env python3
"""midi_check: decodes what tutti-jack-midi-capture recorded of it_midi's
roll and checks it against the map, worked out here by hand:

    fps 25 / start 00:59:58:00 / countoff 1
    bar 1 4/4 q=120 / bar 3 3/4 q=90 / bar 5 q=150 ramp

rolled from bar 2 (count-off: 4 beats at 120, 2 s, from cue time 0 =
00:59:58:00). Ports: 1 MTC, 2 MIDI clock, 3 MMC. The full frame's JACK
frame is the roll's start (session and JACK frames tied there); every
other message is checked against its instant from there, within one JACK
period; the stop's instant is the Stop (FC) message's frame.

Prints a JSON summary; exits 1 with the reason on the first failure.
"""
import bisect
import collections
import json
import math
import sys

RATE = 48000
FPS = 25
START_FRAME = (59 * 60 + 58) * 25  # 00:59:58:00 at 25 fps
PPQ = 960


def fail(msg):
    print("midi_check: FAIL: " + msg)
    sys.exit(1)


# ---- the map: tick <-> seconds from bar 1 beat 1
T_BAR3 = 7680             # bars 1-2 of 4/4
T_BAR5 = T_BAR3 + 2 * 2880  # bars 3-4 of 3/4
S_BAR3 = 4.0              # 2 bars of 4 quarters at 120
K = (150 - 90) / ((T_BAR5 - T_BAR3) / PPQ)  # bpm per quarter in the ramp
S_BAR5 = S_BAR3 + (60 / K) * math.log(1 + K * ((T_BAR5 - T_BAR3) / PPQ) / 90)


def tick_to_s(t):
    if t <= T_BAR3:
        return t / PPQ * 0.5
    if t <= T_BAR5:
        q = (t - T_BAR3) / PPQ
        return S_BAR3 + (60 / K) * math.log(1 + K * q / 90)
    return S_BAR5 + (t - T_BAR5) / PPQ * 60 / 150


def s_to_tick(s):
    if s <= S_BAR3:
        return s * 2 * PPQ
    if s <= S_BAR5:
        return T_BAR3 + (90 / K) * (math.exp(K * (s - S_BAR3) / 60) - 1) * PPQ
    return T_BAR5 + (s - S_BAR5) * 150 / 60 * PPQ


def bbt(s):
    """bar, beat, JACK tick (1920 a beat), beats per minute in the beat unit."""
    t = s_to_tick(s)
    if t < T_BAR3:
        bar, rest, beat_ticks = 1 + int(t // 3840), t % 3840, 960
    else:
        bar, rest, beat_ticks = 3 + int((t - T_BAR3) // 2880), (t - T_BAR3) % 2880, 960
    bpm = 120 if s < S_BAR3 else 90 + K * (t - T_BAR3) / PPQ if s < S_BAR5 else 150
    return bar, 1 + int(rest // beat_ticks), (rest % beat_ticks) * 1920 / beat_ticks, bpm


def label(frame):
    f = frame % (24 * 3600 * FPS)
    return (f // (3600 * FPS), f // (60 * FPS) % 60, f // FPS % 60, f % FPS)


def match(events, want, period, what, pieces=0):
    """Each event to its expected instant {index: event}, in order. From
    one event to the next the spacing must be the map's within a period;
    across a stall (a cycle left unjudged, or another segment) the index is
    found from the frames the stall ate (CORR) and, with pieces, the
    quarter-frame's piece number. An expected event may be missing only
    across a stall."""
    got = {}
    last = None  # (frame, index)
    WORST[0] = 0
    for f, b in sorted(events, key=lambda e: e[0]):
        if doubtful(f):
            continue
        if last is None:
            est, gap = f, False  # want is anchored at the full frame's frame
        else:
            gap = stall_between(last[0], f)
            est = want[last[1]] + (f - last[0]) + (seg_corr(f) - seg_corr(last[0]) if gap else 0)
        lo = last[1] + 1 if last else 0
        cands = [j for j in range(max(lo, bisect.bisect_left(want, est) - 12),
                                  min(len(want), bisect.bisect_left(want, est) + 12))
                 if not pieces or j % pieces == b[1] >> 4]
        if not cands:
            fail("%s at frame %d matches no instant after the last" % (what, f))
        j = min(cands, key=lambda j: abs(want[j] - est))
        if not gap:
            WORST[0] = max(WORST[0], abs(want[j] - est))
        if not gap and abs(want[j] - est) > period:
            fail("%s %d at frame %d: %+.0f frames off the map's spacing from the one before" %
                 (what, j, f, est - want[j]))
        if last and not gap and j != last[1] + 1:
            fail("%s %d-%d missing (frames %d-%d), no stall between" % (what, last[1] + 1, j - 1,
                                                                     last[0], f))
        got[j] = (f, b)
        last = (f, j)
    n = max(got) + 1 if got else 0
    if len(got) < 0.9 * n:
        fail("only %d of %d %ss in cycles the capture is sure of" % (len(got), n, what))
    return got


SEEN = []  # the capture's cycles' first frames, sorted
DOUBT = set()  # first frames the capture saw twice (after an xrun JACK labelled a
               # cycle with the next one's frame) or first after a gap: unsure
PERIOD = [0]
WORST = [0]  # the largest spacing error match() saw
CORR = {}  # cycle -> (frames the stalls before it ate, its segment's first cycle)


def seg_corr(frame):
    c = cycle_of(frame)
    return CORR[c][0] if c in CORR else 0


def stall_between(f1, f2):
    c1, c2 = cycle_of(f1), cycle_of(f2)
    if c1 is None or c2 is None or CORR.get(c1, (0, -1))[1] != CORR.get(c2, (0, -2))[1]:
        return True
    i, k = bisect.bisect_left(SEEN, c1), bisect.bisect_left(SEEN, c2)
    return any(SEEN[x] in DOUBT for x in range(i, k + 1))


def cycle_of(frame):
    i = bisect.bisect_right(SEEN, frame) - 1
    return SEEN[i] if i >= 0 and frame < SEEN[i] + PERIOD[0] else None


def doubtful(frame):
    c = cycle_of(frame)
    return c is None or c in DOUBT


def main():
    path, period = sys.argv[1], None
    ev, tp = [], []
    for line in open(path):
        w = line.split()
        if w[0] == "R":
            period = int(w[2])
        elif w[0] == "M":
            ev.append((int(w[1]), int(w[2]), [int(x, 16) for x in w[3:]]))
        elif w[0] == "T":
            tp.append((int(w[1]), w[2], int(w[3]), int(w[4]), int(w[5]), int(w[6]), int(w[7]),
                       float(w[8]), int(w[11])))
    if not period:
        fail("no R line")
    SEEN.extend(sorted({t[0] for t in tp}))
    DOUBT.update(f for f, n in collections.Counter(t[0] for t in tp).items() if n > 1)
    # The first cycle after one the capture missed: JACK's transport frame moved
    # on two periods while the BBT it published is the one for a period ahead.
    DOUBT.update(b for a, b in zip(SEEN, SEEN[1:]) if b - a > period)
    PERIOD[0] = period
    # JACK frames measure time only while the server keeps time: a stalled
    # server's frames stop (or jump) while the agent, on the session clock,
    # goes on. Stretches between stalls (a gap in the frames, or a wake-up
    # more than two periods after the last) are segments; each gets the
    # median of wake * rate - frame over its cycles (CORR), which says how
    # many frames a stall ate. Cycles at a stall and segments too short to
    # measure are left unjudged (DOUBT).
    seg = [tp[0]] if tp else []
    per_ns = period * 1e9 / RATE

    def close(seg):
        d = sorted(t[8] * RATE / 1e9 - t[0] for t in seg)
        for t in seg:
            CORR[t[0]] = (d[len(d) // 2], seg[0][0])
        if len(seg) < 16:
            DOUBT.update(t[0] for t in seg)

    for a, b in zip(tp, tp[1:]):
        if b[0] - a[0] != period or b[8] - a[8] > 2 * per_ns:
            close(seg)
            seg = []
            DOUBT.update((a[0], b[0]))
        seg.append(b)
    if seg:
        close(seg)

    mtc = [(f, b) for p, f, b in ev if p == 1]
    clk = [(f, b) for p, f, b in ev if p == 2]
    mmc = [(f, b) for p, f, b in ev if p == 3]
    out = {"period": period}

    # ---- MTC: the full frame, then every quarter-frame in order
    full = [(f, b) for f, b in mtc if b[0] == 0xF0]
    if len(full) != 1:
        fail("%d MTC full frames, want 1 at the roll" % len(full))
    f_s, fb = full[0]
    want = [0xF0, 0x7F, 0x7F, 0x01, 0x01, 1 << 5 | 0, 59, 58, 0, 0xF7]
    if fb != want:
        fail("full frame %s, want %s" % (fb, want))
    stops = [f for f, b in clk if b == [0xFC]]
    if len(stops) != 1:
        fail("%d MIDI Stop messages, want 1" % len(stops))
    f_stop = stops[0]
    qf = [(f, b) for f, b in mtc if b[0] == 0xF1]
    per_qf = RATE / FPS / 4
    # As many as the frames say, and more: a stall's lost frames hide instants.
    n_want = math.ceil((f_stop - f_s) / per_qf) + 400
    got_qf = match(qf, [f_s + i * per_qf for i in range(n_want)], period, "quarter-frame", 8)
    worst = WORST[0]
    last_qf = got_qf[max(got_qf)][0]
    if not 0 < f_stop - last_qf <= per_qf + period:
        fail("the last quarter-frame is %d frames before the stop" % (f_stop - last_qf))
    n_want = max(got_qf) + 1
    for i, (f, b) in got_qf.items():
        if b[1] >> 4 != i % 8:
            fail("quarter-frame %d is piece %d, want %d" % (i, b[1] >> 4, i % 8))
    labels = 0
    for i in range(0, n_want - 7, 8):
        if any(i + k not in got_qf for k in range(8)):
            continue  # a run the capture lost part of (see match)
        v = [got_qf[i + k][1][1] & 15 for k in range(8)]
        got = (v[6] | (v[7] & 1) << 4, v[4] | (v[5] & 3) << 4, v[2] | (v[3] & 3) << 4,
               v[0] | (v[1] & 1) << 4)
        if v[7] >> 1 != 1:
            fail("rate code %d, want 1 (25 fps)" % (v[7] >> 1))
        # The map's timecode where piece 0 was sent, within one quarter-frame.
        f0 = got_qf[i][0]  # its instant: frames, plus what stalls ate since the roll
        at = (f0 - f_s + seg_corr(f0) - seg_corr(f_s)) / RATE * FPS
        cands = {label(START_FRAME + math.floor(at + e)) for e in (-0.25, 0, 0.25)}
        if got not in cands:
            fail("quarter-frames %d-%d say %s, the map %s" % (i, i + 7, got, sorted(cands)))
        labels += 1
    if labels < (n_want // 8) * 0.75:
        fail("only %d of %d quarter-frame runs whole" % (labels, n_want // 8))
    out.update(mtc_quarter_frames=len(qf), mtc_expected=n_want, mtc_labels=labels,
               mtc_worst_frames=round(worst, 1))

    # ---- MIDI clock: SPP 16 (bar 2), 96 count-off clocks, Continue on bar 2, the map's clocks
    spp = [(f, b) for f, b in clk if b[0] == 0xF2]
    if len(spp) != 1 or spp[0][1] != [0xF2, 16, 0] or abs(spp[0][0] - f_s) > period:
        fail("SPP %s, want F2 10 00 at the roll (frame %d)" % (spp, f_s))
    cont = [f for f, b in clk if b == [0xFB]]
    # 2 s after the roll, less what stalls ate of the frames in between.
    f_origin = f_s + 2 * RATE - (seg_corr(cont[0]) - seg_corr(f_s) if cont else 0)
    unsure = any(doubtful(f_origin + x * period) for x in (-2, -1, 0, 1, 2))
    if [f for f, b in clk if b == [0xFA]] or len(cont) > 1 or (not cont and not unsure) or (
            cont and abs(cont[0] - f_origin) > period):
        fail("Continue at %s, want one at %d and no Start" % (cont, f_origin))
    if not cont:  # in a cycle the capture missed: the clocks after bar 2's downbeat tell
        cont = [f_origin]
        out["continue_unseen"] = True
    s_from = tick_to_s(3840)
    want = [f_s + i * RATE / 48 for i in range(96)]  # the count-off: 1/48 s apart
    for i in range(100000):
        e = f_s + 2 * RATE + (tick_to_s(3840 + 40 * i) - s_from) * RATE
        if e >= f_stop + 20 * RATE:
            break
        want.append(e)
    ticks = [(f, b) for f, b in clk if b == [0xF8]]
    got = match(ticks, want, period, "clock")
    worst = WORST[0]
    last = max(got)
    if not 0 < f_stop - got[last][0] <= want[last + 1] - want[last] + period:
        fail("the last clock is %d frames before the stop" % (f_stop - got[last][0]))
    want = want[:last + 1]
    if any((got[i][0] < cont[0]) != (i < 96) for i in got):
        fail("clocks before the Continue are not the count-off's")
    if len(want) < 97 or tick_to_s(3840 + 40 * (len(want) - 97)) < S_BAR5:
        fail("the roll did not reach bar 5 (%d clocks)" % len(want))
    out.update(clocks=len(ticks), clocks_expected=len(want), clock_worst_frames=round(worst, 1))

    # ---- MMC: locate 0.5 s before the roll to 00:59:58:00, play at it, stop at the stop
    want_loc = [0xF0, 0x7F, 0x7F, 0x06, 0x44, 0x06, 0x01, 0x20, 59, 58, 0, 0, 0xF7]
    if len(mmc) != 3:
        fail("%d MMC messages, want locate, play, stop: %s" % (len(mmc), mmc))
    if mmc[0][1] != want_loc or abs(mmc[0][0] - (f_s - RATE // 2) +
                                    seg_corr(f_s) - seg_corr(mmc[0][0])) > period:
        fail("MMC locate %s at %d, want %s at %d" % (mmc[0][1], mmc[0][0], want_loc,
                                                      f_s - RATE // 2))
    if mmc[1][1] != [0xF0, 0x7F, 0x7F, 0x06, 0x02, 0xF7] or abs(mmc[1][0] - f_s) > period:
        fail("MMC play %s at %d, want at %d" % (mmc[1][1], mmc[1][0], f_s))
    if mmc[2][1] != [0xF0, 0x7F, 0x7F, 0x06, 0x01, 0xF7] or mmc[2][0] != f_stop:
        fail("MMC stop %s at %d, want at the Stop's %d" % (mmc[2][1], mmc[2][0], f_stop))

    # ---- JACK transport: rolling from frame 0 at the roll, BBT from the map, stopped after
    rolling = [t for t in tp if t[1] == "Rolling"]
    if not rolling:
        fail("the transport never rolled")
    first = rolling[0][0]
    if abs(first - f_s) > 2 * period:
        fail("transport rolled at frame %d, the roll is at %d" % (first, f_s))
    checked = 0
    f_s_raw = f_s
    for f, state, tf, valid, bar, beat, tick, bpm, mono in tp:
        if state != "Rolling" or f in DOUBT:
            continue
        if f > f_stop + 2 * period:
            fail("transport still rolling %d frames after the stop" % (f - f_stop))
        if abs(tf - (f - f_s_raw)) > 2 * period:  # both count JACK's frames
            fail("transport frame %d at %d frames after the roll" % (tf, f - f_s_raw))
        if not valid:
            fail("no BBT while rolling")
        e_bar, e_beat, e_tick, e_bpm = bbt(tf / RATE)
        near = abs(e_tick) < 3 or abs(e_tick - 1920) < 3  # on a beat: either side may round
        if not near and ((bar, beat) != (e_bar, e_beat) or abs(tick - e_tick) > 2):
            fail("transport at frame %d: %d|%d|%d, the map %d|%d|%.0f" % (tf, bar, beat, tick,
                                                                       e_bar, e_beat, e_tick))
        if abs(bpm - e_bpm) > 0.5:
            fail("transport at frame %d: %.2f bpm, the map %.2f" % (tf, bpm, e_bpm))
        checked += 1
    after = [t for t in tp if t[0] > f_stop + 2 * period]
    if not after or any(t[1] != "Stopped" for t in after):
        fail("the transport did not stop after the stop")
    bars = sorted({t[4] for t in rolling})
    out.update(transport_cycles_checked=checked, transport_bars=bars,
               roll_to_stop_s=round((f_stop - f_s) / RATE, 3))
    print(json.dumps(out))


main()
