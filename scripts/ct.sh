#!/bin/sh
# Runs a Common Test suite in a fresh network namespace, inside
# scripts/private.sh (overlays on /etc, /run and /dev: nothing the suite
# writes there reaches the machine): by default the
# end-to-end suite test/procket_SUITE.erl; PROCKET_CT_SUITE names another
# (scripts/ct-socket.sh runs test/procket_socket_SUITE.erl this way).
#
# Needs root (the suite stages a setuid helper, writes a sudo rule and runs
# the VM under test as nobody) and a build: run `make all` first; this
# script builds nothing. The suite runs in a fresh network namespace, so
# ports 53 and 80 are free and all traffic stays on its loopback.
# Logs: logs/ct/ (index.html) and logs/ct/console.log. Exits non-zero if a
# test case failed or was auto-skipped (e.g. an init failure).
set -eu

# the suites write /etc/procket.conf, sudo rules, /run/netns: only ever
# in a private view of those directories (scripts/private.sh)
if [ -z "${PROCKET_PRIVATE_DIR:-}" ] && [ "$(id -u)" -eq 0 ]; then
    exec "$(dirname "$0")/private.sh" "$0" "$@"
fi

cd "$(dirname "$0")/.."
ROOT=$(pwd)
SUITE=${PROCKET_CT_SUITE:-procket_SUITE}
case $SUITE in
    procket_SUITE) LOGDIR=$ROOT/logs/ct ;;
    *) LOGDIR=$ROOT/logs/ct-$SUITE ;;
esac
OUT=$LOGDIR/console.log   # not ct_run.*: CT takes those for runs

if [ "$(id -u)" -ne 0 ]; then
    echo "ct.sh: must run as root" >&2
    exit 2
fi
for f in ebin/procket.beam ebin/procket.app priv/procket priv/procket_nif.so; do
    if [ ! -e "$f" ]; then
        echo "ct.sh: $f is missing: run 'make all' first" >&2
        exit 2
    fi
done
for t in ct_run unshare ip socat setpriv sudo visudo ping tcpdump; do
    command -v "$t" >/dev/null 2>&1 || { echo "ct.sh: $t not found" >&2; exit 2; }
done
if [ ! -c /dev/net/tun ]; then
    echo "ct.sh: /dev/net/tun missing (tun cases)" >&2
    exit 2
fi

mkdir -p "$LOGDIR"
STATUS=$(mktemp)
trap 'rm -f "$STATUS"' EXIT
export PROCKET_ROOT="$ROOT" PROCKET_CT_SUITE="$SUITE" PROCKET_CT_LOGDIR="$LOGDIR"
# extra ct_run arguments, e.g. `scripts/ct.sh -group devices` for one group
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
            echo "ct.sh: no ::1 in the test namespace" >&2; exit 2; }
        exec ct_run -noshell -pa "$PROCKET_ROOT/ebin" \
            -dir "$PROCKET_ROOT/test" -suite "$PROCKET_CT_SUITE" \
            -logdir "$PROCKET_CT_LOGDIR" $PROCKET_CT_ARGS
    ' 2>&1 && rc=0 || rc=$?
    echo "$rc" >"$STATUS"
} | tee "$OUT"

rc=$(cat "$STATUS")
rc=${rc:-1}
elapsed=$(( $(date +%s) - start ))
summary=$(grep -o 'TEST COMPLETE.*' "$OUT" | tail -n 1 || true)
echo "ct.sh: ct_run exit status $rc after ${elapsed}s; logs in $LOGDIR"
if [ -z "$summary" ]; then
    echo "ct.sh: FAILED: no CT summary (the suite did not run)" >&2
    exit 1
fi
echo "$summary"
case $summary in
    *", 0 failed"*) ;;
    *) [ "$rc" -ne 0 ] || rc=1 ;;
esac
if [ "$rc" -ne 0 ]; then
    echo "ct.sh: FAILED (failed or auto-skipped test cases; see $LOGDIR)" >&2
    exit 1
fi
echo "ct.sh: PASSED"
