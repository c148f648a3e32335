%% @doc The fuzzed VM's side of {@link procket_fuzz_api}, started with
%% `-s procket_fuzz_agent start' in a VM running as uid 65534. It talks to
%% the controller over descriptors 3 (in) and 4 (out) with {packet, 4}
%% framed terms, runs each call it is sent in a new process with a
%% deadline, and checks the VM around the calls: descriptors, a canary in
%% memory, the schedulers, memory. Each call is written to `journal' (in
%% the current directory) before it is made, so that the controller knows
%% the call in flight when the VM dies.
-module(procket_fuzz_agent).

-export([start/0]).

-define(CALL_MS, 600).      % a call not done by then may be a stall
-define(MS_MS, 500).        % deadline of ms_check/0: every normal scheduler runs
-define(RACE_MS, 20).       % how long the sides of a race run
-define(MEM_MAX, 2 bsl 30). % erlang:memory(total) above this is a leak
-define(MAGIC, "PKFZCANARY").
-define(BLOCKS, 16384).     % the canary: 64-byte blocks
-define(DEAD_FD, 999999).   % what a pool member that is gone resolves to
-define(MODS, [procket, procket_socket, packet, bpf, procket_ping, procket_ioctl,
               procket_icmp, procket_opts]).
-define(GROUPS, [udp, udp6, tcp, unix, unixd, icmp, netlink, hudp, htcp]).

-spec start() -> pid().
start() ->
    spawn(fun init/0).

init() ->
    process_flag(trap_exit, true),
    Port = open_port({fd, 3, 4}, [binary, {packet, 4}]),
    ok = inet_db:set_lookup([file]),   % host names from the hosts file only
    [{module, _} = code:ensure_loaded(M) || M <- ?MODS],
    _ = procket_ping:ping(["127.0.0.1", "::1"], [{timeout, 50}]),   % loads what it uses
    {ok, J} = file:open("journal", [append, raw]),
    {ok, FD} = procket:socket(inet, dgram, udp),
    {ok, H} = procket:handle(FD),
    ok = procket:close_handle(H),
    St0 = #{port => Port, journal => J, closed => H, dead => spawn(fun() -> ok end),
            progress => counters:new(1, []), canary => canary(), pool => #{},
            agent => self(), own => fds() -- [3, 4]},
    St = lists:foldl(fun add_group/2, St0, ?GROUPS),
    send(Port, {hello, os:getpid(),
                [{M, F, A} || M <- ?MODS, {F, A} <- M:module_info(exports), F =/= module_info],
                [{F, target(F)} || F <- maps:get(own, St)],
                lists:sort(maps:keys(maps:get(pool, St))),
                [{ioctl, procket:ioctl_request()}, {optname, procket:socket_optname()},
                 {level, procket:socket_level()}, {msg, procket:msg_flag()}]}),
    Me = self(),
    spawn_link(fun() -> heartbeat(Port, maps:get(progress, St), Me) end),
    loop(St).

%% Every 300 ms: a count that grows while the agent makes progress, and
%% where the agent is.
heartbeat(Port, Progress, Agent) ->
    timer:sleep(300),
    Where = case process_info(Agent, current_stacktrace) of
                {current_stacktrace, S} -> [{M, F, A} || {M, F, A, _} <- lists:sublist(S, 4)];
                _ -> undefined
            end,
    send(Port, {hb, counters:get(Progress, 1), Where}),
    heartbeat(Port, Progress, Agent).

send(Port, Term) ->
    true = erlang:port_command(Port, term_to_binary(Term)).

