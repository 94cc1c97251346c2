/*
 * test_thumbs.c: posters, sprite sheets and their WebVTT track, made from
 * files that ffmpeg makes at test time, by both roads: pictures pushed from
 * a decode loop of our own (as the transcoder does) and
 * thumbs_make_from_file (keyframes only). The files are decoded back with
 * libavcodec to check sizes, the aspect of anamorphic sources, that the
 * poster is not the black opening, and the cue layout. Failure paths: an
 * unwritable directory, a file that is not media, bad options and
 * pictures, and that nothing is left behind when a set is abandoned.
 */
#include "test.h"
#include "tmpdir.h"
#include "fixture.h"

#include "base/status.h"
#include "media/thumbs.h"

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>

/* Makes out_dir under the test directory; returns its path. */
static const char *
subdir(const char *name)
{
    const char *p = path_of(name);
    mkdir(p, 0755);
    return p;
}

/* Entries of a directory other than . and ..; hidden ones counted apart. */
static int
entries(const char *path, int *hidden)
{
    DIR *d = opendir(path);
    struct dirent *e;
    int n = 0;
    *hidden = 0;
    while (d && (e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        n++;
        if (e->d_name[0] == '.')
            (*hidden)++;
    }
    if (d)
        closedir(d);
    return n;
}

/* ---- decoding with libav, as a transcoder would ---- */

typedef int (*frame_fn)(void *arg, const AVFrame *f, int64_t pts_ms);

/* Decodes every picture of the first video stream of path, calling fn for
 * each; fills the stream's facts. Returns the pictures decoded, -1 on error. */
static int
decode_video(const char *path, frame_fn fn, void *arg, int *w, int *h, AVRational *sar,
             int64_t *duration_ms)
{
    AVFormatContext *fmt = NULL;
    AVCodecContext *dec = NULL;
    AVPacket *pkt = av_packet_alloc();
    AVFrame *f = av_frame_alloc();
    int n = -1, vs, r;

    if (pkt == NULL || f == NULL || avformat_open_input(&fmt, path, NULL, NULL) < 0)
        goto out;
    if (avformat_find_stream_info(fmt, NULL) < 0 ||
        (vs = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0)) < 0)
        goto out;
    AVStream *st = fmt->streams[vs];
    const AVCodec *codec = avcodec_find_decoder(st->codecpar->codec_id);
    if (codec == NULL || (dec = avcodec_alloc_context3(codec)) == NULL ||
        avcodec_parameters_to_context(dec, st->codecpar) < 0 ||
        avcodec_open2(dec, codec, NULL) < 0)
        goto out;
    if (w)
        *w = st->codecpar->width;
    if (h)
        *h = st->codecpar->height;
    if (sar)
        *sar = av_guess_sample_aspect_ratio(fmt, st, NULL);
    if (duration_ms)
        *duration_ms = fmt->duration / 1000;
    n = 0;
    bool flushing = false;
    while (!flushing) {
        if (av_read_frame(fmt, pkt) < 0) {
            flushing = true;
            avcodec_send_packet(dec, NULL);
        } else if (pkt->stream_index != vs) {
            av_packet_unref(pkt);
            continue;
        } else {
            avcodec_send_packet(dec, pkt);
            av_packet_unref(pkt);
        }
        while ((r = avcodec_receive_frame(dec, f)) >= 0) {
            int64_t ms =
                av_rescale_q(f->best_effort_timestamp, st->time_base, (AVRational){1, 1000});
            n++;
            if (fn && fn(arg, f, ms) != SV_OK) {
                n = -1;
                goto out;
            }
            av_frame_unref(f);
        }
    }
out:
    avcodec_free_context(&dec);
    avformat_close_input(&fmt);
    av_frame_free(&f);
    av_packet_free(&pkt);
    return n;
}

/* The picture of a JPEG: size, and the mean luma (0..255) of the rectangle
 * rx,ry,rw,rh (rw == 0: all of it). */
typedef struct {
    int w, h;
    int rx, ry, rw, rh;
    double mean;
} image_t;

static int
image_first(void *arg, const AVFrame *f, int64_t pts_ms)
{
    image_t *im = arg;
    (void)pts_ms;
    int x0 = im->rw ? im->rx : 0, y0 = im->rw ? im->ry : 0;
    int x1 = im->rw ? im->rx + im->rw : f->width, y1 = im->rw ? im->ry + im->rh : f->height;
    double sum = 0;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++)
            sum += f->data[0][(size_t)y * f->linesize[0] + x];
    im->mean = sum / ((double)(x1 - x0) * (y1 - y0));
    im->w = f->width;
    im->h = f->height;
    return SV_OK;
}

