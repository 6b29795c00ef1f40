/* cli/mem.c: `crest mem URL [--diff] [--snapshot] [--token T]`: asks a running crest for
 * URL/debug/memory over a socket and prints it as a table in human units. Hosts are numeric (or
 * localhost), as for the server: the binary is static, and glibc's getaddrinfo would need NSS. It
 * reads crest's own compact JSON (top-level figures first, then "tags", objects without nesting),
 * not JSON in general: the CLI links only the public API, which has no parser. */
#define _GNU_SOURCE /* memmem */
#include "cli/mem.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

enum {
    IO_TIMEOUT_S = 5,
    RESPONSE_BYTES = 1 << 16, /* a report is about 2 KB */
};

struct mem_args {
    const char *url;
    const char *token;
    bool diff;
    bool snapshot;
};

struct target {
    struct sockaddr_storage addr;
    socklen_t addr_len;
    char authority[300]; /* host:port, for the Host header */
    char base[512];      /* the URL's path without a trailing '/' */
};

struct answer {
    int status;
    const char *body; /* NUL-terminated, inside the response buffer */
    const char *end;
};

static char response[RESPONSE_BYTES + 1];

static void usage(FILE *out)
{
    fprintf(out,
            "usage: crest mem URL [--diff] [--snapshot] [--token TOKEN]\n\n"
            "Prints the memory report of the crest serving at URL (http://HOST:PORT, numeric\n"
            "host), from its GET /debug/memory.\n\n"
            "  --diff           the change per tag since the server's snapshot\n"
            "  --snapshot       take the snapshot (POST /debug/memory/snapshot) first\n"
            "  --token TOKEN    for a server run with --debug-token (env CREST_DEBUG_TOKEN)\n");
}

static int parse_args(int argc, char **argv, struct mem_args *a)
{
    memset(a, 0, sizeof(*a));
    a->token = getenv("CREST_DEBUG_TOKEN");
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--diff") == 0) {
            a->diff = true;
        } else if (strcmp(argv[i], "--snapshot") == 0) {
            a->snapshot = true;
        } else if (strcmp(argv[i], "--token") == 0 && i + 1 < argc && *argv[i + 1]) {
            a->token = argv[++i];
        } else if (argv[i][0] == '-' || a->url) {
            fprintf(stderr, "crest mem: unexpected argument '%s' (see crest mem --help)\n",
                    argv[i]);
            return -EINVAL;
        } else {
            a->url = argv[i];
        }
    }
    if (!a->url) {
        fprintf(stderr, "crest mem: missing URL (e.g. crest mem http://127.0.0.1:8080)\n");
        return -EINVAL;
    }
    return 0;
}

/* ---- the URL and the request ---- */

static int set_address(struct target *t, const char *host, unsigned port)
{
    struct sockaddr_in *v4 = (struct sockaddr_in *)&t->addr;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&t->addr;

    memset(&t->addr, 0, sizeof(t->addr));
    if (strcmp(host, "localhost") == 0)
        host = "127.0.0.1";
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        t->addr_len = sizeof(*v4);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        t->addr_len = sizeof(*v6);
        return 0;
    }
    return -EINVAL;
}

/* http://HOST[:PORT][/base], HOST an IPv4 address, [IPv6] or localhost. */
static int parse_url(const char *url, struct target *t)
{
    char host[64];
    const char *p = url, *path, *colon;
    unsigned long port = 80;

    if (strncmp(p, "http://", 7) != 0)
        return -EINVAL;
    p += 7;
    path = p + strcspn(p, "/");
    if (*p == '[') {
        const char *close = memchr(p, ']', (size_t)(path - p));
        if (!close || (size_t)(close - p - 1) >= sizeof(host))
            return -EINVAL;
        memcpy(host, p + 1, (size_t)(close - p - 1));
        host[close - p - 1] = '\0';
        colon = close[1] == ':' ? close + 1 : NULL;
    } else {
        colon = memchr(p, ':', (size_t)(path - p));
        size_t len = (size_t)((colon ? colon : path) - p);
        if (len == 0 || len >= sizeof(host))
            return -EINVAL;
        memcpy(host, p, len);
        host[len] = '\0';
    }
    if (colon) {
        char *stop;
        port = strtoul(colon + 1, &stop, 10);
        if (stop != path || port == 0 || port > 65535)
            return -EINVAL;
    }
    size_t base_len = strlen(path);
    while (base_len && path[base_len - 1] == '/')
        base_len--;
    if (base_len >= sizeof(t->base) || set_address(t, host, (unsigned)port) != 0)
        return -EINVAL;
    memcpy(t->base, path, base_len);
    t->base[base_len] = '\0';
    snprintf(t->authority, sizeof(t->authority), "%.*s", (int)(path - p), p);
    return 0;
}

