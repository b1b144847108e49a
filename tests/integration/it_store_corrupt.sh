#!/bin/bash
# A damaged store is reported, not a bus error (hardening). The fault
# campaign made LMDB pages point past the end of data.mdb: `tutti verify`,
# the agent and the coordinator died with SIGBUS. Now each says "store
# structure corrupt after seq N" and exits 3. Four kinds of damage
# (tests/tools/lmdb_corrupt.py): a leaf slot past the file, a value running
# past it, an overflow page number past it, and a truncated file.
. "$(dirname "$0")/lib.sh"
it_setup
it_start_coordinator
it_start_agent stage stage
for i in $(seq 1 12); do "$B/tutti" note "note $i" >/dev/null || fail "note $i"; done
"$B/tutti" note "$(head -c 3500 /dev/zero | tr '\0' x)" >/dev/null || fail "big note"
"$B/tutti" note "last" >/dev/null || fail "last note"
head=$("$B/tutti" status --json | jq -r .last_seq)
it_wait_for 10 bash -c "grep -q 'replica at $head\|caught up' '$IT_DIR/agent-stage.log' ||
    [ \"\$('$B/tutti' verify '$IT_DIR/agent-stage' --json 2>/dev/null | jq -r .last_seq)\" = $head ]" ||
    fail "the agent's replica did not reach $head"
kill -9 "$CPID" "$APID"
wait "$CPID" "$APID" 2>/dev/null

corrupt() { # corrupt SRC MODE -> a damaged copy in $IT_DIR/MODE-SRC; prints the damaged seq
    rm -rf "$IT_DIR/$2-$1"
    cp -r "$IT_DIR/$1" "$IT_DIR/$2-$1"
    python3 "$(dirname "$0")/../tools/lmdb_corrupt.py" "$IT_DIR/$2-$1/data.mdb" "$2" || fail "could not damage $1 ($2)"
}
expect_corrupt() { # expect_corrupt WHAT RC OUTPUT
    [ "$2" = 3 ] || fail "$1: exit $2, want 3 (135 is a bus error): $(echo "$3" | tail -2)"
    echo "$3" | grep -q "store structure corrupt" || fail "$1: no clear message: $(echo "$3" | tail -2)"
}

for mode in leaf-slot leaf-size overflow truncate; do
    seq=$(corrupt coord $mode)
    out=$("$B/tutti" verify "$IT_DIR/$mode-coord" 2>&1); rc=$?
    expect_corrupt "verify ($mode)" $rc "$out"
    after=$(echo "$out" | sed -n 's/.*store structure corrupt after seq \([0-9]*\).*/\1/p')
    [ -n "$after" ] && [ "$after" -lt "$seq" ] ||
        fail "verify ($mode, record $seq damaged) names no place before it: $out"
    it_log "$mode: verify exits 3: $(echo "$out" | grep -o 'store structure corrupt after seq [0-9]*')"
done

# The coordinator refuses to serve a damaged log.
corrupt coord leaf-slot >/dev/null
out=$(timeout 20 "$B/tutti-coordinator" --data "$IT_DIR/leaf-slot-coord" --key "$K/coordinator.key" \
    --access "$IT_DIR/access" --bind "tcp://127.0.0.1:*" 2>&1); rc=$?
expect_corrupt "coordinator" $rc "$out"
it_log "coordinator on a damaged store exits 3"

# The agent refuses to run on a damaged replica.
corrupt agent-stage truncate >/dev/null
out=$(timeout 20 "$B/tutti-agent" --room stage --key "$K/stage.key" \
    --data "$IT_DIR/truncate-agent-stage" 2>&1); rc=$?
expect_corrupt "agent" $rc "$out"
it_log "agent on a damaged replica exits 3"
it_log "PASS"
