/*
 * test_cmaf.c: the CMAF track writer and the fragment index.
 *
 * The track files are read back box by box with a small walker (sizes must
 * add up exactly at every level), the index is checked against the moof
 * positions found in the file, and every refusal of cmaf_index_parse is
 * provoked. Real oracles: H.264 and AAC made by ffmpeg are demuxed with
 * libavformat, written with the writer, and must then decode with ffmpeg
 * to the same frames (framemd5) and the same packets.
 *
 * The test includes cmaf.c to reach the writer's file descriptors for
 * fault injection (/dev/full).
 */
#include "test.h"
#include "tmpdir.h"
#include "fixture.h"

#include "media/cmaf.c"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavformat/avformat.h>

/* Reads a whole file (malloc'd, *len set), or NULL. */
static uint8_t *
slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *data = NULL;
    long n;
    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        data = malloc((size_t)n + 1);
        if (data != NULL && fread(data, 1, (size_t)n, f) != (size_t)n) {
            free(data);
            data = NULL;
        }
        *len = (size_t)n;
    }
    fclose(f);
    return data;
}

/* ---- a box walker ---- */

typedef struct {
    const uint8_t *p;
    size_t len;
} span_t;

static uint32_t
be16(const uint8_t *p)
{
    return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t
be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t
be64(const uint8_t *p)
{
    return (uint64_t)be32(p) << 32 | be32(p + 4);
}

/* The types of the boxes that exactly fill s, space-separated, or "BAD"
 * when a size is below 8 or runs past the end. */
static const char *
box_types(span_t s)
{
    static char out[512];
    size_t pos = 0, o = 0;
    out[0] = '\0';
    while (pos < s.len) {
        uint32_t size;
        if (s.len - pos < 8)
            return "BAD";
        size = be32(s.p + pos);
        if (size < 8 || size > s.len - pos)
            return "BAD";
        if (o + 6 < sizeof(out))
            o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%.4s", o ? " " : "",
                                  (const char *)s.p + pos + 4);
        pos += size;
    }
    return out;
}

/* The body of the nth box of type in s (after its 8-byte header and skip
 * more bytes), or an empty span and a failed check. */
static span_t
child_n(span_t s, const char *type, int nth, size_t skip, int line)
{
    size_t pos = 0;
    while (s.len - pos >= 8) {
        uint32_t size = be32(s.p + pos);
        if (size < 8 || size > s.len - pos)
            break;
        if (memcmp(s.p + pos + 4, type, 4) == 0 && nth-- == 0 && size - 8 >= skip)
            return (span_t){s.p + pos + 8 + skip, size - 8 - skip};
        pos += size;
    }
    printf("# line %d: no box %s\n", line, type);
    test_cur_failed = 1;
    return (span_t){(const uint8_t *)"", 0};
}

#define child(s, type, skip) child_n((s), (type), 0, (skip), __LINE__)

/* Offset of the nth top-level box of type in the file, or -1. */
static long
box_offset(span_t s, const char *type, int nth)
{
    size_t pos = 0;
    while (s.len - pos >= 8) {
        uint32_t size = be32(s.p + pos);
        if (size < 8 || size > s.len - pos)
            return -1;
        if (memcmp(s.p + pos + 4, type, 4) == 0 && nth-- == 0)
            return (long)pos;
        pos += size;
    }
    return -1;
}

/* ---- tracks ---- */

static const uint8_t fake_avcc[] = {1,    0x64, 0,    0x1f, 0xff, 0xe1, 0,    4,   0x67,
                                    0x64, 0,    0x1f, 1,    0,    2,    0x68, 0xee};
static const uint8_t fake_asc[] = {0x11, 0x90}; /* AAC LC, 48 kHz, stereo */

static cmaf_track_t
video_track(void)
{
    cmaf_track_t t = {0};
    t.kind = CMAF_VIDEO;
    t.timescale = 90000;
    memcpy(t.fourcc, "avc1", 5);
    t.config = fake_avcc;
    t.config_len = sizeof(fake_avcc);
    memcpy(t.language, "eng", 4);
    t.width = 720;
    t.height = 576;
    return t;
}

static cmaf_track_t
audio_track(void)
{
    cmaf_track_t t = {0};
    t.kind = CMAF_AUDIO;
    t.timescale = 48000;
    memcpy(t.fourcc, "mp4a", 5);
    t.config = fake_asc;
    t.config_len = sizeof(fake_asc);
    memcpy(t.language, "fra", 4);
    t.channels = 2;
    t.sample_rate = 48000;
    t.avg_bitrate = 128000;
    t.max_bitrate = 160000;
    return t;
}

/* A length-prefixed NAL unit of size bytes in all, filled with tag. */
static void
fake_nal(uint8_t *b, size_t size, uint8_t tag)
{
    b[0] = b[1] = 0;
    b[2] = (uint8_t)((size - 4) >> 8);
    b[3] = (uint8_t)(size - 4);
    memset(b + 4, tag, size - 4);
}

/* ---- init segments ---- */

