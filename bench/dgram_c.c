/*
 * dgram_c.c - the C baseline of the datagram throughput bench (see
 * bench/README.md, "Datagrams per second"). The same pattern as
 * bench/dgram_bench.erl, in plain C:
 *
 *   - two non-blocking UDP sockets bound to 127.0.0.1 port 0: rx and tx;
 *   - a receiver thread: recv(rx) until EAGAIN, then poll(rx, POLLIN)
 *     and again; every ACK datagrams it sends the count received so far
 *     (a 64-bit big-endian integer) from rx to tx with sendto(2);
 *   - the sender (main thread), per round of N datagrams: sendto(tx) of
 *     SIZE-byte datagrams while fewer than WINDOW are unacknowledged,
 *     then reads one acknowledgement (recv(tx), on EAGAIN poll(tx,
 *     POLLIN)), and so on until the count N has been acknowledged. At
 *     most WINDOW datagrams are ever queued, so none is dropped (a drop
 *     would stop the round: after 5 s without an acknowledgement the
 *     program fails).
 *
 * The round's time is taken by the sender with CLOCK_MONOTONIC from the
 * first sendto to the last acknowledgement; the rate is N / time.
 *
 * Usage:
 *   dgram_c SIZE WINDOW ACK N ROUNDS   ROUNDS rounds of N datagrams;
 *                                      prints "N NS" per round
 *   dgram_c SIZE WINDOW ACK            serve: for each line "N" on
 *                                      standard input one round, printing
 *                                      "N NS" (how the Erlang driver
 *                                      interleaves C rounds with its own)
 * N must be a multiple of ACK, WINDOW at least ACK.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUF_SIZE 2048       /* receive buffer, as the Erlang variants use */
#define ACK_TIMEOUT_MS 5000 /* no acknowledgement for this long: a drop */

static int rx_fd, tx_fd;
static struct sockaddr_in rx_addr, tx_addr;
static unsigned long ack_every;

static void die(const char *what)
{
    fprintf(stderr, "dgram_c: %s: %s\n", what, strerror(errno));
    exit(1);
}

static int udp_socket(struct sockaddr_in *sa)
{
    socklen_t len = sizeof(*sa);
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0)
        die("socket");
    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)sa, sizeof(*sa)) < 0)
        die("bind");
    if (getsockname(fd, (struct sockaddr *)sa, &len) < 0)
        die("getsockname");
    return fd;
}

/* Waits until fd is ready for events; 0 on timeout. */
static int wait_fd(int fd, short events, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = events};
    int rc;

    do {
        rc = poll(&p, 1, timeout_ms);
    } while (rc < 0 && errno == EINTR);
    if (rc < 0)
        die("poll");
    return rc;
}

static void put64(unsigned char *b, uint64_t v)
{
    int i;

    for (i = 7; i >= 0; i--, v >>= 8)
        b[i] = (unsigned char)(v & 0xff);
}

static uint64_t get64(const unsigned char *b)
{
    uint64_t v = 0;
    int i;

    for (i = 0; i < 8; i++)
        v = (v << 8) | b[i];
    return v;
}

/* sendto, waiting while the socket buffer is full */
static void send_all(int fd, const void *buf, size_t len, const struct sockaddr_in *to)
{
    for (;;) {
        ssize_t n = sendto(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL,
                           (const struct sockaddr *)to, sizeof(*to));
        if (n >= 0)
            return;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            (void)wait_fd(fd, POLLOUT, -1);
        else if (errno != EINTR)
            die("sendto");
    }
}

static void *receiver(void *arg)
{
    unsigned char buf[BUF_SIZE], ack[8];
    uint64_t count = 0;

    (void)arg;
    for (;;) {
        ssize_t n = recv(rx_fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                (void)wait_fd(rx_fd, POLLIN, -1);
            else if (errno != EINTR)
                die("recv (receiver)");
            continue;
        }
        if (++count % ack_every == 0) {
            put64(ack, count);
            send_all(rx_fd, ack, sizeof(ack), &tx_addr);
        }
    }
    return NULL;
}

