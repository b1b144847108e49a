#!/bin/bash
# Replication: two room agents follow the log; the coordinator notices a
# killed agent within 3 s; kill -9 an agent, write 200 notes, restart it:
# within 5 s its replica's head equals the coordinator's, and tutti verify
# passes on both stores. Also: an agent notices the coordinator going away.
. "$(dirname "$0")/lib.sh"
it_setup
it_start_coordinator
it_start_agent stage stage; STAGE=$APID
it_start_agent london-strings strings; STRINGS=$APID

online() { "$B/tutti" status --json | jq -e ".rooms[] | select(.name==\"$1\") | .online == $2" >/dev/null; }
it_wait_for 10 online stage true || fail "stage never online"
it_wait_for 10 online london-strings true || fail "london-strings never online"
"$B/tutti" note "before the crash" >/dev/null || fail "note"

kill -9 "$STAGE"; wait "$STAGE" 2>/dev/null
t0=$(date +%s%N)
it_wait_for 6 bash -c "$(declare -f online); B=$B; online stage false" || fail "stage still online"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
it_log "coordinator saw stage go away after $ms ms"
[ $ms -le 3000 ] || fail "offline detection took $ms ms (> 3 s)"

for i in $(seq 1 200); do
    "$B/tutti" note "note $i while stage is down" >/dev/null || fail "note $i"
done
coord_head=$("$B/tutti" status --json | jq -r .head_hash)

it_start_agent stage stage; STAGE=$APID
t0=$(date +%s%N)
caught_up() { [ "$(it_head_of "$IT_DIR/agent-stage")" = "$coord_head" ]; }
it_wait_for 5 caught_up || fail "stage replica not caught up within 5 s"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
it_log "stage replica caught up 200 notes in $ms ms"
it_wait_for 5 bash -c "[ \"\$($B/tutti verify $IT_DIR/agent-london-strings --json | jq -r .head_hash)\" = $coord_head ]" ||
    fail "london-strings replica diverged"

# Live updates reach both replicas.
"$B/tutti" note "live one" >/dev/null
coord_head=$("$B/tutti" status --json | jq -r .head_hash)
it_wait_for 5 caught_up || fail "live update not replicated"

# The agent notices a dead coordinator (within ~3 s) and keeps its replica.
kill -9 "$CPID"; wait "$CPID" 2>/dev/null
it_wait_for 6 grep -q "coordinator silent" "$IT_DIR/agent-stage.log" ||
    fail "agent did not notice the coordinator going away"

it_stop "$STAGE"
it_stop "$STRINGS"
for d in coord agent-stage agent-london-strings; do
    v=$("$B/tutti" verify "$IT_DIR/$d" --json) || fail "verify $d: $v"
    [ "$(echo "$v" | jq -r .head_hash)" = "$coord_head" ] || fail "$d head differs"
    [ "$(echo "$v" | jq -r .last_seq)" = 203 ] || fail "$d last_seq $(echo "$v" | jq -r .last_seq)"
done
it_log "PASS"
