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
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netpacket/packet.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "helper.h"

struct opener {
    const char *name;
    int (*serves)(const struct procket_request *req);
    uint64_t (*caps)(const struct procket_request *req);
    /* run while still privileged, before the switch to the caller; may
     * leave a descriptor in *prep for open; NULL: nothing to do */
    int (*prepare)(const struct procket_request *req, int *prep);
    int (*open)(const struct procket_request *req, int prep, unsigned confine,
                unsigned ifindex, int *fd);
};

static int inet_serves(const struct procket_request *req)
{
    return req->device == PROCKET_DEV_NONE &&
           (req->family == AF_INET || req->family == AF_INET6);
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

#ifndef SO_BINDTOIFINDEX
#define SO_BINDTOIFINDEX 62
#endif

/* Binds s to the interface ifindex (named ifname) before its bind(2). */
static int bind_to_interface(int s, unsigned ifindex, const char *ifname)
{
    int idx = (int)ifindex;

    if (setsockopt(s, SOL_SOCKET, SO_BINDTOIFINDEX, &idx, sizeof(idx)) == 0)
        return 0;
    if (errno != ENOPROTOOPT)
        return -1;
    /* before Linux 5.0: by name */
    return setsockopt(s, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)strlen(ifname));
}

/* After bind(2): the socket is bound to the interface the policy decided
 * on (ifindex; 0: none), or to nothing if none was decided. Whatever the
 * kernel did with the address (a link-local scope id rebinds, for one),
 * a socket bound elsewhere is never handed over. */
static int bound_where_decided(int s, unsigned ifindex, const char *ifname)
{
    int idx = -1;
    socklen_t len = sizeof(idx);
    char name[PROCKET_IFNAME_MAX + 1] = "";

    if (getsockopt(s, SOL_SOCKET, SO_BINDTOIFINDEX, &idx, &len) == 0)
        return (unsigned)idx == ifindex ? 0 : -EINVAL;
    len = sizeof(name) - 1;
    if (getsockopt(s, SOL_SOCKET, SO_BINDTODEVICE, name, &len) < 0)
        return -errno;
    name[len < sizeof(name) ? len : sizeof(name) - 1] = '\0';
    return strcmp(name, ifindex != 0 ? ifname : "") == 0 ? 0 : -EINVAL;
}

static int inet_open(const struct procket_request *req, int prep, unsigned confine,
                     unsigned ifindex, int *fd)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    int s, rc = 0;

    (void)prep;
    (void)confine;
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
    if (rc == 0 && ifindex != 0)
        rc = bind_to_interface(s, ifindex, req->ifname);
    /* A raw socket has no port; bind it only to restrict the address. */
    if (rc == 0 && (req->type != SOCK_RAW || req->addrlen > 0))
        rc = bind(s, (struct sockaddr *)&ss, sslen);
    if (rc < 0)
        rc = -errno;
    if (rc == 0)
        rc = bound_where_decided(s, ifindex, req->ifname);
    if (rc == 0 && req->backlog > 0 && listen(s, req->backlog) < 0)
        rc = -errno;
    if (rc < 0) {
        (void)close(s);
        return rc;
    }
    *fd = s;
    return 0;
}

/* ---- packet sockets ---------------------------------------------- */

static int packet_serves(const struct procket_request *req)
{
    return req->device == PROCKET_DEV_NONE && req->family == AF_PACKET;
}

static uint64_t packet_caps(const struct procket_request *req)
{
    (void)req;
    return CAPBIT(HCAP_NET_RAW);
}

/* Classic BPF, as <linux/filter.h> has it (the static build has no
 * kernel headers). */
