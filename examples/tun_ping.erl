%% @doc A tun device that answers pings, from an unprivileged VM.
%%
%% ```
%% 1> c("examples/tun_ping.erl", [{outdir, "examples"}]).
%% 2> {ok, Pid} = tun_ping:start("tunping0").
%% %% as root: ip addr add 10.42.0.1/24 dev tunping0; ip link set tunping0 up
%% %%          ping -c 3 10.42.0.2      <- answered by this process
%% 3> tun_ping:stop(Pid).
%% '''
%% procket's helper creates the device (owned by the VM's user, so no
%% CAP_NET_ADMIN is needed in the VM); the VM reads IP packets from it and
%% writes the echo replies back. Every IPv4 echo request routed into the
%% device is answered, whatever its destination address.
-module(tun_ping).

-export([start/1, start/2, stop/1]).

%% @doc `start(Name, [])'.
-spec start(string()) -> {ok, pid()} | {error, term()}.
start(Name) ->
    start(Name, []).

%% @doc Creates tun device `Name' (with `Options' for
%% {@link procket:dev/2}, e.g. `[{namespace, "blue"}]') and answers pings
%% routed into it until {@link stop/1}.
-spec start(string(), [procket:option()]) -> {ok, pid()} | {error, term()}.
start(Name, Options) ->
    Parent = self(),
    Pid = spawn(fun() ->
                        case procket:dev({tun, Name}, Options) of
                            {ok, FD} ->
                                Port = erlang:open_port({fd, FD, FD}, [binary, eof]),
                                Parent ! {self(), {ok, self()}},
                                loop(Port),
                                catch erlang:port_close(Port),
                                _ = procket:close(FD);
                            Error ->
                                Parent ! {self(), Error}
                        end
                end),
    receive {Pid, Result} -> Result end.

%% @doc Stops the responder; the device disappears with its descriptor.
-spec stop(pid()) -> ok.
stop(Pid) ->
    Ref = erlang:monitor(process, Pid),
    Pid ! stop,
    receive {'DOWN', Ref, process, Pid, _} -> ok end.

loop(Port) ->
    receive
        {Port, {data, Packet}} ->
            case reply(Packet) of
                {ok, Reply} -> true = erlang:port_command(Port, Reply);
                ignore -> ok
            end,
            loop(Port);
        {Port, eof} ->
            ok;
        stop ->
            ok
    end.

%% An IPv4 echo request (no options) becomes its reply: addresses swapped,
%% type 0, both checksums recomputed.
reply(<<4:4, 5:4, Tos, Len:16, Id:16, Frag:16, _Ttl, 1, _:16, Src:4/binary,
        Dst:4/binary, Icmp/binary>>) when byte_size(Icmp) + 20 =:= Len ->
    case procket_icmp:parse(inet, dgram, Icmp) of
        {ok, {echo_request, EId, Seq, Payload}} ->
            <<8, _/binary>> = Icmp,
            Body = <<EId:16, Seq:16, Payload/binary>>,
            Sum = procket_icmp:checksum(<<0, 0, 0:16, Body/binary>>),
            Header = <<4:4, 5:4, Tos, Len:16, Id:16, Frag:16, 64, 1, 0:16,
                       Dst/binary, Src/binary>>,
            HSum = procket_icmp:checksum(Header),
            <<Pre:10/binary, 0:16, Post/binary>> = Header,
            {ok, <<Pre/binary, HSum:16, Post/binary, 0, 0, Sum:16, Body/binary>>};
        _ ->
            ignore
    end;
reply(_) ->
    ignore.
