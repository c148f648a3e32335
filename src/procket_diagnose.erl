%% @doc The doctor: how procket would work for the VM's user on this
%% machine, and what to fix. {@link procket:diagnose/0} and
%% {@link procket:diagnose/1} are the way in.
%%
%% The helper says most of it (`procket --check', procket(8)): the
%% helper's file, its mount, no_new_privs, the policy and what it grants
%% this user, the broker's socket, `net.ipv4.ping_group_range',
%% `/dev/net/tun'. Run setuid root, it drops to the VM's user before it
%% looks at anything. To that this module adds what only the VM can see:
%% whether a sudo rule lets it run the helper without a password
%% (`sudo -n -l'; the helper never runs sudo), the broker
%% {@link procket:open/2} would choose, and whether the VM itself runs as
%% root.
-module(procket_diagnose).

-export([run/0, run/1, parse/2, format/1, print/1]).
-export_type([report/0, check/0, item/0, status/0, verdict/0]).

-include_lib("kernel/include/file.hrl").

-define(TIMEOUT, 10000).
-define(OUTPUT_MAX, 65536).   % a helper's report is a few KiB

-type status() :: ok | warning | problem.
-type item() :: helper | mount | no_new_privs | privileges | policy | grants
              | broker | ping_group_range | tun | sudo | vm | broker_choice | other.
-type verdict() :: root | broker | setuid | capabilities | sudo | none.
-type check() :: #{item := item(), status := status(), text := binary(),
                   fix := binary()}.
%% One item: `fix' is `<<>>' when there is nothing to fix.
-type report() :: #{verdict := verdict(), text := binary(), helper := binary(),
                    checks := [check()]}.
%% `verdict': how the VM's user gets sockets (`none': not at all);
%% `text': that in words; `helper': the helper asked.

%% @doc {@link run/1} for the helper {@link procket:open/2} would run
%% ({@link procket:helper_path/0}).
-spec run() -> report().
run() ->
    run(procket:helper_path()).

%% @doc The report for the helper at `Helper' (a string or a binary).
-spec run(Helper :: file:filename_all()) -> report().
run(Helper) ->
    Path = path(Helper),
    {Out, Status} = helper_check(Path),
    Report = parse(Out, Status),
    vm_view(Report#{helper := Path}).

%% @doc Parses the output of `procket --check' and its exit status into
%% a report (before what the VM adds).
-spec parse(Output :: binary(), ExitStatus :: integer() | {error, term()}) -> report().
parse(Out, Status) ->
    Lines = binary:split(Out, [<<"\n">>], [global, trim_all]),
    {Checks, Verdict} = parse_lines(Lines, [], undefined),
    case Verdict of
        {V, Text} ->
            #{verdict => V, text => Text, helper => <<>>, checks => Checks};
        undefined ->
            Why = case Status of
                      {error, Reason} ->
                          io_lib:format("the helper could not be run: ~p", [Reason]);
                      N ->
                          io_lib:format("the helper gave no report (exit status ~p): an "
                                        "older helper, without --check?", [N])
                  end,
            Fix = <<"build and install this procket's helper (make; see the README)">>,
            #{verdict => none, text => <<"procket cannot tell: the helper gave no report">>,
              helper => <<>>,
              checks => Checks ++ [check(helper, problem, iolist_to_binary(Why), Fix)]}
    end.

parse_lines([], Acc, Verdict) ->
    {lists:reverse(Acc), Verdict};