struct hsock_filter {
    uint16_t code;
    uint8_t jt, jf;
    uint32_t k;
};
struct hsock_fprog {
    unsigned short len;
    struct hsock_filter *filter;
};
#define HBPF_LD_W_ABS 0x20  /* BPF_LD | BPF_W | BPF_ABS */
#define HBPF_JEQ_K 0x15     /* BPF_JMP | BPF_JEQ | BPF_K */
#define HBPF_RET_K 0x06     /* BPF_RET | BPF_K */
#define HSKF_AD_PROTOCOL (0xfffff000u + 0u) /* SKF_AD_OFF + SKF_AD_PROTOCOL */
#define HSKF_AD_PKTTYPE (0xfffff000u + 4u)  /* SKF_AD_OFF + SKF_AD_PKTTYPE */
#define HSKF_AD_IFINDEX (0xfffff000u + 8u)  /* SKF_AD_OFF + SKF_AD_IFINDEX */
#define HPACKET_OUTGOING 4
#ifndef SO_ATTACH_FILTER
#define SO_ATTACH_FILTER 26
#endif
#ifndef SO_LOCK_FILTER
#define SO_LOCK_FILTER 44
#endif

/* A locked socket filter that passes only frames of interface ifindex
 * (POLICY_CONFINE_IFINDEX) and incoming frames of ethertype proto, host
 * order (POLICY_CONFINE_PROTOCOL: a socket for one ethertype sees no
 * outgoing frames, one rebound for every ethertype would). The holder
 * may bind the socket elsewhere but cannot detach, replace or unlock the
 * filter (EPERM): reception stays what the rule granted. */
static int confine_packet(int s, unsigned confine, int ifindex, uint16_t proto)
{
    struct hsock_filter prog[8];
    struct hsock_fprog fprog;
    /* the program's length, known before it is written, so that each
     * test can jump to the last instruction ("nothing") */
    unsigned len = 2 + (confine & POLICY_CONFINE_IFINDEX ? 2 : 0) +
                   (confine & POLICY_CONFINE_PROTOCOL ? 4 : 0);
    unsigned n = 0;
    int one = 1;
#define TO_DROP ((uint8_t)(len - 2 - n)) /* from prog[n], the next one written */

    if (len == 2)
        return 0;
    if (confine & POLICY_CONFINE_IFINDEX) {
        prog[n++] = (struct hsock_filter){HBPF_LD_W_ABS, 0, 0, HSKF_AD_IFINDEX};
        prog[n] = (struct hsock_filter){HBPF_JEQ_K, 0, TO_DROP, (uint32_t)ifindex};
        n++;
    }
    if (confine & POLICY_CONFINE_PROTOCOL) {
        prog[n++] = (struct hsock_filter){HBPF_LD_W_ABS, 0, 0, HSKF_AD_PKTTYPE};
        prog[n] = (struct hsock_filter){HBPF_JEQ_K, TO_DROP, 0, HPACKET_OUTGOING};
        n++;
        prog[n++] = (struct hsock_filter){HBPF_LD_W_ABS, 0, 0, HSKF_AD_PROTOCOL};
        prog[n] = (struct hsock_filter){HBPF_JEQ_K, 0, TO_DROP, proto};
        n++;
    }
#undef TO_DROP
    prog[n++] = (struct hsock_filter){HBPF_RET_K, 0, 0, 0xffffffffu}; /* all of it */
    prog[n++] = (struct hsock_filter){HBPF_RET_K, 0, 0, 0};           /* nothing */
    fprog.len = (unsigned short)n;
    fprog.filter = prog;
    if (setsockopt(s, SOL_SOCKET, SO_ATTACH_FILTER, &fprog, sizeof(fprog)) < 0 ||
        setsockopt(s, SOL_SOCKET, SO_LOCK_FILTER, &one, sizeof(one)) < 0)
        return -errno;
    return 0;
}

/* protocol is the ethertype as socket(2) takes it (network byte order).
 * The socket is made with protocol 0, which receives nothing, so that no
 * frame is queued before the filter (when confined, see policy_decide)
 * and the binding are in place; bind(2) then sets the ethertype and the
 * interface (0: every interface). */
