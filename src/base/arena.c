/*
 * arena.c: region allocator. Blocks are chained; large requests get a block
 * of their own so a big allocation never wastes a partly used block.
 */
#include "base/arena.h"
#include "base/status.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_ALIGN 16

typedef struct arena_block {
    struct arena_block *next;
    size_t size;
    size_t used;
    /* payload follows, aligned */
} arena_block_t;

typedef struct arena_cleanup {
    struct arena_cleanup *next;
    arena_cleanup_fn fn;
    void *data;
} arena_cleanup_t;

struct arena {
    arena_block_t *head; /* current block; older ones follow */
    arena_cleanup_t *cleanups;
    size_t block_size;
    size_t used;
    int plain_malloc; /* debug mode: every allocation is its own block */
};

#define ARENA_HDR ((sizeof(arena_block_t) + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1))

static int
arena_debug_mode(void)
{
#ifdef SV_ARENA_MALLOC
    return 1;
#else
    static int mode = -1;
    if (mode < 0) {
        const char *e = getenv("STREAMVERSE_ARENA_MALLOC");
        mode = e && e[0] == '1';
    }
    return mode;
#endif
}

static arena_block_t *
arena_block_new(size_t payload)
{
    arena_block_t *b;

    if (payload > SIZE_MAX - ARENA_HDR)
        return NULL;
    b = malloc(ARENA_HDR + payload);
    if (b == NULL)
        return NULL;
    b->next = NULL;
    b->size = payload;
    b->used = 0;
    return b;
}

arena_t *
arena_create(size_t block_size)
{
    arena_t *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return NULL;
    a->block_size = block_size ? block_size : 4096;
    a->plain_malloc = arena_debug_mode();
    return a;
}

void
arena_destroy(arena_t *a)
{
    if (a == NULL)
        return;
    while (a->cleanups) {
        arena_cleanup_t *c = a->cleanups;
        a->cleanups = c->next;
        c->fn(c->data);
        if (a->plain_malloc)
            free(c);
    }
    while (a->head) {
        arena_block_t *b = a->head;
        a->head = b->next;
        free(b);
    }
    free(a);
}

void *
arena_alloc(arena_t *a, size_t n)
{
    arena_block_t *b;
    size_t need = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);

    if (need < n)
        return NULL;
    if (n == 0)
        need = ARENA_ALIGN;

    if (a->plain_malloc) {
        b = arena_block_new(n ? n : 1);
        if (b == NULL)
            return NULL;
        b->next = a->head;
        a->head = b;
        a->used += n;
        return (char *)b + ARENA_HDR;
    }

    b = a->head;
    if (b == NULL || b->size - b->used < need) {
        if (need > a->block_size / 4) {
            /* Large: its own block, linked behind the current one so the
             * current block's free space stays usable. */
            arena_block_t *big = arena_block_new(need);
            if (big == NULL)
                return NULL;
            big->used = need;
            if (a->head) {
                big->next = a->head->next;
                a->head->next = big;
            } else {
                a->head = big;
            }
            a->used += n;
            return (char *)big + ARENA_HDR;
        }
        b = arena_block_new(a->block_size);
        if (b == NULL)
            return NULL;
        b->next = a->head;
        a->head = b;
    }
    void *p = (char *)b + ARENA_HDR + b->used;
    b->used += need;
    a->used += n;
    return p;
}

void *
arena_calloc(arena_t *a, size_t n)
{
    void *p = arena_alloc(a, n);
    if (p)
        memset(p, 0, n);
    return p;
}

char *
arena_strndup(arena_t *a, const char *s, size_t n)
{
    char *p;
    if (n == SIZE_MAX)
        return NULL;
    p = arena_alloc(a, n + 1);
    if (p == NULL)
        return NULL;
    if (n)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *
arena_strdup_str(arena_t *a, str_t s)
{
    return arena_strndup(a, s.p, s.len);
}

char *
arena_printf(arena_t *a, const char *fmt, ...)
{
    va_list ap;
    char small[256];
    int n;
    char *p;

    va_start(ap, fmt);
    n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    p = arena_alloc(a, (size_t)n + 1);
    if (p == NULL)
        return NULL;
    if ((size_t)n < sizeof(small)) {
        memcpy(p, small, (size_t)n + 1);
    } else {
        va_start(ap, fmt);
        vsnprintf(p, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    return p;
}

int
arena_cleanup_add(arena_t *a, arena_cleanup_fn fn, void *data)
{
    arena_cleanup_t *c;

    /* In debug mode the record is malloc'ed (and freed after it runs) so
     * the sanitizers track it like any other allocation. */
    c = a->plain_malloc ? malloc(sizeof(*c)) : arena_alloc(a, sizeof(*c));
    if (c == NULL)
        return SV_NO_MEMORY;
    c->fn = fn;
    c->data = data;
    c->next = a->cleanups;
    a->cleanups = c;
    return SV_OK;
}

size_t
arena_used(const arena_t *a)
{
    return a->used;
}
