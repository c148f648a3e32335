%% @doc The low-level socket API of procket, and handles for asynchronous
%% I/O. Call it through {@link procket} (`procket:socket/3',
%% `procket:recvfrom/2', ...); the functions there delegate here.
%%
%% It keeps the documented API of the older Erlang library
%% msantos/procket: the same names, arities and return shapes, so programs
%% written against it work unchanged. Descriptors are integers the caller
%% owns, as there. In addition, a descriptor can be given to a
%% <em>handle</em>, which owns it, closes it when its owner process exits,
%% and can wait for readiness without polling:
%%
%% ```
%% {ok, FD} = procket:socket(inet, dgram, udp),
%% ok = procket:bind(FD, <<(procket:sockaddr_common(inet, 16))/binary,
%%                         5353:16, 127,0,0,1, 0:64>>),
%% {ok, H} = procket:handle(FD),           % H owns FD now
%% {ok, Data} = procket:recvfrom_wait(H, 1500, 5000),
%% ok = procket:close_handle(H).
%% '''
%%
%% == Descriptors and handles ==
%% Every function taking a descriptor (`FD') takes a handle too. A handle
%% is made by {@link handle/1} from a descriptor; from then on the handle
%% owns it:
%% <ul>
%% <li>the descriptor is non-blocking and close-on-exec; procket sets
%% O_NONBLOCK again if someone clears it;</li>
%% <li>it is closed by {@link close_handle/1}, when the owner process (the
%% caller of `handle/1', or the one given by {@link controlling_process/2})
%% exits, or when no term refers to the handle any more and it was never
%% selected (a selected handle is held by the VM's poll set until it is
%% closed or its owner exits);</li>
%% <li>a descriptor belongs to one handle at most (`{error, ebusy}'
%% otherwise), and a closed handle never touches a descriptor again: calls
%% on it return `{error, ebadf}', even if the number was reused;</li>
%% <li>closing waits for calls in progress on other schedulers, so no call
%% ever works on a descriptor number that was closed and reused;</li>
%% <li>{@link fd/1} gives the number, e.g. for `gen_udp:open(0, [{fd, FD}])'
%% (then do not {@link select/2} on the handle: the port polls it).</li>
%% </ul>
%% {@link select/2} asks for one message `{select, Handle, Ref, ready_input
%% | ready_output}' when the descriptor is readable or writable (enif_select,
%% as OTP's socket module uses). The helpers {@link wait/3},
%% {@link recvfrom_wait/3}, {@link read_wait/3}, {@link accept_wait/2},
%% {@link connect_wait/3} and {@link sendto_wait/5} are built on it: they
%% try the call, and on `eagain' wait in `receive' (no polling, no CPU
%% while idle) until the descriptor is ready or the timeout passes. If a
%% handle is closed by another process (or its owner exits) while a
%% select is pending, the message is sent anyway, so no one waits forever;
%% the next call returns `{error, ebadf}'.
%%
%% == Schedulers ==
%% No call blocks a normal scheduler, whatever mode the descriptor is in:
%% <ul>
%% <li>recv, recvfrom, recvmsg, sendto, sendmsg always add MSG_DONTWAIT
%% (and the send calls MSG_NOSIGNAL): they return `{error, eagain}' rather
%% than wait, also on a descriptor in blocking mode;</li>
%% <li>read, write and writev on a descriptor in blocking mode (and on
%% regular files and block devices, where O_NONBLOCK has no effect) move to
%% a dirty I/O scheduler and block there, as the call would in C; on a
%% non-blocking one they use RWF_NOWAIT, so a process that clears
%% O_NONBLOCK meanwhile cannot make them wait;</li>
%% <li>accept, connect and ioctl always run on a dirty I/O scheduler;</li>
%% <li>a call blocked on a dirty I/O scheduler holds it until the call
%% returns; the VM has few of them (10 by default, `+SDio') and uses them
%% for file I/O too, so prefer non-blocking descriptors (all procket makes
%% are) and handles, which never block;</li>
%% <li>a close that may wait (a lingering socket, SO_LINGER with any
%% `l_onoff': a negative `l_linger' never ends; an AF_UNIX socket, which
%% may hold the last reference to one in flight; any file that is not a
%% socket, whose release procket cannot judge: a FUSE or NFS file waits
%% for its server; a socket passed with SCM_RIGHTS, in or out, whose
%% other holder could make it linger) runs on a worker thread of
%% procket's;
%% `procket:close/1' and {@link close_handle/1} wait for it in `receive',
%% holding no scheduler;</li>
%% <li>on an AF_UNIX socket, the kernel drops queued messages, and closes
%% the descriptors they carry in the calling thread, in more places: any
%% receive whose descriptors it cannot install (the descriptor table
%% full), a receive on a stream socket that passes over an out-of-band
%% message (read, recv, recvfrom, recvmsg); a datagram socket purges its
%% queue on connect to no peer or another one, and on a send once its
%% connected peer is gone (connect, sendto, sendmsg, write, writev).
%% bind and connect of an AF_UNIX socket look a path up, which waits
%% without end on a FUSE or NFS file system whose server does not answer.
%% These calls, on such sockets, run on a worker thread and their process
%% waits in `receive' for the result: as long as the close the kernel
%% does there takes (without end for a linger without end). A worker
%% never waits for data or room: on a descriptor in blocking mode, read,
%% write and writev wait for it on a dirty I/O scheduler first, as
%% above;</li>
%% <li>workers come in two pools, one for closes and one for calls, so
%% that closes stuck in a linger hold up no receive or send: in each, one
%% is started when the library loads and stays (if none can be started
%% the library does not load), more as jobs need them (at most 64); when
%% no thread can be started (the user's RLIMIT_NPROC reached) or 64 are
%% busy, a job waits for a worker of its pool. A process killed while its
%% call waits takes nothing: descriptors the call received are
%% closed;</li>
%% <li>a received descriptor the caller does not take (read/2, recv and
%% recvfrom take none; recvmsg those within `CtrlSize', whole descriptors
%% only, as the kernel cuts them) is closed by procket, on a worker when
%% that close may wait, never by the kernel in the receiving
%% scheduler;</li>
%% <li>a descriptor received with SCM_RIGHTS shares its open file with the
%% sender, who can put it in blocking mode at any time: calls on it may
%% then wait on a dirty I/O scheduler.</li>
%% </ul>
%%
%% == What procket refuses ==
%% <ul>
%% <li>An integer descriptor procket did not give out (`procket:open/2',
%% {@link socket/3}, {@link accept/1,2}, `procket:dev/1,2', or received by
%% {@link recvmsg/5} with SCM_RIGHTS or SCM_PIDFD, or a pidfd from
%% `getsockopt(SO_PEERPIDFD)'), or one closed since: `{error, ebadf}' for
%% every call, so the VM's own descriptors are never touched; a handle's
%% number: `{error, ebusy}'. The same for descriptors sent with
%% SCM_RIGHTS. A close/1 while a call works on the descriptor takes
%% effect when that call returns.</li>
%% <li>ioctl requests other than those whose layout procket knows
%% (`ioc_rules' in c_src/nif/procket_sock.c; SIOCGIFCONF gets a buffer
%% procket makes and returns the ifreq array): `{error, enotsup}', as for
%% requests that arm SIGIO or carry an address.</li>
%% <li>Socket options whose value holds an address or that return a
%% descriptor procket cannot account for, and MSG_ZEROCOPY:
%% `{error, enotsup}'.</li>
%% </ul>
%%
%% == Bounds ==
%% Sizes are checked, and a value out of range raises `error:badarg':
%% reads and receives up to 64 MiB (`Size'), socket addresses up to 1024
%% bytes, control data up to 64 KiB, socket option values up to 64 KiB,
%% ioctl arguments and results up to 64 KiB, ioctl request numbers up to
%% 16#ffffffff, writev up to 1024 binaries per call (a partial writev
%% would send a datagram cut short). Integers put into a fixed-size field
%% must fit it (the family of {@link sockaddr_common/2}, the argument of
%% {@link ntohs/1}). A term of the wrong type is `badarg' as well; a
%% failing system call is `{error, Posix}'.
%%
%% == Names ==
%% Families, types and protocols are atoms (`inet', `dgram', `udp') or
%% integers. Socket option levels, option names, message flags and ioctl
%% requests are integers or the C names as atoms (``'SOL_SOCKET' '',
%% ``'SO_REUSEPORT' '', ``'IPPROTO_IPV6' '', ``'MSG_PEEK' '', ``'FIONREAD' ''); their
%% values come from this system's C headers at build time
%% ({@link socket_optname/0} lists them). A name this system lacks (or one
%% procket does not know) gives `{error, unsupported}', as before.
%%
%% == Differences from msantos/procket ==
%% <ul>
%% <li>The receive and send calls never block (MSG_DONTWAIT, above). The
%% old ones blocked a scheduler on a blocking descriptor; blocking read,
%% write, accept and connect now run on dirty I/O schedulers.</li>
%% <li>`recvmsg/4' returns the message flags the kernel reported
%% (`MSG_TRUNC', `MSG_CTRUNC', ...); the old one crashed with a case_clause
%% when they differed from the flags passed in.</li>
%% <li>With MSG_TRUNC in `Flags', recvfrom and recvmsg return at most
%% `Size' bytes (the old ones could return a binary longer than the
%% buffer, with whatever memory followed it).</li>
%% <li>ioctl: the buffer handed to the kernel has at least the size the
%% request encodes plus 4 KiB of zeros, so a request that writes more than
%% the argument holds cannot overwrite VM memory; an integer argument must
%% fit a C int and is never an address (a value for requests that take
%% one, else a native int in the buffer); only known requests (above);
%% ioctl/3
%% still returns `{ok, Result}', {@link ioctl/4} also returns ioctl(2)'s
%% return value. `alloc/1', `buf/1' and `memcpy/2' (raw pointers) are not
%% provided.</li>
%% <li>Descriptors received with SCM_RIGHTS are close-on-exec; they belong
%% to the caller.</li>
%% <li>`procket:listen/1' is procket's port opener (see `procket:open/2'),
%% not listen(2) with a backlog of 50: call `listen(FD, 50)'.</li>
%% <li>`procket:close/1' (and {@link handle/1}) act only on a descriptor
%% procket gave out (from `procket:open/2', {@link socket/3},
%% {@link accept/1,2}, or received with SCM_RIGHTS by
%% {@link recvmsg/4,5}) that is still open as the same file, and that no
%% handle owns; any other number is `{error, ebadf}' (a handle's:
%% `{error, ebusy}'). The old close/1 closed any integer: the VM's
%% standard input, its poll set, or, after a double close, the socket of
%% a port that had reused the number.</li>
%% <li>`procket:dev/1,2' of a path other than `"net/tun"' (the tun clone
%% device, as before) is `{error, eacces}' and never opened (the old ones
%% opened any character device under `/dev' by name); `dev(tun)' and
%% `dev({tap, Name})' create a device owned by the caller.</li>
%% <li>`ntohs/1' takes a 16-bit binary (and, as before, a 32-bit one);
%% an integer must fit 16 bits (the old one kept the low 16 bits of any
%% integer).</li>
%% <li>Sizes are bounded (above); the old functions took any size.</li>
%% <li>New: handles, select and the `_wait' helpers, `getpeername/2',
%% `ioctl/4', `family/1' of an integer, `msg_flag/0,1',
%% `ioctl_request/0,1', atoms for flags, control message levels and types,
%% and integers as setsockopt values.</li>
%% </ul>
-module(procket_socket).

-export([socket/3, bind/2, connect/2, listen/2, accept/1, accept/2,
         recv/2, recvfrom/2, recvfrom/4, sendto/2, sendto/3, sendto/4,
         recvmsg/4, recvmsg/5, sendmsg/4, sendmsg/5,
         read/2, write/2, writev/2, ioctl/3, ioctl/4,
         setsockopt/4, getsockopt/4, getsockname/2, getpeername/2,
         set_sock_nonblock/1]).
-export([family/1, sockaddr_common/2, unix_path_max/0,
         socket_level/0, socket_level/1, socket_optname/0, socket_optname/1,
         socket_protocol/0, socket_protocol/1, msg_flag/0, msg_flag/1,
         ioctl_request/0, ioctl_request/1, errno_id/1,
         ntohl/1, ntohs/1, wordalign/1, wordalign/2]).
-export([handle/1, fd/1, close_handle/1, controlling_process/2,
         handle_info/1, select/2, cancel_select/3, wait/3,
         recvfrom_wait/3, recvfrom_wait/5, read_wait/3, accept_wait/2,
         connect_wait/3, sendto_wait/5]).

-export_type([fd/0, handle/0, socket/0, posix/0, family/0, type/0,
              protocol/0, flags/0, cmsg/0, timeout_ms/0]).

-type fd() :: non_neg_integer().
%% A descriptor number; the caller owns it.
-type handle() :: reference().
%% A handle (a NIF resource) owning a descriptor: see {@link handle/1}.
-type socket() :: fd() | handle().
-type posix() :: atom().
%% An errno name (`eagain', `econnrefused', ...).
-type family() :: unspec | inet | inet6 | local | unix | file | netlink
                | route | packet | can | tipc | bluetooth | alg | vsock | xdp
                | mctp | link | integer().
