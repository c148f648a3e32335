/*
 * test_fdpass.c - procket_send_fd() and procket_recv_fd() against real
 * peers: another process, another thread, and hand-made control messages
 * the library must refuse without leaking a descriptor.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "testutil.h"
#include "procket.h"

#define ERRNO_MARK 12345


static int seqpair(int sv[2])
{
    return socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv);
}

static void close_pair(int sv[2])
{
    (void)close(sv[0]);
    (void)close(sv[1]);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* Sends data with the descriptors fds[0..nfds) attached, as one
 * SCM_RIGHTS message or (split) as one message per descriptor. */
static ssize_t send_raw(int sock, const void *data, size_t len, const int *fds,
                        size_t nfds, int split)
{
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int) * 16) + CMSG_SPACE(sizeof(int)) * 16];
    } cbuf;
    struct iovec iov = {(void *)data, len};
    struct msghdr msg;

    memset(&msg, 0, sizeof(msg));
    memset(&cbuf, 0, sizeof(cbuf));
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (nfds > 0) {
        struct cmsghdr *c;
        msg.msg_control = cbuf.buf;
        msg.msg_controllen = split ? CMSG_SPACE(sizeof(int)) * nfds
                                   : CMSG_SPACE(sizeof(int) * nfds);
        c = CMSG_FIRSTHDR(&msg);
        if (split) {
            for (size_t i = 0; i < nfds; i++) {
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(sizeof(int));
                memcpy(CMSG_DATA(c), &fds[i], sizeof(int));
                c = CMSG_NXTHDR(&msg, c);
            }
        } else {
            c->cmsg_level = SOL_SOCKET;
            c->cmsg_type = SCM_RIGHTS;
            c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
            memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
        }
    }
    return sendmsg(sock, &msg, MSG_NOSIGNAL);
}

