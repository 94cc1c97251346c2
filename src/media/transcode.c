/*
 * transcode.c: one read of the source, every rendition written at once.
 *
 * Threads: the caller's thread demuxes, decodes, brings video to the
 * ladder's constant frame rate, and encodes audio; each video rung has a
 * thread that scales and encodes the pictures it is handed through a small
 * bounded queue (the reading thread waits when a rung falls behind, so
 * memory stays at a few frames per rung). Decoded pictures are shared by
 * reference: a rung never writes into them.
 *
 * Segment instants: boundary k is at the first frame slot at or after
 * k * segment_ms. The reading thread marks that slot's picture as a forced
 * IDR for every rung, so every rung cuts at the same presentation time;
 * audio cuts at the first AAC frame at or after k * segment_ms.
 */
#include "media/transcode.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/status.h"
#include "media/bitstream.h"
#include "media/cmaf.h"
#include "media/probe.h"
#include "media/thumbs.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavformat/avformat.h>
#include <libavutil/audio_fifo.h>
#include <libavutil/channel_layout.h>
#include <libavutil/mastering_display_metadata.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libswresample/swresample.h>
#include <libswscale/swscale.h>

#define TC_QUEUE_CAP 3
#define TC_SAMPLE_MAX (64u << 20) /* one encoded picture, at most */
#define TC_AUDIO_RATE 48000
#define TC_MAX_GAP_S 10 /* a timestamp jump longer than this re-bases instead of filling */

typedef struct {
    AVFrame *frame; /* NULL: the end */
    int64_t slot;
    bool key;
} tc_item_t;

struct tc;

typedef struct {
    struct tc *tc;
    const ladder_rung_t *rung;
    ladder_codec_t codec;
    bool sdr_from_hdr; /* takes the tone-mapped picture */
    bool hdr;          /* keeps PQ/HLG, 10-bit */
    AVCodecContext *enc;
    struct SwsContext *sws;
    int sws_w, sws_h, sws_fmt;
    AVFrame *scaled;
    AVPacket *pkt;
    cmaf_writer_t *writer;
    buf_t sample, config;
    int64_t next_k; /* the next boundary this rung has not cut at yet */
    int64_t frames;
    /* the queue */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    tc_item_t q[TC_QUEUE_CAP];
    unsigned head, count;
    pthread_t thread;
    bool started, sync_ready;
    int rc;
    char err[256];
    transcode_track_info_t info;
} tc_rung_t;

typedef struct {
    const transcode_audio_t *spec;
    AVStream *st;
    AVCodecContext *dec, *enc;
    SwrContext *swr;
    int swr_fmt, swr_rate;
    AVChannelLayout swr_layout;
    AVAudioFifo *fifo;
    AVFrame *dframe, *eframe;
    AVPacket *pkt;
    cmaf_writer_t *writer;
    buf_t config;
    bool started;
    int64_t placed;  /* samples placed on the timeline (the FIFO's end) */
    int64_t drop;    /* samples still to drop (a start before the origin) */
    int64_t encoded; /* samples given to the encoder */
    int64_t next_k;
    transcode_track_info_t info;
} tc_audio_t;

typedef struct tc {
    const transcode_job_t *job;
    AVFormatContext *fmt;
    AVStream *vst;
    AVCodecContext *vdec;
    AVFrame *dframe, *fframe, *tframe;
    AVFrame *last, *last_sdr; /* the previous picture, for filling gaps */
    AVPacket *pkt;
    /* pre-filter (deinterlace) and tone-mapping graphs */
    AVFilterGraph *pre, *tone;
    AVFilterContext *pre_src, *pre_sink, *tone_src, *tone_sink;
    bool want_pre, want_tone, graphs_ready;
    int64_t origin_us;
    int fps_num, fps_den;
    uint32_t vts; /* video timescale */
    int64_t frame_ticks;
    int64_t next_slot, next_k;
    unsigned nrungs;
    tc_rung_t rungs[LADDER_MAX_RUNGS];
    unsigned naudio;
    tc_audio_t audio[TRANSCODE_MAX_AUDIO];
    atomic_bool failed;
    int64_t decode_errors, first_error_ms;
    int error_stream;
    int64_t frames_in, done_us, total_us;
    uint64_t t0_ms, last_progress_ms;
    bool source_hdr, source_hlg;
    const AVMasteringDisplayMetadata *mdm; /* NULL, or one of the below */
    const AVContentLightMetadata *clm;
    AVMasteringDisplayMetadata mdm_copy;
    AVContentLightMetadata clm_copy;
} tc_t;

/* ---- small helpers ---- */

static void
tc_averr(int ret, char *out, size_t cap)
{
    if (av_strerror(ret, out, cap) < 0)
        snprintf(out, cap, "libav error %d", ret);
}

uint32_t
transcode_video_timescale(int fps_num, int fps_den)
{
    if (fps_num <= 0 || fps_den <= 0)
        return 90000;
    if ((90000LL * fps_den) % fps_num == 0)
        return 90000;
    return (uint32_t)fps_num;
}

/* Slot of boundary k: the first frame at or after k * segment_ms. */
static int64_t
tc_boundary_slot(const tc_t *tc, int64_t k)
{
    int64_t num = k * tc->job->segment_ms * tc->fps_num;
    int64_t den = 1000LL * tc->fps_den;
    return (num + den - 1) / den;
}

static int64_t
tc_boundary_samples(const tc_t *tc, int64_t k, int rate)
{
    return k * tc->job->segment_ms * rate / 1000;
}

static bool
tc_cancelled(const tc_t *tc)
{
    return atomic_load(&tc->failed) ||
           (tc->job->cancel != NULL && atomic_load(tc->job->cancel));
}

/* ---- colour and HDR ---- */

static void
tc_track_colour(cmaf_track_t *t, const AVCodecContext *enc)
{
    if (enc->color_primaries == AVCOL_PRI_UNSPECIFIED)
        return;
    t->colour_primaries = enc->color_primaries;
    t->transfer_characteristics = enc->color_trc;
    t->matrix_coefficients = enc->colorspace;
    t->full_range = enc->color_range == AVCOL_RANGE_JPEG;
}

static uint16_t
tc_q(AVRational r, double unit)
{
    double v = av_q2d(r) / unit;
    return v < 0 ? 0 : v > 65535 ? 65535 : (uint16_t)(v + 0.5);
}

static void
tc_track_hdr(cmaf_track_t *t, const tc_t *tc)
{
    const AVMasteringDisplayMetadata *m = tc->mdm;
    const AVContentLightMetadata *c = tc->clm;
    if (m && m->has_primaries && m->has_luminance) {
        /* libav holds R, G, B; the box wants G, B, R. */
        static const int order[3] = {1, 2, 0};
        for (int i = 0; i < 3; i++) {
            t->mdcv_primaries[i][0] = tc_q(m->display_primaries[order[i]][0], 0.00002);
            t->mdcv_primaries[i][1] = tc_q(m->display_primaries[order[i]][1], 0.00002);
        }
        t->mdcv_white[0] = tc_q(m->white_point[0], 0.00002);
        t->mdcv_white[1] = tc_q(m->white_point[1], 0.00002);
        t->mdcv_max_lum = (uint32_t)(av_q2d(m->max_luminance) * 10000.0 + 0.5);
        t->mdcv_min_lum = (uint32_t)(av_q2d(m->min_luminance) * 10000.0 + 0.5);
        t->has_mdcv = true;
    }
    if (c) {
        t->max_cll = (uint16_t)(c->MaxCLL > 65535 ? 65535 : c->MaxCLL);
        t->max_fall = (uint16_t)(c->MaxFALL > 65535 ? 65535 : c->MaxFALL);
        t->has_clli = true;
    }
}

/* x265's master-display string from the source's metadata (G, B, R, WP, L). */
static void
tc_x265_master_display(const tc_t *tc, char *out, size_t cap)
{
    const AVMasteringDisplayMetadata *m = tc->mdm;
    out[0] = '\0';
    if (m == NULL || !m->has_primaries || !m->has_luminance)
        return;
    snprintf(
        out, cap, ":master-display=G(%u,%u)B(%u,%u)R(%u,%u)WP(%u,%u)L(%u,%u)",
        tc_q(m->display_primaries[1][0], 0.00002), tc_q(m->display_primaries[1][1], 0.00002),
        tc_q(m->display_primaries[2][0], 0.00002), tc_q(m->display_primaries[2][1], 0.00002),
        tc_q(m->display_primaries[0][0], 0.00002), tc_q(m->display_primaries[0][1], 0.00002),
        tc_q(m->white_point[0], 0.00002), tc_q(m->white_point[1], 0.00002),
        (unsigned)(av_q2d(m->max_luminance) * 10000.0 + 0.5),
        (unsigned)(av_q2d(m->min_luminance) * 10000.0 + 0.5));
}

/* ---- video encoders ---- */

static const char *
tc_svt_preset(const char *x264_preset)
{
    /* SVT-AV1 presets run 0 (slowest) to 13; map x264's names onto them. */
    static const struct {
        const char *name, *svt;
    } map[] = {{"ultrafast", "12"}, {"superfast", "11"}, {"veryfast", "10"},
               {"faster", "9"},     {"fast", "8"},       {"medium", "7"},
               {"slow", "6"},       {"slower", "5"},     {"veryslow", "4"}};
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(map[i].name, x264_preset) == 0)
            return map[i].svt;
    return "10";
}

/*
 * Encoder threads for a rung when the job leaves it to us: the machine's
 * cores shared by the rungs in proportion to their pixels (at least one
 * each). The rungs already run in parallel, so giving every encoder all the
 * cores (the encoders' own default) only adds frame threads that hold
 * pictures in memory and cost efficiency without finishing sooner.
 */
static int
tc_rung_threads(const tc_t *tc, const tc_rung_t *r)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    double total = 0, mine = (double)r->rung->width * r->rung->height;
    for (unsigned i = 0; i < tc->nrungs; i++)
        total += (double)tc->rungs[i].rung->width * tc->rungs[i].rung->height;
    if (cores < 1 || total <= 0)
        return 0;
    int n = (int)(cores * mine / total + 0.999);
    return n < 1 ? 1 : n > 16 ? 16 : n;
}

