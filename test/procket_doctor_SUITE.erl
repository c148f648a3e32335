%% Common Test suite for the doctor: `procket --check' (procket(8)) and
%% procket:diagnose/0,1. Each case stages one installation, broken in one
%% way or working, and checks that the diagnosis names what is wrong (and
%% that the same check passes when it is not).
%%
%% Every run of the doctor is made by root in namespaces of its own
%% (`unshare --mount --propagation private --net'): the policy file and a
%% sudoers rule appear in /etc through a read-only overlay whose upper
%% layer is a directory of the suite's, /run is an empty tmpfs (with the
%% broker's socket when a case wants one), a nosuid mount is a tmpfs
%% mounted there, /dev/net is hidden by an empty tmpfs, and
%% net.ipv4.ping_group_range is the new network namespace's. Nothing is
%% written to the machine's /etc, /run or /dev. The doctor itself runs as
%% uid 65534 (setpriv --reuid=65534 --regid=65534 --clear-groups).
%%
%% Runs as root through scripts/ct-doctor.sh (scripts/ct.sh).
-module(procket_doctor_SUITE).

-import(procket_ct_stage, [stage_release/2, make_dir/2, repo_root/0]).

-include_lib("common_test/include/ct.hrl").
-include_lib("kernel/include/file.hrl").

-export([all/0, init_per_suite/1, end_per_suite/1]).
-export([working_setup/1, helper_not_setuid/1, helper_not_root_owned/1, nosuid_mount/1,
         no_new_privs/1, untrusted_policy/1, policy_grants/1, unreadable_policy/1,
         ping_group_range/1, no_tun/1, usage/1, file_capabilities/1, diagnose_erlang/1, diagnose_sudo/1,
         diagnose_no_new_privs/1, user_namespace/1, broker_peer/1, port_list_cut/1,
         conditional_grants/1, few_descriptors/1]).

-define(NOBODY, 65534).
-define(OTHER, 65533).

all() ->
    [working_setup, helper_not_setuid, helper_not_root_owned, nosuid_mount, no_new_privs,
     untrusted_policy, policy_grants, unreadable_policy, ping_group_range, no_tun, usage,
     file_capabilities,
     diagnose_erlang, diagnose_sudo, diagnose_no_new_privs, user_namespace, broker_peer,
     port_list_cut, conditional_grants, few_descriptors].

%% --- setup ------------------------------------------------------------

