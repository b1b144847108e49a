#!/bin/bash
# OSC out and the OSC control surface. A room agent with --osc sends its
# transport, every beat and the map's visual markers to a receiver
# (tutti-osc-tool listen), each in a bundle timetagged with its session
# time: the timetags are the map's instants exactly, and each message
# arrives within 5 ms of its instant (on one host the session clock is
# CLOCK_MONOTONIC, which the receiver stamps arrivals with). The
# coordinator's surface (--osc-surface, --osc-as) arms and rolls a take as
# the operator, and refuses the roll as a room (error reply, no record).
. "$(dirname "$0")/lib.sh"
it_setup
free_udp() {
    python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM);
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# start_coord TAG OSC_AS: a coordinator with its own data dir and a surface; sets EP, CPID, SURF.
start_coord() {
    SURF=$(free_udp)
    rm -f "$IT_DIR/endpoint-$1"
    it_spawn "coordinator-$1" "$B/tutti-coordinator" --data "$IT_DIR/coord-$1" \
        --key "$K/coordinator.key" --access "$IT_DIR/access" --bind 'tcp://127.0.0.1:*' \
        --endpoint-file "$IT_DIR/endpoint-$1" --session it-osc --osc-surface "127.0.0.1:$SURF" \
        --osc-as "$2"
    CPID=$IT_LAST_PID
    it_wait_for 10 test -s "$IT_DIR/endpoint-$1" || fail "coordinator $1 did not start"
    EP=$(head -1 "$IT_DIR/endpoint-$1")
    export TUTTI_COORDINATOR=$EP
}
cat > "$IT_DIR/map.tempo" <<'MAP'
countoff 1
bar 1 4/4 q=120
end 8
streamer at 3.1 len 1s
punch at 4.1
MAP
osc() { "$B/tutti-osc-tool" send "$SURF" "$@"; }

# Bad bind hosts are refused before anything starts.
out=$("$B/tutti-coordinator" --key "$K/coordinator.key" --access "$IT_DIR/access" \
    --osc-surface 0.0.0.0:9 --osc-as conductor 2>&1) && fail "a non-loopback surface started"
echo "$out" | grep -q "127.0.0.1 only" || fail "unclear bind refusal: $out"

# 1. The surface as a room: the same role check as the room's CLI.
start_coord room stage
"$B/tutti" cue add 1M1 >/dev/null && "$B/tutti" tempo load 1M1 "$IT_DIR/map.tempo" >/dev/null &&
    "$B/tutti" arm 1M1 >/dev/null || fail "setup as the operator"
rep=$(osc /tutti/roll s 1M1) || fail "no reply to the room's roll"
echo "$rep" | grep -q "/tutti/reply sshs roll error 0 .*" || fail "room's roll not refused: $rep"
TUTTI_KEY=$K/stage.key "$B/tutti" roll 1M1 >/dev/null 2>&1 && fail "the room's CLI rolled"
[ "$("$B/tutti" history --json --kind roll | jq -s length)" = 0 ] || fail "a roll was recorded"
rep=$(osc /tutti/rate f 1.5) || fail "no reply to a float rate"
echo "$rep" | grep -q "error 0 .*rating" || fail "float rate: $rep"
rep=$(osc /tutti/wrap) || fail "no reply to an unknown address"
echo "$rep" | grep -q "error 0 unknown address" || fail "unknown address: $rep"
it_stop "$CPID"

# 2. The surface as the operator, with a room sending OSC to a receiver.
start_coord op conductor
LPORT=$(free_udp)
it_spawn osc-listen "$B/tutti-osc-tool" listen "$LPORT"
it_spawn agent-stage "$B/tutti-agent" --room stage --key "$K/stage.key" --data "$IT_DIR/agent-stage" \
    --osc "127.0.0.1:$LPORT"
