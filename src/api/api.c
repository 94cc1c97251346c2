/*
 * api.c: health, readiness, metrics, OpenAPI, jobs and static files.
 *
 * Handlers that touch the database are HTTP_ROUTE_BLOCKING: they run on the
 * blocking pool, each pool thread with its own database connection (opened
 * on first use, closed when the thread exits).
 */
#include "api/api.h"
#include "base/clock.h"
#include "base/filecache.h"
#include "base/jsonx.h"
#include "base/log.h"
#include "base/status.h"
#include "net/mime.h"
#include "store/db.h"
#include "store/jobs.h"
#include "vod/assets.h"
#include "vod/ingest.h"
#include "vod/origin.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef SV_VERSION
#define SV_VERSION "0.1.0"
#endif

struct api {
    const config_t *cfg;
    http_server_t *_Atomic server;
    char media_dir[CONFIG_STR_MAX + 8];
    char web_root[CONFIG_STR_MAX];
    int64_t started_ms;
    pthread_key_t db_key;
    origin_t *origin;
};

static void
api_db_close(void *p)
{
    db_close(p);
}

api_t *
api_create(const config_t *cfg, const char *web_root)
{
    api_t *api = calloc(1, sizeof(*api));
    if (api == NULL)
        return NULL;
    api->cfg = cfg;
    snprintf(api->media_dir, sizeof(api->media_dir), "%s/media", cfg->data_dir);
    snprintf(api->web_root, sizeof(api->web_root), "%s", web_root);
    api->started_ms = clock_wall_ms();
    if ((api->origin = origin_create(cfg)) == NULL) {
        free(api);
        return NULL;
    }
    if (pthread_key_create(&api->db_key, api_db_close) != 0) {
        origin_destroy(api->origin);
        free(api);
        return NULL;
    }
    return api;
}

void
api_destroy(api_t *api)
{
    if (api == NULL)
        return;
    db_t *db = pthread_getspecific(api->db_key);
    if (db)
        db_close(db);
    pthread_key_delete(api->db_key);
    origin_destroy(api->origin);
    free(api);
}

void
api_set_server(api_t *api, http_server_t *srv)
{
    atomic_store(&api->server, srv);
}

/* This thread's database connection (blocking handlers only). */
static int
api_db(api_t *api, db_t **out)
{
    db_t *db = pthread_getspecific(api->db_key);
    char err[256];

    if (db == NULL) {
        int rc = db_open(api->cfg->database, api->cfg->data_dir, &db, err, sizeof(err));
        if (rc != SV_OK) {
            log_error("api", "cannot open the database: %s", err);
            return rc;
        }
        pthread_setspecific(api->db_key, db);
    }
    *out = db;
    return SV_OK;
}

static api_t *
api_of(http_request_t *r)
{
    return r->route->data;
}

/*
 * Operator routes answer only on loopback until accounts and roles exist
 * (the accounts issue replaces this with the admin role).
 */
static bool
api_is_loopback(const http_request_t *r)
{
    return strncmp(r->remote, "127.", 4) == 0 || strncmp(r->remote, "::1", 3) == 0 ||
           strncmp(r->remote, "::ffff:127.", 11) == 0;
}

/* ---- health ---- */

static int
api_healthz(http_request_t *r)
{
    static const char body[] = "{\"status\":\"ok\"}\n";
    http_header_add(r, "Cache-Control", "no-store");
    return http_respond(r, 200, "application/json", body, sizeof(body) - 1);
}

static int
api_readyz(http_request_t *r)
{
    db_t *db;
    db_stmt_t *st = NULL;
    int rc = api_db(api_of(r), &db);

    http_header_add(r, "Cache-Control", "no-store");
    if (rc == SV_OK)
        rc = db_prepare(db, "SELECT 1", &st);
    if (rc == SV_OK)
        rc = db_step(st);
    db_finalize(st);
    if (rc != DB_ROW)
        return http_respond_error(r, 503, "unavailable", "database not reachable", NULL);
    static const char body[] = "{\"status\":\"ready\"}\n";
    return http_respond(r, 200, "application/json", body, sizeof(body) - 1);
}

