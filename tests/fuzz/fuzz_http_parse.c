/*
 * fuzz_http_parse.c: the request head parser, the chunked decoder and path
 * normalisation on arbitrary bytes.
 *
 * The first input byte chooses a split point, so the resumable parser is fed
 * in two calls; the result must equal a one-call parse of the same bytes.
 * Invariants checked (abort on violation): every offset lies inside the
 * input, a complete head ends with a line feed, a normalised path starts
 * with '/' and holds no "." or ".." segment.
 */
#include "base/arena.h"
#include "base/status.h"
#include "net/http.h"
#include "net/http_parse.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_FIELDS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_check_path(str_t p)
{
    if (p.len == 0 || p.p[0] != '/')
        abort();
    for (size_t i = 0; i + 1 < p.len; i++) {
        if (p.p[i] != '/')
            continue;
        size_t e = i + 1;
        while (e < p.len && p.p[e] != '/')
            e++;
        size_t n = e - i - 1;
        if ((n == 1 && p.p[i + 1] == '.') || (n == 2 && p.p[i + 1] == '.' && p.p[i + 2] == '.'))
            abort();
    }
}

static int
fuzz_parse(const uint8_t *data, size_t size, size_t split, http_parser_t *p,
           http_field_t *fields)
{
    int rc;
    memset(p, 0, sizeof(*p));
    p->fields = fields;
    p->max_fields = FUZZ_FIELDS;
    p->max_head = 8192;
    p->max_target = 2048;
    http_parser_reset(p);
    if (split > 0 && split < size) {
        rc = http_parse_head(p, (const char *)data, split);
        if (rc != SV_AGAIN)
            return rc;
    }
    return http_parse_head(p, (const char *)data, size);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static http_field_t f1[FUZZ_FIELDS], f2[FUZZ_FIELDS];
    http_parser_t p1, p2;
    size_t split;
    int r1, r2;

    if (size < 1)
        return 0;
    split = data[0];
    data++;
    size--;

    r1 = fuzz_parse(data, size, 0, &p1, f1);
    r2 = fuzz_parse(data, size, split, &p2, f2);
    if (r1 != r2)
        abort(); /* resuming must not change the outcome */
    if (r1 > 0) {
        size_t head = (size_t)r1;
        if (head > size || data[head - 1] != '\n')
            abort();
        if (p1.method_off + p1.method_len > head || p1.target_off + p1.target_len > head ||
            p1.nfields != p2.nfields || p1.target_len != p2.target_len)
            abort();
        for (uint32_t i = 0; i < p1.nfields; i++) {
            if (f1[i].name_off + f1[i].name_len > head ||
                f1[i].value_off + f1[i].value_len > head || f1[i].name_len == 0 ||
                memcmp(&f1[i], &f2[i], sizeof(f1[i])) != 0)
                abort();
        }

        /* The target's path, normalised. */
        arena_t *a = arena_create(0);
        if (a) {
            str_t target = str_make((const char *)data + p1.target_off, p1.target_len), out;
            const char *q = memchr(target.p, '?', target.len);
            if (q)
                target.len = (size_t)(q - target.p);
            if (http_path_normalize(a, target, &out) == SV_OK)
                fuzz_check_path(out);
            arena_destroy(a);
        }

        /* Whatever follows, as a chunked body, in pieces of `split` bytes. */
        http_chunked_t ch;
        http_chunked_init(&ch, 1024);
        size_t pos = head, step = split ? split : 1;
        while (pos < size) {
            size_t n = size - pos < step ? size - pos : step, used;
            const char *d;
            size_t dl;
            int rc = http_chunked_decode(&ch, (const char *)data + pos, n, &used, &d, &dl);
            if (used > n || (dl && (d < (const char *)data + pos || d + dl > (const char *)data + pos + n)))
                abort();
            if (rc != SV_AGAIN)
                break;
            if (used == 0 && dl == 0)
                abort(); /* AGAIN must make progress when given bytes */
            pos += used;
        }
    } else if (r1 == SV_BAD_DATA) {
        if (p1.error_status < 400 || p1.error_status > 505 || p1.error == NULL)
            abort();
    } else if (r1 != SV_AGAIN) {
        abort();
    }
    return 0;
}
