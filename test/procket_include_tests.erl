%% @doc include/: a module of the older API's kind, which includes
%% procket.hrl, ioctl.hrl, packet.hrl and bpf.hrl with include_lib and
%% uses every macro, compiles against procket and returns the values the
%% kernel's headers give. Written to a temporary directory and compiled
%% here, as a program that depends on procket would be.
-module(procket_include_tests).

-include_lib("eunit/include/eunit.hrl").

-define(SOURCE, "
-module(procket_include_user).
-export([values/0, program/0]).
-include_lib(\"procket/include/procket.hrl\").
-include_lib(\"procket/include/ioctl.hrl\").
-include_lib(\"procket/include/packet.hrl\").
-include_lib(\"procket/include/bpf.hrl\").

values() ->
    #{procket => [?UNIX_PATH_MAX, ?BACKLOG, ?SOCK_STREAM, ?SOCK_DGRAM, ?SOCK_RAW,
                  ?PF_UNSPEC, ?PF_LOCAL, ?PF_UNIX, ?PF_INET, ?PF_INET6, ?PF_PACKET,
                  ?SOL_SOCKET, ?SO_REUSEADDR],
      ioctl => [?IO($T, 1), ?IOR($T, 210, 4), ?IOW($T, 202, 4), ?IOWR($T, 1, 8)],
      packet => [?SIOCGIFINDEX, ?SIOCGIFADDR, ?SIOCGIFHWADDR, ?SOL_PACKET,
                 ?PACKET_ADD_MEMBERSHIP, ?PACKET_DROP_MEMBERSHIP, ?PACKET_MR_PROMISC,
                 ?SO_BINDTODEVICE, ?SO_ATTACH_FILTER, ?SO_DETACH_FILTER, ?ETH_P_IP],
      bpf_fields => [?BPF_CLASS(16#15), ?BPF_SIZE(16#28), ?BPF_MODE(16#28), ?BPF_OP(16#15),
                     ?BPF_SRC(16#1d), ?BPF_RVAL(16#16), ?BPF_MISCOP(16#87)],
      bpf_codes => [?BPF_LD, ?BPF_LDX, ?BPF_ST, ?BPF_STX, ?BPF_ALU, ?BPF_JMP, ?BPF_RET,
                    ?BPF_MISC, ?BPF_W, ?BPF_H, ?BPF_B, ?BPF_IMM, ?BPF_ABS, ?BPF_IND,
                    ?BPF_MEM, ?BPF_LEN, ?BPF_MSH, ?BPF_ADD, ?BPF_SUB, ?BPF_MUL, ?BPF_DIV,
                    ?BPF_OR, ?BPF_AND, ?BPF_LSH, ?BPF_RSH, ?BPF_NEG, ?BPF_JA, ?BPF_JEQ,
                    ?BPF_JGT, ?BPF_JGE, ?BPF_JSET, ?BPF_K, ?BPF_X, ?BPF_A, ?BPF_TAX,
                    ?BPF_TXA],
      bpf_sizes => [?SIZEOF_INT32_T, ?SIZEOF_U_INT, ?SIZEOF_STRUCT_IFREQ,
                    ?SIZEOF_STRUCT_TIMEVAL, ?SIZEOF_STRUCT_BPF_PROGRAM,
                    ?SIZEOF_STRUCT_BPF_STAT, ?SIZEOF_STRUCT_BPF_VERSION,
                    ?SIZEOF_STRUCT_BPF_DLTLIST, ?BPF_ALIGNMENT, ?BPF_WORDALIGN(5),
                    ?BPF_WORDALIGN(8)],
      bioc => [?BIOCGBLEN, ?BIOCSBLEN, ?BIOCSETF, ?BIOCFLUSH, ?BIOCPROMISC, ?BIOCGDLT,
               ?BIOCGETIF, ?BIOCSETIF, ?BIOCSRTIMEOUT, ?BIOCGRTIMEOUT, ?BIOCGSTATS,
               ?BIOCIMMEDIATE, ?BIOCVERSION, ?BIOCGRSIG, ?BIOCSRSIG, ?BIOCGHDRCMPLT,
               ?BIOCSHDRCMPLT, ?BIOCGSEESENT, ?BIOCSSEESENT, ?BIOCSDLT, ?BIOCGDLTLIST]}.

%% IPv4 frames only
program() ->
    [?BPF_STMT(?BPF_LD + ?BPF_H + ?BPF_ABS, 12),
     ?BPF_JUMP(?BPF_JMP + ?BPF_JEQ + ?BPF_K, ?ETH_P_IP, 0, 1),
     ?BPF_STMT(?BPF_RET + ?BPF_K, 16#ffff),
     ?BPF_STMT(?BPF_RET + ?BPF_K, 0)].
").

%% Compiles the module above, with procket found as an application
%% directory named procket (as rebar3 and a release lay it out).
user_module() ->
    Ebin = filename:dirname(code:which(procket)),
    Lib = filename:dirname(Ebin),
    "procket" = filename:basename(Lib),
    {ok, _} = file:read_file_info(filename:join([Lib, "include", "bpf.hrl"])),
    Dir = string:trim(os:cmd("mktemp -d")),
    Src = filename:join(Dir, "procket_include_user.erl"),
    ok = file:write_file(Src, ?SOURCE),
    {ok, Mod, Bin} = compile:file(Src, [binary, return_errors, warnings_as_errors]),
    {module, Mod} = code:load_binary(Mod, Src, Bin),
    ok = file:del_dir_r(Dir),
    Mod.

every_macro_test() ->
    M = user_module(),
    V = M:values(),
    ?assertEqual([108, 50, 1, 2, 3, 0, 1, 1, 2, 10, 17, 1, 2], maps:get(procket, V)),
    %% _IO('T', 1), TUNGETIFF = _IOR('T', 210, unsigned int),
    %% TUNSETIFF = _IOW('T', 202, int), _IOWR('T', 1, 8)
    ?assertEqual([16#5401, 16#800454d2, 16#400454ca, 16#c0085401], maps:get(ioctl, V)),
    ?assertEqual([16#8933, 16#8915, 16#8927, 263, 1, 2, 1, 25, 26, 27, 16#0800],
                 maps:get(packet, V)),
    ?assertEqual([5, 16#08, 16#20, 16#10, 16#08, 16#10, 16#80], maps:get(bpf_fields, V)),
    ?assertEqual([0, 1, 2, 3, 4, 5, 6, 7, 0, 16#08, 16#10, 0, 16#20, 16#40, 16#60, 16#80,
                  16#a0, 0, 16#10, 16#20, 16#30, 16#40, 16#50, 16#60, 16#70, 16#80, 0,
                  16#10, 16#20, 16#30, 16#40, 0, 16#08, 16#10, 0, 16#80],
                 maps:get(bpf_codes, V)),
    ?assertEqual([4, 4, 40, 16, 16, 8, 4, 16, 4, 8, 8], maps:get(bpf_sizes, V)),
    %% macOS's <net/bpf.h> on a 64-bit system
    ?assertEqual([16#40044266, 16#c0044266, 16#80104267, 16#20004268, 16#20004269,
                  16#4004426a, 16#4028426b, 16#8028426c, 16#8010426d, 16#4010426e,
                  16#4008426f, 16#80044270, 16#40044271, 16#40044272, 16#80044273,
                  16#40044274, 16#80044275, 16#40044276, 16#80044277, 16#80044278,
                  16#c0104279],
                 maps:get(bioc, V)),
    %% the instructions tcpdump -dd gives for "ether proto 0x0800"
    ?assertEqual([{insn, 16#28, 0, 0, 12}, {insn, 16#15, 0, 1, 16#800},
                  {insn, 16#06, 0, 0, 16#ffff}, {insn, 16#06, 0, 0, 0}],
                 [bpf:insn(I) || I <- M:program()]),
    ?assertEqual(<<16#28:16/native, 0, 0, 12:32/native>>, hd(M:program())).