static int
image_info(const char *path, image_t *im)
{
    im->w = im->h = 0;
    return decode_video(path, image_first, im, NULL, NULL, NULL, NULL) == 1 ? 0 : -1;
}

/* ---- the WebVTT track ---- */

typedef struct {
    int64_t start, end;
    int sheet, x, y, w, h;
} cue_t;

static int64_t
parse_ts(const char *s)
{
    unsigned hh, mm, ss, ms;
    if (sscanf(s, "%u:%u:%u.%u", &hh, &mm, &ss, &ms) != 4)
        return -1;
    return ((int64_t)hh * 3600 + mm * 60 + ss) * 1000 + ms;
}

/* Reads thumbs.vtt of out_dir: the cues into cues (at most max), their
 * count, or -1 when the file is not as expected. The text into *text. */
static int
read_vtt(const char *out_dir, cue_t *cues, int max, char *text, size_t textcap)
{
    char path[600], line[256], a[32], b[32];
    int n = 0;
    snprintf(path, sizeof(path), "%s/thumbs.vtt", out_dir);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t len = fread(text, 1, textcap - 1, f);
    text[len] = '\0';
    rewind(f);
    if (fgets(line, sizeof(line), f) == NULL || strcmp(line, "WEBVTT\n") != 0) {
        fclose(f);
        return -1;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strcmp(line, "\n") == 0)
            continue;
        if (n >= max || sscanf(line, "%31s --> %31s", a, b) != 2)
            break;
        cues[n].start = parse_ts(a);
        cues[n].end = parse_ts(b);
        if (fgets(line, sizeof(line), f) == NULL ||
            sscanf(line, "thumbs-%d.jpg#xywh=%d,%d,%d,%d", &cues[n].sheet, &cues[n].x,
                   &cues[n].y, &cues[n].w, &cues[n].h) != 5)
            break;
        n++;
    }
    fclose(f);
    return n;
}

/*
 * Checks a finished set in out_dir: the cue count and contiguity, every
 * sheet cols*tw x rows*th, every cue inside its sheet, the poster size, no
 * temporaries. Returns the number of cues.
 */
static int
check_set(const char *out_dir, int64_t duration, int interval, int cols, int rows, int tw,
          int th, int pw, int ph)
{
    static cue_t cues[512];
    static char text[65536];
    char name[600];
    image_t im = {0};
    int hidden, n = read_vtt(out_dir, cues, 512, text, sizeof(text));
    int want = (int)((duration + interval - 1) / interval);
    int sheets = (want + cols * rows - 1) / (cols * rows);

    CHECK_INT(n, want);
    for (int k = 0; k < n; k++) {
        CHECK_INT(cues[k].start, (int64_t)k * interval);
        CHECK_INT(cues[k].end, k + 1 < n ? cues[k + 1].start : duration);
        CHECK_INT(cues[k].sheet, k / (cols * rows) + 1);
        CHECK_INT(cues[k].w, tw);
        CHECK_INT(cues[k].h, th);
        CHECK(cues[k].x >= 0 && cues[k].x + cues[k].w <= cols * tw);
        CHECK(cues[k].y >= 0 && cues[k].y + cues[k].h <= rows * th);
        CHECK(k == 0 || cues[k].sheet != cues[k - 1].sheet || cues[k].x != cues[k - 1].x ||
              cues[k].y != cues[k - 1].y);
    }
    for (int s = 1; s <= sheets; s++) {
        snprintf(name, sizeof(name), "%s/thumbs-%d.jpg", out_dir, s);
        CHECK_INT(image_info(name, &im), 0);
        CHECK_INT(im.w, cols * tw);
        CHECK_INT(im.h, rows * th);
    }
    snprintf(name, sizeof(name), "%s/thumbs-%d.jpg", out_dir, sheets + 1);
    CHECK(access(name, F_OK) != 0);
    snprintf(name, sizeof(name), "%s/poster.jpg", out_dir);
    CHECK_INT(image_info(name, &im), 0);
    CHECK_INT(im.w, pw);
    CHECK_INT(im.h, ph);
    CHECK_INT(entries(out_dir, &hidden), sheets + 2);
    CHECK_INT(hidden, 0);
    return n;
}

