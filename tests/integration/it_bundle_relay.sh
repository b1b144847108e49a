#!/bin/bash
# A site participant from a bundle that names the site's relay (tutti
# invite --relay EP --relay-key FILE.pub): the room agent, an operator's CLI
# and an observer's dashboard given nothing but their bundles go through the
# relay (the bundles' coordinator endpoint is a port nobody listens on, so
# whatever reaches the coordinator passed the relay); the room comes online
# and hears a note the operator wrote through the relay as itself. A bundle
# with a relay but no relay key, and an invite with --relay alone, are
# refused.
. "$(dirname "$0")/lib.sh"
it_setup
S=$IT_DIR/sess
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
CP=$(free_port)
"$B/tutti" init it-site --dir "$S" --coordinator "tcp://127.0.0.1:$CP" > /dev/null || fail "init"
"$B/tutti" keygen site-relay --dir "$S" > /dev/null || fail "keygen relay"
"$B/tutti" access add relay site-relay --pub "$S/site-relay.pub" --session "$S" > /dev/null ||
    fail "access add relay"
it_spawn coordinator "$B/tutti-coordinator" --config "$S/coordinator.ini"
CPID=$IT_LAST_PID
for _ in 1 2 3 4 5 6 7 8; do
    RPORT=$(( 20000 + (RANDOM % 2000) * 3 ))
    it_spawn relay "$B/tutti-relay" --coordinator "tcp://127.0.0.1:$CP" \
        --server-key "$S/coordinator.pub" --key "$S/site-relay.key" --access "$S/access" \
        --bind "tcp://127.0.0.1:$RPORT"
    RPID=$IT_LAST_PID
    it_wait_for 5 grep -q "upstream hello answered" "$IT_DIR/relay.log" && break
    kill -9 "$RPID" 2>/dev/null; wait "$RPID" 2>/dev/null; RPID=
done
[ -n "$RPID" ] || fail "the relay did not start"
RELAY=tcp://127.0.0.1:$RPORT
NOWHERE=tcp://127.0.0.1:1

"$B/tutti" invite stage --role room --session "$S" --relay "$RELAY" > /dev/null 2>&1 &&
    fail "invite took --relay without --relay-key"
for x in stage:room conductor:operator eve:observer; do
    "$B/tutti" invite "${x%%:*}" --role "${x#*:}" --session "$S" --coordinator "$NOWHERE" \
        --relay "$RELAY" --relay-key "$S/site-relay.pub" > "$IT_DIR/invite-${x%%:*}.out" ||
        fail "invite ${x%%:*}: $(cat "$IT_DIR/invite-${x%%:*}.out")"
done
grep -q "through the relay $RELAY" "$IT_DIR/invite-stage.out" || fail "invite: $(cat "$IT_DIR/invite-stage.out")"
grep -q "^relay = $RELAY$" "$S/bundles/stage.tutti" || fail "no relay in the bundle"
grep -q "^relay-public-key = " "$S/bundles/stage.tutti" || fail "no relay key in the bundle"

# The new participants' access lines: the coordinator and the relay reread
# the file on SIGHUP.
kill -HUP "$CPID" "$RPID"
it_wait_for 10 grep -q "access file reloaded" "$IT_DIR/relay.log" || fail "the relay did not reload"
it_wait_for 10 grep -q "access file reloaded" "$IT_DIR/coordinator.log" ||
    fail "the coordinator did not reload"

# A bundle naming a relay without its key is refused, saying so.
grep -v "^relay-public-key" "$S/bundles/stage.tutti" > "$IT_DIR/nokey.tutti"
chmod 600 "$IT_DIR/nokey.tutti"
out=$("$B/tutti" --bundle "$IT_DIR/nokey.tutti" status 2>&1) && fail "a relay without its key was taken"
echo "$out" | grep -q "without relay-public-key" || fail "no relay key: $out"

OP=$S/bundles/conductor.tutti
out=$("$B/tutti" --bundle "$OP" note "through the site relay" 2>&1) ||
    fail "the operator's note through the bundle's relay: $out"
seq=$(echo "$out" | awk '{print $NF}')
"$B/tutti" --bundle "$OP" history --json --since $((seq - 1)) | head -1 |
    jq -e '.actor == "conductor" and .role == "operator"' > /dev/null || fail "note $seq not the conductor's"
mkdir "$IT_DIR/room"
it_spawn agent-stage bash -c "cd '$IT_DIR/room' && exec '$B/tutti-agent' --bundle '$S/bundles/stage.tutti'"
AGENT=$IT_LAST_PID
online() { "$B/tutti" --bundle "$OP" status --json | jq -e '.rooms[] | select(.name == "stage" and .online)'; }
it_wait_for 15 online || fail "the room did not come online through the relay: $(tail -5 "$IT_DIR/agent-stage.log")"
it_wait_for 10 grep -q "note $seq from conductor: through the site relay" "$IT_DIR/agent-stage.log" ||
    fail "the room did not hear note $seq"
grep -q "clock: locked" "$IT_DIR/agent-stage.log" ||
    it_wait_for 10 grep -q "clock: locked" "$IT_DIR/agent-stage.log" || fail "the room's clock did not lock through the relay"
it_spawn dash bash -c "cd '$IT_DIR/room' && exec '$B/tutti-dash' --bundle '$S/bundles/eve.tutti' \
    --http 127.0.0.1:0 --http-port-file '$IT_DIR/dash.port'"
DASHPID=$IT_LAST_PID
it_wait_for 15 grep -q "connected to $NOWHERE as eve (observer)" "$IT_DIR/dash.log" ||
    fail "the dashboard's hello did not pass the relay: $(tail -3 "$IT_DIR/dash.log")"
passed=$("$B/tutti" relay-status --relay "$RELAY" --relay-key "$S/site-relay.pub" --bundle "$OP" --json |
    jq .requests_passed)
[ "$passed" -gt 3 ] || fail "the relay passed only $passed requests"
it_log "room, operator and dashboard from bundles naming the relay: all through it ($passed requests passed)"
it_stop "$DASHPID"
it_stop "$AGENT"
it_stop "$CPID"
"$B/tutti" verify "$S/data" > /dev/null || fail "verify"
it_log "PASS"
