/*
 * procket_sock.c - the low-level socket API of the NIF and its handles.
 *
 * Descriptors arrive either as integers (the caller owns them, as in the
 * older procket API) or as handles: resources that own one descriptor,
 * close it when their owner process exits, and can wait for readiness
 * with enif_select. See src/procket_socket.erl for the Erlang side.
 *
 * Scheduler rules: no call here blocks a normal scheduler.
 *  - recv/send family: MSG_DONTWAIT is always added, so they never wait.
 *  - read, write, writev: on a descriptor in blocking mode (and on regular
 *    files and block devices, where O_NONBLOCK means nothing) the call
 *    moves itself to a dirty I/O scheduler with enif_schedule_nif; on a
 *    non-blocking one RWF_NOWAIT keeps it from waiting even if O_NONBLOCK
 *    is cleared between the look and the call. A handle's descriptor is
 *    kept non-blocking: procket sets O_NONBLOCK again if it was cleared.
 *  - accept, connect, ioctl always run on a dirty I/O scheduler.
 *  - kernel work that may wait without end (a close(2) that may linger or
 *    flush, the drop of an AF_UNIX message carrying the last reference to
 *    such a file, a path lookup) runs on procket's worker threads, and the
 *    caller waits in receive: see "work off the schedulers".
 *
 * The VM's safety: an integer descriptor must be one procket gave out
 * (int_begin); ioctl passes on known requests only (ioc_rules); socket
 * options that carry addresses are refused (sockopt_refused). See
 * src/procket_socket.erl, "What procket refuses".
 *
 * Bounds: read/recv sizes up to PK_IO_MAX, addresses PK_SOCKADDR_MAX,
 * control data PK_CTRL_MAX, socket options PK_OPT_MAX, ioctl arguments
 * PK_IOCTL_MAX; anything else is badarg. Every error path releases what it
 * allocated and every descriptor accept(2) or recvmsg(2) creates is
 * returned to the caller.
 *
 * Handle life cycle (struct pk_sock, all fields under mtx):
 *   OPEN --close_handle/owner exit--> CLOSING --fd closed--> CLOSED
 * In CLOSING no new operation starts; close(2) happens once no operation
 * is in flight (busy == 0) and, if the descriptor was ever given to
 * enif_select, after the stop callback ran. A close_handle caller (the
 * "closer") does the close(2) itself on a dirty I/O scheduler
 * (sock_finalize), told by a message when it had to wait; without a closer
 * (owner exited, closer exited) the last one out closes it.
 */
#define _GNU_SOURCE /* accept4, MSG_CMSG_CLOEXEC */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <net/if.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#ifdef __linux__
#include <linux/filter.h>
#include <linux/icmp.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/sockios.h>
#include <netpacket/packet.h>
#endif

#include "erl_driver.h" /* erl_errno_id() */
#include "erl_nif.h"
#include "procket_sock.h"
#include "procket_sock_consts.h"

#define PK_IO_MAX (64UL * 1024 * 1024) /* read/recv size */
/* receives up to this size go through a stack buffer (see recvfrom) */
#define PK_RECV_SMALL 4096
#define PK_SOCKADDR_MAX 1024           /* socket address */
#define PK_CTRL_MAX (64 * 1024)        /* control data (cmsg) */
/* Room for the control data one receive may carry beyond what the caller
 * asked for: SCM_RIGHTS with SCM_MAX_FD (253) descriptors, credentials, a
 * pidfd, a security label. The kernel closes what does not fit itself, in
 * the receiving thread; procket takes it and closes it off the scheduler
 * when that close may wait (see pass_fds). */
#define PK_CTRL_ROOM 2048
#define PK_OPT_MAX (64 * 1024)         /* socket option value */
#define PK_IOCTL_MAX (64 * 1024)       /* ioctl argument and result */
#define PK_IOCTL_GUARD 4096            /* zeroed bytes after the argument */
#ifndef IOV_MAX
#define IOV_MAX 1024
#endif
#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif
#ifndef SCM_PIDFD
#define SCM_PIDFD 0x04
#endif
#ifndef MSG_ZEROCOPY
#define MSG_ZEROCOPY 0x4000000
#endif
#ifndef SOL_XDP
#define SOL_XDP 283
#endif
#ifndef SOL_SCTP
#define SOL_SCTP 132
#endif

static ErlNifResourceType *pk_rt;
static ERL_NIF_TERM a_ok, a_error, a_undefined, a_true, a_false, a_wait,
    a_finalize, a_close_msg, a_closed_msg, a_wait_msg, a_retry, a_open, a_closing, a_closed, a_fd, a_owner,
    a_state, a_selected, a_not_owner, a_select, a_ready_input,
    a_ready_output, a_read, a_write;

/* ---- small helpers ------------------------------------------------------ */

static ERL_NIF_TERM error_tuple(ErlNifEnv *env, int err)
{
    return enif_make_tuple2(env, a_error,
                            enif_make_atom(env, erl_errno_id(err)));
}

static ERL_NIF_TERM ok_tuple(ErlNifEnv *env, ERL_NIF_TERM t)
{
    return enif_make_tuple2(env, a_ok, t);
}

/* 1 on one of procket's worker threads (see "work off the schedulers") */
static _Thread_local int pk_worker;

/* Whether a call may wait here: on a dirty scheduler or on a worker of
 * procket's, not on a normal scheduler. */
static int on_dirty_scheduler(void)
{
    int t = enif_thread_type();
    return pk_worker || t == ERL_NIF_THR_DIRTY_IO_SCHEDULER ||
           t == ERL_NIF_THR_DIRTY_CPU_SCHEDULER;
}

/* A binary argument of at most max bytes. */
static int get_bin(ErlNifEnv *env, ERL_NIF_TERM t, size_t max, ErlNifBinary *b)
{
    return enif_inspect_binary(env, t, b) && b->size <= max;
}

static int get_size(ErlNifEnv *env, ERL_NIF_TERM t, unsigned long max,
                    unsigned long *out)
{
    return enif_get_ulong(env, t, out) && *out <= max;
}

/* A socket address result: `got' bytes as the kernel reported them, of
 * which the first min(got, given) are in buf and the rest are zeros (the
 * older procket's way to show that a larger buffer was needed). */
static ERL_NIF_TERM make_sockaddr(ErlNifEnv *env, const void *buf,
                                  size_t given, socklen_t got)
{
    ERL_NIF_TERM t;
    size_t n = got > PK_SOCKADDR_MAX ? PK_SOCKADDR_MAX : (size_t)got;
    size_t copy = n < given ? n : given;
    unsigned char *p = enif_make_new_binary(env, n, &t);

    if (copy > 0)
        memcpy(p, buf, copy);
    if (n > copy)
        memset(p + copy, 0, n - copy);
    return t;
}

typedef union {
    struct sockaddr sa;
    struct sockaddr_storage ss;
    unsigned char bytes[PK_SOCKADDR_MAX];
} pk_sockaddr;

static void close_owned(int fd);
static int close_may_wait(int fd);
static int close_on_thread(int fd, ErlNifEnv *env, const ErlNifPid *to, ERL_NIF_TERM msg);

/* ---- the descriptors procket gave out ------------------------------------ */

/* close/1 and handle/1 take an integer, and the VM has descriptors of its
 * own (its poll set, pipes, files, the sockets of its ports). They act
 * only on a descriptor procket created (open/4, socket/3, accept, a
 * descriptor received with SCM_RIGHTS) that still refers to the same
 * file: a number the VM reused after the descriptor was closed elsewhere
 * is never touched. Entries are indexed by descriptor, under reg_mtx. */
static ErlNifMutex *reg_mtx; /* guards iss and reg_bits */

struct pk_issued {
    dev_t dev;
    ino_t ino;
    unsigned busy;         /* calls in flight on the integer descriptor */
    int domain, type;      /* a socket's (see routed); 0 for other files */
    unsigned char shared;  /* passed with SCM_RIGHTS, in or out: another
                            * process may hold the same open file */
    unsigned char used;
    unsigned char closing; /* close/1 came while busy: the last call closes */
    /* calls in blocking mode that set SO_RCVTIMEO (0) or SO_SNDTIMEO (1)
     * to a slice (timeo_begin): the first saves the socket's own value,
     * the last puts it back */
    unsigned timeo_users[2];
    struct timeval timeo_saved[2];
};
static struct pk_issued *iss;
static size_t iss_len;

/* A socket's domain and type (0 and 0 for other files). */
static void sock_kind(int fd, const struct stat *st, int *domain, int *type)
{
    socklen_t len = sizeof(*domain);

    *domain = *type = 0;
    if (!S_ISSOCK(st->st_mode))
        return;
    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, domain, &len) < 0)
        *domain = 0;
    len = sizeof(*type);
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, type, &len) < 0)
        *type = 0;
}

int procket_sock_issue(int fd)
{
    struct stat st;
    int rc = 0, domain, type;

    if (fd < 0)
        return EBADF;
    if (fstat(fd, &st) < 0)
        return errno;
    sock_kind(fd, &st, &domain, &type);
    enif_mutex_lock(reg_mtx);
    if ((size_t)fd >= iss_len) {
        size_t len = iss_len ? iss_len : 256;
        struct pk_issued *p;
        while (len <= (size_t)fd)
            len *= 2;
        p = enif_realloc(iss, len * sizeof(*p));
        if (p == NULL) {
            rc = ENOMEM;
            goto out;
        }
        memset(p + iss_len, 0, (len - iss_len) * sizeof(*p));
        iss = p;
        iss_len = len;
    }
    iss[fd].dev = st.st_dev;
    iss[fd].ino = st.st_ino;
    iss[fd].domain = domain;
    iss[fd].type = type;
    iss[fd].shared = 0;
    iss[fd].used = 1;
    iss[fd].closing = 0;
    iss[fd].timeo_users[0] = iss[fd].timeo_users[1] = 0;
out:
    enif_mutex_unlock(reg_mtx);
    return rc;
}

/* With reg_mtx held: 1 if fd is a descriptor procket gave out and still
 * the same file; a stale entry is dropped. */
static int issued_locked(int fd)
{
    struct stat st;

    if (fd < 0 || (size_t)fd >= iss_len || !iss[fd].used)
        return 0;
    if (fstat(fd, &st) < 0 || st.st_dev != iss[fd].dev || st.st_ino != iss[fd].ino) {
        iss[fd].used = 0;
        return 0;
    }
    return 1;
}

/* ---- the registry of descriptors owned by handles ------------------------ */

/* A descriptor may belong to one handle only: a second handle would close
 * it twice, the second time perhaps someone else's descriptor. */
static unsigned char *reg_bits;
static size_t reg_len;
static int pk_loads;

static int reg_add(int fd)
{
    size_t idx = (size_t)fd / 8;
    unsigned char bit = (unsigned char)(1u << (fd % 8));
    int rc = 0;

    enif_mutex_lock(reg_mtx);
    if (idx < reg_len && (reg_bits[idx] & bit)) {
        rc = EBUSY; /* another handle's */
        goto out;
    }
    if (!issued_locked(fd) || iss[fd].closing) {
        rc = EBADF; /* not procket's, or closed since (close/1 pending) */
        goto out;
    }
    if (iss[fd].busy > 0) {
        rc = EBUSY; /* a call works on the integer: its number must stay */
        goto out;
    }
    if (idx >= reg_len) {
        size_t len = reg_len ? reg_len : 128;
        unsigned char *p;
        while (len <= idx)
            len *= 2;
        p = enif_realloc(reg_bits, len);
        if (p == NULL) {
            rc = ENOMEM;
            goto out;
        }
        memset(p + reg_len, 0, len - reg_len);
        reg_bits = p;
        reg_len = len;
    }
    reg_bits[idx] |= bit;
    iss[fd].used = 0; /* the handle owns it now */
out:
    enif_mutex_unlock(reg_mtx);
    return rc;
}

static void reg_del(int fd)
{
    size_t idx = (size_t)fd / 8;

    enif_mutex_lock(reg_mtx);
    if (idx < reg_len)
        reg_bits[idx] &= (unsigned char)~(1u << (fd % 8));
    enif_mutex_unlock(reg_mtx);
}

/* A handle that could not be set up gives its descriptor back. */
static void reg_undo(int fd)
{
    reg_del(fd);
    (void)procket_sock_issue(fd);
}

/* close/1 of an integer descriptor (see above): 0 or an errno. */
int procket_sock_close_fd(ErlNifEnv *env, int fd)
{
    size_t idx = (size_t)fd / 8;
    int rc;

    if (fd < 0 || reg_mtx == NULL)
        return EBADF;
    int deferred = 0;

    enif_mutex_lock(reg_mtx);
    if (idx < reg_len && ((reg_bits[idx] >> (fd % 8)) & 1))
        rc = EBUSY; /* a handle's: closed through the handle only */
    else if (!issued_locked(fd) || iss[fd].closing)
        rc = EBADF;
    else if (iss[fd].busy > 0) {
        /* a call is working on it: the number must not be freed (and
         * reused, perhaps by the VM) under it; the last call closes it */
        iss[fd].closing = 1;
        deferred = 1;
        rc = 0;
    } else {
        iss[fd].used = 0;
        rc = 0;
    }
    enif_mutex_unlock(reg_mtx);
    /* the entry is gone: a concurrent close/1 of the same number fails; a
     * close(2) that may wait runs on a thread, and close/1 waits for its
     * message in receive */
    if (rc == 0 && !deferred) {
        ErlNifPid self;
        if (close_may_wait(fd) && enif_self(env, &self) != NULL &&
            close_on_thread(fd, env, &self,
                            enif_make_tuple2(env, a_closed_msg, enif_make_int(env, fd))) == 0)
            return PK_CLOSE_ON_THREAD;
        close_owned(fd);
    }
    return rc;
}

/* With reg_mtx held: whether fd is a descriptor of procket's, given out
 * (and still the same file) or owned by a handle. */
static int procket_fd_locked(int fd)
{
    size_t idx = (size_t)fd / 8;

    return (fd >= 0 && idx < reg_len && ((reg_bits[idx] >> (fd % 8)) & 1)) ||
           issued_locked(fd);
}

/* ---- closing without blocking a scheduler ------------------------------- */

static int lingers(int fd)
{
    struct linger l;
    socklen_t len = sizeof(l);

    /* any l_onoff: a negative l_linger reads back from {1, -1}, which
     * the kernel takes as a linger without end */
    return getsockopt(fd, SOL_SOCKET, SO_LINGER, &l, &len) == 0 &&
           len == sizeof(l) && l.l_onoff != 0;
}

/* ---- work off the schedulers ------------------------------------------- */

/* Some kernel work may wait without end in the calling thread: close(2)
 * of a lingering socket (a negative l_linger never ends), of a file whose
 * flush waits (FUSE, NFS), or the drop of a message queued on an AF_UNIX
 * socket that holds the last reference to such a file (the kernel closes
 * it in the thread that dropped the message, before the call returns).
 * No scheduler, normal or dirty, may wait with it: such work runs on
 * procket's worker threads, and the process that asked waits in receive
 * for a message (close/1, close_handle/1, and the calls of call_on_worker).
 *
 * The pools, one for closes and one for calls (see struct pk_pool): in
 * each, one worker starts when the library loads (or the library does not
 * load) and stays; more start when jobs outnumber idle workers, up to
 * PK_WORKERS_MAX (beyond, and when no thread can be started, jobs wait in
 * the queue: a descriptor may then close late, a call return late, but no
 * scheduler waits); an idle worker beyond the first leaves after
 * PK_WORKER_IDLE_S seconds. A
 * worker never waits for data or room (see op_begin): only a close, or a
 * call whose kernel work closes something, holds one. The library is never
 * unmapped (see procket_sock_load), so workers may outlive an unload. */
