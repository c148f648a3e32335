/*
 * fdpass.c - sending and receiving one descriptor over a Unix socket.
 *
 * The receiving side trusts nothing: it asks the kernel to mark every
 * received descriptor close-on-exec, walks every control message, closes
 * whatever it does not want and reports EPROTO unless exactly the
 * expected shape arrived.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "procket.h"

/* Room for a few descriptors, so a peer that sends more than one cannot
 * make us miss them (MSG_CTRUNC would leave them open in no one's hands:
 * the kernel closes truncated ones, but we still refuse the message). */
#define FD_ROOM 8

union cmsg_buf {
    struct cmsghdr align;
    char buf[CMSG_SPACE(sizeof(int) * FD_ROOM)];
};

int procket_send_fd(int sock, int fd, const void *data, size_t len)
{
    union cmsg_buf cbuf;
    struct iovec iov;
    struct msghdr msg;
    ssize_t n;
    int saved = errno;

    if (sock < 0 || fd < -1 || data == NULL || len == 0)
        return -EINVAL;

    memset(&msg, 0, sizeof(msg));
    iov.iov_base = (void *)data;
    iov.iov_len = len;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (fd >= 0) {
        struct cmsghdr *cmsg;
        memset(&cbuf, 0, sizeof(cbuf));
        msg.msg_control = cbuf.buf;
        msg.msg_controllen = CMSG_SPACE(sizeof(int));
        cmsg = CMSG_FIRSTHDR(&msg);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
    }

    do {
        n = sendmsg(sock, &msg, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        n = -errno;
        errno = saved;
        return (int)n;
    }
    if ((size_t)n != len)
        return -EMSGSIZE;
    return 0;
}

/* Closes every descriptor carried by SCM_RIGHTS messages in msg. */
static void close_all(struct msghdr *msg)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c != NULL;
         c = CMSG_NXTHDR(msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
            c->cmsg_len < CMSG_LEN(0))
            continue;
        size_t nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < nfd; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (fd >= 0)
                (void)close(fd);
        }
    }
}

ssize_t procket_recv_fd(int sock, int *fd, void *data, size_t len)
{
    union cmsg_buf cbuf;
    struct iovec iov;
    struct msghdr msg;
    struct cmsghdr *cmsg;
    ssize_t n;
    int got = -1;
    int saved = errno;

    if (fd == NULL || sock < 0 || data == NULL || len == 0)
        return -EINVAL;
    *fd = -1;

    memset(&msg, 0, sizeof(msg));
    memset(&cbuf, 0, sizeof(cbuf));
    iov.iov_base = data;
    iov.iov_len = len;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.buf;
    msg.msg_controllen = sizeof(cbuf.buf);

    do {
        n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        n = -errno;
        errno = saved;
        return n;
    }

    if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
        close_all(&msg);
        return -EPROTO;
    }

    for (cmsg = CMSG_FIRSTHDR(&msg); cmsg != NULL;
         cmsg = CMSG_NXTHDR(&msg, cmsg)) {
        if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS ||
            cmsg->cmsg_len != CMSG_LEN(sizeof(int)) || got >= 0) {
            close_all(&msg);
            return -EPROTO;
        }
        memcpy(&got, CMSG_DATA(cmsg), sizeof(int));
        if (got < 0) {
            close_all(&msg);
            return -EPROTO;
        }
    }

    if (n == 0 && got >= 0) {
        /* a descriptor with no data: not something procket sends */
        (void)close(got);
        return -EPROTO;
    }
    *fd = got;
    errno = saved;
    return n;
}
