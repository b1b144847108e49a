#!/bin/bash
# Every subcommand has its manual: for each command `tutti --help` lists,
# `tutti COMMAND --help` exits 0 and prints its usage on stdout (a connecting
# command's names the connection options, --bundle and --config among
# them), and so does every program's --help. The session commands (init,
# invite, access) are listed. Connection flags given after the command are
# taken (a bad --timeout-ms after the command is the connection flag's error).
. "$(dirname "$0")/lib.sh"
it_setup

"$B/tutti" --help > "$IT_DIR/help.out" || fail "tutti --help"
mapfile -t cmds < <(sed -n '/^Commands/,/^Connection/p' "$IT_DIR/help.out" |
    grep -E '^  [a-z]' | awk '{print $1}' | sort -u)
[ "${#cmds[@]}" -ge 20 ] || fail "only ${#cmds[@]} commands listed"
for want in init invite access keygen note status; do
    printf '%s\n' "${cmds[@]}" | grep -qx "$want" || fail "tutti --help does not list $want"
done
for c in "${cmds[@]}"; do
    out=$("$B/tutti" "$c" --help 2> "$IT_DIR/err") || fail "tutti $c --help: exit $? $(cat "$IT_DIR/err")"
    echo "$out" | head -1 | grep -q "^Usage: tutti .*$c" || fail "tutti $c --help: $(echo "$out" | head -2)"
    if echo "$out" | head -1 | grep -q "connection options"; then
        echo "$out" | grep -q -- "--bundle FILE" || fail "tutti $c --help lacks --bundle"
        echo "$out" | grep -q -- "--config FILE" || fail "tutti $c --help lacks --config"
    fi
done
it_log "tutti COMMAND --help for ${#cmds[@]} commands: ${cmds[*]}"
# A form's help too.
"$B/tutti" access add --help | grep -q "access remove NAME" || fail "tutti access add --help"
for p in tutti-coordinator tutti-agent tutti-dash; do
    "$B/$p" --help > "$IT_DIR/$p.help" || fail "$p --help"
    grep -q "^Usage: $p" "$IT_DIR/$p.help" || fail "$p --help: no Usage line"
    grep -q -- "--config FILE" "$IT_DIR/$p.help" || fail "$p --help lacks --config"
    grep -q -- "--data DIR" "$IT_DIR/$p.help" || fail "$p --help lacks --data"
    grep -q -- "--quiet  *log warnings and errors only" "$IT_DIR/$p.help" || fail "$p: --quiet"
done
grep -q -- "--bundle FILE" "$IT_DIR/tutti-agent.help" || fail "tutti-agent --help lacks --bundle"

# The man pages made from the help at build time (when help2man is there).
if command -v help2man > /dev/null; then
    for p in tutti tutti-coordinator tutti-agent tutti-dash; do
        grep -q -- "config" "$B/../man/$p.1" 2>/dev/null || fail "no build/man/$p.1 from $p --help"
    done
fi

# Connection flags after the command are the connection's.
rc=0
"$B/tutti" status --timeout-ms 0 > /dev/null 2> "$IT_DIR/late.err" || rc=$?
[ $rc -eq 2 ] && grep -q -- "--timeout-ms wants" "$IT_DIR/late.err" ||
    fail "--timeout-ms after the command: exit $rc, $(cat "$IT_DIR/late.err")"
it_log "PASS"