TEST(video_init_segment_boxes)
{
    cmaf_track_t t = video_track();
    cmaf_writer_t *w = NULL;
    cmaf_index_t ix = {0};
    char err[256] = "";
    size_t len = 0;
    uint8_t *f;

    t.sar_num = 16;
    t.sar_den = 15;
    t.colour_primaries = 9;
    t.transfer_characteristics = 16;
    t.matrix_coefficients = 9;
    t.full_range = false;
    t.has_mdcv = true;
    t.mdcv_primaries[0][0] = 8500;  /* G x */
    t.mdcv_primaries[2][1] = 16000; /* R y */
    t.mdcv_white[0] = 15635;
    t.mdcv_white[1] = 16450;
    t.mdcv_max_lum = 10000000;
    t.mdcv_min_lum = 50;
    t.has_clli = true;
    t.max_cll = 1000;
    t.max_fall = 400;
    t.avg_bitrate = 3000000;
    t.max_bitrate = 4500000;
    CHECK_INT(cmaf_writer_open(path_of("v0.mp4"), path_of("v0.idx"), &t, &w, err, sizeof(err)),
              SV_OK);
    CHECK_INT(cmaf_writer_finish(w, err, sizeof(err)), SV_OK);

    f = slurp(path_of("v0.mp4"), &len);
    CHECK(f != NULL);
    if (f == NULL)
        return;
    span_t file = {f, len};
    CHECK_STR(box_types(file), "ftyp moov");
    span_t ftyp = child(file, "ftyp", 0);
    CHECK_INT(ftyp.len, 16);
    CHECK(memcmp(ftyp.p, "cmfc\0\0\0\0iso6cmfc", 16) == 0);

    span_t moov = child(file, "moov", 0);
    CHECK_STR(box_types(moov), "mvhd trak mvex");
    span_t mvhd = child(moov, "mvhd", 0);
    CHECK_INT(mvhd.len, 100);
    CHECK_INT(mvhd.p[0], 0);             /* version */
    CHECK_INT(be32(mvhd.p + 12), 90000); /* timescale */
    CHECK_INT(be32(mvhd.p + 16), 0);     /* duration */
    CHECK_INT(be32(mvhd.p + 96), 2);     /* next_track_ID */
    span_t trak = child(moov, "trak", 0);
    CHECK_STR(box_types(trak), "tkhd mdia");
    span_t tkhd = child(trak, "tkhd", 0);
    CHECK_INT(tkhd.len, 84);
    CHECK_INT(be32(tkhd.p), 3);              /* version 0, enabled | in movie */
    CHECK_INT(be32(tkhd.p + 12), 1);         /* track_ID */
    CHECK_INT(be16(tkhd.p + 36), 0);         /* volume */
    CHECK_INT(be32(tkhd.p + 76), 768 << 16); /* 720 * 16/15 */
    CHECK_INT(be32(tkhd.p + 80), 576 << 16);
    span_t mdia = child(trak, "mdia", 0);
    CHECK_STR(box_types(mdia), "mdhd hdlr minf");
    span_t mdhd = child(mdia, "mdhd", 0);
    CHECK_INT(be32(mdhd.p + 12), 90000);
    CHECK_INT(be16(mdhd.p + 20), ('e' - 0x60) << 10 | ('n' - 0x60) << 5 | ('g' - 0x60));
    span_t hdlr = child(mdia, "hdlr", 0);
    CHECK(memcmp(hdlr.p + 8, "vide", 4) == 0);
    CHECK(hdlr.p[hdlr.len - 1] == '\0');
    span_t minf = child(mdia, "minf", 0);
    CHECK_STR(box_types(minf), "vmhd dinf stbl");
    CHECK_INT(be32(child(minf, "vmhd", 0).p), 1);
    span_t dref = child(child(minf, "dinf", 0), "dref", 8);
    CHECK_STR(box_types(dref), "url ");
    CHECK_INT(be32(child(dref, "url ", 0).p), 1);
    span_t stbl = child(minf, "stbl", 0);
    CHECK_STR(box_types(stbl), "stsd stts stsc stsz stco");
    CHECK_INT(be32(child(stbl, "stts", 0).p + 4), 0);
    CHECK_INT(be32(child(stbl, "stsz", 0).p + 8), 0);
    span_t stsd = child(stbl, "stsd", 0);
    CHECK_INT(be32(stsd.p + 4), 1);
    span_t stsd_entries = {stsd.p + 8, stsd.len - 8};
    CHECK_STR(box_types(stsd_entries), "avc1");
    span_t avc1 = child(stsd_entries, "avc1", 0);
    CHECK_INT(be16(avc1.p + 6), 1);    /* data_reference_index */
    CHECK_INT(be16(avc1.p + 24), 720); /* width */
    CHECK_INT(be16(avc1.p + 26), 576);
    CHECK_INT(be32(avc1.p + 28), 0x00480000);
    CHECK_INT(be16(avc1.p + 40), 1);      /* frame_count */
    CHECK_INT(be16(avc1.p + 74), 0x18);   /* depth */
    CHECK_INT(be16(avc1.p + 76), 0xffff); /* pre_defined -1 */
    span_t boxes = {avc1.p + 78, avc1.len - 78};
    CHECK_STR(box_types(boxes), "avcC pasp colr mdcv clli btrt");
    span_t avcc = child(boxes, "avcC", 0);
    CHECK(avcc.len == sizeof(fake_avcc) && memcmp(avcc.p, fake_avcc, avcc.len) == 0);
    span_t pasp = child(boxes, "pasp", 0);
    CHECK_INT(be32(pasp.p), 16);
    CHECK_INT(be32(pasp.p + 4), 15);
    span_t colr = child(boxes, "colr", 0);
    CHECK_INT(colr.len, 11);
    CHECK(memcmp(colr.p, "nclx\0\x09\0\x10\0\x09\0", 11) == 0);
    span_t mdcv = child(boxes, "mdcv", 0);
    CHECK_INT(mdcv.len, 24);
    CHECK_INT(be16(mdcv.p), 8500);
    CHECK_INT(be16(mdcv.p + 10), 16000);
    CHECK_INT(be16(mdcv.p + 12), 15635);
    CHECK_INT(be32(mdcv.p + 16), 10000000);
    CHECK_INT(be32(mdcv.p + 20), 50);
    span_t clli = child(boxes, "clli", 0);
    CHECK_INT(be16(clli.p), 1000);
    CHECK_INT(be16(clli.p + 2), 400);
    span_t btrt = child(boxes, "btrt", 0);
    CHECK_INT(be32(btrt.p), 0);
    CHECK_INT(be32(btrt.p + 4), 4500000);
    CHECK_INT(be32(btrt.p + 8), 3000000);
    span_t trex = child(child(moov, "mvex", 0), "trex", 0);
    CHECK_INT(trex.len, 24);
    CHECK_INT(be32(trex.p + 4), 1);
    CHECK_INT(be32(trex.p + 8), 1);
    CHECK_INT(be32(trex.p + 12) | be32(trex.p + 16) | be32(trex.p + 20), 0);

    CHECK_INT(cmaf_index_load(path_of("v0.idx"), &ix, err, sizeof(err)), SV_OK);
    CHECK_INT(ix.timescale, 90000);
    CHECK_INT(ix.init_size, len);
    CHECK(ix.complete);
    CHECK_INT(ix.nentries, 0);
    CHECK_INT(ix.total_duration, 0);
    cmaf_index_free(&ix);
    free(f);
}

TEST(video_square_pixels_full_range_no_optional_boxes)
{
    cmaf_track_t t = video_track();
    cmaf_writer_t *w = NULL;
    char err[256] = "";
    size_t len = 0;
    uint8_t *f;

    memcpy(t.fourcc, "hvc1", 5);
    t.sar_num = t.sar_den = 1;
    t.colour_primaries = 1;
    t.transfer_characteristics = 1;
    t.matrix_coefficients = 1;
    t.full_range = true;
    t.language[0] = '\0';
    CHECK_INT(cmaf_writer_open(path_of("v1.mp4"), path_of("v1.idx"), &t, &w, err, sizeof(err)),
              SV_OK);
    cmaf_writer_abort(w);
    f = slurp(path_of("v1.mp4"), &len);
    CHECK(f != NULL);
    if (f == NULL)
        return;
    span_t file = {f, len};
    span_t trak = child(child(file, "moov", 0), "trak", 0);
    CHECK_INT(be32(child(trak, "tkhd", 0).p + 76), 720 << 16);
    span_t mdia = child(trak, "mdia", 0);
    CHECK_INT(be16(child(mdia, "mdhd", 0).p + 20),
              ('u' - 0x60) << 10 | ('n' - 0x60) << 5 | ('d' - 0x60));
    span_t stsd = child(child(child(mdia, "minf", 0), "stbl", 0), "stsd", 8);
    span_t hvc1 = child(stsd, "hvc1", 78);
    CHECK_STR(box_types(hvc1), "hvcC colr");
    CHECK_INT(child(hvc1, "colr", 0).p[10], 0x80);
    free(f);
}

/* Reads an MPEG-4 descriptor header at *p: its tag, and its body length. */
static int
desc_read(span_t *s, int *tag, size_t *len)
{
    size_t n = 0, i = 1;
    if (s->len < 2)
        return -1;
    *tag = s->p[0];
    do {
        if (i >= s->len || i > 4)
            return -1;
        n = n << 7 | (s->p[i] & 0x7f);
    } while (s->p[i++] & 0x80);
    if (n > s->len - i)
        return -1;
    *len = n;
    s->p += i;
    s->len -= i;
    return 0;
}

