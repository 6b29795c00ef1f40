/* req/req.h: the request a handler reads and the response it writes. struct crest_req is the
 * HTTP request plus what routing and validation found; request.c reads it (crest_req_*,
 * crest_path_*, crest_param_*), response.c writes the answer (crest_res_*, and the 503/500 that
 * replace a response that could not be built), query.c decodes query parameters and scalar.c
 * turns parameter text into typed values. Below validation and dispatch: it calls neither. */
#ifndef CREST_REQ_REQ_H
#define CREST_REQ_REQ_H

#include "crest.h"
#include "http/request.h"
#include "route/route.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { REQ_MAX_VALUES = 16 };

/* A validated path or query parameter. */
struct req_value {
    const char *name;
    uint8_t type; /* enum crest_type */
    bool has;     /* present or defaulted */
    bool b;
    int64_t i;
    double d; /* also set for integers, so crest_param_number reads either */
    struct crest_str s;
};

/* A value crest_req_set attached (arena storage, listed from the newest). */
struct req_state {
    const char *key;
    void *value;
    struct req_state *next;
};

struct crest_req {
    struct http_request http; /* first: http hands us a struct http_request * */
    struct route_match match;
    struct req_state *state;
    uint16_t hook_next;      /* position of the next hook's before in the request's chain */
    uint16_t hook_entered;   /* hooks reached: their after hooks run on the way out */
    bool routed;             /* past routing: positions from here are the route's hooks */
    bool matched;            /* match was found when the head arrived (app_dispatch_plan) */
    bool in_hook;            /* a before hook is running (crest_req_next then only marks) */
    bool next_called;        /* crest_req_next came during the hook: go on when it returns */
    struct crest_json *json; /* the body writer, once crest_res_json was called */
    /* The client's address: set by the trusted-proxies hook (mw/proxy.c) from Forwarded or
     * X-Forwarded-For, else the peer the session read at the first crest_req_client. */
    struct crest_str client;
    struct crest_str request_id; /* set by the request-ID hook (mw/request_id.c), or {NULL, 0} */
    const struct crest_json_value *body_json; /* validated body, when the route has a schema */
    void *body_model;  /* the body bound to the route's body model (valid/bind.c), or NULL */
    void *query_model; /* the query bound to the route's query model, or NULL */
    uint8_t n_values;
    struct req_value values[REQ_MAX_VALUES];
};

/* req/request.c: the index of the worker running req (0 in the test client). */
unsigned req_request_worker_id(const struct crest_req *req);
/* req/multipart.c: the multipart/form-data parser behind crest_multipart_* (RFC 7578), driven by
 * (state, bytes) alone so tests and the fuzzer need no request. */
struct crest_multipart {
    struct crest_multipart_config cfg; /* defaults applied */
    char delim[4 + 70];                /* CRLF "--" boundary */
    uint8_t delim_len;
    uint8_t matched; /* bytes of delim matched so far (held back from the part's data) */
    uint8_t state;   /* private: enum mp_state */
    bool in_part;    /* between a part's begin and end callbacks */
    char *hbuf;      /* the current part's header section, cfg.max_header_bytes */
    uint32_t hlen;
    uint32_t n_parts;
    uint64_t part_bytes;
    struct crest_part part; /* name, filename, content_type point into hbuf */
    int err;                /* sticky */
    const char *error;
};

/* The boundary of a Content-Type "multipart/form-data; boundary=..." (RFC 2046 5.1.1: 1 to 70
 * bchars), unquoted into copy (cap bytes) that *out then points into. 0, -EINVAL. */
int req_multipart_boundary(struct crest_str content_type, char *copy, size_t cap,
                           struct crest_str *out);
/* The header buffer a parser with cfg needs (its max_header_bytes, or the default). */
uint32_t req_multipart_header_bytes(const struct crest_multipart_config *cfg);
/* Starts a parser for boundary (copied) with cfg (copied, defaults filled in) and hbuf
 * (req_multipart_header_bytes(cfg) bytes, which must outlive it). */
void req_multipart_init(struct crest_multipart *mp, struct crest_str boundary,
                        const struct crest_multipart_config *cfg, char *hbuf);
/* As crest_multipart_feed and crest_multipart_finish. */
int req_multipart_feed(struct crest_multipart *mp, const char *buf, size_t len);
int req_multipart_finish(struct crest_multipart *mp);

/* req/query.c: a query parameter's value decoded as FastAPI reads it (malformed escapes kept as
 * sent). 0, -ENOENT, -ENOMEM. */
int req_query_param(struct crest_req *req, const char *name, struct crest_str *out);

/* req/request.c: whether the client (crest_req_client: behind trusted proxies, the address they
 * name) is this host: 127.0.0.0/8, ::1 or ::ffff:127.0.0.0/104. */
bool req_request_from_loopback(struct crest_req *req);
/* req/cookie.c: the value of the cookie name in a Cookie header's text, quotes removed, pointing
 * into it; {NULL, 0} when absent. */
struct crest_str req_cookie_find(struct crest_str header, const char *name, size_t name_len);

/* req/response.c: answers 503 for memory refused (the budget or malloc), with Retry-After and a
 * close. */
void req_response_oom(struct crest_req *req);

/* req/response.c: replaces a response whose JSON body failed to write (out of memory, writer
 * misuse) with a 503 or 500, so a truncated body is never sent. */
void req_response_check_body(struct crest_req *req);

/* req/scalar.c: text → typed value for path and query parameters, with FastAPI's leniency where
 * it has one (booleans) and strictness elsewhere (no whitespace, no trailing bytes). */

/* Optional sign and decimal digits. 0, -EINVAL, -ERANGE (outside int64). */
int req_scalar_int64(const char *s, size_t len, int64_t *out);
/* A decimal or exponent number as strtod reads it, whole. 0, -EINVAL, -ERANGE (overflow). */
int req_scalar_double(const char *s, size_t len, double *out);
/* pydantic's words: 1/0, true/false, t/f, yes/no, y/n, on/off, any case. 0, -EINVAL. */
int req_scalar_bool(const char *s, size_t len, bool *out);

#endif
