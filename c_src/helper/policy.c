/*
 * policy.c - who may get what (procket.conf(5)).
 *
 * A request is one kind of thing: a tcp, udp, sctp, udplite or other
 * ("ip") inet socket, a raw ICMP/ICMPv6 socket ("icmp"), another raw IP
 * socket ("raw"), an AF_PACKET socket ("packet"), a tun or tap device;
 * with a port and a local address (inet), an interface, a named network
 * namespace, a device name.
 *
 * The file's rules are tried in order and the first that matches decides:
 *
 *   allow|deny WHO [KIND...] [COND...]
 *   WHO   all | user NAME|UID | group NAME|GID
 *   KIND  tcp udp sctp udplite ip icmp raw packet tun tap (none: any kind)
 *   COND  port=P[-Q][,...]  address=ADDR[/LEN][,...]  interface=NAME[,...]
 *         namespace=NAME[,...]  device=NAME[,...]  ("*": any name)
 *         family=inet|inet6|packet[,...]  type=stream|dgram|raw[,...]
 *         protocol=N[-M][,...] (inet: the IP protocol; packet: the
 *         ethertype; decimal or 0x hex)
 *         namespace (alone: namespace=*)
 *
 * A rule matches a request when WHO is the caller (its uid, its primary
 * group, or one of its groups: see procket.conf(5) for where they come
 * from), the kind is listed (or none is), and every condition holds (one
 * value of each list; see value_matches and addr_cond for how). Names of
 * interfaces are compared as the interfaces they name where the request
 * is made (an altname is its interface), addresses as what they reach
 * (an IPv4-mapped address is its IPv4 address).
 * A request made inside a named namespace matches only rules with a
 * namespace condition. When no rule matches, the built-in default
 * decides: tcp, udp, sctp, udplite and ip sockets on any port but 512-1023
 * and any address, and icmp sockets, outside namespaces: allowed;
 * everything else: denied.
 *
 * The file is refused as a whole (every request but root's is then
 * denied, and the reason goes to stderr) unless it is a regular file owned by root and
 * writable by nobody else, not a symlink, at most POLICY_FILE_MAX bytes,
 * and every line parses.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helper.h"

static const struct {
    const char *name;
    unsigned bit;
} kinds[] = {
    {"tcp", POLICY_K_TCP},   {"udp", POLICY_K_UDP},
    {"sctp", POLICY_K_SCTP}, {"udplite", POLICY_K_UDPLITE},
    {"ip", POLICY_K_IP},     {"icmp", POLICY_K_ICMP},
    {"raw", POLICY_K_RAW},   {"packet", POLICY_K_PACKET},
    {"tun", POLICY_K_TUN},   {"tap", POLICY_K_TAP},
};

static const char *const cond_names[] = {
    [POLICY_C_PORT] = "port",           [POLICY_C_ADDRESS] = "address",
    [POLICY_C_INTERFACE] = "interface", [POLICY_C_NAMESPACE] = "namespace",
    [POLICY_C_DEVICE] = "device",       [POLICY_C_FAMILY] = "family",
    [POLICY_C_TYPE] = "type",           [POLICY_C_PROTOCOL] = "protocol",
};

const char *policy_kind_name(unsigned kind)
{
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (kinds[i].bit == kind)
            return kinds[i].name;
    return "?";
}

unsigned policy_kind(const struct procket_request *req)
{
    if (req->device == PROCKET_DEV_TUN || req->device == PROCKET_DEV_TUN_CLONE)
        return POLICY_K_TUN;
    if (req->device == PROCKET_DEV_TAP)
        return POLICY_K_TAP;
    if (req->family == AF_PACKET)
        return POLICY_K_PACKET;
    if (req->type == SOCK_RAW)
        return (req->family == AF_INET && req->protocol == IPPROTO_ICMP) ||
                       (req->family == AF_INET6 && req->protocol == IPPROTO_ICMPV6)
                   ? POLICY_K_ICMP
                   : POLICY_K_RAW;
    switch (req->protocol) {
    case IPPROTO_TCP: return POLICY_K_TCP;
    case IPPROTO_UDP: return POLICY_K_UDP;
    case IPPROTO_SCTP: return POLICY_K_SCTP;
    case IPPROTO_UDPLITE: return POLICY_K_UDPLITE;
    case 0:
        if (req->type == SOCK_STREAM)
            return POLICY_K_TCP;
        if (req->type == SOCK_DGRAM)
            return POLICY_K_UDP;
        return POLICY_K_IP;
    default: return POLICY_K_IP;
    }
}

/* ---- parsing -------------------------------------------------------------- */