TEST(audio_init_segment_esds)
{
    cmaf_track_t t = audio_track();
    cmaf_writer_t *w = NULL;
    char err[256] = "";
    size_t len = 0, n;
    int tag;
    uint8_t *f;

    CHECK_INT(cmaf_writer_open(path_of("a0.mp4"), path_of("a0.idx"), &t, &w, err, sizeof(err)),
              SV_OK);
    CHECK_INT(cmaf_writer_finish(w, err, sizeof(err)), SV_OK);
    f = slurp(path_of("a0.mp4"), &len);
    CHECK(f != NULL);
    if (f == NULL)
        return;
    span_t file = {f, len};
    span_t trak = child(child(file, "moov", 0), "trak", 0);
    span_t tkhd = child(trak, "tkhd", 0);
    CHECK_INT(be16(tkhd.p + 36), 0x0100);
    CHECK_INT(be32(tkhd.p + 76), 0);
    CHECK_INT(be32(tkhd.p + 80), 0);
    span_t mdia = child(trak, "mdia", 0);
    CHECK(memcmp(child(mdia, "hdlr", 0).p + 8, "soun", 4) == 0);
    span_t minf = child(mdia, "minf", 0);
    CHECK_STR(box_types(minf), "smhd dinf stbl");
    span_t stsd = child(child(minf, "stbl", 0), "stsd", 8);
    CHECK_STR(box_types(stsd), "mp4a");
    span_t mp4a = child(stsd, "mp4a", 0);
    CHECK_INT(be16(mp4a.p + 16), 2);            /* channelcount */
    CHECK_INT(be16(mp4a.p + 18), 16);           /* samplesize */
    CHECK_INT(be32(mp4a.p + 24), 48000u << 16); /* samplerate 16.16 */
    span_t boxes = {mp4a.p + 28, mp4a.len - 28};
    CHECK_STR(box_types(boxes), "esds btrt");
    span_t esds = child(boxes, "esds", 0);
    CHECK_INT(be32(esds.p), 0);
    span_t d = {esds.p + 4, esds.len - 4};
    CHECK_INT(desc_read(&d, &tag, &n), 0);
    CHECK_INT(tag, 3);
    CHECK_INT(n, d.len); /* the ES descriptor fills the box */
    CHECK_INT(be16(d.p), 0);
    d.p += 3, d.len -= 3;
    CHECK_INT(desc_read(&d, &tag, &n), 0);
    CHECK_INT(tag, 4);
    CHECK_INT(d.p[0], 0x40);
    CHECK_INT(d.p[1], 0x15);
    CHECK_INT(be32(d.p + 5), 160000);
    CHECK_INT(be32(d.p + 9), 128000);
    span_t rest = {d.p + n, d.len - n};
    d.p += 13, d.len = n - 13;
    CHECK_INT(desc_read(&d, &tag, &n), 0);
    CHECK_INT(tag, 5);
    CHECK(n == sizeof(fake_asc) && memcmp(d.p, fake_asc, n) == 0);
    CHECK_INT(desc_read(&rest, &tag, &n), 0);
    CHECK_INT(tag, 6);
    CHECK_INT(n, 1);
    CHECK_INT(rest.p[0], 2);
    CHECK_INT(rest.len, 1);
    free(f);
}

TEST(audio_large_config_and_high_sample_rate)
{
    cmaf_track_t t = audio_track();
    cmaf_writer_t *w = NULL;
    char err[256] = "";
    uint8_t big[300];
    size_t len = 0, n;
    int tag;
    uint8_t *f;

    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (uint8_t)i;
    t.config = big; /* past 127 bytes: descriptor sizes take two 7-bit groups */
    t.config_len = sizeof(big);
    t.sample_rate = 96000;
    t.avg_bitrate = t.max_bitrate = 0;
    CHECK_INT(cmaf_writer_open(path_of("a1.mp4"), path_of("a1.idx"), &t, &w, err, sizeof(err)),
              SV_OK);
    cmaf_writer_abort(w);
    f = slurp(path_of("a1.mp4"), &len);
    CHECK(f != NULL);
    if (f == NULL)
        return;
    span_t file = {f, len};
    span_t stsd = child(
        child(child(child(child(child(file, "moov", 0), "trak", 0), "mdia", 0), "minf", 0),
              "stbl", 0),
        "stsd", 8);
    span_t mp4a = child(stsd, "mp4a", 0);
    CHECK_INT(be32(mp4a.p + 24), 0); /* 96000 does not fit 16.16 */
    span_t boxes = {mp4a.p + 28, mp4a.len - 28};
    CHECK_STR(box_types(boxes), "esds"); /* no bitrates: no btrt */
    span_t d = child(boxes, "esds", 4);
    CHECK_INT(desc_read(&d, &tag, &n), 0);
    d.p += 3, d.len -= 3;
    CHECK_INT(desc_read(&d, &tag, &n), 0);
    d.p += 13, d.len = n - 13;
    CHECK_INT(desc_read(&d, &tag, &n), 0);
    CHECK_INT(tag, 5);
    CHECK(n == sizeof(big) && memcmp(d.p, big, n) == 0);
    free(f);
}

TEST(open_refuses_tracks_it_cannot_write)
{
    cmaf_track_t t;
    cmaf_writer_t *w = NULL;
    char err[256] = "";

#define REFUSE(expect)                                                                         \
    do {                                                                                       \
        CHECK_INT(cmaf_writer_open(path_of("bad.mp4"), path_of("bad.idx"), &t, &w, err,        \
                                   sizeof(err)),                                               \
                  SV_BAD_DATA);                                                                \
        CHECK_STR(err, expect);                                                                \
        CHECK(access(path_of("bad.mp4"), F_OK) != 0);                                          \
        CHECK(access(path_of("bad.idx"), F_OK) != 0);                                          \
    } while (0)

    t = video_track();
    memcpy(t.fourcc, "vp09", 5);
    REFUSE("unknown video sample entry \"vp09\" (avc1, hvc1, av01)");
    t = video_track();
    t.width = 0;
    REFUSE("video size 0x576 is not from 1x1 to 65535x65535");
    t = video_track();
    t.config = NULL;
    REFUSE("codec configuration: 0 bytes (need 1 to 1048576)");
    t = video_track();
    t.timescale = 0;
    REFUSE("timescale 0");
    t = video_track();
    t.sar_num = 3;
    REFUSE("sample aspect ratio 3:0");
    t = video_track();
    memcpy(t.language, "EN", 3);
    REFUSE("language is not three lowercase letters (ISO 639-2/T)");
    t = audio_track();
    t.channels = 0;
    REFUSE("audio needs channels (1 to 65535) and a sample rate (0, 48000)");
    t = audio_track();
    t.sample_rate = 0;
    REFUSE("audio needs channels (1 to 65535) and a sample rate (2, 0)");
    t = audio_track();
    t.config_len = 0;
    REFUSE("codec configuration: 0 bytes (need 1 to 1048576)");
    t = audio_track();
    memcpy(t.fourcc, "Opus", 5);
    REFUSE("unknown audio sample entry \"Opus\" (mp4a)");
#undef REFUSE
    CHECK(w == NULL);
}

