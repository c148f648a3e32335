%% @doc ICMP echo ("ping") from an unprivileged VM, IPv4 and IPv6.
%%
%% ```
%% 1> procket_ping:ping("127.0.0.1").
%% {ok,#{address => {127,0,0,1},sent => 1,received => 1,rtt_us => [48]}}
%% 2> procket_ping:ping(["::1", "localhost", {127,0,0,2}], [{count, 3}]).
%% [{"::1",{ok,#{...}}}, {"localhost",{ok,#{...}}}, {{127,0,0,2},{ok,#{...}}}]
%% '''
%%
%% The socket: an ICMP datagram socket when the system allows them to this
%% user (`net.ipv4.ping_group_range', which covers ICMPv6 too), created by
%% the VM itself with no helper at all; otherwise a raw socket from the
%% procket helper (which needs CAP_NET_RAW only for the socket call). One
%% socket per address family serves all hosts of a call; requests to all
%% hosts go out together, so N hosts take about as long as one.
%%
%% Replies are matched on the source address and the sequence number (and,
%% on raw sockets, which see every ICMP message, the identifier), and
%% count only when whole: their payload as long as the request's. The
%% socket's receive buffers hold the largest reply the size implies. The
%% round-trip time is measured in the VM, from just before the send to the
%% arrival of the reply message.
-module(procket_ping).

-export([ping/1, ping/2]).

-export_type([host/0, option/0, result/0]).

-type host() :: inet:ip_address() | inet:hostname() | binary().

-type option() :: {count, pos_integer()}
                | {interval, non_neg_integer()}
                | {timeout, pos_integer()}
                | {size, 0..65000}
                | {family, inet | inet6}
                | {socket, auto | dgram | raw}
                | {procket, [procket:option()]}.
%% <dl>
%% <dt>`count'</dt><dd>Echo requests per host (default 1).</dd>
%% <dt>`interval'</dt><dd>Milliseconds between rounds (default 1000).</dd>
%% <dt>`timeout'</dt><dd>Milliseconds to wait for replies after the
%% last request (default 1000).</dd>
%% <dt>`size'</dt><dd>Payload bytes (default 56, at most 65000).</dd>
%% <dt>`family'</dt><dd>For host names: which address to look up
%% (default `inet').</dd>
%% <dt>`socket'</dt><dd>`dgram': an ICMP datagram socket only; `raw': a
%% raw socket from the helper only; `auto' (default): the first, else
%% the second.</dd>
%% <dt>`procket'</dt><dd>Options for {@link procket:open/2} when a raw
%% socket is needed, e.g. `[{progname, "sudo priv/procket"}]' or
%% `[{namespace, "blue"}]'.</dd>
%% </dl>

-type result() :: {ok, #{address := inet:ip_address(), sent := pos_integer(),
                         received := pos_integer(), rtt_us := [non_neg_integer()]}}
                | {error, timeout | inet:posix() | atom()}.
%% `{ok, Stats}' when at least one reply came back: the round-trip times
%% in microseconds, in the order the replies arrived. `{error, timeout}'
%% when none did; `{error, nxdomain}' and the like when the host name did
%% not resolve; `{error, Posix}' when no socket could be had.

-define(DEFAULTS, #{count => 1, interval => 1000, timeout => 1000, size => 56,
                    family => inet, socket => auto, procket => []}).
%% the longest timeout `receive ... after' takes, in milliseconds
-define(AFTER_MAX, 16#ffffffff).
%% gen_udp's default recbuf (SO_RCVBUF), the least procket_ping sets,
%% and the most it may set (an int; the kernel caps it at
%% net.core.rmem_max)
-define(RECBUF_MIN, 8192).
-define(RECBUF_MAX, 16#7fffffff).

%% @doc `ping(Hosts, [])'.
-spec ping(host() | [host()]) -> result() | [{host(), result()}].
ping(Hosts) ->
    ping(Hosts, []).

