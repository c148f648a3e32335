%% @doc Broker bench, run by scripts/bench-broker.sh in two unprivileged
%% VMs: one started with no_new_privs (role "nnp": procket's broker and
%% the minimal C broker, bench/broker_min.c) and one without it (role
%% "spawn": the setuid helper, which no_new_privs would disarm).
%%
%% The VM does nothing on its own: the script holds the schedule, so that
%% it can interleave the blocks of both VMs and look at the broker's
%% /proc entries (root's) between them. Each VM serves commands: it reads
%% one line from FIFO <Fifo>/<Role>.cmd, does it, and answers "ok" (or
%% "fail", and halts) on <Fifo>/<Role>.ack. Commands (Path "-": none):
%%
%%   lat Variant Path B W File     W untimed opens, then B timed ones;
%%                                 samples (ns, one a line) appended to File
%%   tp Variant Path C WarmMs Ms File
%%                                 C processes open and close in a loop;
%%                                 after WarmMs, for Ms, the completed
%%                                 open+close pairs are counted; the line
%%                                 "Variant C Opens ElapsedNs" is appended
%%   flood Variant Path C Total File
%%                                 Total open+close pairs split over C
%%                                 processes; "requests R elapsed_ns E
%%                                 errors X" plus one line per error reason
%%                                 written to File
%%   quit                          halts the VM
%%
%% Variant: broker or min (procket:open(0, [{broker, Path}, {protocol,
%% udp}])) or spawn (procket:open(0, [{broker, false}, {protocol, udp}]):
%% the setuid helper in priv/). Only the open is timed; procket:close/1 is
%% not (lat), or is part of the loop (tp, flood). At start the VM writes
%% <Out>/facts.<Role>: its uid, NoNewPrivs, OTP release, schedulers.
-module(broker_bench).

-export([main/1]).

%% Arguments (strings, from -run): Role, the output directory, the FIFO
%% directory.
-spec main([string()]) -> no_return().
main([Role, Out, Fifo]) ->
    %% the -run process must never die without halting the VM: the
    %% script would wait for an answer that never comes
    try
        facts(Role, Out),
        serve(filename:join(Fifo, Role ++ ".cmd"),
              filename:join(Fifo, Role ++ ".ack"))
    catch
        Class:Reason:Stack ->
            io:format(standard_error, "broker_bench ~s: ~p:~p~n~p~n",
                      [Role, Class, Reason, Stack]),
            _ = file:write_file(filename:join(Fifo, Role ++ ".ack"), <<"fail\n">>),
            halt(1)
    end.

serve(Cmd, Ack) ->
    {ok, Line} = file:read_file(Cmd),
    case command(string:lexemes(binary_to_list(Line), " \t\n")) of
        quit ->
            ok = file:write_file(Ack, <<"ok\n">>),
            halt(0);
        ok ->
            ok = file:write_file(Ack, <<"ok\n">>),
            serve(Cmd, Ack)
    end.

command(["lat", V, Path, BS, WS, File]) ->
    Opts = opts(V, Path),
    _ = [open_once(Opts) || _ <- lists:seq(1, list_to_integer(WS))],
    Samples = [open_once(Opts) || _ <- lists:seq(1, list_to_integer(BS))],
    ok = file:write_file(File, [[integer_to_list(S), $\n] || S <- Samples],
                         [append]);
command(["tp", V, Path, CS, WarmS, MsS, File]) ->
    C = list_to_integer(CS),
    {Opens, Ns} = throughput(opts(V, Path), C, list_to_integer(WarmS),
                             list_to_integer(MsS)),
    ok = file:write_file(File, io_lib:format("~s ~b ~b ~b~n", [V, C, Opens, Ns]),
                         [append]);
command(["flood", V, Path, CS, TotalS, File]) ->
    {Ns, Errors} = flood(opts(V, Path), list_to_integer(CS),
                         list_to_integer(TotalS)),
    NErr = lists:sum(maps:values(Errors)),
    ok = file:write_file(
           File,
           [io_lib:format("requests ~s elapsed_ns ~b errors ~b~n",
                          [TotalS, Ns, NErr]),
            [io_lib:format("error ~p ~b~n", [R, N]) || {R, N} <- maps:to_list(Errors)]]);
command(["quit"]) ->
    quit.

opts("spawn", _) -> [{broker, false}, {protocol, udp}];
opts(V, Path) when V =:= "broker"; V =:= "min" -> [{broker, Path}, {protocol, udp}].

%% Only open/2 is timed; close/1 is not.
open_once(Opts) ->
    T0 = erlang:monotonic_time(nanosecond),
    R = procket:open(0, Opts),
    T1 = erlang:monotonic_time(nanosecond),
    case R of
        {ok, FD} ->
            ok = procket:close(FD),
            T1 - T0;
        Error ->
            erlang:error({open_failed, Opts, Error})
    end.

%% C processes loop on open+close until told to stop (a flag, checked
%% between iterations, so no descriptor is ever left behind). The count
%% of completed pairs is read after WarmMs and again Ms later.
throughput(Opts, C, WarmMs, Ms) ->
    Ref = atomics:new(2, []), % 1: completed pairs, 2: stop flag
    Pids = [spawn_monitor(fun() -> tp_loop(Opts, Ref) end)
            || _ <- lists:seq(1, C)],
    timer:sleep(WarmMs),
    N0 = atomics:get(Ref, 1),
    T0 = erlang:monotonic_time(nanosecond),
    timer:sleep(Ms),
    N1 = atomics:get(Ref, 1),
    T1 = erlang:monotonic_time(nanosecond),
    atomics:put(Ref, 2, 1),
    _ = [receive
             {'DOWN', M, process, P, normal} -> ok;
             {'DOWN', M, process, P, Reason} -> erlang:error({worker, Reason})
         after 60000 -> erlang:error(worker_timeout)
         end || {P, M} <- Pids],
    {N1 - N0, T1 - T0}.

tp_loop(Opts, Ref) ->
    case atomics:get(Ref, 2) of
        1 ->
            ok;
        0 ->
            case procket:open(0, Opts) of
                {ok, FD} ->
                    ok = procket:close(FD),
                    atomics:add(Ref, 1, 1),
                    tp_loop(Opts, Ref);
                Error ->
                    exit({open_failed, Opts, Error})
            end
    end.

%% Total open+close pairs over C processes; failed opens are counted by
%% reason, not raised, so that the run reports them all.
flood(Opts, C, Total) ->
    Self = self(),
    Shares = [Total div C + (if I =< Total rem C -> 1; true -> 0 end)
              || I <- lists:seq(1, C)],
    T0 = erlang:monotonic_time(nanosecond),
    Pids = [spawn_monitor(fun() -> Self ! {done, self(), flood_loop(Opts, K, #{})} end)
            || K <- Shares],
    Errors = lists:foldl(
               fun({P, M}, Acc) ->
                       receive
                           {done, P, E} ->
                               maps:fold(fun(R, N, A) ->
                                                 maps:update_with(R, fun(X) -> X + N end,
                                                                  N, A)
                                         end, Acc, E);
                           {'DOWN', M, process, P, Reason} ->
                               erlang:error({worker, Reason})
                       after 600000 -> erlang:error(flood_timeout)
                       end
               end, #{}, Pids),
    {erlang:monotonic_time(nanosecond) - T0, Errors}.

flood_loop(_, 0, Errors) ->
    Errors;
flood_loop(Opts, K, Errors) ->
    case procket:open(0, Opts) of
        {ok, FD} ->
            ok = procket:close(FD),
            flood_loop(Opts, K - 1, Errors);
        Error ->
            flood_loop(Opts, K - 1, maps:update_with(Error, fun(X) -> X + 1 end, 1, Errors))
    end.

facts(Role, Out) ->
    {ok, Status} = file:read_file("/proc/" ++ os:getpid() ++ "/status"),
    Lines = binary:split(Status, <<"\n">>, [global]),
    Field = fun(Name) ->
                    [V | _] = [string:trim(Rest)
                               || L <- Lines,
                                  [N, Rest] <- [binary:split(L, <<":">>)],
                                  N =:= Name],
                    V
            end,
    [Uid | _] = string:lexemes(Field(<<"Uid">>), " \t"),
    Facts = [{uid, Uid},
             {no_new_privs, Field(<<"NoNewPrivs">>)},
             {otp_release, erlang:system_info(otp_release)},
             {schedulers, integer_to_list(erlang:system_info(schedulers_online))},
             {dirty_io_schedulers,
              integer_to_list(erlang:system_info(dirty_io_schedulers))}],
    ok = file:write_file(filename:join(Out, "facts." ++ Role),
                         [io_lib:format("~s ~s~n", [K, V]) || {K, V} <- Facts]).
