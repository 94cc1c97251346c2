/*
 * package.c: the renditions, subtitles, poster and thumbnails of one asset,
 * and the asset.json that tells the origin about them.
 */
#include "vod/package.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/status.h"
#include "media/ladder.h"
#include "media/presentation.h"
#include "media/subtitles.h"
#include "media/thumbs.h"
#include "media/transcode.h"
#include "vod/origin.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

typedef struct {
    char name[PRES_NAME_MAX];
    char language[8];
    char label[64];
} pkg_sub_t;

typedef struct {
    const package_job_t *job;
    char dir[CONFIG_STR_MAX + 64];
    unsigned nsubs;
    pkg_sub_t subs[PROBE_MAX_STREAMS + PACKAGE_MAX_SIDECARS];
    char track_idx[LADDER_MAX_RUNGS + TRANSCODE_MAX_AUDIO][CONFIG_STR_MAX + 128];
    unsigned ntracks;
    uint64_t t0_ms, first_playable_ms;
    int permille_from, permille_to;
} pkg_t;

const char *
package_language_label(const char *code)
{
    static const struct {
        const char *code, *label;
    } names[] = {
        {"eng", "English"},      {"en", "English"},   {"fra", "Français"},
        {"fre", "Français"},     {"fr", "Français"},  {"deu", "Deutsch"},
        {"ger", "Deutsch"},      {"de", "Deutsch"},   {"spa", "Español"},
        {"es", "Español"},       {"ita", "Italiano"}, {"it", "Italiano"},
        {"por", "Português"},    {"pt", "Português"}, {"nld", "Nederlands"},
        {"dut", "Nederlands"},   {"jpn", "日本語"},   {"ja", "日本語"},
        {"zho", "中文"},         {"chi", "中文"},     {"zh", "中文"},
        {"rus", "Русский"},      {"ru", "Русский"},   {"ara", "العربية"},
        {"ar", "العربية"},       {"kor", "한국어"},   {"ko", "한국어"},
        {"und", "Undetermined"},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(names[i].code, code) == 0)
            return names[i].label;
    return code;
}

/* ---- files ---- */

static int
pkg_rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static int
pkg_mkdirs(const char *data_dir, const char *dir, char *err, size_t errlen)
{
    char p[CONFIG_STR_MAX + 32];
    snprintf(p, sizeof(p), "%s/media", data_dir);
    if (mkdir(p, 0755) != 0 && errno != EEXIST)
        goto fail;
    snprintf(p, sizeof(p), "%s/media/vod", data_dir);
    if (mkdir(p, 0755) != 0 && errno != EEXIST)
        goto fail;
    /* A previous attempt's output goes: a retry starts clean. */
    nftw(dir, pkg_rm_one, 16, FTW_DEPTH | FTW_PHYS);
    if (mkdir(dir, 0755) != 0)
        goto fail;
    return SV_OK;
fail:
    snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
    return SV_IO;
}

/* A rendition name not used yet: base, else base-2, base-3 ... */
static void
pkg_unique_name(pkg_t *pk, const char *base, char *out, size_t cap, const char *const *taken,
                unsigned ntaken)
{
    for (int n = 1; n < 100; n++) {
        bool used = false;
        if (n == 1)
            snprintf(out, cap, "%s", base);
        else
            snprintf(out, cap, "%.24s-%d", base, n);
        for (unsigned i = 0; i < ntaken && !used; i++)
            used = strcmp(taken[i], out) == 0;
        for (unsigned i = 0; i < pk->nsubs && !used; i++)
            used = strcmp(pk->subs[i].name, out) == 0;
        if (!used)
            return;
    }
}

/* Lowercase letters only, at most 3: a language code safe in a path. */
static void
pkg_language(const char *in, char *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; in[i] && n < 3 && n + 1 < cap; i++) {
        char c = in[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c < 'a' || c > 'z')
            break;
        out[n++] = c;
    }
    out[n] = '\0';
    if (n < 2)
        snprintf(out, cap, "und");
}

