%% @doc OTP sockets that own a descriptor from procket: the code behind
%% {@link procket:gen_udp_open/2}, {@link procket:gen_tcp_listen/2} and
%% {@link procket:socket_open/2}.
%%
%% `gen_udp:open(0, [{fd, FD}])' and `gen_tcp:listen(0, [{fd, FD}])'
%% adopt a descriptor but never close it (`gen_udp:close/1' leaves it
%% open, as does the port's owner exiting), so every caller had to
%% remember {@link procket:close/1} after the port, and a crash between
%% the two leaked it. Here a small process, the watcher, opens the
%% descriptor, and once the OTP module has it, watches what holds it (the
%% port, with the default inet backend; the socket's server process with
%% `{inet_backend, socket}') and closes the descriptor once that is gone,
%% however it went: closed, its owner exited, or it failed. Until then the
%% number stays allocated, so it cannot be reused under the socket. As the
%% watcher holds the descriptor from the start, a caller killed at any
%% point leaves nothing open. `socket:open/2' duplicates the descriptor:
%% for `socket_open/2' the watcher closes procket's copy as soon as the
%% socket exists (or the caller is gone).
%%
%% Options: one list holds procket's options (those of
%% {@link procket:open/2}) and the OTP module's. procket's own names are
%% not passed on (`{ip, _}' would make the OTP module bind again,
%% `{ipv6_v6only, _}' set the option again on a bound socket, which the
%% kernel refuses); `backlog' goes to both for TCP (gen_tcp listens
%% again with it). A bare `inet6' (an OTP option) also asks procket for an
%% IPv6 socket, and an IPv6 socket gets `inet6' on the OTP side, which
%% needs it to know the family of an adopted descriptor. `{inet_backend,
%% _}' is put first, where OTP requires it. `{fd, _}' is badarg: the
%% descriptor is procket's to give.
-module(procket_own).

-export([gen_udp_open/2, gen_tcp_listen/2, socket_open/2, split/2]).

%% procket's names that the OTP modules must not see (the module
%% documentation of procket lists them all)
-define(PROCKET_ONLY, [protocol, type, family, ip, interface, progname, exec, pipe,
                       helper_timeout, broker, namespace, dev, packet_info, ipv6_v6only]).

%% @doc See {@link procket:gen_udp_open/2}.
-spec gen_udp_open(0..65535, list()) -> {ok, gen_udp:socket()} | {error, term()}.
gen_udp_open(Port, Options) ->
    otp_open(udp, Port, Options).

%% @doc See {@link procket:gen_tcp_listen/2}.
-spec gen_tcp_listen(0..65535, list()) -> {ok, gen_tcp:socket()} | {error, term()}.
gen_tcp_listen(Port, Options) ->
    otp_open(tcp, Port, Options).

%% gen_udp:open/2 (udp) or gen_tcp:listen/2 (tcp) of procket's descriptor.
otp_open(Kind, Port, Options) ->
    {Mine, Theirs} = split(Kind, check(Options)),
    {Type, Open} = case Kind of
                       udp -> {dgram, fun gen_udp:open/2};
                       tcp -> {stream, fun gen_tcp:listen/2}
                   end,
    adopt(Port, family(kind(Type, Mine), Theirs),
          fun(FD, Inet6) -> Open(0, otp_options(FD, Inet6, Theirs)) end).

%% @doc See {@link procket:socket_open/2}.
-spec socket_open(0..65535, list()) -> {ok, socket:socket()} | {error, term()}.
socket_open(Port, Options) ->
    {Mine, Theirs} = split(socket, check(Options)),
    [erlang:error(badarg) || {dev, _} <- Mine],
    Extra = maps:from_list([{K, V} || {K, V} <- Theirs, K =:= debug orelse K =:= use_registry]),
    %% socket:open/2 duplicates FD: the socket owns its copy, and the
    %% watcher closes procket's once the socket exists
    adopt(Port, family(Mine, Theirs), fun(FD, _) -> socket:open(FD, Extra) end, copy).

%% @doc Options split into procket's and the OTP module's (see the module
%% documentation) for a `udp', `tcp' or `socket' call: `backlog' goes to
%% both for `tcp'.
-spec split(udp | tcp | socket, list()) -> {list(), list()}.
split(Kind, Options) ->
    Mine = [O || {K, _} = O <- Options, lists:member(K, ?PROCKET_ONLY) orelse K =:= backlog],
    Theirs = [O || O <- Options, not only_mine(Kind, O)],
    {Mine, Theirs}.

only_mine(_, {K, _}) when K =:= fd -> erlang:error(badarg);
only_mine(tcp, {backlog, _}) -> false;
only_mine(_, {backlog, _}) -> true;
only_mine(_, {K, _}) -> lists:member(K, ?PROCKET_ONLY);
only_mine(_, _) -> false.

