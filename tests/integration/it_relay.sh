#!/bin/bash
# Site relay (tutti-relay): a coordinator, a relay, two agents and the CLI
# behind it. An operator's write through the relay is recorded under the
# operator's name and role; a room's roll through it is refused (role);
# the relay's own key can write nothing, directly or as a sealed caller; a
# relay that alters one byte of a sealed request gets it refused, one that
# replays it gets the replay refused; the
# agents' heartbeats, acks and presence pass through; the relay answers an
# unsealed status request about itself; kill -9 of the relay and a
# restart: the agents catch up on what was written meanwhile; every
# replica verifies with the coordinator's head.
. "$(dirname "$0")/lib.sh"
it_setup
# A bad --coordinator list is refused at once, not dropped for the default.
out=$("$B/tutti-relay" --coordinator "tcp://127.0.0.1:1,,tcp://127.0.0.1:2" --server-key x --key y 2>&1)
rc=$?
[ $rc = 2 ] && echo "$out" | grep -q "item 2 .* is empty" ||
    fail "a bad --coordinator list: exit $rc, $out"
for n in site-relay bad-relay; do
    "$B/tutti" keygen "$n" --dir "$K" >/dev/null || fail "keygen $n"
done
echo "relay      site-relay     $(it_pub site-relay)" >> "$IT_DIR/access"
echo "relay      bad-relay      $(it_pub bad-relay)" >> "$IT_DIR/access"
it_start_coordinator
# The WAN between the site and the coordinator: every coordinator port
# behind tutti-netsim on 127.0.0.2 (the same port numbers, so the ports
# the coordinator names in its hello hold there too), 5 ms +/- 1 ms.
port_of() { echo "${1##*:}"; }
ns=()
for e in "$EP" "$UPDATES_EP" "$CLOCK_EP"; do
    ns+=(--listen "tcp://127.0.0.2:$(port_of "$e")" --to "$e")
done
it_spawn netsim "$B/tutti-netsim" "${ns[@]}" --delay 5 --jitter 1 --ready-file "$IT_DIR/netsim.ready"
it_end_last "$IT_LAST_PID"
it_wait_for 10 bash -c "[ \$(wc -l < $IT_DIR/netsim.ready 2>/dev/null || echo 0) -ge 3 ]" ||
    fail "netsim did not start"
WAN=tcp://127.0.0.2:$(port_of "$EP")

# it_start_relay NAME KEY [flags...]: a relay on a free port P (updates on
# P + 1, clock on P + 2); sets RPORT, RELAY and RPID.
it_start_relay() {
    local name=$1 key=$2; shift 2
    for _ in 1 2 3 4 5 6 7 8; do
        RPORT=$(( 20000 + (RANDOM % 2000) * 3 ))
        it_spawn "$name" "$B/tutti-relay" --coordinator "$WAN" --key "$K/$key.key" \
            --access "$IT_DIR/access" --bind "tcp://127.0.0.1:$RPORT" "$@"
        RPID=$IT_LAST_PID
        if it_wait_for 5 grep -q "upstream hello answered" "$IT_DIR/$name.log"; then
            RELAY=tcp://127.0.0.1:$RPORT
            return 0
        fi
        kill -9 "$RPID" 2>/dev/null; wait "$RPID" 2>/dev/null
        echo "(retrying on another port)" >> "$IT_DIR/$name.log"
    done
    fail "$name did not start"
}
it_start_relay relay site-relay; RELAY_PID=$RPID; GOOD=$RELAY; GOOD_PORT=$RPORT
via=(--relay "$GOOD" --relay-key "$K/site-relay.pub")

# An operator's write through the relay: recorded as the operator's.
out=$("$B/tutti" "${via[@]}" note "through the relay" 2>&1) || fail "note via relay: $out"
seq=$(echo "$out" | grep -o '[0-9]*$')
rec=$("$B/tutti" history --json --since $((seq - 1)) | head -1)
[ "$(echo "$rec" | jq -r .actor)" = conductor ] || fail "actor: $rec"
[ "$(echo "$rec" | jq -r .role)" = operator ] || fail "role: $rec"
grep -q "note" <<<"$(echo "$rec" | jq -r .kind)" || fail "kind: $rec"
it_log "note $seq through the relay recorded as conductor (operator)"
# a read through the relay is the coordinator's own answer
[ "$("$B/tutti" "${via[@]}" status --json | jq -r .head_hash)" = \
  "$("$B/tutti" status --json | jq -r .head_hash)" ] || fail "status via relay"

# A room's roll through the relay: refused for its role, exit 3.
out=$(TUTTI_KEY=$K/stage.key "$B/tutti" "${via[@]}" roll 1M1 2>&1); rc=$?
[ $rc -eq 3 ] || fail "room roll via relay: exit $rc: $out"
echo "$out" | grep -q "role room may not" || fail "room roll refusal: $out"

