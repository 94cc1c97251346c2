/*
 * mime.h: Content-Type by file extension.
 */
#ifndef SV_MIME_H
#define SV_MIME_H

#include "base/str.h"

/* The media type for path's extension (case-insensitive); application/octet-stream if unknown.
 */
const char *mime_type_for_path(str_t path);

#endif
