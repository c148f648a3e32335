/*
 * bind80.c - an unprivileged C program gets TCP port 80 from the helper,
 * accepts one connection, writes a line to it and exits.
 *
 *   bind80 [HELPER-COMMAND]     default: "procket" looked up in PATH
 *
 *   $ ./bind80 "$(pkg-config --variable=helper procket)" &
 *   $ nc 127.0.0.1 80
 *   hello from an unprivileged process on port 80
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "procket.h"

int main(int argc, char *argv[])
{
    struct procket_request req;
    char *cmd[16];
    char words[512];
    static const char line[] = "hello from an unprivileged process on port 80\n";
    int fd, c, rc;

    rc = procket_split_command(argc > 1 ? argv[1] : "procket", cmd, 16, words,
                               sizeof(words));
    if (rc < 0) {
        (void)fprintf(stderr, "bind80: bad helper command: %s\n", strerror(-rc));
        return 2;
    }

    procket_request_init(&req); /* AF_INET, SOCK_STREAM, any address */
    req.port = 80;
    req.backlog = 16;

    fd = procket_open(&req, cmd, PROCKET_TIMEOUT_MS);
    if (fd < 0) {
        (void)fprintf(stderr, "bind80: %s\n", strerror(-fd));
        return 1;
    }
    (void)printf("bind80: listening on port 80 as uid %u (fd %d)\n",
                 (unsigned)getuid(), fd);
    (void)fflush(stdout);

    c = accept(fd, NULL, NULL);
    if (c < 0) {
        perror("bind80: accept");
        return 1;
    }
    if (write(c, line, sizeof(line) - 1) < 0)
        perror("bind80: write");
    (void)close(c);
    (void)close(fd);
    return 0;
}
