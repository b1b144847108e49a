#!/bin/bash
# Prelay playback: three rooms (two on simulated clocks, one fast, one slow
# and offset) render the click and the prelay of a roll into WAVs
# (--click-wav PATH writes PATH.prelay.wav beside it). The map has a frame
# click (q=12-4 at 24 fps), a meter change at bar 3 and a free-time bar; the
# prelay (48 kHz, a click-like burst every 0.5 s from its first sample) is
# placed at bar 3. Found from the audio: the clicks at bar 3 and after the
# free bar and every prelay burst are where the map puts them within 1
# sample in every room, the prelay's first sample on bar 3's downbeat;
# clicks and prelay bursts each agree across rooms within 1 sample, and in
# each room a burst due with a click lands within 0.05 sample of it (the
# rooms read the prelay at a fraction of a sample, as they place clicks;
# the bursts are found by fitting the prelay's own burst, tutti-onsets
# --ref); nothing of the prelay sounds before bar 3 or after the stop, and
# no click in the free bar.
. "$(dirname "$0")/lib.sh"
it_setup
"$B/tutti" keygen overdub --dir "$K" >/dev/null || fail "keygen overdub"
echo "room       overdub        $(it_pub overdub)" >> "$IT_DIR/access"
it_start_coordinator
cat > "$IT_DIR/map.tempo" <<'MAP'
fps 24
start 00:59:58:00
countoff 1
bar 1 4/4 q=12-4
bar 3 3/4 q=120
bar 5 4/4 free until 6 at 01:00:06:00
bar 6 q=120
MAP
"$B/tutti" cue add 1M1 >/dev/null || fail "cue add"
"$B/tutti" tempo load 1M1 "$IT_DIR/map.tempo" >/dev/null || fail "tempo load"

# The prelay: 10 s, 48 kHz, a decaying 1760 Hz cosine (tutti's click shape,
# full amplitude on its first sample) every 0.5 s from sample 0. At 0.8:
# read between its samples such a hard onset peaks up to 13 % higher.
python3 - "$IT_DIR/prelay.wav" <<'PY' || fail "prelay wav"
import math, struct, sys, wave
rate, n, every, burst = 48000, 480000, 24000, 1440
w = wave.open(sys.argv[1], "wb")
w.setnchannels(1); w.setsampwidth(2); w.setframerate(rate)
out = bytearray()
for s in range(n):
    t = s % every
    v = 0.8 * (1 - t / burst) * math.cos(2 * math.pi * 1760 * t / rate) if t < burst else 0.0
    out += struct.pack("<h", int(round(v * 32767)))
w.writeframes(bytes(out)); w.close()
PY
# A loud one at bar 6 (8.0 s, between two bursts of the other): five 8 ms
# bursts at 0.99, 20 ms apart. Read between its samples it peaks over full
# scale (the rooms on skewed clocks sweep through every fraction of a
# sample within it): the room's WAV must clip those samples, not wrap them
# to the other sign.
python3 - "$IT_DIR/loud.wav" <<'PY' || fail "loud wav"
import math, struct, sys, wave
rate, every, burst = 48000, 960, 384
w = wave.open(sys.argv[1], "wb")
w.setnchannels(1); w.setsampwidth(2); w.setframerate(rate)
out = bytearray()
for s in range(5 * every):
    t = s % every
    v = 0.99 * (1 - t / burst) * math.cos(2 * math.pi * 1760 * t / rate) if t < burst else 0.0
    out += struct.pack("<h", int(round(v * 32767)))
w.writeframes(bytes(out)); w.close()
PY

agent() {   # agent ROOM KEY [options]
    local room=$1 key=$2; shift 2
    it_spawn "agent-$room" "$B/tutti-agent" --room "$room" --key "$K/$key.key" \
        --data "$IT_DIR/agent-$room" --click-wav "$IT_DIR/$room.wav" "$@"
    APID=$IT_LAST_PID
}
agent stage stage
SPID=$APID
agent london-strings strings --clock-offset-us 2500000 --clock-skew-ppm 150
LPID=$APID
agent overdub overdub --clock-offset-us -1200000 --clock-skew-ppm -90
OPID=$APID
locked() { [ "$("$B/tutti" status --json | jq '[.rooms[] | select(.clock.state=="locked")] | length')" = 3 ]; }
it_wait_for 30 locked || fail "rooms never locked: $("$B/tutti" status)"

