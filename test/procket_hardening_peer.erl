%% @doc Support code for procket_hardening_SUITE, run inside the
%% unprivileged peer VMs (uid 65534). Every function returns plain data
%% and never raises, so the suite can compare results row by row.
-module(procket_hardening_peer).

-export([try_open/2, try_open_close/2, open_many/3, close_all/1, fd_targets/0,
         udp_recv/2]).

%% @doc procket:open/2, with badarg (and any other exception) as a value.
-spec try_open(integer(), list()) -> term().
try_open(Port, Opts) ->
    try procket:open(Port, Opts)
    catch
        error:badarg -> badarg;
        Class:Reason -> {Class, Reason}
    end.

%% @doc try_open/2, closing the descriptor again on success: `ok'.
-spec try_open_close(integer(), list()) -> term().
try_open_close(Port, Opts) ->
    case try_open(Port, Opts) of
        {ok, FD} ->
            ok = procket:close(FD);
        Other ->
            Other
    end.

%% @doc N try_open_close/2 calls at once, each in a process of its own:
%% their results, in the order they were started.
-spec open_many(pos_integer(), integer(), list()) -> [term()].
open_many(N, Port, Opts) ->
    Self = self(),
    Pids = [spawn(fun() -> Self ! {self(), try_open_close(Port, Opts)} end)
            || _ <- lists:seq(1, N)],
    [receive {P, R} -> R end || P <- Pids].

-spec close_all([integer()]) -> [term()].
close_all(FDs) ->
    [procket:close(FD) || FD <- FDs].

%% @doc What every descriptor of this VM refers to (readlink of
%% /proc/self/fd/N), sorted: shows a device that was opened.
-spec fd_targets() -> [string()].
fd_targets() ->
    {ok, Names} = file:list_dir("/proc/self/fd"),
    lists:sort([T || N <- Names, {ok, T} <- [file:read_link("/proc/self/fd/" ++ N)]]).

%% @doc One datagram on a UDP socket from procket, through
%% gen_udp:open(0, [{fd, FD}]); the descriptor is closed afterwards.
-spec udp_recv(integer(), timeout()) -> term().
udp_recv(FD, Timeout) ->
    {ok, S} = gen_udp:open(0, [{fd, FD}, binary, {active, false}]),
    R = gen_udp:recv(S, 0, Timeout),
    ok = gen_udp:close(S),
    ok = procket:close(FD),
    R.
