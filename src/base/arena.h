/*
 * arena.h: region allocation with cleanups, one arena per connection and per request.
 *
 * Everything allocated from an arena is freed at once by arena_destroy(), after
 * the registered cleanups have run (last registered, first run). Foreign
 * handles (files, statements, codec contexts) get an owner before they are
 * opened: allocate the holder from the arena, register its cleanup, then open.
 *
 * When built with -DSV_ARENA_MALLOC, or run with STREAMVERSE_ARENA_MALLOC=1 in
 * the environment, every allocation is a separate malloc so AddressSanitizer
 * sees each object's bounds.
 *
 * An arena is not thread-safe: one thread uses it at a time.
 */
#ifndef SV_ARENA_H
#define SV_ARENA_H

#include <stdarg.h>
#include <stddef.h>

#include "base/str.h"

typedef struct arena arena_t;
typedef void (*arena_cleanup_fn)(void *data);

/* block_size: bytes per block (0 for 4 KiB). NULL on out-of-memory. */
arena_t *arena_create(size_t block_size);
/* Runs cleanups, frees everything. NULL is accepted. */
void arena_destroy(arena_t *a);
/* 16-byte aligned; NULL on out-of-memory. */
void *arena_alloc(arena_t *a, size_t n);
void *arena_calloc(arena_t *a, size_t n);
char *arena_strndup(arena_t *a, const char *s, size_t n);
char *arena_strdup_str(arena_t *a, str_t s);
char *arena_printf(arena_t *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Registers fn(data) to run at destroy. SV_OK or SV_NO_MEMORY (then fn is not registered). */
int arena_cleanup_add(arena_t *a, arena_cleanup_fn fn, void *data);
/* Bytes handed out so far (for limits and metrics). */
size_t arena_used(const arena_t *a);

#endif
