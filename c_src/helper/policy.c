/*
 * policy.c - who may get the dangerous kinds of request (procket.conf(5)).
 *
 * Without any rule the helper opens TCP, UDP, SCTP and UDP-Lite sockets on
 * any port and address, and raw ICMP (IPv4) and ICMPv6 (IPv6) sockets,
 * for anyone who can run it. These need a rule naming the caller's user
 * or one of its groups:
 *
 *   packet     AF_PACKET sockets (every frame on an interface)
 *   raw        raw IP sockets of any other protocol (IPPROTO_RAW: send any
 *              IP packet, with any source address)
 *   tun, tap   tun and tap devices
 *   namespace  anything made in a named network namespace
 *
 * The file: one rule per line, "#" to the end of a line is a comment.
 *
 *   allow user NAME|UID KIND...
 *   allow group NAME|GID KIND...
 *   allow all KIND...
 *
 * Refused as a whole (nothing granted, and said on stderr) unless it is a
 * regular file owned by root and writable by nobody else, not a symlink,
 * at most POLICY_FILE_MAX bytes, and every line parses.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
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
    {"packet", POLICY_PACKET}, {"raw", POLICY_RAW},
    {"tun", POLICY_TUN},       {"tap", POLICY_TAP},
    {"namespace", POLICY_NAMESPACE},
};

unsigned policy_needs(const struct procket_request *req)
{
    unsigned needs = 0;

    if (req->netns[0] != '\0')
        needs |= POLICY_NAMESPACE;
    if (req->device == PROCKET_DEV_TUN)
        needs |= POLICY_TUN;
    else if (req->device == PROCKET_DEV_TAP)
        needs |= POLICY_TAP;
    else if (req->family == AF_PACKET)
        needs |= POLICY_PACKET;
    else if (req->type == SOCK_RAW &&
             !(req->family == AF_INET && req->protocol == IPPROTO_ICMP) &&
             !(req->family == AF_INET6 && req->protocol == IPPROTO_ICMPV6))
        needs |= POLICY_RAW;
    return needs;
}

const char *policy_kind_name(unsigned bit)
{
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (kinds[i].bit == bit)
            return kinds[i].name;
    return "?";
}

/* A decimal id with nothing around it, below 2^32 - 1 ((uid_t)-1 is no
 * one). */
static int parse_id(const char *s, uint32_t *out)
{
    unsigned long long v = 0;

    if (*s == '\0')
        return -1;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (unsigned)(*s - '0');
        if (v >= 0xffffffffULL)
            return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

/* Splits line (modified in place) into at most max words. */
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

static int parse_line(struct policy *pol, char *line, policy_resolver resolve)
{
    char *w[16];
    size_t n, first;
    struct policy_rule r;
    char *hash = strchr(line, '#');

    if (hash != NULL)
        *hash = '\0';
    n = split(line, w, 16);
    if (n == 0)
        return 0;
    if (n > 16 || strcmp(w[0], "allow") != 0 || n < 3)
        return -1;
    memset(&r, 0, sizeof(r));
    if (strcmp(w[1], "all") == 0) {
        r.who = POLICY_WHO_ALL;
        first = 2;
    } else if (n >= 4 && (strcmp(w[1], "user") == 0 || strcmp(w[1], "group") == 0)) {
        r.who = w[1][0] == 'u' ? POLICY_WHO_UID : POLICY_WHO_GID;
        if (parse_id(w[2], &r.id) < 0 &&
            (resolve == NULL || resolve(r.who, w[2], &r.id) < 0))
            return -1;
        first = 3;
    } else {
        return -1;
    }
    for (size_t i = first; i < n; i++) {
        unsigned bit = 0;
        for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
            if (strcmp(w[i], kinds[k].name) == 0)
                bit = kinds[k].bit;
        if (bit == 0)
            return -1;
        r.kinds |= bit;
    }
    if (pol->n == POLICY_MAX_RULES)
        return -1;
    pol->rules[pol->n++] = r;
    return 0;
}

int policy_parse(struct policy *pol, const char *text, size_t len,
                 policy_resolver resolve, int *bad_line)
{
    char line[POLICY_LINE_MAX + 1];
    size_t start = 0;
    int lineno = 0;

    memset(pol, 0, sizeof(*pol));
    *bad_line = 0;
    while (start < len) {
        const char *nl = memchr(text + start, '\n', len - start);
        size_t end = nl != NULL ? (size_t)(nl - text) : len;
        size_t l = end - start;

        lineno++;
        if (l > POLICY_LINE_MAX || memchr(text + start, '\0', l) != NULL) {
            *bad_line = lineno;
            memset(pol, 0, sizeof(*pol)); /* earlier lines grant nothing */
            return -EINVAL;
        }
        memcpy(line, text + start, l);
        line[l] = '\0';
        if (parse_line(pol, line, resolve) < 0) {
            *bad_line = lineno;
            memset(pol, 0, sizeof(*pol));
            return -EINVAL;
        }
        start = end + 1;
    }
    return 0;
}

int policy_allows(const struct policy *pol, const struct identity *who,
                  unsigned needs)
{
    unsigned granted = 0;

    if (who->uid == 0)
        return 1; /* root needs no helper: nothing to keep from it */
    for (size_t i = 0; i < pol->n; i++) {
        const struct policy_rule *r = &pol->rules[i];
        int match = r->who == POLICY_WHO_ALL ||
                    (r->who == POLICY_WHO_UID && r->id == who->uid) ||
                    (r->who == POLICY_WHO_GID && r->id == who->gid);
        for (size_t g = 0; !match && r->who == POLICY_WHO_GID && g < who->ngroups; g++)
            match = r->id == who->groups[g];
        if (match)
            granted |= r->kinds;
    }
    return (needs & ~granted) == 0;
}

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

int policy_load(struct policy *pol, const char *path)
{
    static char text[POLICY_FILE_MAX + 1];
    struct stat st;
    size_t have = 0;
    ssize_t n;
    int fd, bad_line, rc;

    memset(pol, 0, sizeof(*pol));
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0; /* no file: the defaults */
        say("policy", "%s: %s; granting nothing beyond the defaults", path,
            strerror(errno));
        return -EACCES;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != 0 ||
        (st.st_mode & (S_IWGRP | S_IWOTH)) != 0 || st.st_size > POLICY_FILE_MAX) {
        say("policy", "%s: not a regular file owned by root and writable only "
                      "by it (at most %d bytes); granting nothing beyond the "
                      "defaults", path, POLICY_FILE_MAX);
        (void)close(fd);
        return -EACCES;
    }
    while (have < POLICY_FILE_MAX &&
           (n = read(fd, text + have, POLICY_FILE_MAX - have)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            say("policy", "%s: %s", path, strerror(errno));
            (void)close(fd);
            return -EACCES;
        }
        have += (size_t)n;
    }
    (void)close(fd);
    rc = policy_parse(pol, text, have, resolve_name, &bad_line);
    if (rc < 0) {
        say("policy", "%s:%d: not a rule (allow user|group NAME KIND... or "
                      "allow all KIND...); granting nothing beyond the defaults",
            path, bad_line);
        return -EACCES;
    }
    return 0;
}
