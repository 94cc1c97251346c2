/*
 * clock.c: monotonic and UTC wall time, HTTP and ISO 8601 dates.
 */
#include "base/clock.h"
#include "base/status.h"

#include <stdint.h>
#include <string.h>

uint64_t
clock_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t
clock_mono_ms(void)
{
    return clock_mono_ns() / 1000000u;
}

int64_t
clock_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char clock_days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char clock_days_long[7][10] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                            "Thursday", "Friday", "Saturday"};
static const char clock_months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* The dates both formats can write: 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59Z. */
#define CLOCK_T_MIN INT64_C(-62135596800)
#define CLOCK_T_MAX INT64_C(253402300799)

_Static_assert(sizeof(time_t) >= 8, "time_t must hold dates past 2038");

/* t clamped to [CLOCK_T_MIN, CLOCK_T_MAX], broken down in UTC. Clamping also
 * keeps gmtime_r from failing (and leaving tm unset) on absurd values. */
static void
clock_gmtime(int64_t t, struct tm *tm)
{
    time_t tt = (time_t)(t < CLOCK_T_MIN ? CLOCK_T_MIN : t > CLOCK_T_MAX ? CLOCK_T_MAX : t);
    gmtime_r(&tt, tm);
}

/* Writes v (0 <= v < 10^n) as exactly n digits at p; returns the end. */
static char *
clock_put_digits(char *p, int v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + n;
}

/* Writing the fields by hand: this runs for every response's Date header,
 * and clock_gmtime bounds every field (years 1..9999), so the lengths are
 * exact. */
void
clock_http_date(time_t t, char *out)
{
    struct tm tm;
    char *p = out;

    clock_gmtime((int64_t)t, &tm);
    memcpy(p, clock_days[tm.tm_wday], 3);
    p += 3;
    *p++ = ',';
    *p++ = ' ';
    p = clock_put_digits(p, tm.tm_mday, 2);
    *p++ = ' ';
    memcpy(p, clock_months[tm.tm_mon], 3);
    p += 3;
    *p++ = ' ';
    p = clock_put_digits(p, tm.tm_year + 1900, 4);
    *p++ = ' ';
    p = clock_put_digits(p, tm.tm_hour, 2);
    *p++ = ':';
    p = clock_put_digits(p, tm.tm_min, 2);
    *p++ = ':';
    p = clock_put_digits(p, tm.tm_sec, 2);
    memcpy(p, " GMT", 5);
}

void
clock_iso8601(int64_t ms, char *out)
{
    struct tm tm;
    int64_t t = ms / 1000;
    int frac = (int)(ms % 1000);
    char *p = out;

    if (frac < 0) {
        frac += 1000;
        t -= 1;
    }
    if (t < CLOCK_T_MIN || t > CLOCK_T_MAX)
        frac = t < CLOCK_T_MIN ? 0 : 999;
    clock_gmtime(t, &tm);
    p = clock_put_digits(p, tm.tm_year + 1900, 4);
    *p++ = '-';
    p = clock_put_digits(p, tm.tm_mon + 1, 2);
    *p++ = '-';
    p = clock_put_digits(p, tm.tm_mday, 2);
    *p++ = 'T';
    p = clock_put_digits(p, tm.tm_hour, 2);
    *p++ = ':';
    p = clock_put_digits(p, tm.tm_min, 2);
    *p++ = ':';
    p = clock_put_digits(p, tm.tm_sec, 2);
    *p++ = '.';
    p = clock_put_digits(p, frac, 3);
    memcpy(p, "Z", 2);
}

/* Reads exactly n digits at *p (within end). -1 if they are not there. */
static int
clock_digits(const char **p, const char *end, int n)
{
    int v = 0;
    if (end - *p < n)
        return -1;
    for (int i = 0; i < n; i++) {
        unsigned d = (unsigned char)(*p)[i] - '0';
        if (d > 9)
            return -1;
        v = v * 10 + (int)d;
    }
    *p += n;
    return v;
}

static int
clock_month(const char **p, const char *end)
{
    if (end - *p < 3)
        return -1;
    for (int m = 0; m < 12; m++) {
        if (memcmp(*p, clock_months[m], 3) == 0) {
            *p += 3;
            return m;
        }
    }
    return -1;
}

