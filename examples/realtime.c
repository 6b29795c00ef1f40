/* examples/realtime.c: bodies of any size in bounded memory, written only against crest.h
 * (issue 18; more of it comes with the static mount, uploads and WebSockets):
 *
 *   GET /bytes/{n}   n bytes (a repeating alphabet) streamed with crest_res_stream: whatever n,
 *                    the server holds one 64 KiB window for it, and a slow reader slows the
 *                    producer instead of growing a buffer.
 *   GET /events      Server-Sent Events: an event every --tick-ms (id, event and data fields,
 *                    retry first), a heartbeat comment every --heartbeat-ms while nothing else is
 *                    sent, and a reconnecting client's Last-Event-ID resumes after that id.
 *                    ?count=N ends the stream after N events.
 *   GET /json        crest's built-in routes.
 *
 *     realtime --host 127.0.0.1 --port 8000 [--root DIR] [--tick-ms 1000] [--heartbeat-ms 15000]
 *              [--timeout-body S]
 */
#define _GNU_SOURCE
#include <crest.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t tick_ms = 1000, heartbeat_ms = 15000;

/* ---- GET /bytes/{n} ---- */

struct bytes {
    int64_t left;
    uint64_t at; /* offset of the next byte: the pattern is 'a' + offset % 26 */
};

static enum crest_stream_next bytes_produce(struct crest_stream *st, void *ud)
{
    struct bytes *b = ud;
    char piece[16384];

    if (b->left == 0)
        return CREST_STREAM_END;
    size_t n = b->left < (int64_t)sizeof(piece) ? (size_t)b->left : sizeof(piece);
    for (size_t i = 0; i < n; i++)
        piece[i] = (char)('a' + (b->at + i) % 26);
    if (crest_stream_write(st, piece, n) != 0)
        return CREST_STREAM_FAIL;
    b->left -= (int64_t)n;
    b->at += n;
    return CREST_STREAM_MORE;
}

static enum crest_handler_result bytes(struct crest_req *req, void *ud)
{
    int64_t n;
    struct bytes *b = crest_req_alloc(req, sizeof(*b)); /* lives as long as the stream */
    (void)ud;

    if (!b || crest_path_int(req, "n", &n) != 0 || n < 0) {
        int err = crest_res_error(req, b ? 422 : 503, b ? "n must be a size" : "Out of memory");
        (void)err;
        return CREST_DONE;
    }
    *b = (struct bytes){.left = n};
    if (crest_res_stream(req, "application/octet-stream", bytes_produce, NULL, b) != 0) {
        int err = crest_res_error(req, 503, "Out of memory");
        (void)err;
    }
    return CREST_DONE;
}

/* ---- GET /events: Server-Sent Events ---- */

struct events {
    struct crest_stream *st;
    struct crest_timer *tick, *heartbeat;
    int64_t next_id, last_id; /* last_id: 0 for no end */
    bool due, beat, started;
};

static void on_tick(struct crest_timer *t, void *ud)
{
    struct events *e = ud;
    (void)t;
    e->due = true;
    crest_stream_resume(e->st);
}

static void on_heartbeat(struct crest_timer *t, void *ud)
{
    struct events *e = ud;
    (void)t;
    e->beat = true;
    crest_stream_resume(e->st);
}

static enum crest_stream_next events_produce(struct crest_stream *st, void *ud)
{
    struct events *e = ud;
    char text[160];
    int n = 0;

    e->st = st;
    if (!e->started) { /* the retry field first: how long a client waits before reconnecting */
        e->started = true;
        n = snprintf(text, sizeof(text), "retry: %u\n\n", (unsigned)(tick_ms * 2));
    } else if (e->due) {
        e->due = false;
        n = snprintf(text, sizeof(text), "id: %lld\nevent: tick\ndata: {\"n\":%lld}\n\n",
                     (long long)e->next_id, (long long)e->next_id);
        e->next_id++;
    } else if (e->beat) {
        e->beat = false;
        n = snprintf(text, sizeof(text), ": heartbeat\n\n"); /* a comment: clients ignore it */
    } else if (e->last_id && e->next_id > e->last_id) {
        return CREST_STREAM_END;
    } else {
        return CREST_STREAM_WAIT; /* until a timer resumes it */
    }
    if (crest_stream_write(st, text, (size_t)n) != 0)
        return CREST_STREAM_FAIL;
    return CREST_STREAM_MORE;
}