/* A decimal number in [0, max] with nothing around it. */
static int parse_num(const char *s, size_t len, unsigned long max, unsigned long *out)
{
    unsigned long v = 0;

    if (len == 0 || len > 10)
        return -1;
    for (size_t i = 0; i < len; i++) {
        unsigned long d = (unsigned long)(s[i] - '0');
        if (s[i] < '0' || s[i] > '9' || v > (max - d) / 10)
            return -1; /* not a digit, or past max (never wraps) */
        v = v * 10 + d;
    }
    if (v > max)
        return -1;
    *out = v;
    return 0;
}

/* parse_num, or 0x and hex digits. */
static int parse_num_hex(const char *s, size_t len, unsigned long max, unsigned long *out)
{
    unsigned long v = 0;

    if (len < 2 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
        return parse_num(s, len, max, out);
    if (len == 2 || len > 10)
        return -1;
    for (size_t i = 2; i < len; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0)
            return -1;
        v = v * 16 + (unsigned long)d;
    }
    if (v > max)
        return -1;
    *out = v;
    return 0;
}

/* A number or a range N-M of them, each at most max. */
static int parse_range(const char *s, size_t len, unsigned long max, uint32_t *lo,
                       uint32_t *hi)
{
    const char *dash = memchr(s, '-', len);
    unsigned long a, b;

    if (dash == NULL) {
        if (parse_num_hex(s, len, max, &a) < 0)
            return -1;
        b = a;
    } else if (parse_num_hex(s, (size_t)(dash - s), max, &a) < 0 ||
               parse_num_hex(dash + 1, len - (size_t)(dash - s) - 1, max, &b) < 0 ||
               a > b) {
        return -1;
    }
    *lo = (uint32_t)a;
    *hi = (uint32_t)b;
    return 0;
}

static int word_is(const char *s, size_t len, const char *word)
{
    return strlen(word) == len && strncmp(s, word, len) == 0;
}

/* Splits line (modified in place) into at most max words; max + 1 if
 * there are more. */
static size_t split(char *line, char **words, size_t max)
{
    size_t n = 0;
    char *p = line;

    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0' || n == max)
            return *p == '\0' ? n : max + 1;
        words[n++] = p;
        while (*p != '\0' && *p != ' ' && *p != '\t')
            p++;
        if (*p != '\0')
            *p++ = '\0';
    }
}

/* Interface and device names: 1..15 bytes, none of '/', ':', ',', '=',
 * '*' (an alias is not an interface), '%' (a template the kernel fills
 * in, never a name); namespace names as procket takes
 * them (letters, digits, '_', '-', '.'; not starting with '.' or '-'). */