static int packet_open(const struct procket_request *req, int prep, unsigned confine,
                       unsigned ifindex, int *fd)
{
    struct sockaddr_ll sll;
    int s, rc = 0;

    (void)prep;
    memset(&sll, 0, sizeof(sll));
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = (unsigned short)req->protocol;
    s = socket(AF_PACKET, req->type | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -errno;
    sll.sll_ifindex = (int)ifindex;
    if (ifindex == 0 && (confine & POLICY_CONFINE_IFINDEX)) {
        rc = -EINVAL; /* an interface rule matched a request without one */
    }
    if (rc == 0)
        rc = confine_packet(s, confine, sll.sll_ifindex, ntohs((uint16_t)req->protocol));
    if (rc == 0 && bind(s, (struct sockaddr *)&sll, sizeof(sll)) < 0)
        rc = -errno;
    if (rc < 0) {
        (void)close(s);
        return rc;
    }
    *fd = s;
    return 0;
}

/* ---- tun and tap devices ------------------------------------------- */

/* From <linux/if_tun.h>, which the static (musl) build does not have. */
#ifndef TUNSETIFF
#define TUNSETIFF _IOW('T', 202, int)
#define TUNSETOWNER _IOW('T', 204, int)
#define TUNSETGROUP _IOW('T', 206, int)
#endif
#ifndef IFF_TUN
#define IFF_TUN 0x0001
#define IFF_TAP 0x0002
#define IFF_NO_PI 0x1000
#endif
#ifndef IFF_TUN_EXCL
#define IFF_TUN_EXCL 0x8000
#endif

#define TUN_PATH "/dev/net/tun"
#define TUN_MAJOR 10
#define TUN_MINOR 200

static int device_serves(const struct procket_request *req)
{
    return req->device == PROCKET_DEV_TUN || req->device == PROCKET_DEV_TAP ||
           req->device == PROCKET_DEV_TUN_CLONE;
}

/* The clone is handed over as it was opened: nothing is done with it as
 * the caller, so no capability is kept for that. */
static uint64_t device_caps(const struct procket_request *req)
{
    return req->device == PROCKET_DEV_TUN_CLONE ? 0 : CAPBIT(HCAP_NET_ADMIN);
}

/* Opens the tun clone device, while privileged: it is often root's only
 * (mode 0600). Only that device is ever opened: its type and number are
 * checked before the open, the open never follows a symlink, and the
 * opened file must be the one examined. */
static int device_prepare(const struct procket_request *req, int *prep)
{
    struct stat before, after;
    int s;

    (void)req;
    if (lstat(TUN_PATH, &before) < 0)
        return -errno;
    if (!S_ISCHR(before.st_mode) ||
        before.st_rdev != makedev(TUN_MAJOR, TUN_MINOR))
        return -ENODEV;
    s = open(TUN_PATH, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (s < 0)
        return -errno;
    if (fstat(s, &after) < 0 || after.st_dev != before.st_dev ||
        after.st_ino != before.st_ino || after.st_rdev != before.st_rdev) {
        (void)close(s);
        return -ENODEV;
    }
    *prep = s;
    return 0;
}

/* Creates the device, as the caller with CAP_NET_ADMIN only, so that the
 * caller owns it, and returns the descriptor attached to it
 * (non-blocking). IFF_TUN_EXCL: an existing device, someone else's
 * persistent one included, is never attached to (EBUSY). The device is
 * not persistent: it goes away with the last descriptor. */
static int device_open(const struct procket_request *req, int prep, unsigned confine,
                       unsigned ifindex, int *fd)
{
    struct ifreq ifr;

    (void)confine;
    (void)ifindex;
    if (req->device == PROCKET_DEV_TUN_CLONE) {
        *fd = prep; /* unattached: the caller names a device itself */
        return 0;
    }
    memset(&ifr, 0, sizeof(ifr));
    ifr.ifr_flags = (short)((req->device == PROCKET_DEV_TUN ? IFF_TUN : IFF_TAP) |
                            IFF_TUN_EXCL |
                            ((req->flags & PROCKET_F_TUN_PI) ? 0 : IFF_NO_PI));
    memcpy(ifr.ifr_name, req->ifname, strlen(req->ifname));
    if (ioctl(prep, TUNSETIFF, &ifr) < 0 ||
        ioctl(prep, TUNSETOWNER, (unsigned long)geteuid()) < 0 ||
        ioctl(prep, TUNSETGROUP, (unsigned long)getegid()) < 0)
        return -errno;
    *fd = prep;
    return 0;
}

/* ---- named network namespaces --------------------------------------- */

#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif

/* Moves the helper into the network namespace `ip netns` keeps at
 * /run/netns/NAME (NAME was validated: one plain file name). Runs while
 * privileged (setns needs CAP_SYS_ADMIN), before the switch to the
 * caller. No symlink is followed, and only a namespace file is accepted:
 * anything else there, or nothing, is ENOENT, so no other file can be
 * probed through this. */
int enter_namespace(const char *name)
{
    struct statfs sfs;
    int dir, ns, rc;

    if (name[0] == '\0')
        return 0;
    dir = open("/run/netns", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dir < 0)
        return -ENOENT;
    ns = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    (void)close(dir);
    if (ns < 0)
        return errno == EACCES || errno == EPERM ? -errno : -ENOENT;
    if (fstatfs(ns, &sfs) < 0 || sfs.f_type != NSFS_MAGIC) {
        (void)close(ns);
        return -ENOENT;
    }
    rc = setns(ns, CLONE_NEWNET) < 0 ? -errno : 0;
    (void)close(ns);
    if (rc == -EINVAL)
        rc = -ENOENT; /* a namespace, but not a network one */
    return rc;
}

/* ---- the interface a socket will be bound to ---------------------------- */

/* Whether the kernel takes an IPv6 address's interface from the scope id
 * when binding to it: link-local unicast (fe80::/10), and multicast of
 * interface-local or link-local scope. */
static int needs_scope(const unsigned char a[16])
{
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
        return 1;
    return a[0] == 0xff && ((a[1] & 0x0f) == 1 || (a[1] & 0x0f) == 2);
}

/* The interface a socket request will really be bound to, in the network
 * namespace the helper is in now (the request's): *ifindex, 0 for none,
 * and req->ifname rewritten to its name, so that the policy and the
 * audit line see that interface whichever of its names (an altname) the
 * request used. A link-local address's scope id binds the socket to its
 * interface: it is that interface when no name is given, and must agree
 * with the name when one is (EINVAL). ENODEV: no such interface. Devices
 * (tun, tap) are named, not looked up. */
int resolve_interface(struct procket_request *req, unsigned *ifindex)
{
    char name[IF_NAMESIZE];
    unsigned idx = 0;

    *ifindex = 0;
    if (req->device != PROCKET_DEV_NONE)
        return 0;
    if (req->ifname[0] != '\0') {
        idx = if_nametoindex(req->ifname);
        if (idx == 0)
            return -ENODEV;
    }
    if (req->family == AF_INET6 && req->addrlen == 16 && req->scope_id != 0 &&
        needs_scope(req->addr)) {
        if (idx != 0 && idx != req->scope_id)
            return -EINVAL; /* the scope id names another interface */
        idx = req->scope_id;
    }
    if (idx == 0)
        return 0;
    if (if_indextoname(idx, name) == NULL || strlen(name) > PROCKET_IFNAME_MAX)
        return -ENODEV;
    memcpy(req->ifname, name, strlen(name) + 1);
    *ifindex = idx;
    return 0;
}

static const struct opener openers[] = {
    {"tun/tap device", device_serves, device_caps, device_prepare, device_open},
    {"packet socket", packet_serves, packet_caps, NULL, packet_open},
    {"inet socket", inet_serves, inet_caps, NULL, inet_open},
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

int prepare_requested(const struct procket_request *req, int *prep)
{
    const struct opener *o = find(req);

    *prep = -1;
    return o == NULL || o->prepare == NULL ? 0 : o->prepare(req, prep);
}

/* Opens what req asks for; the prepared descriptor, if any, is used or
 * closed. */
int open_requested(const struct procket_request *req, int prep, unsigned confine,
                   unsigned ifindex, int *fd)
{
    const struct opener *o = find(req);
    int rc = o == NULL ? -EAFNOSUPPORT : o->open(req, prep, confine, ifindex, fd);

    if (rc < 0 && prep >= 0)
        (void)close(prep);
    return rc;
}
