%% EUnit tests of procket_ping: argument checks, which need no socket,
%% and, where net.ipv4.ping_group_range allows the VM's group ICMP
%% datagram sockets, pings of 127.0.0.1 (and ::1 where it is configured)
%% with the largest payload and timeouts beyond what `receive ... after'
%% takes. Elsewhere the same calls must fail with eacces (the raw
%% sockets from the helper are tested in procket_SUITE).
-module(procket_ping_tests).

-include_lib("eunit/include/eunit.hrl").

%% Improper lists, of hosts, of options, of procket options, or as a
%% host name, are badarg like any other bad argument.
improper_lists_test_() ->
    Dgram = [{socket, dgram}],
    [?_assertError(badarg, procket_ping:ping(["127.0.0.1" | foo], Dgram)),
     ?_assertError(badarg, procket_ping:ping(["127.0.0.1", "::1" | foo], Dgram)),
     ?_assertError(badarg, procket_ping:ping([{127, 0, 0, 1} | <<"x">>], Dgram)),
     ?_assertError(badarg, procket_ping:ping([<<"127.0.0.1">> | foo], Dgram)),
     ?_assertError(badarg, procket_ping:ping([[] | foo], Dgram)),
     ?_assertError(badarg, procket_ping:ping([foo | bar])),
     ?_assertError(badarg, procket_ping:ping("127.0.0.1" ++ foo, Dgram)),
     ?_assertError(badarg, procket_ping:ping([$l, $o | <<"calhost">>], Dgram)),
     ?_assertError(badarg, procket_ping:ping(["127.0.0.1" ++ foo], Dgram)),
     ?_assertError(badarg, procket_ping:ping([[$l | <<"ocalhost">>]], Dgram)),
     ?_assertError(badarg, procket_ping:ping("127.0.0.1", [{socket, dgram} | foo])),
     ?_assertError(badarg, procket_ping:ping("127.0.0.1", [{count, 1}, {socket, dgram} | x])),
     ?_assertError(badarg, procket_ping:ping("127.0.0.1", [{procket, [{timeout, 10} | x]}])),
     ?_assertError(badarg, procket_ping:ping("127.0.0.1",
                                             [{procket, [{exec, ["" | x]}]}, {socket, raw}])),
     %% and the proper ones still work (no sockets needed for no hosts)
     ?_assertEqual([], procket_ping:ping([], Dgram)),
     ?_assertEqual([], procket_ping:ping([], [{procket, []}]))].

other_bad_arguments_test_() ->
    [?_assertError(badarg, procket_ping:ping("127.0.0.1", [{size, 65001}])),
     ?_assertError(badarg, procket_ping:ping("127.0.0.1", [{size, -1}])),
     ?_assertError(badarg, procket_ping:ping("127.0.0.1", [{timeout, 0}])),
     ?_assertError(badarg, procket_ping:ping("127.0.0.1", [{interval, -1}])),
     ?_assertError(badarg, procket_ping:ping("127.0.0.1", notalist)),
     ?_assertError(badarg, procket_ping:ping(<<255>>, [])),
     ?_assertError(badarg, procket_ping:ping([-1], [])),
     ?_assertError(badarg, procket_ping:ping({1, 2, 3}, []))].

%% With ICMP datagram sockets allowed: a payload of 65000 bytes (the
%% most procket_ping takes; more than the 8192 bytes gen_udp reads by
%% default) comes back whole over IPv4 and IPv6, from several hosts at
%% once, and timeouts of 2^32 ms and more are waited for like any other
%% (the last reply ends the wait at once).
large_payload_and_timeout_test_() ->
    {timeout, 60, fun large_payload_and_timeout/0}.

large_payload_and_timeout() ->
    Hosts = ["127.0.0.1", "127.0.0.2" | case has_ipv6_loopback() of
                                             true -> ["::1"];
                                             false -> []
                                         end],
    Cases = [[{size, 65000}], [{size, 8185}], [{size, 0}],
             [{timeout, 1 bsl 32}], [{timeout, 1 bsl 40}, {size, 9000}],
             [{count, 2}, {timeout, 16#ffffffff}]],
    case dgram_allowed() of
        true ->
            lists:foreach(
              fun(Opts) ->
                      Count = proplists:get_value(count, Opts, 1),
                      Results = procket_ping:ping(Hosts, [{socket, dgram} | Opts]),
                      ?assertEqual(Hosts, [H || {H, _} <- Results]),
                      [?assertMatch({H, Opts, {ok, #{sent := Count, received := Count}}},
                                    {H, Opts, R}) || {H, R} <- Results]
              end, Cases);
        false ->
            ?assertEqual({error, eacces},
                         procket_ping:ping("127.0.0.1", [{socket, dgram}, {size, 65000},
                                                         {timeout, 1 bsl 40}]))
    end.

%% ICMP datagram sockets need one of the VM's groups in
%% net.ipv4.ping_group_range.
dgram_allowed() ->
    {ok, Range} = file:read_file("/proc/sys/net/ipv4/ping_group_range"),
    [Lo, Hi] = [binary_to_integer(X) || X <- string:lexemes(Range, " \t\n")],
    {ok, Status} = file:read_file("/proc/self/status"),
    Lines = string:lexemes(Status, "\n"),
    [<<"Gid:", Gids/binary>>] = [L || <<"Gid:", _/binary>> = L <- Lines],
    [<<"Groups:", Groups/binary>>] = [L || <<"Groups:", _/binary>> = L <- Lines],
    Mine = [binary_to_integer(X)
            || X <- string:lexemes(<<Gids/binary, " ", Groups/binary>>, " \t")],
    lists:any(fun(G) -> G >= Lo andalso G =< Hi end, Mine).

%% ::1 is configured: /proc/net/if_inet6 lists it (in hex, 32 digits)
has_ipv6_loopback() ->
    Loopback = <<(binary:copy(<<"0">>, 31))/binary, "1">>,
    case file:read_file("/proc/net/if_inet6") of
        {ok, Table} -> binary:match(Table, Loopback) =/= nomatch;
        {error, _} -> false
    end.
