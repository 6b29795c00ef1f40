/* http/host.h: the grammar of a Host field value (RFC 9110 7.2, RFC 9112 3.2), checked byte by
 * byte with no allocation. The parser answers 400 and closes the connection when it fails. */
#ifndef CREST_HTTP_HOST_H
#define CREST_HTTP_HOST_H

#include <stdbool.h>
#include <stdint.h>

/* Whether v[0..len) is Host = uri-host [ ":" port ], with uri-host = IP-literal / IPv4address /
 * reg-name and port = *DIGIT (RFC 3986 3.2.2, 3.2.3). An empty value is valid: RFC 9112 3.2 has
 * a client send one when the target URI has no authority. */
bool http_host_is_valid(const char *v, uint32_t len);

#endif
