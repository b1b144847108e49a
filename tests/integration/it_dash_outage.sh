#!/bin/bash
# A coordinator outage as the dashboard's page reads it (issue #14): within
# 3 s of a kill -9 the state, in /api/state and on the event stream, says
# the coordinator is unreachable since its last answer, and every room is
# "unknown" without the clock it last had; when the coordinator is back
# on the same port, so are the rooms.
. "$(dirname "$0")/lib.sh"
it_setup
it_start_coordinator
it_start_agent stage stage
it_start_agent london-strings strings
it_start_dash dash contractor
DASH=$DURL
state() { curl -sf "$DASH/api/state"; }
it_wait_for 10 bash -c "curl -sf $DASH/api/state | jq -e '.coordinator.online and ([.rooms[] | select(.reach == \"online\" and .clock.state != null)] | length == 2)'" ||
    fail "not online: $(state | jq -c '{coordinator, rooms}')"
state | jq -e '.coordinator.unreachable_since_unix_ms == 0' >/dev/null || fail "unreachable while online"

it_spawn events curl -s -N "$DASH/events"
EPID=$IT_LAST_PID
sleep 0.5
killed_ms=$(date +%s%3N)
kill -9 "$CPID"
gone='.coordinator_online == false and .coordinator.online == false and
    .coordinator.unreachable_since_unix_ms > 0 and (.rooms | length == 2) and
    all(.rooms[]; .reach == "unknown" and .online == false and .clock == null and .prelays == null)'
it_wait_for 3 bash -c "curl -sf $DASH/api/state | jq -e '$gone'" ||
    fail "3 s after the kill: $(state | jq -c '{coordinator_online, coordinator, rooms}')"
took=$(( $(date +%s%3N) - killed_ms ))
since=$(state | jq .coordinator.unreachable_since_unix_ms)
it_log "unreachable shown after $took ms; since $(( killed_ms - since )) ms before the kill"
[ $(( killed_ms - since )) -ge -100 ] && [ $(( killed_ms - since )) -le 2500 ] ||
    fail "unreachable since $since, killed at $killed_ms"

# The page reads the event stream: the same state is there.
it_wait_for 2 bash -c "grep '^data: ' $IT_DIR/events.log | sed 's/^data: //' | jq -e 'select(has(\"coordinator\")) | $gone' | grep -q true" ||
    fail "no unreachable state on the event stream: $(grep -c '^event: state' "$IT_DIR/events.log") states"
kill "$EPID"

# Back on the same port: online again.
it_start_coordinator "$EP"
it_wait_for 10 bash -c "curl -sf $DASH/api/state | jq -e '.coordinator.online and .coordinator.unreachable_since_unix_ms == 0 and ([.rooms[] | select(.reach == \"online\")] | length == 2)'" ||
    fail "not back: $(state | jq -c '{coordinator, rooms}')"
it_stop "$DPID"
it_log "PASS"
