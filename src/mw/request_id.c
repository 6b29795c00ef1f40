/* mw/request_id.c: request IDs (crest_app_add_request_id). The client's X-Request-ID is kept when
 * it is short and made of characters that cannot split a header or forge a log field; anything
 * else is replaced by a fresh random UUID, never echoed. The ID goes back in the response's
 * X-Request-ID from an after hook (so crest's own 404/422/429/503 carry it too) and into the
 * access log (ops/access_log.c reads struct crest_req's request_id). */
#include "app/app.h"
#include "mw/mw.h"

#include "mem/mem.h"
#include "req/req.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

bool mw_request_id_valid(struct crest_str id)
{
    if (!id.ptr || id.len == 0 || id.len > MW_REQUEST_ID_MAX)
        return false;
    for (size_t i = 0; i < id.len; i++) {
        unsigned char c = (unsigned char)id.ptr[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  strchr("-_.:+/=@", c) != NULL;
        if (!ok || c == 0)
            return false;
    }
    return true;
}

/* Per thread, seeded from getrandom once: an ID costs no system call and no lock. xorshift128+
 * is not a secret's generator; an ID only needs to be unique, and 122 random bits are. */
static _Thread_local uint64_t state[2];

static uint64_t next(void)
{
    if (!state[0] && !state[1]) {
        if (getrandom(state, sizeof(state), 0) != sizeof(state) || (!state[0] && !state[1])) {
            state[0] = (uint64_t)(uintptr_t)&state ^ 0x9e3779b97f4a7c15u;
            state[1] = 0xbf58476d1ce4e5b9u;
        }
    }
    uint64_t s1 = state[0];
    const uint64_t s0 = state[1];
    state[0] = s0;
    s1 ^= s1 << 23;
    state[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
    return state[1] + s0;
}

void mw_request_id_new(char out[37])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t b[16];
    uint64_t hi = next(), lo = next();

    memcpy(b, &hi, 8);
    memcpy(b + 8, &lo, 8);
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* RFC 9562 4.4: version 4 */
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* variant 10 */
    size_t n = 0;
    for (unsigned i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[n++] = '-';
        out[n++] = hex[b[i] >> 4];
        out[n++] = hex[b[i] & 15];
    }
    out[n] = '\0';
}

struct request_id {
    struct app_part part; /* first: the app frees it */
};

static void request_id_free(struct app_part *part)
{
    mem_free(MEM_APP, part, sizeof(struct request_id));
}

static const struct app_part_ops request_id_ops = {.free = request_id_free};

static enum crest_hook_result assign(struct crest_req *req, void *ud)
{
    struct crest_str sent = crest_req_header(req, "X-Request-ID");
    char fresh[37];
    (void)ud;

    if (!mw_request_id_valid(sent)) {
        mw_request_id_new(fresh);
        sent = (struct crest_str){fresh, 36};
    }
    char *copy = crest_req_alloc(req, sent.len + 1);
    if (copy) { /* no memory: the request goes on without an ID rather than fail */
        memcpy(copy, sent.ptr, sent.len);
        copy[sent.len] = '\0';
        req->request_id = (struct crest_str){copy, sent.len};
    }
    return CREST_HOOK_NEXT;
}

static void echo(struct crest_req *req, void *ud)
{
    (void)ud;
    if (req->request_id.ptr && crest_res_header(req, "X-Request-ID", req->request_id.ptr) != 0)
        req->http.close = true; /* no memory for a header: the answer stands, without it */
}

CREST_API int crest_app_add_request_id(struct crest_app *app)
{
    struct request_id *r;

    if (app_part_find(app, &request_id_ops))
        return -EEXIST;
    r = mem_calloc(MEM_APP, 1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    r->part.ops = &request_id_ops;
    app_part_add(app, &r->part);
    const struct crest_hook hook = {.before = assign, .after = echo, .ud = r};
    return app_hook_add_first(app, &hook);
}
