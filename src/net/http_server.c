/*
 * http_server.c: connections on edge-triggered epoll loops.
 *
 * Each connection is a small state machine driven by conn_run(), which every
 * event, timer and resumption calls; it loops until the connection has to
 * wait (for bytes, for socket space, for a parked handler). Responses leave
 * in as few system calls as possible: the head and a body of up to
 * HTTP_INLINE_FILE bytes go out in one sendmsg(); larger files follow the
 * head with sendfile(2). TCP_NODELAY is set on every connection, so nothing
 * waits on Nagle.
 */
#include "net/http_server.h"
#include "net/http_parse.h"
#include "net/http_stats.h"
#include "net/loop.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/rnd.h"
#include "base/status.h"
#include "base/tpool.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define HTTP_MAX_LOOPS 256
#define HTTP_READ_CHUNK 16384
#define HTTP_INLINE_FILE 32768 /* files up to this size leave with their head */
#define HTTP_MAX_TARGET 8192
#define HTTP_BLOCKING_QUEUE 4096
#define HTTP_LINGER_MS 2000
/* Appends a string literal; its length comes from the compiler. */
#define HTTP_APPEND_LIT(b, lit) buf_append((b), (lit), sizeof(lit) - 1)
#define HTTP_READ_BUDGET 16 /* reads of HTTP_READ_CHUNK per wake-up and connection */

/* ---- types ---- */

typedef enum {
    CONN_IDLE = 0,    /* between requests */
    CONN_HEAD,        /* reading a request head */
    CONN_BODY,        /* reading a request body */
    CONN_HANDLING,    /* handler parked or running on the blocking pool */
    CONN_WRITING,     /* sending a response */
    CONN_STREAM_WAIT, /* stream: everything sent, waiting for the producer */
    CONN_LINGER,      /* response sent, write side shut: draining what the peer sends */
    CONN_CLOSED,
} conn_state_t;

typedef struct http_loop http_loop_t;
typedef struct http_conn http_conn_t;

struct http_park {
    atomic_int refs;
    http_loop_t *hl;
    http_request_t *r; /* NULL once the park is over; loop thread only */
    loop_timer_t timer;
    http_resume_fn on_timeout;
};

typedef struct {
    http_park_t *pk;
    http_resume_fn fn;
    void *arg;
} http_resume_task_t;

struct http_conn {
    loop_io_t io; /* first: the epoll data pointer */
    http_loop_t *hl;
    http_conn_t *prev, *next; /* the loop's list of connections */
    conn_state_t state;
    loop_timer_t timer;
    uint64_t deadline; /* 0: none */
    loop_deferred_t free_d;
    bool in_blocking;     /* a pool thread owns the request right now */
    bool in_callback;     /* a handler or resume callback is running on the loop */
    int blocking_rc;      /* the pool thread's handler result */
    bool close_requested; /* close as soon as the pool thread is done */
    bool peer_closed;
    /* Edge-triggered: after a short read the socket is drained until the
     * next EPOLLIN edge, so reading again before it would only get EAGAIN. */
    bool drained;
    loop_deferred_t more_d; /* read budget spent: go on after the other events */
    unsigned nrequests;
    char remote[64];

    buf_t in;
    http_parser_t parser;
    http_field_t *fields;

    /* the current request and its body reader */
    http_request_t *req;
    uint64_t body_left; /* Content-Length bytes still to read */
    bool body_chunked;
    http_chunked_t chunked;
    int body_fd;
    uint64_t body_max;
    bool expect_continue;

    /* the response being written */
    buf_t out; /* status line, headers, and an inline body */
    size_t out_sent;
    size_t body_sent; /* of req->resp.body */
    uint64_t file_sent;
    bool head_built;
    uint64_t bytes_sent; /* this response */
};

struct http_loop {
    http_server_t *srv;
    loop_t *loop;
    unsigned id;
    pthread_t thread;
    loop_io_t listen_io;
    http_conn_t *conns;
    uint64_t nconns;
    bool draining;
    loop_timer_t drain_timer;
    uint64_t req_counter;

    time_t date_sec;
    char date[CLOCK_HTTP_DATE_LEN + 1];

    loop_timer_t log_timer;
    http_stats_t *stats; /* counters, histograms, access log */
};

struct http_server {
    http_server_config_t cfg;
    char listen[256];
    char cors[256];
    char tmp_dir[1024];
    const router_t *router;
    size_t nroutes;
    unsigned nloops;
    http_loop_t loops[HTTP_MAX_LOOPS];
    int port;
    atomic_uint_fast64_t nconns;
    tpool_t *blocking;
    char id_prefix[9];
    bool started;
};

static void conn_run(http_conn_t *c);
static void conn_close(http_conn_t *c);
static void conn_on_event(loop_io_t *io, uint32_t events);
static void conn_on_timer(loop_timer_t *t);
static void conn_free_deferred(loop_deferred_t *d);
static void conn_finish_request(http_conn_t *c);
static void conn_respond_error(http_conn_t *c, int status, const char *code, const char *msg);

/* ---- listening ---- */

static int
http_parse_listen(const char *listen, char *host, size_t hostcap, char *port, size_t portcap)
{
    const char *colon;
    size_t hlen;

    if (listen[0] == '[') {
        const char *close = strchr(listen, ']');
        if (close == NULL || close[1] != ':')
            return SV_BAD_DATA;
        hlen = (size_t)(close - listen - 1);
        if (hlen >= hostcap)
            return SV_BAD_DATA;
        memcpy(host, listen + 1, hlen);
        host[hlen] = '\0';
        colon = close + 1;
    } else {
        colon = strrchr(listen, ':');
        if (colon == NULL)
            return SV_BAD_DATA;
        hlen = (size_t)(colon - listen);
        if (hlen >= hostcap)
            return SV_BAD_DATA;
        memcpy(host, listen, hlen);
        host[hlen] = '\0';
    }
    if (strlen(colon + 1) == 0 || strlen(colon + 1) >= portcap)
        return SV_BAD_DATA;
    snprintf(port, portcap, "%s", colon + 1);
    return SV_OK;
}

