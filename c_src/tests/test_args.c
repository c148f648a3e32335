/*
 * test_args.c - the helper's command line both ways, command splitting
 * and the name tables.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "check.h"
#include "testutil.h"
#include "procket.h"

#define ERRNO_MARK 12345
#define MAXARGS 40

/* Parses the words of a NULL-terminated list, with "procket" in front. */
static int parse_list(struct procket_args *a, const char *const *words,
                      const char **err)
{
    char *argv[MAXARGS + 2];
    int argc = 0;

    argv[argc++] = (char *)"procket";
    for (; *words != NULL && argc <= MAXARGS; words++)
        argv[argc++] = (char *)*words;
    argv[argc] = NULL;
    return procket_args_parse(a, argc, argv, err);
}

#define PARSE(a, ...) parse_list((a), (const char *const[]){__VA_ARGS__, NULL}, NULL)

/* Expects the words to be refused with -EINVAL and a message. */
#define REFUSE(...)                                                           \
    do {                                                                      \
        struct procket_args pa_;                                              \
        const char *perr_ = NULL;                                             \
        int prc_ = parse_list(&pa_, (const char *const[]){__VA_ARGS__, NULL}, \
                              &perr_);                                        \
        CHECK_EQ(prc_, -EINVAL);                                              \
        CHECK(perr_ != NULL && perr_[0] != '\0');                             \
    } while (0)


/* ------------------------------------------------------------------ */

TEST(no_options_gives_defaults)
{
    struct procket_args a;
    struct procket_request def;
    char *argv[] = {(char *)"procket", NULL};
    const char *err = "unset";

    errno = ERRNO_MARK;
    procket_request_init(&def);
    CHECK_EQ(procket_args_parse(&a, 1, argv, &err), 0);
    CHECK(err == NULL);
    CHECK(request_equal(&a.req, &def));
    CHECK(a.path == NULL);
    CHECK_EQ(a.help, 0);
    CHECK_EQ(a.version, 0);
    /* argc 0: not even a program name */
    CHECK_EQ(procket_args_parse(&a, 0, argv, NULL), 0);
    CHECK(request_equal(&a.req, &def));
    CHECK_EQ(errno, ERRNO_MARK);
}

TEST(every_flag)
{
    struct procket_args a;
    char *argv[] = {(char *)"procket", (char *)"-u", (char *)"/tmp/s",
                    (char *)"-p", (char *)"8080", (char *)"-F",
                    (char *)"inet6", (char *)"-T", (char *)"stream",
                    (char *)"-P", (char *)"tcp", (char *)"-I",
                    (char *)"eth0", (char *)"-b", (char *)"128",
                    (char *)"-d", (char *)"fe80::1", NULL};
    const char *err = "unset";

    errno = ERRNO_MARK;
    CHECK_EQ(procket_args_parse(&a, 17, argv, &err), 0);
    CHECK(err == NULL);
    CHECK(a.path == argv[2]); /* points into argv */
    CHECK_EQ(a.req.port, 8080);
    CHECK_EQ(a.req.family, AF_INET6);
    CHECK_EQ(a.req.type, SOCK_STREAM);
    CHECK_EQ(a.req.protocol, IPPROTO_TCP);
    CHECK(strcmp(a.req.ifname, "eth0") == 0);
    CHECK_EQ(a.req.backlog, 128);
    CHECK_EQ(a.req.flags, PROCKET_F_DUALSTACK);
    CHECK_EQ(a.req.addrlen, 16);
    CHECK_EQ(a.req.addr[0], 0xfe);
    CHECK_EQ(a.req.addr[1], 0x80);
    CHECK_EQ(a.req.addr[15], 1);
    CHECK_EQ(a.req.scope_id, 0);
    CHECK_EQ(a.help, 0);
    CHECK_EQ(a.version, 0);
    CHECK_EQ(errno, ERRNO_MARK);

    /* the same with the address first and the options in another order */
    CHECK_EQ(PARSE(&a, "fe80::1", "-d", "-b", "128", "-I", "eth0", "-P", "6",
                   "-T", "1", "-F", "10", "-p", "8080", "-u", "/tmp/s"),
             0);
    CHECK_EQ(a.req.family, AF_INET6);
    CHECK_EQ(a.req.backlog, 128);
    CHECK(a.path != NULL && strcmp(a.path, "/tmp/s") == 0);

    /* IPv4 address */
    CHECK_EQ(PARSE(&a, "-p", "53", "-P", "udp", "127.0.0.1"), 0);
    CHECK_EQ(a.req.family, AF_INET);
    CHECK_EQ(a.req.addrlen, 4);
    CHECK(memcmp(a.req.addr, "\x7f\0\0\x01", 4) == 0);
    CHECK_EQ(a.req.port, 53);
}

