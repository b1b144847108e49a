#!/bin/bash
# The main job: a local multi-room session on localhost, no configuration.
# Generates keys into a temp dir, starts a coordinator and three room agents
# (stage; london-strings on a simulated clock 2.5 s ahead and 150 ppm fast;
# overdub-home), each rendering click + LTC to a WAV as if a sound card ran
# on its own clock. Loads the example tempo map (a meter change and a ramp),
# rolls it from bar 7, stops, and prints per room how far its clicks landed
# from the stage room's, in samples. The contractor's dashboard (tutti-dash)
# runs beside them: the call starts, players check in, and the page's state
# and the union report draft are printed. Then status, history,
# verification and a clean shutdown.
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
for n in coordinator conductor contractor stage london-strings overdub-home; do
    "$B/tutti" keygen "$n" --dir "$D/keys" || die "keygen $n"
done
pub() { sed -n 's/^ *public-key = "\(.*\)"/\1/p' "$D/keys/$1.pub"; }
cat > "$D/access" <<ACCESS
# role   name            public key
operator conductor       $(pub conductor)
contractor contractor    $(pub contractor)
room     stage           $(pub stage)
room     london-strings  $(pub london-strings)
room     overdub-home    $(pub overdub-home)
ACCESS

step "coordinator and three room agents"
"$B/tutti-coordinator" --data "$D/coord" --key "$D/keys/coordinator.key" --access "$D/access" \
    --bind 'tcp://127.0.0.1:*' --endpoint-file "$D/endpoint" --session "demo scoring session" \
    2> "$D/coordinator.log" &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$D/endpoint" ] && break; sleep 0.1; done
[ -s "$D/endpoint" ] || { cat "$D/coordinator.log"; die "coordinator did not start"; }
export TUTTI_COORDINATOR=$(head -1 "$D/endpoint")
export TUTTI_SERVER_KEY=$D/keys/coordinator.pub TUTTI_KEY=$D/keys/conductor.key
echo "coordinator at $TUTTI_COORDINATOR"
AGENTS=()
for room in stage london-strings overdub-home; do
    extra=()
    [ "$room" = london-strings ] && extra=(--clock-offset-us 2500000 --clock-skew-ppm 150)
    "$B/tutti-agent" --room "$room" --key "$D/keys/$room.key" --data "$D/agent-$room" \
        --click-wav "$D/$room.wav" "${extra[@]}" 2> "$D/agent-$room.log" &
    PIDS+=($!)
    AGENTS+=($!)
done
all_locked() { [ "$("$B/tutti" status --json 2>/dev/null | grep -o '"state":"locked"' | wc -l)" = 3 ]; }
for _ in $(seq 150); do all_locked && break; sleep 0.1; done
all_locked || { "$B/tutti" status; die "room clocks did not lock"; }

step "the contractor's dashboard, the call and the players"
"$B/tutti-dash" --key "$D/keys/contractor.key" --data "$D/dash" --http 127.0.0.1:0 \
    --port-file "$D/dash.port" 2> "$D/dash.log" &
DASH_PID=$!
PIDS+=($DASH_PID)
for _ in $(seq 100); do [ -s "$D/dash.port" ] && break; sleep 0.1; done
[ -s "$D/dash.port" ] || { cat "$D/dash.log"; die "tutti-dash did not start"; }
DASH=http://127.0.0.1:$(cat "$D/dash.port")
echo "dashboard at $DASH/ (while the demo runs)"
C=(env TUTTI_KEY="$D/keys/contractor.key" "$B/tutti")
"${C[@]}" call start --rules afm-film-la || die "call start"
"${C[@]}" presence stage --in "Ann Lee" --in "Bo Chen" || die presence
"${C[@]}" presence london-strings --in "Cara Diaz" || die presence

step "operator notes"
"$B/tutti" note "Downbeat 10:00. Cue 1M1 first, then 2M3." || die note
"$B/tutti" note "1M1 bars 12-16: horns tacet (composer)" || die note
"$B/tutti" note "London strings: mute on from bar 20" || die note
sleep 1.2   # one heartbeat, so every room reports its replica position

step "tempo map, roll from bar 7 (3/4 at bar 9, accelerando 11-15), stop"
map=$here/tempo/example-1m1.tempo
sed -n '/^[^#]/p' "$map"
"$B/tutti" tempo load 1M1 "$map" || die "tempo load"
"$B/tutti" arm 1M1 || die arm
"$B/tutti" roll 1M1 --from-bar 7 || die roll
echo "rolling for 24 s ..."
sleep 24
"$B/tutti" stop || die stop
sleep 1

step "the dashboard's view (GET $DASH/api/state)"
curl -sf "$DASH/api/state" | jq -c '{rooms: [.rooms[] | {name, online, clock: .clock.state, players}],
    takes: [.cues[] | {cue: .name, takes: [.takes[] | {take, state}]}],
    call: (.call | {rules_id, elapsed_ms, next_break_in_ms, alert})}' || die "dashboard state"
step "the union report draft (tutti report --csv)"
"${C[@]}" report --csv || die report

step "tutti status"
"$B/tutti" status || die status
step "tutti history"
"$B/tutti" history || die history

step "where the clicks landed (true time, against the stage room)"
for p in "${AGENTS[@]}"; do kill -TERM "$p"; done   # finalizes the WAV files
for p in "${AGENTS[@]}"; do wait "$p" || die "an agent did not stop cleanly"; done
"$B/tutti" clicks "$D/stage.wav" "$D/london-strings.wav" "$D/overdub-home.wav" || die clicks
echo "(one sample at 48 kHz is 20.8 us; london-strings ran on a clock 2.5 s ahead, 150 ppm fast)"
echo
echo "first LTC frames on the stage room's channel 2:"
"$B/tutti" ltc read "$D/stage.wav" --channel 2 2>/dev/null | head -3

step "shutdown and verification"
PIDS=("${PIDS[0]}" "$DASH_PID")
for p in "${PIDS[@]}"; do kill -TERM "$p"; done
rc=0
for p in "${PIDS[@]}"; do wait "$p" || rc=1; done
PIDS=()
[ $rc -eq 0 ] || die "a process did not stop cleanly"
for d in coord agent-stage agent-london-strings agent-overdub-home; do
    "$B/tutti" verify "$D/$d" || die "verify $d"
done
echo
echo "demo: done. Every store verified; all processes stopped cleanly."
