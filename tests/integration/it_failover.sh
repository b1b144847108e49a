#!/bin/bash
# Failover across two sites (issue 16), as root in network namespaces:
# site 1 holds coordinator A, site 2 its standby B (--standby-of), each
# namespace with a veth to the host (where the rooms and writers run: they
# reach both) and one veth between the sites (the coordinators' own link).
# Every client has --coordinator A,B. Four writers (`tutti note` with
# unique payloads, bounded in count and time) record every acknowledged
# write with its seq and when it was acknowledged. Phases:
#   1. the link between the coordinators alone is cut (clients reach both):
#      A goes on writing, B never writes (one head), and catches up after;
#   2. kill -9 of A while a take rolls: B takes over when a client asks;
#      the take is closed interrupted; the rooms' clocks go on (trace
#      continuous, locked/holdover) and their clicks stay paired; A
#      restarted with --peer rejoins as B's standby;
#   3. B's links are cut (ip link set down in its namespace): A takes over.
# After each: acknowledged writes lost 0, duplicates 0 (every payload at
# most once in the serving log), time to take over printed; at the end
# `tutti verify` passes on every store. Skipped (77) when not root or
# `ip netns` does not work.
set -u
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (network namespaces)"; exit 77; }
tag=$$
ip netns add "ttF0$tag" 2>/dev/null || { echo "SKIP: ip netns does not work here"; exit 77; }
ip netns del "ttF0$tag"
. "$(dirname "$0")/lib.sh"
it_setup
NS=()
# lib.sh's EXIT trap ends the processes; the namespaces go after them.
# IT_FAILOVER_LOGS=DIR keeps a copy of the run's files there.
# The host's ends of the veths go first: a namespace is freed lazily, and a
# link left behind with the same subnet would take the next run's routes.
trap 'rc=$?; it_end "${IT_PIDS[@]}"; ip link del "hF1$tag" 2>/dev/null; ip link del "hF2$tag" 2>/dev/null;
      for n in "${NS[@]}"; do ip netns del "$n" 2>/dev/null; done;
      [ -n "${IT_FAILOVER_LOGS:-}" ] && rm -rf "$IT_FAILOVER_LOGS" && cp -r "$IT_DIR" "$IT_FAILOVER_LOGS";
      IT_PIDS=(); (exit $rc); it_cleanup' EXIT
S1=ttF1$tag S2=ttF2$tag
# Links of an earlier run that died uncleanly (this test runs serially).
for l in $(ip -o link show | sed -n 's/^[0-9]*: \(hF[12][0-9]*\)@.*/\1/p'); do ip link del "$l"; done
for n in "$S1" "$S2"; do
    ip netns add "$n" || fail "ip netns add $n"
    NS+=("$n")
    ip -n "$n" link set lo up
done
# host <-> site 1: 10.91.1.1/.2; host <-> site 2: 10.92.1.1/.2; site 1 <-> site 2: 10.93.1.1/.2
ip link add "hF1$tag" type veth peer name v0 netns "$S1" || fail "veth 1"
ip link add "hF2$tag" type veth peer name v0 netns "$S2" || fail "veth 2"
ip addr add 10.91.1.1/24 dev "hF1$tag"; ip link set "hF1$tag" up
ip addr add 10.92.1.1/24 dev "hF2$tag"; ip link set "hF2$tag" up
ip -n "$S1" addr add 10.91.1.2/24 dev v0; ip -n "$S1" link set v0 up
ip -n "$S2" addr add 10.92.1.2/24 dev v0; ip -n "$S2" link set v0 up
ip -n "$S1" link add x0 type veth peer name x0 netns "$S2" || fail "veth between the sites"
ip -n "$S1" addr add 10.93.1.1/24 dev x0; ip -n "$S1" link set x0 up
ip -n "$S2" addr add 10.93.1.2/24 dev x0; ip -n "$S2" link set x0 up

EPA=tcp://10.91.1.2:7700 EPB=tcp://10.92.1.2:7700 # as clients reach them
PA=tcp://10.93.1.1:7700 PB=tcp://10.93.1.2:7700   # as the other coordinator reaches them
# B serves with a CURVE key of its own: clients name both certificates.
# Each coordinator's access file names the other as its one coordinator.
"$B/tutti" keygen standby --dir "$K" >/dev/null || fail "keygen standby"
cp "$IT_DIR/access" "$IT_DIR/access-b"
echo "coordinator standby $(it_pub standby)" >> "$IT_DIR/access"
echo "coordinator primary $(it_pub coordinator)" >> "$IT_DIR/access-b"
export TUTTI_COORDINATOR="$EPA,$EPB" TUTTI_SERVER_KEY="$K/coordinator.pub,$K/standby.pub"

