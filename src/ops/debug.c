/* ops/debug.c: GET /debug/memory (?diff=1) and POST /debug/memory/snapshot, the JSON face
 * of obs/memory.c. They answer loopback clients only, or, with a debug token, only clients that
 * present it; everyone else gets the router's own 404, so the routes look absent. The access check
 * runs before anything else (query parsing included), so a refused client learns nothing. */
#include "app/app.h"
#include "obs/memory.h"
#include "obs/stats.h"
#include "req/req.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

/* Compares in time independent of where the first difference is (the length still shows). */
static bool same_secret(const char *a, size_t a_len, const char *b)
{
    size_t b_len = strlen(b);
    unsigned char diff = a_len != b_len;
    for (size_t i = 0; i < a_len && i < b_len; i++)
        diff |= (unsigned char)(a[i] ^ b[i]);
    return diff == 0;
}

/* RFC 6750 2.1: "Bearer" (case-insensitive, RFC 9110 11.1), one or more spaces, the token. */
static bool bearer_matches(struct crest_str auth, const char *token)
{
    static const char scheme[] = "Bearer";
    const size_t n = sizeof(scheme) - 1;

    if (!auth.ptr || auth.len <= n || strncasecmp(auth.ptr, scheme, n) != 0 || auth.ptr[n] != ' ')
        return false;
    size_t i = n;
    while (i < auth.len && auth.ptr[i] == ' ')
        i++;
    return same_secret(auth.ptr + i, auth.len - i, token);
}

/* Whether this client may see /debug; answers the 404 itself when not. */
static bool allowed(struct crest_req *req, const char *token)
{
    bool ok = token ? bearer_matches(crest_req_header(req, "Authorization"), token)
                    : req_request_from_loopback(req); /* behind trusted proxies: the client */
    if (!ok && crest_res_error(req, 404, "Not Found") != 0)
        req_response_oom(req);
    return ok;
}

static void write_tags(struct crest_json *j, const struct obs_memory_tag *tags, bool with_peak)
{
    crest_json_key(j, "tags");
    crest_json_array_begin(j);
    for (unsigned i = 0; i < MEM_TAG_COUNT; i++) {
        const struct obs_memory_tag *t = &tags[i];
        crest_json_object_begin(j);
        crest_json_key(j, "tag");
        crest_json_string(j, mem_tag_name((enum mem_tag)t->tag));
        crest_json_key(j, "live_bytes");
        crest_json_int(j, t->live_bytes);
        crest_json_key(j, "live_blocks");
        crest_json_int(j, t->live_blocks);
        if (with_peak) {
            crest_json_key(j, "peak_bytes");
            crest_json_int(j, t->peak_bytes);
        }
        crest_json_key(j, "total_allocated");
        crest_json_int(j, (int64_t)t->total_bytes);
        crest_json_object_end(j);
    }
    crest_json_array_end(j);
}

static void write_int(struct crest_json *j, const char *key, int64_t v)
{
    crest_json_key(j, key);
    crest_json_int(j, v);
}

/* The top statistics. "tags" comes last: crest mem reads the figures before it. */
static void answer_report(struct crest_req *req)
{
    struct obs_memory_report r;
    obs_memory_read(&r, true);
    struct crest_json *j = crest_res_json(req, 200);
    crest_json_object_begin(j);
    write_int(j, "rss_bytes", (int64_t)r.rss_bytes);
    write_int(j, "peak_rss_bytes", (int64_t)r.peak_rss_bytes);
    write_int(j, "heap_in_use_bytes", (int64_t)r.heap_bytes);
    write_int(j, "tracked_bytes", r.tracked_bytes);
    crest_json_key(j, "coverage");
    crest_json_double(j, obs_memory_coverage(&r));
    crest_json_key(j, "memory_limit_bytes");
    if (mem_budget_limit())
        crest_json_int(j, (int64_t)mem_budget_limit());
    else
        crest_json_null(j);
    write_int(j, "shed_total", (int64_t)obs_shed_total());
    write_tags(j, r.tags, true);
    crest_json_object_end(j);
}

