/*
 * test_policy.c - procket.conf(5): parsing, the built-in default, first
 * match, every condition, users and groups. The helper's policy code is
 * compiled in directly; names resolve through a fixed table.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "procket.h"
#include "helper.h"

void say(const char *where, const char *fmt, ...)
{
    (void)where;
    (void)fmt;
}

static int resolve(int who, const char *name, uint32_t *id)
{
    if (who == POLICY_WHO_UID && strcmp(name, "alice") == 0)
        *id = 1000;
    else if (who == POLICY_WHO_GID && strcmp(name, "netlab") == 0)
        *id = 300;
    else
        return -1;
    return 0;
}

static struct policy pol;

/* The interfaces where the requests are made: b0 has the altname ALTB0,
 * eth0 the altname enp0s1; anything else does not exist. */
static unsigned ifindex_of(const char *name)
{
    static const struct {
        const char *name;
        unsigned index;
    } ifs[] = {{"lo", 1},    {"eth0", 2},  {"enp0s1", 2}, {"eth1", 3}, {"veth0", 4},
               {"veth1", 5}, {"eth9", 6},  {"if#1", 7},   {"#x", 8},   {"if", 9},
               {"if2", 10},  {"b0", 11},   {"ALTB0", 11}, {"a0", 12}};

    for (size_t i = 0; i < sizeof(ifs) / sizeof(ifs[0]); i++)
        if (strcmp(ifs[i].name, name) == 0)
            return ifs[i].index;
    return 0;
}

static int parse(const char *text)
{
    int bad = -1;
    int rc = policy_parse(&pol, text, strlen(text), resolve, &bad);
    return rc == 0 ? 0 : bad;
}

static struct identity alice(void)
{
    struct identity w;
    memset(&w, 0, sizeof(w));
    w.uid = 1000;
    w.gid = 1000;
    w.groups = w.few;
    return w;
}

static struct procket_request inet(int type, int proto, int port, const char *addr)
{
    struct procket_request r;
    procket_request_init(&r);
    r.type = type;
    r.protocol = proto;
    r.port = port;
    if (addr != NULL) {
        if (inet_pton(AF_INET, addr, r.addr) == 1) {
            r.addrlen = 4;
        } else {
            r.family = AF_INET6;
            r.addrlen = 16;
            (void)inet_pton(AF_INET6, addr, r.addr);
        }
    }
    return r;
}

static struct procket_request udp(int port) { return inet(SOCK_DGRAM, 0, port, NULL); }

static struct procket_request packet(const char *ifname)
{
    struct procket_request r;
    procket_request_init(&r);
    r.family = AF_PACKET;
    r.type = SOCK_RAW;
    r.protocol = (int)htons(0x0003); /* ETH_P_ALL, as socket(2) takes it */
    (void)snprintf(r.ifname, sizeof(r.ifname), "%s", ifname);
    return r;
}

static struct procket_request device(int dev, const char *name)
{
    struct procket_request r;
    procket_request_init(&r);
    r.family = AF_UNSPEC;
    r.type = 0;
    r.device = dev;
    (void)snprintf(r.ifname, sizeof(r.ifname), "%s", name);
    return r;
}

static struct procket_request in_ns(struct procket_request r, const char *ns)
{
    (void)snprintf(r.netns, sizeof(r.netns), "%s", ns);
    return r;
}

static int decide(const struct identity *w, struct procket_request r)
{
    char why[128];
    int ok = policy_decide(&pol, w, &r, ifindex_of, why, sizeof(why), NULL);
    CHECK(ok || why[0] != '\0');
    return ok;
}

TEST(kinds_of_requests)
{
    struct procket_request r = inet(SOCK_RAW, IPPROTO_ICMP, 0, NULL);
    CHECK_EQ(policy_kind(&r), POLICY_K_ICMP);
    r = inet(SOCK_RAW, IPPROTO_ICMPV6, 0, "::1");
    CHECK_EQ(policy_kind(&r), POLICY_K_ICMP);
    r = inet(SOCK_RAW, IPPROTO_ICMPV6, 0, NULL); /* ICMPv6 on AF_INET: raw */
    CHECK_EQ(policy_kind(&r), POLICY_K_RAW);
    r = inet(SOCK_RAW, IPPROTO_RAW, 0, NULL);
    CHECK_EQ(policy_kind(&r), POLICY_K_RAW);
    r = inet(SOCK_STREAM, 0, 80, NULL);
    CHECK_EQ(policy_kind(&r), POLICY_K_TCP);
    r = inet(SOCK_DGRAM, 0, 53, NULL);
    CHECK_EQ(policy_kind(&r), POLICY_K_UDP);
    r = inet(SOCK_STREAM, IPPROTO_SCTP, 80, NULL);
    CHECK_EQ(policy_kind(&r), POLICY_K_SCTP);
    r = inet(SOCK_DGRAM, IPPROTO_UDPLITE, 80, NULL);
    CHECK_EQ(policy_kind(&r), POLICY_K_UDPLITE);
    r = inet(SOCK_DGRAM, IPPROTO_ICMP, 0, NULL); /* a ping socket */
    CHECK_EQ(policy_kind(&r), POLICY_K_IP);
    r = packet("eth0");
    CHECK_EQ(policy_kind(&r), POLICY_K_PACKET);
    r = device(PROCKET_DEV_TUN, "");
    CHECK_EQ(policy_kind(&r), POLICY_K_TUN);
    r = device(PROCKET_DEV_TAP, "");
    CHECK_EQ(policy_kind(&r), POLICY_K_TAP);
    r = device(PROCKET_DEV_TUN_CLONE, "");
    CHECK_EQ(policy_kind(&r), POLICY_K_TUN);
}

