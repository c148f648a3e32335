/*
 * client.c - running the helper and collecting its answer.
 *
 * Everything here runs unprivileged, in the caller's process. Every path
 * out of procket_open() and procket_open_path() closes the channel, reaps
 * the child and (for the path transport) removes the socket file, if it
 * is still where it was made.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "procket.h"
#include "peer.h"

extern char **environ;

static int64_t now_ms(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int remaining(int64_t deadline)
{
    int64_t left = deadline - now_ms();
    return left < 0 ? 0 : (int)left;
}

static int spawn(char *const argv[], int chan, pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t all, none;
    int rc;

    if (argv == NULL || argv[0] == NULL || chan < 0 || pid == NULL)
        return -EINVAL;

    rc = posix_spawn_file_actions_init(&fa);
    if (rc != 0)
        return -rc;
    rc = posix_spawnattr_init(&attr);
    if (rc != 0) {
        posix_spawn_file_actions_destroy(&fa);
        return -rc;
    }
    (void)sigfillset(&all);
    (void)sigemptyset(&none);
    /* chan becomes fd 0; dup2 leaves the copy without close-on-exec. If
     * chan already is 0 it must lose close-on-exec some other way. */
    if (chan == STDIN_FILENO)
        rc = EINVAL;
    else
        rc = posix_spawn_file_actions_adddup2(&fa, chan, STDIN_FILENO);
    if (rc == 0)
        rc = posix_spawnattr_setsigmask(&attr, &none);
    if (rc == 0)
        rc = posix_spawnattr_setsigdefault(&attr, &all);
    if (rc == 0)
        rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK |
                                                 POSIX_SPAWN_SETSIGDEF);
    if (rc == 0)
        rc = posix_spawnp(pid, argv[0], &fa, &attr, argv, environ);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    return -rc;
}

/* Finds the program file for argv0 as execvp(3) would, but before any
 * child exists and never falling back to running /bin/sh on ENOEXEC:
 * a name with a slash is used as it is; else the first executable
 * regular file of that name in $PATH (default "/bin:/usr/bin"). */
static int find_program(const char *argv0, char *out, size_t outlen)
{
    const char *path, *p;
    int err = -ENOENT;

    if (strchr(argv0, '/') != NULL) {
        if (strlen(argv0) >= outlen)
            return -ENAMETOOLONG;
        memcpy(out, argv0, strlen(argv0) + 1);
        return 0;
    }
    if (argv0[0] == '\0')
        return -ENOENT;
    path = getenv("PATH");
    if (path == NULL || path[0] == '\0')
        path = "/bin:/usr/bin";
    for (p = path;; p++) {
        const char *end = strchr(p, ':');
        size_t dlen = end != NULL ? (size_t)(end - p) : strlen(p);
        struct stat st;
        int n = dlen == 0 ? snprintf(out, outlen, "%s", argv0)
                          : snprintf(out, outlen, "%.*s/%s", (int)dlen, p, argv0);
        if (n > 0 && (size_t)n < outlen) {
            if (stat(out, &st) == 0 && S_ISREG(st.st_mode)) {
                if (access(out, X_OK) == 0)
                    return 0;
                err = -EACCES;
            }
        }
        if (end == NULL)
            return err;
        p = end;
    }
}

/* Starts the procket helper (directly, or through a prefix such as sudo
 * that runs it) with chan as its standard input. The same as spawn()
 * with one difference, which makes it ~60 system calls cheaper: the
 * child starts with every signal blocked. Blocking them all before
 * vfork(2) is what makes the shared-memory child safe without resetting
 * each of the caller's handlers one by one (posix_spawn's cost); execve
 * resets the handlers, and the helper empties its mask and resets the
 * signals it relies on itself (procket(8)). */
