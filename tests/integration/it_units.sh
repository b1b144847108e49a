#!/bin/bash
# The systemd units (deploy/systemd) as systemd reads them: each passes
# `systemd-analyze verify` with its ExecStart pointed at this build's
# program (tutti-agent@.service as the instance tutti-agent@stage), runs as
# the tutti user with the sandbox the README promises (real-time limits and
# the audio group in the agent's unit only, no capabilities anywhere), and
# `systemd-analyze security` rates each exposure below 3.0. Skips where
# systemd-analyze is missing. tutti-relay.service is checked once the build
# has tutti-relay.
. "$(dirname "$0")/lib.sh"
command -v systemd-analyze >/dev/null || { echo "SKIP: systemd-analyze missing"; exit 77; }
U=$(cd "$(dirname "$0")/../../deploy/systemd" && pwd)
IT_DIR=$(mktemp -d /tmp/tutti-it.XXXXXX)
trap 'rm -rf "$IT_DIR"' EXIT
units=(tutti-coordinator.service tutti-agent@.service tutti-dash.service)
[ -x "$B/tutti-relay" ] && units+=(tutti-relay.service)
for u in "${units[@]}"; do
    f=$U/$u
    [ -f "$f" ] || fail "$u missing"
    name=${u/@./@stage.}
    sed "s#/usr/bin/#$B/#" "$f" > "$IT_DIR/$name"
    # The man pages arrive with the package; here only the unit itself is checked.
    out=$(cd "$IT_DIR" && systemd-analyze verify --man=no "./$name" 2>&1) || fail "$u: $out"
    [ -z "$out" ] || fail "$u: systemd-analyze verify says: $out"
    for d in User=tutti Restart=on-failure ProtectSystem=strict ProtectHome=yes PrivateTmp=yes \
        NoNewPrivileges=yes CapabilityBoundingSet= RestrictAddressFamilies= \
        EnvironmentFile=/etc/tutti/ SystemCallFilter=@system-service; do
        grep -q "^$d" "$f" || fail "$u lacks $d"
    done
    # Every program with a data folder keeps it in its own state directory.
    if grep -q "^ExecStart=.* --data " "$f"; then
        grep -q "^ExecStart=.* --data \${STATE_DIRECTORY} " "$f" &&
            grep -q "^StateDirectory=tutti/" "$f" || fail "$u: data outside its StateDirectory"
    fi
    ! grep -q "^AmbientCapabilities\|^StandardOutput\|^StandardError" "$f" ||
        fail "$u: capabilities or a log other than the journal"
    if [ "$u" = tutti-agent@.service ]; then
        grep -q "^LimitRTPRIO=" "$f" && grep -q "^LimitMEMLOCK=" "$f" || fail "$u: no RT limits"
        grep -q "^ExecStart=.* --room %i " "$f" || fail "$u: the instance is not the room"
    else
        ! grep -q "^LimitRTPRIO\|^LimitMEMLOCK\|^SupplementaryGroups" "$f" || fail "$u: RT limits"
        grep -q "^RestrictRealtime=yes" "$f" || fail "$u: may take real-time priority"
    fi
    score=$(cd "$IT_DIR" && systemd-analyze security --offline=yes --no-pager "./$name" 2>&1 |
        sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
    [ -n "$score" ] || fail "$u: no exposure level"
    awk -v s="$score" 'BEGIN { exit !(s < 3.0) }' || fail "$u: exposure $score (>= 3.0)"
    it_log "$u: verify clean, exposure $score"
done
