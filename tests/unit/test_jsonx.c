/*
 * test_jsonx.c: bounded JSON parsing (depth, duplicates, error positions)
 * and serialisation into a buffer with a ceiling.
 */
#include "base/jsonx.h"
#include "base/status.h"
#include "test.h"

static char err[256];

/* Parses s; on success drops the value. Returns the status; message in err. */
static int
parse(const char *s, size_t max_depth)
{
    json_t *v = NULL;
    int rc;

    err[0] = '\0';
    rc = jsonx_parse(str_from_cstr(s), max_depth, &v, err, sizeof(err));
    CHECK((rc == SV_OK) == (v != NULL));
    json_decref(v);
    return rc;
}

TEST(parse_ok)
{
    json_t *v = NULL;
    CHECK_INT(jsonx_parse(STR("{\"title\":\"Big Buck Bunny\",\"year\":2008,\"tags\":[\"cc\"]}"),
                          32, &v, err, sizeof(err)),
              SV_OK);
    CHECK(json_is_object(v));
    CHECK_STR(json_string_value(json_object_get(v, "title")), "Big Buck Bunny");
    CHECK_INT(json_integer_value(json_object_get(v, "year")), 2008);
    json_decref(v);

    /* an object or an array at the top, as request bodies are */
    CHECK_INT(parse("42", 1), SV_BAD_DATA);
    CHECK_INT(parse("\"s\"", 1), SV_BAD_DATA);
    /* NUL inside strings is allowed (jansson strings carry their length) */
    CHECK_INT(parse("[\"a\\u0000b\"]", 1), SV_OK);
}

TEST(depth_limit)
{
    CHECK_INT(jsonx_depth(STR("1")), 0);
    CHECK_INT(jsonx_depth(STR("[]")), 1);
    CHECK_INT(jsonx_depth(STR("{\"a\":[{\"b\":[]}],\"c\":{}}")), 4);
    /* brackets in strings, also after escaped quotes, do not count */
    CHECK_INT(jsonx_depth(STR("[\"[[[\\\"[[[\",\"\\\\\",[]]")), 2);
    /* unbalanced closers do not go below zero */
    CHECK_INT(jsonx_depth(STR("]]]][")), 1);

    CHECK_INT(parse("[[[1]]]", 3), SV_OK);
    CHECK_INT(parse("[[[1]]]", 2), SV_TOO_BIG);
    CHECK_STR(err, "JSON nested deeper than 2 levels");
    CHECK_INT(parse("{\"a\":{\"b\":{}}}", 2), SV_TOO_BIG);
    CHECK_INT(parse("[\"[[[[[[[[\"]", 1), SV_OK);
    CHECK_INT(parse("[]", 0), SV_TOO_BIG);

    /* deep enough to hurt a recursive parser: refused before jansson sees it */
    static char deep[200001];
    memset(deep, '[', 100000);
    memset(deep + 100000, ']', 100000);
    CHECK_INT(parse(deep, 32), SV_TOO_BIG);
}

TEST(duplicate_keys_rejected)
{
    CHECK_INT(parse("{\"a\":1,\"a\":2}", 8), SV_BAD_DATA);
    CHECK(strstr(err, "duplicate") != NULL);
    CHECK_INT(parse("{\"x\":{\"a\":1,\"b\":{\"a\":2}}}", 8),
              SV_OK); /* same name, other object */
    CHECK_INT(parse("{\"x\":{\"a\":1,\"a\":2}}", 8), SV_BAD_DATA);
}

TEST(error_has_line_and_column)
{
    CHECK_INT(parse("{\n  \"a\": 1,\n  \"b\": tru\n}", 8), SV_BAD_DATA);
    CHECK(strncmp(err, "invalid JSON at line 3 column ", 30) == 0);
    printf("# %s\n", err);
    CHECK_INT(parse("{\"a\":1", 8), SV_BAD_DATA);
    CHECK(strncmp(err, "invalid JSON at line 1 column ", 30) == 0);
    CHECK_INT(parse("", 8), SV_BAD_DATA);
    CHECK(strncmp(err, "invalid JSON at line ", 21) == 0);
    CHECK_INT(parse("{} {}", 8), SV_BAD_DATA);
    CHECK_INT(parse("[1,]", 8), SV_BAD_DATA);
    CHECK_INT(parse("\"\xff\"", 8), SV_BAD_DATA); /* invalid UTF-8 */

    /* a short err buffer is truncated, never overrun */
    char small[10];
    json_t *v = NULL;
    CHECK_INT(jsonx_parse(STR("nope"), 8, &v, small, sizeof(small)), SV_BAD_DATA);
    CHECK_STR(small, "invalid J");
    CHECK(v == NULL);
}

TEST(dump)
{
    buf_t b;
    json_t *v = json_pack("{s:s, s:i}", "k", "a\"b\n", "n", 7);

    buf_init(&b, 1024);
    CHECK_INT(buf_append_cstr(&b, ">"), SV_OK);
    CHECK_INT(jsonx_dump(&b, v), SV_OK);
    CHECK(strcmp(b.data, ">{\"k\":\"a\\\"b\\n\",\"n\":7}") == 0 ||
          strcmp(b.data, ">{\"n\":7,\"k\":\"a\\\"b\\n\"}") == 0);
    json_decref(v);
    buf_free(&b);
}

/* Regression: a value that did not fit was reported as SV_NO_MEMORY whenever
 * 64 bytes or more were left under the ceiling. */
TEST(dump_ceiling)
{
    char big[300];
    buf_t b;
    json_t *v;

    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    v = json_pack("[s]", big);
    buf_init(&b, 200);
    CHECK_INT(buf_append_cstr(&b, "keep"), SV_OK);
    CHECK_INT(jsonx_dump(&b, v), SV_TOO_BIG);
    CHECK_INT(b.len, 4);
    CHECK_STR(b.data, "keep");
    json_decref(v);
    buf_free(&b);
}

int
main(void)
{
    RUN(parse_ok);
    RUN(depth_limit);
    RUN(duplicate_keys_rejected);
    RUN(error_has_line_and_column);
    RUN(dump);
    RUN(dump_ceiling);
    return test_done();
}
