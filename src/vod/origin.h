/*
 * origin.h: the VoD origin. Manifests computed from the fragment indexes,
 * segments served as byte ranges of the track files.
 *
 * Under /vod/<asset>/:
 *   master.m3u8, manifest.mpd                   (computed on request)
 *   <rendition>/index.m3u8, <rendition>/iframes.m3u8
 *   <rendition>/init.mp4, <rendition>/<n>.m4s   (ranges of track.mp4, sendfile)
 *   <rendition>/subtitles.vtt, poster.jpg, thumbs.vtt, thumbs-<n>.jpg
 * Segments and init segments are immutable (Cache-Control: public,
 * max-age=31536000, immutable) with an ETag derived from the packaging run
 * and the byte range, identical on every origin that shares the media
 * store. Manifests carry a content ETag, max-age 60 once the asset is
 * complete and 1 while it is still being made. An asset that is being made
 * answers 404 (no-store) until every track has its first segment.
 *
 * Handlers run on the event loop: they read only small index files. A
 * complete presentation is cached per thread and revalidated after
 * http_file_cache_valid by asset.json's identity; one still being made is
 * read on every request, so every thread's answers only ever grow.
 */
#ifndef SV_ORIGIN_H
#define SV_ORIGIN_H

#include "base/config.h"
#include "net/router.h"

typedef struct origin origin_t;

/* cfg must outlive the origin. NULL on out-of-memory. */
origin_t *origin_create(const config_t *cfg);
void origin_destroy(origin_t *o);
/* Adds the /vod/ routes (before any catch-all route). */
int origin_routes_add(origin_t *o, router_t *rt);

/* data_dir/media/vod/<id>: the directory an asset is packaged into. */
int origin_asset_dir(const char *data_dir, int64_t id, char *out, size_t cap);

#endif