-type type() :: stream | dgram | raw | rdm | seqpacket | integer().
-type protocol() :: ip | icmp | igmp | tcp | udp | ipv6 | 'ipv6-icmp' | icmp6
                  | gre | sctp | udplite | dccp | mptcp | raw | integer().
-type flags() :: integer() | [atom()].
%% An integer, or a list of 'MSG_*' names OR'ed together.
-type cmsg() :: {Level :: integer() | atom(), Type :: integer() | atom(),
                 Data :: binary()}.
-type timeout_ms() :: non_neg_integer() | infinity.
%% Milliseconds, any number of them (waits longer than `receive ... after'
%% takes are made in steps), or `infinity'.

%% the most binaries writev/2 takes (IOV_MAX on Linux and the BSDs)
-define(WRITEV_MAX, 1024).
%% the longest timeout `receive ... after' takes, in milliseconds
-define(AFTER_MAX, 16#ffffffff).

%%% ------------------------------------------------------------------
%%% The BSD socket interface
%%% ------------------------------------------------------------------

%% @doc socket(2): a new socket, non-blocking and close-on-exec. Names
%% this system lacks give `{error, eafnosupport}' (family), `{error,
%% einval}' (type) or `{error, eprotonosupport}' (protocol).
-spec socket(family(), type(), protocol()) -> {ok, fd()} | {error, posix()}.
socket(Family, Type, Protocol) ->
    case {number(family, Family), number(type, Type), number(proto, Protocol)} of
        {undefined, _, _} -> {error, eafnosupport};
        {_, undefined, _} -> {error, einval};
        {_, _, undefined} -> {error, eprotonosupport};
        {F, T, P} -> procket_nif:sock_socket(F, T, P)
    end.

