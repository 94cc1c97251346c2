/*
 * http_client.c: libcurl easy handles for synchronous calls and one multi
 * handle on a dedicated thread for asynchronous ones.
 */
#include "net/http_client.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/status.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct http_transfer {
    struct http_transfer *next;
    struct http_transfer *active_prev, *active_next; /* in the multi handle */
    http_client_t *client;
    CURL *easy;
    struct curl_slist *headers;
    char *url, *method;
    void *body;
    size_t body_len;
    uint64_t timeout_ms;
    uint64_t start_ms;
    http_client_response_t resp;
    loop_t *loop;
    http_client_done_fn done;
    void *arg;
    bool too_big;
} http_transfer_t;

struct http_client {
    http_client_config_t cfg;
    char user_agent[128];
    CURLM *multi;
    CURLSH *share;
    pthread_mutex_t share_lock[CURL_LOCK_DATA_LAST];
    pthread_t thread;
    pthread_mutex_t lock;
    http_transfer_t *pending; /* submitted, not yet added to multi */
    http_transfer_t *active;  /* in the multi handle; client thread only */
    bool stopping;
    bool started;
};

static pthread_once_t http_client_once = PTHREAD_ONCE_INIT;
static CURLcode http_client_global_rc;

static void
http_client_global_init(void)
{
    http_client_global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void
http_share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *arg)
{
    http_client_t *c = arg;
    pthread_mutex_lock(&c->share_lock[data]);
}

static void
http_share_unlock(CURL *h, curl_lock_data data, void *arg)
{
    http_client_t *c = arg;
    pthread_mutex_unlock(&c->share_lock[data]);
}

/* ---- transfers ---- */

static size_t
http_client_write_cb(char *p, size_t size, size_t n, void *arg)
{
    http_transfer_t *t = arg;
    size_t len = size * n;
    if (buf_append(&t->resp.body, p, len) != SV_OK) {
        t->too_big = true;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    return len;
}

static void
http_transfer_free(http_transfer_t *t)
{
    if (t == NULL)
        return;
    if (t->easy)
        curl_easy_cleanup(t->easy);
    curl_slist_free_all(t->headers);
    free(t->url);
    free(t->method);
    free(t->body);
    buf_free(&t->resp.body);
    free(t);
}

static bool
http_client_url_ok(const char *url)
{
    return url && (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0);
}

static bool
http_client_method_ok(const char *m)
{
    if (m == NULL)
        return true;
    if (m[0] == '\0' || strlen(m) > 16)
        return false;
    for (const char *p = m; *p; p++) {
        if (!((*p >= 'A' && *p <= 'Z') || *p == '-' || *p == '_'))
            return false;
    }
    return true;
}

/* Builds a transfer (copying what the request points at). */
static int
http_transfer_new(http_client_t *c, const http_client_request_t *req, http_transfer_t **out)
{
    http_transfer_t *t;
    uint64_t timeout;

    if (!http_client_url_ok(req->url) || !http_client_method_ok(req->method))
        return SV_BAD_DATA;
    t = calloc(1, sizeof(*t));
    if (t == NULL)
        return SV_NO_MEMORY;
    t->client = c;
    buf_init(&t->resp.body, c->cfg.max_response_bytes);
    t->url = strdup(req->url);
    t->method = strdup(req->method ? req->method : "GET");
    t->easy = curl_easy_init();
    if (t->url == NULL || t->method == NULL || t->easy == NULL)
        goto nomem;
    if (req->body_len) {
        t->body = malloc(req->body_len);
        if (t->body == NULL)
            goto nomem;
        memcpy(t->body, req->body, req->body_len);
        t->body_len = req->body_len;
    }
    for (size_t i = 0; i < HTTP_CLIENT_MAX_HEADERS && req->headers[i]; i++) {
        if (strpbrk(req->headers[i], "\r\n")) {
            http_transfer_free(t);
            return SV_BAD_DATA;
        }
        struct curl_slist *l = curl_slist_append(t->headers, req->headers[i]);
        if (l == NULL)
            goto nomem;
        t->headers = l;
    }
    timeout = req->timeout_ms ? req->timeout_ms : c->cfg.timeout_ms;
    t->timeout_ms = timeout;

    CURL *e = t->easy;
    curl_easy_setopt(e, CURLOPT_URL, t->url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)timeout);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)c->cfg.connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, http_client_write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(e, CURLOPT_USERAGENT, c->user_agent);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
    curl_easy_setopt(e, CURLOPT_SHARE, c->share);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->cfg.max_response_bytes);
    curl_easy_setopt(e, CURLOPT_PRIVATE, t);
    if (strcmp(t->method, "GET") == 0) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(t->method, "HEAD") == 0) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, t->method);
    }
    if (t->body_len || strcmp(t->method, "POST") == 0 || strcmp(t->method, "PUT") == 0) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->body ? t->body : "");
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)t->body_len);
        if (strcmp(t->method, "POST") != 0)
            curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, t->method);
    }
    *out = t;
    return SV_OK;