static int
http_listen_socket(const struct addrinfo *ai, int port, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    int one = 1;
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
    if (port >= 0) {
        if (ss.ss_family == AF_INET)
            ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
        else
            ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, ai->ai_addrlen) != 0) {
        snprintf(err, errlen, "bind: %s", strerror(errno));
        close(fd);
        return -1;
    }
    if (listen(fd, 4096) != 0) {
        snprintf(err, errlen, "listen: %s", strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* ---- time and ids ---- */

static const char *
http_loop_date(http_loop_t *hl)
{
    time_t now = time(NULL);
    if (now != hl->date_sec) {
        hl->date_sec = now;
        clock_http_date(now, hl->date);
    }
    return hl->date;
}

static bool
http_valid_request_id(str_t id)
{
    if (id.len == 0 || id.len > 32)
        return false;
    for (size_t i = 0; i < id.len; i++) {
        char ch = id.p[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.'))
            return false;
    }
    return true;
}

/* ---- connection timers ---- */

static void
conn_set_deadline(http_conn_t *c, uint64_t timeout_ms)
{
    loop_t *l = c->hl->loop;
    /* The cached loop time may be stale after a slow handler: deadlines
     * count from now. */
    loop_update_time(l);
    if (timeout_ms == 0) {
        c->deadline = 0;
        return; /* a pending timer finds no deadline and does nothing */
    }
    c->deadline = loop_now(l) + timeout_ms;
    /* Moving a deadline later costs nothing: the timer re-arms when it fires. */
    if (!loop_timer_armed(&c->timer) || c->timer.deadline > c->deadline)
        loop_timer_arm(l, &c->timer, c->deadline);
}

static void
conn_on_timer(loop_timer_t *t)
{
    http_conn_t *c = (http_conn_t *)((char *)t - offsetof(http_conn_t, timer));
    uint64_t now = loop_now(c->hl->loop);

    if (c->state == CONN_CLOSED || c->deadline == 0)
        return;
    if (c->deadline > now) {
        loop_timer_arm(c->hl->loop, &c->timer, c->deadline);
        return;
    }
    http_stats_add(c->hl->stats, HTTP_STAT_TIMEOUTS, 1);
    switch (c->state) {
    case CONN_HEAD:
    case CONN_BODY:
        /* Too slow: answer 408 if the socket takes it, and close. */
        if (c->req == NULL || !c->req->resp.composed) {
            conn_respond_error(c, 408, "request_timeout", "request not received in time");
            conn_run(c);
            return;
        }
        break;
    default:
        break;
    }
    conn_close(c);
}

/* ---- requests ---- */

static void
http_body_file_cleanup(void *arg)
{
    http_request_t *r = arg;
    if (r->body_path)
        unlink(r->body_path);
}

static void
http_response_cleanup(void *arg)
{
    http_request_t *r = arg;
    if (r->resp.fd >= 0)
        close(r->resp.fd);
    buf_free(&r->resp.body);
    buf_free(&r->body);
}

static http_request_t *
conn_request_new(http_conn_t *c)
{
    arena_t *a = arena_create(4096);
    http_request_t *r;

    if (a == NULL)
        return NULL;
    r = arena_calloc(a, sizeof(*r));
    if (r == NULL || arena_cleanup_add(a, http_response_cleanup, r) != SV_OK) {
        arena_destroy(a);
        return NULL;
    }
    r->arena = a;
    r->conn = c;
    r->resp.fd = -1;
    r->resp.content_length = -1;
    buf_init(&r->resp.body, c->hl->srv->cfg.output_max_bytes);
    buf_init(&r->body, c->hl->srv->cfg.body_memory_bytes);
    r->start_ns = clock_mono_ns();
    snprintf(r->remote, sizeof(r->remote), "%s", c->remote);
    /* Every response carries an id, even one to a request that never parsed;
     * conn_request_begin replaces it with the client's when that is sane. */
    snprintf(r->id, sizeof(r->id), "%s%02x%06llx", c->hl->srv->id_prefix, c->hl->id & 0xff,
             (unsigned long long)(++c->hl->req_counter & 0xffffff));
    return r;
}

static void
conn_request_free(http_conn_t *c)
{
    http_request_t *r = c->req;
    if (r == NULL)
        return;
    if (r->park) {
        /* The request dies while parked: end the park's claim on it. */
        http_park_t *pk = r->park;
        r->park = NULL;
        pk->r = NULL;
        loop_timer_disarm(c->hl->loop, &pk->timer);
        http_stats_add(c->hl->stats, HTTP_STAT_PARKED, -1);
        if (atomic_fetch_sub(&pk->refs, 1) == 1)
            free(pk);
    }
    if (c->body_fd >= 0) {
        close(c->body_fd);
        c->body_fd = -1;
    }
    c->req = NULL;
    arena_destroy(r->arena);
}

/* Compose an error response for the current request (creating one if the
 * head could not be parsed) and mark the connection to close after it. */
static void
conn_respond_error(http_conn_t *c, int status, const char *code, const char *msg)
{
    if (c->req == NULL) {
        c->req = conn_request_new(c);
        if (c->req == NULL) {
            conn_close(c);
            return;
        }
        c->req->version_minor = 1;
        c->req->method = HTTP_OTHER;
    }
    http_respond_error(c->req, status, code, msg, NULL);
    c->req->resp.close = true;
    c->state = CONN_WRITING;
}

static unsigned
http_header_list_has(str_t v, const char *token)
{
    /* comma-separated tokens, case-insensitive */
    size_t i = 0;
    while (i < v.len) {
        size_t end = i;
        while (end < v.len && v.p[end] != ',')
            end++;
        if (str_caseeq(str_trim(str_make(v.p + i, end - i)), token))
            return 1;
        i = end + 1;
    }
    return 0;
}

/*
 * Builds c->req from the parsed head (n bytes at the start of c->in), checks
 * the framing headers (RFC 9112 6) and routes it. Returns SV_OK when the
 * request may proceed (body or dispatch), or SV_DECLINED after composing an
 * error response.
 */
static int
conn_request_begin(http_conn_t *c, size_t n)
{
    http_server_t *s = c->hl->srv;
    http_parser_t *ps = &c->parser;
    const char *base = c->in.data;
    http_request_t *r;
    char *head;
    str_t cl = STR_NULL, te = STR_NULL, host = STR_NULL;
    unsigned ncl = 0, nhost = 0;
    int rc;

    r = c->req = conn_request_new(c);
    if (r == NULL)
        goto nomem;
    /* Copy the head into the request's arena: the connection's buffer moves on. */
    head = arena_strndup(r->arena, base, n);
    r->headers = arena_alloc(r->arena, (ps->nfields ? ps->nfields : 1) * sizeof(http_header_t));
    if (head == NULL || r->headers == NULL)
        goto nomem;
    r->method_name = str_make(head + ps->method_off, ps->method_len);
    r->method = http_method_from_str(r->method_name);
    r->target = str_make(head + ps->target_off, ps->target_len);
    r->version_minor = ps->version_minor;
    r->head_only = r->method == HTTP_HEAD;
    for (uint32_t i = 0; i < ps->nfields; i++) {
        http_header_t *h = &r->headers[i];
        h->name = str_make(head + ps->fields[i].name_off, ps->fields[i].name_len);
        h->value = str_make(head + ps->fields[i].value_off, ps->fields[i].value_len);
        if (str_caseeq(h->name, "Content-Length")) {
            if (ncl++ && !str_eq(cl, h->value))
                goto bad_framing;
            cl = h->value;
        } else if (str_caseeq(h->name, "Transfer-Encoding")) {
            if (te.p)
                goto bad_framing; /* several TE lines: refuse rather than merge */
            te = h->value;
        } else if (str_caseeq(h->name, "Host")) {
            nhost++;
            host = h->value;
        }
    }
    r->nheaders = ps->nfields;

    /* Request id: the client's (a CDN's) if it is sane, else ours. */
    str_t rid = http_header_get(r, "X-Request-Id");
    if (http_valid_request_id(rid))
        str_copy_cstr(r->id, sizeof(r->id), rid);

    /* Keep-alive (RFC 9112 9.3). */
    str_t conn_hdr = http_header_get(r, "Connection");
    if (r->version_minor >= 1)
        r->keep_alive = !http_header_list_has(conn_hdr, "close");
    else
        r->keep_alive = http_header_list_has(conn_hdr, "keep-alive");

    if (r->version_minor >= 1 && nhost != 1) {
        conn_respond_error(c, 400, "bad_request",
                           nhost ? "several Host headers" : "missing Host header");
        return SV_DECLINED;
    }
    (void)host;

    /* Framing: Transfer-Encoding wins over nothing; both together is refused
     * (a smuggling vector); only "chunked" is understood. */
    if (te.p) {
        if (cl.p)
            goto bad_framing;
        if (r->version_minor == 0)
            goto bad_framing;
        if (!str_caseeq(str_trim(te), "chunked")) {
            conn_respond_error(c, 501, "not_implemented", "unsupported transfer coding");
            return SV_DECLINED;
        }
        c->body_chunked = true;
        http_chunked_init(&c->chunked, s->cfg.max_header_bytes);
    } else if (cl.p) {
        uint64_t v;
        if (str_to_u64(cl, &v) != SV_OK)
            goto bad_framing;
        c->body_left = v;
    }

    /* Target: origin-form, absolute-form, or "*" for OPTIONS. */
    str_t t = r->target;
    if (str_has_prefix(t, "http://") || str_has_prefix(t, "https://")) {
        size_t skip = str_has_prefix(t, "http://") ? 7 : 8;
        ptrdiff_t slash = str_find_char(t, skip, '/');
        t = slash >= 0 ? str_make(t.p + slash, t.len - (size_t)slash) : STR("/");
    }
    if (str_eq_cstr(t, "*") && r->method == HTTP_OPTIONS) {
        r->path = STR("*");
    } else {
        ptrdiff_t q = str_find_char(t, 0, '?');
        str_t rawpath = q >= 0 ? str_make(t.p, (size_t)q) : t;
        if (q >= 0)
            r->query = str_make(t.p + q + 1, t.len - (size_t)q - 1);
        ptrdiff_t frag = str_find_char(r->query, 0, '#');
        if (frag >= 0)
            r->query.len = (size_t)frag;
        rc = http_path_normalize(r->arena, rawpath, &r->path);
        if (rc != SV_OK) {
            conn_respond_error(c, 400, "bad_request",
                               rc == SV_NO_MEMORY ? "out of memory" : "invalid request path");
            return SV_DECLINED;
        }
    }
    return SV_OK;

bad_framing:
    conn_respond_error(c, 400, "bad_request", "conflicting or invalid message framing headers");
    return SV_DECLINED;
nomem:
    conn_respond_error(c, 503, "no_memory", "out of memory");
    return SV_DECLINED;
}

/* ---- CORS ---- */

static void
http_add_cors(http_request_t *r, http_server_t *s)
{
    str_t origin = http_header_get(r, "Origin");
    if (s->cors[0] == '\0' || origin.p == NULL)
        return;
    if (strcmp(s->cors, "*") == 0) {
        http_header_add(r, "Access-Control-Allow-Origin", "*");
    } else if (str_eq_cstr(origin, s->cors)) {
        http_header_add(r, "Access-Control-Allow-Origin", s->cors);
        http_header_add(r, "Vary", "Origin");
    } else {
        return;
    }
    http_header_add(r, "Access-Control-Expose-Headers",
                    "Content-Length, Content-Range, ETag, X-Request-Id, Retry-After");
}

static bool
http_token_list_ok(str_t v)
{
    for (size_t i = 0; i < v.len; i++) {
        unsigned char ch = (unsigned char)v.p[i];
        if (!http_is_tchar(ch) && ch != ',' && ch != ' ' && ch != '\t')
            return false;
    }
    return v.len <= 512;
}

/* OPTIONS: a CORS preflight or a plain question about allowed methods. */
static void
http_answer_options(http_conn_t *c, http_request_t *r)
{
    http_server_t *s = c->hl->srv;
    const http_route_t *route = NULL;
    unsigned allowed = 0;
    char methods[96];
    str_t want = http_header_get(r, "Access-Control-Request-Method");
    str_t origin = http_header_get(r, "Origin");

    if (str_eq_cstr(r->path, "*")) {
        allowed = HTTP_GET | HTTP_HEAD | HTTP_POST | HTTP_PUT | HTTP_PATCH | HTTP_DELETE |
                  HTTP_OPTIONS;
    } else {
        /* Which methods does this path take? Try each. */
        static const unsigned all[] = {HTTP_GET, HTTP_POST, HTTP_PUT, HTTP_PATCH, HTTP_DELETE};
        for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
            unsigned a = 0;
            if (router_match(s->router, all[i], r->path, r, &route, &a) == SV_OK)
                allowed |= route->methods;
        }
        r->nparams = 0;
        if (allowed == 0) {
            http_respond_error(r, 404, "not_found", "no such resource", NULL);
            return;
        }
        if (allowed & HTTP_GET)
            allowed |= HTTP_HEAD;
        allowed |= HTTP_OPTIONS;
    }
    router_methods_str(allowed, methods, sizeof(methods));
    http_respond(r, 204, NULL, "", 0);
    http_header_add(r, "Allow", methods);
    if (origin.p && want.p && s->cors[0]) {
        http_add_cors(r, s);
        http_header_add(r, "Access-Control-Allow-Methods", methods);
        str_t req_headers = http_header_get(r, "Access-Control-Request-Headers");
        if (req_headers.p && http_token_list_ok(req_headers)) {
            char *h = arena_strdup_str(r->arena, req_headers);
            if (h)
                http_header_add(r, "Access-Control-Allow-Headers", h);
        }
        http_header_add(r, "Access-Control-Max-Age", "86400");
    }
}

/* ---- dispatch ---- */

static void http_blocking_run(void *arg);

static void
conn_after_handler(http_conn_t *c, int rc)
{
    http_request_t *r = c->req;

    if (rc == SV_AGAIN && r->park) {
        /* A stream whose producer parked again: send what is queued
         * meanwhile (the connection waits in STREAM_WAIT once it is out). */
        if (r->resp.composed && r->resp.kind == HTTP_BODY_STREAM) {
            c->state = CONN_WRITING;
            return;
        }
        c->state = CONN_HANDLING;
        c->deadline = 0;
        return;
    }
    if (rc != SV_OK && rc != SV_AGAIN) {
        http_respond_status(r, rc, NULL, NULL);
    } else if (!r->resp.composed) {
        log_error("http", "handler for %s returned without a response",
                  r->route ? r->route->pattern : "?");
        http_respond_error(r, 500, "internal", "handler composed no response", NULL);
    }
    c->state = CONN_WRITING;
}

/* Runs the route's handler for a fully received request. */
static void
conn_dispatch(http_conn_t *c)
{
    http_server_t *s = c->hl->srv;
    http_request_t *r = c->req;
    int rc;

    c->deadline = 0;
    if (r->method == HTTP_OPTIONS) {
        http_answer_options(c, r);
        c->state = CONN_WRITING;
        return;
    }
    if (r->route == NULL) {
        /* routing failed earlier but the body had to be read first */
        c->state = CONN_WRITING;
        return;
    }
    if (r->route->flags & HTTP_ROUTE_BLOCKING) {
        c->state = CONN_HANDLING;
        c->in_blocking = true;
        rc = tpool_submit(s->blocking, http_blocking_run, c);
        if (rc != SV_OK) {
            c->in_blocking = false;
            http_respond_error(r, 503, "busy", "server busy, try again", NULL);
            http_header_add(r, "Retry-After", "1");
            c->state = CONN_WRITING;
        }
        return;
    }
    c->in_callback = true;
    rc = r->route->handler(r);
    c->in_callback = false;
    if (c->req != r)
        return; /* the handler aborted the request */
    conn_after_handler(c, rc);
}

static void
http_blocking_done(void *arg)
{
    http_conn_t *c = arg;
    c->in_blocking = false;
    if (c->close_requested || c->state == CONN_CLOSED) {
        c->close_requested = false;
        c->state = CONN_HANDLING;
        conn_close(c);
        return;
    }
    conn_after_handler(c, c->blocking_rc);
    conn_run(c);
}

/* On a pool thread: the loop does not touch c->req until http_blocking_done. */
static void
http_blocking_run(void *arg)
{
    http_conn_t *c = arg;
    http_request_t *r = c->req;
    int rc = r->route->handler(r);
    if (rc == SV_AGAIN) {
        log_error("http", "blocking handler %s tried to park", r->route->pattern);
        rc = SV_ERROR;
    }
    c->blocking_rc = rc;
    if (loop_post(c->hl->loop, http_blocking_done, c) != SV_OK) {
        /* Cannot hand it back: the loop will find it when it drains. This
         * is out-of-memory territory; log it loudly. */
        log_error("http", "cannot return request %s to its loop", r->id);
    }
}

/* ---- reading ---- */

/* Moves body bytes from c->in into the request. SV_OK when the body is
 * complete, SV_AGAIN when more is needed, SV_DECLINED after an error response. */
static int
conn_take_body(http_conn_t *c)
{
    http_request_t *r = c->req;
    http_server_t *s = c->hl->srv;

    while (c->in.len > 0 || (!c->body_chunked && c->body_left == 0)) {
        const char *data;
        size_t data_len, used;
        int rc = SV_AGAIN;

        if (c->body_chunked) {
            rc = http_chunked_decode(&c->chunked, c->in.data, c->in.len, &used, &data,
                                     &data_len);
            if (rc == SV_BAD_DATA) {
                conn_respond_error(c, 400, "bad_request", "invalid chunked encoding");
                return SV_DECLINED;
            }
        } else {
            if (c->body_left == 0)
                return SV_OK;
            used = c->in.len < c->body_left ? c->in.len : (size_t)c->body_left;
            data = c->in.data;
            data_len = used;
            c->body_left -= used;
            if (c->body_left == 0)
                rc = SV_OK;
        }
        if (data_len > 0) {
            if (data_len > c->body_max - r->body_size) {
                conn_respond_error(c, 413, "too_big", "request body too large");
                return SV_DECLINED;
            }
            if (c->body_fd < 0 && r->body.len + data_len > s->cfg.body_memory_bytes) {
                /* Spool to disk: only upload routes get here (others have a
                 * body_max no larger than the memory limit). */
                r->body_path = arena_printf(r->arena, "%s/body-%s", s->tmp_dir, r->id);
                if (r->body_path == NULL ||
                    arena_cleanup_add(r->arena, http_body_file_cleanup, r) != SV_OK) {
                    r->body_path = NULL;
                    conn_respond_error(c, 503, "no_memory", "out of memory");
                    return SV_DECLINED;
                }
                c->body_fd = open(r->body_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
                if (c->body_fd < 0) {
                    log_error("http", "cannot spool body to %s: %s", r->body_path,
                              strerror(errno));
                    r->body_path = NULL;
                    conn_respond_error(c, 500, "io", "cannot store request body");
                    return SV_DECLINED;
                }
                if (r->body.len &&
                    write(c->body_fd, r->body.data, r->body.len) != (ssize_t)r->body.len) {
                    conn_respond_error(c, 500, "io", "cannot store request body");
                    return SV_DECLINED;
                }
                buf_free(&r->body);
            }
            if (c->body_fd >= 0) {
                const char *p = data;
                size_t left = data_len;
                while (left > 0) {
                    ssize_t w = write(c->body_fd, p, left);
                    if (w < 0 && errno == EINTR)
                        continue;
                    if (w <= 0) {
                        log_error("http", "writing request body: %s", strerror(errno));
                        conn_respond_error(c, 500, "io", "cannot store request body");
                        return SV_DECLINED;
                    }
                    p += w;
                    left -= (size_t)w;
                }
            } else if (buf_append(&r->body, data, data_len) != SV_OK) {
                conn_respond_error(c, 413, "too_big", "request body too large");
                return SV_DECLINED;
            }
            r->body_size += data_len;
        }
        buf_consume(&c->in, used);
        if (rc == SV_OK) {
            if (c->body_fd >= 0) {
                close(c->body_fd);
                c->body_fd = -1;
            }
            return SV_OK;
        }
    }
    return SV_AGAIN;
}

/* After the head: route, check the body's size, answer Expect. */
static int
conn_prepare_body(http_conn_t *c)
{
    http_server_t *s = c->hl->srv;
    http_request_t *r = c->req;
    const http_route_t *route = NULL;
    unsigned allowed = 0;
    bool has_body = c->body_chunked || c->body_left > 0;
    int rc;

    c->body_max = s->cfg.max_body_bytes;
    if (r->method != HTTP_OPTIONS) {
        rc = router_match(s->router, r->method, r->path, r, &route, &allowed);
        if (rc == SV_OK) {
            r->route = route;
            if (route->flags & HTTP_ROUTE_UPLOAD)
                c->body_max = s->cfg.max_upload_bytes;
        } else if (rc == SV_METHOD) {
            char methods[96];
            http_respond_error(r, 405, "method_not_allowed", "method not allowed here", NULL);
            router_methods_str(allowed, methods, sizeof(methods));
            http_header_add(r, "Allow", methods);
        } else {
            http_respond_error(r, 404, "not_found", "no such resource", NULL);
        }
        if (rc != SV_OK && has_body) {
            /* Do not read a body nobody wants: answer and close. */
            r->resp.close = true;
            c->state = CONN_WRITING;
            return SV_DECLINED;
        }
    }
    if (!c->body_chunked && c->body_left > c->body_max) {
        conn_respond_error(c, 413, "too_big", "request body too large");
        return SV_DECLINED;
    }
    if (has_body && r->route && !(r->route->flags & HTTP_ROUTE_UPLOAD) &&
        c->body_max > s->cfg.body_memory_bytes)
        c->body_max = s->cfg.body_memory_bytes;
    if (has_body && r->version_minor >= 1) {
        str_t expect = http_header_get(r, "Expect");
        if (expect.p) {
            if (!str_caseeq(expect, "100-continue")) {
                conn_respond_error(c, 417, "expectation_failed", "unsupported expectation");
                return SV_DECLINED;
            }
            if (c->in.len == 0) {
                static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
                ssize_t w = send(c->io.fd, cont, sizeof(cont) - 1, MSG_NOSIGNAL);
                if (w != (ssize_t)sizeof(cont) - 1) {
                    conn_close(c);
                    return SV_DECLINED;
                }
            }
        }
    }
    return SV_OK;
}

/*
 * Parses what is buffered and reads more from the socket as needed. Returns
 * true when the state machine made progress (a state change), false when it
 * must wait for the socket.
 */
static bool
conn_read_step(http_conn_t *c)
{
    http_server_t *s = c->hl->srv;
    unsigned reads = 0;
    int rc;

    for (;;) {
        if (c->state == CONN_IDLE || c->state == CONN_HEAD) {
            if (c->in.len > 0) {
                if (c->state == CONN_IDLE) {
                    c->state = CONN_HEAD;
                    http_parser_reset(&c->parser);
                    conn_set_deadline(c, s->cfg.header_timeout_ms);
                }
                rc = http_parse_head(&c->parser, c->in.data, c->in.len);
                if (rc > 0) {
                    size_t n = (size_t)rc;
                    c->body_left = 0;
                    c->body_chunked = false;
                    /* The head is copied into the request, then dropped from
                     * the buffer: what remains is body or the next request. */
                    rc = conn_request_begin(c, n);
                    buf_consume(&c->in, n);
                    if (rc != SV_OK || conn_prepare_body(c) != SV_OK) {
                        if (c->state == CONN_CLOSED)
                            return false;
                        c->req->resp.close = true;
                        c->state = CONN_WRITING;
                        return true;
                    }
                    if (c->body_chunked || c->body_left > 0) {
                        c->state = CONN_BODY;
                        conn_set_deadline(c, s->cfg.body_timeout_ms);
                        continue;
                    }
                    conn_dispatch(c);
                    return true;
                }
                if (rc != SV_AGAIN) {
                    const char *why = c->parser.error ? c->parser.error : "malformed request";
                    int st = c->parser.error_status ? c->parser.error_status : 400;
                    conn_respond_error(c, st,
                                       st == 431   ? "header_too_large"
                                       : st == 414 ? "uri_too_long"
                                       : st == 505 ? "version_not_supported"
                                       : st == 501 ? "not_implemented"
                                                   : "bad_request",
                                       why);
                    return true;
                }
            }
        } else if (c->state == CONN_BODY) {
            rc = conn_take_body(c);
            if (rc == SV_DECLINED) {
                if (c->state == CONN_CLOSED)
                    return false;
                c->req->resp.close = true;
                return true;
            }
            if (rc == SV_OK) {
                conn_dispatch(c);
                return true;
            }
        } else {
            return false;
        }

        /* Need more bytes. */
        size_t room = HTTP_READ_CHUNK;
        if (c->state != CONN_BODY && c->in.len >= s->cfg.max_header_bytes) {
            /* the parser reports 431 at the limit; this guards the buffer */
            conn_respond_error(c, 431, "header_too_large", "request header too large");
            return true;
        }
        rc = buf_reserve(&c->in, room);
        if (rc != SV_OK) {
            conn_respond_error(c, 503, "no_memory", "out of memory");
            return true;
        }
        if (c->drained)
            return false;
        if (++reads > HTTP_READ_BUDGET) {
            /* A fast sender does not get the loop to itself: the other
             * connections' events go first, then this one continues. */
            loop_defer(c->hl->loop, &c->more_d);
            return false;
        }
        size_t want = c->in.cap - c->in.len - 1;
        ssize_t got = recv(c->io.fd, c->in.data + c->in.len, want, 0);
        if (got > 0) {
            if ((size_t)got < want)
                c->drained = true;
            c->in.len += (size_t)got;
            c->in.data[c->in.len] = '\0';
            if (c->state == CONN_BODY)
                conn_set_deadline(c, s->cfg.body_timeout_ms);
            continue;
        }
        if (got == 0) {
            /* Orderly close by the peer. Mid-request it is an abort. */
            conn_close(c);
            return false;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            c->drained = true;
            if (c->state == CONN_IDLE && c->in.len == 0 && c->in.cap > 0) {
                /* idle keep-alive connection: give the buffer back */
                buf_free(&c->in);
                buf_init(&c->in, s->cfg.max_header_bytes + HTTP_READ_CHUNK);
            }
            return false;
        }
        conn_close(c);
        return false;
    }
}

/* ---- writing ---- */

static int
conn_build_head(http_conn_t *c)
{
    http_server_t *s = c->hl->srv;
    http_request_t *r = c->req;
    http_response_t *resp = &r->resp;
    buf_t *o = &c->out;
    int rc = SV_OK;
    bool no_body = resp->status < 200 || resp->status == 204 || resp->status == 304;

    if (c->hl->draining || c->nrequests + 1 >= s->cfg.keepalive_requests)
        resp->close = true;
    if (!r->keep_alive || s->cfg.keepalive_timeout_ms == 0)
        resp->close = true;
    if (r->method != HTTP_OPTIONS)
        http_add_cors(r, s); /* after the handler: error responses reset headers */

    buf_reset(o);
    /* Plain appends, no printf: this runs once per response. */
    rc |= HTTP_APPEND_LIT(o, "HTTP/1.1 ");
    rc |= buf_append_u64(o, (uint64_t)resp->status);
    rc |= buf_append_char(o, ' ');
    rc |= buf_append_cstr(o, http_status_reason(resp->status));
    rc |= HTTP_APPEND_LIT(o, "\r\nServer: streamverse\r\nDate: ");
    rc |= buf_append(o, http_loop_date(c->hl), CLOCK_HTTP_DATE_LEN);
    rc |= HTTP_APPEND_LIT(o, "\r\n");
    if (resp->content_type && !no_body) {
        rc |= HTTP_APPEND_LIT(o, "Content-Type: ");
        rc |= buf_append_cstr(o, resp->content_type);
        rc |= HTTP_APPEND_LIT(o, "\r\n");
    }
    if (resp->kind == HTTP_BODY_STREAM) {
        if (r->version_minor >= 1 && !r->head_only)
            rc |= buf_append_cstr(o, "Transfer-Encoding: chunked\r\n");
        else
            resp->close = true;
    } else if (!no_body) {
        rc |= buf_append_cstr(o, "Content-Length: ");
        rc |= buf_append_u64(o, resp->kind == HTTP_BODY_NONE ? 0
                                : resp->content_length >= 0  ? (uint64_t)resp->content_length
                                                             : resp->body.len);
        rc |= buf_append_cstr(o, "\r\n");
    }
    if (resp->close)
        rc |= buf_append_cstr(o, "Connection: close\r\n");
    else if (r->version_minor == 0)
        rc |= buf_append_cstr(o, "Connection: keep-alive\r\n");
    rc |= HTTP_APPEND_LIT(o, "X-Request-Id: ");
    rc |= buf_append_cstr(o, r->id);
    rc |= HTTP_APPEND_LIT(o, "\r\n");
    for (size_t i = 0; i < resp->nheaders; i++) {
        rc |= buf_append_str(o, resp->headers[i].name);
        rc |= buf_append_cstr(o, ": ");
        rc |= buf_append_str(o, resp->headers[i].value);
        rc |= buf_append_cstr(o, "\r\n");
    }
    rc |= buf_append_cstr(o, "\r\n");
    if (rc != SV_OK)
        return SV_NO_MEMORY;

    if (no_body || r->head_only) {
        if (resp->fd >= 0) {
            close(resp->fd);
            resp->fd = -1;
        }
        if (resp->kind != HTTP_BODY_STREAM) {
            resp->kind = HTTP_BODY_NONE;
            buf_reset(&resp->body);
        }
    } else if (resp->kind == HTTP_BODY_FILE && resp->file_len <= HTTP_INLINE_FILE) {
        /* A small file leaves in the same packet as its head. */
        size_t at = o->len;
        if (buf_reserve(o, (size_t)resp->file_len) != SV_OK)
            return SV_NO_MEMORY;
        size_t got = 0;
        while (got < resp->file_len) {
            ssize_t n = pread(resp->fd, o->data + at + got, (size_t)resp->file_len - got,
                              (off_t)(resp->file_off + got));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                return SV_IO; /* file shrank under us or failed */
            got += (size_t)n;
        }
        o->len += got;
        close(resp->fd);
        resp->fd = -1;
        resp->kind = HTTP_BODY_NONE;
    }
    c->out_sent = 0;
    c->body_sent = 0;
    c->file_sent = 0;
    c->head_built = true;
    conn_set_deadline(c, s->cfg.send_timeout_ms);
    return SV_OK;
}

/* SV_OK when everything composed so far is sent, SV_AGAIN to wait, else error. */
static int
conn_write(http_conn_t *c)
{
    http_server_t *s = c->hl->srv;
    http_response_t *resp = &c->req->resp;
    bool progress = false;
    int rc = SV_OK;

    for (;;) {
        struct iovec iov[2];
        int n = 0;
        size_t body_pending = 0;
        if (c->out_sent < c->out.len) {
            iov[n].iov_base = c->out.data + c->out_sent;
            iov[n].iov_len = c->out.len - c->out_sent;
            n++;
        }
        if ((resp->kind == HTTP_BODY_BUF || resp->kind == HTTP_BODY_STREAM) &&
            c->body_sent < resp->body.len) {
            body_pending = resp->body.len - c->body_sent;
            iov[n].iov_base = resp->body.data + c->body_sent;
            iov[n].iov_len = body_pending;
            n++;
        }
        if (n == 0)
            break;
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n};
        int flags = MSG_NOSIGNAL;
        if (resp->kind == HTTP_BODY_FILE && c->file_sent < resp->file_len)
            flags |= MSG_MORE; /* the file follows at once: one segment train */
        ssize_t w = sendmsg(c->io.fd, &mh, flags);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                rc = SV_AGAIN;
                goto out;
            }
            rc = SV_IO;
            goto out;
        }
        progress = true;
        size_t left = (size_t)w;
        size_t head_left = c->out.len - c->out_sent;
        size_t from_head = left < head_left ? left : head_left;
        c->out_sent += from_head;
        left -= from_head;
        c->body_sent += left;
        c->bytes_sent += (size_t)w;
    }
    if (resp->kind == HTTP_BODY_STREAM) {
        /* Everything queued went out: recycle the buffer. */
        buf_reset(&resp->body);
        c->body_sent = 0;
        rc = resp->stream_ended ? SV_OK : SV_DECLINED;
        goto out;
    }
    while (resp->kind == HTTP_BODY_FILE && c->file_sent < resp->file_len) {
        off_t off = (off_t)(resp->file_off + c->file_sent);
        size_t want = resp->file_len - c->file_sent;
        if (want > (1u << 30))
            want = 1u << 30;
        ssize_t w = sendfile(c->io.fd, resp->fd, &off, want);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                rc = SV_AGAIN;
                goto out;
            }
            rc = SV_IO;
            goto out;
        }
        if (w == 0) {
            rc = SV_IO; /* the file is shorter than it was */
            goto out;
        }
        progress = true;
        c->file_sent += (size_t)w;
        c->bytes_sent += (size_t)w;
    }
