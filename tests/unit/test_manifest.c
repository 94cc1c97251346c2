/*
 * test_manifest.c: presentations loaded from asset directories made here
 * (asset.json and fragment indexes written byte by byte), and the exact HLS
 * and DASH text written from them: a finished asset with three video rungs,
 * three audio renditions in two languages and a subtitle; an audio-only
 * asset; an asset still being made. Sizes and durations are chosen so that
 * every bandwidth divides exactly, whatever rounding the index reader uses.
 * Then every way asset.json can be wrong.
 *
 * With SV_MANIFEST_OUT=<dir> the playlists and MPDs are also written there,
 * for outside parsers (m3u8-parser, mpd-parser, xmllint) to read.
 */
#include "test.h"
#include "tmpdir.h"


#include "base/buf.h"
#include "base/status.h"
#include "media/dash.h"
#include "media/hls.h"
#include "media/presentation.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *root;

/* ---- fixtures ---- */

typedef struct {
    uint32_t duration, size, iframe_size;
    bool independent;
} frag_t;

static const char *
path_of(const char *a, const char *b, const char *c)
{
    static char p[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof(p[k]), "%s/%s%s%s%s%s", root, a, b ? "/" : "", b ? b : "",
             c ? "/" : "", c ? c : "");
    return p[k];
}

static void
write_bytes(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f == NULL)
        return;
    CHECK_INT(fwrite(data, 1, len, f), len);
    fclose(f);
}

static void
put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void
put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/*
 * Writes asset/name/track.idx in the cmaf.h format: fragments laid end to
 * end after an init segment of 1000 bytes, starts contiguous from start.
 */
static void
write_index(const char *asset, const char *name, uint32_t timescale, int64_t start,
            bool complete, const frag_t *f, size_t n)
{
    uint8_t buf[CMAF_INDEX_HEADER_SIZE + 16 * CMAF_INDEX_ENTRY_SIZE];
    uint64_t offset = 1000;
    int64_t total = 0;

    CHECK(n <= 16);
    memset(buf, 0, sizeof(buf));
    memcpy(buf, CMAF_INDEX_MAGIC, 8);
    put_le32(buf + 8, CMAF_INDEX_VERSION);
    put_le32(buf + 12, CMAF_INDEX_HEADER_SIZE);
    put_le32(buf + 16, timescale);
    put_le32(buf + 20, CMAF_INDEX_ENTRY_SIZE);
    put_le64(buf + 24, offset);
    put_le32(buf + 32, complete ? CMAF_INDEX_COMPLETE : 0);
    for (size_t i = 0; i < n; i++) {
        uint8_t *e = buf + CMAF_INDEX_HEADER_SIZE + i * CMAF_INDEX_ENTRY_SIZE;
        put_le64(e, (uint64_t)(start + total));
        put_le32(e + 8, f[i].duration);
        put_le32(e + 12, f[i].independent ? CMAF_FRAG_INDEPENDENT : 0);
        put_le64(e + 16, offset);
        put_le32(e + 24, f[i].size);
        put_le32(e + 28, f[i].iframe_size);
        offset += f[i].size;
        total += f[i].duration;
    }
    if (complete)
        put_le64(buf + 40, (uint64_t)total);
    mkdir(path_of(asset, name, NULL), 0755);
    write_bytes(path_of(asset, name, "track.idx"), buf,
                CMAF_INDEX_HEADER_SIZE + n * CMAF_INDEX_ENTRY_SIZE);
}

static void
write_asset_json(const char *asset, const char *json)
{
    mkdir(path_of(asset, NULL, NULL), 0755);
    write_bytes(path_of(asset, "asset.json", NULL), json, strlen(json));
}

/* Video: 4 s, 4 s, 4 s, 4.5 s, 1.8 s at 90 kHz (18.3 s). Audio: AAC frames
 * of 1024 at 48 kHz, 188/187 frames a fragment, then 2 s (18.0 s). */
#define V4 360000
#define V45 405000
#define V18 162000
#define A188 192512
#define A187 191488
#define A2 96000

static const frag_t vod_1080[] = {{V4, 2500059, 200039, true},
                                  {V4, 2700000, 210000, true},
                                  {V4, 2400000, 190000, true},
                                  {V45, 2700000, 180000, true},
                                  {V18, 1000008, 100008, true}};
static const frag_t vod_720[] = {{V4, 1500052, 120069, true},
                                 {V4, 1600000, 125000, true},
                                 {V4, 1450000, 118000, true},
                                 {V45, 1700001, 110007, true},
                                 {V18, 600003, 60003, true}};
static const frag_t vod_360[] = {{V4, 400168, 40044, true},
                                 {V4, 420000, 42000, true},
                                 {V4, 380000, 39000, true},
                                 {V45, 450000, 37008, true},
                                 {V18, 150003, 20007, true}};
static const frag_t aac_eng[] = {{A188, 65236, 0, true},
                                 {A187, 63580, 0, true},
                                 {A188, 64108, 0, true},
                                 {A187, 63580, 0, true},
                                 {A2, 32000, 0, true}};
static const frag_t aac_fra[] = {{A188, 48128, 0, true},
                                 {A187, 47872, 0, true},
                                 {A188, 48128, 0, true},
                                 {A187, 47872, 0, true},
                                 {A2, 24000, 0, true}};
static const frag_t aac_51[] = {{A188, 96256, 0, true},
                                {A187, 95744, 0, true},
                                {A188, 96256, 0, true},
                                {A187, 95744, 0, true},
                                {A2, 48000, 0, true}};

#define VIDEO(name, codecs, w, h, rate, range, bps)                                            \
    "{\"name\":\"" name "\",\"kind\":\"video\",\"codecs\":\"" codecs "\",\"width\":" #w        \
    ",\"height\":" #h ",\"sar\":\"1:1\",\"frame_rate\":\"" rate "\",\"video_range\":\"" range  \
    "\",\"bitrate\":" #bps "}"
#define AUDIO(name, codecs, lang, label, channels, extra)                                      \
    "{\"name\":\"" name "\",\"kind\":\"audio\",\"codecs\":\"" codecs "\",\"language\":\"" lang \
    "\",\"label\":\"" label "\",\"channels\":" #channels ",\"sample_rate\":48000" extra "}"

/* Writes asset.json with these renditions (JSON objects), 4 s segments. */
static void
write_asset(const char *asset, int id, const char *const *renditions, size_t n)
{
    char json[8192];
    size_t len = (size_t)snprintf(json, sizeof(json),
                                  "{\"version\":1,\"asset_id\":%d,\"created_ms\":1764000000000,"
                                  "\"segment_duration_ms\":4000,\"renditions\":[",
                                  id);
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(json + len, sizeof(json) - len, "%s%s", i ? "," : "",
                                renditions[i]);
    snprintf(json + len, sizeof(json) - len, "]}");
    write_asset_json(asset, json);
}