%% @doc bind(2) to a socket address: the platform's `struct sockaddr'
%% bytes, e.g. `<<(sockaddr_common(inet, 16))/binary, Port:16, 127,0,0,1,
%% 0:64>>'.
-spec bind(socket(), binary()) -> ok | {error, posix()}.
bind(FD, Sockaddr) ->
    procket_nif:sock_bind(FD, Sockaddr).

%% @doc connect(2). `<<>>' passes NULL. On a non-blocking socket (all that
%% procket makes) a TCP connect returns `{error, einprogress}'; see
%% {@link connect_wait/3}.
-spec connect(socket(), binary()) -> ok | {error, posix()}.
connect(FD, Sockaddr) ->
    procket_nif:sock_connect(FD, Sockaddr).

%% @doc listen(2).
-spec listen(socket(), integer()) -> ok | {error, posix()}.
listen(FD, Backlog) ->
    procket_nif:sock_listen(FD, Backlog).

%% @doc accept(2): the new connection's descriptor (non-blocking,
%% close-on-exec). `{error, eagain}' when none is waiting.
-spec accept(socket()) -> {ok, fd()} | {error, posix()}.
accept(FD) ->
    case procket_nif:sock_accept(FD, 0) of
        {ok, NewFD, _} -> {ok, NewFD};
        {error, _} = Error -> Error
    end.

