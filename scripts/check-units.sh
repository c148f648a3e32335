#!/bin/sh
# check-units.sh: checks the systemd units procket ships
#   systemd/procket.socket  systemd/procket.service
#   examples/systemd/erlang-app.service
#
# 1. Statically, always (sh, awk, grep):
#    - procket.service's CapabilityBoundingSet= holds every capability the
#      broker's code (c_src/helper) uses, and nothing else: the HCAP_*
#      numbers of helper.h, CAP_* names in the code, and the calls that
#      need a capability without naming one (setns, set*id, setgroups,
#      pidfd_send_signal, another process's /proc/PID/ns). A capability
#      the code starts to need fails here before it fails in production.
#    - RestrictAddressFamilies= holds every AF_* the code uses, and no
#      other; ExecStart= is the installed broker with no arguments (the
#      broker takes none under socket activation); the socket's path is
#      the libraries' default; TasksMax= leaves room for BROKER_MAX
#      workers; DeviceAllow= names the tun device the code opens; the
#      settings that would break the broker are absent; the example
#      application keeps no privilege.
# 2. With systemd-analyze verify, when it is installed (else said, and
#    skipped): on copies of the units in a temporary directory, their
#    names kept, ExecStart= pointed at files that exist here (the built
#    priv/procket for the broker, /bin/true for the example application).
#    verify warns on stderr and may still exit 0: any line it prints
#    fails the check. The one kind of noise a build machine gives, man
#    pages not installed (Documentation=), is turned off (--man=no) and
#    checked here instead: each man: page is in docs/ (or installed).
#
# Writes nothing outside its temporary directory: systemd-analyze itself
# makes directories in /tmp and /run/systemd, so it runs in a mount
# namespace of its own where /tmp and /run are directories of the
# temporary one (as root, or as another user through a user namespace);
# where no namespace can be made, verify is skipped and said so.
#
# Exit status: 0 all checks passed (or verify skipped), 1 a check failed.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
socket_unit=$root/systemd/procket.socket
service_unit=$root/systemd/procket.service
app_unit=$root/examples/systemd/erlang-app.service
helper_dir=$root/c_src/helper
installed_broker=/usr/libexec/procket/procket

failures=0
fail() {
    echo "check-units: FAIL: $*" >&2
    failures=$((failures + 1))
}
ok() {
    echo "check-units: ok: $*"
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/procket-check-units.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP

for f in "$socket_unit" "$service_unit" "$app_unit"; do
    [ -r "$f" ] || { echo "check-units: $f: missing" >&2; exit 1; }
done

# ---- reading the units ----------------------------------------------------

# values FILE SECTION KEY: the values of KEY in [SECTION], as systemd
# combines them: assignments add up (space-separated), an empty one
# empties the list. Prints nothing, and returns 1, when KEY is not set.
values() {
    awk -v sec="[$2]" -v key="$3" '
        /^[ \t]*([#;]|$)/ { next }
        /^[ \t]*\[/ { cur = $0; gsub(/[ \t]/, "", cur); next }
        cur == sec {
            i = index($0, "=")
            if (i == 0) next
            k = substr($0, 1, i - 1); gsub(/^[ \t]+|[ \t]+$/, "", k)
            if (k != key) next
            v = substr($0, i + 1); gsub(/^[ \t]+|[ \t]+$/, "", v)
            set = 1
            out = (v == "") ? "" : (out == "" ? v : out " " v)
        }
        END { if (set) print out; exit !set }' "$1"
}

# has WORD LIST: whether WORD is one of the words of LIST
has() {
    case " $2 " in *" $1 "*) return 0 ;; *) return 1 ;; esac
}

# The check reads one line per setting.
for f in "$socket_unit" "$service_unit" "$app_unit"; do
    if grep -n '\\$' "$f" | grep -v '^[0-9]*:[ 	]*[#;]' >/dev/null; then
        fail "$f: a continuation line (\\): write each setting on one line"
    fi
done

# ---- capabilities -----------------------------------------------------------

# capabilities(7): number and name (Linux 5.9).
known_caps="0 CHOWN 1 DAC_OVERRIDE 2 DAC_READ_SEARCH 3 FOWNER 4 FSETID 5 KILL
6 SETGID 7 SETUID 8 SETPCAP 9 LINUX_IMMUTABLE 10 NET_BIND_SERVICE
11 NET_BROADCAST 12 NET_ADMIN 13 NET_RAW 14 IPC_LOCK 15 IPC_OWNER
16 SYS_MODULE 17 SYS_RAWIO 18 SYS_CHROOT 19 SYS_PTRACE 20 SYS_PACCT
21 SYS_ADMIN 22 SYS_BOOT 23 SYS_NICE 24 SYS_RESOURCE 25 SYS_TIME
26 SYS_TTY_CONFIG 27 MKNOD 28 LEASE 29 AUDIT_WRITE 30 AUDIT_CONTROL
31 SETFCAP 32 MAC_OVERRIDE 33 MAC_ADMIN 34 SYSLOG 35 WAKE_ALARM
36 BLOCK_SUSPEND 37 AUDIT_READ 38 PERFMON 39 BPF 40 CHECKPOINT_RESTORE"
cap_number() { # NAME (without CAP_): its number, or nothing
    echo $known_caps | awk -v n="$1" '{ for (i = 2; i <= NF; i += 2) if ($i == n) print $(i - 1) }'
}

# The helper's sources without their comments, so that what a comment
# mentions ("setns needs CAP_SYS_ADMIN") is not taken for a use. (No
# string literal in the helper holds "/*" or "//".)
ls "$helper_dir"/*.c "$helper_dir"/*.h >/dev/null 2>&1 ||
    { echo "check-units: no sources in $helper_dir" >&2; exit 1; }
awk '
    FNR == 1 { inc = 0 }
    {
        s = $0; out = ""
        while (s != "") {
            if (inc) {
                e = index(s, "*/")
                if (e == 0) { s = ""; break }
                s = substr(s, e + 2); inc = 0; continue
            }
            b = index(s, "/*"); l = index(s, "//")
            if (b == 0 && l == 0) { out = out s; break }
            if (l != 0 && (b == 0 || l < b)) { out = out substr(s, 1, l - 1); break }
            out = out substr(s, 1, b - 1); s = substr(s, b + 2); inc = 1
        }
        print FILENAME ":" FNR ": " out
    }' "$helper_dir"/*.c "$helper_dir"/*.h >"$tmp/code"

