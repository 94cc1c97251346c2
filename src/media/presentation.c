/*
 * presentation.c: a packaged asset's description (asset.json) and its
 * fragment indexes, checked field by field.
 *
 * asset.json is written by our packager, but it is read here as data: a
 * rendition name becomes a URL path component, a label and a language are
 * copied into playlists and XML, so every field is checked against what
 * those outputs can carry before anything is kept.
 */
#include "media/presentation.h"
#include "base/jsonx.h"
#include "base/status.h"
#include "base/str.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PRES_JSON_MAX (256 * 1024) /* 32 renditions take about 8 KiB */
#define PRES_JSON_DEPTH 8
#define PRES_PATH_MAX 4096

/* Reads a regular file of at most max bytes into a malloc'd buffer. */
static int
pres_read_file(const char *path, size_t max, char **out, size_t *outlen, char *err,
               size_t errlen)
{
    int rc = SV_IO, fd;
    struct stat st;
    char *data = NULL;
    size_t len = 0;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR) {
            snprintf(err, errlen, "no asset.json");
            return SV_NOT_FOUND;
        }
        snprintf(err, errlen, "asset.json: %s", strerror(errno));
        return SV_IO;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "asset.json is not a regular file");
        goto done;
    }
    if ((uint64_t)st.st_size > max) {
        snprintf(err, errlen, "asset.json is larger than %zu bytes", max);
        rc = SV_BAD_DATA;
        goto done;
    }
    data = malloc((size_t)st.st_size + 1);
    if (data == NULL) {
        snprintf(err, errlen, "out of memory");
        rc = SV_NO_MEMORY;
        goto done;
    }
    while (len < (size_t)st.st_size) {
        ssize_t n = read(fd, data + len, (size_t)st.st_size - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(err, errlen, "asset.json: %s", strerror(errno));
            goto done;
        }
        if (n == 0)
            break; /* shrank under us: parse what is there */
        len += (size_t)n;
    }
    data[len] = '\0';
    *out = data;
    *outlen = len;
    data = NULL;
    rc = SV_OK;
done:
    free(data);
    close(fd);
    return rc;
}

/* ---- field checks; each writes "<where>: <what>" into err on failure ---- */

typedef struct {
    const json_t *obj;
    char where[64]; /* "rendition 2 (\"720p\")" or "asset.json" */
    char *err;
    size_t errlen;
} pres_ctx_t;

static int
pres_fail(pres_ctx_t *c, const char *key, const char *what)
{
    snprintf(c->err, c->errlen, "%s: \"%s\" %s", c->where, key, what);
    return SV_BAD_DATA;
}

/* An integer in [min, max]; absent gives def when !required. */
static int
pres_int(pres_ctx_t *c, const char *key, bool required, int64_t min, int64_t max, int64_t def,
         int64_t *out)
{
    const json_t *v = json_object_get(c->obj, key);
    char what[96];

    if (v == NULL && !required) {
        *out = def;
        return SV_OK;
    }
    if (v == NULL || !json_is_integer(v) || json_integer_value(v) < min ||
        json_integer_value(v) > max) {
        snprintf(what, sizeof(what), "must be an integer from %lld to %lld", (long long)min,
                 (long long)max);
        return pres_fail(c, key, v == NULL ? "is missing" : what);
    }
    *out = (int64_t)json_integer_value(v);
    return SV_OK;
}

static int
pres_bool(pres_ctx_t *c, const char *key, bool *out)
{
    const json_t *v = json_object_get(c->obj, key);
    if (v == NULL) {
        *out = false;
        return SV_OK;
    }
    if (!json_is_boolean(v))
        return pres_fail(c, key, "must be true or false");
    *out = json_is_true(v);
    return SV_OK;
}

/* The string's bytes (which may hold a NUL: jsonx allows them), or NULL. */
static const char *
pres_string(pres_ctx_t *c, const char *key, size_t *len)
{
    const json_t *v = json_object_get(c->obj, key);
    if (v == NULL || !json_is_string(v))
        return NULL;
    *len = json_string_length(v);
    return json_string_value(v);
}

