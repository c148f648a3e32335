%% @doc Hardening tests of the privileged helper (/work/shared/HARDENING.md),
%% each run from an unprivileged situation the suite builds itself:
%%
%%   filecaps  the helper installed with file capabilities instead of
%%             setuid: sockets owned by the caller, only the needed
%%             capability kept, a missing one refused cleanly;
%%   ignored   a setuid (or file-capability) helper under no_new_privs or
%%             on a nosuid mount: EPERM and a one-line reason, not the
%%             generic "not privileged";
%%   hostile   argv and standard input a hostile local user controls,
%%             against the setuid helper: every outcome one of the exit
%%             codes of procket(8), never a signal;
%%   devices_setuid, devices_sudo
%%             root-only character devices, paths and namespaces through
%%             the helper, installed setuid root and run through sudo -n.
%%
%% Runs as root through scripts/ct-hardening.sh: ct.sh's fresh network
%% namespace, inside a private mount namespace. There the suite mounts an
%% overlay on /etc (its sudo rule and /etc/procket.conf live in the
%% overlay, so a concurrent run of procket_SUITE, which rewrites
%% /etc/procket.conf, neither disturbs nor is disturbed), a tmpfs on
%% /run/netns and, for one case, a nosuid tmpfs. All are unmounted at the
%% end (and would go with the namespace anyway). The VMs under test and
%% the helper's direct callers run as uid/gid 65534 through setpriv.
-module(procket_hardening_SUITE).

-import(procket_ct_stage, [stage_release/2, make_dir/2]).

-include_lib("common_test/include/ct.hrl").
-include_lib("kernel/include/file.hrl").

-export([suite/0, all/0, groups/0,
         init_per_suite/1, end_per_suite/1,
         init_per_group/2, end_per_group/2,
         init_per_testcase/2, end_per_testcase/2]).

-export([filecaps_sockets_owned_by_caller/1, filecaps_keeps_only_needed_cap/1,
         filecaps_missing_capability/1, filecaps_peer_must_be_caller/1,
         no_new_privs_vm/1, no_new_privs_direct/1, nosuid_mount/1,
         not_privileged_generic/1,
         hostile_argv/1, hostile_stdin/1, path_transport_groups/1,
         device_paths/1, device_paths_direct/1, tun_node_checked/1, namespace_paths/1,
         namespace_no_oracle/1,
         mapped_address_rules/1, scope_id_interface/1, altname_interface/1,
         tun_template_names/1, peer_must_be_caller/1, stopped_helper/1,
         filecaps_stopped_helper/1, truncated_policy/1,
         audit_nofile/1, audit_flood/1, audit_interface_names/1,
         full_stderr/1, pending_tstp/1]).

%% the test's own interfaces (veth pairs, in ct.sh's network namespace),
%% with link-local addresses; b0 also has the altname ALTB0
-define(IFS, [{"a0", "fe80::a0"}, {"b0", "fe80::b0"}]).
-define(ALTB0, "ALTB0").

-define(NOBODY, 65534).
-define(CALL_TIMEOUT, 30000).
-define(POLICY, "/etc/procket.conf").
-define(NO_RULES, "# procket_hardening_SUITE: no rules\n").
-define(SUDO_RULE, "/etc/sudoers.d/procket-hardening-ct").
-define(NS, "pkh_ns").
-define(NO_NS, "pkh_no_such_ns").

%% the helper's exit codes (procket(8), EXIT STATUS)
-define(EX_OK, 0).
-define(EX_REFUSED, 1).
-define(EX_USAGE, 64).
-define(EX_REQUEST, 65).
-define(EX_CHANNEL, 66).
-define(EX_PEER, 68).

