/*
 * testutil.h - small helpers shared by the C tests and the fuzz harnesses.
 */
#ifndef PROCKET_TESTUTIL_H
#define PROCKET_TESTUTIL_H

#include <dirent.h>
#include <string.h>

#include "procket.h"

/* Whether two requests describe the same thing, field by field (bytes
 * past addrlen and after the NUL of the strings do not count). */
static inline int request_equal(const struct procket_request *a,
                                const struct procket_request *b)
{
    return a->family == b->family && a->type == b->type &&
           a->protocol == b->protocol && a->port == b->port &&
           a->addrlen == b->addrlen && a->addrlen <= sizeof(a->addr) &&
           memcmp(a->addr, b->addr, a->addrlen) == 0 &&
           a->scope_id == b->scope_id &&
           strcmp(a->ifname, b->ifname) == 0 && a->backlog == b->backlog &&
           a->flags == b->flags && strcmp(a->netns, b->netns) == 0 &&
           a->device == b->device;
}

/* Descriptors open in this process right now, or -1. */
static inline int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;

    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    (void)closedir(d);
    return n - 1; /* not the one reading the directory */
}

#endif
