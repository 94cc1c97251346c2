/*
 * http_stats.c: per-loop counters, latency histograms by route, the access
 * log, and their Prometheus text.
 */
#include "net/http_stats.h"
#include "base/clock.h"
#include "base/status.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

static const int http_stats_codes[] = {
    100, 200, 201, 202, 204, 206, 301, 302, 303, 304, 307, 308, 400, 401, 403, 404, 405,
    408, 409, 411, 412, 413, 414, 415, 416, 422, 429, 431, 500, 501, 502, 503, 504, 505};
#define HTTP_NCODES (sizeof(http_stats_codes) / sizeof(http_stats_codes[0]))
#define HTTP_NSLOTS (HTTP_NCODES + 1) /* last: any other code */

static const double http_stats_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                           0.1,    0.25,  0.5,    1,     2.5,  5,     10};
#define HTTP_NBUCKETS (sizeof(http_stats_bounds) / sizeof(http_stats_bounds[0]) + 1)

typedef struct {
    _Atomic uint64_t count[HTTP_NSLOTS];
    _Atomic uint64_t latency[HTTP_NBUCKETS];
    _Atomic uint64_t latency_sum_us;
} http_route_stats_t;

struct http_stats {
    size_t nroutes;
    int access_log_fd;
    buf_t log;
    _Atomic uint64_t counters[HTTP_STAT_COUNT_];
    http_route_stats_t routes[]; /* nroutes + 1 */
};

/* One writer (the loop), any reader: relaxed load + store is enough. */
#define STAT_ADD(x, n)                                                                         \
    atomic_store_explicit(&(x), atomic_load_explicit(&(x), memory_order_relaxed) + (n),        \
                          memory_order_relaxed)
#define STAT_GET(x) atomic_load_explicit(&(x), memory_order_relaxed)

http_stats_t *
http_stats_create(size_t nroutes, int access_log_fd)
{
    http_stats_t *st = calloc(1, sizeof(*st) + (nroutes + 1) * sizeof(http_route_stats_t));
    if (st == NULL)
        return NULL;
    st->nroutes = nroutes;
    st->access_log_fd = access_log_fd;
    buf_init(&st->log, 1 << 20);
    return st;
}

void
http_stats_destroy(http_stats_t *st)
{
    if (st == NULL)
        return;
    buf_free(&st->log);
    free(st);
}

void
http_stats_add(http_stats_t *st, http_stat_t which, int64_t delta)
{
    STAT_ADD(st->counters[which], (uint64_t)delta);
}

static size_t
http_stats_slot(int status)
{
    for (size_t i = 0; i < HTTP_NCODES; i++) {
        if (http_stats_codes[i] == status)
            return i;
    }
    return HTTP_NCODES;
}

bool
http_stats_log_pending(const http_stats_t *st)
{
    return st->log.len > 0;
}

