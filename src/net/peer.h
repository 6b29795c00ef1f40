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

enum { NET_PEER_NAME_LEN = 46 }; /* INET6_ADDRSTRLEN: "ffff:...:255.255.255.255" and its NUL */

/* The address of c's peer as text ("192.0.2.1", "2001:db8::1"; an IPv4-mapped IPv6 peer as its
 * IPv4 address), written to out with its NUL; its length, or 0 when it cannot be read. A
 * transport without an address of its own (the test client's memory) answers "127.0.0.1" when
 * it is local. One system call: read it once per request at most. */
size_t net_conn_peer_name(const struct net_worker *w, const struct net_conn *c,
                          char out[NET_PEER_NAME_LEN]);

#endif
