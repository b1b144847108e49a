#!/bin/bash
# A guide track from a take's capture in one command: stage records take 1
# (from a click file: a burst every 0.5 s from its first sample), its file
# uploads and verifies; `tutti media guide 1M1 --take 1 --room stage
# --rooms overdub` makes it the cue's guide without sending a byte (the
# coordinator's file is the capture's, the record carries its hash, size
# and rate, and the capture's TimeReference places it). Refusals say what
# is missing: no such take, a room that did not record, a file still on
# its way up, a non-operator. The roll is refused naming overdub until its
# agent has fetched the guide (identical to the capture); take 2 rolls,
# overdub plays the guide with the take's bursts on their session times
# (within 4 samples, overdub on a simulated clock), and the take sheet
# lists the guide as heard by take 2.
. "$(dirname "$0")/lib.sh"
MAP=$(cd "$(dirname "$0")/../../deploy/tempo" && pwd)/example-1m1.tempo
it_setup
"$B/tutti" keygen overdub --dir "$K" >/dev/null || fail "keygen overdub"
echo "room       overdub        $(it_pub overdub)" >> "$IT_DIR/access"
it_start_coordinator
"$B/tutti-tonegen" "$IT_DIR/in.wav" --seconds 60 --every 24000 >/dev/null || fail tonegen
room() {   # ROOM KEY [agent options...]: sets APID
    local r=$1 key=$2; shift 2
    it_spawn "agent-$r" "$B/tutti-agent" --room "$r" --key "$K/$key.key" --data "$IT_DIR/agent-$r" "$@"
    APID=$IT_LAST_PID
}
room stage stage --capture "$IT_DIR/cap-stage" --capture-from "$IT_DIR/in.wav"
# london-strings records too, but its upload crawls: its file never arrives here.
room london-strings strings --capture "$IT_DIR/cap-strings" --capture-from "$IT_DIR/in.wav" \
    --upload-rate 1k
locked() { [ "$("$B/tutti" status --json | jq '[.rooms[] | select(.clock.state == "locked")] | length')" = 2 ]; }
it_wait_for 20 locked || fail "clocks did not lock: $("$B/tutti" status)"
"$B/tutti" tempo load 1M1 "$MAP" >/dev/null || fail "tempo load"

# Take 1: 1 s before the first count-off click, 5.2 s of count-off, ~3 s of bars.
"$B/tutti" arm 1M1 >/dev/null && "$B/tutti" roll 1M1 --lead-ms 300 >/dev/null || fail "roll 1"
sleep 9
"$B/tutti" stop >/dev/null || fail "stop 1"
CAP=$IT_DIR/cap-stage/1M1_t1_stage_in1.wav
cap_seq() { "$B/tutti" history --json --kind media | jq -s -e '[.[] | select(.take == 1 and .room == "stage")][0].seq'; }
it_wait_for 20 cap_seq || fail "stage's take 1 did not arrive: $("$B/tutti" history --json --kind media)"
CSEQ=$(cap_seq)

# What is missing is said, and nothing is written.
guide() { "$B/tutti" media guide 1M1 "$@" 2>"$IT_DIR/guide.err"; }
expect() {   # STATUS TEXT guide-args...: the command fails so, saying TEXT
    local want=$1 text=$2; shift 2
    out=$(guide "$@"); rc=$?
    [ $rc -eq "$want" ] || fail "guide $*: exit $rc (want $want): $out $(cat "$IT_DIR/guide.err")"
    grep -q -- "$text" "$IT_DIR/guide.err" || fail "guide $*: said $(cat "$IT_DIR/guide.err")"
}
expect 1 "no take 7 of cue 1M1" --take 7 --room stage
expect 1 "room overdub did not record take 1 of 1M1 (recording: stage+london-strings)" \
    --take 1 --room overdub
expect 1 "room london-strings recorded take 1 of 1M1 but its file has not arrived yet" \
    --take 1 --room london-strings
expect 1 "recorded no input in2 of take 1" --take 1 --room stage --input in2
expect 2 "usage" --room stage
out=$(TUTTI_KEY=$K/stage.key "$B/tutti" media guide 1M1 --take 1 --room stage 2>&1); rc=$?
[ $rc -eq 3 ] && echo "$out" | grep -q "only an operator puts prelays and guides" ||
    fail "a room made a guide (exit $rc): $out"
[ "$("$B/tutti" history --json --kind guide | jq -s length)" = 0 ] ||
    fail "a refused guide was recorded"

