#!/bin/bash
# The dashboard's report and wrap over HTTP (issue #14):
#  - --tz takes an IANA zone (a bad one is a clear error, exit 2); the
#    state names it and its offset, and the report's times carry it;
#  - GET /report.csv is a download named after the session
#    (Content-Disposition: attachment; filename="it-session-report.csv");
#  - POST /api/call wrap: refused while no call runs, before anyone is
#    checked out; else everyone checked in (any room) is checked out by
#    the dashboard, then the call wraps, so the report closes them in the
#    call: one section per call, numbered in the call column;
#  - tutti report prints the same sections as text in the zone given.
. "$(dirname "$0")/lib.sh"
it_setup
it_start_coordinator
it_start_agent stage stage

out=$("$B/tutti-dash" --key "$K/contractor.key" --data "$IT_DIR/bad" --http 127.0.0.1:0 \
    --tz Mars/Olympus_Mons 2>&1); rc=$?
[ $rc -eq 2 ] || fail "a bad --tz: exit $rc"
echo "$out" | grep -q 'unknown time zone "Mars/Olympus_Mons"' || fail "a bad --tz says: $out"

ZONE=America/Los_Angeles
it_start_dash dash contractor --tz "$ZONE"
DASH=$DURL
state() { curl -sf "$DASH/api/state"; }
head_seq() { "$B/tutti" status --json | jq -r .last_seq; }
it_wait_for 10 bash -c "curl -sf $DASH/api/state | jq -e '.coordinator.online and .tz.name == \"$ZONE\"'" ||
    fail "state: $(state | jq -c '{coordinator, tz}')"
off=$(state | jq .tz.offset_s)
[ "$off" = -28800 ] || [ "$off" = -25200 ] || fail "offset of $ZONE: $off"

# The report is a download with the session's name.
curl -sf -D "$IT_DIR/headers" -o "$IT_DIR/empty.csv" "$DASH/report.csv" || fail "GET /report.csv"
grep -qi '^Content-Disposition: attachment; filename="it-session-report.csv"' "$IT_DIR/headers" ||
    fail "report headers: $(cat "$IT_DIR/headers")"
grep -qi '^Content-Type: text/csv' "$IT_DIR/headers" || fail "report type: $(cat "$IT_DIR/headers")"

CSRF=$(curl -sf "$DASH/api/session" | jq -r .csrf)
post() { curl -s -w '\n%{http_code}' -X POST -H "X-CSRF-Token: $CSRF" -d "$2" "$DASH$1"; }
"$B/tutti" presence stage --in "Ann Lee" --in "Bo Chen" >/dev/null || fail "presence"
"$B/tutti" presence london-strings --in "Cy Park" >/dev/null || fail "presence"
it_wait_for 5 bash -c "curl -sf $DASH/api/state | jq -e '[.checked_in[].players[]] | length == 3'" ||
    fail "checked_in: $(state | jq -c .checked_in)"

# No call: the wrap is refused and nobody is checked out.
before=$(head_seq)
out=$(post /api/call '{"action":"wrap"}')
[ "$(echo "$out" | tail -1)" = 409 ] || fail "wrap without a call: $out"
echo "$out" | head -1 | jq -e '.error | test("no call is running")' >/dev/null || fail "unclear: $out"
[ "$(head_seq)" = "$before" ] || fail "a refused wrap wrote to the log"

out=$(post /api/call '{"action":"start","rules":"afm-film-la"}')
[ "$(echo "$out" | tail -1)" = 200 ] || fail "call start: $out"
it_wait_for 5 bash -c "curl -sf $DASH/api/state | jq -e .call.running" || fail "call not running"
out=$(post /api/call '{"action":"wrap"}')
[ "$(echo "$out" | tail -1)" = 200 ] || fail "wrap: $out"
echo "$out" | head -1 | jq -e '.checked_out == 3' >/dev/null || fail "wrap reply: $out"
wrap_seq=$(echo "$out" | head -1 | jq .seq)
"$B/tutti" history --json --kind presence > "$IT_DIR/presence.jsonl"
outs=$(jq -s -c --argjson w "$wrap_seq" '[.[] | select((.out // []) | length > 0) |
    select(.actor == "contractor" and .seq < $w) | {room, out}] | sort_by(.room)' "$IT_DIR/presence.jsonl")
