/*
 * synth.c: clips from libavfilter sources, encoded with libavcodec and
 * written with libavformat.
 */
#include "media/synth.h"
#include "base/status.h"
#include "media/probe.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavfilter/buffersink.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>

typedef struct {
    AVFilterGraph *graph;
    AVFilterContext *sink;
    AVCodecContext *enc;
    AVStream *st;
    AVFrame *frame;
    int64_t next_us; /* presentation time of the next frame */
    bool done;
} synth_track_t;

static void
synth_track_free(synth_track_t *t)
{
    avfilter_graph_free(&t->graph);
    avcodec_free_context(&t->enc);
    av_frame_free(&t->frame);
}

/* A graph from a source description to a (a)buffersink. */
static int
synth_graph(synth_track_t *t, const char *desc, bool audio, char *err, size_t errlen)
{
    AVFilterInOut *in = NULL;
    int ret;

    t->graph = avfilter_graph_alloc();
    t->frame = av_frame_alloc();
    if (t->graph == NULL || t->frame == NULL)
        return SV_NO_MEMORY;
    ret = avfilter_graph_create_filter(
        &t->sink, avfilter_get_by_name(audio ? "abuffersink" : "buffersink"), "out", NULL, NULL,
        t->graph);
    if (ret >= 0 && (in = avfilter_inout_alloc()) == NULL)
        ret = AVERROR(ENOMEM);
    if (ret >= 0) {
        in->name = av_strdup("out");
        in->filter_ctx = t->sink;
        ret = avfilter_graph_parse_ptr(t->graph, desc, &in, NULL, NULL);
    }
    if (ret >= 0)
        ret = avfilter_graph_config(t->graph, NULL);
    avfilter_inout_free(&in);
    if (ret < 0) {
        char m[128];
        av_strerror(ret, m, sizeof(m));
        snprintf(err, errlen, "the source \"%s\": %s", desc, m);
        return SV_UNSUPPORTED;
    }
    return SV_OK;
}

static int
synth_drain(AVFormatContext *fmt, synth_track_t *t, AVPacket *pkt)
{
    for (;;) {
        int ret = avcodec_receive_packet(t->enc, pkt);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
            return SV_OK;
        if (ret < 0)
            return SV_ERROR;
        av_packet_rescale_ts(pkt, t->enc->time_base, t->st->time_base);
        pkt->stream_index = t->st->index;
        if (av_interleaved_write_frame(fmt, pkt) < 0)
            return SV_IO;
    }
}

/* Pulls one frame from the track's graph and encodes it (or flushes at the end). */
static int
synth_step(AVFormatContext *fmt, synth_track_t *t, AVPacket *pkt)
{
    int ret = av_buffersink_get_frame(t->sink, t->frame);
    if (ret == AVERROR_EOF) {
        t->done = true;
        if (avcodec_send_frame(t->enc, NULL) < 0)
            return SV_ERROR;
        return synth_drain(fmt, t, pkt);
    }
    if (ret < 0)
        return SV_ERROR;
    AVRational tb = av_buffersink_get_time_base(t->sink);
    t->frame->pts = av_rescale_q(t->frame->pts, tb, t->enc->time_base);
    t->frame->pict_type = AV_PICTURE_TYPE_NONE;
    t->next_us = av_rescale_q(t->frame->pts, t->enc->time_base, AV_TIME_BASE_Q);
    ret = avcodec_send_frame(t->enc, t->frame);
    av_frame_unref(t->frame);
    if (ret < 0)
        return SV_ERROR;
    return synth_drain(fmt, t, pkt);
}