/* No file: TCP/UDP/SCTP/UDP-Lite on any port but 512-1023, raw ICMP;
 * nothing else, nothing in a namespace. */
TEST(the_default)
{
    struct identity a = alice();

    CHECK_EQ(parse(""), 0);
    CHECK(decide(&a, udp(53)));
    CHECK(decide(&a, inet(SOCK_STREAM, 0, 80, "192.0.2.1")));
    CHECK(decide(&a, inet(SOCK_STREAM, IPPROTO_SCTP, 511, NULL)));
    CHECK(decide(&a, udp(1024)));
    CHECK(decide(&a, udp(0)));
    CHECK(!decide(&a, udp(512)));
    CHECK(!decide(&a, udp(1023)));
    CHECK(!decide(&a, inet(SOCK_STREAM, 0, 600, NULL)));
    CHECK(decide(&a, inet(SOCK_RAW, IPPROTO_ICMP, 0, NULL)));
    CHECK(decide(&a, inet(SOCK_RAW, IPPROTO_ICMPV6, 0, "::")));
    CHECK(!decide(&a, inet(SOCK_RAW, IPPROTO_RAW, 0, NULL)));
    CHECK(!decide(&a, inet(SOCK_RAW, IPPROTO_UDP, 0, NULL)));
    CHECK(!decide(&a, packet("")));
    CHECK(!decide(&a, device(PROCKET_DEV_TUN, "")));
    CHECK(!decide(&a, device(PROCKET_DEV_TUN_CLONE, "")));
    CHECK(!decide(&a, device(PROCKET_DEV_TAP, "tap0")));
    CHECK(!decide(&a, in_ns(udp(53), "lab")));
    CHECK(!decide(&a, in_ns(inet(SOCK_RAW, IPPROTO_ICMP, 0, NULL), "lab")));
    /* root needs no rule */
    struct identity root = alice();
    root.uid = 0;
    CHECK(decide(&root, packet("eth0")));
    CHECK(decide(&root, in_ns(device(PROCKET_DEV_TUN, ""), "lab")));
}

/* A broker's unmapped caller (the overflow uid, from another user
 * namespace): nothing by default, nothing by a rule for all or for a
 * group; a rule naming the uid grants; deny rules apply as to anyone. */
TEST(unmapped_caller)
{
    struct identity u = alice();
    struct procket_request r = udp(53);
    char why[128];

    u.uid = 65534;
    u.gid = 65534;
    u.few[0] = 300; /* netlab, as the kernel would say it */
    u.ngroups = 1;
    u.unmapped = 1;
    CHECK_EQ(parse(""), 0);
    CHECK(!policy_decide(&pol, &u, &r, ifindex_of, why, sizeof(why), NULL));
    CHECK(strstr(why, "unmapped") != NULL);
    CHECK(!decide(&u, inet(SOCK_RAW, IPPROTO_ICMP, 0, NULL)));
    CHECK_EQ(parse("allow all udp port=53\nallow group netlab udp\n"), 0);
    CHECK(!decide(&u, udp(53)));
    CHECK_EQ(parse("allow user 65534 udp port=53\n"), 0);
    CHECK(decide(&u, udp(53)));
    CHECK(!decide(&u, udp(54)));
    CHECK_EQ(parse("deny all udp port=53\nallow user 65534 udp\n"), 0);
    CHECK(!decide(&u, udp(53)));
    CHECK(decide(&u, udp(54)));
    /* the same uid, mapped (the broker's own user namespace): the default */
    u.unmapped = 0;
    CHECK_EQ(parse(""), 0);
    CHECK(decide(&u, udp(53)));
}

TEST(why_denied)
{
    struct identity a = alice();
    struct procket_request r = packet("");
    char why[128];

    CHECK_EQ(parse("deny user alice port=80\n"), 0);
    CHECK(!policy_decide(&pol, &a, &r, ifindex_of, why, sizeof(why), NULL));
    CHECK(strcmp(why, "packet needs a rule") == 0);
    r = udp(600);
    CHECK(!policy_decide(&pol, &a, &r, ifindex_of, why, sizeof(why), NULL));
    CHECK(strcmp(why, "ports 512-1023 need a rule") == 0);
    r = udp(80);
    CHECK(!policy_decide(&pol, &a, &r, ifindex_of, why, sizeof(why), NULL));
    CHECK(strstr(why, "line 1 of") != NULL);
    r = in_ns(udp(53), "lab");
    CHECK(!policy_decide(&pol, &a, &r, ifindex_of, why, sizeof(why), NULL));
    CHECK(strcmp(why, "a namespace needs a rule") == 0);
}