/* ---- metrics ---- */

static int
api_metrics(http_request_t *r)
{
    api_t *api = api_of(r);
    buf_t *b = http_body(r);
    http_server_t *srv = atomic_load(&api->server);
    int64_t counts[JOB_STATE_COUNT] = {0};
    db_t *db;
    int rc;

    rc = buf_appendf(b,
                     "# HELP streamverse_build_info Build information.\n"
                     "# TYPE streamverse_build_info gauge\n"
                     "streamverse_build_info{version=\"%s\"} 1\n"
                     "# HELP streamverse_start_time_seconds Start time, Unix seconds.\n"
                     "# TYPE streamverse_start_time_seconds gauge\n"
                     "streamverse_start_time_seconds %lld\n",
                     SV_VERSION, (long long)(api->started_ms / 1000));
    if (rc == SV_OK && srv)
        rc = http_server_metrics(srv, b);
    if (rc != SV_OK)
        return rc;
    bool have_jobs = api_db(api, &db) == SV_OK && jobs_count_by_state(db, counts) == SV_OK;
    rc = buf_append_cstr(b, "# HELP streamverse_jobs Jobs in the queue, by state.\n"
                            "# TYPE streamverse_jobs gauge\n");
    for (int s = 0; rc == SV_OK && have_jobs && s < JOB_STATE_COUNT; s++)
        rc = buf_appendf(b, "streamverse_jobs{state=\"%s\"} %lld\n",
                         jobs_state_name((job_state_t)s), (long long)counts[s]);
    if (rc == SV_OK)
        rc = buf_appendf(b,
                         "# HELP streamverse_jobs_queue_depth Jobs waiting to run.\n"
                         "# TYPE streamverse_jobs_queue_depth gauge\n"
                         "streamverse_jobs_queue_depth %lld\n"
                         "# HELP streamverse_database_up Whether the database answered.\n"
                         "# TYPE streamverse_database_up gauge\n"
                         "streamverse_database_up %d\n",
                         (long long)counts[JOB_QUEUED], have_jobs ? 1 : 0);
    if (rc != SV_OK)
        return rc;
    http_header_add(r, "Cache-Control", "no-store");
    return http_respond_body(r, 200, "text/plain; version=0.0.4; charset=utf-8");
}

/* ---- OpenAPI ---- */

static int
api_openapi(http_request_t *r)
{
    http_header_add(r, "Cache-Control", "public, max-age=300");
    return http_respond(r, 200, "application/json", api_openapi_json, api_openapi_json_len);
}

/* ---- jobs ---- */

static json_t *
api_time_json(int64_t ms)
{
    char iso[CLOCK_ISO_LEN + 1];
    if (ms <= 0)
        return json_null();
    clock_iso8601(ms, iso);
    return json_string(iso);
}

static json_t *
api_job_json(const job_t *j)
{
    json_t *o = json_object();
    json_t *payload = NULL;
    char err[128];

    if (o == NULL)
        return NULL;
    if (jsonx_parse(str_make(j->payload, j->payload_len), 64, &payload, err, sizeof(err)) !=
        SV_OK)
        payload = json_null();
    json_object_set_new(o, "id", json_integer(j->id));
    json_object_set_new(o, "kind", json_string(j->kind));
    json_object_set_new(o, "state", json_string(jobs_state_name(j->state)));
    json_object_set_new(o, "priority", json_integer(j->priority));
    json_object_set_new(o, "attempts", json_integer(j->attempts));
    json_object_set_new(o, "max_attempts", json_integer(j->max_attempts));
    json_object_set_new(o, "progress", json_real(j->progress_permille / 1000.0));
    json_object_set_new(o, "progress_message",
                        j->progress_msg ? json_string(j->progress_msg) : json_null());
    json_object_set_new(o, "error", j->error ? json_string(j->error) : json_null());
    json_object_set_new(o, "worker", j->worker[0] ? json_string(j->worker) : json_null());
    json_object_set_new(o, "payload", payload);
    json_object_set_new(o, "run_at", api_time_json(j->run_at_ms));
    json_object_set_new(o, "created_at", api_time_json(j->created_at_ms));
    json_object_set_new(o, "updated_at", api_time_json(j->updated_at_ms));
    json_object_set_new(o, "finished_at", api_time_json(j->finished_at_ms));
    return o;
}

