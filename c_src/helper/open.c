/*
 * open.c - what the helper can open, as a table.
 *
 * Each kind of request has an entry: which requests it serves, which
 * capabilities the open needs, and the opener. A request no entry serves
 * is refused. The opener runs after become_caller(): as the caller, with
 * only the listed capabilities.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helper.h"

struct opener {
    const char *name;
    int (*serves)(const struct procket_request *req);
    uint64_t (*caps)(const struct procket_request *req);
    int (*open)(const struct procket_request *req, int *fd);
};

static int inet_serves(const struct procket_request *req)
{
    return req->family == AF_INET || req->family == AF_INET6;
}

static uint64_t inet_caps(const struct procket_request *req)
{
    uint64_t caps = 0;

    if (req->port > 0 && req->port < 1024)
        caps |= CAPBIT(HCAP_NET_BIND_SERVICE);
    if (req->type == SOCK_RAW || req->ifname[0] != '\0')
        caps |= CAPBIT(HCAP_NET_RAW);
    return caps;
}

static int setint(int s, int level, int name, int value)
{
    return setsockopt(s, level, name, &value, sizeof(value));
}

static int inet_open(const struct procket_request *req, int *fd)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    int s, rc = 0;

    s = socket(req->family, req->type | SOCK_CLOEXEC, req->protocol);
    if (s < 0)
        return -errno;

    memset(&ss, 0, sizeof(ss));
    if (req->family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)req->port);
        if (req->addrlen == 4)
            memcpy(&sin->sin_addr, req->addr, 4);
        else
            sin->sin_addr.s_addr = htonl(INADDR_ANY);
        sslen = sizeof(*sin);
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)req->port);
        if (req->addrlen == 16)
            memcpy(&sin6->sin6_addr, req->addr, 16);
        else
            sin6->sin6_addr = in6addr_any;
        sin6->sin6_scope_id = req->scope_id;
        sslen = sizeof(*sin6);
        /* explicit either way: never left to net.ipv6.bindv6only (a raw
         * socket has no port to share, and Linux refuses the option) */
        if (req->type != SOCK_RAW)
            rc = setint(s, IPPROTO_IPV6, IPV6_V6ONLY,
                        (req->flags & PROCKET_F_DUALSTACK) ? 0 : 1);
    }

    if (rc == 0 && req->type == SOCK_STREAM)
        rc = setint(s, SOL_SOCKET, SO_REUSEADDR, 1);
    if (rc == 0 && req->ifname[0] != '\0')
        rc = setsockopt(s, SOL_SOCKET, SO_BINDTODEVICE, req->ifname,
                        (socklen_t)strlen(req->ifname));
    /* A raw socket has no port; bind it only to restrict the address. */
    if (rc == 0 && (req->type != SOCK_RAW || req->addrlen > 0))
        rc = bind(s, (struct sockaddr *)&ss, sslen);
    if (rc == 0 && req->backlog > 0)
        rc = listen(s, req->backlog);
    if (rc < 0) {
        rc = -errno;
        (void)close(s);
        return rc;
    }
    *fd = s;
    return 0;
}

static const struct opener openers[] = {
    {"inet socket", inet_serves, inet_caps, inet_open},
};

static const struct opener *find(const struct procket_request *req)
{
    for (size_t i = 0; i < sizeof(openers) / sizeof(openers[0]); i++)
        if (openers[i].serves(req))
            return &openers[i];
    return NULL;
}

uint64_t caps_needed(const struct procket_request *req)
{
    const struct opener *o = find(req);
    return o == NULL ? 0 : o->caps(req);
}

int open_requested(const struct procket_request *req, int *fd)
{
    const struct opener *o = find(req);
    return o == NULL ? -EAFNOSUPPORT : o->open(req, fd);
}