static int
tc_open_rung_encoder(tc_t *tc, tc_rung_t *r, ladder_codec_t codec, char *err, size_t errlen)
{
    const transcode_job_t *job = tc->job;
    const ladder_rung_t *rung = r->rung;
    const char *encname = codec == LADDER_HEVC  ? "libx265"
                          : codec == LADDER_AV1 ? "libsvtav1"
                                                : "libx264";
    const AVCodec *c = avcodec_find_encoder_by_name(encname);
    AVDictionary *opts = NULL;
    char params[512], md[160], av[160];
    int64_t gop = tc_boundary_slot(tc, 1);
    int ret;

    if (c == NULL) {
        snprintf(err, errlen, "rendition %s: the %s encoder is not in this build", rung->name,
                 encname);
        return SV_UNSUPPORTED;
    }
    r->enc = avcodec_alloc_context3(c);
    if (r->enc == NULL)
        return SV_NO_MEMORY;
    AVCodecContext *e = r->enc;
    e->width = rung->width;
    e->height = rung->height;
    e->sample_aspect_ratio = (AVRational){1, 1};
    e->time_base = (AVRational){tc->fps_den, tc->fps_num};
    e->framerate = (AVRational){tc->fps_num, tc->fps_den};
    e->pix_fmt = r->hdr ? AV_PIX_FMT_YUV420P10LE : AV_PIX_FMT_YUV420P;
    e->bit_rate = rung->bitrate;
    e->rc_max_rate = rung->maxrate;
    e->rc_buffer_size = (int)(rung->bufsize > INT32_MAX ? INT32_MAX : rung->bufsize);
    e->gop_size = (int)(gop > 0 ? gop : 1);
    e->flags |= AV_CODEC_FLAG_GLOBAL_HEADER | AV_CODEC_FLAG_CLOSED_GOP;
    e->thread_count = job->threads > 0 ? job->threads : tc_rung_threads(tc, r);
    if (r->hdr) {
        e->color_primaries = tc->vdec->color_primaries;
        e->color_trc = tc->vdec->color_trc;
        e->colorspace = tc->vdec->colorspace;
        e->color_range = AVCOL_RANGE_MPEG;
    } else {
        /* SDR out: keep the source's tags when it is SDR and tagged, else BT.709. */
        bool tagged = !tc->source_hdr && !tc->source_hlg &&
                      tc->vdec->color_primaries != AVCOL_PRI_UNSPECIFIED;
        e->color_primaries = tagged ? tc->vdec->color_primaries : AVCOL_PRI_BT709;
        e->color_trc = tagged && tc->vdec->color_trc != AVCOL_TRC_UNSPECIFIED
                           ? tc->vdec->color_trc
                           : AVCOL_TRC_BT709;
        e->colorspace = tagged && tc->vdec->colorspace != AVCOL_SPC_UNSPECIFIED
                            ? tc->vdec->colorspace
                            : AVCOL_SPC_BT709;
        e->color_range = AVCOL_RANGE_MPEG;
    }

    if (codec == LADDER_H264) {
        av_dict_set(&opts, "preset", job->preset, 0);
        av_dict_set(&opts, "profile", "high", 0);
        av_dict_set(&opts, "forced-idr", "1", 0);
        if (rung->h264_level) {
            char lv[16];
            snprintf(lv, sizeof(lv), "%d.%d", rung->h264_level / 10, rung->h264_level % 10);
            av_dict_set(&opts, "level", lv, 0);
        }
        /* min-keyint = the segment: scene cuts may add I frames, never an IDR
         * that would end a GOP off the grid. */
        snprintf(params, sizeof(params), "keyint=%lld:min-keyint=%lld:open-gop=0",
                 (long long)e->gop_size, (long long)e->gop_size);
        av_dict_set(&opts, "x264-params", params, 0);
    } else if (codec == LADDER_HEVC) {
        av_dict_set(&opts, "preset", job->preset, 0);
        av_dict_set(&opts, "profile", r->hdr ? "main10" : "main", 0);
        av_dict_set(&opts, "tag", "hvc1", 0);
        md[0] = '\0';
        if (r->hdr)
            tc_x265_master_display(tc, md, sizeof(md));
        av[0] = '\0';
        if (r->hdr && tc->clm)
            snprintf(av, sizeof(av), ":max-cll=%u,%u", tc->clm->MaxCLL, tc->clm->MaxFALL);
        snprintf(params, sizeof(params),
                 "log-level=error:keyint=%d:min-keyint=%d:open-gop=0:forced-idr=1:"
                 "repeat-headers=0:vbv-maxrate=%lld:vbv-bufsize=%lld%s%s%s",
                 e->gop_size, e->gop_size, (long long)(rung->maxrate / 1000),
                 (long long)(rung->bufsize / 1000), r->hdr ? ":hdr10=1:hdr10-opt=1" : "", md,
                 av);
        av_dict_set(&opts, "x265-params", params, 0);
    } else {
        av_dict_set(&opts, "preset", tc_svt_preset(job->preset), 0);
        snprintf(params, sizeof(params), "keyint=%d:irefresh-type=2", e->gop_size);
        av_dict_set(&opts, "svtav1-params", params, 0);
        e->rc_max_rate = 0; /* SVT-AV1 caps by its own mbr; a VBR target here */
        e->rc_buffer_size = 0;
    }
    ret = avcodec_open2(e, c, &opts);
    av_dict_free(&opts);
    if (ret < 0) {
        char m[128];
        tc_averr(ret, m, sizeof(m));
        snprintf(err, errlen, "rendition %s: cannot open %s: %s", rung->name, encname, m);
        return SV_UNSUPPORTED;
    }
    return SV_OK;
}

/* The rung's track file, once its encoder has given its parameter sets. */
static int
tc_open_rung_writer(tc_t *tc, tc_rung_t *r, ladder_codec_t codec, char *err, size_t errlen)
{
    const AVCodecContext *e = r->enc;
    char dir[1024], track[1100], index[1100];
    cmaf_track_t t;
    int rc;

    memset(&t, 0, sizeof(t));
    buf_init(&r->config, 1 << 20);
    buf_init(&r->sample, TC_SAMPLE_MAX);
    if (codec == LADDER_H264) {
        rc = bitstream_avcc(e->extradata, (size_t)e->extradata_size, &r->config, err, errlen);
        if (rc == SV_OK)
            rc = bitstream_codec_string_avc((const uint8_t *)r->config.data, r->config.len,
                                            r->info.codecs, sizeof(r->info.codecs));
        memcpy(t.fourcc, "avc1", 5);
    } else if (codec == LADDER_HEVC) {
        rc = bitstream_hvcc(e->extradata, (size_t)e->extradata_size, &r->config, err, errlen);
        if (rc == SV_OK)
            rc = bitstream_codec_string_hevc((const uint8_t *)r->config.data, r->config.len,
                                             r->info.codecs, sizeof(r->info.codecs));
        memcpy(t.fourcc, "hvc1", 5);
    } else {
        rc = bitstream_av1c(e->extradata, (size_t)e->extradata_size, &r->config, err, errlen);
        if (rc == SV_OK)
            rc = bitstream_codec_string_av1((const uint8_t *)r->config.data, r->config.len,
                                            r->info.codecs, sizeof(r->info.codecs));
        memcpy(t.fourcc, "av01", 5);
    }
    if (rc != SV_OK) {
        if (err[0] == '\0')
            snprintf(err, errlen, "rendition %s: the encoder's parameter sets are unreadable",
                     r->rung->name);
        return rc;
    }
    t.kind = CMAF_VIDEO;
    t.timescale = tc->vts;
    t.config = (const uint8_t *)r->config.data;
    t.config_len = r->config.len;
    memcpy(t.language, "und", 4);
    t.avg_bitrate = (uint32_t)r->rung->bitrate;
    t.max_bitrate = (uint32_t)r->rung->maxrate;
    t.width = e->width;
    t.height = e->height;
    tc_track_colour(&t, e);
    if (r->hdr)
        tc_track_hdr(&t, tc);

    snprintf(dir, sizeof(dir), "%s/%s", tc->job->out_dir, r->rung->name);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
        return SV_IO;
    }
    snprintf(track, sizeof(track), "%s/track.mp4", dir);
    snprintf(index, sizeof(index), "%s/track.idx", dir);
    rc = cmaf_writer_open(track, index, &t, &r->writer, err, errlen);
    if (rc != SV_OK)
        return rc;

    snprintf(r->info.name, sizeof(r->info.name), "%s", r->rung->name);
    r->info.video = true;
    r->info.width = e->width;
    r->info.height = e->height;
    r->info.fps_num = tc->fps_num;
    r->info.fps_den = tc->fps_den;
    snprintf(r->info.video_range, sizeof(r->info.video_range), "%s",
             !r->hdr          ? "SDR"
             : tc->source_hlg ? "HLG"
                              : "PQ");
    snprintf(r->info.language, sizeof(r->info.language), "und");
    r->info.bitrate = r->rung->bitrate;
    return SV_OK;
}

/* ---- the rung threads ---- */

static int
tc_rung_packet(tc_rung_t *r, const AVPacket *pkt)
{
    tc_t *tc = r->tc;
    cmaf_sample_t s;
    bool key = (pkt->flags & AV_PKT_FLAG_KEY) != 0;
    int rc;

    buf_reset(&r->sample);
    if (r->enc->codec_id == AV_CODEC_ID_AV1)
        rc = bitstream_av1_to_mp4(pkt->data, (size_t)pkt->size, &r->sample);
    else
        rc = bitstream_annexb_to_mp4(pkt->data, (size_t)pkt->size, &r->sample);
    if (rc != SV_OK) {
        snprintf(r->err, sizeof(r->err), "rendition %s: the encoder gave an unreadable packet",
                 r->rung->name);
        return rc;
    }
    if (key && pkt->pts >= tc_boundary_slot(tc, r->next_k)) {
        rc = cmaf_writer_cut(r->writer, r->err, sizeof(r->err));
        if (rc != SV_OK)
            return rc;
        while (tc_boundary_slot(tc, r->next_k) <= pkt->pts)
            r->next_k++;
    }
    s.dts = pkt->dts * tc->frame_ticks;
    s.pts = pkt->pts * tc->frame_ticks;
    s.duration = (uint32_t)tc->frame_ticks;
    s.keyframe = key;
    s.data = (const uint8_t *)r->sample.data;
    s.size = r->sample.len;
    rc = cmaf_writer_add(r->writer, &s);
    if (rc != SV_OK)
        snprintf(r->err, sizeof(r->err), "rendition %s: %s", r->rung->name, status_text(rc));
    return rc;
}

