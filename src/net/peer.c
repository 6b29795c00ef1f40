/* net/peer.c: the peer address of a connection, read when asked (getpeername) rather than kept
 * from accept: an idle connection stays 32 bytes, and only /debug routes ever ask. */
#include "net/peer.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

bool net_conn_from_loopback(const struct net_conn *c)
{
    struct sockaddr_storage ss = {0}; /* zeroed for analyzers that do not model getpeername */
    socklen_t len = sizeof(ss);

    if (c->fd < 0)
        return true; /* the in-process test client: the caller is this very process */
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