static void
make_vod(void)
{
    static const char *const r[] = {
        VIDEO("720p", "avc1.64001F", 1280, 720, "30000/1001", "SDR", 3000000),
        VIDEO("1080p", "avc1.640028", 1920, 1080, "30000/1001", "SDR", 5000000),
        VIDEO("360p", "avc1.64001E", 640, 360, "30000/1001", "SDR", 800000),
        AUDIO("audio-eng", "mp4a.40.2", "eng", "English", 2,
              ",\"default\":false,\"bitrate\":128000"),
        AUDIO("audio-fra", "mp4a.40.5", "fra", "Fran\\u00e7ais \\\"VF\\\" & <co>", 2,
              ",\"default\":true,\"bitrate\":96000"),
        AUDIO("audio-eng-51", "mp4a.40.2", "eng", "English", 6, ",\"bitrate\":192000"),
        ("{\"name\":\"sub-fra\",\"kind\":\"subtitle\",\"language\":\"fra\","
         "\"label\":\"Fran\\u00e7ais\",\"default\":false}")};
    write_asset("vod", 12, r, sizeof(r) / sizeof(r[0]));
    write_index("vod", "1080p", 90000, 0, true, vod_1080, 5);
    write_index("vod", "720p", 90000, 0, true, vod_720, 5);
    write_index("vod", "360p", 90000, 0, true, vod_360, 5);
    write_index("vod", "audio-eng", 48000, 0, true, aac_eng, 5);
    write_index("vod", "audio-fra", 48000, 0, true, aac_fra, 5);
    write_index("vod", "audio-eng-51", 48000, 0, true, aac_51, 5);
    mkdir(path_of("vod", "sub-fra", NULL), 0755);
}

static void
make_radio(void)
{
    static const char *const r[] = {
        AUDIO("audio-fra", "mp4a.40.2", "fra", "Fran\\u00e7ais", 2, ",\"bitrate\":96000"),
        AUDIO("audio-eng", "mp4a.40.2", "eng", "English", 2,
              ",\"default\":true,\"bitrate\":128000")};
    write_asset("radio", 14, r, sizeof(r) / sizeof(r[0]));
    write_index("radio", "audio-fra", 48000, 0, true, aac_fra, 5);
    write_index("radio", "audio-eng", 48000, 0, true, aac_eng, 5);
}

/* Being made: 1080p has 4 s, 4.4 s, and 4 s that does not start with a
 * keyframe; 720p has nothing yet; English audio starts at 1024 (priming). */
static const frag_t live_1080[] = {
    {V4, 2499999, 200000, true}, {396000, 2200000, 199311, true}, {V4, 2000000, 0, false}};
static const frag_t live_eng[] = {{A188, 64108, 0, true}, {A187, 63580, 0, true}};
static const frag_t live_deu[] = {{A188, 48128, 0, true}, {A187, 47872, 0, true}};

static void
make_live(void)
{
    static const char *const r[] = {
        VIDEO("1080p", "hvc1.2.4.L120.B0", 1920, 1080, "25", "PQ", 5000000),
        VIDEO("720p", "hvc1.2.4.L93.B0", 1280, 720, "25", "PQ", 3000000),
        AUDIO("audio-eng", "mp4a.40.2", "eng", "English", 2, ",\"bitrate\":128000"),
        AUDIO("audio-deu", "mp4a.40.2", "deu", "Deutsch", 2, ",\"bitrate\":128000")};
    write_asset("live", 13, r, sizeof(r) / sizeof(r[0]));
    write_index("live", "1080p", 90000, 0, false, live_1080, 3);
    write_index("live", "720p", 90000, 0, false, NULL, 0);
    write_index("live", "audio-eng", 48000, 1024, false, live_eng, 2);
    write_index("live", "audio-deu", 48000, 0, false, live_deu, 2);
}

/* ---- helpers ---- */

static int
load(const char *asset, presentation_t *p, char *err, size_t errlen)
{
    return presentation_load(path_of(asset, NULL, NULL), p, err, errlen);
}

/* Saves text for the outside parsers when SV_MANIFEST_OUT is set. */
static void
save(const char *name, const buf_t *b)
{
    const char *dir = getenv("SV_MANIFEST_OUT");
    char path[512];
    if (dir == NULL || *dir == '\0')
        return;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    for (char *s = path + strlen(dir) + 1; *s; s++) {
        if (*s == '/') {
            *s = '\0';
            mkdir(path, 0755);
            *s = '/';
        }
    }
    FILE *f = fopen(path, "w");
    if (f != NULL) {
        fwrite(b->data, 1, b->len, f);
        fclose(f);
    }
}

/* True when text holds line as a whole line. */
static bool
has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
        if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
            return true;
    return false;
}

#define CHECK_LINE(text, line)                                                                 \
    do {                                                                                       \
        if (!has_line((text), (line))) {                                                       \
            printf("# %s:%d: no line \"%s\" in:\n%s", __FILE__, __LINE__, (line), (text));     \
            test_cur_failed = 1;                                                               \
        }                                                                                      \
    } while (0)

/* ---- presentation ---- */

TEST(vod_presentation_loads_complete_with_measured_bandwidth)
{
    presentation_t p;
    char err[256] = "";
    CHECK_INT(load("vod", &p, err, sizeof(err)), SV_OK);
    CHECK_STR(err, "");
    CHECK_INT(p.asset_id, 12);
    CHECK_INT(p.created_ms, 1764000000000);
    CHECK_INT(p.segment_duration_ms, 4000);
    CHECK_INT(p.n, 7);
    CHECK(p.complete);
    CHECK_INT(p.duration_ms, 18300); /* video 18.3 s, audio 18.0 s */
    const pres_rendition_t *r = presentation_find(&p, "1080p");
    CHECK(r != NULL);
    if (r != NULL) {
        CHECK_INT(r->kind, PRES_VIDEO);
        CHECK_INT(r->fps_num, 30000);
        CHECK_INT(r->fps_den, 1001);
        CHECK_INT(r->planned_bps, 5000000);
        CHECK_INT(r->peak_bps, 5400000);
        CHECK_INT(r->avg_bps, 4939920);
        CHECK_INT(r->index.nentries, 5);
        CHECK_STR(r->language, "und");
        CHECK_STR(r->label, "1080p");
    }
    r = presentation_find(&p, "audio-fra");
    CHECK(r != NULL);
    if (r != NULL) {
        CHECK_STR(r->label, "Fran\xc3\xa7"
                            "ais \"VF\" & <co>");
        CHECK(r->is_default);
        CHECK_INT(r->channels, 2);
        CHECK_INT(r->sample_rate, 48000);
        CHECK_INT(r->peak_bps, 96000);
    }
    r = presentation_find(&p, "sub-fra");
    CHECK(r != NULL && r->kind == PRES_SUBTITLE && r->index.nentries == 0);
    CHECK(presentation_find(&p, "480p") == NULL);
    CHECK(presentation_playable(&p, 1));
    CHECK(presentation_playable(&p, 5));
    CHECK(!presentation_playable(&p, 6));
    presentation_free(&p);
}

TEST(live_presentation_is_incomplete_and_uses_the_plan_without_fragments)
{
    presentation_t p;
    char err[256] = "";
    CHECK_INT(load("live", &p, err, sizeof(err)), SV_OK);
    CHECK(!p.complete);
    CHECK_INT(p.duration_ms, 12400);
    const pres_rendition_t *r = presentation_find(&p, "720p");
    CHECK(r != NULL);
    if (r != NULL) {
        CHECK_INT(r->index.nentries, 0);
        CHECK_INT(r->avg_bps, 3000000);
        CHECK_INT(r->peak_bps, 3000000);
    }
    r = presentation_find(&p, "1080p");
    if (r != NULL) {
        CHECK_INT(r->peak_bps, 4999998);
        CHECK_INT(r->avg_bps, 4322580);
        CHECK_STR(r->video_range, "PQ");
    }
    CHECK(!presentation_playable(&p, 1));
    CHECK(presentation_playable(&p, 0));
    presentation_free(&p);
}

