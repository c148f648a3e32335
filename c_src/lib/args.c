/*
 * args.c - the helper's command line, both ways, and command splitting.
 *
 * No getopt(3): it keeps global state, permutes argv and accepts
 * abbreviations. This parser takes each flag at most once, every value
 * in the following argument, and nothing it does not know.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "procket.h"

struct name {
    const char *name;
    int number;
};

static const struct name families[] = {
    {"inet", AF_INET}, {"inet6", AF_INET6}, {"packet", AF_PACKET},
    {"unspec", AF_UNSPEC}, {NULL, 0}};

static const struct name devices[] = {
    {"tun", PROCKET_DEV_TUN}, {"tap", PROCKET_DEV_TAP},
    {"tun-clone", PROCKET_DEV_TUN_CLONE}, {NULL, 0}};

/* The name of number in table (NULL: none). */
static const char *name_of(const struct name *table, int number)
{
    for (; table->name != NULL; table++)
        if (table->number == number)
            return table->name;
    return NULL;
}

static const struct name types[] = {
    {"stream", SOCK_STREAM}, {"dgram", SOCK_DGRAM}, {"raw", SOCK_RAW},
    {NULL, 0}};

static const struct name protocols[] = {
    {"ip", 0},         {"icmp", IPPROTO_ICMP},       {"tcp", IPPROTO_TCP},
    {"udp", IPPROTO_UDP}, {"ipv6-icmp", IPPROTO_ICMPV6}, {"icmp6", IPPROTO_ICMPV6},
    {"sctp", IPPROTO_SCTP}, {"udplite", IPPROTO_UDPLITE}, {"raw", IPPROTO_RAW},
    {NULL, 0}};

/* Parses a decimal number in [0, max] with nothing around it. */
static int parse_uint(const char *s, long max, long *out)
{
    long v = 0;

    if (s == NULL || *s == '\0')
        return -EINVAL;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9')
            return -EINVAL;
        v = v * 10 + (*s - '0');
        if (v > max)
            return -EINVAL;
    }
    *out = v;
    return 0;
}

static int lookup(const struct name *table, const char *name, long max)
{
    long v;

    if (name == NULL)
        return -EINVAL;
    if (parse_uint(name, max, &v) == 0)
        return (int)v;
    for (; table->name != NULL; table++)
        if (strcmp(table->name, name) == 0)
            return table->number;
    return -EINVAL;
}

int procket_family_number(const char *name)
{
    return lookup(families, name, 255);
}

int procket_type_number(const char *name)
{
    return lookup(types, name, 255);
}

/* Numbers up to 65535: a packet socket's protocol is an ethertype. */
int procket_protocol_number(const char *name)
{
    return lookup(protocols, name, 65535);
}

static int parse_address(struct procket_request *req, const char *s)
{
    struct in_addr a4;
    struct in6_addr a6;

    if (strlen(s) > INET6_ADDRSTRLEN)
        return -EINVAL;
    if (inet_pton(AF_INET, s, &a4) == 1) {
        memcpy(req->addr, &a4, 4);
        req->addrlen = 4;
        return AF_INET;
    }
    if (inet_pton(AF_INET6, s, &a6) == 1) {
        memcpy(req->addr, &a6, 16);
        req->addrlen = 16;
        return AF_INET6;
    }
    return -EINVAL;
}

#define FLAGS "upFTPIbdhVNDi"

#define FAIL(msg)                                                             \
    do {                                                                      \
        if (err != NULL)                                                      \
            *err = (msg);                                                     \
        return -EINVAL;                                                       \
    } while (0)

