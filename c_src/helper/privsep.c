/*
 * privsep.c - who asked, becoming them, and proving the privileges gone.
 *
 * The socket is created as the caller: the helper switches to the
 * caller's uid, gid and groups first, keeping across the switch only the
 * capabilities the request needs, so the kernel records the caller as the
 * socket's owner. Then every capability goes, no_new_privs is set, and
 * verify_dropped() checks all of it, including that uid 0 cannot be
 * regained.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "helper.h"

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59
#endif
#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

/* The set*id calls go straight to the kernel. The C library's wrappers
 * make them apply to every thread: musl does it even in a process with
 * one thread, blocking and restoring all signals around each call, 4
 * system calls for 1. The helper never starts a thread, so the kernel's
 * per-thread credentials are the process's. On 32-bit x86 and ARM the
 * plain numbers take 16-bit ids: use the 32-bit ones there. */
#ifdef SYS_setresuid32
#define NR_SETRESUID SYS_setresuid32
#define NR_SETRESGID SYS_setresgid32
#define NR_SETUID SYS_setuid32
#define NR_SETGID SYS_setgid32
#define NR_SETGROUPS SYS_setgroups32
#else
#define NR_SETRESUID SYS_setresuid
#define NR_SETRESGID SYS_setresgid
#define NR_SETUID SYS_setuid
#define NR_SETGID SYS_setgid
#define NR_SETGROUPS SYS_setgroups
#endif

static int sys_setresuid(uid_t r, uid_t e, uid_t s)
{
    return (int)syscall(NR_SETRESUID, (long)r, (long)e, (long)s);
}

static int sys_setresgid(gid_t r, gid_t e, gid_t s)
{
    return (int)syscall(NR_SETRESGID, (long)r, (long)e, (long)s);
}

int hold_real_uid(void)
{
    return sys_setresuid(0, 0, 0) < 0 ? -errno : 0;
}

/* capget/capset, version 3: two 32-bit words per set. */
#define CAP_VERSION_3 0x20080522
struct cap_header {
    uint32_t version;
    int pid;
};
struct cap_data {
    uint32_t effective, permitted, inheritable;
};

static int caps_get(uint64_t *effective, uint64_t *permitted)
{
    struct cap_header h = {CAP_VERSION_3, 0};
    struct cap_data d[2];

    memset(d, 0, sizeof(d));
    if (syscall(SYS_capget, &h, d) < 0)
        return -errno;
    *effective = (uint64_t)d[1].effective << 32 | d[0].effective;
    *permitted = (uint64_t)d[1].permitted << 32 | d[0].permitted;
    return 0;
}

static int caps_set(uint64_t set)
{
    struct cap_header h = {CAP_VERSION_3, 0};
    struct cap_data d[2];

    memset(d, 0, sizeof(d));
    d[0].effective = d[0].permitted = (uint32_t)set;
    d[1].effective = d[1].permitted = (uint32_t)(set >> 32);
    if (syscall(SYS_capset, &h, d) < 0)
        return -errno;
    return 0;
}

/* Room for HELPER_MAX_GROUPS groups, for callers with more than
 * HELPER_FEW_GROUPS. From malloc, not static: static arrays this big
 * would move the C library's own variables onto pages of their own, one
 * more page fault on every run. Never freed: the helper exits soon. */
static gid_t *many_groups(void)
{
    return malloc(HELPER_MAX_GROUPS * sizeof(gid_t));
}

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

#ifndef PIDFD_GET_USER_NAMESPACE
#define PIDFD_GET_USER_NAMESPACE 0xff09 /* _IO(0xFF, 9), Linux 6.11 */
#endif

/* Reads a small file whole into buf (NUL-terminated); its length or -1.
 * No stdio: a worker touches no more memory than it must. */
static ssize_t read_small(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;

    if (fd < 0)
        return -1;
    n = read(fd, buf, size - 1);
    (void)close(fd);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    return n;
}

void broker_identity_init(struct invocation *inv)
{
    char buf[16];
    unsigned long v = 0;
    struct stat st;

    /* the overflow uid: what the kernel reports for a uid that has no
     * mapping in the reader's user namespace (user_namespaces(7)) */
    inv->overflow_uid = 65534;
    if (read_small("/proc/sys/kernel/overflowuid", buf, sizeof(buf)) > 0) {
        for (char *c = buf; *c >= '0' && *c <= '9'; c++)
            v = v * 10 + (unsigned long)(*c - '0');
        inv->overflow_uid = (uid_t)v;
    }
    if (stat("/proc/self/ns/user", &st) == 0) {
        inv->userns_dev = st.st_dev;
        inv->userns_ino = st.st_ino;
    }
}