static int spawn_helper(char *const argv[], int chan, pid_t *pid)
{
    char prog[4096];
    sigset_t all, old;
    volatile int child_err = 0;
    pid_t p;
    int rc;

    if (argv == NULL || argv[0] == NULL || chan < 0 || pid == NULL)
        return -EINVAL;
    if (chan == STDIN_FILENO)
        return -EINVAL;
    rc = find_program(argv[0], prog, sizeof(prog));
    if (rc < 0)
        return rc;
    (void)sigfillset(&all);
    rc = pthread_sigmask(SIG_SETMASK, &all, &old);
    if (rc != 0)
        return -rc;
    p = vfork();
    if (p == 0) {
        /* Our memory and stack until execve: system calls only. dup2
         * leaves fd 0 without close-on-exec. */
        if (dup2(chan, STDIN_FILENO) == STDIN_FILENO)
            (void)execve(prog, argv, environ);
        child_err = errno;
        _exit(127);
    }
    rc = p < 0 ? -errno : 0;
    (void)pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc < 0)
        return rc;
    if (child_err != 0) { /* it has exited already */
        while (waitpid(p, NULL, 0) < 0 && errno == EINTR)
            ;
        return -child_err;
    }
    *pid = p;
    return 0;
}

static void *reaper(void *arg)
{
    pid_t pid = (pid_t)(intptr_t)arg;
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
    return NULL;
}

/* Hands pid to a detached thread that waits for it. */
static void reap_later(pid_t pid)
{
    pthread_attr_t attr;
    pthread_t t;

    if (pthread_attr_init(&attr) != 0)
        return;
    (void)pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    (void)pthread_create(&t, &attr, reaper, (void *)(intptr_t)pid);
    (void)pthread_attr_destroy(&attr);
}

/* Sleeps until the child pid has exited (not reaped) or the deadline
 * passes, if the kernel can tell (pidfd_open, Linux 5.3); else, or on any
 * error, returns at once and the caller polls. A sleep in poll(2) wakes
 * the moment the child exits, where polling waitpid with growing pauses
 * overslept the helper's exit by ~150 us per open (bench/README.md). */
static void sleep_until_exit(pid_t pid, int64_t deadline)
{
#ifdef SYS_pidfd_open
    int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pfd < 0)
        return;
    struct pollfd p = {pfd, POLLIN, 0};
    while (poll(&p, 1, remaining(deadline)) < 0 && errno == EINTR)
        ;
    (void)close(pfd);
#else
    (void)pid;
    (void)deadline;
#endif
}

/* Waits for the child until it exits or the deadline passes. Returns 1
 * when reaped, 0 when still running, -errno on error. */
static int wait_until(pid_t pid, int64_t deadline, int *status)
{
    long pause_ns = 20000;
    int slept = 0;

    for (;;) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid)
            return 1;
        if (r < 0 && errno != EINTR)
            return -errno;
        if (now_ms() >= deadline)
            return 0;
        if (!slept) {
            slept = 1;
            sleep_until_exit(pid, deadline);
            continue;
        }
        struct timespec ts = {0, pause_ns};
        (void)nanosleep(&ts, NULL);
        if (pause_ns < 2000000)
            pause_ns *= 2;
    }
}

static int reap(pid_t pid, int timeout_ms, int *status)
{
    int st = 0, rc;

    if (pid <= 0 || timeout_ms < 0)
        return -EINVAL;
    rc = wait_until(pid, now_ms() + timeout_ms, &st);
    if (rc < 0)
        return rc;
    if (rc == 1) {
        if (status != NULL)
            *status = st;
        return 0;
    }
    if (kill(pid, SIGKILL) < 0) {
        /* not ours to signal (sudo runs as root): never block on it */
        reap_later(pid);
        return -ETIMEDOUT;
    }
    rc = wait_until(pid, now_ms() + 1000, &st);
    if (rc == 0)
        reap_later(pid);
    return rc < 0 ? rc : -ETIMEDOUT;
}

/* Waits for the reply on chan and turns it into a descriptor or -errno;
 * *flags gets the reply's flags (0 when there was no reply). */
