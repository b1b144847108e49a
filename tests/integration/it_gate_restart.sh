#!/bin/bash
# The ack gate holds across a coordinator restart (hardening). Before, every
# room started offline after a restart, so `tutti roll` passed with unacked
# changes in the first heartbeat window. Now the rooms online before the
# restart count until they are back or the window has passed, and the Roll
# record names who was online, who was expected and who had not acked.
. "$(dirname "$0")/lib.sh"
MAP=$(cd "$(dirname "$0")/../../deploy/tempo" && pwd)/example-1m1.tempo
it_setup
it_start_coordinator
port=${EP##*:}
it_start_agent stage stage; STAGE=$APID
it_start_agent london-strings strings; STRINGS=$APID
online() { "$B/tutti" status --json | jq -e ".rooms[] | select(.name==\"$1\") | .online == $2" >/dev/null; }
it_wait_for 10 online stage true || fail "stage offline"
it_wait_for 10 online london-strings true || fail "strings offline"
"$B/tutti" cue add 1M1 >/dev/null || fail "cue add"
"$B/tutti" tempo load 1M1 "$MAP" >/dev/null || fail "tempo load"
out=$("$B/tutti" change 1M1 --text "bar 9: mutes off") || fail "change: $out"
C1=$(echo "$out" | sed -n 's/change recorded as \([0-9]*\)/\1/p')
TUTTI_KEY=$K/strings.key "$B/tutti" ack "$C1" >/dev/null || fail "strings ack"
"$B/tutti" arm 1M1 >/dev/null || fail "arm"

# Both agents and the coordinator go down; only the coordinator comes back.
kill -9 "$STAGE" "$STRINGS" "$CPID"; wait "$STAGE" "$STRINGS" "$CPID" 2>/dev/null
it_start_coordinator "tcp://127.0.0.1:$port"
grep -q "rooms online before the restart.*stage, london-strings" "$IT_DIR/coordinator.log" ||
    fail "the coordinator did not remember who was online: $(tail -3 "$IT_DIR/coordinator.log")"
out=$("$B/tutti" roll 1M1 --lead-ms 200 2>&1) && fail "roll right after a restart passed the gate: $out"
echo "$out" | grep -q "stage (change $C1)" || fail "refusal does not name stage: $out"
it_log "right after the restart: refused, naming stage"

"$B/tutti" roll 1M1 --force --lead-ms 200 >/dev/null || fail "forced roll"
"$B/tutti" history --json --kind roll | jq -s -e --arg s stage 'last | .forced == true and
    (.not_acked == [$s]) and (.rooms_online == []) and (.rooms_expected | sort == ["london-strings", "stage"])' \
    >/dev/null || fail "roll record: $("$B/tutti" history --json --kind roll | tail -1)"
it_log "forced roll records rooms_expected [london-strings, stage] and not_acked [stage]"
"$B/tutti" stop >/dev/null || fail "stop"
"$B/tutti" arm 1M1 >/dev/null || fail "arm again"

# A room that comes back counts as online; once the window has passed,
# a room that stayed away no longer holds the gate.
it_start_agent london-strings strings
it_wait_for 10 online london-strings true || fail "strings did not come back"
sleep 2.5 # past the 2200 ms window
"$B/tutti" roll 1M1 --lead-ms 200 >/dev/null || fail "roll after the window with stage away"
"$B/tutti" history --json --kind roll | jq -s -e 'last | (.forced | not) and
    (.rooms_online == ["london-strings"]) and (.rooms_expected == [])' >/dev/null ||
    fail "second roll record: $("$B/tutti" history --json --kind roll | tail -1)"
it_log "after the window: stage (away) no longer holds the gate; london-strings online"
it_log "PASS"