/* 1 unless the caller (inv->peer_pidfd, from SO_PEERPIDFD: the process
 * itself, no pid that could be reused) is known to be in the broker's
 * user namespace. Asked of the pidfd (PIDFD_GET_USER_NAMESPACE); on an
 * older kernel, of /proc/PID/ns/user with the pid from the pidfd's
 * fdinfo, the pidfd asked afterwards that the process is still alive
 * (signal 0: only ESRCH says it is gone). */
static int peer_in_other_userns(const struct invocation *inv)
{
    char path[64], text[1024];
    struct stat st;
    int pidfd = inv->peer_pidfd, ns;
    long pid = -1;

    if (pidfd < 0 || inv->userns_ino == 0)
        return 1;
    ns = ioctl(pidfd, PIDFD_GET_USER_NAMESPACE, 0);
    if (ns >= 0) {
        int other = fstat(ns, &st) < 0 || st.st_dev != inv->userns_dev ||
                    st.st_ino != inv->userns_ino;
        (void)close(ns);
        return other;
    }
    if (errno != ENOTTY && errno != EINVAL)
        return 1;
    (void)snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
    if (read_small(path, text, sizeof(text)) > 0) {
        char *p = strstr(text, "\nPid:");
        if (p != NULL)
            pid = strtol(p + 5, NULL, 10);
    }
    if (pid <= 0)
        return 1;
    (void)snprintf(path, sizeof(path), "/proc/%ld/ns/user", pid);
    if (stat(path, &st) < 0 || st.st_dev != inv->userns_dev || st.st_ino != inv->userns_ino)
        return 1;
    return syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) < 0 && errno == ESRCH;
}

int identify_peer(int chan, const struct invocation *inv,
                  struct identity *who)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);
    uid_t ruid = inv->ruid;
    int rc;

    if (getsockopt(chan, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
        len != sizeof(cred)) {
        say("identify_peer", "no peer credentials on the channel");
        return -EPROTO;
    }
    /* Run directly (setuid, file capabilities), the helper serves only
     * the user who ran it: a channel whose peer is someone else is a
     * socket the user connected to another user's (or root's) program. */
    if (ruid != 0 && cred.uid != ruid) {
        say("identify_peer", "channel peer uid %u is not the caller %u",
            (unsigned)cred.uid, (unsigned)ruid);
        return -EPERM;
    }
    /* Under sudo likewise: the peer is the user sudo names. (Root running
     * the helper itself may hand it anyone's channel.) */
    if (ruid == 0 && inv->sudo && cred.uid != inv->sudo_uid) {
        say("identify_peer", "channel peer uid %u is not the caller %u (SUDO_UID)",
            (unsigned)cred.uid, (unsigned)inv->sudo_uid);
        return -EPERM;
    }
    who->uid = cred.uid;
    who->gid = cred.gid;
    /* A broker's caller in another user namespace whose uid has no
     * mapping here shows as the overflow uid: any such caller would be
     * the same uid to the policy. Only a rule that names the uid grants it
     * anything (policy.c). */
    who->unmapped = inv->broker && cred.uid == inv->overflow_uid && peer_in_other_userns(inv);
    who->brokered = inv->broker;

    /* few first; ERANGE (and the size needed in len) if there are more */
    who->groups = who->few;
    len = (socklen_t)sizeof(who->few);
    rc = getsockopt(chan, SOL_SOCKET, SO_PEERGROUPS, who->groups, &len);
    if (rc < 0 && errno == ERANGE) {
        who->groups = many_groups();
        if (who->groups == NULL) {
            say("identify_peer", "out of memory");
            return -ENOMEM;
        }
        len = (socklen_t)(HELPER_MAX_GROUPS * sizeof(gid_t));
        rc = getsockopt(chan, SOL_SOCKET, SO_PEERGROUPS, who->groups, &len);
    }
    if (rc == 0) {
        who->ngroups = len / sizeof(gid_t);
    } else if (errno == ENOPROTOOPT) { /* kernel < 4.13 */
        who->groups[0] = cred.gid;
        who->ngroups = 1;
    } else {
        say("identify_peer", "cannot read the peer's groups: %s",
            strerror(errno));
        return -EPROTO;
    }
    return 0;
}