static int name_ok(int cond, const char *s, size_t len)
{
    if (len == 0)
        return 0;
    if (cond == POLICY_C_NAMESPACE) {
        if (len > PROCKET_NETNS_MAX || s[0] == '.' || s[0] == '-')
            return 0;
        for (size_t i = 0; i < len; i++) {
            char c = s[i];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
                return 0;
        }
        return 1;
    }
    if (len > PROCKET_IFNAME_MAX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (s[i] == '/' || s[i] == ':' || s[i] == ',' || s[i] == '=' || s[i] == '*' ||
            s[i] == '%' ||
            (unsigned char)s[i] <= ' ' || (unsigned char)s[i] == 0x7f)
            return 0;
    return 1;
}

static int parse_value(struct policy *pol, struct policy_value *v, int cond,
                       const char *s, size_t len)
{
    memset(v, 0, sizeof(*v));
    v->cond = (unsigned char)cond;
    switch (cond) {
    case POLICY_C_PORT:
        return parse_range(s, len, 65535, &v->lo, &v->hi);
    case POLICY_C_PROTOCOL:
        return parse_range(s, len, 65535, &v->lo, &v->hi);
    case POLICY_C_FAMILY:
        v->lo = word_is(s, len, "inet") ? AF_INET : word_is(s, len, "inet6") ? AF_INET6
                : word_is(s, len, "packet") ? AF_PACKET : 0;
        return v->lo != 0 ? 0 : -1;
    case POLICY_C_TYPE:
        v->lo = word_is(s, len, "stream") ? SOCK_STREAM : word_is(s, len, "dgram") ? SOCK_DGRAM
                : word_is(s, len, "raw") ? SOCK_RAW : 0;
        return v->lo != 0 ? 0 : -1;
    case POLICY_C_ADDRESS: {
        char text[INET6_ADDRSTRLEN + 1];
        const char *slash = memchr(s, '/', len);
        size_t alen = slash != NULL ? (size_t)(slash - s) : len;
        unsigned long prefix;
        if (alen == 0 || alen >= sizeof(text))
            return -1;
        memcpy(text, s, alen);
        text[alen] = '\0';
        if (inet_pton(AF_INET, text, v->addr) == 1)
            v->family = AF_INET;
        else if (inet_pton(AF_INET6, text, v->addr) == 1)
            v->family = AF_INET6;
        else
            return -1;
        prefix = v->family == AF_INET ? 32 : 128;
        if (slash != NULL &&
            parse_num(slash + 1, len - alen - 1, prefix, &prefix) < 0)
            return -1;
        v->prefix = (unsigned char)prefix;
        return 0;
    }
    default:
        if (len == 1 && s[0] == '*') {
            v->any = 1;
            return 0;
        }
        if (!name_ok(cond, s, len) || pol->used + len + 1 > sizeof(pol->pool))
            return -1;
        memcpy(pol->pool + pol->used, s, len);
        pol->pool[pol->used + len] = '\0';
        v->str = (uint32_t)pol->used;
        pol->used += len + 1;
        return 0;
    }
}

/* KEY=V1,V2,... */
static int parse_cond(struct policy *pol, struct policy_rule *r, const char *word)
{
    const char *eq = strchr(word, '='), *p;
    int cond = 0;

    if (eq == NULL)
        return -1;
    for (int c = 1; c < POLICY_C_COUNT; c++)
        if (strlen(cond_names[c]) == (size_t)(eq - word) &&
            strncmp(word, cond_names[c], (size_t)(eq - word)) == 0)
            cond = c;
    if (cond == 0 || (r->conds & (1u << cond)))
        return -1; /* unknown, or given twice */
    r->conds |= 1u << cond;
    p = eq + 1;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
        if (pol->nvalues == POLICY_MAX_VALUES ||
            parse_value(pol, &pol->values[pol->nvalues], cond, p, len) < 0)
            return -1;
        pol->nvalues++;
        r->count++;
        if (comma == NULL)
            return 0;
        p = comma + 1;
    }
}

static int parse_line(struct policy *pol, char *line, int lineno,
                      policy_resolver resolve)
{
    char *w[32];
    size_t n, i;
    struct policy_rule r;
    char *hash = line;

    /* A comment starts with a '#' at the start of a word: '#' may be part
     * of an interface or device name. */
    while ((hash = strchr(hash, '#')) != NULL &&
           !(hash == line || hash[-1] == ' ' || hash[-1] == '\t'))
        hash++;
    if (hash != NULL)
        *hash = '\0';
    n = split(line, w, 32);
    if (n == 0)
        return 0;
    if (n > 32 || n < 2 || pol->n == POLICY_MAX_RULES)
        return -1;
    memset(&r, 0, sizeof(r));
    if (strcmp(w[0], "allow") == 0)
        r.allow = 1;
    else if (strcmp(w[0], "deny") != 0)
        return -1;
    if (strcmp(w[1], "all") == 0) {
        r.who = POLICY_WHO_ALL;
        i = 2;
    } else if (n >= 3 && (strcmp(w[1], "user") == 0 || strcmp(w[1], "group") == 0)) {
        unsigned long id;
        r.who = w[1][0] == 'u' ? POLICY_WHO_UID : POLICY_WHO_GID;
        if (parse_num(w[2], strlen(w[2]), 0xfffffffeUL, &id) == 0)
            r.id = (uint32_t)id;
        else if (resolve == NULL || resolve(r.who, w[2], &r.id) < 0)
            return -1;
        i = 3;
    } else {
        return -1;
    }
    r.line = (unsigned)lineno;
    r.first = (uint32_t)pol->nvalues;
    for (; i < n; i++) {
        unsigned bit = 0;
        for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
            if (strcmp(w[i], kinds[k].name) == 0)
                bit = kinds[k].bit;
        if (bit != 0) {
            r.kinds |= bit;
        } else if (strcmp(w[i], "namespace") == 0) {
            if (parse_cond(pol, &r, "namespace=*") < 0)
                return -1;
        } else if (parse_cond(pol, &r, w[i]) < 0) {
            return -1;
        }
    }
    pol->rules[pol->n++] = r;
    return 0;
}