TEST(open_refuses_existing_files_and_leaves_nothing)
{
    cmaf_track_t t = video_track();
    cmaf_writer_t *w = NULL;
    char err[256] = "";
    FILE *f = fopen(path_of("ex.idx"), "w");
    CHECK(f != NULL);
    if (f)
        fclose(f);
    CHECK_INT(cmaf_writer_open(path_of("ex.mp4"), path_of("ex.idx"), &t, &w, err, sizeof(err)),
              SV_EXISTS);
    CHECK(strstr(err, "ex.idx: File exists") != NULL);
    CHECK(access(path_of("ex.mp4"), F_OK) != 0); /* the track it made is removed */
    CHECK_INT(cmaf_writer_open(path_of("ex.idx"), path_of("ex2.idx"), &t, &w, err, sizeof(err)),
              SV_EXISTS);
    CHECK(access(path_of("ex2.idx"), F_OK) != 0);
    CHECK_INT(
        cmaf_writer_open(path_of("no/such.mp4"), path_of("ex3.idx"), &t, &w, err, sizeof(err)),
        SV_IO);
    CHECK(w == NULL);
}

/* ---- fragments ---- */

typedef struct {
    uint32_t seq;
    uint64_t tfdt;
    uint32_t trun_flags, version, count;
    int32_t data_offset;
    uint32_t dur[8], size[8], flags[8];
    int32_t cto[8];
    long moof_off, mdat_off;
    size_t moof_size, mdat_size;
} frag_t;

/* Reads the nth moof (and the mdat after it) of a track file. */
static void
read_fragment(span_t file, int nth, frag_t *fr)
{
    memset(fr, 0, sizeof(*fr));
    fr->moof_off = box_offset(file, "moof", nth);
    fr->mdat_off = box_offset(file, "mdat", nth);
    CHECK(fr->moof_off > 0 && fr->mdat_off > fr->moof_off);
    if (fr->moof_off <= 0 || fr->mdat_off <= 0)
        return;
    fr->moof_size = be32(file.p + fr->moof_off);
    fr->mdat_size = be32(file.p + fr->mdat_off);
    CHECK_INT(fr->moof_off + (long)fr->moof_size, fr->mdat_off);
    span_t moof = child_n(file, "moof", nth, 0, __LINE__);
    CHECK_STR(box_types(moof), "mfhd traf");
    fr->seq = be32(child(moof, "mfhd", 0).p + 4);
    span_t traf = child(moof, "traf", 0);
    CHECK_STR(box_types(traf), "tfhd tfdt trun");
    span_t tfhd = child(traf, "tfhd", 0);
    CHECK_INT(tfhd.len, 8);
    CHECK_INT(be32(tfhd.p), 0x020000);
    CHECK_INT(be32(tfhd.p + 4), 1);
    span_t tfdt = child(traf, "tfdt", 0);
    CHECK_INT(tfdt.len, 12);
    CHECK_INT(tfdt.p[0], 1);
    fr->tfdt = be64(tfdt.p + 4);
    span_t trun = child(traf, "trun", 0);
    fr->version = trun.p[0];
    fr->trun_flags = be32(trun.p) & 0xffffff;
    fr->count = be32(trun.p + 4);
    fr->data_offset = (int32_t)be32(trun.p + 8);
    size_t per = fr->trun_flags & 0x800 ? 16 : 12;
    CHECK_INT(trun.len, 12 + per * fr->count);
    for (uint32_t i = 0; i < fr->count && i < 8 && trun.len >= 12 + per * (i + 1); i++) {
        const uint8_t *p = trun.p + 12 + per * i;
        fr->dur[i] = be32(p);
        fr->size[i] = be32(p + 4);
        fr->flags[i] = be32(p + 8);
        fr->cto[i] = per == 16 ? (int32_t)be32(p + 12) : 0;
    }
}

/* B-frame-like GOPs in decode order I P B B (pts 2,5,3,4 against dts 0,1,2,3,
 * in frames of 3600 at 90 kHz), a fragment per GOP, then a fragment that
 * does not start with a sync sample. */
TEST(video_fragments_with_signed_composition_offsets)
{
    static const int pts_of[4] = {2, 5, 3, 4};
    cmaf_track_t t = video_track();
    cmaf_writer_t *w = NULL;
    cmaf_index_t ix = {0};
    char err[256] = "";
    uint8_t sample[64];
    size_t len = 0, ilen = 0;
    uint8_t *f, *idx;
    int k = 0;

    CHECK_INT(cmaf_writer_open(path_of("v.mp4"), path_of("v.idx"), &t, &w, err, sizeof(err)),
              SV_OK);
    if (w == NULL)
        return;
    for (int g = 0; g < 2; g++) {
        for (int i = 0; i < 4; i++, k++) {
            cmaf_sample_t s = {.dts = k * 3600,
                               .pts = (g * 4 + pts_of[i]) * 3600,
                               .duration = 3600,
                               .keyframe = i == 0,
                               .data = sample,
                               .size = (size_t)(20 + k)};
            fake_nal(sample, s.size, (uint8_t)k);
            if (s.keyframe)
                CHECK_INT(cmaf_writer_cut(w, err, sizeof(err)), SV_OK);
            CHECK_INT(cmaf_writer_add(w, &s), SV_OK);
        }
    }
    CHECK_INT(cmaf_writer_pending(w), 4);
    CHECK_INT(cmaf_writer_cut(w, err, sizeof(err)), SV_OK);
    CHECK_INT(cmaf_writer_pending(w), 0);
    CHECK_INT(cmaf_writer_cut(w, err, sizeof(err)), SV_OK); /* nothing queued: nothing */
    /* Before finish: two entries, not complete; a half-appended entry is ignored. */
    CHECK_INT(cmaf_index_load(path_of("v.idx"), &ix, err, sizeof(err)), SV_OK);
    CHECK(!ix.complete);
    CHECK_INT(ix.nentries, 2);
    cmaf_index_free(&ix);
    idx = slurp(path_of("v.idx"), &ilen);
    CHECK(idx != NULL && ilen == 64 + 2 * 32);
    if (idx != NULL) {
        uint8_t grown[64 + 2 * 32 + 20];
        memcpy(grown, idx, ilen);
        memset(grown + ilen, 0xab, sizeof(grown) - ilen);
        CHECK_INT(cmaf_index_parse(grown, sizeof(grown), &ix, err, sizeof(err)), SV_OK);
        CHECK_INT(ix.nentries, 2);
        cmaf_index_free(&ix);
        free(idx);
    }
    for (int i = 0; i < 2; i++, k++) { /* P P: not a sync sample first */
        cmaf_sample_t s = {.dts = k * 3600,
                           .pts = (k + 2) * 3600,
                           .duration = 3600,
                           .data = sample,
                           .size = (size_t)(20 + k)};
        fake_nal(sample, s.size, (uint8_t)k);
        CHECK_INT(cmaf_writer_add(w, &s), SV_OK);
    }
    CHECK_INT(cmaf_writer_finish(w, err, sizeof(err)), SV_OK);

    f = slurp(path_of("v.mp4"), &len);
    CHECK_INT(cmaf_index_load(path_of("v.idx"), &ix, err, sizeof(err)), SV_OK);
    CHECK(f != NULL);
    if (f == NULL)
        return;
    span_t file = {f, len};
    CHECK_STR(box_types(file), "ftyp moov moof mdat moof mdat moof mdat");
    CHECK(ix.complete);
    CHECK_INT(ix.nentries, 3);
    CHECK_INT(ix.total_duration, 10 * 3600);
    CHECK_INT(ix.init_size, box_offset(file, "moof", 0));

    static const int32_t cto[4] = {0, 7200, -3600, -3600};
    int first = 0;
    for (int n = 0; n < 3 && (size_t)n < ix.nentries; n++) {
        frag_t fr;
        int count = n < 2 ? 4 : 2;
        cmaf_index_entry_t *e = &ix.entries[n];
        read_fragment(file, n, &fr);
        CHECK_INT(fr.seq, n + 1);
        CHECK_INT(fr.tfdt, (2 + 4 * n) * 3600); /* first pts; continuous */
        CHECK_INT(fr.version, 1);
        CHECK_INT(fr.trun_flags, 0xf01);
        CHECK_INT(fr.count, count);
        CHECK_INT(fr.data_offset, fr.moof_size + 8);
        for (int i = 0; i < count; i++) {
            CHECK_INT(fr.dur[i], 3600);
            CHECK_INT(fr.size[i], 20 + first + i);
            CHECK_INT(fr.flags[i], n < 2 && i == 0 ? 0x02000000 : 0x01010000);
            CHECK_INT(fr.cto[i], n < 2 ? cto[i] : 0);
        }
        /* The data offset leads to the first sample's bytes. */
        const uint8_t *d = f + fr.moof_off + fr.data_offset;
        CHECK_INT(be32(d), 20 + first - 4);
        CHECK_INT(d[4], first);
        CHECK_INT(fr.mdat_size, 8 + count * 20 + (count * (2 * first + count - 1)) / 2);
        /* The index entry describes exactly this fragment. */
        CHECK_INT(e->start, fr.tfdt);
        CHECK_INT(e->duration, count * 3600);
        CHECK_INT(e->flags, n < 2 ? CMAF_FRAG_INDEPENDENT : 0);
        CHECK_INT(e->offset, fr.moof_off);
        CHECK_INT(e->size, fr.moof_size + fr.mdat_size);
        CHECK_INT(e->iframe_size, fr.moof_size + 8 + fr.size[0]);
        first += count;
    }
    CHECK_INT(ix.entries[2].offset + ix.entries[2].size, len);
    cmaf_index_free(&ix);
    free(f);
}