typedef struct {
    json_t *items;
} api_job_page_t;

static int
api_job_page_add(void *arg, const job_t *job)
{
    api_job_page_t *pg = arg;
    json_t *o = api_job_json(job);
    if (o == NULL || json_array_append_new(pg->items, o) != 0)
        return SV_NO_MEMORY;
    return SV_OK;
}

/* Reads ?limit= and ?cursor= by the API's conventions. Responds on error. */
static int
api_page_params(http_request_t *r, int64_t *limit, int64_t *after)
{
    const config_t *cfg = api_of(r)->cfg;
    str_t v;
    uint64_t n;

    *limit = cfg->api_page_default;
    *after = 0;
    if (http_query_get(r, "limit", &v) == SV_OK) {
        if (str_to_u64(v, &n) != SV_OK || n < 1 || n > (uint64_t)cfg->api_page_max) {
            char msg[96];
            snprintf(msg, sizeof(msg), "limit must be a whole number from 1 to %lld",
                     (long long)cfg->api_page_max);
            http_respond_error(r, 400, "bad_request", msg, "limit");
            return SV_DECLINED;
        }
        *limit = (int64_t)n;
    }
    if (http_query_get(r, "cursor", &v) == SV_OK && v.len > 0) {
        if (str_to_u64(v, &n) != SV_OK || n > INT64_MAX) {
            http_respond_error(r, 400, "bad_request", "cursor is not one this API gave out",
                               "cursor");
            return SV_DECLINED;
        }
        *after = (int64_t)n;
    }
    return SV_OK;
}

/*
 * Answers a page by the API's conventions from items fetched with limit + 1
 * (one more than asked tells whether another page follows): the extra item
 * is dropped and the last kept id becomes next_cursor (null on the last
 * page). items is not consumed.
 */
static int
api_respond_page(http_request_t *r, json_t *items, int64_t limit)
{
    char cursor[24] = "";
    json_t *doc;
    int rc;

    if ((int64_t)json_array_size(items) > limit) {
        json_array_remove(items, (size_t)limit);
        json_t *last = json_array_get(items, (size_t)limit - 1);
        snprintf(cursor, sizeof(cursor), "%lld",
                 (long long)json_integer_value(json_object_get(last, "id")));
    }
    doc = json_pack("{s:O,s:o}", "items", items, "next_cursor",
                    cursor[0] ? json_string(cursor) : json_null());
    if (doc == NULL)
        return SV_NO_MEMORY;
    http_header_add(r, "Cache-Control", "no-store");
    rc = http_respond_json(r, 200, doc);
    json_decref(doc);
    return rc;
}

static int
api_jobs_list(http_request_t *r)
{
    api_t *api = api_of(r);
    api_job_page_t pg = {0};
    const char *state = NULL;
    int64_t limit, after;
    db_t *db;
    str_t v;
    int rc;

    if (!api_is_loopback(r))
        return http_respond_error(r, 403, "forbidden", "operator API is loopback-only", NULL);
    if (api_page_params(r, &limit, &after) != SV_OK)
        return SV_OK;
    if (http_query_get(r, "state", &v) == SV_OK) {
        job_state_t s;
        if (jobs_state_parse(v, &s) != SV_OK)
            return http_respond_error(r, 400, "bad_request",
                                      "state must be queued, running, done or failed", "state");
        state = jobs_state_name(s);
    }
    if ((rc = api_db(api, &db)) != SV_OK)
        return rc;
    pg.items = json_array();
    if (pg.items == NULL)
        return SV_NO_MEMORY;
    /* One more than asked tells whether another page follows. */
    rc = jobs_list(db, state, after, (int)limit + 1, api_job_page_add, &pg);
    if (rc != SV_OK)
        goto out;
    rc = api_respond_page(r, pg.items, limit);
out:
    json_decref(pg.items);
    return rc;
}

