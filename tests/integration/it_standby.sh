#!/bin/bash
# Standby coordinator (README "Standby coordinator"): a primary and a
# standby on loopback. Writes are acknowledged only once the standby holds
# them; the standby answers clients ERROR_STANDBY while the primary is
# there; kill -9 of the primary, then a client request to the standby makes
# it take over (a took_over record signed with its own key, the open take
# closed interrupted, numbering continued); both stores verify; the old
# primary restarted with its own command line rejoins as the standby. A
# standby that never reached its primary stays standby when asked.
. "$(dirname "$0")/lib.sh"
it_setup
"$B/tutti" keygen standby --dir "$K" >/dev/null || fail "keygen standby"
cp "$IT_DIR/access" "$IT_DIR/access-b"
echo "coordinator standby $(it_pub standby)" >> "$IT_DIR/access"
echo "coordinator primary $(it_pub coordinator)" >> "$IT_DIR/access-b"
MAP=$(cd "$(dirname "$0")/../../deploy/tempo" && pwd)/example-1m1.tempo
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PA=$(free_port); PB=$(free_port)
A=tcp://127.0.0.1:$PA; BEP=tcp://127.0.0.1:$PB

start_a() {   # the primary's one command line, also for its restart
    it_spawn "primary$1" "$B/tutti-coordinator" --data "$IT_DIR/a" --key "$K/coordinator.key" \
        --access "$IT_DIR/access" --bind "$A" --peer "$BEP" --session it-standby
    APID=$IT_LAST_PID
}
ta() { TUTTI_COORDINATOR=$A TUTTI_SERVER_KEY=$K/coordinator.pub "$B/tutti" "$@"; }
tb() { TUTTI_COORDINATOR=$BEP TUTTI_SERVER_KEY=$K/standby.pub "$B/tutti" "$@"; }
sb_state() { "$1" status --json 2>/dev/null | jq -r '.standby.role + " " + .standby.state'; }
wait_state() {   # wait_state SECONDS ta|tb "ROLE STATE"
    local end=$(( $(date +%s) + $1 ))
    while [ "$(date +%s)" -lt $end ]; do
        [ "$(sb_state "$2")" = "$3" ] && return 0
        sleep 0.2
    done
    return 1
}

start_a 1
it_wait_for 10 ta status || fail "primary did not start"
it_spawn standby "$B/tutti-coordinator" --data "$IT_DIR/b" --key "$K/standby.key" \
    --access "$IT_DIR/access-b" --bind "$BEP" --standby-of "$A"
BPID=$IT_LAST_PID
wait_state 15 ta "primary synced" ||
    fail "primary never synced with its standby: $(sb_state ta)"
[ "$(sb_state tb)" = "standby synced" ] || fail "standby says: $(sb_state tb)"
ta history --json --kind signer | jq -e 'select(.name=="standby")' >/dev/null ||
    fail "no signer record naming the standby"
it_log "synced: $(ta status --json | jq -c .standby)"

# Synchronous shipping: each acknowledged write is in the standby's store.
for i in 1 2 3; do
    seq=$(ta note "shipped $i" | sed -n 's/note recorded as \([0-9]*\)/\1/p')
    [ -n "$seq" ] || fail "note $i"
    got=$("$B/tutti" verify "$IT_DIR/b" --json | jq -r .last_seq)
    [ "$got" -ge "$seq" ] || fail "note $seq acknowledged but the standby holds only $got"
done
it_log "3 notes acknowledged, each already in the standby's store"
out=$(tb note "to the standby" 2>&1) && fail "the standby took a write while its primary serves"
echo "$out" | grep -qi "standby" || fail "unclear refusal from the standby: $out"

# The standby frozen: the next write waits at most the ack timeout, then
# the primary records that it runs alone and acknowledges; thawed and
# caught up, a synced record makes writes wait again.
kill -STOP "$BPID"
t0=$(date +%s%N)
seq=$(ta note "while the standby is frozen" | sed -n 's/note recorded as \([0-9]*\)/\1/p')
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ -n "$seq" ] || fail "no write acknowledged with the standby frozen"
ta history --json --kind standby | jq -e -s 'any(.[]; .state=="alone")' >/dev/null ||
    fail "no alone record"
