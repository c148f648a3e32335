%% @doc Latency bench for procket:open/2, run by scripts/bench.sh inside an
%% unprivileged VM. Writes raw samples (nanoseconds, one per line) into
%% the output directory; the script summarizes them.
%%
%% The machines this runs on drift by 10-20 % within seconds, so what is
%% compared is interleaved in blocks (N/8 samples each) rather than
%% measured in one stretch each:
%%   phase 1, nothing held:  8 x (floor block, procket:open block),
%%                           os:cmd block
%%   phase 2, 1 GiB held:    8 x (floor block, procket:open block),
%%                           os:cmd block
%% Each block starts with ?BLOCK_WARMUP untimed iterations: a process
%% that just started (the floor driver) or just woke from ~50 ms idle
%% (this VM) runs the first few dozen cycles 30-50 % slower on a small
%% VM (scheduler load tracking ramping up, presumably).
%% The floor blocks run bench/floor_driver (a separate C program that
%% times itself) from scripts/bench.sh, so that nothing of the VM takes
%% part in them: this VM asks for a block by writing "FILE N WARMUP" to the FIFO req, and waits,
%% idle, until the script answers "ok" on the FIFO ack. The floor of
%% phase 2 shows how far the machine drifted between the phases (the
%% driver does not share the VM's memory, so the 1 GiB cannot affect it).
%%
%% Files written (mode full):
%%   floor.ns         floor_driver samples, phase 1 (N; by the script)
%%   floor_1gib.ns    floor_driver samples, phase 2 (N; by the script)
%%   open_plain.ns    procket:open/2 with nothing held (N)
%%   open_1gib.ns     procket:open/2 while a process holds 1 GiB (N)
%%   oscmd_plain.ns   os:cmd("/bin/true") (ON)
%%   oscmd_1gib.ns    os:cmd("/bin/true") with the 1 GiB held (ON)
%%   facts            key value lines: VM RSS, scheduler counts, ...
%% Mode plain:Tag (a second VM, started with other emulator flags): only
%% phase 1 without os:cmd, into floor_<Tag>.ns and open_<Tag>.ns.
-module(procket_bench).

-export([main/1]).

-define(MIB, 1048576).
-define(ROUNDS, 8).
-define(BLOCK_WARMUP, 50).

%% Arguments (strings, from -run): Mode ("full" or "plain:Tag"), the
%% output directory, port, N, initial warm-up, os:cmd count, GiB to hold,
%% the FIFO directory.
-spec main([string()]) -> no_return().
main([Mode, Dir, PortS, NS, WarmS, ONS, GiBS, FifoDir]) ->
    Cfg = #{dir => Dir, port => list_to_integer(PortS),
            block => max(1, ceil_div(list_to_integer(NS), ?ROUNDS)),
            warm => list_to_integer(WarmS),
            oscmd => list_to_integer(ONS),
            mib => list_to_integer(GiBS) * 1024,
            fifo => FifoDir},
    try
        case Mode of
            "full" -> full(Cfg);
            "plain:" ++ Tag -> plain(Cfg, Tag)
        end,
        halt(0)
    catch
        Class:Reason:Stack ->
            io:format(standard_error, "procket_bench: ~p:~p~n~p~n",
                      [Class, Reason, Stack]),
            halt(1)
    end.

ceil_div(A, B) -> (A + B - 1) div B.