%% @doc accept(2) with the peer's address in a buffer of `Salen' bytes. If
%% the address is longer, the binary has its full length, zero padded past
%% `Salen' (showing the size needed).
-spec accept(socket(), non_neg_integer()) ->
          {ok, fd(), binary()} | {error, posix()}.
accept(FD, Salen) ->
    procket_nif:sock_accept(FD, Salen).

%% @doc recv(2), the same as {@link recvfrom/2}.
-spec recv(socket(), non_neg_integer()) -> {ok, binary()} | {error, posix()}.
recv(FD, Size) ->
    recvfrom(FD, Size).

%% @doc recvfrom(2) of at most `Size' bytes: `{error, eagain}' when nothing
%% is there. `{ok, <<>>}' is end of stream (or an empty datagram).
-spec recvfrom(socket(), non_neg_integer()) -> {ok, binary()} | {error, posix()}.
recvfrom(FD, Size) ->
    case procket_nif:sock_recvfrom(FD, Size, 0, 0) of
        {ok, Buf, _} -> {ok, Buf};
        {error, _} = Error -> Error
    end.

%% @doc recvfrom(2) with flags and the sender's address in `Salen' bytes
%% (`<<>>' for 0; zero padded as for {@link accept/2}).
-spec recvfrom(socket(), non_neg_integer(), flags(), non_neg_integer()) ->
          {ok, binary(), binary()} | {error, posix() | unsupported}.
recvfrom(FD, Size, Flags, Salen) ->
    case msg_flags(Flags) of
        {ok, F} -> procket_nif:sock_recvfrom(FD, Size, F, Salen);
        Error -> Error
    end.

%% @doc send(2): `sendto(FD, Buf, 0, <<>>)'.
-spec sendto(socket(), iodata()) -> ok | {ok, non_neg_integer()} | {error, posix()}.
sendto(FD, Buf) ->
    send(FD, Buf, 0, <<>>).

%% @doc send(2) with flags.
-spec sendto(socket(), iodata(), flags()) ->
          ok | {ok, non_neg_integer()} | {error, posix() | unsupported}.
sendto(FD, Buf, Flags) ->
    sendto(FD, Buf, Flags, <<>>).

%% @doc sendto(2) to `Sockaddr' (`<<>>': none). `ok' when all of `Buf'
%% was sent, `{ok, N}' for a partial send, `{error, eagain}' when the
%% socket buffer is full.
-spec sendto(socket(), iodata(), flags(), binary()) ->
          ok | {ok, non_neg_integer()} | {error, posix() | unsupported}.
sendto(FD, Buf, Flags, Sockaddr) ->
    case msg_flags(Flags) of
        {ok, F} -> send(FD, Buf, F, Sockaddr);
        Error -> Error
    end.

send(FD, Buf, Flags, Sockaddr) ->
    Bin = to_binary(Buf),
    Size = byte_size(Bin),
    case procket_nif:sock_sendto(FD, Bin, Flags, Sockaddr) of
        {ok, Size} -> ok;
        Other -> Other
    end.

%% @doc recvmsg(2) of at most `Size' bytes and `CtrlSize' bytes of control
%% data: `{ok, Buf, MsgFlags, Ctrl}', `MsgFlags' as the kernel set them
%% (e.g. MSG_TRUNC, MSG_CTRUNC), `Ctrl' the control messages in order as
%% `{Level, Type, Data}'. Control data beyond `CtrlSize' is cut as the
%% kernel cuts it (MSG_CTRUNC; a message that does not fit whole comes
%% truncated) and descriptors passed in the part cut off are closed (see
%% Schedulers above).
-spec recvmsg(socket(), non_neg_integer(), flags(), non_neg_integer()) ->
          {ok, binary(), integer(), [{integer(), integer(), binary()}]}
        | {error, posix() | unsupported}.
recvmsg(FD, Size, Flags, CtrlSize) ->
    case recvmsg(FD, Size, Flags, CtrlSize, 0) of
        {ok, Buf, MsgFlags, Ctrl, _} -> {ok, Buf, MsgFlags, Ctrl};
        {error, _} = Error -> Error
    end.

%% @doc {@link recvmsg/4} with the sender's address in `SockaddrSize'
%% bytes.
-spec recvmsg(socket(), non_neg_integer(), flags(), non_neg_integer(),
              non_neg_integer()) ->
          {ok, binary(), integer(), [{integer(), integer(), binary()}], binary()}
        | {error, posix() | unsupported}.
recvmsg(FD, Size, Flags, CtrlSize, SockaddrSize) ->
    case msg_flags(Flags) of
        {ok, F} -> procket_nif:sock_recvmsg(FD, Size, F, CtrlSize, SockaddrSize);
        Error -> Error
    end.

%% @doc sendmsg(2) with control messages `[{Level, Type, Data}]' (levels
%% and types as integers or C names: ``{'SOL_SOCKET', 'SCM_RIGHTS',
%% <<FD:32/native>>}'').
-spec sendmsg(socket(), iodata(), flags(), [cmsg()]) ->
          ok | {ok, non_neg_integer()} | {error, posix() | unsupported}.
sendmsg(FD, Buf, Flags, Ctrl) ->
    sendmsg(FD, Buf, Flags, Ctrl, <<>>).

%% @doc sendmsg(2) to `Sockaddr': `ok', `{ok, N}' for a partial send.
-spec sendmsg(socket(), iodata(), flags(), [cmsg()], binary()) ->
          ok | {ok, non_neg_integer()} | {error, posix() | unsupported}.
sendmsg(FD, Buf, Flags, Ctrl, Sockaddr) ->
    case {msg_flags(Flags), cmsgs(Ctrl)} of
        {{ok, F}, {ok, C}} ->
            Bin = to_binary(Buf),
            Size = byte_size(Bin),
            case procket_nif:sock_sendmsg(FD, Bin, F, C, Sockaddr) of
                {ok, Size} -> ok;
                Other -> Other
            end;
        {{error, _} = Error, _} -> Error;
        {_, {error, _} = Error} -> Error
    end.

%% @doc read(2) of at most `Size' bytes; `{ok, <<>>}' at end of file.
-spec read(socket(), non_neg_integer()) -> {ok, binary()} | {error, posix()}.
read(FD, Size) ->
    procket_nif:sock_read(FD, Size).

%% @doc write(2): `ok' when all was written, `{ok, N}' for a partial write.
%% A list is written with {@link writev/2}.
-spec write(socket(), binary() | [binary()]) ->
          ok | {ok, non_neg_integer()} | {error, posix()}.
write(FD, Buf) when is_binary(Buf) ->
    Size = byte_size(Buf),
    case procket_nif:sock_write(FD, Buf) of
        {ok, Size} -> ok;
        Other -> Other
    end;
write(FD, Bufs) when is_list(Bufs) ->
    writev(FD, Bufs);
write(_, _) ->
    erlang:error(badarg).

%% @doc writev(2) of a list of binaries: `ok' when all was written,
%% `{ok, N}' for a partial write. At most 1024 binaries per call (IOV_MAX
%% on Linux); more raise `badarg', as writing only the first 1024 would
%% send a datagram cut short.
-spec writev(socket(), [binary()]) -> ok | {ok, non_neg_integer()} | {error, posix()}.
writev(FD, Bufs) when is_list(Bufs) ->
    Size = iolist_size(Bufs),
    length(Bufs) =< ?WRITEV_MAX orelse erlang:error(badarg, [FD, Bufs]),
    case procket_nif:sock_writev(FD, Bufs) of
        {ok, Size} -> ok;
        Other -> Other
    end;
writev(_, _) ->
    erlang:error(badarg).

%% @doc ioctl(2). `Arg' is a binary (the structure the request takes) or
%% an integer passed as the value (a C int). `Result' is the binary after
%% the call, of the size of `Arg' (`<<>>' for an integer). `Request' is an
%% integer of 32 bits (the kernel drops any higher bits, so a larger one
%% is `badarg') or a name ({@link ioctl_request/0}). Runs on a dirty I/O
%% scheduler. Be careful: a request that takes a pointer inside its
%% structure reads or writes wherever that pointer points.
-spec ioctl(socket(), 0..16#ffffffff | atom(), binary() | integer()) ->
          {ok, binary()} | {error, posix() | unsupported}.
ioctl(FD, Request, Arg) ->
    Out = case Arg of
              _ when is_binary(Arg) -> byte_size(Arg);
              _ -> 0
          end,
    case ioctl(FD, Request, Arg, Out) of
        {ok, _Ret, Result} -> {ok, Result};
        {error, _} = Error -> Error
    end.

%% @doc ioctl(2) returning its return value `Ret' (some requests return
%% their result that way) and `OutSize' bytes of the argument buffer
%% afterwards, which may be more than `Arg' holds: ``ioctl(FD, 'FIONREAD',
%% <<>>, 4)'' gives `{ok, 0, <<N:32/native>>}'. With an integer `Arg',
%% `OutSize' must be 0. `Request' is as for {@link ioctl/3}.
-spec ioctl(socket(), 0..16#ffffffff | atom(), binary() | integer(),
            non_neg_integer()) ->
          {ok, integer(), binary()} | {error, posix() | unsupported}.
ioctl(FD, Request, Arg, OutSize) ->
    case lookup(ioctl, Request) of
        undefined ->
            {error, unsupported};
        %% the kernel takes the request as 32 bits: the upper bits of a
        %% larger number would be dropped, making it another request
        Req when Req >= 0, Req =< 16#ffffffff ->
            procket_nif:sock_ioctl(FD, Req, Arg, OutSize);
        _ ->
            erlang:error(badarg, [FD, Request, Arg, OutSize])
    end.

%% @doc setsockopt(2). `Level' and `Optname' are integers or C names
%% (``'SOL_SOCKET' '', ``'IPPROTO_IP' '', ``'SO_REUSEADDR' '', ``'IP_HDRINCL' '');
%% `Optval' a binary, or an integer sent as a native C int. `{error,
%% unsupported}' for a name this system lacks.
-spec setsockopt(socket(), integer() | atom(), integer() | atom(),
                 binary() | integer()) -> ok | {error, posix() | unsupported}.
setsockopt(FD, Level, Optname, Optval) when is_integer(Optval),
                                            Optval >= -16#80000000,
                                            Optval =< 16#7fffffff ->
    setsockopt(FD, Level, Optname, <<Optval:32/native-signed>>);
setsockopt(FD, Level, Optname, Optval) when is_integer(Optval) ->
    erlang:error(badarg, [FD, Level, Optname, Optval]);
setsockopt(FD, Level, Optname, Optval) ->
    case {level(Level), lookup(optname, Optname)} of
        {undefined, _} -> {error, unsupported};
        {_, undefined} -> {error, unsupported};
        {L, O} -> procket_nif:sock_setsockopt(FD, L, O, Optval)
    end.

%% @doc getsockopt(2). `Optval' is the buffer passed in (its size is the
%% option length; `<<>>' for none); the result is what the kernel
%% returned, e.g. ``getsockopt(FD, 'SOL_SOCKET', 'SO_TYPE', <<0:32>>)''.
-spec getsockopt(socket(), integer() | atom(), integer() | atom(), binary()) ->
          {ok, binary()} | {error, posix() | unsupported}.
getsockopt(FD, Level, Optname, Optval) ->
    case {level(Level), lookup(optname, Optname)} of
        {undefined, _} -> {error, unsupported};
        {_, undefined} -> {error, unsupported};
        {L, O} -> procket_nif:sock_getsockopt(FD, L, O, Optval)
    end.

%% @doc getsockname(2) into a buffer the size of `Sockaddr' (its contents
%% are ignored; an integer gives the size). A longer address comes back
%% at its full length, zero padded.
-spec getsockname(socket(), binary() | non_neg_integer()) ->
          {ok, binary()} | {error, posix()}.
getsockname(FD, Sockaddr) ->
    procket_nif:sock_getsockname(FD, salen(Sockaddr)).

%% @doc getpeername(2), as {@link getsockname/2}.
-spec getpeername(socket(), binary() | non_neg_integer()) ->
          {ok, binary()} | {error, posix()}.
getpeername(FD, Sockaddr) ->
    procket_nif:sock_getpeername(FD, salen(Sockaddr)).

%% @doc Sets O_NONBLOCK on a descriptor (ioctl FIONBIO), as the older
%% procket's function of that name. Descriptors made by procket
%% (`procket:open/2', `procket:dev/1,2', {@link socket/3}, {@link
%% accept/1}) are non-blocking already; one received with SCM_RIGHTS may
%% not be, and in blocking mode read, write, accept and connect wait on a
%% dirty I/O scheduler.
-spec set_sock_nonblock(socket()) -> ok | {error, posix()}.
set_sock_nonblock(FD) ->
    case ioctl(FD, 'FIONBIO', <<1:32/native>>) of
        {ok, _} -> ok;
        {error, unsupported} -> {error, enotsup};
        {error, _} = Error -> Error
    end.

