%% @doc Support code for procket_vm_SUITE, run inside the peer VMs it
%% attacks (uid 65534). Each function does what a careless or hostile
%% caller of the socket API could do and returns plain data.
-module(procket_vm_peer).

-export([vm_fds/0, attack_fd/1, sigio/0, pointers/0, linger_close/1,
         in_flight_linger/1, fionbio_race/2, wake/1, queue_drop/1, result/2,
         stretch/1, held_in_flight/1, close_async/1, workers/0,
         fuse_socket/0, fuse_take/1, emfile_drop/1, release/1, blocking_readers/1,
         workers/1, stuck_closes/1, fd_message/0, recvmsg_async/1, open_fds/0,
         path_async/2, blocked_call/1, write_all/1, error_queue_read/0, cpu_ms/0,
         many_waits/1, timed/2, netlink_full/1, open_of/1, blocked_connects/2,
         accept_herd/2]).

%% @doc The VM's own descriptors (none of them procket's).
-spec vm_fds() -> [non_neg_integer()].
vm_fds() ->
    {ok, Names} = file:list_dir("/proc/self/fd"),
    lists:sort([list_to_integer(N) || N <- Names]).

%% @doc Every call of the socket API that takes a descriptor, on FD: the
%% results, each expected to be {error, ebadf} for a descriptor that is
%% not procket's. The writes carry what the VM's signal pipe and its
%% child-setup socket would take for a message.
-spec attack_fd(non_neg_integer()) -> [{atom(), term()}].
attack_fd(FD) ->
    Calls = [{write, fun() -> procket:write(FD, <<99:32/native>>) end},
             {writev, fun() -> procket:writev(FD, [<<99:32/native>>]) end},
             {read, fun() -> procket:read(FD, 4) end},
             {read_wait, fun() -> procket:read_wait(FD, 4, 100) end},
             {sendto, fun() -> procket:sendto(FD, <<1>>, 0, <<>>) end},
             {sendmsg, fun() -> procket:sendmsg(FD, <<1>>, 0, [], <<>>) end},
             {recvfrom, fun() -> procket:recvfrom(FD, 4) end},
             {recvmsg, fun() -> procket:recvmsg(FD, 4, 0, 0, 0) end},
             {ioctl, fun() -> procket:ioctl(FD, 'FIONREAD', <<0:32>>) end},
             {setsockopt, fun() -> procket:setsockopt(FD, 'SOL_SOCKET', 'SO_RCVBUF', 1) end},
             {getsockopt, fun() -> procket:getsockopt(FD, 'SOL_SOCKET', 'SO_TYPE', <<0:32>>) end},
             {bind, fun() -> procket:bind(FD, <<>>) end},
             {listen, fun() -> procket:listen(FD, 1) end},
             {connect, fun() -> procket:connect(FD, <<>>) end},
             {accept, fun() -> procket:accept(FD) end},
             {getsockname, fun() -> procket:getsockname(FD, 16) end},
             {set_sock_nonblock, fun() -> procket:set_sock_nonblock(FD) end},
             {handle, fun() -> procket:handle(FD) end},
             {close, fun() -> procket:close(FD) end}],
    [{Name, try F() catch C:R -> {C, R} end} || {Name, F} <- Calls].

%% @doc Requests that arm SIGIO (which the VM does not handle: it would
%% die) on a UDP socket, then a datagram to it: the results.
-spec sigio() -> [term()].
sigio() ->
    {ok, S} = procket:socket(inet, dgram, 0),
    ok = procket:bind(S, <<2:16/native, 0:16, 127, 0, 0, 1, 0:64>>),
    {ok, <<_:16, Port:16, _/binary>>} = procket:getsockname(S, 16),
    Pid = list_to_integer(os:getpid()),
    R = [procket:ioctl(S, 'FIOSETOWN', <<Pid:32/native>>),
         procket:ioctl(S, 'SIOCSPGRP', <<Pid:32/native>>),
         procket:ioctl(S, 'FIOASYNC', <<1:32/native>>),
         procket:ioctl(S, 'FIOASYNC', 1)],
    {ok, U} = gen_udp:open(0, [{ip, {127, 0, 0, 1}}]),
    ok = gen_udp:send(U, {127, 0, 0, 1}, Port, <<"sigio?">>),
    timer:sleep(200),
    ok = gen_udp:close(U),
    ok = procket:close(S),
    R.

