#!/bin/sh
# scripts/check-install.sh - the `install` step of make test: `make install`
# into a temporary DESTDIR, then the installed copy used as a user would,
# without touching the machine: in private mount and network namespaces,
# the staged tree is laid over /usr/local and the VM's library directory
# with overlayfs, and /etc/group is a private copy.
#   - the file list and modes (helper setuid root, 4750 root:procket when
#     a group procket exists, file capabilities with HELPER_MODE=caps,
#     plain with HELPER_MODE=plain), and an existing /etc/procket.conf
#     left as it was;
#   - c_src/examples/bind80.c compiled with `pkg-config --cflags --libs
#     procket` against the installed copy (the shared library), run as uid
#     65534: socat reads its line on port 80;
#   - an installed VM (erl with no -pa) as uid 65534 gets UDP port 53
#     through the installed helper (procket:gen_udp_open/2) and a datagram
#     goes round through it;
#   - procket-exec from bin/ runs the installed helper;
#   - make uninstall leaves only the administrator's policy file;
#   - a DESTDIR in another user's directory is refused, a umask of 000
#     leaves nothing writable by others, and a tampered list of installed
#     files makes uninstall refuse, removing nothing.
# Needs root. Prints `check-install: N passed, N failed`.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" -eq 0 ] || { echo "check-install: needs root" >&2; exit 1; }

if [ "${1:-}" != --inner ]; then
    T=$(mktemp -d /tmp/procket_install.XXXXXX)
    trap 'rm -rf "$T"' EXIT INT TERM
    chmod 755 "$T"
    rc=0
    unshare --mount --propagation private --net -- sh "$0" --inner "$T" || rc=$?
    exit "$rc"
fi

T=$2
cd "$ROOT"
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
check() { # check NAME COMMAND...
    name=$1; shift
    if "$@" >"$T/out" 2>&1; then ok "$name"; else bad "$name"; sed 's/^/    /' "$T/out"; fi
}

ip link set lo up
VSN=$(cat VERSION)
ERLLIB=$(erl -noshell -eval 'io:format("~s", [code:lib_dir()]), halt().')
APP=$ERLLIB/procket-$VSN
HELPER=/usr/local/libexec/procket/procket

# a private /etc/group: without a group procket, then with one
grep -v '^procket:' /etc/group >"$T/group"
mount --bind "$T/group" /etc/group

D=$T/dest
mkdir -p "$D/etc"
printf '# the administrator'"'"'s own policy\nallow user 65534 udp port=53\n' >"$D/etc/procket.conf"
cp "$D/etc/procket.conf" "$T/policy.before"

make -s install DESTDIR="$D" >"$T/install.log" 2>&1 || { cat "$T/install.log"; exit 1; }
echo "check-install: $(tail -n 1 "$T/install.log")"

