/* net/peer.h: who is on the other end of a connection, for routes only local clients may see, and
 * the socket transport that answers it for connections a worker accepted. */
#ifndef CREST_NET_PEER_H
#define CREST_NET_PEER_H

#include "net/conn.h"

#include <stdbool.h>

/* Sockets: the peer's address is a loopback one (127.0.0.0/8, ::1, ::ffff:127.0.0.0/104); a peer
 * that cannot be read (getpeername failing) is not local. One system call: not for every
 * request. */
extern const struct net_transport net_socket_transport;

/* Whether c's peer is this host, as w's transport (net_worker_init) answers it. */
bool net_conn_from_loopback(const struct net_worker *w, const struct net_conn *c);

#endif
