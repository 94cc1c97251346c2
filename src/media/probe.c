/*
 * probe.c: libavformat's view of a file, copied into plain structs, and the
 * ingest rules applied to it.
 */
#include "media/probe.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/status.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/mastering_display_metadata.h>
#include <libavutil/pixdesc.h>

/* ---- libav's log, into ours; the last error line kept per thread ---- */

static _Thread_local char probe_last_av_error[256];
static pthread_once_t probe_log_once = PTHREAD_ONCE_INIT;

static void probe_av_log(void *avcl, int level, const char *fmt, va_list vl)
    __attribute__((format(printf, 3, 0)));

static void
probe_av_log(void *avcl, int level, const char *fmt, va_list vl)
{
    char line[512];
    if (level > AV_LOG_WARNING && log_get_level() > LOG_DEBUG)
        return;
    vsnprintf(line, sizeof(line), fmt, vl);
    line[strcspn(line, "\n")] = '\0';
    if (line[0] == '\0')
        return;
    if (level <= AV_LOG_ERROR)
        snprintf(probe_last_av_error, sizeof(probe_last_av_error), "%.*s",
                 (int)sizeof(probe_last_av_error) - 1, line); /* cut to fit, on purpose */
    log_debug("libav", "%s", line);
}

static void
probe_log_setup(void)
{
    av_log_set_callback(probe_av_log);
}

void
probe_init_logging(void)
{
    pthread_once(&probe_log_once, probe_log_setup);
}

/* ---- names ---- */

const char *
probe_kind_name(probe_kind_t k)
{
    switch (k) {
    case PROBE_VIDEO:
        return "video";
    case PROBE_AUDIO:
        return "audio";
    case PROBE_SUBTITLE:
        return "subtitle";
    case PROBE_DATA:
        return "data";
    case PROBE_ATTACHMENT:
        return "attachment";
    default:
        return "other";
    }
}

static probe_kind_t
probe_kind_of(enum AVMediaType t)
{
    switch (t) {
    case AVMEDIA_TYPE_VIDEO:
        return PROBE_VIDEO;
    case AVMEDIA_TYPE_AUDIO:
        return PROBE_AUDIO;
    case AVMEDIA_TYPE_SUBTITLE:
        return PROBE_SUBTITLE;
    case AVMEDIA_TYPE_DATA:
        return PROBE_DATA;
    case AVMEDIA_TYPE_ATTACHMENT:
        return PROBE_ATTACHMENT;
    default:
        return PROBE_OTHER;
    }
}

