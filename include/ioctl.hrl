%% ioctl.hrl: request numbers as the kernel's _IO, _IOR, _IOW and _IOWR
%% macros make them, through procket_ioctl (Linux's layout).
%% -include_lib("procket/include/ioctl.hrl").
%%   ?IOW($T, 202, 4) =:= 16#400454ca (TUNSETIFF)

-define(IO(Type, Nr), procket_ioctl:io(Type, Nr)).
-define(IOR(Type, Nr, Size), procket_ioctl:ior(Type, Nr, Size)).
-define(IOW(Type, Nr, Size), procket_ioctl:iow(Type, Nr, Size)).
-define(IOWR(Type, Nr, Size), procket_ioctl:iowr(Type, Nr, Size)).
