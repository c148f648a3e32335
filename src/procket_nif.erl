%% @doc The NIF library behind {@link procket}. Not for direct use: the
%% functions here take already validated arguments; call {@link procket}.
-module(procket_nif).

-export([open/4, close/1, open_tun_clone/0, open_broker/3]).
%% the socket API, procket_sock.c (stubs at the end of this module)
-export([sock_socket/3, sock_bind/2, sock_connect/2, sock_listen/2,
         sock_accept/2, sock_recvfrom/4, sock_sendto/4, sock_recvmsg/5,
         sock_sendmsg/5, sock_read/2, sock_write/2, sock_writev/2,
         sock_ioctl/4, sock_setsockopt/4, sock_getsockopt/4, sock_attach_filter/2,
         sock_getsockname/2, sock_getpeername/2, sock_errno_id/1,
         sock_constants/1, sock_info/0, sock_handle/1, sock_fd/1,
         sock_close/1, sock_finalize/1, sock_select/3, sock_cancel/2,
         sock_controlling_process/2, sock_handle_info/1]).

-type sock_fd() :: non_neg_integer() | reference().
-type sock_error() :: {error, atom()}.

-on_load(init/0).

-define(NIF_STUB, erlang:nif_error({nif_not_loaded, ?MODULE})).

init() ->
    Lib = filename:join(procket:priv_dir(), "procket_nif"),
    erlang:load_nif(Lib, 0).

%% @doc Runs the helper command `Argv' with `Request' and returns the
%% descriptor, over the path transport at `Pipe' unless it is `undefined'.
%% Runs on a dirty I/O scheduler for at most `TimeoutMs' milliseconds.
%% `{next, Reason}': the helper could not be run, or ran without the
%% privileges the request needs; another command may succeed. `{error,
%% Reason}' is final.
-spec open([binary(), ...], procket_opts:request(), binary() | undefined,
           pos_integer()) -> {ok, non_neg_integer()} | {error, atom()} | {next, atom()}.
open(_Argv, _Request, _Pipe, _TimeoutMs) ->
    ?NIF_STUB.

%% @doc The tun clone device (`/dev/net/tun', attached to no device),
%% opened by the VM with its own credentials: non-blocking, close-on-exec.
-spec open_tun_clone() -> {ok, non_neg_integer()} | {error, atom()}.
open_tun_clone() ->
    ?NIF_STUB.

%% @doc The descriptor `Request' describes, from the broker listening at
%% `Path' (`procket -l PATH'), within `TimeoutMs' milliseconds; on a dirty
%% I/O scheduler. `{next, Reason}' when no broker heard the request (it
%% could not connect: nothing there, nobody listening, no permission);
%% `again' when the broker's backlog is full (nothing sent: ask again).
-spec open_broker(procket_opts:request(), binary(), pos_integer()) ->
          {ok, non_neg_integer()} | {error, atom()} | {next, atom()} | again.
open_broker(_Request, _Path, _TimeoutMs) ->
    ?NIF_STUB.

%% @doc close(2) on a descriptor.
-spec close(non_neg_integer()) -> ok | closing | {error, atom()}.
close(_FD) ->
    ?NIF_STUB.

%% --- the socket API (procket_sock.c; see procket_socket) ---------------
%% Stubs of the NIF functions behind procket_socket. Descriptor arguments
%% are an integer or a handle made by sock_handle/1; every other argument
%% is checked again in C (badarg), sizes are bounded there.

%% @doc socket(2), non-blocking and close-on-exec.
-spec sock_socket(integer(), integer(), integer()) ->
          {ok, non_neg_integer()} | sock_error().
sock_socket(_Family, _Type, _Protocol) -> ?NIF_STUB.

%% @doc bind(2); `<<>>' is a NULL address.
-spec sock_bind(sock_fd(), binary()) -> ok | sock_error().
sock_bind(FD, Sockaddr) ->
    call(fun() -> sock_bind_nif(FD, Sockaddr) end).