static double
poster_mean_luma(const char *out_dir)
{
    char name[600];
    image_t im = {0};
    snprintf(name, sizeof(name), "%s/poster.jpg", out_dir);
    return image_info(name, &im) == 0 ? im.mean : -1;
}

/* Mean luma of tile k's rectangle in its sheet. */
static double
tile_mean_luma(const char *out_dir, int k)
{
    static cue_t cues[512];
    static char text[65536];
    char name[600];
    int n = read_vtt(out_dir, cues, 512, text, sizeof(text));
    if (k >= n)
        return -1;
    image_t im = {0, 0, cues[k].x, cues[k].y, cues[k].w, cues[k].h, 0};
    snprintf(name, sizeof(name), "%s/thumbs-%d.jpg", out_dir, cues[k].sheet);
    return image_info(name, &im) == 0 ? im.mean : -1;
}

static int
push_one(void *arg, const AVFrame *f, int64_t pts_ms)
{
    return thumbs_push(arg, f, pts_ms);
}

/* The transcoder's road: every decoded picture pushed. */
static int
make_by_push(const char *src, const char *out_dir, const thumbs_options_t *o, int64_t *duration)
{
    char err[512] = "";
    int w = 0, h = 0;
    AVRational sar = {0, 1};
    thumbs_t *t = NULL;
    /* A first pass for the facts (a transcoder has them from its probe). */
    if (decode_video(path_of(src), NULL, NULL, &w, &h, &sar, duration) < 0)
        return SV_ERROR;
    int rc = thumbs_open(out_dir, o, w, h, sar.num, sar.den, *duration, &t, err, sizeof(err));
    if (rc != SV_OK) {
        printf("# thumbs_open: %s\n", err);
        return rc;
    }
    if (decode_video(path_of(src), push_one, t, NULL, NULL, NULL, NULL) <= 0) {
        printf("# pushing failed: %s\n", thumbs_error(t));
        thumbs_abort(t);
        return SV_ERROR;
    }
    rc = thumbs_finish(t, err, sizeof(err));
    if (rc != SV_OK)
        printf("# thumbs_finish: %s\n", err);
    return rc;
}

static int
make_from_file(const char *src, const char *out_dir, const thumbs_options_t *o,
               int64_t duration)
{
    char err[512] = "";
    int rc = thumbs_make_from_file(path_of(src), -1, duration, out_dir, o, err, sizeof(err));
    if (rc != SV_OK)
        printf("# thumbs_make_from_file: %s\n", err);
    return rc;
}

static const thumbs_options_t opt_small = {2000, 160, 3, 2, 640, 5};

TEST(pushed_pictures_make_sheets_poster_and_track)
{
    int64_t dur = 0;
    const char *out = subdir("push720");
    CHECK_INT(ffmpeg("-f lavfi -i testsrc2=size=1280x720:rate=25:duration=20 -c:v libx264 "
                     "-preset ultrafast -g 25 -pix_fmt yuv420p src720.mp4"),
              0);
    CHECK_INT(make_by_push("src720.mp4", out, &opt_small, &dur), SV_OK);
    CHECK_INT(dur, 20000);
    /* 10 intervals, 6 tiles a sheet: 2 sheets of 480x180, the second with 2
     * black tiles; a 640x360 poster. */
    CHECK_INT(check_set(out, dur, 2000, 3, 2, 160, 90, 640, 360), 10);
    CHECK(poster_mean_luma(out) > 40);
}

TEST(file_road_gives_the_same_layout)
{
    char a[65536], b[65536];
    cue_t ca[64], cb[64];
    const char *push = subdir("push720"), *file = subdir("file720");
    CHECK_INT(make_from_file("src720.mp4", file, &opt_small, 20000), SV_OK);
    CHECK_INT(check_set(file, 20000, 2000, 3, 2, 160, 90, 640, 360), 10);
    CHECK_INT(read_vtt(push, ca, 64, a, sizeof(a)), 10);
    CHECK_INT(read_vtt(file, cb, 64, b, sizeof(b)), 10);
    CHECK_STR(a, b);
    CHECK(poster_mean_luma(file) > 40);

    /* Defaults, and the duration from the file: 2 s intervals, one 5x5 sheet
     * of 160x90, a 1280x720 poster. */
    const char *def = subdir("default720");
    CHECK_INT(make_from_file("src720.mp4", def, NULL, 0), SV_OK);
    CHECK_INT(check_set(def, 20000, 2000, 5, 5, 160, 90, 1280, 720), 10);
}

