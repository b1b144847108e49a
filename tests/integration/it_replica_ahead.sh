#!/bin/bash
# A coordinator whose store is put back from an older copy is behind the
# rooms' replicas. The agent reports it in its heartbeats and `tutti status`
# flags it on the room's line and in --json (it used to be only in the
# agent's log). When the restored coordinator then writes, its log forks
# from the replica's (the same seqs, other records): the replica takes none
# of them, keeps its own, and status says it DIVERGED, also once the
# coordinator's head has passed the replica's. The dashboard's room card
# says the same. Putting the newer copy back
# clears the flag and the replica follows again.
. "$(dirname "$0")/lib.sh"
it_setup
it_start_coordinator
port=${EP##*:}
it_start_agent london-strings strings
STRINGS=$APID
it_start_dash dash contractor

room() { "$B/tutti" status --json | jq -c '.rooms[] | select(.name=="london-strings")'; }
conflict_is() { [ "$(room | jq -r '.conflict.kind // "none"')" = "$1" ]; }
caught_up() { [ "$(it_head_of "$IT_DIR/agent-london-strings")" = "$("$B/tutti" status --json | jq -r .head_hash)" ]; }
notes() { # notes FROM TO LABEL
    for i in $(seq "$1" "$2"); do "$B/tutti" note "$3 $i" >/dev/null || fail "note $3 $i"; done
}
restart_from() { # restart_from DIR: the coordinator on its port, its store a copy of DIR
    it_stop "$CPID"
    rm -rf "$IT_DIR/coord"
    cp -a "$1" "$IT_DIR/coord"
    it_start_coordinator "tcp://127.0.0.1:$port"
}

it_wait_for 10 bash -c "$(declare -f room); B=$B; room | jq -e .online" || fail "room never online"
notes 1 10 before
it_wait_for 10 caught_up || fail "replica did not follow"
it_stop "$CPID"
cp -a "$IT_DIR/coord" "$IT_DIR/coord-old" # the backup
old=$("$B/tutti" verify "$IT_DIR/coord-old" --json | jq -r .last_seq)
it_start_coordinator "tcp://127.0.0.1:$port"
notes 1 20 after
it_wait_for 10 caught_up || fail "replica did not follow after the restart"
ahead=$("$B/tutti" verify "$IT_DIR/agent-london-strings" --json | jq -r .last_seq)
ahead_head=$(it_head_of "$IT_DIR/agent-london-strings")
conflict_is none || fail "a conflict before any restore: $(room)"
it_stop "$CPID"
cp -a "$IT_DIR/coord" "$IT_DIR/coord-new"
rm -rf "$IT_DIR/coord"
cp -a "$IT_DIR/coord-old" "$IT_DIR/coord"
it_start_coordinator "tcp://127.0.0.1:$port"
it_log "coordinator restored to $old records; the replica holds $ahead"

# Behind: flagged in status.
it_wait_for 15 conflict_is ahead || fail "status does not flag the replica ahead: $(room)"
r=$(room)
[ "$(echo "$r" | jq -r .conflict.replica_seq)" = "$ahead" ] || fail "replica_seq in $r"
[ "$(echo "$r" | jq -r .conflict.coordinator_seq)" = "$old" ] || fail "coordinator_seq in $r"
line=$("$B/tutti" status | grep 'room london-strings')
echo "$line" | grep -q "REPLICA AHEAD of the coordinator (replica $ahead, coordinator $old" ||
    fail "status line: $line"
echo "$line" | grep -q "restored from a backup" || fail "status line: $line"
it_log "status: ${line#*REPLICA}"
dash_kind() { curl -sf "$DURL/api/state" | jq -r '.rooms[] | select(.name=="london-strings") | .conflict.kind'; }
it_wait_for 5 bash -c "$(declare -f dash_kind); DURL=$DURL; [ \"\$(dash_kind)\" = ahead ]" ||
    fail "the dashboard does not show it: $(curl -sf "$DURL/api/state" | jq -c .rooms)"
room_line=$("$B/tutti" status | grep 'room stage')
echo "$room_line" | grep -q REPLICA && fail "a room without an agent is flagged: $room_line"

# The restored coordinator writes: the same seqs now hold other records.
notes 1 $((ahead - old + 5)) fork
it_wait_for 15 conflict_is diverged || fail "status does not flag the fork: $(room)"
r=$(room)
cseq=$(echo "$r" | jq -r .conflict.conflict_seq)
[ "$cseq" -gt "$old" ] && [ "$cseq" -le "$ahead" ] || fail "conflict_seq $cseq not in ($old, $ahead]: $r"
coord_seq=$("$B/tutti" status --json | jq -r .last_seq)
[ "$coord_seq" -gt "$ahead" ] || fail "the coordinator ($coord_seq) did not pass the replica ($ahead)"
sleep 2 # heartbeats and fetches go on: nothing of the fork may be taken
[ "$(room | jq -r .last_seq)" = "$ahead" ] || fail "the replica moved: $(room)"
conflict_is diverged || fail "the flag went: $(room)"
"$B/tutti" status | grep 'room london-strings' | grep -q "REPLICA DIVERGED from the coordinator" ||
    fail "status line: $("$B/tutti" status | grep 'room london-strings')"
v=$("$B/tutti" verify "$IT_DIR/agent-london-strings" --json) || fail "replica does not verify: $v"
[ "$(echo "$v" | jq -r .last_seq)" = "$ahead" ] && [ "$(echo "$v" | jq -r .head_hash)" = "$ahead_head" ] ||
    fail "the replica changed: $v"
it_log "fork at $cseq: coordinator at $coord_seq, replica kept its $ahead records"

# The newer copy back: the logs agree, the flag clears, the replica follows.
restart_from "$IT_DIR/coord-new"
it_wait_for 15 conflict_is none || fail "the flag stays with the right store back: $(room)"
"$B/tutti" note "after the right store" >/dev/null || fail "note"
it_wait_for 10 caught_up || fail "replica does not follow the right store"

it_stop "$STRINGS"
it_log "PASS"