%% @doc connect(2); `<<>>' is a NULL address.
-spec sock_connect(sock_fd(), binary()) -> ok | sock_error().
sock_connect(FD, Sockaddr) ->
    call(fun() -> sock_connect_nif(FD, Sockaddr) end).

%% @doc listen(2).
-spec sock_listen(sock_fd(), integer()) -> ok | sock_error().
sock_listen(_FD, _Backlog) -> ?NIF_STUB.

%% @doc accept4(2), the new descriptor non-blocking and close-on-exec.
-spec sock_accept(sock_fd(), non_neg_integer()) ->
          {ok, non_neg_integer(), binary()} | sock_error().
sock_accept(_FD, _Salen) -> ?NIF_STUB.

%% @doc recvfrom(2) with MSG_DONTWAIT.
-spec sock_recvfrom(sock_fd(), non_neg_integer(), integer(), non_neg_integer()) ->
          {ok, binary(), binary()} | sock_error().
sock_recvfrom(FD, Size, Flags, Salen) ->
    call(fun() -> sock_recvfrom_nif(FD, Size, Flags, Salen) end).

%% @doc sendto(2) with MSG_DONTWAIT and MSG_NOSIGNAL: bytes sent.
-spec sock_sendto(sock_fd(), binary(), integer(), binary()) ->
          {ok, non_neg_integer()} | sock_error().
sock_sendto(FD, Buf, Flags, Sockaddr) ->
    call(fun() -> sock_sendto_nif(FD, Buf, Flags, Sockaddr) end).

%% @doc recvmsg(2) with MSG_DONTWAIT and MSG_CMSG_CLOEXEC.
-spec sock_recvmsg(sock_fd(), non_neg_integer(), integer(), non_neg_integer(),
                   non_neg_integer()) ->
          {ok, binary(), integer(), [{integer(), integer(), binary()}], binary()}
        | sock_error().
sock_recvmsg(FD, Size, Flags, CtrlSize, Salen) ->
    call(fun() -> sock_recvmsg_nif(FD, Size, Flags, CtrlSize, Salen) end).

%% @doc sendmsg(2) with MSG_DONTWAIT and MSG_NOSIGNAL: bytes sent.
-spec sock_sendmsg(sock_fd(), binary(), integer(),
                   [{integer(), integer(), binary()}], binary()) ->
          {ok, non_neg_integer()} | sock_error().
sock_sendmsg(FD, Buf, Flags, Ctrl, Sockaddr) ->
    call(fun() -> sock_sendmsg_nif(FD, Buf, Flags, Ctrl, Sockaddr) end).

%% @doc read(2).
-spec sock_read(sock_fd(), non_neg_integer()) -> {ok, binary()} | sock_error().
sock_read(FD, Size) ->
    call(fun() -> sock_read_nif(FD, Size) end).

%% @doc write(2): bytes written.
-spec sock_write(sock_fd(), binary()) -> {ok, non_neg_integer()} | sock_error().
sock_write(FD, Buf) ->
    call(fun() -> sock_write_nif(FD, Buf) end).

%% @doc writev(2) of up to IOV_MAX binaries: bytes written.
-spec sock_writev(sock_fd(), [binary()]) -> {ok, non_neg_integer()} | sock_error().
sock_writev(FD, Bufs) ->
    call(fun() -> sock_writev_nif(FD, Bufs) end).

%% @doc ioctl(2) on a dirty I/O scheduler: its return value and the first
%% `OutSize' bytes of the argument buffer afterwards.
-spec sock_ioctl(sock_fd(), non_neg_integer(), binary() | integer(),
                 non_neg_integer()) -> {ok, integer(), binary()} | sock_error().
sock_ioctl(_FD, _Request, _Arg, _OutSize) -> ?NIF_STUB.

%% @doc setsockopt(2).
-spec sock_setsockopt(sock_fd(), integer(), integer(), binary()) ->
          ok | sock_error().
sock_setsockopt(_FD, _Level, _Optname, _Optval) -> ?NIF_STUB.

%% @doc SO_ATTACH_FILTER with a classic BPF program of 1 to 4096
%% instructions, 8 bytes each; the NIF makes the struct sock_fprog.
-spec sock_attach_filter(sock_fd(), binary()) -> ok | sock_error().
sock_attach_filter(_FD, _Program) -> ?NIF_STUB.

%% @doc getsockopt(2), `Optval' the initial buffer.
-spec sock_getsockopt(sock_fd(), integer(), integer(), binary()) ->
          {ok, binary()} | sock_error().
sock_getsockopt(_FD, _Level, _Optname, _Optval) -> ?NIF_STUB.

%% @doc getsockname(2) into `Salen' bytes.
-spec sock_getsockname(sock_fd(), non_neg_integer()) -> {ok, binary()} | sock_error().
sock_getsockname(_FD, _Salen) -> ?NIF_STUB.

