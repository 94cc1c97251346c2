/*
 * bitstream.c: Annex B to length-prefixed NAL units, the avcC / hvcC / av1C
 * records and the RFC 6381 codec strings, read from the bitstream's bytes.
 *
 * No libav here, on purpose: what the packager writes into init segments
 * and manifests is its own reading of the codecs, not whatever a demuxer
 * chose to fill in. Every reader works over (pos, end), checks what remains
 * before it reads, and never reads past end.
 *
 * References: ISO/IEC 14496-10 7.3.2.1 (H.264 SPS), ISO/IEC 23008-2 7.3.2.2
 * and 7.3.3 (HEVC SPS, profile_tier_level), ISO/IEC 14496-15 5.3.3.1 (avcC),
 * 8.3.3.1 (hvcC) and Annex E (codec strings), the AV1 specification 5.3 and
 * 5.5 (OBUs, sequence header) and AV1-ISOBMFF 2.3 (av1C) and 5 (codecs).
 */
#include "media/bitstream.h"
#include "base/status.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* At most this many parameter sets go into one record (STYLE 14): real
 * streams carry one of each, a few with several PPS. */
#define BS_MAX_UNITS 64

static int bs_bad(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes the reason into err (when there is room for one) and returns SV_BAD_DATA. */
static int
bs_bad(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (err != NULL && errlen > 0) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return SV_BAD_DATA;
}

static uint32_t
bs_be16(const uint8_t *p)
{
    return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t
bs_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* ---- Annex B byte streams ---- */

/* The first 00 00 01 at or after p, or end when there is none. */
static const uint8_t *
annexb_find_start(const uint8_t *p, const uint8_t *end)
{
    const uint8_t *q = p, *one;

    while (end - q >= 3) {
        one = memchr(q + 2, 1, (size_t)(end - q - 2));
        if (one == NULL)
            break;
        if (one[-1] == 0 && one[-2] == 0)
            return one - 2;
        q = one - 1;
    }
    return end;
}

/*
 * Walks the NAL units of an Annex B buffer. p is just past a start code, so
 * a unit must follow it; done is set once the last unit has been returned.
 */
typedef struct {
    const uint8_t *p, *end;
    bool done;
} annexb_iter_t;

/*
 * Starts a walk: the buffer must be zero bytes (leading_zero_8bits) and a
 * start code, before anything else. SV_OK, or SV_BAD_DATA (empty input, no
 * start code).
 */
static int
annexb_begin(annexb_iter_t *it, const uint8_t *data, size_t len)
{
    size_t z = 0;

    if (data == NULL || len == 0)
        return SV_BAD_DATA;
    while (z < len && data[z] == 0)
        z++;
    if (z < 2 || z == len || data[z] != 1)
        return SV_BAD_DATA;
    it->p = data + z + 1;
    it->end = data + len;
    it->done = false;
    return SV_OK;
}

/*
 * The next unit, without its trailing zero bytes (those are trailing_zero_8bits
 * or the first byte of a 4-byte start code: a NAL unit never ends in 00).
 * Returns 1 with *nal, *len set; 0 after the last unit; SV_BAD_DATA for an
 * empty unit (two start codes in a row, or a start code ending the input).
 */
static int
annexb_next(annexb_iter_t *it, const uint8_t **nal, size_t *len)
{
    const uint8_t *next, *u;

    if (it->done)
        return 0;
    next = annexb_find_start(it->p, it->end);
    u = next;
    while (u > it->p && u[-1] == 0)
        u--;
    if (u == it->p)
        return SV_BAD_DATA;
    *nal = it->p;
    *len = (size_t)(u - it->p);
    if (next == it->end)
        it->done = true;
    else
        it->p = next + 3;
    return 1;
}

int
bitstream_is_annexb(const uint8_t *data, size_t len)
{
    if (data == NULL || len < 3 || data[0] != 0 || data[1] != 0)
        return 0;
    return data[2] == 1 || (len >= 4 && data[2] == 0 && data[3] == 1);
}

int
bitstream_annexb_to_mp4(const uint8_t *data, size_t len, buf_t *out)
{
    annexb_iter_t it;
    const uint8_t *nal;
    size_t n, start = out->len;
    uint8_t be[4];
    int rc, more;

    rc = annexb_begin(&it, data, len);
    if (rc != SV_OK)
        goto done;
    while ((more = annexb_next(&it, &nal, &n)) == 1) {
        if (n > UINT32_MAX) {
            rc = SV_BAD_DATA;
            goto done;
        }
        be[0] = (uint8_t)(n >> 24);
        be[1] = (uint8_t)(n >> 16);
        be[2] = (uint8_t)(n >> 8);
        be[3] = (uint8_t)n;
        if ((rc = buf_append(out, be, 4)) != SV_OK || (rc = buf_append(out, nal, n)) != SV_OK)
            goto done;
    }
    rc = more == 0 ? SV_OK : SV_BAD_DATA;
done:
    if (rc != SV_OK && out->len > start) {
        out->len = start; /* appended only on success */
        out->data[start] = '\0';
    }
    return rc;
}

/* ---- bit reader ---- */

/*
 * A big-endian bit reader. With epb set it reads the RBSP of an H.264 or
 * HEVC NAL unit: the 03 of every 00 00 03 (an emulation prevention byte) is
 * skipped. A read past end, or an exp-Golomb code longer than 32 bits, does
 * not fail at the call: it yields zero bits and sets the sticky flag bad,
 * which a parser checks once it has read its fields. Every loop a parser
 * runs before that check is bounded by the width of the field that drives
 * it, so garbage costs a bounded amount of work and never a read past end.
 */
typedef struct {
    const uint8_t *p;   /* byte holding the next bit */
    const uint8_t *end; /* p never passes it */
    unsigned bit;       /* bits of *p already read, 0..7 */
    unsigned zeros;     /* 00 bytes just before p, counted up to 2 */
    bool epb;
    bool bad;
} bitreader_t;

static void
br_init(bitreader_t *br, const uint8_t *p, size_t len, bool epb)
{
    br->p = p;
    br->end = len > 0 ? p + len : p; /* NULL + 0 is undefined */
    br->bit = 0;
    br->zeros = 0;
    br->epb = epb;
    br->bad = false;
}

static unsigned
br_bit(bitreader_t *br)
{
    unsigned v;

    if (br->bit == 0 && br->epb && br->zeros == 2 && br->end - br->p >= 1 && *br->p == 3) {
        br->p++;
        br->zeros = 0;
    }
    if (br->end - br->p < 1) {
        br->bad = true;
        return 0;
    }
    v = (*br->p >> (7 - br->bit)) & 1u;
    if (++br->bit == 8) {
        br->zeros = *br->p != 0 ? 0 : br->zeros < 2 ? br->zeros + 1 : 2;
        br->p++;
        br->bit = 0;
    }
    return v;
}

/* n bits (n <= 32) as an unsigned number, first bit most significant. */
static uint32_t
br_u(bitreader_t *br, unsigned n)
{
    uint32_t v = 0;
    while (n-- > 0)
        v = v << 1 | br_bit(br);
    return v;
}

static void
br_skip(bitreader_t *br, unsigned n)
{
    while (n-- > 0 && !br->bad)
        (void)br_bit(br);
}

/* ue(v), 14496-10 9.1: up to 31 leading zeros (values up to 2^32 - 2). */
static uint32_t
br_ue(bitreader_t *br)
{
    unsigned lz = 0;

    while (br_bit(br) == 0) {
        if (br->bad)
            return 0;
        if (++lz > 31) {
            br->bad = true;
            return 0;
        }
    }
    return (uint32_t)(((uint64_t)1 << lz) - 1 + br_u(br, lz));
}

/* se(v), 14496-10 9.1.1: 1, 2, 3, 4 ... map to 1, -1, 2, -2 ... No record
 * needs a signed field yet; it is here, tested, for the next parser. */
static int32_t br_se(bitreader_t *br) __attribute__((unused));

static int32_t
br_se(bitreader_t *br)
{
    uint32_t k = br_ue(br);
    return (k & 1) ? (int32_t)((k + 1) / 2) : -(int32_t)(k / 2);
}

/* uvlc(), AV1 4.10.3: 32 or more leading zeros mean 2^32 - 1. */
static uint32_t
br_uvlc(bitreader_t *br)
{
    unsigned lz = 0;

    while (br_bit(br) == 0) {
        if (br->bad)
            return 0;
        if (lz < 32)
            lz++;
    }
    if (lz >= 32)
        return UINT32_MAX;
    return (uint32_t)(((uint64_t)1 << lz) - 1 + br_u(br, lz));
}

/* ---- parameter set lists ---- */

typedef struct {
    uint8_t type;
    const uint8_t *p; /* into the caller's input */
    size_t len;
} bs_unit_t;

typedef struct {
    bs_unit_t u[BS_MAX_UNITS];
    size_t n;
} bs_units_t;

/* Adds a unit, once: a byte-identical repeat (the same SPS in every
 * keyframe) is dropped. SV_OK or SV_BAD_DATA (too many, too long). */
static int
units_add(bs_units_t *l, uint8_t type, const uint8_t *p, size_t len, char *err, size_t errlen)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->u[i].type == type && l->u[i].len == len && memcmp(l->u[i].p, p, len) == 0)
            return SV_OK;
    if (l->n == BS_MAX_UNITS)
        return bs_bad(err, errlen, "more than %d parameter sets", BS_MAX_UNITS);
    if (len > 0xFFFF)
        return bs_bad(err, errlen, "a parameter set of %zu bytes (at most 65535)", len);
    l->u[l->n].type = type;
    l->u[l->n].p = p;
    l->u[l->n].len = len;
    l->n++;
    return SV_OK;
}