static int
tc_rung_drain(tc_rung_t *r)
{
    for (;;) {
        int ret = avcodec_receive_packet(r->enc, r->pkt);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
            return SV_OK;
        if (ret < 0) {
            char m[128];
            tc_averr(ret, m, sizeof(m));
            snprintf(r->err, sizeof(r->err), "rendition %s: encoding: %s", r->rung->name, m);
            return SV_ERROR;
        }
        int rc = tc_rung_packet(r, r->pkt);
        av_packet_unref(r->pkt);
        if (rc != SV_OK)
            return rc;
    }
}

static int
tc_rung_scale(tc_rung_t *r, const AVFrame *in)
{
    AVCodecContext *e = r->enc;
    if (r->sws == NULL || r->sws_w != in->width || r->sws_h != in->height ||
        r->sws_fmt != in->format) {
        sws_freeContext(r->sws);
        r->sws = sws_getContext(in->width, in->height, in->format, e->width, e->height,
                                e->pix_fmt, SWS_BICUBIC, NULL, NULL, NULL);
        if (r->sws == NULL) {
            snprintf(r->err, sizeof(r->err), "rendition %s: cannot scale %dx%d %s",
                     r->rung->name, in->width, in->height,
                     av_get_pix_fmt_name(in->format) ? av_get_pix_fmt_name(in->format) : "?");
            return SV_UNSUPPORTED;
        }
        r->sws_w = in->width;
        r->sws_h = in->height;
        r->sws_fmt = in->format;
    }
    if (av_frame_make_writable(r->scaled) < 0)
        return SV_NO_MEMORY;
    sws_scale(r->sws, (const uint8_t *const *)in->data, in->linesize, 0, in->height,
              r->scaled->data, r->scaled->linesize);
    return SV_OK;
}

static void *
tc_rung_main(void *arg)
{
    tc_rung_t *r = arg;
    tc_t *tc = r->tc;
    int rc = SV_OK;

    for (;;) {
        tc_item_t it;
        pthread_mutex_lock(&r->mu);
        while (r->count == 0)
            pthread_cond_wait(&r->cv, &r->mu);
        it = r->q[r->head];
        r->head = (r->head + 1) % TC_QUEUE_CAP;
        r->count--;
        pthread_cond_broadcast(&r->cv);
        pthread_mutex_unlock(&r->mu);

        if (it.frame == NULL)
            break;
        if (rc == SV_OK && !atomic_load(&tc->failed)) {
            rc = tc_rung_scale(r, it.frame);
            if (rc == SV_OK) {
                r->scaled->pts = it.slot;
                r->scaled->pict_type = it.key ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
                int ret = avcodec_send_frame(r->enc, r->scaled);
                if (ret < 0) {
                    char m[128];
                    tc_averr(ret, m, sizeof(m));
                    snprintf(r->err, sizeof(r->err), "rendition %s: encoding: %s",
                             r->rung->name, m);
                    rc = SV_ERROR;
                } else {
                    rc = tc_rung_drain(r);
                    r->frames++;
                }
            }
            if (rc != SV_OK)
                atomic_store(&tc->failed, true);
        }
        av_frame_free(&it.frame);
    }
    if (rc == SV_OK && !atomic_load(&tc->failed)) {
        avcodec_send_frame(r->enc, NULL);
        rc = tc_rung_drain(r);
        if (rc != SV_OK)
            atomic_store(&tc->failed, true);
    }
    r->rc = rc;
    return NULL;
}