static int
api_jobs_get(http_request_t *r)
{
    api_t *api = api_of(r);
    job_t job;
    uint64_t id;
    db_t *db;
    int rc;

    if (!api_is_loopback(r))
        return http_respond_error(r, 403, "forbidden", "operator API is loopback-only", NULL);
    if (str_to_u64(http_param(r, "id"), &id) != SV_OK || id > INT64_MAX)
        return http_respond_error(r, 400, "bad_request", "job id must be a number", "id");
    if ((rc = api_db(api, &db)) != SV_OK)
        return rc;
    memset(&job, 0, sizeof(job));
    rc = jobs_get(db, (int64_t)id, &job);
    if (rc == SV_NOT_FOUND)
        return http_respond_error(r, 404, "not_found", "no such job", "id");
    if (rc != SV_OK)
        return rc;
    json_t *o = api_job_json(&job);
    jobs_free(&job);
    if (o == NULL)
        return SV_NO_MEMORY;
    http_header_add(r, "Cache-Control", "no-store");
    rc = http_respond_json(r, 200, o);
    json_decref(o);
    return rc;
}

/*
 * POST /api/v1/jobs {"kind": "...", "payload": {...}, "priority": 0,
 * "delay_seconds": 0, "max_attempts": N}: queues a job.
 */
static int
api_jobs_create(http_request_t *r)
{
    api_t *api = api_of(r);
    const config_t *cfg = api->cfg;
    json_t *body = NULL, *v;
    char err[256], *payload = NULL;
    const char *kind;
    int64_t priority = 0, delay = 0, max_attempts = cfg->job_max_attempts, id;
    db_t *db;
    int rc;

    if (!api_is_loopback(r))
        return http_respond_error(r, 403, "forbidden", "operator API is loopback-only", NULL);
    rc = jsonx_parse(buf_str(&r->body), (size_t)cfg->json_max_depth, &body, err, sizeof(err));
    if (rc != SV_OK)
        return http_respond_error(r, 400, "bad_request", err, NULL);
    if (!json_is_object(body)) {
        rc = http_respond_error(r, 400, "bad_request", "body must be a JSON object", NULL);
        goto out;
    }
    v = json_object_get(body, "kind");
    kind = json_string_value(v);
    if (kind == NULL || kind[0] == '\0' || strlen(kind) >= JOBS_KIND_MAX) {
        rc = http_respond_error(r, 400, "bad_request",
                                "kind is required: a string of 1 to 63 bytes", "kind");
        goto out;
    }
    v = json_object_get(body, "payload");
    if (v && !json_is_object(v)) {
        rc = http_respond_error(r, 400, "bad_request", "payload must be an object", "payload");
        goto out;
    }
    payload = v ? json_dumps(v, JSON_COMPACT) : NULL;
    static const struct {
        const char *name;
        int64_t min, max;
    } ints[] = {{"priority", -1000, 1000},
                {"delay_seconds", 0, 365 * 86400},
                {"max_attempts", 1, JOBS_MAX_ATTEMPTS}};
    int64_t *dst[] = {&priority, &delay, &max_attempts};
    for (size_t i = 0; i < 3; i++) {
        v = json_object_get(body, ints[i].name);
        if (v == NULL)
            continue;
        if (!json_is_integer(v) || json_integer_value(v) < ints[i].min ||
            json_integer_value(v) > ints[i].max) {
            char msg[96];
            snprintf(msg, sizeof(msg), "%s must be an integer from %lld to %lld", ints[i].name,
                     (long long)ints[i].min, (long long)ints[i].max);
            rc = http_respond_error(r, 400, "bad_request", msg, ints[i].name);
            goto out;
        }
        *dst[i] = json_integer_value(v);
    }
    if ((rc = api_db(api, &db)) != SV_OK)
        goto out;
    rc = jobs_enqueue(db, kind, payload ? payload : "{}", (int)priority, (int)max_attempts,
                      delay * 1000, &id);
    if (rc != SV_OK)
        goto out;
    job_t job;
    memset(&job, 0, sizeof(job));
    rc = jobs_get(db, id, &job);
    if (rc != SV_OK)
        goto out;
    json_t *o = api_job_json(&job);
    jobs_free(&job);
    if (o == NULL) {
        rc = SV_NO_MEMORY;
        goto out;
    }
    http_header_addf(r, "Location", "/api/v1/jobs/%lld", (long long)id);
    rc = http_respond_json(r, 201, o);
    json_decref(o);
out:
    free(payload);
    json_decref(body);
    return rc;
}