static size_t
units_count(const bs_units_t *l, uint8_t type)
{
    size_t n = 0;
    for (size_t i = 0; i < l->n; i++)
        n += l->u[i].type == type;
    return n;
}

static const bs_unit_t *
units_first(const bs_units_t *l, uint8_t type)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->u[i].type == type)
            return &l->u[i];
    return NULL;
}

/* Appends every unit of a type as a 16-bit length and the unit. */
static int
units_write(const bs_units_t *l, uint8_t type, buf_t *b)
{
    uint8_t be[2];
    int rc;

    for (size_t i = 0; i < l->n; i++) {
        if (l->u[i].type != type)
            continue;
        be[0] = (uint8_t)(l->u[i].len >> 8);
        be[1] = (uint8_t)l->u[i].len;
        if ((rc = buf_append(b, be, 2)) != SV_OK ||
            (rc = buf_append(b, l->u[i].p, l->u[i].len)) != SV_OK)
            return rc;
    }
    return SV_OK;
}

/*
 * Checks `count` records units (16-bit length, unit) from *pp: each inside
 * end, at least hdr bytes (the NAL unit header), and of NAL unit type want
 * (the type is read by typeof_nal). Advances *pp past them.
 */
static int
record_units(const uint8_t **pp, const uint8_t *end, unsigned count, size_t hdr,
             unsigned (*typeof_nal)(const uint8_t *), unsigned want, const char *what,
             char *err, size_t errlen)
{
    const uint8_t *q = *pp;
    size_t n;

    for (unsigned i = 0; i < count; i++) {
        if (end - q < 2)
            return bs_bad(err, errlen, "record ends inside the length of %s %u", what, i + 1);
        n = bs_be16(q);
        q += 2;
        if (n > (size_t)(end - q))
            return bs_bad(err, errlen, "%s %u (%zu bytes) goes past the end of the record",
                          what, i + 1, n);
        if (n < hdr)
            return bs_bad(err, errlen, "%s %u is empty", what, i + 1);
        if (typeof_nal(q) != want)
            return bs_bad(err, errlen, "%s %u has NAL unit type %u", what, i + 1,
                          typeof_nal(q));
        q += n;
    }
    *pp = q;
    return SV_OK;
}

/* ---- H.264: SPS and avcC ---- */

static unsigned
avc_nal_type(const uint8_t *nal)
{
    return nal[0] & 0x1f;
}

typedef struct {
    uint8_t profile_idc, constraints, level_idc;
    uint8_t chroma_format_idc, bit_depth_luma_minus8, bit_depth_chroma_minus8;
} avc_sps_t;

