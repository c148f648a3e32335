/*
 * helper.h - internals of the privileged helper (not installed).
 */
#ifndef PROCKET_HELPER_H
#define PROCKET_HELPER_H

#include <stdint.h>
#include <sys/types.h>

#include "procket.h"

#define PROGNAME "procket"

/* Seconds the helper waits for a request on its channel. */
#define HELPER_READ_TIMEOUT_MS 5000
/* ... and a broker's worker, on its connection */
#define HELPER_BROKER_READ_TIMEOUT_MS 1000
/* Last-resort watchdog: the helper never lives longer than this. */
#define HELPER_WATCHDOG_S 30
#define HELPER_MAX_GROUPS 1024
/* Groups kept in struct identity itself; with more (up to
 * HELPER_MAX_GROUPS) they go to memory from malloc. Keeps the helper's
 * stack small: every page of memory it touches costs a page fault, ~15 us
 * on the machine of bench/README.md, where the helper runs ~100 us from
 * main() to its reply. */
#define HELPER_FEW_GROUPS 32

/* Capability numbers (capabilities(7)); defined here so the static build
 * needs no kernel headers. */
#define CAPBIT(n) ((uint64_t)1 << (n))
#define HCAP_NET_BIND_SERVICE 10
#define HCAP_NET_ADMIN 12
#define HCAP_NET_RAW 13

/* Who asked, as the kernel says. */
struct identity {
    uid_t uid;
    gid_t gid;
    size_t ngroups;
    gid_t *groups; /* ngroups of them: few, or from malloc */
    gid_t few[HELPER_FEW_GROUPS];
    /* broker: uid is the overflow uid and the caller is in another user
     * namespace, one that maps it to no uid here (only a rule that names
     * the uid grants it anything) */
    int unmapped;
    /* asked through the broker: root is a caller like any other (a
     * container's root with no capability must not get what the host's
     * root may have) */
    int brokered;
};

/* What sanitize() learned before it wiped the environment. */
struct invocation {
    uid_t ruid;      /* the real uid */
    int sudo;        /* real uid 0 and SUDO_UID/SUDO_GID were set */
    uid_t sudo_uid;
    gid_t sudo_gid;
    int listen_fd;   /* socket activation: 3; -1 none; -2 not usable */
    int broker;      /* a broker's worker: serve() reads one connection */
    int notify;      /* broker's worker: the pipe to the broker, or -1 */
    int netns_error; /* broker's worker: -errno if it could not enter the
                      * caller's network namespace (nothing is opened) */
    int request_seen; /* broker's worker: the request was there at accept */
    int peer_pidfd;  /* broker's worker: the caller's pidfd, or -1 */
    uid_t overflow_uid;            /* broker: /proc/sys/kernel/overflowuid */
    dev_t userns_dev;              /* broker: its own user namespace */
    ino_t userns_ino;
};

/* main.c: one request on chan (see there); the exit status */
int serve(int chan, const struct invocation *inv, struct procket_args *args);

/* check.c: --check, the doctor (see there); the exit status */
int check_main(int argc, char *argv[], const struct invocation *inv);

/* broker.c: -l PATH */
int broker_main(int argc, char *argv[], const struct invocation *inv);
/* main.c: in a broker's worker, before it waits: see there */
void check_policy_prepare(void);
/* in a broker's worker: tells the broker the request has arrived, or
 * that the worker is about to wait (audit.c); nothing elsewhere */
void broker_note_request(const struct invocation *inv);
void broker_note_waiting(void);