TEST(kinds_and_ports)
{
    struct identity a = alice();

    CHECK_EQ(parse("allow user alice udp port=512-600,700\n"
                   "allow user 1000 packet raw\n"), 0);
    CHECK(decide(&a, udp(512)));
    CHECK(decide(&a, udp(600)));
    CHECK(decide(&a, udp(700)));
    CHECK(!decide(&a, udp(601)));
    CHECK(!decide(&a, inet(SOCK_STREAM, 0, 600, NULL))); /* tcp: not listed */
    CHECK(decide(&a, packet("eth0")));
    CHECK(decide(&a, inet(SOCK_RAW, IPPROTO_RAW, 0, NULL)));
    CHECK(!decide(&a, device(PROCKET_DEV_TUN, "")));
    /* a port condition matches inet requests only */
    CHECK_EQ(parse("allow all port=0\n"), 0);
    CHECK(!decide(&a, packet("")));
    CHECK(decide(&a, inet(SOCK_RAW, IPPROTO_RAW, 0, NULL))); /* any kind, port 0 */
}

/* First match decides: exceptions before the rule they except. */
TEST(first_match)
{
    struct identity a = alice();
    struct identity b = alice();
    b.uid = 1001;
    b.gid = 300;

    CHECK_EQ(parse("allow group netlab tcp udp port=1-1023\n"
                   "deny all port=1-1023 # e.g. a host that mounts NFS\n"
                   "deny user alice udp\n"), 0);
    CHECK(!decide(&a, udp(53)));
    CHECK(!decide(&a, inet(SOCK_STREAM, 0, 80, NULL)));
    CHECK(decide(&a, inet(SOCK_STREAM, 0, 8080, NULL)));
    CHECK(!decide(&a, udp(8053)));                        /* line 3 */
    CHECK(decide(&b, udp(53)));                           /* primary group */
    CHECK(decide(&b, udp(600)));
    CHECK(decide(&b, udp(8053)));                         /* the default */
    /* a supplementary group counts as much */
    struct identity c = alice();
    c.uid = 1002;
    c.groups = c.few; /* this copy's own */
    c.ngroups = 2;
    c.few[0] = 5;
    c.few[1] = 300;
    CHECK(decide(&c, udp(53)));
}

TEST(addresses)
{
    struct identity a = alice();

    CHECK_EQ(parse("allow user alice udp tcp port=600 address=192.0.2.0/24,2001:db8::1,0.0.0.0\n"), 0);
    CHECK(decide(&a, inet(SOCK_DGRAM, 0, 600, "192.0.2.7")));
    CHECK(!decide(&a, inet(SOCK_DGRAM, 0, 600, "192.0.3.7")));
    CHECK(decide(&a, inet(SOCK_DGRAM, 0, 600, "2001:db8::1")));
    CHECK(!decide(&a, inet(SOCK_DGRAM, 0, 600, "2001:db8::2")));
    CHECK(decide(&a, udp(600)));                /* the wildcard is 0.0.0.0 */
    CHECK(!decide(&a, inet(SOCK_DGRAM, 0, 600, "::"))); /* but not :: */
    CHECK_EQ(parse("deny all address=10.0.0.0/9\n"), 0);
    CHECK(!decide(&a, inet(SOCK_DGRAM, 0, 53, "10.127.255.255")));
    CHECK(decide(&a, inet(SOCK_DGRAM, 0, 53, "10.128.0.0")));
    CHECK(decide(&a, packet("")) == 0);          /* no address: default */
    CHECK_EQ(parse("allow all address=::/0 port=700\n"), 0);
    CHECK(decide(&a, inet(SOCK_DGRAM, 0, 700, "::1")));
    CHECK(!decide(&a, inet(SOCK_DGRAM, 0, 700, "127.0.0.1")));
}

/* An IPv4-mapped IPv6 address is the IPv4 address: either spelling in a
 * rule matches either spelling in a request. A dual-stack :: is also
 * 0.0.0.0: a deny rule naming either applies, an allow rule must name
 * both. */
