/*
 * fdlist.c - prints what a program started by procket-exec received: its
 * pid and the socket-activation variables, then one line per open
 * descriptor (from /proc/self/fd, the directory's own left out):
 *   fd N socket FAMILY TYPE listening=0|1 ADDRESS PORT cloexec=0|1
 *   fd N other cloexec=0|1
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *env(const char *name)
{
    const char *v = getenv(name);

    return v != NULL ? v : "(unset)";
}

static void describe(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss), ol;
    int type = 0, acc = 0, flags = fcntl(fd, F_GETFD);
    int cloexec = flags >= 0 && (flags & FD_CLOEXEC) != 0;
    char addr[INET6_ADDRSTRLEN] = "-";
    unsigned port = 0;

    memset(&ss, 0, sizeof(ss));
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
        (void)printf("fd %d other cloexec=%d\n", fd, cloexec);
        return;
    }
    ol = sizeof(type);
    (void)getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &ol);
    ol = sizeof(acc);
    (void)getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &ol);
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;

        (void)inet_ntop(AF_INET, &in->sin_addr, addr, sizeof(addr));
        port = ntohs(in->sin_port);
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

        (void)inet_ntop(AF_INET6, &in6->sin6_addr, addr, sizeof(addr));
        port = ntohs(in6->sin6_port);
    }
    (void)printf("fd %d socket %s %s listening=%d %s %u cloexec=%d\n", fd,
                 ss.ss_family == AF_INET ? "inet" : ss.ss_family == AF_INET6 ? "inet6" : "other",
                 type == SOCK_STREAM ? "stream" : type == SOCK_DGRAM ? "dgram" : "other",
                 acc, addr, port, cloexec);
}

int main(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int fds[4096], n = 0;

    if (d == NULL) {
        perror("fdlist: /proc/self/fd");
        return 1;
    }
    while ((e = readdir(d)) != NULL && n < 4096) {
        if (e->d_name[0] == '.')
            continue;
        if (atoi(e->d_name) != dirfd(d))
            fds[n++] = atoi(e->d_name);
    }
    (void)closedir(d);
    (void)printf("pid %ld LISTEN_PID=%s LISTEN_FDS=%s LISTEN_FDNAMES=%s\n", (long)getpid(),
                 env("LISTEN_PID"), env("LISTEN_FDS"), env("LISTEN_FDNAMES"));
    for (int i = 0; i < n; i++)
        describe(fds[i]);
    return 0;
}
