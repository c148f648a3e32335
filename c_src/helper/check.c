/*
 * check.c - `procket --check`: the doctor.
 *
 * Says, in plain words, how procket would work for the user who runs it,
 * and what to fix: one line per item, "STATUS: ITEM: text" (STATUS ok,
 * warning or problem), a "  fix: ..." line under an item that is not ok,
 * and last "verdict: WAY: text", WAY one of root, broker, setuid,
 * capabilities, sudo, none. Exit 0 when nothing the doctor can see stops
 * procket for this user (a policy file it cannot read may: the verdict
 * then says so), 1 when something does.
 *
 * A setuid helper must not become a way to read or do as root what the
 * user could not: before it looks at anything, the doctor notes only what
 * this very run was given (effective uid 0, capabilities, the caller's
 * no_new_privs, which it inherited), then becomes the caller for good with
 * privsep.c's own code (become_caller, drop_all, verify_dropped: every
 * capability gone, no_new_privs set, uid 0 not regainable). Everything
 * after that (the helper's file, the policy, the broker's socket, sysctls,
 * /dev/net/tun) is seen as the user sees it: a policy file the user cannot
 * read is reported as such, and what it grants is not told.
 *
 * The policy is judged by policy.c itself (policy_load: the same
 * trust rules and parser the helper uses) and what it grants this user by
 * policy_decide on representative requests; the broker by the library's
 * own rule (procket_broker_peer_ok, lib/peer.c) on who listens.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "helper.h"
#include "../lib/peer.h"

#ifndef PROCKET_BROKER_SOCKET
#define PROCKET_BROKER_SOCKET "/run/procket/procket.sock"
#endif

#define ST_OK 0
#define ST_WARNING 1
#define ST_PROBLEM 2

static const char *const status_names[] = {"ok", "warning", "problem"};

static void item(int status, const char *name, const char *text, const char *fix)
{
    (void)printf("%s: %s: %s\n", status_names[status], name, text);
    if (status != ST_OK && fix != NULL && fix[0] != '\0')
        (void)printf("  fix: %s\n", fix);
}

/* How this run of the helper was privileged, noted before the drop. */
#define HOW_NONE 0
#define HOW_ROOT 1     /* root ran it: needs no helper */
#define HOW_SUDO 2     /* root through sudo, for SUDO_UID */
#define HOW_SETUID 3   /* effective uid 0 from the setuid bit */
#define HOW_CAPS 4     /* file capabilities */

#define NET_CAPS (CAPBIT(HCAP_NET_BIND_SERVICE) | CAPBIT(HCAP_NET_RAW) | CAPBIT(HCAP_NET_ADMIN))

static uint64_t permitted_caps(void)
{
    struct {
        uint32_t version;
        int pid;
    } h = {0x20080522, 0}; /* _LINUX_CAPABILITY_VERSION_3 */
    struct {
        uint32_t effective, permitted, inheritable;
    } d[2];

    memset(d, 0, sizeof(d));
    if (syscall(SYS_capget, &h, d) < 0)
        return 0;
    return (uint64_t)d[1].permitted << 32 | d[0].permitted;
}

