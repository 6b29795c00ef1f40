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
 *   GET /events/news an event stream joined to a hub; POST /events/news publishes its body (text)
 *                    to every subscriber, on every worker, encoded once.
 *   GET /ws/echo     a WebSocket that echoes each message (text or binary, up to 16 MiB).
 *   GET /ws/chat     a WebSocket chat room: each message goes to every member, on every worker
 *                    (one frame encoded once and shared by all their queues).
 *   GET /files/...   the files below --root DIR, a static mount (crest_app_add_static): ETag,
 *                    Last-Modified, 304/412, single ranges, sent with sendfile.
 *   POST /upload     a request body of any size (up to --upload-limit, default 4 GiB),
 *                    Content-Length or chunked, taken as a stream (body_stream) and hashed as it
 *                    arrives: {"bytes": N, "sha256": "..."}. ?slow_ms=M pauses the read M ms
 *                    after each piece (a slow consumer: the client is held back, nothing piles
 *                    up); ?hash=0 counts only.
 *   POST /upload/form  multipart/form-data, parsed as it arrives (crest_multipart_*): each part's
 *                    name, filename, bytes and sha256.
 *   GET /upload/stats  uploads begun, completed and ended otherwise (each consumer's end ran).
 *   GET /json        crest's built-in routes; GET /debug/memory for loopback clients.
 *
 *     realtime --host 127.0.0.1 --port 8000 [--root DIR] [--tick-ms 1000] [--heartbeat-ms 15000]
 *              [--timeout-body S] [--upload-limit BYTES] [--memory-limit BYTES]
 *              [--ws-ping-ms MS] [--ws-idle-ms MS]   (/ws/echo's timers; 0 turns one off)
 *              (and the engine's other flags: --help lists them)
 */
#define _GNU_SOURCE
#include <crest.h>

#include "sha256.h"

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

/* ---- GET /events: Server-Sent Events with crest_sse ---- */

/* A subscriber: its own sequence of ids (so that Last-Event-ID resumes it), in its worker's list,
 * which one timer per worker walks at each tick: a subscriber costs no timer of its own. */
struct worker_events;
struct subscriber {
    struct crest_sse *sse;
    struct worker_events *we;
    int64_t next_id, last_id; /* last_id: 0 for no end */
    struct subscriber *prev, *next;
};

struct worker_events {
    struct crest_timer *tick;
    struct subscriber *subs;
};

static void on_tick(struct crest_timer *t, void *ud)
{
    struct worker_events *we = ud;
    (void)t;
    for (struct subscriber *s = we->subs, *next; s; s = next) {
        char id[24], data[48];
        next = s->next; /* crest_sse_end may close s at once (its on_close unlinks it) */
        snprintf(id, sizeof(id), "%lld", (long long)s->next_id);
        snprintf(data, sizeof(data), "{\"n\":%lld}", (long long)s->next_id);
        struct crest_sse_event ev = {.event = "tick", .id = id, .data = data};
        int err = crest_sse_send(s->sse, &ev);
        (void)err; /* a reader too slow is dropped: its on_close unlinks it */
        s->next_id++;
        if (s->last_id && s->next_id > s->last_id)
            crest_sse_end(s->sse);
    }
}

static void events_closed(struct crest_sse *sse, void *ud)
{
    struct subscriber *s = ud;
    (void)sse;
    if (s->prev)
        s->prev->next = s->next;
    else
        s->we->subs = s->next;
    if (s->next)
        s->next->prev = s->prev;
    free(s);
}

static const struct crest_sse_config *events_config(void)
{
    static struct crest_sse_config cfg;
    cfg.heartbeat_ms = heartbeat_ms;
    cfg.retry_ms = tick_ms * 2; /* how long a client waits before reconnecting */
    cfg.on_close = events_closed;
    return &cfg;
}

static enum crest_handler_result events(struct crest_req *req, void *ud)
{
    struct worker_events *we = crest_req_worker_data(req);
    struct crest_str last = crest_sse_last_event_id(req);
    struct subscriber *s = calloc(1, sizeof(*s));
    int64_t count = 0;
    (void)ud;

    if (!s) {
        int err = crest_res_error(req, 503, "Out of memory");
        (void)err;
        return CREST_DONE;
    }
    s->next_id = 1;
    if (last.ptr) { /* a reconnecting client: go on after the last event it saw */
        char id[24];
        snprintf(id, sizeof(id), "%.*s", (int)(last.len < 23 ? last.len : 23), last.ptr);
        s->next_id = strtoll(id, NULL, 10) + 1;
        if (s->next_id < 1)
            s->next_id = 1;
    }
    if (crest_query_int(req, "count", &count) == 0 && count > 0)
        s->last_id = s->next_id + count - 1;
    if (crest_sse_start(req, events_config(), s, &s->sse) != 0) {
        free(s); /* the response says why (503) */
        return CREST_DONE;
    }
    s->we = we;
    s->next = we->subs;
    if (we->subs)
        we->subs->prev = s;
    we->subs = s;
    return CREST_DONE;
}

static int events_worker_start(void *ud, unsigned worker, struct crest_loop *loop, void **data,
                               char err[CREST_ERR_LEN])
{
    struct worker_events *we = calloc(1, sizeof(*we));
    (void)ud;
    (void)worker;
    if (!we || crest_timer_start(loop, tick_ms, tick_ms, on_tick, we, &we->tick) != 0) {
        free(we);
        snprintf(err, CREST_ERR_LEN, "no memory for the events timer");
        return -ENOMEM;
    }
    *data = we;
    return 0;
}

static void events_worker_stop(void *ud, unsigned worker, void *data)
{
    (void)ud;
    (void)worker;
    free(data); /* its timer went with the loop; its subscribers closed before */
}

/* ---- GET /events/news and POST /events/news: one event to every subscriber, every worker ---- */

static struct crest_sse_hub *news_hub;
static const struct crest_sse_config news_config = {.heartbeat_ms = 15000};

static enum crest_handler_result news_subscribe(struct crest_req *req, void *ud)
{
    struct crest_sse *sse;
    (void)ud;
    if (crest_sse_start(req, &news_config, NULL, &sse) != 0)
        return CREST_DONE; /* the response says why (503) */
    if (crest_sse_hub_join(news_hub, sse) != 0)
        crest_sse_end(sse);
    return CREST_DONE;
}

/* The body's text, published once (encoded once, shared by every subscriber's queue). */
static enum crest_handler_result news_publish(struct crest_req *req, void *ud)
{
    struct crest_str body = crest_req_body(req);
    char text[1024];
    (void)ud;
    if (!body.ptr || body.len >= sizeof(text)) {
        if (crest_res_error(req, 422, "a text body of 1 to 1023 bytes") != 0)
            crest_res_status(req, 500);
        return CREST_DONE;
    }
    memcpy(text, body.ptr, body.len);
    text[body.len] = '\0';
    const struct crest_sse_event ev = {.event = "news", .data = text};
    int err = crest_sse_hub_publish(news_hub, &ev);
    struct crest_json *j = crest_res_json(req, err ? 503 : 202);
    crest_json_object_begin(j);
    crest_json_key(j, "published");
    crest_json_bool(j, err == 0);
    crest_json_object_end(j);
    return CREST_DONE;
}

/* ---- GET /ws/echo and GET /ws/chat: WebSockets with crest_ws ---- */

static struct crest_ws_hub *chat_hub;

static void echo_message(struct crest_ws *ws, bool binary, const void *data, size_t len, void *ud)
{
    (void)ud;
    int err = crest_ws_send(ws, binary, data, len);
    (void)err; /* -ENOBUFS: a client that does not read its echoes is closed */
}

/* Not const: --ws-ping-ms and --ws-idle-ms set its timers before the server starts. */
static struct crest_ws_config echo_config = {
    .on_message = echo_message,
    .max_message_bytes = 16 << 20,
    .max_queue_bytes = 40 << 20, /* two echoes of the largest message in flight */
    .ping_interval_ms = 30000,
};

static enum crest_handler_result ws_echo(struct crest_req *req, void *ud)
{
    (void)ud;
    int err = crest_ws_accept(req, &echo_config);
    (void)err; /* refused: the response (400, 426, 503) says why */
    return CREST_DONE;
}

static void chat_open(struct crest_ws *ws, struct crest_req *req, void *ud)
{
    (void)req;
    (void)ud;
    if (crest_ws_hub_join(chat_hub, ws) != 0) {
        int err = crest_ws_close(ws, 1011, "no room");
        (void)err;
    }
}

static void chat_message(struct crest_ws *ws, bool binary, const void *data, size_t len, void *ud)
{
    (void)ws;
    (void)ud;
    int err = crest_ws_hub_publish(chat_hub, binary, data, len); /* every member, every worker */
    (void)err;
}

static const struct crest_ws_config chat_config = {
    .on_open = chat_open,
    .on_message = chat_message,
    .max_message_bytes = 64 << 10,
    .ping_interval_ms = 30000,
};

static enum crest_handler_result ws_chat(struct crest_req *req, void *ud)
{
    (void)ud;
    int err = crest_ws_accept(req, &chat_config);
    (void)err;
    return CREST_DONE;
}

/* ---- POST /upload: a streamed body, hashed as it arrives ---- */

static uint64_t upload_limit = 4ull << 30;
static long uploads_begun, uploads_done, uploads_ended; /* across workers: __atomic builtins */

struct upload {
    struct crest_req *req;
    struct sha256 sha;
    bool hash;
    uint32_t slow_ms; /* pause the read this long after each piece */
    struct crest_timer *timer;
};

static void upload_wake(struct crest_timer *t, void *ud)
{
    struct upload *u = ud;
    crest_timer_stop(t);
    u->timer = NULL;
    crest_req_body_resume(u->req); /* may end the upload, if the client left meanwhile */
}

static enum crest_body_next upload_data(struct crest_req *req, const void *data, size_t len,
                                        void *ud)
{
    struct upload *u = ud;

    if (u->hash)
        sha256_update(&u->sha, data, len);
    if (!u->slow_ms ||
        crest_timer_start(crest_req_loop(req), u->slow_ms, 0, upload_wake, u, &u->timer) != 0)
        return CREST_BODY_MORE;
    return CREST_BODY_PAUSE; /* the socket is not read until upload_wake resumes */
}

static void upload_end(struct crest_req *req, int status, void *ud)
{
    struct upload *u = ud;
    char hex[65] = "";

    if (u->timer)
        crest_timer_stop(u->timer);
    u->timer = NULL;
    if (status != 0) { /* crest answered (413, 400, 408) or the client left: nothing to say */
        __atomic_add_fetch(&uploads_ended, 1, __ATOMIC_RELAXED);
        return;
    }
    __atomic_add_fetch(&uploads_done, 1, __ATOMIC_RELAXED);
    if (u->hash)
        sha256_final_hex(&u->sha, hex);
    struct crest_json *j = crest_res_json(req, 200);
    crest_json_object_begin(j);
    crest_json_key(j, "bytes");
    crest_json_int(j, (int64_t)crest_req_body_received(req));
    crest_json_key(j, "sha256");
    crest_json_string(j, hex);
    crest_json_object_end(j);
    crest_req_finish(req);
}

static enum crest_handler_result upload(struct crest_req *req, void *ud)
{
    struct upload *u = crest_req_alloc(req, sizeof(*u)); /* lives until the response is written */
    int64_t slow_ms = 0;
    bool hash = true;
    (void)ud;

    if (!u) {
        int err = crest_res_error(req, 503, "Out of memory");
        (void)err;
        return CREST_DONE;
    }
    if (crest_query_int(req, "slow_ms", &slow_ms) != 0 || slow_ms < 0 || slow_ms > 10000)
        slow_ms = 0;
    if (crest_query_bool(req, "hash", &hash) != 0)
        hash = true;
    *u = (struct upload){.req = req, .hash = hash, .slow_ms = (uint32_t)slow_ms};
    sha256_init(&u->sha);
    if (crest_req_body_read(req, upload_data, upload_end, u) != 0) {
        int err = crest_res_error(req, 503, "Out of memory");
        (void)err;
        return CREST_DONE;
    }
    __atomic_add_fetch(&uploads_begun, 1, __ATOMIC_RELAXED);
    return CREST_PENDING; /* upload_end answers */
}

/* ---- POST /upload/form: multipart/form-data, each part hashed as it arrives ---- */

enum { FORM_MAX_PARTS = 16 };

struct form_part {
    char *name, *filename; /* filename NULL for a text field */
    uint64_t bytes;
    char sha256[65];
};

struct form {
    struct crest_req *req;
    struct crest_multipart *mp;
    struct sha256 sha; /* of the part being read */
    uint32_t n;
    struct form_part parts[FORM_MAX_PARTS];
};

static char *copy_str(struct crest_req *req, struct crest_str s)
{
    char *p = crest_req_alloc(req, s.len + 1);
    if (p) {
        memcpy(p, s.ptr, s.len);
        p[s.len] = '\0';
    }
    return p;
}

static int form_part_begin(void *ud, const struct crest_part *part)
{
    struct form *f = ud;
    struct form_part *fp = &f->parts[f->n]; /* max_parts keeps n below FORM_MAX_PARTS */

    fp->name = copy_str(f->req, part->name);
    fp->filename = part->filename.ptr ? copy_str(f->req, part->filename) : NULL;
    if (!fp->name || (part->filename.ptr && !fp->filename))
        return -ENOMEM;
    fp->bytes = 0;
    sha256_init(&f->sha);
    return 0;
}

static int form_part_data(void *ud, const struct crest_part *part, const void *data, size_t len)
{
    struct form *f = ud;
    (void)part;
    sha256_update(&f->sha, data, len);
    f->parts[f->n].bytes += len;
    return 0;
}

static int form_part_end(void *ud, const struct crest_part *part)
{
    struct form *f = ud;
    (void)part;
    sha256_final_hex(&f->sha, f->parts[f->n].sha256);
    f->n++;
    return 0;
}

/* The form could not be read: 400 (malformed, truncated), 413 (a limit), 503 (memory). */
static void form_fail(struct form *f, int err)
{
    int status = err == -EMSGSIZE ? 413 : err == -ENOMEM ? 503 : 400;
    const char *why = crest_multipart_error(f->mp);
    int rc = crest_res_error(f->req, status, why ? why : "Invalid multipart body");
    (void)rc;
    crest_req_finish(f->req);
}

static enum crest_body_next form_data(struct crest_req *req, const void *data, size_t len, void *ud)
{
    struct form *f = ud;
    int err = crest_multipart_feed(f->mp, data, len);
    (void)req;
    if (!err)
        return CREST_BODY_MORE;
    form_fail(f, err);
    return CREST_BODY_STOP; /* the rest is never read: the connection closes after the answer */
}

static void form_reply(struct form *f)
{
    struct crest_json *j = crest_res_json(f->req, 200);
    crest_json_object_begin(j);
    crest_json_key(j, "parts");
    crest_json_array_begin(j);
    for (uint32_t i = 0; i < f->n; i++) {
        crest_json_object_begin(j);
        crest_json_key(j, "name");
        crest_json_string(j, f->parts[i].name);
        crest_json_key(j, "filename");
        if (f->parts[i].filename)
            crest_json_string(j, f->parts[i].filename);
        else
            crest_json_null(j);
        crest_json_key(j, "bytes");
        crest_json_int(j, (int64_t)f->parts[i].bytes);
        crest_json_key(j, "sha256");
        crest_json_string(j, f->parts[i].sha256);
        crest_json_object_end(j);
    }
    crest_json_array_end(j);
    crest_json_object_end(j);
    crest_req_finish(f->req);
}

static void form_end(struct crest_req *req, int status, void *ud)
{
    struct form *f = ud;
    (void)req;
    if (status != 0)
        return; /* answered already (form_fail), or crest answered, or the client left */
    int err = crest_multipart_finish(f->mp);
    if (err)
        form_fail(f, err);
    else
        form_reply(f);
}

static enum crest_handler_result upload_form(struct crest_req *req, void *ud)
{
    struct form *f = crest_req_alloc(req, sizeof(*f));
    int err = f ? 0 : -ENOMEM;
    (void)ud;

    if (f) {
        const struct crest_multipart_config cfg = {.part_begin = form_part_begin,
                                                   .part_data = form_part_data,
                                                   .part_end = form_part_end,
                                                   .ud = f,
                                                   .max_parts = FORM_MAX_PARTS,
                                                   .max_field_bytes = 64 << 10};
        f->req = req;
        f->n = 0;
        err = crest_multipart_new(req, &cfg, &f->mp);
    }
    if (!err)
        err = crest_req_body_read(req, form_data, form_end, f);
    if (err) {
        int rc = err == -EINVAL
                     ? crest_res_error(req, 400, "Expected multipart/form-data with a boundary")
                     : crest_res_error(req, 503, "Out of memory");
        (void)rc;
        return CREST_DONE;
    }
    return CREST_PENDING;
}

static enum crest_handler_result upload_stats(struct crest_req *req, void *ud)
{
    struct crest_json *j = crest_res_json(req, 200);
    (void)ud;
    crest_json_object_begin(j);
    crest_json_key(j, "begun");
    crest_json_int(j, __atomic_load_n(&uploads_begun, __ATOMIC_RELAXED));
    crest_json_key(j, "done");
    crest_json_int(j, __atomic_load_n(&uploads_done, __ATOMIC_RELAXED));
    crest_json_key(j, "ended");
    crest_json_int(j, __atomic_load_n(&uploads_ended, __ATOMIC_RELAXED));
    crest_json_object_end(j);
    return CREST_DONE;
}

/* The routes of files and uploads; root NULL: no /files mount. */
static int add_file_routes(struct crest_app *app, const char *root, char err[CREST_ERR_LEN])
{
    static const struct crest_form_field form_fields[] = {
        {.name = "file", .file = true, .required = true, .description = "any number of files"},
        {.name = "note", .description = "and of text fields"},
    };
    const struct crest_route routes[] = {
        {.method = "POST",
         .path = "/upload",
         .handler = upload,
         .summary = "a body of any size, hashed as it arrives",
         .body_stream = true,
         .max_body_bytes = upload_limit},
        {.method = "POST",
         .path = "/upload/form",
         .handler = upload_form,
         .summary = "multipart/form-data, each part hashed as it arrives",
         .body_stream = true,
         .max_body_bytes = upload_limit,
         .form = form_fields,
         .n_form = sizeof(form_fields) / sizeof(form_fields[0])},
        {.method = "GET", .path = "/upload/stats", .handler = upload_stats, .hidden = true},
    };
    int rc;

    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        if ((rc = crest_app_add_route(app, &routes[i], err)) != 0)
            return rc;
    if (root && (rc = crest_app_add_static(app, "/files", root)) != 0) {
        snprintf(err, CREST_ERR_LEN, "--root %s: %s", root, strerror(-rc));
        return rc;
    }
    return 0;
}

/* --ws-ping-ms and --ws-idle-ms take 0 (off), which CREST_ARG_COUNT refuses: given as strings. */
static bool set_ms(const char *text, uint32_t *ms)
{
    char *end;
    unsigned long v = text ? strtoul(text, &end, 10) : *ms;
    if (text && (*text < '0' || *text > '9' || *end || v > UINT32_MAX))
        return false;
    *ms = (uint32_t)v;
    return true;
}

int main(int argc, char **argv)
{
    struct crest_config cfg;
    char err[CREST_ERR_LEN];
    const char *root = NULL;
    const struct crest_route routes[] = {
        {.method = "GET",
         .path = "/bytes/{n:int}",
         .handler = bytes,
         .summary = "n bytes, streamed"},
        {.method = "GET", .path = "/events", .handler = events, .summary = "Server-Sent Events"},
        {.method = "GET",
         .path = "/events/news",
         .handler = news_subscribe,
         .summary = "Server-Sent Events published to every subscriber"},
        {.method = "POST",
         .path = "/events/news",
         .handler = news_publish,
         .summary = "Publish the body to every /events/news subscriber"},
        {.method = "GET", .path = "/ws/echo", .handler = ws_echo, .summary = "WebSocket echo"},
        {.method = "GET", .path = "/ws/chat", .handler = ws_chat, .summary = "WebSocket chat"},
    };
    const char *ping = NULL, *idle = NULL;
    const struct crest_arg args[] = {
        {"--root", CREST_ARG_STRING, &root, NULL, "serve the files below DIR at /files"},
        {"--tick-ms", CREST_ARG_COUNT, &tick_ms, NULL, "an /events event every MS (1000)"},
        {"--heartbeat-ms", CREST_ARG_COUNT, &heartbeat_ms, NULL, "/events heartbeat MS (15000)"},
        {"--upload-limit", CREST_ARG_BYTES, &upload_limit, NULL, "largest upload (4G)"},
        {"--ws-ping-ms", CREST_ARG_STRING, &ping, NULL, "/ws/echo pings after MS (30000; 0 off)"},
        {"--ws-idle-ms", CREST_ARG_STRING, &idle, NULL, "/ws/echo closes after MS (0: off)"},
    };

    crest_config_defaults(&cfg);
    int rc = crest_config_args(&cfg, argc, argv, args, sizeof(args) / sizeof(args[0]), err);
    if (rc == 0 && !(set_ms(ping, &echo_config.ping_interval_ms) &&
                     set_ms(idle, &echo_config.idle_timeout_ms)))
        rc = -EINVAL, strcpy(err, "invalid value for --ws-ping-ms/--ws-idle-ms (ms; 0: off)");
    if (rc != 0) /* 1: --help printed the flags */
        return rc > 0 ? 0 : (fprintf(stderr, "realtime: %s\n", err), 2);
    struct crest_app *app = crest_app_new("realtime", "1.0");
    chat_hub = crest_ws_hub_new();
    news_hub = crest_sse_hub_new();
    /* /debug/memory (loopback clients only): what each connection holds, by tag */
    if (!app || !chat_hub || !news_hub || crest_app_add_builtin_routes(app) != 0 ||
        crest_app_add_debug_routes(app, NULL) != 0) {
        fprintf(stderr, "realtime: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (crest_app_add_route(app, &routes[i], err) != 0) {
            fprintf(stderr, "realtime: %s\n", err);
            return 1;
        }
    }
    crest_app_on_worker(app, events_worker_start, events_worker_stop, NULL);
    if (add_file_routes(app, root, err) != 0) {
        fprintf(stderr, "realtime: %s\n", err);
        return 1;
    }
    rc = crest_serve(app, &cfg, err);
    if (rc != 0)
        fprintf(stderr, "realtime: %s\n", err);
    crest_app_free(app);
    crest_ws_hub_free(chat_hub);
    crest_sse_hub_free(news_hub);
    return rc ? 1 : 0;
}
