/* net/server.c: process-level set-up around the workers: the fd limit, the connection table,
 * binding (checked once without SO_REUSEPORT, so a second server on the same port is refused
 * instead of silently sharing it), threads, and signals. Signals are blocked in every thread and
 * taken synchronously by sigwait in the caller's thread, so no handler runs inside a worker. */
#include "net/server.h"

#include "mem/mem.h"
#include "net/peer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { MAX_CONN_SLOTS = 1 << 22 };

/* Go's runtime and nginx's worker_rlimit_nofile do the same: a server should be able to use the
 * descriptors the administrator allows (the hard limit), not the shell's default soft limit. */
static uint32_t raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 1024;
    if (rl.rlim_cur < rl.rlim_max) {
        rlim_t want = rl.rlim_max;
        rl.rlim_cur = want;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            getrlimit(RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur > MAX_CONN_SLOTS ? MAX_CONN_SLOTS : (uint32_t)rl.rlim_cur;
}

/* Numeric addresses only (and "localhost"): the crest binary is linked statically to keep its
 * resident size down, and glibc's getaddrinfo would need the shared NSS libraries at run time. */
static int resolve(const struct net_config *cfg, struct sockaddr_storage *addr, socklen_t *len,
                   char *err)
{
    const char *host = strcmp(cfg->host, "localhost") == 0 ? "127.0.0.1" : cfg->host;
    struct sockaddr_in *v4 = (struct sockaddr_in *)addr;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)addr;

    memset(addr, 0, sizeof(*addr));
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(cfg->port);
        *len = sizeof(*v4);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(cfg->port);
        *len = sizeof(*v6);
        return 0;
    }
    snprintf(err, 256, "invalid host '%s': an IPv4 or IPv6 address, or localhost", cfg->host);
    return -EINVAL;
}

static int open_listener(const struct sockaddr_storage *addr, socklen_t addr_len, int backlog,
                         bool reuseport, char *err)
{
    static const int one = 1;
    int fd = socket(addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        goto fail;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0)
        goto fail_close;
    if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0)
        goto fail_close;
    if (bind(fd, (const struct sockaddr *)addr, addr_len) != 0)
        goto fail_close;
    if (reuseport && listen(fd, backlog) != 0)
        goto fail_close;
    return fd;

fail_close:;
    int e = errno;
    close(fd);
    errno = e;
fail:
    snprintf(err, 256, "cannot listen: %s", strerror(errno));
    return -errno;
}

static void *worker_thread(void *arg)
{
    net_worker_run(arg);
    return NULL;
}

static int init_workers(struct net_worker *ws, unsigned n, const struct net_config *cfg,
                        const struct net_conn_ops *ops, void *ctx, char *err, unsigned *inited)
{
    for (unsigned i = 0; i < n; i++) {
        int rc = net_worker_init(&ws[i], i, cfg, ops, ctx, &net_socket_transport);
        if (rc) {
            snprintf(err, 256, "cannot create event loop: %s", strerror(-rc));
            return rc;
        }
        *inited = i + 1;
    }
    return 0;
}

static int start_workers(struct net_worker *ws, unsigned n, const struct net_config *cfg,
                         const struct sockaddr_storage *addr, socklen_t addr_len, char *err)
{
    int rc;
    for (unsigned i = 0; i < n; i++) {
        int fd = open_listener(addr, addr_len, cfg->backlog, true, err);
        if (fd < 0)
            return fd;
        rc = net_worker_listen(&ws[i], fd);
        if (rc) {
            snprintf(err, 256, "epoll_ctl: %s", strerror(-rc));
            return rc;
        }
    }
    for (unsigned i = 0; i < n; i++) {
        rc = pthread_create(&ws[i].thread, NULL, worker_thread, &ws[i]);
        if (rc) {
            snprintf(err, 256, "cannot start worker thread: %s", strerror(rc));
            for (unsigned j = 0; j < i; j++) {
                net_worker_wake(&ws[j]);
                pthread_join(ws[j].thread, NULL);
            }
            return -rc;
        }
    }
    return 0;
}

static void wait_for_stop_signal(const sigset_t *set)
{
    int sig;
    while (sigwait(set, &sig) != 0)
        ;
}

/* Serves with every worker's loop prepared: listeners, threads, the wait for a stop signal. */
static int serve(struct net_worker *ws, unsigned n, const struct net_config *cfg,
                 const struct net_server_hooks *hooks, const struct sockaddr_storage *addr,
                 socklen_t addr_len, char *err)
{
    sigset_t stop_set, old_set;
    sigemptyset(&stop_set);
    sigaddset(&stop_set, SIGINT);
    sigaddset(&stop_set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_set, &old_set); /* workers inherit the mask */
    int rc = start_workers(ws, n, cfg, addr, addr_len, err);
    if (rc == 0) {
        if (hooks && hooks->listening)
            hooks->listening(hooks->ud, cfg);
        wait_for_stop_signal(&stop_set);
        for (unsigned i = 0; i < n; i++)
            net_worker_wake(&ws[i]);
        for (unsigned i = 0; i < n; i++)
            pthread_join(ws[i].thread, NULL);
    }
    pthread_sigmask(SIG_SETMASK, &old_set, NULL);
    return rc;
}

int net_server_run(const struct net_config *cfg, const struct net_conn_ops *ops, void *ctx,
                   const struct net_server_hooks *hooks, char *err)
{
    struct sockaddr_storage addr;
    socklen_t addr_len;
    struct net_worker *ws;
    unsigned n = cfg->workers, inited = 0;
    int rc, probe;

    if (n == 0 || n > NET_MAX_WORKERS) {
        snprintf(err, 256, "workers must be 1..%d", NET_MAX_WORKERS);
        return -EINVAL;
    }
    rc = resolve(cfg, &addr, &addr_len, err);
    if (rc)
        return rc;
    probe = open_listener(&addr, addr_len, cfg->backlog, false, err); /* EADDRINUSE if held */
    if (probe < 0)
        return probe;
    close(probe);
    rc = net_conn_table_init(raise_fd_limit());
    if (rc) {
        snprintf(err, 256, "cannot map the connection table: %s", strerror(-rc));
        return rc;
    }
    ws = mem_calloc(MEM_LOOP, n, sizeof(*ws));
    if (!ws) {
        rc = -ENOMEM;
        snprintf(err, 256, "out of memory");
        goto fini_table;
    }
    obs_set_workers(n);
    signal(SIGPIPE, SIG_IGN);
    rc = init_workers(ws, n, cfg, ops, ctx, err, &inited);
    if (rc == 0 && hooks && hooks->prepare)
        rc = hooks->prepare(hooks->ud, ws, n, err);
    if (rc == 0) {
        rc = serve(ws, n, cfg, hooks, &addr, addr_len, err);
        if (hooks && hooks->finish)
            hooks->finish(hooks->ud, ws, n);
    }
    for (unsigned i = 0; i < inited; i++)
        net_worker_fini(&ws[i]);
    mem_free(MEM_LOOP, ws, n * sizeof(*ws));
fini_table:
    net_conn_table_fini();
    return rc;
}
