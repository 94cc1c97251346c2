/*
 * buf.c: growable byte buffers with a ceiling.
 */
#include "base/buf.h"
#include "base/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
buf_init(buf_t *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void
buf_free(buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void
buf_reset(buf_t *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

int
buf_reserve(buf_t *b, size_t extra)
{
    size_t need, ncap;
    char *p;

    /* The NUL needs a byte too, so len + extra must stay below SIZE_MAX. */
    if (b->len > b->max || extra > b->max - b->len || extra >= SIZE_MAX - b->len)
        return SV_TOO_BIG;
    need = b->len + extra + 1;
    if (need <= b->cap)
        return SV_OK;
    ncap = b->cap ? b->cap : 256;
    while (ncap < need)
        ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
    if (b->max < SIZE_MAX && ncap > b->max + 1)
        ncap = b->max + 1;
    p = realloc(b->data, ncap);
    if (p == NULL)
        return SV_NO_MEMORY;
    b->data = p;
    b->cap = ncap;
    return SV_OK;
}

int
buf_append(buf_t *b, const void *p, size_t n)
{
    int rc = buf_reserve(b, n);
    if (rc != SV_OK)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return SV_OK;
}

int
buf_append_cstr(buf_t *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

int
buf_append_str(buf_t *b, str_t s)
{
    return buf_append(b, s.p, s.len);
}

int
buf_append_char(buf_t *b, char c)
{
    return buf_append(b, &c, 1);
}

int
buf_vappendf(buf_t *b, const char *fmt, va_list ap)
{
    va_list ap2;
    size_t room = b->cap > b->len ? b->cap - b->len : 0;
    int n, rc;

    /* Format into the space we have; if it did not fit, grow once to the exact
     * size. (Reserving a guess first would refuse a short text that fits
     * below the ceiling.) */
    va_copy(ap2, ap);
    n = vsnprintf(room ? b->data + b->len : NULL, room, fmt, ap2);
    va_end(ap2);
    if (n < 0) {
        rc = SV_ERROR;
        goto fail;
    }
    if ((size_t)n >= room) {
        rc = buf_reserve(b, (size_t)n);
        if (rc != SV_OK)
            goto fail;
        n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
        if (n < 0) {
            rc = SV_ERROR;
            goto fail;
        }
    }
    b->len += (size_t)n;
    return SV_OK;

fail:
    /* A partial write may have overwritten the terminator. */
    if (b->cap > b->len)
        b->data[b->len] = '\0';
    return rc;
}

int
buf_appendf(buf_t *b, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = buf_vappendf(b, fmt, ap);
    va_end(ap);
    return rc;
}

int
buf_append_u64(buf_t *b, uint64_t v)
{
    char tmp[24];
    size_t i = sizeof(tmp);

    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return buf_append(b, tmp + i, sizeof(tmp) - i);
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 if it is not valid. */
static size_t
buf_utf8_len(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    size_t len;
    uint32_t cp;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, cp = c & 0x07;
    else
        return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return len;
}

int
buf_append_json_escaped(buf_t *b, str_t s)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s.p;
    size_t i = 0, run = 0;
    int rc;

    while (i < s.len) {
        unsigned char c = p[i];
        size_t ulen = buf_utf8_len(p + i, s.len - i);
        if (ulen > 0 && c >= 0x20 && c != '"' && c != '\\' && c != 0x7f) {
            i += ulen;
            run += ulen;
            continue;
        }
        if (run) {
            rc = buf_append(b, p + i - run, run);
            if (rc != SV_OK)
                return rc;
            run = 0;
        }
        char esc[6];
        size_t elen = 2;
        esc[0] = '\\';
        switch (c) {
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            elen = 6;
        }
        rc = buf_append(b, esc, elen);
        if (rc != SV_OK)
            return rc;
        i++;
    }
    return run ? buf_append(b, p + i - run, run) : SV_OK;
}

void
buf_consume(buf_t *b, size_t n)
{
    if (n >= b->len) {
        buf_reset(b);
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = '\0';
}