/* The descriptor argument of a call: integer or handle (see op_begin). */
struct pk_sock;
struct pk_op {
    int fd;
    struct pk_sock *s; /* NULL for an integer descriptor */
    int held;          /* an integer descriptor, counted by int_begin */
    int domain, type;  /* a socket's, as recorded when procket got it */
    int blocking;      /* routed: the descriptor was in blocking mode */
    int borrowed;      /* the job's, on its worker: op_end leaves it */
};
static void op_end(ErlNifEnv *env, struct pk_op *op);

/* On a worker, the operation of the job it runs (held since the call was
 * routed): the call works on it, as it would have without the detour, so
 * that a close/1 meanwhile waits for the call as it would have. */
static _Thread_local struct pk_op *pk_held;

#define PK_WORKERS_MAX 64
#define PK_WORKER_IDLE_S 10
#define PK_JOB_ARGS 5

struct pk_job {
    struct pk_job *next;
    int fd; /* close(2) of fd when fun is NULL */
    ERL_NIF_TERM (*fun)(ErlNifEnv *, int, const ERL_NIF_TERM[]);
    ErlNifEnv *env; /* the terms below; NULL: no message */
    ErlNifPid to;
    ERL_NIF_TERM msg;  /* a close: sent once close(2) returned */
    ERL_NIF_TERM ref;  /* a call: {Ref, Result} is sent */
    int argc;
    ERL_NIF_TERM argv[PK_JOB_ARGS];
    struct pk_op op;   /* a call: held from the routing until done */
};

/* Two pools: closes, which may wait without end, and calls, so that
 * closes stuck in a linger never hold up receives and sends (nor the
 * reverse). Each has its queue and its workers. */
struct pk_pool {
    pthread_mutex_t mtx;
    pthread_cond_t cv;
    struct pk_job *head, *last; /* under mtx, as are: */
    unsigned queued, workers, idle;
};
static struct pk_pool pool_close = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
                                    NULL, NULL, 0, 0, 0};
static struct pk_pool pool_call = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
                                   NULL, NULL, 0, 0, 0};

/* A descriptor procket issued that nobody will take: unissued (unless a
 * call or close/1 got to it meanwhile) and closed. */
static void drop_issued(int fd)
{
    int mine = 0;

    enif_mutex_lock(reg_mtx);
    if (issued_locked(fd) && !iss[fd].closing && iss[fd].busy == 0) {
        iss[fd].used = 0;
        mine = 1;
    }
    enif_mutex_unlock(reg_mtx);
    if (mine)
        close_owned(fd);
}

/* The descriptors in a recvmsg result, {ok, Buf, Flags, Cmsgs, Sockaddr}
 * (SCM_RIGHTS, SCM_PIDFD): dropped (drop_issued). */
static void drop_received(ErlNifEnv *env, ERL_NIF_TERM r)
{
    const ERL_NIF_TERM *t, *c;
    ERL_NIF_TERM head, tail;
    ErlNifBinary data;
    int arity, level, type;

    if (!enif_get_tuple(env, r, &arity, &t) || arity != 5)
        return;
    tail = t[3];
    while (enif_get_list_cell(env, tail, &head, &tail)) {
        if (!enif_get_tuple(env, head, &arity, &c) || arity != 3 ||
            !enif_get_int(env, c[0], &level) || !enif_get_int(env, c[1], &type) ||
            level != SOL_SOCKET || (type != SCM_RIGHTS && type != SCM_PIDFD) ||
            !enif_inspect_binary(env, c[2], &data))
            continue;
        for (size_t i = 0; i + sizeof(int) <= data.size; i += sizeof(int)) {
            int fd;
            memcpy(&fd, data.data + i, sizeof(fd));
            drop_issued(fd);
        }
    }
}

static void run_job(struct pk_job *j)
{
    if (j->fun == NULL) {
        reg_del(j->fd);
        (void)close(j->fd);
        if (j->env != NULL)
            (void)enif_send(NULL, &j->to, j->env, j->msg);
    } else {
        ERL_NIF_TERM r;
        pk_held = &j->op;
        r = j->fun(j->env, j->argc, j->argv);
        pk_held = NULL;
        if (enif_is_exception(j->env, r)) /* the arguments were checked */
            r = error_tuple(j->env, EINVAL);
        /* nothing there, on a descriptor in blocking mode: the caller
         * calls again, to wait on a dirty scheduler (see op_begin) */
        else if (j->op.blocking && enif_is_identical(r, error_tuple(j->env, EAGAIN)))
            r = a_retry;
        op_end(NULL, &j->op);
        /* a caller gone (killed while it waited) takes nothing: the
         * descriptors the call received are closed, not left issued
         * under numbers nobody knows */
        if (!enif_send(NULL, &j->to, j->env, enif_make_tuple2(j->env, j->ref, r)) &&
            j->fun == procket_sock_recvmsg)
            drop_received(j->env, r);
    }
    if (j->env != NULL)
        enif_free_env(j->env);
    enif_free(j);
}

static void *worker_main(void *arg)
{
    struct pk_pool *pool = arg;

    pk_worker = 1;
#ifdef __linux__
    (void)pthread_setname_np(pthread_self(),
                             pool == &pool_close ? "procket_close" : "procket_call");
#endif
    pthread_mutex_lock(&pool->mtx);
    for (;;) {
        struct pk_job *j;
        while (pool->head == NULL) {
            struct timespec ts;
            (void)clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += PK_WORKER_IDLE_S;
            if (pthread_cond_timedwait(&pool->cv, &pool->mtx, &ts) == ETIMEDOUT &&
                pool->head == NULL && pool->idle > 1) {
                pool->workers--;
                pool->idle--;
                pthread_mutex_unlock(&pool->mtx);
                return NULL;
            }
        }
        j = pool->head;
        pool->head = j->next;
        if (pool->head == NULL)
            pool->last = NULL;
        pool->queued--;
        pool->idle--;
        pthread_mutex_unlock(&pool->mtx);
        run_job(j);
        pthread_mutex_lock(&pool->mtx);
        pool->idle++;
    }
}

/* With pool->mtx held: one more worker (0), or -1. */
static int worker_start_locked(struct pk_pool *pool)
{
    pthread_attr_t attr;
    pthread_t tid;
    int rc;

    if (pool->workers >= PK_WORKERS_MAX || pthread_attr_init(&attr) != 0)
        return -1;
    (void)pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    (void)pthread_attr_setstacksize(&attr, 256 * 1024);
    rc = pthread_create(&tid, &attr, worker_main, pool);
    (void)pthread_attr_destroy(&attr);
    if (rc != 0)
        return -1;
    pool->workers++;
    pool->idle++;
    return 0;
}

/* Queues j in pool (0), or -1 when the pool has no worker at all. */
static int job_push(struct pk_pool *pool, struct pk_job *j)
{
    int rc = 0;

    j->next = NULL;
    pthread_mutex_lock(&pool->mtx);
    if (pool->queued + 1 > pool->idle)
        (void)worker_start_locked(pool);
    if (pool->workers == 0) {
        rc = -1;
    } else {
        if (pool->last != NULL)
            pool->last->next = j;
        else
            pool->head = j;
        pool->last = j;
        pool->queued++;
        pthread_cond_signal(&pool->cv);
    }
    pthread_mutex_unlock(&pool->mtx);
    return rc;
}

/* The workers a pool has (started and not gone). */
static unsigned pool_workers(struct pk_pool *pool)
{
    unsigned n;

    pthread_mutex_lock(&pool->mtx);
    n = pool->workers;
    pthread_mutex_unlock(&pool->mtx);
    return n;
}

/* With none, one worker for the pool, to stay: 0, or -1 if none can be
 * started. */
static int pool_start(struct pk_pool *pool)
{
    int rc = 0;

    pthread_mutex_lock(&pool->mtx);
    if (pool->workers == 0)
        rc = worker_start_locked(pool);
    pthread_mutex_unlock(&pool->mtx);
    return rc;
}

/* 0 when a worker closes fd (and then sends msg, a term of env, to `to',
 * if to is not NULL), -1 when there is no worker. */
static int close_on_thread(int fd, ErlNifEnv *env, const ErlNifPid *to, ERL_NIF_TERM msg)
{
    struct pk_job *j = enif_alloc(sizeof(*j));

    (void)env;
    if (j == NULL)
        return -1;
    memset(j, 0, sizeof(*j));
    j->fd = fd;
    if (to != NULL) {
        j->to = *to;
        if ((j->env = enif_alloc_env()) == NULL) {
            enif_free(j);
            return -1;
        }
        j->msg = enif_make_copy(j->env, msg);
    }
    if (job_push(&pool_close, j) == 0)
        return 0;
    if (j->env != NULL)
        enif_free_env(j->env);
    enif_free(j);
    return -1;
}

/* The NIF fun, with these arguments, runs again on a worker, which sends
 * {Ref, Result} to the caller: returns {'$procket_wait', Ref} (procket_nif
 * waits for it), or {error, eagain} when there is no worker. Result is
 * '$procket_retry' when the worker found nothing to read or no room on a
 * descriptor in blocking mode: procket_nif calls again. The caller
 * checked the arguments already; op, which op_begin left held, is
 * released by the worker (or here, on failure). */
static ERL_NIF_TERM call_on_worker(ErlNifEnv *env,
                                   ERL_NIF_TERM (*fun)(ErlNifEnv *, int, const ERL_NIF_TERM[]),
                                   int argc, const ERL_NIF_TERM argv[], struct pk_op *op)
{
    struct pk_job *j;
    ERL_NIF_TERM ref;
    int i;

    if (argc > PK_JOB_ARGS || (j = enif_alloc(sizeof(*j))) == NULL) {
        op_end(env, op);
        return error_tuple(env, ENOMEM);
    }
    memset(j, 0, sizeof(*j));
    j->fd = -1;
    j->fun = fun;
    j->argc = argc;
    j->op = *op;
    if (enif_self(env, &j->to) == NULL || (j->env = enif_alloc_env()) == NULL) {
        enif_free(j);
        op_end(env, op);
        return error_tuple(env, ENOMEM);
    }
    ref = enif_make_ref(env);
    j->ref = enif_make_copy(j->env, ref);
    for (i = 0; i < argc; i++)
        j->argv[i] = enif_make_copy(j->env, argv[i]);
    if (job_push(&pool_call, j) != 0) {
        enif_free_env(j->env);
        enif_free(j);
        op_end(env, op);
        return error_tuple(env, EAGAIN);
    }
    return enif_make_tuple2(env, a_wait_msg, ref);
}

/* An AF_UNIX socket may hold descriptors in flight (SCM_RIGHTS not yet
 * received), and the last reference to one of them, a lingering socket,
 * goes with it: its close(2) may wait like a lingering one. */
static int holds_in_flight(int fd)
{
    int domain = 0;
    socklen_t len = sizeof(domain);

    return getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 && domain == AF_UNIX;
}

/* Marks fd as shared with another process (see struct pk_issued). */
static void mark_shared(int fd)
{
    enif_mutex_lock(reg_mtx);
    if (fd >= 0 && (size_t)fd < iss_len)
        iss[fd].shared = 1;
    enif_mutex_unlock(reg_mtx);
}

static int is_shared(int fd)
{
    int shared;

    enif_mutex_lock(reg_mtx);
    shared = fd >= 0 && (size_t)fd < iss_len && iss[fd].shared;
    enif_mutex_unlock(reg_mtx);
    return shared;
}

/* Whether close(2) of fd may wait: a lingering socket, an AF_UNIX one (see
 * holds_in_flight), any file that is not a socket (procket cannot know
 * what its release does: a FUSE or NFS file waits for its server's answer
 * to the flush), or a file another process holds too (it could make the
 * socket linger, and drop its own reference, between the look here and
 * the close). Only a socket of another kind, procket's alone and not
 * lingering, closes at once. */
static int close_may_wait(int fd)
{
    struct stat st;

    if (fstat(fd, &st) < 0)
        return 0; /* not open: close(2) says EBADF at once */
    if (!S_ISSOCK(st.st_mode))
        return 1;
    return is_shared(fd) || lingers(fd) || holds_in_flight(fd);
}

/* A handle's descriptor leaves the registry, then close(2). In that order:
 * close(2) frees the number at once even when it then waits, and the
 * number, reused, must be free to become a handle's. Until the close
 * nothing can claim it (reg_add and close/1 find no issued entry: the
 * handle took it). A close that may wait runs on a worker; with no worker
 * at all (none could ever be started), a lingering socket's linger is
 * turned off so that close(2) returns at once (the kernel still sends the
 * queued data). */
static void close_owned(int fd)
{
    if (close_may_wait(fd)) {
        struct linger off = {0, 0};
        if (close_on_thread(fd, NULL, NULL, 0) == 0)
            return;
        (void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &off, sizeof(off));
    }
    reg_del(fd);
    (void)close(fd); /* Linux: the descriptor is gone even on EINTR */
}

/* ---- calls on integer descriptors ------------------------------------- */

/* A call on the integer descriptor fd starts: 0, or EBADF when procket
 * did not give it out (the VM's own descriptors: its poll set, signal
 * pipe, the sockets of its ports; or a number reused since) or close/1
 * was called on it, EBUSY when a handle owns it (use the handle). While
 * the call runs, close/1 leaves the number allocated (see
 * procket_sock_close_fd), so it cannot become someone else's under it. */
static int int_begin(int fd, int *domain, int *type)
{
    size_t idx = (size_t)fd / 8;
    int rc = 0;

    enif_mutex_lock(reg_mtx);
    if (idx < reg_len && ((reg_bits[idx] >> (fd % 8)) & 1))
        rc = EBUSY;
    else if (!issued_locked(fd) || iss[fd].closing)
        rc = EBADF;
    else {
        iss[fd].busy++;
        *domain = iss[fd].domain;
        *type = iss[fd].type;
    }
    enif_mutex_unlock(reg_mtx);
    return rc;
}

static void int_end(int fd)
{
    int close_now;

    enif_mutex_lock(reg_mtx);
    if ((size_t)fd < iss_len && iss[fd].busy > 0)
        iss[fd].busy--;
    close_now = (size_t)fd < iss_len && iss[fd].closing && iss[fd].busy == 0;
    if (close_now) {
        iss[fd].used = 0;
        iss[fd].closing = 0;
    }
    enif_mutex_unlock(reg_mtx);
    if (close_now)
        close_owned(fd); /* a lingering socket is not closed inline here */
}

/* ---- handles ---------------------------------------------------------- */

enum { PK_OPEN, PK_CLOSING, PK_CLOSED };

struct pk_sock {
    ErlNifMutex *mtx;
    int fd;          /* -1 once closed (or never owned) */
    int state;       /* PK_OPEN, PK_CLOSING, PK_CLOSED */
    unsigned busy;   /* operations in flight on fd */
    int selected;    /* fd was given to enif_select: stop before close */
    int stopped;     /* the stop callback ran */
    int closer_set;  /* a close_handle caller will finalize */
    int ready;       /* CLOSING and nothing holds the fd any more */
    int notified;    /* the closer was sent {'$procket_close', H} */
    int monitored;   /* mon is active (on owner, or on closer) */
    ErlNifPid owner;
    ErlNifPid closer;
    ErlNifMonitor mon;
    mode_t kind; /* S_IFMT bits of fd */
    int domain, type; /* a socket's (see routed) */
    /* the last select per direction (0 read, 1 write), to wake its
     * process when the handle is closed while the select is pending */
    int sel_active[2];
    ErlNifPid sel_pid[2];
    ErlNifEnv *sel_env[2];
    ERL_NIF_TERM sel_ref[2];
};

enum { CTX_CLOSER, CTX_OTHER };
enum { MF_NOT_READY, MF_FINALIZE, MF_CLOSED };

static void send_close_msg(ErlNifEnv *env, struct pk_sock *s, ErlNifPid *to)
{
    ErlNifEnv *menv = enif_alloc_env();

    if (menv == NULL)
        return;
    (void)enif_send(env, to, menv,
                    enif_make_tuple2(menv, a_close_msg,
                                     enif_make_resource(menv, s)));
    enif_free_env(menv);
}

