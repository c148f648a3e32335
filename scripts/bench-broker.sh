#!/bin/sh
# scripts/bench-broker.sh - `make bench-broker` (also run by `make bench`):
# procket's broker (`procket -l PATH`) against a minimal C broker
# (bench/broker_min.c: accept, decode, socket+bind, reply; no fork, no
# policy, no privilege drop) and against the spawn path (the setuid
# helper), all three through procket:open/2 in unprivileged VMs. See
# bench/README.md, "Broker". Prints figures, asserts nothing: exits
# non-zero only when something broke.
#
# Needs root (or `sudo -n`): the brokers run as root, the staged helper is
# made setuid root. The VMs run as BENCH_UID (default 65534, nobody), the
# one asking the brokers with no_new_privs, the one spawning the setuid
# helper without (no_new_privs would disarm the setuid bit).
# Three parts, in this order:
#   latency     8 rounds of (broker block, minimal block, spawn block), in
#               rotating order, each block BENCH_WARMUP untimed opens and
#               BENCH_N/8 timed ones; the open alone is timed
#   throughput  opens per second with C concurrent Erlang processes (open
#               + close in a loop), BENCH_TP_ROUNDS rounds of every
#               concurrency and variant, interleaved
#   flatness    BENCH_BROKER_REQUESTS through procket's broker from
#               BENCH_BROKER_CALLERS processes; the broker's descriptors,
#               RSS and processes before and after
# Knobs (environment): BENCH_N (800), BENCH_WARMUP (50), BENCH_TP_MS
# (800), BENCH_TP_WARMUP_MS (150), BENCH_TP_ROUNDS (5), BENCH_TP_CONC
# (1,2,4,8), BENCH_BROKER_REQUESTS (100000), BENCH_BROKER_CALLERS (8),
# BENCH_UID (65534), BENCH_NETNS (1: own network namespace when
# unshare(1) can make one), BENCH_ERL_FLAGS (extra flags for both VMs).
# About 80 s with the defaults on 2 vCPUs.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${BENCH_N:-800}
WARM=${BENCH_WARMUP:-50}
TP_MS=${BENCH_TP_MS:-800}
TP_WARM_MS=${BENCH_TP_WARMUP_MS:-150}
TP_ROUNDS=${BENCH_TP_ROUNDS:-5}
TP_CONC=${BENCH_TP_CONC:-1,2,4,8}
REQS=${BENCH_BROKER_REQUESTS:-100000}
CALLERS=${BENCH_BROKER_CALLERS:-8}
BUID=${BENCH_UID:-65534}
NETNS=${BENCH_NETNS:-1}
ERL_FLAGS=${BENCH_ERL_FLAGS:-}
ROUNDS=8
# The broker's RSS may grow by this much over the flood and still count
# as flat: a leak of one byte per request shows past 100,000 requests.
RSS_SLACK_KIB=64

die() { echo "bench-broker: $*" >&2; exit 1; }

for v in "$N" "$WARM" "$TP_MS" "$TP_WARM_MS" "$TP_ROUNDS" "$REQS" "$CALLERS" "$BUID"; do
    case "$v" in
        '' | *[!0-9]*) die "not a number: '$v'" ;;
    esac
done
case "$TP_CONC" in
    '' | *[!0-9,]* | ,* | *, | *,,*) die "BENCH_TP_CONC: numbers separated by commas, not '$TP_CONC'" ;;
esac
[ "$N" -ge 8 ] && [ "$CALLERS" -ge 1 ] && [ "$REQS" -ge "$CALLERS" ] && [ "$TP_ROUNDS" -ge 1 ] ||
    die "BENCH_N >= 8, BENCH_TP_ROUNDS >= 1, BENCH_BROKER_REQUESTS >= BENCH_BROKER_CALLERS >= 1"