int procket_args_parse(struct procket_args *args, int argc, char *const argv[],
                       const char **err)
{
    struct procket_request *req;
    int family = -1, type = -1, protocol = -1, addrfamily = 0, device;
    unsigned seen = 0;
    long v;

    if (err != NULL)
        *err = NULL;
    if (args == NULL || argv == NULL || argc < 0)
        FAIL("no arguments");
    memset(args, 0, sizeof(*args));
    req = &args->req;
    procket_request_init(req);

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val;
        unsigned bit;

        if (a == NULL)
            FAIL("missing argument");
        if (a[0] != '-' || a[1] == '\0') {
            if (addrfamily != 0)
                FAIL("more than one address");
            addrfamily = parse_address(req, a);
            if (addrfamily < 0)
                FAIL("not an IPv4 or IPv6 address");
            continue;
        }
        if (strcmp(a, "--help") == 0)
            a = "-h";
        else if (strcmp(a, "--version") == 0)
            a = "-V";
        if (a[2] != '\0' || strchr(FLAGS, a[1]) == NULL)
            FAIL("unknown option");
        bit = 1u << (strchr(FLAGS, a[1]) - FLAGS);
        if (seen & bit)
            FAIL("option given twice");
        seen |= bit;

        switch (a[1]) {
        case 'h':
            args->help = 1;
            continue;
        case 'V':
            args->version = 1;
            continue;
        case 'd':
            req->flags |= PROCKET_F_DUALSTACK;
            continue;
        case 'i':
            req->flags |= PROCKET_F_TUN_PI;
            continue;
        default:
            break;
        }
        if (i + 1 >= argc || argv[i + 1] == NULL)
            FAIL("option needs a value");
        val = argv[++i];
        switch (a[1]) {
        case 'u':
            if (val[0] != '/' || strlen(val) >= 108)
                FAIL("bad -u path (absolute, under 108 bytes)");
            args->path = val;
            break;
        case 'p':
            if (parse_uint(val, 65535, &v) < 0)
                FAIL("bad -p port (0-65535)");
            req->port = (int)v;
            break;
        case 'F':
            if ((family = procket_family_number(val)) < 0)
                FAIL("bad -F family");
            break;
        case 'T':
            if ((type = procket_type_number(val)) < 0)
                FAIL("bad -T type");
            break;
        case 'P':
            if ((protocol = procket_protocol_number(val)) < 0)
                FAIL("bad -P protocol");
            break;
        case 'I':
            if (val[0] == '\0' || strlen(val) > PROCKET_IFNAME_MAX)
                FAIL("bad -I interface");
            memcpy(req->ifname, val, strlen(val) + 1);
            break;
        case 'b':
            if (parse_uint(val, PROCKET_BACKLOG_MAX, &v) < 0)
                FAIL("bad -b backlog");
            req->backlog = (int)v;
            break;
        case 'N':
            if (val[0] == '\0' || strlen(val) > PROCKET_NETNS_MAX)
                FAIL("bad -N namespace");
            memcpy(req->netns, val, strlen(val) + 1);
            break;
        case 'D':
            if ((device = lookup(devices, val, 0)) <= 0)
                FAIL("bad -D device (tun or tap)");
            req->device = device;
            break;
        }
    }

    if (args->help || args->version)
        return 0;

    if (req->device != PROCKET_DEV_NONE) { /* no socket: no socket defaults */
        req->family = AF_UNSPEC;
        req->type = 0;
    }
    if (protocol >= 0)
        req->protocol = protocol;
    if (family >= 0)
        req->family = family;
    else if (addrfamily != 0)
        req->family = addrfamily;
    if (type >= 0)
        req->type = type;
    else if (req->device != PROCKET_DEV_NONE)
        ; /* stays 0 */
    else if (req->family == AF_PACKET)
        req->type = SOCK_RAW;
    else if (protocol == IPPROTO_UDP || protocol == IPPROTO_UDPLITE)
        req->type = SOCK_DGRAM;
    else if (protocol > 0 && protocol != IPPROTO_TCP &&
             protocol != IPPROTO_SCTP)
        req->type = SOCK_RAW;
    if (addrfamily != 0 && addrfamily != req->family)
        FAIL("address does not match -F family");
    if (procket_request_validate(req) < 0)
        FAIL("invalid combination of options");
    return 0;
}

