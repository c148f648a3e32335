/*
 * broker.c - procket -l PATH: the helper as a broker, for callers that can
 * never gain privileges (no_new_privs, containers, nosuid mounts).
 *
 * The parent binds PATH (a SOCK_SEQPACKET Unix socket), or takes the one
 * systemd passes it (socket activation), and keeps workers forked ahead
 * of demand; it reads nothing a caller sends. Each worker takes one
 * connection (accept(2) on the shared socket), tells the parent (which
 * forks a replacement, off the caller's path), and serves that one
 * request exactly as the helper serves its standard input channel
 * (main.c serve(): the peer's credentials from the kernel, the policy,
 * become the caller, open, drop everything, audit, reply), then exits. A
 * bug in a parser costs one request, never the broker.
 *
 * What the parent learns from a worker is the worker's own: a fixed-size
 * note on a pipe (its pid, the caller's uid as the kernel gives it, and
 * whether the request has arrived). With it the parent bounds the
 * connections one uid may hold without a request (BROKER_MUTE_PER_UID).
 *
 * Only for a process started by root (or by systemd as root): an
 * invocation that got its privileges from the setuid bit or file
 * capabilities (AT_SECURE) refuses it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helper.h"

#define BROKER_IDLE 8  /* workers waiting in accept(2) */
#define BROKER_MAX 64  /* workers at once; more callers wait in the backlog */
#define BROKER_BACKLOG 128
/* Connections one uid may hold without a request, and the longest any
 * worker lives (its read, HELPER_BROKER_READ_TIMEOUT_MS, and its audit
 * line's wait, AUDIT_WAIT_MS, with room to spare): see sweep_stuck(). */
#define BROKER_MUTE_PER_UID 8
#define BROKER_WORKER_MAX_MS 3000
/* How often a broker with workers it knows to be busy or mute looks at
 * their age (exits and stops wake it: SIGCHLD). */
#define BROKER_REAP_MS 100
/* How long after a request began a replacement worker may wait. */
#define BROKER_FORK_DEFER_MS 2
/* How long a stopping broker waits for requests in progress. */
#define BROKER_STOP_WAIT_MS 5000

#define ST_IDLE 0
#define ST_MUTE 1  /* accepted, no request yet */
#define ST_BUSY 2  /* serving a request */
#define ST_ENDED 3 /* ended by the broker, not yet reaped */

struct worker {
    pid_t pid; /* 0: free slot */
    int state;
    uid_t uid;
    int64_t since; /* ms, when accepted */
};

static struct worker workers[BROKER_MAX];
static unsigned long ended;