out:
    if (progress)
        conn_set_deadline(c, s->cfg.send_timeout_ms);
    return rc;
}

/* ---- access log and metrics ---- */

static void
http_log_timer(loop_timer_t *t)
{
    http_loop_t *hl = (http_loop_t *)((char *)t - offsetof(http_loop_t, log_timer));
    if (http_stats_log_pending(hl->stats))
        http_stats_log_flush(hl->stats);
}

static void
conn_log_request(http_conn_t *c)
{
    http_loop_t *hl = c->hl;
    http_request_t *r = c->req;
    size_t ri = r->route ? r->route->index : hl->srv->nroutes;

    http_stats_request(hl->stats, r, ri, c->bytes_sent, clock_mono_ns() - r->start_ns);
    if (http_stats_log_pending(hl->stats) && !loop_timer_armed(&hl->log_timer))
        loop_timer_arm(hl->loop, &hl->log_timer, loop_now(hl->loop) + 1000);
}

/* The response is out: log it, free the request, and go on or close. */
static void
conn_finish_request(http_conn_t *c)
{
    http_server_t *s = c->hl->srv;
    bool close_after = c->req->resp.close;

    conn_log_request(c);
    conn_request_free(c);
    c->nrequests++;
    c->head_built = false;
    c->bytes_sent = 0;
    if (c->out.cap > 65536) {
        buf_free(&c->out);
        buf_init(&c->out, SIZE_MAX / 2);
    } else {
        buf_reset(&c->out);
    }
    if (close_after || c->hl->draining) {
        /* Half-close, then read and drop what the peer still sends until it
         * closes too: closing with unread bytes would send a RST that can
         * destroy the response before the peer has read it. */
        shutdown(c->io.fd, SHUT_WR);
        c->state = CONN_LINGER;
        conn_set_deadline(c, HTTP_LINGER_MS);
        return;
    }
    c->state = CONN_IDLE;
    conn_set_deadline(c, s->cfg.keepalive_timeout_ms);
}

