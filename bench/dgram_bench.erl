%% @doc Datagrams per second through procket's sendto/recvfrom with an
%% enif_select-driven receive, next to OTP's socket module on the same
%% kind of socket and a plain C program (bench/dgram_c.c), on 127.0.0.1
%% UDP. Run by scripts/bench-dgram.sh (`make bench-dgram', part of `make
%% bench'); see bench/README.md, "Datagrams per second". Prints figures,
%% asserts nothing.
%%
%% The pattern, the same in every variant: two UDP sockets bound to
%% 127.0.0.1 port 0, each owned by its own process (C: thread).
%%   receiver: receives datagrams one by one; when none is queued it
%%             waits for readiness (procket:recvfrom_wait/3, an
%%             enif_select message; OTP: the select message of a nowait
%%             call; C: poll(2)), never polling; every Ack datagrams it
%%             sends the count received so far back to the sender (an
%%             8-byte datagram, from its own socket).
%%   sender:   per round of N datagrams, sends Size-byte datagrams while
%%             fewer than Window are unacknowledged, then reads one
%%             acknowledgement (waiting the same way), until all N are
%%             acknowledged.
%% At most Window datagrams are queued at any time (64 x 1400 bytes fits
%% the default socket receive buffer, 208 KiB), so none is dropped; a drop
%% would stop the round, and after 5 s without an acknowledgement the
%% bench fails. The kernel's UDP receive-buffer error counters are printed
%% as a check. The sender times each round (first send to last
%% acknowledgement); the rate is N / time.
%%
%% Variants:
%%   procket     procket:socket/3 + procket:handle/1; procket:sendto/4 and
%%               procket:recvfrom_wait/3 (recvfrom; on eagain
%%               procket:select/2 and wait for its message; recvfrom again)
%%   otp_nowait  socket:open/3; socket:sendto/3 and socket:recvfrom/4 with
%%               nowait (on {select, _} wait for {'$socket', S, select, R})
%%   otp_block   the same, with socket:recvfrom/4 and a timeout (the
%%               module waits for the select message itself)
%%   c           bench/dgram_c.c, run through a port; the VM waits idle
%%               in receive meanwhile
%%   procket_2s, otp_nowait_2s
%%               diagnostic: procket and otp_nowait with the sender bound
%%               to scheduler 1 and the receiver to scheduler 2 (the
%%               undocumented spawn_opt option {scheduler, N}). By default
%%               the VM runs both processes on one scheduler: in this
%%               pattern they are rarely runnable at the same time for
%%               long, so the second scheduler is never woken to steal
%%               work, and the Erlang variants run sender and receiver in
%%               turn on one CPU where C runs them in parallel on two.
%%               Left out when the VM has one scheduler.
%% Every receive asks for at most ?BUF_SIZE bytes (C and OTP too).
%%
%% Rounds: the machines this runs on drift by 10-40 % within seconds, so
%% the variants take turns round by round (the order rotates each round).
%% Each variant first runs two untimed rounds; the second calibrates its
%% N so that one round takes about RoundMs. Figures: median and p90
%% (nearest rank, p90 being the slower end: the 10th percentile of the
%% rate) of the per-round rates; ratios of the medians, and (paired) the
%% median of the per-round ratios, which the drift between rounds does
%% not move.
-module(dgram_bench).

-export([main/1]).

-define(BUF_SIZE, 2048).
-define(ACK_TIMEOUT, 5000).
-define(CAL_N_PER_ACK, 256). % calibration rounds: 256 x Ack datagrams

%% Arguments (strings, from -run): the dgram_c executable, rounds, payload
%% sizes ("64,1400"), window, acknowledgement interval, round time in ms,
%% variants ("procket,otp_nowait,otp_block,c"), and optionally "verbose":
%% print every round's rate and how busy the two schedulers were in it.
-spec main([string()]) -> no_return().
main([CProg, RoundsS, SizesS, WindowS, AckS, RoundMsS, VariantsS]) ->
    main([CProg, RoundsS, SizesS, WindowS, AckS, RoundMsS, VariantsS, "quiet"]);
main([CProg, RoundsS, SizesS, WindowS, AckS, RoundMsS, VariantsS, Verbose]) ->
    Cfg = #{cprog => CProg, verbose => Verbose =:= "verbose",
            rounds => list_to_integer(RoundsS),
            window => list_to_integer(WindowS),
            ack => list_to_integer(AckS),
            round_ms => list_to_integer(RoundMsS)},
    Sizes = [list_to_integer(S) || S <- string:lexemes(SizesS, ",")],
    Variants0 = [list_to_atom(V) || V <- string:lexemes(VariantsS, ",")],
    Variants = case erlang:system_info(schedulers_online) of
                   1 -> Variants0 -- [procket_2s, otp_nowait_2s];
                   _ -> Variants0
               end,
    Start = erlang:monotonic_time(millisecond),
    try
        check(Cfg, Sizes, Variants),
        io:format("machine: nproc ~s, kernel ~s, OTP ~s (~b schedulers), "
                  "window ~b, ack every ~b, ~b rounds of ~~~b ms per variant~n",
                  [string:trim(os:cmd("nproc")), string:trim(os:cmd("uname -r")),
                   erlang:system_info(otp_release),
                   erlang:system_info(schedulers_online),
                   maps:get(window, Cfg), maps:get(ack, Cfg),
                   maps:get(rounds, Cfg), maps:get(round_ms, Cfg)]),
        Errs0 = udp_errors(),
        Results = [{Size, run_size(Cfg, Size, Variants)} || Size <- Sizes],
        Errs1 = udp_errors(),
        summary(Results, Errs0, Errs1,
                (erlang:monotonic_time(millisecond) - Start) / 1000),
        halt(0)
    catch
        Class:Reason:Stack ->
            io:format(standard_error, "dgram_bench: ~p:~p~n~p~n",
                      [Class, Reason, Stack]),
            halt(1)
    end.

