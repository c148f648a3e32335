#!/bin/sh
# scripts/install.sh install|uninstall - `make install` and `make
# uninstall`. The Makefile passes the directories (GNU names, see the
# Makefile) in the environment; DESTDIR stages the whole tree elsewhere
# (for packages and tests): files go to $DESTDIR$dir, and the paths
# written into files (the Erlang application's helper, procket.pc, the
# systemd unit) are the final ones, without DESTDIR.
#
# The helper's mode is HELPER_MODE:
#   setuid  (default) root-owned and setuid: 4750 root:procket when a
#           group procket exists (only its members may run it), else 4755
#   caps    root-owned 0755 with file capabilities (setcap(8)):
#           cap_net_bind_service,cap_net_raw,cap_net_admin
#   plain   root-owned 0755, for sudo (see the example sudoers file)
# setuid and caps need root (or fakeroot when packaging).
#
# What is installed is listed in $DESTDIR$DOCDIR/installed-files, which
# uninstall reads; the policy file /etc/procket.conf is never installed,
# so an existing one is never overwritten (procket.conf.example is).
set -eu
umask 022   # whatever the caller's: nothing installed is writable by others

ROOT=$(cd "$(dirname "$0")/.." && pwd)
: "${DESTDIR:=}" "${PREFIX:?}" "${BINDIR:?}" "${LIBEXECDIR:?}" "${LIBDIR:?}"
: "${INCLUDEDIR:?}" "${MANDIR:?}" "${DOCDIR:?}" "${SYSCONFDIR:?}" "${PKGCONFIGDIR:?}"
: "${SYSTEMDUNITDIR:?}" "${ERLANG_LIBDIR:?}" "${VERSION:?}" "${HELPER_MODE:=setuid}"

die() { echo "install: $*" >&2; exit 1; }

APPDIR=$ERLANG_LIBDIR/procket-$VERSION
HELPER=$LIBEXECDIR/procket/procket
SONAME=libprocket.so.0
SHLIB=libprocket.so.$VERSION
LIST=$DOCDIR/installed-files

case "$HELPER_MODE" in
    setuid | caps | plain) ;;
    *) die "HELPER_MODE: setuid, caps or plain, not '$HELPER_MODE'" ;;
esac

# A staged tree must be the installer's alone: root makes the helper
# setuid there, and writes and removes files by path. Every existing
# directory on the way to DESTDIR is a real directory (no symbolic link)
# owned by root or the installer and writable by no one else (a sticky
# directory of root's, as /tmp, may be); everything already under DESTDIR
# is the installer's or root's and writable by no one else. Otherwise
# another user could have put a link or a file of theirs where root is
# about to write (and make setuid).
safe_destdir() {
    [ -n "$DESTDIR" ] || return 0
    me=$(id -u)
    case "$DESTDIR" in
        /*) ;;
        *) die "DESTDIR must be an absolute path: $DESTDIR" ;;
    esac
    path=
    rest=${DESTDIR#/}
    while :; do
        dir=${path:-/}
        if [ -L "$dir" ]; then die "DESTDIR: $dir is a symbolic link"; fi
        if [ -e "$dir" ]; then
            [ -d "$dir" ] || die "DESTDIR: $dir is not a directory"
            set -- $(stat -c '%u %a' "$dir")
            owner=$1 mode=$2
            [ "$owner" -eq 0 ] || [ "$owner" -eq "$me" ] ||
                die "DESTDIR: $dir belongs to uid $owner (use a directory of your own)"
            case "$mode" in
                1??[2367] | 1?[2367]?) [ "$owner" -eq 0 ] ||
                    die "DESTDIR: $dir is writable by others" ;;
                ??[2367] | ?[2367]? | ???[2367] | ??[2367]?)
                    die "DESTDIR: $dir is writable by others (mode $mode)" ;;
            esac
        fi
        [ -n "$rest" ] || break
        path=$path/${rest%%/*}
        case "$rest" in */*) rest=${rest#*/} ;; *) rest= ;; esac
    done
    if [ -d "$DESTDIR" ]; then
        bad=$(find "$DESTDIR" \( ! -user 0 ! -user "$me" \) -o \
                  \( ! -type l \( -perm -0002 -o -perm -0020 \) \) 2>/dev/null | head -n 1)
        [ -z "$bad" ] || die "DESTDIR: $bad belongs to another user or is writable by others"
    fi
}

