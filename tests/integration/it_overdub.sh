#!/bin/bash
# Distributed overdub: two rooms record a take from --capture-from files
# (one on a clock 2.5 s ahead and 150 ppm fast), the files upload by
# themselves and verify; their TimeReferences put the same beat on the
# same session sample; `tutti media fetch` returns identical bytes; a
# punch records only the punched bars plus handles; a coordinator outage
# in the middle of a take loses nothing.
. "$(dirname "$0")/lib.sh"
MAP=$(cd "$(dirname "$0")/../../deploy/tempo" && pwd)/example-1m1.tempo
it_setup
it_start_coordinator
"$B/tutti-tonegen" "$IT_DIR/in-stage.wav" --seconds 60 --every 24000 || fail tonegen
"$B/tutti-tonegen" "$IT_DIR/in-strings.wav" --seconds 60 --every 24000 || fail tonegen
start_room() {   # ROOM KEY [agent options...]
    local room=$1 key=$2; shift 2
    it_spawn "agent-$room" "$B/tutti-agent" --room "$room" --key "$K/$key.key" \
        --data "$IT_DIR/agent-$room" --capture "$IT_DIR/cap-$room" \
        --capture-from "$IT_DIR/in-$key.wav" "$@"
}
start_room stage stage
start_room london-strings strings --clock-offset-us 2500000 --clock-skew-ppm 150
locked() { [ "$("$B/tutti" status --json | jq '[.rooms[] | select(.clock.state == "locked")] | length')" = 2 ]; }
it_wait_for 15 locked || fail "clocks did not lock: $("$B/tutti" status)"
"$B/tutti" tempo load 1M1 "$MAP" >/dev/null || fail "tempo load"
media_of() { "$B/tutti" history --json --kind media | jq -s -c "[.[] | select(.take == $1)]"; }
files_in() { [ "$(media_of "$1" | jq length)" = "$2" ]; }