uses() { # ERE: whether the code matches it
    grep -Eq -- "$1" "$tmp/code"
}

needed=""
need() { # CAP_NAME WHY
    if ! has "$1" "$needed"; then
        needed="$needed $1"
        echo "$1: $2" >>"$tmp/why"
    fi
}
: >"$tmp/why"

# The capabilities the helper keeps for requests: HCAP_NAME N in helper.h
# (numbers of its own, for a build without kernel headers: each must be
# the kernel's number of CAP_NAME).
hcaps=$(sed -n 's/^[ 	]*#[ 	]*define[ 	][ 	]*HCAP_\([A-Z_]*\)[ 	][ 	]*\([0-9][0-9]*\).*/\1=\2/p' \
    "$helper_dir/helper.h")
[ -n "$hcaps" ] || fail "$helper_dir/helper.h: no HCAP_* capability defined (the check looks for #define HCAP_NAME NUMBER)"
for hc in $hcaps; do
    name=${hc%%=*} num=${hc#*=}
    real=$(cap_number "$name")
    if [ -z "$real" ]; then
        fail "helper.h: HCAP_$name: no capability CAP_$name"
    elif [ "$real" != "$num" ]; then
        fail "helper.h: HCAP_$name is $num, CAP_$name is $real"
    fi
    need "CAP_$name" "kept for requests (HCAP_$name, helper.h)"
done
# CAP_* names used in the code itself
for name in $(grep -oE '(^|[^A-Za-z0-9_])CAP_[A-Z_]+' "$tmp/code" | sed 's/.*CAP_//' | sort -u); do
    [ -n "$(cap_number "$name")" ] && need "CAP_$name" "named in the code"
done
# calls that need a capability without naming one
w='(^|[^A-Za-z0-9_])'
if uses "${w}setns[ 	]*\\("; then
    need CAP_SYS_ADMIN "setns() into a network namespace"
    if uses 'SO_PEERPIDFD|pidfd_open'; then
        need CAP_SYS_PTRACE "setns() through a pidfd needs ptrace read access to the process"
    fi
fi
if uses '/proc/%l?[du]/ns/'; then
    need CAP_SYS_PTRACE "reading another process's /proc/PID/ns needs ptrace read access"
fi
# (pidfd_send_signal(pidfd, 0) needs none: the broker reads its EPERM as
# "alive", only ESRCH as "gone")
if uses "NR_SETRES?UID|SYS_setres?uid|${w}set(res|re|e)?uid[ 	]*\\("; then
    need CAP_SETUID "switching to the caller's uid"
fi
if uses "NR_SETRES?GID|NR_SETGROUPS|SYS_setres?gid|SYS_setgroups|${w}set(res|re|e)?gid[ 	]*\\(|${w}setgroups[ 	]*\\("; then
    need CAP_SETGID "switching to the caller's gid and groups"
fi

if bounding=$(values "$service_unit" Service CapabilityBoundingSet); then
    case $bounding in
    *~*) fail "procket.service: CapabilityBoundingSet= with ~ (the check needs the list of what is granted)" ;;
    esac
    for c in $bounding; do
        if [ -z "$(cap_number "${c#CAP_}")" ]; then
            fail "procket.service: CapabilityBoundingSet=: $c is no capability (systemd ignores it silently)"
        elif ! has "$c" "$needed"; then
            fail "procket.service: CapabilityBoundingSet= grants $c, which nothing in c_src/helper uses"
        fi
    done
    for c in $needed; do
        if ! has "$c" "$bounding"; then
            fail "procket.service: CapabilityBoundingSet= lacks $c: $(grep "^$c:" "$tmp/why" | sed 's/^[^:]*: //')"
        fi
    done
    ok "procket.service: CapabilityBoundingSet=$bounding; the code needs:$needed"
else
    fail "procket.service: no CapabilityBoundingSet="
fi
for f in "$service_unit" "$app_unit"; do
    if [ -n "$(values "$f" Service AmbientCapabilities || true)" ]; then
        fail "$(basename "$f"): AmbientCapabilities= must be empty"
    fi
done

# ---- address families -------------------------------------------------------

families=$(grep -oE '(^|[^A-Za-z0-9_])AF_[A-Z0-9]+' "$tmp/code" | sed 's/.*AF_/AF_/' |
    grep -v '^AF_UNSPEC$' | sort -u | tr '\n' ' ')
if restricted=$(values "$service_unit" Service RestrictAddressFamilies); then
    case $restricted in
    *~*) fail "procket.service: RestrictAddressFamilies= with ~ (the check needs the list allowed)" ;;
    esac
    for a in $families; do
        has "$a" "$restricted" || fail "procket.service: RestrictAddressFamilies= lacks $a, which c_src/helper uses"
    done
    for a in $restricted; do
        has "$a" "$families" || fail "procket.service: RestrictAddressFamilies= allows $a, which nothing in c_src/helper uses"
    done
    ok "procket.service: RestrictAddressFamilies=$restricted; the code uses: $families"
else
    fail "procket.service: no RestrictAddressFamilies="
fi

# ---- the rest of procket.service --------------------------------------------

expect() { # FILE SECTION KEY VALUE
    got=$(values "$1" "$2" "$3" || echo "(not set)")
    if [ "$got" = "$4" ]; then
        ok "$(basename "$1"): $3=$4"
    else
        fail "$(basename "$1"): $3= is '$got', should be '$4'"
    fi
}
absent() { # FILE SECTION KEY WHY [VALUES...]: KEY unset (or set to none of VALUES)
    f=$1 sec=$2 key=$3 why=$4
    shift 4
    if got=$(values "$f" "$sec" "$key"); then
        if [ $# -eq 0 ]; then
            fail "$(basename "$f"): $key=$got: $why"
            return
        fi
        for bad in "$@"; do
            [ "$got" = "$bad" ] && fail "$(basename "$f"): $key=$got: $why"
        done
    fi
    return 0
}

expect "$service_unit" Service ExecStart "$installed_broker"
expect "$service_unit" Service Type simple
expect "$service_unit" Service NoNewPrivileges yes
expect "$service_unit" Unit Requires procket.socket
expect "$service_unit" Unit After procket.socket
absent "$service_unit" Service User "the broker must start as root"
absent "$service_unit" Service DynamicUser "the broker must start as root" yes true on 1
absent "$service_unit" Service PrivateNetwork "the broker serves the host's network namespace" yes true on 1
absent "$service_unit" Service PrivateUsers "setns() into callers' namespaces needs the initial user namespace" yes true on 1 self identity
absent "$service_unit" Service ProtectProc "the broker reads callers' /proc/PID/ns" invisible noaccess ptraceable
absent "$service_unit" Service ProcSubset "the broker reads /proc/sys/kernel/overflowuid" pid
absent "$service_unit" Service RestrictNamespaces "the broker enters network namespaces (setns): at most 'net'" yes true on 1
absent "$service_unit" Service PrivateDevices "hides /dev/net/tun (DevicePolicy=closed + DeviceAllow= instead)" yes true on 1
for key in IPAddressDeny IPAddressAllow SocketBindDeny SocketBindAllow RestrictNetworkInterfaces; do
    absent "$service_unit" Service "$key" "would apply to the sockets the broker makes for its callers (a socket keeps its creator's cgroup)"
done
absent "$service_unit" Service SecureBits "the broker switches uid with PR_SET_KEEPCAPS itself"
if ns=$(values "$service_unit" Service RestrictNamespaces); then
    has net "$ns" || fail "procket.service: RestrictNamespaces=$ns: must allow net (setns into callers' network namespaces)"
fi

broker_max=$(sed -n 's/^#define BROKER_MAX \([0-9][0-9]*\).*/\1/p' "$helper_dir/broker.c")
if tasks=$(values "$service_unit" Service TasksMax); then
    if [ -n "$broker_max" ] && [ "$tasks" != infinity ] && [ "${tasks%%%}" = "$tasks" ] &&
        [ "$tasks" -le "$broker_max" ]; then
        fail "procket.service: TasksMax=$tasks leaves no room for the broker and its $broker_max workers (BROKER_MAX)"
    else
        ok "procket.service: TasksMax=$tasks (BROKER_MAX ${broker_max:-unknown})"
    fi
fi

tun=$(sed -n 's/^#define TUN_PATH "\(.*\)".*/\1/p' "$helper_dir/open.c")
devpolicy=$(values "$service_unit" Service DevicePolicy || echo auto)
if [ "$devpolicy" != auto ] && [ -n "$tun" ]; then
    allow=$(values "$service_unit" Service DeviceAllow || true)
    case " $allow " in
    *" $tun rw "* | *" $tun rwm "* | *" $tun "*) ok "procket.service: DevicePolicy=$devpolicy, DeviceAllow= has $tun" ;;
    *) fail "procket.service: DevicePolicy=$devpolicy without DeviceAllow=$tun rw (tun/tap requests)" ;;
    esac