/* Hands a picture to a rung; waits while its queue is full. frame is consumed. */
static void
tc_rung_put(tc_rung_t *r, AVFrame *frame, int64_t slot, bool key)
{
    pthread_mutex_lock(&r->mu);
    while (r->count == TC_QUEUE_CAP)
        pthread_cond_wait(&r->cv, &r->mu);
    tc_item_t *it = &r->q[(r->head + r->count) % TC_QUEUE_CAP];
    it->frame = frame;
    it->slot = slot;
    it->key = key;
    r->count++;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

/* ---- filter graphs: deinterlacing and HDR to SDR ---- */

static int
tc_graph_build(tc_t *tc, const AVFrame *f, const char *desc, AVFilterGraph **g,
               AVFilterContext **src, AVFilterContext **sink, char *err, size_t errlen)
{
    char args[256];
    AVFilterInOut *in = NULL, *out = NULL;
    AVRational tb = tc->vst->time_base;
    AVRational sar = f->sample_aspect_ratio.num ? f->sample_aspect_ratio : (AVRational){1, 1};
    int ret = AVERROR(ENOMEM);

    *g = avfilter_graph_alloc();
    if (*g == NULL)
        goto fail;
    (*g)->nb_threads = 1;
    snprintf(args, sizeof(args),
             "video_size=%dx%d:pix_fmt=%d:time_base=%d/%d:pixel_aspect=%d/%d", f->width,
             f->height, f->format, tb.num, tb.den, sar.num, sar.den);
    ret =
        avfilter_graph_create_filter(src, avfilter_get_by_name("buffer"), "in", args, NULL, *g);
    if (ret < 0)
        goto fail;
    ret = avfilter_graph_create_filter(sink, avfilter_get_by_name("buffersink"), "out", NULL,
                                       NULL, *g);
    if (ret < 0)
        goto fail;
    in = avfilter_inout_alloc();
    out = avfilter_inout_alloc();
    if (in == NULL || out == NULL) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    out->name = av_strdup("in");
    out->filter_ctx = *src;
    in->name = av_strdup("out");
    in->filter_ctx = *sink;
    ret = avfilter_graph_parse_ptr(*g, desc, &in, &out, NULL);
    if (ret >= 0)
        ret = avfilter_graph_config(*g, NULL);
    if (ret < 0)
        goto fail;
    avfilter_inout_free(&in);
    avfilter_inout_free(&out);
    return SV_OK;
fail:
    avfilter_inout_free(&in);
    avfilter_inout_free(&out);
    {
        char m[128];
        tc_averr(ret, m, sizeof(m));
        snprintf(err, errlen, "stream #%d: cannot build the filter \"%s\": %s", tc->vst->index,
                 desc, m);
    }
    return SV_UNSUPPORTED;
}

/* ---- video: pictures to slots ---- */

/* Hands the picture for slot to every rung that wants it. */
static int
tc_emit(tc_t *tc, AVFrame *main, AVFrame *sdr, int64_t slot)
{
    bool key = false;
    if (slot >= tc_boundary_slot(tc, tc->next_k)) {
        key = true;
        while (tc_boundary_slot(tc, tc->next_k) <= slot)
            tc->next_k++;
    }
    for (unsigned i = 0; i < tc->nrungs; i++) {
        tc_rung_t *r = &tc->rungs[i];
        AVFrame *src = r->sdr_from_hdr && sdr ? sdr : main;
        AVFrame *ref = av_frame_clone(src);
        if (ref == NULL)
            return SV_NO_MEMORY;
        tc_rung_put(r, ref, slot, key);
    }
    tc->done_us = av_rescale(slot, 1000000LL * tc->fps_den, tc->fps_num);
    return SV_OK;
}

/* One picture in its final form (filtered), at the source's timestamp. */
static int
tc_picture(tc_t *tc, AVFrame *f, char *err, size_t errlen)
{
    int64_t ts = f->best_effort_timestamp != AV_NOPTS_VALUE ? f->best_effort_timestamp : f->pts;
    int64_t us, slot, gap_limit = (int64_t)TC_MAX_GAP_S * tc->fps_num / tc->fps_den;
    AVFrame *sdr = NULL;
    int rc = SV_OK;

    if (ts == AV_NOPTS_VALUE)
        us = av_rescale(tc->next_slot, 1000000LL * tc->fps_den, tc->fps_num);
    else
        us = av_rescale_q(ts, tc->vst->time_base, AV_TIME_BASE_Q) - tc->origin_us;
    slot = av_rescale_rnd(us, tc->fps_num, 1000000LL * tc->fps_den, AV_ROUND_NEAR_INF);
    if (tc->last != NULL && slot < tc->next_slot)
        return SV_OK; /* more pictures than the constant rate has room for */
    if (slot - tc->next_slot > gap_limit) {
        log_warn("transcode", "stream #%d: timestamps jump %.3f s at %.3f s; closing the gap",
                 tc->vst->index, (double)(slot - tc->next_slot) * tc->fps_den / tc->fps_num,
                 (double)us / 1e6);
        slot = tc->next_slot;
    }
    if (tc->job->thumbs)
        (void)thumbs_push(tc->job->thumbs, f, us / 1000);

    if (tc->want_tone) {
        if (av_buffersrc_add_frame_flags(tc->tone_src, f, AV_BUFFERSRC_FLAG_KEEP_REF) < 0 ||
            av_buffersink_get_frame(tc->tone_sink, tc->tframe) < 0) {
            snprintf(err, errlen, "stream #%d: tone mapping failed at %.3f s", tc->vst->index,
                     (double)us / 1e6);
            return SV_ERROR;
        }
        sdr = tc->tframe;
    }
    /* Fill the slots up to this one: with the previous picture, or with this
     * one before the first (so every rung starts at time 0, as audio does). */
    while (rc == SV_OK && tc->next_slot < slot) {
        if (tc->last)
            rc = tc_emit(tc, tc->last, tc->last_sdr, tc->next_slot);
        else
            rc = tc_emit(tc, f, sdr, tc->next_slot);
        tc->next_slot++;
    }
    if (rc == SV_OK)
        rc = tc_emit(tc, f, sdr, slot);
    tc->next_slot = slot + 1;
    av_frame_free(&tc->last);
    av_frame_free(&tc->last_sdr);
    tc->last = av_frame_clone(f);
    if (sdr) {
        tc->last_sdr = av_frame_clone(sdr);
        av_frame_unref(tc->tframe);
        if (tc->last_sdr == NULL && rc == SV_OK)
            rc = SV_NO_MEMORY;
    }
    if (tc->last == NULL && rc == SV_OK)
        rc = SV_NO_MEMORY;
    return rc;
}

static int
tc_count_error(tc_t *tc, int stream, int64_t at_ms, const char *what, char *err, size_t errlen)
{
    if (tc->decode_errors++ == 0) {
        tc->first_error_ms = at_ms;
        tc->error_stream = stream;
        log_warn("transcode", "stream #%d: %s at %.3f s", stream, what, (double)at_ms / 1000);
    }
    if (tc->decode_errors > tc->job->max_decode_errors) {
        const AVStream *st = tc->fmt->streams[tc->error_stream];
        snprintf(err, errlen,
                 "stream #%d (%s): more than %lld damaged packets or frames (the first at "
                 "%.3f s)",
                 tc->error_stream, avcodec_get_name(st->codecpar->codec_id),
                 (long long)tc->job->max_decode_errors, (double)tc->first_error_ms / 1000);
        return SV_BAD_DATA;
    }
    return SV_OK;
}

static int
tc_video_decoded(tc_t *tc, AVFrame *f, char *err, size_t errlen)
{
    int rc;
    tc->frames_in++;
    if (f->decode_error_flags || (f->flags & AV_FRAME_FLAG_CORRUPT)) {
        int64_t at =
            av_rescale_q(f->best_effort_timestamp, tc->vst->time_base, (AVRational){1, 1000});
        rc = tc_count_error(tc, tc->vst->index, at, "a damaged picture", err, errlen);
        if (rc != SV_OK)
            return rc;
    }
    if (!tc->graphs_ready) {
        tc->graphs_ready = true;
        if (tc->want_pre &&
            (rc = tc_graph_build(tc, f, "bwdif=mode=send_frame:parity=auto:deint=interlaced",
                                 &tc->pre, &tc->pre_src, &tc->pre_sink, err, errlen)) != SV_OK)
            return rc;
        if (tc->want_tone) {
            const char *tone = "zscale=t=linear:npl=100,format=gbrpf32le,zscale=p=bt709,"
                               "tonemap=tonemap=hable:desat=0,zscale=t=bt709:m=bt709:r=tv,"
                               "format=yuv420p";
            /* The tone graph sees pictures after deinterlacing: same size and format. */
            if ((rc = tc_graph_build(tc, f, tone, &tc->tone, &tc->tone_src, &tc->tone_sink, err,
                                     errlen)) != SV_OK)
                return rc;
        }
    }
    if (!tc->want_pre)
        return tc_picture(tc, f, err, errlen);
    if (av_buffersrc_add_frame_flags(tc->pre_src, f, AV_BUFFERSRC_FLAG_KEEP_REF) < 0) {
        snprintf(err, errlen, "stream #%d: deinterlacing failed", tc->vst->index);
        return SV_ERROR;
    }
    for (;;) {
        int ret = av_buffersink_get_frame(tc->pre_sink, tc->fframe);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
            return SV_OK;
        if (ret < 0) {
            snprintf(err, errlen, "stream #%d: deinterlacing failed", tc->vst->index);
            return SV_ERROR;
        }
        rc = tc_picture(tc, tc->fframe, err, errlen);
        av_frame_unref(tc->fframe);
        if (rc != SV_OK)
            return rc;
    }
}

/* Sends pkt (NULL: flush) to the video decoder and handles what comes out. */
static int
tc_video_decode(tc_t *tc, const AVPacket *pkt, char *err, size_t errlen)
{
    int ret = avcodec_send_packet(tc->vdec, pkt);
    int rc;
    if (ret < 0 && ret != AVERROR_EOF) {
        int64_t at =
            pkt ? av_rescale_q(pkt->pts, tc->vst->time_base, (AVRational){1, 1000}) : 0;
        if ((rc = tc_count_error(tc, tc->vst->index, at, "a packet the decoder refused", err,
                                 errlen)) != SV_OK)
            return rc;
    }
    for (;;) {
        ret = avcodec_receive_frame(tc->vdec, tc->dframe);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
            break;
        if (ret < 0) {
            if ((rc = tc_count_error(tc, tc->vst->index, tc->done_us / 1000,
                                     "a picture that failed to decode", err, errlen)) != SV_OK)
                return rc;
            continue;
        }
        rc = tc_video_decoded(tc, tc->dframe, err, errlen);
        av_frame_unref(tc->dframe);
        if (rc != SV_OK)
            return rc;
    }
    if (pkt == NULL && tc->want_pre && tc->pre) {
        /* Drain the deinterlacer. */
        if (av_buffersrc_add_frame_flags(tc->pre_src, NULL, 0) < 0) {
            snprintf(err, errlen, "stream #%d: deinterlacing failed at the end",
                     tc->vst->index);
            return SV_ERROR;
        }
        while (av_buffersink_get_frame(tc->pre_sink, tc->fframe) >= 0) {
            rc = tc_picture(tc, tc->fframe, err, errlen);
            av_frame_unref(tc->fframe);
            if (rc != SV_OK)
                return rc;
        }
    }
    return SV_OK;
}

/* ---- audio ---- */

static int
tc_audio_open(tc_t *tc, tc_audio_t *a, char *err, size_t errlen)
{
    const AVCodec *dc, *ec;
    AVChannelLayout stereo = AV_CHANNEL_LAYOUT_STEREO;
    char dir[1024], track[1100], index[1100], m[128];
    cmaf_track_t t;
    int ret, rc;

    a->st = tc->fmt->streams[a->spec->source_stream];
    dc = avcodec_find_decoder(a->st->codecpar->codec_id);
    ec = avcodec_find_encoder(AV_CODEC_ID_AAC);
    if (dc == NULL || ec == NULL) {
        snprintf(err, errlen, "stream #%d: no %s", a->st->index,
                 dc == NULL ? "decoder" : "AAC encoder");
        return SV_UNSUPPORTED;
    }
    if ((a->dec = avcodec_alloc_context3(dc)) == NULL ||
        (a->enc = avcodec_alloc_context3(ec)) == NULL ||
        (a->dframe = av_frame_alloc()) == NULL || (a->eframe = av_frame_alloc()) == NULL ||
        (a->pkt = av_packet_alloc()) == NULL)
        return SV_NO_MEMORY;
    if (avcodec_parameters_to_context(a->dec, a->st->codecpar) < 0)
        return SV_NO_MEMORY;
    a->dec->pkt_timebase = a->st->time_base;
    if ((ret = avcodec_open2(a->dec, dc, NULL)) < 0) {
        tc_averr(ret, m, sizeof(m));
        snprintf(err, errlen, "stream #%d (%s): cannot open the decoder: %s", a->st->index,
                 dc->name, m);
        return SV_BAD_DATA;
    }
    a->enc->sample_rate = TC_AUDIO_RATE;
    a->enc->sample_fmt = AV_SAMPLE_FMT_FLTP;
    av_channel_layout_copy(&a->enc->ch_layout, &stereo);
    a->enc->bit_rate = a->spec->bitrate > 0 ? a->spec->bitrate : 128000;
    a->enc->time_base = (AVRational){1, TC_AUDIO_RATE};
    a->enc->profile = FF_PROFILE_AAC_LOW;
    a->enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    if ((ret = avcodec_open2(a->enc, ec, NULL)) < 0) {
        tc_averr(ret, m, sizeof(m));
        snprintf(err, errlen, "rendition %s: cannot open the AAC encoder: %s", a->spec->name,
                 m);
        return SV_UNSUPPORTED;
    }
    a->fifo = av_audio_fifo_alloc(AV_SAMPLE_FMT_FLTP, 2, 4096);
    if (a->fifo == NULL)
        return SV_NO_MEMORY;

    buf_init(&a->config, 4096);
    if (buf_append(&a->config, a->enc->extradata, (size_t)a->enc->extradata_size) != SV_OK)
        return SV_NO_MEMORY;
    memset(&t, 0, sizeof(t));
    t.kind = CMAF_AUDIO;
    t.timescale = TC_AUDIO_RATE;
    memcpy(t.fourcc, "mp4a", 5);
    t.config = (const uint8_t *)a->config.data;
    t.config_len = a->config.len;
    snprintf(t.language, sizeof(t.language), "%.3s",
             a->spec->language[0] ? a->spec->language : "und");
    t.avg_bitrate = (uint32_t)a->enc->bit_rate;
    t.max_bitrate = (uint32_t)a->enc->bit_rate;
    t.channels = 2;
    t.sample_rate = TC_AUDIO_RATE;
    snprintf(dir, sizeof(dir), "%s/%s", tc->job->out_dir, a->spec->name);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
        return SV_IO;
    }
    snprintf(track, sizeof(track), "%s/track.mp4", dir);
    snprintf(index, sizeof(index), "%s/track.idx", dir);
    if ((rc = cmaf_writer_open(track, index, &t, &a->writer, err, errlen)) != SV_OK)
        return rc;
    snprintf(a->info.name, sizeof(a->info.name), "%s", a->spec->name);
    rc = bitstream_codec_string_aac((const uint8_t *)a->config.data, a->config.len,
                                    a->info.codecs, sizeof(a->info.codecs));
    if (rc != SV_OK)
        snprintf(a->info.codecs, sizeof(a->info.codecs), "mp4a.40.2");
    a->info.channels = 2;
    a->info.sample_rate = TC_AUDIO_RATE;
    snprintf(a->info.language, sizeof(a->info.language), "%s", t.language);
    a->info.bitrate = a->enc->bit_rate;
    a->next_k = 1;
    return SV_OK;
}

static int
tc_audio_packet(tc_t *tc, tc_audio_t *a, const AVPacket *pkt, char *err, size_t errlen)
{
    cmaf_sample_t s;
    int64_t pts = pkt->pts + a->enc->initial_padding; /* priming presented, not trimmed */
    int rc;

    if (pts >= tc_boundary_samples(tc, a->next_k, TC_AUDIO_RATE)) {
        if ((rc = cmaf_writer_cut(a->writer, err, errlen)) != SV_OK)
            return rc;
        while (tc_boundary_samples(tc, a->next_k, TC_AUDIO_RATE) <= pts)
            a->next_k++;
    }
    s.dts = pts;
    s.pts = pts;
    s.duration = pkt->duration > 0 ? (uint32_t)pkt->duration : 1024;
    s.keyframe = true;
    s.data = pkt->data;
    s.size = (size_t)pkt->size;
    rc = cmaf_writer_add(a->writer, &s);
    if (rc != SV_OK)
        snprintf(err, errlen, "rendition %s: %s", a->spec->name, status_text(rc));
    return rc;
}

