/*
 * mime.c: the media types StreamVerse serves.
 */
#include "net/mime.h"

#include <string.h>

static const struct {
    const char *ext;
    const char *type;
} mime_table[] = {
    {"m3u8", "application/vnd.apple.mpegurl"},
    {"mpd", "application/dash+xml"},
    {"m4s", "video/iso.segment"},
    {"mp4", "video/mp4"},
    {"m4v", "video/mp4"},
    {"m4a", "audio/mp4"},
    {"cmfv", "video/mp4"},
    {"cmfa", "audio/mp4"},
    {"ts", "video/mp2t"},
    {"aac", "audio/aac"},
    {"vtt", "text/vtt; charset=utf-8"},
    {"xml", "application/xml"},
    {"json", "application/json"},
    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"html", "text/html; charset=utf-8"},
    {"htm", "text/html; charset=utf-8"},
    {"txt", "text/plain; charset=utf-8"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"webp", "image/webp"},
    {"ico", "image/x-icon"},
    {"webmanifest", "application/manifest+json"},
    {"woff2", "font/woff2"},
    {"wasm", "application/wasm"},
};

const char *
mime_type_for_path(str_t path)
{
    size_t i = path.len;
    while (i > 0 && path.p[i - 1] != '.' && path.p[i - 1] != '/')
        i--;
    if (i == 0 || path.p[i - 1] != '.')
        return "application/octet-stream";
    str_t ext = str_make(path.p + i, path.len - i);
    for (size_t k = 0; k < sizeof(mime_table) / sizeof(mime_table[0]); k++) {
        if (str_caseeq(ext, mime_table[k].ext))
            return mime_table[k].type;
    }
    return "application/octet-stream";
}