fi

# ---- procket.socket -----------------------------------------------------------

expect "$socket_unit" Socket Accept no
expect "$socket_unit" Install WantedBy sockets.target
path=$(values "$socket_unit" Socket ListenSequentialPacket || true)
[ -n "$path" ] || fail "procket.socket: no ListenSequentialPacket= (the broker takes only SOCK_SEQPACKET)"
for other in ListenStream ListenDatagram ListenFIFO ListenSpecial ListenNetlink ListenMessageQueue; do
    absent "$socket_unit" Socket "$other" "the broker takes exactly one SOCK_SEQPACKET socket (LISTEN_FDS=1)"
done
c_default=$(sed -n 's/^#define PROCKET_BROKER_PATH "\(.*\)".*/\1/p' "$root/c_src/include/procket.h" 2>/dev/null || true)
erl_default=$(sed -n 's/^-define(DEFAULT_BROKER, <<"\(.*\)">>).*/\1/p' "$root/src/procket_opts.erl" 2>/dev/null || true)
for d in "procket.h:$c_default" "procket_opts.erl:$erl_default"; do
    if [ -z "${d#*:}" ]; then
        fail "procket.socket: the default broker path of ${d%%:*} not found"
    elif [ "${d#*:}" != "$path" ]; then
        fail "procket.socket: ListenSequentialPacket=$path, but ${d%%:*} asks ${d#*:}"
    fi
