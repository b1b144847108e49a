#!/bin/bash
# Live click through JACK: a jackd dummy server at 48 kHz / 1024 started by
# the test, two agents on different clocks (one simulated 2.5 s behind and
# 150 ppm slow) writing their click and LTC ports, and a capture client
# recording both click ports and one LTC port on one sample timeline: the
# rooms' onsets agree within 1 sample and the LTC decodes (a take the
# server stalled in by itself is rolled once more: see take1 and take3).
#
# Take 2 connects the stage's click to the sound card: the agent must write
# it earlier by the playback latency. Take 3 stops the server twice for
# 80 ms (SIGSTOP, as a VM pause or a preempted jackd would): JACK's own
# cycle times then run milliseconds wrong for seconds, and LTC placed by
# them stopped decoding (CI saw 91 of ~220 frames). Both agents must
# notice, the LTC must decode but for the frames the stalls ate, and each
# click sound once.
. "$(dirname "$0")/lib.sh"
command -v jackd >/dev/null || { echo "jackd not installed"; exit 77; }
MAP=$(cd "$(dirname "$0")/../../deploy/tempo" && pwd)/example-1m1.tempo
it_setup
export JACK_DEFAULT_SERVER=tutti-it-$$ JACK_NO_AUDIO_RESERVATION=1
it_spawn jackd jackd -n "$JACK_DEFAULT_SERVER" -d dummy -r 48000 -p 1024
JACKD=$IT_LAST_PID
# Killed, jackd keeps its slot in the machine's JACK server registry (8 slots,
# reclaimed only by a server of the same name, and each run has its own):
# after 8, no jackd starts. On SIGTERM with clients still connected that
# are exiting too, it waits ~0.4 s on each and overran the 5 s before
# SIGKILL; with them gone first it ends at once.
it_end_last "$JACKD"
it_wait_for 10 bash -c "timeout 2 jack_lsp | grep -q system:playback_1" || fail "jackd did not start"
it_start_coordinator
it_spawn agent-stage "$B/tutti-agent" --room stage --key "$K/stage.key" \
    --data "$IT_DIR/agent-stage" --jack --clock-trace "$IT_DIR/trace-stage"
STAGE=$IT_LAST_PID
it_spawn agent-strings "$B/tutti-agent" --room london-strings --key "$K/strings.key" \
    --data "$IT_DIR/agent-strings" --jack --clock-offset-us -2500000 --clock-skew-ppm -150 \
    --clock-trace "$IT_DIR/trace-strings"
STRINGS=$IT_LAST_PID
locked() { [ "$("$B/tutti" status --json | jq '[.rooms[] | select(.clock.state=="locked")] | length')" = 2 ]; }
it_wait_for 10 bash -c "timeout 2 jack_lsp | grep -q tutti-london-strings:click" || fail "no JACK ports"
stalls_seen() { grep -c "cycle times went wrong" "$IT_DIR/agent-$1.log"; }
stalls_all() { echo $(( $(stalls_seen stage) + $(stalls_seen strings) )); }
# LTC frames as decoded (one JSON object each) and how many runs of
# consecutive frames they form.
ltc_frames() { "$B/tutti" ltc read "$1" --channel 1 --json > "$1.ltc" 2>"$1.ltc.err" ||
                   fail "ltc read $1: $(cat "$1.ltc.err")"; }
