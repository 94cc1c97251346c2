/*
 * http.c: request accessors and response composition, independent of sockets.
 * The server (http_server.c) sends what is composed here.
 */
#include "net/http.h"
#include "net/http_server.h"
#include "base/clock.h"
#include "base/jsonx.h"
#include "base/status.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* ---- reading ---- */

str_t
http_header_get(const http_request_t *r, const char *name)
{
    for (size_t i = 0; i < r->nheaders; i++) {
        if (str_caseeq(r->headers[i].name, name))
            return r->headers[i].value;
    }
    return STR_NULL;
}

str_t
http_param(const http_request_t *r, const char *name)
{
    for (unsigned i = 0; i < r->nparams; i++) {
        if (str_eq_cstr(r->param_names[i], name))
            return r->param_values[i];
    }
    return STR_NULL;
}

static int
http_hex(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

int
http_percent_decode(arena_t *a, str_t s, bool plus_space, str_t *out)
{
    char *d = arena_alloc(a, s.len + 1);
    size_t n = 0;

    if (d == NULL)
        return SV_NO_MEMORY;
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if (c == '%') {
            int hi, lo;
            if (s.len - i < 3 || (hi = http_hex((unsigned char)s.p[i + 1])) < 0 ||
                (lo = http_hex((unsigned char)s.p[i + 2])) < 0)
                return SV_BAD_DATA;
            c = (unsigned char)(hi << 4 | lo);
            if (c == 0)
                return SV_BAD_DATA;
            i += 2;
        } else if (c == '+' && plus_space) {
            c = ' ';
        } else if (c == 0) {
            return SV_BAD_DATA;
        }
        d[n++] = (char)c;
    }
    d[n] = '\0';
    *out = str_make(d, n);
    return SV_OK;
}

int
http_path_normalize(arena_t *a, str_t raw, str_t *out)
{
    str_t dec;
    char *o;
    size_t n = 0, i = 0;
    int rc;

    if (raw.len == 0 || raw.p[0] != '/')
        return SV_BAD_DATA;
    rc = http_percent_decode(a, raw, false, &dec);
    if (rc != SV_OK)
        return rc;
    o = (char *)dec.p; /* normalise in place: output never outruns input */
    while (i < dec.len) {
        /* at a '/' in the input: look at the segment that follows */
        size_t seg = i + 1, end = seg;
        while (end < dec.len && dec.p[end] != '/')
            end++;
        size_t seglen = end - seg;
        if (seglen == 0 && end < dec.len) {
            /* "//": an empty segment is merged, so that no path (and no
             * redirect built from one) can start with "//". */
        } else if (seglen == 1 && dec.p[seg] == '.') {
            /* "/." : drop; keep a trailing slash */
            if (end == dec.len)
                o[n++] = '/';
        } else if (seglen == 2 && dec.p[seg] == '.' && dec.p[seg + 1] == '.') {
            if (n == 0)
                return SV_BAD_DATA; /* climbs above the root */
            while (n > 0 && o[n - 1] != '/')
                n--;
            if (n > 0)
                n--; /* remove the parent's '/' */
            if (end == dec.len)
                o[n++] = '/';
        } else {
            memmove(o + n, dec.p + i, end - i);
            n += end - i;
        }
        i = end;
    }
    if (n == 0)
        o[n++] = '/';
    o[n] = '\0';
    *out = str_make(o, n);
    return SV_OK;
}

int
http_query_get(http_request_t *r, const char *name, str_t *out)
{
    size_t nlen = strlen(name), i = 0;
    str_t q = r->query;

    while (i < q.len) {
        size_t end = i;
        while (end < q.len && q.p[end] != '&')
            end++;
        str_t pair = str_make(q.p + i, end - i);
        ptrdiff_t eq = str_find_char(pair, 0, '=');
        str_t key = eq >= 0 ? str_make(pair.p, (size_t)eq) : pair;
        str_t dkey;
        if (key.len >= nlen && http_percent_decode(r->arena, key, true, &dkey) == SV_OK &&
            dkey.len == nlen && memcmp(dkey.p, name, nlen) == 0) {
            str_t val =
                eq >= 0 ? str_make(pair.p + eq + 1, pair.len - (size_t)eq - 1) : STR("");
            return http_percent_decode(r->arena, val, true, out);
        }
        i = end + 1;
    }
    return SV_NOT_FOUND;
}

