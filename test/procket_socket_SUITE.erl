%% Common Test suite of the socket API with privileges: the cases EUnit
%% cannot run as an ordinary user. Run by scripts/ct-socket.sh as root in
%% a fresh network namespace (its own loopback, its own sysctls), so
%% nothing here touches the host's network.
%%
%%   raw_icmp_hdrincl     raw sockets, IP_HDRINCL, select on a raw socket
%%   helper_socket_handle a raw socket from the helper, made a handle
%%   packet_socket_lo     AF_PACKET: bind to lo, PACKET_ADD_MEMBERSHIP,
%%                        PACKET_STATISTICS, frames through recvfrom_wait
%%   bindtodevice         SO_BINDTODEVICE set and read back
%%   icmp_dgram_ping      ICMP datagram sockets, IPv4 and IPv6
%%   tun_ioctl_read       TUNSETIFF/TUNGETIFF through ioctl, and a blocking
%%                        read of a tun device on a dirty scheduler
-module(procket_socket_SUITE).

-include_lib("common_test/include/ct.hrl").

-export([all/0, init_per_suite/1, end_per_suite/1]).
-export([raw_icmp_hdrincl/1, helper_socket_handle/1, packet_socket_lo/1,
         bindtodevice/1, icmp_dgram_ping/1, tun_ioctl_read/1]).

all() ->
    [raw_icmp_hdrincl, helper_socket_handle, packet_socket_lo, bindtodevice,
     icmp_dgram_ping, tun_ioctl_read].

init_per_suite(Config) ->
    "0" = string:trim(os:cmd("id -u")),
    %% a namespace of our own: only lo, as ct-socket.sh made it
    Links = os:cmd("ip -o link show"),
    1 = length(string:split(string:trim(Links), "\n", all)),
    {module, procket_nif} = code:ensure_loaded(procket_nif),
    Config.

end_per_suite(_Config) ->
    ok.

%% A copy of the VM's descriptor VmFd, sent by OTP's socket with
%% SCM_RIGHTS and received by procket:recvmsg: procket's.
received_copy(VmFd) ->
    Name = iolist_to_binary(["procket-socket-suite-", os:getpid()]),
    {ok, R} = procket:socket(local, dgram, 0),
    ok = procket:bind(R, <<(procket:sockaddr_common(local, 0))/binary, 0, Name/binary>>),
    {ok, O} = socket:open(local, dgram, default),
    ok = socket:sendmsg(O, #{addr => #{family => local, path => <<0, Name/binary>>},
                             iov => [<<"fd">>],
                             ctrl => [#{level => socket, type => rights,
                                        data => <<VmFd:32/native>>}]}),
    ok = socket:close(O),
    {ok, <<"fd">>, _, [{1, 1, <<FD:32/native>>}], _} = procket:recvmsg(R, 10, 0, 64, 110),
    ok = procket:close(R),
    FD.

%%% ------------------------------------------------------------------
%%% cases
%%% ------------------------------------------------------------------

