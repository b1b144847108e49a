#!/bin/bash
# From tutti init to a room online with nothing but bundles: init a
# session, invite a room and an operator (a duplicate name is refused), start
# the coordinator from its config file and the room agent with --bundle
# alone (a bundle readable by others is refused first), the operator's CLI
# writes a note with --bundle (before and after the command), the room
# appears online and hears the note, `access list` shows both, and `access
# remove` + SIGHUP refuses the removed key. tutti-dash from an observer's bundle
# alone is read-only. Config files: an unknown key is
# refused naming file and line, and a flag overrides the file.
. "$(dirname "$0")/lib.sh"
it_setup
S=$IT_DIR/sess
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

"$B/tutti" init it-bundle --dir "$S" --coordinator "tcp://127.0.0.1:$PORT" > "$IT_DIR/init.out" ||
    fail "init: $(cat "$IT_DIR/init.out")"
for f in coordinator.key coordinator.pub coordinator.ini session.ini access; do
    [ -f "$S/$f" ] || fail "init made no $f"
done
[ "$(stat -c %a "$S/coordinator.key")" = 600 ] || fail "coordinator.key is not 0600"
[ -d "$S/bundles" ] || fail "init made no bundles/"
"$B/tutti" init it-bundle --dir "$S" > /dev/null 2>&1 && fail "init over an existing session"

"$B/tutti" invite stage --role room --session "$S" > "$IT_DIR/invite.out" || fail "invite stage"
grep -q "tutti-agent --bundle stage.tutti" "$IT_DIR/invite.out" || fail "invite does not say how to start"
grep -q "SIGHUP" "$IT_DIR/invite.out" || fail "invite does not say how to make a coordinator reread"
"$B/tutti" invite conductor --role operator --session "$S" > /dev/null || fail "invite conductor"
"$B/tutti" invite eve --role observer --session "$S" > /dev/null || fail "invite eve"
before=$(cat "$S/access")
"$B/tutti" invite stage --role observer --session "$S" > /dev/null 2> "$IT_DIR/dup.err" &&
    fail "a second stage was invited"
grep -q "already in" "$IT_DIR/dup.err" || fail "duplicate: $(cat "$IT_DIR/dup.err")"
[ "$before" = "$(cat "$S/access")" ] || fail "a refused invite changed the access file"
[ "$(stat -c %a "$S/bundles/stage.tutti")" = 600 ] || fail "the bundle is not 0600"
grep -q "^coordinator = tcp://127.0.0.1:$PORT$" "$S/bundles/stage.tutti" || fail "bundle endpoint"

# Config files: an unknown key names file and line; a flag wins over the file.
printf 'session = x\nbnid = tcp://127.0.0.1:1\n' > "$IT_DIR/bad.ini"
"$B/tutti-coordinator" --config "$IT_DIR/bad.ini" > /dev/null 2> "$IT_DIR/bad.err" && fail "bad config ran"
grep -q "bad.ini: line 2: unknown key 'bnid'" "$IT_DIR/bad.err" || fail "bad config: $(cat "$IT_DIR/bad.err")"

it_spawn coordinator "$B/tutti-coordinator" --config "$S/coordinator.ini" \
    --endpoint-file "$IT_DIR/endpoint" --session overridden
CPID=$IT_LAST_PID
it_wait_for 10 test -s "$IT_DIR/endpoint" || fail "the coordinator did not start from its config"
[ "$(head -1 "$IT_DIR/endpoint")" = "tcp://127.0.0.1:$PORT" ] || fail "bind from the config: $(head -1 "$IT_DIR/endpoint")"
[ -d "$S/data" ] || fail "the store is not in the session directory (data = data)"

# A bundle others may read is refused like a .key.
cp "$S/bundles/stage.tutti" "$IT_DIR/loose.tutti"
chmod 644 "$IT_DIR/loose.tutti"
rc=0
"$B/tutti-agent" --bundle "$IT_DIR/loose.tutti" > "$IT_DIR/loose.log" 2>&1 || rc=$?
[ $rc -eq 1 ] || fail "a 0644 bundle: exit $rc, want 1 (as a 0644 .key)"
grep -q "readable by others" "$IT_DIR/loose.log" || fail "loose bundle: $(cat "$IT_DIR/loose.log")"