unsigned
http_method_from_str(str_t m)
{
    switch (m.len) {
    case 3:
        if (str_eq_cstr(m, "GET"))
            return HTTP_GET;
        if (str_eq_cstr(m, "PUT"))
            return HTTP_PUT;
        break;
    case 4:
        if (str_eq_cstr(m, "HEAD"))
            return HTTP_HEAD;
        if (str_eq_cstr(m, "POST"))
            return HTTP_POST;
        break;
    case 5:
        if (str_eq_cstr(m, "PATCH"))
            return HTTP_PATCH;
        break;
    case 6:
        if (str_eq_cstr(m, "DELETE"))
            return HTTP_DELETE;
        break;
    case 7:
        if (str_eq_cstr(m, "OPTIONS"))
            return HTTP_OPTIONS;
        break;
    }
    return HTTP_OTHER;
}

const char *
http_status_reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 206:
        return "Partial Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 303:
        return "See Other";
    case 304:
        return "Not Modified";
    case 307:
        return "Temporary Redirect";
    case 308:
        return "Permanent Redirect";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 406:
        return "Not Acceptable";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 411:
        return "Length Required";
    case 412:
        return "Precondition Failed";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 416:
        return "Range Not Satisfiable";
    case 417:
        return "Expectation Failed";
    case 422:
        return "Unprocessable Content";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    }
    return "Unknown";
}

/* ---- composing ---- */

int
http_header_add(http_request_t *r, const char *name, const char *value)
{
    http_response_t *resp = &r->resp;

    if (resp->nheaders == resp->cap_headers) {
        size_t ncap = resp->cap_headers ? resp->cap_headers * 2 : 8;
        http_header_t *h = arena_alloc(r->arena, ncap * sizeof(*h));
        if (h == NULL)
            return SV_NO_MEMORY;
        if (resp->nheaders)
            memcpy(h, resp->headers, resp->nheaders * sizeof(*h));
        resp->headers = h;
        resp->cap_headers = ncap;
    }
    char *n = arena_strndup(r->arena, name, strlen(name));
    char *v = arena_strndup(r->arena, value, strlen(value));
    if (n == NULL || v == NULL)
        return SV_NO_MEMORY;
    /* A header value with CR or LF would split the response: refuse it. */
    if (strpbrk(v, "\r\n") || strpbrk(n, "\r\n: "))
        return SV_BAD_DATA;
    resp->headers[resp->nheaders].name = str_from_cstr(n);
    resp->headers[resp->nheaders].value = str_from_cstr(v);
    resp->nheaders++;
    return SV_OK;
}

int
http_header_addf(http_request_t *r, const char *name, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp))
        return SV_TOO_BIG;
    return http_header_add(r, name, tmp);
}

buf_t *
http_body(http_request_t *r)
{
    return &r->resp.body;
}

static void
http_response_discard_file(http_response_t *resp)
{
    if (resp->fd >= 0) {
        close(resp->fd);
        resp->fd = -1;
    }
}

int
http_respond_body(http_request_t *r, int status, const char *content_type)
{
    http_response_t *resp = &r->resp;
    http_response_discard_file(resp);
    resp->status = status;
    resp->kind = HTTP_BODY_BUF;
    resp->content_type = content_type;
    resp->content_length = (int64_t)resp->body.len;
    resp->composed = true;
    return SV_OK;
}

