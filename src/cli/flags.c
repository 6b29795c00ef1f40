/* cli/flags.c: a table of flags, each with a parser for its value. Names follow uvicorn where it
 * has one (--host, --port, --workers, --backlog, --timeout-keep-alive,
 * --timeout-graceful-shutdown), so a FastAPI user's command line mostly carries over. Each flag
 * writes the field of struct cli_options that its owner reads: the engine's (server), the items
 * service's (items), or the binary's own (the debug token, the docs). */
#include "flags.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum value_kind {
    V_STRING,
    V_PORT,
    V_COUNT,      /* 1..UINT32_MAX */
    V_SECONDS,    /* decimal seconds → milliseconds */
    V_BYTES,      /* 1024, 16K, 1M, 1G */
    V_BYTES64,    /* the same, into a uint64_t */
    V_INTERVAL,   /* V_SECONDS, or with an "s" suffix: 10s, 0.5s */
    V_LOG_FORMAT, /* text | json */
    V_OFF_SWITCH, /* on | off, stored as "off" (a bool that defaults to false) */
    V_SWITCH,     /* takes no value */
    V_RATE,       /* N/s, N/m or N: requests per second, as a double */
};

struct flag {
    const char *name;
    enum value_kind kind;
    size_t offset; /* into struct cli_options */
    const char *help;
};

#define SERVER(field) offsetof(struct cli_options, server.field)
#define ITEMS(field) offsetof(struct cli_options, items.field)
#define OPT(field) offsetof(struct cli_options, field)

static const struct flag flags[] = {
    {"--host", V_STRING, SERVER(host), "address to listen on (default 0.0.0.0; env HOST)"},
    {"--port", V_PORT, SERVER(port), "port to listen on (default 8080; env PORT)"},
    {"--workers", V_COUNT, SERVER(workers),
     "worker threads (default: online CPUs; env CREST_WORKERS)"},
    {"--db", V_STRING, ITEMS(url),
     "SQLite database path, or postgresql://user:password@host:port/dbname (default ./crest.db; "
     "env DATABASE_URL)"},
    {"--db-pool", V_COUNT, ITEMS(pool), "PostgreSQL connections per worker, 1..64 (default 2)"},
    {"--db-timeout", V_SECONDS, ITEMS(timeout_ms),
     "a PostgreSQL query still running after SECONDS is cancelled, 503 (default 5)"},
    {"--db-pipeline", V_OFF_SWITCH, ITEMS(no_pipeline),
     "PostgreSQL pipeline mode: on or off (default on)"},
    {"--backlog", V_COUNT, SERVER(backlog), "listen backlog (default 2048)"},
    {"--timeout-keep-alive", V_SECONDS, SERVER(keepalive_timeout_ms),
     "close idle keep-alive connections after SECONDS (default 5)"},
    {"--timeout-header", V_SECONDS, SERVER(header_timeout_ms),
     "request line and headers must arrive within SECONDS, else 408 (default 10)"},
    {"--timeout-body", V_SECONDS, SERVER(body_timeout_ms),
     "max SECONDS between body reads or response writes (default 30)"},
    {"--timeout-graceful-shutdown", V_SECONDS, SERVER(shutdown_timeout_ms),
     "on SIGTERM/SIGINT, drain for at most SECONDS (default 10)"},
    {"--max-head-bytes", V_BYTES, SERVER(max_head_bytes),
     "request line + headers limit (default 16K; 414/431 past it)"},
    {"--max-headers", V_COUNT, SERVER(max_headers), "header count limit (default 100; 431)"},
    {"--max-body-bytes", V_BYTES, SERVER(max_body_bytes), "request body limit (default 1M; 413)"},
    {"--quiet", V_SWITCH, SERVER(quiet), "no startup report"},
    {"--memory-limit", V_BYTES64, SERVER(memory_limit_bytes),
     "memory budget, e.g. 64M: past it requests get 503 (default none; env CREST_MEMORY_LIMIT)"},
    {"--log-memory", V_INTERVAL, SERVER(log_memory_ms),
     "print a [memory] line (RSS, tracked, top tags) every SECONDS (default off)"},
    {"--access-log", V_SWITCH, SERVER(access_log), "one line per response on stdout (default off)"},
    {"--log-format", V_LOG_FORMAT, SERVER(log_format),
     "access log lines: text or json (default text)"},
    {"--debug-token", V_STRING, OPT(debug_token),
     "/debug/* answer only Authorization: Bearer TOKEN, from any address (default: loopback "
     "clients only; env CREST_DEBUG_TOKEN)"},
    {"--docs-dir", V_STRING, OPT(docs_dir),
     "Swagger UI and ReDoc assets for /docs and /redoc (default: the build's, else the installed)"},
    {"--no-docs", V_SWITCH, OPT(no_docs), "no /docs and /redoc (/openapi.json stays)"},
    {"--cors-allow-origins", V_STRING, OPT(cors_origins),
     "CORS for these origins, comma-separated, or * (env CREST_CORS_ALLOW_ORIGINS)"},
    {"--cors-allow-credentials", V_SWITCH, OPT(cors_credentials),
     "CORS: cookies and Authorization may go with cross-origin requests"},
    {"--static", V_STRING, OPT(static_dir),
     "serve the files below DIR at /static/... (ETag, ranges, sendfile; env CREST_STATIC)"},
    /* built-in middleware (issue 16), uvicorn's names where it has them */
    {"--gzip-min-size", V_BYTES, OPT(gzip_min_size),
     "gzip response bodies of at least BYTES when the client accepts it (default off; env "
     "CREST_GZIP_MIN_SIZE)"},
    {"--rate-limit", V_RATE, OPT(rate_limit),
     "at most N/s requests per client address (or N/m), 429 past it (default off; env "
     "CREST_RATE_LIMIT)"},
    {"--proxy-headers", V_SWITCH, OPT(proxy_headers),
     "take the client from Forwarded / X-Forwarded-For sent by --forwarded-allow-ips (env "
     "CREST_PROXY_HEADERS=1)"},
    {"--forwarded-allow-ips", V_STRING, OPT(forwarded_allow_ips),
     "proxies trusted with --proxy-headers: IPs, CIDRs or * (default 127.0.0.1; env "
     "FORWARDED_ALLOW_IPS)"},
    {"--request-id", V_SWITCH, OPT(request_id),
     "keep the client's X-Request-ID (or make one), echo it, log it (default off)"},
    /* authentication (issue 16) */
    {"--api-key-file", V_STRING, OPT(api_key_file),
     "item writes need Authorization: Bearer KEY, a line of PATH, read at start; reads stay "
     "open (env CREST_API_KEY_FILE)"},
};

