%% @doc A UDP echo server on procket's socket API: no gen_udp, no polling.
%%
%% The socket is a handle owned by the server process; the process sleeps
%% in `receive' until enif_select says the socket is readable, then
%% answers every datagram waiting. A port below 1024 comes from the
%% privileged helper (`procket:open/2'); others the VM makes itself.
%%
%% ```
%% 1> c("examples/udp_select.erl").
%% 2> {ok, Pid, Port} = udp_select:start(0).
%% %% in a shell: echo hello | socat - UDP4:127.0.0.1:<Port>
%% 3> udp_select:stop(Pid).
%% '''
-module(udp_select).

-export([start/1, start/2, stop/1]).

%% @doc An echo server on 127.0.0.1 `Port' (0: any free port).
-spec start(0..65535) -> {ok, pid(), 0..65535} | {error, atom()}.
start(Port) ->
    start(Port, []).

%% @doc An echo server; `Options' go to `procket:open/2' for a port below
%% 1024 (e.g. `[{progname, "sudo -n priv/procket"}]').
-spec start(0..65535, [procket:option()]) -> {ok, pid(), 0..65535} | {error, atom()}.
start(Port, Options) ->
    Parent = self(),
    Ref = make_ref(),
    Pid = spawn(fun() -> init(Parent, Ref, Port, Options) end),
    MRef = monitor(process, Pid),
    receive
        {Ref, {ok, Bound}} ->
            demonitor(MRef, [flush]),
            {ok, Pid, Bound};
        {Ref, {error, _} = Error} ->
            demonitor(MRef, [flush]),
            Error;
        {'DOWN', MRef, process, Pid, Reason} ->
            {error, Reason}
    end.

%% @doc Stops a server; its socket is closed.
-spec stop(pid()) -> ok.
stop(Pid) ->
    MRef = monitor(process, Pid),
    Pid ! stop,
    receive
        {'DOWN', MRef, process, Pid, _} -> ok
    end.

init(Parent, Ref, Port, Options) ->
    case open(Port, Options) of
        {ok, FD} ->
            {ok, H} = procket:handle(FD),      % this process owns it now
            {ok, <<_:16, Bound:16, _/binary>>} = procket:getsockname(H, 16),
            Parent ! {Ref, {ok, Bound}},
            loop(H);
        {error, _} = Error ->
            Parent ! {Ref, Error}
    end.

open(Port, Options) when Port > 0, Port < 1024 ->
    procket:open(Port, [{protocol, udp}, {ip, {127, 0, 0, 1}} | Options]);
open(Port, _Options) ->
    case procket:socket(inet, dgram, udp) of
        {ok, FD} ->
            Sin = <<(procket:sockaddr_common(inet, 16))/binary, Port:16,
                    127, 0, 0, 1, 0:64>>,
            case procket:bind(FD, Sin) of
                ok -> {ok, FD};
                {error, _} = Error -> _ = procket:close(FD), Error
            end;
        {error, _} = Error ->
            Error
    end.

loop(H) ->
    {ok, Ref} = procket:select(H, read),
    receive
        {select, H, Ref, ready_input} ->
            case echo(H) of
                ok -> loop(H);
                {error, _} -> ok = procket:close_handle(H)
            end;
        stop ->
            ok = procket:close_handle(H)
    end.

%% answers every datagram waiting, then goes back to sleep
echo(H) ->
    case procket:recvfrom(H, 65535, 0, 16) of
        {ok, Data, From} ->
            _ = procket:sendto(H, Data, 0, From),
            echo(H);
        {error, eagain} ->
            ok;
        {error, _} = Error ->
            Error
    end.
