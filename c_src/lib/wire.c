/*
 * wire.c - the request and reply messages, and their validation.
 *
 * Both messages start with the same 8-byte header, all integers big-endian:
 *
 *   0  'P' 'K'       magic
 *   2  version       PROCKET_WIRE_VERSION
 *   3  kind          KIND_REQUEST or KIND_REPLY
 *   4  length (u16)  whole message, header included, <= PROCKET_MSG_MAX
 *   6  0 0           reserved, must be zero
 *
 * A request continues with fields {tag u16, len u16, value}; each tag at
 * most once, unknown tags refused, every value of exactly its size.
 * A reply continues with the helper's errno as a signed 32-bit integer.
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "procket.h"

#define HDR_LEN 8
#define KIND_REQUEST 1
#define KIND_REPLY 2

enum tag {
    TAG_FAMILY = 1,
    TAG_TYPE = 2,
    TAG_PROTOCOL = 3,
    TAG_PORT = 4,
    TAG_ADDR = 5,
    TAG_SCOPE = 6,
    TAG_IFNAME = 7,
    TAG_BACKLOG = 8,
    TAG_FLAGS = 9,
    TAG_NETNS = 10,
    TAG_DEVICE = 11,
    TAG_MAX = 11
};

static void put16(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
}

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static uint32_t get16(const unsigned char *p)
{
    return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

void procket_request_init(struct procket_request *req)
{
    if (req == NULL)
        return;
    memset(req, 0, sizeof(*req));
    req->family = AF_INET;
    req->type = SOCK_STREAM;
}

/* Interface names: what `ip link` accepts, minus anything that could be
 * mistaken for a path or an option, and '%': the kernel takes a name with
 * one ("wg%d") as a template and names the device itself, so no rule
 * about names could hold. */
static int ifname_ok(const char *name)
{
    size_t n = strnlen(name, PROCKET_IFNAME_MAX + 1);

    if (n > PROCKET_IFNAME_MAX)
        return 0;
    if (n == 0)
        return 1; /* no interface */
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || name[0] == '-')
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c <= ' ' || c >= 0x7f || c == '/' || c == ':' || c == '%')
            return 0;
    }
    return 1;
}

/* Namespace names: a single file name under /run/netns, nothing that
 * could climb out of it or be taken for an option. */
static int netns_ok(const char *name)
{
    size_t n = strnlen(name, PROCKET_NETNS_MAX + 1);

    if (n > PROCKET_NETNS_MAX)
        return 0;
    if (n == 0)
        return 1; /* no namespace */
    if (name[0] == '.' || name[0] == '-')
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
            return 0;
    }
    return 1;
}

/* A packet socket: an ethertype, optionally an interface; nothing else. */
static int validate_packet(const struct procket_request *req)
{
    if (req->type != SOCK_RAW && req->type != SOCK_DGRAM)
        return -EINVAL;
    if (req->protocol < 0 || req->protocol > 65535)
        return -EINVAL;
    if (req->port != 0 || req->addrlen != 0 || req->scope_id != 0 ||
        req->backlog != 0 || req->flags != 0)
        return -EINVAL;
    return 0;
}

/* A tun or tap device: a name and the packet information flag; the clone
 * device: neither. */
static int validate_device(const struct procket_request *req)
{
    if (req->device == PROCKET_DEV_TUN_CLONE &&
        (req->ifname[0] != '\0' || req->flags != 0))
        return -EINVAL;
    if (req->device != PROCKET_DEV_TUN && req->device != PROCKET_DEV_TAP &&
        req->device != PROCKET_DEV_TUN_CLONE)
        return -EINVAL;
    if (req->family != AF_UNSPEC || req->type != 0 || req->protocol != 0 ||
        req->port != 0 || req->addrlen != 0 || req->scope_id != 0 ||
        req->backlog != 0 || (req->flags & ~PROCKET_F_TUN_PI))
        return -EINVAL;
    return 0;
}