/* The profiles whose SPS carries chroma_format_idc and bit depths (7.3.2.1.1;
 * 144 is the old High 4:4:4 that avcC still names). */
static bool
avc_profile_has_chroma(unsigned p)
{
    return p == 100 || p == 110 || p == 122 || p == 244 || p == 44 || p == 83 || p == 86 ||
           p == 118 || p == 128 || p == 138 || p == 139 || p == 134 || p == 135 || p == 144;
}

/* The profiles for which avcC carries chroma_format and bit depths (5.3.3.1.2). */
static bool
avc_profile_in_avcc_ext(unsigned p)
{
    return p == 100 || p == 110 || p == 122 || p == 144;
}

/* Reads an SPS NAL unit (with its header byte) up to the bit depths. */
static int
avc_parse_sps(const uint8_t *nal, size_t len, avc_sps_t *out, char *err, size_t errlen)
{
    bitreader_t br;
    avc_sps_t s = {0};
    uint32_t id, chroma = 1, luma8 = 0, chroma8 = 0;

    br_init(&br, nal, len, true);
    br_skip(&br, 8); /* nal unit header */
    s.profile_idc = (uint8_t)br_u(&br, 8);
    s.constraints = (uint8_t)br_u(&br, 8);
    s.level_idc = (uint8_t)br_u(&br, 8);
    id = br_ue(&br);
    if (avc_profile_has_chroma(s.profile_idc)) {
        chroma = br_ue(&br);
        if (chroma == 3)
            br_skip(&br, 1); /* separate_colour_plane_flag */
        luma8 = br_ue(&br);
        chroma8 = br_ue(&br);
    }
    if (br.bad)
        return bs_bad(err, errlen, "SPS is truncated");
    if (id > 31)
        return bs_bad(err, errlen, "SPS id %u (at most 31)", id);
    if (chroma > 3)
        return bs_bad(err, errlen, "SPS chroma_format_idc %u", chroma);
    if (luma8 > 6 || chroma8 > 6)
        return bs_bad(err, errlen, "SPS bit depth %u/%u (at most 14)", luma8 + 8, chroma8 + 8);
    s.chroma_format_idc = (uint8_t)chroma;
    s.bit_depth_luma_minus8 = (uint8_t)luma8;
    s.bit_depth_chroma_minus8 = (uint8_t)chroma8;
    *out = s;
    return SV_OK;
}

/* Checks an avcC record (5.3.3.1): SV_OK or SV_BAD_DATA with err. */
static int
avcc_check(const uint8_t *p, size_t len, char *err, size_t errlen)
{
    const uint8_t *q, *end = p + len;
    int rc;

    if (len < 7)
        return bs_bad(err, errlen, "avcC of %zu bytes (at least 7)", len);
    if (p[0] != 1)
        return bs_bad(err, errlen, "avcC configurationVersion %u", p[0]);
    if ((p[4] & 3) == 2)
        return bs_bad(err, errlen, "avcC lengthSizeMinusOne 2");
    q = p + 6;
    rc = record_units(&q, end, p[5] & 0x1f, 1, avc_nal_type, 7, "avcC SPS", err, errlen);
    if (rc != SV_OK)
        return rc;
    if (end - q < 1)
        return bs_bad(err, errlen, "avcC ends before numOfPictureParameterSets");
    q++;
    rc = record_units(&q, end, q[-1], 1, avc_nal_type, 8, "avcC PPS", err, errlen);
    if (rc != SV_OK)
        return rc;
    /* The High profile tail; muxers also write it for other profiles. */
    if (end - q > 0) {
        if (end - q < 4)
            return bs_bad(err, errlen, "avcC ends inside its chroma_format fields");
        q += 4;
        rc = record_units(&q, end, q[-1], 1, avc_nal_type, 13, "avcC SPS extension", err,
                          errlen);
        if (rc != SV_OK)
            return rc;
        if (end - q > 0)
            return bs_bad(err, errlen, "%zu bytes after the avcC record", (size_t)(end - q));
    }
    return SV_OK;
}

/* Replaces out's contents with tmp's (tmp is consumed). */
static void
bs_give(buf_t *out, buf_t *tmp)
{
    buf_free(out);
    *out = *tmp;
    buf_init(tmp, tmp->max);
}

int
bitstream_avcc(const uint8_t *in, size_t len, buf_t *out, char *err, size_t errlen)
{
    annexb_iter_t it;
    bs_units_t ps;
    avc_sps_t sps = {0};
    const bs_unit_t *first;
    const uint8_t *nal;
    size_t n, nsps, npps, next;
    uint8_t hdr[6], tail[4];
    buf_t tmp;
    int rc, more;

    buf_init(&tmp, out->max);
    ps.n = 0;
    if (in == NULL || len == 0) {
        rc = bs_bad(err, errlen, "no parameter sets (empty input)");
        goto done;
    }
    if (in[0] == 1) {
        if ((rc = avcc_check(in, len, err, errlen)) != SV_OK)
            goto done;
        rc = buf_append(&tmp, in, len);
        goto done;
    }
    if (annexb_begin(&it, in, len) != SV_OK) {
        rc = bs_bad(err, errlen, "neither an avcC record nor Annex B (no start code)");
        goto done;
    }
    while ((more = annexb_next(&it, &nal, &n)) == 1) {
        unsigned type = avc_nal_type(nal);
        if (nal[0] & 0x80) {
            rc = bs_bad(err, errlen, "NAL unit with forbidden_zero_bit set");
            goto done;
        }
        if (type == 7 || type == 8 || type == 13) {
            if ((rc = units_add(&ps, (uint8_t)type, nal, n, err, errlen)) != SV_OK)
                goto done;
        }
    }
    if (more < 0) {
        rc = bs_bad(err, errlen, "empty NAL unit");
        goto done;
    }
    nsps = units_count(&ps, 7);
    npps = units_count(&ps, 8);
    next = units_count(&ps, 13);
    if (nsps == 0 || npps == 0) {
        rc = bs_bad(err, errlen, nsps == 0 ? "no SPS" : "no PPS");
        goto done;
    }
    if (nsps > 31) {
        rc = bs_bad(err, errlen, "%zu SPS (avcC holds at most 31)", nsps);
        goto done;
    }
    first = units_first(&ps, 7);
    if ((rc = avc_parse_sps(first->p, first->len, &sps, err, errlen)) != SV_OK)
        goto done;

    hdr[0] = 1; /* configurationVersion */
    hdr[1] = sps.profile_idc;
    hdr[2] = sps.constraints; /* profile_compatibility */
    hdr[3] = sps.level_idc;
    hdr[4] = 0xFC | 3; /* lengthSizeMinusOne: 4-byte lengths */
    hdr[5] = (uint8_t)(0xE0 | nsps);
    if ((rc = buf_append(&tmp, hdr, 6)) != SV_OK || (rc = units_write(&ps, 7, &tmp)) != SV_OK ||
        (rc = buf_append_char(&tmp, (char)npps)) != SV_OK ||
        (rc = units_write(&ps, 8, &tmp)) != SV_OK)
        goto done;
    if (avc_profile_in_avcc_ext(sps.profile_idc)) {
        tail[0] = 0xFC | sps.chroma_format_idc;
        tail[1] = 0xF8 | sps.bit_depth_luma_minus8;
        tail[2] = 0xF8 | sps.bit_depth_chroma_minus8;
        tail[3] = (uint8_t)next; /* numOfSequenceParameterSetExt; next < BS_MAX_UNITS */
        if ((rc = buf_append(&tmp, tail, 4)) != SV_OK ||
            (rc = units_write(&ps, 13, &tmp)) != SV_OK)
            goto done;
    }
    rc = SV_OK;
done:
    if (rc == SV_OK)
        bs_give(out, &tmp);
    buf_free(&tmp);
    return rc;
}

