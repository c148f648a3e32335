/*
 * procket_exec.c - procket-exec(1): privileged listening sockets for any
 * program, handed over by the socket-activation protocol (sd_listen_fds(3)).
 *
 *   procket-exec -l 80 -l udp:53 -- PROGRAM [ARG]...
 *
 * Every socket the -l options describe is obtained through procket (the
 * broker, else the setuid helper), while procket-exec runs as the
 * unprivileged user it was started as. The sockets are then moved to
 * descriptors 3, 4, ... in order, every other descriptor above 2 is
 * closed, LISTEN_FDS, LISTEN_PID and LISTEN_FDNAMES are set, and PROGRAM
 * replaces procket-exec (same pid). If any socket cannot be had, PROGRAM
 * is not started. See docs/procket-exec.1.md for the whole interface.
 *
 * procket-exec itself is never privileged: started setuid, setgid or with
 * file capabilities (AT_SECURE), it refuses to do anything.
 */
#define _GNU_SOURCE /* close_range(2) */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "procket.h"

#ifndef PROCKET_VERSION
#define PROCKET_VERSION "0.0.0"
#endif
/* The helper's installed location, used when none is given and none sits
 * beside procket-exec (c_src/Makefile: LIBEXECDIR). */
#ifndef PROCKET_HELPER_INSTALLED
#define PROCKET_HELPER_INSTALLED "/usr/local/libexec/procket/procket"
#endif

/* Exit statuses (sysexits.h values; documented in procket-exec(1)). */
#define EXIT_USAGE 64       /* EX_USAGE: bad command line */
#define EXIT_UNAVAILABLE 69 /* EX_UNAVAILABLE: a socket was refused or not obtained */
#define EXIT_OSERR 71       /* EX_OSERR: anything else */
#define EXIT_NOEXEC 126     /* PROGRAM found but could not be executed */
#define EXIT_NOTFOUND 127   /* PROGRAM not found */

#define NAME_MAX_LEN 255 /* longest socket name (sd_listen_fds_with_names(3)) */
#define FIRST_FD 3       /* SD_LISTEN_FDS_START */

static const char usage_text[] =
    "usage: procket-exec [-h] [-V] [--helper PATH] [--broker PATH]\n"
    "                    -l SPEC [-n NAME] [-l SPEC [-n NAME]]... [--] PROGRAM [ARG]...\n";

/* One -l option. */
struct spec {
    const char *text; /* the SPEC as given, for messages */
    const char *name; /* -n NAME, or NULL for the default */
    char defname[16]; /* "tcp-65535" at most */
    struct procket_request req;
};

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void say(const char *fmt, ...)
{
    char line[1024];
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    (void)fprintf(stderr, "procket-exec: %s\n", line);
}

/* Parses a decimal port, 0-65535: digits only, at most 5 of them. */
static int parse_port(const char *s)
{
    long v = 0;
    size_t n = strlen(s);

    if (n == 0 || n > 5)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v <= 65535 ? (int)v : -1;
}

/* Parses SPEC, [tcp:|udp:][ADDR:]PORT, into sp. Returns NULL, or a static
 * message saying what is wrong. */
