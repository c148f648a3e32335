%% @doc The NIF library behind {@link procket}. Not for direct use: the
%% functions here take already validated arguments; call {@link procket}.
-module(procket_nif).

-export([open/4, close/1]).

-on_load(init/0).

-define(NIF_STUB, erlang:nif_error({nif_not_loaded, ?MODULE})).

init() ->
    Lib = filename:join(procket:priv_dir(), "procket_nif"),
    erlang:load_nif(Lib, 0).

%% @doc Runs the helper command `Argv' with `Request' and returns the
%% descriptor, over the path transport at `Pipe' unless it is `undefined'.
%% Runs on a dirty I/O scheduler for at most `TimeoutMs' milliseconds.
-spec open([binary(), ...], procket_opts:request(), binary() | undefined,
           pos_integer()) -> {ok, non_neg_integer()} | {error, atom()}.
open(_Argv, _Request, _Pipe, _TimeoutMs) ->
    ?NIF_STUB.

%% @doc close(2) on a descriptor.
-spec close(non_neg_integer()) -> ok | {error, atom()}.
close(_FD) ->
    ?NIF_STUB.
