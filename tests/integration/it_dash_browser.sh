#!/bin/bash
# The dashboard in headless Chromium: see dash_browser.mjs. Installs
# Debian's chromium when missing (as root; skips otherwise).
. "$(dirname "$0")/lib.sh"
if ! command -v node >/dev/null; then
    [ "$(id -u)" = 0 ] || { echo "SKIP: node missing and not root"; exit 77; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs >/dev/null || exit 77
fi
if [ ! -x /usr/bin/chromium ]; then
    [ "$(id -u)" = 0 ] || { echo "SKIP: chromium missing and not root"; exit 77; }
    echo "installing chromium (Debian package) for the browser test"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 ||
        { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null; } ||
        fail "could not install chromium"
fi
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
