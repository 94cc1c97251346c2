/*
 * test_router.c: literal segments, parameters, rest parameters, 405 with the
 * allowed set, HEAD served by GET routes, first-added-wins order, malformed
 * patterns, and the Allow string.
 */
#include "net/router.h"
#include "base/status.h"
#include "test.h"

static int
h_dummy(http_request_t *r)
{
    (void)r;
    return SV_OK;
}

static router_t *
mk(const http_route_t *routes, size_t n)
{
    router_t *rt = router_create();
    for (size_t i = 0; i < n; i++) {
        if (router_add(rt, &routes[i]) != SV_OK)
            printf("# cannot add %s\n", routes[i].pattern);
    }
    return rt;
}

/* Matches and returns the route's pattern, "404", or "405:<allowed>". */
static char result[128];
static http_request_t req;

static const char *
match(const router_t *rt, unsigned method, const char *path)
{
    const http_route_t *route = NULL;
    unsigned allowed = 0;
    memset(&req, 0, sizeof(req));
    int rc = router_match(rt, method, str_from_cstr(path), &req, &route, &allowed);
    if (rc == SV_OK)
        return route->pattern;
    if (rc == SV_NOT_FOUND)
        return "404";
    if (rc == SV_METHOD) {
        char m[96];
        router_methods_str(allowed, m, sizeof(m));
        snprintf(result, sizeof(result), "405:%s", m);
        return result;
    }
    return "?";
}

static const char *
param(const char *name)
{
    static char v[256];
    str_t s = http_param(&req, name);
    if (s.p == NULL)
        return "(none)";
    str_copy_cstr(v, sizeof(v), s);
    return v;
}

TEST(literal_routes_match_exactly)
{
    const http_route_t routes[] = {
        {HTTP_GET, "/healthz", h_dummy, 0, NULL, 0},
        {HTTP_GET, "/api/openapi.json", h_dummy, 0, NULL, 0},
        {HTTP_GET, "/", h_dummy, 0, NULL, 0},
    };
    router_t *rt = mk(routes, 3);
    CHECK_STR(match(rt, HTTP_GET, "/healthz"), "/healthz");
    CHECK_INT(req.nparams, 0);
    CHECK_STR(match(rt, HTTP_GET, "/api/openapi.json"), "/api/openapi.json");
    CHECK_STR(match(rt, HTTP_GET, "/"), "/");
    CHECK_STR(match(rt, HTTP_GET, "/healthz/"), "404");
    CHECK_STR(match(rt, HTTP_GET, "/healthzx"), "404");
    CHECK_STR(match(rt, HTTP_GET, "/health"), "404");
    CHECK_STR(match(rt, HTTP_GET, "/HEALTHZ"), "404"); /* case-sensitive */
    CHECK_STR(match(rt, HTTP_GET, "/api"), "404");
    CHECK_STR(match(rt, HTTP_GET, "/api/openapi.json/x"), "404");
    CHECK_STR(match(rt, HTTP_GET, ""), "404");
    CHECK_STR(match(rt, HTTP_GET, "healthz"), "404");
    router_destroy(rt);
}

TEST(params_bind_one_segment)
{
    const http_route_t routes[] = {
        {HTTP_GET, "/api/v1/jobs/{id}", h_dummy, 0, NULL, 0},
        {HTTP_GET, "/a/{x}/b/{y}", h_dummy, 0, NULL, 0},
    };
    router_t *rt = mk(routes, 2);
    CHECK_STR(match(rt, HTTP_GET, "/api/v1/jobs/42"), "/api/v1/jobs/{id}");
    CHECK_INT(req.nparams, 1);
    CHECK_STR(param("id"), "42");
    CHECK_STR(param("other"), "(none)");
    CHECK_STR(match(rt, HTTP_GET, "/api/v1/jobs/a b.c"), "/api/v1/jobs/{id}");
    CHECK_STR(param("id"), "a b.c");
    CHECK_STR(match(rt, HTTP_GET, "/api/v1/jobs/"), "404"); /* empty segment */
    CHECK_STR(match(rt, HTTP_GET, "/api/v1/jobs"), "404");
    CHECK_STR(match(rt, HTTP_GET, "/api/v1/jobs/42/x"), "404");
    CHECK_STR(match(rt, HTTP_GET, "/api/v1/jobs/42/"), "404");
    CHECK_STR(match(rt, HTTP_GET, "/a/1/b/2"), "/a/{x}/b/{y}");
    CHECK_INT(req.nparams, 2);
    CHECK_STR(param("x"), "1");
    CHECK_STR(param("y"), "2");
    CHECK_STR(match(rt, HTTP_GET, "/a/1/c/2"), "404");
    CHECK_INT(req.nparams, 0);
    router_destroy(rt);
}

