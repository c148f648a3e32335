/*
 * procket_nif.c - the Erlang face of the client library.
 *
 * Stateless: no globals hold paths or descriptors; every call carries
 * everything it needs, so any number of processes may open at once.
 *
 * open/4 spawns the helper and waits (bounded) for its reply, so it runs
 * on a dirty I/O scheduler: the wait is for another process, it cannot be
 * made a readiness event on a descriptor the VM polls without keeping
 * state between calls, and dirty I/O threads exist for exactly this.
 * close/1 runs there too, since close(2) of a lingering socket may block.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "erl_driver.h" /* erl_errno_id() */
#include "erl_nif.h"
#include "procket.h"
#include "procket_sock.h" /* the socket API: procket_sock.c */

static ERL_NIF_TERM atom_ok, atom_error, atom_undefined, atom_timeout;
static ERL_NIF_TERM key_family, key_type, key_protocol, key_port, key_addr,
    key_scope_id, key_ifname, key_backlog, key_flags, key_netns, key_device;

static ERL_NIF_TERM mk_atom(ErlNifEnv *env, const char *name)
{
    ERL_NIF_TERM a;
    if (enif_make_existing_atom(env, name, &a, ERL_NIF_LATIN1))
        return a;
    return enif_make_atom(env, name);
}

static int load(ErlNifEnv *env, void **priv, ERL_NIF_TERM info)
{
    (void)priv;
    (void)info;
    atom_ok = mk_atom(env, "ok");
    atom_error = mk_atom(env, "error");
    atom_undefined = mk_atom(env, "undefined");
    atom_timeout = mk_atom(env, "timeout");
    key_family = mk_atom(env, "family");
    key_type = mk_atom(env, "type");
    key_protocol = mk_atom(env, "protocol");
    key_port = mk_atom(env, "port");
    key_addr = mk_atom(env, "addr");
    key_scope_id = mk_atom(env, "scope_id");
    key_ifname = mk_atom(env, "ifname");
    key_backlog = mk_atom(env, "backlog");
    key_flags = mk_atom(env, "flags");
    key_netns = mk_atom(env, "netns");
    key_device = mk_atom(env, "device");
    return procket_sock_load(env);
}

static int upgrade(ErlNifEnv *env, void **priv, void **old, ERL_NIF_TERM info)
{
    (void)old;
    return load(env, priv, info);
}

static void unload(ErlNifEnv *env, void *priv)
{
    (void)env;
    (void)priv;
    procket_sock_unload();
}

/* An errno as procket names it: timeout for ETIMEDOUT, else its name. */
static ERL_NIF_TERM errno_reason(ErlNifEnv *env, int err)
{
    return err == ETIMEDOUT ? atom_timeout : enif_make_atom(env, erl_errno_id(err));
}

static ERL_NIF_TERM error_tuple(ErlNifEnv *env, int err)
{
    return enif_make_tuple2(env, atom_error, errno_reason(env, err));
}

static int get_int_key(ErlNifEnv *env, ERL_NIF_TERM map, ERL_NIF_TERM key,
                       int *out)
{
    ERL_NIF_TERM v;
    return enif_get_map_value(env, map, key, &v) && enif_get_int(env, v, out);
}

/* Builds the request from the map made by procket:request/2. */
static int get_request(ErlNifEnv *env, ERL_NIF_TERM map,
                       struct procket_request *req)
{
    ErlNifBinary bin;
    ERL_NIF_TERM v;
    unsigned int u;

