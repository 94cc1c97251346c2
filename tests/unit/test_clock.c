/*
 * test_clock.c: clocks, HTTP dates (RFC 9110 5.6.7, all three forms) and
 * ISO 8601 timestamps.
 */
#include "base/clock.h"
#include "base/status.h"
#include "test.h"

#include <stdlib.h>

#define T_1994 784111777 /* Sun, 06 Nov 1994 08:49:37 GMT: RFC 9110's example */

/* Parses a copy of s in a buffer of exactly its length, so ASan catches any
 * read past the end. */
static int
parse_exact(const char *s, time_t *t)
{
    size_t n = strlen(s);
    char *copy = malloc(n ? n : 1);
    int rc;

    memcpy(copy, s, n);
    rc = clock_parse_http_date(str_make(copy, n), t);
    free(copy);
    return rc;
}

TEST(monotonic_and_wall)
{
    uint64_t a = clock_mono_ns(), b = clock_mono_ns();
    CHECK(b >= a);
    CHECK(clock_mono_ms() >= a / 1000000u);
    CHECK(clock_wall_ms() > INT64_C(1600000000000)); /* after 2020 */
}

TEST(http_date_format)
{
    char out[CLOCK_HTTP_DATE_LEN + 1];

    clock_http_date(T_1994, out);
    CHECK_STR(out, "Sun, 06 Nov 1994 08:49:37 GMT");
    CHECK_INT(strlen(out), CLOCK_HTTP_DATE_LEN);
    clock_http_date(0, out);
    CHECK_STR(out, "Thu, 01 Jan 1970 00:00:00 GMT");
    clock_http_date(-1, out);
    CHECK_STR(out, "Wed, 31 Dec 1969 23:59:59 GMT");
    clock_http_date(951782400, out);
    CHECK_STR(out, "Tue, 29 Feb 2000 00:00:00 GMT");
    clock_http_date((time_t)INT64_C(4102444800), out);
    CHECK_STR(out, "Fri, 01 Jan 2100 00:00:00 GMT");
}

/* Regression: gmtime_r fails on absurd times and left tm unset, which was
 * then used as an array index. Such times are clamped to years 1..9999. */
TEST(http_date_format_clamps)
{
    char out[CLOCK_HTTP_DATE_LEN + 1];

    clock_http_date((time_t)INT64_MAX, out);
    CHECK_STR(out, "Fri, 31 Dec 9999 23:59:59 GMT");
    clock_http_date((time_t)INT64_MIN, out);
    CHECK_STR(out, "Mon, 01 Jan 0001 00:00:00 GMT");
    clock_http_date((time_t)INT64_C(253402300800), out); /* year 10000 */
    CHECK_STR(out, "Fri, 31 Dec 9999 23:59:59 GMT");
}

TEST(http_date_parse_three_forms)
{
    time_t t;

    t = 1;
    CHECK_INT(parse_exact("Sun, 06 Nov 1994 08:49:37 GMT", &t), SV_OK);
    CHECK_INT(t, T_1994);
    t = 1;
    CHECK_INT(parse_exact("Sunday, 06-Nov-94 08:49:37 GMT", &t), SV_OK);
    CHECK_INT(t, T_1994);
    t = 1;
    CHECK_INT(parse_exact("Sun Nov  6 08:49:37 1994", &t), SV_OK);
    CHECK_INT(t, T_1994);
    CHECK_INT(parse_exact("Wed Nov 16 08:49:37 1994", &t), SV_OK);
    CHECK_INT(t, T_1994 + 10 * 86400);
    CHECK_INT(parse_exact("Thu, 01 Jan 1970 00:00:00 GMT", &t), SV_OK);
    CHECK_INT(t, 0);
    CHECK_INT(parse_exact("Wed, 31 Dec 1969 23:59:59 GMT", &t), SV_OK);
    CHECK_INT(t, -1);
    CHECK_INT(parse_exact("Thu, 29 Feb 2024 12:00:00 GMT", &t), SV_OK);
    CHECK_INT(t, 1709208000);
    CHECK_INT(parse_exact("Tue, 29 Feb 2000 00:00:00 GMT", &t), SV_OK);
    CHECK_INT(parse_exact("Fri, 31 Dec 9999 23:59:59 GMT", &t), SV_OK);
    CHECK_INT(t, INT64_C(253402300799));
    /* a leap second is accepted (and folds into the next minute) */
    CHECK_INT(parse_exact("Sat, 31 Dec 2016 23:59:60 GMT", &t), SV_OK);
    /* the day name is not checked against the date (RFC 9110 does not ask it) */
    CHECK_INT(parse_exact("Mon, 06 Nov 1994 08:49:37 GMT", &t), SV_OK);
}