int
bitstream_codec_string_avc(const uint8_t *avcc, size_t len, char *out, size_t cap)
{
    char s[32];
    int n;

    if (avcc == NULL || avcc_check(avcc, len, NULL, 0) != SV_OK)
        return SV_BAD_DATA;
    n = snprintf(s, sizeof(s), "avc1.%02X%02X%02X", avcc[1], avcc[2], avcc[3]);
    if (n < 0 || (size_t)n >= cap)
        return SV_TOO_BIG;
    memcpy(out, s, (size_t)n + 1);
    return SV_OK;
}

/* ---- HEVC: SPS and hvcC ---- */

enum { HEVC_VPS = 32, HEVC_SPS = 33, HEVC_PPS = 34, HEVC_SEI_PREFIX = 39 };

static unsigned
hevc_nal_type(const uint8_t *nal)
{
    return (nal[0] >> 1) & 0x3f;
}

typedef struct {
    uint8_t ptl[12]; /* profile_space..general_level_idc, as hvcC bytes 1..12 */
    uint8_t max_sub_layers_minus1, temporal_id_nesting;
    uint8_t chroma_format_idc, bit_depth_luma_minus8, bit_depth_chroma_minus8;
} hevc_sps_t;

/* Reads an SPS NAL unit (with its 2-byte header) up to the bit depths. */
static int
hevc_parse_sps(const uint8_t *nal, size_t len, hevc_sps_t *out, char *err, size_t errlen)
{
    bitreader_t br;
    hevc_sps_t s = {0};
    uint32_t id, chroma, luma8, chroma8, w, h;
    unsigned subs, prof_present[8], level_present[8];

    br_init(&br, nal, len, true);
    br_skip(&br, 16); /* nal unit header */
    br_skip(&br, 4);  /* sps_video_parameter_set_id */
    subs = br_u(&br, 3);
    s.temporal_id_nesting = (uint8_t)br_u(&br, 1);
    /* profile_tier_level(1, subs), 7.3.3: the general part is 12 whole bytes,
     * the same bytes hvcC carries. */
    for (unsigned i = 0; i < 12; i++)
        s.ptl[i] = (uint8_t)br_u(&br, 8);
    for (unsigned i = 0; i < subs; i++) {
        prof_present[i] = br_u(&br, 1);
        level_present[i] = br_u(&br, 1);
    }
    if (subs > 0)
        br_skip(&br, 2 * (8 - subs)); /* reserved_zero_2bits */
    for (unsigned i = 0; i < subs; i++) {
        if (prof_present[i])
            br_skip(&br, 88); /* sub_layer profile_space .. reserved bits */
        if (level_present[i])
            br_skip(&br, 8); /* sub_layer_level_idc */
    }
    id = br_ue(&br);
    chroma = br_ue(&br);
    if (chroma == 3)
        br_skip(&br, 1); /* separate_colour_plane_flag */
    w = br_ue(&br);
    h = br_ue(&br);
    if (br_u(&br, 1)) { /* conformance_window_flag */
        for (int i = 0; i < 4; i++)
            (void)br_ue(&br);
    }
    luma8 = br_ue(&br);
    chroma8 = br_ue(&br);
    if (br.bad)
        return bs_bad(err, errlen, "SPS is truncated");
    if (subs > 6)
        return bs_bad(err, errlen, "SPS sps_max_sub_layers_minus1 %u (at most 6)", subs);
    if (id > 15)
        return bs_bad(err, errlen, "SPS id %u (at most 15)", id);
    if (chroma > 3)
        return bs_bad(err, errlen, "SPS chroma_format_idc %u", chroma);
    if (w == 0 || h == 0)
        return bs_bad(err, errlen, "SPS picture size %ux%u", w, h);
    if (luma8 > 7 || chroma8 > 7)
        return bs_bad(err, errlen, "SPS bit depth %u/%u (at most 15)", luma8 + 8, chroma8 + 8);
    s.max_sub_layers_minus1 = (uint8_t)subs;
    s.chroma_format_idc = (uint8_t)chroma;
    s.bit_depth_luma_minus8 = (uint8_t)luma8;
    s.bit_depth_chroma_minus8 = (uint8_t)chroma8;
    *out = s;
    return SV_OK;
}

