/*
 * test.h: a tiny TAP producer for unit tests.
 *
 * A test file defines functions with TEST(name) and lists them in main with
 * RUN(name). Each RUN prints "ok N - name" or "not ok N - name" followed by
 * the failed checks as TAP comments; test_done() prints the plan and returns
 * the exit status. tests/run.sh counts these lines.
 */
#ifndef SV_TEST_H
#define SV_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int test_count, test_failed_count, test_cur_failed;

#define TEST(name) static void test_##name(void)

#define RUN(name)                                                                          \
    do {                                                                                   \
        test_cur_failed = 0;                                                               \
        test_##name();                                                                     \
        test_count++;                                                                      \
        if (test_cur_failed)                                                               \
            test_failed_count++;                                                           \
        printf("%s %d - %s\n", test_cur_failed ? "not ok" : "ok", test_count, #name);     \
        fflush(stdout);                                                                    \
    } while (0)

#define CHECK(cond)                                                                        \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            printf("# %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);              \
            test_cur_failed = 1;                                                           \
        }                                                                                  \
    } while (0)

#define CHECK_INT(a, b)                                                                    \
    do {                                                                                   \
        long long test_a_ = (long long)(a), test_b_ = (long long)(b);                      \
        if (test_a_ != test_b_) {                                                          \
            printf("# %s:%d: %s == %lld, expected %s == %lld\n", __FILE__, __LINE__, #a,   \
                   test_a_, #b, test_b_);                                                  \
            test_cur_failed = 1;                                                           \
        }                                                                                  \
    } while (0)

#define CHECK_STR(a, b)                                                                    \
    do {                                                                                   \
        const char *test_a_ = (a), *test_b_ = (b);                                         \
        if (test_a_ == NULL || test_b_ == NULL || strcmp(test_a_, test_b_) != 0) {         \
            printf("# %s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__, __LINE__, #a,     \
                   test_a_ ? test_a_ : "(null)", test_b_ ? test_b_ : "(null)");            \
            test_cur_failed = 1;                                                           \
        }                                                                                  \
    } while (0)

static inline int
test_done(void)
{
    printf("1..%d\n", test_count);
    return test_failed_count ? 1 : 0;
}

#endif
