#!/bin/bash
# Click feeds: two rooms render four outputs each (--click cond:conductor
# --click band:players --click warn:warning --click count:count) to WAV.
# Each output's onsets land on its pattern's times from the map within a
# sample, each output agrees across the rooms (one on a simulated clock
# 2.5 s ahead and 150 ppm fast) within a sample, and the spoken count-off
# (espeak-ng's words) starts on the count-off beats within a few ms.
. "$(dirname "$0")/lib.sh"
it_setup
SAMPLES=$B/../click-samples
[ -f "$SAMPLES/1.wav" ] || { echo "SKIP: no count-off words (espeak-ng absent at build)"; exit 77; }
FEEDS="--click cond:conductor --click band:players --click warn:warning --click count:count"
# Bad patterns and names are refused with the reason.
out=$("$B/tutti-agent" --room stage --key "$K/stage.key" --click band:polka 2>&1) &&
    fail "a bad pattern was accepted"
echo "$out" | grep -q 'no click pattern "polka": one of click, conductor, players, warning, count' ||
    fail "unclear bad-pattern error: $out"
out=$("$B/tutti-agent" --room stage --key "$K/stage.key" --click a:count --click a:players 2>&1) &&
    fail "a repeated output name was accepted"
echo "$out" | grep -q "given twice" || fail "unclear repeated-name error: $out"

it_start_coordinator
# shellcheck disable=SC2086
it_spawn agent-stage "$B/tutti-agent" --room stage --key "$K/stage.key" \
    --data "$IT_DIR/agent-stage" --click-wav "$IT_DIR/stage.wav" $FEEDS --click-samples "$SAMPLES"
STAGE=$IT_LAST_PID
# shellcheck disable=SC2086
it_spawn agent-strings "$B/tutti-agent" --room london-strings --key "$K/strings.key" \
    --data "$IT_DIR/agent-strings" --click-wav "$IT_DIR/strings.wav" $FEEDS \
    --click-samples "$SAMPLES" --clock-offset-us 2500000 --clock-skew-ppm 150
STRINGS=$IT_LAST_PID
locked() { [ "$("$B/tutti" status --json | jq '[.rooms[] | select(.clock.state=="locked")] | length')" = 2 ]; }
it_wait_for 20 locked || fail "rooms never locked"

# A count-off bar, a grouped meter, tempo changes (bars 3, 4, 5: the warning
# feed clicks through the count-off bar and bars 2, 3 and 4), eighths in bar 4.
cat > "$IT_DIR/feeds.tempo" <<'MAP'
countoff 1
bar 1 4/4 q=120
bar 3 6/8 in 2 q.=60
bar 4 4/4 q=100 subdivide 2
bar 5 q=120 subdivide 1
MAP
"$B/tutti" tempo load 1M1 "$IT_DIR/feeds.tempo" >/dev/null || fail "tempo load"
"$B/tutti" arm 1M1 >/dev/null || fail "arm"
"$B/tutti" roll 1M1 --lead-ms 800 >/dev/null || fail "roll"
sleep 13
"$B/tutti" stop >/dev/null || fail "stop"
sleep 0.7
it_stop "$STAGE"
it_stop "$STRINGS"
for f in cond band warn count; do
    for r in stage strings; do
        [ -s "$IT_DIR/$r-$f.wav" ] && [ -s "$IT_DIR/$r-$f.wav.json" ] || fail "no $r-$f.wav"
    done
done
[ -e "$IT_DIR/stage.wav" ] && fail "the default output was written beside the feeds"

start=$(grep -o 'roll 1M1 take 1 from bar 1 at session [0-9.]*' "$IT_DIR/agent-stage.log" |
    awk '{print $NF}')
stop=$(grep -o 'stop 1M1 take 1 at session [0-9.]*' "$IT_DIR/agent-stage.log" | awk '{print $NF}')
[ -n "$start" ] && [ -n "$stop" ] || fail "no roll/stop in the agent's log"
# Events up to 50 ms before the stop (the last click rings whole).
until=$(echo "$stop - 0.05" | bc -l)
declare -A want=([cond]=conductor [band]=players [warn]=warning)
declare -A least=([cond]=21 [band]=29 [warn]=14)
for f in cond band warn; do
    for r in stage strings; do
        res=$("$B/tutti-feed-check" "$IT_DIR/feeds.tempo" "${want[$f]}" "$start" "$until" \
            "$IT_DIR/$r-$f.wav") || fail "feed-check $r-$f"
        it_log "$r $f: $res"
        echo "$res" | jq -e --argjson n "${least[$f]}" \
            '.expected >= $n and .matched == .expected and .extra == 0 and .max_err_samples <= 1' \
            >/dev/null || fail "$r $f off its pattern: $res"
    done
    cmp=$("$B/tutti" clicks "$IT_DIR/stage-$f.wav" "$IT_DIR/strings-$f.wav" --json) || fail "clicks $f"
    it_log "$f across rooms: $cmp"
    echo "$cmp" | jq -e --argjson n "${least[$f]}" \
        '.paired >= $n and .clicks == .paired and .max_abs_samples <= 1' >/dev/null ||
        fail "$f: rooms apart: $cmp"
done
# The spoken count: four words, each starting on its count-off beat.
for r in stage strings; do
    res=$("$B/tutti-feed-check" "$IT_DIR/feeds.tempo" count "$start" "$until" \
        "$IT_DIR/$r-count.wav" --words) || fail "feed-check $r-count"
    it_log "$r count: $res"
    echo "$res" | jq -e '.expected == 4 and .matched == 4 and .max_err_ms <= 3' >/dev/null ||
        fail "$r count-off words off the beats: $res"
done
it_log "PASS"