check(#{rounds := R, window := W, ack := A, round_ms := T}, Sizes, Variants) ->
    Known = [procket, otp_nowait, otp_block, c, procket_2s, otp_nowait_2s],
    [erlang:error({bad_config, "rounds, round time and ack must be >= 1"})
     || R < 1 orelse A < 1 orelse T < 1],
    [erlang:error({bad_config, "the window must be at least ack"}) || W < A],
    [erlang:error({bad_config, "sizes must be 8..2048 bytes", Sizes})
     || Sizes =:= [] orelse lists:any(fun(S) -> S < 8 orelse S > ?BUF_SIZE end, Sizes)],
    [erlang:error({bad_config, "unknown variants", Variants -- Known, Known})
     || Variants =:= [] orelse Variants -- Known =/= []],
    ok.

%%% ------------------------------------------------------------------
%%% Rounds
%%% ------------------------------------------------------------------

%% -> [{Variant, [Rate]}] in the order of Variants
run_size(#{rounds := Rounds, ack := Ack, round_ms := RoundMs} = Cfg, Size, Variants) ->
    Runners = [{V, start(V, Cfg, Size)} || V <- Variants],
    CalN = ?CAL_N_PER_ACK * Ack,
    Ns = maps:from_list(
           [begin
                _ = run(R, CalN),
                Ns0 = run(R, CalN),
                Want = CalN * RoundMs * 1000000 / Ns0,
                {V, max(Ack, round(Want / Ack) * Ack)}
            end || {V, R} <- Runners]),
    Rates = rounds(Cfg#{size => Size}, Runners, Ns, Rounds, 0, #{}),
    [stop(R) || {_, R} <- Runners],
    [{V, lists:reverse(maps:get(V, Rates))} || V <- Variants].

rounds(_Cfg, _Runners, _Ns, Rounds, Rounds, Acc) ->
    Acc;
rounds(#{verbose := Verbose, size := Size} = Cfg, Runners, Ns, Rounds, I, Acc) ->
    Order = rotate(Runners, I rem length(Runners)),
    Acc1 = lists:foldl(
             fun({V, R}, A) ->
                     N = maps:get(V, Ns),
                     W0 = sched_time(Verbose),
                     T = run(R, N),
                     Rate = N * 1.0e9 / T,
                     [io:format("round ~b ~b B ~-14s ~8b/s  scheduler busy ~s~n",
                                [I + 1, Size, V, round(Rate),
                                 sched_busy(W0, sched_time(Verbose))]) || Verbose],
                     maps:update_with(V, fun(L) -> [Rate | L] end, [Rate], A)
             end, Acc, Order),
    rounds(Cfg, Runners, Ns, Rounds, I + 1, Acc1).

sched_time(false) ->
    [];
sched_time(true) ->
    _ = erlang:system_flag(scheduler_wall_time, true),
    lists:sort([X || {Id, _, _} = X <- erlang:statistics(scheduler_wall_time),
                     Id =< erlang:system_info(schedulers)]).

sched_busy(W0, W1) ->
    lists:join(" ", [io_lib:format("~b%", [round(100 * (A1 - A0) / max(1, T1 - T0))])
                     || {{Id, A0, T0}, {Id, A1, T1}} <- lists:zip(W0, W1)]).

rotate(L, K) ->
    {A, B} = lists:split(K, L),
    B ++ A.

%% A runner: {erl, SenderPid, ReceiverPid} or {port, Port}.
%% run(Runner, N) -> nanoseconds for N datagrams.
run({erl, Tx, _Rx}, N) ->
    Tx ! {round, self(), N},
    receive
        {Tx, done, Ns} -> Ns;
        {'EXIT', Tx, Reason} -> erlang:error({sender_failed, Reason})
    end;
run({port, Port}, N) ->
    true = port_command(Port, [integer_to_list(N), $\n]),
    receive
        {Port, {data, {eol, Line}}} ->
            [NS, TS] = string:lexemes(binary_to_list(Line), " "),
            N = list_to_integer(NS),
            list_to_integer(TS);
        {Port, {exit_status, St}} ->
            erlang:error({dgram_c_failed, St})
    end.

stop({erl, Tx, Rx}) ->
    unlink(Tx),
    unlink(Rx),
    exit(Tx, kill),
    exit(Rx, kill);
stop({port, Port}) ->
    port_close(Port).

start(c, #{cprog := Prog, window := W, ack := A}, Size) ->
    Port = open_port({spawn_executable, Prog},
                     [{args, [integer_to_list(X) || X <- [Size, W, A]]},
                      {line, 256}, binary, exit_status, use_stdio]),
    {port, Port};
start(V0, Cfg, Size) ->
    process_flag(trap_exit, true),
    Self = self(),
    {V, TxOpts, RxOpts} =
        case V0 of
            procket_2s -> {procket, [{scheduler, 1}], [{scheduler, 2}]};
            otp_nowait_2s -> {otp_nowait, [{scheduler, 1}], [{scheduler, 2}]};
            _ -> {V0, [], []}
        end,
    Rx = spawn_opt(fun() -> receiver(V, Cfg, Self) end, [link | RxOpts]),
    RxAddr = started(Rx),
    Payload = binary:copy(<<"x">>, Size),
    Tx = spawn_opt(fun() -> sender(V, Cfg, Self, RxAddr, Payload) end, [link | TxOpts]),
    TxAddr = started(Tx),
    Rx ! {peer, TxAddr},
    {erl, Tx, Rx}.

%% the socket address of a new sender or receiver
started(Pid) ->
    receive
        {Pid, addr, Addr} -> Addr;
        {'EXIT', Pid, Reason} -> erlang:error({start_failed, Reason})
    end.

%%% ------------------------------------------------------------------
%%% The receiver and the sender of each variant
%%% ------------------------------------------------------------------

receiver(V, #{ack := Ack}, Parent) ->
    S = open(V),
    Parent ! {self(), addr, sockname(V, S)},
    Peer = receive {peer, P} -> P end,
    case V of
        procket -> pk_rx(S, Peer, Ack, 0);
        otp_nowait -> otp_rx(S, Peer, Ack, 0);
        otp_block -> otpb_rx(S, Peer, Ack, 0)
    end.

sender(V, #{window := W}, Parent, Dest, Payload) ->
    S = open(V),
    Parent ! {self(), addr, sockname(V, S)},
    sender_loop(V, S, Dest, Payload, W, 0).

sender_loop(V, S, Dest, Payload, W, Base) ->
    receive
        {round, From, N} ->
            T0 = erlang:monotonic_time(nanosecond),
            Target = Base + N,
            Target = case V of
                         procket -> pk_tx(S, Dest, Payload, W, Base, Base, Target);
                         otp_nowait -> otp_tx(S, Dest, Payload, W, Base, Base, Target);
                         otp_block -> otpb_tx(S, Dest, Payload, W, Base, Base, Target)
                     end,
            T1 = erlang:monotonic_time(nanosecond),
            From ! {self(), done, T1 - T0},
            sender_loop(V, S, Dest, Payload, W, Target)
    end.

open(procket) ->
    {ok, FD} = procket:socket(inet, dgram, 0),
    ok = procket:bind(FD, <<(procket:sockaddr_common(inet, 16))/binary,
                            0:16, 127, 0, 0, 1, 0:64>>),
    {ok, H} = procket:handle(FD),
    H;
open(_Otp) ->
    {ok, S} = socket:open(inet, dgram, udp),
    ok = socket:bind(S, #{family => inet, addr => {127, 0, 0, 1}, port => 0}),
    S.

sockname(procket, H) ->
    {ok, Sa} = procket:getsockname(H, 16),
    Sa;
sockname(_Otp, S) ->
    {ok, Sa} = socket:sockname(S),
    Sa.

%% -- procket: sendto/4, recvfrom_wait/3 on handles

pk_rx(H, Peer, Ack, Count) ->
    {ok, _} = procket:recvfrom_wait(H, ?BUF_SIZE, infinity),
    C = Count + 1,
    case C rem Ack of
        0 -> ok = pk_send(H, <<C:64>>, Peer);
        _ -> ok
    end,
    pk_rx(H, Peer, Ack, C).

pk_tx(_H, _Dest, _Payload, _W, _Sent, Acked, Target) when Acked >= Target ->
    Acked;
pk_tx(H, Dest, Payload, W, Sent, Acked, Target) when Sent < Target, Sent - Acked < W ->
    ok = pk_send(H, Payload, Dest),
    pk_tx(H, Dest, Payload, W, Sent + 1, Acked, Target);
pk_tx(H, Dest, Payload, W, Sent, Acked, Target) ->
    case procket:recvfrom_wait(H, 64, ?ACK_TIMEOUT) of
        {ok, <<V:64>>} ->
            pk_tx(H, Dest, Payload, W, Sent, max(V, Acked), Target);
        {error, timeout} ->
            erlang:error({no_ack_for_ms, ?ACK_TIMEOUT, maybe_dropped})
    end.

pk_send(H, Bin, Dest) ->
    case procket:sendto(H, Bin, 0, Dest) of
        ok -> ok;
        {error, eagain} -> procket:sendto_wait(H, Bin, 0, Dest, infinity)
    end.

%% -- OTP socket, nowait + select messages

otp_rx(S, Peer, Ack, Count) ->
    _ = otp_recv(S, ?BUF_SIZE, infinity),
    C = Count + 1,
    case C rem Ack of
        0 -> ok = socket:sendto(S, <<C:64>>, Peer);
        _ -> ok
    end,
    otp_rx(S, Peer, Ack, C).

otp_recv(S, Size, Timeout) ->
    case socket:recvfrom(S, Size, [], nowait) of
        {ok, {_Source, Data}} ->
            Data;
        {select, {select_info, _, Ref} = Info} ->
            receive
                {'$socket', S, select, Ref} -> otp_recv(S, Size, Timeout)
            after Timeout ->
                _ = socket:cancel(S, Info),
                erlang:error({no_ack_for_ms, Timeout, maybe_dropped})
            end
    end.

otp_tx(_S, _Dest, _Payload, _W, _Sent, Acked, Target) when Acked >= Target ->
    Acked;
otp_tx(S, Dest, Payload, W, Sent, Acked, Target) when Sent < Target, Sent - Acked < W ->
    ok = socket:sendto(S, Payload, Dest),
    otp_tx(S, Dest, Payload, W, Sent + 1, Acked, Target);
otp_tx(S, Dest, Payload, W, Sent, Acked, Target) ->
    <<V:64>> = otp_recv(S, 64, ?ACK_TIMEOUT),
    otp_tx(S, Dest, Payload, W, Sent, max(V, Acked), Target).

%% -- OTP socket, blocking calls (the module waits for the select)

otpb_rx(S, Peer, Ack, Count) ->
    {ok, {_, _}} = socket:recvfrom(S, ?BUF_SIZE, [], infinity),
    C = Count + 1,
    case C rem Ack of
        0 -> ok = socket:sendto(S, <<C:64>>, Peer);
        _ -> ok
    end,
    otpb_rx(S, Peer, Ack, C).

otpb_tx(_S, _Dest, _Payload, _W, _Sent, Acked, Target) when Acked >= Target ->
    Acked;
otpb_tx(S, Dest, Payload, W, Sent, Acked, Target) when Sent < Target, Sent - Acked < W ->
    ok = socket:sendto(S, Payload, Dest),
    otpb_tx(S, Dest, Payload, W, Sent + 1, Acked, Target);
otpb_tx(S, Dest, Payload, W, Sent, Acked, Target) ->
    case socket:recvfrom(S, 64, [], ?ACK_TIMEOUT) of
        {ok, {_, <<V:64>>}} ->
            otpb_tx(S, Dest, Payload, W, Sent, max(V, Acked), Target);
        {error, timeout} ->
            erlang:error({no_ack_for_ms, ?ACK_TIMEOUT, maybe_dropped})
    end.

%%% ------------------------------------------------------------------
%%% Figures
%%% ------------------------------------------------------------------

%% nearest rank on the sorted rates; the p90 of a rate is its slow end,
%% the 10th percentile: 90 % of the rounds were at least this fast
median(L) -> rank(L, 50).
p90(L) -> rank(L, 10).

rank(L, P) ->
    S = lists:sort(L),
    lists:nth(max(1, (length(S) * P + 99) div 100), S).

summary(Results, Errs0, Errs1, Secs) ->
    io:format("~nrates in datagrams/s per round (median, p90 = 90 % of rounds "
              "at least this fast):~n"),
    io:format("~-6s ~-14s ~7s ~10s ~10s ~11s~n",
              ["bytes", "variant", "rounds", "median", "p90", "MB/s (med)"]),
    lists:foreach(
      fun({Size, VRates}) ->
              lists:foreach(
                fun({V, Rates}) ->
                        M = median(Rates),
                        io:format("~-6b ~-14s ~7b ~10b ~10b ~11.1f~n",
                                  [Size, V, length(Rates), round(M),
                                   round(p90(Rates)), M * Size / 1.0e6])
                end, VRates)
      end, Results),
    io:format("~nratios of the medians (paired: the median of the per-round ratios):~n"),
    Lines = [ratio_line(Size, VRates) || {Size, VRates} <- Results],
    Delta = [{K, maps:get(K, Errs1, 0) - maps:get(K, Errs0, 0)}
             || K <- ['InErrors', 'RcvbufErrors']],
    io:format("kernel UDP counters during the run (whole network namespace, "
              "0 expected): ~s~n",
              [lists:join(", ", [io_lib:format("~s +~b", [K, D]) || {K, D} <- Delta])]),
    io:format("~s (~b s)~n", [summary_line(Results, Lines), round(Secs)]).

ratio_line(Size, VRates) ->
    Get = fun(V) -> proplists:get_value(V, VRates) end,
    Pairs = [{"procket/otp_nowait", procket, otp_nowait},
             {"procket/otp_block", procket, otp_block},
             {"procket/c", procket, c},
             {"otp_nowait/c", otp_nowait, c},
             {"procket_2s/otp_nowait_2s", procket_2s, otp_nowait_2s},
             {"procket_2s/c", procket_2s, c}],
    Rs = [{Label, median(A) / median(B), median(lists:zipwith(fun(X, Y) -> X / Y end,
                                                              A, B))}
          || {Label, Va, Vb} <- Pairs,
             A <- [Get(Va)], B <- [Get(Vb)], A =/= undefined, B =/= undefined],
    [io:format("~-6b ~-26s ~5.2f  (paired ~.2f)~s~n",
               [Size, L, R, P, target(L)]) || {L, R, P} <- Rs],
    {Size, Rs}.

target("procket/otp_nowait") -> "  target >= 1.0";
target("procket/c") -> "  target >= 0.5 (within 2x of C)";
target(_) -> "".


%% bench-dgram: 64 B: procket 123/s, otp_nowait 123/s, c 123/s,
%% procket/otp_nowait 1.00 (paired 1.00), procket/c 1.00 (paired 1.00);
%% 1400 B: ... (40 s)
summary_line(Results, Lines) ->
    Parts = [[io_lib:format("~b B: ", [Size]),
              lists:join(", ", [io_lib:format("~s ~b/s", [V, round(median(Rates))])
                                || {V, Rates} <- VRates,
                                   lists:member(V, [procket, otp_nowait, c])]
                         ++ [io_lib:format("~s ~.2f (paired ~.2f)", [L, R, P])
                             || {L, R, P} <- proplists:get_value(Size, Lines),
                                lists:member(L, ["procket/otp_nowait", "procket/c"])])]
             || {Size, VRates} <- Results],
    ["bench-dgram: ", lists:join("; ", Parts)].

%% The Udp: line of /proc/net/snmp as a map (empty if unreadable).
udp_errors() ->
    case file:read_file("/proc/net/snmp") of
        {ok, Bin} ->
            Lines = string:lexemes(binary_to_list(Bin), "\n"),
            case [string:lexemes(L, " ") || L <- Lines, lists:prefix("Udp: ", L)] of
                [["Udp:" | Keys], ["Udp:" | Vals] | _] ->
                    maps:from_list(lists:zip([list_to_atom(K) || K <- Keys],
                                             [list_to_integer(X) || X <- Vals]));
                _ ->
                    #{}
            end;
        _ ->
            #{}
    end.
