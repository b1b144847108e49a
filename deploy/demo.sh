#!/bin/bash
# The main job: a local multi-room session on localhost, no configuration.
# Generates keys into a temp dir, starts a coordinator and two room agents
# (stage, london-strings), writes a few operator notes, prints
# `tutti status` and `tutti history`, verifies every store, and shuts
# everything down cleanly.
#
# Usage: deploy/demo.sh [BUILD_BIN_DIR]   (default: build/bin)
set -u
here=$(cd "$(dirname "$0")" && pwd)
B=$(cd "${1:-$here/../build/bin}" && pwd) || { echo "demo: no build dir; build first" >&2; exit 1; }
D=$(mktemp -d /tmp/tutti-demo.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    rm -rf "$D"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
step() { printf '\n== %s\n' "$*"; }
die() { echo "demo: $*" >&2; exit 1; }

step "keys (into $D/keys)"
for n in coordinator conductor stage london-strings; do
    "$B/tutti" keygen "$n" --dir "$D/keys" || die "keygen $n"
done
pub() { sed -n 's/^ *public-key = "\(.*\)"/\1/p' "$D/keys/$1.pub"; }
cat > "$D/access" <<ACCESS
# role   name            public key
operator conductor       $(pub conductor)
room     stage           $(pub stage)
room     london-strings  $(pub london-strings)
ACCESS

step "coordinator and two room agents"
"$B/tutti-coordinator" --data "$D/coord" --key "$D/keys/coordinator.key" --access "$D/access" \
    --bind 'tcp://127.0.0.1:*' --endpoint-file "$D/endpoint" --session "demo scoring session" \
    2> "$D/coordinator.log" &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$D/endpoint" ] && break; sleep 0.1; done
[ -s "$D/endpoint" ] || { cat "$D/coordinator.log"; die "coordinator did not start"; }
export TUTTI_COORDINATOR=$(head -1 "$D/endpoint")
export TUTTI_SERVER_KEY=$D/keys/coordinator.pub TUTTI_KEY=$D/keys/conductor.key
echo "coordinator at $TUTTI_COORDINATOR"
for room in stage london-strings; do
    "$B/tutti-agent" --room "$room" --key "$D/keys/$room.key" --data "$D/agent-$room" \
        2> "$D/agent-$room.log" &
    PIDS+=($!)
done
all_online() { "$B/tutti" status --json 2>/dev/null | grep -o '"online":true' | wc -l | grep -qx 2; }
for _ in $(seq 100); do all_online && break; sleep 0.1; done
all_online || die "rooms did not come online"

step "operator notes"
"$B/tutti" note "Downbeat 10:00. Cue 1M1 first, then 2M3." || die note
"$B/tutti" note "1M1 bars 12-16: horns tacet (composer)" || die note
"$B/tutti" note "London strings: mute on from bar 20" || die note
sleep 1.2   # one heartbeat, so every room reports its replica position

step "tutti status"
"$B/tutti" status || die status
step "tutti history"
"$B/tutti" history || die history

step "shutdown and verification"
for p in "${PIDS[@]}"; do kill -TERM "$p"; done
rc=0
for p in "${PIDS[@]}"; do wait "$p" || rc=1; done
PIDS=()
[ $rc -eq 0 ] || die "a process did not stop cleanly"
for d in coord agent-stage agent-london-strings; do
    "$B/tutti" verify "$D/$d" || die "verify $d"
done
echo
echo "demo: done. Every store verified; all processes stopped cleanly."