%% @doc Arguments that hold addresses into the VM: SIOCGIFCONF's buffer
%% and TCP_ZEROCOPY_RECEIVE's target aimed at beam.smp's code.
-spec pointers() -> [term()].
pointers() ->
    Beam = beam_address(),
    {ok, S} = procket:socket(inet, dgram, 0),
    Ifconf = procket:ioctl(S, 'SIOCGIFCONF', <<4096:32/native, 0:32, Beam:64/native>>),
    {ok, L} = procket:socket(inet, stream, 0),
    Zc = procket:getsockopt(L, 'IPPROTO_TCP', 35, <<Beam:64/native, 4096:64/native, 0:(48 * 8)>>),
    ok = procket:close(S),
    ok = procket:close(L),
    [case Ifconf of
         {ok, <<"lo", 0, _/binary>>} -> ifconf_ok;
         Other -> Other
     end, Zc].

beam_address() ->
    {ok, Maps} = file:read_file("/proc/self/maps"),
    [Line | _] = [L || L <- binary:split(Maps, <<"\n">>, [global]),
                       binary:match(L, <<"r-xp">>) =/= nomatch,
                       binary:match(L, <<"beam">>) =/= nomatch],
    [Start | _] = binary:split(Line, <<"-">>),
    binary_to_integer(Start, 16).

%% @doc A TCP connection whose client end lingers without end (SO_LINGER
%% {1, -1}) with a full send queue the server never reads, closed the way
%% How says: close_handle, owner_exit, gc (the last reference dropped) or
%% close/1 of the integer. Returns the server end (to close later, which
%% ends the linger) and how long the close took.
-spec linger_close(close_handle | owner_exit | gc | close | none) -> {integer(), integer()}.
linger_close(How) ->
    {L, Addr} = tcp_listener(1),
    {ok, C} = procket:socket(inet, stream, 0),
    _ = procket:connect(C, Addr),
    timer:sleep(50),
    {ok, S, _} = procket:accept(L, 16),
    ok = procket:close(L),
    fill(C, 0),
    ok = procket:setsockopt(C, 'SOL_SOCKET', 'SO_LINGER', <<1:32/native, -1:32/native-signed>>),
    T0 = erlang:monotonic_time(millisecond),
    case How of
        none -> put(lingering, C);                  % left open for the caller
        close ->
            %% close/1 waits, as close(2) would, in receive: not on a scheduler
            Self = self(),
            spawn(fun() -> Self ! {closed, procket:close(C)} end),
            receive {closed, _} -> ok after 500 -> still_closing end;
        close_handle ->
            {ok, H} = procket:handle(C),
            Self = self(),
            spawn(fun() -> Self ! {closed, procket:close_handle(H)} end),
            receive {closed, _} -> ok after 500 -> still_closing end;
        owner_exit ->
            Self = self(),
            P = spawn(fun() -> {ok, _} = procket:handle(C), Self ! ready,
                               receive stop -> ok end end),
            receive ready -> ok end,
            P ! stop;
        gc ->
            %% the owner lives on; its only reference goes with a GC
            Self = self(),
            spawn(fun() -> ok = make_and_drop(C), erlang:garbage_collect(),
                           Self ! collected, receive after infinity -> ok end end),
            receive collected -> ok end
    end,
    {S, erlang:monotonic_time(millisecond) - T0}.

make_and_drop(C) ->
    {ok, _H} = procket:handle(C),
    ok.

fill(C, N) when N < 10000 ->
    case procket:write(C, <<0:(65536 * 8)>>) of
        {error, eagain} -> ok;
        _ -> fill(C, N + 1)
    end.

%% @doc Readers of an integer UDP socket while another process flips its
%% O_NONBLOCK with FIONBIO, for Ms milliseconds; Readers processes.
%% Returns the socket and its port: wake/1 ends readers still blocked (on
%% dirty schedulers, where the socket was blocking when they looked).
-spec fionbio_race(pos_integer(), pos_integer()) -> {integer(), integer()}.
fionbio_race(Readers, Ms) ->
    {ok, S} = procket:socket(inet, dgram, 0),
    ok = procket:bind(S, <<2:16/native, 0:16, 127, 0, 0, 1, 0:64>>),
    {ok, <<_:16, Port:16, _/binary>>} = procket:getsockname(S, 16),
    End = erlang:monotonic_time(millisecond) + Ms,
    spawn(fun() -> toggle(S, End, 0) end),
    [spawn(fun() -> read_loop(S, End) end) || _ <- lists:seq(1, Readers)],
    {S, Port}.

toggle(S, End, N) ->
    case erlang:monotonic_time(millisecond) < End of
        true -> _ = procket:ioctl(S, 'FIONBIO', <<(N band 1):32/native>>),
                toggle(S, End, N + 1);
        false -> _ = procket:ioctl(S, 'FIONBIO', <<1:32/native>>)
    end.

read_loop(S, End) ->
    _ = procket:read(S, 100),
    case erlang:monotonic_time(millisecond) < End of
        true -> read_loop(S, End);
        false -> ok
    end.

