#!/bin/bash
# Prelays: an operator puts a WAV for two of three rooms (`tutti media put`);
# each named room's agent fetches it into DATA/media and verifies it (the
# bytes are the operator's), the third room fetches nothing. An agent
# killed (-9) mid-fetch resumes from its .part's length (its fetches
# pipelined, never refused); a byte changed in that .part is caught by
# the hash and the file fetched again. While a
# named room lacks the prelay (its agent stopped) `tutti roll` is refused
# naming the room and the file; once it has caught up the roll goes. A
# room cannot put; a prelay is never replaced under the same name; a
# forced roll names who lacked what.
. "$(dirname "$0")/lib.sh"
MAP=$(cd "$(dirname "$0")/../../deploy/tempo" && pwd)/example-1m1.tempo
it_setup
"$B/tutti" keygen overdub --dir "$K" >/dev/null || fail "keygen overdub"
echo "room       overdub        $(it_pub overdub)" >> "$IT_DIR/access"
it_start_coordinator
it_start_dash dash contractor
"$B/tutti" cue add 1M1 >/dev/null || fail "cue add"
"$B/tutti" tempo load 1M1 "$MAP" >/dev/null || fail "tempo load"

# A 40 s mono WAV (about 5.8 MB): several 1 MiB pieces to fetch.
WAV=$IT_DIR/strings.wav
"$B/tutti-tonegen" "$WAV" --seconds 40 >/dev/null || fail "tonegen"
size=$(stat -c %s "$WAV")

agent() {   # agent ROOM KEY [options]: starts ROOM's agent; sets APID
    local room=$1 key=$2; shift 2
    it_spawn "agent-$room" "$B/tutti-agent" --room "$room" --key "$K/$key.key" \
        --data "$IT_DIR/agent-$room" "$@"
    APID=$IT_LAST_PID
}
agent stage stage
SPID=$APID
agent london-strings strings --prelay-rate 400k # slow: killed mid-fetch below
LPID=$APID
agent overdub overdub
OPID=$APID
it_wait_for 15 sh -c "\"$B/tutti\" status --json | jq -e '[.rooms[] | select(.online)] | length == 3'" ||
    fail "rooms not online: $("$B/tutti" status)"

# Only an operator puts.
out=$(TUTTI_KEY=$K/stage.key "$B/tutti" media put 1M1 "$WAV" --kind prelay 2>&1)
[ $? -eq 3 ] || fail "a room put a prelay: $out"
out=$("$B/tutti" media put 1M1 "$MAP" --kind prelay 2>&1)
[ $? -eq 1 ] || fail "a tempo map was put as a prelay: $out"

# 1. The put: one record, the coordinator's copy identical.
FILE=1M1_prelay_strings.wav
out=$("$B/tutti" media put 1M1 "$WAV" --kind prelay --rooms stage,london-strings --at 9 \
    2>"$IT_DIR/put.log") || fail "put: $(cat "$IT_DIR/put.log")"
seq=$(echo "$out" | sed -n "s/^$FILE $size seq \([0-9]*\)$/\1/p")
[ -n "$seq" ] || fail "put said: $out"
cmp "$WAV" "$IT_DIR/coord/media/$FILE" || fail "coordinator's copy differs"
"$B/tutti" history --json --kind media | jq -e --argjson s "$seq" --argjson z "$size" \
    'select(.seq==$s) | .actor=="conductor" and .file=="1M1_prelay_strings.wav" and .size==$z' \
    >/dev/null || fail "media record: $("$B/tutti" history --json --kind media)"
it_log "put: record $seq, $size bytes"

# 2. stage fetches and verifies; overdub is not named and fetches nothing.
it_wait_for 30 test -f "$IT_DIR/agent-stage/media/$FILE" || fail "stage did not fetch"
cmp "$WAV" "$IT_DIR/agent-stage/media/$FILE" || fail "stage's copy differs"
jq -e --argjson s "$seq" '.held[] | select(.seq==$s) | .at_bar==9 and .kind=="prelay"' \
    "$IT_DIR/agent-stage/media/index.json" >/dev/null || fail "stage's index"

# 3. london-strings killed -9 mid-fetch; a byte of its .part changed.
PART=$IT_DIR/agent-london-strings/media/$FILE.part
it_wait_for 30 sh -c "[ \$(stat -c %s '$PART' 2>/dev/null || echo 0) -gt 1100000 ]" ||
    fail "london-strings did not start fetching"
kill -9 "$LPID"
wait "$LPID" 2>/dev/null
held=$(stat -c %s "$PART")
[ "$held" -lt "$size" ] || fail "the fetch finished before the kill"
printf 'X' | dd of="$PART" bs=1 seek=1000 conv=notrunc 2>/dev/null
it_log "london-strings killed at $held of $size bytes; byte 1000 of its .part changed"

# 4. The gate: london-strings is named and lacks the prelay.
it_wait_for 10 sh -c "\"$B/tutti\" status --json | jq -e '.rooms[] | select(.name==\"stage\") |
    .prelays.held == 1'" || fail "stage not reported holding: $("$B/tutti" status --json)"
st=$("$B/tutti" status --json)
echo "$st" | jq -e '.rooms[] | select(.name=="london-strings") | .prelays ==
    {"wanted":1,"held":0,"missing":["1M1_prelay_strings.wav"]}' >/dev/null ||
    fail "london-strings status: $st"