/* ---- the state machine ---- */

static void
conn_run(http_conn_t *c)
{
    for (;;) {
        switch (c->state) {
        case CONN_IDLE:
        case CONN_HEAD:
        case CONN_BODY:
            if (!conn_read_step(c))
                return;
            break;
        case CONN_WRITING: {
            int rc;
            if (!c->head_built) {
                rc = conn_build_head(c);
                if (rc != SV_OK) {
                    log_error("http", "cannot build response for %s: %s", c->req->id,
                              status_text(rc));
                    conn_close(c);
                    return;
                }
            }
            rc = conn_write(c);
            if (rc == SV_AGAIN)
                return;
            if (rc == SV_DECLINED) {
                c->state = CONN_STREAM_WAIT;
                c->deadline = 0;
                return;
            }
            if (rc != SV_OK) {
                conn_close(c);
                return;
            }
            conn_finish_request(c);
            break;
        }
        case CONN_LINGER: {
            char sink[4096];
            ssize_t n = recv(c->io.fd, sink, sizeof(sink), 0);
            if (n > 0 || (n < 0 && errno == EINTR))
                break;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                return;
            conn_close(c);
            return;
        }
        case CONN_HANDLING:
        case CONN_STREAM_WAIT:
        case CONN_CLOSED:
            return;
        }
    }
}

