%% @doc Classic BPF instructions, for socket filters ({@link
%% packet:filter/2}), with the names of msantos/procket's `bpf' module
%% (and of the macros of `bpf.hrl', which call it).
%%
%% An instruction is 8 bytes (`struct sock_filter' in native byte order:
%% code 16 bits, jt 8, jf 8, k 32), or an `#insn{}' record of `bpf.hrl'.
%% ```
%% -include_lib("procket/include/bpf.hrl").
%% %% accept every frame whole
%% {ok, _} = packet:filter(S, [?BPF_STMT(?BPF_RET + ?BPF_K, 16#ffffffff)]).
%% '''
%% The older module's functions for the BPF devices of the BSDs and
%% macOS (`open/1', `ctl/2,3', `buf/1', ...) are not here: procket runs
%% on Linux, and opens no device by path.
-module(bpf).

-export([stmt/2, jump/4, insn/1, offset/1]).

-export_type([insn/0]).

-type insn() :: <<_:64>>.
%% One instruction: `<<Code:16/native, Jt:8, Jf:8, K:32/native>>'.

-define(BPF_W, 16#00).
-define(BPF_H, 16#08).
-define(BPF_B, 16#10).

%% @doc `BPF_STMT(Code, K)': an instruction that does not jump. `K' is a
%% 32-bit value, signed or not.
-spec stmt(0..16#ffff, integer()) -> insn().
stmt(Code, K) ->
    jump(Code, K, 0, 0).

%% @doc `BPF_JUMP(Code, K, Jt, Jf)': a conditional jump, `Jt' and `Jf'
%% instructions ahead.
-spec jump(0..16#ffff, integer(), 0..255, 0..255) -> insn().
jump(Code, K, Jt, Jf) when is_integer(Code), Code >= 0, Code =< 16#ffff,
                           is_integer(Jt), Jt >= 0, Jt =< 255,
                           is_integer(Jf), Jf >= 0, Jf =< 255,
                           is_integer(K), K >= -16#80000000, K =< 16#ffffffff ->
    <<Code:16/native, Jt:8, Jf:8, K:32/native>>;
jump(Code, K, Jt, Jf) ->
    erlang:error(badarg, [Code, K, Jt, Jf]).

%% @doc An instruction as an `#insn{}' record (`{insn, Code, Jt, Jf, K}',
%% `K' unsigned), or a record as the instruction's 8 bytes.
-spec insn(insn()) -> {insn, 0..16#ffff, 0..255, 0..255, 0..16#ffffffff};
          ({insn, integer(), integer(), integer(), integer()}) -> insn().
insn(<<Code:16/native, Jt:8, Jf:8, K:32/native>>) ->
    {insn, Code, Jt, Jf, K};
insn({insn, Code, Jt, Jf, K}) ->
    jump(Code, K, Jt, Jf);
insn(Other) ->
    erlang:error(badarg, [Other]).

%% @doc The size field of a load (`BPF_W', `BPF_H', `BPF_B') for `word',
%% `halfword' or `byte', and back.
-spec offset(word | halfword | byte) -> 0 | 8 | 16;
            (0 | 8 | 16) -> word | halfword | byte.
offset(word) -> ?BPF_W;
offset(halfword) -> ?BPF_H;
offset(byte) -> ?BPF_B;
offset(?BPF_W) -> word;
offset(?BPF_H) -> halfword;
offset(?BPF_B) -> byte;
offset(Other) -> erlang:error(badarg, [Other]).
