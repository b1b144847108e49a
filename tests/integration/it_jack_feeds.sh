#!/bin/bash
# Click feeds and the prelay on JACK: a jackd dummy server at 48 kHz / 256
# started by the test, one agent with two click feeds (--click
# cond:conductor --click band:players) and a prelay at bar 3 on its prelay
# port, and tutti-jack-capture recording the three ports together with
# JACK's time of every period. Found from the audio and placed on session
# time by those period times (what the agent places its samples by while it
# trusts them): each feed clicks exactly its pattern (the conductor every
# beat and never the eighths, the players the eighths where the map says
# "subdivide 2"), on the map's times within 1 sample; the prelay's first
# burst on bar 3's downbeat and every burst on the map within 1 sample, and
# within 0.25 sample of the conductor's click due with it (a whole-sample
# reader puts a burst anywhere up to a sample after). None of these
# bounds depends on the period. A take in which the server stalls by itself
# is taken again, twice at most; stalled in all three, the test skips
# (exit 77) as where jackd is missing.
. "$(dirname "$0")/lib.sh"
command -v jackd >/dev/null || { echo "jackd not installed"; exit 77; }
it_setup
export JACK_DEFAULT_SERVER=tutti-it-$$ JACK_NO_AUDIO_RESERVATION=1
# TUTTI_JACK_PERIOD: another period (frames), to see the bounds hold there too.
it_spawn jackd jackd -n "$JACK_DEFAULT_SERVER" -d dummy -r 48000 -p "${TUTTI_JACK_PERIOD:-256}"
JACKD=$IT_LAST_PID
it_end_last "$JACKD" # after its clients (see it_jack)
it_wait_for 10 bash -c "timeout 2 jack_lsp | grep -q system:playback_1" || fail "jackd did not start"
it_start_coordinator
# Bars 3 and 4 are subdivided in eighths for the players; bar 5 is not.
cat > "$IT_DIR/map.tempo" <<'MAP'
countoff 1
bar 1 4/4 q=120
bar 3 subdivide 2
bar 5 subdivide 1
MAP
"$B/tutti" cue add 1M1 >/dev/null || fail "cue add"
"$B/tutti" tempo load 1M1 "$IT_DIR/map.tempo" >/dev/null || fail "tempo load"
# The prelay: 6 s, a decaying 1760 Hz cosine at 0.8 every 0.5 s from its
# first sample (as in it_prelay_play).
python3 - "$IT_DIR/prelay.wav" <<'PY' || fail "prelay wav"
import math, struct, sys, wave
rate, n, every, burst = 48000, 288000, 24000, 1440
w = wave.open(sys.argv[1], "wb")
w.setnchannels(1); w.setsampwidth(2); w.setframerate(rate)
out = bytearray()
for s in range(n):
    t = s % every
    v = 0.8 * (1 - t / burst) * math.cos(2 * math.pi * 1760 * t / rate) if t < burst else 0.0
    out += struct.pack("<h", int(round(v * 32767)))
w.writeframes(bytes(out)); w.close()
PY

it_spawn agent-stage "$B/tutti-agent" --room stage --key "$K/stage.key" \
    --data "$IT_DIR/agent-stage" --jack --click cond:conductor --click band:players
STAGE=$IT_LAST_PID
it_wait_for 10 bash -c "timeout 2 jack_lsp | grep -q tutti-stage:prelay" ||
    fail "no JACK ports: $(tail -5 "$IT_DIR/agent-stage.log")"
for p in cond band prelay; do
    timeout 2 jack_lsp | grep -qx "tutti-stage:$p" || fail "no port tutti-stage:$p"
done
timeout 2 jack_lsp | grep -qx "tutti-stage:click" && fail "the default click port beside the feeds"
locked() { "$B/tutti" status --json | jq -e '.rooms[] | select(.name=="stage") | .clock.state == "locked"'; }
it_wait_for 20 locked || fail "stage never locked: $("$B/tutti" status)"
"$B/tutti" media put 1M1 "$IT_DIR/prelay.wav" --kind prelay --at 3 >/dev/null 2>"$IT_DIR/put.log" ||
    fail "put: $(cat "$IT_DIR/put.log")"
