/*
 * test_wire.c - request and reply messages: defaults, validation, encoding,
 * decoding, and the rule that errno is never touched.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "check.h"
#include "testutil.h"
#include "procket.h"

#define ERRNO_MARK 12345

/* Tags and sizes of the wire format (lib/wire.c), spelled out again here
 * so that a change to the format shows up as a failing test. */
enum {
    T_FAMILY = 1,
    T_TYPE = 2,
    T_PROTOCOL = 3,
    T_PORT = 4,
    T_ADDR = 5,
    T_SCOPE = 6,
    T_IFNAME = 7,
    T_BACKLOG = 8,
    T_FLAGS = 9
};


/* ---- a tiny message builder for hand-made (often malformed) messages */

struct msg {
    unsigned char b[PROCKET_MSG_MAX + 64];
    size_t len;
};

static void m_header(struct msg *m, int kind)
{
    memset(m, 0, sizeof(*m));
    m->b[0] = 'P';
    m->b[1] = 'K';
    m->b[2] = PROCKET_WIRE_VERSION;
    m->b[3] = (unsigned char)kind;
    m->len = 8;
}

/* Writes the current length into the header's length field. */
static void m_seal(struct msg *m)
{
    m->b[4] = (unsigned char)(m->len >> 8);
    m->b[5] = (unsigned char)m->len;
}

static void m_raw(struct msg *m, const void *p, size_t n)
{
    memcpy(m->b + m->len, p, n);
    m->len += n;
}

static void m_field(struct msg *m, unsigned tag, const void *v, size_t n)
{
    unsigned char h[4] = {(unsigned char)(tag >> 8), (unsigned char)tag,
                          (unsigned char)(n >> 8), (unsigned char)n};
    m_raw(m, h, 4);
    m_raw(m, v, n);
}

static void m_u32(struct msg *m, unsigned tag, uint32_t v)
{
    unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    m_field(m, tag, b, 4);
}

static void m_u16(struct msg *m, unsigned tag, unsigned v)
{
    unsigned char b[2] = {(unsigned char)(v >> 8), (unsigned char)v};
    m_field(m, tag, b, 2);
}

/* A well-formed UDP request for port 53 on AF_INET, optionally leaving out
 * one of the required fields (skip = its tag) and sealed. */
static void m_udp53(struct msg *m, unsigned skip)
{
    m_header(m, 1);
    if (skip != T_FAMILY)
        m_u32(m, T_FAMILY, AF_INET);
    if (skip != T_TYPE)
        m_u32(m, T_TYPE, SOCK_DGRAM);
    if (skip != T_PROTOCOL)
        m_u32(m, T_PROTOCOL, IPPROTO_UDP);
    if (skip != T_PORT)
        m_u16(m, T_PORT, 53);
    m_seal(m);
}

static int decode(const struct msg *m)
{
    struct procket_request r;
    return procket_request_decode(&r, m->b, m->len);
}

/* ---- requests used by several tests */

static void req_udp53(struct procket_request *r)
{
    procket_request_init(r);
    r->type = SOCK_DGRAM;
    r->protocol = IPPROTO_UDP;
    r->port = 53;
}

static void req_tcp80_v6(struct procket_request *r)
{
    static const unsigned char lo6[16] = {0, 0, 0, 0, 0, 0, 0, 0,
                                          0, 0, 0, 0, 0, 0, 0, 1};
    procket_request_init(r);
    r->family = AF_INET6;
    r->protocol = IPPROTO_TCP;
    r->port = 80;
    memcpy(r->addr, lo6, 16);
    r->addrlen = 16;
    r->backlog = 128;
}

/* ------------------------------------------------------------------ */

TEST(init_defaults)
{
    struct procket_request r;

    memset(&r, 0xa5, sizeof(r));
    errno = ERRNO_MARK;
    procket_request_init(&r);
    CHECK_EQ(r.family, AF_INET);
    CHECK_EQ(r.type, SOCK_STREAM);
    CHECK_EQ(r.protocol, 0);
    CHECK_EQ(r.port, 0);
    CHECK_EQ(r.addrlen, 0);
    CHECK_EQ(r.scope_id, 0);
    CHECK_EQ(r.ifname[0], '\0');
    CHECK_EQ(r.backlog, 0);
    CHECK_EQ(r.flags, 0);
    for (size_t i = 0; i < sizeof(r.addr); i++)
        CHECK_EQ(r.addr[i], 0);
    CHECK_EQ(procket_request_validate(&r), 0);
    procket_request_init(NULL); /* must not crash */
    CHECK_EQ(errno, ERRNO_MARK);
}

TEST(validate_accepts_good_requests)
{
    struct procket_request r;

    errno = ERRNO_MARK;
    req_udp53(&r);
    CHECK_EQ(procket_request_validate(&r), 0);
    req_tcp80_v6(&r);
    CHECK_EQ(procket_request_validate(&r), 0);
    r.scope_id = 3;
    CHECK_EQ(procket_request_validate(&r), 0);
    r.flags = PROCKET_F_DUALSTACK;
    CHECK_EQ(procket_request_validate(&r), 0);

    procket_request_init(&r);
    r.type = SOCK_RAW;
    r.protocol = 255;
    CHECK_EQ(procket_request_validate(&r), 0);
    procket_request_init(&r);
    r.port = 65535;
    r.backlog = PROCKET_BACKLOG_MAX;
    memcpy(r.ifname, "abcdefghijklmno", 16); /* 15 bytes: the limit */
    CHECK_EQ(procket_request_validate(&r), 0);
    memcpy(r.ifname, "eth0.100", 9);
    CHECK_EQ(procket_request_validate(&r), 0);
    memcpy(r.ifname, "...", 4);
    CHECK_EQ(procket_request_validate(&r), 0);
    CHECK_EQ(errno, ERRNO_MARK);
}