static void
probe_copy_name(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

static const char *
probe_field_order_name(enum AVFieldOrder f)
{
    switch (f) {
    case AV_FIELD_PROGRESSIVE:
        return "progressive";
    case AV_FIELD_TT:
        return "tt";
    case AV_FIELD_BB:
        return "bb";
    case AV_FIELD_TB:
        return "tb";
    case AV_FIELD_BT:
        return "bt";
    default:
        return "unknown";
    }
}

static int64_t
probe_ms(int64_t ts, AVRational tb)
{
    if (ts == AV_NOPTS_VALUE)
        return 0;
    return av_rescale_q(ts, tb, (AVRational){1, 1000});
}

/* ---- reading ---- */

typedef struct {
    uint64_t deadline;
} probe_interrupt_t;

static int
probe_interrupted(void *arg)
{
    probe_interrupt_t *pi = arg;
    return clock_mono_ms() > pi->deadline;
}

static void
probe_fill_stream(probe_stream_t *ps, const AVStream *st)
{
    const AVCodecParameters *cp = st->codecpar;
    const AVDictionaryEntry *e;

    ps->index = st->index;
    ps->kind = probe_kind_of(cp->codec_type);
    probe_copy_name(ps->codec, sizeof(ps->codec), avcodec_get_name(cp->codec_id));
    probe_copy_name(ps->profile, sizeof(ps->profile),
                    avcodec_profile_name(cp->codec_id, cp->profile));
    ps->level = cp->level;
    ps->decodable = avcodec_find_decoder(cp->codec_id) != NULL;
    ps->bit_rate = cp->bit_rate;
    ps->duration_ms = probe_ms(st->duration, st->time_base);
    if ((e = av_dict_get(st->metadata, "language", NULL, 0)) != NULL && strcmp(e->value, "und"))
        probe_copy_name(ps->language, sizeof(ps->language), e->value);
    if ((e = av_dict_get(st->metadata, "title", NULL, 0)) != NULL)
        probe_copy_name(ps->title, sizeof(ps->title), e->value);
    ps->is_default = (st->disposition & AV_DISPOSITION_DEFAULT) != 0;

    if (ps->kind == PROBE_VIDEO) {
        AVRational sar =
            st->sample_aspect_ratio.num ? st->sample_aspect_ratio : cp->sample_aspect_ratio;
        AVRational fps = st->avg_frame_rate.num ? st->avg_frame_rate : st->r_frame_rate;
        ps->width = cp->width;
        ps->height = cp->height;
        ps->sar_num = sar.num ? sar.num : 1;
        ps->sar_den = sar.num ? sar.den : 1;
        ps->fps_num = fps.num;
        ps->fps_den = fps.num ? fps.den : 1;
        probe_copy_name(ps->pix_fmt, sizeof(ps->pix_fmt),
                        av_get_pix_fmt_name((enum AVPixelFormat)cp->format));
        probe_copy_name(ps->field_order, sizeof(ps->field_order),
                        probe_field_order_name(cp->field_order));
        probe_copy_name(ps->color_primaries, sizeof(ps->color_primaries),
                        av_color_primaries_name(cp->color_primaries));
        probe_copy_name(ps->color_transfer, sizeof(ps->color_transfer),
                        av_color_transfer_name(cp->color_trc));
        probe_copy_name(ps->color_space, sizeof(ps->color_space),
                        av_color_space_name(cp->color_space));
        probe_copy_name(ps->color_range, sizeof(ps->color_range),
                        av_color_range_name(cp->color_range));
        ps->hdr10 =
            cp->color_trc == AVCOL_TRC_SMPTE2084 && cp->color_primaries == AVCOL_PRI_BT2020;
        ps->hlg = cp->color_trc == AVCOL_TRC_ARIB_STD_B67;
        size_t n = 0;
        ps->has_mastering_display =
            av_stream_get_side_data(st, AV_PKT_DATA_MASTERING_DISPLAY_METADATA, &n) != NULL;
        const AVContentLightMetadata *cll =
            (const AVContentLightMetadata *)av_stream_get_side_data(
                st, AV_PKT_DATA_CONTENT_LIGHT_LEVEL, &n);
        if (cll && n >= sizeof(*cll)) {
            ps->has_content_light = true;
            ps->max_cll = (int)cll->MaxCLL;
            ps->max_fall = (int)cll->MaxFALL;
        }
    } else if (ps->kind == PROBE_AUDIO) {
        ps->channels = cp->ch_layout.nb_channels;
        ps->sample_rate = cp->sample_rate;
        if (av_channel_layout_describe(&cp->ch_layout, ps->channel_layout,
                                       sizeof(ps->channel_layout)) < 0)
            ps->channel_layout[0] = '\0';
    }
}

int
probe_file(const char *path, const probe_limits_t *limits, probe_t *out, char *err,
           size_t errlen)
{
    AVFormatContext *fmt = NULL; /* owned here; closed at out */
    probe_interrupt_t pi;
    struct stat sb;
    char averr[128];
    int rc = SV_BAD_DATA, r;

    probe_init_logging();
    memset(out, 0, sizeof(*out));
    if (stat(path, &sb) != 0) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return errno == ENOENT ? SV_NOT_FOUND : SV_IO;
    }
    if (!S_ISREG(sb.st_mode)) {
        snprintf(err, errlen, "%s is not a regular file", path);
        return SV_BAD_DATA;
    }
    if (sb.st_size == 0) {
        snprintf(err, errlen, "the file is empty (0 bytes)");
        return SV_BAD_DATA;
    }
    out->size_bytes = sb.st_size;

    fmt = avformat_alloc_context();
    if (fmt == NULL) {
        snprintf(err, errlen, "out of memory");
        return SV_NO_MEMORY;
    }
    pi.deadline = clock_mono_ms() + (limits->timeout_ms ? limits->timeout_ms : 30000);
    fmt->interrupt_callback.callback = probe_interrupted;
    fmt->interrupt_callback.opaque = &pi;
    probe_last_av_error[0] = '\0';

    r = avformat_open_input(&fmt, path, NULL, NULL); /* frees fmt on failure */
    if (r < 0) {
        av_strerror(r, averr, sizeof(averr));
        if (r == AVERROR_EXIT) {
            snprintf(err, errlen, "opening the file took longer than %llu ms",
                     (unsigned long long)limits->timeout_ms);
            rc = SV_TIMEOUT;
        } else {
            snprintf(err, errlen, "not a media file that can be read: %s%s%s%s", averr,
                     probe_last_av_error[0] ? " (" : "", probe_last_av_error,
                     probe_last_av_error[0] ? ")" : "");
        }
        fmt = NULL;
        goto out;
    }
    r = avformat_find_stream_info(fmt, NULL);
    if (r < 0) {
        av_strerror(r, averr, sizeof(averr));
        snprintf(err, errlen, "cannot read the streams: %s%s%s%s", averr,
                 probe_last_av_error[0] ? " (" : "", probe_last_av_error,
                 probe_last_av_error[0] ? ")" : "");
        rc = r == AVERROR_EXIT ? SV_TIMEOUT : SV_BAD_DATA;
        goto out;
    }

    probe_copy_name(out->container, sizeof(out->container), fmt->iformat->name);
    probe_copy_name(out->container_long, sizeof(out->container_long), fmt->iformat->long_name);
    out->duration_ms = fmt->duration == AV_NOPTS_VALUE ? 0 : fmt->duration / 1000;
    out->start_ms = fmt->start_time == AV_NOPTS_VALUE ? 0 : fmt->start_time / 1000;
    out->bit_rate = fmt->bit_rate;
    for (unsigned i = 0; i < fmt->nb_streams && out->nstreams < PROBE_MAX_STREAMS; i++)
        probe_fill_stream(&out->streams[out->nstreams++], fmt->streams[i]);
    if (out->duration_ms == 0) {
        /* some containers only know their streams' durations */
        for (unsigned i = 0; i < out->nstreams; i++)
            if (out->streams[i].duration_ms > out->duration_ms)
                out->duration_ms = out->streams[i].duration_ms;
    }
    rc = SV_OK;
out:
    avformat_close_input(&fmt);
    return rc;
}

