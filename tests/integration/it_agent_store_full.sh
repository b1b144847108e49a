#!/bin/bash
# An agent whose own store (its replica) is full says so in `tutti status`
# for its room, on the room's line and in --json (it used to be only in the
# agent's log): "STORE FULL: raise --map-size-mb" for a full LMDB map (a
# 1 MiB --map-size-mb), "DISK FULL" for a full filesystem (a 512 KiB tmpfs,
# as root only), also when LMDB calls the short write EIO. The agent keeps running on what it holds; restarted with
# room to write, it catches up and the flag is gone.
. "$(dirname "$0")/lib.sh"
it_setup
it_start_coordinator

room() { "$B/tutti" status --json | jq -c '.rooms[] | select(.name=="london-strings")'; }
fault_is() { [ "$(room | jq -r '.store_fault.cause // "none"')" = "$1" ]; }
caught_up() { [ "$(it_head_of "$DATA")" = "$("$B/tutti" status --json | jq -r .head_hash)" ]; }
agent() { # agent DATA [options]: sets APID
    DATA=$1
    shift
    it_spawn agent-strings "$B/tutti-agent" --room london-strings --key "$K/strings.key" \
        --data "$DATA" "$@"
    APID=$IT_LAST_PID
}
fill() { # fill CAUSE: 300 notes of 4 kB more (pipelined), until the room reports CAUSE
    for _ in 1 2 3; do
        out=$("$B/tutti-rawsend" --mode fill) || fail "filling the log: $out"
        it_wait_for 20 fault_is "$1" && return 0
    done
    fail "900 notes of 4 kB and no $1 in status: $(room)"
}

# The map.
agent "$IT_DIR/agent-map" --map-size-mb 1
it_wait_for 10 bash -c "$(declare -f room); B=$B; room | jq -e .online" || fail "room never online"
fill map_full
r=$(room)
echo "$r" | jq -r .store_fault.text | grep -q "raise --map-size-mb" || fail "text in $r"
[ "$(echo "$r" | jq -r .online)" = true ] || fail "the agent went offline: $r"
coord=$("$B/tutti" status --json | jq -r .last_seq)
[ "$(echo "$r" | jq -r .last_seq)" -lt "$coord" ] || fail "replica not behind: $r"
line=$("$B/tutti" status | grep 'room london-strings')
echo "$line" | grep -q "STORE FULL: raise --map-size-mb" || fail "status line: $line"
it_log "status: $line"
kill -0 "$APID" || fail "the agent died"
it_stop "$APID"
agent "$IT_DIR/agent-map" --map-size-mb 64
it_wait_for 15 caught_up || fail "a larger map did not catch up"
it_wait_for 5 fault_is none || fail "the flag stays after the store wrote: $(room)"

# The disk: a 512 KiB tmpfs (as root).
if [ "$(id -u)" != 0 ]; then
    it_stop "$APID"
    it_log "not root: disk-full half skipped"
    it_log "PASS"
    exit 0
fi
it_stop "$APID"
mkdir -p "$IT_DIR/small"
mount -t tmpfs -o size=512k tmpfs "$IT_DIR/small" || { it_log "cannot mount tmpfs: skipped"; exit 77; }
trap 'umount -l "$IT_DIR/small" 2>/dev/null; it_cleanup' EXIT
agent "$IT_DIR/small/agent"
fill disk_full
line=$("$B/tutti" status | grep 'room london-strings')
echo "$line" | grep -q "DISK FULL" || fail "status line: $line"
it_log "status: $line"
it_stop "$APID"
it_log "PASS"