check(Options) when is_list(Options) ->
    is_proper(Options) orelse erlang:error(badarg),
    Options;
check(_) ->
    erlang:error(badarg).

is_proper([_ | T]) -> is_proper(T);
is_proper([]) -> true;
is_proper(_) -> false.

%% A socket of this type (stream: TCP or SCTP; dgram: UDP or UDP-Lite,
%% by name or number): another type or protocol, or a device, is badarg.
kind(Type, Mine) ->
    [erlang:error(badarg) || {dev, _} <- Mine],
    [erlang:error(badarg) || {type, T} <- Mine, procket_opts:type(T) =/= procket_opts:type(Type)],
    {Default, Allowed} = case Type of
                             dgram -> {udp, [17, 136]};
                             stream -> {tcp, [6, 132]}
                         end,
    case [P || {protocol, P} <- Mine] of
        [] -> [{protocol, Default} | Mine];
        [P | _] ->
            lists:member(procket_opts:protocol(P), Allowed) orelse erlang:error(badarg),
            Mine
    end.

%% A bare `inet6' among the OTP options asks procket for IPv6 too.
family(Mine, Theirs) ->
    case lists:keymember(family, 1, Mine) orelse not lists:member(inet6, Theirs) of
        true -> Mine;
        false -> [{family, inet6} | Mine]
    end.

%% The OTP module's options: `{inet_backend, _}' first (OTP takes it only
%% there), then the descriptor, `inet6' for an IPv6 one, the rest.
otp_options(FD, Inet6, Theirs) ->
    Backend = [O || {inet_backend, _} = O <- Theirs],
    Rest = [O || O <- Theirs, not is_tuple(O) orelse element(1, O) =/= inet_backend],
    Family = case Inet6 andalso not lists:member(inet6, Rest) of
                 true -> [inet6];
                 false -> []
             end,
    Backend ++ [{fd, FD} | Family ++ Rest].

adopt(Port, Mine, Fun) ->
    adopt(Port, Mine, Fun, hold).

%% The descriptor, adopted by Fun(FD, IsInet6) into an OTP socket. The
%% watcher opens it, so that it holds the descriptor from the start.
%% Mode hold: the socket uses procket's descriptor, the watcher closes it
%% when the socket is gone; copy: the socket has a copy of its own, the
%% watcher closes procket's at once.
adopt(Port, Mine, Fun, Mode) ->
    Caller = self(),
    {Watcher, WRef} = spawn_monitor(fun() -> watch(Caller, Port, Mine) end),
    receive
        {opened, Watcher, {ok, FD}} ->
            %% an option the OTP module refuses raises there
            try Fun(FD, inet6(Mine)) of
                {ok, Socket} = Ok when Mode =:= copy ->
                    _ = Socket,
                    drop(Watcher, WRef),
                    Ok;
                {ok, Socket} = Ok ->
                    case holder(Socket) of
                        {ok, Holder} ->
                            Watcher ! {adopt, self(), Holder},
                            demonitor(WRef, [flush]),
                            Ok;
                        error ->
                            %% nothing to watch: not left open behind it
                            drop(Watcher, WRef),
                            {error, enotsup}
                    end;
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

%% What holds an adopted descriptor: the port (inet backend) or the
%% socket's server process (socket backend: {'$inet', Module, {Pid, _}}).
holder(Port) when is_port(Port) -> {ok, {port, Port}};
holder({'$inet', _, {Pid, _}}) when is_pid(Pid) -> {ok, {process, Pid}};
holder(_) -> error.

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
                    case catch inet:parse_address(unicode:characters_to_list(S)) of
                        {ok, {_, _, _, _, _, _, _, _}} -> true;
                        _ -> false
                    end;
                _ -> false
            end;
        _ -> false
    end.

%% The watcher: opens the descriptor for the caller; while the caller
%% works, its death closes the descriptor; once a socket has it, the end
%% of what holds it does. A badarg in the options reaches the caller as
%% its own.
watch(Caller, Port, Mine) ->
    MRef = monitor(process, Caller),
    Result = try procket:open(Port, Mine)
             catch error:badarg -> exit(badarg)
             end,
    Caller ! {opened, self(), Result},
    case Result of
        {ok, FD} ->
            receive
                {adopt, Caller, {Type, Holder}} ->
                    demonitor(MRef, [flush]),
                    HRef = monitor(Type, Holder),
                    receive {'DOWN', HRef, _, _, _} -> close(FD) end;
                {drop, Caller} ->
                    close(FD);
                {'DOWN', MRef, _, _, _} ->
                    %% before a socket had it (a socket made, if any, went
                    %% with its owner)
                    close(FD)
            end;
        _ ->
            ok
    end.

close(FD) -> _ = procket:close(FD), ok.