%% @doc getpeername(2) into `Salen' bytes.
-spec sock_getpeername(sock_fd(), non_neg_integer()) -> {ok, binary()} | sock_error().
sock_getpeername(_FD, _Salen) -> ?NIF_STUB.

%% @doc The errno name of a number.
-spec sock_errno_id(integer()) -> atom().
sock_errno_id(_Errno) -> ?NIF_STUB.

%% @doc A name table: `undefined' for names this system lacks.
-spec sock_constants(family | type | proto | level | protocol | optname | msg |
                     ioctl) -> [{atom(), integer() | undefined}].
sock_constants(_Table) -> ?NIF_STUB.

%% @doc Sizes of this platform and procket's bounds.
-spec sock_info() -> #{atom() => integer()}.
sock_info() -> ?NIF_STUB.

%% @doc A handle owning `FD', owned by the caller.
-spec sock_handle(non_neg_integer()) -> {ok, reference()} | sock_error().
sock_handle(_FD) -> ?NIF_STUB.

%% @doc The descriptor of an open handle.
-spec sock_fd(reference()) -> {ok, non_neg_integer()} | sock_error().
sock_fd(_Handle) -> ?NIF_STUB.

%% @doc Starts closing a handle (see procket_socket:close_handle/1).
-spec sock_close(reference()) -> ok | finalize | wait | sock_error().
sock_close(_Handle) -> ?NIF_STUB.

%% @doc The closer's close(2), on a dirty I/O scheduler.
-spec sock_finalize(reference()) -> ok | closing | sock_error().
sock_finalize(_Handle) -> ?NIF_STUB.

%% @doc enif_select for one readiness message to the caller.
-spec sock_select(reference(), read | write, reference()) -> ok | sock_error().
sock_select(_Handle, _Mode, _Ref) -> ?NIF_STUB.

%% @doc Cancels a select.
-spec sock_cancel(reference(), read | write) -> ok | sock_error().
sock_cancel(_Handle, _Mode) -> ?NIF_STUB.

%% @doc A new owner for a handle; only the owner may call it.
-spec sock_controlling_process(reference(), pid()) -> ok | sock_error().
sock_controlling_process(_Handle, _Pid) -> ?NIF_STUB.

%% @doc The state of a handle.
-spec sock_handle_info(reference()) ->
          #{fd := integer(), state := open | closing | closed,
            owner := pid() | undefined, selected := boolean()}.
sock_handle_info(_Handle) -> ?NIF_STUB.

%% The calls above may run on a worker thread of procket's (on an AF_UNIX
%% socket, where the kernel may close a passed descriptor in the calling
%% thread, and that close may wait without end): the NIF then returns
%% {'$procket_wait', Ref} and the worker sends {Ref, Result}. The caller
%% waits here, in receive, holding no scheduler. '$procket_retry': the
%% descriptor is in blocking mode and the worker, which never waits for
%% data or room, found none: the call starts again (and waits for them
%% on a dirty I/O scheduler; from the second time on after a pause of
%% 1 ms, as poll(2) may say a datagram socket is writable while its peer
%% is full).
call(Nif) ->
    call(Nif, 0).

call(Nif, Tries) ->
    case Nif() of
        {'$procket_wait', Ref} ->
            receive
                {Ref, '$procket_retry'} ->
                    Tries > 0 andalso timer:sleep(1),
                    call(Nif, Tries + 1);
                {Ref, Result} ->
                    Result
            end;
        Result ->
            Result
    end.

sock_bind_nif(_FD, _Sockaddr) -> ?NIF_STUB.
sock_connect_nif(_FD, _Sockaddr) -> ?NIF_STUB.
sock_recvfrom_nif(_FD, _Size, _Flags, _Salen) -> ?NIF_STUB.
sock_sendto_nif(_FD, _Buf, _Flags, _Sockaddr) -> ?NIF_STUB.
sock_recvmsg_nif(_FD, _Size, _Flags, _CtrlSize, _Salen) -> ?NIF_STUB.
sock_sendmsg_nif(_FD, _Buf, _Flags, _Ctrl, _Sockaddr) -> ?NIF_STUB.
sock_read_nif(_FD, _Size) -> ?NIF_STUB.
sock_write_nif(_FD, _Buf) -> ?NIF_STUB.
sock_writev_nif(_FD, _Bufs) -> ?NIF_STUB.
