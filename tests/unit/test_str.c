/*
 * test_str.c: length-carrying strings and strict number parsing.
 */
#include "base/status.h"
#include "base/str.h"
#include "test.h"

TEST(make_and_compare)
{
    str_t s = STR("hello");
    CHECK_INT(s.len, 5);
    CHECK(str_eq(s, str_from_cstr("hello")));
    CHECK(!str_eq(s, STR("hell")));
    CHECK(!str_eq(s, STR("hellO")));
    CHECK(str_eq(STR_NULL, STR("")));
    CHECK(str_eq(str_from_cstr(NULL), STR_NULL));
    CHECK(str_eq_cstr(s, "hello"));
    CHECK(!str_eq_cstr(s, "hello!"));
    CHECK(str_eq_cstr(STR_NULL, NULL));
    /* embedded NULs are bytes like any other */
    CHECK(str_eq(STR("a\0b"), STR("a\0b")));
    CHECK(!str_eq(STR("a\0b"), STR("a\0c")));
    CHECK(!str_eq_cstr(STR("a\0b"), "a"));
}

TEST(caseeq)
{
    CHECK(str_caseeq(STR("Content-Length"), "content-length"));
    CHECK(str_caseeq(STR("ABC"), "abc"));
    CHECK(!str_caseeq(STR("ABC"), "abcd"));
    CHECK(!str_caseeq(STR("a-c"), "a_c"));
    CHECK(str_caseeq(STR_NULL, ""));
    /* ASCII only: '@' (0x40) and '`' (0x60) differ by the case bit but are not letters */
    CHECK(!str_caseeq(STR("@"), "`"));
    CHECK(!str_caseeq(STR("["), "{"));
    CHECK(!str_caseeq(STR("\xc3\x89"), "\xc3\xa9"));
}

TEST(prefix_suffix)
{
    CHECK(str_has_prefix(STR("/api/v1/titles"), "/api/"));
    CHECK(!str_has_prefix(STR("/ap"), "/api/"));
    CHECK(str_has_prefix(STR("x"), ""));
    CHECK(str_has_suffix(STR("seg_1.m4s"), ".m4s"));
    CHECK(!str_has_suffix(STR("m4s"), ".m4s"));
    CHECK(str_has_suffix(STR_NULL, ""));
}

TEST(trim)
{
    str_t t = str_trim(STR(" \t a b \t "));
    CHECK(str_eq(t, STR("a b")));
    CHECK_INT(str_trim(STR(" \t ")).len, 0);
    CHECK_INT(str_trim(STR_NULL).len, 0);
    /* only spaces and tabs: CR and LF are content */
    CHECK(str_eq(str_trim(STR("\r\nx\r\n")), STR("\r\nx\r\n")));
}

TEST(to_u64)
{
    uint64_t v = 7;
    CHECK_INT(str_to_u64(STR("0"), &v), SV_OK);
    CHECK_INT(v, 0);
    CHECK_INT(str_to_u64(STR("00042"), &v), SV_OK);
    CHECK_INT(v, 42);
    CHECK_INT(str_to_u64(STR("18446744073709551615"), &v), SV_OK);
    CHECK(v == UINT64_MAX);

    v = 7;
    CHECK_INT(str_to_u64(STR("18446744073709551616"), &v), SV_TOO_BIG);
    CHECK_INT(str_to_u64(STR("99999999999999999999999"), &v), SV_TOO_BIG);
    CHECK_INT(str_to_u64(STR(""), &v), SV_BAD_DATA);
    CHECK_INT(str_to_u64(STR_NULL, &v), SV_BAD_DATA);
    CHECK_INT(str_to_u64(STR("+1"), &v), SV_BAD_DATA);
    CHECK_INT(str_to_u64(STR("-1"), &v), SV_BAD_DATA);
    CHECK_INT(str_to_u64(STR(" 1"), &v), SV_BAD_DATA);
    CHECK_INT(str_to_u64(STR("1 "), &v), SV_BAD_DATA);
    CHECK_INT(str_to_u64(STR("1a"), &v), SV_BAD_DATA);
    CHECK_INT(str_to_u64(STR("0x1"), &v), SV_BAD_DATA);
    CHECK_INT(str_to_u64(STR("1\0"), &v), SV_BAD_DATA);
    CHECK_INT(str_to_u64(STR("/"), &v), SV_BAD_DATA); /* '0' - 1 */
    CHECK_INT(str_to_u64(STR(":"), &v), SV_BAD_DATA); /* '9' + 1 */
    CHECK_INT(v, 7);                                  /* untouched by every failure */

    /* only len bytes are read */
    CHECK_INT(str_to_u64(str_make("123xyz", 3), &v), SV_OK);
    CHECK_INT(v, 123);
}

