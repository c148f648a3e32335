/*
 * main.c - the procket helper: one request, one socket, one reply.
 *
 *   sanitize -> read one request -> validate -> become the caller keeping
 *   only the needed capabilities -> open -> drop everything -> verify the
 *   drop -> reply -> exit
 *
 * See procket(8) (docs/procket.8.md) for the command line and exit codes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "helper.h"

#ifndef PROCKET_VERSION
#define PROCKET_VERSION "unknown"
#endif

#define HRWF_NOWAIT 0x8L /* RWF_NOWAIT, <linux/fs.h> */

/* One write (lines from concurrent helpers do not interleave) that never
 * waits: standard error is the caller's, who could leave it a full pipe
 * to hold a privileged helper in write(2) (and past its audit line).
 * RWF_NOWAIT for this write only (O_NONBLOCK would change the caller's
 * open file too); where the file does not take it (a terminal), only if
 * poll(2) says there is room. A line that would wait is dropped. */
static void write_nowait(int fd, const char *buf, size_t len)
{
    struct iovec iov = {(void *)buf, len};
    struct pollfd p = {fd, POLLOUT, 0};

    /* pwritev2(2) at the current position (-1), as a system call: the
     * static build's C library may lack the wrapper */
    if (syscall(SYS_pwritev2, (long)fd, &iov, 1L, -1L, 0L, HRWF_NOWAIT) >= 0 ||
        errno != EOPNOTSUPP)
        return;
    if (poll(&p, 1, 0) == 1 && (p.revents & POLLOUT))
        (void)!write(fd, buf, len);
}

void say(const char *where, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    int n;

    n = snprintf(line, sizeof(line), PROGNAME ": %s: ", where);
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof(line))
        (void)vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    (void)strncat(line, "\n", sizeof(line) - strlen(line) - 1);
    write_nowait(STDERR_FILENO, line, strlen(line));
}

static void usage(FILE *out)
{
    (void)fprintf(out,
        "usage: " PROGNAME " [-h] [-V]\n"
        "       " PROGNAME " -u PATH [-p PORT] [-F FAMILY] [-T TYPE] "
        "[-P PROTOCOL]\n"
        "               [-I IFNAME] [-b BACKLOG] [-d] [-N NETNS] [ADDRESS]\n"
        "       " PROGNAME " -u PATH -D tun|tap|tun-clone [-I IFNAME] [-i] [-N NETNS]\n"
        "       " PROGNAME " -l PATH [-m MODE] [-o USER] [-g GROUP]\n"
        "       " PROGNAME " --check\n"
        "\n"
        "Creates one socket as the calling user and passes it back over a\n"
        "Unix socket. Normally run by the procket library, which hands it\n"
        "a channel on standard input; with -u it connects to the Unix\n"
        "socket at PATH instead (after dropping privileges).\n"
        "\n"
        "  -u PATH      Unix socket to send the descriptor to\n"
        "  -p PORT      port to bind, 0-65535 (default 0)\n"
        "  -F FAMILY    inet (default), inet6, packet, or a number\n"
        "  -T TYPE      stream, dgram, raw, or a number "
        "(default: from -P)\n"
        "  -P PROTOCOL  tcp, udp, icmp, ipv6-icmp, raw, ..., or a number\n"
        "  -I IFNAME    bind to this interface (-D: the device's name)\n"
        "  -b BACKLOG   stream sockets: also listen(2) with this backlog\n"
        "  -d           inet6: accept IPv4 too (clear IPV6_V6ONLY)\n"
        "  -N NETNS     in the network namespace /run/netns/NETNS\n"
        "  -D tun|tap   create a tun or tap device instead of a socket\n"
        "  -D tun-clone the tun clone device, attached to no device\n"
        "  -i           -D: keep the packet information header\n"
        "  ADDRESS      local IPv4 or IPv6 address (default: any)\n"
        "\n"
        "  -l PATH      run as the broker (root only): serve requests on a\n"
        "               Unix socket at PATH; under socket activation\n"
        "               (LISTEN_FDS=1), with no option, on the socket passed\n"
        "  -m MODE      -l: the socket's mode (default 0666; 0660 with -o or -g)\n"
        "  -o USER      -l: the socket's owner (default root)\n"
        "  -g GROUP     -l: the socket's group (default root)\n"
        "  --check      say how procket would work for you here, and what to fix\n"
        "\n"
        "Exit: 0 descriptor sent, 1 request failed (errno sent), 64 usage,\n"
        "65 bad request, 66 channel, 67 privilege drop, 68 peer refused,\n"
        "70 internal.\n");
}

