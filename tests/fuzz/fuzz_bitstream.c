/*
 * fuzz_bitstream.c: every reader of media/bitstream.c on arbitrary bytes.
 *
 * The first byte picks the reader (its value modulo 12), the rest is the
 * input:
 *   0  bitstream_annexb_to_mp4: what it writes must tile exactly into
 *      length-prefixed units, none empty, none ending in a zero byte, no
 *      larger than the input plus one byte per unit;
 *   1, 2, 3  bitstream_avcc / hvcc / av1c: a record built must give a codec
 *      string that fits in 48 bytes, must come back byte for byte when fed
 *      in again (the validate-and-copy path), and must be refused with
 *      SV_TOO_BIG, out untouched, under a ceiling one byte too small;
 *   4..7  the codec strings straight on the bytes (avc, hevc, av1, aac);
 *   8  the bit reader: u / ue / se / uvlc reads chosen by the input over the
 *      rest of it, with or without emulation prevention, until it fails;
 *   9, 10, 11  the AV1 sequence header, HEVC SPS and H.264 SPS parsers on
 *      the bytes as a payload / NAL unit, without the framing around them.
 * A broken invariant abort()s so libFuzzer keeps the input.
 *
 * The seed corpus (tests/fuzz/corpus/bitstream/) holds real parameter sets
 * from libx264, libx265, libsvtav1 and libaom, made with the ffmpeg CLI as
 * in tests/unit/test_bitstream.c, each behind its selector byte.
 */
#include "media/bitstream.c" /* the bit reader and the parsers are static */

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef int (*record_fn)(const uint8_t *, size_t, buf_t *, char *, size_t);
typedef int (*string_fn)(const uint8_t *, size_t, char *, size_t);

/* A codec string is SV_OK and fits, or the record is SV_BAD_DATA. */
static void
check_string(string_fn f, const uint8_t *in, size_t len, const char *prefix, bool must_work)
{
    char s[48];
    int rc = f(in, len, s, sizeof(s));
    if (rc == SV_OK) {
        if (strlen(s) >= sizeof(s) || strncmp(s, prefix, strlen(prefix)) != 0)
            abort();
    } else if (rc != SV_BAD_DATA || must_work) {
        abort();
    }
}

static void
check_annexb(const uint8_t *in, size_t len)
{
    buf_t out;
    size_t p = 0, units = 0;
    int rc;

    buf_init(&out, 1 << 24);
    rc = bitstream_annexb_to_mp4(in, len, &out);
    if (rc == SV_OK) {
        const uint8_t *d = (const uint8_t *)out.data;
        while (out.len - p >= 4) {
            size_t n = bs_be32(d + p);
            if (n == 0 || n > out.len - p - 4 || d[p + 4 + n - 1] == 0)
                abort();
            p += 4 + n;
            units++;
        }
        if (p != out.len || units == 0 || out.len > len + units)
            abort();
    } else if (rc != SV_BAD_DATA || out.len != 0) {
        abort();
    }
    buf_free(&out);
}

static void
check_record(record_fn build, string_fn str, const char *prefix, const uint8_t *in, size_t len)
{
    buf_t out, again, small;
    char err[128];
    int rc;

    buf_init(&out, 1 << 20);
    buf_init(&again, 1 << 20);
    rc = build(in, len, &out, err, sizeof(err));
    if (rc == SV_OK) {
        if (out.len == 0)
            abort();
        check_string(str, (const uint8_t *)out.data, out.len, prefix, true);
        if (build((const uint8_t *)out.data, out.len, &again, err, sizeof(err)) != SV_OK ||
            again.len != out.len || memcmp(again.data, out.data, out.len) != 0)
            abort();
        buf_init(&small, out.len - 1);
        if (build(in, len, &small, err, sizeof(err)) != SV_TOO_BIG || small.len != 0)
            abort();
        buf_free(&small);
    } else if (rc != SV_BAD_DATA || out.len != 0 || strlen(err) >= sizeof(err)) {
        abort();
    }
    buf_free(&out);
    buf_free(&again);
}

static void
check_bitreader(const uint8_t *in, size_t len)
{
    bitreader_t br;
    size_t reads = 0;

    if (len < 2)
        return;
    /* the first byte turns emulation prevention on or off; the rest is
     * both the data and the script of which read comes next */
    br_init(&br, in + 1, len - 1, in[0] & 1);
    while (!br.bad) {
        uint8_t op = in[1 + reads % (len - 1)];
        switch (op & 3) {
        case 0:
            (void)br_u(&br, 1 + (op >> 2) % 32);
            break;
        case 1:
            (void)br_ue(&br);
            break;
        case 2:
            (void)br_se(&br);
            break;
        default:
            (void)br_uvlc(&br);
            break;
        }
        /* every read that does not fail takes at least a bit */
        if (br.p > br.end || br.bit > 7 || ++reads > 8 * len)
            abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *in = data + 1;
    size_t len;
    char err[128];

    if (size < 1)
        return 0;
    len = size - 1;
    switch (data[0] % 12) {
    case 0:
        check_annexb(in, len);
        break;
    case 1:
        check_record(bitstream_avcc, bitstream_codec_string_avc, "avc1.", in, len);
        break;
    case 2:
        check_record(bitstream_hvcc, bitstream_codec_string_hevc, "hvc1.", in, len);
        break;
    case 3:
        check_record(bitstream_av1c, bitstream_codec_string_av1, "av01.", in, len);
        break;
    case 4:
        check_string(bitstream_codec_string_avc, in, len, "avc1.", false);
        break;
    case 5:
        check_string(bitstream_codec_string_hevc, in, len, "hvc1.", false);
        break;
    case 6:
        check_string(bitstream_codec_string_av1, in, len, "av01.", false);
        break;
    case 7:
        check_string(bitstream_codec_string_aac, in, len, "mp4a.40.", false);
        break;
    case 8:
        check_bitreader(in, len);
        break;
    case 9: {
        av1_seq_t seq;
        if (av1_parse_seq(in, len, &seq, err, sizeof(err)) == SV_OK &&
            (seq.bits > len * 8 || seq.bit_depth < 8 || seq.bit_depth > 12))
            abort();
        break;
    }
    case 10: {
        hevc_sps_t sps;
        if (len > 0 && hevc_parse_sps(in, len, &sps, err, sizeof(err)) == SV_OK &&
            (sps.max_sub_layers_minus1 > 6 || sps.chroma_format_idc > 3))
            abort();
        break;
    }
    default: {
        avc_sps_t sps;
        if (len > 0 && avc_parse_sps(in, len, &sps, err, sizeof(err)) == SV_OK &&
            sps.chroma_format_idc > 3)
            abort();
        break;
    }
    }
    return 0;
}