/* ---- HLS ---- */

TEST(master_lists_audio_subtitles_variants_by_peak_and_iframe_streams)
{
    presentation_t p;
    char err[256];
    buf_t b;
    buf_init(&b, 1 << 20);
    CHECK_INT(load("vod", &p, err, sizeof(err)), SV_OK);
    CHECK_INT(hls_write_master(&p, &b), SV_OK);
    save("vod/master.m3u8", &b);
    /* BANDWIDTH = video peak + largest audio peak (the 5.1 at 192000);
     * AVERAGE-BANDWIDTH likewise; the audio group's codecs once each. */
    CHECK_STR(
        b.data,
        "#EXTM3U\n"
        "#EXT-X-VERSION:7\n"
        "#EXT-X-INDEPENDENT-SEGMENTS\n"
        "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio\",LANGUAGE=\"eng\",NAME=\"English\","
        "DEFAULT=NO,AUTOSELECT=YES,CHANNELS=\"2\",URI=\"audio-eng/index.m3u8\"\n"
        "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio\",LANGUAGE=\"fra\","
        "NAME=\"Fran\xc3\xa7"
        "ais 'VF' & <co>\",DEFAULT=YES,AUTOSELECT=YES,CHANNELS=\"2\","
        "URI=\"audio-fra/index.m3u8\"\n"
        "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio\",LANGUAGE=\"eng\","
        "NAME=\"English (audio-eng-51)\",DEFAULT=NO,AUTOSELECT=YES,CHANNELS=\"6\","
        "URI=\"audio-eng-51/index.m3u8\"\n"
        "#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"subs\",LANGUAGE=\"fra\",NAME=\"Fran\xc3\xa7"
        "ais\",DEFAULT=NO,AUTOSELECT=YES,URI=\"sub-fra/index.m3u8\"\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=5592000,AVERAGE-BANDWIDTH=5131920,"
        "CODECS=\"avc1.640028,mp4a.40.2,mp4a.40.5\",RESOLUTION=1920x1080,FRAME-RATE=29.970,"
        "VIDEO-RANGE=SDR,AUDIO=\"audio\",SUBTITLES=\"subs\",CLOSED-CAPTIONS=NONE\n"
        "1080p/index.m3u8\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=3392000,AVERAGE-BANDWIDTH=3186560,"
        "CODECS=\"avc1.64001F,mp4a.40.2,mp4a.40.5\",RESOLUTION=1280x720,FRAME-RATE=29.970,"
        "VIDEO-RANGE=SDR,AUDIO=\"audio\",SUBTITLES=\"subs\",CLOSED-CAPTIONS=NONE\n"
        "720p/index.m3u8\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=1032000,AVERAGE-BANDWIDTH=978960,"
        "CODECS=\"avc1.64001E,mp4a.40.2,mp4a.40.5\",RESOLUTION=640x360,FRAME-RATE=29.970,"
        "VIDEO-RANGE=SDR,AUDIO=\"audio\",SUBTITLES=\"subs\",CLOSED-CAPTIONS=NONE\n"
        "360p/index.m3u8\n"
        "#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=444480,AVERAGE-BANDWIDTH=384720,"
        "CODECS=\"avc1.640028\",RESOLUTION=1920x1080,VIDEO-RANGE=SDR,"
        "URI=\"1080p/iframes.m3u8\"\n"
        "#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=266680,AVERAGE-BANDWIDTH=233040,"
        "CODECS=\"avc1.64001F\",RESOLUTION=1280x720,VIDEO-RANGE=SDR,"
        "URI=\"720p/iframes.m3u8\"\n"
        "#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=88920,AVERAGE-BANDWIDTH=77840,"
        "CODECS=\"avc1.64001E\",RESOLUTION=640x360,VIDEO-RANGE=SDR,"
        "URI=\"360p/iframes.m3u8\"\n");
    buf_free(&b);
    presentation_free(&p);
}

TEST(vod_media_playlist_rounds_target_4_5_up_and_prints_exact_durations)
{
    presentation_t p;
    char err[256];
    buf_t b;
    buf_init(&b, 1 << 20);
    CHECK_INT(load("vod", &p, err, sizeof(err)), SV_OK);
    CHECK_INT(hls_write_media_playlist(&p, presentation_find(&p, "1080p"), &b), SV_OK);
    save("vod/1080p/index.m3u8", &b);
    CHECK_STR(b.data, "#EXTM3U\n"
                      "#EXT-X-VERSION:7\n"
                      "#EXT-X-TARGETDURATION:5\n"
                      "#EXT-X-MEDIA-SEQUENCE:1\n"
                      "#EXT-X-PLAYLIST-TYPE:VOD\n"
                      "#EXT-X-INDEPENDENT-SEGMENTS\n"
                      "#EXT-X-MAP:URI=\"init.mp4\"\n"
                      "#EXTINF:4.000000,\n1.m4s\n"
                      "#EXTINF:4.000000,\n2.m4s\n"
                      "#EXTINF:4.000000,\n3.m4s\n"
                      "#EXTINF:4.500000,\n4.m4s\n"
                      "#EXTINF:1.800000,\n5.m4s\n"
                      "#EXT-X-ENDLIST\n");
    buf_reset(&b);
    /* 192512 / 48000 = 4.0106666... is 4.010667; the longest, 4.01, gives 4 */
    CHECK_INT(hls_write_media_playlist(&p, presentation_find(&p, "audio-eng"), &b), SV_OK);
    save("vod/audio-eng/index.m3u8", &b);
    CHECK_STR(b.data, "#EXTM3U\n"
                      "#EXT-X-VERSION:7\n"
                      "#EXT-X-TARGETDURATION:4\n"
                      "#EXT-X-MEDIA-SEQUENCE:1\n"
                      "#EXT-X-PLAYLIST-TYPE:VOD\n"
                      "#EXT-X-INDEPENDENT-SEGMENTS\n"
                      "#EXT-X-MAP:URI=\"init.mp4\"\n"
                      "#EXTINF:4.010667,\n1.m4s\n"
                      "#EXTINF:3.989333,\n2.m4s\n"
                      "#EXTINF:4.010667,\n3.m4s\n"
                      "#EXTINF:3.989333,\n4.m4s\n"
                      "#EXTINF:2.000000,\n5.m4s\n"
                      "#EXT-X-ENDLIST\n");
    /* the other playlists, for the outside parsers */
    const char *more[] = {"720p", "360p", "audio-fra", "audio-eng-51"};
    for (size_t i = 0; i < sizeof(more) / sizeof(more[0]); i++) {
        char name[64];
        buf_reset(&b);
        CHECK_INT(hls_write_media_playlist(&p, presentation_find(&p, more[i]), &b), SV_OK);
        snprintf(name, sizeof(name), "vod/%s/index.m3u8", more[i]);
        save(name, &b);
        CHECK(strstr(b.data, "#EXT-X-ENDLIST\n") != NULL);
    }
    buf_free(&b);
    presentation_free(&p);
}

