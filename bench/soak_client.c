/* bench/soak_client.c: the load of bench/soak.py, a mixed items-API client that sends an exact
 * number of requests and checks every answer. Not part of crest: soak.py builds it with `cc -O2`
 * into bench/build/ and runs it once per phase (10k, to 100k, to 1M requests), carrying the
 * request counter over so the phases form one sequence.
 *
 * One thread, one epoll loop, --conns connections. A global counter picks each request's kind from
 * a fixed, shuffled table (reads, list pages, POST/PUT/PATCH/DELETE, chunked and long bodies,
 * invalid JSON and invalid fields (422), unknown ids and routes (404), 405, GET /json); a batch
 * counter makes every 10th batch a pipelined write of 2..16 requests and every 40th batch the
 * last on its connection: its request says "Connection: close" (or, one time in eight, is a
 * malformed request the server answers 400 and closes), and the client reconnects. Each answer's
 * status is checked against its kind; the ids used are 1..the highest id created so far.
 *
 * Run: soak_client PORT REQUESTS CONNS COUNTER BATCH MAX_ID
 * Prints one JSON object: responses, lost (requests whose connection broke), seconds, connects,
 * statuses, unexpected answers with an example, and counter/batch/max_id to continue from. Exits 0
 * when every request got an expected answer, 1 otherwise, 2 when the run stalls (no answer for
 * 15 s) or cannot connect. */

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum {
    MAX_DEPTH = 16,      /* deepest pipelined batch */
    OUT_CAP = 32 * 1024, /* one batch: 16 requests of at most ~1.2 KB */
    IN_CAP = 256 * 1024, /* answers read but not yet parsed */
    STALL_MS = 15000,    /* no answer for this long: give up */
    PIPELINE_EVERY = 10, /* every 10th batch is pipelined */
    CLOSE_EVERY = 40,    /* every 40th batch closes its connection */
    MALFORMED_EVERY = 8, /* one close batch in 8 ends with a malformed request instead */
    N_STATUS = 600,
    LIST_SPAN = 2000, /* list offsets stay below this: SQLite walks OFFSET rows one by one, and a
                         table grown by the soak would otherwise make list pages ever slower */
};

enum kind {
    K_GET,        /* GET /items/{id}, id in 1..max_id: 200, or 404 once deleted */
    K_LIST,       /* GET /items?offset&limit: 200 */
    K_POST,       /* POST /items, small valid body: 201 */
    K_POST_FULL,  /* POST /items with description, tax and tags: 201 */
    K_POST_CHUNK, /* POST /items, chunked body: 201 */
    K_POST_LONG,  /* POST /items, 900-character description: 201 */
    K_PUT,        /* PUT /items/{id}: 200 or 404 */
    K_PATCH,      /* PATCH /items/{id} {"price":..}: 200 or 404 */
    K_DELETE,     /* DELETE /items/{id}: 204 or 404 */
    K_BAD_JSON,   /* POST /items, malformed JSON: 422 */
    K_BAD_FIELDS, /* POST /items, every field wrong: 422 */
    K_BAD_PATCH,  /* PATCH /items/{id} {"price":"x","name":null}: 422 */
    K_EMPTY_BODY, /* POST /items without a body: 422 */
    K_BAD_PATH,   /* GET /items/abc: 422 */
    K_BAD_QUERY,  /* GET /items?limit=0: 422 */
    K_MISSING,    /* GET /items/{id beyond any}: 404 */
    K_NO_ROUTE,   /* GET /nowhere/{n}: 404 */
    K_METHOD,     /* DELETE /items: 405 */
    K_HELLO,      /* GET /json: 200 */
    K_MALFORMED,  /* a header line without a colon: 400, then the server closes */
    N_KINDS
};

static const char *const kind_name[N_KINDS] = {
    "get",       "list",    "post",     "post-full",  "post-chunked", "post-long",  "put",
    "patch",     "delete",  "bad-json", "bad-fields", "bad-patch",    "empty-body", "bad-path",
    "bad-query", "missing", "no-route", "method",     "hello",        "malformed"};

/* Statuses each kind may get (0-terminated). */
static const int expected[N_KINDS][3] = {
    [K_GET] = {200, 404},    [K_LIST] = {200},      [K_POST] = {201},       [K_POST_FULL] = {201},
    [K_POST_CHUNK] = {201},  [K_POST_LONG] = {201}, [K_PUT] = {200, 404},   [K_PATCH] = {200, 404},
    [K_DELETE] = {204, 404}, [K_BAD_JSON] = {422},  [K_BAD_FIELDS] = {422}, [K_BAD_PATCH] = {422},
    [K_EMPTY_BODY] = {422},  [K_BAD_PATH] = {422},  [K_BAD_QUERY] = {422},  [K_MISSING] = {404},
    [K_NO_ROUTE] = {404},    [K_METHOD] = {405},    [K_HELLO] = {200},      [K_MALFORMED] = {400},
};