static const char *parse_spec(struct spec *sp, const char *text)
{
    struct procket_request *req = &sp->req;
    const char *rest = text, *portstr;
    char addr[INET6_ADDRSTRLEN + 1];
    int udp = 0, port;

    procket_request_init(req);
    sp->text = text;
    if (strncmp(rest, "tcp:", 4) == 0) {
        rest += 4;
    } else if (strncmp(rest, "udp:", 4) == 0) {
        udp = 1;
        rest += 4;
    }
    if (*rest == '[') { /* [IPv6]:PORT */
        const char *end = strchr(rest, ']');
        size_t len;

        if (end == NULL)
            return "missing ']' after the IPv6 address";
        len = (size_t)(end - rest - 1);
        if (end[1] != ':')
            return "a bracketed address must be followed by :PORT";
        if (len == 0 || len >= sizeof(addr))
            return "bad IPv6 address";
        memcpy(addr, rest + 1, len);
        addr[len] = '\0';
        if (inet_pton(AF_INET6, addr, req->addr) != 1)
            return "bad IPv6 address";
        req->family = AF_INET6;
        req->addrlen = 16;
        portstr = end + 2;
    } else {
        const char *colon = strrchr(rest, ':');

        if (colon != NULL) { /* IPv4:PORT */
            size_t len = (size_t)(colon - rest);

            if (memchr(rest, ':', len) != NULL)
                return "an IPv6 address must be in brackets, as in tcp:[::1]:443";
            if (len == 0 || len >= sizeof(addr))
                return "bad IPv4 address";
            memcpy(addr, rest, len);
            addr[len] = '\0';
            if (inet_pton(AF_INET, addr, req->addr) != 1)
                return strchr(addr, '.') != NULL || strchr(addr, '[') != NULL
                           ? "bad IPv4 address"
                           : "bad address, or a protocol other than tcp and udp";
            req->family = AF_INET;
            req->addrlen = 4;
            portstr = colon + 1;
        } else {
            req->family = AF_INET;
            portstr = rest;
        }
    }
    port = parse_port(portstr);
    if (port < 0)
        return "bad port (a number 0-65535)";
    req->port = port;
    if (udp) {
        req->type = SOCK_DGRAM;
        req->protocol = IPPROTO_UDP;
    } else {
        req->type = SOCK_STREAM;
        req->protocol = IPPROTO_TCP;
        req->backlog = SOMAXCONN; /* the kernel caps it at net.core.somaxconn */
    }
    (void)snprintf(sp->defname, sizeof(sp->defname), "%s-%d", udp ? "udp" : "tcp", port);
    if (procket_request_validate(req) != 0)
        return "not a valid request";
    return NULL;
}

/* A name for LISTEN_FDNAMES: 1-255 printable ASCII characters, no ':'. */
static const char *check_name(const char *name)
{
    size_t n = strlen(name);

    if (n == 0)
        return "empty";
    if (n > NAME_MAX_LEN)
        return "longer than 255 characters";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];

        if (c == ':')
            return "contains ':' (the separator of LISTEN_FDNAMES)";
        if (c < 0x20 || c > 0x7e)
            return "contains a character that is not printable ASCII";
    }
    return NULL;
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Says what is wrong with the command line; returns EXIT_USAGE. */
static int usage_error(const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    say("%s (procket-exec -h for the usage)", msg);
    return EXIT_USAGE;
}

/* The option's value: "--opt=VALUE" or the next argument. */
static const char *option_value(int argc, char *argv[], int *i, const char *opt)
{
    size_t n = strlen(opt);

    if (strncmp(argv[*i], opt, n) == 0 && argv[*i][n] == '=')
        return argv[*i] + n + 1;
    if (*i + 1 >= argc)
        return NULL;
    return argv[++*i];
}

/* Is the option argv[i] the long option opt, alone or as opt=VALUE? */
static int is_long(const char *arg, const char *opt)
{
    size_t n = strlen(opt);

    return strncmp(arg, opt, n) == 0 && (arg[n] == '\0' || arg[n] == '=');
}

/* Root with the network capabilities, in the first user namespace: such a
 * caller runs the helper (as the Erlang module does), not the default
 * broker, which would decide for it as for any user. */
static int capable_root(void)
{
    char line[256];
    unsigned long long eff = 0;
    const unsigned long long net = (1ULL << 10) | (1ULL << 12) | (1ULL << 13);
    unsigned long a = 1, b = 1, c = 0;
    int ok = 0;
    FILE *f;

    if (getuid() != 0 || geteuid() != 0)
        return 0;
    f = fopen("/proc/self/status", "re");
    if (f == NULL)
        return 0;
    while (fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, "CapEff: %llx", &eff) == 1)
            break;
    (void)fclose(f);
    if ((eff & net) != net)
        return 0;
    f = fopen("/proc/self/uid_map", "re");
    if (f == NULL)
        return 0;
    if (fscanf(f, "%lu %lu %lu", &a, &b, &c) == 3 && a == 0 && b == 0 && c == 4294967295UL)
        ok = fgetc(f) == '\n' && fgetc(f) == EOF;
    (void)fclose(f);
    return ok;
}