TEST(names_and_numbers)
{
    struct procket_args a;

    CHECK_EQ(PARSE(&a, "-F", "inet"), 0);
    CHECK_EQ(a.req.family, AF_INET);
    CHECK_EQ(PARSE(&a, "-F", "inet6"), 0);
    CHECK_EQ(a.req.family, AF_INET6);
    CHECK_EQ(PARSE(&a, "-F", "2"), 0);
    CHECK_EQ(a.req.family, AF_INET);
    CHECK_EQ(PARSE(&a, "-F", "10"), 0);
    CHECK_EQ(a.req.family, AF_INET6);

    CHECK_EQ(PARSE(&a, "-T", "dgram"), 0);
    CHECK_EQ(a.req.type, SOCK_DGRAM);
    CHECK_EQ(PARSE(&a, "-T", "raw"), 0);
    CHECK_EQ(a.req.type, SOCK_RAW);
    CHECK_EQ(PARSE(&a, "-T", "stream"), 0);
    CHECK_EQ(a.req.type, SOCK_STREAM);
    CHECK_EQ(PARSE(&a, "-T", "2"), 0);
    CHECK_EQ(a.req.type, SOCK_DGRAM);

    CHECK_EQ(PARSE(&a, "-P", "17"), 0);
    CHECK_EQ(a.req.protocol, IPPROTO_UDP);
    CHECK_EQ(a.req.type, SOCK_DGRAM);
    CHECK_EQ(PARSE(&a, "-P", "ipv6-icmp", "-F", "inet6"), 0);
    CHECK_EQ(a.req.protocol, IPPROTO_ICMPV6);
    CHECK_EQ(a.req.type, SOCK_RAW);
    CHECK_EQ(PARSE(&a, "-P", "icmp6", "::1"), 0);
    CHECK_EQ(a.req.protocol, IPPROTO_ICMPV6);
    CHECK_EQ(a.req.family, AF_INET6);
    CHECK_EQ(PARSE(&a, "-P", "raw"), 0);
    CHECK_EQ(a.req.protocol, IPPROTO_RAW);
    CHECK_EQ(a.req.type, SOCK_RAW);
    CHECK_EQ(PARSE(&a, "-P", "0"), 0);
    CHECK_EQ(a.req.protocol, 0);
    CHECK_EQ(a.req.type, SOCK_STREAM);
}

/* The type follows the protocol unless -T is given; the family follows
 * an IPv6 address unless -F is given. */
TEST(defaults_follow)
{
    struct procket_args a;

    CHECK_EQ(PARSE(&a, "-P", "udp"), 0);
    CHECK_EQ(a.req.type, SOCK_DGRAM);
    CHECK_EQ(PARSE(&a, "-P", "udplite"), 0);
    CHECK_EQ(a.req.type, SOCK_DGRAM);
    CHECK_EQ(PARSE(&a, "-P", "tcp"), 0);
    CHECK_EQ(a.req.type, SOCK_STREAM);
    CHECK_EQ(PARSE(&a, "-P", "sctp"), 0);
    CHECK_EQ(a.req.type, SOCK_STREAM);
    CHECK_EQ(PARSE(&a, "-P", "icmp"), 0);
    CHECK_EQ(a.req.type, SOCK_RAW);
    CHECK_EQ(a.req.protocol, IPPROTO_ICMP);
    CHECK_EQ(PARSE(&a, "-P", "ip"), 0);
    CHECK_EQ(a.req.type, SOCK_STREAM);
    CHECK_EQ(PARSE(&a, "-P", "89"), 0); /* ospf: raw */
    CHECK_EQ(a.req.type, SOCK_RAW);
    /* -T wins over the protocol */
    CHECK_EQ(PARSE(&a, "-P", "icmp", "-T", "dgram"), 0);
    CHECK_EQ(a.req.type, SOCK_DGRAM);
    CHECK_EQ(PARSE(&a, "-T", "raw", "-P", "udp"), 0);
    CHECK_EQ(a.req.type, SOCK_RAW);

    CHECK_EQ(PARSE(&a, "::1"), 0);
    CHECK_EQ(a.req.family, AF_INET6);
    CHECK_EQ(a.req.addrlen, 16);
    CHECK_EQ(PARSE(&a, "::ffff:10.0.0.1"), 0); /* mapped: still inet6 */
    CHECK_EQ(a.req.family, AF_INET6);
    CHECK_EQ(PARSE(&a, "10.0.0.1"), 0);
    CHECK_EQ(a.req.family, AF_INET);
    CHECK_EQ(PARSE(&a, "-d", "::"), 0);
    CHECK_EQ(a.req.flags, PROCKET_F_DUALSTACK);
    CHECK_EQ(PARSE(&a, "-F", "inet6"), 0);
    CHECK_EQ(a.req.addrlen, 0);
    CHECK_EQ(PARSE(&a, "-p", "0"), 0);
    CHECK_EQ(a.req.port, 0);
    CHECK_EQ(PARSE(&a, "-p", "65535"), 0);
    CHECK_EQ(a.req.port, 65535);
    CHECK_EQ(PARSE(&a, "-p", "00080"), 0);
    CHECK_EQ(a.req.port, 80);
    CHECK_EQ(PARSE(&a, "-b", "65535"), 0);
    CHECK_EQ(a.req.backlog, 65535);
    CHECK_EQ(PARSE(&a, "-I", "abcdefghijklmno"), 0); /* 15 bytes */
    CHECK(strcmp(a.req.ifname, "abcdefghijklmno") == 0);
}