done
[ -n "$path" ] && [ "$path" = "$c_default" ] && [ "$path" = "$erl_default" ] &&
    ok "procket.socket: $path, the libraries' default"

# ---- the example application ------------------------------------------------

expect "$app_unit" Service NoNewPrivileges yes
expect "$app_unit" Service CapabilityBoundingSet ""
for key in Wants After; do
    if has procket.socket "$(values "$app_unit" Unit "$key" || true)"; then
        ok "erlang-app.service: $key= has procket.socket"
    else
        fail "erlang-app.service: $key= lacks procket.socket"
    fi
done

# ---- systemd-analyze verify -----------------------------------------------------

verify_units() {
    if ! command -v systemd-analyze >/dev/null 2>&1; then
        echo "check-units: systemd-analyze not installed: verify skipped (the static checks above ran)"
        return 0
    fi
    if ! command -v unshare >/dev/null 2>&1; then
        echo "check-units: no unshare(1) to confine systemd-analyze: verify skipped"
        return 0
    fi
    # systemd-analyze writes to /tmp and /run/systemd: here they are
    # directories of $tmp (run/, tmp/), and the copies of the units are
    # in run/units, that is /run/units to systemd-analyze (the broker in
    # run/bin).
    mkdir -p "$tmp/run/units" "$tmp/tmp"
    chmod 1777 "$tmp/tmp"
    for f in "$socket_unit" "$service_unit" "$app_unit"; do
        cp "$f" "$tmp/run/units/"
    done
    # the built broker, copied: the checkout itself may be under /tmp or
    # /run, which systemd-analyze does not see
    if [ -x "$root/priv/procket" ]; then
        mkdir "$tmp/run/bin"
        cp "$root/priv/procket" "$tmp/run/bin/procket"
        broker_exec=/run/bin/procket
    else
        broker_exec=/bin/true
        echo "check-units: priv/procket not built (make all): procket.service verified with ExecStart=/bin/true"
    fi
    # ExecStart= only, and only its command: the rest of each unit as shipped
    sed "s|^ExecStart=$installed_broker\$|ExecStart=$broker_exec|" "$service_unit" \
        >"$tmp/run/units/procket.service"
    sed 's|^ExecStart=[^ ]*|ExecStart=/bin/true|' "$app_unit" \
        >"$tmp/run/units/erlang-app.service"
    grep -q "^ExecStart=$broker_exec\$" "$tmp/run/units/procket.service" ||
        fail "procket.service: ExecStart= not rewritten for verify"

    if [ "$(id -u)" -eq 0 ]; then
        ns="unshare --mount --propagation private"
    else
        ns="unshare --user --map-root-user --mount --propagation private"
    fi
    # mount -n: no entry in /run/mount/utab (libmount), which is outside $tmp
    # until /run is replaced
    if ! $ns sh -c 'mount -n --bind "$1/run" /run && mount -n --bind "$1/tmp" /tmp' sh "$tmp" \
        >/dev/null 2>&1; then
        echo "check-units: cannot make a mount namespace (${ns%% --propagation*}) to confine systemd-analyze: verify skipped"
        return 0
    fi
    # --man=no: Documentation= is checked below instead. verify runs man(1)
    # for each man: page, and procket's own pages are not installed on
    # the machine that builds them; on a clean unit verify prints nothing
    # else here (systemd 252, no systemd running as PID 1), so no other
    # output is filtered: every line it prints is a failure.
    rc=0
    $ns sh -c 'mount -n --bind "$1/run" /run && mount -n --bind "$1/tmp" /tmp &&
        exec systemd-analyze verify --man=no /run/units/procket.socket \
            /run/units/procket.service /run/units/erlang-app.service' sh "$tmp" \
        >"$tmp/verify.out" 2>&1 || rc=$?
    echo "check-units: systemd-analyze verify --man=no (exit $rc):"
    sed 's/^/  | /' "$tmp/verify.out"
    if [ "$rc" -ne 0 ]; then
        fail "systemd-analyze verify exited $rc"
    fi
    if [ -s "$tmp/verify.out" ]; then
        fail "systemd-analyze verify printed the lines above (warnings count too: it exits 0 on most)"
    elif [ "$rc" -eq 0 ]; then
        ok "systemd-analyze verify: nothing to say about the units"
    fi
}

# Documentation=: each man:NAME(SECTION) is one of procket's pages
# (docs/NAME.SECTION.md) or a page man(1) finds here; other URLs are
# left alone.
for f in "$socket_unit" "$service_unit" "$app_unit"; do
    for doc in $(values "$f" Unit Documentation || true); do
        case $doc in
        man:*\(*\))
            page=${doc#man:}
            name=${page%%(*}
            section=${page#*(}
            section=${section%)}
            if [ -f "$root/docs/$name.$section.md" ]; then
                ok "$(basename "$f"): Documentation=$doc is docs/$name.$section.md"
            elif command -v man >/dev/null 2>&1 && man -w "$section" "$name" >/dev/null 2>&1; then
                ok "$(basename "$f"): Documentation=$doc is installed"
            else
                fail "$(basename "$f"): Documentation=$doc: no docs/$name.$section.md, and man has no such page"
            fi
            ;;
        man:*) fail "$(basename "$f"): Documentation=$doc: not man:NAME(SECTION)" ;;
        esac
    done
done

verify_units

if [ "$failures" -gt 0 ]; then
    echo "check-units: $failures problem(s)" >&2
    exit 1
fi
echo "check-units: all checks passed"