TEST(rest_params_bind_the_rest_possibly_empty)
{
    const http_route_t routes[] = {
        {HTTP_GET, "/media/{path*}", h_dummy, 0, NULL, 0},
        {HTTP_GET, "/live/{ch}/{file*}", h_dummy, 0, NULL, 0},
    };
    router_t *rt = mk(routes, 2);
    CHECK_STR(match(rt, HTTP_GET, "/media/a/b/c.m4s"), "/media/{path*}");
    CHECK_STR(param("path"), "a/b/c.m4s");
    CHECK_STR(match(rt, HTTP_GET, "/media/x.m3u8"), "/media/{path*}");
    CHECK_STR(param("path"), "x.m3u8");
    CHECK_STR(match(rt, HTTP_GET, "/media/"), "/media/{path*}");
    CHECK_STR(param("path"), "");
    CHECK_STR(match(rt, HTTP_GET, "/media/dir/"), "/media/{path*}");
    CHECK_STR(param("path"), "dir/");
    CHECK_STR(match(rt, HTTP_GET, "/media"), "404");
    CHECK_STR(match(rt, HTTP_GET, "/mediax/a"), "404");
    CHECK_STR(match(rt, HTTP_GET, "/live/ch1/seg/1.m4s"), "/live/{ch}/{file*}");
    CHECK_STR(param("ch"), "ch1");
    CHECK_STR(param("file"), "seg/1.m4s");
    router_destroy(rt);

    const http_route_t all[] = {{HTTP_GET, "/{path*}", h_dummy, 0, NULL, 0}};
    rt = mk(all, 1);
    CHECK_STR(match(rt, HTTP_GET, "/"), "/{path*}");
    CHECK_STR(param("path"), "");
    CHECK_STR(match(rt, HTTP_GET, "/index.html"), "/{path*}");
    CHECK_STR(param("path"), "index.html");
    router_destroy(rt);
}

TEST(method_mismatch_is_405_with_allowed_set)
{
    const http_route_t routes[] = {
        {HTTP_GET, "/api/v1/jobs/{id}", h_dummy, 0, NULL, 0},
        {HTTP_DELETE, "/api/v1/jobs/{id}", h_dummy, 0, NULL, 0},
        {HTTP_POST | HTTP_PUT, "/upload", h_dummy, 0, NULL, 0},
    };
    router_t *rt = mk(routes, 3);
    CHECK_STR(match(rt, HTTP_POST, "/api/v1/jobs/7"), "405:GET, HEAD, DELETE");
    CHECK_INT(req.nparams, 0);
    CHECK_STR(match(rt, HTTP_DELETE, "/api/v1/jobs/7"), "/api/v1/jobs/{id}");
    CHECK(req.nparams == 1 && strcmp(param("id"), "7") == 0);
    CHECK_STR(match(rt, HTTP_GET, "/upload"), "405:POST, PUT");
    CHECK_STR(match(rt, HTTP_HEAD, "/upload"), "405:POST, PUT");
    CHECK_STR(match(rt, HTTP_OTHER, "/upload"), "405:POST, PUT");
    CHECK_STR(match(rt, HTTP_PATCH, "/nothing"), "404");
    router_destroy(rt);
}