TEST(poster_skips_the_black_opening)
{
    int64_t dur = 0;
    CHECK_INT(
        ffmpeg("-f lavfi -i color=c=black:size=320x240:rate=25:duration=3 "
               "-f lavfi -i testsrc2=size=320x240:rate=25:duration=7 "
               "-filter_complex \"[0:v][1:v]concat=n=2:v=1[v]\" -map \"[v]\" -c:v libx264 "
               "-preset ultrafast -g 25 -pix_fmt yuv420p black.mp4"),
        0);
    const thumbs_options_t o = {1000, 160, 5, 2, 1280, 5};
    const char *push = subdir("pushblack"), *file = subdir("fileblack");
    CHECK_INT(make_by_push("black.mp4", push, &o, &dur), SV_OK);
    CHECK_INT(dur, 10000);
    CHECK_INT(make_from_file("black.mp4", file, &o, dur), SV_OK);
    /* The poster is at most as wide as the picture: 320x240. */
    CHECK_INT(check_set(push, dur, 1000, 5, 2, 160, 120, 320, 240), 10);
    CHECK_INT(check_set(file, dur, 1000, 5, 2, 160, 120, 320, 240), 10);
    double pm = poster_mean_luma(push), fm = poster_mean_luma(file);
    printf("# poster mean luma: pushed %.1f, from the file %.1f\n", pm, fm);
    CHECK(pm > 40);
    CHECK(fm > 40);
    /* The black opening is in the tiles, black in full range (not 16). */
    double t0 = tile_mean_luma(push, 0), t5 = tile_mean_luma(push, 5);
    printf("# tile 0 (black) mean luma %.1f, tile 5 %.1f\n", t0, t5);
    CHECK(t0 >= 0 && t0 < 8);
    CHECK(t5 > 40);
}

TEST(anamorphic_source_keeps_its_display_aspect)
{
    int64_t dur = 0;
    CHECK_INT(ffmpeg("-f lavfi -i testsrc2=size=720x576:rate=25:duration=6 -vf setsar=4/3 "
                     "-c:v libx264 -preset ultrafast -g 25 -pix_fmt yuv420p ana.mp4"),
              0);
    const thumbs_options_t o = {2000, 160, 2, 2, 1280, 5};
    const char *push = subdir("pushana"), *file = subdir("fileana");
    CHECK_INT(make_by_push("ana.mp4", push, &o, &dur), SV_OK);
    CHECK_INT(make_from_file("ana.mp4", file, &o, dur), SV_OK);
    /* 720x576 at 4:3 shows as 960x576 (5:3): tiles 160x96, poster 960x576
     * (not wider than the display, though 1280 were allowed). */
    CHECK_INT(check_set(push, dur, 2000, 2, 2, 160, 96, 960, 576), 3);
    CHECK_INT(check_set(file, dur, 2000, 2, 2, 160, 96, 960, 576), 3);
}

/* A grey yuv420p picture with a gradient (not uniform). */
static AVFrame *
picture(int w, int h, bool flat)
{
    AVFrame *f = av_frame_alloc();
    f->format = AV_PIX_FMT_YUV420P;
    f->width = w;
    f->height = h;
    if (av_frame_get_buffer(f, 0) < 0) {
        av_frame_free(&f);
        return NULL;
    }
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            f->data[0][(size_t)y * f->linesize[0] + x] =
                flat ? 16 : (uint8_t)(16 + (x * 7) % 219);
    for (int p = 1; p <= 2; p++)
        for (int y = 0; y < h / 2; y++)
            memset(f->data[p] + (size_t)y * f->linesize[p], 128, (size_t)w / 2);
    return f;
}

TEST(pictures_not_kept_are_not_even_read)
{
    char err[512] = "";
    thumbs_t *t = NULL;
    const char *out = subdir("hollow");
    int hidden;
    CHECK_INT(thumbs_open(out, &opt_small, 320, 240, 0, 0, 20000, &t, err, sizeof(err)), SV_OK);
    AVFrame *real = picture(320, 240, false);
    AVFrame *hollow = av_frame_alloc(); /* no pixels at all: reading it would crash */
    hollow->format = AV_PIX_FMT_YUV420P;
    hollow->width = 320;
    hollow->height = 240;
    CHECK_INT(thumbs_push(t, real, 0), SV_OK);
    for (int64_t ms = 40; ms < 2000; ms += 40)
        CHECK_INT(thumbs_push(t, hollow, ms), SV_OK);
    CHECK_INT(thumbs_push(t, real, 2000), SV_OK);
    CHECK_INT(thumbs_push(t, hollow, 2040), SV_OK);
    CHECK_INT(thumbs_push(t, real, 7000), SV_OK); /* fills the tiles of 4000 and 6000 too */
    CHECK_STR(thumbs_error(t), "");
    CHECK_INT(thumbs_finish(t, err, sizeof(err)), SV_OK);
    /* 10 cues; the pictures after 7000 are the last one repeated. */
    CHECK_INT(check_set(out, 20000, 2000, 3, 2, 160, 120, 320, 240), 10);
    CHECK_INT(entries(out, &hidden), 4);
    av_frame_free(&real);
    av_frame_free(&hollow);
}