APID=$IT_LAST_PID
online() { "$B/tutti" status --json | jq -e '.rooms[] | select(.name=="stage") |
    .online and .clock.state == "locked"' >/dev/null; }
it_wait_for 20 online || fail "stage not online with a locked clock"
"$B/tutti" cue add 1M1 >/dev/null && "$B/tutti" tempo load 1M1 "$IT_DIR/map.tempo" >/dev/null ||
    fail "cue and map"
rep=$(osc /tutti/arm s 1M1) || fail "no reply to arm"
echo "$rep" | grep -Eq "/tutti/reply sshs arm ok [1-9][0-9]* $" || fail "arm: $rep"
rep=$(osc /tutti/roll si 1M1 2) || fail "no reply to roll"
echo "$rep" | grep -Eq "/tutti/reply sshs roll ok [1-9][0-9]*" || fail "roll: $rep"
SEQ=$(echo "$rep" | awk '{print $7}')
roll=$("$B/tutti" history --json --kind roll | jq -s -c '.[0]')
[ "$(echo "$roll" | jq .seq)" = "$SEQ" ] || fail "the reply's seq is not the roll's: $roll"
[ "$(echo "$roll" | jq -r .actor)" = conductor ] || fail "roll not by the operator: $roll"
[ "$("$B/tutti" takes --json | jq -s 'map(select(.cue=="1M1" and .take==1)) | length')" = 1 ] ||
    fail "no take 1 on the take sheet"
DOWN=$(echo "$roll" | jq .downbeat_session_ns)
START=$(echo "$roll" | jq .start_session_ns)
# From bar 2: bar 3.1 (the streamer's end) is 2 s after the downbeat, its start 1 s; bar 4.1 3 s;
# the end bar 8 ends 14 s after it. Stop at bar 5.
it_wait_for 12 grep -q "/tutti/beat iii 5 1 4" "$IT_DIR/osc-listen.log" || fail "no beat 5.1"
rep=$(osc /tutti/stop) || fail "no reply to stop"
echo "$rep" | grep -q "stop ok" || fail "stop: $rep"
it_wait_for 5 grep -q "/tutti/transport ssii stopped 1M1 1 2" "$IT_DIR/osc-listen.log" ||
    fail "no stopped"
STOP_AT=$("$B/tutti" history --json --kind stop | jq -s '.[0].at_session_ns')
sleep 0.5
L=$IT_DIR/osc-listen.log
cat "$L" >&2
# Every message: its timetag (col 2) is the instant the map gives, exactly; it arrives (col 1)
# within 5 ms of it (the median: with the 2 cores shared by a parallel build a wake-up can be
# tens of ms late, and the agent still sends what is under 250 ms late).
awk -v down="$DOWN" -v start="$START" -v stop="$STOP_AT" '
function chk(name, want) {
    if ($2 != want) { printf "%s: timetag %s, map says %.0f\n", name, $2, want; bad++ }
    d = $1 - want; if (d < 0) d = -d; if (d > max) max = d; sum += d; lat[n++] = d
    if (d > 250000000) { printf "%s: %.3f ms off (sent that late?)\n", name, d / 1e6; bad++ }
}
$3 == "/tutti/transport" && $5 == "count-in" { chk("count-in", start); ci++ }
$3 == "/tutti/transport" && $5 == "rolling" { chk("rolling", down); ro++ }
$3 == "/tutti/transport" && $5 == "stopped" { chk("stopped", stop); st++ }
$3 == "/tutti/beat" {
    # count-off: bar 1 (from bar 2, one bar); then 500 ms a beat
    want = down + (($5 - 2) * 4 + ($6 - 1)) * 500000000
    chk("beat " $5 "." $6, want); beats++
}
$3 == "/tutti/marker" && $5 == "streamer" { chk("streamer", down + 1000000000);
    if ($6 != "green" || $7 != 1) { print "streamer args: " $0; bad++ } sm++ }
$3 == "/tutti/marker" && $5 == "punch" { chk("punch", down + 4000000000); pu++ }
END {
    if (ci != 1 || ro != 1 || st != 1 || sm != 1 || pu != 1) {
        printf "count-in %d rolling %d stopped %d streamer %d punch %d\n", ci, ro, st, sm, pu; bad++ }
    # every beat from the count-off (2 s before the downbeat) to the stop, none after
    want_beats = int((stop - 1 - (down - 2000000000)) / 500000000) + 1
    if (beats != want_beats || beats < 17) {
        printf "%d beats, want %d (4 count-off, bars 2-4, 5.1 ... until the stop)\n", beats, want_beats; bad++ }
    for (i = 1; i < n; i++) for (j = i; j > 0 && lat[j - 1] > lat[j]; j--) {
        t = lat[j]; lat[j] = lat[j - 1]; lat[j - 1] = t }
    med = lat[int((n - 1) / 2)]
    printf "OSC: %d messages: arrival after their instant median %.3f ms, max %.3f ms, mean %.3f ms\n", n, med / 1e6, max / 1e6, sum / n / 1e6
    if (med > 5000000) { print "median lateness over 5 ms"; bad++ }
    exit bad > 0
}' "$L" || fail "OSC messages off the map"
grep -q "/tutti/cue s 1M1" "$L" && grep -q "/tutti/take i 1" "$L" &&
    grep -q "/tutti/transport ssii armed 1M1 1 0" "$L" || fail "no cue, take or armed"
# A score change and this room's ack go out too.
C=$("$B/tutti" change 1M1 --text "bar 4: horns tacet" | sed -n 's/change recorded as \([0-9]*\)/\1/p')
it_wait_for 5 grep -q "/tutti/change is $C bar 4: horns tacet" "$L" || fail "no change message"
TUTTI_KEY=$K/stage.key "$B/tutti" ack "$C" >/dev/null || fail "ack"
it_wait_for 5 grep -q "/tutti/ack i $C" "$L" || fail "no ack message"
it_stop "$APID"
it_log "PASS"
