#!/bin/bash
# Big frames from small roles cost nothing, and fetch pages stay small
# (hardening). A 2 MiB note from an observer or a room used to be decoded
# before the role check refused it; now any role but operator may send at
# most NON_OPERATOR_MAX_MESSAGE_BYTES (256 KiB) and a bigger frame is
# refused by its size, undecoded. A fetch page holds at most 1 MiB
# (FETCH_MAX_BYTES, was 4 MiB): a log of 1.2 MB still reads whole through
# the pages, and a new replica catches up through them.
. "$(dirname "$0")/lib.sh"
it_setup
it_start_coordinator
out=$("$B/tutti-rawsend" --mode fill) || fail "filling the log: $out"
[ "$out" = "filled 300" ] || fail "fill: $out"

out=$(TUTTI_KEY=$K/lobby.key "$B/tutti-rawsend" --mode bignote)
echo "$out" | grep -q "over the 262144 bytes this key may send" || fail "an observer's 2 MiB note: $out"
out=$(TUTTI_KEY=$K/stage.key "$B/tutti-rawsend" --mode bignote)
echo "$out" | grep -q "this key may send" || fail "a room's 2 MiB note: $out"
out=$("$B/tutti-rawsend" --mode bignote)
echo "$out" | grep -q "this key may send" && fail "an operator's frame was refused by size: $out"
echo "$out" | grep -q "error" || fail "an operator's 2 MiB note was accepted: $out"
it_log "2 MiB frames: refused by size for observer and room; an operator's is decoded (the note rule refuses it)"

n=$("$B/tutti" history --json | wc -l)
[ "$n" = 301 ] || fail "history read $n records through the pages, want 301"
it_start_agent stage stage
head=$("$B/tutti" status --json | jq -r .last_seq)
it_wait_for 20 bash -c "[ \"\$('$B/tutti' status --json | jq -r '.rooms[] | select(.name==\"stage\") | .last_seq')\" = $head ]" ||
    fail "a new replica did not catch up to $head through 1 MiB pages"
it_log "history and a new replica read 1.2 MB of log through 1 MiB pages"
it_log "PASS"
