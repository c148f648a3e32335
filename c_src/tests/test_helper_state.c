/*
 * test_helper_state.c - the helper, installed setuid root and run by an
 * unprivileged user who hands it a hostile inheritance, is observed from
 * outside (/proc) while it waits for its request, still privileged:
 *
 *   environment   empty, its strings wiped (LD_PRELOAD, LD_LIBRARY_PATH, PATH, junk)
 *   descriptors   only 0, 1 and 2 (the channel on 0); 3..9 closed
 *   signals       nothing blocked; the dispositions it relies on reset
 *   umask, cwd    077 and /
 *   core limit    0 (a crash leaves no core with privileged memory)
 *   linking       static: no program interpreter (ld.so never runs);
 *                 position independent: loaded at a random address
 *
 * and then: with no request it gives up after its read timeout (exit 66),
 * never dies by a signal; with a request it answers and exits 0.
 *
 * Run by root as sudo runs it (real uid 0, SUDO_UID=65534), it is not
 * dumpable: root without CAP_SYS_PTRACE cannot open its /proc/PID/mem
 * (it can a plain root process's). And when setresuid(2) is made to
 * report success without doing anything (a seccomp filter), the helper
 * notices that it is still root, sends nothing and exits 67.
 *
 *   test_helper_state [HELPER]   default: $PROCKET_HELPER, else ../priv/procket
 *
 * Needs root (to stage a setuid copy); prints SKIP otherwise.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "procket.h"

#define NOBODY 65534

static char staged[256];

static int copy_file(const char *from, const char *to)
{
    char buf[65536];
    ssize_t n;
    int in = open(from, O_RDONLY | O_CLOEXEC), out;

    if (in < 0)
        return -1;
    out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0700);
    if (out < 0) {
        (void)close(in);
        return -1;
    }
    while ((n = read(in, buf, sizeof(buf))) > 0)
        if (write(out, buf, (size_t)n) != n) {
            n = -1;
            break;
        }
    (void)close(in);
    (void)close(out);
    return n < 0 ? -1 : 0;
}

/* A world-traversable directory with a root-owned setuid copy. */
static int stage(const char *helper)
{
    char dir[] = "/tmp/procket_state.XXXXXX";

    if (mkdtemp(dir) == NULL || chmod(dir, 0755) < 0)
        return -1;
    (void)snprintf(staged, sizeof(staged), "%s/procket", dir);
    if (copy_file(helper, staged) < 0 || chown(staged, 0, 0) < 0 ||
        chmod(staged, 04755) < 0) /* the last chmod: keeps the bit */
        return -1;
    return 0;
}

static void unstage(void)
{
    char dir[256];

    (void)unlink(staged);
    (void)snprintf(dir, sizeof(dir), "%s", staged);
    *strrchr(dir, '/') = '\0';
    (void)rmdir(dir);
}

/* Runs the staged helper as nobody, with fd 0 one end of a fresh
 * SEQPACKET pair, a hostile environment, descriptors 3..9 open, every
 * signal blocked, SIGTERM/SIGHUP/SIGALRM ignored, umask 0, cwd /tmp and a
 * core limit. Returns the pid; *peer is the other end. */
static pid_t start_hostile(int *peer)
{
    int ctl[2];
    unsigned char one = 1;
    pid_t pid;

    /* the channel must be nobody's own (the helper checks its peer's
     * uid): the child makes it after dropping and sends one end back */
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl) < 0)
        return -1;
    pid = fork();
    if (pid == 0) {
        char *const env[] = {"LD_PRELOAD=/tmp/evil.so", "LD_LIBRARY_PATH=/tmp",
                             "PATH=/tmp:/bin", "IFS=/", "PROCKET_JUNK=1", NULL};
        char *const argv[] = {staged, NULL};
        struct rlimit core = {RLIM_INFINITY, RLIM_INFINITY};
        sigset_t all;
        int sv[2];

        if (setgroups(0, NULL) < 0 || setresgid(NOBODY, NOBODY, NOBODY) < 0 ||
            setresuid(NOBODY, NOBODY, NOBODY) < 0 ||
            socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0 ||
            procket_send_fd(ctl[1], sv[0], &one, 1) < 0 || dup2(sv[1], 0) < 0)
            _exit(120);
        for (int fd = 3; fd <= 9; fd++)
            if (fcntl(fd, F_GETFD) < 0)
                (void)open("/dev/null", O_RDONLY); /* inherited: no CLOEXEC */
        (void)signal(SIGTERM, SIG_IGN);
        (void)signal(SIGHUP, SIG_IGN);
        (void)signal(SIGALRM, SIG_IGN);
        sigfillset(&all);
        (void)sigprocmask(SIG_BLOCK, &all, NULL);
        (void)umask(0);
        (void)!chdir("/tmp");
        (void)setrlimit(RLIMIT_CORE, &core);
        execve(staged, argv, env);
        _exit(121);
    }
    (void)close(ctl[1]);
    *peer = -1;
    if (pid > 0 && procket_recv_fd(ctl[0], peer, &one, 1) != 1)
        *peer = -1;
    (void)close(ctl[0]);
    return *peer >= 0 ? pid : -1;
}