TEST(subtitle_playlist_is_one_vtt_spanning_the_presentation)
{
    presentation_t p;
    char err[256];
    buf_t b;
    buf_init(&b, 1 << 20);
    CHECK_INT(load("vod", &p, err, sizeof(err)), SV_OK);
    CHECK_INT(hls_write_media_playlist(&p, presentation_find(&p, "sub-fra"), &b), SV_OK);
    save("vod/sub-fra/index.m3u8", &b);
    /* 18.3 s: the target is rounded up to 19 */
    CHECK_STR(b.data, "#EXTM3U\n"
                      "#EXT-X-VERSION:7\n"
                      "#EXT-X-TARGETDURATION:19\n"
                      "#EXT-X-MEDIA-SEQUENCE:1\n"
                      "#EXT-X-PLAYLIST-TYPE:VOD\n"
                      "#EXTINF:18.300000,\n"
                      "subtitles.vtt\n"
                      "#EXT-X-ENDLIST\n");
    buf_free(&b);
    presentation_free(&p);
}

TEST(iframe_playlist_has_byteranges_of_each_fragment)
{
    presentation_t p;
    char err[256];
    buf_t b;
    buf_init(&b, 1 << 20);
    CHECK_INT(load("vod", &p, err, sizeof(err)), SV_OK);
    CHECK_INT(hls_write_iframe_playlist(&p, presentation_find(&p, "1080p"), &b), SV_OK);
    save("vod/1080p/iframes.m3u8", &b);
    CHECK_STR(b.data, "#EXTM3U\n"
                      "#EXT-X-VERSION:7\n"
                      "#EXT-X-TARGETDURATION:5\n"
                      "#EXT-X-MEDIA-SEQUENCE:1\n"
                      "#EXT-X-PLAYLIST-TYPE:VOD\n"
                      "#EXT-X-I-FRAMES-ONLY\n"
                      "#EXT-X-MAP:URI=\"init.mp4\"\n"
                      "#EXTINF:4.000000,\n#EXT-X-BYTERANGE:200039@0\n1.m4s\n"
                      "#EXTINF:4.000000,\n#EXT-X-BYTERANGE:210000@0\n2.m4s\n"
                      "#EXTINF:4.000000,\n#EXT-X-BYTERANGE:190000@0\n3.m4s\n"
                      "#EXTINF:4.500000,\n#EXT-X-BYTERANGE:180000@0\n4.m4s\n"
                      "#EXTINF:1.800000,\n#EXT-X-BYTERANGE:100008@0\n5.m4s\n"
                      "#EXT-X-ENDLIST\n");
    buf_reset(&b);
    CHECK_INT(hls_write_iframe_playlist(&p, presentation_find(&p, "audio-eng"), &b),
              SV_NOT_FOUND);
    CHECK_INT(b.len, 0);
    buf_free(&b);
    presentation_free(&p);
}

TEST(audio_only_master_has_one_variant_per_audio_rendition)
{
    presentation_t p;
    char err[256];
    buf_t b;
    buf_init(&b, 1 << 20);
    CHECK_INT(load("radio", &p, err, sizeof(err)), SV_OK);
    CHECK(p.complete);
    CHECK_INT(hls_write_master(&p, &b), SV_OK);
    save("radio/master.m3u8", &b);
    CHECK_STR(b.data, "#EXTM3U\n"
                      "#EXT-X-VERSION:7\n"
                      "#EXT-X-INDEPENDENT-SEGMENTS\n"
                      "#EXT-X-STREAM-INF:BANDWIDTH=130125,AVERAGE-BANDWIDTH=128224,"
                      "CODECS=\"mp4a.40.2\"\n"
                      "audio-eng/index.m3u8\n"
                      "#EXT-X-STREAM-INF:BANDWIDTH=96000,AVERAGE-BANDWIDTH=96000,"
                      "CODECS=\"mp4a.40.2\"\n"
                      "audio-fra/index.m3u8\n");
    buf_reset(&b);
    CHECK_INT(hls_write_media_playlist(&p, presentation_find(&p, "audio-eng"), &b), SV_OK);
    save("radio/audio-eng/index.m3u8", &b);
    buf_reset(&b);
    CHECK_INT(dash_write_mpd(&p, 1764000020000, &b), SV_OK);
    save("radio/manifest.mpd", &b);
    CHECK(strstr(b.data, "contentType=\"video\"") == NULL);
    CHECK_LINE(b.data,
               "    <AdaptationSet id=\"0\" contentType=\"audio\" mimeType=\"audio/mp4\""
               " lang=\"eng\" segmentAlignment=\"true\" startWithSAP=\"1\">");
    CHECK_LINE(b.data, "      <Role schemeIdUri=\"urn:mpeg:dash:role:2011\" value=\"main\"/>");
    buf_free(&b);
    presentation_free(&p);
}

TEST(live_playlists_are_event_without_endlist)
{
    presentation_t p;
    char err[256];
    buf_t b;
    buf_init(&b, 1 << 20);
    CHECK_INT(load("live", &p, err, sizeof(err)), SV_OK);

    CHECK_INT(hls_write_master(&p, &b), SV_OK);
    save("live/master.m3u8", &b);
    /* no INDEPENDENT-SEGMENTS (a fragment without a keyframe); the first
     * audio is the default when none is marked; 720p has no fragment yet:
     * its planned bitrate stands in, and it has no I-frame stream yet */
    CHECK_STR(b.data,
              "#EXTM3U\n"
              "#EXT-X-VERSION:7\n"
              "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio\",LANGUAGE=\"eng\",NAME=\"English\","
              "DEFAULT=YES,AUTOSELECT=YES,CHANNELS=\"2\",URI=\"audio-eng/index.m3u8\"\n"
              "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio\",LANGUAGE=\"deu\",NAME=\"Deutsch\","
              "DEFAULT=NO,AUTOSELECT=YES,CHANNELS=\"2\",URI=\"audio-deu/index.m3u8\"\n"
              "#EXT-X-STREAM-INF:BANDWIDTH=5127873,AVERAGE-BANDWIDTH=4450268,"
              "CODECS=\"hvc1.2.4.L120.B0,mp4a.40.2\",RESOLUTION=1920x1080,FRAME-RATE=25.000,"
              "VIDEO-RANGE=PQ,AUDIO=\"audio\",CLOSED-CAPTIONS=NONE\n"
              "1080p/index.m3u8\n"
              "#EXT-X-STREAM-INF:BANDWIDTH=3127875,AVERAGE-BANDWIDTH=3127688,"
              "CODECS=\"hvc1.2.4.L93.B0,mp4a.40.2\",RESOLUTION=1280x720,FRAME-RATE=25.000,"
              "VIDEO-RANGE=PQ,AUDIO=\"audio\",CLOSED-CAPTIONS=NONE\n"
              "720p/index.m3u8\n"
              "#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=400000,AVERAGE-BANDWIDTH=257620,"
              "CODECS=\"hvc1.2.4.L120.B0\",RESOLUTION=1920x1080,VIDEO-RANGE=PQ,"
              "URI=\"1080p/iframes.m3u8\"\n");

    buf_reset(&b);
    CHECK_INT(hls_write_media_playlist(&p, presentation_find(&p, "1080p"), &b), SV_OK);
    save("live/1080p/index.m3u8", &b);
    /* longest 4.4 s rounds to 4 */
    CHECK_STR(b.data, "#EXTM3U\n"
                      "#EXT-X-VERSION:7\n"
                      "#EXT-X-TARGETDURATION:4\n"
                      "#EXT-X-MEDIA-SEQUENCE:1\n"
                      "#EXT-X-PLAYLIST-TYPE:EVENT\n"
                      "#EXT-X-MAP:URI=\"init.mp4\"\n"
                      "#EXTINF:4.000000,\n1.m4s\n"
                      "#EXTINF:4.400000,\n2.m4s\n"
                      "#EXTINF:4.000000,\n3.m4s\n");

    buf_reset(&b);
    CHECK_INT(hls_write_media_playlist(&p, presentation_find(&p, "720p"), &b), SV_OK);
    save("live/720p/index.m3u8", &b);
    CHECK_STR(b.data, "#EXTM3U\n"
                      "#EXT-X-VERSION:7\n"
                      "#EXT-X-TARGETDURATION:4\n"
                      "#EXT-X-MEDIA-SEQUENCE:1\n"
                      "#EXT-X-PLAYLIST-TYPE:EVENT\n"
                      "#EXT-X-INDEPENDENT-SEGMENTS\n"
                      "#EXT-X-MAP:URI=\"init.mp4\"\n");

    buf_reset(&b);
    CHECK_INT(hls_write_iframe_playlist(&p, presentation_find(&p, "1080p"), &b), SV_OK);
    save("live/1080p/iframes.m3u8", &b);
    /* the third fragment has no keyframe: the second I-frame spans to the end */
    CHECK_STR(b.data, "#EXTM3U\n"
                      "#EXT-X-VERSION:7\n"
                      "#EXT-X-TARGETDURATION:8\n"
                      "#EXT-X-MEDIA-SEQUENCE:1\n"
                      "#EXT-X-PLAYLIST-TYPE:EVENT\n"
                      "#EXT-X-I-FRAMES-ONLY\n"
                      "#EXT-X-MAP:URI=\"init.mp4\"\n"
                      "#EXTINF:4.000000,\n#EXT-X-BYTERANGE:200000@0\n1.m4s\n"
                      "#EXTINF:8.400000,\n#EXT-X-BYTERANGE:199311@0\n2.m4s\n");

    buf_reset(&b);
    CHECK_INT(hls_write_media_playlist(&p, presentation_find(&p, "audio-eng"), &b), SV_OK);
    save("live/audio-eng/index.m3u8", &b);
    CHECK(strstr(b.data, "#EXT-X-ENDLIST") == NULL);
    CHECK_LINE(b.data, "#EXT-X-PLAYLIST-TYPE:EVENT");
    buf_free(&b);
    presentation_free(&p);
}