# Take 1: a whole take in both rooms.
"$B/tutti" arm 1M1 >/dev/null && "$B/tutti" roll 1M1 --lead-ms 300 >/dev/null || fail "roll 1"
sleep 7
"$B/tutti" stop >/dev/null || fail "stop 1"
it_wait_for 20 files_in 1 2 || fail "take 1 files did not arrive: $(media_of 1)"
m=$(media_of 1)
tr_stage=$(echo "$m" | jq '.[] | select(.room == "stage") | .time_reference')
tr_strings=$(echo "$m" | jq '.[] | select(.room == "london-strings") | .time_reference')
d=$((tr_stage - tr_strings)); [ ${d#-} -le 1 ] || fail "TimeReferences differ by $d samples"
for room in stage london-strings; do
    f=1M1_t1_${room}_in1.wav
    [ "$(jq -r .state "$IT_DIR/cap-$room/$f.json")" = confirmed ] || fail "$f not confirmed"
    [ "$(echo "$m" | jq -r ".[] | select(.room == \"$room\") | .hash")" = "$(jq -r .hash "$IT_DIR/cap-$room/$f.json")" ] ||
        fail "$f: recorded hash differs from the room's"
done
"$B/tutti" media fetch 1M1 1 --out "$IT_DIR/fetched" > "$IT_DIR/fetch.txt" || fail "media fetch: $(cat "$IT_DIR/fetch.txt")"
[ "$(grep -c verified "$IT_DIR/fetch.txt")" = 2 ] || fail "fetch: $(cat "$IT_DIR/fetch.txt")"
for room in stage london-strings; do
    cmp -s "$IT_DIR/fetched/1M1_t1_${room}_in1.wav" "$IT_DIR/cap-$room/1M1_t1_${room}_in1.wav" ||
        fail "fetched $room file differs from the recorded one"
done
# The same beat on the same session sample: clicks of the two files, placed
# by their TimeReferences, agree within a sample.
"$B/tutti" clicks "$IT_DIR/fetched/1M1_t1_stage_in1.wav" "$IT_DIR/fetched/1M1_t1_london-strings_in1.wav" \
    --json > "$IT_DIR/clicks.json" || fail "clicks"
jq -e --argjson d "$d" '.paired > 5 and (.max_abs_samples + (if $d < 0 then -$d else $d end)) <= 1' \
    "$IT_DIR/clicks.json" >/dev/null || fail "beats apart: d=$d $(cat "$IT_DIR/clicks.json")"
"$B/tutti" takes --json | jq -s -e 'any(.[]; .take == 1 and (.files_arrived | split("+") | sort) ==
    ["london-strings", "stage"] and .files_pending == "")' >/dev/null || fail "take sheet: $("$B/tutti" takes)"
out=$(TUTTI_KEY=$K/stage.key "$B/tutti" media fetch 1M1 1 --room london-strings --out "$IT_DIR/x" 2>&1); rc=$?
[ $rc -eq 3 ] || fail "a room fetched another room's file (exit $rc: $out)"

# Take 2: punched bars 3..4 from bar 3, 1 s handles: 2.6087 s + 2 s.
"$B/tutti" arm 1M1 >/dev/null && "$B/tutti" roll 1M1 --from-bar 3 --punch-in 3 --punch-out 4 \
    --lead-ms 300 >/dev/null || fail "punch roll"
"$B/tutti" history --json --kind roll | jq -s -e 'any(.[]; .take == 2 and .punch_in_bar == 3 and .punch_out_bar == 4)' \
    >/dev/null || fail "the roll does not carry the punch"
sleep 10.5
"$B/tutti" stop >/dev/null || fail "stop 2"
it_wait_for 20 files_in 2 2 || fail "take 2 files did not arrive: $(media_of 2)"
frames=$(jq .frames "$IT_DIR/cap-stage/1M1_t2_stage_in1.wav.json")
want=$(( (26087 * 48000 / 10000 + 2 * 48000) ))
d=$((frames - want)); [ ${d#-} -le 2 ] || fail "punched file has $frames frames, want $want"
media_of 2 | jq -e 'all(.[]; .punch_in_bar == 3 and .punch_out_bar == 4)' >/dev/null ||
    fail "media records do not carry the punch: $(media_of 2)"

# Take 3: kill -9 the coordinator 3 s into the take, restart it 3 s later.
"$B/tutti" arm 1M1 >/dev/null && "$B/tutti" roll 1M1 --lead-ms 300 >/dev/null || fail "roll 3"
t_roll=$(date +%s%N)
sleep 3
kill -9 "$CPID"; wait "$CPID" 2>/dev/null
sleep 3
t_back=$(date +%s%N)
it_spawn coordinator "$B/tutti-coordinator" --data "$IT_DIR/coord" --key "$K/coordinator.key" \
    --access "$IT_DIR/access" --bind "$EP" --endpoint-file "$IT_DIR/endpoint2" --session it-session
CPID=$IT_LAST_PID
it_wait_for 20 files_in 3 2 || fail "take 3 files did not arrive after the outage: $(media_of 3)"
"$B/tutti" history --json --kind take-interrupted | jq -s -e 'any(.[]; .take == 3)' >/dev/null ||
    fail "take 3 not closed as interrupted"
for room in stage london-strings; do
    frames=$(jq .frames "$IT_DIR/cap-$room/1M1_t3_${room}_in1.wav.json")
    # From 1 s before the first click to past the restart: at least the 6 s
    # between roll and restart, without a gap.
    min=$(( (t_back - t_roll) * 48 / 1000000 ))
    [ "$frames" -ge "$min" ] || fail "$room take 3 has $frames frames, want >= $min"
    [ "$(jq -r .complete "$IT_DIR/cap-$room/1M1_t3_${room}_in1.wav.json")" = true ] ||
        fail "$room take 3 not complete"
done
for d in coord agent-stage agent-london-strings; do
    "$B/tutti" verify "$IT_DIR/$d" >/dev/null || fail "verify $d"
done
it_log "PASS"