static int await_reply(int chan, int64_t deadline, unsigned *flags)
{
    unsigned char buf[PROCKET_MSG_MAX];
    struct pollfd pfd = {chan, POLLIN, 0};
    ssize_t n;
    int fd = -1, error, rc;

    for (;;) {
        rc = poll(&pfd, 1, remaining(deadline));
        if (rc > 0)
            break;
        if (rc == 0)
            return -ETIMEDOUT;
        if (errno != EINTR)
            return -errno;
    }
    n = procket_recv_fd(chan, &fd, buf, sizeof(buf));
    /* A peer that exits with our request unread leaves ECONNRESET pending
     * ahead of whatever it sent: that error is now consumed, look again
     * (a reply, or 0 at once: the peer is gone). */
    if (n == -ECONNRESET)
        n = procket_recv_fd(chan, &fd, buf, sizeof(buf));
    if (n < 0)
        return (int)n;
    if (n == 0)
        return -ECONNRESET; /* the helper went away without a word */
    rc = procket_reply_decode_flags(&error, flags, buf, (size_t)n);
    if (rc == 0 && error == 0 && fd < 0)
        rc = -EPROTO; /* success must carry a descriptor */
    if (rc == 0 && error != 0 && fd >= 0)
        rc = -EPROTO; /* failure must not */
    if (rc < 0) {
        if (fd >= 0)
            (void)close(fd);
        return rc;
    }
    return error != 0 ? -error : fd;
}

/* Sends the whole message on a SOCK_SEQPACKET channel within the deadline. */
static int send_request(int chan, const void *msg, size_t len, int64_t deadline)
{
    struct pollfd pfd = {chan, POLLOUT, 0};
    ssize_t n;

    for (;;) {
        n = send(chan, msg, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n >= 0)
            return (size_t)n == len ? 0 : -EMSGSIZE;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN)
            return errno == EPIPE ? -ECONNRESET : -errno;
        int rc = poll(&pfd, 1, remaining(deadline));
        if (rc == 0)
            return -ETIMEDOUT;
        if (rc < 0 && errno != EINTR)
            return -errno;
    }
}

/* Reaps the child after the exchange; a child still there after the reply
 * (or after a failed exchange) gets a short grace period only. */
static void finish_child(pid_t pid, int64_t deadline)
{
    int grace = remaining(deadline);
    (void)procket_reap(pid, grace < 1000 ? grace : 1000, NULL);
}

/* *how: see procket_open_how() in procket.h. */
static int outcome(int rc, int spawned, unsigned flags)
{
    if (rc >= 0)
        return PROCKET_HOW_FINAL;
    if (!spawned || rc == -ECONNRESET)
        return PROCKET_HOW_NOT_RUN;
    return (flags & PROCKET_REPLY_UNPRIVILEGED) ? PROCKET_HOW_UNPRIVILEGED
                                                : PROCKET_HOW_FINAL;
}

static int open_chan(const struct procket_request *req, char *const argv[],
                     int timeout_ms, int *how)
{
    unsigned flags = 0;
    unsigned char msg[PROCKET_MSG_MAX];
    ssize_t len;
    int sv[2], rc;
    pid_t pid;
    int64_t deadline;

    if (argv == NULL || argv[0] == NULL || timeout_ms < 1)
        return -EINVAL;
    len = procket_request_encode(req, msg, sizeof(msg));
    if (len < 0)
        return (int)len;
    deadline = now_ms() + timeout_ms;

    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return -errno;
    rc = spawn_helper(argv, sv[1], &pid);
    (void)close(sv[1]);
    if (rc < 0) {
        (void)close(sv[0]);
        *how = PROCKET_HOW_NOT_RUN;
        return rc;
    }
    rc = send_request(sv[0], msg, (size_t)len, deadline);
    /* A program that answered without reading (and exited) may have left
     * its reply queued: read it rather than report a reset. */
    if (rc == 0 || rc == -ECONNRESET)
        rc = await_reply(sv[0], deadline, &flags);
    *how = outcome(rc, 1, flags);
    (void)close(sv[0]); /* a helper still reading now sees end of file */
    if (rc == -ETIMEDOUT)
        (void)procket_reap(pid, 0, NULL);
    else
        finish_child(pid, deadline);
    return rc;
}

/* True once the child has exited: reaped here, or already reaped by the
 * kernel because the caller ignores SIGCHLD (the Erlang VM may). */
static int child_gone(pid_t pid)
{
    pid_t r;

    while ((r = waitpid(pid, NULL, WNOHANG)) < 0 && errno == EINTR)
        ;
    return r == pid || (r < 0 && errno == ECHILD);
}

/* Accepts one connection on lsock within the deadline. The child is
 * watched meanwhile: if it exits without connecting there is no point in
 * waiting, and *reaped is set. */
