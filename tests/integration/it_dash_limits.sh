#!/bin/bash
# The dashboard keeps to its own browsers (hardening):
#  - the Host header must name loopback exactly (DNS rebinding: a Host of
#    127.attacker.example used to pass as "starts with 127.");
#  - wrong passwords are throttled per client address, not per connection:
#    ten at once from one address get one check and nine 429s;
#  - idle connections close after --idle-timeout, and connections parked
#    from other addresses do not lock the contractor out;
#  - live event streams beyond 32 get a clear 503, not a refused socket.
. "$(dirname "$0")/lib.sh"
it_setup
it_start_coordinator
it_start_dash dash contractor --idle-timeout 2
PORT=$(cat "$IT_DIR/dash.port")
DASH=$DURL

host_code() { curl -s -o /dev/null -w '%{http_code}' -H "Host: $1" "$DASH/api/session"; }
for h in "127.attacker.example" "127.0.0.1.attacker.example" "localhost.attacker.example" \
    "127.0.0.1:80x" "127.0.0.2" "attacker.example:$PORT" "[::1]x"; do
    code=$(host_code "$h")
    [ "$code" = 421 ] || fail "Host '$h' answered HTTP $code, want 421"
done
for h in "127.0.0.1:$PORT" "localhost:$PORT" "localhost" "[::1]:$PORT" "127.0.0.1"; do
    code=$(host_code "$h")
    [ "$code" = 200 ] || fail "Host '$h' answered HTTP $code, want 200"
done
it_log "Host rule: 7 look-alikes refused, 5 loopback names served"

# Live event streams: 32 are served, the 33rd is told why.
spids=()
for i in $(seq 1 32); do
    curl -s -N --max-time 30 "$DASH/events" >/dev/null 2>&1 &
    spids+=($!)
done
it_wait_for 10 bash -c "[ \$(ss -Htn state established '( dport = :$PORT )' | wc -l) -ge 32 ]" ||
    fail "32 event streams did not connect"
sleep 0.5
out=$(curl -s -w '\n%{http_code}' --max-time 5 "$DASH/events")
[ "$(echo "$out" | tail -1)" = 503 ] || fail "33rd stream: $(echo "$out" | tail -1), want 503"
echo "$out" | grep -q "too many live views" || fail "503 without a reason: $out"
code=$(curl -s -o /dev/null -w '%{http_code}' "$DASH/api/state")
[ "$code" = 200 ] || fail "state with 32 streams open: HTTP $code"
kill "${spids[@]}" 2>/dev/null; wait "${spids[@]}" 2>/dev/null
it_wait_for 10 bash -c "curl -s -o /dev/null -w '%{http_code}' --max-time 3 $DASH/events | grep -q 200" ||
    fail "streams were not released after their browsers left"
it_log "streams: 32 served, the 33rd got 503, released when closed"

# Idle connections parked from two other addresses do not lock out the
# contractor, and the server closes them after the idle timeout.
python3 - "$PORT" <<'PY' || fail "idle connections: see above"
import socket, sys, time, subprocess
port = int(sys.argv[1])
socks = []
for src in ("127.0.0.3", "127.0.0.4"):
    for _ in range(40):
        s = socket.socket()
        s.bind((src, 0))
        try:
            s.connect(("127.0.0.1", port))
        except OSError:
            pass
        socks.append(s)
time.sleep(0.3)
code = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5",
                       "--interface", "127.0.0.2", f"http://127.0.0.1:{port}/api/state"],
                      capture_output=True, text=True).stdout
if code != "200":
    sys.exit(f"with 80 idle connections open the contractor got HTTP {code!r}")
time.sleep(3.5)  # past --idle-timeout 2
closed = 0
for s in socks:
    s.settimeout(0.2)
    try:
        if s.recv(1) == b"":
            closed += 1
    except (socket.timeout, OSError) as e:
        if not isinstance(e, socket.timeout):
            closed += 1
if closed < len(socks):
    sys.exit(f"only {closed} of {len(socks)} idle connections closed after the idle timeout")
print(f"idle: contractor served past {len(socks)} idle connections; all closed after the timeout")
PY

# Password guessing: ten parallel wrong passwords from one address get one
# check (401) and 429s; the right password after the wait still works.
echo "correct horse battery" > "$IT_DIR/pw"
it_start_dash dash-pw contractor --password-file "$IT_DIR/pw"
PW=$DURL
gpids=()
for i in $(seq 1 10); do
    curl -s -o /dev/null -w '%{http_code}\n' --data-urlencode "password=guess $i" "$PW/login" \
        > "$IT_DIR/guess-$i" &
    gpids+=($!)
done
wait "${gpids[@]}"
checked=$(cat "$IT_DIR"/guess-* | grep -c '^401$' || true)
throttled=$(cat "$IT_DIR"/guess-* | grep -c '^429$' || true)
[ "$throttled" -ge 8 ] && [ $((checked + throttled)) -eq 10 ] ||
    fail "10 parallel guesses: $checked checked (401), $throttled throttled (429); want >= 8 throttled"
code=$(curl -s -o /dev/null -w '%{http_code}' --data-urlencode "password=correct horse battery" "$PW/login")
[ "$code" = 429 ] || fail "right password inside the wait: HTTP $code, want 429 (not even checked)"
code=$(curl -s -o /dev/null -w '%{http_code}' --interface 127.0.0.2 -c "$IT_DIR/jar2" \
    --data-urlencode "password=correct horse battery" "$PW/login")
[ "$code" = 303 ] || fail "another address is not throttled: HTTP $code"
sleep $((1 << checked)).3 # the wait after N failures is 2^N s
code=$(curl -s -o /dev/null -w '%{http_code}' -c "$IT_DIR/jar" \
    --data-urlencode "password=correct horse battery" "$PW/login")
[ "$code" = 303 ] || fail "right password after the wait: HTTP $code"
it_log "login: $checked of 10 parallel guesses checked, $throttled throttled (429)"
it_log "PASS"
