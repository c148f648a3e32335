/*
 * broker.c - procket -l PATH: the helper as a broker, for callers that can
 * never gain privileges (no_new_privs, containers, nosuid mounts).
 *
 * The parent binds PATH (a SOCK_SEQPACKET Unix socket) and keeps workers
 * forked ahead of demand; it reads nothing a caller sends. Each worker
 * takes one connection (accept(2) on the shared socket), tells the parent
 * (which forks a replacement, off the caller's path), and serves that one
 * request exactly as the helper serves its standard input channel
 * (main.c serve(): the peer's credentials from the kernel, the policy,
 * become the caller, open, drop everything, audit, reply), then exits. A
 * bug in a parser costs one request, never the broker.
 *
 * Only for a process started by root (or by systemd as root): an
 * invocation that got its privileges from the setuid bit or file
 * capabilities (AT_SECURE) refuses it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sched.h>
#include <sys/auxv.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helper.h"

#define BROKER_IDLE 4  /* workers waiting in accept(2) */
#define BROKER_MAX 64  /* workers at once; more callers wait in the backlog */
#define BROKER_BACKLOG 128

struct worker {
    pid_t pid; /* 0: free slot */
    int idle;  /* still waiting for a connection */
};

static struct worker workers[BROKER_MAX];

/* Binds and listens at path. A socket file nobody listens on (left by a
 * broker that crashed) is replaced; one a broker listens on is not
 * (-EADDRINUSE). Mode 0666: who may ask is the policy's to say. */
static int listen_at(const char *path, struct stat *st)
{
    struct sockaddr_un sun;
    int s, c, tries;

    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    if (path[0] != '/' || strlen(path) >= sizeof(sun.sun_path))
        return -ENAMETOOLONG;
    memcpy(sun.sun_path, path, strlen(path));
    s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -errno;
    for (tries = 0; bind(s, (struct sockaddr *)&sun, sizeof(sun)) < 0; tries++) {
        struct stat old;
        int err = errno;
        if (err != EADDRINUSE || tries > 0 || lstat(path, &old) < 0 || !S_ISSOCK(old.st_mode)) {
            (void)close(s);
            return -err;
        }
        c = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (c >= 0 && connect(c, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
            (void)close(c);
            (void)close(s);
            return -EADDRINUSE; /* a broker listens there */
        }
        if (c >= 0)
            (void)close(c);
        (void)unlink(path); /* stale */
    }
    if (chmod(path, 0666) < 0 || listen(s, BROKER_BACKLOG) < 0 || lstat(path, st) < 0) {
        int err = errno;
        (void)close(s);
        return -err;
    }
    return s;
}

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

/* The worker moves into the caller's network namespace, so that what it
 * opens is the caller's there (a container's). The caller's process is
 * named by a pidfd the kernel gives for the connection (SO_PEERPIDFD): no
 * pid that could be reused meanwhile. A request that names a namespace
 * ({namespace, Name}) moves on from here, by policy, as with the helper. */
static int enter_caller_netns(int conn)
{
    int pidfd = -1, rc;
    socklen_t len = sizeof(pidfd);

    if (getsockopt(conn, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) < 0 || pidfd < 0)
        return -errno;
    rc = setns(pidfd, CLONE_NEWNET) < 0 ? -errno : 0;
    (void)close(pidfd);
    return rc;
}

/* In a worker: one connection, one request, exit. */
static void work(int lsock, int notify, const struct invocation *inv)
{
    struct procket_args args;
    pid_t self = getpid();
    int conn;

    do {
        conn = accept4(lsock, NULL, NULL, SOCK_CLOEXEC);
    } while (conn < 0 && (errno == EINTR || errno == ECONNABORTED));
    (void)!write(notify, &self, sizeof(self));
    (void)close(notify);
    (void)close(lsock);
    if (conn < 0)
        _exit(PROCKET_EXIT_CHANNEL);
    {
        int rc = enter_caller_netns(conn);
        if (rc < 0) {
            say("broker", "cannot enter the caller's network namespace: %s", strerror(-rc));
            _exit(PROCKET_EXIT_CHANNEL);
        }
    }
    memset(&args, 0, sizeof(args));
    procket_request_init(&args.req);
    _exit(serve(conn, inv, &args));
}

static int fork_worker(int lsock, int notify_r, int notify_w, int sfd,
                       const struct invocation *inv, const sigset_t *old)
{
    int i;
    pid_t pid;

    for (i = 0; i < BROKER_MAX && workers[i].pid != 0; i++)
        ;
    if (i == BROKER_MAX)
        return -1;
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        (void)close(notify_r);
        (void)close(sfd);
        (void)sigprocmask(SIG_SETMASK, old, NULL);
        work(lsock, notify_w, inv);
    }
    workers[i].pid = pid;
    workers[i].idle = 1;
    return 0;
}