/* Standard input must be the AF_UNIX SOCK_SEQPACKET end the library made. */
static int check_channel(int chan)
{
    int v;
    socklen_t len = sizeof(v);

    if (getsockopt(chan, SOL_SOCKET, SO_DOMAIN, &v, &len) < 0 ||
        v != AF_UNIX)
        return -1;
    len = sizeof(v);
    if (getsockopt(chan, SOL_SOCKET, SO_TYPE, &v, &len) < 0 ||
        v != SOCK_SEQPACKET)
        return -1;
    return 0;
}

/* Reads one request; returns 0, a request error (-EPROTO, -EINVAL, ...)
 * to send back, or -ETIMEDOUT / -ECONNRESET when there is nobody to
 * answer. */
static int read_request(int chan, struct procket_request *req, int timeout_ms)
{
    unsigned char buf[PROCKET_MSG_MAX];
    struct pollfd pfd = {chan, POLLIN, 0};
    ssize_t n;
    int fd = -1, rc;

    do {
        /* timeout_ms 0: the request is known to be there (poll(2) said so) */
        rc = timeout_ms == 0 ? 1 : poll(&pfd, 1, timeout_ms);
    } while (rc < 0 && errno == EINTR);
    if (rc == 0)
        return -ETIMEDOUT;
    n = procket_recv_fd(chan, &fd, buf, sizeof(buf));
    if (fd >= 0) {
        (void)close(fd); /* nobody sends the helper descriptors */
        return -EPROTO;
    }
    if (n == 0 || n == -ECONNRESET)
        return -ECONNRESET;
    if (n < 0)
        return -EPROTO;
    return procket_request_decode(req, buf, (size_t)n);
}

/* Path transport: connect (as the caller, privileges gone) to the Unix
 * socket the caller listens on, and make sure the caller is on the other
 * end. */
static int connect_back(const char *path, const struct identity *who)
{
    struct sockaddr_un sun;
    struct ucred cred;
    socklen_t len = sizeof(cred);
    int s;

    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sun.sun_path))
        return -1;
    memcpy(sun.sun_path, path, strlen(path));
    s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s < 0) {
        say("connect_back", "socket: %s", strerror(errno));
        return -1;
    }
    if (connect(s, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        say("connect_back", "%s: %s", path, strerror(errno));
        (void)close(s);
        return -1;
    }
    if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
        cred.uid != who->uid) {
        say("connect_back", "%s is not the caller's socket", path);
        (void)close(s);
        return -2;
    }
    return s;
}

/* The policy (procket.conf(5)) decides; a file that exists but cannot be
 * trusted denies everything (it may have meant to deny). Asked twice:
 * before the request's namespace is entered, with its interfaces not
 * known (a 0 then is final: no namespace is entered, and so none is
 * probed, for a request that could not be granted in it), and in it,
 * with the interface the socket will be bound to. */
static struct policy pol; /* large: not on the stack, pages touched as used */
static int loaded; /* 1: loaded, or the -errno of policy_load() */

/* A broker's worker, while it waits for a connection: the first page of
 * the policy and the flag written now, not as copies on write in the
 * caller's time (see broker.c prefault_stack()). */
void check_policy_prepare(void)
{
    loaded = 0;
    pol.n = 0;
}