%%% ------------------------------------------------------------------
%%% Names, numbers, portability
%%% ------------------------------------------------------------------

%% @doc The number of an address family (`family(inet6)' is 10 on Linux),
%% or the name of a number (`family(2)' is `inet'). Raises `badarg' for a
%% name procket does not know or this system lacks.
-spec family(atom() | integer()) -> integer() | atom().
family(Name) when is_atom(Name) ->
    case number(family, Name) of
        N when is_integer(N) -> N;
        undefined -> erlang:error(badarg, [Name])
    end;
family(N) when is_integer(N) ->
    case maps:find(N, reverse(family)) of
        {ok, Name} -> Name;
        error -> erlang:error(badarg, [N])
    end;
family(Other) ->
    erlang:error(badarg, [Other]).

%% @doc The platform's start of a `struct sockaddr' for `Family', of
%% total length `Length': on Linux the 16-bit family in native byte order,
%% on the BSDs a length byte and a family byte. An integer `Family' must
%% fit the family field (0..65535 on Linux, 0..255 on the BSDs), else
%% `badarg', as for `Length' above 255.
-spec sockaddr_common(atom() | 0..65535, 0..255) -> <<_:16>>.
sockaddr_common(Family0, Length) when is_integer(Length), Length >= 0, Length =< 255 ->
    Family = case Family0 of
                 _ when is_integer(Family0) -> Family0;
                 _ -> family(Family0)
             end,
    FamilyMax = (1 bsl (8 * info(sa_family_size))) - 1,
    (Family >= 0 andalso Family =< FamilyMax)
        orelse erlang:error(badarg, [Family0, Length]),
    case info(sa_len) of
        1 -> <<Length:8, Family:8>>;
        _ -> <<Family:16/native>>
    end;