/* Weights of the kinds a request counter picks from (K_MALFORMED comes from the batch counter):
 * ~55 % reads, ~20 % writes, ~17 % invalid (422), ~8 % 404/405. */
static const int weight[N_KINDS] = {
    [K_GET] = 42,       [K_LIST] = 5,      [K_POST] = 5,       [K_POST_FULL] = 2,
    [K_POST_CHUNK] = 1, [K_POST_LONG] = 1, [K_PUT] = 2,        [K_PATCH] = 4,
    [K_DELETE] = 4,     [K_BAD_JSON] = 4,  [K_BAD_FIELDS] = 4, [K_BAD_PATCH] = 3,
    [K_EMPTY_BODY] = 1, [K_BAD_PATH] = 2,  [K_BAD_QUERY] = 1,  [K_MISSING] = 4,
    [K_NO_ROUTE] = 3,   [K_METHOD] = 1,    [K_HELLO] = 3,
};

struct conn {
    int fd;
    bool connecting;
    bool close_after; /* the batch's last request ends the connection */
    bool idle;        /* nothing left to send: waits for the end of the run */
    uint32_t events;  /* what epoll watches for */
    int pending;      /* answers still owed for the batch */
    int first;        /* index in kinds[] of the next answer */
    uint8_t kinds[MAX_DEPTH];
    size_t out_len, out_off;
    size_t in_len;
    char out[OUT_CAP];
    char in[IN_CAP];
};

static struct sockaddr_in addr;
static struct conn *conns;
static int n_conns, ep;
static uint8_t table[256];
static int table_len;
static uint64_t total, issued, answered, lost, connects, unexpected;
static uint64_t counter, batch_no, max_id;
static uint64_t statuses[N_STATUS], by_kind[N_KINDS];
static uint64_t rng = 0x9e3779b97f4a7c15u;
static char example[200];
static char long_text[901];

static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void build_table(void)
{
    uint64_t seed = 12345;
    for (int k = 0; k < N_KINDS; k++)
        for (int i = 0; i < weight[k]; i++)
            table[table_len++] = (uint8_t)k;
    for (int i = table_len - 1; i > 0; i--) { /* a fixed shuffle: kinds interleave */
        seed = seed * 6364136223846793005u + 1442695040888963407u;
        int j = (int)((seed >> 33) % (uint64_t)(i + 1));
        uint8_t t = table[i];
        table[i] = table[j];
        table[j] = t;
    }
    memset(long_text, 'd', 900);
}

static uint64_t some_id(void)
{
    return max_id ? 1 + next_rand() % max_id : 1;
}

