%% @doc Helpers for AF_PACKET (link layer) sockets on Linux: interface
%% index and name lookups, addresses of an interface, the ARP cache and
%% default gateway, binding, promiscuous mode and sending a frame out of
%% an interface.
%%
%% ```
%% {ok, S} = packet:socket(),                 % ETH_P_IP, via the helper
%% Ifindex = packet:ifindex(S, "eth0"),
%% ok = packet:bind(S, Ifindex),
%% {ok, Frame} = procket:recvfrom(S, 65535),
%% ok = packet:send(S, Ifindex, Frame).
%% '''
%%
%% The socket comes from the privileged helper (CAP_NET_RAW), which
%% grants it only where the policy allows (see procket.conf(5)). The
%% lookups (`ifindex/2', `ifname/2', `ipv4address/2', `macaddress/2') work
%% on any socket, an integer descriptor or a handle, and answer for the
%% network namespace the socket was created in. `arplookup/1', `gateway/0,1'
%% and `default_interface/0' read `/proc/net' as the VM sees it.
%%
%% The names, arities and successful results are those of msantos/procket's
%% `packet' module, so programs written for it keep working. Differences:
%% <ul>
%% <li>A lookup that fails returns `{error, Posix}' (e.g. `{error, enodev}'
%% for an unknown interface) where the old module crashed with a
%% `badmatch'; an interface name that cannot exist (empty, 16 bytes or
%% more, a NUL) raises `badarg'.</li>
%% <li>`arplookup/1' ignores incomplete entries (no hardware address yet)
%% instead of returning `{0,0,0,0,0,0}'.</li>
%% <li>`default_interface/0' lists the interfaces carrying a default
%% route, whether or not the gateway's hardware address is cached.</li>
%% <li>`makesum/1' pads an odd-length binary with a zero byte (RFC 1071);
%% the old one ignored the last byte.</li>
%% <li>`filter/2' and `unfilter/2' take the program as a binary (8 bytes
%% per instruction) or a list of instructions: 8-byte binaries, `#insn{}'
%% records of `bpf.hrl' or `{Code, Jt, Jf, K}' tuples; procket builds the
%% `struct sock_fprog' itself, so no address passes through the API. A
%% program that cannot be one (empty, more than 4096 instructions, a
%% field out of range) is `badarg'; the kernel's checks give `{error,
%% einval}'.</li>
%% </ul>
-module(packet).

-export([socket/0, socket/1, socket/2,
         iflist/0, default_interface/0,
         gateway/0, gateway/1, gateway_addr/1, arplookup/1,
         ifindex/2, ifname/2, ipv4address/2, macaddress/2,
         bind/2, bindtodevice/2, promiscuous/2, send/3,
         filter/2, unfilter/1, unfilter/2,
         makesum/1]).

-export_type([ifname/0, mac/0, ethertype/0, program/0]).

-type ifname() :: string() | binary().
%% An interface name: 1 to 15 bytes, no NUL.
-type mac() :: {byte(), byte(), byte(), byte(), byte(), byte()}.
-type ethertype() :: all | ip | ipv6 | arp | 0..16#ffff.
%% `all', `ip', `ipv6', `arp', or an ethertype in host byte order
%% (16#0800 for IPv4), as in `/usr/include/linux/if_ether.h'.

-type program() :: binary()
                 | [binary() | {insn, integer(), integer(), integer(), integer()}
                    | {integer(), integer(), integer(), integer()}].
%% A classic BPF program: the instructions as a binary, 8 bytes each in
%% native byte order (`struct sock_filter': code, jt, jf, k), or a list
%% of instructions, each an 8-byte binary, an `#insn{}' record of
%% `bpf.hrl' or a `{Code, Jt, Jf, K}' tuple.

-define(IFNAMSIZ, 16).
-define(SOL_SOCKET, 1).
-define(SO_DETACH_FILTER, 27).
-define(BPF_MAXINSNS, 4096).
-define(IFREQ_SIZE, 40).
-define(AF_INET, 2).
-define(ETH_P_IP, 16#0800).
%% struct packet_mreq: mr_type
-define(PACKET_MR_PROMISC, 1).
%% RTF_UP | RTF_GATEWAY in /proc/net/route
-define(RTF_UP, 16#1).
-define(RTF_GATEWAY, 16#2).
%% ATF_COM in /proc/net/arp: the hardware address is known
-define(ATF_COM, 16#2).

%% @doc `socket(16#0800)': a raw packet socket receiving IPv4 frames.
-spec socket() -> {ok, non_neg_integer()} | {error, procket:posix()}.
socket() ->
    socket(?ETH_P_IP).

%% @doc A raw AF_PACKET socket for frames of `Ethertype', from the
%% helper: `socket(Ethertype, [])'.
-spec socket(ethertype()) -> {ok, non_neg_integer()} | {error, procket:posix()}.
socket(Ethertype) ->
    socket(Ethertype, []).

%% @doc A raw AF_PACKET socket for frames of `Ethertype', with more
%% options for {@link procket:open/2}: `{interface, Name}' (bind to it),
%% `{type, dgram}' (frames without the link-layer header), `{namespace,
%% Name}', `progname', ...
-spec socket(ethertype(), [procket:option()]) ->
          {ok, non_neg_integer()} | {error, procket:posix()}.
socket(Ethertype, Options) when is_list(Options) ->
    Protocol = case Ethertype of
                   _ when is_atom(Ethertype) -> Ethertype;
                   _ when is_integer(Ethertype), Ethertype >= 0,
                          Ethertype =< 16#ffff ->
                       %% procket:open/2 takes socket(2)'s number
                       procket:ntohs(Ethertype);
                   _ -> erlang:error(badarg, [Ethertype, Options])
               end,
    %% the caller's options first: the first of a kind counts
    procket:open(0, Options ++ [{family, packet}, {type, raw}, {protocol, Protocol}]);
socket(Ethertype, Options) ->
    erlang:error(badarg, [Ethertype, Options]).

%% @doc The names of the network interfaces that have an IPv4 address,
%% as `inet:getiflist/0' gives them: `["lo", "eth0"]'.
-spec iflist() -> [string()] | {error, procket:posix()}.
iflist() ->
    case inet:getiflist() of
        {ok, Names} -> Names;
        {error, _} = Error -> Error
    end.

%% @doc The interfaces that carry an IPv4 default route (usually one;
%% none without a default route).
-spec default_interface() -> [string()].
default_interface() ->
    lists:usort([Dev || {Dev, _Gw} <- default_routes()]).

%% @doc `gateway([])': the first IPv4 default gateway, whichever the
%% interface.
-spec gateway() -> {ok, mac(), inet:ip4_address()} | false.
gateway() ->
    gateway([]).

%% @doc The hardware and IPv4 address of the default gateway reached
%% through interface `Dev' (`[]': any), or `false' if there is no such
%% route or its hardware address is not in the ARP cache.
-spec gateway(ifname() | []) -> {ok, mac(), inet:ip4_address()} | false.
gateway(Dev) ->
    case gateway_addr(Dev) of
        false ->
            false;
        IP ->
            case arplookup(IP) of
                false -> false;
                MAC -> {ok, MAC, IP}
            end
    end.

%% @doc The IPv4 address of the default gateway through `Dev' (`[]':
%% any), or `false'.
-spec gateway_addr(ifname() | []) -> inet:ip4_address() | false.
gateway_addr(Dev0) ->
    Dev = unicode:characters_to_list(Dev0),
    case [Gw || {D, Gw} <- default_routes(), Dev =:= [] orelse D =:= Dev] of
        [Gw | _] -> Gw;
        [] -> false
    end.

%% @doc The hardware address the ARP cache holds for `IP' (a tuple or a
%% string), or `false'.
-spec arplookup(inet:ip4_address() | string()) -> mac() | false.
arplookup({_, _, _, _} = IP) ->
    arplookup(inet:ntoa(IP));
arplookup(IP) when is_list(IP) ->
    Entries = [{Addr, MAC}
               || [Addr, _HwType, Flags, MAC | _] <- proc_table("/proc/net/arp"),
                  hex(Flags) band ?ATF_COM =/= 0],
    case lists:keyfind(IP, 1, Entries) of
        {_, MAC} -> parse_mac(MAC);
        false -> false
    end;
arplookup(Other) ->
    erlang:error(badarg, [Other]).

%% @doc The index of interface `Dev' (SIOCGIFINDEX), for {@link bind/2},
%% {@link send/3} and {@link promiscuous/2}.
-spec ifindex(procket_socket:socket(), ifname()) ->
          pos_integer() | {error, procket:posix()}.
ifindex(Socket, Dev) ->
    case ifreq(Socket, 'SIOCGIFINDEX', Dev, <<>>) of
        {ok, <<Index:32/native-signed, _/binary>>} -> Index;
        {error, _} = Error -> Error
    end.

%% @doc The name of the interface with index `Ifindex' (SIOCGIFNAME), as
%% a binary.
-spec ifname(procket_socket:socket(), integer()) -> binary() | {error, procket:posix()}.
ifname(Socket, Ifindex) when is_integer(Ifindex), Ifindex >= -16#80000000,
                             Ifindex =< 16#7fffffff ->
    Req = <<0:(?IFNAMSIZ * 8), Ifindex:32/native-signed,
            0:((?IFREQ_SIZE - ?IFNAMSIZ - 4) * 8)>>,
    case procket:ioctl(Socket, 'SIOCGIFNAME', Req) of
        {ok, <<Name:?IFNAMSIZ/binary, _/binary>>} ->
            hd(binary:split(Name, <<0>>));
        {ok, _} -> {error, eio};
        {error, _} = Error -> Error
    end;
ifname(Socket, Ifindex) ->
    erlang:error(badarg, [Socket, Ifindex]).

%% @doc The IPv4 address of interface `Dev' (SIOCGIFADDR); `{error,
%% eaddrnotavail}' if it has none.
-spec ipv4address(procket_socket:socket(), ifname()) ->
          inet:ip4_address() | {error, procket:posix()}.
ipv4address(Socket, Dev) ->
    case ifreq(Socket, 'SIOCGIFADDR', Dev, <<?AF_INET:16/native>>) of
        {ok, <<?AF_INET:16/native, _Port:16, A, B, C, D, _/binary>>} -> {A, B, C, D};
        {ok, _} -> {error, eafnosupport};
        {error, _} = Error -> Error
    end.

%% @doc The hardware address of interface `Dev' (SIOCGIFHWADDR).
-spec macaddress(procket_socket:socket(), ifname()) -> mac() | {error, procket:posix()}.
macaddress(Socket, Dev) ->
    case ifreq(Socket, 'SIOCGIFHWADDR', Dev, <<>>) of
        {ok, <<_Family:16, A, B, C, D, E, F, _/binary>>} -> {A, B, C, D, E, F};
        {error, _} = Error -> Error
    end.

%% @doc Binds a packet socket to the interface with index `Ifindex': it
%% then sees that interface's frames only.
-spec bind(procket_socket:socket(), integer()) -> ok | {error, procket:posix()}.
bind(Socket, Ifindex) ->
    procket:bind(Socket, sockaddr_ll(Ifindex)).

%% @doc SO_BINDTODEVICE: the same as the `{interface, Dev}' option of
%% {@link procket:open/2}, but done by the VM. Since Linux 5.7 an
%% unprivileged process may bind a socket that is not bound to a device
%% yet; changing an existing binding (and any binding on older kernels)
%% needs CAP_NET_RAW: `{error, eperm}', ask the helper for `{interface,
%% Dev}' instead.
-spec bindtodevice(procket_socket:socket(), ifname()) -> ok | {error, procket:posix()}.
bindtodevice(Socket, Dev) ->
    procket:setsockopt(Socket, 'SOL_SOCKET', 'SO_BINDTODEVICE', ifname_field(Dev)).

