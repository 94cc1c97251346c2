/*
 * jsonx.c: bounded JSON parsing and serialisation into buf_t.
 */
#include "base/jsonx.h"
#include "base/status.h"

#include <stdio.h>

size_t
jsonx_depth(str_t text)
{
    size_t depth = 0, max = 0;
    int in_string = 0, escaped = 0;

    for (size_t i = 0; i < text.len; i++) {
        char c = text.p[i];
        if (in_string) {
            if (escaped)
                escaped = 0;
            else if (c == '\\')
                escaped = 1;
            else if (c == '"')
                in_string = 0;
            continue;
        }
        if (c == '"') {
            in_string = 1;
        } else if (c == '[' || c == '{') {
            if (++depth > max)
                max = depth;
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        }
    }
    return max;
}

int
jsonx_parse(str_t text, size_t max_depth, json_t **out, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *v;

    if (jsonx_depth(text) > max_depth) {
        snprintf(err, errlen, "JSON nested deeper than %zu levels", max_depth);
        return SV_TOO_BIG;
    }
    v = json_loadb(text.p, text.len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (v == NULL) {
        snprintf(err, errlen, "invalid JSON at line %d column %d: %s", jerr.line, jerr.column,
                 jerr.text);
        return SV_BAD_DATA;
    }
    *out = v;
    return SV_OK;
}

typedef struct {
    buf_t *b;
    int rc; /* the first buf_append failure */
} jsonx_dump_ctx_t;

static int
jsonx_dump_cb(const char *p, size_t n, void *data)
{
    jsonx_dump_ctx_t *ctx = data;
    int rc = buf_append(ctx->b, p, n);
    if (rc != SV_OK) {
        ctx->rc = rc;
        return -1;
    }
    return 0;
}

int
jsonx_dump(buf_t *b, const json_t *v)
{
    jsonx_dump_ctx_t ctx = {b, SV_OK};
    size_t before = b->len;

    if (json_dump_callback(v, jsonx_dump_cb, &ctx, JSON_COMPACT | JSON_ENCODE_ANY) != 0) {
        b->len = before;
        if (b->data)
            b->data[before] = '\0';
        /* If the buffer did not refuse, jansson itself failed (allocation, or
         * a value it cannot encode). */
        return ctx.rc != SV_OK ? ctx.rc : SV_NO_MEMORY;
    }
    return SV_OK;
}