it_wait_for 30 grep -q "loaded for playback" "$IT_DIR/agent-stage.log" ||
    fail "the prelay was not loaded: $(tail -5 "$IT_DIR/agent-stage.log")"

wrong() { grep -c "cycle times went wrong" "$IT_DIR/agent-stage.log"; }
# The agent is on JACK's figures: it never set them aside, or said last it is back on them.
trusting() { ! grep -E "cycle times went wrong|back on the server's cycle times" \
                 "$IT_DIR/agent-stage.log" | tail -1 | grep -q "went wrong"; }
# take N: captures take N into $IT_DIR/tN-*.wav and tN.cycles.json. The
# capture joins well before the take (a client joining can hold the server
# up for ms; see it_jack) and runs past the stop so the last click rings
# out: 3 s, lead 1 s, count-off 2 s, 9 s of the cue, stop, 5 s more. Sets
# STALLED=1 when the agent was off JACK's figures then or set them aside
# meanwhile.
take() {
    local before off=0
    it_wait_for 20 trusting || off=1
    before=$(wrong)
    it_spawn "capture$1" "$B/tutti-jack-capture" --seconds 20 --out "$IT_DIR/t$1" tutti-stage:cond \
        tutti-stage:band tutti-stage:prelay
    CAP=$IT_LAST_PID
    sleep 3
    "$B/tutti" arm 1M1 >/dev/null || fail "arm $1"
    "$B/tutti" roll 1M1 --lead-ms 1000 >/dev/null || fail "roll $1"
    sleep 11.7 # to bar 5 beat 2
    "$B/tutti" stop --lead-ms 300 >/dev/null || fail "stop $1"
    wait "$CAP" || fail "capture $1 failed: $(cat "$IT_DIR/capture$1.log")"
    it_log "take $1: $(cat "$IT_DIR/capture$1.log")"
    STALLED=$off
    [ "$(wrong)" = "$before" ] || STALLED=1
}
# JACK's figures are this test's yardstick for session time: a take in
# which the server stalls by itself (under load; the agent then times
# itself from its wake-ups, and JACK's figures run ms off for seconds) is
# taken again, twice at most.
for n in 1 2 3; do
    take "$n"
    [ $STALLED = 0 ] && break
    it_log "note: the server stalled during take $n by itself: $(grep -h "cycle times went wrong" \
        "$IT_DIR/agent-stage.log" | tail -1 | sed 's/.*last: \(.*\)): timing.*/\1/')"
done

hist=$("$B/tutti" history --json)
down=$(echo "$hist" | jq -s "[.[] | select(.kind==\"roll\")][$((n - 1))].downbeat_session_ns")
stop=$(echo "$hist" | jq -s "[.[] | select(.kind==\"stop\")][$((n - 1))].at_session_ns")
[ -n "$down" ] && [ "$down" != null ] && [ "$stop" != null ] || fail "roll/stop records: $hist"
"$B/tutti-onsets" "$IT_DIR/t$n-1.wav" > "$IT_DIR/cond.json" || fail "onsets cond"
"$B/tutti-onsets" "$IT_DIR/t$n-2.wav" > "$IT_DIR/band.json" || fail "onsets band"
"$B/tutti-onsets" "$IT_DIR/t$n-3.wav" --ref "$IT_DIR/prelay.wav" > "$IT_DIR/prelay.json" ||
    fail "onsets prelay"
cp "$IT_DIR/t$n.cycles.json" "$IT_DIR/cap.cycles.json" || fail "no cycle times"

