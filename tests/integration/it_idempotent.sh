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

# --- (b) the CLI through a link that loses one message. relay DIR NAME:
# a tutti-netsim to the coordinator cutting its first connection at the
# first data frame going DIR (down: the reply, up: the request); sets RELAY.
relay() {
    rm -f "$IT_DIR/$2.ready"
    it_spawn "$2" "$B/tutti-netsim" --listen tcp://127.0.0.1:0 --to "$EP" "--cut-$1" 1 \
        --ready-file "$IT_DIR/$2.ready"
    it_wait_for 10 test -s "$IT_DIR/$2.ready" || fail "$2 did not start"
    RELAY=$(head -1 "$IT_DIR/$2.ready")
}
cli_through() { # cli_through NAME TEXT: tutti note TEXT via RELAY; sets OUT, ERR, SEQ
    local t0=$(date +%s%N)
    "$B/tutti" --coordinator "$RELAY" --timeout-ms 5000 note "$2" >"$IT_DIR/$1.out" \
        2>"$IT_DIR/$1.err" || fail "tutti note via the relay failed: $(cat "$IT_DIR/$1.err")"
    OUT=$(cat "$IT_DIR/$1.out") ERR=$(cat "$IT_DIR/$1.err")
    SEQ=$(echo "$OUT" | sed -n 's/^note recorded as \([0-9]*\)$/\1/p')
    [ -n "$SEQ" ] || fail "tutti printed '$OUT'"
    it_log "tutti took $(( ($(date +%s%N) - t0) / 1000000 )) ms; stderr: $ERR"
}

relay down relay-reply
cli_through lost-reply "the reply to this was lost"
grep -q "cutting the server's data frame 1" "$IT_DIR/relay-reply.log" || fail "the relay cut nothing"
echo "$ERR" | grep -q "the first reply was lost (.*); the write had committed: seq $SEQ " ||
    fail "tutti did not say the first reply was lost: $ERR"
[ "$(notes_with "the reply to this was lost")" = 1 ] || fail "the note is not in the log once"
it_log "reply lost: tutti retried, the coordinator answered with record $SEQ, recorded once"

relay up relay-request
cli_through lost-request "this request was lost"
grep -q "cutting the client's data frame 1" "$IT_DIR/relay-request.log" || fail "the relay cut nothing"
echo "$ERR" | grep -q "the first attempt was not recorded (.*); written on retry: seq $SEQ" ||
    fail "tutti did not say the retry wrote it: $ERR"
[ "$(notes_with "this request was lost")" = 1 ] || fail "the note is not in the log once"
it_log "request lost: tutti's retry wrote record $SEQ, recorded once"

it_stop "$CPID"
v=$("$B/tutti" verify "$IT_DIR/coord" --json) || fail "verify: $v"
it_log "PASS"
