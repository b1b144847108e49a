#!/usr/bin/env bash
# netsim_selftest.sh - self-test for tutti-netsim (tests/tools/tutti_netsim.c).
#
# Usage: netsim_selftest.sh /path/to/tutti-netsim
# Exit status: 0 when every check passes, 1 on a failed check, 2 on bad usage.
#
# Needs only bash (built with /dev/tcp support) and coreutils: the peer is the binary's own
# --echo-server mode, timing uses $EPOCHREALTIME (or date +%s%N on old bash).  Every process
# is started in the background with its PID recorded, and the EXIT trap kills exactly those
# PIDs and removes the mktemp directory.  Runs in well under 20 s.

set -u

BIN=${1:-}
if [[ -z $BIN || ! -x $BIN ]]; then
    echo "usage: $0 /path/to/tutti-netsim" >&2
    exit 2
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/netsim_selftest.XXXXXX") || exit 1
PIDS=() # started and not yet reaped

# shellcheck disable=SC2317  # only reached through the trap
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null
    done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() {
    echo "FAIL: $*" >&2
    local f
    for f in "$TMP"/*.err; do
        [[ -s $f ]] && { echo "--- $f:"; cat "$f"; } >&2
    done
    exit 1
}

ok() {
    echo "ok - $*"
}

# NOW = current wall-clock time in microseconds, without forking when bash allows.
now_us() {
    if [[ -n ${EPOCHREALTIME:-} ]]; then
        local t=$EPOCHREALTIME
        NOW=$((10#${t//[.,]/}))
    else
        NOW=$(($(date +%s%N) / 1000))
    fi
}

# sleep_until T_US: sleep until wall-clock time T_US (microseconds).
sleep_until() {
    now_us
    local d=$(($1 - NOW))
    ((d > 0)) && sleep "$((d / 1000000)).$(printf '%06d' $((d % 1000000)))"
}

# start NAME CMD...: run CMD in the background, logging to $TMP/NAME.{out,err}; LAST_PID=pid.
start() {
    local name=$1
    shift
    "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
    LAST_PID=$!
    PIDS+=("$LAST_PID")
}

# reap PID: wait for PID and forget it (so the trap never signals a recycled PID); RC=status.
reap() {
    local p keep=()
    wait "$1"
    RC=$?
    for p in "${PIDS[@]}"; do
        [[ $p == "$1" ]] || keep+=("$p")
    done
    PIDS=("${keep[@]}")
}

# wait_ready FILE PID: wait up to 5 s for FILE to appear while PID is alive.
wait_ready() {
    local i
    for ((i = 0; i < 500; i++)); do
        [[ -s $1 ]] && return 0
        kill -0 "$2" 2>/dev/null || fail "process $2 exited before writing $1"
        sleep 0.01
    done
    fail "timed out waiting for $1"
}

# port_of FILE [LINE]: port of the endpoint on LINE (default 1) of a ready file.
port_of() {
    local ep
    ep=$(sed -n "${2:-1}p" "$1")
    [[ $ep =~ ^tcp://127\.0\.0\.1:([0-9]+)$ ]] || fail "bad endpoint '$ep' in $1"
    echo "${BASH_REMATCH[1]}"
}

# stop_clean PID READYFILE: SIGTERM must give exit status 0 and remove the ready file.
stop_clean() {
    kill -TERM "$1"
    reap "$1"
    ((RC == 0)) || fail "process $1 exited with $RC on SIGTERM"
    [[ ! -e $2 ]] || fail "$2 still exists after clean exit"
}

# rtt_us PORT: one line through a fresh connection, RTT in microseconds in RTT.
rtt_us() {
    local fd line t0
    exec {fd}<>"/dev/tcp/127.0.0.1/$1" || fail "cannot connect to port $1"
    now_us
    t0=$NOW
    printf 'ping\n' >&"$fd"
    read -r -t 5 -u "$fd" line || fail "no echo through port $1"
    now_us
    RTT=$((NOW - t0))
    exec {fd}>&-
    [[ $line == ping ]] || fail "echo mismatch: '$line'"
}

# --- argument handling --------------------------------------------------------------------
"$BIN" --help >"$TMP/help.txt" || fail "--help failed"
grep -q -- '--outage START+LEN' "$TMP/help.txt" || fail "--help does not document --outage"
"$BIN" --listen tcp://127.0.0.1:0 --to tcp://127.0.0.1:1 --delay abc 2>/dev/null
(($? == 2)) || fail "bad --delay did not exit 2"
"$BIN" --listen tcp://127.0.0.1:0 2>/dev/null
(($? == 2)) || fail "unpaired --listen did not exit 2"
ok "usage errors exit 2, --help works"

# --- echo peer ----------------------------------------------------------------------------
start echo "$BIN" --echo-server tcp://127.0.0.1:0 --ready-file "$TMP/echo.ready"
ECHO_PID=$LAST_PID
wait_ready "$TMP/echo.ready" "$ECHO_PID"
EP=$(port_of "$TMP/echo.ready")

timeout 5 "$BIN" --listen "tcp://127.0.0.1:$EP" --to tcp://127.0.0.1:1 2>"$TMP/bind.txt"
(($? == 1)) || fail "bind to a busy port did not exit 1"
grep -q "cannot bind" "$TMP/bind.txt" || fail "no bind error message"
ok "failed bind exits 1 with a message"

# --- (1) bytes pass unchanged, both directions (jitter must not reorder) -------------------
start relay1 "$BIN" --listen tcp://127.0.0.1:0 --to "tcp://127.0.0.1:$EP" \
    --delay 2 --jitter 2 --ready-file "$TMP/r1.ready"
R1=$LAST_PID
wait_ready "$TMP/r1.ready" "$R1"
P1=$(port_of "$TMP/r1.ready")
SIZE=$((4 * 1024 * 1024))
head -c "$SIZE" /dev/urandom >"$TMP/in.bin"
exec {fd}<>"/dev/tcp/127.0.0.1/$P1" || fail "cannot connect to relay"
timeout 10 head -c "$SIZE" <&"$fd" >"$TMP/out.bin" &
HEAD_PID=$!
PIDS+=("$HEAD_PID")
cat "$TMP/in.bin" >&"$fd" || fail "write to relay failed"
reap "$HEAD_PID"
exec {fd}>&-
cmp -s "$TMP/in.bin" "$TMP/out.bin" || fail "4 MiB round trip came back different"
ok "4 MiB of random bytes up and back down unchanged (delay 2 ms, jitter 2 ms)"

# --- many concurrent connections ----------------------------------------------------------
FDS=()
for ((i = 0; i < 64; i++)); do
    exec {fd}<>"/dev/tcp/127.0.0.1/$P1" || fail "connection $i refused"
    FDS+=("$fd")
done
for i in "${!FDS[@]}"; do
    printf 'conn %d\n' "$i" >&"${FDS[i]}"
done
for i in "${!FDS[@]}"; do
    read -r -t 5 -u "${FDS[i]}" line || fail "no reply on connection $i"
    [[ $line == "conn $i" ]] || fail "connection $i got '$line'"
done
for fd in "${FDS[@]}"; do
    exec {fd}>&-
done
ok "64 concurrent connections each get their own bytes back"
stop_clean "$R1" "$TMP/r1.ready"
ok "SIGTERM: exit status 0, ready file removed"

# --- (2) delay: 50 ms each way ------------------------------------------------------------
start relay2 "$BIN" --listen tcp://127.0.0.1:0 --to "tcp://127.0.0.1:$EP" \
    --delay 50 --ready-file "$TMP/r2.ready"
R2=$LAST_PID
wait_ready "$TMP/r2.ready" "$R2"
P2=$(port_of "$TMP/r2.ready")
for ((i = 0; i < 3; i++)); do
    rtt_us "$P2"
    ((RTT >= 100000 && RTT < 300000)) || fail "--delay 50: RTT ${RTT} us not in [100, 300) ms"
    echo "     RTT $((RTT / 1000)).$(printf '%03d' $((RTT % 1000))) ms"
done
ok "--delay 50: round trip in [100, 300) ms"

# --- rate cap -----------------------------------------------------------------------------
stop_clean "$R2" "$TMP/r2.ready"
start relay3 "$BIN" --listen tcp://127.0.0.1:0 --to "tcp://127.0.0.1:$EP" \
    --up-rate 40 --ready-file "$TMP/r3.ready"
R3=$LAST_PID
wait_ready "$TMP/r3.ready" "$R3"
P3=$(port_of "$TMP/r3.ready")
SIZE=$((2 * 1000 * 1000)) # 16 Mbit at 40 Mbit/s: >= 0.4 s
head -c "$SIZE" "$TMP/in.bin" >"$TMP/in2.bin"
exec {fd}<>"/dev/tcp/127.0.0.1/$P3" || fail "cannot connect to relay"
now_us
T0=$NOW
timeout 10 head -c "$SIZE" <&"$fd" >"$TMP/out2.bin" &
HEAD_PID=$!
PIDS+=("$HEAD_PID")
cat "$TMP/in2.bin" >&"$fd" || fail "write to relay failed"
reap "$HEAD_PID"
now_us
exec {fd}>&-
cmp -s "$TMP/in2.bin" "$TMP/out2.bin" || fail "rate-limited transfer came back different"
EL=$((NOW - T0))
((EL >= 380000 && EL < 3000000)) || fail "--up-rate 40: 2 MB took ${EL} us, expected ~0.4 s"
ok "--up-rate 40: 2 MB took $((EL / 1000)) ms (cap allows >= 400 ms)"

# --- manual outage via SIGUSR1 ------------------------------------------------------------
exec {fd}<>"/dev/tcp/127.0.0.1/$P3" || fail "cannot connect to relay"
printf 'before\n' >&"$fd"
read -r -t 2 -u "$fd" line || fail "no echo before SIGUSR1"
kill -USR1 "$R3"
sleep 0.1
printf 'held\n' >&"$fd"
if read -r -t 0.5 -u "$fd" line; then
    fail "data moved during a SIGUSR1 outage"
fi
kill -USR1 "$R3"
read -r -t 2 -u "$fd" line || fail "held data not delivered after SIGUSR1 outage ended"
[[ $line == held ]] || fail "after outage got '$line'"
exec {fd}>&-
ok "SIGUSR1 toggles an outage: nothing moves, then held bytes arrive"
stop_clean "$R3" "$TMP/r3.ready"

# --- (3) scheduled outage 1+1, two listen/to pairs sharing it ------------------------------
now_us
T_LAUNCH=$NOW # the relay's clock starts no earlier than this
start relay4 "$BIN" --listen tcp://127.0.0.1:0 --to "tcp://127.0.0.1:$EP" \
    --listen tcp://127.0.0.1:0 --to "tcp://127.0.0.1:$EP" \
    --outage 1+1 --ready-file "$TMP/r4.ready"
R4=$LAST_PID
wait_ready "$TMP/r4.ready" "$R4"
now_us
T_READY=$NOW # ... and no later than this
((T_READY - T_LAUNCH < 800000)) || fail "relay took too long to start to time the outage"
P4A=$(port_of "$TMP/r4.ready" 1)
P4B=$(port_of "$TMP/r4.ready" 2)
[[ $(wc -l <"$TMP/r4.ready") -eq 2 ]] || fail "ready file should list 2 endpoints"
cmp -s "$TMP/r4.ready" "$TMP/relay4.out" || fail "stdout and ready file differ"
rtt_us "$P4A"
((RTT < 300000)) || fail "before the outage, RTT ${RTT} us is too long"
exec {fa}<>"/dev/tcp/127.0.0.1/$P4A" || fail "cannot connect to pair 1"
exec {fb}<>"/dev/tcp/127.0.0.1/$P4B" || fail "cannot connect to pair 2"
# Send at 1.2 s after launch, but surely after the relay's outage start (its t0 <= T_READY).
T_SEND=$((T_LAUNCH + 1200000))
((T_SEND < T_READY + 1050000)) && T_SEND=$((T_READY + 1050000))
sleep_until "$T_SEND"
printf 'during-a\n' >&"$fa"
printf 'during-b\n' >&"$fb"
read -r -t 4 -u "$fa" la || fail "pair 1: data sent during the outage never arrived"
now_us
TA=$((NOW - T_LAUNCH))
read -r -t 4 -u "$fb" lb || fail "pair 2: data sent during the outage never arrived"
now_us
TB=$((NOW - T_LAUNCH))
exec {fa}>&- {fb}>&-
[[ $la == during-a && $lb == during-b ]] || fail "outage data mismatch: '$la' '$lb'"
((TA >= 2000000 && TB >= 2000000)) || fail "outage: arrived at ${TA}/${TB} us, before 2.0 s"
((TA < 3500000 && TB < 3500000)) || fail "outage: arrived at ${TA}/${TB} us, too late"
echo "     sent at $(((T_SEND - T_LAUNCH) / 1000)) ms, arrived at $((TA / 1000)) and" \
    "$((TB / 1000)) ms after launch"
ok "--outage 1+1: data sent at t=1.2 s arrives at t >= 2.0 s on both pairs"
stop_clean "$R4" "$TMP/r4.ready"

stop_clean "$ECHO_PID" "$TMP/echo.ready"
# A sanitizer build (-fsanitize=address,undefined) reports to stderr; leaks also change the
# exit status, which stop_clean already checked.
if grep -l -E 'runtime error|Sanitizer' "$TMP"/*.err >/dev/null 2>&1; then
    fail "sanitizer reports in the relay/echo logs"
fi
ok "all checks passed"
exit 0