static void
conn_on_event(loop_io_t *io, uint32_t events)
{
    http_conn_t *c = (http_conn_t *)io;

    if (c->state == CONN_CLOSED)
        return;
    if (events & (EPOLLIN | EPOLLRDHUP))
        c->drained = false;
    if (events & (EPOLLERR | EPOLLHUP)) {
        conn_close(c);
        return;
    }
    if (events & EPOLLRDHUP) {
        c->peer_closed = true;
        /* A parked or streaming request whose client left is abandoned. */
        if ((c->state == CONN_HANDLING || c->state == CONN_STREAM_WAIT) && !c->in_blocking) {
            conn_close(c);
            return;
        }
        if (c->state == CONN_HANDLING && c->in_blocking) {
            c->close_requested = true;
            return;
        }
    }
    conn_run(c);
}

static void
conn_close(http_conn_t *c)
{
    http_loop_t *hl = c->hl;

    if (c->state == CONN_CLOSED)
        return;
    if (c->in_blocking) {
        /* A pool thread holds the request: close when it hands it back. */
        c->close_requested = true;
        return;
    }
    c->state = CONN_CLOSED;
    loop_timer_disarm(hl->loop, &c->timer);
    loop_io_del(hl->loop, &c->io);
    close(c->io.fd);
    if (c->req) {
        if (c->head_built)
            conn_log_request(c); /* cut short, but answered: count it */
        conn_request_free(c);
    }
    /* unlink from the loop's list now; free after this iteration */
    if (c->prev)
        c->prev->next = c->next;
    else
        hl->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    hl->nconns--;
    http_stats_add(hl->stats, HTTP_STAT_OPEN, -1);
    atomic_fetch_sub(&hl->srv->nconns, 1);
    loop_defer(hl->loop, &c->free_d);
    if (hl->draining && hl->nconns == 0)
        loop_stop(hl->loop);
}

