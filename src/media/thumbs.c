/*
 * thumbs.c: the poster and the thumbnail sprite sheets, from decoded pictures.
 *
 * A kept picture is scaled once to the tile size (yuv420p, full range, what
 * the mjpeg encoder takes) and copied into the sheet being filled; a sheet
 * is encoded when its last tile is placed. The same tile-size picture gives
 * the luma variance that decides whether a poster candidate is "nearly
 * uniform". Pictures that are neither a tile nor a poster candidate cost two
 * comparisons in thumbs_push.
 *
 * Every file is written under a temporary name ".NAME.TOKEN" in out_dir,
 * TOKEN being the random part of the first temporary (.thumbs.vtt.TOKEN,
 * created by thumbs_open, which is how an unwritable out_dir is found
 * early). thumbs_finish renames the sheets, the poster, and thumbs.vtt last,
 * so a thumbs.vtt on disk always refers to sheets that exist.
 */
#include "media/thumbs.h"
#include "base/buf.h"
#include "base/status.h"
#include "media/probe.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

/* Larger source pictures are refused; sheets and posters stay within it too. */
#define THUMBS_MAX_SIDE 16384
#define THUMBS_MAX_TILES 100000
/*
 * A picture whose luma variance (full range 0..255, every other pixel of
 * every other row of the tile-size picture) is below this is "nearly
 * uniform": a standard deviation under 8 levels. Black, white or flat
 * colour frames, fades, and black with faint noise fall under it; any
 * picture with visible content (even a small title on black) is far above.
 */
#define THUMBS_UNIFORM_VARIANCE 64.0
/* Poster candidates after the 10% mark are examined at most this often. */
#define THUMBS_POSTER_STEP_MS 500
/* thumbs_make_from_file seeks when the next wanted time is more than this
 * many intervals ahead of the last packet read; closer, it reads on. */
#define THUMBS_SEEK_INTERVALS 2

struct thumbs {
    char dir[PATH_MAX];
    char token[8]; /* the random part of this set's temporary names */
    thumbs_options_t o;
    int tile_w, tile_h, sheet_w, sheet_h, poster_w, poster_h;
    int per_sheet; /* cols * rows */
    int64_t duration_ms;
    int ntiles;           /* ceil(duration / interval): one cue each */
    int next_tile;        /* the first interval without a picture */
    int64_t next_tile_ms; /* its start; INT64_MAX when every interval has one */
    int sheets_written;   /* temporaries of sheets 1..sheets_written exist */
    bool sheet_dirty;     /* the sheet holds tiles not yet written */
    AVFrame *sheet;       /* the sheet being filled */
    AVFrame *tile;        /* the last picture taken, at tile size */
    bool have_tile;
    int64_t next_poster_ms; /* the next candidate's earliest time; INT64_MAX when chosen */
    bool poster_written;    /* its temporary exists */
    AVFrame *poster;        /* poster-size scratch picture */
    AVFrame *poster_best;   /* the most varied picture seen, at poster size */
    double best_variance;   /* of poster_best; < 0 when none */
    struct SwsContext *sws_tile, *sws_poster;
    AVCodecContext *enc_sheet, *enc_poster;
    AVPacket *pkt;
    int64_t encoded;
    int vtt_fd; /* the temporary thumbs.vtt, written by thumbs_finish */
    int failed; /* the first error of thumbs_push, returned by every later call */
    char err[2 * PATH_MAX + 256]; /* long enough for two paths and a reason */
};

/* ---- options ---- */

void
thumbs_options_default(thumbs_options_t *o, int64_t duration_ms)
{
    int64_t iv = duration_ms / 100; /* about 100 tiles */
    iv = (iv + 500) / 1000 * 1000;  /* in whole seconds: cue times read well */
    if (iv < 2000)
        iv = 2000;
    if (iv > 10000)
        iv = 10000;
    o->interval_ms = (int)iv;
    o->tile_width = 160;
    o->cols = 5;
    o->rows = 5;
    o->poster_width = 1280;
    o->jpeg_quality = 5;
}

static int
thumbs_even(double v)
{
    int e = 2 * (int)(v / 2 + 0.5);
    return e < 2 ? 2 : e;
}

/* ---- pictures ---- */

static AVFrame *
thumbs_picture_alloc(int w, int h)
{
    AVFrame *f = av_frame_alloc();
    if (f == NULL)
        return NULL;
    f->format = AV_PIX_FMT_YUV420P;
    f->width = w;
    f->height = h;
    f->color_range = AVCOL_RANGE_JPEG;
    if (av_frame_get_buffer(f, 0) < 0)
        av_frame_free(&f);
    return f;
}