int policy_parse(struct policy *pol, const char *text, size_t len,
                 policy_resolver resolve, int *bad_line)
{
    char line[POLICY_LINE_MAX + 1];
    size_t start = 0;
    int lineno = 0;

    /* not the whole struct: its tables are large and mostly unused */
    pol->n = pol->nvalues = pol->used = 0;
    *bad_line = 0;
    /* A last line without its newline is a file cut short (written in
     * place, not replaced by a rename): what is missing may be a deny. */
    if (len > 0 && text[len - 1] != '\n') {
        for (size_t i = 0; i < len; i++)
            *bad_line += text[i] == '\n';
        *bad_line += 1;
        return -EINVAL;
    }
    while (start < len) {
        const char *nl = memchr(text + start, '\n', len - start);
        size_t end = nl != NULL ? (size_t)(nl - text) : len;
        size_t l = end - start;

        lineno++;
        if (l > POLICY_LINE_MAX || memchr(text + start, '\0', l) != NULL ||
            (memcpy(line, text + start, l), line[l] = '\0',
             parse_line(pol, line, lineno, resolve) < 0)) {
            *bad_line = lineno;
            pol->n = pol->nvalues = pol->used = 0; /* earlier lines grant nothing */
            return -EINVAL;
        }
        start = end + 1;
    }
    return 0;
}

/* ---- deciding --------------------------------------------------------- */

static int who_matches(const struct policy_rule *r, const struct identity *who)
{
    /* an unmapped caller (broker): its uid and groups stand for anyone
     * the kernel could not map; an allow rule must name the uid itself */
    if (who->unmapped && r->allow && r->who != POLICY_WHO_UID)
        return 0;
    if (r->who == POLICY_WHO_ALL)
        return 1;
    if (r->who == POLICY_WHO_UID)
        return r->id == who->uid;
    if (r->id == who->gid)
        return 1;
    for (size_t g = 0; g < who->ngroups; g++)
        if (r->id == who->groups[g])
            return 1;
    return 0;
}

static int is_inet(const struct procket_request *req)
{
    return req->device == PROCKET_DEV_NONE &&
           (req->family == AF_INET || req->family == AF_INET6);
}

/* ETH_P_ALL, host order: a packet socket for every ethertype */
#define ETHERTYPE_ALL 0x0003u

/* Whether value v holds for req, in an allow or a deny rule. For packet
 * sockets a deny rule is read as "no frames of": a socket for every
 * ethertype gets an interface's ARP frames too, and one bound to no
 * interface gets every interface's frames, so a deny rule's protocol=
 * holds for an ETH_P_ALL request and its interface= for a request
 * without an interface. An allow rule grants every ethertype only by
 * naming 0x0003 itself, not through a range around it. */
