#!/bin/sh
# Runs the Common Test suite of the socket API, test/procket_socket_SUITE.erl:
# the cases that need privileges (raw and packet sockets, SO_BINDTODEVICE,
# ICMP datagram sockets, a tun device).
#
# Needs root and a build: run `make all` first; this script builds nothing.
# The suite runs in a fresh network namespace (only its own loopback, its
# own sysctls), so the host's network is never touched.
# Logs: logs/ct-socket/ (index.html) and logs/ct-socket/console.log. Exits
# non-zero if a test case failed or was auto-skipped.
set -eu

cd "$(dirname "$0")/.."
ROOT=$(pwd)
LOGDIR=$ROOT/logs/ct-socket
OUT=$LOGDIR/console.log   # not ct_run.*: CT takes those for runs

if [ "$(id -u)" -ne 0 ]; then
    echo "ct-socket.sh: must run as root" >&2
    exit 2
fi
for f in ebin/procket.beam ebin/procket_socket.beam priv/procket priv/procket_nif.so; do
    if [ ! -e "$f" ]; then
        echo "ct-socket.sh: $f is missing: run 'make all' first" >&2
        exit 2
    fi
done
for t in ct_run unshare ip; do
    command -v "$t" >/dev/null 2>&1 || { echo "ct-socket.sh: $t not found" >&2; exit 2; }
done
if [ ! -c /dev/net/tun ]; then
    echo "ct-socket.sh: /dev/net/tun missing" >&2
    exit 2
fi

mkdir -p "$LOGDIR"
STATUS=$(mktemp)
trap 'rm -f "$STATUS"' EXIT
export PROCKET_ROOT="$ROOT"
# extra ct_run arguments, e.g. `scripts/ct-socket.sh -case bindtodevice`
export PROCKET_CT_ARGS="$*"
start=$(date +%s)

# ct_run's exit status goes through a file: sh has no pipefail.
{
    unshare --net sh -c '
        set -e
        ip link set lo up
        # IPv6 on the namespace loopback, for the ::1 cases
        if [ "$(cat /proc/sys/net/ipv6/conf/lo/disable_ipv6 2>/dev/null)" != 0 ]; then
            sysctl -q -w net.ipv6.conf.lo.disable_ipv6=0
        fi
        ip -6 addr show dev lo | grep -q "::1/128" || {
            echo "ct-socket.sh: no ::1 in the test namespace" >&2; exit 2; }
        exec ct_run -noshell -pa "$PROCKET_ROOT/ebin" \
            -dir "$PROCKET_ROOT/test" -suite procket_socket_SUITE \
            -logdir "$PROCKET_ROOT/logs/ct-socket" $PROCKET_CT_ARGS
    ' 2>&1 && rc=0 || rc=$?
    echo "$rc" >"$STATUS"
} | tee "$OUT"

rc=$(cat "$STATUS")
rc=${rc:-1}
elapsed=$(( $(date +%s) - start ))
summary=$(grep -o 'TEST COMPLETE.*' "$OUT" | tail -n 1 || true)
echo "ct-socket.sh: ct_run exit status $rc after ${elapsed}s; logs in $LOGDIR"
if [ -z "$summary" ]; then
    echo "ct-socket.sh: FAILED: no CT summary (the suite did not run)" >&2
    exit 1
fi
echo "$summary"
case $summary in
    *", 0 failed"*) ;;
    *) [ "$rc" -ne 0 ] || rc=1 ;;
esac
if [ "$rc" -ne 0 ]; then
    echo "ct-socket.sh: FAILED (failed or auto-skipped test cases; see $LOGDIR)" >&2
    exit 1
fi
echo "ct-socket.sh: PASSED"