static int check_policy(const struct procket_request *req,
                        const struct identity *who, int known, char *why,
                        size_t whylen, unsigned *confine)
{

    *confine = 0;
    if (who->uid == 0 && !who->brokered)
        return 0;
    if (loaded == 0) {
        int rc = policy_load(&pol, PROCKET_POLICY_FILE);
        loaded = rc < 0 ? rc : 1;
    }
    if (loaded < 0) {
        (void)snprintf(why, whylen, PROCKET_POLICY_FILE " refused");
    } else if (policy_decide(&pol, who, req, known ? policy_ifindex_here : NULL, why,
                             whylen, confine)) {
        return 0;
    }
    say("policy", "refused for uid %u: %s", (unsigned)who->uid, why);
    return loaded < 0 ? loaded : -EACCES;
}

int main(int argc, char *argv[])
{
    struct invocation inv;
    struct procket_args args;
    const char *why = NULL;

    sanitize(&inv);

    /* the doctor (check.c): drops to the caller before it looks at anything */
    if (argc >= 2 && strcmp(argv[1], "--check") == 0)
        return check_main(argc, argv, &inv);

    /* the broker: serves requests on a Unix socket (broker.c) */
    if ((argc >= 2 && strcmp(argv[1], "-l") == 0) || (inv.listen_fd != -1 && argc == 1))
        return broker_main(argc, argv, &inv);

    if (procket_args_parse(&args, argc, argv, &why) < 0) {
        say("args", "%s", why);
        usage(stderr);
        return PROCKET_EXIT_USAGE;
    }
    if (args.help) {
        usage(stdout);
        return PROCKET_EXIT_OK;
    }
    if (args.version) {
        (void)printf(PROGNAME " %s, wire format %d\n", PROCKET_VERSION,
                     PROCKET_WIRE_VERSION);
        return PROCKET_EXIT_OK;
    }

    if (args.path == NULL && argc > 1) {
        say("args", "options describe a request only with -u PATH");
        return PROCKET_EXIT_USAGE;
    }
    return serve(STDIN_FILENO, &inv, &args);
}

/* One request: on chan (args->path NULL: the stdin channel, or a broker's
 * accepted connection), or described by args (path transport). The exit
 * status. */
