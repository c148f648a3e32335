/*
 * driver.c - runs the procket helper the way a hostile (or just careless)
 * local user could, for procket_hardening_SUITE: any argv (even an empty
 * one), any standard input, any bytes on the channel. Independent of the
 * procket library on purpose: the suite checks the helper, not the
 * client code, so this speaks the wire format itself.
 *
 *   driver [--stdin MODE] [--hex HEX] [--garbage BYTES] [--record N]
 *          [--with-fd] [--close] [--wait-ms MS] [--nofile N] [--stop-ms MS]
 *          [--stop-child] [--stderr-full] [--pending-tstp]
 *          -- PATH [ARGV0 ARG...]
 *
 * MODE: chan (default: an AF_UNIX SOCK_SEQPACKET socketpair, as the
 * library makes), closed, null, file:PATH, tcp:PORT (a connection to
 * 127.0.0.1:PORT), unix:PATH (a SOCK_SEQPACKET connection to PATH, whose
 * other end is the listener's, not the driver's), pipe. On chan and
 * pipe, --hex sends those bytes (one record on chan), --garbage sends
 * that many bytes of garbage (records of --record bytes, default 4096,
 * on chan), --with-fd attaches a descriptor to the --hex record, --close
 * closes the driver's end at once. PATH is executed with exactly the
 * argv after it: with none at all, argc is 0.
 *
 * --nofile N starts the helper with RLIMIT_NOFILE N (soft and hard).
 * --stop-ms MS sends the helper SIGSTOP after MS milliseconds, as the
 * driver's user may or may not be allowed to, and then never continues
 * it; the helper must end by itself (the driver gives up after 60 s and
 * kills it, if it may). With --stop-child the signal goes to PATH's
 * child instead (PATH is sudo, the helper its child).
 * --stderr-full gives the helper a full pipe as standard error (its lines
 * are lost). --pending-tstp starts it with SIGTSTP blocked and pending.
 *
 * The helper's standard error is the driver's own, so its lines come
 * first; then, once the helper has been reaped, the driver prints
 *   driver-result: exit=N|signal=N reply=ERRNO|none fds=K
 *       [bound=IFNAME|-] [stop=ok|ERRNO] lived_ms=T
 * (one line; reply: the errno of the helper's reply on the channel; fds:
 * how many descriptors came with it, closed at once; bound: the
 * interface the first of them is bound to, for a socket; stop: what
 * kill(SIGSTOP) gave; lived_ms: from the fork to the reaping).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netpacket/packet.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static void die(const char *what)
{
    fprintf(stderr, "driver: %s: %s\n", what, strerror(errno));
    exit(2);
}

static unsigned char *unhex(const char *s, size_t *len)
{
    size_t n = strlen(s) / 2;
    unsigned char *b = malloc(n ? n : 1);

    if (b == NULL)
        die("malloc");
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1) {
            fprintf(stderr, "driver: bad hex\n");
            exit(2);
        }
        b[i] = (unsigned char)v;
    }
    *len = n;
    return b;
}

static int send_record(int s, const unsigned char *b, size_t len, int with_fd)
{
    struct iovec iov = {(void *)b, len};
    struct msghdr mh;
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } c;

    memset(&mh, 0, sizeof(mh));
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    if (with_fd) {
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        memset(&c, 0, sizeof(c));
        mh.msg_control = c.buf;
        mh.msg_controllen = sizeof(c.buf);
        c.h.cmsg_level = SOL_SOCKET;
        c.h.cmsg_type = SCM_RIGHTS;
        c.h.cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(&c.h), &fd, sizeof(int));
    }
    return (int)sendmsg(s, &mh, MSG_NOSIGNAL);
}

/* Garbage: a fixed pseudo-random stream, never a valid header. */
static void garbage(unsigned char *b, size_t len, unsigned *seed)
{
    for (size_t i = 0; i < len; i++) {
        *seed = *seed * 1103515245u + 12345u;
        b[i] = (unsigned char)(*seed >> 16);
    }
    if (len > 0)
        b[0] = 0xff; /* not 'P' */
}

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The interface socket fd is bound to: SO_BINDTODEVICE, or for a packet
 * socket the one its address names; "-" for none. */