static bool
pres_is_name_char(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
}

/* Rendition names are URL path components: [a-z0-9_-]{1,31}. */
static bool
pres_valid_name(const char *s, size_t len)
{
    if (len == 0 || len >= PRES_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!pres_is_name_char((unsigned char)s[i]))
            return false;
    return true;
}

/*
 * Text for people (labels): valid UTF-8 is guaranteed by jansson; refused
 * here are the characters a playlist may not carry (RFC 8216 4.1: U+0000 to
 * U+001F and U+007F to U+009F, so also the C1 controls, which UTF-8 writes
 * as C2 80 .. C2 9F). XML 1.0 forbids the same C0 range in attributes.
 */
static bool
pres_valid_text(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch == 0x7f)
            return false;
        if (ch == 0xc2 && i + 1 < len && (unsigned char)s[i + 1] >= 0x80 &&
            (unsigned char)s[i + 1] <= 0x9f)
            return false;
    }
    return true;
}

/* Codec strings (RFC 6381 style, "avc1.64001F", "mp4a.40.2"): no quote, comma or space. */
static bool
pres_valid_codecs(const char *s, size_t len)
{
    if (len == 0 || len >= sizeof(((pres_rendition_t *)0)->codecs))
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '_'))
            return false;
    }
    return true;
}

/* Language tags (BCP 47 shape, "eng", "pt-BR"): letters, digits and '-'. */
static bool
pres_valid_language(const char *s, size_t len)
{
    if (len == 0 || len >= sizeof(((pres_rendition_t *)0)->language))
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '-'))
            return false;
    }
    return s[0] != '-' && s[len - 1] != '-';
}

/* "N<sep>D" (or "N" alone when allow_bare) with 1 <= N, D <= max. */
static bool
pres_parse_ratio(const char *s, size_t len, char sep, bool allow_bare, uint64_t max, int *num,
                 int *den)
{
    str_t t = str_make(s, len);
    ptrdiff_t at = str_find_char(t, 0, sep);
    uint64_t n, d = 1;

    if (at < 0 && !allow_bare)
        return false;
    if (str_to_u64(str_make(s, at < 0 ? len : (size_t)at), &n) != SV_OK)
        return false;
    if (at >= 0 && str_to_u64(str_make(s + at + 1, len - (size_t)at - 1), &d) != SV_OK)
        return false;
    if (n < 1 || n > max || d < 1 || d > max)
        return false;
    *num = (int)n;
    *den = (int)d;
    return true;
}

static int
pres_language(pres_ctx_t *c, pres_rendition_t *r)
{
    size_t len;
    const char *s = pres_string(c, "language", &len);
    if (json_object_get(c->obj, "language") == NULL) {
        memcpy(r->language, "und", 4);
        return SV_OK;
    }
    if (s == NULL || !pres_valid_language(s, len))
        return pres_fail(c, "language",
                         "must be a language tag of 1 to 15 letters, digits and '-'");
    memcpy(r->language, s, len);
    r->language[len] = '\0';
    return SV_OK;
}

static int
pres_label(pres_ctx_t *c, pres_rendition_t *r)
{
    size_t len;
    const char *s = pres_string(c, "label", &len);
    if (json_object_get(c->obj, "label") == NULL) {
        memcpy(r->label, r->name, sizeof(r->name)); /* names are short and printable */
        return SV_OK;
    }
    if (s == NULL || len == 0 || len >= sizeof(r->label))
        return pres_fail(c, "label", "must be a string of 1 to 63 bytes");
    if (!pres_valid_text(s, len))
        return pres_fail(c, "label", "must not contain control characters");
    memcpy(r->label, s, len);
    r->label[len] = '\0';
    return SV_OK;
}

static int
pres_codecs(pres_ctx_t *c, pres_rendition_t *r)
{
    size_t len;
    const char *s = pres_string(c, "codecs", &len);
    if (s == NULL || !pres_valid_codecs(s, len))
        return pres_fail(c, "codecs",
                         "must be a codec string of 1 to 63 letters, digits, '.', '-' and '_'");
    memcpy(r->codecs, s, len);
    r->codecs[len] = '\0';
    return SV_OK;
}

