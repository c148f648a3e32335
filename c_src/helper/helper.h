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
};

/* What sanitize() learned before it wiped the environment. */
struct invocation {
    uid_t ruid;      /* the real uid */
    int sudo;        /* real uid 0 and SUDO_UID/SUDO_GID were set */
    uid_t sudo_uid;
    gid_t sudo_gid;
};

/* Prints "procket: where: message" on stderr. */
void say(const char *where, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* sanitize.c */
void sanitize(struct invocation *inv);

/* privsep.c */
int identify_peer(int chan, const struct invocation *inv,
                  struct identity *who);
int identify_invoker(const struct invocation *inv, struct identity *who);
int become_caller(const struct identity *who, uint64_t keep);
int drop_all(void);
int verify_dropped(const struct identity *who);

/* policy.c: see the comment there, and procket.conf(5) */
#ifndef PROCKET_POLICY_FILE
#define PROCKET_POLICY_FILE "/etc/procket.conf"
#endif
#define POLICY_PACKET 0x1u
#define POLICY_RAW 0x2u
#define POLICY_TUN 0x4u
#define POLICY_TAP 0x8u
#define POLICY_NAMESPACE 0x10u
#define POLICY_MAX_RULES 256
#define POLICY_LINE_MAX 1024
#define POLICY_FILE_MAX 65536
#define POLICY_WHO_ALL 0
#define POLICY_WHO_UID 1
#define POLICY_WHO_GID 2

struct policy_rule {
    int who;     /* POLICY_WHO_* */
    uint32_t id; /* uid or gid */
    unsigned kinds;
};

struct policy {
    size_t n;
    struct policy_rule rules[POLICY_MAX_RULES];
};

/* Turns a user (POLICY_WHO_UID) or group name into its id; 0 or -1. */
typedef int (*policy_resolver)(int who, const char *name, uint32_t *id);

/* The POLICY_* kinds req needs a rule for; 0 for what anyone may get. */
unsigned policy_needs(const struct procket_request *req);
const char *policy_kind_name(unsigned bit);
/* Parses the text of a policy file; -EINVAL and the 1-based number of the
 * first bad line in *bad_line (then *pol grants nothing). */
int policy_parse(struct policy *pol, const char *text, size_t len,
                 policy_resolver resolve, int *bad_line);
/* Loads path: 0 (also when it does not exist), or -EACCES when it is
 * refused (said on stderr), leaving *pol granting nothing. */
int policy_load(struct policy *pol, const char *path);
/* Whether who (uid, gid, groups) has rules for every kind in needs; root
 * always. */
int policy_allows(const struct policy *pol, const struct identity *who,
                  unsigned needs);

/* audit.c: one line per request to the syslog socket */
#ifndef PROCKET_LOG_SOCKET
#define PROCKET_LOG_SOCKET "/dev/log"
#endif
/* result: "granted", "denied", "failed" or "malformed"; req NULL when
 * there is no valid request; why NULL or a short reason. Never fails. */
void audit(const struct identity *who, const struct procket_request *req,
           const char *result, const char *why);
/* The request in words ("inet dgram proto=17 port=53 address=0.0.0.0"). */
void audit_describe(const struct procket_request *req, char *buf, size_t len);

/* open.c */
int enter_namespace(const char *name);
uint64_t caps_needed(const struct procket_request *req);
int prepare_requested(const struct procket_request *req, int *prep);
int open_requested(const struct procket_request *req, int prep, int *fd);

#endif
