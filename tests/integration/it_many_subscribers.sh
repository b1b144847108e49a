#!/bin/bash
# Hundreds of observers subscribe at once and every update reaches each of
# them. 300 CURVE SUB sockets (each its own observer key in the access file,
# so each handshake passes the coordinator's ZAP handler) connect in one
# burst, as dashboards do when a coordinator comes back; then 20 notes are
# written and every subscriber must hold all 20, in a gap-free run. The
# request and updates ports listen with a backlog that takes such a burst:
# with libzmq's default of 100 the kernel dropped most of the connections
# (ListenOverflows) and each came back only after a SYN retry, seconds later.
. "$(dirname "$0")/lib.sh"
it_setup
command -v ss >/dev/null || { it_log "SKIP: no ss (iproute2)"; exit 77; }
N=300
NOTES=20

"$B/tutti-subs" --make-keys "$IT_DIR/subs" --count $N >>"$IT_DIR/access" || fail "making $N keys"
[ "$(grep -c '^observer s' "$IT_DIR/access")" -eq $N ] || fail "access file lacks the observers"
it_start_coordinator
it_end_last "$CPID"

# The listen backlog, as the kernel holds it (Send-Q of a LISTEN socket),
# capped by net.core.somaxconn.
backlog() { ss -Hltn "sport = :${1##*:}" | awk '{print $3}' | head -1; }
max=$(cat /proc/sys/net/core/somaxconn)
want=$(( max < 1024 ? max : 1024 ))
for ep in "$EP" "$UPDATES_EP"; do
    b=$(backlog "$ep")
    it_log "listen backlog on $ep: $b (somaxconn $max)"
    [ -n "$b" ] && [ "$b" -ge "$want" ] || fail "listen backlog on $ep is '$b', not $want"
done

it_spawn subs "$B/tutti-subs" --updates "$UPDATES_EP" --server-key "$K/coordinator.pub" \
    --keys "$IT_DIR/subs" --count $N --expect $NOTES --timeout-s 50
SPID=$IT_LAST_PID
it_wait_for 40 grep -q '^ready' "$IT_DIR/subs.log" || fail "not every subscriber heard the coordinator"
it_log "subscribers: $(grep '^ready' "$IT_DIR/subs.log")"
for i in $(seq $NOTES); do
    "$B/tutti" note "note $i to $N observers" >/dev/null || fail "note $i"
done
rc=0
wait "$SPID" || rc=$?
cat "$IT_DIR/subs.log"
[ $rc -eq 0 ] || fail "tutti-subs exited $rc"
grep -q "^all $N subscribers got all $NOTES updates" "$IT_DIR/subs.log" || fail "updates missing"
! grep -q "not published" "$IT_DIR/coordinator.log" || fail "the coordinator dropped updates"
"$B/tutti" status >/dev/null || fail "status after the fan-out"
it_log "PASS"