TEST(unwritable_directory_is_refused_at_open)
{
    char err[512] = "";
    thumbs_t *t = (thumbs_t *)&err; /* must stay untouched */
    FILE *f = fopen(path_of("a-file"), "w");
    if (f)
        fclose(f);
    CHECK_INT(
        thumbs_open(path_of("a-file"), &opt_small, 320, 240, 0, 0, 20000, &t, err, sizeof(err)),
        SV_IO);
    CHECK(strstr(err, "cannot create files in") != NULL && strstr(err, "Not a directory"));
    CHECK(t == (thumbs_t *)&err);
    printf("# %s\n", err);
    CHECK_INT(thumbs_open(path_of("no/such/dir"), &opt_small, 320, 240, 0, 0, 20000, &t, err,
                          sizeof(err)),
              SV_IO);
    CHECK(strstr(err, "No such file or directory") != NULL);
    CHECK_INT(make_from_file("src720.mp4", path_of("no/such/dir"), &opt_small, 20000), SV_IO);
    if (geteuid() != 0) { /* root writes anywhere */
        const char *ro = subdir("readonly");
        chmod(ro, 0555);
        CHECK_INT(thumbs_open(ro, &opt_small, 320, 240, 0, 0, 20000, &t, err, sizeof(err)),
                  SV_IO);
        CHECK(strstr(err, "Permission denied") != NULL);
        chmod(ro, 0755);
    }
}

TEST(file_that_is_not_media_is_bad_data_with_a_reason)
{
    char err[512] = "";
    int hidden;
    const char *out = subdir("notmedia");
    FILE *f = fopen(path_of("words.mp4"), "w");
    if (f) {
        fputs("these are words, not a video\n", f);
        fclose(f);
    }
    CHECK_INT(thumbs_make_from_file(path_of("words.mp4"), -1, 0, out, NULL, err, sizeof(err)),
              SV_BAD_DATA);
    CHECK(strstr(err, "is not a media file that can be read: Invalid data found") != NULL);
    printf("# %s\n", err);
    CHECK_INT(thumbs_make_from_file(path_of("missing.mp4"), -1, 0, out, NULL, err, sizeof(err)),
              SV_NOT_FOUND);
    /* An audio-only file has no picture. */
    CHECK_INT(ffmpeg("-f lavfi -i sine=duration=1 -c:a aac audio.m4a"), 0);
    CHECK_INT(thumbs_make_from_file(path_of("audio.m4a"), -1, 0, out, NULL, err, sizeof(err)),
              SV_BAD_DATA);
    CHECK(strstr(err, "has no video stream") != NULL);
    printf("# %s\n", err);
    CHECK_INT(entries(out, &hidden), 0);
}

