#!/bin/bash
# Hostile frames from an authenticated client (random bytes, truncated
# protobuf, wrong or missing version, oversized, multi-frame, empty, no
# body) get an error reply or are dropped; the coordinator keeps serving
# and the log is unchanged. The error to a frame whose request id can be
# read (truncated, wrong or missing version, multi-frame) echoes it.
. "$(dirname "$0")/lib.sh"
it_setup
it_start_coordinator
it_start_agent stage stage
head=$("$B/tutti" status --json | jq -r .head_hash)
for mode in random truncated badversion noversion oversize multiframe empty nobody; do
    out=$("$B/tutti-rawsend" --coordinator "$EP" --server-key "$K/coordinator.pub" \
        --key "$K/conductor.key" --mode "$mode") || fail "$mode was accepted: $out"
    it_log "$mode: $out"
    case $mode in truncated|badversion|noversion|multiframe)
        echo "$out" | grep -q '^error [0-9]* \[id 7\]' || fail "$mode: request id 7 not echoed: $out" ;;
    esac
    "$B/tutti" --timeout-ms 3000 status >/dev/null || fail "coordinator stopped serving after $mode"
done
"$B/tutti-rawsend" --coordinator "$EP" --server-key "$K/coordinator.pub" --key "$K/conductor.key" \
    --mode badversion | grep -q "version 99 is not supported" || fail "version error unclear"
[ "$head" = "$("$B/tutti" status --json | jq -r .head_hash)" ] || fail "log changed"
kill -0 "$CPID" || fail "coordinator died"
"$B/tutti" note "still writing" >/dev/null || fail "note after hostile frames"
it_stop "$CPID"
it_log "PASS"