%% An ICMP echo request with our own IPv4 header (IPPROTO_RAW implies
%% IP_HDRINCL; it is also set and read back), answered by the kernel and
%% read from a raw ICMP socket through select.
raw_icmp_hdrincl(_Config) ->
    {ok, W} = procket:socket(inet, raw, raw),
    ok = procket:setsockopt(W, 'IPPROTO_IP', 'IP_HDRINCL', 1),
    {ok, <<1:32/native>>} = procket:getsockopt(W, 'IPPROTO_IP', 'IP_HDRINCL', <<0:32>>),
    {ok, R} = procket:socket(inet, raw, icmp),
    {ok, H} = procket:handle(R),
    Id = erlang:phash2(make_ref(), 16#ffff),
    Icmp = icmp_echo(8, Id, 1, <<"procket raw">>),
    Ip = <<16#45, 0, (20 + byte_size(Icmp)):16, 0:16, 0:16, 64, 1, 0:16,
           127, 0, 0, 1, 127, 0, 0, 1>>,
    ok = procket:sendto(W, <<Ip/binary, Icmp/binary>>, 0, sin(0)),
    {ok, Reply} = wait_for(H, fun(<<_:20/bytes, 0, 0, _:16, I:16, 1:16, "procket raw">>) ->
                                      I =:= Id;
                                 (_) -> false
                              end, 3000),
    ct:log("echo reply: ~p", [Reply]),
    ok = procket:close_handle(H),
    ok = procket:close(W).

%% procket:open/2 (the helper; run directly, we are root) gives a raw ICMP
%% socket; as a handle it waits for the reply without polling.
helper_socket_handle(_Config) ->
    {ok, FD} = procket:open(0, [{family, inet}, {type, raw}, {protocol, icmp}]),
    {ok, H} = procket:handle(FD),
    Id = erlang:phash2(make_ref(), 16#ffff),
    %% selected before the request goes out: the reply comes as a message
    {ok, Ref} = procket:select(H, read),
    ok = procket:sendto(H, icmp_echo(8, Id, 7, <<"helper">>), 0, sin(0)),
    receive {select, H, Ref, ready_input} -> ok after 3000 -> ct:fail(no_select) end,
    {ok, _} = wait_for(H, fun(<<_:20/bytes, 0, 0, _:16, I:16, 7:16, "helper">>) -> I =:= Id;
                             (_) -> false
                          end, 3000),
    #{state := open, selected := true} = procket:handle_info(H),
    ok = procket:close_handle(H),
    #{state := closed} = procket:handle_info(H),
    ok.

%% AF_PACKET on lo: bound with a sockaddr_ll, promiscuous through
%% PACKET_ADD_MEMBERSHIP; a UDP datagram shows up as a frame, with the
%% sender's sockaddr_ll; PACKET_STATISTICS counts it.
packet_socket_lo(_Config) ->
    <<EthAll:16/native>> = <<3:16/big>>,            % htons(ETH_P_ALL)
    {ok, P} = procket:socket(packet, raw, EthAll),
    Index = ifindex(P, "lo"),
    Sll = <<(procket:family(packet)):16/native, 3:16/big, Index:32/native,
            0:16, 0:8, 0:8, 0:64>>,
    ok = procket:bind(P, Sll),
    Mreq = <<Index:32/native, (procket:socket_optname('PACKET_MR_PROMISC')):16/native,
             0:16, 0:64>>,
    ok = procket:setsockopt(P, 'SOL_PACKET', 'PACKET_ADD_MEMBERSHIP', Mreq),
    {ok, H} = procket:handle(P),
    {ok, U} = procket:socket(inet, dgram, udp),
    ok = procket:bind(U, sin(0)),
    {ok, UAddr} = procket:getsockname(U, 16),
    Payload = <<"frame ", (integer_to_binary(erlang:unique_integer([positive])))/binary>>,
    ok = procket:sendto(U, Payload, 0, UAddr),
    {ok, {Frame, From}} = wait_frame(H, Payload, deadline(3000)),
    <<17:16/native, _:16, Index:32/native, _/binary>> = From,
    {_, _} = binary:match(Frame, Payload),
    {ok, <<Packets:32/native, _Drops:32/native>>} =
        procket:getsockopt(H, 'SOL_PACKET', 'PACKET_STATISTICS', <<0:64>>),
    true = Packets >= 1,
    ok = procket:setsockopt(H, 'SOL_PACKET', 'PACKET_DROP_MEMBERSHIP', Mreq),
    ok = procket:close_handle(H),
    ok = procket:close(U).

%% SO_BINDTODEVICE by name, read back; an unknown device is enodev
bindtodevice(_Config) ->
    {ok, U} = procket:socket(inet, dgram, udp),
    ok = procket:setsockopt(U, 'SOL_SOCKET', 'SO_BINDTODEVICE', <<"lo">>),
    {ok, <<"lo", 0>>} = procket:getsockopt(U, 'SOL_SOCKET', 'SO_BINDTODEVICE', <<0:128>>),
    {error, enodev} = procket:setsockopt(U, 'SOL_SOCKET', 'SO_BINDTODEVICE', <<"nosuch0">>),
    ok = procket:close(U).

%% ICMP datagram sockets, allowed to group 0 in this namespace's
%% ping_group_range: echo over IPv4 and IPv6, through recvfrom_wait
icmp_dgram_ping(_Config) ->
    File = "/proc/sys/net/ipv4/ping_group_range",
    {ok, Old} = file:read_file(File),
    ok = file:write_file(File, <<"0 0\n">>),
    try
        {ok, S4} = procket:socket(inet, dgram, icmp),
        {ok, H4} = procket:handle(S4),
        ok = procket:sendto(H4, icmp_echo(8, 0, 1, <<"v4">>), 0, sin(0)),
        {ok, <<0, 0, _:16, _:16, 1:16, "v4">>} = procket:recvfrom_wait(H4, 100, 3000),
        ok = procket:close_handle(H4),
        {ok, S6} = procket:socket(inet6, dgram, 'ipv6-icmp'),
        {ok, H6} = procket:handle(S6),
        Sin6 = <<(procket:sockaddr_common(inet6, 28))/binary, 0:16, 0:32, 0:120, 1, 0:32>>,
        %% the kernel computes the ICMPv6 checksum
        ok = procket:sendto(H6, <<128, 0, 0:16, 0:16, 2:16, "v6">>, 0, Sin6),
        {ok, <<129, 0, _:16, _:16, 2:16, "v6">>, From} =
            procket:recvfrom_wait(H6, 100, 0, 28, 3000),
        <<_:2/bytes, _:16, _:32, 0:120, 1, _/binary>> = From,
        ok = procket:close_handle(H6)
    after
        ok = file:write_file(File, Old)
    end.

%% A tun device made with ioctl(TUNSETIFF) on /dev/net/tun (opened by the
%% VM's raw file driver, in blocking mode, and given to procket with
%% SCM_RIGHTS: the VM's own descriptor is not procket's); TUNGETIFF
%% through ioctl/4; a read of the blocking descriptor runs on a dirty I/O
%% scheduler until the kernel routes a datagram into the device.
tun_ioctl_read(_Config) ->
    {ok, File} = file:open("/dev/net/tun", [read, write, raw, binary]),
    try
        <<VmFd:32/native>> = prim_file:get_handle(File),
        {error, ebadf} = procket:ioctl(VmFd, 'TUNGETIFF', <<>>, 40),
        FD = received_copy(VmFd),
        IffTun = 16#0001,
        IffNoPi = 16#1000,
        Ifreq = <<"pktest%d", 0:(8 * 8), (IffTun bor IffNoPi):16/native, 0:(22 * 8)>>,
        {ok, <<NameField:16/bytes, _/binary>>} = procket:ioctl(FD, 'TUNSETIFF', Ifreq),
        [Name | _] = binary:split(NameField, <<0>>),
        {ok, 0, <<NameField:16/bytes, Flags:16/native, _/binary>>} =
            procket:ioctl(FD, 'TUNGETIFF', <<>>, 40),
        IffTun = Flags band IffTun,
        N = binary_to_list(Name),
        "" = os:cmd("ip addr add 10.98.0.1/24 dev " ++ N ++ " && ip link set " ++ N ++ " up"),
        Self = self(),
        Reader = spawn_link(fun() -> Self ! {packet, read_udp(FD, 50)} end),
        {ok, U} = procket:socket(inet, dgram, udp),
        Payload = <<"into the tunnel">>,
        Send = fun() -> procket:sendto(U, Payload, 0, sin(10, 98, 0, 2, 9999)) end,
        ok = Send(),
        Packet = receive
                     {packet, Pkt} -> Pkt
                 after 5000 ->
                     unlink(Reader),
                     exit(Reader, kill),
                     ct:fail(no_packet)
                 end,
        {_, _} = binary:match(Packet, Payload),
        ok = procket:close(U),
        ok = procket:close(FD)
    after
        ok = file:close(File)
    end.

%%% ------------------------------------------------------------------
%%% helpers
%%% ------------------------------------------------------------------

sin(Port) -> sin(127, 0, 0, 1, Port).

sin(A, B, C, D, Port) ->
    <<(procket:sockaddr_common(inet, 16))/binary, Port:16, A, B, C, D, 0:64>>.

icmp_echo(Type, Id, Seq, Data) ->
    Sum = checksum(<<Type, 0, 0:16, Id:16, Seq:16, Data/binary>>),
    <<Type, 0, Sum:16, Id:16, Seq:16, Data/binary>>.

checksum(Bin) -> checksum(Bin, 0).
checksum(<<W:16, Rest/binary>>, Acc) -> checksum(Rest, Acc + W);
checksum(<<B>>, Acc) -> checksum(<<>>, Acc + (B bsl 8));
checksum(<<>>, Acc) when Acc > 16#ffff -> checksum(<<>>, (Acc band 16#ffff) + (Acc bsr 16));
checksum(<<>>, Acc) -> bnot Acc band 16#ffff.

ifindex(FD, Name) ->
    Ifreq = <<(list_to_binary(Name))/binary, 0:((40 - length(Name)) * 8)>>,
    {ok, <<_:16/bytes, Index:32/native, _/binary>>} = procket:ioctl(FD, 'SIOCGIFINDEX', Ifreq),
    Index.

deadline(Ms) -> erlang:monotonic_time(millisecond) + Ms.
left(Deadline) -> max(0, Deadline - erlang:monotonic_time(millisecond)).

%% the first datagram from H that Match accepts
wait_for(H, Match, Ms) ->
    wait_for1(H, Match, deadline(Ms)).

wait_for1(H, Match, Deadline) ->
    case procket:recvfrom_wait(H, 2048, left(Deadline)) of
        {ok, Buf} ->
            case Match(Buf) of
                true -> {ok, Buf};
                false -> wait_for1(H, Match, Deadline)
            end;
        {error, _} = Error ->
            Error
    end.

wait_frame(H, Payload, Deadline) ->
    case procket:recvfrom_wait(H, 2048, 0, 20, left(Deadline)) of
        {ok, Frame, From} ->
            case binary:match(Frame, Payload) of
                nomatch -> wait_frame(H, Payload, Deadline);
                _ -> {ok, {Frame, From}}
            end;
        {error, _} = Error ->
            Error
    end.

%% reads packets from the (blocking) tun descriptor until an IPv4 UDP one
read_udp(_FD, 0) ->
    none;
read_udp(FD, N) ->
    case procket:read(FD, 2048) of
        {ok, <<4:4, _:4, _:8/bytes, 17, _/binary>> = Packet} -> Packet;
        {ok, _Other} -> read_udp(FD, N - 1);
        {error, _} = Error -> Error
    end.
