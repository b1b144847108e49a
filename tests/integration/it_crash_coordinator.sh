#!/bin/bash
# Durability: kill -9 the coordinator right after `tutti note` returned
# success; after a restart on the same port the note is there, the chain
# verifies, and writes continue with the next sequence number.
. "$(dirname "$0")/lib.sh"
it_setup
it_start_coordinator
port=${EP##*:}

for i in 1 2 3; do
    out=$("$B/tutti" note "take $i was great") || fail "note $i"
    seq=$(echo "$out" | sed -n 's/note recorded as \([0-9]*\)/\1/p')
    kill -9 "$CPID"; wait "$CPID" 2>/dev/null
    it_start_coordinator "tcp://127.0.0.1:$port"
    got=$("$B/tutti" history --json --since $((seq - 1)) | jq -r 'select(.seq=='"$seq"') | .text')
    [ "$got" = "take $i was great" ] || fail "note $seq lost after kill -9 (got '$got')"
    it_log "note $seq survived kill -9"
done
"$B/tutti" note "after the crashes" >/dev/null || fail "note after restarts"
last=$("$B/tutti" status --json | jq -r .last_seq)
[ "$last" = 5 ] || fail "last_seq $last, want 5 (genesis + 4 notes)"
it_stop "$CPID"
v=$("$B/tutti" verify "$IT_DIR/coord" --json) || fail "verify: $v"
[ "$(echo "$v" | jq -r .records)" = 5 ] || fail "verify counted $(echo "$v" | jq -r .records)"
it_log "PASS"