TEST(mapped_and_dual_stack)
{
    struct identity a = alice();
    struct procket_request dual = inet(SOCK_DGRAM, 0, 80, "::");

    dual.flags = PROCKET_F_DUALSTACK;
    CHECK_EQ(parse("deny all address=10.0.0.0/8\n"), 0);
    CHECK(!decide(&a, inet(SOCK_DGRAM, 0, 53, "::ffff:10.1.2.3")));
    CHECK(decide(&a, inet(SOCK_DGRAM, 0, 53, "::ffff:11.1.2.3")));
    CHECK(decide(&a, inet(SOCK_DGRAM, 0, 53, "::10.1.2.3"))); /* not mapped */
    CHECK_EQ(parse("deny all address=::ffff:192.0.2.0/120\n"), 0);
    CHECK(!decide(&a, inet(SOCK_DGRAM, 0, 53, "192.0.2.9")));
    CHECK(decide(&a, inet(SOCK_DGRAM, 0, 53, "192.0.3.9")));
    CHECK(!decide(&a, inet(SOCK_DGRAM, 0, 53, "::ffff:192.0.2.9")));
    CHECK_EQ(parse("deny all address=::/0\n"), 0);       /* IPv6, not IPv4 */
    CHECK(decide(&a, udp(53)));
    CHECK(decide(&a, inet(SOCK_DGRAM, 0, 53, "::ffff:127.0.0.1"))); /* IPv4 too */
    CHECK(!decide(&a, inet(SOCK_DGRAM, 0, 53, "::1")));
    CHECK_EQ(parse("allow user alice udp port=600 address=192.0.2.7\n"), 0);
    CHECK(decide(&a, inet(SOCK_DGRAM, 0, 600, "::ffff:192.0.2.7")));
    CHECK(!decide(&a, inet(SOCK_DGRAM, 0, 600, "::ffff:192.0.2.8")));
    /* dual-stack :: */
    CHECK_EQ(parse("deny all port=80 address=0.0.0.0\n"), 0);
    CHECK(!decide(&a, dual));
    CHECK(decide(&a, inet(SOCK_DGRAM, 0, 80, "::"))); /* IPv6 only */
    CHECK(!decide(&a, udp(80)));
    CHECK_EQ(parse("deny all port=80 address=::ffff:0.0.0.0\n"), 0);
    CHECK(!decide(&a, dual));                       /* the mapped spelling */
    CHECK(!decide(&a, udp(80)));
    CHECK_EQ(parse("deny all port=80 address=::ffff:0:0/96\n"), 0);
    CHECK(!decide(&a, dual));
    CHECK_EQ(parse("deny all port=80 address=::\n"), 0);
    CHECK(!decide(&a, dual));
    CHECK(decide(&a, udp(80)));
    dual.port = 600;
    CHECK_EQ(parse("allow user alice udp port=600 address=::\n"), 0);
    CHECK(!decide(&a, dual));                          /* 0.0.0.0 not granted */
    CHECK(decide(&a, inet(SOCK_DGRAM, 0, 600, "::")));
    CHECK_EQ(parse("allow user alice udp port=600 address=0.0.0.0,::\n"), 0);
    CHECK(decide(&a, dual));
    CHECK_EQ(parse("allow user alice udp port=600 address=::ffff:0.0.0.0,::\n"), 0);
    CHECK(decide(&a, dual));
    CHECK_EQ(parse("allow user alice udp port=600 address=0.0.0.0/0,::/0\n"), 0);
    CHECK(decide(&a, dual));
}

/* A mapped request is an IPv4 request for every rule: IPv6 prefixes
 * short of ::ffff:0:0/96 (::/0, ::/64) neither grant nor deny it. */
TEST(mapped_is_ipv4_for_every_rule)
{
    struct identity a = alice();
    struct procket_request mapped = inet(SOCK_DGRAM, 0, 600, "::ffff:10.0.0.1");

    mapped.flags = PROCKET_F_DUALSTACK;
    CHECK_EQ(parse("allow user alice udp port=600 address=::/0\n"), 0);
    CHECK(!decide(&a, mapped));
    CHECK(!decide(&a, inet(SOCK_DGRAM, 0, 600, "::ffff:10.0.0.1")));
    CHECK(decide(&a, inet(SOCK_DGRAM, 0, 600, "2001:db8::1")));
    CHECK_EQ(parse("allow user alice udp port=600 address=::/64\n"), 0);
    CHECK(!decide(&a, mapped));
    CHECK(decide(&a, inet(SOCK_DGRAM, 0, 600, "::1")));
    CHECK_EQ(parse("allow user alice udp port=600 address=::ffff:0:0/96\n"), 0);
    CHECK(decide(&a, mapped));
    CHECK_EQ(parse("allow user alice udp port=600 address=10.0.0.0/8\n"), 0);
    CHECK(decide(&a, mapped));
    CHECK_EQ(parse("allow user alice udp port=600 address=::ffff:0:0/95\n"), 0);
    CHECK(!decide(&a, mapped));
    CHECK_EQ(parse("deny all address=::/0\nallow user alice udp port=600\n"), 0);
    CHECK(decide(&a, mapped));
}

/* An interface is matched whichever of its names (an altname) the rule
 * or the request uses; without the interfaces known (no ifindex: the
 * request's namespace not entered yet) the answer is an upper bound:
 * never 0 where the real answer is 1. */
TEST(interfaces_by_any_name)
{
    struct identity a = alice();
    struct procket_request r = udp(602), alt = packet("ALTB0");
    char why[128];

    (void)snprintf(r.ifname, sizeof(r.ifname), "ALTB0");
    CHECK_EQ(parse("deny user alice udp port=602 interface=b0\n"
                   "allow user alice udp port=602\n"), 0);
    CHECK(!decide(&a, r));
    CHECK(policy_decide(&pol, &a, &r, NULL, why, sizeof(why), NULL)); /* bound */
    (void)snprintf(r.ifname, sizeof(r.ifname), "a0");
    CHECK(decide(&a, r));
    CHECK_EQ(parse("allow user alice packet interface=b0\n"), 0);
    CHECK(decide(&a, alt));
    CHECK(decide(&a, packet("b0")));
    CHECK(!decide(&a, packet("a0")));
    CHECK(!decide(&a, packet("nosuch")));
    CHECK(policy_decide(&pol, &a, &alt, NULL, why, sizeof(why), NULL));
    CHECK_EQ(parse("allow user alice packet interface=enp0s1\n"), 0);
    CHECK(decide(&a, packet("eth0")));
    /* a scope id may name an interface: not known without ifindex */
    CHECK_EQ(parse("allow user alice udp port=601 interface=a0\n"), 0);
    r = inet(SOCK_DGRAM, 0, 601, "fe80::a0");
    r.scope_id = 12;
    CHECK(policy_decide(&pol, &a, &r, NULL, why, sizeof(why), NULL));
    CHECK(!decide(&a, r)); /* the helper names the interface first */
    (void)snprintf(r.ifname, sizeof(r.ifname), "a0");
    CHECK(decide(&a, r));
}

