/* app/app.h: the application layer's types: an app (its routes), the request handlers see
 * (struct crest_req: the HTTP request plus what routing found), and the dispatcher http calls. */
#ifndef CREST_APP_APP_H
#define CREST_APP_APP_H

#include "app/router.h"
#include "crest.h"
#include "http/request.h"

struct crest_app {
    char *title;
    char *version;
    struct app_router router;
};

struct crest_req {
    struct http_request http; /* first: http hands us a struct http_request * */
    struct app_match match;
    struct crest_json *json; /* the body writer, once crest_res_json was called */
};

/* http_handle_fn: routes a complete request and runs its handler (or answers 404/405/422/501). */
void app_dispatch(void *app, struct http_request *req);

#endif