static void bound_name(int fd, char *out, size_t len)
{
    struct sockaddr_ll sll;
    socklen_t sl = sizeof(sll);
    char name[IF_NAMESIZE + 1] = "";
    socklen_t nl = IF_NAMESIZE;

    snprintf(out, len, "-");
    if (getsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, name, &nl) == 0 && nl > 0 &&
        name[0] != '\0') {
        name[nl < IF_NAMESIZE ? nl : IF_NAMESIZE] = '\0';
        snprintf(out, len, "%s", name);
        return;
    }
    memset(&sll, 0, sizeof(sll));
    if (getsockname(fd, (struct sockaddr *)&sll, &sl) == 0 && sll.sll_family == AF_PACKET &&
        sll.sll_ifindex > 0 && if_indextoname((unsigned)sll.sll_ifindex, name) != NULL)
        snprintf(out, len, "%s", name);
}

/* A child of pid (from /proc/N/stat), waited for up to 2 s; or pid. */
static pid_t child_of(pid_t pid)
{
    long long end = now_ms() + 2000;

    do {
        DIR *d = opendir("/proc");
        struct dirent *e;
        pid_t found = 0;

        while (d != NULL && (e = readdir(d)) != NULL && found == 0) {
            char path[300], buf[512], *p;
            FILE *f;
            int ppid;
            if (e->d_name[0] < '0' || e->d_name[0] > '9')
                continue;
            snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
            if ((f = fopen(path, "r")) == NULL)
                continue;
            if (fgets(buf, sizeof(buf), f) != NULL && (p = strrchr(buf, ')')) != NULL &&
                sscanf(p + 1, " %*c %d", &ppid) == 1 && ppid == pid)
                found = (pid_t)atoi(e->d_name);
            fclose(f);
        }
        if (d != NULL)
            closedir(d);
        if (found != 0)
            return found;
        usleep(10000);
    } while (now_ms() < end);
    return pid;
}

/* Waits up to ms for pid; 0 and its status, or -1 if it still runs. */
static int reap_within(pid_t pid, long ms, int *status)
{
    long long end = now_ms() + ms;

    for (;;) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid)
            return 0;
        if (r < 0 && errno != EINTR)
            die("waitpid");
        if (now_ms() >= end)
            return -1;
        usleep(20000);
    }
}

