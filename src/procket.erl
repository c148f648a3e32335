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
%% The next is tried only when the helper could not be run (not found, not
%% executable, or it exited without an answer, as when sudo refuses to run
%% it) or said that it ran without the privileges the request needs (not
%% installed setuid, no file capabilities). An answer from a helper that
%% had them is final: a policy's refusal is never asked again through sudo.
%% If no prefix could do it, the first error is returned. Default
%% `["", "sudo -n"]' for the priv/ helper, `[""]' with `progname'.</dd>
%% <dt>`{pipe, Path}'</dt>
%% <dd>Use the path transport: listen on a Unix socket at `Path' (absolute,
%% naming a file, which must not exist) and run the helper with `-u Path'.
%% The socket file is removed on return if it is still the one made
%% (`procket_open_path()' in `procket.h'); `{error, ebusy}' if `Path'
%% was changed during the bind. Default: no path at all, a socketpair
%% given to the helper as its standard input.</dd>
%% <dt>`{helper_timeout, Milliseconds | infinity}'</dt>
%% <dd>How long to wait for the helper, each time one runs. Default 5000.
%% (`{timeout, _}' is not procket's: a ping library's reply timeout passes
%% through unread.)</dd>
%% <dt>`{broker, Path | false}'</dt>
%% <dd>Ask the broker listening at `Path' (`procket -l PATH' run by root,
%% or systemd's procket.socket; see procket(8)) instead of running the
%% helper: nothing privileged is executed, so it works where the VM can
%% never gain privileges (no_new_privs, containers). The broker decides
%% as the helper would, and makes the socket in the caller's network
%% namespace. `false': never a broker. Default: the application
%% environment's `broker' (a path or `false'); else, unless `progname',
%% `exec' or `pipe' is given, the broker at `/run/procket/procket.sock'
%% when a socket is there and a broker listens on it; else the helper.</dd>
%% <dt>`{namespace, Name}'</dt>
%% <dd>Create the socket (or device) in the named network namespace
%% `/run/netns/Name', as made by `ip netns add Name'. Only such names
%% (letters, digits, `_', `-', `.'; not starting with `.' or `-'); the
%% paths `/run/netns/Name' and `/var/run/netns/Name' are taken as
%% `Name'. A name with no namespace gives `{error, enoent}'.</dd>
%% <dt>`{dev, tun | tap | {tun, Name} | {tap, Name}}'</dt>
%% <dd>Instead of a socket, a new tun (IP packets) or tap (Ethernet
%% frames) device, named `Name' or as the kernel chooses, owned by the
%% caller; the descriptor (non-blocking) reads and writes its packets and
%% the device disappears when it is closed. Port must be 0; socket options
%% are refused. An existing device is never attached to (`{error,
%% ebusy}'). `{dev, Path}' with a string (another character device) gives
%% `{error, eacces}', except `"net/tun"', the tun clone. See
%% {@link dev/1}.</dd>
%% <dt>`{packet_info, boolean()}'</dt>
%% <dd>tun/tap: keep the 4-byte packet information header before each
%% packet. Default `false'.</dd>
%% </dl>
%% Options procket does not know (`inet6', `{ttl, N}', `{timeout, N}',
%% `{active, false}', ...) are ignored whatever their values, as callers
%% pass options meant for other libraries. procket reads only the names
%% above: those of msantos/procket (`protocol', `type', `family', `ip',
%% `interface', `progname', `exec', `pipe', `namespace', `dev'), names
%% gen_tcp and gen_udp use with the same meaning (`ip', `backlog',
%% `ipv6_v6only'; `{ip, any}' and `{ip, loopback}' as there), and its own
%% `helper_timeout', `packet_info' and `broker'.
%%
%% == Errors ==
%% A value procket can never accept (port 70000, an unknown protocol atom,
%% a 40-byte interface name, a NUL byte) raises `error:badarg'. Otherwise
%% the result is `{ok, FD}' or `{error, Posix}': the helper's errno
%% (`eacces', `eaddrinuse', ...), `enoent' for a missing helper,
%% `timeout' when it did not answer in time, `econnreset' when it exited
%% without answering (its message is on the VM's standard error). No
%% descriptor, file, temporary directory or child process outlives a
%% failed call, except a `{pipe, Path}' socket file that someone else
%% moved away, or that was made elsewhere because `Path' was changed
%% during the bind: it is left alone.
-module(procket).

-export([open/1, open/2, listen/1, listen/2, close/1]).
-export([dev/1, dev/2]).
-export([helper_path/0, priv_dir/0]).
-export([diagnose/0, diagnose/1]).
-export([listen_fds/0]).
-export([gen_udp_open/2, gen_tcp_listen/2, socket_open/2]).
%% the socket API: see the section at the end and procket_socket
-export([socket/3, bind/2, connect/2, accept/1, accept/2,
         recv/2, recvfrom/2, recvfrom/4, sendto/2, sendto/3, sendto/4,
         recvmsg/4, recvmsg/5, sendmsg/4, sendmsg/5,
         read/2, write/2, writev/2, ioctl/3, ioctl/4,
         setsockopt/4, getsockopt/4, getsockname/2, getpeername/2,
         set_sock_nonblock/1, family/1, sockaddr_common/2, unix_path_max/0,
         socket_level/0, socket_level/1, socket_optname/0, socket_optname/1,
         socket_protocol/0, socket_protocol/1, msg_flag/0, msg_flag/1,
         ioctl_request/0, ioctl_request/1, errno_id/1,
         ntohl/1, ntohs/1, wordalign/1, wordalign/2,
         handle/1, fd/1, close_handle/1, controlling_process/2, handle_info/1,
         select/2, cancel_select/3, wait/3,
         recvfrom_wait/3, recvfrom_wait/5, read_wait/3, accept_wait/2,
         connect_wait/3, sendto_wait/5]).

-export_type([option/0, posix/0]).

-define(DEV_TUN_CLONE, 3).

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
                | {helper_timeout, pos_integer() | infinity}
                | {broker, string() | binary() | false}
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
        {ok, #{request := Req, broker := Broker, broker_default := Default,
               timeout := Timeout} = Plan} when is_binary(Broker) ->
            %% no program is run: the broker decides as the helper would
            case open_broker(Req, Broker, Timeout) of
                {next, _} when Default ->
                    %% the default path, where no broker heard it (none
                    %% listens, or not to this user): the helper
                    open_helper(Plan);
                {next, Reason} ->
                    {error, Reason};
                Result ->
                    Result
            end;
        {ok, Plan} ->
            open_helper(Plan);
        {error, _} = Error ->
            Error
    end.

%% The broker's backlog full: asked again 1, 2, 4, then every 8 ms, within
%% the timeout, waiting in `receive' (no scheduler held), so that a flood
%% of the broker's socket holds up no dirty scheduler of this VM.
open_broker(Req, Broker, Timeout) ->
    open_broker(Req, Broker, Timeout, erlang:monotonic_time(millisecond) + Timeout, 1).

open_broker(Req, Broker, Timeout, Deadline, Pause) ->
    case procket_nif:open_broker(Req, Broker, Timeout) of
        again ->
            Left = Deadline - erlang:monotonic_time(millisecond),
            if
                Left =< 0 ->
                    {error, timeout};
                true ->
                    receive after min(Pause, Left) -> ok end,
                    Left2 = max(1, Deadline - erlang:monotonic_time(millisecond)),
                    open_broker(Req, Broker, Left2, Deadline, min(Pause * 2, 8))
            end;
        Result ->
            Result
    end.

open_helper(Plan) ->
    case {ok, Plan} of
        {ok, #{request := #{device := ?DEV_TUN_CLONE, netns := <<>>} = Req,
               commands := Cmds, pipe := Pipe, timeout := Timeout}} ->
            %% the VM opens the clone itself if its credentials allow
            case procket_nif:open_tun_clone() of
                {error, Denied} when Denied =:= eacces; Denied =:= eperm ->
                    try_commands(Cmds, Req, Pipe, Timeout, undefined);
                Result ->
                    Result
            end;
        {ok, #{request := Req, commands := Cmds, pipe := Pipe,
               timeout := Timeout}} ->
            try_commands(Cmds, Req, Pipe, Timeout, undefined)
    end.

%% The next command is tried only when the NIF says `next': the helper
%% could not be run, or ran without the privileges the request needs. Any
%% other answer (a policy's refusal, a port in use, success) is final, so a
%% refusal is never asked of sudo again. When no command could do it, the
%% first one's error is returned.
try_commands([Cmd | Rest], Req, Pipe, Timeout, First) ->
    case procket_nif:open(Cmd, Req, Pipe, Timeout) of
        {next, Reason} when Rest =/= [] ->
            try_commands(Rest, Req, Pipe, Timeout, first(First, {error, Reason}));
        {next, Reason} ->
            first(First, {error, Reason});
        Result ->
            Result
    end.

first(undefined, Error) -> Error;
first(First, _) -> First.

%% @doc The 2010 name of {@link open/1}: a TCP socket bound to `Port'.
-spec listen(Port :: 0..65535) -> {ok, non_neg_integer()} | {error, posix()}.
listen(Port) ->
    open(Port, []).

%% @doc The 2010 name of {@link open/2}, as in
%% `procket:listen(53, [{protocol, udp}])'. With an integer as the second
%% argument it is listen(2) instead: `listen(FD, Backlog)' on a descriptor
%% or handle, `ok | {error, Posix}' (see {@link procket_socket:listen/2}).
-spec listen(Port :: 0..65535, Options :: [option()]) ->
          {ok, non_neg_integer()} | {error, posix()};
            (FD :: procket_socket:socket(), Backlog :: integer()) ->
          ok | {error, posix()}.
listen(Port, Options) when is_list(Options) ->
    open(Port, Options);
listen(FD, Backlog) when is_integer(Backlog) ->
    procket_socket:listen(FD, Backlog);
listen(_, _) ->
    erlang:error(badarg).

%% @doc A new tun or tap device: `open(0, [{dev, Dev}])'. `Dev' is
%% `tun', `tap', `{tun, Name}' or `{tap, Name}': a device the helper
%% creates, owned by the caller. `"net/tun"' or `"/dev/net/tun"' is the
%% tun clone device, attached to no device, for callers that name or
%% create one themselves with ``ioctl(FD, 'TUNSETIFF', Ifreq)'' (which
%% needs CAP_NET_ADMIN in the VM): the VM opens it itself when its
%% credentials allow (root, or a device of mode 0666), else the helper
%% does, when a `tun' rule that names no device grants it. Any other
%% path is `{error, eacces}' (never opened).
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
%% `packet_info', `progname', `exec', `pipe', `helper_timeout').
-spec dev(Dev :: tun | tap | {tun | tap, string() | binary()} | string(),
          Options :: [option()]) -> {ok, non_neg_integer()} | {error, posix()}.
dev(Dev, Options) when is_list(Options) ->
    open(0, [{dev, Dev} | Options]);
dev(_, _) ->
    erlang:error(badarg).

%% @doc Closes a descriptor procket gave out: from {@link open/2},
%% {@link dev/2}, {@link socket/3}, {@link accept/1}, or received with
%% SCM_RIGHTS by {@link recvmsg/4}. A port that took it over
%% (`gen_udp:open(0, [{fd, FD}])') does not close it: close it after the
%% port. Any other number, or one closed already, gives `{error, ebadf}'
%% and is left alone, even if the VM reused it for a file of its own; a
%% descriptor owned by a handle ({@link handle/1}) gives `{error,
%% ebusy}': close the handle with {@link close_handle/1}.
-spec close(FD :: non_neg_integer()) -> ok | {error, posix()}.
close(FD) when is_integer(FD), FD >= 0 ->
    %% a close(2) that may wait (a lingering socket, an AF_UNIX one with
    %% descriptors in flight, a file that is not a socket, one shared with
    %% another process) runs on a worker thread of the NIF's, which says
    %% when it returned: waited for here, holding no scheduler
    case procket_nif:close(FD) of
        closing -> receive {'$procket_closed', FD} -> ok end;
        Other -> Other
    end;
close(_) ->
    erlang:error(badarg).

%% @doc A `gen_udp' socket on `Port' that owns its descriptor: closing
%% it, or its owner's exit, closes the descriptor too (with
%% `gen_udp:open(0, [{fd, FD}])' alone it stays open). `Options' holds
%% procket's options (see {@link open/2}; `{protocol, udp}' is the
%% default) and gen_udp's, in one list:
%% ```
%% {ok, S} = procket:gen_udp_open(53, [binary, {active, false}]),
%% {ok, {Addr, Port, Query}} = gen_udp:recv(S, 512),
%% ok = gen_udp:close(S).
%% '''
%% procket's own names are not passed to gen_udp (`{ip, Address}' binds
%% the socket; gen_udp would try to bind it again); `ipv6_v6only' goes to
%% both. A bare `inet6' also makes procket open an IPv6 socket. A type,
%% protocol or device that is not a UDP socket is badarg. Errors are
%% those of {@link open/2} and of gen_udp:open/2, and leave nothing open.
-spec gen_udp_open(Port :: 0..65535, Options :: list()) ->
          {ok, gen_udp:socket()} | {error, term()}.
gen_udp_open(Port, Options) ->
    procket_own:gen_udp_open(Port, Options).

%% @doc A listening `gen_tcp' socket on `Port' that owns its descriptor,
%% as {@link gen_udp_open/2} for TCP: `gen_tcp:close/1' or its owner's
%% exit closes the descriptor. `{backlog, N}' goes to both procket and
%% gen_tcp.
%% ```
%% {ok, L} = procket:gen_tcp_listen(80, [binary, {active, false}]),
%% {ok, S} = gen_tcp:accept(L).
%% '''
-spec gen_tcp_listen(Port :: 0..65535, Options :: list()) ->
          {ok, gen_tcp:socket()} | {error, term()}.
gen_tcp_listen(Port, Options) ->
    procket_own:gen_tcp_listen(Port, Options).

%% @doc A `socket' module socket on `Port', from procket's options (see
%% {@link open/2}; default a TCP socket): `socket:open/2' gets a
%% duplicate of the descriptor, and procket's copy is closed at once, so
%% `socket:close/1' closes everything. `{debug, B}' and
%% `{use_registry, B}' in `Options' go to `socket:open/2'; other names
%% that are not procket's are ignored.
%% ```
%% {ok, S} = procket:socket_open(53, [{protocol, udp}]),
%% {ok, {Source, Query}} = socket:recvfrom(S).
%% '''
-spec socket_open(Port :: 0..65535, Options :: list()) ->
          {ok, socket:socket()} | {error, term()}.
socket_open(Port, Options) ->
    procket_own:socket_open(Port, Options).

%% @doc How procket would work for this VM's user on this machine, and
%% what to fix: the helper's `procket --check' (procket(8)) for the helper
%% {@link open/2} would run, with what only the VM sees (a sudo rule, the
%% broker it would choose, whether it runs as root). A map: `verdict'
%% (`root', `broker', `setuid', `capabilities', `sudo' or `none'),
%% `text', `helper' and `checks', a list of
%% `#{item, status (ok | warning | problem), text, fix}'. See
%% {@link procket_diagnose}.
-spec diagnose() -> procket_diagnose:report().
diagnose() ->
    procket_diagnose:run().

%% @doc `diagnose(print)': {@link diagnose/0}, also printed as plain text;
%% `diagnose(Helper)' (a string or a binary): the report for that helper.
-spec diagnose(print | file:filename_all()) -> procket_diagnose:report().
diagnose(print) ->
    procket_diagnose:print(procket_diagnose:run());
diagnose(Helper) when is_list(Helper); is_binary(Helper) ->
    procket_diagnose:run(Helper);
diagnose(_) ->
    erlang:error(badarg).

%% @doc The default helper: the application environment's `helper' (a
%% string or, as Elixir passes it, a binary) if set, else `procket' in
%% {@link priv_dir/0}. `make install' sets `helper' in the installed
%% application's environment to the installed helper (under
%% `libexec/procket/'), so the installed application and the releases
%% made from it use that one; a release that builds procket itself sets
%% it in its `sys.config' (see the README).
-spec helper_path() -> file:filename().
helper_path() ->
    case helper_env() of
        undefined ->
            %% the environment of procket.app is there once the
            %% application is loaded (an installed one names the
            %% installed helper); a value set before stays
            _ = application:load(procket),
            case helper_env() of
                undefined -> filename:join(priv_dir(), "procket");
                Path -> Path
            end;
        Path ->
            Path
    end.

%% A string, a deep list or a binary of UTF-8 (flattened); an empty one
%% is unset; anything else is badarg, a clear error rather than a path
%% that is not one.
helper_env() ->
    case application:get_env(procket, helper) of
        {ok, Path} when is_list(Path); is_binary(Path) ->
            case catch unicode:characters_to_list(Path) of
                [] -> undefined;
                L when is_list(L) -> L;
                _ -> erlang:error(badarg)
            end;
        {ok, _} -> erlang:error(badarg);
        undefined -> undefined
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

%% @doc The sockets passed to this VM by socket activation, from
%% procket-exec(1) or systemd (sd_listen_fds(3)): `{Name, FD}' for each,
%% in order, from descriptor 3 up. The names are `LISTEN_FDNAMES''s
%% (procket-exec's `-n NAME', by default `"tcp-80"', `"udp-53"', ...;
%% systemd's `FileDescriptorName='), `"unknown"' each when it is unset.
%% `[]' unless `LISTEN_PID' is this VM's pid (`erl' execs the emulator,
%% so the VM keeps the pid procket-exec or systemd started) and
%% `LISTEN_FDS' a count of open descriptors; also `[]' for any malformed
%% value, or as many names as descriptors. The variables are left as
%% they are: programs the VM starts have another pid and ignore them.
%% ```
%% [{_, FD}] = procket:listen_fds(),
%% {ok, L} = gen_tcp:listen(0, [{fd, FD}]).
%% '''
-spec listen_fds() -> [{Name :: string(), FD :: non_neg_integer()}].
listen_fds() ->
    Pid = listen_env_int(os:getenv("LISTEN_PID")),
    Count = listen_env_int(os:getenv("LISTEN_FDS")),
    case Pid =:= list_to_integer(os:getpid()) andalso is_integer(Count)
        andalso Count =< 65536 of
        true -> listen_fds(Count, os:getenv("LISTEN_FDNAMES"));
        false -> []
    end.

%% sd_listen_fds(3): descriptors 3 to 3 + Count - 1, which must be open
%% (looked up in /proc when it is there).
listen_fds(Count, NamesVar) ->
    FDs = lists:seq(3, 3 + Count - 1),
    Open = case file:read_file_info("/proc/self/fd") of
               {ok, _} -> lists:all(fun listen_fd_open/1, FDs);
               {error, _} -> true
           end,
    Names = case NamesVar of
                false -> lists:duplicate(Count, "unknown");
                _ -> listen_fd_names(NamesVar, [], [])
            end,
    case Open andalso length(Names) =:= Count of
        true -> lists:zip(Names, FDs);
        false -> []
    end.

listen_fd_open(FD) ->
    case file:read_link("/proc/self/fd/" ++ integer_to_list(FD)) of
        {ok, _} -> true;
        {error, _} -> false
    end.

%% LISTEN_FDNAMES split at each ':' (empty names kept, as systemd does).
listen_fd_names([], Name, Acc) ->
    lists:reverse([lists:reverse(Name) | Acc]);
listen_fd_names([$: | Rest], Name, Acc) ->
    listen_fd_names(Rest, [], [lists:reverse(Name) | Acc]);
listen_fd_names([C | Rest], Name, Acc) ->
    listen_fd_names(Rest, [C | Name], Acc).

%% A positive decimal number (digits only, at most 10), else false.
listen_env_int(Value) when is_list(Value), Value =/= [], length(Value) =< 10 ->
    case lists:all(fun(C) -> is_integer(C) andalso C >= $0 andalso C =< $9 end, Value) of
        true when Value =/= "0" -> list_to_integer(Value);
        _ -> false
    end;
listen_env_int(_) ->
    false.

%% --- the socket API (see procket_socket) -----------------------------------
%% Thin wrappers: the documentation, the rules (non-blocking calls, dirty
%% schedulers, bounds, handles) and the differences from msantos/procket
%% are in procket_socket. listen/2 with an integer backlog is above, with
%% the 2010 listen/2. close/1 above closes integer descriptors; a handle is
%% closed with close_handle/1.

-type sock() :: procket_socket:socket().
-type sock_posix() :: procket_socket:posix().

%% @doc socket(2), non-blocking and close-on-exec; see
%% {@link procket_socket:socket/3}.
-spec socket(procket_socket:family(), procket_socket:type(),
             procket_socket:protocol()) ->
          {ok, procket_socket:fd()} | {error, sock_posix()}.
socket(Family, Type, Protocol) -> procket_socket:socket(Family, Type, Protocol).

%% @doc bind(2); see {@link procket_socket:bind/2}.
-spec bind(sock(), binary()) -> ok | {error, sock_posix()}.
bind(FD, Sockaddr) -> procket_socket:bind(FD, Sockaddr).

%% @doc connect(2), `<<>>' for NULL; see {@link procket_socket:connect/2}.
-spec connect(sock(), binary()) -> ok | {error, sock_posix()}.
connect(FD, Sockaddr) -> procket_socket:connect(FD, Sockaddr).

%% @doc accept(2); see {@link procket_socket:accept/1}.
-spec accept(sock()) -> {ok, procket_socket:fd()} | {error, sock_posix()}.
accept(FD) -> procket_socket:accept(FD).

%% @doc accept(2) with the peer address; see {@link procket_socket:accept/2}.
-spec accept(sock(), non_neg_integer()) ->
          {ok, procket_socket:fd(), binary()} | {error, sock_posix()}.
accept(FD, Salen) -> procket_socket:accept(FD, Salen).

%% @doc recv(2); see {@link procket_socket:recv/2}.
-spec recv(sock(), non_neg_integer()) -> {ok, binary()} | {error, sock_posix()}.
recv(FD, Size) -> procket_socket:recv(FD, Size).

%% @doc recvfrom(2), never blocking; see {@link procket_socket:recvfrom/2}.
-spec recvfrom(sock(), non_neg_integer()) -> {ok, binary()} | {error, sock_posix()}.
recvfrom(FD, Size) -> procket_socket:recvfrom(FD, Size).

%% @doc recvfrom(2) with the sender's address; see
%% {@link procket_socket:recvfrom/4}.
-spec recvfrom(sock(), non_neg_integer(), procket_socket:flags(), non_neg_integer()) ->
          {ok, binary(), binary()} | {error, sock_posix() | unsupported}.
recvfrom(FD, Size, Flags, Salen) -> procket_socket:recvfrom(FD, Size, Flags, Salen).

%% @doc send(2); see {@link procket_socket:sendto/2}.
-spec sendto(sock(), iodata()) -> ok | {ok, non_neg_integer()} | {error, sock_posix()}.
sendto(FD, Buf) -> procket_socket:sendto(FD, Buf).

%% @doc send(2) with flags; see {@link procket_socket:sendto/3}.
-spec sendto(sock(), iodata(), procket_socket:flags()) ->
          ok | {ok, non_neg_integer()} | {error, sock_posix() | unsupported}.
sendto(FD, Buf, Flags) -> procket_socket:sendto(FD, Buf, Flags).

%% @doc sendto(2); see {@link procket_socket:sendto/4}.
-spec sendto(sock(), iodata(), procket_socket:flags(), binary()) ->
          ok | {ok, non_neg_integer()} | {error, sock_posix() | unsupported}.
sendto(FD, Buf, Flags, Sockaddr) -> procket_socket:sendto(FD, Buf, Flags, Sockaddr).

%% @doc recvmsg(2); see {@link procket_socket:recvmsg/4}.
-spec recvmsg(sock(), non_neg_integer(), procket_socket:flags(), non_neg_integer()) ->
          {ok, binary(), integer(), [{integer(), integer(), binary()}]}
        | {error, sock_posix() | unsupported}.
recvmsg(FD, Size, Flags, CtrlSize) -> procket_socket:recvmsg(FD, Size, Flags, CtrlSize).

%% @doc recvmsg(2) with the sender's address; see
%% {@link procket_socket:recvmsg/5}.
-spec recvmsg(sock(), non_neg_integer(), procket_socket:flags(), non_neg_integer(),
              non_neg_integer()) ->
          {ok, binary(), integer(), [{integer(), integer(), binary()}], binary()}
        | {error, sock_posix() | unsupported}.
recvmsg(FD, Size, Flags, CtrlSize, SockaddrSize) ->
    procket_socket:recvmsg(FD, Size, Flags, CtrlSize, SockaddrSize).

%% @doc sendmsg(2); see {@link procket_socket:sendmsg/4}.
-spec sendmsg(sock(), iodata(), procket_socket:flags(), [procket_socket:cmsg()]) ->
          ok | {ok, non_neg_integer()} | {error, sock_posix() | unsupported}.
sendmsg(FD, Buf, Flags, Ctrl) -> procket_socket:sendmsg(FD, Buf, Flags, Ctrl).

%% @doc sendmsg(2) to an address; see {@link procket_socket:sendmsg/5}.
-spec sendmsg(sock(), iodata(), procket_socket:flags(), [procket_socket:cmsg()],
              binary()) ->
          ok | {ok, non_neg_integer()} | {error, sock_posix() | unsupported}.
sendmsg(FD, Buf, Flags, Ctrl, Sockaddr) ->
    procket_socket:sendmsg(FD, Buf, Flags, Ctrl, Sockaddr).

%% @doc read(2); see {@link procket_socket:read/2}.
-spec read(sock(), non_neg_integer()) -> {ok, binary()} | {error, sock_posix()}.
read(FD, Size) -> procket_socket:read(FD, Size).

%% @doc write(2); see {@link procket_socket:write/2}.
-spec write(sock(), binary() | [binary()]) ->
          ok | {ok, non_neg_integer()} | {error, sock_posix()}.
write(FD, Buf) -> procket_socket:write(FD, Buf).

%% @doc writev(2); see {@link procket_socket:writev/2}.
-spec writev(sock(), [binary()]) -> ok | {ok, non_neg_integer()} | {error, sock_posix()}.
writev(FD, Bufs) -> procket_socket:writev(FD, Bufs).

%% @doc ioctl(2) on a dirty I/O scheduler; see {@link procket_socket:ioctl/3}.
-spec ioctl(sock(), 0..16#ffffffff | atom(), binary() | integer()) ->
          {ok, binary()} | {error, sock_posix() | unsupported}.
ioctl(FD, Request, Arg) -> procket_socket:ioctl(FD, Request, Arg).

%% @doc ioctl(2) with its return value; see {@link procket_socket:ioctl/4}.
-spec ioctl(sock(), 0..16#ffffffff | atom(), binary() | integer(),
            non_neg_integer()) ->
          {ok, integer(), binary()} | {error, sock_posix() | unsupported}.
ioctl(FD, Request, Arg, OutSize) -> procket_socket:ioctl(FD, Request, Arg, OutSize).

%% @doc setsockopt(2); see {@link procket_socket:setsockopt/4}.
-spec setsockopt(sock(), integer() | atom(), integer() | atom(), binary() | integer()) ->
          ok | {error, sock_posix() | unsupported}.
setsockopt(FD, Level, Optname, Optval) ->
    procket_socket:setsockopt(FD, Level, Optname, Optval).

%% @doc getsockopt(2); see {@link procket_socket:getsockopt/4}.
-spec getsockopt(sock(), integer() | atom(), integer() | atom(), binary()) ->
          {ok, binary()} | {error, sock_posix() | unsupported}.
getsockopt(FD, Level, Optname, Optval) ->
    procket_socket:getsockopt(FD, Level, Optname, Optval).

%% @doc getsockname(2); see {@link procket_socket:getsockname/2}.
-spec getsockname(sock(), binary() | non_neg_integer()) ->
          {ok, binary()} | {error, sock_posix()}.
getsockname(FD, Sockaddr) -> procket_socket:getsockname(FD, Sockaddr).

%% @doc getpeername(2); see {@link procket_socket:getpeername/2}.
-spec getpeername(sock(), binary() | non_neg_integer()) ->
          {ok, binary()} | {error, sock_posix()}.
getpeername(FD, Sockaddr) -> procket_socket:getpeername(FD, Sockaddr).

%% @doc Sets O_NONBLOCK; see {@link procket_socket:set_sock_nonblock/1}.
-spec set_sock_nonblock(sock()) -> ok | {error, sock_posix()}.
set_sock_nonblock(FD) -> procket_socket:set_sock_nonblock(FD).

%% @doc An address family's number, or a number's name; see
%% {@link procket_socket:family/1}.
-spec family(atom() | integer()) -> integer() | atom().
family(Family) -> procket_socket:family(Family).

%% @doc The platform's `struct sockaddr' header; see
%% {@link procket_socket:sockaddr_common/2}.
-spec sockaddr_common(atom() | 0..65535, 0..255) -> <<_:16>>.
sockaddr_common(Family, Length) -> procket_socket:sockaddr_common(Family, Length).

%% @doc The size of `sun_path'; see {@link procket_socket:unix_path_max/0}.
-spec unix_path_max() -> pos_integer().
unix_path_max() -> procket_socket:unix_path_max().

%% @doc The socket levels; see {@link procket_socket:socket_level/0}.
-spec socket_level() -> [{atom(), integer()}].
socket_level() -> procket_socket:socket_level().

%% @doc A socket level's value; see {@link procket_socket:socket_level/1}.
-spec socket_level(atom()) -> integer() | undefined.
socket_level(Name) -> procket_socket:socket_level(Name).

%% @doc The option names; see {@link procket_socket:socket_optname/0}.
-spec socket_optname() -> [{atom(), integer()}].
socket_optname() -> procket_socket:socket_optname().

%% @doc An option name's value; see {@link procket_socket:socket_optname/1}.
-spec socket_optname(atom()) -> integer() | undefined.
socket_optname(Name) -> procket_socket:socket_optname(Name).

%% @doc The protocol names; see {@link procket_socket:socket_protocol/0}.
-spec socket_protocol() -> [{atom(), integer()}].
socket_protocol() -> procket_socket:socket_protocol().

%% @doc A protocol name's value; see {@link procket_socket:socket_protocol/1}.
-spec socket_protocol(atom()) -> integer() | undefined.
socket_protocol(Name) -> procket_socket:socket_protocol(Name).

%% @doc The message flags; see {@link procket_socket:msg_flag/0}.
-spec msg_flag() -> [{atom(), integer()}].
msg_flag() -> procket_socket:msg_flag().

%% @doc A message flag's value; see {@link procket_socket:msg_flag/1}.
-spec msg_flag(atom()) -> integer() | undefined.
msg_flag(Name) -> procket_socket:msg_flag(Name).

%% @doc The ioctl request names; see {@link procket_socket:ioctl_request/0}.
-spec ioctl_request() -> [{atom(), integer()}].
ioctl_request() -> procket_socket:ioctl_request().

%% @doc An ioctl request's value; see {@link procket_socket:ioctl_request/1}.
-spec ioctl_request(atom()) -> integer() | undefined.
ioctl_request(Name) -> procket_socket:ioctl_request(Name).

%% @doc The name of an errno value; see {@link procket_socket:errno_id/1}.
-spec errno_id(integer()) -> sock_posix().
errno_id(Errno) -> procket_socket:errno_id(Errno).

%% @doc Network to host byte order, 32 bits; see {@link procket_socket:ntohl/1}.
-spec ntohl(<<_:32>> | 0..16#ffffffff) -> 0..16#ffffffff.
ntohl(I) -> procket_socket:ntohl(I).

%% @doc Network to host byte order, 16 bits; see {@link procket_socket:ntohs/1}.
-spec ntohs(<<_:16>> | <<_:32>> | 0..16#ffff) -> 0..16#ffff.
ntohs(I) -> procket_socket:ntohs(I).

%% @doc Padding to a word boundary; see {@link procket_socket:wordalign/1}.
-spec wordalign(non_neg_integer()) -> non_neg_integer().
wordalign(Offset) -> procket_socket:wordalign(Offset).

%% @doc Padding to a multiple of `Align'; see {@link procket_socket:wordalign/2}.
-spec wordalign(non_neg_integer(), pos_integer()) -> non_neg_integer().
wordalign(Offset, Align) -> procket_socket:wordalign(Offset, Align).

%% @doc A handle owning `FD', closed when the caller exits; see
%% {@link procket_socket:handle/1}.
-spec handle(procket_socket:fd()) -> {ok, procket_socket:handle()} | {error, sock_posix()}.
handle(FD) -> procket_socket:handle(FD).

%% @doc The descriptor of a handle; see {@link procket_socket:fd/1}.
-spec fd(procket_socket:handle()) -> procket_socket:fd().
fd(Handle) -> procket_socket:fd(Handle).

%% @doc Closes a handle; see {@link procket_socket:close_handle/1}.
-spec close_handle(procket_socket:handle()) -> ok | {error, sock_posix()}.
close_handle(Handle) -> procket_socket:close_handle(Handle).

%% @doc A new owner for a handle; see
%% {@link procket_socket:controlling_process/2}.
-spec controlling_process(procket_socket:handle(), pid()) ->
          ok | {error, sock_posix() | not_owner}.
controlling_process(Handle, Pid) -> procket_socket:controlling_process(Handle, Pid).

%% @doc The state of a handle; see {@link procket_socket:handle_info/1}.
-spec handle_info(procket_socket:handle()) ->
          #{fd := integer(), state := open | closing | closed,
            owner := pid() | undefined, selected := boolean()}.
handle_info(Handle) -> procket_socket:handle_info(Handle).

%% @doc One readiness message `{select, Handle, Ref, ready_input |
%% ready_output}'; see {@link procket_socket:select/2}.
-spec select(procket_socket:handle(), read | write) ->
          {ok, reference()} | {error, sock_posix()}.
select(Handle, Mode) -> procket_socket:select(Handle, Mode).

%% @doc Cancels a select; see {@link procket_socket:cancel_select/3}.
-spec cancel_select(procket_socket:handle(), read | write, reference()) -> ok.
cancel_select(Handle, Mode, Ref) -> procket_socket:cancel_select(Handle, Mode, Ref).

%% @doc Waits for readiness; see {@link procket_socket:wait/3}.
-spec wait(procket_socket:handle(), read | write, procket_socket:timeout_ms()) ->
          ok | {error, sock_posix() | timeout}.
wait(Handle, Mode, Timeout) -> procket_socket:wait(Handle, Mode, Timeout).

%% @doc recvfrom/2 that waits; see {@link procket_socket:recvfrom_wait/3}.
-spec recvfrom_wait(procket_socket:handle(), non_neg_integer(),
                    procket_socket:timeout_ms()) ->
          {ok, binary()} | {error, sock_posix() | timeout}.
recvfrom_wait(Handle, Size, Timeout) -> procket_socket:recvfrom_wait(Handle, Size, Timeout).

%% @doc recvfrom/4 that waits; see {@link procket_socket:recvfrom_wait/5}.
-spec recvfrom_wait(procket_socket:handle(), non_neg_integer(), procket_socket:flags(),
                    non_neg_integer(), procket_socket:timeout_ms()) ->
          {ok, binary(), binary()} | {error, sock_posix() | timeout | unsupported}.
recvfrom_wait(Handle, Size, Flags, Salen, Timeout) ->
    procket_socket:recvfrom_wait(Handle, Size, Flags, Salen, Timeout).

%% @doc read/2 that waits; see {@link procket_socket:read_wait/3}.
-spec read_wait(procket_socket:handle(), non_neg_integer(), procket_socket:timeout_ms()) ->
          {ok, binary()} | {error, sock_posix() | timeout}.
read_wait(Handle, Size, Timeout) -> procket_socket:read_wait(Handle, Size, Timeout).

%% @doc accept/1 that waits; see {@link procket_socket:accept_wait/2}.
-spec accept_wait(procket_socket:handle(), procket_socket:timeout_ms()) ->
          {ok, procket_socket:fd()} | {error, sock_posix() | timeout}.
accept_wait(Handle, Timeout) -> procket_socket:accept_wait(Handle, Timeout).

%% @doc connect/2 that waits for completion; see
%% {@link procket_socket:connect_wait/3}.
-spec connect_wait(procket_socket:handle(), binary(), procket_socket:timeout_ms()) ->
          ok | {error, sock_posix() | timeout | unsupported}.
connect_wait(Handle, Sockaddr, Timeout) ->
    procket_socket:connect_wait(Handle, Sockaddr, Timeout).

%% @doc sendto/4 that waits for buffer space; see
%% {@link procket_socket:sendto_wait/5}.
-spec sendto_wait(procket_socket:handle(), iodata(), procket_socket:flags(), binary(),
                  procket_socket:timeout_ms()) ->
          ok | {ok, non_neg_integer()} | {error, sock_posix() | timeout | unsupported}.
sendto_wait(Handle, Buf, Flags, Sockaddr, Timeout) ->
    procket_socket:sendto_wait(Handle, Buf, Flags, Sockaddr, Timeout).