/* Appends one request of `kind` to c->out; `close` adds Connection: close. */
static void append_request(struct conn *c, enum kind kind, bool close)
{
    char *p = c->out + c->out_len;
    size_t room = OUT_CAP - c->out_len;
    const char *conn_hdr = close ? "Connection: close\r\n" : "";
    const char *method = "GET", *ctype = "Content-Type: application/json\r\n";
    char target[96], body[1200] = "";
    int n, blen = -1;
    double price = (double)(1 + next_rand() % 100000) / 100;

    switch (kind) {
    case K_GET:
        snprintf(target, sizeof(target), "/items/%llu", (unsigned long long)some_id());
        break;
    case K_LIST:
        snprintf(target, sizeof(target), "/items?offset=%llu&limit=%llu",
                 (unsigned long long)(next_rand() % (max_id < LIST_SPAN ? max_id + 1 : LIST_SPAN)),
                 (unsigned long long)(1 + next_rand() % 10));
        break;
    case K_POST:
        method = "POST";
        strcpy(target, "/items");
        blen = snprintf(body, sizeof(body), "{\"name\":\"soak %llu\",\"price\":%.2f}",
                        (unsigned long long)counter, price);
        break;
    case K_POST_FULL:
        method = "POST";
        strcpy(target, "/items");
        blen = snprintf(body, sizeof(body),
                        "{\"name\":\"full \\u00e9 %llu\",\"description\":\"a soak item\","
                        "\"price\":%.2f,\"tax\":0.5,\"tags\":[\"a\",\"b\",\"soak\"]}",
                        (unsigned long long)counter, price);
        break;
    case K_POST_LONG:
        method = "POST";
        strcpy(target, "/items");
        blen = snprintf(body, sizeof(body),
                        "{\"name\":\"long\",\"description\":\"%s\",\"price\":1}", long_text);
        break;
    case K_PUT:
        method = "PUT";
        snprintf(target, sizeof(target), "/items/%llu", (unsigned long long)some_id());
        blen =
            snprintf(body, sizeof(body), "{\"name\":\"put %llu\",\"price\":%.2f,\"tags\":[\"x\"]}",
                     (unsigned long long)counter, price);
        break;
    case K_PATCH:
        method = "PATCH";
        snprintf(target, sizeof(target), "/items/%llu", (unsigned long long)some_id());
        blen = snprintf(body, sizeof(body), "{\"price\":%.2f}", price);
        break;
    case K_DELETE:
        method = "DELETE";
        snprintf(target, sizeof(target), "/items/%llu", (unsigned long long)some_id());
        ctype = "";
        break;
    case K_BAD_JSON:
        method = "POST";
        strcpy(target, "/items");
        blen = snprintf(body, sizeof(body), "{\"name\":\"x\",\"price\":1,}");
        break;
    case K_BAD_FIELDS:
        method = "POST";
        strcpy(target, "/items");
        blen = snprintf(body, sizeof(body),
                        "{\"name\":\"\",\"price\":-1,\"tax\":\"no\",\"tags\":[1,\"\"],"
                        "\"description\":7}");
        break;
    case K_BAD_PATCH:
        method = "PATCH";
        snprintf(target, sizeof(target), "/items/%llu", (unsigned long long)some_id());
        blen = snprintf(body, sizeof(body), "{\"price\":\"x\",\"name\":null}");
        break;
    case K_EMPTY_BODY:
        method = "POST";
        strcpy(target, "/items");
        blen = 0;
        break;
    case K_BAD_PATH:
        strcpy(target, "/items/abc");
        break;
    case K_BAD_QUERY:
        strcpy(target, "/items?limit=0");
        break;
    case K_MISSING:
        snprintf(target, sizeof(target), "/items/%llu", (unsigned long long)(1000000000 + counter));
        break;
    case K_NO_ROUTE:
        snprintf(target, sizeof(target), "/nowhere/%llu", (unsigned long long)counter);
        break;
    case K_METHOD:
        method = "DELETE";
        strcpy(target, "/items");
        break;
    case K_HELLO:
        strcpy(target, "/json");
        break;
    case K_MALFORMED:
        n = snprintf(p, room, "GET /items/1 HTTP/1.1\r\nHost: soak\r\nno colon here\r\n\r\n");
        c->out_len += (size_t)n;
        return;
    case K_POST_CHUNK:
        blen = snprintf(body, sizeof(body), "{\"name\":\"chunked %llu\",\"price\":%.2f}",
                        (unsigned long long)counter, price);
        n = snprintf(p, room,
                     "POST /items HTTP/1.1\r\nHost: soak\r\n%sTransfer-Encoding: chunked\r\n%s\r\n"
                     "%x\r\n%.*s\r\n%x\r\n%s\r\n0\r\n\r\n",
                     ctype, conn_hdr, 10, 10, body, blen - 10, body + 10);
        c->out_len += (size_t)n;
        return;
    default:
        abort();
    }
    if (blen >= 0)
        n = snprintf(p, room, "%s %s HTTP/1.1\r\nHost: soak\r\n%sContent-Length: %d\r\n%s\r\n%s",
                     method, target, ctype, blen, conn_hdr, body);
    else
        n = snprintf(p, room, "%s %s HTTP/1.1\r\nHost: soak\r\n%s\r\n", method, target, conn_hdr);
    if (n < 0 || (size_t)n >= room)
        abort();
    c->out_len += (size_t)n;
}

static void set_events(struct conn *c, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = c};
    if (c->events == events)
        return;
    c->events = events;
    if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) != 0) {
        perror("epoll_ctl");
        exit(2);
    }
}

static void open_conn(struct conn *c)
{
    int one = 1;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (c->fd < 0) {
        perror("socket");
        exit(2);
    }
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->connecting = true;
    c->in_len = c->out_len = c->out_off = 0;
    c->pending = c->first = 0;
    c->close_after = c->idle = false;
    connects++;
    if (connect(c->fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 && errno != EINPROGRESS) {
        perror("connect");
        exit(2);
    }
    struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
    c->events = EPOLLOUT;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
        perror("epoll_ctl");
        exit(2);
    }
}

static void close_conn(struct conn *c)
{
    close(c->fd); /* also takes it out of epoll */
    c->fd = -1;
}

