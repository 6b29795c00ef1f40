/* tests/unit/test_net_loop_api.c: the worker's loop as crest.h offers it to applications
 * (net/watch.c, net/timer.c, net/async.c, issue 15), driven through the test client's worker: a
 * pending handler completed by a watched pipe, by a repeating timer that stops itself, by a
 * wake-up from another thread; a handle stopped while its event waits in the same batch; handles
 * left started freed with the loop; bad arguments; blocking work on the pool, its bounded queue,
 * and its jobs cancelled or waited for when their loop ends. Each test builds its own app. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "crest.h"
#include "mem/mem.h"
#include "net/loop.h"

#include <semaphore.h>

struct ctx {
    struct crest_req *req;
    int fds[2], fds2[2];
    struct crest_watch *w, *w2;
    int calls, calls2;
    pthread_t thread;
    struct crest_async *async;
};

static void finish_with(struct crest_req *req, const char *text)
{
    assert_int_equal(crest_res_body(req, "text/plain", text, strlen(text)), 0);
    crest_req_finish(req);
}

static struct crest_app *app_with(const char *path, crest_handler_fn fn, void *ud)
{
    struct crest_app *app = crest_app_new("t", "1");
    struct crest_route r = {.method = "GET", .path = path, .handler = fn, .ud = ud};
    assert_non_null(app);
    assert_int_equal(crest_app_add_route(app, &r, NULL), 0);
    return app;
}

static void expect_body(struct crest_app *app, const char *path, int status, const char *body)
{
    struct crest_test_response res;
    assert_int_equal(crest_test_request(app, "GET", path, NULL, &res), 0);
    assert_int_equal(res.status, status);
    assert_int_equal(res.body.len, strlen(body));
    assert_memory_equal(res.body.ptr, body, strlen(body));
    crest_test_response_fini(&res);
}

/* ---- a watched pipe, written by a timer ---- */

static void on_readable(struct crest_watch *w, int fd, unsigned events, void *ud)
{
    struct ctx *c = ud;
    char buf[16] = {0};
    assert_true(events & CREST_READABLE);
    assert_int_equal(fd, c->fds[0]);
    assert_int_equal(read(fd, buf, sizeof(buf) - 1), 5);
    crest_watch_stop(w);
    close(c->fds[0]);
    close(c->fds[1]);
    finish_with(c->req, buf);
}

static void write_pipe(struct crest_timer *t, void *ud)
{
    struct ctx *c = ud;
    assert_int_equal(write(c->fds[1], "hello", 5), 5);
    crest_timer_stop(t);
}

static enum crest_handler_result watch_handler(struct crest_req *req, void *ud)
{
    struct ctx *c = ud;
    struct crest_timer *t;
    c->req = req;
    assert_int_equal(pipe2(c->fds, O_NONBLOCK | O_CLOEXEC), 0);
    assert_int_equal(
        crest_watch_start(crest_req_loop(req), c->fds[0], CREST_READABLE, on_readable, c, &c->w),
        0);
    assert_int_equal(crest_timer_start(crest_req_loop(req), 5, 0, write_pipe, c, &t), 0);
    return CREST_PENDING;
}

static void test_loop_watch_completes_a_pending_handler(void **state)
{
    struct ctx c = {0};
    struct crest_app *app = app_with("/w", watch_handler, &c);
    (void)state;
    expect_body(app, "/w", 200, "hello");
    crest_app_free(app);
}

/* ---- a repeating timer that stops itself ---- */

static void tick(struct crest_timer *t, void *ud)
{
    struct ctx *c = ud;
    if (++c->calls < 3)
        return;
    crest_timer_stop(t); /* inside its own callback */
    finish_with(c->req, "3");
}

static enum crest_handler_result timer_handler(struct crest_req *req, void *ud)
{
    struct ctx *c = ud;
    struct crest_timer *t;
    c->req = req;
    assert_int_equal(crest_timer_start(crest_req_loop(req), 1, 2, tick, c, &t), 0);
    return CREST_PENDING;
}

static void test_loop_repeating_timer_runs_until_stopped_in_its_callback(void **state)
{
    struct ctx c = {0};
    struct crest_app *app = app_with("/t", timer_handler, &c);
    (void)state;
    expect_body(app, "/t", 200, "3");
    assert_int_equal(c.calls, 3);
    crest_app_free(app);
}

