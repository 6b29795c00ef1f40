/* net/peer.c: the socket transport's answer to who the peer is, read when asked (getpeername)
 * rather than kept from accept: an idle connection stays 32 bytes, and only /debug routes ever
 * ask. Other transports answer through their own table (struct net_transport). */
#include "net/peer.h"

#include "net/worker.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

static bool socket_from_loopback(const struct net_worker *w, const struct net_conn *c)
{
    struct sockaddr_storage ss = {0}; /* zeroed for analyzers that do not model getpeername */
    socklen_t len = sizeof(ss);

    (void)w;
    if (getpeername(c->fd, (struct sockaddr *)&ss, &len) != 0)
        return false;
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)&ss;
        return (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
    }
    if (ss.ss_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)&ss)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
    }
    return false;
}

const struct net_transport net_socket_transport = {.from_loopback = socket_from_loopback};

bool net_conn_from_loopback(const struct net_worker *w, const struct net_conn *c)
{
    return w->transport->from_loopback(w, c);
}
