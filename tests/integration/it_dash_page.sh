#!/bin/bash
# The dashboard page in headless Chromium (dash_page.mjs): times in the
# session's zone, call buttons by the call's state, the count-in, the
# timecode at the frame rate, a 390-px phone, Wrap's question and
# check-out, and the page after a kill -9 of the coordinator. Installs
# Debian's chromium when missing (as root; skips otherwise).
. "$(dirname "$0")/lib.sh"
it_need_browser
it_setup
it_start_coordinator
it_start_agent stage stage
it_start_agent london-strings strings
# One bar of count-off at 60 (a beat a second) and 24 fps: the count and
# the frames are easy to see.
printf 'fps 24\nstart 01:00:00:00\ncountoff 1\nbar 1 4/4 q=60\n' > "$IT_DIR/1m1.tempo"
"$B/tutti" tempo load 1M1 "$IT_DIR/1m1.tempo" >/dev/null || fail "tempo load"
ZONE=Asia/Kolkata # +05:30 all year: never the machine's hour
it_start_dash dash contractor --tz "$ZONE"
DASH_URL=$DURL IT_DIR=$IT_DIR TUTTI_BIN=$B OUT_DIR=${TUTTI_TEST_OUT:-$IT_DIR/out} CPID=$CPID \
    TZ_NAME=$ZONE timeout 150 node "$(dirname "$0")/dash_page.mjs" || fail "browser scenario"
it_stop "$DPID"
it_log "PASS"