TEST(help_and_version)
{
    struct procket_args a;

    CHECK_EQ(PARSE(&a, "-h"), 0);
    CHECK_EQ(a.help, 1);
    CHECK_EQ(a.version, 0);
    CHECK_EQ(PARSE(&a, "--help"), 0);
    CHECK_EQ(a.help, 1);
    CHECK_EQ(PARSE(&a, "-V"), 0);
    CHECK_EQ(a.version, 1);
    CHECK_EQ(a.help, 0);
    CHECK_EQ(PARSE(&a, "--version"), 0);
    CHECK_EQ(a.version, 1);
    CHECK_EQ(PARSE(&a, "-h", "-V"), 0);
    CHECK_EQ(a.help, 1);
    CHECK_EQ(a.version, 1);
    /* the request is then not validated ... */
    CHECK_EQ(PARSE(&a, "-h", "-d", "-P", "udp", "-b", "5"), 0);
    CHECK_EQ(a.help, 1);
    /* ... but the command line still is parsed */
    REFUSE("-h", "-x");
    REFUSE("-h", "--help");
    REFUSE("-V", "--version");
    REFUSE("-V", "-p");
    REFUSE("--helpme");
    REFUSE("--ver");
}

TEST(errors)
{
    struct procket_args a;
    char *argv[] = {(char *)"procket", (char *)"-p", NULL, NULL};
    char longpath[109];
    char okpath[108];
    const char *err = NULL;

    errno = ERRNO_MARK;
    /* unknown flags and forms */
    REFUSE("-x");
    REFUSE("-pp", "1");
    REFUSE("-p53");
    REFUSE("--");
    REFUSE("--port", "1");
    REFUSE("-");
    REFUSE("");
    /* repeated flags */
    REFUSE("-p", "1", "-p", "2");
    REFUSE("-p", "1", "-p", "1");
    REFUSE("-d", "-d", "::1");
    REFUSE("-u", "/a", "-u", "/b");
    REFUSE("-F", "inet", "-F", "inet");
    REFUSE("-T", "dgram", "-T", "dgram");
    REFUSE("-P", "udp", "-P", "udp");
    REFUSE("-I", "lo", "-I", "lo");
    REFUSE("-b", "1", "-b", "1");
    /* missing values */
    REFUSE("-p");
    REFUSE("-u");
    REFUSE("-F");
    REFUSE("-T");
    REFUSE("-P");
    REFUSE("-I");
    REFUSE("-b");
    REFUSE("127.0.0.1", "-p");
    /* ports */
    REFUSE("-p", "-1");
    REFUSE("-p", "65536");
    REFUSE("-p", "99999999999999999999999999");
    REFUSE("-p", "");
    REFUSE("-p", "53x");
    REFUSE("-p", " 53");
    REFUSE("-p", "+53");
    REFUSE("-p", "0x35");
    /* backlogs */
    REFUSE("-b", "-1");
    REFUSE("-b", "65536");
    REFUSE("-b", "");
    REFUSE("-b", "1k");
    /* names and numbers */
    REFUSE("-F", "unix");
    REFUSE("-F", "INET");
    REFUSE("-F", "1"); /* AF_UNIX: a number, but not a family procket opens */
    REFUSE("-F", "256");
    REFUSE("-T", "seqpacket");
    REFUSE("-T", "5");
    REFUSE("-P", "bogus");
    REFUSE("-P", "256");
    REFUSE("-P", "-1");
    /* addresses */
    REFUSE("127.0.0.1", "::1");
    REFUSE("127.0.0.1", "127.0.0.1");
    REFUSE("127.0.0.256");
    REFUSE("localhost");
    REFUSE("1.2.3");
    REFUSE("fe80::1%eth0");
    REFUSE("::1::");
    REFUSE("0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0001");
    REFUSE("-F", "inet6", "127.0.0.1");
    REFUSE("-F", "inet", "::1");
    /* the message names the problem */
    CHECK_EQ(parse_list(&a, (const char *const[]){"-F", "inet", "::1", NULL},
                        &err),
             -EINVAL);
    CHECK(err != NULL && strstr(err, "address") != NULL);
    CHECK_EQ(parse_list(&a, (const char *const[]){"-p", "1", "-p", "1", NULL},
                        &err),
             -EINVAL);
    CHECK(err != NULL && strstr(err, "twice") != NULL);
    /* interfaces */
    REFUSE("-I", "abcdefghijklmnop"); /* 16 bytes */
    REFUSE("-I", "");
    REFUSE("-I", "a/b");
    REFUSE("-I", "..");
    /* paths */
    REFUSE("-u", "");
    REFUSE("-u", "relative/sock");
    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[0] = '/';
    longpath[sizeof(longpath) - 1] = '\0'; /* 108 bytes: no room for NUL */
    REFUSE("-u", longpath);
    memcpy(okpath, longpath, sizeof(okpath) - 1);
    okpath[sizeof(okpath) - 1] = '\0'; /* 107 bytes */
    CHECK_EQ(PARSE(&a, "-u", okpath), 0);
    /* contradictions */
    REFUSE("-P", "udp", "-b", "5");
    REFUSE("-T", "raw", "-b", "5");
    REFUSE("-d");
    REFUSE("-d", "127.0.0.1");
    /* bad calls */
    CHECK_EQ(procket_args_parse(NULL, 1, argv, &err), -EINVAL);
    CHECK(err != NULL);
    CHECK_EQ(procket_args_parse(&a, 1, NULL, NULL), -EINVAL);
    CHECK_EQ(procket_args_parse(&a, -1, argv, NULL), -EINVAL);
    /* a NULL inside argc */
    CHECK_EQ(procket_args_parse(&a, 3, argv, NULL), -EINVAL);
    argv[1] = NULL;
    CHECK_EQ(procket_args_parse(&a, 2, argv, NULL), -EINVAL);
    CHECK_EQ(errno, ERRNO_MARK);
}

