/*
 * test_bitstream.c: Annex B conversion, the bit reader, the avcC / hvcC /
 * av1C records and the codec strings.
 *
 * Hand-made vectors pin the edges (start codes, emulation prevention,
 * truncated codes, every kind of malformed record). Real encoders are the
 * oracles for the rest: the ffmpeg CLI encodes small clips with libx264,
 * libx265, libsvtav1, libaom and its own aac, as raw streams and as MP4,
 * and the records ffmpeg's MP4 muxer wrote (its own code, libavformat's
 * avc.c / hevc.c / av1.c) must be what we build from the raw stream, byte
 * for byte. ffmpeg's DASH muxer writes RFC 6381 strings for avc1, av01 and
 * mp4a: ours must agree with it. The test fails, loudly, without ffmpeg.
 */
#include "test.h"
#include "tmpdir.h"

/* The bit reader, the Annex B walker and the OBU reader are static. */
#include "media/bitstream.c"

#include <stdlib.h>
#include <strings.h>
#include <sys/wait.h>

/* ---- helpers ---- */

static const char *dir; /* this run's temporary directory */
static bool have_ffmpeg;

#define FFMPEG "SVT_LOG=1 ffmpeg -nostdin -hide_banner -loglevel error -y"

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Runs a shell command; returns its exit status (-1 if it did not exit). */
static int
sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    int n, st;

    va_start(ap, fmt);
    n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(cmd))
        return -1;
    st = system(cmd);
    if (st == -1 || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}

static bool ffmpeg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Runs ffmpeg with the arguments from fmt (its messages go to
 * dir/ffmpeg.log); false, with the log's tail printed, when it fails. */
static bool
ffmpeg(const char *fmt, ...)
{
    char args[2048];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    if (n > 0 && (size_t)n < sizeof(args) && sh(FFMPEG " %s 2>>%s/ffmpeg.log", args, dir) == 0)
        return true;
    printf("# ffmpeg %s: failed\n", args);
    sh("tail -n 5 %s/ffmpeg.log | sed 's/^/# /'", dir);
    return false;
}

static bool slurp(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Reads the file dir/NAME (NAME from fmt) into b, which it initialises
 * (the caller frees it, whatever the result). */
static bool
slurp(buf_t *b, const char *fmt, ...)
{
    char name[256], path[512], chunk[65536];
    va_list ap;
    FILE *f;
    size_t n;
    bool ok = true;

    buf_init(b, 64 << 20);
    va_start(ap, fmt);
    vsnprintf(name, sizeof(name), fmt, ap);
    va_end(ap);
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "rb");
    if (f == NULL) {
        printf("# cannot open %s\n", path);
        return false;
    }
    while (ok && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        ok = buf_append(b, chunk, n) == SV_OK;
    fclose(f);
    return ok;
}

static const uint8_t *
bytes(const buf_t *b)
{
    return (const uint8_t *)b->data;
}

/*
 * The body of the first box of this type, found by scanning for its fourcc
 * and reading the size in the 4 bytes before it. Files are written with
 * +faststart, so the sample entries in moov come before any media bytes.
 */
static bool
mp4_find(const buf_t *f, const char *type, const uint8_t **body, size_t *len)
{
    const uint8_t *d = bytes(f);
    for (size_t i = 4; i + 4 <= f->len; i++) {
        uint32_t size;
        if (memcmp(d + i, type, 4) != 0)
            continue;
        size = bs_be32(d + i - 4);
        if (size < 8 || size - 4 > f->len - i)
            continue;
        *body = d + i + 4;
        *len = size - 8;
        return true;
    }
    printf("# no %s box\n", type);
    return false;
}

/* The payload of the top-level mdat box (walking the top-level boxes). */
static bool
mp4_mdat(const buf_t *f, const uint8_t **body, size_t *len)
{
    const uint8_t *d = bytes(f);
    size_t p = 0;
    while (f->len - p >= 8) {
        uint32_t size = bs_be32(d + p);
        if (size < 8 || size > f->len - p)
            break;
        if (memcmp(d + p + 4, "mdat", 4) == 0) {
            *body = d + p + 8;
            *len = size - 8;
            return true;
        }
        p += size;
    }
    printf("# no mdat\n");
    return false;
}

static bool
same_bytes(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen, const char *what)
{
    if (alen == blen && memcmp(a, b, alen) == 0)
        return true;
    printf("# %s: %zu bytes vs %zu bytes", what, alen, blen);
    for (size_t i = 0; i < alen && i < blen; i++) {
        if (a[i] != b[i]) {
            printf(", first difference at byte %zu (%02X vs %02X)", i, a[i], b[i]);
            break;
        }
    }
    printf("\n");
    return false;
}

typedef struct {
    const uint8_t *p;
    size_t len;
} span_t;

/*
 * Splits an Annex B stream byte by byte, independently of the code under
 * test: the units between start codes, without trailing zero bytes.
 */
static size_t
split_annexb(const uint8_t *d, size_t len, span_t *u, size_t max)
{
    size_t n = 0, i = 0, start = SIZE_MAX, e;

    for (;;) {
        bool at_code = i + 3 <= len && d[i] == 0 && d[i + 1] == 0 && d[i + 2] == 1;
        if (at_code || i >= len) {
            if (start != SIZE_MAX && n < max) {
                e = at_code ? i : len;
                while (e > start && d[e - 1] == 0)
                    e--;
                u[n].p = d + start;
                u[n].len = e - start;
                n++;
            }
            if (!at_code)
                break;
            start = i + 3;
            i += 3;
        } else {
            i++;
        }
    }
    return n;
}

/* Annex B (4-byte start codes) of the units before the first slice whose
 * NAL unit type is one of types. */
static void
annexb_params(const span_t *u, size_t n, bool hevc, const unsigned *types, size_t ntypes,
              buf_t *out)
{
    static const uint8_t sc[4] = {0, 0, 0, 1};
    for (size_t i = 0; i < n; i++) {
        unsigned t = hevc ? (u[i].p[0] >> 1) & 0x3f : u[i].p[0] & 0x1f;
        if (hevc ? t < 32 : (t >= 1 && t <= 5))
            break; /* a slice */
        for (size_t k = 0; k < ntypes; k++) {
            if (types[k] == t) {
                buf_append(out, sc, 4);
                buf_append(out, u[i].p, u[i].len);
            }
        }
    }
}

/* The @codecs ffmpeg's DASH muxer writes for dir/name (one stream). */
static bool
dash_codecs(const char *name, char *out, size_t cap)
{
    buf_t m;
    const char *p, *q;
    bool ok = false;

    if (sh("mkdir -p %s/dash_%s", dir, name) != 0 ||
        !ffmpeg("-i %s/%s -c copy -f dash %s/dash_%s/manifest.mpd", dir, name, dir, name))
        return false;
    if (!slurp(&m, "dash_%s/manifest.mpd", name)) {
        buf_free(&m);
        return false;
    }
    p = strstr(m.data, "codecs=\"");
    if (p != NULL) {
        p += 8;
        q = strchr(p, '"');
        if (q != NULL && (size_t)(q - p) < cap) {
            memcpy(out, p, (size_t)(q - p));
            out[q - p] = '\0';
            ok = true;
        }
    }
    buf_free(&m);
    if (!ok)
        printf("# no codecs=\"...\" in the MPD of %s\n", name);
    return ok;
}

/* ---- Annex B ---- */

TEST(annexb_three_and_four_byte_start_codes_and_trailing_zeros)
{
    static const uint8_t in[] = {0, 0, 0, 1, 0x67, 0xAA, 0,    0,    1,    0x68, 0xBB,
                                 0, 0, 0, 1, 0x65, 0xCC, 0xDD, 0x00, 0x00, 0x00};
    static const uint8_t want[] = {0,    0,    0, 2, 0x67, 0xAA, 0,    0,    0,   2,
                                   0x68, 0xBB, 0, 0, 0,    3,    0x65, 0xCC, 0xDD};
    buf_t b;
    buf_init(&b, 1024);
    CHECK_INT(bitstream_annexb_to_mp4(in, sizeof(in), &b), SV_OK);
    CHECK(same_bytes(bytes(&b), b.len, want, sizeof(want), "converted"));
    buf_free(&b);
}

TEST(annexb_leading_zeros_and_emulation_prevention_kept)
{
    /* leading_zero_8bits before the first start code; 00 00 03 is part of
     * the unit (the converter does not unescape) */
    static const uint8_t in[] = {0, 0, 0, 0, 0, 1, 0x65, 0x00, 0x00, 0x03, 0x01};
    static const uint8_t want[] = {0, 0, 0, 5, 0x65, 0x00, 0x00, 0x03, 0x01};
    buf_t b;
    buf_init(&b, 1024);
    CHECK_INT(bitstream_annexb_to_mp4(in, sizeof(in), &b), SV_OK);
    CHECK(same_bytes(bytes(&b), b.len, want, sizeof(want), "converted"));
    buf_free(&b);
}

TEST(annexb_malformed_input_is_rejected_and_out_left_alone)
{
    static const struct {
        const char *what;
        uint8_t in[8];
        size_t len;
    } bad[] = {
        {"empty input", {0}, 0},
        {"no start code", {0x67, 0xAA}, 2},
        {"bytes before the start code", {0x01, 0, 0, 1, 0x67}, 5},
        {"one zero is no start code", {0, 1, 0x67}, 3},
        {"start code alone", {0, 0, 1}, 3},
        {"two start codes in a row", {0, 0, 1, 0, 0, 1, 0x67}, 7},
        {"start code ending the input", {0, 0, 1, 0x67, 0, 0, 1}, 7},
        {"a unit of zero bytes", {0, 0, 1, 0, 0, 0}, 6},
    };
    buf_t b;

    buf_init(&b, 1024);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        buf_reset(&b);
        buf_append(&b, "keep", 4);
        if (bitstream_annexb_to_mp4(bad[i].in, bad[i].len, &b) != SV_BAD_DATA) {
            printf("# %s: accepted\n", bad[i].what);
            CHECK(0);
        }
        CHECK_INT(b.len, 4);
        CHECK_STR(b.data, "keep");
    }
    CHECK_INT(bitstream_annexb_to_mp4(NULL, 0, &b), SV_BAD_DATA);
    buf_free(&b);
}

TEST(annexb_appends_and_respects_the_ceiling)
{
    static const uint8_t in[] = {0, 0, 1, 0x09, 0xF0, 0, 0, 1, 0x67, 0x42};
    buf_t b;

    buf_init(&b, 1024);
    buf_append(&b, "xy", 2);
    CHECK_INT(bitstream_annexb_to_mp4(in, sizeof(in), &b), SV_OK);
    CHECK_INT(b.len, 2 + 6 + 6);
    CHECK(memcmp(b.data, "xy\0\0\0\2\x09\xF0", 8) == 0);
    buf_free(&b);

    buf_init(&b, 8); /* room for the first unit only */
    CHECK_INT(bitstream_annexb_to_mp4(in, sizeof(in), &b), SV_TOO_BIG);
    CHECK_INT(b.len, 0);
    buf_free(&b);
}