%% @doc Datagrams to Port on 127.0.0.1, enough to wake every reader.
-spec wake(integer()) -> ok.
wake(Port) ->
    {ok, U} = gen_udp:open(0, [{ip, {127, 0, 0, 1}}]),
    [ok = gen_udp:send(U, {127, 0, 0, 1}, Port, <<"wake">>) || _ <- lists:seq(1, 64)],
    gen_udp:close(U).

%% @doc A lingering TCP socket (SO_LINGER {1, -1}, full send queue) sent
%% with SCM_RIGHTS to an AF_UNIX socket, procket's own copy closed, so
%% that the message holds the last reference. How the message goes:
%% `close' closes the AF_UNIX socket with the message still queued; the
%% others receive it without taking the descriptor (recvfrom/2, read/2,
%% recvmsg/5 with no room for control data), which the kernel would
%% close in the receiving thread. Either way that close waits without
%% end. Returns the server end (closing it ends that) and, for the
%% receives, their results.
-spec in_flight_linger(close | recvfrom | read | recvmsg) -> {integer(), term()}.
in_flight_linger(How) ->
    {S, _} = linger_close(none),
    {ok, A} = procket:socket(local, dgram, 0),
    {ok, B} = procket:socket(local, dgram, 0),
    Name = iolist_to_binary(["procket-vm-", os:getpid(), "-", atom_to_list(How)]),
    Addr = <<(procket:sockaddr_common(local, 0))/binary, 0, Name/binary>>,
    ok = procket:bind(B, Addr),
    C = get(lingering),
    ok = procket:sendmsg(A, <<"x">>, 0, [{1, 1, <<C:32/native>>}], Addr),
    ok = procket:close(C),
    ok = procket:close(A),
    Self = self(),
    Recv = fun() -> case How of
                        recvfrom -> procket:recvfrom(B, 16);
                        read -> procket:read(B, 16);
                        recvmsg -> procket:recvmsg(B, 16, 0, 0, 0)
                    end
           end,
    case How of
        close ->
            spawn(fun() -> procket:close(B) end),   % waits for C's close, in receive
            timer:sleep(200),
            {S, closed};
        _ ->
            %% on a normal scheduler: the old NIF held it here for good
            spawn(fun() -> Self ! {received, Recv()} end),
            R = receive {received, Res} -> Res after 5000 -> timeout end,
            spawn(fun() -> procket:close(B) end),
            {S, R}
    end.

%% @doc One of the ways the kernel drops a message queued on an AF_UNIX
%% socket, closing the descriptors it carries in the calling thread; the
%% message holds the last reference to a lingering TCP socket (SO_LINGER
%% {1, -1}, a full send queue), whose close waits without end. The call
%% runs in a process of its own: returns the server end of the TCP
%% connection (closing it ends the linger) and that process (see result/2).
%% - oob_recv, oob_read, oob_recvmsg: on a stream socket, an out-of-band
%%   byte carries the descriptor; a normal receive passes over it, and
%%   the kernel discards it.
%% - dead_sendto, dead_sendmsg, dead_write, dead_writev: a datagram
%%   socket sends to its connected peer, which is gone: the kernel purges
%%   the sender's own queue (econnrefused).
%% - disconnect, reconnect: connect(2) of a datagram socket to no peer
%%   (AF_UNSPEC) or another one purges its queue.
-spec queue_drop(atom()) -> {integer(), pid()}.
queue_drop(How) ->
    {S, _} = linger_close(none),
    C = get(lingering),
    Call = case How of
               oob_recv -> oob(C, fun(B) -> procket:recv(B, 16) end);
               oob_read -> oob(C, fun(B) -> procket:read(B, 16) end);
               oob_recvmsg -> oob(C, fun(B) -> procket:recvmsg(B, 16, 0, 0, 0) end);
               dead_sendto -> dead_peer(C, fun(B) -> procket:sendto(B, <<"y">>, 0, <<>>) end);
               dead_sendmsg -> dead_peer(C, fun(B) -> procket:sendmsg(B, <<"y">>, 0, []) end);
               dead_write -> dead_peer(C, fun(B) -> procket:write(B, <<"y">>) end);
               dead_writev -> dead_peer(C, fun(B) -> procket:writev(B, [<<"y">>]) end);
               disconnect -> connected(C, fun(B, _) -> procket:connect(B, <<0:16/native, 0:112>>) end);
               reconnect -> connected(C, fun(B, Other) -> procket:connect(B, Other) end)
           end,
    {S, spawn(fun() -> answer(Call()) end)}.

%% the result of a call, to whoever asks (see result/2)
answer(R) ->
    receive {result, From} -> From ! {result, self(), R} end,
    answer(R).

%% @doc The result of a queue_drop/1 call, or pending if it has not
%% returned within Ms milliseconds.
-spec result(pid(), non_neg_integer()) -> term().
result(Pid, Ms) ->
    T0 = erlang:monotonic_time(millisecond),
    result(Pid, T0 + Ms, T0).

result(Pid, End, _) ->
    Pid ! {result, self()},
    receive {result, Pid, R} -> R
    after 50 ->
        case erlang:monotonic_time(millisecond) < End of
            true -> result(Pid, End, 0);
            false -> pending
        end
    end.

uaddr(Tag) ->
    Name = iolist_to_binary(["procket-vm-", os:getpid(), "-", Tag, "-",
                             integer_to_list(erlang:unique_integer([positive]))]),
    <<(procket:sockaddr_common(local, 0))/binary, 0, Name/binary>>.

oob(C, Recv) ->
    {ok, L} = procket:socket(local, stream, 0),
    Addr = uaddr("oob"),
    ok = procket:bind(L, Addr),
    ok = procket:listen(L, 1),
    {ok, A} = procket:socket(local, stream, 0),
    ok = procket:connect(A, Addr),
    {ok, B, _} = procket:accept(L, 0),
    ok = procket:close(L),
    ok = procket:sendmsg(A, <<"x">>, 1, [{1, 1, <<C:32/native>>}], <<>>),  % MSG_OOB
    ok = procket:close(C),
    ok = procket:write(A, <<"data">>),
    fun() -> Recv(B) end.

dead_peer(C, Send) ->
    {ok, A} = procket:socket(local, dgram, 0),
    {ok, B} = procket:socket(local, dgram, 0),
    AA = uaddr("a"),
    AB = uaddr("b"),
    ok = procket:bind(A, AA),
    ok = procket:bind(B, AB),
    ok = procket:connect(B, AA),
    ok = procket:sendmsg(A, <<"x">>, 0, [{1, 1, <<C:32/native>>}], AB),
    ok = procket:close(C),
    ok = procket:close(A),
    fun() -> Send(B) end.

connected(C, Connect) ->
    {ok, A} = procket:socket(local, dgram, 0),
    {ok, B} = procket:socket(local, dgram, 0),
    {ok, O} = procket:socket(local, dgram, 0),
    AA = uaddr("a"),
    AB = uaddr("b"),
    AO = uaddr("o"),
    ok = procket:bind(A, AA),
    ok = procket:bind(B, AB),
    ok = procket:bind(O, AO),
    ok = procket:connect(B, AA),
    ok = procket:sendmsg(A, <<"x">>, 0, [{1, 1, <<C:32/native>>}], AB),
    ok = procket:close(C),
    fun() -> Connect(B, AO) end.

%% @doc The longest of N sleeps of 100 ms, in milliseconds, each followed
%% by a socket/3 and close/1 (which take procket's registry lock). In a
%% VM with one normal scheduler, a scheduler held in a NIF call stretches
%% them.
-spec stretch(pos_integer()) -> non_neg_integer().
stretch(N) ->
    lists:max([begin
                   T0 = erlang:monotonic_time(millisecond),
                   timer:sleep(100),
                   {ok, U} = procket:socket(inet, dgram, 0),
                   ok = procket:close(U),
                   erlang:monotonic_time(millisecond) - T0
               end || _ <- lists:seq(1, N)]).

%% @doc N AF_UNIX datagram sockets, each holding in its queue the last
%% reference to a lingering TCP socket (see queue_drop/1): closing one
%% waits until its server end (returned with it) is closed.
-spec held_in_flight(pos_integer()) -> [{integer(), integer()}].
held_in_flight(N) ->
    [begin
         {S, _} = linger_close(none),
         {queued(get(lingering), "h"), S}
     end || _ <- lists:seq(1, N)].

%% A bound AF_UNIX datagram socket with one message ("x") queued on it
%% that carries FD with SCM_RIGHTS; procket's own FD and the sender are
%% closed, so that the message holds the last reference to FD's file.
queued(FD, Tag) ->
    {ok, A} = procket:socket(local, dgram, 0),
    {ok, B} = procket:socket(local, dgram, 0),
    Addr = uaddr(Tag),
    ok = procket:bind(B, Addr),
    ok = procket:sendmsg(A, <<"x">>, 0, [{1, 1, <<FD:32/native>>}], Addr),
    ok = procket:close(FD),
    ok = procket:close(A),
    B.

%% @doc close/1 of FD in a process of its own (see result/2).
-spec close_async(integer()) -> pid().
close_async(FD) ->
    spawn(fun() -> answer(procket:close(FD)) end).

%% @doc procket's worker threads, both pools: {Tid, Wchan} of each.
-spec workers() -> [{string(), binary()}].
workers() ->
    workers(<<"procket_close\n">>) ++ workers(<<"procket_call\n">>).

%% @doc The workers of one pool (Comm: the thread name with its newline).
-spec workers(binary()) -> [{string(), binary()}].
workers(Comm) ->
    {ok, Ts} = file:list_dir("/proc/self/task"),
    [{T, W} || T <- Ts,
               {ok, Comm} =:= file:read_file("/proc/self/task/" ++ T ++ "/comm"),
               {ok, W} <- [file:read_file("/proc/self/task/" ++ T ++ "/wchan")]].

%% @doc An AF_UNIX datagram socket with an abstract name, for the FUSE
%% server of procket_vm_SUITE (fuse_flush.c) to send descriptors to: the
%% socket and the name.
-spec fuse_socket() -> {integer(), string()}.
fuse_socket() ->
    Name = "procket-vm-fuse-" ++ os:getpid(),
    {ok, B} = procket:socket(local, dgram, 0),
    ok = procket:bind(B, <<(procket:sockaddr_common(local, 0))/binary, 0,
                           (list_to_binary(Name))/binary>>),
    {B, Name}.

%% @doc The descriptor in the next message on B (waits up to 10 s).
-spec fuse_take(integer()) -> integer().
fuse_take(B) ->
    fuse_take(B, 200).

fuse_take(_, 0) ->
    erlang:error(no_message);
fuse_take(B, N) ->
    case procket:recvmsg(B, 16, 0, 64, 0) of
        {ok, <<"x">>, _, [{1, 1, <<F:32/native>>}], _} -> F;
        {error, eagain} -> timer:sleep(50), fuse_take(B, N - 1)
    end.

%% @doc A message on an AF_UNIX datagram socket holds the last reference
%% to a socket that lingers without end (see queue_drop/1), and the VM's
%% descriptor table is full (its limit lowered to 256, then filled with
%% sockets): the kernel cannot install the passed descriptor and closes it
%% in the receiving thread. How receives it: recvmsg, recvfrom or read, in
%% a process of its own. Returns the server end (closing it ends the
%% linger), that process (see result/2) and the sockets that fill the
%% table (see release/1).
-spec emfile_drop(recvmsg | recvfrom | read) -> {integer(), pid(), [integer()]}.
emfile_drop(How) ->
    {S, _} = linger_close(none),
    B = queued(get(lingering), "e"),
    "" = os:cmd("prlimit --pid " ++ os:getpid() ++ " --nofile=256:4096 2>&1"),
    Fill = fill_table([]),
    Recv = case How of
               recvmsg -> fun() -> procket:recvmsg(B, 16, 0, 64, 0) end;
               recvfrom -> fun() -> procket:recvfrom(B, 16) end;
               read -> fun() -> procket:read(B, 16) end
           end,
    {S, spawn(fun() -> answer(Recv()) end), [B | Fill]}.

fill_table(Acc) ->
    case procket:socket(inet, dgram, 0) of
        {ok, F} -> fill_table([F | Acc]);
        {error, emfile} -> Acc
    end.

%% @doc Closes the sockets and gives the VM its descriptor limit back.
-spec release([integer()]) -> ok.
release(Fds) ->
    [ok = procket:close(F) || F <- Fds],
    "" = os:cmd("prlimit --pid " ++ os:getpid() ++ " --nofile=4096:4096 2>&1"),
    ok.

%% @doc N AF_UNIX stream pairs in blocking mode, a reader on each (in a
%% process of its own, see result/2): {Writers, Readers}.
-spec blocking_readers(pos_integer()) -> {[integer()], [pid()]}.
blocking_readers(N) ->
    lists:unzip(
      [begin
           {ok, L} = procket:socket(local, stream, 0),
           Addr = uaddr("r"),
           ok = procket:bind(L, Addr),
           ok = procket:listen(L, 1),
           {ok, W} = procket:socket(local, stream, 0),
           ok = procket:connect(W, Addr),
           {ok, R, _} = procket:accept(L, 0),
           ok = procket:close(L),
           {ok, _} = procket:ioctl(R, 'FIONBIO', <<0:32/native>>),
           {W, spawn(fun() -> answer(procket:read(R, 16)) end)}
       end || _ <- lists:seq(1, N)]).

%% @doc N TCP sockets lingering without end (small buffers, full send
%% queues the server ends never read), each closed by close/1 in a
%% process of its own (see result/2): the server ends (closing one ends
%% its linger) and the closing processes.
-spec stuck_closes(pos_integer()) -> {[integer()], [pid()]}.
stuck_closes(N) ->
    {L, Addr} = tcp_listener(N),
    Pairs = [begin
                 {ok, C} = procket:socket(inet, stream, 0),
                 ok = procket:setsockopt(C, 'SOL_SOCKET', 'SO_SNDBUF', 4096),
                 _ = procket:connect(C, Addr),
                 {ok, S} = accept_retry(L, 100),
                 ok = procket:setsockopt(S, 'SOL_SOCKET', 'SO_RCVBUF', 4096),
                 fill(C, 0),
                 ok = procket:setsockopt(C, 'SOL_SOCKET', 'SO_LINGER',
                                         <<1:32/native, -1:32/native-signed>>),
                 {S, C}
             end || _ <- lists:seq(1, N)],
    ok = procket:close(L),
    {[S || {S, _} <- Pairs], [spawn(fun() -> answer(procket:close(C)) end) || {_, C} <- Pairs]}.

accept_retry(L, 0) ->
    procket:accept(L);
accept_retry(L, Tries) ->
    case procket:accept(L) of
        {error, eagain} -> timer:sleep(5), accept_retry(L, Tries - 1);
        Result -> Result
    end.

%% @doc An AF_UNIX datagram socket with one message queued on it that
%% carries a UDP socket (procket's own copy closed): the socket, and the
%% number of descriptors the VM has then.
-spec fd_message() -> {integer(), non_neg_integer()}.
fd_message() ->
    {ok, X} = procket:socket(inet, dgram, 0),
    B = queued(X, "m"),
    {B, open_fds()}.

%% @doc recvmsg/5 of B with room for a descriptor, in a process of its own.
-spec recvmsg_async(integer()) -> pid().
recvmsg_async(B) ->
    spawn(fun() -> answer(procket:recvmsg(B, 16, 0, 64, 0)) end).

%% @doc The number of descriptors the VM has open.
-spec open_fds() -> non_neg_integer().
open_fds() ->
    {ok, Names} = file:list_dir("/proc/self/fd"),
    length(Names).

%% @doc An AF_UNIX call with the path Path, in a process of its own (see
%% result/2): bind, connect or sendto of a datagram socket, or connect of
%% a stream socket.
-spec path_async(bind | connect | sendto | stream_connect, string()) -> pid().
path_async(How, Path) ->
    Addr = <<(procket:sockaddr_common(local, 0))/binary, (list_to_binary(Path))/binary, 0>>,
    Type = case How of stream_connect -> stream; _ -> dgram end,
    {ok, U} = procket:socket(local, Type, 0),
    spawn(fun() ->
                  R = case How of
                          bind -> procket:bind(U, Addr);
                          sendto -> procket:sendto(U, <<"x">>, 0, Addr);
                          _ -> procket:connect(U, Addr)
                      end,
                  answer(R)
          end).

%% @doc A call that waits as documented on a descriptor in blocking mode,
%% in a process of its own (see result/2), with nothing ever coming:
%% `read_udp' a read of a UDP socket, `read_unix' of an AF_UNIX datagram
%% socket (its wait comes before the worker), `accept_tcp' an accept of a
%% TCP listener, `write_tcp' a write to a TCP connection whose peer never
%% reads. Returns the descriptor, the process and the other descriptors
%% made, for the caller to close.
-spec blocked_call(read_udp | read_unix | accept_tcp | write_tcp) ->
          {integer(), pid(), [integer()]}.
