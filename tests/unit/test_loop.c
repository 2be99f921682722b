/* Unit tests for the server's event loop (harness/server/loop.c): timers
 * fire in deadline order whatever the insertion order (past the heap's
 * first growth), re-arming moves a timer, stopping disarms it and is
 * harmless on an unarmed one, a timer re-armed from its callback repeats,
 * timer slack batches near deadlines into one wake-up, timers never fire
 * before their deadline, an io handler fires for a readable pipe, loop_del
 * from a handler drops the other descriptor's pending event of the same
 * batch, the after hook runs after every batch, loop_stop ends loop_run,
 * and loop_first_timer names the earliest armed timer. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "check.h"
#include "server/loop.h"

#define MS 1000000ull

/* A timer that stops the loop if a test would otherwise hang. */
static bool guard_fired;

static void on_guard(struct loop *l, struct loop_timer *t)
{
    (void)t;
    guard_fired = true;
    loop_stop(l);
}

static void arm_guard(struct loop *l, struct loop_timer *g, uint64_t after_ns)
{
    guard_fired = false;
    *g = (struct loop_timer){0};
    loop_timer_start(l, g, loop_now_ns() + after_ns, on_guard);
}

/* ---- deadline order ---- */

#define ORDER_N 200

struct order_timer {
    struct loop_timer t;
    int id;
};

static int order_fired[ORDER_N];
static uint64_t order_fired_due[ORDER_N];
static uint64_t order_fired_at[ORDER_N];
static int order_count;

static void on_order(struct loop *l, struct loop_timer *t)
{
    struct order_timer *ot = (struct order_timer *)((char *)t - offsetof(struct order_timer, t));
    if (order_count < ORDER_N) {
        order_fired[order_count] = ot->id;
        order_fired_due[order_count] = t->due_ns;
        order_fired_at[order_count] = loop_now_ns();
    }
    order_count++;
    if (order_count == ORDER_N)
        loop_stop(l);
}

static void test_timers_fire_in_deadline_order_not_insertion_order(void)
{
    struct loop *l = loop_new();
    CHECK(l != NULL);
    if (!l)
        return;
    static struct order_timer timers[ORDER_N];
    uint64_t base = loop_now_ns() + 3 * MS;
    uint32_t seed = 12345;
    order_count = 0;
    for (int i = 0; i < ORDER_N; i++) {
        seed = seed * 1103515245u + 12345u;
        timers[i] = (struct order_timer){.id = i};
        /* deadlines spread over 4 ms, in an order unrelated to i */
        loop_timer_start(l, &timers[i].t, base + (seed >> 8) % (4 * MS), on_order);
        CHECK(loop_timer_armed(&timers[i].t));
    }
    struct loop_timer guard;
    arm_guard(l, &guard, 1000 * MS);
    CHECK_EQ_INT(loop_run(l), 0);
    CHECK(!guard_fired);
    CHECK_EQ_INT(order_count, ORDER_N);
    bool seen[ORDER_N] = {false};
    for (int k = 0; k < ORDER_N && k < order_count; k++) {
        int id = order_fired[k];
        CHECK(!seen[id]);
        seen[id] = true;
        CHECK(!loop_timer_armed(&timers[id].t));
        if (k > 0 && order_fired_due[k] < order_fired_due[k - 1]) {
            fprintf(stderr, "timer %d (due %llu) fired after timer %d (due %llu)\n", id,
                    (unsigned long long)order_fired_due[k], order_fired[k - 1],
                    (unsigned long long)order_fired_due[k - 1]);
            CHECK(!"timers out of deadline order");
        }
    }
    loop_timer_stop(l, &guard);
    loop_free(l);
}

/* ---- timers never early ---- */