int serve(int chan, const struct invocation *inv, struct procket_args *args)
{
    struct identity who;
    struct procket_request *req = &args->req;
    unsigned char reply[PROCKET_REPLY_LEN];
    char missing[128] = "";
    int fd = -1, prep = -1, logfd = -1, rc, bad_request = 0, denied = 0,
        unprivileged = 0, unused = 0;
    unsigned confine = 0, ifindex = 0;

    /* Who asks, and what. */
    memset(&who, 0, sizeof(who));
    if (args->path == NULL) {
        /* a broker's connection is its own accept(2)'s: no need to ask */
        if (!inv->broker && check_channel(chan) < 0) {
            say("channel", "standard input is not a procket channel "
                           "(use -u PATH from a shell)");
            return PROCKET_EXIT_CHANNEL;
        }
        rc = identify_peer(chan, inv, &who);
        if (rc < 0)
            return rc == -EPERM    ? PROCKET_EXIT_PEER
                   : rc == -ENOMEM ? PROCKET_EXIT_INTERNAL
                                   : PROCKET_EXIT_CHANNEL;
        /* a broker's caller sends its request as it connects */
        rc = read_request(chan, req, !inv->broker     ? HELPER_READ_TIMEOUT_MS
                                     : inv->request_seen ? 0
                                                       : HELPER_BROKER_READ_TIMEOUT_MS);
        if (rc == -ETIMEDOUT || rc == -ECONNRESET) {
            say("read_request", "%s", rc == -ETIMEDOUT
                                         ? "no request in time"
                                         : "channel closed before a request");
            return PROCKET_EXIT_CHANNEL;
        }
        broker_note_request(inv);
        bad_request = rc < 0;
        if (bad_request)
            say("read_request", "bad request: %s", strerror(-rc));
    } else {
        rc = identify_invoker(inv, &who);
        if (rc < 0) {
            say("identify", "cannot tell the caller's groups: %s", strerror(-rc));
            return PROCKET_EXIT_INTERNAL;
        }
        rc = 0; /* parsed and validated with the arguments */
    }

    /* The audit line's socket first, before anything is opened: no
     * descriptor limit can leave a grant without it. */
    {
        int lrc = audit_open(&logfd);
        if (lrc < 0 && rc == 0) {
            say("audit", "no socket for the audit line (%s); nothing is granted",
                strerror(-lrc));
            rc = lrc;
        }
    }

    /* What needs a rule gets one, or is refused: first as asked, then, in
     * the request's namespace, for the interface it will be bound to. */
    if (rc == 0) {
        rc = check_policy(req, &who, 0, missing, sizeof(missing), &confine);
        denied = rc < 0;
    }
    if (rc == 0 && inv->netns_error < 0)
        rc = inv->netns_error;

    /* Enter the namespace and prepare while privileged; open as the
     * caller with only the needed capabilities, then drop. */
    if (rc == 0 && req->netns[0] != '\0') {
        rc = enter_namespace(req->netns);
        if (rc < 0)
            say("namespace", "%s: %s", req->netns, strerror(-rc));
    }
    if (rc == 0) {
        rc = resolve_interface(req, &ifindex);
        if (rc < 0)
            say("interface", "%s: %s", req->ifname[0] != '\0' ? req->ifname : "scope id",
                rc == -EINVAL ? "the scope id names another interface" : strerror(-rc));
    }
    if (rc == 0) {
        rc = check_policy(req, &who, 1, missing, sizeof(missing), &confine);
        denied = rc < 0;
    }
    if (rc == 0) {
        rc = prepare_requested(req, &prep);
        if (rc < 0)
            say("prepare", "%s: %s", req->device != PROCKET_DEV_NONE ? "/dev/net/tun" : "socket", strerror(-rc));
    }
    if (rc == 0)
        rc = become_caller(&who, caps_needed(req), &unprivileged);
    else
        (void)become_caller(&who, 0, &unused);
    if (rc == 0)
        rc = open_requested(req, prep, confine, ifindex, &fd);
    else if (prep >= 0)
        (void)close(prep);
    /* A broker's unmapped caller's uid may have no mapping here either:
     * when the worker could not become it, nothing was opened (rc), and
     * the worker replies with no capability left, as the uid it has. */
    if (drop_all() < 0 ||
        (who.unmapped && rc < 0 ? verify_caps_dropped() : verify_dropped(&who)) < 0) {
        say("main", "could not drop privileges; nothing sent");
        return PROCKET_EXIT_PRIVILEGE;
    }

    /* The audit trail, then the reply, unprivileged. A grant whose line
     * could not be handed to the log socket is not made. */
    if (bad_request) {
        (void)audit(logfd, &who, NULL, "malformed", strerror(-rc));
    } else if (denied) {
        (void)audit(logfd, &who, req, "denied", missing);
    } else if (rc < 0) {
        (void)audit(logfd, &who, req, "failed", strerror(-rc));
    } else {
        rc = audit(logfd, &who, req, "granted", NULL);
        if (rc < 0) {
            say("audit", "the audit line could not be sent (%s); nothing is granted",
                rc == -EAGAIN ? "the log socket stayed full" : strerror(-rc));
            (void)close(fd);
            fd = -1;
        }
    }

    /* Reply. */
    if (args->path != NULL) {
        chan = connect_back(args->path, &who);
        if (chan < 0)
            return chan == -2 ? PROCKET_EXIT_PEER : PROCKET_EXIT_CHANNEL;
    }
    /* A refusal by the kernel (EACCES, EPERM) of a helper without the
     * privileges the request needs says so: the caller may try another way
     * (sudo). Any other answer is final: privileges would not change it. */
    (void)procket_reply_encode_flags(
        rc < 0 ? -rc : 0,
        unprivileged && !denied && (rc == -EACCES || rc == -EPERM) ? PROCKET_REPLY_UNPRIVILEGED
                                                                   : 0,
        reply, sizeof(reply));
    if (procket_send_fd(chan, fd, reply, sizeof(reply)) < 0) {
        say("reply", "caller gone before the reply");
        return PROCKET_EXIT_CHANNEL;
    }
    if (bad_request)
        return PROCKET_EXIT_REQUEST;
    return rc < 0 ? PROCKET_EXIT_REFUSED : PROCKET_EXIT_OK;
}