nomem:
    http_transfer_free(t);
    return SV_NO_MEMORY;
}

/* Fills t->resp from a finished transfer. */
static void
http_transfer_finish(http_transfer_t *t, CURLcode cc)
{
    http_client_response_t *r = &t->resp;
    long status = 0;
    char *ctype = NULL;

    r->elapsed_ms = clock_mono_ms() - t->start_ms;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(t->easy, CURLINFO_CONTENT_TYPE, &ctype);
    r->status = (int)status;
    if (ctype)
        snprintf(r->content_type, sizeof(r->content_type), "%s", ctype);
    switch (cc) {
    case CURLE_OK:
        r->rc = SV_OK;
        return;
    case CURLE_OPERATION_TIMEDOUT:
        r->rc = SV_TIMEOUT;
        break;
    case CURLE_WRITE_ERROR:
    case CURLE_FILESIZE_EXCEEDED:
        r->rc = t->too_big || cc == CURLE_FILESIZE_EXCEEDED ? SV_TOO_BIG : SV_IO;
        break;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        r->rc = SV_BAD_DATA;
        break;
    default:
        r->rc = SV_IO;
    }
    if (r->rc == SV_TOO_BIG)
        snprintf(r->error, sizeof(r->error), "%s %s: response larger than %zu bytes", t->method,
                 t->url, t->client->cfg.max_response_bytes);
    else if (r->rc == SV_TIMEOUT)
        snprintf(r->error, sizeof(r->error), "%s %s: no complete response within %llu ms",
                 t->method, t->url, (unsigned long long)t->timeout_ms);
    else
        snprintf(r->error, sizeof(r->error), "%s %s: %s", t->method, t->url,
                 curl_easy_strerror(cc));
}

int
http_client_fetch(http_client_t *c, const http_client_request_t *req,
                  http_client_response_t *resp)
{
    http_transfer_t *t = NULL;
    int rc = http_transfer_new(c, req, &t);

    memset(resp, 0, sizeof(*resp));
    if (rc != SV_OK) {
        resp->rc = rc;
        snprintf(resp->error, sizeof(resp->error), "%s",
                 rc == SV_BAD_DATA
                     ? "only http:// and https:// URLs and plain methods are allowed"
                     : "out of memory");
        return rc;
    }
    t->start_ms = clock_mono_ms();
    http_transfer_finish(t, curl_easy_perform(t->easy));
    *resp = t->resp;
    buf_init(&t->resp.body, 0); /* the body now belongs to the caller */
    http_transfer_free(t);
    return resp->rc;
}

/* ---- the asynchronous side ---- */

static void
http_client_active_remove(http_client_t *c, http_transfer_t *t)
{
    if (t->active_prev)
        t->active_prev->active_next = t->active_next;
    else
        c->active = t->active_next;
    if (t->active_next)
        t->active_next->active_prev = t->active_prev;
    t->active_prev = t->active_next = NULL;
}

static void
http_client_deliver_task(void *arg)
{
    http_transfer_t *t = arg;
    t->done(&t->resp, t->arg);
    http_transfer_free(t);
}

static void
http_client_deliver(http_transfer_t *t)
{
    if (t->loop && loop_post(t->loop, http_client_deliver_task, t) == SV_OK)
        return;
    http_client_deliver_task(t);
}

