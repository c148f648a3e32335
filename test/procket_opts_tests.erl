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
                   backlog => 0, flags => 0},
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
     ?_assertError(badarg, C([{exec, "sudo"}]))].

pipe_and_timeout_test_() ->
    P = fun(Opts) -> plan(53, Opts) end,
    [?_assertMatch(#{pipe := <<"/tmp/d/sock">>}, P([{pipe, "/tmp/d/sock"}])),
     ?_assertEqual(filename:join(element(2, file:get_cwd()), "rel/sock"),
                   binary_to_list(maps:get(pipe, P([{pipe, "rel/sock"}])))),
     ?_assertMatch(#{timeout := 250}, P([{timeout, 250}])),
     ?_assertError(badarg, P([{pipe, lists:duplicate(108, $a)}])),
     ?_assertError(badarg, P([{pipe, ""}])),
     ?_assertError(badarg, P([{pipe, "/tmp/x" ++ [0] ++ "y"}])),
     ?_assertError(badarg, P([{timeout, 0}])),
     ?_assertError(badarg, P([{timeout, infinity}]))].

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
           {53, [{backlog, -1}]}, {53, [{backlog, 65536}]}],
    [?_assertError(badarg, procket_opts:parse(Port, Opts, ?HELPER))
     || {Port, Opts} <- Bad].

not_implemented_test_() ->
    [?_assertEqual({error, enotsup},
                   procket_opts:parse(53, [{namespace, "x"}], ?HELPER)),
     ?_assertEqual({error, enotsup},
                   procket_opts:parse(0, [{dev, "tun0"}], ?HELPER)),
     ?_assertEqual({error, eafnosupport},
                   procket_opts:parse(0, [{family, packet}], ?HELPER)),
     ?_assertEqual({error, eafnosupport},
                   procket_opts:parse(0, [{family, 1}], ?HELPER))].

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