/* Paints f black (full range). SV_OK or SV_NO_MEMORY. */
static int
thumbs_clear(AVFrame *f)
{
    if (av_frame_make_writable(f) < 0)
        return SV_NO_MEMORY;
    for (int y = 0; y < f->height; y++)
        memset(f->data[0] + (size_t)y * f->linesize[0], 0, (size_t)f->width);
    for (int p = 1; p <= 2; p++)
        for (int y = 0; y < f->height / 2; y++)
            memset(f->data[p] + (size_t)y * f->linesize[p], 128, (size_t)f->width / 2);
    return SV_OK;
}

/* Luma variance of every other pixel of every other row of f. */
static double
thumbs_luma_variance(const AVFrame *f)
{
    double sum = 0, sq = 0;
    long n = 0;
    for (int y = 0; y < f->height; y += 2) {
        const uint8_t *row = f->data[0] + (size_t)y * f->linesize[0];
        for (int x = 0; x < f->width; x += 2) {
            sum += row[x];
            sq += (double)row[x] * row[x];
            n++;
        }
    }
    if (n == 0)
        return 0;
    double mean = sum / n;
    return sq / n - mean * mean;
}

static bool
thumbs_is_yuvj(int format)
{
    return format == AV_PIX_FMT_YUVJ420P || format == AV_PIX_FMT_YUVJ422P ||
           format == AV_PIX_FMT_YUVJ444P || format == AV_PIX_FMT_YUVJ440P ||
           format == AV_PIX_FMT_YUVJ411P;
}

/* Scales src into dst (yuv420p, full range) through the cached *ctx. */
static int
thumbs_scale(thumbs_t *t, struct SwsContext **ctx, const AVFrame *src, AVFrame *dst)
{
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get((enum AVPixelFormat)src->format);
    int *inv, *table, src_range, dst_range, bright, contrast, sat;

    *ctx = sws_getCachedContext(*ctx, src->width, src->height, (enum AVPixelFormat)src->format,
                                dst->width, dst->height, AV_PIX_FMT_YUV420P, SWS_BICUBIC, NULL,
                                NULL, NULL);
    if (*ctx == NULL) {
        snprintf(t->err, sizeof(t->err), "cannot scale %dx%d %s pictures", src->width,
                 src->height, d ? d->name : "?");
        return SV_NO_MEMORY;
    }
    /* swscale knows the range of the yuvj formats only; frames carry it. */
    if (sws_getColorspaceDetails(*ctx, &inv, &src_range, &table, &dst_range, &bright, &contrast,
                                 &sat) >= 0) {
        int want_src = src->color_range == AVCOL_RANGE_JPEG || thumbs_is_yuvj(src->format);
        if (want_src != src_range || dst_range != 1)
            sws_setColorspaceDetails(*ctx, inv, want_src, table, 1, bright, contrast, sat);
    }
    if (av_frame_make_writable(dst) < 0) {
        snprintf(t->err, sizeof(t->err), "out of memory");
        return SV_NO_MEMORY;
    }
    sws_scale(*ctx, (const uint8_t *const *)src->data, src->linesize, 0, src->height, dst->data,
              dst->linesize);
    return SV_OK;
}

/* ---- files ---- */

static int
thumbs_path(const thumbs_t *t, char *dst, size_t cap, const char *name, bool temporary)
{
    int n = temporary ? snprintf(dst, cap, "%s/.%s.%s", t->dir, name, t->token)
                      : snprintf(dst, cap, "%s/%s", t->dir, name);
    return n > 0 && (size_t)n < cap ? SV_OK : SV_IO;
}

static int
thumbs_write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return SV_IO;
        p += w;
        len -= (size_t)w;
    }
    return SV_OK;
}

/* Writes data to the temporary of name (created new, mode 0644). */
static int
thumbs_write_temp(thumbs_t *t, const char *name, const void *data, size_t len)
{
    char path[PATH_MAX + 64];
    int fd, rc;

    if (thumbs_path(t, path, sizeof(path), name, true) != SV_OK) {
        snprintf(t->err, sizeof(t->err), "the path of %s in %s is too long", name, t->dir);
        return SV_IO;
    }
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(t->err, sizeof(t->err), "cannot create %s: %s", path, strerror(errno));
        return SV_IO;
    }
    rc = thumbs_write_all(fd, data, len);
    if (close(fd) != 0)
        rc = SV_IO;
    if (rc != SV_OK)
        snprintf(t->err, sizeof(t->err), "cannot write %s: %s", path, strerror(errno));
    return rc;
}

