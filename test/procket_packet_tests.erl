%% EUnit tests of procket_ioctl (pure) and of the packet module's calls
%% that need no privilege (lookups on loopback through an ordinary UDP
%% socket, argument checks). The packet socket itself, binding, sending
%% and the /proc/net readers are exercised in procket_SUITE (group
%% devices), inside a test namespace.
-module(procket_packet_tests).

-include_lib("eunit/include/eunit.hrl").

%% --- procket_ioctl -----------------------------------------------------

%% The run-time encoding agrees with the C headers' values, which the NIF
%% reports by name.
linux_requests_match_headers_test_() ->
    Cases = [{'TUNSETIFF', fun() -> procket_ioctl:iow($T, 202, 4) end},
             {'TUNGETIFF', fun() -> procket_ioctl:ior($T, 210, 4) end},
             {'TUNSETPERSIST', fun() -> procket_ioctl:iow($T, 203, 4) end},
             {'TUNGETFEATURES', fun() -> procket_ioctl:ior($T, 207, 4) end}],
    [{atom_to_list(Name),
      fun() ->
              case procket:ioctl_request(Name) of
                  undefined -> ok;          % not on this system: nothing to compare
                  Want -> ?assertEqual(Want, F())
              end
      end} || {Name, F} <- Cases].

