/*
 * test_arena.c: alignment, large allocations, strings, cleanups (LIFO).
 * Runs in block mode in the release build and in malloc-per-allocation mode
 * in the sanitizer build (SV_ARENA_MALLOC), so ASan checks every bound.
 */
#include "base/arena.h"
#include "base/status.h"
#include "test.h"

#include <stdint.h>
#include <stdlib.h>

TEST(alignment)
{
    arena_t *a = arena_create(0);
    CHECK(a != NULL);
    for (size_t n = 0; n < 300; n++) {
        char *p = arena_alloc(a, n);
        CHECK(p != NULL);
        CHECK(((uintptr_t)p & 15) == 0);
        memset(p, 0xab, n);
    }
    /* odd block sizes still give aligned memory */
    arena_t *b = arena_create(100);
    for (size_t n = 1; n < 200; n += 7) {
        void *p = arena_alloc(b, n);
        CHECK(p != NULL && ((uintptr_t)p & 15) == 0);
    }
    arena_destroy(b);
    arena_destroy(a);
}

/* Allocations never overlap: fill each with its own byte, check all at the end. */
TEST(no_overlap)
{
    enum { N = 500 };
    arena_t *a = arena_create(1024);
    unsigned char *p[N];
    size_t len[N];

    for (int i = 0; i < N; i++) {
        len[i] =
            (size_t)(i * 37 % 700) + 1; /* small, medium, and larger than a quarter block */
        p[i] = arena_alloc(a, len[i]);
        CHECK(p[i] != NULL);
        memset(p[i], i & 0xff, len[i]);
    }
    int bad = 0;
    for (int i = 0; i < N; i++) {
        for (size_t j = 0; j < len[i]; j++)
            bad += p[i][j] != (unsigned char)(i & 0xff);
    }
    CHECK_INT(bad, 0);
    arena_destroy(a);
}

TEST(large_allocs)
{
    arena_t *a = arena_create(4096);
    char *small1 = arena_alloc(a, 16);
    char *big = arena_alloc(a, 1 << 20); /* far larger than a block */
    char *small2 = arena_alloc(a, 16);

    CHECK(small1 && big && small2);
    memset(big, 'B', 1 << 20);
    memset(small1, 'a', 16);
    memset(small2, 'b', 16);
    CHECK(big[0] == 'B' && big[(1 << 20) - 1] == 'B');
    CHECK(((uintptr_t)big & 15) == 0);
    /* bytes handed out are counted as asked for */
    CHECK_INT(arena_used(a), 16 + (1 << 20) + 16);
    arena_destroy(a);

    /* impossible sizes fail cleanly instead of wrapping */
    a = arena_create(0);
    CHECK(arena_alloc(a, SIZE_MAX) == NULL);
    CHECK(arena_alloc(a, SIZE_MAX - 8) == NULL);
    CHECK(arena_strndup(a, "x", SIZE_MAX) == NULL);
    CHECK(arena_alloc(a, 8) != NULL); /* still usable */
    arena_destroy(a);
}

TEST(calloc_and_strings)
{
    arena_t *a = arena_create(0);
    unsigned char *z = arena_calloc(a, 100);
    int nonzero = 0;

    CHECK(z != NULL);
    for (int i = 0; i < 100; i++)
        nonzero += z[i] != 0;
    CHECK_INT(nonzero, 0);

    CHECK_STR(arena_strndup(a, "hello world", 5), "hello");
    CHECK_STR(arena_strndup(a, "", 0), "");
    CHECK_STR(arena_strdup_str(a, STR("a\0b")), "a"); /* NUL-terminated copy of 3 bytes */
    char *s = arena_strdup_str(a, STR("a\0b"));
    CHECK(s && memcmp(s, "a\0b", 4) == 0);
    CHECK_STR(arena_printf(a, "%s-%d", "seg", 42), "seg-42");

    /* longer than arena_printf's first try on the stack */
    char *long_s = arena_printf(a, "%0300d|", 7);
    CHECK(long_s != NULL && strlen(long_s) == 301);
    CHECK(long_s && long_s[299] == '7' && long_s[300] == '|');
    arena_destroy(a);
}

static int cleanup_order[8];
static int cleanup_count;

static void
record_cleanup(void *data)
{
    cleanup_order[cleanup_count++] = *(int *)data;
}

TEST(cleanup_lifo)
{
    static int ids[5] = {1, 2, 3, 4, 5};
    arena_t *a = arena_create(0);

    cleanup_count = 0;
    for (int i = 0; i < 5; i++) {
        CHECK_INT(arena_cleanup_add(a, record_cleanup, &ids[i]), SV_OK);
        CHECK(arena_alloc(a, 1000) != NULL); /* interleaved with allocations */
    }
    CHECK_INT(cleanup_count, 0);
    arena_destroy(a);
    CHECK_INT(cleanup_count, 5);
    for (int i = 0; i < 5; i++)
        CHECK_INT(cleanup_order[i], 5 - i);
}

/* A cleanup may still use memory from its arena: memory is freed after all
 * cleanups ran ("foreign handles get an owner before they are opened"). */
static void
holder_cleanup(void *data)
{
    char **holder = data;
    CHECK_STR(holder[0], "still here");
    free(holder[1]);
    holder[1] = NULL;
}

TEST(cleanup_runs_before_memory_is_freed)
{
    arena_t *a = arena_create(0);
    char **holder = arena_calloc(a, 2 * sizeof(char *));

    CHECK(holder != NULL);
    holder[0] = arena_strndup(a, "still here", 10);
    CHECK_INT(arena_cleanup_add(a, holder_cleanup, holder), SV_OK);
    holder[1] = malloc(64); /* the "foreign handle", opened after its owner exists */
    arena_destroy(a);
    arena_destroy(NULL);
}

int
main(void)
{
    RUN(alignment);
    RUN(no_overlap);
    RUN(large_allocs);
    RUN(calloc_and_strings);
    RUN(cleanup_lifo);
    RUN(cleanup_runs_before_memory_is_freed);
    return test_done();
}
