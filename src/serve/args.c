/* src/serve/args.c: the command line of a server built on crest (crest_config_args). The
 * engine's flags, under uvicorn's names where it has one (--host, --port, --workers, --backlog,
 * --timeout-keep-alive, --timeout-graceful-shutdown), their environment variables, and the
 * application's own flags, parsed from one table in one pass, so that an application's main() is
 * a few lines and every crest server, the crest binary included (cli/flags.c adds its flags
 * here), takes the same command line. */
#include "crest.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The engine's fields need kinds an application's flag does not. */
enum {
    K_PORT = 100, /* uint16_t, 1..65535 */
    K_INT,        /* int, 1..INT_MAX */
    K_BYTES32,    /* CREST_ARG_BYTES into a uint32_t */
    K_LOG_FORMAT, /* text | json, into a uint8_t */
};

struct server_flag {
    const char *name;
    int kind;
    size_t offset; /* into struct crest_config */
    const char *env;
    const char *help;
    const char *zero; /* what a value of 0 means, for --help ("none", "off") */
};

#define CFG(field) offsetof(struct crest_config, field)
static const struct server_flag server_flags[] = {
    {"--host", CREST_ARG_STRING, CFG(host), "HOST", "address to listen on", NULL},
    {"--port", K_PORT, CFG(port), "PORT", "port to listen on", NULL},
    {"--workers", CREST_ARG_COUNT, CFG(workers), "CREST_WORKERS", "worker threads, at most 255",
     "online CPUs"},
    {"--backlog", K_INT, CFG(backlog), NULL, "listen backlog", NULL},
    {"--timeout-keep-alive", CREST_ARG_SECONDS, CFG(keepalive_timeout_ms), NULL,
     "close idle keep-alive connections after SECONDS", NULL},
    {"--timeout-header", CREST_ARG_SECONDS, CFG(header_timeout_ms), NULL,
     "request line and headers must arrive within SECONDS, else 408", NULL},
    {"--timeout-body", CREST_ARG_SECONDS, CFG(body_timeout_ms), NULL,
     "max SECONDS between body reads or response writes", NULL},
    {"--timeout-graceful-shutdown", CREST_ARG_SECONDS, CFG(shutdown_timeout_ms), NULL,
     "on SIGTERM/SIGINT, drain for at most SECONDS", NULL},
    {"--max-head-bytes", K_BYTES32, CFG(max_head_bytes), NULL,
     "request line + headers limit (414/431 past it)", NULL},
    {"--max-headers", CREST_ARG_COUNT, CFG(max_headers), NULL, "header count limit (431 past it)",
     NULL},
    {"--max-body-bytes", K_BYTES32, CFG(max_body_bytes), NULL, "request body limit (413 past it)",
     NULL},
    {"--quiet", CREST_ARG_SWITCH, CFG(quiet), NULL, "no startup report", NULL},
    {"--memory-limit", CREST_ARG_BYTES, CFG(memory_limit_bytes), "CREST_MEMORY_LIMIT",
     "memory budget, e.g. 64M: past it requests get 503", "none"},
    {"--log-memory", CREST_ARG_SECONDS, CFG(log_memory_ms), NULL,
     "print a [memory] line (RSS, tracked, top tags) every SECONDS, e.g. 10s", "off"},
    {"--access-log", CREST_ARG_SWITCH, CFG(access_log), NULL, "one line per response on stdout",
     NULL},
    {"--log-format", K_LOG_FORMAT, CFG(log_format), NULL, "access log lines: text or json", NULL},
};
#define N_SERVER (sizeof(server_flags) / sizeof(server_flags[0]))

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    char *end;
    if (*s < '0' || *s > '9')
        return -EINVAL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v == 0 || v > max)
        return -EINVAL;
    *out = v;
    return 0;
}

/* A count of bytes up to max, with an optional K, M or G suffix (binary: 1K is 1024). */
static int parse_bytes(const char *s, uint64_t max, uint64_t *out)
{
    char *end;
    if (*s < '0' || *s > '9')
        return -EINVAL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    unsigned shift = 0;
    if (errno)
        return -EINVAL;
    if (*end) {
        const char *units = "KMG", *u = strchr(units, *end & ~0x20);
        if (!u || end[1])
            return -EINVAL;
        shift = 10 * (unsigned)(u - units + 1);
    }
    if (v == 0 || v > (max >> shift))
        return -EINVAL;
    *out = v << shift;
    return 0;
}