%% Values computed by hand from the Linux layout (asm-generic/ioctl.h).
linux_layout_test() ->
    ?assertEqual(16#40000000, procket_ioctl:in(linux)),
    ?assertEqual(16#80000000, procket_ioctl:out(linux)),
    ?assertEqual(0, procket_ioctl:void(linux)),
    %% FS_IOC_GETFLAGS = _IOR('f', 1, long) on 64-bit
    ?assertEqual(16#80086601, procket_ioctl:ioc(procket_ioctl:out(linux), $f, 1, 8)),
    %% _IO('T', 0xc8) and _IOWR('T', 0xc8, 16)
    ?assertEqual(16#54c8, procket_ioctl:io($T, 16#c8)),
    ?assertEqual(16#c01054c8, procket_ioctl:iowr($T, 16#c8, 16)),
    ?assertEqual(procket_ioctl:in() bor procket_ioctl:out(),
                 procket_ioctl:iowr(0, 0, 0)).

%% The BSD layout: TIOCGWINSZ is _IOR('t', 104, struct winsize) = 0x40087468.
bsd_layout_test() ->
    ?assertEqual(16#80000000, procket_ioctl:in(bsd)),
    ?assertEqual(16#40000000, procket_ioctl:out(bsd)),
    ?assertEqual(16#20000000, procket_ioctl:void(bsd)),
    ?assertEqual(16#40087468, procket_ioctl:ioc(procket_ioctl:out(bsd), $t, 104, 8)).

ioctl_badarg_test_() ->
    [?_assertError(badarg, procket_ioctl:ior(256, 0, 4)),
     ?_assertError(badarg, procket_ioctl:ior(0, -1, 4)),
     ?_assertError(badarg, procket_ioctl:iow($T, 1, 1 bsl 14)),   % size field is 14 bits
     ?_assertError(badarg, procket_ioctl:iow($T, 1, -1)),
     ?_assertError(badarg, procket_ioctl:ioc(3, $T, 1, 0)),       % not direction bits
     ?_assertError(badarg, procket_ioctl:ioc(1 bsl 32, $T, 1, 0)),
     ?_assertError(badarg, procket_ioctl:io(x, 1)),
     ?_assertError(badarg, procket_ioctl:in(windows)),
     ?_assertError(badarg, procket_ioctl:out("linux")),
     ?_assertError(badarg, procket_ioctl:void(3))].

%% --- packet: lookups on loopback ----------------------------------------

with_udp(Fun) ->
    {ok, FD} = procket:socket(inet, dgram, 0),
    try Fun(FD) after procket:close(FD) end.

loopback_lookups_test() ->
    with_udp(
      fun(S) ->
              Index = packet:ifindex(S, "lo"),
              ?assert(is_integer(Index) andalso Index > 0),
              ?assertEqual(<<"lo">>, packet:ifname(S, Index)),
              ?assertEqual(Index, packet:ifindex(S, <<"lo">>)),
              ?assertEqual({127, 0, 0, 1}, packet:ipv4address(S, "lo")),
              ?assertEqual({0, 0, 0, 0, 0, 0}, packet:macaddress(S, "lo")),
              ?assert(lists:member("lo", packet:iflist()))
      end).

%% The kernel's errors come back as {error, Posix}, not as a crash.
lookup_errors_test() ->
    with_udp(
      fun(S) ->
              ?assertEqual({error, enodev}, packet:ifindex(S, "nosuchif0")),
              ?assertEqual({error, enodev}, packet:macaddress(S, "nosuchif0")),
              ?assertEqual({error, enodev}, packet:ipv4address(S, "nosuchif0")),
              ?assertEqual({error, enodev}, packet:ifname(S, 16#7fffffff)),
              %% packet_mreq and sockaddr_ll mean nothing to a UDP socket
              ?assertEqual({error, enoprotoopt}, packet:promiscuous(S, 1)),
              ?assertEqual({error, eafnosupport}, packet:bind(S, 1)),
              ?assertEqual({error, eafnosupport}, packet:send(S, 1, <<0:(8 * 60)>>))
      end),
    %% a closed descriptor
    {ok, FD} = procket:socket(inet, dgram, 0),
    ok = procket:close(FD),
    ?assertEqual({error, ebadf}, packet:ifindex(FD, "lo")).

%% Names no interface can have, and arguments of the wrong kind.
packet_badarg_test_() ->
    {setup, fun() -> {ok, FD} = procket:socket(inet, dgram, 0), FD end,
     fun(FD) -> procket:close(FD) end,
     fun(S) ->
             [?_assertError(badarg, packet:ifindex(S, "")),
              ?_assertError(badarg, packet:ifindex(S, "0123456789abcdef")),  % 16 bytes
              ?_assertError(badarg, packet:ifindex(S, "lo\0x")),
              ?_assertError(badarg, packet:ifindex(S, lo)),
              ?_assertError(badarg, packet:macaddress(S, [-1])),
              ?_assertError(badarg, packet:ifname(S, 1 bsl 31)),
              ?_assertError(badarg, packet:ifname(S, "1")),
              ?_assertError(badarg, packet:bind(S, -1 - (1 bsl 31))),
              ?_assertError(badarg, packet:send(S, x, <<>>)),
              ?_assertError(badarg, packet:promiscuous(S, 1.0)),
              ?_assertError(badarg, packet:ifindex(-1, "lo")),
              ?_assertError(badarg, packet:socket(16#10000)),
              ?_assertError(badarg, packet:socket(-1)),
              ?_assertError(badarg, packet:socket(16#0800, notalist)),
              ?_assertError(badarg, packet:arplookup(10)),
              ?_assertError(badarg, packet:makesum("abc")),
              ?_assertError(badarg, packet:ipv4address(S, "lo\0")),
              ?_assertError(badarg, packet:ipv4address(S, lo)),
              ?_assertError(badarg, packet:bindtodevice(S, "")),
              ?_assertError(badarg, packet:bindtodevice(S, 42)),
              ?_assertError(badarg, packet:gateway(42)),
              ?_assertError(badarg, packet:gateway_addr(foo))]
     end}.

%% makesum/1 is the Internet checksum: a header with its sum in place
%% sums to zero; odd lengths are padded (RFC 1071).
makesum_test() ->
    Hdr = <<16#45, 0, 0, 84, 0, 0, 16#40, 0, 64, 1, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1>>,
    Sum = packet:makesum(Hdr),
    <<Pre:10/binary, 0:16, Post/binary>> = Hdr,
    ?assertEqual(0, packet:makesum(<<Pre/binary, Sum:16, Post/binary>>)),
    ?assertEqual(packet:makesum(<<1, 2, 3, 0>>), packet:makesum(<<1, 2, 3>>)),
    ?assertEqual(16#ffff, packet:makesum(<<>>)).

%% /proc/net readers: the answers agree with what the kernel shows, for
%% whatever routes this machine has.
default_interface_agrees_with_proc_test() ->
    {ok, Route} = file:read_file("/proc/net/route"),
    [_ | Lines] = string:lexemes(binary_to_list(Route), "\n"),
    Want = lists:usort([Dev || L <- Lines,
                               [Dev, "00000000", _Gw, Flags, _, _, _, "00000000" | _]
                                   <- [string:lexemes(L, " \t")],
                               list_to_integer(Flags, 16) band 3 =:= 3]),
    ?assertEqual(Want, packet:default_interface()),
    case Want of
        [] -> ?assertEqual(false, packet:gateway_addr([]));
        _ -> ?assertMatch({_, _, _, _}, packet:gateway_addr([]))
    end,
    ?assertEqual(false, packet:gateway_addr("nosuchif0")),
    ?assertEqual(false, packet:arplookup("198.51.100.254")).

%% packet:socket/2's failures come back as {error, Posix}: here, no
%% helper at the given path (the helper's own refusals, an unknown
%% interface among them, are in procket_SUITE's packet_module).
packet_socket_errors_test() ->
    ?assertEqual({error, enoent},
                 packet:socket(16#0800, [{progname, "/nonexistent/procket"}])),
    ?assertEqual({error, enoent}, packet:socket(16#0806, [{progname, "/nonexistent/procket"}])).

%% --- socket filters ----------------------------------------------------

%% packet:filter/2 on an ordinary UDP socket on loopback (no privilege
%% needed): a program that accepts nothing stops every datagram, one that
%% accepts datagrams of more than 20 bytes of UDP payload lets only those
%% through, unfilter/1 lets everything through again. The program as a
%% binary, #insn{} records, {Code, Jt, Jf, K} tuples or 8-byte binaries
%% is the same program.
filter_test() ->
    {ok, S} = procket:socket(inet, dgram, 0),
    ok = procket:bind(S, <<2:16/native, 0:16, 127, 0, 0, 1, 0:64>>),
    {ok, <<_:16, Port:16, _/binary>>} = procket:getsockname(S, 16),
    {ok, U} = gen_udp:open(0, [{ip, {127, 0, 0, 1}}, binary]),
    Send = fun(Bin) -> ok = gen_udp:send(U, {127, 0, 0, 1}, Port, Bin), timer:sleep(20) end,
    Recv = fun() -> procket:recv(S, 100) end,
    %% ret #0
    Drop = [{insn, 16#06, 0, 0, 0}],
    ?assertEqual({ok, <<16#06:16/native, 0, 0, 0:32>>}, packet:filter(S, Drop)),
    Send(<<"dropped">>),
    ?assertEqual({error, eagain}, Recv()),
    %% ld len (a UDP socket's filter sees the UDP header, 8 bytes, and the
    %% payload); jgt #28; ret #-1; ret #0
    Long = [{16#80, 0, 0, 0}, {16#25, 0, 1, 28}, {16#06, 0, 0, -1}, {16#06, 0, 0, 0}],
    {ok, LongBin} = packet:filter(S, Long),
    ?assertEqual(32, byte_size(LongBin)),
    ?assertEqual({ok, LongBin}, packet:filter(S, LongBin)),
    ?assertEqual({ok, LongBin},
                 packet:filter(S, [binary:part(LongBin, I * 8, 8) || I <- lists:seq(0, 3)])),
    Send(<<"short">>),
    Send(<<"a payload of more than twenty bytes">>),
    ?assertEqual({ok, <<"a payload of more than twenty bytes">>}, Recv()),
    ?assertEqual({error, eagain}, Recv()),
    ?assertEqual(ok, packet:unfilter(S)),
    ?assertEqual({error, enoent}, packet:unfilter(S)),
    Send(<<"short">>),
    ?assertEqual({ok, <<"short">>}, Recv()),
    ?assertEqual({ok, LongBin}, packet:filter(S, Long)),
    ?assertEqual({ok, LongBin}, packet:unfilter(S, Long)),
    %% the kernel checks the program: a jump out of it, no return
    ?assertEqual({error, einval}, packet:filter(S, [{16#15, 5, 0, 1}, {16#06, 0, 0, 0}])),
    ?assertEqual({error, einval}, packet:filter(S, [{16#80, 0, 0, 0}])),
    %% SO_ATTACH_FILTER itself, whose value would hold an address, stays refused
    ?assertEqual({error, enotsup}, procket:setsockopt(S, 'SOL_SOCKET', 'SO_ATTACH_FILTER',
                                                       <<0:128>>)),
    [?assertError(badarg, packet:filter(S, P))
     || P <- [[], <<>>, <<0:56>>, foo, [foo], [{1, 2, 3}], [{-1, 0, 0, 0}],
              [{16#10000, 0, 0, 0}], [{6, 256, 0, 0}], [{6, 0, -1, 0}],
              [{6, 0, 0, 16#100000000}], [{6, 0, 0, -16#80000001}], [<<0:72>>],
              lists:duplicate(4097, {6, 0, 0, 0}), [{insn, a, 0, 0, 0}]]],
    ?assertError(badarg, packet:unfilter(S, [])),
    ?assertError(badarg, packet:filter(S, [{6, 0, 0, 0} | x])),
    %% the older header's macros and module: 8-byte instructions
    ?assertEqual({ok, LongBin},
                 packet:filter(S, [bpf:stmt(16#80, 0), bpf:jump(16#25, 28, 0, 1),
                                   bpf:stmt(16#06, -1), bpf:stmt(16#06, 0)])),
    ?assertMatch({ok, _}, packet:filter(S, lists:duplicate(4096, {6, 0, 0, 0}))),
    ok = gen_udp:close(U),
    ok = procket:close(S),
    ?assertEqual({error, ebadf}, packet:filter(S, Drop)),
    ?assertEqual({error, ebadf}, packet:unfilter(S)).

%% bpf: the older module's instruction helpers
bpf_test() ->
    ?assertEqual(<<6:16/native, 0, 0, 16#ffffffff:32/native>>, bpf:stmt(6, -1)),
    ?assertEqual(<<16#15:16/native, 2, 3, 16#800:32/native>>, bpf:jump(16#15, 16#800, 2, 3)),
    ?assertEqual({insn, 6, 0, 0, 16#ffffffff}, bpf:insn(bpf:stmt(6, -1))),
    ?assertEqual(bpf:jump(16#15, 7, 1, 0), bpf:insn({insn, 16#15, 1, 0, 7})),
    ?assertEqual(16#08, bpf:offset(halfword)),
    ?assertEqual(byte, bpf:offset(16#10)),
    [?assertError(badarg, F())
     || F <- [fun() -> bpf:stmt(-1, 0) end, fun() -> bpf:stmt(16#10000, 0) end,
              fun() -> bpf:stmt(6, 16#100000000) end, fun() -> bpf:jump(6, 0, 256, 0) end,
              fun() -> bpf:jump(6, 0, 0, -1) end, fun() -> bpf:stmt(a, 0) end,
              fun() -> bpf:insn(<<0:56>>) end, fun() -> bpf:insn({insn, 1, 2, 3}) end,
              fun() -> bpf:offset(4) end]].
