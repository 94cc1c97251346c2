/*
 * buf.h: growable byte buffers with a ceiling.
 *
 * A buf_t grows on demand up to max bytes and refuses to grow past it
 * (SV_TOO_BIG), so a peer can never make us allocate without bound.
 * data is always NUL-terminated when cap > 0 (the NUL is not counted in len),
 * so a buffer of text can be handed to C string functions.
 */
#ifndef SV_BUF_H
#define SV_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "base/str.h"

typedef struct {
    char *data;
    size_t len;
    size_t cap;
    size_t max;
} buf_t;

void buf_init(buf_t *b, size_t max);
void buf_free(buf_t *b);
/* Empties the buffer, keeping its allocation. */
void buf_reset(buf_t *b);
/* Makes room for extra more bytes (plus the NUL). SV_TOO_BIG past max, SV_NO_MEMORY. */
int buf_reserve(buf_t *b, size_t extra);
int buf_append(buf_t *b, const void *p, size_t n);
int buf_append_cstr(buf_t *b, const char *s);
int buf_append_str(buf_t *b, str_t s);
int buf_append_char(buf_t *b, char c);
int buf_appendf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vappendf(buf_t *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
int buf_append_u64(buf_t *b, uint64_t v);
/*
 * Appends s with JSON string escaping (without the surrounding quotes).
 * Bytes that are not valid UTF-8 are written as \u00XX of the byte, so the
 * result is always valid JSON and untrusted bytes cannot break a log line.
 */
int buf_append_json_escaped(buf_t *b, str_t s);
/* Removes the first n bytes (n <= len). */
void buf_consume(buf_t *b, size_t n);
static inline str_t
buf_str(const buf_t *b)
{
    return str_make(b->data, b->len);
}

#endif