TEST(validate_rejects_each_bad_field)
{
    struct procket_request r;
    static const char *const bad_ifnames[] = {
        ".", "..", "-x", "a b", "a/b", "a:b", "a\tb", "a\x7f", "a\x80", "wg%d", "%",
        "\x01"};

    errno = ERRNO_MARK;
    CHECK_EQ(procket_request_validate(NULL), -EINVAL);

    /* family */
    procket_request_init(&r);
    r.family = AF_UNIX;
    CHECK_EQ(procket_request_validate(&r), -EAFNOSUPPORT);
    r.family = 0;
    CHECK_EQ(procket_request_validate(&r), -EAFNOSUPPORT);
    r.family = -1;
    CHECK_EQ(procket_request_validate(&r), -EAFNOSUPPORT);

    /* type */
    procket_request_init(&r);
    r.type = 0;
    CHECK_EQ(procket_request_validate(&r), -EINVAL);
    r.type = SOCK_SEQPACKET;
    CHECK_EQ(procket_request_validate(&r), -EINVAL);
    r.type = SOCK_STREAM | SOCK_CLOEXEC;
    CHECK_EQ(procket_request_validate(&r), -EINVAL);

    /* protocol */
    procket_request_init(&r);
    r.protocol = -1;
    CHECK_EQ(procket_request_validate(&r), -EINVAL);
    r.protocol = 256;
    CHECK_EQ(procket_request_validate(&r), -EINVAL);

    /* port */
    procket_request_init(&r);
    r.port = -1;
    CHECK_EQ(procket_request_validate(&r), -EINVAL);
    r.port = 65536;
    CHECK_EQ(procket_request_validate(&r), -EINVAL);

    /* addrlen must match the family */
    procket_request_init(&r);
    r.addrlen = 16;
    CHECK_EQ(procket_request_validate(&r), -EINVAL);
    r.addrlen = 5;
    CHECK_EQ(procket_request_validate(&r), -EINVAL);
    r.family = AF_INET6;
    r.addrlen = 4;
    CHECK_EQ(procket_request_validate(&r), -EINVAL);
    r.addrlen = 17;
    CHECK_EQ(procket_request_validate(&r), -EINVAL);

    /* scope: AF_INET6 with an address only */
    procket_request_init(&r);
    r.scope_id = 1;
    CHECK_EQ(procket_request_validate(&r), -EINVAL);
    r.addrlen = 4;
    CHECK_EQ(procket_request_validate(&r), -EINVAL);
    procket_request_init(&r);
    r.family = AF_INET6;
    r.scope_id = 1;
    CHECK_EQ(procket_request_validate(&r), -EINVAL);
    r.addrlen = 16;
    CHECK_EQ(procket_request_validate(&r), 0);

    /* ifname */
    for (size_t i = 0; i < sizeof(bad_ifnames) / sizeof(bad_ifnames[0]); i++) {
        procket_request_init(&r);
        strcpy(r.ifname, bad_ifnames[i]);
        if (procket_request_validate(&r) != -EINVAL) {
            fprintf(stderr, "  ifname #%zu accepted\n", i);
            CHECK(0);
        }
    }
    procket_request_init(&r);
    memset(r.ifname, 'a', sizeof(r.ifname)); /* 16 bytes, no NUL */
    CHECK_EQ(procket_request_validate(&r), -EINVAL);

    /* backlog */
    procket_request_init(&r);
    r.backlog = -1;
    CHECK_EQ(procket_request_validate(&r), -EINVAL);
    r.backlog = PROCKET_BACKLOG_MAX + 1;
    CHECK_EQ(procket_request_validate(&r), -EINVAL);
    r.backlog = 1;
    r.type = SOCK_DGRAM;
    CHECK_EQ(procket_request_validate(&r), -EINVAL);
    r.type = SOCK_RAW;
    CHECK_EQ(procket_request_validate(&r), -EINVAL);

    /* flags */
    procket_request_init(&r);
    r.family = AF_INET6;
    r.flags = 0x2;
    CHECK_EQ(procket_request_validate(&r), -EINVAL);
    r.flags = 0x80000000u | PROCKET_F_DUALSTACK;
    CHECK_EQ(procket_request_validate(&r), -EINVAL);
    r.family = AF_INET;
    r.flags = PROCKET_F_DUALSTACK;
    CHECK_EQ(procket_request_validate(&r), -EINVAL);
    r.family = AF_INET6; /* a raw socket has no IPv4 side */
    r.type = SOCK_RAW;
    r.protocol = IPPROTO_ICMPV6;
    CHECK_EQ(procket_request_validate(&r), -EINVAL);
    r.flags = 0;
    CHECK_EQ(procket_request_validate(&r), 0);
    CHECK_EQ(errno, ERRNO_MARK);
}