static int accept_until(int lsock, pid_t pid, int *reaped, int64_t deadline)
{
    struct pollfd pfd = {lsock, POLLIN, 0};

    for (;;) {
        int left = remaining(deadline);
        int rc = poll(&pfd, 1, left < 10 ? left : 10);
        if (rc < 0 && errno != EINTR)
            return -errno;
        if (rc > 0) {
            int s = accept4(lsock, NULL, NULL, SOCK_CLOEXEC);
            if (s >= 0)
                return s;
            if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED)
                return -errno;
            continue;
        }
        if (!*reaped && child_gone(pid)) {
            *reaped = 1; /* one last look: it may have connected first */
            if (poll(&pfd, 1, 0) > 0)
                continue;
            return -ECONNRESET;
        }
        if (*reaped && poll(&pfd, 1, 0) == 0)
            return -ECONNRESET;
        if (left == 0)
            return -ETIMEDOUT;
    }
}

/* Runs the helper with "-u path" options and waits for it on lsock; the
 * child's pid goes to *pid (0 when none was started). */
static int exchange_path(const struct procket_request *req,
                         char *const argv[], const char *path, int lsock,
                         pid_t *pid, int *reaped, int64_t deadline, int *how)
{
    unsigned flags = 0;
    char *full[64];
    char strbuf[512];
    struct ucred cred;
    socklen_t credlen = sizeof(cred);
    size_t n = 0;
    int rc, s;

    while (argv[n] != NULL) {
        if (n >= 31)
            return -E2BIG;
        full[n] = argv[n];
        n++;
    }
    rc = procket_args_format(req, path, full + n, 64 - n, strbuf,
                             sizeof(strbuf));
    if (rc < 0)
        return rc;
    /* the helper never reads this channel; /dev/null is its stdin */
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull < 0)
        return -errno;
    rc = spawn_helper(full, devnull, pid);
    (void)close(devnull);
    if (rc < 0) {
        *how = PROCKET_HOW_NOT_RUN;
        return rc;
    }

    s = accept_until(lsock, *pid, reaped, deadline);
    if (s < 0)
        return s;
    if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cred, &credlen) < 0) {
        rc = -errno;
    } else if (cred.uid != geteuid()) {
        rc = -EPERM; /* someone else connected to our socket */
    } else {
        rc = await_reply(s, deadline, &flags);
    }
    *how = outcome(rc, 1, flags);
    (void)close(s);
    return rc;
}

/* Removes name in the directory dirfd if it still is the socket file
 * dev/ino, never whatever may have taken its place. (Between the look and
 * the unlink only someone who may write to that directory could swap the
 * name, and what they put there they could remove themselves.) */
static void remove_socket(int dirfd, const char *name, dev_t dev, ino_t ino)
{
    struct stat st;

    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        st.st_dev == dev && st.st_ino == ino)
        (void)unlinkat(dirfd, name, 0);
}

/* Binds lsock at path, which is name in the directory dirfd, and
 * listens; *dev and *ino get the socket file's. Linux makes the file with
 * the socket's own mode less the umask, so it is private from the start:
 * no chmod by path, no umask change (the umask is per process). Nothing
 * is looked at or removed by path, which someone else may redirect:
 * -EBUSY, leaving the file alone, if after the bind dirfd holds under
 * name anything but a private socket file of ours (path led elsewhere). */
static int listen_at(int lsock, const char *path, int dirfd, const char *name,
                     dev_t *dev, ino_t *ino)
{
    struct sockaddr_un sun;
    struct stat st;
    int rc;

    if (fchmod(lsock, 0600) < 0)
        return -errno;
    /* free in dirfd too, so that a socket of ours found there after the
     * bind is new: no other user can make one (a hard link they make to
     * one is theirs to lose) */
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
        return -EADDRINUSE;
    if (errno != ENOENT)
        return -errno;
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, path, strlen(path));
    if (bind(lsock, (struct sockaddr *)&sun, sizeof(sun)) < 0)
        return -errno;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
        !S_ISSOCK(st.st_mode) || st.st_uid != geteuid() ||
        (st.st_mode & 077) != 0)
        return -EBUSY;
    *dev = st.st_dev;
    *ino = st.st_ino;
    if ((st.st_mode & S_IWUSR) == 0)
        rc = -EACCES; /* the umask took it: the helper could not connect */
    else if (listen(lsock, 1) < 0)
        rc = -errno;
    else
        return 0;
    remove_socket(dirfd, name, *dev, *ino);
    return rc;
}