static int same_file(int a, int b)
{
    struct stat sa, sb;
    return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 &&
           sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* ------------------------------------------------------------------ */

/* A child process opens a file and sends it; the parent gets the same
 * file, close-on-exec, with the data. */
TEST(one_fd_from_another_process)
{
    char path[] = "/tmp/procket-fdpass.XXXXXX";
    unsigned char buf[64];
    int sv[2], tmp, fd = -2, st = 0, before;
    ssize_t n;
    pid_t pid;

    tmp = mkstemp(path);
    CHECK(tmp >= 0);
    if (tmp < 0)
        return;
    CHECK_EQ(seqpair(sv), 0);
    before = count_fds();
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        int f = open(path, O_RDONLY | O_CLOEXEC);
        int rc = f < 0 ? -1 : procket_send_fd(sv[1], f, "hello", 5);
        (void)close(f);
        (void)close(tmp);
        close_pair(sv);
        _exit(rc == 0 ? 0 : 1);
    }
    errno = ERRNO_MARK;
    n = procket_recv_fd(sv[0], &fd, buf, sizeof(buf));
    CHECK_EQ(errno, ERRNO_MARK);
    CHECK_EQ(n, 5);
    CHECK(memcmp(buf, "hello", 5) == 0);
    CHECK(fd >= 0);
    CHECK(fd != tmp);
    CHECK(same_file(fd, tmp));
    CHECK_EQ(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    CHECK_EQ(count_fds(), before + 1);
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    if (fd >= 0)
        (void)close(fd);
    (void)close(tmp);
    (void)unlink(path);
    close_pair(sv);
}

struct late_sender {
    int sock;
    int fd;
    long delay_ms;
    pthread_t interrupt; /* thread to signal first, if signal is set */
    int signal;
    int rc;
};

static void *late_send(void *arg)
{
    struct late_sender *s = arg;

    if (s->signal != 0) {
        sleep_ms(s->delay_ms / 2);
        (void)pthread_kill(s->interrupt, s->signal);
    }
    sleep_ms(s->delay_ms);
    s->rc = procket_send_fd(s->sock, s->fd, "late", 4);
    return NULL;
}

static volatile sig_atomic_t got_signal;
static void on_signal(int sig)
{
    (void)sig;
    got_signal = 1;
}

/* The receiver blocks until a second thread sends; a signal arriving
 * meanwhile (no SA_RESTART) does not end the wait. */
TEST(blocking_receive_from_a_thread_with_eintr)
{
    struct sigaction sa, old;
    struct late_sender s;
    unsigned char buf[16];
    pthread_t t;
    int sv[2], fd = -2, devnull;
    ssize_t n;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal; /* sa_flags 0: no SA_RESTART */
    CHECK_EQ(sigaction(SIGUSR1, &sa, &old), 0);
    CHECK_EQ(seqpair(sv), 0);
    devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    got_signal = 0;
    s.sock = sv[1];
    s.fd = devnull;
    s.delay_ms = 100;
    s.interrupt = pthread_self();
    s.signal = SIGUSR1;
    s.rc = 1;
    CHECK_EQ(pthread_create(&t, NULL, late_send, &s), 0);
    errno = ERRNO_MARK;
    n = procket_recv_fd(sv[0], &fd, buf, sizeof(buf));
    CHECK_EQ(errno, ERRNO_MARK);
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK_EQ(got_signal, 1);
    CHECK_EQ(s.rc, 0);
    CHECK_EQ(n, 4);
    CHECK(fd >= 0 && same_file(fd, devnull));
    if (fd >= 0)
        (void)close(fd);
    (void)close(devnull);
    close_pair(sv);
    CHECK_EQ(sigaction(SIGUSR1, &old, NULL), 0);
}

TEST(data_without_fd)
{
    unsigned char buf[PROCKET_MSG_MAX];
    unsigned char big[PROCKET_MSG_MAX];
    int sv[2], fd = 42;

    CHECK_EQ(seqpair(sv), 0);
    errno = ERRNO_MARK;
    CHECK_EQ(procket_send_fd(sv[1], -1, "abc", 3), 0);
    CHECK_EQ(procket_recv_fd(sv[0], &fd, buf, sizeof(buf)), 3);
    CHECK_EQ(fd, -1);
    CHECK(memcmp(buf, "abc", 3) == 0);

    /* a message of exactly the buffer size is not truncated */
    memset(big, 0x77, sizeof(big));
    CHECK_EQ(procket_send_fd(sv[1], -1, big, sizeof(big)), 0);
    fd = 42;
    CHECK_EQ(procket_recv_fd(sv[0], &fd, buf, sizeof(buf)), sizeof(buf));
    CHECK_EQ(fd, -1);
    CHECK(memcmp(buf, big, sizeof(big)) == 0);
    CHECK_EQ(errno, ERRNO_MARK);
    close_pair(sv);
}

TEST(two_fds_in_one_message)
{
    unsigned char buf[16];
    int sv[2], fds[2], fd = 42, before;

    CHECK_EQ(seqpair(sv), 0);
    before = count_fds();
    fds[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
    fds[1] = open("/dev/zero", O_RDONLY | O_CLOEXEC);
    CHECK_EQ(send_raw(sv[1], "xy", 2, fds, 2, 0), 2);
    (void)close(fds[0]);
    (void)close(fds[1]);
    CHECK_EQ(count_fds(), before);
    errno = ERRNO_MARK;
    CHECK_EQ(procket_recv_fd(sv[0], &fd, buf, sizeof(buf)), -EPROTO);
    CHECK_EQ(errno, ERRNO_MARK);
    CHECK_EQ(fd, -1);
    CHECK_EQ(count_fds(), before); /* both received descriptors closed */
    close_pair(sv);
}

TEST(two_scm_rights_messages)
{
    unsigned char buf[16];
    int sv[2], fds[2], fd = 42, before;

    CHECK_EQ(seqpair(sv), 0);
    before = count_fds();
    fds[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
    fds[1] = open("/dev/zero", O_RDONLY | O_CLOEXEC);
    CHECK_EQ(send_raw(sv[1], "xy", 2, fds, 2, 1), 2);
    (void)close(fds[0]);
    (void)close(fds[1]);
    CHECK_EQ(procket_recv_fd(sv[0], &fd, buf, sizeof(buf)), -EPROTO);
    CHECK_EQ(fd, -1);
    CHECK_EQ(count_fds(), before);
    close_pair(sv);
}

/* More descriptors than the receive buffer has room for: MSG_CTRUNC. */
TEST(many_fds_control_truncated)
{
    unsigned char buf[16];
    int sv[2], fds[12], fd = 42, before;

    CHECK_EQ(seqpair(sv), 0);
    before = count_fds();
    for (size_t i = 0; i < 12; i++)
        fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
    CHECK_EQ(send_raw(sv[1], "many", 4, fds, 12, 0), 4);
    for (size_t i = 0; i < 12; i++)
        (void)close(fds[i]);
    CHECK_EQ(procket_recv_fd(sv[0], &fd, buf, sizeof(buf)), -EPROTO);
    CHECK_EQ(fd, -1);
    CHECK_EQ(count_fds(), before);
    close_pair(sv);
}

/* A message longer than the buffer: MSG_TRUNC, with or without fd. */
TEST(message_bigger_than_buffer)
{
    unsigned char buf[8];
    int sv[2], devnull, fd = 42, before;

    CHECK_EQ(seqpair(sv), 0);
    before = count_fds();
    devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    CHECK_EQ(procket_send_fd(sv[1], devnull, "123456789", 9), 0);
    (void)close(devnull);
    errno = ERRNO_MARK;
    CHECK_EQ(procket_recv_fd(sv[0], &fd, buf, sizeof(buf)), -EPROTO);
    CHECK_EQ(errno, ERRNO_MARK);
    CHECK_EQ(fd, -1);
    CHECK_EQ(count_fds(), before);

    CHECK_EQ(procket_send_fd(sv[1], -1, "123456789", 9), 0);
    fd = 42;
    CHECK_EQ(procket_recv_fd(sv[0], &fd, buf, sizeof(buf)), -EPROTO);
    CHECK_EQ(fd, -1);
    /* the next message is unaffected */
    CHECK_EQ(procket_send_fd(sv[1], -1, "1234", 4), 0);
    CHECK_EQ(procket_recv_fd(sv[0], &fd, buf, sizeof(buf)), 4);
    CHECK_EQ(fd, -1);
    close_pair(sv);
}

TEST(end_of_file)
{
    unsigned char buf[16];
    int sv[2], fd = 42;

    CHECK_EQ(seqpair(sv), 0);
    CHECK_EQ(procket_send_fd(sv[1], -1, "last", 4), 0);
    (void)close(sv[1]);
    errno = ERRNO_MARK;
    CHECK_EQ(procket_recv_fd(sv[0], &fd, buf, sizeof(buf)), 4);
    fd = 42;
    CHECK_EQ(procket_recv_fd(sv[0], &fd, buf, sizeof(buf)), 0);
    CHECK_EQ(fd, -1);
    fd = 42;
    CHECK_EQ(procket_recv_fd(sv[0], &fd, buf, sizeof(buf)), 0);
    CHECK_EQ(fd, -1);
    CHECK_EQ(errno, ERRNO_MARK);
    (void)close(sv[0]);
}

/* SOCK_SEQPACKET does carry a descriptor with zero data bytes. To the
 * receiver such a message reads as 0 bytes, which also means end of
 * file, and procket never sends one (procket_send_fd() refuses len 0):
 * the descriptor is closed and -EPROTO returned. A zero-byte message
 * without a descriptor is indistinguishable from end of file: 0. */
TEST(fd_with_zero_data_bytes)
{
    unsigned char buf[16];
    int sv[2], devnull, fd = 42, before;

    CHECK_EQ(seqpair(sv), 0);
    before = count_fds();
    devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    CHECK_EQ(procket_send_fd(sv[1], devnull, "", 0), -EINVAL);
    CHECK_EQ(send_raw(sv[1], "", 0, &devnull, 1, 0), 0); /* the kernel takes it */
    (void)close(devnull);
    CHECK_EQ(procket_recv_fd(sv[0], &fd, buf, sizeof(buf)), -EPROTO);
    CHECK_EQ(fd, -1);
    CHECK_EQ(count_fds(), before);

    CHECK_EQ(send_raw(sv[1], "", 0, NULL, 0, 0), 0);
    fd = 42;
    CHECK_EQ(procket_recv_fd(sv[0], &fd, buf, sizeof(buf)), 0);
    CHECK_EQ(fd, -1);
    /* the channel still works */
    CHECK_EQ(procket_send_fd(sv[1], -1, "ok", 2), 0);
    CHECK_EQ(procket_recv_fd(sv[0], &fd, buf, sizeof(buf)), 2);
    close_pair(sv);
}

/* With SO_PASSCRED the kernel attaches SCM_CREDENTIALS to every message:
 * control data other than one descriptor is refused, and a descriptor
 * that came along is closed. */
TEST(credentials_are_not_a_descriptor)
{
    unsigned char buf[16];
    int sv[2], one = 1, devnull, fd = 42, before;

    CHECK_EQ(seqpair(sv), 0);
    CHECK_EQ(setsockopt(sv[0], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)), 0);
    before = count_fds();
    CHECK_EQ(procket_send_fd(sv[1], -1, "cred", 4), 0);
    errno = ERRNO_MARK;
    CHECK_EQ(procket_recv_fd(sv[0], &fd, buf, sizeof(buf)), -EPROTO);
    CHECK_EQ(errno, ERRNO_MARK);
    CHECK_EQ(fd, -1);

    devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    CHECK_EQ(procket_send_fd(sv[1], devnull, "cred", 4), 0);
    (void)close(devnull);
    fd = 42;
    CHECK_EQ(procket_recv_fd(sv[0], &fd, buf, sizeof(buf)), -EPROTO);
    CHECK_EQ(fd, -1);
    CHECK_EQ(count_fds(), before);
    close_pair(sv);
}

TEST(bad_arguments)
{
    unsigned char buf[16];
    int sv[2], fd = 42;

    CHECK_EQ(seqpair(sv), 0);
    errno = ERRNO_MARK;
    CHECK_EQ(procket_send_fd(-1, -1, "x", 1), -EINVAL);
    CHECK_EQ(procket_send_fd(sv[1], -2, "x", 1), -EINVAL);
    CHECK_EQ(procket_send_fd(sv[1], -1, NULL, 1), -EINVAL);
    CHECK_EQ(procket_send_fd(sv[1], -1, "x", 0), -EINVAL);
    CHECK_EQ(procket_recv_fd(-1, &fd, buf, sizeof(buf)), -EINVAL);
    CHECK_EQ(procket_recv_fd(sv[0], NULL, buf, sizeof(buf)), -EINVAL);
    CHECK_EQ(procket_recv_fd(sv[0], &fd, NULL, sizeof(buf)), -EINVAL);
    CHECK_EQ(procket_recv_fd(sv[0], &fd, buf, 0), -EINVAL);
    CHECK_EQ(errno, ERRNO_MARK);
    /* nothing was sent by the refused calls */
    CHECK_EQ(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
    CHECK_EQ(procket_recv_fd(sv[0], &fd, buf, sizeof(buf)), -EAGAIN);
    close_pair(sv);
}

/* System call errors come back as -errno, errno itself untouched. */
TEST(system_errors)
{
    unsigned char buf[16];
    int sv[2], devnull, fd = 42;
    char path[] = "/tmp/procket-fdpass.XXXXXX";
    int file = mkstemp(path);

    CHECK(file >= 0);
    CHECK_EQ(seqpair(sv), 0);
    errno = ERRNO_MARK;
    /* not a socket */
    CHECK_EQ(procket_send_fd(file, -1, "x", 1), -ENOTSOCK);
    CHECK_EQ(procket_recv_fd(file, &fd, buf, sizeof(buf)), -ENOTSOCK);
    CHECK_EQ(fd, -1);
    /* not a descriptor at all */
    devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    (void)close(devnull); /* now a free number */
    CHECK_EQ(procket_send_fd(devnull, -1, "x", 1), -EBADF);
    CHECK_EQ(procket_send_fd(sv[1], devnull, "x", 1), -EBADF);
    /* nothing to read yet */
    CHECK_EQ(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
    CHECK_EQ(procket_recv_fd(sv[0], &fd, buf, sizeof(buf)), -EAGAIN);
    /* peer gone: EPIPE, and no SIGPIPE kills us */
    (void)close(sv[0]);
    CHECK_EQ(procket_send_fd(sv[1], -1, "x", 1), -EPIPE);
    CHECK_EQ(errno, ERRNO_MARK);
    (void)close(sv[1]);
    (void)close(file);
    (void)unlink(path);
}

/* A stream socket that takes only part of the data: -EMSGSIZE. */
TEST(partial_send_is_emsgsize)
{
    static unsigned char big[1 << 20];
    int sv[2], small = 4096;

    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
                        0, sv),
             0);
    (void)setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    errno = ERRNO_MARK;
    CHECK_EQ(procket_send_fd(sv[1], -1, big, sizeof(big)), -EMSGSIZE);
    CHECK_EQ(errno, ERRNO_MARK);
    close_pair(sv);
}

int main(void)
{
    int before = count_fds();

    RUN(one_fd_from_another_process);
    RUN(blocking_receive_from_a_thread_with_eintr);
    RUN(data_without_fd);
    RUN(two_fds_in_one_message);
    RUN(two_scm_rights_messages);
    RUN(many_fds_control_truncated);
    RUN(message_bigger_than_buffer);
    RUN(end_of_file);
    RUN(fd_with_zero_data_bytes);
    RUN(credentials_are_not_a_descriptor);
    RUN(bad_arguments);
    RUN(system_errors);
    RUN(partial_send_is_emsgsize);
    if (count_fds() != before) {
        fprintf(stderr, "test_fdpass: %d descriptors open, %d at start\n",
                count_fds(), before);
        check_failed++;
    }
    return check_summary("test_fdpass");
}
