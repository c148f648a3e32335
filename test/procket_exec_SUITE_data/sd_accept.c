/*
 * sd_accept.c - a server written for systemd socket activation, with
 * libsystemd's sd_listen_fds_with_names(3): for each listening stream
 * socket passed, accepts one connection and writes
 * "hello NAME fd FD uid UID" to it. Exits 3 when no socket was passed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

int main(void)
{
    char **names = NULL;
    int n = sd_listen_fds_with_names(1, &names);

    if (n < 1) {
        (void)fprintf(stderr, "sd_accept: sd_listen_fds: %d\n", n);
        return 3;
    }
    (void)printf("ready %d\n", n);
    (void)fflush(stdout);
    for (int i = 0; i < n; i++) {
        int fd = SD_LISTEN_FDS_START + i, c;

        if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0)
            continue;
        c = accept(fd, NULL, NULL);
        if (c < 0) {
            perror("sd_accept: accept");
            return 1;
        }
        (void)dprintf(c, "hello %s fd %d uid %u\n", names[i], fd, (unsigned)getuid());
        (void)close(c);
        free(names[i]);
    }
    free(names);
    return 0;
}