/* ---- assets ---- */

typedef struct {
    json_t *items;
} api_asset_page_t;

static int
api_asset_page_add(void *arg, const asset_t *a)
{
    api_asset_page_t *pg = arg;
    json_t *o = assets_to_json(a);
    if (o == NULL || json_array_append_new(pg->items, o) != 0)
        return SV_NO_MEMORY;
    return SV_OK;
}

static int
api_assets_list(http_request_t *r)
{
    api_t *api = api_of(r);
    api_asset_page_t pg = {0};
    int64_t limit, after;
    db_t *db;
    int rc;

    if (!api_is_loopback(r))
        return http_respond_error(r, 403, "forbidden", "operator API is loopback-only", NULL);
    if (api_page_params(r, &limit, &after) != SV_OK)
        return SV_OK;
    if ((rc = api_db(api, &db)) != SV_OK)
        return rc;
    pg.items = json_array();
    if (pg.items == NULL)
        return SV_NO_MEMORY;
    rc = assets_list(db, after, (int)limit + 1, api_asset_page_add, &pg);
    if (rc != SV_OK)
        goto out;
    rc = api_respond_page(r, pg.items, limit);
out:
    json_decref(pg.items);
    return rc;
}

static int
api_asset_respond(http_request_t *r, db_t *db, int64_t id, int status)
{
    asset_t a;
    int rc = assets_get(db, id, &a);
    if (rc == SV_NOT_FOUND)
        return http_respond_error(r, 404, "not_found", "no such asset", "id");
    if (rc != SV_OK)
        return rc;
    json_t *o = assets_to_json(&a);
    assets_free(&a);
    if (o == NULL)
        return SV_NO_MEMORY;
    http_header_add(r, "Cache-Control", "no-store");
    rc = http_respond_json(r, status, o);
    json_decref(o);
    return rc;
}

static int
api_assets_get(http_request_t *r)
{
    uint64_t id;
    db_t *db;
    int rc;

    if (!api_is_loopback(r))
        return http_respond_error(r, 403, "forbidden", "operator API is loopback-only", NULL);
    if (str_to_u64(http_param(r, "id"), &id) != SV_OK || id == 0 || id > INT64_MAX)
        return http_respond_error(r, 400, "bad_request", "asset id must be a number", "id");
    if ((rc = api_db(api_of(r), &db)) != SV_OK)
        return rc;
    return api_asset_respond(r, db, (int64_t)id, 200);
}

/*
 * POST /api/v1/assets?title=T&filename=F[&no_transcode=1]: the body is the
 * media file itself, streamed to disk as it arrives (never held in memory
 * past http_body_memory_bytes); the asset's ingest job is queued.
 */