[ "$(sb_state ta)" = "primary alone" ] || fail "the primary says $(sb_state ta)"
kill -CONT "$BPID"
wait_state 20 ta "primary synced" || fail "not synced again after the thaw: $(sb_state ta)"
it_log "standby frozen: the write took $ms ms, the primary ran alone; synced again after the thaw"

# The primary restarted beside its standby (no takeover: nobody asked the
# standby) takes back what the standby holds beyond its head and serves;
# the pair syncs again.
kill -9 "$APID"; wait "$APID" 2>/dev/null
start_a 1b
wait_state 20 ta "primary synced" || fail "the restarted primary did not sync again: $(sb_state ta)"
[ "$(sb_state tb)" = "standby synced" ] || fail "the standby after the primary's restart: $(sb_state tb)"
seq=$(ta note "after the restart" | sed -n 's/note recorded as \([0-9]*\)/\1/p')
[ "$("$B/tutti" verify "$IT_DIR/b" --json | jq -r .last_seq)" -ge "$seq" ] ||
    fail "note $seq after the primary's restart is not at the standby"
it_log "the primary restarted beside its standby and synced again (note at $seq)"

# A take open when the primary dies.
ta cue add 1M1 >/dev/null || fail "cue add"
ta tempo load 1M1 "$MAP" >/dev/null || fail "tempo load"
ta arm 1M1 >/dev/null || fail "arm"
ta roll 1M1 --lead-ms 300 >/dev/null || fail "roll"
head=$(ta status --json | jq -r .last_seq)
kill -9 "$APID"; wait "$APID" 2>/dev/null
it_log "primary killed at seq $head"
sleep 3   # the standby notices (two heartbeats)
[ "$(sb_state tb)" = "standby alone" ] || fail "standby after the kill: $(sb_state tb)"
t0=$(date +%s%N)
out=$(tb note "after the failover") || fail "the standby did not take over: $out"
seq=$(echo "$out" | sed -n 's/note recorded as \([0-9]*\)/\1/p')
it_log "took over in $(( ($(date +%s%N) - t0) / 1000000 )) ms; note at $seq"
tb history --json --since "$head" > "$IT_DIR/after.json"
jq -e -s --argjson h "$head" 'map(select(.kind=="standby" and .state=="took_over" and .seq==$h+1)) | length==1' \
    "$IT_DIR/after.json" >/dev/null || fail "no took_over record at $((head + 1)): $(cat "$IT_DIR/after.json")"
jq -e -s 'any(.[]; .kind=="take-interrupted" and .take==1)' "$IT_DIR/after.json" >/dev/null ||
    fail "the open take was not closed interrupted"
[ "$seq" = $((head + 3)) ] || fail "numbering: note at $seq, want $((head + 3))"
[ "$(sb_state tb)" = "primary alone" ] || fail "the new primary says: $(sb_state tb)"
# Clock continuity: the new primary serves session time through its
# estimate of the old primary's clock, and says so (a non-zero own bound).
grep -q "following the primary's clock" "$IT_DIR/standby.log" || fail "the standby never followed the clock"
TUTTI_COORDINATOR=$BEP TUTTI_SERVER_KEY=$K/standby.pub "$B/tutti-peer" --seconds 2 \
    > "$IT_DIR/peer.out" 2>&1 || fail "tutti-peer at the new primary: $(cat "$IT_DIR/peer.out")"
bound=$(grep -m1 '^pong ' "$IT_DIR/peer.out" | cut -d' ' -f2)
[ -n "$bound" ] && [ "$bound" -gt 0 ] ||
    fail "the new primary's clock states no bound of its own: $(head -5 "$IT_DIR/peer.out")"
