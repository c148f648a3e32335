#!/bin/sh
# Everything `make test` runs, in order; needs root (the end-to-end tests
# create the unprivileged situation themselves). Each step's output goes
# to logs/test/<step>.log and is shown in full when the step fails. The
# last line is the summary: "make test: N passed, N failed".
#
#   FUZZ_SECONDS   seconds per libFuzzer harness (default 10)
#   FUZZ_API_SECONDS  seconds of the Erlang API fuzzer (default 25;
#                  FUZZ_API_SEED repeats a run)
#   SKIP           space-separated step names to leave out (a leftout step
#                  counts as failed, so a partial run never looks green)
set -u

cd "$(dirname "$0")/.."
ROOT=$(pwd)
LOGS=$ROOT/logs/test

# What the machine's shared paths hold, as seen from the mount namespace
# of the process PID ($1; "self" here): a test run must leave each as it
# found it (an administrator's /etc/procket.conf byte for byte).
host_state() {
    r=/proc/$1/root
    for p in /etc/procket.conf /etc/sudoers /etc/sudoers.d /run/netns /dev/log; do
        if [ -e "$r$p" ] || [ -L "$r$p" ]; then
            stat -c "$p %F %i %s %Y %a %u:%g" "$r$p"
            if [ -f "$r$p" ]; then sha256sum <"$r$p"; fi
            if [ -d "$r$p" ]; then ls -lan --time-style=+%s "$r$p" | grep -v '^total'; fi
        else
            echo "$p absent"
        fi
    done 2>&1
}

