/*
 * test_http_client.c: the outbound client against a real in-process server
 * on loopback: bodies both ways, headers, timeouts, size ceilings, refused
 * connections, bad URLs, asynchronous completion on a loop and on the
 * client thread, and cancellation at destroy.
 */
#include "test.h"

#include "base/clock.h"
#include "base/status.h"
#include "net/http_client.h"
#include "net/http_server.h"
#include "net/router.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

static http_server_t *server;
static router_t *router;
static char base_url[64];

static int
route_echo(http_request_t *r)
{
    str_t h = http_header_get(r, "X-Test");
    if (h.p)
        http_header_addf(r, "X-Test-Echo", "%.*s", STR_FMT(h));
    return http_respond(r, 200, "application/octet-stream", r->body.data ? r->body.data : "",
                        r->body.len);
}

static int
route_big(http_request_t *r)
{
    buf_t *b = http_body(r);
    for (int i = 0; i < 64 * 1024; i++)
        buf_append(b, "0123456789abcdef", 16); /* 1 MiB */
    return http_respond_body(r, 200, "text/plain");
}

static void
slow_timeout(http_request_t *r, void *arg)
{
    http_respond(r, 200, "text/plain", "late", 4);
}

static int
route_slow(http_request_t *r)
{
    http_park_t *pk = http_park(r, 1500, slow_timeout);
    if (pk == NULL)
        return SV_NO_MEMORY;
    http_park_release(pk); /* only the timeout answers */
    return SV_AGAIN;
}

static int
route_status(http_request_t *r)
{
    return http_respond_error(r, 418, "teapot", "short and stout", NULL);
}

static void
server_start(void)
{
    static const http_route_t routes[] = {
        {HTTP_POST | HTTP_PUT | HTTP_GET, "/echo", route_echo, 0, NULL, 0},
        {HTTP_GET, "/big", route_big, 0, NULL, 0},
        {HTTP_GET, "/slow", route_slow, 0, NULL, 0},
        {HTTP_GET, "/teapot", route_status, 0, NULL, 0},
    };
    http_server_config_t cfg = {
        .listen = "127.0.0.1:0", .loops = 1, .blocking_threads = 1,
        .max_connections = 100, .max_header_bytes = 8192, .max_headers = 50,
        .max_body_bytes = 1 << 20, .max_upload_bytes = 1 << 20, .body_memory_bytes = 1 << 20,
        .output_max_bytes = 4 << 20, .header_timeout_ms = 5000, .body_timeout_ms = 5000,
        .send_timeout_ms = 5000, .keepalive_timeout_ms = 5000, .keepalive_requests = 1000,
        .shutdown_timeout_ms = 2000, .cors_allow_origin = "", .tmp_dir = "/tmp",
        .access_log_fd = -1,
    };
    char err[256];
    router = router_create();
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        router_add(router, &routes[i]);
    if (http_server_create(&cfg, router, &server, err, sizeof(err)) != SV_OK ||
        http_server_start(server) != SV_OK) {
        printf("# cannot start server: %s\n", err);
        exit(1);
    }
    snprintf(base_url, sizeof(base_url), "http://127.0.0.1:%d", http_server_port(server));
}

static http_client_t *
client_new(uint64_t timeout_ms, size_t max_bytes)
{
    http_client_config_t cc = {.timeout_ms = timeout_ms, .connect_timeout_ms = 1000,
                               .max_response_bytes = max_bytes, .user_agent = "sv-test"};
    char err[128];
    http_client_t *c = http_client_create(&cc, err, sizeof(err));
    if (c == NULL)
        printf("# %s\n", err);
    return c;
}

TEST(fetch_get_and_post_bodies_and_headers)
{
    http_client_t *c = client_new(5000, 4 << 20);
    char url[128];
    http_client_response_t resp;
    snprintf(url, sizeof(url), "%s/echo", base_url);
    http_client_request_t req = {.method = "POST", .url = url, .body = "hello body",
                                 .body_len = 10, .headers = {"X-Test: 42", NULL}};
    CHECK_INT(http_client_fetch(c, &req, &resp), SV_OK);
    CHECK_INT(resp.status, 200);
    CHECK_INT(resp.body.len, 10);
    CHECK(resp.body.data && memcmp(resp.body.data, "hello body", 10) == 0);
    CHECK_STR(resp.content_type, "application/octet-stream");
    buf_free(&resp.body);

    snprintf(url, sizeof(url), "%s/big", base_url);
    http_client_request_t get = {.url = url};
    CHECK_INT(http_client_fetch(c, &get, &resp), SV_OK);
    CHECK_INT(resp.body.len, 1 << 20);
    buf_free(&resp.body);

    snprintf(url, sizeof(url), "%s/teapot", base_url);
    CHECK_INT(http_client_fetch(c, &get, &resp), SV_OK); /* an error status is a response */
    CHECK_INT(resp.status, 418);
    buf_free(&resp.body);
    http_client_destroy(c);
}

