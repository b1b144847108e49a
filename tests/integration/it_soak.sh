#!/bin/bash
# Soak (hardening): 4 writers keep writing notes while the coordinator is
# killed with SIGKILL 20 times and restarted on the same port, and each
# room agent is killed and restarted along the way. Afterwards: every
# acknowledged write is in the log exactly once (0 lost), no note appears
# twice (0 duplicates), both replicas converge on the coordinator's head,
# and `tutti verify` passes on every store. Bounded: 20 kills, under two
# minutes; TUTTI_SOAK_S=SECONDS runs the kill loop that long instead.
. "$(dirname "$0")/lib.sh"
it_setup
it_start_coordinator
port=${EP##*:}
it_start_agent stage stage
it_start_agent london-strings strings
declare -A AGENT_PID=([stage]=${IT_PIDS[1]} [london-strings]=${IT_PIDS[2]})
declare -A AGENT_KEY=([stage]=stage [london-strings]=strings)

writer() { # writer N: notes "wN-i" until $IT_DIR/stop exists; one line per attempt
    local n=$1 i=0
    while [ ! -e "$IT_DIR/stop" ] && [ $i -lt 5000 ]; do
        i=$((i + 1))
        if out=$("$B/tutti" --timeout-ms 3000 note "w$n-$i" 2>/dev/null); then
            echo "ok w$n-$i ${out##* }"
        else
            echo "unknown w$n-$i"
        fi
    done > "$IT_DIR/writer-$n.txt"
}
wpids=()
for n in 1 2 3 4; do
    writer $n &
    wpids+=($!)
    IT_PIDS+=($!)
done

soak_s=${TUTTI_SOAK_S:-0}
end=$(( $(date +%s) + soak_s ))
kills=0
while [ $kills -lt 20 ] || [ "$(date +%s)" -lt $end ]; do
    sleep "$((RANDOM % 2)).$((RANDOM % 10))5" # 0.05-1.95 s: kills land mid-write and between
    kill -9 "$CPID"; wait "$CPID" 2>/dev/null
    kills=$((kills + 1))
    if [ $((kills % 5)) -eq 0 ]; then # an agent goes down with it
        room=$([ $((kills % 10)) -eq 0 ] && echo stage || echo london-strings)
        kill -9 "${AGENT_PID[$room]}"; wait "${AGENT_PID[$room]}" 2>/dev/null
        it_start_agent "$room" "${AGENT_KEY[$room]}"
        AGENT_PID[$room]=$APID
    fi
    it_start_coordinator "tcp://127.0.0.1:$port"
    [ "$soak_s" -gt 0 ] || [ $kills -lt 20 ] || break
done
it_log "$kills coordinator kills, $((kills / 5)) agent kills"
sleep 1
touch "$IT_DIR/stop"
wait "${wpids[@]}"

cat "$IT_DIR"/writer-*.txt > "$IT_DIR/attempts.txt"
acked=$(grep -c '^ok ' "$IT_DIR/attempts.txt" || true)
unknown=$(grep -c '^unknown ' "$IT_DIR/attempts.txt" || true)
[ "$acked" -ge 40 ] || fail "only $acked acknowledged writes: the soak did not write"
"$B/tutti" history --json --kind note | jq -r '.text' | sort > "$IT_DIR/logged.txt"
lost=$(grep '^ok ' "$IT_DIR/attempts.txt" | awk '{print $2}' | sort | comm -23 - "$IT_DIR/logged.txt" | wc -l)
dups=$(uniq -d "$IT_DIR/logged.txt" | wc -l)
# A write acknowledged with seq S must be record S.
wrong_seq=$("$B/tutti" history --json --kind note | jq -r '"\(.text) \(.seq)"' | sort > "$IT_DIR/logged-seq.txt";
    grep '^ok ' "$IT_DIR/attempts.txt" | awk '{print $2, $3}' | sort | comm -23 - "$IT_DIR/logged-seq.txt" | wc -l)
it_log "writes: $acked acknowledged, $unknown unknown (timed out or refused while down); lost $lost, duplicates $dups, wrong seq $wrong_seq"
[ "$lost" -eq 0 ] || fail "$lost acknowledged writes lost"
[ "$dups" -eq 0 ] || fail "$dups notes recorded twice"
[ "$wrong_seq" -eq 0 ] || fail "$wrong_seq acknowledged sequence numbers do not match the log"

head=$("$B/tutti" status --json | jq -r .last_seq)
for room in stage london-strings; do
    it_wait_for 30 bash -c "[ \"\$('$B/tutti' status --json | jq -r '.rooms[] | select(.name==\"$room\") | .last_seq')\" = $head ]" ||
        fail "replica $room did not reach $head"
done
for room in stage london-strings; do
    kill -TERM "${AGENT_PID[$room]}"; wait "${AGENT_PID[$room]}" 2>/dev/null
done
it_stop "$CPID"
chead=$(it_head_of "$IT_DIR/coord")
[ -n "$chead" ] && [ "$chead" != null ] || fail "the coordinator's store does not verify"
for room in stage london-strings; do
    v=$("$B/tutti" verify "$IT_DIR/agent-$room" --json) || fail "replica $room does not verify: $v"
    [ "$(echo "$v" | jq -r .head_hash)" = "$chead" ] ||
        fail "replica $room stopped at $(echo "$v" | jq -r .last_seq), coordinator at $head"
done
it_log "coordinator and both replicas verify with the same head at $head"
it_log "PASS"