/* ---- a wake-up sent from another thread ---- */

static void *sender(void *ud)
{
    struct ctx *c = ud;
    struct timespec ms = {0, 2 * 1000 * 1000};
    nanosleep(&ms, NULL);
    for (int i = 0; i < 5; i++)
        crest_async_send(c->async);
    return NULL;
}

static void woken(struct crest_async *a, void *ud)
{
    struct ctx *c = ud;
    c->calls++;
    assert_int_equal(pthread_join(c->thread, NULL), 0); /* the sender is done with a */
    crest_async_stop(a);
    finish_with(c->req, "woken");
}

static enum crest_handler_result async_handler(struct crest_req *req, void *ud)
{
    struct ctx *c = ud;
    c->req = req;
    assert_int_equal(crest_async_start(crest_req_loop(req), woken, c, &c->async), 0);
    assert_int_equal(pthread_create(&c->thread, NULL, sender, c), 0);
    return CREST_PENDING;
}

static void test_loop_async_from_another_thread_coalesces_into_one_call(void **state)
{
    struct ctx c = {0};
    struct crest_app *app = app_with("/a", async_handler, &c);
    (void)state;
    expect_body(app, "/a", 200, "woken");
    assert_int_equal(c.calls, 1);
    crest_app_free(app);
}

/* ---- a handle stopped while its event waits later in the same batch ---- */

static void first(struct crest_watch *w, int fd, unsigned events, void *ud)
{
    struct ctx *c = ud;
    (void)fd;
    (void)events;
    c->calls++;
    struct crest_watch *other = w == c->w ? c->w2 : c->w;
    crest_watch_stop(w);
    crest_watch_stop(other); /* its event may be next in this batch: it must not run */
    finish_with(c->req, "one");
}

static enum crest_handler_result batch_handler(struct crest_req *req, void *ud)
{
    struct ctx *c = ud;
    struct crest_loop *loop = crest_req_loop(req);
    c->req = req;
    assert_int_equal(pipe2(c->fds, O_NONBLOCK | O_CLOEXEC), 0);
    assert_int_equal(pipe2(c->fds2, O_NONBLOCK | O_CLOEXEC), 0);
    assert_int_equal(write(c->fds[1], "x", 1), 1);
    assert_int_equal(write(c->fds2[1], "y", 1), 1);
    assert_int_equal(crest_watch_start(loop, c->fds[0], CREST_READABLE, first, c, &c->w), 0);
    assert_int_equal(crest_watch_start(loop, c->fds2[0], CREST_READABLE, first, c, &c->w2), 0);
    return CREST_PENDING;
}

static void test_loop_handle_stopped_in_the_same_batch_is_not_called(void **state)
{
    struct ctx c = {0};
    struct crest_app *app = app_with("/b", batch_handler, &c);
    (void)state;
    expect_body(app, "/b", 200, "one");
    assert_int_equal(c.calls, 1);
    for (int i = 0; i < 2; i++) {
        close(c.fds[i]);
        close(c.fds2[i]);
    }
    crest_app_free(app);
}

/* ---- handles left started: freed with the loop, the fd left to its owner ---- */

static void never(struct crest_timer *t, void *ud)
{
    (void)t;
    (void)ud;
    fail_msg("a timer of a loop that ended was called");
}

static void never_watch(struct crest_watch *w, int fd, unsigned events, void *ud)
{
    (void)w;
    (void)fd;
    (void)events;
    (void)ud;
}

static enum crest_handler_result leaky_handler(struct crest_req *req, void *ud)
{
    struct ctx *c = ud;
    struct crest_timer *t;
    struct crest_async *a;
    struct crest_loop *loop = crest_req_loop(req);
    assert_int_equal(pipe2(c->fds, O_NONBLOCK | O_CLOEXEC), 0);
    assert_int_equal(crest_timer_start(loop, 60000, 0, never, c, &t), 0);
    assert_int_equal(crest_watch_start(loop, c->fds[0], CREST_READABLE, never_watch, c, &c->w), 0);
    assert_int_equal(crest_async_start(loop, NULL, c, &a), -EINVAL);
    finish_with(req, "done");
    return CREST_DONE;
}