/* The helper to run: the one given, else "procket" in the directory of
 * this executable (a build tree's priv/, or an installation that keeps
 * them together), else the installed one. Returns a static buffer. */
static const char *helper_path(const char *given)
{
    static char path[PATH_MAX];
    struct stat st;
    ssize_t n;
    char *slash;

    if (given != NULL)
        return given;
    n = readlink("/proc/self/exe", path, sizeof(path) - 1);
    if (n > 0 && (size_t)n < sizeof(path) - sizeof("procket")) {
        path[n] = '\0';
        slash = strrchr(path, '/');
        if (slash != NULL) {
            memcpy(slash + 1, "procket", sizeof("procket"));
            if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
                return path;
        }
    }
    return PROCKET_HELPER_INSTALLED;
}

/* Obtains the socket of sp. Returns the descriptor, or -1 after saying why. */
static int obtain(const struct spec *sp, const char *broker, int broker_default,
                  const char *helper)
{
    char *argv[2];
    int fd, how = PROCKET_HOW_FINAL;

    if (broker != NULL) {
        fd = procket_open_broker_how(&sp->req, broker, PROCKET_TIMEOUT_MS, &how);
        if (fd >= 0)
            return fd;
        if (!(broker_default && how == PROCKET_HOW_NOT_RUN)) {
            if (fd == -EACCES && how == PROCKET_HOW_FINAL)
                say("-l %s: refused by the policy of the broker at %s (procket.conf(5)): %s",
                    sp->text, broker, strerror(EACCES));
            else if (how == PROCKET_HOW_NOT_RUN)
                say("-l %s: no broker at %s: %s", sp->text, broker, strerror(-fd));
            else
                say("-l %s: broker at %s: %s", sp->text, broker, strerror(-fd));
            return -1;
        }
        /* the default path, where no broker heard it: the helper */
    }
    argv[0] = (char *)helper;
    argv[1] = NULL;
    fd = procket_open_how(&sp->req, argv, NULL, PROCKET_TIMEOUT_MS, &how);
    if (fd >= 0)
        return fd;
    if (how == PROCKET_HOW_NOT_RUN)
        say("-l %s: cannot run the helper %s: %s", sp->text, helper, strerror(-fd));
    else if (how == PROCKET_HOW_UNPRIVILEGED)
        say("-l %s: the helper %s is not privileged (not setuid root, or ignored: see its "
            "message and procket(8)): %s", sp->text, helper, strerror(-fd));
    else if (fd == -EACCES)
        say("-l %s: refused by the helper's policy (procket.conf(5)): %s", sp->text,
            strerror(EACCES));
    else
        say("-l %s: helper %s: %s", sp->text, helper, strerror(-fd));
    return -1;
}

/* Closes every descriptor from lo up. */
static int close_from(unsigned lo)
{
    if (close_range(lo, ~0U, 0) == 0)
        return 0;
    if (errno != ENOSYS && errno != EINVAL)
        return -1;
    /* kernels before 5.9: every descriptor the limit allows */
    long max = sysconf(_SC_OPEN_MAX);

    if (max < 0 || max > INT_MAX)
        max = 65536;
    for (long fd = lo; fd < max; fd++)
        (void)close((int)fd);
    return 0;
}

/* Moves fds[0..n-1] to FIRST_FD.. in order, clears their close-on-exec,
 * closes every other descriptor above 2. Returns 0 or -1 after saying why. */