/* Runs the helper (staged copy) as sudo would: real uid 0, SUDO_UID and
 * SUDO_GID 65534, on a channel made by nobody (the helper checks that its
 * peer is the caller). fake_setresuid: a seccomp filter makes
 * setresuid(2) return 0 without changing anything. */
static pid_t start_as_sudo(int *peer, int fake_setresuid)
{
    int ctl[2], sv[2] = {-1, -1};
    unsigned char one = 1;
    pid_t pid;

    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl) < 0)
        return -1;
    pid = fork();
    if (pid == 0) { /* nobody makes the channel, sends both ends */
        int pair[2];
        if (setgroups(0, NULL) < 0 || setresgid(NOBODY, NOBODY, NOBODY) < 0 ||
            setresuid(NOBODY, NOBODY, NOBODY) < 0 ||
            socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0 ||
            procket_send_fd(ctl[1], pair[0], &one, 1) < 0 ||
            procket_send_fd(ctl[1], pair[1], &one, 1) < 0)
            _exit(1);
        _exit(0);
    }
    (void)close(ctl[1]);
    if (pid < 0 || procket_recv_fd(ctl[0], &sv[0], &one, 1) != 1 ||
        procket_recv_fd(ctl[0], &sv[1], &one, 1) != 1) {
        (void)close(ctl[0]);
        return -1;
    }
    (void)close(ctl[0]);
    (void)waitpid(pid, NULL, 0);
    pid = fork();
    if (pid == 0) {
        char *const env[] = {"SUDO_UID=65534", "SUDO_GID=65534", "SUDO_USER=nobody", NULL};
        char *const argv[] = {staged, NULL};
        /* without CAP_SYS_PTRACE at all (see mem_without_ptrace) */
        if (dup2(sv[1], 0) < 0 || prctl(PR_CAPBSET_DROP, CAP_SYS_PTRACE, 0, 0, 0) < 0)
            _exit(120);
        if (fake_setresuid) {
#if defined(__x86_64__)
#define TEST_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define TEST_ARCH AUDIT_ARCH_AARCH64
#endif
#ifdef TEST_ARCH
            struct sock_filter f[] = {
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TEST_ARCH, 1, 0),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_setresuid, 0, 1),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | 0), /* "success" */
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
            };
            struct sock_fprog prog = {(unsigned short)(sizeof(f) / sizeof(f[0])), f};
            if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
                _exit(122);
#else
            _exit(123);
#endif
        }
        execve(staged, argv, env);
        _exit(121);
    }
    (void)close(sv[1]);
    *peer = sv[0];
    return pid;
}

static int send_udp_request(int peer)
{
    struct procket_request req;
    unsigned char msg[PROCKET_MSG_MAX];
    ssize_t n;

    procket_request_init(&req);
    req.type = SOCK_DGRAM;
    n = procket_request_encode(&req, msg, sizeof(msg));
    return n > 0 && send(peer, msg, (size_t)n, 0) == n ? 0 : -1;
}

/* In a child: drop CAP_SYS_PTRACE from the effective set, then try to
 * open /proc/PID/mem (ptrace attach rights); returns 0 if it could, else
 * the errno. The target must lack CAP_SYS_PTRACE in its permitted set
 * too (its capabilities must be a subset of the checker's), so that the
 * one thing left to refuse the open is the target not being dumpable. */
static int mem_without_ptrace(pid_t target)
{
    pid_t pid = fork();
    int st = 0;

    if (pid == 0) {
        struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
        struct __user_cap_data_struct d[2];
        char path[64];
        int fd;
        if (syscall(SYS_capget, &h, d) < 0)
            _exit(100);
        d[CAP_SYS_PTRACE / 32].effective &= ~(1u << (CAP_SYS_PTRACE % 32));
        if (syscall(SYS_capset, &h, d) < 0)
            _exit(101);
        (void)snprintf(path, sizeof(path), "/proc/%d/mem", (int)target);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        _exit(fd >= 0 ? 0 : errno);
    }
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}

/* Waits until pid sleeps in poll (it sanitized itself and waits for the
 * request); 0 or -1. */