/* "cap_net_bind_service,cap_net_raw" for the network capabilities in set */
static void cap_names(uint64_t set, char *buf, size_t len)
{
    static const struct {
        int bit;
        const char *name;
    } names[] = {{HCAP_NET_BIND_SERVICE, "cap_net_bind_service"},
                 {HCAP_NET_ADMIN, "cap_net_admin"},
                 {HCAP_NET_RAW, "cap_net_raw"}};

    buf[0] = '\0';
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (set & CAPBIT(names[i].bit)) {
            if (buf[0] != '\0')
                (void)strncat(buf, ",", len - strlen(buf) - 1);
            (void)strncat(buf, names[i].name, len - strlen(buf) - 1);
        }
    if (buf[0] == '\0')
        (void)snprintf(buf, len, "no network capability");
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The file capabilities of path (security.capability, vfs_cap_data, little
 * endian): 1 and the permitted set and whether they are effective, 0 for
 * none, -1 for an attribute the doctor cannot read. */
static int file_caps(const char *path, uint64_t *permitted, int *effective)
{
    unsigned char v[24];
    ssize_t n = getxattr(path, "security.capability", v, sizeof(v));
    uint32_t magic;

    if (n < 0)
        return errno == ENODATA || errno == ENOTSUP ? 0 : -1;
    if (n < 12)
        return -1;
    magic = le32(v);
    *effective = (magic & 1u) != 0;
    *permitted = le32(v + 4);
    if ((magic & 0xff000000u) != 0x01000000u && n >= 20)
        *permitted |= (uint64_t)le32(v + 12) << 32;
    return 1;
}

/* ---- the policy ------------------------------------------------------ */

static struct policy pol; /* large: not on the stack */

/* policy_load(), its message on stderr caught (the report says it) */
static int load_policy(char *msg, size_t len)
{
    int p[2], saved, rc;
    ssize_t n;

    msg[0] = '\0';
    if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
        return policy_load(&pol, PROCKET_POLICY_FILE);
    (void)fflush(stderr);
    saved = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
    if (saved < 0 || dup2(p[1], STDERR_FILENO) < 0) {
        if (saved >= 0)
            (void)close(saved);
        (void)close(p[0]);
        (void)close(p[1]);
        return policy_load(&pol, PROCKET_POLICY_FILE);
    }
    rc = policy_load(&pol, PROCKET_POLICY_FILE);
    (void)dup2(saved, STDERR_FILENO);
    (void)close(saved);
    (void)close(p[1]);
    n = read(p[0], msg, len - 1);
    (void)close(p[0]);
    msg[n > 0 ? (size_t)n : 0] = '\0';
    /* one line, without the "procket: policy: " of say() */
    msg[strcspn(msg, "\n")] = '\0';
    if (strncmp(msg, PROGNAME ": policy: ", strlen(PROGNAME ": policy: ")) == 0)
        memmove(msg, msg + strlen(PROGNAME ": policy: "),
                strlen(msg) - strlen(PROGNAME ": policy: ") + 1);
    return rc;
}

/* Directories above the policy file that someone other than root could
 * replace it through: the helper does not refuse the file for them, but
 * whoever can write there can write the policy. */
static void weak_parents(char *out, size_t len)
{
    char dir[256];
    struct stat st;
    char *slash;

    out[0] = '\0';
    (void)snprintf(dir, sizeof(dir), "%s", PROCKET_POLICY_FILE);
    while ((slash = strrchr(dir, '/')) != NULL) {
        *(slash == dir ? slash + 1 : slash) = '\0';
        if (lstat(dir, &st) == 0 &&
            (st.st_uid != 0 || ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX))) &&
            out[0] == '\0')
            (void)snprintf(out, len, "%s", dir);
        if (slash == dir)
            break;
    }
}

static int in_groups(const struct identity *who, uint32_t gid)
{
    if (who->gid == gid)
        return 1;
    for (size_t g = 0; g < who->ngroups; g++)
        if (who->groups[g] == gid)
            return 1;
    return 0;
}

/* Lines of the allow rules that could name this user for kind under
 * conditions, before the first rule that denies this user that kind
 * outright (a deny without conditions: nothing after it can grant the
 * kind). Only a hint: policy_decide says what a request gets. Whole
 * numbers only: a line that does not fit is left out, with "...". */
static void rule_lines(const struct identity *who, unsigned kind, char *buf, size_t len)
{
    size_t used = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < pol.n; i++) {
        const struct policy_rule *r = &pol.rules[i];
        char one[16];
        int n;
        if (r->kinds != 0 && !(r->kinds & kind))
            continue;
        if ((r->who == POLICY_WHO_UID && r->id != who->uid) ||
            (r->who == POLICY_WHO_GID && !in_groups(who, r->id)))
            continue;
        if (!r->allow) {
            if (r->conds == 0)
                break;
            continue;
        }
        n = snprintf(one, sizeof(one), "%s%u", used ? "," : "", r->line);
        if (n < 0 || used + (size_t)n + 5 > len) {
            if (used + 5 <= len)
                (void)snprintf(buf + used, len - used, ",...");
            break;
        }
        memcpy(buf + used, one, (size_t)n + 1);
        used += (size_t)n;
    }
}

/* The ports 1-65535 of protocol proto policy_decide grants who, as
 * ranges ("1-511,1024-65535"); the number granted below 1024. A range is
 * never cut: when the next one does not fit, it and the rest are left
 * out and counted (" (and 12 more ranges)"). len is at least 64. */
#define MORE_ROOM 32 /* " (and 65535 more ranges)" */
static int port_ranges(const struct policy *p, const struct identity *who, int type,
                       int proto, char *buf, size_t len)
{
    struct procket_request req;
    char why[128], one[32];
    int start = -1, low = 0, n;
    size_t used = 0;
    unsigned left_out = 0;

    buf[0] = '\0';
    procket_request_init(&req);
    req.type = type;
    req.protocol = proto;
    for (int port = 1; port <= 65536; port++) {
        int yes = 0;
        if (port <= 65535) {
            req.port = port;
            yes = policy_decide(p, who, &req, policy_ifindex_here, why, sizeof(why), NULL);
        }
        if (yes && port < 1024)
            low++;
        if (yes && start < 0)
            start = port;
        if (!yes && start >= 0) {
            if (start == port - 1)
                n = snprintf(one, sizeof(one), "%s%d", used ? "," : "", start);
            else
                n = snprintf(one, sizeof(one), "%s%d-%d", used ? "," : "", start, port - 1);
            if (left_out > 0 || n < 0 || used + (size_t)n + MORE_ROOM > len) {
                left_out++;
            } else {
                memcpy(buf + used, one, (size_t)n + 1);
                used += (size_t)n;
            }
            start = -1;
        }
    }
    if (used == 0)
        (void)snprintf(buf, len, "none");
    else if (left_out > 0)
        (void)snprintf(buf + used, len - used, " (and %u more range%s)", left_out,
                       left_out == 1 ? "" : "s");
    return low;
}