/* RFC 9110: a two-digit year more than 50 years ahead is in the past. */
TEST(http_date_rfc850_year)
{
    char in[64];
    time_t now = time(NULL), t;
    struct tm tm;
    int year;

    gmtime_r(&now, &tm);
    year = tm.tm_year + 1900;

    snprintf(in, sizeof(in), "Monday, 01-Jan-%02d 00:00:00 GMT", (year + 50) % 100);
    CHECK_INT(parse_exact(in, &t), SV_OK);
    gmtime_r(&t, &tm);
    CHECK_INT(tm.tm_year + 1900, year + 50);

    snprintf(in, sizeof(in), "Monday, 01-Jan-%02d 00:00:00 GMT", (year + 51) % 100);
    CHECK_INT(parse_exact(in, &t), SV_OK);
    gmtime_r(&t, &tm);
    CHECK_INT(tm.tm_year + 1900, year + 51 - 100);

    snprintf(in, sizeof(in), "Monday, 01-Jan-%02d 00:00:00 GMT", year % 100);
    CHECK_INT(parse_exact(in, &t), SV_OK);
    gmtime_r(&t, &tm);
    CHECK_INT(tm.tm_year + 1900, year);
}

TEST(http_date_rejects_garbage)
{
    static const char *bad[] = {
        "",
        "garbage",
        "Sun, 06 Nov 1994 08:49:37 GMT ", /* trailing space */
        " Sun, 06 Nov 1994 08:49:37 GMT", /* leading space */
        "Sun, 06 Nov 1994 08:49:37 gmt",  /* case-sensitive */
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "sun, 06 Nov 1994 08:49:37 GMT",
        "Xyz, 06 Nov 1994 08:49:37 GMT", /* not a day name */
        "Sun, 06 nov 1994 08:49:37 GMT",
        "Sun, 06 Foo 1994 08:49:37 GMT",
        "Sun, 6 Nov 1994 08:49:37 GMT", /* two-digit day */
        "Sun, 06 Nov 94 08:49:37 GMT",  /* four-digit year */
        "Sun, 00 Nov 1994 08:49:37 GMT",
        "Sun, 31 Nov 1994 08:49:37 GMT", /* November has 30 days */
        "Sun, 30 Feb 2024 08:49:37 GMT",
        "Sun, 29 Feb 2023 08:49:37 GMT", /* not a leap year */
        "Sun, 29 Feb 1900 08:49:37 GMT", /* nor is 1900 */
        "Sun, 06 Nov 0000 08:49:37 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT",
        "Sun, 06 Nov 1994 08:60:00 GMT",
        "Sun, 06 Nov 1994 08:49:61 GMT",
        "Sun, 06 Nov 1994 8:49:37 GMT",
        "Sun, 06 Nov 1994 08:49 GMT",
        "Sun, 06 Nov 1994 08:49:37",
        "Sun,06 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 -8:49:37 GMT",
        "Sun, 06 Nov +994 08:49:37 GMT",
        "Sunday, 06 Nov 1994 08:49:37 GMT", /* long name, fixdate body */
        "Sun, 06-Nov-94 08:49:37 GMT",      /* short name, RFC 850 body */
        "Sunday, 06-Nov-1994 08:49:37 GMT",
        "Sunday, 06-Nov-94 08:49:37",
        "Sunday 06-Nov-94 08:49:37 GMT",
        "Sun Nov 6 08:49:37 1994", /* asctime pads with a space */
        "Sun Nov  6 08:49:37 94",
        "Sun Nov  6 08:49:37 1994 GMT",
        "Sun  Nov  6 08:49:37 1994",
        "Sun, Nov  6 08:49:37 1994",
        "Sun Nov 31 08:49:37 1994",
        "1994-11-06T08:49:37Z",
        "784111777",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        time_t t = 12345;
        int rc = parse_exact(bad[i], &t);
        if (rc != SV_BAD_DATA)
            printf("# accepted \"%s\"\n", bad[i]);
        CHECK_INT(rc, SV_BAD_DATA);
        CHECK_INT(t, 12345); /* untouched */
    }
    time_t t = 12345;
    CHECK_INT(clock_parse_http_date(STR_NULL, &t), SV_BAD_DATA);
    CHECK_INT(clock_parse_http_date(STR("Sun, 06 Nov 1994 08:49:37 GMT\0"), &t), SV_BAD_DATA);
}