blocked_call(Kind) ->
    {FD, Call, Others} =
        case Kind of
            read_udp ->
                {ok, U} = procket:socket(inet, dgram, 0),
                ok = procket:bind(U, <<2:16/native, 0:16, 127, 0, 0, 1, 0:64>>),
                {U, fun() -> procket:read(U, 16) end, []};
            read_unix ->
                {ok, U} = procket:socket(local, dgram, 0),
                ok = procket:bind(U, uaddr("b")),
                {U, fun() -> procket:read(U, 16) end, []};
            accept_tcp ->
                {L, _} = tcp_listener(5),
                {L, fun() -> procket:accept(L) end, []};
            write_tcp ->
                {L, Addr} = tcp_listener(1),
                {ok, C} = procket:socket(inet, stream, 0),
                ok = procket:setsockopt(C, 'SOL_SOCKET', 'SO_SNDBUF', 4096),
                _ = procket:connect(C, Addr),
                {ok, S} = accept_retry(L, 100),
                ok = procket:setsockopt(S, 'SOL_SOCKET', 'SO_RCVBUF', 4096),
                fill(C, 0),
                {C, fun() -> procket:write(C, <<0:(1048576 * 8)>>) end, [S, L]}
        end,
    {ok, _} = procket:ioctl(FD, 'FIONBIO', <<0:32/native>>),
    {FD, spawn(fun() -> answer(Call()) end), Others}.

