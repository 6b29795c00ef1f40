/* net/peer.h: who is on the other end of a connection, for routes only local clients may see. */
#ifndef CREST_NET_PEER_H
#define CREST_NET_PEER_H

#include "net/conn.h"

#include <stdbool.h>

/* Whether the peer's address is a loopback one (127.0.0.0/8, ::1, ::ffff:127.0.0.0/104). A
 * connection without a socket (fd -1: the in-process test client) counts as local; a peer that
 * cannot be read (getpeername failing) does not. One system call: not for every request. */
bool net_conn_from_loopback(const struct net_conn *c);

#endif