static AVCodecContext *
thumbs_encoder(int w, int h, int quality)
{
    const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_MJPEG);
    AVCodecContext *enc;
    if (codec == NULL || (enc = avcodec_alloc_context3(codec)) == NULL)
        return NULL;
    enc->width = w;
    enc->height = h;
    enc->pix_fmt = AV_PIX_FMT_YUV420P;
    enc->color_range = AVCOL_RANGE_JPEG; /* what makes yuv420p standard JPEG */
    enc->time_base = (AVRational){1, 25};
    enc->flags |= AV_CODEC_FLAG_QSCALE;
    enc->global_quality = FF_QP2LAMBDA * quality;
    enc->thread_count = 1;
    if (avcodec_open2(enc, codec, NULL) < 0)
        avcodec_free_context(&enc);
    return enc;
}

/* Encodes pic as JPEG into the temporary of name. */
static int
thumbs_encode(thumbs_t *t, AVCodecContext *enc, AVFrame *pic, const char *name)
{
    char averr[128];
    int r, rc;

    pic->pts = t->encoded++;
    pic->quality = enc->global_quality; /* mpegvideo's fixed qscale is per frame */
    pic->color_range = AVCOL_RANGE_JPEG;
    if ((r = avcodec_send_frame(enc, pic)) < 0 ||
        (r = avcodec_receive_packet(enc, t->pkt)) < 0) {
        av_strerror(r, averr, sizeof(averr));
        snprintf(t->err, sizeof(t->err), "cannot encode %s: %s", name, averr);
        return r == AVERROR(ENOMEM) ? SV_NO_MEMORY : SV_ERROR;
    }
    rc = thumbs_write_temp(t, name, t->pkt->data, (size_t)t->pkt->size);
    av_packet_unref(t->pkt);
    return rc;
}

static int
thumbs_write_sheet(thumbs_t *t)
{
    char name[32];
    int rc;
    snprintf(name, sizeof(name), "thumbs-%d.jpg", t->sheets_written + 1);
    if ((rc = thumbs_encode(t, t->enc_sheet, t->sheet, name)) != SV_OK)
        return rc;
    t->sheets_written++;
    t->sheet_dirty = false;
    if ((rc = thumbs_clear(t->sheet)) != SV_OK)
        snprintf(t->err, sizeof(t->err), "out of memory");
    return rc;
}

/* Copies the tile picture into the place of interval k; writes a full sheet. */
static int
thumbs_place(thumbs_t *t, int k)
{
    int pos = k % t->per_sheet;
    int x = pos % t->o.cols * t->tile_w, y = pos / t->o.cols * t->tile_h;

    if (av_frame_make_writable(t->sheet) < 0) {
        snprintf(t->err, sizeof(t->err), "out of memory");
        return SV_NO_MEMORY;
    }
    for (int p = 0; p < 3; p++) {
        int sh = p ? 1 : 0, w = t->tile_w >> sh, h = t->tile_h >> sh;
        uint8_t *dst =
            t->sheet->data[p] + (size_t)(y >> sh) * t->sheet->linesize[p] + (x >> sh);
        const uint8_t *src = t->tile->data[p];
        for (int r = 0; r < h; r++)
            memcpy(dst + (size_t)r * t->sheet->linesize[p],
                   src + (size_t)r * t->tile->linesize[p], (size_t)w);
    }
    t->sheet_dirty = true;
    if (pos == t->per_sheet - 1)
        return thumbs_write_sheet(t);
    return SV_OK;
}

/* ---- the set ---- */

static void
thumbs_free(thumbs_t *t, bool remove_temporaries)
{
    char path[PATH_MAX + 64], name[32];

    if (t->vtt_fd >= 0)
        close(t->vtt_fd);
    if (remove_temporaries && t->token[0]) {
        if (thumbs_path(t, path, sizeof(path), "thumbs.vtt", true) == SV_OK)
            unlink(path);
        for (int n = 1; n <= t->sheets_written; n++) {
            snprintf(name, sizeof(name), "thumbs-%d.jpg", n);
            if (thumbs_path(t, path, sizeof(path), name, true) == SV_OK)
                unlink(path);
        }
        if (t->poster_written &&
            thumbs_path(t, path, sizeof(path), "poster.jpg", true) == SV_OK)
            unlink(path);
    }
    av_frame_free(&t->sheet);
    av_frame_free(&t->tile);
    av_frame_free(&t->poster);
    av_frame_free(&t->poster_best);
    sws_freeContext(t->sws_tile);
    sws_freeContext(t->sws_poster);
    avcodec_free_context(&t->enc_sheet);
    avcodec_free_context(&t->enc_poster);
    av_packet_free(&t->pkt);
    free(t);
}