%% @doc Pings one host (returns its {@type result()}) or a list of hosts
%% (returns `[{Host, Result}]' in the same order), all concurrently.
%% Raises badarg for bad options or hosts, an improper list among them.
-spec ping(host() | [host()], [option()]) -> result() | [{host(), result()}].
ping(Hosts, Options) when is_list(Options) ->
    Opts = options(Options, ?DEFAULTS),
    case is_host_list(Hosts) of
        true ->
            Results = run([resolve(H, Opts) || H <- Hosts], Opts),
            lists:zip(Hosts, Results);
        false ->
            [Result] = run([resolve(Hosts, Opts)], Opts),
            Result
    end;
ping(_, _) ->
    erlang:error(badarg).

%% A string is a host name, not a list of hosts; an improper list of
%% hosts is badarg.
is_host_list([H | _]) when is_integer(H) -> false;
is_host_list(L) when is_list(L) -> is_proper_list(L) orelse erlang:error(badarg);
is_host_list(_) -> false.

is_proper_list([_ | T]) -> is_proper_list(T);
is_proper_list([]) -> true;
is_proper_list(_) -> false.

options([], Acc) ->
    Acc;
options([{count, N} | T], Acc) when is_integer(N), N >= 1, N =< 65535 ->
    options(T, Acc#{count := N});
options([{interval, N} | T], Acc) when is_integer(N), N >= 0 ->
    options(T, Acc#{interval := N});
options([{timeout, N} | T], Acc) when is_integer(N), N >= 1 ->
    options(T, Acc#{timeout := N});
options([{size, N} | T], Acc) when is_integer(N), N >= 0, N =< 65000 ->
    options(T, Acc#{size := N});
options([{family, F} | T], Acc) when F =:= inet; F =:= inet6 ->
    options(T, Acc#{family := F});
options([{socket, S} | T], Acc) when S =:= auto; S =:= dgram; S =:= raw ->
    options(T, Acc#{socket := S});
options([{procket, L} | T], Acc) when is_list(L) ->
    is_proper_list(L) orelse erlang:error(badarg),
    options(T, Acc#{procket := L});
options(_, _) ->
    erlang:error(badarg).

resolve(IP, _) when is_tuple(IP) ->
    case inet:is_ip_address(IP) of
        true -> {ok, IP};
        false -> erlang:error(badarg)
    end;
resolve(Name, #{family := Family}) when is_list(Name); is_binary(Name) ->
    %% a name as a list is a string: flat and proper
    Text = case is_binary(Name) orelse io_lib:char_list(Name) of
               true -> unicode:characters_to_list(Name);
               false -> erlang:error(badarg)
           end,
    is_list(Text) orelse erlang:error(badarg),
    case inet:parse_address(Text) of
        {ok, IP} -> {ok, IP};
        {error, _} -> inet:getaddr(Text, Family)
    end;
resolve(_, _) ->
    erlang:error(badarg).

family(IP) when tuple_size(IP) =:= 4 -> inet;
family(IP) when tuple_size(IP) =:= 8 -> inet6.

%% --- one call: sockets, rounds, replies ------------------------------

%% size: the payload bytes of the requests, which a whole reply carries
-record(sock, {family, kind, port, fd, size}).

run(Resolved, Opts) ->
    Indexed = lists:zip(lists:seq(1, length(Resolved)), Resolved),
    Targets = [{I, IP} || {I, {ok, IP}} <- Indexed],
    Families = lists:usort([family(IP) || {_, IP} <- Targets]),
    Socks = [{F, open_socket(F, Hosts, Opts)}
             || F <- Families,
                Hosts <- [length([IP || {_, IP} <- Targets, family(IP) =:= F])]],
    try
        Usable = maps:from_list([{F, S} || {F, {ok, S}} <- Socks]),
        Id = erlang:unique_integer([positive]) band 16#ffff,
        Stats = rounds(Targets, Usable, Id, Opts),
        [result(I, R, Stats, Socks) || {I, R} <- Indexed]
    after
        [close_socket(S) || {_, {ok, S}} <- Socks]
    end.

result(_, {error, _} = Error, _, _) ->
    Error;
result(I, {ok, IP}, Stats, Socks) ->
    case proplists:get_value(family(IP), Socks) of
        {error, _} = Error ->
            Error;
        {ok, _} ->
            #{I := #{sent := Sent, rtts := Rtts}} = Stats,
            case Rtts of
                [] -> {error, timeout};
                _ -> {ok, #{address => IP, sent => Sent,
                            received => length(Rtts),
                            rtt_us => lists:reverse(Rtts)}}
            end
    end.

%% Stats: #{Index => #{sent, rtts}}; Pending: #{{Family, Seq} => {Index, IP, T0}}.
rounds(Targets, Socks, Id, #{count := Count} = Opts) ->
    Live = [{I, IP} || {I, IP} <- Targets, maps:is_key(family(IP), Socks)],
    Stats0 = maps:from_list([{I, #{sent => 0, rtts => []}} || {I, _} <- Live]),
    Payload = payload(maps:get(size, Opts)),
    round(0, Count, Live, Socks, Id, Payload, Stats0, #{}, Opts).

round(R, Count, Live, Socks, Id, Payload, Stats, Pending, Opts) when R < Count ->
    {Stats1, Pending1} =
        lists:foldl(
          fun({I, IP}, {St, Pe}) ->
                  Seq = (R * length(Live) + I) band 16#ffff,
                  Sock = maps:get(family(IP), Socks),
                  T0 = erlang:monotonic_time(microsecond),
                  Msg = procket_icmp:echo_request(family(IP), Id, Seq, Payload),
                  case gen_udp:send(Sock#sock.port, IP, 0, Msg) of
                      ok ->
                          {maps:update_with(I, fun(M = #{sent := N}) -> M#{sent := N + 1} end, St),
                           Pe#{{family(IP), Seq} => {I, IP, T0}}};
                      {error, _} ->
                          {maps:update_with(I, fun(M = #{sent := N}) -> M#{sent := N + 1} end, St),
                           Pe}
                  end
          end, {Stats, Pending}, Live),
    Wait = case R + 1 < Count of
               true -> maps:get(interval, Opts);
               false -> maps:get(timeout, Opts)
           end,
    Deadline = erlang:monotonic_time(millisecond) + Wait,
    {Stats2, Pending2} = collect(Socks, Id, Stats1, Pending1, Deadline),
    round(R + 1, Count, Live, Socks, Id, Payload, Stats2, Pending2, Opts);
round(_, _, _, _, _, _, Stats, _, _) ->
    Stats.

%% Replies until the deadline (or until nothing is pending).
collect(_, _, Stats, Pending, _) when map_size(Pending) =:= 0 ->
    {Stats, Pending};
collect(Socks, Id, Stats, Pending, Deadline) ->
    Left = max(0, Deadline - erlang:monotonic_time(millisecond)),
    %% `after' takes at most ?AFTER_MAX ms: a longer wait goes in steps
    receive
        {udp, Port, From, _, Packet} ->
            T1 = erlang:monotonic_time(microsecond),
            case [S || S <- maps:values(Socks), S#sock.port =:= Port] of
                [Sock] ->
                    {Stats1, Pending1} = match(Sock, Id, From, Packet, T1, Stats, Pending),
                    collect(Socks, Id, Stats1, Pending1, Deadline);
                [] ->
                    collect(Socks, Id, Stats, Pending, Deadline)
            end
    after min(Left, ?AFTER_MAX) ->
            case Left > ?AFTER_MAX of
                true -> collect(Socks, Id, Stats, Pending, Deadline);
                false -> {Stats, Pending}
            end
    end.

%% Only a whole reply counts (procket_icmp:echo_reply/4).
match(#sock{family = Family, kind = Kind, size = Size}, Id, From, Packet, T1,
      Stats, Pending) ->
    case procket_icmp:echo_reply(Family, Kind, Packet, Size) of
        %% a datagram socket's identifier is the kernel's, not ours
        {ok, RId, Seq} when Kind =:= dgram; RId =:= Id ->
            case maps:take({Family, Seq}, Pending) of
                {{I, From, T0}, Pending1} ->
                    Stats1 = maps:update_with(
                               I, fun(M = #{rtts := L}) -> M#{rtts := [T1 - T0 | L]} end,
                               Stats),
                    {Stats1, Pending1};
                _ ->
                    {Stats, Pending}
            end;
        _ ->
            {Stats, Pending}
    end.

payload(Size) ->
    << <<(C rem 256)>> || C <- lists:seq(0, Size - 1) >>.

%% --- sockets ---------------------------------------------------------

%% A socket for the requests to Hosts hosts of Family.
open_socket(Family, Hosts, #{socket := Kind} = Opts) ->
    case Kind of
        dgram -> dgram_socket(Family, Hosts, Opts);
        raw -> raw_socket(Family, Hosts, Opts);
        auto ->
            case dgram_socket(Family, Hosts, Opts) of
                {ok, _} = Ok -> Ok;
                {error, _} -> raw_socket(Family, Hosts, Opts)
            end
    end.

proto(inet) -> icmp;
proto(inet6) -> 'ipv6-icmp'.

%% An ICMP datagram socket, made by the VM itself: allowed when the
%% caller's group is in net.ipv4.ping_group_range.
dgram_socket(Family, Hosts, #{size := Size}) ->
    case procket:socket(Family, dgram, proto(Family)) of
        {ok, FD} -> adopt(Family, dgram, FD, Hosts, Size);
        {error, _} = Error -> Error
    end.

raw_socket(Family, Hosts, #{procket := Extra, size := Size}) ->
    case procket:open(0, [{family, Family}, {type, raw}, {protocol, proto(Family)}
                          | Extra]) of
        {ok, FD} -> adopt(Family, raw, FD, Hosts, Size);
        {error, _} = Error -> Error
    end.

%% gen_udp reads and writes the ICMP socket for us: {active, true}
%% messages, no polling. Its defaults (8192 bytes each) are too small for
%% large replies: `buffer' is what one read takes (a longer datagram comes
%% cut short) and `recbuf' what the kernel queues (SO_RCVBUF; it drops a
%% reply that finds the queue full). So `buffer' is the largest reply,
%% and `recbuf' holds the replies of a round from all hosts at once and,
%% on a raw socket, the requests to local addresses, which it receives
%% too.
adopt(Family, Kind, FD, Hosts, Size) ->
    Buffer = procket_icmp:reply_size(Family, Kind, Size),
    Recbuf = min(max(?RECBUF_MIN, 2 * Hosts * Buffer), ?RECBUF_MAX),
    case gen_udp:open(0, [{fd, FD}, binary, Family, {active, true},
                          {recbuf, Recbuf}, {buffer, Buffer}]) of
        {ok, Port} ->
            {ok, #sock{family = Family, kind = Kind, port = Port, fd = FD,
                       size = Size}};
        {error, _} = Error ->
            _ = procket:close(FD),
            Error
    end.

close_socket(#sock{port = Port, fd = FD}) ->
    _ = gen_udp:close(Port),
    _ = procket:close(FD),   % gen_udp leaves an adopted descriptor open
    flush(Port).

flush(Port) ->
    receive {udp, Port, _, _, _} -> flush(Port)
    after 0 -> ok
    end.
