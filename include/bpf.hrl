%% bpf.hrl: classic BPF, for socket filters (packet:filter/2) and for the
%% BPF devices of the BSDs and macOS, with the names msantos/procket's
%% header had. ?BPF_STMT and ?BPF_JUMP give an instruction as its 8 bytes
%% (struct sock_filter, native byte order), as bpf:stmt/2 and bpf:jump/4
%% do; bpf:insn/1 turns it into an #insn{} record and back.
%% packet:filter/2 takes a list of instructions in any of these forms, or
%% the whole program as one binary.
%% -include_lib("procket/include/bpf.hrl").
%%
%%   %% accept IPv4 frames only
%%   Prog = [?BPF_STMT(?BPF_LD + ?BPF_H + ?BPF_ABS, 12),
%%           ?BPF_JUMP(?BPF_JMP + ?BPF_JEQ + ?BPF_K, 16#0800, 0, 1),
%%           ?BPF_STMT(?BPF_RET + ?BPF_K, 16#ffff),
%%           ?BPF_STMT(?BPF_RET + ?BPF_K, 0)],
%%   {ok, _} = packet:filter(S, Prog).

%% struct sock_filter / struct bpf_insn: code (16 bits), jt, jf (8 bits
%% each), k (32 bits)
-record(insn, {code = 0, jt = 0, jf = 0, k = 0}).

-define(BPF_STMT(Code, K), bpf:stmt(Code, K)).
-define(BPF_JUMP(Code, K, JT, JF), bpf:jump(Code, K, JT, JF)).

%% instruction classes
-define(BPF_CLASS(Code), ((Code) band 16#07)).
-define(BPF_LD, 16#00).
-define(BPF_LDX, 16#01).
-define(BPF_ST, 16#02).
-define(BPF_STX, 16#03).
-define(BPF_ALU, 16#04).
-define(BPF_JMP, 16#05).
-define(BPF_RET, 16#06).
-define(BPF_MISC, 16#07).

%% ld/ldx: size and mode
-define(BPF_SIZE(Code), ((Code) band 16#18)).
-define(BPF_W, 16#00).
-define(BPF_H, 16#08).
-define(BPF_B, 16#10).
-define(BPF_MODE(Code), ((Code) band 16#e0)).
-define(BPF_IMM, 16#00).
-define(BPF_ABS, 16#20).
-define(BPF_IND, 16#40).
-define(BPF_MEM, 16#60).
-define(BPF_LEN, 16#80).
-define(BPF_MSH, 16#a0).

%% alu/jmp: operation and source
-define(BPF_OP(Code), ((Code) band 16#f0)).
-define(BPF_ADD, 16#00).
-define(BPF_SUB, 16#10).
-define(BPF_MUL, 16#20).
-define(BPF_DIV, 16#30).
-define(BPF_OR, 16#40).
-define(BPF_AND, 16#50).
-define(BPF_LSH, 16#60).
-define(BPF_RSH, 16#70).
-define(BPF_NEG, 16#80).
-define(BPF_JA, 16#00).
-define(BPF_JEQ, 16#10).
-define(BPF_JGT, 16#20).
-define(BPF_JGE, 16#30).
-define(BPF_JSET, 16#40).
-define(BPF_SRC(Code), ((Code) band 16#08)).
-define(BPF_K, 16#00).
-define(BPF_X, 16#08).

%% ret: BPF_K and BPF_X, or the accumulator
-define(BPF_RVAL(Code), ((Code) band 16#18)).
-define(BPF_A, 16#10).

%% misc
-define(BPF_MISCOP(Code), ((Code) band 16#f8)).
-define(BPF_TAX, 16#00).
-define(BPF_TXA, 16#80).

%% Sizes of the structures the BPF device ioctls take (64-bit systems)
-define(SIZEOF_INT32_T, 4).
-define(SIZEOF_U_INT, ?SIZEOF_INT32_T).
-define(SIZEOF_STRUCT_IFREQ, 40).
-define(SIZEOF_STRUCT_TIMEVAL, 16).
%% struct bpf_program: bf_len (u_int) and a pointer
-define(SIZEOF_STRUCT_BPF_PROGRAM, 16).
%% struct bpf_stat: two u_ints
-define(SIZEOF_STRUCT_BPF_STAT, (?SIZEOF_U_INT + ?SIZEOF_U_INT)).
%% struct bpf_version: two u_shorts
-define(SIZEOF_STRUCT_BPF_VERSION, (2 + 2)).
%% struct bpf_dltlist: bfl_len (u_int) and a pointer
-define(SIZEOF_STRUCT_BPF_DLTLIST, 16).

-define(BPF_ALIGNMENT, ?SIZEOF_INT32_T).
-define(BPF_WORDALIGN(X), (((X) + (?BPF_ALIGNMENT - 1)) band (bnot (?BPF_ALIGNMENT - 1)))).

%% The BPF device's ioctl requests (the BSDs and macOS: their layout)
-define(PROCKET_BPF_IOC(Dir, Nr, Size),
        procket_ioctl:ioc(procket_ioctl:Dir(bsd), $B, Nr, Size)).
-define(BIOCGBLEN, ?PROCKET_BPF_IOC(out, 102, ?SIZEOF_U_INT)).
-define(BIOCSBLEN, (?PROCKET_BPF_IOC(out, 102, ?SIZEOF_U_INT) bor procket_ioctl:in(bsd))).
-define(BIOCSETF, ?PROCKET_BPF_IOC(in, 103, ?SIZEOF_STRUCT_BPF_PROGRAM)).
-define(BIOCFLUSH, ?PROCKET_BPF_IOC(void, 104, 0)).
-define(BIOCPROMISC, ?PROCKET_BPF_IOC(void, 105, 0)).
-define(BIOCGDLT, ?PROCKET_BPF_IOC(out, 106, ?SIZEOF_U_INT)).
-define(BIOCGETIF, ?PROCKET_BPF_IOC(out, 107, ?SIZEOF_STRUCT_IFREQ)).
-define(BIOCSETIF, ?PROCKET_BPF_IOC(in, 108, ?SIZEOF_STRUCT_IFREQ)).
-define(BIOCSRTIMEOUT, ?PROCKET_BPF_IOC(in, 109, ?SIZEOF_STRUCT_TIMEVAL)).
-define(BIOCGRTIMEOUT, ?PROCKET_BPF_IOC(out, 110, ?SIZEOF_STRUCT_TIMEVAL)).
-define(BIOCGSTATS, ?PROCKET_BPF_IOC(out, 111, ?SIZEOF_STRUCT_BPF_STAT)).
-define(BIOCIMMEDIATE, ?PROCKET_BPF_IOC(in, 112, ?SIZEOF_U_INT)).
-define(BIOCVERSION, ?PROCKET_BPF_IOC(out, 113, ?SIZEOF_STRUCT_BPF_VERSION)).
-define(BIOCGRSIG, ?PROCKET_BPF_IOC(out, 114, ?SIZEOF_U_INT)).
-define(BIOCSRSIG, ?PROCKET_BPF_IOC(in, 115, ?SIZEOF_U_INT)).
-define(BIOCGHDRCMPLT, ?PROCKET_BPF_IOC(out, 116, ?SIZEOF_U_INT)).
-define(BIOCSHDRCMPLT, ?PROCKET_BPF_IOC(in, 117, ?SIZEOF_U_INT)).
-define(BIOCGSEESENT, ?PROCKET_BPF_IOC(out, 118, ?SIZEOF_U_INT)).
-define(BIOCSSEESENT, ?PROCKET_BPF_IOC(in, 119, ?SIZEOF_U_INT)).
-define(BIOCSDLT, ?PROCKET_BPF_IOC(in, 120, ?SIZEOF_U_INT)).
-define(BIOCGDLTLIST, (?PROCKET_BPF_IOC(out, 121, ?SIZEOF_STRUCT_BPF_DLTLIST) bor procket_ioctl:in(bsd))).