/* Closes the descriptor of a CLOSING handle if nothing holds it any more.
 * With a closer, the closer does it (MF_FINALIZE when called by the closer
 * itself, else a message tells it to); without, it is closed here. */
static int maybe_finish(ErlNifEnv *env, struct pk_sock *s, int ctx)
{
    int fd;

    enif_mutex_lock(s->mtx);
    if (s->state != PK_CLOSING || s->fd < 0 || s->busy > 0 ||
        (s->selected && !s->stopped)) {
        enif_mutex_unlock(s->mtx);
        return MF_NOT_READY;
    }
    s->ready = 1;
    if (s->closer_set) {
        ErlNifPid to = s->closer;
        if (s->notified) {
            enif_mutex_unlock(s->mtx);
            return MF_NOT_READY;
        }
        if (ctx == CTX_CLOSER) {
            if (close_may_wait(s->fd)) {
                enif_mutex_unlock(s->mtx);
                return MF_FINALIZE;
            }
            /* not lingering: close(2) returns at once, do it here */
        } else {
            s->notified = 1;
            enif_mutex_unlock(s->mtx);
            send_close_msg(env, s, &to);
            return MF_NOT_READY;
        }
    }
    fd = s->fd;
    s->fd = -1;
    s->state = PK_CLOSED;
    s->closer_set = 0;
    if (s->monitored) {
        (void)enif_demonitor_process(env, s, &s->mon);
        s->monitored = 0;
    }
    enif_mutex_unlock(s->mtx);
    close_owned(fd);
    return MF_CLOSED;
}

/* Called with s->mtx held when a handle starts closing: cancels pending
 * selects and sends their processes the message they wait for, so that
 * they try again and get {error, ebadf}. The STOP comes after. A process
 * closing the handle itself (skip) is not waiting, and gets no message. */
static void wake_selectors(ErlNifEnv *env, struct pk_sock *s, const ErlNifPid *skip)
{
    int rc, m;

    if (!s->selected || s->stopped || (!s->sel_active[0] && !s->sel_active[1]))
        return;
    rc = enif_select(env, (ErlNifEvent)s->fd,
                     ERL_NIF_SELECT_CANCEL | ERL_NIF_SELECT_READ | ERL_NIF_SELECT_WRITE,
                     s, NULL, a_undefined);
    for (m = 0; m < 2; m++) {
        int cancelled = m == 0 ? ERL_NIF_SELECT_READ_CANCELLED
                               : ERL_NIF_SELECT_WRITE_CANCELLED;
        if (s->sel_active[m] && rc >= 0 && (rc & cancelled) &&
            (skip == NULL || enif_compare_pids(skip, &s->sel_pid[m]) != 0)) {
            ErlNifEnv *menv = enif_alloc_env();
            if (menv != NULL) {
                (void)enif_send(env, &s->sel_pid[m], menv,
                                enif_make_tuple4(menv, a_select,
                                                 enif_make_resource(menv, s),
                                                 enif_make_copy(menv, s->sel_ref[m]),
                                                 m == 0 ? a_ready_input
                                                        : a_ready_output));
                enif_free_env(menv);
            }
        }
        s->sel_active[m] = 0;
    }
}

static void sock_release(ErlNifEnv *env, struct pk_sock *s)
{
    int closing;

    enif_mutex_lock(s->mtx);
    s->busy--;
    closing = s->busy == 0 && s->state == PK_CLOSING;
    enif_mutex_unlock(s->mtx);
    if (closing)
        (void)maybe_finish(env, s, CTX_OTHER);
}

static void pk_dtor(ErlNifEnv *env, void *obj)
{
    struct pk_sock *s = obj;

    (void)env;
    /* ERTS holds a reference while the fd is selected, so no select is
     * active here: the descriptor can be closed. */
    if (s->fd >= 0)
        close_owned(s->fd);
    s->fd = -1;
    if (s->sel_env[0] != NULL)
        enif_free_env(s->sel_env[0]);
    if (s->sel_env[1] != NULL)
        enif_free_env(s->sel_env[1]);
    if (s->mtx != NULL)
        enif_mutex_destroy(s->mtx);
}

static void pk_stop(ErlNifEnv *env, void *obj, ErlNifEvent ev, int is_direct_call)
{
    struct pk_sock *s = obj;

    (void)ev;
    enif_mutex_lock(s->mtx);
    s->stopped = 1;
    enif_mutex_unlock(s->mtx);
    /* A direct call comes from inside enif_select(STOP), whose caller
     * calls maybe_finish itself afterwards. */
    if (!is_direct_call)
        (void)maybe_finish(env, s, CTX_OTHER);
}

static void pk_down(ErlNifEnv *env, void *obj, ErlNifPid *pid, ErlNifMonitor *mon)
{
    struct pk_sock *s = obj;
    int need_stop = 0, fd;

    (void)pid;
    enif_mutex_lock(s->mtx);
    if (!s->monitored || enif_compare_monitors(mon, &s->mon) != 0) {
        enif_mutex_unlock(s->mtx);
        return;
    }
    s->monitored = 0;
    if (s->state == PK_OPEN) { /* the owner exited */
        s->state = PK_CLOSING;
        wake_selectors(env, s, NULL);
        need_stop = s->selected && !s->stopped;
    } else if (s->state == PK_CLOSING) { /* the closer exited */
        s->closer_set = 0;
    }
    fd = s->fd;
    enif_mutex_unlock(s->mtx);
    if (need_stop)
        (void)enif_select(env, (ErlNifEvent)fd, ERL_NIF_SELECT_STOP, s, NULL,
                          a_undefined);
    (void)maybe_finish(env, s, CTX_OTHER);
}

/* ---- the descriptor argument: integer or handle ------------------------ */

/* ---- waiting as C does, without holding a scheduler for good ----------- */

/* A call on a descriptor in blocking mode waits, as in C, on a dirty I/O
 * scheduler. A wait that never ends would hold that scheduler for good:
 * the caller killed meanwhile (nobody takes the result), or the descriptor
 * closed under it (no data ever comes), and once every dirty I/O
 * scheduler is held the VM's file operations stop. So the wait is poll(2)
 * in slices of PK_WAIT_SLICE_MS, and between them the call looks whether
 * its descriptor was closed and whether its caller still lives. */
#define PK_WAIT_SLICE_MS 50

/* Whether close/1 or close_handle/1 came for the call's descriptor since
 * the call began (the close waits for the call: see op_end). */
static int op_closing(const struct pk_op *op)
{
    int closing = 0;

    if (op->s != NULL) {
        enif_mutex_lock(op->s->mtx);
        closing = op->s->state != PK_OPEN;
        enif_mutex_unlock(op->s->mtx);
    } else if (op->held) {
        enif_mutex_lock(reg_mtx);
        closing = op->fd >= 0 && (size_t)op->fd < iss_len && iss[op->fd].closing;
        enif_mutex_unlock(reg_mtx);
    }
    return closing;
}

/* On a dirty scheduler: waits one slice (at most ms milliseconds) for
 * the call's descriptor to be ready for events (or hung up, for the call
 * to report). 0 when ready; PK_NOT_YET when the slice passed: the call
 * then gives its dirty scheduler back and is scheduled again
 * (enif_schedule_nif), so that other dirty jobs (file I/O, a close/1)
 * never wait behind waits; EBADF once the descriptor was closed,
 * ECANCELED when the caller is gone. poll(2) always reports POLLERR,
 * which a socket also shows for a message in its error queue
 * (IP_RECVERR) while a receive finds nothing: then the slice is slept
 * out instead, so that the retries do not spin. */
#define PK_NOT_YET (-1)
static int wait_ready(ErlNifEnv *env, const struct pk_op *op, short events, int ms)
{
    struct pollfd p = {op->fd, events, 0};
    int r;

    if (op_closing(op))
        return EBADF;
    if (!enif_is_current_process_alive(env))
        return ECANCELED;
    r = poll(&p, 1, ms);
    if (r < 0 && errno != EINTR)
        return errno;
    if (r > 0 && (p.revents & (events | POLLHUP | POLLNVAL)))
        return 0;
    if (r > 0) { /* POLLERR alone */
        struct timespec ts = {0, (long)ms * 1000000L};
        (void)nanosleep(&ts, NULL);
    }
    if (op_closing(op))
        return EBADF;
    if (!enif_is_current_process_alive(env))
        return ECANCELED;
    return PK_NOT_YET;
}

/* A short pause before a call that found its descriptor ready and then
 * nothing to do is scheduled again: poll(2) may say ready while the call
 * says EAGAIN for as long as a peer stays full (a netlink socket's
 * POLLOUT looks only at the sender's own queue), and without the pause
 * the retries would spin. */
static void pk_pause(void)
{
    struct timespec ts = {0, 5 * 1000000L};

    (void)nanosleep(&ts, NULL);
}

/* Whether fd is a listening socket (accept(2) on anything else fails at
 * once: no wait). */
static int listening(int fd)
{
    int on = 0;
    socklen_t len = sizeof(on);

    return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) == 0 && on;
}

/* Whether fd is in blocking mode now (another process sharing the open
 * file may change it at any time). */
static int in_blocking_mode(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    return fl >= 0 && !(fl & O_NONBLOCK);
}


enum { OP_OK, OP_BADARG, OP_CLOSED, OP_BUSY, OP_DIRTY, OP_WORKER };
#define CHECK_BLOCKING 1 /* move to a dirty scheduler if fd blocks */
#define CHECK_FILE 2     /* ... or is a regular file or block device */
#define CHECK_DIRTY 4    /* always on a dirty scheduler */
/* On an AF_UNIX socket, calls that may make the kernel drop messages
 * queued on it, closing the descriptors they carry in this thread (see
 * "work off the schedulers"), run on a worker: */
#define ROUTE_SEND 8     /* datagram: connect(2) to another peer or none
                          * purges the queue; so does a send once the
                          * connected peer is gone (ECONNREFUSED) */
#define ROUTE_PATH 32    /* any type: bind(2) and connect(2) look the path
                          * up, and a FUSE or NFS file system may wait
                          * without end there (sendto with a path is a
                          * datagram send: ROUTE_SEND) */
#define ROUTE_RECV 16    /* any type: the kernel closes the descriptors
                          * of a message it cannot install (the table
                          * full: EMFILE); stream: a receive discards an
                          * out-of-band message it passes over */

/* Whether a call with these checks runs on a worker (see ROUTE_SEND). */
static int routed(const struct pk_op *op, int checks)
{
    if (pk_worker || op->domain != AF_UNIX)
        return 0;
    return ((checks & ROUTE_SEND) && op->type == SOCK_DGRAM) ||
           (checks & (ROUTE_RECV | ROUTE_PATH));
}

static void op_end(ErlNifEnv *env, struct pk_op *op)
{
    if (op->borrowed) /* the job releases it */
        return;
    if (pk_worker) /* a worker's env belongs to no process */
        env = NULL;
    if (op->s != NULL)
        sock_release(env, op->s);
    else if (op->held)
        int_end(op->fd);
    op->s = NULL;
    op->held = 0;
}

static int op_begin(ErlNifEnv *env, ERL_NIF_TERM t, struct pk_op *op, int checks)
{
    void *obj;

    if (pk_held != NULL) { /* on a worker: the job's, the same argument */
        *op = *pk_held;
        op->borrowed = 1;
        return OP_OK;
    }
    op->s = NULL;
    op->held = 0;
    op->borrowed = 0;
    if (enif_get_int(env, t, &op->fd)) {
        int rc;
        if (op->fd < 0)
            return OP_BADARG;
        if ((rc = int_begin(op->fd, &op->domain, &op->type)) != 0)
            return rc == EBUSY ? OP_BUSY : OP_CLOSED;
        op->held = 1;
    } else if (enif_get_resource(env, t, pk_rt, &obj)) {
        struct pk_sock *s = obj;
        enif_mutex_lock(s->mtx);
        if (s->state != PK_OPEN) {
            enif_mutex_unlock(s->mtx);
            return OP_CLOSED;
        }
        s->busy++;
        op->fd = s->fd;
        op->s = s;
        op->domain = s->domain;
        op->type = s->type;
        enif_mutex_unlock(s->mtx);
    } else {
        return OP_BADARG;
    }

    op->blocking = 0;
    if ((checks & (CHECK_BLOCKING | CHECK_FILE)) && !on_dirty_scheduler()) {
        int fl = fcntl(op->fd, F_GETFL);
        if (fl >= 0 && !(fl & O_NONBLOCK)) {
            /* a handle's descriptor stays non-blocking */
            if (op->s == NULL || fcntl(op->fd, F_SETFL, fl | O_NONBLOCK) < 0) {
                op_end(env, op);
                return OP_DIRTY;
            }
        }
        if (fl >= 0 && (checks & CHECK_FILE)) {
            mode_t kind = 0;
            struct stat st;
            if (op->s != NULL)
                kind = op->s->kind;
            else if (fstat(op->fd, &st) == 0)
                kind = st.st_mode & S_IFMT;
            if (kind == S_IFREG || kind == S_IFBLK || kind == S_IFDIR) {
                op_end(env, op);
                return OP_DIRTY;
            }
        }
    }
    if (routed(op, checks)) {
        /* A worker never waits for data or room (it would be held for
         * as long): on a descriptor in blocking mode the wait, as in C,
         * is here, on the dirty scheduler the call moved to above; the
         * worker then tries without waiting, and the call comes back
         * here if it found nothing (see call_on_worker). The operation
         * stays held until the worker is done. */
        if ((checks & CHECK_BLOCKING) && on_dirty_scheduler() && in_blocking_mode(op->fd)) {
            /* a receive waits only if there is nothing to receive (a
             * peek takes nothing and drops nothing): one that would fail
             * at once (a listening socket) goes straight to the worker */
            int wait = 1;
            if (checks & ROUTE_RECV) {
                char c;
                wait = recv(op->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) < 0 &&
                       (errno == EAGAIN || errno == EWOULDBLOCK);
            }
            if (wait) {
                int w = wait_ready(env, op, (checks & ROUTE_RECV) ? POLLIN : POLLOUT,
                                   PK_WAIT_SLICE_MS);
                if (w != 0) {
                    op_end(env, op);
                    /* not yet: the scheduler goes back, the call comes again */
                    return w == PK_NOT_YET ? OP_DIRTY : OP_CLOSED;
                }
            }
            op->blocking = 1;
        }
        return OP_WORKER;
    }
    if ((checks & CHECK_DIRTY) && !on_dirty_scheduler()) {
        op_end(env, op);
        return OP_DIRTY;
    }
    return OP_OK;
}

#define OP_BEGIN(env, term, op, checks, self, name, argc, argv)               \
    do {                                                                      \
        switch (op_begin(env, term, op, checks)) {                            \
        case OP_BADARG:                                                       \
            return enif_make_badarg(env);                                     \
        case OP_CLOSED:                                                       \
            return error_tuple(env, EBADF);                                   \
        case OP_BUSY:                                                         \
            return error_tuple(env, EBUSY);                                   \
        case OP_DIRTY:                                                        \
            return enif_schedule_nif(env, name, ERL_NIF_DIRTY_JOB_IO_BOUND,   \
                                     self, argc, argv);                       \
        case OP_WORKER:                                                       \
            return call_on_worker(env, self, argc, argv, op);                 \
        default:                                                              \
            break;                                                            \
        }                                                                     \
    } while (0)

/* ---- socket(2) and friends -------------------------------------------- */

/* sock_socket(Family, Type, Protocol) -> {ok, FD} | {error, Posix} */
ERL_NIF_TERM procket_sock_socket(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    int family, type, protocol, fd, err;

    (void)argc;
    if (!enif_get_int(env, argv[0], &family) || !enif_get_int(env, argv[1], &type) ||
        !enif_get_int(env, argv[2], &protocol))
        return enif_make_badarg(env);
    /* AF_ALG: a send hashes or ciphers the whole binary, without bound,
     * in the call: seconds of a normal scheduler */
    if (family == 38)
        return error_tuple(env, EAFNOSUPPORT);
    fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
    if (fd < 0)
        return error_tuple(env, errno);
    if ((err = procket_sock_issue(fd)) != 0) {
        (void)close(fd);
        return error_tuple(env, err);
    }
    return ok_tuple(env, enif_make_int(env, fd));
}