# Each coordinator's one command line, for its first start and restarts:
# A in site 1 (--peer: rejoin B if B serves), B in site 2 (--standby-of A).
start_a() {
    it_spawn A ip netns exec "$S1" "$B/tutti-coordinator" --data "$IT_DIR/A" \
        --key "$K/coordinator.key" --access "$IT_DIR/access" --bind tcp://0.0.0.0:7700 \
        --session it-session --peer "$PB" --advertise "$PA"
    APID=$IT_LAST_PID
}
start_b() {
    it_spawn B ip netns exec "$S2" "$B/tutti-coordinator" --data "$IT_DIR/B" \
        --key "$K/standby.key" --access "$IT_DIR/access-b" --bind tcp://0.0.0.0:7700 \
        --standby-of "$PA" --advertise "$PB"
    BPID=$IT_LAST_PID
}
# state A|B: "ROLE STATE" as that coordinator alone says (status answers
# on a standby too); wait_state SECONDS A|B "ROLE STATE".
state() {
    local ep=$EPA key=$K/coordinator.pub
    [ "$1" = B ] && ep=$EPB key=$K/standby.pub
    "$B/tutti" --coordinator "$ep" --server-key "$key" --timeout-ms 1000 status --json 2>/dev/null |
        jq -r '.standby.role + " " + .standby.state'
}
wait_state() {
    local end=$(( $(date +%s) + $1 ))
    while [ "$(date +%s)" -lt $end ]; do
        [ "$(state "$2")" = "$3" ] && return 0
        sleep 0.2
    done
    return 1
}

start_a
it_wait_for 30 "$B/tutti" status || fail "A did not start: $("$B/tutti" status 2>&1)"
start_b
wait_state 20 A "primary synced" || fail "B never synced with A: A says $(state A)"
[ "$(state B)" = "standby synced" ] || fail "B says: $(state B)"
out=$("$B/tutti" --coordinator "$EPB" --server-key "$K/standby.pub" note "to B" 2>&1) &&
    fail "B took a write while A serves"
echo "$out" | grep -qi standby || fail "unclear refusal from B: $out"
it_log "A serves at $EPA; B is its synced standby at $EPB"

# Rooms: replicas, clocks with traces, clicks rendered to WAV.
for r in stage:stage london-strings:strings; do
    it_spawn "agent-${r%%:*}" "$B/tutti-agent" --room "${r%%:*}" --key "$K/${r##*:}.key" \
        --data "$IT_DIR/agent-${r%%:*}" --clock-trace "$IT_DIR/${r%%:*}.trace" \
        --click-wav "$IT_DIR/${r%%:*}.wav"
done
locked() { [ "$("$B/tutti" status --json | jq '[.rooms[] | select(.clock.state=="locked")] | length')" = 2 ]; }
it_wait_for 30 locked || fail "rooms never locked"