# --- the file list and modes -------------------------------------------
(cd "$D" && find . ! -type d | sed 's|^\.||' | sort) >"$T/files"
cat >"$T/want" <<LIST
/etc/procket.conf
/etc/procket.conf.example
$APP/ebin/procket.app
$(for f in ebin/*.beam; do echo "$APP/$f"; done)
$(for f in include/*.hrl; do echo "$APP/$f"; done)
$APP/priv/procket_nif.so
/usr/local/bin/procket-exec
/usr/local/include/procket.h
/usr/local/lib/libprocket.a
/usr/local/lib/libprocket.so
/usr/local/lib/libprocket.so.0
/usr/local/lib/libprocket.so.$VSN
/usr/local/lib/pkgconfig/procket.pc
/usr/local/lib/systemd/system/procket.service
/usr/local/lib/systemd/system/procket.socket
$HELPER
$(for f in docs/*.[1-8].md; do b=$(basename "$f" .md); echo "/usr/local/share/man/man${b##*.}/$b"; done)
/usr/local/share/doc/procket/README.md
/usr/local/share/doc/procket/SECURITY.md
/usr/local/share/doc/procket/examples/erlang-app.service
/usr/local/share/doc/procket/examples/sudoers.procket
/usr/local/share/doc/procket/installed-files
LIST
sort "$T/want" >"$T/want.sorted"
check "file list" diff -u "$T/want.sorted" "$T/files"
mode() { stat -c '%a %U:%G' "$D$1"; }
check "helper 4755 root:root" test "$(mode $HELPER)" = "4755 root:root"
check "procket-exec 755" test "$(mode /usr/local/bin/procket-exec)" = "755 root:root"
check "shared library soname" sh -c "readelf -d '$D/usr/local/lib/libprocket.so.$VSN' | grep -q 'SONAME.*libprocket.so.0'"
check "links to the library" test "$(readlink "$D/usr/local/lib/libprocket.so")" = libprocket.so.0
check "data files 644" sh -c "for f in /usr/local/include/procket.h /usr/local/lib/pkgconfig/procket.pc \
    $APP/ebin/procket.app /usr/local/share/man/man8/procket.8; do
    test \"\$(stat -c %a '$D'\$f)\" = 644 || { echo \$f; exit 1; }; done"
check "the policy file untouched" cmp "$T/policy.before" "$D/etc/procket.conf"
check "the application's helper" sh -c "grep -q '{helper, \"$HELPER\"}' '$D$APP/ebin/procket.app'"
check "the unit's helper" grep -q "^ExecStart=$HELPER\$" "$D/usr/local/lib/systemd/system/procket.service"
check "pkg-config file" sh -c "grep -qx 'Version: $VSN' '$D/usr/local/lib/pkgconfig/procket.pc' &&
    grep -qx 'libdir=/usr/local/lib' '$D/usr/local/lib/pkgconfig/procket.pc'"

# a package of the sources (hex): the file list of src/procket.app.src
# names what exists, VERSION among it, and nothing built
check "the package's file list" erl -noshell -eval '
    {ok, [{application, procket, Props}]} = file:consult("src/procket.app.src"),
    Files = proplists:get_value(files, Props),
    true = lists:member("VERSION", Files),
    [] = [F || F <- Files, not filelib:is_file(F)],
    [] = [F || F <- Files, lists:prefix("priv", F) orelse lists:prefix("ebin", F)
                           orelse lists:prefix("_build", F) orelse lists:prefix("c_src/build", F)],
    {cmd, "cat VERSION"} = proplists:get_value(vsn, Props),
    halt(0).'

# --- the installed copy in place -----------------------------------------
mount -t overlay overlay -o "lowerdir=$D/usr/local:/usr/local" /usr/local
mount -t overlay overlay -o "lowerdir=$D$ERLLIB:$ERLLIB" "$ERLLIB"
chmod 755 "$T"
mkdir "$T/run" && chown 65534:65534 "$T/run"
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"; }

cc -std=c11 -D_DEFAULT_SOURCE -O2 -Wall -Wextra -o "$T/bind80" c_src/examples/bind80.c \
    $(PKG_CONFIG_PATH=/usr/local/lib/pkgconfig pkg-config --cflags --libs procket) 2>"$T/cc.log" ||
    { cat "$T/cc.log"; }
check "bind80 links the shared library" sh -c "readelf -d '$T/bind80' | grep -q 'NEEDED.*libprocket.so.0'"
chmod 755 "$T/bind80"
pchelper=$(PKG_CONFIG_PATH=/usr/local/lib/pkgconfig pkg-config --variable=helper procket)
check "pkg-config names the installed helper" test "$pchelper" = "$HELPER"
(cd "$T/run" && as_nobody env LD_LIBRARY_PATH=/usr/local/lib "$T/bind80" "$pchelper" >"$T/bind80.out" 2>&1) &
got=
for _ in $(seq 50); do
    got=$(socat -T 2 - TCP4:127.0.0.1:80 </dev/null 2>/dev/null) && [ -n "$got" ] && break
    sleep 0.1
done
wait || true
check "bind80 on port 80 as uid 65534" test "$got" = "hello from an unprivileged process on port 80"

cat >"$T/run/vm.erl" <<'ERL'
-module(vm).
-export([main/0]).
main() ->
    {ok, S} = procket:gen_udp_open(53, [binary, {active, false}, {ip, {127, 0, 0, 1}}]),
    ok = gen_udp:send(S, {127, 0, 0, 1}, 53, <<"round">>),
    {ok, {_, 53, <<"round">>}} = gen_udp:recv(S, 64, 5000),
    io:format("~s ~s ~s~n", [code:which(procket), procket:helper_path(),
                             os:cmd("id -u")]),
    ok = gen_udp:close(S),
    halt(0).
ERL
(cd "$T/run" && erlc vm.erl && chmod 644 vm.beam)
vm=$(cd "$T/run" && HOME="$T/run" as_nobody erl -noshell -s vm main 2>&1) || true
check "installed VM gets UDP 53 as uid 65534" test "$vm" = "$APP/ebin/procket.beam $HELPER 65534"
[ "$fail" -eq 0 ] || echo "    VM said: $vm"

exe=$(cd "$T/run" && as_nobody /usr/local/bin/procket-exec -l 80 -- /bin/sh -c 'echo "$LISTEN_FDS $LISTEN_FDNAMES"' 2>&1) || true
check "installed procket-exec" test "$exe" = "1 tcp-80"

# a release (relx) made with the installed application: it carries the
# installed helper's path in procket.app, so nothing is done after an
# upgrade; run as uid 65534 it gets UDP 53
mkdir -p "$T/rel/src" "$T/home"
cat >"$T/rel/rebar.config" <<'CFG'
{relx, [{release, {relapp, "0.1.0"}, [procket, relapp]},
        {dev_mode, false}, {include_erts, false}, {extended_start_script, true}]}.
CFG
cat >"$T/rel/src/relapp.app.src" <<'APP'
{application, relapp, [{description, "a release using procket"}, {vsn, "0.1.0"},
                       {applications, [kernel, stdlib, procket]}, {mod, {relapp, []}},
                       {env, []}, {modules, []}]}.
APP
cat >"$T/rel/src/relapp.erl" <<'ERL'
-module(relapp).
-behaviour(application).
-export([start/2, stop/1]).
start(_, _) ->
    Pid = spawn(fun() ->
                        {ok, S} = procket:gen_udp_open(53, [binary, {active, false},
                                                            {ip, {127, 0, 0, 1}}]),
                        ok = gen_udp:send(S, {127, 0, 0, 1}, 53, <<"release">>),
                        {ok, {_, 53, <<"release">>}} = gen_udp:recv(S, 64, 5000),
                        ok = gen_udp:close(S),
                        io:format("release: ~s~n", [procket:helper_path()]),
                        erlang:halt(0)
                end),
    {ok, Pid}.
stop(_) -> ok.
ERL
(cd "$T/rel" && HOME="$T/home" rebar3 release) >"$T/rel.log" 2>&1 || tail -n 20 "$T/rel.log"
chown -R 65534:65534 "$T/rel/_build/default/rel"   # the release writes its logs there
rel=$(cd "$T/run" && HOME="$T/run" timeout 60 setpriv --reuid=65534 --regid=65534 --clear-groups -- \
          "$T/rel/_build/default/rel/relapp/bin/relapp" foreground 2>&1) || true
check "a release finds the installed helper" test "$(printf '%s\n' "$rel" | grep '^release:')" = "release: $HELPER"
[ "$fail" -eq 0 ] || printf '%s\n' "$rel" | tail -n 10 | sed 's/^/    /'

umount "$ERLLIB" /usr/local

# --- uninstall ------------------------------------------------------------
make -s uninstall DESTDIR="$D" >"$T/uninstall.log" 2>&1 || cat "$T/uninstall.log"
check "uninstall leaves the policy file only" test "$(cd "$D" && find . ! -type d)" = ./etc/procket.conf

# --- a hostile setting ------------------------------------------------------
# a DESTDIR inside another user's directory: refused before anything is
# written (that user could swap in a link or a file of theirs for root
# to chown and make setuid)
mkdir -p "$T/theirs" && chown 65534:65534 "$T/theirs"
if make -s install DESTDIR="$T/theirs/pkg" >"$T/theirs.log" 2>&1; then
    bad "DESTDIR in another user's directory refused"
else
    check "DESTDIR in another user's directory refused" sh -c "
        grep -q 'belongs to uid 65534' '$T/theirs.log' && test -z \"\$(find '$T/theirs' -mindepth 1)\""
fi
# umask 000: still nothing writable by others
(umask 000; make -s install DESTDIR="$T/d5" >/dev/null 2>&1)
check "umask 000: nothing installed writable by others" \
    test -z "$(find "$T/d5" ! -type l -perm /022 -print)"
# a list of installed files that names files elsewhere: uninstall refuses
# it and removes nothing
echo victim >"$T/victim"
printf '%s\n' /../victim /etc/procket.conf >>"$T/d5/usr/local/share/doc/procket/installed-files"
printf 'allow all\n' >"$T/d5/etc/procket.conf"
if make -s uninstall DESTDIR="$T/d5" >"$T/u5.log" 2>&1; then
    bad "a tampered list refused"
else
    check "a tampered list refused, nothing removed" sh -c "
        test -f '$T/victim' && test -f '$T/d5/etc/procket.conf' &&
        test -f '$T/d5$HELPER' && grep -q 'not a file make install puts' '$T/u5.log'"
fi

# --- the other modes --------------------------------------------------------
echo 'procket:x:64999:' >>"$T/group"
make -s install DESTDIR="$T/d2" >/dev/null 2>&1
check "with a group procket: 4750 root:procket" test "$(stat -c '%a %U:%G' "$T/d2$HELPER")" = "4750 root:procket"
make -s install DESTDIR="$T/d3" HELPER_MODE=caps >/dev/null 2>&1
check "HELPER_MODE=caps" sh -c "getcap '$T/d3$HELPER' | grep -q 'cap_net_bind_service,cap_net_admin,cap_net_raw=ep' &&
    test \"\$(stat -c %a '$T/d3$HELPER')\" = 755"
make -s install DESTDIR="$T/d4" HELPER_MODE=plain >/dev/null 2>&1
check "HELPER_MODE=plain" test "$(stat -c '%a %U' "$T/d4$HELPER")" = "755 root"

echo "check-install: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
