#!/bin/bash
# Ableton Link bridge (issue #15 point 4): an agent with --link and a Link
# peer (tutti-link-peer) on one host. After a roll the peer sees the map's
# tempo, isPlaying and tutti's beat (quarters from bar 1 beat 1, on the
# bar) within 1 ms at the same instants; after the stop isPlaying is false.
# On one host the session clock is the coordinator's CLOCK_MONOTONIC, so
# the expected beat at mono t is (t - bar 1 beat 1) / beat.
. "$(dirname "$0")/lib.sh"
it_setup
# Link peers find each other by multicast, here on lo (Link enables
# multicast loopback on a loopback interface). Without it there is nothing to test.
timeout 10 "$B/tutti-link-peer" --seconds 4 --every-ms 500 > "$IT_DIR/probe-a.jsonl" 2>&1 &
PA=$!
timeout 10 "$B/tutti-link-peer" --seconds 4 --every-ms 500 > "$IT_DIR/probe-b.jsonl" 2>&1
wait "$PA"
if ! jq -s -e 'any(.[]; .peers >= 1)' "$IT_DIR/probe-b.jsonl" >/dev/null; then
    it_log "SKIP: two Link peers on this host do not discover each other (no multicast on lo" \
        "and no other interface: Link's discovery is UDP multicast 224.76.78.75:20808)"
    exit 77
fi

it_start_coordinator
it_spawn agent-stage "$B/tutti-agent" --room stage --key "$K/stage.key" \
    --data "$IT_DIR/agent-stage" --link
STAGE=$IT_LAST_PID
locked() { [ "$("$B/tutti" status --json | jq '[.rooms[] | select(.clock.state=="locked")] | length')" = 1 ]; }
it_wait_for 20 locked || fail "room never locked"
it_spawn peer "$B/tutti-link-peer" --seconds 60 --every-ms 20
PEER=$IT_LAST_PID
it_wait_for 10 grep -qE '"peers":[1-9]' "$IT_DIR/peer.log" || fail "the peer never saw the agent's Link"

printf 'countoff 1\nbar 1 4/4 q=96\n' > "$IT_DIR/link.tempo"
"$B/tutti" tempo load 1M1 "$IT_DIR/link.tempo" >/dev/null || fail "tempo load"
"$B/tutti" arm 1M1 >/dev/null || fail "arm"
"$B/tutti" roll 1M1 --lead-ms 500 >/dev/null || fail "roll"
start=$("$B/tutti" history --json | jq -s '[.[] | select(.kind=="roll")] | last | .start_session_ns')
[ -n "$start" ] && [ "$start" != null ] || fail "no roll in the history"
sleep 5
"$B/tutti" stop >/dev/null || fail "stop"
stop=$("$B/tutti" history --json | jq -s '[.[] | select(.kind=="stop")] | last | .at_session_ns')
sleep 1.5
it_stop "$PEER"
it_stop "$STAGE"

# Bar 1 beat 1 is one 4/4 bar of q=96 after the first count-off click.
beat_ns=625000000
t0=$((start + 4 * beat_ns))
res=$(jq -s --argjson t0 "$t0" --argjson b "$beat_ns" --argjson start "$start" \
    --argjson stop "$stop" '
    def wrap: . - 4 * ((. + 2) / 4 | floor); # into [-2, 2) quarters (jq % is integer)
    [.[] | select(.mono_ns > $start + 1000000000 and .mono_ns < $stop - 200000000)] as $in
    | [.[] | select(.mono_ns > $stop + 500000000)] as $after
    | { n: ($in | length),
        playing: ($in | all(.playing)),
        bpm_max_off: ($in | map(.bpm - 96 | fabs) | max),
        err_ms: ($in | map(((.mono_ns - $t0) / $b - .beat | wrap) * $b / 1e6 | fabs)),
        after: ($after | length), stopped: ($after | all(.playing | not)) }
    | .max_err_ms = (.err_ms | max) | del(.err_ms)' "$IT_DIR/peer.log") || fail "peer log: $res"
it_log "link: $res"
echo "$res" | jq -e '.n >= 100' >/dev/null || fail "too few samples in the roll: $res"
echo "$res" | jq -e '.playing' >/dev/null || fail "the peer did not see isPlaying in the roll: $res"
echo "$res" | jq -e '.bpm_max_off < 0.01' >/dev/null || fail "the peer's tempo is not 96: $res"
echo "$res" | jq -e '.max_err_ms < 1' >/dev/null || fail "the peer's beat is off tutti's: $res"
echo "$res" | jq -e '.after >= 20 and .stopped' >/dev/null || fail "still playing after the stop: $res"