# ---- inner part: runs in the (possibly new) network namespace, as root;
# starts the brokers and the two VMs and drives them.
if [ "${1:-}" = "--inner" ]; then
    T=$2
    if [ "${3:-}" = "netns" ]; then
        ip link set lo up 2>/dev/null || true
    fi
    cd "$T"
    BPID='' MPID='' VA='' VB=''
    # alive PID: a process that has not exited (a zombie has)
    alive() {
        [ -n "$1" ] && [ -r "/proc/$1/stat" ] &&
            ! awk '{ sub(/^.*\) /, ""); exit !($1 == "Z") }' "/proc/$1/stat" 2>/dev/null
    }
    cleanup() {
        for p in $VA $VB; do kill -KILL "$p" 2>/dev/null || true; done
        for p in $BPID $MPID; do kill -TERM "$p" 2>/dev/null || true; done
    }
    trap cleanup EXIT
    trap 'exit 130' INT TERM

    # The brokers, as root, with an empty environment.
    env -i PATH=/usr/bin:/bin "$T/procket/priv/procket" -l "$T/sock/broker" \
        </dev/null >/dev/null 2>>"$T/out/broker.log" &
    BPID=$!
    env -i "$T/broker_min" "$T/sock/min" </dev/null >/dev/null 2>>"$T/out/broker_min.log" &
    MPID=$!
    for _ in $(seq 100); do
        [ -S "$T/sock/broker" ] && [ -S "$T/sock/min" ] && break
        alive "$BPID" || break
        alive "$MPID" || break
        sleep 0.05
    done
    [ -S "$T/sock/broker" ] || die "procket's broker did not start: $(cat "$T/out/broker.log")"
    [ -S "$T/sock/min" ] || die "the minimal broker did not start: $(cat "$T/out/broker_min.log")"

    # The VMs: "nnp" with no_new_privs (the brokers), "spawn" without (the
    # setuid helper). Each serves commands on its FIFOs (bench/broker_bench.erl).
    # shellcheck disable=SC2086 # ERL_FLAGS: several flags, split on purpose
    setpriv --no-new-privs --reuid="$BUID" --regid="$BUID" --clear-groups \
        env -i HOME="$T" PATH=/usr/local/bin:/usr/bin:/bin LANG=C \
        erl +Bd $ERL_FLAGS -noshell -pa "$T/procket/ebin" "$T/bench" \
        -run broker_bench main nnp "$T/out" "$T/fifo" </dev/null &
    VA=$!
    # shellcheck disable=SC2086
    setpriv --reuid="$BUID" --regid="$BUID" --clear-groups \
        env -i HOME="$T" PATH=/usr/local/bin:/usr/bin:/bin LANG=C \
        erl +Bd $ERL_FLAGS -noshell -pa "$T/procket/ebin" "$T/bench" \
        -run broker_bench main spawn "$T/out" "$T/fifo" </dev/null &
    VB=$!

    # ask VM SECONDS COMMAND...: has VM do COMMAND, waits for its answer
    ask() {
        vm=$1 secs=$2
        shift 2
        timeout --foreground 60 sh -c 'printf "%s\n" "$2" > "$1"' sh "$T/fifo/$vm.cmd" "$*" ||
            die "the $vm VM takes no command (did it start?)"
        ans=$(timeout --foreground "$secs" sh -c 'read -r a < "$1" && echo "$a"' sh "$T/fifo/$vm.ack") || ans=
        [ "$ans" = ok ] || die "the $vm VM: '$*' failed (${ans:-no answer})"
    }
    path_of() {
        case "$1" in
            broker) echo "$T/sock/broker" ;;
            min) echo "$T/sock/min" ;;
            *) echo - ;;
        esac
    }
    vm_of() { if [ "$1" = spawn ]; then echo spawn; else echo nnp; fi; }
    # order I: the three variants, rotated by I
    order() {
        case $(($1 % 3)) in
            0) echo broker min spawn ;;
            1) echo min spawn broker ;;
            *) echo spawn broker min ;;
        esac
    }

    # -- latency
    B=$(((N + ROUNDS - 1) / ROUNDS))
    i=0
    while [ $i -lt $ROUNDS ]; do
        for v in $(order "$i"); do
            ask "$(vm_of "$v")" 300 lat "$v" "$(path_of "$v")" "$B" "$WARM" "$T/out/lat_$v.ns"
        done
        i=$((i + 1))
    done

    # -- throughput
    r=0
    while [ $r -lt "$TP_ROUNDS" ]; do
        for c in $(echo "$TP_CONC" | tr , ' '); do
            for v in $(order "$r"); do
                ask "$(vm_of "$v")" 300 tp "$v" "$(path_of "$v")" "$c" "$TP_WARM_MS" "$TP_MS" \
                    "$T/out/tp.txt"
            done
        done
        r=$((r + 1))
    done

    # -- flatness: the broker's parent before and after the flood, once
    # its worker count has settled (two looks 200 ms apart agree, no
    # zombie)
    kids() { ps --no-headers -o stat= --ppid "$BPID" 2>/dev/null || true; }
    settle() {
        prev=x
        for _ in $(seq 50); do
            now=$(kids | awk '{ n++ } /^Z/ { z++ } END { printf "%d %d", n, z }')
            case "$now" in
                "$prev") case "$now" in *" 0") return 0 ;; esac ;;
            esac
            prev=$now
            sleep 0.2
        done
    }
    snap() { # FILE
        settle
        alive "$BPID" || die "procket's broker has exited: $(cat "$T/out/broker.log")"
        {
            echo "fds $(find "/proc/$BPID/fd" -mindepth 1 -maxdepth 1 | wc -l)"
            echo "rss_kib $(awk '/^VmRSS:/ { print $2 }' "/proc/$BPID/status")"
            echo "procs $(($(kids | wc -l) + 1))"
            echo "zombies $(kids | grep -c '^Z' || true)"
        } > "$1"
    }
    snap "$T/out/flat.before"
    ask nnp 1200 flood broker "$T/sock/broker" "$CALLERS" "$REQS" "$T/out/flood.txt"
    snap "$T/out/flat.after"

    # -- the end: the VMs quit; SIGTERM stops the brokers
    ask nnp 30 quit
    ask spawn 30 quit
    wait "$VA" || true
    wait "$VB" || true
    VA='' VB=''
    kill -TERM "$BPID" "$MPID"
    for _ in $(seq 100); do
        alive "$BPID" || alive "$MPID" || break
        sleep 0.1
    done
    bkill='' mkill=''
    if alive "$BPID"; then kill -KILL "$BPID"; bkill=' (did not stop in 10 s: SIGKILL)'; fi
    if alive "$MPID"; then kill -KILL "$MPID"; mkill=' (did not stop in 10 s: SIGKILL)'; fi
    if wait "$BPID"; then brc=0; else brc=$?; fi
    if wait "$MPID"; then mrc=0; else mrc=$?; fi
    brc="$brc$bkill" mrc="$mrc$mkill"
    BPID='' MPID=''
    {
        echo "broker_exit $brc"
        echo "min_exit $mrc"
        if [ -e "$T/sock/broker" ]; then echo "broker_socket left"; else echo "broker_socket removed"; fi
    } > "$T/out/stop"
    exit 0
