/*
 * cmaf.c: CMAF track files (fragmented MP4, one track) and their fragment
 * index. Every box is written here by hand from ISO/IEC 14496-12 (ISOBMFF),
 * 14496-14 (esds), 14496-15 (AVC/HEVC sample entries) and 23000-19 (CMAF);
 * no libav: this module only arranges bytes it is given.
 */
#include "media/cmaf.h"
#include "base/buf.h"
#include "base/status.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Ceilings. A fragment's moof+mdat must fit the index's u32 size, and the
 * 256 MiB data ceiling keeps the mdat far below 4 GiB, so the 32-bit box size
 * always suffices and largesize is never needed. */
#define CMAF_FRAGMENT_MAX_DATA (256u << 20)
#define CMAF_FRAGMENT_MAX_SAMPLES (1u << 20) /* trun: 16 bytes each, 16 MiB */
#define CMAF_MOOF_MAX (CMAF_FRAGMENT_MAX_SAMPLES * 16u + 4096u)
#define CMAF_CONFIG_MAX (1u << 20)
#define CMAF_INIT_MAX (4u << 20)
#define CMAF_INDEX_FILE_MAX (64u << 20)

/* trun sample_flags (14496-12 8.8.3.1): sample_depends_on in bits 24-25,
 * sample_is_non_sync_sample in bit 16. */
#define CMAF_SAMPLE_SYNC 0x02000000u     /* depends on no other sample */
#define CMAF_SAMPLE_NON_SYNC 0x01010000u /* depends on others; not sync */

#define CMAF_TFHD_DEFAULT_BASE_IS_MOOF 0x020000u
#define CMAF_TRUN_DATA_OFFSET 0x001u
#define CMAF_TRUN_DURATION 0x100u
#define CMAF_TRUN_SIZE 0x200u
#define CMAF_TRUN_FLAGS 0x400u
#define CMAF_TRUN_CTO 0x800u

static void cmaf_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
cmaf_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---- little-endian fields of the index ---- */

