#!/bin/bash
# From the source tree to a verified three-site take on a fresh Debian 12
# (issue #17), as root (CI); skips (77) otherwise or without the tools.
#  1. a Release tree of its own (the suite's build is ASan) in its temp dir,
#     -DTUTTI_PACKAGE=ON -DTUTTI_TESTS=OFF, `cmake --build -j2 --target
#     package` -> tutti_VERSION-1_amd64.deb; lintian has no error (E:) tag.
#  2. at the same time, a fresh root: mmdebstrap (debootstrap where it is
#     missing) --variant=minbase bookworm from the mirror this machine's apt
#     uses, with the package's run-time libraries included so that the
#     install needs no second download round.
#  3. `apt-get install ./tutti_*.deb` inside it (chroot): the tutti user,
#     /etc/tutti and /var/lib/tutti made, every program's --help (and
#     --version where it has one) runs there, only programs in /usr/bin.
#  4. the installed units pass `systemd-analyze verify`. systemd is not PID 1
#     here (nor in CI), so they are not started by systemd: three-sites.sh
#     --units starts the coordinator and both agents from the installed
#     units' ExecStart lines (parsed, %i and the EnvironmentFile expanded,
#     as User=tutti), in three network namespaces with tutti-netsim links,
#     to a take recorded at site C and verified at site A.
# Times each phase. About 6-9 minutes on 2 busy cores, most of it the
# Release build and the root (they overlap); not RUN_SERIAL.
. "$(dirname "$0")/lib.sh"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (chroot, namespaces)"; exit 77; }
for t in cmake cpack dpkg-shlibdeps ip jq b2sum chroot; do
    command -v $t >/dev/null || { echo "SKIP: $t missing (deploy/install-deps.sh)"; exit 77; }
done
if command -v mmdebstrap >/dev/null; then STRAP=mmdebstrap
elif command -v debootstrap >/dev/null; then STRAP=debootstrap
else echo "SKIP: neither mmdebstrap nor debootstrap"; exit 77; fi
[ -x "$B/tutti-netsim" ] || { echo "SKIP: no $B/tutti-netsim"; exit 77; }
# The mirror apt uses here (deb822 or one-line sources), for bookworm.
MIRROR=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null |
    grep -v security | head -1)
[ -n "$MIRROR" ] || MIRROR=$(sed -n 's/^deb \+\(\[[^]]*\] \+\)\?\([^ ]*\) \+bookworm .*/\2/p' \
    /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | head -1)
[ -n "$MIRROR" ] || MIRROR=http://deb.debian.org/debian