TEST(bad_options_and_pictures_are_refused)
{
    char err[512] = "";
    thumbs_t *t = NULL;
    const char *out = subdir("bad");
    int hidden;
    thumbs_options_t o = opt_small;
    o.jpeg_quality = 1;
    CHECK_INT(thumbs_open(out, &o, 320, 240, 0, 0, 20000, &t, err, sizeof(err)), SV_BAD_DATA);
    CHECK(strstr(err, "quality 1 in 2..31") != NULL);
    CHECK_INT(thumbs_open(out, &opt_small, 20000, 240, 0, 0, 20000, &t, err, sizeof(err)),
              SV_TOO_BIG);
    CHECK_STR(err, "20000x240 is larger than 16384 on a side");
    CHECK_INT(thumbs_open(out, &opt_small, 320, 240, 0, 0, 0, &t, err, sizeof(err)),
              SV_BAD_DATA);
    CHECK_INT(thumbs_open(out, &opt_small, 320, 240, 1, 200, 20000, &t, err, sizeof(err)),
              SV_BAD_DATA);
    printf("# %s\n", err);
    CHECK_INT(entries(out, &hidden), 0);

    /* A picture too large, pushed: the failure sticks and is reported. */
    CHECK_INT(thumbs_open(out, &opt_small, 320, 240, 0, 0, 20000, &t, err, sizeof(err)), SV_OK);
    AVFrame *big = av_frame_alloc();
    big->format = AV_PIX_FMT_YUV420P;
    big->width = 16385;
    big->height = 16;
    CHECK_INT(thumbs_push(t, big, 0), SV_BAD_DATA);
    CHECK_STR(thumbs_error(t),
              "cannot take a 16385x16 yuv420p picture (at most 16384 on a side)");
    AVFrame *ok = picture(320, 240, false);
    CHECK_INT(thumbs_push(t, ok, 0), SV_BAD_DATA);
    CHECK_INT(thumbs_finish(t, err, sizeof(err)), SV_BAD_DATA);
    CHECK_STR(err, "cannot take a 16385x16 yuv420p picture (at most 16384 on a side)");
    CHECK_INT(entries(out, &hidden), 0);
    av_frame_free(&big);
    av_frame_free(&ok);

    /* Nothing pushed at all. */
    CHECK_INT(thumbs_open(out, &opt_small, 320, 240, 0, 0, 20000, &t, err, sizeof(err)), SV_OK);
    CHECK_INT(thumbs_finish(t, err, sizeof(err)), SV_BAD_DATA);
    CHECK_STR(err, "no picture was offered");
    CHECK_INT(entries(out, &hidden), 0);
}

TEST(abandoned_set_leaves_nothing_behind)
{
    char err[512] = "";
    thumbs_t *t = NULL;
    const char *out = subdir("abandoned");
    int hidden;
    AVFrame *f = picture(320, 240, false), *flat = picture(320, 240, true);
    CHECK_INT(thumbs_open(out, &opt_small, 320, 240, 0, 0, 20000, &t, err, sizeof(err)), SV_OK);
    /* Seven tiles: the first sheet is written; a flat picture at the 10%
     * mark is no poster, the next varied one is. */
    CHECK_INT(thumbs_push(t, flat, 2000), SV_OK);
    CHECK_INT(thumbs_push(t, f, 2600), SV_OK);
    CHECK_INT(thumbs_push(t, f, 12000), SV_OK);
    CHECK(entries(out, &hidden) == 3 &&
          hidden == 3); /* .thumbs.vtt, .thumbs-1.jpg, .poster.jpg */
    thumbs_abort(t);
    CHECK_INT(entries(out, &hidden), 0);
    thumbs_abort(NULL);
    av_frame_free(&f);
    av_frame_free(&flat);
}

TEST(defaults_follow_the_duration)
{
    thumbs_options_t o;
    thumbs_options_default(&o, 20000);
    CHECK_INT(o.interval_ms, 2000);
    thumbs_options_default(&o, 600000);
    CHECK_INT(o.interval_ms, 6000);
    thumbs_options_default(&o, 3 * 3600000);
    CHECK_INT(o.interval_ms, 10000);
    CHECK_INT(o.tile_width, 160);
    CHECK_INT(o.cols * o.rows, 25);
    CHECK_INT(o.poster_width, 1280);
    CHECK_INT(o.jpeg_quality, 5);
}

int
main(void)
{
    dir = tmpdir_make("thumbs");
    if (dir == NULL) {
        printf("not ok 1 - cannot make a temporary directory\n");
        return 1;
    }
    if (system("ffmpeg -version >/dev/null 2>&1") != 0) {
        printf("not ok 1 - ffmpeg is required to make test media\n");
        tmpdir_remove();
        return 1;
    }
    av_log_set_level(AV_LOG_ERROR);
    RUN(pushed_pictures_make_sheets_poster_and_track);
    RUN(file_road_gives_the_same_layout);
    RUN(poster_skips_the_black_opening);
    RUN(anamorphic_source_keeps_its_display_aspect);
    RUN(pictures_not_kept_are_not_even_read);
    RUN(unwritable_directory_is_refused_at_open);
    RUN(file_that_is_not_media_is_bad_data_with_a_reason);
    RUN(bad_options_and_pictures_are_refused);
    RUN(abandoned_set_leaves_nothing_behind);
    RUN(defaults_follow_the_duration);
    tmpdir_remove();
    return test_done();
}
