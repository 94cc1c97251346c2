/*
 * test_http_parse.c: the request-head parser and the chunked decoder, byte by
 * byte, and the request-target decoding that guards the file routes.
 *
 * Every valid message is fed at every split point (first k bytes, then the
 * whole) and one byte at a time; each call gets a buffer of exactly the
 * length it is told, copied into a fresh allocation, so that under ASan a
 * read past len is a report. Every error class is checked with its status,
 * both in one piece and byte by byte.
 */
#include "net/http_parse.h"
#include "net/http.h"
#include "base/arena.h"
#include "base/status.h"
#include "test.h"

#include <stdlib.h>

/* ---- head parser helpers ---- */

#define MAX_FIELDS 16

typedef struct {
    http_parser_t p;
    http_field_t fields[MAX_FIELDS];
} head_t;

static void
head_init(head_t *h, uint32_t max_head, uint32_t max_target, uint32_t max_fields)
{
    memset(h, 0, sizeof(*h));
    h->p.max_head = max_head;
    h->p.max_target = max_target;
    h->p.max_fields = max_fields;
    h->p.fields = h->fields;
    http_parser_reset(&h->p);
}

/* Calls the parser on an exact-size copy of buf[0..len). */
static int
head_feed(head_t *h, const char *buf, size_t len)
{
    char *copy = malloc(len ? len : 1);
    memcpy(copy, buf, len);
    int rc = http_parse_head(&h->p, copy, len);
    free(copy);
    return rc;
}

/* Parses msg in one call with the default limits. */
static int
head_parse(head_t *h, const char *msg)
{
    head_init(h, 8192, 4096, MAX_FIELDS);
    return head_feed(h, msg, strlen(msg));
}

static str_t
head_method(const head_t *h, const char *msg)
{
    return str_make(msg + h->p.method_off, h->p.method_len);
}

static str_t
head_target(const head_t *h, const char *msg)
{
    return str_make(msg + h->p.target_off, h->p.target_len);
}

static str_t
head_name(const head_t *h, const char *msg, unsigned i)
{
    return str_make(msg + h->fields[i].name_off, h->fields[i].name_len);
}

static str_t
head_value(const head_t *h, const char *msg, unsigned i)
{
    return str_make(msg + h->fields[i].value_off, h->fields[i].value_len);
}

/* Same results (or the same error) in two parses of msg. */
static int
head_same(const head_t *a, const head_t *b)
{
    if (a->p.error_status != b->p.error_status || a->p.method_off != b->p.method_off ||
        a->p.method_len != b->p.method_len || a->p.target_off != b->p.target_off ||
        a->p.target_len != b->p.target_len || a->p.version_minor != b->p.version_minor ||
        a->p.nfields != b->p.nfields)
        return 0;
    for (unsigned i = 0; i < a->p.nfields; i++) {
        if (memcmp(&a->fields[i], &b->fields[i], sizeof(http_field_t)) != 0)
            return 0;
    }
    return 1;
}

/*
 * Feeds msg[0..len) at every split point and one byte at a time; every run
 * must end like the one-piece parse (want_rc: head length or SV_BAD_DATA with
 * want_status) with the same fields. Returns the number of mismatches.
 */
static int
head_check_splits(const char *msg, size_t len, uint32_t max_head, uint32_t max_target,
                  uint32_t max_fields, int want_rc, int want_status)
{
    head_t whole, part;
    int bad = 0;

    head_init(&whole, max_head, max_target, max_fields);
    int rc = head_feed(&whole, msg, len);
    if (rc != want_rc || whole.p.error_status != want_status) {
        printf("# one piece: rc %d status %d, expected rc %d status %d (%s)\n", rc,
               whole.p.error_status, want_rc, want_status, whole.p.error ? whole.p.error : "-");
        return 1;
    }
    for (size_t k = 0; k <= len; k++) {
        head_init(&part, max_head, max_target, max_fields);
        int r1 = head_feed(&part, msg, k);
        int r2 = r1;
        if (r1 == SV_AGAIN)
            r2 = head_feed(&part, msg, len);
        if (r2 != want_rc || !head_same(&whole, &part)) {
            printf("# split at %zu: rc %d/%d status %d, expected rc %d status %d\n", k, r1, r2,
                   part.p.error_status, want_rc, want_status);
            bad++;
        }
    }
    /* byte by byte */
    head_init(&part, max_head, max_target, max_fields);
    rc = SV_AGAIN;
    size_t n;
    for (n = 1; n <= len && rc == SV_AGAIN; n++)
        rc = head_feed(&part, msg, n);
    if (rc != want_rc || !head_same(&whole, &part)) {
        printf("# byte by byte: rc %d status %d at %zu, expected rc %d\n", rc,
               part.p.error_status, n - 1, want_rc);
        bad++;
    }
    return bad;
}

