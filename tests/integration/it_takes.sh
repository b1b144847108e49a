#!/bin/bash
# Cues, the transport state machine and take numbering: cue add rules and
# roles; idle -> armed -> count-in/rolling -> stopped with illegal moves
# refused naming the state and what is allowed; take numbers per cue from
# the coordinator, strictly increasing, never reused, also across a kill -9
# of the coordinator in the middle of a take (closed as interrupted on
# restart); every replica converges and verifies.
. "$(dirname "$0")/lib.sh"
MAP=$(cd "$(dirname "$0")/../../deploy/tempo" && pwd)/example-1m1.tempo
it_setup
it_start_coordinator
port=${EP##*:}
it_start_agent stage stage; STAGE=$APID

"$B/tutti" cue add 1M1 --title "Main Title" >/dev/null || fail "cue add"
out=$("$B/tutti" cue add 1M1 --title again 2>&1) && fail "duplicate cue accepted"
echo "$out" | grep -q "already exists" || fail "unclear: $out"
out=$(TUTTI_KEY=$K/stage.key "$B/tutti" cue add 2M3 2>&1); rc=$?
[ $rc -eq 3 ] || fail "room key added a cue (exit $rc)"
out=$(TUTTI_KEY=$K/contractor.key "$B/tutti" arm 1M1 2>&1); rc=$?
[ $rc -eq 3 ] || fail "contractor armed (exit $rc)"
"$B/tutti" tempo load 1M1 "$MAP" >/dev/null || fail "tempo load"

state() { "$B/tutti" status --json | jq -r ".transport.$1"; }
[ "$(state state)" = idle ] || fail "not idle at start: $(state state)"
out=$("$B/tutti" stop 2>&1) && fail "stop while idle accepted"
echo "$out" | grep -q "transport is idle" || fail "unclear: $out"

take() {   # arm, roll, stop; prints the take number the roll opened
    "$B/tutti" arm 1M1 >/dev/null || fail "arm"
    [ "$(state state)" = armed ] || fail "not armed: $(state state)"
    "$B/tutti" roll 1M1 --lead-ms 300 >/dev/null || fail "roll"
    s=$(state state); [ "$s" = count-in ] || [ "$s" = rolling ] || fail "not rolling: $s"
    out=$("$B/tutti" arm 1M1 2>&1) && fail "arm while rolling accepted"
    echo "$out" | grep -q "allowed now: stop" || fail "unclear: $out"
    state take
}
t1=$(take); "$B/tutti" stop >/dev/null || fail "stop 1"
t2=$(take); "$B/tutti" stop >/dev/null || fail "stop 2"
[ "$t1" = 1 ] && [ "$t2" = 2 ] || fail "takes $t1 $t2"
sleep 0.2
[ "$(state state)" = stopped ] || fail "not stopped: $(state state)"
out=$("$B/tutti" roll 1M1 2>&1) && fail "roll while stopped accepted"
echo "$out" | grep -q "transport is stopped.*arm a cue" || fail "unclear: $out"

# kill -9 in the middle of take 3.
t3=$(take)
[ "$t3" = 3 ] || fail "take $t3, want 3"
sleep 0.5
kill -9 "$CPID"; wait "$CPID" 2>/dev/null
it_start_coordinator "tcp://127.0.0.1:$port"
"$B/tutti" history --json | jq -s -e 'any(.[]; .kind=="take-interrupted" and .take==3)' >/dev/null ||
    fail "take 3 not closed as interrupted"
"$B/tutti" takes --json | jq -s -e 'any(.[]; .take==3 and .state=="interrupted")' >/dev/null ||
    fail "takes sheet does not show take 3 interrupted"
t4=$(take); "$B/tutti" stop >/dev/null || fail "stop 4"
[ "$t4" = 4 ] || fail "take after the crash is $t4, want 4"

# Ratings and notes: every one is a record; the sheet shows the latest.
"$B/tutti" take rate 1M1 2 hold >/dev/null || fail "rate"
"$B/tutti" take rate 1M1 2 circled --note "best strings, bar 12 horns late" >/dev/null ||
    fail "rate with note"
"$B/tutti" take note 1M1 4 "room tone at the end" >/dev/null || fail "take note"
out=$("$B/tutti" take rate 1M1 9 circled 2>&1) && fail "rating a take that does not exist"
echo "$out" | grep -q "no take 9 of cue 1M1" || fail "unclear: $out"
out=$("$B/tutti" take rate 1M1 2 great 2>&1) && fail "unknown rating accepted"
echo "$out" | grep -q "circled, hold, ng or false-start" || fail "unclear: $out"
for who in stage contractor lobby; do
    TUTTI_KEY=$K/$who.key "$B/tutti" take rate 1M1 2 ng >/dev/null 2>&1; rc=$?
    [ $rc -eq 3 ] || fail "$who could rate a take (exit $rc)"
done
[ "$("$B/tutti" history --json --kind take-rate | wc -l)" = 2 ] || fail "history lost a rating"
"$B/tutti" takes --json | jq -s -e 'any(.[]; .take==2 and .rating=="circled" and .notes==1)' \
    >/dev/null || fail "sheet does not show take 2 circled: $("$B/tutti" takes --json)"
"$B/tutti" takes --csv | grep -q "^1M1,2,done,.*,circled,1,stage,yes,,,1,0,0,[0-9:;]*,\"\\[circled\\] best strings, bar 12 horns late\",,$" ||
    fail "CSV sheet: $("$B/tutti" takes --csv)"
# What an editor needs: the start timecode is the from-bar downbeat's (bar 1
# is 00:59:58;00 in the example map; the count-off's first click is two bars
# earlier), with the map the take was rolled with; every note's text.
sheet() { "$B/tutti" takes --json | jq -c "select(.take==$1)"; }
sheet 2 | jq -e '.start_tc=="00:59:58;00" and .first_click_tc < "00:59:58;00" and .map_version==1
    and .note_texts==["[circled] best strings, bar 12 horns late"]' >/dev/null ||
    fail "take 2 on the sheet: $(sheet 2)"
sheet 4 | jq -e '.note_texts==["room tone at the end"]' >/dev/null || fail "take 4: $(sheet 4)"
# The stage agent here does not capture: it owes no files (take 2: rolled
# with stage online; take 4 follows a restart, when it may not be back yet).
sheet 2 | jq -e '.rooms_online=="stage" and .rooms_capturing=="" and .files_pending==""' \
    >/dev/null || fail "a room that does not capture shows files pending: $(sheet 2)"
# A map reloaded at another rate and start never relabels the old takes.
printf 'fps 25\nstart 10:00:00:00\nbar 1 4/4 q=120\n' > "$IT_DIR/v2.tempo"
"$B/tutti" tempo load 1M1 "$IT_DIR/v2.tempo" >/dev/null || fail "tempo load v2"
sheet 2 | jq -e '.start_tc=="00:59:58;00" and .map_version==1' >/dev/null ||
    fail "reloading the map relabelled take 2: $(sheet 2)"
"$B/tutti" takes | grep -q "^ *note: room tone at the end$" || fail "text sheet: $("$B/tutti" takes)"
it_log "take sheet: downbeat timecode with the take's own map, notes listed"
# History filters and CSV.
n=$("$B/tutti" history --json --cue 1M1 --kind roll | wc -l)
[ "$n" = 4 ] || fail "history --cue 1M1 --kind roll gave $n records, want 4"
"$B/tutti" history --csv --kind take-note | grep -q '"room tone at the end"\|room tone at the end' ||
    fail "CSV history"
[ "$("$B/tutti" history --json --room stage | wc -l)" = 0 ] || fail "room filter kept others' records"
# A note a spreadsheet would run as a formula comes out of the CSV inert:
# no cell starts with '=' (history's text sits inside the quoted JSON cell).
"$B/tutti" note '=HYPERLINK("http://x","click")' >/dev/null || fail "formula note"
"$B/tutti" history --csv --kind note | tail -1 | grep -q '^[0-9]*,[^,]*,note,conductor,,,"{""text"":""=HYPERLINK' ||
    fail "formula not neutralised: $("$B/tutti" history --csv --kind note | tail -1)"

# Every transition carries the session time it takes effect.
"$B/tutti" history --json | jq -s -e 'map(select(.kind=="arm" or .kind=="roll" or .kind=="stop"))
    | length >= 11 and all(.[]; (.at_session_ns // .start_session_ns) > 0)' >/dev/null ||
    fail "a transition without its session time"

sheet=$("$B/tutti" takes --json)
it_log "take sheet: $(echo "$sheet" | jq -c '[.take, .state]' | tr '\n' ' ')"
[ "$(echo "$sheet" | jq -s 'map(.take) | . == [1,2,3,4]')" = true ] || fail "sheet: $sheet"
"$B/tutti" takes | grep -q "00:59:5" || fail "no start timecode on the sheet"
"$B/tutti" cue list --json | jq -s -e 'any(.[]; .cue=="1M1" and .title=="Main Title" and .takes==4)' \
    >/dev/null || fail "cue list"

head=$("$B/tutti" status --json | jq -r .head_hash)
caught_up() { [ "$(it_head_of "$IT_DIR/agent-stage")" = "$head" ]; }
it_wait_for 10 caught_up || fail "replica did not converge after the restart"
it_stop "$STAGE"
it_stop "$CPID"
"$B/tutti" verify "$IT_DIR/coord" >/dev/null || fail "verify coordinator"
"$B/tutti" verify "$IT_DIR/agent-stage" >/dev/null || fail "verify replica"
it_log "PASS"
