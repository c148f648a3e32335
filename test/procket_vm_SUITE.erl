%% @doc The VM never crashes or stalls through procket: each case attacks
%% a fresh VM of its own (uid/gid 65534, ebin/ and priv/ staged in a
%% world-traversable directory) the way a careless or hostile caller of
%% the socket API could, then checks that the VM is alive and that every
%% scheduler answers: erlang:system_flag(multi_scheduling, block) returns
%% (normal and dirty schedulers alike must yield for it), and os:cmd/1
%% still works (the VM's child-setup socket is intact).
%%
%% Run by scripts/ct-vm.sh as root, in ct.sh's fresh network namespace.
-module(procket_vm_SUITE).

-include_lib("common_test/include/ct.hrl").

-export([all/0, suite/0, init_per_suite/1, end_per_suite/1]).
-export([vm_descriptors/1, sigio_refused/1, pointer_arguments/1,
         infinite_linger/1, in_flight_linger/1, purge_during_linger/1,
         fionbio_race/1]).

-define(CALL, 15000).

suite() -> [{timetrap, {minutes, 5}}].

all() ->
    [vm_descriptors, sigio_refused, pointer_arguments, infinite_linger,
     in_flight_linger, purge_during_linger, fionbio_race].

init_per_suite(Config) ->
    "0" = string:trim(os:cmd("id -u")),
    Root = case os:getenv("PROCKET_ROOT") of
               R when is_list(R), R =/= "" -> R;
               _ -> filename:absname(filename:join([?config(data_dir, Config), "..", ".."]))
           end,
    Stage = string:trim(os:cmd("mktemp -d /tmp/procket_vm.XXXXXX")),
    true = lists:prefix("/tmp/procket_vm.", Stage),
    ok = file:change_mode(Stage, 8#755),
    [begin
         ok = file:make_dir(filename:join(Stage, D)),
         {ok, Fs} = file:list_dir(filename:join(Root, D)),
         [{ok, _} = file:copy(filename:join([Root, D, F]), filename:join([Stage, D, F]))
          || F <- Fs]
     end || D <- ["ebin", "priv"]],
    TestEbin = filename:join(Stage, "testebin"),
    ok = file:make_dir(TestEbin),
    {ok, _} = compile:file(filename:join([Root, "test", "procket_vm_peer.erl"]),
                           [{outdir, TestEbin}, report]),
    "" = os:cmd("chmod -R a+rX " ++ Stage),
    [{stage, Stage} | Config].

end_per_suite(Config) ->
    Stage = ?config(stage, Config),
    true = lists:prefix("/tmp/procket_vm.", Stage),
    ok = file:del_dir_r(Stage).

%%% ------------------------------------------------------------------

%% Every call that takes a descriptor, on each of the VM's own (its poll
%% set, signal-dispatcher pipe, child-setup socket, standard streams):
%% {error, ebadf}, nothing written or read. Writing <<99:32/native>> to
%% the signal pipe aborted the VM; to the child-setup socket, the next
%% os:cmd/1 crashed it; read_wait/3 on an internal blocking pipe held a
%% dirty scheduler for good.
vm_descriptors(Config) ->
    with_peer(Config, [], fun(Peer) ->
        Fds = peer:call(Peer, procket_vm_peer, vm_fds, [], ?CALL),
        ct:log("the VM's descriptors: ~p", [Fds]),
        true = length(Fds) >= 3,
        Bad = [{Fd, Name, R}
               || Fd <- Fds,
                  {Name, R} <- peer:call(Peer, procket_vm_peer, attack_fd, [Fd], ?CALL),
                  R =/= {error, ebadf}],
        [] = Bad,
        Fds = peer:call(Peer, procket_vm_peer, vm_fds, [], ?CALL)
    end).

%% FIOSETOWN, SIOCSPGRP and FIOASYNC would have the kernel send SIGIO,
%% which kills the VM, for each datagram: refused (enotsup).
sigio_refused(Config) ->
    with_peer(Config, [], fun(Peer) ->
        [{error, enotsup}, {error, enotsup}, {error, enotsup}, {error, enotsup}] =
            peer:call(Peer, procket_vm_peer, sigio, [], ?CALL)
    end).

%% An address inside arguments is never passed on: SIOCGIFCONF uses a
%% buffer procket makes (the ifreq array comes back), TCP zero-copy
%% receive is refused.
pointer_arguments(Config) ->
    with_peer(Config, [], fun(Peer) ->
        [ifconf_ok, {error, enotsup}] = peer:call(Peer, procket_vm_peer, pointers, [], ?CALL)
    end).

%% SO_LINGER {1, -1} is a linger without end (the kernel reads l_linger
%% back negative). Closed by close_handle/1 (which waits, in receive),
%% by the owner's exit, by garbage collection, or by close/1, a socket
%% whose peer never reads holds no scheduler: the VM answers and
%% multi_scheduling block returns meanwhile.
infinite_linger(Config) ->
    with_peer(Config, [], fun(Peer) ->
        Servers = [begin
                       {S, Ms} = peer:call(Peer, procket_vm_peer, linger_close, [How], ?CALL),
                       ct:log("~p: ~p ms", [How, Ms]),
                       ok = alive(Peer),
                       S
                   end || How <- [close, owner_exit, gc, close_handle]],
        %% the peers go: the lingering closes end
        [ok = peer:call(Peer, procket, close, [S], ?CALL) || S <- Servers]
    end).

%% The last reference to a lingering socket, in flight in an AF_UNIX
%% socket's queue (SCM_RIGHTS), goes when that socket is closed, or when
%% the message is received by a call that takes no descriptors
%% (recvfrom/2, read/2, recvmsg/5 with no room for control data): that
%% close runs on a thread, the call returns, the VM answers. recvmsg/5
%% says MSG_CTRUNC (8), as the kernel would.
in_flight_linger(Config) ->
    with_peer(Config, [], fun(Peer) ->
        Got = [begin
                   {S, R} = peer:call(Peer, procket_vm_peer, in_flight_linger, [How], ?CALL),
                   ct:log("~p: ~p", [How, R]),
                   ok = alive(Peer),
                   ok = peer:call(Peer, procket, close, [S], ?CALL),
                   {How, R}
               end || How <- [close, recvfrom, read, recvmsg]],
        [{close, closed}, {recvfrom, {ok, <<"x">>}}, {read, {ok, <<"x">>}},
         {recvmsg, {ok, <<"x">>, Flags, [], _}}] = Got,
        8 = Flags band 8
    end).

%% A purge of the NIF's module while a close(2) lingers without end on a
%% thread of the NIF's returns at once (the library stays mapped for the
%% thread), and procket loads and works again afterwards.
purge_during_linger(Config) ->
    with_peer(Config, [], fun(Peer) ->
        {S, _} = peer:call(Peer, procket_vm_peer, linger_close, [close], ?CALL),
        true = peer:call(Peer, code, delete, [procket_nif], ?CALL),
        true = is_boolean(peer:call(Peer, code, purge, [procket_nif], 10000)),
        ok = alive(Peer),
        {ok, U} = peer:call(Peer, procket, socket, [inet, dgram, 0], ?CALL),
        ok = peer:call(Peer, procket, close, [U], ?CALL),
        ok = peer:call(Peer, procket, close, [S], ?CALL)
    end).