/* Decimal seconds, "10" or "10s", above 0 and at most a day, into milliseconds. */
static int parse_seconds(const char *s, uint32_t *ms)
{
    char *end;
    if ((*s < '0' || *s > '9') && *s != '.')
        return -EINVAL;
    errno = 0;
    double v = strtod(s, &end);
    if (*end == 's')
        end++;
    if (errno || *end || !isfinite(v) || v <= 0 || v > 86400)
        return -EINVAL;
    *ms = (uint32_t)ceil(v * 1000);
    return 0;
}

static int set_value(int kind, const char *s, void *dst)
{
    uint64_t v;
    switch (kind) {
    case CREST_ARG_STRING:
        *(const char **)dst = s;
        return *s ? 0 : -EINVAL;
    case CREST_ARG_SWITCH:
        *(bool *)dst = true;
        return 0;
    case CREST_ARG_COUNT:
        return parse_u64(s, UINT32_MAX, &v) ? -EINVAL : (*(uint32_t *)dst = (uint32_t)v, 0);
    case CREST_ARG_BYTES:
        return parse_bytes(s, INT64_MAX, (uint64_t *)dst);
    case CREST_ARG_SECONDS:
        return parse_seconds(s, (uint32_t *)dst);
    case K_PORT:
        return parse_u64(s, 65535, &v) ? -EINVAL : (*(uint16_t *)dst = (uint16_t)v, 0);
    case K_INT:
        return parse_u64(s, INT_MAX, &v) ? -EINVAL : (*(int *)dst = (int)v, 0);
    case K_BYTES32:
        return parse_bytes(s, UINT32_MAX, &v) ? -EINVAL : (*(uint32_t *)dst = (uint32_t)v, 0);
    case K_LOG_FORMAT:
        if (strcmp(s, "text") != 0 && strcmp(s, "json") != 0)
            return -EINVAL;
        *(uint8_t *)dst = s[0] == 'j' ? CREST_LOG_JSON : CREST_LOG_TEXT;
        return 0;
    default:
        return -EINVAL;
    }
}

/* One flag of either table, as the parser sees it. */
struct flag {
    const char *name, *env, *help;
    int kind;
    void *dst; /* NULL without a cfg (the usage) */
};

/* The i-th flag: the engine's first, then the application's. */
static struct flag flag_at(struct crest_config *cfg, const struct crest_arg *args, size_t i)
{
    if (i < N_SERVER) {
        const struct server_flag *f = &server_flags[i];
        return (struct flag){f->name, f->env, f->help, f->kind,
                             cfg ? (char *)cfg + f->offset : NULL};
    }
    const struct crest_arg *a = &args[i - N_SERVER];
    return (struct flag){a->name, a->env, a->help, (int)a->kind, a->value};
}

static bool find(struct crest_config *cfg, const struct crest_arg *args, size_t n, const char *name,
                 size_t len, struct flag *out)
{
    for (size_t i = 0; i < N_SERVER + n; i++) {
        *out = flag_at(cfg, args, i);
        if (strlen(out->name) == len && strncmp(out->name, name, len) == 0)
            return true;
    }
    return false;
}

/* The environment first, so that the flags parsed afterwards win. A switch's variable is 1 or
 * true (on), 0, false or empty (off). */
static int apply_env(struct crest_config *cfg, const struct crest_arg *args, size_t n, char *err)
{
    for (size_t i = 0; i < N_SERVER + n; i++) {
        struct flag f = flag_at(cfg, args, i);
        const char *v = f.env ? getenv(f.env) : NULL;
        if (!v)
            continue;
        bool off =
            f.kind == CREST_ARG_SWITCH && (!*v || strcmp(v, "0") == 0 || strcmp(v, "false") == 0);
        bool bad =
            f.kind == CREST_ARG_SWITCH && !off && strcmp(v, "1") != 0 && strcmp(v, "true") != 0;
        if (bad || (!off && set_value(f.kind, v, f.dst) != 0)) {
            snprintf(err, CREST_ERR_LEN, "invalid value for environment variable %s: '%s'", f.env,
                     v);
            return -EINVAL;
        }
    }
    return 0;
}