TEST(writers_refuse_past_the_ceiling_and_leave_the_buffer_as_it_was)
{
    presentation_t p;
    char err[256];
    buf_t b;
    buf_init(&b, 200);
    CHECK_INT(load("vod", &p, err, sizeof(err)), SV_OK);
    CHECK_INT(buf_append_cstr(&b, "kept"), SV_OK);
    CHECK_INT(hls_write_master(&p, &b), SV_TOO_BIG);
    CHECK_STR(b.data, "kept");
    CHECK_INT(hls_write_media_playlist(&p, presentation_find(&p, "1080p"), &b), SV_TOO_BIG);
    CHECK_INT(hls_write_iframe_playlist(&p, presentation_find(&p, "1080p"), &b), SV_TOO_BIG);
    CHECK_INT(dash_write_mpd(&p, 0, &b), SV_TOO_BIG);
    CHECK_INT(b.len, 4);
    CHECK_STR(b.data, "kept");
    buf_free(&b);
    presentation_free(&p);
}

/* ---- DASH ---- */

TEST(static_mpd_for_a_finished_asset)
{
    presentation_t p;
    char err[256];
    buf_t b;
    buf_init(&b, 1 << 20);
    CHECK_INT(load("vod", &p, err, sizeof(err)), SV_OK);
    CHECK_INT(dash_write_mpd(&p, 1764000999000, &b), SV_OK);
    save("vod/manifest.mpd", &b);
    CHECK_STR(
        b.data,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" profiles=\"urn:mpeg:dash:profile:isoff-"
        "live:2011,urn:mpeg:dash:profile:cmaf:2019\" type=\"static\" "
        "mediaPresentationDuration=\"PT18.300S\" maxSegmentDuration=\"PT4.500S\" "
        "minBufferTime=\"PT8.000S\">\n"
        "  <Period id=\"0\" start=\"PT0S\">\n"
        "    <AdaptationSet id=\"0\" contentType=\"video\" mimeType=\"video/mp4\" "
        "segmentAlignment=\"true\" startWithSAP=\"1\" maxWidth=\"1920\" maxHeight=\"1080\" "
        "maxFrameRate=\"30000/1001\" par=\"16:9\">\n"
        "      <Representation id=\"1080p\" bandwidth=\"5400000\" codecs=\"avc1.640028\" "
        "width=\"1920\" height=\"1080\" frameRate=\"30000/1001\" sar=\"1:1\">\n"
        "        <SegmentTemplate timescale=\"90000\" initialization=\"1080p/init.mp4\" "
        "media=\"1080p/$Number$.m4s\" startNumber=\"1\">\n"
        "          <SegmentTimeline>\n"
        "            <S t=\"0\" d=\"360000\" r=\"2\"/>\n"
        "            <S d=\"405000\"/>\n"
        "            <S d=\"162000\"/>\n"
        "          </SegmentTimeline>\n"
        "        </SegmentTemplate>\n"
        "      </Representation>\n"
        "      <Representation id=\"720p\" bandwidth=\"3200000\" codecs=\"avc1.64001F\" "
        "width=\"1280\" height=\"720\" frameRate=\"30000/1001\" sar=\"1:1\">\n"
        "        <SegmentTemplate timescale=\"90000\" initialization=\"720p/init.mp4\" "
        "media=\"720p/$Number$.m4s\" startNumber=\"1\">\n"
        "          <SegmentTimeline>\n"
        "            <S t=\"0\" d=\"360000\" r=\"2\"/>\n"
        "            <S d=\"405000\"/>\n"
        "            <S d=\"162000\"/>\n"
        "          </SegmentTimeline>\n"
        "        </SegmentTemplate>\n"
        "      </Representation>\n"
        "      <Representation id=\"360p\" bandwidth=\"840000\" codecs=\"avc1.64001E\" "
        "width=\"640\" height=\"360\" frameRate=\"30000/1001\" sar=\"1:1\">\n"
        "        <SegmentTemplate timescale=\"90000\" initialization=\"360p/init.mp4\" "
        "media=\"360p/$Number$.m4s\" startNumber=\"1\">\n"
        "          <SegmentTimeline>\n"
        "            <S t=\"0\" d=\"360000\" r=\"2\"/>\n"
        "            <S d=\"405000\"/>\n"
        "            <S d=\"162000\"/>\n"
        "          </SegmentTimeline>\n"
        "        </SegmentTemplate>\n"
        "      </Representation>\n"
        "    </AdaptationSet>\n"
        "    <AdaptationSet id=\"1\" contentType=\"audio\" mimeType=\"audio/mp4\" lang=\"eng\" "
        "segmentAlignment=\"true\" startWithSAP=\"1\">\n"
        "      <Label>English</Label>\n"
        "      <Representation id=\"audio-eng-51\" bandwidth=\"192000\" codecs=\"mp4a.40.2\" "
        "audioSamplingRate=\"48000\">\n"
        "        <AudioChannelConfiguration "
        "schemeIdUri=\"urn:mpeg:dash:23003:3:audio_channel_configuration:2011\" value=\"6\"/>\n"
        "        <SegmentTemplate timescale=\"48000\" initialization=\"audio-eng-51/init.mp4\" "
        "media=\"audio-eng-51/$Number$.m4s\" startNumber=\"1\">\n"
        "          <SegmentTimeline>\n"
        "            <S t=\"0\" d=\"192512\"/>\n"
        "            <S d=\"191488\"/>\n"
        "            <S d=\"192512\"/>\n"
        "            <S d=\"191488\"/>\n"
        "            <S d=\"96000\"/>\n"
        "          </SegmentTimeline>\n"
        "        </SegmentTemplate>\n"
        "      </Representation>\n"
        "      <Representation id=\"audio-eng\" bandwidth=\"130125\" codecs=\"mp4a.40.2\" "
        "audioSamplingRate=\"48000\">\n"
        "        <AudioChannelConfiguration "
        "schemeIdUri=\"urn:mpeg:dash:23003:3:audio_channel_configuration:2011\" value=\"2\"/>\n"
        "        <SegmentTemplate timescale=\"48000\" initialization=\"audio-eng/init.mp4\" "
        "media=\"audio-eng/$Number$.m4s\" startNumber=\"1\">\n"
        "          <SegmentTimeline>\n"
        "            <S t=\"0\" d=\"192512\"/>\n"
        "            <S d=\"191488\"/>\n"
        "            <S d=\"192512\"/>\n"
        "            <S d=\"191488\"/>\n"
        "            <S d=\"96000\"/>\n"
        "          </SegmentTimeline>\n"
        "        </SegmentTemplate>\n"
        "      </Representation>\n"
        "    </AdaptationSet>\n"
        "    <AdaptationSet id=\"2\" contentType=\"audio\" mimeType=\"audio/mp4\" lang=\"fra\" "
        "segmentAlignment=\"true\" startWithSAP=\"1\">\n"
        "      <Label>Fran\xc3\xa7"
        "ais &quot;VF&quot; &amp; &lt;co&gt;</Label>\n"
        "      <Role schemeIdUri=\"urn:mpeg:dash:role:2011\" value=\"main\"/>\n"
        "      <Representation id=\"audio-fra\" bandwidth=\"96000\" codecs=\"mp4a.40.5\" "
        "audioSamplingRate=\"48000\">\n"
        "        <AudioChannelConfiguration "
        "schemeIdUri=\"urn:mpeg:dash:23003:3:audio_channel_configuration:2011\" value=\"2\"/>\n"
        "        <SegmentTemplate timescale=\"48000\" initialization=\"audio-fra/init.mp4\" "
        "media=\"audio-fra/$Number$.m4s\" startNumber=\"1\">\n"
        "          <SegmentTimeline>\n"
        "            <S t=\"0\" d=\"192512\"/>\n"
        "            <S d=\"191488\"/>\n"
        "            <S d=\"192512\"/>\n"
        "            <S d=\"191488\"/>\n"
        "            <S d=\"96000\"/>\n"
        "          </SegmentTimeline>\n"
        "        </SegmentTemplate>\n"
        "      </Representation>\n"
        "    </AdaptationSet>\n"
        "    <AdaptationSet id=\"3\" contentType=\"text\" mimeType=\"text/vtt\" lang=\"fra\">\n"
        "      <Label>Fran\xc3\xa7"
        "ais</Label>\n"
        "      <Role schemeIdUri=\"urn:mpeg:dash:role:2011\" value=\"subtitle\"/>\n"
        "      <Representation id=\"sub-fra\" bandwidth=\"1000\">\n"
        "        <BaseURL>sub-fra/subtitles.vtt</BaseURL>\n"
        "      </Representation>\n"
        "    </AdaptationSet>\n"
        "  </Period>\n"
        "</MPD>\n");
    buf_free(&b);
    presentation_free(&p);
}