/* Checks an hvcC record (8.3.3.1): SV_OK or SV_BAD_DATA with err. */
static int
hvcc_check(const uint8_t *p, size_t len, char *err, size_t errlen)
{
    const uint8_t *q, *end = p + len;
    unsigned narrays;
    char what[32];
    int rc;

    if (len < 23)
        return bs_bad(err, errlen, "hvcC of %zu bytes (at least 23)", len);
    if (p[0] != 1)
        return bs_bad(err, errlen, "hvcC configurationVersion %u", p[0]);
    if ((p[21] & 3) == 2)
        return bs_bad(err, errlen, "hvcC lengthSizeMinusOne 2");
    narrays = p[22];
    q = p + 23;
    for (unsigned i = 0; i < narrays; i++) {
        unsigned type;
        if (end - q < 3)
            return bs_bad(err, errlen, "hvcC ends inside the header of array %u", i + 1);
        type = q[0] & 0x3f;
        snprintf(what, sizeof(what), "hvcC array %u unit", i + 1);
        q += 3;
        rc = record_units(&q, end, bs_be16(q - 2), 2, hevc_nal_type, type, what, err, errlen);
        if (rc != SV_OK)
            return rc;
    }
    if (end - q > 0)
        return bs_bad(err, errlen, "%zu bytes after the hvcC record", (size_t)(end - q));
    return SV_OK;
}

int
bitstream_hvcc(const uint8_t *in, size_t len, buf_t *out, char *err, size_t errlen)
{
    static const uint8_t order[] = {HEVC_VPS, HEVC_SPS, HEVC_PPS, HEVC_SEI_PREFIX};
    annexb_iter_t it;
    bs_units_t ps;
    hevc_sps_t sps = {0};
    const bs_unit_t *first;
    const uint8_t *nal;
    size_t n;
    uint8_t hdr[23], arr[3];
    unsigned narrays = 0;
    buf_t tmp;
    int rc, more;

    buf_init(&tmp, out->max);
    ps.n = 0;
    if (in == NULL || len == 0) {
        rc = bs_bad(err, errlen, "no parameter sets (empty input)");
        goto done;
    }
    if (in[0] == 1) {
        if ((rc = hvcc_check(in, len, err, errlen)) != SV_OK)
            goto done;
        rc = buf_append(&tmp, in, len);
        goto done;
    }
    if (annexb_begin(&it, in, len) != SV_OK) {
        rc = bs_bad(err, errlen, "neither an hvcC record nor Annex B (no start code)");
        goto done;
    }
    while ((more = annexb_next(&it, &nal, &n)) == 1) {
        unsigned type;
        if (n < 2) {
            rc = bs_bad(err, errlen, "NAL unit of 1 byte (the header alone is 2)");
            goto done;
        }
        if (nal[0] & 0x80) {
            rc = bs_bad(err, errlen, "NAL unit with forbidden_zero_bit set");
            goto done;
        }
        type = hevc_nal_type(nal);
        if (type == HEVC_VPS || type == HEVC_SPS || type == HEVC_PPS ||
            type == HEVC_SEI_PREFIX) {
            if ((rc = units_add(&ps, (uint8_t)type, nal, n, err, errlen)) != SV_OK)
                goto done;
        }
    }
    if (more < 0) {
        rc = bs_bad(err, errlen, "empty NAL unit");
        goto done;
    }
    for (unsigned i = 0; i < 3; i++) {
        if (units_count(&ps, order[i]) == 0) {
            rc = bs_bad(err, errlen, "no %s", i == 0 ? "VPS" : i == 1 ? "SPS" : "PPS");
            goto done;
        }
    }
    first = units_first(&ps, HEVC_SPS);
    if ((rc = hevc_parse_sps(first->p, first->len, &sps, err, errlen)) != SV_OK)
        goto done;

    for (unsigned i = 0; i < sizeof(order); i++)
        narrays += units_count(&ps, order[i]) > 0;
    hdr[0] = 1; /* configurationVersion */
    memcpy(hdr + 1, sps.ptl, 12);
    hdr[13] = 0xF0; /* min_spatial_segmentation_idc 0: no guarantee given */
    hdr[14] = 0x00;
    hdr[15] = 0xFC; /* parallelismType 0: unknown */
    hdr[16] = 0xFC | sps.chroma_format_idc;
    hdr[17] = 0xF8 | sps.bit_depth_luma_minus8;
    hdr[18] = 0xF8 | sps.bit_depth_chroma_minus8;
    hdr[19] = 0; /* avgFrameRate 0: unspecified */
    hdr[20] = 0;
    /* constantFrameRate 0, numTemporalLayers, temporalIdNested, lengthSizeMinusOne 3 */
    hdr[21] =
        (uint8_t)((sps.max_sub_layers_minus1 + 1) << 3 | sps.temporal_id_nesting << 2 | 3);
    hdr[22] = (uint8_t)narrays;
    if ((rc = buf_append(&tmp, hdr, sizeof(hdr))) != SV_OK)
        goto done;
    for (unsigned i = 0; i < sizeof(order); i++) {
        size_t count = units_count(&ps, order[i]);
        if (count == 0)
            continue;
        /* array_completeness: 1 for the parameter sets (as hvc1 requires: all of
         * them are here, none in the samples), 0 for SEI. */
        arr[0] = (uint8_t)((order[i] == HEVC_SEI_PREFIX ? 0x00 : 0x80) | order[i]);
        arr[1] = 0;
        arr[2] = (uint8_t)count; /* count <= BS_MAX_UNITS */
        if ((rc = buf_append(&tmp, arr, 3)) != SV_OK ||
            (rc = units_write(&ps, order[i], &tmp)) != SV_OK)
            goto done;
    }
    rc = SV_OK;
done:
    if (rc == SV_OK)
        bs_give(out, &tmp);
    buf_free(&tmp);
    return rc;
}

