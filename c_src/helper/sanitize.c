/*
 * sanitize.c - the helper trusts nothing it inherited.
 *
 * Runs first, while privileged: out of the caller's reach (real uid root
 * when setuid root) with a SIGKILL watchdog armed, no core dumps and no
 * ptrace by the caller,
 * the environment wiped, every descriptor but 0, 1 and 2 closed (0, 1 and
 * 2 opened on /dev/null if missing, so nothing the helper opens can land
 * on them), signal mask emptied and the signals it relies on reset, umask and cwd fixed.
 *
 * The helper runs once per socket, so what needs no system call gets
 * none: see reset_signals().
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "helper.h"

static int parse_id(const char *s, unsigned long *out)
{
    unsigned long v = 0;

    if (s == NULL || *s == '\0' || strlen(s) > 10)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (unsigned long)(*s - '0');
    }
    if (v >= 0xffffffffUL) /* (uid_t)-1 means "unchanged" to setresuid */
        return -1;
    *out = v;
    return 0;
}

static void close_from(int lowfd)
{
#ifdef SYS_close_range
    if (syscall(SYS_close_range, (unsigned)lowfd, ~0U, 0) == 0)
        return;
#endif
    struct rlimit rl;
    long max = 65536;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max != RLIM_INFINITY &&
        rl.rlim_max < 1048576)
        max = (long)rl.rlim_max;
    for (long fd = lowfd; fd < max; fd++)
        (void)close((int)fd);
}

/* Opens 0, 1 and 2 on /dev/null where they are closed. One poll(2) tells
 * which are (POLLNVAL), instead of an fcntl(2) each. */
static void fill_std_fds(void)
{
    struct pollfd p[3] = {{0, 0, 0}, {1, 0, 0}, {2, 0, 0}};
    int polled = poll(p, 3, 0) >= 0;

    for (int fd = 0; fd <= 2; fd++) {
        int closed = polled ? (p[fd].revents & POLLNVAL) != 0
                            : fcntl(fd, F_GETFD) < 0;
        if (closed) {
            int n = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
            if (n != fd) /* cannot even do this: give up quietly */
                _exit(PROCKET_EXIT_INTERNAL);
        }
    }
}

/* Signal mask emptied; the signals the helper relies on back to SIG_DFL;
 * SIGPIPE and the terminal's stop signals ignored.
 *
 * Of the dispositions a caller can set, only "ignored" survives execve(2):
 * a caught signal reverts to SIG_DFL with its flags and mask cleared
 * (execve(2), signal(7)). An ignored signal can only make the helper
 * harder to stop; the helper's own bounds must not depend on the caller,
 * so the signals that end a process on request (ALRM, HUP, INT, QUIT,
 * TERM, USR1, USR2) and those that enforce resource limits (XCPU, XFSZ)
 * are reset. Faults (SEGV, BUS, ILL, FPE, SYS) need nothing: the kernel
 * delivers them even when ignored. The terminal's TSTP, TTIN and TTOU
 * reach a foreground process whoever owns it, and would stop a privileged
 * helper: ignored, and that before the mask is emptied, which discards
 * one the caller left pending behind a blocked mask. A fixed list, not
 * all 64: one call each, where resetting every signal took ~60 us of a
 * run (bench/README.md). */
static void reset_signals(void)
{
    static const int relied_on[] = {SIGALRM, SIGHUP,  SIGINT,  SIGQUIT, SIGTERM,
                                    SIGUSR1, SIGUSR2, SIGXCPU, SIGXFSZ};
    struct sigaction dfl;
    sigset_t empty;

    (void)signal(SIGTSTP, SIG_IGN);
    (void)signal(SIGTTIN, SIG_IGN);
    (void)signal(SIGTTOU, SIG_IGN);
    (void)sigemptyset(&empty);
    (void)sigprocmask(SIG_SETMASK, &empty, NULL);
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    (void)sigemptyset(&dfl.sa_mask);
    for (size_t i = 0; i < sizeof(relied_on) / sizeof(relied_on[0]); i++)
        (void)sigaction(relied_on[i], &dfl, NULL);
    (void)signal(SIGPIPE, SIG_IGN); /* sends use MSG_NOSIGNAL anyway */
}

/* The watchdog: SIGKILL after HELPER_WATCHDOG_S seconds, from a timer of
 * the kernel's. Unlike alarm(2)'s SIGALRM, SIGKILL also ends a stopped
 * process: a helper its caller stopped (SIGSTOP, where the caller may
 * signal it) dies on time all the same, privileges and all. (It counts
 * from here: a setuid helper stopped by its caller between execve(2) and
 * this, while the real uid is still the caller's, stays stopped, having
 * done nothing, until continued; see procket(8).) */
