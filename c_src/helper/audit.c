/*
 * audit.c - one syslog line per request: who asked, for what, and what
 * became of it (granted, denied by the policy, failed, malformed).
 *
 * The line goes to the local syslog socket (PROCKET_LOG_SOCKET, /dev/log:
 * journald or a syslog daemon) with facility authpriv, severity info for
 * a grant and notice for the rest:
 *
 *   <86>procket[4711]: granted uid=1000 gid=1000 inet dgram proto=17
 *       port=53 address=0.0.0.0
 *   <85>procket[4712]: denied uid=1000 gid=1000 packet raw ethertype=0x0003
 *       interface=eth0: needs a rule for packet
 *
 * (one line each). No timestamp: the receiver stamps it.
 *
 * No grant leaves without its line handed to the log socket. The socket
 * is made and connected by audit_open(), before anything is opened, so
 * that no limit on descriptors can leave a granted socket without one;
 * if it cannot be made, nothing is granted. The line is sent after the
 * privilege drop; when the receiver's queue is full (a flood of requests,
 * a stalled daemon) the helper waits up to AUDIT_WAIT_MS for room, then
 * refuses the grant (EAGAIN). A system that keeps no log (nothing at the
 * socket's path, or nothing listening there) has nothing to hand the line
 * to: requests go on unlogged. What the receiver does with a line it took
 * (journald's rate limit, a full disk) is its own affair.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <time.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "helper.h"

#define LOG_AUTHPRIV_FAC (10 << 3)
#define LOG_NOTICE_SEV 5
#define LOG_INFO_SEV 6

/* Appends to buf (size len, always NUL-terminated). */
static void add(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void add(char *buf, size_t len, const char *fmt, ...)
{
    size_t used = strlen(buf);
    va_list ap;

    if (used + 1 >= len)
        return;
    va_start(ap, fmt);
    (void)vsnprintf(buf + used, len - used, fmt, ap);
    va_end(ap);
}

static const char *family_name(int family)
{
    switch (family) {
    case AF_INET: return "inet";
    case AF_INET6: return "inet6";
    case AF_PACKET: return "packet";
    default: return "family?";
    }
}

static const char *type_name(int type)
{
    switch (type) {
    case SOCK_STREAM: return "stream";
    case SOCK_DGRAM: return "dgram";
    case SOCK_RAW: return "raw";
    default: return "type?";
    }
}

void audit_describe(const struct procket_request *req, char *buf, size_t len)
{
    char addr[INET6_ADDRSTRLEN] = "";

    if (len == 0)
        return;
    buf[0] = '\0';
    if (req->device == PROCKET_DEV_TUN_CLONE) {
        add(buf, len, "tun clone (unattached)");
    } else if (req->device == PROCKET_DEV_TUN || req->device == PROCKET_DEV_TAP) {
        add(buf, len, "%s device=%s", req->device == PROCKET_DEV_TUN ? "tun" : "tap",
            req->ifname[0] != '\0' ? req->ifname : "*");
    } else {
        if (req->family == AF_PACKET)
            add(buf, len, "packet %s ethertype=0x%04x", type_name(req->type),
                (unsigned)ntohs((uint16_t)req->protocol));
        else
            add(buf, len, "%s %s proto=%d", family_name(req->family),
                type_name(req->type), req->protocol);
        if (req->family == AF_INET || req->family == AF_INET6) {
            if (req->addrlen == 0)
                (void)snprintf(addr, sizeof(addr), "%s",
                               req->family == AF_INET ? "0.0.0.0" : "::");
            else if (inet_ntop(req->family, req->addr, addr, sizeof(addr)) == NULL)
                (void)snprintf(addr, sizeof(addr), "?");
            add(buf, len, " port=%d address=%s", req->port, addr);
        }
        if (req->ifname[0] != '\0')
            add(buf, len, " interface=%s", req->ifname);
    }
    if (req->netns[0] != '\0')
        add(buf, len, " namespace=%s", req->netns);
}

int audit_open(int *fd)
{
    struct sockaddr_un sun;
    int s;

    *fd = -1;
    s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s < 0)
        return -errno;
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    (void)snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", PROCKET_LOG_SOCKET);
    if (connect(s, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        int err = errno;
        (void)close(s);
        /* no log kept here: nothing there, or nobody listening */
        return err == ENOENT || err == ECONNREFUSED ? 0 : -err;
    }
    *fd = s;
    return 0;
}

static long long now_ms(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int audit(int fd, const struct identity *who, const struct procket_request *req,
          const char *result, const char *why)
{
    char line[768], what[400];
    int sev = strcmp(result, "granted") == 0 ? LOG_INFO_SEV : LOG_NOTICE_SEV;
    long long deadline = now_ms() + AUDIT_WAIT_MS;

    if (fd < 0)
        return 0; /* no log kept */
    if (req != NULL)
        audit_describe(req, what, sizeof(what));
    else
        (void)snprintf(what, sizeof(what), "(no valid request)");
    (void)snprintf(line, sizeof(line), "<%d>" PROGNAME "[%ld]: %s uid=%u gid=%u %s%s%s",
                   LOG_AUTHPRIV_FAC | sev, (long)getpid(), result,
                   (unsigned)who->uid, (unsigned)who->gid, what,
                   why != NULL ? ": " : "", why != NULL ? why : "");
    for (;;) {
        struct pollfd p = {fd, POLLOUT, 0};
        long long left;

        if (send(fd, line, strlen(line), MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
            return 0;
        if (errno == ECONNREFUSED || errno == ENOENT)
            return 0; /* the receiver went away: no log kept any more */
        if (errno != EAGAIN && errno != EINTR)
            return -errno;
        left = deadline - now_ms();
        if (left <= 0)
            return -EAGAIN; /* no room in time */
        broker_note_waiting(); /* a broker's worker says it is busy */
        (void)poll(&p, 1, (int)left);
    }
}
