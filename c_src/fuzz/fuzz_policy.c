/*
 * fuzz_policy.c - policy_parse() on any text, then policy_decide() on a
 * set of requests. It must never crash, and:
 *  - a text that parses has at most one rule a line, each rule's values
 *    inside the table, only known kinds and conditions, names inside the
 *    pool; a text that does not has no rule and names a bad line;
 *  - root is always allowed; a request in a namespace is allowed only by a
 *    rule with a namespace condition; a request no rule matches gets the
 *    built-in default (checked against policy_decide() with no rules).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "helper.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* the helper's stderr, not wanted here */
void say(const char *where, const char *fmt, ...)
{
    (void)where;
    (void)fmt;
}

/* names: "alice" is 1000, "staff" 50; nothing else resolves */
static int resolve(int who, const char *name, uint32_t *id)
{
    if (who == POLICY_WHO_UID && strcmp(name, "alice") == 0)
        *id = 1000;
    else if (who == POLICY_WHO_GID && strcmp(name, "staff") == 0)
        *id = 50;
    else
        return -1;
    return 0;
}

/* interfaces: eth0 (altname e0) is 2, veth0 3; nothing else exists */
static unsigned ifindex_of(const char *name)
{
    if (strcmp(name, "eth0") == 0 || strcmp(name, "e0") == 0)
        return 2;
    return strcmp(name, "veth0") == 0 ? 3 : 0;
}

/* A few requests of every kind. */
static size_t requests(struct procket_request *r, size_t max)
{
    size_t n = 0;

    for (int k = 0; k < 9 && n + 2 <= max; k++) {
        struct procket_request *q = &r[n];
        procket_request_init(q);
        switch (k) {
        case 0: q->type = SOCK_STREAM; q->port = 80; break;
        case 1: q->type = SOCK_DGRAM; q->protocol = IPPROTO_UDP; q->port = 600;
                q->addrlen = 4; (void)inet_pton(AF_INET, "10.1.2.3", q->addr); break;
        case 2: q->family = AF_INET6; q->type = SOCK_RAW; q->protocol = IPPROTO_ICMPV6; break;
        case 3: q->type = SOCK_RAW; q->protocol = IPPROTO_RAW; break;
        case 4: q->family = AF_PACKET; q->type = SOCK_RAW; q->protocol = 0x0300;
                memcpy(q->ifname, "e0", 3); break; /* eth0, by its altname */
        case 5: q->family = AF_UNSPEC; q->type = 0; q->device = PROCKET_DEV_TUN;
                memcpy(q->ifname, "tun0", 5); break;
        case 6: q->family = AF_UNSPEC; q->type = 0; q->device = PROCKET_DEV_TAP; break;
        case 7: q->family = AF_INET6; q->type = SOCK_DGRAM; q->port = 53; q->addrlen = 16;
                (void)inet_pton(AF_INET6, "2001:db8::1", q->addr); break;
        default: q->type = SOCK_STREAM; q->protocol = IPPROTO_SCTP; q->port = 1023; break;
        }
        r[n + 1] = *q;
        memcpy(r[n + 1].netns, "lab", 4);
        n += 2;
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct policy pol;
    static struct procket_request reqs[32];
    static size_t nreqs;
    char why[128];
    int bad = -1;
    size_t lines = 1, with_ns = 0;

    if (nreqs == 0)
        nreqs = requests(reqs, sizeof(reqs) / sizeof(reqs[0]));
    if (size > POLICY_FILE_MAX)
        return 0;
    for (size_t i = 0; i < size; i++)
        lines += data[i] == '\n';
    if (policy_parse(&pol, (const char *)data, size, resolve, &bad) != 0) {
        if (bad < 1 || pol.n != 0 || pol.nvalues != 0)
            abort();
        return 0;
    }
    if (bad != 0 || pol.n > lines || pol.n > POLICY_MAX_RULES ||
        pol.nvalues > POLICY_MAX_VALUES || pol.used > sizeof(pol.pool))
        abort();
    for (size_t i = 0; i < pol.n; i++) {
        const struct policy_rule *r = &pol.rules[i];
        if ((r->kinds & ~POLICY_K_ALL) != 0 || r->first + r->count > pol.nvalues ||
            r->who > POLICY_WHO_GID || r->line < 1 || r->line > lines)
            abort();
        if (r->conds & (1u << POLICY_C_NAMESPACE))
            with_ns++;
        for (uint32_t v = r->first; v < r->first + r->count; v++) {
            const struct policy_value *pv = &pol.values[v];
            if (pv->cond < 1 || pv->cond >= POLICY_C_COUNT || !(r->conds & (1u << pv->cond)))
                abort();
            if ((pv->cond == POLICY_C_PORT || pv->cond == POLICY_C_PROTOCOL) &&
                (pv->lo > pv->hi || pv->hi > 65535))
                abort();
            if (POLICY_C_IS_NAME(pv->cond) && !pv->any &&
                (pv->str >= pol.used || strlen(pol.pool + pv->str) == 0))
                abort();
        }
    }
    for (size_t i = 0; i < nreqs; i++) {
        struct identity who;
        int rule_or_default;
        memset(&who, 0, sizeof(who));
        who.groups = who.few;
        if (!policy_decide(&pol, &who, &reqs[i], ifindex_of, why, sizeof(why), NULL))
            abort(); /* root */
        who.uid = 1000;
        who.gid = 50;
        rule_or_default = policy_decide(&pol, &who, &reqs[i], ifindex_of, why,
                                        sizeof(why), NULL);
        /* without the interfaces known: an upper bound */
        if (rule_or_default && !policy_decide(&pol, &who, &reqs[i], NULL, why,
                                              sizeof(why), NULL))
            abort();
        if (reqs[i].netns[0] != '\0' && with_ns == 0 && rule_or_default)
            abort();
        if (pol.n == 0 && rule_or_default != policy_decide(NULL, &who, &reqs[i], ifindex_of,
                                                           why, sizeof(why), NULL))
            abort();
        if (!rule_or_default && why[0] == '\0')
            abort(); /* a denial always says why */
        /* confinement: only for granted packet sockets, only known bits */
        {
            unsigned c = 0;
            if (policy_decide(&pol, &who, &reqs[i], ifindex_of, why, sizeof(why), &c) !=
                    rule_or_default ||
                (!rule_or_default && c != 0) ||
                (c & ~(POLICY_CONFINE_IFINDEX | POLICY_CONFINE_PROTOCOL)) != 0 ||
                (c != 0 && reqs[i].family != AF_PACKET) ||
                ((c & POLICY_CONFINE_IFINDEX) && reqs[i].ifname[0] == '\0'))
                abort();
        }
    }
    return 0;
}
