#!/bin/sh
# scripts/bench.sh - `make bench`: how long procket:open/2 takes, as an
# unprivileged user, next to the floor any setuid helper pays, and with
# 1 GiB live in the VM. See bench/README.md. Prints figures, asserts
# nothing: exits non-zero only when something broke.
#
# Needs root (or `sudo -n`) to make the staged helpers setuid root; the
# measurements themselves run as BENCH_UID (default 65534, nobody).
# Knobs (environment): BENCH_PORT (443), BENCH_N (400), BENCH_WARMUP (20),
# BENCH_OSCMD_N (200), BENCH_UID (65534), BENCH_NETNS (1: own network
# namespace when unshare(1) can make one), BENCH_SBWT (1: also time a VM
# started with +sbwt none), BENCH_ERL_FLAGS (extra flags for the main VM).
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PORT=${BENCH_PORT:-443}
N=${BENCH_N:-400}
WARM=${BENCH_WARMUP:-20}
OSCMD_N=${BENCH_OSCMD_N:-200}
BUID=${BENCH_UID:-65534}
NETNS=${BENCH_NETNS:-1}
SBWT=${BENCH_SBWT:-1}
ERL_FLAGS=${BENCH_ERL_FLAGS:-}
GIB=1

die() { echo "bench: $*" >&2; exit 1; }

# ---- inner part: runs in the (possibly new) network namespace, as root,
# and drops to BUID for every measurement.
if [ "${1:-}" = "--inner" ]; then
    T=$2
    if [ "${3:-}" = "netns" ]; then
        ip link set lo up 2>/dev/null || true
    fi
    cd "$T"
    asuser() {
        setpriv --reuid="$BUID" --regid="$BUID" --clear-groups \
            env -i HOME="$T" PATH=/usr/local/bin:/usr/bin:/bin LANG=C "$@"
    }
    # Floor blocks on request of the VM (bench/procket_bench.erl): it
    # writes "FILE N WARMUP" to fifo/req and waits for "ok" on fifo/ack.
    floor_server() {
        while read -r file n w < "$T/fifo/req"; do
            case "$file" in
                floor*.ns) ;;
                *) echo fail > "$T/fifo/ack"; continue ;;
            esac
            if asuser "$T/floor_driver" "$T/floor_helper" "$PORT" "$n" "$w" \
                >> "$T/out/$file"; then
                echo ok > "$T/fifo/ack"
            else
                echo fail > "$T/fifo/ack"
            fi
        done
    }
    vm() { # mode [erl flags...]
        mode=$1
        shift
        floor_server &
        server=$!
        # shellcheck disable=SC2086
        asuser erl "$@" -noshell -pa "$T/procket/ebin" "$T/bench" \
            -run procket_bench main "$mode" "$T/out" "$PORT" "$N" "$WARM" \
            "$OSCMD_N" "$GIB" "$T/fifo"
        rc=$?
        kill "$server" 2>/dev/null
        wait "$server" 2>/dev/null
        return $rc
    }
    # shellcheck disable=SC2086
    vm full $ERL_FLAGS || die "the VM bench failed"
    if [ "$SBWT" = 1 ]; then
        # diagnostic: the same opens in a VM whose schedulers do not
        # busy-wait when idle (see bench/README.md)
        vm plain:sbwt +sbwt none || die "the +sbwt none VM bench failed"
        vm plain:nobw +sbwt none +sbwtdcpu none +sbwtdio none ||
            die "the no-busy-wait VM bench failed"
    fi
    exit 0
fi

# ---- outer part: stage, run, summarize, clean up.
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "needs root to make the helpers setuid"
    exec sudo -n env BENCH_PORT="$PORT" BENCH_N="$N" BENCH_WARMUP="$WARM" \
        BENCH_OSCMD_N="$OSCMD_N" BENCH_UID="$BUID" BENCH_NETNS="$NETNS" \
        BENCH_SBWT="$SBWT" BENCH_ERL_FLAGS="$ERL_FLAGS" \
        sh "$0" "$@"
fi
for t in erl erlc setpriv cc; do
    command -v "$t" >/dev/null 2>&1 || die "$t not found"
done
if [ ! -x "$ROOT/priv/procket" ] || [ ! -f "$ROOT/priv/procket_nif.so" ] ||
    [ ! -f "$ROOT/ebin/procket.beam" ]; then
    die "build first: make all"
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/procket-bench.XXXXXX")
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT TERM
chmod 755 "$T"
mkdir -p "$T/procket" "$T/bench" "$T/out" "$T/fifo"
mkfifo "$T/fifo/req" "$T/fifo/ack"
cp -R "$ROOT/ebin" "$ROOT/priv" "$T/procket/"

# The floor: static setuid helper, plain driver, both -O2.
if command -v musl-gcc >/dev/null 2>&1; then HCC=musl-gcc; else HCC=${CC:-cc}; fi
"$HCC" -O2 -static -o "$T/floor_helper" "$ROOT/bench/floor_helper.c" ||
    die "cannot build bench/floor_helper.c statically with $HCC"