%% @doc A write of Size bytes (write/2, or writev/2 in 64 KiB binaries) to
%% a TCP connection in blocking mode while its peer reads 8 KiB at a
%% time, 2 ms apart: what the write returned (ok: all of it, as a blocking
%% write(2) in C) and how many bytes the peer got.
-spec write_all({write | writev, pos_integer()}) -> {term(), non_neg_integer()}.
write_all({How, Size}) ->
    {L, Addr} = tcp_listener(1),
    {ok, C} = procket:socket(inet, stream, 0),
    _ = procket:connect(C, Addr),
    {ok, S} = accept_retry(L, 100),
    ok = procket:close(L),
    Me = self(),
    spawn(fun() -> Me ! {got, drain(S, Size, 0)} end),
    {ok, _} = procket:ioctl(C, 'FIONBIO', <<0:32/native>>),
    R = case How of
            write -> procket:write(C, <<0:(Size * 8)>>);
            writev -> procket:writev(C, [<<0:(65536 * 8)>> || _ <- lists:seq(1, Size div 65536)])
        end,
    Got = receive {got, N} -> N after 30000 -> timeout end,
    ok = procket:close(C),
    ok = procket:close(S),
    {R, Got}.

drain(_, Size, Got) when Got >= Size ->
    Got;
drain(S, Size, Got) ->
    case procket:read(S, 8192) of
        {ok, <<>>} -> Got;
        {ok, B} -> timer:sleep(2), drain(S, Size, Got + byte_size(B));
        {error, eagain} -> timer:sleep(2), drain(S, Size, Got);
        {error, _} -> Got
    end.

