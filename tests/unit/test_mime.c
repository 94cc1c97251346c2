/*
 * test_mime.c: Content-Type for every extension issue 2 names, case
 * insensitivity, and the fallback.
 */
#include "test.h"

#include "net/mime.h"

static const char *
mt(const char *path)
{
    return mime_type_for_path(str_from_cstr(path));
}

TEST(every_named_extension_has_its_type)
{
    CHECK_STR(mt("/v/master.m3u8"), "application/vnd.apple.mpegurl");
    CHECK_STR(mt("/v/manifest.mpd"), "application/dash+xml");
    CHECK_STR(mt("/v/720p/12.m4s"), "video/iso.segment");
    CHECK_STR(mt("/v/720p/init.mp4"), "video/mp4");
    CHECK_STR(mt("/v/subs/en.vtt"), "text/vtt; charset=utf-8");
    CHECK_STR(mt("/epg.xml"), "application/xml");
    CHECK_STR(mt("/api.json"), "application/json");
    CHECK_STR(mt("/app.js"), "text/javascript; charset=utf-8");
    CHECK_STR(mt("/app.css"), "text/css; charset=utf-8");
    CHECK_STR(mt("/index.html"), "text/html; charset=utf-8");
    CHECK_STR(mt("/logo.svg"), "image/svg+xml");
    CHECK_STR(mt("/poster.png"), "image/png");
    CHECK_STR(mt("/poster.jpg"), "image/jpeg");
    CHECK_STR(mt("/poster.webp"), "image/webp");
    CHECK_STR(mt("/v/seg.ts"), "video/mp2t");
    CHECK_STR(mt("/v/audio.aac"), "audio/aac");
}

TEST(extension_match_ignores_case)
{
    CHECK_STR(mt("/V/MASTER.M3U8"), "application/vnd.apple.mpegurl");
    CHECK_STR(mt("/a.JpG"), "image/jpeg");
}

TEST(unknown_or_missing_extension_is_octet_stream)
{
    CHECK_STR(mt("/file"), "application/octet-stream");
    CHECK_STR(mt("/file.unknownext"), "application/octet-stream");
    CHECK_STR(mt("/dir.m3u8/file"), "application/octet-stream"); /* a dot in a folder */
    CHECK_STR(mt("/trailing."), "application/octet-stream");
    CHECK_STR(mt(""), "application/octet-stream");
}

int
main(void)
{
    RUN(every_named_extension_has_its_type);
    RUN(extension_match_ignores_case);
    RUN(unknown_or_missing_extension_is_octet_stream);
    return test_done();
}
