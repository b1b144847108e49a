#!/bin/bash
# Film tempo notation through the CLI: a map with a frame click, grouped
# meters, a rit, free time, click off/on, a pickup, an end and a marker is
# loaded into a cue (the log keeps its canonical text), shown with bar ->
# timecode for every change, located both ways, exported as a MIDI file
# that reads back; tempo check works offline and names the line at fault;
# a text file named .mid is "not a MIDI file"; a MIDI file without a tempo
# is refused.
. "$(dirname "$0")/lib.sh"
it_setup
it_start_coordinator
MAP=$IT_DIR/3m2.tempo
cat > "$MAP" <<'MAPEOF'
# 3M2 "The Chase"
fps 24
start 01:00:00:00
countoff 2
pickup 1
end 20
bar 1 4/4 q=12-4          # a beat every 12 4/8 frames: 0.5208333 s
bar 5 6/8 in 2 q.=12-0    # a dotted quarter every 12 frames: 0.5 s
bar 7 3+2+2/8 e=420
bar 9 4/4 q=120
bar 10 rit q=60 over 4    # 4 ln 2 s
bar 11 free until 13 at 01:00:40:00
bar 15 click off
bar 17 click on
marker 13.1.0 Door slam
MAPEOF

# Offline first: check prints the listing, locate works on the file.
out=$("$B/tutti" tempo check "$MAP") || fail "tempo check: $out"
echo "$out" | grep -q '^5\.1\.0 *01:00:08:08 *8\.333  6/8 in 2  q\.=12-0 (q=180\.000)$' ||
    fail "check: bar 5 line: $out"
echo "$out" | grep -q '^11\.1\.0 .*free until 13 at 01:00:40:00 (no click)$' || fail "free: $out"
echo "$out" | grep -q '^21\.1\.0 .*end: the click stops (last bar 20)$' || fail "end: $out"
printf 'bar 1 4/4 q=92\nbar 3 6/8 in 4\n' > "$IT_DIR/bad.tempo"
out=$("$B/tutti" tempo check "$IT_DIR/bad.tempo" 2>&1); rc=$?
[ $rc -eq 1 ] || fail "tempo check of a bad map: exit $rc"
echo "$out" | grep -q 'bad.tempo: line 2: bad click groups "in 4"' || fail "unclear: $out"
cp "$IT_DIR/bad.tempo" "$IT_DIR/cue.mid"
out=$("$B/tutti" tempo check "$IT_DIR/cue.mid" 2>&1) && fail "text .mid accepted"
echo "$out" | grep -q 'cue.mid: not a MIDI file' || fail "unclear: $out"

# Online: load, show, locate, export.
"$B/tutti" cue add 3M2 --title "The Chase" >/dev/null || fail "cue add"
out=$("$B/tutti" tempo load 3M2 "$IT_DIR/cue.mid" 2>&1) && fail "text .mid loaded"
echo "$out" | grep -q 'not a MIDI file' || fail "load: unclear: $out"
"$B/tutti" tempo load 3M2 "$MAP" >/dev/null || fail "tempo load"
"$B/tutti" history --json --kind tempo | jq -e -r '.map' |
    grep -q '^bar 10 rit q=60 over 4$' || fail "the log does not hold the canonical rit"
out=$("$B/tutti" tempo show 3M2) || fail "tempo show: $out"
echo "$out" | head -1 | grep -q '^3M2  map v1  fps 24  start 01:00:00:00 (bar 1)  countoff 2  pickup 1  end 20$' ||
    fail "show header: $out"
echo "$out" | grep -q '^first click -1\.1\.0 at 00:59:55:20$' || fail "show lead-in: $out"
echo "$out" | grep -q '^1\.1\.0 *01:00:00:00 *0\.000  4/4  q=12-4 (q=115\.200)$' ||
    fail "show bar 1: $out"
echo "$out" | grep -q '^12\.1\.0 .*q=60 reached' && fail "implied end at the wrong bar: $out"
echo "$out" | grep -q '^11\.1\.0 .*q=60 reached (end of rit/accel)  free until 13' ||
    fail "rit into free time: $out"