static int wait_polling(pid_t pid)
{
    for (int n = 0; n < 400; n++) {
        char path[64], wchan[128] = "";
        FILE *f;
        (void)snprintf(path, sizeof(path), "/proc/%d/wchan", (int)pid);
        if ((f = fopen(path, "r")) != NULL) {
            (void)!fgets(wchan, sizeof(wchan), f);
            (void)fclose(f);
        }
        if (strstr(wchan, "poll") != NULL || strstr(wchan, "select") != NULL)
            return 0;
        usleep(5000);
    }
    return -1;
}

static size_t read_proc(pid_t pid, const char *what, char *buf, size_t len)
{
    char path[64];
    ssize_t n;
    int fd;

    (void)snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, what);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return (size_t)-1;
    n = read(fd, buf, len - 1);
    (void)close(fd);
    if (n < 0)
        return (size_t)-1;
    buf[n] = '\0';
    return (size_t)n;
}

/* The value after "Key:\t" in /proc/PID/status, as text. */
static int status_field(pid_t pid, const char *key, char *out, size_t len)
{
    static char st[8192];
    char *p, *end;
    size_t klen = strlen(key);

    if (read_proc(pid, "status", st, sizeof(st)) == (size_t)-1)
        return -1;
    for (p = st; p != NULL && *p != '\0'; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncmp(p, key, klen) == 0 && p[klen] == ':') {
            p += klen + 1;
            while (*p == '\t' || *p == ' ')
                p++;
            end = strchr(p, '\n');
            (void)snprintf(out, len, "%.*s", end ? (int)(end - p) : (int)strlen(p), p);
            return 0;
        }
    return -1;
}

static int fd_list(pid_t pid, char *out, size_t len)
{
    char cmd[64];
    FILE *p;
    size_t n;

    (void)snprintf(cmd, sizeof(cmd), "ls /proc/%d/fd | sort -n | tr '\\n' ' '", (int)pid);
    if ((p = popen(cmd, "r")) == NULL)
        return -1;
    n = fread(out, 1, len - 1, p);
    out[n] = '\0';
    return pclose(p) == 0 ? 0 : -1;
}

TEST(state_while_privileged)
{
    char buf[512], v[128];
    int peer = -1, st = 0;
    pid_t pid = start_hostile(&peer);

    CHECK(pid > 0);
    if (pid <= 0)
        return;
    CHECK_EQ(wait_polling(pid), 0);
    /* still privileged here, and out of the caller's reach: the real
     * and saved uids are root's too, so uid 65534 cannot signal it */
    CHECK_EQ(status_field(pid, "Uid", v, sizeof(v)), 0);
    CHECK(strncmp(v, "0\t0\t0\t", 6) == 0);
    /* its watchdog is a kernel timer that sends SIGKILL, which ends even
     * a stopped process (timers(5) in proc(5): "signal: 9/...") */
    {
        size_t n = read_proc(pid, "timers", buf, sizeof(buf) - 1);
        CHECK(n != (size_t)-1);
        if (n != (size_t)-1) {
            buf[n] = '\0';
            CHECK(strstr(buf, "signal: 9/") != NULL);
        }
    }
    /* the kernel shows the strings the helper was started with: wiped */
    {
        size_t n = read_proc(pid, "environ", buf, sizeof(buf));
        CHECK(n != (size_t)-1);
        for (size_t i = 0; n != (size_t)-1 && i < n; i++)
            CHECK_EQ(buf[i], 0);
    }
    CHECK_EQ(fd_list(pid, buf, sizeof(buf)), 0);
    CHECK(strcmp(buf, "0 1 2 ") == 0);
    if (strcmp(buf, "0 1 2 ") != 0)
        fprintf(stderr, "  descriptors: %s\n", buf);
    CHECK_EQ(status_field(pid, "SigBlk", v, sizeof(v)), 0);
    CHECK(strcmp(v, "0000000000000000") == 0);
    CHECK_EQ(status_field(pid, "SigIgn", v, sizeof(v)), 0);
    {
        unsigned long long ign = strtoull(v, NULL, 16);
        CHECK((ign & (1ULL << (SIGTERM - 1))) == 0);
        CHECK((ign & (1ULL << (SIGHUP - 1))) == 0);
        CHECK((ign & (1ULL << (SIGALRM - 1))) == 0);
        /* no stopping it from the terminal either */
        CHECK((ign & (1ULL << (SIGTSTP - 1))) != 0);
        CHECK((ign & (1ULL << (SIGTTIN - 1))) != 0);
        CHECK((ign & (1ULL << (SIGTTOU - 1))) != 0);
    }
    CHECK_EQ(status_field(pid, "Umask", v, sizeof(v)), 0);
    CHECK(strcmp(v, "0077") == 0);
    {
        char path[64], cwd[64];
        ssize_t n;
        (void)snprintf(path, sizeof(path), "/proc/%d/cwd", (int)pid);
        n = readlink(path, cwd, sizeof(cwd) - 1);
        CHECK(n == 1 && cwd[0] == '/');
    }
    CHECK(read_proc(pid, "limits", buf, sizeof(buf)) != (size_t)-1);
    {
        static char lim[4096];
        char *core;
        CHECK(read_proc(pid, "limits", lim, sizeof(lim)) != (size_t)-1);
        core = strstr(lim, "Max core file size");
        CHECK(core != NULL && strncmp(core + 26, "0 ", 2) == 0);
        if (core != NULL && strncmp(core + 26, "0 ", 2) != 0)
            fprintf(stderr, "  %.60s\n", core);
    }
    /* a request, and the descriptor comes back */
    {
        struct procket_request req;
        unsigned char msg[PROCKET_MSG_MAX], reply[PROCKET_REPLY_LEN];
        ssize_t n;
        int fd = -1, err = -1;
        procket_request_init(&req);
        req.type = SOCK_DGRAM;
        req.port = 0;
        n = procket_request_encode(&req, msg, sizeof(msg));
        CHECK(n > 0 && send(peer, msg, (size_t)n, 0) == n);
        n = procket_recv_fd(peer, &fd, reply, sizeof(reply));
        CHECK_EQ(n, PROCKET_REPLY_LEN);
        CHECK_EQ(procket_reply_decode(&err, reply, (size_t)n), 0);
        CHECK_EQ(err, 0);
        CHECK(fd >= 0);
        if (fd >= 0)
            (void)close(fd);
    }
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == PROCKET_EXIT_OK);
    (void)close(peer);
}