static int
api_assets_create(http_request_t *r)
{
    api_t *api = api_of(r);
    const config_t *cfg = api->cfg;
    ingest_options_t opt = {0};
    str_t v;
    char err[1024], *title = NULL, *fname = NULL, tmp[CONFIG_STR_MAX + 64];
    const char *path = r->body_path;
    int64_t asset_id;
    job_t job;
    db_t *db;
    int rc;

    if (!api_is_loopback(r))
        return http_respond_error(r, 403, "forbidden", "operator API is loopback-only", NULL);
    if (r->body_size == 0)
        return http_respond_error(r, 400, "bad_request",
                                  "the request body must be the media file", NULL);
    if (http_query_get(r, "title", &v) == SV_OK)
        title = arena_strdup_str(r->arena, v);
    if (http_query_get(r, "filename", &v) == SV_OK) {
        if (v.len == 0 || v.len > 255 || str_find_char(v, 0, '/') >= 0)
            return http_respond_error(r, 400, "bad_request",
                                      "filename must be a plain file name of 1 to 255 bytes",
                                      "filename");
        fname = arena_strdup_str(r->arena, v);
    }
    opt.title = title;
    opt.source_name = fname ? fname : "upload";
    opt.no_transcode = http_query_get(r, "no_transcode", &v) == SV_OK && str_eq_cstr(v, "1");
    if (http_query_get(r, "codec", &v) == SV_OK)
        opt.video_codec = arena_strdup_str(r->arena, v);
    opt.move = true;
    if (path == NULL) {
        /* A small body stayed in memory: write it out so the source is a file. */
        snprintf(tmp, sizeof(tmp), "%s/tmp/upload-%s", cfg->data_dir, r->id);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0 || write(fd, r->body.data, r->body.len) != (ssize_t)r->body.len) {
            if (fd >= 0) {
                close(fd);
                unlink(tmp);
            }
            return http_respond_error(r, 500, "io", "cannot store the upload", NULL);
        }
        close(fd);
        path = tmp;
    }
    if ((rc = api_db(api, &db)) != SV_OK)
        return rc;
    rc = ingest_submit(db, cfg, path, &opt, &asset_id, &job, err, sizeof(err));
    if (path == tmp)
        unlink(tmp); /* gone already when it was moved into place */
    if (rc != SV_OK)
        return http_respond_error(r, status_http(rc), status_code(rc), err, NULL);
    http_header_addf(r, "Location", "/api/v1/assets/%lld", (long long)asset_id);
    return api_asset_respond(r, db, asset_id, 202);
}

/* ---- static files ---- */

/* path + "/" as a URI path: bytes outside the path characters of RFC 3986
 * are percent-encoded, so a decoded space, quote or control byte can never
 * reach the Location header as is. The path is normalised (no "//"). */
static char *
api_location_for_dir(http_request_t *r)
{
    static const char hex[] = "0123456789ABCDEF";
    str_t p = r->path;
    char *out = arena_alloc(r->arena, p.len * 3 + 2), *o = out;
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < p.len; i++) {
        unsigned char ch = (unsigned char)p.p[i];
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            strchr("-._~/!$&'()*+,;=:@", ch)) {
            *o++ = (char)ch;
        } else {
            *o++ = '%';
            *o++ = hex[ch >> 4];
            *o++ = hex[ch & 15];
        }
    }
    *o++ = '/';
    *o = '\0';
    return out;
}

/*
 * Serves root/rel. rel comes from a normalised path (no "." or ".."
 * segments); names starting with '.' are never served. A directory serves
 * its index.html.
 */