/* sock_bind(FD, Sockaddr) -> ok | {error, Posix}; <<>> is NULL */
ERL_NIF_TERM procket_sock_bind(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    ErlNifBinary sa;
    struct pk_op op;
    int rc, err;

    if (!get_bin(env, argv[1], PK_SOCKADDR_MAX, &sa))
        return enif_make_badarg(env);
    OP_BEGIN(env, argv[0], &op, ROUTE_PATH, procket_sock_bind, "sock_bind", argc, argv);
    rc = bind(op.fd, sa.size ? (const struct sockaddr *)sa.data : NULL,
              (socklen_t)sa.size);
    err = errno;
    op_end(env, &op);
    return rc < 0 ? error_tuple(env, err) : a_ok;
}

/* sock_connect(FD, Sockaddr) -> ok | {error, Posix}; <<>> is NULL */
/* SO_RCVTIMEO (which 0) or SO_SNDTIMEO (1) of the integer descriptor fd
 * set to one slice while a call in blocking mode waits in the kernel:
 * 0, or -1 when it could not be (then the call waits as the kernel
 * does). Counted per descriptor, so that calls at the same time (a herd
 * of accepts) put back the socket's own value, not a slice. */
static int timeo_begin(int fd, int which)
{
    struct timeval slice = {0, PK_WAIT_SLICE_MS * 1000};
    int opt = which == 0 ? SO_RCVTIMEO : SO_SNDTIMEO, rc = -1;

    enif_mutex_lock(reg_mtx);
    if (fd >= 0 && (size_t)fd < iss_len && iss[fd].used) {
        if (iss[fd].timeo_users[which] > 0) {
            iss[fd].timeo_users[which]++;
            rc = 0;
        } else {
            socklen_t len = sizeof(iss[fd].timeo_saved[which]);
            if (getsockopt(fd, SOL_SOCKET, opt, &iss[fd].timeo_saved[which], &len) == 0 &&
                len == sizeof(struct timeval) &&
                setsockopt(fd, SOL_SOCKET, opt, &slice, sizeof(slice)) == 0) {
                iss[fd].timeo_users[which] = 1;
                rc = 0;
            }
        }
    }
    enif_mutex_unlock(reg_mtx);
    return rc;
}

static void timeo_end(int fd, int which)
{
    int opt = which == 0 ? SO_RCVTIMEO : SO_SNDTIMEO;

    enif_mutex_lock(reg_mtx);
    if (fd >= 0 && (size_t)fd < iss_len && iss[fd].timeo_users[which] > 0 &&
        --iss[fd].timeo_users[which] == 0)
        (void)setsockopt(fd, SOL_SOCKET, opt, &iss[fd].timeo_saved[which],
                         sizeof(iss[fd].timeo_saved[which]));
    enif_mutex_unlock(reg_mtx);
}

/* connect(2) of a stream socket in blocking mode, procket's alone, a
 * slice at a time: SO_SNDTIMEO, which bounds the connect's wait (a TCP
 * handshake, an AF_UNIX listener's full backlog), is set to one slice
 * for the call and put back. A TCP connect that timed out goes on in
 * the kernel (EINPROGRESS, then EALREADY): the call gives its dirty
 * scheduler back and comes again (with a third argument: it was started,
 * so EISCONN then means done) until the handshake ends, the descriptor
 * is closed ({error, ebadf}) or the caller is gone. An AF_UNIX connect
 * that timed out left nothing (EAGAIN): on the worker it runs on, the
 * caller is told to call again ('$procket_retry'), so that no worker
 * waits for a listener for good. Nothing else can use the socket until
 * it is connected, so the timeout set meanwhile affects no other call. */
static ERL_NIF_TERM connect_slice(ErlNifEnv *env, struct pk_op *op, const ErlNifBinary *sa,
                                  int argc, const ERL_NIF_TERM argv[])
{
    int rc, err, started = argc == 3;

    if (timeo_begin(op->fd, 1) != 0) {
        /* as the kernel does it, then */
        rc = connect(op->fd, sa->size ? (const struct sockaddr *)sa->data : NULL,
                     (socklen_t)sa->size);
        err = errno;
        op_end(env, op);
        return rc < 0 ? error_tuple(env, err) : a_ok;
    }
    do {
        rc = connect(op->fd, sa->size ? (const struct sockaddr *)sa->data : NULL,
                     (socklen_t)sa->size);
    } while (rc < 0 && errno == EINTR);
    err = errno;
    timeo_end(op->fd, 1);
    if (rc == 0 || (started && err == EISCONN)) {
        op_end(env, op);
        return a_ok;
    }
    if (err != EINPROGRESS && err != EALREADY && err != EAGAIN) {
        op_end(env, op);
        return error_tuple(env, err);
    }
    if (op_closing(op)) {
        op_end(env, op);
        return error_tuple(env, EBADF);
    }
    op_end(env, op);
    if (pk_worker)
        return a_retry; /* its caller calls again, the worker is free */
    if (!enif_is_current_process_alive(env))
        return error_tuple(env, ECANCELED);
    {
        ERL_NIF_TERM args[3];
        args[0] = argv[0];
        args[1] = argv[1];
        args[2] = a_ok; /* started */
        return enif_schedule_nif(env, "sock_connect", ERL_NIF_DIRTY_JOB_IO_BOUND,
                                 procket_sock_connect, 3, args);
    }
}

ERL_NIF_TERM procket_sock_connect(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    ErlNifBinary sa;
    struct pk_op op;
    int rc, err;

    if (!get_bin(env, argv[1], PK_SOCKADDR_MAX, &sa))
        return enif_make_badarg(env);
    OP_BEGIN(env, argv[0], &op, CHECK_DIRTY | ROUTE_SEND | ROUTE_PATH, procket_sock_connect,
             "sock_connect", argc, argv);
    if (op.type == SOCK_STREAM && op.s == NULL && in_blocking_mode(op.fd) &&
        !is_shared(op.fd))
        return connect_slice(env, &op, &sa, argc, argv);
    rc = connect(op.fd, sa.size ? (const struct sockaddr *)sa.data : NULL,
                 (socklen_t)sa.size);
    err = errno;
    op_end(env, &op);
    return rc < 0 ? error_tuple(env, err) : a_ok;
}

/* sock_listen(FD, Backlog) -> ok | {error, Posix} */
ERL_NIF_TERM procket_sock_listen(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    struct pk_op op;
    int backlog, rc, err;

    if (!enif_get_int(env, argv[1], &backlog))
        return enif_make_badarg(env);
    OP_BEGIN(env, argv[0], &op, 0, procket_sock_listen, "sock_listen", argc, argv);
    rc = listen(op.fd, backlog);
    err = errno;
    op_end(env, &op);
    return rc < 0 ? error_tuple(env, err) : a_ok;
}