[ "$outs" = '[{"room":"london-strings","out":["Cy Park"]},{"room":"stage","out":["Ann Lee","Bo Chen"]}]' ] ||
    fail "check-outs before the wrap: $outs"
"$B/tutti" history --json --kind call | jq -s -e --argjson w "$wrap_seq" \
    'any(.[]; .seq == $w and .action == "wrap" and .actor == "contractor")' >/dev/null ||
    fail "no wrap record at $wrap_seq"
it_wait_for 5 bash -c "curl -sf $DASH/api/state | jq -e '(.checked_in | length == 0) and .call.wrap_unix_ms > 0'" ||
    fail "after the wrap: $(state | jq -c '{checked_in, call}')"

# A second call, with one player still in at the report's drawing.
"$B/tutti" presence stage --in "Di Ng" >/dev/null || fail "presence"
out=$(post /api/call '{"action":"start","rules":"mu-london"}')
[ "$(echo "$out" | tail -1)" = 200 ] || fail "second call: $out"

# The report: a call column, a section per call, times in the zone.
OFF='-0[78]:00'
it_wait_for 8 bash -c "curl -sf $DASH/report.csv | grep -q '^2,Di Ng'" || fail "report: $(curl -s "$DASH/report.csv")"
curl -sf "$DASH/report.csv" | tr -d '\r' > "$IT_DIR/report.csv"
[ "$(head -1 "$IT_DIR/report.csv")" = "call,player,rooms,time_in,time_out,minutes,cues,breaks,overtime_units,time_zone" ] ||
    fail "header: $(head -1 "$IT_DIR/report.csv")"
[ "$(cut -d, -f1,2 "$IT_DIR/report.csv" | tail -n +2 | tr '\n' ' ')" = "1,Ann Lee 1,Bo Chen 1,Cy Park 2,Di Ng " ] ||
    fail "sections: $(cat "$IT_DIR/report.csv")"
grep -Eq "^1,Ann Lee,stage,[0-9-]{10}T[0-9:]{8}$OFF,[0-9-]{10}T[0-9:]{8}$OFF,0,,0,0,$ZONE\$" "$IT_DIR/report.csv" ||
    fail "row: $(grep Ann "$IT_DIR/report.csv")"
grep -Eq "^2,Di Ng,stage,[0-9-]{10}T[0-9:]{8}$OFF,,0,,0,0,$ZONE\$" "$IT_DIR/report.csv" ||
    fail "row: $(grep Di "$IT_DIR/report.csv")"
# Ann's time in is the UTC check-in, 7 or 8 hours back.
in_utc=$("$B/tutti" history --json --kind presence | jq -r 'select((.in // []) | index("Ann Lee")) | .at' | head -1)
want=$(TZ=$ZONE date -d "$in_utc" +%Y-%m-%dT%H:%M:%S)
grep -q "^1,Ann Lee,stage,$want" "$IT_DIR/report.csv" || fail "Ann in at $in_utc, want $want: $(grep Ann "$IT_DIR/report.csv")"

# The CLI: the same sections as text, in the zone given.
"$B/tutti" report --tz "$ZONE" > "$IT_DIR/report.txt" || fail "tutti report"
grep -q "times in $ZONE (UTC-0[78]:00)" "$IT_DIR/report.txt" || fail "text: $(cat "$IT_DIR/report.txt")"
grep -q "^Call 1: afm-film-la (AFM film/TV Los Angeles), .* to " "$IT_DIR/report.txt" || fail "text: $(cat "$IT_DIR/report.txt")"
grep -q "^Call 2: mu-london (.*), .*, running: " "$IT_DIR/report.txt" || fail "text: $(cat "$IT_DIR/report.txt")"
[ "$(grep -c '^  Ann Lee ' "$IT_DIR/report.txt")" = 1 ] || fail "text: $(cat "$IT_DIR/report.txt")"
"$B/tutti" report --tz Mars/Olympus_Mons >/dev/null 2>&1; rc=$?
[ $rc -eq 2 ] || fail "tutti report with a bad --tz: exit $rc"
"$B/tutti" report --csv --tz "$ZONE" | tr -d '\r' | cut -d, -f1-4 > "$IT_DIR/cli.csv" || fail "tutti report --csv"
[ "$(cut -d, -f1-4 "$IT_DIR/report.csv")" = "$(cat "$IT_DIR/cli.csv")" ] || fail "dashboard and CLI reports differ"

it_stop "$DPID"
it_log "PASS"