# writers RUN SECONDS: 4 writers, each at most 400 notes and SECONDS long;
# acknowledged ones go to $IT_DIR/acked.RUN.W as "payload seq ack_ns".
writer() { # RUN W END_NS
    local i=0 out seq
    while [ $i -lt 400 ] && [ "$(date +%s%N)" -lt "$3" ] && [ ! -e "$IT_DIR/stop.$1" ]; do
        i=$((i + 1))
        # The timeout stays above the primary's wait for its standby's ack
        # (1 s): a write slowed by a lost standby must not move to it.
        if out=$("$B/tutti" --timeout-ms 4000 note "r$1-w$2-n$i" 2>>"$IT_DIR/writer.$1.$2.err"); then
            seq=${out##* }
            echo "r$1-w$2-n$i $seq $(date +%s%N)" >> "$IT_DIR/acked.$1.$2"
        fi
    done
}
WPIDS=()
writers() {
    local end=$(( $(date +%s%N) + $2 * 1000000000 ))
    WPIDS=()
    for w in 1 2 3 4; do
        : > "$IT_DIR/acked.$1.$w"
        it_spawn "writer.$1.$w" bash -c "$(declare -f writer); B=$B IT_DIR=$IT_DIR writer $1 $w $end"
        WPIDS+=("$IT_LAST_PID")
    done
}
writers_done() { local p; for p in "${WPIDS[@]}"; do kill -0 "$p" 2>/dev/null && return 1; done; return 0; }
stop_writers() {
    touch "$IT_DIR/stop.$1"
    it_wait_for 20 writers_done || fail "writers of run $1 did not stop"
}
# check_run RUN: every acknowledged write of RUN is in the serving
# coordinator's log once, at its seq; no payload twice. Prints the counts.
check_run() {
    "$B/tutti" history --json > "$IT_DIR/history.$1"
    cat "$IT_DIR"/acked."$1".* > "$IT_DIR/acked.$1"
    local acked lost dups
    acked=$(wc -l < "$IT_DIR/acked.$1")
    lost=$(jq -r --rawfile a "$IT_DIR/acked.$1" -s '
        (map(select(.kind=="note")) | map({key: .text, value: .seq}) | from_entries) as $log
        | [$a | split("\n")[] | select(length > 0) | split(" ")
           | select($log[.[0]] == null or ($log[.[0]] | tostring) != .[1])] | length' \
        "$IT_DIR/history.$1")
    dups=$(jq -r -s --arg run "r$1-" '[.[] | select(.kind=="note" and (.text | startswith($run))) | .text]
        | (length - (unique | length))' "$IT_DIR/history.$1")
    it_log "run $1: $acked writes acknowledged, $lost lost, $dups duplicated"
    [ "$acked" -ge 10 ] || fail "run $1: only $acked writes acknowledged"
    [ "$lost" = 0 ] || fail "run $1: $lost acknowledged writes lost"
    [ "$dups" = 0 ] || fail "run $1: $dups payloads written twice"
}
# takeover_ms RUN T0_NS: from T0 to the first acknowledgement after it.
takeover_ms() {
    local first
    first=$(cat "$IT_DIR"/acked."$1".* | awk -v t0="$2" '$3 > t0 { print $3 }' | sort -n | head -1)
    [ -n "$first" ] || { echo -1; return; }
    echo $(( (first - $2) / 1000000 ))
}

# ---- 1. The coordinators' own link cut; clients reach both.
writers 1 30
sleep 3
ip -n "$S1" link set x0 down
it_log "phase 1: the link between the coordinators is down"
sleep 6
it_log "phase 1: A says $(state A), B says $(state B)"
[ "$(state B | cut -d' ' -f1)" = standby ] || fail "B does not stay a standby in the partition"
[ "$(state A | cut -d' ' -f1)" = primary ] || fail "A stopped serving in the partition"
ip -n "$S1" link set x0 up
sleep 2
stop_writers 1
check_run 1
wait_state 30 A "primary synced" || fail "B did not catch up after the partition: A says $(state A)"
[ "$(state B)" = "standby synced" ] || fail "B says $(state B) after the partition"
! grep -q "taking over" "$IT_DIR/B.log" || fail "B took over while A served (two heads)"
it_log "phase 1: one head (A) through the partition"

# ---- 2. kill -9 of A while a take rolls.
printf 'countoff 1\nbar 1 4/4 q=120\n' > "$IT_DIR/f.tempo"
"$B/tutti" tempo load F1 "$IT_DIR/f.tempo" >/dev/null || fail "tempo load"
"$B/tutti" arm F1 >/dev/null || fail "arm"
"$B/tutti" roll F1 --lead-ms 800 >/dev/null || fail "roll"
writers 2 30
sleep 4
t_kill=$(date +%s%N) t_kill_mono=$(python3 -c 'import time; print(time.monotonic_ns())')
kill -9 "$APID"
it_log "phase 2: A killed (-9) mid-take"
it_wait_for 20 grep -q "taking over" "$IT_DIR/B.log" || fail "B never took over"
wait_state 15 B "primary alone" || fail "B does not serve after taking over: $(state B)"
sleep 4
stop_writers 2
ms=$(takeover_ms 2 "$t_kill")
it_log "phase 2: time to take over (kill -9 to the first acknowledged write at B): $ms ms"
[ "$ms" -ge 0 ] || fail "no write acknowledged after the kill"
check_run 2
"$B/tutti" history --json | jq -s -e 'any(.[]; .kind=="take-interrupted" and .cue=="F1")' \
    >/dev/null || fail "the take open at failover was not closed interrupted"
for r in stage london-strings; do
    it_wait_for 15 grep -q "saying hello to $EPB" "$IT_DIR/agent-$r.log" || fail "$r did not move to B"
done
# Rejoin: A restarted with its own command line finds B serving (--peer)
# and becomes its standby.
start_a
it_wait_for 20 grep -q "rejoining as its standby" "$IT_DIR/A.log" || fail "A did not rejoin as standby"
wait_state 30 B "primary synced" || fail "A never synced with B: B says $(state B)"
[ "$(state A)" = "standby synced" ] || fail "A says $(state A) after rejoining"
it_log "phase 2: A rejoined as B's standby"

# The rooms went on through it: the clock trace (a line every 10 ms) has
# no hole of a second (a loaded machine stalls the thread for a few hundred
# ms at times), session time never goes back, and once locked the state is
# locked or holdover, never re-acquiring.
for r in stage london-strings; do
    out=$(awk -v r="$r" -v t0="$t_kill_mono" '!/^#/ && NF == 5 { # (the last line may be half written)
            if (seen && $1 - prev > gap) gap = $1 - prev
            if (seen && $1 - prev > 1000000000) { print r ": trace hole of " ($1 - prev) / 1e6 " ms"; bad = 1 }
            if (seen && $3 < sess) { print r ": session time went backwards"; bad = 1 }
            if (locked && $4 != "locked" && $4 != "holdover") { print r ": state " $4 " at " $1; bad = 1 }
            if ($4 == "locked") locked = 1
            if ($1 > t0 && $4 != last) { states = states " " $4; last = $4 }
            prev = $1; sess = $3; seen = 1 }
          END { printf "%s: longest trace gap %.0f ms; states after the kill:%s\n", r, gap / 1e6, states; exit bad }' \
        "$IT_DIR/$r.trace") || fail "$r's clock did not go on through the failover: $out"
    it_log "phase 2: $out"
done
"$B/tutti" stop >/dev/null 2>&1 # the take may be closed already

# ---- 3. B's links cut (B serves, A is its standby).
writers 3 30
sleep 3
t_cut=$(date +%s%N)
ip -n "$S2" link set v0 down
ip -n "$S2" link set x0 down
it_log "phase 3: B's links are down"
it_wait_for 20 grep -q "taking over" "$IT_DIR/A.log" || fail "A never took over"
wait_state 15 A "primary alone" || fail "A does not serve after taking over: $(state A)"
sleep 5
stop_writers 3
ms=$(takeover_ms 3 "$t_cut")
it_log "phase 3: time to take over (link cut to the first acknowledged write at A): $ms ms"
[ "$ms" -ge 0 ] || fail "no write acknowledged after the cut"
check_run 3
# B comes back as an operator would bring it: restarted, asked to rejoin.
kill -9 "$BPID"
ip -n "$S2" link set v0 up
ip -n "$S2" link set x0 up
start_b
rejoined_or_gone() { [ "$(state A)" = "primary synced" ] || ! kill -0 "$BPID" 2>/dev/null; }
it_wait_for 40 rejoined_or_gone
if [ "$(state A)" = "primary synced" ]; then
    [ "$(state B)" = "standby synced" ] || fail "B says $(state B) after rejoining"
    it_log "phase 3: B rejoined as A's standby"
else
    # B ran alone after the cut (its ALONE record never reached A): its log
    # is not a prefix of A's and it must say so, never serve. The operator
    # moves its directory aside and starts it afresh.
    [ "$(state B | cut -d' ' -f1)" = primary ] && fail "B serves beside A (two heads)"
    why=$(grep -i "differ\|prefix\|diverg\|ahead" "$IT_DIR/B.log" | tail -1)
    [ -n "$why" ] || fail "B neither rejoined nor said why: B says $(state B)"
    it_log "phase 3: B refused its old log: $why"
    it_end "$BPID"
    mv "$IT_DIR/B" "$IT_DIR/B.aside"
    start_b
    wait_state 60 A "primary synced" || fail "B, started afresh, never synced: A says $(state A)"
    it_log "phase 3: B, started afresh, is A's synced standby"
fi
[ "$(state A | cut -d' ' -f1)" = primary ] || fail "A stopped serving"

# ---- Every store verifies; the rooms' clicks (rendered to WAV, written
# out as the agents stop) through the kill stayed paired sample for sample.
it_end "${IT_PIDS[@]}"
IT_PIDS=()
cmp=$("$B/tutti" clicks "$IT_DIR/stage.wav" "$IT_DIR/london-strings.wav" --json) || fail "clicks: $cmp"
it_log "clicks of the take rolled through the kill: $cmp"
# Each room stops where it learns the take was closed interrupted, so one
# may play a few clicks more: every click both played is paired.
echo "$cmp" | jq -e '.paired >= 8 and .paired == ([.clicks, .reference_clicks] | min)
                     and .max_abs_samples <= 3' >/dev/null ||
    fail "the rooms' clicks did not stay together: $cmp"
for d in A B B.aside agent-stage agent-london-strings; do
    [ -d "$IT_DIR/$d" ] || continue
    v=$("$B/tutti" verify "$IT_DIR/$d" --json) || fail "verify $d: $v"
    it_log "verify $d: $(echo "$v" | jq -c '{records, head_hash}')"
done
it_log "PASS"
