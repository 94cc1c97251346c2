/*
 * str.c: length-carrying string helpers.
 */
#include "base/str.h"
#include "base/status.h"

#include <string.h>

str_t
str_from_cstr(const char *s)
{
    return s ? str_make(s, strlen(s)) : STR_NULL;
}

bool
str_eq(str_t a, str_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

bool
str_eq_cstr(str_t a, const char *b)
{
    return str_eq(a, str_from_cstr(b));
}

static inline unsigned char
str_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c | 0x20) : c;
}

bool
str_caseeq(str_t a, const char *b)
{
    size_t blen = strlen(b);
    if (a.len != blen)
        return false;
    for (size_t i = 0; i < blen; i++) {
        if (str_lower((unsigned char)a.p[i]) != str_lower((unsigned char)b[i]))
            return false;
    }
    return true;
}

bool
str_has_prefix(str_t s, const char *prefix)
{
    size_t n = strlen(prefix);
    /* n == 0 first: s.p may be NULL, and memcmp must not get it. */
    return n == 0 || (s.len >= n && memcmp(s.p, prefix, n) == 0);
}

bool
str_has_suffix(str_t s, const char *suffix)
{
    size_t n = strlen(suffix);
    /* n == 0 first: s.p may be NULL, and NULL + 0 is undefined. */
    return n == 0 || (s.len >= n && memcmp(s.p + s.len - n, suffix, n) == 0);
}

str_t
str_trim(str_t s)
{
    while (s.len > 0 && (s.p[0] == ' ' || s.p[0] == '\t')) {
        s.p++;
        s.len--;
    }
    while (s.len > 0 && (s.p[s.len - 1] == ' ' || s.p[s.len - 1] == '\t'))
        s.len--;
    return s;
}

int
str_to_u64(str_t s, uint64_t *out)
{
    uint64_t v = 0;

    if (s.len == 0)
        return SV_BAD_DATA;
    for (size_t i = 0; i < s.len; i++) {
        unsigned d = (unsigned char)s.p[i] - '0';
        if (d > 9)
            return SV_BAD_DATA;
        if (v > (UINT64_MAX - d) / 10)
            return SV_TOO_BIG;
        v = v * 10 + d;
    }
    *out = v;
    return SV_OK;
}

int
str_to_i64(str_t s, int64_t *out)
{
    bool neg = false;
    uint64_t u;
    int rc;

    if (s.len > 0 && s.p[0] == '-') {
        neg = true;
        s.p++;
        s.len--;
    }
    rc = str_to_u64(s, &u);
    if (rc != SV_OK)
        return rc;
    if (neg) {
        if (u > (uint64_t)INT64_MAX + 1)
            return SV_TOO_BIG;
        *out = u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)u;
    } else {
        if (u > (uint64_t)INT64_MAX)
            return SV_TOO_BIG;
        *out = (int64_t)u;
    }
    return SV_OK;
}

ptrdiff_t
str_find_char(str_t s, size_t from, char c)
{
    if (from >= s.len)
        return -1;
    const char *hit = memchr(s.p + from, c, s.len - from);
    return hit ? hit - s.p : -1;
}

size_t
str_copy_cstr(char *dst, size_t cap, str_t s)
{
    size_t n = s.len < cap - 1 ? s.len : cap - 1;
    if (n)
        memcpy(dst, s.p, n);
    dst[n] = '\0';
    return n;
}