/* The exact bytes of one request: a change to the format must be noticed. */
/* Packet sockets, devices and namespaces: only what makes sense. */
TEST(validate_new_kinds)
{
    struct procket_request r;

    errno = ERRNO_MARK;
    procket_request_init(&r);
    r.family = AF_PACKET;
    r.type = SOCK_RAW;
    CHECK_EQ(procket_request_validate(&r), 0);
    r.type = SOCK_STREAM;
    CHECK_EQ(procket_request_validate(&r), -EINVAL);
    r.type = SOCK_DGRAM;
    r.protocol = 65536;
    CHECK_EQ(procket_request_validate(&r), -EINVAL);
    r.protocol = -1;
    CHECK_EQ(procket_request_validate(&r), -EINVAL);
    r.protocol = 8;
    r.port = 1;
    CHECK_EQ(procket_request_validate(&r), -EINVAL);
    r.port = 0;
    r.addrlen = 4;
    CHECK_EQ(procket_request_validate(&r), -EINVAL);
    r.addrlen = 0;
    r.flags = PROCKET_F_TUN_PI;
    CHECK_EQ(procket_request_validate(&r), -EINVAL);

    procket_request_init(&r); /* a device keeps no socket fields */
    r.device = PROCKET_DEV_TUN;
    CHECK_EQ(procket_request_validate(&r), -EINVAL); /* AF_INET, STREAM */
    r.family = AF_UNSPEC;
    r.type = 0;
    CHECK_EQ(procket_request_validate(&r), 0);
    r.port = 80;
    CHECK_EQ(procket_request_validate(&r), -EINVAL);
    r.port = 0;
    r.flags = PROCKET_F_DUALSTACK;
    CHECK_EQ(procket_request_validate(&r), -EINVAL);
    r.flags = PROCKET_F_TUN_PI;
    CHECK_EQ(procket_request_validate(&r), 0);
    r.device = PROCKET_DEV_TUN_CLONE; /* no flags, no name */
    CHECK_EQ(procket_request_validate(&r), -EINVAL);
    r.flags = 0;
    CHECK_EQ(procket_request_validate(&r), 0);
    memcpy(r.ifname, "tun0", 5);
    CHECK_EQ(procket_request_validate(&r), -EINVAL);
    r.ifname[0] = '\0';
    r.device = 4;
    CHECK_EQ(procket_request_validate(&r), -EINVAL);
    r.device = -1;
    CHECK_EQ(procket_request_validate(&r), -EINVAL);

    procket_request_init(&r); /* TUN_PI is for devices only */
    r.flags = PROCKET_F_TUN_PI;
    CHECK_EQ(procket_request_validate(&r), -EINVAL);

    /* namespace names: one plain file name under /run/netns */
    static const char *bad[] = {".", "..", ".hidden", "-x", "a/b", "../x",
                                "a b", "a\tb", "a;b", "$(x)", "\xc3\xa9"};
    static const char *good[] = {"blue", "ns-1", "a.b", "A_9", "x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        procket_request_init(&r);
        strcpy(r.netns, bad[i]);
        CHECK_EQ(procket_request_validate(&r), -EINVAL);
    }
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        procket_request_init(&r);
        strcpy(r.netns, good[i]);
        CHECK_EQ(procket_request_validate(&r), 0);
    }
    procket_request_init(&r);
    memset(r.netns, 'n', sizeof(r.netns)); /* no NUL within the array */
    CHECK_EQ(procket_request_validate(&r), -EINVAL);
    CHECK_EQ(errno, ERRNO_MARK);
}

TEST(encode_known_bytes)
{
    static const unsigned char want[] = {
        'P', 'K', 1, 1, 0, 38, 0, 0,  /* header, 38 bytes */
        0, 1, 0, 4, 0, 0, 0, AF_INET, /* family */
        0, 2, 0, 4, 0, 0, 0, SOCK_DGRAM,
        0, 3, 0, 4, 0, 0, 0, IPPROTO_UDP,
        0, 4, 0, 2, 0, 53}; /* port */
    struct procket_request r;
    unsigned char buf[PROCKET_MSG_MAX];

    errno = ERRNO_MARK;
    req_udp53(&r);
    CHECK_EQ(procket_request_encode(&r, buf, sizeof(buf)), sizeof(want));
    CHECK(memcmp(buf, want, sizeof(want)) == 0);
    CHECK_EQ(procket_request_decode(&r, want, sizeof(want)), 0);
    CHECK_EQ(r.family, AF_INET);
    CHECK_EQ(r.type, SOCK_DGRAM);
    CHECK_EQ(r.protocol, IPPROTO_UDP);
    CHECK_EQ(r.port, 53);
    CHECK_EQ(errno, ERRNO_MARK);
}

