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

/* open.c */
int enter_namespace(const char *name);
uint64_t caps_needed(const struct procket_request *req);
int prepare_requested(const struct procket_request *req, int *prep);
int open_requested(const struct procket_request *req, int prep, int *fd);

#endif
