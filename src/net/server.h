/* net/server.h: starts the workers (one SO_REUSEPORT listener and thread each), waits for SIGTERM
 * or SIGINT, drains them and returns. */
#ifndef CREST_NET_SERVER_H
#define CREST_NET_SERVER_H

#include "net/worker.h"

/* What the caller does at each stage of a server's life; any may be NULL. */
struct net_server_hooks {
    /* Every worker's loop exists and no thread runs yet: sets each worker's app_data (per-worker
     * state that may register its own fds and timers in the worker's loop). 0, or a negative
     * errno with a sentence in err, which stops the server before it listens. */
    int (*prepare)(void *ud, struct net_worker *ws, unsigned n, char *err);
    /* Every worker listens (the startup report goes here). */
    void (*listening)(void *ud, const struct net_config *cfg);
    /* The workers stopped (their threads joined, their loops not yet closed): releases what
     * prepare set up. Runs whenever prepare succeeded. */
    void (*finish)(void *ud, struct net_worker *ws, unsigned n);
    void *ud;
};

/* Blocks until a graceful stop. 0, or a negative errno with a sentence in err (CREST_ERR_LEN). */
int net_server_run(const struct net_config *cfg, const struct net_conn_ops *ops, void *ctx,
                   const struct net_server_hooks *hooks, char *err);

#endif