static int value_matches(const struct policy *pol, const struct policy_value *v,
                         const struct procket_request *req, int allow,
                         policy_ifindex ifindex)
{
    const char *have;
    unsigned idx;

    switch (v->cond) {
    case POLICY_C_PORT:
        return is_inet(req) && (uint32_t)req->port >= v->lo &&
               (uint32_t)req->port <= v->hi;
    case POLICY_C_FAMILY:
        return req->device == PROCKET_DEV_NONE && (uint32_t)req->family == v->lo;
    case POLICY_C_TYPE:
        return req->device == PROCKET_DEV_NONE && (uint32_t)req->type == v->lo;
    case POLICY_C_PROTOCOL: {
        uint32_t proto;
        if (req->device != PROCKET_DEV_NONE)
            return 0;
        if (req->family == AF_PACKET) {
            proto = ntohs((uint16_t)req->protocol); /* the ethertype */
            if (proto == ETHERTYPE_ALL)
                return allow ? v->lo == ETHERTYPE_ALL && v->hi == ETHERTYPE_ALL : 1;
        } else if (req->protocol != 0 || req->type == SOCK_RAW)
            proto = (uint32_t)req->protocol;
        else /* the kernel's choice */
            proto = req->type == SOCK_STREAM ? IPPROTO_TCP
                    : req->type == SOCK_DGRAM ? IPPROTO_UDP : 0;
        return proto >= v->lo && proto <= v->hi;
    }
    case POLICY_C_INTERFACE:
        if (req->device != PROCKET_DEV_NONE)
            return 0;
        /* not known yet (a name not looked up, a scope id that may name
         * one): what the request could at most be granted */
        if (ifindex == NULL)
            return allow;
        if (req->ifname[0] == '\0')
            return !allow && req->family == AF_PACKET;
        if (v->any)
            return 1;
        /* the same interface, whichever of its names either side uses */
        idx = ifindex(req->ifname);
        return idx != 0 && idx == ifindex(pol->pool + v->str);
    case POLICY_C_NAMESPACE:
        if (req->netns[0] == '\0')
            return 0;
        have = req->netns;
        break;
    case POLICY_C_DEVICE:
        if (req->device == PROCKET_DEV_NONE)
            return 0;
        if (v->any)
            return 1; /* also a name the kernel chooses */
        /* the clone can become any device (an ownerless persistent one
         * too): a rule naming a device never grants it, and always
         * denies it */
        if (req->device == PROCKET_DEV_TUN_CLONE)
            return !allow;
        have = req->ifname;
        break;
    default:
        return 0;
    }
    return v->any || strcmp(have, pol->pool + v->str) == 0;
}

static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* ::ffff:a.b.c.d for the IPv4 address a4 */
static void map4(unsigned char as6[16], const unsigned char *a4)
{
    memcpy(as6, v4mapped, sizeof(v4mapped));
    memcpy(as6 + 12, a4, 4);
}

/* 1 if one of r's address values holds family's address a; with
 * mapped_only, only IPv6 values within ::ffff:0:0/96 count (::/0 is every
 * IPv6 address, not every IPv4 one). */
static int addr_in(const struct policy *pol, const struct policy_rule *r, int family,
                   const unsigned char *a, int mapped_only)
{
    for (uint32_t i = r->first; i < r->first + r->count; i++) {
        const struct policy_value *v = &pol->values[i];
        unsigned full = v->prefix / 8u, rest = v->prefix % 8u;
        if (v->cond != POLICY_C_ADDRESS || v->family != family ||
            memcmp(a, v->addr, full) != 0)
            continue;
        if (mapped_only && (v->prefix < 96 || memcmp(v->addr, v4mapped, 12) != 0))
            continue;
        if (rest == 0 ||
            ((a[full] ^ v->addr[full]) & (unsigned char)(0xff00u >> rest)) == 0)
            return 1;
    }
    return 0;
}

/* The address condition of r for req. An IPv4-mapped ::ffff:a.b.c.d is
 * the IPv4 address a.b.c.d spelt as IPv6, and such a request is an IPv4
 * request for every rule: either spelling of a value matches, and IPv6
 * values count only within ::ffff:0:0/96 (::/0 is every IPv6 address, not
 * every IPv4 one), whichever spelling the request uses. A
 * dual-stack :: is two wildcards, :: and 0.0.0.0: an allow rule must
 * hold both, a deny rule holds if it names either. */
static int addr_cond(const struct policy *pol, const struct policy_rule *r,
                     const struct procket_request *req)
{
    static const unsigned char zero[16];
    const unsigned char *a = req->addrlen != 0 ? req->addr : zero;
    unsigned char as6[16];
    int v6, v4;

    if (!is_inet(req))
        return 0;
    if (req->family == AF_INET) {
        map4(as6, a);
        return addr_in(pol, r, AF_INET, a, 0) || addr_in(pol, r, AF_INET6, as6, 1);
    }
    if (memcmp(a, v4mapped, sizeof(v4mapped)) == 0) /* an IPv4 request */
        return addr_in(pol, r, AF_INET6, a, 1) || addr_in(pol, r, AF_INET, a + 12, 0);
    v6 = addr_in(pol, r, AF_INET6, a, 0);
    if (memcmp(a, zero, 16) != 0 || !(req->flags & PROCKET_F_DUALSTACK))
        return v6;
    map4(as6, zero);
    v4 = addr_in(pol, r, AF_INET, zero, 0) || addr_in(pol, r, AF_INET6, as6, 1);
    return r->allow ? v6 && v4 : v6 || v4;
}