init_per_suite(Config) ->
    "0" = string:trim(os:cmd("id -u")),
    [true = is_list(os:find_executable(T)) || T <- ["setpriv", "unshare", "sysctl", "erl"]],
    Root = repo_root(),
    Stage = string:trim(os:cmd("mktemp -d /tmp/procket_ctd.XXXXXX")),
    true = lists:prefix("/tmp/procket_ctd.", Stage),
    ok = file:change_mode(Stage, 8#755),
    ok = stage_release(Root, Stage),
    Helper = filename:join(Stage, "priv/procket"),
    ok = file:change_owner(Helper, 0, 0),
    ok = file:change_mode(Helper, 8#4755),   % the last chmod: keeps the bit
    %% the same helper, not setuid; and setuid but not root's
    Plain = install(Helper, filename:join(Stage, "plain"), 0, 8#755),
    NotRoot = install(Helper, filename:join(Stage, "notroot"), ?OTHER, 8#4755),
    Home = filename:join(Stage, "home"),
    ok = make_dir(Home, 8#700),
    ok = file:change_owner(Home, ?NOBODY, ?NOBODY),
    ok = make_dir(filename:join(Stage, "nosuid"), 8#755),
    [{stage, Stage}, {helper, Helper}, {plain, Plain}, {notroot, NotRoot}, {home, Home},
     {n, counters:new(1, [])} | Config].

end_per_suite(Config) ->
    Stage = ?config(stage, Config),
    true = lists:prefix("/tmp/procket_ctd.", Stage),
    ok = file:del_dir_r(Stage).

install(From, Dir, Owner, Mode) ->
    ok = make_dir(Dir, 8#755),
    To = filename:join(Dir, "procket"),
    {ok, _} = file:copy(From, To),
    ok = file:change_owner(To, Owner, 0),
    ok = file:change_mode(To, Mode),
    To.

%% --- cases --------------------------------------------------------------

%% The setuid root helper, no policy file (the defaults), the user's group
%% in ping_group_range, /dev/net/tun there: every item ok, verdict setuid,
%% exit 0.
working_setup(Config) ->
    {0, Out} = doctor(Config, #{ping => "0 2147483647"}),
    ok = has(Out, "ok: helper: " ++ ?config(helper, Config) ++ ": owner root, mode 4755: setuid root"),
    ok = has(Out, "ok: mount: "),
    ok = has(Out, "ok: no_new_privs: "),
    ok = has(Out, "ok: privileges: this run had root privileges (setuid root)"),
    ok = has(Out, "ok: policy: no /etc/procket.conf"),
    ok = has(Out, "ok: grants: the policy grants you: tcp ports 1-511,1024-65535; "
                  "udp ports 1-511,1024-65535; icmp; not: raw, packet, tun, tap"),
    ok = has(Out, "ok: broker: no broker socket"),
    ok = has(Out, "ok: ping_group_range: "),
    ok = has(Out, "ok: tun: /dev/net/tun is there"),
    [] = [L || L <- lines(Out), lists:prefix("problem:", L) orelse lists:prefix("warning:", L)],
    ok = verdict(Out, "setuid").

%% A plain 0755 helper: named, with a fix; no way: exit 1.
helper_not_setuid(Config) ->
    {1, Out} = doctor(Config, #{helper => ?config(plain, Config)}),
    ok = has(Out, "problem: helper: " ++ ?config(plain, Config) ++
                  ": owner uid 0, mode 0755: not setuid root and no file capabilities"),
    ok = has_fix(Out, "helper", "chmod 4755"),
    ok = has(Out, "problem: privileges: this run had no privileges (not installed setuid root)"),
    ok = verdict(Out, "none").

%% Setuid, but owned by another user: not root's.
helper_not_root_owned(Config) ->
    {1, Out} = doctor(Config, #{helper => ?config(notroot, Config)}),
    ok = has(Out, "problem: helper: " ++ ?config(notroot, Config) ++
                  ": setuid, but owned by uid 65533, not root"),
    ok = verdict(Out, "none").

%% The setuid helper on a tmpfs mounted nosuid.
nosuid_mount(Config) ->
    {1, Out} = doctor(Config, #{nosuid => true}),
    ok = has(Out, "problem: mount: the helper's file system is mounted nosuid"),
    ok = has_fix(Out, "mount", "without nosuid"),
    ok = has(Out, "problem: privileges: this run had no privileges (nosuid mount)"),
    ok = verdict(Out, "none"),
    %% the same mount without nosuid: the check passes
    {0, Out2} = doctor(Config, #{nosuid => false}),
    ok = has(Out2, "ok: mount: "),
    ok = verdict(Out2, "setuid").

%% no_new_privs in the caller: a problem without a broker, the broker the
%% way out with one.
no_new_privs(Config) ->
    {1, Out} = doctor(Config, #{nnp => true}),
    ok = has(Out, "problem: no_new_privs: no_new_privs is set in the calling process"),
    ok = has_fix(Out, "no_new_privs", "start the broker"),
    ok = has(Out, "problem: privileges: this run had no privileges (no_new_privs)"),
    ok = has(Out, "warning: broker: no broker socket"),
    ok = verdict(Out, "none"),
    {0, Out2} = doctor(Config, #{nnp => true, broker => true}),
    ok = has(Out2, "warning: no_new_privs: "),
    ok = has(Out2, "ok: broker: a broker runs as root at /run/procket/procket.sock "
                   "(SO_PEERCRED) and you may connect; the socket file (owner uid 0, group 0, "
                   "mode 0666) lets everyone connect"),
    ok = verdict(Out2, "broker").

%% A group- or world-writable policy file, or one not root's, is refused
%% (by policy.c's own rules): a problem, and nothing works.
untrusted_policy(Config) ->
    Rule = "allow user 65534 udp port=53\n",
    [begin
         {1, Out} = doctor(Config, #{policy => {Rule, Mode, Owner}}),
         ok = has(Out, "problem: policy: not trusted: /etc/procket.conf: not a regular file "
                       "owned by root and writable only by it"),
         ok = has_fix(Out, "policy", "chmod 0644"),
         ok = has(Out, "problem: grants: nothing: the policy file is refused"),
         ok = verdict(Out, "none")
     end || {Mode, Owner} <- [{8#664, 0}, {8#646, 0}, {8#644, ?OTHER}]],
    %% the same rule, trusted
    {0, Out2} = doctor(Config, #{policy => {Rule, 8#644, 0}}),
    ok = has(Out2, "ok: policy: /etc/procket.conf is trusted (owner root, mode 0644) and "
                   "every line parses: 1 rule"),
    %% a line that is not a rule: said with its number
    {1, Out3} = doctor(Config, #{policy => {"allow user 65534 udp\nallow bogus\n", 8#644, 0}}),
    ok = has(Out3, "problem: policy: not trusted: /etc/procket.conf:2: not a rule").

%% What the policy grants this user, as policy_decide decides: nothing
%% (only another user's rule, then deny all) against UDP port 53.
policy_grants(Config) ->
    {1, Out} = doctor(Config, #{policy => {"allow user 1000 udp port=53\ndeny all\n", 8#644, 0}}),
    ok = has(Out, "problem: grants: the policy grants you: tcp ports none; udp ports none; "
                  "not: icmp, raw, packet, tun, tap"),
    ok = has_fix(Out, "grants", "add a rule for you"),
    ok = has(Out, "verdict: none: procket cannot get privileged sockets for you (the policy "
                  "grants you nothing)"),
    {0, Out2} = doctor(Config, #{policy => {"allow user 65534 udp port=53\ndeny all\n",
                                            8#644, 0}}),
    ok = has(Out2, "ok: grants: the policy grants you: tcp ports none; udp ports 53; "
                   "not: icmp, raw, packet, tun, tap"),
    ok = verdict(Out2, "setuid"),
    %% a group rule, and kinds granted under conditions only
    {0, Out3} = doctor(Config, #{policy => {"allow group 65534 tun\n"
                                            "allow user 65534 packet interface=lo\n",
                                            8#644, 0}}),
    ok = has(Out3, "; icmp, tun; packet (may be granted, under the conditions of line 2); "
                   "not: raw, tap").

%% Security: a setuid doctor reads the policy as the user. A file only
%% root may read is reported as unreadable; none of its rules, for this
%% user or another, shows, not even what it grants this user. The same
%% file readable: its grant to this user shows (the check can fail).
%% Unread, it may refuse everything: not called trusted, and the verdict
%% says it is unsure (exit 0: nothing the doctor sees stops procket).
unreadable_policy(Config) ->
    Policy = "allow user 65534 tun\nallow user 4242 packet\n# secret-marker\n",
    {0, Out} = doctor(Config, #{policy => {Policy, 8#600, 0}}),
    ok = has(Out, "warning: policy: cannot read the policy file as you: /etc/procket.conf "
                  "(owner root, mode 0600)"),
    ok = has(Out, "warning: grants: unknown: you cannot read the policy file"),
    [nomatch = string:find(Out, S) || S <- ["secret", "4242", "tun,", "tun;", "packet (",
                                           "grants you:", "trusted"]],
    ok = verdict(Out, "setuid"),
    ok = has(verdict_line(Out), "the policy file could not be read"),
    {0, Out2} = doctor(Config, #{policy => {Policy, 8#644, 0}}),
    ok = has(Out2, "ok: grants: the policy grants you: "),
    ok = has(Out2, "icmp, tun; not: raw, packet, tap"),
    nomatch = string:find(Out2, "4242"),
    nomatch = string:find(verdict_line(Out2), "could not be read").

%% ping_group_range: the new network namespace's default (1 0) excludes
%% everyone; a range with 65534 includes it.
ping_group_range(Config) ->
    {0, Out} = doctor(Config, #{}),
    ok = has(Out, "warning: ping_group_range: no group of yours (gid 65534) is in "
                  "net.ipv4.ping_group_range (1 0)"),
    ok = has_fix(Out, "ping_group_range", "sysctl -w net.ipv4.ping_group_range="),
    {0, Out2} = doctor(Config, #{ping => "65534 65534"}),
    ok = has(Out2, "ok: ping_group_range: a group of yours is in net.ipv4.ping_group_range "
                   "(65534 65534)"),
    {0, Out3} = doctor(Config, #{ping => "100 200"}),
    ok = has(Out3, "warning: ping_group_range: ").

%% No /dev/net/tun (an empty tmpfs over /dev/net).
no_tun(Config) ->
    {0, Out} = doctor(Config, #{no_tun => true}),
    ok = has(Out, "warning: tun: there is no /dev/net/tun"),
    ok = has_fix(Out, "tun", "modprobe tun"),
    {0, Out2} = doctor(Config, #{}),
    ok = has(Out2, "ok: tun: /dev/net/tun is there").

%% A helper with file capabilities (read from security.capability), not
%% setuid: the way is capabilities; without cap_net_admin, no tun or tap.
file_capabilities(Config) ->
    Caps = install(?config(helper, Config), filename:join(?config(stage, Config), "caps"), 0,
                   8#755),
    ok = run("setcap cap_net_bind_service,cap_net_raw+ep " ++ Caps),
    {0, Out} = doctor(Config, #{helper => Caps}),
    ok = has(Out, "ok: helper: " ++ Caps ++ ": owner uid 0, mode 0755, file capabilities "
                  "cap_net_bind_service,cap_net_raw (effective) (no cap_net_admin: no tun or tap)"),
    ok = has(Out, "ok: privileges: this run had file capabilities: "
                  "cap_net_bind_service,cap_net_raw"),
    ok = verdict(Out, "capabilities").

%% In a user namespace that does not map root (unshare --user
%% --map-current-user, as uid 65534), root's files show as the overflow
%% uid: the setuid bit is ignored, the policy is the broker's business
%% outside, and root's broker listens as the overflow uid, used (as the
%% library does) when every directory to its socket is as the broker
%% insists. No chown fix, no "not root", no "not trusted".
user_namespace(Config) ->
    Helper = ?config(helper, Config),
    Policy = {"allow user 65534 udp port=53\n", 8#644, 0},
    {0, Out} = doctor(Config, #{userns => true, broker => true, policy => Policy}),
    ok = has(Out, "warning: helper: " ++ Helper ++ ": owner uid 65534, mode 4755: in this "
                  "user namespace uid 65534 is the overflow uid, an owner the namespace "
                  "does not map"),
    ok = has_fix(Out, "helper", "use the broker"),
    ok = has(Out, "ok: policy: this is a user namespace that does not map root"),
    ok = has(Out, "warning: grants: unknown: the broker decides outside this user namespace"),
    ok = has(Out, "ok: broker: a broker listens at /run/procket/procket.sock as uid 65534, "
                  "the overflow uid"),
    [nomatch = string:find(Out, S) || S <- ["not root", "chown", "not trusted", "problem:"]],
    ok = verdict(Out, "broker"),
    ok = has(verdict_line(Out), "outside this user namespace"),
    %% no broker: nothing works here, and the helper's item says why
    {1, Out2} = doctor(Config, #{userns => true, policy => Policy}),
    ok = has(Out2, "problem: helper: " ++ Helper ++ ": owner uid 65534, mode 4755: in this "
                   "user namespace"),
    ok = has(Out2, "problem: privileges: this run had no privileges (a user namespace"),
    [nomatch = string:find(Out2, S) || S <- ["not root", "chown", "not trusted"]],
    ok = verdict(Out2, "none"),
    %% the broker's directory writable by everyone (sticky): the library
    %% would not trust an overflow-uid listener there, nor does the doctor
    {1, Out3} = doctor(Config, #{userns => true, broker => true, broker_dir => "1777",
                                 policy => Policy}),
    ok = has(Out3, "problem: broker: something listens at /run/procket/procket.sock as uid "
                   "65534, not root (SO_PEERCRED)"),
    ok = verdict(Out3, "none"),
    %% outside the user namespace the same setup is setuid, as before
    {0, Out4} = doctor(Config, #{policy => Policy}),
    ok = verdict(Out4, "setuid").

%% The broker is judged by who listens (SO_PEERCRED), as the library
%% judges it, not by the socket file's owner: root's broker whose socket
%% file is nobody's (-o nobody) is used; a program of uid 65533 listening
%% behind a socket file chowned to root is not. no_new_privs: only the
%% broker can work.
broker_peer(Config) ->
    {0, Out} = doctor(Config, #{nnp => true, broker => true,
                                broker_args => " -o nobody -m 0600"}),
    ok = has(Out, "ok: broker: a broker runs as root at /run/procket/procket.sock "
                  "(SO_PEERCRED) and you may connect; the socket file (owner uid 65534, "
                  "group 0, mode 0600) lets only its owner connect"),
    ok = verdict(Out, "broker"),
    {1, Out2} = doctor(Config, #{nnp => true, impostor => true}),
    ok = has(Out2, "problem: broker: something listens at /run/procket/procket.sock as uid "
                   "65533, not root (SO_PEERCRED): procket asks only a broker that runs as "
                   "root; the socket file (owner uid 0, group 0, mode 0666)"),
    ok = has_fix(Out2, "broker", "start the broker as root"),
    nomatch = string:find(Out2, "whose socket is root's"),
    ok = verdict(Out2, "none"),
    %% procket:diagnose with the broker set in the application environment
    %% judges it the same way
    Call = "application:set_env(procket, broker, \"/run/procket/procket.sock\"), "
           "procket:diagnose(\"" ++ ?config(helper, Config) ++ "\")",
    #{verdict := broker, checks := Checks} =
        diagnose(Config, #{nnp => true, broker => true, broker_args => " -o nobody -m 0600"},
                 Call),
    #{status := ok, text := <<"procket:open asks only the broker at /run/procket/procket.sock",
                              _/binary>>} = item(broker_choice, Checks),
    #{verdict := none, checks := Checks2} = diagnose(Config, #{nnp => true, impostor => true},
                                                     Call),
    #{status := problem, text := T2} = item(broker_choice, Checks2),
    true = string:find(T2, <<"as uid 65533, not root">>) =/= nomatch.

%% A port list longer than the report's room: whole ranges only, the rest
%% counted, never a number cut short.
port_list_cut(Config) ->
    Ports = lists:seq(1, 399, 2),
    Rule = "allow user 65534 udp port=" ++ lists:join(",", [integer_to_list(P) || P <- Ports])
        ++ "\ndeny all\n",
    {0, Out} = doctor(Config, #{policy => {Rule, 8#644, 0}}),
    [_, After] = string:split(Out, "; udp ports "),
    [Udp | _] = string:split(After, "; "),
    case re:run(Udp, "^([0-9]+(?:,[0-9]+)*) \\(and ([0-9]+) more ranges\\)$",
                [{capture, all_but_first, list}]) of
        {match, [Listed, More]} ->
            Shown = [list_to_integer(P) || P <- string:split(Listed, ",", all)],
            Shown = lists:sublist(Ports, length(Shown)),
            true = length(Shown) + list_to_integer(More) =:= length(Ports),
            true = length(Shown) > 10;
        nomatch ->
            ct:fail({udp_ports, Udp})
    end,
    ok = verdict(Out, "setuid").

%% Kinds an allow rule with conditions might grant: hinted only when no
%% earlier rule denies the kind outright, and never counted as working.
conditional_grants(Config) ->
    {1, Out} = doctor(Config, #{policy => {"deny all\nallow user nobody interface=nonexist0\n",
                                           8#644, 0}}),
    [nomatch = string:find(Out, S) || S <- ["may be granted", "with conditions"]],
    ok = has(Out, "problem: grants: the policy grants you: tcp ports none; udp ports none; "
                  "not: icmp, raw, packet, tun, tap"),
    ok = verdict(Out, "none"),
    {1, Out2} = doctor(Config, #{policy => {"allow user nobody interface=nonexist0\ndeny all\n",
                                            8#644, 0}}),
    ok = has(Out2, "problem: grants: the policy grants you: tcp ports none; udp ports none; "
                   "icmp (may be granted, under the conditions of line 1)"),
    ok = verdict(Out2, "none"),
    ok = has(verdict_line(Out2), "nothing for sure"),
    %% a deny with conditions does not hide a later grant's hint
    {0, Out3} = doctor(Config, #{policy => {"deny all packet interface=eth9\n"
                                            "allow user nobody packet interface=lo\n"
                                            "allow user nobody udp port=53\ndeny all\n",
                                            8#644, 0}}),
    ok = has(Out3, "packet (may be granted, under the conditions of line 2)"),
    ok = verdict(Out3, "setuid").

%% Too few descriptors (RLIMIT_NOFILE 3) is said as such, not as a policy
%% file that is not trusted.
few_descriptors(Config) ->
    {1, Out} = doctor(Config, #{wrap => "prlimit --nofile=3:3 ",
                                policy => {"allow user 65534 udp port=53\n", 8#644, 0}}),
    ok = has(Out, "problem: policy: could not open /etc/procket.conf: no file descriptor "
                  "left"),
    ok = has_fix(Out, "policy", "raise the limit on open files"),
    [nomatch = string:find(Out, S) || S <- ["not trusted", "chown", "nobody answers"]],
    ok = verdict(Out, "none"),
    ok = has(verdict_line(Out), "too few file descriptors"),
    %% the same run with room: the policy is read
    {0, Out2} = doctor(Config, #{wrap => "prlimit --nofile=64:64 ",
                                 policy => {"allow user 65534 udp port=53\n", 8#644, 0}}),
    ok = has(Out2, "ok: policy: /etc/procket.conf is trusted").

%% --check takes no other argument: 64, and no report.
usage(Config) ->
    {64, Out} = doctor(Config, #{args => "--check extra"}),
    nomatch = string:find(Out, "verdict:"),
    ok = has(Out, "--check takes no other argument"),
    {0, Help} = doctor(Config, #{args => "-h"}),
    ok = has(Help, "       procket --check\n").

%% procket:diagnose/0,1 from a VM of uid 65534: the helper's report, as a
%% map, with what the VM adds; a binary path is taken too.
diagnose_erlang(Config) ->
    Helper = ?config(helper, Config),
    R = diagnose(Config, #{ping => "0 2147483647"},
                 "application:set_env(procket, helper, \"" ++ Helper ++ "\"), "
                 "procket:diagnose()"),
    #{verdict := setuid, helper := HelperBin, checks := Checks} = R,
    HelperBin = list_to_binary(Helper),
    #{status := ok, text := <<"the VM runs as uid 65534">>} = item(vm, Checks),
    #{status := ok} = item(sudo, Checks),
    #{status := ok, text := <<"procket:open uses the helper", _/binary>>} =
        item(broker_choice, Checks),
    #{status := ok, fix := <<>>} = item(helper, Checks),
    [] = [C || #{status := S} = C <- Checks, S =:= problem],
    %% a binary path, a helper that is not setuid: none, the fix named
    Plain = ?config(plain, Config),
    R2 = diagnose(Config, #{}, "procket:diagnose(<<\"" ++ Plain ++ "\">>)"),
    #{verdict := none, checks := Checks2} = R2,
    #{status := problem, fix := <<"as root: chown root:root ", _/binary>>} =
        item(helper, Checks2),
    #{status := warning} = item(sudo, Checks2),
    %% no helper there: a problem, not a crash
    #{verdict := none, checks := Checks3} =
        diagnose(Config, #{}, "procket:diagnose(\"/nonexistent/procket\")"),
    #{status := problem, text := <<"the helper could not be run", _/binary>>} =
        item(helper, Checks3),
    %% diagnose(print) prints the report
    Printed = run_erl(Config, #{}, "application:set_env(procket, helper, \"" ++ Helper ++
                                   "\"), _ = procket:diagnose(print), ok"),
    ok = has(Printed, "verdict: setuid: procket gets your sockets from the setuid root helper").

%% A sudo rule (in /etc/sudoers.d of the private /etc) for a helper that
%% is not setuid: the VM's verdict is sudo; without the rule, none.
diagnose_sudo(Config) ->
    Plain = ?config(plain, Config),
    Rule = "nobody ALL=(root) NOPASSWD: " ++ Plain ++ "\n",
    R = diagnose(Config, #{sudoers => Rule}, "procket:diagnose(\"" ++ Plain ++ "\")"),
    #{verdict := sudo, checks := Checks} = R,
    #{status := ok, text := <<"a sudo rule lets you run the helper", _/binary>>} =
        item(sudo, Checks),
    #{verdict := none} = diagnose(Config, #{}, "procket:diagnose(\"" ++ Plain ++ "\")").

%% A VM under no_new_privs: the broker when one runs (its default path),
%% none when not.
diagnose_no_new_privs(Config) ->
    Helper = ?config(helper, Config),
    Call = "procket:diagnose(\"" ++ Helper ++ "\")",
    #{verdict := broker, checks := Checks} =
        diagnose(Config, #{nnp => true, broker => true}, Call),
    #{status := ok, text := <<"procket:open asks the broker at /run/procket/procket.sock",
                              _/binary>>} = item(broker_choice, Checks),
    #{status := warning} = item(no_new_privs, Checks),
    #{verdict := none, checks := Checks2} = diagnose(Config, #{nnp => true}, Call),
    #{status := problem} = item(no_new_privs, Checks2).

%% --- running the doctor ----------------------------------------------------

%% Runs `HELPER --check' (or Opts' args) as uid 65534 in the situation Opts
%% describe: {ExitStatus, Output}.
doctor(Config, Opts) ->
    Helper = maps:get(helper, Opts, ?config(helper, Config)),
    run_in(Config, Opts, Helper, helper_cmd(Opts, Helper)).

helper_cmd(Opts, Helper) ->
    Wrap = maps:get(wrap, Opts, "") ++
        case maps:get(userns, Opts, false) of
            true -> "unshare --user --map-current-user ";
            false -> ""
        end,
    case maps:get(nosuid, Opts, undefined) of
        undefined -> Wrap ++ Helper ++ " " ++ maps:get(args, Opts, "--check");
        _ -> Wrap ++ "\"$STAGE/nosuid/procket\" " ++ maps:get(args, Opts, "--check")
    end.

%% The term procket:diagnose printed by a VM of uid 65534.
diagnose(Config, Opts, Expr) ->
    Out = run_erl(Config, Opts, "R = begin " ++ Expr ++ " end, io:format(\"~n~p.~n\", [R])"),
    [Last | _] = lists:reverse(string:split(Out, "\n#{", all)),
    {ok, Toks, _} = erl_scan:string("#{" ++ Last),
    {ok, Term} = erl_parse:parse_term(Toks),
    ct:log("~p", [Term]),
    Term.

run_erl(Config, Opts, Body) ->
    Stage = ?config(stage, Config),
    Eval = Body ++ ", halt().",
    Cmd = "env HOME=" ++ ?config(home, Config) ++ " erl -noshell -pa " ++ Stage ++ "/ebin "
          "-eval '" ++ Eval ++ "'",
    {0, Out} = run_in(Config, Opts, ?config(helper, Config), Cmd),
    Out.

run_in(Config, Opts, Helper, Cmd) ->
    Stage = ?config(stage, Config),
    N = counters:get(?config(n, Config), 1),
    ok = counters:add(?config(n, Config), 1, 1),
    Layer = filename:join(Stage, "layer" ++ integer_to_list(N)),
    ok = make_dir(Layer, 8#755),
    Etc = filename:join(Layer, "etc"),
    ok = make_dir(Etc, 8#755),
    EtcMount = case {maps:get(policy, Opts, none), maps:get(sudoers, Opts, none)} of
                   {none, none} -> "";
                   {P, S} ->
                       ok = layer_policy(Etc, P),
                       ok = layer_sudoers(Etc, S),
                       "mount -t overlay -o lowerdir=" ++ Etc ++ ":/etc procket_doctor_etc /etc\n"
               end,
    Setpriv = "setpriv --reuid=65534 --regid=65534 --clear-groups" ++
                  case maps:get(nnp, Opts, false) of
                      true -> " --no-new-privs";
                      false -> ""
                  end,
    Script =
        "set -e\nSTAGE=" ++ Stage ++ "\n" ++ EtcMount ++
        "mount -t tmpfs -o mode=755 procket_doctor_run /run\n" ++
        case maps:get(nosuid, Opts, undefined) of
            undefined -> "";
            NoSuid ->
                "mount -t tmpfs -o mode=755" ++ [",nosuid" || NoSuid] ++
                    " procket_doctor_nosuid \"$STAGE/nosuid\"\n"
                "cp " ++ Helper ++ " \"$STAGE/nosuid/procket\"\n"
                "chmod 4755 \"$STAGE/nosuid/procket\"\n"
        end ++
        case maps:get(no_tun, Opts, false) of
            true -> "mount -t tmpfs -o mode=755 procket_doctor_dev /dev/net\n";
            false -> ""
        end ++
        case maps:get(ping, Opts, undefined) of
            undefined -> "";
            Range -> "sysctl -q -w net.ipv4.ping_group_range='" ++ Range ++ "'\n"
        end ++
        case {maps:get(broker, Opts, false), maps:get(impostor, Opts, false)} of
            {true, _} ->
                "mkdir -m 755 /run/procket\n" ++
                    ?config(helper, Config) ++ " -l /run/procket/procket.sock" ++
                    maps:get(broker_args, Opts, "") ++
                    " >\"$STAGE/broker.log\" 2>&1 &\nB=$!\n" ++
                    wait_socket() ++
                    case maps:get(broker_dir, Opts, undefined) of
                        undefined -> "";
                        DirMode -> "chmod " ++ DirMode ++ " /run/procket\n"
                    end;
            {false, true} ->
                %% not a broker: a program of uid 65533 listening there, its
                %% socket file then given to root
                "mkdir -m 777 /run/procket\n"
                "setpriv --reuid=65533 --regid=65533 --clear-groups socat "
                "UNIX-LISTEN:/run/procket/procket.sock,type=5,fork /dev/null "
                ">\"$STAGE/impostor.log\" 2>&1 &\nB=$!\n" ++
                    wait_socket() ++
                    "chown 0:0 /run/procket/procket.sock\n"
                    "chmod 0666 /run/procket/procket.sock\n"
                    "chown 0:0 /run/procket && chmod 755 /run/procket\n";
            _ -> "B=\n"
        end ++
        "set +e\n" ++ Setpriv ++ " " ++ Cmd ++ " 2>&1\nrc=$?\n"
        "[ -z \"$B\" ] || kill $B\n"
        "exit $rc\n",
    ct:log("~s", [Script]),
    Port = open_port({spawn_executable, os:find_executable("unshare")},
                     [{args, ["--mount", "--propagation", "private", "--net", "sh", "-c",
                              Script]},
                      exit_status, binary, stderr_to_stdout, hide]),
    {Status, Out} = collect(Port, []),
    ct:log("exit ~p~n~ts", [Status, Out]),
    {Status, binary_to_list(Out)}.

wait_socket() ->
    "i=0; while [ ! -S /run/procket/procket.sock ] && [ $i -lt 50 ]; do "
    "sleep 0.1; i=$((i+1)); done\n".

layer_policy(_, none) ->
    ok;
layer_policy(Etc, {Text, Mode, Owner}) ->
    F = filename:join(Etc, "procket.conf"),
    ok = file:write_file(F, Text),
    ok = file:change_owner(F, Owner, 0),
    file:change_mode(F, Mode).

layer_sudoers(_, none) ->
    ok;
layer_sudoers(Etc, Text) ->
    D = filename:join(Etc, "sudoers.d"),
    ok = make_dir(D, 8#750),
    F = filename:join(D, "procket_doctor"),
    ok = file:write_file(F, Text),
    file:change_mode(F, 8#440).

collect(Port, Acc) ->
    receive
        {Port, {data, D}} -> collect(Port, [D | Acc]);
        {Port, {exit_status, S}} -> {S, iolist_to_binary(lists:reverse(Acc))}
    after 60000 ->
            ct:fail(doctor_timeout)
    end.

%% --- assertions -------------------------------------------------------------

lines(Out) ->
    string:split(Out, "\n", all).

has(Out, Text) ->
    case string:find(Out, Text) of
        nomatch -> ct:fail({missing, Text});
        _ -> ok
    end.

%% The item's line is followed by a fix line that says Text.
has_fix(Out, Item, Text) ->
    case lists:dropwhile(fun(L) -> not item_line(L, Item) end, lines(Out)) of
        [_, "  fix: " ++ Fix | _] ->
            case string:find(Fix, Text) of
                nomatch -> ct:fail({fix, Item, Fix});
                _ -> ok
            end;
        _ ->
            ct:fail({no_fix, Item})
    end.

item_line(L, Item) ->
    lists:any(fun(S) -> lists:prefix(S ++ ": " ++ Item ++ ": ", L) end,
              ["warning", "problem"]).

verdict(Out, Way) ->
    case [L || "verdict: " ++ L <- lines(Out)] of
        [V] ->
            case lists:prefix(Way ++ ": ", V) of
                true -> ok;
                false -> ct:fail({verdict, V, Way})
            end;
        Other ->
            ct:fail({verdicts, Other})
    end.

verdict_line(Out) ->
    case [L || "verdict: " ++ _ = L <- lines(Out)] of
        [V] -> V;
        Other -> ct:fail({verdicts, Other})
    end.

item(Name, Checks) ->
    case [C || #{item := I} = C <- Checks, I =:= Name] of
        [C] -> C;
        _ -> ct:fail({item, Name, Checks})
    end.

%% --- helpers ----------------------------------------------------------------

run(Cmd) ->
    case os:cmd(Cmd ++ " >/dev/null 2>&1; echo $?") of
        "0\n" -> ok;
        Other -> {error, {Cmd, Other}}
    end.