TEST(interfaces_namespaces_devices)
{
    struct identity a = alice();

    CHECK_EQ(parse("allow user alice packet interface=veth0,veth1\n"
                   "allow user alice tun device=vpn0\n"
                   "allow user alice tap device=*\n"
                   "allow user alice udp packet namespace=lab,lab2\n"
                   "allow user alice icmp namespace\n"), 0);
    CHECK(decide(&a, packet("veth0")));
    CHECK(decide(&a, packet("veth1")));
    CHECK(!decide(&a, packet("eth0")));
    CHECK(!decide(&a, packet("")));               /* every interface: no */
    CHECK(decide(&a, device(PROCKET_DEV_TUN, "vpn0")));
    CHECK(!decide(&a, device(PROCKET_DEV_TUN, "vpn1")));
    CHECK(!decide(&a, device(PROCKET_DEV_TUN, ""))); /* a kernel-chosen name */
    /* the clone can name any device: a rule naming one does not grant it */
    CHECK(!decide(&a, device(PROCKET_DEV_TUN_CLONE, "")));
    CHECK(decide(&a, device(PROCKET_DEV_TAP, "")));
    CHECK(decide(&a, device(PROCKET_DEV_TAP, "tap7")));
    CHECK(!decide(&a, device(PROCKET_DEV_TUN_CLONE, ""))); /* tap is not tun */
    CHECK_EQ(parse("allow user alice tun\n"), 0);
    CHECK(decide(&a, device(PROCKET_DEV_TUN_CLONE, "")));
    CHECK_EQ(parse("allow user alice tun device=*\n"), 0);
    CHECK(decide(&a, device(PROCKET_DEV_TUN_CLONE, "")));
    CHECK(!decide(&a, in_ns(device(PROCKET_DEV_TUN_CLONE, ""), "lab")));
    /* a deny rule naming a device denies the clone, which can become it */
    CHECK_EQ(parse("deny user alice tun device=wg0\nallow user alice tun\n"), 0);
    CHECK(!decide(&a, device(PROCKET_DEV_TUN_CLONE, "")));
    CHECK(decide(&a, device(PROCKET_DEV_TUN, "wg1")));
    /* it can become a tap device too: a tap deny rule denies it */
    CHECK_EQ(parse("deny user alice tap device=tap0\nallow user alice tun\n"), 0);
    CHECK(!decide(&a, device(PROCKET_DEV_TUN_CLONE, "")));
    CHECK(decide(&a, device(PROCKET_DEV_TUN, "")));
    CHECK_EQ(parse("deny user alice tap\nallow user alice tun\n"), 0);
    CHECK(!decide(&a, device(PROCKET_DEV_TUN_CLONE, "")));
    CHECK_EQ(parse("allow user alice tap\n"), 0); /* only tun grants it */
    CHECK(!decide(&a, device(PROCKET_DEV_TUN_CLONE, "")));
    CHECK_EQ(parse("allow user alice packet interface=veth0,veth1\n"
                   "allow user alice tun device=vpn0\n"
                   "allow user alice tap device=*\n"
                   "allow user alice udp packet namespace=lab,lab2\n"
                   "allow user alice icmp namespace\n"), 0);
    CHECK(decide(&a, in_ns(udp(53), "lab")));
    CHECK(decide(&a, in_ns(packet(""), "lab2")));
    CHECK(!decide(&a, in_ns(udp(53), "lab3")));
    CHECK(!decide(&a, in_ns(device(PROCKET_DEV_TUN, "vpn0"), "lab")));
    CHECK(decide(&a, in_ns(inet(SOCK_RAW, IPPROTO_ICMP, 0, NULL), "any")));
    /* a deny rule without a namespace condition applies inside one too */
    CHECK_EQ(parse("deny all port=1-1023\nallow all udp namespace\n"), 0);
    CHECK(!decide(&a, in_ns(udp(53), "lab")));
    CHECK(decide(&a, in_ns(udp(2053), "lab")));
    /* a rule without a namespace condition never grants inside one */
    CHECK_EQ(parse("allow user alice\n"), 0);
    CHECK(decide(&a, packet("")));
    CHECK(!decide(&a, in_ns(packet(""), "lab")));
}