TEST(fetch_fails_with_the_right_status)
{
    http_client_t *c = client_new(400, 1000);
    char url[128];
    http_client_response_t resp;
    http_client_request_t req = {.url = url};

    snprintf(url, sizeof(url), "%s/slow", base_url);
    uint64_t t0 = clock_mono_ms();
    CHECK_INT(http_client_fetch(c, &req, &resp), SV_TIMEOUT);
    uint64_t took = clock_mono_ms() - t0;
    CHECK(took >= 350 && took < 1400);
    CHECK(strstr(resp.error, "400 ms") != NULL);
    buf_free(&resp.body);

    snprintf(url, sizeof(url), "%s/big", base_url);
    CHECK_INT(http_client_fetch(c, &req, &resp), SV_TOO_BIG);
    CHECK(strstr(resp.error, "larger than 1000 bytes") != NULL);
    buf_free(&resp.body);

    snprintf(url, sizeof(url), "file:///etc/passwd");
    CHECK_INT(http_client_fetch(c, &req, &resp), SV_BAD_DATA);
    buf_free(&resp.body);

    http_client_request_t inj = {.url = base_url, .headers = {"X: a\r\nY: b", NULL}};
    CHECK_INT(http_client_fetch(c, &inj, &resp), SV_BAD_DATA);
    buf_free(&resp.body);

    /* A loopback port nobody listens on: refused at once. */
    int port = http_server_port(server) == 65535 ? 65534 : http_server_port(server) + 1;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
    int rc = http_client_fetch(c, &req, &resp);
    CHECK(rc == SV_IO);
    buf_free(&resp.body);
    http_client_destroy(c);
}

static atomic_int async_done, async_ok;

static void
async_cb(http_client_response_t *resp, void *arg)
{
    if (resp->rc == SV_OK && resp->status == 200 && resp->body.len == (size_t)(intptr_t)arg)
        atomic_fetch_add(&async_ok, 1);
    atomic_fetch_add(&async_done, 1);
}

TEST(submit_runs_many_transfers_concurrently)
{
    http_client_t *c = client_new(5000, 4 << 20);
    char url[128];
    snprintf(url, sizeof(url), "%s/big", base_url);
    atomic_store(&async_done, 0);
    atomic_store(&async_ok, 0);
    for (int i = 0; i < 40; i++) {
        http_client_request_t req = {.url = url};
        CHECK_INT(http_client_submit(c, &req, NULL, async_cb, (void *)(intptr_t)(1 << 20)),
                  SV_OK);
    }
    for (int i = 0; i < 500 && atomic_load(&async_done) < 40; i++)
        usleep(10000);
    CHECK_INT(atomic_load(&async_done), 40);
    CHECK_INT(atomic_load(&async_ok), 40);
    http_client_destroy(c);
}

static loop_t *cb_loop;
static atomic_int on_loop;

static void
loop_cb(http_client_response_t *resp, void *arg)
{
    if (loop_current() == cb_loop && resp->rc == SV_OK)
        atomic_store(&on_loop, 1);
    loop_stop(cb_loop);
}

static void *
loop_thread(void *arg)
{
    loop_run(arg);
    return NULL;
}

TEST(submit_delivers_on_the_given_loop)
{
    http_client_t *c = client_new(5000, 4 << 20);
    char url[128];
    pthread_t th;
    snprintf(url, sizeof(url), "%s/echo", base_url);
    cb_loop = loop_create(9);
    pthread_create(&th, NULL, loop_thread, cb_loop);
    http_client_request_t req = {.url = url};
    CHECK_INT(http_client_submit(c, &req, cb_loop, loop_cb, NULL), SV_OK);
    pthread_join(th, NULL);
    CHECK_INT(atomic_load(&on_loop), 1);
    loop_destroy(cb_loop);
    http_client_destroy(c);
}

static atomic_int cancelled;

static void
cancel_cb(http_client_response_t *resp, void *arg)
{
    if (resp->rc == SV_UNAVAILABLE)
        atomic_fetch_add(&cancelled, 1);
}

TEST(destroy_cancels_transfers_in_flight)
{
    http_client_t *c = client_new(10000, 4 << 20);
    char url[128];
    snprintf(url, sizeof(url), "%s/slow", base_url);
    for (int i = 0; i < 3; i++) {
        http_client_request_t req = {.url = url};
        CHECK_INT(http_client_submit(c, &req, NULL, cancel_cb, NULL), SV_OK);
    }
    usleep(200000);
    http_client_destroy(c); /* returns at once, not after /slow's 1.5 s */
    CHECK_INT(atomic_load(&cancelled), 3);
}

int
main(void)
{
    server_start();
    RUN(fetch_get_and_post_bodies_and_headers);
    RUN(fetch_fails_with_the_right_status);
    RUN(submit_runs_many_transfers_concurrently);
    RUN(submit_delivers_on_the_given_loop);
    RUN(destroy_cancels_transfers_in_flight);
    http_server_shutdown(server);
    http_server_destroy(server);
    router_destroy(router);
    return test_done();
}