static int
pres_parse_video(pres_ctx_t *c, pres_rendition_t *r)
{
    int64_t v;
    size_t len;
    const char *s;
    int rc;

    if ((rc = pres_codecs(c, r)) != SV_OK)
        return rc;
    if ((rc = pres_int(c, "width", true, 1, 16384, 0, &v)) != SV_OK)
        return rc;
    r->width = (int)v;
    if ((rc = pres_int(c, "height", true, 1, 16384, 0, &v)) != SV_OK)
        return rc;
    r->height = (int)v;

    r->sar_num = r->sar_den = 1;
    if (json_object_get(c->obj, "sar") != NULL) {
        s = pres_string(c, "sar", &len);
        if (s == NULL || !pres_parse_ratio(s, len, ':', false, 65535, &r->sar_num, &r->sar_den))
            return pres_fail(c, "sar", "must be \"N:D\" with N and D from 1 to 65535");
    }
    s = pres_string(c, "frame_rate", &len);
    if (s == NULL || !pres_parse_ratio(s, len, '/', true, 1000000, &r->fps_num, &r->fps_den) ||
        (uint64_t)r->fps_num > 1000ull * (uint64_t)r->fps_den)
        return pres_fail(c, "frame_rate",
                         "must be \"N/D\" or \"N\", positive and at most 1000 frames/s");

    memcpy(r->video_range, "SDR", 4);
    if (json_object_get(c->obj, "video_range") != NULL) {
        s = pres_string(c, "video_range", &len);
        str_t t = str_make(s, s == NULL ? 0 : len);
        if (s == NULL ||
            !(str_eq_cstr(t, "SDR") || str_eq_cstr(t, "PQ") || str_eq_cstr(t, "HLG")))
            return pres_fail(c, "video_range", "must be \"SDR\", \"PQ\" or \"HLG\"");
        memcpy(r->video_range, s, len + 1);
    }
    if ((rc = pres_language(c, r)) != SV_OK || (rc = pres_label(c, r)) != SV_OK)
        return rc;
    return SV_OK;
}

static int
pres_parse_audio(pres_ctx_t *c, pres_rendition_t *r)
{
    int64_t v;
    int rc;

    if ((rc = pres_codecs(c, r)) != SV_OK)
        return rc;
    if ((rc = pres_language(c, r)) != SV_OK || (rc = pres_label(c, r)) != SV_OK)
        return rc;
    if ((rc = pres_int(c, "channels", true, 1, 64, 0, &v)) != SV_OK)
        return rc;
    r->channels = (int)v;
    if ((rc = pres_int(c, "sample_rate", true, 1, 768000, 0, &v)) != SV_OK)
        return rc;
    r->sample_rate = (int)v;
    return pres_bool(c, "default", &r->is_default);
}

