#!/bin/bash
# A full store or a full disk is told to the writer with its cause
# (hardening): "store full: ... raise --map-size-mb" when the LMDB map is
# full, "disk full" when the filesystem is; nothing is acknowledged that was
# not committed, and the coordinator goes on answering reads. The disk-full
# half mounts a small tmpfs and needs root (skipped otherwise).
. "$(dirname "$0")/lib.sh"
it_setup
big=$(head -c 3900 /dev/zero | tr '\0' x)

fill() { # fill LABEL: notes until one is refused; sets ACKED, ERR
    # Eight writers at a time (each note is a process of its own, and the
    # coordinator commits concurrent writes in one group), until a batch
    # has a refusal. Every note is counted: acknowledged or refused.
    ACKED=0
    ERR=""
    local batch
    for batch in $(seq 0 249); do
        rm -f "$IT_DIR"/fill.*
        for i in $(seq 1 8); do
            (if out=$("$B/tutti" note "$big $batch.$i" 2>&1); then
                : >"$IT_DIR/fill.ok.$i"
            else
                echo "$out" >"$IT_DIR/fill.err.$i"
            fi) &
            FILL_PIDS[$i]=$!
        done
        for i in $(seq 1 8); do wait "${FILL_PIDS[$i]}"; done
        ACKED=$((ACKED + $(ls "$IT_DIR"/fill.ok.* 2>/dev/null | wc -l)))
        if ls "$IT_DIR"/fill.err.* >/dev/null 2>&1; then
            ERR=$(cat "$IT_DIR"/fill.err.*)
            return 0
        fi
    done
    fail "$1: 2000 notes of 3.9 kB fitted: nothing filled up"
}

# The map: 1 MiB holds a few hundred records.
it_spawn coordinator "$B/tutti-coordinator" --data "$IT_DIR/coord" --key "$K/coordinator.key" \
    --access "$IT_DIR/access" --bind "tcp://127.0.0.1:*" --endpoint-file "$IT_DIR/endpoint" \
    --map-size-mb 1
CPID=$IT_LAST_PID
it_wait_for 10 test -s "$IT_DIR/endpoint" || fail "coordinator did not start"
export TUTTI_COORDINATOR=$(head -1 "$IT_DIR/endpoint")
fill map
echo "$ERR" | grep -q "store full" && echo "$ERR" | grep -q "raise --map-size-mb" ||
    fail "a full map told the writer: $ERR"
last=$("$B/tutti" status --json | jq -r .last_seq) || fail "no status after the store filled"
[ "$last" = $((ACKED + 1)) ] || fail "log at $last after $ACKED acknowledged notes (+ genesis)"
it_log "map full after $ACKED notes: \"$(echo "$ERR" | grep -o 'store full[^;]*' | head -1)\""
it_stop "$CPID"
"$B/tutti" verify "$IT_DIR/coord" >/dev/null || fail "the full store does not verify"

# The disk: a 512 KiB tmpfs (as root).
if [ "$(id -u)" != 0 ]; then
    it_log "not root: disk-full half skipped"
    it_log "PASS"
    exit 0
fi
mkdir -p "$IT_DIR/small"
mount -t tmpfs -o size=512k tmpfs "$IT_DIR/small" || { it_log "cannot mount tmpfs: skipped"; exit 77; }
trap 'umount -l "$IT_DIR/small" 2>/dev/null; it_cleanup' EXIT
it_spawn coordinator-disk "$B/tutti-coordinator" --data "$IT_DIR/small/coord" \
    --key "$K/coordinator.key" --access "$IT_DIR/access" --bind "tcp://127.0.0.1:*" \
    --endpoint-file "$IT_DIR/endpoint2"
C2=$IT_LAST_PID
it_wait_for 10 test -s "$IT_DIR/endpoint2" || fail "coordinator on the small disk did not start"
export TUTTI_COORDINATOR=$(head -1 "$IT_DIR/endpoint2")
fill disk
echo "$ERR" | grep -q "disk full" || fail "a full disk told the writer: $ERR"
last=$("$B/tutti" status --json | jq -r .last_seq) || fail "no status after the disk filled"
[ "$last" = $((ACKED + 1)) ] || fail "log at $last after $ACKED acknowledged notes (+ genesis)"
it_log "disk full after $ACKED notes: \"$(echo "$ERR" | grep -o 'disk full[^;]*' | head -1)\""
it_stop "$C2"
it_log "PASS"