static int rule_matches(const struct policy *pol, const struct policy_rule *r,
                        const struct identity *who, const struct procket_request *req,
                        unsigned kind, policy_ifindex ifindex)
{
    /* the tun clone can become a tap device too: a tap rule denies it
     * (only a tun rule grants it) */
    if (!r->allow && req->device == PROCKET_DEV_TUN_CLONE)
        kind |= POLICY_K_TAP;
    if (!who_matches(r, who) || (r->kinds != 0 && !(r->kinds & kind)))
        return 0;
    if (r->allow && req->netns[0] != '\0' && !(r->conds & (1u << POLICY_C_NAMESPACE)))
        return 0; /* a namespace is granted only by a rule that names it;
                   * a deny rule applies everywhere */
    for (int c = 1; c < POLICY_C_COUNT; c++) {
        int ok = 0;
        if (!(r->conds & (1u << c)))
            continue;
        if (c == POLICY_C_ADDRESS) {
            if (!addr_cond(pol, r, req))
                return 0;
            continue;
        }
        for (uint32_t i = r->first; i < r->first + r->count && !ok; i++)
            if (pol->values[i].cond == c)
                ok = value_matches(pol, &pol->values[i], req, r->allow, ifindex);
        if (!ok)
            return 0;
    }
    return 1;
}

/* The rule that decides req for who, or NULL: the default decides. */
static const struct policy_rule *first_match(const struct policy *pol,
                                             const struct identity *who,
                                             const struct procket_request *req,
                                             policy_ifindex ifindex)
{
    unsigned kind = policy_kind(req);

    for (size_t i = 0; pol != NULL && i < pol->n; i++)
        if (rule_matches(pol, &pol->rules[i], who, req, kind, ifindex))
            return &pol->rules[i];
    return NULL;
}

/* What the packet socket that allow rule r grants must stay confined to
 * (see policy_decide). */
static unsigned confinement(const struct policy *pol, const struct identity *who,
                            const struct procket_request *req,
                            const struct policy_rule *r)
{
    int one_type = ntohs((uint16_t)req->protocol) != ETHERTYPE_ALL;
    int one_interface = req->ifname[0] != '\0';
    unsigned confine = 0;

    if (req->device != PROCKET_DEV_NONE || req->family != AF_PACKET)
        return 0;
    /* A deny rule before the grant that could apply to the caller's packet
     * sockets did not match this request: an interface or an ethertype
     * the request does not name would have matched it (see value_matches),
     * so what the request names is pinned, or a later bind could reach
     * what the rule denies. */
    for (const struct policy_rule *d = pol->rules; d < r; d++) {
        if (d->allow || !who_matches(d, who) ||
            (d->kinds != 0 && !(d->kinds & POLICY_K_PACKET)))
            continue;
        if ((d->conds & (1u << POLICY_C_INTERFACE)) && one_interface)
            confine |= POLICY_CONFINE_IFINDEX;
        if ((d->conds & (1u << POLICY_C_PROTOCOL)) && one_type)
            confine |= POLICY_CONFINE_PROTOCOL;
    }
    if (r->conds & (1u << POLICY_C_INTERFACE)) {
        int any = 0;
        for (uint32_t i = r->first; i < r->first + r->count; i++)
            if (pol->values[i].cond == POLICY_C_INTERFACE && pol->values[i].any)
                any = 1;
        if (!any)
            confine |= POLICY_CONFINE_IFINDEX;
    }
    /* a grant of every ethertype (ETH_P_ALL) has nothing to confine */
    if ((r->conds & (1u << POLICY_C_PROTOCOL)) && one_type)
        confine |= POLICY_CONFINE_PROTOCOL;
    return confine;
}

