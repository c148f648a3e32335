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
%% <dt>`{family, inet | inet6 | packet | integer()}'</dt>
%% <dd>Default `inet', or `inet6' when `ip' is an IPv6 address. Other
%% families give `{error, eafnosupport}'. A `packet' socket (AF_PACKET)
%% takes port 0, type `raw' (default) or `dgram', and as protocol the
%% ethertype: `all' (default), `ip', `ipv6', `arp', or the number
%% socket(2) takes (network byte order, e.g. 16#0008 for IPv4 on
%% little-endian machines, as older callers pass it); with `interface' it
%% is bound to that interface.</dd>
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
%% <dt>`{namespace, Name}'</dt>
%% <dd>Create the socket (or device) in the named network namespace
%% `/run/netns/Name', as made by `ip netns add Name'. Only such names
%% (letters, digits, `_', `-', `.'; not starting with `.' or `-'), never
%% a path. A name with no namespace gives `{error, enoent}'.</dd>
%% <dt>`{dev, tun | tap | {tun, Name} | {tap, Name}}'</dt>
%% <dd>Instead of a socket, a new tun (IP packets) or tap (Ethernet
%% frames) device, named `Name' or as the kernel chooses, owned by the
%% caller; the descriptor (non-blocking) reads and writes its packets and
%% the device disappears when it is closed. Port must be 0; socket options
%% are refused. An existing device is never attached to (`{error,
%% ebusy}'). `{dev, Path}' with a string (another character device) gives
%% `{error, eacces}'. See {@link dev/1}.</dd>
%% <dt>`{packet_info, boolean()}'</dt>
%% <dd>tun/tap: keep the 4-byte packet information header before each
%% packet. Default `false'.</dd>
%% Options procket does not know (`inet6',
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
-export([dev/1, dev/2]).
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
                | {namespace, string() | binary()}
                | {dev, tun | tap | {tun | tap, string() | binary()} | string()}
                | {packet_info, boolean()}
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

%% @doc A new tun or tap device: `open(0, [{dev, Dev}])'. `Dev' is
%% `tun', `tap', `{tun, Name}' or `{tap, Name}'.
%% ```
%% {ok, FD} = procket:dev({tun, "tun7"}),
%% %% configure it: ip addr add 10.7.0.1/24 dev tun7; ip link set tun7 up
%% {ok, Packet} = procket:read(FD, 1500).
%% '''
-spec dev(Dev :: tun | tap | {tun | tap, string() | binary()} | string()) ->
          {ok, non_neg_integer()} | {error, posix()}.
dev(Dev) ->
    open(0, [{dev, Dev}]).

%% @doc {@link dev/1} with more options of {@link open/2} (`namespace',
%% `packet_info', `progname', `exec', `pipe', `timeout').
-spec dev(Dev :: tun | tap | {tun | tap, string() | binary()} | string(),
          Options :: [option()]) -> {ok, non_neg_integer()} | {error, posix()}.
dev(Dev, Options) when is_list(Options) ->
    open(0, [{dev, Dev} | Options]);
dev(_, _) ->
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