int main(int argc, char *argv[])
{
    const char *mode = "chan", *hex = NULL;
    long garbage_total = 0, record = 4096, wait_ms = 10000;
    int with_fd = 0, close_now = 0, stop_child = 0, i, sv[2] = {-1, -1}, child_in = -1;
    int ours = -1, fds = 0, reply = -1, status, stop_err = -1;
    long nofile = -1, stop_ms = -1;
    int stderr_full = 0, pending_tstp = 0, errpipe[2] = {-1, -1};
    long long started;
    char bound[IF_NAMESIZE + 1] = "";
    pid_t pid;

    for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], "--stdin") == 0 && i + 1 < argc)
            mode = argv[++i];
        else if (strcmp(argv[i], "--hex") == 0 && i + 1 < argc)
            hex = argv[++i];
        else if (strcmp(argv[i], "--garbage") == 0 && i + 1 < argc)
            garbage_total = atol(argv[++i]);
        else if (strcmp(argv[i], "--record") == 0 && i + 1 < argc)
            record = atol(argv[++i]);
        else if (strcmp(argv[i], "--wait-ms") == 0 && i + 1 < argc)
            wait_ms = atol(argv[++i]);
        else if (strcmp(argv[i], "--nofile") == 0 && i + 1 < argc)
            nofile = atol(argv[++i]);
        else if (strcmp(argv[i], "--stop-ms") == 0 && i + 1 < argc)
            stop_ms = atol(argv[++i]);
        else if (strcmp(argv[i], "--stop-child") == 0)
            stop_child = 1;
        else if (strcmp(argv[i], "--stderr-full") == 0)
            stderr_full = 1;
        else if (strcmp(argv[i], "--pending-tstp") == 0)
            pending_tstp = 1;
        else if (strcmp(argv[i], "--with-fd") == 0)
            with_fd = 1;
        else if (strcmp(argv[i], "--close") == 0)
            close_now = 1;
        else {
            fprintf(stderr, "driver: bad option %s\n", argv[i]);
            return 2;
        }
    }
    if (i + 1 >= argc) {
        fprintf(stderr, "driver: no program\n");
        return 2;
    }
    char *path = argv[i + 1];
    char **hargv = &argv[i + 2]; /* may be just the terminating NULL */

    if (strcmp(mode, "chan") == 0) {
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
            die("socketpair");
        ours = sv[0];
        child_in = sv[1];
    } else if (strcmp(mode, "pipe") == 0) {
        if (pipe2(sv, O_CLOEXEC) < 0)
            die("pipe");
        child_in = sv[0];
        ours = sv[1];
    } else if (strcmp(mode, "null") == 0) {
        child_in = open("/dev/null", O_RDONLY | O_CLOEXEC);
    } else if (strncmp(mode, "file:", 5) == 0) {
        child_in = open(mode + 5, O_RDONLY | O_CLOEXEC);
    } else if (strncmp(mode, "tcp:", 4) == 0) {
        struct sockaddr_in sin;
        memset(&sin, 0, sizeof(sin));
        sin.sin_family = AF_INET;
        sin.sin_port = htons((unsigned short)atoi(mode + 4));
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        child_in = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (child_in < 0 || connect(child_in, (struct sockaddr *)&sin, sizeof(sin)) < 0)
            die("tcp connect");
    } else if (strncmp(mode, "unix:", 5) == 0) {
        struct sockaddr_un sun;
        memset(&sun, 0, sizeof(sun));
        sun.sun_family = AF_UNIX;
        strncpy(sun.sun_path, mode + 5, sizeof(sun.sun_path) - 1);
        child_in = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (child_in < 0 || connect(child_in, (struct sockaddr *)&sun, sizeof(sun)) < 0)
            die("unix connect");
        /* the helper's peer is the listener at PATH, not the driver:
         * nothing to send, no reply to wait for here */
    } else if (strcmp(mode, "closed") != 0) {
        fprintf(stderr, "driver: bad --stdin %s\n", mode);
        return 2;
    }
    if (strcmp(mode, "closed") != 0 && child_in < 0)
        die(mode);

    if (stderr_full) {
        char junk[4096];
        memset(junk, 'x', sizeof(junk));
        if (pipe2(errpipe, O_CLOEXEC) < 0)
            die("pipe");
        fcntl(errpipe[1], F_SETFL, O_NONBLOCK);
        while (write(errpipe[1], junk, sizeof(junk)) > 0)
            ;
        fcntl(errpipe[1], F_SETFL, 0); /* full, and blocking */
    }
    started = now_ms();
    pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0) {
        signal(SIGPIPE, SIG_DFL);
        if (nofile >= 0) {
            struct rlimit rl = {(rlim_t)nofile, (rlim_t)nofile};
            if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                _exit(124);
        }
        if (stderr_full && dup2(errpipe[1], 2) < 0)
            _exit(125);
        if (pending_tstp) {
            sigset_t set;
            /* a process group of its own, whose parent (the driver) is in
             * another of the same session: not orphaned, so the kernel
             * does stop it on SIGTSTP */
            setpgid(0, 0);
            sigemptyset(&set);
            sigaddset(&set, SIGTSTP);
            sigprocmask(SIG_BLOCK, &set, NULL);
            raise(SIGTSTP);
        }
        if (child_in < 0)
            close(0);
        else if (dup2(child_in, 0) < 0)
            _exit(125);
        execve(path, hargv, environ);
        fprintf(stderr, "driver: execve: %s\n", strerror(errno));
        _exit(127);
    }
    if (child_in >= 0 && child_in != ours)
        close(child_in);
    signal(SIGPIPE, SIG_IGN);

    if (stop_ms >= 0) {
        usleep((useconds_t)stop_ms * 1000);
        stop_err = kill(stop_child ? child_of(pid) : pid, SIGSTOP) == 0 ? 0 : errno;
    }
    if (ours >= 0 && close_now) {
        close(ours);
        ours = -1;
    }
    if (ours >= 0 && hex != NULL) {
        size_t len;
        unsigned char *b = unhex(hex, &len);
        if (strcmp(mode, "pipe") == 0)
            (void)!write(ours, b, len);
        else
            (void)send_record(ours, b, len, with_fd);
        free(b);
    }
    if (ours >= 0 && garbage_total > 0) {
        unsigned seed = 42;
        unsigned char *b = malloc((size_t)record);
        if (b == NULL)
            die("malloc");
        for (long sent = 0; sent < garbage_total; sent += record) {
            long n = garbage_total - sent < record ? garbage_total - sent : record;
            garbage(b, (size_t)n, &seed);
            if ((strcmp(mode, "pipe") == 0 ? write(ours, b, (size_t)n)
                                            : send_record(ours, b, (size_t)n, 0)) < 0)
                break; /* the helper is gone: it read what it wanted */
        }
        free(b);
    }
    if (ours >= 0 && strcmp(mode, "pipe") == 0) {
        close(ours);
        ours = -1;
    }
    if (ours >= 0) {
        struct pollfd p = {ours, POLLIN, 0};
        if (poll(&p, 1, (int)wait_ms) > 0) {
            unsigned char buf[600];
            union {
                struct cmsghdr h;
                char b[CMSG_SPACE(sizeof(int) * 8)];
            } c;
            struct iovec iov = {buf, sizeof(buf)};
            struct msghdr mh;
            ssize_t n;

            memset(&mh, 0, sizeof(mh));
            mh.msg_iov = &iov;
            mh.msg_iovlen = 1;
            mh.msg_control = c.b;
            mh.msg_controllen = sizeof(c.b);
            /* A helper that exits with records of ours unread leaves
             * ECONNRESET pending on our end, reported before the reply
             * queued ahead of it (unless a failing send took it first):
             * read once more, as the library does. */
            n = recvmsg(ours, &mh, MSG_CMSG_CLOEXEC);
            if (n < 0 && errno == ECONNRESET) {
                mh.msg_controllen = sizeof(c.b);
                n = recvmsg(ours, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
            }
            if (n == 12 && buf[0] == 'P' && buf[1] == 'K' && buf[3] == 2)
                reply = (int)((unsigned)buf[8] << 24 | (unsigned)buf[9] << 16 |
                              (unsigned)buf[10] << 8 | buf[11]);
            for (struct cmsghdr *h = CMSG_FIRSTHDR(&mh); h != NULL;
                 h = CMSG_NXTHDR(&mh, h))
                if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS) {
                    int k = (int)((h->cmsg_len - CMSG_LEN(0)) / sizeof(int));
                    int got[8];
                    memcpy(got, CMSG_DATA(h), sizeof(int) * (size_t)k);
                    if (k > 0 && fds == 0)
                        bound_name(got[0], bound, sizeof(bound));
                    for (int j = 0; j < k; j++)
                        close(got[j]);
                    fds += k;
                }
        }
    }
    if (reap_within(pid, 60000, &status) < 0) {
        fprintf(stderr, "driver: the helper still runs after 60 s\n");
        kill(pid, SIGKILL);
        if (reap_within(pid, 5000, &status) < 0) {
            printf("driver-result: alive\n");
            return 0;
        }
    }
    if (WIFEXITED(status))
        printf("driver-result: exit=%d", WEXITSTATUS(status));
    else
        printf("driver-result: signal=%d", WTERMSIG(status));
    if (reply >= 0)
        printf(" reply=%d fds=%d", reply, fds);
    else
        printf(" reply=none fds=%d", fds);
    if (bound[0] != '\0')
        printf(" bound=%s", bound);
    if (stop_err == 0)
        printf(" stop=ok");
    else if (stop_err > 0)
        printf(" stop=%d", stop_err);
    printf(" lived_ms=%lld\n", now_ms() - started);
    return 0;
}