    if (!enif_is_map(env, map))
        return 0;
    procket_request_init(req);
    if (!get_int_key(env, map, key_family, &req->family) ||
        !get_int_key(env, map, key_type, &req->type) ||
        !get_int_key(env, map, key_protocol, &req->protocol) ||
        !get_int_key(env, map, key_port, &req->port) ||
        !get_int_key(env, map, key_backlog, &req->backlog))
        return 0;
    if (!enif_get_map_value(env, map, key_addr, &v) ||
        !enif_inspect_binary(env, v, &bin) || bin.size > sizeof(req->addr))
        return 0;
    memcpy(req->addr, bin.data, bin.size);
    req->addrlen = bin.size;
    if (!enif_get_map_value(env, map, key_scope_id, &v) ||
        !enif_get_uint(env, v, &u))
        return 0;
    req->scope_id = u;
    if (!enif_get_map_value(env, map, key_flags, &v) ||
        !enif_get_uint(env, v, &u))
        return 0;
    req->flags = u;
    if (!enif_get_map_value(env, map, key_ifname, &v) ||
        !enif_inspect_binary(env, v, &bin) || bin.size > PROCKET_IFNAME_MAX ||
        memchr(bin.data, '\0', bin.size) != NULL)
        return 0;
    memcpy(req->ifname, bin.data, bin.size);
    req->ifname[bin.size] = '\0';
    /* optional: older callers' maps lack them */
    if (enif_get_map_value(env, map, key_netns, &v)) {
        if (!enif_inspect_binary(env, v, &bin) || bin.size > PROCKET_NETNS_MAX ||
            memchr(bin.data, '\0', bin.size) != NULL)
            return 0;
        memcpy(req->netns, bin.data, bin.size);
        req->netns[bin.size] = '\0';
    }
    if (enif_get_map_value(env, map, key_device, &v) &&
        !enif_get_int(env, v, &req->device))
        return 0;
    return procket_request_validate(req) == 0;
}

/* Copies a binary into a NUL-terminated buffer; no NULs inside. */
static int get_cstring(ErlNifEnv *env, ERL_NIF_TERM t, char *buf, size_t len)
{
    ErlNifBinary bin;

    if (!enif_inspect_binary(env, t, &bin) || bin.size == 0 ||
        bin.size >= len || memchr(bin.data, '\0', bin.size) != NULL)
        return 0;
    memcpy(buf, bin.data, bin.size);
    buf[bin.size] = '\0';
    return 1;
}

/* Fills cargv (NULL-terminated, at most max entries with the NULL) from a
 * list of binaries, copying the words into buf. */
static int get_argv(ErlNifEnv *env, ERL_NIF_TERM list, char **cargv,
                    size_t max, char *buf, size_t buflen)
{
    ERL_NIF_TERM head;
    ErlNifBinary bin;
    size_t n = 0, used = 0;

    while (enif_get_list_cell(env, list, &head, &list)) {
        if (!enif_inspect_binary(env, head, &bin) || bin.size == 0 ||
            memchr(bin.data, '\0', bin.size) != NULL || n + 1 >= max ||
            bin.size + 1 > buflen - used)
            return 0;
        memcpy(buf + used, bin.data, bin.size);
        buf[used + bin.size] = '\0';
        cargv[n++] = buf + used;
        used += bin.size + 1;
    }
    cargv[n] = NULL;
    return n > 0 && enif_is_empty_list(env, list);
}

/* {ok, FD} for a descriptor just made on a dirty scheduler (by the helper,
 * the broker or the VM): non-blocking, as the older procket gave them out
 * (poll loops expect eagain; gen_udp and gen_tcp adopt either kind), and
 * issued (close/1 and the socket API act on it). Closed instead when the
 * caller was killed meanwhile: it would never learn the number. */
static ERL_NIF_TERM hand_out(ErlNifEnv *env, int fd)
{
    int fl, err;

    if (!enif_is_current_process_alive(env)) {
        (void)close(fd);
        return error_tuple(env, ESRCH);
    }
    fl = fcntl(fd, F_GETFL);
    if (fl < 0 || (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)) {
        err = errno;
        (void)close(fd);
        return error_tuple(env, err);
    }
    if ((err = procket_sock_issue(fd)) != 0) {
        (void)close(fd);
        return error_tuple(env, err);
    }
    return enif_make_tuple2(env, atom_ok, enif_make_int(env, fd));
}

/* open(Argv :: [binary()], Request :: map(), Pipe :: binary() | undefined,
 *      TimeoutMs :: pos_integer()) -> {ok, FD} | {error, Reason} | {next, Reason}
 * {next, Reason}: the helper could not be run, or ran without the
 * privileges the request needs (procket_open_how()): another command may
 * succeed. {error, Reason} is final. */