int
bitstream_codec_string_hevc(const uint8_t *hvcc, size_t len, char *out, size_t cap)
{
    static const char *const space[] = {"", "A", "B", "C"};
    uint32_t compat, rev = 0;
    unsigned ncon = 6;
    char s[64];
    int n;

    if (hvcc == NULL || hvcc_check(hvcc, len, NULL, 0) != SV_OK)
        return SV_BAD_DATA;
    /* general_profile_compatibility_flag[j] is bit 31 - j of the field;
     * the string puts flag j at bit j ("in reverse bit order"). */
    compat = bs_be32(hvcc + 2);
    for (unsigned j = 0; j < 32; j++)
        rev |= ((compat >> (31 - j)) & 1u) << j;
    n = snprintf(s, sizeof(s), "hvc1.%s%u.%X.%c%u", space[hvcc[1] >> 6], hvcc[1] & 0x1fu, rev,
                 (hvcc[1] & 0x20) ? 'H' : 'L', hvcc[12]);
    /* The six constraint bytes, trailing zero bytes left out. */
    while (ncon > 0 && hvcc[6 + ncon - 1] == 0)
        ncon--;
    for (unsigned i = 0; i < ncon && n > 0 && (size_t)n < sizeof(s); i++)
        n += snprintf(s + n, sizeof(s) - (size_t)n, ".%X", hvcc[6 + i]);
    if (n < 0 || (size_t)n >= sizeof(s) || (size_t)n >= cap)
        return SV_TOO_BIG;
    memcpy(out, s, (size_t)n + 1);
    return SV_OK;
}

/* ---- AV1: OBUs, the sequence header and av1C ---- */

enum { AV1_OBU_SEQUENCE_HEADER = 1 };

/* leb128(), AV1 4.10.5: at most 8 bytes, a value below 2^32. */
static int
av1_leb128(const uint8_t **pp, const uint8_t *end, uint64_t *out)
{
    const uint8_t *p = *pp;
    uint64_t v = 0;

    for (unsigned i = 0; i < 8; i++) {
        if (end - p < 1)
            return SV_BAD_DATA;
        v |= (uint64_t)(*p & 0x7f) << (7 * i);
        if ((*p++ & 0x80) == 0) {
            if (v > UINT32_MAX)
                return SV_BAD_DATA;
            *out = v;
            *pp = p;
            return SV_OK;
        }
    }
    return SV_BAD_DATA;
}

typedef struct {
    unsigned type;
    const uint8_t *start; /* the first header byte */
    size_t header_len;    /* 1, or 2 with obu_extension_flag (without obu_size) */
    bool has_size;
    const uint8_t *payload;
    size_t payload_len;
} av1_obu_t;

/* The OBU at *pp (5.3.1); advances *pp past it. Without obu_has_size_field
 * the OBU runs to end. */
static int
av1_obu_next(const uint8_t **pp, const uint8_t *end, av1_obu_t *o, char *err, size_t errlen)
{
    const uint8_t *p = *pp;
    uint64_t size;
    uint8_t h;

    if (end - p < 1)
        return bs_bad(err, errlen, "OBU header past the end");
    h = *p++;
    if (h & 0x80)
        return bs_bad(err, errlen, "OBU with obu_forbidden_bit set");
    o->type = (h >> 3) & 0x0f;
    o->has_size = (h & 0x02) != 0;
    o->header_len = 1;
    if (h & 0x04) {
        if (end - p < 1)
            return bs_bad(err, errlen, "OBU extension header past the end");
        p++;
        o->header_len = 2;
    }
    if (o->has_size) {
        if (av1_leb128(&p, end, &size) != SV_OK)
            return bs_bad(err, errlen, "OBU with a malformed obu_size");
        if (size > (uint64_t)(end - p))
            return bs_bad(err, errlen, "OBU of %llu bytes goes past the end",
                          (unsigned long long)size);
    } else {
        size = (uint64_t)(end - p);
    }
    o->start = *pp;
    o->payload = p;
    o->payload_len = (size_t)size;
    *pp = p + size;
    return SV_OK;
}

typedef struct {
    uint8_t profile, level0, tier0, bit_depth;
    uint8_t high_bitdepth, twelve_bit, mono_chrome;
    uint8_t subsampling_x, subsampling_y, chroma_sample_position;
    uint8_t color_description_present, color_primaries, transfer_characteristics,
        matrix_coefficients, color_range;
    size_t bits; /* bits read: trailing_bits() start here in a conforming header */
} av1_seq_t;

