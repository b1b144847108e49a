#!/bin/bash
# The README's main job runs end to end: three rooms lock, the example map
# rolls and stops, every room's clicks pair with the stage room's within a
# few samples, LTC decodes, every store verifies, clean shutdown.
. "$(dirname "$0")/lib.sh"
IT_DIR=$(mktemp -d /tmp/tutti-it.XXXXXX)
trap it_cleanup EXIT
out=$(bash "$(dirname "$0")/../../deploy/demo.sh" "$B" 2>&1) || { echo "$out"; fail "demo failed"; }
echo "$out" | tail -32
echo "$out" | grep -q "horns tacet" || fail "history lacks the notes"
[ "$(echo "$out" | grep -Ec "room (stage|london-strings|overdub-home) +online .*clock locked")" = 3 ] ||
    fail "not every room online and locked"
echo "$out" | grep -q "roll recorded as" || fail "no roll"
rows=$(echo "$out" | awk '/\.wav/ && NF == 5')
[ "$(echo "$rows" | wc -l)" = 2 ] || fail "clicks table: $rows"
echo "$rows" | awk '$2 < 20 || $2 != $3 || $4 > 4 { bad = 1 } END { exit bad }' ||
    fail "rooms' clicks do not line up: $rows"
echo "$out" | grep -Eq "^01:00:0[0-9];[0-9]{2} [0-9]+$" || fail "no LTC decoded"
[ "$(echo "$out" | grep -c "chain and signatures good")" = 4 ] || fail "not every store verified"
it_log "PASS"