static ERL_NIF_TERM nif_open(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    struct procket_request req;
    char words[2048], path[128];
    char *cargv[32];
    int timeout, fd, how;

    (void)argc;
    if (!get_argv(env, argv[0], cargv, 32, words, sizeof(words)) ||
        !get_request(env, argv[1], &req) ||
        !enif_get_int(env, argv[3], &timeout) || timeout < 1)
        return enif_make_badarg(env);
    if (enif_is_identical(argv[2], atom_undefined))
        path[0] = '\0';
    else if (!get_cstring(env, argv[2], path, sizeof(path)))
        return enif_make_badarg(env);

    fd = procket_open_how(&req, cargv, path[0] == '\0' ? NULL : path, timeout, &how);
    if (fd < 0 && how != PROCKET_HOW_FINAL) /* another command may do it */
        return enif_make_tuple2(env, enif_make_atom(env, "next"),
                                enif_make_atom(env, erl_errno_id(-fd)));
    if (fd < 0)
        return error_tuple(env, -fd);
    return hand_out(env, fd);
}

/* open_broker(Request, Path, TimeoutMs) -> {ok, FD} | {error, Reason} |
 * {next, Reason} | again: the descriptor from the broker at Path
 * (procket_open_broker_try); {next, Reason} when no broker heard the
 * request (could not connect); again when its backlog is full (the
 * caller waits, on no scheduler, and asks again). */
static ERL_NIF_TERM nif_open_broker(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    struct procket_request req;
    char path[128];
    int timeout, fd, how;

    (void)argc;
    if (!get_request(env, argv[0], &req) || !get_cstring(env, argv[1], path, sizeof(path)) ||
        !enif_get_int(env, argv[2], &timeout) || timeout < 1)
        return enif_make_badarg(env);
    fd = procket_open_broker_try(&req, path, timeout, &how);
    if (fd == -EAGAIN && how == PROCKET_HOW_NOT_RUN) /* a full backlog: again later */
        return enif_make_atom(env, "again");
    if (fd < 0 && how == PROCKET_HOW_NOT_RUN) /* Reason as in error_tuple() */
        return enif_make_tuple2(env, enif_make_atom(env, "next"), errno_reason(env, -fd));
    if (fd < 0)
        return error_tuple(env, -fd);
    return hand_out(env, fd);
}

/* open_tun_clone() -> {ok, FD} | {error, Reason}: the tun clone device,
 * opened by the VM itself, with its own credentials (root, or a device
 * anyone may open): no helper, no privilege. As the helper does it: only
 * that device (character device 10:200, checked before and after the
 * open, no symlink followed), non-blocking and close-on-exec. */
static ERL_NIF_TERM nif_open_tun_clone(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    struct stat before, after;
    int fd;

    (void)argc;
    (void)argv;
    if (lstat("/dev/net/tun", &before) < 0)
        return error_tuple(env, errno);
    if (!S_ISCHR(before.st_mode) || before.st_rdev != makedev(10, 200))
        return error_tuple(env, ENODEV);
    fd = open("/dev/net/tun", O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return error_tuple(env, errno);
    if (fstat(fd, &after) < 0 || after.st_dev != before.st_dev ||
        after.st_ino != before.st_ino || after.st_rdev != before.st_rdev) {
        (void)close(fd);
        return error_tuple(env, ENODEV);
    }
    return hand_out(env, fd);
}

/* close(FD) -> ok | closing | {error, Reason}; closing: wait for
 * {'$procket_closed', FD} */
static ERL_NIF_TERM nif_close(ErlNifEnv *env, int argc,
                              const ERL_NIF_TERM argv[])
{
    int fd, err;

    (void)argc;
    if (!enif_get_int(env, argv[0], &fd) || fd < 0)
        return enif_make_badarg(env);
    /* only a descriptor procket gave out and no handle owns: never one
     * of the VM's own, nor a handle's behind its back */
    err = procket_sock_close_fd(env, fd);
    if (err == PK_CLOSE_ON_THREAD)
        return enif_make_atom(env, "closing");
    if (err != 0)
        return error_tuple(env, err);
    return atom_ok;
}

static ErlNifFunc nif_funcs[] = {
    {"open", 4, nif_open, ERL_NIF_DIRTY_JOB_IO_BOUND},
    {"close", 1, nif_close, 0}, /* a close that may wait goes to a worker */
    {"open_tun_clone", 0, nif_open_tun_clone, ERL_NIF_DIRTY_JOB_IO_BOUND},
    {"open_broker", 3, nif_open_broker, ERL_NIF_DIRTY_JOB_IO_BOUND},
    PROCKET_SOCK_NIFS,
};

ERL_NIF_INIT(procket_nif, nif_funcs, load, NULL, upgrade, unload)