static int place(int *fds, size_t n)
{
    int top = FIRST_FD + (int)n; /* the first descriptor past ours */

    /* first out of the way, above the targets, so that no dup2 below
     * overwrites a socket still to be moved */
    for (size_t i = 0; i < n; i++) {
        int hi = fcntl(fds[i], F_DUPFD_CLOEXEC, top);

        if (hi < 0) {
            say("moving descriptors: %s", strerror(errno));
            return -1;
        }
        (void)close(fds[i]);
        fds[i] = hi;
    }
    for (size_t i = 0; i < n; i++) {
        /* dup2 leaves the new descriptor without FD_CLOEXEC */
        if (dup2(fds[i], FIRST_FD + (int)i) < 0) {
            say("moving descriptors: %s", strerror(errno));
            return -1;
        }
    }
    /* the high copies and everything inherited go */
    if (close_from((unsigned)top) != 0) {
        say("closing descriptors: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* Removes every entry of name from the environment: one inherited twice
 * would survive a setenv(3), which replaces the first only, and the
 * program might read the other. */
static int unset_all(const char *name)
{
    while (getenv(name) != NULL)
        if (unsetenv(name) != 0)
            return -1;
    return 0;
}

static int set_env(const struct spec *specs, size_t n)
{
    char num[32];
    size_t len = 1;
    char *names, *p;

    if (unset_all("LISTEN_FDS") != 0 || unset_all("LISTEN_FDNAMES") != 0 ||
        unset_all("LISTEN_PID") != 0)
        return -1;

    for (size_t i = 0; i < n; i++)
        len += strlen(specs[i].name != NULL ? specs[i].name : specs[i].defname) + 1;
    names = malloc(len);
    if (names == NULL)
        return -1;
    p = names;
    for (size_t i = 0; i < n; i++) {
        const char *nm = specs[i].name != NULL ? specs[i].name : specs[i].defname;
        size_t l = strlen(nm);

        if (i > 0)
            *p++ = ':';
        memcpy(p, nm, l);
        p += l;
    }
    *p = '\0';
    (void)snprintf(num, sizeof(num), "%zu", n);
    if (setenv("LISTEN_FDS", num, 1) != 0 || setenv("LISTEN_FDNAMES", names, 1) != 0) {
        free(names);
        return -1;
    }
    free(names);
    /* execve keeps the pid: the program's own */
    (void)snprintf(num, sizeof(num), "%ld", (long)getpid());
    return setenv("LISTEN_PID", num, 1);
}

/* Is there a file called name in a directory of PATH (as execvp(3)
 * searches it)? */
static int in_path(const char *name)
{
    const char *path = getenv("PATH"), *p, *end;
    char file[PATH_MAX];
    struct stat st;

    if (path == NULL)
        path = "/bin:/usr/bin";
    for (p = path;; p = end + 1) {
        size_t len;

        end = strchr(p, ':');
        if (end == NULL)
            end = p + strlen(p);
        len = (size_t)(end - p);
        if (len == 0) /* an empty entry is the working directory */
            len = (size_t)snprintf(file, sizeof(file), "%s", name);
        else
            len = (size_t)snprintf(file, sizeof(file), "%.*s/%s", (int)len, p, name);
        if (len < sizeof(file) && stat(file, &st) == 0)
            return 1;
        if (*end == '\0')
            return 0;
    }
}

int main(int argc, char *argv[])
{
    const char *helper = NULL, *broker = NULL;
    struct spec *specs;
    size_t n = 0;
    int *fds, i, broker_default = 0;

    if (getauxval(AT_SECURE) != 0) {
        /* setuid, setgid or file capabilities: procket-exec is never
         * privileged; the helper is */
        say("refusing to run with privileges (setuid, setgid or file capabilities): "
            "procket-exec runs as the user; only the procket helper is privileged");
        return EXIT_OSERR;
    }
    specs = calloc((size_t)(argc > 0 ? argc : 1), sizeof(*specs));
    if (specs == NULL) {
        say("%s", strerror(ENOMEM));
        return EXIT_OSERR;
    }

    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v, *err;

        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (a[0] != '-' || a[1] == '\0')
            break; /* PROGRAM */
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            (void)fputs(usage_text, stdout);
            return fflush(stdout) == 0 ? 0 : EXIT_OSERR;
        }
        if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
            (void)printf("procket-exec %s\n", PROCKET_VERSION);
            return fflush(stdout) == 0 ? 0 : EXIT_OSERR;
        }
        if (strcmp(a, "-l") == 0) {
            if (i + 1 >= argc)
                return usage_error("-l needs a SPEC");
            err = parse_spec(&specs[n], argv[++i]);
            if (err != NULL) {
                say("-l %s: %s (SPEC is [tcp:|udp:][ADDR:]PORT)", argv[i], err);
                return EXIT_USAGE;
            }
            n++;
        } else if (strcmp(a, "-n") == 0) {
            if (i + 1 >= argc)
                return usage_error("-n needs a NAME");
            v = argv[++i];
            if (n == 0)
                return usage_error("-n %s: names the socket of a -l before it, and there is none", v);
            if (specs[n - 1].name != NULL) {
                say("-n %s: -l %s is named already", v, specs[n - 1].text);
                return EXIT_USAGE;
            }
            err = check_name(v);
            if (err != NULL) {
                say("-n for -l %s: bad name: %s", specs[n - 1].text, err);
                return EXIT_USAGE;
            }
            specs[n - 1].name = v;
        } else if (is_long(a, "--helper") || is_long(a, "--broker")) {
            int is_helper = a[2] == 'h';
            const char **slot = is_helper ? &helper : &broker;

            v = option_value(argc, argv, &i, is_helper ? "--helper" : "--broker");
            if (v == NULL)
                return usage_error("%s needs a PATH", is_helper ? "--helper" : "--broker");
            if (*slot != NULL)
                return usage_error("%s given twice", is_helper ? "--helper" : "--broker");
            if (*v == '\0')
                return usage_error("%s: empty PATH", is_helper ? "--helper" : "--broker");
            *slot = v;
        } else {
            return usage_error("unknown option %s", a);
        }
    }
    if (n == 0)
        return usage_error("no socket: give at least one -l SPEC");
    if (i >= argc)
        return usage_error("no PROGRAM to run");
    if (helper != NULL && broker != NULL)
        return usage_error("--helper and --broker exclude each other");
    if (broker != NULL && broker[0] != '/')
        return usage_error("--broker %s: the PATH must be absolute", broker);

    /* As the Erlang module chooses: a broker given, or (no helper given)
     * the default broker when a socket is there and the caller is not root
     * with the network capabilities; a default broker that does not answer
     * leaves the request to the helper. */
    if (broker == NULL && helper == NULL) {
        struct stat st;

        if (lstat(PROCKET_BROKER_PATH, &st) == 0 && S_ISSOCK(st.st_mode) && !capable_root()) {
            broker = PROCKET_BROKER_PATH;
            broker_default = 1;
        }
    }
    helper = helper_path(helper);

    fds = calloc(n, sizeof(*fds));
    if (fds == NULL) {
        say("%s", strerror(ENOMEM));
        return EXIT_OSERR;
    }
    for (size_t k = 0; k < n; k++) {
        fds[k] = obtain(&specs[k], broker, broker_default, helper);
        if (fds[k] < 0)
            return EXIT_UNAVAILABLE; /* exit closes what was obtained */
    }
    if (place(fds, n) != 0)
        return EXIT_OSERR;
    if (set_env(specs, n) != 0) {
        say("setting the environment: %s", strerror(errno));
        return EXIT_OSERR;
    }
    (void)fflush(stdout);
    execvp(argv[i], argv + i);
    {
        int e = errno;

        /* execvp reports EACCES when some directory of PATH could not be
         * searched, even if the program is in none: not found, as for
         * the shell */
        if (e == EACCES && strchr(argv[i], '/') == NULL && !in_path(argv[i]))
            e = ENOENT;
        say("%s: %s", argv[i], strerror(e));
        return e == ENOENT || e == ENOTDIR ? EXIT_NOTFOUND : EXIT_NOEXEC;
    }
}