#undef FAIL

/* Appends one string to the vector being built. */
struct vec {
    char **argv;
    size_t max, n;
    char *buf;
    size_t buflen, used;
};

static int push(struct vec *v, const char *s)
{
    size_t len = strlen(s) + 1;

    if (v->n + 1 >= v->max || len > v->buflen - v->used)
        return -ENOSPC;
    memcpy(v->buf + v->used, s, len);
    v->argv[v->n++] = v->buf + v->used;
    v->argv[v->n] = NULL;
    v->used += len;
    return 0;
}

static int push_int(struct vec *v, const char *flag, long n)
{
    char num[24];
    int rc = push(v, flag);

    if (rc < 0)
        return rc;
    (void)snprintf(num, sizeof(num), "%ld", n);
    return push(v, num);
}

int procket_args_format(const struct procket_request *req, const char *path,
                        char **argv, size_t max, char *buf, size_t buflen)
{
    struct vec v = {argv, max, 0, buf, buflen, 0};
    char addr[INET6_ADDRSTRLEN];
    int rc;

    if (argv == NULL || buf == NULL || max == 0)
        return -EINVAL;
    argv[0] = NULL;
    rc = procket_request_validate(req);
    if (rc < 0)
        return -EINVAL;
    if (req->scope_id != 0)
        return -EINVAL; /* no argv form for a scope; use the channel */
    if (path != NULL && ((rc = push(&v, "-u")) < 0 || (rc = push(&v, path)) < 0))
        return rc;
    if ((rc = push_int(&v, "-p", req->port)) < 0 ||
        (rc = push_int(&v, "-F", req->family)) < 0 ||
        (rc = push_int(&v, "-T", req->type)) < 0 ||
        (rc = push_int(&v, "-P", req->protocol)) < 0)
        return rc;
    if (req->ifname[0] != '\0' &&
        ((rc = push(&v, "-I")) < 0 || (rc = push(&v, req->ifname)) < 0))
        return rc;
    if (req->backlog > 0 && (rc = push_int(&v, "-b", req->backlog)) < 0)
        return rc;
    if ((req->flags & PROCKET_F_DUALSTACK) && (rc = push(&v, "-d")) < 0)
        return rc;
    if ((req->flags & PROCKET_F_TUN_PI) && (rc = push(&v, "-i")) < 0)
        return rc;
    if (req->netns[0] != '\0' &&
        ((rc = push(&v, "-N")) < 0 || (rc = push(&v, req->netns)) < 0))
        return rc;
    if (req->device != PROCKET_DEV_NONE &&
        ((rc = push(&v, "-D")) < 0 ||
         (rc = push(&v, name_of(devices, req->device))) < 0))
        return rc;
    if (req->addrlen > 0) {
        if (inet_ntop(req->family, req->addr, addr, sizeof(addr)) == NULL)
            return -EINVAL;
        if ((rc = push(&v, addr)) < 0)
            return rc;
    }
    return (int)v.n;
}

int procket_split_command(const char *cmd, char **argv, size_t max, char *buf,
                          size_t buflen)
{
    size_t n = 0, used = 0;
    const char *p = cmd;

    if (cmd == NULL || argv == NULL || buf == NULL || max == 0)
        return -EINVAL;
    argv[0] = NULL;
    for (const char *q = cmd; *q != '\0'; q++)
        if (((unsigned char)*q < ' ' && *q != '\t') || *q == 0x7f)
            return -EINVAL;

    for (;;) {
        size_t len;

        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0')
            break;
        len = strcspn(p, " \t");
        if (n + 1 >= max || len + 1 > buflen - used)
            return -ENOSPC;
        memcpy(buf + used, p, len);
        buf[used + len] = '\0';
        argv[n++] = buf + used;
        argv[n] = NULL;
        used += len + 1;
        p += len;
    }
    return n == 0 ? -EINVAL : (int)n;
}