/* Reads a sequence_header_obu() payload (AV1 5.5) to its end. */
static int
av1_parse_seq(const uint8_t *p, size_t len, av1_seq_t *out, char *err, size_t errlen)
{
    bitreader_t br;
    av1_seq_t s = {0};
    unsigned reduced, ops, delay_len = 0, wbits, hbits, order_hint, force_sct;
    bool decoder_model = false, display_delay;

    br_init(&br, p, len, false);
    s.profile = (uint8_t)br_u(&br, 3);
    if (s.profile > 2)
        return bs_bad(err, errlen, "sequence header seq_profile %u is reserved", s.profile);
    br_skip(&br, 1); /* still_picture */
    reduced = br_u(&br, 1);
    if (reduced) {
        s.level0 = (uint8_t)br_u(&br, 5);
    } else {
        if (br_u(&br, 1)) {   /* timing_info_present_flag */
            br_skip(&br, 64); /* num_units_in_display_tick, time_scale */
            if (br_u(&br, 1)) /* equal_picture_interval */
                (void)br_uvlc(&br);
            decoder_model = br_u(&br, 1);
            if (decoder_model) {
                delay_len = br_u(&br, 5) + 1;
                br_skip(&br, 32 + 5 + 5); /* decoding tick, two length fields */
            }
        }
        display_delay = br_u(&br, 1);
        ops = br_u(&br, 5) + 1;
        for (unsigned i = 0; i < ops && !br.bad; i++) {
            unsigned level, tier = 0;
            br_skip(&br, 12); /* operating_point_idc */
            level = br_u(&br, 5);
            if (level > 7)
                tier = br_u(&br, 1);
            if (decoder_model && br_u(&br, 1))
                br_skip(&br, 2 * delay_len + 1); /* operating_parameters_info() */
            if (display_delay && br_u(&br, 1))
                br_skip(&br, 4); /* initial_display_delay_minus_1 */
            if (i == 0) {
                s.level0 = (uint8_t)level;
                s.tier0 = (uint8_t)tier;
            }
        }
    }
    wbits = br_u(&br, 4) + 1;
    hbits = br_u(&br, 4) + 1;
    br_skip(&br, wbits + hbits); /* max_frame_width/height_minus_1 */
    if (!reduced && br_u(&br, 1))
        br_skip(&br, 4 + 3); /* frame id lengths */
    br_skip(&br, 3);         /* 128x128 superblock, filter intra, intra edge filter */
    if (!reduced) {
        br_skip(&br, 4); /* interintra, masked compound, warped motion, dual filter */
        order_hint = br_u(&br, 1);
        if (order_hint)
            br_skip(&br, 2); /* jnt_comp, ref_frame_mvs */
        force_sct = br_u(&br, 1) ? 2 : br_u(&br, 1);
        if (force_sct > 0 && !br_u(&br, 1)) /* seq_choose_integer_mv */
            br_skip(&br, 1);                /* seq_force_integer_mv */
        if (order_hint)
            br_skip(&br, 3); /* order_hint_bits_minus_1 */
    }
    br_skip(&br, 3); /* superres, cdef, restoration */

    /* color_config(), 5.5.2 */
    s.high_bitdepth = (uint8_t)br_u(&br, 1);
    if (s.profile == 2 && s.high_bitdepth)
        s.twelve_bit = (uint8_t)br_u(&br, 1);
    s.bit_depth = s.twelve_bit ? 12 : s.high_bitdepth ? 10 : 8;
    s.mono_chrome = s.profile == 1 ? 0 : (uint8_t)br_u(&br, 1);
    s.color_description_present = (uint8_t)br_u(&br, 1);
    if (s.color_description_present) {
        s.color_primaries = (uint8_t)br_u(&br, 8);
        s.transfer_characteristics = (uint8_t)br_u(&br, 8);
        s.matrix_coefficients = (uint8_t)br_u(&br, 8);
    } else {
        s.color_primaries = s.transfer_characteristics = s.matrix_coefficients = 2;
    }
    if (s.mono_chrome) {
        s.color_range = (uint8_t)br_u(&br, 1);
        s.subsampling_x = s.subsampling_y = 1;
    } else if (s.color_primaries == 1 && s.transfer_characteristics == 13 &&
               s.matrix_coefficients == 0) { /* sRGB: 4:4:4, full range */
        s.color_range = 1;
        br_skip(&br, 1); /* separate_uv_delta_q */
    } else {
        s.color_range = (uint8_t)br_u(&br, 1);
        if (s.profile == 0) {
            s.subsampling_x = s.subsampling_y = 1;
        } else if (s.profile == 2) {
            if (s.bit_depth == 12) {
                s.subsampling_x = (uint8_t)br_u(&br, 1);
                if (s.subsampling_x)
                    s.subsampling_y = (uint8_t)br_u(&br, 1);
            } else {
                s.subsampling_x = 1;
            }
        }
        if (s.subsampling_x && s.subsampling_y)
            s.chroma_sample_position = (uint8_t)br_u(&br, 2);
        br_skip(&br, 1); /* separate_uv_delta_q */
    }
    br_skip(&br, 1); /* film_grain_params_present */
    if (br.bad)
        return bs_bad(err, errlen, "sequence header is truncated");
    s.bits = (size_t)(br.p - p) * 8 + br.bit;
    *out = s;
    return SV_OK;
}

/* The four fixed bytes of av1C from a sequence header. */
static void
av1c_header(const av1_seq_t *s, uint8_t h[4])
{
    h[0] = 0x81; /* marker, version 1 */
    h[1] = (uint8_t)(s->profile << 5 | s->level0);
    h[2] = (uint8_t)(s->tier0 << 7 | s->high_bitdepth << 6 | s->twelve_bit << 5 |
                     s->mono_chrome << 4 | s->subsampling_x << 3 | s->subsampling_y << 2 |
                     s->chroma_sample_position);
    h[3] = 0; /* reserved, initial_presentation_delay_present 0 */
}

/*
 * Checks an av1C record (AV1-ISOBMFF 2.3.3): the marker and version, and
 * configOBUs as OBUs that stay inside the record. A sequence header among
 * them must parse; *seq gets it and *has_seq says whether there was one.
 */
static int
av1c_check(const uint8_t *p, size_t len, av1_seq_t *seq, bool *has_seq, char *err,
           size_t errlen)
{
    const uint8_t *q, *end;
    av1_obu_t obu;
    int rc;

    *has_seq = false;
    if (len < 4)
        return bs_bad(err, errlen, "av1C of %zu bytes (at least 4)", len);
    if (p[0] != 0x81)
        return bs_bad(err, errlen, "av1C marker/version byte 0x%02X (expected 0x81)", p[0]);
    q = p + 4;
    end = p + len;
    while (end - q > 0) {
        if ((rc = av1_obu_next(&q, end, &obu, err, errlen)) != SV_OK)
            return rc;
        if (obu.type == AV1_OBU_SEQUENCE_HEADER && !*has_seq) {
            rc = av1_parse_seq(obu.payload, obu.payload_len, seq, err, errlen);
            if (rc != SV_OK)
                return rc;
            *has_seq = true;
        }
    }
    return SV_OK;
}

