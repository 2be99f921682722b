/* The event loop: see loop.h. */
#include "loop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define LOOP_BATCH 256

struct loop {
    int epfd;                   /* epoll instance */
    int tfd;                    /* timerfd armed for the earliest timer */
    uint64_t tfd_armed_ns;      /* deadline the timerfd is set to; 0 when disarmed */
    struct loop_io tfd_io;      /* the timerfd's own handler slot */
    struct loop_timer **heap;   /* min-heap of armed timers by due_ns */
    size_t heap_len;            /* armed timers */
    size_t heap_cap;            /* allocated slots */
    uint64_t slack_ns;          /* see loop_set_timer_slack */
    loop_hook_fn after;         /* after-batch hook */
    void *after_ctx;            /* its argument */
    bool stop;                  /* loop_stop was called */
    struct epoll_event *batch;  /* events of the batch being dispatched */
    int batch_len;              /* number of them */
};

uint64_t loop_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void heap_swap(struct loop *l, size_t a, size_t b)
{
    struct loop_timer *t = l->heap[a];
    l->heap[a] = l->heap[b];
    l->heap[b] = t;
    l->heap[a]->slot = a + 1;
    l->heap[b]->slot = b + 1;
}

static void heap_up(struct loop *l, size_t i)
{
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (l->heap[parent]->due_ns <= l->heap[i]->due_ns)
            break;
        heap_swap(l, i, parent);
        i = parent;
    }
}

static void heap_down(struct loop *l, size_t i)
{
    for (;;) {
        size_t left = 2 * i + 1, right = left + 1, min = i;
        if (left < l->heap_len && l->heap[left]->due_ns < l->heap[min]->due_ns)
            min = left;
        if (right < l->heap_len && l->heap[right]->due_ns < l->heap[min]->due_ns)
            min = right;
        if (min == i)
            return;
        heap_swap(l, i, min);
        i = min;
    }
}

static void heap_remove(struct loop *l, struct loop_timer *t)
{
    size_t i = t->slot - 1;
    t->slot = 0;
    l->heap_len--;
    if (i == l->heap_len)
        return;
    l->heap[i] = l->heap[l->heap_len];
    l->heap[i]->slot = i + 1;
    heap_up(l, i);
    heap_down(l, l->heap[i]->slot - 1);
}

/* Point the timerfd at the earliest deadline (only when it changed). */
static void arm_timerfd(struct loop *l)
{
    uint64_t due = l->heap_len ? l->heap[0]->due_ns : 0;
    if (due == l->tfd_armed_ns)
        return;
    struct itimerspec its = {0};
    if (due) {
        its.it_value.tv_sec = (time_t)(due / 1000000000u);
        its.it_value.tv_nsec = (long)(due % 1000000000u);
        if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
            its.it_value.tv_nsec = 1; /* zero would disarm */
    }
    timerfd_settime(l->tfd, TFD_TIMER_ABSTIME, &its, NULL);
    l->tfd_armed_ns = due;
}

static void run_timers(struct loop *l)
{
    uint64_t limit = loop_now_ns() + l->slack_ns;
    while (l->heap_len && l->heap[0]->due_ns <= limit) {
        struct loop_timer *t = l->heap[0];
        heap_remove(l, t);
        t->fn(l, t);
    }
}

static void on_timerfd(struct loop *l, struct loop_io *io, uint32_t events)
{
    (void)events;
    uint64_t expirations;
    if (read(io->fd, &expirations, sizeof expirations) < 0 && errno != EAGAIN)
        return;
    l->tfd_armed_ns = 0; /* fired: a later arm must write it again */
}

struct loop *loop_new(void)
{
    struct loop *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    l->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    l->heap_cap = 64;
    l->heap = calloc(l->heap_cap, sizeof *l->heap);
    if (l->epfd < 0 || l->tfd < 0 || !l->heap ||
        loop_add(l, &l->tfd_io, l->tfd, EPOLLIN, on_timerfd) < 0) {
        int saved = errno;
        loop_free(l);
        errno = saved;
        return NULL;
    }
    return l;
}

void loop_free(struct loop *l)
{
    if (!l)
        return;
    if (l->epfd >= 0)
        close(l->epfd);
    if (l->tfd >= 0)
        close(l->tfd);
    free(l->heap);
    free(l);
}

int loop_add(struct loop *l, struct loop_io *io, int fd, uint32_t events, loop_io_fn fn)
{
    io->fd = fd;
    io->events = events;
    io->fn = fn;
    struct epoll_event ev = {.events = events, .data.ptr = io};
    return epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev);
}

int loop_mod(struct loop *l, struct loop_io *io, uint32_t events)
{
    if (io->events == events)
        return 0;
    io->events = events;
    struct epoll_event ev = {.events = events, .data.ptr = io};
    return epoll_ctl(l->epfd, EPOLL_CTL_MOD, io->fd, &ev);
}

void loop_del(struct loop *l, struct loop_io *io)
{
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, io->fd, NULL);
    /* Events for io still waiting in this batch must not be dispatched. */
    for (int i = 0; i < l->batch_len; i++)
        if (l->batch[i].data.ptr == io)
            l->batch[i].data.ptr = NULL;
}

void loop_timer_start(struct loop *l, struct loop_timer *t, uint64_t due_ns, loop_timer_fn fn)
{
    t->fn = fn;
    if (t->slot) {
        uint64_t old = t->due_ns;
        t->due_ns = due_ns;
        if (due_ns < old)
            heap_up(l, t->slot - 1);
        else
            heap_down(l, t->slot - 1);
        return;
    }
    if (l->heap_len == l->heap_cap) {
        size_t cap = l->heap_cap * 2;
        struct loop_timer **heap = realloc(l->heap, cap * sizeof *heap);
        if (!heap)
            abort(); /* a timer that silently never fires is worse */
        l->heap = heap;
        l->heap_cap = cap;
    }
    t->due_ns = due_ns;
    l->heap[l->heap_len] = t;
    t->slot = ++l->heap_len;
    heap_up(l, l->heap_len - 1);
}

void loop_timer_stop(struct loop *l, struct loop_timer *t)
{
    if (t->slot)
        heap_remove(l, t);
}

struct loop_timer *loop_first_timer(struct loop *l)
{
    return l->heap_len ? l->heap[0] : NULL;
}

void loop_set_timer_slack(struct loop *l, uint64_t slack_ns)
{
    l->slack_ns = slack_ns;
}

void loop_set_after_hook(struct loop *l, loop_hook_fn fn, void *ctx)
{
    l->after = fn;
    l->after_ctx = ctx;
}

int loop_run(struct loop *l)
{
    struct epoll_event events[LOOP_BATCH];
    l->stop = false;
    while (!l->stop) {
        arm_timerfd(l);
        int n = epoll_wait(l->epfd, events, LOOP_BATCH, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        l->batch = events;
        l->batch_len = n;
        for (int i = 0; i < n && !l->stop; i++) {
            struct loop_io *io = events[i].data.ptr;
            if (io)
                io->fn(l, io, events[i].events);
        }
        l->batch_len = 0;
        if (!l->stop)
            run_timers(l);
        if (l->after)
            l->after(l, l->after_ctx);
    }
    return 0;
}

void loop_stop(struct loop *l)
{
    l->stop = true;
}