void cli_usage(FILE *out)
{
    fprintf(out, "usage: crest serve [options]\n"
                 "       crest mem URL [--diff] [--snapshot] [--token TOKEN]\n"
                 "       crest --help | --version\n\n"
                 "Serves the crest items API and built-in routes over HTTP/1.1.\n\noptions:\n");
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
        fprintf(out, "  %-30s %s\n", flags[i].name, flags[i].help);
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    char *end;
    if (!*s || *s == '-' || *s == '+' || *s == ' ')
        return -EINVAL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > max)
        return -EINVAL;
    *out = v;
    return 0;
}

/* A count of bytes up to max, with an optional K, M or G suffix (binary: 1K is 1024). */
static int parse_bytes(const char *s, uint64_t max, uint64_t *out)
{
    char *end;
    if (!*s || *s == '-' || *s == '+')
        return -EINVAL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    unsigned shift = 0;
    if (errno || end == s)
        return -EINVAL;
    if (*end) {
        const char *units = "KMG";
        const char *u = strchr(units, *end & ~0x20);
        if (!u || end[1])
            return -EINVAL;
        shift = 10 * (unsigned)(u - units + 1);
    }
    if (v == 0 || v > (max >> shift))
        return -EINVAL;
    *out = v << shift;
    return 0;
}

static int parse_seconds(const char *s, uint32_t *ms)
{
    char *end;
    if (!*s || *s == '-' || *s == '+' || *s == ' ')
        return -EINVAL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v) || v <= 0 || v > 86400)
        return -EINVAL;
    *ms = (uint32_t)ceil(v * 1000);
    return 0;
}