/* Encodes what the FIFO holds in whole AAC frames (all of it when flushing). */
static int
tc_audio_encode(tc_t *tc, tc_audio_t *a, bool flush, char *err, size_t errlen)
{
    int fs = a->enc->frame_size > 0 ? a->enc->frame_size : 1024;
    int ret, rc;

    while (av_audio_fifo_size(a->fifo) >= fs || (flush && av_audio_fifo_size(a->fifo) > 0)) {
        int n = av_audio_fifo_size(a->fifo) < fs ? av_audio_fifo_size(a->fifo) : fs;
        av_frame_unref(a->eframe);
        a->eframe->nb_samples = n;
        a->eframe->format = AV_SAMPLE_FMT_FLTP;
        a->eframe->sample_rate = TC_AUDIO_RATE;
        av_channel_layout_copy(&a->eframe->ch_layout, &a->enc->ch_layout);
        if (av_frame_get_buffer(a->eframe, 0) < 0)
            return SV_NO_MEMORY;
        if (av_audio_fifo_read(a->fifo, (void **)a->eframe->data, n) != n)
            return SV_ERROR;
        a->eframe->pts = a->encoded;
        a->encoded += n;
        if ((ret = avcodec_send_frame(a->enc, a->eframe)) < 0)
            goto encfail;
        for (;;) {
            ret = avcodec_receive_packet(a->enc, a->pkt);
            if (ret == AVERROR(EAGAIN))
                break;
            if (ret < 0)
                goto encfail;
            rc = tc_audio_packet(tc, a, a->pkt, err, errlen);
            av_packet_unref(a->pkt);
            if (rc != SV_OK)
                return rc;
        }
    }
    if (flush) {
        avcodec_send_frame(a->enc, NULL);
        while ((ret = avcodec_receive_packet(a->enc, a->pkt)) >= 0) {
            rc = tc_audio_packet(tc, a, a->pkt, err, errlen);
            av_packet_unref(a->pkt);
            if (rc != SV_OK)
                return rc;
        }
    }
    return SV_OK;
encfail : {
    char m[128];
    tc_averr(ret, m, sizeof(m));
    snprintf(err, errlen, "rendition %s: AAC encoding: %s", a->spec->name, m);
    return SV_ERROR;
}
}

static int
tc_audio_silence(tc_audio_t *a, int64_t n)
{
    float zeros[1024];
    void *planes[2] = {zeros, zeros};
    memset(zeros, 0, sizeof(zeros));
    while (n > 0) {
        int k = n > 1024 ? 1024 : (int)n;
        if (av_audio_fifo_write(a->fifo, planes, k) != k)
            return SV_NO_MEMORY;
        a->placed += k;
        n -= k;
    }
    return SV_OK;
}

static int
tc_audio_decoded(tc_t *tc, tc_audio_t *a, AVFrame *f, char *err, size_t errlen)
{
    AVChannelLayout in_layout;
    int64_t ts = f->best_effort_timestamp != AV_NOPTS_VALUE ? f->best_effort_timestamp : f->pts;
    int64_t pos;
    int rc;

    if (f->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC)
        av_channel_layout_default(&in_layout, f->ch_layout.nb_channels);
    else if (av_channel_layout_copy(&in_layout, &f->ch_layout) < 0)
        return SV_NO_MEMORY;
    if (a->swr == NULL || a->swr_fmt != f->format || a->swr_rate != f->sample_rate ||
        av_channel_layout_compare(&a->swr_layout, &in_layout) != 0) {
        AVChannelLayout stereo = AV_CHANNEL_LAYOUT_STEREO;
        swr_free(&a->swr);
        if (swr_alloc_set_opts2(&a->swr, &stereo, AV_SAMPLE_FMT_FLTP, TC_AUDIO_RATE, &in_layout,
                                f->format, f->sample_rate, 0, NULL) < 0 ||
            swr_init(a->swr) < 0) {
            av_channel_layout_uninit(&in_layout);
            snprintf(err, errlen, "stream #%d: cannot resample %d Hz %d channels", a->st->index,
                     f->sample_rate, f->ch_layout.nb_channels);
            return SV_UNSUPPORTED;
        }
        a->swr_fmt = f->format;
        a->swr_rate = f->sample_rate;
        av_channel_layout_uninit(&a->swr_layout);
        av_channel_layout_copy(&a->swr_layout, &in_layout);
    }
    av_channel_layout_uninit(&in_layout);

    if (ts != AV_NOPTS_VALUE) {
        pos = av_rescale_q(ts, a->st->time_base, (AVRational){1, TC_AUDIO_RATE}) -
              av_rescale(tc->origin_us, TC_AUDIO_RATE, 1000000);
        if (!a->started) {
            if (pos > 0 && (rc = tc_audio_silence(a, pos)) != SV_OK)
                return rc;
            if (pos < 0)
                a->drop = -pos;
        } else if (pos - a->placed > TC_AUDIO_RATE / 10 &&
                   pos - a->placed < (int64_t)TC_MAX_GAP_S * TC_AUDIO_RATE) {
            /* A hole in the source's audio: silence keeps the timeline. */
            if ((rc = tc_audio_silence(a, pos - a->placed)) != SV_OK)
                return rc;
        }
    }
    a->started = true;

    int cap = swr_get_out_samples(a->swr, f->nb_samples);
    uint8_t **planes = NULL;
    if (cap <= 0)
        return SV_OK;
    if (av_samples_alloc_array_and_samples(&planes, NULL, 2, cap, AV_SAMPLE_FMT_FLTP, 0) < 0)
        return SV_NO_MEMORY;
    int got =
        swr_convert(a->swr, planes, cap, (const uint8_t **)f->extended_data, f->nb_samples);
    if (got > 0) {
        int skip = a->drop > got ? got : (int)a->drop;
        a->drop -= skip;
        if (got > skip) {
            void *from[2] = {planes[0] + (size_t)skip * sizeof(float),
                             planes[1] + (size_t)skip * sizeof(float)};
            if (av_audio_fifo_write(a->fifo, from, got - skip) != got - skip)
                got = -1;
            else
                a->placed += got - skip;
        }
    }
    av_freep(&planes[0]);
    av_freep(&planes);
    if (got < 0)
        return SV_NO_MEMORY;
    return tc_audio_encode(tc, a, false, err, errlen);
}

static int
tc_audio_decode(tc_t *tc, tc_audio_t *a, const AVPacket *pkt, char *err, size_t errlen)
{
    int ret = avcodec_send_packet(a->dec, pkt);
    int rc;
    if (ret < 0 && ret != AVERROR_EOF) {
        int64_t at = pkt ? av_rescale_q(pkt->pts, a->st->time_base, (AVRational){1, 1000}) : 0;
        if ((rc = tc_count_error(tc, a->st->index, at, "an audio packet the decoder refused",
                                 err, errlen)) != SV_OK)
            return rc;
    }
    for (;;) {
        ret = avcodec_receive_frame(a->dec, a->dframe);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
            return SV_OK;
        if (ret < 0) {
            if ((rc = tc_count_error(tc, a->st->index, tc->done_us / 1000,
                                     "audio that failed to decode", err, errlen)) != SV_OK)
                return rc;
            continue;
        }
        rc = tc_audio_decoded(tc, a, a->dframe, err, errlen);
        av_frame_unref(a->dframe);
        if (rc != SV_OK)
            return rc;
    }
}

/* ---- setup and teardown ---- */

static void
tc_progress(tc_t *tc, bool force)
{
    uint64_t now = clock_mono_ms();
    if (tc->job->on_progress == NULL || (!force && now - tc->last_progress_ms < 500))
        return;
    tc->last_progress_ms = now;
    int64_t done = tc->done_us;
    for (unsigned i = 0; i < tc->naudio; i++) {
        int64_t a = tc->audio[i].placed * 1000000 / TC_AUDIO_RATE;
        if (tc->vst == NULL && a > done)
            done = a;
    }
    double wall = (double)(now - tc->t0_ms) / 1000.0;
    tc->job->on_progress(tc->job->arg, done / 1000, tc->total_us / 1000,
                         wall > 0 ? (double)done / 1e6 / wall : 0.0);
}

static void
tc_free(tc_t *tc)
{
    for (unsigned i = 0; i < tc->nrungs; i++) {
        tc_rung_t *r = &tc->rungs[i];
        if (r->started) {
            tc_rung_put(r, NULL, 0, false);
            pthread_join(r->thread, NULL);
        }
        if (r->sync_ready) {
            pthread_mutex_destroy(&r->mu);
            pthread_cond_destroy(&r->cv);
        }
        if (r->writer)
            cmaf_writer_abort(r->writer);
        avcodec_free_context(&r->enc);
        sws_freeContext(r->sws);
        av_frame_free(&r->scaled);
        av_packet_free(&r->pkt);
        buf_free(&r->sample);
        buf_free(&r->config);
    }
    for (unsigned i = 0; i < tc->naudio; i++) {
        tc_audio_t *a = &tc->audio[i];
        if (a->writer)
            cmaf_writer_abort(a->writer);
        avcodec_free_context(&a->dec);
        avcodec_free_context(&a->enc);
        swr_free(&a->swr);
        av_channel_layout_uninit(&a->swr_layout);
        if (a->fifo)
            av_audio_fifo_free(a->fifo);
        av_frame_free(&a->dframe);
        av_frame_free(&a->eframe);
        av_packet_free(&a->pkt);
        buf_free(&a->config);
    }
    avfilter_graph_free(&tc->pre);
    avfilter_graph_free(&tc->tone);
    avcodec_free_context(&tc->vdec);
    av_frame_free(&tc->dframe);
    av_frame_free(&tc->fframe);
    av_frame_free(&tc->tframe);
    av_frame_free(&tc->last);
    av_frame_free(&tc->last_sdr);
    av_packet_free(&tc->pkt);
    avformat_close_input(&tc->fmt);
}

/*
 * HEVC and AV1 sources usually carry their HDR10 metadata in the bitstream
 * (SEI, metadata OBUs), not in the container: decode the first picture, on
 * a reader of its own, to find it. Missing metadata is not an error.
 */