static int
pres_parse_rendition(const json_t *obj, unsigned i, presentation_t *p, char *err, size_t errlen)
{
    pres_ctx_t c = {obj, "", err, errlen};
    pres_rendition_t *r = &p->r[p->n];
    const char *s;
    size_t len;
    int64_t v;
    int rc;

    snprintf(c.where, sizeof(c.where), "rendition %u", i + 1);
    if (!json_is_object(obj)) {
        snprintf(err, errlen, "%s: must be an object", c.where);
        return SV_BAD_DATA;
    }
    s = pres_string(&c, "name", &len);
    if (s == NULL || !pres_valid_name(s, len))
        return pres_fail(&c, "name", "must be 1 to 31 characters of a-z, 0-9, '_' and '-'");
    memcpy(r->name, s, len);
    r->name[len] = '\0';
    snprintf(c.where, sizeof(c.where), "rendition %u (\"%s\")", i + 1, r->name);
    for (unsigned k = 0; k < p->n; k++)
        if (strcmp(p->r[k].name, r->name) == 0)
            return pres_fail(&c, "name", "is used twice");

    s = pres_string(&c, "kind", &len);
    str_t kind = str_make(s, s == NULL ? 0 : len);
    if (s != NULL && str_eq_cstr(kind, "video"))
        r->kind = PRES_VIDEO;
    else if (s != NULL && str_eq_cstr(kind, "audio"))
        r->kind = PRES_AUDIO;
    else if (s != NULL && str_eq_cstr(kind, "subtitle"))
        r->kind = PRES_SUBTITLE;
    else
        return pres_fail(&c, "kind", "must be \"video\", \"audio\" or \"subtitle\"");

    switch (r->kind) {
    case PRES_VIDEO:
        rc = pres_parse_video(&c, r);
        break;
    case PRES_AUDIO:
        rc = pres_parse_audio(&c, r);
        break;
    default:
        if ((rc = pres_language(&c, r)) == SV_OK && (rc = pres_label(&c, r)) == SV_OK)
            rc = pres_bool(&c, "default", &r->is_default);
        break;
    }
    if (rc != SV_OK)
        return rc;
    if (r->kind != PRES_SUBTITLE) {
        /* up to 100 Gbit/s: far above any rung, far below overflow in sums */
        if ((rc = pres_int(&c, "bitrate", true, 1, 100000000000, 0, &v)) != SV_OK)
            return rc;
        r->planned_bps = r->avg_bps = r->peak_bps = (uint64_t)v;
    }
    p->n++;
    return SV_OK;
}

static int
pres_parse_json(const char *text, size_t len, presentation_t *p, char *err, size_t errlen)
{
    json_t *root = NULL, *list;
    pres_ctx_t c = {NULL, "asset.json", err, errlen};
    int64_t v;
    int rc;

    rc = jsonx_parse(str_make(text, len), PRES_JSON_DEPTH, &root, err, errlen);
    if (rc != SV_OK)
        return rc == SV_NO_MEMORY ? rc : SV_BAD_DATA;
    rc = SV_BAD_DATA;
    if (!json_is_object(root)) {
        snprintf(err, errlen, "asset.json: must be an object");
        goto done;
    }
    c.obj = root;
    if (pres_int(&c, "version", true, 1, INT64_MAX, 0, &v) != SV_OK)
        goto done;
    if (v != 1) {
        pres_fail(&c, "version", "must be 1 (a newer packager wrote this asset)");
        goto done;
    }
    if (pres_int(&c, "asset_id", true, 1, INT64_MAX, 0, &p->asset_id) != SV_OK ||
        pres_int(&c, "created_ms", true, 0, 253402300799999, 0, &p->created_ms) != SV_OK ||
        pres_int(&c, "segment_duration_ms", true, 100, 600000, 0, &p->segment_duration_ms) !=
            SV_OK)
        goto done;
    list = json_object_get(root, "renditions");
    if (!json_is_array(list) || json_array_size(list) == 0 ||
        json_array_size(list) > PRES_MAX_RENDITIONS) {
        pres_fail(&c, "renditions", "must be an array of 1 to 32 renditions");
        goto done;
    }
    for (size_t i = 0; i < json_array_size(list); i++)
        if (pres_parse_rendition(json_array_get(list, i), (unsigned)i, p, err, errlen) != SV_OK)
            goto done;
    rc = SV_OK;
done:
    json_decref(root);
    return rc;
}