"$B/tutti" media put 1M1 "$IT_DIR/prelay.wav" --kind prelay --at 3 >/dev/null 2>"$IT_DIR/put.log" ||
    fail "put: $(cat "$IT_DIR/put.log")"
"$B/tutti" media put 1M1 "$IT_DIR/loud.wav" --kind prelay --at 6 >/dev/null 2>"$IT_DIR/put.log" ||
    fail "put loud: $(cat "$IT_DIR/put.log")"
held() { "$B/tutti" status --json | jq -e '[.rooms[] | select(.prelays.held == 2)] | length == 3' >/dev/null; }
it_wait_for 30 held || fail "rooms did not fetch the prelays: $("$B/tutti" status)"
loaded() { [ "$(grep -c "loaded for playback" "$IT_DIR/agent-$1.log")" -ge 2 ]; }
for r in stage london-strings overdub; do
    it_wait_for 10 loaded "$r" || fail "$r did not load the prelays: $(tail -5 "$IT_DIR/agent-$r.log")"
done

"$B/tutti" arm 1M1 >/dev/null || fail "arm"
"$B/tutti" roll 1M1 --lead-ms 1500 >/dev/null || fail "roll"
sleep 12 # lead 1.5 + count-off 2.08 + bar 3 at 4.17 + 4.3 s of the prelay (the loud one at 8.0)
"$B/tutti" stop --lead-ms 300 >/dev/null || fail "stop"
sleep 1.5
it_stop "$SPID"
it_stop "$LPID"
it_stop "$OPID"

hist=$("$B/tutti" history --json)
down=$(echo "$hist" | jq -s '[.[] | select(.kind=="roll")][0].downbeat_session_ns')
stop=$(echo "$hist" | jq -s '[.[] | select(.kind=="stop")][0].at_session_ns')
[ -n "$down" ] && [ "$down" != null ] && [ "$stop" != null ] || fail "roll/stop records: $hist"
for r in stage london-strings overdub; do
    "$B/tutti-onsets" "$IT_DIR/$r.wav" > "$IT_DIR/$r.click.json" || fail "onsets $r"
    "$B/tutti-onsets" "$IT_DIR/$r.prelay.wav" --ref "$IT_DIR/prelay.wav" > "$IT_DIR/$r.prelay.json" ||
        fail "prelay onsets $r"
done

# Map: bar 1 at the downbeat, bar 3 4.1667 s later (8 frame-click beats of
# 12.5/24 s), 3/4 at q=120 to bar 5 (7.1667 s), free to bar 6 at 8.0 s.
python3 - "$IT_DIR" "$down" "$stop" <<'PY' > "$IT_DIR/check.log" 2>&1 || fail "$(cat "$IT_DIR/check.log")"
import json, sys, wave
d, down, stop = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rooms = ["stage", "london-strings", "overdub"]
SMP = 1e9 / 48000
bar3 = down + 100e9 / 24  # 8 beats of 12.5 frames at 24 fps
bad = []
def near(ons, t):
    return min(ons, key=lambda x: abs(x - t)) if ons else None
clicks = {r: json.load(open(f"{d}/{r}.click.json"))["ns"] for r in rooms}
pre = {r: json.load(open(f"{d}/{r}.prelay.json"))["ns"] for r in rooms}
# The loud prelay: its five bursts at bar 6 (8.0 s), then set apart. Its
# over-full-scale peaks are clipped: no sample jumps by more than 1.5 to
# the next (its steepest, a hard onset, ~1.1; a wrapped peak ~1.9), and
# some room's file reached full scale.
loud = {r: [t for t in pre[r] if down + 8e9 - 1e6 < t < down + 8.1e9] for r in rooms}
clipped = 0
for r in rooms:
    pre[r] = [t for t in pre[r] if t not in loud[r]]
    if len(loud[r]) != 5:
        bad.append(f"{r}: {len(loud[r])} onsets of the loud prelay at bar 6, want 5")
    w = wave.open(f"{d}/{r}.prelay.wav")
    raw = w.readframes(w.getnframes())
    x = [int.from_bytes(raw[i:i + 3], "little", signed=True) / 8388608 for i in range(0, len(raw), 3)]
    jump = max(abs(b - a) for a, b in zip(x, x[1:]))
    clipped += max(abs(v) for v in x) > 0.9999
    print(r, "loud prelay:", len(loud[r]), "bursts, largest step", round(jump, 3),
          "peak", round(max(abs(v) for v in x), 5))
    if jump > 1.5:
        bad.append(f"{r}: a step of {jump:.3f} between samples (a peak wrapped around)")