# The guide, in one command: the coordinator's file is the capture's.
FILE=1M1_guide_t1-stage.wav
size=$(stat -c %s "$CAP")
out=$(guide --take 1 --room stage --rooms overdub) || fail "guide: $(cat "$IT_DIR/guide.err")"
seq=$(echo "$out" | sed -n "s/^$FILE $size seq \([0-9]*\)$/\1/p")
[ -n "$seq" ] || fail "guide said: $out $(cat "$IT_DIR/guide.err")"
cmp "$CAP" "$IT_DIR/coord/media/$FILE" || fail "the coordinator's guide is not the capture"
frames=$(jq .frames "$CAP.json")
"$B/tutti" history --json | jq -s -e --argjson s "$seq" --argjson c "$CSEQ" \
    --argjson z "$size" --argjson f "$frames" --arg h "$(jq -r .hash "$CAP.json")" '
    (.[] | select(.seq == $c)) as $cap | .[] | select(.seq == $s) |
    .kind == "guide" and .actor == "conductor" and .file == "1M1_guide_t1-stage.wav" and
    .source_seq == $c and
    .rooms == ["overdub"] and .size == $z and .hash == $h and .hash == $cap.hash and
    .rate == 48000 and .channels == 1 and .frames == $f and
    .time_reference == $cap.time_reference and (.at_bar // 0) == 0 and (.at_fps // "") == ""' \
    >/dev/null || fail "guide record: $("$B/tutti" history --json | grep '"1M1"')"
out=$(guide --take 1 --room stage --rooms overdub) || fail "guide again: $(cat "$IT_DIR/guide.err")"
[ "$out" = "$FILE $size seq $seq" ] || fail "the same guide again said: $out"
[ "$("$B/tutti" history --json --kind guide | jq -s length)" = 1 ] ||
    fail "the same guide was recorded twice"
it_log "guide: record $seq from capture $CSEQ, $size bytes"

# The gate names overdub (offline, named) until it holds the guide.
"$B/tutti" arm 1M1 >/dev/null || fail "arm 2"
out=$("$B/tutti" roll 1M1 2>&1) && fail "roll went while overdub lacks the guide"
echo "$out" | grep -q "room overdub lacks prelay $FILE: wait, or --force" || fail "refusal said: $out"
room overdub overdub --click-wav "$IT_DIR/overdub.wav" --clock-offset-us -1200000 \
    --clock-skew-ppm -90
OPID=$APID
it_wait_for 30 test -f "$IT_DIR/agent-overdub/media/$FILE" || fail "overdub did not fetch the guide"
cmp "$CAP" "$IT_DIR/agent-overdub/media/$FILE" || fail "overdub's guide is not the capture"
jq -e --argjson s "$seq" '.held[] | select(.seq == $s) | .kind == "guide"' \
    "$IT_DIR/agent-overdub/media/index.json" >/dev/null || fail "overdub's index"
it_wait_for 10 grep -q "loaded for playback" "$IT_DIR/agent-overdub.log" ||
    fail "overdub did not load the guide: $(tail -5 "$IT_DIR/agent-overdub.log")"
held() { "$B/tutti" status --json | jq -e '.rooms[] | select(.name == "overdub") |
    .prelays.held == 1 and .clock.state == "locked"'; }
it_wait_for 30 held || fail "overdub not holding and locked: $("$B/tutti" status)"

# Take 2: overdub plays the guide, placed where take 1 was recorded.
"$B/tutti" roll 1M1 --lead-ms 1500 >/dev/null || fail "roll 2: $("$B/tutti" roll 1M1 2>&1)"
sleep 10
"$B/tutti" stop --lead-ms 300 >/dev/null || fail "stop 2"
sleep 1.5
it_stop "$OPID"
sheet() { "$B/tutti" takes --json | jq -c "select(.take==$1) | {prelays, prelays_missing}"; }
[ "$(sheet 1)" = '{"prelays":[],"prelays_missing":""}' ] || fail "take 1 on the sheet: $(sheet 1)"
[ "$(sheet 2)" = "{\"prelays\":[\"$FILE\"],\"prelays_missing\":\"\"}" ] ||
    fail "take 2 on the sheet: $(sheet 2)"
"$B/tutti" takes | grep -q "prelays: $FILE" || fail "text sheet: $("$B/tutti" takes)"

# Capture sample k was at take 1's first click - 1 s + k; placed by its
# TimeReference, it plays at take 2's first click - 1 s + k: the bursts
# (every 24000 samples of the file) from take 2's downbeat to its stop.
# Within 4 samples: the capture starts on a whole sample (up to one off),
# plus two rooms' clock errors (stage's when it recorded, overdub's
# simulated one now); playback itself places the file to a fraction of a
# sample.
# Placed by bar instead, they would be 0.217 s off.
hist=$("$B/tutti" history --json)
start=$(echo "$hist" | jq -s '[.[] | select(.kind=="roll")][1].start_session_ns')
down=$(echo "$hist" | jq -s '[.[] | select(.kind=="roll")][1].downbeat_session_ns')
stop=$(echo "$hist" | jq -s '[.[] | select(.kind=="stop")][1].at_session_ns')
# Read with the burst as reference (--ref): the guide is played at a
# fraction of a sample, and a threshold reader misses interpolated onsets.
"$B/tutti-onsets" "$IT_DIR/overdub.prelay.wav" --ref "$IT_DIR/in.wav" > "$IT_DIR/guide.json" ||
    fail "onsets"
python3 - "$IT_DIR/guide.json" "$start" "$down" "$stop" <<'PY' > "$IT_DIR/check.log" 2>&1 || fail "$(cat "$IT_DIR/check.log")"
import json, sys
ons = json.load(open(sys.argv[1]))["ns"]
start, down, stop = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
SMP = 1e9 / 48000
zero = start - 1e9  # the capture's first sample
want = [zero + k * 0.5e9 for k in range(200) if down - 1e6 <= zero + k * 0.5e9 < stop - 1e6]
bad = []
if len(ons) != len(want):
    bad.append(f"{len(ons)} guide onsets, want {len(want)} (the downbeat to the stop)")
worst = 0.0
for t in want:
    c = min(ons, key=lambda x: abs(x - t)) if ons else None
    off = abs(c - t) / SMP if c is not None else 99
    worst = max(worst, off)
    if off > 4.0:
        bad.append(f"burst at {(t - zero) / 1e9:.1f} s of the capture: {off:.2f} samples off")
print(f"{len(ons)} guide bursts, worst {worst:.3f} samples from where take 1 recorded them")
if bad:
    print("\n".join(bad)); sys.exit(1)
PY
it_log "$(cat "$IT_DIR/check.log")"
it_log "PASS"
