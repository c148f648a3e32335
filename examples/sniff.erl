%% @doc Sniffing Ethernet frames with a packet socket from an unprivileged
%% VM.
%%
%% ```
%% 1> c("examples/sniff.erl", [{outdir, "examples"}]).
%% 2> sniff:frames("lo", 5, 10000).
%% [#{dst => <<0,0,0,0,0,0>>, src => <<0,0,0,0,0,0>>, ethertype => 16#0800,
%%    bytes => 98}, ...]
%% '''
%% The helper creates the AF_PACKET socket (the only step needing
%% CAP_NET_RAW) bound to the interface; the VM reads the frames through an
%% fd port, without polling.
-module(sniff).

-export([frames/3, frames/4]).

-type frame() :: #{dst := binary(), src := binary(), ethertype := 0..16#ffff,
                   bytes := non_neg_integer()}.

%% @doc `frames(Interface, N, Timeout, [])'.
-spec frames(string(), pos_integer(), non_neg_integer()) ->
          [frame()] | {error, procket:posix()}.
frames(Interface, N, Timeout) ->
    frames(Interface, N, Timeout, []).

%% @doc Up to `N' frames seen on `Interface' within `Timeout' ms, with
%% more options for {@link procket:open/2} (e.g. `[{protocol, arp}]',
%% `[{namespace, "blue"}]').
-spec frames(string(), pos_integer(), non_neg_integer(), [procket:option()]) ->
          [frame()] | {error, procket:posix()}.
frames(Interface, N, Timeout, Options) ->
    case procket:open(0, [{family, packet}, {interface, Interface} | Options]) of
        {ok, FD} ->
            Port = erlang:open_port({fd, FD, FD}, [binary, eof]),
            Deadline = erlang:monotonic_time(millisecond) + Timeout,
            Frames = collect(Port, N, Deadline, []),
            catch erlang:port_close(Port),
            _ = procket:close(FD),
            Frames;
        Error ->
            Error
    end.

collect(_, 0, _, Acc) ->
    lists:reverse(Acc);
collect(Port, N, Deadline, Acc) ->
    Left = max(0, Deadline - erlang:monotonic_time(millisecond)),
    receive
        {Port, {data, <<Dst:6/binary, Src:6/binary, Type:16, _/binary>> = F}} ->
            Frame = #{dst => Dst, src => Src, ethertype => Type, bytes => byte_size(F)},
            collect(Port, N - 1, Deadline, [Frame | Acc]);
        {Port, {data, _}} ->
            collect(Port, N, Deadline, Acc);
        {Port, eof} ->
            lists:reverse(Acc)
    after Left ->
            lists:reverse(Acc)
    end.
