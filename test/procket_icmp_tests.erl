-module(procket_icmp_tests).

-include_lib("eunit/include/eunit.hrl").

%% RFC 1071's example: the sum of 0001 f203 f4f5 f6f7 is 2ddf0, which
%% folds to ddf2; the checksum is its complement, 220d.
rfc1071_example_test() ->
    ?assertEqual(16#220d, procket_icmp:checksum(<<16#00, 16#01, 16#f2, 16#03,
                                                  16#f4, 16#f5, 16#f6, 16#f7>>)).

checksum_edges_test_() ->
    [?_assertEqual(16#ffff, procket_icmp:checksum(<<>>)),
     ?_assertEqual(16#ffff bxor 16#ab00, procket_icmp:checksum(<<16#ab>>)),
     ?_assertEqual(0, procket_icmp:checksum(<<16#ff, 16#ff>>)),
     ?_assertError(badarg, procket_icmp:checksum(<<1:3>>)),
     ?_assertError(badarg, procket_icmp:checksum("ab"))].

echo_request_v4_test() ->
    Req = procket_icmp:echo_request(inet, 16#1234, 7, <<"abc">>),
    ?assertMatch(<<8, 0, _:16, 16#1234:16, 7:16, "abc">>, Req),
    %% a message with its checksum in place sums to zero
    ?assertEqual(0, procket_icmp:checksum(Req)).

echo_request_v6_test() ->
    ?assertEqual(<<128, 0, 0:16, 0:16, 16#ffff:16, "x">>,
                 procket_icmp:echo_request(inet6, 0, 16#ffff, <<"x">>)).

echo_request_bad_test_() ->
    [?_assertError(badarg, procket_icmp:echo_request(inet, -1, 0, <<>>)),
     ?_assertError(badarg, procket_icmp:echo_request(inet, 0, 16#10000, <<>>)),
     ?_assertError(badarg, procket_icmp:echo_request(inet, 0, 0, "x")),
     ?_assertError(badarg, procket_icmp:echo_request(packet, 0, 0, <<>>))].

%% A reply as the kernel sends it: the request with type 0 and the
%% checksum adjusted.
reply4(Id, Seq, Payload) ->
    <<8, 0, _:16, Rest/binary>> = procket_icmp:echo_request(inet, Id, Seq, Payload),
    Sum = procket_icmp:checksum(<<0, 0, 0:16, Rest/binary>>),
    <<0, 0, Sum:16, Rest/binary>>.

ip4_header(Len) ->
    <<4:4, 5:4, 0, (20 + Len):16, 0:16, 0:16, 64, 1, 0:16, 127, 0, 0, 1,
      127, 0, 0, 1>>.

parse_v4_test_() ->
    Reply = reply4(9, 3, <<"payload">>),
    Options = <<1, 1, 1, 0>>, % IHL 6: one word of options (NOPs, EOL)
    WithOptions = <<4:4, 6:4, 0, (24 + byte_size(Reply)):16, 0:32, 64, 1, 0:16,
                    127, 0, 0, 1, 127, 0, 0, 1, Options/binary, Reply/binary>>,
    [?_assertEqual({ok, {echo_reply, 9, 3, <<"payload">>}},
                   procket_icmp:parse(inet, dgram, Reply)),
     ?_assertEqual({ok, {echo_reply, 9, 3, <<"payload">>}},
                   procket_icmp:parse(inet, raw, <<(ip4_header(byte_size(Reply)))/binary,
                                                   Reply/binary>>)),
     ?_assertEqual({ok, {echo_reply, 9, 3, <<"payload">>}},
                   procket_icmp:parse(inet, raw, WithOptions)),
     ?_assertEqual({ok, {echo_request, 1, 2, <<>>}},
                   procket_icmp:parse(inet, dgram,
                                      procket_icmp:echo_request(inet, 1, 2, <<>>))),
     %% destination unreachable is "other"
     ?_assertMatch({ok, {other, 3, 3, _}},
                   procket_icmp:parse(inet, dgram, with_sum(<<3, 3, 0:16, 0:32>>)))].

with_sum(<<T, C, 0:16, Rest/binary>> = Bin) ->
    S = procket_icmp:checksum(Bin),
    <<T, C, S:16, Rest/binary>>.

parse_malformed_test_() ->
    Reply = reply4(9, 3, <<"payload">>),
    <<H:8/binary, Last>> = <<Reply:8/binary, 0>>,
    Corrupt = <<H/binary, (Last bxor 1)>>,
    [?_assertEqual({error, malformed}, procket_icmp:parse(inet, dgram, <<>>)),
     ?_assertEqual({error, malformed}, procket_icmp:parse(inet, dgram, <<0, 0, 0>>)),
     ?_assertEqual({error, malformed}, procket_icmp:parse(inet, dgram, Corrupt)),
     ?_assertEqual({error, malformed}, procket_icmp:parse(inet, raw, <<6:4, 5:4>>)),
     ?_assertEqual({error, malformed}, procket_icmp:parse(inet, raw, <<4:4, 4:4, 0:152>>)),
     ?_assertEqual({error, malformed}, procket_icmp:parse(inet, raw, <<4:4, 15:4, 0:152>>)),
     ?_assertEqual({error, malformed}, procket_icmp:parse(inet6, raw, <<129, 0>>)),
     ?_assertError(badarg, procket_icmp:parse(inet, stream, Reply)),
     ?_assertError(badarg, procket_icmp:parse(inet, raw, "x"))].

parse_v6_test_() ->
    [?_assertEqual({ok, {echo_reply, 5, 6, <<"z">>}},
                   procket_icmp:parse(inet6, raw, <<129, 0, 16#beef:16, 5:16, 6:16, "z">>)),
     ?_assertEqual({ok, {echo_request, 5, 6, <<>>}},
                   procket_icmp:parse(inet6, dgram, <<128, 0, 0:16, 5:16, 6:16>>)),
     ?_assertMatch({ok, {other, 1, 4, _}},
                   procket_icmp:parse(inet6, dgram, <<1, 4, 0:16, 0:32>>))].

%% A reply of 60 + 8 + Size bytes on an IPv4 raw socket: an IPv4 header
%% with 40 bytes of options (NOPs).
reply4_max_header(Reply) ->
    <<4:4, 15:4, 0, (60 + byte_size(Reply)):16, 0:32, 64, 1, 0:16,
      127, 0, 0, 1, 127, 0, 0, 1, (binary:copy(<<1>>, 40))/binary, Reply/binary>>.

%% (Plain tests, not generators: a failure message then shows sizes, not
%% the large binaries.)
reply_size_test() ->
    Reply4 = reply4(1, 2, <<0:(65000 * 8)>>),
    ?assertEqual(60 + 8 + 65000, procket_icmp:reply_size(inet, raw, 65000)),
    ?assertEqual(8 + 65000, procket_icmp:reply_size(inet, dgram, 65000)),
    ?assertEqual(8 + 65000, procket_icmp:reply_size(inet6, raw, 65000)),
    ?assertEqual(8, procket_icmp:reply_size(inet6, dgram, 0)),
    %% the largest reply fits exactly
    ?assertEqual(byte_size(reply4_max_header(Reply4)),
                 procket_icmp:reply_size(inet, raw, 65000)),
    ?assertEqual(byte_size(Reply4), procket_icmp:reply_size(inet, dgram, 65000)),
    ?assertError(badarg, procket_icmp:reply_size(inet, raw, -1)),
    ?assertError(badarg, procket_icmp:reply_size(inet, stream, 1)),
    ?assertError(badarg, procket_icmp:reply_size(packet, raw, 1)),
    ?assertError(badarg, procket_icmp:reply_size(inet6, dgram, 1.0)).

%% Only a whole reply is one: its payload as long as the request's. A
%% reply cut short (by a receive buffer smaller than reply_size/3, as
%% gen_udp's default of 8192 bytes for a 9000-byte payload) is refused:
%% IPv6 by its length, IPv4 by its checksum already.
echo_reply_test() ->
    Size = 9000,
    Payload = <<0:(Size * 8 - 16), "xy">>,
    Reply4 = reply4(7, 8, Payload),
    Raw4 = reply4_max_header(Reply4),
    Reply6 = <<129, 0, 16#beef:16, 7:16, 8:16, Payload/binary>>,
    Cut = fun(Bin, N) -> binary:part(Bin, 0, N) end,
    E = fun procket_icmp:echo_reply/4,
    ?assertEqual({ok, 7, 8}, E(inet, dgram, Reply4, Size)),
    ?assertEqual({ok, 7, 8}, E(inet, raw, Raw4, Size)),
    ?assertEqual({ok, 7, 8}, E(inet6, dgram, Reply6, Size)),
    ?assertEqual({ok, 7, 8}, E(inet6, raw, Reply6, Size)),
    ?assertEqual({ok, 7, 8}, E(inet6, raw, <<129, 0, 0:16, 7:16, 8:16>>, 0)),
    %% cut short
    ?assertEqual({error, size}, E(inet6, dgram, Cut(Reply6, 8192), Size)),
    ?assertEqual({error, size}, E(inet6, raw, Cut(Reply6, 8 + Size - 1), Size)),
    ?assertEqual({error, malformed}, E(inet, dgram, Cut(Reply4, 8192), Size)),
    ?assertEqual({error, malformed}, E(inet, raw, Cut(Raw4, 8192), Size)),
    %% a reply to a request of another size
    ?assertEqual({error, size}, E(inet, dgram, Reply4, Size + 1)),
    ?assertEqual({error, size}, E(inet6, raw, Reply6, Size - 1)),
    %% not a reply
    Request = procket_icmp:echo_request(inet, 7, 8, Payload),
    ?assertEqual({error, other}, E(inet, dgram, Request, Size)),
    ?assertEqual({error, other}, E(inet6, dgram, <<1, 4, 0:16, 0:32>>, 0)),
    ?assertEqual({error, malformed}, E(inet6, dgram, <<129, 0>>, 0)),
    ?assertError(badarg, E(inet, dgram, Reply4, -1)),
    ?assertError(badarg, E(inet, dgram, Reply4, foo)),
    ?assertError(badarg, E(inet, stream, Reply4, Size)).