int policy_decide(const struct policy *pol, const struct identity *who,
                  const struct procket_request *req, policy_ifindex ifindex,
                  char *why, size_t whylen, unsigned *confine)
{
    unsigned kind = policy_kind(req);
    const struct policy_rule *r;

    if (whylen > 0)
        why[0] = '\0';
    if (confine != NULL)
        *confine = 0;
    if (who->uid == 0 && !who->brokered)
        return 1; /* root needs no helper: nothing to keep from it */
    r = first_match(pol, who, req, ifindex);
    if (r != NULL) {
        if (!r->allow)
            (void)snprintf(why, whylen, "denied by line %u of " PROCKET_POLICY_FILE,
                           (unsigned)r->line);
        else if (confine != NULL)
            *confine = confinement(pol, who, req, r);
        return r->allow;
    }
    if (req->netns[0] != '\0') {
        (void)snprintf(why, whylen, "a namespace needs a rule");
        return 0;
    }
    if (who->unmapped) {
        (void)snprintf(why, whylen, "uid %u (unmapped: the overflow uid) needs a rule naming it",
                       (unsigned)who->uid);
        return 0;
    }
    switch (kind) {
    case POLICY_K_TCP:
    case POLICY_K_UDP:
    case POLICY_K_SCTP:
    case POLICY_K_UDPLITE:
    case POLICY_K_IP:
        if (req->port >= POLICY_TRUSTED_LO && req->port <= POLICY_TRUSTED_HI) {
            (void)snprintf(why, whylen, "ports %d-%d need a rule", POLICY_TRUSTED_LO,
                           POLICY_TRUSTED_HI);
            return 0;
        }
        return 1;
    case POLICY_K_ICMP:
        return 1;
    default:
        (void)snprintf(why, whylen, "%s needs a rule", policy_kind_name(kind));
        return 0;
    }
}

unsigned policy_ifindex_here(const char *name)
{
    return if_nametoindex(name);
}

/* ---- the file ------------------------------------------------------------ */

/* Names in the file: looked up in the system's user and group databases
 * (files only in the static build). */
static int resolve_name(int who, const char *name, uint32_t *id)
{
    if (who == POLICY_WHO_UID) {
        struct passwd *pw = getpwnam(name);
        if (pw == NULL)
            return -1;
        *id = pw->pw_uid;
    } else {
        struct group *gr = getgrnam(name);
        if (gr == NULL)
            return -1;
        *id = gr->gr_gid;
    }
    return 0;
}

int policy_read(int fd, char *buf, size_t max, size_t *have)
{
    ssize_t n;

    /* Up to one byte more than allowed (buf holds max + 1): a file that
     * grew past the limit after fstat() is refused, not parsed truncated. */
    *have = 0;
    while (*have <= max && (n = read(fd, buf + *have, max + 1 - *have)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        *have += (size_t)n;
    }
    return *have > max ? -EFBIG : 0;
}

int policy_load(struct policy *pol, const char *path)
{
    static char text[POLICY_FILE_MAX + 2];
    struct stat st;
    size_t have = 0;
    int fd, bad_line, rc;

    pol->n = pol->nvalues = pol->used = 0;
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        int err = errno;
        if (err == ENOENT)
            return 0; /* no file: the defaults */
        say("policy", "%s: %s; every request is refused", path, strerror(err));
        /* out of descriptors is said as such: the file may be fine */
        return err == EMFILE || err == ENFILE ? -err : -EACCES;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != 0 ||
        (st.st_mode & (S_IWGRP | S_IWOTH)) != 0 || st.st_size > POLICY_FILE_MAX) {
        say("policy", "%s: not a regular file owned by root and writable only "
                      "by it (at most %d bytes); every request is refused",
            path, POLICY_FILE_MAX);
        (void)close(fd);
        return -EACCES;
    }
    rc = policy_read(fd, text, POLICY_FILE_MAX, &have);
    (void)close(fd);
    if (rc == -EFBIG) {
        say("policy", "%s: larger than %d bytes; every request is refused", path,
            POLICY_FILE_MAX);
        return -EACCES;
    }
    if (rc < 0) {
        say("policy", "%s: %s; every request is refused", path, strerror(-rc));
        return -EACCES;
    }
    rc = policy_parse(pol, text, have, resolve_name, &bad_line);
    if (rc < 0 && have > 0 && text[have - 1] != '\n') {
        say("policy", "%s: the last line has no newline (a file cut short? replace the "
                      "file with a rename); every request is refused", path);
        return -EACCES;
    }
    if (rc < 0) {
        say("policy", "%s:%d: not a rule (see procket.conf(5)); every "
                      "request is refused", path, bad_line);
        return -EACCES;
    }
    return 0;
}