void
thumbs_abort(thumbs_t *t)
{
    if (t != NULL)
        thumbs_free(t, true);
}

const char *
thumbs_error(const thumbs_t *t)
{
    return t->err;
}

/* Checks the options and the picture; computes the sizes into t. */
static int
thumbs_settle_sizes(thumbs_t *t, const thumbs_options_t *o, int width, int height, int sar_num,
                    int sar_den, int64_t duration_ms, char *err, size_t errlen)
{
    if (o->interval_ms < 100 || o->tile_width < 16 || o->tile_width > 1024 || o->cols < 1 ||
        o->cols > 64 || o->rows < 1 || o->rows > 64 || o->poster_width < 16 ||
        o->poster_width > THUMBS_MAX_SIDE || o->jpeg_quality < 2 || o->jpeg_quality > 31) {
        snprintf(err, errlen,
                 "thumbnail options out of range (interval %d ms >= 100, tile width %d in "
                 "16..1024, %dx%d tiles within 64x64, poster width %d in 16..%d, quality %d "
                 "in 2..31)",
                 o->interval_ms, o->tile_width, o->cols, o->rows, o->poster_width,
                 THUMBS_MAX_SIDE, o->jpeg_quality);
        return SV_BAD_DATA;
    }
    if (width <= 0 || height <= 0) {
        snprintf(err, errlen, "no picture size (%dx%d)", width, height);
        return SV_BAD_DATA;
    }
    if (width > THUMBS_MAX_SIDE || height > THUMBS_MAX_SIDE) {
        snprintf(err, errlen, "%dx%d is larger than %d on a side", width, height,
                 THUMBS_MAX_SIDE);
        return SV_TOO_BIG;
    }
    if (duration_ms <= 0) {
        snprintf(err, errlen, "duration is %lld ms: nothing to show", (long long)duration_ms);
        return SV_BAD_DATA;
    }
    int64_t ntiles = (duration_ms + o->interval_ms - 1) / o->interval_ms;
    if (ntiles > THUMBS_MAX_TILES) {
        snprintf(err, errlen, "%lld thumbnails (one per %d ms) are more than %d",
                 (long long)ntiles, o->interval_ms, THUMBS_MAX_TILES);
        return SV_TOO_BIG;
    }
    if (sar_num <= 0 || sar_den <= 0)
        sar_num = sar_den = 1;
    /* The display width over the height, with the samples' own aspect. */
    double dar = (double)width * sar_num / ((double)height * sar_den);
    double display_w = (double)width * sar_num / sar_den;
    t->tile_w = o->tile_width & ~1;
    t->tile_h = thumbs_even(t->tile_w / dar);
    /* Never wider than the display width: a poster is not upscaled. */
    t->poster_w = display_w < o->poster_width ? (int)(display_w + 1e-6) : o->poster_width;
    t->poster_w &= ~1;
    if (t->poster_w < 2)
        t->poster_w = 2;
    t->poster_h = thumbs_even(t->poster_w / dar);
    t->sheet_w = t->tile_w * o->cols;
    t->sheet_h = t->tile_h * o->rows;
    if (t->sheet_h > THUMBS_MAX_SIDE || t->sheet_w > THUMBS_MAX_SIDE ||
        t->poster_h > THUMBS_MAX_SIDE) {
        snprintf(err, errlen,
                 "a %dx%d picture with sample aspect %d:%d gives sheets of %dx%d and a %dx%d "
                 "poster, larger than %d on a side",
                 width, height, sar_num, sar_den, t->sheet_w, t->sheet_h, t->poster_w,
                 t->poster_h, THUMBS_MAX_SIDE);
        return SV_BAD_DATA;
    }
    t->o = *o;
    t->per_sheet = o->cols * o->rows;
    t->duration_ms = duration_ms;
    t->ntiles = (int)ntiles;
    return SV_OK;
}