# Outside: the fingerprint, a watcher that notes any change while the
# tests run (every 0.2 s), then the run itself inside scripts/private.sh,
# where /etc, /run and /dev are private overlays.
if [ -z "${PROCKET_PRIVATE_DIR:-}" ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "make test: must run as root (it stages a setuid helper and runs the VM as nobody)" >&2
        exit 2
    fi
    mkdir -p "$LOGS"
    host_state self >"$LOGS/host-before"
    : >"$LOGS/host-changes"
    (
        while sleep 0.2; do
            host_state self >"$LOGS/host-now"
            cmp -s "$LOGS/host-before" "$LOGS/host-now" ||
                { date +%T; diff "$LOGS/host-before" "$LOGS/host-now"; } >>"$LOGS/host-changes"
        done
    ) &
    watcher=$!
    rc=0
    PROCKET_OUTER_PID=$$ "$ROOT/scripts/private.sh" "$0" "$@" || rc=$?
    kill "$watcher" 2>/dev/null
    exit "$rc"
fi
FUZZ_SECONDS=${FUZZ_SECONDS:-10}
FUZZ_API_SECONDS=${FUZZ_API_SECONDS:-25}
SKIP=${SKIP:-}
PLT_DIR=${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/procket
PLT=$PLT_DIR/otp-$(erl -noshell -eval 'io:put_chars(erlang:system_info(otp_release)), halt().' 2>/dev/null).plt
mkdir -p "$LOGS"

passed=0
failed=0
failures=""
total_start=$(date +%s)

# step NAME COMMAND...: runs COMMAND, logs it, counts it.
step() {
    name=$1
    shift
    log=$LOGS/$name.log
    case " $SKIP " in
        *" $name "*)
            echo "== $name: SKIPPED by request (counted as failed)"
            failed=$((failed + 1)); failures="$failures $name"; return ;;
    esac
    start=$(date +%s)
    printf '== %s ... ' "$name"
    mkdir -p "$LOGS"   # again: the build step's `make clean` removes logs/
    if "$@" >"$log" 2>&1; then
        passed=$((passed + 1))
        printf 'ok (%ss)' "$(( $(date +%s) - start ))"
        summary "$log"
        echo
    else
        failed=$((failed + 1))
        failures="$failures $name"
        echo "FAILED (log: $log)"
        tail -n 60 "$log" | sed 's/^/   | /'
    fi
}

# From clean (c_src/build, priv, ebin; logs/ other than ours stay).
# Prints what a passed step's log says it did: C test totals, EUnit and
# CT summaries, fuzzing executions, xref.
summary() {
    c=$(awk '/^test_[a-z_]+: [0-9]+ passed, [0-9]+ failed$/ {p += $2; f += $4; n++}
             END {if (n) printf "%d C tests in %d programs: %d passed, %d failed", p + f, n, p, f}' "$1")
    e=$(grep -hoE 'All [0-9]+ tests passed|TEST COMPLETE.*|xref: .*|fuzz-api: [0-9]+ calls.*|check-[a-z]+: [0-9]+ (passed|pages).*' "$1" |
        tail -n 1)
    z=$(awk -F': ' '/stat::number_of_executed_units/ {x += $2; n++}
             END {if (n) printf "%d harnesses, %d inputs run", n, x}' "$1")
    for part in "$c" "$e" "$z"; do
        [ -n "$part" ] && printf '  [%s]' "$part"
    done
    return 0
}

build() {
    make -C "$ROOT/c_src" clean >/dev/null &&
        rm -rf "$ROOT/ebin" "$ROOT/_build" &&
        make -C "$ROOT" all WERROR=1
}

c_unit() { make -C "$ROOT/c_src" check; }
c_asan() { make -C "$ROOT/c_src" check-asan; }
c_valgrind() { make -C "$ROOT/c_src" check-valgrind; }
fuzz() { make -C "$ROOT/c_src" fuzz FUZZ_SECONDS="$FUZZ_SECONDS"; }

# cppcheck over every C source (warnings and portability; style is ours)
cppcheck_run() {
    cppcheck --quiet --error-exitcode=1 --std=c11 --inline-suppr \
        --enable=warning,portability,performance \
        -I c_src/include -D__linux__ -U__cplusplus \
        c_src/lib c_src/helper c_src/nif c_src/examples
}

# Erlang: the example and test modules compile cleanly too
erl_compile_extra() {
    out=$(mktemp -d) &&
        erlc +warn_missing_spec +warnings_as_errors -pa ebin -o "$out" examples/*.erl &&
        erlc +warnings_as_errors -pa ebin -o "$out" test/*.erl &&
        rm -rf "$out"
}

dialyzer_run() {
    mkdir -p "$PLT_DIR"
    if ! dialyzer --check_plt --plt "$PLT" >/dev/null 2>&1; then
        echo "building the OTP PLT in $PLT (once)"
        dialyzer --build_plt --output_plt "$PLT" --apps erts kernel stdlib || return 1
    fi
    out=$(mktemp -d)
    erlc +debug_info -pa ebin -o "$out" examples/*.erl || return 1
    dialyzer --plt "$PLT" -Wunmatched_returns -Werror_handling \
        -Wunknown ebin "$out"
    rc=$?
    rm -rf "$out"
    return $rc
}

xref_run() {
    erl -noshell -pa ebin -eval '
        {ok, _} = xref:start(s, [{warnings, false}]),
        ok = xref:set_default(s, [{verbose, false}, {warnings, false}]),
        ok = xref:set_library_path(s, code_path),
        {ok, _} = xref:add_directory(s, "ebin"),
        Checks = [undefined_function_calls, locals_not_used, deprecated_function_calls],
        Bad = [{C, R} || C <- Checks, {ok, R} <- [xref:analyze(s, C)], R =/= []],
        case Bad of
            [] -> io:format("xref: ~p checks, 0 warnings~n", [length(Checks)]), halt(0);
            _ -> io:format("xref: ~p~n", [Bad]), halt(1)
        end.'
}

# EUnit runs as uid/gid 65534 with no groups, like the VMs of the Common
# Test suites: ebin/, priv/ and the compiled tests are staged into a
# fresh world-traversable directory (the clone may sit under a root-only
# one). The tests need no privilege (loopback sockets, no helper).
eunit_run() {
    out=$(mktemp -d "${TMPDIR:-/tmp}/procket_eunit.XXXXXX") || return 1
    chmod 755 "$out"
    # the application as a dependency has it: a directory named procket
    mkdir "$out/t" "$out/procket" && cp -R ebin priv include "$out/procket/" &&
        erlc +debug_info -pa ebin -o "$out/t" test/*_tests.erl &&
        chmod -R a+rX "$out" || { rm -rf "$out"; return 1; }
    (cd "$out" && HOME="$out" setpriv --reuid=65534 --regid=65534 --clear-groups \
        erl -noshell -pa "$out/procket/ebin" -pa "$out/t" -eval '
        65534 = list_to_integer(string:trim(os:cmd("id -u"))),
        Mods = [list_to_atom(filename:basename(F, ".beam"))
                || F <- filelib:wildcard("'"$out"'/t/*_tests.beam")],
        case eunit:test(Mods, [verbose]) of
            ok -> halt(0);
            _ -> halt(1)
        end.')
    rc=$?
    rm -rf "$out"
    return $rc
}

# Every exported function of the Erlang modules called with random and
# hostile arguments in a VM running as uid 65534, in private namespaces
# (scripts/fuzz-api.sh): no crash, stall, leak or memory corruption. Its
# last line: "fuzz-api: N calls, N crashes, N stalls, N leaks, N corruptions".
fuzz_api() { FUZZ_API_SECONDS="$FUZZ_API_SECONDS" "$ROOT/scripts/fuzz-api.sh"; }

ct_run() { "$ROOT/scripts/ct.sh"; }

# The machine's /etc/procket.conf, sudoers, /run/netns and /dev/log were
# never changed during the run (the watcher outside saw nothing) and are
# as they were. And what the tests see does not depend on them: in a view
# where /etc/procket.conf denies everything (an overlay of this private
# namespace), a VM as nobody is refused UDP 8053 by the helper, and under
# scripts/private.sh, as every step ran, it is granted.
host_untouched() {
    host_state "${PROCKET_OUTER_PID:-self}" >"$LOGS/host-after" || return 1
    if [ -s "$LOGS/host-changes" ]; then
        echo "the machine's shared paths changed during the run:"
        cat "$LOGS/host-changes"
        return 1
    fi
    if ! cmp "$LOGS/host-before" "$LOGS/host-after"; then
        diff "$LOGS/host-before" "$LOGS/host-after"
        return 1
    fi
    echo "unchanged during and after the run: $(grep -c . "$LOGS/host-before") lines of state"
    t=$(mktemp -d) && chmod 755 "$t" && cp -R "$ROOT/ebin" "$ROOT/priv" "$t/" &&
        chmod -R a+rX "$t" || return 1
    printf 'deny all tcp udp sctp udplite ip icmp\n' >/etc/procket.conf &&
        chmod 644 /etc/procket.conf || return 1
    ask="HOME=$t unshare --net setpriv --reuid=65534 --regid=65534 --clear-groups erl -noshell"
    ask="$ask -pa ebin -eval 'io:format(\"~p~n\", [procket:open(8053, [{protocol, udp}])]), halt().'"
    denied=$(cd "$t" && sh -c "$ask" 2>&1)
    granted=$("$ROOT/scripts/private.sh" sh -c "test ! -e /etc/procket.conf && cd $t && $ask" 2>&1)
    rm -f /etc/procket.conf
    rm -rf "$t"
    echo "under a deny-all /etc/procket.conf: $denied"
    echo "the same, under scripts/private.sh: $granted"
    case $denied in *"{error,eacces}"*) ;; *) return 1 ;; esac
    case $granted in *"{ok,"*) ;; *) return 1 ;; esac
}

ct_socket_run() { "$ROOT/scripts/ct-socket.sh"; }

# procket as a rebar3 project, offline, from a copy of the tracked files:
# `rebar3 compile` builds ebin and both priv programs, and the result loads.
rebar3_compile() {
    tmp=$(mktemp -d) || return 1
    (cd "$ROOT" && git ls-files -z 2>/dev/null | xargs -0 tar cf - 2>/dev/null ||
        tar cf - --exclude=./logs --exclude=./_build --exclude=./c_src/build \
            --exclude=./ebin --exclude=./priv .) | tar xf - -C "$tmp" &&
    (cd "$tmp" && rm -rf priv/procket priv/procket_nif.so c_src/build ebin &&
        rebar3 compile &&
        test -x _build/default/lib/procket/priv/procket &&
        test -f _build/default/lib/procket/priv/procket_nif.so &&
        for h in procket ioctl packet bpf; do
            test -f "_build/default/lib/procket/include/$h.hrl" || exit 1
        done &&
        erl -noshell -pa _build/default/lib/procket/ebin -eval '
            {module, procket_nif} = code:ensure_loaded(procket_nif),
            true = filelib:is_regular(procket:helper_path()),
            io:format("rebar3 build loads; helper ~s~n", [procket:helper_path()]),
            halt().')
    rc=$?
    rm -rf "$tmp"
    return $rc
}

step build build
if [ "$failed" -ne 0 ]; then
    echo "make test: 0 passed, 1 failed (the build failed; nothing else can run)"
    exit 1
fi
step c-unit c_unit
step c-asan-ubsan c_asan
step c-valgrind c_valgrind
step fuzz fuzz
step cppcheck cppcheck_run
step erl-compile-extra erl_compile_extra
step dialyzer dialyzer_run
step xref xref_run
step eunit eunit_run
step fuzz-api fuzz_api
step rebar3-compile rebar3_compile
step common-test ct_run
step common-test-socket ct_socket_run
step common-test-vm "$ROOT/scripts/ct-vm.sh"
step common-test-hardening "$ROOT/scripts/ct-hardening.sh"
step common-test-broker "$ROOT/scripts/ct-broker.sh"
step systemd-units "$ROOT/scripts/check-units.sh"
step common-test-exec "$ROOT/scripts/ct-exec.sh"
step common-test-doctor "$ROOT/scripts/ct-doctor.sh"
step man-pages "$ROOT/scripts/check-man.sh"
step install "$ROOT/scripts/check-install.sh"
step mix "$ROOT/scripts/check-mix.sh"
step host-untouched host_untouched

echo "make test: took $(( $(date +%s) - total_start ))s; logs in logs/test"
[ -n "$failures" ] && echo "make test: failed steps:$failures"
echo "make test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