/* sock_accept(FD, Salen) -> {ok, NewFD, Sockaddr} | {error, Posix} */
ERL_NIF_TERM procket_sock_accept(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    pk_sockaddr sa;
    unsigned long salen;
    socklen_t len;
    struct pk_op op;
    int fd, err, sliced;

    if (!get_size(env, argv[1], PK_SOCKADDR_MAX, &salen))
        return enif_make_badarg(env);
    OP_BEGIN(env, argv[0], &op, CHECK_DIRTY, procket_sock_accept,
             "sock_accept", argc, argv);
    len = (socklen_t)salen;
    sliced = 0;
    if (in_blocking_mode(op.fd) && listening(op.fd)) {
        /* in blocking mode, a slice at a time: SO_RCVTIMEO bounds
         * accept(2) itself (a herd of accepts woken for one connection
         * then waits no longer than a slice either); a socket that is
         * not procket's alone waits with wait_ready, then in accept(2)
         * if another caller took the connection meanwhile (README) */
        if (op.s == NULL && !is_shared(op.fd) && timeo_begin(op.fd, 0) == 0) {
            sliced = 1;
        } else if ((err = wait_ready(env, &op, POLLIN, PK_WAIT_SLICE_MS)) != 0) {
            op_end(env, &op);
            if (err == PK_NOT_YET)
                return enif_schedule_nif(env, "sock_accept", ERL_NIF_DIRTY_JOB_IO_BOUND,
                                         procket_sock_accept, argc, argv);
            return error_tuple(env, err);
        }
    }
    do {
        fd = accept4(op.fd, salen ? &sa.sa : NULL, salen ? &len : NULL,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    err = errno;
    if (sliced) {
        timeo_end(op.fd, 0);
        if (fd < 0 && (err == EAGAIN || err == EWOULDBLOCK)) {
            /* a slice passed: the scheduler goes back, the call comes
             * again, unless the descriptor was closed or the caller is
             * gone */
            int closing = op_closing(&op);
            op_end(env, &op);
            if (closing)
                return error_tuple(env, EBADF);
            if (!enif_is_current_process_alive(env))
                return error_tuple(env, ECANCELED);
            return enif_schedule_nif(env, "sock_accept", ERL_NIF_DIRTY_JOB_IO_BOUND,
                                     procket_sock_accept, argc, argv);
        }
    }
    op_end(env, &op);
    if (fd < 0)
        return error_tuple(env, err);
    /* a caller killed while the call waited on the dirty scheduler would
     * never learn the number */
    if (!enif_is_current_process_alive(env)) {
        close_owned(fd);
        return error_tuple(env, ESRCH);
    }
    if ((err = procket_sock_issue(fd)) != 0) {
        (void)close(fd);
        return error_tuple(env, err);
    }
    return enif_make_tuple3(env, a_ok, enif_make_int(env, fd),
                            make_sockaddr(env, &sa, salen, salen ? len : 0));
}

/* ---- receiving and sending -------------------------------------------- */

/* The data bytes of control message c that lie before end (what the
 * kernel wrote; a message cut short by MSG_CTRUNC counts only so far). */
static size_t cmsg_data_len(const struct cmsghdr *c, const unsigned char *end)
{
    const unsigned char *data = CMSG_DATA(c);
    size_t len = c->cmsg_len > CMSG_LEN(0) ? c->cmsg_len - CMSG_LEN(0) : 0;

    if (data > end)
        return 0;
    return len > (size_t)(end - data) ? (size_t)(end - data) : len;
}

/* The descriptors in msg's control messages (SCM_RIGHTS, SCM_PIDFD): the
 * ones within the first `keep' bytes of control data are the caller's
 * (issued, so that close/1 takes them), the others are closed here. Such
 * a close may be the last reference to a lingering socket, or to an
 * AF_UNIX one holding one in flight: close_owned runs it on a thread
 * then. Returns whether anything lay beyond `keep'. */
static int pass_fds(struct msghdr *msg, size_t keep)
{
    const unsigned char *base = msg->msg_control, *end;
    struct cmsghdr *c;
    int cut = 0;

    if (base == NULL || msg->msg_controllen == 0)
        return 0;
    end = base + msg->msg_controllen;
    for (c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
        const unsigned char *data = CMSG_DATA(c);
        size_t len = cmsg_data_len(c, end), i;

        if ((size_t)(data - base) + len > keep)
            cut = 1;
        if (c->cmsg_level != SOL_SOCKET ||
            (c->cmsg_type != SCM_RIGHTS && c->cmsg_type != SCM_PIDFD))
            continue;
        for (i = 0; i + sizeof(int) <= len; i += sizeof(int)) {
            int fd;
            memcpy(&fd, data + i, sizeof(fd));
            if ((size_t)(data - base) + i + sizeof(int) <= keep) {
                (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
                if (procket_sock_issue(fd) == 0) /* without: close/1 refuses it */
                    mark_shared(fd);
            }
            else
                close_owned(fd);
        }
    }
    return cut;
}

/* recvmsg(2) into iov, with room for control data that nobody asked for:
 * without it the kernel would close passed descriptors itself, in this
 * thread, and that close may wait without end (see pass_fds). read/2,
 * recv and recvfrom receive through it; their callers get no
 * descriptors. */
static ssize_t recv_passing(int fd, struct iovec *iov, int n, int flags,
                            pk_sockaddr *sa, socklen_t salen, socklen_t *len)
{
    union {
        struct cmsghdr align;
        unsigned char buf[PK_CTRL_ROOM];
    } ctrl;
    struct msghdr msg;
    ssize_t r;
    int err;

    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = iov;
    msg.msg_iovlen = (size_t)n;
    msg.msg_name = sa;
    msg.msg_namelen = sa != NULL ? salen : 0;
    msg.msg_control = ctrl.buf;
    msg.msg_controllen = sizeof(ctrl.buf);
    /* no MSG_CMSG_CLOEXEC: packet sockets refuse it (EINVAL), and what
     * arrives is closed before this call returns (or handed to a closer) */
    do {
        r = recvmsg(fd, &msg, flags);
    } while (r < 0 && errno == EINTR);
    err = errno;
    if (r >= 0) {
        (void)pass_fds(&msg, 0);
        if (len != NULL)
            *len = msg.msg_namelen;
    }
    errno = err;
    return r;
}

/* sock_recvfrom(FD, Size, Flags, Salen) -> {ok, Buf, Sockaddr} | {error, _} */
ERL_NIF_TERM procket_sock_recvfrom(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    pk_sockaddr sa;
    unsigned long size, salen;
    ErlNifBinary buf;
    unsigned char small[PK_RECV_SMALL], *data = small;
    ERL_NIF_TERM bin;
    socklen_t len;
    struct pk_op op;
    ssize_t n;
    int flags, err;

    if (!get_size(env, argv[1], PK_IO_MAX, &size) ||
        !enif_get_int(env, argv[2], &flags) ||
        !get_size(env, argv[3], PK_SOCKADDR_MAX, &salen))
        return enif_make_badarg(env);
    OP_BEGIN(env, argv[0], &op, ROUTE_RECV, procket_sock_recvfrom, "sock_recvfrom", argc,
             argv);
    /* A small receive goes to the stack and is copied into a binary of
     * its real length: no allocation for an empty socket (eagain), no
     * shrinking afterwards. A large one goes straight into a binary. */
    if (size > sizeof(small)) {
        if (!enif_alloc_binary(size, &buf)) {
            op_end(env, &op);
            return error_tuple(env, ENOMEM);
        }
        data = buf.data;
    }
    {
        struct iovec iov = {data, size};
        n = recv_passing(op.fd, &iov, 1, flags | MSG_DONTWAIT, salen ? &sa : NULL,
                         (socklen_t)salen, &len);
    }
    err = errno;
    op_end(env, &op);
    if (n < 0) {
        if (data != small)
            enif_release_binary(&buf);
        return error_tuple(env, err);
    }
    if ((size_t)n > size) /* MSG_TRUNC reports the real length */
        n = (ssize_t)size;
    if (data == small) {
        unsigned char *p = enif_make_new_binary(env, (size_t)n, &bin);
        if (p == NULL)
            return error_tuple(env, ENOMEM);
        memcpy(p, small, (size_t)n);
    } else {
        if ((size_t)n < size && !enif_realloc_binary(&buf, (size_t)n)) {
            enif_release_binary(&buf);
            return error_tuple(env, ENOMEM);
        }
        bin = enif_make_binary(env, &buf);
    }
    return enif_make_tuple3(env, a_ok, bin,
                            make_sockaddr(env, &sa, salen, salen ? len : 0));
}

/* sock_sendto(FD, Buf, Flags, Sockaddr) -> {ok, Sent} | {error, Posix} */
ERL_NIF_TERM procket_sock_sendto(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    ErlNifBinary buf, sa;
    struct pk_op op;
    ssize_t n;
    int flags, err;

    if (!enif_inspect_binary(env, argv[1], &buf) ||
        !enif_get_int(env, argv[2], &flags) ||
        !get_bin(env, argv[3], PK_SOCKADDR_MAX, &sa))
        return enif_make_badarg(env);
    if (flags & MSG_ZEROCOPY) /* the kernel would read the binary later */
        return error_tuple(env, EOPNOTSUPP);
    OP_BEGIN(env, argv[0], &op, ROUTE_SEND, procket_sock_sendto, "sock_sendto", argc,
             argv);
    do {
        n = sendto(op.fd, buf.data, buf.size, flags | MSG_DONTWAIT | MSG_NOSIGNAL,
                   sa.size ? (const struct sockaddr *)sa.data : NULL,
                   (socklen_t)sa.size);
    } while (n < 0 && errno == EINTR);
    err = errno;
    op_end(env, &op);
    if (n < 0)
        return error_tuple(env, err);
    return ok_tuple(env, enif_make_uint64(env, (ErlNifUInt64)n));
}

/* The control messages of a received message, in order, as far as they
 * lie within the first `keep' bytes of control data (what the caller
 * asked for: the rest is cut as the kernel would cut it). */
static ERL_NIF_TERM make_cmsgs(ErlNifEnv *env, struct msghdr *msg, size_t keep)
{
    ERL_NIF_TERM list = enif_make_list(env, 0), rev;
    const unsigned char *base = msg->msg_control, *end;
    struct cmsghdr *c;

    if (base == NULL || msg->msg_controllen == 0)
        return list;
    end = base + (msg->msg_controllen < keep ? msg->msg_controllen : keep);
    for (c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
        const unsigned char *data = CMSG_DATA(c);
        size_t len;
        unsigned char *p;
        ERL_NIF_TERM bin;

        if ((const unsigned char *)c + sizeof(*c) > end)
            break;
        len = cmsg_data_len(c, end); /* up to `keep' */
        if (c->cmsg_level == SOL_SOCKET &&
            (c->cmsg_type == SCM_RIGHTS || c->cmsg_type == SCM_PIDFD)) {
            /* whole descriptors only, as the kernel cuts them (pass_fds
             * closed the rest); none: no message */
            len -= len % sizeof(int);
            if (len == 0)
                continue;
        }
        p = enif_make_new_binary(env, len, &bin);
        if (len > 0)
            memcpy(p, data, len);
        list = enif_make_list_cell(
            env,
            enif_make_tuple3(env, enif_make_int(env, c->cmsg_level),
                             enif_make_int(env, c->cmsg_type), bin),
            list);
    }
    if (!enif_make_reverse_list(env, list, &rev))
        return list;
    return rev;
}

/* sock_recvmsg(FD, Size, Flags, CtrlSize, Salen) ->
 *     {ok, Buf, MsgFlags, [{Level, Type, Data}], Sockaddr} | {error, Posix}
 * Descriptors passed with SCM_RIGHTS arrive close-on-exec. */
ERL_NIF_TERM procket_sock_recvmsg(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    pk_sockaddr sa;
    unsigned long size, ctrlsize, salen;
    ErlNifBinary buf;
    struct msghdr msg;
    struct iovec iov;
    void *ctrl = NULL;
    struct pk_op op;
    ERL_NIF_TERM cmsgs, res;
    ssize_t n;
    int flags, err;

    if (!get_size(env, argv[1], PK_IO_MAX, &size) ||
        !enif_get_int(env, argv[2], &flags) ||
        !get_size(env, argv[3], PK_CTRL_MAX, &ctrlsize) ||
        !get_size(env, argv[4], PK_SOCKADDR_MAX, &salen))
        return enif_make_badarg(env);
    OP_BEGIN(env, argv[0], &op, ROUTE_RECV, procket_sock_recvmsg, "sock_recvmsg", argc,
             argv);
    if (!enif_alloc_binary(size, &buf)) {
        op_end(env, &op);
        return error_tuple(env, ENOMEM);
    }
    /* room beyond ctrlsize: see PK_CTRL_ROOM */
    if ((ctrl = enif_alloc(ctrlsize + PK_CTRL_ROOM)) == NULL) {
        op_end(env, &op);
        enif_release_binary(&buf);
        return error_tuple(env, ENOMEM);
    }
    memset(ctrl, 0, ctrlsize + PK_CTRL_ROOM);
    memset(&msg, 0, sizeof(msg));
    iov.iov_base = buf.data;
    iov.iov_len = size;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_name = salen ? &sa : NULL;
    msg.msg_namelen = (socklen_t)salen;
    msg.msg_control = ctrl;
    msg.msg_controllen = ctrlsize + PK_CTRL_ROOM;
    do {
        n = recvmsg(op.fd, &msg, flags | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        /* packet sockets (and others that never pass descriptors) refuse
         * MSG_CMSG_CLOEXEC; received descriptors are made close-on-exec
         * below in any case */
        if (n < 0 && errno == EINVAL && !(flags & MSG_CMSG_CLOEXEC)) {
            msg.msg_controllen = ctrlsize + PK_CTRL_ROOM;
            n = recvmsg(op.fd, &msg, flags | MSG_DONTWAIT);
        }
    } while (n < 0 && errno == EINTR);
    err = errno;
    op_end(env, &op);
    if (n < 0) {
        enif_free(ctrl);
        enif_release_binary(&buf);
        return error_tuple(env, err);
    }
    if ((size_t)n > size)
        n = (ssize_t)size;
    if ((size_t)n < size && !enif_realloc_binary(&buf, (size_t)n)) {
        /* the descriptors in ctrl, if any, are delivered anyway */
        enif_release_binary(&buf);
        (void)enif_alloc_binary(0, &buf);
    }
    cmsgs = make_cmsgs(env, &msg, ctrlsize);
    if (pass_fds(&msg, ctrlsize))
        msg.msg_flags |= MSG_CTRUNC;
    /* Linux echoes MSG_CMSG_CLOEXEC, which procket added */
    if (!(flags & MSG_CMSG_CLOEXEC))
        msg.msg_flags &= ~MSG_CMSG_CLOEXEC;
    res = enif_make_tuple5(env, a_ok, enif_make_binary(env, &buf),
                           enif_make_int(env, msg.msg_flags), cmsgs,
                           make_sockaddr(env, &sa, salen, salen ? msg.msg_namelen : 0));
    enif_free(ctrl);
    return res;
}

/* Builds the control buffer of sendmsg from [{Level, Type, Data}]. Returns
 * 0 for bad input; *ctrl is NULL for an empty list. */
static int get_cmsgs(ErlNifEnv *env, ERL_NIF_TERM list, void **ctrl, size_t *len)
{
    ERL_NIF_TERM head, tail = list;
    const ERL_NIF_TERM *tuple;
    ErlNifBinary data;
    struct msghdr msg;
    struct cmsghdr *c;
    size_t space = 0;
    int arity, level, type;
    unsigned count;

    *ctrl = NULL;
    *len = 0;
    if (!enif_get_list_length(env, list, &count) || count > PK_CTRL_MAX / 16)
        return 0;
    while (enif_get_list_cell(env, tail, &head, &tail)) {
        if (!enif_get_tuple(env, head, &arity, &tuple) || arity != 3 ||
            !enif_get_int(env, tuple[0], &level) ||
            !enif_get_int(env, tuple[1], &type) ||
            !get_bin(env, tuple[2], PK_CTRL_MAX, &data))
            return 0;
        space += CMSG_SPACE(data.size);
        if (space > PK_CTRL_MAX)
            return 0;
    }
    if (space == 0)
        return 1;
    if ((*ctrl = enif_alloc(space)) == NULL)
        return -1;
    memset(*ctrl, 0, space);
    memset(&msg, 0, sizeof(msg));
    msg.msg_control = *ctrl;
    msg.msg_controllen = space;
    c = CMSG_FIRSTHDR(&msg);
    tail = list;
    while (c != NULL && enif_get_list_cell(env, tail, &head, &tail)) {
        (void)enif_get_tuple(env, head, &arity, &tuple);
        (void)enif_get_int(env, tuple[0], &level);
        (void)enif_get_int(env, tuple[1], &type);
        (void)enif_inspect_binary(env, tuple[2], &data);
        c->cmsg_level = level;
        c->cmsg_type = type;
        c->cmsg_len = CMSG_LEN(data.size);
        if (data.size > 0)
            memcpy(CMSG_DATA(c), data.data, data.size);
        c = CMSG_NXTHDR(&msg, c);
    }
    *len = space;
    return 1;
}

/* The descriptors in msg's SCM_RIGHTS messages must be procket's: not the
 * VM's own, which a peer could then write to. Checked with the registry
 * locked, and each replaced by a duplicate made then, so that what is
 * sent is the file checked even if the number is closed and reused before
 * the send; the lock is not held across sendmsg(2), which may wait (see
 * ROUTE_SEND). 0, or an errno (no duplicate left open). */
static int cmsg_dup_ours(struct msghdr *msg)
{
    int err = 0;

    enif_mutex_lock(reg_mtx);
    for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
        size_t len;
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        len = c->cmsg_len > CMSG_LEN(0) ? c->cmsg_len - CMSG_LEN(0) : 0;
        for (size_t i = 0; i + sizeof(int) <= len; i += sizeof(int)) {
            int fd, dup;
            memcpy(&fd, CMSG_DATA(c) + i, sizeof(fd));
            if (!procket_fd_locked(fd))
                err = EBADF;
            else if ((dup = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0)
                err = errno;
            else {
                memcpy(CMSG_DATA(c) + i, &dup, sizeof(dup));
                if ((size_t)fd < iss_len)
                    iss[fd].shared = 1; /* the receiver will hold it too */
            }
            if (err != 0) {
                /* the ones before i are duplicates: mark the rest */
                for (size_t k = i; k + sizeof(int) <= len; k += sizeof(int))
                    memset(CMSG_DATA(c) + k, 0xff, sizeof(int));
                for (c = CMSG_NXTHDR(msg, c); c != NULL; c = CMSG_NXTHDR(msg, c))
                    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
                        memset(CMSG_DATA(c), 0xff,
                               c->cmsg_len > CMSG_LEN(0) ? c->cmsg_len - CMSG_LEN(0) : 0);
                goto out;
            }
        }
    }
out:
    enif_mutex_unlock(reg_mtx);
    return err;
}

/* Closes the duplicates cmsg_dup_ours made (-1 marks none), on a worker:
 * each may be the last reference by now, to a file the receiver holds
 * too (see close_may_wait). */
static void cmsg_close_dups(struct msghdr *msg)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
        size_t len;
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        len = c->cmsg_len > CMSG_LEN(0) ? c->cmsg_len - CMSG_LEN(0) : 0;
        for (size_t i = 0; i + sizeof(int) <= len; i += sizeof(int)) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i, sizeof(fd));
            if (fd >= 0 && close_on_thread(fd, NULL, NULL, 0) != 0)
                close_owned(fd);
        }
    }
}

/* sock_sendmsg(FD, Buf, Flags, Ctrl, Sockaddr) -> {ok, Sent} | {error, _} */
ERL_NIF_TERM procket_sock_sendmsg(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    ErlNifBinary buf, sa;
    struct msghdr msg;
    struct iovec iov;
    struct pk_op op;
    void *ctrl;
    size_t ctrllen;
    ssize_t n;
    int flags, err, rc;

    if (!enif_inspect_binary(env, argv[1], &buf) ||
        !enif_get_int(env, argv[2], &flags) ||
        !get_bin(env, argv[4], PK_SOCKADDR_MAX, &sa))
        return enif_make_badarg(env);
    if (flags & MSG_ZEROCOPY) /* the kernel would read the binary later */
        return error_tuple(env, EOPNOTSUPP);
    rc = get_cmsgs(env, argv[3], &ctrl, &ctrllen);
    if (rc == 0)
        return enif_make_badarg(env);
    if (rc < 0)
        return error_tuple(env, ENOMEM);
    switch (op_begin(env, argv[0], &op, ROUTE_SEND)) {
    case OP_OK:
        break;
    case OP_CLOSED:
        enif_free(ctrl);
        return error_tuple(env, EBADF);
    case OP_BUSY:
        enif_free(ctrl);
        return error_tuple(env, EBUSY);
    case OP_WORKER:
        enif_free(ctrl);
        return call_on_worker(env, procket_sock_sendmsg, argc, argv, &op);
    default:
        enif_free(ctrl);
        return enif_make_badarg(env);
    }
    memset(&msg, 0, sizeof(msg));
    iov.iov_base = buf.data;
    iov.iov_len = buf.size;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_name = sa.size ? sa.data : NULL;
    msg.msg_namelen = (socklen_t)sa.size;
    msg.msg_control = ctrl;
    msg.msg_controllen = ctrllen;
    if (ctrl != NULL && (err = cmsg_dup_ours(&msg)) != 0) {
        n = -1;
    } else {
        do {
            n = sendmsg(op.fd, &msg, flags | MSG_DONTWAIT | MSG_NOSIGNAL);
        } while (n < 0 && errno == EINTR);
        err = errno;
    }
    op_end(env, &op);
    if (ctrl != NULL)
        cmsg_close_dups(&msg);
    enif_free(ctrl);
    if (n < 0)
        return error_tuple(env, err);
    return ok_tuple(env, enif_make_uint64(env, (ErlNifUInt64)n));
}

/* One read or write on fd that does not wait: recvmsg(2) or sendmsg(2)
 * with MSG_DONTWAIT on a socket, else RWF_NOWAIT (EOPNOTSUPP for a file
 * that does not take it). */
static ssize_t rw_nowait(int fd, struct iovec *iov, int n, int writing, int sock)
{
    ssize_t r;

    if (sock && !writing)
        return recv_passing(fd, iov, n, MSG_DONTWAIT, NULL, 0, NULL);
    do {
        if (sock) {
            struct msghdr msg;
            memset(&msg, 0, sizeof(msg));
            msg.msg_iov = iov;
            msg.msg_iovlen = (size_t)n;
            r = sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
        } else {
            r = writing ? pwritev2(fd, iov, n, -1, RWF_NOWAIT)
                        : preadv2(fd, iov, n, -1, RWF_NOWAIT);
        }
    } while (r < 0 && errno == EINTR);
    return r;
}

/* rw() on a dirty scheduler. A regular file, block device or directory is
 * read or written as it is (the call moved here for it). Anything else is
 * read or written without waiting first, as a call in blocking mode
 * returns at once what it can (data, room, or an error such as a write to
 * a listening socket); only if there was nothing, and the descriptor is
 * in blocking mode, does the call wait, a slice at a time (wait_ready),
 * and try again (another reader or writer may get there first). A write
 * to a stream socket or a pipe goes on until all is written, as a
 * blocking write(2) does; a close or the caller's death meanwhile returns
 * what was written. One call keeps its dirty scheduler for about a slice
 * at most: then it returns PK_RESCHEDULE, with *progress the bytes it
 * wrote, and is scheduled again with the rest. A file that takes no
 * RWF_NOWAIT is read or written once ready, in blocking mode after the
 * wait. */
#define PK_RESCHEDULE (-2)
static long pk_ms_since(const struct timespec *t0)
{
    struct timespec t;

    (void)clock_gettime(CLOCK_MONOTONIC, &t);
    return (long)(t.tv_sec - t0->tv_sec) * 1000L + (t.tv_nsec - t0->tv_nsec) / 1000000L;
}

/* What rw_dirty does after wait_ready said w: 0 go on (ready);
 * PK_RESCHEDULE (the slice passed); -1 with *err set (closed, caller
 * gone, poll failed). */
static ssize_t waited(int w, int *err)
{
    if (w == 0)
        return 0;
    if (w == PK_NOT_YET)
        return PK_RESCHEDULE;
    *err = w;
    return -1;
}