int identify_invoker(const struct invocation *inv, struct identity *who)
{
    int n;

    who->groups = who->few;
    if (inv->ruid != 0) {
        who->uid = inv->ruid;
        who->gid = getgid();
        n = getgroups(HELPER_FEW_GROUPS, who->groups);
        if (n < 0 && errno == EINVAL) { /* more than few */
            who->groups = many_groups();
            if (who->groups == NULL)
                return -ENOMEM;
            n = getgroups(HELPER_MAX_GROUPS, who->groups);
        }
        if (n < 0)
            return -errno;
        who->ngroups = (size_t)n;
    } else if (inv->sudo) {
        struct passwd *pw;
        who->uid = inv->sudo_uid;
        who->gid = inv->sudo_gid;
        who->groups[0] = inv->sudo_gid;
        who->ngroups = 1;
        /* No process of the caller's is on a channel to ask the kernel:
         * the user's groups as the group file has them (as login gives
         * them: the login group and every group listing the user), and
         * SUDO_GID, the caller's gid, if it is none of those, so that a
         * group rule sees them all. A user the password file lacks has
         * SUDO_GID alone. */
        pw = getpwuid(inv->sudo_uid);
        if (pw != NULL && pw->pw_name != NULL) {
            size_t i;
            n = HELPER_FEW_GROUPS - 1; /* room for SUDO_GID */
            if (getgrouplist(pw->pw_name, pw->pw_gid, who->few, &n) < 0) {
                who->groups = many_groups();
                if (who->groups == NULL)
                    return -ENOMEM;
                n = HELPER_MAX_GROUPS - 1;
                if (getgrouplist(pw->pw_name, pw->pw_gid, who->groups, &n) < 0)
                    return -E2BIG; /* more than the helper keeps */
            }
            for (i = 0; i < (size_t)n && who->groups[i] != inv->sudo_gid; i++)
                ;
            if (i == (size_t)n)
                who->groups[n++] = inv->sudo_gid;
            who->ngroups = (size_t)n;
        }
    } else {
        who->uid = 0; /* root ran it: nothing to drop to */
        who->gid = 0;
        who->groups[0] = 0;
        who->ngroups = 1;
    }
    return 0;
}

/* Whether the current supplementary groups are who's. getgroups(2) gets
 * room for exactly who->ngroups: it fails (EINVAL) when there are more,
 * and with room for 0 it only counts. */
static int groups_equal(const struct identity *who)
{
    static gid_t *many;
    gid_t few[HELPER_FEW_GROUPS], *cur = few;
    int n;

    if (who->ngroups > HELPER_FEW_GROUPS) {
        if (many == NULL)
            many = many_groups();
        if (many == NULL)
            return 0; /* "not equal": the caller sets them, or gives up */
        cur = many;
    }
    n = getgroups((int)who->ngroups, cur);
    if (n < 0 || (size_t)n != who->ngroups)
        return 0;
    for (int i = 0; i < n; i++) {
        size_t j;
        for (j = 0; j < who->ngroups && who->groups[j] != cur[i]; j++)
            ;
        if (j == who->ngroups)
            return 0;
    }
    return 1;
}

/* Why the kernel ignored the privileges the helper's own file asks for.
 * The file is what was executed (/proc/self/exe): setuid root, or with
 * file capabilities. Then a process under no_new_privs (prctl(2)), or a
 * file on a nosuid mount, runs without them, silently: the kernel only
 * skips the raise. 0 when neither applies or the file asks for nothing
 * (the caller chose an unprivileged helper, or /proc is missing: the
 * generic message is all that can be said). */
#define IGNORED_NNP 1
#define IGNORED_NOSUID 2
static int privileges_ignored(void)
{
    static const char exe[] = "/proc/self/exe";
    struct stat st;
    struct statvfs vfs;

    if (stat(exe, &st) < 0)
        return 0;
    if (!((st.st_mode & S_ISUID) && st.st_uid == 0) &&
        getxattr(exe, "security.capability", NULL, 0) <= 0)
        return 0;
    if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1)
        return IGNORED_NNP;
    if (statvfs(exe, &vfs) == 0 && (vfs.f_flag & ST_NOSUID))
        return IGNORED_NOSUID;
    return 0;
}

