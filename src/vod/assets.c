/*
 * assets.c: the assets table.
 */
#include "vod/assets.h"
#include "base/clock.h"
#include "base/jsonx.h"
#include "base/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const assets_state_names[] = {
    "queued", "probing", "probed", "transcoding", "packaging", "ready", "failed"};

const char *
assets_state_name(asset_state_t s)
{
    return (unsigned)s <= ASSET_FAILED ? assets_state_names[s] : "unknown";
}

static asset_state_t
assets_state_parse(str_t s)
{
    for (int i = 0; i <= ASSET_FAILED; i++)
        if (str_eq_cstr(s, assets_state_names[i]))
            return (asset_state_t)i;
    return ASSET_FAILED;
}

/* 1..max-1 bytes, no control characters (the bytes reach JSON and logs escaped anyway). */
static int
assets_check_text(const char *what, const char *v, size_t max, char *err, size_t errlen)
{
    size_t n = v ? strlen(v) : 0;
    if (n == 0 || n >= max) {
        snprintf(err, errlen, "%s: must be 1 to %zu bytes", what, max - 1);
        return SV_BAD_DATA;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c < 0x20 || c == 0x7f) {
            snprintf(err, errlen, "%s: control characters are not allowed", what);
            return SV_BAD_DATA;
        }
    }
    return SV_OK;
}

int
assets_create(db_t *db, const char *title, const char *source_name, const char *source_path,
              int64_t source_size, const char *options_json, int64_t *id, char *err,
              size_t errlen)
{
    db_stmt_t *st = NULL;
    int64_t now = clock_wall_ms();
    int rc;

    if ((rc = assets_check_text("title", title, ASSET_TITLE_MAX, err, errlen)) != SV_OK ||
        (rc = assets_check_text("source name", source_name, ASSET_NAME_MAX, err, errlen)) !=
            SV_OK)
        return rc;
    rc = db_prepare(db,
                    "INSERT INTO assets (title, state, source_name, source_path, source_size,"
                    " options, created_at_ms, updated_at_ms)"
                    " VALUES (?, 'queued', ?, ?, ?, ?, ?, ?) RETURNING id",
                    &st);
    if (rc != SV_OK)
        goto out;
    db_bind_cstr(st, 1, title);
    db_bind_cstr(st, 2, source_name);
    db_bind_cstr(st, 3, source_path);
    db_bind_i64(st, 4, source_size);
    db_bind_cstr(st, 5, options_json ? options_json : "{}");
    db_bind_i64(st, 6, now);
    db_bind_i64(st, 7, now);
    rc = db_step(st);
    if (rc == DB_ROW) {
        *id = db_column_i64(st, 0);
        rc = SV_OK;
    } else if (rc == SV_OK) {
        rc = SV_DB;
    }
out:
    if (rc != SV_OK)
        snprintf(err, errlen, "cannot record the asset: %s (%s)", status_text(rc),
                 db_last_error(db));
    db_finalize(st);
    return rc;
}

/* UPDATE assets SET <one or two values>, updated_at_ms = ? WHERE id = ?:
 * the first value is t1 or *i1, the second (if the statement has one) t2 or *i2. */
static int
assets_update(db_t *db, const char *sql, int64_t id, const char *t1, const int64_t *i1,
              const char *t2, const int64_t *i2)
{
    db_stmt_t *st = NULL;
    int idx = 1, rc = db_prepare(db, sql, &st);
    if (rc != SV_OK)
        return rc;
    /* The first value is always given (text or integer); the second is optional. */
    if (t1)
        db_bind_cstr(st, idx++, t1);
    else
        db_bind_i64(st, idx++, *i1);
    if (t2)
        db_bind_cstr(st, idx++, t2);
    else if (i2)
        db_bind_i64(st, idx++, *i2);
    db_bind_i64(st, idx++, clock_wall_ms());
    db_bind_i64(st, idx++, id);
    rc = db_step(st);
    if (rc == SV_OK && db_changes(db) == 0)
        rc = SV_NOT_FOUND;
    db_finalize(st);
    return rc;
}

int
assets_set_source(db_t *db, int64_t id, const char *source_path, int64_t source_size)
{
    return assets_update(db,
                         "UPDATE assets SET source_path = ?, source_size = ?, updated_at_ms = ?"
                         " WHERE id = ?",
                         id, source_path, NULL, NULL, &source_size);
}

