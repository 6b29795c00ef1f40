/* bench/ref_server.c: the "limit" server of shared/ANCHORS.md, the ceiling crest is measured
 * against. One thread, one level-triggered epoll loop and no parsing: every "\r\n\r\n" in a
 * connection's byte stream counts as one request and is answered with the same canned 200, and all
 * answers owed after one read leave in one write. Whatever it reaches is what this machine's
 * syscalls allow for GET /json. Not part of crest: bench/engine.py builds it with `cc -O2` into
 * bench/build/ and runs it as `ref_server PORT` (listens on 127.0.0.1). */

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

/* A fixed Date is enough here: rendering it once a second is crest's cost, not the ceiling's. */
#define RESPONSE                              \
    "HTTP/1.1 200 OK\r\n"                     \
    "Server: ref\r\n"                         \
    "Date: Tue, 24 Nov 2026 12:00:00 GMT\r\n" \
    "Content-Type: application/json\r\n"      \
    "Content-Length: 27\r\n"                  \
    "\r\n"                                    \
    "{\"message\":\"Hello, World!\"}"

enum {
    RESP_LEN = sizeof(RESPONSE) - 1,
    N_REPEAT = 1024, /* answers one write may carry; a 64 KiB read holds at most ~1,500 */
    READ_BYTES = 64 * 1024,
    MAX_EVENTS = 512,
    BACKLOG = 4096,
};

/* What the loop keeps per fd: 16 bytes, in one fd-indexed array (lwan's layout). */
struct conn {
    uint64_t owed_bytes; /* bytes of the endless repeat of RESPONSE not yet written */
    char tail[3];        /* last 3 bytes read, so a "\r\n\r\n" split across reads still counts */
    uint8_t is_writing;  /* EPOLLOUT armed, reads paused until owed_bytes reaches 0 */
};

_Static_assert(sizeof(struct conn) == 16, "struct conn grew");

/* N_REPEAT + 1 copies, so a write may start at any offset into an answer and still find
 * N_REPEAT whole answers after it. */
static char out_buf[(N_REPEAT + 1) * RESP_LEN];
static char in_buf[READ_BYTES];
static struct conn *conns;
static size_t n_conns;

/* Counts the "\r\n\r\n" that end inside buf[0..len), including those begun in the last read. */
static uint64_t count_ends(struct conn *c, const char *buf, size_t len)
{
    char head[6];
    size_t n_head = len < 3 ? len : 3;
    uint64_t n = 0;

    memcpy(head, c->tail, 3);
    memcpy(head + 3, buf, n_head);
    for (size_t i = 3; i < 3 + n_head; i++)
        n += memcmp(head + i - 3, "\r\n\r\n", 4) == 0;
    /* From byte 3 on, the 4 bytes ending at a '\n' are all in buf: memchr skips the rest. */
    if (len > 3) {
        const char *end = buf + len;
        for (const char *p = buf + 3; (p = memchr(p, '\n', (size_t)(end - p))) != NULL; p++)
            n += memcmp(p - 3, "\r\n\r\n", 4) == 0;
        memcpy(c->tail, end - 3, 3);
    } else {
        memcpy(c->tail, head + n_head, 3);
    }
    return n;
}

/* Writes what c owes until done or the socket is full. Returns 0, or -1 when the peer is gone. */
static int flush(int fd, struct conn *c)
{
    while (c->owed_bytes) {
        size_t off = (RESP_LEN - c->owed_bytes % RESP_LEN) % RESP_LEN;
        size_t n = c->owed_bytes < (uint64_t)N_REPEAT * RESP_LEN ? (size_t)c->owed_bytes
                                                                 : (size_t)N_REPEAT * RESP_LEN;
        ssize_t w = write(fd, out_buf + off, n);
        if (w < 0) {
            if (errno == EAGAIN)
                return 0;
            if (errno == EINTR)
                continue;
            return -1;
        }
        c->owed_bytes -= (uint64_t)w;
    }
    return 0;
}

static void close_conn(int fd)
{
    memset(&conns[fd], 0, sizeof(conns[fd]));
    close(fd); /* also drops it from the epoll set: nothing else holds the fd */
}

static int watch(int ep, int op, int fd, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.fd = fd};
    return epoll_ctl(ep, op, fd, &ev);
}

static void accept_all(int ep, int lfd)
{
    static const int one = 1;

    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            return; /* EAGAIN, or EMFILE: the loop comes back while the backlog is non-empty */
        }
        if ((size_t)fd >= n_conns || watch(ep, EPOLL_CTL_ADD, fd, EPOLLIN) < 0) {
            close(fd);
            continue;
        }
        /* Answers leave in one write per read: Nagle would only delay the last one. */
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        memset(&conns[fd], 0, sizeof(conns[fd]));
    }
}

/* One readiness event on a connection: level-triggered, so one read each time (a second read
 * would mostly return EAGAIN); whatever is left in the socket raises the next event. */
static void serve(int ep, int fd)
{
    struct conn *c = &conns[fd];

    if (c->is_writing) {
        if (flush(fd, c) < 0) {
            close_conn(fd);
        } else if (!c->owed_bytes) {
            c->is_writing = 0;
            if (watch(ep, EPOLL_CTL_MOD, fd, EPOLLIN) < 0)
                close_conn(fd);
        }
        return;
    }
    ssize_t r = read(fd, in_buf, sizeof(in_buf));
    if (r <= 0) {
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        close_conn(fd);
        return;
    }
    c->owed_bytes += count_ends(c, in_buf, (size_t)r) * RESP_LEN;
    if (flush(fd, c) < 0) {
        close_conn(fd);
    } else if (c->owed_bytes) {
        /* The socket is full: stop reading until the peer drains it, so nothing piles up. */
        c->is_writing = 1;
        if (watch(ep, EPOLL_CTL_MOD, fd, EPOLLOUT) < 0)
            close_conn(fd);
    }
}

static int listen_on(int port)
{
    static const int one = 1;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0) {
        perror("socket");
        return -1;
    }
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        perror("bind");
        close(fd);
        return -1;
    }
    if (listen(fd, BACKLOG) < 0) {
        perror("listen");
        close(fd);
        return -1;
    }
    return fd;
}

int main(int argc, char **argv)
{
    static struct epoll_event events[MAX_EVENTS];
    struct rlimit lim;
    int port = argc == 2 ? atoi(argv[1]) : 0;

    if (port <= 0 || port > 65535) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    if (getrlimit(RLIMIT_NOFILE, &lim) == 0) {
        lim.rlim_cur = lim.rlim_max;
        setrlimit(RLIMIT_NOFILE, &lim);
        getrlimit(RLIMIT_NOFILE, &lim);
    }
    /* Untouched pages of this array cost no RSS: only fds in use fault theirs in. */
    n_conns = lim.rlim_cur > (1u << 20) ? (1u << 20) : (size_t)lim.rlim_cur;
    conns = calloc(n_conns, sizeof(*conns));
    if (!conns) {
        perror("calloc");
        return 1;
    }
    for (int i = 0; i <= N_REPEAT; i++)
        memcpy(out_buf + (size_t)i * RESP_LEN, RESPONSE, RESP_LEN);

    int lfd = listen_on(port);
    if (lfd < 0)
        return 1;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0 || watch(ep, EPOLL_CTL_ADD, lfd, EPOLLIN) < 0) {
        perror("epoll");
        return 1;
    }
    for (;;) {
        int n = epoll_wait(ep, events, MAX_EVENTS, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            if (events[i].data.fd == lfd)
                accept_all(ep, lfd);
            else
                serve(ep, events[i].data.fd);
        }
    }
}