static ssize_t rw_dirty(ErlNifEnv *env, const struct pk_op *op, const struct iovec *iov0,
                        int n, int writing, size_t *progress)
{
    struct iovec small[8], *iov = small;
    struct timespec t0;
    struct stat st;
    size_t total = 0, done = 0;
    ssize_t r;
    int sock, all, err = 0, i, waited_ready = 0;
    short events = writing ? POLLOUT : POLLIN;

    *progress = 0;
    if (fstat(op->fd, &st) < 0)
        return -1;
    if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode) || S_ISDIR(st.st_mode)) {
        do {
            r = writing ? writev(op->fd, iov0, n) : readv(op->fd, iov0, n);
        } while (r < 0 && errno == EINTR);
        return r;
    }
    for (i = 0; i < n; i++)
        total += iov0[i].iov_len;
    if (!writing && total == 0)
        return 0; /* as read(2); recvmsg(2) would wait for a message */
    sock = S_ISSOCK(st.st_mode);
    all = writing && (S_ISFIFO(st.st_mode) || (sock && op->type == SOCK_STREAM));
    if ((size_t)n > sizeof(small) / sizeof(small[0]) &&
        (iov = enif_alloc((size_t)n * sizeof(*iov))) == NULL) {
        errno = ENOMEM;
        return -1;
    }
    memcpy(iov, iov0, (size_t)n * sizeof(*iov));
    (void)clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        long left = PK_WAIT_SLICE_MS - pk_ms_since(&t0);

        r = rw_nowait(op->fd, iov, n, writing, sock);
        err = errno;
        if (r < 0 && err == EOPNOTSUPP) {
            /* no RWF_NOWAIT: once ready (a wait in blocking mode) */
            struct pollfd p = {op->fd, events, 0};
            if (in_blocking_mode(op->fd)) {
                if ((r = waited(wait_ready(env, op, events, left > 0 ? (int)left : 0),
                                &err)) != 0)
                    break;
            } else if (poll(&p, 1, 0) == 0) {
                r = -1;
                err = EAGAIN;
                break;
            }
            do {
                r = writing ? writev(op->fd, iov, n) : readv(op->fd, iov, n);
            } while (r < 0 && errno == EINTR);
            err = errno;
        }
        if (r < 0 && err == EAGAIN && in_blocking_mode(op->fd)) {
            if (waited_ready || left <= 0) {
                /* ready, yet nothing to do; or the slice is used up */
                if (waited_ready)
                    pk_pause();
                r = PK_RESCHEDULE;
                break;
            }
            if ((r = waited(wait_ready(env, op, events, (int)left), &err)) != 0)
                break;
            waited_ready = 1;
            continue;
        }
        if (r < 0 || !all)
            break;
        waited_ready = 0;
        done += (size_t)r;
        if (done >= total)
            break;
        /* the rest: drop what was written from the front of iov */
        {
            size_t adv = (size_t)r;
            while (n > 0 && adv >= iov[0].iov_len) {
                adv -= iov[0].iov_len;
                memmove(iov, iov + 1, (size_t)(n - 1) * sizeof(*iov));
                n--;
            }
            iov[0].iov_base = (char *)iov[0].iov_base + adv;
            iov[0].iov_len -= adv;
        }
    }
    if (iov != small)
        enif_free(iov);
    if (r == PK_RESCHEDULE) {
        *progress = done;
        return PK_RESCHEDULE;
    }
    if (all && done > 0)
        return (ssize_t)done; /* all of it, or a later error: what was written */
    if (r >= 0)
        return r;
    errno = err;
    return -1;
}

/* read(2), write(2) and writev(2) for read/2, write/2 and writev/2. On a
 * dirty scheduler (where the call moved because the descriptor was in
 * blocking mode, or is a file) see rw_dirty. On a normal scheduler the
 * descriptor was non-blocking when op_begin looked, but another process
 * may have cleared O_NONBLOCK since: RWF_NOWAIT makes this one call
 * non-blocking whatever the flag says (sockets, pipes, tun devices take
 * it). A file that does not gives EOPNOTSUPP, and the call moves to a
 * dirty scheduler. */
static ssize_t rw(ErlNifEnv *env, const struct pk_op *op, const struct iovec *iov, int n,
                  int writing, size_t *progress)
{
    int fd = op->fd;
    ssize_t r;

    *progress = 0;

    /* On a worker (an AF_UNIX socket: see ROUTE_SEND) nothing waits for
     * data or room, whatever the descriptor's mode (op_begin waited) */
    if (pk_worker) {
        if (!writing && n == 1 && iov[0].iov_len == 0)
            return 0;
        return rw_nowait(fd, (struct iovec *)iov, n, writing, 1);
    }
    if (on_dirty_scheduler())
        return rw_dirty(env, op, iov, n, writing, progress);
    if (!writing && (n > 1 || iov[0].iov_len > 0)) {
        /* a socket: recvmsg(2), so that passed descriptors are not closed
         * in this thread (see recv_passing). A read of 0 bytes returns 0
         * at once, as read(2) does (recvmsg(2) would wait for a message). */
        r = recv_passing(fd, (struct iovec *)iov, n, MSG_DONTWAIT, NULL, 0, NULL);
        if (!(r < 0 && errno == ENOTSOCK))
            return r;
    }
    do {
        r = writing ? pwritev2(fd, iov, n, -1, RWF_NOWAIT) : preadv2(fd, iov, n, -1, RWF_NOWAIT);
    } while (r < 0 && errno == EINTR);
    return r;
}

#define RW_RESCHEDULE(env, n, err, self, name, argc, argv)                      \
    do {                                                                      \
        if ((n) < 0 && (err) == EOPNOTSUPP && !on_dirty_scheduler())          \
            return enif_schedule_nif(env, name, ERL_NIF_DIRTY_JOB_IO_BOUND,   \
                                     self, argc, argv);                       \
    } while (0)

/* sock_read(FD, Size) -> {ok, Buf} | {error, Posix} */
ERL_NIF_TERM procket_sock_read(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    unsigned long size;
    ErlNifBinary buf;
    struct pk_op op;
    size_t progress;
    ssize_t n;
    int err;

    if (!get_size(env, argv[1], PK_IO_MAX, &size))
        return enif_make_badarg(env);
    OP_BEGIN(env, argv[0], &op, CHECK_BLOCKING | CHECK_FILE | ROUTE_RECV, procket_sock_read,
             "sock_read", argc, argv);
    if (!enif_alloc_binary(size, &buf)) {
        op_end(env, &op);
        return error_tuple(env, ENOMEM);
    }
    {
        struct iovec iov = {buf.data, size};
        n = rw(env, &op, &iov, 1, 0, &progress);
    }
    err = errno;
    op_end(env, &op);
    if (n == PK_RESCHEDULE) { /* a slice waited: the scheduler goes back */
        enif_release_binary(&buf);
        return enif_schedule_nif(env, "sock_read", ERL_NIF_DIRTY_JOB_IO_BOUND,
                                 procket_sock_read, argc, argv);
    }
    if (n < 0) {
        enif_release_binary(&buf);
        RW_RESCHEDULE(env, n, err, procket_sock_read, "sock_read", argc, argv);
        return error_tuple(env, err);
    }
    if ((size_t)n < size && !enif_realloc_binary(&buf, (size_t)n)) {
        enif_release_binary(&buf);
        return error_tuple(env, ENOMEM);
    }
    return ok_tuple(env, enif_make_binary(env, &buf));
}

/* A write that waited a slice, scheduled again with what is left of bin
 * (a binary term) after skip bytes, and the count written so far. */
static ERL_NIF_TERM write_again(ErlNifEnv *env, ERL_NIF_TERM fd, ERL_NIF_TERM bin,
                                size_t size, size_t skip, ErlNifUInt64 before)
{
    ERL_NIF_TERM args[3];

    args[0] = fd;
    args[1] = enif_make_sub_binary(env, bin, skip, size - skip);
    args[2] = enif_make_uint64(env, before + skip);
    return enif_schedule_nif(env, "sock_write", ERL_NIF_DIRTY_JOB_IO_BOUND,
                             procket_sock_write, 3, args);
}

/* sock_write(FD, Buf) -> {ok, Written} | {error, Posix}; scheduled again
 * (write_again) as sock_write(FD, Rest, WrittenBefore). */
ERL_NIF_TERM procket_sock_write(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    ErlNifBinary buf;
    ErlNifUInt64 before = 0;
    struct pk_op op;
    size_t progress;
    ssize_t n;
    int err;

    if (!enif_inspect_binary(env, argv[1], &buf) ||
        (argc == 3 && !enif_get_uint64(env, argv[2], &before)))
        return enif_make_badarg(env);
    OP_BEGIN(env, argv[0], &op, CHECK_BLOCKING | CHECK_FILE | ROUTE_SEND, procket_sock_write,
             "sock_write", argc, argv);
    {
        struct iovec iov = {buf.data, buf.size};
        n = rw(env, &op, &iov, 1, 1, &progress);
    }
    err = errno;
    op_end(env, &op);
    if (n == PK_RESCHEDULE)
        return write_again(env, argv[0], argv[1], buf.size, progress, before);
    RW_RESCHEDULE(env, n, err, procket_sock_write, "sock_write", argc, argv);
    if (n < 0 && before == 0)
        return error_tuple(env, err);
    if (n < 0) /* an error after earlier slices wrote: what was written */
        n = 0;
    return ok_tuple(env, enif_make_uint64(env, before + (ErlNifUInt64)n));
}

/* sock_writev(FD, [binary()]) -> {ok, Written} | {error, Posix}; at most
 * IOV_MAX binaries (more: badarg; for a datagram socket a partial writev
 * would send a truncated datagram). A write that must wait goes on as a
 * sock_write of the bytes left. */
ERL_NIF_TERM procket_sock_writev(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    ErlNifIOVec vec, *iovec = &vec;
    ERL_NIF_TERM tail, rest;
    struct pk_op op;
    size_t progress, total = 0, at = 0, skip;
    unsigned char *p;
    ssize_t n;
    int err;

    if (!enif_is_list(env, argv[1]) ||
        !enif_inspect_iovec(env, IOV_MAX, argv[1], &tail, &iovec) ||
        !enif_is_empty_list(env, tail))
        return enif_make_badarg(env);
    OP_BEGIN(env, argv[0], &op, CHECK_BLOCKING | CHECK_FILE | ROUTE_SEND, procket_sock_writev,
             "sock_writev", argc, argv);
    n = rw(env, &op, (const struct iovec *)iovec->iov, (int)iovec->iovcnt, 1, &progress);
    err = errno;
    op_end(env, &op);
    if (n == PK_RESCHEDULE) {
        for (int i = 0; i < (int)iovec->iovcnt; i++)
            total += iovec->iov[i].iov_len;
        p = enif_make_new_binary(env, total - progress, &rest);
        if (p == NULL)
            return error_tuple(env, ENOMEM);
        skip = progress;
        for (int i = 0; i < (int)iovec->iovcnt; i++) {
            size_t len = iovec->iov[i].iov_len;
            const unsigned char *b = (const unsigned char *)iovec->iov[i].iov_base;
            if (skip >= len) {
                skip -= len;
                continue;
            }
            memcpy(p + at, b + skip, len - skip);
            at += len - skip;
            skip = 0;
        }
        return write_again(env, argv[0], rest, total - progress, 0, progress);
    }
    RW_RESCHEDULE(env, n, err, procket_sock_writev, "sock_writev", argc, argv);
    if (n < 0)
        return error_tuple(env, err);
    return ok_tuple(env, enif_make_uint64(env, (ErlNifUInt64)n));
}

/* ---- ioctl: the requests procket passes on ----------------------------- */

/* What an ioctl request's argument is. The kernel takes the argument as a
 * value, or as the address of a structure; some structures hold further
 * addresses (SIOCGIFCONF's buffer, SIOCETHTOOL's ifr_data, SIOCADDRT's
 * rt_dev) that the kernel reads or writes, and some requests arm signals
 * (FIOASYNC, FIOSETOWN, SIOCSPGRP: SIGIO would kill the VM) or return
 * descriptors (TUNGETDEVNETNS). procket passes on only the requests below,
 * whose layout it knows: an address procket chose, never the caller, goes
 * to the kernel. Any other request is EOPNOTSUPP. */
enum { IOC_BUF = 1, IOC_VAL, IOC_IFCONF };

static const struct {
    unsigned long req;
    unsigned char kind;
} ioc_rules[] = {
#ifdef __linux__
    /* a pointer to procket's buffer: structures of plain data */
    {FIONREAD, IOC_BUF},       {FIONBIO, IOC_BUF},        {FIOCLEX, IOC_BUF},
    {FIONCLEX, IOC_BUF},       {SIOCOUTQ, IOC_BUF},       {SIOCATMARK, IOC_BUF},
    {SIOCGSTAMP, IOC_BUF},     {SIOCGSTAMPNS, IOC_BUF},   {SIOCGIFNAME, IOC_BUF},
    {SIOCGIFINDEX, IOC_BUF},   {SIOCGIFFLAGS, IOC_BUF},   {SIOCSIFFLAGS, IOC_BUF},
    {SIOCGIFADDR, IOC_BUF},    {SIOCSIFADDR, IOC_BUF},    {SIOCDIFADDR, IOC_BUF},
    {SIOCGIFDSTADDR, IOC_BUF}, {SIOCSIFDSTADDR, IOC_BUF}, {SIOCGIFBRDADDR, IOC_BUF},
    {SIOCSIFBRDADDR, IOC_BUF}, {SIOCGIFNETMASK, IOC_BUF}, {SIOCSIFNETMASK, IOC_BUF},
    {SIOCGIFMETRIC, IOC_BUF},  {SIOCSIFMETRIC, IOC_BUF},  {SIOCGIFMTU, IOC_BUF},
    {SIOCSIFMTU, IOC_BUF},     {SIOCSIFNAME, IOC_BUF},    {SIOCGIFHWADDR, IOC_BUF},
    {SIOCSIFHWADDR, IOC_BUF},  {SIOCSIFHWBROADCAST, IOC_BUF},
    {SIOCADDMULTI, IOC_BUF},   {SIOCDELMULTI, IOC_BUF},   {SIOCGIFPFLAGS, IOC_BUF},
    {SIOCSIFPFLAGS, IOC_BUF},  {SIOCGIFTXQLEN, IOC_BUF},  {SIOCSIFTXQLEN, IOC_BUF},
    {SIOCGIFMAP, IOC_BUF},     {SIOCSIFMAP, IOC_BUF},     {SIOCGMIIPHY, IOC_BUF},
    {SIOCGMIIREG, IOC_BUF},    {SIOCSMIIREG, IOC_BUF},    {SIOCDARP, IOC_BUF},
    {SIOCGARP, IOC_BUF},       {SIOCSARP, IOC_BUF},       {SIOCBRADDIF, IOC_BUF},
    {SIOCBRDELIF, IOC_BUF},    {TUNSETIFF, IOC_BUF},      {TUNGETIFF, IOC_BUF},
    {TUNGETFEATURES, IOC_BUF}, {TUNSETTXFILTER, IOC_BUF}, {TUNGETSNDBUF, IOC_BUF},
    {TUNSETSNDBUF, IOC_BUF},   {TUNGETVNETHDRSZ, IOC_BUF},
    {TUNSETVNETHDRSZ, IOC_BUF}, {TUNSETQUEUE, IOC_BUF},   {TUNSETIFINDEX, IOC_BUF},
    {TUNSETVNETLE, IOC_BUF},   {TUNGETVNETLE, IOC_BUF},
#ifdef TUNSETCARRIER
    {TUNSETCARRIER, IOC_BUF},
#endif
    /* the argument is the value itself */
    {TUNSETNOCSUM, IOC_VAL},   {TUNSETDEBUG, IOC_VAL},    {TUNSETPERSIST, IOC_VAL},
    {TUNSETOWNER, IOC_VAL},    {TUNSETGROUP, IOC_VAL},    {TUNSETLINK, IOC_VAL},
    {TUNSETOFFLOAD, IOC_VAL},  {TUNDETACHFILTER, IOC_VAL},
    /* procket makes the buffer the structure points to */
    {SIOCGIFCONF, IOC_IFCONF},
#endif
};