static void *
http_client_main(void *arg)
{
    http_client_t *c = arg;
    int running = 0;

    pthread_setname_np(pthread_self(), "http-client");
    for (;;) {
        pthread_mutex_lock(&c->lock);
        http_transfer_t *list = c->pending;
        c->pending = NULL;
        bool stopping = c->stopping;
        pthread_mutex_unlock(&c->lock);

        for (http_transfer_t *t = list, *next; t; t = next) {
            next = t->next;
            t->start_ms = clock_mono_ms();
            if (stopping || curl_multi_add_handle(c->multi, t->easy) != CURLM_OK) {
                t->resp.rc = SV_UNAVAILABLE;
                snprintf(t->resp.error, sizeof(t->resp.error), "client stopping");
                http_client_deliver(t);
                continue;
            }
            t->active_next = c->active;
            if (c->active)
                c->active->active_prev = t;
            c->active = t;
        }
        if (stopping)
            break;
        curl_multi_perform(c->multi, &running);
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(c->multi, &left)) != NULL) {
            if (m->msg != CURLMSG_DONE)
                continue;
            http_transfer_t *t = NULL;
            CURL *e = m->easy_handle;
            CURLcode cc = m->data.result;
            curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&t);
            curl_multi_remove_handle(c->multi, e);
            http_client_active_remove(c, t);
            http_transfer_finish(t, cc);
            http_client_deliver(t);
        }
        curl_multi_poll(c->multi, NULL, 0, 1000, NULL);
    }
    /* Stopping: cancel what is still in flight. */
    while (c->active) {
        http_transfer_t *t = c->active;
        http_client_active_remove(c, t);
        curl_multi_remove_handle(c->multi, t->easy);
        t->resp.rc = SV_UNAVAILABLE;
        snprintf(t->resp.error, sizeof(t->resp.error), "%s %s: client stopped", t->method,
                 t->url);
        http_client_deliver(t);
    }
    return NULL;
}

int
http_client_submit(http_client_t *c, const http_client_request_t *req, loop_t *loop,
                   http_client_done_fn done, void *arg)
{
    http_transfer_t *t = NULL;
    int rc = http_transfer_new(c, req, &t);
    if (rc != SV_OK)
        return rc;
    t->loop = loop;
    t->done = done;
    t->arg = arg;
    pthread_mutex_lock(&c->lock);
    if (c->stopping) {
        pthread_mutex_unlock(&c->lock);
        http_transfer_free(t);
        return SV_UNAVAILABLE;
    }
    t->next = c->pending;
    c->pending = t;
    pthread_mutex_unlock(&c->lock);
    curl_multi_wakeup(c->multi);
    return SV_OK;
}

http_client_t *
http_client_create(const http_client_config_t *cfg, char *err, size_t errlen)
{
    http_client_t *c;

    pthread_once(&http_client_once, http_client_global_init);
    if (http_client_global_rc != CURLE_OK) {
        snprintf(err, errlen, "libcurl: %s", curl_easy_strerror(http_client_global_rc));
        return NULL;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->cfg = *cfg;
    if (c->cfg.timeout_ms == 0)
        c->cfg.timeout_ms = 10000;
    if (c->cfg.connect_timeout_ms == 0)
        c->cfg.connect_timeout_ms = 3000;
    if (c->cfg.max_response_bytes == 0)
        c->cfg.max_response_bytes = 16u << 20;
    snprintf(c->user_agent, sizeof(c->user_agent), "%s",
             cfg->user_agent ? cfg->user_agent : "streamverse");
    pthread_mutex_init(&c->lock, NULL);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&c->share_lock[i], NULL);
    c->multi = curl_multi_init();
    c->share = curl_share_init();
    if (c->multi == NULL || c->share == NULL) {
        snprintf(err, errlen, "libcurl: cannot create handles");
        goto fail;
    }
    curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, http_share_lock);
    curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, http_share_unlock);
    curl_share_setopt(c->share, CURLSHOPT_USERDATA, c);
    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
    curl_multi_setopt(c->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
                      (long)(cfg->max_connections ? cfg->max_connections : 64));
    if (pthread_create(&c->thread, NULL, http_client_main, c) != 0) {
        snprintf(err, errlen, "cannot start the client thread");
        goto fail;
    }
    c->started = true;
    return c;
fail:
    http_client_destroy(c);
    return NULL;
}

void
http_client_destroy(http_client_t *c)
{
    if (c == NULL)
        return;
    if (c->started) {
        pthread_mutex_lock(&c->lock);
        c->stopping = true;
        pthread_mutex_unlock(&c->lock);
        curl_multi_wakeup(c->multi);
        pthread_join(c->thread, NULL);
    }
    if (c->multi)
        curl_multi_cleanup(c->multi);
    if (c->share)
        curl_share_cleanup(c->share);
    pthread_mutex_destroy(&c->lock);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&c->share_lock[i]);
    free(c);
}
