/*
 * sanitize.c - the helper trusts nothing it inherited.
 *
 * Runs first, while privileged: no core dumps and no ptrace by the caller,
 * the environment wiped, every descriptor but 0, 1 and 2 closed (0, 1 and
 * 2 opened on /dev/null if missing, so nothing the helper opens can land
 * on them), signal mask and dispositions reset, umask and cwd fixed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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

void sanitize(struct invocation *inv)
{
    struct rlimit none = {0, 0};
    sigset_t empty;

    (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    (void)setrlimit(RLIMIT_CORE, &none);

    close_from(3);
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) < 0) {
            int n = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
            if (n != fd) /* cannot even do this: give up quietly */
                _exit(PROCKET_EXIT_INTERNAL);
        }
    }

    (void)sigemptyset(&empty);
    (void)sigprocmask(SIG_SETMASK, &empty, NULL);
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP)
            continue;
        (void)signal(sig, SIG_DFL);
    }
    (void)signal(SIGPIPE, SIG_IGN); /* sends use MSG_NOSIGNAL anyway */

    /* sudo says who ran it; only believed when the real uid is root, i.e.
     * when sudo (or root itself) started us: nobody else can make the
     * real uid 0. */
    memset(inv, 0, sizeof(*inv));
    if (getuid() == 0) {
        unsigned long u, g;
        if (parse_id(getenv("SUDO_UID"), &u) == 0 &&
            parse_id(getenv("SUDO_GID"), &g) == 0) {
            inv->sudo = 1;
            inv->sudo_uid = (uid_t)u;
            inv->sudo_gid = (gid_t)g;
        }
    }
    (void)clearenv();

    (void)umask(077);
    if (chdir("/") < 0)
        _exit(PROCKET_EXIT_INTERNAL);
    (void)alarm(HELPER_WATCHDOG_S);
}
