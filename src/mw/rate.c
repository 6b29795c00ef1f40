/* mw/rate.c: rate limiting (crest_app_add_rate_limit): token buckets in a table of fixed size,
 * allocated once under the "ratelimit" tag, so no number of clients can grow it. It is shared by
 * the workers, behind striped locks: SO_REUSEPORT spreads one client's connections over every
 * worker, and per-worker tables would grant it the rate once per worker. The table is
 * set-associative (MW_RATE_WAYS entries per set, picked by a seeded hash of the key, the seed
 * drawn at start so that no one can aim keys at one set); a new key takes an empty entry of its
 * set or evicts the one holding the most tokens. Answers carry the IETF RateLimit fields
 * (draft-ietf-httpapi-ratelimit-headers-11), and an empty bucket is a 429 with Retry-After. */
#include "app/app.h"
#include "mw/mw.h"

#include "mem/buf.h"
#include "mem/mem.h"
#include "net/loop.h"
#include "net/worker.h"
#include "req/req.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

int mw_rate_table_init(struct mw_rate_table *t, uint32_t max_keys, double rate_per_s, double burst)
{
    uint32_t sets = 1;

    memset(t, 0, sizeof(*t));
    if (!(rate_per_s > 0) || !(burst >= 1) || max_keys == 0 || max_keys > (1u << 28))
        return -EINVAL;
    while ((uint64_t)sets * MW_RATE_WAYS < max_keys)
        sets <<= 1;
    t->slots = mem_calloc(MEM_RATE, (size_t)sets * MW_RATE_WAYS, sizeof(*t->slots));
    if (!t->slots)
        return -ENOMEM;
    t->n_sets = sets;
    t->per_us = rate_per_s / 1e6;
    t->burst = burst;
    if (getrandom(&t->seed, sizeof(t->seed), 0) != sizeof(t->seed))
        t->seed = (uint64_t)(uintptr_t)t ^ 0x9e3779b97f4a7c15u; /* still differs per process */
    for (unsigned i = 0; i < MW_RATE_LOCKS; i++)
        pthread_mutex_init(&t->locks[i], NULL);
    return 0;
}

void mw_rate_table_fini(struct mw_rate_table *t)
{
    if (!t->slots)
        return;
    for (unsigned i = 0; i < MW_RATE_LOCKS; i++)
        pthread_mutex_destroy(&t->locks[i]);
    mem_free(MEM_RATE, t->slots, (size_t)t->n_sets * MW_RATE_WAYS * sizeof(*t->slots));
    t->slots = NULL;
}

size_t mw_rate_table_bytes(const struct mw_rate_table *t)
{
    return (size_t)t->n_sets * MW_RATE_WAYS * sizeof(*t->slots);
}

/* FNV-1a from the seed, then a 64-bit finaliser (murmur3's) so that every bit of the key moves
 * the set index; never 0, which marks an empty entry. */
static uint64_t hash(uint64_t seed, const unsigned char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325u ^ seed;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3u;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdu;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53u;
    h ^= h >> 33;
    return h | 1;
}

static double refilled(const struct mw_rate_table *t, const struct mw_rate_entry *e,
                       uint64_t now_us)
{
    double tokens =
        e->tokens + (double)(now_us > e->stamp_us ? now_us - e->stamp_us : 0) * t->per_us;
    return tokens < t->burst ? tokens : t->burst;
}

/* The entry of key in set, or the one it replaces (an empty one, else the fullest). */
static struct mw_rate_entry *find(struct mw_rate_table *t, struct mw_rate_entry *set, uint64_t key,
                                  uint64_t now_us)
{
    struct mw_rate_entry *victim = NULL;
    double most = -1;

    for (unsigned i = 0; i < MW_RATE_WAYS; i++) {
        struct mw_rate_entry *e = &set[i];
        if (e->key == key)
            return e;
        double tokens = e->key ? refilled(t, e, now_us) : INFINITY;
        if (tokens > most) {
            most = tokens;
            victim = e;
        }
    }
    *victim = (struct mw_rate_entry){.key = key, .stamp_us = now_us, .tokens = t->burst};
    return victim;
}

static uint32_t ms_for(const struct mw_rate_table *t, double tokens)
{
    double ms = ceil(tokens / t->per_us / 1000.0);
    return ms > 4e9 ? 4000000000u : (uint32_t)ms;
}

