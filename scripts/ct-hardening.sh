#!/bin/sh
# Runs the helper's hardening suite, test/procket_hardening_SUITE.erl,
# through scripts/ct.sh (root, a build from `make all`, a fresh network
# namespace), inside a private mount namespace: the suite mounts an
# overlay on /etc (for its sudo rule and /etc/procket.conf), a tmpfs on
# /run/netns and a nosuid tmpfs, which the rest of the machine (a
# concurrent procket_SUITE run included) never sees. The suite checks
# that its mount namespace is not this one (PROCKET_OUTER_MNTNS).
# Logs in logs/ct-procket_hardening_SUITE/. Extra arguments go to
# ct_run, e.g. `scripts/ct-hardening.sh -group hostile`.
PROCKET_OUTER_MNTNS=$(readlink /proc/self/ns/mnt)
export PROCKET_OUTER_MNTNS
PROCKET_CT_SUITE=procket_hardening_SUITE exec unshare --mount --propagation private \
    "$(dirname "$0")/ct.sh" "$@"
