/* net/server.h: starts the workers (one SO_REUSEPORT listener and thread each), waits for SIGTERM
 * or SIGINT, drains them and returns. */
#ifndef CREST_NET_SERVER_H
#define CREST_NET_SERVER_H

#include "net/worker.h"

/* Called once every worker listens (the startup report goes here). */
typedef void (*net_listening_fn)(void *ud, const struct net_config *cfg);

/* Blocks until a graceful stop. app_data[i] becomes worker i's app_data. 0, or a negative errno
 * with a sentence in err (CREST_ERR_LEN). */
int net_server_run(const struct net_config *cfg, const struct net_conn_ops *ops, void *ctx,
                   void **app_data, net_listening_fn on_listening, void *ud, char *err);

#endif
