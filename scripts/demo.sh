#!/bin/sh
# make demo: an unprivileged Erlang VM serves UDP 53 and TCP 80 (IPv4 and
# IPv6) through procket, and real clients (socat) talk to it.
#
# Runs as root to set the scene: the helper is staged setuid root in a
# temporary directory, and everything happens in a private network
# namespace so that nothing on this machine's ports 53 and 80 is touched.
set -eu
cd "$(dirname "$0")/.."
. scripts/lib.sh

if [ "$(id -u)" -ne 0 ]; then
    echo "demo: run as root (it stages a setuid helper); the VM itself runs as nobody" >&2
    exit 1
fi
if [ -z "${PROCKET_DEMO_NETNS:-}" ]; then
    PROCKET_DEMO_NETNS=1 exec unshare --net -- "$0" "$@"
fi
ip link set lo up
# IPv6 on the namespace's loopback, for the ::1 servers
sysctl -q -w net.ipv6.conf.lo.disable_ipv6=0 2>/dev/null || true

dir=$(mktemp -d /tmp/procket-demo.XXXXXX)
trap 'kill "$vm" 2>/dev/null || true; rm -rf "$dir"' EXIT
stage "$dir"
erlc -o "$dir/ebin" examples/echo.erl
mkdir "$dir/run" && chown 65534:65534 "$dir/run"

echo "demo: helper $dir/priv/procket: $(stat -c '%A %U' "$dir/priv/procket")"
cd "$dir"
# setpriv execs erl, which execs the VM: $! is the VM itself
HOME=$dir/run setpriv --reuid=65534 --regid=65534 --clear-groups -- \
    erl -noshell -pa ebin -eval '
    Show = fun(What, R) -> io:format("vm:   ~-30s ~p~n", [What, R]), R end,
    io:format("vm:   running as uid ~s", [os:cmd("id -u")]),
    Servers = [S || {ok, S} <- [Show("echo:start(udp, 53)", echo:start(udp, 53)),
                                Show("echo:start(tcp, 80)", echo:start(tcp, 80)),
                                Show("echo:start(udp, 53, ::1)",
                                     echo:start(udp, 53, [{ip, "::1"}])),
                                Show("echo:start(tcp, 80, ::1)",
                                     echo:start(tcp, 80, [{ip, "::1"}]))]],
    Show("procket:open(53) again", procket:open(53, [{protocol, udp}])),
    Show("procket:open(70000)",
         try procket:open(70000) catch error:badarg -> {error, badarg} end),
    ok = file:write_file("run/ready", "ok"),
    Wait = fun W() -> case filelib:is_file("run/stop") of
                          true -> ok;
                          false -> timer:sleep(50), W()
                      end end,
    Wait(),
    [echo:stop(S) || S <- Servers],
    io:format("vm:   servers stopped, descriptors closed~n"),
    halt(0).' &
vm=$!

i=0
while [ ! -f run/ready ]; do
    i=$((i + 1)); [ $i -lt 100 ] || { echo "demo: VM did not start" >&2; exit 1; }
    sleep 0.1
done

fail=0
check() {
    what=$1; shift
    reply=$(echo "hello over $what" | timeout 5 socat -t2 - "$@" 2>&1 || true)
    if [ "$reply" = "hello over $what" ]; then
        echo "client: $what -> echoed \"$reply\""
    else
        echo "client: $what -> FAILED: \"$reply\""; fail=1
    fi
}
check "UDP 127.0.0.1:53" UDP:127.0.0.1:53
check "TCP 127.0.0.1:80" TCP:127.0.0.1:80
check "UDP [::1]:53" UDP6:[::1]:53
check "TCP [::1]:80" TCP6:[::1]:80

echo "kernel: sockets on ports 53 and 80 are owned by uid:"
awk 'NR > 1 && ($2 ~ /:0035$/ || $2 ~ /:0050$/) { print "  " FILENAME ": " $2 " uid " $8 }' \
    /proc/net/udp /proc/net/tcp /proc/net/udp6 /proc/net/tcp6

touch run/stop
i=0
while kill -0 "$vm" 2>/dev/null; do
    i=$((i + 1)); [ $i -lt 100 ] || { echo "demo: VM did not stop" >&2; fail=1; break; }
    sleep 0.1
done
echo "kernel: after the VM stopped, sockets on ports 53 and 80: $(
    awk 'NR > 1 && ($2 ~ /:0035$/ || $2 ~ /:0050$/)' /proc/net/udp /proc/net/tcp \
        /proc/net/udp6 /proc/net/tcp6 | wc -l)"

if [ $fail -eq 0 ]; then
    echo "demo: OK - an unprivileged VM served UDP 53 and TCP 80 over IPv4 and IPv6"
else
    echo "demo: FAILED"; exit 1
fi
