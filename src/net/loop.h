/*
 * loop.h: one epoll event loop per thread.
 *
 * A loop owns file-descriptor watchers (loop_io_t), timers (loop_timer_t, a
 * binary heap on absolute monotonic milliseconds), deferred callbacks that run
 * at the end of the current iteration (loop_deferred_t: how connections are
 * freed outside their own callbacks), and a task queue other threads post to
 * (loop_post) which is drained on the loop thread after an eventfd wake-up.
 *
 * Except for loop_post() and loop_stop(), every function must be called on
 * the loop's own thread. Watchers, timers and deferred records are intrusive:
 * the caller owns their memory and must keep it alive while registered.
 */
#ifndef SV_LOOP_H
#define SV_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>

typedef struct loop loop_t;

typedef struct loop_io loop_io_t;
typedef void (*loop_io_fn)(loop_io_t *io, uint32_t events);
struct loop_io {
    int fd;
    loop_io_fn on_event;
};

typedef struct loop_timer loop_timer_t;
typedef void (*loop_timer_fn)(loop_timer_t *t);
struct loop_timer {
    uint64_t deadline; /* absolute, loop_now() milliseconds */
    size_t heap_index; /* SIZE_MAX when not armed */
    loop_timer_fn fn;
};

typedef struct loop_deferred loop_deferred_t;
typedef void (*loop_deferred_fn)(loop_deferred_t *d);
struct loop_deferred {
    loop_deferred_t *next;
    loop_deferred_fn fn;
    bool queued;
};

typedef void (*loop_task_fn)(void *arg);

/* id is a small number used in logs and request ids. NULL on failure. */
loop_t *loop_create(unsigned id);
/* Frees the loop; it must not be running. Tasks still queued and deferred
 * callbacks run first (with loop_current() == NULL), so that whoever posted
 * them can release what they carry. */
void loop_destroy(loop_t *l);
unsigned loop_id(const loop_t *l);

int loop_io_add(loop_t *l, loop_io_t *io, uint32_t events);
int loop_io_mod(loop_t *l, loop_io_t *io, uint32_t events);
void loop_io_del(loop_t *l, loop_io_t *io);

void loop_timer_init(loop_timer_t *t, loop_timer_fn fn);
/* Arms (or re-arms) t to fire at the absolute time deadline. SV_NO_MEMORY. */
int loop_timer_arm(loop_t *l, loop_timer_t *t, uint64_t deadline);
void loop_timer_disarm(loop_t *l, loop_timer_t *t);
static inline bool
loop_timer_armed(const loop_timer_t *t)
{
    return t->heap_index != SIZE_MAX;
}

/* Queues d->fn to run after the current iteration's events (once, however
 * often it is deferred before then). d->fn must be set. */
void loop_defer(loop_t *l, loop_deferred_t *d);

/* Any thread: runs fn(arg) on the loop thread soon. SV_OK or SV_NO_MEMORY. */
int loop_post(loop_t *l, loop_task_fn fn, void *arg);

/* Runs until loop_stop(). Returns SV_OK, or SV_IO if epoll failed. */
int loop_run(loop_t *l);
/* Any thread: makes loop_run() return after the current iteration. */
void loop_stop(loop_t *l);

/* Cached monotonic time in milliseconds, refreshed every iteration. */
uint64_t loop_now(const loop_t *l);
/* Refreshes the cached time (after a long computation). */
void loop_update_time(loop_t *l);

/* The loop running on this thread, or NULL. */
loop_t *loop_current(void);

#endif