/* No request: the helper waits its read timeout, then exits 66. */
TEST(gives_up_without_a_request)
{
    int peer = -1, st = 0;
    struct timespec t0, t1;
    pid_t pid = start_hostile(&peer);
    double s;

    CHECK(pid > 0);
    if (pid <= 0)
        return;
    (void)clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    (void)clock_gettime(CLOCK_MONOTONIC, &t1);
    s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == PROCKET_EXIT_CHANNEL);
    CHECK(s > 3.0 && s < 15.0);
    (void)close(peer);
}

/* Not dumpable while privileged, even where the kernel would have let it
 * be (sudo: no setuid transition). */
TEST(not_dumpable_under_sudo)
{
    int peer = -1, st = 0;
    pid_t pid = start_as_sudo(&peer, 0), plain;

    CHECK(pid > 0);
    if (pid <= 0)
        return;
    CHECK_EQ(wait_polling(pid), 0);
    CHECK_EQ(mem_without_ptrace(pid), EACCES);
    /* the check can tell: a plain root process is readable */
    plain = fork();
    if (plain == 0) {
        char *const argv[] = {"sleep", "5", NULL};
        if (prctl(PR_CAPBSET_DROP, CAP_SYS_PTRACE, 0, 0, 0) < 0)
            _exit(126);
        execv("/bin/sleep", argv);
        _exit(127);
    }
    CHECK(plain > 0);
    if (plain > 0) {
        usleep(100000);
        CHECK_EQ(mem_without_ptrace(plain), 0);
        (void)kill(plain, SIGKILL);
        (void)waitpid(plain, NULL, 0);
    }
    CHECK_EQ(send_udp_request(peer), 0);
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == PROCKET_EXIT_OK);
    (void)close(peer);
}

/* setresuid(2) that lies: the drop is verified, nothing is sent. */
TEST(unverified_drop_sends_nothing)
{
    unsigned char reply[PROCKET_REPLY_LEN];
    int peer = -1, st = 0, fd = -1;
    pid_t pid = start_as_sudo(&peer, 1);

    CHECK(pid > 0);
    if (pid <= 0)
        return;
    CHECK_EQ(send_udp_request(peer), 0);
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == PROCKET_EXIT_PRIVILEGE);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != PROCKET_EXIT_PRIVILEGE)
        fprintf(stderr, "  status %d\n", st);
    CHECK_EQ(procket_recv_fd(peer, &fd, reply, sizeof(reply)), 0); /* EOF */
    CHECK_EQ(fd, -1);
    (void)close(peer);
}

/* The ELF type of path and whether it has PT_INTERP and PT_DYNAMIC
 * program headers; 0, or -1 if it is not a readable 64-bit ELF file. */
