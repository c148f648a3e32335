%% @doc Turns the options of {@link procket:open/2} into a request.
%%
%% Pure functions, no side effects: the rules for defaults, names and
%% bad values live here, in one place, and are tested by EUnit. The
%% result is what {@link procket_nif:open/4} takes.
%%
%% Errors: a value procket can never accept (a port of 70000, a protocol
%% atom it does not know, an interface name of 40 bytes, a NUL byte in a
%% path) raises `error:badarg'. A family procket does not open returns
%% `{error, eafnosupport}'. A device named by path (`{dev, "..."}') is
%% the tun clone device for `"net/tun"' and `"/dev/net/tun"' (as a string
%% or binary), and `{error, eacces}' for any other path. Options
%% procket does not know are ignored, as existing callers pass options
%% meant for other libraries.
-module(procket_opts).

-export([parse/2, parse/3, family/1, type/1, protocol/1, split_command/1]).

-export_type([plan/0, request/0, family_name/0, type_name/0,
              protocol_name/0]).

-define(AF_INET, 2).
-define(AF_INET6, 10).
-define(SOCK_STREAM, 1).
-define(SOCK_DGRAM, 2).
-define(SOCK_RAW, 3).
-define(AF_PACKET, 17).
-define(DEV_TUN, 1).
-define(DEV_TAP, 2).
-define(DEV_TUN_CLONE, 3).
-define(F_TUN_PI, 2).
-define(NETNS_MAX, 255).
-define(ETH_P_ALL, 16#0003).
-define(IPPROTO_TCP, 6).
-define(IPPROTO_UDP, 17).
-define(F_DUALSTACK, 1).
-define(IFNAME_MAX, 15).
-define(UNIX_PATH_MAX, 108).
-define(DEFAULT_TIMEOUT, 5000).
-include_lib("kernel/include/file.hrl").

-define(DEFAULT_EXEC, ["", "sudo -n"]).
%% where procket.socket (systemd) puts the broker's socket
-define(DEFAULT_BROKER, <<"/run/procket/procket.sock">>).

-type request() :: #{family := integer(), type := integer(),
                     protocol := 0..65535, port := 0..65535,
                     addr := binary(), scope_id := non_neg_integer(),
                     ifname := binary(), backlog := 0..65535,
                     flags := non_neg_integer(), netns := binary(),
                     device := 0..3}.
%% The request as the NIF takes it; integers are Linux's numbers.

-type family_name() :: inet | inet6 | unspec | local | unix | file
                     | netlink | packet.
-type type_name() :: stream | dgram | raw.
-type protocol_name() :: ip | icmp | tcp | udp | icmp6 | 'ipv6-icmp'
                       | sctp | udplite | raw.

-type plan() :: #{request := request(),
                  commands := [[binary(), ...], ...],
                  pipe := binary() | undefined,
                  broker := binary() | undefined,
                  broker_default := boolean(),
                  timeout := pos_integer()}.
%% A request and the helper commands to try, in order.

%% @doc Validates `Options' for a socket on `Port' and returns the plan:
%% the request, the helper command lines to try in order, the path
%% transport's socket path (or `undefined') and the timeout. The default
%% helper is {@link procket:helper_path/0}.
-spec parse(Port :: integer(), Options :: list()) ->
          {ok, plan()} | {error, eacces | eafnosupport}.
parse(Port, Options) ->
    parse(Port, Options, procket:helper_path()).

%% @doc As {@link parse/2}, with `Helper' as the default helper path,
%% used unless `{progname, Cmd}' is given.
-spec parse(integer(), list(), file:filename_all()) ->
          {ok, plan()} | {error, eacces | eafnosupport}.
parse(Port, Options, Helper) when is_integer(Port), Port >= 0, Port =< 65535 ->
    is_proper_list(Options) orelse erlang:error(badarg),
    case request(Port, Options) of
        {ok, Request} ->
            Commands = commands(opt(progname, Options), opt(exec, Options), Helper),
            Pipe = pipe(opt(pipe, Options)),
            HelperAsked = [K || K <- [progname, exec, pipe], opt(K, Options) =/= undefined] =/= [],
            {Broker, Default} = broker(opt(broker, Options), HelperAsked),
            {ok, #{request => Request#{netns => netns(opt(namespace, Options))},
                   commands => Commands,
                   pipe => Pipe,
                   broker => Broker,
                   broker_default => Default,
                   timeout => helper_timeout(opt(helper_timeout, Options))}};
        Error ->
            Error
    end;