/* What the policy (p; NULL: the defaults) grants who. The number of
 * privileged things granted for sure (ports below 1024, kinds); in *maybe
 * the number of kinds that only an allow rule with conditions could
 * grant (those do not count: the doctor cannot tell the conditions). */
static int grants(const struct policy *p, const struct identity *who, char *buf, size_t len,
                  int *maybe)
{
    static const struct {
        unsigned kind;
        int family, type, protocol, device;
    } kinds[] = {
        {POLICY_K_ICMP, AF_INET, SOCK_RAW, IPPROTO_ICMP, PROCKET_DEV_NONE},
        {POLICY_K_RAW, AF_INET, SOCK_RAW, IPPROTO_RAW, PROCKET_DEV_NONE},
        {POLICY_K_PACKET, AF_PACKET, SOCK_RAW, 0x0300 /* htons(ETH_P_ALL) */, PROCKET_DEV_NONE},
        {POLICY_K_TUN, AF_UNSPEC, 0, 0, PROCKET_DEV_TUN},
        {POLICY_K_TAP, AF_UNSPEC, 0, 0, PROCKET_DEV_TAP},
    };
    char tcp[256], udp[256], yes[128] = "", some[512] = "", no[64] = "", lines[48], one[128];
    char why[128];
    int n;

    *maybe = 0;
    n = port_ranges(p, who, SOCK_STREAM, IPPROTO_TCP, tcp, sizeof(tcp));
    n += port_ranges(p, who, SOCK_DGRAM, IPPROTO_UDP, udp, sizeof(udp));
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        struct procket_request req;
        const char *name = policy_kind_name(kinds[i].kind);
        procket_request_init(&req);
        req.family = kinds[i].family;
        req.type = kinds[i].type;
        req.protocol = kinds[i].protocol;
        req.device = kinds[i].device;
        if (policy_decide(p, who, &req, policy_ifindex_here, why, sizeof(why), NULL)) {
            (void)snprintf(one, sizeof(one), "%s%s", yes[0] ? ", " : "", name);
            (void)strncat(yes, one, sizeof(yes) - strlen(yes) - 1);
            n++;
            continue;
        }
        lines[0] = '\0';
        if (p != NULL && who->uid != 0)
            rule_lines(who, kinds[i].kind, lines, sizeof(lines));
        if (lines[0] != '\0') {
            (void)snprintf(one, sizeof(one), "%s%s (may be granted, under the conditions of "
                           "line%s %s)", some[0] ? ", " : "", name,
                           strchr(lines, ',') != NULL ? "s" : "", lines);
            (void)strncat(some, one, sizeof(some) - strlen(some) - 1);
            (*maybe)++;
        } else {
            (void)snprintf(one, sizeof(one), "%s%s", no[0] ? ", " : "", name);
            (void)strncat(no, one, sizeof(no) - strlen(no) - 1);
        }
    }
    (void)snprintf(buf, len, "tcp ports %s; udp ports %s; %s%s%s%s%s%s", tcp, udp,
                   yes[0] ? yes : "", yes[0] && (some[0] || no[0]) ? "; " : "",
                   some[0] ? some : "", some[0] && no[0] ? "; " : "",
                   no[0] ? "not: " : "", no);
    return n;
}

/* ---- the broker's socket ----------------------------------------------- */

#define BROKER_ABSENT 0
#define BROKER_USABLE 1
#define BROKER_BROKEN 2
#define BROKER_NOFD 3 /* no descriptor left to connect with */

static int out_of_fds(int err)
{
    return err == EMFILE || err == ENFILE;
}

/* The broker as the library judges it (procket_open_broker): connect,
 * and ask who listens (SO_PEERCRED): root, or in a user namespace that
 * does not map root the overflow uid with the path as the broker insists
 * (procket_broker_peer_ok, the library's own rule). The socket file's
 * owner and mode say only who may connect. userns: this process is not
 * in the first user namespace. */
