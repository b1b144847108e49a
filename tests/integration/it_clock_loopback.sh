#!/bin/bash
# Shared clock on loopback: an agent on an injected clock (offset 2.5 s)
# reaches `locked`, and the offset_us that `tutti status --json` shows is
# within 100 us of the injected truth. A trim shows up in the offset, and a
# coordinator restart is a new epoch the agent notices; serving the same
# session time, it keeps the agent's estimate.
. "$(dirname "$0")/lib.sh"
it_setup
it_start_coordinator
port=${EP##*:}
it_spawn agent-stage "$B/tutti-agent" --room stage --key "$K/stage.key" \
    --data "$IT_DIR/agent-stage" --clock-offset-us 2500000
clock() { "$B/tutti" status --json | jq -r ".rooms[] | select(.name==\"stage\") | .clock.$1"; }
locked() { [ "$(clock state)" = locked ]; }
it_wait_for 10 locked || fail "stage never locked (state $(clock state))"

# Truth: session = mono, local = mono + 2.5 s, so offset = session - local = -2500000 us.
off=$(clock offset_us); bound=$(clock error_bound_us)
err=$(jq -n "($off) + 2500000 | fabs")
it_log "locked: offset_us $off (error $err us, bound $bound us)"
jq -e -n "$err <= 100" >/dev/null || fail "offset $off is $err us from the truth"
jq -e -n "$bound >= $err" >/dev/null || fail "error bound $bound does not cover $err"

"$B/tutti" trim stage 40 >/dev/null || fail "trim"
it_wait_for 5 bash -c "[ \"\$($B/tutti status --json | jq -r '.rooms[0].clock.trim_us')\" = 40 ]" ||
    fail "trim not applied"
off=$(clock offset_us)
jq -e -n "(($off) + 2500000 - 40 | fabs) <= 100" >/dev/null || fail "trimmed offset $off"
"$B/tutti" history --json | jq -s -e 'any(.[]; .kind=="trim" and .room=="stage" and .trim_us==40)' \
    >/dev/null || fail "trim not in the history"
out=$("$B/tutti" trim nowhere 10 2>&1) && fail "trim for an unknown room accepted"
echo "$out" | grep -q "not a room" || fail "unclear error: $out"

# Restart: new epoch on the new clock port. Session time is the machine's
# monotonic clock, so the new coordinator serves the same time: the agent
# keeps its estimate (as after a failover to a standby that serves the
# session time through its own) instead of re-acquiring.
kill -9 "$CPID"; wait "$CPID" 2>/dev/null
it_start_coordinator "tcp://127.0.0.1:$port"
it_wait_for 15 grep -q "clock: coordinator restarted (new epoch)" "$IT_DIR/agent-stage.log" ||
    fail "agent's clock did not notice the new epoch"
grep -q "serving the same session time .*estimate kept" "$IT_DIR/agent-stage.log" ||
    fail "the agent did not keep its estimate across the restart: $(grep 'new epoch' "$IT_DIR/agent-stage.log")"
! grep -q "re-acquiring" "$IT_DIR/agent-stage.log" || fail "the agent re-acquired after the restart"
it_wait_for 15 locked || fail "no re-lock after restart"
it_log "PASS"
