#!/bin/bash
# Cues, the transport state machine and take numbering: cue add rules and
# roles; idle -> armed -> count-in/rolling -> stopped with illegal moves
# refused naming the state and what is allowed; take numbers per cue from
# the coordinator, strictly increasing, never reused, also across a kill -9
# of the coordinator in the middle of a take (closed as interrupted on
# restart); every replica converges and verifies.
. "$(dirname "$0")/lib.sh"
MAP=$(cd "$(dirname "$0")/../../deploy/tempo" && pwd)/example-1m1.tempo
it_setup
it_start_coordinator
port=${EP##*:}
it_start_agent stage stage; STAGE=$APID

"$B/tutti" cue add 1M1 --title "Main Title" >/dev/null || fail "cue add"
out=$("$B/tutti" cue add 1M1 --title again 2>&1) && fail "duplicate cue accepted"
echo "$out" | grep -q "already exists" || fail "unclear: $out"
out=$(TUTTI_KEY=$K/stage.key "$B/tutti" cue add 2M3 2>&1); rc=$?
[ $rc -eq 3 ] || fail "room key added a cue (exit $rc)"
out=$(TUTTI_KEY=$K/contractor.key "$B/tutti" arm 1M1 2>&1); rc=$?
[ $rc -eq 3 ] || fail "contractor armed (exit $rc)"
"$B/tutti" tempo load 1M1 "$MAP" >/dev/null || fail "tempo load"

state() { "$B/tutti" status --json | jq -r ".transport.$1"; }
[ "$(state state)" = idle ] || fail "not idle at start: $(state state)"
out=$("$B/tutti" stop 2>&1) && fail "stop while idle accepted"
echo "$out" | grep -q "transport is idle" || fail "unclear: $out"

take() {   # arm, roll, stop; prints the take number the roll opened
    "$B/tutti" arm 1M1 >/dev/null || fail "arm"
    [ "$(state state)" = armed ] || fail "not armed: $(state state)"
    "$B/tutti" roll 1M1 --lead-ms 300 >/dev/null || fail "roll"
    s=$(state state); [ "$s" = count-in ] || [ "$s" = rolling ] || fail "not rolling: $s"
    out=$("$B/tutti" arm 1M1 2>&1) && fail "arm while rolling accepted"
    echo "$out" | grep -q "allowed now: stop" || fail "unclear: $out"
    state take
}
t1=$(take); "$B/tutti" stop >/dev/null || fail "stop 1"
t2=$(take); "$B/tutti" stop >/dev/null || fail "stop 2"
[ "$t1" = 1 ] && [ "$t2" = 2 ] || fail "takes $t1 $t2"
sleep 0.2
[ "$(state state)" = stopped ] || fail "not stopped: $(state state)"
out=$("$B/tutti" roll 1M1 2>&1) && fail "roll while stopped accepted"
echo "$out" | grep -q "transport is stopped.*arm a cue" || fail "unclear: $out"

# kill -9 in the middle of take 3.
t3=$(take)
[ "$t3" = 3 ] || fail "take $t3, want 3"
sleep 0.5
kill -9 "$CPID"; wait "$CPID" 2>/dev/null
it_start_coordinator "tcp://127.0.0.1:$port"
"$B/tutti" history --json | jq -e 'select(.kind=="take-interrupted" and .take==3)' >/dev/null ||
    fail "take 3 not closed as interrupted"
"$B/tutti" takes --json | jq -e 'select(.take==3 and .state=="interrupted")' >/dev/null ||
    fail "takes sheet does not show take 3 interrupted"
t4=$(take); "$B/tutti" stop >/dev/null || fail "stop 4"
[ "$t4" = 4 ] || fail "take after the crash is $t4, want 4"

sheet=$("$B/tutti" takes --json)
it_log "take sheet: $(echo "$sheet" | jq -c '[.take, .state]' | tr '\n' ' ')"
[ "$(echo "$sheet" | jq -s 'map(.take) | . == [1,2,3,4]')" = true ] || fail "sheet: $sheet"
"$B/tutti" takes | grep -q "00:59:5" || fail "no start timecode on the sheet"
"$B/tutti" cue list --json | jq -e 'select(.cue=="1M1" and .title=="Main Title" and .takes==4)' \
    >/dev/null || fail "cue list"

head=$("$B/tutti" status --json | jq -r .head_hash)
caught_up() { [ "$(it_head_of "$IT_DIR/agent-stage")" = "$head" ]; }
it_wait_for 10 caught_up || fail "replica did not converge after the restart"
it_stop "$STAGE"
it_stop "$CPID"
"$B/tutti" verify "$IT_DIR/coord" >/dev/null || fail "verify coordinator"
"$B/tutti" verify "$IT_DIR/agent-stage" >/dev/null || fail "verify replica"
it_log "PASS"