/* ---- subtitles ---- */

static bool
pkg_text_subtitle(const char *codec)
{
    return strcmp(codec, "subrip") == 0 || strcmp(codec, "mov_text") == 0 ||
           strcmp(codec, "ass") == 0 || strcmp(codec, "ssa") == 0 ||
           strcmp(codec, "webvtt") == 0 || strcmp(codec, "text") == 0;
}

static int
pkg_add_subtitle(pkg_t *pk, const char *language, const char *label, pkg_sub_t **out,
                 char *path, size_t cap, char *err, size_t errlen)
{
    char base[PRES_NAME_MAX], lang[8];
    pkg_sub_t *s = &pk->subs[pk->nsubs];
    pkg_language(language, lang, sizeof(lang));
    snprintf(base, sizeof(base), "sub-%s", lang);
    pkg_unique_name(pk, base, s->name, sizeof(s->name), NULL, 0);
    snprintf(s->language, sizeof(s->language), "%s", lang);
    snprintf(s->label, sizeof(s->label), "%s", label ? label : package_language_label(lang));
    snprintf(path, cap, "%s/%s", pk->dir, s->name);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
        return SV_IO;
    }
    snprintf(path, cap, "%s/%s/subtitles.vtt", pk->dir, s->name);
    *out = s;
    return SV_OK;
}

static int
pkg_subtitles(pkg_t *pk, package_result_t *res, char *err, size_t errlen)
{
    const package_job_t *job = pk->job;
    char path[CONFIG_STR_MAX + 128], e[256];
    pkg_sub_t *s;
    int rc;

    for (unsigned i = 0; i < job->probe->nstreams; i++) {
        const probe_stream_t *st = &job->probe->streams[i];
        if (st->kind != PROBE_SUBTITLE)
            continue;
        if (!pkg_text_subtitle(st->codec)) {
            size_t n = strlen(res->note);
            snprintf(res->note + n, sizeof(res->note) - n,
                     "%sstream #%d (%s) is not a text subtitle and was left out", n ? "; " : "",
                     st->index, st->codec);
            continue;
        }
        if ((rc = pkg_add_subtitle(pk, st->language, NULL, &s, path, sizeof(path), err,
                                   errlen)) != SV_OK)
            return rc;
        rc = subtitles_extract_stream(job->source, st->index, path, e, sizeof(e));
        if (rc != SV_OK) {
            /* A broken subtitle stream does not cost the asset its pictures. */
            size_t n = strlen(res->note);
            snprintf(res->note + n, sizeof(res->note) - n, "%sstream #%d left out: %s",
                     n ? "; " : "", st->index, e);
            nftw(path, pkg_rm_one, 4, FTW_DEPTH | FTW_PHYS);
            continue;
        }
        pk->nsubs++;
    }
    for (unsigned i = 0; i < job->nsidecars; i++) {
        const package_sidecar_t *sc = &job->sidecars[i];
        if ((rc = pkg_add_subtitle(pk, sc->language, sc->label, &s, path, sizeof(path), err,
                                   errlen)) != SV_OK)
            return rc;
        rc = subtitles_convert_file(sc->path, path, e, sizeof(e));
        if (rc != SV_OK) {
            snprintf(err, errlen, "subtitles %s: %s", sc->path, e);
            return rc;
        }
        pk->nsubs++;
    }
    return SV_OK;
}

/* ---- asset.json ---- */

