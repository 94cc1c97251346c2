/*
 * mime.c: the media types StreamVerse serves.
 */
#include "net/mime.h"

#include <string.h>

#define MIME(ext, type)                                                                        \
    {                                                                                          \
        ext, sizeof(ext) - 1, type                                                             \
    }

static const struct {
    const char *ext;
    size_t len;
    const char *type;
} mime_table[] = {
    MIME("m3u8", "application/vnd.apple.mpegurl"),
    MIME("mpd", "application/dash+xml"),
    MIME("m4s", "video/iso.segment"),
    MIME("mp4", "video/mp4"),
    MIME("m4v", "video/mp4"),
    MIME("m4a", "audio/mp4"),
    MIME("cmfv", "video/mp4"),
    MIME("cmfa", "audio/mp4"),
    MIME("ts", "video/mp2t"),
    MIME("aac", "audio/aac"),
    MIME("vtt", "text/vtt; charset=utf-8"),
    MIME("xml", "application/xml"),
    MIME("json", "application/json"),
    MIME("js", "text/javascript; charset=utf-8"),
    MIME("mjs", "text/javascript; charset=utf-8"),
    MIME("css", "text/css; charset=utf-8"),
    MIME("html", "text/html; charset=utf-8"),
    MIME("htm", "text/html; charset=utf-8"),
    MIME("txt", "text/plain; charset=utf-8"),
    MIME("svg", "image/svg+xml"),
    MIME("png", "image/png"),
    MIME("jpg", "image/jpeg"),
    MIME("jpeg", "image/jpeg"),
    MIME("webp", "image/webp"),
    MIME("ico", "image/x-icon"),
    MIME("webmanifest", "application/manifest+json"),
    MIME("woff2", "font/woff2"),
    MIME("wasm", "application/wasm"),
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
        if (ext.len == mime_table[k].len && str_caseeq(ext, mime_table[k].ext))
            return mime_table[k].type;
    }
    return "application/octet-stream";
}
