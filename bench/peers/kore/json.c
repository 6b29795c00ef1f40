/* bench/peers/kore/json.c: a kore 4 application (Debian's kore loads it as a shared object named
 * by the configuration bench/compare.py writes) serving GET /json -> {"message":"Hello, World!"}.
 * The body is a constant, as in the other C peers: kore's own cost per request is measured. */
#include <kore/kore.h>

#include <kore/http.h> /* after kore.h, which it needs */

int page(struct http_request *req);

int page(struct http_request *req)
{
    static const char body[] = "{\"message\":\"Hello, World!\"}";

    http_response_header(req, "content-type", "application/json");
    http_response(req, 200, body, sizeof(body) - 1);
    return KORE_RESULT_OK;
}
