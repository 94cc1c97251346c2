/*
 * http_parse.c: request heads and chunked bodies, byte-exact state machines.
 */
#include "net/http_parse.h"
#include "base/status.h"

#include <string.h>

enum {
    H_START = 0,
    H_START_LF,
    H_METHOD,
    H_TARGET_START,
    H_TARGET,
    H_VERSION,
    H_RL_LF,
    H_FIELD_START,
    H_NAME,
    H_VALUE_OWS,
    H_VALUE,
    H_VALUE_LF,
    H_END_LF,
};

#define HTTP_MAX_METHOD 32
#define HTTP_MAX_EMPTY_LINES 8

/* tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
 *         "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA */
static const unsigned char http_tchar_map[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1,
    ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1,  ['~'] = 1, ['0'] = 1,
    ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1,  ['7'] = 1, ['8'] = 1,
    ['9'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1,  ['F'] = 1, ['G'] = 1,
    ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1,  ['N'] = 1, ['O'] = 1,
    ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1,  ['V'] = 1, ['W'] = 1,
    ['X'] = 1, ['Y'] = 1, ['Z'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1,  ['d'] = 1, ['e'] = 1,
    ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1,  ['l'] = 1, ['m'] = 1,
    ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1,  ['t'] = 1, ['u'] = 1,
    ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

int
http_is_tchar(unsigned char c)
{
    return http_tchar_map[c];
}

/* field-vchar / obs-text, or SP / HTAB */
static inline int
http_is_value_char(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

void
http_parser_reset(http_parser_t *p)
{
    p->method_off = p->method_len = 0;
    p->target_off = p->target_len = 0;
    p->version_minor = -1;
    p->nfields = 0;
    p->error_status = 0;
    p->error = NULL;
    p->pos = 0;
    p->state = H_START;
    p->mark = 0;
    p->empty_lines = 0;
}

static int
http_parse_fail(http_parser_t *p, int status, const char *why)
{
    p->error_status = status;
    p->error = why;
    return SV_BAD_DATA;
}

static int
http_parse_version(http_parser_t *p, const char *v, size_t n)
{
    /* RFC 9110 2.5: a higher minor version of 1.x is answered as 1.1. */
    if (n == 8 && memcmp(v, "HTTP/1.", 7) == 0 && v[7] >= '0' && v[7] <= '9') {
        p->version_minor = v[7] == '0' ? 0 : 1;
        return SV_OK;
    }
    if (n == 8 && memcmp(v, "HTTP/", 5) == 0 && v[5] >= '0' && v[5] <= '9' && v[6] == '.' &&
        v[7] >= '0' && v[7] <= '9')
        return http_parse_fail(p, 505, "HTTP version not supported");
    return http_parse_fail(p, 400, "malformed HTTP version");
}

int
http_parse_head(http_parser_t *p, const char *buf, size_t len)
{
    size_t limit = len < p->max_head ? len : p->max_head;
    uint32_t i = p->pos;

    for (; i < limit; i++) {
        unsigned char c = (unsigned char)buf[i];
        switch (p->state) {
        case H_START:
            /* RFC 9112 2.2: ignore at least one empty line before the request line. */
            if (c == '\r' || c == '\n') {
                if (++p->empty_lines > HTTP_MAX_EMPTY_LINES)
                    return http_parse_fail(p, 400, "too many empty lines before request");
                if (c == '\r')
                    p->state = H_START_LF;
                break;
            }
            if (!http_is_tchar(c))
                return http_parse_fail(p, 400, "invalid character in method");
            p->method_off = i;
            p->state = H_METHOD;
            break;

        case H_START_LF:
            if (c != '\n')
                return http_parse_fail(p, 400, "bare CR before request line");
            p->state = H_START;
            break;

        case H_METHOD:
            if (c == ' ') {
                p->method_len = i - p->method_off;
                p->state = H_TARGET_START;
            } else if (!http_is_tchar(c)) {
                return http_parse_fail(p, 400, "invalid character in method");
            } else if (i - p->method_off >= HTTP_MAX_METHOD) {
                return http_parse_fail(p, 501, "method too long");
            }
            break;

        case H_TARGET_START:
            if (c <= 0x20 || c >= 0x7f)
                return http_parse_fail(p, 400, "invalid request target");
            p->target_off = i;
            p->state = H_TARGET;
            break;

        case H_TARGET:
            if (c == ' ') {
                p->target_len = i - p->target_off;
                p->mark = i + 1;
                p->state = H_VERSION;
            } else if (c < 0x21 || c >= 0x7f) {
                return http_parse_fail(p, 400, "invalid character in request target");
            } else if (i - p->target_off >= p->max_target) {
                return http_parse_fail(p, 414, "request target too long");
            }
            break;

        case H_VERSION:
            if (c == '\r' || c == '\n') {
                if (http_parse_version(p, buf + p->mark, i - p->mark) != SV_OK)
                    return SV_BAD_DATA;
                p->state = c == '\r' ? H_RL_LF : H_FIELD_START;
            } else if (i - p->mark >= 8) {
                return http_parse_fail(p, 400, "malformed HTTP version");
            }
            break;

        case H_RL_LF:
            if (c != '\n')
                return http_parse_fail(p, 400, "bare CR in request line");
            p->state = H_FIELD_START;
            break;

        case H_FIELD_START:
            if (c == '\r') {
                p->state = H_END_LF;
            } else if (c == '\n') {
                p->pos = i + 1;
                return (int)(i + 1);
            } else if (c == ' ' || c == '\t') {
                return http_parse_fail(p, 400, "obsolete line folding in header");
            } else if (!http_is_tchar(c)) {
                return http_parse_fail(p, 400, "invalid character in header name");
            } else {
                if (p->nfields >= p->max_fields)
                    return http_parse_fail(p, 431, "too many header fields");
                p->fields[p->nfields].name_off = i;
                p->state = H_NAME;
            }
            break;

        case H_NAME:
            if (c == ':') {
                http_field_t *f = &p->fields[p->nfields];
                f->name_len = i - f->name_off;
                f->value_off = i + 1;
                f->value_len = 0;
                p->state = H_VALUE_OWS;
            } else if (c == ' ' || c == '\t') {
                return http_parse_fail(p, 400, "whitespace between header name and colon");
            } else if (!http_is_tchar(c)) {
                return http_parse_fail(p, 400, "invalid character in header name");
            }
            break;

        case H_VALUE_OWS:
            if (c == ' ' || c == '\t')
                break;
            p->fields[p->nfields].value_off = i;
            p->state = H_VALUE;
            /* fall through */
        case H_VALUE:
            if (c == '\r' || c == '\n') {
                p->nfields++;
                p->state = c == '\r' ? H_VALUE_LF : H_FIELD_START;
            } else if (!http_is_value_char(c)) {
                return http_parse_fail(p, 400, "invalid character in header value");
            } else if (c != ' ' && c != '\t') {
                http_field_t *f = &p->fields[p->nfields];
                f->value_len = i + 1 - f->value_off;
            }
            break;

        case H_VALUE_LF:
            if (c != '\n')
                return http_parse_fail(p, 400, "bare CR in header");
            p->state = H_FIELD_START;
            break;

        case H_END_LF:
            if (c != '\n')
                return http_parse_fail(p, 400, "bare CR at end of header");
            p->pos = i + 1;
            return (int)(i + 1);
        }
    }
    p->pos = i;
    if (len >= p->max_head) {
        if (p->state == H_TARGET || p->state == H_TARGET_START)
            return http_parse_fail(p, 414, "request target too long");
        return http_parse_fail(p, 431, "request header too large");
    }
    return SV_AGAIN;
}

/* ---- chunked transfer coding (RFC 9112 7.1) ---- */

enum {
    C_SIZE = 0,
    C_SIZE_WS,
    C_EXT,
    C_SIZE_LF,
    C_DATA,
    C_DATA_CR,
    C_DATA_LF,
    C_TRAILER_START,
    C_TRAILER,
    C_TRAILER_LF,
    C_END_LF,
    C_DONE,
};

void
http_chunked_init(http_chunked_t *c, uint32_t max_line)
{
    memset(c, 0, sizeof(*c));
    c->max_line = max_line;
}

static inline int
http_hex_value(unsigned char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch |= 0x20;
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    return -1;
}

int
http_chunked_decode(http_chunked_t *c, const char *in, size_t len, size_t *consumed,
                    const char **data, size_t *data_len)
{
    size_t i = 0;

    *data = NULL;
    *data_len = 0;
    while (i < len) {
        unsigned char ch = (unsigned char)in[i];

        if (c->state == C_DATA) {
            size_t n = len - i;
            if (n > c->remaining)
                n = (size_t)c->remaining;
            *data = in + i;
            *data_len = n;
            c->remaining -= n;
            i += n;
            if (c->remaining == 0)
                c->state = C_DATA_CR;
            *consumed = i;
            return SV_AGAIN;
        }
        if (c->state != C_DATA_CR && c->state != C_DATA_LF && ++c->line_len > c->max_line) {
            *consumed = i;
            return SV_BAD_DATA;
        }
        switch (c->state) {
        case C_SIZE: {
            int v = http_hex_value(ch);
            if (v >= 0) {
                if (++c->digits > 16) {
                    *consumed = i;
                    return SV_BAD_DATA; /* chunk size overflows 64 bits */
                }
                c->remaining = (c->remaining << 4) | (uint64_t)v;
                break;
            }
            if (c->digits == 0) {
                *consumed = i;
                return SV_BAD_DATA;
            }
            if (ch == ';')
                c->state = C_EXT;
            else if (ch == ' ' || ch == '\t')
                c->state = C_SIZE_WS;
            else if (ch == '\r')
                c->state = C_SIZE_LF;
            else if (ch == '\n')
                goto size_line_done;
            else {
                *consumed = i;
                return SV_BAD_DATA;
            }
            break;
        }
        case C_SIZE_WS:
            if (ch == ';') {
                c->state = C_EXT;
            } else if (ch != ' ' && ch != '\t') {
                *consumed = i;
                return SV_BAD_DATA;
            }
            break;
        case C_EXT:
            if (ch == '\r') {
                c->state = C_SIZE_LF;
            } else if (ch == '\n') {
                goto size_line_done;
            } else if (ch != '\t' && (ch < 0x20 || ch == 0x7f)) {
                *consumed = i;
                return SV_BAD_DATA;
            }
            break;
        case C_SIZE_LF:
            if (ch != '\n') {
                *consumed = i;
                return SV_BAD_DATA;
            }
        size_line_done:
            c->line_len = 0;
            c->digits = 0;
            c->state = c->remaining ? C_DATA : C_TRAILER_START;
            break;
        case C_DATA_CR:
            if (ch == '\n') {
                c->state = C_SIZE;
                c->line_len = 0;
                break;
            }
            if (ch != '\r') {
                *consumed = i;
                return SV_BAD_DATA;
            }
            c->state = C_DATA_LF;
            break;
        case C_DATA_LF:
            if (ch != '\n') {
                *consumed = i;
                return SV_BAD_DATA;
            }
            c->state = C_SIZE;
            c->line_len = 0;
            break;
        case C_TRAILER_START:
            if (ch == '\r') {
                c->state = C_END_LF;
            } else if (ch == '\n') {
                c->state = C_DONE;
                *consumed = i + 1;
                return SV_OK;
            } else if (!http_is_tchar(ch)) {
                *consumed = i;
                return SV_BAD_DATA;
            } else {
                c->state = C_TRAILER;
            }
            break;
        case C_TRAILER:
            if (ch == '\r')
                c->state = C_TRAILER_LF;
            else if (ch == '\n')
                c->state = C_TRAILER_START;
            else if (!http_is_value_char(ch) && ch != ':') {
                *consumed = i;
                return SV_BAD_DATA;
            }
            break;
        case C_TRAILER_LF:
            if (ch != '\n') {
                *consumed = i;
                return SV_BAD_DATA;
            }
            c->state = C_TRAILER_START;
            break;
        case C_END_LF:
            if (ch != '\n') {
                *consumed = i;
                return SV_BAD_DATA;
            }
            c->state = C_DONE;
            *consumed = i + 1;
            return SV_OK;
        case C_DONE:
            *consumed = i;
            return SV_OK;
        }
        i++;
    }
    *consumed = i;
    return c->state == C_DONE ? SV_OK : SV_AGAIN;
}
