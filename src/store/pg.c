/* store/pg.c: the items store on PostgreSQL, through libpq, inside the worker's event loop. A
 * store is one worker's pool of connections; their sockets are watches in the worker's epoll loop,
 * so a request waiting for the database suspends only itself. Queries go out with
 * PQsendQueryPrepared (statements prepared once per connection) in pipeline mode: the calls made
 * during one event-loop turn go out in one write, closed by one Sync, and share one round trip and
 * one implicit transaction (one commit, one WAL flush, for all the writes among them). A call
 * completes only when its Sync came back, that is once its transaction committed; if any
 * statement of the segment failed, the server rolled the segment back and every write in it is
 * answered as failed. Without pipeline mode a connection carries one query at a time and calls
 * wait in a queue for a free connection.
 *
 * Faults: a connection that breaks fails its calls with -EIO and reconnects with capped
 * exponential backoff; a query still running after timeout_ms is cancelled (PQcancel, which
 * blocks until the server took the request, so it runs in a short-lived thread of its own) and
 * answered -ETIMEDOUT at once, its late result ignored; a store with no ready connection answers
 * -EIO at once. The schema is created and migrated by the first connection of each store, under
 * an advisory lock, so instances starting together do not race. */
#include "store/item.h"
#include "store/pg_int.h"

#include "mem/mem.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static struct pg_store *pg_of(struct store *s)
{
    return (struct pg_store *)s;
}

/* ------------------------------------------------------------------------------------------------
 * URLs and logs: the password never leaves the store */

CREST_API const struct store_ops *crest_store_for_url(const char *url)
{
    if (url && (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0))
        return crest_store_postgresql();
    return crest_store_sqlite();
}

/* postgresql://user:secret@host/db → postgresql://user:***@host/db; also a password=… parameter. */
CREST_API void crest_store_redact_url(const char *url, char *buf, size_t cap)
{
    if (!cap)
        return;
    snprintf(buf, cap, "%s", url ? url : "");
    char *scheme = strstr(buf, "://");
    if (scheme) {
        char *user = scheme + 3;
        char *end = user + strcspn(user, "/?#"); /* the authority ends there */
        char *at = NULL;
        for (char *p = user; p < end; p++) /* the userinfo ends at the last '@' */
            if (*p == '@')
                at = p;
        char *colon = at ? memchr(user, ':', (size_t)(at - user)) : NULL;
        if (colon && (size_t)(colon - buf) + 4 < cap) {
            memmove(colon + 4, at, strlen(at) + 1);
            memcpy(colon + 1, "***", 3);
        }
    }
    char *pw = strstr(buf, "password=");
    if (pw)
        snprintf(pw, cap - (size_t)(pw - buf), "password=***");
}

/* ------------------------------------------------------------------------------------------------
 * Calls */

void store_pg_call_free(struct pg_store *s, struct pg_call *call)
{
    while (call->members) {
        struct pg_call *m = call->members;
        call->members = m->next;
        store_pg_call_free(s, m);
    }
    for (int i = 0; i < call->n_params; i++)
        mem_strfree(MEM_DB, call->params[i]);
    mem_pool_put(&s->calls, call);
}

/* Runs a finished call's callback (unless it was answered already) and frees it; a group's
 * reads each get their own answer, or the group's failure. */
void store_pg_call_finish(struct pg_store *s, struct pg_call *call)
{
    struct pg_call *m = call->members;
    call->members = NULL;
    while (m) {
        struct pg_call *next = m->next;
        if (call->status)
            m->status = call->status;
        m->abandoned |= call->abandoned;
        store_pg_call_finish(s, m);
        m = next;
    }
    if (!call->abandoned && call->cb) {
        bool ok = call->status == 0;
        call->cb(call->ud, call->status, ok ? call->items : NULL, ok ? call->n : 0);
    }
    store_pg_call_free(s, call);
}

/* Finishes a detached list: callbacks may start new calls on the same store, so the list is
 * unlinked from every connection before the first runs. */
void store_pg_call_finish_list(struct pg_store *s, struct pg_call *list, int status)
{
    while (list) {
        struct pg_call *next = list->next;
        if (status)
            list->status = status;
        store_pg_call_finish(s, list);
        list = next;
    }
}

void store_pg_push(struct pg_call **head, struct pg_call **tail, struct pg_call *call)
{
    call->next = NULL;
    if (*tail)
        (*tail)->next = call;
    else
        *head = call;
    *tail = call;
}

struct pg_call *store_pg_pop(struct pg_call **head, struct pg_call **tail)
{
    struct pg_call *call = *head;
    if (call) {
        *head = call->next;
        if (!*head)
            *tail = NULL;
        call->next = NULL;
    }
    return call;
}