TEST(dynamic_mpd_while_the_asset_is_being_made)
{
    presentation_t p;
    char err[256];
    buf_t b;
    buf_init(&b, 1 << 20);
    CHECK_INT(load("live", &p, err, sizeof(err)), SV_OK);
    CHECK_INT(dash_write_mpd(&p, 1764000020000, &b), SV_OK);
    save("live/manifest.mpd", &b);
    CHECK_LINE(b.data,
               "<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" profiles=\"urn:mpeg:dash:profile:"
               "isoff-live:2011,urn:mpeg:dash:profile:cmaf:2019\" type=\"dynamic\" "
               "availabilityStartTime=\"2025-11-24T16:00:00.000Z\" "
               "publishTime=\"2025-11-24T16:00:20.000Z\" minimumUpdatePeriod=\"PT4.000S\" "
               "suggestedPresentationDelay=\"PT12.000S\" maxSegmentDuration=\"PT4.400S\" "
               "minBufferTime=\"PT8.000S\">");
    CHECK(strstr(b.data, "mediaPresentationDuration") == NULL);
    CHECK_LINE(b.data, "  <UTCTiming schemeIdUri=\"urn:mpeg:dash:utc:direct:2014\" "
                       "value=\"2025-11-24T16:00:20.000Z\"/>");
    /* 720p has no fragment yet: left out until it has one */
    CHECK(strstr(b.data, "\"720p\"") == NULL);
    CHECK_LINE(b.data,
               "    <AdaptationSet id=\"0\" contentType=\"video\" mimeType=\"video/mp4\" "
               "segmentAlignment=\"true\" startWithSAP=\"1\" maxWidth=\"1920\" "
               "maxHeight=\"1080\" maxFrameRate=\"25\" par=\"16:9\">");
    CHECK_LINE(b.data, "      <Representation id=\"1080p\" bandwidth=\"4999998\" "
                       "codecs=\"hvc1.2.4.L120.B0\" width=\"1920\" height=\"1080\" "
                       "frameRate=\"25\" sar=\"1:1\">");
    CHECK(strstr(b.data, "          <SegmentTimeline>\n"
                         "            <S t=\"0\" d=\"360000\"/>\n"
                         "            <S d=\"396000\"/>\n"
                         "            <S d=\"360000\"/>\n"
                         "          </SegmentTimeline>\n") != NULL);
    /* the English audio starts at 1024: the first S says so */
    CHECK(strstr(b.data, "          <SegmentTimeline>\n"
                         "            <S t=\"1024\" d=\"192512\"/>\n"
                         "            <S d=\"191488\"/>\n"
                         "          </SegmentTimeline>\n") != NULL);
    /* none marked: the first audio is main */
    CHECK(strstr(b.data, "lang=\"eng\" segmentAlignment=\"true\" startWithSAP=\"1\">\n"
                         "      <Label>English</Label>\n"
                         "      <Role schemeIdUri=\"urn:mpeg:dash:role:2011\" "
                         "value=\"main\"/>\n") != NULL);
    CHECK(strstr(b.data, "lang=\"deu\" segmentAlignment=\"true\" startWithSAP=\"1\">\n"
                         "      <Label>Deutsch</Label>\n"
                         "      <Representation") != NULL);
    buf_free(&b);
    presentation_free(&p);
}

/* ---- asset.json and index errors ---- */

