%% Run by procket_exec_SUITE in a VM that procket-exec started with
%% `-l 80 -l udp:53': takes both sockets with procket:listen_fds/0,
%% prints what it got, echoes one TCP line and one UDP datagram, then
%% halts (status 0 only if both echoes went out).
-module(procket_exec_echo).
-export([start/0]).

start() ->
    FDs = procket:listen_fds(),
    io:format("fds ~0p pid ~s listen_pid ~s~n", [FDs, os:getpid(), os:getenv("LISTEN_PID")]),
    [{"tcp-80", T}, {"udp-53", U}] = FDs,
    {ok, L} = gen_tcp:listen(0, [{fd, T}, binary, {active, false}]),
    {ok, S} = gen_udp:open(0, [{fd, U}, binary, {active, false}]),
    Self = self(),
    spawn_link(fun() ->
                       {ok, {A, P, D}} = gen_udp:recv(S, 0),
                       ok = gen_udp:send(S, A, P, D),
                       Self ! udp_done
               end),
    spawn_link(fun() ->
                       {ok, C} = gen_tcp:accept(L),
                       {ok, D} = gen_tcp:recv(C, 0),
                       ok = gen_tcp:send(C, D),
                       ok = gen_tcp:close(C),
                       Self ! tcp_done
               end),
    io:format("ready~n"),
    receive udp_done -> ok end,
    receive tcp_done -> ok end,
    io:format("done~n"),
    erlang:halt(0).