static int
pkg_on_tracks(void *arg, const transcode_track_info_t *tracks, unsigned n)
{
    pkg_t *pk = arg;
    const package_job_t *job = pk->job;
    char tmp[CONFIG_STR_MAX + 96], final[CONFIG_STR_MAX + 96];
    json_t *root = json_object(), *list = json_array();
    bool audio_default = false;
    int rc = SV_NO_MEMORY;

    if (root == NULL || list == NULL)
        goto out;
    json_object_set_new(root, "version", json_integer(1));
    json_object_set_new(root, "asset_id", json_integer(job->asset_id));
    json_object_set_new(root, "created_ms", json_integer(clock_wall_ms()));
    json_object_set_new(root, "segment_duration_ms",
                        json_integer(job->cfg->segment_duration_ms));
    pk->ntracks = 0;
    for (unsigned i = 0; i < n; i++) {
        const transcode_track_info_t *t = &tracks[i];
        json_t *o;
        if (t->video)
            o = json_pack("{s:s,s:s,s:s,s:i,s:i,s:s,s:o,s:s,s:I}", "name", t->name, "kind",
                          "video", "codecs", t->codecs, "width", t->width, "height", t->height,
                          "sar", "1:1", "frame_rate",
                          json_sprintf("%d/%d", t->fps_num, t->fps_den > 0 ? t->fps_den : 1),
                          "video_range", t->video_range, "bitrate", (json_int_t)t->bitrate);
        else
            o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:i,s:i,s:b,s:I}", "name", t->name, "kind",
                          "audio", "codecs", t->codecs, "language", t->language, "label",
                          package_language_label(t->language), "channels", t->channels,
                          "sample_rate", t->sample_rate, "default", !audio_default, "bitrate",
                          (json_int_t)t->bitrate);
        if (!t->video)
            audio_default = true;
        if (o == NULL || json_array_append_new(list, o) != 0)
            goto out;
        snprintf(pk->track_idx[pk->ntracks++], sizeof(pk->track_idx[0]), "%s/%s/track.idx",
                 pk->dir, t->name);
    }
    for (unsigned i = 0; i < pk->nsubs; i++) {
        const pkg_sub_t *s = &pk->subs[i];
        json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:b}", "name", s->name, "kind", "subtitle",
                              "language", s->language, "label", s->label, "default", false);
        if (o == NULL || json_array_append_new(list, o) != 0)
            goto out;
    }
    json_object_set(root, "renditions", list);
    snprintf(tmp, sizeof(tmp), "%s/.asset.json.tmp", pk->dir);
    snprintf(final, sizeof(final), "%s/asset.json", pk->dir);
    if (json_dump_file(root, tmp, JSON_INDENT(1) | JSON_ENSURE_ASCII) != 0 ||
        rename(tmp, final) != 0) {
        log_error("package", "cannot write %s: %s", final, strerror(errno));
        unlink(tmp);
        rc = SV_IO;
        goto out;
    }
    rc = SV_OK;
out:
    json_decref(list);
    json_decref(root);
    return rc;
}

/* True once every track index holds its first entry. */
static bool
pkg_first_segments_written(const pkg_t *pk)
{
    if (pk->ntracks == 0)
        return false;
    for (unsigned i = 0; i < pk->ntracks; i++) {
        struct stat st;
        if (stat(pk->track_idx[i], &st) != 0 ||
            st.st_size < CMAF_INDEX_HEADER_SIZE + CMAF_INDEX_ENTRY_SIZE)
            return false;
    }
    return true;
}

static void
pkg_on_progress(void *arg, int64_t done_ms, int64_t total_ms, double speed)
{
    pkg_t *pk = arg;
    char msg[160];
    int span = pk->permille_to - pk->permille_from;
    int pm = pk->permille_from;
    if (total_ms > 0) {
        int64_t d = done_ms > total_ms ? total_ms : done_ms;
        pm += (int)(span * d / total_ms);
    }
    if (pk->first_playable_ms == 0 && pkg_first_segments_written(pk))
        pk->first_playable_ms = clock_mono_ms() - pk->t0_ms;
    snprintf(msg, sizeof(msg), "%s %lld.%01lld of %lld.%01lld s at %.1fx",
             pk->job->no_transcode ? "packaging" : "transcoding", (long long)(done_ms / 1000),
             (long long)(done_ms % 1000 / 100), (long long)(total_ms / 1000),
             (long long)(total_ms % 1000 / 100), speed);
    if (pk->job->on_progress)
        pk->job->on_progress(pk->job->arg, pm, msg);
}