static int
clock_expect(const char **p, const char *end, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(end - *p) < n || memcmp(*p, lit, n) != 0)
        return -1;
    *p += n;
    return 0;
}

/* days from civil, proleptic Gregorian (Howard Hinnant's algorithm). */
static int64_t
clock_days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int
clock_time_of_day(const char **p, const char *end, int *h, int *mi, int *s)
{
    if ((*h = clock_digits(p, end, 2)) < 0 || clock_expect(p, end, ":") ||
        (*mi = clock_digits(p, end, 2)) < 0 || clock_expect(p, end, ":") ||
        (*s = clock_digits(p, end, 2)) < 0)
        return -1;
    return (*h > 23 || *mi > 59 || *s > 60) ? -1 : 0;
}

/* Reads a day name ("Sun" or, if full, "Sunday") at *p. 0..6, or -1. */
static int
clock_day_name(const char **p, const char *end, int full)
{
    for (int i = 0; i < 7; i++) {
        if (clock_expect(p, end, full ? clock_days_long[i] : clock_days[i]) == 0)
            return i;
    }
    return -1;
}

static int
clock_days_in_month(int y, int m0)
{
    static const unsigned char days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m0 == 1 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return days[m0];
}

/*
 * The full year of an RFC 850 two-digit year (RFC 9110 section 5.6.7): the
 * year with those last digits nearest to now, but never more than 50 years
 * in the future.
 */
static int
clock_rfc850_year(int yy)
{
    time_t now = time(NULL);
    struct tm tm;
    int cur, y;

    clock_gmtime((int64_t)now, &tm);
    cur = tm.tm_year + 1900;
    y = cur - cur % 100 + yy;
    if (y > cur + 50)
        y -= 100;
    else if (y + 100 <= cur + 50)
        y += 100;
    return y;
}

int
clock_parse_http_date(str_t str, time_t *out)
{
    const char *p, *end;
    int y, mon, d, h, mi, s;

    if (str.len == 0)
        return SV_BAD_DATA;
    p = str.p;
    end = str.p + str.len;

    if (clock_day_name(&p, end, 1) >= 0) {
        /* RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT" */
        if (clock_expect(&p, end, ", ") || (d = clock_digits(&p, end, 2)) < 0 ||
            clock_expect(&p, end, "-") || (mon = clock_month(&p, end)) < 0 ||
            clock_expect(&p, end, "-") || (y = clock_digits(&p, end, 2)) < 0 ||
            clock_expect(&p, end, " ") || clock_time_of_day(&p, end, &h, &mi, &s) ||
            clock_expect(&p, end, " GMT"))
            return SV_BAD_DATA;
        y = clock_rfc850_year(y);
    } else if (clock_day_name(&p, end, 0) < 0) {
        return SV_BAD_DATA;
    } else if (clock_expect(&p, end, ",") == 0) {
        /* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
        if (clock_expect(&p, end, " ") || (d = clock_digits(&p, end, 2)) < 0 ||
            clock_expect(&p, end, " ") || (mon = clock_month(&p, end)) < 0 ||
            clock_expect(&p, end, " ") || (y = clock_digits(&p, end, 4)) < 0 ||
            clock_expect(&p, end, " ") || clock_time_of_day(&p, end, &h, &mi, &s) ||
            clock_expect(&p, end, " GMT"))
            return SV_BAD_DATA;
    } else {
        /* asctime: "Sun Nov  6 08:49:37 1994" */
        if (clock_expect(&p, end, " ") || (mon = clock_month(&p, end)) < 0 ||
            clock_expect(&p, end, " "))
            return SV_BAD_DATA;
        if (p < end && *p == ' ') {
            p++;
            d = clock_digits(&p, end, 1);
        } else {
            d = clock_digits(&p, end, 2);
        }
        if (d < 0 || clock_expect(&p, end, " ") || clock_time_of_day(&p, end, &h, &mi, &s) ||
            clock_expect(&p, end, " ") || (y = clock_digits(&p, end, 4)) < 0)
            return SV_BAD_DATA;
    }
    if (p != end || y < 1 || d < 1 || d > clock_days_in_month(y, mon))
        return SV_BAD_DATA;
    *out = (time_t)(clock_days_from_civil(y, mon + 1, d) * 86400 + h * 3600 + mi * 60 + s);
    return SV_OK;
}