void
http_stats_log_flush(http_stats_t *st)
{
    size_t off = 0;
    while (off < st->log.len) {
        ssize_t w = write(st->access_log_fd, st->log.data + off, st->log.len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break; /* the log is best effort; the request is not failed for it */
        off += (size_t)w;
    }
    buf_reset(&st->log);
}

void
http_stats_request(http_stats_t *st, const http_request_t *r, size_t route_index,
                   uint64_t bytes_sent, uint64_t duration_ns)
{
    http_route_stats_t *m = &st->routes[route_index <= st->nroutes ? route_index : st->nroutes];
    double secs = (double)duration_ns / 1e9;
    size_t b = 0;

    STAT_ADD(m->count[http_stats_slot(r->resp.status)], 1);
    while (b < HTTP_NBUCKETS - 1 && secs > http_stats_bounds[b])
        b++;
    STAT_ADD(m->latency[b], 1);
    STAT_ADD(m->latency_sum_us, duration_ns / 1000);
    STAT_ADD(st->counters[HTTP_STAT_BYTES], bytes_sent);

    if (st->access_log_fd < 0 || (r->route && (r->route->flags & HTTP_ROUTE_NO_LOG)))
        return;
    char ts[CLOCK_ISO_LEN + 1];
    buf_t *L = &st->log;
    clock_iso8601(clock_wall_ms(), ts);
    buf_appendf(L, "{\"ts\":\"%s\",\"id\":\"%s\",\"remote\":\"", ts, r->id);
    buf_append_json_escaped(L, str_from_cstr(r->remote));
    buf_append_cstr(L, "\",\"method\":\"");
    buf_append_json_escaped(L, r->method_name);
    buf_append_cstr(L, "\",\"target\":\"");
    buf_append_json_escaped(L, r->target.len > 2048 ? str_make(r->target.p, 2048) : r->target);
    buf_appendf(L, "\",\"status\":%d,\"bytes\":%llu,\"ms\":%.3f,\"route\":\"", r->resp.status,
                (unsigned long long)bytes_sent, (double)duration_ns / 1e6);
    buf_append_cstr(L, r->route ? r->route->pattern : "");
    buf_append_cstr(L, "\",\"ua\":\"");
    str_t ua = http_header_get(r, "User-Agent");
    buf_append_json_escaped(L, ua.len > 256 ? str_make(ua.p, 256) : ua);
    buf_append_cstr(L, "\"}\n");
    if (L->len >= HTTP_STATS_LOG_FLUSH)
        http_stats_log_flush(st);
}

int
http_stats_write(http_stats_t *const *loops, unsigned nloops, const router_t *rt, buf_t *o)
{
    uint64_t c[HTTP_STAT_COUNT_] = {0};
    size_t nroutes = router_count(rt);
    int rc = SV_OK;

    for (unsigned i = 0; i < nloops; i++)
        for (int k = 0; k < HTTP_STAT_COUNT_; k++)
            c[k] += STAT_GET(loops[i]->counters[k]);
    rc |= buf_appendf(
        o,
        "# HELP streamverse_http_connections_open Open client connections.\n"
        "# TYPE streamverse_http_connections_open gauge\n"
        "streamverse_http_connections_open %llu\n"
        "# HELP streamverse_http_connections_accepted_total Connections accepted.\n"
        "# TYPE streamverse_http_connections_accepted_total counter\n"
        "streamverse_http_connections_accepted_total %llu\n"
        "# HELP streamverse_http_connections_rejected_total Connections refused at the "
        "connection limit.\n"
        "# TYPE streamverse_http_connections_rejected_total counter\n"
        "streamverse_http_connections_rejected_total %llu\n"
        "# HELP streamverse_http_timeouts_total Connections closed by a timeout.\n"
        "# TYPE streamverse_http_timeouts_total counter\n"
        "streamverse_http_timeouts_total %llu\n"
        "# HELP streamverse_http_parked_requests Requests parked right now.\n"
        "# TYPE streamverse_http_parked_requests gauge\n"
        "streamverse_http_parked_requests %llu\n"
        "# HELP streamverse_http_sent_bytes_total Response bytes sent.\n"
        "# TYPE streamverse_http_sent_bytes_total counter\n"
        "streamverse_http_sent_bytes_total %llu\n",
        (unsigned long long)c[HTTP_STAT_OPEN], (unsigned long long)c[HTTP_STAT_ACCEPTED],
        (unsigned long long)c[HTTP_STAT_REJECTED], (unsigned long long)c[HTTP_STAT_TIMEOUTS],
        (unsigned long long)c[HTTP_STAT_PARKED], (unsigned long long)c[HTTP_STAT_BYTES]);

    rc |= buf_append_cstr(o, "# HELP streamverse_http_requests_total Requests answered, by "
                             "route and status.\n"
                             "# TYPE streamverse_http_requests_total counter\n");
    for (size_t ri = 0; ri <= nroutes; ri++) {
        const char *name = ri < nroutes ? router_get(rt, ri)->pattern : "unmatched";
        for (size_t k = 0; k < HTTP_NSLOTS; k++) {
            uint64_t n = 0;
            for (unsigned i = 0; i < nloops; i++)
                n += STAT_GET(loops[i]->routes[ri].count[k]);
            if (n == 0)
                continue;
            if (k < HTTP_NCODES)
                rc |= buf_appendf(o,
                                  "streamverse_http_requests_total{route=\"%s\",status=\"%d\"} "
                                  "%llu\n",
                                  name, http_stats_codes[k], (unsigned long long)n);
            else
                rc |= buf_appendf(o,
                                  "streamverse_http_requests_total{route=\"%s\",status="
                                  "\"other\"} %llu\n",
                                  name, (unsigned long long)n);
        }
    }
    rc |= buf_append_cstr(o, "# HELP streamverse_http_request_duration_seconds Time from the "
                             "first byte of a request to its last response byte.\n"
                             "# TYPE streamverse_http_request_duration_seconds histogram\n");
    for (size_t ri = 0; ri <= nroutes; ri++) {
        const char *name = ri < nroutes ? router_get(rt, ri)->pattern : "unmatched";
        uint64_t cum = 0, sum_us = 0, total = 0;
        uint64_t per[HTTP_NBUCKETS] = {0};
        for (unsigned i = 0; i < nloops; i++) {
            const http_route_stats_t *m = &loops[i]->routes[ri];
            for (size_t b = 0; b < HTTP_NBUCKETS; b++)
                per[b] += STAT_GET(m->latency[b]);
            sum_us += STAT_GET(m->latency_sum_us);
        }
        for (size_t b = 0; b < HTTP_NBUCKETS; b++)
            total += per[b];
        if (total == 0)
            continue;
        for (size_t b = 0; b < HTTP_NBUCKETS; b++) {
            cum += per[b];
            if (b < HTTP_NBUCKETS - 1)
                rc |=
                    buf_appendf(o,
                                "streamverse_http_request_duration_seconds_bucket{route=\"%s\","
                                "le=\"%g\"} %llu\n",
                                name, http_stats_bounds[b], (unsigned long long)cum);
            else
                rc |=
                    buf_appendf(o,
                                "streamverse_http_request_duration_seconds_bucket{route=\"%s\","
                                "le=\"+Inf\"} %llu\n",
                                name, (unsigned long long)cum);
        }
        rc |=
            buf_appendf(o, "streamverse_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n",
                        name, (double)sum_us / 1e6);
        rc |= buf_appendf(
            o, "streamverse_http_request_duration_seconds_count{route=\"%s\"} %llu\n", name,
            (unsigned long long)total);
    }
    return rc == SV_OK ? SV_OK : SV_NO_MEMORY;
}