static int64_t now_ms(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The socket file's owner and mode (-o, -g, -m). */
struct sockfile {
    uid_t uid;
    gid_t gid;
    mode_t mode;
};

/* The socket's directory, opened once: everything after goes through
 * this descriptor, so no later change to the path (a parent directory
 * renamed, a symlink put in its place) redirects a chmod, chown or
 * unlink. It must belong to root and be writable by no one else, so that
 * nobody can put another file where the socket's name is. */
static int socket_dir;
static char socket_name[sizeof(((struct sockaddr_un *)0)->sun_path)];

/* Whether the directory open at fd may hold the socket's path: root's,
 * and writable by no one else; on the way to it (last 0), sticky will
 * do too (nobody can rename what is in it). */
static int safe_dir(int fd, int last)
{
    struct stat st;

    if (fstat(fd, &st) < 0)
        return -errno;
    if (st.st_uid != 0 || ((st.st_mode & 022) && (last || !(st.st_mode & S_ISVTX))))
        return -EROFS; /* said as "unsafe directory" */
    return 0;
}

static int open_dir(const char *path)
{
    char copy[sizeof(((struct sockaddr_un *)0)->sun_path)];
    const char *slash = strrchr(path, '/');
    char *part, *rest;
    int dir, sub, rc;

    if (path[0] != '/' || slash == NULL || slash[1] == '\0' || strcmp(slash, "/.") == 0 ||
        strcmp(slash, "/..") == 0)
        return -EINVAL; /* said as "not an absolute path to a socket file" */
    if (strlen(path) >= sizeof(copy))
        return -ENAMETOOLONG;
    (void)snprintf(socket_name, sizeof(socket_name), "%s", slash + 1);
    /* the directories below "/", component by component, never through
     * a symlink */
    (void)snprintf(copy, sizeof(copy), "%.*s", (int)(slash - path), path + 1);
    dir = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0)
        return -errno;
    for (rest = copy; *rest != '\0' || rest == copy;) {
        if (*rest == '\0')
            break; /* the socket is in "/" */
        part = rest;
        rest = strchr(part, '/');
        if (rest != NULL)
            *rest++ = '\0';
        else
            rest = part + strlen(part);
        if ((rc = safe_dir(dir, 0)) < 0) {
            (void)close(dir);
            return rc;
        }
        if (*part == '\0' || strcmp(part, ".") == 0 || strcmp(part, "..") == 0) {
            (void)close(dir);
            return -EROFS;
        }
        sub = openat(dir, part, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        (void)close(dir);
        if (sub < 0)
            return errno == ELOOP || errno == ENOTDIR ? -EROFS : -errno;
        dir = sub;
    }
    if ((rc = safe_dir(dir, 1)) < 0) {
        (void)close(dir);
        return rc;
    }
    socket_dir = dir;
    return 0;
}

/* Binds and listens at socket_dir/socket_name, with the mode and owner
 * from the start: the mode of a Unix socket's file is the socket's own
 * (fchmod before bind) less the umask; the owner is set through the
 * directory descriptor, never following a symlink. A socket file nobody
 * listens on (left by a broker that crashed) is replaced; one a broker
 * listens on is not (-EADDRINUSE), nor anything else. */
static int bind_name(const struct sockfile *sf, const struct sockaddr_un *given,
                     struct stat *st);

static int listen_at(const char *path, const struct sockfile *sf, struct stat *st)
{
    struct sockaddr_un sun;
    int rc;

    if ((rc = open_dir(path)) < 0)
        return rc;
    /* bind(2) and connect(2) take a path: the name, from inside the
     * directory opened (this process's working directory for the while) */
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    (void)snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", socket_name);
    if (fchdir(socket_dir) < 0)
        return -errno;
    rc = bind_name(sf, &sun, st);
    if (chdir("/") < 0 && rc >= 0) {
        (void)close(rc);
        return -EIO;
    }
    return rc;
}

static int bind_name(const struct sockfile *sf, const struct sockaddr_un *given, struct stat *st)
{
    struct sockaddr_un sun = *given;
    int s, c, tries, rc;
    mode_t mask;

    s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -errno;
    if (fchmod(s, sf->mode) < 0) {
        rc = -errno;
        (void)close(s);
        return rc;
    }
    for (tries = 0;; tries++) {
        struct stat old;
        int err;
        mask = umask(0);
        rc = bind(s, (struct sockaddr *)&sun, sizeof(sun));
        err = errno;
        (void)umask(mask);
        if (rc == 0)
            break;
        if (err != EADDRINUSE || tries > 0 ||
            fstatat(socket_dir, socket_name, &old, AT_SYMLINK_NOFOLLOW) < 0 ||
            !S_ISSOCK(old.st_mode)) {
            (void)close(s);
            return -err;
        }
        c = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (c < 0 || connect(c, (struct sockaddr *)&sun, sizeof(sun)) == 0 ||
            errno != ECONNREFUSED) {
            /* a broker listens there, or something else: not stale */
            if (c >= 0)
                (void)close(c);
            (void)close(s);
            return -EADDRINUSE;
        }
        (void)close(c);
        (void)unlinkat(socket_dir, socket_name, 0); /* stale */
    }
    if (listen(s, BROKER_BACKLOG) < 0 ||
        fchownat(socket_dir, socket_name, sf->uid, sf->gid, AT_SYMLINK_NOFOLLOW) < 0 ||
        fstatat(socket_dir, socket_name, st, AT_SYMLINK_NOFOLLOW) < 0) {
        int err = errno;
        (void)close(s);
        (void)unlinkat(socket_dir, socket_name, 0);
        return -err;
    }
    return s;
}

/* Removes the socket file if it is still the one made. */
static void unlink_socket(const struct stat *mine)
{
    struct stat now;

    if (fstatat(socket_dir, socket_name, &now, AT_SYMLINK_NOFOLLOW) == 0 &&
        now.st_dev == mine->st_dev && now.st_ino == mine->st_ino)
        (void)unlinkat(socket_dir, socket_name, 0);
}

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

/* The worker moves into the caller's network namespace, so that what it
 * opens is the caller's there (a container's). The caller's process is
 * named by a pidfd the kernel gives for the connection (SO_PEERPIDFD): no
 * pid that could be reused meanwhile; kept in inv for the user namespace
 * check (privsep.c). A request that names a namespace ({namespace, Name})
 * moves on from here, by policy, as with the helper. */
#ifndef PIDFD_GET_NET_NAMESPACE
#define PIDFD_GET_NET_NAMESPACE 0xff04 /* _IO(0xFF, 4), Linux 6.11 */
#endif

/* The worker's own network namespace (its inode), learned before accept:
 * a caller in the same one needs no setns(2), which with a pidfd builds
 * a whole new set of namespaces (tens of microseconds). 0: unknown. */
static ino_t own_netns;

static void own_netns_prepare(void)
{
    struct stat st;

    own_netns = stat("/proc/self/ns/net", &st) == 0 ? st.st_ino : 0;
}

static int enter_caller_netns(int conn, struct invocation *inv)
{
    int pidfd = -1, ns, rc;
    socklen_t len = sizeof(pidfd);
    struct stat st;

    if (getsockopt(conn, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) < 0 || pidfd < 0)
        return -errno;
    inv->peer_pidfd = pidfd;
    /* the namespace itself, from the same pidfd (no pid race either) */
    ns = ioctl(pidfd, PIDFD_GET_NET_NAMESPACE, 0);
    if (ns < 0) /* an older kernel: the pidfd's whole set */
        return setns(pidfd, CLONE_NEWNET) < 0 ? -errno : 0;
    if (own_netns != 0 && fstat(ns, &st) == 0 && st.st_ino == own_netns) {
        (void)close(ns);
        return 0; /* already there */
    }
    rc = setns(ns, CLONE_NEWNET) < 0 ? -errno : 0;
    (void)close(ns);
    return rc;
}

/* A worker's note to the parent: one write(2) of a few bytes on a pipe,
 * atomic. */
struct note {
    pid_t pid;
    uid_t uid;
    int state;
};

/* A worker's notes, in the worker (not a broker: none). */
static struct note worker_note = {0, 0, ST_IDLE};
static int worker_notify = -1;

static void note(int state)
{
    if (worker_notify >= 0 && worker_note.state != state) {
        worker_note.state = state;
        (void)!write(worker_notify, &worker_note, sizeof(worker_note));
    }
}

void broker_note_request(const struct invocation *inv)
{
    if (!inv->request_seen) /* else the broker learns of it at exit */
        note(ST_BUSY);
}

void broker_note_waiting(void)
{
    note(ST_BUSY);
}

/* Touches, while waiting for a connection, the stack a request will use:
 * each first write to a page after fork(2) is a fault (copy on write),
 * some 15 us on a virtual machine, better taken before a caller waits. */
static void __attribute__((noinline)) prefault_stack(void)
{
    volatile unsigned char pages[16 * 1024];

    for (size_t i = 0; i < sizeof(pages); i += 4096)
        pages[i] = 0;
}

/* In a worker: one connection, one request, exit.
 *
 * The broker hears from the worker once it has a connection when the
 * caller says nothing yet (mute: the broker bounds those), or before a
 * wait (a full log socket); a worker whose request is there at accept
 * says nothing in the caller's time: the broker learns of it when it
 * exits (SIGCHLD), and forks a replacement then. A worker its caller stops
 * is ended by the broker at once (SIGCHLD, reap()), whatever it said. */
static void work(int lsock, const struct invocation *parent_inv, pid_t self)
{
    struct invocation inv = *parent_inv;
    struct procket_args args;
    struct ucred cred;
    socklen_t len = sizeof(cred);
    struct pollfd p;
    int conn, rc;

    prefault_stack();
    check_policy_prepare();
    watchdog_prepare();
    own_netns_prepare();
    memset(&args, 0, sizeof(args));
    procket_request_init(&args.req);
    worker_note.pid = self;
    worker_note.uid = (uid_t)-1;
    do {
        conn = accept4(lsock, NULL, NULL, SOCK_CLOEXEC);
    } while (conn < 0 && (errno == EINTR || errno == ECONNABORTED));
    /* from here on, a life of its own and a bound on it */
    watchdog_arm();
    (void)close(lsock);
    worker_notify = inv.notify;
    if (conn < 0) {
        note(ST_BUSY);
        _exit(PROCKET_EXIT_CHANNEL);
    }
    if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0)
        worker_note.uid = cred.uid;
    p.fd = conn;
    p.events = POLLIN;
    if (poll(&p, 1, 0) == 1)
        inv.request_seen = 1; /* the request is there: read it at once */
    else
        note(ST_MUTE);
    /* Not in the caller's network namespace, nothing may be opened: the
     * request is answered with the error (after the policy, which may
     * refuse it first). */
    rc = enter_caller_netns(conn, &inv);
    if (rc < 0) {
        say("broker", "cannot enter the caller's network namespace: %s", strerror(-rc));
        inv.netns_error = rc;
    }
    inv.broker = 1;
    _exit(serve(conn, &inv, &args));
}