static void
tc_hdr_from_first_picture(tc_t *tc)
{
    AVFormatContext *fmt = NULL;
    AVCodecContext *dec = NULL;
    AVPacket *pkt = av_packet_alloc();
    AVFrame *f = av_frame_alloc();
    const AVCodec *dc = avcodec_find_decoder(tc->vst->codecpar->codec_id);
    int index = tc->vst->index, got = 0;

    if (pkt == NULL || f == NULL || dc == NULL ||
        avformat_open_input(&fmt, tc->job->source, NULL, NULL) < 0 ||
        avformat_find_stream_info(fmt, NULL) < 0 || index >= (int)fmt->nb_streams ||
        (dec = avcodec_alloc_context3(dc)) == NULL ||
        avcodec_parameters_to_context(dec, fmt->streams[index]->codecpar) < 0 ||
        avcodec_open2(dec, dc, NULL) < 0)
        goto out;
    for (int n = 0; n < 500 && !got && av_read_frame(fmt, pkt) >= 0; n++) {
        if (pkt->stream_index == index && avcodec_send_packet(dec, pkt) >= 0)
            got = avcodec_receive_frame(dec, f) >= 0;
        av_packet_unref(pkt);
    }
    if (!got && avcodec_send_packet(dec, NULL) >= 0)
        got = avcodec_receive_frame(dec, f) >= 0;
    if (!got)
        goto out;
    const AVFrameSideData *sd =
        av_frame_get_side_data(f, AV_FRAME_DATA_MASTERING_DISPLAY_METADATA);
    if (tc->mdm == NULL && sd && sd->size >= sizeof(AVMasteringDisplayMetadata)) {
        memcpy(&tc->mdm_copy, sd->data, sizeof(tc->mdm_copy));
        tc->mdm = &tc->mdm_copy;
    }
    sd = av_frame_get_side_data(f, AV_FRAME_DATA_CONTENT_LIGHT_LEVEL);
    if (tc->clm == NULL && sd && sd->size >= sizeof(AVContentLightMetadata)) {
        memcpy(&tc->clm_copy, sd->data, sizeof(tc->clm_copy));
        tc->clm = &tc->clm_copy;
    }
out:
    avcodec_free_context(&dec);
    avformat_close_input(&fmt);
    av_packet_free(&pkt);
    av_frame_free(&f);
}

static int
tc_open_video(tc_t *tc, char *err, size_t errlen)
{
    const transcode_job_t *job = tc->job;
    const AVCodec *dc;
    char m[128];
    int ret, rc;

    tc->vst = tc->fmt->streams[job->video_stream];
    dc = avcodec_find_decoder(tc->vst->codecpar->codec_id);
    if (dc == NULL) {
        snprintf(err, errlen, "stream #%d: no decoder for %s", tc->vst->index,
                 avcodec_get_name(tc->vst->codecpar->codec_id));
        return SV_UNSUPPORTED;
    }
    if ((tc->vdec = avcodec_alloc_context3(dc)) == NULL ||
        (tc->dframe = av_frame_alloc()) == NULL || (tc->fframe = av_frame_alloc()) == NULL ||
        (tc->tframe = av_frame_alloc()) == NULL)
        return SV_NO_MEMORY;
    if (avcodec_parameters_to_context(tc->vdec, tc->vst->codecpar) < 0)
        return SV_NO_MEMORY;
    tc->vdec->pkt_timebase = tc->vst->time_base;
    tc->vdec->thread_count = 0;
    if ((ret = avcodec_open2(tc->vdec, dc, NULL)) < 0) {
        tc_averr(ret, m, sizeof(m));
        snprintf(err, errlen, "stream #%d (%s): cannot open the decoder: %s", tc->vst->index,
                 dc->name, m);
        return SV_BAD_DATA;
    }
    tc->source_hdr = tc->vdec->color_trc == AVCOL_TRC_SMPTE2084;
    tc->source_hlg = tc->vdec->color_trc == AVCOL_TRC_ARIB_STD_B67;
    for (int i = 0; i < tc->vst->nb_side_data; i++) {
        const AVPacketSideData *sd = &tc->vst->side_data[i];
        if (sd->type == AV_PKT_DATA_MASTERING_DISPLAY_METADATA &&
            sd->size >= (int)sizeof(AVMasteringDisplayMetadata))
            tc->mdm = (const AVMasteringDisplayMetadata *)sd->data;
        if (sd->type == AV_PKT_DATA_CONTENT_LIGHT_LEVEL &&
            sd->size >= (int)sizeof(AVContentLightMetadata))
            tc->clm = (const AVContentLightMetadata *)sd->data;
    }
    if ((tc->source_hdr || tc->source_hlg) && (tc->mdm == NULL || tc->clm == NULL))
        tc_hdr_from_first_picture(tc);
    enum AVFieldOrder fo = tc->vst->codecpar->field_order;
    tc->want_pre =
        fo == AV_FIELD_TT || fo == AV_FIELD_BB || fo == AV_FIELD_TB || fo == AV_FIELD_BT;

    const ladder_t *l = job->ladder;
    tc->fps_num = l->n ? l->rungs[0].fps_num : 25;
    tc->fps_den = l->n ? l->rungs[0].fps_den : 1;
    tc->vts = transcode_video_timescale(tc->fps_num, tc->fps_den);
    tc->frame_ticks = (int64_t)tc->vts * tc->fps_den / tc->fps_num;
    tc->next_k = 0; /* slot 0 is boundary 0: the first picture is an IDR */

    /* HDR sources: HEVC/AV1 rungs keep HDR; an H.264 ladder (or the
     * fallback rungs below) gets tone-mapped SDR pictures. */
    bool hdr = tc->source_hdr || tc->source_hlg;
    for (unsigned i = 0; i < l->n; i++) {
        tc_rung_t *r = &tc->rungs[tc->nrungs++];
        r->tc = tc;
        r->rung = &l->rungs[i];
        r->codec = l->codec;
        r->hdr = hdr && l->codec != LADDER_H264;
        r->sdr_from_hdr = hdr && l->codec == LADDER_H264;
        r->next_k = 1;
    }
    const ladder_t *sl = job->sdr_ladder;
    for (unsigned i = 0;
         hdr && l->codec != LADDER_H264 && sl && i < sl->n && tc->nrungs < LADDER_MAX_RUNGS;
         i++) {
        tc_rung_t *r = &tc->rungs[tc->nrungs++];
        r->tc = tc;
        r->rung = &sl->rungs[i];
        r->codec = LADDER_H264;
        r->sdr_from_hdr = true;
        r->next_k = 1;
    }
    for (unsigned i = 0; i < tc->nrungs; i++)
        tc->want_tone = tc->want_tone || tc->rungs[i].sdr_from_hdr;
    for (unsigned i = 0; i < tc->nrungs; i++) {
        tc_rung_t *r = &tc->rungs[i];
        if ((r->scaled = av_frame_alloc()) == NULL || (r->pkt = av_packet_alloc()) == NULL)
            return SV_NO_MEMORY;
        if ((rc = tc_open_rung_encoder(tc, r, r->codec, err, errlen)) != SV_OK)
            return rc;
        r->scaled->format = r->enc->pix_fmt;
        r->scaled->width = r->enc->width;
        r->scaled->height = r->enc->height;
        if (av_frame_get_buffer(r->scaled, 0) < 0)
            return SV_NO_MEMORY;
        if ((rc = tc_open_rung_writer(tc, r, r->codec, err, errlen)) != SV_OK)
            return rc;
    }
    return SV_OK;
}

static int
tc_start_rungs(tc_t *tc, char *err, size_t errlen)
{
    for (unsigned i = 0; i < tc->nrungs; i++) {
        tc_rung_t *r = &tc->rungs[i];
        if (pthread_mutex_init(&r->mu, NULL) != 0)
            return SV_NO_MEMORY;
        if (pthread_cond_init(&r->cv, NULL) != 0) {
            pthread_mutex_destroy(&r->mu);
            return SV_NO_MEMORY;
        }
        r->sync_ready = true;
        if (pthread_create(&r->thread, NULL, tc_rung_main, r) != 0) {
            snprintf(err, errlen, "cannot start a thread for rendition %s", r->rung->name);
            return SV_NO_MEMORY;
        }
        r->started = true;
    }
    return SV_OK;
}

/* The earliest start of the streams in use, in microseconds. */
static int64_t
tc_origin_us(const AVFormatContext *fmt, const transcode_job_t *job)
{
    int64_t o = INT64_MAX;
    for (unsigned i = 0; i < fmt->nb_streams; i++) {
        const AVStream *st = fmt->streams[i];
        bool used = (int)i == job->video_stream;
        for (unsigned k = 0; k < job->naudio; k++)
            used = used || job->audio[k].source_stream == (int)i;
        if (!used || st->start_time == AV_NOPTS_VALUE)
            continue;
        int64_t us = av_rescale_q(st->start_time, st->time_base, AV_TIME_BASE_Q);
        if (us < o)
            o = us;
    }
    return o == INT64_MAX ? 0 : o;
}

static int
tc_open_input(tc_t *tc, char *err, size_t errlen)
{
    const transcode_job_t *job = tc->job;
    char m[128];
    int ret;

    if ((ret = avformat_open_input(&tc->fmt, job->source, NULL, NULL)) < 0 ||
        (ret = avformat_find_stream_info(tc->fmt, NULL)) < 0) {
        tc_averr(ret, m, sizeof(m));
        snprintf(err, errlen, "cannot read the source: %s", m);
        return SV_BAD_DATA;
    }
    if (job->video_stream >= (int)tc->fmt->nb_streams) {
        snprintf(err, errlen, "stream #%d: not in the source", job->video_stream);
        return SV_BAD_DATA;
    }
    for (unsigned i = 0; i < job->naudio; i++)
        if (job->audio[i].source_stream < 0 ||
            job->audio[i].source_stream >= (int)tc->fmt->nb_streams) {
            snprintf(err, errlen, "stream #%d: not in the source", job->audio[i].source_stream);
            return SV_BAD_DATA;
        }
    tc->origin_us = tc_origin_us(tc->fmt, job);
    tc->total_us = tc->fmt->duration > 0 ? tc->fmt->duration : 0;
    if ((tc->pkt = av_packet_alloc()) == NULL)
        return SV_NO_MEMORY;
    return SV_OK;
}

static int
tc_publish(tc_t *tc)
{
    transcode_track_info_t infos[LADDER_MAX_RUNGS + TRANSCODE_MAX_AUDIO];
    unsigned n = 0;
    if (tc->job->on_tracks == NULL)
        return SV_OK;
    for (unsigned i = 0; i < tc->nrungs; i++)
        infos[n++] = tc->rungs[i].info;
    for (unsigned i = 0; i < tc->naudio; i++)
        infos[n++] = tc->audio[i].info;
    return tc->job->on_tracks(tc->job->arg, infos, n);
}

static int
tc_finish_writers(tc_t *tc, char *err, size_t errlen)
{
    int rc = SV_OK;
    for (unsigned i = 0; i < tc->nrungs; i++) {
        tc_rung_t *r = &tc->rungs[i];
        int x = cmaf_writer_finish(r->writer, err, errlen);
        r->writer = NULL;
        if (x != SV_OK && rc == SV_OK)
            rc = x;
    }
    for (unsigned i = 0; i < tc->naudio; i++) {
        tc_audio_t *a = &tc->audio[i];
        int x = cmaf_writer_finish(a->writer, err, errlen);
        a->writer = NULL;
        if (x != SV_OK && rc == SV_OK)
            rc = x;
    }
    return rc;
}