static void test_timers_never_fire_before_their_deadline(void)
{
    struct loop *l = loop_new();
    CHECK(l != NULL);
    if (!l)
        return;
    static struct order_timer timers[ORDER_N];
    uint64_t base = loop_now_ns() + 1 * MS;
    uint32_t seed = 777;
    order_count = 0;
    for (int i = 0; i < ORDER_N; i++) {
        seed = seed * 1103515245u + 12345u;
        timers[i] = (struct order_timer){.id = i};
        loop_timer_start(l, &timers[i].t, base + (seed >> 8) % (5 * MS), on_order);
    }
    struct loop_timer guard;
    arm_guard(l, &guard, 1000 * MS);
    CHECK_EQ_INT(loop_run(l), 0);
    CHECK_EQ_INT(order_count, ORDER_N);
    int early = 0;
    for (int k = 0; k < ORDER_N && k < order_count; k++)
        if (order_fired_at[k] < order_fired_due[k])
            early++;
    CHECK_EQ_INT(early, 0);
    loop_timer_stop(l, &guard);
    loop_free(l);
}

/* ---- re-arming moves a timer ---- */

static int rearm_seq[3];
static int rearm_count;

static void on_rearm(struct loop *l, struct loop_timer *t)
{
    struct order_timer *ot = (struct order_timer *)((char *)t - offsetof(struct order_timer, t));
    if (rearm_count < 3)
        rearm_seq[rearm_count] = ot->id;
    if (++rearm_count == 3)
        loop_stop(l);
}

static void test_rearming_moves_timer_earlier_and_later(void)
{
    struct loop *l = loop_new();
    CHECK(l != NULL);
    if (!l)
        return;
    struct order_timer a = {.id = 0}, b = {.id = 1}, c = {.id = 2};
    uint64_t now = loop_now_ns();
    loop_timer_start(l, &a.t, now + 10 * MS, on_rearm);
    loop_timer_start(l, &b.t, now + 20 * MS, on_rearm);
    loop_timer_start(l, &c.t, now + 30 * MS, on_rearm);
    CHECK(loop_first_timer(l) == &a.t);
    /* c to the front, a to the back */
    loop_timer_start(l, &c.t, now + 5 * MS, on_rearm);
    CHECK(loop_first_timer(l) == &c.t);
    CHECK_EQ_INT(c.t.due_ns, now + 5 * MS);
    loop_timer_start(l, &a.t, now + 40 * MS, on_rearm);
    CHECK(loop_first_timer(l) == &c.t);
    rearm_count = 0;
    struct loop_timer guard;
    arm_guard(l, &guard, 1000 * MS);
    CHECK_EQ_INT(loop_run(l), 0);
    CHECK_EQ_INT(rearm_count, 3);
    CHECK_EQ_INT(rearm_seq[0], 2);
    CHECK_EQ_INT(rearm_seq[1], 1);
    CHECK_EQ_INT(rearm_seq[2], 0);
    loop_timer_stop(l, &guard);
    loop_free(l);
}

/* ---- stop ---- */

static int stop_fired_a, stop_fired_b;

static void on_stop_a(struct loop *l, struct loop_timer *t)
{
    (void)l;
    (void)t;
    stop_fired_a++;
}

static void on_stop_b(struct loop *l, struct loop_timer *t)
{
    (void)t;
    stop_fired_b++;
    loop_stop(l);
}

struct stop_io {
    struct loop_io io;
    struct loop_timer *victim;
    int calls;
};

static void on_stop_io(struct loop *l, struct loop_io *io, uint32_t events)
{
    (void)events;
    struct stop_io *s = (struct stop_io *)((char *)io - offsetof(struct stop_io, io));
    char c;
    while (read(io->fd, &c, 1) > 0) {
    }
    s->calls++;
    loop_timer_stop(l, s->victim);
}

