/* examples/upstream.c: an application that waits on other things than its own clients, written
 * only against crest.h, on the worker's loop (crest_req_loop) and the pool for blocking calls:
 *
 *   GET /upstream/{path}   asks an HTTP upstream (--upstream HOST:PORT) for /{path} over a
 *                          non-blocking socket in the worker's loop (crest_watch_*), within 5 s
 *                          (crest_timer_*), and answers its body; 502 when the upstream fails,
 *                          504 when it is too slow. The worker serves other requests meanwhile.
 *   GET /resolve?host=NAME resolves NAME with getaddrinfo, which blocks, on the pool
 *                          (crest_work_queue): {"host": NAME, "addresses": [...]}; 503 when the
 *                          pool's queue is full.
 *   GET /json, /healthz    crest's built-in routes.
 *
 *     upstream --host 127.0.0.1 --port 8000 --upstream 127.0.0.1:9000
 *              (and the engine's other flags: --help lists them)
 */
#define _GNU_SOURCE /* memmem */
#include <crest.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { UPSTREAM_MAX_BYTES = 64 * 1024, UPSTREAM_TIMEOUT_MS = 5000 };

static struct sockaddr_in upstream_addr;

/* An error answer; if even that cannot be written, crest answers 503 itself. */
static enum crest_handler_result answer(struct crest_req *req, int status, const char *detail)
{
    int err = crest_res_error(req, status, detail);
    (void)err;
    return CREST_DONE;
}

/* ---- GET /upstream/{path}: a client of another server, in the worker's loop ---- */

struct fetch {
    struct crest_req *req;
    int fd;
    struct crest_watch *watch;
    struct crest_timer *timer;
    char request[512];
    size_t sent, request_len;
    char *reply; /* UPSTREAM_MAX_BYTES in the request's arena */
    size_t got;
};

/* Ends the exchange: the socket and handles go, then the response is complete. */
static void fetch_end(struct fetch *f, int status, const char *detail)
{
    crest_watch_stop(f->watch);
    crest_timer_stop(f->timer);
    close(f->fd);
    if (detail) {
        int err = crest_res_error(f->req, status, detail);
        (void)err; /* an error that cannot be written leaves crest's own 503 */
    } else {
        const char *body = memmem(f->reply, f->got, "\r\n\r\n", 4);
        body = body ? body + 4 : f->reply + f->got;
        int err = crest_res_body(f->req, "application/octet-stream", body,
                                 (size_t)(f->reply + f->got - body));
        (void)err;
    }
    crest_req_finish(f->req);
}

static void on_socket(struct crest_watch *w, int fd, unsigned events, void *ud)
{
    struct fetch *f = ud;
    (void)w;
    if (f->sent < f->request_len && (events & CREST_WRITABLE)) {
        ssize_t n = send(fd, f->request + f->sent, f->request_len - f->sent, MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN)
            return fetch_end(f, 502, "Upstream unreachable");
        f->sent += n > 0 ? (size_t)n : 0;
        if (f->sent == f->request_len && crest_watch_change(f->watch, CREST_READABLE) != 0)
            return fetch_end(f, 502, "Upstream unreachable");
        return;
    }
    if (!(events & CREST_READABLE))
        return;
    ssize_t n = recv(fd, f->reply + f->got, UPSTREAM_MAX_BYTES - f->got, 0);
    if (n < 0 && errno == EAGAIN)
        return;
    if (n < 0)
        return fetch_end(f, 502, "Upstream connection failed");
    f->got += (size_t)n;
    if (n == 0) /* HTTP/1.0: the upstream closes after its answer */
        return fetch_end(f, 200, NULL);
    if (f->got == UPSTREAM_MAX_BYTES)
        return fetch_end(f, 502, "Upstream answer too large");
}

static void on_timeout(struct crest_timer *t, void *ud)
{
    (void)t;
    fetch_end(ud, 504, "Upstream timed out");
}

static enum crest_handler_result fetch(struct crest_req *req, void *ud)
{
    struct crest_str path;
    struct fetch *f = crest_req_alloc(req, sizeof(*f));
    (void)ud;

    if (!f || crest_path_str(req, "path", &path) != 0)
        return answer(req, 503, "Out of memory");
    memset(f, 0, sizeof(*f));
    f->req = req;
    f->reply = crest_req_alloc(req, UPSTREAM_MAX_BYTES);
    int len = snprintf(f->request, sizeof(f->request),
                       "GET /%.*s HTTP/1.0\r\nHost: upstream\r\n\r\n", (int)path.len, path.ptr);
    f->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (!f->reply || len < 0 || (size_t)len >= sizeof(f->request) || f->fd < 0) {
        if (f->fd >= 0)
            close(f->fd);
        return answer(req, 503, "Cannot reach the upstream");
    }
    f->request_len = (size_t)len;
    if (connect(f->fd, (struct sockaddr *)&upstream_addr, sizeof(upstream_addr)) != 0 &&
        errno != EINPROGRESS) {
        close(f->fd);
        return answer(req, 502, "Upstream unreachable");
    }
    struct crest_loop *loop = crest_req_loop(req);
    if (crest_watch_start(loop, f->fd, CREST_WRITABLE, on_socket, f, &f->watch) != 0 ||
        crest_timer_start(loop, UPSTREAM_TIMEOUT_MS, 0, on_timeout, f, &f->timer) != 0) {
        crest_watch_stop(f->watch);
        close(f->fd);
        return answer(req, 503, "Out of memory");
    }
    return CREST_PENDING;
}