/* ---- the plan ---- */

static const probe_stream_t *
pkg_main_video(const probe_t *p)
{
    const probe_stream_t *first = NULL;
    for (unsigned i = 0; i < p->nstreams; i++) {
        const probe_stream_t *s = &p->streams[i];
        if (s->kind != PROBE_VIDEO || !s->decodable || strcmp(s->codec, "mjpeg") == 0 ||
            strcmp(s->codec, "png") == 0)
            continue; /* cover art is not the picture */
        if (s->is_default)
            return s;
        if (first == NULL)
            first = s;
    }
    return first;
}

/* The audio renditions: the first decodable stream of each language. */
static void
pkg_plan_audio(const probe_t *p, transcode_job_t *tj)
{
    const char *taken[TRANSCODE_MAX_AUDIO];
    for (unsigned i = 0; i < p->nstreams && tj->naudio < TRANSCODE_MAX_AUDIO; i++) {
        const probe_stream_t *s = &p->streams[i];
        char lang[8], base[PRES_NAME_MAX];
        bool seen = false;
        if (s->kind != PROBE_AUDIO || !s->decodable || s->channels <= 0)
            continue;
        pkg_language(s->language[0] ? s->language : "und", lang, sizeof(lang));
        for (unsigned k = 0; k < tj->naudio; k++)
            seen = seen || strcmp(tj->audio[k].language, lang) == 0;
        if (seen)
            continue;
        transcode_audio_t *a = &tj->audio[tj->naudio];
        a->source_stream = s->index;
        snprintf(a->language, sizeof(a->language), "%s", lang);
        snprintf(base, sizeof(base), "audio-%s", lang);
        snprintf(a->name, sizeof(a->name), "%s", base);
        a->bitrate = 128000;
        taken[tj->naudio] = a->name;
        tj->naudio++;
    }
    (void)taken;
}

