/*
 * fuse_flush.c - a file whose close(2) waits: test support for
 * procket_vm_SUITE (run as root, in the suite's private mount namespace).
 *
 *   fuse_flush MOUNTPOINT NAME HANG_MS LIFE_S
 *
 * Mounts a FUSE file system with one file, "f", at MOUNTPOINT, opens the
 * file and sends the descriptor twice, in two datagrams ("x") with
 * SCM_RIGHTS, to the AF_UNIX datagram socket with the abstract NAME, then
 * closes its own. A FLUSH (sent by every close(2) of a descriptor of the
 * file) from any other process is answered after HANG_MS milliseconds:
 * the close waits that long. So is a LOOKUP of a name that begins with
 * "slow" (ENOENT): a path through MOUNTPOINT/slow... waits that long to
 * resolve. After LIFE_S seconds
 * the file system is detached and the program exits.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int fuse_fd;
static long hang_ms;
static pthread_mutex_t write_mtx = PTHREAD_MUTEX_INITIALIZER;

static void reply(uint64_t unique, int error, const void *body, size_t len)
{
    unsigned char buf[sizeof(struct fuse_out_header) + 256];
    struct fuse_out_header h;

    if (len > 256)
        len = 256;
    h.len = (uint32_t)(sizeof(h) + len);
    h.error = error;
    h.unique = unique;
    memcpy(buf, &h, sizeof(h));
    if (len > 0)
        memcpy(buf + sizeof(h), body, len);
    pthread_mutex_lock(&write_mtx);
    if (write(fuse_fd, buf, h.len) < 0 && errno != ENOENT)
        perror("fuse_flush: reply");
    pthread_mutex_unlock(&write_mtx);
}

static void fill_attr(struct fuse_attr *a, uint64_t ino)
{
    memset(a, 0, sizeof(*a));
    a->ino = ino;
    a->mode = ino == FUSE_ROOT_ID ? (S_IFDIR | 0755) : (S_IFREG | 0666);
    a->nlink = 1;
    a->blksize = 4096;
}

/* unique, and the error in the bits above 56 (FLUSH: 0, LOOKUP: ENOENT) */
static void *late_reply(void *arg)
{
    uint64_t v = (uint64_t)(uintptr_t)arg;
    struct timespec ts = {hang_ms / 1000, (hang_ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
    reply(v & ((1ULL << 56) - 1), -(int)(v >> 56), NULL, 0);
    return NULL;
}

static void reply_late(uint64_t unique, int err)
{
    pthread_t t;

    if (pthread_create(&t, NULL, late_reply,
                       (void *)(uintptr_t)(unique | ((uint64_t)err << 56))) != 0)
        reply(unique, -err, NULL, 0);
    else
        pthread_detach(t);
}

static void *serve(void *arg)
{
    static unsigned char buf[FUSE_MIN_READ_BUFFER + 65536];
    pid_t self = getpid();

    (void)arg;
    for (;;) {
        ssize_t n = read(fuse_fd, buf, sizeof(buf));
        struct fuse_in_header in;
        const unsigned char *body = buf + sizeof(in);

        if (n < 0) {
            if (errno == EINTR || errno == ENOENT)
                continue;
            return NULL; /* ENODEV: unmounted */
        }
        if ((size_t)n < sizeof(in))
            continue;
        memcpy(&in, buf, sizeof(in));
        switch (in.opcode) {
        case FUSE_INIT: {
            struct fuse_init_out out;
            memset(&out, 0, sizeof(out));
            out.major = FUSE_KERNEL_VERSION;
            out.minor = 31;
            out.max_write = 65536;
            out.max_background = 16;
            out.congestion_threshold = 12;
            out.time_gran = 1;
            reply(in.unique, 0, &out, sizeof(out));
            break;
        }
        case FUSE_GETATTR: {
            struct fuse_attr_out out;
            memset(&out, 0, sizeof(out));
            fill_attr(&out.attr, in.nodeid);
            reply(in.unique, 0, &out, sizeof(out));
            break;
        }
        case FUSE_LOOKUP:
            if (strncmp((const char *)body, "slow", 4) == 0) {
                fprintf(stderr, "fuse_flush: lookup of %s from pid %u, answered in %ld ms\n",
                        (const char *)body, in.pid, hang_ms);
                reply_late(in.unique, ENOENT);
            } else if (strcmp((const char *)body, "f") == 0) {
                struct fuse_entry_out out;
                memset(&out, 0, sizeof(out));
                out.nodeid = 2;
                fill_attr(&out.attr, 2);
                reply(in.unique, 0, &out, sizeof(out));
            } else {
                reply(in.unique, -ENOENT, NULL, 0);
            }
            break;
        case FUSE_OPEN: {
            struct fuse_open_out out;
            memset(&out, 0, sizeof(out));
            out.fh = 1;
            reply(in.unique, 0, &out, sizeof(out));
            break;
        }
        case FUSE_FLUSH:
            if ((pid_t)in.pid == self) {
                reply(in.unique, 0, NULL, 0);
            } else {
                fprintf(stderr, "fuse_flush: flush from pid %u, answered in %ld ms\n",
                        in.pid, hang_ms);
                reply_late(in.unique, 0);
            }
            break;
        case FUSE_RELEASE:
            reply(in.unique, 0, NULL, 0);
            break;
        case FUSE_FORGET:
        case FUSE_BATCH_FORGET:
            break;
        default:
            reply(in.unique, -ENOSYS, NULL, 0);
        }
    }
}

int main(int argc, char **argv)
{
    char opts[256], path[4096];
    struct sockaddr_un sa;
    socklen_t salen;
    pthread_t t;
    int fd, s, i;

    if (argc != 5) {
        fprintf(stderr, "usage: fuse_flush MOUNTPOINT NAME HANG_MS LIFE_S\n");
        return 2;
    }
    hang_ms = atol(argv[3]);
    if ((fuse_fd = open("/dev/fuse", O_RDWR | O_CLOEXEC)) < 0) {
        perror("fuse_flush: /dev/fuse");
        return 1;
    }
    snprintf(opts, sizeof(opts),
             "fd=%d,rootmode=40000,user_id=0,group_id=0,allow_other", fuse_fd);
    if (mount("procket_test", argv[1], "fuse.procket_test", MS_NOSUID | MS_NODEV, opts) < 0) {
        perror("fuse_flush: mount");
        return 1;
    }
    if (pthread_create(&t, NULL, serve, NULL) != 0)
        return 1;
    snprintf(path, sizeof(path), "%s/f", argv[1]);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        perror("fuse_flush: open");
        return 1;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    strncpy(sa.sun_path + 1, argv[2], sizeof(sa.sun_path) - 2);
    salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(sa.sun_path + 1));
    if ((s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
        return 1;
    for (i = 0; i < 2; i++) {
        union {
            struct cmsghdr align;
            unsigned char buf[CMSG_SPACE(sizeof(int))];
        } ctrl;
        struct iovec iov = {"x", 1};
        struct msghdr msg;
        struct cmsghdr *c;

        memset(&msg, 0, sizeof(msg));
        msg.msg_name = &sa;
        msg.msg_namelen = salen;
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = ctrl.buf;
        msg.msg_controllen = sizeof(ctrl.buf);
        c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof(int));
        if (sendmsg(s, &msg, 0) < 0) {
            perror("fuse_flush: sendmsg");
            return 1;
        }
    }
    close(s);
    close(fd);
    fprintf(stderr, "fuse_flush: sent\n");
    sleep((unsigned)atoi(argv[4]));
    umount2(argv[1], MNT_DETACH);
    return 0;
}
