/* req/path.c: a request's path parameters by name (crest_path_*), percent-decoded by the router
 * when it matched; integers parsed on demand, since the router only checked their shape. */
#include "req/req.h"

#include <errno.h>
#include <string.h>

static const struct route_param *find_param(const struct crest_req *req, const char *name)
{
    size_t len = strlen(name);
    for (uint8_t i = 0; i < req->match.n_params; i++) {
        const struct route_param *p = &req->match.params[i];
        if (p->segment->len == len && memcmp(p->segment->text, name, len) == 0)
            return p;
    }
    return NULL;
}

CREST_API int crest_path_str(const struct crest_req *req, const char *name, struct crest_str *out)
{
    const struct route_param *p = find_param(req, name);
    if (!p)
        return -ENOENT;
    *out = p->value;
    return 0;
}

CREST_API int crest_path_int(const struct crest_req *req, const char *name, int64_t *out)
{
    const struct route_param *p = find_param(req, name);
    if (!p)
        return -ENOENT;
    return req_scalar_int64(p->value.ptr, p->value.len, out);
}
