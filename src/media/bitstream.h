/*
 * bitstream.h: codec bitstream facts an MP4 packager needs, read from the
 * bytes themselves (no libav types here).
 *
 *  - Annex B byte streams (00 00 01 start codes, as libx264/libx265 emit
 *    them) to the 4-byte length-prefixed NAL units MP4 stores;
 *  - the codec configuration records of the sample entries: avcC (ISO/IEC
 *    14496-15 5.3.3), hvcC (14496-15 8.3.3) from the parameter sets, av1C
 *    (AV1-ISOBMFF 2.3) from the sequence header OBU;
 *  - the RFC 6381 codec strings HLS CODECS and DASH @codecs carry, taken
 *    from those records: "avc1.64001F", "hvc1.2.4.L120.B0",
 *    "av01.0.08M.10.0.110.09.16.09.0", "mp4a.40.2".
 *
 * Every function here reads untrusted bytes: it never reads past the end
 * it was given and reports malformed input as SV_BAD_DATA with a reason.
 */
#ifndef SV_BITSTREAM_H
#define SV_BITSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

/*
 * Appends the NAL units of an Annex B buffer to out, each as a 4-byte
 * big-endian length and the unit (trailing zero bytes of a unit dropped).
 * The buffer may open with zero bytes, then must have a start code (3 or 4
 * bytes); every start code must be followed by a unit. Input that is
 * already length-prefixed is not detected: callers know.
 * SV_OK; SV_BAD_DATA (empty input, no start code, empty unit); SV_TOO_BIG
 * (out's ceiling), SV_NO_MEMORY. On failure out is as it was.
 */
int bitstream_annexb_to_mp4(const uint8_t *data, size_t len, buf_t *out);

/*
 * Appends an AV1 temporal unit as MP4 stores it (AV1-ISOBMFF 2.4): every
 * OBU except temporal delimiters, padding and redundant frame headers,
 * each with its size field. SV_OK, SV_BAD_DATA, SV_NO_MEMORY.
 */
int bitstream_av1_to_mp4(const uint8_t *data, size_t len, buf_t *out);

/* True when data starts with an Annex B start code (00 00 01 or 00 00 00 01). */
int bitstream_is_annexb(const uint8_t *data, size_t len);

/*
 * avcC from H.264 parameter sets. in is either Annex B (SPS/PPS NAL units
 * with start codes, as an encoder's extradata) or already an avcC record
 * (first byte 1), which is validated and copied as it is (keeping its
 * lengthSizeMinusOne). From Annex B: SPS (7), PPS (8) and SPS extension (13)
 * units are taken in order, byte-identical repeats once, other units
 * ignored (so a whole first access unit will do); profile, compatibility and
 * level come from the first SPS; lengthSizeMinusOne is 3. For profile_idc
 * 100, 110, 122, 144 the chroma_format / bit depth fields are filled from
 * the SPS. Replaces out's contents on success only (out->max is the
 * ceiling). SV_OK, SV_BAD_DATA (err: e.g. "no SPS"), SV_TOO_BIG,
 * SV_NO_MEMORY. err may be NULL.
 */
int bitstream_avcc(const uint8_t *in, size_t len, buf_t *out, char *err, size_t errlen);

/*
 * hvcC from HEVC parameter sets (Annex B), or an hvcC record (first byte 1)
 * validated and copied. From Annex B: VPS (32), SPS (33) and PPS (34) are
 * required, prefix SEI (39) units are kept too (pass only declarative
 * ones), others ignored; repeats once. The profile_tier_level bytes,
 * chroma format, bit depths, numTemporalLayers and temporalIdNested come
 * from the first SPS; min_spatial_segmentation_idc, parallelismType,
 * avgFrameRate and constantFrameRate are 0 (unknown), lengthSizeMinusOne 3.
 * Arrays in the order VPS, SPS, PPS, SEI; array_completeness 1 for the
 * parameter sets (what an hvc1 sample entry requires), 0 for SEI.
 * Same results and out/err rules as bitstream_avcc().
 */
int bitstream_hvcc(const uint8_t *in, size_t len, buf_t *out, char *err, size_t errlen);

/*
 * av1C from AV1 OBUs (low overhead format, e.g. an encoder's extradata or a
 * temporal unit) holding a sequence header, or an av1C record (first byte
 * 0x81) validated and copied. The fields come from the first sequence
 * header OBU, which is also configOBUs (given obu_size if it had none);
 * initial_presentation_delay_present is 0. Same results and out/err rules
 * as bitstream_avcc().
 */
int bitstream_av1c(const uint8_t *in, size_t len, buf_t *out, char *err, size_t errlen);

/*
 * RFC 6381 strings, written NUL-terminated into out (cap >= 48 is enough).
 * From the records above; SV_BAD_DATA when the record is malformed,
 * SV_TOO_BIG when cap is too small (out untouched then).
 *   avc1.PPCCLL (uppercase hex profile, constraint flags, level)
 *   hvc1.<profile space ''/A/B/C><profile idc>.<compat flags, bit-reversed,
 *        hex without leading zeros>.<tier L|H><level>[.<constraint byte hex>...]
 *        with trailing zero constraint bytes left out (14496-15 E.3)
 *   av01.<profile>.<level, 2 digits><tier M|H>.<bit depth, 2 digits>, then
 *        .<mono>.<ssx><ssy><csp>.<primaries>.<transfer>.<matrix>.<full range>
 *        when the sequence header in configOBUs has a colour description
 *        (colour code points 2, "unspecified", when it has not), or when
 *        mono / chroma layout / range differ from the defaults 0.110.x.x.x.0
 */
int bitstream_codec_string_avc(const uint8_t *avcc, size_t len, char *out, size_t cap);
int bitstream_codec_string_hevc(const uint8_t *hvcc, size_t len, char *out, size_t cap);
int bitstream_codec_string_av1(const uint8_t *av1c, size_t len, char *out, size_t cap);
/* "mp4a.40.<audio object type>" from an AudioSpecificConfig. */
int bitstream_codec_string_aac(const uint8_t *asc, size_t len, char *out, size_t cap);

#endif
