/*
 * procket_sock.h - the socket API of the NIF (procket_sock.c): its load
 * and unload hooks and its entries for procket_nif.c's function table.
 *
 * The Erlang stubs are in src/procket_nif.erl (the sock_* functions); the
 * API built on them is src/procket_socket.erl.
 */
#ifndef PROCKET_SOCK_H
#define PROCKET_SOCK_H

#include "erl_nif.h"

/* Called from the library's load and upgrade (0 on success) and unload. */
int procket_sock_load(ErlNifEnv *env);
void procket_sock_unload(void);

/* Records fd as a descriptor procket created and gave to Erlang (0 or an
 * errno): close/1 and handle/1 act only on such descriptors, and only
 * while the number still refers to the same file. */
int procket_sock_issue(int fd);

/* close/1 of an integer descriptor: 0, EBUSY (a handle owns it) or EBADF
 * (not one procket gave out, or closed since), or close(2)'s errno. */
/* close/1 of an integer descriptor: 0 (closed), PK_CLOSING (a close(2)
 * that may wait, on a thread, which then sends {'$procket_closed', FD} to
 * the caller), or an errno. */
#define PK_CLOSE_ON_THREAD (-1)
int procket_sock_close_fd(ErlNifEnv *env, int fd);

ERL_NIF_TERM procket_sock_socket(ErlNifEnv *, int, const ERL_NIF_TERM[]);
ERL_NIF_TERM procket_sock_bind(ErlNifEnv *, int, const ERL_NIF_TERM[]);
ERL_NIF_TERM procket_sock_connect(ErlNifEnv *, int, const ERL_NIF_TERM[]);
ERL_NIF_TERM procket_sock_listen(ErlNifEnv *, int, const ERL_NIF_TERM[]);
ERL_NIF_TERM procket_sock_accept(ErlNifEnv *, int, const ERL_NIF_TERM[]);
ERL_NIF_TERM procket_sock_recvfrom(ErlNifEnv *, int, const ERL_NIF_TERM[]);
ERL_NIF_TERM procket_sock_sendto(ErlNifEnv *, int, const ERL_NIF_TERM[]);
ERL_NIF_TERM procket_sock_recvmsg(ErlNifEnv *, int, const ERL_NIF_TERM[]);
ERL_NIF_TERM procket_sock_sendmsg(ErlNifEnv *, int, const ERL_NIF_TERM[]);
ERL_NIF_TERM procket_sock_read(ErlNifEnv *, int, const ERL_NIF_TERM[]);
ERL_NIF_TERM procket_sock_write(ErlNifEnv *, int, const ERL_NIF_TERM[]);
ERL_NIF_TERM procket_sock_writev(ErlNifEnv *, int, const ERL_NIF_TERM[]);
ERL_NIF_TERM procket_sock_ioctl(ErlNifEnv *, int, const ERL_NIF_TERM[]);
ERL_NIF_TERM procket_sock_setsockopt(ErlNifEnv *, int, const ERL_NIF_TERM[]);
ERL_NIF_TERM procket_sock_getsockopt(ErlNifEnv *, int, const ERL_NIF_TERM[]);
ERL_NIF_TERM procket_sock_attach_filter(ErlNifEnv *, int, const ERL_NIF_TERM[]);
ERL_NIF_TERM procket_sock_getsockname(ErlNifEnv *, int, const ERL_NIF_TERM[]);
ERL_NIF_TERM procket_sock_getpeername(ErlNifEnv *, int, const ERL_NIF_TERM[]);
ERL_NIF_TERM procket_sock_errno_id(ErlNifEnv *, int, const ERL_NIF_TERM[]);
ERL_NIF_TERM procket_sock_constants(ErlNifEnv *, int, const ERL_NIF_TERM[]);
ERL_NIF_TERM procket_sock_info(ErlNifEnv *, int, const ERL_NIF_TERM[]);
ERL_NIF_TERM procket_sock_handle(ErlNifEnv *, int, const ERL_NIF_TERM[]);
ERL_NIF_TERM procket_sock_fd(ErlNifEnv *, int, const ERL_NIF_TERM[]);
ERL_NIF_TERM procket_sock_close(ErlNifEnv *, int, const ERL_NIF_TERM[]);
ERL_NIF_TERM procket_sock_finalize(ErlNifEnv *, int, const ERL_NIF_TERM[]);
ERL_NIF_TERM procket_sock_select(ErlNifEnv *, int, const ERL_NIF_TERM[]);
ERL_NIF_TERM procket_sock_cancel(ErlNifEnv *, int, const ERL_NIF_TERM[]);
ERL_NIF_TERM procket_sock_controlling_process(ErlNifEnv *, int, const ERL_NIF_TERM[]);
ERL_NIF_TERM procket_sock_handle_info(ErlNifEnv *, int, const ERL_NIF_TERM[]);