static int transcode_remux(tc_t *tc, transcode_result_t *res, char *err, size_t errlen);

int
transcode_run(const transcode_job_t *job, transcode_result_t *res, char *err, size_t errlen)
{
    tc_t *tc = calloc(1, sizeof(*tc));
    int rc = SV_NO_MEMORY;

    err[0] = '\0';
    if (tc == NULL) {
        snprintf(err, errlen, "out of memory");
        return SV_NO_MEMORY;
    }
    probe_init_logging();
    tc->job = job;
    tc->t0_ms = clock_mono_ms();
    atomic_init(&tc->failed, false);
    if ((rc = tc_open_input(tc, err, errlen)) != SV_OK)
        goto out;
    if (job->remux) {
        rc = transcode_remux(tc, res, err, errlen);
        goto out;
    }
    if (job->video_stream >= 0 && (rc = tc_open_video(tc, err, errlen)) != SV_OK)
        goto out;
    for (unsigned i = 0; i < job->naudio; i++) {
        tc->audio[i].spec = &job->audio[i];
        tc->naudio++;
        if ((rc = tc_audio_open(tc, &tc->audio[i], err, errlen)) != SV_OK)
            goto out;
    }
    if ((rc = tc_publish(tc)) != SV_OK) {
        if (err[0] == '\0')
            snprintf(err, errlen, "publishing the renditions: %s", status_text(rc));
        goto out;
    }
    if ((rc = tc_start_rungs(tc, err, errlen)) != SV_OK)
        goto out;

    for (;;) {
        int ret = av_read_frame(tc->fmt, tc->pkt);
        if (ret == AVERROR_EOF)
            break;
        if (ret < 0) {
            /* A damaged or truncated container: what was read is kept, and
             * the rest counts as one error. */
            char m[128];
            tc_averr(ret, m, sizeof(m));
            log_warn("transcode", "reading the source stopped: %s", m);
            if ((rc = tc_count_error(tc, job->video_stream >= 0 ? job->video_stream : 0,
                                     tc->done_us / 1000, "a read error", err, errlen)) != SV_OK)
                goto out;
            break;
        }
        rc = SV_OK;
        if (tc->vst && tc->pkt->stream_index == tc->vst->index) {
            rc = tc_video_decode(tc, tc->pkt, err, errlen);
        } else {
            for (unsigned i = 0; i < tc->naudio && rc == SV_OK; i++)
                if (tc->audio[i].st->index == tc->pkt->stream_index)
                    rc = tc_audio_decode(tc, &tc->audio[i], tc->pkt, err, errlen);
        }
        av_packet_unref(tc->pkt);
        if (rc != SV_OK)
            goto out;
        if (tc_cancelled(tc))
            break;
        tc_progress(tc, false);
    }
    if (job->cancel && atomic_load(job->cancel)) {
        snprintf(err, errlen, "cancelled");
        rc = SV_UNAVAILABLE;
        goto out;
    }
    if (!atomic_load(&tc->failed)) {
        if (tc->vst && (rc = tc_video_decode(tc, NULL, err, errlen)) != SV_OK)
            goto out;
        for (unsigned i = 0; i < tc->naudio; i++) {
            tc_audio_t *a = &tc->audio[i];
            if ((rc = tc_audio_decode(tc, a, NULL, err, errlen)) != SV_OK ||
                (rc = tc_audio_encode(tc, a, true, err, errlen)) != SV_OK)
                goto out;
        }
    }
    /* The end for every rung, then wait for them. */
    for (unsigned i = 0; i < tc->nrungs; i++) {
        tc_rung_t *r = &tc->rungs[i];
        tc_rung_put(r, NULL, 0, false);
        pthread_join(r->thread, NULL);
        r->started = false;
        if (r->rc != SV_OK && rc == SV_OK) {
            snprintf(err, errlen, "%s", r->err[0] ? r->err : status_text(r->rc));
            rc = r->rc;
        }
    }
    if (rc != SV_OK)
        goto out;
    if (tc->vst && tc->frames_in == 0) {
        snprintf(err, errlen, "stream #%d (%s): no picture could be decoded", tc->vst->index,
                 avcodec_get_name(tc->vst->codecpar->codec_id));
        rc = SV_BAD_DATA;
        goto out;
    }
    if ((rc = tc_finish_writers(tc, err, errlen)) != SV_OK)
        goto out;
    tc_progress(tc, true);
    memset(res, 0, sizeof(*res));
    res->decode_errors = tc->decode_errors;
    res->frames_in = tc->frames_in;
    res->frames_out = tc->next_slot;
    res->duration_ms = tc->done_us / 1000;
    for (unsigned i = 0; i < tc->naudio; i++) {
        int64_t a = tc->audio[i].placed * 1000 / TC_AUDIO_RATE;
        if (a > res->duration_ms)
            res->duration_ms = a;
    }
    {
        double wall = (double)(clock_mono_ms() - tc->t0_ms) / 1000.0;
        res->speed = wall > 0 ? (double)res->duration_ms / 1000.0 / wall : 0;
    }
    rc = SV_OK;
out:
    if (rc != SV_OK)
        atomic_store(&tc->failed, true);
    if (rc != SV_OK && err[0] == '\0')
        snprintf(err, errlen, "%s", status_text(rc));
    tc_free(tc);
    free(tc);
    return rc;
}

/* ---- remux: the source's own packets ---- */

typedef struct {
    AVStream *st;
    bool video;
    uint32_t timescale;
    cmaf_writer_t *writer;
    buf_t config;
    AVPacket *held; /* one packet of look-ahead, for its duration */
    bool have_held;
    int64_t shift; /* added to every timestamp (track timescale) */
    bool first;
    int64_t next_k;
    int64_t last_key_ts, max_gap; /* keyframe spacing seen */
    transcode_track_info_t info;
} tc_rx_t;

static bool
tc_is_config_record(const AVCodecParameters *p)
{
    return p->extradata_size > 6 && p->extradata[0] == 1;
}

int
transcode_can_remux(const char *source, int video_stream, int64_t segment_ms, char *err,
                    size_t errlen)
{
    AVFormatContext *fmt = NULL;
    int rc = SV_UNSUPPORTED, ret;
    char m[128];

    probe_init_logging();
    if ((ret = avformat_open_input(&fmt, source, NULL, NULL)) < 0 ||
        (ret = avformat_find_stream_info(fmt, NULL)) < 0) {
        tc_averr(ret, m, sizeof(m));
        snprintf(err, errlen, "cannot read the source: %s", m);
        rc = SV_BAD_DATA;
        goto out;
    }
    for (unsigned i = 0; i < fmt->nb_streams; i++) {
        AVStream *st = fmt->streams[i];
        const AVCodecParameters *p = st->codecpar;
        if ((int)i == video_stream) {
            if (p->codec_id != AV_CODEC_ID_H264 && p->codec_id != AV_CODEC_ID_HEVC) {
                snprintf(err, errlen,
                         "stream #%u is %s; only H.264 and HEVC are packaged as is", i,
                         avcodec_get_name(p->codec_id));
                goto out;
            }
            if (!tc_is_config_record(p)) {
                snprintf(err, errlen,
                         "stream #%u carries its parameter sets in the stream (Annex B), "
                         "not in a configuration record",
                         i);
                goto out;
            }
            int n = avformat_index_get_entries_count(st);
            int64_t prev = AV_NOPTS_VALUE, limit = 2 * segment_ms;
            for (int k = 0; k < n; k++) {
                const AVIndexEntry *e = avformat_index_get_entry(st, k);
                if (e == NULL || !(e->flags & AVINDEX_KEYFRAME))
                    continue;
                int64_t ms = av_rescale_q(e->timestamp, st->time_base, (AVRational){1, 1000});
                if (prev != AV_NOPTS_VALUE && ms - prev > limit) {
                    snprintf(err, errlen,
                             "stream #%u has %.3f s between keyframes at %.3f s; segments of "
                             "%.3f s need keyframes at least every %.3f s",
                             i, (double)(ms - prev) / 1000, (double)prev / 1000,
                             (double)segment_ms / 1000, (double)limit / 1000);
                    goto out;
                }
                prev = ms;
            }
        } else if (p->codec_type == AVMEDIA_TYPE_AUDIO) {
            if (p->codec_id != AV_CODEC_ID_AAC || p->extradata_size < 2) {
                snprintf(err, errlen, "stream #%u is %s; only AAC audio is packaged as is", i,
                         avcodec_get_name(p->codec_id));
                goto out;
            }
        }
    }
    rc = SV_OK;
out:
    avformat_close_input(&fmt);
    return rc;
}