TEST(audio_fragments_have_no_offsets_and_are_all_sync)
{
    cmaf_track_t t = audio_track();
    cmaf_writer_t *w = NULL;
    cmaf_index_t ix = {0};
    char err[256] = "";
    uint8_t sample[400];
    size_t len = 0;
    uint8_t *f;

    memset(sample, 0x21, sizeof(sample));
    CHECK_INT(cmaf_writer_open(path_of("a.mp4"), path_of("a.idx"), &t, &w, err, sizeof(err)),
              SV_OK);
    if (w == NULL)
        return;
    for (int k = 0; k < 10; k++) {
        cmaf_sample_t s = {.dts = 1024 * k,
                           .pts = 1024 * k,
                           .duration = 1024,
                           .keyframe = false, /* ignored: audio samples are sync */
                           .data = sample,
                           .size = (size_t)(300 + k)};
        if (k == 5)
            CHECK_INT(cmaf_writer_cut(w, err, sizeof(err)), SV_OK);
        CHECK_INT(cmaf_writer_add(w, &s), SV_OK);
    }
    CHECK_INT(cmaf_writer_finish(w, err, sizeof(err)), SV_OK);
    f = slurp(path_of("a.mp4"), &len);
    CHECK_INT(cmaf_index_load(path_of("a.idx"), &ix, err, sizeof(err)), SV_OK);
    CHECK(f != NULL);
    if (f == NULL)
        return;
    span_t file = {f, len};
    CHECK_STR(box_types(file), "ftyp moov moof mdat moof mdat");
    CHECK_INT(ix.nentries, 2);
    for (int n = 0; n < 2 && (size_t)n < ix.nentries; n++) {
        frag_t fr;
        read_fragment(file, n, &fr);
        CHECK_INT(fr.version, 0);
        CHECK_INT(fr.trun_flags, 0x701);
        CHECK_INT(fr.count, 5);
        CHECK_INT(fr.tfdt, 5120 * n);
        for (int i = 0; i < 5; i++) {
            CHECK_INT(fr.dur[i], 1024);
            CHECK_INT(fr.size[i], 300 + 5 * n + i);
            CHECK_INT(fr.flags[i], 0x02000000);
        }
        CHECK_INT(ix.entries[n].start, 5120 * n);
        CHECK_INT(ix.entries[n].duration, 5120);
        CHECK_INT(ix.entries[n].flags, CMAF_FRAG_INDEPENDENT);
        CHECK_INT(ix.entries[n].iframe_size, 0);
        CHECK_INT(ix.entries[n].offset, fr.moof_off);
    }
    cmaf_index_free(&ix);
    free(f);
}

TEST(add_refuses_bad_timing_and_queues_nothing)
{
    cmaf_track_t t = video_track();
    cmaf_writer_t *w = NULL;
    char err[256] = "";
    uint8_t b[8] = {0, 0, 0, 4, 0x65, 1, 2, 3};
    cmaf_sample_t s = {
        .dts = 0, .pts = 0, .duration = 10, .keyframe = true, .data = b, .size = 8};

    CHECK_INT(cmaf_writer_open(path_of("r.mp4"), path_of("r.idx"), &t, &w, err, sizeof(err)),
              SV_OK);
    if (w == NULL)
        return;
    s.pts = -1;
    s.dts = -2;
    CHECK_INT(cmaf_writer_add(w, &s), SV_BAD_DATA); /* first pts < 0 */
    s.pts = 5;
    s.dts = 6;
    CHECK_INT(cmaf_writer_add(w, &s), SV_BAD_DATA); /* first pts < dts */
    s.dts = 0;
    s.duration = 0;
    CHECK_INT(cmaf_writer_add(w, &s), SV_BAD_DATA);
    CHECK_INT(cmaf_writer_pending(w), 0);
    s.duration = 10;
    CHECK_INT(cmaf_writer_add(w, &s), SV_OK);
    CHECK_INT(cmaf_writer_add(w, &s), SV_BAD_DATA); /* dts does not increase */
    s.dts = 10;
    s.pts = 5 + 10 + ((int64_t)1 << 31); /* offset past INT32_MAX */
    CHECK_INT(cmaf_writer_add(w, &s), SV_BAD_DATA);
    s.pts = 5 + 10 + (int64_t)INT32_MAX;
    CHECK_INT(cmaf_writer_add(w, &s), SV_OK);
    s.dts = 20;
    s.pts = 5 + 20 + (int64_t)INT32_MIN;
    CHECK_INT(cmaf_writer_add(w, &s), SV_OK);
    CHECK_INT(cmaf_writer_pending(w), 3);
    cmaf_writer_abort(w);
}

