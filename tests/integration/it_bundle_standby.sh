#!/bin/bash
# A session with a standby made by tutti init --standby and run from its
# files alone: both coordinators start from their configs with one shared
# access file (each finds its peer as the coordinator entry not its own),
# the bundles hold both endpoints and both server keys, a room agent and
# an operator's CLI use nothing but their bundles, the pair syncs, and
# after kill -9 of the primary the operator's next write moves to the
# standby, which takes over; the room follows and hears it. A bundle whose
# key count matches neither one nor its endpoints is refused, naming both.
. "$(dirname "$0")/lib.sh"
it_setup
S=$IT_DIR/sess
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PA=$(free_port); PB=$(free_port)
A=tcp://127.0.0.1:$PA; SB=tcp://127.0.0.1:$PB

"$B/tutti" init it-pair --dir "$S" --coordinator "$A,$SB" --standby "$SB" > /dev/null 2>&1 &&
    fail "init took --standby beside a list of coordinator endpoints"
"$B/tutti" init it-pair --dir "$S" --coordinator "$A" --standby "$SB" > "$IT_DIR/init.out" ||
    fail "init --standby: $(cat "$IT_DIR/init.out")"
for f in coordinator.key coordinator.ini standby.key standby.pub standby.ini session.ini access; do
    [ -f "$S/$f" ] || fail "init --standby made no $f"
done
[ "$(stat -c %a "$S/standby.key")" = 600 ] || fail "standby.key is not 0600"
[ "$(grep -c '^coordinator ' "$S/access")" = 2 ] || fail "access: $(cat "$S/access")"
grep -q "^coordinator = $A,$SB$" "$S/session.ini" || fail "session.ini: $(cat "$S/session.ini")"
grep -q "^standby-of = $A$" "$S/standby.ini" || fail "standby.ini: $(cat "$S/standby.ini")"
grep -q "^peer = $SB$" "$S/coordinator.ini" || fail "coordinator.ini has no peer"

"$B/tutti" invite stage --role room --session "$S" > /dev/null || fail "invite stage"
"$B/tutti" invite conductor --role operator --session "$S" > /dev/null || fail "invite conductor"
OP=$S/bundles/conductor.tutti
keys=$(sed -n 's/^server-public-key = //p' "$OP")
pubkey() { sed -n 's/^ *public-key = "\(.*\)"$/\1/p' "$1"; }
[ "$keys" = "$(pubkey "$S/coordinator.pub"),$(pubkey "$S/standby.pub")" ] ||
    fail "the bundle's server keys: $keys (want the primary's, then the standby's)"
"$B/tutti" invite eve --role observer --session "$S" --coordinator "$A" > /dev/null 2>&1 &&
    fail "invite with one endpoint in a session with a standby"

# A bundle with two keys for one endpoint is refused, naming both counts.
sed "s|^coordinator = .*|coordinator = $A|" "$OP" > "$IT_DIR/bad.tutti"
chmod 600 "$IT_DIR/bad.tutti"
out=$("$B/tutti" --bundle "$IT_DIR/bad.tutti" status 2>&1) && fail "a bundle with 2 keys for 1 endpoint was taken"
echo "$out" | grep -q "2 keys for 1 coordinator endpoints" || fail "bad bundle: $out"

it_spawn primary "$B/tutti-coordinator" --config "$S/coordinator.ini"
APID=$IT_LAST_PID
it_wait_for 10 "$B/tutti" --bundle "$OP" status || fail "the primary did not start from its config"
it_spawn standby "$B/tutti-coordinator" --config "$S/standby.ini"
state() { "$B/tutti" --bundle "$OP" status --json 2>/dev/null | jq -r '.standby.role + " " + .standby.state'; }
synced() { [ "$(state)" = "primary synced" ]; }
it_wait_for 20 synced ||
    fail "the pair never synced: $(state); $(tail -3 "$IT_DIR/standby.log")"

mkdir "$IT_DIR/room"
it_spawn agent-stage bash -c "cd '$IT_DIR/room' && exec '$B/tutti-agent' --bundle '$S/bundles/stage.tutti'"
AGENT=$IT_LAST_PID
online() { "$B/tutti" --bundle "$OP" status --json | jq -e '.rooms[] | select(.name == "stage" and .online)'; }
it_wait_for 15 online || fail "the room did not come online"
seq=$("$B/tutti" --bundle "$OP" note "before" | awk '{print $NF}') || fail "note before"
it_wait_for 10 grep -q "note $seq from conductor: before" "$IT_DIR/agent-stage.log" ||
    fail "the room did not hear note $seq"
[ "$("$B/tutti" verify "$S/data-standby" --json | jq -r .last_seq)" -ge "$seq" ] ||
    fail "note $seq acknowledged but not at the standby"
it_log "pair synced from init's files; room online from its bundle; note $seq at both"

kill -9 "$APID"; wait "$APID" 2>/dev/null
sleep 3   # the standby notices (two heartbeats)
t0=$(date +%s%N)
out=$("$B/tutti" --bundle "$OP" note "after the failover" 2>&1) || fail "no failover from the bundle: $out"
seq=$(echo "$out" | awk '{print $NF}')
it_log "the operator's bundle moved to the standby, which took over: note $seq in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
"$B/tutti" --bundle "$OP" history --json --kind standby | jq -e -s 'any(.[]; .state=="took_over")' \
    > /dev/null || fail "no took_over record"
it_wait_for 20 grep -q "note $seq from conductor: after the failover" "$IT_DIR/agent-stage.log" ||
    fail "the room did not follow to the standby: $(tail -5 "$IT_DIR/agent-stage.log")"
it_log "the room followed to the new primary and heard note $seq"
it_stop "$AGENT"
"$B/tutti" verify "$S/data-standby" > /dev/null || fail "the new primary's store does not verify"
"$B/tutti" verify "$S/data" > /dev/null || fail "the old primary's store does not verify"
it_log "PASS"
