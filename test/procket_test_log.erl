%% @doc The syslog daemon, for the suites: a datagram Unix socket bound
%% at a path (the helper's log socket, in a mount namespace of the
%% suite's), read by a process of its own that keeps the helper's lines
%% as {Priority, Text} ("<PRI>procket[PID]: " parsed off; lines of other
%% programs, sudo's, are read and dropped). It can stop reading for a
%% while, so that the socket's queue fills up.
-module(procket_test_log).

-export([start/1, lines/1, pause/1, resume/1, stop/1]).

%% @doc Binds Path (which must not exist), mode 0666, and reads it.
-spec start(file:filename()) -> pid().
start(Path) ->
    Parent = self(),
    Pid = spawn_link(fun() -> init(Parent, Path) end),
    receive
        {Pid, ready} -> Pid
    after 5000 ->
            error({log_socket_not_ready, Path})
    end.

%% @doc Every line read so far (what is queued is read first).
-spec lines(pid()) -> [{integer(), string()}].
lines(Pid) ->
    call(Pid, lines).

%% @doc Stops reading: what the helpers send stays queued, up to the
%% socket's limit (net.unix.max_dgram_qlen datagrams).
-spec pause(pid()) -> ok.
pause(Pid) ->
    call(Pid, pause).

-spec resume(pid()) -> ok.
resume(Pid) ->
    call(Pid, resume).

%% @doc Closes the socket and removes its file.
-spec stop(pid()) -> ok.
stop(Pid) ->
    unlink(Pid),
    call(Pid, stop).

call(Pid, What) ->
    Ref = monitor(process, Pid),
    Pid ! {What, self(), Ref},
    receive
        {Ref, Reply} -> demonitor(Ref, [flush]), Reply;
        {'DOWN', Ref, process, Pid, Why} -> error({log_reader_down, Why})
    after 10000 ->
            error({log_reader_timeout, What})
    end.

init(Parent, Path) ->
    {ok, S} = socket:open(local, dgram, default),
    ok = socket:bind(S, #{family => local, path => list_to_binary(Path)}),
    ok = file:change_mode(Path, 8#666),
    Parent ! {self(), ready},
    loop(S, Path, [], true).

loop(S, Path, Acc, Reading) ->
    Timeout = case Reading of true -> 0; false -> infinity end,
    receive
        {lines, From, Ref} ->
            Acc1 = drain(S, Acc),
            From ! {Ref, lists:reverse(Acc1)},
            loop(S, Path, Acc1, Reading);
        {pause, From, Ref} ->
            From ! {Ref, ok},
            loop(S, Path, Acc, false);
        {resume, From, Ref} ->
            From ! {Ref, ok},
            loop(S, Path, Acc, true);
        {stop, From, Ref} ->
            _ = socket:close(S),
            _ = file:delete(Path),
            From ! {Ref, ok}
    after Timeout ->
            case socket:recv(S, 0, 50) of
                {ok, Bin} -> loop(S, Path, keep(Bin, Acc), Reading);
                {error, timeout} -> loop(S, Path, Acc, Reading)
            end
    end.

drain(S, Acc) ->
    case socket:recv(S, 0, 0) of
        {ok, Bin} -> drain(S, keep(Bin, Acc));
        {error, _} -> Acc
    end.

keep(Bin, Acc) ->
    case re:run(Bin, "^<([0-9]+)>procket\\[[0-9]+\\]: (.*)$",
                [{capture, all_but_first, list}, dotall]) of
        {match, [Pri, Text]} -> [{list_to_integer(Pri), Text} | Acc];
        nomatch -> Acc
    end.
