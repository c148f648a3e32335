%% Common Test suite for the broker (`procket -l PATH', procket(8)): a VM
%% that can never gain privileges (uid 65534, no_new_privs) gets its
%% sockets from a broker root runs, in its own network namespace, a
%% container's, by socket activation, at the default path; hostile
%% clients hold up nobody and leave nothing behind; a worker killed
%% mid-request gives a clean error; an unmapped caller gets nothing.
%%
%% Runs as root through scripts/ct-broker.sh (scripts/ct.sh: a fresh
%% network namespace, /etc, /run and /dev private), which is how `make
%% test' runs it.
-module(procket_broker_SUITE).

-import(procket_ct_stage, [stage_release/2, make_dir/2, repo_root/0]).

-include_lib("common_test/include/ct.hrl").
-include_lib("kernel/include/file.hrl").

-export([all/0, init_per_suite/1, end_per_suite/1,
         init_per_testcase/2, end_per_testcase/2]).
-export([echo_v4_v6/1, caller_netns/1, raw_icmp_and_tun/1, policy_denials/1,
         concurrent_opens/1, hostile_clients/1, worker_killed/1, unmapped_refused/1,
         socket_activation/1, default_path/1, container/1, socket_owner_mode/1,
         outlives_watchdog/1, stop_cleanly/1, root_is_a_caller/1, stopped_workers/1,
         not_a_broker/1, user_namespace_caller/1, full_backlog/1]).

-define(POLICY, "/etc/procket.conf").
-define(NOBODY, 65534).
-define(OTHER, 65533).
-define(CALL_TIMEOUT, 30000).
-define(WATCHDOG_S, 30).

all() ->
    [echo_v4_v6, caller_netns, raw_icmp_and_tun, policy_denials, concurrent_opens,
     hostile_clients, worker_killed, unmapped_refused, socket_activation,
     default_path, container, socket_owner_mode, root_is_a_caller, stopped_workers,
     not_a_broker, user_namespace_caller, full_backlog, outlives_watchdog, stop_cleanly].

%% --- setup ------------------------------------------------------------

init_per_suite(Config) ->
    "0" = string:trim(os:cmd("id -u")),
    {ok, Mounts} = file:read_file("/proc/self/mounts"),
    [binary:match(Mounts, <<"procket_private_", D/binary, " /", D/binary, " overlay">>) =/= nomatch
     orelse ct:fail("/~s is not private: run the suite through scripts/ct-broker.sh", [D])
     || D <- [<<"etc">>, <<"run">>, <<"dev">>]],
    [true = is_list(os:find_executable(T))
     || T <- ["socat", "setpriv", "unshare", "ip", "erl", "timeout", "nsenter"]],
    {error, enoent} = file:read_link_info(?POLICY),
    Root = repo_root(),
    Stage = string:trim(os:cmd("mktemp -d /tmp/procket_ctb.XXXXXX")),
    true = lists:prefix("/tmp/procket_ctb.", Stage),
    ok = file:change_mode(Stage, 8#755),
    ok = stage_release(Root, Stage),
    Helper = filename:join(Stage, "priv/procket"),
    ok = file:change_owner(Helper, 0, 0),
    ok = file:change_mode(Helper, 8#4755),   % the last chmod: keeps the bit
    TestEbin = filename:join(Stage, "testebin"),
    ok = make_dir(TestEbin, 8#755),
    {ok, _} = compile:file(filename:join([Root, "test", "procket_test_echo.erl"]),
                           [{outdir, TestEbin}, report]),
    ok = file:change_mode(filename:join(TestEbin, "procket_test_echo.beam"), 8#644),
    Home = filename:join(Stage, "home"),
    ok = make_dir(Home, 8#700),
    ok = file:change_owner(Home, ?NOBODY, ?NOBODY),
    %% the suite's broker, in a directory of root's, runs through every case
    Run = filename:join(Stage, "run"),
    ok = make_dir(Run, 8#755),
    Sock = filename:join(Run, "procket.sock"),
    Log = filename:join(Stage, "broker.log"),
    Pid = string:trim(os:cmd(Helper ++ " -l " ++ Sock ++ " >" ++ Log ++ " 2>&1 & echo $!")),
    ok = wait_until(fun() -> is_socket(Sock) end, 50),
    [{stage, Stage}, {helper, Helper}, {ebin, filename:join(Stage, "ebin")},
     {test_ebin, TestEbin}, {home, Home}, {sock, Sock}, {broker_pid, Pid},
     {broker_log, Log}, {broker_started, erlang:monotonic_time(second)} | Config].

end_per_suite(Config) ->
    _ = os:cmd("kill " ++ ?config(broker_pid, Config) ++ " 2>/dev/null"),
    Stage = ?config(stage, Config),
    true = lists:prefix("/tmp/procket_ctb.", Stage),
    timer:sleep(200),
    ok = file:del_dir_r(Stage).

init_per_testcase(_Case, Config) ->
    _ = file:delete(?POLICY),
    Config.

end_per_testcase(_Case, _Config) ->
    _ = file:delete(?POLICY),
    ok.

%% --- cases --------------------------------------------------------------

%% UDP 53 and TCP 80, IPv4 and IPv6, through {broker, Path} for uid 65534
%% with no_new_privs: owned by 65534, echo through socat; the setuid
%% helper is refused in the same VM, by the kernel.
echo_v4_v6(Config) ->
    Sock = ?config(sock, Config),
    Peer = nnp_peer(Config),
    try
        ["1"] = proplists:get_value("NoNewPrivs", proc_status(peer:call(Peer, os, getpid, []))),
        B = {broker, Sock},
        [{ok, _} = peer:call(Peer, procket_test_echo, F, [Name, Port, [B | Opts], SOpts],
                             ?CALL_TIMEOUT)
         || {F, Name, Port, Opts, SOpts} <-
                [{udp_echo, b_udp4, 53, [{protocol, udp}], []},
                 {tcp_echo, b_tcp4, 80, [{protocol, tcp}, {backlog, 5}], []},
                 {udp_echo, b_udp6, 53, [{protocol, udp}, {family, inet6}], [inet6]},
                 {tcp_echo, b_tcp6, 80, [{protocol, tcp}, {family, inet6}, {backlog, 5}],
                  [inet6]}]],
        [?NOBODY] = socket_uids("udp", 53),
        [?NOBODY] = socket_uids("tcp", 80),
        [?NOBODY] = socket_uids("udp6", 53),
        [?NOBODY] = socket_uids("tcp6", 80),
        "b4\n" = socat("b4", "udp4:127.0.0.1:53"),
        "b4\n" = socat("b4", "tcp4:127.0.0.1:80"),
        "b6\n" = socat("b6", "udp6:[::1]:53"),
        "b6\n" = socat("b6", "tcp6:[::1]:80"),
        [ok = peer:call(Peer, procket_test_echo, stop, [N])
         || N <- [b_udp4, b_tcp4, b_udp6, b_tcp6]],
        %% the setuid helper: refused (no_new_privs)
        {error, _} = peer:call(Peer, procket, open, [54, [{protocol, udp}]], ?CALL_TIMEOUT)
    after
        peer:stop(Peer)
    end.

%% A VM in a network namespace of its own gets its socket there, not in
%% the broker's (found through SO_PEERPIDFD); {namespace, Name} moves it
%% on, by policy only.
caller_netns(Config) ->
    Sock = ?config(sock, Config),
    Ns = "procket_ctb_own", Named = "procket_ctb_named",
    [begin _ = os:cmd("ip netns del " ++ N ++ " 2>/dev/null"),
           ok = run("ip netns add " ++ N ++ " && ip -n " ++ N ++ " link set lo up")
     end || N <- [Ns, Named]],
    NsPeer = peer_with(Config, os:find_executable("ip"),
                       ["netns", "exec", Ns | nnp_setpriv(?NOBODY)]),
    Peer = nnp_peer(Config),
    try
        {ok, _} = peer:call(NsPeer, procket, open, [53, [{broker, Sock}, {protocol, udp}]],
                            ?CALL_TIMEOUT),
        [?NOBODY] = ns_socket_uids(Ns, "udp", 53),
        [] = socket_uids("udp", 53),
        Named1 = [{broker, Sock}, {protocol, udp}, {namespace, Named}],
        {error, eacces} = peer:call(Peer, procket, open, [5353, Named1], ?CALL_TIMEOUT),
        ok = write_policy("allow user 65534 udp namespace=" ++ Named ++ "\n"),
        {ok, _} = peer:call(Peer, procket, open, [5353, Named1], ?CALL_TIMEOUT),
        [?NOBODY] = ns_socket_uids(Named, "udp", 5353),
        [] = socket_uids("udp", 5353)
    after
        peer:stop(NsPeer),
        peer:stop(Peer),
        [os:cmd("ip netns del " ++ N) || N <- [Ns, Named]]
    end.

%% Raw ICMP (the kernel answers a ping on loopback) and a tun device
%% (procket:dev/2) through the broker; the device by rule only.
raw_icmp_and_tun(Config) ->
    Sock = ?config(sock, Config),
    Peer = nnp_peer(Config),
    try
        [begin
             {echo_reply, PFD} = peer:call(Peer, procket_test_echo, raw_ping,
                                           [F, [{broker, Sock}]], ?CALL_TIMEOUT),
             [ok] = peer:call(Peer, procket_test_echo, close_all, [[PFD]])
         end || F <- [inet, inet6]],
        {error, eacces} = peer:call(Peer, procket, dev, [{tun, "pkb0"}, [{broker, Sock}]],
                                    ?CALL_TIMEOUT),
        ok = write_policy("allow user 65534 tun\n"),
        {ok, FD} = peer:call(Peer, procket, dev, [{tun, "pkb0"}, [{broker, Sock}]],
                             ?CALL_TIMEOUT),
        true = is_integer(FD),
        Link = os:cmd("ip -d link show pkb0"),
        ct:log("~s", [Link]),
        {match, _} = re:run(Link, "tun type tun .*user (65534|nobody) "),
        ok = peer:call(Peer, procket, close, [FD])
    after
        peer:stop(Peer)
    end.

%% The policy decides as for the helper: ports 512-1023 need a rule, a
%% deny rule denies, packet sockets need a rule.
policy_denials(Config) ->
    Sock = ?config(sock, Config),
    Peer = nnp_peer(Config),
    Open = fun(Port, Opts) ->
                   peer:call(Peer, procket, open, [Port, [{broker, Sock} | Opts]], ?CALL_TIMEOUT)
           end,
    try
        {error, eacces} = Open(600, [{protocol, udp}]),
        {error, eacces} = Open(0, [{family, packet}]),
        ok = write_policy("deny user 65534 udp port=53\nallow user 65534 udp port=600\n"),
        {error, eacces} = Open(53, [{protocol, udp}]),
        {ok, FD} = Open(600, [{protocol, udp}]),
        ok = peer:call(Peer, procket, close, [FD]),
        %% a file that cannot be trusted denies everything
        ok = file:change_mode(?POLICY, 8#666),
        {error, eacces} = Open(5000, [{protocol, udp}])
    after
        peer:stop(Peer)
    end.

%% 50 opens at once from one VM: all granted, distinct, owned by 65534;
%% the VM's descriptors are as they were after they are closed, and after
%% refusals and failures (policy, a port in use, no broker, a listener
%% that is not root's).
concurrent_opens(Config) ->
    Sock = ?config(sock, Config),
    Peer = nnp_peer(Config),
    try
        VmFds = fun() ->
                        {ok, L} = file:list_dir("/proc/" ++ peer:call(Peer, os, getpid, []) ++ "/fd"),
                        length(L)
                end,
        Before = VmFds(),
        Ports = lists:seq(20000, 20049),
        Results = peer:call(Peer, procket_test_echo, open_many,
                            [Ports, [{broker, Sock}, {protocol, udp}]], ?CALL_TIMEOUT),
        FDs = [FD || {_, {ok, FD}} <- Results],
        50 = length(lists:usort(FDs)),
        [[?NOBODY] = socket_uids("udp", P) || P <- Ports],
        [ok = R || R <- peer:call(Peer, procket_test_echo, close_all, [FDs])],
        {ok, Held} = peer:call(Peer, procket, open, [20000, [{broker, Sock}, {protocol, udp}]],
                               ?CALL_TIMEOUT),
        [{error, _} = peer:call(Peer, procket, open, [P, [{broker, B}, {protocol, udp}]],
                                ?CALL_TIMEOUT)
         || _ <- lists:seq(1, 5),
            {P, B} <- [{600, Sock}, {20000, Sock}, {53, "/nonexistent/b.sock"},
                       {53, filename:join(?config(stage, Config), "ebin")}]],
        ok = peer:call(Peer, procket, close, [Held]),
        Before = VmFds()
    after
        peer:stop(Peer)
    end.

%% Clients that send garbage, a descriptor, nothing at all, or go away
%% mid-request, and a flood of thousands of connections from another uid:
%% the broker serves the VM all along, bounds its workers, and its
%% descriptors and memory are where they were, also after 2,000 requests.
hostile_clients(Config) ->
    Sock = ?config(sock, Config),
    Broker = ?config(broker_pid, Config),
    Before = broker_state(Broker),
    ct:log("before: ~p", [Before]),
    Peer = nnp_peer(Config),
    Attacker = peer_with(Config, os:find_executable("setpriv"), tl(nnp_setpriv(?OTHER))),
    Open = fun() ->
                   {ok, FD} = peer:call(Peer, procket, open,
                                        [0, [{broker, Sock}, {protocol, udp}]], ?CALL_TIMEOUT),
                   ok = peer:call(Peer, procket, close, [FD])
           end,
    try
        %% garbage, a descriptor, a request and gone (from root: never
        %% closed early for staying mute)
        Garbage = [crypto:strong_rand_bytes(N) || N <- [0, 1, 7, 64, 4096]],
        %% an error in reply, or the connection closed; never a descriptor
        {ok, Pass} = procket:socket(inet, dgram, 0),
        Answers = [raw_exchange(Sock, G, []) || G <- Garbage] ++
                  [raw_exchange(Sock, <<"x">>, [{1, 1, <<Pass:32/native>>}])],
        ok = procket:close(Pass),
        ct:log("answers to garbage: ~p", [Answers]),
        [true = A =:= closed orelse element(1, A) =:= reply || A <- Answers],
        [ok = raw_connect_close(Sock) || _ <- lists:seq(1, 20)],
        Open(),
        %% 200 connections held without a word by uid 65533: its new ones
        %% are closed at once past 8, and the VM's opens go through
        {Holder, Held} = peer:call(Attacker, procket_test_echo, mute, [Sock, 200],
                                   ?CALL_TIMEOUT),
        ct:log("mute connections made: ~p", [Held]),
        [Open() || _ <- lists:seq(1, 20)],
        Workers = children(Broker),
        ct:log("workers with 200 mute connections held: ~p", [length(Workers)]),
        true = length(Workers) =< 64,
        true = length([P || {P, 0} <- Workers]) =< 8 + 8,   % 8 mute, 8 idle: all still root
        ok = peer:call(Attacker, procket_test_echo, release, [Holder], ?CALL_TIMEOUT),
        %% a flood: 3,000 connections as fast as they go, meanwhile opens
        Flood = peer:call(Attacker, procket_test_echo, flood, [Sock, 3000], ?CALL_TIMEOUT),
        [Open() || _ <- lists:seq(1, 20)],
        ct:log("flood: ~p", [peer:call(Attacker, procket_test_echo, flood_result, [Flood],
                                       60000)]),
        %% many requests
        {ok, 2000, Ms} = peer:call(Peer, procket_test_echo, cycles,
                                   [2000, 0, [{broker, Sock}, {protocol, udp}]], 120000),
        ct:log("2000 requests in ~p ms", [Ms]),
        ok = wait_until(fun() -> length(children(Broker)) =:= 8 end, 100),
        After = broker_state(Broker),
        ct:log("after: ~p", [After]),
        #{fds := F, rss_kb := R0} = Before,
        #{fds := F, rss_kb := R1} = After,
        true = R1 - R0 =< 64
    after
        peer:stop(Attacker),
        peer:stop(Peer)
    end.

%% A worker that dies mid-request (killed here while it waits to hand
%% its audit line to a full syslog socket) gives its client a clean
%% error, and the broker serves the next request.
worker_killed(Config) ->
    Sock = ?config(sock, Config),
    Broker = ?config(broker_pid, Config),
    Log = full_log(),
    Peer = nnp_peer(Config),
    try
        Self = self(),
        spawn_link(fun() ->
                           Self ! {opened, peer:call(Peer, procket, open,
                                                     [0, [{broker, Sock}, {protocol, udp}]],
                                                     ?CALL_TIMEOUT)}
                   end),
        %% the worker serving it has become uid 65534; idle ones are root
        ok = wait_until(fun() -> [P || {P, ?NOBODY} <- children(Broker)] =/= [] end, 50),
        [Busy] = [P || {P, ?NOBODY} <- children(Broker)],
        ok = run("kill -KILL " ++ Busy),
        receive {opened, Result} -> {error, econnreset} = Result
        after 10000 -> ct:fail(no_answer)
        end,
        ok = no_log(Log),
        {ok, FD} = peer:call(Peer, procket, open, [0, [{broker, Sock}, {protocol, udp}]],
                             ?CALL_TIMEOUT),
        ok = peer:call(Peer, procket, close, [FD]),
        ok = idle_workers_replaced(Peer, Sock, Broker)
    after
        peer:stop(Peer),
        _ = no_log(Log)
    end.

%% A broker in a user namespace of its own, where uid 65534 has no
%% mapping: a caller with that uid is the overflow uid there and gets
%% nothing (the default would grant UDP 53 to a mapped one); the refusal
%% says why.
unmapped_refused(Config) ->
    Stage = ?config(stage, Config),
    Dir = filename:join(Stage, "userns"),
    ok = make_dir(Dir, 8#755),
    Sock = filename:join(Dir, "b.sock"),
    Log = filename:join(Stage, "userns.log"),
    %% the broker is root of a user namespace that maps root alone, in a
    %% network namespace that namespace owns
    Pid = string:trim(os:cmd("unshare --user --map-root-user --net " ++ ?config(helper, Config)
                             ++ " -l " ++ Sock ++ " >" ++ Log ++ " 2>&1 & echo $!")),
    try
        ok = wait_until(fun() -> is_socket(Sock) end, 50),
        BrokerPid = hd([P || {P, 0} <- children(Pid)] ++ [Pid]),
        Target = case file:read_link("/proc/" ++ Pid ++ "/exe") of
                     {ok, "/usr/bin/unshare"} -> BrokerPid;
                     _ -> Pid
                 end,
        Peer = peer_with(Config, os:find_executable("nsenter"),
                         ["--net=/proc/" ++ Target ++ "/ns/net", "--" | nnp_setpriv(?NOBODY)]),
        try
            {error, eacces} = peer:call(Peer, procket, open,
                                        [53, [{broker, Sock}, {protocol, udp}]], ?CALL_TIMEOUT)
        after
            peer:stop(Peer)
        end,
        {ok, Said} = file:read_file(Log),
        ct:log("~s", [Said]),
        {match, _} = re:run(Said, "refused for uid 65534: uid 65534 \\(unmapped")
    after
        os:cmd("pkill -f 'procket -l " ++ Sock ++ "'")
    end.

%% Socket activation: systemd-socket-activate passes the listening socket
%% and the broker serves it. LISTEN_FDS in the environment of a setuid
%% invocation turns nothing on, and -l through setuid is refused.
socket_activation(Config) ->
    Stage = ?config(stage, Config),
    Helper = ?config(helper, Config),
    case os:find_executable("systemd-socket-activate") of
        false ->
            {skip, "systemd-socket-activate not installed"};
        Activate ->
            Dir = filename:join(Stage, "act"),
            ok = make_dir(Dir, 8#755),
            Sock = filename:join(Dir, "procket.sock"),
            Port = open_port({spawn_executable, Activate},
                             [{args, ["--seqpacket", "-l", Sock, Helper]}, exit_status,
                              stderr_to_stdout]),
            Peer = nnp_peer(Config),
            try
                ok = wait_until(fun() -> is_socket(Sock) end, 50),
                ok = file:change_mode(Sock, 8#666),
                [{ok, FD}, {ok, _}] =
                    [peer:call(Peer, procket, open, [P, [{broker, Sock}, {protocol, udp}]],
                               ?CALL_TIMEOUT) || P <- [53, 5353]],
                [?NOBODY] = socket_uids("udp", 53),
                ok = peer:call(Peer, procket, close, [FD]),
                %% the setuid helper, run by uid 65534 with LISTEN_FDS meant for it
                Own = filename:join(Stage, "home/own.sock"),
                Cmd = "cd " ++ Stage ++ "/home && setpriv --reuid=65534 --regid=65534 "
                      "--clear-groups timeout 10 " ++ Activate ++ " --seqpacket -l " ++ Own
                      ++ " " ++ Helper ++ " 2>&1 & sleep 1; "
                      "timeout 5 socat -u /dev/null UNIX-CONNECT:" ++ Own
                      ++ ",type=5 2>/dev/null; sleep 1",
                Out = os:cmd(Cmd),
                ct:log("~s", [Out]),
                nomatch = string:find(Out, "broker"),
                {match, _} = re:run(Out, "not a procket channel"),
                %% -l through setuid
                Refused = os:cmd("setpriv --reuid=65534 --regid=65534 --clear-groups " ++ Helper
                                 ++ " -l " ++ Stage ++ "/home/x.sock 2>&1; echo rc=$?"),
                {match, _} = re:run(Refused, "for a process started by root.*rc=64", [dotall])
            after
                peer:stop(Peer),
                os:cmd("kill " ++ integer_to_list(element(2, erlang:port_info(Port, os_pid)))),
                os:cmd("pkill -f '^" ++ Helper ++ "$'")
            end
    end.

%% With no option, procket asks the broker at /run/procket/procket.sock
%% when a socket is there: a no_new_privs VM gets UDP 53 with plain
%% procket:open/2. A socket file nobody listens on leaves the request to
%% the helper.
default_path(Config) ->
    Helper = ?config(helper, Config),
    ok = filelib:ensure_dir("/run/procket/x"),
    ok = file:change_mode("/run/procket", 8#755),
    Default = "/run/procket/procket.sock",
    Port = open_port({spawn_executable, Helper}, [{args, ["-l", Default]}, exit_status,
                                                  stderr_to_stdout]),
    Peer = nnp_peer(Config),
    try
        ok = wait_until(fun() -> is_socket(Default) end, 50),
        {ok, FD} = peer:call(Peer, procket, open, [53, [{protocol, udp}]], ?CALL_TIMEOUT),
        [?NOBODY] = socket_uids("udp", 53),
        ok = peer:call(Peer, procket, close, [FD]),
        %% helper options, or {broker, false}: the helper (refused here)
        {error, _} = peer:call(Peer, procket, open, [53, [{protocol, udp}, {broker, false}]],
                               ?CALL_TIMEOUT),
        %% a VM running as root with its capabilities opens as root, as
        %% before the broker was there: port 600 needs no rule for it
        Root = peer_with(Config, os:find_executable("erl"), []),
        try
            {ok, FD600} = peer:call(Root, procket, open, [600, [{protocol, udp}]], ?CALL_TIMEOUT),
            ok = peer:call(Root, procket, close, [FD600])
        after
            peer:stop(Root)
        end,
        %% root of a user namespace a user made is not: the broker serves
        %% it (as uid 65533), where the helper could not
        NsRoot = peer_with(Config, os:find_executable("setpriv"),
                           ["--reuid=65533", "--regid=65533", "--clear-groups", "--",
                            os:find_executable("unshare"), "--user", "--map-root-user",
                            os:find_executable("erl")]),
        try
            {ok, FD53} = peer:call(NsRoot, procket, open, [53, [{protocol, udp}]], ?CALL_TIMEOUT),
            [?OTHER] = socket_uids("udp", 53),
            ok = peer:call(NsRoot, procket, close, [FD53])
        after
            peer:stop(NsRoot)
        end,
        peer:stop(Peer),
        {os_pid, BPid} = erlang:port_info(Port, os_pid),
        ok = run("kill " ++ integer_to_list(BPid)),
        receive {Port, {exit_status, 0}} -> ok after 10000 -> ct:fail(broker_did_not_stop) end,
        %% a stale socket file: the setuid helper, for a VM that may use it
        {ok, Stale} = socket:open(local, seqpacket, default),
        ok = socket:bind(Stale, #{family => local, path => list_to_binary(Default)}),
        ok = socket:close(Stale),
        true = is_socket(Default),
        Plain = peer_with(Config, os:find_executable("setpriv"),
                          ["--reuid=65534", "--regid=65534", "--clear-groups", "--",
                           os:find_executable("erl")]),
        try
            {ok, FD2} = peer:call(Plain, procket, open, [53, [{protocol, udp}]], ?CALL_TIMEOUT),
            ok = peer:call(Plain, procket, close, [FD2])
        after
            peer:stop(Plain)
        end
    after
        catch peer:stop(Peer),
        _ = file:del_dir_r("/run/procket")
    end.

%% A container: a VM in its own network, mount and PID namespaces, with
%% no_new_privs, an empty bounding set and nothing of /run but the
%% broker's directory bind-mounted at /run/procket, gets UDP 53 and TCP
%% 80 in its namespace (with no option: the default path) and serves
%% echo to socat there.
container(Config) ->
    Run = filename:dirname(?config(sock, Config)),
    Ns = "procket_ctb_container",
    _ = os:cmd("ip netns del " ++ Ns ++ " 2>/dev/null"),
    ok = run("ip netns add " ++ Ns ++ " && ip -n " ++ Ns ++ " link set lo up"),
    Script = filename:join(?config(stage, Config), "container.sh"),
    ok = file:write_file(Script,
                         ["#!/bin/sh\nset -e\n",
                          "mount -t tmpfs -o mode=755 none /run\n",
                          "mkdir /run/procket\n",
                          "mount --bind ", Run, " /run/procket\n",
                          "exec setpriv --reuid=65534 --regid=65534 --clear-groups "
                          "--no-new-privs --bounding-set=-all -- \"$@\"\n"]),
    ok = file:change_mode(Script, 8#755),
    Peer = peer_with(Config, os:find_executable("ip"),
                     ["netns", "exec", Ns, "unshare", "--mount", "--pid", "--fork",
                      "--mount-proc", Script, os:find_executable("erl")]),
    try
        OsPid = peer:call(Peer, os, getpid, []),
        "1" = OsPid,   % init of its PID namespace... or the erl it execs
        Status = peer:call(Peer, file, read_file, ["/proc/self/status"]),
        {ok, Bin} = Status,
        {match, _} = re:run(Bin, "CapBnd:\\s+0000000000000000"),
        {match, _} = re:run(Bin, "NoNewPrivs:\\s+1"),
        {ok, Runs} = peer:call(Peer, file, list_dir, ["/run"]),
        ["procket"] = Runs -- ["mount"],   % mount(8)'s own /run/mount
        {ok, _} = peer:call(Peer, procket_test_echo, udp_echo, [c_udp, 53, [{protocol, udp}], []],
                            ?CALL_TIMEOUT),
        {ok, _} = peer:call(Peer, procket_test_echo, tcp_echo,
                            [c_tcp, 80, [{protocol, tcp}, {backlog, 5}], []], ?CALL_TIMEOUT),
        [] = socket_uids("udp", 53),
        [?NOBODY] = ns_socket_uids(Ns, "udp", 53),
        [?NOBODY] = ns_socket_uids(Ns, "tcp", 80),
        "c\n" = os:cmd("echo c | ip netns exec " ++ Ns ++
                       " timeout 10 socat -t1 - udp4:127.0.0.1:53 2>/dev/null"),
        "c\n" = os:cmd("echo c | ip netns exec " ++ Ns ++
                       " timeout 10 socat -t1 - tcp4:127.0.0.1:80 2>/dev/null")
    after
        catch peer:stop(Peer),
        os:cmd("ip netns del " ++ Ns)
    end.

%% -o, -g and -m set who may connect; a directory others may write to
%% is refused.
socket_owner_mode(Config) ->
    Stage = ?config(stage, Config),
    Helper = ?config(helper, Config),
    Dir = filename:join(Stage, "grp"),
    ok = make_dir(Dir, 8#755),
    Sock = filename:join(Dir, "b.sock"),
    Port = open_port({spawn_executable, Helper},
                     [{args, ["-l", Sock, "-g", integer_to_list(?OTHER)]}, exit_status,
                      stderr_to_stdout]),
    Peer = nnp_peer(Config),
    try
        ok = wait_until(fun() -> is_socket(Sock) end, 50),
        {ok, #file_info{mode = Mode, uid = 0, gid = ?OTHER}} = file:read_link_info(Sock),
        8#660 = Mode band 8#777,
        {error, eacces} = peer:call(Peer, procket, open, [53, [{broker, Sock}, {protocol, udp}]],
                                    ?CALL_TIMEOUT),
        Member = peer_with(Config, os:find_executable("setpriv"),
                           ["--reuid=65534", "--regid=65534", "--groups=" ++
                            integer_to_list(?OTHER), "--no-new-privs", "--",
                            os:find_executable("erl")]),
        try
            {ok, _} = peer:call(Member, procket, open, [53, [{broker, Sock}, {protocol, udp}]],
                                ?CALL_TIMEOUT)
        after
            peer:stop(Member)
        end,
        %% unsafe directories
        Open = filename:join(Stage, "open"),
        ok = make_dir(Open, 8#1777),   % sticky too: refused
        Said = os:cmd(Helper ++ " -l " ++ Open ++ "/b.sock 2>&1; echo rc=$?"),
        {match, _} = re:run(Said, "writable by no one else.*rc=70", [dotall]),
        {error, enoent} = file:read_link_info(Open ++ "/b.sock"),
        Link = filename:join(Stage, "link"),
        ok = file:make_symlink(Dir, Link),
        Said2 = os:cmd(Helper ++ " -l " ++ Link ++ "/b2.sock 2>&1; echo rc=$?"),
        {match, _} = re:run(Said2, "no symlink.*rc=70", [dotall]),
        "procket: args: -m 999" ++ _ = os:cmd(Helper ++ " -l " ++ Dir ++ "/c.sock -m 999 2>&1"),
        "procket: args: -o no-such-user" ++ _ =
            os:cmd(Helper ++ " -l " ++ Dir ++ "/c.sock -o no-such-user 2>&1")
    after
        peer:stop(Peer),
        os:cmd("kill " ++ integer_to_list(element(2, erlang:port_info(Port, os_pid))))
    end.

%% Root through the broker is a caller like any other: a root with no
%% capability (a container's root, with an empty bounding set and
%% no_new_privs) gets what the policy grants root, not everything: no
%% port 600, no packet socket, no named namespace of the host's, until a
%% rule names root.
root_is_a_caller(Config) ->
    Sock = ?config(sock, Config),
    Ns = "procket_ctb_root",
    _ = os:cmd("ip netns del " ++ Ns ++ " 2>/dev/null"),
    ok = run("ip netns add " ++ Ns),
    Peer = peer_with(Config, os:find_executable("setpriv"),
                     ["--bounding-set=-all", "--inh-caps=-all", "--no-new-privs", "--",
                      os:find_executable("erl")]),
    Open = fun(Port, Opts) ->
                   peer:call(Peer, procket, open, [Port, [{broker, Sock} | Opts]], ?CALL_TIMEOUT)
           end,
    try
        Status = proc_status(peer:call(Peer, os, getpid, [])),
        ["0", "0", "0", "0"] = proplists:get_value("Uid", Status),
        ["0000000000000000"] = proplists:get_value("CapEff", Status),
        {ok, FD} = Open(53, [{protocol, udp}]),
        ok = peer:call(Peer, procket, close, [FD]),
        {error, eacces} = Open(600, [{protocol, tcp}]),
        {error, eacces} = Open(0, [{family, packet}]),
        {error, eacces} = Open(5353, [{protocol, udp}, {namespace, Ns}]),
        ok = write_policy("allow user root tcp port=600\n"),
        {ok, FD2} = Open(600, [{protocol, tcp}]),
        ok = peer:call(Peer, procket, close, [FD2]),
        {error, eacces} = Open(0, [{family, packet}])
    after
        peer:stop(Peer),
        os:cmd("ip netns del " ++ Ns)
    end.

%% A worker its caller stopped (SIGSTOP: after the switch to the caller's
%% uid the caller may) is ended at once, and workers that wait for a slow
%% log are not: 8 requests of one uid wait for a full /dev/log, 4 of
%% their workers are stopped and end within 300 ms, the others finish.
%% Every caller gets an error (no audit line, no grant); the broker
%% serves on.
stopped_workers(Config) ->
    Sock = ?config(sock, Config),
    Broker = ?config(broker_pid, Config),
    Log = full_log(),
    Peer = nnp_peer(Config),
    try
        Self = self(),
        [spawn_link(fun() ->
                            Self ! {opened, peer:call(Peer, procket, open,
                                                      [0, [{broker, Sock}, {protocol, udp}]],
                                                      ?CALL_TIMEOUT)}
                    end) || _ <- lists:seq(1, 8)],
        %% each waits up to 1 s for the log, as uid 65534: stop half
        ok = wait_until(fun() -> length([P || {P, ?NOBODY} <- children(Broker)]) >= 8 end, 50),
        Busy = [P || {P, ?NOBODY} <- children(Broker)],
        {Stop, Run} = lists:split(4, Busy),
        [ok = run("kill -STOP " ++ P) || P <- Stop],
        timer:sleep(300),
        Left = [P || {P, ?NOBODY} <- children(Broker)],
        ct:log("busy ~p, stopped ~p, left after 300 ms: ~p", [length(Busy), length(Stop), Left]),
        [] = Left -- Run,                     % the stopped ones ended
        ok = wait_until(fun() -> [P || {P, ?NOBODY} <- children(Broker)] =:= [] end, 40),
        Results = [receive {opened, R} -> R after 10000 -> no_answer end
                   || _ <- lists:seq(1, 8)],
        ct:log("~p", [Results]),
        [{error, _} = R || R <- Results],
        ok = no_log(Log),
        {ok, FD} = peer:call(Peer, procket, open, [0, [{broker, Sock}, {protocol, udp}]],
                             ?CALL_TIMEOUT),
        ok = peer:call(Peer, procket, close, [FD]),
        ok = idle_workers_replaced(Peer, Sock, Broker)
    after
        peer:stop(Peer),
        _ = no_log(Log)
    end.

%% What is not a root broker is not asked: a user listening at the path
%% gets no request ({error, eperm}; at the default path the helper is
%% used instead). A live socket of another kind at the path is not taken
%% for a stale one. A broker started through sudo serves every user, not
%% only the one sudo names.
not_a_broker(Config) ->
    Stage = ?config(stage, Config),
    Helper = ?config(helper, Config),
    Dir = filename:join(Stage, "squat"),
    ok = make_dir(Dir, 8#777),
    Squat = filename:join(Dir, "b.sock"),
    Squatter = open_port({spawn_executable, os:find_executable("setpriv")},
                         [{args, ["--reuid=65533", "--regid=65533", "--clear-groups",
                                  "socat", "UNIX-LISTEN:" ++ Squat ++ ",type=5,mode=666,fork",
                                  "STDOUT"]}, stderr_to_stdout]),
    Peer = nnp_peer(Config),
    try
        ok = wait_until(fun() -> is_socket(Squat) end, 50),
        {error, eperm} = peer:call(Peer, procket, open, [53, [{broker, Squat}, {protocol, udp}]],
                                   ?CALL_TIMEOUT),
        %% a root listener that sends back what was not asked for (a Unix
        %% socket for a UDP request): eproto, nothing kept
        Fake = filename:join(?config(stage, Config), "run/fake.sock"),
        Faker = spawn_link(fun() -> fake_broker(Fake) end),
        ok = wait_until(fun() -> is_socket(Fake) end, 50),
        ok = file:change_mode(Fake, 8#666),
        {error, eproto} = peer:call(Peer, procket, open, [53, [{broker, Fake}, {protocol, udp}]],
                                    ?CALL_TIMEOUT),
        unlink(Faker),
        exit(Faker, kill),
        %% a stream socket someone listens on is in use, not stale
        Live = filename:join(?config(stage, Config), "run/live.sock"),
        {ok, S} = socket:open(local, stream, default),
        ok = socket:bind(S, #{family => local, path => list_to_binary(Live)}),
        ok = socket:listen(S),
        Said = os:cmd(Helper ++ " -l " ++ Live ++ " 2>&1; echo rc=$?"),
        {match, _} = re:run(Said, "listens there already.*rc=70", [dotall]),
        true = is_socket(Live),
        ok = socket:close(S),
        ok = file:delete(Live),
        %% through sudo (SUDO_UID set): still every caller
        SudoSock = filename:join(?config(stage, Config), "run/sudo.sock"),
        Port = open_port({spawn_executable, os:find_executable("env")},
                         [{args, ["SUDO_UID=1000", "SUDO_GID=1000", "SUDO_USER=someone",
                                  Helper, "-l", SudoSock]}, exit_status, stderr_to_stdout]),
        try
            ok = wait_until(fun() -> is_socket(SudoSock) end, 50),
            {ok, FD} = peer:call(Peer, procket, open, [0, [{broker, SudoSock}, {protocol, udp}]],
                                 ?CALL_TIMEOUT),
            ok = peer:call(Peer, procket, close, [FD])
        after
            os:cmd("kill " ++ integer_to_list(element(2, erlang:port_info(Port, os_pid))))
        end
    after
        os:cmd("kill " ++ integer_to_list(element(2, erlang:port_info(Squatter, os_pid)))),
        peer:stop(Peer)
    end.

%% A caller in a user namespace of its own (root there, uid 65533 to the
%% host) and a network namespace of its own: the client takes the broker,
%% root unmapped in its namespace, for what it is (the overflow uid); the
%% broker serves it as uid 65533, in its network namespace.
user_namespace_caller(Config) ->
    Sock = ?config(sock, Config),
    Peer = peer_with(Config, os:find_executable("setpriv"),
                     ["--reuid=65533", "--regid=65533", "--clear-groups", "--",
                      os:find_executable("unshare"), "--user", "--map-root-user", "--net",
                      os:find_executable("erl")]),
    try
        OsPid = peer:call(Peer, os, getpid, []),
        {ok, FD} = peer:call(Peer, procket, open, [5353, [{broker, Sock}, {protocol, udp}]],
                             ?CALL_TIMEOUT),
        {ok, Udp} = file:read_file("/proc/" ++ OsPid ++ "/net/udp"),
        [?OTHER] = uids(binary_to_list(Udp), "udp", 5353),
        [] = socket_uids("udp", 5353),
        ok = peer:call(Peer, procket, close, [FD])
    after
        peer:stop(Peer)
    end.

%% A broker whose backlog stays full (here a root listener that never
%% accepts): 12 opens wait at once, each {error, timeout} after its
%% helper_timeout, while no scheduler of the VM waits with them: the VM's
%% file operations (on its dirty I/O schedulers) go on meanwhile.
full_backlog(Config) ->
    Full = filename:join(?config(stage, Config), "run/full.sock"),
    {ok, L} = socket:open(local, seqpacket, default),
    ok = socket:bind(L, #{family => local, path => list_to_binary(Full)}),
    ok = socket:listen(L, 0),
    ok = file:change_mode(Full, 8#666),
    {ok, Filler} = socket:open(local, seqpacket, default),
    _ = socket:connect(Filler, #{family => local, path => list_to_binary(Full)}, 0),
    Peer = nnp_peer(Config),
    try
        Self = self(),
        [spawn_link(fun() ->
                            Self ! {opened, peer:call(Peer, procket, open,
                                                      [53, [{broker, Full}, {protocol, udp},
                                                            {helper_timeout, 2000}]],
                                                      ?CALL_TIMEOUT)}
                    end) || _ <- lists:seq(1, 12)],
        timer:sleep(300),
        T0 = erlang:monotonic_time(millisecond),
        {ok, _} = peer:call(Peer, file, read_file_info, ["/"], ?CALL_TIMEOUT),
        Took = erlang:monotonic_time(millisecond) - T0,
        ct:log("a file operation while 12 opens wait: ~p ms", [Took]),
        true = Took < 500,
        Results = [receive {opened, R} -> R after 10000 -> no_answer end
                   || _ <- lists:seq(1, 12)],
        [{error, timeout} = R || R <- Results]
    after
        peer:stop(Peer),
        socket:close(Filler),
        socket:close(L),
        file:delete(Full)
    end.

%% The broker outlives the helper's watchdog (30 s): still the same
%% process, and serving.
outlives_watchdog(Config) ->
    Left = ?WATCHDOG_S + 2 - (erlang:monotonic_time(second) - ?config(broker_started, Config)),
    Left > 0 andalso timer:sleep(Left * 1000),
    Broker = ?config(broker_pid, Config),
    {ok, _} = file:read_file_info("/proc/" ++ Broker),
    Peer = nnp_peer(Config),
    try
        {ok, _} = peer:call(Peer, procket, open,
                            [53, [{broker, ?config(sock, Config)}, {protocol, udp}]],
                            ?CALL_TIMEOUT)
    after
        peer:stop(Peer)
    end.

%% SIGTERM: exit status 0, the socket file removed, no worker left; a
%% second broker on the same path refuses; a stale socket file does not
%% stop a restart.
stop_cleanly(Config) ->
    Helper = ?config(helper, Config),
    Dir = filename:join(?config(stage, Config), "stop"),
    ok = make_dir(Dir, 8#755),
    Sock = filename:join(Dir, "b.sock"),
    %% stale: a socket file nobody listens on
    {ok, Stale} = socket:open(local, seqpacket, default),
    ok = socket:bind(Stale, #{family => local, path => list_to_binary(Sock)}),
    ok = socket:close(Stale),
    Port = open_port({spawn_executable, Helper}, [{args, ["-l", Sock]}, exit_status,
                                                  stderr_to_stdout]),
    {os_pid, Pid} = erlang:port_info(Port, os_pid),
    ok = wait_until(fun() -> length(children(integer_to_list(Pid))) =:= 8 end, 50),
    "procket: broker: " ++ Second = os:cmd(Helper ++ " -l " ++ Sock ++ " 2>&1"),
    {match, _} = re:run(Second, "listens there already"),
    ok = run("kill " ++ integer_to_list(Pid)),
    receive {Port, {exit_status, 0}} -> ok after 10000 -> ct:fail(broker_did_not_stop) end,
    {error, enoent} = file:read_link_info(Sock),
    "" = os:cmd("pgrep -f 'procket -l " ++ Sock ++ "'").

%% --- helpers ------------------------------------------------------------

%% Listens at Path as root and answers one request with success and a
%% Unix socket of its own (procket's reply: magic, version, type 2,
%% length 12, error 0, flags 0).
fake_broker(Path) ->
    {ok, L} = procket:socket(unix, seqpacket, 0),
    ok = procket:bind(L, sun(Path)),
    ok = procket:listen(L, 5),
    {ok, C} = accept_retry(L, 100),
    _ = raw_wait(C, 50),
    {ok, Other} = procket:socket(unix, dgram, 0),
    ok = procket:sendmsg(C, <<"PK", 1, 2, 0, 12, 0:48>>, 0, [{1, 1, <<Other:32/native>>}]),
    receive after infinity -> ok end.

accept_retry(L, N) ->
    case procket:accept(L) of
        {error, eagain} when N > 0 -> timer:sleep(50), accept_retry(L, N - 1);
        Other -> Other
    end.

nnp_setpriv(Uid) ->
    U = integer_to_list(Uid),
    ["setpriv", "--reuid=" ++ U, "--regid=" ++ U, "--clear-groups", "--no-new-privs", "--",
     os:find_executable("erl")].

nnp_peer(Config) ->
    [_ | Args] = nnp_setpriv(?NOBODY),
    peer_with(Config, os:find_executable("setpriv"), Args).

peer_with(Config, Exec, ExecArgs) ->
    {ok, Peer, _Node} = peer:start(
                          #{connection => standard_io,
                            exec => {Exec, ExecArgs},
                            args => ["-pa", ?config(ebin, Config),
                                     "-pa", ?config(test_ebin, Config)],
                            env => [{"HOME", ?config(home, Config)}]}),
    Peer.

%% Connects to the broker, sends Msg (with control data), and says what
%% came back: `closed' when the broker's worker closed the connection
%% with no descriptor, or {reply, Bytes}.
raw_exchange(Sock, Msg, Ctrl) ->
    {ok, FD} = procket:socket(unix, seqpacket, 0),
    ok = procket:connect(FD, sun(Sock)),
    ok = procket:sendmsg(FD, Msg, 0, Ctrl),
    Result = raw_wait(FD, 50),
    ok = procket:close(FD),
    Result.

raw_wait(_FD, 0) ->
    no_answer;
raw_wait(FD, N) ->
    case procket:recvmsg(FD, 256, 0, 64) of
        {ok, <<>>, _, []} -> closed;
        {ok, Bytes, _, []} when byte_size(Bytes) > 0 -> {reply, Bytes};
        {error, econnreset} -> closed;
        {error, eagain} -> timer:sleep(100), raw_wait(FD, N - 1);
        Other -> Other
    end.

raw_connect_close(Sock) ->
    {ok, FD} = procket:socket(unix, seqpacket, 0),
    ok = procket:connect(FD, sun(Sock)),
    procket:close(FD).

sun(Path) ->
    <<1:16/native, (list_to_binary(Path))/binary, 0>>.

%% A syslog socket at /dev/log (private to the suite: scripts/ct.sh) that
%% reads nothing, its queue filled: an audit line waits for room, up to
%% its 1 s, as uid 65534.
full_log() ->
    {error, enoent} = file:read_link_info("/dev/log"),
    {ok, Log} = socket:open(local, dgram, default),
    ok = socket:bind(Log, #{family => local, path => <<"/dev/log">>}),
    ok = file:change_mode("/dev/log", 8#666),
    {ok, Fill} = socket:open(local, dgram, default),
    ok = socket:connect(Fill, #{family => local, path => <<"/dev/log">>}),
    ct:log("~p lines fill /dev/log", [fill(Fill, 0)]),
    ok = socket:close(Fill),
    Log.

no_log(Log) ->
    _ = socket:close(Log),
    file:delete("/dev/log").

fill(S, N) ->
    case socket:send(S, <<"<86>x">>, nowait) of
        ok -> fill(S, N + 1);
        {select, _} -> N;
        {error, _} -> N
    end.

%% The broker's children: [{Pid, Uid}].
children(Pid) ->
    [case string:lexemes(L, " ") of [P, U] -> {P, list_to_integer(U)} end
     || L <- string:lexemes(os:cmd("ps -o pid=,uid= --ppid " ++ Pid), "\n")].

broker_state(Pid) ->
    {ok, Fds} = file:list_dir("/proc/" ++ Pid ++ "/fd"),
    Status = proc_status(Pid),
    [Rss, "kB"] = proplists:get_value("VmRSS", Status),
    #{fds => length(Fds), rss_kb => list_to_integer(Rss), workers => length(children(Pid))}.

proc_status(OsPid) ->
    {ok, Bin} = file:read_file("/proc/" ++ OsPid ++ "/status"),
    [case string:split(L, ":") of
         [K, V] -> {K, string:lexemes(V, " \t")};
         [K] -> {K, []}
     end || L <- string:lexemes(binary_to_list(Bin), "\n")].

is_socket(Path) ->
    case file:read_link_info(Path) of
        {ok, #file_info{type = other}} -> true;
        _ -> false
    end.

write_policy(Text) ->
    ok = file:write_file(?POLICY, Text),
    ok = file:change_owner(?POLICY, 0, 0),
    file:change_mode(?POLICY, 8#644).

socat(Payload, Addr) ->
    os:cmd("echo " ++ Payload ++ " | timeout 10 socat -t1 - " ++ Addr ++ " 2>/dev/null").

%% The uids of the sockets bound to local Port (listening ones for TCP).
socket_uids(Proto, Port) ->
    {ok, Bin} = file:read_file("/proc/net/" ++ Proto),
    uids(binary_to_list(Bin), Proto, Port).

ns_socket_uids(Ns, Proto, Port) ->
    uids(os:cmd("ip netns exec " ++ Ns ++ " cat /proc/net/" ++ Proto), Proto, Port).

uids(Text, Proto, Port) ->
    [list_to_integer(Uid)
     || L <- tl(string:lexemes(Text, "\n")),
        [_, Local, _, St, _, _, _, Uid | _] <- [string:lexemes(L, " ")],
        list_to_integer(lists:last(string:split(Local, ":", trailing)), 16) =:= Port,
        not lists:prefix("tcp", Proto) orelse St =:= "0A"].

run(Cmd) ->
    case os:cmd(Cmd ++ " >/dev/null 2>&1; echo $?") of
        "0\n" -> ok;
        Other -> {error, {Cmd, Other}}
    end.

%% Workers that end or stop having said nothing (a caller stops its
%% worker before the broker heard of it; the OOM killer) are seen all the
%% same and replaced: every waiting one, stopped then killed, and each
%% time the broker serves the next request.
idle_workers_replaced(Peer, Sock, Broker) ->
    [begin
         ok = wait_until(fun() -> length([P || {P, 0} <- children(Broker)]) =:= 8 end, 50),
         Idle = [P || {P, 0} <- children(Broker)],
         [ok = run("kill -" ++ Sig ++ " " ++ P) || P <- Idle],
         ok = wait_until(fun() -> Idle -- [P || {P, _} <- children(Broker)] =:= Idle end, 50),
         {ok, FD} = peer:call(Peer, procket, open, [0, [{broker, Sock}, {protocol, udp}]],
                              ?CALL_TIMEOUT),
         ok = peer:call(Peer, procket, close, [FD])
     end || Sig <- ["STOP", "KILL"]],
    ok.

wait_until(Fun, Tries) ->
    case Fun() of
        true -> ok;
        false when Tries > 0 -> timer:sleep(100), wait_until(Fun, Tries - 1);
        false -> {error, gave_up}
    end.

