/*
 * procket.h - client library for the procket privileged helper.
 *
 * A program that must not run privileged asks the helper (installed setuid
 * root, run through sudo, or given file capabilities) for a socket it could
 * not create itself: a port below 1024, a raw socket, an interface binding.
 * The helper creates it, drops its privileges for good and passes the file
 * descriptor back over a Unix domain socket (SCM_RIGHTS).
 *
 * Error rule, for every function in this header:
 *   a function returning int or ssize_t returns a non-negative value on
 *   success and a negated errno value (-EINVAL, -ETIMEDOUT, ...) on failure.
 *   errno itself is never used to report a result and is left unchanged.
 *   Arguments are checked first: a NULL pointer or an out-of-range value
 *   where the comment does not allow one gives -EINVAL.
 *   File descriptors returned to the caller are close-on-exec.
 *
 * Thread safety: no function keeps state between calls; all may be called
 * from any number of threads at once.
 */
#ifndef PROCKET_H
#define PROCKET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && !defined(PROCKET_STATIC_BUILD)
#define PROCKET_API __attribute__((visibility("default")))
#else
#define PROCKET_API
#endif

/* ------------------------------------------------------------------ */
/* The request: what socket to create                                  */
/* ------------------------------------------------------------------ */

/* Version of the wire format spoken between the library and the helper. */
#define PROCKET_WIRE_VERSION 1

/* No message on the channel is ever longer than this. */
#define PROCKET_MSG_MAX 512

/* Interface names are at most this many bytes, not counting the NUL
 * (IFNAMSIZ - 1 on Linux). */
#define PROCKET_IFNAME_MAX 15

/* Network namespace names (as made by `ip netns add NAME`) are at most
 * this many bytes, not counting the NUL. */
#define PROCKET_NETNS_MAX 255

/* Largest backlog a request may carry. */
#define PROCKET_BACKLOG_MAX 65535

/* Request flags. */
/* AF_INET6 only, not SOCK_RAW: clear IPV6_V6ONLY so the socket also accepts IPv4
 * (mapped) traffic. Without it procket sets IPV6_V6ONLY, whatever the
 * net.ipv6.bindv6only sysctl says, so that an IPv4 and an IPv6 socket can
 * share a port number. */
#define PROCKET_F_DUALSTACK 0x1u
/* tun/tap devices: keep the 4-byte packet information header in front of
 * each frame (without it procket sets IFF_NO_PI). */
#define PROCKET_F_TUN_PI 0x2u
#define PROCKET_F_ALL (PROCKET_F_DUALSTACK | PROCKET_F_TUN_PI)

/* Devices the helper creates (the request's device field). */
#define PROCKET_DEV_NONE 0 /* a socket, not a device */
#define PROCKET_DEV_TUN 1  /* a tun device (IP packets) */
#define PROCKET_DEV_TAP 2  /* a tap device (Ethernet frames) */
/* The tun clone device (/dev/net/tun) as it is opened: attached to no
 * device. Its holder names or creates one with TUNSETIFF, which the
 * kernel allows according to the holder's own capabilities; but it can
 * attach to any persistent device that has no owner or group. Needs a tun
 * rule that names no device. */
#define PROCKET_DEV_TUN_CLONE 3

/* What the helper is asked for. Fill it with procket_request_init() first;
 * every field then has a documented default.
 *
 * Three kinds of request:
 *  - an inet socket: family AF_INET or AF_INET6, bound to port and addr;
 *  - a packet socket: family AF_PACKET, type SOCK_RAW or SOCK_DGRAM,
 *    protocol the ethertype exactly as socket(2) takes it (in network byte
 *    order: htons(ETH_P_ALL) for every frame), bound to ifname if given;
 *    port, addr, scope_id, backlog and flags must be 0;
 *  - a tun or tap device: device PROCKET_DEV_TUN or _TAP, family AF_UNSPEC,
 *    type, protocol, port, addr, scope_id and backlog 0; ifname the
 *    device's name ("" lets the kernel choose); flags 0 or
 *    PROCKET_F_TUN_PI. The device belongs to the caller and disappears
 *    when the descriptor is closed.
 * Each may be made in a named network namespace (netns). */