/* Fills c->out with the next batch, or marks c idle when every request has been issued. */
static void start_batch(struct conn *c)
{
    uint64_t b = batch_no++;
    int depth = 1;

    if (issued >= total) {
        c->idle = true;
        set_events(c, EPOLLIN);
        return;
    }
    if (b % PIPELINE_EVERY == 3)
        depth = 2 + (int)((b / PIPELINE_EVERY) % (MAX_DEPTH - 1));
    if ((uint64_t)depth > total - issued)
        depth = (int)(total - issued);
    bool closing = b % CLOSE_EVERY == 17;
    c->out_len = c->out_off = 0;
    c->first = 0;
    for (int i = 0; i < depth; i++) {
        bool last = i == depth - 1;
        enum kind k = (enum kind)table[counter % (uint64_t)table_len];
        if (last && closing && (b / CLOSE_EVERY) % MALFORMED_EVERY == 5)
            k = K_MALFORMED;
        append_request(c, k, last && closing && k != K_MALFORMED);
        c->kinds[i] = (uint8_t)k;
        counter++;
    }
    c->pending = depth;
    c->close_after = closing;
    issued += (uint64_t)depth;
    ssize_t n = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL); /* usually all of it at once */
    if (n > 0)
        c->out_off = (size_t)n;
    set_events(c, c->out_off == c->out_len ? EPOLLIN : EPOLLIN | EPOLLOUT);
}

static void note_unexpected(enum kind k, int status, const char *what)
{
    unexpected++;
    if (!example[0])
        snprintf(example, sizeof(example), "%s: %s %d", kind_name[k], what, status);
}

/* The connection broke with answers owed: they are lost; reconnect. */
static void broken(struct conn *c, const char *why)
{
    lost += (uint64_t)c->pending;
    answered += (uint64_t)c->pending;
    if (c->pending && !example[0])
        snprintf(example, sizeof(example), "%s: connection %s with %d answers owed",
                 kind_name[c->kinds[c->first]], why, c->pending);
    c->pending = 0;
    close_conn(c);
    open_conn(c);
}

static size_t header_value(const char *head, size_t len, const char *name, const char **value)
{
    size_t nlen = strlen(name);
    for (const char *p = head; p && p < head + len;) {
        const char *eol = memmem(p, (size_t)(head + len - p), "\r\n", 2);
        if (!eol)
            break;
        if ((size_t)(eol - p) > nlen && strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
            const char *v = p + nlen + 1;
            while (v < eol && *v == ' ')
                v++;
            *value = v;
            return (size_t)(eol - v);
        }
        p = eol + 2;
    }
    return 0;
}

/* Parses the answers in c->in; returns false when the connection is done (closed/reopened). */
static bool parse_answers(struct conn *c)
{
    size_t off = 0;
    bool server_closes = false;

    while (c->pending > 0) {
        char *start = c->in + off;
        size_t avail = c->in_len - off;
        char *end = memmem(start, avail, "\r\n\r\n", 4);
        if (!end)
            break;
        size_t head_len = (size_t)(end - start) + 4;
        const char *v;
        size_t vlen, body = 0;
        enum kind k = (enum kind)c->kinds[c->first];
        if (avail < 12 || memcmp(start, "HTTP/1.1 ", 9) != 0) {
            note_unexpected(k, 0, "not an HTTP/1.1 answer");
            broken(c, "garbled");
            return false;
        }
        int status = atoi(start + 9);
        if ((vlen = header_value(start, head_len, "content-length", &v)) > 0)
            body = strtoul(v, NULL, 10);
        if (avail < head_len + body)
            break;
        if ((vlen = header_value(start, head_len, "connection", &v)) > 0 && vlen >= 5 &&
            strncasecmp(v, "close", 5) == 0)
            server_closes = true;
        if (status == 201 && (vlen = header_value(start, head_len, "location", &v)) > 7) {
            uint64_t id = strtoull(v + 7, NULL, 10); /* "/items/N" */
            if (id > max_id)
                max_id = id;
        }
        statuses[status > 0 && status < N_STATUS ? status : 0]++;
        by_kind[k]++;
        bool ok = false;
        for (int i = 0; i < 3 && expected[k][i]; i++)
            ok |= expected[k][i] == status;
        if (!ok)
            note_unexpected(k, status, "answered");
        off += head_len + body;
        c->pending--;
        c->first++;
        answered++;
        if (server_closes && c->pending > 0) {
            broken(c, "closed by the server");
            return false;
        }
    }
    memmove(c->in, c->in + off, c->in_len - off);
    c->in_len -= off;
    if (c->pending == 0) {
        if (c->in_len) {
            note_unexpected((enum kind)c->kinds[0], 0, "bytes after the last answer, status");
            c->in_len = 0;
        }
        if (c->close_after || server_closes) {
            if (!server_closes)
                note_unexpected((enum kind)c->kinds[c->first - 1], 0,
                                "no Connection: close after a close request, status");
            close_conn(c);
            open_conn(c);
            return false;
        }
        start_batch(c);
    }
    return true;
}