# The relay's own key writes nothing: not directly, not as a sealed caller.
out=$(TUTTI_KEY=$K/site-relay.key "$B/tutti" note "by the relay" 2>&1); rc=$?
[ $rc -eq 3 ] || fail "relay key note direct: exit $rc: $out"
echo "$out" | grep -q "role relay may not" || fail "relay key refusal: $out"
out=$(TUTTI_KEY=$K/site-relay.key "$B/tutti" "${via[@]}" note "by the relay" 2>&1); rc=$?
[ $rc -eq 3 ] || fail "relay key note sealed: exit $rc: $out"
# and it may not pass a sealed request it made itself for an operator's key:
# without the operator's secret key the box does not open (see the altered relay)

# A stranger's key is refused at the relay's handshake.
out=$(TUTTI_KEY=$K/stranger.key "$B/tutti" "${via[@]}" --timeout-ms 1500 note x 2>&1); rc=$?
[ $rc -eq 3 ] || fail "stranger via relay: exit $rc: $out"

# A relay that alters one byte of each sealed request: refused, nothing written.
it_start_relay bad-relay bad-relay --test-alter-sealed; BAD_PID=$RPID
head_before=$("$B/tutti" status --json | jq -r .head_hash)
out=$("$B/tutti" --relay "$RELAY" --relay-key "$K/bad-relay.pub" note "altered" 2>&1); rc=$?
[ $rc -eq 3 ] || fail "altered request: exit $rc: $out"
echo "$out" | grep -q "altered on the way" || fail "altered refusal: $out"
[ "$("$B/tutti" status --json | jq -r .head_hash)" = "$head_before" ] || fail "an altered write was recorded"
grep -q "refused a sealed request from relay bad-relay for conductor" "$IT_DIR/coordinator.log" ||
    fail "coordinator log does not name the relay and the caller"
it_end "$BAD_PID"
it_log "altered sealed request refused"

# A relay that sends each sealed request twice: the first is written, the
# replay refused.
it_start_relay replay-relay bad-relay --test-replay-sealed; BAD_PID=$RPID
out=$("$B/tutti" --relay "$RELAY" --relay-key "$K/bad-relay.pub" note "once only" 2>&1) ||
    fail "note through the replaying relay: $out"
it_wait_for 5 grep -q "seen before: a replay" "$IT_DIR/coordinator.log" || fail "replay not refused"
n=$("$B/tutti" history --json --kind note | jq -r .text | grep -c "^once only$")
[ "$n" = 1 ] || fail "the replayed note is recorded $n times"
it_end "$BAD_PID"
it_log "replayed sealed request refused"

# Two agents behind the relay: online through their heartbeats. Their
# --coordinator is a port nobody listens on, so whatever reaches the
# coordinator went through the relay (the display's acks too).
for room in stage:stage london-strings:strings; do
    it_spawn "agent-${room%%:*}" "$B/tutti-agent" --room "${room%%:*}" --key "$K/${room##*:}.key" \
        --data "$IT_DIR/agent-${room%%:*}" "${via[@]}" --coordinator tcp://127.0.0.1:1 \
        --http 127.0.0.1:0 --http-port-file "$IT_DIR/${room%%:*}.port"
done
# The contractor's dashboard behind the relay too (its replica, status and actions).
it_start_dash dash contractor "${via[@]}" --coordinator tcp://127.0.0.1:1
it_wait_for 10 grep -q "connected to tcp://127.0.0.1:1 as contractor" "$IT_DIR/dash.log" ||
    fail "the dashboard's hello did not pass the relay"
# A button pressed on it: the action passes the relay, sealed, and is
# recorded as the contractor's (its --coordinator is unreachable).
DCSRF=$(curl -sf "$DURL/api/session" | jq -r .csrf)
code=$(curl -s -o "$IT_DIR/call.out" -w '%{http_code}' -X POST -H "X-CSRF-Token: $DCSRF" \
    -d '{"action":"start","rules":"mu-london"}' "$DURL/api/call")
[ "$code" = 200 ] || fail "the dashboard's call start through the relay: $code $(cat "$IT_DIR/call.out")"
"$B/tutti" history --json --kind call |
    jq -s -e 'any(.[]; .action == "start" and .rules == "mu-london" and .actor == "contractor" and .role == "contractor")' \
    > /dev/null || fail "the dashboard's call start is not in the log as the contractor's"
it_log "a dashboard button through the relay: call start recorded as the contractor's"
online() { "$B/tutti" status --json | jq -e ".rooms[] | select(.name==\"$1\") | .online == $2" >/dev/null; }
it_wait_for 15 online stage true || fail "stage never online through the relay"
it_wait_for 15 online london-strings true || fail "london-strings never online through the relay"