%% errno values in replies (Linux)
-define(EPERM, 1).
%% a reply word with PROCKET_REPLY_UNPRIVILEGED: the helper lacked the
%% privileges the request needs (another way, sudo, may succeed)
-define(UNPRIVILEGED(Errno), (16#10000 bor (Errno))).
-define(ENOENT, 2).
-define(EACCES, 13).
-define(EINVAL, 22).
-define(EMFILE, 24).
-define(EPROTO, 71).

-define(NNP_LINE, "procket: not privileged: no_new_privs is set in the calling "
        "process: setuid and file capabilities are ignored").
-define(NOSUID_LINE, "procket: not privileged: the helper sits on a nosuid mount").
-define(GENERIC_LINE, "procket: become_caller: not privileged for this request").

%% --- CT callbacks ---------------------------------------------------

suite() ->
    [{timetrap, {minutes, 10}}].

all() ->
    [{group, filecaps}, {group, ignored}, {group, hostile},
     {group, devices_setuid}, {group, devices_sudo}].

groups() ->
    Devices = [device_paths, device_paths_direct, tun_node_checked, namespace_paths,
               namespace_no_oracle, hostile_argv, hostile_stdin, path_transport_groups,
               mapped_address_rules, scope_id_interface, altname_interface,
               tun_template_names, peer_must_be_caller, stopped_helper, truncated_policy,
               audit_nofile, audit_flood, audit_interface_names],
    [{filecaps, [], [filecaps_sockets_owned_by_caller, filecaps_keeps_only_needed_cap,
                     filecaps_missing_capability, filecaps_peer_must_be_caller,
                     filecaps_stopped_helper]},
     {ignored, [], [no_new_privs_vm, no_new_privs_direct, nosuid_mount,
                    not_privileged_generic]},
     {hostile, [], [hostile_argv, hostile_stdin, full_stderr, pending_tstp]},
     {devices_setuid, [], Devices},
     {devices_sudo, [], Devices}].

init_per_suite(Config) ->
    "0" = string:trim(os:cmd("id -u")),
    [true = is_list(os:find_executable(T))
     || T <- ["setpriv", "setcap", "getcap", "sudo", "visudo", "mount", "umount",
              "ip", "cc", "socat", "erl"]],
    %% the mounts below must not be seen by the rest of the machine
    {ok, MntNs} = file:read_link("/proc/self/ns/mnt"),
    case os:getenv("PROCKET_OUTER_MNTNS") of
        Outer when is_list(Outer), Outer =/= "", Outer =/= MntNs ->
            ok;
        _ ->
            ct:fail("not in a private mount namespace: run scripts/ct-hardening.sh")
    end,
    Root = repo_root(Config),
    [{ok, _} = file:read_file_info(filename:join(Root, F))
     || F <- ["ebin/procket.beam", "priv/procket", "priv/procket_nif.so"]],
    Stage = string:trim(os:cmd("mktemp -d /tmp/procket_hard.XXXXXX")),
    true = lists:prefix("/tmp/procket_hard.", Stage),
    ok = file:change_mode(Stage, 8#755),
    Config1 = [{stage, Stage} | Config],
    try
        setup(Root, Stage, Config1)
    catch
        Class:Reason:Stack ->
            teardown(Config1),
            erlang:raise(Class, Reason, Stack)
    end.

setup(Root, Stage, Config) ->
    %% ebin/ and priv/ (the helper setuid root, the last chmod)
    ok = stage_release(Root, Stage),
    Setuid = filename:join(Stage, "priv/procket"),
    ok = file:change_owner(Setuid, 0, 0),
    ok = file:change_mode(Setuid, 8#4755),
    {ok, #file_info{mode = SMode}} = file:read_file_info(Setuid),
    8#4755 = SMode band 8#7777,
    %% copies of the helper: plain (for sudo, and unprivileged), and three
    %% with file capabilities (setcap last: chown and writes clear them)
    Helpers = filename:join(Stage, "helpers"),
    ok = make_dir(Helpers, 8#755),
    Copy = fun(Name) ->
                   Dir = filename:join(Helpers, Name),
                   ok = make_dir(Dir, 8#755),
                   P = filename:join(Dir, "procket"),
                   {ok, _} = file:copy(filename:join(Root, "priv/procket"), P),
                   ok = file:change_owner(P, 0, 0),
                   ok = file:change_mode(P, 8#755),
                   P
           end,
    Plain = Copy("plain"),
    FcapEp = Copy("fcap_ep"),
    FcapP = Copy("fcap_p"),
    FcapBind = Copy("fcap_bind"),
    ok = run("setcap cap_net_bind_service,cap_net_raw+ep " ++ FcapEp),
    ok = run("setcap cap_net_bind_service,cap_net_raw=p " ++ FcapP),
    ok = run("setcap cap_net_bind_service+ep " ++ FcapBind),
    %% the direct caller, compiled from test/procket_hardening_SUITE_data
    Bin = filename:join(Stage, "bin"),
    ok = make_dir(Bin, 8#755),
    Driver = filename:join(Bin, "driver"),
    Src = filename:join(?config(data_dir, Config), "driver.c"),
    ok = run("cc -O1 -o " ++ Driver ++ " " ++ Src),
    ok = file:change_mode(Driver, 8#755),
    %% the support module, for the peers
    TestEbin = filename:join(Stage, "testebin"),
    ok = make_dir(TestEbin, 8#755),
    {ok, _} = compile:file(filename:join([Root, "test", "procket_hardening_peer.erl"]),
                           [{outdir, TestEbin}, report]),
    [ok = file:change_mode(B, 8#644) || B <- filelib:wildcard(filename:join(TestEbin, "*.beam"))],
    %% the peers' HOME, a world-writable sticky directory, peer stderr logs
    Home = filename:join(Stage, "home"),
    ok = make_dir(Home, 8#700),
    ok = file:change_owner(Home, ?NOBODY, ?NOBODY),
    World = filename:join(Stage, "world"),
    ok = make_dir(World, 8#1777),
    Logs = filename:join(Stage, "logs"),
    ok = make_dir(Logs, 8#755),
    %% /etc as an overlay: what the suite writes there stays private
    Upper = filename:join(Stage, "etc-upper"),
    Work = filename:join(Stage, "etc-work"),
    [ok = make_dir(D, 8#700) || D <- [Upper, Work]],
    %% the merged /etc takes the upper directory's owner and mode
    {ok, #file_info{mode = EtcMode, uid = EtcUid, gid = EtcGid}} = file:read_file_info("/etc"),
    ok = file:change_owner(Upper, EtcUid, EtcGid),
    ok = file:change_mode(Upper, EtcMode band 8#7777),
    ok = run("mount -t overlay procket_hardening_etc -o lowerdir=/etc,upperdir=" ++ Upper
             ++ ",workdir=" ++ Work ++ " /etc"),
    Config0 = [{etc_overlay, true} | Config],
    %% /dev as an overlay too: the suite plays the syslog daemon at
    %% /dev/log, the helper's log socket, whether the machine has one there
    %% or not, and the real /dev stays as it is
    DevUpper = filename:join(Stage, "dev-upper"),
    DevWork = filename:join(Stage, "dev-work"),
    [ok = make_dir(D, 8#700) || D <- [DevUpper, DevWork]],
    {ok, #file_info{mode = DevMode}} = file:read_file_info("/dev"),
    ok = file:change_mode(DevUpper, DevMode band 8#7777),
    ok = run("mount -t overlay procket_hardening_dev -o lowerdir=/dev,upperdir=" ++ DevUpper
             ++ ",workdir=" ++ DevWork ++ " /dev"),
    Config1 = [{dev_overlay, true} | Config0],
    _ = file:delete("/dev/log"),          % a whiteout in the overlay
    ok = write_policy(?NO_RULES),
    %% the test's interfaces, in ct.sh's network namespace
    [ok = run_all(["ip link add " ++ If ++ " type veth peer name " ++ If ++ "p",
                   "ip link set " ++ If ++ " addrgenmode none",
                   "ip link set " ++ If ++ " up",
                   "ip link set " ++ If ++ "p up",
                   "ip addr add " ++ Addr ++ "/64 dev " ++ If ++ " nodad"])
     || {If, Addr} <- ?IFS],
    ok = run("ip link property add dev b0 altname " ++ ?ALTB0),
    %% the kernel's default queue of a datagram Unix socket (systemd sets
    %% 512), in this network namespace only: audit_flood fills it
    ok = run("sysctl -q -w net.unix.max_dgram_qlen=10"),
    %% /run/netns as a tmpfs, with one namespace, a symlink to init's and
    %% a root-only regular file in it
    NetnsCreated = case file:read_file_info("/run/netns") of
                       {ok, _} -> false;
                       {error, enoent} -> ok = file:make_dir("/run/netns"), true
                   end,
    ok = run("mount -t tmpfs -o mode=755,size=1m procket_hardening_netns /run/netns"),
    Config2 = [{netns_tmpfs, true}, {netns_created, NetnsCreated} | Config1],
    ok = run("ip netns add " ++ ?NS),
    ok = file:make_symlink("/proc/1/ns/net", "/run/netns/pkh_link"),
    ok = file:write_file("/run/netns/pkh_file", <<"root only\n">>),
    ok = file:change_mode("/run/netns/pkh_file", 8#600),
    [{setuid, Setuid}, {plain, Plain}, {fcap_ep, FcapEp}, {fcap_p, FcapP},
     {fcap_bind, FcapBind}, {driver, Driver}, {test_ebin, TestEbin},
     {ebin, filename:join(Stage, "ebin")}, {home, Home}, {world, World},
     {logs, Logs} | Config2].

end_per_suite(Config) ->
    teardown(Config).

%% Undoes what setup/3 got to, in reverse; never fails half-way.
teardown(Config) ->
    Stage = ?config(stage, Config),
    _ = file:delete(?SUDO_RULE),
    case ?config(netns_tmpfs, Config) of
        true ->
            _ = run("ip netns del " ++ ?NS),
            _ = run("umount /run/netns"),
            ?config(netns_created, Config) =:= true andalso file:del_dir("/run/netns");
        _ ->
            ok
    end,
    case ?config(etc_overlay, Config) of
        true -> ok = run("umount /etc");
        _ -> ok
    end,
    case ?config(dev_overlay, Config) of
        true -> ok = run("umount --lazy /dev");     % a process started since may hold it
        _ -> ok
    end,
    [_ = run("ip link del " ++ If) || {If, _} <- ?IFS],
    true = lists:prefix("/tmp/procket_hard.", Stage),
    _ = run("umount " ++ filename:join(Stage, "nosuid")),
    ok = file:del_dir_r(Stage),
    ok.

init_per_group(hostile, Config) ->
    Config;
init_per_group(Group, Config) ->
    {HelperOpts, DirectCmd} =
        case Group of
            devices_sudo ->
                ok = install_sudo_rule(?config(plain, Config), Config),
                Sudo = os:find_executable("sudo"),
                {[{progname, "sudo -n " ++ ?config(plain, Config)}],
                 {Sudo, ["sudo", "-n", ?config(plain, Config)]}};
            _ ->
                {[{progname, ?config(setuid, Config)}],
                 {?config(setuid, Config), ["procket"]}}
        end,
    {Peer, OsPid, ErrFile} = start_peer(Config, atom_to_list(Group), []),
    [{peer, Peer}, {peer_os_pid, OsPid}, {peer_err, ErrFile}, {group, Group},
     {helper_opts, HelperOpts}, {direct_cmd, DirectCmd} | Config].

end_per_group(hostile, _Config) ->
    ok;
end_per_group(Group, Config) ->
    catch peer:stop(?config(peer, Config)),
    Group =:= devices_sudo andalso file:delete(?SUDO_RULE),
    ok.

init_per_testcase(_Case, Config) ->
    Config.

end_per_testcase(_Case, _Config) ->
    ok = write_policy(?NO_RULES).

%% --- filecaps: the helper with file capabilities --------------------

%% A copy of the helper that is not setuid but has
%% cap_net_bind_service,cap_net_raw (+ep, as setcap is usually run, and =p,
%% as procket(8) suggests) gives a VM running as uid 65534 UDP port 53, a
%% listening TCP port 80 and a raw ICMP socket; the kernel records uid
%% 65534 as each socket's owner (created as the caller, not as root), and
%% a datagram sent to port 53 arrives in the VM.
filecaps_sockets_owned_by_caller(Config) ->
    Peer = ?config(peer, Config),
    ok = check_unprivileged(?config(peer_os_pid, Config), false),
    [begin
         {ok, #file_info{mode = Mode, uid = 0}} = file:read_file_info(H),
         8#755 = Mode band 8#7777,                  % not setuid
         ct:log("~s: ~s", [H, os:cmd("getcap " ++ H)]),
         true = string:find(os:cmd("getcap " ++ H), Caps) =/= nomatch,
         Opts = [{progname, H}],
         Rows = [{"udp", 53, [{protocol, udp}]},
                 {"tcp", 80, [{backlog, 5}]},
                 {"raw", 1, [{protocol, icmp}, {type, raw}]}],
         FDs = [begin
                    OpenPort = case Proc of "raw" -> 0; _ -> Port end,
                    {{ok, FD}, _} = {peer:call(Peer, procket_hardening_peer, try_open,
                                               [OpenPort, ExtraOpts ++ Opts], ?CALL_TIMEOUT),
                                     {H, Proc, Port}},
                    [?NOBODY] = socket_uids(Proc, Port),
                    FD
                end || {Proc, Port, ExtraOpts} <- Rows],
         [ok, ok, ok] = peer:call(Peer, procket_hardening_peer, close_all, [FDs]),
         [[] = socket_uids(Proc, Port) || {Proc, Port, _} <- Rows],
         %% and the UDP socket works
         {ok, FD53} = peer:call(Peer, procket_hardening_peer, try_open,
                                [53, [{protocol, udp} | Opts]], ?CALL_TIMEOUT),
         spawn_link(fun() -> timer:sleep(300),
                             os:cmd("echo fcaps | timeout 10 socat -u - UDP4:127.0.0.1:53")
                    end),
         {ok, {{127, 0, 0, 1}, _, <<"fcaps\n">>}} =
             peer:call(Peer, procket_hardening_peer, udp_recv, [FD53, 5000], ?CALL_TIMEOUT)
     end || {H, Caps} <- [{?config(fcap_ep, Config), "cap_net_bind_service,cap_net_raw=ep"},
                          {?config(fcap_p, Config), "cap_net_bind_service,cap_net_raw=p"}]],
    ok.

%% strace (as root, which keeps the file capabilities in force) shows what
%% the file-capability helper does with them for UDP port 53 and for a
%% raw ICMP socket: one capset keeping exactly the capability the request
%% needs, then one clearing everything, then no_new_privs; no set*id call
%% succeeds (the helper already runs as the caller; the only ones are the
%% verification's attempts to regain uid and gid 0, which fail with
%% EPERM). Skipped without strace.
filecaps_keeps_only_needed_cap(Config) ->
    case os:find_executable("strace") of
        false ->
            {skip, "strace not installed"};
        Strace ->
            H = ?config(fcap_ep, Config),
            Out = filename:join(?config(stage, Config), "strace.out"),
            [begin
                 _ = file:delete(Out),
                 {Res, Text} = driver(Config, #{strace => {Strace, Out}, hex => Req},
                                      H, ["procket"]),
                 ct:log("~s~n~p~n~s", [Text, Res, element(2, file:read_file(Out))]),
                 #{exit := ?EX_OK, reply := 0, fds := 1} = Res,
                 {ok, Trace} = file:read_file(Out),
                 Helper = [L || L <- string:lexemes(binary_to_list(Trace), "\n"),
                                string:find(L, "PR_SET_DUMPABLE") =:= nomatch],
                 Capsets = [L || L <- Helper, string:find(L, "capset(") =/= nomatch,
                                 string:find(L, "pid=0") =/= nomatch],
                 [Keep, Drop] = Capsets,
                 %% the helper's pid: the one that made those calls
                 [HPid | _] = string:lexemes(Keep, " "),
                 Own = [L || L <- Helper, lists:prefix(HPid ++ " ", L)],
                 [] = [L || L <- Own, (string:find(L, "setres") =/= nomatch orelse
                                       string:find(L, "setgroups") =/= nomatch),
                            string:find(L, "= -1 EPERM") =:= nomatch],
                 true = string:find(Keep, "{effective=" ++ Cap ++ ", permitted=" ++ Cap
                                    ++ ", inheritable=0}) = 0") =/= nomatch,
                 true = string:find(Drop, "{effective=0, permitted=0, inheritable=0}) = 0")
                     =/= nomatch,
                 true = lists:any(fun(L) -> string:find(L, "prctl(PR_SET_NO_NEW_PRIVS, 1")
                                                =/= nomatch end, Own)
             end || {Req, Cap} <- [{udp_req(53), "1<<CAP_NET_BIND_SERVICE"},
                                   {raw_icmp_req(), "1<<CAP_NET_RAW"}]],
            ok
    end.

%% What the file does not grant fails cleanly, with the policy allowing
%% tun devices: the cap_net_bind_service copy asked for a raw ICMP
%% socket, and the full copy asked for a tun device (CAP_NET_ADMIN), give
%% {error, eperm} and the generic "not privileged" line (a file with
%% capabilities, but neither no_new_privs nor nosuid). For the tun case
%% /dev/net/tun is, in this mount namespace only, a 0666 node (as on most
%% distributions), so the helper gets as far as TUNSETIFF; with the
%% real node, if it is root's only (0600), the clone device cannot even
%% be opened without privileges: {error, eacces}. The setuid helper gets
%% the same tun device, so the rule is in force; UDP port 53 still works
%% with the reduced copy. A named namespace (CAP_SYS_ADMIN, which no
%% file here has) is EPERM too, and works with the setuid helper.
filecaps_missing_capability(Config) ->
    Peer = ?config(peer, Config),
    ok = write_policy("allow user 65534 tun\n"),
    Open = fun(Port, Opts) ->
                   Mark = err_mark(Config),
                   R = peer:call(Peer, procket_hardening_peer, try_open_close,
                                 [Port, Opts], ?CALL_TIMEOUT),
                   E = err_since(Config, Mark),
                   ct:log("~p -> ~p~n~s", [Opts, R, E]),
                   {R, E}
           end,
    Tun = [{dev, tun}, {progname, ?config(fcap_ep, Config)}],
    {ok, #file_info{mode = TunMode}} = file:read_file_info("/dev/net/tun"),
    case TunMode band 8#006 of
        8#006 -> ok;
        _ -> {{error, eacces}, _} = Open(0, Tun)
    end,
    {{error, eperm}, Err1} = Open(0, [{protocol, icmp}, {type, raw},
                                      {progname, ?config(fcap_bind, Config)}]),
    Node = filename:join(?config(stage, Config), "tun0666"),
    ok = run("mknod -m 0666 " ++ Node ++ " c 10 200"),
    ok = run("mount --bind " ++ Node ++ " /dev/net/tun"),
    Err2 = try
               {ok, #file_info{mode = M}} = file:read_file_info("/dev/net/tun"),
               8#666 = M band 8#777,
               {{error, eperm}, E2} = Open(0, Tun),
               ok = element(1, Open(0, [{dev, tun}, {progname, ?config(setuid, Config)}])),
               E2
           after
               ok = run("umount /dev/net/tun")
           end,
    [true = has_line(E, ?GENERIC_LINE) andalso not has_line(E, "no_new_privs is set")
         andalso not has_line(E, "nosuid mount") || E <- [Err1, Err2]],
    {ok, _} = Open(0, [{dev, tun}, {progname, ?config(setuid, Config)}]),
    {ok, _} = Open(53, [{protocol, udp}, {progname, ?config(fcap_bind, Config)}]),
    %% entering a named namespace takes CAP_SYS_ADMIN, which no file
    %% capability here grants: the kernel's EPERM; setuid works
    ok = write_policy("allow user 65534 namespace\n"),
    {{error, eperm}, _} = Open(0, [{namespace, ?NS}, {protocol, udp},
                                   {progname, ?config(fcap_ep, Config)}]),
    {ok, _} = Open(0, [{namespace, ?NS}, {protocol, udp},
                       {progname, ?config(setuid, Config)}]),
    [] = socket_uids("udp", 53),
    ok.

%% The caller's identity comes from SO_PEERCRED on the channel: run by
%% uid 65534 with standard input connected to a socket root listens on,
%% the file-capability helper refuses (exit 68, no reply); with -u PATH
%% it connects to root's socket only after dropping, sees that root is
%% there and refuses too (exit 68).
filecaps_peer_must_be_caller(Config) ->
    with_root_listener(Config, fun(Path) ->
        H = ?config(fcap_ep, Config),
        run_table(Config, H, ["procket"],
                  [{"stdin connected to root's socket", #{stdin => "unix:" ++ Path,
                                                          hex => udp_req(53)},
                    [], #{exit => ?EX_PEER, reply => none}},
                   {"-u to root's socket", #{stdin => "null"},
                    ["-u", Path, "-p", "53", "-P", "udp"], #{exit => ?EX_PEER}}])
    end).

%% --- ignored: setuid and file capabilities that do not take effect --

%% A VM started through `setpriv --no-new-privs' (as uid 65534): the
%% setuid helper, and the file-capability one, run unprivileged. Asked
%% for UDP port 53 they answer {error, eperm} and write the no_new_privs
%% line to the VM's standard error (captured here); so does the default
%% helper with the default exec list (sudo -n cannot run under
%% no_new_privs either; the first error is kept). A request that needs
%% no privilege still works, and a helper that is not privileged at all
%% keeps the generic answer (eacces) and line.
no_new_privs_vm(Config) ->
    {Peer, OsPid, ErrFile} = start_peer(Config, "nnp", [nnp]),
    C = [{peer, Peer}, {peer_err, ErrFile} | Config],
    try
        ok = check_unprivileged(OsPid, true),
        Open = fun(Port, Opts) ->
                       Mark = err_mark(C),
                       R = peer:call(Peer, procket_hardening_peer, try_open_close,
                                     [Port, Opts], ?CALL_TIMEOUT),
                       E = err_since(C, Mark),
                       ct:log("~p -> ~p~n~s", [Opts, R, E]),
                       {R, E}
               end,
        U = [{protocol, udp}],
        [begin
             {{error, eperm}, E} = Open(53, U ++ HOpts),
             true = has_line(E, ?NNP_LINE),
             false = has_line(E, ?GENERIC_LINE)
         end || HOpts <- [[{progname, ?config(setuid, C)}],
                          [{progname, ?config(fcap_ep, C)}],
                          []]],                          % the default: priv/procket
        {ok, _} = Open(5353, U ++ [{progname, ?config(setuid, C)}]),
        {{error, eacces}, Plain} = Open(53, U ++ [{progname, ?config(plain, C)}]),
        true = has_line(Plain, ?GENERIC_LINE),
        false = has_line(Plain, "no_new_privs is set"),
        [] = socket_uids("udp", 53)
    after
        peer:stop(Peer)
    end,
    ok.

%% The same, with the helper run directly (no VM) under
%% `setpriv --no-new-privs': reply EPERM, exit 1, the one line on
%% standard error; for the setuid and the file-capability helper, over
%% the standard-input channel. Without no_new_privs the same call gets
%% its descriptor.
no_new_privs_direct(Config) ->
    [begin
         {Res, Text} = driver(Config, #{nnp => true, hex => udp_req(53)}, H, ["procket"]),
         ct:log("~s: ~p~n~s", [H, Res, Text]),
         #{exit := ?EX_REFUSED, reply := ?UNPRIVILEGED(?EPERM), fds := 0} = Res,
         [?NNP_LINE] = helper_lines(Text),
         {Res2, _} = driver(Config, #{hex => udp_req(53)}, H, ["procket"]),
         #{exit := ?EX_OK, reply := 0, fds := 1} = Res2
     end || H <- [?config(setuid, Config), ?config(fcap_ep, Config)]],
    ok.

%% The helper copied to a tmpfs mounted nosuid (setuid root, and a
%% file-capability copy): from the VM, UDP port 53 gives {error, eperm}
%% with the nosuid line; run directly, reply EPERM and exit 1. The mount
%% is removed afterwards.
nosuid_mount(Config) ->
    Peer = ?config(peer, Config),
    Dir = filename:join(?config(stage, Config), "nosuid"),
    ok = make_dir(Dir, 8#755),
    ok = run("mount -t tmpfs -o nosuid,mode=755,size=4m procket_hardening_nosuid " ++ Dir),
    try
        true = string:find(os:cmd("findmnt -no OPTIONS " ++ Dir), "nosuid") =/= nomatch,
        Setuid = filename:join(Dir, "procket"),
        Fcap = filename:join(Dir, "procket_fcap"),
        {ok, _} = file:copy(?config(plain, Config), Setuid),
        ok = file:change_owner(Setuid, 0, 0),
        ok = file:change_mode(Setuid, 8#4755),
        {ok, _} = file:copy(?config(plain, Config), Fcap),
        ok = file:change_mode(Fcap, 8#755),
        ok = run("setcap cap_net_bind_service,cap_net_raw+ep " ++ Fcap),
        [begin
             Mark = err_mark(Config),
             {error, eperm} = peer:call(Peer, procket_hardening_peer, try_open_close,
                                        [53, [{protocol, udp}, {progname, H}]],
                                        ?CALL_TIMEOUT),
             E = err_since(Config, Mark),
             ct:log("~s: ~s", [H, E]),
             true = has_line(E, ?NOSUID_LINE),
             {Res, Text} = driver(Config, #{hex => udp_req(53)}, H, ["procket"]),
             ct:log("~p~n~s", [Res, Text]),
             #{exit := ?EX_REFUSED, reply := ?UNPRIVILEGED(?EPERM), fds := 0} = Res,
             [Line] = helper_lines(Text),
             true = lists:prefix(?NOSUID_LINE, Line)
         end || H <- [Setuid, Fcap]]
    after
        ok = run("umount " ++ Dir)
    end,
    ok.

%% A helper that is neither setuid nor has capabilities (the plain copy)
%% keeps today's answer: the kernel's refusal (EACCES for a port below
%% 1024, EPERM for a raw socket), marked unprivileged, and the generic
%% line, exit 1.
not_privileged_generic(Config) ->
    Plain = ?config(plain, Config),
    [begin
         {Res, Text} = driver(Config, #{hex => Req}, Plain, ["procket"]),
         ct:log("~p~n~s", [Res, Text]),
         Word = ?UNPRIVILEGED(Errno),
         #{exit := ?EX_REFUSED, reply := Word, fds := 0} = Res,
         [Line] = helper_lines(Text),
         true = lists:prefix(?GENERIC_LINE, Line)
     end || {Req, Errno} <- [{udp_req(53), ?EACCES}, {raw_icmp_req(), ?EPERM}]],
    {error, eacces} = peer:call(?config(peer, Config), procket_hardening_peer,
                                try_open_close, [80, [{progname, Plain}]], ?CALL_TIMEOUT),
    ok.

%% --- hostile: what a local user controls ----------------------------

%% Command lines, run directly as uid 65534 against the setuid helper
%% (standard input /dev/null): out-of-range and malformed numbers,
%% over-long values (100 KiB, a 4096-byte interface name), unknown and
%% repeated flags, 10,000 flags. Each row's exit status is asserted (64:
%% usage, unless noted); none is a signal; nothing the helper prints is
%% longer than one say() line, so no value is echoed back.
hostile_argv(Config) ->
    P = "/tmp/procket_hard_nobody_listens.sock",
    K100 = lists:duplicate(100 * 1024, $a),
    U = fun(Args) -> ["-u", P | Args] end,
    Usage = #{exit => ?EX_USAGE},
    Rows =
        [%% numbers
         {"-p 99999999999999999999", U(["-p", "99999999999999999999"]), Usage},
         {"-p -1", U(["-p", "-1"]), Usage},
         {"-p 65536", U(["-p", "65536"]), Usage},
         {"-p empty", U(["-p", ""]), Usage},
         {"-p 0x35", U(["-p", "0x35"]), Usage},
         {"-p ' 53'", U(["-p", " 53"]), Usage},
         {"-p 53junk", U(["-p", "53junk"]), Usage},
         {"-b 1e9", U(["-b", "1e9", "-p", "80"]), Usage},
         {"-b 65536", U(["-b", "65536", "-p", "80"]), Usage},
         {"-b -1", U(["-b", "-1", "-p", "80"]), Usage},
         {"-P 256", U(["-P", "256"]), Usage},
         {"-P 99999999999", U(["-P", "99999999999"]), Usage},
         {"-F 99", U(["-F", "99"]), Usage},
         {"-T 999", U(["-T", "999"]), Usage},
         %% over-long strings
         {"-u of 100 KiB", ["-u", "/" ++ K100], Usage},
         {"-u of 108 bytes", ["-u", "/" ++ lists:duplicate(107, $a)], Usage},
         {"-u relative", ["-u", "x.sock"], Usage},
         {"-I of 4096 bytes", U(["-I", lists:duplicate(4096, $e)]), Usage},
         {"-I of 100 KiB", U(["-I", K100]), Usage},
         {"-I of 16 bytes", U(["-I", lists:duplicate(16, $e)]), Usage},
         {"-N of 100 KiB", U(["-N", K100]), Usage},
         {"-N of 256 bytes", U(["-N", lists:duplicate(256, $n)]), Usage},
         {"-P of 100 KiB", U(["-P", K100]), Usage},
         {"address of 100 KiB", U([K100]), Usage},
         {"-D of 100 KiB", U(["-D", K100]), Usage},
         %% unknown, odd and repeated flags
         {"-x", U(["-x"]), Usage},
         {"--port=53", U(["--port=53"]), Usage},
         {"-pp 53", U(["-pp", "53"]), Usage},
         {"--", U(["--"]), Usage},
         {"-", U(["-"]), Usage},
         {"empty argument", U([""]), Usage},
         {"-p twice", U(["-p", "1", "-p", "2"]), Usage},
         {"-u twice", U(["-u", P]), Usage},
         {"-d twice", U(["-d", "-d", "::1"]), Usage},
         {"10,000 x -d", U(lists:duplicate(10000, "-d")), Usage},
         {"two addresses", U(["127.0.0.1", "127.0.0.2"]), Usage},
         {"-u without a value", ["-u"], Usage},
         {"-p without a value", U(["-p"]), Usage},
         {"-h then -x", ["-h", "-x"], Usage},
         {"-h twice", ["-h", "-h"], Usage},
         {"request options without -u", ["-p", "53", "-P", "udp"], Usage},
         {"-D tun with a port", U(["-D", "tun", "-p", "53"]), Usage},
         %% valid command lines, for contrast
         {"-h", ["-h"], #{exit => ?EX_OK}},
         {"--version", ["--version"], #{exit => ?EX_OK}},
         {"valid, nobody listening at -u PATH", U(["-p", "53", "-P", "udp"]),
          #{exit => ?EX_CHANNEL}}],
    %% the setuid helper, or in a devices group that group's install
    {Cmd, Argv} = case ?config(direct_cmd, Config) of
                      undefined -> {?config(setuid, Config), ["procket"]};
                      Direct -> Direct
                  end,
    run_table(Config, Cmd, Argv, [{L, #{stdin => "null"}, A, E} || {L, A, E} <- Rows]).

%% Standard input, run directly as uid 65534 against the setuid helper
%% with no arguments: closed, /dev/null, a regular file holding a valid
%% request, a TCP connection to 127.0.0.1, a pipe of garbage (and of
%% 1 MiB), and on a real socketpair channel: 1 MiB of garbage (in 4 KiB
%% and in 512-byte records), malformed headers and fields, a request with
%% a descriptor attached, an empty record, nothing at all (closed at once,
%% and silent until the helper's 5 s), and argc 0. Exit status and reply
%% asserted per row; never a signal, and no helper left running.
hostile_stdin(Config) ->
    Stage = ?config(stage, Config),
    ReqFile = filename:join(Stage, "request.bin"),
    ok = file:write_file(ReqFile, udp_req(53)),
    ok = file:change_mode(ReqFile, 8#644),
    {ok, L} = gen_tcp:listen(0, [{ip, {127, 0, 0, 1}}, {active, false}, {reuseaddr, true}]),
    {ok, TcpPort} = inet:port(L),
    Acceptor = spawn_link(fun() -> accept_loop(L, []) end),
    Chan = ?EX_CHANNEL,
    Bad = #{exit => ?EX_REQUEST, reply => ?EPROTO, fds => 0},
    Udp = udp_req(53),
    Rows =
        [{"stdin closed", #{stdin => "closed"}, #{exit => Chan}},
         {"stdin /dev/null", #{stdin => "null"}, #{exit => Chan}},
         {"stdin a regular file (a valid request)", #{stdin => "file:" ++ ReqFile},
          #{exit => Chan}},
         {"stdin a TCP socket to 127.0.0.1",
          #{stdin => "tcp:" ++ integer_to_list(TcpPort)}, #{exit => Chan}},
         {"stdin a pipe of garbage", #{stdin => "pipe", garbage => 4096}, #{exit => Chan}},
         {"stdin a pipe of 1 MiB of garbage", #{stdin => "pipe", garbage => 1 bsl 20},
          #{exit => Chan}},
         {"stdin a pipe holding a valid request", #{stdin => "pipe", hex => Udp},
          #{exit => Chan}},
         {"channel: 1 MiB of garbage, 4 KiB records", #{garbage => 1 bsl 20}, Bad},
         {"channel: 1 MiB of garbage, 512-byte records",
          #{garbage => 1 bsl 20, record => 512}, Bad},
         {"channel: 511 bytes of garbage", #{garbage => 511}, Bad},
         {"channel: 3 bytes", #{hex => <<"PK", 1>>}, Bad},
         {"channel: header only", #{hex => wire(1, 1, [])}, Bad},
         {"channel: length says 512, 8 sent", #{hex => <<"PK", 1, 1, 512:16, 0:16>>}, Bad},
         {"channel: version 2", #{hex => wire(2, 1, udp_fields(53))}, Bad},
         {"channel: kind reply", #{hex => wire(1, 2, udp_fields(53))}, Bad},
         {"channel: reserved bytes set", #{hex => set_reserved(Udp)}, Bad},
         {"channel: unknown tag 99", #{hex => req(udp_fields(53) ++ [{99, <<0:32>>}])}, Bad},
         {"channel: tag repeated", #{hex => req(udp_fields(53) ++ [{4, <<80:16>>}])}, Bad},
         {"channel: port of 4 bytes",
          #{hex => req(lists:keyreplace(4, 1, udp_fields(53), {4, <<53:32>>}))}, Bad},
         {"channel: field longer than the message",
          #{hex => <<"PK", 1, 1, 16:16, 0:16, 1:16, 200:16, 2:32>>}, Bad},
         {"channel: valid request with a descriptor attached",
          #{hex => Udp, with_fd => true}, Bad},
         {"channel: an empty record", #{hex => <<>>}, #{exit => Chan, reply => none}},
         {"channel: closed without a request", #{close => true},
          #{exit => Chan, reply => none}},
         {"channel: silent (the helper waits 5 s)", #{}, #{exit => Chan, reply => none}},
         {"channel: valid request (control)", #{hex => Udp},
          #{exit => ?EX_OK, reply => 0, fds => 1}}],
    try
        case ?config(direct_cmd, Config) of
            undefined ->
                run_table(Config, ?config(setuid, Config), ["procket"],
                          [{Label, D, [], E} || {Label, D, E} <- Rows]),
                %% argc 0: the kernel (5.18 and later) supplies an empty
                %% argv[0]; the helper then reads its channel as usual
                run_table(Config, ?config(setuid, Config), [],
                          [{"argc 0, valid request", #{hex => Udp},
                            [], #{exit => ?EX_OK, reply => 0, fds => 1}},
                           {"argc 0, garbage", #{garbage => 4096}, [], Bad}]);
            {Cmd, Argv} ->
                %% a devices group: the same table through its install
                run_table(Config, Cmd, Argv, [{Label, D, [], E} || {Label, D, E} <- Rows])
        end
    after
        unlink(Acceptor),
        exit(Acceptor, kill),
        gen_tcp:close(L)
    end,
    [] = helpers_running(Config),
    ok.

%% --- devices: root-only character devices, paths, namespaces -------

%% From the VM (uid 65534), with the helper installed setuid root or run
%% through sudo -n: /dev/kvm, ../dev/tty1, /dev/console, /dev/fuse,
%% /dev/tty1 and a symlink to /dev/tty1 that uid 65534 made in a
%% world-writable directory are all {error, eacces}; the VM holds no
%% descriptor to any of them afterwards (no descriptor at all more than
%% before), and nothing was opened on the root side either: /dev/tty1 and
%% /dev/console keep their owner and mode. procket refuses such a `dev'
%% before running the helper; device_paths_direct shows the helper
%% refuses them too.
device_paths(Config) ->
    Peer = ?config(peer, Config),
    Link = filename:join(?config(world, Config),
                         "tty-" ++ atom_to_list(?config(group, Config))),
    _ = file:delete(Link),
    ok = peer:call(Peer, file, make_symlink, ["/dev/tty1", Link]),
    {ok, #file_info{uid = ?NOBODY}} = file:read_link_info(Link),
    Before = peer:call(Peer, procket_hardening_peer, fd_targets, []),
    Stat = [file:read_file_info(D) || D <- ["/dev/tty1", "/dev/console"]],
    H = ?config(helper_opts, Config),
    Rows = [{"kvm", {0, [{dev, "kvm"} | H]}, {error, eacces}},
            {"/dev/kvm", {0, [{dev, "/dev/kvm"} | H]}, {error, eacces}},
            {"../dev/tty1", {0, [{dev, "../dev/tty1"} | H]}, {error, eacces}},
            {"/dev/tty1", {0, [{dev, "/dev/tty1"} | H]}, {error, eacces}},
            {"/dev/console", {0, [{dev, "/dev/console"} | H]}, {error, eacces}},
            {"fuse", {0, [{dev, "fuse"} | H]}, {error, eacces}},
            {"/dev/fuse (binary)", {0, [{dev, <<"/dev/fuse">>} | H]}, {error, eacces}},
            {"symlink to /dev/tty1", {0, [{dev, Link} | H]}, {error, eacces}},
            {"tun named ../tty1", {0, [{dev, {tun, "../tty1"}} | H]}, badarg},
            {"tun named /dev/tty1", {0, [{dev, {tun, "/dev/tty1"}} | H]}, badarg}],
    run_rows(Config, Rows),
    Before = peer:call(Peer, procket_hardening_peer, fd_targets, []),
    [] = [T || T <- Before, lists:prefix("/dev/tty", T) orelse
                                lists:prefix("/dev/console", T) orelse
                                lists:prefix("/dev/fuse", T) orelse
                                lists:prefix("/dev/kvm", T)],
    Stat = [file:read_file_info(D) || D <- ["/dev/tty1", "/dev/console"]],
    ok = file:delete(Link).

%% The one device the helper opens with privileges, /dev/net/tun, has its
%% type and number checked before the open: with a regular file or
%% another character device (c 1 3, /dev/null's) in its place (a bind
%% mount in this mount namespace), a tun request fails with enodev, though
%% either would have opened; with the real node back, it works.
tun_node_checked(Config) ->
    ok = write_policy("allow user 65534 tun\n"),
    H = ?config(helper_opts, Config),
    Stage = ?config(stage, Config),
    File = filename:join(Stage, "fake-tun-file"),
    Null = filename:join(Stage, "fake-tun-null"),
    ok = file:write_file(File, <<>>),
    ok = file:change_mode(File, 8#666),
    _ = file:delete(Null),
    ok = run("mknod -m 0666 " ++ Null ++ " c 1 3"),
    [begin
         ok = run("mount --bind " ++ Fake ++ " /dev/net/tun"),
         try
             run_rows(Config, [{"tun over " ++ filename:basename(Fake),
                                {0, [{dev, tun} | H]}, {error, enodev}},
                               {"tun clone over " ++ filename:basename(Fake),
                                {0, [{dev, "net/tun"} | H]}, {error, enodev}}])
         after
             ok = run("umount /dev/net/tun")
         end
     end || Fake <- [File, Null]],
    run_rows(Config, [{"tun, the real node", {0, [{dev, tun} | H]}, ok},
                      {"tun clone, the real node", {0, [{dev, "net/tun"} | H]}, ok}]),
    ok = file:delete(File),
    ok = file:delete(Null).

%% The helper itself, run directly as uid 65534 (setuid, or sudo -n):
%% a device named by path or symlink on the command line is a usage error
%% (64), and so is an interface name with a path in it; over the channel
%% an unknown device kind, or a device name with a slash, is a malformed
%% request (65, EINVAL). Only tun, tap and the tun clone exist for the
%% helper, and the clone takes no name and no flag.
device_paths_direct(Config) ->
    {Cmd, Argv} = ?config(direct_cmd, Config),
    Link = filename:join(?config(world, Config), "tty-direct"),
    _ = file:delete(Link),
    ok = file:make_symlink("/dev/tty1", Link),
    P = "/tmp/procket_hard_nobody_listens.sock",
    Usage = #{exit => ?EX_USAGE},
    Inval = #{exit => ?EX_REQUEST, reply => ?EINVAL, fds => 0},
    Cli = [{"-D " ++ D, #{stdin => "null"}, ["-u", P, "-D", D], Usage}
           || D <- ["kvm", "/dev/kvm", "../dev/tty1", "/dev/tty1", "/dev/console",
                    "fuse", "/dev/fuse", Link]]
        ++ [{"-D tun -I ../dev/tty1", #{stdin => "null"},
             ["-u", P, "-D", "tun", "-I", "../dev/tty1"], Usage},
            {"-D tun -I a/..", #{stdin => "null"}, ["-u", P, "-D", "tun", "-I", "a/.."],
             Usage}],
    Dev = fun(Kind, Extra) ->
                  req([{1, <<0:32>>}, {2, <<0:32>>}, {3, <<0:32>>}, {4, <<0:16>>},
                       {11, <<Kind:32>>} | Extra])
          end,
    Wire = [{"device kind 4", #{hex => Dev(4, [])}, [], Inval},
            {"tun clone named tun0", #{hex => Dev(3, [{7, <<"tun0">>}])}, [], Inval},
            {"tun clone with packet info", #{hex => Dev(3, [{9, <<2:32>>}])}, [], Inval},
            {"device kind 2^32-1", #{hex => Dev(16#ffffffff, [])}, [], Inval},
            {"tun named ../tty1", #{hex => Dev(1, [{7, <<"../tty1">>}])}, [], Inval},
            {"tun named tty/1", #{hex => Dev(1, [{7, <<"tty/1">>}])}, [], Inval}],
    try
        run_table(Config, Cmd, Argv, Cli ++ Wire)
    after
        file:delete(Link)
    end.

%% Namespace names that are paths: from the VM, badarg; on the helper's
%% command line, 64; over the channel, a malformed request (65, EINVAL).
%% With a rule for uid 65534, a real namespace works while a symlink to
%% /proc/1/ns/net and a root-only regular file in /run/netns are just
%% "no such namespace" (enoent), like a name that does not exist: the
%% helper follows no link and opens nothing but a namespace.
namespace_paths(Config) ->
    {Cmd, Argv} = ?config(direct_cmd, Config),
    H = ?config(helper_opts, Config),
    U = [{protocol, udp}],
    run_rows(Config,
             [{"namespace /proc/1/ns/net", {0, [{namespace, "/proc/1/ns/net"} | U ++ H]}, badarg},
              {"namespace ../../proc/1/ns/net",
               {0, [{namespace, "../../proc/1/ns/net"} | U ++ H]}, badarg},
              {"namespace ..", {0, [{namespace, ".."} | U ++ H]}, badarg},
              {"namespace of 256 bytes",
               {0, [{namespace, lists:duplicate(256, $n)} | U ++ H]}, badarg}]),
    P = "/tmp/procket_hard_nobody_listens.sock",
    Inval = #{exit => ?EX_REQUEST, reply => ?EINVAL, fds => 0},
    run_table(Config, Cmd, Argv,
              [{"-N " ++ N, #{stdin => "null"}, ["-u", P, "-p", "0", "-P", "udp", "-N", N],
                #{exit => ?EX_USAGE}}
               || N <- ["/proc/1/ns/net", "../../proc/1/ns/net", "..", "."]]
              ++ [{"netns " ++ N, #{hex => netns_req(list_to_binary(N))}, [], Inval}
                  || N <- ["/proc/1/ns/net", "../../proc/1/ns/net", "..", ".", "a/b"]]),
    ok = write_policy("allow user 65534 namespace\n"),
    run_rows(Config,
             [{"rule: namespace " ++ ?NS, {0, [{namespace, ?NS} | U ++ H]}, ok},
              {"rule: namespace that does not exist",
               {0, [{namespace, ?NO_NS} | U ++ H]}, {error, enoent}},
              {"rule: symlink to /proc/1/ns/net", {0, [{namespace, "pkh_link"} | U ++ H]},
               {error, enoent}},
              {"rule: root-only regular file", {0, [{namespace, "pkh_file"} | U ++ H]},
               {error, enoent}}]),
    run_table(Config, Cmd, Argv,
              [{"rule: netns " ++ N, #{hex => netns_req(list_to_binary(N))}, [],
                #{exit => Exit, reply => Errno}}
               || {N, Exit, Errno} <- [{?NS, ?EX_OK, 0}, {?NO_NS, ?EX_REFUSED, ?ENOENT},
                                       {"pkh_link", ?EX_REFUSED, ?ENOENT},
                                       {"pkh_file", ?EX_REFUSED, ?ENOENT}]]).

%% No existence oracle: without a rule for the caller (procket.conf has
%% none), a namespace that exists (made with `ip netns add') and one
%% that does not give exactly the same answer, {error, eacces}, from the
%% VM; run directly, the same exit status, reply and standard error.
namespace_no_oracle(Config) ->
    ?NO_RULES = read_policy(),
    true = filelib:is_file("/run/netns/" ++ ?NS),
    false = filelib:is_file("/run/netns/" ++ ?NO_NS),
    Peer = ?config(peer, Config),
    Opts = fun(N) -> [{namespace, N}, {protocol, udp} | ?config(helper_opts, Config)] end,
    [Exists, Missing] = [peer:call(Peer, procket_hardening_peer, try_open_close,
                                   [0, Opts(N)], ?CALL_TIMEOUT) || N <- [?NS, ?NO_NS]],
    ct:log("exists: ~p, missing: ~p", [Exists, Missing]),
    {{error, eacces}, {error, eacces}} = {Exists, Missing},
    {Cmd, Argv} = ?config(direct_cmd, Config),
    [{R1, T1}, {R2, T2}] = [driver(Config, #{hex => netns_req(list_to_binary(N))}, Cmd, Argv)
                            || N <- [?NS, ?NO_NS]],
    ct:log("exists: ~p~n~s~nmissing: ~p~n~s", [R1, T1, R2, T2]),
    #{exit := ?EX_REFUSED, reply := ?EACCES, fds := 0} = R1,
    true = maps:remove(lived_ms, R1) =:= maps:remove(lived_ms, R2),
    true = helper_lines(T1) =:= helper_lines(T2),
    ok.

%% Which groups a group rule sees over the path transport ({pipe, Path},
%% the helper's -u): the group file gains a group 4243 with nobody as a
%% member, and a rule denies it UDP. Setuid, the helper has the VM's own
%% groups from the kernel (none: the VM runs with --clear-groups), so the
%% rule does not apply; under sudo no process of the caller's can be
%% asked, and the helper takes the user's groups from the group file, so
%% it does. Over the channel (no pipe) both see the kernel's groups.
path_transport_groups(Config) ->
    Peer = ?config(peer, Config),
    {ok, Group} = file:read_file("/etc/group"),
    Pipe = filename:join(?config(home, Config), "groups.sock"),
    Opts = [{protocol, udp} | ?config(helper_opts, Config)],
    try
        ok = file:write_file("/etc/group", [Group, "pkh_grp:x:4243:nobody\n"]),
        ok = write_policy("deny group 4243 udp\n"),
        "4243" = string:trim(os:cmd("getent group pkh_grp | cut -d: -f3")),
        Channel = peer:call(Peer, procket_hardening_peer, try_open_close,
                            [0, Opts], ?CALL_TIMEOUT),
        Path = peer:call(Peer, procket_hardening_peer, try_open_close,
                         [0, [{pipe, Pipe} | Opts]], ?CALL_TIMEOUT),
        ct:log("~p: channel ~p, path ~p", [?config(group, Config), Channel, Path]),
        Expected = case ?config(group, Config) of
                       devices_sudo -> {ok, {error, eacces}};
                       _ -> {ok, ok}
                   end,
        Expected = {Channel, Path}
    after
        ok = file:write_file("/etc/group", Group)
    end.

%% --- what an independent audit found ----------------------------------

%% A request for an IPv4-mapped address (::ffff:127.0.0.1, dual stack)
%% is an IPv4 request for every rule: `address=::/0' and `::/64' (every
%% IPv6 address) do not grant it, port 600 stays refused; a rule naming
%% 127.0.0.1, or ::ffff:0:0/96, does grant it, and ::/0 still grants ::1.
mapped_address_rules(Config) ->
    H = ?config(helper_opts, Config),
    Mapped = {0, 0, 0, 0, 0, 16#ffff, 16#7f00, 1},
    Ask = fun(Ip) -> {600, [{protocol, udp}, {ip, Ip}, {ipv6_v6only, false} | H]} end,
    [begin
         ok = write_policy("allow user 65534 udp port=600 address=" ++ Rule ++ "\n"),
         run_rows(Config, [{Rule ++ ": " ++ Label, Ask(Ip), Want}
                           || {Label, Ip, Want} <- Rows])
     end || {Rule, Rows} <- [{"::/0", [{"mapped", Mapped, {error, eacces}},
                                      {"::1", {0, 0, 0, 0, 0, 0, 0, 1}, ok}]},
                             {"::/64", [{"mapped", Mapped, {error, eacces}}]},
                             {"127.0.0.1", [{"mapped", Mapped, ok}]},
                             {"::ffff:0:0/96", [{"mapped", Mapped, ok}]}]],
    ok.

%% A link-local address's scope id binds the socket to its interface, over
%% any SO_BINDTODEVICE made before. With UDP and TCP port 601 granted on
%% a0 only, and raw ICMPv6 denied on b0: a request naming a0 but with
%% fe80::b0 and b0's scope id is refused (einval) instead of ending up
%% bound to b0; without a name, the scope id's interface is the one the
%% policy sees (b0: refused; a0: granted, and the socket is bound to a0).
scope_id_interface(Config) ->
    {Cmd, Argv} = ?config(direct_cmd, Config),
    ok = write_policy("deny user 65534 icmp interface=b0\n"
                      "allow user 65534 udp tcp port=601 interface=a0\n"),
    A0 = ifindex("a0"),
    B0 = ifindex("b0"),
    Udp = {2, 17, 601},
    Tcp = {1, 6, 601},
    Icmp6 = {3, 58, 0},
    Granted = fun(If) -> #{exit => ?EX_OK, reply => 0, fds => 1, bound => If} end,
    Refused = fun(E) -> #{exit => ?EX_REFUSED, reply => E, fds => 0} end,
    Rows = [{"udp a0, fe80::b0 scope b0", Udp, "a0", "fe80::b0", B0, Refused(?EINVAL)},
            {"tcp a0, fe80::b0 scope b0", Tcp, "a0", "fe80::b0", B0, Refused(?EINVAL)},
            {"icmp6 a0, fe80::b0 scope b0", Icmp6, "a0", "fe80::b0", B0, Refused(?EINVAL)},
            {"udp, fe80::b0 scope b0", Udp, "", "fe80::b0", B0, Refused(?EACCES)},
            {"icmp6, fe80::b0 scope b0", Icmp6, "", "fe80::b0", B0, Refused(?EACCES)},
            {"udp, fe80::a0 scope a0", Udp, "", "fe80::a0", A0, Granted("a0")},
            {"udp a0, fe80::a0 scope a0", Udp, "a0", "fe80::a0", A0, Granted("a0")},
            {"udp a0, fe80::a0", Udp, "a0", "fe80::a0", 0, Granted("a0")},
            {"icmp6, fe80::a0 scope a0", Icmp6, "", "fe80::a0", A0, Granted("a0")}],
    run_table(Config, Cmd, Argv,
              [{Label, #{hex => inet6_req(TPP, If, Addr, Scope)}, [], Want}
               || {Label, TPP, If, Addr, Scope, Want} <- Rows]).

%% An interface's altname is that interface: a deny rule for b0 holds for
%% requests naming ALTB0 (UDP, packet and raw sockets), which before were
%% granted and bound to b0; a0 is still granted; an allow rule naming
%% ALTB0 grants b0.
altname_interface(Config) ->
    H = ?config(helper_opts, Config),
    ok = write_policy("deny user 65534 udp port=602 interface=b0\n"
                      "allow user 65534 udp port=602\n"
                      "deny user 65534 packet interface=b0\n"
                      "allow user 65534 packet\n"
                      "deny user 65534 raw interface=b0\n"
                      "allow user 65534 raw\n"),
    Udp = fun(If) -> {602, [{protocol, udp}, {interface, If} | H]} end,
    Packet = fun(If) -> {0, [{family, packet}, {interface, If} | H]} end,
    Raw = fun(If) -> {0, [{type, raw}, {protocol, 253}, {interface, If} | H]} end,
    run_rows(Config, [{"udp ALTB0", Udp(?ALTB0), {error, eacces}},
                      {"udp b0", Udp("b0"), {error, eacces}},
                      {"udp a0", Udp("a0"), ok},
                      {"packet ALTB0", Packet(?ALTB0), {error, eacces}},
                      {"packet a0", Packet("a0"), ok},
                      {"raw ALTB0", Raw(?ALTB0), {error, eacces}},
                      {"raw a0", Raw("a0"), ok}]),
    ok = write_policy("allow user 65534 packet interface=" ?ALTB0 "\n"),
    run_rows(Config, [{"allowed as ALTB0: packet b0", Packet("b0"), ok},
                      {"allowed as ALTB0: packet ALTB0", Packet(?ALTB0), ok},
                      {"allowed as ALTB0: packet a0", Packet("a0"), {error, eacces}}]).

%% A tun name with '%' is a template the kernel fills in (wg%d: wg0), so
%% a `device=wg0' deny rule could not hold: refused everywhere, from the
%% VM (badarg), on the command line (64) and on the channel (65, einval).
tun_template_names(Config) ->
    {Cmd, Argv} = ?config(direct_cmd, Config),
    H = ?config(helper_opts, Config),
    ok = write_policy("deny user 65534 tun device=wg0\nallow user 65534 tun\n"),
    run_rows(Config, [{"tun wg%d", {0, [{dev, {tun, "wg%d"}} | H]}, badarg},
                      {"tap %d", {0, [{dev, {tap, "%d"}} | H]}, badarg},
                      {"tun wg0 (denied)", {0, [{dev, {tun, "wg0"}} | H]}, {error, eacces}}]),
    P = "/tmp/procket_hard_nobody_listens.sock",
    Tun = fun(Name) -> req([{1, <<0:32>>}, {2, <<0:32>>}, {3, <<0:32>>}, {4, <<0:16>>},
                            {7, Name}, {11, <<1:32>>}]) end,
    Clone = req([{1, <<0:32>>}, {2, <<0:32>>}, {3, <<0:32>>}, {4, <<0:16>>}, {11, <<3:32>>}]),
    run_table(Config, Cmd, Argv,
              [{"-D tun -I wg%d", #{stdin => "null"}, ["-u", P, "-D", "tun", "-I", "wg%d"],
                #{exit => ?EX_USAGE}},
               {"channel: tun wg%d", #{hex => Tun(<<"wg%d">>)}, [],
                #{exit => ?EX_REQUEST, reply => ?EINVAL, fds => 0}},
               %% the tun clone can become wg0 (a persistent one without an
               %% owner): a deny rule naming a device denies it
               {"channel: tun clone, wg0 denied", #{hex => Clone}, [],
                #{exit => ?EX_REFUSED, reply => ?EACCES, fds => 0}}]),
    ok = write_policy("allow user 65534 tun device=wg0\n"),
    run_table(Config, Cmd, Argv,
              [{"channel: tun clone, only wg0 allowed", #{hex => Clone}, [],
                #{exit => ?EX_REFUSED, reply => ?EACCES, fds => 0}}]),
    %% ... or a tap device: a tap deny rule denies it too
    ok = write_policy("deny user 65534 tap device=tap9\nallow user 65534 tun\n"),
    run_table(Config, Cmd, Argv,
              [{"channel: tun clone, tap9 denied", #{hex => Clone}, [],
                #{exit => ?EX_REFUSED, reply => ?EACCES, fds => 0}}]),
    ok = write_policy("allow user 65534 tun\n"),
    run_table(Config, Cmd, Argv,
              [{"channel: tun clone, tun allowed", #{hex => Clone}, [],
                #{exit => ?EX_OK, reply => 0, fds => 1}}]),
    true = string:find(os:cmd("ip link show 2>&1"), "wg0") =:= nomatch,
    ok.

%% The channel's peer must be the invoking user in every mode: run by uid
%% 65534 with standard input connected to a socket root listens on, the
%% helper refuses (exit 68, no reply), setuid and under sudo (where it
%% used to decide as root).
peer_must_be_caller(Config) ->
    {Cmd, Argv} = ?config(direct_cmd, Config),
    with_root_listener(Config, fun(Path) ->
        run_table(Config, Cmd, Argv,
                  [{"stdin connected to root's socket",
                    #{stdin => "unix:" ++ Path, hex => udp_req(53)}, [],
                    #{exit => ?EX_PEER, reply => none}}])
    end).

%% The caller cannot stop a privileged helper: setuid, its real uid is
%% root until it becomes the caller (as under sudo), so SIGSTOP from uid
%% 65534 is EPERM, and the helper, waiting for a request that never
%% comes, ends by its read timeout (exit 66) after 5 s.
stopped_helper(Config) ->
    {Cmd, Argv} = ?config(direct_cmd, Config),
    Child = ?config(group, Config) =:= devices_sudo,    % sudo's child is the helper
    {Res, Text} = driver(Config, #{stop_ms => 300, stop_child => Child}, Cmd, Argv),
    ct:log("~p~n~s", [Res, Text]),
    #{exit := ?EX_CHANNEL, stop := ?EPERM, lived_ms := Lived} = Res,
    true = Lived < 15000,
    [] = helpers_running(Config),
    ok.

%% A file-capability helper runs as the caller, who may signal it: stopped
%% with SIGSTOP and never continued, it still ends by its watchdog, a
%% SIGKILL timer, 30 s after it started (SIGALRM would wait for a
%% SIGCONT forever).
filecaps_stopped_helper(Config) ->
    {Res, Text} = driver(Config, #{stop_ms => 300}, ?config(fcap_ep, Config), ["procket"]),
    ct:log("~p~n~s", [Res, Text]),
    #{signal := 9, stop := ok, lived_ms := Lived} = Res,
    true = Lived >= 29000 andalso Lived < 40000,
    [] = helpers_running(Config),
    ok.

%% A policy file cut short while being written in place (its last line
%% lacks the newline) is refused as a whole, with a line that says why:
%% the part that is there may lack a later deny rule.
truncated_policy(Config) ->
    Peer = ?config(peer, Config),
    Open = [{protocol, udp} | ?config(helper_opts, Config)],
    ok = write_policy("allow user 65534 udp port=600\n"),
    ok = peer:call(Peer, procket_hardening_peer, try_open_close, [600, Open], ?CALL_TIMEOUT),
    ok = write_policy("allow user 65534 udp port=600\ndeny user 65534 udp port=2000-3000"),
    Mark = err_mark(Config),
    {error, eacces} = peer:call(Peer, procket_hardening_peer, try_open_close, [600, Open],
                                ?CALL_TIMEOUT),
    {error, eacces} = peer:call(Peer, procket_hardening_peer, try_open_close, [2053, Open],
                                ?CALL_TIMEOUT),
    E = err_since(Config, Mark),
    ct:log("~s", [E]),
    true = has_line(E, "procket: policy: " ?POLICY ": the last line has no newline"),
    ok.

%% No grant without its audit line, whatever RLIMIT_NOFILE the caller
%% leaves the helper (soft and hard, 3 to 8 and 16): the log socket is
%% made before anything is opened, so a descriptor comes back only with
%% its "granted" line, and where there is no room for both, the request
%% fails (emfile) before anything is opened. Through this group's install
%% and, in the setuid group, the file-capability copy, which can never
%% raise the limit.
audit_nofile(Config) ->
    {Cmd, Argv} = ?config(direct_cmd, Config),
    Installs = [{Cmd, Argv} | [{?config(fcap_ep, Config), ["procket"]}
                               || ?config(group, Config) =:= devices_setuid]],
    with_log(fun(Log) ->
        Rows = [begin
                    Before = length(procket_test_log:lines(Log)),
                    {Res, _} = driver(Config, #{hex => udp_req(0), nofile => N}, C, A),
                    timer:sleep(50),
                    New = lists:nthtail(Before, procket_test_log:lines(Log)),
                    Granted = [L || {86, "granted " ++ _ = L} <- New],
                    ct:log("~s nofile ~b: ~p~n~p", [C, N, Res, New]),
                    {C, N, Res, length(Granted)}
                end || {C, A} <- Installs, N <- [3, 4, 5, 6, 8, 16]],
        Bad = [R || {_, _, Res, G} = R <- Rows,
                    not (case Res of
                             #{exit := ?EX_OK, fds := 1} -> G =:= 1;
                             #{fds := 0} -> G =:= 0;
                             _ -> false
                         end)],
        [] = Bad,
        %% a limit of 4 leaves room for the log socket only
        Sudo = os:find_executable("sudo"),
        [#{exit := ?EX_REFUSED, reply := ?EMFILE} = Res || {C, 4, Res, _} <- Rows, C =/= Sudo],
        %% and 16 for all of it
        [#{exit := ?EX_OK, fds := 1} = Res || {_, 16, Res, _} <- Rows],
        ok
    end).

%% A flood of grants: 200 at once from the VM, all granted, and 200
%% "granted" lines (the helper waits for room in the log socket's queue,
%% which holds net.unix.max_dgram_qlen datagrams, set to 10 in this
%% network namespace). With the reader stopped for 3 s, 40 at once: every
%% request that got a descriptor has its line, and those that found no
%% room for their line in 1 s got eagain (setuid; under sudo, sudo's own
%% syslog() blocks until the reader is back).
audit_flood(Config) ->
    Peer = ?config(peer, Config),
    Opts = [{protocol, udp} | ?config(helper_opts, Config)],
    with_log(fun(Log) ->
        Results = peer:call(Peer, procket_hardening_peer, open_many, [200, 0, Opts],
                            ?CALL_TIMEOUT * 4),
        timer:sleep(200),
        Granted = [L || {86, "granted " ++ _ = L} <- procket_test_log:lines(Log)],
        ct:log("200 at once: ~p ok, ~p lines",
               [length([ok || ok <- Results]), length(Granted)]),
        {200, 200} = {length([ok || ok <- Results]), length(Granted)},
        ok = procket_test_log:pause(Log),
        Self = self(),
        spawn_link(fun() -> timer:sleep(3000), ok = procket_test_log:resume(Log),
                            Self ! resumed end),
        Paused = peer:call(Peer, procket_hardening_peer, open_many, [40, 0, Opts],
                           ?CALL_TIMEOUT * 4),
        receive resumed -> ok end,
        timer:sleep(500),
        Lines = lists:nthtail(length(Granted), procket_test_log:lines(Log)),
        Granted2 = [L || {86, "granted " ++ _ = L} <- Lines],
        Oks = [ok || ok <- Paused],
        Eagain = [E || {error, eagain} = E <- Paused],
        ct:log("40 with the reader stopped: ~p ok, ~p eagain, ~p granted lines~n~p",
               [length(Oks), length(Eagain), length(Granted2), Paused]),
        40 = length(Oks) + length(Eagain),
        true = length(Oks) =:= length(Granted2),
        case ?config(group, Config) of
            devices_setuid -> true = length(Eagain) > 0;
            _ -> ok
        end,
        ok
    end).

%% The audit line names the interface a socket is bound to by its name,
%% whichever name the request used: a packet socket asked for on ALTB0 is
%% logged as interface=b0.
audit_interface_names(Config) ->
    Peer = ?config(peer, Config),
    ok = write_policy("allow user 65534 packet interface=b0\n"),
    with_log(fun(Log) ->
        ok = peer:call(Peer, procket_hardening_peer, try_open_close,
                       [0, [{family, packet}, {interface, ?ALTB0} | ?config(helper_opts, Config)]],
                       ?CALL_TIMEOUT),
        timer:sleep(200),
        Lines = procket_test_log:lines(Log),
        ct:log("~p", [Lines]),
        [{86, "granted uid=65534 gid=65534 packet raw ethertype=0x0003 interface=b0"}] =
            [L || {_, "granted " ++ _} = L <- Lines],
        ok
    end).

%% Standard error left a full pipe cannot hold the setuid helper in
%% write(2), privileged and before its audit line: it writes without
%% waiting (a line that does not fit is lost), answers at once, and the
%% refusal is logged.
full_stderr(Config) ->
    ok = write_policy("deny user 65534 udp port=5353\n"),
    with_log(fun(Log) ->
        {Res, Text} = driver(Config, #{hex => udp_req(5353), stderr_full => true},
                             ?config(setuid, Config), ["procket"]),
        timer:sleep(100),
        Lines = procket_test_log:lines(Log),
        ct:log("~p~n~s~n~p", [Res, Text, Lines]),
        #{exit := ?EX_REFUSED, reply := ?EACCES, lived_ms := Lived} = Res,
        true = Lived < 3000,
        [_] = [L || {85, "denied uid=65534 " ++ _ = L} <- Lines],
        ok
    end).

%% A SIGTSTP the caller left pending behind a blocked mask does not stop
%% the privileged helper when it empties its mask: it is ignored first.
pending_tstp(Config) ->
    {Res, Text} = driver(Config, #{hex => udp_req(53), pending_tstp => true},
                         ?config(setuid, Config), ["procket"]),
    ct:log("~p~n~s", [Res, Text]),
    #{exit := ?EX_OK, reply := 0, fds := 1, lived_ms := Lived} = Res,
    true = Lived < 3000,
    ok.

%% Runs Fun(Log) with the suite's syslog reader at /dev/log (in the
%% suite's overlay on /dev).
with_log(Fun) ->
    Log = procket_test_log:start("/dev/log"),
    try
        Fun(Log)
    after
        procket_test_log:stop(Log)
    end.

%% An interface's index, from `ip' (in this network namespace).
ifindex(Name) ->
    [N | _] = string:split(os:cmd("ip -o link show dev " ++ Name), ":"),
    list_to_integer(string:trim(N)).

%% An inet6 request: {Type, Protocol, Port}, interface ("": none),
%% address, scope id (0: none).
inet6_req({Type, Proto, Port}, If, Addr, Scope) ->
    {ok, Ip} = inet:parse_ipv6strict_address(Addr),
    A = << <<W:16>> || W <- tuple_to_list(Ip) >>,
    req([{1, <<10:32>>}, {2, <<Type:32>>}, {3, <<Proto:32>>}, {4, <<Port:16>>}, {5, A}]
        ++ [{6, <<Scope:32>>} || Scope =/= 0]
        ++ [{7, list_to_binary(If)} || If =/= ""]).

%% --- the direct caller ------------------------------------------------

%% Runs Cmd with exactly the argv Argv (Argv = [] gives argc 0) through
%% the driver, as uid 65534 (under no_new_privs with nnp), with the
%% standard input and channel traffic D describes. Returns the parsed
%% "driver-result:" line and everything printed (the helper's stderr).
driver(Config, D, Cmd, Argv) ->
    Setpriv = os:find_executable("setpriv"),
    Ids = ["--reuid=65534", "--regid=65534", "--clear-groups"]
        ++ [ "--no-new-privs" || maps:get(nnp, D, false)],
    Opts = lists:append(
             [["--stdin", S] || S <- [maps:get(stdin, D, "chan")]]
             ++ [["--hex", binary_to_list(binary:encode_hex(H))]
                 || H <- [maps:get(hex, D, none)], H =/= none]
             ++ [["--garbage", integer_to_list(G)] || G <- [maps:get(garbage, D, 0)], G > 0]
             ++ [["--record", integer_to_list(R)] || R <- [maps:get(record, D, 0)], R > 0]
             ++ [["--with-fd"] || maps:get(with_fd, D, false)]
             ++ [["--close"] || maps:get(close, D, false)]
             ++ [["--nofile", integer_to_list(N)] || N <- [maps:get(nofile, D, none)],
                                                      N =/= none]
             ++ [["--stop-ms", integer_to_list(M)] || M <- [maps:get(stop_ms, D, none)],
                                                       M =/= none]
             ++ [["--stop-child"] || maps:get(stop_child, D, false)]
             ++ [["--stderr-full"] || maps:get(stderr_full, D, false)]
             ++ [["--pending-tstp"] || maps:get(pending_tstp, D, false)]),
    Inner = [Setpriv | Ids] ++ ["--", ?config(driver, Config) | Opts] ++ ["--", Cmd | Argv],
    {Exe, Args} = case maps:get(strace, D, none) of
                      none -> {hd(Inner), tl(Inner)};
                      {Strace, Out} -> {Strace, ["-f", "-qq", "-o", Out, "-e",
                                                 "trace=capset,prctl,setresuid,setresgid,setgroups"
                                                 | Inner]}
                  end,
    Port = open_port({spawn_executable, Exe},
                     [{args, Args}, exit_status, stderr_to_stdout, binary, hide]),
    Text = collect(Port, <<>>),
    {parse_result(Text), Text}.

collect(Port, Acc) ->
    receive
        {Port, {data, D}} -> collect(Port, <<Acc/binary, D/binary>>);
        {Port, {exit_status, 0}} -> Acc;
        {Port, {exit_status, S}} -> ct:fail({driver_failed, S, Acc})
    after 90000 ->                              % the driver gives up at 65 s
            ct:fail({driver_hung, Acc})
    end.

parse_result(Text) ->
    case re:run(Text, "driver-result: (exit|signal)=([0-9]+) reply=([0-9]+|none) fds=([0-9]+)"
                "(?: bound=([^ ]+))?(?: stop=([a-z0-9]+))? lived_ms=([0-9]+)",
                [{capture, all_but_first, list}]) of
        {match, [Kind, N, Reply, Fds | More]} ->
            [Bound, Stop, Lived] = More ++ lists:duplicate(3 - length(More), ""),
            maps:merge(
              #{list_to_atom(Kind) => list_to_integer(N),
                reply => case Reply of "none" -> none; _ -> list_to_integer(Reply) end,
                fds => list_to_integer(Fds), lived_ms => list_to_integer(Lived)},
              maps:from_list([{bound, Bound} || Bound =/= ""]
                             ++ [{stop, case Stop of
                                            "ok" -> ok;
                                            _ -> list_to_integer(Stop)
                                        end} || Stop =/= ""]));
        nomatch ->
            ct:fail({no_driver_result, Text})
    end.

%% The lines the helper printed (all but the driver's).
helper_lines(Text) ->
    [L || L <- string:lexemes(binary_to_list(Text), "\n"),
          not lists:prefix("driver-result:", L)].

%% Runs {Label, DriverSpec, ExtraArgv, Expect} rows: Expect is the part
%% of the result that must match; no row may end by a signal or print a
%% line longer than the helper's 512-byte say() buffer. Logs a table of
%% every row and fails with all rows that differ.
run_table(Config, Cmd, Argv, Rows) ->
    Results = [begin
                   T0 = erlang:monotonic_time(millisecond),
                   {Res, Text} = driver(Config, D, Cmd, Argv ++ Extra),
                   Ms = erlang:monotonic_time(millisecond) - T0,
                   Lines = helper_lines(Text),
                   Long = [L || L <- Lines, length(L) > 512],
                   Ok = maps:with(maps:keys(Expect), Res) =:= Expect
                       andalso not maps:is_key(signal, Res) andalso Long =:= [],
                   {Ok, Label, Res, Expect, Ms, first_line(Lines)}
               end || {Label, D, Extra, Expect} <- Rows],
    ct:log("~-58s ~-40s ~6s  ~s~n~s",
           ["row", "result", "ms", "first line", lists:duplicate(140, $-)]),
    [ct:log("~s ~-55ts ~-40s ~6b  ~ts", [if Ok -> "ok  "; true -> "FAIL" end, Label,
                                         fmt_result(Res), Ms, First])
     || {Ok, Label, Res, _, Ms, First} <- Results],
    case [{Label, Res, Expect} || {false, Label, Res, Expect, _, _} <- Results] of
        [] -> ok;
        Bad -> ct:fail({unexpected_results, Bad})
    end.

fmt_result(#{reply := R, fds := F} = Res) ->
    How = case Res of
              #{exit := E} -> io_lib:format("exit=~b", [E]);
              #{signal := S} -> io_lib:format("SIGNAL=~b", [S])
          end,
    lists:flatten(io_lib:format("~s reply=~p fds=~b", [How, R, F])).

first_line([]) -> "";
first_line([L | _]) -> string:slice(L, 0, 100).

%% Rows of procket:open/2 calls in the group's VM: {Label, {Port, Opts},
%% Expect}; a table in the log, all differing rows in the failure.
run_rows(Config, Rows) ->
    Peer = ?config(peer, Config),
    Results = [{Label, Expect,
                peer:call(Peer, procket_hardening_peer, try_open_close, [Port, Opts],
                          ?CALL_TIMEOUT)}
               || {Label, {Port, Opts}, Expect} <- Rows],
    [ct:log("~s ~-45ts ~p (want ~p)", [if R =:= E -> "ok  "; true -> "FAIL" end, L, R, E])
     || {L, E, R} <- Results],
    case [X || {_, E, R} = X <- Results, R =/= E] of
        [] -> ok;
        Bad -> ct:fail({unexpected_results, Bad})
    end.

%% Processes still running one of the staged helpers.
helpers_running(Config) ->
    Stage = ?config(stage, Config),
    {ok, Pids} = file:list_dir("/proc"),
    [{P, Exe} || P <- Pids, {ok, Exe} <- [file:read_link("/proc/" ++ P ++ "/exe")],
                 lists:prefix(Stage, Exe), lists:suffix("procket", Exe)].

accept_loop(L, Held) ->
    case gen_tcp:accept(L) of
        {ok, S} -> accept_loop(L, [S | Held]);
        {error, _} -> ok
    end.

%% A SEQPACKET socket root listens on, which uid 65534 may connect to.
with_root_listener(Config, Fun) ->
    Path = filename:join(?config(world, Config), "root.sock"),
    _ = file:delete(Path),
    {ok, S} = socket:open(local, seqpacket, default),
    ok = socket:bind(S, #{family => local, path => list_to_binary(Path)}),
    ok = socket:listen(S),
    ok = file:change_mode(Path, 8#666),
    Acceptor = spawn_link(fun() -> seq_accept_loop(S, []) end),
    try
        Fun(Path)
    after
        unlink(Acceptor),
        exit(Acceptor, kill),
        socket:close(S),
        file:delete(Path)
    end.

seq_accept_loop(S, Held) ->
    case socket:accept(S) of
        {ok, C} -> seq_accept_loop(S, [C | Held]);
        {error, _} -> ok
    end.

%% --- the wire format (procket(8), WIRE FORMAT) -----------------------

wire(Version, Kind, Fields) ->
    Body = << <<T:16, (byte_size(V)):16, V/binary>> || {T, V} <- Fields >>,
    <<"PK", Version, Kind, (8 + byte_size(Body)):16, 0:16, Body/binary>>.

req(Fields) ->
    wire(1, 1, Fields).

udp_fields(Port) ->
    [{1, <<2:32>>}, {2, <<2:32>>}, {3, <<17:32>>}, {4, <<Port:16>>}].

udp_req(Port) ->
    req(udp_fields(Port)).

raw_icmp_req() ->
    req([{1, <<2:32>>}, {2, <<3:32>>}, {3, <<1:32>>}, {4, <<0:16>>}]).

netns_req(Name) ->
    req(udp_fields(0) ++ [{10, Name}]).

set_reserved(<<Head:6/binary, _:16, Rest/binary>>) ->
    <<Head/binary, 1:16, Rest/binary>>.

%% --- peers --------------------------------------------------------------

%% Starts a VM as uid/gid 65534 through setpriv (with --no-new-privs when
%% Flags has nnp), its standard error appended to a file here (that is
%% where the helpers it runs write). peer runs exec's program with its
%% arguments followed by erl's: sh opens the file as root, then execs
%% setpriv.
start_peer(Config, Name, Flags) ->
    ErrFile = filename:join(?config(logs, Config), Name ++ ".stderr"),
    ok = file:write_file(ErrFile, <<>>),
    Setpriv = [os:find_executable("setpriv"), "--reuid=65534", "--regid=65534",
               "--clear-groups"] ++ ["--no-new-privs" || lists:member(nnp, Flags)],
    {ok, Peer, _Node} =
        peer:start(#{connection => standard_io,
                     exec => {"/bin/sh", ["-c", "exec 2>>\"$0\"; exec \"$@\"", ErrFile]
                              ++ Setpriv ++ ["--", os:find_executable("erl")]},
                     args => ["-pa", ?config(ebin, Config), "-pa", ?config(test_ebin, Config)],
                     env => [{"HOME", ?config(home, Config)}]}),
    ok = peer:call(Peer, file, set_cwd, [?config(home, Config)]),
    OsPid = peer:call(Peer, os, getpid, []),
    {Peer, OsPid, ErrFile}.

%% The VM runs as 65534 in all four slots, no groups, no capabilities,
%% with no_new_privs as asked.
check_unprivileged(OsPid, Nnp) ->
    {ok, Bin} = file:read_file("/proc/" ++ OsPid ++ "/status"),
    Status = [case string:split(L, ":") of
                  [K, V] -> {K, string:lexemes(V, " \t")};
                  [K] -> {K, []}
              end || L <- string:lexemes(binary_to_list(Bin), "\n")],
    Want = [{"Uid", ["65534", "65534", "65534", "65534"]},
            {"Gid", ["65534", "65534", "65534", "65534"]},
            {"Groups", []},
            {"CapEff", ["0000000000000000"]},
            {"CapPrm", ["0000000000000000"]},
            {"NoNewPrivs", [if Nnp -> "1"; true -> "0" end]}],
    case [{K, proplists:get_value(K, Status)} || {K, _} <- Want] of
        Want -> ok;
        Got -> {error, Got}
    end.

err_mark(Config) ->
    filelib:file_size(?config(peer_err, Config)).

err_since(Config, Mark) ->
    {ok, B} = file:read_file(?config(peer_err, Config)),
    binary_to_list(binary:part(B, Mark, byte_size(B) - Mark)).

has_line(Text, Prefix) ->
    lists:any(fun(L) -> lists:prefix(Prefix, L) end, string:lexemes(Text, "\n")).

%% --- /proc/net ---------------------------------------------------------

%% The uids of the sockets bound to local Port (the protocol number for
%% raw sockets) in /proc/net/Proto; for TCP only listening ones.
socket_uids(Proto, Port) ->
    {ok, Bin} = file:read_file("/proc/net/" ++ Proto),
    [_Header | Lines] = string:lexemes(binary_to_list(Bin), "\n"),
    [list_to_integer(Uid)
     || L <- Lines,
        [_Sl, Local, _Remote, St, _Q, _T, _R, Uid | _] <- [string:lexemes(L, " ")],
        list_to_integer(lists:last(string:split(Local, ":", trailing)), 16) =:= Port,
        Proto =/= "tcp" orelse St =:= "0A"].

%% --- policy, sudo, files ---------------------------------------------

%% /etc/procket.conf, in the overlay: root's, mode 0644.
write_policy(Text) ->
    ok = file:write_file(?POLICY, Text),
    ok = file:change_owner(?POLICY, 0, 0),
    file:change_mode(?POLICY, 8#644).

read_policy() ->
    {ok, B} = file:read_file(?POLICY),
    binary_to_list(B).

%% Lets nobody run the plain helper as root without a password; checked
%% with visudo before it is installed (in the overlay on /etc).
install_sudo_rule(Plain, Config) ->
    Tmp = filename:join(?config(stage, Config), "sudoers"),
    ok = file:write_file(Tmp, "nobody ALL=(root) NOPASSWD: " ++ Plain ++ "\n"),
    ok = file:change_mode(Tmp, 8#440),
    ok = run("visudo -cf " ++ Tmp),
    {ok, _} = file:copy(Tmp, ?SUDO_RULE),
    ok = file:change_owner(?SUDO_RULE, 0, 0),
    ok = file:change_mode(?SUDO_RULE, 8#440),
    case run("visudo -c") of
        ok -> ok;
        Error -> file:delete(?SUDO_RULE), Error
    end.

repo_root(Config) ->
    case os:getenv("PROCKET_ROOT") of
        Root when is_list(Root), Root =/= "" ->
            Root;
        _ ->
            filename:absname(filename:join([?config(data_dir, Config), "..", ".."]))
    end.


run(Cmd) ->
    case os:cmd(Cmd ++ " >/dev/null 2>&1; echo $?") of
        "0\n" -> ok;
        Other -> {error, {Cmd, Other}}
    end.

run_all([]) -> ok;
run_all([Cmd | Rest]) ->
    case run(Cmd) of
        ok -> run_all(Rest);
        Error -> Error
    end.
