#!/bin/bash
# The README's main job runs end to end: rooms online, notes in the
# history on every replica, every store verifies, clean shutdown.
. "$(dirname "$0")/lib.sh"
IT_DIR=$(mktemp -d /tmp/tutti-it.XXXXXX)
trap it_cleanup EXIT
out=$(bash "$(dirname "$0")/../../deploy/demo.sh" "$B" 2>&1) || { echo "$out"; fail "demo failed"; }
echo "$out" | tail -25
echo "$out" | grep -q "horns tacet" || fail "history lacks the notes"
echo "$out" | grep -Eq "room stage +online" || fail "stage not online in status"
[ "$(echo "$out" | grep -c "chain and signatures good")" = 3 ] || fail "not every store verified"
it_log "PASS"
