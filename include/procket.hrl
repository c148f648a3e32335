%% procket.hrl: socket constants for programs of the procket API, with
%% the names and values msantos/procket's header had (Linux's values).
%% -include_lib("procket/include/procket.hrl").

%% sockaddr_un's sun_path, in bytes (procket:unix_path_max/0)
-define(UNIX_PATH_MAX, 108).
%% the backlog procket:listen/1 gave listen(2)
-define(BACKLOG, 50).

%% socket types
-define(SOCK_STREAM, 1).
-define(SOCK_DGRAM, 2).
-define(SOCK_RAW, 3).

%% protocol families (a program may define its own first)
-ifndef(PF_UNSPEC).
-define(PF_UNSPEC, 0).
-endif.
-ifndef(PF_LOCAL).
-define(PF_LOCAL, 1).
-endif.
-ifndef(PF_UNIX).
-define(PF_UNIX, ?PF_LOCAL).
-endif.
-ifndef(PF_INET).
-define(PF_INET, 2).
-endif.
-ifndef(PF_INET6).
-define(PF_INET6, 10).
-endif.
-ifndef(PF_PACKET).
-define(PF_PACKET, 17).
-endif.

%% socket options
-ifndef(SOL_SOCKET).
-define(SOL_SOCKET, 1).
-endif.
-define(SO_REUSEADDR, 2).