/* An error case: the whole message and every prefix that contains the bad
 * byte fail with status; byte by byte gives the same. */
static int
head_error(const char *msg, size_t len, int status)
{
    return head_check_splits(msg, len, 8192, 4096, MAX_FIELDS, SV_BAD_DATA, status);
}

#define HEAD_ERROR(lit, status) CHECK_INT(head_error(lit, sizeof(lit) - 1, status), 0)

/* ---- head: valid requests ---- */

TEST(head_simple_get_fields_and_offsets)
{
    static const char msg[] = "GET /media/a.m3u8?x=1 HTTP/1.1\r\nHost: example.com\r\n"
                              "User-Agent:  curl/8  \r\nAccept:*/*\r\n\r\n";
    head_t h;
    CHECK_INT(head_parse(&h, msg), sizeof(msg) - 1);
    CHECK(str_eq_cstr(head_method(&h, msg), "GET"));
    CHECK(str_eq_cstr(head_target(&h, msg), "/media/a.m3u8?x=1"));
    CHECK_INT(h.p.version_minor, 1);
    CHECK_INT(h.p.nfields, 3);
    CHECK(str_eq_cstr(head_name(&h, msg, 0), "Host"));
    CHECK(str_eq_cstr(head_value(&h, msg, 0), "example.com"));
    /* optional whitespace around the value is not part of it */
    CHECK(str_eq_cstr(head_name(&h, msg, 1), "User-Agent"));
    CHECK(str_eq_cstr(head_value(&h, msg, 1), "curl/8"));
    CHECK(str_eq_cstr(head_value(&h, msg, 2), "*/*"));
    CHECK_INT(h.p.error_status, 0);
}

TEST(head_every_split_point_gives_same_result)
{
    static const char *const msgs[] = {
        "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        "POST /api/v1/jobs HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
        "Content-Type: application/json\r\n\r\nhello",
        "HEAD /x HTTP/1.0\r\n\r\n",
        "OPTIONS * HTTP/1.1\r\nHost: a\r\nOrigin: http://o\r\n"
        "Access-Control-Request-Method: GET\r\n\r\n",
        "GET /a HTTP/1.1\nHost: a\nX-Empty:\n\n", /* bare LF line ends */
        "\r\n\r\nGET /after-empty-lines HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET /obs HTTP/1.1\r\nHost: a\r\nX-Obs-Text: caf\xc3\xa9\t\r\n\r\n",
        "GET http://example.com/abs?q HTTP/1.1\r\nHost: example.com\r\n\r\n",
        "M-SEARCH /x HTTP/1.1\r\nHost: a\r\nX: a:b:c\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
        const char *m = msgs[i];
        size_t len = strlen(m);
        size_t head_len = len;
        const char *body = strstr(m, "\r\n\r\nhello");
        if (body)
            head_len = (size_t)(body - m) + 4;
        int bad = head_check_splits(m, len, 8192, 4096, MAX_FIELDS, (int)head_len, 0);
        if (bad)
            printf("# message %zu\n", i);
        CHECK_INT(bad, 0);
    }
}

TEST(head_returns_length_and_leaves_pipelined_bytes)
{
    static const char msg[] =
        "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n";
    head_t h;
    size_t first = strlen("GET /1 HTTP/1.1\r\nHost: a\r\n\r\n");
    CHECK_INT(head_parse(&h, msg), first);
    CHECK(str_eq_cstr(head_target(&h, msg), "/1"));
    /* the second request parses from where the first ended */
    head_t h2;
    head_init(&h2, 8192, 4096, MAX_FIELDS);
    CHECK_INT(head_feed(&h2, msg + first, sizeof(msg) - 1 - first), sizeof(msg) - 1 - first);
    CHECK(str_eq_cstr(head_target(&h2, msg + first), "/2"));
}

TEST(head_reset_keeps_limits_and_clears_results)
{
    head_t h;
    static const char msg[] = "GET /x HTTP/1.0\r\nA: b\r\n\r\n";
    head_init(&h, 100, 50, 3);
    CHECK_INT(head_feed(&h, msg, sizeof(msg) - 1), sizeof(msg) - 1);
    http_parser_reset(&h.p);
    CHECK_INT(h.p.max_head, 100);
    CHECK_INT(h.p.max_target, 50);
    CHECK_INT(h.p.max_fields, 3);
    CHECK_INT(h.p.nfields, 0);
    CHECK_INT(h.p.version_minor, -1);
    CHECK_INT(h.p.error_status, 0);
    CHECK_INT(head_feed(&h, "GET", 3), SV_AGAIN);
}