TEST(a_failed_write_is_reported_and_the_index_stays_whole)
{
    cmaf_track_t t = video_track();
    cmaf_writer_t *w = NULL;
    cmaf_index_t ix = {0};
    char err[256] = "";
    uint8_t b[8] = {0, 0, 0, 4, 0x65, 1, 2, 3};
    cmaf_sample_t s = {
        .dts = 0, .pts = 0, .duration = 10, .keyframe = true, .data = b, .size = 8};

    CHECK_INT(cmaf_writer_open(path_of("fw.mp4"), path_of("fw.idx"), &t, &w, err, sizeof(err)),
              SV_OK);
    if (w == NULL)
        return;
    CHECK_INT(cmaf_writer_add(w, &s), SV_OK);
    CHECK_INT(cmaf_writer_cut(w, err, sizeof(err)), SV_OK);
    s.dts = s.pts = 10;
    CHECK_INT(cmaf_writer_add(w, &s), SV_OK);
    int full = open("/dev/full", O_WRONLY | O_CLOEXEC);
    CHECK(full >= 0);
    close(w->track_fd);
    w->track_fd = full;
    CHECK_INT(cmaf_writer_cut(w, err, sizeof(err)), SV_IO);
    CHECK_STR(err, "track file: No space left on device");
    s.dts = s.pts = 20;
    CHECK_INT(cmaf_writer_add(w, &s), SV_IO);
    CHECK_INT(cmaf_writer_finish(w, err, sizeof(err)), SV_IO); /* frees w */
    CHECK_STR(err, "an earlier write failed");
    CHECK_INT(cmaf_index_load(path_of("fw.idx"), &ix, err, sizeof(err)), SV_OK);
    CHECK_INT(ix.nentries, 1);
    CHECK(!ix.complete);
    cmaf_index_free(&ix);
}

/* ---- the index ---- */

static void
put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* An index of n entries, each 1000 bytes and 90000 long, contiguous. */
static size_t
index_bytes(uint8_t *b, int n, bool complete)
{
    memset(b, 0, 64 + 32 * (size_t)n);
    memcpy(b, "SVCMAFI1", 8);
    put_le(b + 8, 1, 4);
    put_le(b + 12, 64, 4);
    put_le(b + 16, 90000, 4);
    put_le(b + 20, 32, 4);
    put_le(b + 24, 800, 8);
    put_le(b + 32, complete ? 1 : 0, 4);
    put_le(b + 40, complete ? 90000u * (unsigned)n : 0, 8);
    for (int i = 0; i < n; i++) {
        uint8_t *e = b + 64 + 32 * i;
        put_le(e, 3600 + 90000 * (uint64_t)i, 8);
        put_le(e + 8, 90000, 4);
        put_le(e + 12, 1, 4);
        put_le(e + 16, 800 + 1000 * (uint64_t)i, 8);
        put_le(e + 24, 1000, 4);
        put_le(e + 28, 300, 4);
    }
    return 64 + 32 * (size_t)n;
}

TEST(index_parse_refuses_each_broken_field)
{
    uint8_t b[64 + 32 * 4];
    cmaf_index_t ix = {0};
    char err[256] = "";
    size_t n = index_bytes(b, 4, true);

    CHECK_INT(cmaf_index_parse(b, n, &ix, err, sizeof(err)), SV_OK);
    CHECK_INT(ix.nentries, 4);
    CHECK_INT(ix.timescale, 90000);
    CHECK_INT(ix.init_size, 800);
    CHECK_INT(ix.total_duration, 360000);
    CHECK_INT(ix.entries[3].start, 3600 + 3 * 90000);
    CHECK_INT(ix.entries[3].offset, 3800);
    CHECK_INT(ix.entries[3].iframe_size, 300);
    cmaf_index_free(&ix);

#define BROKEN(len, msg)                                                                       \
    do {                                                                                       \
        CHECK_INT(cmaf_index_parse(b, (len), &ix, err, sizeof(err)), SV_BAD_DATA);             \
        CHECK_STR(err, msg);                                                                   \
        index_bytes(b, 4, true);                                                               \
    } while (0)

    BROKEN(63, "truncated header (63 bytes, need 64)");
    b[3] = 'X';
    BROKEN(n, "bad magic (not a CMAF fragment index)");
    put_le(b + 8, 2, 4);
    BROKEN(n, "version 2 (this reader knows 1)");
    put_le(b + 12, 128, 4);
    BROKEN(n, "header size 128, expected 64");
    put_le(b + 20, 16, 4);
    BROKEN(n, "entry size 16, expected 32");
    put_le(b + 16, 0, 4);
    BROKEN(n, "timescale 0");
    put_le(b + 24, 0, 8);
    BROKEN(n, "init size 0");
    BROKEN(n - 5, "complete index ends with a partial entry (27 bytes)");
    put_le(b + 40, 5, 8);
    BROKEN(n, "total duration 5, entries sum to 360000");
    put_le(b + 64 + 16, 900, 8);
    BROKEN(n, "entry 1: offset 900 is not the init size 800");
    put_le(b + 64 + 32 * 2 + 16, 2700, 8);
    BROKEN(n, "entry 3: offset 2700 overlaps entry 2 (ends at 2800)");
    put_le(b + 64 + 32 * 3, 3600 + 3 * 90000 + 1, 8);
    BROKEN(n, "entry 4: start 273601 is not entry 3's end 273600");
    put_le(b + 64 + 32 + 24, 0, 4);
    BROKEN(n, "entry 2: size 0");
    put_le(b + 64 + 32 + 8, 0, 4);
    BROKEN(n, "entry 2: duration 0");
    put_le(b + 64 + 28, 1001, 4);
    BROKEN(n, "entry 1: iframe size 1001 exceeds its size 1000");
    put_le(b + 64, (uint64_t)-5, 8);
    BROKEN(n, "entry 1: start -5 is negative");
    put_le(b + 64 + 32 * 3 + 16, UINT64_MAX - 10, 8);
    BROKEN(n, "entry 4: offset 18446744073709551605 + size 1000 overflows");
#undef BROKEN

    /* Gaps between fragments are allowed; overlap is not. */
    put_le(b + 64 + 32 * 2 + 16, 5000, 8);
    put_le(b + 64 + 32 * 3 + 16, 6000, 8);
    CHECK_INT(cmaf_index_parse(b, n, &ix, err, sizeof(err)), SV_OK);
    cmaf_index_free(&ix);
    /* An incomplete index ignores a partial entry and reports its own sum. */
    n = index_bytes(b, 3, false);
    CHECK_INT(cmaf_index_parse(b, n + 31, &ix, err, sizeof(err)), SV_OK);
    CHECK(!ix.complete);
    CHECK_INT(ix.nentries, 3);
    CHECK_INT(ix.total_duration, 270000);
    cmaf_index_free(&ix);
    /* A header alone is an index of nothing. */
    CHECK_INT(cmaf_index_parse(b, 64, &ix, err, sizeof(err)), SV_OK);
    CHECK_INT(ix.nentries, 0);
    CHECK(ix.entries == NULL);
}

TEST(index_load_reports_missing_and_oversized_files)
{
    cmaf_index_t ix = {0};
    char err[256] = "";
    CHECK_INT(cmaf_index_load(path_of("nothing.idx"), &ix, err, sizeof(err)), SV_NOT_FOUND);
    int fd = open(path_of("huge.idx"), O_WRONLY | O_CREAT | O_EXCL, 0644);
    CHECK(fd >= 0);
    CHECK_INT(ftruncate(fd, (64 << 20) + 1), 0); /* sparse */
    close(fd);
    CHECK_INT(cmaf_index_load(path_of("huge.idx"), &ix, err, sizeof(err)), SV_TOO_BIG);
    unlink(path_of("huge.idx"));
}