static int fork_worker(int lsock, int notify_r, int sfd, const struct invocation *inv,
                       const sigset_t *old)
{
    pid_t pid, parent = getpid();
    int i;

    for (i = 0; i < BROKER_MAX && workers[i].pid != 0; i++)
        ;
    if (i == BROKER_MAX)
        return -1;
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        /* A worker waiting for a connection is root: it ends with the
         * broker. (The setting goes when it becomes the caller, and its
         * watchdog bounds it then.) */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != parent)
            _exit(PROCKET_EXIT_INTERNAL);
        (void)close(notify_r);
        (void)close(sfd);
        (void)sigprocmask(SIG_SETMASK, old, NULL);
        work(lsock, inv, getpid());
    }
    workers[i].pid = pid;
    workers[i].state = ST_IDLE;
    workers[i].since = 0;
    return 0;
}

static struct worker *find(pid_t pid)
{
    for (int i = 0; i < BROKER_MAX; i++)
        if (workers[i].pid == pid)
            return &workers[i];
    return NULL;
}

static int count(int state)
{
    int n = 0;
    for (int i = 0; i < BROKER_MAX; i++)
        n += workers[i].pid != 0 && workers[i].state == state;
    return n;
}

/* Bounds what one caller can hold. A client sends its request as it
 * connects, so its worker reports it busy at once; a worker reported
 * mute waits for a caller who says nothing. Per uid, BROKER_MUTE_PER_UID
 * mute workers are kept: a worker that accepts one more is ended at once
 * (bound_mute(), from read_notes()). A mute worker gives up after
 * HELPER_BROKER_READ_TIMEOUT_MS. Busy workers cannot be held by their caller (a
 * stopped one is ended: reap()); none lives past BROKER_WORKER_MAX_MS,
 * the longest a request may take. Root is bounded as anyone: a
 * container's root is a caller like any other. Their callers see the
 * connection closed. */