/* ------------------------------------------------------------------------------------------------
 * Sending */

/* The connection a call goes out on: the ready connection
 * with the fewest calls in flight (without pipeline mode: an idle one). NULL: none. */
static struct pg_conn *pick_conn(struct pg_store *s)
{
    struct pg_conn *best = NULL;
    for (unsigned k = 0; k < s->n_conns; k++) {
        struct pg_conn *c = &s->conns[(s->next_conn + k) % s->n_conns];
        if (c->state != C_READY || (!s->pipeline && c->n_sent > 0))
            continue;
        if (!best || c->n_sent < best->n_sent)
            best = c;
    }
    s->next_conn++;
    return best;
}

bool store_pg_any_ready(const struct pg_store *s)
{
    for (unsigned k = 0; k < s->n_conns; k++)
        if (s->conns[k].state == C_READY)
            return true;
    return false;
}

/* A connection on its way up (not one waiting out its backoff). */
bool store_pg_any_connecting(const struct pg_store *s)
{
    for (unsigned k = 0; k < s->n_conns; k++)
        if (s->conns[k].state == C_CONNECTING || s->conns[k].state == C_SETUP)
            return true;
    return false;
}

/* Without pipeline mode: hands waiting calls to connections that came free. */
void store_pg_pump_waiting(struct pg_store *s)
{
    while (s->waiting) {
        struct pg_conn *c = pick_conn(s);
        if (!c)
            return;
        struct pg_call *call = store_pg_pop(&s->waiting, &s->waiting_tail);
        if (store_pg_conn_send(c, call) != 0) {
            call->status = -EIO;
            store_pg_call_finish(s, call);
            store_pg_conn_lost(c, -EIO, OBS_DB_ERR_LOST);
        }
    }
    if (s->pipeline)
        s->base.ops->flush(&s->base); /* the turn's flush may have run already */
    for (unsigned k = 0; k < s->n_conns; k++)
        if (s->conns[k].state == C_READY)
            store_pg_conn_arm_timer(&s->conns[k]);
}

/* Sends a call, or queues it for a connection being opened. -EIO: no connection can take it
 * (the call is still the caller's). */
static int submit(struct pg_store *s, struct pg_call *call)
{
    struct pg_conn *c = pick_conn(s);
    /* wait for a busy connection to come free (no pipeline), or for one being opened (at start,
     * after a reconnect): bounded by the connect timeout, after which the call fails */
    if (!c && ((!s->pipeline && store_pg_any_ready(s)) || store_pg_any_connecting(s))) {
        store_pg_push(&s->waiting, &s->waiting_tail, call);
        return 0;
    }
    if (!c)
        return -EIO; /* no connection up: answered at once, never queued without bound */
    if (store_pg_conn_send(c, call) != 0) {
        store_pg_conn_lost(c, -EIO, OBS_DB_ERR_LOST);
        return -EIO;
    }
    store_pg_conn_arm_timer(c);
    return 0;
}

/* ------------------------------------------------------------------------------------------------
 * The operations */

static struct pg_call *call_new(struct pg_store *s, enum stmt stmt, const struct store_alloc *out,
                                store_done_fn cb, void *ud)
{
    struct pg_call *call = mem_pool_get(&s->calls);
    if (!call)
        return NULL;
    memset(call, 0, sizeof(*call));
    call->stmt = stmt;
    call->write = stmt != ST_GET && stmt != ST_LIST;
    call->cb = cb;
    call->ud = ud;
    if (out)
        call->out = *out;
    return call;
}

static bool args_ok(struct store *s, const struct store_alloc *out, store_done_fn cb)
{
    return s && cb && (out == NULL || out->alloc);
}

static int start(struct pg_store *s, struct pg_call *call, int rc)
{
    if (rc == 0)
        rc = submit(s, call);
    if (rc)
        store_pg_call_free(s, call);
    return rc;
}

/* Sends the turn's reads by id: one ST_GET_MANY per MAX_GROUP of them (a lone one as ST_GET).
 * Their callers were told 0, so a failure is answered through their callbacks. */
static void send_gets(struct pg_store *s)
{
    while (s->gets) {
        struct pg_call *group = s->gets, *last = s->gets;
        int n = 1;
        while (last->next && n < MAX_GROUP) {
            last = last->next;
            n++;
        }
        s->gets = last->next;
        if (!s->gets)
            s->gets_tail = NULL;
        last->next = NULL;
        int rc = 0;
        if (n == 1) {
            rc = store_pg_param_int(group, group->id);
        } else {
            struct pg_call *members = group;
            group = call_new(s, ST_GET_MANY, NULL, NULL, NULL);
            if (!group) {
                store_pg_call_finish_list(s, members, -ENOMEM);
                continue;
            }
            group->members = members;
            rc = store_pg_param_ids(group, members);
        }
        if (rc == 0)
            rc = submit(s, group);
        if (rc) {
            group->status = rc;
            store_pg_call_finish(s, group);
        }
    }
}