%% @doc Puts interface `Ifindex' in promiscuous mode for as long as the
%% socket is open (PACKET_ADD_MEMBERSHIP, PACKET_MR_PROMISC).
-spec promiscuous(procket_socket:socket(), integer()) -> ok | {error, procket:posix()}.
promiscuous(Socket, Ifindex) when is_integer(Ifindex), Ifindex >= -16#80000000,
                                  Ifindex =< 16#7fffffff ->
    Mreq = <<Ifindex:32/native-signed, ?PACKET_MR_PROMISC:16/native, 0:16, 0:64>>,
    procket:setsockopt(Socket, 'SOL_PACKET', 'PACKET_ADD_MEMBERSHIP', Mreq);
promiscuous(Socket, Ifindex) ->
    erlang:error(badarg, [Socket, Ifindex]).

%% @doc Sends the frame `Packet' (link-layer header included, for a raw
%% socket) out of the interface with index `Ifindex'. The result is
%% {@link procket:sendto/4}'s.
-spec send(procket_socket:socket(), integer(), iodata()) ->
          ok | {ok, non_neg_integer()} | {error, procket:posix()}.
send(Socket, Ifindex, Packet) ->
    case procket:sendto(Socket, Packet, 0, sockaddr_ll(Ifindex)) of
        {error, unsupported} -> {error, einval};  % cannot happen: flags are 0
        Result -> Result
    end.

%% @doc Attaches the socket filter `Program' (classic BPF) to `Socket',
%% any socket (a packet socket, a UDP socket, ...), replacing the one it
%% had: the socket then receives only what the program accepts. Returns
%% the program as attached (the instructions, 8 bytes each). A filter the
%% helper locked on a packet socket (a rule naming an interface or an
%% ethertype) cannot be replaced: `{error, eperm}'.
%% ```
%% -include_lib("procket/include/bpf.hrl").
%% %% accept nothing
%% {ok, _} = packet:filter(S, [?BPF_STMT(?BPF_RET + ?BPF_K, 0)]).
%% '''
-spec filter(procket_socket:socket(), program()) ->
          {ok, binary()} | {error, procket:posix()}.
filter(Socket, Program) ->
    Bin = program(Program),
    case procket_nif:sock_attach_filter(Socket, Bin) of
        ok -> {ok, Bin};
        {error, _} = Error -> Error
    end.

%% @doc Removes the socket filter of `Socket' (SO_DETACH_FILTER):
%% `{error, enoent}' if it has none, `{error, eperm}' if it is locked.
-spec unfilter(procket_socket:socket()) -> ok | {error, procket:posix()}.
unfilter(Socket) ->
    case procket_socket:setsockopt(Socket, ?SOL_SOCKET, ?SO_DETACH_FILTER, <<0:32>>) of
        {error, unsupported} -> {error, einval};  % cannot happen: known names
        Result -> Result
    end.

%% @doc {@link unfilter/1}, as the older module's `unfilter/2', called
%% with the program that was attached: it is checked as {@link filter/2}
%% checks it, and returned.
-spec unfilter(procket_socket:socket(), program()) ->
          {ok, binary()} | {error, procket:posix()}.
unfilter(Socket, Program) ->
    Bin = program(Program),
    case unfilter(Socket) of
        ok -> {ok, Bin};
        {error, _} = Error -> Error
    end.

program(Bin) when is_binary(Bin) ->
    program_size(Bin);
program(Insns) when is_list(Insns) ->
    try length(Insns) of
        _ -> program_size(<< <<(insn(I))/binary>> || I <- Insns >>)
    catch
        error:badarg -> erlang:error(badarg)   % an improper list
    end;
program(_) ->
    erlang:error(badarg).

program_size(Bin) when byte_size(Bin) > 0, byte_size(Bin) rem 8 =:= 0,
                       byte_size(Bin) =< ?BPF_MAXINSNS * 8 ->
    Bin;
program_size(_) ->
    erlang:error(badarg).

insn(<<_:8/binary>> = I) -> I;
insn({insn, Code, Jt, Jf, K}) -> insn({Code, Jt, Jf, K});
insn({Code, Jt, Jf, K}) when is_integer(Code), Code >= 0, Code =< 16#ffff,
                             is_integer(Jt), Jt >= 0, Jt =< 255,
                             is_integer(Jf), Jf >= 0, Jf =< 255,
                             is_integer(K), K >= -16#80000000, K =< 16#ffffffff ->
    <<Code:16/native, Jt:8, Jf:8, K:32/native>>;
insn(_) ->
    erlang:error(badarg).

%% @doc The Internet checksum (RFC 1071) of `Hdr', ready to be put in an
%% IPv4, ICMP, UDP or TCP header; see {@link procket_icmp:checksum/1}.
-spec makesum(binary()) -> 0..16#ffff.
makesum(Hdr) when is_binary(Hdr) ->
    procket_icmp:checksum(Hdr);
makesum(Other) ->
    erlang:error(badarg, [Other]).

%% --- internal ---------------------------------------------------------

%% struct sockaddr_ll, for interface Ifindex, any protocol
sockaddr_ll(Ifindex) when is_integer(Ifindex), Ifindex >= -16#80000000,
                          Ifindex =< 16#7fffffff ->
    <<(procket:sockaddr_common(packet, 20))/binary, 0:16,
      Ifindex:32/native-signed, 0:16, 0:8, 0:8, 0:64>>;
sockaddr_ll(Ifindex) ->
    erlang:error(badarg, [Ifindex]).

%% A struct ifreq for Dev with Data after the name; returns what the
%% kernel wrote after the name.
ifreq(Socket, Request, Dev, Data) ->
    Name = ifname_field(Dev),
    Req = <<Name/binary, Data/binary,
            0:((?IFREQ_SIZE - ?IFNAMSIZ - byte_size(Data)) * 8)>>,
    case procket:ioctl(Socket, Request, Req) of
        {ok, <<_:?IFNAMSIZ/binary, Rest/binary>>} -> {ok, Rest};
        {ok, _} -> {error, eio};
        {error, unsupported} -> {error, enotsup};
        {error, _} = Error -> Error
    end.

%% The name NUL-padded to IFNAMSIZ bytes; badarg for a name no
%% interface can have.
ifname_field(Dev) ->
    Name = try unicode:characters_to_binary(Dev) of
               B when is_binary(B) -> B;
               _ -> erlang:error(badarg, [Dev])
           catch
               error:_ -> erlang:error(badarg, [Dev])
           end,
    case byte_size(Name) of
        N when N >= 1, N < ?IFNAMSIZ ->
            case binary:match(Name, <<0>>) of
                nomatch -> <<Name/binary, 0:((?IFNAMSIZ - N) * 8)>>;
                _ -> erlang:error(badarg, [Dev])
            end;
        _ ->
            erlang:error(badarg, [Dev])
    end.

%% IPv4 default routes from /proc/net/route, in table order:
%% [{Interface, Gateway}]. The kernel prints addresses as the 32-bit
%% value in host byte order.
default_routes() ->
    [{Dev, addr(Gw)}
     || [Dev, Dst, Gw, Flags, _Ref, _Use, _Metric, Mask | _] <- proc_table("/proc/net/route"),
        hex(Dst) =:= 0, hex(Mask) =:= 0,
        hex(Flags) band (?RTF_UP bor ?RTF_GATEWAY) =:= (?RTF_UP bor ?RTF_GATEWAY)].

addr(Hex) ->
    <<A, B, C, D>> = <<(hex(Hex)):32/native>>,
    {A, B, C, D}.

%% The lines of a /proc/net table after its header, split into fields.
proc_table(Path) ->
    case file:read_file(Path) of
        {ok, Bin} ->
            case string:lexemes(binary_to_list(Bin), "\n") of
                [_Header | Lines] -> [string:lexemes(L, " \t") || L <- Lines];
                [] -> []
            end;
        {error, _} ->
            []
    end.

hex("0x" ++ Digits) -> hex(Digits);
hex(Digits) ->
    try list_to_integer(Digits, 16) catch error:badarg -> -1 end.

parse_mac(Text) ->
    try [list_to_integer(H, 16) || H <- string:split(Text, ":", all)] of
        [A, B, C, D, E, F] = L ->
            case lists:all(fun(X) -> X >= 0 andalso X =< 255 end, L) of
                true -> {A, B, C, D, E, F};
                false -> false
            end;
        _ -> false
    catch
        error:badarg -> false
    end.