int
http_respond(http_request_t *r, int status, const char *content_type, const void *body,
             size_t len)
{
    buf_reset(&r->resp.body);
    int rc = buf_append(&r->resp.body, body, len);
    if (rc != SV_OK)
        return rc;
    return http_respond_body(r, status, content_type);
}

int
http_respond_json(http_request_t *r, int status, const json_t *v)
{
    buf_reset(&r->resp.body);
    int rc = jsonx_dump(&r->resp.body, v);
    if (rc == SV_OK)
        rc = buf_append_char(&r->resp.body, '\n');
    if (rc != SV_OK)
        return rc;
    return http_respond_body(r, status, "application/json");
}

int
http_respond_error(http_request_t *r, int status, const char *code, const char *message,
                   const char *field)
{
    buf_t *b = &r->resp.body;
    int rc;

    /* Any half-composed response is dropped, headers included. */
    http_response_discard_file(&r->resp);
    r->resp.nheaders = 0;
    buf_reset(b);
    rc = buf_append_cstr(b, "{\"error\":{\"code\":\"");
    if (rc == SV_OK)
        rc = buf_append_json_escaped(b, str_from_cstr(code));
    if (rc == SV_OK)
        rc = buf_append_cstr(b, "\",\"message\":\"");
    if (rc == SV_OK)
        rc = buf_append_json_escaped(b, str_from_cstr(message ? message : ""));
    if (rc == SV_OK && field) {
        rc = buf_append_cstr(b, "\",\"field\":\"");
        if (rc == SV_OK)
            rc = buf_append_json_escaped(b, str_from_cstr(field));
    }
    if (rc == SV_OK)
        rc = buf_append_cstr(b, "\"}}\n");
    if (rc != SV_OK)
        return rc;
    return http_respond_body(r, status, "application/json");
}

int
http_respond_status(http_request_t *r, int rc, const char *message, const char *field)
{
    return http_respond_error(r, status_http(rc), status_code(rc),
                              message ? message : status_text(rc), field);
}

/* ---- validators, conditionals and ranges (RFC 9110 13, 14) ---- */

/* Does the list value (e.g. If-None-Match) contain etag? weak: compare ignoring W/. */
static bool
http_etag_list_match(str_t list, const char *etag, bool weak)
{
    str_t want = str_from_cstr(etag);
    if (str_has_prefix(want, "W/")) {
        if (!weak)
            return false;
        want.p += 2;
        want.len -= 2;
    }
    size_t i = 0;
    while (i < list.len) {
        while (i < list.len && (list.p[i] == ' ' || list.p[i] == '\t' || list.p[i] == ','))
            i++;
        if (i >= list.len)
            break;
        if (list.p[i] == '*')
            return true;
        bool is_weak = false;
        if (list.len - i >= 2 && list.p[i] == 'W' && list.p[i + 1] == '/') {
            is_weak = true;
            i += 2;
        }
        if (i >= list.len || list.p[i] != '"')
            return false; /* malformed: no match */
        size_t start = i;
        i++;
        while (i < list.len && list.p[i] != '"')
            i++;
        if (i >= list.len)
            return false;
        i++;
        str_t tag = str_make(list.p + start, i - start);
        if ((weak || !is_weak) && str_eq(tag, want))
            return true;
    }
    return false;
}