TEST(round_trip_many)
{
    struct procket_request reqs[24], out;
    unsigned char buf[PROCKET_MSG_MAX];
    size_t n = 0;

    procket_request_init(&reqs[n]); /* packet socket, every ethertype */
    reqs[n].family = AF_PACKET;
    reqs[n].type = SOCK_RAW;
    reqs[n++].protocol = htons(0x0003);

    procket_request_init(&reqs[n]); /* packet dgram on an interface */
    reqs[n].family = AF_PACKET;
    reqs[n].type = SOCK_DGRAM;
    reqs[n].protocol = 65535;
    strcpy(reqs[n++].ifname, "veth0");

    procket_request_init(&reqs[n]); /* tun with a name, in a namespace */
    reqs[n].device = PROCKET_DEV_TUN;
    reqs[n].family = AF_UNSPEC;
    reqs[n].type = 0;
    strcpy(reqs[n].ifname, "tun7");
    strcpy(reqs[n++].netns, "blue");

    procket_request_init(&reqs[n]); /* tap, kernel's name, with PI */
    reqs[n].device = PROCKET_DEV_TAP;
    reqs[n].family = AF_UNSPEC;
    reqs[n].type = 0;
    reqs[n++].flags = PROCKET_F_TUN_PI;

    req_udp53(&reqs[n]); /* longest namespace name */
    memset(reqs[n].netns, 'n', PROCKET_NETNS_MAX);
    reqs[n++].netns[PROCKET_NETNS_MAX] = '\0';

    req_udp53(&reqs[n++]);
    req_tcp80_v6(&reqs[n++]);

    procket_request_init(&reqs[n++]); /* all defaults */

    procket_request_init(&reqs[n]); /* IPv4 address */
    memcpy(reqs[n].addr, "\x7f\x00\x00\x01", 4);
    reqs[n].addrlen = 4;
    reqs[n++].port = 65535;

    req_tcp80_v6(&reqs[n]); /* link-local with scope */
    memcpy(reqs[n].addr, "\xfe\x80\0\0\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
    reqs[n++].scope_id = 0xfffffffeu;

    req_tcp80_v6(&reqs[n]); /* dual stack, wildcard */
    reqs[n].addrlen = 0;
    memset(reqs[n].addr, 0, 16);
    reqs[n++].flags = PROCKET_F_DUALSTACK;

    req_udp53(&reqs[n]); /* interface, longest name */
    strcpy(reqs[n++].ifname, "abcdefghijklmno");

    req_udp53(&reqs[n]); /* short interface name */
    strcpy(reqs[n++].ifname, "e");

    procket_request_init(&reqs[n]); /* raw ICMP */
    reqs[n].type = SOCK_RAW;
    reqs[n++].protocol = IPPROTO_ICMP;

    procket_request_init(&reqs[n]); /* raw ICMPv6 on inet6 */
    reqs[n].family = AF_INET6;
    reqs[n].type = SOCK_RAW;
    reqs[n++].protocol = IPPROTO_ICMPV6;

    procket_request_init(&reqs[n]); /* largest backlog */
    reqs[n++].backlog = PROCKET_BACKLOG_MAX;

    procket_request_init(&reqs[n]); /* backlog 1 */
    reqs[n++].backlog = 1;

    req_tcp80_v6(&reqs[n]); /* everything at once */
    memcpy(reqs[n].addr, "\xfe\x80\0\0\0\0\0\0\x02\x11\x22\xff\xfe\x33\x44\x55",
           16);
    reqs[n].scope_id = 2;
    strcpy(reqs[n].ifname, "eth0");
    reqs[n].flags = PROCKET_F_DUALSTACK;
    reqs[n].protocol = 255;
    reqs[n++].backlog = 7;

    errno = ERRNO_MARK;
    for (size_t i = 0; i < n; i++) {
        ssize_t len;
        CHECK_EQ(procket_request_validate(&reqs[i]), 0);
        len = procket_request_encode(&reqs[i], buf, sizeof(buf));
        CHECK(len >= 38 && len <= PROCKET_MSG_MAX);
        if (len < 38)
            fprintf(stderr, "  request #%zu: %zd\n", i, len);
        if (len < 0)
            continue;
        /* the header announces the length */
        CHECK_EQ(buf[4] << 8 | buf[5], len);
        memset(&out, 0x5a, sizeof(out));
        CHECK_EQ(procket_request_decode(&out, buf, (size_t)len), 0);
        if (!request_equal(&out, &reqs[i])) {
            fprintf(stderr, "  request #%zu changed in the round trip\n", i);
            CHECK(0);
        }
        /* exactly the needed size suffices, one byte less does not */
        unsigned char small[PROCKET_MSG_MAX];
        CHECK_EQ(procket_request_encode(&reqs[i], small, (size_t)len), len);
        CHECK(memcmp(small, buf, (size_t)len) == 0);
        CHECK_EQ(procket_request_encode(&reqs[i], small, (size_t)len - 1),
                 -ENOSPC);
    }
    CHECK_EQ(errno, ERRNO_MARK);
}

TEST(encode_errors)
{
    struct procket_request r;
    unsigned char buf[PROCKET_MSG_MAX];

    errno = ERRNO_MARK;
    req_udp53(&r);
    CHECK_EQ(procket_request_encode(NULL, buf, sizeof(buf)), -EINVAL);
    CHECK_EQ(procket_request_encode(&r, NULL, sizeof(buf)), -EINVAL);
    CHECK_EQ(procket_request_encode(&r, buf, 0), -ENOSPC);
    CHECK_EQ(procket_request_encode(&r, buf, 8), -ENOSPC);
    CHECK_EQ(procket_request_encode(&r, buf, 37), -ENOSPC);
    CHECK_EQ(procket_request_encode(&r, buf, 38), 38);
    r.port = 70000;
    CHECK_EQ(procket_request_encode(&r, buf, sizeof(buf)), -EINVAL);
    req_udp53(&r);
    r.family = AF_UNIX;
    CHECK_EQ(procket_request_encode(&r, buf, sizeof(buf)), -EAFNOSUPPORT);
    req_udp53(&r);
    r.backlog = 5; /* on a dgram socket */
    CHECK_EQ(procket_request_encode(&r, buf, sizeof(buf)), -EINVAL);
    CHECK_EQ(errno, ERRNO_MARK);
}

TEST(decode_bad_arguments)
{
    struct procket_request r;
    struct msg m;

    errno = ERRNO_MARK;
    m_udp53(&m, 0);
    CHECK_EQ(procket_request_decode(&r, m.b, m.len), 0);
    CHECK_EQ(procket_request_decode(NULL, m.b, m.len), -EINVAL);
    CHECK_EQ(procket_request_decode(&r, NULL, m.len), -EINVAL);
    CHECK_EQ(errno, ERRNO_MARK);
}

TEST(decode_rejects_bad_length)
{
    struct procket_request r;
    struct msg m;
    unsigned char big[PROCKET_MSG_MAX + 1];

    errno = ERRNO_MARK;
    m_udp53(&m, 0);
    for (size_t n = 0; n < m.len; n++) /* every short prefix */
        CHECK_EQ(procket_request_decode(&r, m.b, n), -EPROTO);
    /* one trailing byte more than the header says */
    CHECK_EQ(procket_request_decode(&r, m.b, m.len + 1), -EPROTO);

    /* longer than PROCKET_MSG_MAX, even with a matching length field and
     * a valid request in front */
    memset(big, 0, sizeof(big));
    memcpy(big, m.b, m.len);
    big[4] = (unsigned char)(sizeof(big) >> 8);
    big[5] = (unsigned char)sizeof(big);
    CHECK_EQ(procket_request_decode(&r, big, sizeof(big)), -EPROTO);

    /* length field larger or smaller than the buffer */
    m_udp53(&m, 0);
    m.b[5]++;
    CHECK_EQ(decode(&m), -EPROTO);
    m.b[5] -= 2;
    CHECK_EQ(decode(&m), -EPROTO);
    m_udp53(&m, 0);
    m.b[4] = 1; /* 256 + 38 */
    CHECK_EQ(decode(&m), -EPROTO);
    CHECK_EQ(errno, ERRNO_MARK);
}

TEST(decode_rejects_bad_header)
{
    struct msg m;

    errno = ERRNO_MARK;
    m_udp53(&m, 0);
    CHECK_EQ(decode(&m), 0);
    m.b[0] = 'p';
    CHECK_EQ(decode(&m), -EPROTO);
    m_udp53(&m, 0);
    m.b[1] = 'k';
    CHECK_EQ(decode(&m), -EPROTO);
    m_udp53(&m, 0);
    m.b[2] = 0;
    CHECK_EQ(decode(&m), -EPROTO);
    m.b[2] = PROCKET_WIRE_VERSION + 1;
    CHECK_EQ(decode(&m), -EPROTO);
    m_udp53(&m, 0);
    m.b[3] = 2; /* a reply */
    CHECK_EQ(decode(&m), -EPROTO);
    m.b[3] = 0;
    CHECK_EQ(decode(&m), -EPROTO);
    m.b[3] = 3;
    CHECK_EQ(decode(&m), -EPROTO);
    m_udp53(&m, 0);
    m.b[6] = 1;
    CHECK_EQ(decode(&m), -EPROTO);
    m_udp53(&m, 0);
    m.b[7] = 0x80;
    CHECK_EQ(decode(&m), -EPROTO);
    CHECK_EQ(errno, ERRNO_MARK);
}

TEST(decode_rejects_bad_fields)
{
    static const unsigned tags[] = {T_FAMILY, T_TYPE, T_PROTOCOL, T_PORT,
                                    T_ADDR,   T_SCOPE, T_IFNAME, T_BACKLOG,
                                    T_FLAGS};
    struct msg m;
    unsigned char zeros[32] = {0};

    errno = ERRNO_MARK;

    /* unknown tags */
    static const unsigned unknown[] = {0, 12, 13, 0x100, 0xffff};
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        m_udp53(&m, 0);
        m_u32(&m, unknown[i], 0);
        m_seal(&m);
        CHECK_EQ(decode(&m), -EPROTO);
    }

    /* every tag repeated (with a value that is fine on its own) */
    for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
        m_udp53(&m, 0);
        switch (tags[i]) {
        case T_FAMILY:
            m_u32(&m, T_FAMILY, AF_INET);
            break;
        case T_TYPE:
            m_u32(&m, T_TYPE, SOCK_DGRAM);
            break;
        case T_PROTOCOL:
            m_u32(&m, T_PROTOCOL, IPPROTO_UDP);
            break;
        case T_PORT:
            m_u16(&m, T_PORT, 53);
            break;
        case T_ADDR:
            m_field(&m, T_ADDR, "\x7f\0\0\1", 4);
            m_field(&m, T_ADDR, "\x7f\0\0\1", 4);
            break;
        case T_SCOPE: /* AF_INET6 would be needed; repetition comes first */
            m_u32(&m, T_SCOPE, 0);
            m_u32(&m, T_SCOPE, 0);
            break;
        case T_IFNAME:
            m_field(&m, T_IFNAME, "lo", 2);
            m_field(&m, T_IFNAME, "lo", 2);
            break;
        case T_BACKLOG:
            m_u32(&m, T_BACKLOG, 0);
            m_u32(&m, T_BACKLOG, 0);
            break;
        case T_FLAGS:
            m_u32(&m, T_FLAGS, 0);
            m_u32(&m, T_FLAGS, 0);
            break;
        }
        m_seal(&m);
        if (decode(&m) != -EPROTO) {
            fprintf(stderr, "  repeated tag %u accepted\n", tags[i]);
            CHECK(0);
        }
    }

    /* wrong sizes for fixed-size fields */
    static const struct {
        unsigned tag;
        size_t len;
    } sizes[] = {{T_FAMILY, 0}, {T_FAMILY, 2}, {T_FAMILY, 8}, {T_TYPE, 3},
                 {T_PROTOCOL, 5}, {T_PORT, 4}, {T_PORT, 1}, {T_SCOPE, 2},
                 {T_BACKLOG, 0}, {T_FLAGS, 1}, {T_ADDR, 0}, {T_ADDR, 5},
                 {T_ADDR, 6}, {T_ADDR, 15}, {T_ADDR, 17}};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        unsigned skip = sizes[i].tag <= T_PORT ? sizes[i].tag : 0;
        m_udp53(&m, skip);
        m_field(&m, sizes[i].tag, zeros, sizes[i].len);
        m_seal(&m);
        if (decode(&m) != -EPROTO) {
            fprintf(stderr, "  tag %u with %zu bytes accepted\n",
                    sizes[i].tag, sizes[i].len);
            CHECK(0);
        }
    }

    /* a field running past the end; 1 to 3 stray bytes after the fields */
    m_udp53(&m, 0);
    m_raw(&m, "\x00\x08\x00\x04\x00\x00", 6); /* backlog: 2 of 4 bytes */
    m_seal(&m);
    CHECK_EQ(decode(&m), -EPROTO);
    m_udp53(&m, 0);
    m_raw(&m, "\x00\x07\xff\xff" "abc", 7); /* ifname of 65535 bytes */
    m_seal(&m);
    CHECK_EQ(decode(&m), -EPROTO);
    for (size_t extra = 1; extra <= 3; extra++) {
        m_udp53(&m, 0);
        m_raw(&m, zeros, extra);
        m_seal(&m);
        CHECK_EQ(decode(&m), -EPROTO);
    }

    /* each required field missing alone */
    for (unsigned t = T_FAMILY; t <= T_PORT; t++) {
        m_udp53(&m, t);
        CHECK_EQ(decode(&m), -EPROTO);
    }
    m_header(&m, 1); /* the header alone */
    m_seal(&m);
    CHECK_EQ(decode(&m), -EPROTO);

    /* interface names: NUL inside or at the end, empty, too long */
    m_udp53(&m, 0);
    m_field(&m, T_IFNAME, "e\0th", 4);
    m_seal(&m);
    CHECK_EQ(decode(&m), -EPROTO);
    m_udp53(&m, 0);
    m_field(&m, T_IFNAME, "eth0", 5); /* with its NUL */
    m_seal(&m);
    CHECK_EQ(decode(&m), -EPROTO);
    m_udp53(&m, 0);
    m_field(&m, T_IFNAME, "", 0);
    m_seal(&m);
    CHECK_EQ(decode(&m), -EPROTO);
    m_udp53(&m, 0);
    m_field(&m, T_IFNAME, "abcdefghijklmnop", 16);
    m_seal(&m);
    CHECK_EQ(decode(&m), -EPROTO);
    m_udp53(&m, 0);
    m_field(&m, T_IFNAME, "abcdefghijklmno", 15);
    m_seal(&m);
    CHECK_EQ(decode(&m), 0);
    CHECK_EQ(errno, ERRNO_MARK);
}

