#!/bin/bash
# A client that asks and never reads holds a few MiB of the coordinator,
# not a GiB (hardening). Each ROUTER peer's pipe takes 4 replies; what does
# not fit waits in the coordinator's per-peer outbox, and a peer with a
# page already waiting is refused further reads. An observer sends 600
# fetches of a 1.2 MB log and reads none: the coordinator used to queue
# every 1 MiB page (600 MiB); now its memory barely moves, and an operator
# reads the whole log meanwhile. Pipelined writes (300 notes, all replies
# expected) still get every reply through the 4-message pipe.
. "$(dirname "$0")/lib.sh"
it_setup
it_start_coordinator
out=$("$B/tutti-rawsend" --mode fill) || fail "pipelined writes: $out"
[ "$out" = "filled 300" ] || fail "pipelined writes: $out"
it_log "300 pipelined notes: every reply arrived"

rss_kib() { sed -n 's/^VmRSS:[^0-9]*\([0-9]*\) kB/\1/p' "/proc/$1/status"; }
before=$(rss_kib "$CPID")
it_spawn flood env TUTTI_KEY="$K/lobby.key" "$B/tutti-rawsend" --mode flood --count 600 --hold-s 30
FPID=$IT_LAST_PID
it_wait_for 20 grep -q "flooded 600" "$IT_DIR/flood.log" || fail "the flood did not send"
sleep 2 # the coordinator answers what it reads; give it the time
during=$(rss_kib "$CPID")
grown=$(( (during - before) / 1024 ))
it_log "coordinator RSS $((before / 1024)) MiB -> $((during / 1024)) MiB with 600 unread fetches"
[ "$grown" -lt 64 ] || fail "the coordinator grew $grown MiB holding one peer's unread replies"

t0=$(date +%s%N)
n=$("$B/tutti" history --json | wc -l)
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$n" = 301 ] || fail "an operator read $n records while the observer was not reading, want 301"
it_log "meanwhile an operator read the whole log ($n records) in $ms ms"
kill -0 "$FPID" 2>/dev/null || fail "the flood client ended early"

it_log "PASS"