TEST(head_version_http10_and_http11)
{
    head_t h;
    CHECK_INT(head_parse(&h, "GET / HTTP/1.0\r\n\r\n"), 18);
    CHECK_INT(h.p.version_minor, 0);
    CHECK_INT(head_parse(&h, "GET / HTTP/1.1\r\n\r\n"), 18);
    CHECK_INT(h.p.version_minor, 1);
    /* RFC 9110 2.5: a later 1.x is answered as the highest we speak, 1.1 */
    CHECK_INT(head_parse(&h, "GET / HTTP/1.2\r\n\r\n"), 18);
    CHECK_INT(h.p.version_minor, 1);
}

TEST(head_empty_lines_before_request_are_limited)
{
    char msg[256];
    head_t h;
    /* a few are ignored (RFC 9112 2.2) */
    CHECK_INT(head_parse(&h, "\r\n\r\n\nGET / HTTP/1.1\r\n\r\n"), 23);
    /* but not an endless stream of them */
    size_t n = 0;
    for (int i = 0; i < 20; i++) {
        msg[n++] = '\r';
        msg[n++] = '\n';
    }
    memcpy(msg + n, "GET / HTTP/1.1\r\n\r\n", 19);
    CHECK_INT(head_parse(&h, msg), SV_BAD_DATA);
    CHECK_INT(h.p.error_status, 400);
}

/* ---- head: error classes ---- */

TEST(head_bare_cr_is_400)
{
    HEAD_ERROR("GET / HTTP/1.1\rHost: a\r\n\r\n", 400);         /* in the request line */
    HEAD_ERROR("GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", 400); /* in a field */
    HEAD_ERROR("GET / HTTP/1.1\r\nHost: a\r\n\rX", 400);        /* at the end of the head */
    HEAD_ERROR("\rGET / HTTP/1.1\r\n\r\n", 400);                /* before the request line */
    HEAD_ERROR("GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", 400);       /* inside a value */
}