/* ---- GET /resolve: a blocking call on the pool ---- */

struct resolve {
    struct crest_req *req;
    char host[256];
    int rc; /* getaddrinfo's */
    char addresses[8][INET6_ADDRSTRLEN];
    int n;
};

static void resolve_work(void *ud) /* on a pool thread: no crest_ call here */
{
    struct resolve *r = ud;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;
    r->rc = getaddrinfo(r->host, NULL, &hints, &res);
    if (r->rc)
        return;
    for (struct addrinfo *a = res; a && r->n < 8; a = a->ai_next) {
        const void *ip = a->ai_family == AF_INET
                             ? (const void *)&((struct sockaddr_in *)a->ai_addr)->sin_addr
                             : (const void *)&((struct sockaddr_in6 *)a->ai_addr)->sin6_addr;
        if (inet_ntop(a->ai_family, ip, r->addresses[r->n], sizeof(r->addresses[0])))
            r->n++;
    }
    freeaddrinfo(res);
}

static void resolve_done(void *ud, int status) /* on the worker again */
{
    struct resolve *r = ud;
    if (status == 0) { /* -ECANCELED: the server is stopping and the request is gone */
        if (r->rc) {
            int err = crest_res_error(r->req, 404, gai_strerror(r->rc));
            (void)err;
        } else {
            struct crest_json *j = crest_res_json(r->req, 200);
            crest_json_object_begin(j);
            crest_json_key(j, "host");
            crest_json_string(j, r->host);
            crest_json_key(j, "addresses");
            crest_json_array_begin(j);
            for (int i = 0; i < r->n; i++)
                crest_json_string(j, r->addresses[i]);
            crest_json_array_end(j);
            crest_json_object_end(j);
        }
        crest_req_finish(r->req);
    }
    free(r); /* the pool's job outlives no request, but the context is the application's */
}

static enum crest_handler_result resolve(struct crest_req *req, void *ud)
{
    struct crest_str host = crest_param_str(req, "host");
    struct resolve *r = calloc(1, sizeof(*r));
    (void)ud;

    if (!r)
        return answer(req, 503, "Out of memory");
    r->req = req;
    snprintf(r->host, sizeof(r->host), "%.*s", (int)host.len, host.ptr);
    int err = crest_work_queue(crest_req_loop(req), resolve_work, resolve_done, r);
    if (err) {
        free(r);
        return answer(req, 503, err == -EBUSY ? "Busy" : "Out of memory");
    }
    return CREST_PENDING;
}

/* ---- the app ---- */

static const struct crest_param resolve_params[] = {
    {.name = "host",
     .in = CREST_IN_QUERY,
     .type = CREST_TYPE_STRING,
     .required = true,
     .min_length = CREST_LIMIT(1),
     .max_length = CREST_LIMIT(253)},
};

static int parse_upstream(const char *text)
{
    char host[64];
    unsigned port;
    if (sscanf(text, "%63[^:]:%u", host, &port) != 2 || port == 0 || port > 65535)
        return -EINVAL;
    upstream_addr.sin_family = AF_INET;
    upstream_addr.sin_port = htons((uint16_t)port);
    return inet_pton(AF_INET, host, &upstream_addr.sin_addr) == 1 ? 0 : -EINVAL;
}

int main(int argc, char **argv)
{
    struct crest_config cfg;
    char err[CREST_ERR_LEN];
    const struct crest_route routes[] = {
        {.method = "GET",
         .path = "/upstream/{path}",
         .handler = fetch,
         .summary = "An upstream's answer"},
        {.method = "GET",
         .path = "/resolve",
         .handler = resolve,
         .params = resolve_params,
         .n_params = 1,
         .summary = "Addresses of a host name"},
    };
    const char *upstream = "127.0.0.1:9000";
    const struct crest_arg args[] = {
        {"--upstream", CREST_ARG_STRING, &upstream, NULL, "IPV4:PORT to ask (127.0.0.1:9000)"}};

    crest_config_defaults(&cfg);
    int rc = crest_config_args(&cfg, argc, argv, args, 1, err);
    if (rc == 0 && (rc = parse_upstream(upstream)) != 0)
        snprintf(err, CREST_ERR_LEN, "invalid value for --upstream: '%s' (IPV4:PORT)", upstream);
    if (rc != 0) /* 1: --help printed the flags */
        return rc > 0 ? 0 : (fprintf(stderr, "upstream: %s\n", err), 2);
    struct crest_app *app = crest_app_new("upstream", "1.0");
    if (!app || crest_app_add_builtin_routes(app) != 0) {
        fprintf(stderr, "upstream: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (crest_app_add_route(app, &routes[i], err) != 0) {
            fprintf(stderr, "upstream: %s\n", err);
            return 1;
        }
    }
    rc = crest_serve(app, &cfg, err);
    if (rc != 0)
        fprintf(stderr, "upstream: %s\n", err);
    crest_app_free(app);
    return rc ? 1 : 0;
}