static void end_worker(struct worker *w, const char *why)
{
    (void)kill(w->pid, SIGKILL);
    w->state = ST_ENDED; /* reaped soon; never ended twice */
    if (ended++ % 1000 == 0)
        say("broker", "uid %u: %s: ended (%lu so far)", (unsigned)w->uid, why, ended);
}

static void bound_mute(struct worker *w)
{
    int held = 0;

    for (int j = 0; j < BROKER_MAX; j++)
        if (&workers[j] != w && workers[j].pid != 0 && workers[j].state == ST_MUTE &&
            workers[j].uid == w->uid)
            held++;
    if (held >= BROKER_MUTE_PER_UID)
        end_worker(w, "too many connections without a request");
}

static void sweep_stuck(int64_t now)
{
    for (int i = 0; i < BROKER_MAX; i++) {
        struct worker *w = &workers[i];
        if (w->pid != 0 && (w->state == ST_MUTE || w->state == ST_BUSY) &&
            now - w->since >= BROKER_WORKER_MAX_MS)
            end_worker(w, "a worker past its time");
    }
}

/* Reads every note there is. */
static void read_notes(int fd)
{
    struct note n[64];
    ssize_t got;
    int64_t now = now_ms();

    while ((got = read(fd, n, sizeof(n))) > 0) {
        for (size_t i = 0; i < (size_t)got / sizeof(n[0]); i++) {
            struct worker *w = find(n[i].pid);
            if (w == NULL)
                continue;
            if (w->state == ST_IDLE) {
                w->uid = n[i].uid;
                w->since = now;
                w->state = n[i].state;
                if (w->state == ST_MUTE)
                    bound_mute(w);
            } else if (n[i].state == ST_BUSY && w->state == ST_MUTE) {
                w->state = ST_BUSY;
            }
        }
        if ((size_t)got < sizeof(n))
            break;
    }
}