%% @doc A read in blocking mode of a UDP socket whose error queue holds a
%% message (IP_RECVERR, and a datagram to a closed port: the kernel's port
%% unreachable), in a process of its own (see result/2): poll(2) says
%% POLLERR at once while a read finds nothing. Returns the socket, its
%% port and the process.
-spec error_queue_read() -> {integer(), integer(), pid()}.
error_queue_read() ->
    {ok, U} = procket:socket(inet, dgram, 0),
    ok = procket:bind(U, <<2:16/native, 0:16, 127, 0, 0, 1, 0:64>>),
    {ok, <<_:16, Port:16, _/binary>>} = procket:getsockname(U, 16),
    ok = procket:setsockopt(U, 'IPPROTO_IP', 'IP_RECVERR', 1),
    %% a port nobody listens on: one just closed
    {ok, C} = procket:socket(inet, dgram, 0),
    ok = procket:bind(C, <<2:16/native, 0:16, 127, 0, 0, 1, 0:64>>),
    {ok, Closed} = procket:getsockname(C, 16),
    ok = procket:close(C),
    ok = procket:sendto(U, <<"x">>, 0, Closed),
    timer:sleep(50),
    %% the error is reported once (sk_err), and stays in the error queue
    {error, econnrefused} = procket:read(U, 16),
    {error, eagain} = procket:read(U, 16),
    {ok, _} = procket:ioctl(U, 'FIONBIO', <<0:32/native>>),
    {U, Port, spawn(fun() -> answer(procket:read(U, 16)) end)}.