static int ioctl_kind(unsigned long req)
{
    for (size_t i = 0; i < sizeof(ioc_rules) / sizeof(ioc_rules[0]); i++)
        if (ioc_rules[i].req == req)
            return ioc_rules[i].kind;
    return 0;
}

/* SIOCGIFCONF with a buffer of len bytes (1..PK_IOCTL_MAX) procket makes:
 * Result is the array of ifreq the kernel filled in. */
static ERL_NIF_TERM ioctl_ifconf(ErlNifEnv *env, struct pk_op *op, int len)
{
    struct ifconf ifc;
    ERL_NIF_TERM result;
    unsigned char *buf = enif_alloc((size_t)len), *p;
    int rc, err;

    if (buf == NULL) {
        op_end(env, op);
        return error_tuple(env, ENOMEM);
    }
    memset(buf, 0, (size_t)len);
    memset(&ifc, 0, sizeof(ifc));
    ifc.ifc_len = len;
    ifc.ifc_buf = (char *)buf;
    rc = ioctl(op->fd, SIOCGIFCONF, &ifc);
    err = errno;
    op_end(env, op);
    if (rc < 0) {
        enif_free(buf);
        return error_tuple(env, err);
    }
    if (ifc.ifc_len < 0 || ifc.ifc_len > len)
        ifc.ifc_len = 0;
    p = enif_make_new_binary(env, (size_t)ifc.ifc_len, &result);
    if (ifc.ifc_len > 0)
        memcpy(p, buf, (size_t)ifc.ifc_len);
    enif_free(buf);
    return enif_make_tuple3(env, a_ok, enif_make_int(env, rc), result);
}

/* sock_ioctl(FD, Request, Arg, OutSize) -> {ok, Ret, Result} | {error, _}
 *
 * Runs on a dirty I/O scheduler. Request is one of ioc_rules (any other
 * is {error, eopnotsupp}; above 32 bits, badarg). For a request that
 * takes a structure, Arg (a binary, or an integer as a native int) is
 * copied into a zeroed buffer of max(size(Arg), OutSize,
 * _IOC_SIZE(Request)) + PK_IOCTL_GUARD bytes, so a request that writes
 * more than the caller passed writes into procket's buffer, not past it;
 * Result is the first OutSize bytes of the buffer afterwards. For a
 * request that takes a value, Arg is an integer (or a binary holding a
 * native int) passed as the value; OutSize must be 0. SIOCGIFCONF takes
 * the buffer's length (an integer, or a struct ifconf binary whose
 * ifc_len it reads; 0: PK_IOCTL_MAX) and returns the ifreq array. Ret is
 * ioctl(2)'s return value. */
ERL_NIF_TERM procket_sock_ioctl(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    unsigned long req, outsize;
    ErlNifBinary arg;
    struct pk_op op;
    unsigned char *buf = NULL;
    ERL_NIF_TERM result;
    size_t buflen = 0;
    int intarg = 0, is_int, rc, err, kind;

    if (!enif_get_ulong(env, argv[1], &req) || req > 0xffffffffUL ||
        !get_size(env, argv[3], PK_IOCTL_MAX, &outsize))
        return enif_make_badarg(env);
    is_int = enif_get_int(env, argv[2], &intarg);
    if (!is_int && !get_bin(env, argv[2], PK_IOCTL_MAX, &arg))
        return enif_make_badarg(env);
    kind = ioctl_kind(req);
    if (kind == IOC_VAL) {
        if (outsize != 0)
            return enif_make_badarg(env);
        if (!is_int) {
            if (arg.size != sizeof(int))
                return enif_make_badarg(env);
            memcpy(&intarg, arg.data, sizeof(int));
        }
    } else if (kind == IOC_IFCONF) {
        if (!is_int) {
            if (arg.size < sizeof(int))
                return enif_make_badarg(env);
            memcpy(&intarg, arg.data, sizeof(int));
        }
        if (intarg < 0 || intarg > PK_IOCTL_MAX)
            return enif_make_badarg(env);
        if (intarg == 0)
            intarg = PK_IOCTL_MAX;
    } else if (kind == IOC_BUF) {
        size_t iocsize = 0;
        if (is_int) { /* a native int, pointed to */
            arg.data = (unsigned char *)&intarg;
            arg.size = sizeof(intarg);
        }
#ifdef _IOC_SIZE
        iocsize = _IOC_SIZE(req);
#endif
        buflen = arg.size;
        if (outsize > buflen)
            buflen = outsize;
        if (iocsize > buflen)
            buflen = iocsize;
        buflen += PK_IOCTL_GUARD;
    }
    OP_BEGIN(env, argv[0], &op, 0, procket_sock_ioctl, "sock_ioctl", argc, argv);
    if (kind == 0) {
        op_end(env, &op);
        return error_tuple(env, EOPNOTSUPP);
    }
    if (kind == IOC_IFCONF)
        return ioctl_ifconf(env, &op, intarg);
    if (kind == IOC_VAL) {
        rc = ioctl(op.fd, req, (unsigned long)(long)intarg);
        err = errno;
        op_end(env, &op);
        if (rc < 0)
            return error_tuple(env, err);
        (void)enif_make_new_binary(env, 0, &result);
        return enif_make_tuple3(env, a_ok, enif_make_int(env, rc), result);
    }
    if ((buf = enif_alloc(buflen)) == NULL) {
        op_end(env, &op);
        return error_tuple(env, ENOMEM);
    }
    memset(buf, 0, buflen);
    if (arg.size > 0)
        memcpy(buf, arg.data, arg.size);
    rc = ioctl(op.fd, req, buf);
    err = errno;
    op_end(env, &op);
    if (rc < 0) {
        enif_free(buf);
        return error_tuple(env, err);
    }
    {
        unsigned char *p = enif_make_new_binary(env, outsize, &result);
        if (outsize > 0)
            memcpy(p, buf, outsize);
    }
    enif_free(buf);
    return enif_make_tuple3(env, a_ok, enif_make_int(env, rc), result);
}

/* ---- socket options ----------------------------------------------------- */

/* Options whose value holds an address the kernel reads or writes later
 * or at once (socket filters: a pointer to the program; TCP zero-copy
 * receive: where to copy; an XDP umem: memory to pin; the iptables,
 * arptables and ebtables replacements: counters and entries), or that
 * return a new descriptor procket could not account for (SCTP peel-off):
 * refused (EOPNOTSUPP), as procket cannot vouch for the addresses in the
 * caller's bytes. Every other option is passed on; its value is a copy in
 * procket's memory. */
static int sockopt_refused(int level, int name, int get)
{
    switch (level) {
    case SOL_SOCKET:
        return !get && (name == 26 /* SO_ATTACH_FILTER */ ||
                        name == 51 /* SO_ATTACH_REUSEPORT_CBPF */);
    case IPPROTO_TCP:
        return name == 35; /* TCP_ZEROCOPY_RECEIVE */
    case 263: /* SOL_PACKET */
        return !get && name == 22; /* PACKET_FANOUT_DATA */
    case SOL_XDP:
        return !get && name == 4; /* XDP_UMEM_REG */
    case IPPROTO_IP:
        /* {IPT,ARPT}_SO_SET_REPLACE, _ADD_COUNTERS; EBT_SO_SET_*,
         * EBT_SO_GET_* (128-131) */
        return get ? name >= 128 && name <= 131
                   : name == 64 || name == 65 || name == 96 || name == 97 ||
                         name == 128 || name == 129;
    case IPPROTO_IPV6:
        return !get && (name == 64 || name == 65); /* IP6T_SO_SET_* */
    case SOL_SCTP:
        /* SCTP_SOCKOPT_PEELOFF, _PEELOFF_FLAGS: a descriptor;
         * SCTP_SOCKOPT_CONNECTX3: an address the kernel reads */
        return get && (name == 102 || name == 122 || name == 111);
    default:
        return 0;
    }
}

/* sock_setsockopt(FD, Level, Optname, Optval) -> ok | {error, Posix} */
ERL_NIF_TERM procket_sock_setsockopt(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    ErlNifBinary val;
    struct pk_op op;
    int level, name, rc, err;

    if (!enif_get_int(env, argv[1], &level) || !enif_get_int(env, argv[2], &name) ||
        !get_bin(env, argv[3], PK_OPT_MAX, &val))
        return enif_make_badarg(env);
    OP_BEGIN(env, argv[0], &op, 0, procket_sock_setsockopt, "sock_setsockopt",
             argc, argv);
    if (sockopt_refused(level, name, 0)) {
        op_end(env, &op);
        return error_tuple(env, EOPNOTSUPP);
    }
    rc = setsockopt(op.fd, level, name, val.data, (socklen_t)val.size);
    err = errno;
    op_end(env, &op);
    return rc < 0 ? error_tuple(env, err) : a_ok;
}

/* sock_attach_filter(FD, Program) -> ok | {error, Posix}: a classic BPF
 * socket filter (SO_ATTACH_FILTER). Program is the instructions, 8 bytes
 * each (struct sock_filter in native byte order: code, jt, jf, k), 1 to
 * 4096 of them (BPF_MAXINSNS); procket makes the struct sock_fprog that
 * points to them, so no address comes from the caller. The kernel checks
 * the program (einval) and refuses a locked filter (eperm). */
ERL_NIF_TERM procket_sock_attach_filter(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    ErlNifBinary insns;
    struct pk_op op;
    int rc, err;

    if (!enif_inspect_binary(env, argv[1], &insns) || insns.size == 0 ||
        insns.size % 8 != 0 || insns.size / 8 > 4096)
        return enif_make_badarg(env);
    OP_BEGIN(env, argv[0], &op, 0, procket_sock_attach_filter, "sock_attach_filter",
             argc, argv);
#ifdef SO_ATTACH_FILTER
    {
        struct sock_fprog prog;
        prog.len = (unsigned short)(insns.size / 8);
        /* read (copied) by the kernel during the call only */
        prog.filter = (struct sock_filter *)insns.data;
        rc = setsockopt(op.fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog));
        err = errno;
    }
#else
    rc = -1;
    err = EOPNOTSUPP;
#endif
    op_end(env, &op);
    return rc < 0 ? error_tuple(env, err) : a_ok;
}

/* sock_getsockopt(FD, Level, Optname, Optval) -> {ok, Buf} | {error, _};
 * Optval is the initial buffer (its size is the option length). */
ERL_NIF_TERM procket_sock_getsockopt(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    ErlNifBinary val, buf;
    struct pk_op op;
    socklen_t len;
    int level, name, rc, err;

    if (!enif_get_int(env, argv[1], &level) || !enif_get_int(env, argv[2], &name) ||
        !get_bin(env, argv[3], PK_OPT_MAX, &val))
        return enif_make_badarg(env);
    OP_BEGIN(env, argv[0], &op, 0, procket_sock_getsockopt, "sock_getsockopt",
             argc, argv);
    if (sockopt_refused(level, name, 1)) {
        op_end(env, &op);
        return error_tuple(env, EOPNOTSUPP);
    }
    /* the kernel installs the pidfd whatever the room for its number:
     * without room for it, procket could not account for it */
    if (level == SOL_SOCKET && name == SO_PEERPIDFD && val.size < sizeof(int)) {
        op_end(env, &op);
        return error_tuple(env, EINVAL);
    }
    if (!enif_alloc_binary(val.size, &buf)) {
        op_end(env, &op);
        return error_tuple(env, ENOMEM);
    }
    if (val.size > 0)
        memcpy(buf.data, val.data, val.size);
    len = (socklen_t)val.size;
    rc = getsockopt(op.fd, level, name, buf.size ? buf.data : NULL, &len);
    err = errno;
    op_end(env, &op);
    if (rc < 0) {
        enif_release_binary(&buf);
        return error_tuple(env, err);
    }
    /* a pidfd of the peer: procket's to close (close/1), like any
     * descriptor a call hands out */
    if (level == SOL_SOCKET && name == SO_PEERPIDFD && len == sizeof(int)) {
        int pfd;
        memcpy(&pfd, buf.data, sizeof(pfd));
        (void)procket_sock_issue(pfd);
    }
    if (len < val.size && !enif_realloc_binary(&buf, len)) {
        enif_release_binary(&buf);
        return error_tuple(env, ENOMEM);
    }
    return ok_tuple(env, enif_make_binary(env, &buf));
}

/* getsockname(2) or getpeername(2) into Salen bytes */
static ERL_NIF_TERM sock_name(ErlNifEnv *env, const ERL_NIF_TERM argv[], int peer)
{
    pk_sockaddr sa;
    unsigned long salen;
    socklen_t len;
    struct pk_op op;
    int rc, err;

    if (!get_size(env, argv[1], PK_SOCKADDR_MAX, &salen))
        return enif_make_badarg(env);
    switch (op_begin(env, argv[0], &op, 0)) {
    case OP_OK:
        break;
    case OP_CLOSED:
        return error_tuple(env, EBADF);
    case OP_BUSY:
        return error_tuple(env, EBUSY);
    default:
        return enif_make_badarg(env);
    }
    len = (socklen_t)salen;
    rc = peer ? getpeername(op.fd, &sa.sa, &len) : getsockname(op.fd, &sa.sa, &len);
    err = errno;
    op_end(env, &op);
    if (rc < 0)
        return error_tuple(env, err);
    return ok_tuple(env, make_sockaddr(env, &sa, salen, len));
}

/* sock_getsockname(FD, Salen) -> {ok, Sockaddr} | {error, Posix} */
ERL_NIF_TERM procket_sock_getsockname(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    return sock_name(env, argv, 0);
}

/* sock_getpeername(FD, Salen) -> {ok, Sockaddr} | {error, Posix} */
ERL_NIF_TERM procket_sock_getpeername(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    return sock_name(env, argv, 1);
}

/* ---- names and numbers -------------------------------------------------- */

/* sock_errno_id(Errno) -> atom() */
ERL_NIF_TERM procket_sock_errno_id(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    int err;

    (void)argc;
    if (!enif_get_int(env, argv[0], &err))
        return enif_make_badarg(env);
    return enif_make_atom(env, erl_errno_id(err));
}

static const struct {
    const char *name;
    const struct pk_const *table;
} pk_tables[] = {
    {"family", pk_family},     {"type", pk_type},         {"proto", pk_proto},
    {"level", pk_level},       {"protocol", pk_protocol}, {"optname", pk_optname},
    {"msg", pk_msg},           {"ioctl", pk_ioctl},
};

/* sock_constants(Table) -> [{Name, Value | undefined}]: a name table, with
 * undefined for the names this system's headers lack. */
ERL_NIF_TERM procket_sock_constants(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    char name[16];
    const struct pk_const *c = NULL;
    ERL_NIF_TERM list;
    size_t i, n = 0;

    (void)argc;
    if (enif_get_atom(env, argv[0], name, sizeof(name), ERL_NIF_LATIN1) <= 0)
        return enif_make_badarg(env);
    for (i = 0; i < sizeof(pk_tables) / sizeof(pk_tables[0]); i++)
        if (strcmp(name, pk_tables[i].name) == 0)
            c = pk_tables[i].table;
    if (c == NULL)
        return enif_make_badarg(env);
    while (c[n].name != NULL)
        n++;
    list = enif_make_list(env, 0);
    while (n-- > 0) {
        ERL_NIF_TERM v = c[n].have ? enif_make_int64(env, c[n].value) : a_undefined;
        list = enif_make_list_cell(
            env, enif_make_tuple2(env, enif_make_atom(env, c[n].name), v), list);
    }
    return list;
}

