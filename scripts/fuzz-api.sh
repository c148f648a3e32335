#!/bin/sh
# make fuzz-api: random and adversarial calls of every exported function
# of procket's Erlang modules, in a VM running as uid/gid 65534 (see
# test/procket_fuzz_api.erl and "Fuzzing the Erlang API" in README.md).
# Needs root and a build (ebin/, priv/). The last line is the summary:
# "fuzz-api: N calls, N crashes, N stalls, N leaks, N corruptions"; the
# exit status is 0 only if all four are 0.
#
#   FUZZ_API_SECONDS   how long, minimizing findings included (default 60)
#   FUZZ_API_SEED      the seed (default: a random one; printed first)
#
# Everything runs in private network, mount and PID namespaces: only the
# namespace's loopback is up, scripts/private.sh hides /etc/procket.conf
# and /dev/log (the helper's audit lines stay out of the system log), and
# the fuzzed VM can signal
# no process outside. ping_group_range is opened for gid 65534 in the
# namespace only, for ICMP datagram sockets.
set -eu
# the helper must read no administrator's policy: scripts/private.sh
if [ -z "${PROCKET_PRIVATE_DIR:-}" ] && [ "$(id -u)" -eq 0 ]; then
    exec "$(dirname "$0")/private.sh" "$0" "$@"
fi
cd "$(dirname "$0")/.."

SECS=${FUZZ_API_SECONDS:-60}
SEED=${FUZZ_API_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}

if [ "$(id -u)" -ne 0 ]; then
    echo "fuzz-api: run as root (the fuzzed VM runs as uid 65534 in its own namespaces)" >&2
    exit 2
fi
if [ ! -f ebin/procket.beam ] || [ ! -f priv/procket_nif.so ]; then
    echo "fuzz-api: build first (make all)" >&2
    exit 2
fi

# A fresh world-traversable directory with ebin/, priv/ and the fuzzer;
# run/ is the fuzzed VM's working directory (its journal and output).
dir=$(mktemp -d "${TMPDIR:-/tmp}/procket_fuzz_api.XXXXXX")
trap 'rm -rf "$dir"' EXIT INT TERM
chmod 755 "$dir"
mkdir "$dir/t" "$dir/run"
cp -R ebin priv "$dir/"
chmod u-s,g-s "$dir/priv/procket"   # the helper runs as the VM does, unprivileged
erlc +debug_info -o "$dir/t" test/procket_fuzz_agent.erl test/procket_fuzz_api.erl
chmod -R a+rX "$dir"
chown 65534:65534 "$dir/run"

rc=0
unshare --net --mount --propagation private --pid --fork --mount-proc -- sh -c '
    set -e
    ip link set lo up
    sysctl -q -w net.ipv6.conf.lo.disable_ipv6=0 2>/dev/null || true
    echo "65534 65534" > /proc/sys/net/ipv4/ping_group_range
    cd "$1" && ERL_CRASH_DUMP_SECONDS=0 exec erl -noshell -pa "$1/t" \
        -run procket_fuzz_api main "$1" "$2" "$3"
' sh "$dir" "$SECS" "$SEED" || rc=$?
if [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ]; then
    echo "fuzz-api: the fuzzed VM's last output:" >&2
    tail -n 30 "$dir/run/vm.log" >&2 2>/dev/null || true
fi
exit "$rc"
