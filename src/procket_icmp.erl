%% @doc ICMP and ICMPv6 echo messages: building requests, reading replies.
%%
%% Pure functions, used by {@link procket_ping}. Echo requests carry an
%% identifier, a sequence number and a payload; IPv4 requests carry their
%% checksum (RFC 792), IPv6 ones a zero checksum, which the kernel fills
%% in on ICMPv6 sockets (it must: the checksum covers a pseudo-header
%% with addresses only the kernel knows, RFC 4443).
%%
%% What a socket delivers depends on its kind: an IPv4 raw socket gives
%% the IP header too, an ICMP datagram socket and any ICMPv6 socket give
%% the ICMP message only. {@link parse/3} takes the kind;
%% {@link reply_size/3} says how large a receive buffer must be for a
%% reply to arrive whole, and {@link echo_reply/4} accepts only whole
%% replies.
-module(procket_icmp).

-export([echo_request/4, parse/3, echo_reply/4, reply_size/3, checksum/1]).

-export_type([family/0, kind/0, message/0]).

-type family() :: inet | inet6.
-type kind() :: raw | dgram.
%% How the socket was made: `raw' (SOCK_RAW) or `dgram' (an ICMP datagram
%% socket, `net.ipv4.ping_group_range').

-type message() :: {echo_reply, Id :: 0..16#ffff, Seq :: 0..16#ffff,
                    Payload :: binary()}
                 | {echo_request, Id :: 0..16#ffff, Seq :: 0..16#ffff,
                    Payload :: binary()}
                 | {other, Type :: byte(), Code :: byte(), Body :: binary()}.
%% A parsed ICMP message. Anything but an echo is `other'.

