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
 * Input that is already length-prefixed is not detected: callers know.
 * SV_OK, SV_BAD_DATA (no start code / empty unit), SV_NO_MEMORY.
 */
int bitstream_annexb_to_mp4(const uint8_t *data, size_t len, buf_t *out);

/* True when data starts with an Annex B start code (00 00 01 or 00 00 00 01). */
int bitstream_is_annexb(const uint8_t *data, size_t len);

/*
 * avcC from H.264 parameter sets. in is either Annex B (SPS/PPS NAL units
 * with start codes, as an encoder's extradata) or already an avcC record
 * (first byte 1), which is validated and copied. For High profiles the
 * chroma_format / bit depth fields are filled from the SPS. Replaces out's
 * contents. SV_OK, SV_BAD_DATA (err: e.g. "no SPS"), SV_NO_MEMORY.
 */
int bitstream_avcc(const uint8_t *in, size_t len, buf_t *out, char *err, size_t errlen);

/* hvcC from HEVC VPS/SPS/PPS (Annex B), or an hvcC record validated and copied. */
int bitstream_hvcc(const uint8_t *in, size_t len, buf_t *out, char *err, size_t errlen);

/* av1C from AV1 OBUs holding a sequence header (or an av1C record, copied). */
int bitstream_av1c(const uint8_t *in, size_t len, buf_t *out, char *err, size_t errlen);

/*
 * RFC 6381 strings, written NUL-terminated into out (cap >= 48 is enough).
 * From the records above; SV_BAD_DATA when the record is malformed.
 *   avc1.PPCCLL (hex profile, constraint flags, level)
 *   hvc1.<profile space+idc>.<compat flags hex reversed>.<tier L|H><level>.<constraint bytes>
 *   av01.<profile>.<level><tier>.<bitdepth> (plus the colour fields when
 *        the sequence header carries colour description)
 */
int bitstream_codec_string_avc(const uint8_t *avcc, size_t len, char *out, size_t cap);
int bitstream_codec_string_hevc(const uint8_t *hvcc, size_t len, char *out, size_t cap);
int bitstream_codec_string_av1(const uint8_t *av1c, size_t len, char *out, size_t cap);
/* "mp4a.40.<audio object type>" from an AudioSpecificConfig. */
int bitstream_codec_string_aac(const uint8_t *asc, size_t len, char *out, size_t cap);

#endif