loop(#{port := Port} = St) ->
    receive
        {Port, {data, Bin}} ->
            case binary_to_term(Bin) of
                {batch, N, Calls} ->
                    {Reply, St1} = batch(N, Calls, St),
                    send(Port, Reply),
                    loop(St1);
                stop ->
                    erlang:halt(0)
            end;
        {'EXIT', Port, _} ->
            erlang:halt(0);
        _ ->
            loop(St)
    end.

%% --- a batch: the calls, the housekeeping, the checks ---------------------

%% Findings are {Class, CallIndex, Kind, Detail, VMUnfit}.
batch(N, Calls, St0) ->
    erase(suspects),
    {Ran, Findings, Expected, St} = calls(N, 1, Calls, fds(), [], [], St0),
    {More, St1} = case lists:keymember(true, 5, Findings) of
                      true -> {[], St};
                      false ->
                          case housekeeping(N, Ran + 1, St) of
                              {[], S} -> {health(Ran + 1, S), S};
                              Stalled -> Stalled
                          end
                  end,
    {{done, N, Ran, Expected, Findings ++ More}, St1}.

calls(_, I, [], _, Fs, E, St) ->
    {I - 1, lists:reverse(Fs), E, St};
calls(N, I, [Call | Rest], Before, Fs, E, St) ->
    journal(St, N, I, Call),
    case guard(fun() -> run(Call, St) end, St) of
        {ok, {value, {stall, Kind, What}}} ->
            {I, lists:reverse([{stall, I, Kind, What, true} | Fs]), E, St};
        {ok, _} ->
            After = fds(Before),
            suspect(I, After -- Before),
            case canary_check(I, has(Call, '$canary'), St) of
                [] -> calls(N, I + 1, Rest, After, Fs, E, St);
                C -> calls(N, I + 1, Rest, After, C ++ Fs, E, St#{canary := canary()})
            end;
        {expected, _} ->
            calls(N, I + 1, Rest, fds(Before), Fs, [callee(Call) | E], St);
        {stall, Kind, What} ->
            {I, lists:reverse([{stall, I, Kind, What, true} | Fs]), E, St}
    end.

%% Fun() in a new process: {ok, {value, V} | {'EXIT', Why}} within
%% ?CALL_MS. Later: {stall, normal_scheduler, _} if the normal schedulers
%% cannot be blocked; {expected, _} if poking the pool releases it
%% (blocked as documented: on a dirty scheduler, on a descriptor in
%% blocking mode or a lingering close); else {stall, blocked, _}.
guard(Fun, St) ->
    counters:add(maps:get(progress, St), 1, 1),
    Me = self(),
    Tag = make_ref(),
    {Pid, MRef} = spawn_monitor(fun() -> Me ! {Tag, Fun()} end),
    Wait = fun(Ms) ->
                   receive
                       {Tag, V} -> erlang:demonitor(MRef, [flush]), {value, V};
                       {'DOWN', MRef, _, _, Why} -> {'EXIT', Why}
                   after Ms -> timeout
                   end
           end,
    case Wait(?CALL_MS) of
        timeout ->
            Info = peek(Pid),
            case ms_check() andalso poke(St) andalso Wait(500) of
                false ->
                    {stall, normal_scheduler,
                     io_lib:format("normal scheduler blocked: a process bound to it did not "
                                   "run in ~p ms; the call's process: ~0p",
                                   [?MS_MS, Info])};
                timeout when is_list(Info) andalso
                              element(2, hd(Info)) =:= {procket_socket, await, 4} ->
                    %% a _wait call or wait/3 in receive, its timeout not
                    %% reached: it holds no scheduler (as documented)
                    exit(Pid, kill),
                    {expected, waiting};
                timeout ->
                    {stall, blocked,
                     io_lib:format("no return in ~p ms (the schedulers are fine, poking the "
                                   "pool did not release it); the call's process: ~0p; "
                                   "the VM's threads in the kernel: ~0p",
                                   [?CALL_MS, Info, threads()])};
                R ->
                    {expected, R}
            end;
        R ->
            {ok, R}
    end.

%% The VM's threads that wait in the kernel on something other than a
%% futex or the poll set (a stall's likely place): {Name, Wchan, Syscall}.
threads() ->
    {ok, Ts} = file:list_dir("/proc/self/task"),
    Read = fun(T, F) ->
                   case file:read_file(filename:join(["/proc/self/task", T, F])) of
                       {ok, B} -> string:trim(binary_to_list(B));
                       {error, E} -> E
                   end
           end,
    [{Name, Wchan, Sys}
     || T <- Ts, Name <- [Read(T, "comm")], Wchan <- [Read(T, "wchan")],
        Sys <- [hd(string:split(Read(T, "syscall"), " ") ++ [""])],
        not lists:member(Wchan, ["futex_wait_queue", "futex_wait_queue_me", "futex_do_wait",
                                 "do_epoll_wait", "0", ""])].

%% In the call's process.
run({call, _, _, _} = Call, St) ->
    {_, Made} = call(Call, [], St),
    cleanup(Made, true);
run({flood, Sock}, St) ->
    S = resolve(Sock, St),
    Chunk = binary:copy(<<0>>, 262144),
    lists:foldl(fun(_, ok) -> case catch procket:sendto(S, Chunk) of
                                  {error, _} -> stop;
                                  {'EXIT', _} -> stop;
                                  _ -> ok
                              end;
                   (_, stop) -> stop
                end, ok, lists:seq(1, 64));
run({race, A, B}, #{pool := Pool} = St) ->
    %% two processes run side A over and over, one side B; one left
    %% blocked then is a normal scheduler blocked, unless poking releases
    %% it (through its peer: no race if a member of its group is gone), or
    %% closing what it waits on does (a wait for data that cannot come: a
    %% call may have connected the socket elsewhere, or filtered it)
    Me = self(),
    Until = erlang:monotonic_time(millisecond) + ?RACE_MS,
    Ts = targets({A, B}),
    Gs = [G || #{group := G} <- maps:values(maps:with(Ts, Pool))],
    Ps = [spawn_link(fun() -> race(Side, Side, Until, St), Me ! {raced, self()} end)
          || lists:all(fun alive/1, [M || #{group := G} = M <- maps:values(Pool),
                                          lists:member(G, Gs)]),
             Side <- [A, A, B]],
    case racers(Ps, Until + 30) of
        [] ->
            ok;
        Left ->
            case ms_check() of
                true ->
                    _ = poke(St, Ts ++ [peer(T) || T <- Ts]),
                    case racers(Left, erlang:monotonic_time(millisecond) + 200) of
                        [] ->
                            ok;
                        Still ->
                            _ = [catch close_member(M) || M <- maps:values(maps:with(Ts, Pool)),
                                                          alive(M)],
                            [] = racers(Still, infinity)   % or the call's deadline passes
                    end;
                false ->
                    {stall, normal_scheduler,
                     io_lib:format("normal scheduler blocked in a race: a process bound to "
                                   "it did not run in ~p ms; the racers left: ~0p",
                                   [?MS_MS, [peek(P) || P <- Left]])}
            end
    end;
run({seq, Calls, Mode}, St) ->
    Made = lists:foldl(fun({call, _, _, _} = C, Acc) -> Acc ++ [call(C, Acc, St)];
                          (Meta, Acc) -> _ = run(subst(Meta, Acc), St), Acc ++ [{none, []}]
                       end, [], Calls),
    %% Mode exit: its handles are closed by the owner's exit (this process's)
    cleanup(lists:append([C || {_, C} <- Made]), Mode =:= close).

%% One call: {Value, what it created}. {'$res', I} is the value of the
%% I-th call of a sequence (Res).
call({call, M, F, Args0}, Res, St) ->
    Args = resolve(subst(Args0, Res), St),
    nonblock(F, Args, St),
    try apply(M, F, Args) of
        {ok, <<FD:32/native-signed>>} = R when F =:= getsockopt ->
            %% SO_PEERPIDFD (77) gives a pidfd, the caller's to close
            {R, [FD || peer_pidfd(Args)]};
        {ok, X} = R -> {X, created(F, R)};
        {ok, X, _} = R -> {X, created(F, R)};
        R -> {none, created(F, R)}
    catch
        _:_ -> {none, []}
    end.

race([], Side, Until, St) ->
    race(Side, Side, Until, St);
race([Call | Rest], Side, Until, St) ->
    case erlang:monotonic_time(millisecond) < Until of
        true -> cleanup(element(2, call(Call, [], St)), true), race(Rest, Side, Until, St);
        false -> ok
    end.

%% The racers not done by the monotonic time Until.
racers([], _) -> [];
racers([P | Rest] = Ps, Until) ->
    Ms = case Until of
             infinity -> infinity;
             _ -> max(0, Until - erlang:monotonic_time(millisecond))
         end,
    receive {raced, P} -> racers(Rest, Until) after Ms -> Ps end.

subst({'$res', I}, Res) when I =< length(Res) -> element(1, lists:nth(I, Res));
subst(T, Res) when is_tuple(T) -> list_to_tuple(subst(tuple_to_list(T), Res));
subst([H | T], Res) -> [subst(H, Res) | subst(T, Res)];
subst(X, _) -> X.

peer_pidfd([_, L, O | _]) ->
    lists:member(L, [1, 'SOL_SOCKET']) andalso lists:member(O, [77, 'SO_PEERPIDFD']);
peer_pidfd(_) ->
    false.

callee({call, M, F, A}) -> {M, F, length(A)};
callee(Meta) -> element(1, Meta).

%% Descriptors and handles a call gave the caller: closed after it.
created(F, {ok, FD}) when is_integer(FD) ->
    [FD || lists:member(F, [socket, accept, open, listen, dev, accept_wait])];
created(accept, {ok, FD, _}) when is_integer(FD) -> [FD];
created(handle, {ok, H}) -> [{handle, H}];
created(recvmsg, R) when element(1, R) =:= ok ->
    %% SCM_RIGHTS, SCM_PIDFD
    [FD || {1, T, Data} <- element(4, R), T =:= 1 orelse T =:= 4,
           <<FD:32/native-signed>> <= Data];
created(_, _) -> [].

cleanup(Made, Handles) ->
    _ = [case X of
             {handle, H} when Handles -> catch procket:close_handle(H);
             {handle, _} -> ok;
             FD -> catch procket:close(FD)
         end || X <- Made],
    ok.

%% A pool descriptor is made non-blocking again before the calls that
%% wait on a blocking one as documented (on a dirty scheduler).
nonblock(F, [FD | _], #{pool := Pool}) when is_integer(FD) ->
    case lists:member(F, [read, write, writev, accept, connect]) andalso
        [x || #{v := V} <- maps:values(Pool), V =:= FD] =/= [] of
        true -> _ = procket:set_sock_nonblock(FD), ok;
        false -> ok
    end;
nonblock(_, _, _) ->
    ok.

journal(#{journal := J}, N, I, Call) ->
    Text = lists:flatten(io_lib:format("~0tP", [Call, 40])),
    ok = file:write(J, [integer_to_list(N), $:, integer_to_list(I), $\s,
                        lists:sublist(Text, 4000), $\n]).

%% --- the checks -------------------------------------------------------------

%% The open descriptors. A listing shows the descriptor of the directory
%% being read, the lowest free one, closed by the time the list comes
%% back: it is found (readlink fails) and left out, first looked for
%% among the numbers not open before (Prev).
fds() ->
    fds([]).

fds(Prev) ->
    {ok, Names} = file:list_dir("/proc/self/fd"),
    S = lists:sort([list_to_integer(N) || N <- Names]),
    Low = lists:reverse([F || {I, F} <- lists:zip(lists:seq(0, length(S) - 1), S), I =:= F]),
    New = Low -- Prev,
    case lists:search(fun(F) -> target(F) =:= closed end, New ++ (Low -- New)) of
        {value, Dir} -> S -- [Dir];
        false -> S
    end.

target(FD) ->
    case file:read_link("/proc/self/fd/" ++ integer_to_list(FD)) of
        {ok, L} -> L;
        {error, _} -> closed
    end.

%% Descriptors that appeared during a call (what it made is closed by
%% then): confirmed as leaks at the end of the batch if still open.
suspect(I, New) ->
    case [{F, L} || F <- New, L <- [target(F)], L =/= closed] of
        [] -> ok;
        Fds -> put(suspects, [{I, Fds} | suspects()])
    end.

suspects() ->
    case get(suspects) of
        undefined -> [];
        S -> S
    end.

%% After a batch: suspects still open (after a grace time: a lingering
%% socket may be closing in a thread) are leaks, unless the normal
%% schedulers cannot be blocked; memory is bounded.
health(I, #{own := Own0, pool := Pool0} = St) ->
    counters:add(maps:get(progress, St), 1, 1),
    Known = [{F, target(F)} || F <- Own0] ++
        [{F, L} || #{fd := F, link := L} <- maps:values(Pool0)],
    Leaked = fun(Fds) -> [X || {F, L} = X <- Fds, target(F) =:= L, not lists:member(X, Known)] end,
    settle(fun() -> Leaked(lists:append([Fds || {_, Fds} <- suspects()])) =:= [] end, 10),
    Leaks = [{leak, J, kind(L), io_lib:format("descriptor(s) left open, not returned to "
                                              "the caller: ~0p", [L]), false}
             || {J, Fds} <- lists:reverse(suspects()), L <- [Leaked(Fds)], L =/= []],
    Mem = [{leak, I, memory, io_lib:format("erlang:memory(total) is ~p", [T]), true}
           || T <- [erlang:memory(total)], T > ?MEM_MAX],
    case ms_check() of
        true -> lists:sublist(Leaks, 1) ++ Mem;
        false -> [{stall, I, normal_scheduler,
                   io_lib:format("normal scheduler blocked after the batch: a process "
                                 "bound to it did not run in ~p ms", [?MS_MS]), true}]
    end.

%% Waits up to N x 20 ms for Fun() to be true.
settle(Fun, N) ->
    Fun() orelse N =:= 0 orelse (timer:sleep(20) =:= ok andalso settle(Fun, N - 1)).

%% What a leaked descriptor is: "socket", "pipe", "anon_inode:[pidfd]", ...
kind([{_, L} | _]) ->
    case re:run(L, "^([a-z]+):\\[[0-9]+\\]$", [{capture, all_but_first, list}]) of
        {match, [K]} -> K;
        nomatch when hd(L) =:= $/ -> "file";
        nomatch -> L
    end.

%% What a process is doing (process_info waits while it runs a dirty NIF).
peek(Pid) ->
    Me = self(),
    Tag = make_ref(),
    spawn(fun() -> Me ! {Tag, process_info(Pid, [current_function, status])} end),
    receive {Tag, Info} -> Info after 100 -> [{status, busy}] end.

%% Whether every normal scheduler runs: a process bound to each (the
%% undocumented {scheduler, N} of spawn_opt) must answer within ?MS_MS.
%% A scheduler held in a NIF call cannot run the one bound to it. Neither
%% multi_scheduling block_normal (seen to return while a normal scheduler
%% sat in recvmsg(2)) nor a sleep (another scheduler runs it) would show
%% that for certain; and dirty schedulers may be held as documented
%% (blocking mode), so they are not asked.
ms_check() ->
    Me = self(),
    Tag = make_ref(),
    N = erlang:system_info(schedulers_online),
    _ = [spawn_opt(fun() -> Me ! {Tag, I} end, [{scheduler, I}]) || I <- lists:seq(1, N)],
    ms_answers(Tag, N, erlang:monotonic_time(millisecond) + ?MS_MS).

ms_answers(_, 0, _) ->
    true;
ms_answers(Tag, N, Deadline) ->
    Left = max(0, Deadline - erlang:monotonic_time(millisecond)),
    receive {Tag, _} -> ms_answers(Tag, N - 1, Deadline)
    after Left -> false
    end.

%% The canary: a binary made at once by binary:copy/2 (so that no stale
%% copy of it is left in memory) of a 64-byte block with a random nonce,
%% found in the VM's memory through /proc/self/mem: the run of pages that
%% hold nothing else. Calls get pointers into those pages (at most a page
%% from the end); a byte that changes was written through one.
canary() ->
    Block = <<?MAGIC, (rand:bytes(16))/binary, 0:304>>,
    Bin = binary:copy(Block, ?BLOCKS),
    Twice = <<Block/binary, Block/binary>>,
    {ok, Mem} = file:open("/proc/self/mem", [read, raw, binary]),
    {ok, Maps} = file:read_file("/proc/self/maps"),
    Rw = [{binary_to_integer(S, 16), binary_to_integer(E, 16)}
          || L <- binary:split(Maps, <<"\n">>, [global]),
             [Range, <<"rw", _/binary>> | _] <- [binary:split(L, <<" ">>, [global])],
             [S, E] <- [binary:split(Range, <<"-">>)]],
    %% a page of the pattern, the blocks starting anywhere in the page
    Is = fun(A) -> case file:pread(Mem, A, 4096) of
                       {ok, <<P:64/binary, _/binary>> = Data} ->
                           Data =:= binary:copy(P, 64) andalso binary:match(Twice, P) =/= nomatch;
                       _ -> false
                   end
         end,
    Run = case [A || {S, E} <- Rw, E - S >= 64 * ?BLOCKS, A <- lists:seq(S, E - 4096, 65536),
                     Is(A)] of
              [A | _] -> {first(Is, A, -4096), first(Is, A, 4096) + 4096};
              [] -> {0, 8192}
          end,
    ok = file:close(Mem),
    {Bin, Block, Run}.

%% The last page from A on, by Step, that holds the pattern.
first(Is, A, Step) ->
    case Is(A + Step) of
        true -> first(Is, A + Step, Step);
        false -> A
    end.

canary_check(_, false, _) ->
    [];
canary_check(I, true, #{canary := {Bin, Block, {Start, _}}}) ->
    case [O || O <- lists:seq(0, byte_size(Bin) - 64, 64), binary:part(Bin, O, 64) =/= Block] of
        [] -> [];
        [Off | _] ->
            [{corruption, I, canary,
              io_lib:format("VM memory written through a pointer the call passed: the "
                            "canary (pages from ~.16#) changed: ~0p",
                            [Start, binary:part(Bin, Off, 64)]), true}]
    end.

has({Tag, _}, Tag) -> true;
has(T, Tag) when is_tuple(T) -> has(tuple_to_list(T), Tag);
has([H | T], Tag) -> has(H, Tag) orelse has(T, Tag);
has(_, _) -> false.

targets({'$fd', Name}) -> [Name];
targets(T) when is_tuple(T) -> targets(tuple_to_list(T));
targets([H | T]) -> targets(H) ++ targets(T);
targets(_) -> [].

%% --- the pool: descriptors and handles the calls name --------------------

lo(inet) -> <<(procket:sockaddr_common(inet, 16))/binary, 0:16, 127, 0, 0, 1, 0:64>>;
lo(inet6) -> <<(procket:sockaddr_common(inet6, 28))/binary, 0:16, 0:32, 0:120, 1, 0:32>>.

abstract() ->
    Name = iolist_to_binary(["pkfz-", os:getpid(), $-,
                             integer_to_list(erlang:unique_integer([positive]))]),
    <<(procket:sockaddr_common(unix, 0))/binary, 0, Name/binary>>.

bound(Family, Type, Proto, Addr) ->
    {ok, FD} = procket:socket(Family, Type, Proto),
    ok = procket:bind(FD, Addr),
    FD.

name(FD) ->
    {ok, A} = procket:getsockname(FD, 128),
    A.

accepted(L, N) ->
    case procket:accept(L) of
        {ok, S} -> S;
        {error, eagain} when N > 0 -> timer:sleep(1), accepted(L, N - 1)
    end.

stream_pair(Family, Proto, Addr) ->
    L = bound(Family, stream, Proto, Addr),
    ok = procket:listen(L, 8),
    {ok, C} = procket:socket(Family, stream, Proto),
    _ = procket:connect(C, name(L)),
    {L, C, accepted(L, 100)}.

group(udp) -> [{Name, bound(inet, dgram, udp, lo(inet))} || Name <- [udp_a, udp_b]];
group(udp6) -> [{udp6, bound(inet6, dgram, udp, lo(inet6))}];
group(tcp) -> {L, C, S} = stream_pair(inet, tcp, lo(inet)), [{tcp_l, L}, {tcp_c, C}, {tcp_s, S}];
group(unix) ->
    {L, A, B} = stream_pair(unix, 0, abstract()),
    [{unix_l, L}, {unix_a, A}, {unix_b, B}];
group(unixd) ->
    [A, B] = [bound(unix, dgram, 0, abstract()) || _ <- [a, b]],
    ok = procket:connect(A, name(B)),
    ok = procket:connect(B, name(A)),
    [{unixd_a, A}, {unixd_b, B}];
group(icmp) -> [{icmp, FD} || {ok, FD} <- [procket:socket(inet, dgram, icmp)]];
group(netlink) -> [{netlink, element(2, {ok, _} = procket:socket(netlink, raw, 0))}];
group(hudp) -> [{hudp, element(2, {ok, _} = procket:handle(bound(inet, dgram, udp, lo(inet))))}];
group(htcp) ->
    {L, C, S} = stream_pair(inet, tcp, lo(inet)),
    ok = procket:close(L),
    {ok, H} = procket:handle(C),
    [{htcp, H}, {htcp_peer, S}].

%% Made in any process; handles then belong to the agent's, which
%% outlives the calls.
add_group(G, #{pool := Pool, agent := Agent} = St) ->
    Members = [begin
                   FD = case V of
                            _ when is_integer(V) -> V;
                            _ -> ok = procket:controlling_process(V, Agent), procket:fd(V)
                        end,
                   {Name, #{v => V, fd => FD, link => target(FD), group => G, addr => name(V)}}
               end || {Name, V} <- group(G)],
    St#{pool := maps:merge(Pool, maps:from_list(Members))}.

alive(#{v := V, fd := FD, link := L}) ->
    target(FD) =:= L andalso
        (is_integer(V) orelse maps:get(state, procket:handle_info(V)) =:= open).

%% Between batches, guarded as a call is (closing a lingering socket may
%% wait): connections waiting on the listeners are accepted and closed; a
%% group with a member gone is closed and made again.
housekeeping(N, I, St) ->
    journal(St, N, I, housekeeping),
    case guard(fun() -> maps:get(pool, rebuild(St)) end, St) of
        {_, {value, Pool}} -> {[], St#{pool := Pool}};
        {_, {'EXIT', Why}} -> error({housekeeping, Why});
        {stall, Kind, What} -> {[{stall, I, Kind, ["between batches: " | What], true}], St}
    end.

rebuild(#{pool := Pool} = St) ->
    [drain_listener(M) || #{v := L} = M <- maps:values(maps:with([tcp_l, unix_l], Pool)), L > 0],
    Dead = lists:usort([G || #{group := G} = M <- maps:values(Pool), not alive(M)]),
    lists:foldl(fun(G, #{pool := P} = S) ->
                        {Gone, Keep} = maps:fold(fun(K, #{group := G1} = M, {A, B}) when G1 =:= G ->
                                                         {[M | A], maps:remove(K, B)};
                                                    (_, _, Acc) -> Acc
                                                 end, {[], P}, P),
                        _ = [close_member(M) || M <- Gone, alive(M)],
                        add_group(G, S#{pool := Keep})
                end, St, Dead).

close_member(#{v := V}) when is_integer(V) -> procket:close(V);
close_member(#{v := V}) -> procket:close_handle(V).

drain_listener(#{v := L} = M) ->
    case alive(M) andalso procket:set_sock_nonblock(L) =:= ok andalso procket:accept(L) of
        {ok, S} -> _ = procket:close(S), drain_listener(M);
        _ -> ok
    end.

%% Releases calls blocked as documented: everything queued is read away,
%% then data comes for every member and connections for the listeners.
poke(#{pool := Pool} = St) ->
    poke(St, maps:keys(Pool)).

poke(#{pool := Pool}, Names) ->
    {P, MRef} = spawn_monitor(fun() -> [poke(N, M, Pool) || {N, M} <- maps:to_list(Pool),
                                                            lists:member(N, Names), alive(M)]
                              end),
    receive {'DOWN', MRef, _, _, _} -> true after 200 -> exit(P, kill), true end.

poke(Name, #{addr := A} = M, _) when Name =:= tcp_l; Name =:= unix_l ->
    F = case Name of tcp_l -> inet; unix_l -> unix end,
    [case procket:socket(F, stream, 0) of
         {ok, C} -> _ = procket:connect(C, A), timer:sleep(1), procket:close(C);
         _ -> ok
     end || _ <- lists:seq(1, 12)],
    drain_listener(M);
poke(Name, #{v := V, addr := A}, Pool) ->
    %% a socket filter a call attached (packet:filter/2) may drop what
    %% the poke sends
    _ = (catch packet:unfilter(V)),
    drain(V, 2000),
    {From, Data, To} = case Name of
                           icmp -> {V, <<8, 0, 247, 255, 0:32>>, lo(inet)};   % an echo request
                           %% NLMSG_NOOP, NLM_F_ACK, to the kernel: it answers
                           netlink -> {V, <<16:32/native, 1:16/native, 5:16/native, 0:64>>,
                                       <<16:16/native, 0:80>>};
                           _ when is_map_key(Name, Pool) ->
                               case peer(Name) of
                                   Name -> {connected_from(V, Pool), <<0>>, A};
                                   P -> {maps:get(v, maps:get(P, Pool)), <<0>>, <<>>}
                               end
                       end,
    _ = [procket:sendto(From, Data, 0, To) || _ <- lists:seq(1, 12)],
    [procket:close(S) || S <- get_list(poke_socks)],
    erase(poke_socks).

%% Where datagrams to V come from: a socket of their own (V itself may be
%% corked, UDP_CORK, or shut down by a call), or, when a call connected V,
%% which then takes datagrams from its peer only, the pool member at that
%% address or a socket bound to it for the purpose.
connected_from(V, Pool) ->
    case procket:getpeername(V, 128) of
        {ok, <<Fam:16/native, _/binary>> = Peer} when Fam =:= 2; Fam =:= 10 ->
            case [W || #{v := W, addr := Addr} <- maps:values(Pool), Addr =:= Peer] of
                [W | _] -> W;
                [] -> sender(Fam, Peer, V)
            end;
        _ ->
            case procket:getsockname(V, 128) of
                {ok, <<Fam:16/native, _/binary>>} when Fam =:= 2; Fam =:= 10 ->
                    sender(Fam, none, V);
                _ ->
                    V
            end
    end.

%% A UDP socket of family Fam (2 or 10), bound to Addr unless none, to be
%% closed after the poke; Default if none can be made.
sender(Fam, Addr, Default) ->
    Family = case Fam of 2 -> inet; 10 -> inet6 end,
    case procket:socket(Family, dgram, udp) of
        {ok, S} when Addr =:= none ->
            put(poke_socks, [S | get_list(poke_socks)]), S;
        {ok, S} ->
            case procket:bind(S, Addr) of
                ok -> put(poke_socks, [S | get_list(poke_socks)]), S;
                _ -> procket:close(S), Default
            end;
        _ ->
            Default
    end.

get_list(Key) ->
    case get(Key) of
        undefined -> [];
        L -> L
    end.

peer(tcp_c) -> tcp_s;
peer(tcp_s) -> tcp_c;
peer(unix_a) -> unix_b;
peer(unix_b) -> unix_a;
peer(unixd_a) -> unixd_b;
peer(unixd_b) -> unixd_a;
peer(htcp) -> htcp_peer;
peer(htcp_peer) -> htcp;
peer(Name) -> Name.

drain(V, N) ->
    case N > 0 andalso procket:recvfrom(V, 65536) of
        {ok, _} -> drain(V, N - 1);
        _ -> ok
    end.

%% --- values only this VM knows, named by the controller ------------------

resolve({'$fd', Name}, #{pool := Pool}) ->
    case maps:get(Name, Pool, none) of
        #{v := V} = M when is_integer(V) ->
            case alive(M) of true -> V; false -> ?DEAD_FD end;
        #{v := H} -> H;
        none -> ?DEAD_FD
    end;
resolve({'$fdnum', Name}, #{pool := Pool}) -> maps:get(fd, maps:get(Name, Pool, #{}), ?DEAD_FD);
resolve({'$addr', Name}, #{pool := Pool}) -> maps:get(addr, maps:get(Name, Pool, #{}), <<>>);
resolve({'$own', K}, #{own := Own}) -> lists:nth(K rem length(Own) + 1, Own);
resolve({'$canary', Off}, #{canary := {_, _, {Start, End}}}) -> Start + Off rem (End - Start - 256);
resolve({'$proc', self}, _) -> self();
resolve({'$proc', P}, St) -> maps:get(P, St);
resolve({'$blob', Byte, Size}, _) -> binary:copy(<<Byte>>, Size);
resolve({'$list', Elem, N}, St) -> lists:duplicate(N, resolve(Elem, St));
resolve({'$improper', L, Tail}, St) -> lists:foldr(fun(X, T) -> [resolve(X, St) | T] end,
                                                   resolve(Tail, St), L);
resolve({'$bin', Parts}, St) -> << <<(part(resolve(P, St)))/binary>> || P <- Parts >>;
resolve('$ospid', _) -> list_to_integer(os:getpid());
resolve('$negpid', _) -> -list_to_integer(os:getpid());
resolve('$closed_handle', #{closed := H}) -> H;
resolve('$ref', _) -> make_ref();
resolve('$fun', _) -> fun() -> ok end;
resolve('$helper', _) -> procket:helper_path();
resolve(T, St) when is_tuple(T) -> list_to_tuple(resolve(tuple_to_list(T), St));
resolve([H | T], St) -> [resolve(H, St) | resolve(T, St)];
resolve(X, _) -> X.

part({i16, V}) -> <<V:16/native>>;
part({i32, V}) -> <<V:32/native>>;
part({i64, V}) -> <<V:64/native>>;
part(B) when is_binary(B) -> B.