static int connect_to(const struct target *t)
{
    struct timeval tv = {.tv_sec = IO_TIMEOUT_S};
    int fd = socket(t->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    /* on Linux SO_SNDTIMEO bounds connect(2) too */
    if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
        connect(fd, (const struct sockaddr *)&t->addr, t->addr_len) != 0) {
        int e = errno == EINPROGRESS ? ETIMEDOUT : errno;
        close(fd);
        return -e;
    }
    return fd;
}

static int send_all(int fd, const char *p, size_t len)
{
    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EPIPE;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Reads until the server closes (we asked for Connection: close). Bytes read, or -errno. */
static ssize_t read_all(int fd)
{
    size_t len = 0;
    while (len < RESPONSE_BYTES) {
        ssize_t n = recv(fd, response + len, RESPONSE_BYTES - len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            break;
        len += (size_t)n;
    }
    response[len] = '\0';
    return (ssize_t)len;
}

static int parse_answer(size_t len, struct answer *a)
{
    const char *head_end = strstr(response, "\r\n\r\n");
    if (strncmp(response, "HTTP/1.", 7) != 0 || len < 12 || !head_end)
        return -EPROTO;
    a->status = atoi(response + 9);
    a->body = head_end + 4;
    a->end = response + len;
    return 0;
}

/* One request on a fresh connection; the answer lives in the static response buffer. */
static int fetch(const struct target *t, const char *method, const char *path, const char *token,
                 struct answer *a)
{
    char req[2048];
    int n = snprintf(req, sizeof(req),
                     "%s %s%s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n%s%s%s"
                     "Content-Length: 0\r\n\r\n",
                     method, t->base, path, t->authority, token ? "Authorization: Bearer " : "",
                     token ? token : "", token ? "\r\n" : "");
    if (n < 0 || (size_t)n >= sizeof(req))
        return -E2BIG;
    int fd = connect_to(t);
    if (fd < 0)
        return fd;
    int rc = send_all(fd, req, (size_t)n);
    ssize_t got = rc ? rc : read_all(fd);
    close(fd);
    if (got < 0)
        return (int)got;
    return parse_answer((size_t)got, a);
}

/* ---- reading crest's JSON ---- */

/* The number after "key": in [p, end) into *out. 0, or -ENOENT when absent or null. */
static int number(const char *p, const char *end, const char *key, double *out)
{
    char pat[64];
    int n = snprintf(pat, sizeof(pat), "\"%s\":", key);
    const char *k = memmem(p, (size_t)(end - p), pat, (size_t)n);
    if (!k)
        return -ENOENT;
    char *stop;
    *out = strtod(k + n, &stop);
    return stop != k + n && stop <= end ? 0 : -ENOENT;
}

static double num(const char *p, const char *end, const char *key)
{
    double v = 0;
    return number(p, end, key, &v) == 0 ? v : 0;
}

static int fmt_bytes(char *buf, size_t cap, double n, bool signed_)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    const char *sign = n < 0 ? "-" : signed_ && n > 0 ? "+" : "";
    double v = n < 0 ? -n : n;
    unsigned u = 0;
    while (v >= 1024.0 && u + 1 < sizeof(units) / sizeof(units[0])) {
        v /= 1024.0;
        u++;
    }
    return snprintf(buf, cap, u ? "%s%.1f%s" : "%s%.0f%s", sign, v, units[u]);
}

/* Calls row(name, object start, object end) for each object of the "tags" array. */
static int each_tag(const char *body, const char *end,
                    void (*row)(const char *name, int name_len, const char *p, const char *e))
{
    const char *p = strstr(body, "\"tags\":[");
    int rows = 0;
    if (!p)
        return -EPROTO;
    while ((p = strstr(p, "{\"tag\":\"")) && p < end) {
        const char *name = p + 8, *quote = strchr(name, '"'), *close = strchr(p, '}');
        if (!quote || !close)
            return -EPROTO;
        row(name, (int)(quote - name), p, close);
        rows++;
        p = close;
    }
    return rows ? 0 : -EPROTO;
}

/* ---- the tables ---- */

static void report_row(const char *name, int name_len, const char *p, const char *e)
{
    char live[32], peak[32], total[32];
    fmt_bytes(live, sizeof(live), num(p, e, "live_bytes"), false);
    fmt_bytes(peak, sizeof(peak), num(p, e, "peak_bytes"), false);
    fmt_bytes(total, sizeof(total), num(p, e, "total_allocated"), false);
    printf("%-10.*s %10s %10.0f %10s %10s\n", name_len, name, live, num(p, e, "live_blocks"), peak,
           total);
}

static int print_report(const struct answer *a)
{
    const char *tags = strstr(a->body, "\"tags\":[");
    char rss[32], peak[32], heap[32], tracked[32], limit[32] = "none";
    double v;

    if (!tags || number(a->body, tags, "tracked_bytes", &v) != 0)
        return -EPROTO;
    fmt_bytes(rss, sizeof(rss), num(a->body, tags, "rss_bytes"), false);
    fmt_bytes(peak, sizeof(peak), num(a->body, tags, "peak_rss_bytes"), false);
    fmt_bytes(heap, sizeof(heap), num(a->body, tags, "heap_in_use_bytes"), false);
    fmt_bytes(tracked, sizeof(tracked), v, false);
    if (number(a->body, tags, "memory_limit_bytes", &v) == 0)
        fmt_bytes(limit, sizeof(limit), v, false);
    printf("RSS %s  peak %s  heap %s  tracked %s  coverage %.1f%%  limit %s  shed %.0f\n\n", rss,
           peak, heap, tracked, 100.0 * num(a->body, tags, "coverage"), limit,
           num(a->body, tags, "shed_total"));
    printf("%-10s %10s %10s %10s %10s\n", "TAG", "LIVE", "BLOCKS", "PEAK", "TOTAL");
    return each_tag(a->body, a->end, report_row);
}

static void diff_row(const char *name, int name_len, const char *p, const char *e)
{
    char size[32], size_diff[32], total[32], count_diff[32];
    double dc = num(p, e, "count_diff");
    snprintf(count_diff, sizeof(count_diff), "%+.0f", dc);
    if (dc == 0)
        strcpy(count_diff, "0");
    fmt_bytes(size, sizeof(size), num(p, e, "size"), false);
    fmt_bytes(size_diff, sizeof(size_diff), num(p, e, "size_diff"), true);
    fmt_bytes(total, sizeof(total), num(p, e, "total_allocated_diff"), false);
    printf("%-10.*s %10s %11s %10.0f %10s %10s\n", name_len, name, size, size_diff,
           num(p, e, "count"), count_diff, total);
}

static int print_diff(const struct answer *a)
{
    const char *tags = strstr(a->body, "\"tags\":[");
    char rss[32], rss_diff[32], tracked[32], tracked_diff[32];
    double age;

    if (!tags || number(a->body, tags, "snapshot_age_seconds", &age) != 0)
        return -EPROTO;
    fmt_bytes(rss, sizeof(rss), num(a->body, tags, "rss_bytes"), false);
    fmt_bytes(rss_diff, sizeof(rss_diff), num(a->body, tags, "rss_diff"), true);
    fmt_bytes(tracked, sizeof(tracked), num(a->body, tags, "tracked_bytes"), false);
    fmt_bytes(tracked_diff, sizeof(tracked_diff), num(a->body, tags, "tracked_diff"), true);
    printf("since the snapshot (%.1f s ago): RSS %s (%s)  tracked %s (%s)\n\n", age, rss, rss_diff,
           tracked, tracked_diff);
    printf("%-10s %10s %11s %10s %10s %10s\n", "TAG", "SIZE", "SIZE DIFF", "COUNT", "COUNT DIFF",
           "ALLOCATED");
    return each_tag(a->body, a->end, diff_row);
}

/* ---- the command ---- */

/* Explains a status other than the one wanted. */
static int refused(const char *url, const char *what, const struct answer *a)
{
    if (a->status == 404)
        fprintf(stderr,
                "crest mem: %s%s answered 404: not a crest, or /debug is closed to this client "
                "(it answers loopback clients, or the --debug-token holder: pass --token)\n",
                url, what);
    else if (a->status == 409)
        fprintf(stderr, "crest mem: %s has no snapshot yet: run crest mem %s --snapshot first\n",
                url, url);
    else
        fprintf(stderr, "crest mem: %s%s answered %d: %.200s\n", url, what, a->status, a->body);
    return 1;
}

static int take_snapshot(const char *url, const struct target *t, const char *token)
{
    struct answer a;
    int rc = fetch(t, "POST", "/debug/memory/snapshot", token, &a);
    if (rc) {
        fprintf(stderr, "crest mem: cannot reach %s: %s\n", url, strerror(-rc));
        return 1;
    }
    if (a.status != 201)
        return refused(url, "/debug/memory/snapshot", &a);
    printf("snapshot taken\n");
    return 0;
}

int cli_mem_main(int argc, char **argv)
{
    struct mem_args args;
    struct target t;
    struct answer a;

    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
    }
    if (parse_args(argc, argv, &args) != 0)
        return 2;
    if (parse_url(args.url, &t) != 0) {
        fprintf(stderr,
                "crest mem: invalid URL '%s': expected http://HOST:PORT with a numeric "
                "host (an IPv4 address, [IPv6] or localhost)\n",
                args.url);
        return 2;
    }
    if (args.snapshot && take_snapshot(args.url, &t, args.token) != 0)
        return 1;
    if (args.snapshot && !args.diff)
        return 0;
    int rc = fetch(&t, "GET", args.diff ? "/debug/memory?diff=1" : "/debug/memory", args.token, &a);
    if (rc) {
        fprintf(stderr, "crest mem: cannot reach %s: %s\n", args.url, strerror(-rc));
        return 1;
    }
    if (a.status != 200)
        return refused(args.url, "/debug/memory", &a);
    rc = args.diff ? print_diff(&a) : print_report(&a);
    if (rc) {
        fprintf(stderr, "crest mem: %s/debug/memory did not answer a crest memory report\n",
                args.url);
        return 1;
    }
    return 0;
}