%% @doc The CPU time this VM has used, in milliseconds.
-spec cpu_ms() -> non_neg_integer().
cpu_ms() ->
    {ok, Stat} = file:read_file("/proc/self/stat"),
    [_, After] = binary:split(Stat, <<") ">>),
    Fields = binary:split(After, <<" ">>, [global]),
    Ticks = binary_to_integer(lists:nth(12, Fields)) + binary_to_integer(lists:nth(13, Fields)),
    Ticks * 10.

%% @doc N processes each reading its own idle UDP socket in blocking mode
%% (see result/2): the sockets and the processes.
-spec many_waits(pos_integer()) -> {[integer()], [pid()]}.
many_waits(N) ->
    lists:unzip([begin
                     {U, P, []} = blocked_call(read_udp),
                     {U, P}
                 end || _ <- lists:seq(1, N)]).

%% @doc M:F(A...) in a process of its own: {Milliseconds, Result}, or
%% timeout after Ms.
-spec timed({module(), atom(), list()}, pos_integer()) -> {integer(), term()} | timeout.
timed({M, F, A}, Ms) ->
    Me = self(),
    T0 = erlang:monotonic_time(millisecond),
    P = spawn(fun() -> Me ! {self(), apply(M, F, A)} end),
    receive {P, R} -> {erlang:monotonic_time(millisecond) - T0, R}
    after Ms -> exit(P, kill), timeout
    end.