static int check_broker(int userns, char *text, size_t len, char *fix, size_t fixlen)
{
    const char *path = PROCKET_BROKER_SOCKET;
    struct sockaddr_un sun;
    struct ucred cred;
    socklen_t clen = sizeof(cred);
    struct stat st;
    char who[128];
    int s, err = 0, tries = 0;

    fix[0] = '\0';
    if (lstat(path, &st) < 0) {
        (void)snprintf(text, len, "no broker socket at %s (%s)", path,
                       errno == ENOENT ? "no broker runs" : strerror(errno));
        (void)snprintf(fix, fixlen,
                       "start the broker as root (procket -l %s, or its systemd socket unit)%s",
                       path, userns ? ", outside this user namespace, its socket reachable "
                                      "here" : "");
        return BROKER_ABSENT;
    }
    if (!S_ISSOCK(st.st_mode)) {
        (void)snprintf(text, len, "%s is not a socket: procket does not use it", path);
        (void)snprintf(fix, fixlen, "remove it and start the broker (procket -l %s)", path);
        return BROKER_BROKEN;
    }
    (void)snprintf(who, sizeof(who), "the socket file (owner uid %u, group %u, mode %04o) "
                   "lets %s connect", (unsigned)st.st_uid, (unsigned)st.st_gid,
                   (unsigned)(st.st_mode & 07777),
                   (st.st_mode & 0002) ? "everyone"
                   : (st.st_mode & 0020) ? "its group and its owner" : "only its owner");
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, path, strlen(path));
    s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s < 0) {
        err = errno;
    } else {
        /* a full backlog (a busy broker): a little while, as the library */
        while (connect(s, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
            err = errno;
            if (err == EINTR)
                continue;
            if (err != EAGAIN || ++tries > 50)
                break;
            struct timespec ts = {0, 10 * 1000000L};
            (void)nanosleep(&ts, NULL);
            err = 0;
        }
        if (err == 0 && getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0)
            err = errno;
        (void)close(s);
    }
    if (out_of_fds(err)) {
        (void)snprintf(text, len, "could not connect to %s: no file descriptor left (%s)",
                       path, strerror(err));
        (void)snprintf(fix, fixlen, "raise the limit on open files (ulimit -n)");
        return BROKER_NOFD;
    }
    if (err == 0 && procket_broker_peer_ok(path, cred.uid)) {
        if (cred.uid == 0)
            (void)snprintf(text, len, "a broker runs as root at %s (SO_PEERCRED) and you may "
                           "connect; %s", path, who);
        else
            (void)snprintf(text, len, "a broker listens at %s as uid %u, the overflow uid: "
                           "root outside this user namespace, which does not map it, and "
                           "every directory to the socket is as the broker insists; you may "
                           "connect; %s", path, (unsigned)cred.uid, who);
        return BROKER_USABLE;
    }
    if (err == 0) {
        long overflow = procket_overflow_uid();
        (void)snprintf(text, len, "something listens at %s as uid %u, not root "
                       "(SO_PEERCRED): procket asks only a broker that runs as root%s; %s",
                       path, (unsigned)cred.uid,
                       !userns ? ""
                       : (long)cred.uid == overflow
                           ? " (in this user namespace root shows as the overflow uid, but "
                             "then every directory to the socket must be root's or the "
                             "overflow uid's and writable by no one else)"
                           : " (in this user namespace root shows as the overflow uid)",
                       who);
        (void)snprintf(fix, fixlen, "stop what listens there and start the broker as root "
                       "(procket -l %s)", path);
        return BROKER_BROKEN;
    }
    if (err == EAGAIN) {
        (void)snprintf(text, len, "a socket at %s has its backlog full (busy): who listens "
                       "could not be asked; %s", path, who);
        (void)snprintf(fix, fixlen, "run --check again when the broker is less busy");
        return BROKER_BROKEN;
    }
    if (err == EACCES || err == EPERM) {
        (void)snprintf(text, len, "a broker socket is at %s, but you may not connect: %s",
                       path, who);
        (void)snprintf(fix, fixlen, "give the socket a group you are in (procket -l %s -g "
                                    "GROUP, or SocketGroup= in the socket unit), or mode 0666",
                       path);
    } else {
        (void)snprintf(text, len, "%s is there but nobody answers (%s): the broker is not "
                                  "running", path, strerror(err));
        (void)snprintf(fix, fixlen, "start the broker as root (procket -l %s)", path);
    }
    return BROKER_BROKEN;
}

/* The policy's state */
#define PS_NONE 0       /* no file: the defaults */
#define PS_TRUSTED 1    /* read and trusted by policy_load */
#define PS_UNREADABLE 2 /* owner and mode as policy_load wants, but the user cannot read it */
#define PS_REFUSED 3    /* refused by policy_load */
#define PS_NOFD 4       /* no descriptor left to open it with */
#define PS_OUTSIDE 5    /* a user namespace: the broker outside reads its own */

/* ---- the rest ---------------------------------------------------------- */