TEST(to_i64)
{
    int64_t v = 7;
    CHECK_INT(str_to_i64(STR("-0"), &v), SV_OK);
    CHECK_INT(v, 0);
    CHECK_INT(str_to_i64(STR("-42"), &v), SV_OK);
    CHECK_INT(v, -42);
    CHECK_INT(str_to_i64(STR("9223372036854775807"), &v), SV_OK);
    CHECK(v == INT64_MAX);
    CHECK_INT(str_to_i64(STR("-9223372036854775808"), &v), SV_OK);
    CHECK(v == INT64_MIN);

    v = 7;
    CHECK_INT(str_to_i64(STR("9223372036854775808"), &v), SV_TOO_BIG);
    CHECK_INT(str_to_i64(STR("-9223372036854775809"), &v), SV_TOO_BIG);
    CHECK_INT(str_to_i64(STR("-18446744073709551616"), &v), SV_TOO_BIG);
    CHECK_INT(str_to_i64(STR("-"), &v), SV_BAD_DATA);
    CHECK_INT(str_to_i64(STR("--1"), &v), SV_BAD_DATA);
    CHECK_INT(str_to_i64(STR("+1"), &v), SV_BAD_DATA);
    CHECK_INT(str_to_i64(STR("- 1"), &v), SV_BAD_DATA);
    CHECK_INT(str_to_i64(STR(""), &v), SV_BAD_DATA);
    CHECK_INT(v, 7);
}

TEST(find_char)
{
    str_t s = STR("a=b=c");
    CHECK_INT(str_find_char(s, 0, '='), 1);
    CHECK_INT(str_find_char(s, 2, '='), 3);
    CHECK_INT(str_find_char(s, 4, '='), -1);
    CHECK_INT(str_find_char(s, 5, '='), -1);
    CHECK_INT(str_find_char(s, 500, '='), -1);
    CHECK_INT(str_find_char(STR_NULL, 0, '='), -1);
    CHECK_INT(str_find_char(STR("a\0b"), 0, '\0'), 1);
    /* stops at len even if the memory goes on */
    CHECK_INT(str_find_char(str_make("abc=", 3), 0, '='), -1);
}

TEST(copy_cstr)
{
    char dst[8];

    memset(dst, 'x', sizeof(dst));
    CHECK_INT(str_copy_cstr(dst, sizeof(dst), STR("abc")), 3);
    CHECK_STR(dst, "abc");
    CHECK_INT(str_copy_cstr(dst, sizeof(dst), STR("0123456789")), 7);
    CHECK_STR(dst, "0123456");
    CHECK_INT(str_copy_cstr(dst, 1, STR("abc")), 0);
    CHECK_STR(dst, "");
    CHECK_INT(str_copy_cstr(dst, sizeof(dst), STR_NULL), 0);
    CHECK_STR(dst, "");
    CHECK_INT(str_copy_cstr(dst, sizeof(dst), STR("abcdefg")), 7); /* exactly fits */
    CHECK_STR(dst, "abcdefg");
}

int
main(void)
{
    RUN(make_and_compare);
    RUN(caseeq);
    RUN(prefix_suffix);
    RUN(trim);
    RUN(to_u64);
    RUN(to_i64);
    RUN(find_char);
    RUN(copy_cstr);
    return test_done();
}
