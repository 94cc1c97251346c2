/*
 * jsonx.h: the project's JSON wrapper around jansson.
 *
 * Parsing outside input goes through jsonx_parse(), which enforces a size
 * and nesting ceiling before jansson sees the bytes and reports errors with
 * a position. Everything else uses jansson's json_t API directly.
 */
#ifndef SV_JSONX_H
#define SV_JSONX_H

#include <jansson.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/str.h"

/*
 * Parses text as one JSON object or array (a bare scalar is refused, as
 * jansson does by default). Refuses nesting deeper than max_depth (checked
 * before jansson sees the bytes) and duplicate object keys. On success *out owns a new
 * reference (json_decref it) and SV_OK is returned; otherwise SV_BAD_DATA (or SV_TOO_BIG for
 * depth) with a message naming the line and column in err.
 */
int jsonx_parse(str_t text, size_t max_depth, json_t **out, char *err, size_t errlen);

/* Depth of the deepest nesting in text, scanning only brackets outside strings. */
size_t jsonx_depth(str_t text);

/* Appends the compact serialisation of v to b. SV_OK, SV_TOO_BIG or SV_NO_MEMORY. */
int jsonx_dump(buf_t *b, const json_t *v);

#endif