static void test_loop_handles_left_started_are_freed_with_the_loop(void **state)
{
    struct ctx c = {0};
    struct crest_app *app = app_with("/l", leaky_handler, &c);
    struct mem_tag_stats before, after;
    (void)state;
    expect_body(app, "/l", 200, "done"); /* warms the test client's worker */
    close(c.fds[0]);
    close(c.fds[1]);
    mem_stats(MEM_LOOP, &before);
    expect_body(app, "/l", 200, "done");
    mem_stats(MEM_LOOP, &after);
    assert_int_equal(after.live_bytes, before.live_bytes);
    assert_int_equal(write(c.fds[1], "x", 1), 1); /* the watched fd is still the caller's */
    close(c.fds[0]);
    close(c.fds[1]);
    crest_app_free(app);
}

/* ---- bad arguments ---- */

static enum crest_handler_result bad_handler(struct crest_req *req, void *ud)
{
    struct ctx *c = ud;
    struct crest_loop *loop = crest_req_loop(req);
    struct crest_watch *w;
    assert_int_equal(pipe2(c->fds, O_NONBLOCK | O_CLOEXEC), 0);
    assert_int_equal(crest_watch_start(loop, -1, CREST_READABLE, never_watch, c, &w), -EINVAL);
    assert_int_equal(crest_watch_start(loop, c->fds[0], 4, never_watch, c, &w), -EINVAL);
    assert_int_equal(crest_watch_start(loop, c->fds[0], CREST_READABLE, never_watch, c, &w), 0);
    assert_int_equal(crest_watch_start(loop, c->fds[0], CREST_READABLE, never_watch, c, &c->w2),
                     -EEXIST);
    assert_int_equal(crest_watch_change(w, 8), -EINVAL);
    assert_int_equal(crest_watch_change(w, CREST_READABLE | CREST_WRITABLE), 0);
    crest_watch_stop(w);
    close(c->fds[0]);
    close(c->fds[1]);
    finish_with(req, "ok");
    return CREST_DONE;
}

static void test_loop_refuses_bad_arguments(void **state)
{
    struct ctx c = {0};
    struct crest_app *app = app_with("/x", bad_handler, &c);
    (void)state;
    expect_body(app, "/x", 200, "ok");
    crest_app_free(app);
}

/* ---- the pool for blocking calls ---- */

struct job_ctx {
    struct crest_req *req;
    pthread_t loop_thread, work_thread;
    sem_t *gate;    /* work waits on it when set */
    sem_t *started; /* work posts it first, when set */
    int status;
    int done;
};

static void blocking_work(void *ud)
{
    struct job_ctx *j = ud;
    j->work_thread = pthread_self();
    if (j->started)
        assert_int_equal(sem_post(j->started), 0);
    if (j->gate)
        assert_int_equal(sem_wait(j->gate), 0);
    else {
        struct timespec ms = {0, 20 * 1000 * 1000};
        nanosleep(&ms, NULL);
    }
}

static void work_done(void *ud, int status)
{
    struct job_ctx *j = ud;
    assert_true(pthread_equal(pthread_self(), j->loop_thread));
    j->status = status;
    j->done++;
    if (j->req)
        finish_with(j->req, status == 0 ? "worked" : "cancelled");
}

static enum crest_handler_result work_handler(struct crest_req *req, void *ud)
{
    struct job_ctx *j = ud;
    j->req = req;
    j->loop_thread = pthread_self();
    assert_int_equal(crest_work_queue(crest_req_loop(req), blocking_work, work_done, j), 0);
    return CREST_PENDING;
}

static void test_work_runs_on_a_pool_thread_and_completes_on_the_loop(void **state)
{
    struct job_ctx j = {0};
    struct crest_app *app = app_with("/j", work_handler, &j);
    (void)state;
    expect_body(app, "/j", 200, "worked");
    assert_int_equal(j.done, 1);
    assert_false(pthread_equal(j.work_thread, j.loop_thread));
    crest_app_free(app);
}

enum { QUEUE = 2 };