static int
api_serve_file(http_request_t *r, const char *root, str_t rel, const char *cache_control)
{
    char path[4096];
    struct stat st;
    int fd;

    if (root[0] == '\0') /* never the file system's root */
        return http_respond_error(r, 404, "not_found", "no such file", NULL);
    for (size_t i = 0; i < rel.len; i++) {
        if (rel.p[i] == '.' && (i == 0 || rel.p[i - 1] == '/'))
            return http_respond_error(r, 404, "not_found", "no such file", NULL);
    }
    int n = snprintf(path, sizeof(path), "%s/%.*s", root, STR_FMT(rel));
    if (n < 0 || (size_t)n >= sizeof(path) - 16)
        return http_respond_error(r, 414, "uri_too_long", "path too long", NULL);
    /* Through this thread's open-file cache: a popular file costs no path
     * walk; a directory is looked at again only to find its index.html. */
    uint64_t valid = (uint64_t)api_of(r)->cfg->http_file_cache_valid_ms;
    int rc = filecache_open(path, valid, &fd, &st);
    if (rc == SV_DECLINED && S_ISDIR(st.st_mode)) {
        if (rel.len > 0 && rel.p[rel.len - 1] != '/') {
            /* a directory without its slash: redirect so relative links work */
            char *loc = api_location_for_dir(r);
            if (loc == NULL || loc[0] != '/' || loc[1] == '/')
                return http_respond_error(r, 404, "not_found", "no such file", NULL);
            http_header_add(r, "Location", loc);
            return http_respond(r, 301, "text/plain", "", 0);
        }
        snprintf(path + n, sizeof(path) - (size_t)n, "%sindex.html",
                 (n > 0 && path[n - 1] == '/') ? "" : "/");
        rc = filecache_open(path, valid, &fd, &st);
    }
    if (rc == SV_FORBIDDEN)
        return http_respond_error(r, 403, "forbidden", "forbidden", NULL);
    if (rc != SV_OK)
        return http_respond_error(r, 404, "not_found", "no such file", NULL);
    return http_respond_file(r, fd, &st, mime_type_for_path(str_from_cstr(path)),
                             cache_control);
}

static int
api_media(http_request_t *r)
{
    return api_serve_file(r, api_of(r)->media_dir, http_param(r, "path"),
                          "public, max-age=31536000, immutable");
}

static int
api_web(http_request_t *r)
{
    return api_serve_file(r, api_of(r)->web_root, http_param(r, "path"), "public, max-age=60");
}

/* ---- registration ---- */

int
api_routes_add(api_t *api, router_t *rt)
{
    const http_route_t routes[] = {
        {HTTP_GET, "/healthz", api_healthz, HTTP_ROUTE_NO_LOG, api, 0},
        {HTTP_GET, "/readyz", api_readyz, HTTP_ROUTE_BLOCKING | HTTP_ROUTE_NO_LOG, api, 0},
        {HTTP_GET, "/metrics", api_metrics, HTTP_ROUTE_BLOCKING, api, 0},
        {HTTP_GET, "/api/openapi.json", api_openapi, 0, api, 0},
        {HTTP_GET, "/api/v1/jobs", api_jobs_list, HTTP_ROUTE_BLOCKING, api, 0},
        {HTTP_POST, "/api/v1/jobs", api_jobs_create, HTTP_ROUTE_BLOCKING, api, 0},
        {HTTP_GET, "/api/v1/jobs/{id}", api_jobs_get, HTTP_ROUTE_BLOCKING, api, 0},
        {HTTP_GET, "/api/v1/assets", api_assets_list, HTTP_ROUTE_BLOCKING, api, 0},
        {HTTP_POST, "/api/v1/assets", api_assets_create,
         HTTP_ROUTE_BLOCKING | HTTP_ROUTE_UPLOAD, api, 0},
        {HTTP_GET, "/api/v1/assets/{id}", api_assets_get, HTTP_ROUTE_BLOCKING, api, 0},
        {HTTP_GET, "/media/{path*}", api_media, 0, api, 0},
        {HTTP_GET, "/{path*}", api_web, 0, api, 0},
    };
    /* The origin's /vod/ routes go before the web root's catch-all. */
    size_t nroutes = sizeof(routes) / sizeof(routes[0]);
    for (size_t i = 0; i < nroutes; i++) {
        int rc = i == nroutes - 1 ? origin_routes_add(api->origin, rt) : SV_OK;
        if (rc == SV_OK)
            rc = router_add(rt, &routes[i]);
        if (rc != SV_OK)
            return rc;
    }
    return SV_OK;
}