TEST(head_is_served_by_get_routes)
{
    const http_route_t routes[] = {
        {HTTP_GET, "/a", h_dummy, 0, NULL, 0},
        {HTTP_POST, "/b", h_dummy, 0, NULL, 0},
        {HTTP_HEAD, "/c", h_dummy, 0, NULL, 0},
    };
    router_t *rt = mk(routes, 3);
    CHECK_STR(match(rt, HTTP_HEAD, "/a"), "/a");
    CHECK_STR(match(rt, HTTP_HEAD, "/b"), "405:POST");
    CHECK_STR(match(rt, HTTP_HEAD, "/c"), "/c");
    /* HEAD does not make a route answer GET */
    CHECK_STR(match(rt, HTTP_GET, "/c"), "405:HEAD");
    router_destroy(rt);
}

TEST(first_added_route_wins)
{
    const http_route_t routes[] = {
        {HTTP_GET, "/api/v1/jobs/stats", h_dummy, 0, NULL, 0},
        {HTTP_GET, "/api/v1/jobs/{id}", h_dummy, 0, NULL, 0},
        {HTTP_GET, "/media/special.m3u8", h_dummy, 0, NULL, 0},
        {HTTP_GET, "/media/{path*}", h_dummy, 0, NULL, 0},
        {HTTP_GET, "/media/never", h_dummy, 0, NULL, 0}, /* shadowed by the rest route */
        {HTTP_GET, "/{path*}", h_dummy, 0, NULL, 0},
    };
    router_t *rt = mk(routes, 6);
    CHECK_STR(match(rt, HTTP_GET, "/api/v1/jobs/stats"), "/api/v1/jobs/stats");
    CHECK_INT(req.nparams, 0);
    CHECK_STR(match(rt, HTTP_GET, "/api/v1/jobs/9"), "/api/v1/jobs/{id}");
    CHECK_STR(match(rt, HTTP_GET, "/media/special.m3u8"), "/media/special.m3u8");
    CHECK_STR(match(rt, HTTP_GET, "/media/never"), "/media/{path*}");
    CHECK_STR(param("path"), "never");
    CHECK_STR(match(rt, HTTP_GET, "/api/v1"), "/{path*}");
    CHECK_STR(param("path"), "api/v1");
    router_destroy(rt);

    /* a parameter route added first shadows a later literal */
    const http_route_t rev[] = {
        {HTTP_GET, "/api/v1/jobs/{id}", h_dummy, 0, NULL, 0},
        {HTTP_GET, "/api/v1/jobs/stats", h_dummy, 0, NULL, 0},
    };
    rt = mk(rev, 2);
    CHECK_STR(match(rt, HTTP_GET, "/api/v1/jobs/stats"), "/api/v1/jobs/{id}");
    CHECK_STR(param("id"), "stats");
    router_destroy(rt);
}

TEST(method_match_continues_past_path_match)
{
    /* the same path with another method later in the table */
    const http_route_t routes[] = {
        {HTTP_GET, "/x/{a}", h_dummy, 0, NULL, 0},
        {HTTP_POST, "/x/{b}", h_dummy, 0, NULL, 0},
    };
    router_t *rt = mk(routes, 2);
    CHECK_STR(match(rt, HTTP_POST, "/x/1"), "/x/{b}");
    CHECK_INT(req.nparams, 1);
    CHECK_STR(param("b"), "1");
    CHECK_STR(param("a"), "(none)");
    router_destroy(rt);
}

TEST(route_index_and_count_follow_insertion)
{
    const http_route_t routes[] = {
        {HTTP_GET, "/a", h_dummy, 0, NULL, 99},
        {HTTP_GET, "/b", h_dummy, HTTP_ROUTE_BLOCKING, (void *)&req, 99},
    };
    router_t *rt = mk(routes, 2);
    CHECK_INT(router_count(rt), 2);
    CHECK_INT(router_get(rt, 0)->index, 0);
    CHECK_INT(router_get(rt, 1)->index, 1);
    CHECK(router_get(rt, 1)->data == (void *)&req);
    CHECK_INT(router_get(rt, 1)->flags, HTTP_ROUTE_BLOCKING);
    CHECK(router_get(rt, 2) == NULL);
    router_destroy(rt);
}

