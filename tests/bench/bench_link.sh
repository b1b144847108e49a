#!/bin/bash
# tutti-bench-link (issue #15 point 5): Ableton Link's own sync against
# Link rooms bridged by tutti, with one side's clock skewed, in one run.
#   (a) Link alone: two tutti-link-peer processes in one network namespace
#       (they find each other over its lo), one on a clock P ppm fast.
#   (b) tutti: two rooms, each a namespace of its own (veth to the host,
#       where the coordinator runs) holding a `tutti-agent --link` and a
#       tutti-link-peer; room B's agent runs --clock-skew-ppm P and its peer
#       --skew-ppm P (the room's host clock is fast). The rooms' Link
#       sessions cannot see each other (multicast stays in each namespace):
#       only the tutti session aligns them, as across a WAN.
# Each peer samples Link's beat at the same CLOCK_MONOTONIC instants (one
# kernel: the truth), every 20 ms; the error is the pair's beat difference
# on the bar (mod 4 quarters) in ms at 120 bpm, after a 3 s settle.
# Prints one JSON object: per skew, p50/p99/max for each, and the ratio
# tutti/Link of each figure. Needs root (namespaces) and TUTTI_BIN.
# Usage: TUTTI_BIN=build/bin bench_link.sh [--seconds S] (default 60)
set -u
SECONDS_RUN=60
[ "${1:-}" = --seconds ] && SECONDS_RUN=$2
[ "$(id -u)" = 0 ] || { echo "bench_link: needs root (network namespaces)" >&2; exit 77; }
. "$(dirname "$0")/../integration/lib.sh"
it_setup >/dev/null
NS=()
cleanup_ns() { local n; for n in "${NS[@]}"; do ip netns del "$n" 2>/dev/null; done; }
trap 'it_cleanup_wrapped' EXIT
it_cleanup_wrapped() {
    local rc=$?
    it_end "${IT_PIDS[@]}"
    cleanup_ns
    [ -n "${BENCH_LINK_LOGS:-}" ] && mkdir -p "$BENCH_LINK_LOGS" && cp "$IT_DIR"/*.log "$BENCH_LINK_LOGS"/
    rm -rf "$IT_DIR"
    exit $rc
}
tag=$$
# mkns NAME [SUBNET]: a namespace with lo up, and a veth to the host at 10.SUBNET.1/.2.
mkns() {
    local n=tt$1$tag
    ip netns add "$n" || fail "ip netns add"
    NS+=("$n")
    ip -n "$n" link set lo up
    if [ -n "${2:-}" ]; then
        ip link add "h$1$tag" type veth peer name v0 netns "$n" || fail "veth"
        ip addr add "10.$2.1/24" dev "h$1$tag"; ip link set "h$1$tag" up
        ip -n "$n" addr add "10.$2.2/24" dev v0; ip -n "$n" link set v0 up
    fi
}
SKEWS="50 150"
mkns L
mkns A 77.1
mkns B 78.1
it_start_coordinator "tcp://0.0.0.0:*" >/dev/null
PORT=${EP##*:}
locked() { [ "$("$B/tutti" status --json | jq '[.rooms[] | select(.clock.state=="locked")] | length')" = 2 ]; }
printf 'countoff 1\nbar 1 4/4 q=120\n' > "$IT_DIR/b.tempo"
"$B/tutti" tempo load B1 "$IT_DIR/b.tempo" >/dev/null || fail "tempo load"
# stats FILE_A FILE_B FROM_NS TO_NS: p50/p99/max of |beat A - beat B| on the
# bar (mod 4 quarters), in ms at 120 bpm, over the instants both sampled.
stats() {
    jq -n --slurpfile a "$1" --slurpfile b "$2" --argjson from "$3" --argjson to "$4" '
        def wrap: . - 4 * ((. + 2) / 4 | floor); # into [-2, 2) quarters (jq % is integer)
        ($b | map({key: (.mono_ns | tostring), value: .}) | from_entries) as $bm
        | [$a[] | select(.mono_ns >= $from and .mono_ns <= $to)
           | . as $x | $bm[.mono_ns | tostring] | select(. != null)
           | (($x.beat - .beat) | wrap) * 500 | fabs] | sort as $e
        | ($e | length) as $n
        | {samples: $n, peers_a: ([$a[].peers] | max), peers_b: ([$b[].peers] | max),
           p50_ms: $e[($n * 0.5 | floor)], p99_ms: $e[([($n * 0.99 | floor), $n - 1] | min)],
           max_ms: $e[-1]}'
}
peer() { # NAME NS [ARGS]: a Link peer sampling every 20 ms for the whole run
    local name=$1 ns=$2; shift 2
    it_spawn "$name" ip netns exec "tt$ns$tag" "$B/tutti-link-peer" \
        --seconds "$((SECONDS_RUN + 20))" --every-ms 20 "$@"
}
out="{\"seconds\":$SECONDS_RUN,\"tempo_bpm\":120,\"sample_every_ms\":20,\"settle_s\":3,\"skews\":["
first=1
for p in $SKEWS; do
    # (a) Link alone, and (b) the two bridged rooms, at the same time.
    peer "la$p" L; LA=$IT_LAST_PID
    peer "lb$p" L --skew-ppm "$p"; LB=$IT_LAST_PID
    it_spawn "agA$p" ip netns exec "ttA$tag" "$B/tutti-agent" --room stage --key "$K/stage.key" \
        --data "$IT_DIR/agA$p" --coordinator "tcp://10.77.1.1:$PORT" --link --quiet
    AA=$IT_LAST_PID
    it_spawn "agB$p" ip netns exec "ttB$tag" "$B/tutti-agent" --room london-strings \
        --key "$K/strings.key" --data "$IT_DIR/agB$p" --coordinator "tcp://10.78.1.1:$PORT" \
        --link --clock-skew-ppm "$p" --quiet
    AB=$IT_LAST_PID
    peer "pa$p" A; PA=$IT_LAST_PID
    peer "pb$p" B --skew-ppm "$p"; PB=$IT_LAST_PID
    it_wait_for 30 locked || fail "rooms never locked (skew $p)"
    "$B/tutti" arm B1 >/dev/null || fail "arm"
    "$B/tutti" roll B1 --lead-ms 500 >/dev/null || fail "roll"
    start=$("$B/tutti" history --json | jq -s '[.[] | select(.kind=="roll")] | last | .start_session_ns')
    sleep "$((SECONDS_RUN + 4))"
    "$B/tutti" stop >/dev/null || fail "stop"
    it_end "$LA" "$LB" "$PA" "$PB" "$AA" "$AB"
    from=$((start + 3000000000)); to=$((from + SECONDS_RUN * 1000000000))
    link=$(stats "$IT_DIR/la$p.log" "$IT_DIR/lb$p.log" "$from" "$to") || fail "stats: $link"
    tutti=$(stats "$IT_DIR/pa$p.log" "$IT_DIR/pb$p.log" "$from" "$to") || fail "stats: $tutti"
    [ $first = 1 ] || out+=","
    first=0
    out+=$(jq -n -c --argjson p "$p" --argjson l "$link" --argjson t "$tutti" \
        '{skew_ppm: $p, link_alone: $l, tutti_bridged: $t,
          ratio_tutti_over_link: {p50: ($t.p50_ms / $l.p50_ms), p99: ($t.p99_ms / $l.p99_ms),
                                  max: ($t.max_ms / $l.max_ms)}}')
done
echo "$out]}" | jq .
