/* http/hub.h: publish to many tunnels (WebSockets, event streams) on every worker, one encoded
 * message shared by all their queues. A hub is process-wide; each worker that has members gets a
 * slot (its members' list and an inbox), created at its first join and woken by an eventfd when a
 * message is published, from any thread. */
#ifndef CREST_HTTP_HUB_H
#define CREST_HTTP_HUB_H

#include "http/tunnel.h"
#include "mem/mem.h"

struct http_hub;

/* NULL when out of memory. */
struct http_hub *http_hub_new(enum mem_tag tag);
/* Once no worker runs (after crest_serve returned). */
void http_hub_free(struct http_hub *h);
/* Makes t (already taken over, on its worker's thread) a member; a tunnel is in one hub at most.
 * 0, -EINVAL (not taken over yet), -EALREADY (in a hub), -ENOMEM, or an errno of eventfd. */
int http_hub_join(struct http_hub *h, struct http_tunnel *t);
/* Leaves its hub, if any (on its worker's thread). */
void http_hub_leave(struct http_tunnel *t);
/* Queues m (a reference each) for every worker that has members; their loops send it to each
 * member. Any thread. 0; -ENOBUFS (a worker's inbox already holds 1 MiB not yet delivered: its
 * members miss m) or -ENOMEM (some workers were not reached). */
int http_hub_publish(struct http_hub *h, struct http_msg *m);

#endif