static int apply_flags(struct crest_config *cfg, int argc, char **argv,
                       const struct crest_arg *args, size_t n, char *err)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *eq = strchr(arg, '='), *value = eq ? eq + 1 : NULL;
        size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
        struct flag f;
        if (!find(cfg, args, n, arg, len, &f))
            return snprintf(err, CREST_ERR_LEN, "unknown option '%.*s' (see --help)", (int)len,
                            arg),
                   -EINVAL;
        if (f.kind == CREST_ARG_SWITCH && value)
            return snprintf(err, CREST_ERR_LEN, "option %s takes no value", f.name), -EINVAL;
        if (f.kind != CREST_ARG_SWITCH && !value && i + 1 >= argc)
            return snprintf(err, CREST_ERR_LEN, "option %s needs a value", f.name), -EINVAL;
        if (f.kind != CREST_ARG_SWITCH && !value)
            value = argv[++i];
        if (set_value(f.kind, value ? value : "", f.dst) != 0)
            return snprintf(err, CREST_ERR_LEN, "invalid value for %s: '%s'", f.name, value),
                   -EINVAL;
    }
    return 0;
}

/* A value as its flag takes it ("16K", "0.5"), or zero's meaning; "" when there is nothing to say
 * (a switch that is off, an unset string, a 0 with no meaning). */
static void value_text(int kind, const void *v, const char *zero, char *buf, size_t size)
{
    uint64_t n = 0;
    *buf = '\0';
    switch (kind) {
    case CREST_ARG_STRING:
        if (*(const char *const *)v)
            snprintf(buf, size, "%s", *(const char *const *)v);
        return;
    case CREST_ARG_SWITCH:
        return;
    case K_LOG_FORMAT:
        snprintf(buf, size, "%s", *(const uint8_t *)v == CREST_LOG_JSON ? "json" : "text");
        return;
    case CREST_ARG_SECONDS:
        if (*(const uint32_t *)v)
            snprintf(buf, size, "%g", *(const uint32_t *)v / 1000.0);
        else if (zero)
            snprintf(buf, size, "%s", zero);
        return;
    case K_PORT:
        n = *(const uint16_t *)v;
        break;
    case K_INT:
        n = (uint64_t) * (const int *)v;
        break;
    case CREST_ARG_BYTES:
        n = *(const uint64_t *)v;
        break;
    default: /* CREST_ARG_COUNT, K_BYTES32 */
        n = *(const uint32_t *)v;
        break;
    }
    if (!n) {
        snprintf(buf, size, "%s", zero ? zero : "");
        return;
    }
    static const char *const units[] = {"", "K", "M", "G"};
    unsigned unit = 0;
    while ((kind == CREST_ARG_BYTES || kind == K_BYTES32) && unit < 3 && n % 1024 == 0)
        n /= 1024, unit++;
    snprintf(buf, size, "%llu%s", (unsigned long long)n, units[unit]);
}

/* One line a flag; the engine's with the default that holds when it is not given: cfg's value
 * as the application left it before parsing (an application's help says its own). */
static void usage(FILE *out, struct crest_config *cfg, const struct crest_arg *args, size_t n_args)
{
    for (size_t i = 0; i < N_SERVER + n_args; i++) {
        struct flag f = flag_at(cfg, args, i);
        char now[64] = "";
        if (f.dst && i < N_SERVER) /* an application's help says its own default */
            value_text(f.kind, f.dst, server_flags[i].zero, now, sizeof(now));
        fprintf(out, "  %-30s %s%s%s%s%s%s%s\n", f.name, f.help ? f.help : "",
                *now ? " (default " : "", now, *now ? ")" : "", f.env ? " [env " : "",
                f.env ? f.env : "", f.env ? "]" : "");
    }
}

CREST_API void crest_config_usage(FILE *out, const struct crest_arg *args, size_t n_args)
{
    struct crest_config defaults;
    crest_config_defaults(&defaults);
    usage(out, &defaults, args, n_args);
}

CREST_API int crest_config_args(struct crest_config *cfg, int argc, char **argv,
                                const struct crest_arg *args, size_t n_args,
                                char err[CREST_ERR_LEN])
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: %s [options]\n\noptions:\n", argv[0]);
            usage(stdout, cfg, args, n_args);
            return 1;
        }
    }
    int rc = apply_env(cfg, args, n_args, err);
    if (rc == 0)
        rc = apply_flags(cfg, argc, argv, args, n_args, err);
    if (rc == 0 && cfg->workers > 255) {
        snprintf(err, CREST_ERR_LEN, "invalid value for --workers: at most 255");
        rc = -EINVAL;
    }
    return rc;
}