/* Every proper prefix of a valid date is rejected without reading past it. */
TEST(http_date_prefixes)
{
    static const char *good[] = {
        "Sun, 06 Nov 1994 08:49:37 GMT",
        "Sunday, 06-Nov-94 08:49:37 GMT",
        "Sun Nov  6 08:49:37 1994",
    };
    for (size_t g = 0; g < sizeof(good) / sizeof(good[0]); g++) {
        size_t n = strlen(good[g]);
        for (size_t k = 0; k < n; k++) {
            char *copy = malloc(k ? k : 1);
            time_t t;
            memcpy(copy, good[g], k);
            CHECK_INT(clock_parse_http_date(str_make(copy, k), &t), SV_BAD_DATA);
            free(copy);
        }
    }
}

TEST(http_date_round_trip)
{
    char out[CLOCK_HTTP_DATE_LEN + 1];
    uint64_t x = 0x9e3779b97f4a7c15u;
    int bad = 0;

    for (int i = 0; i < 20000; i++) {
        time_t t, back = 0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        /* years 1..9999 */
        t = (time_t)(INT64_C(-62135596800) + (int64_t)(x % UINT64_C(315537897600)));
        clock_http_date(t, out);
        if (parse_exact(out, &back) != SV_OK || back != t) {
            if (bad++ < 5)
                printf("# %lld -> %s -> %lld\n", (long long)t, out, (long long)back);
        }
    }
    CHECK_INT(bad, 0);
}

TEST(iso8601)
{
    char out[CLOCK_ISO_LEN + 1];

    clock_iso8601(0, out);
    CHECK_STR(out, "1970-01-01T00:00:00.000Z");
    clock_iso8601(-1, out);
    CHECK_STR(out, "1969-12-31T23:59:59.999Z");
    clock_iso8601(INT64_C(1764064800123), out);
    CHECK_STR(out, "2025-11-25T10:00:00.123Z");
    CHECK_INT(strlen(out), CLOCK_ISO_LEN);
    clock_iso8601(INT64_MAX, out);
    CHECK_STR(out, "9999-12-31T23:59:59.999Z");
    clock_iso8601(INT64_MIN, out);
    CHECK_STR(out, "0001-01-01T00:00:00.000Z");
}

int
main(void)
{
    RUN(monotonic_and_wall);
    RUN(http_date_format);
    RUN(http_date_format_clamps);
    RUN(http_date_parse_three_forms);
    RUN(http_date_rfc850_year);
    RUN(http_date_rejects_garbage);
    RUN(http_date_prefixes);
    RUN(http_date_round_trip);
    RUN(iso8601);
    return test_done();
}
