/*
 * peer.h - who may answer at a broker's path: the rule the library
 * (procket_open_broker) applies and the doctor (procket --check) reports.
 * Internal: not part of the API.
 */
#ifndef PROCKET_PEER_H
#define PROCKET_PEER_H

#include <sys/types.h>

/* 1 if this process is in the first user namespace (its uid_map is the
 * identity map of every uid), or if that cannot be read; else 0. */
int procket_userns_initial(void);

/* The overflow uid (/proc/sys/kernel/overflowuid), -1 if unreadable. */
long procket_overflow_uid(void);

/* 1 if a listener at path whose SO_PEERCRED uid is uid is taken for
 * root's broker: uid 0; or, in a user namespace that does not map root,
 * the overflow uid with every directory to path as the broker insists. */
int procket_broker_peer_ok(const char *path, uid_t uid);

#endif