static int open_path(const struct procket_request *req, char *const argv[],
                     const char *path, int timeout_ms, int *how)
{
    struct sockaddr_un sun;
    char dir[sizeof(sun.sun_path)];
    const char *name;
    size_t dirlen;
    dev_t dev = 0;
    ino_t ino = 0;
    pid_t pid = 0;
    int dirfd, lsock, rc, reaped = 0;
    int64_t deadline;

    if (argv == NULL || argv[0] == NULL || path == NULL || timeout_ms < 1)
        return -EINVAL;
    rc = procket_request_validate(req);
    if (rc < 0)
        return rc;
    if (path[0] != '/')
        return -EINVAL; /* the helper works from "/": relative means elsewhere */
    if (strlen(path) >= sizeof(sun.sun_path))
        return -ENAMETOOLONG;
    /* The socket file is name in dir ("/" for "/x"). A path ending in '/'
     * names a directory, never a new file. */
    name = strrchr(path, '/') + 1;
    if (name[0] == '\0')
        return -EINVAL;
    dirlen = (size_t)(name - path) > 1 ? (size_t)(name - path) - 1 : 1;
    memcpy(dir, path, dirlen);
    dir[dirlen] = '\0';
    deadline = now_ms() + timeout_ms;

    /* The directory is pinned before the bind: the file is checked and
     * removed through it, whatever path leads to later. */
    dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0)
        return -errno;
    lsock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (lsock < 0) {
        rc = -errno;
        (void)close(dirfd);
        return rc;
    }
    rc = listen_at(lsock, path, dirfd, name, &dev, &ino);
    if (rc < 0) {
        (void)close(lsock);
        (void)close(dirfd);
        return rc;
    }
    /* The mode lets only the owner (and root) connect; SO_PEERCRED
     * checks who did. */
    rc = exchange_path(req, argv, path, lsock, &pid, &reaped, deadline, how);
    (void)close(lsock);
    remove_socket(dirfd, name, dev, ino);
    (void)close(dirfd);
    if (pid > 0 && !reaped) {
        if (rc == -ETIMEDOUT)
            (void)procket_reap(pid, 0, NULL);
        else
            finish_child(pid, deadline);
    }
    return rc;
}

/* The public entry points: errno is never part of the result, and the
 * system calls above (and posix_spawn's child, which shares our memory
 * until it execs) may change it. */
/* What a broker sent back is what was asked for: a socket of the family
 * and type of the request, or a character device for a device request. */
static int reply_fd_matches(int fd, const struct procket_request *req)
{
    struct stat st;
    int v;
    socklen_t len = sizeof(v);

    if (fstat(fd, &st) < 0)
        return 0;
    if (req->device != PROCKET_DEV_NONE)
        return S_ISCHR(st.st_mode);
    if (!S_ISSOCK(st.st_mode) || getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &len) < 0 ||
        v != req->family)
        return 0;
    len = sizeof(v);
    return getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len) == 0 && v == req->type;
}

/* Connects s to the broker within the deadline. A full backlog (a busy
 * broker, or another client holding it) makes a non-blocking connect(2)
 * of a Unix socket fail with EAGAIN at once, and nothing says when there
 * is room: try again, 1 ms later at first, up to 8 ms apart (a client
 * that waited longer would lose its turn to one that keeps trying). */
static int connect_broker(int s, const struct sockaddr_un *sun, int64_t deadline, int retry)
{
    int pause = 1;

    for (;;) {
        if (connect(s, (const struct sockaddr *)sun, sizeof(*sun)) == 0)
            return 0;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN || !retry)
            return -errno;
        int left = remaining(deadline);
        if (left <= 0)
            return -ETIMEDOUT;
        struct timespec ts = {0, (long)(pause < left ? pause : left) * 1000000L};
        (void)nanosleep(&ts, NULL);
        if (pause < 8)
            pause *= 2;
    }
}