fi

# ---- outer part: stage, run, summarize, clean up.
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "needs root for the brokers and the setuid helper"
    exec sudo -n env BENCH_N="$N" BENCH_WARMUP="$WARM" BENCH_TP_MS="$TP_MS" \
        BENCH_TP_WARMUP_MS="$TP_WARM_MS" BENCH_TP_ROUNDS="$TP_ROUNDS" \
        BENCH_TP_CONC="$TP_CONC" BENCH_BROKER_REQUESTS="$REQS" \
        BENCH_BROKER_CALLERS="$CALLERS" BENCH_UID="$BUID" BENCH_NETNS="$NETNS" \
        BENCH_ERL_FLAGS="$ERL_FLAGS" sh "$0" "$@"
fi
for t in erl erlc setpriv timeout ps "${CC:-cc}"; do
    command -v "$t" >/dev/null 2>&1 || die "$t not found"
done
if [ ! -x "$ROOT/priv/procket" ] || [ ! -f "$ROOT/priv/procket_nif.so" ] ||
    [ ! -f "$ROOT/ebin/procket.beam" ]; then
    die "build first: make all"
fi

# No "-" in the directory's name: code:priv_dir/1 would take a code path
# entry "procket-anything" for the procket application.
T=$(mktemp -d "${TMPDIR:-/tmp}/procket_broker.XXXXXX")
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT TERM
chmod 755 "$T"
[ ${#T} -le 90 ] || die "$T: too long a path for a Unix socket under it (set TMPDIR)"
mkdir -p "$T/procket" "$T/bench" "$T/out" "$T/fifo" "$T/sock"
mkfifo "$T/fifo/nnp.cmd" "$T/fifo/nnp.ack" "$T/fifo/spawn.cmd" "$T/fifo/spawn.ack"
cp -R "$ROOT/ebin" "$ROOT/priv" "$T/procket/"

${CC:-cc} -O2 -std=c11 -D_DEFAULT_SOURCE -Wall -Wextra -I"$ROOT/c_src/include" \
    -o "$T/broker_min" "$ROOT/bench/broker_min.c" "$ROOT/c_src/lib/wire.c" \
    "$ROOT/c_src/lib/fdpass.c" || die "cannot build bench/broker_min.c"
erlc -o "$T/bench" "$ROOT/bench/broker_bench.erl" ||
    die "cannot compile bench/broker_bench.erl"

# The brokers' directory: root's, writable by no one else (procket -l
# insists). chmod after chown: chown clears the setuid bit.
chmod 755 "$T/sock"
chown root:root "$T/procket/priv/procket"
chmod -R a+rX "$T/procket" "$T/bench"
chown "$BUID" "$T/out" "$T/fifo" "$T/fifo/"*
chmod 700 "$T/fifo"
chmod 600 "$T/fifo/"*
chmod 4755 "$T/procket/priv/procket"
case ",$(findmnt -no OPTIONS -T "$T" 2>/dev/null)," in
    *,nosuid,*) die "$T is on a nosuid mount: set TMPDIR elsewhere" ;;
esac

start=$(date +%s)
if [ "$NETNS" = 1 ] && command -v unshare >/dev/null 2>&1 &&
    unshare --net true 2>/dev/null; then
    where="own network namespace"
    unshare --net sh "$0" --inner "$T" netns
else
    where="host network namespace"
    sh "$0" --inner "$T"
fi
took=$(($(date +%s) - start))

# ---- summary. Percentiles are nearest-rank on the sorted samples.
fact() { awk -v k="$1" '$1 == k { print $2 }' "$T/out/facts.$2"; }
[ "$(fact no_new_privs nnp)" = 1 ] || die "the broker VM did not run with no_new_privs"
[ "$(fact no_new_privs spawn)" = 0 ] || die "the spawn VM ran with no_new_privs"
[ "$(fact uid nnp)" = "$BUID" ] && [ "$(fact uid spawn)" = "$BUID" ] ||
    die "the VMs did not run as uid $BUID"

# stats FILE -> "n median_ns p90_ns"
stats() {
    sort -n "$1" | awk '{ v[NR] = $1 }
        END {
            if (NR == 0) { print "0 0 0"; exit }
            m = int((NR * 50 + 99) / 100); p = int((NR * 90 + 99) / 100)
            printf "%d %d %d\n", NR, v[m], v[p]
        }'
}
line() { # label file
    # shellcheck disable=SC2046 # three numbers, split on purpose
    set -- "$1" $(stats "$2")
    printf '  %-44s median %8.1f us  p90 %8.1f us\n' "$1 (n=$2):" \
        "$(awk -v x="$3" 'BEGIN { print x / 1000 }')" "$(awk -v x="$4" 'BEGIN { print x / 1000 }')"
}
med() { stats "$1" | awk '{ print $2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

printf 'machine: nproc %s, kernel %s, OTP %s (%s schedulers, %s dirty I/O), uid %s, %s, %s s\n' \
    "$(nproc)" "$(uname -r)" "$(fact otp_release nnp)" "$(fact schedulers nnp)" \
    "$(fact dirty_io_schedulers nnp)" "$BUID" "$where" "$took"
echo "open latency, procket:open(0, [..., {protocol, udp}]), $ROUNDS interleaved rounds:"
line "procket's broker (procket -l), no_new_privs" "$T/out/lat_broker.ns"
line "minimal C broker (bench/broker_min.c)" "$T/out/lat_min.ns"
line "spawn path (setuid helper)" "$T/out/lat_spawn.ns"
bm=$(med "$T/out/lat_broker.ns")
mm=$(med "$T/out/lat_min.ns")
sm=$(med "$T/out/lat_spawn.ns")
# paired A B: the median over the rounds of (median of A's block / median
# of B's block in the same round): what drift between rounds cannot move
paired() {
    B=$(((N + ROUNDS - 1) / ROUNDS))
    awk -v b="$B" -v r="$ROUNDS" '
        function bmed(arr, k,    i, n, t, j, x) {
            n = 0
            for (i = k * b + 1; i <= (k + 1) * b; i++) t[++n] = arr[i]
            for (i = 2; i <= n; i++) { x = t[i]; for (j = i - 1; j >= 1 && t[j] > x; j--) t[j + 1] = t[j]; t[j + 1] = x }
            return t[int((n + 1) / 2)]
        }
        FNR == 1 { f++ }
        f == 1 { a[FNR] = $1 } f == 2 { c[FNR] = $1 }
        END {
            for (k = 0; k < r; k++) q[k + 1] = bmed(a, k) / bmed(c, k)
            for (i = 2; i <= r; i++) { x = q[i]; for (j = i - 1; j >= 1 && q[j] > x; j--) q[j + 1] = q[j]; q[j + 1] = x }
            printf "%.2f", (r % 2) ? q[(r + 1) / 2] : (q[r / 2] + q[r / 2 + 1]) / 2
        }' "$1" "$2"
}
r=$(ratio "$bm" "$mm")
printf '  ratio median broker/minimal: %s, paired %s  (target <= 3: %s)\n' "$r" \
    "$(paired "$T/out/lat_broker.ns" "$T/out/lat_min.ns")" \
    "$(awk -v r="$r" 'BEGIN { print (r + 0 <= 3 ? "met" : "MISSED") }')"
printf '  ratio median broker/spawn:   %s, paired %s\n' "$(ratio "$bm" "$sm")" \
    "$(paired "$T/out/lat_broker.ns" "$T/out/lat_spawn.ns")"

echo "throughput, opens/s (open + close in a loop), median of $TP_ROUNDS rounds of $TP_MS ms:"
printf '  %-12s %10s %10s %10s   %s\n' concurrency broker minimal spawn "broker >= spawn"
# rate V C -> the median over the rounds of opens/s
rate() {
    awk -v v="$1" -v c="$2" '$1 == v && $2 == c { print $3 * 1e9 / $4 }' "$T/out/tp.txt" |
        sort -n | awk '{ x[NR] = $1 } END { if (NR) printf "%.0f", x[int((NR + 1) / 2)]; else print 0 }'
}
for c in $(echo "$TP_CONC" | tr , ' '); do
    b=$(rate broker "$c") m=$(rate min "$c") s=$(rate spawn "$c")
    printf '  %-12s %10s %10s %10s   %s (%s)\n' "$c" "$b" "$m" "$s" \
        "$(awk -v b="$b" -v s="$s" 'BEGIN { print (b >= s ? "yes" : "NO") }')" \
        "$(ratio "$b" "$s")"
done

flat() { awk -v k="$1" '$1 == k { print $2 }' "$T/out/flat.$2"; }
# shellcheck disable=SC2046
set -- $(awk '$1 == "requests" { print $2, $4, $6 }' "$T/out/flood.txt")
echo "flatness: $1 requests through procket's broker from $CALLERS callers," \
    "$(awk -v n="$1" -v ns="$2" 'BEGIN { printf "%.1f s, %.0f/s", ns / 1e9, n * 1e9 / ns }'), $3 failed"
errors=$3
awk '$1 == "error" { $1 = "   "; print "  failed:" $0 }' "$T/out/flood.txt"
printf '  %-10s %10s %10s\n' "" before after
for k in fds rss_kib procs zombies; do
    printf '  %-10s %10s %10s\n' "$k" "$(flat $k before)" "$(flat $k after)"
done
if [ "$(flat fds before)" = "$(flat fds after)" ] &&
    [ "$(flat procs before)" = "$(flat procs after)" ] &&
    [ "$(flat zombies after)" = 0 ] &&
    [ "$(flat rss_kib after)" -le $(($(flat rss_kib before) + RSS_SLACK_KIB)) ]; then
    echo "  flat"
else
    echo "  NOT flat (same descriptors, same processes, no zombie, RSS within $RSS_SLACK_KIB KiB)"
fi
printf 'stop: SIGTERM; procket broker exit %s, socket %s; minimal broker exit %s\n' \
    "$(sed -n 's/^broker_exit //p' "$T/out/stop")" \
    "$(awk '$1 == "broker_socket" { print $2 }' "$T/out/stop")" \
    "$(sed -n 's/^min_exit //p' "$T/out/stop")"
if [ -s "$T/out/broker.log" ]; then
    echo "procket's broker said ($(wc -l < "$T/out/broker.log") lines; the first 5):"
    head -n 5 "$T/out/broker.log" | sed 's/^/  /'
fi
[ "$errors" = 0 ] || die "$errors requests of the flood failed"