static void check_ping(const struct identity *who)
{
    char buf[64], text[256], fix[256];
    unsigned long lo = 1, hi = 0;
    ssize_t n = -1;
    int fd = open("/proc/sys/net/ipv4/ping_group_range", O_RDONLY | O_CLOEXEC);
    int in = 0, err = errno;

    if (fd < 0 && out_of_fds(err)) {
        (void)snprintf(text, sizeof(text), "cannot read net.ipv4.ping_group_range: no file "
                       "descriptor left (%s)", strerror(err));
        item(ST_WARNING, "ping_group_range", text, "raise the limit on open files (ulimit -n)");
        return;
    }
    if (fd >= 0) {
        n = read(fd, buf, sizeof(buf) - 1);
        (void)close(fd);
    }
    if (n <= 0 || (buf[n] = '\0', sscanf(buf, "%lu %lu", &lo, &hi) != 2)) {
        item(ST_WARNING, "ping_group_range",
             "cannot read net.ipv4.ping_group_range: ICMP needs procket (icmp)", NULL);
        return;
    }
    for (size_t g = 0; g <= who->ngroups && !in; g++) {
        unsigned long gid = g == who->ngroups ? who->gid : who->groups[g];
        in = gid >= lo && gid <= hi;
    }
    if (in) {
        (void)snprintf(text, sizeof(text),
                       "a group of yours is in net.ipv4.ping_group_range (%lu %lu): ICMP "
                       "datagram sockets (ping) need no privileges", lo, hi);
        item(ST_OK, "ping_group_range", text, NULL);
        return;
    }
    (void)snprintf(text, sizeof(text),
                   "no group of yours (gid %u) is in net.ipv4.ping_group_range (%lu %lu): "
                   "ICMP needs a raw socket from procket", (unsigned)who->gid, lo, hi);
    (void)snprintf(fix, sizeof(fix),
                   "sysctl -w net.ipv4.ping_group_range='%u %u' (or a range with one of "
                   "your groups), if unprivileged ping sockets are wanted",
                   (unsigned)who->gid, (unsigned)who->gid);
    item(ST_WARNING, "ping_group_range", text, fix);
}

static void check_tun(void)
{
    char msg[256];
    const char *path = "/dev/net/tun";
    struct stat st;
    int fd;

    if (lstat(path, &st) < 0) {
        item(ST_WARNING, "tun", "there is no /dev/net/tun: tun and tap devices cannot be made",
             "load the tun module (modprobe tun); in a container, make the node: "
             "mknod /dev/net/tun c 10 200");
        return;
    }
    if (!S_ISCHR(st.st_mode) || major(st.st_rdev) != 10 || minor(st.st_rdev) != 200) {
        item(ST_WARNING, "tun", "/dev/net/tun is not the tun device (character 10:200): "
                                "procket refuses it",
             "replace it: mknod /dev/net/tun c 10 200");
        return;
    }
    fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
    if (fd >= 0) {
        (void)close(fd);
        item(ST_OK, "tun", "/dev/net/tun is there and you may open it", NULL);
    } else if (out_of_fds(errno)) {
        (void)snprintf(msg, sizeof(msg), "/dev/net/tun is there, but no file descriptor was "
                       "left to try it with (%s)", strerror(errno));
        item(ST_WARNING, "tun", msg, "raise the limit on open files (ulimit -n)");
    } else {
        (void)snprintf(msg, sizeof(msg), "/dev/net/tun is there (you may not open it "
                       "yourself: %s; the helper or the broker opens it for you, by rule)",
                       strerror(errno));
        item(ST_OK, "tun", msg, NULL);
    }
}

