%% EUnit tests of the socket API (procket_socket, through procket).
%%
%% They need no privileges (`make test` runs them as uid 65534): loopback
%% UDP and TCP on ports the kernel picks, AF_UNIX sockets in the abstract
%% namespace, ICMP datagram sockets where net.ipv4.ping_group_range allows
%% them (else their refusal). Every function gets a
%% success case, a badarg case and a failing system call ({error, Posix}).
%% Descriptors are checked through /proc/self/fd and /proc/self/fdinfo.
-module(procket_socket_tests).

-include_lib("eunit/include/eunit.hrl").

-define(O_NONBLOCK, 8#4000).
-define(O_CLOEXEC, 8#2000000).

%%% ------------------------------------------------------------------
%%% helpers
%%% ------------------------------------------------------------------

sin(Port) ->
    <<(procket:sockaddr_common(inet, 16))/binary, Port:16, 127, 0, 0, 1, 0:64>>.

sin6(Port) ->
    <<(procket:sockaddr_common(inet6, 28))/binary, Port:16, 0:32,
      0:120, 1, 0:32>>.

port(<<_:2/bytes, Port:16, _/binary>>) -> Port.

%% an abstract AF_UNIX address, unique per call
sun() ->
    Name = iolist_to_binary(io_lib:format("procket-test-~p-~p",
                                          [os:getpid(), erlang:unique_integer([positive])])),
    <<(procket:sockaddr_common(local, 0))/binary, 0, Name/binary>>.

%% a bound UDP socket on 127.0.0.1 and its address
udp() ->
    {ok, S} = procket:socket(inet, dgram, udp),
    ok = procket:bind(S, sin(0)),
    {ok, Addr} = procket:getsockname(S, 16),
    {S, Addr}.

%% a bound AF_UNIX datagram socket and its address
unix_dgram() ->
    {ok, S} = procket:socket(local, dgram, 0),
    Addr = sun(),
    ok = procket:bind(S, Addr),
    {S, Addr}.

%% a listening TCP socket on 127.0.0.1 and its address
tcp_listener() ->
    {ok, L} = procket:socket(inet, stream, tcp),
    ok = procket:setsockopt(L, 'SOL_SOCKET', 'SO_REUSEADDR', 1),
    ok = procket:bind(L, sin(0)),
    ok = procket:listen(L, 16),
    {ok, Addr} = procket:getsockname(L, 16),
    {L, Addr}.

%% a connected TCP pair {Client, Server} (integer descriptors)
tcp_pair() ->
    {L, Addr} = tcp_listener(),
    {ok, C} = procket:socket(inet, stream, 0),
    case procket:connect(C, Addr) of
        ok -> ok;
        {error, einprogress} -> ok
    end,
    S = accept_retry(L, 200),
    ok = wait_connected(C, 200),
    ok = procket:close(L),
    {C, S}.

accept_retry(L, 0) -> error({accept_timeout, L});
accept_retry(L, N) ->
    case procket:accept(L) of
        {ok, S} -> S;
        {error, eagain} -> timer:sleep(5), accept_retry(L, N - 1)
    end.

%% accept/2 until a connection comes
accept_retry(L, _Salen, 0) -> error({accept_timeout, L});
accept_retry(L, Salen, N) ->
    case procket:accept(L, Salen) of
        {error, eagain} -> timer:sleep(5), accept_retry(L, Salen, N - 1);
        Other -> Other
    end.

wait_connected(_C, 0) -> {error, timeout};
wait_connected(C, N) ->
    case procket:getpeername(C, 16) of
        {ok, _} -> ok;
        {error, enotconn} -> timer:sleep(5), wait_connected(C, N - 1)
    end.

%% a connected AF_UNIX stream pair {Client, Server}
unix_pair() ->
    {ok, L} = procket:socket(local, stream, 0),
    Addr = sun(),
    ok = procket:bind(L, Addr),
    ok = procket:listen(L, 4),
    {ok, C} = procket:socket(local, stream, 0),
    ok = procket:connect(C, Addr),
    {ok, S} = procket:accept(L),
    ok = procket:close(L),
    {C, S}.

%% an integer that is not an open descriptor
bad_fd() ->
    {ok, S} = procket:socket(inet, dgram, 0),
    ok = procket:close(S),
    S.

close_all(FDs) ->
    [ok = procket:close(FD) || FD <- FDs],
    ok.

fd_open(FD) ->
    case file:read_link_info("/proc/self/fd/" ++ integer_to_list(FD)) of
        {ok, _} -> true;
        {error, enoent} -> false
    end.

fd_flags(FD) ->
    {ok, Info} = file:read_file("/proc/self/fdinfo/" ++ integer_to_list(FD)),
    [Flags] = [list_to_integer(string:trim(V), 8)
               || Line <- string:split(binary_to_list(Info), "\n", all),
                  ["flags:", V] <- [string:split(Line, "\t")]],
    Flags.

nonblocking(FD) -> fd_flags(FD) band ?O_NONBLOCK =/= 0.
cloexec(FD) -> fd_flags(FD) band ?O_CLOEXEC =/= 0.

%% clears O_NONBLOCK with ioctl(FIONBIO), the only way in this API
make_blocking(FD) ->
    {ok, _} = procket:ioctl(FD, 'FIONBIO', <<0:32/native>>),
    false = nonblocking(FD),
    ok.

wait_until(_Fun, 0) -> false;
wait_until(Fun, N) ->
    case Fun() of
        true -> true;
        false -> timer:sleep(10), wait_until(Fun, N - 1)
    end.

flush() ->
    receive _ -> flush() after 0 -> ok end.

little() -> erlang:system_info(endian) =:= little.

%%% ------------------------------------------------------------------
%%% names, numbers, portability
%%% ------------------------------------------------------------------

family_test() ->
    ?assertEqual(2, procket:family(inet)),
    ?assertEqual(10, procket:family(inet6)),
    ?assertEqual(1, procket:family(local)),
    ?assertEqual(1, procket:family(unix)),
    ?assertEqual(17, procket:family(packet)),
    ?assertEqual(16, procket:family(netlink)),
    ?assertEqual(0, procket:family(unspec)),
    ?assertEqual(inet, procket:family(2)),
    ?assertEqual(local, procket:family(1)),
    ?assertEqual(netlink, procket:family(16)),
    ?assertError(badarg, procket:family(no_such_family)),
    ?assertError(badarg, procket:family(link)),        % known, not on Linux
    ?assertError(badarg, procket:family(123456)),
    ?assertError(badarg, procket:family("inet")).

%% the numbers come from the C headers: spot checks against Linux's
tables_test() ->
    ?assertEqual(1, procket:socket_level('SOL_SOCKET')),
    ?assertEqual(263, procket:socket_level('SOL_PACKET')),
    ?assertEqual(undefined, procket:socket_level('IPPROTO_IP')),
    ?assertEqual(undefined, procket:socket_level(no_such_level)),
    ?assertEqual(0, procket:socket_protocol('IPPROTO_IP')),
    ?assertEqual(41, procket:socket_protocol('IPPROTO_IPV6')),
    ?assertEqual(58, procket:socket_protocol('IPPROTO_ICMPV6')),
    ?assertEqual(0, procket:socket_protocol('NETLINK_ROUTE')),
    ?assertEqual(2, procket:socket_optname('SO_REUSEADDR')),
    ?assertEqual(15, procket:socket_optname('SO_REUSEPORT')),
    ?assertEqual(3, procket:socket_optname('IP_HDRINCL')),
    ?assertEqual(25, procket:socket_optname('SO_BINDTODEVICE')),
    ?assertEqual(8, procket:socket_optname('SO_RCVBUF')),
    ?assertEqual(26, procket:socket_optname('IPV6_V6ONLY')),
    ?assertEqual(1, procket:socket_optname('PACKET_ADD_MEMBERSHIP')),
    ?assertEqual(1, procket:socket_optname('SCM_RIGHTS')),
    ?assertEqual(undefined, procket:socket_optname('SO_NOSIGPIPE')), % BSD
    ?assertEqual(2, procket:msg_flag('MSG_PEEK')),
    ?assertEqual(16#20, procket:msg_flag('MSG_TRUNC')),
    ?assertEqual(16#541B, procket:ioctl_request('FIONREAD')),
    ?assertEqual(16#8933, procket:ioctl_request('SIOCGIFINDEX')),
    ?assertEqual(16#400454ca, procket:ioctl_request('TUNSETIFF')),
    ?assertError(badarg, procket:socket_level("SOL_SOCKET")),
    ?assertError(badarg, procket:socket_optname(2)),
    ?assertError(badarg, procket:socket_protocol(<<"IPPROTO_IP">>)),
    ?assertError(badarg, procket:msg_flag(2)),
    ?assertError(badarg, procket:ioctl_request(16#541B)),
    %% lists: only names this system has, each once
    lists:foreach(
      fun(L) ->
              Names = [N || {N, _} <- L],
              ?assertEqual(length(Names), length(lists:usort(Names))),
              ?assert(lists:all(fun({N, V}) -> is_atom(N) andalso is_integer(V) end, L))
      end,
      [procket:socket_level(), procket:socket_optname(), procket:socket_protocol(),
       procket:msg_flag(), procket:ioctl_request()]),
    ?assert(lists:member({'SOL_SOCKET', 1}, procket:socket_level())),
    ?assertNot(lists:keymember('SO_NOSIGPIPE', 1, procket:socket_optname())),
    ?assert(length(procket:socket_optname()) > 200).

errno_id_test() ->
    ?assertEqual(eperm, procket:errno_id(1)),
    ?assertEqual(eagain, procket:errno_id(11)),
    ?assertEqual(econnrefused, procket:errno_id(111)),
    ?assertEqual(unknown, procket:errno_id(99999)),
    ?assertError(badarg, procket:errno_id(eperm)).

portability_test() ->
    ?assertEqual(108, procket:unix_path_max()),
    ?assertEqual(<<2:16/native>>, procket:sockaddr_common(inet, 16)),
    ?assertEqual(<<10:16/native>>, procket:sockaddr_common(10, 28)),
    ?assertError(badarg, procket:sockaddr_common(inet, 256)),
    ?assertError(badarg, procket:sockaddr_common(no_such_family, 16)),
    ?assertEqual(0, procket:wordalign(0)),
    ?assertEqual(3, procket:wordalign(5, 4)),
    ?assertEqual(0, procket:wordalign(8, 8)),
    ?assertEqual((8 - 5) rem erlang:system_info({wordsize, external}),
                 procket:wordalign(5) rem erlang:system_info({wordsize, external})),
    ?assertError(badarg, procket:wordalign(-1, 4)),
    ?assertError(badarg, procket:wordalign(-1)),
    ?assertError(badarg, procket:wordalign(foo)),
    ?assertError(badarg, procket:wordalign(1, 0)).

%% An integer that does not fit its field is badarg, not cut down to it.
fixed_width_test() ->
    ?assertEqual(<<65535:16/native>>, procket:sockaddr_common(65535, 16)),
    ?assertEqual(<<0:16>>, procket:sockaddr_common(0, 0)),
    ?assertError(badarg, procket:sockaddr_common(70000, 16)),
    ?assertError(badarg, procket:sockaddr_common(65536, 16)),
    ?assertError(badarg, procket:sockaddr_common(-1, 16)),
    ?assertError(badarg, procket:sockaddr_common(inet, -1)),
    ?assertError(badarg, procket:sockaddr_common(2.0, 16)),
    ?assertError(badarg, procket_socket:sockaddr_common(1 bsl 64, 16)),
    ?assertEqual(16#ffff, procket:ntohs(16#ffff)),
    ?assertEqual(0, procket:ntohs(0)),
    ?assertError(badarg, procket:ntohs(16#10000)),
    ?assertError(badarg, procket:ntohs(16#10102)),
    ?assertError(badarg, procket:ntohs(16#ffffffff)),
    ?assertError(badarg, procket:ntohs(-1)),
    ?assertError(badarg, procket:ntohl(1 bsl 32)),
    ?assertError(badarg, procket:setsockopt(bad_fd(), 'SOL_SOCKET', 'SO_DEBUG', 1 bsl 31)).

byte_order_test() ->
    case little() of
        true ->
            ?assertEqual(16777216, procket:ntohl(<<1:32>>)),
            ?assertEqual(16#04030201, procket:ntohl(16#01020304)),
            ?assertEqual(256, procket:ntohs(<<1:16>>)),
            ?assertEqual(256, procket:ntohs(<<1:32>>)),   % as the older procket
            ?assertEqual(16#0201, procket:ntohs(16#0102));
        false ->
            ?assertEqual(1, procket:ntohl(<<1:32>>)),
            ?assertEqual(1, procket:ntohs(<<1:16>>))
    end,
    ?assertError(badarg, procket:ntohl(<<1:24>>)),
    ?assertError(badarg, procket:ntohl(-1)),
    ?assertError(badarg, procket:ntohs(foo)).

%%% ------------------------------------------------------------------
%%% socket, bind, connect, listen, accept
%%% ------------------------------------------------------------------

socket_test() ->
    {ok, U} = procket:socket(inet, dgram, udp),
    ?assert(nonblocking(U)),
    ?assert(cloexec(U)),
    {ok, T} = procket:socket(2, 1, 0),
    {ok, S6} = procket:socket(inet6, stream, tcp),
    {ok, L} = procket:socket(unix, seqpacket, 0),
    {ok, N} = procket:socket(netlink, dgram, 'ip'),
    ok = close_all([U, T, S6, L, N]),
    ?assertEqual({error, eafnosupport}, procket:socket(12345, dgram, 0)),
    ?assertEqual({error, eafnosupport}, procket:socket(link, dgram, 0)),
    ?assertEqual({error, eprotonosupport}, procket:socket(inet, stream, udp)),
    ?assertError(badarg, procket:socket(no_such_family, dgram, 0)),
    ?assertError(badarg, procket:socket(inet, no_such_type, 0)),
    ?assertError(badarg, procket:socket(inet, dgram, no_such_protocol)),
    ?assertError(badarg, procket:socket(inet, dgram, 1 bsl 40)).

%% ICMP datagram sockets need one of the VM's groups in
%% net.ipv4.ping_group_range: then an echo to 127.0.0.1 comes back,
%% otherwise the socket is refused with eacces. Which one is decided from
%% /proc before the call, so either outcome is asserted.
icmp_dgram_test() ->
    {ok, Range} = file:read_file("/proc/sys/net/ipv4/ping_group_range"),
    [Lo, Hi] = [binary_to_integer(X) || X <- string:lexemes(Range, " \t\n")],
    Allowed = lists:any(fun(G) -> G >= Lo andalso G =< Hi end, my_groups()),
    case procket:socket(inet, dgram, icmp) of
        {ok, S} when Allowed ->
            Echo = <<8, 0, 0:16, 0:16, 1:16, "x">>,   % the kernel sets checksum, id
            ok = procket:sendto(S, Echo, 0, sin(0)),
            {ok, H} = procket:handle(S),
            {ok, <<0, 0, _/binary>>} = procket:recvfrom_wait(H, 64, 2000),
            ok = procket:close_handle(H);
        Other ->
            ?assertEqual({Allowed, {error, eacces}}, {false, Other})
    end.

%% the VM's gid and supplementary groups, as the kernel has them
my_groups() ->
    {ok, Status} = file:read_file("/proc/self/status"),
    Lines = string:lexemes(Status, "\n"),
    [<<"Gid:", Gids/binary>>] = [L || <<"Gid:", _/binary>> = L <- Lines],
    [<<"Groups:", Groups/binary>>] = [L || <<"Groups:", _/binary>> = L <- Lines],
    [binary_to_integer(X) || X <- string:lexemes(<<Gids/binary, " ", Groups/binary>>, " \t")].

bind_test() ->
    {ok, S} = procket:socket(inet, dgram, 0),
    ok = procket:bind(S, sin(0)),
    ?assertEqual({error, einval}, procket:bind(S, sin(0))),      % bound already
    {ok, T1} = procket:socket(inet, stream, 0),
    {ok, T2} = procket:socket(inet, stream, 0),
    ok = procket:bind(T1, sin(0)),
    {ok, A1} = procket:getsockname(T1, 16),
    ok = procket:listen(T1, 1),
    ?assertEqual({error, eaddrinuse}, procket:bind(T2, A1)),
    ?assertEqual({error, ebadf}, procket:bind(bad_fd(), sin(0))),
    ?assertEqual({error, einval}, procket:bind(T2, <<>>)),      % NULL, 0
    ?assertError(badarg, procket:bind(S, not_a_binary)),
    ?assertError(badarg, procket:bind(S, <<0:(1025 * 8)>>)),
    ?assertError(badarg, procket:bind(-1, sin(0))),
    ?assertError(badarg, procket:bind(make_ref(), sin(0))),
    ok = close_all([S, T1, T2]).

connect_test() ->
    {L, Addr} = tcp_listener(),
    {ok, C} = procket:socket(inet, stream, 0),
    ?assertEqual({error, einprogress}, procket:connect(C, Addr)),
    _ = accept_retry(L, 200),
    %% UDP: connect sets the peer
    {U, UA} = udp(),
    {ok, V} = procket:socket(inet, dgram, 0),
    ok = procket:connect(V, UA),
    ok = procket:sendto(V, <<"connected">>),
    ?assertEqual({ok, <<"connected">>}, procket:recvfrom(U, 64)),
    %% refused: a port nobody listens on
    {ok, D} = procket:socket(inet, stream, 0),
    ok = procket:bind(D, sin(0)),
    {ok, DA} = procket:getsockname(D, 16),
    ok = procket:close(D),
    {ok, H} = procket:handle(element(2, procket:socket(inet, stream, 0))),
    ?assertEqual({error, econnrefused}, procket:connect_wait(H, DA, 2000)),
    ok = procket:close_handle(H),
    ?assertEqual({error, einval}, procket:connect(V, <<>>)),         % NULL, 0
    ?assertEqual({error, ebadf}, procket:connect(bad_fd(), Addr)),
    ?assertError(badarg, procket:connect(C, "127.0.0.1")),
    ?assertError(badarg, procket:connect(foo, Addr)),
    ok = close_all([L, C, U, V]).

listen_test() ->
    {ok, T} = procket:socket(inet, stream, 0),
    ok = procket:bind(T, sin(0)),
    ok = procket:listen(T, 5),
    {ok, U} = procket:socket(inet, dgram, 0),
    ?assertEqual({error, enotsup}, procket:listen(U, 5)),
    ?assertEqual({error, ebadf}, procket:listen(bad_fd(), 5)),
    ?assertError(badarg, procket:listen(T, foo)),
    ?assertError(badarg, procket:listen(T, 1 bsl 40)),
    %% the 2010 listen/2 (a port and options) is still there
    ?assertError(badarg, procket:listen(70000, [])),
    ok = close_all([T, U]).

accept_test() ->
    {L, Addr} = tcp_listener(),
    ?assertEqual({error, eagain}, procket:accept(L)),
    ?assertEqual({error, eagain}, procket:accept(L, 16)),
    {ok, C1} = procket:socket(inet, stream, 0),
    _ = procket:connect(C1, Addr),
    S1 = accept_retry(L, 200),
    ?assert(nonblocking(S1)),
    ?assert(cloexec(S1)),
    {ok, C2} = procket:socket(inet, stream, 0),
    _ = procket:connect(C2, Addr),
    {ok, C2Addr} = procket:getsockname(C2, 16),
    {ok, S2, Peer} = accept_retry(L, 16, 200),
    ?assertEqual(C2Addr, Peer),
    %% a buffer too small: the full length comes back, zero padded
    {ok, C3} = procket:socket(inet, stream, 0),
    _ = procket:connect(C3, Addr),
    {ok, C3Addr} = procket:getsockname(C3, 16),
    {ok, S3, Short} = accept_retry(L, 4, 200),
    <<Head:4/bytes, _/binary>> = C3Addr,
    ?assertEqual(<<Head/binary, 0:96>>, Short),
    {ok, U} = procket:socket(inet, dgram, 0),
    ?assertEqual({error, enotsup}, procket:accept(U)),
    ?assertError(badarg, procket:accept(L, -1)),
    ?assertError(badarg, procket:accept(L, 1025)),
    ?assertError(badarg, procket:accept(3.0)),
    ok = close_all([L, C1, S1, C2, S2, C3, S3, U]).

%%% ------------------------------------------------------------------
%%% recv, recvfrom, sendto
%%% ------------------------------------------------------------------

recvfrom_sendto_test() ->
    {S, Addr} = udp(),
    {C, CAddr} = udp(),
    ?assertEqual({error, eagain}, procket:recvfrom(S, 100)),
    ?assertEqual({error, eagain}, procket:recv(S, 100)),
    ?assertEqual({error, eagain}, procket:recvfrom(S, 100, 0, 16)),
    ok = procket:sendto(C, <<"one">>, 0, Addr),
    ok = procket:sendto(C, [<<"tw">>, $o], 0, Addr),               % iodata
    ok = procket:sendto(C, <<"three">>, ['MSG_DONTWAIT'], Addr),   % flag names
    ?assertEqual({ok, <<"one">>, CAddr}, procket:recvfrom(S, 100, 0, 16)),
    ?assertEqual({ok, <<"two">>}, procket:recv(S, 100)),
    %% MSG_PEEK leaves it there
    ?assertEqual({ok, <<"three">>, <<>>}, procket:recvfrom(S, 100, ['MSG_PEEK'], 0)),
    ?assertEqual({ok, <<"three">>}, procket:recvfrom(S, 100)),
    %% MSG_TRUNC: at most Size bytes, never more
    ok = procket:sendto(C, binary:copy(<<"x">>, 100), 0, Addr),
    ?assertEqual({ok, <<"xxxxxxxxxx">>, <<>>},
                 procket:recvfrom(S, 10, procket:msg_flag('MSG_TRUNC'), 0)),
    %% a zero-sized receive
    ok = procket:sendto(C, <<"z">>, 0, Addr),
    ?assertEqual({ok, <<>>}, procket:recvfrom(S, 0)),
    %% connected: sendto/2,3
    ok = procket:connect(C, Addr),
    ok = procket:sendto(C, <<"a">>),
    ok = procket:sendto(C, <<"b">>, 0),
    ?assertEqual({ok, <<"a">>}, procket:recvfrom(S, 10)),
    ?assertEqual({ok, <<"b">>}, procket:recvfrom(S, 10)),
    %% errors
    {ok, U} = procket:socket(inet, dgram, 0),
    ?assertEqual({error, edestaddrreq}, procket:sendto(U, <<"x">>)),
    ?assertEqual({error, unsupported}, procket:sendto(C, <<"x">>, ['MSG_NBIO'])),
    ?assertEqual({error, edestaddrreq}, procket:sendto(U, <<"x">>, 0)),
    ?assertEqual({error, edestaddrreq}, procket:sendto(U, <<"x">>, ['MSG_DONTWAIT'])),
    ?assertEqual({error, ebadf}, procket:sendto(bad_fd(), <<"x">>, 0)),
    ?assertEqual({error, unsupported}, procket:recvfrom(S, 10, ['MSG_NO_SUCH'], 0)),
    ?assertEqual({error, ebadf}, procket:recvfrom(bad_fd(), 10)),
    ?assertEqual({error, ebadf}, procket:sendto(bad_fd(), <<"x">>, 0, Addr)),
    {L, _} = tcp_listener(),
    ?assertEqual({error, enotconn}, procket:recv(L, 10)),
    ?assertEqual({error, emsgsize}, procket:sendto(C, <<0:(70000 * 8)>>)),
    %% bounds and types
    ?assertError(badarg, procket:recvfrom(S, 64 * 1024 * 1024 + 1)),
    ?assertError(badarg, procket:recvfrom(S, -1)),
    ?assertError(badarg, procket:recv(S, -1)),
    ?assertError(badarg, procket:recv(S, foo)),
    ?assertError(badarg, procket:recvfrom(S, 10, foo, 0)),
    ?assertError(badarg, procket:recvfrom(S, 10, 0, 2000)),
    ?assertError(badarg, procket:sendto(C, foo)),
    ?assertError(badarg, procket:sendto(C, foo, 0)),
    ?assertError(badarg, procket:sendto(C, <<"x">>, foo)),
    ?assertError(badarg, procket:sendto(-1, <<"x">>, 0)),
    ?assertError(badarg, procket:sendto(C, <<"x">>, 0, <<0:(2000 * 8)>>)),
    ?assertError(badarg, procket:sendto(C, <<"x">>, 1 bsl 40, <<>>)),
    ok = close_all([S, C, U, L]).

%% MSG_DONTWAIT: a full buffer is eagain, never a wait
send_never_blocks_test() ->
    {R, RAddr} = unix_dgram(),
    {W, _} = unix_dgram(),
    make_blocking(W),
    Fill = fun F(N) ->
                   case procket:sendto(W, <<0:8000>>, 0, RAddr) of
                       ok -> F(N + 1);
                       {error, eagain} -> N
                   end
           end,
    N = Fill(0),
    ?assert(N > 0),
    %% recvfrom on a blocking descriptor with nothing there: eagain too
    {E, _} = unix_dgram(),
    make_blocking(E),
    ?assertEqual({error, eagain}, procket:recvfrom(E, 10)),
    ok = close_all([R, W, E]).

%%% ------------------------------------------------------------------
%%% recvmsg, sendmsg
%%% ------------------------------------------------------------------

recvmsg_sendmsg_test() ->
    {S, Addr} = udp(),
    {C, CAddr} = udp(),
    ok = procket:setsockopt(S, 'IPPROTO_IP', 'IP_PKTINFO', 1),
    ok = procket:sendmsg(C, <<"hello">>, 0, [], Addr),
    {ok, <<"hello">>, 0, [{0, 8, PktInfo}], From} = procket:recvmsg(S, 100, 0, 64, 16),
    ?assertEqual(CAddr, From),
    %% struct in_pktinfo: ifindex, local address, destination address
    ?assertMatch(<<_:32, 127, 0, 0, 1, 127, 0, 0, 1>>, PktInfo),
    %% recvmsg/4; truncated data and control data come back as flags
    Trunc = procket:msg_flag('MSG_TRUNC'),
    CTrunc = procket:msg_flag('MSG_CTRUNC'),
    ok = procket:sendto(C, binary:copy(<<"y">>, 50), 0, Addr),
    {ok, <<"yyyyy">>, Flags1, Ctrl1} = procket:recvmsg(S, 5, 0, 0),
    ?assertEqual(Trunc, Flags1 band Trunc),
    ?assertEqual(CTrunc, Flags1 band CTrunc),     % no room for IP_PKTINFO
    ?assertEqual([], Ctrl1),
    ok = procket:sendto(C, <<"z">>, 0, Addr),
    {ok, <<"z">>, Flags2, [_]} = procket:recvmsg(S, 5, 0, 64),
    ?assertEqual(0, Flags2 band (Trunc bor CTrunc)),
    %% sendmsg/4 on a connected socket, with an IP_TTL control message
    ok = procket:connect(C, Addr),
    ok = procket:sendmsg(C, [<<"t">>, <<"tl">>], 0, [{'IPPROTO_IP', 'IP_TTL', <<3:32/native>>}]),
    {ok, <<"ttl">>, 0, [_]} = procket:recvmsg(S, 10, 0, 64),
    %% errors
    ?assertEqual({error, eagain}, procket:recvmsg(S, 10, 0, 0)),
    ?assertEqual({error, eagain}, procket:recvmsg(S, 10, 0, 0, 16)),
    {ok, U} = procket:socket(inet, dgram, 0),
    ?assertEqual({error, edestaddrreq}, procket:sendmsg(U, <<"x">>, 0, [])),
    ?assertEqual({error, einval},
                 procket:sendmsg(C, <<"x">>, 0, [{'IPPROTO_IP', 'IP_TTL', <<1>>}])),
    ?assertEqual({error, unsupported},
                 procket:sendmsg(C, <<"x">>, 0, [{'SOL_SOCKET', 'SCM_CREDS', <<>>}])),
    ?assertEqual({error, ebadf}, procket:recvmsg(bad_fd(), 10, 0, 0)),
    %% bounds and types
    ?assertError(badarg, procket:recvmsg(S, 10, 0, 64 * 1024 + 1)),
    ?assertError(badarg, procket:recvmsg(S, 10, 0, 0, -1)),
    ?assertError(badarg, procket:sendmsg(C, <<"x">>, 0, [foo])),
    ?assertError(badarg, procket:sendmsg(C, <<"x">>, 0, [{0, 0, not_binary}])),
    ?assertError(badarg, procket:sendmsg(C, <<"x">>, 0, not_a_list)),
    ?assertError(badarg, procket:sendmsg(C, <<"x">>, 0, [], <<0:(2000 * 8)>>)),
    ?assertError(badarg, procket:sendmsg(C, <<"x">>, 0, [], not_binary)),
    ?assertEqual({error, ebadf}, procket:sendmsg(bad_fd(), <<"x">>, 0, [], Addr)),
    ?assertError(badarg, procket:sendmsg(C, <<"x">>, 0, [{0, 0, <<0:(65 * 1024 * 8)>>}])),
    ok = close_all([S, C, U]).

%% SCM_RIGHTS: the descriptor arrives close-on-exec, and is the caller's
scm_rights_test() ->
    {A, _} = unix_dgram(),
    {B, BAddr} = unix_dgram(),
    {P, PAddr} = udp(),
    ok = procket:sendmsg(A, <<"fd">>, 0, [{'SOL_SOCKET', 'SCM_RIGHTS', <<P:32/native>>}],
                         BAddr),
    {ok, <<"fd">>, 0, [{1, 1, <<New:32/native>>}]} = procket:recvmsg(B, 10, 0, 64),
    ?assertNotEqual(P, New),
    ?assert(cloexec(New)),
    ?assertEqual({ok, PAddr}, procket:getsockname(New, 16)),
    ok = close_all([A, B, P, New]).

%% Descriptors the caller gets no room for are closed by procket, not
%% left open nor closed by the kernel in the receiving thread: recvmsg/5
%% with room for one of three keeps that one and says MSG_CTRUNC (8);
%% recvfrom, recv and read take none. No descriptor is left behind.
unclaimed_rights_test() ->
    {A, _} = unix_dgram(),
    {B, BAddr} = unix_dgram(),
    {P, PAddr} = udp(),
    Three = [{'SOL_SOCKET', 'SCM_RIGHTS', <<P:32/native, P:32/native, P:32/native>>}],
    Before = open_fds(),
    ok = procket:sendmsg(A, <<"fd">>, 0, Three, BAddr),
    {ok, <<"fd">>, Flags, [{1, 1, <<New:32/native>>}], _} = procket:recvmsg(B, 10, 0, 20, 0),
    ?assertEqual(8, Flags band 8),
    ?assertEqual({ok, PAddr}, procket:getsockname(New, 16)),
    %% shared with the sender, who could make it linger: closed on a
    %% worker (procket:close/1 waits for it), never inline
    ?assertEqual(closing, procket_nif:close(New)),
    receive {'$procket_closed', New} -> ok after 5000 -> error(not_closed) end,
    {ok, New} = begin ok = procket:sendmsg(A, <<"fd">>, 0, Three, BAddr),
                      {ok, <<"fd">>, _, [{1, 1, <<N1:32/native>>}], _} =
                          procket:recvmsg(B, 10, 0, 20, 0),
                      {ok, N1}
                end,
    ok = procket:close(New),
    %% whole descriptors only, as the kernel cuts them: 6 bytes of room
    %% give one descriptor, 2 bytes none (and no message at all)
    ok = procket:sendmsg(A, <<"fd">>, 0, Three, BAddr),
    {ok, <<"fd">>, Flags6, [{1, 1, <<New6:32/native>>}], _} = procket:recvmsg(B, 10, 0, 22, 0),
    ?assertEqual(8, Flags6 band 8),
    ?assertEqual({ok, PAddr}, procket:getsockname(New6, 16)),
    ok = procket:close(New6),
    ok = procket:sendmsg(A, <<"fd">>, 0, Three, BAddr),
    {ok, <<"fd">>, Flags2, [], _} = procket:recvmsg(B, 10, 0, 18, 0),
    ?assertEqual(8, Flags2 band 8),
    [begin
         ok = procket:sendmsg(A, <<"fd">>, 0, Three, BAddr),
         ?assertMatch({ok, <<"fd">>}, Recv())
     end || Recv <- [fun() -> procket:recvfrom(B, 10) end,
                     fun() -> procket:recv(B, 10) end,
                     fun() -> procket:read(B, 10) end]],
    ?assertEqual(Before, open_fds()),
    %% a read of 0 bytes returns at once, as read(2) does
    ?assertEqual({ok, <<>>}, procket:read(B, 0)),
    ok = close_all([A, B, P]).

open_fds() ->
    {ok, Names} = file:list_dir("/proc/self/fd"),
    length(Names).

%%% ------------------------------------------------------------------
%%% read, write, writev
%%% ------------------------------------------------------------------

read_write_test() ->
    {C, S} = unix_pair(),
    ?assertEqual({error, eagain}, procket:read(S, 10)),
    ok = procket:write(C, <<"abc">>),
    ok = procket:write(C, [<<"de">>, <<"f">>]),                 % a list: writev
    ok = procket:writev(C, [<<"g">>, <<>>, <<"hi">>]),
    ?assertEqual({ok, <<"abcdefghi">>}, procket:read(S, 100)),
    %% more than IOV_MAX binaries: badarg (a partial writev of a datagram
    %% would send it truncated); exactly 1024 is written whole
    ?assertError(badarg, procket:writev(C, lists:duplicate(1025, <<"x">>))),
    ?assertEqual(ok, procket:writev(C, lists:duplicate(1024, <<"x">>))),
    {ok, Got} = procket:read(S, 2000),
    ?assertEqual(1024, byte_size(Got)),
    %% end of stream
    ok = procket:close(C),
    ?assertEqual({ok, <<>>}, procket:read(S, 10)),
    ?assertEqual({error, epipe}, procket:write(S, <<"x">>)),
    ?assertEqual({error, epipe}, procket:writev(S, [<<"x">>])),
    ?assertEqual({error, ebadf}, procket:read(bad_fd(), 10)),
    ?assertEqual({error, ebadf}, procket:write(bad_fd(), <<"x">>)),
    ?assertError(badarg, procket:read(S, -1)),
    ?assertError(badarg, procket:read(S, 64 * 1024 * 1024 + 1)),
    ?assertError(badarg, procket:write(S, foo)),
    ?assertError(badarg, procket:writev(S, [foo])),
    ?assertError(badarg, procket:writev(S, <<"not a list">>)),
    ok = close_all([S]).

%% More than 1024 binaries raise badarg and write nothing: writing the
%% first 1024 would send a datagram cut short. write/2 of a list is
%% writev/2.
writev_limit_test() ->
    {S, Addr} = udp(),
    {ok, C} = procket:socket(inet, dgram, udp),
    ok = procket:connect(C, Addr),
    ?assertError(badarg, procket:writev(C, lists:duplicate(1025, <<"x">>))),
    ?assertError(badarg, procket:write(C, lists:duplicate(1025, <<"x">>))),
    ?assertError(badarg, procket:writev(C, lists:duplicate(5000, <<>>))),
    ?assertEqual({error, eagain}, procket:recvfrom(S, 2000)),
    ok = procket:writev(C, lists:duplicate(1024, <<"y">>)),
    {ok, H} = procket:handle(S),
    ?assertEqual({ok, binary:copy(<<"y">>, 1024)}, procket:recvfrom_wait(H, 2000, 2000)),
    ok = procket:close_handle(H),
    ok = procket:close(C).

%% A descriptor in blocking mode: read, write, accept and connect move to a
%% dirty I/O scheduler and block there. More blocked readers than normal
%% schedulers, and the VM still runs everything else.
blocking_descriptor_test_() ->
    {timeout, 30, fun blocking_descriptor/0}.

blocking_descriptor() ->
    Schedulers = erlang:system_info(schedulers_online),
    %% more readers than normal schedulers, but leave two dirty I/O
    %% schedulers free: file I/O (code loading) needs them too
    DirtyIO = erlang:system_info(dirty_io_schedulers),
    N = min(Schedulers + 2, DirtyIO - 2),      % 0 or less: no readers
    Pairs = [unix_pair() || _ <- lists:seq(1, max(0, N))],
    Self = self(),
    %% (all made blocking first: ioctl runs on a dirty I/O scheduler too,
    %% and blocked reads may occupy them all)
    [make_blocking(S) || {_C, S} <- Pairs],
    [spawn_link(fun() -> Self ! {read, S, procket:read(S, 10)} end) || {_C, S} <- Pairs],
    timer:sleep(200),
    %% normal schedulers are free: this process and others still run
    Workers = [spawn_link(fun() -> Self ! {worker, lists:sum(lists:seq(1, 10000))} end)
               || _ <- lists:seq(1, 2 * Schedulers)],
    [receive {worker, _} -> ok after 2000 -> error(scheduler_blocked) end || _ <- Workers],
    receive {read, _, R} -> error({read_returned_early, R}) after 0 -> ok end,
    [ok = procket:write(C, <<"wake">>) || {C, _S} <- Pairs],
    [receive {read, S, Res} -> ?assertEqual({ok, <<"wake">>}, Res) after 5000 ->
             error(no_read) end || {_C, S} <- Pairs],
    %% accept on a blocking listener
    {L, Addr} = tcp_listener(),
    make_blocking(L),
    spawn_link(fun() -> Self ! {accepted, procket:accept(L)} end),
    timer:sleep(100),
    {ok, C2} = procket:socket(inet, stream, 0),
    _ = procket:connect(C2, Addr),
    receive {accepted, {ok, A}} -> ok = procket:close(A) after 5000 -> error(no_accept) end,
    %% connect on a blocking socket completes before returning
    {ok, C3} = procket:socket(inet, stream, 0),
    make_blocking(C3),
    ?assertEqual(ok, procket:connect(C3, Addr)),
    ok = close_all([L, C2, C3 | lists:append([[C, S] || {C, S} <- Pairs])]).

set_sock_nonblock_test() ->
    {ok, S} = procket:socket(inet, dgram, 0),
    make_blocking(S),
    ?assertEqual(ok, procket:set_sock_nonblock(S)),
    ?assert(nonblocking(S)),
    ?assertEqual({error, ebadf}, procket:set_sock_nonblock(bad_fd())),
    ?assertError(badarg, procket:set_sock_nonblock(-1)),
    ok = procket:close(S).

%% read and write of a regular file run on a dirty scheduler (O_NONBLOCK
%% means nothing there). The VM's own descriptor of a raw file handle is
%% not procket's (ebadf); passed with SCM_RIGHTS (by OTP's socket) and
%% received by procket:recvmsg, its copy is.
regular_file_test() ->
    Path = "/tmp/procket-socket-test-" ++ os:getpid(),
    ok = file:write_file(Path, <<"file contents">>),
    {ok, File} = file:open(Path, [read, write, raw, binary]),
    <<VmFd:32/native>> = prim_file:get_handle(File),
    ?assertEqual({error, ebadf}, procket:read(VmFd, 5)),
    ?assertEqual({error, ebadf}, procket:write(VmFd, <<"x">>)),
    FD = received_copy(VmFd),
    ?assertEqual({ok, <<"file ">>}, procket:read(FD, 5)),
    ?assertEqual(ok, procket:write(FD, <<"C">>)),
    ?assertEqual(ok, procket:writev(FD, [<<"ON">>, <<"T">>])),
    ?assertEqual({ok, <<"ents">>}, procket:read(FD, 100)),
    ?assertEqual({ok, <<>>}, procket:read(FD, 100)),
    ?assertEqual({error, enotsock}, procket:recvfrom(FD, 10)),
    ok = file:close(File),
    ok = procket:close(FD),
    ?assertEqual({ok, <<"file CONTents">>}, file:read_file(Path)),
    ok = file:delete(Path).

%% A copy of the VM's descriptor VmFd, sent by OTP's socket with
%% SCM_RIGHTS and received by procket:recvmsg: procket's.
received_copy(VmFd) ->
    {R, RAddr} = unix_dgram(),
    {ok, O} = socket:open(local, dgram, default),
    <<_:16, Path/binary>> = RAddr,            % sockaddr_un: an abstract name
    ok = socket:sendmsg(O, #{addr => #{family => local, path => Path},
                             iov => [<<"fd">>],
                             ctrl => [#{level => socket, type => rights,
                                        data => <<VmFd:32/native>>}]}),
    ok = socket:close(O),
    {ok, <<"fd">>, _, [{1, 1, <<FD:32/native>>}], _} =
        procket:recvmsg(R, 10, 0, 64, 110),
    ok = procket:close(R),
    FD.

%%% ------------------------------------------------------------------
%%% ioctl
%%% ------------------------------------------------------------------

ioctl_test() ->
    {S, Addr} = udp(),
    {C, _} = udp(),
    ?assertEqual({ok, <<0:32>>}, procket:ioctl(S, 'FIONREAD', <<0:32>>)),
    ok = procket:sendto(C, <<"12345">>, 0, Addr),
    ?assert(wait_until(fun() -> {ok, <<5:32/native>>} =:=
                                     procket:ioctl(S, 'FIONREAD', <<0:32>>) end, 100)),
    %% ioctl/4: the return value, and a result larger than the argument
    ?assertEqual({ok, 0, <<5:32/native>>}, procket:ioctl(S, 'FIONREAD', <<>>, 4)),
    ?assertEqual({ok, 0, <<5:32/native>>},
                 procket:ioctl(S, procket:ioctl_request('FIONREAD'), <<>>, 4)),
    %% SIOCGIFINDEX of lo: struct ifreq, name then index
    Ifreq = <<"lo", 0:(38 * 8)>>,
    {ok, <<"lo", 0:112, Index:32/native, _/binary>>} = procket:ioctl(S, 'SIOCGIFINDEX', Ifreq),
    ?assertEqual(1, Index),
    %% an integer argument to a request that takes a structure is a native
    %% int in procket's buffer, never an address: FIONBIO 1
    ?assertEqual({ok, <<>>}, procket:ioctl(S, 'FIOCLEX', 0)),
    ?assertEqual({ok, 0, <<>>}, procket:ioctl(S, 'FIOCLEX', 0, 0)),
    ?assertEqual({ok, <<>>}, procket:ioctl(S, 'FIONBIO', 1)),
    ?assert(nonblocking(S)),
    ?assertEqual({ok, 0, <<1:32/native>>}, procket:ioctl(S, 'FIONBIO', 1, 4)),
    %% SIOCGIFCONF: procket makes the buffer; the result is the ifreq array
    %% (40 bytes each on 64-bit Linux), lo among them; a pointer in the
    %% caller's ifconf is not used
    {ok, Ifs} = procket:ioctl(S, 'SIOCGIFCONF', <<4096:32/native, 0:32, 16#400000:64/native>>),
    ?assert(byte_size(Ifs) >= 40),
    ?assertMatch(<<"lo", 0, _/binary>>, Ifs),
    {ok, Ifs2} = procket:ioctl(S, 'SIOCGIFCONF', 0),
    ?assertEqual(Ifs, Ifs2),
    ?assertError(badarg, procket:ioctl(S, 'SIOCGIFCONF', -1)),
    ?assertError(badarg, procket:ioctl(S, 'SIOCGIFCONF', 64 * 1024 + 1)),
    %% refused: requests that arm signals, return descriptors or carry
    %% addresses procket does not marshal; anything not on the list
    [?assertEqual({error, enotsup}, procket:ioctl(S, R, <<1:32/native>>))
     || R <- ['FIOASYNC', 'FIOSETOWN', 'SIOCSPGRP', 'SIOCETHTOOL', 'SIOCADDRT',
              'SIOCBRADDBR', 'TUNGETDEVNETNS', 'TUNATTACHFILTER', 'SIOCGHWTSTAMP',
              16#89ff]],
    ?assertEqual({error, enotsup}, procket:ioctl(S, 'FIOASYNC', 1)),
    %% a request that takes a value: a binary must hold exactly a native int
    ?assertError(badarg, procket:ioctl(S, 'TUNSETPERSIST', <<1:64>>)),
    %% request numbers are 32 bits: more is badarg, never truncated
    ?assertError(badarg, procket:ioctl(S, (1 bsl 32) + 16#541B, <<0:32>>)),
    %% errors
    ?assertEqual({error, enodev}, procket:ioctl(S, 'SIOCGIFINDEX', <<"nosuchif0", 0:(31 * 8)>>)),
    ?assertEqual({error, ebadf}, procket:ioctl(bad_fd(), 'FIONREAD', <<0:32>>)),
    ?assertEqual({error, unsupported}, procket:ioctl(S, 'BIOCGBLEN', <<0:32>>)),
    ?assertEqual({error, unsupported}, procket:ioctl(S, no_such_request, <<>>)),
    %% bounds and types
    ?assertError(badarg, procket:ioctl(S, 'FIONREAD', <<0:(65 * 1024 * 8)>>)),
    ?assertError(badarg, procket:ioctl(S, 'FIONREAD', 1 bsl 40)),       % not an int
    ?assertError(badarg, procket:ioctl(S, 'FIONREAD', <<>>, 64 * 1024 + 1)),
    ?assertEqual({ok, 0, <<0:32>>}, procket:ioctl(S, 'FIOCLEX', 0, 4)), % the int back
    ?assertError(badarg, procket:ioctl(S, 'TUNSETPERSIST', 0, 4)),  % a value: no result
    ?assertError(badarg, procket:ioctl(S, -1, <<>>)),
    ?assertError(badarg, procket:ioctl(S, 'FIONREAD', foo)),
    ok = close_all([S, C]).

%% The kernel takes a request number as 32 bits: one with higher bits set
%% would be another request ((1 bsl 32) + FIONREAD would be FIONREAD), so
%% it is badarg; 16#ffffffff is a request like any other.
ioctl_request_range_test() ->
    {S, _} = udp(),
    FIONREAD = procket:ioctl_request('FIONREAD'),
    ?assertError(badarg, procket:ioctl(S, (1 bsl 32) + FIONREAD, <<0:32>>)),
    ?assertError(badarg, procket:ioctl(S, (1 bsl 32) + FIONREAD, <<>>, 4)),
    ?assertError(badarg, procket:ioctl(S, 1 bsl 64, <<>>, 4)),
    ?assertError(badarg, procket_socket:ioctl(S, 1 bsl 32, <<>>)),
    ?assertMatch({error, _}, procket:ioctl(S, 16#ffffffff, <<>>)),   % enotty on Linux
    ?assertEqual({ok, 0, <<0:32>>}, procket:ioctl(S, FIONREAD, <<>>, 4)),
    ok = procket:close(S).

%%% ------------------------------------------------------------------
%%% setsockopt, getsockopt, getsockname, getpeername
%%% ------------------------------------------------------------------

sockopt_test() ->
    {ok, S} = procket:socket(inet, dgram, 0),
    ?assertEqual({ok, <<0:32/native>>}, procket:getsockopt(S, 'SOL_SOCKET', 'SO_REUSEADDR', <<0:32>>)),
    ok = procket:setsockopt(S, 'SOL_SOCKET', 'SO_REUSEADDR', <<1:32/native>>),
    ?assertEqual({ok, <<1:32/native>>}, procket:getsockopt(S, 'SOL_SOCKET', 'SO_REUSEADDR', <<0:32>>)),
    ok = procket:setsockopt(S, 1, 15, 1),                          % SO_REUSEPORT
    ?assertEqual({ok, <<1:32/native>>}, procket:getsockopt(S, 1, 15, <<0:32>>)),
    ok = procket:setsockopt(S, 'SOL_SOCKET', 'SO_RCVBUF', 65536),
    {ok, <<Rcv:32/native>>} = procket:getsockopt(S, 'SOL_SOCKET', 'SO_RCVBUF', <<0:32>>),
    ?assert(Rcv >= 65536),
    ?assertEqual({ok, <<2:32/native>>}, procket:getsockopt(S, 'SOL_SOCKET', 'SO_TYPE', <<0:32>>)),
    %% a level from the protocol table
    ok = procket:setsockopt(S, 'IPPROTO_IP', 'IP_TTL', 7),
    ?assertEqual({ok, <<7:32/native>>}, procket:getsockopt(S, 'SOL_IP', 'IP_TTL', <<0:32>>)),
    {ok, S6} = procket:socket(inet6, dgram, 0),
    ok = procket:setsockopt(S6, 'IPPROTO_IPV6', 'IPV6_V6ONLY', 1),
    ?assertEqual({ok, <<1:32/native>>}, procket:getsockopt(S6, 'IPPROTO_IPV6', 'IPV6_V6ONLY', <<0:32>>)),
    %% the result is as long as the kernel says
    ?assertEqual({ok, <<2:32/native>>}, procket:getsockopt(S, 'SOL_SOCKET', 'SO_TYPE', <<0:64>>)),
    %% names this system lacks, names procket does not know
    ?assertEqual({error, unsupported}, procket:setsockopt(S, 'SOL_SOCKET', 'SO_NOSIGPIPE', 1)),
    ?assertEqual({error, unsupported}, procket:getsockopt(S, 'SOL_SOCKET', 'SO_NOSIGPIPE', <<0:32>>)),
    ?assertEqual({error, unsupported}, procket:setsockopt(S, 'SOL_NO_SUCH', 'SO_DEBUG', 1)),
    ?assertEqual({error, unsupported}, procket:getsockopt(S, 'SOL_LOCAL', 'SO_DEBUG', <<0:32>>)),
    ?assertEqual({error, unsupported}, procket:setsockopt(S, 'SOL_SOCKET', 'SO_NO_SUCH', 1)),
    %% failing calls
    ?assertEqual({error, enoprotoopt}, procket:setsockopt(S, 'SOL_SOCKET', 12345, 1)),
    ?assertEqual({error, enoprotoopt}, procket:getsockopt(S, 'SOL_SOCKET', 12345, <<0:32>>)),
    ?assertEqual({error, einval}, procket:setsockopt(S, 'SOL_SOCKET', 'SO_REUSEADDR', <<>>)),
    ?assertEqual({error, ebadf}, procket:setsockopt(bad_fd(), 'SOL_SOCKET', 'SO_DEBUG', 1)),
    ?assertEqual({error, ebadf}, procket:getsockopt(bad_fd(), 'SOL_SOCKET', 'SO_DEBUG', <<0:32>>)),
    %% bounds and types
    ?assertError(badarg, procket:setsockopt(S, 'SOL_SOCKET', 'SO_DEBUG', foo)),
    ?assertError(badarg, procket:setsockopt(S, 'SOL_SOCKET', 'SO_DEBUG', 1 bsl 40)),
    ?assertError(badarg, procket:setsockopt(S, "SOL_SOCKET", 'SO_DEBUG', 1)),
    ?assertError(badarg, procket:setsockopt(S, 'SOL_SOCKET', 'SO_DEBUG', <<0:(65 * 1024 * 8)>>)),
    ?assertError(badarg, procket:getsockopt(S, 'SOL_SOCKET', 'SO_DEBUG', 4)),
    ?assertError(badarg, procket:getsockopt(S, 'SOL_SOCKET', {x}, <<>>)),
    ok = close_all([S, S6]).

sockname_test() ->
    {S, Addr} = udp(),
    ?assertEqual(16, byte_size(Addr)),
    ?assertEqual({ok, Addr}, procket:getsockname(S, <<0:128>>)),
    %% a short buffer: full length, zero padded
    <<Head:4/bytes, _/binary>> = Addr,
    ?assertEqual({ok, <<Head/binary, 0:96>>}, procket:getsockname(S, 4)),
    ?assertEqual({error, enotconn}, procket:getpeername(S, 16)),
    {C, _} = udp(),
    ok = procket:connect(C, Addr),
    ?assertEqual({ok, Addr}, procket:getpeername(C, <<0:128>>)),
    {ok, S6} = procket:socket(inet6, dgram, 0),
    ok = procket:bind(S6, sin6(0)),
    {ok, <<_:2/bytes, Port6:16, _/binary>> = A6} = procket:getsockname(S6, 28),
    ?assertEqual(28, byte_size(A6)),
    ?assert(Port6 > 0),
    ?assertEqual({error, ebadf}, procket:getsockname(bad_fd(), 16)),
    ?assertError(badarg, procket:getsockname(S, -1)),
    ?assertError(badarg, procket:getsockname(S, 2000)),
    ?assertError(badarg, procket:getpeername(S, foo)),
    ?assert(port(Addr) > 0),
    ok = close_all([S, C, S6]).

%%% ------------------------------------------------------------------
%%% handles
%%% ------------------------------------------------------------------

handle_test() ->
    {S, Addr} = udp(),
    make_blocking(S),
    {ok, H} = procket:handle(S),
    ?assert(nonblocking(S)),              % made non-blocking again
    ?assertEqual(S, procket:fd(H)),
    ?assertMatch(#{fd := S, state := open, selected := false}, procket:handle_info(H)),
    ?assertEqual(self(), maps:get(owner, procket:handle_info(H))),
    ?assertEqual({error, ebusy}, procket:handle(S)),   % one handle per descriptor
    %% data calls take the handle
    {C, _} = udp(),
    ok = procket:sendto(C, <<"via handle">>, 0, Addr),
    ?assertEqual({ok, <<"via handle">>}, procket:recvfrom_wait(H, 100, 1000)),
    ok = procket:setsockopt(H, 'SOL_SOCKET', 'SO_RCVBUF', 4096),
    ?assertEqual({ok, Addr}, procket:getsockname(H, 16)),
    %% close
    ?assertEqual(ok, procket:close_handle(H)),
    ?assertNot(fd_open(S)),
    ?assertEqual({error, ebadf}, procket:close_handle(H)),
    ?assertEqual({error, ebadf}, procket:recvfrom(H, 10)),
    ?assertEqual({error, ebadf}, procket:sendto(H, <<"x">>, 0, Addr)),
    ?assertEqual({error, ebadf}, procket:select(H, read)),
    ?assertError(badarg, procket:fd(H)),
    ?assertMatch(#{fd := -1, state := closed, owner := undefined}, procket:handle_info(H)),
    %% the number can be reused: the closed handle never touches it
    {ok, S2} = procket:socket(inet, dgram, 0),
    ?assertEqual({error, ebadf}, procket:close_handle(H)),
    ?assert(fd_open(S2)),
    {ok, H2} = procket:handle(S2),
    ok = procket:close_handle(H2),
    %% errors and badarg
    ?assertEqual({error, ebadf}, procket:handle(bad_fd())),
    ?assertError(badarg, procket:handle(-1)),
    ?assertError(badarg, procket:handle(make_ref())),
    ?assertError(badarg, procket:close_handle(make_ref())),
    ?assertError(badarg, procket:close_handle(S2)),
    ?assertError(badarg, procket:fd(S2)),
    ?assertError(badarg, procket:handle_info(make_ref())),
    ok = procket:close(C).

%% the owner's exit closes the descriptor; another process checks
owner_exit_test() ->
    Self = self(),
    {Pid, MRef} = spawn_monitor(
                    fun() ->
                            {S, _} = udp(),
                            {ok, H} = procket:handle(S),
                            Self ! {handle, S, H},
                            receive stop -> ok end
                    end),
    {S, H} = receive {handle, S0, H0} -> {S0, H0} end,
    ?assert(fd_open(S)),
    Pid ! stop,
    receive {'DOWN', MRef, process, Pid, normal} -> ok end,
    ?assert(wait_until(fun() -> not fd_open(S) end, 100)),
    ?assertMatch(#{state := closed}, procket:handle_info(H)),
    ?assertEqual({error, ebadf}, procket:recvfrom(H, 10)),
    %% a killed owner too
    {Pid2, MRef2} = spawn_monitor(
                      fun() ->
                              {S2, _} = udp(),
                              {ok, H2} = procket:handle(S2),
                              Self ! {handle, S2, H2},
                              receive after infinity -> ok end
                      end),
    {S2, _H2} = receive {handle, S20, H20} -> {S20, H20} end,
    exit(Pid2, kill),
    receive {'DOWN', MRef2, process, Pid2, killed} -> ok end,
    ?assert(wait_until(fun() -> not fd_open(S2) end, 100)).

%% a handle nobody refers to any more is closed by the garbage collector
garbage_collected_test() ->
    Self = self(),
    Pid = spawn_link(fun() ->
                             {S, _} = udp(),
                             {ok, _H} = procket:handle(S),
                             Self ! {fd, S},
                             receive gc -> erlang:garbage_collect(), Self ! done end,
                             receive stop -> ok end
                     end),
    S = receive {fd, S0} -> S0 end,
    Pid ! gc,
    receive done -> ok end,
    ?assert(wait_until(fun() -> not fd_open(S) end, 100)),
    Pid ! stop.

controlling_process_test() ->
    Self = self(),
    {S, _} = udp(),
    {ok, H} = procket:handle(S),
    Loop = fun L() ->
                   receive
                       {give, To} -> Self ! {gave, procket:controlling_process(H, To)}, L();
                       stop -> ok
                   end
           end,
    New = spawn(Loop),
    ?assertEqual(ok, procket:controlling_process(H, New)),
    ?assertEqual(New, maps:get(owner, procket:handle_info(H))),
    %% only the owner may give it away
    ?assertEqual({error, not_owner}, procket:controlling_process(H, self())),
    %% the new owner gives it to a process that is not alive: esrch
    Dead = spawn(fun() -> ok end),
    MRef = monitor(process, Dead),
    receive {'DOWN', MRef, process, Dead, _} -> ok end,
    New ! {give, Dead},
    receive {gave, R} -> ?assertEqual({error, esrch}, R) end,
    ?assertEqual(New, maps:get(owner, procket:handle_info(H))),
    %% the new owner's exit closes it
    MRefN = monitor(process, New),
    New ! stop,
    receive {'DOWN', MRefN, process, New, _} -> ok end,
    ?assert(wait_until(fun() -> not fd_open(S) end, 100)),
    ?assertEqual({error, ebadf}, procket:controlling_process(H, self())),
    ?assertError(badarg, procket:controlling_process(H, not_a_pid)),
    ?assertError(badarg, procket:controlling_process(make_ref(), self())).

controlling_process_dead_test() ->
    {S, _} = udp(),
    {ok, H} = procket:handle(S),
    Dead = spawn(fun() -> ok end),
    MRef = monitor(process, Dead),
    receive {'DOWN', MRef, process, Dead, _} -> ok end,
    ?assertEqual({error, esrch}, procket:controlling_process(H, Dead)),
    ?assertEqual(self(), maps:get(owner, procket:handle_info(H))),
    ok = procket:close_handle(H).

select_test() ->
    {S, Addr} = udp(),
    {C, _} = udp(),
    {ok, H} = procket:handle(S),
    {ok, Ref} = procket:select(H, read),
    receive {select, H, Ref, _} = M -> error({early, M}) after 50 -> ok end,
    ok = procket:sendto(C, <<"ready">>, 0, Addr),
    receive {select, H, Ref, ready_input} -> ok after 2000 -> error(no_select) end,
    ?assertMatch(#{selected := true}, procket:handle_info(H)),
    ?assertEqual({ok, <<"ready">>}, procket:recvfrom(H, 10)),
    {ok, WRef} = procket:select(H, write),
    receive {select, H, WRef, ready_output} -> ok after 2000 -> error(no_select) end,
    %% cancel: no message comes
    {ok, CRef} = procket:select(H, read),
    ok = procket:cancel_select(H, read, CRef),
    ok = procket:sendto(C, <<"late">>, 0, Addr),
    receive {select, H, CRef, _} = M2 -> error({cancelled, M2}) after 100 -> ok end,
    %% cancel after it was sent: the message is removed
    {ok, SRef} = procket:select(H, read),
    timer:sleep(50),
    ok = procket:cancel_select(H, read, SRef),
    receive {select, H, SRef, _} = M3 -> error({not_flushed, M3}) after 0 -> ok end,
    %% wait/3
    ?assertEqual(ok, procket:wait(H, read, 1000)),
    {ok, <<"late">>} = procket:recvfrom(H, 10),
    ?assertEqual({error, timeout}, procket:wait(H, read, 30)),
    ?assertEqual([], element(2, process_info(self(), messages))),
    ?assertError(badarg, procket:select(H, both)),
    ?assertError(badarg, procket:cancel_select(make_ref(), read, make_ref())),
    ?assertError(badarg, procket:cancel_select(H, both, make_ref())),
    ?assertError(badarg, procket:select(S, read)),
    ?assertError(badarg, procket:wait(H, read, -5)),
    ok = procket:close_handle(H),
    ?assertEqual({error, ebadf}, procket:select(H, read)),
    ?assertEqual({error, ebadf}, procket:wait(H, write, 10)),
    ok = procket:close(C).

%% a closed handle wakes the process waiting on it
wake_on_close_test() ->
    Self = self(),
    {S, _} = udp(),
    {ok, H} = procket:handle(S),
    Waiter = fun() -> Self ! {waited, procket:recvfrom_wait(H, 10, infinity)} end,
    spawn_link(Waiter),
    timer:sleep(50),
    ok = procket:close_handle(H),
    receive {waited, R} -> ?assertEqual({error, ebadf}, R) after 2000 -> error(no_wake) end,
    %% the same when the owner exits
    Owner = spawn(fun() ->
                          {S2, _} = tcp_listener(),
                          {ok, H2} = procket:handle(S2),
                          Self ! {h, H2},
                          receive stop -> ok end
                  end),
    H2 = receive {h, H20} -> H20 end,
    spawn_link(fun() -> Self ! {waited2, procket:accept_wait(H2, infinity)} end),
    timer:sleep(50),
    Owner ! stop,
    receive {waited2, R2} -> ?assertEqual({error, ebadf}, R2) after 2000 -> error(no_wake2) end,
    flush().

%% 100 processes wait on 100 handles: while idle they take no CPU
idle_waiters_test_() ->
    {timeout, 60, fun idle_waiters/0}.

idle_waiters() ->
    Self = self(),
    N = 100,
    Socks = [udp() || _ <- lists:seq(1, N)],
    Waiters = [begin
                   {ok, H} = procket:handle(S),
                   Pid = spawn_link(fun() ->
                                            Self ! {waiting, self()},
                                            Self ! {got, self(), procket:recvfrom_wait(H, 100, 30000)}
                                    end),
                   ok = procket:controlling_process(H, Pid),
                   {Pid, H, Addr}
               end || {S, Addr} <- Socks],
    [receive {waiting, Pid} -> ok end || {Pid, _, _} <- Waiters],
    timer:sleep(100),
    Reds = fun() -> lists:sum([element(2, process_info(P, reductions)) || {P, _, _} <- Waiters]) end,
    _ = erlang:system_flag(scheduler_wall_time, true),
    R0 = Reds(),
    T0 = lists:sort(erlang:statistics(scheduler_wall_time)),
    timer:sleep(1000),
    T1 = lists:sort(erlang:statistics(scheduler_wall_time)),
    R1 = Reds(),
    _ = erlang:system_flag(scheduler_wall_time, false),
    Normal = erlang:system_info(schedulers),
    {Active, Total} = lists:foldl(
                        fun({{I, A0, Tt0}, {I, A1, Tt1}}, {A, T}) when I =< Normal ->
                                {A + (A1 - A0), T + (Tt1 - Tt0)};
                           (_, Acc) -> Acc
                        end, {0, 0}, lists:zip(T0, T1)),
    Utilization = Active / max(1, Total),
    ?debugFmt("100 idle waiters: ~p reductions in 1 s, scheduler utilization ~.4f",
              [R1 - R0, Utilization]),
    ?assertEqual(R0, R1),
    ?assert(Utilization < 0.05),
    [all_waiting = check_status(P) || {P, _, _} <- Waiters],
    %% then each gets its datagram
    {ok, C} = procket:socket(inet, dgram, 0),
    [ok = procket:sendto(C, <<"wake up">>, 0, Addr) || {_, _, Addr} <- Waiters],
    [receive {got, P, R} -> ?assertEqual({ok, <<"wake up">>}, R) after 5000 -> error(no_data) end
     || {P, _, _} <- Waiters],
    ok = procket:close(C),
    %% the waiters owned the handles and exited: all closed
    ?assert(wait_until(fun() -> lists:all(fun({S, _}) -> not fd_open(S) end, Socks) end, 200)).

check_status(Pid) ->
    case process_info(Pid, status) of
        {status, waiting} -> all_waiting;
        Other -> Other
    end.

wait_helpers_test() ->
    %% accept_wait, connect_wait, read_wait
    {L, Addr} = tcp_listener(),
    {ok, HL} = procket:handle(L),
    ?assertEqual({error, timeout}, procket:accept_wait(HL, 30)),
    Self = self(),
    spawn_link(fun() -> Self ! {accepted, procket:accept_wait(HL, 5000)} end),
    {ok, C} = procket:socket(inet, stream, 0),
    {ok, HC} = procket:handle(C),
    ?assertEqual(ok, procket:connect_wait(HC, Addr, 5000)),
    A = receive {accepted, {ok, A0}} -> A0 after 5000 -> error(no_accept) end,
    {ok, HA} = procket:handle(A),
    spawn_link(fun() -> timer:sleep(50), ok = procket:write(HC, <<"later">>) end),
    ?assertEqual({ok, <<"later">>}, procket:read_wait(HA, 100, 5000)),
    ?assertEqual({error, timeout}, procket:read_wait(HA, 100, 0)),
    %% recvfrom_wait/5 and sendto_wait on a full AF_UNIX datagram queue
    {R, RAddr} = unix_dgram(),
    {W, WAddr} = unix_dgram(),
    {ok, HR} = procket:handle(R),
    {ok, HW} = procket:handle(W),
    Fill = fun F() -> case procket:sendto(HW, <<"f">>, 0, RAddr) of
                          ok -> F();
                          {error, eagain} -> ok
                      end end,
    ok = Fill(),
    ?assertEqual({error, timeout}, procket:sendto_wait(HW, <<"x">>, 0, RAddr, 20)),
    spawn_link(fun() -> timer:sleep(50), {ok, _} = procket:recvfrom(HR, 10) end),
    ?assertEqual(ok, procket:sendto_wait(HW, <<"last">>, 0, RAddr, 5000)),
    ?assertEqual({ok, <<"f">>, WAddr}, procket:recvfrom_wait(HR, 10, 0, 110, 1000)),
    ?assertError(badarg, procket:recvfrom_wait(HR, 10, bad_timeout)),
    ?assertError(badarg, procket:recvfrom_wait(HR, 10, foo, 0, 100)),
    ?assertError(badarg, procket:recvfrom_wait(HR, 10, 0, 2000, 100)),
    ?assertError(badarg, procket:recvfrom_wait(HR, 10, 0, 0, -5)),
    ?assertError(badarg, procket:wait(HR, read, 1.5)),
    %% the integer of a handle's descriptor: the handle's (ebusy)
    ?assertEqual({error, ebusy}, procket:accept_wait(L, 10)),
    ?assertError(badarg, procket:connect_wait(HC, foo, 10)),
    ?assertError(badarg, procket:sendto_wait(HW, foo, 0, RAddr, 10)),
    ?assertError(badarg, procket:read_wait(HA, -1, 10)),
    %% Linux: the next connect of a non-blocking socket reports the
    %% completed connection (ok), any later one eisconn
    ?assertEqual(ok, procket:connect_wait(HC, Addr, 100)),
    ?assertEqual({error, eisconn}, procket:connect_wait(HC, Addr, 100)),
    [ok = procket:close_handle(X) || X <- [HL, HC, HA, HR, HW]],
    %% closed handles
    ?assertEqual({error, ebadf}, procket:read_wait(HA, 10, 100)),
    ?assertEqual({error, ebadf}, procket:recvfrom_wait(HR, 10, 0, 0, 100)),
    ?assertEqual({error, ebadf}, procket:sendto_wait(HW, <<"x">>, 0, RAddr, 100)),
    ?assertEqual({error, ebadf}, procket:accept_wait(HL, 100)),
    ?assertEqual({error, ebadf}, procket:connect_wait(HC, Addr, 100)),
    flush().

%% Timeouts of 2^32 ms and more (beyond what `receive ... after' takes)
%% and infinity: every helper waits, and returns once the descriptor is
%% ready (50 ms later here). A bad timeout is badarg, also for
%% connect_wait/3 when the connection completes at once.
huge_timeout_test_() ->
    {timeout, 60, fun huge_timeout/0}.

huge_timeout() ->
    Later = fun(F) -> spawn_link(fun() -> timer:sleep(50), F() end) end,
    {U, UAddr} = udp(),
    {UC, _} = udp(),
    {ok, HU} = procket:handle(U),
    {L, LAddr} = tcp_listener(),
    {ok, HL} = procket:handle(L),
    {R, RAddr} = unix_dgram(),
    {W, _} = unix_dgram(),
    {ok, HW} = procket:handle(W),
    Fill = fun F() -> case procket:sendto(HW, <<"f">>, 0, RAddr) of
                          ok -> F();
                          {error, eagain} -> ok
                      end end,
    Send = fun(Data) -> Later(fun() -> ok = procket:sendto(UC, Data, 0, UAddr) end) end,
    T0 = erlang:monotonic_time(millisecond),
    lists:foreach(
      fun(T) ->
              Send(<<"w">>),
              ?assertEqual(ok, procket:wait(HU, read, T)),
              ?assertEqual({ok, <<"w">>}, procket:recvfrom(HU, 10)),
              Send(<<"r3">>),
              ?assertEqual({ok, <<"r3">>}, procket:recvfrom_wait(HU, 10, T)),
              Send(<<"r5">>),
              ?assertMatch({ok, <<"r5">>, _}, procket:recvfrom_wait(HU, 10, 0, 16, T)),
              Send(<<"rd">>),
              ?assertEqual({ok, <<"rd">>}, procket:read_wait(HU, 10, T)),
              Later(fun() -> {ok, C} = procket:socket(inet, stream, tcp),
                             _ = procket:connect(C, LAddr),
                             timer:sleep(200),
                             ok = procket:close(C)
                    end),
              {ok, A} = procket:accept_wait(HL, T),
              ok = procket:close(A),
              {ok, C2} = procket:socket(inet, stream, tcp),
              {ok, HC2} = procket:handle(C2),
              ?assertEqual(ok, procket:connect_wait(HC2, LAddr, T)),
              ok = procket:close_handle(HC2),
              ok = procket:close(accept_retry(HL, 200)),
              ok = Fill(),
              Later(fun() -> {ok, _} = procket:recvfrom(R, 10) end),
              ?assertEqual(ok, procket:sendto_wait(HW, <<"x">>, 0, RAddr, T))
      end, [16#ffffffff, 1 bsl 32, 1 bsl 40, 1 bsl 70, infinity]),
    ?assert(erlang:monotonic_time(millisecond) - T0 < 30000),
    %% bad timeouts
    [?assertError(badarg, F(T))
     || T <- [-1, 1.5, 4294967296.0, -(1 bsl 40), foo],
        F <- [fun(X) -> procket:wait(HU, read, X) end,
              fun(X) -> procket:recvfrom_wait(HU, 10, X) end,
              fun(X) -> procket:recvfrom_wait(HU, 10, 0, 16, X) end,
              fun(X) -> procket:read_wait(HU, 10, X) end,
              fun(X) -> procket:accept_wait(HL, X) end,
              fun(X) -> procket:sendto_wait(HW, <<"x">>, 0, RAddr, X) end]],
    %% an AF_UNIX stream connect completes at once: the timeout is checked
    %% all the same
    {ok, UL} = procket:socket(local, stream, 0),
    ULAddr = sun(),
    ok = procket:bind(UL, ULAddr),
    ok = procket:listen(UL, 4),
    {ok, UC2} = procket:socket(local, stream, 0),
    {ok, HUC2} = procket:handle(UC2),
    ?assertError(badarg, procket:connect_wait(HUC2, ULAddr, -1)),
    ?assertError(badarg, procket:connect_wait(HUC2, ULAddr, 1.5)),
    ?assertEqual(ok, procket:connect_wait(HUC2, ULAddr, 1 bsl 40)),
    [ok = procket:close_handle(X) || X <- [HU, HL, HW, HUC2]],
    ok = close_all([UC, R, UL]),
    flush().

%% SO_LINGER: close_handle closes on a dirty scheduler; the owner's exit
%% closes on a thread. Either way the descriptor goes.
linger_test() ->
    {C, S} = tcp_pair(),
    ok = procket:setsockopt(C, 'SOL_SOCKET', 'SO_LINGER', <<1:32/native, 2:32/native>>),
    {ok, H} = procket:handle(C),
    ok = procket:write(H, <<"bye">>),
    ?assertEqual(ok, procket:close_handle(H)),
    ?assertNot(fd_open(C)),
    ?assert(wait_until(fun() -> {ok, <<"bye">>} =:= procket:read(S, 10) end, 100)),
    {C2, S2} = tcp_pair(),
    ok = procket:setsockopt(C2, 'SOL_SOCKET', 'SO_LINGER', <<1:32/native, 2:32/native>>),
    Self = self(),
    Pid = spawn(fun() -> {ok, _} = procket:handle(C2), Self ! ready, receive stop -> ok end end),
    receive ready -> ok end,
    Pid ! stop,
    ?assert(wait_until(fun() -> not fd_open(C2) end, 200)),
    ok = close_all([S, S2]).

%% A lingering close that really waits: the peer reads nothing, the
%% sender's queue is full, SO_LINGER is 1 s. close_handle/1 returns after
%% about a second (close(2) on a dirty I/O scheduler) while this VM keeps
%% running; when the owner exits instead, the close happens on a thread and
%% nobody waits.
linger_wait_test_() ->
    {timeout, 30, fun linger_wait/0}.

linger_wait() ->
    Full = fun() ->
                   {C, S} = tcp_pair(),
                   ok = procket:setsockopt(S, 'SOL_SOCKET', 'SO_RCVBUF', 4096),
                   ok = procket:setsockopt(C, 'SOL_SOCKET', 'SO_SNDBUF', 4096),
                   Fill = fun F(N) ->
                                  case procket:write(C, <<0:(4096 * 8)>>) of
                                      {error, eagain} -> N;
                                      _ -> F(N + 1)
                                  end
                          end,
                   _ = Fill(0),
                   ok = procket:setsockopt(C, 'SOL_SOCKET', 'SO_LINGER',
                                           <<1:32/native, 1:32/native>>),
                   {C, S}
           end,
    {C, S} = Full(),
    {ok, H} = procket:handle(C),
    Self = self(),
    Ticker = spawn_link(fun() -> tick(Self, 0) end),
    T0 = erlang:monotonic_time(millisecond),
    ?assertEqual(ok, procket:close_handle(H)),
    Ms = erlang:monotonic_time(millisecond) - T0,
    Ticker ! {stop, self()},
    Ticks = receive {ticks, N} -> N end,
    ?debugFmt("lingering close_handle: ~p ms, ~p ticks of 10 ms meanwhile", [Ms, Ticks]),
    ?assert(Ms >= 800),
    ?assert(Ticks >= Ms div 20),             % the VM kept running
    ?assertNot(fd_open(C)),
    %% the owner exits: nothing waits, the descriptor goes within the linger
    {C2, S2} = Full(),
    Pid = spawn(fun() -> {ok, _} = procket:handle(C2), Self ! ready, receive stop -> ok end end),
    receive ready -> ok end,
    MRef = monitor(process, Pid),
    Threads = fun busy_workers/0,
    Threads0 = Threads(),
    T1 = erlang:monotonic_time(millisecond),
    Pid ! stop,
    receive {'DOWN', MRef, process, Pid, _} -> ok end,
    ?assert(erlang:monotonic_time(millisecond) - T1 < 500),
    timer:sleep(200),
    %% a worker thread of procket's waits out the linger in close(2) (the
    %% number leaves the descriptor table at once)
    ?assertEqual(Threads0 + 1, Threads()),
    ?assert(wait_until(fun() -> not fd_open(C2) end, 300)),
    %% meanwhile the number is free for a new socket and its handle
    {New, Others} = reuse_socket(C2, 64, []),
    ?assertEqual(Threads0 + 1, Threads()),   % still lingering
    {ok, HN} = procket:handle(New),
    ok = procket:close_handle(HN),
    ok = close_all(Others),
    ?assert(wait_until(fun() -> Threads() =:= Threads0 end, 100)),
    ok = close_all([S, S2]).

%% procket's worker threads (named procket_close and procket_call, one
%% pool each) that are not idle (waiting for a job, in a futex)
busy_workers() ->
    {ok, Ts} = file:list_dir("/proc/self/task"),
    length([T || T <- Ts,
                 is_worker(file:read_file("/proc/self/task/" ++ T ++ "/comm")),
                 case file:read_file("/proc/self/task/" ++ T ++ "/wchan") of
                     {ok, <<"futex", _/binary>>} -> false;
                     _ -> true
                 end]).

is_worker({ok, <<"procket_close\n">>}) -> true;
is_worker({ok, <<"procket_call\n">>}) -> true;
is_worker(_) -> false.

%% procket sockets until one has number FD (the lowest free is taken)
reuse_socket(_FD, 0, _Others) ->
    erlang:error(number_never_reused);
reuse_socket(FD, N, Others) ->
    case procket:socket(inet, dgram, 0) of
        {ok, FD} -> {FD, Others};
        {ok, Other} -> reuse_socket(FD, N - 1, [Other | Others])
    end.

tick(To, N) ->
    receive
        {stop, To} -> To ! {ticks, N}
    after 10 ->
        tick(To, N + 1)
    end.

%% calls in flight from many processes while the handle is closed: every
%% call returns, none touches a closed (or reused) descriptor
concurrent_close_test_() ->
    {timeout, 60, fun concurrent_close/0}.

concurrent_close() ->
    Self = self(),
    lists:foreach(
      fun(_) ->
              {S, Addr} = udp(),
              {ok, H} = procket:handle(S),
              Workers = [spawn_link(fun() -> Self ! {done, self(), hammer(H, Addr, 0)} end)
                         || _ <- lists:seq(1, 4)],
              timer:sleep(5),
              ok = procket:close_handle(H),
              [receive {done, P, ebadf} -> ok after 10000 -> error(stuck) end || P <- Workers],
              ?assertNot(fd_open(S))
      end, lists:seq(1, 20)).

hammer(H, Addr, N) ->
    case procket:sendto(H, <<N:32>>, 0, Addr) of
        {error, ebadf} -> ebadf;
        _ ->
            case procket:recvfrom(H, 10) of
                {error, ebadf} -> ebadf;
                _ -> hammer(H, Addr, N + 1)
            end
    end.

%% thousands of calls through every error path, handles closed every way:
%% no descriptor is left behind, and the VM's memory does not grow
no_leaks_test_() ->
    {timeout, 120, fun no_leaks/0}.

no_leaks() ->
    {ok, Fds0} = file:list_dir("/proc/self/fd"),
    Cycle = fun(I) ->
                    {S, Addr} = udp(),
                    {error, _} = procket:accept(S),
                    {error, eagain} = procket:recvmsg(S, 100, 0, 64, 16),
                    {error, _} = procket:ioctl(S, 'SIOCGIFINDEX', <<"nosuch", 0:(34 * 8)>>),
                    {error, _} = procket:getsockopt(S, 'SOL_SOCKET', 12345, <<0:32>>),
                    {'EXIT', {badarg, _}} = (catch procket:sendmsg(S, <<>>, 0, [{1, 1, foo}], Addr)),
                    {'EXIT', {badarg, _}} = (catch procket:recvfrom(S, -1)),
                    %% descriptors passed to ourselves: one received and
                    %% closed, one cut off by a short control buffer
                    {L, LAddr} = unix_dgram(),
                    Rights = [{'SOL_SOCKET', 'SCM_RIGHTS', <<S:32/native>>}],
                    ok = procket:sendmsg(L, <<"x">>, 0, Rights, LAddr),
                    {ok, _, _, [{1, 1, <<New:32/native>>}]} = procket:recvmsg(L, 10, 0, 64),
                    ok = procket:close(New),
                    ok = procket:sendmsg(L, <<"y">>, 0, Rights, LAddr),
                    {ok, _, CFlags, []} = procket:recvmsg(L, 10, 0, 4),
                    true = CFlags band procket:msg_flag('MSG_CTRUNC') =/= 0,
                    ok = procket:close(L),
                    {ok, H} = procket:handle(S),
                    {ok, Ref} = procket:select(H, read),
                    case I rem 3 of
                        0 -> ok = procket:close_handle(H);
                        1 -> ok = procket:cancel_select(H, read, Ref),
                             ok = procket:close_handle(H);
                        2 -> Pid = spawn(fun() -> receive go -> ok end end),
                             ok = procket:controlling_process(H, Pid),
                             Pid ! go
                    end,
                    %% a handle never selected, left to the garbage collector
                    spawn(fun() -> {T, _} = udp(), {ok, _} = procket:handle(T) end),
                    flush()
            end,
    Cycle(0),
    erlang:garbage_collect(),
    Mem0 = erlang:memory(total),
    [Cycle(I) || I <- lists:seq(1, 3000)],
    erlang:garbage_collect(),
    ?assert(wait_until(fun() ->
                               {ok, Fds} = file:list_dir("/proc/self/fd"),
                               length(Fds) =< length(Fds0)
                       end, 300)),
    Mem1 = erlang:memory(total),
    ?debugFmt("3000 cycles: memory ~p -> ~p bytes", [Mem0, Mem1]),
    ?assert(Mem1 - Mem0 < 8 * 1024 * 1024).

%% procket:close/1 does not close a descriptor a handle owns: the handle
%% would go on using a number the next open may reuse.
close_refuses_handle_fd_test() ->
    {ok, FD} = procket:socket(inet, dgram, 0),
    {ok, H} = procket:handle(FD),
    ?assertEqual({error, ebusy}, procket:close(FD)),
    ?assertEqual(FD, procket:fd(H)),
    ok = procket:close_handle(H),
    ?assertEqual({error, ebadf}, procket:close(FD)).

%% procket:close/1 and procket:handle/1 never touch a descriptor procket
%% did not give out: the VM's standard input, the socket of a gen_udp
%% port, which keeps working.
close_refuses_vm_fd_test() ->
    ?assertEqual({error, ebadf}, procket:close(0)),
    ?assertEqual({error, ebadf}, procket:handle(0)),
    {ok, U} = gen_udp:open(0, [binary, {active, false}, {ip, {127, 0, 0, 1}}]),
    {ok, UFd} = inet:getfd(U),
    ?assertEqual({error, ebadf}, procket:close(UFd)),
    ?assertEqual({error, ebadf}, procket:handle(UFd)),
    {ok, UPort} = inet:port(U),
    ok = gen_udp:send(U, {127, 0, 0, 1}, UPort, <<"still open">>),
    ?assertMatch({ok, {_, UPort, <<"still open">>}}, gen_udp:recv(U, 100, 1000)),
    ok = gen_udp:close(U).

%% A double close: once procket closed a descriptor, the VM may reuse its
%% number for a socket of its own (here a gen_udp port, which usually
%% gets the lowest free number); a late second procket:close/1 of the
%% number must not close that socket.
close_after_reuse_test() ->
    {ok, FD} = procket:socket(inet, dgram, 0),
    ok = procket:close(FD),
    %% new VM sockets take the lowest free numbers: open them until one
    %% has FD's (at most 64)
    {U, Others} = reuse(FD, 64, []),
    {ok, FD} = inet:getfd(U),
    ?assertEqual({error, ebadf}, procket:close(FD)),
    {ok, UPort} = inet:port(U),
    ok = gen_udp:send(U, {127, 0, 0, 1}, UPort, <<"mine">>),
    ?assertMatch({ok, {_, UPort, <<"mine">>}}, gen_udp:recv(U, 100, 1000)),
    [ok = gen_udp:close(X) || X <- [U | Others]],
    ok.

reuse(_FD, 0, _Others) ->
    erlang:error(number_never_reused);
reuse(FD, N, Others) ->
    {ok, U} = gen_udp:open(0, [binary, {active, false}, {ip, {127, 0, 0, 1}}]),
    case inet:getfd(U) of
        {ok, FD} -> {U, Others};
        {ok, _} -> reuse(FD, N - 1, [U | Others])
    end.

%% What procket gave out is closed once: a second close/1 is ebadf, and a
%% descriptor that arrived with SCM_RIGHTS (scm_rights_test) is closable.
close_once_test() ->
    {ok, FD} = procket:socket(inet, dgram, 0),
    ok = procket:close(FD),
    ?assertEqual({error, ebadf}, procket:close(FD)).

%%% ------------------------------------------------------------------
%%% what procket refuses to pass on (the VM's safety)
%%% ------------------------------------------------------------------

%% Socket options whose value holds an address the kernel would read or
%% write (a filter program, a zero-copy target), and MSG_ZEROCOPY (the
%% kernel would read the binary after the call): enotsup.
refused_options_test() ->
    {C, S} = tcp_pair(),
    {U, UAddr} = udp(),
    ?assertEqual({error, enotsup},
                 procket:getsockopt(C, 'IPPROTO_TCP', 35, <<0:(64 * 8)>>)),
    ?assertEqual({error, enotsup},
                 procket:setsockopt(C, 'IPPROTO_TCP', 35, <<0:(64 * 8)>>)),
    ?assertEqual({error, enotsup},
                 procket:setsockopt(U, 'SOL_SOCKET', 26, <<1:16/native, 0:48, 16#400000:64/native>>)),
    ?assertEqual({error, enotsup},
                 procket:setsockopt(U, 'SOL_SOCKET', 51, <<1:16/native, 0:48, 16#400000:64/native>>)),
    ?assertEqual({error, enotsup}, procket:sendto(U, <<"z">>, 16#4000000, UAddr)),
    ?assertEqual({error, enotsup}, procket:sendmsg(U, <<"z">>, 16#4000000, [], UAddr)),
    %% what is not on that list is passed on
    ok = procket:setsockopt(U, 'SOL_SOCKET', 'SO_PRIORITY', 1),
    ok = close_all([C, S, U]).

%% A descriptor the kernel hands back outside SCM_RIGHTS is procket's to
%% close too: 1,001 SO_PEERPIDFD pidfds, each closed with close/1, leave
%% the VM's descriptor count where it was.
peer_pidfd_test() ->
    {C, S} = unix_pair(),
    Before = length(element(2, file:list_dir("/proc/self/fd"))),
    Pidfds = [case procket:getsockopt(C, 'SOL_SOCKET', 77, <<0:32>>) of
                  {ok, <<P:32/native>>} -> P;
                  {error, enoprotoopt} -> none                % kernel < 6.5
              end || _ <- lists:seq(1, 1001)],
    [?assertEqual(ok, procket:close(P)) || P <- Pidfds, P =/= none],
    After = length(element(2, file:list_dir("/proc/self/fd"))),
    ?assertEqual(Before, After),
    ok = close_all([C, S]).

%% SCM_RIGHTS in sendmsg: only descriptors of procket's; the VM's own
%% (here a gen_udp port's socket) are ebadf and nothing is sent.
sendmsg_vm_fd_test() ->
    {R, RAddr} = unix_dgram(),
    {W, _} = unix_dgram(),
    {ok, U} = gen_udp:open(0, [binary, {active, false}, {ip, {127, 0, 0, 1}}]),
    {ok, UFd} = inet:getfd(U),
    ?assertEqual({error, ebadf},
                 procket:sendmsg(W, <<"x">>, 0, [{1, 1, <<UFd:32/native>>}], RAddr)),
    ?assertEqual({error, eagain}, procket:recvfrom(R, 10)),
    {ok, Own} = procket:socket(inet, dgram, 0),
    ?assertEqual(ok, procket:sendmsg(W, <<"y">>, 0, [{1, 1, <<Own:32/native>>}], RAddr)),
    {ok, <<"y">>, _, [{1, 1, <<Got:32/native>>}], _} = procket:recvmsg(R, 10, 0, 64, 110),
    ok = gen_udp:close(U),
    ok = close_all([R, W, Own, Got]).

%% close/1 while another process's call works on the same integer
%% descriptor: the close is deferred to the end of that call, so the
%% number is never freed (and reused) under it.
close_during_call_test() ->
    {C, S} = unix_pair(),
    make_blocking(S),
    Self = self(),
    Reader = spawn_link(fun() -> Self ! {read, procket:read(S, 10)} end),
    timer:sleep(100),                              % blocked on a dirty scheduler
    ?assertEqual(ok, procket:close(S)),
    ?assert(fd_open(S)),                           % still the reader's
    ?assertEqual({error, ebadf}, procket:read(S, 10)),  % but gone for new calls
    ?assertEqual({error, ebadf}, procket:close(S)),
    ok = procket:write(C, <<"wake">>),
    receive {read, R} -> ?assertEqual({ok, <<"wake">>}, R) after 5000 -> error(no_read) end,
    ?assert(wait_until(fun() -> not fd_open(S) end, 100)),
    unlink(Reader),
    ok = procket:close(C).

%% handle/1 of a descriptor whose close/1 waits for a call in flight
%% (ebadf: it is closing), or while an integer call works on it (ebusy:
%% its number must stay until the call returns).
handle_during_call_test() ->
    {C, S} = unix_pair(),
    make_blocking(S),
    Self = self(),
    spawn_link(fun() -> Self ! {read, procket:read(S, 10)} end),
    timer:sleep(100),
    ?assertEqual({error, ebusy}, procket:handle(S)),
    ok = procket:close(S),
    ?assertEqual({error, ebadf}, procket:handle(S)),
    ok = procket:write(C, <<"wake">>),
    receive {read, {ok, <<"wake">>}} -> ok after 5000 -> error(no_read) end,
    ok = procket:close(C).

%% SO_PEERPIDFD without room for the descriptor's number: einval, and no
%% descriptor is made.
peer_pidfd_short_buffer_test() ->
    {C, S} = unix_pair(),
    Before = length(element(2, file:list_dir("/proc/self/fd"))),
    [?assertEqual({error, einval}, procket:getsockopt(C, 'SOL_SOCKET', 77, B))
     || B <- [<<>>, <<0>>, <<0, 0, 0>>], _ <- lists:seq(1, 50)],
    ?assertEqual(Before, length(element(2, file:list_dir("/proc/self/fd")))),
    ok = close_all([C, S]).

%% AF_ALG sockets would hash a whole binary in the send call: refused.
alg_refused_test() ->
    ?assertEqual({error, eafnosupport}, procket:socket(38, seqpacket, 0)).