struct procket_request {
    int family;   /* AF_INET (default), AF_INET6, AF_PACKET; AF_UNSPEC for devices */
    int type;     /* SOCK_STREAM (default), SOCK_DGRAM or SOCK_RAW */
    int protocol; /* 0..255 (AF_PACKET: 0..65535); 0 (default): the kernel's choice */
    int port;     /* 0..65535, default 0 (no port) */
    /* local address in network byte order: addrlen 0 (default) means the
     * wildcard address, 4 for AF_INET, 16 for AF_INET6 */
    unsigned char addr[16];
    size_t addrlen;
    uint32_t scope_id; /* AF_INET6 link-local scope, default 0 */
    /* bind to this interface (SO_BINDTODEVICE); "" (default) for none */
    char ifname[PROCKET_IFNAME_MAX + 1];
    /* SOCK_STREAM: if > 0 the helper also calls listen(2) with it;
     * default 0: the socket is only bound */
    int backlog;
    uint32_t flags; /* PROCKET_F_*, default 0 */
    /* create it in this named network namespace (/run/netns/NAME); ""
     * (default) for the helper's own. Letters, digits, '_', '-', '.';
     * not starting with '.' or '-'. */
    char netns[PROCKET_NETNS_MAX + 1];
    int device; /* PROCKET_DEV_*, default PROCKET_DEV_NONE */
};

/* Sets every field of *req to its default. */
PROCKET_API void procket_request_init(struct procket_request *req);

/* Checks a request the way the helper will: 0 if it is well formed,
 * -EINVAL if a field is out of range or fields contradict each other,
 * -EAFNOSUPPORT for a family procket does not open. */
PROCKET_API int procket_request_validate(const struct procket_request *req);

/* Encodes a valid request into buf. Returns the number of bytes written,
 * -EINVAL for an invalid request, -ENOSPC if len is too small
 * (PROCKET_MSG_MAX always suffices). */
PROCKET_API ssize_t procket_request_encode(const struct procket_request *req,
                                           void *buf, size_t len);

/* Decodes exactly len bytes into *req and validates the result.
 * Returns 0, -EPROTO for a malformed message (bad magic, version, length,
 * unknown or repeated field) or the procket_request_validate() error. */
PROCKET_API int procket_request_decode(struct procket_request *req,
                                       const void *buf, size_t len);

/* ------------------------------------------------------------------ */
/* The reply: an errno, and the descriptor when the errno is 0          */
/* ------------------------------------------------------------------ */

/* Size of an encoded reply. */
#define PROCKET_REPLY_LEN 12

/* Encodes a reply carrying error (0 for success, else a positive errno).
 * Returns PROCKET_REPLY_LEN or -ENOSPC/-EINVAL. */
PROCKET_API ssize_t procket_reply_encode(int error, void *buf, size_t len);

/* Decodes a reply. On success returns 0 and stores the helper's errno
 * (0 when a descriptor accompanies the reply) in *error; -EPROTO for a
 * malformed reply. Flags (below) are accepted and not reported. */
PROCKET_API int procket_reply_decode(int *error, const void *buf, size_t len);

/* A failed request's reply may say why beside its errno:
 * PROCKET_REPLY_UNPRIVILEGED: the helper ran without the privileges the
 * request needs (not installed setuid, no file capabilities, no_new_privs,
 * a nosuid mount): another way to run it (sudo) may succeed. A reply
 * without it came from a helper that could do what the request needs
 * (or needed nothing): its answer is final. */
#define PROCKET_REPLY_UNPRIVILEGED 0x1u

/* procket_reply_encode() with flags (only with a nonzero error). */
PROCKET_API ssize_t procket_reply_encode_flags(int error, unsigned flags, void *buf,
                                               size_t len);