TEST(is_annexb)
{
    CHECK(bitstream_is_annexb((const uint8_t *)"\0\0\1\x67", 4));
    CHECK(bitstream_is_annexb((const uint8_t *)"\0\0\0\1\x67", 5));
    CHECK(bitstream_is_annexb((const uint8_t *)"\0\0\1", 3));
    CHECK(!bitstream_is_annexb((const uint8_t *)"\0\0\0\1", 3));
    CHECK(!bitstream_is_annexb((const uint8_t *)"\0\0\0\0\1", 5));
    CHECK(!bitstream_is_annexb((const uint8_t *)"\1\x64\0\x1f", 4)); /* an avcC */
    CHECK(!bitstream_is_annexb((const uint8_t *)"\0\0", 2));
    CHECK(!bitstream_is_annexb(NULL, 0));
}

/* ---- bit reader ---- */

TEST(bitreader_ue_and_se)
{
    /* ue codes for 0..8: 1 010 011 00100 00101 00110 00111 0001000 0001001,
     * then a 1 and zeros to the end of the byte. */
    static const uint8_t in[] = {0xA6, 0x42, 0x98, 0xE2, 0x04, 0xC0};
    static const int32_t se[] = {0, 1, -1, 2, -2, 3, -3, 4, -4};
    bitreader_t br;

    br_init(&br, in, sizeof(in), false);
    for (uint32_t v = 0; v <= 8; v++)
        CHECK_INT(br_ue(&br), v);
    CHECK(!br.bad);
    br_init(&br, in, sizeof(in), false);
    for (size_t i = 0; i < 9; i++)
        CHECK_INT(br_se(&br), se[i]);
    CHECK(!br.bad);
}

TEST(bitreader_ue_limits)
{
    /* 31 zeros, 1, 31 ones: 2^32 - 2, the largest ue(v) there is */
    static const uint8_t max[] = {0x00, 0x00, 0x00, 0x01, 0xFF, 0xFF, 0xFF, 0xFE};
    /* 32 zeros then a 1: longer than any ue(v) */
    static const uint8_t over[] = {0x00, 0x00, 0x00, 0x00, 0x80, 0xFF, 0xFF, 0xFF, 0xFF};
    bitreader_t br;

    br_init(&br, max, sizeof(max), false);
    CHECK_INT(br_ue(&br), 4294967294u);
    CHECK(!br.bad);
    br_init(&br, max, sizeof(max), false);
    CHECK_INT(br_se(&br), -2147483647);
    CHECK(!br.bad);
    br_init(&br, over, sizeof(over), false);
    CHECK_INT(br_ue(&br), 0);
    CHECK(br.bad);
}

TEST(bitreader_truncated_codes_are_errors)
{
    static const uint8_t zero[] = {0x00};
    static const uint8_t half[] = {0x01}; /* 7 zeros, the 1, then 7 bits missing */
    static const uint8_t one[] = {0xAB};
    bitreader_t br;

    br_init(&br, zero, sizeof(zero), false);
    (void)br_ue(&br);
    CHECK(br.bad);
    br_init(&br, half, sizeof(half), false);
    (void)br_ue(&br);
    CHECK(br.bad);
    br_init(&br, one, sizeof(one), false);
    CHECK_INT(br_u(&br, 8), 0xAB);
    CHECK(!br.bad); /* reading exactly to the end is fine */
    CHECK_INT(br_u(&br, 1), 0);
    CHECK(br.bad);
    CHECK_INT(br_u(&br, 32), 0); /* sticky: nothing more comes out */
    CHECK(br.p == one + 1);
    br_init(&br, NULL, 0, true);
    CHECK_INT(br_u(&br, 1), 0);
    CHECK(br.bad);
}

TEST(bitreader_skips_emulation_prevention)
{
    static const uint8_t a[] = {0x00, 0x00, 0x03, 0x01};
    static const uint8_t two[] = {0x00, 0x00, 0x03, 0x00, 0x00, 0x03, 0xFF};
    static const uint8_t lone[] = {0x00, 0x03, 0x00, 0x00, 0x03};
    bitreader_t br;

    br_init(&br, a, sizeof(a), true);
    CHECK_INT(br_u(&br, 24), 0x000001);
    CHECK(!br.bad);
    CHECK_INT(br_u(&br, 1), 0);
    CHECK(br.bad);
    br_init(&br, a, sizeof(a), false); /* without epb the 03 is data */
    CHECK_INT(br_u(&br, 32), 0x00000301);
    CHECK(!br.bad);

    /* two in a row, read across byte boundaries */
    br_init(&br, two, sizeof(two), true);
    CHECK_INT(br_u(&br, 4), 0);
    CHECK_INT(br_u(&br, 24), 0);
    CHECK_INT(br_u(&br, 12), 0x0FF);
    CHECK(!br.bad);

    /* 00 03 is not an escape; 00 00 03 at the very end leaves nothing */
    br_init(&br, lone, sizeof(lone), true);
    CHECK_INT(br_u(&br, 16), 0x0003);
    CHECK_INT(br_u(&br, 16), 0x0000);
    CHECK(!br.bad);
    CHECK_INT(br_u(&br, 1), 0);
    CHECK(br.bad);
}

TEST(bitreader_uvlc)
{
    static const uint8_t small[] = {0xA7};              /* 1 -> 0, 010 -> 1, 0111 ... */
    static const uint8_t six[] = {0x38};                /* 00111 -> 6 */
    static const uint8_t big[] = {0, 0, 0, 0, 0, 0x80}; /* 40 zeros, then 1 */
    bitreader_t br;

    br_init(&br, small, sizeof(small), false);
    CHECK_INT(br_uvlc(&br), 0);
    CHECK_INT(br_uvlc(&br), 1);
    br_init(&br, six, sizeof(six), false);
    CHECK_INT(br_uvlc(&br), 6);
    CHECK(!br.bad);
    br_init(&br, big, sizeof(big), false);
    CHECK_INT(br_uvlc(&br), UINT32_MAX);
    CHECK(!br.bad);
    br_init(&br, big, 5, false); /* no 1 before the end */
    (void)br_uvlc(&br);
    CHECK(br.bad);
}