TEST(families_types_protocols)
{
    struct identity a = alice();
    struct procket_request gre = inet(SOCK_RAW, 47, 0, NULL);
    struct procket_request arp = packet("eth0");

    arp.protocol = (int)htons(0x0806); /* as socket(2) takes it */
    CHECK_EQ(parse("allow user alice raw protocol=47 family=inet\n"
                   "allow user alice packet protocol=0x0806 type=raw\n"
                   "allow user alice type=dgram family=inet6 port=600-700\n"
                   "deny all protocol=6 port=8080\n"), 0);
    CHECK(decide(&a, gre));
    gre.family = AF_INET6;
    CHECK(!decide(&a, gre));                       /* family inet only */
    CHECK(!decide(&a, inet(SOCK_RAW, 50, 0, NULL)));
    CHECK(decide(&a, arp));
    arp.type = SOCK_DGRAM;
    CHECK(!decide(&a, arp));
    CHECK(!decide(&a, packet("eth0")));           /* ETH_P_ALL */
    CHECK(decide(&a, inet(SOCK_DGRAM, 0, 650, "::1")));
    CHECK(!decide(&a, inet(SOCK_DGRAM, 0, 650, "127.0.0.1")));
    CHECK(!decide(&a, inet(SOCK_STREAM, 0, 650, "::1")));
    /* protocol 0 means the kernel's choice: TCP for a stream socket */
    CHECK(!decide(&a, inet(SOCK_STREAM, 0, 8080, NULL)));
    CHECK(!decide(&a, inet(SOCK_STREAM, IPPROTO_TCP, 8080, NULL)));
    CHECK(decide(&a, inet(SOCK_DGRAM, 0, 8080, NULL)));
    CHECK(decide(&a, inet(SOCK_STREAM, IPPROTO_SCTP, 8080, NULL)));
    /* devices have no family, type or protocol */
    CHECK_EQ(parse("allow all type=raw\n"), 0);
    CHECK(!decide(&a, device(PROCKET_DEV_TAP, "")));
}

TEST(bad_lines)
{
    static const char *const bad[] = {
        "allow", "allow alice packet", "allow user", "allow user bob packet",
        "allow user alice packets", "permit all packet", "allow group 4294967295 tun",
        "allow all port=", "allow all port=65536", "allow all port=9-8",
        "allow all port=1-2-3", "allow all port=-1", "allow all port=80,",
        "allow all port=80 port=81", "allow all address=10.0.0.0/33",
        "allow all address=::/129", "allow all address=eth0", "allow all address=",
        "allow all interface=", "allow all interface=0123456789abcdef",
        "allow all interface=a/b", "allow all namespace=-x", "allow all namespace=.x",
        "allow all namespace=a/b", "allow all device=tun*", "allow all colour=red",
        "allow all =x", "deny", "allow all family=unix", "allow all family=",
        "allow all type=seqpacket", "allow all protocol=65536", "allow all protocol=0x",
        "allow all protocol=0xg", "allow all protocol=0x10000", "allow all type=raw type=dgram",
        "allow all tun device=wg%d", "allow all interface=eth%d",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char text[256];
        (void)snprintf(text, sizeof(text), "allow all icmp\n%s\n", bad[i]);
        if (parse(text) != 2)
            fprintf(stderr, "  accepted: %s\n", bad[i]);
        CHECK_EQ(parse(text), 2);
        CHECK_EQ(pol.n, 0); /* the good line before grants nothing either */
    }
    /* comments, blank lines, tabs */
    CHECK_EQ(parse("# nothing\n\n\t allow\tall\ttcp # trailing\n   \n"), 0);
    CHECK_EQ(pol.n, 1);
    /* a NUL inside a line */
    CHECK_EQ(policy_parse(&pol, "allow all tcp\0x\n", 16, resolve, &(int){0}), -EINVAL);
    /* a file cut short: its last line has no newline */
    CHECK_EQ(parse("allow all tcp\ndeny user alice"), 2);
    CHECK_EQ(pol.n, 0);
    CHECK_EQ(parse("allow all tcp"), 1);
    CHECK_EQ(parse("allow all tcp\n# a comment"), 2);
    CHECK_EQ(parse("\n"), 0);
}

TEST(limits)
{
    static char text[POLICY_FILE_MAX + 1];
    size_t len = 0;

    /* more rules than the table holds */
    for (int i = 0; i < POLICY_MAX_RULES + 1; i++)
        len += (size_t)snprintf(text + len, sizeof(text) - len, "allow all tcp\n");
    CHECK_EQ(parse(text), POLICY_MAX_RULES + 1);
    /* more values than the table holds */
    len = 0;
    for (int i = 0; i < POLICY_MAX_VALUES / 8 + 1; i++) {
        len += (size_t)snprintf(text + len, sizeof(text) - len, "allow all port=");
        for (int k = 0; k < 8; k++)
            len += (size_t)snprintf(text + len, sizeof(text) - len, "%s%d", k ? "," : "", k);
        len += (size_t)snprintf(text + len, sizeof(text) - len, "\n");
    }
    CHECK(parse(text) > 0);
    /* a line of 1025 bytes */
    memset(text, ' ', 1025);
    memcpy(text, "allow all tcp", 13);
    text[1025] = '\0';
    CHECK_EQ(parse(text), 1);
}

/* policy_decide's confinement for w's request r (0 when denied) */
static unsigned confined(const struct identity *w, const struct procket_request *r)
{
    char why[128];
    unsigned c = 0;
    (void)policy_decide(&pol, w, r, ifindex_of, why, sizeof(why), &c);
    return c;
}

