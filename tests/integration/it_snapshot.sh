#!/bin/bash
# Restart from a snapshot of the fold: a coordinator over a few thousand
# records (written by tutti-loggen) starts from its newest snapshot, keeps
# the idempotency keys, and serves the same status, takes and refusals as
# one that folds the whole log; a snapshot with a flipped byte is logged
# and passed over (the older one, then the whole fold) with the same
# state, and `tutti verify` names it; kill -9 while every commit writes a
# snapshot leaves only whole ones; a room agent's replica restarts from its
# own snapshot.
. "$(dirname "$0")/lib.sh"
it_setup

# start_coord NAME DATA [ARGS...]: a coordinator on a free port; sets
# PID_<NAME> and EP_<NAME>. Its log is NAME.log (appended across restarts).
start_coord() {
    local name=$1 data=$2; shift 2
    rm -f "$IT_DIR/$name.ep"
    it_spawn "$name" "$B/tutti-coordinator" --data "$data" --key "$K/coordinator.key" \
        --access "$IT_DIR/access" --bind "tcp://127.0.0.1:*" --endpoint-file "$IT_DIR/$name.ep" "$@"
    printf -v "PID_$name" %s "$IT_LAST_PID"
    it_wait_for 20 test -s "$IT_DIR/$name.ep" || fail "$name did not start"
    printf -v "EP_$name" %s "$(head -1 "$IT_DIR/$name.ep")"
}
# as NAME cmd...: runs a client command against coordinator NAME.
as() { local ep="EP_$1"; shift; TUTTI_COORDINATOR=${!ep} "$@"; }
# status NAME: its status, without what differs from run to run.
status() {
    as "$1" "$B/tutti" status --json | jq -cS 'del(.epoch, .session_ns) | .rooms |= map(del(.last_seen_ms_ago))'
}
# since NAME TEXT: the lines of NAME.log after the last start, matching TEXT.
since_start() { awk '/file descriptors: soft limit/ { n = NR } { l[NR] = $0 } END { for (i = n; i <= NR; i++) print l[i] }' "$IT_DIR/$1.log"; }
stop_coord() { local pid="PID_$1"; it_stop "${!pid}"; }

gen=$("$B/tutti-loggen" --data "$IT_DIR/snap" --records 2999 --period 60 --snapshot-every 500) ||
    fail "tutti-loggen: $gen"
it_log "generated: $gen"

# 1. From the generator's newest snapshot; a keyed write makes record 3000,
# whose commit stores a snapshot (every 1000, the default) holding its key.
start_coord A "$IT_DIR/snap"
since_start A | grep -q "state from the snapshot at seq 2560, then 439 records" ||
    fail "no start from the snapshot at 2560: $(since_start A | grep state)"
KEY=00112233445566778899aabbccddeeff
out=$(as A "$B/tutti-rawsend" --mode idem --key-hex $KEY) || fail "rawsend: $out"
echo "$out" | grep -q "write 3000 duplicate 0" || fail "first keyed write: $out"
stop_coord A
cp -r "$IT_DIR/snap" "$IT_DIR/full"

# 2. The same store started twice: from the snapshot at 3000, and with
# --snapshot-every 0 (the whole fold). Same key table, same status.
start_coord A "$IT_DIR/snap"
since_start A | grep -q "state from the snapshot at seq 3000, then 0 records" ||
    fail "no start from the snapshot at 3000: $(since_start A | grep state)"
start_coord F "$IT_DIR/full" --snapshot-every 0
since_start F | grep -q "state folded from all 3000 records" || fail "F did not fold the log"
for c in A F; do
    out=$(as $c "$B/tutti-rawsend" --mode idem --key-hex $KEY) || fail "rawsend $c: $out"
    echo "$out" | grep -q "write 3000 duplicate 1" || fail "$c forgot the key of record 3000: $out"
done
sa=$(status A); sf=$(status F)
[ "$sa" = "$sf" ] || fail "status from the snapshot differs from the whole fold:
$sa
$sf"
[ "$(echo "$sa" | jq -r .last_seq)" = 3000 ] || fail "status: $sa"
[ "$(echo "$sa" | jq '.open_changes | length')" -gt 0 ] || fail "no open changes in $sa"
it_log "status from the snapshot = status from the whole fold: $(echo "$sa" | jq -c .transport)"

# The same writes against both: the rules see the same takes and refusals.
cue=$(echo "$sa" | jq -r .transport.cue)
for c in A F; do
    as $c "$B/tutti" arm "$cue" >/dev/null || fail "arm $cue on $c"
    as $c "$B/tutti" roll "$cue" --force >"$IT_DIR/roll.$c" 2>&1 || fail "roll on $c: $(cat "$IT_DIR/roll.$c")"
    as $c "$B/tutti" stop >/dev/null || fail "stop on $c"
    as $c "$B/tutti" take rate "$cue" 1 circled >/dev/null 2>&1 || fail "rate take 1 on $c"
    as $c "$B/tutti" take rate "$cue" 9999 ng >"$IT_DIR/refuse.$c" 2>&1 && fail "take 9999 exists on $c"
done
sa=$(status A); sf=$(status F)
# The records differ in their times, so their hashes do; the rest is the same.
[ "$(echo "$sa" | jq -c 'del(.head_hash)')" = "$(echo "$sf" | jq -c 'del(.head_hash)')" ] ||
    fail "after the same writes:
$sa
$sf"
sf=$sa # A's log is the one damaged below
diff <(sed 's/[0-9:.]*$//' "$IT_DIR/roll.A") <(sed 's/[0-9:.]*$//' "$IT_DIR/roll.F") >/dev/null ||
    fail "roll differs: $(cat "$IT_DIR/roll.A") / $(cat "$IT_DIR/roll.F")"
cmp -s "$IT_DIR/refuse.A" "$IT_DIR/refuse.F" || fail "refusals differ"
take=$(echo "$sa" | jq -r .transport.take)
it_log "both rolled take $take of $cue; head $(echo "$sa" | jq -r .head_hash | cut -c1-16)"
stop_coord A
stop_coord F
v=$("$B/tutti" verify "$IT_DIR/snap" --json) || fail "verify: $v"
[ "$(echo "$v" | jq -r '[.snapshots[].verdict] | join(",")')" = "equal,equal" ] ||
    fail "verify snapshots: $v"

# 3. A flipped byte in the newest snapshot: logged, the older one used,
# same state; tutti verify names it. Both flipped: the whole fold.
flipped=$("$B/tutti-loggen" --data "$IT_DIR/snap" --damage-snapshot) || fail "damage: $flipped"
[ "$flipped" = 3000 ] || fail "damaged snapshot $flipped, want 3000"
v=$("$B/tutti" verify "$IT_DIR/snap" --json) && fail "verify passed a damaged snapshot: $v"
[ "$(echo "$v" | jq -r .bad_snapshot_seq)" = 3000 ] || fail "verify: $v"
echo "$v" | jq -r .error | grep -q checksum || fail "verify error: $v"
start_coord A "$IT_DIR/snap"
since_start A | grep -q "warn: ignoring the snapshot at seq 3000: .*checksum" ||
    fail "no warning for the damaged snapshot: $(since_start A)"
since_start A | grep -q "state from the snapshot at seq 2560, then 444 records" ||
    fail "not from the older snapshot: $(since_start A | grep state)"
[ "$(status A)" = "$sf" ] || fail "state after a damaged snapshot: $(status A)"
stop_coord A
"$B/tutti-loggen" --data "$IT_DIR/snap" --damage-snapshot --seq 2560 >/dev/null || fail "damage 2560"
start_coord A "$IT_DIR/snap"
[ "$(since_start A | grep -c 'warn: ignoring the snapshot')" = 2 ] || fail "two warnings wanted"
since_start A | grep -q "state folded from all 3004 records .*no stored snapshot checks" ||
    fail "no whole fold: $(since_start A | grep state)"
[ "$(status A)" = "$sf" ] || fail "state after two damaged snapshots: $(status A)"
it_log "damaged snapshots ignored, same state"
stop_coord A

# 4. kill -9 while every commit stores a snapshot (--snapshot-every 1) and
# notes commit one by one: a restart finds only whole snapshots, each equal
# to the fold.
for delay in 0 0.3 0.7; do
    start_coord K "$IT_DIR/full" --snapshot-every 1
    before=$(status K | jq -r .last_seq)
    it_spawn notes env TUTTI_COORDINATOR="$EP_K" bash -c \
        'while "$0/tutti" note "take it from bar 9" >/dev/null 2>&1; do :; done' "$B"
    notes=$IT_LAST_PID
    grows() { [ "$(status K | jq -r .last_seq)" -gt "$before" ]; }
    it_wait_for 30 grows || fail "no note commits"
    sleep $delay
    kill -9 "$PID_K"; wait "$PID_K" 2>/dev/null
    kill "$notes" 2>/dev/null; wait "$notes" 2>/dev/null
    v=$("$B/tutti" verify "$IT_DIR/full" --json) || fail "verify after kill -9: $v"
    start_coord K "$IT_DIR/full" --snapshot-every 1
    since_start K | grep -q "state from the snapshot at seq $(echo "$v" | jq -r .last_seq), then 0" ||
        fail "not from the last commit's snapshot after kill -9: $(since_start K | grep state)"
    it_log "kill -9 $delay s after the first note: log at $(echo "$v" | jq -r .last_seq), snapshots $(echo "$v" | jq -c '[.snapshots[] | "\(.seq) \(.verdict)"]')"
    stop_coord K
done

# 5. A room agent's replica keeps snapshots of its own and starts from one.
start_coord F "$IT_DIR/full"
head=$(status F | jq -r .last_seq)
caught_up() { [ "$(status F | jq -r '.rooms[] | select(.name=="stage") | .last_seq')" = "$head" ]; }
TUTTI_COORDINATOR=$EP_F it_start_agent stage stage
it_wait_for 60 caught_up || fail "agent did not catch up to $head"
it_stop "$APID"
TUTTI_COORDINATOR=$EP_F it_start_agent stage stage
it_wait_for 30 grep -q "replica state from the snapshot at seq" "$IT_DIR/agent-stage.log" ||
    fail "agent did not start from a snapshot: $(grep -i 'replica' "$IT_DIR/agent-stage.log")"
it_wait_for 30 caught_up || fail "agent did not come back"
it_stop "$APID"
stop_coord F
v=$("$B/tutti" verify "$IT_DIR/agent-stage" --json) || fail "verify replica: $v"
[ "$(echo "$v" | jq '[.snapshots[] | select(.verdict=="equal")] | length')" -ge 1 ] ||
    fail "replica snapshots: $v"
it_log "agent: $(grep -o 'replica state from the snapshot.*' "$IT_DIR/agent-stage.log")"
it_log "PASS"
