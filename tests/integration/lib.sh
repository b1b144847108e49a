# Shared helpers for the integration tests. Source it, then call it_setup.
#
# Every process a test starts is recorded with it_spawn and ended by PID in
# the EXIT trap; logs go to $IT_DIR/*.log and are scanned for sanitizer
# reports at the end, so a finding in a background process fails the test.
set -u
B=${TUTTI_BIN:?set TUTTI_BIN to the build bin directory}
IT_PIDS=()
IT_FAILED=0

it_log() { printf '[%s] %s\n' "$(date +%H:%M:%S.%N | cut -c1-12)" "$*"; }
fail() { it_log "FAIL: $*"; IT_FAILED=1; exit 1; }

IT_LATE_PIDS=()

# it_end PID...: SIGTERM to all, then each gets 5 s before SIGKILL.
it_end() {
    local pid
    for pid in "$@"; do
        kill -TERM "$pid" 2>/dev/null
    done
    for pid in "$@"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
}

it_cleanup() {
    local rc=$?
    local first=() pid
    for pid in "${IT_PIDS[@]}"; do
        [[ " ${IT_LATE_PIDS[*]} " == *" $pid "* ]] || first+=("$pid")
    done
    it_end "${first[@]}"
    it_end "${IT_LATE_PIDS[@]}" # servers (it_end_last) once their clients are gone
    if grep -l -E "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:" "$IT_DIR"/*.log \
        2>/dev/null; then
        it_log "FAIL: sanitizer report in the logs above"
        grep -h -A20 -E "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:" "$IT_DIR"/*.log | head -60
        rc=1
    fi
    if [ $rc -ne 0 ] && [ -d "$IT_DIR" ]; then
        for f in "$IT_DIR"/*.log; do
            [ -f "$f" ] || continue
            echo "----- $f (last 30 lines)"; tail -30 "$f"
        done
    fi
    rm -rf "$IT_DIR"
    exit $rc
}

# Makes a temp dir, keys for the coordinator, an operator, two rooms, an
# observer, a contractor and a stranger (not in the access file).
it_setup() {
    IT_DIR=$(mktemp -d /tmp/tutti-it.XXXXXX)
    trap it_cleanup EXIT
    trap 'exit 1' INT TERM
    K=$IT_DIR/keys
    for n in coordinator conductor stage strings lobby contractor stranger; do
        "$B/tutti" keygen "$n" --dir "$K" >/dev/null || fail "keygen $n"
    done
    {
        echo "# role  name  key"
        echo "operator   conductor      $(it_pub conductor)"
        echo "room       stage          $(it_pub stage)"
        echo "room       london-strings $(it_pub strings)"
        echo "observer   lobby          $(it_pub lobby)"
        echo "contractor contractor     $(it_pub contractor)"
    } > "$IT_DIR/access"
    export TUTTI_SERVER_KEY=$K/coordinator.pub TUTTI_KEY=$K/conductor.key
}

it_pub() { sed -n 's/^ *public-key = "\(.*\)"/\1/p' "$K/$1.pub"; }

# it_spawn NAME cmd... : starts cmd in the background, logs to NAME.log.
it_spawn() {
    local name=$1; shift
    "$@" >>"$IT_DIR/$name.log" 2>&1 &
    IT_LAST_PID=$!
    IT_PIDS+=("$IT_LAST_PID")
}

# it_end_last PID: at cleanup, PID (a server others are clients of) gets
# SIGTERM only after every other process has ended.
it_end_last() { IT_LATE_PIDS+=("$1"); }

# it_start_coordinator [BIND]: default binds a free port; sets EP and CPID.
it_start_coordinator() {
    local bind=${1:-tcp://127.0.0.1:*}
    rm -f "$IT_DIR/endpoint"
    it_spawn coordinator "$B/tutti-coordinator" --data "$IT_DIR/coord" --key "$K/coordinator.key" \
        --access "$IT_DIR/access" --bind "$bind" --endpoint-file "$IT_DIR/endpoint" \
        --session it-session
    CPID=$IT_LAST_PID
    it_wait_for 10 test -s "$IT_DIR/endpoint" || fail "coordinator did not start"
    EP=$(head -1 "$IT_DIR/endpoint")
    UPDATES_EP=$(sed -n 2p "$IT_DIR/endpoint")
    CLOCK_EP=$(sed -n 3p "$IT_DIR/endpoint")
    export TUTTI_COORDINATOR=$EP
}

# it_start_agent ROOM KEYNAME: sets APID.
it_start_agent() {
    it_spawn "agent-$1" "$B/tutti-agent" --room "$1" --key "$K/$2.key" --data "$IT_DIR/agent-$1"
    APID=$IT_LAST_PID
}

# it_wait_for SECONDS cmd...: polls cmd every 0.1 s until it succeeds.
it_wait_for() {
    local limit=$1; shift
    local end=$(( $(date +%s%N) + limit * 1000000000 ))
    while [ "$(date +%s%N)" -lt $end ]; do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}

# it_stop PID: polite stop; fails the test unless the process exits 0
# (a sanitizer finding at exit makes it non-zero).
it_stop() {
    kill -TERM "$1" 2>/dev/null
    local rc=0
    wait "$1" || rc=$?
    [ $rc -eq 0 ] || fail "process $1 exited $rc after SIGTERM"
}

# it_head_of DIR: the head hash `tutti verify` computes for a store.
it_head_of() { "$B/tutti" verify "$1" --json 2>/dev/null | jq -r .head_hash; }

# it_need_browser: node and Debian's chromium for the browser tests, installed
# when missing (as root); exits 77 (skip) where they cannot be had.
it_need_browser() {
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
            { echo "SKIP: could not install chromium"; exit 77; }
    fi
}

# it_start_dash NAME KEYNAME [options...]: starts tutti-dash on a free
# loopback port; sets DPID and DURL.
it_start_dash() {
    local name=$1 key=$2; shift 2
    rm -f "$IT_DIR/$name.port"
    it_spawn "$name" "$B/tutti-dash" --key "$K/$key.key" --data "$IT_DIR/$name-data" \
        --http 127.0.0.1:0 --port-file "$IT_DIR/$name.port" "$@"
    DPID=$IT_LAST_PID
    it_wait_for 10 test -s "$IT_DIR/$name.port" || fail "$name did not start"
    DURL="http://127.0.0.1:$(cat "$IT_DIR/$name.port")"
}