int
assets_set_job(db_t *db, int64_t id, int64_t job_id)
{
    return assets_update(db, "UPDATE assets SET job_id = ?, updated_at_ms = ? WHERE id = ?", id,
                         NULL, &job_id, NULL, NULL);
}

int
assets_set_state(db_t *db, int64_t id, asset_state_t state, const char *error)
{
    db_stmt_t *st = NULL;
    int rc = db_prepare(
        db, "UPDATE assets SET state = ?, error = ?, updated_at_ms = ? WHERE id = ?", &st);
    if (rc != SV_OK)
        return rc;
    db_bind_cstr(st, 1, assets_state_name(state));
    if (state == ASSET_FAILED && error)
        db_bind_cstr(st, 2, error);
    else
        db_bind_null(st, 2);
    db_bind_i64(st, 3, clock_wall_ms());
    db_bind_i64(st, 4, id);
    rc = db_step(st);
    if (rc == SV_OK && db_changes(db) == 0)
        rc = SV_NOT_FOUND;
    db_finalize(st);
    return rc;
}

int
assets_set_plan(db_t *db, int64_t id, const char *plan_json)
{
    return assets_update(db, "UPDATE assets SET plan = ?, updated_at_ms = ? WHERE id = ?", id,
                         plan_json, NULL, NULL, NULL);
}

int
assets_set_options(db_t *db, int64_t id, const char *options_json)
{
    return assets_update(db, "UPDATE assets SET options = ?, updated_at_ms = ? WHERE id = ?",
                         id, options_json, NULL, NULL, NULL);
}

int
assets_set_result(db_t *db, int64_t id, const char *result_json)
{
    return assets_update(db, "UPDATE assets SET result = ?, updated_at_ms = ? WHERE id = ?", id,
                         result_json, NULL, NULL, NULL);
}

int
assets_set_probe(db_t *db, int64_t id, const char *probe_json, int64_t duration_ms)
{
    return assets_update(db,
                         "UPDATE assets SET probe = ?, duration_ms = ?, updated_at_ms = ?"
                         " WHERE id = ?",
                         id, probe_json, NULL, NULL, &duration_ms);
}

#define ASSETS_COLUMNS                                                                         \
    "id, title, state, source_name, source_path, source_size, options, probe, duration_ms,"    \
    " error, job_id, created_at_ms, updated_at_ms, plan, result"

static char *
assets_dup_column(db_stmt_t *st, int col)
{
    if (db_column_is_null(st, col))
        return NULL;
    str_t s = db_column_text(st, col);
    char *p = malloc(s.len + 1);
    if (p) {
        memcpy(p, s.p, s.len);
        p[s.len] = '\0';
    }
    return p;
}

static int
assets_row_read(db_stmt_t *st, asset_t *a)
{
    memset(a, 0, sizeof(*a));
    a->id = db_column_i64(st, 0);
    str_copy_cstr(a->title, sizeof(a->title), db_column_text(st, 1));
    a->state = assets_state_parse(db_column_text(st, 2));
    str_copy_cstr(a->source_name, sizeof(a->source_name), db_column_text(st, 3));
    str_copy_cstr(a->source_path, sizeof(a->source_path), db_column_text(st, 4));
    a->source_size = db_column_i64(st, 5);
    a->options = assets_dup_column(st, 6);
    a->probe = assets_dup_column(st, 7);
    a->duration_ms = db_column_is_null(st, 8) ? 0 : db_column_i64(st, 8);
    a->error = assets_dup_column(st, 9);
    a->job_id = db_column_is_null(st, 10) ? 0 : db_column_i64(st, 10);
    a->created_at_ms = db_column_i64(st, 11);
    a->updated_at_ms = db_column_i64(st, 12);
    a->plan = assets_dup_column(st, 13);
    a->result = assets_dup_column(st, 14);
    if ((!db_column_is_null(st, 13) && a->plan == NULL) ||
        (!db_column_is_null(st, 14) && a->result == NULL) ||
        (!db_column_is_null(st, 6) && a->options == NULL) ||
        (!db_column_is_null(st, 7) && a->probe == NULL) ||
        (!db_column_is_null(st, 9) && a->error == NULL)) {
        assets_free(a);
        return SV_NO_MEMORY;
    }
    return SV_OK;
}

