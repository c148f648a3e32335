/*
 * dupenv.c - runs argv[1..] with an environment holding each of the
 * socket-activation variables twice (as a hostile parent could pass):
 * LISTEN_FDS=7, LISTEN_PID=1, LISTEN_FDNAMES=evil, then again with other
 * values.
 */
#include <stdio.h>
#include <unistd.h>

int main(int argc, char *argv[])
{
    char *envp[] = {"LISTEN_FDS=7", "LISTEN_PID=1", "LISTEN_FDNAMES=evil",
                    "PATH=/usr/bin:/bin", "LISTEN_FDS=8", "LISTEN_PID=2",
                    "LISTEN_FDNAMES=evil2", NULL};

    if (argc < 2) {
        (void)fprintf(stderr, "usage: dupenv PROGRAM [ARG]...\n");
        return 64;
    }
    execve(argv[1], argv + 1, envp);
    perror("dupenv: execve");
    return 127;
}
