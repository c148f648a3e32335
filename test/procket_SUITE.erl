%% @doc End-to-end tests of procket: an Erlang VM running as uid/gid
%% 65534 (nobody) asks the staged helper for privileged sockets, once
%% with the helper installed setuid root (group `setuid') and once run
%% through `sudo -n' (group `sudo').
%%
%% The suite runs as root (see scripts/ct.sh, which also puts it in a
%% fresh network namespace so that ports 53 and 80 are free). It stages
%% ebin/ and priv/ into a world-traversable directory under /tmp, starts
%% the VM under test with `peer' through setpriv, runs echo servers in
%% that VM and talks to them with socat from the root side.
-module(procket_SUITE).

-import(procket_ct_stage, [stage_release/2, make_dir/2]).

-include_lib("common_test/include/ct.hrl").
-include_lib("kernel/include/file.hrl").

-export([suite/0, all/0, groups/0,
         init_per_suite/1, end_per_suite/1,
         init_per_group/2, end_per_group/2,
         init_per_testcase/2, end_per_testcase/2]).

-export([peer_is_unprivileged/1,
         udp4_echo/1, udp6_echo/1, tcp4_echo/1, tcp6_echo/1,
         socket_owner_is_caller/1, pipe_transport/1,
         default_exec_fallback/1,
         concurrent_opens/1, open_close_cycles/1,
         failure_table/1, shell_metacharacters/1,
         pipe_helper_exits_early/1, pipe_relative_path/1,
         readme_session/1, raw_icmp_ping/1,
         namespace_udp_echo/1, tun_answers_ping/1, packet_socket_frames/1,
         ping_raw/1, ping_dgram/1, example_tun_ping/1, example_sniff/1,
         policy_rules/1, packet_module/1, packet_module_routes/1,
         audit_trail/1, rule_needed/1, example_icmp_ping/1,
         opens_and_failures_leave_nothing/1, policy_supplementary_group/1,
         ping_unanswered/1, dev_functions/1, tun_clone/1, packet_confined/1,
         reuseport_group_not_joined/1,
         callers_timeout_ignored/1, nonblocking_descriptors/1, refusal_is_final/1,
         owned_handles/1, helper_env_binary/1, owned_hostile/1, diagnose_bounded/1]).

-define(POLICY, "/etc/procket.conf").

-define(NS, "procket_ct").
%% what the devices group grants nobody: packet sockets and tun devices,
%% and in the test namespace UDP too
-define(DEVICES_POLICY, "allow user 65534 packet tun\n"
                        "allow user 65534 packet tun udp namespace=" ?NS "\n").

-define(NOBODY, 65534).
-define(CALL_TIMEOUT, 30000).
-define(ECHO_NAMES, [echo_udp4, echo_udp6, echo_tcp4, echo_tcp6, echo_pipe,
                     echo_fallback]).
-define(UDP, [{protocol, udp}]).

%% --- CT callbacks ---------------------------------------------------

suite() ->
    [{timetrap, {minutes, 10}}].

all() ->
    [{group, setuid}, {group, sudo}, {group, devices}].

groups() ->
    Common = [peer_is_unprivileged, readme_session,
              udp4_echo, udp6_echo, tcp4_echo, tcp6_echo,
              socket_owner_is_caller, reuseport_group_not_joined,
              raw_icmp_ping, pipe_transport,
              concurrent_opens, open_close_cycles,
              failure_table, shell_metacharacters,
              pipe_helper_exits_early, pipe_relative_path, audit_trail,
              rule_needed, opens_and_failures_leave_nothing,
              callers_timeout_ignored, nonblocking_descriptors],
    [{setuid, [], [refusal_is_final, owned_handles, helper_env_binary, owned_hostile,
                   diagnose_bounded | Common]},
     {sudo, [], [default_exec_fallback | Common]},
     %% namespaces, tun and packet sockets, with the setuid helper
     {devices, [], [namespace_udp_echo, tun_answers_ping, packet_socket_frames,
                    ping_raw, ping_dgram, ping_unanswered, dev_functions, tun_clone,
                    example_tun_ping, example_sniff, example_icmp_ping,
                    packet_module, packet_module_routes, packet_confined, policy_rules,
                    policy_supplementary_group]}].

init_per_suite(Config) ->
    "0" = string:trim(os:cmd("id -u")),
    %% the suite writes /etc/procket.conf and a sudo rule: only ever in
    %% scripts/private.sh's overlay, never the machine's /etc
    {ok, Mounts} = file:read_file("/proc/self/mounts"),
    binary:match(Mounts, <<"procket_private_etc /etc overlay">>) =/= nomatch orelse
        ct:fail("/etc is not private: run the suite through scripts/ct.sh"),
    [true = is_list(os:find_executable(T)) || T <- ["socat", "setpriv", "sudo",
                                                    "visudo", "erl", "timeout"]],
    Root = repo_root(Config),
    [{ok, _} = file:read_file_info(filename:join(Root, F))
     || F <- ["ebin/procket.beam", "priv/procket", "priv/procket_nif.so"]],
    Stage = string:trim(os:cmd("mktemp -d /tmp/procket_ct.XXXXXX")),
    true = lists:prefix("/tmp/procket_ct.", Stage),
    ok = file:change_mode(Stage, 8#755),
    %% setuid/: the helper setuid root; plain/: an ordinary 0755 copy.
    [begin
         ok = make_dir(filename:join(Stage, D), 8#755),
         ok = stage_release(Root, filename:join(Stage, D))
     end || D <- ["setuid", "plain"]],
    Setuid = filename:join(Stage, "setuid/priv/procket"),
    ok = file:change_owner(Setuid, 0, 0),
    ok = file:change_mode(Setuid, 8#4755),   % the last chmod: keeps the bit
    {ok, #file_info{mode = SMode}} = file:read_file_info(Setuid),
    8#4755 = SMode band 8#7777,
    Plain = filename:join(Stage, "plain/priv/procket"),
    {ok, #file_info{mode = PMode}} = file:read_file_info(Plain),
    8#755 = PMode band 8#7777,
    %% A second plain copy that no sudo rule names.
    Unlisted = filename:join(Stage, "unlisted/procket"),
    ok = filelib:ensure_dir(Unlisted),
    ok = file:change_mode(filename:dirname(Unlisted), 8#755),
    {ok, _} = file:copy(Plain, Unlisted),
    ok = file:change_mode(Unlisted, 8#755),
    %% The support module, compiled for the peer.
    TestEbin = filename:join(Stage, "testebin"),
    ok = make_dir(TestEbin, 8#755),
    {ok, _} = compile:file(filename:join([Root, "test", "procket_test_echo.erl"]),
                           [{outdir, TestEbin}, report]),
    %% and the examples, which some cases run
    [{ok, _} = compile:file(E, [{outdir, TestEbin}, report])
     || E <- filelib:wildcard(filename:join([Root, "examples", "*.erl"]))],
    [ok = file:change_mode(B, 8#644) || B <- filelib:wildcard(filename:join(TestEbin, "*.beam"))],
    %% Fake helpers: one that kills itself, one that never answers.
    Bin = filename:join(Stage, "bin"),
    ok = make_dir(Bin, 8#755),
    KillSelf = script(Bin, "killself", "#!/bin/sh\nkill -9 $$\n"),
    Hang = script(Bin, "hang", "#!/bin/sh\nexec sleep 30\n"),
    %% Directories the peer owns: its HOME and cwd, and the pipe sockets.
    Home = filename:join(Stage, "home"),
    PipeDir = filename:join(Stage, "pipes"),
    [begin ok = make_dir(D, 8#700), ok = file:change_owner(D, ?NOBODY, ?NOBODY) end
     || D <- [Home, PipeDir]],
    [{stage, Stage}, {plain, Plain}, {unlisted, Unlisted}, {test_ebin, TestEbin},
     {killself, KillSelf}, {hang, Hang}, {home, Home}, {pipe_dir, PipeDir},
     {marker, filename:join(Stage, "pwned")} | Config].

end_per_suite(Config) ->
    Stage = ?config(stage, Config),
    true = lists:prefix("/tmp/procket_ct.", Stage),
    ok = file:del_dir_r(Stage),
    ok.

init_per_group(devices, Config) ->
    %% the kinds these cases need are granted to nobody by a rule
    ok = save_policy(),
    ok = write_policy(?DEVICES_POLICY, 8#644),
    %% a named namespace with a veth pair, for the cases to work in
    _ = os:cmd("ip netns del " ++ ?NS ++ " 2>/dev/null"),
    [ok = run(C) || C <- ["ip netns add " ++ ?NS,
                          "ip -n " ++ ?NS ++ " link set lo up",
                          "ip -n " ++ ?NS ++ " link add pkva type veth peer name pkvb",
                          "ip -n " ++ ?NS ++ " link set pkva up",
                          "ip -n " ++ ?NS ++ " link set pkvb up",
                          "ip -n " ++ ?NS ++ " addr add 10.97.0.1/24 dev pkva"]],
    init_per_group(setuid, Config);
init_per_group(Group, Config) ->
    Stage = ?config(stage, Config),
    Plain = ?config(plain, Config),
    {Ebin, PrivOpts, Cycles} =
        case Group of
            setuid -> {filename:join(Stage, "setuid/ebin"), [], 10000};
            sudo -> {filename:join(Stage, "plain/ebin"),
                     [{progname, "sudo -n " ++ Plain}], 10000}
        end,
    Group =:= sudo andalso install_sudo_rule(Plain, Stage),
    {Peer, OsPid} = start_peer(Ebin, Config),
    case check_unprivileged(Peer, OsPid) of
        ok ->
            [{group, Group}, {peer, Peer}, {peer_os_pid, OsPid}, {ebin, Ebin},
             {priv_opts, PrivOpts}, {cycles, Cycles} | Config];
        {error, Why} ->
            peer:stop(Peer),
            {fail, {peer_not_unprivileged, Why}}
    end.

end_per_group(devices, Config) ->
    catch peer:stop(?config(peer, Config)),
    ok = restore_policy(),
    ok = run("ip netns del " ++ ?NS);
end_per_group(Group, Config) ->
    catch peer:stop(?config(peer, Config)),
    Group =:= sudo andalso file:delete(sudo_rule_file()),
    ok.

init_per_testcase(_Case, Config) ->
    Config.

%% Stops any echo server a failed case left running.
end_per_testcase(_Case, Config) ->
    Peer = ?config(peer, Config),
    [catch peer:call(Peer, procket_test_echo, stop, [N]) || N <- ?ECHO_NAMES],
    ok.

%% --- cases: the VM under test ----------------------------------------

%% The peer VM really is unprivileged: uid and gid 65534 in all four
%% slots, no capabilities, no supplementary groups, and procket loads.
peer_is_unprivileged(Config) ->
    Peer = ?config(peer, Config),
    ok = check_unprivileged(Peer, ?config(peer_os_pid, Config)),
    "65534" = string:trim(peer:call(Peer, os, cmd, ["id -u"])),
    {module, procket_nif} = peer:call(Peer, code, ensure_loaded, [procket_nif]),
    %% and it cannot bind port 53 by itself
    {error, eacces} = peer:call(Peer, gen_udp, open, [53]),
    ok.

%% --- cases: echo through a privileged port ---------------------------

%% The README's sessions, word for word, from the directory holding ebin/
%% and priv/, with the setuid helper or with {progname, "sudo
%% priv/procket"} through sudo: procket:gen_udp_open(53, []) (the
%% descriptor closed with the socket: the VM's count is back after
%% gen_udp:close/1); then procket:listen(53, [{protocol, udp}]) and
%% gen_udp:open(0, [{fd, FD}]). Each time a datagram from a real client
%% (socat, run by the same unprivileged user) arrives as a message.
readme_session(Config) ->
    Peer = ?config(peer, Config),
    Opts = case ?config(group, Config) of
               setuid -> [{protocol, udp}];
               sudo -> [{progname, "sudo -n priv/procket"}, {protocol, udp}]
           end,
    Dir = filename:dirname(?config(ebin, Config)),
    %% the first session: procket:gen_udp_open/2, one close
    Owned = [O || O <- Opts, O =/= {protocol, udp}],
    {Msg0, S0, true} = peer:call(Peer, procket_test_echo, readme_session_owned,
                                 [Dir, Owned, "UDP4:127.0.0.1:53"], ?CALL_TIMEOUT),
    {udp, S0, {127, 0, 0, 1}, _, "hello\n"} = Msg0,
    [] = socket_uids("udp", 53),
    %% the second: the older API
    {Msg, S} = peer:call(Peer, procket_test_echo, readme_session,
                         [Dir, Opts, "UDP4:127.0.0.1:53"], ?CALL_TIMEOUT),
    {udp, S, {127, 0, 0, 1}, ClientPort, "hello\n"} = Msg,
    true = is_integer(ClientPort),
    [] = socket_uids("udp", 53),
    ok.

%% UDP port 53 on all IPv4 addresses: the descriptor works with
%% gen_udp:open(0, [{fd, FD}]), socat gets its datagram echoed, and the
%% kernel records uid 65534 as the socket's owner.
udp4_echo(Config) ->
    echo(Config, echo_udp4, 53, ?UDP, [], "UDP4:127.0.0.1:53", {"udp", 53}).

%% The same on ::1 (the family follows the IPv6 address).
udp6_echo(Config) ->
    echo(Config, echo_udp6, 53, [{ip, "::1"} | ?UDP], [inet6],
         "UDP6:[::1]:53", {"udp6", 53}).

%% TCP port 80 (the default protocol) with gen_tcp:listen(0, [{fd, FD}]).
tcp4_echo(Config) ->
    echo(Config, echo_tcp4, 80, [], [], "TCP4:127.0.0.1:80", {"tcp", 80}).

tcp6_echo(Config) ->
    echo(Config, echo_tcp6, 80, [{ip, "::1"}], [inet6], "TCP6:[::1]:80",
         {"tcp6", 80}).

%% A root service's SO_REUSEPORT group cannot be joined: with root's UDP
%% and TCP sockets on ports 55 and 85 bound with SO_REUSEPORT, the
%% VM's requests for the same ports are eaddrinuse (procket neither sets
%% the option nor creates the socket as root), and a datagram to the port
%% still reaches root's socket.
reuseport_group_not_joined(Config) ->
    Peer = ?config(peer, Config),
    Priv = ?config(priv_opts, Config),
    Root = fun(Type, Proto, Port) ->
                   {ok, S} = socket:open(inet, Type, Proto),
                   ok = socket:setopt(S, {socket, reuseport}, true),
                   ok = socket:bind(S, #{family => inet, addr => any, port => Port}),
                   [ok = socket:listen(S) || Type =:= stream],
                   S
           end,
    U = Root(dgram, udp, 55),
    T = Root(stream, tcp, 85),
    try
        {error, eaddrinuse} = open_close(Peer, 55, ?UDP ++ Priv),
        {error, eaddrinuse} = open_close(Peer, 85, Priv),
        [0] = socket_uids("udp", 55),
        _ = os:cmd("echo mine | timeout 10 socat -u - UDP4:127.0.0.1:55"),
        {ok, <<"mine\n">>} = socket:recv(U, 0, 5000)
    after
        socket:close(U),
        socket:close(T)
    end.

%% Sockets are created as the caller: /proc/net/* shows uid 65534 for a
%% UDP4, UDP6 and listening TCP socket on privileged ports, while they
%% are open; nothing remains bound once they are closed.
socket_owner_is_caller(Config) ->
    Peer = ?config(peer, Config),
    Priv = ?config(priv_opts, Config),
    Cases = [{"udp", 54, ?UDP},
             {"udp6", 54, [{ip, "::1"} | ?UDP]},
             {"tcp", 81, [{backlog, 5}]},
             {"tcp6", 81, [{ip, "::1"}, {backlog, 5}]}],
    FDs = [begin
               {ok, FD} = peer:call(Peer, procket, open, [Port, Opts ++ Priv]),
               [?NOBODY] = socket_uids(Proto, Port),
               FD
           end || {Proto, Port, Opts} <- Cases],
    [ok, ok, ok, ok] = peer:call(Peer, procket_test_echo, close_all, [FDs]),
    [[] = socket_uids(Proto, Port) || {Proto, Port, _} <- Cases],
    ok.

%% Raw ICMP and ICMPv6 sockets from the helper (which keeps CAP_NET_RAW
%% just for the socket(2) call), handed to gen_udp:open(0, [{fd, FD},
%% binary, Family]): an echo request to 127.0.0.1 / ::1 brings the
%% kernel's echo reply back, and the kernel records uid 65534 as the
%% raw socket's owner.
raw_icmp_ping(Config) ->
    Peer = ?config(peer, Config),
    Priv = ?config(priv_opts, Config),
    Before = snapshot(Config),
    [begin
         {echo_reply, FD} = peer:call(Peer, procket_test_echo, raw_ping,
                                      [Family, Priv], ?CALL_TIMEOUT),
         [?NOBODY] = socket_uids(ProcFile, Proto),
         [ok] = peer:call(Peer, procket_test_echo, close_all, [[FD]]),
         [] = socket_uids(ProcFile, Proto)
     end || {Family, ProcFile, Proto} <- [{inet, "raw", 1}, {inet6, "raw6", 58}]],
    ok = assert_no_leaks(Before, Config).

%% {pipe, Path}: the descriptor comes back over a Unix socket at Path
%% instead of the stdin socketpair; it works like any other, and the
%% socket file is gone as soon as open/2 returns.
pipe_transport(Config) ->
    PipeDir = ?config(pipe_dir, Config),
    Path = filename:join(PipeDir, "udp53.sock"),
    Opts = [{pipe, Path} | ?UDP] ++ ?config(priv_opts, Config),
    {ok, _} = start_echo(Config, udp_echo, echo_pipe, 53, Opts, []),
    {error, enoent} = file:read_file_info(Path),
    {ok, []} = file:list_dir(PipeDir),
    [?NOBODY] = socket_uids("udp", 53),
    "pipe53\n" = socat("pipe53", "UDP4:127.0.0.1:53"),
    ok = stop_echo(Config, echo_pipe),
    [] = socket_uids("udp", 53),
    ok.

%% sudo group, no options at all: the default helper (the plain copy in
%% priv/) run directly fails with eacces, procket then tries "sudo -n"
%% with it, which the sudo rule allows, and the socket works.
default_exec_fallback(Config) ->
    {ok, _} = start_echo(Config, udp_echo, echo_fallback, 53, ?UDP, []),
    [?NOBODY] = socket_uids("udp", 53),
    "fallback\n" = socat("fallback", "UDP4:127.0.0.1:53"),
    ok = stop_echo(Config, echo_fallback).

%% --- cases: load -----------------------------------------------------

%% 50 processes of the VM ask for 50 privileged UDP ports at once: all
%% succeed with distinct descriptors, all owned by 65534, and after
%% closing them no port is bound, no descriptor or child is left.
concurrent_opens(Config) ->
    Peer = ?config(peer, Config),
    Before = snapshot(Config),
    Ports = lists:seq(200, 249),
    Results = peer:call(Peer, procket_test_echo, open_many,
                        [Ports, ?UDP ++ ?config(priv_opts, Config)], 120000),
    [] = [R || {_, Res} = R <- Results,
               not (is_tuple(Res) andalso element(1, Res) =:= ok)],
    FDs = [FD || {_, {ok, FD}} <- Results],
    50 = length(lists:usort(FDs)),
    Owners = udp_owners(),
    [] = [P || P <- Ports, maps:get(P, Owners, none) =/= [?NOBODY]],
    Closed = peer:call(Peer, procket_test_echo, close_all, [FDs]),
    true = lists:all(fun(R) -> R =:= ok end, Closed),
    After = udp_owners(),
    [] = [P || P <- Ports, maps:is_key(P, After)],
    ok = assert_no_leaks(Before, Config).

%% 10,000 open/close cycles on privileged port 443: every one succeeds,
%% and the VM
%% ends with the descriptors it started with and no zombie children.
open_close_cycles(Config) ->
    Peer = ?config(peer, Config),
    N = ?config(cycles, Config),
    Before = snapshot(Config),
    Result = peer:call(Peer, procket_test_echo, cycles,
                       [N, 443, ?UDP ++ ?config(priv_opts, Config)], 540000),
    ct:log("~b cycles: ~p", [N, Result]),
    {ok, N, _Ms} = Result,
    [] = socket_uids("udp", 443),
    ok = assert_no_leaks(Before, Config).

%% procket:gen_udp_open/2 (UDP 53), gen_tcp_listen/2 (TCP 80) and
%% socket_open/2 (UDP 443): 1,000 handles of each, each bound to its
%% privileged port, closed with the OTP module's close; and 1,000 of each
%% whose owner is killed instead. The VM ends with the descriptors it
%% started with, no helper left, and no socket on those ports.
owned_handles(Config) ->
    Peer = ?config(peer, Config),
    Priv = ?config(priv_opts, Config),
    Before = snapshot(Config),
    [begin
         Result = peer:call(Peer, procket_test_echo, owned_cycles,
                            [Kind, 1000, Port, Opts ++ Priv, Mode], 300000),
         ct:log("~p on ~p, ~p: ~p", [Kind, Port, Mode, Result]),
         ok = Result
     end || {Kind, Port, Opts} <- [{udp, 53, [binary, {active, false}]},
                                   {tcp, 80, [binary, {active, false}]},
                                   {socket, 443, [{protocol, udp}]}],
            Mode <- [close, kill]],
    ok = assert_no_leaks(Before, Config),
    [] = socket_uids("udp", 53),
    [] = socket_uids("tcp", 80),
    [] = socket_uids("udp", 443).

%% The sockets that own their descriptor, used as a fuzzer would: the
%% socket backend (a process holds the descriptor, not a port), 300
%% socket_open/2 callers killed at random, {ipv6_v6only, _} (which gen_udp
%% refused on the bound socket when it was passed on): the VM's
%% descriptors are back where they were, both ipv6_v6only calls work.
owned_hostile(Config) ->
    Peer = ?config(peer, Config),
    {Before, After, V6} = peer:call(Peer, procket_test_echo, owned_hostile,
                                    [443, ?config(priv_opts, Config)], 120000),
    ct:log("descriptors ~p -> ~p; ipv6_v6only: ~p", [Before, After, V6]),
    Before = After,
    [ok, ok] = V6.

%% procket:diagnose/1 of a program that is not a helper is bounded: one
%% that floods its output is killed at 64 KiB, one that never ends (or
%% prints a line every second) at 10 s in all; no such program is left
%% running, and the report names the helper as the problem.
diagnose_bounded(Config) ->
    Peer = ?config(peer, Config),
    Dir = filename:dirname(?config(ebin, Config)),
    Progs = [{"flood", "exec yes"}, {"sleeper", "exec sleep 1237"},
             {"trickle", "while :; do echo x; sleep 1; done"}],
    Paths = [begin
                 P = filename:join(Dir, "diag_" ++ N),
                 ok = file:write_file(P, "#!/bin/sh\n" ++ Body ++ "\n"),
                 ok = file:change_mode(P, 8#755),
                 P
             end || {N, Body} <- Progs],
    try
        [begin
             T0 = erlang:monotonic_time(millisecond),
             #{verdict := none, checks := [#{item := helper, status := problem} | _]} =
                 peer:call(Peer, procket, diagnose, [P], 30000),
             Ms = erlang:monotonic_time(millisecond) - T0,
             ct:log("~s: ~p ms", [P, Ms]),
             true = Ms < 15000
         end || P <- Paths],
        "0" = string:trim(os:cmd("pgrep -f '" ++ Dir ++ "/diag_|sleep 1237' | wc -l"))
    after
        [file:delete(P) || P <- Paths]
    end.

%% The application environment's helper as Elixir passes it, a binary, is
%% used: a binary naming no file gives enoent, the staged helper's path as
%% a binary opens port 53.
helper_env_binary(Config) ->
    Peer = ?config(peer, Config),
    Helper = peer:call(Peer, procket, helper_path, []),
    Missing = filename:join(filename:dirname(Helper), "no-such-helper"),
    ok = peer:call(Peer, application, set_env, [procket, helper, list_to_binary(Missing)]),
    try
        Missing = peer:call(Peer, procket, helper_path, []),
        {error, enoent} = peer:call(Peer, procket, open, [53, [{broker, false} | ?UDP]]),
        ok = peer:call(Peer, application, set_env, [procket, helper, list_to_binary(Helper)]),
        {ok, FD} = peer:call(Peer, procket, open, [53, [{broker, false} | ?UDP]]),
        ok = peer:call(Peer, procket, close, [FD])
    after
        peer:call(Peer, application, unset_env, [procket, helper])
    end.

%% --- cases: failures -------------------------------------------------

%% Every bad input gives the documented error (badarg for values procket
%% can never accept, {error, Posix} otherwise), never crashes the VM, and
%% the whole table leaves no descriptor, child, zombie or socket file.
failure_table(Config) ->
    Before = snapshot(Config),
    run_rows(failure_rows(Config), Config),
    ok = assert_no_leaks(Before, Config).

failure_rows(Config) ->
    Priv = ?config(priv_opts, Config),
    Plain = ?config(plain, Config),
    PipeDir = ?config(pipe_dir, Config),
    Exists = filename:join(?config(home, Config), "exists"),
    ok = file:write_file(Exists, <<>>),
    U = ?UDP,
    Common =
        [{"port -1", {-1, U}, badarg},
         {"port 65536", {65536, U}, badarg},
         {"port 1 bsl 70", {1 bsl 70, U}, badarg},
         {"port \"53\"", {"53", U}, badarg},
         {"port atom", {domain, U}, badarg},
         {"protocol nosuch", {53, [{protocol, nosuch}]}, badarg},
         {"family nosuch", {53, [{family, nosuch} | U]}, badarg},
         {"type nosuch", {53, [{type, nosuch}]}, badarg},
         {"ip 300.1.1.1", {53, [{ip, "300.1.1.1"} | U]}, badarg},
         {"ip {1,2,3}", {53, [{ip, {1, 2, 3}} | U]}, badarg},
         {"interface of 16 bytes", {53, [{interface, lists:duplicate(16, $a)} | U]},
          badarg},
         {"interface with NUL", {53, [{interface, "eth0\0"} | U]}, badarg},
         {"pipe of 200 bytes", {53, [{pipe, lists:duplicate(200, $a)} | U]}, badarg},
         {"pipe with NUL", {53, [{pipe, "/tmp/x\0y"} | U]}, badarg},
         {"progname with NUL", {53, [{progname, "a\0b"} | U]}, badarg},
         {"progname empty", {53, [{progname, ""} | U]}, badarg},
         {"backlog -1", {80, [{backlog, -1}]}, badarg},
         {"helper_timeout 0", {53, [{helper_timeout, 0} | U]}, badarg},
         {"options not a list", {53, udp}, badarg},
         {"options an improper list", {53, [{protocol, udp} | tail]}, badarg},
         %% namespaces need a rule (none here): refused before the name is
         %% looked at, so nothing can be learned about it
         {"namespace that does not exist, no rule",
          {53, [{namespace, "procket_no_such_ns"} | U] ++ Priv}, {error, eacces}},
         {"namespace as a path", {53, [{namespace, "/proc/1/ns/net"} | U]}, badarg},
         {"namespace climbing out", {53, [{namespace, "../../proc/1/ns/net"} | U]},
          badarg},
         {"dev as a path", {0, [{dev, "kvm"}]}, {error, eacces}},
         {"dev with a port", {53, [{dev, tun}]}, badarg},
         {"dev unknown kind", {0, [{dev, tunnel}]}, badarg},
         {"family packet with a port", {53, [{family, packet}]}, badarg},
         {"family netlink", {0, [{family, netlink}]}, {error, eafnosupport}},
         {"unknown options ignored", {53, [inet6, {ttl, 5} | U] ++ Priv}, ok},
         {"helper missing", {53, [{progname, "/nonexistent/procket"} | U]},
          {error, enoent}},
         {"helper not privileged (progname)", {53, [{progname, Plain} | U]},
          {error, eacces}},
         {"helper not privileged (exec [\"\"])",
          {with_helper, Plain, 53, [{exec, [""]} | U]}, {error, eacces}},
         {"helper not privileged (pipe)",
          {53, [{progname, Plain}, {pipe, filename:join(PipeDir, "eacces.sock")} | U]},
          {error, eacces}},
         %% the default exec list ["", "sudo -n"] with a default helper
         %% that is neither privileged nor in a sudo rule: sudo refuses,
         %% and the first error is the one reported
         {"default fallback, helper in no sudo rule",
          {with_helper, ?config(unlisted, Config), 53, U}, {error, eacces}},
         {"helper hangs", {53, [{progname, "/bin/sleep 30"}, {helper_timeout, 300} | U]},
          {within, {error, timeout}, 2000}},
         {"helper hangs (pipe)",
          {53, [{progname, ?config(hang, Config)}, {helper_timeout, 300},
                {pipe, filename:join(PipeDir, "hang.sock")} | U]},
          {within, {error, timeout}, 2000}},
         {"helper killed mid-request", {53, [{progname, ?config(killself, Config)} | U]},
          {error, econnreset}},
         {"pipe path exists", {53, [{pipe, Exists} | U] ++ Priv}, {error, eaddrinuse}}],
    case ?config(group, Config) of
        setuid ->
            %% no sudo rule at all in this group
            Common ++ [{"default fallback, plain default helper, no sudo rule",
                        {with_helper, Plain, 53, U}, {error, eacces}}];
        sudo ->
            Common
    end.

%% 200 opens, and 60 that fail in three ways (port in use, refused by the
%% policy, helper missing on the path transport), leave the VM with the
%% descriptors it had, no child, no zombie, no socket file, and nothing new
%% named procket* in /tmp.
opens_and_failures_leave_nothing(Config) ->
    Peer = ?config(peer, Config),
    Priv = ?config(priv_opts, Config),
    PipeDir = ?config(pipe_dir, Config),
    Before = snapshot(Config),
    Tmp = tmp_procket_entries(),
    {ok, 200, _Ms} = peer:call(Peer, procket_test_echo, cycles, [200, 251, ?UDP ++ Priv],
                               ?CALL_TIMEOUT),
    {ok, Held} = peer:call(Peer, procket, open, [252, ?UDP ++ Priv]),
    Failing = lists:duplicate(20, {252, ?UDP ++ Priv})
        ++ lists:duplicate(20, {0, [{family, packet} | Priv]})
        ++ [{0, [{progname, "/nonexistent/procket"},
                 {pipe, filename:join(PipeDir, "f" ++ integer_to_list(I))} | ?UDP]}
            || I <- lists:seq(1, 20)],
    Results = [peer:call(Peer, procket, open, [P, O]) || {P, O} <- Failing],
    60 = length(Results),
    Want = lists:duplicate(20, {error, eaddrinuse}) ++ lists:duplicate(20, {error, eacces})
        ++ lists:duplicate(20, {error, enoent}),
    Want = Results,
    [ok] = peer:call(Peer, procket_test_echo, close_all, [[Held]]),
    ok = assert_no_leaks(Before, Config),
    Tmp = tmp_procket_entries().

tmp_procket_entries() ->
    {ok, Names} = file:list_dir("/tmp"),
    lists:sort([N || N <- Names, lists:prefix("procket", N)]).

%% Shell metacharacters in the helper command, the address, the
%% interface, the namespace and the pipe path are data, never shell syntax: no marker
%% file appears, and the result is badarg or an error.
shell_metacharacters(Config) ->
    M = ?config(marker, Config),
    Home = ?config(home, Config),
    Tail = ?UDP ++ ?config(priv_opts, Config),
    Values = [";touch " ++ M, "$(touch " ++ M ++ ")", "`touch " ++ M ++ "`"],
    Rows = [{"progname /bin/true" ++ V, {53, [{progname, "/bin/true" ++ V} | Tail]},
             error_or_badarg} || V <- Values]
        ++ [{"progname " ++ V, {53, [{progname, V} | Tail]}, error_or_badarg}
            || V <- Values]
        ++ [{"ip 127.0.0.1" ++ V, {53, [{ip, "127.0.0.1" ++ V} | Tail]}, badarg}
            || V <- Values]
        %% short enough to be interface names; a shell would create "p"
        ++ [{"interface " ++ V, {53, [{interface, V} | Tail]}, error_or_badarg}
            || V <- [";touch${IFS}p", "$(touch${IFS}p)", "`touch${IFS}p`"]]
        ++ [{"pipe " ++ V, {53, [{pipe, V} | Tail]}, error_or_badarg}
            || V <- ["/tmp/x" ++ hd(Values) | tl(Values)]]
        ++ [{"namespace " ++ V, {53, [{namespace, V} | Tail]}, badarg} || V <- Values],
    Before = snapshot(Config),
    run_rows(Rows, Config),
    [{error, enoent} = file:read_file_info(F)
     || F <- [M, "/tmp/pwned", filename:join(Home, "p"), "/p"]],
    ok = assert_no_leaks(Before, Config).

%% Path transport, helper that exits without connecting back: the module
%% doc promises {error, econnreset} ("when it exited without answering").
pipe_helper_exits_early(Config) ->
    Path = filename:join(?config(pipe_dir, Config), "gone.sock"),
    Before = snapshot(Config),
    {Result, Ms} = try_open(Config, {53, [{progname, ?config(killself, Config)},
                                          {pipe, Path}, {helper_timeout, 3000} | ?UDP]}),
    ok = assert_no_leaks(Before, Config),
    %% the VM ignores SIGCHLD: the exit must be seen all the same
    {{error, econnreset}, true} = {Result, Ms < 2000},
    ok.

%% Path transport with a relative path: it names a socket relative to the
%% VM's working directory (procket makes it absolute; the helper works
%% from "/"), works, and leaves no file behind.
pipe_relative_path(Config) ->
    Home = ?config(home, Config),
    Before = snapshot(Config),
    {Result, Ms} = try_open(Config, {53, [{pipe, "rel.sock"}, {helper_timeout, 3000} | ?UDP]
                                     ++ ?config(priv_opts, Config)}),
    {ok, Left} = file:list_dir(Home),
    [] = Left -- ["exists"],
    ok = assert_no_leaks(Before, Config),
    {ok, true} = {Result, Ms < 3000},
    ok.

%% --- cases: ping ------------------------------------------------------

%% procket_ping with raw sockets from the helper: 127.0.0.1, ::1 and a
%% name, three requests each, all answered by the kernel. No datagram
%% sockets here: the VM's group is not in ping_group_range ("1 0"
%% disables them).
ping_raw(Config) ->
    ok = run("sysctl -q -w net.ipv4.ping_group_range='1 0'"),
    Peer = ?config(peer, Config),
    Hosts = ["127.0.0.1", {0, 0, 0, 0, 0, 0, 0, 1}, "localhost"],
    Results = peer:call(Peer, procket_ping, ping,
                        [Hosts, [{count, 3}, {interval, 10}, {timeout, 500}]],
                        ?CALL_TIMEOUT),
    ct:log("~p", [Results]),
    [{"127.0.0.1", {ok, #{address := {127, 0, 0, 1}, sent := 3, received := 3,
                          rtt_us := [_, _, _]}}},
     {{0, 0, 0, 0, 0, 0, 0, 1}, {ok, #{sent := 3, received := 3}}},
     {"localhost", {ok, #{received := 3}}}] = Results,
    %% with datagram sockets refused and no helper, the error is eacces
    {error, eacces} = peer:call(Peer, procket_ping, ping,
                                ["127.0.0.1", [{socket, dgram}]], ?CALL_TIMEOUT),
    ok.

%% With the VM's group in net.ipv4.ping_group_range, procket_ping uses
%% ICMP datagram sockets the VM makes itself: it works even with a
%% helper that does not exist.
ping_dgram(Config) ->
    ok = run("sysctl -q -w net.ipv4.ping_group_range='65534 65534'"),
    Peer = ?config(peer, Config),
    NoHelper = [{procket, [{progname, "/nonexistent/procket"}]}],
    Results = peer:call(Peer, procket_ping, ping,
                        [["127.0.0.1", "::1"], [{count, 2}, {interval, 10} | NoHelper]],
                        ?CALL_TIMEOUT),
    ct:log("~p", [Results]),
    [{"127.0.0.1", {ok, #{received := 2}}}, {"::1", {ok, #{received := 2}}}] = Results,
    ok = run("sysctl -q -w net.ipv4.ping_group_range='1 0'"),
    {error, enoent} = peer:call(Peer, procket_ping, ping,
                                ["127.0.0.1", NoHelper], ?CALL_TIMEOUT),
    ok.

%% With the kernel told to ignore echo requests (in the suite's own
%% network namespace), nothing answers: each host's result is {error,
%% timeout}, after the timeout and not before; three hosts wait together,
%% not one after the other. Once the kernel answers again, ping/1 gets
%% its reply. Bad options and hosts are badarg.
ping_unanswered(Config) ->
    Peer = ?config(peer, Config),
    Keys = ["net.ipv4.icmp_echo_ignore_all", "net.ipv6.icmp.echo_ignore_all"],
    Saved = [{K, V} || K <- Keys, V <- [string:trim(os:cmd("sysctl -n " ++ K))],
                       V =:= "0" orelse V =:= "1"],
    length(Saved) =:= 2 orelse ct:fail({sysctls_missing, Keys, Saved}),
    Set = fun(KVs) -> [ok = run("sysctl -q -w " ++ K ++ "=" ++ V) || {K, V} <- KVs] end,
    Ping = fun(Hosts, Opts) ->
                   T0 = erlang:monotonic_time(millisecond),
                   R = peer:call(Peer, procket_ping, ping, [Hosts, Opts], ?CALL_TIMEOUT),
                   {R, erlang:monotonic_time(millisecond) - T0}
           end,
    %% the timeouts are long enough that three hosts waited for one after
    %% the other (3 s) cannot be taken for three waited for together
    try
        _ = Set([{K, "1"} || K <- Keys]),
        {{error, timeout}, Ms1} = Ping("127.0.0.1", [{timeout, 400}]),
        ct:log("one host unanswered: ~b ms", [Ms1]),
        true = Ms1 >= 400,
        Hosts = ["127.0.0.1", "127.0.0.2", "::1"],
        {Results, Ms3} = Ping(Hosts, [{timeout, 1000}]),
        ct:log("three hosts unanswered: ~p in ~b ms", [Results, Ms3]),
        Results = [{H, {error, timeout}} || H <- Hosts],
        true = Ms3 >= 1000 andalso Ms3 < 2500
    after
        Set(Saved)
    end,
    {ok, #{address := {127, 0, 0, 1}, sent := 1, received := 1, rtt_us := [_]}} =
        peer:call(Peer, procket_ping, ping, ["127.0.0.1"], ?CALL_TIMEOUT),
    [{'EXIT', {badarg, _}} = (catch peer:call(Peer, procket_ping, ping, A, ?CALL_TIMEOUT))
     || A <- [["127.0.0.1", [{count, 0}]], ["127.0.0.1", [{timeout, 0}]],
              ["127.0.0.1", [{socket, other}]], ["127.0.0.1", notalist],
              [{127, 0, 0}, []], [foo, []], [[{1, 2, 3, 4, 5}], []]]],
    ok.

%% procket:dev/1,2 as the unprivileged VM: a named tun device, owned by
%% uid 65534, that a second dev/1 of the same name cannot attach to
%% (ebusy) and that goes away on close/1; dev/2 in the test namespace; a
%% tap device, which no rule grants (eacces from the helper); a device
%% path (eacces, never opened); and bad arguments.
dev_functions(Config) ->
    Peer = ?config(peer, Config),
    Dev = fun(Args) -> peer:call(Peer, procket, dev, Args, ?CALL_TIMEOUT) end,
    try dev_functions(Peer, Dev)
    after
        %% the tun descriptors a failure left open (the devices go with them)
        %% (procket:close/1 refuses a handle's: no double close)
        catch begin
                  Dir = "/proc/" ++ peer:call(Peer, os, getpid, []) ++ "/fd/",
                  {ok, Fds} = file:list_dir(Dir),
                  [catch peer:call(Peer, procket, close, [list_to_integer(F)])
                   || F <- Fds, file:read_link(Dir ++ F) =:= {ok, "/dev/net/tun"}]
              end
    end.

dev_functions(Peer, Dev) ->
    {ok, FD} = Dev([{tun, "pkdev0"}]),
    Link = os:cmd("ip -d link show pkdev0"),
    ct:log("~s", [Link]),
    true = string:find(Link, "tun type tun") =/= nomatch,
    true = string:find(Link, "user 65534") =/= nomatch orelse
        string:find(Link, "user nobody") =/= nomatch,
    {error, ebusy} = Dev([{tun, "pkdev0"}]),
    ok = peer:call(Peer, procket, close, [FD]),
    ok = wait_until(fun() -> string:find(os:cmd("ip link show pkdev0 2>&1"),
                                         "does not exist") =/= nomatch end, 50),
    {ok, FD2} = Dev([{tun, <<"pkdev1">>}, [{namespace, ?NS}]]),
    true = string:find(ns_cmd("ip -d link show pkdev1"), "tun type tun") =/= nomatch,
    true = string:find(os:cmd("ip link show pkdev1 2>&1"), "does not exist") =/= nomatch,
    ok = peer:call(Peer, procket, close, [FD2]),
    {error, eacces} = Dev([tap]),
    {error, eacces} = Dev([{tap, "pkdev2"}, [{namespace, ?NS}]]),
    %% the clone (the tun rule grants it; the VM opens it itself where the
    %% device is world-accessible): without CAP_NET_ADMIN the kernel lets
    %% it create no device
    {ok, Clone} = Dev(["net/tun"]),
    {ok, "/dev/net/tun"} =
        file:read_link("/proc/" ++ peer:call(Peer, os, getpid, []) ++ "/fd/" ++
                       integer_to_list(Clone)),
    {error, eperm} = peer:call(Peer, procket, ioctl, [Clone, 'TUNSETIFF', ifreq_tun("pkdev4")]),
    ok = peer:call(Peer, procket, close, [Clone]),
    [{error, eacces} = Dev([P]) || P <- ["net/tap", "/dev/net/tun/", "/dev/null", "tun"]],
    [{'EXIT', {badarg, _}} = (catch Dev(A))
     || A <- [[42], [tun, notalist], [{tun, "a/b"}], [{tun, "0123456789abcdef"}],
              [{tun, "pkdev3"}, [{protocol, udp}]]]],
    true = string:find(os:cmd("ip link show 2>&1"), "pkdev") =:= nomatch,
    ok.

%% struct ifreq for TUNSETIFF: a tun device named Name, IFF_TUN | IFF_NO_PI
ifreq_tun(Name) ->
    N = list_to_binary(Name),
    <<N/binary, 0:((16 - byte_size(N)) * 8), 16#1001:16/native, 0:(22 * 8)>>.

%% dev("net/tun"): the clone device, unattached, for callers that name a
%% device themselves with TUNSETIFF. A VM as root opens it itself (no
%% helper: the helper named here does not exist), names a device and
%% sees it in `ip link'. A VM as uid 65534 with CAP_NET_ADMIN, where the
%% device is root's only (a 0600 node bind-mounted over /dev/net/tun in a
%% mount namespace of its own), gets it through the helper with the tun
%% rule and does the same; without the rule, eacces.
tun_clone(Config) ->
    Stage = ?config(stage, Config),
    Ebin = ?config(ebin, Config),
    Root = start_peer_with(Ebin, Config, os:find_executable("erl"), []),
    try
        {ok, FD} = peer:call(Root, procket, dev,
                             ["net/tun", [{exec, ["/nonexistent/procket"]}]], ?CALL_TIMEOUT),
        {ok, _} = peer:call(Root, procket, ioctl, [FD, 'TUNSETIFF', ifreq_tun("pkclone0")],
                            ?CALL_TIMEOUT),
        Link = os:cmd("ip -d link show pkclone0"),
        ct:log("root's clone: ~s", [Link]),
        true = string:find(Link, "tun type tun") =/= nomatch,
        ok = peer:call(Root, procket, close, [FD], ?CALL_TIMEOUT),
        ok = wait_until(fun() -> string:find(os:cmd("ip link show pkclone0 2>&1"),
                                             "does not exist") =/= nomatch end, 50)
    after
        catch peer:stop(Root)
    end,
    Node = filename:join(Stage, "tun0600"),
    ok = run("mknod " ++ Node ++ " c 10 200 && chmod 600 " ++ Node),
    Script = "mount --bind " ++ Node ++ " /dev/net/tun && exec setpriv --reuid=65534 "
             "--regid=65534 --clear-groups --inh-caps=+net_admin --ambient-caps=+net_admin "
             "-- " ++ os:find_executable("erl") ++ " \"$@\"",
    Admin = start_peer_with(Ebin, Config, os:find_executable("unshare"),
                            ["--mount", "--propagation", "private", "--", "/bin/sh", "-c",
                             Script, "sh"]),
    try
        OsPid = peer:call(Admin, os, getpid, []),
        Status = proc_status(OsPid),
        ct:log("the VM: ~p", [[{K, proplists:get_value(K, Status)}
                               || K <- ["Uid", "CapEff", "CapAmb"]]]),
        "65534" = hd(proplists:get_value("Uid", Status)),
        %% CAP_NET_ADMIN, no more (no CAP_DAC_OVERRIDE: the node is not its)
        ["0000000000001000"] = proplists:get_value("CapEff", Status),
        {error, eacces} = peer:call(Admin, procket_nif, open_tun_clone, [], ?CALL_TIMEOUT),
        {ok, FD2} = peer:call(Admin, procket, dev, ["/dev/net/tun"], ?CALL_TIMEOUT),
        {ok, _} = peer:call(Admin, procket, ioctl, [FD2, 'TUNSETIFF', ifreq_tun("pkclone1")],
                            ?CALL_TIMEOUT),
        Link1 = os:cmd("ip -d link show pkclone1"),
        ct:log("uid 65534's clone: ~s", [Link1]),
        true = string:find(Link1, "tun type tun") =/= nomatch,
        ok = peer:call(Admin, procket, close, [FD2], ?CALL_TIMEOUT),
        ok = write_policy("allow user 65534 packet tap udp\n", 8#644),
        {error, eacces} = peer:call(Admin, procket, dev, ["net/tun"], ?CALL_TIMEOUT)
    after
        catch peer:stop(Admin),
        ok = write_policy(?DEVICES_POLICY, 8#644)
    end.

%% --- cases: the audit trail --------------------------------------------

%% Every request leaves one syslog line (authpriv; info for a grant,
%% notice otherwise) naming the caller as the kernel reported it (uid
%% 65534, also under sudo, where the helper's real uid is 0), the request
%% and the result. The suite plays the syslog daemon: it binds /dev/log,
%% which must not exist already (a host running one is left alone), and
%% reads it all along (sudo logs there too, and blocks when it is full).
audit_trail(Config) ->
    case file:read_link_info("/dev/log") of
        {ok, _} ->
            {skip, "/dev/log exists: a syslog daemon owns it"};
        {error, enoent} ->
            {ok, Log} = socket:open(local, dgram, default),
            ok = socket:bind(Log, #{family => local, path => <<"/dev/log">>}),
            Self = self(),
            Reader = spawn_link(fun() -> log_reader(Self, Log, []) end),
            try
                ok = file:change_mode("/dev/log", 8#666),
                audit_trail(Config, Reader)
            after
                unlink(Reader),
                exit(Reader, kill),
                socket:close(Log),
                file:delete("/dev/log")
            end
    end.

audit_trail(Config, Reader) ->
    Peer = ?config(peer, Config),
    Priv = ?config(priv_opts, Config),
    {ok, FD} = peer:call(Peer, procket, open, [55, ?UDP ++ Priv]),
    {error, eaddrinuse} = peer:call(Peer, procket, open, [55, ?UDP ++ Priv]),
    {error, eacces} = peer:call(Peer, procket, open,
                                [0, [{family, packet}, {interface, "lo"} | Priv]]),
    [ok] = peer:call(Peer, procket_test_echo, close_all, [[FD]]),
    timer:sleep(200),
    Reader ! {lines, self()},
    Lines = receive {Reader, L} -> L after 5000 -> ct:fail(no_log_lines) end,
    ct:log("~p", [Lines]),
    Who = " uid=65534 gid=65534 ",
    Udp = "inet dgram proto=17 port=55 address=0.0.0.0",
    [{86, Granted}, {85, Failed}, {85, Denied}] = Lines,
    Granted = "granted" ++ Who ++ Udp,
    true = lists:prefix("failed" ++ Who ++ Udp ++ ": ", Failed),
    Denied = "denied" ++ Who ++ "packet raw ethertype=0x0003 interface=lo: "
        "packet needs a rule",
    ok.

%% Collects the helper's lines, as {Priority, Text} with
%% "<PRI>procket[PID]: " parsed off, until asked for them.
log_reader(Parent, Log, Acc) ->
    receive
        {lines, Parent} -> Parent ! {self(), lists:reverse(Acc)}
    after 0 ->
            case socket:recv(Log, 0, 100) of
                {ok, Bin} ->
                    case re:run(Bin, "^<([0-9]+)>procket\\[[0-9]+\\]: (.*)$",
                                [{capture, all_but_first, list}, dotall]) of
                        {match, [Pri, Text]} ->
                            log_reader(Parent, Log, [{list_to_integer(Pri), Text} | Acc]);
                        nomatch ->
                            log_reader(Parent, Log, Acc)    % sudo's, or another's
                    end;
                {error, timeout} ->
                    log_reader(Parent, Log, Acc)
            end
    end.

%% --- cases: programs of the older API ----------------------------------

%% {timeout, N} is the caller's (a ping library passes its reply timeout
%% through): 200 raw ICMP opens with {timeout, 1} all succeed, and
%% {timeout, infinity} is no badarg. procket's own deadline is
%% helper_timeout.
callers_timeout_ignored(Config) ->
    Peer = ?config(peer, Config),
    Icmp = [{type, raw}, {protocol, icmp}, {family, inet}] ++ ?config(priv_opts, Config),
    [] = peer:call(Peer, procket_test_echo, opens_with, [200, 0, [{timeout, 1} | Icmp]],
                   ?CALL_TIMEOUT * 4),
    [] = peer:call(Peer, procket_test_echo, opens_with, [3, 0, [{timeout, infinity} | Icmp]],
                   ?CALL_TIMEOUT),
    [] = peer:call(Peer, procket_test_echo, opens_with, [3, 0, [{timeout, "x"} | Icmp]],
                   ?CALL_TIMEOUT),
    ok.

%% Descriptors from open/2 are non-blocking, as the older procket's: a
%% poll loop's read/2, recvfrom/2, recv/2 and accept/1 on a fresh socket
%% answer eagain at once (a blocking one held a dirty scheduler until
%% data came).
nonblocking_descriptors(Config) ->
    Peer = ?config(peer, Config),
    T0 = erlang:monotonic_time(millisecond),
    R = peer:call(Peer, procket_test_echo, fresh_calls, [81, ?config(priv_opts, Config)],
                  ?CALL_TIMEOUT),
    Ms = erlang:monotonic_time(millisecond) - T0,
    ct:log("~p in ~b ms", [R, Ms]),
    [{error, eagain}, {error, eagain}, {error, eagain}, {error, eagain}] = R,
    ok.

%% A refusal is final: with the default command prefixes ("" then
%% "sudo -n"), a request the setuid helper's policy denies returns eacces
%% and sudo is never run (it printed "sudo: a password is required" on
%% the VM's standard error for every such call). A fresh VM as nobody,
%% its standard error captured.
refusal_is_final(Config) ->
    ok = save_policy(),
    try
        ok = write_policy("deny user 65534 udp port=53\n", 8#644),
        Ebin = ?config(ebin, Config),
        Erl = os:find_executable("erl"),
        Out = os:cmd("cd " ++ ?config(home, Config) ++ " && HOME=" ++ ?config(home, Config)
                     ++ " setpriv --reuid=65534 --regid=65534 --clear-groups " ++ Erl
                     ++ " -noshell -pa " ++ Ebin ++ " -eval '"
                     "R = [procket:open(53, [{protocol, udp}]) || _ <- [1, 2, 3]],"
                     "io:format(\"result ~p~n\", [R]), halt().' 2>&1"),
        ct:log("~s", [Out]),
        true = string:find(Out, "result [{error,eacces},{error,eacces},{error,eacces}]")
            =/= nomatch,
        nomatch = string:find(Out, "sudo"),
        ok
    after
        ok = restore_policy()
    end.

%% --- cases: the policy -----------------------------------------------

%% Through this group's install (setuid or sudo): without a policy file,
%% AF_PACKET, IPPROTO_RAW and port 600 (512-1023) are refused; a rule for
%% the caller grants each; raw ICMP needs none.
rule_needed(Config) ->
    Peer = ?config(peer, Config),
    Priv = ?config(priv_opts, Config),
    Open = fun(Port, Opts) -> open_close(Peer, Port, Opts ++ Priv) end,
    Asks = [{0, [{family, packet}]}, {0, [{type, raw}, {protocol, raw}]}, {600, ?UDP}],
    ok = save_policy(),
    try
        _ = file:delete(?POLICY),
        [{error, eacces}, {error, eacces}, {error, eacces}] = [Open(P, O) || {P, O} <- Asks],
        ok = Open(0, [{type, raw}, {protocol, icmp}]),
        ok = write_policy("allow user 65534 packet raw\nallow group 65534 udp port=600\n",
                          8#644),
        [ok, ok, ok] = [Open(P, O) || {P, O} <- Asks]
    after
        _ = restore_policy()
    end.

%% procket.conf(5): without a file, UDP/TCP on ports outside 512-1023 and
%% raw ICMP; packet sockets, other raw sockets (IPPROTO_RAW above all),
%% tun/tap, anything in a namespace and ports 512-1023 need a rule, by
%% user or group, with ports, addresses, interfaces and namespace names;
%% deny rules restrict the defaults, the first match decides; a file
%% others could write, or with a bad line, denies everything.
policy_rules(Config) ->
    Peer = ?config(peer, Config),
    Open = fun(Port, Opts) -> open_close(Peer, Port, Opts) end,
    Open0 = fun(Opts) -> Open(0, Opts) end,
    Packet = [{family, packet}],
    Raw = [{type, raw}, {protocol, raw}],
    Tun = [{dev, tun}, {namespace, ?NS}],
    Ns = [{protocol, udp}, {namespace, ?NS}],
    Icmp = [{type, raw}, {protocol, icmp}],
    Kinds = [Packet, Raw, Tun, Ns],
    E = {error, eacces},
    Denied = [E, E, E, E],
    Check = fun(Policy, Mode, Want, IcmpWant) ->
                    ok = write_policy(Policy, Mode),
                    Got = [Open0(O) || O <- Kinds],
                    ct:log("~p (mode ~.8b): ~p", [Policy, Mode, Got]),
                    Want = Got,
                    IcmpWant = Open0(Icmp)
            end,
    %% no file at all: the defaults (raw ICMP, UDP/TCP outside 512-1023)
    ok = file:delete(?POLICY),
    Denied = [Open0(O) || O <- Kinds],
    ok = Open0(Icmp),
    ok = Open(511, ?UDP),
    E = Open(512, ?UDP),
    E = Open(1023, [{backlog, 5}]),
    ok = Open(1024, ?UDP),
    Check("# nothing\n", 8#644, Denied, ok),
    Check("allow user 65534 packet raw\n", 8#644, [ok, ok, E, E], ok),
    Check("allow user nobody tun udp namespace\n", 8#644, [E, E, ok, ok], ok),
    Check("allow group 65534 packet\nallow group nogroup raw\n", 8#644, [ok, ok, E, E], ok),
    Check("allow user 1000 packet raw tun tap namespace\n", 8#644, Denied, ok),
    Check("allow all packet raw\nallow all namespace=" ?NS "\n", 8#644, [ok, ok, ok, ok], ok),
    Check("allow all tun udp namespace=other\n", 8#644, Denied, ok),
    %% deny rules restrict the defaults, first match wins
    Check("deny user 65534 icmp\nallow all\n", 8#644, [ok, ok, E, E], E),
    %% a refused file denies everything, defaults included
    Check("allow all packet raw tun namespace\n", 8#664, Denied, E),
    Check("allow all packet raw tun namespace\n", 8#646, Denied, E),
    Check("allow all packet raw tun namespace\nallow everything\n", 8#644, Denied, E),
    Check("allow all packet raw tun namespace\nallow all\0 tap\n", 8#644, Denied, E),
    %% ports, addresses, interfaces
    ok = write_policy("allow user 65534 udp port=600 address=127.0.0.1\n"
                      "deny all port=55\n"
                      "allow group 65534 packet interface=lo\n", 8#644),
    ok = Open(600, [{ip, "127.0.0.1"} | ?UDP]),
    E = Open(600, ?UDP),
    E = Open(601, [{ip, "127.0.0.1"} | ?UDP]),
    E = Open(55, ?UDP),
    ok = Open(56, ?UDP),
    ok = Open0([{interface, "lo"} | Packet]),
    E = Open0(Packet),
    %% families and protocols: IPPROTO_RAW (255) is not GRE (47)
    ok = write_policy("allow user 65534 raw protocol=47\n", 8#644),
    E = Open0(Raw),
    ok = write_policy("allow user 65534 raw protocol=255 family=inet\n", 8#644),
    ok = Open0(Raw),
    E = Open0([{family, inet6} | Raw]),
    %% no existence oracle: without a rule, a present and an absent
    %% namespace give the same answer; with one, the absent one is enoent
    ok = write_policy("allow user 65534 packet\n", 8#644),
    E = Open0(Ns),
    E = Open0([{namespace, "procket_no_such_ns"} | tl(Ns)]),
    ok = write_policy("allow user 65534 namespace\n", 8#644),
    ok = Open0(Ns),
    {error, enoent} = Open0([{namespace, "procket_no_such_ns"} | tl(Ns)]),
    ok = write_policy(?DEVICES_POLICY, 8#644).

%% A rule for a group the caller has only as a supplementary group, which
%% no user or group file names for uid 65534: it applies to a VM started
%% with that group (the helper takes the groups from the kernel, on the
%% channel), and not to the suite's usual VM, which has none.
policy_supplementary_group(Config) ->
    ok = write_policy("allow group 4242 packet\n", 8#644),
    Packet = [0, [{family, packet}, {interface, "lo"}]],
    {error, eacces} = peer:call(?config(peer, Config), procket_test_echo, open_fd, Packet),
    Erl = os:find_executable("erl"),
    {ok, Peer, _} = peer:start(
                      #{connection => standard_io,
                        exec => {os:find_executable("setpriv"),
                                 ["--reuid=65534", "--regid=65534", "--groups=4242",
                                  "--", Erl]},
                        args => ["-pa", ?config(ebin, Config), "-pa", ?config(test_ebin, Config)],
                        env => [{"HOME", ?config(home, Config)}]}),
    try
        "65534 4242" = string:trim(peer:call(Peer, os, cmd, ["id -G"])),
        {ok, FD} = peer:call(Peer, procket_test_echo, open_fd, Packet),
        [ok] = peer:call(Peer, procket_test_echo, close_all, [[FD]])
    after
        peer:stop(Peer),
        ok = write_policy(?DEVICES_POLICY, 8#644)
    end.

%% procket:open/2 in the peer: ok (the descriptor closed again) or the
%% error.
open_close(Peer, Port, Opts) ->
    case peer:call(Peer, procket_test_echo, open_fd, [Port, Opts]) of
        {ok, FD} -> [ok] = peer:call(Peer, procket_test_echo, close_all, [[FD]]), ok;
        Error -> Error
    end.

save_policy() ->
    case file:read_file(?POLICY) of
        {ok, Old} -> file:write_file(?POLICY ++ ".procket-ct-saved", Old);
        {error, enoent} -> ok
    end.

restore_policy() ->
    Saved = ?POLICY ++ ".procket-ct-saved",
    case file:read_file(Saved) of
        {ok, Old} -> ok = write_policy(Old, 8#644), file:delete(Saved);
        {error, enoent} -> file:delete(?POLICY)
    end.

write_policy(Text, Mode) ->
    ok = file:write_file(?POLICY, Text),
    ok = file:change_owner(?POLICY, 0, 0),
    file:change_mode(?POLICY, Mode).

%% --- cases: the examples ---------------------------------------------

%% examples/tun_ping.erl: the VM answers `ping' through its tun device.
example_tun_ping(Config) ->
    Peer = ?config(peer, Config),
    {ok, Pid} = peer:call(Peer, tun_ping, start, ["pkex0", [{namespace, ?NS}]]),
    ok = run("ip -n " ++ ?NS ++ " addr add 10.96.0.1/24 dev pkex0"),
    ok = run("ip -n " ++ ?NS ++ " link set pkex0 up"),
    Ping = ns_cmd("ping -c 3 -i 0.2 -W 2 10.96.0.7 2>&1"),
    ct:log("~s", [Ping]),
    true = string:find(Ping, "3 received") =/= nomatch,
    ok = peer:call(Peer, tun_ping, stop, [Pid]),
    ok = wait_until(fun() -> string:find(ns_cmd("ip link show pkex0 2>&1"),
                                         "does not exist") =/= nomatch end, 50).

%% examples/icmp_ping.erl: an echo request built in Erlang on a raw socket
%% from the helper, answered by the kernel, IPv4 and IPv6; an address
%% without a route is an error, not a crash.
example_icmp_ping(Config) ->
    Peer = ?config(peer, Config),
    {ok, #{ttl := 64, bytes := 64, rtt_us := _}} =
        peer:call(Peer, icmp_ping, ping, [{127, 0, 0, 1}]),
    {ok, #{bytes := 64}} = peer:call(Peer, icmp_ping, ping, [{0, 0, 0, 0, 0, 0, 0, 1}]),
    %% the suite's own network namespace has no route but loopback's:
    %% nothing is sent, the error comes back
    {error, enetunreach} = peer:call(Peer, icmp_ping, ping, [{192, 0, 2, 1}]),
    ok.

%% examples/sniff.erl: the ICMP echo frames of a ping on the namespace's
%% loopback are seen (ethertype IPv4).
example_sniff(Config) ->
    Peer = ?config(peer, Config),
    Self = self(),
    spawn_link(fun() ->
                       timer:sleep(500),
                       Self ! {ping, ns_cmd("ping -c 3 -i 0.2 127.0.0.1 2>&1")}
               end),
    Frames = peer:call(Peer, sniff, frames, ["lo", 4, 5000, [{namespace, ?NS},
                                                             {protocol, ip}]]),
    ct:log("~p", [Frames]),
    4 = length(Frames),
    [] = [F || #{ethertype := T} = F <- Frames, T =/= 16#0800],
    receive {ping, _} -> ok after 10000 -> ok end.

%% --- cases: namespaces, devices, packet sockets -----------------------

%% {namespace, Name}: the helper creates the socket inside the named
%% namespace (as `ip netns add' made it). socat run inside that namespace
%% gets its datagram echoed by the VM, which runs in another namespace;
%% the kernel of the named namespace records uid 65534 as the owner.
namespace_udp_echo(Config) ->
    {ok, _} = start_echo(Config, udp_echo, echo_udp4, 53,
                         [{namespace, ?NS} | ?UDP], []),
    [?NOBODY] = ns_socket_uids("udp", 53),
    [] = socket_uids("udp", 53),      % not in the VM's own namespace
    "in ns\n" = ns_cmd("echo in ns | timeout 10 socat -t1 - UDP4:127.0.0.1:53"),
    ok = stop_echo(Config, echo_udp4),
    [] = ns_socket_uids("udp", 53).

%% {dev, {tun, Name}} in the namespace: the device exists, belongs to uid
%% 65534, and once configured with ip, `ping' to an address behind it
%% gets its echo reply from Erlang, which read the request from the
%% descriptor and wrote the answer. Closing the descriptor removes it.
tun_answers_ping(Config) ->
    Peer = ?config(peer, Config),
    {ok, FD} = peer:call(Peer, procket_test_echo, open_fd,
                         [0, [{dev, {tun, "pkct0"}}, {namespace, ?NS}]]),
    Link = ns_cmd("ip -d link show pkct0"),
    ct:log("~s", [Link]),
    true = string:find(Link, "tun type tun") =/= nomatch,
    true = string:find(Link, "user 65534") =/= nomatch orelse
        string:find(Link, "user nobody") =/= nomatch,
    {error, ebusy} = peer:call(Peer, procket_test_echo, open_fd,
                               [0, [{dev, {tun, "pkct0"}}, {namespace, ?NS}]]),
    ok = run("ip -n " ++ ?NS ++ " addr add 10.99.0.1/24 dev pkct0"),
    ok = run("ip -n " ++ ?NS ++ " link set pkct0 up"),
    Self = self(),
    spawn_link(fun() ->
                       Self ! {ping, ns_cmd("ping -c 1 -W 5 10.99.0.2 2>&1")}
               end),
    {answered, {10, 99, 0, 1}, {10, 99, 0, 2}} =
        peer:call(Peer, procket_test_echo, tun_answer_ping, [FD, 5000]),
    Ping = receive {ping, Out} -> Out after 10000 -> ct:fail(no_ping_result) end,
    ct:log("~s", [Ping]),
    true = string:find(Ping, "1 received") =/= nomatch,
    _ = peer:call(Peer, procket, close, [FD]),
    ok = wait_until(fun() -> string:find(ns_cmd("ip link show pkct0 2>&1"),
                                         "does not exist") =/= nomatch end, 50).

%% {family, packet} bound to one end of a veth pair in the namespace: the
%% ARP request the kernel sends out of the other end (for an unanswered
%% ping) is read in Erlang; a frame written from Erlang is seen by tcpdump
%% on the other end. The socket's owner is uid 65534.
packet_socket_frames(Config) ->
    Peer = ?config(peer, Config),
    {ok, FD} = peer:call(Peer, procket_test_echo, open_fd,
                         [0, [{family, packet}, {interface, "pkvb"},
                              {namespace, ?NS}]]),
    Self = self(),
    spawn_link(fun() ->
                       Self ! {ping, ns_cmd("ping -c 2 -W 1 10.97.0.2 2>&1")}
               end),
    {frame, <<255, 255, 255, 255, 255, 255>>, _Mac, Arp} =
        peer:call(Peer, procket_test_echo, packet_capture, [FD, 16#0806, 5000]),
    %% who-has 10.97.0.2 tell 10.97.0.1
    <<1:16, 16#0800:16, 6, 4, 1:16, _:6/binary, 10, 97, 0, 1, _:6/binary,
      10, 97, 0, 2, _/binary>> = Arp,
    receive {ping, _} -> ok after 10000 -> ok end,
    %% a frame of the local experimental ethertype, out of pkvb
    Pcap = filename:join(?config(stage, Config), "pkva.pcap"),
    Dump = open_port({spawn_executable, "/usr/bin/timeout"},
                     [{args, ["10", "ip", "netns", "exec", ?NS, "tcpdump", "-i", "pkva",
                              "-c", "1", "-nn", "-U", "-w", Pcap, "ether proto 0x88b5"]},
                      stderr_to_stdout, exit_status, binary]),
    ok = wait_listening(Dump),
    Frame = <<255, 255, 255, 255, 255, 255, 2, 0, 0, 0, 0, 1, 16#88b5:16,
              "procket was here", 0:(8 * 30)>>,
    true = peer:call(Peer, procket_test_echo, packet_send, [FD, Frame]),
    receive {Dump, {exit_status, 0}} -> ok
    after 15000 -> ct:fail(tcpdump_saw_nothing)
    end,
    Text = os:cmd("tcpdump -r " ++ Pcap ++ " -nn -e -x 2>&1"),
    ct:log("~s", [Text]),
    true = string:find(Text, "02:00:00:00:00:01") =/= nomatch,
    true = string:find(Text, "ethertype Unknown (0x88b5)") =/= nomatch,
    ok = peer:call(Peer, procket, close, [FD]).

%% The packet module on a socket from packet:socket/2 made in the
%% namespace: its lookups answer as `ip' does there; a frame sent out of
%% pkva arrives on pkvb, where the socket is bound, and is read back with
%% enif_select; promiscuous mode (the interface's promiscuity count) is on
%% while the socket is open.
packet_module(Config) ->
    Peer = ?config(peer, Config),
    Call = fun(F, A) -> peer:call(Peer, packet, F, A) end,
    {ok, FD} = Call(socket, [16#88b5, [{namespace, ?NS}]]),
    IndexB = Call(ifindex, [FD, "pkvb"]),
    IndexA = Call(ifindex, [FD, <<"pkva">>]),
    IndexB = list_to_integer(string:trim(ns_cmd("cat /sys/class/net/pkvb/ifindex"))),
    IndexA = list_to_integer(string:trim(ns_cmd("cat /sys/class/net/pkva/ifindex"))),
    <<"pkvb">> = Call(ifname, [FD, IndexB]),
    {error, enodev} = Call(ifindex, [FD, "pkvz"]),
    {error, enodev} = Call(ifname, [FD, 999999]),
    {'EXIT', {badarg, _}} = (catch Call(ifindex, [FD, "sixteen-bytes-xx"])),
    {10, 97, 0, 1} = Call(ipv4address, [FD, "pkva"]),
    {error, eaddrnotavail} = Call(ipv4address, [FD, "pkvb"]),
    MacB = string:trim(ns_cmd("cat /sys/class/net/pkvb/address")),
    MacB = mac_text(Call(macaddress, [FD, "pkvb"])),
    %% the first binding is free (Linux 5.7 and later), a change is not
    ok = Call(bindtodevice, [FD, "pkvb"]),
    {error, eperm} = Call(bindtodevice, [FD, "pkva"]),
    ok = Call(bind, [FD, IndexB]),
    ok = Call(promiscuous, [FD, IndexB]),
    true = string:find(ns_cmd("ip -d link show pkvb"), "promiscuity 1") =/= nomatch,
    Frame = <<255, 255, 255, 255, 255, 255, 2, 0, 0, 0, 0, 2, 16#88b5:16,
              "packet:send/3", 0:(8 * 33)>>,
    {received, <<_Family:16, 16#88b5:16, IndexB:32/native, _HaType:16, PktType, _/binary>>} =
        peer:call(Peer, procket_test_echo, packet_roundtrip, [FD, IndexA, Frame, 5000]),
    1 = PktType,                              % PACKET_BROADCAST: it came in
    %% the handle closed the socket: promiscuous mode is gone
    ok = wait_until(fun() -> string:find(ns_cmd("ip -d link show pkvb"),
                                         "promiscuity 0") =/= nomatch end, 50),
    {error, ebadf} = Call(ifindex, [FD, "pkvb"]),
    %% the helper's refusals: an interface the namespace lacks, and a
    %% namespace no rule names (the policy grants packet only in ?NS)
    {error, enodev} = Call(socket, [16#88b5, [{namespace, ?NS}, {interface, "pkvz"}]]),
    {error, eacces} = Call(socket, [16#88b5, [{namespace, "procket_ct_other"}]]).

%% A packet socket granted by a rule that names an interface and an
%% ethertype stays confined to them after handover: the helper locks a
%% socket filter on it. Bound elsewhere, or for every ethertype, it
%% receives nothing else (no outgoing frames either), and the filter can
%% be neither detached nor unlocked (eperm). A deny rule on another
%% interface before the grant pins the interface asked for (and refuses
%% a request for no interface). Granted by a rule without such conditions
%% (the group's policy), the same socket receives everything it is bound
%% to and has no filter (enoent).
packet_confined(Config) ->
    Peer = ?config(peer, Config),
    [IndexA, IndexB] = [list_to_integer(string:trim(ns_cmd("cat /sys/class/net/" ++ I
                                                           ++ "/ifindex")))
                        || I <- ["pkva", "pkvb"]],
    Open = fun() -> peer:call(Peer, packet, socket,
                              [16#88b5, [{interface, "pkvb"}, {namespace, ?NS}]]) end,
    Check = fun(FD) ->
                    {ok, Sender} = Open(),
                    peer:call(Peer, procket_test_echo, packet_confinement,
                              [FD, Sender, IndexB, IndexA], ?CALL_TIMEOUT)
            end,
    try
        ok = write_policy("allow user 65534 packet interface=pkvb protocol=0x88b5 "
                          "namespace=" ?NS "\n", 8#644),
        {ok, FD1} = Open(),
        Confined = Check(FD1),
        ct:log("confined: ~p", [Confined]),
        #{bound := received, rebound := timeout, other_type := timeout, back := received,
          outgoing := timeout, detach := {error, eperm}, unlock := {error, eperm}} = Confined,
        %% a deny rule on another interface, before a grant without
        %% conditions: the interface asked for is pinned
        ok = write_policy("deny all packet interface=pkva namespace\n"
                          "allow user 65534 packet namespace=" ?NS "\n", 8#644),
        {error, eacces} = peer:call(Peer, packet, socket, [16#88b5, [{namespace, ?NS}]]),
        {ok, FD4} = Open(),
        Pinned = Check(FD4),
        ct:log("pinned by a deny rule: ~p", [Pinned]),
        #{bound := received, rebound := timeout, other_type := received,
          detach := {error, eperm}} = Pinned,
        %% interface=* confines nothing
        ok = write_policy("allow user 65534 packet interface=* namespace=" ?NS "\n", 8#644),
        {ok, FD2} = Open(),
        Star = Check(FD2),
        ct:log("interface=*: ~p", [Star]),
        #{rebound := received, other_type := received, outgoing := received,
          detach := {error, enoent}} = Star
    after
        ok = write_policy(?DEVICES_POLICY, 8#644)
    end,
    {ok, FD3} = Open(),
    Free = Check(FD3),
    ct:log("no conditions: ~p", [Free]),
    #{bound := received, rebound := received, other_type := received, back := received,
      outgoing := received, detach := {error, enoent}} = Free,
    ok.

%% arplookup/1, gateway/0,1, gateway_addr/1 and default_interface/0 read
%% /proc/net as the VM sees it: a VM started inside the namespace finds
%% the neighbour entry and the default route made there with `ip'.
packet_module_routes(Config) ->
    [ok = run("ip -n " ++ ?NS ++ " " ++ C)
     || C <- ["neigh replace 10.97.0.254 lladdr 02:00:00:00:00:fe dev pkva nud permanent",
              "route replace default via 10.97.0.254 dev pkva"]],
    Ip = os:find_executable("ip"),
    Erl = os:find_executable("erl"),
    {ok, Peer, _} = peer:start(
                      #{connection => standard_io,
                        exec => {Ip, ["netns", "exec", ?NS, os:find_executable("setpriv"),
                                      "--reuid=65534", "--regid=65534", "--clear-groups",
                                      "--", Erl]},
                        args => ["-pa", ?config(ebin, Config)],
                        env => [{"HOME", ?config(home, Config)}]}),
    try
        Call = fun(F, A) -> peer:call(Peer, packet, F, A) end,
        ["pkva"] = Call(default_interface, []),
        {10, 97, 0, 254} = Call(gateway_addr, [[]]),
        {10, 97, 0, 254} = Call(gateway_addr, ["pkva"]),
        false = Call(gateway_addr, ["pkvb"]),
        {ok, {2, 0, 0, 0, 0, 16#fe}, {10, 97, 0, 254}} = Call(gateway, []),
        {ok, {2, 0, 0, 0, 0, 16#fe}, {10, 97, 0, 254}} = Call(gateway, [<<"pkva">>]),
        false = Call(gateway, ["pkvb"]),
        {2, 0, 0, 0, 0, 16#fe} = Call(arplookup, [{10, 97, 0, 254}]),
        {2, 0, 0, 0, 0, 16#fe} = Call(arplookup, ["10.97.0.254"]),
        false = Call(arplookup, [{10, 97, 0, 253}]),
        true = lists:member("pkva", Call(iflist, [])),
        %% without the route, no gateway
        ok = run("ip -n " ++ ?NS ++ " route del default"),
        [] = Call(default_interface, []),
        false = Call(gateway, [])
    after
        peer:stop(Peer),
        _ = run("ip -n " ++ ?NS ++ " route del default"),
        _ = run("ip -n " ++ ?NS ++ " neigh del 10.97.0.254 dev pkva")
    end,
    ok.

mac_text(Mac) when tuple_size(Mac) =:= 6 ->
    string:join([string:lowercase(io_lib:format("~2.16.0b", [B]))
                 || B <- tuple_to_list(Mac)], ":").

wait_listening(Port) ->
    receive
        {Port, {data, Data}} ->
            case binary:match(Data, <<"listening on">>) of
                nomatch -> wait_listening(Port);
                _ -> ok
            end;
        {Port, {exit_status, S}} ->
            {error, {tcpdump_exited, S}}
    after 10000 ->
            {error, tcpdump_not_listening}
    end.

%% Runs the shell command Cmd (no single quotes in it) inside the namespace.
ns_cmd(Cmd) ->
    os:cmd("ip netns exec " ++ ?NS ++ " sh -c '" ++ Cmd ++ "'").

ns_socket_uids(Proto, Port) ->
    Lines = tl(string:lexemes(ns_cmd("cat /proc/net/" ++ Proto), "\n")),
    [list_to_integer(Uid)
     || L <- Lines,
        [_Sl, Local, _Remote, _St, _Q, _T, _R, Uid | _] <- [string:lexemes(L, " ")],
        list_to_integer(lists:last(string:split(Local, ":", trailing)), 16) =:= Port].

run(Cmd) ->
    case os:cmd(Cmd ++ " >/dev/null 2>&1; echo $?") of
        "0\n" -> ok;
        Other -> {error, {Cmd, Other}}
    end.

wait_until(Fun, Tries) ->
    case Fun() of
        true -> ok;
        false when Tries > 0 -> timer:sleep(100), wait_until(Fun, Tries - 1);
        false -> {error, gave_up}
    end.

%% --- the peer --------------------------------------------------------

%% Starts the VM under test as uid/gid 65534 through setpriv. peer runs
%% the exec program with its arguments followed by erl's.
start_peer(Ebin, Config) ->
    Erl = os:find_executable("erl"),
    {ok, Peer, _Node} = peer:start(
                   #{connection => standard_io,
                     exec => {os:find_executable("setpriv"),
                              ["--reuid=65534", "--regid=65534", "--clear-groups",
                               "--", Erl]},
                     args => ["-pa", Ebin, "-pa", ?config(test_ebin, Config)],
                     env => [{"HOME", ?config(home, Config)}]}),
    ok = peer:call(Peer, file, set_cwd, [?config(home, Config)]),
    OsPid = peer:call(Peer, os, getpid, []),
    {Peer, OsPid}.

%% A VM run by Exec with ExecArgs (then erl's arguments), loading procket
%% from Ebin.
start_peer_with(Ebin, Config, Exec, ExecArgs) ->
    {ok, Peer, _Node} = peer:start(
                          #{connection => standard_io,
                            exec => {Exec, ExecArgs},
                            args => ["-pa", Ebin, "-pa", ?config(test_ebin, Config)],
                            env => [{"HOME", ?config(home, Config)}]}),
    Peer.

check_unprivileged(Peer, OsPid) ->
    Status = proc_status(OsPid),
    Want = [{"Uid", ["65534", "65534", "65534", "65534"]},
            {"Gid", ["65534", "65534", "65534", "65534"]},
            {"Groups", []},
            {"CapEff", ["0000000000000000"]},
            {"CapPrm", ["0000000000000000"]},
            {"NoNewPrivs", ["0"]}],             % or setuid could not work
    Got = [{K, proplists:get_value(K, Status)} || {K, _} <- Want],
    Id = string:trim(peer:call(Peer, os, cmd, ["id -u; id -g"])),
    case {Got, string:lexemes(Id, "\n")} of
        {Want, ["65534", "65534"]} -> ok;
        Other -> {error, Other}
    end.

proc_status(OsPid) ->
    {ok, Bin} = file:read_file("/proc/" ++ OsPid ++ "/status"),
    [case string:split(L, ":") of
         [K, V] -> {K, string:lexemes(V, " \t")};
         [K] -> {K, []}
     end || L <- string:lexemes(binary_to_list(Bin), "\n")].

%% --- echo helpers ----------------------------------------------------

echo(Config, Name, Port, Opts, SockOpts, Addr, {Proto, Port}) ->
    Fun = case Proto of
              "udp" ++ _ -> udp_echo;
              "tcp" ++ _ -> tcp_echo
          end,
    {ok, _FD} = start_echo(Config, Fun, Name, Port, Opts ++ ?config(priv_opts, Config),
                           SockOpts),
    [?NOBODY] = socket_uids(Proto, Port),
    Payload = atom_to_list(Name),
    Reply = socat(Payload, Addr),
    ct:log("socat ~s: ~p", [Addr, Reply]),
    Reply = Payload ++ "\n",
    ok = stop_echo(Config, Name),
    [] = socket_uids(Proto, Port),
    ok.

start_echo(Config, Fun, Name, Port, Opts, SockOpts) ->
    peer:call(?config(peer, Config), procket_test_echo, Fun,
              [Name, Port, Opts, SockOpts], ?CALL_TIMEOUT).

stop_echo(Config, Name) ->
    peer:call(?config(peer, Config), procket_test_echo, stop, [Name]).

%% One line to Addr with socat, as root; returns what came back.
socat(Payload, Addr) ->
    os:cmd("echo " ++ Payload ++ " | timeout 10 socat -t1 - " ++ Addr
           ++ " 2>/dev/null").

%% --- /proc -----------------------------------------------------------

%% The uids of the sockets bound to local Port in /proc/net/Proto (only
%% listening ones for TCP).
socket_uids(Proto, Port) ->
    [Uid || {P, St, Uid} <- proc_net(Proto), P =:= Port,
            not lists:prefix("tcp", Proto) orelse St =:= "0A"].

udp_owners() ->
    lists:foldl(fun({P, _, Uid}, M) -> maps:update_with(P, fun(L) -> [Uid | L] end,
                                                        [Uid], M)
                end, #{}, proc_net("udp")).

proc_net(Proto) ->
    {ok, Bin} = file:read_file("/proc/net/" ++ Proto),
    [_Header | Lines] = string:lexemes(binary_to_list(Bin), "\n"),
    [begin
         [_Sl, Local, _Remote, St, _Q, _T, _R, Uid | _] = string:lexemes(L, " "),
         [_, PortHex] = string:split(Local, ":", trailing),
         {list_to_integer(PortHex, 16), St, list_to_integer(Uid)}
     end || L <- Lines].

fd_count(OsPid) ->
    {ok, FDs} = file:list_dir("/proc/" ++ OsPid ++ "/fd"),
    length(FDs).

%% The children of OsPid: [{Pid, Comm, State}].
children(OsPid) ->
    {ok, Names} = file:list_dir("/proc"),
    lists:filtermap(
      fun(N) ->
              case file:read_file("/proc/" ++ N ++ "/stat") of
                  {ok, Bin} when N =/= OsPid ->
                      S = binary_to_list(Bin),
                      %% comm may hold spaces and parentheses: split at the last ")"
                      Open = string:chr(S, $(),
                      Close = string:rchr(S, $)),
                      Comm = string:substr(S, Open + 1, Close - Open - 1),
                      [State, PPid | _] = string:lexemes(string:substr(S, Close + 1), " "),
                      PPid =:= OsPid andalso {true, {N, Comm, State}};
                  _ ->
                      false
              end
      end, Names).

%% What must not grow: descriptors, children (erl_child_setup is always
%% there), socket files in the pipe directory.
snapshot(Config) ->
    OsPid = ?config(peer_os_pid, Config),
    {ok, Pipes} = file:list_dir(?config(pipe_dir, Config)),
    #{fds => fd_count(OsPid),
      children => [C || {_, Comm, _} = C <- children(OsPid),
                        Comm =/= "erl_child_setup"],
      zombies => [C || {_, _, "Z"} = C <- children(OsPid)],
      pipes => Pipes}.

%% The peer is back where Before was: same descriptor count, no child
%% but erl_child_setup, no zombie, empty pipe directory. Waits a little,
%% since a helper may still be exiting.
assert_no_leaks(Before, Config) ->
    Want = Before#{children := [], zombies := [], pipes := []},
    assert_no_leaks(Want, Config, 50).

assert_no_leaks(Want, Config, Tries) ->
    case snapshot(Config) of
        Want ->
            ok;
        _ when Tries > 0 ->
            timer:sleep(100),
            assert_no_leaks(Want, Config, Tries - 1);
        Got ->
            ct:fail({leak, #{wanted => Want, got => Got}})
    end.

%% --- failure tables --------------------------------------------------

%% Runs {Label, Call, Expect} rows in the peer, logs each and fails with
%% the list of rows whose result differs. The peer must stay up.
run_rows(Rows, Config) ->
    Peer = ?config(peer, Config),
    OsPid = ?config(peer_os_pid, Config),
    Bad = lists:filtermap(
            fun({Label, Call, Expect}) ->
                    {Result, Ms} = try_open(Config, Call),
                    Ok = matches(Expect, Result, Ms),
                    ct:log("~s ~ts: ~p in ~b ms (want ~p)",
                           [if Ok -> "ok  "; true -> "FAIL" end, Label, Result,
                            Ms, Expect]),
                    not Ok andalso {true, {Label, Result, Ms, Expect}}
            end, Rows),
    OsPid = peer:call(Peer, os, getpid, []),
    case Bad of
        [] -> ok;
        _ -> ct:fail({unexpected_results, Bad})
    end.

try_open(Config, {with_helper, Helper, Port, Opts}) ->
    peer:call(?config(peer, Config), procket_test_echo, try_open_with_helper,
              [Helper, Port, Opts], ?CALL_TIMEOUT);
try_open(Config, {Port, Opts}) ->
    peer:call(?config(peer, Config), procket_test_echo, try_open, [Port, Opts],
              ?CALL_TIMEOUT).

matches({within, Expect, MaxMs}, Result, Ms) -> Result =:= Expect andalso Ms =< MaxMs;
matches(error_or_badarg, badarg, _) -> true;
matches(error_or_badarg, {error, _}, _) -> true;
matches(Expect, Result, _) -> Expect =:= Result.

%% --- staging ---------------------------------------------------------

repo_root(Config) ->
    case os:getenv("PROCKET_ROOT") of
        Root when is_list(Root), Root =/= "" ->
            Root;
        _ ->   % test/procket_SUITE_data/ -> the repository
            filename:absname(filename:join([?config(data_dir, Config), "..", ".."]))
    end.


script(Dir, Name, Text) ->
    Path = filename:join(Dir, Name),
    ok = file:write_file(Path, Text),
    ok = file:change_mode(Path, 8#755),
    Path.

sudo_rule_file() ->
    "/etc/sudoers.d/procket-ct".

%% Lets nobody run the plain helper as root without a password. The rule
%% is checked with visudo in a staging file before it is installed.
install_sudo_rule(Plain, Stage) ->
    Tmp = filename:join(Stage, "sudoers"),
    ok = file:write_file(Tmp, "nobody ALL=(root) NOPASSWD: " ++ Plain ++ "\n"),
    ok = file:change_mode(Tmp, 8#440),
    visudo(Tmp),
    {ok, _} = file:copy(Tmp, sudo_rule_file()),
    ok = file:change_owner(sudo_rule_file(), 0, 0),
    ok = file:change_mode(sudo_rule_file(), 8#440),
    visudo(sudo_rule_file()),
    true.

visudo(File) ->
    Out = os:cmd("visudo -cf " ++ File ++ " >/dev/null 2>&1; echo $?"),
    case string:trim(Out) of
        "0" -> ok;
        _ -> file:delete(sudo_rule_file()),
             ct:fail({visudo_rejected, File, os:cmd("visudo -cf " ++ File)})
    end.
