#!/bin/bash
# Revocation means revoked: two clients hold a room agent's three
# connections (requests, updates, clock), one key is removed from the
# access file and SIGHUP sent. From then on the kept one goes on getting
# updates, pongs and status replies; the revoked one gets no update
# written after the reload, no pong (an authentication error instead) and
# an authentication error for each request.
. "$(dirname "$0")/lib.sh"
it_setup
it_start_coordinator

it_spawn peer-kept "$B/tutti-peer" --key "$K/stage.key" --seconds 60
KEPT=$IT_DIR/peer-kept.log
it_spawn peer-revoked "$B/tutti-peer" --key "$K/strings.key" --seconds 60
REVOKED=$IT_DIR/peer-revoked.log
for f in "$KEPT" "$REVOKED"; do
    it_wait_for 10 grep -q '^pong' "$f" || fail "$(basename "$f"): no pong before the revocation"
    it_wait_for 10 grep -q '^status' "$f" || fail "$(basename "$f"): no status before"
done
# Both hear a write before the revocation (their SUBs are connected).
for _ in $(seq 20); do
    seq=$("$B/tutti" note "before" | awk '{print $NF}') || fail "note before"
    it_wait_for 1 grep -qx "update $seq" "$KEPT" && it_wait_for 1 grep -qx "update $seq" "$REVOKED" &&
        break
done
grep -qx "update $seq" "$REVOKED" || fail "the peers never heard a write before the revocation"
it_log "both peers hear update $seq"

grep -v london-strings "$IT_DIR/access" > "$IT_DIR/access.new" && mv "$IT_DIR/access.new" "$IT_DIR/access"
kill -HUP "$CPID"
it_wait_for 5 grep -q '^error .*no longer in the access file' "$REVOKED" ||
    fail "the reload did not take effect for requests"
sleep 1 # the clock and upload threads take the new table over their pipes
mark=$(wc -l < "$REVOKED")
kept_mark=$(wc -l < "$KEPT")

# The kept subscriber reconnects (it may miss a write meanwhile: agents
# fetch such gaps); wait until it hears one, then write three more.
for _ in $(seq 20); do
    first=$("$B/tutti" note "after" | awk '{print $NF}') || fail "note after"
    it_wait_for 1 grep -qx "update $first" "$KEPT" && break
done
grep -qx "update $first" "$KEPT" || fail "the kept peer hears no write after the revocation"
for i in 1 2 3; do
    last=$("$B/tutti" note "after $i" | awk '{print $NF}') || fail "note after $i"
done
it_wait_for 5 grep -qx "update $last" "$KEPT" || fail "the kept peer missed update $last"
sleep 1.5

after=$(tail -n +$((mark + 1)) "$REVOKED")
kept_after=$(tail -n +$((kept_mark + 1)) "$KEPT")
echo "$kept_after" | grep -q '^pong' || fail "the kept peer gets no pong after the revocation"
echo "$kept_after" | grep -q '^status' || fail "the kept peer gets no status after the revocation"
got=$(echo "$after" | awk -v f="$first" '$1 == "update" && $2 >= f' | head -3)
[ -z "$got" ] || fail "the revoked peer still hears writes made after the revocation: $got"
! echo "$after" | grep -q '^pong' || fail "the revoked peer still gets pongs: $(echo "$after" | grep -c '^pong')"
echo "$after" | grep -q '^clock-error .*no longer in the access file' ||
    fail "the revoked peer's pings are not refused: $(echo "$after" | head -5)"
echo "$after" | grep -q '^error .*no longer in the access file' ||
    fail "the revoked peer's requests are not refused"
! echo "$after" | grep -q '^status' || fail "the revoked peer still gets status replies"
it_log "revoked peer: $(echo "$after" | grep -c '^clock-error') pings and" \
    "$(echo "$after" | grep -c '^error') requests refused, no update from $first on;" \
    "kept peer heard $first..$last"

grep -q "1 revoked (london-strings)" "$IT_DIR/coordinator.log" ||
    fail "the reload did not report the revoked key"
grep -q "updates: listening on port .* again" "$IT_DIR/coordinator.log" ||
    fail "the updates port was not bound again"
# The refused reconnections of the revoked subscriber do not flood the log.
refusals=$(grep -cF "refused unknown key $(it_pub strings)" "$IT_DIR/coordinator.log")
[ "$refusals" -le 5 ] || fail "$refusals log lines for one revoked key's retries"

it_stop "$CPID"
"$B/tutti" verify "$IT_DIR/coord" >/dev/null || fail "verify"
it_log "PASS"