static timer_t watchdog;
static int watchdog_made;

/* Makes the timer, not yet armed. A timer is not inherited by fork(2): a
 * broker's worker makes its own, before it waits for a connection. */
void watchdog_prepare(void)
{
    struct sigevent sev;

    memset(&sev, 0, sizeof(sev));
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = SIGKILL;
    watchdog_made = timer_create(CLOCK_MONOTONIC, &sev, &watchdog) == 0;
}

void watchdog_arm(void)
{
    struct itimerspec its;

    if (!watchdog_made)
        watchdog_prepare();
    memset(&its, 0, sizeof(its));
    its.it_value.tv_sec = HELPER_WATCHDOG_S;
    if (!watchdog_made || timer_settime(watchdog, 0, &its, NULL) < 0)
        _exit(PROCKET_EXIT_INTERNAL); /* no bound on its life: do nothing */
}

/* For the broker's own process, which runs until stopped (broker.c): its
 * workers arm their own. */
int watchdog_disarm(void)
{
    struct itimerspec none;

    memset(&none, 0, sizeof(none));
    return watchdog_made && timer_settime(watchdog, 0, &none, NULL) == 0 ? 0 : -1;
}

/* Socket activation (sd_listen_fds(3)): a listening socket at descriptor
 * 3, for this process (LISTEN_PID), one only (LISTEN_FDS=1). Believed only
 * when root started the helper itself (real and effective uid 0, no
 * AT_SECURE): a setuid or file-capability invocation never takes it, so
 * the environment it wipes cannot turn the broker on. Returns 3, -1 when
 * there is no activation, -2 when it is there but not as the broker
 * needs (said later, by broker_main()). */
static int activation(uid_t ruid)
{
    const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
    unsigned long p, n;

    if (ruid != 0 || geteuid() != 0 || getauxval(AT_SECURE) != 0 || pid == NULL ||
        parse_id(pid, &p) < 0 || (pid_t)p != getpid())
        return -1;
    if (fds == NULL || parse_id(fds, &n) < 0 || n != 1)
        return -2;
    return 3;
}

void sanitize(struct invocation *inv)
{
    struct rlimit none = {0, 0};

    /* First of all: out of the caller's reach (setuid: see below), and a
     * bound on this process's life. */
    memset(inv, 0, sizeof(*inv));
    inv->notify = -1;
    inv->peer_pidfd = -1;
    inv->ruid = getuid();
    /* Setuid root: real and saved uid root too until the switch to the
     * caller (as under sudo), so that the caller, whose uid was the real
     * one, cannot signal (stop, kill) a privileged process. */
    if (inv->ruid != 0 && geteuid() == 0 && hold_real_uid() < 0)
        _exit(PROCKET_EXIT_INTERNAL);
    watchdog_arm();

    (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    (void)setrlimit(RLIMIT_CORE, &none);
    /* room for the channel, the socket and the audit line's socket where
     * the caller left less and the helper may raise it (a grant never
     * goes unlogged either way: see audit_open()) */
    {
        struct rlimit nf;
        if (getrlimit(RLIMIT_NOFILE, &nf) == 0 && nf.rlim_cur < 16) {
            nf.rlim_cur = 16;
            if (nf.rlim_max < 16)
                nf.rlim_max = 16;
            (void)setrlimit(RLIMIT_NOFILE, &nf);
        }
    }

    inv->listen_fd = activation(inv->ruid);
    close_from(inv->listen_fd == 3 ? 4 : 3);
    if (inv->listen_fd == 3)
        (void)fcntl(3, F_SETFD, FD_CLOEXEC);
    fill_std_fds();
    reset_signals();

    /* sudo says who ran it; only believed when the real uid is root, i.e.
     * when sudo (or root itself) started us: nobody else can make the
     * real uid 0. */
    if (inv->ruid == 0) {
        unsigned long u, g;
        if (parse_id(getenv("SUDO_UID"), &u) == 0 &&
            parse_id(getenv("SUDO_GID"), &g) == 0) {
            inv->sudo = 1;
            inv->sudo_uid = (uid_t)u;
            inv->sudo_gid = (gid_t)g;
        }
    }
    /* the strings too, not only the pointer: nothing later (a library,
     * a reader of /proc/PID/environ) finds the caller's LD_* or the rest */
    for (char **e = environ; e != NULL && *e != NULL; e++)
        memset(*e, 0, strlen(*e));
    (void)clearenv();

    (void)umask(077);
    if (chdir("/") < 0)
        _exit(PROCKET_EXIT_INTERNAL);
}