static enum crest_handler_result full_handler(struct crest_req *req, void *ud)
{
    struct job_ctx *jobs = ud; /* 1 running + QUEUE queued fit; the next is refused */
    struct crest_loop *loop = crest_req_loop(req);
    for (int i = 0; i < QUEUE + 1; i++) {
        jobs[i].loop_thread = pthread_self();
        assert_int_equal(crest_work_queue(loop, blocking_work, work_done, &jobs[i]), 0);
        if (i == 0) /* let the one thread take it off the queue */
            assert_int_equal(sem_wait(jobs[0].started), 0);
    }
    assert_int_equal(crest_work_queue(loop, blocking_work, work_done, &jobs[QUEUE + 1]), -EBUSY);
    for (int i = 0; i < QUEUE + 1; i++)
        assert_int_equal(sem_post(jobs[0].gate), 0);
    jobs[QUEUE].req = req; /* the last one answers; FIFO on one thread */
    return CREST_PENDING;
}

static void test_work_queue_is_bounded(void **state)
{
    sem_t gate, started;
    struct job_ctx jobs[QUEUE + 2] = {{0}};
    struct crest_app *app = app_with("/f", full_handler, jobs);
    (void)state;
    assert_int_equal(sem_init(&gate, 0, 0), 0);
    assert_int_equal(sem_init(&started, 0, 0), 0);
    for (int i = 0; i < QUEUE + 2; i++)
        jobs[i].gate = &gate;
    jobs[0].started = &started;
    net_work_shutdown(); /* a pool of one thread and a queue of QUEUE, for this test */
    net_work_setup(1, QUEUE);
    expect_body(app, "/f", 200, "worked");
    for (int i = 0; i < QUEUE + 1; i++)
        assert_int_equal(jobs[i].done, 1);
    assert_int_equal(jobs[QUEUE + 1].done, 0);
    net_work_shutdown();
    net_work_setup(NET_WORK_DEFAULT_THREADS, NET_WORK_DEFAULT_QUEUE);
    sem_destroy(&gate);
    sem_destroy(&started);
    crest_app_free(app);
}

static enum crest_handler_result abandon_handler(struct crest_req *req, void *ud)
{
    struct job_ctx *jobs = ud; /* one thread: the first runs (20 ms), the second waits */
    for (int i = 0; i < 2; i++) {
        jobs[i].loop_thread = pthread_self();
        assert_int_equal(crest_work_queue(crest_req_loop(req), blocking_work, work_done, &jobs[i]),
                         0);
    }
    finish_with(req, "gone");
    return CREST_DONE; /* the loop ends with both jobs out */
}

static void test_work_of_an_ended_loop_is_waited_for_or_cancelled(void **state)
{
    struct job_ctx jobs[2] = {{0}};
    struct crest_app *app = app_with("/g", abandon_handler, jobs);
    (void)state;
    net_work_shutdown();
    net_work_setup(1, 8);
    expect_body(app, "/g", 200, "gone");
    assert_int_equal(jobs[0].done + jobs[1].done, 2); /* every done ran, before the loop ended */
    assert_int_equal(jobs[1].status, jobs[0].status == 0 ? -ECANCELED : jobs[1].status);
    assert_int_equal(jobs[0].status == -ECANCELED && jobs[1].status == 0, 0); /* FIFO */
    net_work_shutdown();
    net_work_setup(NET_WORK_DEFAULT_THREADS, NET_WORK_DEFAULT_QUEUE);
    crest_app_free(app);
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loop_watch_completes_a_pending_handler),
        cmocka_unit_test(test_loop_repeating_timer_runs_until_stopped_in_its_callback),
        cmocka_unit_test(test_loop_async_from_another_thread_coalesces_into_one_call),
        cmocka_unit_test(test_loop_handle_stopped_in_the_same_batch_is_not_called),
        cmocka_unit_test(test_loop_handles_left_started_are_freed_with_the_loop),
        cmocka_unit_test(test_loop_refuses_bad_arguments),
        cmocka_unit_test(test_work_runs_on_a_pool_thread_and_completes_on_the_loop),
        cmocka_unit_test(test_work_queue_is_bounded),
        cmocka_unit_test(test_work_of_an_ended_loop_is_waited_for_or_cancelled),
    };
    int failed = cmocka_run_group_tests_name("net_loop_api", tests, NULL, NULL);
    net_work_shutdown();
    return failed;
}
