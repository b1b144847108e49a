#!/bin/bash
# Presence: a room agent reports who is in the room from --players (and
# corrects it on the next connect), the contractor checks players in and
# out; every change is a record; a room reports only for itself, an
# observer not at all, and a contractor changes nothing about cues.
. "$(dirname "$0")/lib.sh"
it_setup
it_start_coordinator
printf 'alice   # concertmaster\nbob\n\n' > "$IT_DIR/players"
it_spawn agent-stage "$B/tutti-agent" --room stage --key "$K/stage.key" \
    --data "$IT_DIR/agent-stage" --players "$IT_DIR/players"
STAGE=$IT_LAST_PID
players() { "$B/tutti" status --json | jq -c "[.rooms[] | select(.name==\"$1\") | .players[]] | sort"; }
it_wait_for 10 bash -c "[ \"\$($(declare -f players); B=$B players stage)\" = '[\"alice\",\"bob\"]' ]" ||
    fail "stage players: $(players stage)"

TUTTI_KEY=$K/contractor.key "$B/tutti" presence london-strings --in carol --in dave >/dev/null ||
    fail "contractor check-in"
[ "$(players london-strings)" = '["carol","dave"]' ] || fail "strings players: $(players london-strings)"
TUTTI_KEY=$K/contractor.key "$B/tutti" presence london-strings --out carol >/dev/null ||
    fail "contractor check-out"
[ "$(players london-strings)" = '["dave"]' ] || fail "after check-out: $(players london-strings)"

out=$(TUTTI_KEY=$K/stage.key "$B/tutti" presence london-strings --in eve 2>&1); rc=$?
[ $rc -eq 3 ] || fail "stage reported for london-strings (exit $rc: $out)"
echo "$out" | grep -q "only for itself" || fail "unclear: $out"
TUTTI_KEY=$K/lobby.key "$B/tutti" presence stage --in eve >/dev/null 2>&1; rc=$?
[ $rc -eq 3 ] || fail "observer recorded presence (exit $rc)"
out=$(TUTTI_KEY=$K/contractor.key "$B/tutti" presence nowhere --in eve 2>&1) && fail "unknown room"
echo "$out" | grep -q "not a room" || fail "unclear: $out"
for cmd in "cue add 9X9" "arm 1M1" "change 1M1 --text x" "note hello"; do
    TUTTI_KEY=$K/contractor.key "$B/tutti" $cmd >/dev/null 2>&1; rc=$?
    [ $rc -eq 3 ] || fail "contractor could: $cmd (exit $rc)"
done

# The agent corrects the log to its list on its next connect.
it_stop "$STAGE"
printf 'alice\n' > "$IT_DIR/players"
it_spawn agent-stage "$B/tutti-agent" --room stage --key "$K/stage.key" \
    --data "$IT_DIR/agent-stage" --players "$IT_DIR/players"
STAGE=$IT_LAST_PID
it_wait_for 10 bash -c "[ \"\$($(declare -f players); B=$B players stage)\" = '[\"alice\"]' ]" ||
    fail "bob not checked out: $(players stage)"
n=$("$B/tutti" history --json --kind presence | wc -l)
[ "$n" = 4 ] || fail "$n presence records, want 4"
"$B/tutti" history --json --room stage --kind presence | jq -s -e 'any(.[]; .out == ["bob"])' \
    >/dev/null || fail "check-out of bob not in the history"
it_stop "$STAGE"
it_log "PASS"
