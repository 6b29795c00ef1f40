/* db/pg_batch.c: reads by key of one event-loop turn in one statement (crest_db_batch). Calls that
 * ask for it wait in the worker's list until the turn's events are handled (a timer of 0 ms runs
 * after them); then each group of calls with the same batch goes out as one statement whose $1 is
 * the array of their keys, in a call of its own that lives in the first member's request; when its
 * rows come back, each member gets a copy of its own rows in its own request's arena, and only
 * then are the members answered (an answer may end a request, and the first one's arena holds the
 * rows). One executor run and one index scan instead of one per request. */
#include "db/pg_int.h"

#include "mem/mem.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

enum { MAX_GROUP = 128 }; /* keys per statement */

bool db_pg_batchable(const struct pg_inst *p, const struct db_call *call)
{
    const struct crest_db_stmt *st = &call->stmts[0];
    return p->db->pipeline && call->n == 1 && st->batch && st->n_params == 1 &&
           st->params[0].type == CREST_DB_INT;
}

/* A member's rows: those whose key column holds its key, copied into its request's arena. */
static enum crest_db_status member_rows(struct db_call *m, const struct crest_db_result *all)
{
    struct db_alloc a = db_call_alloc(m);
    const struct crest_db_stmt *st = &m->stmts[0];
    int key = crest_db_col(all, st->batch->key_column);
    struct crest_db_result *r = a.alloc(a.ctx, sizeof(*r));
    if (!r || key < 0 || db_result_init(r, &a, all->n_cols) != 0)
        return key < 0 ? CREST_DB_INVALID : CREST_DB_UNAVAILABLE;
    for (size_t c = 0; c < all->n_cols; c++)
        if (db_result_name(r, &a, c, all->names[c].ptr, all->names[c].len) != 0)
            return CREST_DB_UNAVAILABLE;
    for (size_t row = 0; row < all->n_rows; row++) {
        if (crest_db_get_int(all, row, key) != st->params[0].i)
            continue;
        struct crest_db_value *to = db_result_row(r, &a);
        if (!to)
            return CREST_DB_UNAVAILABLE;
        for (size_t c = 0; c < all->n_cols; c++) {
            const struct crest_db_value *v = crest_db_get(all, row, (int)c);
            if (v->type != CREST_DB_TEXT && v->type != CREST_DB_BLOB)
                to[c] = *v;
            else if (db_value_copy(&to[c], &a, v->type, v->s.ptr, v->s.len) != 0)
                return CREST_DB_UNAVAILABLE;
        }
    }
    m->results = r;
    if ((st->flags & CREST_DB_ONE) && r->n_rows == 0)
        return CREST_DB_NOT_FOUND;
    return CREST_DB_OK;
}

/* The group's statement came back (or failed, or timed out): every member answered. */
static void group_done(struct crest_req *req, enum crest_db_status status,
                       const struct crest_db_result *results, size_t n, void *ud)
{
    struct db_call *members = ud;
    (void)req;
    (void)n;
    for (struct db_call *m = members; m; m = m->next)
        m->status = status == CREST_DB_OK ? member_rows(m, results) : status;
    while (members) {
        struct db_call *m = members;
        members = m->next;
        db_call_finish(m, CREST_DB_OK);
    }
}

/* One statement for members (linked by next): its call, with the array of their keys as $1. */
static struct db_call *group_call(struct db_call *members, size_t n)
{
    size_t cap = 2 + n * 21;
    char *keys = crest_req_alloc(members->req, cap);
    struct crest_db_value *param = crest_req_alloc(members->req, sizeof(*param));
    if (!keys || !param)
        return NULL;
    size_t len = 0;
    keys[len++] = '{';
    for (struct db_call *m = members; m; m = m->next)
        len += (size_t)snprintf(keys + len, cap - len, "%s%" PRId64, m == members ? "" : ",",
                                m->stmts[0].params[0].i);
    keys[len++] = '}';
    *param = crest_db_text(keys, len);
    const struct crest_db_stmt st = {
        .sql = members->stmts[0].batch->sql, .params = param, .n_params = 1};
    struct db_call *call = db_call_new(&st, 1);
    if (!call)
        return NULL;
    call->db = members->db;
    call->req = members->req;
    call->done = group_done;
    call->ud = members;
    call->start_us = members->start_us;
    call->worker = members->worker;
    return call;
}

/* The first group of the list (calls with the first one's batch, MAX_GROUP at most), unlinked. */
static struct db_call *take_group(struct db_call **list, size_t *n)
{
    struct db_call *head = *list, **tail = &head->next, **rest = list;
    const struct crest_db_batch *batch = head->stmts[0].batch;
    *rest = head->next;
    head->next = NULL;
    *n = 1;
    for (struct db_call **at = rest; *at && *n < MAX_GROUP;) {
        if ((*at)->stmts[0].batch != batch) {
            at = &(*at)->next;
            continue;
        }
        struct db_call *m = *at;
        *at = m->next;
        m->next = NULL;
        *tail = m;
        tail = &m->next;
        (*n)++;
    }
    return head;
}

static void send_turn(struct net_timer *t)
{
    struct pg_inst *p = t->ud;
    struct db_call *list = p->batched;
    p->batched = p->batched_tail = NULL;
    while (list) {
        size_t n;
        struct db_call *members = take_group(&list, &n), *call;
        if (n == 1) {
            db_pg_submit(p, members);
        } else if ((call = group_call(members, n))) {
            db_pg_submit(p, call);
        } else {
            group_done(members->req, CREST_DB_UNAVAILABLE, NULL, 0, members);
        }
    }
}

void db_pg_batch_add(struct pg_inst *p, struct db_call *call)
{
    call->next = NULL;
    if (p->batched_tail)
        p->batched_tail->next = call;
    else
        p->batched = call;
    p->batched_tail = call;
    p->turn_end.cb = send_turn;
    if (!p->turn_end.slot && net_timer_start(p->loop, &p->turn_end, 0) != 0)
        send_turn(&p->turn_end); /* no timer: send now rather than leave the call waiting */
}

void db_pg_batch_drop(struct pg_inst *p)
{
    net_timer_stop(p->loop, &p->turn_end);
    while (p->batched) {
        struct db_call *call = p->batched;
        p->batched = call->next;
        call->abandoned = true;
        db_call_finish(call, CREST_DB_UNAVAILABLE);
    }
    p->batched_tail = NULL;
}
