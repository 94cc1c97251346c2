/*
 * test_api.c: the OpenAPI document and the routes the server registers
 * describe the same API: every route and method is documented, and every
 * documented operation has a route. Also: the document is OpenAPI 3.1 and
 * every $ref in it resolves.
 */
#include "test.h"

#include "api/api.h"
#include "base/jsonx.h"
#include "base/status.h"
#include "net/router.h"

#include <ctype.h>

static json_t *doc;

/* "/media/{path*}" -> "/media/{path}" (OpenAPI has no rest parameters). */
static void
openapi_path(const char *pattern, char *out, size_t cap)
{
    size_t n = 0;
    for (const char *p = pattern; *p && n + 1 < cap; p++) {
        if (*p == '*' && p[1] == '}')
            continue;
        out[n++] = *p;
    }
    out[n] = '\0';
}

static const struct {
    unsigned bit;
    const char *name;
} methods[] = {{HTTP_GET, "get"},       {HTTP_POST, "post"},     {HTTP_PUT, "put"},
               {HTTP_PATCH, "patch"},   {HTTP_DELETE, "delete"}};

TEST(document_is_openapi_31)
{
    CHECK(doc != NULL);
    const char *v = json_string_value(json_object_get(doc, "openapi"));
    CHECK(v != NULL && strncmp(v, "3.1.", 4) == 0);
    CHECK(json_is_object(json_object_get(doc, "paths")));
    CHECK(json_string_value(json_object_get(json_object_get(doc, "info"), "version")) != NULL);
}

TEST(every_route_is_documented)
{
    config_t cfg;
    config_defaults(&cfg);
    api_t *api = api_create(&cfg, "web");
    router_t *rt = router_create();
    CHECK_INT(api_routes_add(api, rt), SV_OK);
    json_t *paths = json_object_get(doc, "paths");
    for (size_t i = 0; i < router_count(rt); i++) {
        const http_route_t *r = router_get(rt, i);
        char p[256];
        openapi_path(r->pattern, p, sizeof(p));
        json_t *item = json_object_get(paths, p);
        if (item == NULL) {
            printf("# route %s is not in the OpenAPI document\n", r->pattern);
            CHECK(item != NULL);
            continue;
        }
        for (size_t m = 0; m < sizeof(methods) / sizeof(methods[0]); m++) {
            if ((r->methods & methods[m].bit) && json_object_get(item, methods[m].name) == NULL) {
                printf("# %s %s is not documented\n", methods[m].name, p);
                CHECK(0);
            }
        }
    }
    router_destroy(rt);
    api_destroy(api);
}

TEST(every_documented_operation_has_a_route)
{
    config_t cfg;
    config_defaults(&cfg);
    api_t *api = api_create(&cfg, "web");
    router_t *rt = router_create();
    api_routes_add(api, rt);
    const char *path;
    json_t *item;
    json_object_foreach(json_object_get(doc, "paths"), path, item)
    {
        const char *mname;
        json_t *op;
        json_object_foreach(item, mname, op)
        {
            unsigned bit = 0;
            for (size_t m = 0; m < sizeof(methods) / sizeof(methods[0]); m++)
                if (strcmp(methods[m].name, mname) == 0)
                    bit = methods[m].bit;
            if (bit == 0)
                continue; /* parameters, summary ... */
            bool found = false;
            for (size_t i = 0; i < router_count(rt); i++) {
                const http_route_t *r = router_get(rt, i);
                char p[256];
                openapi_path(r->pattern, p, sizeof(p));
                if (strcmp(p, path) == 0 && (r->methods & bit))
                    found = true;
            }
            if (!found)
                printf("# documented %s %s has no route\n", mname, path);
            CHECK(found);
            CHECK(json_string_value(json_object_get(op, "operationId")) != NULL);
            CHECK(json_is_object(json_object_get(op, "responses")));
        }
    }
    router_destroy(rt);
    api_destroy(api);
}

/* Walks v; every "$ref": "#/a/b/c" must name an object in doc. */
static int
check_refs(json_t *v)
{
    int bad = 0;
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x)
        {
            if (strcmp(k, "$ref") == 0 && json_is_string(x)) {
                const char *ref = json_string_value(x);
                json_t *cur = doc;
                char part[128];
                if (strncmp(ref, "#/", 2) != 0) {
                    bad++;
                    continue;
                }
                for (const char *p = ref + 2; *p && cur;) {
                    size_t n = strcspn(p, "/");
                    snprintf(part, sizeof(part), "%.*s", (int)n, p);
                    cur = json_object_get(cur, part);
                    p += n + (p[n] == '/');
                }
                if (cur == NULL) {
                    printf("# unresolved $ref %s\n", ref);
                    bad++;
                }
            } else {
                bad += check_refs(x);
            }
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) bad += check_refs(x);
    }
    return bad;
}

TEST(every_ref_resolves)
{
    CHECK_INT(check_refs(doc), 0);
}

int
main(void)
{
    char err[256];
    if (jsonx_parse(str_make(api_openapi_json, api_openapi_json_len), 64, &doc, err,
                    sizeof(err)) != SV_OK)
        printf("# openapi.json: %s\n", err);
    RUN(document_is_openapi_31);
    RUN(every_route_is_documented);
    RUN(every_documented_operation_has_a_route);
    RUN(every_ref_resolves);
    json_decref(doc);
    return test_done();
}
