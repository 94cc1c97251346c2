/*
 * http_server.h: the HTTP/1.1 server: listeners, connections, event loops.
 *
 * http_server_create() binds the listening sockets (one per loop, with
 * SO_REUSEPORT, so the kernel spreads connections); http_server_start()
 * starts one thread per loop; http_server_shutdown() stops accepting, lets
 * in-flight requests finish (up to shutdown_timeout_ms), and joins the
 * threads. Routes are matched with a router_t that must outlive the server.
 */
#ifndef SV_HTTP_SERVER_H
#define SV_HTTP_SERVER_H

#include <stdint.h>

#include "base/buf.h"
#include "net/http.h"
#include "net/router.h"

typedef struct http_server http_server_t;

typedef struct {
    const char *listen;        /* "HOST:PORT"; port 0 picks a free port */
    unsigned loops;            /* event-loop threads, >= 1 */
    unsigned blocking_threads; /* threads for HTTP_ROUTE_BLOCKING handlers */
    uint64_t max_connections;
    uint32_t max_header_bytes;
    uint32_t max_headers;
    uint64_t max_body_bytes;
    uint64_t max_upload_bytes;
    uint64_t body_memory_bytes; /* larger upload bodies are spooled to tmp_dir */
    uint64_t output_max_bytes;  /* queued response bytes per connection */
    uint64_t header_timeout_ms;
    uint64_t body_timeout_ms;
    uint64_t send_timeout_ms;
    uint64_t keepalive_timeout_ms;
    uint64_t keepalive_requests;
    uint64_t shutdown_timeout_ms;
    const char *cors_allow_origin; /* "" disables CORS headers */
    const char *tmp_dir;           /* where request bodies are spooled */
    int access_log_fd;             /* -1: no access log */
} http_server_config_t;

/* Binds the listeners. SV_OK, or an error with a message in err. */
int http_server_create(const http_server_config_t *cfg, const router_t *rt, http_server_t **out,
                       char *err, size_t errlen);
int http_server_start(http_server_t *s);
/* Graceful stop; returns when every loop thread has exited. Any thread. */
void http_server_shutdown(http_server_t *s);
void http_server_destroy(http_server_t *s);
/* The port actually bound. */
int http_server_port(const http_server_t *s);
/* Appends the server's metrics in Prometheus text format. */
int http_server_metrics(http_server_t *s, buf_t *out);

/* For net/http.c: push queued stream bytes out / give up on a request. */
int http_server_request_flush(http_request_t *r);
void http_server_request_abort(http_request_t *r);

#endif
