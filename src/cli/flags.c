/* cli/flags.c: the crest binary's command line. The engine's flags and their parsing are
 * crest_config_args's, as for any application on crest; this file adds the flags of the items
 * service (--db, --db-pool, ...) and of the binary's own parts (the debug token, the docs, CORS,
 * the built-in middleware, API keys), each writing the field of struct cli_options its owner
 * reads, and the few values crest_config_args has no kind for (on|off, a rate). */
#include "flags.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Values read as text or into a wider type, checked after parsing. */
struct raw {
    const char *pipeline; /* --db-pipeline on|off */
    const char *rate;     /* --rate-limit N/s */
    uint64_t gzip;        /* --gzip-min-size, at most UINT32_MAX */
};

#define N_ARGS 16

static void cli_args(struct cli_options *o, struct raw *r, struct crest_arg a[N_ARGS])
{
    const struct crest_arg args[N_ARGS] = {
        {"--db", CREST_ARG_STRING, &o->items.url, "DATABASE_URL",
         "SQLite database path, or postgresql://user:password@host:port/dbname (default "
         "./crest.db)"},
        {"--db-pool", CREST_ARG_COUNT, &o->items.pool, NULL,
         "PostgreSQL connections per worker, 1..64 (default 2)"},
        {"--db-timeout", CREST_ARG_SECONDS, &o->items.timeout_ms, NULL,
         "a query still running after SECONDS is cancelled, 503 (default 5)"},
        {"--db-pipeline", CREST_ARG_STRING, &r->pipeline, NULL,
         "PostgreSQL pipeline mode: on or off (default on)"},
        {"--debug-token", CREST_ARG_STRING, &o->debug_token, "CREST_DEBUG_TOKEN",
         "/debug/* answer only Authorization: Bearer TOKEN, from any address (default: loopback "
         "clients only)"},
        {"--docs-dir", CREST_ARG_STRING, &o->docs_dir, NULL,
         "Swagger UI and ReDoc assets for /docs and /redoc (default: the build's, else the "
         "installed)"},
        {"--no-docs", CREST_ARG_SWITCH, &o->no_docs, NULL,
         "no /docs and /redoc (/openapi.json stays)"},
        {"--cors-allow-origins", CREST_ARG_STRING, &o->cors_origins, "CREST_CORS_ALLOW_ORIGINS",
         "CORS for these origins, comma-separated, or *"},
        {"--cors-allow-credentials", CREST_ARG_SWITCH, &o->cors_credentials, NULL,
         "CORS: cookies and Authorization may go with cross-origin requests"},
        {"--static", CREST_ARG_STRING, &o->static_dir, "CREST_STATIC",
         "serve the files below DIR at /static/... (ETag, ranges, sendfile)"},
        /* built-in middleware (issue 16), uvicorn's names where it has them */
        {"--gzip-min-size", CREST_ARG_BYTES, &r->gzip, "CREST_GZIP_MIN_SIZE",
         "gzip response bodies of at least BYTES when the client accepts it (default off)"},
        {"--rate-limit", CREST_ARG_STRING, &r->rate, "CREST_RATE_LIMIT",
         "at most N/s requests per client address (or N/m), 429 past it (default off)"},
        {"--proxy-headers", CREST_ARG_SWITCH, &o->proxy_headers, "CREST_PROXY_HEADERS",
         "take the client from Forwarded / X-Forwarded-For sent by --forwarded-allow-ips"},
        {"--forwarded-allow-ips", CREST_ARG_STRING, &o->forwarded_allow_ips, "FORWARDED_ALLOW_IPS",
         "proxies trusted with --proxy-headers: IPs, CIDRs or * (default "
         "127.0.0.1)"},
        {"--request-id", CREST_ARG_SWITCH, &o->request_id, NULL,
         "keep the client's X-Request-ID (or make one), echo it, log it (default off)"},
        /* authentication (issue 16) */
        {"--api-key-file", CREST_ARG_STRING, &o->api_key_file, "CREST_API_KEY_FILE",
         "item writes need Authorization: Bearer KEY, a line of PATH, read at start; reads "
         "stay open"},
    };
    memcpy(a, args, sizeof(args));
}