static void events_done(void *ud, int status)
{
    struct events *e = ud; /* in the request's arena, which outlives this call */
    (void)status;
    crest_timer_stop(e->tick);
    crest_timer_stop(e->heartbeat);
}

static enum crest_handler_result events(struct crest_req *req, void *ud)
{
    struct events *e = crest_req_alloc(req, sizeof(*e));
    struct crest_str last = crest_req_header(req, "Last-Event-ID");
    struct crest_loop *loop = crest_req_loop(req);
    int64_t count = 0;
    (void)ud;

    if (!e) {
        int err = crest_res_error(req, 503, "Out of memory");
        (void)err;
        return CREST_DONE;
    }
    *e = (struct events){.next_id = 1};
    if (last.ptr) { /* a reconnecting client: go on after the last event it saw */
        char id[24];
        snprintf(id, sizeof(id), "%.*s", (int)(last.len < 23 ? last.len : 23), last.ptr);
        e->next_id = strtoll(id, NULL, 10) + 1;
        if (e->next_id < 1)
            e->next_id = 1;
    }
    if (crest_query_int(req, "count", &count) == 0 && count > 0)
        e->last_id = e->next_id + count - 1;
    int err = crest_res_header(req, "Cache-Control", "no-store");
    if (!err)
        err = crest_timer_start(loop, tick_ms, tick_ms, on_tick, e, &e->tick);
    if (!err)
        err = crest_timer_start(loop, heartbeat_ms, heartbeat_ms, on_heartbeat, e, &e->heartbeat);
    if (!err)
        err = crest_res_stream(req, "text/event-stream", events_produce, events_done, e);
    if (err) {
        crest_timer_stop(e->tick);
        crest_timer_stop(e->heartbeat);
        err = crest_res_error(req, 503, "Out of memory");
        (void)err;
    }
    return CREST_DONE;
}

int main(int argc, char **argv)
{
    struct crest_config cfg;
    char err[CREST_ERR_LEN];
    struct crest_app *app = crest_app_new("realtime", "1.0");
    const struct crest_route routes[] = {
        {.method = "GET",
         .path = "/bytes/{n:int}",
         .handler = bytes,
         .summary = "n bytes, streamed"},
        {.method = "GET", .path = "/events", .handler = events, .summary = "Server-Sent Events"},
    };

    crest_config_defaults(&cfg);
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *v = argv[i + 1];
        if (strcmp(argv[i], "--host") == 0)
            cfg.host = v;
        else if (strcmp(argv[i], "--port") == 0)
            cfg.port = (uint16_t)atoi(v);
        else if (strcmp(argv[i], "--workers") == 0)
            cfg.workers = (unsigned)atoi(v);
        else if (strcmp(argv[i], "--timeout-body") == 0)
            cfg.body_timeout_ms = (uint32_t)(atof(v) * 1000);
        else if (strcmp(argv[i], "--tick-ms") == 0)
            tick_ms = (uint32_t)atoi(v);
        else if (strcmp(argv[i], "--heartbeat-ms") == 0)
            heartbeat_ms = (uint32_t)atoi(v);
        else if (strcmp(argv[i], "--root") != 0) { /* the static mount's, coming with it */
            fprintf(stderr, "realtime: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (!app || crest_app_add_builtin_routes(app) != 0) {
        fprintf(stderr, "realtime: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (crest_app_add_route(app, &routes[i], err) != 0) {
            fprintf(stderr, "realtime: %s\n", err);
            return 1;
        }
    }
    int rc = crest_serve(app, &cfg, err);
    if (rc != 0)
        fprintf(stderr, "realtime: %s\n", err);
    crest_app_free(app);
    return rc ? 1 : 0;
}