TEST(bandwidth_average_and_peak)
{
    cmaf_index_entry_t e[3] = {
        {.start = 0, .duration = 1000, .offset = 100, .size = 1000},
        {.start = 1000, .duration = 1000, .offset = 1100, .size = 3000},
        {.start = 2000, .duration = 3, .offset = 4100, .size = 1},
    };
    cmaf_index_t ix = {.timescale = 1000, .nentries = 2, .entries = e};
    uint64_t avg = 1, peak = 1;

    cmaf_index_bandwidth(&ix, &avg, &peak);
    CHECK_INT(avg, 16000); /* 4000 bytes * 8 over 2 s */
    CHECK_INT(peak, 24000);
    ix.nentries = 3; /* 8 bits over 3 ms: 2666.67 bits/s, rounded up */
    cmaf_index_bandwidth(&ix, &avg, &peak);
    CHECK_INT(avg, (4001 * 8 * 1000 + 2002) / 2003);
    CHECK_INT(peak, 24000);
    e[2].size = 3; /* 24 bits over 3 ms: exactly 8000 */
    cmaf_index_bandwidth(&ix, &avg, &peak);
    CHECK_INT(peak, 24000);
    e[0].size = UINT32_MAX; /* 2^32 bytes * 8 * 2^32 / 1: saturates */
    e[0].duration = 1;
    ix.timescale = UINT32_MAX;
    cmaf_index_bandwidth(&ix, &avg, &peak);
    CHECK(peak == UINT64_MAX);
    CHECK(avg < UINT64_MAX && avg > 0);
    ix.nentries = 0;
    cmaf_index_bandwidth(&ix, &avg, &peak);
    CHECK_INT(avg, 0);
    CHECK_INT(peak, 0);
}

/* ---- real codecs: ffmpeg makes them, libavformat demuxes them, the
 * writer packages them, ffmpeg must decode the result ---- */

/* Runs a shell command in dir; returns its exit status. */
static int
run(const char *cmd)
{
    char full[4096];
    snprintf(full, sizeof(full), "cd '%s' && %s", dir, cmd);
    int rc = system(full);
    if (rc != 0)
        printf("# command failed (%d): %s\n", rc, cmd);
    return rc;
}

/* Runs a command in dir and returns its output (stdout and stderr),
 * malloc'd; *status gets the exit status. */
static char *
run_output(const char *cmd, int *status)
{
    char full[4096];
    buf_t out;
    char chunk[4096];
    size_t k;
    FILE *p;

    snprintf(full, sizeof(full), "cd '%s' && %s 2>&1", dir, cmd);
    buf_init(&out, 64 << 20);
    buf_append(&out, "", 0);
    p = popen(full, "r");
    if (p == NULL) {
        *status = -1;
        return out.data;
    }
    while ((k = fread(chunk, 1, sizeof(chunk), p)) > 0)
        buf_append(&out, chunk, k);
    *status = pclose(p);
    return out.data;
}

/*
 * Demuxes the first stream of type from src and writes it as a CMAF track.
 * Video is cut before every keyframe, audio every 47 frames (about 1 s at
 * 48 kHz). Audio timestamps are moved so that the first is 0 (the AAC
 * encoder's priming starts before it in the source). Returns the number of
 * samples written, or -1; *neg_cto gets the largest negative composition
 * offset written, as a positive number (0 when there is none).
 */
static long
package(const char *src, enum AVMediaType type, const char *track, const char *index,
        int64_t *neg_cto)
{
    AVFormatContext *fmt = NULL;
    AVPacket *pkt = av_packet_alloc();
    cmaf_writer_t *w = NULL;
    cmaf_track_t t = {0};
    char err[256] = "";
    long n = -1, written = 0;
    int64_t shift = 0, delay = 0;
    bool first = true;
    int si;

    if (pkt == NULL || avformat_open_input(&fmt, path_of(src), NULL, NULL) < 0 ||
        avformat_find_stream_info(fmt, NULL) < 0)
        goto done;
    si = av_find_best_stream(fmt, type, -1, -1, NULL, 0);
    if (si < 0)
        goto done;
    AVStream *st = fmt->streams[si];
    AVCodecParameters *cp = st->codecpar;
    CHECK_INT(st->time_base.num, 1);
    t.kind = type == AVMEDIA_TYPE_VIDEO ? CMAF_VIDEO : CMAF_AUDIO;
    t.timescale = (uint32_t)st->time_base.den;
    memcpy(t.fourcc, type == AVMEDIA_TYPE_VIDEO ? "avc1" : "mp4a", 5);
    t.config = cp->extradata;
    t.config_len = (size_t)cp->extradata_size;
    memcpy(t.language, "und", 4);
    t.width = cp->width;
    t.height = cp->height;
    t.channels = cp->ch_layout.nb_channels;
    t.sample_rate = cp->sample_rate;
    t.avg_bitrate = (uint32_t)cp->bit_rate;
    if (cmaf_writer_open(path_of(track), path_of(index), &t, &w, err, sizeof(err)) != SV_OK) {
        printf("# open: %s\n", err);
        goto done;
    }
    while (av_read_frame(fmt, pkt) >= 0) {
        if (pkt->stream_index == si) {
            cmaf_sample_t s = {.dts = pkt->dts,
                               .pts = pkt->pts,
                               .duration = (uint32_t)pkt->duration,
                               .keyframe = (pkt->flags & AV_PKT_FLAG_KEY) != 0,
                               .data = pkt->data,
                               .size = (size_t)pkt->size};
            if (first && t.kind == CMAF_AUDIO)
                shift = pkt->pts;
            s.dts -= shift;
            s.pts -= shift;
            if (first)
                delay = s.pts - s.dts;
            first = false;
            if (s.dts + delay - s.pts > *neg_cto)
                *neg_cto = s.dts + delay - s.pts;
            bool cut = t.kind == CMAF_VIDEO ? s.keyframe : written % 47 == 0;
            if (cut && cmaf_writer_cut(w, err, sizeof(err)) != SV_OK) {
                printf("# cut: %s\n", err);
                av_packet_unref(pkt);
                goto done;
            }
            if (cmaf_writer_add(w, &s) != SV_OK) {
                printf("# add: packet dts %" PRId64 " refused\n", s.dts);
                av_packet_unref(pkt);
                goto done;
            }
            written++;
        }
        av_packet_unref(pkt);
    }
    if (cmaf_writer_finish(w, err, sizeof(err)) != SV_OK) {
        printf("# finish: %s\n", err);
        w = NULL;
        goto done;
    }
    w = NULL;
    n = written;
done:
    cmaf_writer_abort(w);
    av_packet_free(&pkt);
    avformat_close_input(&fmt);
    return n;
}

/* The md5 column of ffmpeg's framemd5 output, one line per frame. */
static char *
frame_hashes(const char *input, const char *opts)
{
    char cmd[1024];
    int status;
    snprintf(cmd, sizeof(cmd),
             "ffmpeg -nostdin -v error -i %s %s -f framemd5 - | grep -v '^#' | "
             "awk -F', *' '{print $6}'",
             input, opts);
    char *out = run_output(cmd, &status);
    CHECK_INT(status, 0);
    return out;
}

/* The pts of the decoded frames of input, in its stream time base, in
 * presentation order; returns how many (at most cap). */
