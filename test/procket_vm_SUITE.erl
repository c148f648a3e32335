%% @doc The VM never crashes or stalls through procket: each case attacks
%% a fresh VM of its own (uid/gid 65534, ebin/ and priv/ staged in a
%% world-traversable directory) the way a careless or hostile caller of
%% the socket API could, then checks that the VM is alive and that every
%% scheduler answers. The VMs run with one normal scheduler (+S 1:1), and
%% the check that cannot miss a held one is time: ten sleeps of 100 ms,
%% each followed by a procket call, must each end within 600 ms (a
%% scheduler held in a NIF stretches them; erlang:system_flag(
%% multi_scheduling, block_normal) was seen to return while one was held
%% in recvmsg(2)). Then multi_scheduling block must return (dirty
%% schedulers must yield for it too), and os:cmd/1 must still work (the
%% VM's child-setup socket is intact).
%%
%% Run by scripts/ct-vm.sh as root, in ct.sh's fresh network namespace.
-module(procket_vm_SUITE).

-include_lib("common_test/include/ct.hrl").

-export([all/0, suite/0, init_per_suite/1, end_per_suite/1]).
-export([vm_descriptors/1, sigio_refused/1, pointer_arguments/1,
         infinite_linger/1, in_flight_linger/1, purge_during_linger/1,
         fionbio_race/1, unix_queue_drops/1, no_thread_left/1,
         file_close_waits/1, emfile_drop/1, blocking_reads_hold_no_worker/1,
         closes_hold_no_calls/1, killed_waits_end/1, close_ends_waits/1,
         blocking_write_writes_all/1, error_queue_wait/1, waits_yield/1,
         ready_but_full/1, unix_connects_free_workers/1, tcp_connects_yield/1,
         accept_herd/1, killed_caller_leaves_nothing/1]).

-define(CALL, 15000).

suite() -> [{timetrap, {minutes, 5}}].

all() ->
    [vm_descriptors, sigio_refused, pointer_arguments, infinite_linger,
     in_flight_linger, purge_during_linger, fionbio_race, unix_queue_drops,
     no_thread_left, file_close_waits, emfile_drop, blocking_reads_hold_no_worker,
     closes_hold_no_calls, killed_caller_leaves_nothing, killed_waits_end,
     close_ends_waits, blocking_write_writes_all, error_queue_wait, waits_yield,
     ready_but_full, unix_connects_free_workers, tcp_connects_yield, accept_herd].

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
    Fuse = filename:join(Stage, "fuse_flush"),
    "" = os:cmd("cc -std=c11 -O2 -Wall -Wextra -Werror -o " ++ Fuse ++ " " ++
                filename:join([Root, "test", "procket_vm_SUITE_data", "fuse_flush.c"]) ++
                " -lpthread 2>&1"),
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
    with_peer(Config, [], fun(Peer) ->
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

%% The kernel drops messages queued on an AF_UNIX socket, and closes the
%% descriptors they carry in the calling thread, in more places than
%% close and receive: a normal receive on a stream socket passes over an
%% out-of-band message; a datagram socket whose connected peer is gone
%% purges its queue on the next send (econnrefused), and so does its
%% connect(2) to no peer or another one. Each time the message holds the
%% last reference to a socket lingering without end: the call runs on a
%% worker thread of procket's and its process waits (the call is still
%% pending), while the VM answers; once the linger ends, the call returns
%% what the kernel said.
unix_queue_drops(Config) ->
    with_peer(Config, [], fun(Peer) ->
        Expect = [{oob_recv, {ok, <<"data">>}}, {oob_read, {ok, <<"data">>}},
                  {oob_recvmsg, data}, {dead_sendto, {error, econnrefused}},
                  {dead_sendmsg, {error, econnrefused}},
                  {dead_write, {error, econnrefused}},
                  {dead_writev, {error, econnrefused}},
                  {disconnect, ok}, {reconnect, ok}],
        [begin
             {S, P} = peer:call(Peer, procket_vm_peer, queue_drop, [How], ?CALL),
             ok = alive(Peer),
             pending = peer:call(Peer, procket_vm_peer, result, [P, 0], ?CALL),
             ok = peer:call(Peer, procket, close, [S], ?CALL),
             R = peer:call(Peer, procket_vm_peer, result, [P, 5000], ?CALL),
             ct:log("~p: ~p", [How, R]),
             case {Want, R} of
                 {data, {ok, <<"data">>, _, [], _}} -> ok;
                 {Want, Want} -> ok
             end
         end || {How, Want} <- Expect]
    end).

%% A close that may wait needs a thread of procket's. When none can be
%% started (RLIMIT_NPROC: the user's processes and threads at the limit),
%% the close waits in the queue of the workers there are, never in the
%% calling scheduler: AF_UNIX sockets, one more than there are workers,
%% each holding a socket that lingers without end, closed while the VM may
%% start no thread; the VM answers, and every close ends once the lingers
%% do.
no_thread_left(Config) ->
    with_peer(Config, [], fun(Peer) ->
        {module, procket_nif} = peer:call(Peer, code, ensure_loaded, [procket_nif], ?CALL),
        OsPid = peer:call(Peer, os, getpid, [], ?CALL),
        %% set by a child of the VM (its own user may lower its limits)
        "" = peer:call(Peer, os, cmd, ["prlimit --pid " ++ OsPid ++ " --nproc=1:1 2>&1"],
                       ?CALL),
        Workers = peer:call(Peer, procket_vm_peer, workers, [], ?CALL),
        ct:log("workers: ~p", [Workers]),
        true = length(Workers) >= 1,        % started with the library
        %% one more than there are workers: one close must wait its turn
        N = length(Workers) + 1,
        Held = peer:call(Peer, procket_vm_peer, held_in_flight, [N], ?CALL),
        Closes = [peer:call(Peer, procket_vm_peer, close_async, [B], ?CALL) || {B, _} <- Held],
        ok = alive(Peer),
        [pending] = lists:usort([peer:call(Peer, procket_vm_peer, result, [P, 0], ?CALL)
                                 || P <- Closes]),
        %% no worker could be added
        Workers2 = peer:call(Peer, procket_vm_peer, workers, [], ?CALL),
        ct:log("workers while both wait: ~p", [Workers2]),
        true = length(Workers2) =< length(Workers),
        [ok = peer:call(Peer, procket, close, [S], ?CALL) || {_, S} <- Held],
        [ok] = lists:usort([peer:call(Peer, procket_vm_peer, result, [P, 5000], ?CALL)
                            || P <- Closes])
    end).

%% A file that is not a socket may wait in close(2): a FUSE file whose
%% server answers each flush (one per close of a descriptor) after 12 s,
%% sent to the VM twice with SCM_RIGHTS. close/1 of the one the VM takes
%% waits on a worker, in receive; the one it does not take (recv/2 takes
%% none) is closed by procket on a worker too, and recv/2 returns at
%% once. The VM answers, no scheduler waits (a dirty one would hold
%% multi_scheduling block beyond its 10 s), and the close returns once the
%% server answered. The same server answers a lookup of "slow" after
%% 12 s: bind, connect (datagram and stream) and sendto of AF_UNIX
%% sockets with a path through it wait on workers too. Run as root in
%% ct.sh's private mount namespace.
file_close_waits(Config) ->
    with_peer(Config, [], fun(Peer) ->
        Stage = ?config(stage, Config),
        Mnt = filename:join(Stage, "fuse"),
        ok = file:make_dir(Mnt),
        {B, Name} = peer:call(Peer, procket_vm_peer, fuse_socket, [], ?CALL),
        Port = open_port({spawn_executable, filename:join(Stage, "fuse_flush")},
                         [{args, [Mnt, Name, "12000", "60"]}, stderr_to_stdout, exit_status]),
        {os_pid, Server} = erlang:port_info(Port, os_pid),
        try
            F = peer:call(Peer, procket_vm_peer, fuse_take, [B], ?CALL),
            T0 = erlang:monotonic_time(millisecond),
            P = peer:call(Peer, procket_vm_peer, close_async, [F], ?CALL),
            %% a path through the FUSE mount resolves in 12 s: bind,
            %% connect and sendto with it wait on workers, not schedulers
            PathCalls = [peer:call(Peer, procket_vm_peer, path_async,
                                   [How, filename:join([Mnt, "slow" ++ atom_to_list(How), "x"])],
                                   ?CALL)
                         || How <- [bind, connect, sendto, stream_connect]],
            {ok, <<"x">>} = peer:call(Peer, procket, recv, [B, 16], 2000),
            ok = alive(Peer),
            pending = peer:call(Peer, procket_vm_peer, result, [P, 0], ?CALL),
            ok = peer:call(Peer, procket_vm_peer, result, [P, 20000], 25000),
            Ms = erlang:monotonic_time(millisecond) - T0,
            %% (bind holds the directory's lock while it looks up: the
            %% lookups there take their turns, 12 s each)
            [{error, enoent}] =
                lists:usort([peer:call(Peer, procket_vm_peer, result, [Q, 60000], 65000)
                             || Q <- PathCalls]),
            ct:log("close/1 of the FUSE file returned after ~p ms; the server said: ~s",
                   [Ms, flush_port(Port, [])]),
            true = Ms >= 11000,
            ok = peer:call(Peer, procket, close, [B], ?CALL)
        after
            os:cmd("kill " ++ integer_to_list(Server) ++ "; umount -l " ++ Mnt)
        end
    end).

flush_port(Port, Acc) ->
    receive {Port, {data, D}} -> flush_port(Port, [Acc | D])
    after 0 -> Acc
    end.

%% A full descriptor table: the kernel cannot install a passed descriptor
%% and closes it in the receiving thread, whatever the socket's type. The
%% message holds the last reference to a socket lingering without end; a
%% receive of it (recvmsg, recvfrom, read) runs on a worker and waits
%% there, in receive, while the VM answers (once the table has room again:
%% the check opens sockets); it returns once the linger ends, recvmsg with
%% MSG_CTRUNC and no descriptor.
emfile_drop(Config) ->
    with_peer(Config, [], fun(Peer) ->
        [begin
             {S, P, Fill} = peer:call(Peer, procket_vm_peer, emfile_drop, [How], ?CALL),
             ct:log("~p: ~p sockets fill the table", [How, length(Fill)]),
             pending = peer:call(Peer, procket_vm_peer, result, [P, 500], ?CALL),
             ok = peer:call(Peer, procket_vm_peer, release, [Fill], ?CALL),
             ok = alive(Peer),
             ok = peer:call(Peer, procket, close, [S], ?CALL),
             R = peer:call(Peer, procket_vm_peer, result, [P, 5000], ?CALL),
             ct:log("~p: ~p", [How, R]),
             case {How, R} of
                 {recvmsg, {ok, <<"x">>, Flags, [], _}} -> 8 = Flags band 8;
                 {_, {ok, <<"x">>}} -> ok
             end
         end || How <- [recvmsg, recvfrom, read]]
    end).

%% A worker never waits for data: reads on AF_UNIX sockets in blocking
%% mode wait on dirty I/O schedulers as documented (8 of them here, fewer
%% than the VM's 10), no worker is busy meanwhile, and calls that need a
%% worker (the close of an AF_UNIX socket, a send on a datagram pair) go
%% through. Each read returns its data once written.
blocking_reads_hold_no_worker(Config) ->
    with_peer(Config, [], fun(Peer) ->
        {Writers, Readers} = peer:call(Peer, procket_vm_peer, blocking_readers, [8], ?CALL),
        timer:sleep(300),
        [pending] = lists:usort([peer:call(Peer, procket_vm_peer, result, [P, 0], ?CALL)
                                 || P <- Readers]),
        Workers = peer:call(Peer, procket_vm_peer, workers, [], ?CALL),
        ct:log("workers while 8 reads wait: ~p", [Workers]),
        [] = [W || {_, W} <- Workers, binary:match(W, <<"futex">>) =:= nomatch],
        {ok, U} = peer:call(Peer, procket, socket, [local, dgram, 0], ?CALL),
        {ok, U2} = peer:call(Peer, procket, socket, [local, dgram, 0], ?CALL),
        Addr = <<1:16/native, 0, "procket-vm-hold-no-worker">>,
        ok = peer:call(Peer, procket, bind, [U2, Addr], ?CALL),
        ok = peer:call(Peer, procket, sendto, [U, <<"to U2">>, 0, Addr], 5000),
        {ok, <<"to U2">>} = peer:call(Peer, procket, recv, [U2, 16], 5000),
        [ok = peer:call(Peer, procket, close, [X], 5000) || X <- [U, U2]],
        %% the normal scheduler answers (dirty ones are held by the reads,
        %% as documented: multi_scheduling block waits for them)
        true = peer:call(Peer, procket_vm_peer, stretch, [5], ?CALL) < 600,
        [ok = peer:call(Peer, procket, write, [W, <<"data">>], ?CALL) || W <- Writers],
        [{ok, <<"data">>}] =
            lists:usort([peer:call(Peer, procket_vm_peer, result, [P, 5000], ?CALL)
                         || P <- Readers])
    end).

%% Closes and calls have pools of their own: 65 closes that linger without
%% end (one more than the close pool's 64 workers) hold no call. A send
%% and a receive on AF_UNIX datagram sockets (which need a call worker)
%% return at once meanwhile, the VM answers, and every close returns once
%% its linger ends.
closes_hold_no_calls(Config) ->
    with_peer(Config, [], fun(Peer) ->
        {Servers, Closes} = peer:call(Peer, procket_vm_peer, stuck_closes, [65], 60000),
        timer:sleep(500),
        [pending] = lists:usort([peer:call(Peer, procket_vm_peer, result, [P, 0], ?CALL)
                                 || P <- Closes]),
        Busy = [W || {_, W} <- peer:call(Peer, procket_vm_peer, workers,
                                         [<<"procket_close\n">>], ?CALL),
                     binary:match(W, <<"futex">>) =:= nomatch],
        ct:log("close workers busy: ~p", [length(Busy)]),
        64 = length(Busy),
        {ok, U} = peer:call(Peer, procket, socket, [local, dgram, 0], ?CALL),
        {ok, U2} = peer:call(Peer, procket, socket, [local, dgram, 0], ?CALL),
        Addr = <<1:16/native, 0, "procket-vm-closes-hold-no-calls">>,
        ok = peer:call(Peer, procket, bind, [U2, Addr], ?CALL),
        ok = peer:call(Peer, procket, sendto, [U, <<"hi">>, 0, Addr], 2000),
        {ok, <<"hi">>} = peer:call(Peer, procket, recv, [U2, 16], 2000),
        ok = alive(Peer),
        [ok = peer:call(Peer, procket, close, [S], ?CALL) || S <- Servers],
        [ok] = lists:usort([peer:call(Peer, procket_vm_peer, result, [P, 10000], 15000)
                            || P <- Closes]),
        %% U and U2 are AF_UNIX: their closes need a close worker, free now
        [ok = peer:call(Peer, procket, close, [X], ?CALL) || X <- [U, U2]]
    end).

%% A caller killed while its call waits for a worker takes nothing: the
%% descriptor its recvmsg received is closed, not left open under a number
%% nobody knows. The VM may start no thread (RLIMIT_NPROC), and the call
%% pool's one worker is held by a send whose kernel work waits in a
%% linger, so the recvmsg waits in the queue; its caller is killed, the
%% linger ends, the worker runs the recvmsg: the VM then has the
%% descriptors it had before, less the server end closed to end the
%% linger.
killed_caller_leaves_nothing(Config) ->
    with_peer(Config, [], fun(Peer) ->
        {module, procket_nif} = peer:call(Peer, code, ensure_loaded, [procket_nif], ?CALL),
        OsPid = peer:call(Peer, os, getpid, [], ?CALL),
        "" = peer:call(Peer, os, cmd, ["prlimit --pid " ++ OsPid ++ " --nproc=1:1 2>&1"],
                       ?CALL),
        [_] = peer:call(Peer, procket_vm_peer, workers, [<<"procket_call\n">>], ?CALL),
        {B, _} = peer:call(Peer, procket_vm_peer, fd_message, [], ?CALL),
        {S, Held} = peer:call(Peer, procket_vm_peer, queue_drop, [dead_sendto], ?CALL),
        pending = peer:call(Peer, procket_vm_peer, result, [Held, 200], ?CALL),
        Before = peer:call(Peer, procket_vm_peer, open_fds, [], ?CALL),
        P = peer:call(Peer, procket_vm_peer, recvmsg_async, [B], ?CALL),
        timer:sleep(200),
        pending = peer:call(Peer, procket_vm_peer, result, [P, 0], ?CALL),
        true = peer:call(Peer, erlang, exit, [P, kill], ?CALL),
        ok = peer:call(Peer, procket, close, [S], ?CALL),
        {error, econnrefused} = peer:call(Peer, procket_vm_peer, result, [Held, 5000], ?CALL),
        timer:sleep(300),
        After = peer:call(Peer, procket_vm_peer, open_fds, [], ?CALL),
        ct:log("descriptors: ~p before, ~p after", [Before, After]),
        After = Before - 1,
        %% the message was taken: the queue is empty
        {error, eagain} = peer:call(Peer, procket, recvfrom, [B, 16], ?CALL),
        ok = peer:call(Peer, procket, close, [B], ?CALL)
    end).

%% A call that waits as documented, on a descriptor in blocking mode, ends
%% when its caller is killed: 12 times for each kind of wait (a read, a
%% read of an AF_UNIX socket, an accept, a write to a peer that never
%% reads), more than the VM's 10 dirty I/O schedulers, each caller killed
%% and its descriptor closed. Then the VM's file operations, which need
%% those schedulers, still work, and a new read in blocking mode still
%% waits for its data and gets it. Before, each killed caller left its
%% dirty scheduler held for good, and the VM's file I/O stopped.
killed_waits_end(Config) ->
    with_peer(Config, [], fun(Peer) ->
        Before = peer:call(Peer, procket_vm_peer, open_fds, [], ?CALL),
        [begin
             {FD, P, Others} = peer:call(Peer, procket_vm_peer, blocked_call, [Kind], ?CALL),
             pending = peer:call(Peer, procket_vm_peer, result, [P, 100], ?CALL),
             true = peer:call(Peer, erlang, exit, [P, kill], ?CALL),
             [ok = peer:call(Peer, procket, close, [X], ?CALL) || X <- [FD | Others]]
         end || Kind <- [read_udp, read_unix, accept_tcp, write_tcp], _ <- lists:seq(1, 12)],
        {ok, _} = peer:call(Peer, file, read_file_info, ["/"], ?CALL),
        {U, P, []} = peer:call(Peer, procket_vm_peer, blocked_call, [read_udp], ?CALL),
        pending = peer:call(Peer, procket_vm_peer, result, [P, 200], ?CALL),
        {ok, <<_:16, Port:16, _/binary>>} = peer:call(Peer, procket, getsockname, [U, 16], ?CALL),
        ok = peer:call(Peer, procket_vm_peer, wake, [Port], ?CALL),
        {ok, <<"wake">>} = peer:call(Peer, procket_vm_peer, result, [P, 2000], ?CALL),
        ok = peer:call(Peer, procket, close, [U], ?CALL),
        %% the waits ended: their descriptors are closed too
        timer:sleep(200),
        Before = peer:call(Peer, procket_vm_peer, open_fds, [], ?CALL)
    end).

%% close/1 of a descriptor a call waits on in blocking mode returns ok at
%% once, and the call ends with {error, ebadf} (a write that had written
%% part of its data returns that count, as a blocking write(2) cut short),
%% then the descriptor is closed.
close_ends_waits(Config) ->
    with_peer(Config, [], fun(Peer) ->
        Before = peer:call(Peer, procket_vm_peer, open_fds, [], ?CALL),
        Got = [begin
                   {FD, P, Others} = peer:call(Peer, procket_vm_peer, blocked_call, [Kind],
                                               ?CALL),
                   pending = peer:call(Peer, procket_vm_peer, result, [P, 100], ?CALL),
                   ok = peer:call(Peer, procket, close, [FD], ?CALL),
                   R = peer:call(Peer, procket_vm_peer, result, [P, 2000], ?CALL),
                   [ok = peer:call(Peer, procket, close, [X], ?CALL) || X <- Others],
                   {Kind, R}
               end || Kind <- [read_udp, read_unix, accept_tcp, write_tcp]],
        ct:log("~p", [Got]),
        [{read_udp, {error, ebadf}}, {read_unix, {error, ebadf}},
         {accept_tcp, {error, ebadf}}, {write_tcp, W}] = Got,
        case W of
            {error, ebadf} -> ok;
            {ok, N} when N > 0, N < 1048576 -> ok
        end,
        timer:sleep(200),
        Before = peer:call(Peer, procket_vm_peer, open_fds, [], ?CALL)
    end).

%% A write in blocking mode to a TCP connection writes everything, as a
%% blocking write(2) does, however slowly the peer reads: 4 MiB with
%% write/2 and with writev/2 (64 binaries).
blocking_write_writes_all(Config) ->
    with_peer(Config, [], fun(Peer) ->
        Size = 4 bsl 20,
        %% ok: all written ({ok, N} says a partial write)
        [{ok, Size}, {ok, Size}] =
            [peer:call(Peer, procket_vm_peer, write_all, [{How, Size}], 60000)
             || How <- [write, writev]]
    end).

%% A read in blocking mode waits without spinning when poll(2) says
%% POLLERR for a message in the socket's error queue (IP_RECVERR) while a
%% read finds nothing: the VM uses well under 100 ms of CPU in the 1 s the
%% read waits (a spin would use about all of it). Data sent then is read;
%% the error stays queued.
error_queue_wait(Config) ->
    with_peer(Config, [], fun(Peer) ->
        {U, Port, P} = peer:call(Peer, procket_vm_peer, error_queue_read, [], ?CALL),
        Cpu0 = peer:call(Peer, procket_vm_peer, cpu_ms, [], ?CALL),
        timer:sleep(1000),
        Cpu = peer:call(Peer, procket_vm_peer, cpu_ms, [], ?CALL) - Cpu0,
        ct:log("CPU while the read waited 1 s: ~p ms", [Cpu]),
        pending = peer:call(Peer, procket_vm_peer, result, [P, 0], ?CALL),
        true = Cpu < 100,
        ok = peer:call(Peer, procket_vm_peer, wake, [Port], ?CALL),
        {ok, <<"wake">>} = peer:call(Peer, procket_vm_peer, result, [P, 2000], ?CALL),
        {ok, _, _, [_ | _], _} =
            peer:call(Peer, procket, recvmsg, [U, 16, ['MSG_ERRQUEUE'], 256, 16], ?CALL),
        ok = peer:call(Peer, procket, close, [U], ?CALL)
    end).

%% Ten reads wait in blocking mode, as many as the VM has dirty I/O
%% schedulers: close/1 of one of their sockets and a file operation still
%% return within a second (each wait gives its scheduler back between
%% slices; close/1 needs none), and the read on the closed socket ends
%% with ebadf. Before, both waited for as long as the reads did.
waits_yield(Config) ->
    with_peer(Config, [], fun(Peer) ->
        {[U | Us], [P | Ps]} = peer:call(Peer, procket_vm_peer, many_waits, [10], ?CALL),
        pending = peer:call(Peer, procket_vm_peer, result, [P, 200], ?CALL),
        {CloseMs, ok} = peer:call(Peer, procket_vm_peer, timed,
                                  [{procket, close, [U]}, 5000], ?CALL),
        {FileMs, {ok, _}} = peer:call(Peer, procket_vm_peer, timed,
                                      [{file, read_file_info, ["/"]}, 5000], ?CALL),
        ct:log("with 10 waits: close/1 in ~p ms, a file operation in ~p ms",
               [CloseMs, FileMs]),
        true = CloseMs < 1000 andalso FileMs < 1000,
        {error, ebadf} = peer:call(Peer, procket_vm_peer, result, [P, 2000], ?CALL),
        [true = peer:call(Peer, erlang, exit, [X, kill], ?CALL) || X <- Ps],
        [ok = peer:call(Peer, procket, close, [X], ?CALL) || X <- Us]
    end).

%% Writes in blocking mode to netlink sockets whose peer is full (poll(2)
%% says POLLOUT, the send says EAGAIN) do not spin: the VM uses well under
%% 200 ms of CPU in the second they wait; killing the writers and closing
%% the sockets ends the waits and closes the descriptors. Before, each
%% write spun at 100% CPU and went on after the kill and the close.
ready_but_full(Config) ->
    with_peer(Config, [], fun(Peer) ->
        {B, As, Ws} = peer:call(Peer, procket_vm_peer, netlink_full, [4], ?CALL),
        pending = peer:call(Peer, procket_vm_peer, result, [hd(Ws), 100], ?CALL),
        Cpu0 = peer:call(Peer, procket_vm_peer, cpu_ms, [], ?CALL),
        timer:sleep(1000),
        Cpu = peer:call(Peer, procket_vm_peer, cpu_ms, [], ?CALL) - Cpu0,
        ct:log("CPU while 4 writes waited 1 s: ~p ms", [Cpu]),
        true = Cpu < 200,
        [true = peer:call(Peer, erlang, exit, [W, kill], ?CALL) || W <- Ws],
        [ok = peer:call(Peer, procket, close, [A], ?CALL) || A <- As],
        timer:sleep(300),
        [] = peer:call(Peer, procket_vm_peer, open_of, [As], ?CALL),
        ok = peer:call(Peer, procket, close, [B], ?CALL)
    end).

%% 66 connects in blocking mode to an AF_UNIX listener whose backlog is
%% full (more than the 64 call workers they run on) hold no worker for
%% good: each waits a slice and is asked again, so an AF_UNIX datagram
%% send and receive meanwhile go through; killed and closed, they leave
%% the VM's descriptors as they were. Before, each held a worker until
%% the listener accepted, and every AF_UNIX call of the VM waited.
unix_connects_free_workers(Config) ->
    with_peer(Config, [], fun(Peer) ->
        Before = peer:call(Peer, procket_vm_peer, open_fds, [], ?CALL),
        {Ls, Cs, Ps} = peer:call(Peer, procket_vm_peer, blocked_connects, [unix, 66], ?CALL),
        pending = peer:call(Peer, procket_vm_peer, result, [lists:last(Ps), 500], ?CALL),
        {ok, U} = peer:call(Peer, procket, socket, [local, dgram, 0], ?CALL),
        {ok, U2} = peer:call(Peer, procket, socket, [local, dgram, 0], ?CALL),
        Addr = <<1:16/native, 0, "procket-vm-connects-free-workers">>,
        {Ms, ok} = peer:call(Peer, procket_vm_peer, timed,
                             [{procket, bind, [U2, Addr]}, 5000], ?CALL),
        ct:log("an AF_UNIX bind while 66 connects wait: ~p ms", [Ms]),
        true = Ms < 2000,
        ok = peer:call(Peer, procket, sendto, [U, <<"hi">>, 0, Addr], 5000),
        {ok, <<"hi">>} = peer:call(Peer, procket, recv, [U2, 16], 5000),
        [true = peer:call(Peer, erlang, exit, [P, kill], ?CALL) || P <- Ps],
        [ok = peer:call(Peer, procket, close, [X], ?CALL) || X <- Cs ++ Ls ++ [U, U2]],
        timer:sleep(300),
        Before = peer:call(Peer, procket_vm_peer, open_fds, [], ?CALL)
    end).

%% Ten TCP connects in blocking mode whose SYNs are dropped (a full
%% backlog; TCP_SYNCNT 127: hours of retries) give their dirty schedulers
%% back: a file operation returns within a second; close/1 of one ends its
%% connect with ebadf; the rest, killed and closed, leave nothing.
tcp_connects_yield(Config) ->
    with_peer(Config, [], fun(Peer) ->
        Before = peer:call(Peer, procket_vm_peer, open_fds, [], ?CALL),
        {Ls, [C | Cs], [P | Ps]} =
            peer:call(Peer, procket_vm_peer, blocked_connects, [tcp, 10], ?CALL),
        pending = peer:call(Peer, procket_vm_peer, result, [P, 300], ?CALL),
        {FileMs, {ok, _}} = peer:call(Peer, procket_vm_peer, timed,
                                      [{file, read_file_info, ["/"]}, 5000], ?CALL),
        ct:log("a file operation while 10 connects wait: ~p ms", [FileMs]),
        true = FileMs < 1000,
        ok = peer:call(Peer, procket, close, [C], ?CALL),
        {error, ebadf} = peer:call(Peer, procket_vm_peer, result, [P, 2000], ?CALL),
        [true = peer:call(Peer, erlang, exit, [X, kill], ?CALL) || X <- Ps],
        [ok = peer:call(Peer, procket, close, [X], ?CALL) || X <- Cs ++ Ls],
        timer:sleep(300),
        Before = peer:call(Peer, procket_vm_peer, open_fds, [], ?CALL)
    end).

%% Four processes accept in blocking mode on one listener (poll(2) wakes
%% them all for each connection, one gets it): 40 connections are all
%% accepted, and after close/1 of the listener and the accepters killed,
%% fifteen times over, the VM's descriptors are as they were (the
%% listener closed) and a file operation returns at once. Before, the
%% accepts that lost the race sat in accept(2) for good, holding their
%% dirty schedulers and keeping the closed listener open.
accept_herd(Config) ->
    with_peer(Config, [], fun(Peer) ->
        Before = peer:call(Peer, procket_vm_peer, open_fds, [], ?CALL),
        [begin
             {40, ok} = peer:call(Peer, procket_vm_peer, accept_herd, [4, 40], ?CALL)
         end || _ <- lists:seq(1, 15)],
        timer:sleep(300),
        Before = peer:call(Peer, procket_vm_peer, open_fds, [], ?CALL),
        {FileMs, {ok, _}} = peer:call(Peer, procket_vm_peer, timed,
                                      [{file, read_file_info, ["/"]}, 5000], ?CALL),
        true = FileMs < 1000
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
                              "-pa", filename:join(Stage, "testebin"),
                              "+S", "1:1" | Args],
                     env => [{"HOME", Stage}]}),
    try
        "65534\n" = peer:call(Peer, os, cmd, ["id -u"], ?CALL),
        Fun(Peer),
        ok = alive(Peer)
    after
        catch peer:stop(Peer)
    end.

%% The peer answers, its normal scheduler is not held (no sleep of 100 ms
%% stretched beyond 600), every scheduler yields to multi_scheduling block
%% within 10 s, and os:cmd/1 runs a program.
alive(Peer) ->
    Stretch = peer:call(Peer, procket_vm_peer, stretch, [10], ?CALL),
    ct:log("longest 100 ms sleep: ~p ms", [Stretch]),
    true = Stretch < 600,
    blocked = peer:call(Peer, erlang, system_flag, [multi_scheduling, block], 10000),
    enabled = peer:call(Peer, erlang, system_flag, [multi_scheduling, unblock], 10000),
    "alive\n" = peer:call(Peer, os, cmd, ["echo alive"], 10000),
    ok.