/* What a packet grant stays confined to after handover: what the rule
 * that granted it named (an interface but *, an ethertype but all). */
TEST(confinement)
{
    struct identity a = alice(), root = alice();
    struct procket_request p = packet("veth0"), all = packet("veth0");
    struct procket_request other = packet("eth9"), none = packet("");

    root.uid = 0;
    p.protocol = (int)htons(0x88b5);
    CHECK_EQ(parse("allow user alice packet interface=veth0 protocol=0x88b5\n"
                   "allow user alice packet interface=veth0 protocol=0x0003\n"
                   "allow user alice packet interface=*\n"
                   "allow user alice packet\n"), 0);
    CHECK(decide(&a, p));
    CHECK_EQ(confined(&a, &p), POLICY_CONFINE_IFINDEX | POLICY_CONFINE_PROTOCOL);
    CHECK(decide(&a, all));                   /* ETH_P_ALL, named: line 2 */
    CHECK_EQ(confined(&a, &all), POLICY_CONFINE_IFINDEX);
    CHECK(decide(&a, other));                 /* line 3: any interface */
    CHECK_EQ(confined(&a, &other), 0);
    CHECK(decide(&a, none));                  /* line 4: no condition */
    CHECK_EQ(confined(&a, &none), 0);
    CHECK_EQ(confined(&root, &p), 0);
    /* every ethertype only by naming 0x0003, not by a range around it */
    CHECK_EQ(parse("allow user alice packet protocol=0-0xffff\n"), 0);
    CHECK(!decide(&a, all));
    CHECK(decide(&a, p));
    /* a protocol rule alone confines the ethertype only */
    CHECK_EQ(parse("allow user alice packet protocol=0x88b5\n"), 0);
    CHECK_EQ(confined(&a, &p), POLICY_CONFINE_PROTOCOL);
    /* a deny rule before the grant pins what the request names */
    CHECK_EQ(parse("deny all packet interface=eth1\nallow user alice packet\n"), 0);
    CHECK_EQ(confined(&a, &p), POLICY_CONFINE_IFINDEX);
    CHECK_EQ(parse("deny all packet protocol=0x0806\nallow user alice packet\n"), 0);
    CHECK_EQ(confined(&a, &p), POLICY_CONFINE_PROTOCOL);
    CHECK_EQ(parse("deny all packet protocol=0x0806 interface=eth1\nallow user alice packet\n"), 0);
    CHECK(!decide(&a, none));                 /* every interface and ethertype */
    CHECK_EQ(confined(&a, &none), 0);
    CHECK_EQ(confined(&a, &p), POLICY_CONFINE_IFINDEX | POLICY_CONFINE_PROTOCOL);
    /* ... not one after it, one for others, or one for other kinds */
    CHECK_EQ(parse("allow user alice packet\ndeny all packet interface=eth1\n"), 0);
    CHECK_EQ(confined(&a, &p), 0);
    CHECK_EQ(parse("deny user 1001 packet interface=eth1\ndeny all tcp interface=eth1\n"
                   "allow user alice packet\n"), 0);
    CHECK_EQ(confined(&a, &p), 0);
    /* denied, the default, other kinds: nothing */
    CHECK_EQ(parse("deny user alice packet interface=veth0\nallow all udp port=53\n"), 0);
    CHECK(!decide(&a, p));
    CHECK_EQ(confined(&a, &p), 0);
    CHECK_EQ(confined(&a, &other), 0);
    CHECK_EQ(confined(&a, &(struct procket_request){0}), 0);
    {
        struct procket_request u = udp(53);
        CHECK_EQ(confined(&a, &u), 0);
    }
}

/* For packet sockets a deny rule means "no frames of": its protocol=
 * holds for a request for every ethertype, its interface= for a request
 * bound to no interface. Not so for allow rules, nor for inet sockets. */
TEST(packet_deny_reach)
{
    struct identity a = alice();
    struct procket_request arp = packet("eth0"), all = packet("eth0");
    struct procket_request unbound = packet(""), eth1 = packet("eth1");

    arp.protocol = (int)htons(0x0806);
    CHECK_EQ(parse("deny all packet protocol=0x0806\nallow user alice packet\n"), 0);
    CHECK(!decide(&a, arp));
    CHECK(!decide(&a, all));                    /* ETH_P_ALL gets ARP too */
    arp.protocol = (int)htons(0x0800);
    CHECK(decide(&a, arp));
    CHECK_EQ(parse("deny all packet interface=eth1\nallow user alice packet\n"), 0);
    CHECK(!decide(&a, eth1));
    CHECK(!decide(&a, unbound));                /* every interface: eth1 too */
    CHECK(decide(&a, all));                     /* eth0 */
    CHECK_EQ(parse("allow user alice packet interface=eth1\n"), 0);
    CHECK(!decide(&a, unbound));                /* allow: the interface only */
    CHECK_EQ(parse("deny all interface=eth1\n"), 0);
    CHECK(decide(&a, udp(53)));                 /* inet: only a bound request */
}

