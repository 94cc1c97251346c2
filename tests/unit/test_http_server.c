/*
 * test_http_server.c: an in-process http_server_t on 127.0.0.1, port 0, with
 * routes defined here, driven over plain sockets.
 *
 * Covers keep-alive, pipelining (answers in order, also around a parked
 * request), Content-Length and chunked bodies, Expect: 100-continue, uploads
 * spooled to disk and their temp files, parking (resume from another thread,
 * timeout, late resume, client gone while parked), streaming from resume
 * callbacks, blocking-pool routes, timeouts, graceful shutdown with a request
 * in flight, and file descriptors left open at the end.
 *
 * Timeouts are small (header 1 s, keep-alive 1.5 s) to keep the run short.
 */
#include "net/http_server.h"
#include "net/loop.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/status.h"
#include "test.h"
#include "tmpdir.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- small helpers ---- */

static uint64_t
now_ms(void)
{
    return clock_mono_ms();
}

/* A duration check that says what it measured. */
#define CHECK_MS(dt, lo, hi)                                                                   \
    do {                                                                                       \
        long long dt_ = (long long)(dt), lo_ = (lo), hi_ = (hi);                               \
        if (dt_ < lo_ || dt_ >= hi_)                                                           \
            printf("# %s = %lld ms, expected %lld..%lld ms\n", #dt, dt_, lo_, hi_);            \
        CHECK(dt_ >= lo_ && dt_ < hi_);                                                        \
    } while (0)

static void
sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static uint64_t
fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}
#define FNV_INIT 0xcbf29ce484222325ULL

static int
count_open_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.')
            n++;
    }
    closedir(d);
    return n - 1; /* the directory's own fd */
}

static int
count_dir_entries(const char *path)
{
    int n = 0;
    DIR *d = opendir(path);
    struct dirent *e;
    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.')
            n++;
    }
    closedir(d);
    return n;
}

/* ---- deferred resumes from a thread that is not a loop ---- */

typedef struct {
    uint64_t due;
    http_park_t *pk;
    http_resume_fn fn;
    void *arg;
} resume_item_t;

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    resume_item_t items[256];
    size_t n;
    bool stop;
    pthread_t thread;
} resumer = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

/* Any thread: calls http_park_resume(pk, fn, arg) from the resumer thread
 * after delay_ms. */
static void
resume_later(http_park_t *pk, unsigned delay_ms, http_resume_fn fn, void *arg)
{
    pthread_mutex_lock(&resumer.mu);
    if (resumer.n < sizeof(resumer.items) / sizeof(resumer.items[0])) {
        resumer.items[resumer.n++] = (resume_item_t){now_ms() + delay_ms, pk, fn, arg};
        pthread_cond_signal(&resumer.cv);
    } else {
        http_park_release(pk);
    }
    pthread_mutex_unlock(&resumer.mu);
}

static void *
resumer_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&resumer.mu);
    for (;;) {
        if (resumer.n == 0) {
            if (resumer.stop)
                break;
            pthread_cond_wait(&resumer.cv, &resumer.mu);
            continue;
        }
        size_t best = 0;
        for (size_t i = 1; i < resumer.n; i++) {
            if (resumer.items[i].due < resumer.items[best].due)
                best = i;
        }
        uint64_t t = now_ms();
        if (resumer.items[best].due > t) {
            pthread_mutex_unlock(&resumer.mu);
            sleep_ms((unsigned)(resumer.items[best].due - t) < 5
                         ? (unsigned)(resumer.items[best].due - t)
                         : 5);
            pthread_mutex_lock(&resumer.mu);
            continue;
        }
        resume_item_t it = resumer.items[best];
        resumer.items[best] = resumer.items[--resumer.n];
        pthread_mutex_unlock(&resumer.mu);
        if (http_park_resume(it.pk, it.fn, it.arg) != SV_OK)
            printf("# http_park_resume failed\n");
        pthread_mutex_lock(&resumer.mu);
    }
    pthread_mutex_unlock(&resumer.mu);
    return NULL;
}

/* Waits until every scheduled resume has been handed to its loop. */
static void
resumer_drain(void)
{
    for (int i = 0; i < 400; i++) {
        pthread_mutex_lock(&resumer.mu);
        size_t n = resumer.n;
        pthread_mutex_unlock(&resumer.mu);
        if (n == 0)
            return;
        sleep_ms(10);
    }
}

/* ---- the test routes ---- */

static _Atomic int resumed_null;     /* resume callbacks that found the client gone */
static _Atomic int late_null;        /* resumes after the timeout answered */
static _Atomic int stream_abandoned; /* stream producers that found the client gone */
static _Atomic int blocking_done;
static _Atomic(http_park_t *) held_pk;
static pthread_mutex_t spool_mu = PTHREAD_MUTEX_INITIALIZER;
static char last_spool_path[1024];
static char file_path[1024];
static uint64_t file_size;
static char small_file_path[1024];

static uint64_t
query_u64(http_request_t *r, const char *name, uint64_t dflt)
{
    str_t v;
    uint64_t n;
    if (http_query_get(r, name, &v) == SV_OK && str_to_u64(v, &n) == SV_OK)
        return n;
    return dflt;
}

static int
h_hello(http_request_t *r)
{
    buf_t *b = http_body(r);
    str_t n;
    if (http_query_get(r, "n", &n) != SV_OK)
        n = STR("-");
    buf_appendf(b, "hello %.*s", STR_FMT(n));
    return http_respond_body(r, 200, "text/plain");
}