parse(_, _, _) ->
    erlang:error(badarg).

request(Port, Options) ->
    case opt(dev, Options) of
        undefined -> socket_request(Port, Options);
        Dev -> device_request(Port, Dev, Options)
    end.

socket_request(Port, Options) ->
    {Addr0, AddrFamily} = ip(opt(ip, Options)),
    Family = pick_family(opt(family, Options), AddrFamily),
    Addr = case {Addr0, Family} of
               {loopback, ?AF_INET6} -> <<0:120, 1>>;
               {loopback, _} -> <<127, 0, 0, 1>>;
               _ -> Addr0
           end,
    case Family of
        F when F =:= ?AF_INET; F =:= ?AF_INET6 ->
            {Type, Protocol} = type_and_protocol(opt(type, Options),
                                                 opt(protocol, Options)),
            {ok, (base())#{family => Family, type => Type, protocol => Protocol,
                           port => Port, addr => Addr,
                           ifname => interface(opt(interface, Options)),
                           backlog => backlog(opt(backlog, Options), Type),
                           flags => flags(opt(ipv6_v6only, Options), Family,
                                          Type)}};
        ?AF_PACKET ->
            packet_request(Port, Options);
        _ ->
            {error, eafnosupport}
    end.

%% A packet socket: no port, no address; the protocol is the ethertype.
packet_request(0, Options) ->
    [erlang:error(badarg) || K <- [ip, backlog, ipv6_v6only], opt(K, Options) =/= undefined],
    Type = case opt(type, Options) of
               undefined -> ?SOCK_RAW;
               T -> type(T)
           end,
    (Type =:= ?SOCK_RAW orelse Type =:= ?SOCK_DGRAM) orelse erlang:error(badarg),
    {ok, (base())#{family => ?AF_PACKET, type => Type,
                   protocol => ethertype(opt(protocol, Options)),
                   ifname => interface(opt(interface, Options))}};
packet_request(_, _) ->
    erlang:error(badarg).

%% A tun or tap device: port 0, no socket options, a name or none.
device_request(0, Dev, Options) ->
    [erlang:error(badarg) || K <- [ip, backlog, ipv6_v6only, interface, family, type,
                                   protocol],
                             opt(K, Options) =/= undefined],
    case device(Dev) of
        {ok, Kind, Name} ->
            Flags = case opt(packet_info, Options) of
                        undefined -> 0;
                        false -> 0;
                        true when Kind =/= ?DEV_TUN_CLONE -> ?F_TUN_PI;
                        _ -> erlang:error(badarg)   % the clone: IFF_NO_PI is the caller's
                    end,
            {ok, (base())#{family => 0, type => 0, protocol => 0, device => Kind,
                           ifname => Name, flags => Flags}};
        Error ->
            Error
    end;
device_request(_, _, _) ->
    erlang:error(badarg).

device(tun) -> {ok, ?DEV_TUN, <<>>};
device(tap) -> {ok, ?DEV_TAP, <<>>};
device({tun, Name}) -> {ok, ?DEV_TUN, interface(Name)};
device({tap, Name}) -> {ok, ?DEV_TAP, interface(Name)};
device(Path) when is_list(Path); is_binary(Path) ->
    case text_binary(Path) of
        <<"net/tun">> -> {ok, ?DEV_TUN_CLONE, <<>>};
        <<"/dev/net/tun">> -> {ok, ?DEV_TUN_CLONE, <<>>};
        _ -> {error, eacces}   % other character devices: never
    end;
device(_) -> erlang:error(badarg).

base() ->
    #{family => ?AF_INET, type => ?SOCK_STREAM, protocol => 0, port => 0,
      addr => <<>>, scope_id => 0, ifname => <<>>, backlog => 0, flags => 0,
      netns => <<>>, device => 0}.

