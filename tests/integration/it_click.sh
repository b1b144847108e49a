#!/bin/bash
# Tempo maps, scheduled transport, click + LTC: map validation and roles,
# roll/stop rules, two rooms (one on a simulated clock 2.5 s ahead and
# 150 ppm fast) whose rendered clicks land on the same sample, LTC that
# decodes frame after frame, and a roll that arrives after its start time
# still clicking on the map's exact times (through tutti-bench-click).
. "$(dirname "$0")/lib.sh"
MAP=$(cd "$(dirname "$0")/../../deploy/tempo" && pwd)/example-1m1.tempo
it_setup
it_start_coordinator
it_spawn agent-stage "$B/tutti-agent" --room stage --key "$K/stage.key" \
    --data "$IT_DIR/agent-stage" --click-wav "$IT_DIR/stage.wav"
STAGE=$IT_LAST_PID
it_spawn agent-strings "$B/tutti-agent" --room london-strings --key "$K/strings.key" \
    --data "$IT_DIR/agent-strings" --click-wav "$IT_DIR/strings.wav" \
    --clock-offset-us 2500000 --clock-skew-ppm 150
STRINGS=$IT_LAST_PID
locked() { [ "$("$B/tutti" status --json | jq '[.rooms[] | select(.clock.state=="locked")] | length')" = 2 ]; }
it_wait_for 20 locked || fail "rooms never locked"

# Map validation and roles.
printf 'bar 2 4/4 q=90\n' > "$IT_DIR/bad.tempo"
out=$("$B/tutti" tempo load 1M1 "$IT_DIR/bad.tempo" 2>&1) && fail "bad map accepted"
echo "$out" | grep -q "line 1" || fail "bad map error does not name the line: $out"
# A corrupt MIDI file is refused with the problem and its byte offset.
printf 'MThd\0\0\0\6\0\1\0\2\0\x60MTrk\0\0\1\0\xff\x51' > "$IT_DIR/bad.mid"
out=$("$B/tutti" tempo load 1M1 "$IT_DIR/bad.mid" 2>&1); rc=$?
[ $rc -eq 1 ] || fail "corrupt MIDI: exit $rc ($out)"
echo "$out" | grep -q "byte" || fail "corrupt MIDI error names no offset: $out"
printf 'MThd\0\0\0\6\0\0\0\1\xe7\x28' > "$IT_DIR/smpte.mid"
out=$("$B/tutti" tempo load 1M1 "$IT_DIR/smpte.mid" 2>&1) && fail "SMPTE-division MIDI accepted"
echo "$out" | grep -qi "smpte" || fail "SMPTE division error unclear: $out"
out=$(TUTTI_KEY=$K/stage.key "$B/tutti" tempo load 1M1 "$MAP" 2>&1); rc=$?
[ $rc -eq 3 ] || fail "room key loaded a tempo map (exit $rc: $out)"
out=$("$B/tutti" arm 1M1 2>&1) && fail "arm of an unknown cue accepted"
echo "$out" | grep -q "no cue 1M1" || fail "unclear arm error: $out"
"$B/tutti" tempo load 1M1 "$MAP" >/dev/null || fail "tempo load"
"$B/tutti" tempo load 1M1 "$MAP" --countoff 1 >/dev/null || fail "tempo load v2"
v=$("$B/tutti" history --json | jq -s '[.[] | select(.kind=="tempo")] | map(.version)')
[ "$(echo "$v" | jq -c .)" = "[1,2]" ] || fail "tempo versions $v"
"$B/tutti" history --json | jq -s -e 'any(.[]; .kind=="tempo" and .version==2 and (.map | test("countoff 1")))' \
    >/dev/null || fail "--countoff not in the stored map"

# Roll and stop rules.
out=$("$B/tutti" roll 1M1 2>&1) && fail "roll without arm accepted"
echo "$out" | grep -q "transport is idle.*arm" || fail "unclear roll-before-arm error: $out"
"$B/tutti" arm 1M1 >/dev/null || fail "arm"
"$B/tutti" roll 1M1 --lead-ms 800 >/dev/null || fail "roll"
out=$("$B/tutti" roll 1M1 2>&1) && fail "second roll accepted while rolling"
echo "$out" | grep -q "allowed now: stop" || fail "unclear error: $out"
sleep 7
"$B/tutti" stop >/dev/null || fail "stop"
out=$("$B/tutti" stop 2>&1) && fail "stop while stopped accepted"
echo "$out" | grep -q "nothing is rolling" || fail "unclear error: $out"
sleep 0.5
it_stop "$STAGE"
it_stop "$STRINGS"

# Both rooms' clicks, on true time, land within a few samples of each other.
cmp=$("$B/tutti" clicks "$IT_DIR/stage.wav" "$IT_DIR/strings.wav" --json) || fail "clicks"
it_log "clicks: $cmp"
paired=$(echo "$cmp" | jq .paired); clicks=$(echo "$cmp" | jq .clicks)
[ "$paired" -ge 10 ] || fail "only $paired clicks paired"
[ "$paired" = "$clicks" ] || fail "$clicks clicks but $paired paired"
echo "$cmp" | jq -e '.max_abs_samples <= 3' >/dev/null || fail "rooms apart: $cmp"

# LTC decodes as consecutive frames.
"$B/tutti" ltc read "$IT_DIR/strings.wav" --channel 2 --json > "$IT_DIR/ltc.jsonl" 2>/dev/null ||
    fail "ltc read"
frames=$(wc -l < "$IT_DIR/ltc.jsonl")
[ "$frames" -ge 150 ] || fail "only $frames LTC frames"
jq -s 'map(.frame) | . as $f | [range(1; length)] | all($f[.] == $f[. - 1] + 1)' \
    "$IT_DIR/ltc.jsonl" | grep -q true || fail "LTC frames not consecutive"
it_log "LTC: $frames consecutive frames from $(head -1 "$IT_DIR/ltc.jsonl" | jq -r .tc)"

# A roll that arrives after its start still clicks on the map's times.
out=$(TUTTI_EXAMPLE_MAP=$MAP "$B/tutti-bench-click" --duration 6 --lead-ms 1) ||
    fail "bench-click failed"
it_log "late roll: $out"
echo "$out" | jq -e '.onsets >= 5 and .max_model_error_samples <= 3 and .ltc_errors == 0' \
    >/dev/null || fail "late roll off the map: $out"
it_log "PASS"