/* Loads the index of a video or audio rendition and measures it. */
static int
pres_load_index(const char *dir, pres_rendition_t *r, char *err, size_t errlen)
{
    char path[PRES_PATH_MAX], ierr[160] = "";
    const cmaf_index_t *ix = &r->index;
    int n, rc;

    n = snprintf(path, sizeof(path), "%s/%s/track.idx", dir, r->name);
    if (n < 0 || (size_t)n >= sizeof(path)) {
        snprintf(err, errlen, "rendition \"%s\": path too long", r->name);
        return SV_BAD_DATA;
    }
    rc = cmaf_index_load(path, &r->index, ierr, sizeof(ierr));
    if (rc == SV_NOT_FOUND) {
        snprintf(err, errlen, "rendition \"%s\": no track.idx yet", r->name);
        return SV_NOT_FOUND;
    }
    if (rc != SV_OK) {
        snprintf(err, errlen, "rendition \"%s\": track.idx: %s", r->name, ierr);
        return rc;
    }
    /* Kept from here on: presentation_free() releases it. Checks of what the
     * writers below divide by and print as unsigned. */
    if (ix->timescale == 0 || (ix->nentries > 0 && ix->entries[0].start < 0)) {
        snprintf(err, errlen, "rendition \"%s\": track.idx: %s", r->name,
                 ix->timescale == 0 ? "timescale 0" : "first fragment starts before 0");
        return SV_BAD_DATA;
    }
    for (size_t i = 0; i < ix->nentries; i++) {
        if (ix->entries[i].duration == 0) {
            snprintf(err, errlen, "rendition \"%s\": track.idx: entry %zu has duration 0",
                     r->name, i);
            return SV_BAD_DATA;
        }
    }
    if (ix->nentries > 0 && ix->total_duration > 0)
        cmaf_index_bandwidth(ix, &r->avg_bps, &r->peak_bps);
    return SV_OK;
}

/* The end of a track's last fragment in milliseconds, rounded to nearest. */
static int64_t
pres_track_end_ms(const cmaf_index_t *ix)
{
    if (ix->nentries == 0)
        return 0;
    int64_t end = ix->entries[0].start + ix->total_duration;
    if (end <= 0 || end > INT64_MAX / 1000)
        return 0;
    return (end * 1000 + ix->timescale / 2) / ix->timescale;
}

int
presentation_load(const char *dir, presentation_t *out, char *err, size_t errlen)
{
    char path[PRES_PATH_MAX], *text = NULL;
    size_t len = 0;
    presentation_t *p;
    unsigned media = 0;
    int n, rc;

    n = snprintf(path, sizeof(path), "%s/asset.json", dir);
    if (n < 0 || (size_t)n >= sizeof(path)) {
        snprintf(err, errlen, "asset directory path too long");
        return SV_BAD_DATA;
    }
    /* Built aside and copied out on success: *out is untouched on failure. */
    p = calloc(1, sizeof(*p));
    if (p == NULL) {
        snprintf(err, errlen, "out of memory");
        return SV_NO_MEMORY;
    }
    rc = pres_read_file(path, PRES_JSON_MAX, &text, &len, err, errlen);
    if (rc != SV_OK)
        goto done;
    rc = pres_parse_json(text, len, p, err, errlen);
    if (rc != SV_OK)
        goto done;

    p->complete = true;
    for (unsigned i = 0; i < p->n; i++) {
        pres_rendition_t *r = &p->r[i];
        if (r->kind == PRES_SUBTITLE)
            continue;
        media++;
        rc = pres_load_index(dir, r, err, errlen);
        if (rc != SV_OK)
            goto done;
        if (!r->index.complete)
            p->complete = false;
        int64_t end = pres_track_end_ms(&r->index);
        if (end > p->duration_ms)
            p->duration_ms = end;
    }
    if (media == 0) {
        snprintf(err, errlen, "asset.json: no video or audio rendition");
        rc = SV_BAD_DATA;
        goto done;
    }
    memcpy(out, p, sizeof(*p));
    rc = SV_OK;
done:
    if (rc != SV_OK)
        presentation_free(p);
    free(p);
    free(text);
    return rc;
}

void
presentation_free(presentation_t *p)
{
    for (unsigned i = 0; i < p->n; i++)
        if (p->r[i].kind != PRES_SUBTITLE)
            cmaf_index_free(&p->r[i].index);
    p->n = 0;
}

const pres_rendition_t *
presentation_find(const presentation_t *p, const char *name)
{
    for (unsigned i = 0; i < p->n; i++)
        if (strcmp(p->r[i].name, name) == 0)
            return &p->r[i];
    return NULL;
}

bool
presentation_playable(const presentation_t *p, size_t min_fragments)
{
    unsigned media = 0;
    for (unsigned i = 0; i < p->n; i++) {
        if (p->r[i].kind == PRES_SUBTITLE)
            continue;
        media++;
        if (p->r[i].index.nentries < min_fragments)
            return false;
    }
    return media > 0;
}