# Acks and presence through the relay, each as the room itself.
"$B/tutti" cue add 1M1 >/dev/null || fail "cue add"
out=$("$B/tutti" "${via[@]}" change 1M1 --text "horns tacet" 2>&1) || fail "change: $out"
C1=$(echo "$out" | sed -n 's/change recorded as \([0-9]*\)/\1/p')
TUTTI_KEY=$K/stage.key "$B/tutti" "${via[@]}" ack "$C1" >/dev/null || fail "stage ack via relay"
# london-strings acks from its display page: the agent passes it through the relay too
it_wait_for 10 test -s "$IT_DIR/london-strings.port" || fail "no display port"
URL=http://127.0.0.1:$(cat "$IT_DIR/london-strings.port")
csrf=$(curl -s "$URL/api/session" | jq -r .csrf)
code=$(curl -s -o "$IT_DIR/ack.out" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -H "X-CSRF-Token: $csrf" -d "{\"change\":$C1}" "$URL/api/ack")
[ "$code" = 200 ] || fail "display ack: $code $(cat "$IT_DIR/ack.out")"
grep -q "display: change $C1 acknowledged" "$IT_DIR/agent-london-strings.log" ||
    fail "the display's ack not logged"
TUTTI_KEY=$K/strings.key "$B/tutti" "${via[@]}" presence london-strings --in "Ann Lee" >/dev/null ||
    fail "presence via relay"
"$B/tutti" history --json --kind ack | jq -s -e 'any(.[]; .actor=="stage" and .role=="room")' >/dev/null ||
    fail "ack not recorded as stage"
"$B/tutti" history --json --kind ack | jq -s -e 'any(.[]; .actor=="london-strings" and .role=="room")' >/dev/null ||
    fail "the display's ack not recorded as london-strings"
"$B/tutti" history --json --kind presence | jq -s -e 'any(.[]; .actor=="london-strings")' >/dev/null ||
    fail "presence not recorded as london-strings"

# The relay's own status, asked unsealed.
st=$("$B/tutti" "${via[@]}" relay-status --json) ||
    fail "relay-status: $st"
echo "$st" | jq -e '.upstream_connected == true and .subscribers >= 2 and .name == "site-relay"' \
    >/dev/null || fail "relay status: $st"
it_log "relay status: $st"

# The site's clock: the relay serves it through its own estimate and
# states that estimate's bound; each room's reported bound includes it.
relay_clock() { "$B/tutti" "${via[@]}" relay-status --json | jq -e '.clock_state == "locked" and .clock_error_ns > 0' >/dev/null; }
it_wait_for 20 relay_clock || fail "the relay's clock never locked: $("$B/tutti" "${via[@]}" relay-status --json)"
# Over the 5 ms link the relay's bound is milliseconds and a room's own
# estimate across the LAN a hundred microseconds or two: a room's bound at
# or above most of the relay's is the relay's included.
rooms_include_relay() {
    rb=$("$B/tutti" "${via[@]}" relay-status --json | jq -r .clock_error_ns)
    "$B/tutti" status --json | jq -e --argjson rb "$rb" \
        '[.rooms[] | select(.clock.state == "locked" and .clock.error_bound_us * 1000 >= 0.8 * $rb)] | length == 2' >/dev/null
}
it_wait_for 20 rooms_include_relay ||
    fail "room bounds without the relay's ($rb ns): $("$B/tutti" status --json | jq -c '[.rooms[].clock]')"
it_log "clock: relay bound $rb ns; rooms $("$B/tutti" status --json | jq -c '[.rooms[] | {name, us: .clock.error_bound_us}]')"

# kill -9 of the relay; writes meanwhile go straight to the coordinator.
kill -9 "$RELAY_PID"; wait "$RELAY_PID" 2>/dev/null
for i in $(seq 1 30); do "$B/tutti" note "while the relay is down $i" >/dev/null || fail "note $i"; done
coord_head=$("$B/tutti" status --json | jq -r .head_hash)
it_spawn relay-2 "$B/tutti-relay" --coordinator "$WAN" --key "$K/site-relay.key" \
    --access "$IT_DIR/access" --bind "tcp://127.0.0.1:$GOOD_PORT"
RELAY_PID=$IT_LAST_PID
t0=$(date +%s%N)
caught_up() { [ "$(it_head_of "$IT_DIR/agent-$1")" = "$coord_head" ]; }
it_wait_for 20 caught_up stage || fail "stage did not catch up after the relay's restart"
it_wait_for 20 caught_up london-strings || fail "london-strings did not catch up"
it_log "agents caught up after the relay's restart in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
"$B/tutti" "${via[@]}" note "after the restart" >/dev/null || fail "note after the relay's restart"
coord_head=$("$B/tutti" status --json | jq -r .head_hash)
it_wait_for 10 caught_up stage || fail "live update through the restarted relay"

for d in coord agent-stage agent-london-strings dash-data; do
    it_wait_for 10 bash -c "[ \"\$($B/tutti verify $IT_DIR/$d --json | jq -r .head_hash)\" = $coord_head ]" ||
        fail "verify $d"
done
it_log "PASS"
