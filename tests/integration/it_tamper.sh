#!/bin/bash
# Tamper evidence: dump the log with mdb_dump, change one byte of one
# record's value, mdb_load it into a fresh environment: tutti verify fails
# and names that sequence. A dropped record is caught as a gap.
. "$(dirname "$0")/lib.sh"
command -v mdb_dump >/dev/null || { echo "lmdb-utils missing"; exit 77; }
it_setup
it_start_coordinator
for i in $(seq 1 9); do "$B/tutti" note "note $i" >/dev/null || fail "note $i"; done
it_stop "$CPID"
"$B/tutti" verify "$IT_DIR/coord" --json >/dev/null || fail "clean store does not verify"

mdb_dump -s log "$IT_DIR/coord" > "$IT_DIR/log.dump" || fail "mdb_dump"
# mdb_dump prints header lines, then key and value lines in hex, each
# starting with a space. Record seq N's value is on the line after its key.
for target in 5 1 10; do
    key=$(printf ' %016x' "$target")
    for pos in 10 60 120; do
        awk -v key="$key" -v pos="$pos" '
            flip == 1 { c = substr($0, pos, 1); r = (c == "0") ? "1" : "0";
                        $0 = substr($0, 1, pos - 1) r substr($0, pos + 1); flip = 0 }
            $0 == key { flip = 1 }
            { print }' "$IT_DIR/log.dump" > "$IT_DIR/log.bad"
        cmp -s "$IT_DIR/log.dump" "$IT_DIR/log.bad" && fail "awk did not change record $target"
        rm -rf "$IT_DIR/bad"; mkdir "$IT_DIR/bad"
        mdb_load -s log -f "$IT_DIR/log.bad" "$IT_DIR/bad" || fail "mdb_load"
        out=$("$B/tutti" verify "$IT_DIR/bad" --json 2>"$IT_DIR/verify.err"); rc=$?
        [ $rc -ne 0 ] || fail "altered record $target (hex pos $pos) verified"
        bad=$(echo "$out" | jq -r .bad_seq)
        [ "$bad" = "$target" ] || fail "altered $target, verify named $bad"
        grep -q "FAILED at record $target" "$IT_DIR/verify.err" || fail "stderr does not name $target"
    done
    it_log "altered record $target: verify fails naming $target"
done

# Drop record 4: a gap.
awk 'skip > 0 { skip--; next } $0 == " 0000000000000004" { skip = 1; next } { print }' \
    "$IT_DIR/log.dump" > "$IT_DIR/log.gap"
rm -rf "$IT_DIR/gap"; mkdir "$IT_DIR/gap"
mdb_load -s log -f "$IT_DIR/log.gap" "$IT_DIR/gap" || fail "mdb_load gap"
out=$("$B/tutti" verify "$IT_DIR/gap" --json 2>/dev/null) && fail "gap verified"
[ "$(echo "$out" | jq -r .bad_seq)" = 4 ] || fail "gap named $(echo "$out" | jq -r .bad_seq)"
it_log "PASS"
