/*
 * str.h: strings that carry their length.
 *
 * A str_t never owns its bytes; whoever made it says how long they live.
 * The bytes need not be NUL-terminated and may contain NULs.
 */
#ifndef SV_STR_H
#define SV_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *p;
    size_t len;
} str_t;

#define STR(lit) ((str_t){(lit), sizeof(lit) - 1})
#define STR_NULL ((str_t){NULL, 0})
#define STR_FMT(s) (int)(s).len, (s).p /* for printf("%.*s") */

static inline str_t
str_make(const char *p, size_t len)
{
    return (str_t){p, len};
}

str_t str_from_cstr(const char *s);
bool str_eq(str_t a, str_t b);
bool str_eq_cstr(str_t a, const char *b);
/* ASCII case-insensitive comparison. */
bool str_caseeq(str_t a, const char *b);
bool str_has_prefix(str_t s, const char *prefix);
bool str_has_suffix(str_t s, const char *suffix);
str_t str_trim(str_t s); /* strips spaces and tabs at both ends */

/*
 * Strict decimal parsing: digits only (no sign, no spaces, no leading '+'),
 * at least one digit, no overflow. Returns SV_OK or SV_BAD_DATA / SV_TOO_BIG;
 * *out is written only on success.
 */
int str_to_u64(str_t s, uint64_t *out);
/* Optional leading '-', then as str_to_u64. */
int str_to_i64(str_t s, int64_t *out);

/* Index of the first c in s at or after from, or -1. */
ptrdiff_t str_find_char(str_t s, size_t from, char c);

/*
 * Copies s into dst (capacity cap, cap >= 1) as a NUL-terminated string,
 * truncating if needed. Returns the number of bytes copied (without NUL).
 */
size_t str_copy_cstr(char *dst, size_t cap, str_t s);

#endif