int
thumbs_open(const char *out_dir, const thumbs_options_t *o, int width, int height, int sar_num,
            int sar_den, int64_t duration_ms, thumbs_t **out, char *err, size_t errlen)
{
    thumbs_t *t;
    char path[PATH_MAX + 64];
    int rc = SV_NO_MEMORY, n;

    probe_init_logging();
    t = calloc(1, sizeof(*t));
    if (t == NULL) {
        snprintf(err, errlen, "out of memory");
        return SV_NO_MEMORY;
    }
    t->vtt_fd = -1; /* from here on, thumbs_abort(t) cleans up whatever exists */
    t->best_variance = -1;
    if ((rc = thumbs_settle_sizes(t, o, width, height, sar_num, sar_den, duration_ms, err,
                                  errlen)) != SV_OK)
        goto fail;
    n = snprintf(t->dir, sizeof(t->dir), "%s", out_dir);
    if (n < 0 || (size_t)n >= sizeof(t->dir) - 64) {
        snprintf(err, errlen, "the output directory's path is too long");
        rc = SV_IO;
        goto fail;
    }
    snprintf(path, sizeof(path), "%s/.thumbs.vtt.XXXXXX", t->dir);
    t->vtt_fd = mkstemp(path);
    if (t->vtt_fd < 0) {
        snprintf(err, errlen, "cannot create files in %s: %s", out_dir, strerror(errno));
        rc = SV_IO;
        goto fail;
    }
    snprintf(t->token, sizeof(t->token), "%s", path + strlen(path) - 6);

    t->next_tile = 0;
    t->next_tile_ms = 0;
    t->next_poster_ms = duration_ms / 10;
    rc = SV_NO_MEMORY;
    if ((t->sheet = thumbs_picture_alloc(t->sheet_w, t->sheet_h)) == NULL ||
        (t->tile = thumbs_picture_alloc(t->tile_w, t->tile_h)) == NULL ||
        (t->poster = thumbs_picture_alloc(t->poster_w, t->poster_h)) == NULL ||
        (t->poster_best = thumbs_picture_alloc(t->poster_w, t->poster_h)) == NULL ||
        (t->pkt = av_packet_alloc()) == NULL || thumbs_clear(t->sheet) != SV_OK) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if ((t->enc_sheet = thumbs_encoder(t->sheet_w, t->sheet_h, o->jpeg_quality)) == NULL ||
        (t->enc_poster = thumbs_encoder(t->poster_w, t->poster_h, o->jpeg_quality)) == NULL) {
        snprintf(err, errlen, "cannot open libavcodec's mjpeg encoder for %dx%d and %dx%d",
                 t->sheet_w, t->sheet_h, t->poster_w, t->poster_h);
        rc = SV_UNSUPPORTED;
        goto fail;
    }
    *out = t;
    return SV_OK;
fail:
    thumbs_abort(t);
    return rc;
}

/* A picture that is a tile, a poster candidate, or both. */
static int
thumbs_take(thumbs_t *t, const AVFrame *frame, int64_t pts_ms)
{
    bool is_tile = pts_ms >= t->next_tile_ms, is_candidate = pts_ms >= t->next_poster_ms;
    int rc;

    if (frame->width <= 0 || frame->height <= 0 || frame->width > THUMBS_MAX_SIDE ||
        frame->height > THUMBS_MAX_SIDE ||
        !sws_isSupportedInput((enum AVPixelFormat)frame->format)) {
        const char *name = av_get_pix_fmt_name((enum AVPixelFormat)frame->format);
        snprintf(t->err, sizeof(t->err),
                 "cannot take a %dx%d %s picture (at most %d on a side)", frame->width,
                 frame->height, name ? name : "unknown-format", THUMBS_MAX_SIDE);
        return SV_BAD_DATA;
    }
    if ((rc = thumbs_scale(t, &t->sws_tile, frame, t->tile)) != SV_OK)
        return rc;
    double variance = thumbs_luma_variance(t->tile);

    if (is_tile) {
        int64_t last = pts_ms / t->o.interval_ms;
        if (last >= t->ntiles)
            last = t->ntiles - 1;
        for (int k = t->next_tile; k <= last; k++)
            if ((rc = thumbs_place(t, k)) != SV_OK)
                return rc;
        t->have_tile = true;
        t->next_tile = (int)last + 1;
        t->next_tile_ms =
            t->next_tile < t->ntiles ? (int64_t)t->next_tile * t->o.interval_ms : INT64_MAX;
    }
    if (t->next_poster_ms == INT64_MAX)
        return SV_OK;
    if (is_candidate && variance >= THUMBS_UNIFORM_VARIANCE) {
        if ((rc = thumbs_scale(t, &t->sws_poster, frame, t->poster)) != SV_OK ||
            (rc = thumbs_encode(t, t->enc_poster, t->poster, "poster.jpg")) != SV_OK)
            return rc;
        t->poster_written = true;
        t->next_poster_ms = INT64_MAX;
        av_frame_free(&t->poster_best); /* not needed any more */
        return SV_OK;
    }
    if (is_candidate)
        t->next_poster_ms = pts_ms + THUMBS_POSTER_STEP_MS;
    if (variance > t->best_variance) {
        if ((rc = thumbs_scale(t, &t->sws_poster, frame, t->poster_best)) != SV_OK)
            return rc;
        t->best_variance = variance;
    }
    return SV_OK;
}