/* Prints "procket: where: message" on stderr. */
void say(const char *where, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* sanitize.c */
void sanitize(struct invocation *inv);

/* the SIGKILL watchdog of HELPER_WATCHDOG_S seconds (armed by sanitize) */
void watchdog_prepare(void);
void watchdog_arm(void);
int watchdog_disarm(void);

/* privsep.c */
/* setresuid(0, 0, 0): for a setuid helper, until become_caller() */
int hold_real_uid(void);
int identify_peer(int chan, const struct invocation *inv,
                  struct identity *who);
/* broker: what the workers compare callers with (inv->overflow_uid,
 * inv->userns_*), learned once */
void broker_identity_init(struct invocation *inv);
int identify_invoker(const struct invocation *inv, struct identity *who);
int become_caller(const struct identity *who, uint64_t keep, int *unprivileged);
int drop_all(void);
int verify_dropped(const struct identity *who);
/* no capability, no_new_privs: all verify_dropped() checks but the ids */
int verify_caps_dropped(void);

/* policy.c: see the comment there, and procket.conf(5) */
#ifndef PROCKET_POLICY_FILE
#define PROCKET_POLICY_FILE "/etc/procket.conf"
#endif
/* kinds of request */
#define POLICY_K_TCP 0x001u
#define POLICY_K_UDP 0x002u
#define POLICY_K_SCTP 0x004u
#define POLICY_K_UDPLITE 0x008u
#define POLICY_K_IP 0x010u /* other inet sockets, not raw */
#define POLICY_K_ICMP 0x020u /* raw ICMP / ICMPv6 */
#define POLICY_K_RAW 0x040u /* other raw IP sockets */
#define POLICY_K_PACKET 0x080u
#define POLICY_K_TUN 0x100u
#define POLICY_K_TAP 0x200u
#define POLICY_K_ALL 0x3ffu
/* conditions */
#define POLICY_C_PORT 1
#define POLICY_C_ADDRESS 2
#define POLICY_C_INTERFACE 3
#define POLICY_C_NAMESPACE 4
#define POLICY_C_DEVICE 5
#define POLICY_C_FAMILY 6
#define POLICY_C_TYPE 7
#define POLICY_C_PROTOCOL 8
#define POLICY_C_COUNT 9
#define POLICY_C_IS_NAME(c) ((c) >= POLICY_C_INTERFACE && (c) <= POLICY_C_DEVICE)
/* the ports the default leaves to rules: rresvport(3)'s range, which
 * rsh-style services trust as a root-owned client's */
#define POLICY_TRUSTED_LO 512
#define POLICY_TRUSTED_HI 1023
#define POLICY_MAX_RULES 256
#define POLICY_MAX_VALUES 1024
#define POLICY_LINE_MAX 1024
#define POLICY_FILE_MAX 65536
#define POLICY_WHO_ALL 0
#define POLICY_WHO_UID 1
#define POLICY_WHO_GID 2

struct policy_value {
    unsigned char cond;   /* POLICY_C_* */
    unsigned char any;    /* names: "*" */
    unsigned char family; /* address: AF_INET or AF_INET6 */
    unsigned char prefix; /* address: bits that must match */
    uint32_t lo, hi;      /* port or protocol range; family, type */
    uint32_t str;         /* names: offset in pool */
    unsigned char addr[16];
};

struct policy_rule {
    unsigned char allow; /* else deny */
    unsigned char who;   /* POLICY_WHO_* */
    unsigned conds;      /* 1 << POLICY_C_* present */
    unsigned line;       /* in the file */
    uint32_t id;         /* uid or gid */
    unsigned kinds;      /* POLICY_K_*; 0: any */
    uint32_t first, count; /* its values */
};

struct policy {
    size_t n, nvalues, used;
    struct policy_rule rules[POLICY_MAX_RULES];
    struct policy_value values[POLICY_MAX_VALUES];
    char pool[POLICY_FILE_MAX + 1];
};

/* Turns a user (POLICY_WHO_UID) or group name into its id; 0 or -1. */
typedef int (*policy_resolver)(int who, const char *name, uint32_t *id);

/* The POLICY_K_* kind of a valid request, and its name. */
unsigned policy_kind(const struct procket_request *req);
const char *policy_kind_name(unsigned kind);
/* Parses the text of a policy file; -EINVAL and the 1-based number of the
 * first bad line in *bad_line (then *pol has no rule). */
int policy_parse(struct policy *pol, const char *text, size_t len,
                 policy_resolver resolve, int *bad_line);
/* Loads path: 0 (also when it does not exist: no rule), or -EACCES when
 * it is refused (said on stderr); -EMFILE or -ENFILE when no descriptor
 * was left to read it with (refused too). */
int policy_load(struct policy *pol, const char *path);
/* Reads fd to its end into buf (room for max + 1 bytes): 0 and the length
 * in *have, -EFBIG if there is more than max (whatever fstat said), or
 * -errno. */
int policy_read(int fd, char *buf, size_t max, size_t *have);
/* The index of the interface that name names (its name or an altname)
 * in the network namespace the request is made in; 0 if none. */
typedef unsigned (*policy_ifindex)(const char *name);
/* if_nametoindex(3), in the helper's current network namespace */
unsigned policy_ifindex_here(const char *name);
/* 1 if who may have req (pol NULL: no rules, the default), else 0 with
 * the reason in why. Root always may. An interface= condition holds when
 * it names the request's interface by any of its names, as ifindex tells;
 * with ifindex NULL (the interfaces are not known yet: the request's
 * namespace is not entered) the answer is an upper bound: such a
 * condition holds in an allow rule and not in a deny rule, so that 0 is
 * final and 1 must be asked again with ifindex. With confine, also what a granted
 * packet socket must stay confined to after it is handed over (a locked
 * socket filter, see open.c), because the rule that granted it, or a deny
 * rule for the caller's packet sockets before it, names it: an interface
 * condition other than interface=* confines reception to the interface
 * asked for, a protocol condition to incoming frames of the ethertype
 * asked for (unless that is every ethertype). 0 for root, other kinds,
 * the default, a denial. */
#define POLICY_CONFINE_IFINDEX 0x1u
#define POLICY_CONFINE_PROTOCOL 0x2u
int policy_decide(const struct policy *pol, const struct identity *who,
                  const struct procket_request *req, policy_ifindex ifindex,
                  char *why, size_t whylen, unsigned *confine);

/* audit.c: one line per request to the syslog socket */
#ifndef PROCKET_LOG_SOCKET
#define PROCKET_LOG_SOCKET "/dev/log"
#endif
/* How long a line waits for room in a full log socket queue. */
#define AUDIT_WAIT_MS 1000
/* Makes and connects the log socket: 0 and the descriptor in *fd, or -1
 * there when the system keeps no log (nothing at PROCKET_LOG_SOCKET, or
 * nothing listening); -errno when it cannot be made (then no line could
 * be sent: nothing may be granted). */
int audit_open(int *fd);
/* Sends the line on fd (from audit_open). result: "granted", "denied",
 * "failed" or "malformed"; req NULL when there is no valid request; why
 * NULL or a short reason. 0 when the line was handed over (or fd is -1),
 * -EAGAIN when the queue had no room for AUDIT_WAIT_MS, another -errno
 * when the send failed. */
int audit(int fd, const struct identity *who, const struct procket_request *req,
          const char *result, const char *why);
/* The request in words ("inet dgram proto=17 port=53 address=0.0.0.0"). */
void audit_describe(const struct procket_request *req, char *buf, size_t len);

/* open.c */
int enter_namespace(const char *name);
uint64_t caps_needed(const struct procket_request *req);
int prepare_requested(const struct procket_request *req, int *prep);
int resolve_interface(struct procket_request *req, unsigned *ifindex);
/* confine: POLICY_CONFINE_* for a packet socket, else 0; ifindex: from
 * resolve_interface() */
int open_requested(const struct procket_request *req, int prep, unsigned confine,
                   unsigned ifindex, int *fd);

#endif