int procket_request_validate(const struct procket_request *req)
{
    if (req == NULL)
        return -EINVAL;
    if (!ifname_ok(req->ifname) || !netns_ok(req->netns))
        return -EINVAL;
    if (req->device != PROCKET_DEV_NONE)
        return validate_device(req);
    if (req->family == AF_PACKET)
        return validate_packet(req);
    if (req->family != AF_INET && req->family != AF_INET6)
        return -EAFNOSUPPORT;
    if (req->type != SOCK_STREAM && req->type != SOCK_DGRAM &&
        req->type != SOCK_RAW)
        return -EINVAL;
    if (req->protocol < 0 || req->protocol > 255)
        return -EINVAL;
    if (req->port < 0 || req->port > 65535)
        return -EINVAL;
    if (req->addrlen != 0 &&
        req->addrlen != (req->family == AF_INET ? 4u : 16u))
        return -EINVAL;
    if (req->scope_id != 0 && (req->family != AF_INET6 || req->addrlen == 0))
        return -EINVAL;
    if (req->backlog < 0 || req->backlog > PROCKET_BACKLOG_MAX)
        return -EINVAL;
    if (req->backlog > 0 && req->type != SOCK_STREAM)
        return -EINVAL;
    if (req->flags & ~PROCKET_F_ALL)
        return -EINVAL;
    if ((req->flags & PROCKET_F_DUALSTACK) &&
        (req->family != AF_INET6 || req->type == SOCK_RAW))
        return -EINVAL;
    if (req->flags & PROCKET_F_TUN_PI)
        return -EINVAL;
    return 0;
}

static void put_header(unsigned char *p, int kind, size_t len)
{
    p[0] = 'P';
    p[1] = 'K';
    p[2] = PROCKET_WIRE_VERSION;
    p[3] = (unsigned char)kind;
    put16(p + 2 + 2, (uint32_t)len);
    p[6] = 0;
    p[7] = 0;
}

/* Returns the message length announced by a well-formed header of the
 * given kind, or -EPROTO. */
static int check_header(const unsigned char *p, size_t len, int kind)
{
    if (len < HDR_LEN || len > PROCKET_MSG_MAX)
        return -EPROTO;
    if (p[0] != 'P' || p[1] != 'K' || p[2] != PROCKET_WIRE_VERSION ||
        p[3] != kind || p[6] != 0 || p[7] != 0)
        return -EPROTO;
    if (get16(p + 4) != len)
        return -EPROTO;
    return 0;
}

static unsigned char *put_field(unsigned char *p, enum tag tag,
                                const void *val, size_t len)
{
    put16(p, tag);
    put16(p + 2, (uint32_t)len);
    memcpy(p + 4, val, len);
    return p + 4 + len;
}

static unsigned char *put_int(unsigned char *p, enum tag tag, uint32_t v)
{
    unsigned char b[4];
    put32(b, v);
    return put_field(p, tag, b, sizeof(b));
}

ssize_t procket_request_encode(const struct procket_request *req, void *buf,
                               size_t len)
{
    unsigned char tmp[PROCKET_MSG_MAX];
    unsigned char *p = tmp + HDR_LEN;
    unsigned char port[2];
    size_t n;
    int rc;

    if (buf == NULL)
        return -EINVAL;
    rc = procket_request_validate(req);
    if (rc < 0)
        return rc;

    p = put_int(p, TAG_FAMILY, (uint32_t)req->family);
    p = put_int(p, TAG_TYPE, (uint32_t)req->type);
    p = put_int(p, TAG_PROTOCOL, (uint32_t)req->protocol);
    put16(port, (uint32_t)req->port);
    p = put_field(p, TAG_PORT, port, sizeof(port));
    if (req->addrlen > 0)
        p = put_field(p, TAG_ADDR, req->addr, req->addrlen);
    if (req->scope_id != 0)
        p = put_int(p, TAG_SCOPE, req->scope_id);
    if (req->ifname[0] != '\0')
        p = put_field(p, TAG_IFNAME, req->ifname, strlen(req->ifname));
    if (req->backlog > 0)
        p = put_int(p, TAG_BACKLOG, (uint32_t)req->backlog);
    if (req->flags != 0)
        p = put_int(p, TAG_FLAGS, req->flags);
    if (req->netns[0] != '\0')
        p = put_field(p, TAG_NETNS, req->netns, strlen(req->netns));
    if (req->device != PROCKET_DEV_NONE)
        p = put_int(p, TAG_DEVICE, (uint32_t)req->device);

    n = (size_t)(p - tmp);
    if (n > len)
        return -ENOSPC;
    put_header(tmp, KIND_REQUEST, n);
    memcpy(buf, tmp, n);
    return (ssize_t)n;
}

/* Size a field's value must have; 0 for variable-sized fields. */
static size_t field_size(unsigned tag)
{
    switch (tag) {
    case TAG_PORT:
        return 2;
    case TAG_ADDR:
    case TAG_IFNAME:
    case TAG_NETNS:
        return 0;
    default:
        return 4;
    }
}