/* Body size, FNV-1a hash and whether it was spooled; the spool path is kept. */
static int
h_echo(http_request_t *r)
{
    uint64_t h = FNV_INIT, size = 0;
    if (r->body_path) {
        pthread_mutex_lock(&spool_mu);
        snprintf(last_spool_path, sizeof(last_spool_path), "%s", r->body_path);
        pthread_mutex_unlock(&spool_mu);
        int fd = open(r->body_path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return http_respond_error(r, 500, "io", "spool file missing", NULL);
        char tmp[65536];
        ssize_t n;
        while ((n = read(fd, tmp, sizeof(tmp))) > 0) {
            h = fnv1a(h, tmp, (size_t)n);
            size += (uint64_t)n;
        }
        close(fd);
    } else {
        h = fnv1a(h, r->body.data ? r->body.data : "", r->body.len);
        size = r->body.len;
    }
    buf_appendf(http_body(r), "size=%llu hash=%016llx spooled=%d declared=%llu",
                (unsigned long long)size, (unsigned long long)h, r->body_path != NULL,
                (unsigned long long)r->body_size);
    return http_respond_body(r, 200, "text/plain");
}

static void
park_done(http_request_t *r, void *arg)
{
    if (r == NULL) {
        atomic_fetch_add(&resumed_null, 1);
        return;
    }
    buf_appendf(http_body(r), "resumed %s", (const char *)arg);
    http_respond_body(r, 200, "text/plain");
}

/* Parks; another thread resumes after ?ms= (default 100). */
static int
h_park(http_request_t *r)
{
    http_park_t *pk = http_park(r, 0, NULL);
    if (pk == NULL)
        return SV_NO_MEMORY;
    resume_later(pk, (unsigned)query_u64(r, "ms", 100), park_done, "after wait");
    return SV_AGAIN;
}

static void
park_timed_out(http_request_t *r, void *arg)
{
    (void)arg;
    http_respond(r, 503, "text/plain", "park timed out", 14);
}

/* Parks with a 100 ms timeout and nobody to resume it. */
static int
h_park_timeout(http_request_t *r)
{
    http_park_t *pk = http_park(r, 100, park_timed_out);
    if (pk == NULL)
        return SV_NO_MEMORY;
    http_park_release(pk);
    return SV_AGAIN;
}

static void
late_resume(http_request_t *r, void *arg)
{
    (void)arg;
    if (r == NULL) {
        atomic_fetch_add(&late_null, 1);
        return;
    }
    http_respond(r, 200, "text/plain", "too late yet resumed", 20);
}

/* Times out after 50 ms, resumed after 200 ms: the resume must find nobody. */
static int
h_park_late(http_request_t *r)
{
    http_park_t *pk = http_park(r, 50, park_timed_out);
    if (pk == NULL)
        return SV_NO_MEMORY;
    resume_later(pk, 200, late_resume, NULL);
    return SV_AGAIN;
}

/* Parks and hands the handle to the test (held_pk). */
static int
h_park_hold(http_request_t *r)
{
    http_park_t *pk = http_park(r, 0, NULL);
    if (pk == NULL)
        return SV_NO_MEMORY;
    atomic_store(&held_pk, pk);
    return SV_AGAIN;
}

/* Streams ?n= chunks (default 5), one every ?ms= (default 80). */
typedef struct {
    unsigned i, n, ms;
} stream_state_t;

static void
stream_next(http_request_t *r, void *arg)
{
    stream_state_t *st = arg; /* lives in r's arena: not valid when r is NULL */
    char line[64];

    if (r == NULL) {
        atomic_fetch_add(&stream_abandoned, 1);
        return;
    }
    int n = snprintf(line, sizeof(line), "chunk-%u\n", st->i);
    if (http_stream_write(r, line, (size_t)n) != SV_OK)
        return;
    if (++st->i == st->n) {
        http_stream_end(r);
        return;
    }
    http_park_t *pk = http_park(r, 0, NULL);
    if (pk == NULL) {
        http_stream_end(r);
        return;
    }
    resume_later(pk, st->ms, stream_next, st);
}

static int
h_stream(http_request_t *r)
{
    stream_state_t *st = arena_calloc(r->arena, sizeof(*st));
    if (st == NULL)
        return SV_NO_MEMORY;
    st->n = (unsigned)query_u64(r, "n", 5);
    st->ms = (unsigned)query_u64(r, "ms", 80);
    http_stream_begin(r, 200, "text/plain");
    http_park_t *pk = http_park(r, 0, NULL);
    if (pk == NULL)
        return SV_NO_MEMORY;
    resume_later(pk, st->ms, stream_next, st);
    return SV_AGAIN;
}

/* Runs on the blocking pool: never on a loop thread. Sleeps ?ms=. */
static int
h_blocking(http_request_t *r)
{
    bool on_loop = loop_current() != NULL;
    sleep_ms((unsigned)query_u64(r, "ms", 0));
    atomic_fetch_add(&blocking_done, 1);
    buf_appendf(http_body(r), "blocking on_loop=%d", on_loop);
    return http_respond_body(r, 200, "text/plain");
}

static int
h_blocking_park(http_request_t *r)
{
    /* not allowed on the pool: http_park refuses, the server answers 500 */
    http_park_t *pk = http_park(r, 0, NULL);
    if (pk != NULL)
        http_park_release(pk);
    return SV_AGAIN;
}

/* ?size= bytes of a pattern (default 300000). */
static int
h_big(http_request_t *r)
{
    uint64_t n = query_u64(r, "size", 300000);
    buf_t *b = http_body(r);
    if (buf_reserve(b, (size_t)n) != SV_OK)
        return SV_NO_MEMORY;
    for (uint64_t i = 0; i < n; i++)
        b->data[i] = (char)('a' + i % 26);
    b->len = (size_t)n;
    b->data[n] = '\0';
    return http_respond_body(r, 200, "application/octet-stream");
}

/* Keeps the loop thread busy for ?ms= (a long iteration: a big body spooled
 * to a slow disk, a heavy handler). */
static int
h_hog(http_request_t *r)
{
    sleep_ms((unsigned)query_u64(r, "ms", 0));
    return http_respond(r, 200, "text/plain", "hogged", 6);
}

static int
h_item(http_request_t *r)
{
    buf_appendf(http_body(r), "item %.*s %s", STR_FMT(http_param(r, "id")),
                r->method == HTTP_DELETE ? "deleted" : "got");
    return http_respond_body(r, 200, "text/plain");
}

static int
h_file(http_request_t *r)
{
    struct stat st;
    str_t which;
    bool small = http_query_get(r, "small", &which) == SV_OK;
    int fd = open(small ? small_file_path : file_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0) {
        if (fd >= 0)
            close(fd);
        return SV_IO;
    }
    return http_respond_file(r, fd, &st, "video/mp4", NULL);
}

/* Echoes what the server made of the request. */
static int
h_info(http_request_t *r)
{
    str_t ua = http_header_get(r, "User-Agent");
    buf_appendf(http_body(r), "method=%.*s path=%.*s query=%.*s v=1.%d ka=%d ua=%.*s id=%s",
                STR_FMT(r->method_name), STR_FMT(r->path), STR_FMT(r->query), r->version_minor,
                r->keep_alive, STR_FMT(ua), r->id);
    return http_respond_body(r, 200, "text/plain");
}

static const http_route_t test_routes[] = {
    {HTTP_GET, "/hello", h_hello, 0, NULL, 0},
    {HTTP_POST | HTTP_PUT, "/echo", h_echo, 0, NULL, 0},
    {HTTP_POST, "/upload", h_echo, HTTP_ROUTE_UPLOAD, NULL, 0},
    {HTTP_GET, "/park", h_park, 0, NULL, 0},
    {HTTP_GET, "/park-timeout", h_park_timeout, 0, NULL, 0},
    {HTTP_GET, "/park-late", h_park_late, 0, NULL, 0},
    {HTTP_GET, "/park-hold", h_park_hold, 0, NULL, 0},
    {HTTP_GET, "/stream", h_stream, 0, NULL, 0},
    {HTTP_GET, "/blocking", h_blocking, HTTP_ROUTE_BLOCKING, NULL, 0},
    {HTTP_GET, "/blocking-park", h_blocking_park, HTTP_ROUTE_BLOCKING, NULL, 0},
    {HTTP_GET, "/big", h_big, 0, NULL, 0},
    {HTTP_GET, "/hog", h_hog, 0, NULL, 0},
    {HTTP_GET | HTTP_DELETE, "/items/{id}", h_item, 0, NULL, 0},
    {HTTP_GET, "/file", h_file, 0, NULL, 0},
    {HTTP_GET | HTTP_POST, "/info/{rest*}", h_info, 0, NULL, 0},
};

/* ---- the server under test ---- */

typedef struct {
    router_t *rt;
    http_server_t *srv;
    int port;
    char spool[512];
    char log_path[512];
    int log_fd;
} server_t;

static server_t S;

static void
default_config(http_server_config_t *c, server_t *s)
{
    memset(c, 0, sizeof(*c));
    c->listen = "127.0.0.1:0";
    c->loops = 2;
    c->blocking_threads = 2;
    c->max_connections = 64;
    c->max_header_bytes = 8192;
    c->max_headers = 50;
    c->max_body_bytes = 64 * 1024;
    c->max_upload_bytes = 16 * 1024 * 1024;
    c->body_memory_bytes = 64 * 1024;
    c->output_max_bytes = 1024 * 1024;
    c->header_timeout_ms = 1000;
    c->body_timeout_ms = 1000;
    c->send_timeout_ms = 1000;
    c->keepalive_timeout_ms = 1500;
    c->keepalive_requests = 1000;
    c->shutdown_timeout_ms = 3000;
    c->cors_allow_origin = "*";
    c->tmp_dir = s->spool;
    c->access_log_fd = s->log_fd;
}

static int
server_start(server_t *s, const char *name, void (*tweak)(http_server_config_t *))
{
    http_server_config_t cfg;
    char err[256];

    snprintf(s->spool, sizeof(s->spool), "%s/%s-spool", tmpdir_path, name);
    snprintf(s->log_path, sizeof(s->log_path), "%s/%s-access.log", tmpdir_path, name);
    mkdir(s->spool, 0700);
    s->log_fd = open(s->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    s->rt = router_create();
    for (size_t i = 0; i < sizeof(test_routes) / sizeof(test_routes[0]); i++)
        router_add(s->rt, &test_routes[i]);
    default_config(&cfg, s);
    if (tweak)
        tweak(&cfg);
    if (http_server_create(&cfg, s->rt, &s->srv, err, sizeof(err)) != SV_OK) {
        printf("# http_server_create: %s\n", err);
        return -1;
    }
    if (http_server_start(s->srv) != SV_OK) {
        printf("# http_server_start failed\n");
        return -1;
    }
    s->port = http_server_port(s->srv);
    return 0;
}

static void
server_stop(server_t *s)
{
    resumer_drain();
    if (s->srv) {
        http_server_shutdown(s->srv);
        http_server_destroy(s->srv);
        s->srv = NULL;
    }
    router_destroy(s->rt);
    s->rt = NULL;
    if (s->log_fd >= 0)
        close(s->log_fd);
    s->log_fd = -1;
}

/* A counter from http_server_metrics(), or -1. */
static long long
server_metric(server_t *s, const char *name)
{
    buf_t b;
    long long v = -1;
    buf_init(&b, 1 << 20);
    if (http_server_metrics(s->srv, &b) == SV_OK) {
        char key[128];
        snprintf(key, sizeof(key), "\n%s ", name);
        const char *p = strstr(b.data, key);
        if (p)
            v = strtoll(p + strlen(key), NULL, 10);
    }
    buf_free(&b);
    return v;
}

/* ---- the client ---- */

typedef struct {
    int fd;
    char *buf;
    size_t len, cap;
} client_t;

typedef struct {
    int status;
    char head[8192];
    char *body;
    size_t body_len;
    bool chunked;
    uint64_t first_body_ms; /* when the first body byte arrived */
    uint64_t done_ms;
} resp_t;

static int
client_open(client_t *c, int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    memset(c, 0, sizeof(*c));
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return -1;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    c->cap = 1 << 16;
    c->buf = malloc(c->cap);
    return 0;
}

static void
client_close(client_t *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    free(c->buf);
    c->buf = NULL;
    c->len = 0;
}

static int
client_send(client_t *c, const void *p, size_t n)
{
    const char *b = p;
    while (n > 0) {
        ssize_t w = send(c->fd, b, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

static int
client_sends(client_t *c, const char *s)
{
    return client_send(c, s, strlen(s));
}

/* Why the last client call failed, for diagnostics. */
static char client_err[256];

/* Reads more into the buffer: > 0 bytes, 0 at EOF, -1 on timeout or error. */
static int
client_fill(client_t *c, int timeout_ms)
{
    struct pollfd pfd = {c->fd, POLLIN, 0};
    if (poll(&pfd, 1, timeout_ms) <= 0) {
        snprintf(client_err, sizeof(client_err), "no bytes within %d ms (%zu buffered)",
                 timeout_ms, c->len);
        return -1;
    }
    if (c->cap - c->len < 65536) {
        c->cap = c->cap * 2 + 65536;
        c->buf = realloc(c->buf, c->cap);
    }
    ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
    if (n <= 0)
        snprintf(client_err, sizeof(client_err), "%s (%zu buffered)",
                 n == 0 ? "closed by the server" : strerror(errno), c->len);
    if (n < 0)
        return errno == ECONNRESET ? 0 : -1;
    c->len += (size_t)n;
    return (int)n;
}

static void
client_consume(client_t *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

/* Waits for at least n buffered bytes. 0 or -1. */
static int
client_need(client_t *c, size_t n, int timeout_ms)
{
    while (c->len < n) {
        if (client_fill(c, timeout_ms) <= 0)
            return -1;
    }
    return 0;
}

/* Index of the end of a line starting at from ("\r\n"), waiting for it. */
static ptrdiff_t
client_line(client_t *c, size_t from, int timeout_ms)
{
    for (;;) {
        for (size_t i = from; i + 1 < c->len; i++) {
            if (c->buf[i] == '\r' && c->buf[i + 1] == '\n')
                return (ptrdiff_t)i;
        }
        if (client_fill(c, timeout_ms) <= 0)
            return -1;
    }
}

static void
resp_free(resp_t *r)
{
    free(r->body);
    r->body = NULL;
}

/* The value of header name in r->head (case-insensitive), or NULL. */
static const char *
resp_header(const resp_t *r, const char *name)
{
    static char val[1024];
    size_t nl = strlen(name);
    const char *p = strstr(r->head, "\r\n");
    while (p && p[2] != '\0') {
        p += 2;
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ')
                v++;
            const char *e = strstr(v, "\r\n");
            size_t n = e ? (size_t)(e - v) : strlen(v);
            if (n >= sizeof(val))
                n = sizeof(val) - 1;
            memcpy(val, v, n);
            val[n] = '\0';
            return val;
        }
        p = strstr(p, "\r\n");
    }
    return NULL;
}

/* Reads one response. no_body: the answer to a HEAD. 0 or -1. */
static int
client_response(client_t *c, resp_t *r, bool no_body, int timeout_ms)
{
    memset(r, 0, sizeof(*r));
    size_t hend = 0;
    for (;;) {
        char *e = c->len >= 4 ? memmem(c->buf, c->len, "\r\n\r\n", 4) : NULL;
        if (e) {
            hend = (size_t)(e - c->buf) + 4;
            break;
        }
        if (client_fill(c, timeout_ms) <= 0)
            return -1;
    }
    size_t hl = hend < sizeof(r->head) ? hend : sizeof(r->head) - 1;
    memcpy(r->head, c->buf, hl);
    r->head[hl] = '\0';
    if (sscanf(r->head, "HTTP/1.%*d %d", &r->status) != 1)
        return -1;
    client_consume(c, hend);

    const char *te = resp_header(r, "Transfer-Encoding");
    const char *cl = resp_header(r, "Content-Length");
    long long len = cl ? strtoll(cl, NULL, 10) : -1;
    r->chunked = te && strcasecmp(te, "chunked") == 0;
    size_t cap = 1024, n = 0;
    r->body = malloc(cap);
    if (no_body || r->status < 200 || r->status == 204 || r->status == 304) {
        r->done_ms = now_ms();
        return 0;
    }
    if (r->chunked) {
        for (;;) {
            ptrdiff_t le = client_line(c, 0, timeout_ms);
            if (le < 0)
                return -1;
            unsigned long long sz = strtoull(c->buf, NULL, 16);
            client_consume(c, (size_t)le + 2);
            if (sz == 0) {
                /* trailers until an empty line */
                for (;;) {
                    le = client_line(c, 0, timeout_ms);
                    if (le < 0)
                        return -1;
                    client_consume(c, (size_t)le + 2);
                    if (le == 0)
                        break;
                }
                break;
            }
            if (client_need(c, sz + 2, timeout_ms) != 0)
                return -1;
            if (r->first_body_ms == 0)
                r->first_body_ms = now_ms();
            if (n + sz + 1 > cap) {
                cap = (n + sz + 1) * 2;
                r->body = realloc(r->body, cap);
            }
            memcpy(r->body + n, c->buf, sz);
            n += sz;
            if (c->buf[sz] != '\r' || c->buf[sz + 1] != '\n')
                return -1;
            client_consume(c, sz + 2);
        }
    } else if (len >= 0) {
        if (client_need(c, (size_t)len, timeout_ms) != 0)
            return -1;
        r->first_body_ms = now_ms();
        r->body = realloc(r->body, (size_t)len + 1);
        memcpy(r->body, c->buf, (size_t)len);
        n = (size_t)len;
        client_consume(c, n);
    } else {
        /* close-delimited */
        int got;
        while ((got = client_fill(c, timeout_ms)) > 0) {
        }
        if (got < 0)
            return -1;
        r->body = realloc(r->body, c->len + 1);
        memcpy(r->body, c->buf, c->len);
        n = c->len;
        client_consume(c, n);
    }
    r->body[n] = '\0';
    r->body_len = n;
    r->done_ms = now_ms();
    return 0;
}

/* Did the server close the connection within timeout_ms (after what it sent)? */
static bool
client_closed(client_t *c, int timeout_ms)
{
    uint64_t end = now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        int left = (int)(end - now_ms());
        if (left < 0)
            left = 0;
        int got = client_fill(c, left);
        if (got == 0)
            return true;
        if (got < 0)
            return false;
        if (now_ms() >= end)
            return false;
    }
}

/* One request on a fresh connection; the response in r. 0 or -1. */
static int
roundtrip(const char *req, resp_t *r)
{
    client_t c;
    memset(r, 0, sizeof(*r));
    if (client_open(&c, S.port) != 0)
        return -1;
    int rc = client_sends(&c, req);
    if (rc == 0)
        rc = client_response(&c, r, strncmp(req, "HEAD ", 5) == 0, 3000);
    client_close(&c);
    return rc;
}

/* ---- tests: basics ---- */

TEST(simple_get_has_status_date_length_and_request_id)
{
    resp_t r;
    CHECK_INT(roundtrip("GET /hello?n=1 HTTP/1.1\r\nHost: t\r\n\r\n", &r), 0);
    CHECK_INT(r.status, 200);
    CHECK_STR(r.body, "hello 1");
    CHECK_STR(resp_header(&r, "Content-Length"), "7");
    CHECK_STR(resp_header(&r, "Content-Type"), "text/plain");
    CHECK(resp_header(&r, "Date") != NULL);
    CHECK(resp_header(&r, "X-Request-Id") != NULL);
    CHECK(strncmp(r.head, "HTTP/1.1 200 OK\r\n", 17) == 0);
    resp_free(&r);
}

TEST(unknown_path_404_and_wrong_method_405_with_allow)
{
    resp_t r;
    CHECK_INT(roundtrip("GET /nope HTTP/1.1\r\nHost: t\r\n\r\n", &r), 0);
    CHECK_INT(r.status, 404);
    CHECK(strstr(r.body, "\"code\":\"not_found\"") != NULL);
    resp_free(&r);
    CHECK_INT(roundtrip("POST /items/3 HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n", &r),
              0);
    CHECK_INT(r.status, 405);
    CHECK_STR(resp_header(&r, "Allow"), "GET, HEAD, DELETE");
    resp_free(&r);
    CHECK_INT(roundtrip("DELETE /items/3 HTTP/1.1\r\nHost: t\r\n\r\n", &r), 0);
    CHECK_INT(r.status, 200);
    CHECK_STR(r.body, "item 3 deleted");
    resp_free(&r);
}

TEST(head_has_length_and_no_body)
{
    client_t c;
    resp_t r;
    CHECK_INT(client_open(&c, S.port), 0);
    CHECK_INT(client_sends(&c, "HEAD /hello?n=abc HTTP/1.1\r\nHost: t\r\n\r\n"
                               "GET /hello?n=x HTTP/1.1\r\nHost: t\r\n\r\n"),
              0);
    CHECK_INT(client_response(&c, &r, true, 2000), 0);
    CHECK_INT(r.status, 200);
    CHECK_STR(resp_header(&r, "Content-Length"), "9");
    resp_free(&r);
    /* the next bytes on the wire are the second response, not a body */
    CHECK_INT(client_response(&c, &r, false, 2000), 0);
    CHECK_INT(r.status, 200);
    CHECK_STR(r.body, "hello x");
    resp_free(&r);
    client_close(&c);
}

TEST(request_target_is_decoded_and_normalised)
{
    resp_t r;
    CHECK_INT(roundtrip("GET /info/a/./b/../c%20d?x=%41 HTTP/1.1\r\nHost: t\r\n"
                        "User-Agent: ut\r\n\r\n",
                        &r),
              0);
    CHECK_INT(r.status, 200);
    CHECK(strstr(r.body, "path=/info/a/c d ") != NULL);
    CHECK(strstr(r.body, "query=x=%41 ") != NULL);
    resp_free(&r);
    CHECK_INT(roundtrip("GET /%2e%2e/etc/passwd HTTP/1.1\r\nHost: t\r\n\r\n", &r), 0);
    CHECK_INT(r.status, 400);
    resp_free(&r);
    CHECK_INT(roundtrip("GET /info/%00 HTTP/1.1\r\nHost: t\r\n\r\n", &r), 0);
    CHECK_INT(r.status, 400);
    resp_free(&r);
    /* absolute-form target */
    CHECK_INT(roundtrip("GET http://t/info/abs?q HTTP/1.1\r\nHost: t\r\n\r\n", &r), 0);
    CHECK_INT(r.status, 200);
    CHECK(strstr(r.body, "path=/info/abs ") != NULL);
    resp_free(&r);
}

TEST(client_request_id_echoed_when_valid_only)
{
    resp_t r;
    CHECK_INT(
        roundtrip("GET /hello HTTP/1.1\r\nHost: t\r\nX-Request-Id: abc-123_X.y\r\n\r\n", &r),
        0);
    CHECK_STR(resp_header(&r, "X-Request-Id"), "abc-123_X.y");
    resp_free(&r);
    CHECK_INT(
        roundtrip("GET /hello HTTP/1.1\r\nHost: t\r\nX-Request-Id: bad id<script>\r\n\r\n", &r),
        0);
    const char *id = resp_header(&r, "X-Request-Id");
    CHECK(id != NULL && strcmp(id, "bad id<script>") != 0 && strlen(id) > 0);
    resp_free(&r);
}

TEST(missing_or_duplicate_host_is_400_for_http11)
{
    resp_t r;
    CHECK_INT(roundtrip("GET /hello HTTP/1.1\r\n\r\n", &r), 0);
    CHECK_INT(r.status, 400);
    resp_free(&r);
    CHECK_INT(roundtrip("GET /hello HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", &r), 0);
    CHECK_INT(r.status, 400);
    resp_free(&r);
    CHECK_INT(roundtrip("GET /hello HTTP/1.0\r\n\r\n", &r), 0);
    CHECK_INT(r.status, 200);
    resp_free(&r);
}

/* ---- tests: connections ---- */

TEST(keep_alive_serves_several_requests_on_one_connection)
{
    client_t c;
    resp_t r;
    long long before = server_metric(&S, "streamverse_http_connections_accepted_total");
    CHECK_INT(client_open(&c, S.port), 0);
    for (int i = 0; i < 5; i++) {
        char req[128], want[32];
        snprintf(req, sizeof(req), "GET /hello?n=%d HTTP/1.1\r\nHost: t\r\n\r\n", i);
        snprintf(want, sizeof(want), "hello %d", i);
        CHECK_INT(client_sends(&c, req), 0);
        CHECK_INT(client_response(&c, &r, false, 2000), 0);
        CHECK_STR(r.body, want);
        CHECK(resp_header(&r, "Connection") == NULL);
        resp_free(&r);
        sleep_ms(20);
    }
    client_close(&c);
    sleep_ms(50);
    CHECK_INT(server_metric(&S, "streamverse_http_connections_accepted_total") - before, 1);
}

TEST(connection_close_is_honoured)
{
    client_t c;
    resp_t r;
    CHECK_INT(client_open(&c, S.port), 0);
    CHECK_INT(client_sends(&c, "GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"),
              0);
    CHECK_INT(client_response(&c, &r, false, 2000), 0);
    CHECK_INT(r.status, 200);
    CHECK_STR(resp_header(&r, "Connection"), "close");
    CHECK(client_closed(&c, 1000));
    resp_free(&r);
    client_close(&c);
    /* HTTP/1.0 without keep-alive closes; with it, stays open */
    CHECK_INT(client_open(&c, S.port), 0);
    CHECK_INT(client_sends(&c, "GET /hello HTTP/1.0\r\n\r\n"), 0);
    CHECK_INT(client_response(&c, &r, false, 2000), 0);
    CHECK(client_closed(&c, 1000));
    resp_free(&r);
    client_close(&c);
    CHECK_INT(client_open(&c, S.port), 0);
    CHECK_INT(client_sends(&c, "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"), 0);
    CHECK_INT(client_response(&c, &r, false, 2000), 0);
    CHECK_STR(resp_header(&r, "Connection"), "keep-alive");
    resp_free(&r);
    CHECK_INT(client_sends(&c, "GET /hello?n=2 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"), 0);
    CHECK_INT(client_response(&c, &r, false, 2000), 0);
    CHECK_STR(r.body, "hello 2");
    resp_free(&r);
    client_close(&c);
}

TEST(pipelined_requests_answered_in_order)
{
    client_t c;
    resp_t r;
    char req[8192];
    size_t n = 0;
    CHECK_INT(client_open(&c, S.port), 0);
    /* GETs, a body, a big response, a blocking route and a parked request in
     * one write: every answer must come back in request order */
    n += (size_t)snprintf(req + n, sizeof(req) - n,
                          "GET /hello?n=0 HTTP/1.1\r\nHost: t\r\n\r\n");
    n += (size_t)snprintf(req + n, sizeof(req) - n,
                          "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc");
    n += (size_t)snprintf(req + n, sizeof(req) - n,
                          "GET /park?ms=150 HTTP/1.1\r\nHost: t\r\n\r\n");
    n += (size_t)snprintf(req + n, sizeof(req) - n,
                          "GET /hello?n=3 HTTP/1.1\r\nHost: t\r\n\r\n");
    n += (size_t)snprintf(req + n, sizeof(req) - n,
                          "GET /big?size=200000 HTTP/1.1\r\nHost: t\r\n\r\n");
    n += (size_t)snprintf(req + n, sizeof(req) - n,
                          "GET /blocking?ms=30 HTTP/1.1\r\nHost: t\r\n\r\n");
    n += (size_t)snprintf(req + n, sizeof(req) - n,
                          "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                          "2\r\nxy\r\n0\r\n\r\n");
    n += (size_t)snprintf(req + n, sizeof(req) - n,
                          "HEAD /hello?n=7 HTTP/1.1\r\nHost: t\r\n\r\n");
    n += (size_t)snprintf(req + n, sizeof(req) - n,
                          "GET /hello?n=8 HTTP/1.1\r\nHost: t\r\n\r\n");
    CHECK_INT(client_send(&c, req, n), 0);

    CHECK_INT(client_response(&c, &r, false, 3000), 0);
    CHECK_STR(r.body, "hello 0");
    resp_free(&r);
    CHECK_INT(client_response(&c, &r, false, 3000), 0);
    CHECK(strncmp(r.body, "size=3 ", 7) == 0);
    resp_free(&r);
    CHECK_INT(client_response(&c, &r, false, 3000), 0);
    CHECK_STR(r.body, "resumed after wait");
    resp_free(&r);
    CHECK_INT(client_response(&c, &r, false, 3000), 0);
    CHECK_STR(r.body, "hello 3");
    resp_free(&r);
    CHECK_INT(client_response(&c, &r, false, 3000), 0);
    CHECK_INT(r.body_len, 200000);
    CHECK(r.body_len == 200000 && r.body[199999] == (char)('a' + 199999 % 26));
    resp_free(&r);
    CHECK_INT(client_response(&c, &r, false, 3000), 0);
    CHECK_STR(r.body, "blocking on_loop=0");
    resp_free(&r);
    CHECK_INT(client_response(&c, &r, false, 3000), 0);
    CHECK(strncmp(r.body, "size=2 ", 7) == 0);
    resp_free(&r);
    CHECK_INT(client_response(&c, &r, true, 3000), 0);
    CHECK_STR(resp_header(&r, "Content-Length"), "7");
    resp_free(&r);
    CHECK_INT(client_response(&c, &r, false, 3000), 0);
    CHECK_STR(r.body, "hello 8");
    resp_free(&r);
    client_close(&c);
}

TEST(pipelined_requests_byte_by_byte)
{
    client_t c;
    resp_t r;
    static const char req[] =
        "GET /hello?n=a HTTP/1.1\r\nHost: t\r\n\r\n"
        "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
        "3\r\nabc\r\n0\r\n\r\n"
        "GET /hello?n=b HTTP/1.1\r\nHost: t\r\n\r\n";
    CHECK_INT(client_open(&c, S.port), 0);
    for (size_t i = 0; i < sizeof(req) - 1; i++) {
        CHECK_INT(client_send(&c, req + i, 1), 0);
        if (i % 16 == 0)
            sleep_ms(1);
    }
    CHECK_INT(client_response(&c, &r, false, 2000), 0);
    CHECK_STR(r.body, "hello a");
    resp_free(&r);
    CHECK_INT(client_response(&c, &r, false, 2000), 0);
    CHECK(strncmp(r.body, "size=3 ", 7) == 0);
    resp_free(&r);
    CHECK_INT(client_response(&c, &r, false, 2000), 0);
    CHECK_STR(r.body, "hello b");
    resp_free(&r);
    client_close(&c);
}

TEST(header_timeout_answers_408_and_closes)
{
    client_t c;
    resp_t r;
    CHECK_INT(client_open(&c, S.port), 0);
    uint64_t t0 = now_ms();
    CHECK_INT(client_sends(&c, "GET /hello HTTP/1.1\r\nHost:"), 0);
    CHECK_INT(client_response(&c, &r, false, 3000), 0);
    uint64_t dt = now_ms() - t0;
    CHECK_INT(r.status, 408);
    CHECK_MS(dt, 900, 2500);
    CHECK(client_closed(&c, 2500));
    resp_free(&r);
    client_close(&c);
}

TEST(idle_keep_alive_connection_closed_after_timeout)
{
    client_t c;
    resp_t r;
    CHECK_INT(client_open(&c, S.port), 0);
    CHECK_INT(client_sends(&c, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
    CHECK_INT(client_response(&c, &r, false, 2000), 0);
    resp_free(&r);
    uint64_t t0 = now_ms();
    CHECK(client_closed(&c, 3500));
    uint64_t dt = now_ms() - t0;
    CHECK_MS(dt, 1300, 3000); /* keep-alive timeout 1500 ms */
    CHECK_INT(c.len, 0);      /* closed without a response */
    client_close(&c);
}

TEST(keep_alive_deadline_counts_from_the_response_not_a_stale_loop_time)
{
    /* After an iteration that took longer than the keep-alive timeout, the
     * idle deadline must still be keepalive_timeout after the response, not
     * after the iteration began (loop_now() is cached per iteration). */
    client_t c;
    resp_t r;
    CHECK_INT(client_open(&c, S.port), 0);
    CHECK_INT(client_sends(&c, "GET /hog?ms=1700 HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
    CHECK_INT(client_response(&c, &r, false, 4000), 0);
    CHECK_STR(r.body, "hogged");
    resp_free(&r);
    sleep_ms(1200); /* idle, but within the 1500 ms keep-alive timeout */
    CHECK_INT(client_sends(&c, "GET /hello?n=k HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
    int rc = client_response(&c, &r, false, 2000);
    if (rc != 0)
        printf("# second request: %s\n", client_err);
    CHECK_INT(rc, 0);
    CHECK_STR(r.body, "hello k");
    resp_free(&r);
    client_close(&c);
}

TEST(bad_request_gets_400_closes_and_server_goes_on)
{
    client_t c;
    resp_t r;
    CHECK_INT(client_open(&c, S.port), 0);
    CHECK_INT(client_sends(&c, "GET / HTTP/1.1\r\nBad Header: x\r\n\r\nGET /hello HTTP/1.1\r\n"
                               "Host: t\r\n\r\n"),
              0);
    CHECK_INT(client_response(&c, &r, false, 2000), 0);
    CHECK_INT(r.status, 400);
    CHECK_STR(resp_header(&r, "Connection"), "close");
    CHECK(client_closed(&c, 2500));
    resp_free(&r);
    client_close(&c);
    CHECK_INT(roundtrip("GET /hello?n=after HTTP/1.1\r\nHost: t\r\n\r\n", &r), 0);
    CHECK_STR(r.body, "hello after");
    resp_free(&r);
}

/* ---- tests: bodies ---- */

static char *
pattern(size_t n, unsigned seed)
{
    char *p = malloc(n + 1);
    uint64_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        p[i] = (char)(x >> 56);
    }
    p[n] = '\0';
    return p;
}

static bool
echo_matches(const resp_t *r, const char *data, size_t n, int spooled)
{
    char want[160];
    if (r->status == 0)
        printf("# no response: %s\n", client_err);
    snprintf(want, sizeof(want), "size=%zu hash=%016llx spooled=%d declared=%zu", n,
             (unsigned long long)fnv1a(FNV_INIT, data, n), spooled, n);
    if (r->body == NULL || strcmp(r->body, want) != 0) {
        printf("# got \"%s\", expected \"%s\"\n", r->body ? r->body : "(null)", want);
        return false;
    }
    return true;
}

TEST(content_length_body_received_whole)
{
    client_t c;
    resp_t r;
    char head[256];
    size_t n = 40000;
    char *data = pattern(n, 1);
    CHECK_INT(client_open(&c, S.port), 0);
    snprintf(head, sizeof(head),
             "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: %zu\r\n\r\n", n);
    CHECK_INT(client_sends(&c, head), 0);
    /* in uneven pieces with pauses */
    CHECK_INT(client_send(&c, data, 1), 0);
    sleep_ms(20);
    CHECK_INT(client_send(&c, data + 1, 9999), 0);
    sleep_ms(20);
    CHECK_INT(client_send(&c, data + 10000, n - 10000), 0);
    CHECK_INT(client_response(&c, &r, false, 2000), 0);
    CHECK_INT(r.status, 200);
    CHECK(echo_matches(&r, data, n, 0));
    resp_free(&r);
    /* an empty body on the same connection */
    CHECK_INT(client_sends(&c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n"),
              0);
    CHECK_INT(client_response(&c, &r, false, 2000), 0);
    CHECK(echo_matches(&r, "", 0, 0));
    resp_free(&r);
    client_close(&c);
    free(data);
}

TEST(chunked_body_received_whole)
{
    client_t c;
    resp_t r;
    size_t n = 30000;
    char *data = pattern(n, 2);
    CHECK_INT(client_open(&c, S.port), 0);
    CHECK_INT(client_sends(&c, "PUT /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
                               "\r\n"),
              0);
    size_t off = 0, sizes[] = {1, 7, 4096, 0x1000, 10000};
    for (size_t i = 0; off < n; i++) {
        size_t k = sizes[i % 5];
        if (k > n - off)
            k = n - off;
        char line[64];
        snprintf(line, sizeof(line), "%zx%s\r\n", k, i == 2 ? ";ext=1" : "");
        CHECK_INT(client_sends(&c, line), 0);
        CHECK_INT(client_send(&c, data + off, k), 0);
        CHECK_INT(client_sends(&c, "\r\n"), 0);
        off += k;
        if (i % 3 == 0)
            sleep_ms(5);
    }
    CHECK_INT(client_sends(&c, "0\r\nX-Trailer: yes\r\n\r\n"), 0);
    CHECK_INT(client_response(&c, &r, false, 2000), 0);
    CHECK_INT(r.status, 200);
    CHECK(echo_matches(&r, data, n, 0));
    resp_free(&r);
    /* the connection goes on after a chunked body with trailers */
    CHECK_INT(client_sends(&c, "GET /hello?n=next HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
    CHECK_INT(client_response(&c, &r, false, 2000), 0);
    CHECK_STR(r.body, "hello next");
    resp_free(&r);
    client_close(&c);
    free(data);
}

TEST(framing_conflicts_are_refused)
{
    resp_t r;
    CHECK_INT(roundtrip("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n"
                        "Content-Length: 4\r\n\r\nabcd",
                        &r),
              0);
    CHECK_INT(r.status, 400);
    resp_free(&r);
    CHECK_INT(roundtrip("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n"
                        "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
                        &r),
              0);
    CHECK_INT(r.status, 400);
    resp_free(&r);
    CHECK_INT(
        roundtrip("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n", &r), 0);
    CHECK_INT(r.status, 501);
    resp_free(&r);
    CHECK_INT(roundtrip("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
                        "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                        &r),
              0);
    CHECK_INT(r.status, 400);
    resp_free(&r);
    CHECK_INT(roundtrip("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n", &r), 0);
    CHECK_INT(r.status, 400);
    resp_free(&r);
    CHECK_INT(roundtrip("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1,1\r\n\r\na", &r),
              0);
    CHECK_INT(r.status, 400);
    resp_free(&r);
    CHECK_INT(roundtrip("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "zz\r\n",
                        &r),
              0);
    CHECK_INT(r.status, 400);
    resp_free(&r);
    CHECK_INT(
        roundtrip("POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", &r), 0);
    CHECK_INT(r.status, 400);
    resp_free(&r);
    /* the same value twice is one Content-Length */
    CHECK_INT(roundtrip("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n"
                        "Content-Length: 2\r\n\r\nab",
                        &r),
              0);
    CHECK_INT(r.status, 200);
    resp_free(&r);
}

TEST(body_over_limit_is_413_and_connection_closes)
{
    client_t c;
    resp_t r;
    char head[256];
    /* declared too large: refused before reading */
    CHECK_INT(client_open(&c, S.port), 0);
    snprintf(head, sizeof(head), "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n",
             64 * 1024 + 1);
    CHECK_INT(client_sends(&c, head), 0);
    CHECK_INT(client_response(&c, &r, false, 2000), 0);
    CHECK_INT(r.status, 413);
    CHECK_STR(resp_header(&r, "Connection"), "close");
    CHECK(client_closed(&c, 2500));
    resp_free(&r);
    client_close(&c);
    /* chunked, found too large while reading */
    char *data = pattern(70000, 3);
    CHECK_INT(client_open(&c, S.port), 0);
    CHECK_INT(client_sends(&c,
                           "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
                           "\r\n11170\r\n"),
              0);
    client_send(&c, data, 70000); /* the server may stop reading */
    CHECK_INT(client_response(&c, &r, false, 2000), 0);
    CHECK_INT(r.status, 413);
    CHECK(client_closed(&c, 2500));
    resp_free(&r);
    client_close(&c);
    free(data);
    /* a body for a route that does not exist is not read: 404 and close */
    CHECK_INT(client_open(&c, S.port), 0);
    CHECK_INT(client_sends(&c, "POST /nope HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\n"),
              0);
    CHECK_INT(client_response(&c, &r, false, 2000), 0);
    CHECK_INT(r.status, 404);
    CHECK_STR(resp_header(&r, "Connection"), "close");
    resp_free(&r);
    client_close(&c);
}

TEST(expect_100_continue_before_body)
{
    client_t c;
    resp_t r;
    CHECK_INT(client_open(&c, S.port), 0);
    CHECK_INT(client_sends(&c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                               "Expect: 100-continue\r\n\r\n"),
              0);
    CHECK_INT(client_response(&c, &r, false, 2000), 0);
    CHECK_INT(r.status, 100);
    resp_free(&r);
    CHECK_INT(client_sends(&c, "hello"), 0);
    CHECK_INT(client_response(&c, &r, false, 2000), 0);
    CHECK_INT(r.status, 200);
    CHECK(echo_matches(&r, "hello", 5, 0));
    resp_free(&r);
    client_close(&c);

    /* too large: the final answer instead of 100 Continue */
    CHECK_INT(client_open(&c, S.port), 0);
    CHECK_INT(client_sends(&c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 9999999\r\n"
                               "Expect: 100-continue\r\n\r\n"),
              0);
    CHECK_INT(client_response(&c, &r, false, 2000), 0);
    CHECK_INT(r.status, 413);
    resp_free(&r);
    client_close(&c);

    /* an unknown expectation: 417 */
    CHECK_INT(roundtrip("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n"
                        "Expect: something-else\r\n\r\nx",
                        &r),
              0);
    CHECK_INT(r.status, 417);
    resp_free(&r);
}

TEST(upload_5mb_chunked_spooled_to_disk_and_removed)
{
    client_t c;
    resp_t r;
    size_t n = 5 * 1024 * 1024;
    char *data = pattern(n, 4);
    last_spool_path[0] = '\0';
    CHECK_INT(client_open(&c, S.port), 0);
    CHECK_INT(client_sends(&c,
                           "POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
                           "\r\n"),
              0);
    for (size_t off = 0; off < n; off += 65536) {
        char line[32];
        size_t k = n - off < 65536 ? n - off : 65536;
        snprintf(line, sizeof(line), "%zx\r\n", k);
        CHECK_INT(client_sends(&c, line), 0);
        CHECK_INT(client_send(&c, data + off, k), 0);
        CHECK_INT(client_sends(&c, "\r\n"), 0);
    }
    CHECK_INT(client_sends(&c, "0\r\n\r\n"), 0);
    CHECK_INT(client_response(&c, &r, false, 5000), 0);
    CHECK_INT(r.status, 200);
    CHECK(echo_matches(&r, data, n, 1));
    resp_free(&r);
    /* the spool file is in tmp_dir while the handler runs, gone afterwards */
    pthread_mutex_lock(&spool_mu);
    char path[1024];
    snprintf(path, sizeof(path), "%s", last_spool_path);
    pthread_mutex_unlock(&spool_mu);
    CHECK(strncmp(path, S.spool, strlen(S.spool)) == 0);
    /* removed when the request is freed, just after its last byte is sent */
    for (int i = 0; i < 100 && access(path, F_OK) == 0; i++)
        sleep_ms(10);
    CHECK(access(path, F_OK) != 0);
    CHECK_INT(count_dir_entries(S.spool), 0);

    /* the same with Content-Length on the same connection */
    char head[128];
    snprintf(head, sizeof(head),
             "POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: %zu\r\n\r\n", n);
    uint64_t t0 = now_ms();
    CHECK_INT(client_sends(&c, head), 0);
    CHECK_INT(client_send(&c, data, n), 0);
    CHECK_INT(client_response(&c, &r, false, 5000), 0);
    CHECK(echo_matches(&r, data, n, 1));
    resp_free(&r);
    for (int i = 0; i < 100 && count_dir_entries(S.spool) != 0; i++)
        sleep_ms(10);
    CHECK_INT(count_dir_entries(S.spool), 0);
    if (now_ms() - t0 > 1000)
        printf("# the 5 MB upload took %llu ms\n", (unsigned long long)(now_ms() - t0));

    /* a small upload stays in memory */
    CHECK_INT(
        client_sends(&c, "POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nabcd"),
        0);
    CHECK_INT(client_response(&c, &r, false, 2000), 0);
    CHECK(echo_matches(&r, "abcd", 4, 0));
    resp_free(&r);
    client_close(&c);
    free(data);
}

TEST(aborted_upload_leaves_no_temp_file)
{
    client_t c;
    size_t n = 1024 * 1024;
    char *data = pattern(n, 5);
    char head[128];
    CHECK_INT(client_open(&c, S.port), 0);
    snprintf(head, sizeof(head),
             "POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: %zu\r\n\r\n", 2 * n);
    CHECK_INT(client_sends(&c, head), 0);
    CHECK_INT(client_send(&c, data, n), 0);
    /* wait until the server has spooled part of it */
    for (int i = 0; i < 100 && count_dir_entries(S.spool) == 0; i++)
        sleep_ms(10);
    CHECK_INT(count_dir_entries(S.spool), 1);
    client_close(&c);
    for (int i = 0; i < 100 && count_dir_entries(S.spool) != 0; i++)
        sleep_ms(10);
    CHECK_INT(count_dir_entries(S.spool), 0);
    free(data);
}

/* ---- tests: parking and streaming ---- */

TEST(park_resumed_from_another_thread_after_100ms)
{
    client_t c;
    resp_t r;
    CHECK_INT(client_open(&c, S.port), 0);
    uint64_t t0 = now_ms();
    CHECK_INT(client_sends(&c, "GET /park HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
    CHECK_INT(client_response(&c, &r, false, 2000), 0);
    uint64_t dt = now_ms() - t0;
    CHECK_INT(r.status, 200);
    CHECK_STR(r.body, "resumed after wait");
    CHECK_MS(dt, 95, 1000);
    resp_free(&r);
    /* the connection is reusable afterwards */
    CHECK_INT(client_sends(&c, "GET /hello?n=p HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
    CHECK_INT(client_response(&c, &r, false, 2000), 0);
    CHECK_STR(r.body, "hello p");
    resp_free(&r);
    client_close(&c);
}

TEST(many_parked_requests_all_resume)
{
    enum { N = 40 };
    client_t c[N];
    resp_t r;
    int ok = 0;
    for (int i = 0; i < N; i++) {
        CHECK_INT(client_open(&c[i], S.port), 0);
        CHECK_INT(client_sends(&c[i], "GET /park?ms=600 HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
    }
    for (int i = 0; i < 50 && server_metric(&S, "streamverse_http_parked_requests") != N; i++)
        sleep_ms(10);
    CHECK_INT(server_metric(&S, "streamverse_http_parked_requests"), N);
    for (int i = 0; i < N; i++) {
        if (client_response(&c[i], &r, false, 3000) == 0 && r.status == 200)
            ok++;
        resp_free(&r);
        client_close(&c[i]);
    }
    CHECK_INT(ok, N);
    CHECK_INT(server_metric(&S, "streamverse_http_parked_requests"), 0);
}

TEST(park_timeout_answers_from_on_timeout)
{
    resp_t r;
    uint64_t t0 = now_ms();
    CHECK_INT(roundtrip("GET /park-timeout HTTP/1.1\r\nHost: t\r\n\r\n", &r), 0);
    uint64_t dt = now_ms() - t0;
    CHECK_INT(r.status, 503);
    CHECK_STR(r.body, "park timed out");
    CHECK_MS(dt, 95, 1000);
    resp_free(&r);
}

TEST(resume_after_timeout_finds_no_request)
{
    resp_t r;
    int before = atomic_load(&late_null);
    CHECK_INT(roundtrip("GET /park-late HTTP/1.1\r\nHost: t\r\n\r\n", &r), 0);
    CHECK_INT(r.status, 503);
    resp_free(&r);
    for (int i = 0; i < 100 && atomic_load(&late_null) == before; i++)
        sleep_ms(10);
    CHECK_INT(atomic_load(&late_null) - before, 1);
}

TEST(client_disconnect_while_parked_is_safe)
{
    client_t c;
    int before = atomic_load(&resumed_null);
    atomic_store(&held_pk, NULL);
    CHECK_INT(client_open(&c, S.port), 0);
    CHECK_INT(client_sends(&c, "GET /park-hold HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
    for (int i = 0; i < 200 && atomic_load(&held_pk) == NULL; i++)
        sleep_ms(5);
    http_park_t *pk = atomic_load(&held_pk);
    CHECK(pk != NULL);
    CHECK_INT(server_metric(&S, "streamverse_http_parked_requests"), 1);
    client_close(&c);
    /* the server drops the request when the client leaves ... */
    for (int i = 0; i < 100 && server_metric(&S, "streamverse_http_parked_requests") != 0; i++)
        sleep_ms(10);
    CHECK_INT(server_metric(&S, "streamverse_http_parked_requests"), 0);
    /* ... and the holder's resume then runs with r == NULL */
    if (pk)
        CHECK_INT(http_park_resume(pk, park_done, "never"), SV_OK);
    for (int i = 0; i < 100 && atomic_load(&resumed_null) == before; i++)
        sleep_ms(10);
    CHECK_INT(atomic_load(&resumed_null) - before, 1);

    /* a stream whose client leaves: the producer is told, nothing crashes */
    int sb = atomic_load(&stream_abandoned);
    CHECK_INT(client_open(&c, S.port), 0);
    CHECK_INT(client_sends(&c, "GET /stream?n=50&ms=20 HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
    sleep_ms(120);
    client_close(&c);
    for (int i = 0; i < 100 && atomic_load(&stream_abandoned) == sb; i++)
        sleep_ms(10);
    CHECK_INT(atomic_load(&stream_abandoned) - sb, 1);
    /* the server is still fine */
    resp_t r;
    CHECK_INT(roundtrip("GET /hello?n=alive HTTP/1.1\r\nHost: t\r\n\r\n", &r), 0);
    CHECK_STR(r.body, "hello alive");
    resp_free(&r);
}

TEST(stream_chunks_leave_as_they_are_written)
{
    client_t c;
    resp_t r;
    CHECK_INT(client_open(&c, S.port), 0);
    uint64_t t0 = now_ms();
    CHECK_INT(client_sends(&c, "GET /stream?n=5&ms=150 HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
    /* the head and the first chunk must arrive long before the stream ends
     * (live streaming); the whole takes ~750 ms */
    ptrdiff_t e = -1;
    while (e < 0 && now_ms() - t0 < 3000) {
        char *p = c.len ? memmem(c.buf, c.len, "chunk-0", 7) : NULL;
        if (p) {
            e = p - c.buf;
            break;
        }
        if (client_fill(&c, 3000) <= 0)
            break;
    }
    uint64_t first = now_ms() - t0;
    CHECK(e >= 0);
    if (first >= 450)
        printf("# first chunk after %llu ms: held back until the stream ended\n",
               (unsigned long long)first);
    CHECK(first < 450);
    CHECK_INT(client_response(&c, &r, false, 3000), 0);
    CHECK_INT(r.status, 200);
    CHECK(r.chunked);
    CHECK_STR(r.body, "chunk-0\nchunk-1\nchunk-2\nchunk-3\nchunk-4\n");
    resp_free(&r);
    /* keep-alive after a chunked stream */
    CHECK_INT(client_sends(&c, "GET /hello?n=s HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
    CHECK_INT(client_response(&c, &r, false, 2000), 0);
    CHECK_STR(r.body, "hello s");
    resp_free(&r);
    client_close(&c);
}

TEST(stream_to_http10_is_close_delimited)
{
    client_t c;
    resp_t r;
    CHECK_INT(client_open(&c, S.port), 0);
    CHECK_INT(client_sends(&c, "GET /stream?n=3&ms=20 HTTP/1.0\r\n\r\n"), 0);
    CHECK_INT(client_response(&c, &r, false, 3000), 0);
    CHECK_INT(r.status, 200);
    CHECK(resp_header(&r, "Transfer-Encoding") == NULL);
    CHECK(resp_header(&r, "Content-Length") == NULL);
    CHECK_STR(r.body, "chunk-0\nchunk-1\nchunk-2\n");
    resp_free(&r);
    client_close(&c);
}

/* ---- tests: blocking pool ---- */

TEST(blocking_route_runs_off_the_loop)
{
    resp_t r;
    CHECK_INT(roundtrip("GET /blocking?ms=50 HTTP/1.1\r\nHost: t\r\n\r\n", &r), 0);
    CHECK_INT(r.status, 200);
    CHECK_STR(r.body, "blocking on_loop=0");
    resp_free(&r);
    /* a blocking handler that tries to park gets a 500, not a hang */
    CHECK_INT(roundtrip("GET /blocking-park HTTP/1.1\r\nHost: t\r\n\r\n", &r), 0);
    CHECK_INT(r.status, 500);
    resp_free(&r);
}

TEST(blocking_route_does_not_stall_the_loop)
{
    client_t slow;
    resp_t r;
    CHECK_INT(client_open(&slow, S.port), 0);
    CHECK_INT(client_sends(&slow, "GET /blocking?ms=600 HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
    sleep_ms(30);
    /* both loops keep serving while a pool thread sleeps in a handler */
    for (int i = 0; i < 4; i++) {
        CHECK_INT(roundtrip("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n", &r), 0);
        CHECK_INT(r.status, 200);
        resp_free(&r);
    }
    struct pollfd pfd = {slow.fd, POLLIN, 0};
    CHECK_INT(poll(&pfd, 1, 0), 0); /* the blocking answer is not there yet */
    CHECK_INT(client_response(&slow, &r, false, 2000), 0);
    CHECK_STR(r.body, "blocking on_loop=0");
    resp_free(&r);
    client_close(&slow);
}

TEST(client_disconnect_during_blocking_handler_is_safe)
{
    client_t c;
    int before = atomic_load(&blocking_done);
    CHECK_INT(client_open(&c, S.port), 0);
    CHECK_INT(client_sends(&c, "GET /blocking?ms=200 HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
    sleep_ms(50);
    client_close(&c);
    for (int i = 0; i < 100 && atomic_load(&blocking_done) == before; i++)
        sleep_ms(10);
    CHECK_INT(atomic_load(&blocking_done) - before, 1);
    sleep_ms(50);
    resp_t r;
    CHECK_INT(roundtrip("GET /hello?n=ok HTTP/1.1\r\nHost: t\r\n\r\n", &r), 0);
    CHECK_STR(r.body, "hello ok");
    resp_free(&r);
    for (int i = 0; i < 100 && server_metric(&S, "streamverse_http_connections_open") != 0; i++)
        sleep_ms(10);
    CHECK_INT(server_metric(&S, "streamverse_http_connections_open"), 0);
}

/* ---- tests: files ---- */

TEST(file_response_sendfile_full_and_range)
{
    resp_t r;
    char *data = pattern((size_t)file_size, 6);
    CHECK_INT(roundtrip("GET /file HTTP/1.1\r\nHost: t\r\n\r\n", &r), 0);
    CHECK_INT(r.status, 200);
    CHECK_INT(r.body_len, file_size);
    CHECK(r.body_len == file_size && memcmp(r.body, data, (size_t)file_size) == 0);
    CHECK_STR(resp_header(&r, "Content-Type"), "video/mp4");
    CHECK_STR(resp_header(&r, "Accept-Ranges"), "bytes");
    CHECK(resp_header(&r, "ETag") != NULL);
    resp_free(&r);
    CHECK_INT(
        roundtrip("GET /file HTTP/1.1\r\nHost: t\r\nRange: bytes=100000-100009\r\n\r\n", &r),
        0);
    CHECK_INT(r.status, 206);
    CHECK_INT(r.body_len, 10);
    CHECK(r.body_len == 10 && memcmp(r.body, data + 100000, 10) == 0);
    char want[64];
    snprintf(want, sizeof(want), "bytes 100000-100009/%llu", (unsigned long long)file_size);
    CHECK_STR(resp_header(&r, "Content-Range"), want);
    resp_free(&r);
    free(data);
}

TEST(small_responses_leave_in_one_segment)
{
    /* head and body in one write: the first read holds the whole answer */
    static const char *const reqs[] = {
        "GET /hello?n=one HTTP/1.1\r\nHost: t\r\n\r\n",
        "GET /file?small=1 HTTP/1.1\r\nHost: t\r\n\r\n",
        "GET /file HTTP/1.1\r\nHost: t\r\nRange: bytes=0-999\r\n\r\n",
        "GET /nope HTTP/1.1\r\nHost: t\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
        client_t c;
        CHECK_INT(client_open(&c, S.port), 0);
        CHECK_INT(client_sends(&c, reqs[i]), 0);
        CHECK(client_fill(&c, 2000) > 0);
        char *e = memmem(c.buf, c.len, "\r\n\r\n", 4);
        CHECK(e != NULL);
        if (e) {
            char *cl = memmem(c.buf, (size_t)(e - c.buf), "Content-Length: ", 16);
            size_t want = cl ? (size_t)strtoul(cl + 16, NULL, 10) : 0;
            size_t have = c.len - (size_t)(e + 4 - c.buf);
            if (have != want)
                printf("# %s: first read has %zu of %zu body bytes\n", reqs[i], have, want);
            CHECK(cl != NULL && have == want);
        }
        client_close(&c);
    }
}

TEST(keep_alive_round_trips_have_no_nagle_stall)
{
    /* a 40 ms delayed-ACK stall per request would take seconds here */
    client_t c;
    resp_t r;
    int ok = 0;
    CHECK_INT(client_open(&c, S.port), 0);
    uint64_t t0 = now_ms();
    for (int i = 0; i < 60; i++) {
        const char *req = i % 3 == 0   ? "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"
                          : i % 3 == 1 ? "GET /file HTTP/1.1\r\nHost: t\r\n\r\n"
                                       : "GET /file?small=1 HTTP/1.1\r\nHost: t\r\n\r\n";
        if (client_sends(&c, req) == 0 && client_response(&c, &r, false, 2000) == 0 &&
            r.status == 200)
            ok++;
        resp_free(&r);
    }
    uint64_t dt = now_ms() - t0;
    CHECK_INT(ok, 60);
    CHECK_MS(dt, 0, 1500);
    client_close(&c);
}

static void
tweak_three_requests(http_server_config_t *c)
{
    c->loops = 1;
    c->keepalive_requests = 3;
}

TEST(keepalive_requests_limit_closes_after_the_last)
{
    server_t K = {.log_fd = -1};
    client_t c;
    resp_t r;
    CHECK_INT(server_start(&K, "kareq", tweak_three_requests), 0);
    CHECK_INT(client_open(&c, K.port), 0);
    for (int i = 0; i < 3; i++) {
        CHECK_INT(client_sends(&c, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
        CHECK_INT(client_response(&c, &r, false, 2000), 0);
        CHECK_INT(r.status, 200);
        const char *conn = resp_header(&r, "Connection");
        if (i < 2)
            CHECK(conn == NULL);
        else
            CHECK(conn != NULL && strcmp(conn, "close") == 0);
        resp_free(&r);
    }
    CHECK(client_closed(&c, 1000));
    client_close(&c);
    server_stop(&K);
}

/* ---- graceful shutdown (own server) ---- */

static void
tweak_one_loop(http_server_config_t *c)
{
    c->loops = 1;
}

typedef struct {
    int port;
    int status;
    char body[128];
    bool eof;
    uint64_t done_ms;
} slow_client_t;

static void *
slow_client_main(void *arg)
{
    slow_client_t *sc = arg;
    client_t c;
    resp_t r = {0};
    sc->status = -1;
    if (client_open(&c, sc->port) != 0)
        return NULL;
    if (client_sends(&c, "GET /park?ms=600 HTTP/1.1\r\nHost: t\r\n\r\n") == 0 &&
        client_response(&c, &r, false, 5000) == 0) {
        sc->status = r.status;
        snprintf(sc->body, sizeof(sc->body), "%s", r.body);
        sc->done_ms = now_ms();
        sc->eof = client_closed(&c, 3000);
    }
    resp_free(&r);
    client_close(&c);
    return NULL;
}

TEST(graceful_shutdown_finishes_in_flight_request)
{
    server_t G = {.log_fd = -1};
    slow_client_t sc = {0};
    pthread_t th;
    client_t idle;
    resp_t r;

    CHECK_INT(server_start(&G, "graceful", tweak_one_loop), 0);
    sc.port = G.port;
    /* an idle keep-alive connection, which shutdown closes at once */
    CHECK_INT(client_open(&idle, G.port), 0);
    CHECK_INT(client_sends(&idle, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
    CHECK_INT(client_response(&idle, &r, false, 2000), 0);
    resp_free(&r);

    pthread_create(&th, NULL, slow_client_main, &sc);
    sleep_ms(150); /* the request is parked now */
    uint64_t t0 = now_ms();
    http_server_shutdown(G.srv);
    uint64_t t1 = now_ms();
    pthread_join(th, NULL);

    CHECK_INT(sc.status, 200);
    CHECK_STR(sc.body, "resumed after wait");
    CHECK(sc.eof); /* closed after the response, not kept alive */
    /* shutdown waited for the response (~450 ms more), but not for the
     * 3 s shutdown timeout */
    CHECK_MS(t1 - t0, 350, 2500);
    CHECK(sc.done_ms <= t1 + 50);
    CHECK(client_closed(&idle, 100));
    client_close(&idle);
    /* no longer accepting */
    client_t late;
    CHECK(client_open(&late, G.port) != 0);
    if (late.fd >= 0)
        client_close(&late);
    server_stop(&G);
}

TEST(shutdown_timeout_bounds_a_request_that_never_ends)
{
    server_t G = {.log_fd = -1};
    client_t c;
    CHECK_INT(server_start(&G, "forced", tweak_one_loop), 0);
    atomic_store(&held_pk, NULL);
    int before = atomic_load(&resumed_null);
    CHECK_INT(client_open(&c, G.port), 0);
    CHECK_INT(client_sends(&c, "GET /park-hold HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
    for (int i = 0; i < 200 && atomic_load(&held_pk) == NULL; i++)
        sleep_ms(5);
    http_park_t *pk = atomic_load(&held_pk);
    CHECK(pk != NULL);
    uint64_t t0 = now_ms();
    http_server_shutdown(G.srv);
    uint64_t dt = now_ms() - t0;
    CHECK_MS(dt, 2900, 4500); /* shutdown_timeout_ms = 3000 */
    CHECK(client_closed(&c, 500));
    client_close(&c);
    /* the holder may still resume; its callback sees no request */
    if (pk)
        http_park_resume(pk, park_done, "never");
    http_server_destroy(G.srv);
    G.srv = NULL;
    CHECK_INT(atomic_load(&resumed_null) - before, 1);
    server_stop(&G);
}

TEST(access_log_has_one_json_line_per_request)
{
    /* S was stopped before this test; its log is complete */
    FILE *f = fopen(S.log_path, "r");
    char line[4096];
    int n = 0, bad = 0;
    CHECK(f != NULL);
    while (f && fgets(line, sizeof(line), f)) {
        n++;
        if (line[0] != '{' || strstr(line, "\"id\":\"") == NULL ||
            strstr(line, "\"status\":") == NULL || line[strlen(line) - 2] != '}')
            bad++;
    }
    if (f)
        fclose(f);
    CHECK(n > 50);
    CHECK_INT(bad, 0);
}

static int fds_at_start;

TEST(no_fd_leak_after_shutdown)
{
    int now = count_open_fds();
    if (now != fds_at_start)
        printf("# %d fds open at start, %d at the end\n", fds_at_start, now);
    CHECK_INT(now, fds_at_start);
}

int
main(void)
{
    signal(SIGPIPE, SIG_IGN);
    log_set_level(LOG_OFF);
    if (tmpdir_make("httpsrv") == NULL) {
        printf("Bail out! no temp dir\n");
        return 1;
    }
    /* a 200 KB file for the sendfile path */
    file_size = 200000;
    snprintf(file_path, sizeof(file_path), "%s/file.bin", tmpdir_path);
    char *data = pattern((size_t)file_size, 6);
    FILE *f = fopen(file_path, "wb");
    fwrite(data, 1, (size_t)file_size, f);
    fclose(f);
    free(data);
    /* and a 10 KB one that leaves with its head */
    snprintf(small_file_path, sizeof(small_file_path), "%s/small.bin", tmpdir_path);
    data = pattern(10000, 7);
    f = fopen(small_file_path, "wb");
    fwrite(data, 1, 10000, f);
    fclose(f);
    free(data);

    fds_at_start = count_open_fds();
    pthread_create(&resumer.thread, NULL, resumer_main, NULL);
    S.log_fd = -1;
    if (server_start(&S, "main", NULL) != 0) {
        printf("Bail out! cannot start the server\n");
        return 1;
    }
    RUN(simple_get_has_status_date_length_and_request_id);
    RUN(unknown_path_404_and_wrong_method_405_with_allow);
    RUN(head_has_length_and_no_body);
    RUN(request_target_is_decoded_and_normalised);
    RUN(client_request_id_echoed_when_valid_only);
    RUN(missing_or_duplicate_host_is_400_for_http11);
    RUN(keep_alive_serves_several_requests_on_one_connection);
    RUN(connection_close_is_honoured);
    RUN(pipelined_requests_answered_in_order);
    RUN(pipelined_requests_byte_by_byte);
    RUN(header_timeout_answers_408_and_closes);
    RUN(idle_keep_alive_connection_closed_after_timeout);
    RUN(keep_alive_deadline_counts_from_the_response_not_a_stale_loop_time);
    RUN(bad_request_gets_400_closes_and_server_goes_on);
    RUN(content_length_body_received_whole);
    RUN(chunked_body_received_whole);
    RUN(framing_conflicts_are_refused);
    RUN(body_over_limit_is_413_and_connection_closes);
    RUN(expect_100_continue_before_body);
    RUN(upload_5mb_chunked_spooled_to_disk_and_removed);
    RUN(aborted_upload_leaves_no_temp_file);
    RUN(park_resumed_from_another_thread_after_100ms);
    RUN(many_parked_requests_all_resume);
    RUN(park_timeout_answers_from_on_timeout);
    RUN(resume_after_timeout_finds_no_request);
    RUN(client_disconnect_while_parked_is_safe);
    RUN(stream_chunks_leave_as_they_are_written);
    RUN(stream_to_http10_is_close_delimited);
    RUN(blocking_route_runs_off_the_loop);
    RUN(blocking_route_does_not_stall_the_loop);
    RUN(client_disconnect_during_blocking_handler_is_safe);
    RUN(file_response_sendfile_full_and_range);
    RUN(small_responses_leave_in_one_segment);
    RUN(keep_alive_round_trips_have_no_nagle_stall);
    server_stop(&S);
    RUN(keepalive_requests_limit_closes_after_the_last);
    RUN(graceful_shutdown_finishes_in_flight_request);
    RUN(shutdown_timeout_bounds_a_request_that_never_ends);
    RUN(access_log_has_one_json_line_per_request);

    pthread_mutex_lock(&resumer.mu);
    resumer.stop = true;
    pthread_cond_signal(&resumer.cv);
    pthread_mutex_unlock(&resumer.mu);
    pthread_join(resumer.thread, NULL);
    RUN(no_fd_leak_after_shutdown);
    tmpdir_remove();
    return test_done();
}