static void
conn_more_deferred(loop_deferred_t *d)
{
    http_conn_t *c = (http_conn_t *)((char *)d - offsetof(http_conn_t, more_d));
    conn_run(c);
}

static void
conn_free_deferred(loop_deferred_t *d)
{
    http_conn_t *c = (http_conn_t *)((char *)d - offsetof(http_conn_t, free_d));
    buf_free(&c->in);
    buf_free(&c->out);
    free(c->fields);
    free(c);
}

/* ---- accepting ---- */

/* Answers a connection we cannot take with a complete 503 (Date and an id
 * included, like every response) and closes it, without reading anything. */
static void
http_reject_overload(http_loop_t *hl, int fd)
{
    static const char body[] =
        "{\"error\":{\"code\":\"busy\",\"message\":\"too many connections\"}}\n";
    char resp[512];
    int n = snprintf(resp, sizeof(resp),
                     "HTTP/1.1 503 Service Unavailable\r\nServer: streamverse\r\nDate: %s\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n"
                     "Retry-After: 1\r\nConnection: close\r\nX-Request-Id: %s%02x%06llx\r\n"
                     "\r\n%s",
                     http_loop_date(hl), sizeof(body) - 1, hl->srv->id_prefix, hl->id & 0xff,
                     (unsigned long long)(++hl->req_counter & 0xffffff), body);
    if (n > 0 && (size_t)n < sizeof(resp)) {
        ssize_t w = send(fd, resp, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)w;
        /* Half-close so the reply is not destroyed by a reset for unread bytes. */
        shutdown(fd, SHUT_WR);
    }
    close(fd);
}