/* Well-formed messages whose content procket_request_validate() refuses
 * give its error. */
TEST(decode_validates)
{
    struct procket_request r;
    struct msg m;

    errno = ERRNO_MARK;
    m_udp53(&m, T_FAMILY);
    m_u32(&m, T_FAMILY, AF_UNIX);
    m_seal(&m);
    CHECK_EQ(decode(&m), -EAFNOSUPPORT);
    m_udp53(&m, T_FAMILY);
    m_u32(&m, T_FAMILY, 0xffffffffu);
    m_seal(&m);
    CHECK_EQ(decode(&m), -EAFNOSUPPORT);

    m_udp53(&m, T_TYPE);
    m_u32(&m, T_TYPE, SOCK_SEQPACKET);
    m_seal(&m);
    CHECK_EQ(decode(&m), -EINVAL);
    m_udp53(&m, T_PROTOCOL);
    m_u32(&m, T_PROTOCOL, 256);
    m_seal(&m);
    CHECK_EQ(decode(&m), -EINVAL);
    m_udp53(&m, T_PROTOCOL);
    m_u32(&m, T_PROTOCOL, 0x80000000u);
    m_seal(&m);
    CHECK_EQ(decode(&m), -EINVAL);

    m_udp53(&m, 0); /* 16-byte address on AF_INET */
    m_field(&m, T_ADDR, "0123456789abcdef", 16);
    m_seal(&m);
    CHECK_EQ(decode(&m), -EINVAL);
    m_udp53(&m, 0); /* scope on AF_INET */
    m_field(&m, T_ADDR, "\x7f\0\0\1", 4);
    m_u32(&m, T_SCOPE, 1);
    m_seal(&m);
    CHECK_EQ(decode(&m), -EINVAL);
    m_udp53(&m, 0); /* backlog on a dgram socket */
    m_u32(&m, T_BACKLOG, 1);
    m_seal(&m);
    CHECK_EQ(decode(&m), -EINVAL);
    m_udp53(&m, 0);
    m_u32(&m, T_FLAGS, 2);
    m_seal(&m);
    CHECK_EQ(decode(&m), -EINVAL);
    m_udp53(&m, 0); /* dual stack on AF_INET */
    m_u32(&m, T_FLAGS, PROCKET_F_DUALSTACK);
    m_seal(&m);
    CHECK_EQ(decode(&m), -EINVAL);
    m_udp53(&m, 0);
    m_field(&m, T_IFNAME, "../x", 4);
    m_seal(&m);
    CHECK_EQ(decode(&m), -EINVAL);

    /* a hand-made AF_INET6 request with address and scope decodes */
    m_header(&m, 1);
    m_u32(&m, T_FAMILY, AF_INET6);
    m_u32(&m, T_TYPE, SOCK_STREAM);
    m_u32(&m, T_PROTOCOL, 0);
    m_u16(&m, T_PORT, 8080);
    m_field(&m, T_ADDR, "\xfe\x80\0\0\0\0\0\0\0\0\0\0\0\0\0\x09", 16);
    m_u32(&m, T_SCOPE, 4);
    m_u32(&m, T_BACKLOG, 10);
    m_seal(&m);
    CHECK_EQ(procket_request_decode(&r, m.b, m.len), 0);
    CHECK_EQ(r.family, AF_INET6);
    CHECK_EQ(r.port, 8080);
    CHECK_EQ(r.addrlen, 16);
    CHECK_EQ(r.addr[15], 9);
    CHECK_EQ(r.scope_id, 4);
    CHECK_EQ(r.backlog, 10);
    CHECK_EQ(errno, ERRNO_MARK);
}