ltc_runs() { jq -s 'map(.frame) | . as $f | [range(1; length) | select($f[.] != $f[. - 1] + 1)]
                    | length + 1' "$1.ltc"; }
"$B/tutti" tempo load 1M1 "$MAP" >/dev/null || fail "tempo load"

# Take 1, attempt $1 (files cap$1-*.wav). Returns 1 when the server stalled
# by itself during it and the rooms came out further apart than without a
# stall (then it is rolled once more); fails the test on anything else.
take1() {
    local n=$1 pre
    pre=$(stalls_all)
    # The capture client joins the graph now, not during the take: a client
    # joining can hold the server up for several ms, and an agent that has
    # learnt the server's usual timing then runs on its own (see take 3). It
    # runs on well past the stop, so every click it holds rang out whole: a
    # click cut off by the end of the file cannot be timed below a sample.
    # The take (1 s lead, count-off, 8 s, stop) ends about 9.5 s after the
    # roll: a roll within 8 s of the capture's start leaves it 2 s to ring out.
    it_spawn "capture$n" "$B/tutti-jack-capture" --seconds 20 --out "$IT_DIR/cap$n" \
        tutti-stage:click tutti-london-strings:click tutti-london-strings:ltc
    CAP=$IT_LAST_PID
    local cap_start
    cap_start=$(date +%s%N)
    it_wait_for 20 locked || fail "rooms never locked"
    sleep 3     # let both estimators fill more of their window before the take
    "$B/tutti" arm 1M1 >/dev/null || fail "arm"
    "$B/tutti" roll 1M1 --lead-ms 1000 >/dev/null || fail "roll"
    [ $(( ($(date +%s%N) - cap_start) / 1000000 )) -le 8000 ] ||
        fail "locking took too long for the capture to hold the take"
    sleep 8
    "$B/tutti" stop --lead-ms 300 >/dev/null || fail "stop"
    wait "$CAP" || fail "capture failed: $(cat "$IT_DIR/capture$n.log")"

    local fine cmp clocks paired bound stalled=0 frames
    fine=$("$B/tutti" clicks "$IT_DIR/cap$n-1.wav" "$IT_DIR/cap$n-2.wav" --json) || fail "clicks"
    it_log "take 1 ($n) JACK onsets, sub-sample: $fine"
    # The onset sample of each click (its first sample), as a sound card sees it.
    cmp=$("$B/tutti" clicks "$IT_DIR/cap$n-1.wav" "$IT_DIR/cap$n-2.wav" --json --whole-samples) ||
        fail "clicks"
    it_log "take 1 ($n) JACK onsets, whole samples: $cmp"
    # What the two clocks themselves said (traces every 10 ms, truth = mono
    # on one host), from 3 s after both locked: tells a clock problem from
    # one in the JACK path when the onsets disagree.
    clocks=$(awk '!/^#/ && $4 == "locked" { k = int($1 / 1e7); e = $3 - $1
                   if (FILENAME ~ /stage/) { a[k] = e; if (!t0 || $1 < t0) t0 = $1 } else b[k] = e }
                 END { for (k in a) if ((k in b) && k * 1e7 > t0 + 3e9) {
                           d = a[k] - b[k]; d = d < 0 ? -d : d; if (d > m) m = d }
                       printf "%.1f", m / 1000 }' "$IT_DIR/trace-stage" "$IT_DIR/trace-strings")
    it_log "clock estimates apart by at most $clocks us; $(grep -h "JACK's clock" "$IT_DIR"/agent-*.log |
        sed 's/.*tutti-agent\[\([^]]*\)\].*is \(-*[0-9]*\) us.*/\1 \2 us/' | tr '\n' ' ')"
    paired=$(echo "$cmp" | jq .paired)
    [ "$paired" -ge 8 ] || fail "only $paired clicks paired"
    [ "$paired" = "$(echo "$cmp" | jq .clicks)" ] || fail "unpaired clicks: $cmp"
    # The issue's target: the rooms' onsets agree within 1 sample (20.8 us),
    # to a fraction of a sample; on the sample grid that means at most one
    # sample apart (the 0.01 absorbs ns rounding). If the server has stalled
    # by itself (about 1 run in 8 here: a 5-10 ms hiccup, or JACK's loop
    # dragged by late wake-ups), each agent times some cycles from its own
    # wake-ups and they may sit a sample or two apart: within 4. Under CI's
    # load one agent once set JACK's figures aside and the other did not
    # (19 samples apart): then the take is rolled once more, held to 4 if
    # the server stalled again, 12 (take 3's bound, stalled on purpose) if
    # it stalled during it.
    bound=1
    if [ "$(stalls_all)" -gt 0 ]; then
        stalled=1
        it_log "note: the server stalled by itself (before or during take 1 ($n)): $(grep -h \
            "cycle times went wrong" "$IT_DIR"/agent-*.log | tail -1 |
            sed 's/.*last: \(.*\)): timing.*/\1/')"
        bound=4
        [ "$n" -gt 1 ] && [ "$(stalls_all)" -gt "$pre" ] && bound=12
    fi
    if ! echo "$fine" | jq -e ".max_abs_samples <= $bound" >/dev/null ||
       ! echo "$cmp" | jq -e ".max_abs_samples <= $bound + 0.01" >/dev/null; then
        [ "$stalled" = 1 ] && [ "$n" = 1 ] && { it_log "take 1 rolled again"; return 1; }
        fail "rooms more than $bound sample(s) apart (clocks apart by $clocks us)"
    fi
    ltc_frames "$IT_DIR/cap$n-3.wav"
    frames=$(wc -l < "$IT_DIR/cap$n-3.wav.ltc")
    # The take rolled ~7.4 s (222 frames at 29.97); the count-off frames are in.
    [ "$frames" -ge 190 ] || fail "only $frames LTC frames from the JACK port"
    [ "$(ltc_runs "$IT_DIR/cap$n-3.wav")" -le $(( stalled ? 3 : 1 )) ] ||
        fail "LTC frames not consecutive"
    grep -q "xrun\|XRun" "$IT_DIR/jackd.log" && it_log "note: jackd reported xruns"
    it_log "take 1: $paired clicks within $bound sample(s), $frames consecutive LTC frames"
}
take1 1 || take1 2 || fail "take 1 failed twice"