/* procket_reply_decode() that also stores the reply's flags in *flags. */
PROCKET_API int procket_reply_decode_flags(int *error, unsigned *flags, const void *buf,
                                           size_t len);

/* ------------------------------------------------------------------ */
/* Passing descriptors                                                 */
/* ------------------------------------------------------------------ */

/* Sends len bytes (1 or more) of data on the Unix socket sock, with fd
 * attached as SCM_RIGHTS unless fd is -1. Retries on EINTR, never raises
 * SIGPIPE. Returns 0, or -EMSGSIZE if the kernel took only part of the
 * data, or the send error. */
PROCKET_API int procket_send_fd(int sock, int fd, const void *data,
                                size_t len);

/* Receives one message of at most len bytes on sock, and at most one
 * descriptor with it. Retries on EINTR. On success returns the number of
 * data bytes and stores the received descriptor (close-on-exec) in *fd,
 * or -1 in *fd when the message carried none. Returns -EPROTO when the
 * message carried control data other than exactly one descriptor, or was
 * truncated (MSG_TRUNC, MSG_CTRUNC); every descriptor that arrived is then
 * closed. Returns 0 with *fd == -1 at end of file. */
PROCKET_API ssize_t procket_recv_fd(int sock, int *fd, void *data, size_t len);

/* ------------------------------------------------------------------ */
/* Command lines                                                       */
/* ------------------------------------------------------------------ */

/* The helper's command line, parsed. */
struct procket_args {
    int help;         /* -h / --help given */
    int version;      /* -V / --version given */
    const char *path; /* -u PATH: path transport; NULL: stdin channel */
    struct procket_request req; /* the socket described by the options */
};

/* Parses the helper's argv (argv[0] is the program name and is skipped):
 *   -u PATH  -p PORT  -F FAMILY  -T TYPE  -P PROTOCOL  -I IFNAME
 *   -b BACKLOG  -d (dual stack)  -N NETNS  -D tun|tap  -i (tun/tap packet
 *   information)  -h  -V  [ADDRESS]
 * FAMILY, TYPE and PROTOCOL are names (inet, dgram, udp, ...) or numbers.
 * A flag given twice, an unknown flag, a missing or malformed value or a
 * second ADDRESS is an error. Unset fields get the defaults of
 * procket_request_init(), except that the family follows an IPv6 ADDRESS,
 * and the type follows the protocol (udp: dgram, tcp: stream, others: raw;
 * packet family: raw). With -D the family and type default to 0.
 * path points into argv. Returns 0, or -EINVAL and, if err is not NULL,
 * a static message naming the problem in *err. When help or version is
 * set, the request is not validated. */
PROCKET_API int procket_args_parse(struct procket_args *args, int argc,
                                   char *const argv[], const char **err);

/* Writes the helper options describing req and path (no program name)
 * into the NULL-terminated vector argv (at most max entries including the
 * NULL), with their strings in buf. Returns the number of entries written
 * before the NULL, -EINVAL for an invalid request, -ENOSPC if argv or buf
 * is too small (32 entries and 512 bytes plus the path always suffice). */
PROCKET_API int procket_args_format(const struct procket_request *req,
                                    const char *path, char **argv, size_t max,
                                    char *buf, size_t buflen);

/* Splits a command such as "sudo -n /usr/lib/procket/procket" at spaces and
 * tabs into the NULL-terminated vector argv (at most max entries including
 * the NULL), copying the words into buf. No shell is involved: quotes,
 * $, ; and backslashes are ordinary characters. Returns the number of
 * words, -EINVAL for an empty command or one containing a control
 * character, -ENOSPC if argv or buf is too small. */
PROCKET_API int procket_split_command(const char *cmd, char **argv, size_t max,
                                      char *buf, size_t buflen);

/* Name tables shared by the argv parser and by error messages. Each
 * returns the number, or -EINVAL for an unknown name. */
