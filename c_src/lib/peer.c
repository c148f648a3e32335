/*
 * peer.c - who may answer at a broker's path (peer.h). The library asks
 * it of every broker it connects to; the doctor (procket --check) asks
 * it too, so that the two cannot disagree.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "peer.h"

/* Reads a small number from a file; -1 if there is none. */
static long read_number(const char *path)
{
    char buf[64];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;

    if (fd < 0)
        return -1;
    n = read(fd, buf, sizeof(buf) - 1);
    (void)close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    return strtol(buf, NULL, 10);
}

long procket_overflow_uid(void)
{
    return read_number("/proc/sys/kernel/overflowuid");
}

int procket_userns_initial(void)
{
    char map[128];
    unsigned long inside, outside, count;
    int fd;
    ssize_t n;

    fd = open("/proc/self/uid_map", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 1;
    n = read(fd, map, sizeof(map) - 1);
    (void)close(fd);
    if (n <= 0)
        return 1;
    map[n] = '\0';
    return sscanf(map, "%lu %lu %lu", &inside, &outside, &count) == 3 && inside == 0 &&
           outside == 0 && count == 4294967295UL;
}

/* Whether uid, a listener's, may be root as seen from a user namespace
 * that does not map it: the overflow uid, when this process is in a user
 * namespace other than the first (its uid_map is not the identity). */
static int unmapped_root(uid_t uid)
{
    if ((long)uid != procket_overflow_uid())
        return 0;
    return !procket_userns_initial();
}

/* In a user namespace that maps neither root nor the other users of the
 * host, they all show as the overflow uid, root's broker too: then the
 * path to the socket must be as the broker insists (procket(8)): each
 * directory on the way root's (here: the overflow uid's or root's) and
 * writable by no one else, or sticky, the last one not even so, no
 * symlink. A user who could have put a socket there could not write in
 * those directories. */
static int path_is_brokers(const char *path, uid_t overflow)
{
    char prefix[sizeof(((struct sockaddr_un *)0)->sun_path)];
    const char *slash = strrchr(path, '/');
    struct stat st;
    size_t end;

    if (path[0] != '/' || slash == NULL || strlen(path) >= sizeof(prefix))
        return 0;
    if (lstat("/", &st) < 0 || (st.st_uid != 0 && st.st_uid != overflow) ||
        ((st.st_mode & 022) && (slash == path || !(st.st_mode & S_ISVTX))))
        return 0;
    if (slash == path)
        return 1;
    for (end = 1;; end++) {
        if (end <= (size_t)(slash - path) && path[end] != '/')
            continue;
        memcpy(prefix, path, end);
        prefix[end] = '\0';
        if (lstat(prefix, &st) < 0 || !S_ISDIR(st.st_mode) ||
            (st.st_uid != 0 && st.st_uid != overflow))
            return 0;
        if ((st.st_mode & 022) && (end >= (size_t)(slash - path) || !(st.st_mode & S_ISVTX)))
            return 0;
        if (end >= (size_t)(slash - path))
            return 1;
    }
}

int procket_broker_peer_ok(const char *path, uid_t uid)
{
    return uid == 0 || (unmapped_root(uid) && path_is_brokers(path, uid));
}