TEST(malformed_patterns_are_refused)
{
    static const char *const bad[] = {
        "",
        "healthz",
        "/{}",
        "/{*}",
        "/media/{path*}/x",
        "/{a*}/{b}",
        "/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16/17",
    };
    router_t *rt = router_create();
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        http_route_t r = {HTTP_GET, bad[i], h_dummy, 0, NULL, 0};
        int rc = router_add(rt, &r);
        if (rc != SV_BAD_DATA)
            printf("# pattern \"%s\" gave %d\n", bad[i], rc);
        CHECK_INT(rc, SV_BAD_DATA);
    }
    CHECK_INT(router_count(rt), 0);
    /* 16 segments is the most */
    http_route_t ok = {HTTP_GET, "/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16", h_dummy, 0, NULL,
                       0};
    CHECK_INT(router_add(rt, &ok), SV_OK);
    CHECK_STR(match(rt, HTTP_GET, "/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16"),
              "/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16");
    router_destroy(rt);
}

TEST(many_routes_grow_the_table)
{
    router_t *rt = router_create();
    static char pats[100][32];
    for (int i = 0; i < 100; i++) {
        snprintf(pats[i], sizeof(pats[i]), "/r%d/{id}", i);
        http_route_t r = {HTTP_GET, pats[i], h_dummy, 0, NULL, 0};
        CHECK_INT(router_add(rt, &r), SV_OK);
    }
    CHECK_INT(router_count(rt), 100);
    CHECK_STR(match(rt, HTTP_GET, "/r73/x"), "/r73/{id}");
    CHECK_STR(param("id"), "x");
    router_destroy(rt);
}

TEST(more_params_than_max_do_not_overflow)
{
    /* HTTP_MAX_PARAMS (8) parameters are bound; more match but are not stored */
    const http_route_t routes[] = {
        {HTTP_GET, "/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}/{j}", h_dummy, 0, NULL, 0},
    };
    router_t *rt = mk(routes, 1);
    CHECK_STR(match(rt, HTTP_GET, "/1/2/3/4/5/6/7/8/9/10"), routes[0].pattern);
    CHECK_INT(req.nparams, HTTP_MAX_PARAMS);
    CHECK_STR(param("h"), "8");
    router_destroy(rt);
}

TEST(methods_str_lists_in_fixed_order)
{
    char out[96];
    router_methods_str(HTTP_GET | HTTP_HEAD, out, sizeof(out));
    CHECK_STR(out, "GET, HEAD");
    router_methods_str(HTTP_OPTIONS | HTTP_DELETE | HTTP_GET | HTTP_PATCH, out, sizeof(out));
    CHECK_STR(out, "GET, PATCH, DELETE, OPTIONS");
    router_methods_str(0, out, sizeof(out));
    CHECK_STR(out, "");
    router_methods_str(HTTP_GET | HTTP_HEAD | HTTP_POST | HTTP_PUT | HTTP_PATCH | HTTP_DELETE |
                           HTTP_OPTIONS,
                       out, sizeof(out));
    CHECK_STR(out, "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
    /* a small buffer truncates at a whole name, never mid-name */
    router_methods_str(HTTP_GET | HTTP_HEAD | HTTP_POST, out, 12);
    CHECK_STR(out, "GET, HEAD");
}

int
main(void)
{
    RUN(literal_routes_match_exactly);
    RUN(params_bind_one_segment);
    RUN(rest_params_bind_the_rest_possibly_empty);
    RUN(method_mismatch_is_405_with_allowed_set);
    RUN(head_is_served_by_get_routes);
    RUN(first_added_route_wins);
    RUN(method_match_continues_past_path_match);
    RUN(route_index_and_count_follow_insertion);
    RUN(malformed_patterns_are_refused);
    RUN(many_routes_grow_the_table);
    RUN(more_params_than_max_do_not_overflow);
    RUN(methods_str_lists_in_fixed_order);
    return test_done();
}