sockaddr_common(Family, Length) ->
    erlang:error(badarg, [Family, Length]).

%% @doc The size of `sun_path' in a `struct sockaddr_un' (108 on Linux).
-spec unix_path_max() -> pos_integer().
unix_path_max() ->
    info(unix_path_max).

%% @doc The socket levels this system has: ``[{'SOL_SOCKET', 1}, ...]''.
-spec socket_level() -> [{atom(), integer()}].
socket_level() ->
    available(level).

%% @doc The value of a level name, `undefined' if this system lacks it.
-spec socket_level(atom()) -> integer() | undefined.
socket_level(Name) when is_atom(Name) ->
    lookup(level, Name);
socket_level(Other) ->
    erlang:error(badarg, [Other]).

%% @doc The socket option names (and option values such as
%% ``'IP_PMTUDISC_DO' '') this system has, with their values.
-spec socket_optname() -> [{atom(), integer()}].
socket_optname() ->
    available(optname).

%% @doc The value of an option name, `undefined' if this system lacks it.
-spec socket_optname(atom()) -> integer() | undefined.
socket_optname(Name) when is_atom(Name) ->
    lookup(optname, Name);
socket_optname(Other) ->
    erlang:error(badarg, [Other]).

%% @doc The protocol names (``'IPPROTO_TCP' '', ``'NETLINK_ROUTE' '', ...) this
%% system has, with their values; they are option levels too.
-spec socket_protocol() -> [{atom(), integer()}].
socket_protocol() ->
    available(protocol).

%% @doc The value of a protocol name, `undefined' if this system lacks it.
-spec socket_protocol(atom()) -> integer() | undefined.
socket_protocol(Name) when is_atom(Name) ->
    lookup(protocol, Name);
socket_protocol(Other) ->
    erlang:error(badarg, [Other]).

%% @doc The message flags (``'MSG_PEEK' '', ``'MSG_TRUNC' '', ...) this system
%% has, with their values.
-spec msg_flag() -> [{atom(), integer()}].
msg_flag() ->
    available(msg).

%% @doc The value of a message flag, `undefined' if this system lacks it.
-spec msg_flag(atom()) -> integer() | undefined.
msg_flag(Name) when is_atom(Name) ->
    lookup(msg, Name);
msg_flag(Other) ->
    erlang:error(badarg, [Other]).

%% @doc The ioctl requests procket knows names for (``'FIONREAD' '',
%% ``'SIOCGIFINDEX' '', ``'TUNSETIFF' '', ...) that this system has.
-spec ioctl_request() -> [{atom(), integer()}].
ioctl_request() ->
    available(ioctl).

%% @doc The value of an ioctl request name, `undefined' if lacking.
-spec ioctl_request(atom()) -> integer() | undefined.
ioctl_request(Name) when is_atom(Name) ->
    lookup(ioctl, Name);
ioctl_request(Other) ->
    erlang:error(badarg, [Other]).

%% @doc The name of an errno value: `errno_id(1)' is `eperm'.
-spec errno_id(integer()) -> posix().
errno_id(Errno) ->
    procket_nif:sock_errno_id(Errno).