struct mw_rate_verdict mw_rate_take(struct mw_rate_table *t, const void *key, size_t len,
                                    uint64_t now_us)
{
    uint64_t h = hash(t->seed, key, len);
    uint32_t set = (uint32_t)(h >> 32) & (t->n_sets - 1);
    pthread_mutex_t *lock = &t->locks[set % MW_RATE_LOCKS];
    struct mw_rate_verdict v = {0};

    pthread_mutex_lock(lock);
    struct mw_rate_entry *e = find(t, &t->slots[(size_t)set * MW_RATE_WAYS], h, now_us);
    double tokens = refilled(t, e, now_us);
    v.allowed = tokens >= 1;
    if (v.allowed)
        tokens -= 1;
    e->tokens = tokens;
    e->stamp_us = now_us;
    pthread_mutex_unlock(lock);
    v.remaining = (uint32_t)floor(tokens);
    v.retry_after_ms = v.allowed ? 0 : ms_for(t, 1 - tokens);
    v.full_in_ms = ms_for(t, t->burst - tokens);
    return v;
}

/* ---- the hook ---- */

struct rate {
    struct app_part part; /* first: the app frees it */
    struct crest_rate_limit cfg;
    struct mw_rate_table table;
    char policy_line[96]; /* "RateLimit-Policy: ...\r\n", the same on every answer */
    size_t policy_len;
};

static void rate_free(struct app_part *part)
{
    struct rate *r = (struct rate *)part;
    mw_rate_table_fini(&r->table);
    mem_free(MEM_APP, r, sizeof(*r));
}

static const struct app_part_ops rate_ops = {.free = rate_free};

static uint32_t seconds(uint32_t ms)
{
    return (ms + 999) / 1000;
}

/* Decimal digits of v at out; their count. */
static size_t put_u32(char *out, uint32_t v)
{
    char tmp[10];
    size_t n = 0, len = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        out[len++] = tmp[--n];
    return len;
}

/* The RateLimit fields, formatted by hand and appended whole: on every request, snprintf and
 * crest_res_header's checks of text that is crest's own cost more than the bucket itself. */
static int put_fields(struct crest_req *req, const struct rate *r, uint32_t remaining,
                      uint32_t reset_s)
{
    char line[128];
    size_t n = 0;

    static const char head[] = "RateLimit: \"default\";r=";
    memcpy(line, head, sizeof(head) - 1);
    n = sizeof(head) - 1;
    n += put_u32(line + n, remaining);
    memcpy(line + n, ";t=", 3);
    n += 3 + put_u32(line + n + 3, reset_s);
    memcpy(line + n, "\r\n", 2);
    n += 2;
    struct mem_buf *h = req->http.res_headers;
    return mem_buf_append(h, MEM_OUT, r->policy_line, r->policy_len) |
           mem_buf_append(h, MEM_OUT, line, n);
}

static enum crest_hook_result limit(struct crest_req *req, void *ud)
{
    struct rate *r = ud;
    struct crest_str key = r->cfg.key ? r->cfg.key(req, r->cfg.key_ud) : (struct crest_str){0};
    char field[16];
    int err = 0;

    if (!key.ptr)
        key = crest_req_client(req);
    uint64_t now = net_loop_clock_us(&req->http.worker->loop);
    struct mw_rate_verdict v = mw_rate_take(&r->table, key.ptr, key.len, now);
    err |= put_fields(req, r, v.remaining, seconds(v.allowed ? v.full_in_ms : v.retry_after_ms));
    if (v.allowed)
        return CREST_HOOK_NEXT; /* a header lost to memory costs the client a hint, no more */
    field[put_u32(field, seconds(v.retry_after_ms))] = '\0';
    err |= crest_res_error(req, 429, "Too Many Requests");
    err |= crest_res_header(req, "Retry-After", field);
    if (err)
        req_response_oom(req);
    return CREST_HOOK_DONE;
}

CREST_API int crest_app_add_rate_limit(struct crest_app *app, const struct crest_rate_limit *cfg)
{
    struct rate *r;
    int err;

    if (!cfg || !(cfg->rate_per_s > 0) || cfg->rate_per_s > 1e9)
        return -EINVAL;
    r = mem_calloc(MEM_APP, 1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    r->cfg = *cfg;
    double burst = cfg->burst ? cfg->burst : ceil(cfg->rate_per_s);
    err = mw_rate_table_init(&r->table, cfg->max_keys ? cfg->max_keys : 65536, cfg->rate_per_s,
                             burst);
    if (err) {
        mem_free(MEM_APP, r, sizeof(*r));
        return err;
    }
    /* the window: how long an empty bucket takes to fill, in whole seconds */
    r->policy_len = (size_t)snprintf(r->policy_line, sizeof(r->policy_line),
                                     "RateLimit-Policy: \"default\";q=%.0f;w=%.0f\r\n", burst,
                                     fmax(1, ceil(burst / cfg->rate_per_s)));
    r->part.ops = &rate_ops;
    app_part_add(app, &r->part);
    const struct crest_hook hook = {.before = limit, .ud = r};
    return crest_app_add_hook(app, &hook);
}