/* sock_info() -> #{...}: sizes of this platform and procket's bounds. */
ERL_NIF_TERM procket_sock_info(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    static const struct {
        const char *key;
        long long value;
    } items[] = {
        {"unix_path_max", sizeof(((struct sockaddr_un *)0)->sun_path)},
        {"sockaddr_storage", sizeof(struct sockaddr_storage)},
        {"sa_family_offset", offsetof(struct sockaddr, sa_family)},
        {"sa_family_size", sizeof(sa_family_t)},
#if defined(__APPLE__) || defined(__FreeBSD__) || defined(__NetBSD__) || \
    defined(__OpenBSD__) || defined(__DragonFly__)
        {"sa_len", 1},
#else
        {"sa_len", 0},
#endif
        {"io_max", PK_IO_MAX},
        {"sockaddr_max", PK_SOCKADDR_MAX},
        {"ctrl_max", PK_CTRL_MAX},
        {"opt_max", PK_OPT_MAX},
        {"ioctl_max", PK_IOCTL_MAX},
        {"iov_max", IOV_MAX},
    };
    size_t n = sizeof(items) / sizeof(items[0]), i;
    ERL_NIF_TERM keys[sizeof(items) / sizeof(items[0])];
    ERL_NIF_TERM vals[sizeof(items) / sizeof(items[0])];
    ERL_NIF_TERM map;

    (void)argc;
    (void)argv;
    for (i = 0; i < n; i++) {
        keys[i] = enif_make_atom(env, items[i].key);
        vals[i] = enif_make_int64(env, items[i].value);
    }
    if (!enif_make_map_from_arrays(env, keys, vals, n, &map))
        return enif_make_badarg(env);
    return map;
}

/* ---- handle functions ------------------------------------------------- */

static int get_sock(ErlNifEnv *env, ERL_NIF_TERM t, struct pk_sock **s)
{
    void *obj;

    if (!enif_get_resource(env, t, pk_rt, &obj))
        return 0;
    *s = obj;
    return 1;
}

/* sock_handle(FD) -> {ok, Handle} | {error, Posix}: the caller's process
 * becomes the owner of FD (non-blocking and close-on-exec from now on). */
ERL_NIF_TERM procket_sock_handle(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    struct pk_sock *s;
    struct stat st;
    ERL_NIF_TERM term;
    int fd, fl, fdfl, rc;

    (void)argc;
    if (!enif_get_int(env, argv[0], &fd) || fd < 0)
        return enif_make_badarg(env);
    if ((fl = fcntl(fd, F_GETFL)) < 0 || (fdfl = fcntl(fd, F_GETFD)) < 0 ||
        fstat(fd, &st) < 0)
        return error_tuple(env, errno);
    if ((rc = reg_add(fd)) != 0)
        return error_tuple(env, rc);
    if (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        rc = errno;
        reg_undo(fd);
        return error_tuple(env, rc);
    }
    if (!(fdfl & FD_CLOEXEC))
        (void)fcntl(fd, F_SETFD, fdfl | FD_CLOEXEC);

    s = enif_alloc_resource(pk_rt, sizeof(*s));
    if (s == NULL) {
        reg_undo(fd);
        return error_tuple(env, ENOMEM);
    }
    memset(s, 0, sizeof(*s));
    s->fd = -1; /* not owned until fully set up: the dtor leaves it alone */
    s->state = PK_CLOSED;
    s->mtx = enif_mutex_create("procket_sock");
    if (s->mtx == NULL) {
        enif_release_resource(s);
        reg_undo(fd);
        return error_tuple(env, ENOMEM);
    }
    if (enif_self(env, &s->owner) == NULL ||
        enif_monitor_process(env, s, &s->owner, &s->mon) != 0) {
        enif_release_resource(s);
        reg_undo(fd);
        return error_tuple(env, ESRCH);
    }
    s->monitored = 1;
    s->kind = st.st_mode & S_IFMT;
    sock_kind(fd, &st, &s->domain, &s->type);
    s->fd = fd;
    s->state = PK_OPEN;
    term = enif_make_resource(env, s);
    enif_release_resource(s);
    return ok_tuple(env, term);
}

/* sock_fd(Handle) -> {ok, FD} | {error, ebadf} */
ERL_NIF_TERM procket_sock_fd(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    struct pk_sock *s;
    int fd;

    (void)argc;
    if (!get_sock(env, argv[0], &s))
        return enif_make_badarg(env);
    enif_mutex_lock(s->mtx);
    fd = s->state == PK_OPEN ? s->fd : -1;
    enif_mutex_unlock(s->mtx);
    if (fd < 0)
        return error_tuple(env, EBADF);
    return ok_tuple(env, enif_make_int(env, fd));
}

/* sock_close(Handle) -> ok | finalize | wait | {error, ebadf}
 *   ok: closed; finalize: call sock_finalize (a lingering socket);
 *   wait: receive {'$procket_close', Handle}, then call sock_finalize. */
ERL_NIF_TERM procket_sock_close(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    struct pk_sock *s;
    ErlNifPid self;
    int need_stop, fd;

    (void)argc;
    if (!get_sock(env, argv[0], &s) || enif_self(env, &self) == NULL)
        return enif_make_badarg(env);
    enif_mutex_lock(s->mtx);
    if (s->state != PK_OPEN) {
        enif_mutex_unlock(s->mtx);
        return error_tuple(env, EBADF);
    }
    s->state = PK_CLOSING;
    if (s->monitored)
        (void)enif_demonitor_process(env, s, &s->mon);
    s->monitored = enif_monitor_process(env, s, &self, &s->mon) == 0;
    s->closer = self;
    s->closer_set = 1;
    wake_selectors(env, s, &self);
    need_stop = s->selected && !s->stopped;
    fd = s->fd;
    enif_mutex_unlock(s->mtx);
    if (need_stop)
        (void)enif_select(env, (ErlNifEvent)fd, ERL_NIF_SELECT_STOP, s, NULL,
                          a_undefined);
    switch (maybe_finish(env, s, CTX_CLOSER)) {
    case MF_CLOSED:
        return a_ok;
    case MF_FINALIZE:
        return a_finalize;
    default:
        return a_wait;
    }
}

/* sock_finalize(Handle) -> ok | closing | {error, ebadf}: the closer's
 * close(2); closing: a lingering one, on a thread, which sends
 * {'$procket_closed', Handle} once close(2) returned. */
ERL_NIF_TERM procket_sock_finalize(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    struct pk_sock *s;
    int fd = -1;

    (void)argc;
    if (!get_sock(env, argv[0], &s))
        return enif_make_badarg(env);
    enif_mutex_lock(s->mtx);
    if (s->state == PK_CLOSING && s->fd >= 0 && s->ready && s->closer_set &&
        s->busy == 0) {
        fd = s->fd;
        s->fd = -1;
        s->state = PK_CLOSED;
        s->closer_set = 0;
        if (s->monitored) {
            (void)enif_demonitor_process(env, s, &s->mon);
            s->monitored = 0;
        }
    }
    enif_mutex_unlock(s->mtx);
    if (fd < 0)
        return error_tuple(env, EBADF);
    /* A lingering close(2) on a thread, which tells the caller when it
     * returned: close_handle/1 waits for that in receive, holding no
     * scheduler (a negative l_linger never ends). */
    if (close_may_wait(fd)) {
        ErlNifPid self;
        if (enif_self(env, &self) != NULL &&
            close_on_thread(fd, env, &self,
                            enif_make_tuple2(env, a_closed_msg, argv[0])) == 0)
            return a_closing;
    }
    close_owned(fd);
    return a_ok;
}

/* sock_select(Handle, read | write, Ref) -> ok | {error, Posix}: one
 * {select, Handle, Ref, ready_input | ready_output} message to the caller
 * when the descriptor is ready. */
ERL_NIF_TERM procket_sock_select(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    struct pk_sock *s;
    enum ErlNifSelectFlags mode;
    int rc, m;

    (void)argc;
    if (!get_sock(env, argv[0], &s) || !enif_is_ref(env, argv[2]))
        return enif_make_badarg(env);
    if (enif_is_identical(argv[1], a_read))
        mode = ERL_NIF_SELECT_READ, m = 0;
    else if (enif_is_identical(argv[1], a_write))
        mode = ERL_NIF_SELECT_WRITE, m = 1;
    else
        return enif_make_badarg(env);
    enif_mutex_lock(s->mtx);
    if (s->state != PK_OPEN) {
        enif_mutex_unlock(s->mtx);
        return error_tuple(env, EBADF);
    }
    if (s->sel_env[m] == NULL && (s->sel_env[m] = enif_alloc_env()) == NULL) {
        enif_mutex_unlock(s->mtx);
        return error_tuple(env, ENOMEM);
    }
    rc = enif_select(env, (ErlNifEvent)s->fd, mode, s, NULL, argv[2]);
    if (rc >= 0 || (rc & ERL_NIF_SELECT_FAILED))
        s->selected = 1;
    if (rc >= 0) {
        enif_clear_env(s->sel_env[m]);
        s->sel_ref[m] = enif_make_copy(s->sel_env[m], argv[2]);
        (void)enif_self(env, &s->sel_pid[m]);
        s->sel_active[m] = 1;
    }
    enif_mutex_unlock(s->mtx);
    if (rc < 0)
        return error_tuple(env, (rc & ERL_NIF_SELECT_INVALID_EVENT) ? EBADF : EIO);
    return a_ok;
}

/* sock_cancel(Handle, read | write) -> ok | {error, ebadf}: no message
 * will come for the select, except one already sent. */
ERL_NIF_TERM procket_sock_cancel(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    struct pk_sock *s;
    enum ErlNifSelectFlags mode;
    int m;

    (void)argc;
    if (!get_sock(env, argv[0], &s))
        return enif_make_badarg(env);
    if (enif_is_identical(argv[1], a_read))
        mode = ERL_NIF_SELECT_READ, m = 0;
    else if (enif_is_identical(argv[1], a_write))
        mode = ERL_NIF_SELECT_WRITE, m = 1;
    else
        return enif_make_badarg(env);
    enif_mutex_lock(s->mtx);
    if (s->state != PK_OPEN) {
        enif_mutex_unlock(s->mtx);
        return error_tuple(env, EBADF);
    }
    if (s->selected)
        (void)enif_select(env, (ErlNifEvent)s->fd, ERL_NIF_SELECT_CANCEL | mode, s,
                          NULL, a_undefined);
    s->sel_active[m] = 0;
    enif_mutex_unlock(s->mtx);
    return a_ok;
}

/* sock_controlling_process(Handle, Pid) -> ok | {error, not_owner | ebadf |
 * esrch}: only the owner may give the handle away. */
ERL_NIF_TERM procket_sock_controlling_process(ErlNifEnv *env, int argc,
                                              const ERL_NIF_TERM argv[])
{
    struct pk_sock *s;
    ErlNifPid self, pid;
    ErlNifMonitor mon;
    ERL_NIF_TERM res = a_ok;

    (void)argc;
    if (!get_sock(env, argv[0], &s) || !enif_get_local_pid(env, argv[1], &pid) ||
        enif_self(env, &self) == NULL)
        return enif_make_badarg(env);
    enif_mutex_lock(s->mtx);
    if (s->state != PK_OPEN)
        res = error_tuple(env, EBADF);
    else if (enif_compare_pids(&self, &s->owner) != 0)
        res = enif_make_tuple2(env, a_error, a_not_owner);
    else if (enif_monitor_process(env, s, &pid, &mon) != 0)
        res = error_tuple(env, ESRCH);
    else {
        if (s->monitored)
            (void)enif_demonitor_process(env, s, &s->mon);
        s->mon = mon;
        s->monitored = 1;
        s->owner = pid;
    }
    enif_mutex_unlock(s->mtx);
    return res;
}

/* sock_handle_info(Handle) -> #{fd, state, owner, selected} */
ERL_NIF_TERM procket_sock_handle_info(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    struct pk_sock *s;
    ERL_NIF_TERM keys[4], vals[4], map;

    (void)argc;
    if (!get_sock(env, argv[0], &s))
        return enif_make_badarg(env);
    keys[0] = a_fd;
    keys[1] = a_state;
    keys[2] = a_owner;
    keys[3] = a_selected;
    enif_mutex_lock(s->mtx);
    vals[0] = enif_make_int(env, s->fd);
    vals[1] = s->state == PK_OPEN ? a_open : s->state == PK_CLOSING ? a_closing : a_closed;
    vals[2] = s->state == PK_OPEN ? enif_make_pid(env, &s->owner) : a_undefined;
    vals[3] = s->selected ? a_true : a_false;
    enif_mutex_unlock(s->mtx);
    if (!enif_make_map_from_arrays(env, keys, vals, 4, &map))
        return enif_make_badarg(env);
    return map;
}

/* ---- load and unload ---------------------------------------------------- */

int procket_sock_load(ErlNifEnv *env)
{
    ErlNifResourceTypeInit init;

    memset(&init, 0, sizeof(init));
    init.dtor = pk_dtor;
    init.stop = pk_stop;
    init.down = pk_down;
    pk_rt = enif_open_resource_type_x(env, "procket_sock", &init,
                                      ERL_NIF_RT_CREATE | ERL_NIF_RT_TAKEOVER, NULL);
    if (pk_rt == NULL)
        return -1;
    if (reg_mtx == NULL && (reg_mtx = enif_mutex_create("procket_sock_reg")) == NULL)
        return -1;
    if (pk_loads == 0) {
        /* Workers may wait in close(2) for ever (a linger without end)
         * and then run code of this library: it must never be unmapped
         * under them, so it stays loaded (RTLD_NODELETE on the handle the
         * VM already has) and unload does not wait. */
        Dl_info info;
        if (dladdr((void *)procket_sock_load, &info) != 0 && info.dli_fname != NULL)
            (void)dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
    }
    pk_loads++;
    a_ok = enif_make_atom(env, "ok");
    a_error = enif_make_atom(env, "error");
    a_undefined = enif_make_atom(env, "undefined");
    a_true = enif_make_atom(env, "true");
    a_false = enif_make_atom(env, "false");
    a_wait = enif_make_atom(env, "wait");
    a_finalize = enif_make_atom(env, "finalize");
    a_close_msg = enif_make_atom(env, "$procket_close");
    a_closed_msg = enif_make_atom(env, "$procket_closed");
    a_wait_msg = enif_make_atom(env, "$procket_wait");
    a_retry = enif_make_atom(env, "$procket_retry");
    a_open = enif_make_atom(env, "open");
    a_closing = enif_make_atom(env, "closing");
    a_closed = enif_make_atom(env, "closed");
    a_fd = enif_make_atom(env, "fd");
    a_owner = enif_make_atom(env, "owner");
    a_state = enif_make_atom(env, "state");
    a_selected = enif_make_atom(env, "selected");
    a_not_owner = enif_make_atom(env, "not_owner");
    a_select = enif_make_atom(env, "select");
    a_ready_input = enif_make_atom(env, "ready_input");
    a_ready_output = enif_make_atom(env, "ready_output");
    a_read = enif_make_atom(env, "read");
    a_write = enif_make_atom(env, "write");
    /* the first worker, started now, and staying: later, when jobs come,
     * no thread may be left to start (RLIMIT_NPROC). Without one the
     * library does not load: a close that may wait would have nowhere to
     * go but a scheduler. */
    if (pool_start(&pool_close) < 0 || pool_start(&pool_call) < 0)
        return -1;
    return 0;
}

/* The last instance going away frees the registries, unless a worker
 * runs (it uses them, and its code stays mapped: see procket_sock_load):
 * then they are left as they are, for the workers and for a later load.
 * Never waits: a close(2) with a linger without end would hold the
 * caller (the code purge) for ever. */
void procket_sock_unload(void)
{
    unsigned running = pool_workers(&pool_close) + pool_workers(&pool_call);

    if (--pk_loads > 0 || running > 0)
        return;
    enif_free(reg_bits);
    reg_bits = NULL;
    reg_len = 0;
    enif_free(iss);
    iss = NULL;
    iss_len = 0;
    if (reg_mtx != NULL)
        enif_mutex_destroy(reg_mtx);
    reg_mtx = NULL;
}
