/*
 * floor_driver.c - times the floor: spawn a static setuid helper, get a
 * descriptor back, reap it.
 *
 *   floor_driver HELPER PORT N [WARMUP]
 *
 * Each of WARMUP (default 20, untimed) + N iterations does
 *   socketpair(AF_UNIX, SOCK_SEQPACKET) -> posix_spawn(HELPER PORT) with
 *   one end as its fd 0 -> recvmsg (the descriptor) -> waitpid
 * and is timed with clock_gettime(CLOCK_MONOTONIC); closing the received
 * descriptor is not timed (as procket:close/1 is not in the VM bench).
 * Prints the N samples, in nanoseconds, one per line; scripts/bench.sh
 * summarizes them. Exits 1 on the first failed iteration.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* One round trip; returns the received descriptor or -1. */
static int once(char *const argv[])
{
    posix_spawn_file_actions_t fa;
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } ctl;
    struct msghdr msg;
    struct iovec iov;
    struct cmsghdr *c;
    char byte;
    int sv[2], fd = -1, status, rc;
    pid_t pid;
    ssize_t n;

    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        perror("socketpair");
        return -1;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, sv[1], 0);
    rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(sv[1]);
    if (rc != 0) {
        fprintf(stderr, "posix_spawn %s: %s\n", argv[0], strerror(rc));
        close(sv[0]);
        return -1;
    }

    memset(&msg, 0, sizeof(msg));
    iov.iov_base = &byte;
    iov.iov_len = 1;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = ctl.buf;
    msg.msg_controllen = sizeof(ctl.buf);
    do
        n = recvmsg(sv[0], &msg, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    c = CMSG_FIRSTHDR(&msg);
    if (n == 1 && c != NULL && c->cmsg_level == SOL_SOCKET &&
        c->cmsg_type == SCM_RIGHTS)
        memcpy(&fd, CMSG_DATA(c), sizeof(int));
    close(sv[0]);

    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (fd < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "helper failed: exit status 0x%x, fd %d\n", status,
                fd);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

int main(int argc, char *argv[])
{
    char *hargv[3];
    long n, warm, i;
    long long *t;

    if (argc < 4) {
        fprintf(stderr, "usage: %s HELPER PORT N [WARMUP]\n", argv[0]);
        return 64;
    }
    hargv[0] = argv[1];
    hargv[1] = argv[2];
    hargv[2] = NULL;
    n = atol(argv[3]);
    warm = argc > 4 ? atol(argv[4]) : 20;
    if (n < 1 || warm < 0)
        return 64;
    t = calloc((size_t)n, sizeof(*t));
    if (t == NULL)
        return 70;

    for (i = -warm; i < n; i++) {
        long long t0 = now_ns();
        int fd = once(hargv);
        long long t1 = now_ns();
        if (fd < 0)
            return 1;
        close(fd);
        if (i >= 0)
            t[i] = t1 - t0;
    }
    for (i = 0; i < n; i++)
        printf("%lld\n", t[i]);
    return 0;
}
