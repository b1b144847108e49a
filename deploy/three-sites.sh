#!/bin/bash
# A session across three sites, on one machine (issue #17 point 5).
#
#   site A  the coordinator and the operator (tutti CLI)
#   site B  the main stage room (tutti-agent --room stage, clicking into a WAV)
#   site C  an overdub room (tutti-agent --room overdub, recording a take)
#
# Each site is a network namespace; B and C reach A over a veth link. This
# kernel has no netem, so each remote site's WAN path is a tutti-netsim
# (the project's user-space TCP link simulator) on that site's loopback:
# B 40 ms +/- 5 ms each way, C 25 ms +/- 3 ms, and C's link goes down for a
# few seconds in the middle of the take. The programs are the INSTALLED
# ones: from PATH, or with --root DIR the ones installed in the Debian root
# DIR (each run as `chroot DIR ...` inside its site's namespace).
#
# What it shows: the contractor's dashboard at site A; both rooms lock to the coordinator's clock across the WAN,
# a cue is rolled, the overdub room records the take from its input (here
# a click-track WAV played in as its microphone, --capture-from) and keeps
# recording through its link outage, the file uploads by itself once the
# link is back, and the coordinator verifies it: the media record's
# BLAKE2b-256 hash equals the hash of the coordinator's copy and of the
# room's own file, `tutti media fetch` says "verified", and `tutti verify`
# checks the whole signed log.
#
# With --units (needs --root; the package's files are read from DIR) the
# coordinator and both agents are started the way systemd would start
# them, without systemd: each unit's ExecStart line is read from
# DIR/lib/systemd/system, %i and the EnvironmentFile's variables expanded,
# StateDirectory made, and run as its User= (chroot --userspec). The
# configuration goes to DIR/etc/tutti as an administrator would write it.
#
# Needs root (namespaces), ip (iproute2), jq, b2sum (curl to read the
# dashboard, where it is installed), and tutti-netsim (a
# test tool, not in the package: --netsim PATH, default `tutti-netsim` on
# PATH or build/bin/tutti-netsim). Everything it makes (namespaces, veths,
# processes by PID, its work folder, a /proc it mounted, and with --units
# what it wrote in /etc/tutti and /var/lib/tutti) is removed at exit.
# Bounded: every wait has a limit, the whole run 240 s; 20-40 s in all.
#
# Usage: deploy/three-sites.sh [--root DIR] [--units] [--netsim PATH] [--keep]
set -u
here=$(cd "$(dirname "$0")" && pwd)
ROOT="" UNITS=0 NETSIM="" KEEP=0
while [ $# -gt 0 ]; do
    case $1 in
    --root) ROOT=$(cd "$2" && pwd) || exit 2; shift 2 ;;
    --units) UNITS=1; shift ;;
    --netsim) NETSIM=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h | --help) sed -n '2,/^set -u/p' "$0" | sed 's/^# \{0,1\}//;/^set -u/d'; exit 0 ;;
    *) echo "three-sites: unknown option $1 (--help)" >&2; exit 2 ;;
    esac
