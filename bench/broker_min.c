/*
 * broker_min.c - the least a socket broker can do, for the bench
 * (scripts/bench-broker.sh). NOT for installation: no policy, no peer
 * check, no privilege drop, no fork, no audit line.
 *
 *   broker_min PATH
 *
 * Run as root, it listens on a SOCK_SEQPACKET Unix socket at PATH (mode
 * 0666) and loops: accept one connection, receive one request in
 * procket's wire format (procket_request_decode), make the socket itself
 * (socket(2) and bind(2) to the request's family, type, protocol, address
 * and port), send the reply (procket_reply_encode_flags) with the
 * descriptor attached (procket_send_fd), close both. Because it speaks
 * procket's wire format, procket:open(Port, [{broker, PATH}, ...]) works
 * against it exactly as against `procket -l PATH`: the bench measures
 * both through the same client path.
 *
 * Built with c_src/lib/wire.c and c_src/lib/fdpass.c. SIGTERM or SIGINT:
 * removes PATH and exits 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "procket.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

/* The socket the request describes, bound; or -errno. */
static int make_socket(const struct procket_request *req)
{
    union {
        struct sockaddr sa;
        struct sockaddr_in sin;
        struct sockaddr_in6 sin6;
    } a;
    socklen_t alen;
    int s, one = 1;

    if (req->device != PROCKET_DEV_NONE ||
        (req->family != AF_INET && req->family != AF_INET6))
        return -EAFNOSUPPORT; /* inet sockets only: all the bench asks for */
    s = socket(req->family, req->type | SOCK_CLOEXEC, req->protocol);
    if (s < 0)
        return -errno;
    memset(&a, 0, sizeof(a));
    if (req->family == AF_INET) {
        a.sin.sin_family = AF_INET;
        a.sin.sin_port = htons((unsigned short)req->port);
        if (req->addrlen == 4)
            memcpy(&a.sin.sin_addr, req->addr, 4);
        alen = sizeof(a.sin);
    } else {
        int v6only = (req->flags & PROCKET_F_DUALSTACK) ? 0 : 1;
        if (req->type != SOCK_RAW &&
            setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)) < 0)
            goto fail;
        a.sin6.sin6_family = AF_INET6;
        a.sin6.sin6_port = htons((unsigned short)req->port);
        if (req->addrlen == 16)
            memcpy(&a.sin6.sin6_addr, req->addr, 16);
        a.sin6.sin6_scope_id = req->scope_id;
        alen = sizeof(a.sin6);
    }
    if (req->type == SOCK_STREAM &&
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
        goto fail;
    /* as the helper does: a raw socket is bound only to an address */
    if ((req->type != SOCK_RAW || req->addrlen != 0) && bind(s, &a.sa, alen) < 0)
        goto fail;
    if (req->backlog > 0 && listen(s, req->backlog) < 0)
        goto fail;
    return s;
fail:
    {
        int err = errno;
        (void)close(s);
        return -err;
    }
}

/* One connection: one request, one reply. */
static void serve(int conn)
{
    unsigned char msg[PROCKET_MSG_MAX], reply[PROCKET_REPLY_LEN];
    struct procket_request req;
    ssize_t n, rlen;
    int fd = -1, stray = -1, err;

    n = procket_recv_fd(conn, &stray, msg, sizeof(msg));
    if (stray >= 0)
        (void)close(stray);
    if (n <= 0)
        return; /* the caller went away, or sent something else */
    err = procket_request_decode(&req, msg, (size_t)n);
    if (err == 0) {
        fd = make_socket(&req);
        if (fd < 0)
            err = fd;
    }
    rlen = procket_reply_encode_flags(-err, 0, reply, sizeof(reply));
    if (rlen > 0)
        (void)procket_send_fd(conn, fd, reply, (size_t)rlen);
    if (fd >= 0)
        (void)close(fd);
}

int main(int argc, char *argv[])
{
    struct sockaddr_un sun;
    struct sigaction sa;
    const char *path;
    int lsock;

    if (argc != 2 || argv[1][0] != '/' ||
        strlen(argv[1]) >= sizeof(sun.sun_path)) {
        fprintf(stderr, "usage: broker_min /ABSOLUTE/PATH\n");
        return 64;
    }
    path = argv[1];

    /* no SA_RESTART: a signal ends accept(2) with EINTR */
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0)
        return 71;

    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, path, strlen(path));
    lsock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (lsock < 0 || bind(lsock, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
        chmod(path, 0666) < 0 || listen(lsock, 128) < 0) {
        perror("broker_min: listen");
        return 71;
    }

    while (!stop) {
        int conn = accept4(lsock, NULL, NULL, SOCK_CLOEXEC);
        if (conn < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            perror("broker_min: accept");
            break;
        }
        serve(conn);
        (void)close(conn);
    }
    (void)unlink(path);
    (void)close(lsock);
    return stop ? 0 : 71;
}