static size_t
frame_pts(const char *input, int64_t *pts, size_t cap)
{
    char cmd[512];
    int status;
    size_t n = 0;
    snprintf(cmd, sizeof(cmd),
             "ffprobe -v error -select_streams v -show_entries frame=pts -of csv=p=0 %s",
             input);
    char *out = run_output(cmd, &status);
    CHECK_INT(status, 0);
    for (char *line = out; *line != '\0' && n < cap;) {
        /* frames with side data add lines without a pts */
        if ((*line >= '0' && *line <= '9') || *line == '-')
            pts[n++] = strtoll(line, NULL, 10);
        line = strchr(line, '\n');
        if (line == NULL)
            break;
        line++;
    }
    free(out);
    return n;
}

/* Checks the index of a packaged track against the file and its fragments. */
static void
check_index_matches(const char *track, const char *index, long samples)
{
    cmaf_index_t ix = {0};
    char err[256] = "";
    size_t len = 0, count = 0;
    uint8_t *f = slurp(path_of(track), &len);
    CHECK_INT(cmaf_index_load(path_of(index), &ix, err, sizeof(err)), SV_OK);
    CHECK(ix.complete);
    CHECK(ix.nentries > 1);
    if (f != NULL) {
        span_t file = {f, len};
        for (size_t i = 0; i < ix.nentries; i++) {
            frag_t fr;
            read_fragment(file, (int)i, &fr);
            CHECK_INT(ix.entries[i].offset, fr.moof_off);
            CHECK_INT(ix.entries[i].start, fr.tfdt);
            count += fr.count;
        }
        CHECK_INT(ix.entries[ix.nentries - 1].offset + ix.entries[ix.nentries - 1].size, len);
    }
    CHECK_INT(count, samples);
    cmaf_index_free(&ix);
    free(f);
}

TEST(h264_round_trip_decodes_to_the_same_frames)
{
    int status;
    char *out;
    /* B-frames (so composition offsets are negative and positive), a
     * closed GOP of 25 frames, no scene cuts: 4 fragments of 1 s. */
    CHECK_INT(run("ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=size=320x240:rate=25 -t 4 "
                  "-c:v libx264 -preset veryfast -bf 2 -g 25 -keyint_min 25 -sc_threshold 0 "
                  "-pix_fmt yuv420p src_v.mp4"),
              0);
    int64_t neg_cto = 0;
    long n = package("src_v.mp4", AVMEDIA_TYPE_VIDEO, "h264.mp4", "h264.idx", &neg_cto);
    CHECK_INT(n, 100);
    check_index_matches("h264.mp4", "h264.idx", n);

    out = run_output("ffprobe -v error -show_entries stream=codec_name,width,height "
                     "-show_entries format=duration -of default=nw=1 h264.mp4",
                     &status);
    CHECK_INT(status, 0);
    CHECK(strstr(out, "codec_name=h264\nwidth=320\nheight=240\n") != NULL);
    CHECK(strstr(out, "duration=4.0") != NULL);
    if (strstr(out, "duration=4.0") == NULL)
        printf("# ffprobe: %s\n", out);
    free(out);
    out = run_output("ffmpeg -nostdin -v error -i h264.mp4 -f null -", &status);
    CHECK_INT(status, 0);
    CHECK_STR(out, "");
    free(out);
    out = run_output("ffprobe -v error -select_streams v -show_packets -of csv h264.mp4 | "
                     "grep -c '^packet'",
                     &status);
    CHECK_INT(strtol(out, NULL, 10), n);
    free(out);
    /* The same frames come out in the same order. */
    char *a = frame_hashes("src_v.mp4", "-map 0:v");
    char *b = frame_hashes("h264.mp4", "-map 0:v");
    CHECK(strlen(a) > 100 * 32);
    CHECK(strcmp(a, b) == 0);
    free(a);
    free(b);
    /* At the same presentation times. Without an edit list, libavformat
     * adds the largest negative composition offset to every pts (it keeps
     * pts >= dts), where 14496-12 and players take tfdt + offset: so the
     * track's times are the source's plus exactly that shift. */
    int64_t src_pts[128], cmaf_pts[128];
    size_t ns = frame_pts("src_v.mp4", src_pts, 128), nc = frame_pts("h264.mp4", cmaf_pts, 128);
    CHECK_INT(ns, 100);
    CHECK_INT(nc, ns);
    CHECK(neg_cto > 0);
    for (size_t i = 0; i < ns && i < nc; i++)
        if (cmaf_pts[i] != src_pts[i] + neg_cto) {
            CHECK_INT(cmaf_pts[i], src_pts[i] + neg_cto);
            break;
        }
}

TEST(aac_round_trip_decodes_with_the_same_packets)
{
    int status;
    char *out;
    CHECK_INT(run("ffmpeg -nostdin -v error -y -f lavfi "
                  "-i sine=frequency=440:sample_rate=48000:duration=3 -ac 2 -c:a aac "
                  "-b:a 128k src_a.mp4"),
              0);
    int64_t neg_cto = 0;
    long n = package("src_a.mp4", AVMEDIA_TYPE_AUDIO, "aac.mp4", "aac.idx", &neg_cto);
    CHECK_INT(neg_cto, 0);
    CHECK(n > 140);
    check_index_matches("aac.mp4", "aac.idx", n);

    out = run_output("ffprobe -v error -show_entries stream=codec_name,sample_rate,channels "
                     "-of default=nw=1 aac.mp4",
                     &status);
    CHECK_INT(status, 0);
    CHECK(strstr(out, "codec_name=aac\nsample_rate=48000\nchannels=2\n") != NULL);
    free(out);
    out = run_output("ffmpeg -nostdin -v error -i aac.mp4 -f null -", &status);
    CHECK_INT(status, 0);
    CHECK_STR(out, "");
    free(out);
    out = run_output("ffprobe -v error -select_streams a -show_packets -of csv aac.mp4 | "
                     "grep -c '^packet'",
                     &status);
    CHECK_INT(strtol(out, NULL, 10), n);
    free(out);
    /* Packet bytes are carried unchanged (the source's first packets hold
     * the encoder priming its edit list hides; ours has none, so compare
     * packets, not decoded samples). */
    char *a = frame_hashes("src_a.mp4", "-map 0:a -c copy");
    char *b = frame_hashes("aac.mp4", "-map 0:a -c copy");
    CHECK(strlen(a) > (size_t)n * 32);
    CHECK(strcmp(a, b) == 0);
    free(a);
    free(b);
}

int
main(void)
{
    dir = tmpdir_make("cmaf");
    if (dir == NULL) {
        printf("Bail out! cannot make a temporary directory\n");
        return 1;
    }
    RUN(video_init_segment_boxes);
    RUN(video_square_pixels_full_range_no_optional_boxes);
    RUN(audio_init_segment_esds);
    RUN(audio_large_config_and_high_sample_rate);
    RUN(open_refuses_tracks_it_cannot_write);
    RUN(open_refuses_existing_files_and_leaves_nothing);
    RUN(video_fragments_with_signed_composition_offsets);
    RUN(audio_fragments_have_no_offsets_and_are_all_sync);
    RUN(add_refuses_bad_timing_and_queues_nothing);
    RUN(a_failed_write_is_reported_and_the_index_stays_whole);
    RUN(index_parse_refuses_each_broken_field);
    RUN(index_load_reports_missing_and_oversized_files);
    RUN(bandwidth_average_and_peak);
    RUN(h264_round_trip_decodes_to_the_same_frames);
    RUN(aac_round_trip_decodes_with_the_same_packets);
    if (getenv("CMAF_KEEP") == NULL)
        tmpdir_remove();
    return test_done();
}