static void
le32_put(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void
le64_put(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t
le32_get(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t
le64_get(const uint8_t *p)
{
    return (uint64_t)le32_get(p) | (uint64_t)le32_get(p + 4) << 32;
}

/* ---- big-endian boxes, built in a buffer with a sticky error ---- */

/* rc holds the first failure (SV_TOO_BIG past buf.max, SV_NO_MEMORY); once it
 * is set every put does nothing, so a builder checks rc once at its end. */
typedef struct {
    buf_t buf;
    int rc;
} mp4_out_t;

static void
out_bytes(mp4_out_t *o, const void *p, size_t n)
{
    if (o->rc == SV_OK)
        o->rc = buf_append(&o->buf, p, n);
}

static void
out_be(mp4_out_t *o, uint64_t v, int nbytes)
{
    uint8_t b[8];
    for (int i = 0; i < nbytes; i++)
        b[i] = (uint8_t)(v >> (8 * (nbytes - 1 - i)));
    out_bytes(o, b, (size_t)nbytes);
}

#define out_u8(o, v) out_be((o), (v), 1)
#define out_u16(o, v) out_be((o), (v), 2)
#define out_u24(o, v) out_be((o), (v), 3)
#define out_u32(o, v) out_be((o), (v), 4)
#define out_u64(o, v) out_be((o), (v), 8)

static void
out_zeros(mp4_out_t *o, size_t n)
{
    static const uint8_t zeros[32];
    while (n > 0) {
        size_t k = n < sizeof(zeros) ? n : sizeof(zeros);
        out_bytes(o, zeros, k);
        n -= k;
    }
}

static void
be32_patch(mp4_out_t *o, size_t at, uint32_t v)
{
    uint8_t *p = (uint8_t *)o->buf.data + at;
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Starts a box; returns where it starts, for box_close(). */
static size_t
box_open(mp4_out_t *o, const char type[4])
{
    size_t at = o->buf.len;
    out_u32(o, 0);
    out_bytes(o, type, 4);
    return at;
}

static size_t
fullbox_open(mp4_out_t *o, const char type[4], uint8_t version, uint32_t flags)
{
    size_t at = box_open(o, type);
    out_u8(o, version);
    out_u24(o, flags);
    return at;
}

/* Writes the size of the box that starts at at (everything appended since). */
static void
box_close(mp4_out_t *o, size_t at)
{
    if (o->rc != SV_OK)
        return;
    if (o->buf.len - at > UINT32_MAX) {
        o->rc = SV_TOO_BIG;
        return;
    }
    be32_patch(o, at, (uint32_t)(o->buf.len - at));
}

/* An MPEG-4 descriptor (14496-1 8.3.3): tag, then its size in the 4-byte
 * form 0x80 0x80 0x80 NN with 7 bits per byte, which holds any size below
 * 2^28 and is what most MP4 writers emit. */
static size_t
desc_open(mp4_out_t *o, uint8_t tag)
{
    size_t at = o->buf.len;
    out_u8(o, tag);
    out_u32(o, 0x80808000u);
    return at;
}

static void
desc_close(mp4_out_t *o, size_t at)
{
    size_t n;
    uint8_t *p;
    if (o->rc != SV_OK)
        return;
    n = o->buf.len - at - 5;
    if (n >= (1u << 28)) {
        o->rc = SV_TOO_BIG;
        return;
    }
    p = (uint8_t *)o->buf.data + at + 1;
    p[0] = (uint8_t)(0x80 | (n >> 21 & 0x7f));
    p[1] = (uint8_t)(0x80 | (n >> 14 & 0x7f));
    p[2] = (uint8_t)(0x80 | (n >> 7 & 0x7f));
    p[3] = (uint8_t)(n & 0x7f);
}

static void
out_unity_matrix(mp4_out_t *o)
{
    static const uint32_t m[9] = {0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000};
    for (int i = 0; i < 9; i++)
        out_u32(o, m[i]);
}

/* ---- file output ---- */

/* Writes all n bytes at off, retrying on EINTR and short writes.
 * SV_OK or SV_IO with errno describing the failure. */
static int
pwrite_all(int fd, const void *p, size_t n, uint64_t off)
{
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t k = pwrite(fd, b, n, (off_t)off);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return SV_IO;
        }
        if (k == 0) {
            errno = EIO;
            return SV_IO;
        }
        b += k;
        n -= (size_t)k;
        off += (uint64_t)k;
    }
    return SV_OK;
}

/* ---- the track description ---- */

static bool
cmaf_fourcc_is(const cmaf_track_t *t, const char *cc)
{
    return memcmp(t->fourcc, cc, 5) == 0;
}

/* The config box a video sample entry holds, or NULL for an unknown one. */
static const char *
cmaf_config_box(const cmaf_track_t *t)
{
    if (cmaf_fourcc_is(t, "avc1"))
        return "avcC";
    if (cmaf_fourcc_is(t, "hvc1"))
        return "hvcC";
    if (cmaf_fourcc_is(t, "av01"))
        return "av1C";
    return NULL;
}

/* The language as mdhd packs it: three 5-bit letters ('a' = 1). An empty
 * language is "und"; anything but three lowercase letters is refused (-1). */
static int
cmaf_language_code(const char lang[4])
{
    const char *l = lang[0] ? lang : "und";
    int code = 0;
    for (int i = 0; i < 3; i++) {
        if (l[i] < 'a' || l[i] > 'z')
            return -1;
        code = code << 5 | (l[i] - 0x60);
    }
    return l[3] == '\0' ? code : -1;
}

static bool
cmaf_sar_set(const cmaf_track_t *t)
{
    return t->sar_num > 0 && t->sar_den > 0 && t->sar_num != t->sar_den;
}

/* Everything open() needs to refuse before it creates a file. */
static int
cmaf_track_check(const cmaf_track_t *t, char *err, size_t errlen)
{
    if (t->timescale == 0) {
        cmaf_err(err, errlen, "timescale 0");
        return SV_BAD_DATA;
    }
    if (memchr(t->fourcc, '\0', sizeof(t->fourcc)) == NULL) {
        cmaf_err(err, errlen, "fourcc is not NUL-terminated");
        return SV_BAD_DATA;
    }
    if (cmaf_language_code(t->language) < 0) {
        cmaf_err(err, errlen, "language is not three lowercase letters (ISO 639-2/T)");
        return SV_BAD_DATA;
    }
    if (t->config == NULL || t->config_len == 0 || t->config_len > CMAF_CONFIG_MAX) {
        cmaf_err(err, errlen, "codec configuration: %zu bytes (need 1 to %u)",
                 t->config ? t->config_len : 0, CMAF_CONFIG_MAX);
        return SV_BAD_DATA;
    }
    if (t->kind == CMAF_VIDEO) {
        if (cmaf_config_box(t) == NULL) {
            cmaf_err(err, errlen, "unknown video sample entry \"%.4s\" (avc1, hvc1, av01)",
                     t->fourcc);
            return SV_BAD_DATA;
        }
        if (t->width <= 0 || t->width > 65535 || t->height <= 0 || t->height > 65535) {
            cmaf_err(err, errlen, "video size %dx%d is not from 1x1 to 65535x65535", t->width,
                     t->height);
            return SV_BAD_DATA;
        }
        if (t->sar_num < 0 || t->sar_den < 0 || (t->sar_num == 0) != (t->sar_den == 0)) {
            cmaf_err(err, errlen, "sample aspect ratio %d:%d", t->sar_num, t->sar_den);
            return SV_BAD_DATA;
        }
        if (cmaf_sar_set(t) &&
            (uint64_t)t->width * (uint64_t)t->sar_num / (uint64_t)t->sar_den > 65535) {
            cmaf_err(err, errlen, "display width %d * %d/%d is over 65535", t->width,
                     t->sar_num, t->sar_den);
            return SV_BAD_DATA;
        }
        if (t->colour_primaries < 0 || t->colour_primaries > 255 ||
            t->transfer_characteristics < 0 || t->transfer_characteristics > 255 ||
            t->matrix_coefficients < 0 || t->matrix_coefficients > 255) {
            cmaf_err(err, errlen, "colour code points %d/%d/%d are not from 0 to 255",
                     t->colour_primaries, t->transfer_characteristics, t->matrix_coefficients);
            return SV_BAD_DATA;
        }
    } else if (t->kind == CMAF_AUDIO) {
        if (!cmaf_fourcc_is(t, "mp4a")) {
            cmaf_err(err, errlen, "unknown audio sample entry \"%.4s\" (mp4a)", t->fourcc);
            return SV_BAD_DATA;
        }
        if (t->channels <= 0 || t->channels > 65535 || t->sample_rate <= 0) {
            cmaf_err(err, errlen,
                     "audio needs channels (1 to 65535) and a sample rate (%d, %d)",
                     t->channels, t->sample_rate);
            return SV_BAD_DATA;
        }
    } else {
        cmaf_err(err, errlen, "track kind %d is neither video nor audio", (int)t->kind);
        return SV_BAD_DATA;
    }
    return SV_OK;
}

/* ---- the init segment: ftyp moov ---- */

static void
out_btrt(mp4_out_t *o, const cmaf_track_t *t)
{
    size_t at;
    if (t->avg_bitrate == 0 && t->max_bitrate == 0)
        return;
    at = box_open(o, "btrt");
    out_u32(o, 0); /* bufferSizeDB: unknown */
    out_u32(o, t->max_bitrate);
    out_u32(o, t->avg_bitrate);
    box_close(o, at);
}

/* VisualSampleEntry (14496-12 12.1.3) with the codec record and the
 * optional boxes CMAF readers look at. */
static void
out_visual_entry(mp4_out_t *o, const cmaf_track_t *t)
{
    size_t entry = box_open(o, t->fourcc), at;
    out_zeros(o, 6);
    out_u16(o, 1);    /* data_reference_index */
    out_zeros(o, 16); /* pre_defined, reserved, pre_defined[3] */
    out_u16(o, (uint16_t)t->width);
    out_u16(o, (uint16_t)t->height);
    out_u32(o, 0x00480000); /* 72 dpi */
    out_u32(o, 0x00480000);
    out_u32(o, 0);
    out_u16(o, 1);    /* frame_count */
    out_zeros(o, 32); /* compressorname: empty */
    out_u16(o, 0x0018);
    out_u16(o, 0xffff); /* pre_defined = -1 */

    at = box_open(o, cmaf_config_box(t));
    out_bytes(o, t->config, t->config_len);
    box_close(o, at);
    if (cmaf_sar_set(t)) {
        at = box_open(o, "pasp");
        out_u32(o, (uint32_t)t->sar_num);
        out_u32(o, (uint32_t)t->sar_den);
        box_close(o, at);
    }
    if (t->colour_primaries != 0) {
        at = box_open(o, "colr");
        out_bytes(o, "nclx", 4);
        out_u16(o, (uint16_t)t->colour_primaries);
        out_u16(o, (uint16_t)t->transfer_characteristics);
        out_u16(o, (uint16_t)t->matrix_coefficients);
        out_u8(o, t->full_range ? 0x80 : 0);
        box_close(o, at);
    }
    if (t->has_mdcv) {
        at = box_open(o, "mdcv");
        for (int i = 0; i < 3; i++) {
            out_u16(o, t->mdcv_primaries[i][0]);
            out_u16(o, t->mdcv_primaries[i][1]);
        }
        out_u16(o, t->mdcv_white[0]);
        out_u16(o, t->mdcv_white[1]);
        out_u32(o, t->mdcv_max_lum);
        out_u32(o, t->mdcv_min_lum);
        box_close(o, at);
    }
    if (t->has_clli) {
        at = box_open(o, "clli");
        out_u16(o, t->max_cll);
        out_u16(o, t->max_fall);
        box_close(o, at);
    }
    out_btrt(o, t);
    box_close(o, entry);
}

/* AudioSampleEntry mp4a (14496-12 12.2.3) and its esds (14496-14 5.6). */
static void
out_audio_entry(mp4_out_t *o, const cmaf_track_t *t)
{
    size_t entry = box_open(o, "mp4a"), esds, es, dc, dsi, sl;
    out_zeros(o, 6);
    out_u16(o, 1);   /* data_reference_index */
    out_zeros(o, 8); /* reserved */
    out_u16(o, (uint16_t)t->channels);
    out_u16(o, 16);  /* samplesize */
    out_zeros(o, 4); /* pre_defined, reserved */
    /* samplerate is 16.16; a rate that does not fit reads as 0, and the
     * AudioSpecificConfig carries the real one. */
    out_u32(o, t->sample_rate <= 65535 ? (uint32_t)t->sample_rate << 16 : 0);

    esds = fullbox_open(o, "esds", 0, 0);
    es = desc_open(o, 3);
    /* ES_ID 0: 14496-14 3.1.2 has the file format set it to 0 when stored,
     * the track_ID identifying the stream instead. */
    out_u16(o, 0);
    out_u8(o, 0); /* no dependence, URL or OCR stream; priority 0 */
    dc = desc_open(o, 4);
    out_u8(o, 0x40);            /* objectTypeIndication: MPEG-4 Audio */
    out_u8(o, (0x05 << 2) | 1); /* streamType audio, upStream 0, reserved 1 */
    out_u24(o, 0);              /* bufferSizeDB: unknown */
    out_u32(o, t->max_bitrate);
    out_u32(o, t->avg_bitrate);
    dsi = desc_open(o, 5);
    out_bytes(o, t->config, t->config_len); /* AudioSpecificConfig */
    desc_close(o, dsi);
    desc_close(o, dc);
    sl = desc_open(o, 6);
    out_u8(o, 2); /* predefined: reserved for MP4 files */
    desc_close(o, sl);
    desc_close(o, es);
    box_close(o, esds);
    out_btrt(o, t);
    box_close(o, entry);
}

/* The display size tkhd carries (16.16): the coded width stretched by the
 * sample aspect ratio, the height as coded. Checked to fit by
 * cmaf_track_check(). */
static uint32_t
cmaf_display_width(const cmaf_track_t *t)
{
    if (!cmaf_sar_set(t))
        return (uint32_t)t->width << 16;
    return (uint32_t)((uint64_t)t->width * (uint64_t)t->sar_num * 65536u /
                      (uint64_t)t->sar_den);
}

static void
out_init_segment(mp4_out_t *o, const cmaf_track_t *t)
{
    bool video = t->kind == CMAF_VIDEO;
    size_t moov, trak, mdia, minf, dinf, stbl, at, at2, mvex;

    /* ftyp. 23000-19 7.2 asks every CMAF track file for the structural
     * brand cmfc; iso6 is the ISOBMFF edition whose features it uses (tfdt,
     * default-base-is-moof, signed composition offsets in trun version 1).
     * The media profile brands (cfhd, chhd, caac ...) promise codec limits
     * this module cannot check, so none is claimed. */
    at = box_open(o, "ftyp");
    out_bytes(o, "cmfc", 4);
    out_u32(o, 0);
    out_bytes(o, "iso6cmfc", 8);
    box_close(o, at);

    moov = box_open(o, "moov");
    at = fullbox_open(o, "mvhd", 0, 0);
    out_zeros(o, 8); /* creation, modification time */
    out_u32(o, t->timescale);
    out_u32(o, 0);          /* duration: fragments carry it */
    out_u32(o, 0x00010000); /* rate 1.0 */
    out_u16(o, 0x0100);     /* volume 1.0 */
    out_zeros(o, 10);
    out_unity_matrix(o);
    out_zeros(o, 24); /* pre_defined */
    out_u32(o, 2);    /* next_track_ID */
    box_close(o, at);

    trak = box_open(o, "trak");
    at = fullbox_open(o, "tkhd", 0, 3); /* enabled, in movie */
    out_zeros(o, 8);
    out_u32(o, 1); /* track_ID */
    out_u32(o, 0);
    out_u32(o, 0); /* duration */
    out_zeros(o, 8);
    out_u16(o, 0); /* layer */
    out_u16(o, 0); /* alternate_group */
    out_u16(o, video ? 0 : 0x0100);
    out_u16(o, 0);
    out_unity_matrix(o);
    out_u32(o, video ? cmaf_display_width(t) : 0);
    out_u32(o, video ? (uint32_t)t->height << 16 : 0);
    box_close(o, at);

    mdia = box_open(o, "mdia");
    at = fullbox_open(o, "mdhd", 0, 0);
    out_zeros(o, 8);
    out_u32(o, t->timescale);
    out_u32(o, 0);
    out_u16(o, (uint16_t)cmaf_language_code(t->language));
    out_u16(o, 0);
    box_close(o, at);
    at = fullbox_open(o, "hdlr", 0, 0);
    out_u32(o, 0);
    out_bytes(o, video ? "vide" : "soun", 4);
    out_zeros(o, 12);
    if (video)
        out_bytes(o, "StreamVerse video", sizeof("StreamVerse video"));
    else
        out_bytes(o, "StreamVerse audio", sizeof("StreamVerse audio"));
    box_close(o, at);

    minf = box_open(o, "minf");
    if (video) {
        at = fullbox_open(o, "vmhd", 0, 1);
        out_zeros(o, 8); /* graphicsmode, opcolor */
    } else {
        at = fullbox_open(o, "smhd", 0, 0);
        out_zeros(o, 4); /* balance, reserved */
    }
    box_close(o, at);
    dinf = box_open(o, "dinf");
    at = fullbox_open(o, "dref", 0, 0);
    out_u32(o, 1);
    at2 = fullbox_open(o, "url ", 0, 1); /* media in this file */
    box_close(o, at2);
    box_close(o, at);
    box_close(o, dinf);

    stbl = box_open(o, "stbl");
    at = fullbox_open(o, "stsd", 0, 0);
    out_u32(o, 1);
    if (video)
        out_visual_entry(o, t);
    else
        out_audio_entry(o, t);
    box_close(o, at);
    at = fullbox_open(o, "stts", 0, 0);
    out_u32(o, 0);
    box_close(o, at);
    at = fullbox_open(o, "stsc", 0, 0);
    out_u32(o, 0);
    box_close(o, at);
    at = fullbox_open(o, "stsz", 0, 0);
    out_u32(o, 0); /* sample_size */
    out_u32(o, 0); /* sample_count */
    box_close(o, at);
    at = fullbox_open(o, "stco", 0, 0);
    out_u32(o, 0);
    box_close(o, at);
    box_close(o, stbl);
    box_close(o, minf);
    box_close(o, mdia);
    box_close(o, trak);

    mvex = box_open(o, "mvex");
    at = fullbox_open(o, "trex", 0, 0);
    out_u32(o, 1); /* track_ID */
    out_u32(o, 1); /* default_sample_description_index */
    out_zeros(o, 12);
    box_close(o, at);
    box_close(o, mvex);
    box_close(o, moov);
}

/* ---- the writer ---- */

typedef struct {
    uint32_t duration, size, flags;
    int32_t cto; /* composition offset from the written decode time */
} cmaf_pending_t;

struct cmaf_writer {
    int track_fd, index_fd;
    cmaf_kind_t kind;
    bool failed;         /* a write failed: the files are not to be extended */
    bool started;        /* a sample was ever added */
    int64_t last_dts;    /* the caller's dts of the last sample added */
    int64_t next_decode; /* written decode time of the next sample */
    uint64_t track_off;  /* bytes in the track file */
    uint64_t index_off;  /* bytes in the index file */
    uint32_t sequence;   /* mfhd of the last fragment written */
    int64_t total_duration;
    /* the current fragment */
    int64_t frag_decode; /* its tfdt */
    uint64_t frag_duration;
    cmaf_pending_t *samples;
    size_t nsamples, cap;
    buf_t data; /* sample bytes, the mdat body */
    mp4_out_t moof;
};

static void
cmaf_writer_free(cmaf_writer_t *w)
{
    if (w->track_fd >= 0)
        close(w->track_fd);
    if (w->index_fd >= 0)
        close(w->index_fd);
    free(w->samples);
    buf_free(&w->data);
    buf_free(&w->moof.buf);
    free(w);
}

int
cmaf_writer_open(const char *track_path, const char *index_path, const cmaf_track_t *track,
                 cmaf_writer_t **out, char *err, size_t errlen)
{
    int rc = SV_BAD_DATA;
    bool track_made = false, index_made = false;
    uint8_t hdr[CMAF_INDEX_HEADER_SIZE] = {0};
    mp4_out_t init = {{0}, SV_OK};
    cmaf_writer_t *w = NULL;

    buf_init(&init.buf, CMAF_INIT_MAX);
    rc = cmaf_track_check(track, err, errlen);
    if (rc != SV_OK)
        goto done;
    out_init_segment(&init, track);
    if (init.rc != SV_OK) {
        rc = init.rc;
        cmaf_err(err, errlen, "init segment: %s", status_text(rc));
        goto done;
    }

    rc = SV_NO_MEMORY;
    w = calloc(1, sizeof(*w));
    if (w == NULL) {
        cmaf_err(err, errlen, "out of memory");
        goto done;
    }
    w->track_fd = w->index_fd = -1;
    w->kind = track->kind;
    buf_init(&w->data, CMAF_FRAGMENT_MAX_DATA);
    buf_init(&w->moof.buf, CMAF_MOOF_MAX);

    w->track_fd = open(track_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (w->track_fd < 0) {
        rc = errno == EEXIST ? SV_EXISTS : SV_IO;
        cmaf_err(err, errlen, "%s: %s", track_path, strerror(errno));
        goto done;
    }
    track_made = true;
    w->index_fd = open(index_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (w->index_fd < 0) {
        rc = errno == EEXIST ? SV_EXISTS : SV_IO;
        cmaf_err(err, errlen, "%s: %s", index_path, strerror(errno));
        goto done;
    }
    index_made = true;

    rc = pwrite_all(w->track_fd, init.buf.data, init.buf.len, 0);
    if (rc != SV_OK) {
        cmaf_err(err, errlen, "%s: %s", track_path, strerror(errno));
        goto done;
    }
    w->track_off = init.buf.len;

    memcpy(hdr, CMAF_INDEX_MAGIC, 8);
    le32_put(hdr + 8, CMAF_INDEX_VERSION);
    le32_put(hdr + 12, CMAF_INDEX_HEADER_SIZE);
    le32_put(hdr + 16, track->timescale);
    le32_put(hdr + 20, CMAF_INDEX_ENTRY_SIZE);
    le64_put(hdr + 24, init.buf.len);
    rc = pwrite_all(w->index_fd, hdr, sizeof(hdr), 0);
    if (rc != SV_OK) {
        cmaf_err(err, errlen, "%s: %s", index_path, strerror(errno));
        goto done;
    }
    w->index_off = sizeof(hdr);

    *out = w;
    w = NULL;
    rc = SV_OK;
done:
    if (w != NULL) {
        /* Nothing half-made is left behind: the caller has no handle to it. */
        if (track_made)
            unlink(track_path);
        if (index_made)
            unlink(index_path);
        cmaf_writer_free(w);
    }
    buf_free(&init.buf);
    return rc;
}

int
cmaf_writer_add(cmaf_writer_t *w, const cmaf_sample_t *s)
{
    int64_t decode = w->next_decode, cto = 0;
    bool sync;
    int rc;

    if (w->failed)
        return SV_IO;
    if (s->duration == 0 || (s->data == NULL && s->size > 0))
        return SV_BAD_DATA;
    if (w->started && s->dts <= w->last_dts)
        return SV_BAD_DATA;
    if (!w->started) {
        /* The timeline starts at the first presentation time: the reorder
         * delay pts - dts moves every decode time forward by itself. */
        if (s->pts < 0 || s->pts < s->dts)
            return SV_BAD_DATA;
        decode = s->pts;
    }
    if (w->nsamples >= CMAF_FRAGMENT_MAX_SAMPLES || w->frag_duration + s->duration > UINT32_MAX)
        return SV_TOO_BIG;
    if (decode > INT64_MAX - (int64_t)s->duration)
        return SV_BAD_DATA;

    /* Written decode times are the running sum of durations (all a trun can
     * say); the offset is taken against them, so every presentation time
     * is exactly the caller's pts even where its dts and durations differ. */
    sync = s->keyframe || w->kind == CMAF_AUDIO;
    if (w->kind == CMAF_VIDEO &&
        (__builtin_sub_overflow(s->pts, decode, &cto) || cto < INT32_MIN || cto > INT32_MAX))
        return SV_BAD_DATA;

    if (w->nsamples == w->cap) {
        size_t ncap = w->cap ? w->cap * 2 : 64;
        cmaf_pending_t *p = realloc(w->samples, ncap * sizeof(*p));
        if (p == NULL)
            return SV_NO_MEMORY;
        w->samples = p;
        w->cap = ncap;
    }
    rc = buf_append(&w->data, s->data, s->size);
    if (rc != SV_OK)
        return rc;

    if (w->nsamples == 0) {
        w->frag_decode = decode;
        w->frag_duration = 0;
    }
    w->samples[w->nsamples++] = (cmaf_pending_t){
        .duration = s->duration,
        .size = (uint32_t)s->size, /* <= CMAF_FRAGMENT_MAX_DATA */
        .flags = sync ? CMAF_SAMPLE_SYNC : CMAF_SAMPLE_NON_SYNC,
        .cto = (int32_t)cto,
    };
    w->frag_duration += s->duration;
    w->next_decode = decode + (int64_t)s->duration;
    w->last_dts = s->dts;
    w->started = true;
    return SV_OK;
}

size_t
cmaf_writer_pending(const cmaf_writer_t *w)
{
    return w->nsamples;
}

/* Builds moof and the mdat header in w->moof for the queued samples.
 * Returns the size of the moof alone through moof_size. */
static int
cmaf_build_moof(cmaf_writer_t *w, size_t *moof_size)
{
    mp4_out_t *o = &w->moof;
    bool video = w->kind == CMAF_VIDEO;
    uint32_t flags = CMAF_TRUN_DATA_OFFSET | CMAF_TRUN_DURATION | CMAF_TRUN_SIZE |
                     CMAF_TRUN_FLAGS | (video ? CMAF_TRUN_CTO : 0);
    size_t moof, traf, at, data_offset_at;

    buf_reset(&o->buf);
    o->rc = SV_OK;
    moof = box_open(o, "moof");
    at = fullbox_open(o, "mfhd", 0, 0);
    out_u32(o, w->sequence + 1);
    box_close(o, at);
    traf = box_open(o, "traf");
    at = fullbox_open(o, "tfhd", 0, CMAF_TFHD_DEFAULT_BASE_IS_MOOF);
    out_u32(o, 1); /* track_ID */
    box_close(o, at);
    at = fullbox_open(o, "tfdt", 1, 0);
    out_u64(o, (uint64_t)w->frag_decode);
    box_close(o, at);
    /* Version 1 makes the composition offsets signed (B-frames without an
     * edit list); audio has none. */
    at = fullbox_open(o, "trun", video ? 1 : 0, flags);
    out_u32(o, (uint32_t)w->nsamples);
    data_offset_at = o->buf.len;
    out_u32(o, 0);
    for (size_t i = 0; i < w->nsamples; i++) {
        const cmaf_pending_t *p = &w->samples[i];
        out_u32(o, p->duration);
        out_u32(o, p->size);
        out_u32(o, p->flags);
        if (video)
            out_u32(o, (uint32_t)p->cto);
    }
    box_close(o, at);
    box_close(o, traf);
    box_close(o, moof);
    if (o->rc != SV_OK)
        return o->rc;
    /* The data starts after the moof and the 8-byte mdat header. */
    *moof_size = o->buf.len - moof;
    be32_patch(o, data_offset_at, (uint32_t)(*moof_size + 8));
    out_u32(o, (uint32_t)(8 + w->data.len));
    out_bytes(o, "mdat", 4);
    return o->rc;
}

int
cmaf_writer_cut(cmaf_writer_t *w, char *err, size_t errlen)
{
    int rc = SV_IO;
    size_t moof_size = 0;
    uint64_t frag_size;
    uint8_t entry[CMAF_INDEX_ENTRY_SIZE];

    if (w->failed) {
        cmaf_err(err, errlen, "an earlier write failed");
        goto done;
    }
    if (w->nsamples == 0) {
        rc = SV_OK;
        goto done;
    }
    rc = cmaf_build_moof(w, &moof_size);
    if (rc != SV_OK) {
        cmaf_err(err, errlen, "moof: %s", status_text(rc));
        goto done;
    }
    frag_size = w->moof.buf.len + w->data.len; /* < 4 GiB by the ceilings */

    w->failed = true; /* until the fragment and its entry are whole */
    rc = pwrite_all(w->track_fd, w->moof.buf.data, w->moof.buf.len, w->track_off);
    if (rc == SV_OK)
        rc = pwrite_all(w->track_fd, w->data.data, w->data.len, w->track_off + w->moof.buf.len);
    if (rc != SV_OK) {
        cmaf_err(err, errlen, "track file: %s", strerror(errno));
        goto done;
    }

    /* The fragment's tfdt is its start: for a fragment that begins with the
     * sync sample of a closed GOP it is the earliest presentation time, and
     * it makes starts contiguous by construction. */
    le64_put(entry, (uint64_t)w->frag_decode);
    le32_put(entry + 8, (uint32_t)w->frag_duration);
    le32_put(entry + 12, w->samples[0].flags == CMAF_SAMPLE_SYNC ? CMAF_FRAG_INDEPENDENT : 0);
    le64_put(entry + 16, w->track_off);
    le32_put(entry + 24, (uint32_t)frag_size);
    le32_put(entry + 28,
             w->kind == CMAF_VIDEO ? (uint32_t)(moof_size + 8 + w->samples[0].size) : 0);
    rc = pwrite_all(w->index_fd, entry, sizeof(entry), w->index_off);
    if (rc != SV_OK) {
        cmaf_err(err, errlen, "index file: %s", strerror(errno));
        goto done;
    }

    w->failed = false;
    w->track_off += frag_size;
    w->index_off += sizeof(entry);
    w->sequence++;
    w->total_duration += (int64_t)w->frag_duration;
    w->nsamples = 0;
    w->frag_duration = 0;
    buf_reset(&w->data);
done:
    return rc;
}

int
cmaf_writer_finish(cmaf_writer_t *w, char *err, size_t errlen)
{
    int rc;
    uint8_t tail[16] = {0}; /* header bytes 32..47: flags, reserved, total */

    rc = cmaf_writer_cut(w, err, errlen);
    if (rc != SV_OK)
        goto done;
    rc = SV_IO;
    if (fsync(w->track_fd) != 0) {
        cmaf_err(err, errlen, "track file: fsync: %s", strerror(errno));
        goto done;
    }
    /* The track is on disk before the index says it is complete. */
    le32_put(tail, CMAF_INDEX_COMPLETE);
    le64_put(tail + 8, (uint64_t)w->total_duration);
    if (pwrite_all(w->index_fd, tail, sizeof(tail), 32) != SV_OK) {
        cmaf_err(err, errlen, "index file: %s", strerror(errno));
        goto done;
    }
    if (fsync(w->index_fd) != 0) {
        cmaf_err(err, errlen, "index file: fsync: %s", strerror(errno));
        goto done;
    }
    /* close() can report a failed write-back (NFS): it counts. */
    if (close(w->track_fd) != 0) {
        w->track_fd = -1;
        cmaf_err(err, errlen, "track file: close: %s", strerror(errno));
        goto done;
    }
    w->track_fd = -1;
    if (close(w->index_fd) != 0) {
        w->index_fd = -1;
        cmaf_err(err, errlen, "index file: close: %s", strerror(errno));
        goto done;
    }
    w->index_fd = -1;
    rc = SV_OK;
done:
    cmaf_writer_free(w);
    return rc;
}

void
cmaf_writer_abort(cmaf_writer_t *w)
{
    if (w != NULL)
        cmaf_writer_free(w);
}

/* ---- reading the index ---- */

int
cmaf_index_parse(const uint8_t *data, size_t len, cmaf_index_t *out, char *err, size_t errlen)
{
    int rc = SV_BAD_DATA;
    cmaf_index_t ix = {0};
    uint32_t version, header_size, entry_size, flags;
    uint64_t total, sum = 0;
    size_t n, trailing;

    if (len < CMAF_INDEX_HEADER_SIZE) {
        cmaf_err(err, errlen, "truncated header (%zu bytes, need %d)", len,
                 CMAF_INDEX_HEADER_SIZE);
        goto done;
    }
    if (memcmp(data, CMAF_INDEX_MAGIC, 8) != 0) {
        cmaf_err(err, errlen, "bad magic (not a CMAF fragment index)");
        goto done;
    }
    version = le32_get(data + 8);
    header_size = le32_get(data + 12);
    ix.timescale = le32_get(data + 16);
    entry_size = le32_get(data + 20);
    ix.init_size = le64_get(data + 24);
    flags = le32_get(data + 32);
    total = le64_get(data + 40);
    if (version != CMAF_INDEX_VERSION) {
        cmaf_err(err, errlen, "version %u (this reader knows %d)", version, CMAF_INDEX_VERSION);
        goto done;
    }
    if (header_size != CMAF_INDEX_HEADER_SIZE) {
        cmaf_err(err, errlen, "header size %u, expected %d", header_size,
                 CMAF_INDEX_HEADER_SIZE);
        goto done;
    }
    if (entry_size != CMAF_INDEX_ENTRY_SIZE) {
        cmaf_err(err, errlen, "entry size %u, expected %d", entry_size, CMAF_INDEX_ENTRY_SIZE);
        goto done;
    }
    if (ix.timescale == 0) {
        cmaf_err(err, errlen, "timescale 0");
        goto done;
    }
    if (ix.init_size == 0) {
        cmaf_err(err, errlen, "init size 0");
        goto done;
    }
    ix.complete = (flags & CMAF_INDEX_COMPLETE) != 0;

    /* The count comes from the bytes present, never from a declared one. */
    n = (len - CMAF_INDEX_HEADER_SIZE) / CMAF_INDEX_ENTRY_SIZE;
    trailing = (len - CMAF_INDEX_HEADER_SIZE) % CMAF_INDEX_ENTRY_SIZE;
    if (ix.complete && trailing != 0) {
        cmaf_err(err, errlen, "complete index ends with a partial entry (%zu bytes)", trailing);
        goto done;
    }
    if (n > 0) {
        ix.entries = calloc(n, sizeof(*ix.entries));
        if (ix.entries == NULL) {
            rc = SV_NO_MEMORY;
            cmaf_err(err, errlen, "out of memory for %zu entries", n);
            goto done;
        }
    }
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = data + CMAF_INDEX_HEADER_SIZE + i * CMAF_INDEX_ENTRY_SIZE;
        cmaf_index_entry_t *e = &ix.entries[i], *prev = i ? &ix.entries[i - 1] : NULL;
        e->start = (int64_t)le64_get(p);
        e->duration = le32_get(p + 8);
        e->flags = le32_get(p + 12);
        e->offset = le64_get(p + 16);
        e->size = le32_get(p + 24);
        e->iframe_size = le32_get(p + 28);
        if (e->size == 0 || e->duration == 0) {
            cmaf_err(err, errlen, "entry %zu: %s 0", i + 1, e->size ? "duration" : "size");
            goto done;
        }
        if (e->iframe_size > e->size) {
            cmaf_err(err, errlen, "entry %zu: iframe size %u exceeds its size %u", i + 1,
                     e->iframe_size, e->size);
            goto done;
        }
        if (e->offset > UINT64_MAX - e->size) {
            cmaf_err(err, errlen, "entry %zu: offset %" PRIu64 " + size %u overflows", i + 1,
                     e->offset, e->size);
            goto done;
        }
        if (prev == NULL) {
            if (e->offset != ix.init_size) {
                cmaf_err(err, errlen,
                         "entry 1: offset %" PRIu64 " is not the init size %" PRIu64, e->offset,
                         ix.init_size);
                goto done;
            }
            if (e->start < 0) {
                cmaf_err(err, errlen, "entry 1: start %" PRId64 " is negative", e->start);
                goto done;
            }
        } else {
            if (e->offset < prev->offset + prev->size) {
                cmaf_err(err, errlen,
                         "entry %zu: offset %" PRIu64 " overlaps entry %zu (ends at %" PRIu64
                         ")",
                         i + 1, e->offset, i, prev->offset + prev->size);
                goto done;
            }
            /* prev->start + prev->duration may pass INT64_MAX: 128 bits. */
            if ((__int128)e->start != (__int128)prev->start + prev->duration) {
                cmaf_err(err, errlen,
                         "entry %zu: start %" PRId64 " is not entry %zu's end %" PRId64, i + 1,
                         e->start, i, (int64_t)((__int128)prev->start + prev->duration));
                goto done;
            }
        }
        sum += e->duration; /* n * UINT32_MAX, cannot wrap for n < 2^32 */
    }
    if (sum > INT64_MAX) {
        cmaf_err(err, errlen, "total duration overflows");
        goto done;
    }
    if (ix.complete && total != sum) {
        cmaf_err(err, errlen, "total duration %" PRIu64 ", entries sum to %" PRIu64, total,
                 sum);
        goto done;
    }
    ix.total_duration = (int64_t)sum;
    ix.nentries = n;
    *out = ix;
    ix.entries = NULL;
    rc = SV_OK;
done:
    free(ix.entries);
    return rc;
}

int
cmaf_index_load(const char *path, cmaf_index_t *out, char *err, size_t errlen)
{
    int rc = SV_IO, fd;
    struct stat st;
    uint8_t *data = NULL;
    size_t len = 0;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = errno == ENOENT ? SV_NOT_FOUND : SV_IO;
        cmaf_err(err, errlen, "%s: %s", path, strerror(errno));
        goto done;
    }
    if (fstat(fd, &st) != 0) {
        cmaf_err(err, errlen, "%s: %s", path, strerror(errno));
        goto done;
    }
    if (st.st_size < 0 || (uint64_t)st.st_size > CMAF_INDEX_FILE_MAX) {
        rc = SV_TOO_BIG;
        cmaf_err(err, errlen, "%s: %lld bytes (limit %u)", path, (long long)st.st_size,
                 CMAF_INDEX_FILE_MAX);
        goto done;
    }
    data = malloc((size_t)st.st_size + 1);
    if (data == NULL) {
        rc = SV_NO_MEMORY;
        cmaf_err(err, errlen, "%s: out of memory", path);
        goto done;
    }
    /* A writer may still be appending: read what the size said, or less. */
    while (len < (size_t)st.st_size) {
        ssize_t k = read(fd, data + len, (size_t)st.st_size - len);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            cmaf_err(err, errlen, "%s: %s", path, strerror(errno));
            goto done;
        }
        if (k == 0)
            break;
        len += (size_t)k;
    }
    rc = cmaf_index_parse(data, len, out, err, errlen);
done:
    if (fd >= 0)
        close(fd);
    free(data);
    return rc;
}

void
cmaf_index_free(cmaf_index_t *ix)
{
    free(ix->entries);
    ix->entries = NULL;
    ix->nentries = 0;
}

/* bytes * 8 * timescale / duration, rounded up, saturated at UINT64_MAX. */
static uint64_t
cmaf_bits_per_second(unsigned __int128 bytes, uint32_t timescale, uint64_t duration)
{
    /* bytes < 2^32 per entry times < 2^59 entries (32 bytes each in
     * memory): bits < 2^126. */
    unsigned __int128 bits = bytes * 8u * timescale;
    unsigned __int128 bps = (bits + duration - 1) / duration;
    return bps > UINT64_MAX ? UINT64_MAX : (uint64_t)bps;
}

void
cmaf_index_bandwidth(const cmaf_index_t *ix, uint64_t *avg_bps, uint64_t *peak_bps)
{
    unsigned __int128 bytes = 0;
    uint64_t duration = 0, peak = 0;

    for (size_t i = 0; i < ix->nentries; i++) {
        const cmaf_index_entry_t *e = &ix->entries[i];
        uint64_t bps;
        if (e->duration == 0)
            continue; /* parse refuses these; a hand-made index may not */
        bytes += e->size;
        duration += e->duration;
        bps = cmaf_bits_per_second(e->size, ix->timescale, e->duration);
        if (bps > peak)
            peak = bps;
    }
    *avg_bps = duration ? cmaf_bits_per_second(bytes, ix->timescale, duration) : 0;
    *peak_bps = peak;
}