TEST(leb128)
{
    static const struct {
        uint8_t in[9];
        size_t len;
        int rc;
        uint64_t v;
    } t[] = {
        {{0x05}, 1, SV_OK, 5},
        {{0x80, 0x01}, 2, SV_OK, 128},
        {{0x85, 0x00}, 2, SV_OK, 5}, /* not minimal, still valid */
        {{0xFF, 0xFF, 0xFF, 0xFF, 0x0F}, 5, SV_OK, 0xFFFFFFFFu},
        {{0x80, 0x80, 0x80, 0x80, 0x10}, 5, SV_BAD_DATA, 0}, /* 2^32 */
        {{0x80}, 1, SV_BAD_DATA, 0},                         /* truncated */
        {{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, 9, SV_BAD_DATA, 0},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        const uint8_t *p = t[i].in;
        uint64_t v = 0;
        CHECK_INT(av1_leb128(&p, t[i].in + t[i].len, &v), t[i].rc);
        if (t[i].rc == SV_OK) {
            CHECK_INT(v, t[i].v);
            CHECK(p == t[i].in + t[i].len);
        }
    }
}

/* ---- records from hand-made input ---- */

/* A real x264 SPS/PPS (High, level 3.1, 320x240) and the avcC ffmpeg wrote for it. */
static const uint8_t x264_sps[] = {0x67, 0x64, 0x00, 0x1f, 0xac, 0xd9, 0x41, 0x41, 0xfb,
                                   0x01, 0x10, 0x00, 0x00, 0x03, 0x00, 0x10, 0x00, 0x00,
                                   0x03, 0x03, 0x20, 0xf1, 0x83, 0x19, 0x60};
static const uint8_t x264_pps[] = {0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0};
static const uint8_t x264_avcc[] = {0x01, 0x64, 0x00, 0x1f, 0xff, 0xe1, 0x00, 0x19, 0x67, 0x64,
                                    0x00, 0x1f, 0xac, 0xd9, 0x41, 0x41, 0xfb, 0x01, 0x10, 0x00,
                                    0x00, 0x03, 0x00, 0x10, 0x00, 0x00, 0x03, 0x03, 0x20, 0xf1,
                                    0x83, 0x19, 0x60, 0x01, 0x00, 0x06, 0x68, 0xeb, 0xe3, 0xcb,
                                    0x22, 0xc0, 0xfd, 0xf8, 0xf8, 0x00};

static void
annexb_cat(buf_t *b, const uint8_t *nal, size_t len)
{
    buf_append(b, "\0\0\0\1", 4);
    buf_append(b, nal, len);
}

TEST(avcc_from_hand_made_parameter_sets)
{
    buf_t in, out;
    char err[128], s[48];

    buf_init(&in, 4096);
    buf_init(&out, 4096);
    /* an AUD and an SEI around them are ignored; the repeated SPS is kept once */
    annexb_cat(&in, (const uint8_t *)"\x09\xf0", 2);
    annexb_cat(&in, x264_sps, sizeof(x264_sps));
    annexb_cat(&in, (const uint8_t *)"\x06\x05\x01\x00\x80", 5);
    annexb_cat(&in, x264_pps, sizeof(x264_pps));
    annexb_cat(&in, x264_sps, sizeof(x264_sps));
    CHECK_INT(bitstream_avcc(bytes(&in), in.len, &out, err, sizeof(err)), SV_OK);
    CHECK(same_bytes(bytes(&out), out.len, x264_avcc, sizeof(x264_avcc), "avcC"));
    CHECK_INT(bitstream_codec_string_avc(bytes(&out), out.len, s, sizeof(s)), SV_OK);
    CHECK_STR(s, "avc1.64001F");
    CHECK_INT(bitstream_codec_string_avc(bytes(&out), out.len, s, 11), SV_TOO_BIG);
    CHECK_INT(bitstream_codec_string_avc(bytes(&out), out.len, s, 12), SV_OK);

    /* an avcC is validated and copied */
    buf_reset(&out);
    CHECK_INT(bitstream_avcc(x264_avcc, sizeof(x264_avcc), &out, err, sizeof(err)), SV_OK);
    CHECK(same_bytes(bytes(&out), out.len, x264_avcc, sizeof(x264_avcc), "copied avcC"));
    /* ... also without the High tail, as old muxers wrote it */
    CHECK_INT(bitstream_avcc(x264_avcc, sizeof(x264_avcc) - 4, &out, err, sizeof(err)), SV_OK);
    CHECK_INT(out.len, sizeof(x264_avcc) - 4);
    buf_free(&in);
    buf_free(&out);
}

/* Runs f on in and expects SV_BAD_DATA with err containing want, out untouched. */
static void
expect_bad(int (*f)(const uint8_t *, size_t, buf_t *, char *, size_t), const uint8_t *in,
           size_t len, const char *want)
{
    buf_t out;
    char err[128] = "";
    int rc;

    buf_init(&out, 4096);
    buf_append(&out, "keep", 4);
    rc = f(in, len, &out, err, sizeof(err));
    if (rc != SV_BAD_DATA || strstr(err, want) == NULL) {
        printf("# expected SV_BAD_DATA with \"%s\", got %d \"%s\"\n", want, rc, err);
        test_cur_failed = 1;
    }
    CHECK_STR(out.data, "keep");
    /* and with no room for a reason */
    CHECK_INT(f(in, len, &out, NULL, 0), SV_BAD_DATA);
    buf_free(&out);
}

TEST(avcc_malformed_input)
{
    buf_t a;
    uint8_t rec[sizeof(x264_avcc) + 1];

    expect_bad(bitstream_avcc, NULL, 0, "empty input");
    expect_bad(bitstream_avcc, (const uint8_t *)"\x67\x64", 2, "no start code");
    expect_bad(bitstream_avcc, (const uint8_t *)"\0\0\1\x68\xeb\xe3", 6, "no SPS");
    expect_bad(bitstream_avcc, (const uint8_t *)"\0\0\1\x67\x64\0\x1f\xac", 8, "no PPS");
    expect_bad(bitstream_avcc, (const uint8_t *)"\0\0\1\x67\x64\0\0\0\1\x68\xeb", 11,
               "SPS is truncated");
    expect_bad(bitstream_avcc, (const uint8_t *)"\0\0\1\xe7\x64\0\x1f\xac", 8,
               "forbidden_zero_bit");
    expect_bad(bitstream_avcc, (const uint8_t *)"\0\0\1\0\0\1\x67", 7, "empty NAL unit");
    /* 32 different SPS */
    buf_init(&a, 4096);
    for (int i = 0; i < 32; i++) {
        uint8_t sps[6] = {0x67, 0x42, 0xc0, 0x1e, (uint8_t)(0x80 | i), 0x80};
        annexb_cat(&a, sps, sizeof(sps));
    }
    annexb_cat(&a, x264_pps, sizeof(x264_pps));
    expect_bad(bitstream_avcc, bytes(&a), a.len, "at most 31");
    buf_free(&a);

    /* records */
    expect_bad(bitstream_avcc, x264_avcc, 6, "at least 7");
    memcpy(rec, x264_avcc, sizeof(x264_avcc));
    rec[4] = 0xFE; /* lengthSizeMinusOne 2 */
    expect_bad(bitstream_avcc, rec, sizeof(x264_avcc), "lengthSizeMinusOne 2");
    memcpy(rec, x264_avcc, sizeof(x264_avcc));
    rec[7] = 0x40; /* SPS length 64: past the end */
    expect_bad(bitstream_avcc, rec, sizeof(x264_avcc), "goes past the end");
    memcpy(rec, x264_avcc, sizeof(x264_avcc));
    rec[8] = 0x68; /* the SPS slot holds a PPS */
    expect_bad(bitstream_avcc, rec, sizeof(x264_avcc), "NAL unit type 8");
    expect_bad(bitstream_avcc, x264_avcc, sizeof(x264_avcc) - 2, "chroma_format");
    expect_bad(bitstream_avcc, x264_avcc, 33, "before numOfPictureParameterSets");
    memcpy(rec, x264_avcc, sizeof(x264_avcc));
    rec[sizeof(x264_avcc)] = 0;
    expect_bad(bitstream_avcc, rec, sizeof(rec), "after the avcC record");
    CHECK_INT(bitstream_codec_string_avc(rec, sizeof(rec), (char[48]){0}, 48), SV_BAD_DATA);
}

/* A real x265 (Main, level 3.1, 320x240) VPS, SPS and PPS. */
static const uint8_t x265_vps[] = {0x40, 0x01, 0x0c, 0x01, 0xff, 0xff, 0x01, 0x60,
                                   0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00, 0x03,
                                   0x00, 0x00, 0x03, 0x00, 0x5d, 0x95, 0x98, 0x09};
static const uint8_t x265_sps[] = {
    0x42, 0x01, 0x01, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00, 0x03, 0x00,
    0x00, 0x03, 0x00, 0x5d, 0xa0, 0x0a, 0x08, 0x0f, 0x16, 0x59, 0x59, 0xa4, 0x93, 0x2b,
    0xc0, 0x5a, 0x02, 0x00, 0x00, 0x03, 0x00, 0x02, 0x00, 0x00, 0x03, 0x00, 0x32, 0x10};
static const uint8_t x265_pps[] = {0x44, 0x01, 0xc1, 0x72, 0xb4, 0x62, 0x40};

TEST(hvcc_from_hand_made_parameter_sets)
{
    buf_t in, out, again;
    char err[128], s[48];
    static const uint8_t head[] = {0x01, 0x01, 0x60, 0x00, 0x00, 0x00, 0x90, 0x00,
                                   0x00, 0x00, 0x00, 0x00, 0x5d, 0xf0, 0x00, 0xfc,
                                   0xfd, 0xf8, 0xf8, 0x00, 0x00, 0x0f, 0x04};

    buf_init(&in, 4096);
    buf_init(&out, 4096);
    buf_init(&again, 4096);
    annexb_cat(&in, (const uint8_t *)"\x46\x01\x10", 3); /* an AUD: ignored */
    annexb_cat(&in, x265_vps, sizeof(x265_vps));
    annexb_cat(&in, x265_sps, sizeof(x265_sps));
    annexb_cat(&in, x265_pps, sizeof(x265_pps));
    annexb_cat(&in, (const uint8_t *)"\x4e\x01\x05\x01\x00\x80", 6); /* prefix SEI */
    annexb_cat(&in, (const uint8_t *)"\x50\x01\x05\x01\x00\x80", 6); /* suffix SEI: ignored */
    CHECK_INT(bitstream_hvcc(bytes(&in), in.len, &out, err, sizeof(err)), SV_OK);
    CHECK(out.len == 23 + 3 + 2 + sizeof(x265_vps) + 3 + 2 + sizeof(x265_sps) + 3 + 2 +
                         sizeof(x265_pps) + 3 + 2 + 6);
    CHECK(same_bytes(bytes(&out), 23, head, sizeof(head), "hvcC header"));
    CHECK_INT(out.data[23], (char)0xa0);           /* complete, VPS */
    CHECK_INT(out.data[out.len - 11], (char)0x27); /* not complete, prefix SEI */
    CHECK_INT(bitstream_codec_string_hevc(bytes(&out), out.len, s, sizeof(s)), SV_OK);
    CHECK_STR(s, "hvc1.1.6.L93.90");
    /* copy */
    CHECK_INT(bitstream_hvcc(bytes(&out), out.len, &again, err, sizeof(err)), SV_OK);
    CHECK(same_bytes(bytes(&again), again.len, bytes(&out), out.len, "copied hvcC"));
    buf_free(&in);
    buf_free(&out);
    buf_free(&again);
}

TEST(hevc_codec_string_fields)
{
    uint8_t h[23] = {0x01, 0x00, 0,    0,    0,    0,    0,    0, 0, 0,    0,   0,
                     0,    0xf0, 0x00, 0xfc, 0xfd, 0xf8, 0xf8, 0, 0, 0x0f, 0x00};
    char s[48];

    /* profile space 1 (A), High tier, profile 4 (RExt), compat flag 4,
     * level 153, constraint bytes 98 08 00 00 04 00 */
    h[1] = 0x40 | 0x20 | 4;
    h[2] = 0x08;
    h[6] = 0x98;
    h[7] = 0x08;
    h[10] = 0x04;
    h[12] = 153;
    CHECK_INT(bitstream_codec_string_hevc(h, sizeof(h), s, sizeof(s)), SV_OK);
    CHECK_STR(s, "hvc1.A4.10.H153.98.8.0.0.4");
    /* no constraint flags at all: no constraint field */
    h[1] = 0x01;
    h[2] = 0x60;
    memset(h + 6, 0, 6);
    h[12] = 93;
    CHECK_INT(bitstream_codec_string_hevc(h, sizeof(h), s, sizeof(s)), SV_OK);
    CHECK_STR(s, "hvc1.1.6.L93");
    /* every flag: the longest string there is, and it fits in 48 */
    h[1] = 0xFF;
    memset(h + 2, 0xFF, 11);
    CHECK_INT(bitstream_codec_string_hevc(h, sizeof(h), s, sizeof(s)), SV_OK);
    CHECK_STR(s, "hvc1.C31.FFFFFFFF.H255.FF.FF.FF.FF.FF.FF");
    CHECK_INT(bitstream_codec_string_hevc(h, sizeof(h), s, strlen(s)), SV_TOO_BIG);
    CHECK_INT(bitstream_codec_string_hevc(h, 22, s, sizeof(s)), SV_BAD_DATA);
}

TEST(hvcc_malformed_input)
{
    buf_t a;
    uint8_t rec[64];

    expect_bad(bitstream_hvcc, NULL, 0, "empty input");
    buf_init(&a, 4096);
    annexb_cat(&a, x265_sps, sizeof(x265_sps));
    annexb_cat(&a, x265_pps, sizeof(x265_pps));
    expect_bad(bitstream_hvcc, bytes(&a), a.len, "no VPS");
    buf_reset(&a);
    annexb_cat(&a, x265_vps, sizeof(x265_vps));
    annexb_cat(&a, x265_pps, sizeof(x265_pps));
    expect_bad(bitstream_hvcc, bytes(&a), a.len, "no SPS");
    buf_reset(&a);
    annexb_cat(&a, x265_vps, sizeof(x265_vps));
    annexb_cat(&a, x265_sps, sizeof(x265_sps));
    expect_bad(bitstream_hvcc, bytes(&a), a.len, "no PPS");
    buf_reset(&a);
    annexb_cat(&a, x265_vps, sizeof(x265_vps));
    annexb_cat(&a, x265_sps, 20); /* cut inside profile_tier_level */
    annexb_cat(&a, x265_pps, sizeof(x265_pps));
    expect_bad(bitstream_hvcc, bytes(&a), a.len, "SPS is truncated");
    buf_reset(&a);
    annexb_cat(&a, (const uint8_t *)"\x40", 1);
    expect_bad(bitstream_hvcc, bytes(&a), a.len, "NAL unit of 1 byte");
    buf_free(&a);

    /* records: header, then one VPS array holding one 3-byte unit */
    memset(rec, 0, sizeof(rec));
    rec[0] = 1;
    rec[21] = 0x0f;
    rec[22] = 1;
    rec[23] = 0xa0;
    rec[25] = 1;
    rec[27] = 3;
    rec[28] = 0x40;
    rec[29] = 0x01;
    rec[30] = 0x0c;
    CHECK_INT(bitstream_hvcc(rec, 31, &a, NULL, 0), SV_OK);
    buf_free(&a);
    expect_bad(bitstream_hvcc, rec, 22, "at least 23");
    expect_bad(bitstream_hvcc, rec, 30, "goes past the end");
    expect_bad(bitstream_hvcc, rec, 32, "after the hvcC record");
    expect_bad(bitstream_hvcc, rec, 25, "inside the header of array 1");
    rec[28] = 0x42; /* an SPS in the VPS array */
    expect_bad(bitstream_hvcc, rec, 31, "NAL unit type 33");
    rec[28] = 0x40;
    rec[21] = 0x0e;
    expect_bad(bitstream_hvcc, rec, 31, "lengthSizeMinusOne 2");
    rec[21] = 0x0f;
    rec[0] = 0;
    expect_bad(bitstream_hvcc, rec, 31, "no start code"); /* 00 first: taken as Annex B */
    rec[0] = 2;
    expect_bad(bitstream_hvcc, rec, 31, "no start code");
}

/* The payload of the sequence header libsvtav1 writes for 320x240 8-bit. */
static const uint8_t svt_seq[] = {0x00, 0x00, 0x00, 0x04, 0x3c, 0xff,
                                  0xbc, 0xfb, 0xf9, 0x00, 0x40};

TEST(av1c_from_hand_made_obus)
{
    buf_t in, out;
    char err[128], s[48];
    static const uint8_t want[] = {0x81, 0x00, 0x0c, 0x00, 0x0a, 0x0b, 0x00, 0x00, 0x00,
                                   0x04, 0x3c, 0xff, 0xbc, 0xfb, 0xf9, 0x00, 0x40};

    buf_init(&in, 4096);
    buf_init(&out, 4096);
    /* a temporal delimiter, then the sequence header with obu_size */
    buf_append(&in, "\x12\x00\x0a\x0b", 4);
    buf_append(&in, svt_seq, sizeof(svt_seq));
    CHECK_INT(bitstream_av1c(bytes(&in), in.len, &out, err, sizeof(err)), SV_OK);
    CHECK(same_bytes(bytes(&out), out.len, want, sizeof(want), "av1C"));
    CHECK_INT(bitstream_codec_string_av1(bytes(&out), out.len, s, sizeof(s)), SV_OK);
    CHECK_STR(s, "av01.0.00M.08");

    /* the same without obu_size: the av1C gets one */
    buf_reset(&in);
    buf_append(&in, "\x08", 1);
    buf_append(&in, svt_seq, sizeof(svt_seq));
    CHECK_INT(bitstream_av1c(bytes(&in), in.len, &out, err, sizeof(err)), SV_OK);
    CHECK(same_bytes(bytes(&out), out.len, want, sizeof(want), "av1C with obu_size added"));

    /* an av1C is copied; one without configOBUs too */
    CHECK_INT(bitstream_av1c(want, sizeof(want), &out, err, sizeof(err)), SV_OK);
    CHECK(same_bytes(bytes(&out), out.len, want, sizeof(want), "copied av1C"));
    CHECK_INT(bitstream_av1c(want, 4, &out, err, sizeof(err)), SV_OK);
    CHECK_INT(out.len, 4);
    CHECK_INT(bitstream_codec_string_av1(want, 4, s, sizeof(s)), SV_OK);
    CHECK_STR(s, "av01.0.00M.08");
    buf_free(&in);
    buf_free(&out);
}

TEST(av1_reduced_still_picture_monochrome_by_hand)
{
    /* seq_profile 0, still_picture 1, reduced_still_picture_header 1,
     * seq_level_idx 1; 8-bit width/height fields (63 x 31); no tools;
     * high_bitdepth 0, mono_chrome 1, no colour description, full range;
     * film grain 0, trailing bits. */
    static const uint8_t obu[] = {0x0a, 0x06, 0x18, 0x5d, 0xcf, 0xc7, 0xc0, 0x54};
    static const uint8_t want[] = {0x81, 0x01, 0x1c, 0x00};
    buf_t out;
    char err[128], s[48];
    av1_seq_t seq;

    CHECK_INT(av1_parse_seq(obu + 2, sizeof(obu) - 2, &seq, err, sizeof(err)), SV_OK);
    CHECK_INT(seq.level0, 1);
    CHECK_INT(seq.mono_chrome, 1);
    CHECK_INT(seq.color_range, 1);
    buf_init(&out, 4096);
    CHECK_INT(bitstream_av1c(obu, sizeof(obu), &out, err, sizeof(err)), SV_OK);
    CHECK(same_bytes(bytes(&out), 4, want, sizeof(want), "av1C header"));
    /* mono and full range differ from the defaults: the long form, with
     * "unspecified" colours */
    CHECK_INT(bitstream_codec_string_av1(bytes(&out), out.len, s, sizeof(s)), SV_OK);
    CHECK_STR(s, "av01.0.01M.08.1.110.02.02.02.1");
    buf_free(&out);
}

TEST(av1c_malformed_input)
{
    uint8_t rec[32];

    expect_bad(bitstream_av1c, NULL, 0, "empty input");
    expect_bad(bitstream_av1c, (const uint8_t *)"\x12\x00", 2, "no sequence header");
    expect_bad(bitstream_av1c, (const uint8_t *)"\x8a\x01\x00", 3, "obu_forbidden_bit");
    expect_bad(bitstream_av1c, (const uint8_t *)"\x0a\x0b\x00", 3, "goes past the end");
    expect_bad(bitstream_av1c, (const uint8_t *)"\x0a\x80", 2, "malformed obu_size");
    expect_bad(bitstream_av1c, (const uint8_t *)"\x0e", 1, "extension header past the end");
    expect_bad(bitstream_av1c, (const uint8_t *)"\x0a\x01\x00", 3, "truncated");
    expect_bad(bitstream_av1c, (const uint8_t *)"\x0a\x01\x60", 3, "seq_profile 3");
    /* every prefix of a real sequence header is truncated */
    for (size_t n = 0; n < sizeof(svt_seq) - 1; n++) {
        av1_seq_t seq;
        if (av1_parse_seq(svt_seq, n, &seq, NULL, 0) != SV_BAD_DATA) {
            printf("# a %zu-byte prefix parses\n", n);
            CHECK(0);
        }
    }
    /* records */
    expect_bad(bitstream_av1c, (const uint8_t *)"\x81\x00\x0c", 3, "at least 4");
    memcpy(rec, "\x81\x00\x0c\x00\x0a\x0b", 6);
    memcpy(rec + 6, svt_seq, sizeof(svt_seq));
    expect_bad(bitstream_av1c, rec, 16, "goes past the end");
    rec[5] = 0x05; /* a sequence header OBU cut short */
    expect_bad(bitstream_av1c, rec, 17, "truncated");
    CHECK_INT(bitstream_codec_string_av1(rec, 17, (char[48]){0}, 48), SV_BAD_DATA);
}

/* ---- hand-written headers, field by field ---- */

/* A bit writer for the headers below. */
typedef struct {
    uint8_t b[256];
    size_t bits;
} bw_t;

static void
bw_u(bw_t *w, unsigned n, uint64_t v)
{
    while (n-- > 0) {
        if ((v >> n) & 1)
            w->b[w->bits / 8] |= (uint8_t)(0x80 >> (w->bits % 8));
        w->bits++;
    }
}

/* ue(v) and uvlc() are the same code for values below 2^32 - 1. */
static void
bw_ue(bw_t *w, uint32_t v)
{
    uint64_t x = (uint64_t)v + 1;
    unsigned len = 0;
    while ((x >> len) > 1)
        len++;
    bw_u(w, len, 0);
    bw_u(w, len + 1, x);
}

static size_t
bw_trailing(bw_t *w)
{
    bw_u(w, 1, 1);
    while (w->bits % 8)
        bw_u(w, 1, 0);
    return w->bits / 8;
}

/* True when the bits from `from` on are trailing_bits(): a 1, then zeros. */
static bool
lands_on_trailing_bits(const uint8_t *p, size_t len, size_t from)
{
    if (from >= len * 8 || !((p[from / 8] >> (7 - from % 8)) & 1))
        return false;
    for (size_t i = from + 1; i < len * 8; i++)
        if ((p[i / 8] >> (7 - i % 8)) & 1)
            return false;
    return true;
}

/*
 * Every optional part of a sequence header at once: timing info with
 * equal_picture_interval (uvlc 12), a decoder model, two operating points
 * (the first at level 13, so with a tier bit, with operating parameters and
 * an initial display delay), frame ids, order hints, forced screen content
 * tools and integer mv, then Professional profile 12-bit 4:2:2 with a colour
 * description, full range, film grain.
 */
TEST(av1_sequence_header_with_every_optional_part)
{
    bw_t w = {{0}, 0};
    uint8_t obu[260];
    size_t n;
    av1_seq_t seq;
    buf_t out;
    char err[128] = "", s[48];
    static const uint8_t want[] = {0x81, 0x4d, 0xe8, 0x00};

    bw_u(&w, 3, 2);         /* seq_profile */
    bw_u(&w, 2, 0);         /* still_picture, reduced_still_picture_header */
    bw_u(&w, 1, 1);         /* timing_info_present_flag */
    bw_u(&w, 32, 1001);     /* num_units_in_display_tick */
    bw_u(&w, 32, 60000);    /* time_scale */
    bw_u(&w, 1, 1);         /* equal_picture_interval */
    bw_ue(&w, 12);          /* num_ticks_per_picture_minus_1, uvlc */
    bw_u(&w, 1, 1);         /* decoder_model_info_present_flag */
    bw_u(&w, 5, 9);         /* buffer_delay_length_minus_1 */
    bw_u(&w, 32, 90000);    /* num_units_in_decoding_tick */
    bw_u(&w, 5, 4);         /* buffer_removal_time_length_minus_1 */
    bw_u(&w, 5, 3);         /* frame_presentation_time_length_minus_1 */
    bw_u(&w, 1, 1);         /* initial_display_delay_present_flag */
    bw_u(&w, 5, 1);         /* operating_points_cnt_minus_1 */
    bw_u(&w, 12, 0x103);    /* op 0: operating_point_idc */
    bw_u(&w, 5, 13);        /* seq_level_idx */
    bw_u(&w, 1, 1);         /* seq_tier */
    bw_u(&w, 1, 1);         /* decoder_model_present_for_this_op */
    bw_u(&w, 10, 500);      /* decoder_buffer_delay */
    bw_u(&w, 10, 300);      /* encoder_buffer_delay */
    bw_u(&w, 1, 0);         /* low_delay_mode_flag */
    bw_u(&w, 1, 1);         /* initial_display_delay_present_for_this_op */
    bw_u(&w, 4, 9);         /* initial_display_delay_minus_1 */
    bw_u(&w, 12, 0x101);    /* op 1 */
    bw_u(&w, 5, 4);         /* level 4: no tier bit */
    bw_u(&w, 1, 0);         /* no decoder model */
    bw_u(&w, 1, 0);         /* no display delay */
    bw_u(&w, 4, 10);        /* frame_width_bits_minus_1 */
    bw_u(&w, 4, 9);         /* frame_height_bits_minus_1 */
    bw_u(&w, 11, 1919);     /* max_frame_width_minus_1 */
    bw_u(&w, 10, 1079);     /* max_frame_height_minus_1 */
    bw_u(&w, 1, 1);         /* frame_id_numbers_present_flag */
    bw_u(&w, 4, 5);         /* delta_frame_id_length_minus_2 */
    bw_u(&w, 3, 2);         /* additional_frame_id_length_minus_1 */
    bw_u(&w, 3, 7);         /* 128x128, filter intra, intra edge */
    bw_u(&w, 4, 0xA);       /* interintra, masked, warped, dual filter */
    bw_u(&w, 1, 1);         /* enable_order_hint */
    bw_u(&w, 2, 2);         /* jnt_comp, ref_frame_mvs */
    bw_u(&w, 1, 0);         /* seq_choose_screen_content_tools */
    bw_u(&w, 1, 1);         /* seq_force_screen_content_tools */
    bw_u(&w, 1, 0);         /* seq_choose_integer_mv */
    bw_u(&w, 1, 1);         /* seq_force_integer_mv */
    bw_u(&w, 3, 6);         /* order_hint_bits_minus_1 */
    bw_u(&w, 3, 3);         /* superres, cdef, restoration */
    bw_u(&w, 1, 1);         /* high_bitdepth */
    bw_u(&w, 1, 1);         /* twelve_bit */
    bw_u(&w, 1, 0);         /* mono_chrome */
    bw_u(&w, 1, 1);         /* color_description_present_flag */
    bw_u(&w, 24, 0x091009); /* BT.2020, PQ, BT.2020 NCL */
    bw_u(&w, 1, 1);         /* color_range */
    bw_u(&w, 2, 2);         /* subsampling_x 1, subsampling_y 0: no position */
    bw_u(&w, 1, 1);         /* separate_uv_delta_q */
    bw_u(&w, 1, 1);         /* film_grain_params_present */
    n = bw_trailing(&w);

    CHECK_INT(av1_parse_seq(w.b, n, &seq, err, sizeof(err)), SV_OK);
    CHECK_INT(seq.profile, 2);
    CHECK_INT(seq.level0, 13);
    CHECK_INT(seq.tier0, 1);
    CHECK_INT(seq.bit_depth, 12);
    CHECK_INT(seq.subsampling_x, 1);
    CHECK_INT(seq.subsampling_y, 0);
    CHECK_INT(seq.color_primaries, 9);
    CHECK_INT(seq.transfer_characteristics, 16);
    CHECK_INT(seq.matrix_coefficients, 9);
    CHECK_INT(seq.color_range, 1);
    CHECK(lands_on_trailing_bits(w.b, n, seq.bits));

    obu[0] = 0x0a;
    obu[1] = (uint8_t)n;
    memcpy(obu + 2, w.b, n);
    buf_init(&out, 4096);
    CHECK_INT(bitstream_av1c(obu, n + 2, &out, err, sizeof(err)), SV_OK);
    CHECK(same_bytes(bytes(&out), out.len < 4 ? out.len : 4, want, 4, "av1C header"));
    CHECK_INT(bitstream_codec_string_av1(bytes(&out), out.len, s, sizeof(s)), SV_OK);
    CHECK_STR(s, "av01.2.13H.12.0.100.09.16.09.1");
    buf_free(&out);
}

/* sRGB (BT.709 primaries, sRGB transfer, identity matrix): 4:4:4 and full
 * range without reading them. High profile, level 8 (a tier bit, 0). */
TEST(av1_sequence_header_srgb)
{
    bw_t w = {{0}, 0};
    size_t n;
    av1_seq_t seq;
    uint8_t obu[64];
    char err[128] = "", s[48];

    bw_u(&w, 3, 1);    /* seq_profile */
    bw_u(&w, 2, 0);    /* still, reduced */
    bw_u(&w, 1, 0);    /* no timing info */
    bw_u(&w, 1, 0);    /* no initial display delay */
    bw_u(&w, 5, 0);    /* one operating point */
    bw_u(&w, 12, 0);   /* operating_point_idc */
    bw_u(&w, 5, 8);    /* seq_level_idx */
    bw_u(&w, 1, 0);    /* seq_tier */
    bw_u(&w, 8, 0x77); /* 8-bit width and height fields */
    bw_u(&w, 16, 0xFFFF);
    bw_u(&w, 1, 0); /* no frame ids */
    bw_u(&w, 3, 0); /* 128x128, filter intra, intra edge */
    bw_u(&w, 4, 0); /* compound tools */
    bw_u(&w, 1, 0); /* enable_order_hint */
    bw_u(&w, 1, 1); /* seq_choose_screen_content_tools: no force bits */
    bw_u(&w, 1, 0); /* seq_choose_integer_mv (force_sct = 2 > 0) */
    bw_u(&w, 1, 0); /* seq_force_integer_mv */
    bw_u(&w, 3, 0); /* superres, cdef, restoration */
    bw_u(&w, 1, 0); /* high_bitdepth */
    bw_u(&w, 1, 1); /* color_description_present_flag (no mono bit: profile 1) */
    bw_u(&w, 24, 0x010D00);
    bw_u(&w, 1, 0); /* separate_uv_delta_q */
    bw_u(&w, 1, 0); /* film grain */
    n = bw_trailing(&w);

    CHECK_INT(av1_parse_seq(w.b, n, &seq, err, sizeof(err)), SV_OK);
    CHECK_INT(seq.level0, 8);
    CHECK_INT(seq.color_range, 1);
    CHECK_INT(seq.subsampling_x, 0);
    CHECK(lands_on_trailing_bits(w.b, n, seq.bits));
    obu[0] = 0x0a;
    obu[1] = (uint8_t)n;
    memcpy(obu + 2, w.b, n);
    {
        buf_t out;
        buf_init(&out, 4096);
        CHECK_INT(bitstream_av1c(obu, n + 2, &out, err, sizeof(err)), SV_OK);
        CHECK_INT(bitstream_codec_string_av1(bytes(&out), out.len, s, sizeof(s)), SV_OK);
        CHECK_STR(s, "av01.1.08M.08.0.000.01.13.00.1");
        buf_free(&out);
    }
}

/* Emulation prevention for a hand-written RBSP (7.4.2 of H.264 / H.265). */
static size_t
add_epb(const uint8_t *rbsp, size_t n, uint8_t *out)
{
    size_t o = 0;
    unsigned zeros = 0;
    for (size_t i = 0; i < n; i++) {
        if (zeros == 2 && rbsp[i] <= 3) {
            out[o++] = 3;
            zeros = 0;
        }
        out[o++] = rbsp[i];
        zeros = rbsp[i] == 0 ? zeros + 1 : 0;
    }
    return o;
}

/*
 * An HEVC SPS with three sub-layers whose profile and level are signalled
 * (x265 signals neither): the 88 + 8 bits each must be stepped over to
 * find chroma_format_idc and the bit depths. 4:2:2 10-bit, a conformance
 * window.
 */
TEST(hevc_sps_with_sub_layer_profiles_and_levels)
{
    bw_t w = {{0}, 0};
    uint8_t nal[300];
    size_t n;
    hevc_sps_t sps;
    buf_t in, out;
    char err[128] = "", s[48];

    bw_u(&w, 16, 0x4201); /* nal unit header */
    bw_u(&w, 4, 0);       /* sps_video_parameter_set_id */
    bw_u(&w, 3, 2);       /* sps_max_sub_layers_minus1 */
    bw_u(&w, 1, 1);       /* sps_temporal_id_nesting_flag */
    bw_u(&w, 8, 0x04);    /* space 0, Main tier, profile 4 (RExt) */
    bw_u(&w, 32, 0x08000000);
    bw_u(&w, 48, 0x9C8000000000ull); /* progressive, frame only, max 10 / 4:2:2 ... */
    bw_u(&w, 8, 123);                /* general_level_idc */
    bw_u(&w, 2, 3);                  /* sub-layer 0: profile and level present */
    bw_u(&w, 2, 1);                  /* sub-layer 1: level only */
    bw_u(&w, 12, 0);                 /* reserved_zero_2bits x 6 */
    bw_u(&w, 32, 0x12345678);        /* sub-layer 0 profile: 88 bits */
    bw_u(&w, 32, 0x9ABCDEF0);
    bw_u(&w, 24, 0x123456);
    bw_u(&w, 8, 90); /* sub-layer 0 level */
    bw_u(&w, 8, 93); /* sub-layer 1 level */
    bw_ue(&w, 0);    /* sps_seq_parameter_set_id */
    bw_ue(&w, 2);    /* chroma_format_idc */
    bw_ue(&w, 1920); /* pic_width_in_luma_samples */
    bw_ue(&w, 1088); /* pic_height_in_luma_samples */
    bw_u(&w, 1, 1);  /* conformance_window_flag */
    bw_ue(&w, 0);
    bw_ue(&w, 0);
    bw_ue(&w, 0);
    bw_ue(&w, 4);
    bw_ue(&w, 2);      /* bit_depth_luma_minus8 */
    bw_ue(&w, 2);      /* bit_depth_chroma_minus8 */
    bw_u(&w, 8, 0xFF); /* (whatever follows) */
    n = add_epb(w.b, bw_trailing(&w), nal);

    CHECK_INT(hevc_parse_sps(nal, n, &sps, err, sizeof(err)), SV_OK);
    CHECK_INT(sps.max_sub_layers_minus1, 2);
    CHECK_INT(sps.chroma_format_idc, 2);
    CHECK_INT(sps.bit_depth_luma_minus8, 2);
    CHECK_INT(sps.bit_depth_chroma_minus8, 2);
    CHECK_INT(sps.ptl[11], 123);

    buf_init(&in, 4096);
    buf_init(&out, 4096);
    annexb_cat(&in, x265_vps, sizeof(x265_vps));
    annexb_cat(&in, nal, n);
    annexb_cat(&in, x265_pps, sizeof(x265_pps));
    CHECK_INT(bitstream_hvcc(bytes(&in), in.len, &out, err, sizeof(err)), SV_OK);
    CHECK(out.len > 23 && (uint8_t)out.data[16] == 0xFE && (uint8_t)out.data[17] == 0xFA &&
          (uint8_t)out.data[18] == 0xFA && (uint8_t)out.data[21] == 0x1F);
    CHECK_INT(bitstream_codec_string_hevc(bytes(&out), out.len, s, sizeof(s)), SV_OK);
    CHECK_STR(s, "hvc1.4.10.L123.9C.80");
    buf_free(&in);
    buf_free(&out);
}

TEST(aac_codec_strings)
{
    char s[48];
    CHECK_INT(bitstream_codec_string_aac((const uint8_t *)"\x12\x10", 2, s, sizeof(s)), SV_OK);
    CHECK_STR(s, "mp4a.40.2"); /* LC, 44.1 kHz, stereo */
    /* HE-AAC with explicit hierarchical signalling: SBR (5), then LC */
    CHECK_INT(bitstream_codec_string_aac((const uint8_t *)"\x2b\x92\x08\x00", 4, s, sizeof(s)),
              SV_OK);
    CHECK_STR(s, "mp4a.40.5");
    /* HE-AAC v2: PS (29) */
    CHECK_INT(bitstream_codec_string_aac((const uint8_t *)"\xeb\x09\x88\x00", 4, s, sizeof(s)),
              SV_OK);
    CHECK_STR(s, "mp4a.40.29");
    /* escape: 31, then 6 bits 001010: 42 (USAC) */
    CHECK_INT(bitstream_codec_string_aac((const uint8_t *)"\xf9\x40", 2, s, sizeof(s)), SV_OK);
    CHECK_STR(s, "mp4a.40.42");
    CHECK_INT(bitstream_codec_string_aac((const uint8_t *)"\xf9", 1, s, sizeof(s)),
              SV_BAD_DATA);
    CHECK_INT(bitstream_codec_string_aac((const uint8_t *)"\x00\x10", 2, s, sizeof(s)),
              SV_BAD_DATA);
    CHECK_INT(bitstream_codec_string_aac(NULL, 0, s, sizeof(s)), SV_BAD_DATA);
    CHECK_INT(bitstream_codec_string_aac((const uint8_t *)"\x12\x10", 2, s, 9), SV_TOO_BIG);
}

/* ---- real encoders ---- */

TEST(ffmpeg_is_installed)
{
    have_ffmpeg = sh("ffmpeg -hide_banner -version >/dev/null 2>&1") == 0;
    if (!have_ffmpeg)
        printf("# ffmpeg is not installed: the real-stream tests cannot run "
               "(apt-get install ffmpeg)\n");
    CHECK(have_ffmpeg);
}

typedef struct {
    const char *name;   /* file stem */
    int ffmpeg_tail;    /* bytes ffmpeg's avcC has past ours (see below) */
    const char *size;   /* frame size */
    int frames;         /* frames to encode */
    const char *args;   /* encoder arguments */
    const char *string; /* the codec string this must give */
} clip_t;

/*
 * Expected codec strings, worked out by hand:
 *  - x264 writes profile_idc 66/77/100/110 and constraint_set0+1 (C0) for
 *    Baseline, constraint_set1 (40) for Main, none for High, High 10,
 *    High 4:2:2 (122 = 7A), High 4:4:4 Predictive (244 = F4); the level
 *    is the one asked for (30 = 1E, 31 = 1F).
 */
static const clip_t avc_clips[] = {
    {"avc_baseline", 0, "320x240", 2, "-c:v libx264 -profile:v baseline -level 3.0",
     "avc1.42C01E"},
    {"avc_main", 0, "320x240", 2, "-c:v libx264 -profile:v main -level 3.0", "avc1.4D401E"},
    {"avc_high", 0, "1280x720", 2, "-c:v libx264 -profile:v high -level 3.1", "avc1.64001F"},
    {"avc_high10", 0, "320x240", 2,
     "-pix_fmt yuv420p10le -c:v libx264 -profile:v high10 -level 3.0", "avc1.6E001E"},
    {"avc_high422", 0, "320x240", 2, "-pix_fmt yuv422p -c:v libx264 -level 3.0", "avc1.7A001E"},
    /* High 4:4:4 Predictive (244): 14496-15 5.3.3.1.2 puts the chroma
     * format / bit depth tail in avcC for profile_idc 100, 110, 122 and 144
     * only; ffmpeg writes it for every profile but 66, 77 and 88. Ours is
     * ffmpeg's without those 4 bytes. */
    {"avc_high444", 4, "320x240", 2, "-pix_fmt yuv444p -c:v libx264 -level 3.0", "avc1.F4001E"},
};

/*
 *  - x265 Main sets general_profile_compatibility_flag[1] and [2] (bits 1
 *    and 2 once reversed: 6), Main 10 only [2] (4); its constraint flags
 *    are progressive_source and frame_only_constraint (90 00 00 00 00 00,
 *    so ".90"); level-idc 3.1 is general_level_idc 93; Main tier (L).
 */
static const clip_t hevc_clips[] = {
    {"hevc_main", 0, "320x240", 2, "-c:v libx265 -x265-params log-level=error:level-idc=3.1",
     "hvc1.1.6.L93.90"},
    {"hevc_main10", 0, "320x240", 2,
     "-pix_fmt yuv420p10le -c:v libx265 -x265-params log-level=error:level-idc=3.1",
     "hvc1.2.4.L93.90"},
    /* two temporal sub-layers: numTemporalLayers 2, temporalIdNested 0 */
    {"hevc_temporal", 0, "320x240", 4,
     "-c:v libx265 -x265-params log-level=error:level-idc=3.1:temporal-layers=1",
     "hvc1.1.6.L93.90"},
};

/*
 *  - libsvtav1 picks seq_level_idx 0 (level 2.0) for 320x240 at 25 fps,
 *    Main tier; 8 or 10 bits. With colour options it writes a colour
 *    description (BT.2020, PQ, BT.2020 NCL = 9, 16, 9, limited range, 4:2:0
 *    with unknown sample position: .0.110.09.16.09.0).
 *  - libaom (64x64, level 2.0 as well): timing info with
 *    equal_picture_interval (uvlc), a decoder model, a reduced still
 *    picture header: none of it shows in the string. Gray is mono_chrome,
 *    full range; 4:4:4 is profile 1 with subsampling 0 0: both differ from
 *    the defaults the short form implies, so they get the long form, with
 *    colour code points 2 (unspecified: no colour description).
 */
static const clip_t av1_clips[] = {
    {"av1_svt8", 0, "320x240", 2, "-c:v libsvtav1 -preset 12", "av01.0.00M.08"},
    {"av1_svt10", 0, "320x240", 2, "-pix_fmt yuv420p10le -c:v libsvtav1 -preset 12",
     "av01.0.00M.10"},
    {"av1_svt10_pq", 0, "320x240", 2,
     "-pix_fmt yuv420p10le -color_primaries bt2020 -color_trc smpte2084 "
     "-colorspace bt2020nc -c:v libsvtav1 -preset 12",
     "av01.0.00M.10.0.110.09.16.09.0"},
    {"av1_aom_timing", 0, "64x64", 2,
     "-c:v libaom-av1 -cpu-used 8 -aom-params timing-info=constant", "av01.0.00M.08"},
    {"av1_aom_model", 0, "64x64", 2,
     "-c:v libaom-av1 -cpu-used 8 -aom-params timing-info=model", "av01.0.00M.08"},
    {"av1_aom_still", 0, "64x64", 1, "-c:v libaom-av1 -cpu-used 8 -still-picture 1",
     "av01.0.00M.08"},
    {"av1_aom_gray", 0, "64x64", 1, "-pix_fmt gray -c:v libaom-av1 -cpu-used 8",
     "av01.0.00M.08.1.110.02.02.02.1"},
    {"av1_aom_444", 0, "64x64", 1, "-pix_fmt yuv444p -c:v libaom-av1 -cpu-used 8",
     "av01.1.00M.08.0.000.02.02.02.0"},
};

/* Encodes c as a raw stream (dir/NAME.RAWEXT, format rawfmt), as an MP4
 * (dir/NAME.mp4) and remuxes the raw stream into dir/NAME_remux.mp4. */
static bool
encode(const clip_t *c, const char *rawfmt, const char *rawext, const char *mp4args)
{
    return ffmpeg("-f lavfi -i testsrc2=size=%s:rate=25 -frames:v %d %s -f %s %s/%s.%s",
                  c->size, c->frames, c->args, rawfmt, dir, c->name, rawext) &&
           ffmpeg(
               "-f lavfi -i testsrc2=size=%s:rate=25 -frames:v %d %s %s -movflags +faststart "
               "-f mp4 %s/%s.mp4",
               c->size, c->frames, c->args, mp4args, dir, c->name) &&
           ffmpeg("-i %s/%s.%s -c copy %s -movflags +faststart -f mp4 %s/%s_remux.mp4", dir,
                  c->name, rawext, mp4args, dir, c->name);
}

/* The record box of fourcc in dir/NAME[suffix].mp4, copied into rec. */
static bool
record_of(const char *name, const char *suffix, const char *fourcc, buf_t *rec)
{
    buf_t f;
    const uint8_t *body;
    size_t len;
    bool ok;

    buf_init(rec, 1 << 20);
    if (!slurp(&f, "%s%s.mp4", name, suffix)) {
        buf_free(&f);
        return false;
    }
    ok = mp4_find(&f, fourcc, &body, &len) && buf_append(rec, body, len) == SV_OK;
    buf_free(&f);
    return ok;
}

TEST(avc_records_match_ffmpeg_byte_for_byte)
{
    static const unsigned ps_types[] = {7, 8};
    span_t u[64];

    if (!have_ffmpeg)
        return;
    for (size_t i = 0; i < sizeof(avc_clips) / sizeof(avc_clips[0]); i++) {
        const clip_t *c = &avc_clips[i];
        buf_t raw, ps, rec, ours, copy;
        char err[128] = "", s[48] = "";
        size_t n;

        printf("# %s\n", c->name);
        if (!encode(c, "h264", "h264", "")) {
            CHECK(0);
            continue;
        }
        CHECK(slurp(&raw, "%s.h264", c->name));
        n = split_annexb(bytes(&raw), raw.len, u, 64);
        buf_init(&ps, 1 << 20);
        buf_init(&ours, 1 << 20);
        buf_init(&copy, 1 << 20);
        annexb_params(u, n, false, ps_types, 2, &ps);

        /* the raw stream's SPS and PPS give the avcC ffmpeg wrote when it
         * encoded to MP4 (from libx264's global headers) */
        CHECK_INT(bitstream_avcc(bytes(&ps), ps.len, &ours, err, sizeof(err)), SV_OK);
        if (err[0] && ours.len == 0)
            printf("# %s\n", err);
        if (record_of(c->name, "", "avcC", &rec) && rec.len >= (size_t)c->ffmpeg_tail) {
            CHECK(same_bytes(bytes(&ours), ours.len, bytes(&rec), rec.len - c->ffmpeg_tail,
                             "avcC vs encode"));
            if (c->ffmpeg_tail) /* 4:4:4 8-bit, no SPS extensions */
                CHECK(memcmp(rec.data + rec.len - 4, "\xff\xf8\xf8\x00", 4) == 0);
        } else {
            CHECK(0);
        }
        /* copying ffmpeg's record gives it back */
        CHECK_INT(bitstream_avcc(bytes(&rec), rec.len, &copy, err, sizeof(err)), SV_OK);
        CHECK(same_bytes(bytes(&copy), copy.len, bytes(&rec), rec.len, "copied avcC"));
        buf_free(&rec);
        /* and the one it wrote remuxing the raw stream */
        if (record_of(c->name, "_remux", "avcC", &rec) && rec.len >= (size_t)c->ffmpeg_tail)
            CHECK(same_bytes(bytes(&ours), ours.len, bytes(&rec), rec.len - c->ffmpeg_tail,
                             "avcC vs remux"));
        else
            CHECK(0);
        CHECK_INT(bitstream_codec_string_avc(bytes(&ours), ours.len, s, sizeof(s)), SV_OK);
        CHECK_STR(s, c->string);
        buf_free(&rec);
        buf_free(&raw);
        buf_free(&ps);
        buf_free(&ours);
        buf_free(&copy);
    }
}

/* The units of an hvcC's arrays as Annex B; without SEI arrays if skip_sei.
 * hvcc_without_sei: the same record with its SEI arrays left out. */
static void
hvcc_units(const uint8_t *rec, size_t len, bool skip_sei, buf_t *annexb, buf_t *nosei)
{
    size_t p = 23;
    unsigned narrays = rec[22], kept = 0;

    buf_append(nosei, rec, 23);
    for (unsigned i = 0; i < narrays && len - p >= 3; i++) {
        unsigned type = rec[p] & 0x3f, count = bs_be16(rec + p + 1);
        size_t start = p;
        p += 3;
        for (unsigned k = 0; k < count && len - p >= 2; k++) {
            size_t n = bs_be16(rec + p);
            if (n > len - p - 2)
                return;
            if (!(skip_sei && type == HEVC_SEI_PREFIX))
                annexb_cat(annexb, rec + p + 2, n);
            p += 2 + n;
        }
        if (type != HEVC_SEI_PREFIX) {
            buf_append(nosei, rec + start, p - start);
            kept++;
        }
    }
    nosei->data[22] = (char)kept;
}

TEST(hevc_records_match_ffmpeg_byte_for_byte)
{
    static const unsigned ps_types[] = {HEVC_VPS, HEVC_SPS, HEVC_PPS};
    span_t u[64];

    if (!have_ffmpeg)
        return;
    for (size_t i = 0; i < sizeof(hevc_clips) / sizeof(hevc_clips[0]); i++) {
        const clip_t *c = &hevc_clips[i];
        buf_t raw, ps, rec, ours, copy, all, nosei;
        char err[128] = "", s[48] = "";
        size_t n;

        printf("# %s\n", c->name);
        if (!encode(c, "hevc", "hevc", "-tag:v hvc1")) {
            CHECK(0);
            continue;
        }
        CHECK(slurp(&raw, "%s.hevc", c->name));
        n = split_annexb(bytes(&raw), raw.len, u, 64);
        buf_init(&ps, 1 << 20);
        buf_init(&ours, 1 << 20);
        buf_init(&copy, 1 << 20);
        buf_init(&all, 1 << 20);
        buf_init(&nosei, 1 << 20);
        annexb_params(u, n, true, ps_types, 3, &ps);
        CHECK_INT(bitstream_hvcc(bytes(&ps), ps.len, &ours, err, sizeof(err)), SV_OK);

        /* Remuxing the raw stream, ffmpeg builds its hvcC from the same
         * VPS, SPS and PPS (its extradata holds no SEI): equal bytes. */
        if (record_of(c->name, "_remux", "hvcC", &rec))
            CHECK(same_bytes(bytes(&ours), ours.len, bytes(&rec), rec.len, "hvcC vs remux"));
        else
            CHECK(0);
        buf_free(&rec);

        /* Encoding to MP4, libx265's global headers add its version SEI
         * (whose option text differs from the raw stream's), so: the same
         * without the SEI array, and rebuilt from all the record's units,
         * SEI included, the same record exactly. */
        if (record_of(c->name, "", "hvcC", &rec)) {
            hvcc_units(bytes(&rec), rec.len, false, &all, &nosei);
            CHECK(same_bytes(bytes(&ours), ours.len, bytes(&nosei), nosei.len,
                             "hvcC vs encode, without its SEI array"));
            CHECK_INT(bitstream_hvcc(bytes(&all), all.len, &copy, err, sizeof(err)), SV_OK);
            CHECK(same_bytes(bytes(&copy), copy.len, bytes(&rec), rec.len,
                             "hvcC rebuilt from the encode's units, SEI included"));
            CHECK_INT(bitstream_hvcc(bytes(&rec), rec.len, &copy, err, sizeof(err)), SV_OK);
            CHECK(same_bytes(bytes(&copy), copy.len, bytes(&rec), rec.len, "copied hvcC"));
            CHECK_INT(bitstream_codec_string_hevc(bytes(&rec), rec.len, s, sizeof(s)), SV_OK);
            CHECK_STR(s, c->string);
        } else {
            CHECK(0);
        }
        CHECK_INT(bitstream_codec_string_hevc(bytes(&ours), ours.len, s, sizeof(s)), SV_OK);
        CHECK_STR(s, c->string);
        buf_free(&rec);
        buf_free(&raw);
        buf_free(&ps);
        buf_free(&ours);
        buf_free(&copy);
        buf_free(&all);
        buf_free(&nosei);
    }
}

static bool
same_seq(const av1_seq_t *a, const av1_seq_t *b)
{
    return a->profile == b->profile && a->level0 == b->level0 && a->tier0 == b->tier0 &&
           a->bit_depth == b->bit_depth && a->mono_chrome == b->mono_chrome &&
           a->subsampling_x == b->subsampling_x && a->subsampling_y == b->subsampling_y &&
           a->chroma_sample_position == b->chroma_sample_position &&
           a->color_description_present == b->color_description_present &&
           a->color_primaries == b->color_primaries &&
           a->transfer_characteristics == b->transfer_characteristics &&
           a->matrix_coefficients == b->matrix_coefficients && a->color_range == b->color_range;
}

TEST(av1_records_match_ffmpeg)
{
    if (!have_ffmpeg)
        return;
    for (size_t i = 0; i < sizeof(av1_clips) / sizeof(av1_clips[0]); i++) {
        const clip_t *c = &av1_clips[i];
        buf_t raw, rec, ours, copy;
        av1_seq_t s_ours, s_rec;
        bool has_ours = false, has_rec = false;
        char err[128] = "", s[48] = "";

        printf("# %s\n", c->name);
        if (!encode(c, "obu", "obu", "")) {
            CHECK(0);
            continue;
        }
        CHECK(slurp(&raw, "%s.obu", c->name));
        buf_init(&ours, 1 << 20);
        buf_init(&copy, 1 << 20);
        /* the whole stream: the walk stops at the first sequence header */
        CHECK_INT(bitstream_av1c(bytes(&raw), raw.len, &ours, err, sizeof(err)), SV_OK);
        CHECK_INT(av1c_check(bytes(&ours), ours.len, &s_ours, &has_ours, err, sizeof(err)),
                  SV_OK);
        CHECK(has_ours);
        /* the parse ends where trailing_bits() begin: every field was read
         * at its place (the first OBU of ours is the sequence header) */
        if (has_ours) {
            const uint8_t *q = bytes(&ours) + 4;
            av1_obu_t obu;
            CHECK_INT(av1_obu_next(&q, bytes(&ours) + ours.len, &obu, err, sizeof(err)), SV_OK);
            CHECK(lands_on_trailing_bits(obu.payload, obu.payload_len, s_ours.bits));
        }

        /* Remuxed, ffmpeg's av1C holds the stream's own sequence header:
         * equal bytes (its header bytes come from its own parser). */
        if (record_of(c->name, "_remux", "av1C", &rec))
            CHECK(same_bytes(bytes(&ours), ours.len, bytes(&rec), rec.len, "av1C vs remux"));
        else
            CHECK(0);
        buf_free(&rec);

        /* Encoded to MP4, the configOBUs are the encoder's stream header
         * (libsvtav1 makes it apart from the stream): the same fields. */
        if (record_of(c->name, "", "av1C", &rec)) {
            CHECK(same_bytes(bytes(&ours), 4, bytes(&rec), rec.len < 4 ? rec.len : 4,
                             "av1C fixed bytes vs encode"));
            CHECK_INT(av1c_check(bytes(&rec), rec.len, &s_rec, &has_rec, err, sizeof(err)),
                      SV_OK);
            CHECK(has_rec && same_seq(&s_ours, &s_rec));
            printf("# %s: the MP4 encode's av1C %s\n", c->name,
                   rec.len == ours.len && memcmp(rec.data, ours.data, ours.len) == 0
                       ? "is ours, byte for byte"
                       : "has other configOBUs (the encoder's own stream header), same fields");
            CHECK_INT(bitstream_av1c(bytes(&rec), rec.len, &copy, err, sizeof(err)), SV_OK);
            CHECK(same_bytes(bytes(&copy), copy.len, bytes(&rec), rec.len, "copied av1C"));
            CHECK_INT(bitstream_codec_string_av1(bytes(&rec), rec.len, s, sizeof(s)), SV_OK);
            CHECK_STR(s, c->string);
        } else {
            CHECK(0);
        }
        CHECK_INT(bitstream_codec_string_av1(bytes(&ours), ours.len, s, sizeof(s)), SV_OK);
        CHECK_STR(s, c->string);
        buf_free(&rec);
        buf_free(&raw);
        buf_free(&ours);
        buf_free(&copy);
    }
}

/* One descriptor of an esds (14496-1 8.3.3): tag, then a size of 1 to 4
 * bytes of 7 bits. */
static bool
esds_desc(const uint8_t **pp, const uint8_t *end, unsigned *tag, size_t *size)
{
    const uint8_t *p = *pp;
    size_t v = 0;
    if (end - p < 2)
        return false;
    *tag = *p++;
    for (int i = 0; i < 4; i++) {
        if (end - p < 1)
            return false;
        v = v << 7 | (*p & 0x7f);
        if ((*p++ & 0x80) == 0) {
            if (v > (size_t)(end - p))
                return false;
            *size = v;
            *pp = p;
            return true;
        }
    }
    return false;
}

/* The AudioSpecificConfig in an esds box body: ES_Descriptor (3) >
 * DecoderConfigDescriptor (4) > DecoderSpecificInfo (5). */
static bool
esds_asc(const uint8_t *p, size_t len, const uint8_t **asc, size_t *asclen)
{
    const uint8_t *end = p + len;
    unsigned tag;
    size_t size;

    if (len < 4)
        return false;
    p += 4; /* version, flags */
    while (esds_desc(&p, end, &tag, &size)) {
        if (tag == 3) { /* ES_ID, flags, optional fields, then the children */
            uint8_t flags;
            if (end - p < 3)
                return false;
            flags = p[2];
            p += 3;
            if (flags & 0x80)
                p += 2;
            if ((flags & 0x40) && end - p >= 1)
                p += 1 + *p;
            if (flags & 0x20)
                p += 2;
            if (p > end)
                return false;
        } else if (tag == 4) { /* 13 bytes of fields, then the children */
            if (end - p < 13)
                return false;
            p += 13;
        } else if (tag == 5) {
            *asc = p;
            *asclen = size;
            return true;
        } else {
            p += size;
        }
    }
    return false;
}

TEST(aac_codec_string_from_ffmpegs_esds)
{
    buf_t f;
    const uint8_t *esds, *asc;
    size_t len, asclen;
    char s[48] = "";

    if (!have_ffmpeg)
        return;
    CHECK(ffmpeg("-f lavfi -i sine=frequency=440:sample_rate=48000:duration=0.3 -c:a aac "
                 "-b:a 96k -movflags +faststart -f mp4 %s/aac_lc.mp4",
                 dir));
    if (slurp(&f, "aac_lc.mp4") && mp4_find(&f, "esds", &esds, &len) &&
        esds_asc(esds, len, &asc, &asclen)) {
        CHECK_INT(bitstream_codec_string_aac(asc, asclen, s, sizeof(s)), SV_OK);
        CHECK_STR(s, "mp4a.40.2");
    } else {
        CHECK(0);
    }
    buf_free(&f);
    if (sh("ffmpeg -hide_banner -encoders 2>/dev/null | grep -q libfdk_aac") != 0)
        printf("# no libfdk_aac in this ffmpeg: HE-AAC has hand-made vectors only\n");
}

/* Walks length-prefixed units; false unless they tile the buffer exactly. */
static size_t
split_mp4(const uint8_t *d, size_t len, span_t *u, size_t max, bool *exact)
{
    size_t n = 0, p = 0;
    while (len - p >= 4 && n < max) {
        size_t l = bs_be32(d + p);
        if (l > len - p - 4)
            break;
        u[n].p = d + p + 4;
        u[n].len = l;
        n++;
        p += 4 + l;
    }
    *exact = p == len;
    return n;
}

/* Converts dir/raw and compares it, unit by unit, with the independent
 * splitter and with the mdat ffmpeg wrote remuxing it. */
static void
check_conversion(const char *raw_name, const char *mp4_name, bool hevc, bool exact_mdat)
{
    static span_t a[256], b[256], m[256];
    buf_t raw, out, f;
    const uint8_t *mdat;
    size_t na, nb, nm, mlen, sum = 0;
    bool tiles = false, mtiles = false;

    printf("# %s\n", raw_name);
    buf_init(&out, 64 << 20);
    if (!slurp(&raw, "%s", raw_name) || !slurp(&f, "%s", mp4_name) ||
        !mp4_mdat(&f, &mdat, &mlen)) {
        CHECK(0);
        goto done;
    }
    CHECK_INT(bitstream_annexb_to_mp4(bytes(&raw), raw.len, &out), SV_OK);
    na = split_mp4(bytes(&out), out.len, a, 256, &tiles);
    nb = split_annexb(bytes(&raw), raw.len, b, 256);
    CHECK(tiles);
    CHECK(na > 3);
    CHECK_INT(na, nb);
    for (size_t i = 0; i < na && i < nb; i++) {
        sum += 4 + a[i].len;
        CHECK(a[i].len == b[i].len && memcmp(a[i].p, b[i].p, a[i].len) == 0);
        CHECK(a[i].len > 0 && a[i].p[a[i].len - 1] != 0);
    }
    CHECK_INT(sum, out.len);

    /* ffmpeg's MP4 muxer did the same conversion */
    nm = split_mp4(mdat, mlen, m, 256, &mtiles);
    CHECK(mtiles);
    CHECK_INT(nm, na);
    for (size_t i = 0; i < nm && i < na; i++) {
        size_t l = m[i].len;
        unsigned ta = hevc ? (a[i].p[0] >> 1) & 0x3f : a[i].p[0] & 0x1f;
        unsigned tm = hevc ? (m[i].p[0] >> 1) & 0x3f : m[i].p[0] & 0x1f;
        CHECK_INT(ta, tm);
        /* ffmpeg splits the raw stream into packets first and keeps a zero
         * byte that belongs to the next packet's 4-byte start code on the
         * end of a unit; a NAL unit never ends in 00 (H.265 7.4.2.4.4), so
         * compare without it. */
        while (!exact_mdat && l > 0 && m[i].p[l - 1] == 0)
            l--;
        CHECK(same_bytes(a[i].p, a[i].len, m[i].p, l, "unit vs ffmpeg's mdat"));
    }
    if (exact_mdat)
        CHECK(same_bytes(bytes(&out), out.len, mdat, mlen, "converted stream vs mdat"));
done:
    buf_free(&raw);
    buf_free(&out);
    buf_free(&f);
}

/* Needs the files the record tests made. */
TEST(annexb_real_streams_convert_as_ffmpegs_mp4_muxer_does)
{
    if (!have_ffmpeg)
        return;
    check_conversion("avc_high.h264", "avc_high_remux.mp4", false, true);
    check_conversion("avc_high10.h264", "avc_high10_remux.mp4", false, true);
    check_conversion("hevc_main.hevc", "hevc_main_remux.mp4", true, false);
    check_conversion("hevc_main10.hevc", "hevc_main10_remux.mp4", true, false);
}

/*
 * ffmpeg's DASH muxer (5.x) writes full strings for avc1 (lowercase hex),
 * av01 and mp4a, and a bare "hvc1" for HEVC, so HEVC has no oracle here.
 * For av01 it writes the colour fields exactly when the sequence header has
 * a colour description; ours also writes them when mono / chroma layout /
 * range differ from the short form's defaults (gray, 4:4:4), and there its
 * string is the start of ours. Needs the files the record tests made.
 */
TEST(codec_strings_agree_with_ffmpegs_dash_muxer)
{
    char name[64], theirs[128];

    if (!have_ffmpeg)
        return;
    for (size_t i = 0; i < sizeof(avc_clips) / sizeof(avc_clips[0]); i++) {
        snprintf(name, sizeof(name), "%s.mp4", avc_clips[i].name);
        if (!dash_codecs(name, theirs, sizeof(theirs))) {
            CHECK(0);
            continue;
        }
        if (strcasecmp(theirs, avc_clips[i].string) != 0) {
            printf("# %s: ffmpeg says %s\n", name, theirs);
            CHECK(0);
        }
    }
    for (size_t i = 0; i < sizeof(av1_clips) / sizeof(av1_clips[0]); i++) {
        const char *ours = av1_clips[i].string;
        size_t tl;
        snprintf(name, sizeof(name), "%s.mp4", av1_clips[i].name);
        if (!dash_codecs(name, theirs, sizeof(theirs))) {
            CHECK(0);
            continue;
        }
        tl = strlen(theirs);
        if (strcmp(theirs, ours) != 0 &&
            !(tl == strlen("av01.0.00M.08") && strncmp(theirs, ours, tl) == 0 &&
              (strstr(ours, ".1.110.") != NULL || strstr(ours, ".0.000.") != NULL))) {
            printf("# %s: ffmpeg says %s, we say %s\n", name, theirs, ours);
            CHECK(0);
        }
    }
    if (!dash_codecs("aac_lc.mp4", theirs, sizeof(theirs)))
        CHECK(0);
    else
        CHECK_STR(theirs, "mp4a.40.2");
}

TEST(av1_temporal_units_become_mp4_samples)
{
    /* A temporal delimiter, padding, then a frame OBU without a size field. */
    static const uint8_t tu[] = {0x12, 0x00, 0x7a, 0x01, 0xff, 0x30, 0xaa, 0xbb, 0xcc};
    static const uint8_t want[] = {0x32, 0x03, 0xaa, 0xbb, 0xcc};
    /* An OBU with an extension byte and a size field is kept as is. */
    static const uint8_t ext[] = {0x36, 0x08, 0x02, 0x11, 0x22};
    static const uint8_t bad[] = {0x32, 0x05, 0xaa}; /* says 5, has 1 */
    buf_t out;
    buf_init(&out, 1024);
    CHECK_INT(bitstream_av1_to_mp4(tu, sizeof(tu), &out), SV_OK);
    CHECK_INT(out.len, sizeof(want));
    CHECK(memcmp(out.data, want, sizeof(want)) == 0);
    buf_reset(&out);
    CHECK_INT(bitstream_av1_to_mp4(ext, sizeof(ext), &out), SV_OK);
    CHECK_INT(out.len, sizeof(ext));
    CHECK(memcmp(out.data, ext, sizeof(ext)) == 0);
    buf_reset(&out);
    CHECK_INT(bitstream_av1_to_mp4(bad, sizeof(bad), &out), SV_BAD_DATA);
    CHECK_INT(bitstream_av1_to_mp4(tu, 0, &out), SV_BAD_DATA);
    buf_free(&out);
}

int
main(void)
{
    int rc;

    dir = tmpdir_make("bitstream");
    if (dir == NULL) {
        printf("not ok 1 - cannot make a temporary directory\n1..1\n");
        return 1;
    }
    RUN(annexb_three_and_four_byte_start_codes_and_trailing_zeros);
    RUN(annexb_leading_zeros_and_emulation_prevention_kept);
    RUN(annexb_malformed_input_is_rejected_and_out_left_alone);
    RUN(annexb_appends_and_respects_the_ceiling);
    RUN(is_annexb);
    RUN(bitreader_ue_and_se);
    RUN(bitreader_ue_limits);
    RUN(bitreader_truncated_codes_are_errors);
    RUN(bitreader_skips_emulation_prevention);
    RUN(bitreader_uvlc);
    RUN(leb128);
    RUN(avcc_from_hand_made_parameter_sets);
    RUN(avcc_malformed_input);
    RUN(hvcc_from_hand_made_parameter_sets);
    RUN(hevc_codec_string_fields);
    RUN(hvcc_malformed_input);
    RUN(av1c_from_hand_made_obus);
    RUN(av1_reduced_still_picture_monochrome_by_hand);
    RUN(av1c_malformed_input);
    RUN(av1_sequence_header_with_every_optional_part);
    RUN(av1_sequence_header_srgb);
    RUN(hevc_sps_with_sub_layer_profiles_and_levels);
    RUN(aac_codec_strings);
    RUN(ffmpeg_is_installed);
    RUN(avc_records_match_ffmpeg_byte_for_byte);
    RUN(hevc_records_match_ffmpeg_byte_for_byte);
    RUN(av1_records_match_ffmpeg);
    RUN(aac_codec_string_from_ffmpegs_esds);
    RUN(annexb_real_streams_convert_as_ffmpegs_mp4_muxer_does);
    RUN(codec_strings_agree_with_ffmpegs_dash_muxer);
    RUN(av1_temporal_units_become_mp4_samples);
    rc = test_done();
    tmpdir_remove();
    return rc;
}