static int pg_create(struct store *store, const struct store_item *in,
                     const struct store_alloc *out, store_done_fn cb, void *ud)
{
    struct pg_store *s = pg_of(store);
    if (!args_ok(store, out, cb) || !out || !store_item_ok(in, STORE_ALL_FIELDS))
        return -EINVAL;
    struct pg_call *call = call_new(s, ST_CREATE, out, cb, ud);
    if (!call)
        return -ENOMEM;
    return start(s, call, store_pg_item_params(call, in, STORE_ALL_FIELDS));
}

static int pg_patch(struct store *store, const struct store_item *in, unsigned fields,
                    const struct store_alloc *out, store_done_fn cb, void *ud)
{
    struct pg_store *s = pg_of(store);
    if (!args_ok(store, out, cb) || !out || !store_item_ok(in, fields))
        return -EINVAL;
    struct pg_call *call = call_new(s, ST_UPDATE, out, cb, ud);
    if (!call)
        return -ENOMEM;
    int rc = store_pg_item_params(call, in, fields);
    if (rc == 0)
        rc = store_pg_param_int(call, in->id);
    if (rc == 0)
        rc = store_pg_param_int(call, fields);
    return start(s, call, rc);
}

static int pg_replace(struct store *store, const struct store_item *in,
                      const struct store_alloc *out, store_done_fn cb, void *ud)
{
    return pg_patch(store, in, STORE_ALL_FIELDS, out, cb, ud);
}

static int pg_get(struct store *store, int64_t id, const struct store_alloc *out, store_done_fn cb,
                  void *ud)
{
    struct pg_store *s = pg_of(store);
    if (!args_ok(store, out, cb) || !out)
        return -EINVAL;
    if (!store_pg_any_ready(s) && !store_pg_any_connecting(s))
        return -EIO;
    struct pg_call *call = call_new(s, ST_GET, out, cb, ud);
    if (!call)
        return -ENOMEM;
    call->id = id;
    if (s->pipeline && s->group) {
        /* the turn's reads by id go out together at flush, as one statement: one executor run
         * and one index scan for many requests instead of one each */
        store_pg_push(&s->gets, &s->gets_tail, call);
        return 0;
    }
    return start(s, call, store_pg_param_int(call, id));
}

static int pg_list(struct store *store, int64_t offset, int64_t limit,
                   const struct store_alloc *out, store_done_fn cb, void *ud)
{
    struct pg_store *s = pg_of(store);
    if (!args_ok(store, out, cb) || !out || offset < 0 || limit < 0)
        return -EINVAL;
    struct pg_call *call = call_new(s, ST_LIST, out, cb, ud);
    if (!call)
        return -ENOMEM;
    int rc = store_pg_param_int(call, offset);
    if (rc == 0)
        rc = store_pg_param_int(call, limit);
    return start(s, call, rc);
}

static int pg_remove(struct store *store, int64_t id, store_done_fn cb, void *ud)
{
    struct pg_store *s = pg_of(store);
    if (!args_ok(store, NULL, cb))
        return -EINVAL;
    struct pg_call *call = call_new(s, ST_DELETE, NULL, cb, ud);
    if (!call)
        return -ENOMEM;
    return start(s, call, store_pg_param_int(call, id));
}

static void pg_set_group_commit(struct store *store, bool on)
{
    struct pg_store *s = pg_of(store);
    s->group = on;
    if (!on)
        store->ops->flush(store);
}

/* Ends the turn's segments: one Sync (one commit) per connection for the calls of the turn. */
static void pg_flush(struct store *store)
{
    struct pg_store *s = pg_of(store);
    send_gets(s);
    for (unsigned k = 0; k < s->n_conns && s->unsynced; k++) {
        struct pg_conn *c = &s->conns[k];
        if (c->state == C_READY && c->unsynced && store_pg_conn_sync(c) != 0)
            store_pg_conn_lost(c, -EIO, OBS_DB_ERR_LOST);
    }
}

static bool pg_pending(const struct store *store)
{
    const struct pg_store *s = (const struct pg_store *)store;
    return s->unsynced > 0 || s->gets;
}

static bool pg_up(const struct store *store)
{
    return store_pg_any_ready((const struct pg_store *)store);
}

