#!/bin/sh
# private.sh COMMAND [ARG...]: runs COMMAND where it cannot change the
# machine's shared paths. In a private mount namespace /etc, /run and /dev
# are overlays: what the tests write there (/etc/procket.conf, rules in
# /etc/sudoers.d, /run/netns, a syslog socket at /dev/log) lands in a
# temporary directory, removed afterwards, and no other program on the
# machine sees it, not even for a moment. There /etc/procket.conf and
# /dev/log do not exist to begin with: procket's default policy applies
# whatever the administrator's file says, until a test writes its own,
# and audit lines reach no system log.
#
# Needs root. Sets PROCKET_PRIVATE_DIR (the temporary directory) for
# COMMAND; the scripts that need this call it themselves when it is unset.
set -eu

if [ "$(id -u)" -ne 0 ]; then
    echo "private.sh: must run as root" >&2
    exit 2
fi
[ $# -ge 1 ] || { echo "usage: private.sh COMMAND [ARG...]" >&2; exit 2; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/procket_private.XXXXXX")
trap 'rm -rf "$dir"' EXIT INT TERM
chmod 700 "$dir"
rc=0
PROCKET_PRIVATE_DIR=$dir unshare --mount --propagation private -- sh -c '
    set -e
    for d in etc run dev; do
        up=$PROCKET_PRIVATE_DIR/$d
        mkdir "$up" "$up.work"
        # the merged directory takes the upper one'"'"'s owner and mode
        chown --reference="/$d" "$up"
        chmod --reference="/$d" "$up"
        mount -t overlay "procket_private_$d" \
            -o "lowerdir=/$d,upperdir=$up,workdir=$up.work" "/$d"
    done
    rm -f /etc/procket.conf /dev/log
    export PROCKET_PRIVATE_DIR
    exec "$@"
' sh "$@" || rc=$?
exit "$rc"
