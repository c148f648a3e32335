/*
 * driver.c - runs the procket helper the way a hostile (or just careless)
 * local user could, for procket_hardening_SUITE: any argv (even an empty
 * one), any standard input, any bytes on the channel. Independent of the
 * procket library on purpose: the suite checks the helper, not the
 * client code, so this speaks the wire format itself.
 *
 *   driver [--stdin MODE] [--hex HEX] [--garbage BYTES] [--record N]
 *          [--with-fd] [--close] [--wait-ms MS] -- PATH [ARGV0 ARG...]
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
 * The helper's standard error is the driver's own, so its lines come
 * first; then, once the helper has been reaped, the driver prints
 *   driver-result: exit=N|signal=N reply=ERRNO|none fds=K
 * (reply: the errno of the helper's reply on the channel; fds: how many
 * descriptors came with it, closed at once).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
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

int main(int argc, char *argv[])
{
    const char *mode = "chan", *hex = NULL;
    long garbage_total = 0, record = 4096, wait_ms = 10000;
    int with_fd = 0, close_now = 0, i, sv[2] = {-1, -1}, child_in = -1;
    int ours = -1, fds = 0, reply = -1, status;
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

    pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0) {
        signal(SIGPIPE, SIG_DFL);
        if (child_in < 0)
            close(0);
        else if (dup2(child_in, 0) < 0)
            _exit(125);
        execve(path, hargv, environ);
        _exit(127);
    }
    if (child_in >= 0 && child_in != ours)
        close(child_in);
    signal(SIGPIPE, SIG_IGN);

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
                    for (int j = 0; j < k; j++)
                        close(got[j]);
                    fds += k;
                }
        }
    }
    if (waitpid(pid, &status, 0) < 0)
        die("waitpid");
    if (WIFEXITED(status))
        printf("driver-result: exit=%d", WEXITSTATUS(status));
    else
        printf("driver-result: signal=%d", WTERMSIG(status));
    if (reply >= 0)
        printf(" reply=%d fds=%d\n", reply, fds);
    else
        printf(" reply=none fds=%d\n", fds);
    return 0;
}
