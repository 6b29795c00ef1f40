/* net/peer.c: the socket transport's answer to who the peer is, read when asked (getpeername)
 * rather than kept from accept: an idle connection stays 32 bytes, and only /debug routes ever
 * ask. Other transports answer through their own table (struct net_transport). */
#include "net/peer.h"

#include "net/worker.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
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

/* "a.b.c.d" and its NUL; its length. */
static size_t ipv4_text(const void *addr, char *out)
{
    const unsigned char *b = addr;
    size_t n = 0;
    for (int i = 0; i < 4; i++) {
        unsigned v = b[i];
        if (i)
            out[n++] = '.';
        if (v >= 100)
            out[n++] = (char)('0' + v / 100);
        if (v >= 10)
            out[n++] = (char)('0' + v / 10 % 10);
        out[n++] = (char)('0' + v % 10);
    }
    out[n] = '\0';
    return n;
}

static size_t socket_peer_name(const struct net_worker *w, const struct net_conn *c, char *out)
{
    struct sockaddr_storage ss = {0};
    socklen_t len = sizeof(ss);
    const void *addr;
    int family;

    (void)w;
    out[0] = '\0';
    if (getpeername(c->fd, (struct sockaddr *)&ss, &len) != 0)
        return 0;
    family = ss.ss_family;
    if (family == AF_INET) {
        addr = &((const struct sockaddr_in *)&ss)->sin_addr;
    } else if (family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)&ss)->sin6_addr;
        addr = a;
        if (IN6_IS_ADDR_V4MAPPED(a)) { /* a dual-stack listener's IPv4 client: say it as such */
            family = AF_INET;
            addr = &a->s6_addr[12];
        }
    } else {
        return 0;
    }
    if (family == AF_INET) /* by hand: glibc's inet_ntop formats IPv4 with sprintf */
        return ipv4_text(addr, out);
    if (!inet_ntop(family, addr, out, NET_PEER_NAME_LEN))
        return 0;
    return strlen(out);
}

const struct net_transport net_socket_transport = {.from_loopback = socket_from_loopback,
                                                   .peer_name = socket_peer_name};

bool net_conn_from_loopback(const struct net_worker *w, const struct net_conn *c)
{
    return w->transport->from_loopback(w, c);
}

size_t net_conn_peer_name(const struct net_worker *w, const struct net_conn *c,
                          char out[NET_PEER_NAME_LEN])
{
    if (w->transport->peer_name)
        return w->transport->peer_name(w, c, out);
    if (w->transport->from_loopback(w, c)) {
        memcpy(out, "127.0.0.1", 10);
        return 9;
    }
    out[0] = '\0';
    return 0;
}
