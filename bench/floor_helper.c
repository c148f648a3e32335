/*
 * floor_helper.c - the least a setuid socket helper can do, for the bench.
 *
 * NOT for installation: no sanitizing, no request, no peer check. It binds
 * a UDP socket on the IPv4 wildcard address and the port in argv[1] while
 * privileged, drops to the real uid and gid for good, sends the descriptor
 * over fd 0 (SCM_RIGHTS, one data byte) and exits. Its cost is what any
 * setuid helper pays: exec of a static setuid binary, socket, bind, one
 * sendmsg, exit. bench/floor_driver.c runs it.
 */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char *argv[])
{
    struct sockaddr_in sin;
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } ctl;
    struct msghdr msg;
    struct iovec iov;
    struct cmsghdr *c;
    char byte = 0;
    int s;

    if (argc < 2)
        return 64;
    s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return 70;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((unsigned short)atoi(argv[1]));
    sin.sin_addr.s_addr = htonl(INADDR_ANY);
    if (bind(s, (struct sockaddr *)&sin, sizeof(sin)) < 0)
        return 1;

    gid_t g = getgid();
    uid_t u = getuid();
    if (setresgid(g, g, g) < 0 || setresuid(u, u, u) < 0)
        return 67;

    memset(&msg, 0, sizeof(msg));
    memset(&ctl, 0, sizeof(ctl));
    iov.iov_base = &byte;
    iov.iov_len = 1;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = ctl.buf;
    msg.msg_controllen = sizeof(ctl.buf);
    c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &s, sizeof(int));
    if (sendmsg(0, &msg, MSG_NOSIGNAL) != 1)
        return 66;
    return 0;
}