/* Reaps the workers that exited, and ends those that were stopped: once a
 * worker has become its caller, the caller may stop it (SIGSTOP), and a
 * stopped worker serves nobody. */
static void reap(void)
{
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG | WUNTRACED);
        struct worker *w;
        if (pid <= 0)
            break;
        w = find(pid);
        if (WIFSTOPPED(status)) {
            (void)kill(pid, SIGKILL);
            if (w != NULL)
                w->state = ST_ENDED;
            continue;
        }
        if (w != NULL)
            w->pid = 0;
    }
}

/* A user or group: a name in the system's databases, or a number. */
static int parse_owner(const char *s, int group, unsigned *id)
{
    char *end;
    unsigned long v;

    if (s[0] >= '0' && s[0] <= '9') {
        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno != 0 || *end != '\0' || v >= 0xffffffffUL)
            return -1;
        *id = (unsigned)v;
        return 0;
    }
    if (group) {
        struct group *g = getgrnam(s);
        if (g == NULL)
            return -1;
        *id = g->gr_gid;
    } else {
        struct passwd *p = getpwnam(s);
        if (p == NULL)
            return -1;
        *id = p->pw_uid;
    }
    return 0;
}

static int parse_options(int argc, char *argv[], const char **path, struct sockfile *sf)
{
    int owned = 0, moded = 0;

    sf->uid = 0;
    sf->gid = 0;
    sf->mode = 0666;
    *path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        unsigned id;
        if (strcmp(o, "-l") == 0 && v != NULL && *path == NULL) {
            *path = v;
        } else if (strcmp(o, "-m") == 0 && v != NULL) {
            char *end;
            unsigned long m = strtoul(v, &end, 8);
            if (*v == '\0' || *end != '\0' || m > 0777) {
                say("args", "-m %s: a mode in octal, at most 0777", v);
                return -1;
            }
            sf->mode = (mode_t)m;
            moded = 1;
        } else if ((strcmp(o, "-o") == 0 || strcmp(o, "-g") == 0) && v != NULL) {
            int group = o[1] == 'g';
            if (parse_owner(v, group, &id) < 0) {
                say("args", "%s %s: no such %s", o, v, group ? "group" : "user");
                return -1;
            }
            if (group)
                sf->gid = id;
            else
                sf->uid = id;
            owned = 1;
        } else {
            say("args", "%s: not an option of the broker", o);
            return -1;
        }
        i++;
    }
    if (owned && !moded)
        sf->mode = 0660;
    return 0;
}

/* The socket systemd passed (descriptor 3): a listening AF_UNIX
 * SOCK_SEQPACKET socket, or nothing. */
static int activated_socket(const struct invocation *inv)
{
    int v, fd = inv->listen_fd;
    socklen_t len = sizeof(v);

    if (fd == -2) {
        say("broker", "socket activation: LISTEN_FDS must be 1");
        return -1;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &len) < 0 || v != AF_UNIX ||
        (len = sizeof(v), getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len)) < 0 ||
        v != SOCK_SEQPACKET ||
        (len = sizeof(v), getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len)) < 0 || !v) {
        say("broker", "socket activation: descriptor 3 is not a listening Unix "
                      "SOCK_SEQPACKET socket (ListenSequentialPacket=)");
        return -1;
    }
    return fd;
}