/* ---- rules ---- */

int
probe_check(const probe_t *p, const probe_limits_t *limits, char *err, size_t errlen)
{
    unsigned usable = 0, av = 0;

    for (unsigned i = 0; i < p->nstreams; i++) {
        const probe_stream_t *s = &p->streams[i];
        if (s->kind != PROBE_VIDEO && s->kind != PROBE_AUDIO)
            continue;
        av++;
        if (!s->decodable) {
            snprintf(err, errlen, "stream #%d (%s, %s): no decoder for this codec", s->index,
                     probe_kind_name(s->kind), s->codec);
            return SV_UNSUPPORTED;
        }
        if (s->kind == PROBE_VIDEO) {
            if (s->width <= 0 || s->height <= 0) {
                snprintf(err, errlen, "stream #%d (video, %s): no picture size (%dx%d)",
                         s->index, s->codec, s->width, s->height);
                return SV_BAD_DATA;
            }
            if (s->width > limits->max_width || s->height > limits->max_height) {
                snprintf(err, errlen, "stream #%d (video, %s): %dx%d is larger than %dx%d",
                         s->index, s->codec, s->width, s->height, limits->max_width,
                         limits->max_height);
                return SV_TOO_BIG;
            }
        } else if (s->channels <= 0 || s->sample_rate <= 0) {
            snprintf(err, errlen,
                     "stream #%d (audio, %s): no channels or sample rate (%d ch, %d Hz)",
                     s->index, s->codec, s->channels, s->sample_rate);
            return SV_BAD_DATA;
        }
        usable++;
    }
    if (av == 0) {
        snprintf(err, errlen, "no audio or video stream (the file has %u stream%s)",
                 p->nstreams, p->nstreams == 1 ? "" : "s");
        return SV_BAD_DATA;
    }
    if (usable == 0) {
        snprintf(err, errlen, "no decodable audio or video stream");
        return SV_BAD_DATA;
    }
    if (p->duration_ms <= 0) {
        snprintf(err, errlen, "duration is 0: nothing to play");
        return SV_BAD_DATA;
    }
    if (limits->max_duration_ms > 0 && p->duration_ms > limits->max_duration_ms) {
        snprintf(err, errlen, "duration %lld s is longer than the %lld s limit",
                 (long long)(p->duration_ms / 1000),
                 (long long)(limits->max_duration_ms / 1000));
        return SV_TOO_BIG;
    }
    return SV_OK;
}