int
thumbs_push(thumbs_t *t, const struct AVFrame *frame, int64_t pts_ms)
{
    if (t->failed)
        return t->failed;
    if (pts_ms < t->next_tile_ms && pts_ms < t->next_poster_ms)
        return SV_OK; /* the common case: neither a tile nor a poster candidate */
    int rc = thumbs_take(t, frame, pts_ms);
    if (rc != SV_OK)
        t->failed = rc;
    return rc;
}

/* "HH:MM:SS.mmm" of ms. */
static void
thumbs_fmt_time(char *dst, size_t cap, int64_t ms)
{
    snprintf(dst, cap, "%02lld:%02d:%02d.%03d", (long long)(ms / 3600000),
             (int)(ms / 60000 % 60), (int)(ms / 1000 % 60), (int)(ms % 1000));
}

static int
thumbs_write_vtt(thumbs_t *t)
{
    buf_t b;
    char a[32], z[32];
    int rc;

    buf_init(&b, (size_t)t->ntiles * 96 + 16);
    rc = buf_append_cstr(&b, "WEBVTT\n");
    for (int k = 0; k < t->ntiles && rc == SV_OK; k++) {
        int64_t start = (int64_t)k * t->o.interval_ms, end = start + t->o.interval_ms;
        int pos = k % t->per_sheet;
        thumbs_fmt_time(a, sizeof(a), start);
        thumbs_fmt_time(z, sizeof(z), end < t->duration_ms ? end : t->duration_ms);
        rc = buf_appendf(&b, "\n%s --> %s\nthumbs-%d.jpg#xywh=%d,%d,%d,%d\n", a, z,
                         k / t->per_sheet + 1, pos % t->o.cols * t->tile_w,
                         pos / t->o.cols * t->tile_h, t->tile_w, t->tile_h);
    }
    if (rc != SV_OK) {
        snprintf(t->err, sizeof(t->err), "out of memory");
        goto out;
    }
    if (thumbs_write_all(t->vtt_fd, b.data, b.len) != SV_OK || fchmod(t->vtt_fd, 0644) != 0) {
        snprintf(t->err, sizeof(t->err), "cannot write thumbs.vtt in %s: %s", t->dir,
                 strerror(errno));
        rc = SV_IO;
        goto out;
    }
    int fd = t->vtt_fd;
    t->vtt_fd = -1;
    if (close(fd) != 0) {
        snprintf(t->err, sizeof(t->err), "cannot write thumbs.vtt in %s: %s", t->dir,
                 strerror(errno));
        rc = SV_IO;
    }
out:
    buf_free(&b);
    return rc;
}

static int
thumbs_rename(thumbs_t *t, const char *name)
{
    char from[PATH_MAX + 64], to[PATH_MAX + 64];
    if (thumbs_path(t, from, sizeof(from), name, true) != SV_OK ||
        thumbs_path(t, to, sizeof(to), name, false) != SV_OK || rename(from, to) != 0) {
        snprintf(t->err, sizeof(t->err), "cannot rename %s into place in %s: %s", name, t->dir,
                 strerror(errno));
        return SV_IO;
    }
    return SV_OK;
}

int
thumbs_finish(thumbs_t *t, char *err, size_t errlen)
{
    char name[32];
    int rc = t->failed;

    if (rc != SV_OK)
        goto out;
    if (!t->have_tile) {
        snprintf(t->err, sizeof(t->err), "no picture was offered");
        rc = SV_BAD_DATA;
        goto out;
    }
    /* The intervals after the last picture show the last picture. */
    for (int k = t->next_tile; k < t->ntiles; k++)
        if ((rc = thumbs_place(t, k)) != SV_OK)
            goto out;
    t->next_tile = t->ntiles;
    if (t->sheet_dirty && (rc = thumbs_write_sheet(t)) != SV_OK)
        goto out;
    if (!t->poster_written) {
        if ((rc = thumbs_encode(t, t->enc_poster, t->poster_best, "poster.jpg")) != SV_OK)
            goto out;
        t->poster_written = true;
    }
    if ((rc = thumbs_write_vtt(t)) != SV_OK)
        goto out;
    for (int n = 1; n <= t->sheets_written; n++) {
        snprintf(name, sizeof(name), "thumbs-%d.jpg", n);
        if ((rc = thumbs_rename(t, name)) != SV_OK)
            goto out;
    }
    if ((rc = thumbs_rename(t, "poster.jpg")) != SV_OK ||
        (rc = thumbs_rename(t, "thumbs.vtt")) != SV_OK)
        goto out;
    thumbs_free(t, false);
    return SV_OK;
out:
    snprintf(err, errlen, "%s", t->err);
    thumbs_free(t, true);
    return rc;
}