int
bitstream_av1c(const uint8_t *in, size_t len, buf_t *out, char *err, size_t errlen)
{
    const uint8_t *q, *end;
    av1_obu_t obu;
    av1_seq_t seq = {0};
    bool found = false, has_seq;
    uint8_t h[4], lebsz[8];
    size_t nleb = 0, v;
    buf_t tmp;
    int rc;

    buf_init(&tmp, out->max);
    if (in == NULL || len == 0) {
        rc = bs_bad(err, errlen, "no sequence header (empty input)");
        goto done;
    }
    if (in[0] == 0x81) {
        if ((rc = av1c_check(in, len, &seq, &has_seq, err, errlen)) != SV_OK)
            goto done;
        rc = buf_append(&tmp, in, len);
        goto done;
    }
    q = in;
    end = in + len;
    while (end - q > 0) {
        if ((rc = av1_obu_next(&q, end, &obu, err, errlen)) != SV_OK)
            goto done;
        if (obu.type == AV1_OBU_SEQUENCE_HEADER) {
            found = true;
            break;
        }
    }
    if (!found) {
        rc = bs_bad(err, errlen, "no sequence header OBU");
        goto done;
    }
    if ((rc = av1_parse_seq(obu.payload, obu.payload_len, &seq, err, errlen)) != SV_OK)
        goto done;
    av1c_header(&seq, h);
    if ((rc = buf_append(&tmp, h, 4)) != SV_OK)
        goto done;
    /* configOBUs: the sequence header OBU, with obu_size (the low overhead
     * format): copied when it has one, else given one. */
    if (obu.has_size) {
        rc = buf_append(&tmp, obu.start, (size_t)(obu.payload + obu.payload_len - obu.start));
        goto done;
    }
    if (obu.payload_len > UINT32_MAX) {
        rc = bs_bad(err, errlen, "sequence header OBU of %zu bytes", obu.payload_len);
        goto done;
    }
    v = obu.payload_len;
    do {
        lebsz[nleb++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v > 0 && nleb < sizeof(lebsz));
    h[0] = obu.start[0] | 0x02; /* obu_has_size_field */
    if ((rc = buf_append(&tmp, h, 1)) != SV_OK ||
        (rc = buf_append(&tmp, obu.start + 1, obu.header_len - 1)) != SV_OK ||
        (rc = buf_append(&tmp, lebsz, nleb)) != SV_OK ||
        (rc = buf_append(&tmp, obu.payload, obu.payload_len)) != SV_OK)
        goto done;
    rc = SV_OK;
done:
    if (rc == SV_OK)
        bs_give(out, &tmp);
    buf_free(&tmp);
    return rc;
}

int
bitstream_codec_string_av1(const uint8_t *av1c, size_t len, char *out, size_t cap)
{
    av1_seq_t seq = {0};
    bool has_seq;
    unsigned profile, level, tier, depth, mono, ssx, ssy, csp, cp = 2, tc = 2, mc = 2, full = 0;
    char s[64];
    int n;

    if (av1c == NULL || av1c_check(av1c, len, &seq, &has_seq, NULL, 0) != SV_OK)
        return SV_BAD_DATA;
    profile = av1c[1] >> 5;
    level = av1c[1] & 0x1f;
    tier = av1c[2] >> 7;
    depth = (av1c[2] & 0x20) ? 12 : (av1c[2] & 0x40) ? 10 : 8;
    mono = (av1c[2] >> 4) & 1;
    ssx = (av1c[2] >> 3) & 1;
    ssy = (av1c[2] >> 2) & 1;
    csp = av1c[2] & 3;
    n = snprintf(s, sizeof(s), "av01.%u.%02u%c.%02u", profile, level, tier ? 'H' : 'M', depth);
    /*
     * The optional fields are all or none (AV1-ISOBMFF 5); left out, a reader
     * assumes 0.110.01.01.01.0. They are written when the sequence header
     * describes its colours (as ffmpeg's DASH and HLS muxers do), and also
     * when the chroma layout or range differs from those defaults, so that
     * what a reader assumes is never wrong. The colour fields come from the
     * sequence header in configOBUs; without one, or without a colour
     * description, they are 2: unspecified (AV1 6.4.2).
     */
    if (has_seq) {
        cp = seq.color_primaries;
        tc = seq.transfer_characteristics;
        mc = seq.matrix_coefficients;
        full = seq.color_range;
    }
    if ((has_seq && seq.color_description_present) || mono || !(ssx && ssy && csp == 0) ||
        full) {
        if (n > 0 && (size_t)n < sizeof(s))
            n += snprintf(s + n, sizeof(s) - (size_t)n, ".%u.%u%u%u.%02u.%02u.%02u.%u", mono,
                          ssx, ssy, csp, cp, tc, mc, full);
    }
    if (n < 0 || (size_t)n >= sizeof(s) || (size_t)n >= cap)
        return SV_TOO_BIG;
    memcpy(out, s, (size_t)n + 1);
    return SV_OK;
}

/* ---- AAC ---- */

int
bitstream_codec_string_aac(const uint8_t *asc, size_t len, char *out, size_t cap)
{
    unsigned aot;
    char s[16];
    int n;

    /* AudioSpecificConfig (14496-3 1.6.2.1): audioObjectType is 5 bits,
     * 31 escaping to 32 + the next 6 bits. */
    if (asc == NULL || len < 1)
        return SV_BAD_DATA;
    aot = asc[0] >> 3;
    if (aot == 31) {
        if (len < 2)
            return SV_BAD_DATA;
        aot = 32 + (((asc[0] & 7u) << 3) | (asc[1] >> 5));
    }
    if (aot == 0)
        return SV_BAD_DATA; /* "null" object type */
    n = snprintf(s, sizeof(s), "mp4a.40.%u", aot);
    if (n < 0 || (size_t)n >= cap)
        return SV_TOO_BIG;
    memcpy(out, s, (size_t)n + 1);
    return SV_OK;
}

/* ---- AV1 temporal units as MP4 samples ---- */

int
bitstream_av1_to_mp4(const uint8_t *data, size_t len, buf_t *out)
{
    const uint8_t *p = data, *end = data + len;
    int rc;

    if (len == 0)
        return SV_BAD_DATA;
    while (p < end) {
        uint8_t h = *p++, ext = 0;
        uint64_t size;
        int type = (h >> 3) & 0x0f;
        bool has_ext = (h & 0x04) != 0, has_size = (h & 0x02) != 0;
        if (h & 0x80)
            return SV_BAD_DATA; /* forbidden bit */
        if (has_ext) {
            if (p >= end)
                return SV_BAD_DATA;
            ext = *p++;
        }
        if (has_size) {
            if (av1_leb128(&p, end, &size) != SV_OK)
                return SV_BAD_DATA;
        } else {
            size = (uint64_t)(end - p);
        }
        if (size > (uint64_t)(end - p))
            return SV_BAD_DATA;
        /* Temporal delimiters (2), redundant frame headers (7) and padding
         * (15) are not stored in MP4 samples. */
        if (type != 2 && type != 7 && type != 15) {
            uint8_t hdr[2 + 8];
            size_t hl = 0, v = (size_t)size;
            hdr[hl++] = (uint8_t)(h | 0x02);
            if (has_ext)
                hdr[hl++] = ext;
            do {
                uint8_t b = v & 0x7f;
                v >>= 7;
                hdr[hl++] = (uint8_t)(b | (v ? 0x80 : 0));
            } while (v && hl < sizeof(hdr));
            if ((rc = buf_append(out, hdr, hl)) != SV_OK ||
                (rc = buf_append(out, p, (size_t)size)) != SV_OK)
                return rc;
        }
        p += size;
    }
    return SV_OK;
}
