#!/bin/bash
# --coordinator A,B (issue 16): clients that know several coordinators.
# A stand-in standby (tutti-standby-standin: ERROR_STANDBY to everything)
# and a port where nothing listens sit before the real coordinator in the
# list: the CLI's writes and reads, a room agent (replica and clock) and
# the dashboard move along the list to the one that serves, a write once
# (its key kept), and say where they went. The stand-in serves with a CURVE
# key of its own: --server-key lists one certificate per endpoint. Bad
# lists are refused clearly.
. "$(dirname "$0")/lib.sh"
it_setup

# Bad lists: the flag and the environment, every program.
out=$("$B/tutti" --coordinator "tcp://127.0.0.1:1,,tcp://127.0.0.1:2" status 2>&1)
[ $? = 2 ] || fail "an empty item was not a usage error: $out"
echo "$out" | grep -q 'item 2 of "tcp://127.0.0.1:1,,tcp://127.0.0.1:2" is empty' ||
    fail "empty item: '$out'"
out=$(TUTTI_COORDINATOR="tcp://a:1,tcp://a:2,tcp://a:3,tcp://a:4,tcp://a:5" "$B/tutti" status 2>&1)
[ $? = 2 ] || fail "five endpoints were not a usage error: $out"
echo "$out" | grep -q "more than 4 endpoints" || fail "too many: '$out'"
out=$("$B/tutti-agent" --room stage --key "$K/stage.key" --coordinator "tcp://127.0.0.1:1," 2>&1)
[ $? = 2 ] || fail "tutti-agent took a list with an empty item: $out"
echo "$out" | grep -q "is empty" || fail "tutti-agent: '$out'"
out=$(TUTTI_COORDINATOR=",tcp://127.0.0.1:1" "$B/tutti-dash" --key "$K/lobby.key" 2>&1)
[ $? = 2 ] || fail "tutti-dash took a list with an empty item: $out"
echo "$out" | grep -q "is empty" || fail "tutti-dash: '$out'"
"$B/tutti" --help | grep -q -- "--coordinator EP\[,EP\]" || fail "help does not show the list"

it_start_coordinator
"$B/tutti" keygen standby --dir "$K" >/dev/null || fail "keygen standby"
it_spawn standin "$B/tutti-standby-standin" --key "$K/standby.key" \
    --endpoint-file "$IT_DIR/standin.ep" --seconds 170
it_wait_for 10 test -s "$IT_DIR/standin.ep" || fail "stand-in did not start"
SEP=$(cat "$IT_DIR/standin.ep")
DEP=tcp://127.0.0.1:$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
answers() { grep -c standby-answer "$IT_DIR/standin.log"; }

# CLI: a write past a down endpoint and a standby, recorded once, no retry story.
SK=$K/coordinator.pub SBK=$K/standby.pub
out=$("$B/tutti" --coordinator "$SEP,$EP" --server-key "$SK,$SK,$SK" status 2>&1) &&
    fail "three certificates for two coordinators were taken"
echo "$out" | grep -q "3 certificates for 2 coordinators" || fail "key count: '$out'"
start=$(date +%s%N)
out=$("$B/tutti" --coordinator "$DEP,$SEP,$EP" --server-key "$SK,$SBK,$SK" note "past the standby" \
    2>"$IT_DIR/note.err") ||
    fail "note through the list: $(cat "$IT_DIR/note.err")"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
seq=$(echo "$out" | sed -n 's/note recorded as \([0-9]*\)/\1/p')
[ -n "$seq" ] || fail "note: '$out'"
[ ! -s "$IT_DIR/note.err" ] || fail "a move along the list was told as a retry: $(cat "$IT_DIR/note.err")"
[ "$(answers)" = 1 ] || fail "the stand-in answered $(answers) times, want 1"
[ $ms -lt 4000 ] || fail "the move took $ms ms (a refused connect should not wait the 5 s timeout)"
it_log "note $seq written past a down endpoint and a standby in $ms ms"
n=$("$B/tutti" history --json | jq -s '[.[] | select(.text=="past the standby")] | length')
[ "$n" = 1 ] || fail "the note is in the log $n times"
# A read: the same. Every endpoint a standby: a clear error.
"$B/tutti" --coordinator "$SEP,$EP" --server-key "$SBK,$SK" status --json |
    jq -e ".last_seq == $seq" >/dev/null || fail "status through the list"
out=$("$B/tutti" --coordinator "$SEP,$SEP" --server-key "$SBK" status 2>&1) &&
    fail "two standbys answered: $out"
echo "$out" | grep -q "every coordinator in the list answered as a standby" ||
    fail "all standbys: '$out'"

# A room agent: its replica says hello to the stand-in, moves on, locks its
# clock at the coordinator that answered; another starts at a down endpoint.
it_spawn agent-stage "$B/tutti-agent" --room stage --key "$K/stage.key" \
    --data "$IT_DIR/agent-stage" --coordinator "$SEP,$EP" --server-key "$SBK,$SK"
it_spawn agent-strings "$B/tutti-agent" --room london-strings --key "$K/strings.key" \
    --data "$IT_DIR/agent-strings" --coordinator "$DEP,$EP"
it_wait_for 20 grep -q "connected to $EP" "$IT_DIR/agent-stage.log" ||
    fail "agent-stage never reached the coordinator"
grep -q "$SEP is a standby: saying hello to $EP" "$IT_DIR/agent-stage.log" ||
    fail "agent-stage did not say it moved on from the standby"
it_wait_for 20 grep -q "connected to $EP" "$IT_DIR/agent-strings.log" ||
    fail "agent-strings never reached the coordinator"
grep -q "$DEP did not answer hello: saying hello to $EP" "$IT_DIR/agent-strings.log" ||
    fail "agent-strings did not say it moved on from the down endpoint"
locked() { [ "$("$B/tutti" status --json | jq '[.rooms[] | select(.clock.state=="locked")] | length')" = 2 ]; }
it_wait_for 30 locked || fail "the rooms' clocks never locked through the list"
it_log "both rooms locked through their lists"

# The dashboard's replica moves the same way.
it_start_dash dash lobby --coordinator "$SEP,$EP" --server-key "$SBK,$SK"
it_wait_for 20 grep -q "connected to $EP" "$IT_DIR/dash.log" || fail "the dashboard never connected"
it_log "PASS"
