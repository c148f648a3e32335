%% @doc ICMP echo by hand, from an unprivileged VM: a raw ICMP socket from
%% the procket helper, the echo request built and checksummed in Erlang,
%% sent with procket:sendto/4, the reply awaited with enif_select
%% (procket:recvfrom_wait/3) and picked out of everything else the raw
%% socket sees. procket_ping does all this (and uses ICMP datagram sockets
%% when the system allows them); this is the low-level way.
%%
%% ```
%% 1> c("examples/icmp_ping.erl", [{outdir, "examples"}]).
%% 2> icmp_ping:ping({127,0,0,1}).
%% {ok,#{bytes => 64,rtt_us => 91,ttl => 64}}
%% 3> icmp_ping:ping({0,0,0,0,0,0,0,1}).
%% {ok,#{bytes => 64,rtt_us => 77}}
%% '''
-module(icmp_ping).

-export([ping/1, ping/2]).

-define(ECHO_REQUEST4, 8).
-define(ECHO_REPLY4, 0).
-define(ECHO_REQUEST6, 128).
-define(ECHO_REPLY6, 129).

-type reply() :: #{rtt_us := non_neg_integer(), bytes := non_neg_integer(),
                   ttl => byte()}.

%% @doc `ping(Address, [])'.
-spec ping(inet:ip_address()) -> {ok, reply()} | {error, atom()}.
ping(Address) ->
    ping(Address, []).

%% @doc One echo request to `Address' (an IPv4 or IPv6 tuple), waiting at
%% most `timeout' ms (default 1000) for the reply. Other options go to
%% procket:open/2 (e.g. `{progname, "sudo -n priv/procket"}').
-spec ping(inet:ip_address(), [{timeout, pos_integer()} | procket:option()]) ->
          {ok, reply()} | {error, atom()}.
ping(Address, Options) ->
    Timeout = proplists:get_value(timeout, Options, 1000),
    Open = proplists:delete(timeout, Options),
    {Family, Proto, Sockaddr} = target(Address),
    case procket:open(0, [{family, Family}, {type, raw}, {protocol, Proto} | Open]) of
        {ok, FD} ->
            {ok, H} = procket:handle(FD),          % H owns FD from here
            try exchange(H, Family, Sockaddr, Timeout)
            after procket:close_handle(H)
            end;
        {error, _} = Error ->
            Error
    end.

exchange(H, Family, Sockaddr, Timeout) ->
    Id = erlang:phash2(self(), 16#10000),
    Seq = erlang:unique_integer([positive]) band 16#ffff,
    Payload = <<"procket icmp example", 0:(8 * 36)>>,      % 56 bytes, as ping
    T0 = erlang:monotonic_time(microsecond),
    case procket:sendto(H, request(Family, Id, Seq, Payload), 0, Sockaddr) of
        ok ->
            Deadline = erlang:monotonic_time(millisecond) + Timeout,
            await(H, Family, Id, Seq, T0, Deadline);
        {ok, _Partial} ->
            {error, emsgsize};
        {error, _} = Error ->
            Error                               % e.g. enetunreach: no route
    end.

%% An IPv4 echo request carries its checksum; on an ICMPv6 socket the
%% kernel computes it (it covers a pseudo-header with the addresses).
request(inet, Id, Seq, Payload) ->
    Sum = packet:makesum(<<?ECHO_REQUEST4, 0, 0:16, Id:16, Seq:16, Payload/binary>>),
    <<?ECHO_REQUEST4, 0, Sum:16, Id:16, Seq:16, Payload/binary>>;
request(inet6, Id, Seq, Payload) ->
    <<?ECHO_REQUEST6, 0, 0:16, Id:16, Seq:16, Payload/binary>>.

%% A raw socket sees every ICMP message for the host: wait for ours.
await(H, Family, Id, Seq, T0, Deadline) ->
    Left = Deadline - erlang:monotonic_time(millisecond),
    case Left > 0 andalso procket:recvfrom_wait(H, 2048, Left) of
        false ->
            {error, timeout};
        {ok, Packet} ->
            case match(Family, Packet, Id, Seq) of
                {ok, Reply} ->
                    Rtt = erlang:monotonic_time(microsecond) - T0,
                    {ok, Reply#{rtt_us => Rtt}};
                other ->
                    await(H, Family, Id, Seq, T0, Deadline)
            end;
        {error, _} = Error ->
            Error
    end.

%% IPv4 raw sockets return the IP header too; ICMPv6 ones do not.
match(inet, <<4:4, IHL:4, _:8/binary, _/binary>> = Packet, Id, Seq) ->
    HeaderLen = IHL * 4,
    case Packet of
        <<_:8/binary, TTL, _:(HeaderLen - 9)/binary,
          ?ECHO_REPLY4, 0, _Sum:16, Id:16, Seq:16, _/binary>> ->
            {ok, #{ttl => TTL, bytes => byte_size(Packet) - HeaderLen}};
        _ ->
            other
    end;
match(inet6, <<?ECHO_REPLY6, 0, _Sum:16, Id:16, Seq:16, _/binary>> = Packet, Id, Seq) ->
    {ok, #{bytes => byte_size(Packet)}};
match(_, _, _, _) ->
    other.

target({A, B, C, D} = IP) ->
    true = lists:all(fun(X) -> is_integer(X) andalso X >= 0 andalso X =< 255 end,
                     tuple_to_list(IP)),
    {inet, icmp, <<(procket:sockaddr_common(inet, 16))/binary, 0:16, A, B, C, D, 0:64>>};
target({_, _, _, _, _, _, _, _} = IP) ->
    Addr = << <<X:16>> || X <- tuple_to_list(IP) >>,
    {inet6, 'ipv6-icmp',
     <<(procket:sockaddr_common(inet6, 28))/binary, 0:16, 0:32, Addr/binary, 0:32>>}.