TEST(head_obs_fold_is_400)
{
    HEAD_ERROR("GET / HTTP/1.1\r\nHost: a\r\nX: one\r\n two\r\n\r\n", 400);
    HEAD_ERROR("GET / HTTP/1.1\r\nHost: a\r\nX: one\r\n\ttwo\r\n\r\n", 400);
    HEAD_ERROR("GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400);
}

TEST(head_space_before_colon_is_400)
{
    HEAD_ERROR("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400);
    HEAD_ERROR("GET / HTTP/1.1\r\nContent-Length\t: 5\r\n\r\n", 400);
    HEAD_ERROR("GET / HTTP/1.1\r\nTransfer-Encoding : chunked\r\n\r\n", 400);
}

TEST(head_bad_token_chars_are_400)
{
    HEAD_ERROR("G(T / HTTP/1.1\r\n\r\n", 400); /* method */
    HEAD_ERROR("GE\x01 / HTTP/1.1\r\n\r\n", 400);
    HEAD_ERROR("GET / HTTP/1.1\r\nX[y]: a\r\n\r\n", 400); /* field name */
    HEAD_ERROR("GET / HTTP/1.1\r\nX\"y: a\r\n\r\n", 400);
    HEAD_ERROR("GET / HTTP/1.1\r\n: novalue\r\n\r\n", 400); /* empty field name */
    HEAD_ERROR("GET / HTTP/1.1\r\nX\xc3\xa9: a\r\n\r\n", 400);
    HEAD_ERROR("GET / HTTP/1.1\r\nX: a\x7f\r\n\r\n", 400);    /* DEL in a value */
    HEAD_ERROR("GET / HTTP/1.1\r\nX: a\x1b[0m\r\n\r\n", 400); /* ESC in a value */
    HEAD_ERROR(" GET / HTTP/1.1\r\n\r\n", 400);               /* leading space */
    HEAD_ERROR("GET  / HTTP/1.1\r\n\r\n", 400);               /* two spaces */
    HEAD_ERROR("GET /a b HTTP/1.1\r\n\r\n", 400);             /* space in the target */
    HEAD_ERROR("GET /a\tb HTTP/1.1\r\n\r\n", 400);
    HEAD_ERROR("GET /\xc3\xa9 HTTP/1.1\r\n\r\n", 400); /* raw non-ASCII target */
    HEAD_ERROR("GET /\r\n\r\n", 400);                  /* HTTP/0.9 */
}

TEST(head_nul_in_target_or_value_is_400)
{
    HEAD_ERROR("GET /a\0b HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    HEAD_ERROR("GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n", 400);
    HEAD_ERROR("GET / HTTP/1.1\r\nHo\0st: a\r\n\r\n", 400);
    HEAD_ERROR("G\0T / HTTP/1.1\r\n\r\n", 400);
    HEAD_ERROR("\0GET / HTTP/1.1\r\n\r\n", 400);
}

TEST(head_method_too_long_is_501)
{
    char msg[128];
    head_t h;
    /* 32 characters is the longest method */
    snprintf(msg, sizeof(msg), "%s / HTTP/1.1\r\n\r\n", "ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEF");
    CHECK_INT(head_parse(&h, msg), (int)strlen(msg));
    snprintf(msg, sizeof(msg), "%s / HTTP/1.1\r\n\r\n", "ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFG");
    CHECK_INT(head_error(msg, strlen(msg), 501), 0);
}

TEST(head_target_over_limit_is_414)
{
    char msg[400];
    head_t h;
    size_t n = 0;
    n += (size_t)snprintf(msg, sizeof(msg), "GET /");
    while (n < 4 + 100)
        msg[n++] = 'a'; /* target of exactly 100 bytes */
    n += (size_t)snprintf(msg + n, sizeof(msg) - n, " HTTP/1.1\r\n\r\n");
    head_init(&h, 1024, 100, MAX_FIELDS);
    CHECK_INT(head_feed(&h, msg, n), (int)n);
    CHECK_INT(h.p.target_len, 100);
    /* one more byte: 414, at every split point */
    n = 0;
    n += (size_t)snprintf(msg, sizeof(msg), "GET /");
    while (n < 4 + 101)
        msg[n++] = 'a';
    n += (size_t)snprintf(msg + n, sizeof(msg) - n, " HTTP/1.1\r\n\r\n");
    CHECK_INT(head_check_splits(msg, n, 1024, 100, MAX_FIELDS, SV_BAD_DATA, 414), 0);
    /* an unterminated target running into the head limit is 414 too, not 431 */
    head_init(&h, 64, 4096, MAX_FIELDS);
    memset(msg, 'b', 80);
    memcpy(msg, "GET /", 5);
    CHECK_INT(head_feed(&h, msg, 80), SV_BAD_DATA);
    CHECK_INT(h.p.error_status, 414);
}

TEST(head_over_size_limit_is_431)
{
    char msg[512];
    head_t h;
    size_t n = (size_t)snprintf(msg, sizeof(msg), "GET / HTTP/1.1\r\nX: ");
    while (n < 200)
        msg[n++] = 'v';
    memcpy(msg + n, "\r\n\r\n", 4);
    n += 4;
    /* a complete head of exactly max_head bytes is fine */
    head_init(&h, (uint32_t)n, 4096, MAX_FIELDS);
    CHECK_INT(head_feed(&h, msg, n), (int)n);
    /* one byte less of room: 431, whether it arrives whole or bit by bit */
    CHECK_INT(head_check_splits(msg, n, (uint32_t)n - 1, 4096, MAX_FIELDS, SV_BAD_DATA, 431),
              0);
    /* an incomplete head that reaches the limit is 431 without waiting for more */
    head_init(&h, 100, 4096, MAX_FIELDS);
    CHECK_INT(head_feed(&h, msg, 100), SV_BAD_DATA);
    CHECK_INT(h.p.error_status, 431);
    head_init(&h, 100, 4096, MAX_FIELDS);
    CHECK_INT(head_feed(&h, msg, 99), SV_AGAIN);
}

TEST(head_over_field_count_is_431)
{
    char msg[512];
    head_t h;
    size_t n = (size_t)snprintf(msg, sizeof(msg), "GET / HTTP/1.1\r\n");
    for (int i = 0; i < 4; i++)
        n += (size_t)snprintf(msg + n, sizeof(msg) - n, "X-%d: v\r\n", i);
    n += (size_t)snprintf(msg + n, sizeof(msg) - n, "\r\n");
    head_init(&h, 8192, 4096, 4);
    CHECK_INT(head_feed(&h, msg, n), (int)n);
    CHECK_INT(h.p.nfields, 4);
    CHECK_INT(head_check_splits(msg, n, 8192, 4096, 3, SV_BAD_DATA, 431), 0);
    /* the parser never writes past fields[max_fields - 1] */
    head_init(&h, 8192, 4096, 3);
    memset(&h.fields[3], 0xAB, sizeof(http_field_t));
    CHECK_INT(head_feed(&h, msg, n), SV_BAD_DATA);
    CHECK_INT(h.fields[3].name_off, 0xABABABABu);
}

TEST(head_version_505_vs_400)
{
    HEAD_ERROR("GET / HTTP/2.0\r\n\r\n", 505);
    HEAD_ERROR("GET / HTTP/3.0\r\nHost: a\r\n\r\n", 505);
    HEAD_ERROR("GET / HTTP/0.9\r\n\r\n", 505);
    HEAD_ERROR("GET / HTTP/2\r\n\r\n", 400); /* not DIGIT "." DIGIT */
    HEAD_ERROR("GET / HTTP/1.10\r\n\r\n", 400);
    HEAD_ERROR("GET / http/1.1\r\n\r\n", 400); /* the name is case-sensitive */
    HEAD_ERROR("GET / HTTPS/1.1\r\n\r\n", 400);
    HEAD_ERROR("GET / HTTP/1.1 \r\n\r\n", 400);
    HEAD_ERROR("GET / HTTP/x.y\r\n\r\n", 400);
    HEAD_ERROR("GET / \r\n\r\n", 400);
    HEAD_ERROR("GET / HTTP/1.1extra-bytes-here\r\n\r\n", 400);
}

TEST(head_error_is_reported_at_the_bad_byte_not_later)
{
    /* An error must not wait for the end of the head: a smuggler cannot
     * keep the connection open with a poisoned head. */
    head_t h;
    head_init(&h, 8192, 4096, MAX_FIELDS);
    CHECK_INT(head_feed(&h, "GET / HTTP/1.1\r\nBad Name", 24), SV_BAD_DATA);
    CHECK_INT(h.p.error_status, 400);
    CHECK(h.p.error != NULL);
    head_init(&h, 8192, 4096, MAX_FIELDS);
    CHECK_INT(head_feed(&h, "GET / HTTP/9.9\r", 15), SV_BAD_DATA);
    CHECK_INT(h.p.error_status, 505);
}

/* ---- chunked decoder helpers ---- */

typedef struct {
    int rc;
    size_t consumed;
    char body[8192];
    size_t body_len;
} chunk_result_t;

/*
 * Decodes msg[0..len) given in pieces of at most step bytes (0: all at once)
 * to the end or the first error, each piece an exact-size copy.
 */
static void
chunk_run(const char *msg, size_t len, size_t step, uint32_t max_line, chunk_result_t *out)
{
    http_chunked_t c;
    size_t off = 0, avail = 0;

    http_chunked_init(&c, max_line);
    memset(out, 0, sizeof(*out));
    out->rc = SV_AGAIN;
    while (out->rc == SV_AGAIN) {
        size_t want = step ? step : len;
        if (off == avail) {
            if (avail == len)
                break;
            avail = avail + want > len ? len : avail + want;
        }
        size_t n = avail - off;
        char *copy = malloc(n ? n : 1);
        memcpy(copy, msg + off, n);
        const char *data = NULL;
        size_t data_len = 0, used = 0;
        out->rc = http_chunked_decode(&c, copy, n, &used, &data, &data_len);
        if (used > n || (data_len && (data < copy || data + data_len > copy + n))) {
            printf("# decoder reported bytes outside its input\n");
            out->rc = SV_ERROR;
            free(copy);
            break;
        }
        if (data_len && out->body_len + data_len <= sizeof(out->body)) {
            memcpy(out->body + out->body_len, data, data_len);
        }
        out->body_len += data_len;
        off += used;
        free(copy);
    }
    out->consumed = off;
}

/* Every split (0 = whole, then every split point as two pieces, then byte by
 * byte) gives rc, the same body and the same consumed count. */
static int
chunk_check(const char *msg, size_t len, int want_rc, const char *want_body,
            size_t want_body_len, size_t want_consumed)
{
    int bad = 0;
    size_t steps[] = {0, 1, 2, 3, 5, 7};
    for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
        chunk_result_t r;
        chunk_run(msg, len, steps[s], 256, &r);
        if (r.rc != want_rc ||
            (want_rc == SV_OK &&
             (r.body_len != want_body_len || memcmp(r.body, want_body, want_body_len) != 0 ||
              r.consumed != want_consumed))) {
            printf("# step %zu: rc %d consumed %zu body %zu, expected rc %d consumed %zu body "
                   "%zu\n",
                   steps[s], r.rc, r.consumed, r.body_len, want_rc, want_consumed,
                   want_body_len);
            bad++;
        }
    }
    /* two pieces at every split point */
    for (size_t k = 0; k <= len; k++) {
        http_chunked_t c;
        size_t off = 0, body = 0;
        int rc = SV_AGAIN;
        http_chunked_init(&c, 256);
        for (int piece = 0; piece < 2 && rc == SV_AGAIN; piece++) {
            size_t end = piece == 0 ? k : len;
            while (rc == SV_AGAIN && off < end) {
                const char *data;
                size_t data_len, used;
                rc = http_chunked_decode(&c, msg + off, end - off, &used, &data, &data_len);
                off += used;
                body += data_len;
            }
        }
        if (rc != want_rc ||
            (want_rc == SV_OK && (off != want_consumed || body != want_body_len))) {
            printf("# split at %zu: rc %d consumed %zu\n", k, rc, off);
            bad++;
        }
    }
    return bad;
}

#define CHUNK_OK(lit, body, consumed)                                                          \
    CHECK_INT(chunk_check(lit, sizeof(lit) - 1, SV_OK, body, sizeof(body) - 1, consumed), 0)
#define CHUNK_BAD(lit) CHECK_INT(chunk_check(lit, sizeof(lit) - 1, SV_BAD_DATA, "", 0, 0), 0)

/* ---- chunked ---- */

TEST(chunked_simple_body_at_every_split)
{
    static const char m[] = "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
    CHUNK_OK(m, "hello world", sizeof(m) - 1);
}

TEST(chunked_stops_right_after_the_body)
{
    /* the next pipelined request is not eaten */
    static const char m[] = "3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n";
    CHUNK_OK(m, "abc", strlen("3\r\nabc\r\n0\r\n\r\n"));
}

TEST(chunked_hex_sizes_upper_and_lower_case)
{
    static const char m[] = "a\r\n0123456789\r\nA\r\nabcdefghij\r\n00\r\n\r\n";
    CHUNK_OK(m, "0123456789abcdefghij", sizeof(m) - 1);
    char big[4096 + 64];
    size_t n = (size_t)snprintf(big, sizeof(big), "1F4\r\n");
    memset(big + n, 'z', 500);
    n += 500;
    n += (size_t)snprintf(big + n, sizeof(big) - n, "\r\n0\r\n\r\n");
    chunk_result_t r;
    chunk_run(big, n, 0, 256, &r);
    CHECK_INT(r.rc, SV_OK);
    CHECK_INT(r.body_len, 500);
    CHECK_INT(r.consumed, n);
}

TEST(chunked_extensions_are_skipped)
{
    static const char m[] = "5;name=value\r\nhello\r\n5 ; q=\"quoted;str\"\r\nworld\r\n"
                            "0;last\r\n\r\n";
    CHUNK_OK(m, "helloworld", sizeof(m) - 1);
}

TEST(chunked_trailers_are_read_and_dropped)
{
    static const char m[] = "2\r\nok\r\n0\r\nX-Checksum: abc\r\nX-Other: a:b\r\n\r\nNEXT";
    CHUNK_OK(m, "ok", sizeof(m) - 1 - 4);
}

TEST(chunked_bare_lf_line_ends_accepted)
{
    static const char m[] = "2\nok\n0\n\n";
    CHUNK_OK(m, "ok", sizeof(m) - 1);
}

TEST(chunked_size_overflow_is_rejected)
{
    /* 16 hex digits fit in 64 bits; 17 do not */
    chunk_result_t r;
    chunk_run("ffffffffffffffff\r\nabc", 21, 0, 256, &r);
    CHECK_INT(r.rc, SV_AGAIN);
    CHECK_INT(r.body_len, 3);
    CHUNK_BAD("10000000000000000\r\nabc");
    CHUNK_BAD("fffffffffffffffff\r\n");
    CHUNK_BAD("123456789abcdef01234\r\n");
}

TEST(chunked_invalid_size_lines_are_rejected)
{
    CHUNK_BAD("\r\nhello\r\n0\r\n\r\n"); /* no digits */
    CHUNK_BAD("g\r\nhello\r\n");
    CHUNK_BAD("-5\r\nhello\r\n");
    CHUNK_BAD("+5\r\nhello\r\n");
    CHUNK_BAD("0x5\r\nhello\r\n");
    CHUNK_BAD(" 5\r\nhello\r\n");
    CHUNK_BAD("5 \r\nhello\r\n"); /* whitespace only before ';' */
    CHUNK_BAD("5\rhello\r\n");    /* bare CR */
    CHUNK_BAD("5\0\r\nhello\r\n");
    CHUNK_BAD("5;ext\x01\r\nhello\r\n"); /* control character in an extension */
    CHUNK_BAD("5;ext\0\r\nhello\r\n");
}

TEST(chunked_missing_crlf_after_data_is_rejected)
{
    CHUNK_BAD("5\r\nhelloX\r\n0\r\n\r\n");
    CHUNK_BAD("5\r\nhello\rX0\r\n\r\n");
    CHUNK_BAD("5\r\nhello0\r\n\r\n");
    CHUNK_BAD("3\r\nhello\r\n0\r\n\r\n"); /* more data than the size said */
}

TEST(chunked_bad_trailers_are_rejected)
{
    CHUNK_BAD("0\r\n folded: x\r\n\r\n");
    CHUNK_BAD("0\r\nX: a\0b\r\n\r\n");
    CHUNK_BAD("0\r\nX: a\rb\r\n\r\n");
    CHUNK_BAD("0\r\n\rX");
    CHUNK_BAD("0\r\n(bad): x\r\n\r\n");
}

TEST(chunked_size_line_and_trailers_bounded_by_max_line)
{
    char m[600];
    chunk_result_t r;
    /* an extension that never ends is cut off at max_line */
    size_t n = (size_t)snprintf(m, sizeof(m), "5;");
    memset(m + n, 'e', 500);
    n += 500;
    chunk_run(m, n, 0, 64, &r);
    CHECK_INT(r.rc, SV_BAD_DATA);
    chunk_run(m, n, 1, 64, &r);
    CHECK_INT(r.rc, SV_BAD_DATA);
    /* the same with room is only waiting */
    chunk_run(m, n, 0, 1024, &r);
    CHECK_INT(r.rc, SV_AGAIN);
    /* trailers as well */
    n = (size_t)snprintf(m, sizeof(m), "0\r\n");
    for (int i = 0; i < 30; i++)
        n += (size_t)snprintf(m + n, sizeof(m) - n, "X-%02d: vvvvvvvv\r\n", i);
    chunk_run(m, n, 0, 64, &r);
    CHECK_INT(r.rc, SV_BAD_DATA);
    /* the max_line bound does not apply to data */
    char d[1200];
    n = (size_t)snprintf(d, sizeof(d), "3e8\r\n");
    memset(d + n, 'x', 1000);
    n += 1000;
    n += (size_t)snprintf(d + n, sizeof(d) - n, "\r\n0\r\n\r\n");
    chunk_run(d, n, 0, 16, &r);
    CHECK_INT(r.rc, SV_OK);
    CHECK_INT(r.body_len, 1000);
}

TEST(chunked_after_end_returns_ok_without_consuming)
{
    http_chunked_t c;
    const char *data;
    size_t used, dl;
    http_chunked_init(&c, 64);
    CHECK_INT(http_chunked_decode(&c, "0\r\n\r\n", 5, &used, &data, &dl), SV_OK);
    CHECK_INT(used, 5);
    CHECK_INT(http_chunked_decode(&c, "GET", 3, &used, &data, &dl), SV_OK);
    CHECK_INT(used, 0);
    CHECK_INT(dl, 0);
}

/* ---- request-target decoding (net/http.c), which the file routes rely on ---- */

static const char *
norm(arena_t *a, const char *raw)
{
    str_t out;
    int rc = http_path_normalize(a, str_from_cstr(raw), &out);
    if (rc != SV_OK)
        return rc == SV_BAD_DATA ? "BAD" : "ERR";
    return out.p;
}

TEST(path_normalize_removes_dot_segments)
{
    arena_t *a = arena_create(0);
    CHECK_STR(norm(a, "/"), "/");
    CHECK_STR(norm(a, "/a/b/c"), "/a/b/c");
    CHECK_STR(norm(a, "/a/./b"), "/a/b");
    CHECK_STR(norm(a, "/a/b/../c"), "/a/c");
    CHECK_STR(norm(a, "/a/b/.."), "/a/");
    CHECK_STR(norm(a, "/a/."), "/a/");
    CHECK_STR(norm(a, "/media/../x"), "/x");
    CHECK_STR(norm(a, "/a/.../b"), "/a/.../b"); /* not a dot segment */
    CHECK_STR(norm(a, "/a/..b/c"), "/a/..b/c");
    CHECK_STR(norm(a, "/media/%2e%2e/x"), "/x");
    CHECK_STR(norm(a, "/media/%2E%2e/%2e/x"), "/x");
    CHECK_STR(norm(a, "/media/..%2fx"), "/x");
    CHECK_STR(norm(a, "/a%20b"), "/a b");
    arena_destroy(a);
}

TEST(path_normalize_merges_empty_segments_so_no_path_starts_with_two_slashes)
{
    /* regression: "//docs" became a protocol-relative redirect Location */
    arena_t *a = arena_create(0);
    CHECK_STR(norm(a, "//docs"), "/docs");
    CHECK_STR(norm(a, "/%2fdocs"), "/docs");
    CHECK_STR(norm(a, "/.//docs"), "/docs");
    CHECK_STR(norm(a, "/a//b///c/"), "/a/b/c/");
    CHECK_STR(norm(a, "//"), "/");
    CHECK_STR(norm(a, "/a/..//b"), "/b");
    arena_destroy(a);
}

TEST(path_normalize_refuses_climbing_above_root)
{
    arena_t *a = arena_create(0);
    CHECK_STR(norm(a, "/.."), "BAD");
    CHECK_STR(norm(a, "/../etc/passwd"), "BAD");
    CHECK_STR(norm(a, "/%2e%2e/etc/passwd"), "BAD");
    CHECK_STR(norm(a, "/media/../../etc/passwd"), "BAD");
    CHECK_STR(norm(a, "/media/..%2f..%2fetc/passwd"), "BAD");
    CHECK_STR(norm(a, "/a/%2e%2e/%2e%2e/x"), "BAD");
    arena_destroy(a);
}

TEST(path_normalize_refuses_nul_bad_escapes_and_relative)
{
    arena_t *a = arena_create(0);
    CHECK_STR(norm(a, "/a%00b"), "BAD");
    CHECK_STR(norm(a, "/a%0"), "BAD");
    CHECK_STR(norm(a, "/a%"), "BAD");
    CHECK_STR(norm(a, "/a%zz"), "BAD");
    CHECK_STR(norm(a, "a/b"), "BAD");
    CHECK_STR(norm(a, ""), "BAD");
    str_t out;
    CHECK_INT(http_path_normalize(a, str_make("/a\0b", 4), &out), SV_BAD_DATA);
    arena_destroy(a);
}

TEST(percent_decode_plus_and_nul)
{
    arena_t *a = arena_create(0);
    str_t out;
    CHECK_INT(http_percent_decode(a, STR("a+b%41"), true, &out), SV_OK);
    CHECK(str_eq_cstr(out, "a bA"));
    CHECK_INT(http_percent_decode(a, STR("a+b"), false, &out), SV_OK);
    CHECK(str_eq_cstr(out, "a+b"));
    CHECK_INT(http_percent_decode(a, STR("%00"), false, &out), SV_BAD_DATA);
    CHECK_INT(http_percent_decode(a, STR("%4"), false, &out), SV_BAD_DATA);
    arena_destroy(a);
}

int
main(void)
{
    RUN(head_simple_get_fields_and_offsets);
    RUN(head_every_split_point_gives_same_result);
    RUN(head_returns_length_and_leaves_pipelined_bytes);
    RUN(head_reset_keeps_limits_and_clears_results);
    RUN(head_version_http10_and_http11);
    RUN(head_empty_lines_before_request_are_limited);
    RUN(head_bare_cr_is_400);
    RUN(head_obs_fold_is_400);
    RUN(head_space_before_colon_is_400);
    RUN(head_bad_token_chars_are_400);
    RUN(head_nul_in_target_or_value_is_400);
    RUN(head_method_too_long_is_501);
    RUN(head_target_over_limit_is_414);
    RUN(head_over_size_limit_is_431);
    RUN(head_over_field_count_is_431);
    RUN(head_version_505_vs_400);
    RUN(head_error_is_reported_at_the_bad_byte_not_later);
    RUN(chunked_simple_body_at_every_split);
    RUN(chunked_stops_right_after_the_body);
    RUN(chunked_hex_sizes_upper_and_lower_case);
    RUN(chunked_extensions_are_skipped);
    RUN(chunked_trailers_are_read_and_dropped);
    RUN(chunked_bare_lf_line_ends_accepted);
    RUN(chunked_size_overflow_is_rejected);
    RUN(chunked_invalid_size_lines_are_rejected);
    RUN(chunked_missing_crlf_after_data_is_rejected);
    RUN(chunked_bad_trailers_are_rejected);
    RUN(chunked_size_line_and_trailers_bounded_by_max_line);
    RUN(chunked_after_end_returns_ok_without_consuming);
    RUN(path_normalize_removes_dot_segments);
    RUN(path_normalize_merges_empty_segments_so_no_path_starts_with_two_slashes);
    RUN(path_normalize_refuses_climbing_above_root);
    RUN(path_normalize_refuses_nul_bad_escapes_and_relative);
    RUN(percent_decode_plus_and_nul);
    return test_done();
}