echo "$st" | jq -e '.rooms[] | select(.name=="overdub") | .prelays.wanted == 0' >/dev/null ||
    fail "overdub status: $st"
"$B/tutti" status | grep -q "london-strings.*prelays 0/1 (missing $FILE)" ||
    fail "status text: $("$B/tutti" status)"
dash_prelays() { curl -sf "$DURL/api/state" | jq -c '.rooms[] | select(.name=="london-strings") | .prelays'; }
it_wait_for 5 bash -c "$(declare -f dash_prelays); DURL=$DURL; [ \"\$(dash_prelays)\" = '{\"wanted\":1,\"held\":0,\"missing\":[\"$FILE\"]}' ]" ||
    fail "the dashboard does not show the missing prelay: $(dash_prelays)"
"$B/tutti" arm 1M1 >/dev/null || fail "arm"
out=$("$B/tutti" roll 1M1 2>&1) && fail "roll went while london-strings lacks the prelay"
echo "$out" | grep -q "room london-strings lacks prelay $FILE: wait, or --force" ||
    fail "refusal said: $out"
it_log "roll refused: $out"

# 5. london-strings back (3 pieces in flight): resumes from its .part, the
# hash catches the changed byte, the file comes again and verifies; then
# the roll goes.
agent london-strings strings --prelay-pieces 3
LPID=$APID
it_wait_for 60 test -f "$IT_DIR/agent-london-strings/media/$FILE" ||
    fail "london-strings did not finish"
cmp "$WAV" "$IT_DIR/agent-london-strings/media/$FILE" || fail "london-strings' copy differs"
grep -q "fetching $FILE (record $seq) from $held of $size" "$IT_DIR/agent-london-strings.log" ||
    fail "no resume from $held: $(grep fetching "$IT_DIR/agent-london-strings.log")"
grep -q "$FILE does not hash to record $seq" "$IT_DIR/agent-london-strings.log" ||
    fail "the changed .part was not caught"
[ ! -e "$PART" ] || fail ".part left behind"
[ ! -e "$IT_DIR/agent-overdub/media/$FILE" ] || fail "overdub fetched a prelay not for it"
it_wait_for 10 sh -c "\"$B/tutti\" status --json | jq -e '[.rooms[].prelays.held] == [1,1,0]'" ||
    fail "holdings: $("$B/tutti" status --json)"
"$B/tutti" roll 1M1 --lead-ms 100 >/dev/null || fail "roll after catching up"
"$B/tutti" history --json --kind roll | tail -1 | jq -e '(.forced // false) == false' >/dev/null ||
    fail "roll record: $("$B/tutti" history --json --kind roll)"
"$B/tutti" stop >/dev/null || fail "stop"
it_log "london-strings resumed, caught the changed byte, verified; roll went"

# 6. The same name with other bytes is refused; a forced roll names who lacked what.
head -c 100000 /dev/urandom >> "$WAV"
out=$("$B/tutti" media put 1M1 "$WAV" --kind prelay --name strings 2>&1)
[ $? -eq 3 ] || fail "a prelay was replaced: $out"
kill -9 "$OPID"
wait "$OPID" 2>/dev/null
"$B/tutti-tonegen" "$IT_DIR/click.wav" --seconds 2 >/dev/null || fail "tonegen"
"$B/tutti" media put 1M1 "$IT_DIR/click.wav" --kind guide --rooms overdub >/dev/null 2>&1 ||
    fail "guide put"
"$B/tutti" arm 1M1 >/dev/null || fail "arm 2"
"$B/tutti" roll 1M1 >/dev/null 2>&1 && fail "roll went while overdub (stopped) lacks its guide"
"$B/tutti" roll 1M1 --force --lead-ms 100 >/dev/null || fail "forced roll"
"$B/tutti" history --json --kind roll | tail -1 |
    jq -e '.forced and .prelays_missing == ["overdub:1M1_guide_click.wav"]' >/dev/null ||
    fail "forced roll record: $("$B/tutti" history --json --kind roll | tail -1)"
"$B/tutti" stop >/dev/null || fail "stop 2"
# The take sheet says what each take heard, and who was rolled past.
sheet() { "$B/tutti" takes --json | jq -c "select(.take==$1) | {prelays, prelays_missing}"; }
[ "$(sheet 1)" = '{"prelays":["1M1_prelay_strings.wav"],"prelays_missing":""}' ] ||
    fail "take 1 on the sheet: $(sheet 1)"
[ "$(sheet 2)" = '{"prelays":["1M1_prelay_strings.wav","1M1_guide_click.wav"],"prelays_missing":"overdub:1M1_guide_click.wav"}' ] ||
    fail "take 2 on the sheet: $(sheet 2)"
"$B/tutti" takes | grep -q "prelays: 1M1_prelay_strings.wav, 1M1_guide_click.wav (forced past: overdub:1M1_guide_click.wav)" ||
    fail "text sheet: $("$B/tutti" takes)"
# Pipelined fetches are never refused as unread replies.
! grep -H "unread" "$IT_DIR"/agent-*.log || fail "an agent's fetch was refused"
it_stop "$SPID"
it_stop "$LPID"
it_log "PASS"