void
assets_free(asset_t *a)
{
    free(a->options);
    free(a->probe);
    free(a->error);
    free(a->plan);
    free(a->result);
    a->options = a->probe = a->error = a->plan = a->result = NULL;
}

int
assets_get(db_t *db, int64_t id, asset_t *out)
{
    db_stmt_t *st = NULL;
    int rc = db_prepare(db, "SELECT " ASSETS_COLUMNS " FROM assets WHERE id = ?", &st);
    if (rc != SV_OK)
        return rc;
    db_bind_i64(st, 1, id);
    rc = db_step(st);
    if (rc == DB_ROW)
        rc = assets_row_read(st, out);
    else if (rc == SV_OK)
        rc = SV_NOT_FOUND;
    db_finalize(st);
    return rc;
}

int
assets_list(db_t *db, int64_t after_id, int limit, assets_list_fn fn, void *arg)
{
    db_stmt_t *st = NULL;
    int rc;

    if (limit < 1 || limit > 1000)
        return SV_BAD_DATA;
    rc = db_prepare(
        db, "SELECT " ASSETS_COLUMNS " FROM assets WHERE id > ? ORDER BY id LIMIT ?", &st);
    if (rc != SV_OK)
        return rc;
    db_bind_i64(st, 1, after_id);
    db_bind_i64(st, 2, limit);
    while ((rc = db_step(st)) == DB_ROW) {
        asset_t a;
        rc = assets_row_read(st, &a);
        if (rc != SV_OK)
            break;
        rc = fn(arg, &a);
        assets_free(&a);
        if (rc != SV_OK)
            break;
    }
    db_finalize(st);
    return rc;
}

static json_t *
assets_time_json(int64_t ms)
{
    char iso[CLOCK_ISO_LEN + 1];
    if (ms <= 0)
        return json_null();
    clock_iso8601(ms, iso);
    return json_string(iso);
}

static json_t *
assets_json_field(const char *text)
{
    json_t *v = NULL;
    char err[64];
    if (text == NULL || jsonx_parse(str_from_cstr(text), 64, &v, err, sizeof(err)) != SV_OK)
        return json_null();
    return v;
}

json_t *
assets_to_json(const asset_t *a)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    json_object_set_new(o, "id", json_integer(a->id));
    json_object_set_new(o, "title", json_string(a->title));
    json_object_set_new(o, "state", json_string(assets_state_name(a->state)));
    json_object_set_new(o, "error", a->error ? json_string(a->error) : json_null());
    json_object_set_new(
        o, "source",
        json_pack("{s:s,s:I}", "name", a->source_name, "size", (json_int_t)a->source_size));
    json_object_set_new(o, "duration",
                        a->duration_ms ? json_real(a->duration_ms / 1000.0) : json_null());
    json_object_set_new(o, "options", assets_json_field(a->options));
    json_object_set_new(o, "probe", assets_json_field(a->probe));
    json_object_set_new(o, "plan", assets_json_field(a->plan));
    json_object_set_new(o, "result", assets_json_field(a->result));
    if (a->state == ASSET_TRANSCODING || a->state == ASSET_PACKAGING ||
        a->state == ASSET_READY) {
        /* Paths on this origin; playable from the first segments on. */
        char hls[64], dash[64];
        snprintf(hls, sizeof(hls), "/vod/%lld/master.m3u8", (long long)a->id);
        snprintf(dash, sizeof(dash), "/vod/%lld/manifest.mpd", (long long)a->id);
        json_object_set_new(o, "playback", json_pack("{s:s,s:s}", "hls", hls, "dash", dash));
    } else {
        json_object_set_new(o, "playback", json_null());
    }
    json_object_set_new(o, "job_id", a->job_id ? json_integer(a->job_id) : json_null());
    json_object_set_new(o, "created_at", assets_time_json(a->created_at_ms));
    json_object_set_new(o, "updated_at", assets_time_json(a->updated_at_ms));
    return o;
}

int
assets_source_dir(const char *data_dir, int64_t id, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s/sources/%lld", data_dir, (long long)id);
    return n > 0 && (size_t)n < cap ? SV_OK : SV_TOO_BIG;
}