PROCKET_API int procket_family_number(const char *name);
PROCKET_API int procket_type_number(const char *name);
PROCKET_API int procket_protocol_number(const char *name);

/* ------------------------------------------------------------------ */
/* Asking the helper                                                   */
/* ------------------------------------------------------------------ */

/* Default number of milliseconds to wait for the helper. */
#define PROCKET_TIMEOUT_MS 5000

/* The descriptor req describes, from the broker listening at path (a
 * helper run as `procket -l PATH` by root or systemd): no program is run,
 * so it works where privileges cannot be gained (no_new_privs, containers,
 * nosuid mounts). The broker decides as the helper does, by the caller's
 * credentials as the kernel reports them. Returns the descriptor or
 * -errno: the broker's answer, -ENOENT or -ECONNREFUSED when no broker
 * listens, -EPERM when what listens at path is not root's (only root runs
 * a broker: nothing is sent to it; in a user namespace that does not map
 * root, root shows as the overflow uid, as every user the namespace does
 * not map: taken only when every directory to path is as the broker
 * insists, see procket(8)), -EPROTO when what came back is not what was
 * asked for (a socket of the request's family and type, or a character
 * device), -ETIMEDOUT after timeout_ms. */
PROCKET_API int procket_open_broker(const struct procket_request *req, const char *path,
                                    int timeout_ms);

/* Where procket.socket (systemd) puts the broker's socket; the Erlang
 * module asks a broker there when no option says otherwise. */
#define PROCKET_BROKER_PATH "/run/procket/procket.sock"

/* Runs the helper command argv (argv[0] is looked up in PATH when it has
 * no slash; no shell is involved, not even for a file the kernel cannot
 * execute: -ENOEXEC), gives it one end of a fresh socketpair as its
 * standard input, sends the encoded request and waits up to timeout_ms
 * milliseconds (>= 1) for the reply. The helper is always reaped, the
 * channel always closed. The child is started with vfork and execve
 * and every signal blocked (cheaper than posix_spawn, which resets each
 * handler); the helper resets its own signal state.
 * Returns the descriptor on success. On failure:
 *   the helper's errno (-EACCES, -EADDRINUSE, ...) when it replied;
 *   the spawn error (-ENOENT for a missing program, -EACCES, ...);
 *   -ETIMEDOUT when no reply came in time (the helper is then killed);
 *   -ECONNRESET when the helper exited without replying (a refused sudo,
 *    a killed helper, a program that is not the procket helper);
 *   -EPROTO for a malformed reply. */
PROCKET_API int procket_open(const struct procket_request *req,
                             char *const argv[], int timeout_ms);

/* Like procket_open(), with the path transport: listens on a new Unix
 * socket at path (absolute, naming a file: no trailing '/'; it must not
 * exist), runs argv followed by the options from procket_args_format()
 * (so "-u path ..."), accepts the helper's connection, checks with
 * SO_PEERCRED that the peer runs as this process's effective uid (-EPERM
 * if not), and receives the reply. The socket file has mode 0600, less
 * the umask's bits, from the moment it exists; the umask is not changed.
 * path's directory is opened once, before the bind, and the file is
 * looked at and removed through it only: before returning, the name
 * there is removed if it still is the socket file this call made (same
 * device and inode), and nothing else is ever removed or changed. A
 * socket file that someone else moved away is left where it went.
 * Extra errors: -EINVAL for a relative path or one ending in '/';
 * -ENAMETOOLONG for a path that does not fit a sockaddr_un (107 bytes
 * and the NUL at most); -EADDRINUSE if path exists; the error opening
 * the directory or binding in it (-ENOENT, -ENOTDIR, -EACCES, ...);
 * -EACCES also when the umask takes the owner's write permission (the
 * helper could not connect; it is not run); -EBUSY when, after the bind,
 * the directory holds under that name anything but a socket file of
 * this euid with no group or other permissions (path, or a directory on
 * it, was changed meanwhile): the helper is not run, and the new socket
 * file, wherever path led, is left alone. */