# The room: the bundle and nothing else (run where its data goes: ./tutti-stage).
mkdir "$IT_DIR/room"
it_spawn agent-stage bash -c "cd '$IT_DIR/room' && exec '$B/tutti-agent' --bundle '$S/bundles/stage.tutti'"
APID=$IT_LAST_PID
OP=$S/bundles/conductor.tutti
online() { "$B/tutti" --bundle "$OP" status --json | jq -e '.rooms[] | select(.name == "stage" and .online)'; }
it_wait_for 15 online || fail "the room did not come online: $("$B/tutti" --bundle "$OP" status 2>&1)"
[ -d "$IT_DIR/room/tutti-stage" ] || fail "the agent's data is not ./tutti-stage"

seq=$("$B/tutti" --bundle "$OP" note "hello by bundle" | awk '{print $NF}') || fail "note by bundle"
it_wait_for 10 grep -q "note $seq from conductor: hello by bundle" "$IT_DIR/agent-stage.log" ||
    fail "the room did not hear note $seq"
"$B/tutti" note "flags after the command" --bundle "$OP" > /dev/null || fail "--bundle after the command"
it_log "room stage online from its bundle; note $seq written with the operator's bundle"

# The dashboard from an observer's bundle alone: connected as eve, read-only.
it_spawn dash bash -c "cd '$IT_DIR/room' && exec '$B/tutti-dash' --bundle '$S/bundles/eve.tutti' \
    --http 127.0.0.1:0 --http-port-file '$IT_DIR/dash.port'"
it_wait_for 15 grep -q "connected to .* as eve (observer)" "$IT_DIR/dash.log" || fail "the dashboard did not connect"
grep -q "read-only" "$IT_DIR/dash.log" || fail "an observer's bundle did not make the dashboard read-only"
[ -d "$IT_DIR/room/tutti-dash" ] || fail "the dashboard's data is not ./tutti-dash"
it_end "$IT_LAST_PID"

# A config file for tutti: its relative bundle path is taken from the file's directory.
printf '[tutti]\nbundle = sess/bundles/conductor.tutti\ntimeout-ms = 3000\n' > "$IT_DIR/op.ini"
(cd / && "$B/tutti" --config "$IT_DIR/op.ini" status --json) | jq -e '.rooms[] | select(.name == "stage")' > /dev/null ||
    fail "tutti --config with a bundle"

"$B/tutti" access list --session "$S" --json > "$IT_DIR/list.json" || fail "access list"
[ "$(jq -r 'select(.name == "stage") | .role' "$IT_DIR/list.json")" = room ] || fail "list: stage"
[ "$(jq -r 'select(.name == "conductor") | .role' "$IT_DIR/list.json")" = operator ] || fail "list: conductor"
[ "$(wc -l < "$IT_DIR/list.json")" -eq 3 ] || fail "list: $(cat "$IT_DIR/list.json")"

"$B/tutti" access remove stage --session "$S" > /dev/null || fail "access remove"
grep -q stage "$S/access" && fail "stage still in the access file"
kill -HUP "$CPID"
rc=0
for _ in $(seq 100); do kill -0 "$APID" 2>/dev/null || break; sleep 0.1; done
wait "$APID" || rc=$?
[ $rc -eq 3 ] || fail "the removed room's agent: exit $rc, want 3 (refused)"
rc=0
"$B/tutti" --bundle "$S/bundles/stage.tutti" status > /dev/null 2>&1 || rc=$?
[ $rc -eq 3 ] || fail "the removed key's request: exit $rc, want 3"
"$B/tutti" --bundle "$OP" status > /dev/null || fail "the operator was refused too"
it_log "access remove + SIGHUP: the removed room's agent and CLI are refused (exit 3)"

it_stop "$CPID"
"$B/tutti" verify "$S/data" > /dev/null || fail "verify"
it_log "PASS"
