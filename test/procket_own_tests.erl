%% @doc EUnit tests of procket_own's option rules (pure): which options
%% procket reads, which the OTP module gets, and what is badarg before
%% anything is opened.
-module(procket_own_tests).

-include_lib("eunit/include/eunit.hrl").

split_test_() ->
    [?_assertEqual({[], []}, procket_own:split(udp, [])),
     %% procket's own names stay with procket
     ?_assertEqual({[{protocol, udp}, {ip, {127, 0, 0, 1}}, {broker, false}], [binary]},
                   procket_own:split(udp, [{protocol, udp}, {ip, {127, 0, 0, 1}}, binary,
                                           {broker, false}])),
     %% ipv6_v6only is procket's only: gen_* would set it again on a bound
     %% socket (einval); backlog goes to gen_tcp too, not to gen_udp
     ?_assertEqual({[{backlog, 5}, {ipv6_v6only, true}], [{backlog, 5}, {active, false}]},
                   procket_own:split(tcp, [{backlog, 5}, {ipv6_v6only, true}, {active, false}])),
     ?_assertEqual({[{backlog, 5}], [{active, false}]},
                   procket_own:split(udp, [{backlog, 5}, {active, false}])),
     %% everything else is the OTP module's, whatever its value
     ?_assertEqual({[], [inet6, {mode, binary}, {reuseaddr, true}, {timeout, x}]},
                   procket_own:split(udp, [inet6, {mode, binary}, {reuseaddr, true},
                                           {timeout, x}])),
     %% the descriptor is procket's to give
     ?_assertError(badarg, procket_own:split(udp, [{fd, 0}]))].

%% A socket of another kind, a device, an improper list: badarg, before
%% any helper runs.
badarg_test_() ->
    [?_assertError(badarg, procket:gen_udp_open(53, [{protocol, tcp}])),
     ?_assertError(badarg, procket:gen_udp_open(53, [{type, stream}])),
     ?_assertError(badarg, procket:gen_tcp_listen(80, [{protocol, udp}])),
     ?_assertError(badarg, procket:gen_tcp_listen(80, [{dev, tun}])),
     ?_assertError(badarg, procket:socket_open(80, [{dev, tun}])),
     ?_assertError(badarg, procket:gen_udp_open(53, [binary | bad])),
     ?_assertError(badarg, procket:gen_udp_open(53, not_a_list)),
     %% a bad value of procket's own reaches the caller as its badarg
     ?_assertError(badarg, procket:gen_udp_open(70000, [])),
     ?_assertError(badarg, procket:gen_udp_open(53, [{interface, <<"a/b">>}]))].