/* ---- from a file ---- */

static int64_t
thumbs_ms(int64_t ts, AVRational tb)
{
    return av_rescale_q(ts, tb, (AVRational){1, 1000});
}

/* The earliest time the set still wants a picture for; INT64_MAX when none. */
static int64_t
thumbs_wanted_ms(const thumbs_t *t)
{
    if (t->failed)
        return INT64_MAX;
    return t->next_tile_ms < t->next_poster_ms ? t->next_tile_ms : t->next_poster_ms;
}

/* Pushes the frames the decoder has ready. */
static int
thumbs_drain(thumbs_t *t, AVCodecContext *dec, AVFrame *frame, int64_t start_ms,
             int64_t *decoded)
{
    int r, rc = SV_OK;
    while (rc == SV_OK && (r = avcodec_receive_frame(dec, frame)) >= 0) {
        int64_t ts = frame->best_effort_timestamp;
        if (ts != AV_NOPTS_VALUE) {
            (*decoded)++;
            rc = thumbs_push(t, frame, thumbs_ms(ts, dec->pkt_timebase) - start_ms);
        }
        av_frame_unref(frame);
    }
    return rc;
}

int
thumbs_make_from_file(const char *source, int video_stream, int64_t duration_ms,
                      const char *out_dir, const thumbs_options_t *o, char *err, size_t errlen)
{
    AVFormatContext *fmt = NULL; /* all owned here, released at out */
    AVCodecContext *dec = NULL;
    AVPacket *pkt = NULL;
    AVFrame *frame = NULL;
    thumbs_t *t = NULL;
    thumbs_options_t opt;
    char averr[128];
    int rc = SV_NO_MEMORY, r;
    int64_t decoded = 0;

    probe_init_logging();
    if ((pkt = av_packet_alloc()) == NULL || (frame = av_frame_alloc()) == NULL) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    r = avformat_open_input(&fmt, source, NULL, NULL); /* frees fmt on failure */
    if (r < 0) {
        av_strerror(r, averr, sizeof(averr));
        snprintf(err, errlen, "%s is not a media file that can be read: %s", source, averr);
        rc = r == AVERROR(ENOENT) ? SV_NOT_FOUND : SV_BAD_DATA;
        fmt = NULL;
        goto out;
    }
    if ((r = avformat_find_stream_info(fmt, NULL)) < 0) {
        av_strerror(r, averr, sizeof(averr));
        snprintf(err, errlen, "cannot read the streams of %s: %s", source, averr);
        rc = SV_BAD_DATA;
        goto out;
    }
    if (video_stream < 0) {
        video_stream = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
        if (video_stream < 0) {
            snprintf(err, errlen, "%s has no video stream", source);
            rc = SV_BAD_DATA;
            goto out;
        }
    }
    if ((unsigned)video_stream >= fmt->nb_streams ||
        fmt->streams[video_stream]->codecpar->codec_type != AVMEDIA_TYPE_VIDEO) {
        snprintf(err, errlen, "%s has no video stream #%d", source, video_stream);
        rc = SV_BAD_DATA;
        goto out;
    }
    AVStream *st = fmt->streams[video_stream];
    const AVCodecParameters *cp = st->codecpar;
    const char *codec_name = avcodec_get_name(cp->codec_id);
    const AVCodec *codec = avcodec_find_decoder(cp->codec_id);
    if (codec == NULL) {
        snprintf(err, errlen, "stream #%d (%s): no decoder for this codec", video_stream,
                 codec_name);
        rc = SV_UNSUPPORTED;
        goto out;
    }
    if (cp->width > THUMBS_MAX_SIDE || cp->height > THUMBS_MAX_SIDE) {
        snprintf(err, errlen, "stream #%d (%s): %dx%d is larger than %d on a side",
                 video_stream, codec_name, cp->width, cp->height, THUMBS_MAX_SIDE);
        rc = SV_TOO_BIG;
        goto out;
    }
    if ((dec = avcodec_alloc_context3(codec)) == NULL) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    r = avcodec_parameters_to_context(dec, cp);
    dec->pkt_timebase = st->time_base;
    dec->skip_frame = AVDISCARD_NONKEY; /* keyframes are enough for thumbnails */
    dec->thread_count = 1;
    if (r >= 0)
        r = avcodec_open2(dec, codec, NULL);
    if (r < 0) {
        av_strerror(r, averr, sizeof(averr));
        snprintf(err, errlen, "stream #%d (%s): cannot open the decoder: %s", video_stream,
                 codec_name, averr);
        rc = r == AVERROR(ENOMEM) ? SV_NO_MEMORY : SV_BAD_DATA;
        goto out;
    }
    for (unsigned k = 0; k < fmt->nb_streams; k++)
        if ((int)k != video_stream)
            fmt->streams[k]->discard = AVDISCARD_ALL;

    int64_t start_ms =
        st->start_time != AV_NOPTS_VALUE ? thumbs_ms(st->start_time, st->time_base) : 0;
    if (duration_ms <= 0) {
        if (fmt->duration != AV_NOPTS_VALUE && fmt->duration > 0)
            duration_ms = fmt->duration / (AV_TIME_BASE / 1000);
        else if (st->duration != AV_NOPTS_VALUE)
            duration_ms = thumbs_ms(st->duration, st->time_base);
    }
    if (o == NULL)
        thumbs_options_default(&opt, duration_ms);
    else
        opt = *o;
    AVRational sar = av_guess_sample_aspect_ratio(fmt, st, NULL);
    if ((rc = thumbs_open(out_dir, &opt, cp->width, cp->height, sar.num, sar.den, duration_ms,
                          &t, err, errlen)) != SV_OK)
        goto out;

    int64_t last_ms = INT64_MIN;   /* time of the last packet read */
    int64_t sought_ms = INT64_MIN; /* the last time sought to: never twice */
    int64_t far = (int64_t)THUMBS_SEEK_INTERVALS * opt.interval_ms;
    for (;;) {
        int64_t want = thumbs_wanted_ms(t);
        if (want == INT64_MAX)
            break;
        if (want > sought_ms && want - (last_ms == INT64_MIN ? 0 : last_ms) > far) {
            int64_t ts = av_rescale_q(want + start_ms, (AVRational){1, 1000}, st->time_base);
            if (av_seek_frame(fmt, video_stream, ts, AVSEEK_FLAG_BACKWARD) >= 0)
                avcodec_flush_buffers(dec);
            sought_ms = want; /* if seeking failed, read on */
        }
        r = av_read_frame(fmt, pkt);
        if (r == AVERROR_EOF)
            break;
        if (r < 0) {
            av_strerror(r, averr, sizeof(averr));
            if (r == AVERROR(EIO)) {
                snprintf(err, errlen, "cannot read %s: %s", source, averr);
                rc = SV_IO;
                goto out;
            }
            break; /* a damaged tail: keep what was decoded */
        }
        if (pkt->stream_index != video_stream) {
            av_packet_unref(pkt);
            continue;
        }
        int64_t pts = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
        if (pts != AV_NOPTS_VALUE)
            last_ms = thumbs_ms(pts, st->time_base) - start_ms;
        r = avcodec_send_packet(dec, pkt);
        av_packet_unref(pkt);
        if (r < 0 && r != AVERROR_INVALIDDATA) {
            av_strerror(r, averr, sizeof(averr));
            snprintf(err, errlen, "stream #%d (%s): cannot decode: %s", video_stream,
                     codec_name, averr);
            rc = r == AVERROR(ENOMEM) ? SV_NO_MEMORY : SV_BAD_DATA;
            goto out;
        }
        if (thumbs_drain(t, dec, frame, start_ms, &decoded) != SV_OK)
            break; /* thumbs_finish reports it */
    }
    if (avcodec_send_packet(dec, NULL) >= 0)
        (void)thumbs_drain(t, dec, frame, start_ms, &decoded);
    if (decoded == 0) {
        snprintf(err, errlen, "stream #%d (%s): no decodable picture", video_stream,
                 codec_name);
        rc = SV_BAD_DATA;
        goto out;
    }
    rc = thumbs_finish(t, err, errlen);
    t = NULL; /* freed by thumbs_finish */
out:
    thumbs_abort(t);
    avcodec_free_context(&dec);
    avformat_close_input(&fmt);
    av_frame_free(&frame);
    av_packet_free(&pkt);
    return rc;
}