/* ------------------------------------------------------------------------------------------------
 * Open and close */

static void pg_close(struct store *store)
{
    struct pg_store *s = pg_of(store);
    if (!s)
        return;
    /* the loop has stopped: the calls still open belong to requests that are gone, so no
     * callback runs; their records are freed */
    for (unsigned k = 0; k < s->n_conns; k++)
        store_pg_conn_close(&s->conns[k]);
    while (s->waiting)
        store_pg_call_free(s, store_pg_pop(&s->waiting, &s->waiting_tail));
    while (s->gets)
        store_pg_call_free(s, store_pg_pop(&s->gets, &s->gets_tail));
    mem_pool_fini(&s->calls);
    mem_free(MEM_DB, s->conns, s->n_conns * sizeof(*s->conns));
    mem_strfree(MEM_DB, s->url);
    mem_free(MEM_DB, s, sizeof(*s));
}

/* What no retry can fix is refused at start: a URL libpq cannot read (its message may quote the
 * URL, password included, so it is not repeated), or TLS asked of a libpq built without it. */
static int check_url(const char *url, char *err)
{
    char *why = NULL, redacted[128];
    PQconninfoOption *opts = PQconninfoParse(url, &why);
    crest_store_redact_url(url, redacted, sizeof(redacted));
    if (!opts) {
        if (err)
            snprintf(err, CREST_ERR_LEN, "--db %s: not a PostgreSQL URL libpq can read", redacted);
        PQfreemem(why);
        return -EINVAL;
    }
    bool wants_tls = false;
    for (PQconninfoOption *o = opts; o->keyword; o++)
        if (strcmp(o->keyword, "sslmode") == 0 && o->val &&
            (strcmp(o->val, "require") == 0 || strncmp(o->val, "verify-", 7) == 0))
            wants_tls = true;
    PQconninfoFree(opts);
    if (wants_tls && !PQsslAttribute(NULL, "library")) {
        if (err)
            snprintf(err, CREST_ERR_LEN,
                     "--db %s: sslmode needs TLS, not in this build (-DCREST_LIBPQ_TLS=openssl)",
                     redacted);
        return -ENOTSUP;
    }
    return 0;
}

static int pg_open(const struct store_config *cfg, struct store **out, char *err)
{
    if (!cfg || !cfg->url || !out)
        return -EINVAL;
    *out = NULL;
    int rc = check_url(cfg->url, err);
    if (rc)
        return rc;
    if (!cfg->loop) {
        if (err)
            snprintf(err, CREST_ERR_LEN,
                     "the PostgreSQL store runs in a server worker's event "
                     "loop (not in the test client)");
        return -ENOTSUP;
    }
    unsigned pool = cfg->pool ? cfg->pool : 2;
    if (pool > MAX_POOL) {
        if (err)
            snprintf(err, CREST_ERR_LEN, "--db-pool must be 1..%d", MAX_POOL);
        return -EINVAL;
    }
    struct pg_store *s = mem_calloc(MEM_DB, 1, sizeof(*s));
    if (s) {
        s->url = mem_strdup(MEM_DB, cfg->url);
        s->conns = mem_calloc(MEM_DB, pool, sizeof(*s->conns));
    }
    if (!s || !s->url || !s->conns) {
        if (s) {
            mem_strfree(MEM_DB, s->url);
            mem_free(MEM_DB, s, sizeof(*s));
        }
        if (err)
            snprintf(err, CREST_ERR_LEN, "PostgreSQL store: out of memory");
        return -ENOMEM;
    }
    s->base.ops = crest_store_postgresql();
    s->loop = net_loop_of(cfg->loop);
    s->stats = obs_worker_slot(cfg->worker);
    s->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : 5000;
    s->pipeline = !cfg->no_pipeline;
    s->n_conns = pool;
    mem_pool_init(&s->calls, MEM_DB, sizeof(struct pg_call), OPS_KEPT);
    for (unsigned k = 0; k < pool; k++) /* in the background: a server down is retried */
        store_pg_conn_init(&s->conns[k], s);
    *out = &s->base;
    return 0;
}

CREST_API const struct store_ops *crest_store_postgresql(void)
{
    static const struct store_ops ops = {
        .name = "postgresql",
        .open = pg_open,
        .close = pg_close,
        .create = pg_create,
        .get = pg_get,
        .list = pg_list,
        .replace = pg_replace,
        .patch = pg_patch,
        .remove = pg_remove,
        .set_group_commit = pg_set_group_commit,
        .flush = pg_flush,
        .pending = pg_pending,
        .up = pg_up,
    };
    return &ops;
}
