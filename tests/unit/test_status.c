/*
 * test_status.c: the one table from status to HTTP status and API code.
 * Includes status.c to check the table itself has no holes.
 */
#include "base/status.c"

#include "test.h"

#define NSTATUS (1 - SV_STATUS_MIN_)

TEST(table_complete)
{
    CHECK_INT(sizeof(status_table) / sizeof(status_table[0]), NSTATUS);
    for (int rc = SV_OK; rc >= SV_STATUS_MIN_; rc--) {
        const status_entry_t *e = &status_table[-rc];
        CHECK(e->code != NULL && e->code[0] != '\0');
        CHECK(e->text != NULL && e->text[0] != '\0');
        CHECK(e->http >= 200 && e->http <= 599);
        /* error codes are stable snake_case identifiers */
        for (const char *p = e->code ? e->code : ""; *p; p++)
            CHECK((*p >= 'a' && *p <= 'z') || *p == '_');
        /* only success is a success */
        CHECK((e->http < 300) == (rc == SV_OK));
        CHECK_STR(status_code(rc), e->code);
        CHECK_INT(status_http(rc), e->http);
        CHECK_STR(status_text(rc), e->text);
    }
}

TEST(codes_unique)
{
    for (int a = SV_OK; a >= SV_STATUS_MIN_; a--) {
        for (int b = a - 1; b >= SV_STATUS_MIN_; b--) {
            if (strcmp(status_code(a), status_code(b)) == 0)
                printf("# %d and %d share code %s\n", a, b, status_code(a));
            CHECK(strcmp(status_code(a), status_code(b)) != 0);
        }
    }
}

TEST(mapping)
{
    static const struct {
        int rc, http;
        const char *code;
    } m[] = {
        {SV_OK, 200, "ok"},
        {SV_ERROR, 500, "internal"},
        {SV_BAD_DATA, 400, "bad_request"},
        {SV_UNAUTHORIZED, 401, "unauthorized"},
        {SV_FORBIDDEN, 403, "forbidden"},
        {SV_NOT_FOUND, 404, "not_found"},
        {SV_METHOD, 405, "method_not_allowed"},
        {SV_EXISTS, 409, "exists"},
        {SV_CONFLICT, 409, "conflict"},
        {SV_TOO_BIG, 413, "too_big"},
        {SV_RANGE, 416, "range_not_satisfiable"},
        {SV_RATE_LIMITED, 429, "rate_limited"},
        {SV_IO, 500, "io"},
        {SV_DB, 500, "database"},
        {SV_UNSUPPORTED, 501, "unsupported"},
        {SV_NO_MEMORY, 503, "no_memory"},
        {SV_BUSY, 503, "busy"},
        {SV_UNAVAILABLE, 503, "unavailable"},
        {SV_TIMEOUT, 504, "timeout"},
    };
    for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
        CHECK_INT(status_http(m[i].rc), m[i].http);
        CHECK_STR(status_code(m[i].rc), m[i].code);
    }
}

TEST(unknown_is_internal)
{
    static const int odd[] = {1, 200, SV_STATUS_MIN_ - 1, -1000, INT32_MIN, INT32_MAX};
    for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
        CHECK_INT(status_http(odd[i]), 500);
        CHECK_STR(status_code(odd[i]), "internal");
        CHECK_STR(status_text(odd[i]), "internal error");
    }
}

int
main(void)
{
    RUN(table_complete);
    RUN(codes_unique);
    RUN(mapping);
    RUN(unknown_is_internal);
    return test_done();
}
