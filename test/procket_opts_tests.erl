%% EUnit tests for the pure option handling of procket:open/2.
-module(procket_opts_tests).

-include_lib("eunit/include/eunit.hrl").

-define(HELPER, "/opt/procket/priv/procket").

plan(Port, Opts) ->
    {ok, Plan} = procket_opts:parse(Port, Opts, ?HELPER),
    Plan.

req(Port, Opts) ->
    maps:get(request, plan(Port, Opts)).

defaults_test() ->
    ?assertEqual(#{family => 2, type => 1, protocol => 6, port => 80,
                   addr => <<>>, scope_id => 0, ifname => <<>>,
                   backlog => 0, flags => 0, netns => <<>>, device => 0},
                 req(80, [])),
    #{commands := Cmds, pipe := Pipe, timeout := T} = plan(80, []),
    ?assertEqual([[<<?HELPER>>], [<<"sudo">>, <<"-n">>, <<?HELPER>>]], Cmds),
    ?assertEqual(undefined, Pipe),
    ?assertEqual(5000, T).

type_follows_protocol_test_() ->
    [?_assertMatch(#{type := 2, protocol := 17}, req(53, [{protocol, udp}])),
     ?_assertMatch(#{type := 1, protocol := 6}, req(53, [{protocol, tcp}])),
     ?_assertMatch(#{type := 3, protocol := 1}, req(0, [{protocol, icmp}])),
     ?_assertMatch(#{type := 3, protocol := 58},
                   req(0, [{protocol, 'ipv6-icmp'}, {family, inet6}])),
     ?_assertMatch(#{type := 2, protocol := 17}, req(53, [{type, dgram}])),
     ?_assertMatch(#{type := 2, protocol := 1},
                   req(0, [{type, dgram}, {protocol, icmp}])),
     ?_assertMatch(#{type := 2, protocol := 17},
                   req(53, [{protocol, 17}, {type, 2}, {family, 2}]))].

family_follows_address_test_() ->
    [?_assertMatch(#{family := 10, addr := <<0:120, 1>>},
                   req(53, [{ip, "::1"}])),
     ?_assertMatch(#{family := 10, addr := <<0:120, 1>>},
                   req(53, [{ip, {0, 0, 0, 0, 0, 0, 0, 1}}])),
     ?_assertMatch(#{family := 2, addr := <<127, 0, 0, 1>>},
                   req(53, [{ip, {127, 0, 0, 1}}])),
     ?_assertMatch(#{family := 2, addr := <<10, 1, 2, 3>>},
                   req(53, [{ip, <<"10.1.2.3">>}])),
     ?_assertMatch(#{family := 10, addr := <<>>},
                   req(53, [{family, inet6}])),
     ?_assertError(badarg, req(53, [{ip, "::1"}, {family, inet}]))].

dual_stack_test_() ->
    [?_assertMatch(#{flags := 0}, req(53, [{family, inet6}])),
     ?_assertMatch(#{flags := 0},
                   req(53, [{family, inet6}, {ipv6_v6only, true}])),
     ?_assertMatch(#{flags := 1},
                   req(53, [{family, inet6}, {ipv6_v6only, false}])),
     ?_assertMatch(#{flags := 0}, req(53, [{ipv6_v6only, false}])),
     ?_assertError(badarg, req(53, [{ipv6_v6only, yes}])),
     ?_assertMatch(#{flags := 0, type := 3, protocol := 58},
                   req(0, [{family, inet6}, {type, raw}, {protocol, icmp6}])),
     ?_assertError(badarg, req(0, [{family, inet6}, {type, raw},
                                   {protocol, icmp6}, {ipv6_v6only, false}]))].

interface_and_backlog_test_() ->
    [?_assertMatch(#{ifname := <<"eth0">>}, req(53, [{interface, "eth0"}])),
     ?_assertMatch(#{ifname := <<"br-1.2">>}, req(53, [{interface, <<"br-1.2">>}])),
     ?_assertMatch(#{backlog := 128}, req(80, [{backlog, 128}])),
     ?_assertError(badarg, req(53, [{protocol, udp}, {backlog, 5}]))].

commands_test_() ->
    C = fun(Opts) -> maps:get(commands, plan(53, Opts)) end,
    [?_assertEqual([[<<"sudo">>, <<"priv/procket">>]],
                   C([{progname, "sudo priv/procket"}])),
     ?_assertEqual([[<<"/x/procket">>], [<<"sudo">>, <<"/x/procket">>]],
                   C([{progname, "/x/procket"}, {exec, ["", "sudo"]}])),
     ?_assertEqual([[<<"doas">>, <<?HELPER>>]], C([{exec, ["doas"]}])),
     %% no shell: metacharacters stay in the words, nothing is expanded
     ?_assertEqual([[<<"/bin/x;rm">>, <<"$(id)">>, <<"`id`">>]],
                   C([{progname, "/bin/x;rm\t$(id)  `id`"}])),
     ?_assertError(badarg, C([{progname, ""}])),
     ?_assertError(badarg, C([{progname, "   "}])),
     ?_assertError(badarg, C([{progname, "a\nb"}])),
     ?_assertError(badarg, C([{progname, "a" ++ [0] ++ "b"}])),
     ?_assertError(badarg, C([{exec, []}])),
     ?_assertError(badarg, C([{exec, "sudo"}])),
     ?_assertError(badarg, C([{exec, ["", "sudo" | doas]}]))].

pipe_and_timeout_test_() ->
    P = fun(Opts) -> plan(53, Opts) end,
    [?_assertMatch(#{pipe := <<"/tmp/d/sock">>}, P([{pipe, "/tmp/d/sock"}])),
     ?_assertEqual(filename:join(element(2, file:get_cwd()), "rel/sock"),
                   binary_to_list(maps:get(pipe, P([{pipe, "rel/sock"}])))),
     ?_assertMatch(#{timeout := 250}, P([{helper_timeout, 250}])),
     ?_assertMatch(#{timeout := 16#7fffffff}, P([{helper_timeout, infinity}])),
     ?_assertMatch(#{timeout := 5000}, P([])),
     ?_assertError(badarg, P([{pipe, lists:duplicate(108, $a)}])),
     ?_assertError(badarg, P([{pipe, ""}])),
     ?_assertError(badarg, P([{pipe, "/tmp/x" ++ [0] ++ "y"}])),
     ?_assertError(badarg, P([{helper_timeout, 0}])),
     ?_assertError(badarg, P([{helper_timeout, "5"}]))].

%% {timeout, _} is the caller's (a ping library's reply timeout): ignored
%% whatever its value, as every option procket does not own.
foreign_options_test_() ->
    P = fun(Opts) -> plan(53, Opts) end,
    Base = P([]),
    [?_assertEqual(Base, P([{timeout, T}])) || T <- [1, 5, 0, -1, infinity, "x", {a}]] ++
    [?_assertEqual(Base, P([{O, V}]))
     || O <- [ttl, active, reuseaddr, mode, setuid, filter, id, sequence, netns, port, fd],
        V <- [0, -1, infinity, true, <<1>>, {x, y}]] ++
    [?_assertEqual(Base, P([binary, inet, inet6, {active, false}]))].

%% {ip, any} and {ip, loopback} mean what they mean to gen_tcp and gen_udp.
ip_like_gen_tcp_test_() ->
    R = fun(Opts) -> maps:get(request, element(2, procket_opts:parse(53, Opts, "/p"))) end,
    [?_assertMatch(#{family := 2, addr := <<>>}, R([{ip, any}])),
     ?_assertMatch(#{family := 10, addr := <<>>}, R([{ip, any}, {family, inet6}])),
     ?_assertMatch(#{family := 2, addr := <<127, 0, 0, 1>>}, R([{ip, loopback}])),
     ?_assertMatch(#{family := 10, addr := <<0:120, 1>>},
                   R([{ip, loopback}, {family, inet6}]))].

%% Every value procket can never accept raises badarg.
bad_values_test_() ->
    Bad = [{-1, []}, {65536, []}, {1 bsl 70, []}, {"53", []}, {port, []},
           {53, not_a_list}, {53, [{protocol, udp} | improper]},
           {53, [{protocol, nosuch}]}, {53, [{protocol, 256}]},
           {53, [{protocol, -1}]}, {53, [{family, nosuch}]},
           {53, [{type, nosuch}]}, {53, [{type, 4}, {protocol, udp}]},
           {53, [{ip, "300.1.1.1"}]}, {53, [{ip, {1, 2, 3}}]},
           {53, [{ip, {256, 0, 0, 1}}]}, {53, [{ip, "localhost"}]},
           {53, [{ip, 42}]},
           {53, [{interface, lists:duplicate(16, $a)}]},
           {53, [{interface, "eth0" ++ [0]}]}, {53, [{interface, ""}]},
           {53, [{interface, "../x"}]}, {53, [{interface, "a b"}]},
           {53, [{interface, "-x"}]}, {53, [{interface, ".."}]},
           {53, [{interface, "eth%d"}]}, {0, [{dev, {tun, "wg%d"}}]},
           {0, [{dev, {tap, "%d"}}]},
           {53, [{backlog, -1}]}, {53, [{backlog, 65536}]}],
    [?_assertError(badarg, procket_opts:parse(Port, Opts, ?HELPER))
     || {Port, Opts} <- Bad].

refused_test_() ->
    [?_assertEqual({error, eacces},
                   procket_opts:parse(0, [{dev, "tun0"}], ?HELPER)),
     ?_assertEqual({error, eacces},
                   procket_opts:parse(0, [{dev, "net/tap"}], ?HELPER)),
     ?_assertEqual({error, eacces},
                   procket_opts:parse(0, [{dev, "/dev/net/tun/"}], ?HELPER)),
     ?_assertEqual({error, eacces},
                   procket_opts:parse(0, [{dev, "net//tun"}], ?HELPER)),
     ?_assertEqual({error, eafnosupport},
                   procket_opts:parse(0, [{family, netlink}], ?HELPER)),
     ?_assertEqual({error, eafnosupport},
                   procket_opts:parse(0, [{family, 1}], ?HELPER))].

htons(N) -> <<V:16/native>> = <<N:16/big>>, V.

packet_test_() ->
    [?_assertMatch(#{family := 17, type := 3, port := 0, ifname := <<>>,
                     device := 0}, req(0, [{family, packet}])),
     ?_assertEqual(htons(3), maps:get(protocol, req(0, [{family, packet}]))),
     ?_assertEqual(htons(16#0800), maps:get(protocol, req(0, [{family, packet},
                                                               {protocol, ip}]))),
     ?_assertEqual(htons(16#86DD), maps:get(protocol, req(0, [{family, packet},
                                                               {protocol, ipv6}]))),
     ?_assertEqual(htons(16#0806), maps:get(protocol, req(0, [{family, packet},
                                                               {protocol, arp}]))),
     %% a number goes to socket(2) as it is, as older callers expect
     ?_assertEqual(16#0008, maps:get(protocol, req(0, [{family, packet},
                                                        {protocol, 16#0008}]))),
     ?_assertMatch(#{type := 2, ifname := <<"veth0">>},
                   req(0, [{family, packet}, {type, dgram}, {interface, "veth0"}])),
     ?_assertError(badarg, req(1, [{family, packet}])),
     ?_assertError(badarg, req(0, [{family, packet}, {type, stream}])),
     ?_assertError(badarg, req(0, [{family, packet}, {ip, "127.0.0.1"}])),
     ?_assertError(badarg, req(0, [{family, packet}, {protocol, 65536}])),
     ?_assertError(badarg, req(0, [{family, packet}, {protocol, tcp}]))].

device_test_() ->
    [?_assertMatch(#{device := 1, family := 0, type := 0, protocol := 0,
                     ifname := <<>>, flags := 0}, req(0, [{dev, tun}])),
     ?_assertMatch(#{device := 2, ifname := <<"tap9">>}, req(0, [{dev, {tap, "tap9"}}])),
     ?_assertMatch(#{device := 1, ifname := <<"t0">>, flags := 2},
                   req(0, [{dev, {tun, <<"t0">>}}, {packet_info, true}])),
     ?_assertError(badarg, req(53, [{dev, tun}])),
     ?_assertError(badarg, req(0, [{dev, tunnel}])),
     ?_assertError(badarg, req(0, [{dev, {tun, "a/b"}}])),
     ?_assertError(badarg, req(0, [{dev, {tun, lists:duplicate(16, $a)}}])),
     ?_assertError(badarg, req(0, [{dev, tun}, {interface, "x"}])),
     ?_assertError(badarg, req(0, [{dev, tun}, {protocol, udp}])),
     ?_assertError(badarg, req(0, [{dev, tun}, {packet_info, yes}])),
     ?_assertError(badarg, req(0, [{dev, "a\0b"}])),
     %% the clone device, unattached: no name, no packet_info (its holder
     %% chooses IFF_NO_PI with TUNSETIFF)
     ?_assertMatch(#{device := 3, family := 0, type := 0, ifname := <<>>, flags := 0},
                   req(0, [{dev, "net/tun"}])),
     ?_assertMatch(#{device := 3}, req(0, [{dev, <<"/dev/net/tun">>}])),
     ?_assertMatch(#{device := 3, netns := <<"lab">>},
                   req(0, [{dev, "net/tun"}, {namespace, "lab"}])),
     ?_assertMatch(#{device := 3}, req(0, [{dev, "net/tun"}, {packet_info, false}])),
     ?_assertError(badarg, req(0, [{dev, "net/tun"}, {packet_info, true}])),
     ?_assertError(badarg, req(53, [{dev, "net/tun"}]))].

namespace_test_() ->
    [?_assertMatch(#{netns := <<>>}, req(53, [])),
     ?_assertMatch(#{netns := <<"blue">>}, req(53, [{namespace, "blue"}])),
     ?_assertMatch(#{netns := <<"a.b-c_9">>, device := 1},
                   req(0, [{namespace, <<"a.b-c_9">>}, {dev, tun}])),
     %% the older library's form: the path ip netns keeps it at
     ?_assertMatch(#{netns := <<"foo">>}, req(53, [{namespace, "/var/run/netns/foo"}])),
     ?_assertMatch(#{netns := <<"foo">>}, req(53, [{namespace, <<"/run/netns/foo">>}]))]
    ++ [?_assertError(badarg, req(53, [{namespace, N}]))
        || N <- ["", ".", "..", ".x", "-x", "/proc/1/ns/net", "../x", "a/b",
                 "/run/netns/", "/run/netns/a/b", "/run/netns/..", "/var/run/netns/../x",
                 "/run/netns//x", "/tmp/netns/x", "run/netns/x",
                 "a b", "$(x)", "`x`", "a;b", lists:duplicate(256, $n), 42,
                 "a\0"]].

%% Options meant for other libraries are ignored, not refused.
unknown_options_ignored_test() ->
    ?assertEqual(req(53, [{protocol, udp}]),
                 req(53, [inet6, {ttl, 5}, {protocol, udp}, binary,
                          {active, false}])).

first_option_wins_test() ->
    ?assertMatch(#{protocol := 17}, req(53, [{protocol, udp}, {protocol, tcp}])).

split_command_test_() ->
    [?_assertEqual([<<"sudo">>, <<"-n">>, <<"/p">>],
                   procket_opts:split_command("  sudo\t-n /p ")),
     ?_assertEqual([<<"a">>], procket_opts:split_command(<<"a">>)),
     ?_assertEqual([], procket_opts:split_command("")),
     ?_assertError(badarg, procket_opts:split_command([1 bsl 30])),
     ?_assertError(badarg, procket_opts:split_command({x}))].

names_test_() ->
    [?_assertEqual(2, procket_opts:family(inet)),
     ?_assertEqual(10, procket_opts:family(inet6)),
     ?_assertEqual(17, procket_opts:family(packet)),
     ?_assertEqual(3, procket_opts:type(raw)),
     ?_assertEqual(58, procket_opts:protocol(icmp6)),
     ?_assertEqual(255, procket_opts:protocol(raw)),
     ?_assertError(badarg, procket_opts:family(-1)),
     ?_assertError(badarg, procket_opts:type("stream")),
     ?_assertError(badarg, procket_opts:protocol(1.0))].

%% The public wrappers refuse bad arguments before reaching the NIF.
api_badarg_test_() ->
    [?_assertError(badarg, procket:close(-1)),
     ?_assertError(badarg, procket:close(foo)),
     ?_assertError(badarg, procket:listen(53, foo)),
     ?_assertError(badarg, procket:open(-5, []))].

priv_dir_test() ->
    Dir = procket:priv_dir(),
    ?assert(filelib:is_dir(Dir)),
    ?assertEqual(filename:join(Dir, "procket"), procket:helper_path()).

%% {broker, Path}: absolute, as a binary; false: none; the application
%% environment's broker when the option is not given. (The default path,
%% /run/procket/procket.sock, is not made here: procket_broker_SUITE.)
broker_test_() ->
    Broker = fun(Opts) -> maps:with([broker, broker_default], plan(53, Opts)) end,
    {setup, fun() -> application:load(procket) end,
     fun(_) -> application:unset_env(procket, broker) end,
     [?_assertEqual(#{broker => <<"/run/b.sock">>, broker_default => false},
                    Broker([{broker, "/run/b.sock"}])),
      ?_assertEqual(#{broker => <<"/run/b.sock">>, broker_default => false},
                    Broker([{broker, <<"/run/b.sock">>}, {progname, "/x"}])),
      ?_assertMatch(#{broker := <<"/", _/binary>>}, Broker([{broker, "rel.sock"}])),
      ?_assertEqual(#{broker => undefined, broker_default => false},
                    Broker([{broker, false}])),
      ?_assertError(badarg, plan(53, [{broker, ""}])),
      ?_assertError(badarg, plan(53, [{broker, lists:duplicate(108, $a)}])),
      ?_assertError(badarg, plan(53, [{broker, true}])),
      ?_test(begin
                 ok = application:set_env(procket, broker, <<"/env.sock">>),
                 ?assertEqual(#{broker => <<"/env.sock">>, broker_default => false},
                              Broker([])),
                 %% the option wins over the environment
                 ?assertEqual(#{broker => undefined, broker_default => false},
                              Broker([{broker, false}])),
                 ok = application:set_env(procket, broker, false),
                 ?assertEqual(#{broker => undefined, broker_default => false},
                              Broker([{protocol, udp}])),
                 ok = application:unset_env(procket, broker)
             end)]}.