int check_main(int argc, char *argv[], const struct invocation *inv)
{
    struct identity who;
    struct stat st, pst;
    struct statvfs vfs;
    char exe[512], text[2048], fix[2048], msg[512], weak[256], granted[1536];
    char btext[1024], bfix[512];
    uint64_t perm, fperm = 0;
    int how, nnp, fcaps, feff = 0, setuid_root, nosuid, policy_rc, broker, pstate, nothing = 0;
    int rc, unused, userns, unmapped_owner, maybe = 0;
    long overflow;
    ssize_t n;
    const char *verdict;

    (void)argv;
    if (argc != 2) {
        say("args", "--check takes no other argument");
        return PROCKET_EXIT_USAGE;
    }

    /* What this run was given, before anything else is looked at. */
    nnp = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1;
    perm = permitted_caps();
    if (inv->ruid == 0)
        how = inv->sudo ? HOW_SUDO : HOW_ROOT;
    else if (geteuid() == 0)
        how = HOW_SETUID;
    else if ((perm & NET_CAPS) != 0)
        how = HOW_CAPS;
    else
        how = HOW_NONE;

    /* Then the caller, for good: privsep.c's drop, verified. */
    memset(&who, 0, sizeof(who));
    rc = identify_invoker(inv, &who);
    if (rc < 0) {
        say("identify", "cannot tell your groups: %s", strerror(-rc));
        return PROCKET_EXIT_INTERNAL;
    }
    if (become_caller(&who, 0, &unused) < 0 || drop_all() < 0 || verify_dropped(&who) < 0) {
        say("check", "could not drop privileges; nothing checked");
        return PROCKET_EXIT_PRIVILEGE;
    }

    (void)printf("procket --check: for uid %u (gid %u)\n", (unsigned)who.uid,
                 (unsigned)who.gid);

    /* the helper's file, as the user sees it */
    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n < 0)
        (void)snprintf(exe, sizeof(exe), "(unknown path)");
    else
        exe[n] = '\0';
    if (stat("/proc/self/exe", &st) < 0)
        memset(&st, 0, sizeof(st));
    setuid_root = (st.st_mode & S_ISUID) && st.st_uid == 0;
    fcaps = file_caps("/proc/self/exe", &fperm, &feff);
    nosuid = statvfs("/proc/self/exe", &vfs) == 0 && (vfs.f_flag & ST_NOSUID);

    /* A user namespace (a container, unshare --user) whose uid_map is not
     * the first namespace's identity map: a file whose owner it does not
     * map (root's, outside) shows as the overflow uid, and the kernel
     * ignores the setuid bit and file capabilities of such a file. */
    userns = !procket_userns_initial();
    overflow = procket_overflow_uid();
    unmapped_owner = userns && (long)st.st_uid == overflow &&
                     ((st.st_mode & S_ISUID) || fcaps == 1);

    /* the policy, by policy.c, as the user; the broker as the library
     * judges it (one connect, reported below) */
    policy_rc = load_policy(msg, sizeof(msg));
    broker = check_broker(userns, btext, sizeof(btext), bfix, sizeof(bfix));

    /* the policy's state */
    if (policy_rc == -EMFILE || policy_rc == -ENFILE)
        pstate = PS_NOFD;
    else if (userns && how == HOW_NONE)
        pstate = PS_OUTSIDE; /* only a broker outside could serve: its policy */
    else if (policy_rc == 0)
        pstate = lstat(PROCKET_POLICY_FILE, &pst) < 0 ? PS_NONE : PS_TRUSTED;
    else if (policy_rc == -EACCES && lstat(PROCKET_POLICY_FILE, &pst) == 0 &&
             S_ISREG(pst.st_mode) && pst.st_uid == 0 &&
             !(pst.st_mode & (S_IWGRP | S_IWOTH)) && pst.st_size <= POLICY_FILE_MAX &&
             access(PROCKET_POLICY_FILE, R_OK) < 0 && errno == EACCES)
        pstate = PS_UNREADABLE;
    else
        pstate = PS_REFUSED;

    /* the verdict first (the items' statuses depend on it), said last */
    if ((pstate == PS_NONE || pstate == PS_TRUSTED) && how != HOW_ROOT)
        nothing = grants(pol.n > 0 ? &pol : NULL, &who, granted, sizeof(granted), &maybe) == 0;
    if (how == HOW_ROOT)
        verdict = "root";
    else if (pstate == PS_REFUSED || pstate == PS_NOFD || nothing)
        verdict = "none";
    else if (broker == BROKER_USABLE)
        verdict = "broker";
    else if (how == HOW_SETUID)
        verdict = "setuid";
    else if (how == HOW_CAPS)
        verdict = "capabilities";
    else if (how == HOW_SUDO)
        verdict = "sudo";
    else
        verdict = "none";
    int works = strcmp(verdict, "none") != 0;
    int via_broker = strcmp(verdict, "broker") == 0;

    /* helper */
    if (unmapped_owner && how != HOW_ROOT && how != HOW_SUDO) {
        (void)snprintf(text, sizeof(text), "%s: owner uid %u, mode %04o%s: in this user "
                       "namespace uid %u is the overflow uid, an owner the namespace does not "
                       "map (root, outside it), and the kernel ignores the setuid bit and file "
                       "capabilities of such a file: run directly it cannot open privileged "
                       "sockets here", exe, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777),
                       fcaps == 1 ? ", file capabilities" : "", (unsigned)st.st_uid);
        item(works ? ST_WARNING : ST_PROBLEM, "helper", text,
             "use the broker: start it as root outside this user namespace (procket -l "
             PROCKET_BROKER_SOCKET ") with its socket reachable here; nothing done to "
             "the helper's file inside it can help");
    } else if (how == HOW_ROOT || how == HOW_SUDO || setuid_root || fcaps == 1) {
        char caps[96];
        cap_names(fperm, caps, sizeof(caps));
        if (setuid_root)
            (void)snprintf(text, sizeof(text), "%s: owner root, mode %04o: setuid root", exe,
                           (unsigned)(st.st_mode & 07777));
        else if (fcaps == 1)
            (void)snprintf(text, sizeof(text), "%s: owner uid %u, mode %04o, file "
                           "capabilities %s%s%s", exe, (unsigned)st.st_uid,
                           (unsigned)(st.st_mode & 07777), caps, feff ? " (effective)" : "",
                           (fperm & CAPBIT(HCAP_NET_ADMIN)) ? ""
                                                            : " (no cap_net_admin: no tun or tap)");
        else
            (void)snprintf(text, sizeof(text), "%s: owner uid %u, mode %04o (run by root%s)",
                           exe, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777),
                           how == HOW_SUDO ? " through sudo" : "");
        item(fcaps == 1 && !feff && !setuid_root ? ST_WARNING : ST_OK, "helper", text,
             "make the capabilities effective: setcap cap_net_bind_service,cap_net_raw,"
             "cap_net_admin+ep on the helper");
    } else {
        if ((st.st_mode & S_ISUID) && st.st_uid != 0)
            (void)snprintf(text, sizeof(text), "%s: setuid, but owned by uid %u, not root: "
                           "run directly it cannot open privileged sockets", exe,
                           (unsigned)st.st_uid);
        else
            (void)snprintf(text, sizeof(text), "%s: owner uid %u, mode %04o: not setuid root "
                           "and no file capabilities: run directly it cannot open "
                           "privileged sockets", exe, (unsigned)st.st_uid,
                           (unsigned)(st.st_mode & 07777));
        (void)snprintf(fix, sizeof(fix), "as root: chown root:root %s && chmod 4755 %s (or "
                       "setcap cap_net_bind_service,cap_net_raw,cap_net_admin+ep %s; or a "
                       "sudo rule; or the broker)", exe, exe, exe);
        item(works ? ST_WARNING : ST_PROBLEM, "helper", text, fix);
    }

    /* its file system */
    if (!nosuid) {
        item(ST_OK, "mount", "the helper's file system is mounted without nosuid", NULL);
    } else {
        (void)snprintf(text, sizeof(text), "the helper's file system is mounted nosuid: setuid "
                       "and file capabilities are ignored for %s", exe);
        item((setuid_root || fcaps == 1) && how != HOW_ROOT && how != HOW_SUDO && !works
                 ? ST_PROBLEM : ST_WARNING,
             "mount", text, "install the helper on a file system mounted without nosuid, "
             "or use the broker");
    }

    /* no_new_privs, the caller's */
    if (!nnp)
        item(ST_OK, "no_new_privs", "no_new_privs is not set in the calling process", NULL);
    else if (how == HOW_SETUID || how == HOW_CAPS)
        item(ST_WARNING, "no_new_privs", "no_new_privs is set in the calling process, yet "
             "this run was privileged: setuid and file capabilities are normally ignored "
             "then, and sudo is",
             "start this program without no_new_privs, or use the broker");
    else
        item(how == HOW_ROOT ? ST_OK : via_broker ? ST_WARNING : ST_PROBLEM, "no_new_privs",
             via_broker ? "no_new_privs is set in the calling process: setuid, file "
                          "capabilities and sudo do not work here, the broker does"
                        : "no_new_privs is set in the calling process: setuid, file "
                          "capabilities and sudo do not work here; only the broker can",
             "start the broker as root (procket -l " PROCKET_BROKER_SOCKET
             ", or its systemd socket unit), or start this program without no_new_privs");

    /* did this run get privileges? */
    switch (how) {
    case HOW_ROOT:
        item(ST_OK, "privileges", "you are root: procket opens everything for root", NULL);
        break;
    case HOW_SUDO:
        item(ST_OK, "privileges", "this run was root through sudo", NULL);
        break;
    case HOW_SETUID:
        item(ST_OK, "privileges", "this run had root privileges (setuid root)", NULL);
        break;
    case HOW_CAPS: {
        char caps[96];
        cap_names(perm, caps, sizeof(caps));
        (void)snprintf(text, sizeof(text), "this run had file capabilities: %s", caps);
        item(ST_OK, "privileges", text, NULL);
        break;
    }
    default:
        (void)snprintf(text, sizeof(text), "this run had no privileges%s",
                       nnp ? " (no_new_privs)"
                       : unmapped_owner ? " (a user namespace that does not map the helper's "
                                          "owner)"
                       : nosuid && (setuid_root || fcaps == 1) ? " (nosuid mount)"
                       : !(setuid_root || fcaps == 1) ? " (not installed setuid root)" : "");
        item(works ? ST_WARNING : ST_PROBLEM, "privileges", text,
             nnp || unmapped_owner ? "use the broker"
             : nosuid ? "move the helper off the nosuid mount"
                      : "install the helper setuid root (chmod 4755, owner root) or use the "
                        "broker");
        break;
    }

    /* the policy */
    weak_parents(weak, sizeof(weak));
    if (pstate == PS_NONE) {
        item(ST_OK, "policy", "no " PROCKET_POLICY_FILE ": the built-in defaults apply", NULL);
    } else if (pstate == PS_TRUSTED) {
        (void)snprintf(text, sizeof(text), PROCKET_POLICY_FILE " is trusted (owner root, mode "
                       "%04o) and every line parses: %zu rule%s%s%s%s",
                       (unsigned)(pst.st_mode & 07777), pol.n, pol.n == 1 ? "" : "s",
                       weak[0] ? "; but " : "", weak, weak[0] ? " can be written by "
                       "someone other than root" : "");
        item(weak[0] ? ST_WARNING : ST_OK, "policy", text,
             "make every directory above it root's and writable only by root");
    } else if (pstate == PS_UNREADABLE) {
        (void)snprintf(text, sizeof(text), "cannot read the policy file as you: "
                       PROCKET_POLICY_FILE " (owner root, mode %04o): its owner and mode are "
                       "as the helper wants, but what it grants you, perhaps nothing, cannot "
                       "be told", (unsigned)(pst.st_mode & 07777));
        item(ST_WARNING, "policy", text, "ask the administrator what it grants you, or let "
             "users read it (chmod 0644 " PROCKET_POLICY_FILE ")");
    } else if (pstate == PS_OUTSIDE) {
        item(ST_OK, "policy", "this is a user namespace that does not map root: only the "
             "broker, running outside it, can serve you, and it reads and judges its own "
             PROCKET_POLICY_FILE " there (the file here, if any, shows root as the overflow "
             "uid and is not judged)", NULL);
    } else if (pstate == PS_NOFD) {
        struct rlimit rl;
        char lim[32] = "?";
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
            (void)snprintf(lim, sizeof(lim), "%llu", (unsigned long long)rl.rlim_cur);
        (void)snprintf(text, sizeof(text), "could not open " PROCKET_POLICY_FILE ": no file "
                       "descriptor left (%s; the limit on open files is %s): the helper, "
                       "given as few, refuses every request", strerror(-policy_rc), lim);
        item(ST_PROBLEM, "policy", text, "raise the limit on open files (ulimit -n, "
             "RLIMIT_NOFILE) of the program that runs procket");
    } else {
        (void)snprintf(text, sizeof(text), "%s%s", msg[0] ? "not trusted: " : "",
                       msg[0] ? msg : PROCKET_POLICY_FILE " is not trusted: every request is "
                       "refused");
        item(ST_PROBLEM, "policy", text, "as root: chown root:root " PROCKET_POLICY_FILE
             " && chmod 0644 " PROCKET_POLICY_FILE ", not a symlink, every line a rule "
             "(procket.conf(5)), the last one ending in a newline");
    }

    /* what it grants this user */
    if (how == HOW_ROOT) {
        item(ST_OK, "grants", "root is granted everything (by the helper; the broker decides "
                              "for root as for anyone)", NULL);
    } else if (pstate == PS_NONE || pstate == PS_TRUSTED) {
        (void)snprintf(text, sizeof(text), "the policy grants you: %s", granted);
        item(nothing ? ST_PROBLEM : ST_OK, "grants", text,
             "add a rule for you to " PROCKET_POLICY_FILE " (procket.conf(5)), e.g. "
             "allow user NAME udp port=53");
    } else if (pstate == PS_UNREADABLE) {
        item(ST_WARNING, "grants", "unknown: you cannot read the policy file", NULL);
    } else if (pstate == PS_OUTSIDE) {
        item(ST_WARNING, "grants", "unknown: the broker decides outside this user namespace, "
             "for your uid there", NULL);
    } else if (pstate == PS_NOFD) {
        item(ST_PROBLEM, "grants", "unknown: the policy file could not be opened", NULL);
    } else {
        item(ST_PROBLEM, "grants", "nothing: the policy file is refused", NULL);
    }

    /* the broker, as seen above */
    item(broker == BROKER_USABLE ? ST_OK
         : broker == BROKER_ABSENT ? (works ? ST_OK : ST_WARNING)
         : (works ? ST_WARNING : ST_PROBLEM),
         "broker", btext, bfix);

    check_ping(&who);
    check_tun();

    const char *unsure = "";
    if (works && how != HOW_ROOT && pstate == PS_UNREADABLE)
        unsure = " (if the policy lets you: the policy file could not be read, and it may "
                 "refuse you)";
    else if (works && how != HOW_ROOT && pstate == PS_OUTSIDE)
        unsure = " (if the policy lets you: the broker reads it outside this user namespace, "
                 "and it may refuse you)";
    if (strcmp(verdict, "root") == 0)
        (void)printf("verdict: root: you are root: procket opens sockets directly\n");
    else if (via_broker)
        (void)printf("verdict: broker: procket gets your sockets from the broker at "
                     PROCKET_BROKER_SOCKET "%s\n", unsure);
    else if (strcmp(verdict, "setuid") == 0)
        (void)printf("verdict: setuid: procket gets your sockets from the setuid root helper "
                     "%s%s\n", exe, unsure);
    else if (strcmp(verdict, "capabilities") == 0)
        (void)printf("verdict: capabilities: procket gets your sockets from the helper %s "
                     "and its file capabilities%s\n", exe, unsure);
    else if (strcmp(verdict, "sudo") == 0)
        (void)printf("verdict: sudo: procket gets your sockets from the helper through "
                     "sudo%s\n", unsure);
    else
        (void)printf("verdict: none: procket cannot get privileged sockets for you%s\n",
                     nothing && maybe ? " (the policy grants you nothing for sure: what "
                                        "rules with conditions grant cannot be told here)"
                     : nothing ? " (the policy grants you nothing)"
                     : pstate == PS_REFUSED ? " (the policy file is refused)"
                     : pstate == PS_NOFD ? " (too few file descriptors: the limit on open "
                                           "files is too low)"
                     : "");
    (void)fflush(stdout);
    /* 0: nothing the doctor can see stops procket (a policy it cannot
     * read may: the verdict says so); 1: something does */
    return works ? PROCKET_EXIT_OK : PROCKET_EXIT_REFUSED;
}
