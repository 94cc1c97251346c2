/*
 * http.h: requests and responses as handlers see them.
 *
 * A request lives inside its own arena (r->arena): every string in it, and
 * everything a handler allocates from r->arena, is freed when the response
 * has been sent. A handler composes exactly one response with one of the
 * http_respond_*() functions (or begins a stream), then returns:
 *   SV_OK      a response was composed (or a stream begun); the server sends it;
 *   SV_AGAIN   the request was parked with http_park(); it is completed later;
 *   other < 0  the server answers with the error the status table maps it to.
 *
 * Handlers run on the request's event-loop thread, except handlers of routes
 * flagged HTTP_ROUTE_BLOCKING, which run on a worker thread of the blocking
 * pool (they may query a database) and must compose a complete response there
 * (no streaming, no parking). In both cases only one thread touches a request
 * at a time.
 */
#ifndef SV_HTTP_H
#define SV_HTTP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <jansson.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/str.h"

enum {
    HTTP_GET = 1 << 0,
    HTTP_HEAD = 1 << 1,
    HTTP_POST = 1 << 2,
    HTTP_PUT = 1 << 3,
    HTTP_DELETE = 1 << 4,
    HTTP_OPTIONS = 1 << 5,
    HTTP_PATCH = 1 << 6,
    HTTP_OTHER = 1 << 7,
};

/* Route flags. */
enum {
    HTTP_ROUTE_BLOCKING = 1 << 0, /* handler runs on the blocking pool */
    HTTP_ROUTE_UPLOAD = 1 << 1,   /* body up to http_max_upload_bytes, spooled to disk */
    HTTP_ROUTE_NO_LOG = 1 << 2,   /* not written to the access log (health probes) */
};

typedef struct http_request http_request_t;
typedef int (*http_handler_fn)(http_request_t *r);

typedef struct {
    str_t name;
    str_t value;
} http_header_t;

#define HTTP_MAX_PARAMS 8

typedef struct http_route {
    unsigned methods;
    const char *pattern; /* "/api/v1/jobs/{id}", "/media/{path*}" */
    http_handler_fn handler;
    unsigned flags;
    void *data; /* handler's own context, r->route->data */
    /* filled by the router */
    unsigned index;
} http_route_t;

typedef enum {
    HTTP_BODY_NONE = 0,
    HTTP_BODY_BUF,
    HTTP_BODY_FILE,
    HTTP_BODY_STREAM,
} http_body_kind_t;

typedef struct {
    int status;
    http_body_kind_t kind;
    const char *content_type; /* static or arena string */
    http_header_t *headers;   /* extra headers, arena memory */
    size_t nheaders, cap_headers;
    buf_t body; /* HTTP_BODY_BUF, and pending stream bytes */
    int fd;     /* HTTP_BODY_FILE; owned, closed by the server */
    uint64_t file_off, file_len;
    int64_t content_length; /* -1 when not known (streams) */
    bool composed;
    bool stream_ended;
    bool close; /* close the connection after this response */
} http_response_t;

struct http_conn;
struct http_park;

struct http_request {
    arena_t *arena;

    unsigned method; /* HTTP_GET ... */
    str_t method_name;
    str_t target; /* as received */
    str_t path;   /* percent-decoded, dot segments removed, NUL-terminated */
    str_t query;  /* raw, without '?' */
    int version_minor;
    http_header_t *headers;
    size_t nheaders;

    /* body: in memory (body.len bytes) or spooled to body_path */
    buf_t body;
    char *body_path; /* NULL when the body is in memory */
    uint64_t body_size;

    const http_route_t *route;
    str_t param_names[HTTP_MAX_PARAMS];
    str_t param_values[HTTP_MAX_PARAMS];
    unsigned nparams;

    char id[33];     /* request id, echoed in X-Request-Id */
    char remote[64]; /* peer address */
    uint64_t start_ns;
    bool keep_alive;
    bool head_only; /* HEAD: no body bytes are sent */

    http_response_t resp;
    struct http_conn *conn; /* private to the server */
    struct http_park *park; /* private to the server */
    void *server_data;      /* private to the server */
};

/* ---- reading the request ---- */

/* First header with that name (case-insensitive), or STR_NULL. */
str_t http_header_get(const http_request_t *r, const char *name);
/* Route parameter by name, or STR_NULL. Values are percent-decoded. */
str_t http_param(const http_request_t *r, const char *name);
/* Query parameter, percent-decoded into the arena ('+' is a space). SV_OK or SV_NOT_FOUND. */
int http_query_get(http_request_t *r, const char *name, str_t *out);