echo "$out" | grep -q '^13\.1\.0 *01:00:40:00 *40\.000  resumes q=60$' || fail "resume: $out"
echo "$out" | grep -q '^15\.1\.0 .*click off$' || fail "click off: $out"
echo "$out" | grep -q '^13\.1\.0 .*marker "Door slam"$' || fail "marker: $out"
n=$("$B/tutti" tempo show 3M2 --json | jq -s -e '[.[] | select(.pos and .marker == null)] | length') ||
    fail "show --json"
[ "$n" = 9 ] || fail "show --json: $n changes"

# Bar 9 starts after 4 bars at 115.2 (8.333 s), 2 of 6/8 at 180 (2 s) and
# 2 of 7/8 at 420 eighths (2 s): 12.333 s = 01:00:12:08. Beat 2 is 0.5 s
# later, 12.8333 s: exactly frame 308, 01:00:12:20. One frame later
# (1/24 s) is 80 ticks (a quarter is 0.5 s) further: 9.2.80.
out=$("$B/tutti" locate 3M2 9.2) || fail "locate: $out"
[ "$out" = "9.2.0 = 01:00:12:20 +0.000 ms (12.833333 s from bar 1, q=120.000)" ] ||
    fail "locate 9.2: $out"
out=$("$B/tutti" locate 3M2 9.1.240) || fail "locate: $out"
[ "$out" = "9.1.240 = 01:00:12:11 +0.000 ms (12.458333 s from bar 1, q=120.000)" ] ||
    fail "locate 9.1.240: $out"
out=$("$B/tutti" locate 3M2 9.1.100) || fail "locate: $out"
echo "$out" | grep -q '^9\.1\.100 = 01:00:12:09 +10\.417 ms ' || fail "locate 9.1.100: $out"
out=$("$B/tutti" locate 3M2 01:00:12:21 --json) || fail "locate tc: $out"
echo "$out" | jq -e '.pos == "9.2.80" and .timecode == "01:00:12:21"' >/dev/null ||
    fail "locate 01:00:12:21: $out"
"$B/tutti" locate 3M2 12.3 --json | jq -e '.state | startswith("in free time")' >/dev/null ||
    fail "locate in free time"
"$B/tutti" locate 3M2 "Door slam" --json | jq -e '.timecode == "01:00:40:00"' >/dev/null ||
    fail "locate a marker"
"$B/tutti" locate 3M2 0.4 | grep -q ', pickup$' || fail "locate the pickup"
out=$("$B/tutti" locate 3M2 9.5 2>&1); rc=$?
[ $rc -eq 2 ] || fail "locate 9.5 in 4/4: exit $rc ($out)"

"$B/tutti" tempo export 3M2 --smf "$IT_DIR/3m2.mid" >/dev/null || fail "export"
[ "$(head -c 4 "$IT_DIR/3m2.mid")" = MThd ] || fail "export is not a MIDI file"
out=$("$B/tutti" tempo check "$IT_DIR/3m2.mid") || fail "exported file does not read: $out"
echo "$out" | grep -q '^13\.1\.0 *01:00:40:00 .*marker "Door slam"$' ||
    fail "exported file: marker or its time lost: $out"
echo "$out" | grep -q 'marker "free until 13 at 01:00:40:00"' || fail "free time not marked: $out"

# A MIDI file with no tempo is refused, not read as 120.
printf 'MThd\0\0\0\6\0\0\0\1\1\340MTrk\0\0\0\4\0\377\057\0' > "$IT_DIR/notempo.mid"
out=$("$B/tutti" tempo load 3M2 "$IT_DIR/notempo.mid" 2>&1) && fail "tempo-less MIDI loaded"
echo "$out" | grep -q 'no set-tempo event' || fail "unclear: $out"

# Every form has its manual.
for c in "tempo" "locate"; do
    "$B/tutti" $c --help | grep -q '^Example:' || fail "tutti $c --help"
done
"$B/tutti" tempo --help | grep -q 'tempo export (CUE | --file MAP) --smf OUT.mid' ||
    fail "tempo --help lacks export"
it_log "PASS"
