%% Common Test suite for procket-exec(1): privileged listening sockets for
%% any program through the socket-activation protocol, and
%% procket:listen_fds/0. Every program runs as uid 65534 with the staged
%% helper setuid root: an Erlang VM serving TCP and UDP echo on fds 3 and
%% 4, a C server using libsystemd's sd_listen_fds(3), IPv6, bad command
%% lines, a policy's refusal (the program never starts), no stray
%% descriptor, exec failures, a setuid procket-exec refused, the broker.
%%
%% Runs as root through scripts/ct-exec.sh (scripts/ct.sh: a fresh network
%% namespace, /etc, /run and /dev private). The policy file is only ever
%% put in place inside a mount namespace of its own (unshare --mount).
-module(procket_exec_SUITE).

-include_lib("common_test/include/ct.hrl").
-include_lib("kernel/include/file.hrl").

-export([all/0, init_per_suite/1, end_per_suite/1]).
-export([erlang_vm_echo/1, sd_listen_fds_server/1, bad_arguments/1, policy_refused/1,
         only_listed_fds/1, ipv6/1, exec_failures/1, setuid_refused/1, broker/1,
         listen_fds_env/1, duplicate_env/1]).

-define(NOBODY, "65534").
-define(POLICY, "/etc/procket.conf").
-define(TIMEOUT, 30000).

all() ->
    [erlang_vm_echo, sd_listen_fds_server, bad_arguments, policy_refused,
     only_listed_fds, ipv6, exec_failures, setuid_refused, broker, listen_fds_env,
     duplicate_env].

%% --- setup ------------------------------------------------------------

