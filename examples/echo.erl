%% @doc Echo servers on privileged ports, from an unprivileged VM.
%%
%% ```
%% $ erl -pa ebin -pa examples
%% 1> c("examples/echo.erl", [{outdir, "examples"}]).
%% 2> {ok, U} = echo:start(udp, 53).                      % IPv4, any address
%% 3> {ok, T} = echo:start(tcp, 80, [{ip, "::1"}]).       % IPv6 loopback
%% 4> echo:stop(U).
%% '''
%% and from a shell: `echo hello | nc -u -w1 127.0.0.1 53',
%% `echo hello | nc -w1 ::1 80'. Each reply is the request, unchanged.
-module(echo).

-export([start/2, start/3, stop/1]).

%% @doc `start(Proto, Port, [])'.
-spec start(udp | tcp, 0..65535) -> {ok, pid()} | {error, term()}.
start(Proto, Port) ->
    start(Proto, Port, []).

%% @doc Starts an echo server for `Proto' on `Port'; `Options' go to
%% {@link procket:open/2} (e.g. `{ip, "::1"}', `{family, inet6}').
-spec start(udp | tcp, 0..65535, [procket:option()]) ->
          {ok, pid()} | {error, term()}.
start(Proto, Port, Options) when Proto =:= udp; Proto =:= tcp ->
    Parent = self(),
    Pid = spawn(fun() -> init(Parent, Proto, Port, Options) end),
    receive
        {Pid, Result} -> Result
    after 10000 ->
        exit(Pid, kill),
        {error, timeout}
    end.

%% @doc Stops a server started by {@link start/3}: closes its socket
%% and the descriptor procket gave it (gen_udp and gen_tcp leave an
%% adopted descriptor open when they close).
-spec stop(pid()) -> ok.
stop(Pid) ->
    Ref = erlang:monitor(process, Pid),
    Pid ! {stop, self()},
    receive
        {'DOWN', Ref, process, Pid, _} -> ok
    end.

init(Parent, Proto, Port, Options) ->
    case procket:open(Port, [{protocol, Proto} | Options]) of
        {ok, FD} ->
            Family = family(Options),
            case listen(Proto, FD, Family) of
                {ok, Socket} ->
                    Parent ! {self(), {ok, self()}},
                    serve(Proto, Socket),
                    _ = procket:close(FD),
                    ok;
                Error ->
                    _ = procket:close(FD),
                    Parent ! {self(), Error}
            end;
        Error ->
            Parent ! {self(), Error}
    end.

%% gen_udp and gen_tcp must be told the family of a descriptor they adopt.
family(Options) ->
    case proplists:get_value(family, Options) of
        inet6 -> inet6;
        undefined ->
            case proplists:get_value(ip, Options) of
                undefined -> inet;
                IP when is_tuple(IP), tuple_size(IP) =:= 8 -> inet6;
                IP when is_tuple(IP) -> inet;
                IP ->
                    {ok, Addr} = inet:parse_address(IP),
                    family([{ip, Addr}])
            end;
        _ -> inet
    end.

%% With {fd, FD} the port argument must be 0 (OTP 17 and later).
listen(udp, FD, Family) ->
    gen_udp:open(0, [binary, {fd, FD}, Family, {active, true}]);
listen(tcp, FD, Family) ->
    gen_tcp:listen(0, [binary, {fd, FD}, Family, {active, false},
                       {packet, raw}]).

%% Returns when asked to stop, with the socket closed.
serve(udp, Socket) ->
    receive
        {udp, Socket, IP, Port, Data} ->
            _ = gen_udp:send(Socket, IP, Port, Data),
            serve(udp, Socket);
        {stop, _} ->
            gen_udp:close(Socket)
    end;
serve(tcp, Listen) ->
    Acceptor = spawn_link(fun() -> accept(Listen) end),
    receive
        {stop, _} ->
            unlink(Acceptor),
            gen_tcp:close(Listen)
    end.

accept(Listen) ->
    case gen_tcp:accept(Listen) of
        {ok, Conn} ->
            Pid = spawn(fun() -> receive go -> echo_tcp(Conn) end end),
            ok = gen_tcp:controlling_process(Conn, Pid),
            Pid ! go,
            accept(Listen);
        {error, closed} ->
            ok
    end.

echo_tcp(Conn) ->
    case gen_tcp:recv(Conn, 0) of
        {ok, Data} ->
            ok = gen_tcp:send(Conn, Data),
            echo_tcp(Conn);
        {error, _} ->
            gen_tcp:close(Conn)
    end.
