%% @doc OTP handles that own a descriptor from procket: the code behind
%% {@link procket:gen_udp_open/2}, {@link procket:gen_tcp_listen/2} and
%% {@link procket:socket_open/2}.
%%
%% `gen_udp:open(0, [{fd, FD}])' and `gen_tcp:listen(0, [{fd, FD}])'
%% adopt a descriptor but never close it (`gen_udp:close/1' leaves it
%% open, as does the port's owner exiting), so every caller had to
%% remember {@link procket:close/1} after the port, and a crash between
%% the two leaked it. Here a small process watches the port (a port
%% monitor) and closes the descriptor once the port is gone, however it
%% went: closed, its owner exited, or it failed. Until the port is gone
%% the number stays allocated, so it cannot be reused under the port.
%% The watcher opens the descriptor itself: a caller killed at any point
%% leaves nothing open. `socket:open/1' duplicates the descriptor,
%% so `socket_open/2' closes procket's copy at once and the socket owns
%% its own.
%%
%% Options: one list holds procket's options (those of
%% {@link procket:open/2}) and the OTP module's. procket's own names are
%% not passed on (`{ip, _}' would make the OTP module bind again);
%% `backlog' and `ipv6_v6only' are read by both, with the same meaning.
%% A bare `inet6' (an OTP option) also asks procket for an IPv6 socket,
%% and an IPv6 socket gets `inet6' on the OTP side, which needs it to
%% know the family of an adopted descriptor.
-module(procket_own).

-export([gen_udp_open/2, gen_tcp_listen/2, socket_open/2, split/1]).

%% procket's names that the OTP modules must not see (the module
%% documentation of procket lists them all)
-define(PROCKET_ONLY, [protocol, type, family, ip, interface, progname, exec, pipe,
                       helper_timeout, broker, namespace, dev, packet_info]).

%% @doc See {@link procket:gen_udp_open/2}.
-spec gen_udp_open(0..65535, list()) -> {ok, gen_udp:socket()} | {error, term()}.
gen_udp_open(Port, Options) ->
    {Mine, Theirs} = split(check(Options)),
    adopt(Port, family(kind(dgram, udp, Mine), Theirs),
          fun(FD, Inet6) -> gen_udp:open(0, [{fd, FD} | with_family(Inet6, Theirs)]) end).

%% @doc See {@link procket:gen_tcp_listen/2}.
-spec gen_tcp_listen(0..65535, list()) -> {ok, gen_tcp:socket()} | {error, term()}.
gen_tcp_listen(Port, Options) ->
    {Mine, Theirs} = split(check(Options)),
    adopt(Port, family(kind(stream, tcp, Mine), Theirs),
          fun(FD, Inet6) -> gen_tcp:listen(0, [{fd, FD} | with_family(Inet6, Theirs)]) end).

%% @doc See {@link procket:socket_open/2}.
-spec socket_open(0..65535, list()) -> {ok, socket:socket()} | {error, term()}.
socket_open(Port, Options) ->
    {Mine, Theirs} = split(check(Options)),
    [erlang:error(badarg) || {dev, _} <- Mine],
    Extra = maps:from_list([{K, V} || {K, V} <- Theirs, K =:= debug orelse K =:= use_registry]),
    case procket:open(Port, family(Mine, Theirs)) of
        {ok, FD} ->
            %% socket:open/2 duplicates FD: the socket owns its copy
            Result = socket:open(FD, Extra),
            ok = procket:close(FD),
            Result;
        {error, _} = Error ->
            Error
    end.

%% @doc Options split into procket's and the OTP module's (see the module
%% documentation): `backlog' and `ipv6_v6only' go to both.
-spec split(list()) -> {list(), list()}.
split(Options) ->
    Mine = [O || O <- Options, mine(O)],
    Theirs = [O || O <- Options, not only_mine(O)],
    {Mine, Theirs}.

mine({K, _}) -> lists:member(K, ?PROCKET_ONLY) orelse K =:= backlog orelse K =:= ipv6_v6only;
mine(_) -> false.

only_mine({K, _}) -> lists:member(K, ?PROCKET_ONLY);
only_mine(_) -> false.