%% @doc N netlink (NETLINK_USERSOCK) sockets connected to one whose
%% receive buffer is full, in blocking mode, each with a write waiting in
%% a process of its own: poll(2) says POLLOUT (it looks at the sender's
%% queue) while the send says EAGAIN. Returns the receiver, the senders
%% and the writers.
-spec netlink_full(pos_integer()) -> {integer(), [integer()], [pid()]}.
netlink_full(N) ->
    Sock = fun() ->
                   {ok, S} = procket:socket(16, 3, 2),
                   ok = procket:bind(S, <<16:16/native, 0:16, 0:32, 0:32>>),
                   {ok, <<_:32, Pid:32/native, _:32>>} = procket:getsockname(S, <<0:96>>),
                   {S, Pid}
           end,
    {B, BPid} = Sock(),
    ok = procket:setsockopt(B, 'SOL_SOCKET', 'SO_RCVBUF', 4096),
    As = [begin
              {A, _} = Sock(),
              ok = procket:connect(A, <<16:16/native, 0:16, BPid:32/native, 0:32>>),
              A
          end || _ <- lists:seq(1, N)],
    Fill = fun F() -> case procket:write(hd(As), <<0:8000>>) of
                          ok -> F();
                          {error, eagain} -> ok
                      end
           end,
    ok = Fill(),
    [{ok, _} = procket:ioctl(A, 'FIONBIO', <<0:32/native>>) || A <- As],
    {B, As, [spawn(fun() -> answer(procket:write(A, <<0:8000>>)) end) || A <- As]}.

%% @doc Which of FDs are still open procket descriptors.
-spec open_of([integer()]) -> [integer()].
open_of(FDs) ->
    [F || F <- FDs, procket:getsockname(F, <<0:128>>) =/= {error, ebadf}].

%% @doc N stream sockets in blocking mode, each connecting in a process of
%% its own (see result/2) to a listener that never accepts and whose
%% backlog is full: `unix' an AF_UNIX listener (the connect waits for
%% room), `tcp' a loopback TCP one (the SYNs are dropped; TCP_SYNCNT 127
%% makes the handshake try for hours). Returns the listener (and what
%% fills it) and the sockets and processes.
-spec blocked_connects(unix | tcp, pos_integer()) -> {[integer()], [integer()], [pid()]}.
blocked_connects(Kind, N) ->
    {L, Addr, Family} =
        case Kind of
            unix ->
                {ok, U} = procket:socket(local, stream, 0),
                A = uaddr("c"),
                ok = procket:bind(U, A),
                {U, A, local};
            tcp ->
                {ok, T} = procket:socket(inet, stream, 0),
                ok = procket:bind(T, <<2:16/native, 0:16, 127, 0, 0, 1, 0:64>>),
                {ok, A} = procket:getsockname(T, 16),
                {T, A, inet}
        end,
    ok = procket:listen(L, 0),
    %% fill the backlog: connections nobody accepts
    Fill = [begin
                {ok, F} = procket:socket(Family, stream, 0),
                _ = procket:connect(F, Addr),
                F
            end || _ <- lists:seq(1, 2)],
    timer:sleep(100),
    Cs = [begin
              {ok, C} = procket:socket(Family, stream, 0),
              Kind =:= tcp andalso
                  (ok = procket:setsockopt(C, 'IPPROTO_TCP', 'TCP_SYNCNT', 127)),
              {ok, _} = procket:ioctl(C, 'FIONBIO', <<0:32/native>>),
              C
          end || _ <- lists:seq(1, N)],
    {[L | Fill], Cs, [spawn(fun() -> answer(procket:connect(C, Addr)) end) || C <- Cs]}.

%% @doc N processes accept, over and over, on one TCP listener in blocking
%% mode (each connection accepted is closed) while Conns clients connect
%% with gen_tcp; then close/1 of the listener and the accepters killed.
%% Returns how many connections were accepted and what close/1 said.
-spec accept_herd(pos_integer(), pos_integer()) -> {non_neg_integer(), term()}.
accept_herd(N, Conns) ->
    {L, <<_:16, Port:16, _/binary>>} = tcp_listener(64),
    {ok, _} = procket:ioctl(L, 'FIONBIO', <<0:32/native>>),
    Counter = counters:new(1, []),
    Loop = fun Loop() ->
                   case procket:accept(L) of
                       {ok, S} -> _ = procket:close(S), counters:add(Counter, 1, 1), Loop();
                       _ -> ok
                   end
           end,
    Ps = [spawn(Loop) || _ <- lists:seq(1, N)],
    timer:sleep(100),
    [begin
         {ok, C} = gen_tcp:connect({127, 0, 0, 1}, Port, [], 2000),
         ok = gen_tcp:close(C)
     end || _ <- lists:seq(1, Conns)],
    timer:sleep(300),
    Closed = procket:close(L),
    [exit(P, kill) || P <- Ps],
    {counters:get(Counter, 1), Closed}.

%% A TCP socket listening on 127.0.0.1 (a port the kernel picks) with
%% this backlog, and its address.
tcp_listener(Backlog) ->
    {ok, L} = procket:socket(inet, stream, 0),
    ok = procket:bind(L, <<2:16/native, 0:16, 127, 0, 0, 1, 0:64>>),
    ok = procket:listen(L, Backlog),
    {ok, Addr} = procket:getsockname(L, 16),
    {L, Addr}.