TEST(reply_round_trip)
{
    static const unsigned char ok[PROCKET_REPLY_LEN] = {
        'P', 'K', 1, 2, 0, 12, 0, 0, 0, 0, 0, 0};
    unsigned char buf[PROCKET_REPLY_LEN + 4];
    static const int errors[] = {0, 1, EACCES, EADDRINUSE, EPERM, 4095};
    int e;

    errno = ERRNO_MARK;
    CHECK_EQ(procket_reply_encode(0, buf, sizeof(buf)), PROCKET_REPLY_LEN);
    CHECK(memcmp(buf, ok, sizeof(ok)) == 0);
    for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++) {
        CHECK_EQ(procket_reply_encode(errors[i], buf, PROCKET_REPLY_LEN),
                 PROCKET_REPLY_LEN);
        CHECK_EQ(buf[8] << 24 | buf[9] << 16 | buf[10] << 8 | buf[11],
                 errors[i]);
        e = -1;
        CHECK_EQ(procket_reply_decode(&e, buf, PROCKET_REPLY_LEN), 0);
        CHECK_EQ(e, errors[i]);
    }
    CHECK_EQ(errno, ERRNO_MARK);
}

/* The reply's flags: PROCKET_REPLY_UNPRIVILEGED beside an errno, in the
 * word's upper half; never on a success, no other bit. */
