#!/bin/sh
# scripts/bench-dgram.sh - `make bench-dgram` (also run by `make bench`):
# datagrams per second on 127.0.0.1 UDP through procket's sendto/recvfrom
# with an enif_select-driven receive, through OTP's socket module, and
# through a plain C program, the three taking turns round by round. See
# bench/README.md, "Datagrams per second". Prints figures, asserts nothing:
# exits non-zero only when something broke (a build, a drop, a crash).
#
# Runs as the calling user (loopback UDP needs no privilege), in the
# calling user's network namespace. About 40 s with the defaults.
# Knobs (environment):
#   BENCH_DGRAM_ROUNDS     15   timed rounds per variant and payload size
#   BENCH_DGRAM_SIZES      64,1400   payload sizes in bytes (8..2048)
#   BENCH_DGRAM_ROUND_MS   200  the time one round should take (each
#                               variant's N is calibrated to it)
#   BENCH_DGRAM_WINDOW     64   unacknowledged datagrams at most
#   BENCH_DGRAM_ACK        16   the receiver acknowledges every ACK
#   BENCH_DGRAM_VARIANTS   procket,otp_nowait,otp_block,c,procket_2s,otp_nowait_2s
#   BENCH_DGRAM_ERL_FLAGS  extra emulator flags (e.g. "+sbwt none")
#   BENCH_DGRAM_VERBOSE    0    1: every round's rate and how busy each
#                               scheduler was during it
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${BENCH_DGRAM_ROUNDS:-15}
SIZES=${BENCH_DGRAM_SIZES:-64,1400}
ROUND_MS=${BENCH_DGRAM_ROUND_MS:-200}
WINDOW=${BENCH_DGRAM_WINDOW:-64}
ACK=${BENCH_DGRAM_ACK:-16}
VARIANTS=${BENCH_DGRAM_VARIANTS:-procket,otp_nowait,otp_block,c,procket_2s,otp_nowait_2s}
ERL_FLAGS=${BENCH_DGRAM_ERL_FLAGS:-}
if [ "${BENCH_DGRAM_VERBOSE:-0}" = 1 ]; then VERBOSE=verbose; else VERBOSE=quiet; fi

die() { echo "bench-dgram: $*" >&2; exit 1; }

for t in erl erlc; do
    command -v "$t" >/dev/null 2>&1 || die "$t not found"
done
command -v "${CC:-cc}" >/dev/null 2>&1 || die "${CC:-cc} not found"
if [ ! -f "$ROOT/priv/procket_nif.so" ] || [ ! -f "$ROOT/ebin/procket.beam" ]; then
    die "build first: make all"
fi
for v in "$ROUNDS" "$ROUND_MS" "$WINDOW" "$ACK"; do
    case "$v" in
        '' | *[!0-9]*) die "not a number: '$v'" ;;
    esac
done
case "$SIZES" in
    '' | *[!0-9,]*) die "BENCH_DGRAM_SIZES: sizes separated by commas, not '$SIZES'" ;;
esac
case "$VARIANTS" in
    '' | *[!a-z_0-9,]*) die "BENCH_DGRAM_VARIANTS: names separated by commas" ;;
esac

# No "-" in the directory's name: code:priv_dir/1 would take a code path
# entry "procket-anything" for the procket application.
T=$(mktemp -d "${TMPDIR:-/tmp}/procket_dgram.XXXXXX")
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT TERM
mkdir "$T/beam"

${CC:-cc} -O2 -Wall -Wextra -Werror -pthread -o "$T/dgram_c" \
    "$ROOT/bench/dgram_c.c" || die "cannot build bench/dgram_c.c"
erlc -o "$T/beam" "$ROOT/bench/dgram_bench.erl" ||
    die "cannot compile bench/dgram_bench.erl"

echo "bench-dgram: UDP datagrams/s on 127.0.0.1, procket vs OTP socket vs C," \
    "interleaved round by round"
# shellcheck disable=SC2086 # ERL_FLAGS: several flags, split on purpose
erl $ERL_FLAGS -noshell -pa "$ROOT/ebin" "$T/beam" \
    -run dgram_bench main "$T/dgram_c" "$ROUNDS" "$SIZES" "$WINDOW" "$ACK" \
    "$ROUND_MS" "$VARIANTS" "$VERBOSE" || die "the bench failed"