static struct worker *find(pid_t pid)
{
    for (int i = 0; i < BROKER_MAX; i++)
        if (workers[i].pid == pid)
            return &workers[i];
    return NULL;
}

int broker_main(int argc, char *argv[], const struct invocation *inv)
{
    struct stat mine, now;
    sigset_t set, old;
    int lsock, sfd, notify[2], idle = 0, stop = 0;

    if (argc != 3) {
        say("args", "usage: " PROGNAME " -l PATH");
        return PROCKET_EXIT_USAGE;
    }
    if (getauxval(AT_SECURE) != 0 || inv->ruid != 0 || geteuid() != 0) {
        say("broker", "-l is for a process started by root; not through setuid, "
                      "file capabilities or another user");
        return PROCKET_EXIT_USAGE;
    }
    lsock = listen_at(argv[2], &mine);
    if (lsock < 0) {
        say("broker", "%s: %s", argv[2],
            lsock == -EADDRINUSE ? "a broker listens there already" : strerror(-lsock));
        return PROCKET_EXIT_INTERNAL;
    }
    if (pipe2(notify, O_CLOEXEC) < 0)
        return PROCKET_EXIT_INTERNAL;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &set, &old) < 0 ||
        (sfd = signalfd(-1, &set, SFD_CLOEXEC)) < 0)
        return PROCKET_EXIT_INTERNAL;

    while (!stop) {
        struct pollfd p[2] = {{notify[0], POLLIN, 0}, {sfd, POLLIN, 0}};
        while (idle < BROKER_IDLE &&
               fork_worker(lsock, notify[0], notify[1], sfd, inv, &old) == 0)
            idle++;
        if (poll(p, 2, idle < BROKER_IDLE ? 100 : -1) < 0 && errno != EINTR)
            break;
        if (p[0].revents & POLLIN) {
            pid_t pid;
            if (read(notify[0], &pid, sizeof(pid)) == (ssize_t)sizeof(pid)) {
                struct worker *w = find(pid);
                if (w != NULL && w->idle) {
                    w->idle = 0;
                    idle--;
                }
            }
        }
        if (p[1].revents & POLLIN) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si) && si.ssi_signo != SIGCHLD)
                stop = 1;
            for (;;) {
                pid_t pid = waitpid(-1, NULL, WNOHANG);
                struct worker *w;
                if (pid <= 0)
                    break;
                if ((w = find(pid)) != NULL) {
                    if (w->idle)
                        idle--;
                    w->pid = 0;
                }
            }
        }
    }
    /* Stop: idle workers go; busy ones finish their request. The socket
     * file goes if it is still ours. */
    for (int i = 0; i < BROKER_MAX; i++)
        if (workers[i].pid != 0 && workers[i].idle)
            (void)kill(workers[i].pid, SIGTERM);
    if (lstat(argv[2], &now) == 0 && now.st_dev == mine.st_dev && now.st_ino == mine.st_ino)
        (void)unlink(argv[2]);
    (void)close(lsock);
    return PROCKET_EXIT_OK;
}
