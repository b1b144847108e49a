#!/bin/bash
# Exactly-once writes (issue #12, point 7). (a) A write sent twice with one
# idempotency key is recorded once: both replies name the same seq, the
# second says duplicate; sent again later, and again after a kill -9 and
# restart of the coordinator, it is still that record and nothing is
# written. A key of another length is refused. (b) `tutti` through
# tutti-netsim, which resets the connection instead of relaying the first
# reply (or the first request): tutti retries once with the same key, says
# which happened, and the log holds the note exactly once.
. "$(dirname "$0")/lib.sh"
it_setup
it_start_coordinator
port=${EP##*:}

notes_with() { # notes_with TEXT: how many notes the log holds with this text
    "$B/tutti" history --json --kind note | jq -s --arg t "$1" '[.[] | select(.text == $t)] | length'
}

# --- (a) the coordinator. One key sent three times back to back: they
# meet in one commit group (the log shows the retries waiting for it; a
# busy machine may split them, so up to 5 tries), one record, every reply
# names it, the repeats as duplicates.
for try in 1 2 3 4 5; do
    out=$("$B/tutti-rawsend" --mode idem --count 3) || fail "rawsend idem: $out"
    key=$(echo "$out" | sed -n 's/^key //p')
    mapfile -t w < <(echo "$out" | grep '^write ')
    [ ${#w[@]} = 3 ] || fail "want three write replies, got: $out"
    seq=$(echo "${w[0]}" | awk '{print $2}')
    [ "${w[0]}" = "write $seq duplicate 0" ] || fail "first reply: ${w[0]}"
    [ "${w[1]}" = "write $seq duplicate 1" ] || fail "second reply (same key): ${w[1]}"
    [ "${w[2]}" = "write $seq duplicate 1" ] || fail "third reply (same key): ${w[2]}"
    n=$("$B/tutti" history --json --kind note | jq -s --arg k "$key" '[.[] | select(.idempotency_key == $k)] | length')
    [ "$n" = 1 ] || fail "$n records for one key"
    in_group=$(grep -c "not yet committed: it waits for the commit" "$IT_DIR/coordinator.log")
    [ "$in_group" -gt 0 ] && break
    it_log "try $try: the three requests did not meet in one commit group; again"
done
[ "$in_group" -gt 0 ] || fail "the repeats never met their original in one commit group"
it_log "one key three times in one group: record $seq once, the repeats answered after its commit"
base=$(notes_with "once only") # one per try, each key once

# The same key later (committed long since): the same record, nothing written.
"$B/tutti" note "in between" >/dev/null || fail "note in between"
out=$("$B/tutti-rawsend" --mode idem --key-hex "$key") || fail "rawsend again: $out"
echo "$out" | grep -qx "write $seq duplicate 1" || fail "retry after commit: $out"

# After kill -9 and a restart the fold has the key again.
kill -9 "$CPID"; wait "$CPID" 2>/dev/null
it_start_coordinator "tcp://127.0.0.1:$port"
out=$("$B/tutti-rawsend" --mode idem --key-hex "$key") || fail "rawsend after restart: $out"
echo "$out" | grep -qx "write $seq duplicate 1" || fail "retry after kill -9: $out"
[ "$(notes_with "once only")" = "$base" ] || fail "the retry after the restart wrote again"
it_log "the key still names record $seq after kill -9 and restart"

# Another length is refused; a fresh key writes.
for bad in 00112233445566778899aabbccddee 00112233445566778899aabbccddeeff00; do
    out=$("$B/tutti-rawsend" --mode idem --key-hex "$bad")
    echo "$out" | grep -q "^error 3 idempotency_key is" || fail "key of ${#bad}/2 bytes: $out"
done
out=$("$B/tutti-rawsend" --mode idem) || fail "fresh key: $out"
last=$("$B/tutti" status --json | jq -r .last_seq)
echo "$out" | grep -qx "write $last duplicate 0" || fail "fresh key: $out (head $last)"
[ "$(notes_with "once only")" = $((base + 1)) ] || fail "a fresh key did not write"
it_log "keys of 15 and 17 bytes refused; a fresh key writes"