init_per_suite(Config) ->
    "0" = string:trim(os:cmd("id -u")),
    [true = is_list(os:find_executable(T))
     || T <- ["socat", "setpriv", "unshare", "mount", "cc", "erl", "ss", "sh"]],
    Root = repo_root(),
    [true = filelib:is_regular(filename:join([Root, "priv", F]))
     || F <- ["procket", "procket-exec"]],
    Stage = string:trim(os:cmd("mktemp -d /tmp/procket_cte.XXXXXX")),
    true = lists:prefix("/tmp/procket_cte.", Stage),
    ok = file:change_mode(Stage, 8#755),
    "" = os:cmd("cp -r " ++ Root ++ "/ebin " ++ Root ++ "/priv " ++ Stage ++ "/ 2>&1"
                ++ " && chmod -R a+rX " ++ Stage ++ "/ebin " ++ Stage ++ "/priv"),
    Helper = filename:join(Stage, "priv/procket"),
    ok = file:change_owner(Helper, 0, 0),
    ok = file:change_mode(Helper, 8#4755),   % the last chmod: keeps the bit
    Data = ?config(data_dir, Config),
    Bin = filename:join(Stage, "bin"),
    ok = file:make_dir(Bin),
    ok = file:change_mode(Bin, 8#755),
    [ok = run_ok("cc -std=c11 -D_DEFAULT_SOURCE -O2 -Wall -Wextra -Werror -o "
                 ++ filename:join(Bin, P) ++ " " ++ filename:join(Data, P ++ ".c") ++ Libs)
     || {P, Libs} <- [{"sd_accept", " -lsystemd"}, {"fdlist", ""}, {"dupenv", ""}]],
    {ok, _} = compile:file(filename:join(Data, "procket_exec_echo.erl"),
                           [{outdir, Bin}, report]),
    ok = file:change_mode(filename:join(Bin, "procket_exec_echo.beam"), 8#644),
    Home = filename:join(Stage, "home"),
    ok = file:make_dir(Home),
    ok = file:change_owner(Home, 65534, 65534),
    ok = file:change_mode(Home, 8#700),
    [{stage, Stage}, {exec, filename:join(Stage, "priv/procket-exec")}, {helper, Helper},
     {bin, Bin}, {home, Home}, {policy_before, file:read_file(?POLICY)} | Config].

end_per_suite(Config) ->
    %% the suite's own view of /etc/procket.conf never changed
    Before = ?config(policy_before, Config),
    Before = file:read_file(?POLICY),
    Stage = ?config(stage, Config),
    true = lists:prefix("/tmp/procket_cte.", Stage),
    ok = file:del_dir_r(Stage).

%% --- cases --------------------------------------------------------------

%% An Erlang VM that procket-exec started as uid 65534 with `-l 80 -l
%% udp:53' finds both sockets with procket:listen_fds/0 (LISTEN_PID is
%% the VM's: erl execs erlexec, which execs beam.smp; setpriv and
%% procket-exec exec too, so it is also the port's OS pid) and serves TCP
%% echo on fd 3, UDP echo on fd 4, to socat; the kernel says both sockets
%% are uid 65534's.
erlang_vm_echo(Config) ->
    Erl = os:find_executable("erl"),
    Port = start(Config, [exec(Config), "-l", "80", "-l", "udp:53", "--", Erl, "-noshell",
                          "-pa", filename:join(?config(stage, Config), "ebin"),
                          "-pa", ?config(bin, Config),
                          "-s", "procket_exec_echo", "start"]),
    try
        {ok, OsPid} = case erlang:port_info(Port, os_pid) of
                          {os_pid, P} -> {ok, integer_to_list(P)};
                          _ -> error
                      end,
        FdsLine = wait_line(Port, "fds "),
        ct:log("~s", [FdsLine]),
        Expected = "fds [{\"tcp-80\",3},{\"udp-53\",4}] pid " ++ OsPid ++ " listen_pid " ++ OsPid,
        Expected = FdsLine,
        "ready" = wait_line(Port, "ready"),
        [?NOBODY] = socket_uids("-t", "80"),
        [?NOBODY] = socket_uids("-u", "53"),
        "e1\n" = socat("e1", "udp4:127.0.0.1:53"),
        "e2\n" = socat("e2", "tcp4:127.0.0.1:80"),
        "done" = wait_line(Port, "done"),
        {0, _} = wait_exit(Port)
    after
        stop(Port)
    end.

%% A C server using libsystemd (sd_listen_fds_with_names(3),
%% sd_is_socket(3)) accepts a connection on TCP port 80, as uid 65534.
sd_listen_fds_server(Config) ->
    Port = start(Config, [exec(Config), "-l", "80", "-n", "web",
                          bin(Config, "sd_accept")]),
    try
        "ready 1" = wait_line(Port, "ready"),
        "hello web fd 3 uid 65534\n" = socat("x", "tcp4:127.0.0.1:80"),
        {0, _} = wait_exit(Port)
    after
        stop(Port)
    end.

%% Usage errors: status 64, one line on stderr saying what is wrong, and
%% the program (which would make a marker file) never runs. The same
%% command line with the error fixed does run it.
bad_arguments(Config) ->
    Marker = filename:join(?config(home, Config), "bad_arguments"),
    Prog = ["/bin/sh", "-c", "echo ran >" ++ Marker],
    Long = lists:duplicate(256, $a),
    Cases = [{[], "no socket"},
             {["--" | Prog], "no socket"},
             {["-l", "tcp:abc" | Prog], "-l tcp:abc: bad port"},
             {["-l", "70000" | Prog], "-l 70000: bad port"},
             {["-l", "udp:-1" | Prog], "-l udp:-1: bad port"},
             {["-l", "sctp:80" | Prog], "-l sctp:80: bad address, or a protocol"},
             {["-l", "1.2.3:80" | Prog], "-l 1.2.3:80: bad IPv4 address"},
             {["-l", "::1:80" | Prog], "must be in brackets"},
             {["-l", "[::1]" | Prog], "followed by :PORT"},
             {["-n", "web", "-l", "80" | Prog], "-n web: names the socket of a -l before it"},
             {["-l", "80", "-n", "a:b" | Prog], "-n for -l 80: bad name: contains ':'"},
             {["-l", "80", "-n", "a\tb" | Prog], "not printable"},
             {["-l", "80", "-n", "" | Prog], "bad name: empty"},
             {["-l", "80", "-n", Long | Prog], "longer than 255"},
             {["-l", "80", "-n", "a", "-n", "b" | Prog], "named already"},
             {["-l", "80"], "no PROGRAM"},
             {["-l", "80", "--"], "no PROGRAM"},
             {["-l"], "-l needs a SPEC"},
             {["-x", "-l", "80" | Prog], "unknown option -x"},
             {["--helper", "/x", "--broker", "/y", "-l", "80" | Prog], "exclude each other"},
             {["--broker", "rel", "-l", "80" | Prog], "must be absolute"}],
    [begin
         {St, Out} = run_as(Config, [exec(Config) | Args]),
         ct:log("~p: ~p ~s", [Args, St, Out]),
         {64, [Line]} = {St, string:lexemes(Out, "\n")},
         {_, true} = {Args, lists:prefix("procket-exec: ", Line)},
         {_, true} = {Args, string:find(Line, Want) =/= nomatch},
         {error, enoent} = file:read_file(Marker)
     end || {Args, Want} <- Cases],
    %% the -h usage, exactly; -V the version
    {0, Usage} = run_as(Config, [exec(Config), "-h"]),
    "usage: procket-exec [-h] [-V] [--helper PATH] [--broker PATH]\n"
    "                    -l SPEC [-n NAME] [-l SPEC [-n NAME]]... [--] PROGRAM [ARG]...\n"
        = Usage,
    {ok, Vsn} = file:read_file(filename:join(repo_root(), "VERSION")),
    {0, V} = run_as(Config, [exec(Config), "-V"]),
    V = "procket-exec " ++ string:trim(binary_to_list(Vsn)) ++ "\n",
    %% the control: fixed, the same program runs
    {0, _} = run_as(Config, [exec(Config), "-l", "8080", "-n", "a b" | Prog]),
    {ok, <<"ran\n">>} = file:read_file(Marker),
    ok = file:delete(Marker).

%% A socket the policy refuses: procket-exec says which SPEC and that the
%% policy refused it, exits 69, and the program (which would make a
%% marker file) is not started, although the socket before it was
%% granted. The policy file is bind-mounted (or, where none exists to
%% mount over, overlaid) on /etc/procket.conf in a mount namespace of
%% this command's own. The same command with a port the file allows runs
%% the program. Without any file, the default refuses ports 512-1023.
policy_refused(Config) ->
    Stage = ?config(stage, Config),
    Policy = filename:join(Stage, "policy.conf"),
    ok = file:write_file(Policy, "deny user 65534 tcp port=80\n"),
    ok = file:change_mode(Policy, 8#644),
    Marker = filename:join(?config(home, Config), "policy_refused"),
    Prog = ["/bin/sh", "-c", "echo ran >" ++ Marker],
    WithPolicy =
        fun(Specs) ->
                Ovl = filename:join(Stage, "ovl"),
                _ = os:cmd("rm -rf " ++ Ovl),
                Setup = "set -e; if [ -e /etc/procket.conf ]; then "
                    "mount --bind \"$1\" /etc/procket.conf; else "
                    "mkdir -p \"$2/up\" \"$2/work\"; cp -p \"$1\" \"$2/up/procket.conf\"; "
                    "mount -t overlay procket_exec_etc -o lowerdir=/etc,upperdir=\"$2/up\","
                    "workdir=\"$2/work\" /etc; fi; "
                    "cmp -s \"$1\" /etc/procket.conf; shift 2; exec \"$@\"",
                run([os:find_executable("unshare"), "--mount", "--propagation", "private",
                     "/bin/sh", "-c", Setup, "sh", Policy, Ovl | setpriv()]
                    ++ [exec(Config) | Specs] ++ ["--" | Prog])
        end,
    {St, Out} = WithPolicy(["-l", "8080", "-l", "80"]),
    ct:log("~p ~s", [St, Out]),
    69 = St,
    [Line] = [L || L <- string:lexemes(Out, "\n"), lists:prefix("procket-exec: ", L)],
    true = lists:prefix("procket-exec: -l 80: refused by the helper's policy", Line),
    {error, enoent} = file:read_file(Marker),
    %% the mount stayed in that namespace
    Before = ?config(policy_before, Config),
    Before = file:read_file(?POLICY),
    %% control: port 81 is not denied, so the program runs
    {0, _} = WithPolicy(["-l", "8080", "-l", "81"]),
    {ok, <<"ran\n">>} = file:read_file(Marker),
    ok = file:delete(Marker),
    %% the default policy (no rule): 512-1023 refused
    case Before of
        {error, enoent} ->
            {69, Out2} = run_as(Config, [exec(Config), "-l", "udp:600", "--" | Prog]),
            true = string:find(Out2, "procket-exec: -l udp:600: refused by the helper's policy")
                =/= nomatch,
            {error, enoent} = file:read_file(Marker);
        _ ->
            ok
    end.

%% The program gets descriptors 0, 1, 2 and the listed sockets at 3, 4
%% (close-on-exec cleared, in order, TCP listening) and nothing else,
%% although procket-exec was started with descriptors 3, 4, 5, 7 and 9
%% open; the variables name its own pid, the count and the names. The
%% control: the same descriptors do reach fdlist without procket-exec.
only_listed_fds(Config) ->
    Extra = "exec 3</dev/null 4</dev/null 5</dev/null 7>/dev/null 9</dev/null; exec \"$@\"",
    Fdlist = bin(Config, "fdlist"),
    {0, Control} = run(["/bin/sh", "-c", Extra, "sh" | setpriv()] ++ [Fdlist]),
    [0, 1, 2, 3, 4, 5, 7, 9] = fds(Control),
    {0, Out} = run(["/bin/sh", "-c", Extra, "sh" | setpriv()]
                   ++ [exec(Config), "-l", "8080", "-l", "udp:8053", "-n", "dns", Fdlist]),
    ct:log("~s", [Out]),
    [0, 1, 2, 3, 4] = fds(Out),
    ["pid " ++ Rest | _] = Lines = string:lexemes(Out, "\n"),
    [Pid, "LISTEN_PID=" ++ Pid, "LISTEN_FDS=2", "LISTEN_FDNAMES=tcp-8080:dns"] =
        string:lexemes(Rest, " "),
    true = lists:member("fd 3 socket inet stream listening=1 0.0.0.0 8080 cloexec=0", Lines),
    true = lists:member("fd 4 socket inet dgram listening=0 0.0.0.0 8053 cloexec=0", Lines).

%% An environment that holds each socket-activation variable twice (a
%% hostile or careless parent): the program gets each exactly once, with
%% procket-exec's values. setenv(3) replaces the first only; the program
%% read the second before.
duplicate_env(Config) ->
    {0, Control} = run_as(Config, [bin(Config, "dupenv"), "/usr/bin/env"]),
    2 = length([L || "LISTEN_FDS=" ++ _ = L <- string:lexemes(Control, "\n")]),
    {0, Out} = run_as(Config, [bin(Config, "dupenv"), exec(Config), "-l", "8080", "--",
                               "/usr/bin/env"]),
    ct:log("~s", [Out]),
    Listen = lists:sort([L || "LISTEN_" ++ _ = L <- string:lexemes(Out, "\n")]),
    ["LISTEN_FDNAMES=tcp-8080", "LISTEN_FDS=1", "LISTEN_PID=" ++ Pid] = Listen,
    true = list_to_integer(Pid) > 2.

%% tcp:[::1]:443: an IPv6 socket bound to ::1, listening; a client
%% connecting to [::1]:443 reaches the sd_listen_fds server.
ipv6(Config) ->
    {0, Out} = run_as(Config, [exec(Config), "-l", "tcp:[::1]:443", "-l", "udp:[::1]:8053",
                               bin(Config, "fdlist")]),
    ct:log("~s", [Out]),
    Lines = string:lexemes(Out, "\n"),
    true = lists:member("fd 3 socket inet6 stream listening=1 ::1 443 cloexec=0", Lines),
    true = lists:member("fd 4 socket inet6 dgram listening=0 ::1 8053 cloexec=0", Lines),
    true = lists:any(fun(L) -> lists:suffix("LISTEN_FDNAMES=tcp-443:udp-8053", L) end, Lines),
    Port = start(Config, [exec(Config), "-l", "tcp:[::1]:443", bin(Config, "sd_accept")]),
    try
        "ready 1" = wait_line(Port, "ready"),
        [?NOBODY] = socket_uids("-t", "443"),
        "hello tcp-443 fd 3 uid 65534\n" = socat("x", "tcp6:[::1]:443"),
        {0, _} = wait_exit(Port)
    after
        stop(Port)
    end.

%% A PROGRAM that cannot be found: 127; one that cannot be executed: 126;
%% each with a line naming it. A helper that cannot be run, or a port in
%% use (the same port twice): 69, naming the SPEC.
exec_failures(Config) ->
    {127, Out1} = run_as(Config, [exec(Config), "-l", "8080", "procket-exec-no-such-program"]),
    true = string:find(Out1, "procket-exec: procket-exec-no-such-program: No such file")
        =/= nomatch,
    NotExec = filename:join(?config(stage, Config), "not-executable"),
    ok = file:write_file(NotExec, "#!/bin/sh\n"),
    ok = file:change_mode(NotExec, 8#644),
    {126, Out2} = run_as(Config, [exec(Config), "-l", "8080", NotExec]),
    true = string:find(Out2, "procket-exec: " ++ NotExec ++ ": Permission denied") =/= nomatch,
    ok = file:change_mode(NotExec, 8#755),
    {0, _} = run_as(Config, [exec(Config), "-l", "8080", NotExec]),
    %% a socket not obtained: 69 (a helper that is not there; a port in use)
    {69, Out3} = run_as(Config, [exec(Config), "--helper", "/nonexistent/procket",
                                 "-l", "8080", NotExec]),
    true = string:find(Out3, "procket-exec: -l 8080: cannot run the helper "
                       "/nonexistent/procket: No such file or directory") =/= nomatch,
    {69, Out4} = run_as(Config, [exec(Config), "-l", "8080", "-l", "tcp:8080", NotExec]),
    true = string:find(Out4, "procket-exec: -l tcp:8080: helper ") =/= nomatch,
    true = string:find(Out4, ": Address already in use") =/= nomatch.

%% procket-exec installed setuid root refuses to do anything (AT_SECURE):
%% status 71, and the program does not run.
setuid_refused(Config) ->
    Copy = filename:join(?config(stage, Config), "priv/procket-exec-setuid"),
    {ok, _} = file:copy(exec(Config), Copy),
    ok = file:change_owner(Copy, 0, 0),
    ok = file:change_mode(Copy, 8#4755),
    Marker = filename:join(?config(home, Config), "setuid_refused"),
    {St, Out} = run_as(Config, [Copy, "-l", "8080", "/bin/sh", "-c", "echo ran >" ++ Marker]),
    ct:log("~p ~s", [St, Out]),
    ok = file:delete(Copy),
    71 = St,
    true = string:find(Out, "procket-exec: refusing to run with privileges") =/= nomatch,
    {error, enoent} = file:read_file(Marker).

%% A caller with no_new_privs cannot use the setuid helper (69, "not
%% privileged"), but gets its socket from a broker (--broker PATH) that
%% root runs.
broker(Config) ->
    Stage = ?config(stage, Config),
    Run = filename:join(Stage, "run"),
    ok = file:make_dir(Run),
    ok = file:change_mode(Run, 8#755),
    Sock = filename:join(Run, "procket.sock"),
    Log = filename:join(Stage, "broker.log"),
    Pid = string:trim(os:cmd(?config(helper, Config) ++ " -l " ++ Sock ++ " >" ++ Log
                             ++ " 2>&1 & echo $!")),
    try
        ok = wait_until(fun() -> is_socket(Sock) end, 100),
        Nnp = fun(Args) -> run(["/usr/bin/setpriv", "--no-new-privs" | tl(setpriv())]
                               ++ [exec(Config) | Args]) end,
        {69, Out1} = Nnp(["-l", "80", "/bin/true"]),
        ct:log("~s", [Out1]),
        true = string:find(Out1, "procket-exec: -l 80: the helper ") =/= nomatch,
        true = string:find(Out1, "is not privileged") =/= nomatch,
        {0, Out2} = Nnp(["--broker", Sock, "-l", "80", "-n", "b", bin(Config, "fdlist")]),
        ct:log("~s", [Out2]),
        true = string:find(Out2, "fd 3 socket inet stream listening=1 0.0.0.0 80 cloexec=0")
            =/= nomatch,
        %% no broker there: 69, and no helper is tried
        {69, Out3} = Nnp(["--broker", Sock ++ ".none", "-l", "80", "/bin/true"]),
        true = string:find(Out3, "procket-exec: -l 80: no broker at ") =/= nomatch
    after
        os:cmd("kill " ++ Pid)
    end.

%% procket:listen_fds/0 in this VM with bad values: [] whatever they are,
%% never a crash; the pid check holds.
listen_fds_env(_Config) ->
    Vars = ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"],
    Old = [{V, os:getenv(V)} || V <- Vars],
    Me = os:getpid(),
    {ok, F1} = file:open("/dev/null", [read]),   % descriptors that exist
    try
        Set = fun(Pid, N, Names) ->
                      [case Val of
                           false -> os:unsetenv(K);
                           _ -> os:putenv(K, Val)
                       end || {K, Val} <- lists:zip(Vars, [Pid, N, Names])],
                      procket:listen_fds()
              end,
        [] = Set(false, false, false),
        [] = Set(false, "1", false),
        [] = Set("1", "1", false),                     % another pid
        [] = Set(Me ++ "x", "1", false),
        [] = Set(" " ++ Me, "1", false),
        [] = Set(Me, "0", false),
        [] = Set(Me, "-1", false),
        [] = Set(Me, "1x", false),
        [] = Set(Me, "99999999999999999999", false),
        [] = Set(Me, "4294967299", false),
        [] = Set(Me, "1", "a:b"),                     % names and count differ
        [] = Set(Me, "2", "a"),
        [] = Set(Me, "60000", false),                 % descriptors that are not open
        [{"unknown", 3}] = Set(Me, "1", false),
        [{"a", 3}] = Set(Me, "1", "a"),
        [{"", 3}] = Set(Me, "1", ""),
        [{"a", 3}, {"", 4}] = Set(Me, "2", "a:")
    after
        [case Val of
             false -> os:unsetenv(K);
             _ -> os:putenv(K, Val)
         end || {K, Val} <- Old],
        file:close(F1)
    end.

%% --- helpers ------------------------------------------------------------

repo_root() ->
    case os:getenv("PROCKET_ROOT") of
        false -> filename:dirname(filename:dirname(code:which(procket)));
        Dir -> Dir
    end.

exec(Config) -> ?config(exec, Config).

bin(Config, Name) -> filename:join(?config(bin, Config), Name).

setpriv() ->
    ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"].

run_as(_Config, Args) ->
    run(setpriv() ++ Args).

run_ok(Cmd) ->
    case run(["/bin/sh", "-c", Cmd]) of
        {0, _} -> ok;
        Other -> {error, Other}
    end.

%% Runs Args (no shell), standard error with standard output; returns
%% {ExitStatus, Output}.
run([Exe | Args]) ->
    Port = open_port({spawn_executable, Exe},
                     [{args, Args}, exit_status, stderr_to_stdout, binary, {cd, "/"},
                      {env, [{"HOME", "/"}]}]),
    collect(Port, [], erlang:monotonic_time(millisecond) + ?TIMEOUT).

collect(Port, Acc, Deadline) ->
    Left = max(0, Deadline - erlang:monotonic_time(millisecond)),
    receive
        {Port, {data, D}} -> collect(Port, [Acc, D], Deadline);
        {Port, {exit_status, St}} -> {St, binary_to_list(iolist_to_binary(Acc))}
    after Left ->
            stop(Port),
            ct:fail("timeout; output so far: ~s", [Acc])
    end.

%% A long-running program as uid 65534, read line by line.
start(Config, Args) ->
    [Exe | Rest] = setpriv() ++ Args,
    open_port({spawn_executable, Exe},
              [{args, Rest}, exit_status, stderr_to_stdout, {line, 4096},
               {cd, ?config(home, Config)}, {env, [{"HOME", ?config(home, Config)}]}]).

%% The first line starting with Prefix (others are logged).
wait_line(Port, Prefix) ->
    receive
        {Port, {data, {eol, Line}}} ->
            case lists:prefix(Prefix, Line) of
                true -> Line;
                false -> ct:log("output: ~s", [Line]), wait_line(Port, Prefix)
            end;
        {Port, {exit_status, St}} ->
            ct:fail("exited ~p before a line ~p", [St, Prefix])
    after ?TIMEOUT ->
            ct:fail("no line ~p", [Prefix])
    end.

wait_exit(Port) ->
    receive
        {Port, {exit_status, St}} -> {St, ok};
        {Port, {data, {_, Line}}} -> ct:log("output: ~s", [Line]), wait_exit(Port)
    after ?TIMEOUT ->
            ct:fail("no exit")
    end.

stop(Port) ->
    case erlang:port_info(Port, os_pid) of
        {os_pid, P} -> _ = os:cmd("kill -9 " ++ integer_to_list(P) ++ " 2>/dev/null");
        undefined -> ok
    end,
    catch port_close(Port),
    ok.

socat(Payload, Addr) ->
    os:cmd("echo " ++ Payload ++ " | timeout 10 socat -t1 - " ++ Addr ++ " 2>/dev/null").

%% The uids of the sockets on local port Port (-t: listening TCP, -u: UDP).
socket_uids(Proto, Port) ->
    Out = os:cmd("ss -Hne " ++ Proto ++ "l 'sport = :" ++ Port ++ "'"),
    ct:log("ss: ~s", [Out]),
    lists:usort([U || L <- string:lexemes(Out, "\n"),
                      {match, [U]} <- [re:run(L, "uid:(\\d+)", [{capture, all_but_first, list}])]]).

%% The descriptor numbers in fdlist's output.
fds(Out) ->
    [list_to_integer(N) || "fd " ++ L <- string:lexemes(Out, "\n"), [N | _] <- [string:lexemes(L, " ")]].

is_socket(Path) ->
    case file:read_link_info(Path) of
        {ok, #file_info{type = other}} -> true;
        _ -> false
    end.

wait_until(F, 0) ->
    F() orelse ct:fail(timeout),
    ok;
wait_until(F, N) ->
    case F() of
        true -> ok;
        false -> timer:sleep(50), wait_until(F, N - 1)
    end.