static int
synth_open_encoder(AVFormatContext *fmt, synth_track_t *t, bool audio, const synth_clip_t *c,
                   char *err, size_t errlen)
{
    const AVCodec *codec =
        audio ? avcodec_find_encoder(AV_CODEC_ID_AAC) : avcodec_find_encoder_by_name("libx264");
    AVDictionary *opts = NULL;
    int ret;

    if (codec == NULL) {
        snprintf(err, errlen, "no %s encoder in this build", audio ? "AAC" : "libx264");
        return SV_UNSUPPORTED;
    }
    if ((t->enc = avcodec_alloc_context3(codec)) == NULL ||
        (t->st = avformat_new_stream(fmt, NULL)) == NULL)
        return SV_NO_MEMORY;
    if (audio) {
        AVChannelLayout stereo = AV_CHANNEL_LAYOUT_STEREO;
        t->enc->sample_rate = 48000;
        t->enc->sample_fmt = AV_SAMPLE_FMT_FLTP;
        av_channel_layout_copy(&t->enc->ch_layout, &stereo);
        t->enc->bit_rate = 128000;
        t->enc->time_base = (AVRational){1, 48000};
    } else {
        t->enc->width = c->width;
        t->enc->height = c->height;
        t->enc->pix_fmt = AV_PIX_FMT_YUV420P;
        t->enc->time_base = (AVRational){1, c->fps};
        t->enc->framerate = (AVRational){c->fps, 1};
        t->enc->gop_size = 2 * c->fps;
        av_dict_set(&opts, "preset", "veryfast", 0);
        av_dict_set(&opts, "crf", "20", 0);
    }
    if (fmt->oformat->flags & AVFMT_GLOBALHEADER)
        t->enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    ret = avcodec_open2(t->enc, codec, &opts);
    av_dict_free(&opts);
    if (ret < 0 || avcodec_parameters_from_context(t->st->codecpar, t->enc) < 0) {
        snprintf(err, errlen, "cannot open the %s encoder", codec->name);
        return SV_UNSUPPORTED;
    }
    t->st->time_base = t->enc->time_base;
    return SV_OK;
}

int
synth_make_clip(const char *path, const synth_clip_t *c, char *err, size_t errlen)
{
    synth_track_t v, a;
    AVFormatContext *fmt = NULL;
    AVPacket *pkt = NULL;
    char desc[256], tmp[4096];
    int rc = SV_NO_MEMORY;

    err[0] = '\0';
    memset(&v, 0, sizeof(v));
    memset(&a, 0, sizeof(a));
    probe_init_logging();
    if (c->width < 16 || c->height < 16 || c->width > 7680 || c->height > 4320 ||
        c->width % 2 || c->height % 2 || c->fps < 1 || c->fps > 120 || c->seconds < 1 ||
        c->seconds > 3600 || c->tone_hz < 0 || c->tone_hz > 20000 || c->video == NULL ||
        strspn(c->video, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(c->video)) {
        snprintf(err, errlen, "a clip's size, rate, length, tone or source is out of range");
        return SV_BAD_DATA;
    }
    if (snprintf(tmp, sizeof(tmp), "%s.part", path) >= (int)sizeof(tmp)) {
        snprintf(err, errlen, "path too long");
        return SV_TOO_BIG;
    }
    if (avformat_alloc_output_context2(&fmt, NULL, "mp4", tmp) < 0 ||
        (pkt = av_packet_alloc()) == NULL)
        goto out;
    snprintf(desc, sizeof(desc), "%s=size=%dx%d:rate=%d,trim=duration=%d,format=yuv420p",
             c->video, c->width, c->height, c->fps, c->seconds);
    if ((rc = synth_graph(&v, desc, false, err, errlen)) != SV_OK ||
        (rc = synth_open_encoder(fmt, &v, false, c, err, errlen)) != SV_OK)
        goto out;
    if (c->tone_hz > 0) {
        snprintf(desc, sizeof(desc),
                 "sine=frequency=%d:sample_rate=48000:duration=%d:samples_per_frame=1024,"
                 "aformat=sample_fmts=fltp:channel_layouts=stereo",
                 c->tone_hz, c->seconds);
        if ((rc = synth_graph(&a, desc, true, err, errlen)) != SV_OK ||
            (rc = synth_open_encoder(fmt, &a, true, c, err, errlen)) != SV_OK)
            goto out;
    } else {
        a.done = true;
    }
    if (avio_open(&fmt->pb, tmp, AVIO_FLAG_WRITE) < 0 || avformat_write_header(fmt, NULL) < 0) {
        snprintf(err, errlen, "cannot write %s", tmp);
        rc = SV_IO;
        goto out;
    }
    while (!v.done || !a.done) {
        synth_track_t *t = a.done || (!v.done && v.next_us <= a.next_us) ? &v : &a;
        if ((rc = synth_step(fmt, t, pkt)) != SV_OK) {
            snprintf(err, errlen, "making %s: %s", path, status_text(rc));
            goto out;
        }
    }
    if (av_write_trailer(fmt) < 0 || avio_closep(&fmt->pb) < 0 || rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot write %s", path);
        rc = SV_IO;
        goto out;
    }
    rc = SV_OK;
out:
    if (rc == SV_NO_MEMORY && err[0] == '\0')
        snprintf(err, errlen, "out of memory");
    if (fmt && fmt->pb)
        avio_closep(&fmt->pb);
    if (rc != SV_OK)
        remove(tmp);
    synth_track_free(&v);
    synth_track_free(&a);
    av_packet_free(&pkt);
    avformat_free_context(fmt);
    return rc;
}
