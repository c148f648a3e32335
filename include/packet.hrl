%% packet.hrl: the constants of AF_PACKET work (Linux's values), with the
%% names msantos/procket's header had.
%% -include_lib("procket/include/packet.hrl").

-ifndef(PF_PACKET).
-define(PF_PACKET, 17).
-endif.
-ifndef(PF_INET).
-define(PF_INET, 2).
-endif.

%% interface lookups (ioctl requests on any socket)
-define(SIOCGIFINDEX, 16#8933).
-define(SIOCGIFADDR, 16#8915).
-define(SIOCGIFHWADDR, 16#8927).

%% promiscuous mode: setsockopt(S, SOL_PACKET, PACKET_ADD_MEMBERSHIP, ...)
-define(SOL_PACKET, 263).
-define(PACKET_ADD_MEMBERSHIP, 1).
-define(PACKET_DROP_MEMBERSHIP, 2).
-define(PACKET_MR_PROMISC, 1).

%% binding to an interface
-ifndef(SOL_SOCKET).
-define(SOL_SOCKET, 1).
-endif.
-define(SO_BINDTODEVICE, 25).

%% socket filters: packet:filter/2 and packet:unfilter/1,2
-define(SO_ATTACH_FILTER, 26).
-define(SO_DETACH_FILTER, 27).

-define(ETH_P_IP, 16#0800).