${CC:-cc} -O2 -o "$T/floor_driver" "$ROOT/bench/floor_driver.c" ||
    die "cannot build bench/floor_driver.c"
erlc -o "$T/bench" "$ROOT/bench/procket_bench.erl" ||
    die "cannot compile bench/procket_bench.erl"

# chmod after chown: chown clears the setuid bit.
chown root:root "$T/procket/priv/procket" "$T/floor_helper"
chmod 4755 "$T/procket/priv/procket" "$T/floor_helper"
chmod -R a+rX "$T/procket" "$T/bench" "$T/floor_driver"
chown "$BUID" "$T/out" "$T/fifo" "$T/fifo/req" "$T/fifo/ack"
chmod 700 "$T/fifo"
chmod 600 "$T/fifo/req" "$T/fifo/ack"
case ",$(findmnt -no OPTIONS -T "$T" 2>/dev/null)," in
    *,nosuid,*) die "$T is on a nosuid mount: set TMPDIR elsewhere" ;;
esac

if [ "$NETNS" = 1 ] && command -v unshare >/dev/null 2>&1 &&
    unshare --net true 2>/dev/null; then
    where="own network namespace"
    unshare --net sh "$0" --inner "$T" netns
else
    where="host network namespace"
    sh "$0" --inner "$T"
fi

# ---- summary. Percentiles are nearest-rank on the sorted samples.
# stats FILE -> "n median_us p90_us"
stats() {
    sort -n "$1" | awk '{ v[NR] = $1 }
        END {
            if (NR == 0) { print "0 0 0"; exit }
            m = int((NR * 50 + 99) / 100); p = int((NR * 90 + 99) / 100)
            printf "%d %.0f %.0f\n", NR, v[m] / 1000, v[p] / 1000
        }'
}
fact() { awk -v k="$1" '$1 == k { print $2 }' "$T/out/facts"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

line() { # label file
    # shellcheck disable=SC2046 # three numbers, split on purpose
    set -- "$1" $(stats "$2")
    printf '%-50s median %5d us  p90 %5d us\n' "$1 (n=$2):" "$3" "$4"
}
med() { stats "$1" | awk '{ print $2 }'; }
pm=$(med "$T/out/open_plain.ns")
fm=$(med "$T/out/floor.ns")
gm=$(med "$T/out/open_1gib.ns")
rss0=$(( $(fact rss_start_kib) / 1024 ))
rss1=$(( $(fact rss_held_kib) / 1024 ))
held=$(( $(fact held_bytes) / 1048576 ))

printf 'machine: nproc %s, kernel %s, OTP %s (%s schedulers, %s dirty I/O), uid %s, UDP port %s, %s\n' \
    "$(nproc)" "$(uname -r)" "$(fact otp_release)" "$(fact schedulers)" \
    "$(fact dirty_io_schedulers)" "$(fact uid)" "$PORT" "$where"
line "procket:open/2 UDP $PORT" "$T/out/open_plain.ns"
line "floor (static setuid C, posix_spawn)" "$T/out/floor.ns"
printf 'ratio median procket/floor: %s  (target <= 1.5)\n' "$(ratio "$pm" "$fm")"
line "procket:open/2 with 1 GiB live" "$T/out/open_1gib.ns"
printf '  (VM RSS %d MiB at start, %d MiB with %d MiB of binaries held)\n' \
    "$rss0" "$rss1" "$held"
g2=$(med "$T/out/floor_1gib.ns")
printf 'ratio median 1GiB/plain: %s  (target <= 1.2)\n' "$(ratio "$gm" "$pm")"
line "  floor, interleaved with the 1 GiB opens" "$T/out/floor_1gib.ns"
printf '  machine drift (floor, 1 GiB phase / plain phase): %s; ratio corrected for it: %s\n' \
    "$(ratio "$g2" "$fm")" "$(awk -v a="$gm" -v b="$pm" -v c="$g2" -v d="$fm" \
        'BEGIN { if (b > 0 && c > 0) printf "%.2f", (a / b) / (c / d); else print "n/a" }')"
# diagnostic TAG TITLE LABEL: the figures of a diagnostic VM, if it ran
diagnostic() {
    [ -f "$T/out/open_$1.ns" ] || return 0
    echo "$2"
    line "  procket:open/2 UDP $PORT, $3" "$T/out/open_$1.ns"
    line "  floor, same run" "$T/out/floor_$1.ns"
    printf '  ratio median procket/floor: %s\n' \
        "$(ratio "$(med "$T/out/open_$1.ns")" "$(med "$T/out/floor_$1.ns")")"
}
diagnostic sbwt "diagnostic, a second VM started with +sbwt none (idle schedulers do not spin):" \
    "+sbwt none"
diagnostic nobw "diagnostic, a third VM started with +sbwt none +sbwtdcpu none +sbwtdio none:" \
    "no busy wait"
echo "os:cmd shell spawn, for comparison (the older design's way to run a helper):"
line '  os:cmd("/bin/true")' "$T/out/oscmd_plain.ns"
line '  os:cmd("/bin/true") with 1 GiB live' "$T/out/oscmd_1gib.ns"
