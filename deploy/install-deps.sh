#!/bin/sh
# Installs the Debian 12 packages tutti needs to build, run and test.
# Idempotent: when every package is already installed it changes nothing
# and does not touch the network.
set -eu

PKGS="build-essential cmake pkg-config
libzmq3-dev libprotobuf-c-dev protobuf-c-compiler
liblmdb-dev lmdb-utils libsodium-dev libjansson-dev libcmocka-dev
clang jq curl
libltc-dev libsndfile1-dev libjack-jackd2-dev jackd2 abcmidi
libinih-dev libmicrohttpd-dev libsoxr-dev
espeak-ng ableton-link-dev libasio-dev liblo-dev liblo-tools help2man
dpkg-dev lintian mmdebstrap debootstrap iproute2"

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

if [ -z "$missing" ]; then
    echo "install-deps: all packages present"
    exit 0
fi

if [ "$(id -u)" != 0 ]; then
    echo "install-deps: missing packages:$missing" >&2
    echo "install-deps: run as root (or: sudo $0)" >&2
    exit 1
fi

echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