PROCKET_API int procket_open_path(const struct procket_request *req,
                                  char *const argv[], const char *path,
                                  int timeout_ms);

/* What became of a procket_open_how() call that failed: */
#define PROCKET_HOW_FINAL 0        /* an answer to keep: the helper's refusal, a timeout, ... */
#define PROCKET_HOW_UNPRIVILEGED 1 /* the helper replied, without the privileges needed */
#define PROCKET_HOW_NOT_RUN 2      /* it could not be started, or exited without a reply
                                      (sudo refusing to run it, a program that is not the
                                      helper, a killed helper) */

/* procket_open() (path NULL) or procket_open_path() (path not NULL) that
 * also says, in *how, whether another way of running the helper may be
 * worth a try: PROCKET_HOW_UNPRIVILEGED or PROCKET_HOW_NOT_RUN; else, or
 * on success, PROCKET_HOW_FINAL. The Erlang module tries its next command
 * prefix (sudo) only then, so a refusal is never asked again. */
PROCKET_API int procket_open_how(const struct procket_request *req, char *const argv[],
                                 const char *path, int timeout_ms, int *how);

/* procket_open_broker() that also says, in *how, PROCKET_HOW_NOT_RUN when
 * no broker heard the request (nothing at path, nobody listening, no
 * permission to connect, a listener that is not root's): the caller may
 * run the helper instead. Else (also after the timeout, with the backlog
 * full all along) PROCKET_HOW_FINAL. */
PROCKET_API int procket_open_broker_how(const struct procket_request *req, const char *path,
                                        int timeout_ms, int *how);

/* procket_open_broker_how() with one connect attempt: -EAGAIN and
 * PROCKET_HOW_NOT_RUN when the broker's backlog is full, nothing sent (a
 * broker's own EAGAIN comes with PROCKET_HOW_FINAL). For
 * a caller that waits and tries again elsewhere: the Erlang module does,
 * holding no scheduler meanwhile. */
PROCKET_API int procket_open_broker_try(const struct procket_request *req, const char *path,
                                        int timeout_ms, int *how);

/* The spawn step alone: runs argv with chan as its standard input, other
 * descriptors of this process not inherited unless they lack
 * close-on-exec, signal mask empty and dispositions default. Uses
 * posix_spawn, so its cost does not grow with the caller's memory.
 * Returns 0 and the child's pid in *pid, or the spawn error. */
PROCKET_API int procket_spawn(char *const argv[], int chan, pid_t *pid);

/* Waits for the child pid to exit, at most timeout_ms milliseconds
 * (0: just look); after that kills it with SIGKILL and waits for it. A
 * child that cannot be signalled (sudo runs as root) is handed to a
 * detached thread that reaps it. Returns 0 and the wait status in
 * *status (if not NULL), -ETIMEDOUT if it had to be killed, or -ECHILD
 * (also when the caller ignores SIGCHLD, so the kernel reaped the child
 * itself and no status exists). */
PROCKET_API int procket_reap(pid_t pid, int timeout_ms, int *status);

/* ------------------------------------------------------------------ */
/* The helper's exit codes (documented in procket(8))                  */
/* ------------------------------------------------------------------ */
#define PROCKET_EXIT_OK 0        /* reply with a descriptor sent */
#define PROCKET_EXIT_REFUSED 1   /* reply sent: the request failed (errno) */
#define PROCKET_EXIT_USAGE 64    /* bad command line */
#define PROCKET_EXIT_REQUEST 65  /* malformed request on the channel */
#define PROCKET_EXIT_CHANNEL 66  /* no usable channel, or it failed */
#define PROCKET_EXIT_PRIVILEGE 67 /* dropping privileges failed or did not hold */
#define PROCKET_EXIT_PEER 68     /* the peer is not allowed to ask */
#define PROCKET_EXIT_INTERNAL 70 /* anything else */

#ifdef __cplusplus
}
#endif

#endif /* PROCKET_H */