TEST(reply_flags)
{
    unsigned char buf[PROCKET_REPLY_LEN];
    unsigned flags;
    int e;

    errno = ERRNO_MARK;
    CHECK_EQ(procket_reply_encode_flags(EACCES, PROCKET_REPLY_UNPRIVILEGED, buf, sizeof(buf)),
             PROCKET_REPLY_LEN);
    CHECK_EQ(buf[8] << 24 | buf[9] << 16 | buf[10] << 8 | buf[11], 0x10000 | EACCES);
    flags = 99;
    CHECK_EQ(procket_reply_decode_flags(&e, &flags, buf, sizeof(buf)), 0);
    CHECK_EQ(e, EACCES);
    CHECK_EQ(flags, PROCKET_REPLY_UNPRIVILEGED);
    e = 0;
    CHECK_EQ(procket_reply_decode(&e, buf, sizeof(buf)), 0); /* flags not reported */
    CHECK_EQ(e, EACCES);
    CHECK_EQ(procket_reply_encode_flags(EPERM, 0, buf, sizeof(buf)), PROCKET_REPLY_LEN);
    CHECK_EQ(procket_reply_decode_flags(&e, &flags, buf, sizeof(buf)), 0);
    CHECK_EQ(flags, 0u);
    CHECK_EQ(e, EPERM);
    /* not on success, no unknown flag */
    CHECK_EQ(procket_reply_encode_flags(0, PROCKET_REPLY_UNPRIVILEGED, buf, sizeof(buf)),
             -EINVAL);
    CHECK_EQ(procket_reply_encode_flags(EACCES, 2, buf, sizeof(buf)), -EINVAL);
    CHECK_EQ(procket_reply_decode_flags(&e, NULL, buf, sizeof(buf)), -EINVAL);
    static const unsigned char bad[][4] = {{0, 1, 0, 0}, {0, 2, 0, 13}, {1, 0, 0, 13},
                                           {0, 3, 0, 13}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_EQ(procket_reply_encode(EACCES, buf, sizeof(buf)), PROCKET_REPLY_LEN);
        memcpy(buf + 8, bad[i], 4);
        CHECK_EQ(procket_reply_decode_flags(&e, &flags, buf, sizeof(buf)), -EPROTO);
        CHECK_EQ(procket_reply_decode(&e, buf, sizeof(buf)), -EPROTO);
    }
    CHECK_EQ(errno, ERRNO_MARK);
}