IT_DIR=$(mktemp -d /var/tmp/tutti-it-deb.XXXXXX) # not /tmp: the root holds ~200 MB
chmod 0755 "$IT_DIR" # apt's _apt user downloads into the root
R=$IT_DIR/root
BPID="" SPID=""
cleanup() {
    local rc=$? p
    for p in $BPID $SPID; do kill -TERM -- "-$p" 2>/dev/null; kill -TERM "$p" 2>/dev/null; done
    for p in $BPID $SPID; do wait "$p" 2>/dev/null; done
    for m in "$R/proc"; do mountpoint -q "$m" 2>/dev/null && umount "$m"; done
    if [ $rc -ne 0 ]; then
        for f in "$IT_DIR"/*.log; do [ -f "$f" ] && { echo "----- $f"; tail -30 "$f"; }; done
    fi
    rm -rf "$IT_DIR"
    exit $rc
}
trap cleanup EXIT
trap 'exit 1' INT TERM
now() { date +%s; }
T0=$(now)

# 1 and 2 at once: the build is CPU, the root mostly download and dpkg.
# set -m: each in a process group of its own, so cleanup can end all of it.
set -m
(
    nice -n 5 cmake -S "$SRC" -B "$IT_DIR/build" -DCMAKE_BUILD_TYPE=Release -DTUTTI_PACKAGE=ON \
        -DTUTTI_TESTS=OFF && nice -n 5 cmake --build "$IT_DIR/build" -j2 --target package
) > "$IT_DIR/build.log" 2>&1 &
BPID=$!
# The package's Depends as dpkg-shlibdeps computes them today (anything new
# is fetched by apt from the kept lists, one more round).
DEPS=adduser,libzmq5,libprotobuf-c1,liblmdb0,libsodium23,libjansson4,libltc11,libsndfile1
DEPS=$DEPS,libsoxr0,libjack-jackd2-0,libinih1,liblo7,libmicrohttpd12,libstdc++6
if [ $STRAP = mmdebstrap ]; then
    mmdebstrap --variant=minbase --include="$DEPS" --skip=cleanup/apt/lists bookworm "$R" \
        "$MIRROR" > "$IT_DIR/strap.log" 2>&1 &
else
    debootstrap --variant=minbase --include="$DEPS" bookworm "$R" "$MIRROR" \
        > "$IT_DIR/strap.log" 2>&1 &
fi
SPID=$!
set +m
wait $SPID || fail "$STRAP failed"
SPID=""
T_STRAP=$(( $(now) - T0 ))
it_log "$STRAP --variant=minbase bookworm ($MIRROR): ${T_STRAP} s, $(du -sh "$R" | cut -f1)"
wait $BPID || fail "the Release build or cpack failed"
BPID=""
T_BUILD=$(( $(now) - T0 ))
DEB=$(ls "$IT_DIR"/build/tutti_*_amd64.deb) || fail "no tutti_*_amd64.deb"
it_log "built $(basename "$DEB") ($(stat -c %s "$DEB") bytes) in ${T_BUILD} s (from the start)"
dpkg-deb -f "$DEB" Depends
dpkg-deb -c "$DEB" | awk '{print $6}' | grep '/usr/bin/.' | sed 's#^\./##' | sort > "$IT_DIR/bins"
for p in tutti tutti-agent tutti-coordinator tutti-dash; do
    grep -qx "usr/bin/$p" "$IT_DIR/bins" || fail "$p not in the package"
done
! grep -vxE "usr/bin/tutti(-agent|-coordinator|-dash|-relay)?" "$IT_DIR/bins" ||
    fail "other programs in the package"
! dpkg-deb -c "$DEB" | grep -E "netsim|bench|fuzz|test_|tonegen|-tool" || fail "test tools in the package"
if command -v lintian >/dev/null; then
    lintian --pedantic "$DEB" > "$IT_DIR/lintian.out" 2>&1
    grep -v "root privileges" "$IT_DIR/lintian.out"
    ! grep -q "^E:" "$IT_DIR/lintian.out" || fail "lintian errors"
fi

# 3. apt install inside the fresh root.
t=$(now)
cp "$DEB" "$R/tmp/"
chroot "$R" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "/tmp/$(basename "$DEB")" \
    > "$IT_DIR/apt.log" 2>&1 || fail "apt-get install ./$(basename "$DEB")"
T_APT=$(( $(now) - t ))
it_log "apt-get install in the chroot: ${T_APT} s ($(grep -c '^Get:' "$IT_DIR/apt.log") downloads)"
chroot "$R" dpkg -s tutti | grep -q "^Status: install ok installed" || fail "not installed"
chroot "$R" getent passwd tutti > /dev/null || fail "no tutti user"
# Names as the root knows them (its ids are not this machine's).
m=$(chroot "$R" stat -c '%U:%G %a' /etc/tutti)
[ "$m" = "root:tutti 750" ] || fail "/etc/tutti: $m"
m=$(chroot "$R" stat -c '%U:%G %a' /var/lib/tutti)
[ "$m" = "tutti:tutti 750" ] || fail "/var/lib/tutti: $m"
for p in $(sed 's#usr/bin/##' "$IT_DIR/bins"); do
    chroot "$R" "$p" --help > "$IT_DIR/help-$p.out" 2>&1 || fail "$p --help in the chroot"
    grep -qi "usage" "$IT_DIR/help-$p.out" || fail "$p --help: $(head -3 "$IT_DIR/help-$p.out")"
    v=$(chroot "$R" "$p" --version 2>/dev/null) && it_log "$p --version: $v"
    it_log "$p --help: $(head -1 "$IT_DIR/help-$p.out")"
done
[ -f "$R/usr/share/tutti/click-samples/1.wav" ] || fail "no count-off words"
strings "$R/usr/bin/tutti-agent" | grep -q "^/usr/share/tutti/click-samples$" ||
    fail "the agent does not look for its words where the package puts them"

# 4. The installed units, as systemd would read them (binaries in the root).
if command -v systemd-analyze >/dev/null; then
    mkdir -p "$IT_DIR/units"
    for f in "$R"/lib/systemd/system/tutti-*.service; do
        u=$(basename "$f"); u=${u/@./@stage.}
        sed "s#/usr/bin/#$R/usr/bin/#" "$f" > "$IT_DIR/units/$u"
        out=$(cd "$IT_DIR/units" && systemd-analyze verify --man=no "./$u" 2>&1) || fail "$u: $out"
        [ -z "$out" ] || fail "$u: $out"
    done
    it_log "installed units pass systemd-analyze verify: $(ls "$IT_DIR/units" | tr '\n' ' ')"
fi
[ "$(ps -p 1 -o comm=)" = systemd ] && it_log "(systemd is PID 1 here, but the units run in a chroot: started from their ExecStart lines)"
[ "$(ps -p 1 -o comm=)" = systemd ] || it_log "systemd is not PID 1 here: the units' ExecStart lines are run directly"
t=$(now)
bash "$R/usr/share/doc/tutti/examples/three-sites.sh" --root "$R" --units --netsim "$B/tutti-netsim" \
    || fail "three-sites.sh (installed copy) in the chroot"
T_WALK=$(( $(now) - t ))
it_log "times: root (${STRAP}) ${T_STRAP} s, build+package ${T_BUILD} s (overlapping), apt install ${T_APT} s, three-site walkthrough ${T_WALK} s, total $(( $(now) - T0 )) s"
