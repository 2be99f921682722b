/* A small event loop in the shape of redis's ae: epoll for descriptors, one
 * timerfd driving a binary heap of timers on CLOCK_MONOTONIC, and a hook
 * run after each batch of events (where deferred frees and batched sends
 * happen). Handlers and timers are structs the caller embeds in its own
 * objects, so the loop never allocates per descriptor or per timer.
 *
 * One loop per thread; nothing here is thread-safe. Another thread talks
 * to a loop through an eventfd it registers like any descriptor. */
#ifndef RTSP_HARNESS_LOOP_H
#define RTSP_HARNESS_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loop;
struct loop_io;
struct loop_timer;

typedef void (*loop_io_fn)(struct loop *l, struct loop_io *io, uint32_t events);
typedef void (*loop_timer_fn)(struct loop *l, struct loop_timer *t);
typedef void (*loop_hook_fn)(struct loop *l, void *ctx);

/* A descriptor watched by the loop. */
struct loop_io {
    int fd;          /* the descriptor */
    uint32_t events; /* EPOLLIN / EPOLLOUT as registered */
    loop_io_fn fn;   /* called with the events that fired */
};

/* A one-shot timer; re-arm it from its own callback to repeat. */
struct loop_timer {
    uint64_t due_ns;  /* CLOCK_MONOTONIC deadline */
    size_t slot;      /* index in the heap + 1; 0 when not armed */
    loop_timer_fn fn; /* called once the deadline has passed */
};

/* Current CLOCK_MONOTONIC time in nanoseconds. */
uint64_t loop_now_ns(void);

/* New loop, or NULL with errno set. */
struct loop *loop_new(void);
void loop_free(struct loop *l);

/* Watch io->fd for events (EPOLLIN, EPOLLOUT, ...). Returns 0 or -1 with errno. */
int loop_add(struct loop *l, struct loop_io *io, int fd, uint32_t events, loop_io_fn fn);
/* Change the events watched. */
int loop_mod(struct loop *l, struct loop_io *io, uint32_t events);
/* Stop watching (before closing the descriptor). Events already fetched in
 * this batch for io are dropped, so io may be freed in the after hook. */
void loop_del(struct loop *l, struct loop_io *io);

/* Arm (or re-arm) t to fire at due_ns. */
void loop_timer_start(struct loop *l, struct loop_timer *t, uint64_t due_ns, loop_timer_fn fn);
/* Disarm t; harmless when not armed. */
void loop_timer_stop(struct loop *l, struct loop_timer *t);
/* The armed timer due first, or NULL (for releasing timers at shutdown). */
struct loop_timer *loop_first_timer(struct loop *l);
static inline bool loop_timer_armed(const struct loop_timer *t) { return t->slot != 0; }

/* Timers due up to this many ns from now run in the same wake-up (batching
 * them costs less than waking once each); 0 by default. */
void loop_set_timer_slack(struct loop *l, uint64_t slack_ns);

/* Hook run after each batch of events and timers. */
void loop_set_after_hook(struct loop *l, loop_hook_fn fn, void *ctx);

/* Run until loop_stop. Returns 0, or -1 with errno when epoll fails. */
int loop_run(struct loop *l);
void loop_stop(struct loop *l);

#endif
