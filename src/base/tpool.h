/*
 * tpool.h: a fixed pool of threads running submitted tasks in order.
 *
 * Used for work that must not run on an event loop (blocking database calls,
 * file system scans). The queue is bounded; a full queue refuses new work
 * with SV_BUSY so that overload becomes a 503, not unbounded memory.
 */
#ifndef SV_TPOOL_H
#define SV_TPOOL_H

#include <stddef.h>

typedef struct tpool tpool_t;
typedef void (*tpool_fn)(void *arg);

/* nthreads >= 1; max_queue: tasks waiting at most. NULL on failure. name is
 * used for thread names (at most 10 characters). */
tpool_t *tpool_create(const char *name, unsigned nthreads, size_t max_queue);
/* SV_OK, SV_BUSY (queue full), SV_UNAVAILABLE (stopping), SV_NO_MEMORY. Thread-safe. */
int tpool_submit(tpool_t *p, tpool_fn fn, void *arg);
/* Runs what is queued, then joins the threads and frees the pool. */
void tpool_destroy(tpool_t *p);
size_t tpool_queued(tpool_t *p);

#endif
