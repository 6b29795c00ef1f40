/* cli/flags.h: the crest command line: flags, environment variables, their checks. */
#ifndef CREST_CLI_FLAGS_H
#define CREST_CLI_FLAGS_H

#include "crest.h"
#include "items/items.h"

#include <stdio.h>

/* What the command line sets, each part for its owner. Strings point into argv or the
 * environment, so they live as long as the process. */
struct cli_options {
    struct crest_config server; /* the engine's: what crest_serve reads */
    struct items_config items;  /* the items service's store: --db, --db-pool, --db-timeout, ... */
    const char *debug_token;    /* for crest_app_add_debug_routes; NULL: loopback clients only */
    const char *docs_dir;       /* assets of /docs and /redoc; NULL: the build's */
    bool no_docs;               /* /docs and /redoc off (404); /openapi.json stays */
    const char *static_dir;     /* served at /static (crest_app_add_static), or NULL */
    const char *cors_origins;   /* comma-separated, or "*": CORS on (crest_app_add_cors) */
    bool cors_credentials;
    /* built-in middleware (issue 16): compression, rate limit, proxies, request IDs */
    uint32_t gzip_min_size; /* --gzip-min-size: gzip on for bodies of at least this; 0 off */
    double rate_limit;      /* --rate-limit: requests per second per client; 0 off */
    const char
        *forwarded_allow_ips; /* --forwarded-allow-ips: trusted proxies (default 127.0.0.1) */
    bool proxy_headers;       /* --proxy-headers: believe them (crest_app_trust_proxies) */
    bool request_id;          /* --request-id: X-Request-ID kept or made, echoed, logged */
    const char *api_key_file; /* keys for item writes, one per line (cli/main.c reads it) */
};

enum cli_command {
    CLI_SERVE,
    CLI_HELP,
    CLI_VERSION,
    CLI_MEM, /* crest mem URL ...: the arguments are cli/mem.c's to parse */
};

/* Parses argv (and HOST, PORT, CREST_WORKERS, CREST_MEMORY_LIMIT, CREST_DEBUG_TOKEN,
 * DATABASE_URL, CREST_GZIP_MIN_SIZE, CREST_RATE_LIMIT, FORWARDED_ALLOW_IPS, CREST_PROXY_HEADERS;
 * flags win) into opts, over the defaults of each part. On a bad flag or value,
 * writes one line naming it into err and returns -EINVAL (the caller exits 2). */
int cli_parse(int argc, char **argv, struct cli_options *opts, enum cli_command *cmd, char *err);

void cli_usage(FILE *out);

#endif