if not clipped:
    bad.append("no room's prelay reached full scale: the loud prelay did not test clipping")
for r in rooms:
    # Clicks on the map: bar 3's downbeat, its beats, and bar 6 after the free bar.
    for name, t in [("bar 3", bar3), ("bar 3 beat 2", bar3 + 0.5e9), ("bar 4", bar3 + 1.5e9),
                    ("bar 6", down + 8e9)]:
        c = near(clicks[r], t)
        if c is None or abs(c - t) > SMP:
            bad.append(f"{r}: click at {name} {(c - t) / SMP if c else None} samples off the map")
    # The free bar (5) has no click.
    if any(bar3 + 3e9 + 1e6 < c < down + 8e9 - 1e6 for c in clicks[r]):
        bad.append(f"{r}: a click in the free bar")
    # The prelay: first burst on bar 3's downbeat, then every 0.5 s until the stop; none else.
    # A burst the stop cuts within 6 ms of its onset is counted, not timed
    # (the fit looks 5 ms into it).
    p = pre[r]
    want = [bar3 + k * 0.5e9 for k in range(20) if bar3 + k * 0.5e9 < stop - 1e6]
    if len(p) != len(want):
        bad.append(f"{r}: {len(p)} prelay onsets, want {len(want)} (bar 3 to the stop)")
    worst_map = 0
    for k, t in enumerate(want):
        if t >= stop - 6e6:
            continue
        c = near(p, t)
        if c is None or abs(c - t) > SMP:
            bad.append(f"{r}: prelay burst {k} {(c - t) / SMP if c else None} samples off")
        elif abs(c - t) / SMP > worst_map:
            worst_map = abs(c - t) / SMP
    # Where a burst is due with a click (bar 3 and 4's beats), the room
    # placed both from the same mapping in the same block, each at its
    # fraction of a sample: they coincide (a whole-sample reader would put
    # the burst up to a sample after the click).
    worst_click = 0
    for k in range(6):
        t = bar3 + k * 0.5e9
        c, q = near(clicks[r], t), near(p, t)
        d = abs(q - c) / SMP if c is not None and q is not None else 99
        worst_click = max(worst_click, d)
    if worst_click > 0.05:
        bad.append(f"{r}: a prelay burst {worst_click:.3f} samples from its click")
    print(r, "prelay first", round((p[0] - bar3) / SMP, 3) if p else None, "samples from bar 3;",
          len(p), "bursts, at most", round(worst_map, 3), "samples off the map and",
          round(worst_click, 4), "from the clicks with them; clicks", len(clicks[r]))
# Across rooms: every click, and every prelay burst, within 1 sample of
# stage's: both are placed at a fraction of a sample.
for kind, ons in [("click", clicks), ("prelay", pre)]:
    for r in rooms[1:]:
        timed = [t for t in ons[r] if t < stop - 6e6]
        worst = max(abs(near(ons["stage"], t) - t) for t in timed) / SMP if timed else 99
        print(kind, r, "vs stage: max", round(worst, 3), "samples")
        if worst > 1.0 or len(ons[r]) != len(ons["stage"]):
            bad.append(f"{kind}: {r} {len(ons[r])} onsets, {worst:.3f} samples from stage's")
if bad:
    print("\n".join(bad)); sys.exit(1)
PY
it_log "$(cat "$IT_DIR/check.log")"
it_log "PASS"