-define(ECHO_REQUEST4, 8).
-define(ECHO_REPLY4, 0).
-define(ECHO_REQUEST6, 128).
-define(ECHO_REPLY6, 129).
-define(IS_U16(X), (is_integer(X) andalso X >= 0 andalso X =< 16#ffff)).
-define(IS_FAMILY(F), (F =:= inet orelse F =:= inet6)).
-define(IS_KIND(K), (K =:= raw orelse K =:= dgram)).
%% the ICMP echo header: type, code, checksum, identifier, sequence number
-define(ECHO_HEADER, 8).
%% the longest IPv4 header: IHL 15, 40 bytes of options
-define(IP4_HEADER_MAX, 60).

%% @doc An echo request for `Family' with identifier `Id', sequence
%% number `Seq' and `Payload'. Raises badarg for values out of range.
-spec echo_request(family(), 0..16#ffff, 0..16#ffff, binary()) -> binary().
echo_request(inet, Id, Seq, Payload) when ?IS_U16(Id), ?IS_U16(Seq),
                                            is_binary(Payload) ->
    Sum = checksum(<<?ECHO_REQUEST4, 0, 0:16, Id:16, Seq:16, Payload/binary>>),
    <<?ECHO_REQUEST4, 0, Sum:16, Id:16, Seq:16, Payload/binary>>;
echo_request(inet6, Id, Seq, Payload) when ?IS_U16(Id), ?IS_U16(Seq),
                                             is_binary(Payload) ->
    <<?ECHO_REQUEST6, 0, 0:16, Id:16, Seq:16, Payload/binary>>;
echo_request(_, _, _, _) ->
    erlang:error(badarg).

%% @doc Parses what a socket of `Family' and `Kind' received. Returns
%% `{ok, Message}', or `{error, malformed}' for something too short, with
%% a bad IPv4 header or (IPv4) a wrong checksum.
-spec parse(family(), kind(), binary()) -> {ok, message()} | {error, malformed}.
parse(inet, raw, <<4:4, IHL:4, _/binary>> = Packet)
  when IHL >= 5, byte_size(Packet) >= IHL * 4 ->
    HeaderLen = IHL * 4,
    <<_:HeaderLen/binary, Icmp/binary>> = Packet,
    parse(inet, dgram, Icmp);
parse(inet, raw, Bin) when is_binary(Bin) ->
    {error, malformed};
parse(inet, dgram, <<_:64, _/binary>> = Icmp) ->
    case checksum(Icmp) of
        0 -> {ok, message(Icmp, ?ECHO_REQUEST4, ?ECHO_REPLY4)};
        _ -> {error, malformed}
    end;
parse(inet6, Kind, <<_:64, _/binary>> = Icmp) when ?IS_KIND(Kind) ->
    {ok, message(Icmp, ?ECHO_REQUEST6, ?ECHO_REPLY6)};
parse(Family, Kind, Bin) when ?IS_FAMILY(Family), ?IS_KIND(Kind), is_binary(Bin) ->
    {error, malformed};
parse(_, _, _) ->
    erlang:error(badarg).

message(<<Req, 0, _:16, Id:16, Seq:16, Payload/binary>>, Req, _) ->
    {echo_request, Id, Seq, Payload};
message(<<Rep, 0, _:16, Id:16, Seq:16, Payload/binary>>, _, Rep) ->
    {echo_reply, Id, Seq, Payload};
message(<<Type, Code, _:16, Body/binary>>, _, _) ->
    {other, Type, Code, Body}.

%% @doc The echo reply in what a socket of `Family' and `Kind' received,
%% for requests with `Size' bytes of payload: `{ok, Id, Seq}' if `Packet'
%% is an echo reply whose payload has exactly `Size' bytes. One of another
%% length is `{error, size}': the reply to another request, or one cut
%% short by a receive buffer smaller than {@link reply_size/3} (an IPv4
%% reply cut short fails its checksum first: `{error, malformed}', as
%% {@link parse/3} gives it). Any other message is `{error, other}'.
-spec echo_reply(family(), kind(), binary(), non_neg_integer()) ->
          {ok, Id :: 0..16#ffff, Seq :: 0..16#ffff}
        | {error, size | other | malformed}.
echo_reply(Family, Kind, Packet, Size) when is_integer(Size), Size >= 0 ->
    case parse(Family, Kind, Packet) of
        {ok, {echo_reply, Id, Seq, Payload}} when byte_size(Payload) =:= Size ->
            {ok, Id, Seq};
        {ok, {echo_reply, _, _, _}} ->
            {error, size};
        {ok, _} ->
            {error, other};
        {error, malformed} = Error ->
            Error
    end;
echo_reply(_, _, _, _) ->
    erlang:error(badarg).

%% @doc The most bytes a socket of `Family' and `Kind' delivers for the
%% echo reply to a request with `Size' bytes of payload: the ICMP message
%% (8 bytes of header and the payload), after an IPv4 header of up to 60
%% bytes on an IPv4 raw socket. A receive buffer of this size holds the
%% reply whole.
-spec reply_size(family(), kind(), non_neg_integer()) -> pos_integer().
reply_size(inet, raw, Size) when is_integer(Size), Size >= 0 ->
    ?IP4_HEADER_MAX + ?ECHO_HEADER + Size;
reply_size(Family, Kind, Size) when ?IS_FAMILY(Family), ?IS_KIND(Kind),
                                    is_integer(Size), Size >= 0 ->
    ?ECHO_HEADER + Size;
reply_size(_, _, _) ->
    erlang:error(badarg).

%% @doc The Internet checksum (RFC 1071) of `Bin': the ones' complement
%% of the ones' complement sum of its 16-bit words (an odd last byte is
%% padded with zero). A message with its checksum in place sums to 0.
-spec checksum(binary()) -> 0..16#ffff.
checksum(Bin) when is_binary(Bin) ->
    fold(sum(Bin, 0)) bxor 16#ffff;
checksum(_) ->
    erlang:error(badarg).

sum(<<W:16, Rest/binary>>, Acc) -> sum(Rest, Acc + W);
sum(<<B>>, Acc) -> Acc + (B bsl 8);
sum(<<>>, Acc) -> Acc.

fold(S) when S > 16#ffff -> fold((S band 16#ffff) + (S bsr 16));
fold(S) -> S.