%% What socket(2) takes for a packet socket: the ethertype in network
%% byte order. Names are converted; a number is passed on as it is (as
%% older callers pass htons(ETH_P_IP), e.g. 16#0008 on little-endian).
ethertype(undefined) -> htons(?ETH_P_ALL);
ethertype(all) -> htons(?ETH_P_ALL);
ethertype(ip) -> htons(16#0800);
ethertype(arp) -> htons(16#0806);
ethertype(ipv6) -> htons(16#86DD);
ethertype(N) when is_integer(N), N >= 0, N =< 16#ffff -> N;
ethertype(_) -> erlang:error(badarg).

htons(N) ->
    <<V:16/native>> = <<N:16/big>>,
    V.

%% A name ip netns accepts that is a plain file name in /run/netns.
netns(undefined) ->
    <<>>;
netns(Name) ->
    %% the older library took the path `ip netns' keeps it at: the same
    %% namespace, by its name
    Bin = case text_binary(Name) of
              <<"/run/netns/", N/binary>> -> N;
              <<"/var/run/netns/", N/binary>> -> N;
              N -> N
          end,
    Ok = byte_size(Bin) >= 1 andalso byte_size(Bin) =< ?NETNS_MAX
        andalso binary:first(Bin) =/= $. andalso binary:first(Bin) =/= $-
        andalso lists:all(fun(C) -> (C >= $a andalso C =< $z) orelse
                                        (C >= $A andalso C =< $Z) orelse
                                        (C >= $0 andalso C =< $9) orelse
                                        C =:= $_ orelse C =:= $- orelse C =:= $.
                          end, binary_to_list(Bin)),
    Ok orelse erlang:error(badarg),
    Bin.

opt(Key, Options) ->
    proplists:get_value(Key, Options).

is_proper_list([_ | T]) -> is_proper_list(T);
is_proper_list([]) -> true;
is_proper_list(_) -> false.

%% @doc The address family number for a name or number. Raises badarg for
%% anything else.
-spec family(family_name() | byte()) -> byte().
family(inet) -> ?AF_INET;
family(inet6) -> ?AF_INET6;
family(unspec) -> 0;
family(F) when F =:= local; F =:= unix; F =:= file -> 1;
family(netlink) -> 16;
family(packet) -> 17;
family(N) when is_integer(N), N >= 0, N =< 255 -> N;
family(_) -> erlang:error(badarg).

%% @doc The socket type number for a name or number. Raises badarg for
%% anything else.
-spec type(type_name() | byte()) -> byte().
type(stream) -> ?SOCK_STREAM;
type(dgram) -> ?SOCK_DGRAM;
type(raw) -> ?SOCK_RAW;
type(N) when is_integer(N), N >= 0, N =< 255 -> N;
type(_) -> erlang:error(badarg).

%% @doc The protocol number for a name (as in /etc/protocols) or number.
%% Raises badarg for anything else.
-spec protocol(protocol_name() | byte()) -> byte().
protocol(ip) -> 0;
protocol(icmp) -> 1;
protocol(tcp) -> 6;
protocol(udp) -> 17;
protocol(icmp6) -> 58;
protocol('ipv6-icmp') -> 58;
protocol(sctp) -> 132;
protocol(udplite) -> 136;
protocol(raw) -> 255;
protocol(N) when is_integer(N), N >= 0, N =< 255 -> N;
protocol(_) -> erlang:error(badarg).

pick_family(undefined, undefined) -> ?AF_INET;
pick_family(undefined, AddrFamily) -> AddrFamily;
pick_family(F, AddrFamily) ->
    Family = family(F),
    case AddrFamily of
        undefined -> Family;
        Family -> Family;
        _ -> erlang:error(badarg)   % {ip, "::1"} with {family, inet}
    end.

%% The type follows the protocol and the protocol the type when only one
%% is given: udp <-> dgram, tcp <-> stream, other protocols are raw.
type_and_protocol(undefined, undefined) -> {?SOCK_STREAM, ?IPPROTO_TCP};
type_and_protocol(T, undefined) ->
    Type = type(T),
    {Type, case Type of
               ?SOCK_STREAM -> ?IPPROTO_TCP;
               ?SOCK_DGRAM -> ?IPPROTO_UDP;
               _ -> 0
           end};
type_and_protocol(undefined, P) ->
    Protocol = protocol(P),
    {case Protocol of
         ?IPPROTO_TCP -> ?SOCK_STREAM;
         132 -> ?SOCK_STREAM;
         ?IPPROTO_UDP -> ?SOCK_DGRAM;
         136 -> ?SOCK_DGRAM;
         _ -> ?SOCK_RAW
     end, Protocol};
type_and_protocol(T, P) ->
    case {type(T), protocol(P)} of
        {Type, _} when Type =/= ?SOCK_STREAM, Type =/= ?SOCK_DGRAM,
                       Type =/= ?SOCK_RAW ->
            erlang:error(badarg);
        TP ->
            TP
    end.

ip(undefined) ->
    {<<>>, undefined};
ip(any) ->          % as gen_tcp and gen_udp: the wildcard address
    {<<>>, undefined};
ip(loopback) ->     % as gen_tcp and gen_udp: of the socket's family
    {loopback, undefined};
ip({A, B, C, D} = IP) ->
    inet:is_ipv4_address(IP) orelse erlang:error(badarg),
    {<<A, B, C, D>>, ?AF_INET};
ip({_, _, _, _, _, _, _, _} = IP) ->
    inet:is_ipv6_address(IP) orelse erlang:error(badarg),
    {<<<<W:16>> || W <- tuple_to_list(IP)>>, ?AF_INET6};
ip(S) when is_list(S); is_binary(S) ->
    case catch inet:parse_strict_address(text(S)) of
        {ok, IP} -> ip(IP);
        _ -> erlang:error(badarg)
    end;
ip(_) ->
    erlang:error(badarg).

interface(undefined) ->
    <<>>;
interface(Name) ->
    Bin = text_binary(Name),
    Ok = byte_size(Bin) >= 1 andalso byte_size(Bin) =< ?IFNAME_MAX
        andalso Bin =/= <<".">> andalso Bin =/= <<"..">>
        andalso binary:first(Bin) =/= $-
        andalso lists:all(fun(C) -> C > $\s andalso C < 16#7f
                                        andalso C =/= $/ andalso C =/= $:
                                        andalso C =/= $%
                          end, binary_to_list(Bin)),
    Ok orelse erlang:error(badarg),
    Bin.

backlog(undefined, _) -> 0;
backlog(N, ?SOCK_STREAM) when is_integer(N), N >= 0, N =< 65535 -> N;
backlog(_, _) -> erlang:error(badarg).

%% A raw socket has no IPv4 side: {ipv6_v6only, false} contradicts it.
flags(undefined, _, _) -> 0;
flags(true, ?AF_INET6, _) -> 0;
flags(false, ?AF_INET6, T) when T =/= ?SOCK_RAW -> ?F_DUALSTACK;
flags(B, F, _) when is_boolean(B), F =/= ?AF_INET6 -> 0;
flags(_, _, _) -> erlang:error(badarg).

%% {timeout, _} is not read: callers pass their own (a ping library's
%% reply timeout, in milliseconds or infinity).
helper_timeout(undefined) -> ?DEFAULT_TIMEOUT;
helper_timeout(infinity) -> 16#7fffffff;   % about 24.8 days
helper_timeout(N) when is_integer(N), N >= 1, N =< 16#7fffffff -> N;
helper_timeout(_) -> erlang:error(badarg).

%% {broker, Path}: the broker's socket; {broker, false}: none. Not given:
%% the application environment's `broker' (a path, or false), else the
%% broker at the default path when a socket is there, unless the options
%% ask for a helper (progname, exec, pipe). The second element says the
%% default was taken: a broker not listening there then leaves the
%% request to the helper.
broker(undefined, HelperAsked) ->
    case application:get_env(procket, broker) of
        {ok, Path} -> broker(Path, HelperAsked);
        undefined when HelperAsked -> {undefined, false};
        undefined -> default_broker()
    end;
broker(false, _) ->
    {undefined, false};
broker(Path, _) when is_atom(Path) ->
    erlang:error(badarg);
broker(Path, _) ->
    Bin = text_binary(Path),
    Bin =/= <<>> orelse erlang:error(badarg),
    Abs = filename:absname(Bin),
    byte_size(Abs) < ?UNIX_PATH_MAX orelse erlang:error(badarg),
    {Abs, false}.

default_broker() ->
    case file:read_link_info(?DEFAULT_BROKER) of
        {ok, #file_info{type = other}} ->
            case capable_root() of
                true -> {undefined, false};
                false -> {?DEFAULT_BROKER, true}
            end;
        _ ->
            {undefined, false}
    end.

%% A VM running as root with the network capabilities opens through the
%% helper, as root (everything it asks, as before a broker was there);
%% the broker would decide for it as for any user. Learned once.
capable_root() ->
    case persistent_term:get({?MODULE, capable_root}, undefined) of
        undefined ->
            C = capable_root(file:read_file("/proc/self/status")),
            persistent_term:put({?MODULE, capable_root}, C),
            C;
        C ->
            C
    end.

capable_root({ok, Status}) ->
    Field = fun(Name) ->
                    case re:run(Status, <<"\n", Name/binary, ":\\s+(\\w+)">>,
                                [{capture, all_but_first, binary}]) of
                        {match, [V]} -> V;
                        nomatch -> <<>>
                    end
            end,
    Net = (1 bsl 10) bor (1 bsl 12) bor (1 bsl 13),   % NET_BIND_SERVICE, NET_ADMIN, NET_RAW
    CapEff = try binary_to_integer(Field(<<"CapEff">>), 16) catch error:badarg -> 0 end,
    Field(<<"Uid">>) =:= <<"0">> andalso CapEff band Net =:= Net andalso initial_userns();
capable_root(_) ->
    false.

%% Root of the first user namespace (its uid_map is the identity), not of
%% one made by a user (unshare -Ur), whose capabilities reach nothing of
%% the host's.
initial_userns() ->
    case file:read_file("/proc/self/uid_map") of
        {ok, Map} -> string:lexemes(Map, " \n") =:= [<<"0">>, <<"0">>, <<"4294967295">>];
        _ -> false
    end.

pipe(undefined) ->
    undefined;
pipe(Path) ->
    Bin = text_binary(Path),
    Bin =/= <<>> orelse erlang:error(badarg),
    %% the helper runs in "/", so a relative path would name another file
    Abs = filename:absname(Bin),
    byte_size(Abs) < ?UNIX_PATH_MAX orelse erlang:error(badarg),
    Abs.

%% The command lines to try. With {progname, Cmd}: Cmd, prefixed by each
%% of {exec, Prefixes} if given. Without: the helper in priv/, run
%% directly and then through "sudo -n" (never prompting for a password),
%% or prefixed by each of {exec, Prefixes}.
commands(Progname, Exec, Helper) ->
    Prefixes = case {Progname, Exec} of
                   {undefined, undefined} -> ?DEFAULT_EXEC;
                   {_, undefined} -> [""];
                   {_, [_ | _] = L} ->
                       is_proper_list(L) orelse erlang:error(badarg),
                       L;
                   _ -> erlang:error(badarg)
               end,
    Base = case Progname of
               undefined -> [text_binary(Helper)];
               _ -> split_command(Progname)
           end,
    Base =/= [] orelse erlang:error(badarg),
    [split_command(P) ++ Base || P <- Prefixes].

%% @doc Splits a command such as "sudo priv/procket" into words at spaces
%% and tabs. No shell is involved: quotes, `$', `;' and backslashes are
%% ordinary characters. Raises badarg for a control character or a value
%% that is not text.
-spec split_command(iodata() | atom()) -> [binary()].
split_command(Cmd) ->
    Bin = text_binary(Cmd),
    lists:all(fun(C) -> C >= $\s orelse C =:= $\t end, binary_to_list(Bin))
        orelse erlang:error(badarg),
    [W || W <- binary:split(Bin, [<<" ">>, <<"\t">>], [global]), W =/= <<>>].

text(S) when is_binary(S) -> binary_to_list(S);
text(S) -> S.

%% A string, binary or atom as a binary without NUL bytes.
text_binary(A) when is_atom(A) ->
    text_binary(atom_to_binary(A, utf8));
text_binary(S) ->
    Bin = try unicode:characters_to_binary(S) of
              B when is_binary(B) -> B;
              _ -> erlang:error(badarg)
          catch
              _:_ -> erlang:error(badarg)
          end,
    binary:match(Bin, <<0>>) =:= nomatch orelse erlang:error(badarg),
    Bin.
