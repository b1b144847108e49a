#!/bin/bash
# One program per --data directory (hardening): a second coordinator (or
# agent) on a directory in use is refused, naming the holder's pid; the
# lock goes with the holder, kill -9 included; and a coordinator never
# makes its signing key in a directory that holds an agent's replica.
. "$(dirname "$0")/lib.sh"
it_setup
it_start_coordinator
"$B/tutti" note "first" >/dev/null || fail "note"

second() { # second coordinator on the same --data; prints its output
    timeout 20 "$B/tutti-coordinator" --data "$IT_DIR/coord" --key "$K/coordinator.key" \
        --access "$IT_DIR/access" --bind "tcp://127.0.0.1:*" --endpoint-file "$IT_DIR/endpoint2" 2>&1
}
out=$(second); rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "a second coordinator on the same --data ran (exit $rc)"
echo "$out" | grep -q "in use by another process (pid $CPID)" ||
    fail "refusal does not name the holder $CPID: $out"
it_log "second coordinator refused: $(echo "$out" | grep -o 'in use by another process (pid [0-9]*)')"

kill -9 "$CPID"; wait "$CPID" 2>/dev/null
it_spawn coordinator2 "$B/tutti-coordinator" --data "$IT_DIR/coord" --key "$K/coordinator.key" \
    --access "$IT_DIR/access" --bind "tcp://127.0.0.1:*" --endpoint-file "$IT_DIR/endpoint3"
C2=$IT_LAST_PID
it_wait_for 10 test -s "$IT_DIR/endpoint3" || fail "the lock outlived a kill -9 of its holder"
export TUTTI_COORDINATOR=$(head -1 "$IT_DIR/endpoint3")
"$B/tutti" note "after the restart" >/dev/null || fail "note after restart"
it_log "after kill -9 the lock was free again"

# Two agents on one replica directory: the second is refused.
it_start_agent stage stage
A1=$APID
it_wait_for 10 test -f "$IT_DIR/agent-stage/tutti.lock" || fail "agent did not open its replica"
sleep 0.5
out=$(timeout 20 "$B/tutti-agent" --room stage --key "$K/stage.key" --data "$IT_DIR/agent-stage" 2>&1)
rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "a second agent on the same --data ran (exit $rc)"
echo "$out" | grep -q "in use by another process (pid $A1)" || fail "agent refusal: $out"
it_stop "$A1"
it_log "second agent refused"

# A coordinator pointed at the replica: refused, no signing key made there.
out=$(timeout 20 "$B/tutti-coordinator" --data "$IT_DIR/agent-stage" --key "$K/coordinator.key" \
    --access "$IT_DIR/access" --bind "tcp://127.0.0.1:*" 2>&1); rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "a coordinator ran on an agent's replica (exit $rc)"
echo "$out" | grep -q "holds a room agent's replica" || fail "unclear refusal: $out"
[ ! -e "$IT_DIR/agent-stage/signing.key" ] || fail "a signing key was written into the replica"
"$B/tutti" verify "$IT_DIR/agent-stage" >/dev/null || fail "the replica no longer verifies"
it_stop "$C2"
it_log "PASS"
