/*
 * http_client.h: outbound HTTP (ad servers, CDN purges, repair, webhooks)
 * through libcurl, never on an event loop thread.
 *
 * Two ways to call:
 *  - http_client_fetch(): synchronous, for job workers and pool threads;
 *  - http_client_submit(): asynchronous, from anywhere (an event loop
 *    included); the client's own thread drives every transfer with one
 *    curl multi handle, and the completion callback runs on the loop given
 *    in the request (or on the client's thread when none is given).
 * Every transfer has a connect timeout and a total timeout, and a ceiling
 * on the response body; connections are reused between transfers.
 */
#ifndef SV_HTTP_CLIENT_H
#define SV_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "net/loop.h"

typedef struct http_client http_client_t;

typedef struct {
    uint64_t timeout_ms; /* whole transfer */
    uint64_t connect_timeout_ms;
    size_t max_response_bytes; /* larger bodies fail the transfer with SV_TOO_BIG */
    unsigned max_connections;  /* cached connections per client */
    const char *user_agent;
} http_client_config_t;

#define HTTP_CLIENT_MAX_HEADERS 16

typedef struct {
    const char *method;                           /* "GET", "POST", "PURGE" ... (NULL: GET) */
    const char *url;                              /* http:// or https:// only */
    const char *headers[HTTP_CLIENT_MAX_HEADERS]; /* "Name: value", NULL-terminated */
    const void *body;                             /* sent as is; copied by submit */
    size_t body_len;
    uint64_t timeout_ms; /* 0: the client's */
} http_client_request_t;

typedef struct {
    int rc;          /* SV_OK when a response arrived (any status) */
    int status;      /* HTTP status, 0 if none */
    buf_t body;      /* owned: buf_free it (fetch) or valid during the callback */
    char error[256]; /* what went wrong when rc != SV_OK */
    char content_type[128];
    uint64_t elapsed_ms;
} http_client_response_t;

typedef void (*http_client_done_fn)(http_client_response_t *resp, void *arg);

/* Starts the client's thread. NULL with a message in err on failure. */
http_client_t *http_client_create(const http_client_config_t *cfg, char *err, size_t errlen);
/* Cancels what is still running (callbacks get rc = SV_UNAVAILABLE) and joins the thread. */
void http_client_destroy(http_client_t *c);

/*
 * Synchronous transfer on the calling thread (never call it on an event
 * loop). Fills *resp (buf_free(&resp->body) afterwards) and returns resp->rc:
 * SV_OK, SV_TIMEOUT, SV_TOO_BIG, SV_IO (connection failed), SV_BAD_DATA
 * (bad URL or method).
 */
int http_client_fetch(http_client_t *c, const http_client_request_t *req,
                      http_client_response_t *resp);

/*
 * Asynchronous transfer. The request is copied. done(resp, arg) runs once,
 * on loop if loop is not NULL (through loop_post), else on the client's
 * thread; resp and its body are valid only during the call.
 * SV_OK, SV_NO_MEMORY, SV_UNAVAILABLE (client stopping), SV_BAD_DATA.
 */
int http_client_submit(http_client_t *c, const http_client_request_t *req, loop_t *loop,
                       http_client_done_fn done, void *arg);

#endif