check(Options) when is_list(Options) ->
    is_proper(Options) orelse erlang:error(badarg),
    Options;
check(_) ->
    erlang:error(badarg).

is_proper([_ | T]) -> is_proper(T);
is_proper([]) -> true;
is_proper(_) -> false.

%% A socket of this type: a type or protocol asking for another one, or a
%% device, is badarg.
kind(Type, Protocol, Mine) ->
    [erlang:error(badarg) || {dev, _} <- Mine],
    [erlang:error(badarg) || {type, T} <- Mine, T =/= Type],
    case proplists:get_value(protocol, Mine) of
        undefined -> [{protocol, Protocol} | Mine];
        Protocol -> Mine;
        udplite when Type =:= dgram -> Mine;
        sctp when Type =:= stream -> Mine;
        _ -> erlang:error(badarg)
    end.

%% A bare `inet6' among the OTP options asks procket for IPv6 too.
family(Mine, Theirs) ->
    case lists:keymember(family, 1, Mine) orelse not lists:member(inet6, Theirs) of
        true -> Mine;
        false -> [{family, inet6} | Mine]
    end.

with_family(true, Theirs) ->
    case lists:member(inet6, Theirs) of
        true -> Theirs;
        false -> [inet6 | Theirs]
    end;
with_family(false, Theirs) ->
    Theirs.

%% The descriptor, adopted by Fun(FD, IsInet6) into a port. The watcher
%% opens it, so that it holds the descriptor from the start: a caller
%% killed at any point leaves nothing open.
adopt(Port, Mine, Fun) ->
    Caller = self(),
    {Watcher, WRef} = spawn_monitor(fun() -> watch(Caller, Port, Mine) end),
    receive
        {opened, Watcher, {ok, FD}} ->
            %% an option the OTP module refuses raises there
            try Fun(FD, inet6(Mine)) of
                {ok, Socket} = Ok ->
                    Watcher ! {adopt, self(), Socket},
                    demonitor(WRef, [flush]),
                    Ok;
                Error ->
                    %% closed before returning: no descriptor outlives a
                    %% failed call
                    drop(Watcher, WRef),
                    Error
            catch
                Class:Reason:Stack ->
                    drop(Watcher, WRef),
                    erlang:raise(Class, Reason, Stack)
            end;
        {opened, Watcher, Error} ->
            demonitor(WRef, [flush]),
            Error;
        {'DOWN', WRef, _, _, Why} ->
            erlang:error(Why)
    end.

drop(Watcher, WRef) ->
    Watcher ! {drop, self()},
    receive {'DOWN', WRef, _, _, _} -> ok end.

inet6(Mine) ->
    case proplists:get_value(family, Mine) of
        inet6 -> true;
        10 -> true;
        undefined ->
            case proplists:get_value(ip, Mine) of
                {_, _, _, _, _, _, _, _} -> true;
                S when is_list(S); is_binary(S) ->
                    case inet:parse_address(unicode:characters_to_list(S)) of
                        {ok, {_, _, _, _, _, _, _, _}} -> true;
                        _ -> false
                    end;
                _ -> false
            end;
        _ -> false
    end.

%% The watcher: opens the descriptor for the caller; while the caller
%% works, its death closes the descriptor; once a port has it, the port's
%% end does. A badarg in the options reaches the caller as its own.
watch(Caller, Port, Mine) ->
    MRef = monitor(process, Caller),
    Result = try procket:open(Port, Mine)
             catch error:badarg -> exit(badarg)
             end,
    Caller ! {opened, self(), Result},
    case Result of
        {ok, FD} ->
            receive
                {adopt, Caller, Socket} ->
                    demonitor(MRef, [flush]),
                    PRef = monitor(port, Socket),
                    receive {'DOWN', PRef, _, _, _} -> close(FD) end;
                {drop, Caller} ->
                    close(FD);
                {'DOWN', MRef, _, _, _} ->
                    %% before a port had it (a port made, if any, went with
                    %% its owner)
                    close(FD)
            end;
        _ ->
            ok
    end.

close(FD) -> _ = procket:close(FD), ok.
