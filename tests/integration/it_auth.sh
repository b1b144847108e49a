#!/bin/bash
# CURVE + roles: an unknown key is refused at the handshake (CLI and agent
# exit non-zero within 5 s with an authentication error), requests outside
# a role are refused with a clear error, a SIGHUP reload admits and revokes
# keys, and none of it changes the log.
. "$(dirname "$0")/lib.sh"
it_setup
it_start_coordinator

"$B/tutti" note "first" >/dev/null || fail "operator note"
before=$("$B/tutti" history --json) || fail "history"
head_before=$("$B/tutti" status --json | jq -r .head_hash)

# Unknown key, CLI.
t0=$(date +%s%N)
out=$(TUTTI_KEY=$K/stranger.key "$B/tutti" status 2>&1); rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ $rc -ne 0 ] || fail "stranger status succeeded"
echo "$out" | grep -q "authentication error" || fail "no authentication error: $out"
[ $ms -lt 5000 ] || fail "refusal took $ms ms"
it_log "stranger CLI refused in $ms ms (exit $rc)"

# Unknown key, agent: exits 3 within 5 s.
t0=$(date +%s%N)
timeout 10 "$B/tutti-agent" --room stage --key "$K/stranger.key" --data "$IT_DIR/agent-x" \
    >"$IT_DIR/agent-stranger.log" 2>&1; rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ $rc -eq 3 ] || fail "stranger agent exit $rc, want 3"
[ $ms -lt 5000 ] || fail "agent refusal took $ms ms"
grep -q "refused this key" "$IT_DIR/agent-stranger.log" || fail "agent did not say why"
it_log "stranger agent refused in $ms ms"

# A room key used with another room's name is refused too.
timeout 10 "$B/tutti-agent" --room london-strings --key "$K/stage.key" \
    --data "$IT_DIR/agent-y" >"$IT_DIR/agent-wrongname.log" 2>&1; rc=$?
[ $rc -eq 3 ] || fail "agent with another room's key: exit $rc, want 3"

# Wrong role: observer, room and contractor may not write notes.
for who in lobby stage contractor; do
    out=$(TUTTI_KEY=$K/$who.key "$B/tutti" note "from $who" 2>&1); rc=$?
    [ $rc -eq 3 ] || fail "$who note: exit $rc, want 3 ($out)"
    echo "$out" | grep -q "may not send note" || fail "$who: unclear error: $out"
done
# ...but an observer may read.
TUTTI_KEY=$K/lobby.key "$B/tutti" status --json >/dev/null || fail "observer status"

after=$("$B/tutti" history --json) || fail "history after"
[ "$before" = "$after" ] || fail "refused requests changed the log"
[ "$head_before" = "$("$B/tutti" status --json | jq -r .head_hash)" ] || fail "head moved"
grep -q "refused unknown key" "$IT_DIR/coordinator.log" || fail "refusal not logged"
grep -q "refused request from lobby" "$IT_DIR/coordinator.log" || fail "role refusal not logged"

# SIGHUP: admit the stranger as an operator, then revoke the conductor.
echo "operator stranger $(it_pub stranger)" >> "$IT_DIR/access"
kill -HUP "$CPID"
it_wait_for 5 env TUTTI_KEY="$K/stranger.key" "$B/tutti" note "admitted" ||
    fail "stranger not admitted after SIGHUP"
grep -v conductor "$IT_DIR/access" > "$IT_DIR/access.new" && mv "$IT_DIR/access.new" "$IT_DIR/access"
kill -HUP "$CPID"
it_wait_for 5 bash -c "! TUTTI_KEY=$K/conductor.key $B/tutti --timeout-ms 2000 status" ||
    fail "conductor still admitted after revocation"
# A broken access file keeps the old table.
echo "wizard nobody xyz" >> "$IT_DIR/access"
kill -HUP "$CPID"
it_wait_for 5 grep -q "keeping the old access table" "$IT_DIR/coordinator.log" ||
    fail "broken access file not reported"
TUTTI_KEY=$K/stranger.key "$B/tutti" status >/dev/null || fail "old table lost"

it_stop "$CPID"
"$B/tutti" verify "$IT_DIR/coord" >/dev/null || fail "verify"
it_log "PASS"