# The map from the downbeat D: beats every 0.5 s (the count-off 4 of them
# before D), eighths between the beats of bars 3 and 4 (D + 4 .. 8 s).
python3 - "$IT_DIR" "$down" "$stop" <<'PY' > "$IT_DIR/check.log" 2>&1
import bisect, json, sys
d, down, stop = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
# The prelay against its click: both are placed by the period's mapping,
# the click once at its start, the prelay read on through each period's
# (JACK's times are whole us, 0.024 sample, and its loop moves them a
# little each period): measured 0.08 (WAV renders: 0.003).
bound, near_click = 1, 0.25
cyc = json.load(open(f"{d}/cap.cycles.json"))
rate = cyc["rate"]
SMP = 1e9 / rate
firsts = [c[0] for c in cyc["cycles"]]
def session(ns):
    """A capture's onset (ns from its first sample) on session time, by the
    period it fell in: JACK's time of the period's start and of the next."""
    p = ns * rate / 1e9
    i = max(0, bisect.bisect_right(firsts, int(p)) - 1)
    first, t0, t1 = cyc["cycles"][i]
    n = (firsts[i + 1] - first) if i + 1 < len(firsts) else round((t1 - t0) / SMP)
    return t0 + (p - first) * (t1 - t0) / n
ons = {k: [session(t) for t in json.load(open(f"{d}/{k}.json"))["ns"]]
       for k in ("cond", "band", "prelay")}
until = stop - 50e6  # the last click before the stop rings whole
beats = [down + k * 0.5e9 for k in range(-4, 40) if down + k * 0.5e9 < until]
eighths = [down + 4.25e9 + k * 0.5e9 for k in range(8) if down + 4.25e9 + k * 0.5e9 < until]
want = {"cond": beats, "band": sorted(beats + eighths)}
bad = []
def near(xs, t):
    return min(xs, key=lambda x: abs(x - t)) if xs else None
for k, pattern in (("cond", "conductor"), ("band", "players")):
    got = [t for t in ons[k] if t < until]
    worst = max((abs(near(got, t) - t) / SMP for t in want[k]), default=99)
    print(f"{pattern}: {len(got)} clicks, want {len(want[k])} ({len(eighths)} eighths for the "
          f"players), at most {worst:.3f} samples off the map")
    if len(got) != len(want[k]) or worst > bound:
        bad.append(f"{pattern}: {len(got)} clicks for {len(want[k])}, {worst:.3f} samples off")
    if k == "cond" and any(abs(near(got, t) - t) < 0.1e9 for t in eighths):
        bad.append("the conductor's feed clicks an eighth")
# The prelay at bar 3 (D + 4 s), a burst every 0.5 s until the stop.
bursts = [down + 4e9 + k * 0.5e9 for k in range(12) if down + 4e9 + k * 0.5e9 < stop - 1e6]
got = ons["prelay"]
timed = [t for t in bursts if t < stop - 6e6]  # a burst the stop cuts early is not timed
worst = max((abs(near(got, t) - t) / SMP for t in timed), default=99)
first = (got[0] - bursts[0]) / SMP if got else 99
with_click = max((abs(near(got, t) - near(ons["cond"], t)) / SMP for t in timed), default=99)
print(f"prelay: {len(got)} bursts, want {len(bursts)}; first {first:+.3f} samples from bar 3; "
      f"at most {worst:.3f} samples off the map, {with_click:.4f} from the conductor's clicks")
if len(got) != len(bursts) or worst > bound or abs(first) > bound:
    bad.append(f"prelay: {len(got)} bursts for {len(bursts)}, first {first:+.3f}, {worst:.3f} off")
if with_click > near_click:
    bad.append(f"prelay: a burst {with_click:.4f} samples from its click")
if bad:
    print("\n".join(bad)); sys.exit(1)
PY
ok=$?
# Stalled in every take: JACK's figures were no yardstick (seen tens of ms
# and more off, periods swallowed with the clicks in them), so there is
# nothing to hold the ports against; the machine could not run this test.
if [ $STALLED = 1 ]; then
    it_log "$(cat "$IT_DIR/check.log")"
    echo "SKIP: jackd stalled by itself in every take (a loaded machine): nothing to measure against"
    exit 77
fi
[ $ok = 0 ] || fail "$(cat "$IT_DIR/check.log")"
it_log "$(cat "$IT_DIR/check.log")"
it_stop "$STAGE"
it_log "PASS"
