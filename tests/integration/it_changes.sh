#!/bin/bash
# Score changes and acknowledgements: a change reaches every room; status
# shows who has and has not acked; roll is refused, naming the rooms, while
# an online room has not acked a change to that cue; --force overrides and
# the override is in the log; a room acks only for itself; a room that was
# offline sees the change on reconnect and counts as not acked until it acks.
. "$(dirname "$0")/lib.sh"
MAP=$(cd "$(dirname "$0")/../../deploy/tempo" && pwd)/example-1m1.tempo
it_setup
it_start_coordinator
it_start_agent stage stage; STAGE=$APID
it_start_agent london-strings strings; STRINGS=$APID
online() { "$B/tutti" status --json | jq -e ".rooms[] | select(.name==\"$1\") | .online == $2" >/dev/null; }
it_wait_for 10 online stage true || fail "stage offline"
it_wait_for 10 online london-strings true || fail "strings offline"
"$B/tutti" cue add 1M1 --title "Main Title" >/dev/null || fail "cue add"
"$B/tutti" tempo load 1M1 "$MAP" >/dev/null || fail "tempo load"

out=$("$B/tutti" change 1M1 --text "bars 12-16 horns tacet" --bars 12-16 --parts horns) ||
    fail "change: $out"
C1=$(echo "$out" | sed -n 's/change recorded as \([0-9]*\)/\1/p')
missing() { "$B/tutti" status --json | jq -c "[.open_changes[] | select(.id==$1) | .not_acked[]]"; }
[ "$(missing "$C1")" = '["stage","london-strings"]' ] || fail "not_acked $(missing "$C1")"
it_wait_for 5 grep -q "change $C1 to 1M1 bars 12-16" "$IT_DIR/agent-london-strings.log" ||
    fail "the change did not reach london-strings"

"$B/tutti" arm 1M1 >/dev/null || fail "arm"
out=$("$B/tutti" roll 1M1 2>&1) && fail "roll with unacked changes accepted"
echo "$out" | grep -q "stage (change $C1), london-strings (change $C1) have not acked" ||
    fail "roll refusal does not name the rooms: $out"

TUTTI_KEY=$K/stage.key "$B/tutti" ack "$C1" >/dev/null || fail "stage ack"
out=$(TUTTI_KEY=$K/stage.key "$B/tutti" ack "$C1" 2>&1) && fail "double ack accepted"
echo "$out" | grep -q "already acked" || fail "unclear: $out"
for who in conductor contractor lobby; do
    TUTTI_KEY=$K/$who.key "$B/tutti" ack "$C1" >/dev/null 2>&1; rc=$?
    [ $rc -eq 3 ] || fail "$who acked for a room (exit $rc)"
done
out=$(TUTTI_KEY=$K/stage.key "$B/tutti" change 1M1 --text x 2>&1); rc=$?
[ $rc -eq 3 ] || fail "a room recorded a change (exit $rc)"
[ "$(missing "$C1")" = '["london-strings"]' ] || fail "not_acked after stage: $(missing "$C1")"
out=$("$B/tutti" roll 1M1 2>&1) && fail "roll accepted with london-strings unacked"
echo "$out" | grep -q "london-strings (change $C1)" || fail "unclear: $out"
"$B/tutti" roll 1M1 --force --lead-ms 200 >/dev/null || fail "forced roll"
"$B/tutti" history --json --kind roll | jq -s -e 'any(.[]; .forced == true and
    .not_acked == ["london-strings"])' >/dev/null || fail "the override is not in the log"
grep -q "forced by conductor" "$IT_DIR/coordinator.log" || fail "override not logged"
"$B/tutti" takes --json | jq -s -e 'any(.[]; .take == 1 and .changes_acked == false and
    .not_acked == "london-strings" and .rooms_online == "stage+london-strings")' >/dev/null ||
    fail "take sheet does not show the forced take: $("$B/tutti" takes --json)"
"$B/tutti" stop >/dev/null || fail "stop"

# An offline room does not block a roll, sees the change on reconnect and
# stays not-acked until it acks.
kill -9 "$STRINGS"; wait "$STRINGS" 2>/dev/null
it_wait_for 6 online london-strings false || fail "strings still online"
out=$("$B/tutti" change 1M1 --text "bar 20: strings mute on") || fail "change 2"
C2=$(echo "$out" | sed -n 's/change recorded as \([0-9]*\)/\1/p')
TUTTI_KEY=$K/stage.key "$B/tutti" ack "$C2" >/dev/null || fail "stage ack 2"
"$B/tutti" arm 1M1 >/dev/null || fail "arm 2"
"$B/tutti" roll 1M1 --lead-ms 200 >/dev/null || fail "an offline room blocked the roll"
"$B/tutti" stop >/dev/null || fail "stop 2"
it_start_agent london-strings strings; STRINGS=$APID
it_wait_for 10 grep -q "change $C2 to 1M1" "$IT_DIR/agent-london-strings.log" ||
    fail "reconnected room did not see the change"
[ "$(missing "$C2")" = '["london-strings"]' ] || fail "not_acked on reconnect: $(missing "$C2")"
TUTTI_KEY=$K/strings.key "$B/tutti" ack "$C2" >/dev/null || fail "strings ack 2"
TUTTI_KEY=$K/strings.key "$B/tutti" ack "$C1" >/dev/null || fail "strings ack 1"
[ "$("$B/tutti" status --json | jq '.open_changes | length')" = 0 ] || fail "changes still open"
it_stop "$STAGE"
it_stop "$STRINGS"
"$B/tutti" verify "$IT_DIR/coord" >/dev/null || fail "verify"
it_log "PASS"