full(#{dir := Dir, oscmd := ON, mib := MiB} = Cfg) ->
    warm_up(Cfg),
    Rss0 = rss_kib(),
    P1 = rounds(Cfg, "floor.ns"),
    O1 = oscmd_samples(ON),

    {_Holder, HeldBytes} = hold(MiB),
    RssHeld = rss_kib(),
    timer:sleep(1000), % let the machine settle after faulting in 1 GiB
    P2 = rounds(Cfg, "floor_1gib.ns"),
    O2 = oscmd_samples(ON),
    RssHeldAfter = rss_kib(),
    %% the holder lives until the VM halts: releasing 1 GiB is not free

    write(Dir, "open_plain.ns", P1),
    write(Dir, "open_1gib.ns", P2),
    write(Dir, "oscmd_plain.ns", O1),
    write(Dir, "oscmd_1gib.ns", O2),
    Facts = [{rss_start_kib, Rss0},
             {held_bytes, HeldBytes},
             {rss_held_kib, RssHeld},
             {rss_held_after_kib, RssHeldAfter},
             {otp_release, erlang:system_info(otp_release)},
             {schedulers, erlang:system_info(schedulers_online)},
             {dirty_io_schedulers, erlang:system_info(dirty_io_schedulers)},
             {uid, os:cmd("id -u") -- "\n"}],
    ok = file:write_file(filename:join(Dir, "facts"),
                         [io_lib:format("~p ~s~n", [K, to_s(V)])
                          || {K, V} <- Facts]).

plain(#{dir := Dir} = Cfg, Tag) ->
    warm_up(Cfg),
    P = rounds(Cfg, "floor_" ++ Tag ++ ".ns"),
    write(Dir, "open_" ++ Tag ++ ".ns", P).

%% Loads everything and warms caches, outside any timing.
warm_up(#{port := Port, warm := Warm}) ->
    _ = [open_once(Port) || _ <- lists:seq(1, Warm)],
    ok.

%% ?ROUNDS rounds of (floor block into FloorFile, open block); returns
%% the open samples.
rounds(#{block := B} = Cfg, FloorFile) ->
    lists:append([begin
                      ok = floor_block(Cfg, FloorFile, B),
                      open_block(Cfg, B)
                  end || _ <- lists:seq(1, ?ROUNDS)]).

open_block(#{port := Port}, B) ->
    _ = [open_once(Port) || _ <- lists:seq(1, ?BLOCK_WARMUP)],
    [open_once(Port) || _ <- lists:seq(1, B)].

%% Only open/2 is timed; close/1 is not.
open_once(Port) ->
    T0 = erlang:monotonic_time(nanosecond),
    R = procket:open(Port, [{protocol, udp}]),
    T1 = erlang:monotonic_time(nanosecond),
    case R of
        {ok, FD} ->
            ok = procket:close(FD),
            T1 - T0;
        Error ->
            erlang:error({open_failed, Port, Error})
    end.

%% Has the script run floor_driver for B samples (after ?BLOCK_WARMUP
%% untimed ones), appended to File.
floor_block(#{fifo := Fifo}, File, B) ->
    Req = io_lib:format("~s ~b ~b~n", [File, B, ?BLOCK_WARMUP]),
    ok = file:write_file(filename:join(Fifo, "req"), Req),
    case file:read_file(filename:join(Fifo, "ack")) of
        {ok, <<"ok\n">>} -> ok;
        Other -> erlang:error({floor_block_failed, Other})
    end.

oscmd_samples(N) ->
    _ = [oscmd_once() || _ <- lists:seq(1, min(N, ?BLOCK_WARMUP))],
    [oscmd_once() || _ <- lists:seq(1, N)].

oscmd_once() ->
    T0 = erlang:monotonic_time(nanosecond),
    "" = os:cmd("/bin/true"),
    erlang:monotonic_time(nanosecond) - T0.

%% A process holding MiB binaries of 1 MiB each. binary:copy/1 makes a
%% fresh off-heap binary and writes every byte of it, so each page is
%% really resident (the caller reports VmRSS).
hold(MiB) ->
    Self = self(),
    Pid = spawn(fun() ->
                        Bins = [binary:copy(<<0:(8 * ?MIB)>>)
                                || _ <- lists:seq(1, MiB)],
                        Bytes = lists:sum([byte_size(B) || B <- Bins]),
                        Self ! {held, self(), Bytes},
                        receive stop -> ok end,
                        %% keeps Bins live until told to stop
                        length(Bins)
                end),
    receive
        {held, Pid, Bytes} -> {Pid, Bytes}
    after 120000 ->
            erlang:error(hold_timeout)
    end.

to_s(V) when is_integer(V) -> integer_to_list(V);
to_s(V) -> V.

rss_kib() ->
    {ok, Bin} = file:read_file("/proc/" ++ os:getpid() ++ "/status"),
    [Line] = [L || L <- binary:split(Bin, <<"\n">>, [global]),
                   binary:match(L, <<"VmRSS:">>) =/= nomatch],
    [_, V | _] = binary:split(Line, [<<" ">>, <<"\t">>],
                              [global, trim_all]),
    binary_to_integer(V).

write(Dir, Name, Samples) ->
    ok = file:write_file(filename:join(Dir, Name),
                         [[integer_to_list(S), $\n] || S <- Samples]).