/* ---- composing the response ---- */

/* Adds a response header; both strings are copied into the arena. */
int http_header_add(http_request_t *r, const char *name, const char *value);
int http_header_addf(http_request_t *r, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The response body buffer; fill it, then call http_respond_body(). */
buf_t *http_body(http_request_t *r);
int http_respond_body(http_request_t *r, int status, const char *content_type);
/* Copies len bytes as the body. */
int http_respond(http_request_t *r, int status, const char *content_type, const void *body,
                 size_t len);
/* Serialises v (not consumed) as the body, application/json. */
int http_respond_json(http_request_t *r, int status, const json_t *v);
/* {"error":{"code":..,"message":..,"field":..}} with the given status. field may be NULL. */
int http_respond_error(http_request_t *r, int status, const char *code, const char *message,
                       const char *field);
/* The same, from a status (SV_*) through the one status table. */
int http_respond_status(http_request_t *r, int rc, const char *message, const char *field);

/*
 * Responds with a file: takes ownership of fd (closed when done, also on
 * error). Sets ETag and Last-Modified from st and applies the conditional
 * and Range headers of the request (304, 206, 412, 416 as RFC 9110 says).
 * cache_control may be NULL.
 */
int http_respond_file(http_request_t *r, int fd, const struct stat *st,
                      const char *content_type, const char *cache_control);

/*
 * Responds with part_len bytes of a file from part_off as the whole entity
 * (a segment inside a track file): takes ownership of fd like
 * http_respond_file(), uses the given strong etag (with its quotes) and
 * mtime as validators, and applies conditional and Range headers relative
 * to the part.
 */
int http_respond_file_part(http_request_t *r, int fd, uint64_t part_off, uint64_t part_len,
                           const char *etag, time_t mtime, const char *content_type,
                           const char *cache_control);

/*
 * Applies conditional headers to a response about to be sent with this
 * validator: answers 304 / 412 and returns SV_DECLINED when it did, SV_OK
 * when the handler should go on. etag includes its quotes.
 */
int http_check_preconditions(http_request_t *r, const char *etag, time_t last_modified);

/* ---- streaming (chunked for HTTP/1.1, close-delimited for 1.0) ---- */

int http_stream_begin(http_request_t *r, int status, const char *content_type);
/* Queues bytes; SV_TOO_BIG if the client is so slow that http_output_max_bytes
 * are already waiting (the connection is then closed). Loop thread only. */
int http_stream_write(http_request_t *r, const void *data, size_t len);
int http_stream_end(http_request_t *r);

/* ---- parking: finish a request later, from any thread (implemented in http_server.c) ---- */

typedef struct http_park http_park_t;
typedef void (*http_resume_fn)(http_request_t *r, void *arg);

/*
 * Parks r: the handler returns SV_AGAIN and the connection waits. After
 * timeout_ms (0: no timeout) on_timeout(r, NULL) runs on the loop and must
 * respond. The returned handle is owned by the caller, who must call exactly
 * one of http_park_resume() or http_park_release() on it. NULL on failure.
 */
http_park_t *http_park(http_request_t *r, uint64_t timeout_ms, http_resume_fn on_timeout);
/*
 * Any thread: runs fn(r, arg) on r's loop, where fn must respond (or park
 * again). If the client went away or the timeout already answered by then,
 * fn runs with r == NULL, so that it can free arg. The handle is consumed.
 * SV_OK, or SV_NO_MEMORY (then nothing runs and the handle is released).
 */
int http_park_resume(http_park_t *pk, http_resume_fn fn, void *arg);
/* Gives up a handle without resuming (the request then times out or closes). */
void http_park_release(http_park_t *pk);

/* ---- helpers ---- */

const char *http_status_reason(int status);
unsigned http_method_from_str(str_t m);
/* Decodes %XX escapes of s into the arena; with plus_space '+' becomes ' '.
 * SV_BAD_DATA for a bad escape or an encoded NUL. */
int http_percent_decode(arena_t *a, str_t s, bool plus_space, str_t *out);
/* Decodes and normalises a path (removes "." and ".." segments). SV_BAD_DATA
 * when it is malformed or climbs above the root. */
int http_path_normalize(arena_t *a, str_t raw, str_t *out);

#endif