static void test_stopped_timer_never_fires_and_stopping_unarmed_is_harmless(void)
{
    struct loop *l = loop_new();
    CHECK(l != NULL);
    if (!l)
        return;
    struct loop_timer a = {0}, b = {0}, never = {0};
    uint64_t now = loop_now_ns();
    /* a is the earliest: the timerfd would be armed for it */
    loop_timer_start(l, &a, now + 2 * MS, on_stop_a);
    loop_timer_start(l, &b, now + 15 * MS, on_stop_b);
    loop_timer_stop(l, &a);
    CHECK(!loop_timer_armed(&a));
    CHECK(loop_first_timer(l) == &b);
    /* stopping unarmed timers, twice, changes nothing */
    loop_timer_stop(l, &a);
    loop_timer_stop(l, &never);
    CHECK(!loop_timer_armed(&never));
    CHECK(loop_first_timer(l) == &b);
    CHECK(loop_timer_armed(&b));
    stop_fired_a = stop_fired_b = 0;
    struct loop_timer guard;
    arm_guard(l, &guard, 1000 * MS);
    CHECK_EQ_INT(loop_run(l), 0);
    CHECK_EQ_INT(stop_fired_a, 0);
    CHECK_EQ_INT(stop_fired_b, 1);
    CHECK(!guard_fired);

    /* stopped from a handler while the timerfd is armed for it */
    stop_fired_a = stop_fired_b = 0;
    now = loop_now_ns();
    loop_timer_start(l, &a, now + 5 * MS, on_stop_a);
    loop_timer_start(l, &b, now + 20 * MS, on_stop_b);
    int p[2];
    CHECK_EQ_INT(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    struct stop_io sio = {.victim = &a};
    CHECK_EQ_INT(loop_add(l, &sio.io, p[0], EPOLLIN, on_stop_io), 0);
    CHECK_EQ_INT(write(p[1], "s", 1), 1);
    CHECK_EQ_INT(loop_run(l), 0);
    CHECK_EQ_INT(sio.calls, 1);
    CHECK_EQ_INT(stop_fired_a, 0);
    CHECK_EQ_INT(stop_fired_b, 1);
    loop_del(l, &sio.io);
    close(p[0]);
    close(p[1]);
    CHECK(!guard_fired);
    loop_timer_stop(l, &guard);
    CHECK(loop_first_timer(l) == NULL);
    loop_free(l);
}

/* ---- repeating timer ---- */

static int repeat_count;
static uint64_t repeat_at[16];

static void on_repeat(struct loop *l, struct loop_timer *t)
{
    if (repeat_count < 16)
        repeat_at[repeat_count] = loop_now_ns();
    if (++repeat_count == 10) {
        loop_stop(l);
        return;
    }
    loop_timer_start(l, t, t->due_ns + 2 * MS, on_repeat);
}

static void test_timer_rearmed_from_its_callback_repeats(void)
{
    struct loop *l = loop_new();
    CHECK(l != NULL);
    if (!l)
        return;
    struct loop_timer t = {0};
    uint64_t start = loop_now_ns() + 1 * MS;
    repeat_count = 0;
    loop_timer_start(l, &t, start, on_repeat);
    struct loop_timer guard;
    arm_guard(l, &guard, 1000 * MS);
    CHECK_EQ_INT(loop_run(l), 0);
    CHECK(!guard_fired);
    CHECK_EQ_INT(repeat_count, 10);
    CHECK(!loop_timer_armed(&t));
    for (int i = 0; i < 10 && i < repeat_count; i++)
        CHECK(repeat_at[i] >= start + (uint64_t)i * 2 * MS);
    loop_timer_stop(l, &guard);
    loop_free(l);
}

/* ---- slack ---- */

static unsigned slack_batches;        /* after-hook calls so far */
static unsigned slack_batch_of[3];    /* batch each timer ran in */
static uint64_t slack_at[3];
static int slack_count;

static void slack_hook(struct loop *l, void *ctx)
{
    (void)l;
    (void)ctx;
    slack_batches++;
}

static void on_slack(struct loop *l, struct loop_timer *t)
{
    struct order_timer *ot = (struct order_timer *)((char *)t - offsetof(struct order_timer, t));
    slack_batch_of[ot->id] = slack_batches;
    slack_at[ot->id] = loop_now_ns();
    if (++slack_count == 3)
        loop_stop(l);
}

static void test_slack_runs_timer_due_within_it_in_same_wakeup(void)
{
    struct loop *l = loop_new();
    CHECK(l != NULL);
    if (!l)
        return;
    loop_set_timer_slack(l, 8 * MS);
    loop_set_after_hook(l, slack_hook, NULL);
    struct order_timer t0 = {.id = 0}, t1 = {.id = 1}, t2 = {.id = 2};
    uint64_t now = loop_now_ns();
    loop_timer_start(l, &t0.t, now + 10 * MS, on_slack);
    loop_timer_start(l, &t1.t, now + 15 * MS, on_slack); /* within the slack of t0 */
    loop_timer_start(l, &t2.t, now + 40 * MS, on_slack); /* well outside it */
    slack_batches = 0;
    slack_count = 0;
    struct loop_timer guard;
    arm_guard(l, &guard, 1000 * MS);
    CHECK_EQ_INT(loop_run(l), 0);
    CHECK_EQ_INT(slack_count, 3);
    CHECK_EQ_INT(slack_batch_of[0], slack_batch_of[1]);
    CHECK(slack_batch_of[2] > slack_batch_of[1]);
    /* t1 ran ahead of its deadline, as the slack allows, not before t0's */
    CHECK(slack_at[0] >= t0.t.due_ns);
    CHECK(slack_at[1] < t1.t.due_ns);
    loop_timer_stop(l, &guard);

    /* slack 0: the same layout takes separate wake-ups */
    loop_set_timer_slack(l, 0);
    now = loop_now_ns();
    loop_timer_start(l, &t0.t, now + 10 * MS, on_slack);
    loop_timer_start(l, &t1.t, now + 15 * MS, on_slack);
    loop_timer_start(l, &t2.t, now + 20 * MS, on_slack);
    slack_count = 0;
    arm_guard(l, &guard, 1000 * MS);
    CHECK_EQ_INT(loop_run(l), 0);
    CHECK_EQ_INT(slack_count, 3);
    CHECK(slack_batch_of[1] > slack_batch_of[0]);
    CHECK(slack_at[1] >= t1.t.due_ns);
    loop_timer_stop(l, &guard);
    loop_free(l);
}

/* ---- io ---- */

static int io_calls;
static uint32_t io_events;
static char io_byte;

static void on_readable(struct loop *l, struct loop_io *io, uint32_t events)
{
    io_calls++;
    io_events = events;
    if (read(io->fd, &io_byte, 1) != 1)
        io_byte = 0;
    loop_stop(l);
}

static void test_io_handler_fires_for_readable_pipe(void)
{
    struct loop *l = loop_new();
    CHECK(l != NULL);
    if (!l)
        return;
    int p[2];
    CHECK_EQ_INT(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    struct loop_io io;
    CHECK_EQ_INT(loop_add(l, &io, p[0], EPOLLIN, on_readable), 0);
    CHECK_EQ_INT(io.fd, p[0]);
    CHECK(io.fn == on_readable);
    io_calls = 0;
    io_events = 0;
    io_byte = 0;
    /* nothing to read: only the guard ends this run */
    struct loop_timer guard;
    arm_guard(l, &guard, 20 * MS);
    CHECK_EQ_INT(loop_run(l), 0);
    CHECK(guard_fired);
    CHECK_EQ_INT(io_calls, 0);
    /* a byte arrives */
    CHECK_EQ_INT(write(p[1], "x", 1), 1);
    arm_guard(l, &guard, 1000 * MS);
    CHECK_EQ_INT(loop_run(l), 0);
    CHECK(!guard_fired);
    CHECK_EQ_INT(io_calls, 1);
    CHECK(io_events & EPOLLIN);
    CHECK_EQ_INT(io_byte, 'x');
    loop_timer_stop(l, &guard);
    loop_del(l, &io);
    close(p[0]);
    close(p[1]);
    loop_free(l);
}

/* ---- loop_del inside a batch ---- */

struct del_io {
    struct loop_io io;
    struct del_io *other;
    int calls;
};

static int del_batches;

static void on_del_readable(struct loop *l, struct loop_io *io, uint32_t events)
{
    (void)events;
    struct del_io *d = (struct del_io *)((char *)io - offsetof(struct del_io, io));
    char buf[8];
    d->calls++;
    while (read(io->fd, buf, sizeof buf) > 0) {
    }
    if (d->other) {
        loop_del(l, &d->other->io);
        d->other->other = NULL;
        d->other = NULL;
    }
}

static void del_hook(struct loop *l, void *ctx)
{
    (void)ctx;
    if (++del_batches == 1)
        loop_stop(l);
}

static void test_loop_del_drops_pending_event_of_same_batch(void)
{
    struct loop *l = loop_new();
    CHECK(l != NULL);
    if (!l)
        return;
    int p1[2], p2[2];
    CHECK_EQ_INT(pipe2(p1, O_NONBLOCK | O_CLOEXEC), 0);
    CHECK_EQ_INT(pipe2(p2, O_NONBLOCK | O_CLOEXEC), 0);
    struct del_io a = {.calls = 0}, b = {.calls = 0};
    a.other = &b;
    b.other = &a;
    CHECK_EQ_INT(loop_add(l, &a.io, p1[0], EPOLLIN, on_del_readable), 0);
    CHECK_EQ_INT(loop_add(l, &b.io, p2[0], EPOLLIN, on_del_readable), 0);
    /* both readable before the loop waits: one epoll batch holds both */
    CHECK_EQ_INT(write(p1[1], "a", 1), 1);
    CHECK_EQ_INT(write(p2[1], "b", 1), 1);
    del_batches = 0;
    loop_set_after_hook(l, del_hook, NULL);
    struct loop_timer guard;
    arm_guard(l, &guard, 1000 * MS);
    CHECK_EQ_INT(loop_run(l), 0);
    CHECK_EQ_INT(del_batches, 1);
    /* whichever ran first deleted the other: exactly one handler ran */
    CHECK_EQ_INT(a.calls + b.calls, 1);
    /* the deleted one stays quiet though its pipe is still readable */
    struct del_io *deleted = a.calls ? &b : &a;
    int deleted_fd = deleted == &a ? p1[0] : p2[0];
    char c;
    loop_timer_stop(l, &guard);
    arm_guard(l, &guard, 20 * MS);
    loop_set_after_hook(l, NULL, NULL);
    CHECK_EQ_INT(loop_run(l), 0);
    CHECK(guard_fired);
    CHECK_EQ_INT(a.calls + b.calls, 1);
    CHECK_EQ_INT(read(deleted_fd, &c, 1), 1);
    struct del_io *kept = deleted == &a ? &b : &a;
    loop_del(l, &kept->io);
    close(p1[0]);
    close(p1[1]);
    close(p2[0]);
    close(p2[1]);
    loop_free(l);
}

/* ---- after hook ---- */

static int hook_calls;
static bool hook_pending;     /* a callback ran and no hook has run since */
static bool hook_late;        /* a callback found the previous batch's hook missing */
static void *hook_ctx_seen;
static int hook_timer_calls;

static void after_hook(struct loop *l, void *ctx)
{
    (void)l;
    hook_calls++;
    hook_ctx_seen = ctx;
    hook_pending = false;
}

static void on_hooked_timer(struct loop *l, struct loop_timer *t)
{
    (void)t;
    if (hook_pending)
        hook_late = true;
    hook_pending = true;
    if (++hook_timer_calls == 3)
        loop_stop(l);
}

static void test_after_hook_runs_after_each_batch(void)
{
    struct loop *l = loop_new();
    CHECK(l != NULL);
    if (!l)
        return;
    int ctx_obj;
    loop_set_after_hook(l, after_hook, &ctx_obj);
    struct loop_timer t[3] = {{0}};
    uint64_t now = loop_now_ns();
    for (int i = 0; i < 3; i++)
        loop_timer_start(l, &t[i], now + (uint64_t)(2 + 15 * i) * MS, on_hooked_timer);
    hook_calls = 0;
    hook_pending = hook_late = false;
    hook_timer_calls = 0;
    hook_ctx_seen = NULL;
    struct loop_timer guard;
    arm_guard(l, &guard, 1000 * MS);
    CHECK_EQ_INT(loop_run(l), 0);
    CHECK_EQ_INT(hook_timer_calls, 3);
    CHECK(!hook_late);
    CHECK(!hook_pending); /* the hook also ran after the batch that stopped the loop */
    CHECK(hook_calls >= 3);
    CHECK(hook_ctx_seen == &ctx_obj);
    loop_timer_stop(l, &guard);
    loop_free(l);
}

/* ---- loop_stop ---- */

static int stopper_count;

static void on_stopper(struct loop *l, struct loop_timer *t)
{
    stopper_count++;
    loop_timer_start(l, t, loop_now_ns() + 1 * MS, on_stopper);
    if (stopper_count % 5 == 0)
        loop_stop(l);
}

static void test_loop_stop_from_callback_ends_run(void)
{
    struct loop *l = loop_new();
    CHECK(l != NULL);
    if (!l)
        return;
    struct loop_timer t = {0};
    stopper_count = 0;
    loop_timer_start(l, &t, loop_now_ns() + 1 * MS, on_stopper);
    struct loop_timer guard;
    arm_guard(l, &guard, 1000 * MS);
    CHECK_EQ_INT(loop_run(l), 0);
    CHECK_EQ_INT(stopper_count, 5);
    CHECK(!guard_fired);
    CHECK(loop_timer_armed(&t)); /* still armed: stop ends the run, not the timers */
    /* run again: the stop flag was reset and the same timer carries on */
    CHECK_EQ_INT(loop_run(l), 0);
    CHECK_EQ_INT(stopper_count, 10);
    CHECK(!guard_fired);
    loop_timer_stop(l, &t);
    loop_timer_stop(l, &guard);
    loop_free(l);
}

/* ---- loop_first_timer ---- */

static void on_nothing(struct loop *l, struct loop_timer *t)
{
    (void)l;
    (void)t;
}

static void test_first_timer_is_earliest_armed(void)
{
    struct loop *l = loop_new();
    CHECK(l != NULL);
    if (!l)
        return;
    CHECK(loop_first_timer(l) == NULL);
    struct loop_timer t[5] = {{0}};
    static const uint64_t due[5] = {500, 300, 900, 100, 700};
    uint64_t base = loop_now_ns() + 1000 * MS;
    for (int i = 0; i < 5; i++)
        loop_timer_start(l, &t[i], base + due[i] * MS, on_nothing);
    CHECK(loop_first_timer(l) == &t[3]);
    loop_timer_stop(l, &t[3]);
    CHECK(loop_first_timer(l) == &t[1]);
    loop_timer_start(l, &t[2], base + 50 * MS, on_nothing);
    CHECK(loop_first_timer(l) == &t[2]);
    loop_timer_start(l, &t[2], base + 950 * MS, on_nothing);
    CHECK(loop_first_timer(l) == &t[1]);
    /* draining by loop_first_timer, as shutdown does, goes in deadline order */
    static const int order[4] = {1, 0, 4, 2};
    for (int k = 0; k < 4; k++) {
        struct loop_timer *first = loop_first_timer(l);
        CHECK(first == &t[order[k]]);
        if (!first)
            break;
        loop_timer_stop(l, first);
    }
    CHECK(loop_first_timer(l) == NULL);
    loop_free(l);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0); /* case lines survive a sanitizer's exit */
    RUN(test_timers_fire_in_deadline_order_not_insertion_order);
    RUN(test_timers_never_fire_before_their_deadline);
    RUN(test_rearming_moves_timer_earlier_and_later);
    RUN(test_stopped_timer_never_fires_and_stopping_unarmed_is_harmless);
    RUN(test_timer_rearmed_from_its_callback_repeats);
    RUN(test_slack_runs_timer_due_within_it_in_same_wakeup);
    RUN(test_io_handler_fires_for_readable_pipe);
    RUN(test_loop_del_drops_pending_event_of_same_batch);
    RUN(test_after_hook_runs_after_each_batch);
    RUN(test_loop_stop_from_callback_ends_run);
    RUN(test_first_timer_is_earliest_armed);
    CHECK_DONE();
}