struct elf_kind {
    int type, interp, dynamic;
};

static int elf_kind(const char *path, struct elf_kind *k)
{
    Elf64_Ehdr eh;
    int fd = open(path, O_RDONLY | O_CLOEXEC), rc = -1;

    memset(k, 0, sizeof(*k));
    if (fd < 0)
        return -1;
    if (read(fd, &eh, sizeof(eh)) != (ssize_t)sizeof(eh) ||
        memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64)
        goto out;
    k->type = eh.e_type;
    for (int i = 0; i < eh.e_phnum; i++) {
        Elf64_Phdr ph;
        if (pread(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + (Elf64_Off)i * eh.e_phentsize)) !=
            (ssize_t)sizeof(ph))
            goto out;
        k->interp |= ph.p_type == PT_INTERP;
        k->dynamic |= ph.p_type == PT_DYNAMIC;
    }
    rc = 0;
out:
    (void)close(fd);
    return rc;
}

/* Static: no PT_INTERP program header, so no dynamic loader runs with the
 * caller's environment (CVE-2023-4911 was in ld.so). */
TEST(statically_linked)
{
    struct elf_kind k;

    CHECK_EQ(elf_kind(staged, &k), 0);
    CHECK(!k.interp);
    CHECK(!k.dynamic || k.type == ET_DYN); /* static-pie */
}

/* Where pid has the staged helper's first page (file offset 0) mapped,
 * from /proc/PID/maps; 0 if nowhere. */
static unsigned long load_base(pid_t pid)
{
    char path[64], line[512];
    unsigned long base = 0;
    FILE *f;

    (void)snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
    if ((f = fopen(path, "r")) == NULL)
        return 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        unsigned long lo, hi, off;
        int n = 0;
        line[strcspn(line, "\n")] = '\0';
        if (sscanf(line, "%lx-%lx %*s %lx %*s %*s %n", &lo, &hi, &off, &n) == 3 && n > 0 &&
            off == 0 && strcmp(line + n, staged) == 0 && (base == 0 || lo < base))
            base = lo;
    }
    (void)fclose(f);
    return base;
}

/* A static PIE (ET_DYN, no PT_INTERP): the kernel picks its load address
 * at each exec. Three setuid runs, each seen in /proc/PID/maps while it
 * waits for its request: not all at the same address. */
TEST(position_independent)
{
    struct elf_kind k;
    unsigned long base[3] = {0, 0, 0};
    char rnd[16] = "";
    FILE *f;

    CHECK_EQ(elf_kind(staged, &k), 0);
    CHECK_EQ(k.type, ET_DYN);
    CHECK(!k.interp);
    for (int i = 0; i < 3; i++) {
        int peer = -1, st = 0;
        pid_t pid = start_hostile(&peer);
        CHECK(pid > 0);
        if (pid <= 0)
            return;
        CHECK_EQ(wait_polling(pid), 0);
        base[i] = load_base(pid);
        CHECK(base[i] != 0);
        CHECK_EQ(send_udp_request(peer), 0);
        CHECK_EQ(waitpid(pid, &st, 0), pid);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == PROCKET_EXIT_OK);
        (void)close(peer);
    }
    /* with randomization off system-wide every load address is fixed */
    if ((f = fopen("/proc/sys/kernel/randomize_va_space", "r")) != NULL) {
        (void)!fgets(rnd, sizeof(rnd), f);
        (void)fclose(f);
    }
    if (rnd[0] == '0') {
        printf("test_helper_state: load addresses not compared "
               "(kernel.randomize_va_space is 0)\n");
        return;
    }
    CHECK(base[0] != base[1] || base[1] != base[2]);
    if (base[0] == base[1] && base[1] == base[2])
        fprintf(stderr, "  helper loaded at %#lx each time\n", base[0]);
}

int main(int argc, char *argv[])
{
    const char *helper = argc > 1 ? argv[1] : getenv("PROCKET_HELPER");

    if (helper == NULL)
        helper = "../priv/procket";
    if (geteuid() != 0) {
        printf("test_helper_state: SKIP (needs root to stage a setuid helper)\n");
        return 0;
    }
    if (stage(helper) < 0) {
        fprintf(stderr, "test_helper_state: cannot stage %s: %s\n", helper, strerror(errno));
        return 1;
    }
    (void)signal(SIGPIPE, SIG_IGN);
    RUN(state_while_privileged);
    RUN(gives_up_without_a_request);
    RUN(not_dumpable_under_sudo);
    RUN(unverified_drop_sends_nothing);
    RUN(statically_linked);
    RUN(position_independent);
    unstage();
    return check_summary("test_helper_state");
}
