#!/bin/bash
# MIDI out and JACK transport: a jackd dummy server at 48 kHz / 256 started
# by the test, one agent with --midi mtc:mtc --midi clk:clock --midi
# mmc:mmc --jack-transport, and a JACK MIDI capture client that records
# every event with its absolute frame and the transport (jack_transport_query)
# every period. A roll from bar 2 through a meter change, a tempo step and a
# ramp, then a stop. tests/tools/midi_check.py decodes it against the map:
# every quarter-frame in order, each 8 reassembled to the map's timecode
# within a quarter-frame, the full frame at the roll; SPP at bar 2, 96
# count-off clocks, Continue on the downbeat, every clock on the map's
# instant and spacing within one period; MMC locate/play/stop; the
# transport rolling from the roll with bar|beat|tick and tempo of the map
# at its frame, stopped after the stop.
. "$(dirname "$0")/lib.sh"
command -v jackd >/dev/null || { echo "jackd not installed"; exit 77; }
command -v python3 >/dev/null || { echo "python3 not installed"; exit 77; }
CHECK=$(cd "$(dirname "$0")/../tools" && pwd)/midi_check.py
it_setup
export JACK_DEFAULT_SERVER=tutti-it-midi-$$ JACK_NO_AUDIO_RESERVATION=1
it_spawn jackd jackd -n "$JACK_DEFAULT_SERVER" -d dummy -r 48000 -p 256
JACKD=$IT_LAST_PID
it_end_last "$JACKD"
it_wait_for 10 bash -c "timeout 2 jack_lsp | grep -q system:playback_1" || fail "jackd did not start"
cat > "$IT_DIR/midi.tempo" <<'MAP'
fps 25
start 00:59:58:00
countoff 1
bar 1 4/4 q=120
bar 3 3/4 q=90
bar 5 q=150 ramp
MAP
it_start_coordinator
it_spawn agent-stage "$B/tutti-agent" --room stage --key "$K/stage.key" \
    --data "$IT_DIR/agent-stage" --jack --midi mtc:mtc --midi clk:clock --midi mmc:mmc \
    --jack-transport
STAGE=$IT_LAST_PID
it_wait_for 10 bash -c "timeout 2 jack_lsp | grep -q tutti-stage:mmc" || fail "no JACK MIDI ports"
jack_lsp -t tutti-stage:mtc | grep -q "midi" || fail "tutti-stage:mtc is not a MIDI port"
locked() { [ "$("$B/tutti" status --json | jq '[.rooms[] | select(.clock.state=="locked")] | length')" = 1 ]; }
"$B/tutti" tempo load 1M1 "$IT_DIR/midi.tempo" >/dev/null || fail "tempo load"
it_wait_for 20 locked || fail "the room never locked"
# Capture joins the graph before the take (a client joining can hold the
# server up for a few ms). The take: 1 s lead, 2 s count-off, ~7 s, stop;
# the capture runs on well past it (the CLI is slow on a loaded machine).
it_spawn capture "$B/tutti-jack-midi-capture" --seconds 22 --out "$IT_DIR/midi.txt" \
    tutti-stage:mtc tutti-stage:clk tutti-stage:mmc
CAP=$IT_LAST_PID
sleep 1
"$B/tutti" arm 1M1 >/dev/null || fail "arm"
"$B/tutti" roll 1M1 --from-bar 2 --lead-ms 1000 >/dev/null || fail "roll"
rolled=$(date +%s%N)
sleep 9
"$B/tutti" stop --lead-ms 300 >/dev/null || fail "stop"
[ $(( ($(date +%s%N) - rolled) / 1000000 )) -le 16000 ] || fail "the stop came too late for the capture"
wait "$CAP" || fail "capture failed: $(cat "$IT_DIR/capture.log")"
it_log "captured $(grep -c '^M' "$IT_DIR/midi.txt") MIDI events, $(grep -c '^T' "$IT_DIR/midi.txt") periods"
periods=$(grep -c '^T' "$IT_DIR/midi.txt")
[ "$periods" -ge 3700 ] || fail "the JACK server ran $periods of ~4100 periods in 22 s: too loaded to judge"
kept=${TUTTI_TEST_OUT:-/tmp}/it_midi-$$.txt
res=$(python3 "$CHECK" "$IT_DIR/midi.txt" 2>&1) ||
    { mkdir -p "${kept%/*}" && cp "$IT_DIR/midi.txt" "$kept"; fail "$res (capture kept in $kept)"; }
it_log "midi_check: $res"
grep -q "xrun\|XRun" "$IT_DIR/jackd.log" && it_log "note: jackd reported xruns"
it_stop "$STAGE"
it_log "PASS"
