%% @doc A fuzzer of procket's exported Erlang API: `make fuzz-api' (see
%% "Fuzzing the Erlang API" in README.md). This is the controller. It runs
%% as root in private network, mount and PID namespaces (made by
%% scripts/fuzz-api.sh), starts the fuzzed VM as uid/gid 65534 with
%% {@link procket_fuzz_agent}, sends it batches of calls of every exported
%% function of procket's modules and reports:
%% <ul>
%% <li>crash: the fuzzed VM died;</li>
%% <li>stall: a call did not return in time and poking the pool did not
%% release it, or a normal scheduler was blocked (a process bound to it
%% did not run, the VM stopped answering);</li>
%% <li>leak: a descriptor appeared that no call gave its caller, or memory
%% grew past a bound;</li>
%% <li>corruption: the kernel wrote into the VM's memory through a pointer
%% a call passed (inside an ioctl or socket option argument).</li>
%% </ul>
%% Arguments: descriptors and handles of a pool (sockets of each kind,
%% handles), the VM's own descriptors, invalid numbers, real option and
%% ioctl names, structured binaries (socket addresses, struct ifreq and
%% ifconf, ints in native byte order, pointers), junk terms. Besides single
%% calls: option and ioctl sequences followed by traffic, races of I/O
%% against mode changes, sockets taken through their life cycle (linger,
%% full buffers, close or owner exit). Batch N is generated from the seed
%% and N only. The first finding of each kind is replayed in fresh VMs and
%% cut down to the calls that reproduce it; calls like its first call are
%% then left out, so that one bug does not hide the others.
%%
%% Left out on purpose: the VM's descriptors 3 and 4 (its connection to
%% the controller); timeouts longer than 100 ms, and `infinity' with the
%% pool's descriptors and handles (a wait that may last for ever); hosts
%% other than loopback for procket_ping, and more than a few short
%% rounds; families, types and protocols for which socket(2) could load a
%% kernel module (only built-in ones, or values refused up front); AF_UNIX
%% paths other than abstract names or names relative to the VM's
%% directory; commands other than the real helper or names that do not
%% exist (the VM's PATH holds only Erlang's directories, so "sudo" is not
%% found); closing an integer descriptor under a call in progress in a
%% race (a number closed and reused is the caller's bug, as in C); connect
%% in races (in blocking mode it waits out SYN retries, as documented).
-module(procket_fuzz_api).

-export([main/1]).

-define(HANG_MS, 2500).    % no word from the VM for this long: it is hung
-define(STUCK_MS, 5000).   % no progress of its agent for this long: hung
-define(BATCH, 40).        % calls per batch

-spec main([string()]) -> no_return().
main([Dir, Secs, Seed]) ->
    process_flag(trap_exit, true),
    T0 = now_ms(),
    out("seed ~s, ~s s (FUZZ_API_SEED=~s FUZZ_API_SECONDS=~s to repeat)", [Seed, Secs, Seed, Secs]),
    loop(#{dir => Dir, seed => list_to_integer(Seed), t0 => T0, vm => none, vms => 0,
           until => T0 + 1000 * list_to_integer(Secs), n => 0, calls => 0, expected => 0,
           skip => [], seen => #{}, replaying => 0,
           counts => #{crash => 0, stall => 0, leak => 0, corruption => 0}}).

now_ms() -> erlang:monotonic_time(millisecond).

out(Fmt, Args) -> io:format("fuzz-api: " ++ Fmt ++ "~n", Args).

loop(#{until := Until} = S) ->
    case now_ms() > Until - 500 of
        true -> finish(stop_vm(S));
        false -> loop(step(ensure_vm(S)))
    end.

ensure_vm(#{vm := none, dir := Dir, vms := K} = S) ->
    case start_vm(Dir) of
        {ok, VM} when is_map_key(info, S) ->
            S#{vm := VM, vms := K + 1};
        {ok, #{exports := Ex, own := Own, pool := Pool} = VM} ->
            Mods = lists:usort([M || {M, _, _} <- Ex]),
            out("~p functions in ~p modules: ~s",
                [length(Ex), length(Mods), lists:join(", ", [atom_to_list(M) || M <- Mods])]),
            out("pool (made again when a member is closed): ~s",
                [lists:join(" ", [camel(P) || P <- Pool])]),
            out("the VM's own descriptors: ~s",
                [lists:join(", ", [io_lib:format("~p ~s", [F, L]) || {F, L} <- Own])]),
            S#{vm := VM, vms := K + 1, info => VM};
        {error, Why} ->
            out("could not start the fuzzed VM: ~p", [Why]),
            halt(2)
    end;
ensure_vm(S) ->
    S.

%% --- one batch, and what it found ----------------------------------------

step(#{vm := #{history := H} = VM0, n := N0, seed := Seed, skip := Skip, calls := C} = S0) ->
    N = N0 + 1,
    Calls = generate(Seed, N, maps:get(info, S0), Skip),
    VM = VM0#{history := H ++ [{N, Calls}]},
    S = S0#{n := N, vm := VM},
    %% {B, I}: the call in flight (B is N unless the VM died between batches)
    Dead = fun(B, I) -> S#{calls := C + case B of N -> I; _ -> 0 end, vm := none,
                           last_history => maps:get(history, VM)} end,
    case run_batch(VM, N, Calls) of
        {done, Ran, Expected, Findings} ->
            lists:foldl(fun({Class, I, Kind, Detail, Unfit}, Acc) ->
                                Acc1 = finding(Class, Kind, Detail, N, I, Acc),
                                case Unfit of true -> stop_vm(Acc1); false -> Acc1 end
                        end,
                        S#{calls := C + Ran, expected := maps:get(expected, S) + length(Expected)},
                        Findings);
        {exit, Status, {B, I}, Words} ->
            finding(crash, Status, ["the VM died: ", status(Status), Words], B, I, Dead(B, I));
        {hang, {B, I}} ->
            finding(stall, normal_scheduler,
                    io_lib:format("the VM stopped answering for ~p ms (killed; a normal scheduler "
                                  "blocked makes multi_scheduling block freeze it)", [?HANG_MS]),
                    B, I, Dead(B, I));
        {stuck, {B, I}, Where} ->
            finding(stall, normal_scheduler,
                    io_lib:format("the VM answered, but its agent made no progress for ~p ms "
                                  "(killed; a normal scheduler blocked stops the timers on it); "
                                  "the agent was in ~0p", [?STUCK_MS, Where]),
                    B, I, Dead(B, I))
    end.

status(S) when S > 128 ->
    Names = #{4 => "SIGILL", 6 => "SIGABRT", 7 => "SIGBUS", 8 => "SIGFPE", 9 => "SIGKILL",
              11 => "SIGSEGV", 13 => "SIGPIPE", 15 => "SIGTERM", 29 => "SIGIO", 31 => "SIGSYS"},
    io_lib:format("exit status ~p (signal ~p, ~s)", [S, S - 128, maps:get(S - 128, Names, "?")]);
status(S) ->
    io_lib:format("exit status ~p", [S]).

%% Counted; the first of its kind (a crash by its exit status, a leak by
%% the kind of descriptor, a stall also by the call) is cut down and
%% shown. Once reproduced, calls like the first of its calls are left
%% out: the same function and first arguments (on the VM's own
%% descriptors: any call on the same one, and the same function on any),
%% races with the same first state change, sequences of the same
%% functions.
finding(Class, Kind, Detail, N, I, #{vm := VM, seen := Seen, counts := C, until := Until} = S0) ->
    History = case VM of
                  none -> maps:get(last_history, S0);
                  #{history := H} -> H
              end,
    Prefix = lists:append([[{B, X} || X <- Calls] || {B, Calls} <- History, B < N]) ++
        [{N, X} || X <- lists:sublist(proplists:get_value(N, History, []), I)],
    {_, InFlight} = lists:last(Prefix),
    Between = I > length(proplists:get_value(N, History, [])),
    Sig = case InFlight of
              _ when Class =/= stall -> {Class, Kind};
              _ when Between -> {stall, Kind, between_batches};
              {call, _, _, [{'$own', _} | _]} -> {stall, Kind, own_descriptor};
              {call, M, F, A} -> {stall, Kind, {M, F, length(A)}};
              _ -> {stall, Kind, element(1, InFlight)}
          end,
    S = S0#{counts := C#{Class := maps:get(Class, C) + 1}},
    At = (now_ms() - maps:get(t0, S)) / 1000,
    Head = string:uppercase(atom_to_list(Class)),
    case maps:is_key(Sig, Seen) of
        true ->
            out("~s again at ~.1f s (~0p): ~s", [Head, At, Kind, render(InFlight)]),
            S;
        false ->
            out("~s at ~.1f s (VM ~p, batch ~p, call ~p): ~s",
                [Head, At, maps:get(vms, S), N, I, Detail]),
            io:format("    in flight: ~s~n", [render(InFlight)]),
            S1 = stop_vm(S),
            T0 = now_ms(),
            %% a fifth of the run, 5 to 30 s, to cut it down
            Left = Until - T0 - 2000,
            Budget = min(Left, max(5000, min(30000, (Until - maps:get(t0, S)) div 5))),
            Repro = case Left > 2000 of
                        true -> minimize({Class, Kind}, Prefix, S1, T0 + Budget);
                        false -> none
                    end,
            show(Repro, S1),
            Skip = case Repro of
                       {ok, [{_, First} | _]} -> skip_keys(First);
                       _ -> []
                   end,
            S1#{seen := Seen#{Sig => true}, skip := Skip ++ maps:get(skip, S1),
                replaying := maps:get(replaying, S1) + now_ms() - T0}
    end.

show(none, _) ->
    io:format("    (no time left to reproduce it in a fresh VM)~n");
show({none, Tried}, _) ->
    io:format("    not reproduced in a fresh VM by the ~p calls before it (timing?); the last:~n",
              [length(Tried)]),
    [io:format("        ~s~n", [render(C)])
     || {_, C} <- lists:nthtail(max(0, length(Tried) - 8), Tried)];
show({ok, Calls}, #{info := #{own := Own}}) ->
    Shown = lists:nthtail(max(0, length(Calls) - 30), Calls),
    io:format("    reproduced in a fresh VM by ~p call(s)~s:~n",
              [length(Calls), [" (the last 30 shown)" || Shown =/= Calls]]),
    [io:format("        ~s~n", [render(C)]) || {_, C} <- Shown],
    [io:format("        % Own~p: the VM's descriptor ~p (~s)~n",
               [K | tuple_to_list(lists:nth(K rem length(Own) + 1, Own))])
     || K <- lists:usort(owns([C || {_, C} <- Shown]))],
    ok.

owns({'$own', K}) -> [K];
owns(T) when is_tuple(T) -> owns(tuple_to_list(T));
owns([H | T]) -> owns(H) ++ owns(T);
owns(_) -> [].

skip_keys({call, _, F, [{'$own', K} | _]}) -> [{own, K}, {own, F}];
skip_keys({call, _, F, [A1, A2, A3 | _]}) when F =:= setsockopt; F =:= getsockopt ->
    [{F, A1, A2, A3}];
skip_keys({call, _, ioctl, [A1, A2 | _]}) -> [{ioctl, A1, A2}];
skip_keys({call, _, F, [A1 | _]}) -> [{F, A1}];
skip_keys({race, _, [{call, _, F, [_, A2 | _]} | _]}) -> [{race, F, A2}];
skip_keys({race, _, [{call, _, F, _} | _]}) -> [{race, F}];
skip_keys({seq, Calls, _}) ->
    [{seq, [case C of {call, _, F, _} -> F; _ -> element(1, C) end || C <- Calls]}];
skip_keys(Meta) -> [Meta].

%% Replays shorter and shorter call sequences in fresh VMs, keeping the
%% class and kind of the finding: the call in flight alone (three times
%% for a race), each of the two before it alone (a crash may come just
%% after its cause), the last 16, 128 or all calls, then these without
%% chunks, halving the chunks.
minimize(Sig, Prefix, S, Until) ->
    Try = fun(Cand) -> now_ms() < Until andalso replay(Cand, S) =:= Sig end,
    {_, Last} = lists:last(Prefix),
    Len = length(Prefix),
    Singles = lists:duplicate(case Last of {race, _, _} -> 3; _ -> 1 end, lists:last(Prefix)) ++
        lists:reverse(lists:nthtail(max(0, Len - 3), lists:droplast(Prefix))),
    case lists:search(fun(C) -> Try([C]) end, Singles) of
        {value, C} -> {ok, [C]};
        false ->
            Suffixes = [lists:nthtail(Len - K, Prefix) || K <- [16, 128], K < Len] ++ [Prefix],
            case lists:search(Try, Suffixes) of
                {value, L} -> {ok, reduce(L, length(L) div 2, 0, Try)};
                false -> {none, Prefix}
            end
    end.

reduce(L, 0, _, _) -> L;
reduce(L, Size, At, Try) when At + Size >= length(L) -> reduce(L, Size div 2, 0, Try);
reduce(L, Size, At, Try) ->
    Cand = lists:sublist(L, At) ++ lists:nthtail(At + Size, L),
    case Try(Cand) of
        true -> reduce(Cand, Size, At, Try);
        false -> reduce(L, Size, At + Size, Try)
    end.

%% The class and kind of the first finding, in a fresh VM.
replay(Calls, #{dir := Dir}) ->
    case start_vm(Dir) of
        {ok, VM} -> replay(VM#{hang := 1500}, Calls, []);
        {error, _} -> none
    end.

replay(VM, [], []) ->
    _ = stop_vm(#{vm => VM}),
    none;
replay(VM, [{N, C} | Rest], Acc) when Rest =:= [] orelse element(1, hd(Rest)) =/= N ->
    case run_batch(VM, N, lists:reverse([C | Acc])) of
        {done, _, _, []} -> replay(VM, Rest, []);
        {done, _, _, [{Class, _, Kind, _, _} | _]} -> _ = stop_vm(#{vm => VM}), {Class, Kind};
        {exit, St, _, _} -> {crash, St};
        _ -> {stall, normal_scheduler}
    end;
replay(VM, [{_, C} | Rest], Acc) ->
    replay(VM, Rest, [C | Acc]).

finish(#{counts := #{crash := Cr, stall := St, leak := Le, corruption := Co}} = S) ->
    out("~p VMs, ~p batches, ~p calls blocked as documented (released by poking the pool); "
        "~p s spent reproducing findings",
        [maps:get(vms, S), maps:get(n, S), maps:get(expected, S), maps:get(replaying, S) div 1000]),
    out("~p calls, ~p crashes, ~p stalls, ~p leaks, ~p corruptions",
        [maps:get(calls, S), Cr, St, Le, Co]),
    halt(case Cr + St + Le + Co of 0 -> 0; _ -> 1 end).

%% --- the fuzzed VM ------------------------------------------------------------

%% erlexec itself rather than the erl script: the VM's PATH then holds
%% only Erlang's own directories, which erlexec puts first.
start_vm(Dir) ->
    Run = filename:join(Dir, "run"),
    _ = file:delete(filename:join(Run, "journal")),
    Log = filename:join(Run, "vm.log"),
    Script = "cd \"$1/run\" || exit 111\n"
        "ulimit -c 0\n"
        "exec 3<&0 4>&1 </dev/null >>\"$1/run/vm.log\" 2>&1\n"
        "exec setpriv --reuid=65534 --regid=65534 --clear-groups -- env -i HOME=\"$1/run\" "
        "ERL_CRASH_DUMP_SECONDS=0 PATH=/nonexistent ROOTDIR=\"$2\" BINDIR=\"$3\" EMU=beam "
        "PROGNAME=erl \"$3/erlexec\" +S 4 -noshell -pa \"$1/ebin\" -pa \"$1/t\" "
        "-s procket_fuzz_agent start\n",
    Root = code:root_dir(),
    Bin = filename:join([Root, "erts-" ++ erlang:system_info(version), "bin"]),
    Port = open_port({spawn_executable, "/bin/sh"},
                     [{args, ["-c", Script, "sh", Dir, Root, Bin]}, {packet, 4}, binary,
                      exit_status, use_stdio, hide]),
    receive
        {Port, {data, B}} ->
            {hello, OsPid, Exports, Own, Pool, Tables} = binary_to_term(B),
            {ok, #{port => Port, ospid => OsPid, exports => Exports, own => Own, pool => Pool,
                   tables => Tables, log => Log, logpos => filelib:file_size(Log),
                   hang => ?HANG_MS, history => []}};
        {Port, {exit_status, St}} ->
            {error, {exit_status, St, tail(Log, 0)}}
    after 30000 ->
            {error, no_hello}
    end.

stop_vm(#{vm := none} = S) ->
    S;
stop_vm(#{vm := #{port := Port, ospid := OsPid, history := H}} = S) ->
    catch erlang:port_command(Port, term_to_binary(stop)),
    receive {Port, {exit_status, _}} -> flush(Port) after 2000 -> kill(Port, OsPid) end,
    S#{vm := none, last_history => H}.

kill(Port, OsPid) ->
    _ = os:cmd("kill -KILL " ++ OsPid),
    receive {Port, {exit_status, _}} -> flush(Port) after 5000 -> ok end.

flush(Port) ->
    receive
        {Port, _} -> flush(Port);
        {'EXIT', Port, _} -> flush(Port)
    after 0 -> ok
    end.

run_batch(#{port := Port} = VM, N, Calls) ->
    true = erlang:port_command(Port, term_to_binary({batch, N, Calls})),
    await(VM, N, {-1, now_ms(), undefined}).

%% The batch's result, unless the VM dies, stops answering or answers
%% without its agent making progress.
await(#{port := Port, ospid := OsPid} = VM, N, {Seen, Since, Where}) ->
    Stuck = now_ms() - Since > ?STUCK_MS,
    receive
        {Port, {data, _}} when Stuck ->
            kill(Port, OsPid),
            {stuck, in_flight(VM, N), Where};
        {Port, {data, B}} ->
            case binary_to_term(B) of
                {done, N, Ran, Expected, Findings} -> {done, Ran, Expected, Findings};
                {hb, Seen, W} -> await(VM, N, {Seen, Since, W});
                {hb, P, W} -> await(VM, N, {P, now_ms(), W})
            end;
        {Port, {exit_status, St}} ->
            flush(Port),
            {exit, St, in_flight(VM, N), tail(maps:get(log, VM), maps:get(logpos, VM))}
    after maps:get(hang, VM) ->
            kill(Port, OsPid),
            {hang, in_flight(VM, N)}
    end.

%% The call in flight: the last one the journal names.
in_flight(#{log := Log}, N) ->
    Lines = case file:read_file(filename:join(filename:dirname(Log), "journal")) of
                {ok, Bin} -> binary:split(Bin, <<"\n">>, [global]);
                _ -> []
            end,
    case [{binary_to_integer(B), binary_to_integer(I)}
          || L <- Lines, {match, [B, I]} <- [re:run(L, "^([0-9]+):([0-9]+) ",
                                                    [{capture, all_but_first, binary}])]] of
        [] -> {N, 1};
        L -> lists:last(L)
    end.

%% The VM's last words: its own last lines on its standard error (not the
%% helper's, nor what calls wrote to the descriptors).
tail(Log, Pos) ->
    Bin = case file:open(Log, [read, binary, raw]) of
              {ok, F} -> case file:pread(F, Pos, 1 bsl 20) of {ok, B} -> B; _ -> <<>> end;
              _ -> <<>>
          end,
    Lines = [L || L <- binary:split(Bin, <<"\n">>, [global]),
                  re:run(L, "^[ -~]{1,300}$") =/= nomatch, re:run(L, "^procket: ") =:= nomatch],
    case lists:nthtail(max(0, length(Lines) - 2), Lines) of
        [] -> "";
        Last -> ["; it said: " | lists:join(" / ", Last)]
    end.

%% --- calls as text ----------------------------------------------------------

render({call, M, F, Args}) ->
    io_lib:format("~p:~p(~s)", [M, F, lists:join(", ", [r(A) || A <- Args])]);
render({flood, Sock}) ->
    ["[procket:sendto(", r(Sock), ", binary:copy(<<0>>, 262144)) "
     "until an error, at most 64 times]"];
render({race, A, B}) ->
    Side = fun(L) -> lists:join("; ", [render(C) || C <- L]) end,
    ["[for 20 ms, two processes over and over: ", Side(A), ", and a third: ", Side(B), "]"];
render({seq, Calls, Mode}) ->
    ["[in one process: ", lists:join("; ", [["R", integer_to_list(I), " = ", render(C)]
                                             || {I, C} <- lists:enumerate(Calls)]),
     case Mode of close -> "; then close R*]"; exit -> "; then exit with handles open]" end].

r({'$fd', Name}) -> camel(Name);
r({'$fdnum', Name}) -> ["fd(", camel(Name), ")"];
r({'$addr', Name}) -> ["sockname(", camel(Name), ")"];
r({'$own', K}) -> ["Own", integer_to_list(K)];
r({'$res', I}) -> ["R", integer_to_list(I)];
r({'$proc', P}) -> [atom_to_list(P), "_pid"];
r({'$canary', Off}) -> ["Canary+", integer_to_list(Off)];
r({'$blob', B, N}) -> io_lib:format("binary:copy(<<~p>>, ~p)", [B, N]);
r({'$list', E, N}) -> ["lists:duplicate(", integer_to_list(N), ", ", r(E), ")"];
r({'$improper', L, T}) -> ["[", lists:join(", ", [r(X) || X <- L]), " | ", r(T), "]"];
r({'$bin', Parts}) -> ["<<", lists:join(", ", [rp(P) || P <- Parts]), ">>"];
r(T) when is_tuple(T) -> ["{", lists:join(", ", [r(X) || X <- tuple_to_list(T)]), "}"];
r([_ | _] = L) ->
    case io_lib:printable_list(L) of
        true -> io_lib:format("~0tp", [L]);
        false -> ["[", lists:join(", ", [r(X) || X <- L]), "]"]
    end;
r(B) when is_binary(B), byte_size(B) > 64 -> io_lib:format("<<~p bytes>>", [byte_size(B)]);
r(A) when is_atom(A) ->
    Names = #{'$ospid' => "OsPid", '$negpid' => "-OsPid", '$closed_handle' => "ClosedHandle",
              '$ref' => "make_ref()", '$fun' => "fun() -> ok end",
              '$helper' => "procket:helper_path()"},
    maps:get(A, Names, io_lib:format("~0tp", [A]));
r(X) -> io_lib:format("~0tp", [X]).

rp({i16, V}) -> [r(V), ":16/native"];
rp({i32, V}) -> [r(V), ":32/native"];
rp({i64, V}) -> [r(V), ":64/native"];
rp(B) -> ["(", r(B), ")/binary"].

camel(Name) ->
    Words = string:split(atom_to_list(Name), "_", all),
    lists:append([[string:to_upper(H) | T] || [H | T] <- Words]).

%% --- generating calls ---------------------------------------------------------

generate(Seed, N, Info, Skip) ->
    _ = rand:seed(exsss, (Seed bsl 32) + N),
    put(info, Info),
    Calls = lists:sublist(lists:append([scenario() || _ <- lists:seq(1, ?BATCH)]), ?BATCH),
    [C || C <- Calls, not lists:any(fun(K) -> lists:member(K, Skip) end, skip_keys(C))].

pick(L) -> lists:nth(rand:uniform(length(L)), L).

%% pick from [{Weight, Fun}] and call it
wpick(L) -> wpick(rand:uniform(lists:sum([W || {W, _} <- L])), L).
wpick(X, [{W, F} | _]) when X =< W -> F();
wpick(X, [{W, _} | T]) -> wpick(X - W, T).

info(K) -> maps:get(K, get(info)).
table(T) -> proplists:get_value(T, info(tables)).
target() -> {'$fd', pick(info(pool))}.
own() -> {'$own', rand:uniform(length(info(own))) - 1}.

scenario() ->
    T = target(),
    Opt = fun() -> pick([{call, procket, setsockopt, [T | sockopt_args()]},
                         {call, procket, getsockopt, [T | getsockopt_args()]}]) end,
    Close = fun() -> pick([[], [], [{call, procket, close, [T]}],
                           [{call, procket, close_handle, [T]}]]) end,
    wpick([{55, fun() -> [random_call()] end},
           {6, fun() -> [own_call()] end},
           {8, fun() -> [Opt() || _ <- lists:seq(1, rand:uniform(3))] ++ traffic(T) ++ Close() end},
           {5, fun() -> [{call, procket, getsockopt, [T | getsockopt_args()]} || _ <- "four"] end},
           {8, fun() -> [ioctl_call(T) || _ <- lists:seq(1, rand:uniform(3))] ++ traffic(T) end},
           {4, fun() -> [{race, [io_call(T)], state_calls(T)}] end},
           {5, fun() -> [lifecycle()] end},
           {9, fun() -> traffic(T) end}]).

%% Functions on descriptors count four times: they reach the kernel.
random_call() ->
    W = case get(weighted) of
            undefined ->
                Sock = [bind, connect, accept, recv, recvfrom, sendto, recvmsg, sendmsg, read,
                        write, writev, ioctl, setsockopt, getsockopt, getsockname, getpeername,
                        listen, set_sock_nonblock, close, handle, close_handle, select, wait,
                        recvfrom_wait, read_wait, accept_wait, connect_wait, sendto_wait,
                        controlling_process],
                W1 = lists:append([case lists:member(F, Sock) of
                                       true -> [E, E, E, E];
                                       false -> [E]
                                   end || {_, F, _} = E <- info(exports)]),
                put(weighted, W1),
                W1;
            W0 -> W0
        end,
    {M, F, A} = pick(W),
    {call, M, F, args(M, F, A)}.

own_call() ->
    O = own(),
    {F, Args} = pick([{write, [iodata()]}, {writev, [[iodata()]]}, {read, [size()]},
                      {sendto, [iodata(), flags(), sockaddr()]},
                      {recvmsg, [size(), flags(), pick([0, 64])]}, {ioctl, [ioreq(), ioarg()]},
                      {setsockopt, sockopt_args()}, {getsockopt, getsockopt_args()},
                      {set_sock_nonblock, []}, {handle, []}, {close, []}, {accept, []},
                      {bind, [sockaddr()]}]),
    {call, procket, F, [O | Args]}.

%% A race: I/O on a descriptor against calls that change its state. (Not
%% connect: in blocking mode it waits out SYN retries, as documented.)
io_call(T) ->
    wpick([{30, fun() -> {call, procket, read, [T, size()]} end},
           {15, fun() -> {call, procket, write, [T, iodata()]} end},
           {15, fun() -> {call, procket, accept, [T]} end},
           {15, fun() -> {call, procket, recvmsg, [T, size(), flags(), 64]} end},
           {15, fun() -> {call, procket, sendto, [T, iodata(), flags(), sockaddr()]} end}]).

state_calls(T) ->
    Mode = fun(V) -> {call, procket, ioctl, [T, 'FIONBIO', {'$bin', [{i32, V}]}]} end,
    wpick([{40, fun() -> [Mode(0), Mode(1)] end},
           {15, fun() -> [Mode(0), {call, procket, set_sock_nonblock, [T]}] end},
           {15, fun() -> [{call, procket, setsockopt, [T | sockopt_args()]}] end},
           {15, fun() -> [ioctl_call(T)] end},
           {15, fun() -> [{call, procket, close_handle, [T]}] end}]).

%% Data for a pool member from its peer or itself, a flood, a receive.
traffic({'$fd', Name} = T) ->
    Peers = #{tcp_c => tcp_s, tcp_s => tcp_c, unix_a => unix_b, unix_b => unix_a,
              htcp => htcp_peer, htcp_peer => htcp, unixd_a => unixd_b, unixd_b => unixd_a,
              udp_a => udp_b, udp_b => udp_a},
    Peer = {'$fd', maps:get(Name, Peers, Name)},
    pick([[{call, procket, sendto, [Peer, iodata(), 0, {'$addr', Name}]}],
          [{call, procket, sendto, [Peer, iodata()]}], [{flood, T}], [{flood, Peer}],
          [{call, procket, recvmsg, [T, size(), flags(), pick([0, 64, 4096]), pick([0, 128])]}]]).

%% A socket of the call's own: made, maybe given to a handle, options
%% set (often those that change how it closes), loaded, and closed or
%% left to the owner's exit.
lifecycle() ->
    {F, Ty, P, Peer} = pick([{inet, stream, tcp, tcp_l}, {unix, stream, 0, unix_l},
                             {inet, dgram, udp, udp_a}]),
    Handle = rand:uniform(3) > 1,
    S = case Handle of true -> {'$res', 3}; false -> {'$res', 1} end,
    Opt = fun() -> case rand:uniform(2) of
                       1 -> N = pick(['SO_LINGER', 'SO_SNDBUF', 'SO_RCVBUF', 'SO_SNDTIMEO',
                                      'SO_KEEPALIVE']),
                            ['SOL_SOCKET', N, optval(N)];
                       2 -> sockopt_args()
                   end
          end,
    {seq, [{call, procket, socket, [F, Ty, P]},
           {call, procket, connect, [{'$res', 1}, {'$addr', Peer}]}] ++
         [{call, procket, handle, [{'$res', 1}]} || Handle] ++
         [{call, procket, setsockopt, [S | Opt()]} || _ <- lists:seq(1, rand:uniform(2))] ++
         [pick([{flood, S}, {call, procket, sendto, [S, iodata()]}]),
          pick([{call, procket, close, [S]}, {call, procket, close_handle, [S]},
                {call, procket, sendto, [S, <<1>>]}])],
     pick([close, exit])}.

%% --- arguments ------------------------------------------------------------------

%% One in ten arguments is junk, except for socket/3. A timeout of
%% infinity only for a descriptor not in the pool (it may wait for ever).
args(M, F, A) ->
    case spec(M, F, A) of
        [socket3] -> socket3();
        [setsockopt4] -> [value(sock) | sockopt_args()];
        [getsockopt4] -> [value(sock) | getsockopt_args()];
        Kinds ->
            case [case rand:uniform(10) of 1 -> junk(); _ -> value(K) end || K <- Kinds] of
                [{'$fd', _} | _] = Args -> [case X of infinity -> 100; _ -> X end || X <- Args];
                Args -> Args
            end
    end.

spec(procket, F, 1) when F =:= open; F =:= listen -> [port];
spec(procket, open, 2) -> [port, open_opts];
spec(procket, listen, 2) -> pick([[port, open_opts], [sock, int]]);
spec(procket, dev, A) -> lists:sublist([dev, open_opts], A);
spec(packet, socket, A) -> lists:sublist([ethertype, open_opts], A);
spec(packet, F, 1) when F =:= gateway; F =:= gateway_addr -> [ifname];
spec(packet, arplookup, 1) -> [ip4];
spec(packet, F, 2) when F =:= ifname; F =:= bind; F =:= promiscuous -> [sock, int];
spec(packet, _, 2) -> [sock, ifname];
spec(packet, send, 3) -> [sock, int, iodata];
spec(packet, makesum, 1) -> [data];
spec(procket_ping, ping, A) -> lists:sublist([hosts, ping_opts], A);
spec(procket_ioctl, _, 1) -> [os];
spec(procket_ioctl, _, A) -> lists:duplicate(A, ioc_int);
spec(procket_icmp, echo_request, 4) -> [icmp_family, int, int, data];
spec(procket_icmp, parse, 3) -> [icmp_family, icmp_kind, data];
spec(procket_opts, parse, A) -> lists:sublist([port, open_opts, helper], A);
spec(procket_opts, split_command, 1) -> [helper];
spec(procket_opts, _, 1) -> [name];
spec(M, F, A) when M =:= procket; M =:= procket_socket -> sock_spec(F, A);
spec(_, F, 1) when F =:= checksum -> [data];
spec(_, _, A) -> lists:duplicate(A, any).

sock_spec(socket, 3) -> [socket3];
sock_spec(setsockopt, 4) -> [setsockopt4];
sock_spec(getsockopt, 4) -> [getsockopt4];
sock_spec(F, A) ->
    Specs = #{{bind, 2} => [sock, sockaddr], {connect, 2} => [sock, sockaddr],
              {listen, 2} => [sock, int], {accept, 1} => [sock], {accept, 2} => [sock, salen],
              {recv, 2} => [sock, size], {recvfrom, 2} => [sock, size], {read, 2} => [sock, size],
              {recvfrom, 4} => [sock, size, flags, salen], {sendto, 2} => [sock, iodata],
              {sendto, 3} => [sock, iodata, flags], {sendto, 4} => [sock, iodata, flags, sockaddr],
              {recvmsg, 4} => [sock, size, flags, salen],
              {recvmsg, 5} => [sock, size, flags, salen, salen],
              {sendmsg, 4} => [sock, iodata, flags, cmsgs],
              {sendmsg, 5} => [sock, iodata, flags, cmsgs, sockaddr], {write, 2} => [sock, iodata],
              {writev, 2} => [sock, iodata], {ioctl, 3} => [sock, ioreq, ioarg],
              {ioctl, 4} => [sock, ioreq, ioarg, salen], {getsockname, 2} => [sock, salen],
              {getpeername, 2} => [sock, salen], {set_sock_nonblock, 1} => [sock],
              {close, 1} => [sock], {handle, 1} => [sock], {fd, 1} => [hsock],
              {close_handle, 1} => [hsock],
              {handle_info, 1} => [hsock], {controlling_process, 2} => [hsock, pid],
              {select, 2} => [hsock, mode], {cancel_select, 3} => [hsock, mode, ref],
              {wait, 3} => [hsock, mode, timeout], {recvfrom_wait, 3} => [hsock, size, timeout],
              {read_wait, 3} => [hsock, size, timeout],
              {recvfrom_wait, 5} => [hsock, size, flags, salen, timeout],
              {accept_wait, 2} => [hsock, timeout], {connect_wait, 3} => [hsock, sockaddr, timeout],
              {sendto_wait, 5} => [hsock, iodata, flags, sockaddr, timeout],
              {sockaddr_common, 2} => [family, int], {ntohl, 1} => [int_or_data],
              {ntohs, 1} => [int_or_data], {wordalign, 1} => [int], {wordalign, 2} => [int, int],
              {errno_id, 1} => [int]},
    maps:get({F, A}, Specs, lists:duplicate(A, name)).

value(sock) ->
    wpick([{70, fun target/0}, {10, fun own/0}, {5, fun() -> '$closed_handle' end}, {5, fun junk/0},
           {10, fun() -> pick([-1, 0, 1, 2, 5, 999999, 16#7fffffff, 16#80000000, 16#100000005,
                               -16#80000000, 1 bsl 64]) end}]);
value(hsock) ->
    wpick([{70, fun() -> {'$fd', pick([hudp, htcp])} end}, {20, fun() -> value(sock) end},
           {10, fun() -> '$closed_handle' end}]);
value(int) -> int();
value(size) -> size();
value(flags) -> flags();
value(sockaddr) -> sockaddr();
value(iodata) -> iodata();
value(cmsgs) -> cmsgs();
value(ioreq) -> ioreq();
value(ioarg) -> ioarg();
value(name) -> name();
value(open_opts) -> open_opts();
value(ifname) -> ifname();
value(int_or_data) -> pick([int(), value(data)]);
value(data) -> pick([rand_bin(64), <<>>, {'$blob', 0, 65535},
                     <<69, 0, 0, 28, 0:32, 64, 1, 0:16, 127, 0, 0, 1, 127, 0, 0, 1, 0, 0, 0:48>>]);
value(any) -> wpick([{3, fun int/0}, {2, fun iodata/0}, {2, fun target/0}, {2, fun junk/0},
                     {1, fun name/0}, {1, fun sockaddr/0}]);
value(pid) -> {'$proc', pick([self, dead, agent])};
value(Kind) ->
    pick(maps:get(Kind, #{
        port => [0, 0, 53, 80, 1023, 1024, 65535, 65536, -1],
        ioc_int => [0, 1, 255, 256, 16#40000000, 16#80000000, 16#c0000000, 16#3fff, 16#4000,
                    16#2000, -1, 1 bsl 32, 7],
        os => [linux, bsd, windows, 1],
        salen => [0, 0, 16, 28, 110, 128, 1024, 1025, 4096, 65536, -1, 1 bsl 32],
        mode => [read, write, read, write, both],
        ref => ['$ref', '$ref', not_a_ref],
        timeout => [0, 0, 1, 5, 20, 100, -1, 1.5, forever, 1 bsl 70, infinity],
        family => [inet, inet6, unix, local, file, netlink, packet, 2, 10, 46, -1],
        dev => [tun, tap, {tun, "fz0"}, {tap, "abcdefghijklmnop"}, "/dev/net/tun", {tun, 7}],
        ethertype => [all, ip, ipv6, arp, 16#0800, 0, 16#ffff, 16#10000, -1, lldp],
        ip4 => [{127, 0, 0, 1}, "127.0.0.1", {256, 0, 0, 1}, "x", {1, 2, 3}],
        hosts => ["127.0.0.1", "::1", "localhost", {127, 0, 0, 1}, {0, 0, 0, 0, 0, 0, 0, 1},
                  ["127.0.0.1", "::1"], [], {127, 0, 0}, <<"127.0.0.1">>, ["localhost", {1, 2}]],
        %% a few options, then the ones that bound the call's time
        ping_opts => [[pick([{count, pick([1, 3, 0])}, {size, pick([0, 56, 65000, 65001])},
                             {family, pick([inet, inet6, unix])},
                             {socket, pick([auto, dgram, raw, x])},
                             {procket, pick([[], [{exec, [""]}], x])}, {interval, -1}, junk_opt]),
                       {count, 1}, {interval, 10}, {timeout, 100}]],
        icmp_family => [inet, inet6, unix],
        icmp_kind => [raw, dgram, stream],
        helper => ['$helper', "/nonexistent/procket", "procket-no-such-program", "", <<"a b\tc">>,
                   "sudo-no-such -n procket"]})).

int() ->
    wpick([{40, fun() -> pick([0, 1, -1, 2]) end},
           {40, fun() -> pick([3, 4, 7, 8, 16, 64, 127, 128, 255, 256, 1023, 1024, 4096, 65535,
                               65536, 16#7fffffff, 16#80000000, 16#ffffffff, 16#100000005, -2,
                               -16#80000000, -16#80000001, 1 bsl 63, 1 bsl 64, -(1 bsl 63),
                               1 bsl 100]) end},
           {10, fun() -> pick(['$ospid', '$negpid', {'$fdnum', pick(info(pool))}]) end},
           {10, fun() -> rand:uniform(1 bsl 32) - (1 bsl 31) end}]).

size() ->
    pick([0, 1, 4, 16, 64, 1500, 4096, 65536, 64 bsl 20, (64 bsl 20) + 1, -1, 1 bsl 32, 1 bsl 64]).

name() ->
    Names = [N || {N, _} <- lists:append([table(T) || T <- [level, optname, msg, ioctl]])],
    pick([pick(Names), pick(Names), inet, inet6, unix, netlink, packet, vsock, stream, dgram, raw,
          tcp, udp, icmp, nosuch, 'SO_NOSUCH', 2, -1, "inet"]).

flags() ->
    Msg = [N || {N, _} <- table(msg)],
    pick([0, 0, int(), [pick(Msg)], [pick(Msg), pick(Msg)], ['MSG_NOSUCH'],
          {'$improper', ['MSG_PEEK'], x}, [1]]).

junk() ->
    pick([foo, '', -1, 1 bsl 64, -(1 bsl 64), 1.5, [], {'$improper', [1], 2}, [[[[[]]]]], {a, b},
          #{}, {'$proc', self}, '$ref', '$fun', <<1:7>>, "abc", {'$list', 0, 100000}, [1 bsl 70],
          {}, [-1]]).

%% Random bytes, never an AF_UNIX address with a path (only abstract
%% names and relative paths are: see the module doc).
rand_bin(Max) ->
    case rand:bytes(rand:uniform(Max + 1) - 1) of
        <<1, 0, _/binary>> = B -> <<2, B/binary>>;
        B -> B
    end.

pad(Name, N) -> <<Name/binary, 0:((N - byte_size(Name)) * 8)>>.

ifname() ->
    pick(["lo", "lo", "eth0", <<"lo">>, "", "abcdefghijklmno", "abcdefghijklmnop", "lo\0x",
          "l\x{e9}", 'lo', "lo:1"]).

%% A pointer in a structure: mostly into the canary (see the agent).
ptr() ->
    wpick([{60, fun() -> {'$canary', 64 * rand:uniform(60000)} end}, {15, fun() -> 0 end},
           {10, fun() -> 16#ffffffff81000000 end}, {5, fun() -> 16#1000 end},
           {10, fun() -> rand:uniform(1 bsl 64) - 1 end}]).

iodata() ->
    wpick([{30, fun() -> rand_bin(64) end},
           {20, fun() -> {'$bin', [{i32, int()} || _ <- lists:seq(1, rand:uniform(2))]} end},
           {10, fun() -> {'$blob', rand:uniform(256) - 1, pick([1000, 65536, 262144, 1 bsl 20])}
                end},
           {10, fun() -> [rand_bin(16), [rand_bin(8), <<>>], rand_bin(4)] end},
           {5, fun() -> pick([{'$improper', [<<1>>], <<2>>}, [<<1>>, 256], [[[[<<1>>]]]]]) end},
           {5, fun() -> {'$list', <<1>>, pick([1023, 1024, 1025, 5000])} end},
           {5, fun() -> <<>> end},
           {5, fun() -> <<8, 0, 247, 255, 0, 0, 0, 0>> end},   % an ICMP echo request
           {10, fun junk/0}]).

sockaddr() ->
    wpick([{35, fun() -> {'$addr', pick(info(pool))} end},
           {20, fun() -> <<2:16/native, (pick([0, 7, 9, 65535])):16,
                           (pick([<<127, 0, 0, 1>>, <<0:32>>, <<255, 255, 255, 255>>,
                                  <<10, 1, 2, 3>>, <<224, 0, 0, 1>>]))/binary, 0:64>> end},
           {10, fun() -> <<10:16/native, (pick([0, 7])):16, 0:32,
                           (pick([<<0:120, 1>>, <<0:128>>, <<16#ff02:16, 0:104, 1>>,
                                  <<0:80, 16#ffff:16, 127, 0, 0, 1>>]))/binary,
                           (pick([0, 1, 99, 16#ffffffff])):32/native>> end},
           {10, fun() -> pick([<<1:16/native, 0, (rand_bin(20))/binary>>,   % abstract, relative
                               <<1:16/native, "fz.sock">>, <<1:16/native>>,
                               <<1:16/native, 0:864>>]) end},
           {5, fun() -> <<16:16/native, 0:16, (pick([0, 1, 16#ffffffff])):32/native,
                          (pick([0, 1, 16#ffffffff])):32/native>> end},
           {5, fun() -> <<17:16/native, 3:16, 1:32/native, 0:16, 0, 0, 0:64>> end},
           {5, fun() -> rand_bin(130) end},
           {5, fun() -> <<>> end},
           {3, fun() -> {'$blob', 2, pick([1025, 70000])} end},
           {2, fun junk/0}]).

cmsgs() ->
    Fd = fun() -> pick([{'$fdnum', pick(info(pool))}, own(), -1, 999999]) end,
    [wpick([{30, fun() -> {'SOL_SOCKET', 'SCM_RIGHTS',
                           {'$bin', [{i32, Fd()} || _ <- lists:seq(1, rand:uniform(3))]}} end},
            {20, fun() -> {'SOL_SOCKET', 'SCM_CREDENTIALS',
                           {'$bin', [{i32, pick(['$ospid', 0, 1])}, {i32, pick([65534, 0])},
                                     {i32, pick([65534, 0])}]}} end},
            {10, fun() -> {'IPPROTO_IP', pick(['IP_PKTINFO', 'IP_TTL', 'IP_TOS']), rand_bin(16)}
                 end},
            {10, fun() -> {1, int(), rand_bin(16)} end},
            {10, fun() -> {int(), int(), <<>>} end},
            {20, fun junk/0}]) || _ <- lists:seq(1, rand:uniform(3) - 1)].

ioctl_call(T) ->
    Req = ioreq(),
    %% the SIOC* requests take a struct ifreq or ifconf (netdevice(7))
    Arg = case is_atom(Req) andalso lists:prefix("SIOC", atom_to_list(Req)) of
              true -> pick([ifreq(), ifconf(), ioarg()]);
              false -> ioarg()
          end,
    {call, procket, ioctl, [T, Req, Arg]}.

%% FIO* requests and SIOCSPGRP apply to every descriptor: extra weight.
ioreq() ->
    Tab = table(ioctl),
    Generic = [N || {N, _} <- Tab, lists:prefix("FIO", atom_to_list(N)) orelse N =:= 'SIOCSPGRP'],
    wpick([{35, fun() -> element(1, pick(Tab)) end},
           {35, fun() -> pick(Generic) end},
           {10, fun() -> element(2, pick(Tab)) end},
           %% _IOC(Dir, Type, Nr, Size) on Linux
           {10, fun() -> (rand:uniform(4) - 1) bsl 30 bor (rand:uniform(64) bsl 16) bor
                             ((rand:uniform(256) - 1) bsl 8) bor (rand:uniform(256) - 1) end},
           {10, fun() -> pick([-1, 1 bsl 32, 1 bsl 64, 'SIOCNOSUCH', 1.5, "FIONREAD"]) end}]).

ifreq() ->
    Name = pick([<<"lo">>, <<"lo">>, <<"eth0">>, <<>>, <<"lo:1">>, <<"abcdefghijklmno">>]),
    {'$bin', [pad(Name, 16), pick([<<2:16/native, 0:16, 127, 0, 0, 1, 0:64>>, {i32, int()},
                                   {i64, ptr()}, rand_bin(16)]), <<0:192>>]}.

ifconf() ->
    {'$bin', [{i32, pick([0, 40, 80, 4096, 100000, -1])}, {i32, 0}, {i64, ptr()}]}.

ioarg() ->
    %% an int passed by pointer (most FIO* requests) first
    wpick([{30, fun() -> {'$bin', [{i32, pick([0, 1, -1, 16#7fffffff, '$ospid', '$negpid',
                                                rand:uniform(1 bsl 32) - (1 bsl 31)])}]} end},
           {10, fun int/0}, {10, fun ifreq/0}, {10, fun ifconf/0},
           {5, fun() -> {'$bin', [{i64, ptr()}, {i64, ptr()}, {i32, int()}, {i32, int()}]} end},
           {10, fun() -> rand_bin(64) end}, {5, fun() -> <<>> end},
           {5, fun() -> {'$blob', 0, pick([16, 256, 4096, 65536, 65537])} end}, {5, fun junk/0}]).

%% {Level, Optname}: SOL_SOCKET options apply to every socket, and get
%% extra weight, also the numbers below 100 the headers do not name
%% (options newer than them).
sockopt() ->
    Tab = table(optname),
    So = [N || {N, _} <- Tab, lists:prefix("SO_", atom_to_list(N))],
    Prefixes = [{"SO_", 'SOL_SOCKET'}, {"SCM_", 'SOL_SOCKET'}, {"IPV6_", 'IPPROTO_IPV6'},
                {"IP_", 'IPPROTO_IP'}, {"MCAST_", 'IPPROTO_IP'}, {"TCP_", 'IPPROTO_TCP'},
                {"UDP_", 'IPPROTO_UDP'}, {"PACKET_", 'SOL_PACKET'}, {"NETLINK_", 'SOL_NETLINK'}],
    wpick([{25, fun() -> {N, _} = pick(Tab),
                         case [L || {P, L} <- Prefixes, lists:prefix(P, atom_to_list(N))] of
                             [L | _] -> {L, N};
                             [] -> {element(1, pick(table(level))), N}
                         end end},
           {25, fun() -> {'SOL_SOCKET', pick(So)} end},
           {25, fun() -> {pick(['SOL_SOCKET', 1]),
                          pick(lists:seq(0, 99) -- [V || {N, V} <- Tab, lists:member(N, So)])} end},
           {15, fun() -> {pick([element(1, pick(table(level))), 0, 6, 17, 41, 263, int()]), int()}
                end},
           {10, fun() -> {pick(['SOL_NOSUCH', junk()]), pick(['SO_NOSUCH', junk()])} end}]).

sockopt_args() ->
    {L, O} = sockopt(),
    [L, O, optval(O)].

getsockopt_args() ->
    {L, O} = sockopt(),
    [L, O, pick([<<0:32>>, <<0:32>>, <<0:64>>, <<>>, {'$blob', 0, 128}, {'$blob', 0, 65536},
                 {'$blob', 0, 65537}, rand_bin(32)])].

%% The shape of the C type for the options whose type is a struct, else a
%% mix of shapes.
optval('SO_LINGER') ->
    {'$bin', [{i32, pick([0, 1, 1])}, {i32, pick([-1, 0, 1, 5, 16#7fffffff, -16#80000000])}]};
optval(N) when N =:= 'SO_RCVTIMEO'; N =:= 'SO_SNDTIMEO' ->
    {'$bin', [{i64, pick([0, 1, -1, 1 bsl 62])}, {i64, pick([0, 999999, 1000000, -1])}]};
optval(N) when N =:= 'SO_ATTACH_FILTER'; N =:= 'SO_ATTACH_REUSEPORT_CBPF' ->
    {'$bin', [{i16, pick([0, 1, 4, 65535])}, <<0:48>>, {i64, ptr()}]};   % struct sock_fprog
optval('SO_BINDTODEVICE') ->
    pick([<<"lo">>, <<"lo", 0>>, <<"eth0">>, <<>>, pad(<<"abcdefghijklmno">>, 16)]);
optval(_) ->
    wpick([{25, fun() -> {'$bin', [{i32, int()}]} end},
           {10, fun int/0},
           {25, fun() -> {'$bin', [{i32, pick([0, 1, 1, -1])}, {i32, int()}]} end},
           {10, fun() -> {'$bin', [{i64, int()}, {i64, int()}]} end},
           {10, fun() -> rand_bin(64) end},
           {10, fun() -> {'$bin', [{i16, pick([0, 1, 4, 65535])}, <<0:48>>, {i64, ptr()}]} end},
           {10, fun() -> pick([{'$blob', 0, 65536}, {'$blob', 0, 65537}, <<>>, junk()]) end}]).

%% socket/3 with what cannot load a kernel module (see the module doc).
socket3() ->
    pick([[pick([inet, inet6, 2, 10]), pick([stream, 1]), pick([0, tcp, 6])],
          [pick([inet, inet6]), pick([dgram, 2]), pick([0, udp, icmp, 'ipv6-icmp', udplite, 17])],
          [pick([inet, inet6]), raw, pick([0, icmp, 255, raw, tcp])],
          [pick([unix, local, file, 1]), pick([stream, dgram, seqpacket]), pick([0, 1, 2])],
          [netlink, pick([raw, dgram]), pick([0, 2, 4, 15, 16, 32, -1])],
          [packet, pick([raw, dgram]), pick([0, 3, 768])],
          [pick([46, 255, -1, 1 bsl 32, nosuch, "inet"]), stream, 0],
          [inet, pick([-1, 11, 1 bsl 20, 1 bsl 32, nosuch]), 0],
          [inet, pick([stream, dgram]), pick([-1, 263, 1 bsl 32, nosuch])]]).

%% Options of procket:open/2 and the like, the same way (no sctp; pipes
%% relative to the VM's directory or where nothing can be made).
open_opts() ->
    Opt = fun() ->
                  wpick([{10, fun() -> {protocol, pick([tcp, udp, icmp, 'ipv6-icmp', udplite, raw,
                                                        ip, 0, 6, 17, nosuch, 256])} end},
                         {5, fun() -> {type, pick([stream, dgram, raw, 7])} end},
                         {5, fun() -> {family, pick([inet, inet6, packet, unix, 99])} end},
                         {5, fun() -> {ip, pick(["127.0.0.1", "::1", {127, 0, 0, 1}, "x"])} end},
                         {3, fun() -> {interface, ifname()} end},
                         {3, fun() -> {backlog, pick([0, 5, 65535, 65536, -1])} end},
                         {3, fun() -> {ipv6_v6only, pick([true, false, maybe])} end},
                         {5, fun() -> {progname, value(helper)} end},
                         {5, fun() -> {exec, pick([[""], ["", "nosuchprefix"], [], [<<"a\0b">>],
                                                   x])} end},
                         {3, fun() -> {pipe, pick(["fz.sock", "sub/fz.sock", "/nonexistent/fz.sock",
                                                   "", <<"a\0b">>, 7])} end},
                         {3, fun() -> {timeout, pick([1, 50, 500, 0, -1, x])} end},
                         {3, fun() -> {namespace, pick(["fz", "..", "a/b", "", 7])} end},
                         {3, fun() -> {dev, value(dev)} end},
                         {2, fun() -> {packet_info, pick([true, false, 1])} end},
                         {4, fun() -> pick([inet6, {ttl, 5}, junk()]) end}])
          end,
    pick([[Opt() || _ <- lists:seq(1, rand:uniform(4))], [], {'$improper', [{protocol, udp}], x},
          junk()]).