# put MODE SRC DEST: one file, its parent directories made, recorded
put() {
    mkdir -p "$DESTDIR$(dirname "$3")"
    rm -f "$DESTDIR$3"
    cp "$2" "$DESTDIR$3"
    chmod "$1" "$DESTDIR$3"
    echo "$3" >>"$DESTDIR$LIST.new"
}

# link TARGET NAME: a symbolic link, recorded
link() {
    rm -f "$DESTDIR$2"
    ln -s "$1" "$DESTDIR$2"
    echo "$2" >>"$DESTDIR$LIST.new"
}

install_all() {
    safe_destdir
    for f in priv/procket priv/procket_nif.so priv/procket-exec \
             "c_src/build/$SHLIB" c_src/build/libprocket.a ebin/procket.app; do
        [ -f "$ROOT/$f" ] || die "$f is missing: run make first"
    done
    command -v lowdown >/dev/null 2>&1 || die "lowdown is needed for the manual pages"
    mkdir -p "$DESTDIR$DOCDIR"
    : >"$DESTDIR$LIST.new"

    # the helper, with the mode asked for
    put 0755 "$ROOT/priv/procket" "$HELPER"
    case "$HELPER_MODE" in
        setuid)
            group=root mode=4755
            if getent group procket >/dev/null 2>&1; then group=procket mode=4750; fi
            chown "root:$group" "$DESTDIR$HELPER" ||
                die "chown root:$group $DESTDIR$HELPER failed (as root, or HELPER_MODE=plain)"
            chmod "$mode" "$DESTDIR$HELPER"   # after chown, which clears the setuid bit
            ;;
        caps)
            chown root:root "$DESTDIR$HELPER" || die "chown root:root $DESTDIR$HELPER failed"
            setcap cap_net_bind_service,cap_net_raw,cap_net_admin+ep "$DESTDIR$HELPER" ||
                die "setcap on $DESTDIR$HELPER failed"
            ;;
        plain)
            # the file sudo runs as root must be root's; a package build
            # as another user (DESTDIR, fakeroot) records the owner later
            if ! chown root:root "$DESTDIR$HELPER" 2>/dev/null; then
                [ -n "$DESTDIR" ] ||
                    die "chown root:root $HELPER failed: a helper run through sudo must be root's"
                echo "install: $DESTDIR$HELPER is not root's: make it root's before use" >&2
            fi
            ;;
    esac

    put 0755 "$ROOT/priv/procket-exec" "$BINDIR/procket-exec"

    # the C library, its header and pkg-config file
    put 0755 "$ROOT/c_src/build/$SHLIB" "$LIBDIR/$SHLIB"
    link "$SHLIB" "$LIBDIR/$SONAME"
    link "$SONAME" "$LIBDIR/libprocket.so"
    put 0644 "$ROOT/c_src/build/libprocket.a" "$LIBDIR/libprocket.a"
    put 0644 "$ROOT/c_src/include/procket.h" "$INCLUDEDIR/procket.h"
    tmp=$(mktemp)
    sed -e "s|@PREFIX@|$PREFIX|" -e "s|@LIBDIR@|$LIBDIR|" -e "s|@INCLUDEDIR@|$INCLUDEDIR|" \
        -e "s|@VERSION@|$VERSION|" -e "s|@LIBEXECDIR@|$LIBEXECDIR|" "$ROOT/procket.pc.in" >"$tmp"
    put 0644 "$tmp" "$PKGCONFIGDIR/procket.pc"

    # the Erlang application, where the VM looks (no -pa), finding the
    # installed helper through its environment
    for b in "$ROOT"/ebin/*.beam; do
        put 0644 "$b" "$APPDIR/ebin/$(basename "$b")"
    done
    sed -e "s|{env, \[\]}|{env, [{helper, \"$HELPER\"}]}|" "$ROOT/ebin/procket.app" >"$tmp"
    grep -q "{helper, \"$HELPER\"}" "$tmp" || die "ebin/procket.app: no empty env to fill"
    put 0644 "$tmp" "$APPDIR/ebin/procket.app"
    put 0755 "$ROOT/priv/procket_nif.so" "$APPDIR/priv/procket_nif.so"
    for h in "$ROOT"/include/*.hrl; do
        put 0644 "$h" "$APPDIR/include/$(basename "$h")"
    done

    # manual pages
    mandir=$(mktemp -d)
    sh "$ROOT/scripts/man.sh" "$mandir" >/dev/null
    for page in "$mandir"/*; do
        name=$(basename "$page")
        put 0644 "$page" "$MANDIR/man${name##*.}/$name"
    done
    rm -rf "$mandir"

    # examples: the policy, a sudoers rule, the systemd units
    put 0644 "$ROOT/examples/procket.conf.example" "$SYSCONFDIR/procket.conf.example"
    sed -e "s|@HELPER@|$HELPER|g" "$ROOT/examples/sudoers.procket" >"$tmp"
    put 0644 "$tmp" "$DOCDIR/examples/sudoers.procket"
    sed -e "s|^ExecStart=.*|ExecStart=$HELPER|" "$ROOT/systemd/procket.service" >"$tmp"
    put 0644 "$tmp" "$SYSTEMDUNITDIR/procket.service"
    put 0644 "$ROOT/systemd/procket.socket" "$SYSTEMDUNITDIR/procket.socket"
    put 0644 "$ROOT/examples/systemd/erlang-app.service" "$DOCDIR/examples/erlang-app.service"
    put 0644 "$ROOT/README.md" "$DOCDIR/README.md"
    put 0644 "$ROOT/docs/SECURITY.md" "$DOCDIR/SECURITY.md"
    rm -f "$tmp"

    echo "$LIST" >>"$DESTDIR$LIST.new"
    mv "$DESTDIR$LIST.new" "$DESTDIR$LIST"
    echo "install: $(wc -l <"$DESTDIR$LIST") files under ${DESTDIR:-/}; helper $HELPER ($HELPER_MODE)"
    if [ -z "$DESTDIR" ] && [ "$(id -u)" -eq 0 ] && command -v ldconfig >/dev/null 2>&1; then
        ldconfig
    fi
}

# Whether an entry of the list is a file install_all puts: a plain
# absolute path (no `.', `..' or empty component) under one of its
# directories, with the names it uses there. The policy file is never one.
installed_name() {
    case "$1" in
        *//* | */./* | */../* | */. | */.. | */ | "$SYSCONFDIR/procket.conf") return 1 ;;
        "$HELPER" | "$BINDIR/procket-exec" | "$INCLUDEDIR/procket.h" | \
        "$PKGCONFIGDIR/procket.pc" | "$SYSCONFDIR/procket.conf.example" | \
        "$SYSTEMDUNITDIR/procket.service" | "$SYSTEMDUNITDIR/procket.socket" | \
        "$LIBDIR"/libprocket.so* | "$LIBDIR/libprocket.a" | "$MANDIR"/man[1-8]/procket* | \
        "$APPDIR"/ebin/* | "$APPDIR"/priv/* | "$APPDIR"/include/* | "$DOCDIR"/*) return 0 ;;
        *) return 1 ;;
    esac
}

uninstall_all() {
    safe_destdir
    [ -f "$DESTDIR$LIST" ] || die "$DESTDIR$LIST: not installed (nothing to remove)"
    base=$(cd "${DESTDIR:-/}" && pwd -P)
    base=${base%/}
    # every entry checked before anything is removed
    while IFS= read -r f; do
        installed_name "$f" || die "$DESTDIR$LIST: not a file make install puts: $f"
        dir=$(cd "$DESTDIR$(dirname "$f")" 2>/dev/null && pwd -P) || continue
        [ "$dir" = "$base$(dirname "$f")" ] ||
            die "$DESTDIR$LIST: $f: its directory is reached through a symbolic link"
    done <"$DESTDIR$LIST"
    while IFS= read -r f; do
        rm -f "$DESTDIR$f"
    done <"$DESTDIR$LIST"
    # the directories procket alone uses
    for d in "$APPDIR/ebin" "$APPDIR/priv" "$APPDIR/include" "$APPDIR" \
             "$LIBEXECDIR/procket" "$DOCDIR/examples" "$DOCDIR"; do
        rmdir "$DESTDIR$d" 2>/dev/null || true
    done
    echo "uninstall: removed what $LIST listed (never $SYSCONFDIR/procket.conf)"
}

case "${1:-}" in
    install) install_all ;;
    uninstall) uninstall_all ;;
    *) die "usage: install.sh install|uninstall" ;;
esac
