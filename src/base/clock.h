/*
 * clock.h: time. Monotonic time for deadlines, UTC wall time for everything
 * stored or shown. Nothing here uses the local time zone.
 */
#ifndef SV_CLOCK_H
#define SV_CLOCK_H

#include <stdint.h>
#include <time.h>

#include "base/str.h"

/* Monotonic milliseconds / nanoseconds since an arbitrary point. */
uint64_t clock_mono_ms(void);
uint64_t clock_mono_ns(void);
/* Wall clock, milliseconds since the Unix epoch, UTC. */
int64_t clock_wall_ms(void);

#define CLOCK_HTTP_DATE_LEN 29 /* "Sun, 06 Nov 1994 08:49:37 GMT" */
/*
 * Writes the IMF-fixdate for t into out (at least 30 bytes), NUL-terminated.
 * t before year 1 or after 9999 is clamped to the first or last second of
 * that range (the format has four year digits).
 */
void clock_http_date(time_t t, char *out);
/*
 * Parses an HTTP date (IMF-fixdate, and the obsolete RFC 850 and asctime forms
 * that RFC 9110 says a recipient must accept), case-sensitively and exactly:
 * no leading or trailing spaces, a real day name, a day that exists in its
 * month. The day name is not checked against the date. An RFC 850 two-digit
 * year is read as RFC 9110 5.6.7 says (never more than 50 years ahead of the
 * wall clock). SV_OK, or SV_BAD_DATA and *out is untouched.
 */
int clock_parse_http_date(str_t s, time_t *out);

#define CLOCK_ISO_LEN 24 /* "2026-11-25T10:00:00.000Z" */
/* ISO 8601 UTC with milliseconds into out (at least 25 bytes); clamped to
 * years 1..9999 like clock_http_date. */
void clock_iso8601(int64_t ms, char *out);

#endif