static void
http_on_accept(loop_io_t *io, uint32_t events)
{
    http_loop_t *hl = (http_loop_t *)((char *)io - offsetof(http_loop_t, listen_io));
    http_server_t *s = hl->srv;

    for (int budget = 0; budget < 256; budget++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(io->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                log_warn("http", "accept: %s", strerror(errno));
            return;
        }
        if (hl->draining) {
            close(fd);
            continue;
        }
        if (atomic_fetch_add(&s->nconns, 1) >= s->cfg.max_connections) {
            atomic_fetch_sub(&s->nconns, 1);
            http_stats_add(hl->stats, HTTP_STAT_REJECTED, 1);
            http_reject_overload(hl, fd);
            continue;
        }
        http_conn_t *c = calloc(1, sizeof(*c));
        http_field_t *fields = calloc(s->cfg.max_headers, sizeof(http_field_t));
        if (c == NULL || fields == NULL) {
            free(c);
            free(fields);
            atomic_fetch_sub(&s->nconns, 1);
            http_reject_overload(hl, fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        c->io.fd = fd;
        c->io.on_event = conn_on_event;
        c->hl = hl;
        c->body_fd = -1;
        c->fields = fields;
        c->parser.fields = fields;
        c->parser.max_fields = s->cfg.max_headers;
        c->parser.max_head = s->cfg.max_header_bytes;
        c->parser.max_target = HTTP_MAX_TARGET;
        buf_init(&c->in, s->cfg.max_header_bytes + HTTP_READ_CHUNK);
        buf_init(&c->out, SIZE_MAX / 2);
        loop_timer_init(&c->timer, conn_on_timer);
        c->free_d.fn = conn_free_deferred;
        c->more_d.fn = conn_more_deferred;
        char host[INET6_ADDRSTRLEN] = "?";
        int port = 0;
        if (ss.ss_family == AF_INET) {
            inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host, sizeof(host));
            port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host, sizeof(host));
            port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        }
        snprintf(c->remote, sizeof(c->remote), "%s:%d", host, port);
        if (loop_io_add(hl->loop, &c->io, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET) != SV_OK) {
            close(fd);
            free(fields);
            free(c);
            atomic_fetch_sub(&s->nconns, 1);
            continue;
        }
        c->next = hl->conns;
        if (hl->conns)
            hl->conns->prev = c;
        hl->conns = c;
        hl->nconns++;
        http_stats_add(hl->stats, HTTP_STAT_OPEN, 1);
        http_stats_add(hl->stats, HTTP_STAT_ACCEPTED, 1);
        c->state = CONN_IDLE;
        conn_set_deadline(c, s->cfg.header_timeout_ms);
        /* Data often arrives with the connection (TCP_DEFER_ACCEPT-like): try now. */
        conn_run(c);
    }
}

/* ---- parking ---- */

static void
http_park_unref(http_park_t *pk)
{
    if (atomic_fetch_sub(&pk->refs, 1) == 1)
        free(pk);
}

static void
http_park_on_timeout(loop_timer_t *t)
{
    http_park_t *pk = (http_park_t *)((char *)t - offsetof(http_park_t, timer));
    http_request_t *r = pk->r;
    if (r == NULL)
        return;
    http_conn_t *c = r->conn;
    /* The park is over: its claim on r ends before on_timeout responds. */
    pk->r = NULL;
    r->park = NULL;
    http_stats_add(c->hl->stats, HTTP_STAT_PARKED, -1);
    c->in_callback = true;
    pk->on_timeout(r, NULL);
    c->in_callback = false;
    http_park_unref(pk);
    if (c->req != r)
        return; /* aborted from the callback */
    conn_after_handler(c, r->park ? SV_AGAIN : SV_OK);
    conn_run(c);
}

http_park_t *
http_park(http_request_t *r, uint64_t timeout_ms, http_resume_fn on_timeout)
{
    http_conn_t *c = r->conn;
    http_park_t *pk;

    if (r->park || c == NULL || c->in_blocking)
        return NULL;
    pk = calloc(1, sizeof(*pk));
    if (pk == NULL)
        return NULL;
    atomic_init(&pk->refs, 2); /* the request's claim and the holder's */
    pk->hl = c->hl;
    pk->r = r;
    pk->on_timeout = on_timeout;
    loop_timer_init(&pk->timer, http_park_on_timeout);
    if (timeout_ms && on_timeout &&
        loop_timer_arm(c->hl->loop, &pk->timer, loop_now(c->hl->loop) + timeout_ms) != SV_OK) {
        free(pk);
        return NULL;
    }
    r->park = pk;
    http_stats_add(c->hl->stats, HTTP_STAT_PARKED, 1);
    return pk;
}

static void
http_park_resume_task(void *arg)
{
    http_resume_task_t *t = arg;
    http_park_t *pk = t->pk;
    http_request_t *r = pk->r;

    if (r == NULL || loop_current() == NULL) {
        t->fn(NULL, t->arg);
    } else {
        http_conn_t *c = r->conn;
        pk->r = NULL;
        r->park = NULL;
        loop_timer_disarm(pk->hl->loop, &pk->timer);
        http_stats_add(c->hl->stats, HTTP_STAT_PARKED, -1);
        http_park_unref(pk); /* the request's claim */
        c->in_callback = true;
        t->fn(r, t->arg);
        c->in_callback = false;
        if (c->req == r) { /* not aborted from the callback */
            conn_after_handler(c, r->park ? SV_AGAIN : SV_OK);
            conn_run(c);
        }
    }
    http_park_unref(pk); /* the holder's claim */
    free(t);
}

int
http_park_resume(http_park_t *pk, http_resume_fn fn, void *arg)
{
    http_resume_task_t *t = malloc(sizeof(*t));
    if (t == NULL) {
        http_park_unref(pk);
        return SV_NO_MEMORY;
    }
    t->pk = pk;
    t->fn = fn;
    t->arg = arg;
    if (loop_post(pk->hl->loop, http_park_resume_task, t) != SV_OK) {
        free(t);
        http_park_unref(pk);
        return SV_NO_MEMORY;
    }
    return SV_OK;
}

void
http_park_release(http_park_t *pk)
{
    http_park_unref(pk);
}

/* ---- streams ---- */

int
http_server_request_flush(http_request_t *r)
{
    http_conn_t *c = r->conn;
    if (c == NULL || c->req != r)
        return SV_CONFLICT;
    if (c->state == CONN_STREAM_WAIT)
        c->state = CONN_WRITING;
    /* While the handler is still running (first write from inside it), the
     * state machine sends when the handler returns. */
    /* Inside a handler or a resume callback the request must outlive the
     * call: the caller runs the state machine when the callback returns.
     * Otherwise (a producer on the loop, outside any callback) send now. */
    if (!c->in_callback && c->state == CONN_WRITING && c->head_built)
        conn_run(c);
    return c->state == CONN_CLOSED ? SV_IO : SV_OK;
}

void
http_server_request_abort(http_request_t *r)
{
    http_conn_t *c = r->conn;
    if (c && c->req == r)
        conn_close(c);
}