int become_caller(const struct identity *who, uint64_t keep, int *unprivileged)
{
    uid_t r, e, s;
    gid_t rg, eg, sg;
    uint64_t eff, perm;
    int rc, ignored = 0;

    if (caps_get(&eff, &perm) < 0)
        return -EPERM;
    *unprivileged = (perm & keep) != keep;
    if (*unprivileged) {
        /* Installed privileged but started unprivileged: say why, and
         * refuse with EPERM rather than let the kernel's refusal of the
         * socket look like a missing installation. The switch below still
         * happens, so the drop and its checks run as for any request. */
        ignored = privileges_ignored();
        if (ignored == IGNORED_NNP)
            say("not privileged",
                "no_new_privs is set in the calling process: setuid and "
                "file capabilities are ignored");
        else if (ignored == IGNORED_NOSUID)
            say("not privileged",
                "the helper sits on a nosuid mount: setuid and file "
                "capabilities are ignored (install it on a file system "
                "mounted without nosuid)");
        else
            say("become_caller",
                "not privileged for this request: install the helper "
                "setuid root, run it through sudo or give it file "
                "capabilities (a nosuid mount or no_new_privs also "
                "disables setuid)");
    }
    keep &= perm;

    if (!groups_equal(who) &&
        syscall(NR_SETGROUPS, (long)who->ngroups, who->groups) < 0)
        return -errno;
    if (getresgid(&rg, &eg, &sg) < 0)
        return -errno;
    if ((rg != who->gid || eg != who->gid || sg != who->gid) &&
        sys_setresgid(who->gid, who->gid, who->gid) < 0)
        return -errno;
    if (getresuid(&r, &e, &s) < 0)
        return -errno;
    if (r != who->uid || e != who->uid || s != who->uid) {
        if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
            return -errno;
        if (sys_setresuid(who->uid, who->uid, who->uid) < 0)
            return -errno;
        /* PR_SET_KEEPCAPS stays set: it only matters at a later switch
         * away from uid 0, which drop_all() makes impossible, and execve
         * clears it (the helper never execs) */
    }
    (void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    rc = caps_set(keep);
    if (rc == 0 && ignored)
        rc = -EPERM;
    return rc;
}

int drop_all(void)
{
    int rc = caps_set(0);
    if (rc < 0)
        return rc;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return -errno;
    return 0;
}

int verify_caps_dropped(void)
{
    uint64_t eff, perm;

    if (caps_get(&eff, &perm) < 0 || eff != 0 || perm != 0) {
        say("verify_dropped", "capabilities remain");
        return -1;
    }
    if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) {
        say("verify_dropped", "no_new_privs not set");
        return -1;
    }
    return 0;
}

int verify_dropped(const struct identity *who)
{
    uid_t r, e, s;
    gid_t rg, eg, sg;

    if (getresuid(&r, &e, &s) < 0 || r != who->uid || e != who->uid ||
        s != who->uid) {
        say("verify_dropped", "uids not all %u", (unsigned)who->uid);
        return -1;
    }
    if (getresgid(&rg, &eg, &sg) < 0 || rg != who->gid || eg != who->gid ||
        sg != who->gid) {
        say("verify_dropped", "gids not all %u", (unsigned)who->gid);
        return -1;
    }
    if (!groups_equal(who)) {
        say("verify_dropped", "supplementary groups not the caller's");
        return -1;
    }
    if (verify_caps_dropped() < 0)
        return -1;
    /* setuid(0), seteuid(0), setgid(0), setegid(0), as raw calls */
    if (who->uid != 0 && (syscall(NR_SETUID, 0L) == 0 ||
                          sys_setresuid((uid_t)-1, 0, (uid_t)-1) == 0)) {
        say("verify_dropped", "uid 0 could be regained");
        return -1;
    }
    if (who->gid != 0 && (syscall(NR_SETGID, 0L) == 0 ||
                          sys_setresgid((gid_t)-1, 0, (gid_t)-1) == 0)) {
        say("verify_dropped", "gid 0 could be regained");
        return -1;
    }
    return 0;
}