%% @doc A 32-bit integer from network to host byte order; the argument is
%% an integer or a 4-byte binary.
-spec ntohl(<<_:32>> | 0..16#ffffffff) -> 0..16#ffffffff.
ntohl(<<I:32>>) ->
    ntohl(I);
ntohl(I) when is_integer(I), I >= 0, I =< 16#ffffffff ->
    <<N:32>> = <<I:32/native>>,
    N;
ntohl(Other) ->
    erlang:error(badarg, [Other]).

%% @doc A 16-bit integer from network to host byte order; the argument is
%% an integer of 16 bits, a 2-byte binary, or (as the older procket took)
%% a 4-byte binary whose low 16 bits count.
-spec ntohs(<<_:16>> | <<_:32>> | 0..16#ffff) -> 0..16#ffff.
ntohs(<<I:16>>) ->
    ntohs(I);
ntohs(<<I:32>>) ->
    ntohs(I band 16#ffff);
ntohs(I) when is_integer(I), I >= 0, I =< 16#ffff ->
    <<N:16>> = <<I:16/native>>,
    N;
ntohs(Other) ->
    erlang:error(badarg, [Other]).

%% @doc The padding after `Offset' bytes to the next word boundary (the
%% VM's word size), as for control message data.
-spec wordalign(non_neg_integer()) -> non_neg_integer().
wordalign(Offset) ->
    wordalign(Offset, erlang:system_info({wordsize, external})).

%% @doc The padding after `Offset' bytes to the next multiple of `Align'.
-spec wordalign(non_neg_integer(), pos_integer()) -> non_neg_integer().
wordalign(Offset, Align) when is_integer(Offset), Offset >= 0,
                              is_integer(Align), Align > 0 ->
    (Align - (Offset rem Align)) rem Align;
wordalign(Offset, Align) ->
    erlang:error(badarg, [Offset, Align]).

%%% ------------------------------------------------------------------
%%% Handles and asynchronous I/O
%%% ------------------------------------------------------------------

%% @doc A handle that owns `FD' from now on (see the module doc): the
%% caller is its owner; it sets `FD' non-blocking and close-on-exec.
%% `{error, ebusy}' if another handle owns `FD', `{error, ebadf}' if it is
%% not a descriptor procket gave out (see `procket:close/1') or was closed
%% since. Do not close `FD' yourself afterwards.
-spec handle(fd()) -> {ok, handle()} | {error, posix()}.
handle(FD) ->
    procket_nif:sock_handle(FD).

%% @doc The descriptor number of an open handle, for `gen_udp:open(0,
%% [{fd, FD}])' and the like (the handle still owns it). Raises `badarg'
%% for a closed handle.
-spec fd(handle()) -> fd().
fd(Handle) ->
    case procket_nif:sock_fd(Handle) of
        {ok, FD} -> FD;
        {error, _} -> erlang:error(badarg, [Handle])
    end.

%% @doc Closes a handle's descriptor, after any call in progress on it
%% returns; any process may call it. A lingering socket (SO_LINGER) is
%% closed on a dirty I/O scheduler, so the call returns when close(2) did.
%% `{error, ebadf}' if it was closed (or being closed) already.
-spec close_handle(handle()) -> ok | {error, posix()}.
close_handle(Handle) ->
    case procket_nif:sock_close(Handle) of
        ok ->
            ok;
        finalize ->
            finalize(Handle);
        wait ->
            receive
                {'$procket_close', Handle} -> finalize(Handle)
            end;
        {error, _} = Error ->
            Error
    end.

%% A close(2) that may wait runs on a worker thread of the NIF's, which
%% says when it returned: waited for here, in receive, on no scheduler.
finalize(Handle) ->
    case procket_nif:sock_finalize(Handle) of
        closing ->
            receive
                {'$procket_closed', Handle} -> ok
            end;
        Other ->
            Other
    end.

%% @doc Makes `Pid' the owner of a handle: the handle is closed when
%% `Pid' exits. Only the owner may call it (`{error, not_owner}');
%% `{error, esrch}' if `Pid' is not alive.
-spec controlling_process(handle(), pid()) -> ok | {error, posix() | not_owner}.
controlling_process(Handle, Pid) ->
    procket_nif:sock_controlling_process(Handle, Pid).

%% @doc The state of a handle: its descriptor (-1 once closed), `open',
%% `closing' or `closed', its owner, and whether it was ever selected.
-spec handle_info(handle()) ->
          #{fd := integer(), state := open | closing | closed,
            owner := pid() | undefined, selected := boolean()}.
handle_info(Handle) ->
    procket_nif:sock_handle_info(Handle).

%% @doc Asks for one message `{select, Handle, Ref, ready_input}' (`read')
%% or `{select, Handle, Ref, ready_output}' (`write') to the caller when
%% the descriptor is ready; until then the caller may do anything, e.g.
%% wait in `receive'. A new select for the same direction replaces the
%% previous one. If another process closes the handle first (or its owner
%% exits), the message comes anyway and the next call returns `{error,
%% ebadf}'; a process closing it itself gets no message. (A regular file
%% is always ready.)
-spec select(handle(), read | write) -> {ok, reference()} | {error, posix()}.
select(Handle, Mode) when Mode =:= read; Mode =:= write ->
    Ref = make_ref(),
    case procket_nif:sock_select(Handle, Mode, Ref) of
        ok -> {ok, Ref};
        {error, _} = Error -> Error
    end;
select(Handle, Mode) ->
    erlang:error(badarg, [Handle, Mode]).

%% @doc Cancels a {@link select/2} and removes its message if it was sent
%% already.
-spec cancel_select(handle(), read | write, reference()) -> ok.
cancel_select(Handle, Mode, Ref) ->
    _ = procket_nif:sock_cancel(Handle, Mode),
    receive
        {select, Handle, Ref, _} -> ok
    after 0 ->
        ok
    end.

%% @doc Waits until the handle is readable (`read') or writable
%% (`write'), at most `Timeout' milliseconds (any non-negative integer, or
%% `infinity'): `ok' or `{error, timeout}'. The caller sleeps in `receive'
%% meanwhile.
-spec wait(handle(), read | write, timeout_ms()) -> ok | {error, posix() | timeout}.
wait(Handle, Mode, Timeout) ->
    check_timeout(Timeout),
    case select(Handle, Mode) of
        {ok, Ref} -> await(Handle, Mode, Ref, Timeout);
        {error, _} = Error -> Error
    end.

%% @doc {@link recvfrom/2} that waits for data, at most `Timeout'
%% milliseconds (then `{error, timeout}').
-spec recvfrom_wait(handle(), non_neg_integer(), timeout_ms()) ->
          {ok, binary()} | {error, posix() | timeout}.
recvfrom_wait(Handle, Size, Timeout) ->
    retry(fun() -> recvfrom(Handle, Size) end, Handle, read, deadline(Timeout)).

%% @doc {@link recvfrom/4} that waits for data, at most `Timeout'
%% milliseconds.
-spec recvfrom_wait(handle(), non_neg_integer(), flags(), non_neg_integer(),
                    timeout_ms()) ->
          {ok, binary(), binary()} | {error, posix() | timeout | unsupported}.
recvfrom_wait(Handle, Size, Flags, Salen, Timeout) ->
    retry(fun() -> recvfrom(Handle, Size, Flags, Salen) end, Handle, read,
          deadline(Timeout)).

%% @doc {@link read/2} that waits for data, at most `Timeout' milliseconds.
-spec read_wait(handle(), non_neg_integer(), timeout_ms()) ->
          {ok, binary()} | {error, posix() | timeout}.
read_wait(Handle, Size, Timeout) ->
    retry(fun() -> read(Handle, Size) end, Handle, read, deadline(Timeout)).

%% @doc {@link accept/1} that waits for a connection, at most `Timeout'
%% milliseconds.
-spec accept_wait(handle(), timeout_ms()) -> {ok, fd()} | {error, posix() | timeout}.
accept_wait(Handle, Timeout) ->
    retry(fun() -> accept(Handle) end, Handle, read, deadline(Timeout)).

%% @doc {@link connect/2} that waits for the connection to complete, at
%% most `Timeout' milliseconds: `ok' or its error (`econnrefused', ...).
-spec connect_wait(handle(), binary(), timeout_ms()) ->
          ok | {error, posix() | timeout | unsupported}.
connect_wait(Handle, Sockaddr, Timeout) ->
    check_timeout(Timeout),
    case connect(Handle, Sockaddr) of
        {error, einprogress} ->
            case wait(Handle, write, Timeout) of
                ok -> so_error(Handle);
                {error, _} = Error -> Error
            end;
        Other ->
            Other
    end.

%% @doc {@link sendto/4} that waits while the socket buffer is full, at
%% most `Timeout' milliseconds.
-spec sendto_wait(handle(), iodata(), flags(), binary(), timeout_ms()) ->
          ok | {ok, non_neg_integer()} | {error, posix() | timeout | unsupported}.
sendto_wait(Handle, Buf, Flags, Sockaddr, Timeout) ->
    Bin = to_binary(Buf),
    retry(fun() -> sendto(Handle, Bin, Flags, Sockaddr) end, Handle, write,
          deadline(Timeout)).

%%% ------------------------------------------------------------------
%%% Internal
%%% ------------------------------------------------------------------

%% `receive ... after' takes at most ?AFTER_MAX milliseconds: a longer
%% timeout is waited for in steps of that.
await(Handle, Mode, Ref, Timeout) ->
    receive
        {select, Handle, Ref, _} -> ok
    after after_ms(Timeout) ->
        case Timeout of
            _ when is_integer(Timeout), Timeout > ?AFTER_MAX ->
                await(Handle, Mode, Ref, Timeout - ?AFTER_MAX);
            _ ->
                cancel_select(Handle, Mode, Ref),
                {error, timeout}
        end
    end.

after_ms(infinity) -> infinity;
after_ms(Timeout) -> min(Timeout, ?AFTER_MAX).

retry(Fun, Handle, Mode, Deadline) ->
    case Fun() of
        {error, eagain} ->
            case wait(Handle, Mode, remaining(Deadline)) of
                ok -> retry(Fun, Handle, Mode, Deadline);
                {error, _} = Error -> Error
            end;
        Other ->
            Other
    end.

check_timeout(infinity) -> ok;
check_timeout(T) when is_integer(T), T >= 0 -> ok;
check_timeout(T) -> erlang:error(badarg, [T]).

deadline(infinity) ->
    infinity;
deadline(Timeout) ->
    check_timeout(Timeout),
    erlang:monotonic_time(millisecond) + Timeout.

remaining(infinity) ->
    infinity;
remaining(Deadline) ->
    max(0, Deadline - erlang:monotonic_time(millisecond)).

so_error(Handle) ->
    case getsockopt(Handle, 'SOL_SOCKET', 'SO_ERROR', <<0:32>>) of
        {ok, <<0:32/native-signed>>} -> ok;
        {ok, <<Errno:32/native-signed>>} -> {error, errno_id(Errno)};
        {ok, _} -> {error, einval};
        {error, _} = Error -> Error
    end.

to_binary(Buf) when is_binary(Buf) -> Buf;
to_binary(Buf) when is_list(Buf) -> iolist_to_binary(Buf);
to_binary(Buf) -> erlang:error(badarg, [Buf]).

salen(Sockaddr) when is_binary(Sockaddr) -> byte_size(Sockaddr);
salen(Size) when is_integer(Size), Size >= 0 -> Size;
salen(Other) -> erlang:error(badarg, [Other]).

%% Flags: an integer, or a list of 'MSG_*' names.
msg_flags(Flags) when is_integer(Flags) ->
    {ok, Flags};
msg_flags(Flags) when is_list(Flags) ->
    msg_flags(Flags, 0);
msg_flags(Flags) ->
    erlang:error(badarg, [Flags]).

msg_flags([], Acc) ->
    {ok, Acc};
msg_flags([F | Rest], Acc) ->
    case lookup(msg, F) of
        undefined -> {error, unsupported};
        N -> msg_flags(Rest, Acc bor N)
    end;
msg_flags(Other, _) ->
    erlang:error(badarg, [Other]).

%% Control messages: names to numbers.
cmsgs(Ctrl) when is_list(Ctrl) ->
    cmsgs(Ctrl, []);
cmsgs(Ctrl) ->
    erlang:error(badarg, [Ctrl]).

cmsgs([], Acc) ->
    {ok, lists:reverse(Acc)};
cmsgs([{Level, Type, Data} | Rest], Acc) when is_binary(Data) ->
    case {level(Level), lookup(optname, Type)} of
        {undefined, _} -> {error, unsupported};
        {_, undefined} -> {error, unsupported};
        {L, T} -> cmsgs(Rest, [{L, T, Data} | Acc])
    end;
cmsgs(Other, _) ->
    erlang:error(badarg, [Other]).

%% A level: an integer, a 'SOL_*' name or a protocol name.
level(Level) when is_integer(Level) ->
    Level;
level(Level) when is_atom(Level) ->
    case lookup(level, Level) of
        undefined -> lookup(protocol, Level);
        N -> N
    end;
level(Other) ->
    erlang:error(badarg, [Other]).

%% The value of a name in a table: integers pass, atoms are looked up
%% (undefined for unknown and lacking names), anything else is badarg.
lookup(_Table, N) when is_integer(N) ->
    N;
lookup(Table, Name) when is_atom(Name) ->
    case maps:find(Name, table(Table)) of
        {ok, N} -> N;
        error -> undefined
    end;
lookup(_Table, Other) ->
    erlang:error(badarg, [Other]).

%% family/type/protocol for socket(2): unknown atoms are badarg,
%% known names this system lacks are undefined.
number(_Table, N) when is_integer(N) ->
    N;
number(Table, Name) when is_atom(Name) ->
    case maps:find(Name, table(Table)) of
        {ok, N} -> N;
        error -> erlang:error(badarg, [Name])
    end;
number(_Table, Other) ->
    erlang:error(badarg, [Other]).

available(Table) ->
    [{Name, N} || {Name, N} <- procket_nif:sock_constants(Table), is_integer(N)].

%% The tables are read from the NIF once and kept in persistent_term.
table(Table) ->
    Key = {?MODULE, table, Table},
    case persistent_term:get(Key, undefined) of
        undefined ->
            Map = maps:from_list(procket_nif:sock_constants(Table)),
            persistent_term:put(Key, Map),
            Map;
        Map ->
            Map
    end.

%% number -> name, the first name in the table winning
reverse(Table) ->
    Key = {?MODULE, reverse, Table},
    case persistent_term:get(Key, undefined) of
        undefined ->
            Map = maps:from_list([{N, Name} || {Name, N} <- lists:reverse(
                                                  procket_nif:sock_constants(Table)),
                                               is_integer(N)]),
            persistent_term:put(Key, Map),
            Map;
        Map ->
            Map
    end.

info(Key) ->
    PKey = {?MODULE, info},
    Info = case persistent_term:get(PKey, undefined) of
               undefined ->
                   I = procket_nif:sock_info(),
                   persistent_term:put(PKey, I),
                   I;
               I ->
                   I
           end,
    maps:get(Key, Info).
