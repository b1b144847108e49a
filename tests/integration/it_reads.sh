#!/bin/bash
# Reads see committed state only: hello, heartbeat, status and fetch sent
# between pipelined writes never report a seq before the reply of the
# write that made it (a write is answered only after its commit), so no
# read shows a record the store could still lose. The log then verifies.
. "$(dirname "$0")/lib.sh"
it_setup
it_start_coordinator
out=$("$B/tutti-rawsend" --coordinator "$EP" --server-key "$K/coordinator.pub" \
    --key "$K/conductor.key" --mode committed) || fail "a read ran ahead of the commit: $out"
it_log "$out"
kill -0 "$CPID" || fail "coordinator died"
head=$("$B/tutti" status --json | jq -r .last_seq)
[ "$head" -ge 961 ] || fail "writes missing: head $head"
it_stop "$CPID"
"$B/tutti" verify "$IT_DIR/coord" >/dev/null || fail "log does not verify"
it_log "PASS"
