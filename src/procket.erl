%% @doc Privileged sockets for an unprivileged Erlang VM.
%%
%% `procket' asks a small helper program, installed setuid root (or run
%% through sudo, or given file capabilities), for a socket the VM may not
%% create itself: a port below 1024, an interface binding, a raw socket.
%% The helper creates the socket as the calling user, drops its
%% privileges for good and passes the descriptor back; the VM never runs
%% privileged code.
%%
%% ```
%% {ok, FD} = procket:open(53, [{protocol, udp}]),
%% {ok, S} = gen_udp:open(0, [{fd, FD}]).
%% '''
%%
%% On OTP 17 and later the port given to `gen_udp:open/2' or
%% `gen_tcp:listen/2' together with `{fd, FD}' must be 0 (the port is
%% already bound); `gen_udp:open(53, [{fd, FD}])' fails inside OTP.
%%
%% == Options of open/2 ==
%% <dl>
%% <dt>`{protocol, tcp | udp | icmp | icmp6 | ''ipv6-icmp'' | sctp | udplite | raw | ip | 0..255}'</dt>
%% <dd>Default `tcp', or what the type implies (`dgram': udp).</dd>
%% <dt>`{type, stream | dgram | raw | integer()}'</dt>
%% <dd>Default: what the protocol implies (tcp: stream, udp: dgram,
%% others: raw).</dd>
%% <dt>`{family, inet | inet6 | integer()}'</dt>
%% <dd>Default `inet', or `inet6' when `ip' is an IPv6 address. Other
%% families give `{error, eafnosupport}'.</dd>
%% <dt>`{ip, Address}'</dt>
%% <dd>Local address, a tuple or a string (`"::1"'). Default: any.</dd>
%% <dt>`{interface, Name}'</dt>
%% <dd>Bind to this interface (SO_BINDTODEVICE).</dd>
%% <dt>`{backlog, 0..65535}'</dt>
%% <dd>Stream sockets: the helper also calls listen(2). Default: it does
%% not (gen_tcp:listen/2 does).</dd>
%% <dt>`{ipv6_v6only, boolean()}'</dt>
%% <dd>inet6 only. Default `true': the socket takes IPv6 traffic only,
%% whatever the system default, so IPv4 and IPv6 sockets can share a
%% port. `false' gives a dual-stack socket.</dd>
%% <dt>`{progname, Command}'</dt>
%% <dd>The helper command, e.g. `"sudo priv/procket"'. Split at spaces;
%% never given to a shell. Default: the helper in priv/.</dd>
%% <dt>`{exec, [Prefix]}'</dt>
%% <dd>Prefixes tried in order before the command, e.g. `["", "sudo"]'.
%% The next is tried only when one fails with `eacces' or `eperm'; if all
%% fail the first error is returned. Default `["", "sudo -n"]' for the
%% priv/ helper, `[""]' with `progname'.</dd>
%% <dt>`{pipe, Path}'</dt>
%% <dd>Use the path transport: listen on a Unix socket at `Path' (which
%% must not exist) and run the helper with `-u Path'. Default: no path at
%% all, a socketpair given to the helper as its standard input.</dd>
%% <dt>`{timeout, Milliseconds}'</dt>
%% <dd>How long to wait for the helper. Default 5000.</dd>
%% </dl>
%% `{namespace, _}' and `{dev, _}' are recognised but not implemented:
%% `{error, enotsup}'. Options procket does not know (`inet6',
%% `{ttl, N}', ...) are ignored, as callers pass options meant for other
%% libraries.
%%
%% == Errors ==
%% A value procket can never accept (port 70000, an unknown protocol atom,
%% a 40-byte interface name, a NUL byte) raises `error:badarg'. Otherwise
%% the result is `{ok, FD}' or `{error, Posix}': the helper's errno
%% (`eacces', `eaddrinuse', ...), `enoent' for a missing helper,
%% `timeout' when it did not answer in time, `econnreset' when it exited
%% without answering (its message is on the VM's standard error). No
%% descriptor, file, temporary directory or child process outlives a
%% failed call.
-module(procket).

-export([open/1, open/2, listen/1, listen/2, close/1]).
-export([helper_path/0, priv_dir/0]).

-export_type([option/0, posix/0]).

-type posix() :: atom().
%% An errno name as in {@link file:posix()}, or `timeout'.

-type option() :: {protocol, atom() | 0..255}
                | {type, stream | dgram | raw | integer()}
                | {family, inet | inet6 | atom() | integer()}
                | {ip, inet:ip_address() | string() | binary()}
                | {interface, string() | binary()}
                | {backlog, 0..65535}
                | {ipv6_v6only, boolean()}
                | {progname, string() | binary()}
                | {exec, [string() | binary()]}
                | {pipe, string() | binary()}
                | {timeout, pos_integer()}
                | {namespace, term()}
                | {dev, term()}
                | term().

%% @doc A TCP socket bound to `Port' on any IPv4 address: `open(Port, [])'.
-spec open(Port :: 0..65535) -> {ok, non_neg_integer()} | {error, posix()}.
open(Port) ->
    open(Port, []).

%% @doc A socket bound to `Port' as `Options' describe (see the module
%% documentation), created by the privileged helper. Returns the
%% descriptor, for `gen_udp:open(0, [{fd, FD}])',
%% `gen_tcp:listen(0, [{fd, FD}])' or `socket:open(FD)'. The caller owns
%% it: close it with {@link close/1} unless a port took it over.
-spec open(Port :: 0..65535, Options :: [option()]) ->
          {ok, non_neg_integer()} | {error, posix()}.
open(Port, Options) ->
    case procket_opts:parse(Port, Options) of
        {ok, #{request := Req, commands := Cmds, pipe := Pipe,
               timeout := Timeout}} ->
            try_commands(Cmds, Req, Pipe, Timeout, undefined);
        {error, _} = Error ->
            Error
    end.

try_commands([Cmd | Rest], Req, Pipe, Timeout, First) ->
    case procket_nif:open(Cmd, Req, Pipe, Timeout) of
        {ok, _} = Ok ->
            Ok;
        {error, Reason} = Error when Rest =/= [],
                                     (Reason =:= eacces orelse
                                      Reason =:= eperm) ->
            try_commands(Rest, Req, Pipe, Timeout, first(First, Error));
        Error ->
            first(First, Error)
    end.

first(undefined, Error) -> Error;
first(First, _) -> First.

%% @doc The 2010 name of {@link open/1}: a TCP socket bound to `Port'.
-spec listen(Port :: 0..65535) -> {ok, non_neg_integer()} | {error, posix()}.
listen(Port) ->
    open(Port, []).

%% @doc The 2010 name of {@link open/2}, as in
%% `procket:listen(53, [{protocol, udp}])'.
-spec listen(Port :: 0..65535, Options :: [option()]) ->
          {ok, non_neg_integer()} | {error, posix()}.
listen(Port, Options) when is_list(Options) ->
    open(Port, Options);
listen(_, _) ->
    erlang:error(badarg).

%% @doc Closes a descriptor obtained from {@link open/2} that no port
%% took over.
-spec close(FD :: non_neg_integer()) -> ok | {error, posix()}.
close(FD) when is_integer(FD), FD >= 0 ->
    procket_nif:close(FD);
close(_) ->
    erlang:error(badarg).

%% @doc The default helper: the application environment's `helper' if
%% set, else `procket' in {@link priv_dir/0}.
-spec helper_path() -> file:filename().
helper_path() ->
    case application:get_env(procket, helper) of
        {ok, Path} when is_list(Path) -> Path;
        _ -> filename:join(priv_dir(), "procket")
    end.

%% @doc The application's priv directory, also when the code was loaded
%% with `-pa ebin' from a directory not named procket.
-spec priv_dir() -> file:filename().
priv_dir() ->
    case code:priv_dir(procket) of
        Dir when is_list(Dir) ->
            Dir;
        {error, bad_name} ->
            Ebin = filename:dirname(code:which(?MODULE)),
            filename:join(filename:dirname(Ebin), "priv")
    end.
