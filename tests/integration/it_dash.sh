#!/bin/bash
# The contractor's dashboard over HTTP: state and live events, the call and
# check-ins as log records, the report, and access: a wrong password, a
# missing CSRF token and an observer's write are refused with the right
# status and change nothing.
. "$(dirname "$0")/lib.sh"
it_setup
it_start_coordinator
it_start_agent stage stage
it_start_agent london-strings strings
it_start_dash dash contractor
DASH=$DURL
head_seq() { "$B/tutti" status --json | jq -r .last_seq; }
state() { curl -sf "$DASH/api/state"; }

it_wait_for 10 bash -c "curl -sf $DASH/api/state | jq -e '[.rooms[] | select(.online)] | length == 2'" ||
    fail "dashboard does not show two rooms online: $(state | jq -c .rooms)"
curl -sf "$DASH/" | grep -q "<html" || fail "no page at /"
curl -sf "$DASH/app.js" >/dev/null || fail "no app.js"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: attacker.example' "$DASH/api/session")
[ "$code" = 421 ] || fail "answered under another host name (DNS rebinding): HTTP $code"
CSRF=$(curl -sf "$DASH/api/session" | jq -r .csrf)
[ ${#CSRF} -eq 64 ] || fail "no CSRF token: $CSRF"

# No token, a wrong token: 403 and nothing written.
before=$(head_seq)
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -d '{"action":"start","rules":"afm-film-la"}' "$DASH/api/call")
[ "$code" = 403 ] || fail "POST without CSRF token: HTTP $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "X-CSRF-Token: ${CSRF%?}x" \
    -d '{"action":"start","rules":"afm-film-la"}' "$DASH/api/call")
[ "$code" = 403 ] || fail "POST with a wrong CSRF token: HTTP $code"
[ "$(head_seq)" = "$before" ] || fail "a refused POST changed the log"

post() { curl -s -w '\n%{http_code}' -X POST -H "X-CSRF-Token: $CSRF" -d "$2" "$DASH$1"; }
out=$(post /api/call '{"action":"start","rules":"mu-london"}')
[ "$(echo "$out" | tail -1)" = 200 ] || fail "call start: $out"
"$B/tutti" history --json --kind call | jq -s -e 'any(.[]; .action == "start" and .rules == "mu-london" and .actor == "contractor")' \
    >/dev/null || fail "call start not in the history"
out=$(post /api/call '{"action":"break-end"}')
[ "$(echo "$out" | tail -1)" = 409 ] || fail "break-end without a break: $out"
echo "$out" | head -1 | jq -e '.error | test("break")' >/dev/null || fail "unclear: $out"
out=$(post /api/presence '{"room":"stage","player":"Anne \"Nan\" Lee","in":true}')
[ "$(echo "$out" | tail -1)" = 200 ] || fail "check-in: $out"
it_wait_for 5 bash -c "curl -sf $DASH/api/state | jq -e '.rooms[] | select(.name==\"stage\") | .players | index(\"Anne \\\"Nan\\\" Lee\")'" ||
    fail "check-in not on the dashboard: $(state | jq -c .rooms)"
it_wait_for 5 bash -c "curl -sf $DASH/api/state | jq -e '.call.started and .call.rules_id == \"mu-london\" and .call.running'" ||
    fail "call not on the dashboard: $(state | jq -c .call)"

# Events: a stream resumed from the last id sees only what came after it.
last=$(head_seq)
TUTTI_KEY=$K/contractor.key "$B/tutti" call break-start >/dev/null || fail "break-start from the CLI"
curl -s -N --max-time 2 -H "Last-Event-ID: $last" "$DASH/events" > "$IT_DIR/events.txt"
grep -q "^event: record" "$IT_DIR/events.txt" || fail "no record event: $(head -c 400 "$IT_DIR/events.txt")"
first_id=$(grep -m1 -A1 "^event: record" "$IT_DIR/events.txt" | sed -n 's/^id: //p')
[ "$first_id" = $((last + 1)) ] || fail "resumed at $first_id, want $((last + 1))"
grep -A2 "^event: record" "$IT_DIR/events.txt" | grep -q '"summary":"call break-start"' ||
    fail "break-start not in the stream"
grep -q "^event: state" "$IT_DIR/events.txt" || fail "no state event"

# The report: from the dashboard and from the CLI, the same rows.
it_wait_for 6 bash -c "curl -sf $DASH/report.csv | grep -q 'Nan'" || fail "player not in report.csv"
curl -sf "$DASH/report.csv" > "$IT_DIR/report-dash.csv"
"$B/tutti" report --csv > "$IT_DIR/report-cli.csv" || fail "tutti report"
head -1 "$IT_DIR/report-cli.csv" | grep -q "^call,player,rooms,time_in,time_out" ||
    fail "report header: $(head -1 "$IT_DIR/report-cli.csv")"
grep -q '^1,"Anne ""Nan"" Lee",stage,' "$IT_DIR/report-cli.csv" || fail "report row: $(cat "$IT_DIR/report-cli.csv")"
[ "$(cut -d, -f1-4 "$IT_DIR/report-dash.csv")" = "$(cut -d, -f1-4 "$IT_DIR/report-cli.csv")" ] ||
    fail "dashboard and CLI reports differ"

# A password: wrong → 401, no session; right → a cookie that works.
echo "correct horse battery" > "$IT_DIR/pw"
it_start_dash dash-pw contractor --password-file "$IT_DIR/pw"
PW=$DURL
code=$(curl -s -o /dev/null -w '%{http_code}' "$PW/api/state")
[ "$code" = 401 ] || fail "state without login: HTTP $code"
code=$(curl -s -o /dev/null -w '%{http_code}' "$PW/")
[ "$code" = 303 ] || fail "page without login: HTTP $code"
code=$(curl -s -o /dev/null -c "$IT_DIR/jar-bad" -w '%{http_code}' --data-urlencode "password=wrong one" "$PW/login")
[ "$code" = 401 ] || fail "wrong password: HTTP $code"
grep -q tutti_session "$IT_DIR/jar-bad" && fail "a wrong password got a session cookie"
sleep 2.1 # a wrong password holds its address off for 2 s (it_dash_limits)
code=$(curl -s -o /dev/null -c "$IT_DIR/jar" -w '%{http_code}' --data-urlencode "password=correct horse battery" "$PW/login")
[ "$code" = 303 ] || fail "right password: HTTP $code"
PCSRF=$(curl -sf -b "$IT_DIR/jar" "$PW/api/session" | jq -r .csrf)
[ ${#PCSRF} -eq 64 ] || fail "no CSRF after login"
before=$(head_seq)
code=$(curl -s -o /dev/null -w '%{http_code}' -b "$IT_DIR/jar" -X POST -d '{"action":"break-end"}' "$PW/api/call")
[ "$code" = 403 ] || fail "logged in, no CSRF token: HTTP $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-CSRF-Token: $PCSRF" -X POST -d '{"action":"break-end"}' "$PW/api/call")
[ "$code" = 401 ] || fail "token without the session cookie: HTTP $code"
[ "$(head_seq)" = "$before" ] || fail "a refused POST changed the log"
code=$(curl -s -o /dev/null -w '%{http_code}' -b "$IT_DIR/jar" -H "X-CSRF-Token: $PCSRF" -X POST \
    -d '{"action":"break-end"}' "$PW/api/call")
[ "$code" = 200 ] || fail "logged in with token: HTTP $code"
"$B/tutti-dash" --key "$K/contractor.key" --http 0.0.0.0:0 >/dev/null 2>&1; rc=$?
[ $rc -eq 2 ] || fail "serving beyond loopback without a password started (exit $rc)"

# An observer's dashboard shows everything and changes nothing.
it_start_dash dash-ro lobby --read-only
RO=$DURL
it_wait_for 10 bash -c "curl -sf $RO/api/state | jq -e '.read_only and (.call.started)'" ||
    fail "read-only dashboard state: $(curl -s "$RO/api/state" | head -c 300)"
RCSRF=$(curl -sf "$RO/api/session" | jq -r .csrf)
before=$(head_seq)
code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-CSRF-Token: $RCSRF" -X POST \
    -d '{"room":"stage","player":"mallory","in":true}' "$RO/api/presence")
[ "$code" = 403 ] || fail "observer's check-in: HTTP $code"
TUTTI_KEY=$K/lobby.key "$B/tutti" call wrap >/dev/null 2>&1; rc=$?
[ $rc -eq 3 ] || fail "observer's call event through the CLI (exit $rc)"
[ "$(head_seq)" = "$before" ] || fail "an observer changed the log"

it_stop "$DPID"
it_log "PASS"
