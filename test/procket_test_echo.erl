%% @doc Support code for procket_SUITE. Runs inside the unprivileged peer
%% VM (uid 65534): echo servers on descriptors from procket:open/2 and
%% small drivers that call procket many times. Every function returns
%% plain data, never raises, so the suite can compare results.
-module(procket_test_echo).

-export([udp_echo/4, tcp_echo/4, stop/1]).
-export([try_open/2, try_open_with_helper/3]).
-export([open_many/2, close_all/1, cycles/3]).
-export([readme_session/3, readme_session_owned/3, raw_ping/2]).
-export([open_fd/2, tun_answer_ping/2, packet_capture/3, packet_send/2]).
-export([packet_roundtrip/4, packet_confinement/4]).
-export([opens_with/3, fresh_calls/2]).
-export([mute/2, release/1, flood/2, flood_result/1]).
-export([owned_cycles/5, owned_hostile/2]).

-define(START_TIMEOUT, 15000).

%% --- the README's session -------------------------------------------

%% @doc In directory `Dir': `{ok, FD} = procket:listen(53, Opts)',
%% `{ok, S} = gen_udp:open(0, [{fd, FD}])', then "hello\n" sent by socat
%% to `Target'; returns the message that arrived (or `nothing') and S,
%% after closing S and FD and going back to the previous directory.
-spec readme_session(string(), list(), string()) -> {term(), port() | term()}.
readme_session(Dir, Opts, Target) ->
    {ok, Cwd} = file:get_cwd(),
    ok = file:set_cwd(Dir),
    try
        case procket:listen(53, Opts) of
            {ok, FD} ->
                {ok, S} = gen_udp:open(0, [{fd, FD}]),
                _ = os:cmd("echo hello | socat -u - " ++ Target),
                Msg = receive M -> M after 5000 -> nothing end,
                ok = gen_udp:close(S),
                ok = procket:close(FD),
                {Msg, S};
            Error ->
                {Error, none}
        end
    after
        ok = file:set_cwd(Cwd)
    end.