%% One process flips O_NONBLOCK (FIONBIO) while four read an integer UDP
%% socket, in a VM with one normal scheduler: a read that saw the socket
%% non-blocking never sleeps in the kernel on that scheduler (the VM
%% answered nothing when it did). Checked every 100 ms for 3 s.
fionbio_race(Config) ->
    with_peer(Config, ["+S", "1:1"], fun(Peer) ->
        {_S, Port} = peer:call(Peer, procket_vm_peer, fionbio_race, [4, 3000], ?CALL),
        Late = [T || _ <- lists:seq(1, 30),
                     T <- [begin
                               timer:sleep(100),
                               T0 = erlang:monotonic_time(millisecond),
                               _ = peer:call(Peer, erlang, node, [], 5000),
                               erlang:monotonic_time(millisecond) - T0
                           end],
                     T > 1000],
        ct:log("answers later than 1 s: ~p", [Late]),
        [] = Late,
        ok = peer:call(Peer, procket_vm_peer, wake, [Port], ?CALL)
    end).

%%% ------------------------------------------------------------------

with_peer(Config, Args, Fun) ->
    Stage = ?config(stage, Config),
    {ok, Peer, _} =
        peer:start(#{connection => standard_io,
                     exec => {os:find_executable("setpriv"),
                              ["--reuid=65534", "--regid=65534", "--clear-groups", "--",
                               os:find_executable("erl")]},
                     args => ["-pa", filename:join(Stage, "ebin"),
                              "-pa", filename:join(Stage, "testebin") | Args],
                     env => [{"HOME", Stage}]}),
    try
        "65534\n" = peer:call(Peer, os, cmd, ["id -u"], ?CALL),
        Fun(Peer),
        ok = alive(Peer)
    after
        catch peer:stop(Peer)
    end.

%% The peer answers, every scheduler yields to multi_scheduling block
%% within 10 s, and os:cmd/1 runs a program.
alive(Peer) ->
    blocked = peer:call(Peer, erlang, system_flag, [multi_scheduling, block], 10000),
    enabled = peer:call(Peer, erlang, system_flag, [multi_scheduling, unblock], 10000),
    "alive\n" = peer:call(Peer, os, cmd, ["echo alive"], 10000),
    ok.