parse_lines([<<"  fix: ", Fix/binary>> | Rest], [C | Acc], Verdict) ->
    parse_lines(Rest, [C#{fix := Fix} | Acc], Verdict);
parse_lines([<<"verdict: ", V/binary>> | Rest], Acc, _) ->
    case binary:split(V, <<": ">>) of
        [Way, Text] -> parse_lines(Rest, Acc, {verdict(Way), Text});
        _ -> parse_lines(Rest, Acc, undefined)
    end;
parse_lines([Line | Rest], Acc, Verdict) ->
    case binary:split(Line, <<": ">>) of
        [S, More] when S =:= <<"ok">>; S =:= <<"warning">>; S =:= <<"problem">> ->
            case binary:split(More, <<": ">>) of
                [Item, Text] ->
                    parse_lines(Rest, [check(item(Item), binary_to_atom(S), Text, <<>>) | Acc],
                                Verdict);
                _ ->
                    parse_lines(Rest, Acc, Verdict)
            end;
        _ ->
            parse_lines(Rest, Acc, Verdict)
    end.

item(<<"helper">>) -> helper;
item(<<"mount">>) -> mount;
item(<<"no_new_privs">>) -> no_new_privs;
item(<<"privileges">>) -> privileges;
item(<<"policy">>) -> policy;
item(<<"grants">>) -> grants;
item(<<"broker">>) -> broker;
item(<<"ping_group_range">>) -> ping_group_range;
item(<<"tun">>) -> tun;
item(_) -> other.

verdict(<<"root">>) -> root;
verdict(<<"broker">>) -> broker;
verdict(<<"setuid">>) -> setuid;
verdict(<<"capabilities">>) -> capabilities;
verdict(<<"sudo">>) -> sudo;
verdict(_) -> none.

-spec check(item(), status(), binary(), binary()) -> check().
check(Item, Status, Text, Fix) ->
    #{item => Item, status => Status, text => Text, fix => Fix}.

%% @doc The report as plain text, one line per item, a `fix:' line under
%% an item that is not ok, the verdict last.
-spec format(report()) -> iodata().
format(#{verdict := V, text := Text, helper := Helper, checks := Checks}) ->
    [io_lib:format("procket diagnosis for the helper ~ts~n", [Helper]),
     [[io_lib:format("~-8s ~s: ~ts~n", [atom_to_list(S) ++ ":", I, T]),
       case {S, F} of
           {ok, _} -> [];
           {_, <<>>} -> [];
           _ -> io_lib:format("         fix: ~ts~n", [F])
       end] || #{item := I, status := S, text := T, fix := F} <- Checks],
     io_lib:format("verdict: ~s: ~ts~n", [V, Text])].

%% @doc Prints the report ({@link format/1}) on standard output; returns it.
-spec print(report()) -> report().
print(Report) ->
    ok = io:put_chars(format(Report)),
    Report.

%% --- the helper's view ------------------------------------------------------

path(Helper) when is_binary(Helper); is_list(Helper) ->
    case unicode:characters_to_binary(Helper) of
        B when is_binary(B), B =/= <<>> -> B;
        _ -> erlang:error(badarg)
    end;
path(_) ->
    erlang:error(badarg).

%% Runs `Helper --check' (no shell); its output and exit status.
helper_check(Path) ->
    try open_port({spawn_executable, Path},
                  [{args, ["--check"]}, exit_status, binary, stderr_to_stdout, hide]) of
        Port -> collect(Port, [])
    catch
        error:Reason -> {<<>>, {error, Reason}}
    end.

%% The program's output and exit status, within ?TIMEOUT in all and at
%% most ?OUTPUT_MAX bytes: a program that says more or takes longer (not a
%% procket helper, or one that hangs) is killed, and reaped by the port.
collect(Port, Acc) ->
    collect(Port, Acc, 0, erlang:monotonic_time(millisecond) + ?TIMEOUT).

collect(Port, Acc, Size, Deadline) ->
    Left = max(0, Deadline - erlang:monotonic_time(millisecond)),
    receive
        {Port, {data, D}} when Size + byte_size(D) > ?OUTPUT_MAX ->
            kill(Port),
            {iolist_to_binary(lists:reverse(Acc)), {error, too_much_output}};
        {Port, {data, D}} ->
            collect(Port, [D | Acc], Size + byte_size(D), Deadline);
        {Port, {exit_status, N}} ->
            {iolist_to_binary(lists:reverse(Acc)), N}
    after Left ->
            kill(Port),
            {iolist_to_binary(lists:reverse(Acc)), {error, timeout}}
    end.

%% port_close/1 only closes the pipes: the program is killed too.
kill(Port) ->
    case erlang:port_info(Port, os_pid) of
        {os_pid, Pid} ->
            _ = os:cmd("kill -KILL " ++ integer_to_list(Pid) ++ " 2>/dev/null"),
            ok;
        undefined ->
            ok
    end,
    catch port_close(Port),
    receive {Port, {exit_status, _}} -> ok after 0 -> ok end.

%% --- what only the VM sees ----------------------------------------------------

vm_view(#{checks := Checks, helper := Helper} = Report) ->
    Root = vm_uid() =:= 0,
    Vm = case Root of
             true -> check(vm, ok, <<"the VM runs as root">>, <<>>);
             false -> check(vm, ok, iolist_to_binary(io_lib:format("the VM runs as uid ~p",
                                                                   [vm_uid()])), <<>>)
         end,
    {Sudo, SudoOk} = sudo(Helper, Root),
    {Choice, Broker} = broker_choice(),
    Checks1 = Checks ++ [Vm, Sudo, Choice],
    decide(Report#{checks := Checks1}, SudoOk, Broker).

vm_uid() ->
    case file:read_file("/proc/self/status") of
        {ok, S} ->
            case re:run(S, <<"\nUid:\\s+(\\d+)">>, [{capture, all_but_first, binary}]) of
                {match, [U]} -> binary_to_integer(U);
                nomatch -> -1
            end;
        _ ->
            -1
    end.

%% `sudo -n -l Helper': 0 when a rule lets the VM's user run the helper
%% without a password.
sudo(_, true) ->
    {check(sudo, ok, <<"the VM is root: it needs no sudo rule">>, <<>>), false};
sudo(Helper, false) ->
    case os:find_executable("sudo") of
        false ->
            {check(sudo, ok, <<"sudo is not installed">>, <<>>), false};
        Sudo ->
            case run_status(Sudo, ["-n", "-l", Helper]) of
                0 ->
                    {check(sudo, ok, <<"a sudo rule lets you run the helper without a "
                                       "password (sudo -n)">>, <<>>), true};
                _ ->
                    Fix = iolist_to_binary(
                            ["if sudo is the way: a sudoers rule such as ",
                             "'USER ALL=(root) NOPASSWD: ", Helper, "'"]),
                    {check(sudo, ok, <<"no sudo rule lets you run the helper without a "
                                       "password">>, Fix), false}
            end
    end.

run_status(Exe, Args) ->
    try open_port({spawn_executable, Exe},
                  [{args, Args}, exit_status, binary, stderr_to_stdout, hide]) of
        Port -> element(2, collect(Port, []))
    catch
        error:Reason -> {error, Reason}
    end.

%% The broker procket:open/2 would ask ({@link procket_opts:parse/2}),
%% and whether the VM's user can connect to it: {Check, Broker}, Broker
%% `undefined' (the helper only), `{default, Path}' (the default path:
%% the helper when no broker hears) or `{only, Path}'.
broker_choice() ->
    case procket_opts:parse(0, [{protocol, udp}]) of
        {ok, #{broker := B, broker_default := true}} when is_binary(B) ->
            {check(broker_choice, ok,
                   <<"procket:open asks the broker at ", B/binary, " first, then the helper">>,
                   <<>>), {default, B}};
        {ok, #{broker := B}} when is_binary(B) ->
            Text = <<"procket:open asks only the broker at ", B/binary,
                     " (the application environment's broker)">>,
            case connectable(B) of
                ok ->
                    {check(broker_choice, ok, <<Text/binary, ": you may connect">>, <<>>),
                     {only, B}};
                {error, {not_root, Uid}} ->
                    {check(broker_choice, problem,
                           iolist_to_binary([Text, io_lib:format(": something listens there as "
                                                                 "uid ~p, not root "
                                                                 "(SO_PEERCRED): procket:open "
                                                                 "would not ask it", [Uid])]),
                           <<"stop what listens there and start the broker as root "
                             "(procket -l ", B/binary, ")">>),
                     {unreachable, B}};
                {error, Why} ->
                    {check(broker_choice, problem,
                           iolist_to_binary([Text, io_lib:format(": cannot connect (~p)", [Why])]),
                           <<"start the broker there as root (procket -l ", B/binary,
                             "), or set the broker in the application environment to "
                             "one that runs">>),
                     {unreachable, B}}
            end;
        _ ->
            {check(broker_choice, ok, <<"procket:open uses the helper (no broker at the "
                                        "default path, or none wanted)">>, <<>>), undefined}
    end.

%% A broker's socket the VM's user may connect to, whose listener the
%% library would ask (as procket_open_broker judges it, SO_PEERCRED): root,
%% or in a user namespace that does not map root the overflow uid with
%% every directory to the socket as the broker insists. The socket file's
%% owner says only who may connect.
connectable(Path) ->
    case file:read_link_info(Path) of
        {ok, #file_info{type = other}} ->
            case socket:open(local, seqpacket, default) of
                {ok, S} ->
                    R = case socket:connect(S, #{family => local, path => Path}, 2000) of
                            ok -> peer_uid(S);
                            {error, _} = E -> E
                        end,
                    _ = socket:close(S),
                    case R of
                        {ok, Uid} -> brokers_peer(Path, Uid);
                        {error, _} = E2 -> E2
                    end;
                {error, _} = E ->
                    E
            end;
        {ok, _} ->
            {error, not_a_socket};
        {error, _} = E ->
            E
    end.

%% SO_PEERCRED (SOL_SOCKET 1, option 17): struct ucred {pid, uid, gid}.
peer_uid(S) ->
    case socket:getopt_native(S, {1, 17}, 12) of
        {ok, <<_Pid:32/native, Uid:32/native, _Gid:32/native>>} -> {ok, Uid};
        {ok, _} -> {error, peercred};
        {error, _} = E -> E
    end.

brokers_peer(_, 0) ->
    ok;
brokers_peer(Path, Uid) ->
    case {read_int("/proc/sys/kernel/overflowuid"), initial_userns()} of
        {Uid, false} ->
            case path_is_brokers(Path, Uid) of
                true -> ok;
                false -> {error, {not_root, Uid}}
            end;
        _ ->
            {error, {not_root, Uid}}
    end.

read_int(File) ->
    case file:read_file(File) of
        {ok, B} ->
            try binary_to_integer(string:trim(B)) catch error:badarg -> -1 end;
        _ ->
            -1
    end.

initial_userns() ->
    case file:read_file("/proc/self/uid_map") of
        {ok, B} ->
            case string:lexemes(B, " \n") of
                [<<"0">>, <<"0">>, <<"4294967295">>] -> true;
                _ -> false
            end;
        _ ->
            true
    end.

%% Each directory to Path root's or the overflow uid's and writable by no
%% one else (sticky will do, but not for the last one), no symlink.
path_is_brokers(Path, Overflow) ->
    case filename:split(Path) of
        [<<"/">> | Rest] when Rest =/= [] ->
            Dirs = lists:droplast(Rest),
            Prefixes = [filename:join([<<"/">> | lists:sublist(Dirs, N)])
                        || N <- lists:seq(0, length(Dirs))],
            Last = length(Prefixes),
            lists:all(fun({N, D}) -> dir_ok(D, Overflow, N =:= Last) end,
                      lists:zip(lists:seq(1, Last), Prefixes));
        _ ->
            false
    end.

dir_ok(Dir, Overflow, Last) ->
    case file:read_link_info(Dir) of
        {ok, #file_info{type = directory, uid = U, mode = M}}
          when U =:= 0; U =:= Overflow ->
            M band 8#022 =:= 0 orelse (not Last andalso M band 8#1000 =/= 0);
        _ ->
            false
    end.

%% The verdict with what the VM saw: a broker set in the application
%% environment is the only way; without a broker, the helper's own way
%% (its privileges), else sudo when a rule allows it.
decide(#{verdict := V0, text := Text0, checks := Checks} = Report, SudoOk, Broker) ->
    Status = fun(I) -> [S || #{item := It, status := S} <- Checks, It =:= I] end,
    PolicyBad = lists:member(problem, Status(policy) ++ Status(grants)),
    Nnp = Status(no_new_privs) =/= [ok],
    {V, Text} =
        case {V0, PolicyBad, Broker} of
            {root, _, _} -> {root, Text0};
            {_, true, _} -> {none, Text0};
            {_, _, {only, B}} ->
                {broker, <<"procket gets your sockets from the broker at ", B/binary>>};
            {_, _, {unreachable, _}} ->
                {none, <<"procket cannot get sockets for you: the broker it is set to use "
                         "does not answer">>};
            {broker, _, undefined} ->
                %% none wanted: the helper's own way
                case helper_way(Checks) of
                    none -> way_text(sudo_or_none(SudoOk, Nnp));
                    Way -> way_text(Way)
                end;
            {none, _, _} -> way_text(sudo_or_none(SudoOk, Nnp));
            _ -> {V0, Text0}
        end,
    %% the sudo rule's fix matters only when nothing else works
    Checks1 = [case C of
                   #{item := sudo, status := ok, fix := F} when V =:= none, F =/= <<>> ->
                       C#{status := warning};
                   #{item := sudo, status := ok} ->
                       C#{fix := <<>>};
                   _ -> C
               end || C <- Checks],
    Report#{verdict := V, text := Text, checks := Checks1}.

sudo_or_none(true, false) -> sudo;
sudo_or_none(_, _) -> none.

way_text(Way) ->
    {Way, helper_text(Way)}.

helper_text(sudo) ->
    <<"procket gets your sockets from the helper through sudo -n">>;
helper_text(setuid) ->
    <<"procket gets your sockets from the setuid root helper">>;
helper_text(capabilities) ->
    <<"procket gets your sockets from the helper and its file capabilities">>;
helper_text(_) ->
    <<"procket cannot get privileged sockets for you">>.

%% How the helper run directly was privileged, from its `privileges' item.
helper_way(Checks) ->
    case [T || #{item := privileges, status := ok, text := T} <- Checks] of
        [T] ->
            case {binary:match(T, <<"setuid root">>), binary:match(T, <<"file capabilities">>)} of
                {nomatch, nomatch} -> none;
                {nomatch, _} -> capabilities;
                _ -> setuid
            end;
        _ ->
            none
    end.
