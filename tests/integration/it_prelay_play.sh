#!/bin/bash
# Prelay playback: three rooms (two on simulated clocks, one fast, one slow
# and offset) render the click and the prelay of a roll into WAVs
# (--click-wav PATH writes PATH.prelay.wav beside it). The map has a frame
# click (q=12-4 at 24 fps), a meter change at bar 3 and a free-time bar; the
# prelay (48 kHz, a click-like burst every 0.5 s from its first sample) is
# placed at bar 3. Found from the audio: the clicks at bar 3 and after the
# free bar and every prelay burst are where the map puts them within 1
# sample in every room, the prelay's first sample on bar 3's downbeat;
# clicks agree across rooms within 1 sample, prelay bursts within 2 (whole
# samples: see below); nothing of the prelay sounds before bar 3 or after
# the stop, and no click in the free bar.
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
# full amplitude on its first sample) every 0.5 s from sample 0.
python3 - "$IT_DIR/prelay.wav" <<'PY' || fail "prelay wav"
import math, struct, sys, wave
rate, n, every, burst = 48000, 480000, 24000, 1440
w = wave.open(sys.argv[1], "wb")
w.setnchannels(1); w.setsampwidth(2); w.setframerate(rate)
out = bytearray()
for s in range(n):
    t = s % every
    v = 0.9 * (1 - t / burst) * math.cos(2 * math.pi * 1760 * t / rate) if t < burst else 0.0
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
held() { "$B/tutti" status --json | jq -e '[.rooms[] | select(.prelays.held == 1)] | length == 3' >/dev/null; }
it_wait_for 30 held || fail "rooms did not fetch the prelay: $("$B/tutti" status)"
for r in stage london-strings overdub; do
    it_wait_for 10 grep -q "loaded for playback" "$IT_DIR/agent-$r.log" ||
        fail "$r did not load the prelay: $(tail -5 "$IT_DIR/agent-$r.log")"
done

"$B/tutti" arm 1M1 >/dev/null || fail "arm"
"$B/tutti" roll 1M1 --lead-ms 1500 >/dev/null || fail "roll"
sleep 11.5 # lead 1.5 + count-off 2.08 + bar 3 at 4.17 + 4 s of the prelay
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
    "$B/tutti-onsets" "$IT_DIR/$r.prelay.wav" > "$IT_DIR/$r.prelay.json" || fail "prelay onsets $r"
done

# Map: bar 1 at the downbeat, bar 3 4.1667 s later (8 frame-click beats of
# 12.5/24 s), 3/4 at q=120 to bar 5 (7.1667 s), free to bar 6 at 8.0 s.
python3 - "$IT_DIR" "$down" "$stop" <<'PY' > "$IT_DIR/check.log" 2>&1 || fail "$(cat "$IT_DIR/check.log")"
import json, sys
d, down, stop = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rooms = ["stage", "london-strings", "overdub"]
SMP = 1e9 / 48000
bar3 = down + 100e9 / 24  # 8 beats of 12.5 frames at 24 fps
bad = []
def near(ons, t):
    return min(ons, key=lambda x: abs(x - t)) if ons else None
clicks = {r: json.load(open(f"{d}/{r}.click.json"))["ns"] for r in rooms}
pre = {r: json.load(open(f"{d}/{r}.prelay.json"))["ns"] for r in rooms}
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
    p = pre[r]
    want = [bar3 + k * 0.5e9 for k in range(20) if bar3 + k * 0.5e9 < stop - 1e6]
    if len(p) != len(want):
        bad.append(f"{r}: {len(p)} prelay onsets, want {len(want)} (bar 3 to the stop)")
    for k, t in enumerate(want):
        c = near(p, t)
        if c is None or abs(c - t) > SMP:
            bad.append(f"{r}: prelay burst {k} {(c - t) / SMP if c else None} samples off")
    print(r, "prelay first", (p[0] - bar3) / SMP if p else None, "samples from bar 3;",
          len(p), "bursts; clicks", len(clicks[r]))
# Across rooms: every click within 1 sample of stage's. A prelay's samples
# are played whole (each on the first output sample at or after its
# instant, within a sample of the map, checked above), so two rooms' may
# differ by up to 1 sample plus their clocks' (the clicks') disagreement.
for kind, ons, tol in [("click", clicks, 1.0), ("prelay", pre, 2.0)]:
    for r in rooms[1:]:
        worst = max(abs(near(ons["stage"], t) - t) for t in ons[r]) / SMP if ons[r] else 99
        print(kind, r, "vs stage: max", round(worst, 3), "samples")
        if worst > tol or len(ons[r]) != len(ons["stage"]):
            bad.append(f"{kind}: {r} {len(ons[r])} onsets, {worst:.3f} samples from stage's")
if bad:
    print("\n".join(bad)); sys.exit(1)
PY
it_log "$(cat "$IT_DIR/check.log")"
it_log "PASS"
