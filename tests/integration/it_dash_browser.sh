#!/bin/bash
# The dashboard in headless Chromium: see dash_browser.mjs. Installs
# Debian's chromium when missing (as root; skips otherwise).
. "$(dirname "$0")/lib.sh"
it_need_browser
it_setup
it_start_coordinator
it_start_agent stage stage
it_start_agent london-strings strings
"$B/tutti" tempo load 1M1 "$(dirname "$0")/../../deploy/tempo/example-1m1.tempo" >/dev/null ||
    fail "tempo load"
"$B/tutti" arm 1M1 >/dev/null || fail "arm"
it_start_dash dash contractor
DASH_URL=$DURL IT_DIR=$IT_DIR TUTTI_BIN=$B OUT_DIR=${TUTTI_TEST_OUT:-$IT_DIR/out} \
    timeout 120 node "$(dirname "$0")/dash_browser.mjs" || fail "browser scenario"
it_stop "$DPID"
it_log "PASS"