done
T0=$(date +%s%N)
say() { printf '[%6.1f s] %s\n' "$(( ($(date +%s%N) - T0) / 1000000 ))e-3" "$*"; }
step() { printf '\n'; say "== $*"; }
die() { say "three-sites: FAILED: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || { echo "three-sites: needs root (network namespaces)" >&2; exit 77; }
for t in ip jq b2sum; do command -v $t >/dev/null || { echo "three-sites: needs $t" >&2; exit 77; }; done
[ $UNITS = 0 ] || [ -n "$ROOT" ] || { echo "three-sites: --units needs --root DIR" >&2; exit 2; }
if [ -z "$NETSIM" ]; then
    NETSIM=$(command -v tutti-netsim || echo "$here/../build/bin/tutti-netsim")
fi
[ -x "$NETSIM" ] || { echo "three-sites: no tutti-netsim at $NETSIM (--netsim PATH)" >&2; exit 77; }
if [ -n "$ROOT" ]; then
    [ -x "$ROOT/usr/bin/tutti" ] || die "$ROOT has no /usr/bin/tutti (install the package there)"
    INROOT=(chroot "$ROOT")
else
    command -v tutti >/dev/null || die "tutti is not on PATH (install the package, or --root DIR)"
    INROOT=()
fi

# The work folder is inside the root, so chrooted programs see it: $W is its
# path from here, $P the same folder as the programs see it.
mkdir -p "$ROOT/tmp"
W=$(mktemp -d "$ROOT/tmp/tutti-3sites.XXXXXX") || die "mktemp"
P=${W#"$ROOT"}
tag=$$
NS_A=tt3a$tag NS_B=tt3b$tag NS_C=tt3c$tag
PIDS=() NSS=() MOUNTED="" MADE=()
cleanup() {
    local rc=$? p
    kill "$WATCHDOG" 2>/dev/null
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    for n in "${NSS[@]}"; do ip netns del "$n" 2>/dev/null; done
    [ -n "$MOUNTED" ] && umount "$MOUNTED"
    [ $KEEP = 1 ] || for p in "${MADE[@]}"; do rm -rf "$p"; done
    if [ $rc -ne 0 ]; then
        for f in "$W"/*.log; do [ -f "$f" ] && { echo "----- $f"; tail -20 "$f"; }; done
    fi
    if [ $KEEP = 1 ]; then echo "three-sites: kept $W"; else rm -rf "$W"; fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 1' INT TERM
# Bounded: whatever hangs, the whole walkthrough ends (and cleans up) by 240 s.
(
    sleep 240 &
    trap 'kill $! 2>/dev/null; exit 0' TERM
    wait $! && echo "three-sites: over 240 s, giving up" >&2 && kill -TERM $$
) &
WATCHDOG=$!
if [ -n "$ROOT" ] && ! mountpoint -q "$ROOT/proc"; then
    mount -t proc proc "$ROOT/proc" || die "mount proc in $ROOT"
    MOUNTED=$ROOT/proc
fi

# spawn NAME SITE cmd...: in the background, output to $W/NAME.log.
spawn() {
    local name=$1 n=$2; shift 2
    ip netns exec "$n" "$@" >>"$W/$name.log" 2>&1 &
    PIDS+=($!)
    LAST=$!
}
wait_for() { # SECONDS cmd...
    local end=$(( $(date +%s) + $1 )); shift
    until "$@" >/dev/null 2>&1; do [ "$(date +%s)" -lt $end ] || return 1; sleep 0.2; done
}

step "three sites: network namespaces $NS_A (coordinator), $NS_B (stage), $NS_C (overdub)"
for n in $NS_A $NS_B $NS_C; do
    ip netns add "$n" || die "ip netns add $n"
    NSS+=("$n")
    ip -n "$n" link set lo up
done
# link SITE SUBNET: a veth from site A (10.201.SUBNET.1) to SITE (.2).
link() {
    ip link add "v3a$2$tag" netns "$NS_A" type veth peer name "v3s$2$tag" netns "$1" || die "veth"
    ip -n "$NS_A" addr add "10.201.$2.1/24" dev "v3a$2$tag"
    ip -n "$1" addr add "10.201.$2.2/24" dev "v3s$2$tag"
    ip -n "$NS_A" link set "v3a$2$tag" up
    ip -n "$1" link set "v3s$2$tag" up
}
link "$NS_B" 1
link "$NS_C" 2
say "site A 10.201.1.1 <-> site B 10.201.1.2, site A 10.201.2.1 <-> site C 10.201.2.2 (veth)"

# Session bundles (tutti init/invite) where this tutti has them, else keys
# and an access file made by hand, and flags.
BUNDLES=0
"${INROOT[@]}" tutti init --help 2>&1 | grep -q "tutti init SESSION" && BUNDLES=1
PARTS=(conductor:operator contractor:contractor stage:room overdub:room)
if [ $BUNDLES = 1 ]; then
    step "the session (site A): tutti init, and a bundle per participant (tutti invite)"
    S=$P/session
    # Every site dials its own loopback: the coordinator there at site A,
    # the site's tutti-netsim (its WAN link) at B and C.
    "${INROOT[@]}" tutti init three-sites --dir "$S" --coordinator tcp://127.0.0.1:7700 \
        >/dev/null || die "tutti init"
    for x in "${PARTS[@]}"; do
        "${INROOT[@]}" tutti invite "${x%%:*}" --role "${x#*:}" --session "$S" >/dev/null ||
            die "tutti invite ${x%%:*}"
    done
    ls "$W/session/bundles"
    ACCESS_FILE=$W/session/access
    COORD_ID=(--config "$S/coordinator.ini")
    id_of() { echo --bundle "$S/bundles/$1.tutti"; }   # NAME: its flags
    OP_ENV=(TUTTI_BUNDLE="$S/bundles/conductor.tutti")
    # What site A hands each site: its bundle, nothing else.
    ETC_FILES=(coordinator.ini coordinator.key access)
    SECRETS=(coordinator.key contractor.tutti stage.tutti overdub.tutti)
else
    step "keys and the access file (site A); each site gets its key and the coordinator's public key"
    K=$P/keys
    for x in coordinator:- "${PARTS[@]}"; do
        "${INROOT[@]}" tutti keygen "${x%%:*}" --dir "$K" >/dev/null || die "keygen ${x%%:*}"
    done
    pub() { sed -n 's/^ *public-key = "\(.*\)"/\1/p' "$W/keys/$1.pub"; }
    { echo "# role name public-key"
      for x in "${PARTS[@]}"; do echo "${x#*:} ${x%%:*} $(pub "${x%%:*}")"; done; } > "$W/access"
    ACCESS_FILE=$W/access
    COORD_ID=(--key "$K/coordinator.key" --access "$P/access" --session three-sites)
    id_of() { echo --key "$K/$1.key" --server-key "$K/coordinator.pub"; }
    OP_ENV=(TUTTI_SERVER_KEY="$K/coordinator.pub" TUTTI_KEY="$K/conductor.key")
    ETC_FILES=(coordinator.key coordinator.pub access)
    SECRETS=(coordinator.key contractor.key stage.key overdub.key)
fi
cat "$ACCESS_FILE"

# The overdub room's "microphone": a click every half second, 30 s, 48 kHz
# 16-bit mono, played in as its input.
le() { local v=$1 n=$2 i; for ((i = 0; i < n; i++)); do printf "\\x$(printf %02x $(( (v >> (8 * i)) & 255 )))"; done; }
{
    frames=$((48000 * 30)); bytes=$((frames * 2))
    printf 'RIFF'; le $((36 + bytes)) 4; printf 'WAVEfmt '; le 16 4; le 1 2; le 1 2
    le 48000 4; le 96000 4; le 2 2; le 16 2; printf 'data'; le $bytes 4
    { for _ in $(seq 96); do printf '\x00\x30'; done; head -c $((48000 - 192)) /dev/zero; } > "$W/half.raw"
    for _ in $(seq 60); do cat "$W/half.raw"; done
} > "$W/overdub-in.wav"
rm -f "$W/half.raw"

PORTS=(7700 7701 7702 7703) # requests, updates, clock, uploads
if [ $UNITS = 1 ]; then
    step "configuration in $ROOT/etc/tutti, as an administrator writes it"
    E=$ROOT/etc/tutti
    [ -d "$E" ] || die "$E missing: the package's postinst makes it"
    for d in coordinator agent-stage agent-overdub dash; do
        [ ! -e "$ROOT/var/lib/tutti/$d" ] || die "$ROOT/var/lib/tutti/$d exists: not overwriting a session"
        MADE+=("$ROOT/var/lib/tutti/$d")
    done
    for f in "${ETC_FILES[@]}" "${SECRETS[@]}" coordinator.env agent-stage.env \
        agent-overdub.env dash.env overdub-in.wav; do
        [ ! -e "$E/$f" ] || die "$E/$f exists: not overwriting a configuration"
        MADE+=("$E/$f")
    done
    if [ $BUNDLES = 1 ]; then
        cp "$W/session/coordinator.ini" "$W/session/coordinator.key" "$W/session/access" "$E/" &&
            cp "$W/session/bundles/contractor.tutti" "$W/session/bundles/stage.tutti" \
                "$W/session/bundles/overdub.tutti" "$E/" || die "copy the session"
        ID_ARGS() { echo "--bundle /etc/tutti/$1.tutti"; }
        CONN_ENV() { :; }
        COORD_ARGS="--config /etc/tutti/coordinator.ini"
    else
        cp "$W/keys/coordinator.key" "$W/keys/coordinator.pub" "$W/keys/contractor.key" \
            "$W/keys/stage.key" "$W/keys/overdub.key" "$W/access" "$E/" || die "copy keys"
        ID_ARGS() { [ "$1" = contractor ] && echo "--key /etc/tutti/$1.key"; }
        CONN_ENV() {
            printf 'TUTTI_SERVER_KEY=/etc/tutti/coordinator.pub\n'
            [ "$1" = contractor ] || printf 'TUTTI_KEY=/etc/tutti/%s.key\n' "$1"
        }
        COORD_ARGS="--key /etc/tutti/coordinator.key --access /etc/tutti/access --session three-sites"
    fi
    # The programs refuse a secret key (or bundle) others can read: each is tutti's, 0600.
    for f in "${SECRETS[@]}"; do
        chroot "$ROOT" chown tutti:tutti "/etc/tutti/$f" && chmod 0600 "$E/$f" || die "chown $f"
    done
    chroot "$ROOT" chgrp tutti /etc/tutti/access && chmod 0640 "$E/access" || die "access file"
    cat > "$E/coordinator.env" <<EOF
TUTTI_COORDINATOR_ARGS=$COORD_ARGS --bind tcp://0.0.0.0:7700 --pub-bind tcp://0.0.0.0:7701 --clock-bind tcp://0.0.0.0:7702 --upload-bind tcp://0.0.0.0:7703
EOF
    for r in stage overdub; do
        extra="--click-wav /var/lib/tutti/agent-$r/click.wav"
        [ $r = overdub ] && extra="--capture /var/lib/tutti/agent-$r/takes --capture-from /etc/tutti/overdub-in.wav"
        cat > "$E/agent-$r.env" <<EOF
TUTTI_COORDINATOR=tcp://127.0.0.1:7700
$(CONN_ENV $r)
TUTTI_AGENT_ARGS=$(ID_ARGS $r) --updates tcp://127.0.0.1:7701 --clock tcp://127.0.0.1:7702 $extra
EOF
    done
    cat > "$E/dash.env" <<EOF
TUTTI_COORDINATOR=tcp://127.0.0.1:7700
$(CONN_ENV contractor)
TUTTI_DASH_ARGS=$(ID_ARGS contractor) --http 127.0.0.1:8080
EOF
    # Not in /tmp: the unit's PrivateTmp hides the host's /tmp from it.
    install -m 0644 "$W/overdub-in.wav" "$E/overdub-in.wav"
    head -50 "$E"/*.env
    COORD_DATA=/var/lib/tutti/coordinator
    CAP_C=/var/lib/tutti/agent-overdub/takes
else
    COORD_DATA=$P/coord
    CAP_C=$P/takes-overdub
fi

# start_unit SITE UNIT [INSTANCE]: what systemd would run for UNIT: its
# ExecStart with %i, ${STATE_DIRECTORY} and the EnvironmentFile's variables
# expanded ($VAR split at whitespace, ${VAR} one word, as systemd does), as
# User=:Group=, with its StateDirectory= made.
start_unit() {
    local n=$1 unit=$2 inst=${3:-} f key val w
    f=$ROOT/lib/systemd/system/$unit
    [ -f "$f" ] || die "no unit $f"
    get() { sed -n "s/^$1=//p" "$f" | sed "s/%i/$inst/g" | head -1; }
    local user group state envf exec
    user=$(get User) group=$(get Group) state=/var/lib/$(get StateDirectory)
    envf=$(get EnvironmentFile) exec=$(get ExecStart)
    [ -n "$user" ] && [ -n "$exec" ] && [ -n "$envf" ] || die "$unit: User, ExecStart, EnvironmentFile"
    chroot "$ROOT" install -d -o "$user" -g "$group" -m "$(get StateDirectoryMode)" "$state" ||
        die "$unit: StateDirectory $state"
    local -A env=([STATE_DIRECTORY]=$state)
    while IFS= read -r line; do
        case $line in '' | '#'*) continue ;; esac
        key=${line%%=*} val=${line#*=}
        env[$key]=$val
    done < "$ROOT${envf#-}"
    local argv=() envv=(PATH=/usr/bin:/bin)
    for key in "${!env[@]}"; do envv+=("$key=${env[$key]}"); done
    for w in $exec; do
        if [[ $w =~ ^\$\{([A-Za-z_0-9]+)\}$ ]]; then argv+=("${env[${BASH_REMATCH[1]}]:-}")
        elif [[ $w =~ ^\$([A-Za-z_0-9]+)$ ]]; then
            # shellcheck disable=SC2206
            argv+=(${env[${BASH_REMATCH[1]}]:-})
        else argv+=("$w"); fi
    done
    say "$unit${inst:+ ($inst)}: ${argv[*]}  [as $user, in $n]"
    spawn "${unit%%.service}$inst" "$n" chroot --userspec="$user:$group" "$ROOT" \
        env -i "${envv[@]}" "${argv[@]}"
}

step "site A: the coordinator (requests, updates, clock, uploads on ports ${PORTS[*]})"
if [ $UNITS = 1 ]; then
    start_unit "$NS_A" tutti-coordinator.service
else
    spawn coordinator "$NS_A" "${INROOT[@]}" tutti-coordinator "${COORD_ID[@]}" \
        --data "$COORD_DATA" --bind tcp://0.0.0.0:7700 \
        --pub-bind tcp://0.0.0.0:7701 --clock-bind tcp://0.0.0.0:7702 \
        --upload-bind tcp://0.0.0.0:7703
fi
COORD_PID=$LAST
TUTTI_COORDINATOR=tcp://127.0.0.1:7700
op() { ip netns exec "$NS_A" "${INROOT[@]}" env TUTTI_COORDINATOR="$TUTTI_COORDINATOR" \
    "${OP_ENV[@]}" tutti "$@"; }
wait_for 15 op status || die "the coordinator did not answer"
say "coordinator answers at $TUTTI_COORDINATOR in site A"

say "the contractor's dashboard at site A: http://127.0.0.1:8080/ (in site A)"
if [ $UNITS = 1 ]; then
    start_unit "$NS_A" tutti-dash.service
else
    # shellcheck disable=SC2046
    spawn dash "$NS_A" "${INROOT[@]}" tutti-dash $(id_of contractor) \
        --coordinator "$TUTTI_COORDINATOR" --data "$P/dash" --http 127.0.0.1:8080
fi
DASH=()
command -v curl >/dev/null && DASH=(ip netns exec "$NS_A" curl -sf http://127.0.0.1:8080/api/state)

step "the WAN: a tutti-netsim on each remote site's loopback, to site A"
# wan SITE SUBNET DELAY JITTER: ports 7700-7703 on the site's 127.0.0.1 reach A.
wan() {
    local args=() p
    for p in "${PORTS[@]}"; do args+=(--listen "tcp://127.0.0.1:$p" --to "tcp://10.201.$2.1:$p"); done
    spawn "netsim-$2" "$1" "$NETSIM" "${args[@]}" --delay "$3" --jitter "$4" \
        --ready-file "$W/netsim-$2.ready"
    NETSIM_PID=$LAST
    wait_for 10 bash -c "[ \$(wc -l < $W/netsim-$2.ready) -ge 4 ]" 2>/dev/null ||
        die "tutti-netsim in $1 did not start"
    say "site $( [ "$2" = 1 ] && echo B || echo C): $3 ms +/- $4 ms each way to site A"
}
wan "$NS_B" 1 40 5
NETSIM_B=$NETSIM_PID
wan "$NS_C" 2 25 3
NETSIM_C=$NETSIM_PID

step "sites B and C: the room agents (stage clicks into a WAV, overdub records its input)"
if [ $UNITS = 1 ]; then
    start_unit "$NS_B" tutti-agent@.service stage
    start_unit "$NS_C" tutti-agent@.service overdub
else
    via=(--coordinator tcp://127.0.0.1:7700 --updates tcp://127.0.0.1:7701 --clock tcp://127.0.0.1:7702)
    # shellcheck disable=SC2046
    spawn agent-stage "$NS_B" "${INROOT[@]}" tutti-agent --room stage $(id_of stage) \
        --data "$P/agent-stage" "${via[@]}" --click-wav "$P/stage-click.wav"
    # shellcheck disable=SC2046
    spawn agent-overdub "$NS_C" "${INROOT[@]}" tutti-agent --room overdub $(id_of overdub) \
        --data "$P/agent-overdub" "${via[@]}" --capture "$CAP_C" --capture-from "$P/overdub-in.wav"
fi
locked() { [ "$(op status --json | jq '[.rooms[] | select(.clock.state == "locked")] | length')" = 2 ]; }
wait_for 30 locked || { op status; die "the rooms' clocks did not lock"; }
op status --json | jq -r '.rooms[] | "room \(.name): \(.clock.state), offset \(.clock.offset_us) us, rtt \(.clock.rtt_us) us, error bound \(.clock.error_bound_us) us"'

step "the operator (site A) loads cue 1M1 and rolls it"
printf 'countoff 1\nbar 1 4/4 q=120\n' > "$W/1M1.tempo"
op cue add 1M1 --title "three sites" >/dev/null || die "cue add"
op tempo load 1M1 "$P/1M1.tempo" || die "tempo load"
op arm 1M1 >/dev/null || die arm
op roll 1M1 --lead-ms 500 || die roll
sleep 3
say "site C's link goes down (tutti-netsim outage): the room keeps its clock and keeps recording"
kill -USR1 "$NETSIM_C"
sleep 3
kill -USR1 "$NETSIM_C"
say "site C's link is back"
sleep 3
op stop || die stop

step "the take's file travels from site C to site A by itself"
media() { op history --json --kind media | jq -c 'select(.room == "overdub" and .take == 1)'; }
has_media() { [ -n "$(media)" ]; }
wait_for 40 has_media || die "no media record of the overdub take"
rec=$(media)
echo "$rec" | jq .
file=$(echo "$rec" | jq -r .file) hash=$(echo "$rec" | jq -r .hash)
grep -h "clock: " "$W"/*overdub*.log | grep -v "using\|trim" | sed 's/^/  overdub: /' | tail -4

if [ ${#DASH[@]} -gt 0 ]; then
    dash_take() { "${DASH[@]}" | jq -e '.cues[] | select(.name == "1M1") | .takes[]
        | select(.take == 1 and (.media | contains("overdub")))'; }
    wait_for 10 dash_take || die "the dashboard does not show take 1's file from overdub"
    say "the dashboard's view (GET /api/state):"
    "${DASH[@]}" | jq -c '{rooms: [.rooms[] | {name, online, clock: .clock.state}],
        takes: [.cues[] | {cue: .name, takes: [.takes[] | {take, state, media}]}]}'
fi

step "verified at the coordinator"
h_coord=$(b2sum -l 256 "$ROOT$COORD_DATA/media/$file" | cut -c1-64)
h_room=$(b2sum -l 256 "$ROOT$CAP_C/$file" | cut -c1-64)
echo "  record's hash      $hash"
echo "  coordinator's copy $h_coord  ($COORD_DATA/media/$file)"
echo "  room's own file    $h_room  (site C: $CAP_C/$file)"
[ "$hash" = "$h_coord" ] && [ "$hash" = "$h_room" ] || die "hashes differ"
got=$(op media fetch 1M1 1 --room overdub --out "$P/fetched") || die "media fetch: $got"
echo "  tutti media fetch: $got"
echo "$got" | grep -q "verified" || die "media fetch did not verify"
say "stopping the rooms and the coordinator"
for p in "${PIDS[@]}"; do [ "$p" = "$COORD_PID" ] || kill -TERM "$p" 2>/dev/null; done
for p in "${PIDS[@]}"; do [ "$p" = "$COORD_PID" ] || wait "$p" 2>/dev/null; done
kill -TERM "$COORD_PID"; wait "$COORD_PID" || die "the coordinator did not stop cleanly"
PIDS=()
v=$("${INROOT[@]}" tutti verify "$COORD_DATA" --json) || die "tutti verify: $v"
echo "  tutti verify $COORD_DATA: $(echo "$v" | jq -c .)"
step "done in $(( ($(date +%s%N) - T0) / 1000000000 )) s: a take recorded at site C, verified at site A"