# Take 2: the stage's click also goes to the (dummy) sound card. What the
# agent writes now sounds the card's playback latency later, so it must
# write that much earlier: in the capture (which takes the ports directly)
# the stage's clicks lead the strings' by exactly that latency.
jack_connect tutti-stage:click system:playback_1 || fail "jack_connect"
lat_logged() { grep -o "click port playback latency [0-9]* frames" "$IT_DIR/agent-stage.log" |
                   tail -1 | grep -o "[0-9]*" | head -1; }
it_wait_for 5 bash -c "grep -q 'click port playback latency [1-9]' '$IT_DIR/agent-stage.log'" ||
    fail "the stage agent did not pick up the playback latency"
lat=$(lat_logged)
it_log "stage click -> system:playback_1: playback latency $lat frames"
"$B/tutti" arm 1M1 >/dev/null || fail "arm 2"
"$B/tutti" roll 1M1 --lead-ms 1000 >/dev/null || fail "roll 2"
it_spawn capture2 "$B/tutti-jack-capture" --seconds 6 --out "$IT_DIR/lat" tutti-stage:click \
    tutti-london-strings:click
CAP=$IT_LAST_PID
sleep 4
"$B/tutti" stop --lead-ms 300 >/dev/null || fail "stop 2"
wait "$CAP" || fail "capture 2 failed: $(cat "$IT_DIR/capture2.log")"
# Stage's samples are decided 2048 frames (43 ms) before they sound, on the
# clock's mapping as published then (a line to 20 ms ahead, then the
# estimator's course to 120 ms, which new exchanges may still bend): 0.1-1.1
# samples as heard in most runs here, 3.7 in one of 12; within 4.
bound2=4
cmp_lat=$("$B/tutti" clicks "$IT_DIR/lat-1.wav" "$IT_DIR/lat-2.wav" --json) || fail "clicks 2"
heard=$("$B/tutti" clicks "$IT_DIR/lat-1.wav" "$IT_DIR/lat-2.wav" --json --ref-delay "$lat") ||
    fail "clicks 2 as heard"
it_log "take 2 as written: $cmp_lat"
it_log "take 2 as heard (stage $lat later): $heard"
# As written they are $lat apart (nothing pairs within 5 ms); as heard, together.
echo "$cmp_lat" | jq -e '.paired == 0' >/dev/null || fail "stage not ahead by its latency: $cmp_lat"
echo "$heard" | jq -e ".paired >= 4 and .max_abs_samples <= $bound2" >/dev/null ||
    fail "stage's clicks do not lead by the playback latency ($lat): $heard"
jack_disconnect tutti-stage:click system:playback_1 || fail "jack_disconnect"
it_wait_for 5 bash -c "grep -q 'click port playback latency 0 frames' '$IT_DIR/agent-stage.log'" ||
    fail "the stage agent did not drop the playback latency"