int broker_main(int argc, char *argv[], const struct invocation *inv_in)
{
    struct invocation inv = *inv_in;
    struct stat mine;
    struct sockfile sf;
    const char *path = NULL;
    sigset_t set, old;
    int lsock, sfd, notify[2], stop = 0;
    int64_t stop_at = 0, last_note = 0;

    if (getauxval(AT_SECURE) != 0 || inv.ruid != 0 || geteuid() != 0) {
        say("broker", "-l is for a process started by root; not through setuid, "
                      "file capabilities or another user");
        return PROCKET_EXIT_USAGE;
    }
    /* every caller is who the kernel says: not the user sudo names */
    inv.sudo = 0;
    if (inv.listen_fd != -1) {
        if (argc != 1) {
            say("args", "socket activation: no options (the socket unit sets the "
                        "socket's owner and mode)");
            return PROCKET_EXIT_USAGE;
        }
        if ((lsock = activated_socket(&inv)) < 0)
            return PROCKET_EXIT_USAGE;
    } else {
        if (parse_options(argc, argv, &path, &sf) < 0 || path == NULL) {
            say("args", "usage: " PROGNAME " -l PATH [-m MODE] [-o USER] [-g GROUP]");
            return PROCKET_EXIT_USAGE;
        }
        lsock = listen_at(path, &sf, &mine);
        if (lsock < 0) {
            say("broker", "%s: %s", path,
                lsock == -EADDRINUSE ? "a broker (or something else) listens there already"
                : lsock == -EINVAL   ? "not an absolute path to a socket file"
                : lsock == -EROFS    ? "its directory, and every one on the way, must be "
                                       "root's and writable by no one else (on the way, "
                                       "sticky will do), reached with no symlink, . or .."
                                     : strerror(-lsock));
            return PROCKET_EXIT_INTERNAL;
        }
    }
    /* the broker runs until stopped; its workers each arm a watchdog */
    if (watchdog_disarm() < 0 || pipe2(notify, O_CLOEXEC) < 0 ||
        fcntl(notify[0], F_SETFL, O_NONBLOCK) < 0)
        return PROCKET_EXIT_INTERNAL;
    inv.notify = notify[1];
    broker_identity_init(&inv);
    /* SIGCHLD wakes the broker: a worker that exited, or was stopped by
     * its caller, is seen at once, whether or not it said anything */
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &set, &old) < 0 ||
        (sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK)) < 0)
        return PROCKET_EXIT_INTERNAL;

    for (;;) {
        struct pollfd p[2] = {{notify[0], POLLIN, 0}, {sfd, POLLIN, 0}};
        int idle = count(ST_IDLE), timeout = -1;
        int64_t since_note = now_ms() - last_note;
        /* Replacements are forked at once when fewer than two workers
         * wait; else BROKER_FORK_DEFER_MS after the last sign of a request
         * (a note, an exit), so that on a small machine the fork does not
         * compete with the requests being served. */
        if (!stop && idle < BROKER_IDLE && idle >= 2 && since_note < BROKER_FORK_DEFER_MS)
            timeout = (int)(BROKER_FORK_DEFER_MS - since_note);
        else if (!stop)
            while (idle < BROKER_IDLE &&
                   fork_worker(lsock, notify[0], sfd, &inv, &old) == 0)
                idle++;
        if (stop) {
            int64_t left = stop_at - now_ms();
            if (count(ST_MUTE) + count(ST_BUSY) + count(ST_ENDED) == 0 || left <= 0)
                break;
            timeout = (int)left;
        } else if (idle < BROKER_IDLE && timeout < 0) {
            timeout = 100; /* no fork now: try again soon */
        }
        if (count(ST_MUTE) + count(ST_BUSY) + count(ST_ENDED) > 0 &&
            (timeout < 0 || timeout > BROKER_REAP_MS))
            timeout = BROKER_REAP_MS;
        if (poll(p, 2, timeout) < 0 && errno != EINTR)
            break;
        if (p[0].revents & POLLIN) {
            read_notes(notify[0]);
            last_note = now_ms();
        }
        if (p[1].revents & POLLIN) {
            struct signalfd_siginfo si;
            last_note = now_ms(); /* a worker's exit: a request just done */
            while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
                if (si.ssi_signo != SIGCHLD && !stop) {
                    /* Stop: no new connection; idle workers go, requests in
                     * progress get BROKER_STOP_WAIT_MS to finish. */
                    stop = 1;
                    stop_at = now_ms() + BROKER_STOP_WAIT_MS;
                    for (int i = 0; i < BROKER_MAX; i++)
                        if (workers[i].pid != 0 && workers[i].state == ST_IDLE)
                            (void)kill(workers[i].pid, SIGKILL);
                    if (path != NULL)
                        unlink_socket(&mine);
                    (void)close(lsock);
                }
        }
        reap();
        sweep_stuck(now_ms());
    }
    return PROCKET_EXIT_OK;
}