static void write_diff_tags(struct crest_json *j, const struct obs_memory_tag_diff *tags)
{
    crest_json_key(j, "tags");
    crest_json_array_begin(j);
    for (unsigned i = 0; i < MEM_TAG_COUNT; i++) {
        const struct obs_memory_tag_diff *t = &tags[i];
        crest_json_object_begin(j);
        crest_json_key(j, "tag");
        crest_json_string(j, mem_tag_name((enum mem_tag)t->tag));
        write_int(j, "size", t->size);
        write_int(j, "size_diff", t->size_diff);
        write_int(j, "count", t->count);
        write_int(j, "count_diff", t->count_diff);
        write_int(j, "total_allocated_diff", t->total_diff);
        crest_json_object_end(j);
    }
    crest_json_array_end(j);
}

/* tracemalloc's compare_to, per tag: 409 before any snapshot. */
static void answer_diff(struct crest_req *req)
{
    struct obs_memory_diff d;
    if (obs_memory_diff(&d) != 0) {
        if (crest_res_error(req, 409, "No snapshot") != 0)
            req_response_oom(req);
        return;
    }
    struct crest_json *j = crest_res_json(req, 200);
    crest_json_object_begin(j);
    crest_json_key(j, "snapshot_age_seconds");
    crest_json_double(j, d.age_seconds);
    write_int(j, "rss_bytes", (int64_t)d.rss_bytes);
    write_int(j, "rss_diff", d.rss_diff);
    write_int(j, "tracked_bytes", d.tracked_bytes);
    write_int(j, "tracked_diff", d.tracked_diff);
    write_diff_tags(j, d.tags);
    crest_json_object_end(j);
}

static enum crest_handler_result get_memory(struct crest_req *req, void *ud)
{
    bool diff = false;

    if (!allowed(req, ud))
        return CREST_DONE;
    int rc = crest_query_bool(req, "diff", &diff);
    if (rc == -ENOMEM) {
        req_response_oom(req);
        return CREST_DONE;
    }
    if (rc != 0 && rc != -ENOENT) {
        if (crest_res_error(req, 422, "diff must be a boolean (1, true, yes, on, 0, false...)"))
            req_response_oom(req);
        return CREST_DONE;
    }
    if (diff)
        answer_diff(req);
    else
        answer_report(req);
    return CREST_DONE;
}

static enum crest_handler_result post_snapshot(struct crest_req *req, void *ud)
{
    struct obs_memory_snapshot s;

    if (!allowed(req, ud))
        return CREST_DONE;
    if (obs_memory_snapshot_take(&s) != 0) {
        req_response_oom(req);
        return CREST_DONE;
    }
    struct crest_json *j = crest_res_json(req, 201);
    crest_json_object_begin(j);
    crest_json_key(j, "taken_at");
    crest_json_double(j, s.taken_at);
    write_int(j, "rss_bytes", (int64_t)s.report.rss_bytes);
    write_int(j, "tracked_bytes", s.report.tracked_bytes);
    write_tags(j, s.report.tags, false);
    crest_json_object_end(j);
    return CREST_DONE;
}

CREST_API int crest_app_add_debug_routes(struct crest_app *app, const char *token)
{
    void *ud = (void *)token; /* handlers only read it */
    const struct crest_route routes[] = {
        {.method = "GET",
         .path = "/debug/memory",
         .handler = get_memory,
         .ud = ud,
         .summary = "Memory by allocation tag (?diff=1: change since the snapshot)",
         .tag = "debug",
         .hidden = true},
        {.method = "POST",
         .path = "/debug/memory/snapshot",
         .handler = post_snapshot,
         .ud = ud,
         .summary = "Keep this moment's memory figures for ?diff=1",
         .tag = "debug",
         .status = 201,
         .hidden = true},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        int err = crest_app_add_route(app, &routes[i], NULL);
        if (err)
            return err;
    }
    return 0;
}