/* -D, -N and -i, and the defaults that follow from them. */
TEST(device_and_namespace_flags)
{
    struct procket_args a;

    errno = ERRNO_MARK;
    CHECK_EQ(PARSE(&a, "-u", "/s", "-D", "tun"), 0);
    CHECK_EQ(a.req.device, PROCKET_DEV_TUN);
    CHECK_EQ(a.req.family, AF_UNSPEC);
    CHECK_EQ(a.req.type, 0);
    CHECK_EQ(PARSE(&a, "-u", "/s", "-D", "tun-clone"), 0);
    CHECK_EQ(a.req.device, PROCKET_DEV_TUN_CLONE);
    CHECK_EQ(a.req.family, AF_UNSPEC);
    CHECK_EQ(PARSE(&a, "-u", "/s", "-D", "tun-clone", "-I", "tun3"), -EINVAL);
    CHECK_EQ(PARSE(&a, "-u", "/s", "-D", "tun-clone", "-i"), -EINVAL);
    CHECK_EQ(PARSE(&a, "-u", "/s", "-D", "clone"), -EINVAL);
    CHECK_EQ(PARSE(&a, "-u", "/s", "-D", "tap", "-I", "tap3", "-i", "-N", "red"), 0);
    CHECK_EQ(a.req.device, PROCKET_DEV_TAP);
    CHECK_EQ(a.req.flags, PROCKET_F_TUN_PI);
    CHECK(strcmp(a.req.ifname, "tap3") == 0);
    CHECK(strcmp(a.req.netns, "red") == 0);
    CHECK_EQ(PARSE(&a, "-u", "/s", "-F", "packet", "-P", "768"), 0);
    CHECK_EQ(a.req.family, AF_PACKET);
    CHECK_EQ(a.req.type, SOCK_RAW);
    CHECK_EQ(a.req.protocol, 768);
    CHECK_EQ(PARSE(&a, "-u", "/s", "-N", "blue", "-p", "53", "-P", "udp"), 0);
    CHECK(strcmp(a.req.netns, "blue") == 0);
    REFUSE("-u", "/s", "-D", "tunnel");
    REFUSE("-u", "/s", "-D", "1");
    REFUSE("-u", "/s", "-D", "tun", "-p", "80");
    REFUSE("-u", "/s", "-D", "tun", "-D", "tap");
    REFUSE("-u", "/s", "-N", "../etc");
    REFUSE("-u", "/s", "-N", "/proc/1/ns/net");
    REFUSE("-u", "/s", "-N", "");
    REFUSE("-u", "/s", "-i");
    REFUSE("-u", "/s", "-F", "packet", "-p", "80");
    REFUSE("-u", "/s", "-F", "packet", "-P", "65536");
    REFUSE("-u", "/s", "-P", "256");
    CHECK_EQ(errno, ERRNO_MARK);
}