/* As the issue writes it ("--log-memory 10s"); the timeouts keep taking bare numbers. */
static int parse_interval(const char *s, uint32_t *ms)
{
    char num[32];
    size_t len = strlen(s);
    if (len == 0 || len >= sizeof(num))
        return -EINVAL;
    memcpy(num, s, len + 1);
    if (num[len - 1] == 's')
        num[len - 1] = '\0';
    return parse_seconds(num, ms);
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

static int set_value(const struct flag *f, const char *value, struct cli_options *opts)
{
    char *field = (char *)opts + f->offset;
    uint64_t v;
    uint32_t ms;

    switch (f->kind) {
    case V_STRING:
        if (!*value)
            return -EINVAL;
        *(const char **)field = value;
        return 0;
    case V_PORT:
        if (parse_u64(value, 65535, &v) || v == 0)
            return -EINVAL;
        *(uint16_t *)field = (uint16_t)v;
        return 0;
    case V_COUNT:
        if (parse_u64(value, f->offset == SERVER(backlog) ? INT_MAX : UINT32_MAX, &v) || v == 0)
            return -EINVAL;
        if (f->offset == SERVER(backlog))
            *(int *)field = (int)v;
        else
            *(uint32_t *)field = (uint32_t)v;
        return 0;
    case V_INTERVAL:
        if (parse_interval(value, &ms))
            return -EINVAL;
        *(uint32_t *)field = ms;
        return 0;
    case V_SECONDS:
        if (parse_seconds(value, &ms))
            return -EINVAL;
        *(uint32_t *)field = ms;
        return 0;
    case V_BYTES:
        if (parse_bytes(value, UINT32_MAX, &v))
            return -EINVAL;
        *(uint32_t *)field = (uint32_t)v;
        return 0;
    case V_BYTES64:
        if (parse_bytes(value, INT64_MAX, &v))
            return -EINVAL;
        *(uint64_t *)field = v;
        return 0;
    case V_LOG_FORMAT:
        if (strcmp(value, "text") != 0 && strcmp(value, "json") != 0)
            return -EINVAL;
        *(uint8_t *)field = value[0] == 'j' ? CREST_LOG_JSON : CREST_LOG_TEXT;
        return 0;
    case V_OFF_SWITCH:
        if (strcmp(value, "on") != 0 && strcmp(value, "off") != 0)
            return -EINVAL;
        *(bool *)field = strcmp(value, "off") == 0;
        return 0;
    case V_SWITCH:
        *(bool *)field = true;
        return 0;
    case V_RATE:
        return parse_rate(value, (double *)field);
    }
    return -EINVAL;
}

static const struct flag *find_flag(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
        if (strlen(flags[i].name) == len && strncmp(flags[i].name, name, len) == 0)
            return &flags[i];
    return NULL;
}

/* Environment first, so that flags parsed afterwards override it. */
static int apply_env(struct cli_options *opts, char *err)
{
    static const struct {
        const char *env;
        const char *flag;
    } vars[] = {{"HOST", "--host"},
                {"PORT", "--port"},
                {"CREST_WORKERS", "--workers"},
                {"CREST_MEMORY_LIMIT", "--memory-limit"},
                {"CREST_DEBUG_TOKEN", "--debug-token"},
                {"DATABASE_URL", "--db"},
                {"CREST_STATIC", "--static"},
                {"CREST_CORS_ALLOW_ORIGINS", "--cors-allow-origins"},
                {"CREST_GZIP_MIN_SIZE", "--gzip-min-size"},
                {"CREST_RATE_LIMIT", "--rate-limit"},
                {"FORWARDED_ALLOW_IPS", "--forwarded-allow-ips"},
                {"CREST_PROXY_HEADERS", "--proxy-headers"},
                {"CREST_API_KEY_FILE", "--api-key-file"}};
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        const char *v = getenv(vars[i].env);
        const struct flag *f = find_flag(vars[i].flag, strlen(vars[i].flag));
        if (!v)
            continue;
        if (f->kind == V_SWITCH && strcmp(v, "1") != 0 && strcmp(v, "true") != 0) {
            if (strcmp(v, "0") == 0 || strcmp(v, "false") == 0 || !*v)
                continue; /* a switch set to off in the environment */
            snprintf(err, CREST_ERR_LEN, "crest: invalid value for environment variable %s: '%s'",
                     vars[i].env, v);
            return -EINVAL;
        }
        if (set_value(f, v, opts)) {
            snprintf(err, CREST_ERR_LEN, "crest: invalid value for environment variable %s: '%s'",
                     vars[i].env, v);
            return -EINVAL;
        }
    }
    return 0;
}

static int parse_serve_flags(int argc, char **argv, int i, struct cli_options *opts, char *err)
{
    for (; i < argc; i++) {
        const char *arg = argv[i], *eq = strchr(arg, '=');
        size_t name_len = eq ? (size_t)(eq - arg) : strlen(arg);
        const struct flag *f = find_flag(arg, name_len);
        const char *value = eq ? eq + 1 : NULL;

        if (!f) {
            snprintf(err, CREST_ERR_LEN, "crest: unknown option '%.*s' (see crest --help)",
                     (int)name_len, arg);
            return -EINVAL;
        }
        if (f->kind == V_SWITCH) {
            if (value) {
                snprintf(err, CREST_ERR_LEN, "crest: option %s takes no value", f->name);
                return -EINVAL;
            }
        } else if (!value) {
            if (i + 1 >= argc) {
                snprintf(err, CREST_ERR_LEN, "crest: option %s needs a value", f->name);
                return -EINVAL;
            }
            value = argv[++i];
        }
        if (set_value(f, value ? value : "", opts)) {
            snprintf(err, CREST_ERR_LEN, "crest: invalid value for %s: '%s'", f->name, value);
            return -EINVAL;
        }
    }
    if (opts->server.workers > 255) {
        snprintf(err, CREST_ERR_LEN, "crest: invalid value for --workers: at most 255");
        return -EINVAL;
    }
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
    int rc = apply_env(opts, err);
    return rc ? rc : parse_serve_flags(argc, argv, 2, opts, err);
}