/* Writes asset.json into a fresh directory and loads it. */
static int
load_json(const char *json, char *err, size_t errlen)
{
    static int k;
    char name[32];
    presentation_t p;
    snprintf(name, sizeof(name), "bad%d", k++);
    write_asset_json(name, json);
    write_index(name, "v", 90000, 0, true, vod_360, 5);
    err[0] = '\0';
    int rc = load(name, &p, err, errlen);
    if (rc == SV_OK)
        presentation_free(&p);
    return rc;
}

#define HEAD "{\"version\":1,\"asset_id\":1,\"created_ms\":0,\"segment_duration_ms\":4000,"
#define ONE_VIDEO(extra)                                                                       \
    HEAD "\"renditions\":[{\"name\":\"v\",\"kind\":\"video\",\"codecs\":\"avc1.64001E\","      \
         "\"width\":640,\"height\":360,\"frame_rate\":\"25\",\"bitrate\":800000" extra "}]}"
#define ONE_AUDIO(extra)                                                                       \
    HEAD "\"renditions\":[{\"name\":\"v\",\"kind\":\"audio\",\"codecs\":\"mp4a.40.2\","        \
         "\"channels\":2,\"sample_rate\":48000,\"bitrate\":128000" extra "}]}"

TEST(missing_asset_is_not_found)
{
    presentation_t p;
    char err[256] = "";
    CHECK_INT(load("nothing-here", &p, err, sizeof(err)), SV_NOT_FOUND);
    CHECK_STR(err, "no asset.json");
}

TEST(minimal_descriptions_load_with_defaults)
{
    char err[256];
    CHECK_INT(load_json(ONE_VIDEO(""), err, sizeof(err)), SV_OK);
    CHECK_INT(load_json(ONE_AUDIO(""), err, sizeof(err)), SV_OK);
    CHECK_INT(
        load_json(ONE_VIDEO(",\"sar\":\"64:45\",\"video_range\":\"HLG\""), err, sizeof(err)),
        SV_OK);
    CHECK_INT(load_json(ONE_AUDIO(",\"language\":\"pt-BR\",\"label\":\"Portugu\\u00eas\""), err,
                        sizeof(err)),
              SV_OK);
}

