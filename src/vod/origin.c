/*
 * origin.c: /vod/ requests, answered from the packaged asset directories.
 */
#include "vod/origin.h"
#include "base/clock.h"
#include "base/filecache.h"
#include "base/log.h"
#include "base/status.h"
#include "media/dash.h"
#include "media/hls.h"
#include "media/presentation.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ORIGIN_CACHE_SLOTS 64
#define ORIGIN_SEGMENT_CACHE "public, max-age=31536000, immutable"

struct origin {
    const config_t *cfg;
    char vod_dir[CONFIG_STR_MAX + 16];
};

int
origin_asset_dir(const char *data_dir, int64_t id, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s/media/vod/%lld", data_dir, (long long)id);
    return n < 0 || (size_t)n >= cap ? SV_TOO_BIG : SV_OK;
}

origin_t *
origin_create(const config_t *cfg)
{
    origin_t *o = calloc(1, sizeof(*o));
    if (o == NULL)
        return NULL;
    o->cfg = cfg;
    snprintf(o->vod_dir, sizeof(o->vod_dir), "%s/media/vod", cfg->data_dir);
    return o;
}

void
origin_destroy(origin_t *o)
{
    free(o);
}

/* ---- the per-thread cache of presentations ---- */

typedef struct {
    int64_t id; /* 0: empty */
    presentation_t *p;
    uint64_t checked_ms;
    dev_t dev;
    ino_t ino;
    struct timespec mtime;
} origin_slot_t;

static pthread_key_t origin_key;
static pthread_once_t origin_once = PTHREAD_ONCE_INIT;

static void
origin_cache_destroy(void *arg)
{
    origin_slot_t *slots = arg;
    for (unsigned i = 0; i < ORIGIN_CACHE_SLOTS; i++) {
        if (slots[i].p) {
            presentation_free(slots[i].p);
            free(slots[i].p);
        }
    }
    free(slots);
}

static void
origin_key_init(void)
{
    pthread_key_create(&origin_key, origin_cache_destroy);
}

static origin_slot_t *
origin_cache(void)
{
    pthread_once(&origin_once, origin_key_init);
    origin_slot_t *slots = pthread_getspecific(origin_key);
    if (slots == NULL) {
        slots = calloc(ORIGIN_CACHE_SLOTS, sizeof(*slots));
        if (slots && pthread_setspecific(origin_key, slots) != 0) {
            free(slots);
            slots = NULL;
        }
    }
    return slots;
}

static void
origin_slot_clear(origin_slot_t *s)
{
    if (s->p) {
        presentation_free(s->p);
        free(s->p);
    }
    memset(s, 0, sizeof(*s));
}

/*
 * The presentation of asset id: from this thread's cache while it is fresh,
 * else loaded again. SV_NOT_FOUND when the asset has no packaged directory;
 * SV_BAD_DATA when what is there does not load (logged).
 */
static int
origin_presentation(origin_t *o, int64_t id, const presentation_t **out)
{
    origin_slot_t *slots = origin_cache(), *s;
    uint64_t now = clock_mono_ms(), valid = (uint64_t)o->cfg->http_file_cache_valid_ms;
    char dir[CONFIG_STR_MAX + 64], json[CONFIG_STR_MAX + 80], err[256];
    struct stat st;
    int rc;

    if (slots == NULL)
        return SV_NO_MEMORY;
    s = &slots[(uint64_t)id % ORIGIN_CACHE_SLOTS];
    /* Only a complete presentation is kept: it cannot change. One still
     * being made is read again on every request, so that no thread ever
     * answers with fewer segments than another already has (an EVENT
     * playlist may only grow), and the master's "playable" holds for the
     * media playlists asked for next. */
    if (s->id == id && s->p && s->p->complete && now - s->checked_ms < valid) {
        *out = s->p;
        return SV_OK;
    }
    snprintf(dir, sizeof(dir), "%s/%lld", o->vod_dir, (long long)id);
    snprintf(json, sizeof(json), "%s/asset.json", dir);
    if (stat(json, &st) != 0) {
        if (s->id == id)
            origin_slot_clear(s);
        return errno == ENOENT || errno == ENOTDIR ? SV_NOT_FOUND : SV_IO;
    }
    if (s->id == id && s->p && s->p->complete && s->dev == st.st_dev && s->ino == st.st_ino &&
        s->mtime.tv_sec == st.st_mtim.tv_sec && s->mtime.tv_nsec == st.st_mtim.tv_nsec) {
        s->checked_ms = now; /* complete and unchanged: its indexes cannot have changed */
        *out = s->p;
        return SV_OK;
    }
    presentation_t *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return SV_NO_MEMORY;
    rc = presentation_load(dir, p, err, sizeof(err));
    if (rc != SV_OK) {
        free(p);
        if (rc != SV_NOT_FOUND)
            log_warn("origin", "asset %lld: %s", (long long)id, err);
        return rc;
    }
    origin_slot_clear(s);
    s->id = id;
    s->p = p;
    s->checked_ms = now;
    s->dev = st.st_dev;
    s->ino = st.st_ino;
    s->mtime = st.st_mtim;
    *out = p;
    return SV_OK;
}

