/*
 * test_buf.c: growable buffers with a ceiling, formatting, JSON escaping.
 */
#include "base/buf.h"
#include "base/status.h"
#include "test.h"

#include <jansson.h>

/* JSON-escapes in and returns the result as a fresh buffer the caller frees. */
static buf_t
escaped(str_t in)
{
    buf_t b;
    buf_init(&b, 1 << 20);
    CHECK_INT(buf_append_json_escaped(&b, in), SV_OK);
    return b;
}

/* True when "<esc>" is a JSON string that jansson accepts. */
static int
is_valid_json_string(const buf_t *esc)
{
    buf_t doc;
    json_error_t jerr;
    json_t *v;

    buf_init(&doc, 1 << 21);
    buf_append_char(&doc, '"');
    buf_append_str(&doc, buf_str(esc));
    buf_append_char(&doc, '"');
    v = json_loadb(doc.data, doc.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    buf_free(&doc);
    if (v == NULL)
        printf("# jansson: %s\n", jerr.text);
    json_decref(v);
    return v != NULL;
}

TEST(append_and_nul)
{
    buf_t b;
    buf_init(&b, 100);
    CHECK(b.data == NULL);
    CHECK_INT(buf_append_cstr(&b, "abc"), SV_OK);
    CHECK_INT(buf_append(&b, "de", 2), SV_OK);
    CHECK_INT(buf_append_char(&b, 'f'), SV_OK);
    CHECK_INT(buf_append_str(&b, STR("\0g")), SV_OK);
    CHECK_INT(b.len, 8);
    CHECK(memcmp(b.data, "abcdef\0g", 8) == 0);
    CHECK(b.data[b.len] == '\0');
    buf_reset(&b);
    CHECK_INT(b.len, 0);
    CHECK_STR(b.data, "");
    buf_free(&b);
    CHECK(b.data == NULL);
    buf_free(&b); /* twice is harmless */

    /* an empty append still gives a terminated (empty) string */
    buf_init(&b, 100);
    CHECK_INT(buf_append(&b, NULL, 0), SV_OK);
    CHECK_STR(b.data, "");
    buf_reset(&b);
    buf_free(&b);
}

TEST(ceiling_enforced)
{
    buf_t b;
    char big[300];

    memset(big, 'x', sizeof(big));
    buf_init(&b, 10);
    CHECK_INT(buf_append(&b, big, 10), SV_OK); /* exactly max */
    CHECK_INT(buf_append_char(&b, 'y'), SV_TOO_BIG);
    CHECK_INT(b.len, 10);
    CHECK(b.cap <= 11); /* never allocates past max + NUL */
    CHECK(b.data[10] == '\0');
    CHECK_INT(buf_append(&b, NULL, 0), SV_OK);
    buf_free(&b);

    buf_init(&b, 250);
    CHECK_INT(buf_append(&b, big, 251), SV_TOO_BIG);
    CHECK_INT(b.len, 0);
    CHECK_INT(buf_append(&b, big, 200), SV_OK);
    CHECK_INT(buf_append(&b, big, 51), SV_TOO_BIG);
    CHECK_INT(buf_append(&b, big, 50), SV_OK);
    CHECK_INT(b.len, 250);
    CHECK_INT(buf_reserve(&b, 1), SV_TOO_BIG);
    CHECK_INT(buf_reserve(&b, SIZE_MAX), SV_TOO_BIG);
    buf_free(&b);

    /* max 0: nothing fits, but nothing breaks */
    buf_init(&b, 0);
    CHECK_INT(buf_append_char(&b, 'a'), SV_TOO_BIG);
    CHECK_INT(buf_appendf(&b, "%d", 1), SV_TOO_BIG);
    buf_free(&b);
}

/* Regression: max == SIZE_MAX ("no ceiling") wrapped max + 1 to 0. */
TEST(ceiling_size_max)
{
    buf_t b;
    buf_init(&b, SIZE_MAX);
    CHECK_INT(buf_append_cstr(&b, "hello"), SV_OK);
    CHECK(b.cap >= 6);
    CHECK_STR(b.data, "hello");
    CHECK_INT(buf_reserve(&b, SIZE_MAX - 5), SV_TOO_BIG); /* no room for the NUL */
    buf_free(&b);
}

TEST(grows)
{
    buf_t b;
    buf_init(&b, 1 << 20);
    for (int i = 0; i < 10000; i++)
        CHECK_INT(buf_append(&b, "0123456789", 10), SV_OK);
    CHECK_INT(b.len, 100000);
    CHECK(b.cap > b.len);
    CHECK(memcmp(b.data + 99990, "0123456789", 10) == 0);
    buf_free(&b);
}

TEST(appendf)
{
    buf_t b;
    char want[1200];

    buf_init(&b, 4096);
    CHECK_INT(buf_appendf(&b, "%s=%d", "a", 1), SV_OK);
    CHECK_INT(buf_appendf(&b, ",%s", ""), SV_OK);
    CHECK_STR(b.data, "a=1,");
    /* longer than the first try: formatted twice, exactly */
    memset(want, 'z', 1000);
    want[1000] = '\0';
    CHECK_INT(buf_appendf(&b, "%s|", want), SV_OK);
    CHECK_INT(b.len, 4 + 1001);
    CHECK(memcmp(b.data + 4, want, 1000) == 0);
    CHECK_STR(b.data + 1004, "|");
    buf_free(&b);
}

/* Regression: appendf reserved 64 bytes up front, so a short text that fit
 * under a ceiling closer than 64 bytes was refused. */
TEST(appendf_near_ceiling)
{
    buf_t b;
    buf_init(&b, 10);
    CHECK_INT(buf_appendf(&b, "%s", "abc"), SV_OK);
    CHECK_INT(buf_appendf(&b, "%d", 1234567), SV_OK);
    CHECK_STR(b.data, "abc1234567");
    CHECK_INT(buf_appendf(&b, "%s", "x"), SV_TOO_BIG);
    CHECK_STR(b.data, "abc1234567");
    buf_free(&b);

    /* failing to grow leaves the old content terminated */
    buf_init(&b, 300);
    CHECK_INT(buf_append_cstr(&b, "keep"), SV_OK);
    CHECK_INT(buf_appendf(&b, "%0400d", 5), SV_TOO_BIG);
    CHECK_INT(b.len, 4);
    CHECK_STR(b.data, "keep");
    buf_free(&b);
}

TEST(append_u64)
{
    buf_t b;
    buf_init(&b, 100);
    CHECK_INT(buf_append_u64(&b, 0), SV_OK);
    CHECK_INT(buf_append_char(&b, ' '), SV_OK);
    CHECK_INT(buf_append_u64(&b, UINT64_MAX), SV_OK);
    CHECK_STR(b.data, "0 18446744073709551615");
    buf_free(&b);
}

TEST(consume)
{
    buf_t b;
    buf_init(&b, 100);
    buf_append_cstr(&b, "abcdef");
    buf_consume(&b, 2);
    CHECK_STR(b.data, "cdef");
    buf_consume(&b, 0);
    CHECK_STR(b.data, "cdef");
    buf_consume(&b, 4);
    CHECK_STR(b.data, "");
    CHECK_INT(b.len, 0);
    buf_append_cstr(&b, "xy");
    buf_consume(&b, 99);
    CHECK_INT(b.len, 0);
    buf_free(&b);
}

TEST(json_escape_quotes_and_controls)
{
    buf_t e;

    e = escaped(STR("say \"hi\" \\ /"));
    CHECK_STR(e.data, "say \\\"hi\\\" \\\\ /");
    CHECK(is_valid_json_string(&e));
    buf_free(&e);

    e = escaped(STR("a\nb\rc\td"));
    CHECK_STR(e.data, "a\\nb\\rc\\td");
    buf_free(&e);

    e = escaped(STR("\0\x01\x1b[31m\x1f\x7f"));
    CHECK_STR(e.data, "\\u0000\\u0001\\u001b[31m\\u001f\\u007f");
    buf_free(&e);

    /* every byte below 0x20 is escaped, and the result decodes to the input */
    char all[32];
    for (int i = 0; i < 32; i++)
        all[i] = (char)i;
    e = escaped(str_make(all, sizeof(all)));
    for (size_t i = 0; i < e.len; i++)
        CHECK((unsigned char)e.data[i] >= 0x20);
    CHECK(is_valid_json_string(&e));
    buf_free(&e);
}

TEST(json_escape_utf8)
{
    buf_t e;

    /* valid UTF-8 of every length passes through */
    e = escaped(STR("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8e\xac"));
    CHECK_STR(e.data, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8e\xac");
    buf_free(&e);
    e = escaped(STR("\xf4\x8f\xbf\xbf\xed\x9f\xbf")); /* U+10FFFF, U+D7FF */
    CHECK_STR(e.data, "\xf4\x8f\xbf\xbf\xed\x9f\xbf");
    buf_free(&e);
}

TEST(json_escape_invalid_utf8)
{
    static const struct {
        const char *in;
        size_t len;
        const char *out;
    } cases[] = {
        {"\x80", 1, "\\u0080"},                       /* lone continuation */
        {"\xc0\x80", 2, "\\u00c0\\u0080"},            /* overlong NUL */
        {"\xc1\xbf", 2, "\\u00c1\\u00bf"},            /* overlong */
        {"\xe0\x80\x80", 3, "\\u00e0\\u0080\\u0080"}, /* overlong 3-byte */
        {"\xed\xa0\x80", 3, "\\u00ed\\u00a0\\u0080"}, /* surrogate U+D800 */
        {"\xf0\x80\x80\x80", 4, "\\u00f0\\u0080\\u0080\\u0080"},
        {"\xf4\x90\x80\x80", 4, "\\u00f4\\u0090\\u0080\\u0080"}, /* > U+10FFFF */
        {"\xf5\x80", 2, "\\u00f5\\u0080"},
        {"\xff\xfe", 2, "\\u00ff\\u00fe"},
        {"a\xe2\x82", 3, "a\\u00e2\\u0082"},    /* truncated at the end */
        {"\xe2\x28\xa1", 3, "\\u00e2(\\u00a1"}, /* bad continuation */
        {"\xc3\xa9\xc3", 3, "\xc3\xa9\\u00c3"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        buf_t e = escaped(str_make(cases[i].in, cases[i].len));
        CHECK_STR(e.data, cases[i].out);
        CHECK(is_valid_json_string(&e));
        buf_free(&e);
    }
}

/* Every 1- and 2-byte input escapes to valid JSON within 6 bytes per byte. */
TEST(json_escape_exhaustive_pairs)
{
    buf_t e;
    char in[2];
    int bad = 0;

    buf_init(&e, 64);
    for (int a = 0; a < 256; a++) {
        for (int b = 0; b < 256; b++) {
            in[0] = (char)a;
            in[1] = (char)b;
            buf_reset(&e);
            if (buf_append_json_escaped(&e, str_make(in, 2)) != SV_OK || e.len > 12 ||
                memchr(e.data, '\n', e.len) != NULL)
                bad++;
            else if (!is_valid_json_string(&e))
                bad++;
        }
    }
    CHECK_INT(bad, 0);
    buf_free(&e);
}

TEST(json_escape_ceiling)
{
    buf_t b;
    buf_init(&b, 5);
    CHECK_INT(buf_append_json_escaped(&b, STR("\x01")), SV_TOO_BIG);
    CHECK_INT(buf_append_json_escaped(&b, STR("abcde")), SV_OK);
    CHECK_INT(buf_append_json_escaped(&b, STR("f")), SV_TOO_BIG);
    buf_free(&b);
}

int
main(void)
{
    RUN(append_and_nul);
    RUN(ceiling_enforced);
    RUN(ceiling_size_max);
    RUN(grows);
    RUN(appendf);
    RUN(appendf_near_ceiling);
    RUN(append_u64);
    RUN(consume);
    RUN(json_escape_quotes_and_controls);
    RUN(json_escape_utf8);
    RUN(json_escape_invalid_utf8);
    RUN(json_escape_exhaustive_pairs);
    RUN(json_escape_ceiling);
    return test_done();
}