int
http_check_preconditions(http_request_t *r, const char *etag, time_t last_modified)
{
    str_t im = http_header_get(r, "If-Match");
    str_t ius = http_header_get(r, "If-Unmodified-Since");
    str_t inm = http_header_get(r, "If-None-Match");
    str_t ims = http_header_get(r, "If-Modified-Since");
    time_t t;
    bool safe = r->method == HTTP_GET || r->method == HTTP_HEAD;

    /* RFC 9110 13.2.2, in order. */
    if (im.p) {
        if (!etag || !http_etag_list_match(im, etag, false))
            goto failed;
    } else if (ius.p && clock_parse_http_date(ius, &t) == SV_OK) {
        if (last_modified > t)
            goto failed;
    }
    if (inm.p) {
        if (etag && http_etag_list_match(inm, etag, true))
            goto not_modified;
    } else if (ims.p && safe && clock_parse_http_date(ims, &t) == SV_OK) {
        if (last_modified <= t)
            goto not_modified;
    }
    return SV_OK;

not_modified:
    if (safe) {
        http_response_discard_file(&r->resp);
        buf_reset(&r->resp.body);
        r->resp.status = 304;
        r->resp.kind = HTTP_BODY_NONE;
        r->resp.content_length = -1;
        r->resp.composed = true;
        return SV_DECLINED;
    }
failed:
    http_respond_error(r, 412, "precondition_failed", "precondition failed", NULL);
    return SV_DECLINED;
}

/*
 * Parses a single "bytes=" range against size. Returns SV_OK with the range,
 * SV_DECLINED when the header should be ignored (not bytes, several ranges,
 * malformed), or SV_RANGE when it is unsatisfiable.
 */
static int
http_parse_range(str_t h, uint64_t size, uint64_t *off, uint64_t *len)
{
    uint64_t a, b;

    if (!str_has_prefix(h, "bytes="))
        return SV_DECLINED;
    h.p += 6;
    h.len -= 6;
    h = str_trim(h);
    if (str_find_char(h, 0, ',') >= 0)
        return SV_DECLINED; /* several ranges: answer with the whole file */
    ptrdiff_t dash = str_find_char(h, 0, '-');
    if (dash < 0)
        return SV_DECLINED;
    str_t first = str_make(h.p, (size_t)dash);
    str_t last = str_make(h.p + dash + 1, h.len - (size_t)dash - 1);
    if (first.len == 0) {
        /* suffix range: last N bytes */
        if (str_to_u64(last, &b) != SV_OK)
            return SV_DECLINED;
        if (b == 0 || size == 0)
            return SV_RANGE;
        if (b > size)
            b = size;
        *off = size - b;
        *len = b;
        return SV_OK;
    }
    if (str_to_u64(first, &a) != SV_OK)
        return SV_DECLINED;
    if (last.len == 0) {
        b = UINT64_MAX;
    } else {
        if (str_to_u64(last, &b) != SV_OK || b < a)
            return SV_DECLINED;
    }
    if (a >= size)
        return SV_RANGE;
    if (b >= size)
        b = size - 1;
    *off = a;
    *len = b - a + 1;
    return SV_OK;
}

int
http_respond_file(http_request_t *r, int fd, const struct stat *st, const char *content_type,
                  const char *cache_control)
{
    char etag[64];
    snprintf(etag, sizeof(etag), "\"%llx%lx-%llx\"", (unsigned long long)st->st_mtim.tv_sec,
             (unsigned long)(st->st_mtim.tv_nsec / 1000), (unsigned long long)st->st_size);
    return http_respond_file_part(r, fd, 0, (uint64_t)st->st_size, etag, st->st_mtim.tv_sec,
                                  content_type, cache_control);
}