static void on_event(struct conn *c, uint32_t events)
{
    if (c->connecting) {
        int err = 0;
        socklen_t len = sizeof(err);
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) {
            fprintf(stderr, "soak_client: connect: %s\n", strerror(err));
            exit(2);
        }
        c->connecting = false;
        start_batch(c);
        return;
    }
    if ((events & EPOLLOUT) && c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN) {
            broken(c, "reset while sending");
            return;
        }
        if (n > 0)
            c->out_off += (size_t)n;
        if (c->out_off == c->out_len)
            set_events(c, EPOLLIN);
    }
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        for (;;) {
            if (c->in_len == IN_CAP) {
                note_unexpected((enum kind)c->kinds[c->first], 0, "answer too long");
                broken(c, "overflowed");
                return;
            }
            ssize_t n = recv(c->fd, c->in + c->in_len, IN_CAP - c->in_len, 0);
            if (n < 0 && errno == EAGAIN)
                return;
            if (n <= 0) {
                if (c->idle) {
                    close_conn(c); /* the server's keep-alive timeout: fine at the end */
                    c->pending = 0;
                    return;
                }
                broken(c, n == 0 ? "closed by the server" : "reset");
                return;
            }
            c->in_len += (size_t)n;
            if (!parse_answers(c))
                return;
            if (c->idle)
                return;
        }
    }
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: soak_client PORT REQUESTS CONNS COUNTER BATCH MAX_ID\n");
        return 2;
    }
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)atoi(argv[1]));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    total = strtoull(argv[2], NULL, 10);
    n_conns = atoi(argv[3]);
    counter = strtoull(argv[4], NULL, 10);
    batch_no = strtoull(argv[5], NULL, 10);
    max_id = strtoull(argv[6], NULL, 10);
    rng ^= counter * 0x2545F4914F6CDD1Du;
    if (n_conns < 1 || total < 1)
        return 2;
    build_table();
    conns = calloc((size_t)n_conns, sizeof(*conns));
    ep = epoll_create1(0);
    if (!conns || ep < 0)
        return 2;
    uint64_t t0 = now_ms(), last_progress = t0, last_answered = 0;
    for (int i = 0; i < n_conns; i++)
        open_conn(&conns[i]);
    struct epoll_event evs[256];
    while (answered < total) {
        int n = epoll_wait(ep, evs, 256, 1000);
        if (n < 0 && errno != EINTR) {
            perror("epoll_wait");
            return 2;
        }
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (c->fd >= 0)
                on_event(c, evs[i].events);
        }
        uint64_t t = now_ms();
        if (answered != last_answered) {
            last_answered = answered;
            last_progress = t;
        } else if (t - last_progress > STALL_MS) {
            snprintf(example, sizeof(example), "stalled: no answer for %d s", STALL_MS / 1000);
            break;
        }
    }
    double seconds = (double)(now_ms() - t0) / 1000;
    for (int i = 0; i < n_conns; i++)
        if (conns[i].fd >= 0)
            close_conn(&conns[i]);
    bool stalled = answered < total;

    printf("{\"responses\":%llu,\"lost\":%llu,\"unexpected\":%llu,\"seconds\":%.3f,"
           "\"connects\":%llu,\"counter\":%llu,\"batch\":%llu,\"max_id\":%llu,\"example\":\"",
           (unsigned long long)answered, (unsigned long long)lost, (unsigned long long)unexpected,
           seconds, (unsigned long long)connects, (unsigned long long)counter,
           (unsigned long long)batch_no, (unsigned long long)max_id);
    for (const char *p = example; *p; p++)
        if (*p != '"' && *p != '\\')
            putchar(*p);
    printf("\",\"statuses\":{");
    const char *sep = "";
    for (int s = 0; s < N_STATUS; s++)
        if (statuses[s]) {
            printf("%s\"%d\":%llu", sep, s, (unsigned long long)statuses[s]);
            sep = ",";
        }
    printf("},\"kinds\":{");
    sep = "";
    for (int k = 0; k < N_KINDS; k++)
        if (by_kind[k]) {
            printf("%s\"%s\":%llu", sep, kind_name[k], (unsigned long long)by_kind[k]);
            sep = ",";
        }
    printf("}}\n");
    return stalled ? 2 : (lost || unexpected) ? 1 : 0;
}
