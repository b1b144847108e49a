#!/bin/bash
# Visual markers through the CLI and the log: a map with streamers, a
# punch, a flutter, a warning and a named hit around a rit and free time is
# checked offline (each listed with its timecode, seconds, color and where
# a streamer starts), refused with the line at fault when a marker is
# wrong, loaded into a cue (the log's canonical text carries them, and a
# room's replica holds that very record), shown as JSON, located by a
# hit's name, and exported as a MIDI file that loads back with the same
# markers at the same times.
. "$(dirname "$0")/lib.sh"
it_setup
it_start_coordinator
MAP=$IT_DIR/4m1.tempo
cat > "$MAP" <<'MAPEOF'
# 4M1: bar 5 at 8 s, a rit to 60 over 4 beats (4 ln 2 s), free time from
# bar 7 (14.773 s) until bar 9 at 01:00:20:00.
fps 24
start 01:00:00:00
countoff 1
end 12
bar 1 4/4 q=120
bar 5 rit q=60 over 4
bar 7 free until 9 at 01:00:20:00
streamer at 5.1 len 3s
warning at 7.1
streamer at 7.1 len 2b          # yellow: into the warning; 2 beats at 60
flutter at 6.3 flashes 5
hit at 9.2 "door   slam"
punch at 9.1
streamer at 12.1 len 4s         # red: the last bar
streamer at 13.1 color #00AAFF  # the end itself, an explicit color
MAPEOF

out=$("$B/tutti" tempo check "$MAP") || fail "tempo check: $out"
expect() { echo "$out" | grep -q "$1" || fail "${2:-listing}: no line like '$1' in: $out"; }
expect '^5\.1\.0 *01:00:08:00 *8\.000  streamer len 3s  green (default)  from 5\.000 (01:00:05:00)$'
expect '^6\.3\.0 *01:00:12:18 *12\.773  flutter flashes 5  white (default)$'
expect '^7\.1\.0 *01:00:14:18 *14\.773  warning len 2s  yellow (default)  from 12\.773 (01:00:12:18)$'
expect '^7\.1\.0 *01:00:14:18 *14\.773  streamer len 2b  yellow (default)  from 12\.773 (01:00:12:18)$'
expect '^9\.1\.0 *01:00:20:00 *20\.000  punch  white (default)$'
expect '^9\.2\.0 *01:00:21:00 *21\.000  hit "door slam"  white (default)$'
expect '^12\.1\.0 *01:00:32:00 *32\.000  streamer len 4s  red (default)  from 28\.000 (01:00:28:00)$'
expect '^13\.1\.0 *01:00:36:00 *36\.000  streamer len 2s color #00aaff  from 34\.000 (01:00:34:00)$'

# Wrong markers: exit 1, the line named.
line=$(( $(wc -l < "$MAP") + 1 ))
bad() { # LINE-TEXT WANT: the map plus that line
    { cat "$MAP"; echo "$1"; } > "$IT_DIR/bad.tempo"
    local o rc
    o=$("$B/tutti" tempo check "$IT_DIR/bad.tempo" 2>&1); rc=$?
    [ $rc -eq 1 ] || fail "'$1': exit $rc ($o)"
    echo "$o" | grep -qF "bad.tempo: line $line: $2" || fail "'$1': unclear: $o"
}
bad 'flutter at 3.1 flashes 4' 'flutter: 4 flashes (1, 3, 5 or 7)'
bad 'punch at 3.1 color pink' 'punch: unknown color "pink"'
bad 'hit at 8.1 "x"' 'hit at 8.1.0: inside free time (bars 7 to 8)'
bad 'streamer at 13.2' 'streamer at 13.2.0: after the end of the cue'
bad 'streamer at 3.1 len 12s' 'streamer: length 12.000 s is over 10 s'
bad 'streamer at 9.1 len 1b' 'streamer at 9.1.0: its beats count back into free time'

# Into the log: the canonical text carries them, and a room holds it.
"$B/tutti" cue add 4M1 >/dev/null || fail "cue add"
"$B/tutti" tempo load 4M1 "$MAP" >/dev/null || fail "tempo load"
canon=$("$B/tutti" history --json --kind tempo | jq -e -r '.map') || fail "history"
for l in 'streamer at 5.1 len 3s' 'warning at 7.1 len 2s' 'hit at 9.2 "door slam"' \
         'streamer at 13.1 len 2s color #00aaff' 'flutter at 6.3 flashes 5'; do
    echo "$canon" | grep -qxF "$l" || fail "the log's map lacks '$l': $canon"
done
it_start_agent stage stage
caught_up() { [ "$(it_head_of "$IT_DIR/agent-stage")" = "$("$B/tutti" status --json | jq -r .head_hash)" ]; }
it_wait_for 20 caught_up || fail "the room's replica did not catch up"
it_stop "$APID"
"$B/tutti" verify "$IT_DIR/agent-stage" >/dev/null || fail "the room's replica does not verify"

json=$("$B/tutti" tempo show 4M1 --json | jq -s -c '[.[] | select(.visual)]') || fail "show --json"
[ "$(echo "$json" | jq length)" = 8 ] || fail "show --json: $json"
echo "$json" | jq -e '.[1] | .visual == "flutter" and .flashes == 5 and .ns == 12772588722' \
    >/dev/null || fail "flutter: $json"
echo "$json" | jq -e '.[3] | .visual == "streamer" and .color == "yellow" and .color_default and
    .len == "2b" and .start_timecode == "01:00:12:18"' >/dev/null || fail "streamer at 7.1: $json"
echo "$json" | jq -e '.[7] | .color == "#00aaff" and .rgb == "#00aaff" and (.color_default | not)' \
    >/dev/null || fail "explicit color: $json"
"$B/tutti" locate 4M1 "door slam" --json | jq -e '.timecode == "01:00:21:00"' >/dev/null ||
    fail "locate a hit by name"

# A MIDI file and back: the same markers within a few us (the file holds
# the rit as steps and free time as its fitted tempo).
"$B/tutti" tempo export 4M1 --smf "$IT_DIR/4m1.mid" >/dev/null || fail "export"
"$B/tutti" cue add 4M1B >/dev/null || fail "cue add 4M1B"
"$B/tutti" tempo load 4M1B "$IT_DIR/4m1.mid" >/dev/null || fail "load the exported file"
pick='[.[] | select(.visual) | {pos, words, s: .seconds, from: (.start_seconds // .seconds)}]'
a=$("$B/tutti" tempo show 4M1 --json | jq -s -c "$pick")
b=$("$B/tutti" tempo show 4M1B --json | jq -s -c "$pick")
jq -n -e --argjson a "$a" --argjson b "$b" '($a | length) == 8 and ($b | length) == 8 and
    ([range(8) | $a[.] as $x | $b[.] as $y | $x.pos == $y.pos and $x.words == $y.words and
      (($x.s - $y.s) | fabs) < 0.0001 and (($x.from - $y.from) | fabs) < 0.0001] | all)' \
    >/dev/null || fail "through MIDI: $a vs $b"
it_log "PASS"
