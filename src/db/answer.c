/* src/db/answer.c: a handler's whole answer from one statement (crest_db_answer), the way a
 * FastAPI handler returns its rows and lets an exception become the error: the rows go out through
 * the route's response schema with the route's status, a failed call as crest_db_http_status with
 * the application's own words where it gave them. Written once here so that no application keeps
 * its own copy of this callback (the notes example had one of 28 lines). */
#include "db/db.h"
#include "req/req.h"

#include <errno.h>
#include <stdint.h>

static int route_status(const struct crest_req *req)
{
    const struct crest_route *def = req->match.route ? &req->match.route->def : NULL;
    return def && def->status ? def->status : 200;
}

static int answer_error(struct crest_req *req, enum crest_db_status st,
                        const struct crest_db_errors *errors)
{
    const char *detail = errors && (unsigned)st < CREST_DB_N_STATUS && errors->detail[st]
                             ? errors->detail[st]
                             : crest_db_status_text(st);
    int status = crest_db_http_status(st), rc = crest_res_error(req, status, detail);
    if (rc == 0 && status == 503)
        rc = crest_res_header(req, "Retry-After", "1");
    return rc;
}

static void answered(struct crest_req *req, enum crest_db_status st,
                     const struct crest_db_result *results, size_t n, void *ud)
{
    int status = route_status(req), rc = 0;
    if (st != CREST_DB_OK)
        rc = answer_error(req, st, ud);
    else if (status == 204 || status == 304)
        crest_res_status(req, status);
    else
        rc = crest_res_rows(req, status, &results[n - 1]);
    if (rc == -ENOENT) /* an object's route and no row, without CREST_DB_ONE */
        rc = answer_error(req, CREST_DB_NOT_FOUND, ud);
    if (rc == -ENOMEM)
        req_response_oom(req);
    else if (rc != 0) /* the route has no response schema to write rows with */
        rc = crest_res_error(req, 500, "Internal Server Error");
    (void)rc; /* a 500 that did not fit: the status line is set */
    crest_req_finish(req);
}

CREST_API enum crest_handler_result crest_db_answer(struct crest_req *req, struct crest_db *db,
                                                    const char *sql,
                                                    const struct crest_db_value *params,
                                                    size_t n_params, unsigned flags,
                                                    const struct crest_db_errors *errors)
{
    int rc = crest_db_query(req, db, sql, params, n_params, flags, answered, (void *)errors);
    if (rc == 0)
        return CREST_PENDING;
    if (rc == -ENOMEM)
        req_response_oom(req);
    else if (crest_res_error(req, 500, "Internal Server Error") != 0)
        crest_res_status(req, 500);
    return CREST_DONE;
}