/* '#' starts a comment only at the start of a word: inside a word it is
 * part of it (interface names may hold one). */
TEST(comments_and_hashes)
{
    struct identity a = alice();

    CHECK_EQ(parse("allow user alice packet interface=if#1,#x # if2\n"), 0);
    CHECK_EQ(pol.n, 1);
    CHECK(decide(&a, packet("if#1")));
    CHECK(decide(&a, packet("#x")));
    CHECK(!decide(&a, packet("if")));
    CHECK(!decide(&a, packet("if2")));
    CHECK_EQ(parse("#allow all tcp\n\t# allow all udp\n"), 0);
    CHECK_EQ(pol.n, 0);
    CHECK_EQ(parse("allow all tcp#udp\n"), 1);          /* no kind "tcp#udp" */
    CHECK_EQ(parse("allow all tcp\t#udp raw\n"), 0);
    CHECK_EQ(pol.n, 1);
    CHECK(!decide(&a, inet(SOCK_RAW, IPPROTO_RAW, 0, NULL)));
    /* numbers never wrap: ten digits past the limit are refused */
    CHECK_EQ(parse("allow all port=4294967296\n"), 1);
    CHECK_EQ(parse("allow all port=9999999999\n"), 1);
    CHECK_EQ(parse("allow group 4294967294 tcp\n"), 0);
}

/* Writes text to path with mode; returns 0 or -1. */
static int write_file(const char *path, const char *text, size_t len, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ssize_t n;

    if (fd < 0)
        return -1;
    n = write(fd, text, len);
    if (close(fd) < 0 || n != (ssize_t)len || chmod(path, mode) < 0)
        return -1;
    return 0;
}

/* policy_load on real files (as root, who must own them): no file is the
 * default; exactly 64 KiB is read; one byte more, a group-writable file
 * or a symlink is refused (every request denied, -EACCES). */
TEST(load_file)
{
    static char text[POLICY_FILE_MAX + 2];
    char dir[] = "/tmp/procket_policy.XXXXXX", path[64], link[64];
    size_t len;

    if (geteuid() != 0) {
        fprintf(stderr, "  load_file: not root, skipped (the file must be root's)\n");
        return;
    }
    CHECK(mkdtemp(dir) != NULL);
    (void)snprintf(path, sizeof(path), "%s/procket.conf", dir);
    (void)snprintf(link, sizeof(link), "%s/link.conf", dir);
    CHECK_EQ(policy_load(&pol, path), 0);              /* no file */
    CHECK_EQ(pol.n, 0);
    /* a rule, then comment lines of 1000 bytes up to exactly the limit */
    len = (size_t)snprintf(text, sizeof(text), "allow all packet\n");
    while (len < POLICY_FILE_MAX) {
        size_t line = POLICY_FILE_MAX - len < 1000 ? POLICY_FILE_MAX - len : 1000;
        memset(text + len, '#', line - 1);
        text[len + line - 1] = '\n';
        len += line;
    }
    CHECK_EQ(len, POLICY_FILE_MAX);
    CHECK_EQ(write_file(path, text, len, 0644), 0);
    CHECK_EQ(policy_load(&pol, path), 0);
    CHECK_EQ(pol.n, 1);
    text[len] = '\n';
    CHECK_EQ(write_file(path, text, len + 1, 0644), 0);
    CHECK_EQ(policy_load(&pol, path), -EACCES);
    CHECK_EQ(write_file(path, "allow all packet\n", 17, 0664), 0);
    CHECK_EQ(policy_load(&pol, path), -EACCES);
    CHECK_EQ(chmod(path, 0644), 0);
    CHECK_EQ(policy_load(&pol, path), 0);
    /* what counts is what read(2) returns, not what fstat said */
    {
        char buf[18];
        size_t have = 0;
        int fd;
        CHECK_EQ(write_file(path, "allow all packet\n", 17, 0644), 0);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        CHECK(fd >= 0);
        CHECK_EQ(policy_read(fd, buf, 16, &have), -EFBIG);
        CHECK_EQ(lseek(fd, 0, SEEK_SET), 0);
        CHECK_EQ(policy_read(fd, buf, 17, &have), 0);
        CHECK_EQ(have, 17);
        CHECK_EQ(close(fd), 0);
    }
    CHECK_EQ(symlink(path, link), 0);
    CHECK_EQ(policy_load(&pol, link), -EACCES);
    CHECK_EQ(unlink(link), 0);
    CHECK_EQ(unlink(path), 0);
    CHECK_EQ(rmdir(dir), 0);
}

int main(void)
{
    RUN(kinds_of_requests);
    RUN(the_default);
    RUN(unmapped_caller);
    RUN(why_denied);
    RUN(kinds_and_ports);
    RUN(first_match);
    RUN(addresses);
    RUN(mapped_and_dual_stack);
    RUN(mapped_is_ipv4_for_every_rule);
    RUN(interfaces_by_any_name);
    RUN(interfaces_namespaces_devices);
    RUN(families_types_protocols);
    RUN(bad_lines);
    RUN(limits);
    RUN(comments_and_hashes);
    RUN(confinement);
    RUN(packet_deny_reach);
    RUN(load_file);
    return check_summary("test_policy");
}