# Take 3, attempt $1 (files stall$1-*.wav), with two stalls of the server.
# Returns 1 when an agent's timing broke more often than the two stalls
# explain (the loaded machine stalled it again by itself: CI once saw a
# third re-anchor 2.6 s after the second stall break the LTC a sixth time)
# and a check failed: then it is rolled once more. Fails the test otherwise.
take3() {
    local n=$1 seen_stage seen_strings extra=0
    seen_stage=$(stalls_seen stage); seen_strings=$(stalls_seen strings)
    "$B/tutti" arm 1M1 >/dev/null || fail "arm 3"
    "$B/tutti" roll 1M1 --lead-ms 1000 >/dev/null || fail "roll 3"
    it_spawn "capture3-$n" "$B/tutti-jack-capture" --seconds 10 --out "$IT_DIR/stall$n" \
        tutti-stage:click tutti-london-strings:click tutti-london-strings:ltc
    CAP=$IT_LAST_PID
    for at in 3 2; do
        sleep "$at"
        kill -STOP "$JACKD"; sleep 0.08; kill -CONT "$JACKD"
    done
    sleep 3
    "$B/tutti" stop --lead-ms 300 >/dev/null || fail "stop 3"
    wait "$CAP" || fail "capture 3 failed: $(cat "$IT_DIR/capture3-$n.log")"
    [ "$(stalls_seen stage)" -gt "$seen_stage" ] || fail "the stage agent did not notice the stalls"
    [ "$(stalls_seen strings)" -gt "$seen_strings" ] ||
        fail "the strings agent did not notice the stalls"
    [ $(( $(stalls_seen stage) - seen_stage )) -gt 2 ] && extra=1
    [ $(( $(stalls_seen strings) - seen_strings )) -gt 2 ] && extra=1
    # retry: say why and return 1 on the first attempt with extra breaks
    again() {
        if [ "$extra" = 1 ] && [ "$n" = 1 ]; then
            it_log "take 3 ($n): $1, with more timing breaks than the two stalls made; rolled again"
            return 0
        fi
        fail "$1"
    }

    it_log "agents: $(grep -h "cycle times went wrong" "$IT_DIR"/agent-*.log | tail -2 |
        sed 's/.*last: \(.*\)): timing.*(\(.*\))/\1; \2/' | tr '\n' '|')"
    local frames runs first last cmp_stall
    ltc_frames "$IT_DIR/stall$n-3.wav"
    frames=$(wc -l < "$IT_DIR/stall$n-3.wav.ltc")
    runs=$(ltc_runs "$IT_DIR/stall$n-3.wav")
    first=$(head -1 "$IT_DIR/stall$n-3.wav.ltc" | jq .frame)
    last=$(tail -1 "$IT_DIR/stall$n-3.wav.ltc" | jq .frame)
    it_log "take 3 ($n): $frames LTC frames in $runs runs, spanning $((last - first + 1))"
    # Each stall may cost the frames it covered and the one it cut, and
    # break the run of labels once or twice: 5 frames and 2 breaks at most.
    [ "$runs" -le 5 ] || { again "LTC broken into $runs runs by 2 stalls"; return 1; }
    [ $((last - first + 1)) -ge 200 ] ||
        { again "LTC spans only $((last - first + 1)) frames"; return 1; }
    [ "$frames" -ge $((last - first + 1 - 10)) ] ||
        { again "$frames LTC frames of $((last - first + 1))"; return 1; }
    cmp_stall=$("$B/tutti" clicks "$IT_DIR/stall$n-1.wav" "$IT_DIR/stall$n-2.wav" --json) ||
        fail "clicks 3"
    it_log "take 3 ($n) onsets: $cmp_stall"
    # A click the stall swallowed is gone from both; none sounds twice.
    echo "$cmp_stall" | jq -e '.paired >= 8 and .paired >= ([.clicks, .reference_clicks] | max) - 1' \
        >/dev/null || { again "clicks lost or doubled: $cmp_stall"; return 1; }
    # Each agent times the stall from its own wake-ups, the first clicks
    # after it from a handful of them (under ASan, with both agents, the
    # capture and jackd sharing 2 cores, one wake-up may be 100 us late):
    # 0.3-3.3 samples apart in 14 of 16 runs here, 5.7 and 7.5 in the
    # others. Within 12 (0.25 ms), where JACK's own figures were ~60 ms off
    # the wall clock (the unit test holds the map to the truth).
    echo "$cmp_stall" | jq -e '.max_abs_samples <= 12' >/dev/null ||
        { again "rooms apart after stalls: $cmp_stall"; return 1; }
    return 0
}
take3 1 || take3 2 || fail "take 3 failed twice"
it_stop "$STAGE"
it_stop "$STRINGS"
it_log "PASS"
