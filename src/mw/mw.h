/* mw/mw.h: the parts of the built-in middleware that are plain functions of bytes, so that unit
 * tests reach them without a server: Accept-Encoding negotiation (mw/gzip.c), the token buckets'
 * table (mw/rate.c), trusted proxy lists and Forwarded / X-Forwarded-For (mw/proxy.c), request
 * IDs (mw/request_id.c). Each hook that uses them is in the same file, on the app's public hooks.
 */
#ifndef CREST_MW_MW_H
#define CREST_MW_MW_H

#include "crest.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- mw/gzip.c ---- */

enum mw_gzip_coding {
    MW_GZIP_IDENTITY, /* send the body as it is */
    MW_GZIP_GZIP,
    MW_GZIP_DEFLATE,      /* "deflate": the zlib format (RFC 9110 8.4.1.2) */
    MW_GZIP_UNACCEPTABLE, /* identity refused and nothing else acceptable: 406 */
};

enum { MW_GZIP_MAX_CODINGS = 64 }; /* list members read; the rest of a longer header is ignored */

/* The coding to answer with under the Accept-Encoding value ae (RFC 9110 12.5.3): {NULL, 0} when
 * the request has none (identity). The highest weight wins among gzip (x-gzip), deflate (when
 * allow_deflate) and "*"; weight 0 refuses; identity is least preferred unless listed with a
 * higher weight; a member with a malformed weight or parameter is ignored. */
enum mw_gzip_coding mw_gzip_choose(struct crest_str ae, bool allow_deflate);

/* ---- mw/rate.c ---- */

enum {
    MW_RATE_WAYS = 8,   /* keys per set: a new key evicts within its set only */
    MW_RATE_LOCKS = 64, /* lock stripes: workers contend only when keys share a stripe */
};

struct mw_rate_entry {
    uint64_t key;      /* a seeded hash of the key; 0: empty */
    uint64_t stamp_us; /* when tokens was last brought up to date */
    double tokens;
};

/* A fixed number of token buckets shared by all workers (a client's connections land on any
 * worker, so a per-worker table would grant it workers x the rate). */
struct mw_rate_table {
    struct mw_rate_entry *slots; /* n_sets * MW_RATE_WAYS, MEM_RATE */
    uint32_t n_sets;             /* a power of two */
    double per_us;               /* tokens added per microsecond */
    double burst;                /* capacity */
    uint64_t seed;
    pthread_mutex_t locks[MW_RATE_LOCKS];
};

/* max_keys rounded up to whole sets of a power-of-two count. 0, -EINVAL, -ENOMEM. */
int mw_rate_table_init(struct mw_rate_table *t, uint32_t max_keys, double rate_per_s, double burst);
void mw_rate_table_fini(struct mw_rate_table *t);
size_t mw_rate_table_bytes(const struct mw_rate_table *t);

struct mw_rate_verdict {
    bool allowed;
    uint32_t remaining;      /* whole tokens left after this request */
    uint32_t retry_after_ms; /* refused: until one token is back */
    uint32_t full_in_ms;     /* until the bucket is full again */
};

/* Takes a token from key's bucket at now_us (a monotonic clock). A key not in the table evicts
 * the entry of its set that holds the most tokens once refilled (a full bucket carries no
 * information: forgetting it changes nothing), else starts full. */
struct mw_rate_verdict mw_rate_take(struct mw_rate_table *t, const void *key, size_t len,
                                    uint64_t now_us);

/* ---- mw/proxy.c ---- */

enum { MW_PROXY_MAX_NETS = 64, MW_PROXY_MAX_HOPS = 32, MW_PROXY_ADDR_LEN = 46 };

struct mw_proxy_net {
    uint8_t len;    /* 4 or 16 bytes */
    uint8_t prefix; /* bits */
    uint8_t addr[16];
};

struct mw_proxy_list {
    bool any; /* "*": every peer is a proxy (uvicorn's --forwarded-allow-ips='*') */
    uint16_t n;
    struct mw_proxy_net nets[MW_PROXY_MAX_NETS];
};

/* "127.0.0.1, 10.0.0.0/8, ::1, fd00::/8" or "*": exact addresses and CIDRs, comma- or
 * space-separated. 0, or -EINVAL naming nothing (a bad entry, or more than MW_PROXY_MAX_NETS). */
int mw_proxy_parse_list(const char *text, struct mw_proxy_list *out);

/* Whether the address text (IPv4, IPv6) is in the list. */
bool mw_proxy_trusted(const struct mw_proxy_list *l, const char *addr, size_t len);

/* The client the proxy headers name, seen from a trusted peer: the nearest address from the right
 * of the chain that is not a trusted proxy (the leftmost when all are, or with "*"). Forwarded
 * (RFC 7239, its for= parameters) when present, else X-Forwarded-For. Writes the address as
 * canonical text to out and returns its length; 0 when the headers are absent or malformed (an
 * unparsable node, "unknown" or an obfuscated one, more than MW_PROXY_MAX_HOPS members), which
 * leaves the peer as the client. */
size_t mw_proxy_client(const struct mw_proxy_list *l, struct crest_str forwarded,
                       struct crest_str xff, char out[MW_PROXY_ADDR_LEN]);

/* ---- mw/request_id.c ---- */

enum { MW_REQUEST_ID_MAX = 128 };

/* Whether an X-Request-ID the client sent may be kept: 1..MW_REQUEST_ID_MAX bytes of letters,
 * digits and - _ . : + / = @ (nothing a log line or a header could be split or spoofed with). */
bool mw_request_id_valid(struct crest_str id);

/* Writes a new ID (a random UUID version 4, 36 characters, and its NUL) to out. */
void mw_request_id_new(char out[37]);

#endif