/* One acknowledgement: the receiver's count. */
static uint64_t read_ack(void)
{
    unsigned char buf[64];

    for (;;) {
        ssize_t n = recv(tx_fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n == 8)
            return get64(buf);
        if (n >= 0) {
            fprintf(stderr, "dgram_c: acknowledgement of %zd bytes\n", n);
            exit(1);
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (wait_fd(tx_fd, POLLIN, ACK_TIMEOUT_MS) == 0) {
                fprintf(stderr, "dgram_c: no acknowledgement for %d ms "
                                "(a datagram was dropped?)\n", ACK_TIMEOUT_MS);
                exit(1);
            }
        } else if (errno != EINTR) {
            die("recv (sender)");
        }
    }
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* One round of n datagrams; returns its time in nanoseconds. base is the
 * number acknowledged before (all sent so far: every round drains). */
static uint64_t round_ns(const unsigned char *payload, size_t size, unsigned long window,
                         uint64_t base, uint64_t n)
{
    uint64_t sent = base, acked = base, target = base + n, t0;

    t0 = now_ns();
    while (acked < target) {
        while (sent < target && sent - acked < window) {
            send_all(tx_fd, payload, size, &rx_addr);
            sent++;
        }
        {
            uint64_t v = read_ack();
            if (v > acked)
                acked = v;
        }
    }
    return now_ns() - t0;
}

static unsigned long arg_ul(const char *s, const char *what)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno != 0 || *s == '\0' || *end != '\0' || v == 0) {
        fprintf(stderr, "dgram_c: bad %s: %s\n", what, s);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    unsigned char payload[65507];
    unsigned long size, window, n = 0, rounds = 0;
    uint64_t base = 0;
    pthread_t th;
    char line[64];

    if (argc != 4 && argc != 6) {
        fprintf(stderr, "usage: dgram_c SIZE WINDOW ACK [N ROUNDS]\n");
        return 2;
    }
    size = arg_ul(argv[1], "SIZE");
    window = arg_ul(argv[2], "WINDOW");
    ack_every = arg_ul(argv[3], "ACK");
    if (size > sizeof(payload) || window < ack_every) {
        fprintf(stderr, "dgram_c: SIZE at most %zu, WINDOW at least ACK\n",
                sizeof(payload));
        return 2;
    }
    if (argc == 6) {
        n = arg_ul(argv[4], "N");
        rounds = arg_ul(argv[5], "ROUNDS");
        if (n % ack_every != 0) {
            fprintf(stderr, "dgram_c: N must be a multiple of ACK\n");
            return 2;
        }
    }
    memset(payload, 'x', size);
    rx_fd = udp_socket(&rx_addr);
    tx_fd = udp_socket(&tx_addr);
    errno = pthread_create(&th, NULL, receiver, NULL);
    if (errno != 0)
        die("pthread_create");
    setvbuf(stdout, NULL, _IOLBF, 0);

    if (rounds > 0) {
        for (unsigned long r = 0; r < rounds; r++) {
            uint64_t ns = round_ns(payload, size, window, base, n);
            base += n;
            printf("%lu %llu\n", n, (unsigned long long)ns);
        }
        return 0;
    }
    while (fgets(line, sizeof(line), stdin) != NULL) {
        uint64_t ns;
        line[strcspn(line, "\r\n")] = '\0';
        n = arg_ul(line, "N");
        if (n % ack_every != 0) {
            fprintf(stderr, "dgram_c: N must be a multiple of ACK\n");
            return 2;
        }
        ns = round_ns(payload, size, window, base, n);
        base += n;
        printf("%lu %llu\n", n, (unsigned long long)ns);
    }
    return 0; /* standard input closed: the driver is done */
}