TEST(format_exact)
{
    struct procket_request r;
    char *argv[32];
    char buf[256];
    static const char *const want[] = {"-p", "53", "-F", "2", "-T", "2",
                                       "-P", "17", "127.0.0.1"};
    static const char *const want6[] = {
        "-u", "/run/x.sock", "-p", "80", "-F", "10", "-T", "1", "-P", "6",
        "-I", "lo", "-b", "16", "-d", "::1"};
    int n;

    errno = ERRNO_MARK;
    procket_request_init(&r);
    r.type = SOCK_DGRAM;
    r.protocol = IPPROTO_UDP;
    r.port = 53;
    memcpy(r.addr, "\x7f\0\0\x01", 4);
    r.addrlen = 4;
    n = procket_args_format(&r, NULL, argv, 32, buf, sizeof(buf));
    CHECK_EQ(n, 9);
    for (int i = 0; i < n && i < 9; i++)
        CHECK(strcmp(argv[i], want[i]) == 0);
    CHECK(argv[n < 0 ? 0 : n] == NULL);

    procket_request_init(&r);
    r.family = AF_INET6;
    r.protocol = IPPROTO_TCP;
    r.port = 80;
    r.addr[15] = 1;
    r.addrlen = 16;
    strcpy(r.ifname, "lo");
    r.backlog = 16;
    r.flags = PROCKET_F_DUALSTACK;
    n = procket_args_format(&r, "/run/x.sock", argv, 32, buf, sizeof(buf));
    CHECK_EQ(n, 16);
    for (int i = 0; i < n && i < 16; i++)
        CHECK(strcmp(argv[i], want6[i]) == 0);
    CHECK(argv[n < 0 ? 0 : n] == NULL);
    /* strings live in buf */
    for (int i = 0; i < n; i++)
        CHECK(argv[i] >= buf && argv[i] < buf + sizeof(buf));
    CHECK_EQ(errno, ERRNO_MARK);
}