/* ---- lifecycle ---- */

static void *
http_loop_main(void *arg)
{
    http_loop_t *hl = arg;
    char name[16];
    snprintf(name, sizeof(name), "http-%u", hl->id);
    pthread_setname_np(pthread_self(), name);
    loop_run(hl->loop);
    /* Drained or forced: close whatever is left. A connection whose request
     * is on a pool thread only gets close_requested; it is closed when the
     * pool hands it back, in loop_destroy(), after the pool is joined. */
    for (http_conn_t *c = hl->conns, *next; c; c = next) {
        next = c->next;
        conn_close(c);
    }
    return NULL;
}

int
http_server_create(const http_server_config_t *cfg, const router_t *rt, http_server_t **out,
                   char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *ai = NULL;
    char host[256], port[16];
    http_server_t *s;
    int rc = SV_ERROR;

    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return SV_NO_MEMORY;
    }
    s->cfg = *cfg;
    snprintf(s->listen, sizeof(s->listen), "%s", cfg->listen);
    snprintf(s->cors, sizeof(s->cors), "%s",
             cfg->cors_allow_origin ? cfg->cors_allow_origin : "");
    snprintf(s->tmp_dir, sizeof(s->tmp_dir), "%s", cfg->tmp_dir ? cfg->tmp_dir : "/tmp");
    s->cfg.listen = s->listen;
    s->cfg.cors_allow_origin = s->cors;
    s->cfg.tmp_dir = s->tmp_dir;
    s->router = rt;
    s->nroutes = router_count(rt);
    s->nloops = cfg->loops ? cfg->loops : 1;
    if (s->nloops > HTTP_MAX_LOOPS)
        s->nloops = HTTP_MAX_LOOPS;
    for (unsigned i = 0; i < s->nloops; i++)
        s->loops[i].listen_io.fd = -1;
    if (rnd_hex(s->id_prefix, 4) != SV_OK) {
        snprintf(err, errlen, "no random bytes");
        goto out;
    }
    if (http_parse_listen(cfg->listen, host, sizeof(host), port, sizeof(port)) != SV_OK) {
        snprintf(err, errlen, "listen address '%s' is not HOST:PORT", cfg->listen);
        rc = SV_BAD_DATA;
        goto out;
    }
    int gai = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai);
    if (gai != 0) {
        snprintf(err, errlen, "listen address '%s': %s", cfg->listen, gai_strerror(gai));
        rc = SV_BAD_DATA;
        goto out;
    }
    int bound_port = -1;
    for (unsigned i = 0; i < s->nloops; i++) {
        http_loop_t *hl = &s->loops[i];
        char e[200];
        hl->srv = s;
        hl->id = i;
        hl->listen_io.fd = http_listen_socket(ai, bound_port, e, sizeof(e));
        if (hl->listen_io.fd < 0) {
            snprintf(err, errlen, "cannot listen on %s: %s", cfg->listen, e);
            rc = SV_IO;
            goto out;
        }
        if (bound_port < 0) {
            struct sockaddr_storage ss;
            socklen_t sl = sizeof(ss);
            getsockname(hl->listen_io.fd, (struct sockaddr *)&ss, &sl);
            bound_port = ss.ss_family == AF_INET
                             ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
                             : ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        }
        hl->listen_io.on_event = http_on_accept;
        hl->loop = loop_create(i);
        hl->stats = http_stats_create(s->nroutes, cfg->access_log_fd);
        if (hl->loop == NULL || hl->stats == NULL) {
            snprintf(err, errlen, "out of memory");
            rc = SV_NO_MEMORY;
            goto out;
        }
        loop_timer_init(&hl->log_timer, http_log_timer);
    }
    s->port = bound_port;
    s->blocking = tpool_create("api", cfg->blocking_threads ? cfg->blocking_threads : 1,
                               HTTP_BLOCKING_QUEUE);
    if (s->blocking == NULL) {
        snprintf(err, errlen, "cannot start the blocking pool");
        goto out;
    }
    *out = s;
    s = NULL;
    rc = SV_OK;
out:
    if (ai)
        freeaddrinfo(ai);
    if (s)
        http_server_destroy(s);
    return rc;
}

int
http_server_start(http_server_t *s)
{
    for (unsigned i = 0; i < s->nloops; i++) {
        http_loop_t *hl = &s->loops[i];
        if (loop_io_add(hl->loop, &hl->listen_io, EPOLLIN | EPOLLEXCLUSIVE) != SV_OK)
            return SV_IO;
        if (pthread_create(&hl->thread, NULL, http_loop_main, hl) != 0)
            return SV_ERROR;
    }
    s->started = true;
    return SV_OK;
}

static void
http_drain_timeout(loop_timer_t *t)
{
    http_loop_t *hl = (http_loop_t *)((char *)t - offsetof(http_loop_t, drain_timer));
    log_warn("http", "loop %u: %llu connections still open at shutdown deadline; closing",
             hl->id, (unsigned long long)hl->nconns);
    loop_stop(hl->loop);
}

/* On the loop: stop accepting, close idle connections, stop when none remain. */
static void
http_drain_task(void *arg)
{
    http_loop_t *hl = arg;
    hl->draining = true;
    loop_io_del(hl->loop, &hl->listen_io);
    close(hl->listen_io.fd);
    hl->listen_io.fd = -1;
    for (http_conn_t *c = hl->conns, *next; c; c = next) {
        next = c->next;
        if ((c->state == CONN_IDLE && c->in.len == 0) || c->state == CONN_LINGER)
            conn_close(c);
    }
    if (http_stats_log_pending(hl->stats))
        http_stats_log_flush(hl->stats);
    if (hl->nconns == 0)
        loop_stop(hl->loop);
    else
        loop_timer_arm(hl->loop, &hl->drain_timer,
                       loop_now(hl->loop) + hl->srv->cfg.shutdown_timeout_ms);
}

void
http_server_shutdown(http_server_t *s)
{
    if (!s->started)
        return;
    for (unsigned i = 0; i < s->nloops; i++) {
        http_loop_t *hl = &s->loops[i];
        loop_timer_init(&hl->drain_timer, http_drain_timeout);
        if (loop_post(hl->loop, http_drain_task, hl) != SV_OK)
            loop_stop(hl->loop);
    }
    for (unsigned i = 0; i < s->nloops; i++)
        pthread_join(s->loops[i].thread, NULL);
    /* Pool threads may still be finishing handlers whose connections are gone. */
    tpool_destroy(s->blocking);
    s->blocking = NULL;
    for (unsigned i = 0; i < s->nloops; i++) {
        http_loop_t *hl = &s->loops[i];
        if (http_stats_log_pending(hl->stats))
            http_stats_log_flush(hl->stats);
    }
    s->started = false;
}

void
http_server_destroy(http_server_t *s)
{
    if (s == NULL)
        return;
    if (s->started)
        http_server_shutdown(s);
    if (s->blocking)
        tpool_destroy(s->blocking);
    for (unsigned i = 0; i < s->nloops; i++) {
        http_loop_t *hl = &s->loops[i];
        if (hl->listen_io.fd >= 0)
            close(hl->listen_io.fd);
        if (hl->loop)
            loop_destroy(hl->loop);
        http_stats_destroy(hl->stats);
    }
    free(s);
}

int
http_server_port(const http_server_t *s)
{
    return s->port;
}

int
http_server_metrics(http_server_t *s, buf_t *o)
{
    http_stats_t *stats[HTTP_MAX_LOOPS];
    for (unsigned i = 0; i < s->nloops; i++)
        stats[i] = s->loops[i].stats;
    return http_stats_write(stats, s->nloops, s->router, o);
}