/* Entries for the ErlNifFunc table. Calls that may block (ioctl(2), the
 * final close(2) of a handle) run on dirty I/O schedulers; the others
 * run on normal schedulers and move themselves to a dirty I/O scheduler
 * (enif_schedule_nif) when the descriptor is in blocking mode. The *_nif
 * ones may instead return {'$procket_wait', Ref}: the call runs on a
 * worker thread of procket's, which sends {Ref, Result} (procket_nif's
 * sock_* functions wait for it). */
#define PROCKET_SOCK_NIFS                                                   \
    {"sock_socket", 3, procket_sock_socket, 0},                             \
    {"sock_bind_nif", 2, procket_sock_bind, 0},                             \
    {"sock_connect_nif", 2, procket_sock_connect, 0},                       \
    {"sock_listen", 2, procket_sock_listen, 0},                             \
    {"sock_accept", 2, procket_sock_accept, 0},                             \
    {"sock_recvfrom_nif", 4, procket_sock_recvfrom, 0},                     \
    {"sock_sendto_nif", 4, procket_sock_sendto, 0},                         \
    {"sock_recvmsg_nif", 5, procket_sock_recvmsg, 0},                       \
    {"sock_sendmsg_nif", 5, procket_sock_sendmsg, 0},                       \
    {"sock_read_nif", 2, procket_sock_read, 0},                             \
    {"sock_write_nif", 2, procket_sock_write, 0},                           \
    {"sock_writev_nif", 2, procket_sock_writev, 0},                         \
    {"sock_ioctl", 4, procket_sock_ioctl, ERL_NIF_DIRTY_JOB_IO_BOUND},      \
    {"sock_setsockopt", 4, procket_sock_setsockopt, 0},                     \
    {"sock_getsockopt", 4, procket_sock_getsockopt, 0},                     \
    {"sock_attach_filter", 2, procket_sock_attach_filter, 0},               \
    {"sock_getsockname", 2, procket_sock_getsockname, 0},                   \
    {"sock_getpeername", 2, procket_sock_getpeername, 0},                   \
    {"sock_errno_id", 1, procket_sock_errno_id, 0},                         \
    {"sock_constants", 1, procket_sock_constants, 0},                       \
    {"sock_info", 0, procket_sock_info, 0},                                 \
    {"sock_handle", 1, procket_sock_handle, 0},                             \
    {"sock_fd", 1, procket_sock_fd, 0},                                     \
    {"sock_close", 1, procket_sock_close, 0},                               \
    {"sock_finalize", 1, procket_sock_finalize, ERL_NIF_DIRTY_JOB_IO_BOUND},\
    {"sock_select", 3, procket_sock_select, 0},                             \
    {"sock_cancel", 2, procket_sock_cancel, 0},                             \
    {"sock_controlling_process", 2, procket_sock_controlling_process, 0},   \
    {"sock_handle_info", 1, procket_sock_handle_info, 0}

#endif