/* procket_args_format() then procket_args_parse() gives the request back. */
TEST(format_parse_round_trip)
{
    struct procket_request reqs[16];
    size_t n = 0;
    char *argv[33];
    char buf[512 + 108];
    const char *paths[] = {NULL, "/tmp/procket.sock"};

    procket_request_init(&reqs[n++]);
    procket_request_init(&reqs[n]);
    reqs[n].type = SOCK_DGRAM;
    reqs[n].protocol = IPPROTO_UDP;
    reqs[n++].port = 53;
    procket_request_init(&reqs[n]);
    reqs[n].family = AF_INET6;
    reqs[n].protocol = IPPROTO_TCP;
    reqs[n].port = 80;
    memcpy(reqs[n].addr, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
    reqs[n].addrlen = 16;
    reqs[n++].backlog = 511;
    procket_request_init(&reqs[n]);
    reqs[n].family = AF_INET6;
    reqs[n].flags = PROCKET_F_DUALSTACK;
    reqs[n++].backlog = 1;
    procket_request_init(&reqs[n]);
    reqs[n].type = SOCK_RAW;
    reqs[n].protocol = IPPROTO_ICMP;
    strcpy(reqs[n++].ifname, "wlan0");
    procket_request_init(&reqs[n]); /* a raw socket with protocol 0 */
    reqs[n].type = SOCK_RAW;
    reqs[n++].protocol = 0;
    procket_request_init(&reqs[n]); /* a dgram socket with tcp: odd, valid */
    reqs[n].type = SOCK_DGRAM;
    reqs[n++].protocol = IPPROTO_TCP;
    procket_request_init(&reqs[n]); /* mapped address */
    reqs[n].family = AF_INET6;
    memcpy(reqs[n].addr, "\0\0\0\0\0\0\0\0\0\0\xff\xff\x0a\0\0\x01", 16);
    reqs[n++].addrlen = 16;
    procket_request_init(&reqs[n]); /* longest of everything */
    reqs[n].family = AF_INET6;
    reqs[n].type = SOCK_STREAM;
    reqs[n].protocol = 255;
    reqs[n].port = 65535;
    memset(reqs[n].addr, 0xff, 16);
    reqs[n].addrlen = 16;
    strcpy(reqs[n].ifname, "abcdefghijklmno");
    reqs[n].backlog = 65535;
    reqs[n++].flags = PROCKET_F_DUALSTACK;
    procket_request_init(&reqs[n]);
    memcpy(reqs[n].addr, "\0\0\0\0", 4); /* 0.0.0.0 given explicitly */
    reqs[n++].addrlen = 4;
    procket_request_init(&reqs[n]); /* packet socket on an interface */
    reqs[n].family = AF_PACKET;
    reqs[n].type = SOCK_DGRAM;
    reqs[n].protocol = 0x0008;
    strcpy(reqs[n++].ifname, "veth1");
    procket_request_init(&reqs[n]); /* tap with PI, in a namespace */
    reqs[n].family = AF_UNSPEC;
    reqs[n].type = 0;
    reqs[n].device = PROCKET_DEV_TAP;
    reqs[n].flags = PROCKET_F_TUN_PI;
    strcpy(reqs[n].ifname, "tap0");
    memset(reqs[n].netns, 'n', PROCKET_NETNS_MAX);
    reqs[n++].netns[PROCKET_NETNS_MAX] = '\0';

    errno = ERRNO_MARK;
    for (size_t p = 0; p < 2; p++) {
        for (size_t i = 0; i < n; i++) {
            struct procket_args a;
            const char *err = NULL;
            int k = procket_args_format(&reqs[i], paths[p], argv + 1, 32, buf,
                                        sizeof(buf));
            CHECK(k > 0 && k < 32);
            if (k <= 0)
                continue;
            argv[0] = (char *)"procket";
            CHECK_EQ(procket_args_parse(&a, k + 1, argv, &err), 0);
            if (!request_equal(&a.req, &reqs[i])) {
                fprintf(stderr, "  request #%zu (path %zu) changed: %s\n", i,
                        p, err != NULL ? err : "");
                CHECK(0);
            }
            if (paths[p] == NULL)
                CHECK(a.path == NULL);
            else
                CHECK(a.path != NULL && strcmp(a.path, paths[p]) == 0);
        }
    }
    CHECK_EQ(errno, ERRNO_MARK);
}

TEST(format_errors)
{
    struct procket_request r;
    char *argv[32];
    char buf[256];
    char longpath[108];
    int n;

    errno = ERRNO_MARK;
    procket_request_init(&r);
    r.type = SOCK_DGRAM;
    r.protocol = IPPROTO_UDP;
    r.port = 53;
    /* -p 53 -F 2 -T 2 -P 17: 8 entries, 22 bytes of strings */
    CHECK_EQ(procket_args_format(&r, NULL, argv, 9, buf, 22), 8);
    CHECK_EQ(procket_args_format(&r, NULL, argv, 8, buf, 22), -ENOSPC);
    CHECK_EQ(procket_args_format(&r, NULL, argv, 9, buf, 21), -ENOSPC);
    CHECK_EQ(procket_args_format(&r, NULL, argv, 1, buf, sizeof(buf)),
             -ENOSPC);
    CHECK_EQ(procket_args_format(&r, NULL, argv, 32, buf, 1), -ENOSPC);
    CHECK_EQ(procket_args_format(&r, NULL, argv, 32, buf, 0), -ENOSPC);
    CHECK_EQ(procket_args_format(&r, "/p", argv, 2, buf, sizeof(buf)),
             -ENOSPC);
    CHECK_EQ(procket_args_format(&r, "/p", argv, 32, buf, 4), -ENOSPC);

    /* the documented bound always suffices */
    procket_request_init(&r);
    r.family = AF_INET6;
    r.protocol = 255;
    r.port = 65535;
    memset(r.addr, 0xff, 16);
    r.addr[0] = 0xfe; /* ffff:... would be fine too: 39 characters */
    r.addrlen = 16;
    strcpy(r.ifname, "abcdefghijklmno");
    r.backlog = 65535;
    r.flags = PROCKET_F_DUALSTACK;
    memset(longpath, 'p', sizeof(longpath) - 1);
    longpath[0] = '/';
    longpath[sizeof(longpath) - 1] = '\0';
    {
        char big[256 + sizeof(longpath)];
        n = procket_args_format(&r, longpath, argv, 32, big, sizeof(big));
        CHECK_EQ(n, 16);
    }

    /* invalid requests and arguments */
    CHECK_EQ(procket_args_format(NULL, NULL, argv, 32, buf, sizeof(buf)),
             -EINVAL);
    procket_request_init(&r);
    r.port = -5;
    CHECK_EQ(procket_args_format(&r, NULL, argv, 32, buf, sizeof(buf)),
             -EINVAL);
    procket_request_init(&r);
    r.family = AF_UNIX;
    CHECK_EQ(procket_args_format(&r, NULL, argv, 32, buf, sizeof(buf)),
             -EINVAL);
    procket_request_init(&r);
    r.family = AF_INET6;
    r.addrlen = 16;
    r.addr[0] = 0xfe;
    r.addr[1] = 0x80;
    r.scope_id = 2; /* no argv form */
    CHECK_EQ(procket_args_format(&r, NULL, argv, 32, buf, sizeof(buf)),
             -EINVAL);
    procket_request_init(&r);
    CHECK_EQ(procket_args_format(&r, NULL, NULL, 32, buf, sizeof(buf)),
             -EINVAL);
    CHECK_EQ(procket_args_format(&r, NULL, argv, 32, NULL, sizeof(buf)),
             -EINVAL);
    CHECK_EQ(procket_args_format(&r, NULL, argv, 0, buf, sizeof(buf)),
             -EINVAL);
    CHECK_EQ(errno, ERRNO_MARK);
}

static int split(const char *cmd, char **argv, size_t max)
{
    static char buf[256];
    return procket_split_command(cmd, argv, max, buf, sizeof(buf));
}

TEST(split_command)
{
    char *argv[16];
    char buf[64];

    errno = ERRNO_MARK;
    CHECK_EQ(split("sudo -n /x/procket", argv, 16), 3);
    CHECK(strcmp(argv[0], "sudo") == 0);
    CHECK(strcmp(argv[1], "-n") == 0);
    CHECK(strcmp(argv[2], "/x/procket") == 0);
    CHECK(argv[3] == NULL);

    CHECK_EQ(split("procket", argv, 16), 1);
    CHECK(strcmp(argv[0], "procket") == 0);
    CHECK(argv[1] == NULL);

    CHECK_EQ(split(" \t a \t\tb  c\t", argv, 16), 3);
    CHECK(strcmp(argv[0], "a") == 0);
    CHECK(strcmp(argv[1], "b") == 0);
    CHECK(strcmp(argv[2], "c") == 0);
    CHECK(argv[3] == NULL);

    /* no shell: these are ordinary characters */
    CHECK_EQ(split("a;b $(c)", argv, 16), 2);
    CHECK(strcmp(argv[0], "a;b") == 0);
    CHECK(strcmp(argv[1], "$(c)") == 0);
    CHECK_EQ(split("'a b' \"c d\"", argv, 16), 4);
    CHECK(strcmp(argv[0], "'a") == 0);
    CHECK(strcmp(argv[1], "b'") == 0);
    CHECK(strcmp(argv[2], "\"c") == 0);
    CHECK(strcmp(argv[3], "d\"") == 0);
    CHECK_EQ(split("a\\ b `id` $HOME|x>y&", argv, 16), 4);
    CHECK(strcmp(argv[0], "a\\") == 0);
    CHECK(strcmp(argv[1], "b") == 0);
    CHECK(strcmp(argv[2], "`id`") == 0);
    CHECK(strcmp(argv[3], "$HOME|x>y&") == 0);
    CHECK(argv[4] == NULL);
    CHECK_EQ(split("\xc3\xa9t\xc3\xa9", argv, 16), 1); /* UTF-8 is fine */

    /* empty, blank, control characters */
    CHECK_EQ(split("", argv, 16), -EINVAL);
    CHECK_EQ(split("   ", argv, 16), -EINVAL);
    CHECK_EQ(split(" \t\t ", argv, 16), -EINVAL);
    CHECK_EQ(split("a\nb", argv, 16), -EINVAL);
    CHECK_EQ(split("a\rb", argv, 16), -EINVAL);
    CHECK_EQ(split("a\x01", argv, 16), -EINVAL);
    CHECK_EQ(split("\x1b[0m x", argv, 16), -EINVAL);
    CHECK_EQ(split("a\x7f", argv, 16), -EINVAL);
    CHECK_EQ(split("procket\n", argv, 16), -EINVAL);

    /* room: max counts the NULL; buf holds the words and their NULs */
    CHECK_EQ(split("a b c", argv, 4), 3);
    CHECK_EQ(split("a b c", argv, 3), -ENOSPC);
    CHECK_EQ(split("a", argv, 1), -ENOSPC);
    CHECK_EQ(procket_split_command("ab cd", argv, 16, buf, 6), 2);
    CHECK(strcmp(argv[0], "ab") == 0 && strcmp(argv[1], "cd") == 0);
    CHECK_EQ(procket_split_command("ab cd", argv, 16, buf, 5), -ENOSPC);
    CHECK_EQ(procket_split_command("ab", argv, 16, buf, 2), -ENOSPC);
    CHECK_EQ(procket_split_command("ab", argv, 16, buf, 0), -ENOSPC);

    /* bad arguments */
    CHECK_EQ(procket_split_command(NULL, argv, 16, buf, sizeof(buf)), -EINVAL);
    CHECK_EQ(procket_split_command("a", NULL, 16, buf, sizeof(buf)), -EINVAL);
    CHECK_EQ(procket_split_command("a", argv, 16, NULL, sizeof(buf)), -EINVAL);
    CHECK_EQ(procket_split_command("a", argv, 0, buf, sizeof(buf)), -EINVAL);
    CHECK_EQ(errno, ERRNO_MARK);
}

TEST(name_tables)
{
    errno = ERRNO_MARK;
    CHECK_EQ(procket_family_number("inet"), AF_INET);
    CHECK_EQ(procket_family_number("inet6"), AF_INET6);
    CHECK_EQ(procket_family_number("2"), 2);
    CHECK_EQ(procket_family_number("0"), 0);
    CHECK_EQ(procket_family_number("255"), 255);
    CHECK_EQ(procket_family_number("256"), -EINVAL);
    CHECK_EQ(procket_family_number("Inet"), -EINVAL);
    CHECK_EQ(procket_family_number("inet "), -EINVAL);
    CHECK_EQ(procket_family_number("unix"), -EINVAL);
    CHECK_EQ(procket_family_number("packet"), AF_PACKET);
    CHECK_EQ(procket_family_number("unspec"), AF_UNSPEC);
    CHECK_EQ(procket_family_number(""), -EINVAL);
    CHECK_EQ(procket_family_number(NULL), -EINVAL);

    CHECK_EQ(procket_type_number("stream"), SOCK_STREAM);
    CHECK_EQ(procket_type_number("dgram"), SOCK_DGRAM);
    CHECK_EQ(procket_type_number("raw"), SOCK_RAW);
    CHECK_EQ(procket_type_number("5"), 5);
    CHECK_EQ(procket_type_number("seqpacket"), -EINVAL);
    CHECK_EQ(procket_type_number("-1"), -EINVAL);
    CHECK_EQ(procket_type_number(NULL), -EINVAL);

    CHECK_EQ(procket_protocol_number("ip"), 0);
    CHECK_EQ(procket_protocol_number("icmp"), IPPROTO_ICMP);
    CHECK_EQ(procket_protocol_number("tcp"), IPPROTO_TCP);
    CHECK_EQ(procket_protocol_number("udp"), IPPROTO_UDP);
    CHECK_EQ(procket_protocol_number("ipv6-icmp"), IPPROTO_ICMPV6);
    CHECK_EQ(procket_protocol_number("icmp6"), IPPROTO_ICMPV6);
    CHECK_EQ(procket_protocol_number("sctp"), IPPROTO_SCTP);
    CHECK_EQ(procket_protocol_number("udplite"), IPPROTO_UDPLITE);
    CHECK_EQ(procket_protocol_number("raw"), IPPROTO_RAW);
    CHECK_EQ(procket_protocol_number("255"), 255);
    CHECK_EQ(procket_protocol_number("0"), 0);
    CHECK_EQ(procket_protocol_number("256"), 256); /* an ethertype */
    CHECK_EQ(procket_protocol_number("65535"), 65535);
    CHECK_EQ(procket_protocol_number("65536"), -EINVAL);
    CHECK_EQ(procket_protocol_number("TCP"), -EINVAL);
    CHECK_EQ(procket_protocol_number(" 6"), -EINVAL);
    CHECK_EQ(procket_protocol_number("6 "), -EINVAL);
    CHECK_EQ(procket_protocol_number("9999999999999999999999"), -EINVAL);
    CHECK_EQ(procket_protocol_number(""), -EINVAL);
    CHECK_EQ(procket_protocol_number(NULL), -EINVAL);
    CHECK_EQ(errno, ERRNO_MARK);
}

int main(void)
{
    RUN(no_options_gives_defaults);
    RUN(every_flag);
    RUN(names_and_numbers);
    RUN(defaults_follow);
    RUN(help_and_version);
    RUN(errors);
    RUN(device_and_namespace_flags);
    RUN(format_exact);
    RUN(format_parse_round_trip);
    RUN(format_errors);
    RUN(split_command);
    RUN(name_tables);
    return check_summary("test_args");
}
