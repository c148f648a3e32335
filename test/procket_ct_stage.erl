%% @doc Helpers the Common Test suites share: staging the application
%% where an unprivileged VM can read it.
-module(procket_ct_stage).

-include_lib("kernel/include/file.hrl").

-export([stage_release/2, make_dir/2, repo_root/0]).

%% @doc Copies Root/ebin and Root/priv into the directory Dir, readable
%% by everyone (each file keeps its own mode bits, plus read for all).
-spec stage_release(file:filename(), file:filename()) -> ok.
stage_release(Root, Dir) ->
    lists:foreach(
      fun(Sub) ->
              To = filename:join(Dir, Sub),
              ok = make_dir(To, 8#755),
              {ok, Files} = file:list_dir(filename:join(Root, Sub)),
              [begin
                   From = filename:join([Root, Sub, F]),
                   {ok, #file_info{mode = Mode}} = file:read_file_info(From),
                   {ok, _} = file:copy(From, filename:join(To, F)),
                   ok = file:change_mode(filename:join(To, F), (Mode band 8#777) bor 8#444)
               end || F <- Files]
      end, ["ebin", "priv"]).

%% @doc A new directory with this mode (whatever the umask).
-spec make_dir(file:filename(), non_neg_integer()) -> ok | {error, file:posix()}.
make_dir(Dir, Mode) ->
    ok = file:make_dir(Dir),
    file:change_mode(Dir, Mode).

%% @doc The source tree under test, from PROCKET_ROOT (scripts/ct.sh sets it).
-spec repo_root() -> file:filename().
repo_root() ->
    case os:getenv("PROCKET_ROOT") of
        Root when is_list(Root), Root =/= "" -> Root;
        _ -> error(no_procket_root)
    end.
