#!/bin/bash
# Holdover through a link outage: the agent reaches the coordinator only
# through tutti-netsim (2 ms +/- 0.5 ms each way); a 5 s outage takes the
# clock locked -> holdover -> locked, and the agent's session time never
# goes backwards (checked on its 10 ms trace).
. "$(dirname "$0")/lib.sh"
it_setup
it_start_coordinator
it_spawn netsim "$B/tutti-netsim" --listen tcp://127.0.0.1:0 --to "$EP" \
    --listen tcp://127.0.0.1:0 --to "$UPDATES_EP" --listen tcp://127.0.0.1:0 --to "$CLOCK_EP" \
    --delay 2 --jitter 0.5 --ready-file "$IT_DIR/netsim.ready"
NPID=$IT_LAST_PID
it_wait_for 10 test -s "$IT_DIR/netsim.ready" || fail "netsim did not start"
it_wait_for 5 bash -c "[ \$(wc -l < $IT_DIR/netsim.ready) -ge 3 ]" || fail "netsim ready file"
mapfile -t via < "$IT_DIR/netsim.ready"
it_spawn agent-stage "$B/tutti-agent" --room stage --key "$K/stage.key" \
    --data "$IT_DIR/agent-stage" --coordinator "${via[0]}" --updates "${via[1]}" \
    --clock "${via[2]}" --clock-offset-us -1000000 --clock-skew-ppm 100 \
    --clock-trace "$IT_DIR/trace"
APID=$IT_LAST_PID
log=$IT_DIR/agent-stage.log
it_wait_for 15 grep -q "clock: locked" "$log" || fail "never locked"
sleep 2
kill -USR1 "$NPID"      # link down
it_log "link down"
it_wait_for 8 grep -q "clock: holdover" "$log" || fail "no holdover during the outage"
sleep 3
kill -USR1 "$NPID"      # link up
it_log "link up"
it_wait_for 15 bash -c "grep 'clock: ' $log | grep -v 'using\|trim' | tail -1 | grep -q locked" ||
    fail "not locked again after the outage"
sleep 1
it_stop "$APID"
seq=$(grep -o "clock: [a-z]*" "$log" | grep -v "clock: using\|clock: trim" | awk '{print $2}' | uniq | tr '\n' ' ')
it_log "states: $seq"
echo "$seq" | grep -q "locked holdover locked" || fail "state sequence '$seq'"
# Never backwards: column 3 (session estimate) must not decrease.
awk '!/^#/ { if (NR > 2 && $3 < prev) { print "backwards at line " NR ": " prev " -> " $3; bad = 1 }
             prev = $3 } END { exit bad }' "$IT_DIR/trace" || fail "session time went backwards"
lines=$(grep -vc '^#' "$IT_DIR/trace")
[ "$lines" -gt 500 ] || fail "trace too short ($lines lines)"
it_log "PASS ($lines trace points, never backwards)"
