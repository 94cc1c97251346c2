/*
 * test_log.c: records written to a temporary file are one JSON object per
 * line, escaped, filtered by level; the text format; concurrent writers.
 */
#include "base/log.h"
#include "base/buf.h"
#include "base/status.h"
#include "test.h"

#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

static int log_file = -1;

/* Points the log at a fresh, empty temporary file. */
static void
capture_start(void)
{
    char path[] = "/tmp/sv_test_log_XXXXXX";
    if (log_file >= 0)
        close(log_file);
    log_file = mkstemp(path);
    CHECK(log_file >= 0);
    unlink(path);
    log_set_fd(log_file);
    log_set_level(LOG_INFO);
    log_set_format("json");
}

/* Everything written since capture_start, NUL-terminated, into b. */
static void
capture_read(buf_t *b)
{
    char chunk[4096];
    off_t off = 0;
    ssize_t n;

    buf_init(b, 64 << 20);
    while ((n = pread(log_file, chunk, sizeof(chunk), off)) > 0) {
        CHECK_INT(buf_append(b, chunk, (size_t)n), SV_OK);
        off += n;
    }
    if (b->data == NULL)
        buf_append(b, "", 0);
}

/* Splits the capture into lines; every line must be a JSON object with the
 * four fields and no raw control character. Returns the number of lines and
 * stores up to max parsed records (caller decrefs). */
static size_t
capture_records(json_t **recs, size_t max)
{
    buf_t b;
    size_t lines = 0;

    capture_read(&b);
    for (char *p = b.data; *p;) {
        char *nl = memchr(p, '\n', b.len - (size_t)(p - b.data));
        json_error_t jerr;
        json_t *v;

        CHECK(nl != NULL); /* every record ends its line */
        if (nl == NULL)
            break;
        for (char *q = p; q < nl; q++)
            CHECK((unsigned char)*q >= 0x20 && *q != 0x7f);
        v = json_loadb(p, (size_t)(nl - p), JSON_ALLOW_NUL, &jerr);
        if (v == NULL)
            printf("# line %zu: %s: %.*s\n", lines + 1, jerr.text, (int)(nl - p), p);
        CHECK(json_is_object(v));
        CHECK(json_is_string(json_object_get(v, "ts")));
        CHECK(json_is_string(json_object_get(v, "level")));
        CHECK(json_is_string(json_object_get(v, "module")));
        CHECK(json_is_string(json_object_get(v, "msg")));
        CHECK_INT(json_object_size(v), 4);
        if (lines < max)
            recs[lines] = v;
        else
            json_decref(v);
        lines++;
        p = nl + 1;
    }
    buf_free(&b);
    return lines;
}

static void
records_free(json_t **recs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        json_decref(recs[i]);
}

TEST(one_json_line_per_record)
{
    json_t *r[4];
    size_t n;

    capture_start();
    log_info("http", "listening on %s:%d", "127.0.0.1", 8080);
    log_warn("store", "slow query: %d ms", 250);
    log_error("jobs", "failed");
    n = capture_records(r, 4);
    CHECK_INT(n, 3);
    if (n != 3)
        return;
    CHECK_STR(json_string_value(json_object_get(r[0], "level")), "info");
    CHECK_STR(json_string_value(json_object_get(r[0], "module")), "http");
    CHECK_STR(json_string_value(json_object_get(r[0], "msg")), "listening on 127.0.0.1:8080");
    CHECK_STR(json_string_value(json_object_get(r[1], "level")), "warn");
    CHECK_STR(json_string_value(json_object_get(r[2], "level")), "error");
    /* "2026-11-25T10:00:00.000Z" */
    const char *ts = json_string_value(json_object_get(r[0], "ts"));
    CHECK(ts && strlen(ts) == 24 && ts[4] == '-' && ts[10] == 'T' && ts[19] == '.' &&
          ts[23] == 'Z');
    records_free(r, n);
}

/* Untrusted bytes passed through %s cannot forge a record. */
TEST(escapes_controls_and_quotes)
{
    static const char evil[] = "x\"}\n{\"level\":\"error\",\"msg\":\"forged\\\r\x1b[2J\x01\x7f";
    json_t *r[2];
    size_t n;

    capture_start();
    log_info("api", "user agent: %s", evil);
    log_info("api", "bad utf-8: %s", "\xff\xc0\x80 ok \xc3\xa9");
    n = capture_records(r, 2);
    CHECK_INT(n, 2);
    if (n != 2)
        return;
    const char *msg = json_string_value(json_object_get(r[0], "msg"));
    CHECK(msg && strncmp(msg, "user agent: ", 12) == 0);
    CHECK(msg && strcmp(msg + 12, evil) == 0); /* decodes to exactly what was logged */
    /* invalid UTF-8 is written as \u00XX of each byte */
    CHECK_STR(json_string_value(json_object_get(r[1], "msg")),
              "bad utf-8: \xc3\xbf\xc3\x80\xc2\x80 ok \xc3\xa9");
    records_free(r, n);
}