void cli_usage(FILE *out)
{
    struct cli_options o;
    struct raw r;
    struct crest_arg args[N_ARGS];
    cli_args(&o, &r, args);
    fprintf(out, "usage: crest serve [options]\n"
                 "       crest mem URL [--diff] [--snapshot] [--token TOKEN]\n"
                 "       crest --help | --version\n\n"
                 "Serves the crest items API and built-in routes over HTTP/1.1.\n\noptions:\n");
    crest_config_usage(out, args, N_ARGS);
}

/* "100/s", "600/m" or "100": requests per second, > 0 and at most a million. */
static int parse_rate(const char *s, double *out)
{
    char *end;
    if (!*s || *s == '-' || *s == '+' || *s == ' ')
        return -EINVAL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || !isfinite(v) || v <= 0)
        return -EINVAL;
    if (strcmp(end, "/m") == 0 || strcmp(end, "/min") == 0)
        v /= 60;
    else if (*end && strcmp(end, "/s") != 0)
        return -EINVAL;
    if (v > 1e6)
        return -EINVAL;
    *out = v;
    return 0;
}

/* A value crest_config_args read as text or wider and this file checks: the refusal names the
 * environment variable when the value came from it (the same string: crest_config_args keeps
 * getenv's pointer), else the flag. */
static int refuse(char *err, const char *flag, const char *env, const char *value)
{
    const char *from_env = getenv(env);
    if (from_env && from_env == value)
        snprintf(err, CREST_ERR_LEN, "crest: invalid value for environment variable %s: '%s'", env,
                 value);
    else
        snprintf(err, CREST_ERR_LEN, "crest: invalid value for %s: '%s'", flag, value);
    return -EINVAL;
}

static int check_raw(const struct raw *r, struct cli_options *o, char *err)
{
    if (r->pipeline && strcmp(r->pipeline, "on") != 0 && strcmp(r->pipeline, "off") != 0)
        return refuse(err, "--db-pipeline", "", r->pipeline);
    o->items.no_pipeline = r->pipeline && strcmp(r->pipeline, "off") == 0;
    if (r->rate && parse_rate(r->rate, &o->rate_limit) != 0)
        return refuse(err, "--rate-limit", "CREST_RATE_LIMIT", r->rate);
    if (r->gzip > UINT32_MAX)
        return snprintf(err, CREST_ERR_LEN,
                        "crest: invalid value for --gzip-min-size (or CREST_GZIP_MIN_SIZE): at "
                        "most 4G"),
               -EINVAL;
    o->gzip_min_size = (uint32_t)r->gzip;
    return 0;
}

int cli_parse(int argc, char **argv, struct cli_options *opts, enum cli_command *cmd, char *err)
{
    memset(opts, 0, sizeof(*opts));
    crest_config_defaults(&opts->server);
    items_config_defaults(&opts->items);
    if (argc < 2) {
        snprintf(err, CREST_ERR_LEN, "crest: missing command (try: crest serve, crest --help)");
        return -EINVAL;
    }
    const char *a = argv[1];
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0 || strcmp(a, "help") == 0) {
        *cmd = CLI_HELP;
        return 0;
    }
    if (strcmp(a, "--version") == 0 || strcmp(a, "-V") == 0 || strcmp(a, "version") == 0) {
        *cmd = CLI_VERSION;
        return 0;
    }
    if (strcmp(a, "mem") == 0) {
        *cmd = CLI_MEM;
        return 0;
    }
    if (strcmp(a, "serve") != 0) {
        snprintf(err, CREST_ERR_LEN, "crest: unknown command '%s' (try: crest --help)", a);
        return -EINVAL;
    }
    *cmd = CLI_SERVE;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            *cmd = CLI_HELP;
            return 0;
        }
    }
    struct raw r = {0};
    struct crest_arg args[N_ARGS];
    char why[CREST_ERR_LEN];
    cli_args(opts, &r, args);
    if (crest_config_args(&opts->server, argc - 1, argv + 1, args, N_ARGS, why) != 0)
        return snprintf(err, CREST_ERR_LEN, "crest: %.240s", why), -EINVAL;
    return check_raw(&r, opts, err);
}
