#!/bin/bash
# The room display in headless Chromium, two rooms on two clocks: see
# display_browser.mjs. Skips (77) without chromium or node unless root can
# install them.
. "$(dirname "$0")/lib.sh"
it_need_browser
it_setup
it_start_coordinator
# it_display ROOM KEY [agent options...]: an agent serving its display; sets URL.
it_display() {
    local room=$1 key=$2; shift 2
    it_spawn "agent-$room" "$B/tutti-agent" --room "$room" --key "$K/$key.key" \
        --data "$IT_DIR/agent-$room" --http 127.0.0.1:0 --http-port-file "$IT_DIR/$room.port" "$@"
    it_wait_for 10 test -s "$IT_DIR/$room.port" || fail "$room's display did not start"
    URL="http://127.0.0.1:$(cat "$IT_DIR/$room.port")"
}
# The stage's display wants a password (loopback or not), the other none.
echo "stage-display-pw" > "$IT_DIR/stage.pw"
it_display stage stage --http-password "$IT_DIR/stage.pw"
STAGE_URL=$URL
# The other room's clock runs 2.5 s ahead and 150 ppm fast.
it_display london-strings strings --clock-offset-us 2500000 --clock-skew-ppm 150
STRINGS_URL=$URL
# Access: beyond loopback only with a password; a password means a login;
# without one the Host must be loopback; every POST carries the CSRF token.
rc=0; "$B/tutti-agent" --room stage --key "$K/stage.key" --data "$IT_DIR/x" --http 0.0.0.0:0 \
    >"$IT_DIR/lan.out" 2>&1 || rc=$?
[ $rc = 2 ] && grep -q -- "--http-password" "$IT_DIR/lan.out" || fail "LAN without a password: exit $rc"
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
[ "$(code "$STAGE_URL/api/state")" = 401 ] || fail "the stage's display answered without a login"
[ "$(code -d password=wrong "$STAGE_URL/login")" = 401 ] || fail "a wrong password was taken"
[ "$(code -H 'Host: rebind.example' "$STRINGS_URL/api/state")" = 421 ] || fail "answered another Host"
[ "$(code -X POST -H 'Content-Type: application/json' -d '{"change":1}' "$STRINGS_URL/api/ack")" = 403 ] ||
    fail "an ack without the CSRF token was taken"
it_log "access: LAN refused without a password, login wanted, Host rule, CSRF"
locked() { [ "$("$B/tutti" status --json | jq '[.rooms[] | select(.clock.state=="locked")] | length')" = 2 ]; }
it_wait_for 30 locked || fail "the rooms' clocks never locked"

# A streamer into the downbeat of bar 5 (8 s after bar 1), a flutter on
# bar 9 beat 2 (16.125 s), a warning into bar 7, a named hit.
cat > "$IT_DIR/1M1.tempo" <<'EOF'
countoff 1
bar 1 4/4 q=120
bar 5 3/4 q=96
streamer at 5.1 len 2s
warning at 7.1 len 1b
hit at 8.1 "door slam"
flutter at 9.2 flashes 3
EOF
"$B/tutti" tempo load 1M1 "$IT_DIR/1M1.tempo" >/dev/null || fail "tempo load"
"$B/tutti" cue add 1M2 >/dev/null || fail "cue add 1M2"
"$B/tutti" arm 1M1 >/dev/null || fail "arm"

mkdir -p "${TUTTI_TEST_OUT:-$IT_DIR/out}"
STAGE_URL=$STAGE_URL STAGE_PASSWORD=$(cat "$IT_DIR/stage.pw") STRINGS_URL=$STRINGS_URL IT_DIR=$IT_DIR TUTTI_BIN=$B CPID=$CPID \
    OUT_DIR=${TUTTI_TEST_OUT:-$IT_DIR/out} \
    timeout 150 node "$(dirname "$0")/display_browser.mjs" || fail "browser scenario"
it_log "PASS"