/* ---- parsing the path ---- */

static bool
origin_parse_id(str_t s, int64_t *id)
{
    int64_t v = 0;
    if (s.len == 0 || s.len > 18 || s.p[0] == '0')
        return false;
    for (size_t i = 0; i < s.len; i++) {
        if (s.p[i] < '0' || s.p[i] > '9')
            return false;
        v = v * 10 + (s.p[i] - '0');
    }
    *id = v;
    return true;
}

/* "<n>.m4s" with n from 1: n, else 0. */
static size_t
origin_segment_number(str_t f)
{
    size_t n = 0;
    if (f.len < 5 || f.len > 14 || memcmp(f.p + f.len - 4, ".m4s", 4) != 0 || f.p[0] == '0')
        return 0;
    for (size_t i = 0; i < f.len - 4; i++) {
        if (f.p[i] < '0' || f.p[i] > '9')
            return 0;
        n = n * 10 + (size_t)(f.p[i] - '0');
    }
    return n;
}

/* ---- answers ---- */

static int
origin_not_found(http_request_t *r, const char *code, const char *message)
{
    http_header_add(r, "Cache-Control", "no-store");
    return http_respond_error(r, 404, code, message, NULL);
}

/* Sends out as a manifest with a content ETag (FNV-1a of the bytes). */
static int
origin_manifest(http_request_t *r, const presentation_t *p, const char *type)
{
    buf_t *b = http_body(r);
    uint64_t h = 0xcbf29ce484222325ULL;
    char etag[40];
    for (size_t i = 0; i < b->len; i++) {
        h ^= (unsigned char)b->data[i];
        h *= 0x100000001b3ULL;
    }
    snprintf(etag, sizeof(etag), "\"%016llx\"", (unsigned long long)h);
    http_header_add(r, "ETag", etag);
    http_header_add(r, "Cache-Control",
                    p->complete ? "public, max-age=60" : "public, max-age=1");
    if (http_check_preconditions(r, etag, 0) == SV_DECLINED)
        return SV_OK;
    return http_respond_body(r, 200, type);
}

static int
origin_write_failed(http_request_t *r, int rc)
{
    if (rc == SV_NOT_FOUND)
        return origin_not_found(r, "not_found", "nothing to list yet");
    return http_respond_status(r, rc, "cannot write the manifest", NULL);
}

/* A file of the asset directory (poster, thumbnails, subtitles) as is. */
static int
origin_file(http_request_t *r, origin_t *o, int64_t id, const char *rel, const char *type,
            const char *cache)
{
    char path[CONFIG_STR_MAX + 128];
    struct stat st;
    int fd, rc;
    snprintf(path, sizeof(path), "%s/%lld/%s", o->vod_dir, (long long)id, rel);
    rc = filecache_open(path, (uint64_t)o->cfg->http_file_cache_valid_ms, &fd, &st);
    if (rc != SV_OK)
        return origin_not_found(r, "not_found", "no such file");
    return http_respond_file(r, fd, &st, type, cache);
}

/* Bytes [off, off+len) of a rendition's track file. */
static int
origin_track_part(http_request_t *r, origin_t *o, const presentation_t *p,
                  const pres_rendition_t *rd, uint64_t off, uint64_t len, const char *what)
{
    char path[CONFIG_STR_MAX + 128], etag[80];
    struct stat st;
    int fd, rc;
    snprintf(path, sizeof(path), "%s/%lld/%s/track.mp4", o->vod_dir, (long long)p->asset_id,
             rd->name);
    rc = filecache_open(path, (uint64_t)o->cfg->http_file_cache_valid_ms, &fd, &st);
    if (rc != SV_OK)
        return origin_not_found(r, "not_found", "no such track");
    if ((uint64_t)st.st_size < off || (uint64_t)st.st_size - off < len) {
        close(fd);
        log_warn("origin", "asset %lld %s: %s ends past the track file", (long long)p->asset_id,
                 rd->name, what);
        return http_respond_status(r, SV_IO, "the track file is shorter than its index", NULL);
    }
    /* The same on every origin sharing the store: the packaging run and the range. */
    snprintf(etag, sizeof(etag), "\"%llx-%llx-%llx\"", (unsigned long long)p->created_ms,
             (unsigned long long)off, (unsigned long long)len);
    return http_respond_file_part(r, fd, off, len, etag, (time_t)(p->created_ms / 1000),
                                  rd->kind == PRES_AUDIO ? "audio/mp4" : "video/mp4",
                                  ORIGIN_SEGMENT_CACHE);
}