static int
tc_rx_open(tc_t *tc, tc_rx_t *x, const char *name, const char *language, char *err,
           size_t errlen)
{
    const AVCodecParameters *p = x->st->codecpar;
    char dir[1024], track[1100], index[1100];
    cmaf_track_t t;
    int rc;

    memset(&t, 0, sizeof(t));
    buf_init(&x->config, 1 << 20);
    if ((x->held = av_packet_alloc()) == NULL)
        return SV_NO_MEMORY;
    x->first = true;
    x->next_k = 1;
    x->last_key_ts = AV_NOPTS_VALUE;
    if (x->video) {
        bool hevc = p->codec_id == AV_CODEC_ID_HEVC;
        rc = hevc ? bitstream_hvcc(p->extradata, (size_t)p->extradata_size, &x->config, err,
                                   errlen)
                  : bitstream_avcc(p->extradata, (size_t)p->extradata_size, &x->config, err,
                                   errlen);
        if (rc == SV_OK)
            rc = hevc ? bitstream_codec_string_hevc((const uint8_t *)x->config.data,
                                                    x->config.len, x->info.codecs,
                                                    sizeof(x->info.codecs))
                      : bitstream_codec_string_avc((const uint8_t *)x->config.data,
                                                   x->config.len, x->info.codecs,
                                                   sizeof(x->info.codecs));
        if (rc != SV_OK) {
            if (err[0] == '\0')
                snprintf(err, errlen, "stream #%d: unreadable configuration record",
                         x->st->index);
            return rc;
        }
        memcpy(t.fourcc, hevc ? "hvc1" : "avc1", 5);
        t.kind = CMAF_VIDEO;
        /* The source's own clock when it is fine enough, else 90 kHz. */
        x->timescale = x->st->time_base.num == 1 && x->st->time_base.den >= 1000 &&
                               x->st->time_base.den <= 1000000
                           ? (uint32_t)x->st->time_base.den
                           : 90000;
        t.width = p->width;
        t.height = p->height;
        if (p->sample_aspect_ratio.num > 0 &&
            p->sample_aspect_ratio.num != p->sample_aspect_ratio.den) {
            t.sar_num = p->sample_aspect_ratio.num;
            t.sar_den = p->sample_aspect_ratio.den;
        }
        if (p->color_primaries != AVCOL_PRI_UNSPECIFIED) {
            t.colour_primaries = p->color_primaries;
            t.transfer_characteristics = p->color_trc;
            t.matrix_coefficients = p->color_space;
            t.full_range = p->color_range == AVCOL_RANGE_JPEG;
        }
        AVRational fr = x->st->avg_frame_rate.num ? x->st->avg_frame_rate : x->st->r_frame_rate;
        x->info.video = true;
        x->info.width = p->width;
        x->info.height = p->height;
        x->info.fps_num = fr.num;
        x->info.fps_den = fr.num ? fr.den : 1;
        snprintf(x->info.video_range, sizeof(x->info.video_range), "%s",
                 p->color_trc == AVCOL_TRC_SMPTE2084      ? "PQ"
                 : p->color_trc == AVCOL_TRC_ARIB_STD_B67 ? "HLG"
                                                          : "SDR");
    } else {
        if (buf_append(&x->config, p->extradata, (size_t)p->extradata_size) != SV_OK)
            return SV_NO_MEMORY;
        if (bitstream_codec_string_aac(p->extradata, (size_t)p->extradata_size, x->info.codecs,
                                       sizeof(x->info.codecs)) != SV_OK)
            snprintf(x->info.codecs, sizeof(x->info.codecs), "mp4a.40.2");
        memcpy(t.fourcc, "mp4a", 5);
        t.kind = CMAF_AUDIO;
        x->timescale = (uint32_t)(p->sample_rate > 0 ? p->sample_rate : 48000);
        t.channels = p->ch_layout.nb_channels;
        t.sample_rate = p->sample_rate;
        x->info.channels = t.channels;
        x->info.sample_rate = t.sample_rate;
    }
    t.timescale = x->timescale;
    t.config = (const uint8_t *)x->config.data;
    t.config_len = x->config.len;
    snprintf(t.language, sizeof(t.language), "%.3s", language[0] ? language : "und");
    t.avg_bitrate = (uint32_t)(p->bit_rate > 0 && p->bit_rate < UINT32_MAX ? p->bit_rate : 0);
    snprintf(dir, sizeof(dir), "%s/%s", tc->job->out_dir, name);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
        return SV_IO;
    }
    snprintf(track, sizeof(track), "%s/track.mp4", dir);
    snprintf(index, sizeof(index), "%s/track.idx", dir);
    if ((rc = cmaf_writer_open(track, index, &t, &x->writer, err, errlen)) != SV_OK)
        return rc;
    snprintf(x->info.name, sizeof(x->info.name), "%s", name);
    snprintf(x->info.language, sizeof(x->info.language), "%s", t.language);
    x->info.bitrate = p->bit_rate;
    return SV_OK;
}

/* Writes the held packet, whose duration the next one (or the end) tells. */
static int
tc_rx_flush_held(tc_t *tc, tc_rx_t *x, const AVPacket *next, char *err, size_t errlen)
{
    AVPacket *h = x->held;
    AVRational ts = {1, (int)x->timescale};
    int64_t dts, pts, dur, origin = av_rescale(tc->origin_us, x->timescale, 1000000);
    cmaf_sample_t s;
    bool key = (h->flags & AV_PKT_FLAG_KEY) != 0;
    int rc;

    if (!x->have_held)
        return SV_OK;
    dts =
        av_rescale_q(h->dts != AV_NOPTS_VALUE ? h->dts : h->pts, x->st->time_base, ts) - origin;
    pts =
        av_rescale_q(h->pts != AV_NOPTS_VALUE ? h->pts : h->dts, x->st->time_base, ts) - origin;
    if (next && next->dts != AV_NOPTS_VALUE && h->dts != AV_NOPTS_VALUE)
        dur = av_rescale_q(next->dts, x->st->time_base, ts) - origin - dts;
    else
        dur = av_rescale_q(h->duration, x->st->time_base, ts);
    if (dur <= 0)
        dur = av_rescale_q(h->duration, x->st->time_base, ts);
    if (dur <= 0)
        dur = x->video ? x->timescale / 25 : 1024;
    if (x->first) {
        /* A stream that starts before the asset's origin (audio priming in an
         * edit list) is shifted to start at 0, as the transcoder does. */
        int64_t p0 = x->video ? pts : dts;
        x->shift = p0 < 0 ? -p0 : 0;
        x->first = false;
    }
    dts += x->shift;
    pts += x->shift;
    if (x->video && key) {
        if (x->last_key_ts != AV_NOPTS_VALUE && pts - x->last_key_ts > x->max_gap)
            x->max_gap = pts - x->last_key_ts;
        x->last_key_ts = pts;
    }
    int64_t boundary = tc_boundary_samples(tc, x->next_k, (int)x->timescale);
    if ((key || !x->video) && pts >= boundary) {
        if ((rc = cmaf_writer_cut(x->writer, err, errlen)) != SV_OK)
            return rc;
        while (tc_boundary_samples(tc, x->next_k, (int)x->timescale) <= pts)
            x->next_k++;
    }
    if (x->video && x->max_gap > 2 * tc->job->segment_ms * (int64_t)x->timescale / 1000) {
        snprintf(err, errlen,
                 "stream #%d has %.3f s between keyframes; segments of %.3f s need them at "
                 "least every %.3f s",
                 x->st->index, (double)x->max_gap / x->timescale,
                 (double)tc->job->segment_ms / 1000, 2.0 * tc->job->segment_ms / 1000);
        return SV_UNSUPPORTED;
    }
    s.dts = dts;
    s.pts = pts;
    s.duration = (uint32_t)dur;
    s.keyframe = x->video ? key : true;
    s.data = h->data;
    s.size = (size_t)h->size;
    rc = cmaf_writer_add(x->writer, &s);
    if (rc != SV_OK)
        snprintf(err, errlen, "stream #%d: %s", x->st->index, status_text(rc));
    if (!x->video)
        tc->done_us = av_rescale(pts + dur, 1000000, x->timescale);
    else if (tc->vst == NULL || x->st == tc->vst)
        tc->done_us = av_rescale(pts, 1000000, x->timescale);
    av_packet_unref(h);
    x->have_held = false;
    return rc;
}

static int
transcode_remux(tc_t *tc, transcode_result_t *res, char *err, size_t errlen)
{
    const transcode_job_t *job = tc->job;
    tc_rx_t *xs = calloc(1 + TRANSCODE_MAX_AUDIO, sizeof(*xs));
    transcode_track_info_t infos[1 + TRANSCODE_MAX_AUDIO];
    unsigned n = 0;
    int rc = SV_NO_MEMORY;

    if (xs == NULL)
        return SV_NO_MEMORY;
    if ((rc = transcode_can_remux(job->source, job->video_stream, job->segment_ms, err,
                                  errlen)) != SV_OK)
        goto out;
    if (job->video_stream >= 0) {
        tc->vst = tc->fmt->streams[job->video_stream];
        xs[n].st = tc->vst;
        xs[n].video = true;
        /* Named by its short side, like a ladder rung: "720p". */
        char name[32];
        const AVCodecParameters *p = tc->vst->codecpar;
        snprintf(name, sizeof(name), "%dp", p->width < p->height ? p->width : p->height);
        if ((rc = tc_rx_open(tc, &xs[n], name, "und", err, errlen)) != SV_OK)
            goto out;
        n++;
    }
    for (unsigned i = 0; i < job->naudio; i++) {
        xs[n].st = tc->fmt->streams[job->audio[i].source_stream];
        if ((rc = tc_rx_open(tc, &xs[n], job->audio[i].name, job->audio[i].language, err,
                             errlen)) != SV_OK) {
            n++;
            goto out;
        }
        n++;
    }
    for (unsigned i = 0; i < n; i++)
        infos[i] = xs[i].info;
    if (job->on_tracks && (rc = job->on_tracks(job->arg, infos, n)) != SV_OK) {
        if (err[0] == '\0')
            snprintf(err, errlen, "publishing the renditions: %s", status_text(rc));
        goto out;
    }
    for (;;) {
        int ret = av_read_frame(tc->fmt, tc->pkt);
        if (ret == AVERROR_EOF)
            break;
        if (ret < 0) {
            char m[128];
            tc_averr(ret, m, sizeof(m));
            snprintf(err, errlen, "reading the source: %s", m);
            rc = SV_BAD_DATA;
            goto out;
        }
        rc = SV_OK;
        for (unsigned i = 0; i < n; i++) {
            tc_rx_t *x = &xs[i];
            if (x->st->index != tc->pkt->stream_index)
                continue;
            if ((rc = tc_rx_flush_held(tc, x, tc->pkt, err, errlen)) == SV_OK) {
                av_packet_move_ref(x->held, tc->pkt);
                x->have_held = true;
            }
            break;
        }
        av_packet_unref(tc->pkt);
        if (rc != SV_OK)
            goto out;
        if (tc_cancelled(tc)) {
            snprintf(err, errlen, "cancelled");
            rc = SV_UNAVAILABLE;
            goto out;
        }
        tc_progress(tc, false);
    }
    for (unsigned i = 0; i < n; i++)
        if ((rc = tc_rx_flush_held(tc, &xs[i], NULL, err, errlen)) != SV_OK)
            goto out;
    rc = SV_OK;
    for (unsigned i = 0; i < n; i++) {
        int x = cmaf_writer_finish(xs[i].writer, err, errlen);
        xs[i].writer = NULL;
        if (x != SV_OK && rc == SV_OK)
            rc = x;
    }
    if (rc != SV_OK)
        goto out;
    tc_progress(tc, true);
    memset(res, 0, sizeof(*res));
    res->duration_ms = tc->done_us / 1000;
    {
        double wall = (double)(clock_mono_ms() - tc->t0_ms) / 1000.0;
        res->speed = wall > 0 ? (double)res->duration_ms / 1000.0 / wall : 0;
    }
out:
    for (unsigned i = 0; i < 1 + TRANSCODE_MAX_AUDIO; i++) {
        if (xs[i].writer)
            cmaf_writer_abort(xs[i].writer);
        av_packet_free(&xs[i].held);
        buf_free(&xs[i].config);
    }
    free(xs);
    return rc;
}
