/* http/hub.c: cross-worker publishing (http/hub.h). The publisher only takes the hub's lock to
 * put a reference into each slot's inbox and writes each slot's eventfd; the worker's loop then
 * hands the message to its members' queues, so a member's state is only ever touched by its own
 * worker, and a message is encoded once whatever the number of members or workers. */
#include "http/hub.h"

#include "net/loop.h"
#include "net/worker.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

enum { HUB_INBOX_BYTES = 1 << 20 };

struct http_hub_slot {
    struct net_watch watch; /* first: the loop hands it back */
    struct net_handle handle;
    struct net_loop *loop;
    struct http_hub *hub;        /* NULL once the hub is freed */
    struct http_tunnel *members; /* this worker's, linked by hub_prev/hub_next */
    struct http_qnode *inbox;    /* under the hub's lock, newest first */
    size_t inbox_bytes; /* bounded: a publisher faster than the worker delivers is refused */
    struct http_hub_slot *next; /* the hub's slots, under its lock */
};

struct http_hub {
    pthread_mutex_t lock;
    struct http_hub_slot *slots;
    uint8_t tag;
};

struct http_hub *http_hub_new(enum mem_tag tag)
{
    struct http_hub *h = mem_calloc(tag, 1, sizeof(*h));
    if (!h)
        return NULL;
    pthread_mutex_init(&h->lock, NULL);
    h->tag = (uint8_t)tag;
    return h;
}

static void free_nodes(struct http_qnode *n, enum mem_tag tag)
{
    while (n) {
        struct http_qnode *next = n->next;
        http_msg_unref(n->m);
        mem_free(tag, n, sizeof(*n));
        n = next;
    }
}

void http_hub_free(struct http_hub *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->lock);
    for (struct http_hub_slot *s = h->slots; s; s = s->next)
        s->hub = NULL; /* a loop still alive frees its slot by itself */
    pthread_mutex_unlock(&h->lock);
    pthread_mutex_destroy(&h->lock);
    mem_free((enum mem_tag)h->tag, h, sizeof(*h));
}

/* Reverses the inbox (newest first) so that members get messages in publishing order. */
static struct http_qnode *reverse(struct http_qnode *n)
{
    struct http_qnode *out = NULL;
    while (n) {
        struct http_qnode *next = n->next;
        n->next = out;
        out = n;
        n = next;
    }
    return out;
}

static void on_wake(struct net_watch *nw, uint32_t events)
{
    struct http_hub_slot *s = (struct http_hub_slot *)nw;
    struct http_qnode *inbox;
    uint64_t count;
    (void)events;

    if (read(s->watch.fd, &count, sizeof(count)) != (ssize_t)sizeof(count) || !s->hub)
        return;
    enum mem_tag tag = (enum mem_tag)s->hub->tag;
    pthread_mutex_lock(&s->hub->lock);
    inbox = s->inbox;
    s->inbox = NULL;
    s->inbox_bytes = 0;
    pthread_mutex_unlock(&s->hub->lock);
    inbox = reverse(inbox);
    for (struct http_qnode *n = inbox; n; n = n->next) {
        /* a send never unlinks a member: a reader too slow is only marked, and closed from its
         * own event, so the walk is safe */
        for (struct http_tunnel *t = s->members; t; t = t->hub_next) {
            int err = http_tunnel_send(t, n->m);
            (void)err; /* a member going away, or too slow (then closed): the others go on */
        }
    }
    free_nodes(inbox, tag);
}

static void free_slot(struct net_handle *hd)
{
    struct http_hub_slot *s =
        (struct http_hub_slot *)((char *)hd - offsetof(struct http_hub_slot, handle));
    struct http_hub *h = s->hub;
    enum mem_tag tag = MEM_LOOP;

    if (h) {
        tag = (enum mem_tag)h->tag;
        pthread_mutex_lock(&h->lock);
        for (struct http_hub_slot **p = &h->slots; *p; p = &(*p)->next) {
            if (*p == s) {
                *p = s->next;
                break;
            }
        }
        pthread_mutex_unlock(&h->lock);
    }
    for (struct http_tunnel *t = s->members; t; t = t->hub_next)
        t->hub = NULL;
    free_nodes(s->inbox, tag);
    close(s->watch.fd);
    mem_free(MEM_LOOP, s, sizeof(*s));
}

/* The slot of loop, made at the first join on it; under the hub's lock. */
static int slot_of(struct http_hub *h, struct net_loop *loop, struct http_hub_slot **out)
{
    struct http_hub_slot *s;
    int err;

    for (s = h->slots; s; s = s->next) {
        if (s->loop == loop) {
            *out = s;
            return 0;
        }
    }
    s = mem_calloc(MEM_LOOP, 1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->watch.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (s->watch.fd < 0) {
        err = -errno;
        goto free_s;
    }
    s->watch.cb = on_wake;
    s->handle.free = free_slot;
    s->loop = loop;
    s->hub = h;
    err = net_loop_add_watch(loop, &s->watch, EPOLLIN);
    if (err)
        goto close_fd;
    net_loop_handle_add(loop, &s->handle); /* freed with the loop */
    s->next = h->slots;
    h->slots = s;
    *out = s;
    return 0;

close_fd:
    close(s->watch.fd);
free_s:
    mem_free(MEM_LOOP, s, sizeof(*s));
    return err;
}

int http_hub_join(struct http_hub *h, struct http_tunnel *t)
{
    struct http_hub_slot *s = NULL;
    int err;

    if (!h || !t->w)
        return -EINVAL;
    if (t->hub)
        return -EALREADY;
    pthread_mutex_lock(&h->lock);
    err = slot_of(h, &t->w->loop, &s);
    pthread_mutex_unlock(&h->lock);
    if (err)
        return err;
    t->hub = s;
    t->hub_prev = NULL;
    t->hub_next = s->members;
    if (s->members)
        s->members->hub_prev = t;
    s->members = t;
    return 0;
}

void http_hub_leave(struct http_tunnel *t)
{
    struct http_hub_slot *s = t->hub;
    if (!s)
        return;
    if (t->hub_prev)
        t->hub_prev->hub_next = t->hub_next;
    else
        s->members = t->hub_next;
    if (t->hub_next)
        t->hub_next->hub_prev = t->hub_prev;
    t->hub = NULL;
    t->hub_prev = t->hub_next = NULL;
}

int http_hub_publish(struct http_hub *h, struct http_msg *m)
{
    int err = 0;

    pthread_mutex_lock(&h->lock);
    for (struct http_hub_slot *s = h->slots; s; s = s->next) {
        if (s->inbox_bytes + m->len > HUB_INBOX_BYTES) {
            err = -ENOBUFS; /* that worker is behind: its members miss this one */
            continue;
        }
        s->inbox_bytes += m->len;
        struct http_qnode *n = mem_alloc((enum mem_tag)h->tag, sizeof(*n));
        if (!n) {
            err = -ENOMEM;
            continue;
        }
        http_msg_ref(m);
        *n = (struct http_qnode){.m = m, .next = s->inbox};
        s->inbox = n;
        uint64_t one = 1;
        ssize_t w = write(s->watch.fd, &one, sizeof(one));
        (void)w; /* a full counter already means "wake up" */
    }
    pthread_mutex_unlock(&h->lock);
    return err;
}