static int open_broker(const struct procket_request *req, const char *path, int timeout_ms,
                       int *how, int retry)
{
    unsigned char msg[PROCKET_MSG_MAX];
    struct sockaddr_un sun;
    unsigned flags = 0;
    ssize_t len;
    int64_t deadline;
    int s, rc;

    if (req == NULL || path == NULL || timeout_ms < 1)
        return -EINVAL;
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sun.sun_path))
        return -ENAMETOOLONG;
    memcpy(sun.sun_path, path, strlen(path));
    len = procket_request_encode(req, msg, sizeof(msg));
    if (len < 0)
        return (int)len;
    deadline = now_ms() + timeout_ms;
    s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s < 0)
        return -errno;
    rc = connect_broker(s, &sun, deadline, retry);
    if (rc == -EAGAIN) { /* retry 0: the backlog is full, nothing sent */
        *how = PROCKET_HOW_NOT_RUN;
        (void)close(s);
        return rc;
    }
    if (rc == 0) {
        /* Only root runs a broker: whatever else listens at path (a user
         * who took the name while no broker ran) is not asked. */
        struct ucred cred;
        socklen_t clen = sizeof(cred);
        if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0)
            rc = -errno;
        else if (!procket_broker_peer_ok(path, cred.uid))
            rc = -EPERM;
    }
    if (rc < 0) {
        /* no broker heard the request; but one that is there and busy
         * (the timeout) is an answer: not worth a second wait elsewhere */
        *how = rc == -ETIMEDOUT ? PROCKET_HOW_FINAL : PROCKET_HOW_NOT_RUN;
        (void)close(s);
        return rc;
    }
    rc = send_request(s, msg, (size_t)len, deadline);
    if (rc == 0 || rc == -ECONNRESET)
        rc = await_reply(s, deadline, &flags);
    (void)close(s);
    if (rc >= 0 && !reply_fd_matches(rc, req)) {
        (void)close(rc);
        rc = -EPROTO;
    }
    return rc;
}

/* The public entry: errno kept, *how always set. */
static int open_broker_entry(const struct procket_request *req, const char *path,
                             int timeout_ms, int *how, int retry)
{
    int saved = errno, unused, rc;

    if (how == NULL)
        how = &unused;
    *how = PROCKET_HOW_FINAL;
    rc = open_broker(req, path, timeout_ms, how, retry);
    errno = saved;
    return rc;
}

int procket_open_broker_how(const struct procket_request *req, const char *path,
                            int timeout_ms, int *how)
{
    return open_broker_entry(req, path, timeout_ms, how, 1);
}

int procket_open_broker_try(const struct procket_request *req, const char *path,
                            int timeout_ms, int *how)
{
    return open_broker_entry(req, path, timeout_ms, how, 0);
}

int procket_open_broker(const struct procket_request *req, const char *path, int timeout_ms)
{
    return procket_open_broker_how(req, path, timeout_ms, NULL);
}

int procket_spawn(char *const argv[], int chan, pid_t *pid)
{
    int saved = errno, rc = spawn(argv, chan, pid);
    errno = saved;
    return rc;
}

int procket_reap(pid_t pid, int timeout_ms, int *status)
{
    int saved = errno, rc = reap(pid, timeout_ms, status);
    errno = saved;
    return rc;
}

int procket_open_how(const struct procket_request *req, char *const argv[],
                     const char *path, int timeout_ms, int *how)
{
    int saved = errno, unused, rc;

    if (how == NULL)
        how = &unused;
    *how = PROCKET_HOW_FINAL;
    rc = path == NULL ? open_chan(req, argv, timeout_ms, how)
                      : open_path(req, argv, path, timeout_ms, how);
    errno = saved;
    return rc;
}

int procket_open(const struct procket_request *req, char *const argv[],
                 int timeout_ms)
{
    return procket_open_how(req, argv, NULL, timeout_ms, NULL);
}

int procket_open_path(const struct procket_request *req, char *const argv[],
                      const char *path, int timeout_ms)
{
    if (path == NULL)
        return -EINVAL;
    return procket_open_how(req, argv, path, timeout_ms, NULL);
}