int procket_request_decode(struct procket_request *req, const void *buf,
                           size_t len)
{
    const unsigned char *p = buf;
    size_t off = HDR_LEN;
    unsigned seen = 0;

    if (req == NULL || buf == NULL)
        return -EINVAL;
    if (check_header(p, len, KIND_REQUEST) < 0)
        return -EPROTO;

    procket_request_init(req);
    while (off < len) {
        unsigned tag;
        size_t flen;
        const unsigned char *v;

        if (len - off < 4)
            return -EPROTO;
        tag = (unsigned)get16(p + off);
        flen = get16(p + off + 2);
        v = p + off + 4;
        off += 4;
        if (tag == 0 || tag > TAG_MAX || (seen & (1u << tag)))
            return -EPROTO;
        seen |= 1u << tag;
        if (flen > len - off)
            return -EPROTO;
        if (field_size(tag) != 0 && flen != field_size(tag))
            return -EPROTO;
        off += flen;

        switch (tag) {
        case TAG_FAMILY:
            req->family = (int32_t)get32(v);
            break;
        case TAG_TYPE:
            req->type = (int32_t)get32(v);
            break;
        case TAG_PROTOCOL:
            req->protocol = (int32_t)get32(v);
            break;
        case TAG_PORT:
            req->port = (int)get16(v);
            break;
        case TAG_ADDR:
            if (flen != 4 && flen != 16)
                return -EPROTO;
            memcpy(req->addr, v, flen);
            req->addrlen = flen;
            break;
        case TAG_SCOPE:
            req->scope_id = get32(v);
            break;
        case TAG_IFNAME:
            if (flen == 0 || flen > PROCKET_IFNAME_MAX ||
                memchr(v, '\0', flen) != NULL)
                return -EPROTO;
            memcpy(req->ifname, v, flen);
            req->ifname[flen] = '\0';
            break;
        case TAG_BACKLOG:
            req->backlog = (int32_t)get32(v);
            break;
        case TAG_FLAGS:
            req->flags = get32(v);
            break;
        case TAG_NETNS:
            if (flen == 0 || flen > PROCKET_NETNS_MAX ||
                memchr(v, '\0', flen) != NULL)
                return -EPROTO;
            memcpy(req->netns, v, flen);
            req->netns[flen] = '\0';
            break;
        case TAG_DEVICE:
            req->device = (int32_t)get32(v);
            break;
        default:
            return -EPROTO;
        }
    }
    /* family, type and protocol must be stated, never assumed */
    if ((seen & (1u << TAG_FAMILY | 1u << TAG_TYPE | 1u << TAG_PROTOCOL |
                 1u << TAG_PORT)) !=
        (1u << TAG_FAMILY | 1u << TAG_TYPE | 1u << TAG_PROTOCOL |
         1u << TAG_PORT))
        return -EPROTO;
    return procket_request_validate(req);
}

#define REPLY_FLAG_SHIFT 16

ssize_t procket_reply_encode_flags(int error, unsigned flags, void *buf, size_t len)
{
    if (buf == NULL || error < 0 || error > 4095 ||
        (flags & ~PROCKET_REPLY_UNPRIVILEGED) != 0 || (flags != 0 && error == 0))
        return -EINVAL;
    if (len < PROCKET_REPLY_LEN)
        return -ENOSPC;
    put_header(buf, KIND_REPLY, PROCKET_REPLY_LEN);
    put32((unsigned char *)buf + HDR_LEN, (uint32_t)error | (uint32_t)flags << REPLY_FLAG_SHIFT);
    return PROCKET_REPLY_LEN;
}

ssize_t procket_reply_encode(int error, void *buf, size_t len)
{
    return procket_reply_encode_flags(error, 0, buf, len);
}

/* The word is the errno (0..4095) in the low 16 bits and the flags above:
 * any other bit, or a flag on a success, is malformed. */
int procket_reply_decode_flags(int *error, unsigned *flags, const void *buf, size_t len)
{
    uint32_t w, e, f;

    if (error == NULL || flags == NULL || buf == NULL)
        return -EINVAL;
    if (len != PROCKET_REPLY_LEN || check_header(buf, len, KIND_REPLY) < 0)
        return -EPROTO;
    w = get32((const unsigned char *)buf + HDR_LEN);
    e = w & 0xffffu;
    f = w >> REPLY_FLAG_SHIFT;
    if (e > 4095 || (f & ~PROCKET_REPLY_UNPRIVILEGED) != 0 || (f != 0 && e == 0))
        return -EPROTO;
    *error = (int)e;
    *flags = f;
    return 0;
}

int procket_reply_decode(int *error, const void *buf, size_t len)
{
    unsigned flags;

    if (error == NULL)
        return -EINVAL;
    return procket_reply_decode_flags(error, &flags, buf, len);
}