/* ---- JSON ---- */

static json_t *
probe_stream_json(const probe_stream_t *s)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    json_object_set_new(o, "index", json_integer(s->index));
    json_object_set_new(o, "type", json_string(probe_kind_name(s->kind)));
    json_object_set_new(o, "codec", json_string(s->codec));
    if (s->profile[0])
        json_object_set_new(o, "profile", json_string(s->profile));
    if (s->level != -99 && s->level != 0 && s->kind == PROBE_VIDEO)
        json_object_set_new(o, "level", json_integer(s->level));
    json_object_set_new(o, "decodable", json_boolean(s->decodable));
    if (s->bit_rate)
        json_object_set_new(o, "bit_rate", json_integer(s->bit_rate));
    if (s->duration_ms)
        json_object_set_new(o, "duration", json_real(s->duration_ms / 1000.0));
    json_object_set_new(o, "language", s->language[0] ? json_string(s->language) : json_null());
    if (s->title[0])
        json_object_set_new(o, "title", json_string(s->title));
    json_object_set_new(o, "default", json_boolean(s->is_default));
    if (s->kind == PROBE_VIDEO) {
        json_object_set_new(o, "width", json_integer(s->width));
        json_object_set_new(o, "height", json_integer(s->height));
        json_object_set_new(o, "sample_aspect_ratio",
                            json_sprintf("%d:%d", s->sar_num, s->sar_den));
        if (s->fps_num)
            json_object_set_new(o, "frame_rate", json_real((double)s->fps_num / s->fps_den));
        json_object_set_new(o, "frame_rate_fraction",
                            json_sprintf("%d/%d", s->fps_num, s->fps_den));
        json_object_set_new(o, "pixel_format", json_string(s->pix_fmt));
        json_object_set_new(o, "field_order", json_string(s->field_order));
        json_t *c = json_object();
        json_object_set_new(c, "primaries", json_string(s->color_primaries));
        json_object_set_new(c, "transfer", json_string(s->color_transfer));
        json_object_set_new(c, "space", json_string(s->color_space));
        json_object_set_new(c, "range", json_string(s->color_range));
        json_object_set_new(c, "hdr10", json_boolean(s->hdr10));
        json_object_set_new(c, "hlg", json_boolean(s->hlg));
        json_object_set_new(c, "mastering_display", json_boolean(s->has_mastering_display));
        if (s->has_content_light) {
            json_object_set_new(c, "max_cll", json_integer(s->max_cll));
            json_object_set_new(c, "max_fall", json_integer(s->max_fall));
        }
        json_object_set_new(o, "color", c);
    } else if (s->kind == PROBE_AUDIO) {
        json_object_set_new(o, "channels", json_integer(s->channels));
        json_object_set_new(o, "channel_layout", json_string(s->channel_layout));
        json_object_set_new(o, "sample_rate", json_integer(s->sample_rate));
    }
    return o;
}

json_t *
probe_to_json(const probe_t *p)
{
    json_t *o = json_object(), *streams = json_array();
    if (o == NULL || streams == NULL) {
        json_decref(o);
        json_decref(streams);
        return NULL;
    }
    json_object_set_new(o, "container", json_string(p->container));
    json_object_set_new(o, "container_name", json_string(p->container_long));
    json_object_set_new(o, "duration", json_real(p->duration_ms / 1000.0));
    json_object_set_new(o, "start", json_real(p->start_ms / 1000.0));
    json_object_set_new(o, "bit_rate", json_integer(p->bit_rate));
    json_object_set_new(o, "size", json_integer(p->size_bytes));
    for (unsigned i = 0; i < p->nstreams; i++) {
        json_t *s = probe_stream_json(&p->streams[i]);
        if (s == NULL || json_array_append_new(streams, s) != 0) {
            json_decref(streams);
            json_decref(o);
            return NULL;
        }
    }
    json_object_set_new(o, "streams", streams);
    return o;
}