TEST(level_filtering)
{
    json_t *r[8];
    size_t n;
    int evaluated = 0;

    capture_start();
    log_set_level(LOG_WARN);
    CHECK_INT(log_get_level(), LOG_WARN);
    log_debug("t", "debug %d", ++evaluated);
    log_info("t", "info");
    log_warn("t", "warn");
    log_error("t", "error");
    CHECK_INT(evaluated, 0); /* log_debug does not even evaluate its arguments */
    log_set_level(LOG_DEBUG);
    log_debug("t", "debug %d", ++evaluated);
    CHECK_INT(evaluated, 1);
    log_set_level(LOG_OFF);
    log_error("t", "dropped");
    log_write(LOG_OFF, "t", "never a level of its own");
    log_set_level(LOG_DEBUG);
    log_write((log_level_t)42, "t", "out of range");
    n = capture_records(r, 8);
    CHECK_INT(n, 3);
    if (n == 3) {
        CHECK_STR(json_string_value(json_object_get(r[0], "msg")), "warn");
        CHECK_STR(json_string_value(json_object_get(r[1], "msg")), "error");
        CHECK_STR(json_string_value(json_object_get(r[2], "level")), "debug");
    }
    records_free(r, n < 8 ? n : 8);
}

TEST(level_and_format_names)
{
    log_level_t lv = LOG_INFO;
    CHECK_INT(log_level_parse("debug", &lv), SV_OK);
    CHECK_INT(lv, LOG_DEBUG);
    CHECK_INT(log_level_parse("error", &lv), SV_OK);
    CHECK_INT(lv, LOG_ERROR);
    CHECK_INT(log_level_parse("off", &lv), SV_OK);
    CHECK_INT(lv, LOG_OFF);
    CHECK_INT(log_level_parse("INFO", &lv), SV_BAD_DATA);
    CHECK_INT(log_level_parse("", &lv), SV_BAD_DATA);
    CHECK_INT(lv, LOG_OFF);
    CHECK_INT(log_set_format("xml"), SV_BAD_DATA);
}

TEST(long_message_stays_one_line)
{
    char *big = malloc(5000);
    json_t *r[2];
    size_t n;

    memset(big, '\x01', 4999); /* worst case: every byte escapes to six */
    big[4999] = '\0';
    capture_start();
    log_info("t", "%s", big);
    log_info("t", "after");
    n = capture_records(r, 2);
    CHECK_INT(n, 2);
    if (n == 2) {
        const char *msg = json_string_value(json_object_get(r[0], "msg"));
        CHECK(msg && strlen(msg) == 2047); /* truncated, not split */
        CHECK_STR(json_string_value(json_object_get(r[1], "msg")), "after");
    }
    records_free(r, n < 2 ? n : 2);
    free(big);
}

TEST(text_format)
{
    buf_t b;

    capture_start();
    CHECK_INT(log_set_format("text"), SV_OK);
    log_warn("http", "client said \"%s\"", "hi\nthere");
    log_set_format("json");
    capture_read(&b);
    /* "2026-11-25T10:00:00.000Z warn http: client said \"hi\nthere\"" */
    CHECK(b.len > 25 && b.data[24] == ' ');
    CHECK_STR(b.len > 25 ? b.data + 25 : "", "warn http: client said \\\"hi\\nthere\\\"\n");
    buf_free(&b);
}

#define THREADS 4
#define PER_THREAD 500

static void *
writer(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (int i = 0; i < PER_THREAD; i++)
        log_info("thread", "writer %d record %d %s", id, i,
                 "padding padding padding padding padding padding padding padding");
    return NULL;
}

TEST(concurrent_writers_do_not_interleave)
{
    pthread_t t[THREADS];

    capture_start();
    for (int i = 0; i < THREADS; i++)
        CHECK_INT(pthread_create(&t[i], NULL, writer, (void *)(intptr_t)i), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    CHECK_INT(capture_records(NULL, 0), THREADS * PER_THREAD);
}

int
main(void)
{
    RUN(one_json_line_per_record);
    RUN(escapes_controls_and_quotes);
    RUN(level_filtering);
    RUN(level_and_format_names);
    RUN(long_message_stays_one_line);
    RUN(text_format);
    RUN(concurrent_writers_do_not_interleave);
    log_set_fd(2);
    if (log_file >= 0)
        close(log_file);
    return test_done();
}