TEST(bad_descriptions_are_bad_data_saying_what)
{
    char err[256];
    struct {
        const char *json, *err;
    } cases[] = {
        {"not json", NULL},
        {"[1]", "asset.json: must be an object"},
        {"{\"version\":2}",
         "asset.json: \"version\" must be 1 (a newer packager wrote this asset)"},
        {"{\"version\":1,\"asset_id\":1,\"created_ms\":0}",
         "asset.json: \"segment_duration_ms\" is missing"},
        {HEAD "\"renditions\":[]}", "asset.json: \"renditions\" must be an array of 1 to 32 "
                                    "renditions"},
        {HEAD "\"renditions\":[{\"name\":\"720P\"}]}",
         "rendition 1: \"name\" must be 1 to 31 characters of a-z, 0-9, '_' and '-'"},
        {HEAD "\"renditions\":[{\"name\":\"../v\"}]}", NULL},
        {HEAD "\"renditions\":[{\"name\":\"\"}]}", NULL},
        {HEAD "\"renditions\":[{\"name\":\"abcdefghijklmnopqrstuvwxyz012345\"}]}", NULL},
        {HEAD "\"renditions\":[{\"name\":\"v\\u0000x\"}]}", NULL},
        {HEAD "\"renditions\":[{\"name\":\"v\",\"kind\":\"data\"}]}",
         "rendition 1 (\"v\"): \"kind\" must be \"video\", \"audio\" or \"subtitle\""},
        {HEAD "\"renditions\":[{\"name\":\"s\",\"kind\":\"subtitle\"},"
              "{\"name\":\"s\",\"kind\":\"subtitle\"}]}",
         "rendition 2 (\"s\"): \"name\" is used twice"},
        {HEAD "\"renditions\":[{\"name\":\"s\",\"kind\":\"subtitle\"}]}",
         "asset.json: no video or audio rendition"},
        {HEAD "\"renditions\":[{\"name\":\"v\",\"kind\":\"video\",\"codecs\":\"avc1\","
              "\"width\":0,\"height\":360,\"frame_rate\":\"25\",\"bitrate\":1}]}",
         NULL},
        {HEAD "\"renditions\":[{\"name\":\"v\",\"kind\":\"video\",\"codecs\":\"avc1\","
              "\"width\":-640,\"height\":360,\"frame_rate\":\"25\",\"bitrate\":1}]}",
         "rendition 1 (\"v\"): \"width\" must be an integer from 1 to 16384"},
        {HEAD "\"renditions\":[{\"name\":\"v\",\"kind\":\"video\",\"codecs\":\"avc1\","
              "\"width\":640,\"height\":\"360\",\"frame_rate\":\"25\",\"bitrate\":1}]}",
         "rendition 1 (\"v\"): \"height\" must be an integer from 1 to 16384"},
        {ONE_VIDEO(",\"sar\":\"1x1\""),
         "rendition 1 (\"v\"): \"sar\" must be \"N:D\" with N and D from 1 to 65535"},
        {ONE_VIDEO(",\"sar\":\"0:1\""), NULL},
        {HEAD "\"renditions\":[{\"name\":\"v\",\"kind\":\"video\",\"codecs\":\"avc1\","
              "\"width\":640,\"height\":360,\"frame_rate\":\"0/1\",\"bitrate\":1}]}",
         "rendition 1 (\"v\"): \"frame_rate\" must be \"N/D\" or \"N\", positive and at most "
         "1000 frames/s"},
        {HEAD "\"renditions\":[{\"name\":\"v\",\"kind\":\"video\",\"codecs\":\"avc1\","
              "\"width\":640,\"height\":360,\"frame_rate\":\"30/0\",\"bitrate\":1}]}",
         NULL},
        {HEAD "\"renditions\":[{\"name\":\"v\",\"kind\":\"video\",\"codecs\":\"avc1\","
              "\"width\":640,\"height\":360,\"frame_rate\":\"29.97\",\"bitrate\":1}]}",
         NULL},
        {ONE_VIDEO(",\"video_range\":\"HDR10\""),
         "rendition 1 (\"v\"): \"video_range\" must be \"SDR\", \"PQ\" or \"HLG\""},
        {ONE_VIDEO(",\"video_range\":\"SDR\\u0000xxxxxxxxxxxxxxxxxxxx\""), NULL},
        {HEAD "\"renditions\":[{\"name\":\"v\",\"kind\":\"video\",\"codecs\":\"avc1\\\",x\","
              "\"width\":640,\"height\":360,\"frame_rate\":\"25\",\"bitrate\":1}]}",
         "rendition 1 (\"v\"): \"codecs\" must be a codec string of 1 to 63 letters, digits, "
         "'.', '-' and '_'"},
        {ONE_AUDIO(",\"label\":\"Eng\\u0007lish\""),
         "rendition 1 (\"v\"): \"label\" must not contain control characters"},
        {ONE_AUDIO(",\"label\":\"Eng\\nlish\""), NULL},
        {ONE_AUDIO(",\"label\":\"Eng\\u0085lish\""), NULL}, /* C1 NEL */
        {ONE_AUDIO(",\"label\":\"\""),
         "rendition 1 (\"v\"): \"label\" must be a string of 1 to 63 bytes"},
        {ONE_AUDIO(",\"label\":\"0123456789012345678901234567890123456789012345678901234567890"
                   "123\""),
         NULL},
        {ONE_AUDIO(",\"language\":\"en g\""),
         "rendition 1 (\"v\"): \"language\" must be a language tag of 1 to 15 letters, digits "
         "and '-'"},
        {ONE_AUDIO(",\"language\":\"e\\\"n\""), NULL},
        {ONE_AUDIO(",\"language\":7"), NULL},
        {ONE_AUDIO(",\"default\":\"yes\""),
         "rendition 1 (\"v\"): \"default\" must be true or false"},
        {HEAD "\"renditions\":[{\"name\":\"v\",\"kind\":\"audio\",\"codecs\":\"mp4a.40.2\","
              "\"channels\":0,\"sample_rate\":48000,\"bitrate\":1}]}",
         "rendition 1 (\"v\"): \"channels\" must be an integer from 1 to 64"},
        {HEAD "\"renditions\":[{\"name\":\"v\",\"kind\":\"audio\",\"codecs\":\"mp4a.40.2\","
              "\"channels\":2,\"sample_rate\":48000}]}",
         "rendition 1 (\"v\"): \"bitrate\" is missing"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = load_json(cases[i].json, err, sizeof(err));
        if (rc != SV_BAD_DATA || err[0] == '\0' ||
            (cases[i].err != NULL && strcmp(err, cases[i].err) != 0)) {
            printf("# case %zu: rc %d, err \"%s\"\n#   expected \"%s\"\n", i, rc, err,
                   cases[i].err ? cases[i].err : "(any)");
            test_cur_failed = 1;
        }
    }
    /* a parse error names the position */
    CHECK_INT(load_json("{\"version\":1,", err, sizeof(err)), SV_BAD_DATA);
    CHECK(strstr(err, "invalid JSON at line 1") != NULL);
}

TEST(too_many_renditions_are_refused)
{
    char json[8192], err[256];
    size_t n = (size_t)snprintf(json, sizeof(json), HEAD "\"renditions\":[");
    for (int i = 0; i < PRES_MAX_RENDITIONS + 1; i++)
        n += (size_t)snprintf(json + n, sizeof(json) - n,
                              "%s{\"name\":\"s%d\",\"kind\":\"subtitle\"}", i ? "," : "", i);
    snprintf(json + n, sizeof(json) - n, "]}");
    CHECK_INT(load_json(json, err, sizeof(err)), SV_BAD_DATA);
    CHECK_STR(err, "asset.json: \"renditions\" must be an array of 1 to 32 renditions");
}

TEST(missing_or_corrupt_index)
{
    presentation_t p;
    char err[256] = "";
    write_asset_json("noidx", ONE_VIDEO(""));
    CHECK_INT(load("noidx", &p, err, sizeof(err)), SV_NOT_FOUND);
    CHECK_STR(err, "rendition \"v\": no track.idx yet");

    write_asset_json("badidx", ONE_VIDEO(""));
    mkdir(path_of("badidx", "v", NULL), 0755);
    write_bytes(path_of("badidx", "v", "track.idx"),
                "SVCMAFI0 and then some more bytes here "
                "to fill a header of 64 bytes......",
                72);
    CHECK_INT(load("badidx", &p, err, sizeof(err)), SV_BAD_DATA);
    CHECK_STR(err, "rendition \"v\": track.idx: bad magic (not a CMAF fragment index)");
}

/* Every truncation of a good asset.json, and every byte replaced by a few
 * troublesome ones, loads or is refused; what loads is written out. Run
 * under ASan (make V=san) this is a small deterministic fuzz. */
TEST(mutated_descriptions_load_or_are_refused_and_never_crash)
{
    static const char subst[] = {'"', '0', (char)0xc2};
    char *text = NULL, err[256];
    size_t len = 0;
    FILE *f = fopen(path_of("vod", "asset.json", NULL), "rb");
    CHECK(f != NULL);
    if (f == NULL)
        return;
    text = malloc(16384);
    len = fread(text, 1, 16383, f);
    fclose(f);
    mkdir(path_of("mut", NULL, NULL), 0755);
    write_index("mut", "1080p", 90000, 0, true, vod_1080, 5);
    write_index("mut", "720p", 90000, 0, true, vod_720, 5);
    write_index("mut", "360p", 90000, 0, true, vod_360, 5);
    write_index("mut", "audio-eng", 48000, 0, true, aac_eng, 5);
    write_index("mut", "audio-fra", 48000, 0, true, aac_fra, 5);
    write_index("mut", "audio-eng-51", 48000, 0, true, aac_51, 5);

    unsigned loaded = 0, refused = 0;
    for (size_t i = 0; i < len * (1 + sizeof(subst)); i++) {
        size_t at = i % len, kind = i / len, n = len;
        char saved = text[at];
        if (kind == 0)
            n = at; /* truncated */
        else
            text[at] = subst[kind - 1];
        write_bytes(path_of("mut", "asset.json", NULL), text, n);
        text[at] = saved;

        presentation_t p;
        int rc = load("mut", &p, err, sizeof(err));
        if (rc != SV_OK) {
            if (rc != SV_BAD_DATA && rc != SV_NOT_FOUND) {
                printf("# mutation %zu: rc %d (%s)\n", i, rc, err);
                test_cur_failed = 1;
            }
            refused++;
            continue;
        }
        loaded++;
        buf_t b;
        buf_init(&b, 1 << 20);
        CHECK_INT(hls_write_master(&p, &b), SV_OK);
        for (unsigned k = 0; k < p.n; k++) {
            int m = hls_write_media_playlist(&p, &p.r[k], &b);
            int fr = hls_write_iframe_playlist(&p, &p.r[k], &b);
            CHECK(m == SV_OK);
            CHECK(fr == (p.r[k].kind == PRES_VIDEO ? SV_OK : SV_NOT_FOUND));
        }
        CHECK_INT(dash_write_mpd(&p, 0, &b), SV_OK);
        buf_free(&b);
        presentation_free(&p);
    }
    printf("# %u mutations loaded, %u refused\n", loaded, refused);
    CHECK(loaded > 0 && refused > 0);
    free(text);
}

int
main(void)
{
    root = tmpdir_make("manifest");
    if (root == NULL) {
        printf("Bail out! cannot make a temporary directory\n");
        return 1;
    }
    make_vod();
    make_radio();
    make_live();
    RUN(vod_presentation_loads_complete_with_measured_bandwidth);
    RUN(live_presentation_is_incomplete_and_uses_the_plan_without_fragments);
    RUN(master_lists_audio_subtitles_variants_by_peak_and_iframe_streams);
    RUN(vod_media_playlist_rounds_target_4_5_up_and_prints_exact_durations);
    RUN(subtitle_playlist_is_one_vtt_spanning_the_presentation);
    RUN(iframe_playlist_has_byteranges_of_each_fragment);
    RUN(audio_only_master_has_one_variant_per_audio_rendition);
    RUN(live_playlists_are_event_without_endlist);
    RUN(writers_refuse_past_the_ceiling_and_leave_the_buffer_as_it_was);
    RUN(static_mpd_for_a_finished_asset);
    RUN(dynamic_mpd_while_the_asset_is_being_made);
    RUN(missing_asset_is_not_found);
    RUN(minimal_descriptions_load_with_defaults);
    RUN(bad_descriptions_are_bad_data_saying_what);
    RUN(too_many_renditions_are_refused);
    RUN(missing_or_corrupt_index);
    RUN(mutated_descriptions_load_or_are_refused_and_never_crash);
    tmpdir_remove();
    return test_done();
}
