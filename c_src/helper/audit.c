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
 * (one line each). No timestamp: the receiver stamps it. The send never
 * waits (a non-blocking datagram) and never fails the request: without a
 * listener, or with a full queue, the line is lost, as the helper cannot
 * do better than say so on stderr. It runs after the privilege drop: the
 * socket is world-writable by convention.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
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
    if (req->device == PROCKET_DEV_TUN || req->device == PROCKET_DEV_TAP) {
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

void audit(const struct identity *who, const struct procket_request *req,
           const char *result, const char *why)
{
    char line[768], what[400];
    struct sockaddr_un sun;
    int s, sev = strcmp(result, "granted") == 0 ? LOG_INFO_SEV : LOG_NOTICE_SEV;

    if (req != NULL)
        audit_describe(req, what, sizeof(what));
    else
        (void)snprintf(what, sizeof(what), "(no valid request)");
    (void)snprintf(line, sizeof(line), "<%d>" PROGNAME "[%ld]: %s uid=%u gid=%u %s%s%s",
                   LOG_AUTHPRIV_FAC | sev, (long)getpid(), result,
                   (unsigned)who->uid, (unsigned)who->gid, what,
                   why != NULL ? ": " : "", why != NULL ? why : "");

    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    (void)snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", PROCKET_LOG_SOCKET);
    s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s < 0)
        return;
    if (connect(s, (struct sockaddr *)&sun, sizeof(sun)) == 0)
        (void)send(s, line, strlen(line), MSG_DONTWAIT | MSG_NOSIGNAL);
    (void)close(s);
}
