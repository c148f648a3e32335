#!/bin/sh
# Installs what building and testing procket needs on Debian 12, if it is
# missing. Needs root (or sudo) and Debian's package archive; does nothing
# when everything is there already.
set -eu

PACKAGES="build-essential musl-tools clang libclang-rt-14-dev valgrind
 erlang-nox erlang-dev erlang-dialyzer erlang-eunit erlang-common-test
 erlang-tools erlang-edoc rebar3 sudo socat netcat-openbsd iproute2
 util-linux libcap2-bin procps cppcheck iputils-ping tcpdump strace
 lowdown mandoc groff-base man-db pkg-config libsystemd-dev elixir"

missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
        missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "install-deps: installing:$missing"
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
        echo "install-deps: need root to install:$missing" >&2; exit 1
    fi
else
    SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
