/*
 * http_parse.h: HTTP/1.1 message syntax (RFC 9112), as resumable state machines.
 *
 * http_parse_head() reads a request line and header fields; it keeps its state
 * in http_parser_t so that each call only looks at bytes it has not seen.
 * Positions are offsets from the start of the buffer, so the caller may move
 * the buffer (realloc) between calls as long as the bytes already seen stay
 * the same. It never reads past len.
 *
 * http_chunked_decode() decodes a chunked body incrementally.
 *
 * Strict where leniency enables request smuggling: bare CR, obs-fold, space
 * before the colon, control characters and invalid token characters are
 * errors. A bare LF is accepted as a line end (RFC 9112 2.2 allows it).
 */
#ifndef SV_HTTP_PARSE_H
#define SV_HTTP_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "base/str.h"

typedef struct {
    uint32_t name_off, name_len;
    uint32_t value_off, value_len;
} http_field_t;

typedef struct {
    /* limits, set by the caller before the first call */
    uint32_t max_head;   /* whole head in bytes (431 beyond) */
    uint32_t max_target; /* request-target in bytes (414 beyond) */
    uint32_t max_fields; /* header field count (431 beyond); size of fields[] */

    /* results (valid once complete) */
    uint32_t method_off, method_len;
    uint32_t target_off, target_len;
    int version_minor; /* HTTP/1.x */
    uint32_t nfields;
    http_field_t *fields; /* caller's array of max_fields entries */

    /* on error: the HTTP status to answer and why */
    int error_status;
    const char *error;

    /* private state */
    uint32_t pos;
    int state;
    uint32_t mark;
    uint32_t empty_lines;
} http_parser_t;

/* Prepares p for a new message, keeping the limits. */
void http_parser_reset(http_parser_t *p);

/*
 * Continues parsing the head in buf[0..len). Returns the head's length in
 * bytes (> 0; the body, if any, starts there) when the head is complete,
 * SV_AGAIN when more bytes are needed, or SV_BAD_DATA with error_status
 * (400, 414, 431, 501, 505) and error set.
 */
int http_parse_head(http_parser_t *p, const char *buf, size_t len);

typedef struct {
    int state;
    uint64_t remaining; /* bytes left in the current chunk */
    uint32_t line_len;  /* bytes in the current size line or trailer section */
    uint32_t max_line;  /* ceiling for a size line with extensions and for trailers */
    unsigned digits;
} http_chunked_t;

void http_chunked_init(http_chunked_t *c, uint32_t max_line);

/*
 * Decodes from in[0..len). On return *consumed bytes of in were used, and
 * (*data, *data_len) is a span of body bytes inside in (possibly empty).
 * Returns SV_AGAIN when it needs more input (after using all of in or
 * delivering a span; call again with the rest), SV_OK when the body ended
 * (trailers read; *consumed stops right after it), or SV_BAD_DATA.
 */
int http_chunked_decode(http_chunked_t *c, const char *in, size_t len, size_t *consumed,
                        const char **data, size_t *data_len);

/* RFC 9110 token character (tchar). */
int http_is_tchar(unsigned char c);

#endif