it_log "the new primary serves the old one's session time, its own bound ${bound} ns"
"$B/tutti" verify "$IT_DIR/b" >/dev/null || fail "the new primary's store does not verify"
"$B/tutti" verify "$IT_DIR/a" >/dev/null || fail "the old primary's store does not verify"
cp -r "$IT_DIR/a" "$IT_DIR/fork"   # for the diverged rejoin below

# The old primary, restarted with the same command line, rejoins as standby.
start_a 2
wait_state 20 tb "primary synced" ||
    fail "the old primary did not rejoin: $(sb_state tb); $(tail -5 "$IT_DIR/primary2.log")"
[ "$(sb_state ta)" = "standby synced" ] || fail "the old primary says: $(sb_state ta)"
seq=$(tb note "with the old primary as standby" | sed -n 's/note recorded as \([0-9]*\)/\1/p')
[ "$("$B/tutti" verify "$IT_DIR/a" --json | jq -r .last_seq)" -ge "$seq" ] ||
    fail "note $seq not at the rejoined standby"
"$B/tutti" verify "$IT_DIR/a" >/dev/null || fail "the rejoined store does not verify"
[ "$(it_head_of "$IT_DIR/a")" = "$(it_head_of "$IT_DIR/b")" ] || fail "heads differ after rejoin"
it_log "the old primary rejoined as standby; heads equal at $seq"

# A log that diverged (a copy of the old primary's, written to on its
# own) is refused loudly when it tries to rejoin: exit 4, the seq named.
PF=$(free_port)
it_spawn fork1 "$B/tutti-coordinator" --data "$IT_DIR/fork" --key "$K/coordinator.key" \
    --access "$IT_DIR/access" --bind "tcp://127.0.0.1:$PF"
FPID=$IT_LAST_PID
tf() { TUTTI_COORDINATOR=tcp://127.0.0.1:$PF TUTTI_SERVER_KEY=$K/coordinator.pub "$B/tutti" "$@"; }
it_wait_for 10 tf status || fail "the fork did not start"
tf note "written on the fork" >/dev/null || fail "note on the fork"
it_stop "$FPID"
"$B/tutti-coordinator" --data "$IT_DIR/fork" --key "$K/coordinator.key" --access "$IT_DIR/access" \
    --bind "tcp://127.0.0.1:$PF" --peer "$BEP" > "$IT_DIR/fork2.log" 2>&1 &
FPID=$!
IT_PIDS+=("$FPID")
rc=0
for _ in $(seq 150); do kill -0 "$FPID" 2>/dev/null || break; sleep 0.1; done
wait "$FPID" || rc=$?
[ $rc -eq 4 ] || fail "a diverged log rejoined (exit $rc): $(tail -3 "$IT_DIR/fork2.log")"
grep -q "differs from the serving peer" "$IT_DIR/fork2.log" ||
    fail "unclear refusal: $(tail -3 "$IT_DIR/fork2.log")"
it_log "a diverged log is refused: $(grep -o 'differs from[^:]*' "$IT_DIR/fork2.log" | head -1)"

# A standby that cannot reach its primary stays standby when asked.
PC=$(free_port)
it_spawn lonely "$B/tutti-coordinator" --data "$IT_DIR/c" --key "$K/standby.key" \
    --access "$IT_DIR/access-b" --bind "tcp://127.0.0.1:$PC" --standby-of "tcp://127.0.0.1:$(free_port)"
it_wait_for 10 env TUTTI_COORDINATOR=tcp://127.0.0.1:$PC TUTTI_SERVER_KEY=$K/standby.pub \
    "$B/tutti" status || fail "lonely standby did not start"
sleep 3
out=$(TUTTI_COORDINATOR=tcp://127.0.0.1:$PC TUTTI_SERVER_KEY=$K/standby.pub "$B/tutti" note hi 2>&1) &&
    fail "a standby that never reached its primary took a write"
st=$(TUTTI_COORDINATOR=tcp://127.0.0.1:$PC TUTTI_SERVER_KEY=$K/standby.pub "$B/tutti" status --json |
    jq -r .standby.role)
[ "$st" = standby ] || fail "the lonely standby is $st"
it_log "PASS"
