#!/bin/bash
# The dashboard's replica keeps snapshots of its fold (--snapshot-every) and
# starts from the newest: restarted over its store, it says so, shows the
# same state at the same head, and its event feed still resumes from a
# client's last id (it replays the last records of its store, not all).
. "$(dirname "$0")/lib.sh"
it_setup
it_start_coordinator
it_start_dash dash contractor --snapshot-every 10
DASH=$DURL
head_seq() { "$B/tutti" status --json | jq -r .last_seq; }
state() { curl -sf "$DASH/api/state"; }

for i in $(seq 1 25); do "$B/tutti" note "note $i" >/dev/null || fail "note $i"; done
head=$(head_seq)
it_wait_for 10 bash -c "[ \"\$(curl -sf $DASH/api/state | jq .seq)\" = $head ]" ||
    fail "the dashboard did not reach $head: $(state | jq .seq)"
before=$(state | jq -S 'del(.now_unix_ms, .clock)')
it_stop "$DPID"

it_start_dash dash2 contractor --data "$IT_DIR/dash-data" --snapshot-every 10
DASH=$DURL
grep -q "replica state from the snapshot at seq [1-9]" "$IT_DIR/dash2.log" ||
    fail "the dashboard did not start from a snapshot: $(grep -i replica "$IT_DIR/dash2.log")"
it_wait_for 10 bash -c "[ \"\$(curl -sf $DASH/api/state | jq .seq)\" = $head ]" ||
    fail "the restarted dashboard is not at $head: $(state | jq .seq)"
after=$(state | jq -S 'del(.now_unix_ms, .clock)')
echo "$before" > "$IT_DIR/before.json"; echo "$after" > "$IT_DIR/after.json"
[ "$before" = "$after" ] || fail "state differs after the restart:
$(diff "$IT_DIR/before.json" "$IT_DIR/after.json" | head -20)"
curl -s -N --max-time 2 -H "Last-Event-ID: $((head - 3))" "$DASH/events" > "$IT_DIR/events.txt"
ids=$(grep -A1 "^event: record" "$IT_DIR/events.txt" | sed -n 's/^id: //p' | tr '\n' ' ')
[ "$ids" = "$((head - 2)) $((head - 1)) $head " ] || fail "feed resumed with ids '$ids', want the last 3"
it_log "restarted from $(grep -o 'replica state from the snapshot at seq [0-9]*, then [0-9]* records' "$IT_DIR/dash2.log"); state equal at $head; feed resumed"
it_stop "$DPID"
"$B/tutti" verify "$IT_DIR/dash-data" > /dev/null || fail "the dashboard's replica does not verify"
it_log "PASS"
