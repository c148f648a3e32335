#!/bin/sh
# Runs test/procket_exec_SUITE.erl (procket-exec(1) and
# procket:listen_fds/0) through scripts/ct.sh: as root, on a build from
# `make all`, in a fresh network namespace with /etc, /run and /dev
# private. The suite stages ebin/ and priv/ in a temporary directory (the
# helper root-owned and setuid), runs every program as uid 65534, and puts
# its policy file on /etc/procket.conf only inside a mount namespace of
# the command's own. Logs in logs/ct-procket_exec_SUITE/. Extra arguments
# go to ct_run, e.g. `scripts/ct-exec.sh -case ipv6`.
set -eu
cd "$(dirname "$0")/.."
for f in priv/procket-exec c_src/build/libprocket.a; do
    if [ ! -e "$f" ]; then
        echo "ct-exec.sh: $f is missing: run 'make all' first" >&2
        exit 2
    fi
done
for t in cc setpriv unshare mount socat ss; do
    command -v "$t" >/dev/null 2>&1 || { echo "ct-exec.sh: $t not found" >&2; exit 2; }
done
PROCKET_CT_SUITE=procket_exec_SUITE exec scripts/ct.sh "$@"