int
package_asset(const package_job_t *job, package_result_t *res, char *err, size_t errlen)
{
    const config_t *cfg = job->cfg;
    const probe_stream_t *v = pkg_main_video(job->probe);
    pkg_t *pk = calloc(1, sizeof(*pk));
    ladder_t *ladder = calloc(1, sizeof(*ladder)), *sdr = calloc(1, sizeof(*sdr));
    transcode_job_t *tj = calloc(1, sizeof(*tj));
    thumbs_t *thumbs = NULL;
    thumbs_options_t topt;
    transcode_result_t tr;
    ladder_spec_t spec;
    ladder_codec_t codec;
    char why[512];
    int rc = SV_NO_MEMORY;

    memset(res, 0, sizeof(*res));
    err[0] = '\0';
    if (pk == NULL || ladder == NULL || sdr == NULL || tj == NULL)
        goto out;
    pk->job = job;
    pk->t0_ms = clock_mono_ms();
    if ((rc = origin_asset_dir(cfg->data_dir, job->asset_id, pk->dir, sizeof(pk->dir))) !=
            SV_OK ||
        (rc = pkg_mkdirs(cfg->data_dir, pk->dir, err, errlen)) != SV_OK)
        goto out;
    if ((rc = ladder_parse(cfg->video_ladder, &spec, err, errlen)) != SV_OK)
        goto out;
    if (ladder_codec_parse(job->video_codec ? job->video_codec : cfg->video_codec, &codec) !=
        SV_OK) {
        snprintf(err, errlen, "video codec \"%s\" is not h264, hevc or av1",
                 job->video_codec ? job->video_codec : cfg->video_codec);
        rc = SV_BAD_DATA;
        goto out;
    }
    if (v && (rc = ladder_plan(&spec, codec, v->width, v->height, v->sar_num, v->sar_den,
                               v->fps_num, v->fps_den, ladder)) != SV_OK) {
        snprintf(err, errlen, "stream #%d: no ladder for %dx%d", v->index, v->width, v->height);
        goto out;
    }

    if (job->on_progress)
        job->on_progress(job->arg, 110, "subtitles");
    if ((rc = pkg_subtitles(pk, res, err, errlen)) != SV_OK)
        goto out;

    tj->source = job->source;
    tj->out_dir = pk->dir;
    tj->video_stream = v ? v->index : -1;
    tj->ladder = ladder;
    if (v && (v->hdr10 || v->hlg) && codec != LADDER_H264 &&
        ladder_plan(&spec, LADDER_H264, v->width, v->height, v->sar_num, v->sar_den, v->fps_num,
                    v->fps_den, sdr) == SV_OK) {
        /* The SDR fallback of an HDR ladder: the same sizes in H.264. */
        for (unsigned i = 0; i < sdr->n; i++) {
            char name[sizeof(sdr->rungs[i].name)];
            snprintf(name, sizeof(name), "%.10s-sdr", sdr->rungs[i].name);
            memcpy(sdr->rungs[i].name, name, sizeof(name));
        }
        tj->sdr_ladder = sdr;
    }
    pkg_plan_audio(job->probe, tj);
    tj->segment_ms = cfg->segment_duration_ms;
    tj->preset = cfg->video_preset;
    tj->max_decode_errors = cfg->media_max_decode_errors;
    tj->threads = 0;
    tj->on_tracks = pkg_on_tracks;
    tj->on_progress = pkg_on_progress;
    tj->arg = pk;
    tj->cancel = job->cancel;
    pk->permille_from = 120;
    pk->permille_to = 980;

    if (job->no_transcode) {
        rc = transcode_can_remux(job->source, tj->video_stream, tj->segment_ms, why,
                                 sizeof(why));
        if (rc == SV_OK) {
            tj->remux = true;
        } else {
            size_t n = strlen(res->note);
            snprintf(res->note + n, sizeof(res->note) - n,
                     "%snot packaged as is (%s); transcoded instead", n ? "; " : "", why);
        }
    }
    if (v && !tj->remux) {
        thumbs_options_default(&topt, job->probe->duration_ms);
        if ((rc = thumbs_open(pk->dir, &topt, v->width, v->height, v->sar_num, v->sar_den,
                              job->probe->duration_ms, &thumbs, err, errlen)) != SV_OK)
            goto out;
        tj->thumbs = thumbs;
    }
    rc = transcode_run(tj, &tr, err, errlen);
    if (rc != SV_OK)
        goto out;
    if (thumbs) {
        rc = thumbs_finish(thumbs, err, errlen);
        thumbs = NULL;
        if (rc != SV_OK)
            goto out;
    } else if (v) {
        thumbs_options_default(&topt, job->probe->duration_ms);
        rc = thumbs_make_from_file(job->source, v->index, job->probe->duration_ms, pk->dir,
                                   &topt, why, sizeof(why));
        if (rc != SV_OK) {
            size_t n = strlen(res->note);
            snprintf(res->note + n, sizeof(res->note) - n, "%sno thumbnails: %s", n ? "; " : "",
                     why);
        }
    }
    if (pk->first_playable_ms == 0)
        pk->first_playable_ms = clock_mono_ms() - pk->t0_ms;
    res->duration_ms = tr.duration_ms;
    res->speed = tr.speed;
    res->remuxed = tj->remux;
    res->decode_errors = tr.decode_errors;
    res->nrenditions = pk->ntracks + pk->nsubs;
    res->first_playable_ms = pk->first_playable_ms;
    if (tr.decode_errors > 0) {
        size_t n = strlen(res->note);
        snprintf(res->note + n, sizeof(res->note) - n,
                 "%s%lld damaged packets or frames were skipped (limit %lld)", n ? "; " : "",
                 (long long)tr.decode_errors, (long long)cfg->media_max_decode_errors);
    }
    rc = SV_OK;
out:
    if (thumbs)
        thumbs_abort(thumbs);
    if (rc == SV_NO_MEMORY && err[0] == '\0')
        snprintf(err, errlen, "out of memory");
    free(tj);
    free(ladder);
    free(sdr);
    free(pk);
    return rc;
}