/* GET /vod/{asset}/{file} */
static int
origin_asset_file(http_request_t *r)
{
    origin_t *o = r->route->data;
    str_t f = http_param(r, "file");
    const presentation_t *p;
    int64_t id;
    int rc;

    if (!origin_parse_id(http_param(r, "asset"), &id))
        return origin_not_found(r, "not_found", "no such asset");
    if (str_eq_cstr(f, "poster.jpg"))
        return origin_file(r, o, id, "poster.jpg", "image/jpeg", "public, max-age=86400");
    if (str_eq_cstr(f, "thumbs.vtt"))
        return origin_file(r, o, id, "thumbs.vtt", "text/vtt; charset=utf-8",
                           "public, max-age=86400");
    if (f.len > 11 && f.len < 24 && memcmp(f.p, "thumbs-", 7) == 0 &&
        memcmp(f.p + f.len - 4, ".jpg", 4) == 0) {
        char rel[32];
        for (size_t i = 7; i < f.len - 4; i++)
            if (f.p[i] < '0' || f.p[i] > '9')
                return origin_not_found(r, "not_found", "no such file");
        snprintf(rel, sizeof(rel), "%.*s", STR_FMT(f));
        return origin_file(r, o, id, rel, "image/jpeg", "public, max-age=86400");
    }
    bool hls = str_eq_cstr(f, "master.m3u8"), dash = str_eq_cstr(f, "manifest.mpd");
    if (!hls && !dash)
        return origin_not_found(r, "not_found", "no such file");
    rc = origin_presentation(o, id, &p);
    if (rc == SV_NOT_FOUND)
        return origin_not_found(r, "not_found", "no such asset, or it is not packaged yet");
    if (rc != SV_OK)
        return http_respond_status(r, rc, "the asset cannot be read", NULL);
    if (!presentation_playable(p, 1))
        return origin_not_found(r, "not_ready", "the asset is being made; try again shortly");
    rc = hls ? hls_write_master(p, http_body(r))
             : dash_write_mpd(p, clock_wall_ms(), http_body(r));
    if (rc != SV_OK)
        return origin_write_failed(r, rc);
    return origin_manifest(r, p,
                           hls ? "application/vnd.apple.mpegurl" : "application/dash+xml");
}

/* GET /vod/{asset}/{rendition}/{file} */
static int
origin_rendition_file(http_request_t *r)
{
    origin_t *o = r->route->data;
    str_t f = http_param(r, "file"), name = http_param(r, "rendition");
    const presentation_t *p;
    const pres_rendition_t *rd;
    char rname[PRES_NAME_MAX];
    int64_t id;
    size_t n;
    int rc;

    if (!origin_parse_id(http_param(r, "asset"), &id) || name.len == 0 ||
        name.len >= sizeof(rname))
        return origin_not_found(r, "not_found", "no such rendition");
    snprintf(rname, sizeof(rname), "%.*s", STR_FMT(name));
    rc = origin_presentation(o, id, &p);
    if (rc == SV_NOT_FOUND)
        return origin_not_found(r, "not_found", "no such asset, or it is not packaged yet");
    if (rc != SV_OK)
        return http_respond_status(r, rc, "the asset cannot be read", NULL);
    if ((rd = presentation_find(p, rname)) == NULL)
        return origin_not_found(r, "not_found", "no such rendition");

    if (rd->kind == PRES_SUBTITLE) {
        if (str_eq_cstr(f, "index.m3u8")) {
            if ((rc = hls_write_media_playlist(p, rd, http_body(r))) != SV_OK)
                return origin_write_failed(r, rc);
            return origin_manifest(r, p, "application/vnd.apple.mpegurl");
        }
        if (str_eq_cstr(f, "subtitles.vtt")) {
            char rel[PRES_NAME_MAX + 16];
            snprintf(rel, sizeof(rel), "%s/subtitles.vtt", rd->name);
            return origin_file(r, o, id, rel, "text/vtt; charset=utf-8",
                               p->complete ? "public, max-age=86400" : "public, max-age=1");
        }
        return origin_not_found(r, "not_found", "no such file");
    }
    if ((n = origin_segment_number(f)) > 0) {
        if (n > rd->index.nentries)
            return origin_not_found(r, "not_found", "no such segment (yet)");
        const cmaf_index_entry_t *e = &rd->index.entries[n - 1];
        return origin_track_part(r, o, p, rd, e->offset, e->size, "a segment");
    }
    if (str_eq_cstr(f, "init.mp4"))
        return origin_track_part(r, o, p, rd, 0, rd->index.init_size, "the init segment");
    if (str_eq_cstr(f, "index.m3u8")) {
        if ((rc = hls_write_media_playlist(p, rd, http_body(r))) != SV_OK)
            return origin_write_failed(r, rc);
        return origin_manifest(r, p, "application/vnd.apple.mpegurl");
    }
    if (str_eq_cstr(f, "iframes.m3u8") && rd->kind == PRES_VIDEO) {
        if ((rc = hls_write_iframe_playlist(p, rd, http_body(r))) != SV_OK)
            return origin_write_failed(r, rc);
        return origin_manifest(r, p, "application/vnd.apple.mpegurl");
    }
    return origin_not_found(r, "not_found", "no such file");
}

int
origin_routes_add(origin_t *o, router_t *rt)
{
    const http_route_t routes[] = {
        {HTTP_GET, "/vod/{asset}/{file}", origin_asset_file, 0, o, 0},
        {HTTP_GET, "/vod/{asset}/{rendition}/{file}", origin_rendition_file, 0, o, 0},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        int rc = router_add(rt, &routes[i]);
        if (rc != SV_OK)
            return rc;
    }
    return SV_OK;
}
