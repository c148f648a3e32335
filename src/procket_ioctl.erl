%% @doc ioctl(2) request numbers computed at run time, as the C macros
%% `_IO', `_IOR', `_IOW' and `_IOWR' compute them, for requests that
%% {@link procket:ioctl_request/1} does not name.
%%
%% ```
%% %% TUNSETIFF is _IOW('T', 202, int)
%% Req = procket_ioctl:iow($T, 202, 4),
%% Req = procket:ioctl_request('TUNSETIFF').
%% '''
%%
%% A request number packs a direction, the size of the argument, a type
%% (one byte, often a letter) and a number. The layout differs between
%% kernels:
%% <ul>
%% <li>Linux (the platform procket is tested on): direction in bits
%% 30-31 (`read' = 2, `write' = 1, none = 0), size in bits 16-29;</li>
%% <li>the BSDs and macOS: `in' = 16#80000000, `out' = 16#40000000,
%% `void' = 16#20000000, size in bits 16-28.</li>
%% </ul>
%% The 0-arity direction functions use the running system's layout; the
%% 1-arity ones take `linux' or `bsd'. "In" and "out" are seen from the
%% kernel's side of the BSD names: `in' copies the argument into the
%% kernel (`_IOW'), `out' copies it back (`_IOR').
%%
%% Differences from msantos/procket's module of this name: arguments out
%% of range (a type above 255, a size that does not fit the size field)
%% raise `badarg' instead of silently spilling into the other fields, and
%% an unknown OS raises `badarg' instead of a `case_clause'.
-module(procket_ioctl).

-export([in/0, out/0, void/0, in/1, out/1, void/1,
         ioc/4, io/2, ior/3, iow/3, iowr/3]).

-export_type([os/0, request/0]).

-type os() :: linux | bsd.
%% Which layout: Linux's, or the one the BSDs and macOS share.
-type request() :: 0..16#ffffffff.
%% An ioctl request number, for {@link procket:ioctl/3}.

%% @doc The direction bit for "the kernel reads the argument" (`_IOW'),
%% on this system.
-spec in() -> request().
in() -> in(os()).

%% @doc The direction bit for "the kernel reads the argument" on `OS'.
-spec in(os()) -> request().
in(linux) -> 16#40000000;
in(bsd) -> 16#80000000;
in(Other) -> erlang:error(badarg, [Other]).

%% @doc The direction bit for "the kernel writes the argument" (`_IOR'),
%% on this system.
-spec out() -> request().
out() -> out(os()).

%% @doc The direction bit for "the kernel writes the argument" on `OS'.
-spec out(os()) -> request().
out(linux) -> 16#80000000;
out(bsd) -> 16#40000000;
out(Other) -> erlang:error(badarg, [Other]).

%% @doc The direction bits for "no argument" (`_IO'), on this system.
-spec void() -> request().
void() -> void(os()).

%% @doc The direction bits for "no argument" on `OS'.
-spec void(os()) -> request().
void(linux) -> 0;
void(bsd) -> 16#20000000;
void(Other) -> erlang:error(badarg, [Other]).

%% @doc `_IOC(Dir, Type, Nr, Size)': the request with direction bits
%% `Dir' (from {@link in/0}, {@link out/0}, {@link void/0}, or
%% `in() bor out()'), `Type' and `Nr' (0..255 each) and an argument of
%% `Size' bytes (below 16384 on Linux, 8192 on the BSDs).
-spec ioc(request(), 0..255, 0..255, non_neg_integer()) -> request().
ioc(Dir, Type, Nr, Size) ->
    ioc(os(), Dir, Type, Nr, Size).

ioc(OS, Dir, Type, Nr, Size)
  when is_integer(Dir), Dir >= 0, Dir band 16#ffff =:= 0, Dir =< 16#ffffffff,
       is_integer(Type), Type >= 0, Type =< 255,
       is_integer(Nr), Nr >= 0, Nr =< 255,
       is_integer(Size), Size >= 0 ->
    case Size < size_limit(OS) of
        true -> Dir bor (Size bsl 16) bor (Type bsl 8) bor Nr;
        false -> erlang:error(badarg, [Dir, Type, Nr, Size])
    end;
ioc(_OS, Dir, Type, Nr, Size) ->
    erlang:error(badarg, [Dir, Type, Nr, Size]).

%% @doc `_IO(Type, Nr)': a request without an argument.
-spec io(0..255, 0..255) -> request().
io(Type, Nr) ->
    OS = os(),
    ioc(OS, void(OS), Type, Nr, 0).

%% @doc `_IOR(Type, Nr, Size)': the kernel writes `Size' bytes back.
-spec ior(0..255, 0..255, non_neg_integer()) -> request().
ior(Type, Nr, Size) ->
    OS = os(),
    ioc(OS, out(OS), Type, Nr, Size).

%% @doc `_IOW(Type, Nr, Size)': the kernel reads `Size' bytes.
-spec iow(0..255, 0..255, non_neg_integer()) -> request().
iow(Type, Nr, Size) ->
    OS = os(),
    ioc(OS, in(OS), Type, Nr, Size).

%% @doc `_IOWR(Type, Nr, Size)': both.
-spec iowr(0..255, 0..255, non_neg_integer()) -> request().
iowr(Type, Nr, Size) ->
    OS = os(),
    ioc(OS, in(OS) bor out(OS), Type, Nr, Size).

size_limit(linux) -> 1 bsl 14;
size_limit(bsd) -> 1 bsl 13.

-spec os() -> os().
os() ->
    case os:type() of
        {unix, linux} -> linux;
        {unix, Kernel} when Kernel =:= darwin; Kernel =:= freebsd;
                            Kernel =:= netbsd; Kernel =:= openbsd;
                            Kernel =:= dragonfly -> bsd;
        Other -> erlang:error({unsupported_os, Other})
    end.