%% @doc The README's first session, in directory `Dir': `{ok, S} =
%% procket:gen_udp_open(53, Opts)', "hello\n" sent by socat to
%% `Target', the message that arrived (or `nothing'), then
%% `gen_udp:close(S)'. Returns the message, S, and whether the VM's
%% descriptors are back to what they were before (the descriptor closed
%% with the socket).
-spec readme_session_owned(string(), list(), string()) -> {term(), term(), boolean()}.
readme_session_owned(Dir, Opts, Target) ->
    {ok, Cwd} = file:get_cwd(),
    ok = file:set_cwd(Dir),
    Fds = fun() -> {ok, L} = file:list_dir("/proc/self/fd"), length(L) end,
    try
        Before = Fds(),
        case procket:gen_udp_open(53, Opts) of
            {ok, S} ->
                _ = os:cmd("echo hello | socat -u - " ++ Target),
                Msg = receive M -> M after 5000 -> nothing end,
                ok = gen_udp:close(S),
                {Msg, S, settle(Fds, Before, 50)};
            Error ->
                {Error, none, false}
        end
    after
        ok = file:set_cwd(Cwd)
    end.

settle(Fds, Want, Tries) ->
    case Fds() of
        Want -> true;
        _ when Tries > 0 -> timer:sleep(20), settle(Fds, Want, Tries - 1);
        _ -> false
    end.

%% --- raw ICMP -------------------------------------------------------

%% @doc Opens a raw ICMP (inet) or ICMPv6 (inet6) socket through procket
%% (with the extra options `Opts'), hands it to gen_udp, sends an echo
%% request to the loopback address and waits up to 3 s for the kernel's
%% echo reply with the same identifier and sequence number. Returns
%% `{echo_reply, FD}' (FD left open, for the caller to inspect and
%% close) or `{Error, FD | none}'.
-spec raw_ping(inet | inet6, list()) -> {term(), integer() | none}.
raw_ping(Family, Opts) ->
    {Proto, Dst} = case Family of
                       inet -> {icmp, {127, 0, 0, 1}};
                       inet6 -> {icmp6, {0, 0, 0, 0, 0, 0, 0, 1}}
                   end,
    case procket:open(0, [{family, Family}, {type, raw}, {protocol, Proto} | Opts]) of
        {ok, FD} ->
            {ok, S} = gen_udp:open(0, [{fd, FD}, binary, Family, {active, false}]),
            Id = erlang:phash2(self(), 16#10000),
            Seq = 7,
            Sent = gen_udp:send(S, Dst, 0, echo_request(Family, Id, Seq)),
            Deadline = erlang:monotonic_time(millisecond) + 3000,
            Result = case Sent of
                         ok -> await_echo_reply(S, Family, Id, Seq, Deadline);
                         Error -> Error
                     end,
            ok = gen_udp:close(S),
            {Result, FD};
        Error ->
            {Error, none}
    end.

echo_request(inet, Id, Seq) ->
    Body = <<"procket">>,
    Sum = icmp_checksum(<<8, 0, 0:16, Id:16, Seq:16, Body/binary>>),
    <<8, 0, Sum:16, Id:16, Seq:16, Body/binary>>;
echo_request(inet6, Id, Seq) ->
    %% the kernel computes ICMPv6 checksums on raw IPPROTO_ICMPV6 sockets
    <<128, 0, 0:16, Id:16, Seq:16, "procket">>.

icmp_checksum(Bin) ->
    Sum = sum16(Bin, 0),
    Folded = (Sum band 16#ffff) + (Sum bsr 16),
    (bnot ((Folded band 16#ffff) + (Folded bsr 16))) band 16#ffff.

sum16(<<W:16, Rest/binary>>, Acc) -> sum16(Rest, Acc + W);
sum16(<<B>>, Acc) -> Acc + (B bsl 8);
sum16(<<>>, Acc) -> Acc.

%% A raw socket also sees our own request (and other traffic): skip all
%% but the matching reply. IPv4 raw sockets deliver the IP header too.
await_echo_reply(S, Family, Id, Seq, Deadline) ->
    Left = max(0, Deadline - erlang:monotonic_time(millisecond)),
    case gen_udp:recv(S, 0, Left) of
        {ok, {_, _, Pkt}} ->
            Icmp = case Family of
                       inet ->
                           <<_:4, IHL:4, _/binary>> = Pkt,
                           binary:part(Pkt, IHL * 4, byte_size(Pkt) - IHL * 4);
                       inet6 ->
                           Pkt
                   end,
            Reply = case Family of inet -> 0; inet6 -> 129 end,
            case Icmp of
                <<Reply, 0, _:16, Id:16, Seq:16, "procket">> -> echo_reply;
                _ -> await_echo_reply(S, Family, Id, Seq, Deadline)
            end;
        Error ->
            Error
    end.

%% --- devices and packet sockets -------------------------------------

%% @doc `procket:open(Port, Opts)', the descriptor left open.
-spec open_fd(integer(), list()) -> term().
open_fd(Port, Opts) ->
    procket:open(Port, Opts).

%% @doc Reads IP packets from the tun descriptor `FD' until an ICMP echo
%% request arrives (at most `Timeout' ms), and writes the echo reply
%% `ping' expects: addresses swapped, type 0, checksums recomputed.
%% Returns `{answered, Src, Dst}' with the request's addresses.
-spec tun_answer_ping(integer(), pos_integer()) -> term().
tun_answer_ping(FD, Timeout) ->
    Port = erlang:open_port({fd, FD, FD}, [binary, eof]),
    Deadline = erlang:monotonic_time(millisecond) + Timeout,
    Result = tun_loop(Port, Deadline),
    catch erlang:port_close(Port),
    Result.

tun_loop(Port, Deadline) ->
    Left = max(0, Deadline - erlang:monotonic_time(millisecond)),
    receive
        {Port, {data, <<4:4, 5:4, Tos, Len:16, Id:16, Frag:16, _Ttl, 1, _:16,
                        Src:4/binary, Dst:4/binary, 8, 0, _:16, Rest/binary>>}}
          when byte_size(Rest) + 24 =:= Len ->
            Icmp = icmp_with_checksum(<<0, 0, 0:16, Rest/binary>>),
            Hdr0 = <<4:4, 5:4, Tos, Len:16, Id:16, Frag:16, 64, 1, 0:16,
                     Dst/binary, Src/binary>>,
            HC = icmp_checksum(Hdr0),
            <<Pre:10/binary, 0:16, Post/binary>> = Hdr0,
            true = erlang:port_command(Port, [Pre, <<HC:16>>, Post, Icmp]),
            {answered, ip4(Src), ip4(Dst)};
        {Port, {data, _Other}} ->
            tun_loop(Port, Deadline);
        {Port, eof} ->
            {error, eof}
    after Left ->
            {error, timeout}
    end.

icmp_with_checksum(<<T, C, 0:16, Rest/binary>> = Bin) ->
    Sum = icmp_checksum(Bin),
    <<T, C, Sum:16, Rest/binary>>.

ip4(<<A, B, C, D>>) -> {A, B, C, D}.

%% @doc Reads frames from the packet socket `FD' (bound to an interface)
%% for at most `Timeout' ms and returns the first whose ethertype is
%% `EtherType', as `{frame, Dst, Src, Payload}'.
-spec packet_capture(integer(), 0..16#ffff, pos_integer()) -> term().
packet_capture(FD, EtherType, Timeout) ->
    Port = erlang:open_port({fd, FD, FD}, [binary, eof]),
    Deadline = erlang:monotonic_time(millisecond) + Timeout,
    Result = capture_loop(Port, EtherType, Deadline),
    catch erlang:port_close(Port),
    Result.

capture_loop(Port, EtherType, Deadline) ->
    Left = max(0, Deadline - erlang:monotonic_time(millisecond)),
    receive
        {Port, {data, <<Dst:6/binary, Src:6/binary, EtherType:16, Payload/binary>>}} ->
            {frame, Dst, Src, Payload};
        {Port, {data, _}} ->
            capture_loop(Port, EtherType, Deadline);
        {Port, eof} ->
            {error, eof}
    after Left ->
            {error, timeout}
    end.

%% @doc Writes one whole Ethernet frame to the packet socket `FD'.
-spec packet_send(integer(), binary()) -> term().
packet_send(FD, Frame) ->
    Port = erlang:open_port({fd, FD, FD}, [binary]),
    Result = erlang:port_command(Port, Frame),
    %% let the write happen before the port goes
    timer:sleep(100),
    catch erlang:port_close(Port),
    Result.

%% @doc With the packet module: sends `Frame' out of the interface with
%% index `OutIndex' through the packet socket `FD', then waits (a handle,
%% enif_select) up to `Timeout' ms for a frame equal to it to arrive on
%% the socket. Returns `{received, Sockaddr}' (the sender's struct
%% sockaddr_ll) or what failed. The handle closes `FD'.
-spec packet_roundtrip(integer(), integer(), binary(), pos_integer()) -> term().
packet_roundtrip(FD, OutIndex, Frame, Timeout) ->
    {ok, H} = procket:handle(FD),
    try packet:send(H, OutIndex, Frame) of
        ok ->
            Deadline = erlang:monotonic_time(millisecond) + Timeout,
            roundtrip_loop(H, Frame, Deadline);
        Other ->
            {send, Other}
    after
        procket:close_handle(H)
    end.

roundtrip_loop(H, Frame, Deadline) ->
    Left = max(0, Deadline - erlang:monotonic_time(millisecond)),
    case procket:wait(H, read, Left) of
        ok ->
            case procket:recvfrom(H, 2048, 0, 20) of
                {ok, Frame, Sockaddr} -> {received, Sockaddr};
                {ok, _Other, _} -> roundtrip_loop(H, Frame, Deadline);
                {error, eagain} -> roundtrip_loop(H, Frame, Deadline);
                {error, _} = Error -> Error
            end;
        {error, _} = Error ->
            Error
    end.

%% @doc What the packet socket `FD', bound to the interface with index
%% `In' (the other end of a veth pair has index `Out'), receives: a frame
%% of ethertype 16#88b5 sent out of `Out' (`bound'); after the socket is
%% bound to `Out' for every ethertype, one sent out of `In' (`rebound');
%% bound to `In' again for every ethertype, one of ethertype 16#88b6
%% (`other_type') and one of 16#88b5 (`back'), and one of 16#88b5 that
%% the second packet socket `Sender' sends out of `In' itself, which `FD'
%% could see only as an outgoing frame (`outgoing'), each `received' or
%% `timeout' (1 s). Then whether the socket filter can be detached or
%% unlocked. The handles close `FD' and `Sender'.
-spec packet_confinement(integer(), integer(), integer(), integer()) -> map().
packet_confinement(FD, Sender, In, Out) ->
    {ok, H} = procket:handle(FD),
    {ok, HS} = procket:handle(Sender),
    Frame = fun(Type, Tag) ->
                    <<255, 255, 255, 255, 255, 255, 2, 0, 0, 0, 0, 3, Type:16,
                      Tag/binary, 0:(8 * 40)>>
            end,
    try
        Bound = send_expect(H, Out, Frame(16#88b5, <<"bound">>)),
        ok = rebind(H, Out),
        Rebound = send_expect(H, In, Frame(16#88b5, <<"rebound">>)),
        ok = rebind(H, In),
        OtherType = send_expect(H, Out, Frame(16#88b6, <<"other type">>)),
        Back = send_expect(H, Out, Frame(16#88b5, <<"back">>)),
        Outgoing = send_expect(H, HS, In, Frame(16#88b5, <<"outgoing">>)),
        #{bound => Bound, rebound => Rebound, other_type => OtherType, back => Back,
          outgoing => Outgoing,
          detach => procket:setsockopt(H, 'SOL_SOCKET', 'SO_DETACH_FILTER', <<0:32/native>>),
          unlock => procket:setsockopt(H, 'SOL_SOCKET', 'SO_LOCK_FILTER', <<0:32/native>>)}
    after
        procket:close_handle(H),
        procket:close_handle(HS)
    end.

%% bind(2) to the interface for every ethertype (struct sockaddr_ll)
rebind(H, Ifindex) ->
    procket:bind(H, <<17:16/native, 16#0003:16/big, Ifindex:32/native, 0:16, 0, 0, 0:64>>).

send_expect(H, OutIndex, Frame) ->
    send_expect(H, H, OutIndex, Frame).

%% Frame sent out of OutIndex through From, awaited on H
send_expect(H, From, OutIndex, Frame) ->
    ok = packet:send(From, OutIndex, Frame),
    case roundtrip_loop(H, Frame, erlang:monotonic_time(millisecond) + 1000) of
        {received, _} -> received;
        {error, timeout} -> timeout;
        Other -> Other
    end.

%% --- echo servers ---------------------------------------------------

%% @doc Opens `Port' through procket with `Opts', turns the descriptor into
%% a gen_udp socket (`SockOpts', e.g. [inet6]) and echoes every datagram
%% back to its sender. The server is registered as `Name'. Returns
%% {ok, FD} once the socket is ready, or procket's error.
-spec udp_echo(atom(), integer(), list(), list()) -> {ok, integer()} | term().
udp_echo(Name, Port, Opts, SockOpts) ->
    serve(Name, Port, Opts,
          fun(FD) ->
                  gen_udp:open(0, [{fd, FD}, binary, {active, true}
                                   | SockOpts])
          end,
          fun udp_loop/2).

udp_loop(S, FD) ->
    receive
        {udp, S, Addr, Port, Data} ->
            ok = gen_udp:send(S, Addr, Port, Data),
            udp_loop(S, FD);
        {stop, From} ->
            ok = gen_udp:close(S),
            ok = procket:close(FD),   % see serve/5
            From ! {stopped, self()}
    end.

%% @doc As udp_echo/4 for TCP: gen_tcp:listen(0, [{fd, FD} | SockOpts]),
%% then every connection gets back what it sends until it closes.
-spec tcp_echo(atom(), integer(), list(), list()) -> {ok, integer()} | term().
tcp_echo(Name, Port, Opts, SockOpts) ->
    serve(Name, Port, Opts,
          fun(FD) ->
                  gen_tcp:listen(0, [{fd, FD}, binary, {active, false}
                                     | SockOpts])
          end,
          fun tcp_loop/2).

tcp_loop(L, FD) ->
    Acceptor = spawn_link(fun() -> accept_loop(L) end),
    receive
        {stop, From} ->
            unlink(Acceptor),
            ok = gen_tcp:close(L),   % the acceptor's accept/1 now fails
            ok = procket:close(FD),  % see serve/5
            From ! {stopped, self()}
    end.

accept_loop(L) ->
    case gen_tcp:accept(L) of
        {ok, C} ->
            Pid = spawn(fun() -> receive go -> echo_conn(C) end end),
            ok = gen_tcp:controlling_process(C, Pid),
            Pid ! go,
            accept_loop(L);
        {error, _} ->
            ok
    end.

echo_conn(C) ->
    case gen_tcp:recv(C, 0, 10000) of
        {ok, Data} ->
            _ = gen_tcp:send(C, Data),
            echo_conn(C);
        {error, _} ->
            gen_tcp:close(C)
    end.

%% Spawns the server, which opens the socket itself so that it owns it,
%% and waits until it is ready. Loop gets the port and the descriptor:
%% OTP's inet driver never closes a descriptor that came already bound
%% with {fd, FD} (a "prebound" socket), so closing the port is not
%% enough; the server closes FD itself after the port.
serve(Name, Port, Opts, Wrap, Loop) ->
    Parent = self(),
    Ref = make_ref(),
    {Pid, Mon} =
        spawn_monitor(
          fun() ->
                  case procket:open(Port, Opts) of
                      {ok, FD} ->
                          case Wrap(FD) of
                              {ok, S} ->
                                  true = register(Name, self()),
                                  Parent ! {Ref, {ok, FD}},
                                  Loop(S, FD);
                              Error ->
                                  _ = procket:close(FD),
                                  Parent ! {Ref, {wrap_failed, Error}}
                          end;
                      Error ->
                          Parent ! {Ref, Error}
                  end
          end),
    receive
        {Ref, Result} ->
            erlang:demonitor(Mon, [flush]),
            Result;
        {'DOWN', Mon, process, Pid, Reason} ->
            {server_died, Reason}
    after ?START_TIMEOUT ->
            exit(Pid, kill),
            {error, start_timeout}
    end.

%% @doc Stops the echo server `Name' and waits until its socket is closed.
-spec stop(atom()) -> ok.
stop(Name) ->
    case whereis(Name) of
        undefined ->
            ok;
        Pid ->
            Mon = monitor(process, Pid),
            Pid ! {stop, self()},
            receive
                {'DOWN', Mon, process, Pid, _} -> ok
            after 5000 ->
                    exit(Pid, kill),
                    ok
            end
    end.

%% --- single calls ---------------------------------------------------

%% @doc Calls procket:open(Port, Opts) and reports the outcome as data:
%% `ok' (a descriptor came back and was closed again), `badarg', the
%% `{error, Posix}' tuple, or `{raised, Class, Reason}' for any other
%% exception; with the time the call took in milliseconds.
-spec try_open(term(), term()) -> {term(), non_neg_integer()}.
try_open(Port, Opts) ->
    T0 = erlang:monotonic_time(millisecond),
    Result = try procket:open(Port, Opts) of
                 {ok, FD} when is_integer(FD), FD >= 0 ->
                     case procket:close(FD) of
                         ok -> ok;
                         Close -> {close_failed, Close}
                     end;
                 Other ->
                     Other
             catch
                 error:badarg -> badarg;
                 Class:Reason -> {raised, Class, Reason}
             end,
    {Result, erlang:monotonic_time(millisecond) - T0}.

%% @doc try_open/2 with `Helper' as procket's default helper (the
%% application environment's `helper'), restored afterwards.
-spec try_open_with_helper(string(), term(), term()) ->
          {term(), non_neg_integer()}.
try_open_with_helper(Helper, Port, Opts) ->
    Old = application:get_env(procket, helper),
    ok = application:set_env(procket, helper, Helper),
    try
        try_open(Port, Opts)
    after
        case Old of
            {ok, V} -> application:set_env(procket, helper, V);
            undefined -> application:unset_env(procket, helper)
        end
    end.

%% --- many calls -----------------------------------------------------

%% @doc One process per port, all released at once, each calling
%% procket:open(Port, Opts). Returns [{Port, Result}] in port order; the
%% descriptors stay open (close them with close_all/1).
-spec open_many([integer()], list()) -> [{integer(), term()}].
open_many(Ports, Opts) ->
    Parent = self(),
    Ref = make_ref(),
    Pids = [spawn_link(fun() ->
                               receive {go, Ref} -> ok end,
                               R = try procket:open(P, Opts)
                                   catch C:E -> {raised, C, E}
                                   end,
                               Parent ! {Ref, P, R}
                       end) || P <- Ports],
    [Pid ! {go, Ref} || Pid <- Pids],
    [receive {Ref, P, R} -> {P, R} after 60000 -> {P, no_answer} end
     || P <- Ports].

%% @doc Closes every descriptor; returns the close results.
-spec close_all([integer()]) -> [term()].
close_all(FDs) ->
    [procket:close(FD) || FD <- FDs].

%% @doc Opens and closes a socket on `Port' N times in a row. Returns
%% {ok, N, Milliseconds} or {failed, Iteration, Result} at the first
%% failure.
-spec cycles(pos_integer(), integer(), list()) -> term().
cycles(N, Port, Opts) ->
    T0 = erlang:monotonic_time(millisecond),
    case cycle(1, N, Port, Opts) of
        ok -> {ok, N, erlang:monotonic_time(millisecond) - T0};
        Failed -> Failed
    end.

cycle(I, N, _Port, _Opts) when I > N ->
    ok;
cycle(I, N, Port, Opts) ->
    case procket:open(Port, Opts) of
        {ok, FD} ->
            case procket:close(FD) of
                ok -> cycle(I + 1, N, Port, Opts);
                Error -> {failed, I, {close, Error}}
            end;
        Error ->
            {failed, I, Error}
    end.

%% @doc N opens of Port with Opts, one after another: the results that
%% were not `{ok, _}' (each descriptor is closed at once).
-spec opens_with(non_neg_integer(), 0..65535, list()) -> [term()].
opens_with(N, Port, Opts) ->
    lists:filtermap(fun(_) ->
                            case procket:open(Port, Opts) of
                                {ok, FD} -> ok = procket:close(FD), false;
                                Other -> {true, Other}
                            end
                    end, lists:seq(1, N)).

%% @doc What the older procket's poll loops see on fresh descriptors from
%% open/2: a UDP socket on Port (read/2, recvfrom/2, recv/2) and a TCP
%% listener on Port (accept/1), each with nothing waiting. Every answer is
%% expected at once: `{error, eagain}'.
-spec fresh_calls(0..65535, list()) -> [term()].
fresh_calls(Port, Opts) ->
    {ok, U} = procket:open(Port, [{protocol, udp} | Opts]),
    {ok, T} = procket:open(Port, [{protocol, tcp}, {backlog, 5} | Opts]),
    R = [procket:read(U, 100), procket:recvfrom(U, 100), procket:recv(U, 100),
         procket:accept(T)],
    [ok = procket:close(F) || F <- [U, T]],
    R.

%% --- hostile clients of a broker -------------------------------------

%% @doc Makes up to `N' connections to the broker socket at `Path' (with
%% procket's non-blocking sockets; a full backlog is tried again for a
%% while) and holds them, saying nothing, until {@link release/1}.
%% Returns the holder and how many connected.
-spec mute(string(), pos_integer()) -> {pid(), non_neg_integer()}.
mute(Path, N) ->
    Parent = self(),
    Pid = spawn(fun() ->
                        FDs = [FD || {ok, FD} <- [connect_unix(Path, 100) || _ <- lists:seq(1, N)]],
                        Parent ! {self(), length(FDs)},
                        receive
                            {release, From} ->
                                [procket:close(FD) || FD <- FDs],
                                From ! {self(), released}
                        end
                end),
    receive {Pid, Count} -> {Pid, Count} end.

%% @doc Closes what {@link mute/2} holds.
-spec release(pid()) -> ok.
release(Pid) ->
    Pid ! {release, self()},
    receive {Pid, released} -> ok after 30000 -> error(not_released) end.

%% @doc Starts `N' connect-and-close rounds to `Path' as fast as they go
%% (a full backlog is not waited for); {@link flood_result/1} waits for
%% the counts.
-spec flood(string(), pos_integer()) -> pid().
flood(Path, N) ->
    spawn(fun() ->
                  R = lists:foldl(fun(_, Acc) ->
                                          K = case connect_unix(Path, 1) of
                                                  {ok, FD} -> ok = procket:close(FD), ok;
                                                  {error, E} -> E
                                              end,
                                          maps:update_with(K, fun(C) -> C + 1 end, 1, Acc)
                                  end, #{}, lists:seq(1, N)),
                  receive {result, From} -> From ! {self(), R} end
          end).

%% @doc The counts of a {@link flood/2}: #{ok => N, eagain => M, ...}.
-spec flood_result(pid()) -> map().
flood_result(Pid) ->
    Pid ! {result, self()},
    receive {Pid, R} -> R after 60000 -> error(flood_timeout) end.

connect_unix(Path, Tries) ->
    {ok, FD} = procket:socket(unix, seqpacket, 0),
    case connect_retry(FD, <<1:16/native, (list_to_binary(Path))/binary, 0>>, Tries) of
        ok -> {ok, FD};
        Error -> procket:close(FD), Error
    end.

connect_retry(FD, Sun, Tries) ->
    case procket:connect(FD, Sun) of
        {error, eagain} when Tries > 1 -> timer:sleep(10), connect_retry(FD, Sun, Tries - 1);
        Other -> Other
    end.

%% --- handles that own their descriptor -------------------------------

%% @doc N rounds of procket:gen_udp_open/2 (Kind udp), gen_tcp_listen/2
%% (tcp) or socket_open/2 (socket) on Port with Opts: each handle is
%% checked (bound to Port) and then closed (Mode close) or its owner
%% killed (Mode kill). Returns ok or the first failure.
-spec owned_cycles(udp | tcp | socket, pos_integer(), 0..65535, list(), close | kill) ->
          ok | {failed, pos_integer(), term()}.
owned_cycles(Kind, N, Port, Opts, Mode) ->
    owned_cycle(1, N, Kind, Port, Opts, Mode).

owned_cycle(I, N, _, _, _, _) when I > N ->
    ok;
owned_cycle(I, N, Kind, Port, Opts, Mode) ->
    Me = self(),
    Owner = spawn(fun() ->
                          R = owned_open(Kind, Port, Opts),
                          Me ! {self(), R},
                          receive close -> owned_close(Kind, R), Me ! {self(), closed} end
                  end),
    receive
        {Owner, {ok, S}} ->
            case owned_port(Kind, S) of
                Port when Mode =:= close ->
                    Owner ! close,
                    receive {Owner, closed} -> owned_cycle(I + 1, N, Kind, Port, Opts, Mode) end;
                Port ->
                    MRef = monitor(process, Owner),
                    exit(Owner, kill),
                    receive {'DOWN', MRef, _, _, _} -> ok end,
                    owned_cycle(I + 1, N, Kind, Port, Opts, Mode);
                Other ->
                    {failed, I, {port, Other}}
            end;
        {Owner, Error} ->
            {failed, I, Error}
    after 10000 ->
            {failed, I, timeout}
    end.

owned_open(udp, Port, Opts) -> procket:gen_udp_open(Port, Opts);
owned_open(tcp, Port, Opts) -> procket:gen_tcp_listen(Port, Opts);
owned_open(socket, Port, Opts) -> procket:socket_open(Port, Opts).

owned_close(udp, {ok, S}) -> gen_udp:close(S);
owned_close(tcp, {ok, S}) -> gen_tcp:close(S);
owned_close(socket, {ok, S}) -> socket:close(S).

owned_port(socket, S) ->
    case socket:sockname(S) of
        {ok, #{port := P}} -> P;
        Other -> Other
    end;
owned_port(_, S) ->
    case inet:sockname(S) of
        {ok, {_, P}} -> P;
        Other -> Other
    end.

%% @doc The hostile uses of the sockets that own their descriptor, in
%% this VM: 100 gen_udp and 100 gen_tcp sockets with `{inet_backend,
%% socket}' (what holds the descriptor is a process, not a port), 300
%% socket_open/2 callers killed at random moments, and {ipv6_v6only, _}
%% with inet6; returns the VM's descriptor count before and after, and
%% what each ipv6_v6only call gave.
-spec owned_hostile(0..65535, list()) -> {integer(), integer(), list()}.
owned_hostile(Port, Opts) ->
    Fds = fun() -> {ok, L} = file:list_dir("/proc/self/fd"), length(L) end,
    Before = Fds(),
    [begin
         {ok, S} = procket:gen_udp_open(Port, [{inet_backend, socket}, binary | Opts]),
         ok = gen_udp:close(S)
     end || _ <- lists:seq(1, 100)],
    [begin
         {ok, S} = procket:gen_tcp_listen(Port, [{inet_backend, socket}, binary | Opts]),
         ok = gen_tcp:close(S)
     end || _ <- lists:seq(1, 100)],
    Ps = [spawn(fun() ->
                        _ = procket:socket_open(Port, [{protocol, udp} | Opts]),
                        receive after infinity -> ok end
                end) || _ <- lists:seq(1, 300)],
    [begin timer:sleep(rand:uniform(4) - 1), exit(P, kill) end || P <- Ps],
    V6 = [case procket:gen_udp_open(Port, [{ipv6_v6only, Only}, inet6 | Opts]) of
              {ok, S} -> ok = gen_udp:close(S), ok;
              Error -> Error
          end || Only <- [true, false]],
    {Before, settle_count(Fds, Before, 100), V6}.

settle_count(Fds, Want, Tries) ->
    case Fds() of
        Want -> Want;
        N when Tries =:= 0 -> N;
        _ -> timer:sleep(20), settle_count(Fds, Want, Tries - 1)
    end.