int
http_respond_file_part(http_request_t *r, int fd, uint64_t part_off, uint64_t part_len,
                       const char *etag, time_t mtime, const char *content_type,
                       const char *cache_control)
{
    http_response_t *resp = &r->resp;
    char lm[CLOCK_HTTP_DATE_LEN + 1];
    uint64_t size = part_len, off = 0, len = size;
    int rc;

    http_response_discard_file(resp);
    resp->fd = fd;
    clock_http_date(mtime, lm);

    if ((rc = http_header_add(r, "ETag", etag)) != SV_OK ||
        (rc = http_header_add(r, "Last-Modified", lm)) != SV_OK ||
        (rc = http_header_add(r, "Accept-Ranges", "bytes")) != SV_OK)
        goto fail;
    if (cache_control && (rc = http_header_add(r, "Cache-Control", cache_control)) != SV_OK)
        goto fail;

    /* On 304 and 412 the file is already closed (the response dropped it). */
    if (http_check_preconditions(r, etag, mtime) == SV_DECLINED)
        return SV_OK;

    resp->status = 200;
    str_t range = http_header_get(r, "Range");
    if (range.p && (r->method == HTTP_GET || r->method == HTTP_HEAD)) {
        str_t if_range = http_header_get(r, "If-Range");
        bool use = true;
        if (if_range.p) {
            /* If-Range with an entity tag needs a strong match; with a date, equality. */
            time_t t;
            if (if_range.len > 0 && (if_range.p[0] == '"'))
                use = str_eq_cstr(if_range, etag);
            else if (clock_parse_http_date(if_range, &t) == SV_OK)
                use = t == mtime;
            else
                use = false;
        }
        if (use) {
            rc = http_parse_range(range, size, &off, &len);
            if (rc == SV_RANGE) {
                http_response_discard_file(resp);
                rc = http_respond_error(r, 416, "range_not_satisfiable",
                                        "requested range not satisfiable", NULL);
                if (rc == SV_OK)
                    rc = http_header_addf(r, "Content-Range", "bytes */%llu",
                                          (unsigned long long)size);
                return rc;
            }
            if (rc == SV_OK) {
                resp->status = 206;
                rc = http_header_addf(
                    r, "Content-Range", "bytes %llu-%llu/%llu", (unsigned long long)off,
                    (unsigned long long)(off + len - 1), (unsigned long long)size);
                if (rc != SV_OK)
                    goto fail;
            } else {
                off = 0;
                len = size;
            }
        }
    }
    resp->kind = HTTP_BODY_FILE;
    resp->content_type = content_type;
    resp->file_off = part_off + off;
    resp->file_len = len;
    resp->content_length = (int64_t)len;
    resp->composed = true;
    return SV_OK;

fail:
    http_response_discard_file(resp);
    return rc;
}

/* ---- streaming ---- */

int
http_stream_begin(http_request_t *r, int status, const char *content_type)
{
    http_response_t *resp = &r->resp;
    http_response_discard_file(resp);
    buf_reset(&resp->body);
    resp->status = status;
    resp->kind = HTTP_BODY_STREAM;
    resp->content_type = content_type;
    resp->content_length = -1;
    resp->composed = true;
    resp->stream_ended = false;
    if (r->version_minor == 0)
        resp->close = true; /* HTTP/1.0: the end of the body is the end of the connection */
    return SV_OK;
}

int
http_stream_write(http_request_t *r, const void *data, size_t len)
{
    http_response_t *resp = &r->resp;
    int rc;

    if (resp->kind != HTTP_BODY_STREAM || resp->stream_ended)
        return SV_CONFLICT;
    if (len == 0)
        return SV_OK;
    if (r->head_only)
        return SV_OK;
    if (r->version_minor >= 1) {
        char size[24];
        int n = snprintf(size, sizeof(size), "%zx\r\n", len);
        rc = buf_append(&resp->body, size, (size_t)n);
        if (rc == SV_OK)
            rc = buf_append(&resp->body, data, len);
        if (rc == SV_OK)
            rc = buf_append(&resp->body, "\r\n", 2);
    } else {
        rc = buf_append(&resp->body, data, len);
    }
    if (rc != SV_OK) {
        http_server_request_abort(r);
        return rc;
    }
    return http_server_request_flush(r);
}

int
http_stream_end(http_request_t *r)
{
    http_response_t *resp = &r->resp;
    if (resp->kind != HTTP_BODY_STREAM || resp->stream_ended)
        return SV_CONFLICT;
    resp->stream_ended = true;
    if (r->version_minor >= 1 && !r->head_only) {
        int rc = buf_append(&resp->body, "0\r\n\r\n", 5);
        if (rc != SV_OK) {
            http_server_request_abort(r);
            return rc;
        }
    }
    return http_server_request_flush(r);
}
