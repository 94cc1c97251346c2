/*
 * http_stats.h: what the HTTP server counts and logs, one http_stats_t per
 * event loop.
 *
 * The loop is the only writer of its stats (relaxed atomic stores, no
 * locks); any thread may read them, which http_stats_write() does to sum
 * every loop's figures into Prometheus text. The access log is buffered per
 * loop and written with one write(2) per flush: at HTTP_STATS_LOG_FLUSH
 * bytes, or when the server's one-second timer calls http_stats_log_flush().
 */
#ifndef SV_HTTP_STATS_H
#define SV_HTTP_STATS_H

#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "net/http.h"
#include "net/router.h"

#define HTTP_STATS_LOG_FLUSH 32768

typedef struct http_stats http_stats_t;

typedef enum {
    HTTP_STAT_OPEN = 0, /* connections open now */
    HTTP_STAT_ACCEPTED, /* connections accepted */
    HTTP_STAT_REJECTED, /* connections refused at the limit */
    HTTP_STAT_TIMEOUTS, /* connections closed by a timeout */
    HTTP_STAT_PARKED,   /* requests parked now */
    HTTP_STAT_BYTES,    /* response bytes sent */
    HTTP_STAT_COUNT_,
} http_stat_t;

/* nroutes: the router's size (one more slot counts unmatched requests).
 * access_log_fd: -1 for none; the caller keeps it open. NULL on failure. */
http_stats_t *http_stats_create(size_t nroutes, int access_log_fd);
void http_stats_destroy(http_stats_t *st);

/* Adds delta (may be negative) to a counter. Loop thread only. */
void http_stats_add(http_stats_t *st, http_stat_t which, int64_t delta);

/*
 * Records one answered request: its route's status count and latency
 * histogram, the bytes, and (unless the route is HTTP_ROUTE_NO_LOG or there
 * is no access log) one JSON line with the request id. Loop thread only.
 */
void http_stats_request(http_stats_t *st, const http_request_t *r, size_t route_index,
                        uint64_t bytes_sent, uint64_t duration_ns);

/* Access-log bytes waiting for a flush. */
bool http_stats_log_pending(const http_stats_t *st);
/* Writes what is buffered (best effort: a failed write is not retried). */
void http_stats_log_flush(http_stats_t *st);

/* Appends the sum over loops in Prometheus text format. Any thread. */
int http_stats_write(http_stats_t *const *loops, unsigned nloops, const router_t *rt,
                     buf_t *out);

#endif