TEST(reply_errors)
{
    unsigned char buf[PROCKET_REPLY_LEN + 4];
    unsigned char good[PROCKET_REPLY_LEN];
    int e;

    errno = ERRNO_MARK;
    CHECK_EQ(procket_reply_encode(-1, buf, sizeof(buf)), -EINVAL);
    CHECK_EQ(procket_reply_encode(4096, buf, sizeof(buf)), -EINVAL);
    CHECK_EQ(procket_reply_encode(4095, buf, sizeof(buf)), PROCKET_REPLY_LEN);
    CHECK_EQ(procket_reply_encode(0, NULL, sizeof(buf)), -EINVAL);
    CHECK_EQ(procket_reply_encode(0, buf, PROCKET_REPLY_LEN - 1), -ENOSPC);
    CHECK_EQ(procket_reply_encode(0, buf, 0), -ENOSPC);

    CHECK_EQ(procket_reply_encode(EACCES, good, sizeof(good)),
             PROCKET_REPLY_LEN);
    CHECK_EQ(procket_reply_decode(NULL, good, sizeof(good)), -EINVAL);
    CHECK_EQ(procket_reply_decode(&e, NULL, sizeof(good)), -EINVAL);

    /* wrong sizes, with the length field matching or not */
    for (size_t n = 0; n < PROCKET_REPLY_LEN; n++)
        CHECK_EQ(procket_reply_decode(&e, good, n), -EPROTO);
    memcpy(buf, good, sizeof(good));
    buf[12] = 0;
    CHECK_EQ(procket_reply_decode(&e, buf, 13), -EPROTO);
    buf[5] = 13;
    CHECK_EQ(procket_reply_decode(&e, buf, 13), -EPROTO);
    buf[5] = 8;
    CHECK_EQ(procket_reply_decode(&e, buf, 8), -EPROTO);

    /* each header byte wrong */
    static const struct {
        size_t off;
        unsigned char v;
    } bad[] = {{0, 'X'}, {1, 'X'}, {2, 0}, {2, 2}, {3, 1}, {3, 0},
               {3, 3},   {4, 1}, {5, 11}, {5, 13}, {6, 1}, {7, 1}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memcpy(buf, good, sizeof(good));
        buf[bad[i].off] = bad[i].v;
        CHECK_EQ(procket_reply_decode(&e, buf, PROCKET_REPLY_LEN), -EPROTO);
    }

    /* errno out of range: negative, or beyond the kernel's 4095 */
    static const unsigned char out[][4] = {
        {0xff, 0xff, 0xff, 0xff}, {0x80, 0, 0, 0}, {0, 0, 0x10, 0x00},
        {0x7f, 0xff, 0xff, 0xff}};
    for (size_t i = 0; i < sizeof(out) / sizeof(out[0]); i++) {
        memcpy(buf, good, sizeof(good));
        memcpy(buf + 8, out[i], 4);
        e = 77;
        CHECK_EQ(procket_reply_decode(&e, buf, PROCKET_REPLY_LEN), -EPROTO);
    }
    /* a request is not a reply */
    struct msg m;
    m_udp53(&m, 0);
    CHECK_EQ(procket_reply_decode(&e, m.b, m.len), -EPROTO);
    CHECK_EQ(procket_reply_decode(&e, m.b, PROCKET_REPLY_LEN), -EPROTO);
    CHECK_EQ(errno, ERRNO_MARK);
}

int main(void)
{
    RUN(init_defaults);
    RUN(validate_accepts_good_requests);
    RUN(validate_rejects_each_bad_field);
    RUN(validate_new_kinds);
    RUN(encode_known_bytes);
    RUN(round_trip_many);
    RUN(encode_errors);
    RUN(decode_bad_arguments);
    RUN(decode_rejects_bad_length);
    RUN(decode_rejects_bad_header);
    RUN(decode_rejects_bad_fields);
    RUN(decode_validates);
    RUN(reply_round_trip);
    RUN(reply_flags);
    RUN(reply_errors);
    return check_summary("test_wire");
}
