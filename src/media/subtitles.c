/*
 * subtitles.c: sidecar SubRip/WebVTT files and text subtitle streams to WebVTT.
 *
 * Both paths fill one cue list (times, identifier, settings, text already in
 * WebVTT form), which is sorted and written the same way.
 *
 * Sidecars are parsed here, not by libavformat, for precise refusals. The
 * whole file is in memory (at most SUBTITLES_MAX_BYTES), so the parser is a
 * line reader over (pos, end) with one line of look-ahead rather than a
 * resumable state machine: nothing arrives in pieces. It never reads past
 * end and checks the UTF-8 of the whole input before it looks at a line.
 */
#include "media/subtitles.h"
#include "base/buf.h"
#include "base/status.h"
#include "base/str.h"
#include "media/probe.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>

/* Processed text of all cues (escaping can make text up to 5 times longer). */
#define SUB_MAX_TEXT ((size_t)SUBTITLES_MAX_BYTES * 6)
/* The WebVTT written for one track: the text plus about 60 bytes per cue. */
#define SUB_MAX_OUTPUT (SUB_MAX_TEXT + (size_t)SUBTITLES_MAX_CUES * 128)
#define SUB_MAX_HOURS 999999
/* How much of an offending line an error message quotes. */
#define SUB_QUOTE_MAX 60
/* A cue without a known duration lasts this long (or to the next cue). */
#define SUB_OPEN_END_MS 5000

typedef struct {
    int64_t start_ms, end_ms;
    size_t seq;            /* input order, so that equal starts keep it */
    bool open_end;         /* no duration known: end_ms is provisional */
    size_t id_off, id_len; /* in list.text; id_len == 0: no identifier */
    size_t settings_off, settings_len;
    size_t text_off, text_len; /* lines joined with '\n', never empty */
} sub_cue_t;

typedef struct {
    sub_cue_t *cues;
    size_t n, cap;
    buf_t text;    /* identifiers, settings and texts of all cues */
    buf_t scratch; /* one processed line or subtitle */
    char *err;
    size_t errlen;
} sub_list_t;

static void
sub_list_init(sub_list_t *l, char *err, size_t errlen)
{
    l->cues = NULL;
    l->n = l->cap = 0;
    buf_init(&l->text, SUB_MAX_TEXT);
    buf_init(&l->scratch, SUB_MAX_TEXT);
    l->err = err;
    l->errlen = errlen;
}

static void
sub_list_free(sub_list_t *l)
{
    free(l->cues);
    l->cues = NULL;
    buf_free(&l->text);
    buf_free(&l->scratch);
}

/* Sets err for a failed buffer operation and returns rc. */
static int
sub_buf_failed(sub_list_t *l, int rc)
{
    if (rc == SV_NO_MEMORY)
        snprintf(l->err, l->errlen, "out of memory");
    else
        snprintf(l->err, l->errlen, "the subtitle text is larger than %zu bytes", SUB_MAX_TEXT);
    return rc;
}

/* Cuts b back to len bytes (len <= b->len). */
static void
sub_buf_truncate(buf_t *b, size_t len)
{
    b->len = len;
    if (b->data)
        b->data[len] = '\0';
}

static int
sub_list_add(sub_list_t *l, const sub_cue_t *c)
{
    if (l->n >= SUBTITLES_MAX_CUES) {
        snprintf(l->err, l->errlen, "more than %u cues", SUBTITLES_MAX_CUES);
        return SV_TOO_BIG;
    }
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 64;
        sub_cue_t *v = realloc(l->cues, ncap * sizeof(*v));
        if (v == NULL) {
            snprintf(l->err, l->errlen, "out of memory");
            return SV_NO_MEMORY;
        }
        l->cues = v;
        l->cap = ncap;
    }
    l->cues[l->n] = *c;
    l->cues[l->n].seq = l->n;
    l->n++;
    return SV_OK;
}

/* ---- small text helpers ---- */

static bool
sub_is_ws(char c)
{
    return c == ' ' || c == '\t';
}

static bool
sub_is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool
sub_is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
sub_is_alnum(char c)
{
    return sub_is_alpha(c) || sub_is_digit(c);
}

static bool
sub_is_hex(char c)
{
    return sub_is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool
sub_is_blank(str_t s)
{
    for (size_t i = 0; i < s.len; i++)
        if (!sub_is_ws(s.p[i]))
            return false;
    return true;
}

static bool
sub_all_digits(str_t s)
{
    if (s.len == 0)
        return false;
    for (size_t i = 0; i < s.len; i++)
        if (!sub_is_digit(s.p[i]))
            return false;
    return true;
}

static bool
sub_has_arrow(str_t s)
{
    for (size_t i = 0; i + 3 <= s.len; i++)
        if (s.p[i] == '-' && s.p[i + 1] == '-' && s.p[i + 2] == '>')
            return true;
    return false;
}

/* s is word, or word followed by a space or tab ("NOTE", "NOTE this"). */
static bool
sub_starts_with_word(str_t s, const char *word)
{
    size_t n = strlen(word);
    if (s.len < n || memcmp(s.p, word, n) != 0)
        return false;
    return s.len == n || sub_is_ws(s.p[n]);
}

static bool
sub_name_is(const char *p, size_t n, const char *name, bool any_case)
{
    size_t k = strlen(name);
    if (n != k)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (any_case && c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != name[i])
            return false;
    }
    return true;
}

/*
 * Writes s into dst (cap bytes) for an error message: at most SUB_QUOTE_MAX
 * bytes of it, cut at a character boundary and followed by "..." when cut,
 * with '"', '\\' and control characters escaped. s is valid UTF-8.
 */
static const char *
sub_quote(str_t s, char *dst, size_t cap)
{
    size_t n = s.len, o = 0;
    bool cut = false;
    if (n > SUB_QUOTE_MAX) {
        n = SUB_QUOTE_MAX;
        while (n > 0 && ((unsigned char)s.p[n] & 0xC0) == 0x80)
            n--;
        cut = true;
    }
    for (size_t i = 0; i < n && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if (c == '"' || c == '\\') {
            dst[o++] = '\\';
            dst[o++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            o += (size_t)snprintf(dst + o, cap - o, "\\x%02x", c);
        } else {
            dst[o++] = (char)c;
        }
    }
    if (cut && o + 4 < cap) {
        memcpy(dst + o, "...", 3);
        o += 3;
    }
    dst[o < cap ? o : cap - 1] = '\0';
    return dst;
}

/* "HH:MM:SS.mmm" of ms (ms >= 0) into dst (at least 24 bytes). */
static const char *
sub_fmt_time(int64_t ms, char *dst, size_t cap)
{
    snprintf(dst, cap, "%02lld:%02d:%02d.%03d", (long long)(ms / 3600000),
             (int)(ms / 60000 % 60), (int)(ms / 1000 % 60), (int)(ms % 1000));
    return dst;
}

/* ---- UTF-8 ---- */

/*
 * Checks that data[0..len) is UTF-8 without NUL (no overlong forms, no
 * surrogates, nothing above U+10FFFF). SV_OK, or SV_BAD_DATA with the byte
 * offset (from the start of the file: base_offset is added) and the line.
 */
static int
sub_check_utf8(const unsigned char *s, size_t len, size_t base_offset, char *err, size_t errlen)
{
    unsigned line = 1;
    size_t i = 0;

    while (i < len) {
        unsigned char c = s[i];
        size_t need;
        uint32_t cp, min;
        if (c == '\n' || (c == '\r' && (i + 1 >= len || s[i + 1] != '\n'))) {
            line++;
            i++;
            continue;
        }
        if (c == 0) {
            snprintf(err, errlen,
                     "NUL byte at byte %zu (line %u): the file is not UTF-8 text "
                     "(UTF-16 without a byte order mark?)",
                     base_offset + i, line);
            return SV_BAD_DATA;
        }
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
            cp = c & 0x1F;
            min = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            cp = c & 0x0F;
            min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            cp = c & 0x07;
            min = 0x10000;
        } else {
            goto bad;
        }
        if (need > len - i - 1)
            goto bad;
        for (size_t k = 1; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                goto bad;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            goto bad;
        i += need + 1;
    }
    return SV_OK;
bad:
    snprintf(err, errlen, "invalid UTF-8 at byte %zu (line %u): the file must be UTF-8 text",
             base_offset + i, line);
    return SV_BAD_DATA;
}

/* ---- timestamps ---- */

/*
 * Reads a timestamp at s.p[*i]: [H...:]MM:SS(.|,)mmm, hours 1 to 6 digits,
 * minutes and seconds two digits below 60, milliseconds three digits. With
 * need_hours the hours are required. On success *i is past it and *ms set;
 * otherwise *why says what is wrong.
 */
static bool
sub_parse_time(str_t s, size_t *i, bool need_hours, int64_t *ms, const char **why)
{
    uint32_t g[3] = {0, 0, 0};
    size_t nd[3] = {0, 0, 0};
    size_t p = *i;
    int groups = 0;

    while (groups < 3) {
        while (p < s.len && sub_is_digit(s.p[p]) && nd[groups] < 7) {
            g[groups] = g[groups] * 10 + (uint32_t)(s.p[p] - '0');
            nd[groups]++;
            p++;
        }
        if (nd[groups] == 0) {
            *why = "a number is missing";
            return false;
        }
        if (nd[groups] == 7) {
            *why = "a number has too many digits";
            return false;
        }
        groups++;
        if (p < s.len && s.p[p] == ':' && groups < 3) {
            p++;
            continue;
        }
        break;
    }
    if (groups < 2) {
        *why = "expected minutes and seconds separated by ':'";
        return false;
    }
    uint32_t h = 0, m, sec;
    size_t nm, ns;
    if (groups == 3) {
        h = g[0];
        m = g[1];
        sec = g[2];
        nm = nd[1];
        ns = nd[2];
    } else {
        if (need_hours) {
            *why = "the hours are missing (SubRip times are H:MM:SS,mmm)";
            return false;
        }
        m = g[0];
        sec = g[1];
        nm = nd[0];
        ns = nd[1];
    }
    if (nm != 2 || ns != 2) {
        *why = "minutes and seconds must have two digits";
        return false;
    }
    if (m > 59 || sec > 59) {
        *why = "minutes and seconds must be below 60";
        return false;
    }
    if (h > SUB_MAX_HOURS) {
        *why = "the hours are out of range";
        return false;
    }
    if (p >= s.len || (s.p[p] != '.' && s.p[p] != ',')) {
        *why = "expected '.' or ',' and milliseconds after the seconds";
        return false;
    }
    p++;
    uint32_t frac = 0;
    size_t nf = 0;
    while (p < s.len && sub_is_digit(s.p[p]) && nf < 4) {
        frac = frac * 10 + (uint32_t)(s.p[p] - '0');
        nf++;
        p++;
    }
    if (nf != 3) {
        *why = "milliseconds must have three digits";
        return false;
    }
    *ms = ((int64_t)h * 3600 + (int64_t)m * 60 + sec) * 1000 + frac;
    *i = p;
    return true;
}

/* ---- cue text ---- */

/* Length of a character reference at s[i] == '&' ("&amp;", "&#233;",
 * "&#xE9;"), or 0 when the '&' starts none. */
static size_t
sub_char_ref_len(str_t s, size_t i)
{
    size_t p = i + 1, n = 0, max;
    if (p < s.len && s.p[p] == '#') { /* &#233; &#xE9;: up to 7 digits */
        p++;
        bool hex = p < s.len && (s.p[p] == 'x' || s.p[p] == 'X');
        if (hex)
            p++;
        max = 7;
        while (p < s.len && (hex ? sub_is_hex(s.p[p]) : sub_is_digit(s.p[p])) && n <= max) {
            p++;
            n++;
        }
    } else { /* &amp;: a letter, then up to 31 letters and digits in all */
        if (p >= s.len || !sub_is_alpha(s.p[p]))
            return 0;
        max = 31;
        while (p < s.len && sub_is_alnum(s.p[p]) && n <= max) {
            p++;
            n++;
        }
    }
    if (n == 0 || n > max || p >= s.len || s.p[p] != ';')
        return 0;
    return p + 1 - i;
}

/*
 * Appends the text character at s.p[*i] to out, escaped for WebVTT cue
 * text, and moves *i past it: '<' and '>' become &lt; &gt;, '&' stays when
 * it starts a character reference and becomes &amp; otherwise, control
 * characters other than tab are dropped.
 */
static int
sub_put_text_char(buf_t *out, str_t s, size_t *i)
{
    unsigned char c = (unsigned char)s.p[*i];
    size_t n;

    if (c == '<') {
        (*i)++;
        return buf_append(out, "&lt;", 4);
    }
    if (c == '>') {
        (*i)++;
        return buf_append(out, "&gt;", 4);
    }
    if (c == '&') {
        if ((n = sub_char_ref_len(s, *i)) > 0) {
            *i += n;
            return buf_append(out, s.p + *i - n, n);
        }
        (*i)++;
        return buf_append(out, "&amp;", 5);
    }
    (*i)++;
    if ((c < 0x20 && c != '\t') || c == 0x7f)
        return SV_OK;
    return buf_append_char(out, (char)c);
}

/* WebVTT class list ".a.b" (possibly empty): each class is one or more
 * characters other than whitespace, '.', '&', '<' and '>'. */
static bool
sub_valid_classes(const char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (p[i] != '.')
            return false;
        i++;
        size_t start = i;
        while (i < n && !sub_is_ws(p[i]) && p[i] != '.' && p[i] != '&' && p[i] != '<' &&
               p[i] != '>')
            i++;
        if (i == start)
            return false;
    }
    return true;
}

/*
 * A markup tag at line.p[i] == '<'. Returns the bytes it spans (and appends
 * what is kept of it to out), or 0 when this '<' opens no tag and is text.
 * A tag runs to the first '>' and holds no other '<'; its name (after an
 * optional '/') is ASCII letters, or it is a WebVTT timestamp.
 */
static size_t
sub_markup_tag(buf_t *out, str_t line, size_t i, bool vtt, int *rc)
{
    size_t j = i + 1;
    while (j < line.len && line.p[j] != '>' && line.p[j] != '<')
        j++;
    if (j >= line.len || line.p[j] != '>' || j == i + 1)
        return 0;
    const char *c = line.p + i + 1;
    size_t clen = j - i - 1, span = j - i + 1;
    bool closing = c[0] == '/';
    size_t k = closing ? 1 : 0, nlen = 0;

    *rc = SV_OK;
    if (vtt && !closing && sub_is_digit(c[0])) {
        size_t p = 0;
        int64_t ms;
        const char *why;
        str_t cs = str_make(c, clen);
        if (!sub_parse_time(cs, &p, false, &ms, &why) || p != clen)
            return 0;
        *rc = buf_append(out, line.p + i, span);
        return span;
    }
    while (k + nlen < clen && sub_is_alpha(c[k + nlen]))
        nlen++;
    if (nlen == 0)
        return 0;
    const char *name = c + k, *rest = c + k + nlen;
    size_t rlen = clen - k - nlen;

    if (sub_name_is(name, nlen, "i", true) || sub_name_is(name, nlen, "b", true) ||
        sub_name_is(name, nlen, "u", true)) {
        char tag[8];
        char lower = (char)(name[0] | 0x20);
        if (!closing && vtt && rlen > 0 && sub_valid_classes(rest, rlen)) {
            *rc = buf_append_char(out, '<');
            if (*rc == SV_OK)
                *rc = buf_append_char(out, lower);
            if (*rc == SV_OK)
                *rc = buf_append(out, rest, rlen);
            if (*rc == SV_OK)
                *rc = buf_append_char(out, '>');
            return span;
        }
        int n = snprintf(tag, sizeof(tag), "<%s%c>", closing ? "/" : "", lower);
        *rc = buf_append(out, tag, (size_t)n);
        return span;
    }
    if (vtt &&
        (sub_name_is(name, nlen, "c", false) || sub_name_is(name, nlen, "v", false) ||
         sub_name_is(name, nlen, "lang", false) || sub_name_is(name, nlen, "ruby", false) ||
         sub_name_is(name, nlen, "rt", false))) {
        if (closing) {
            if (rlen == 0)
                *rc = buf_append(out, line.p + i, span);
            return span;
        }
        size_t ce = 0; /* classes end where the annotation starts */
        while (ce < rlen && !sub_is_ws(rest[ce]))
            ce++;
        if (sub_valid_classes(rest, ce))
            *rc = buf_append(out, line.p + i, span);
        return span;
    }
    return span; /* <font ...>, </font> and unknown tags are stripped */
}

/*
 * One line of sidecar cue text, processed into l->scratch (emptied first):
 * markup kept or stripped, SubRip {\...} override blocks stripped, text
 * escaped, ends trimmed.
 */
static int
sub_process_line(sub_list_t *l, str_t line, bool vtt)
{
    buf_t *out = &l->scratch;
    size_t i = 0;
    int rc = SV_OK;

    buf_reset(out);
    while (i < line.len && rc == SV_OK) {
        char ch = line.p[i];
        if (ch == '<') {
            size_t n = sub_markup_tag(out, line, i, vtt, &rc);
            if (n > 0) {
                i += n;
                continue;
            }
        } else if (!vtt && ch == '{' && i + 1 < line.len && line.p[i + 1] == '\\') {
            size_t j = i + 2;
            while (j < line.len && line.p[j] != '}')
                j++;
            if (j < line.len) {
                i = j + 1;
                continue;
            }
        }
        rc = sub_put_text_char(out, line, &i);
    }
    return rc;
}

/*
 * Appends the trimmed bytes p[0..n) as one more line of the cue text that
 * starts at text_off in l->text (a '\n' first unless it is the first line).
 * An empty line is not appended.
 */
static int
sub_append_cue_line(sub_list_t *l, size_t text_off, const char *p, size_t n)
{
    str_t s = str_trim(str_make(p, n));
    int rc;
    if (s.len == 0)
        return SV_OK;
    if (l->text.len > text_off && (rc = buf_append_char(&l->text, '\n')) != SV_OK)
        return rc;
    return buf_append(&l->text, s.p, s.len);
}

/* ---- sidecar parsing ---- */

typedef struct {
    const char *base; /* the first byte of the file (offsets in messages) */
    const char *pos, *end;
    unsigned line_no; /* number of the line last read */
    bool vtt;
    sub_list_t *list;
} sub_parser_t;

/* Reads the next line (without its terminator). false at the end of input. */
static bool
sub_next_line(sub_parser_t *ps, str_t *line)
{
    const char *p = ps->pos;
    if (p >= ps->end)
        return false;
    const char *e = p;
    while (e < ps->end && *e != '\n' && *e != '\r')
        e++;
    *line = str_make(p, (size_t)(e - p));
    if (e < ps->end) {
        if (*e == '\r' && ps->end - e > 1 && e[1] == '\n')
            e++;
        e++;
    }
    ps->pos = e;
    ps->line_no++;
    return true;
}

/* The next line without consuming it. */
static bool
sub_peek_line(const sub_parser_t *ps, str_t *line)
{
    sub_parser_t copy = *ps;
    return sub_next_line(&copy, line);
}

/* Skips blank lines. false at the end of input. */
static bool
sub_skip_blank(sub_parser_t *ps)
{
    str_t line;
    for (;;) {
        sub_parser_t save = *ps;
        if (!sub_next_line(ps, &line))
            return false;
        if (!sub_is_blank(line)) {
            *ps = save;
            return true;
        }
    }
}

static int
sub_bad_timing(sub_parser_t *ps, str_t line, const char *why)
{
    char q[SUB_QUOTE_MAX * 4 + 8];
    snprintf(ps->list->err, ps->list->errlen, "line %u: timing \"%s\" is malformed (%s)",
             ps->line_no, sub_quote(line, q, sizeof(q)), why);
    return SV_BAD_DATA;
}

/* Keeps the cue settings WebVTT defines, space-separated, in l->text. */
static int
sub_keep_settings(sub_list_t *l, str_t s, sub_cue_t *cue)
{
    /* Not region: REGION blocks are dropped, see sub_parse_vtt. */
    static const char *const names[] = {"vertical", "line", "position", "size", "align"};
    size_t i = 0;
    int rc;

    cue->settings_off = l->text.len;
    while (i < s.len) {
        while (i < s.len && sub_is_ws(s.p[i]))
            i++;
        size_t start = i;
        while (i < s.len && !sub_is_ws(s.p[i]))
            i++;
        str_t tok = str_make(s.p + start, i - start);
        ptrdiff_t colon = str_find_char(tok, 0, ':');
        if (tok.len == 0 || colon <= 0 || (size_t)colon + 1 >= tok.len || sub_has_arrow(tok))
            continue;
        bool known = false;
        for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++)
            known = known || sub_name_is(tok.p, (size_t)colon, names[k], false);
        if (!known)
            continue;
        if (l->text.len > cue->settings_off && (rc = buf_append_char(&l->text, ' ')) != SV_OK)
            return rc;
        if ((rc = buf_append(&l->text, tok.p, tok.len)) != SV_OK)
            return rc;
    }
    cue->settings_len = l->text.len - cue->settings_off;
    return SV_OK;
}

/* Parses a timing line into cue (times, and settings for WebVTT). */
static int
sub_parse_timing(sub_parser_t *ps, str_t line, sub_cue_t *cue)
{
    size_t i = 0;
    const char *why = NULL;
    char a[32], b[32];

    while (i < line.len && sub_is_ws(line.p[i]))
        i++;
    if (!sub_parse_time(line, &i, !ps->vtt, &cue->start_ms, &why))
        return sub_bad_timing(ps, line, why);
    while (i < line.len && sub_is_ws(line.p[i]))
        i++;
    if (line.len - i < 3 || memcmp(line.p + i, "-->", 3) != 0)
        return sub_bad_timing(ps, line, "expected \"-->\" between the start and end times");
    i += 3;
    while (i < line.len && sub_is_ws(line.p[i]))
        i++;
    if (!sub_parse_time(line, &i, !ps->vtt, &cue->end_ms, &why))
        return sub_bad_timing(ps, line, why);
    if (i < line.len && !sub_is_ws(line.p[i]))
        return sub_bad_timing(ps, line, "unexpected text right after the end time");
    if (cue->end_ms < cue->start_ms) {
        snprintf(ps->list->err, ps->list->errlen,
                 "line %u: the cue ends at %s, before it starts at %s", ps->line_no,
                 sub_fmt_time(cue->end_ms, a, sizeof(a)),
                 sub_fmt_time(cue->start_ms, b, sizeof(b)));
        return SV_BAD_DATA;
    }
    cue->settings_len = 0;
    if (ps->vtt)
        return sub_keep_settings(ps->list, str_make(line.p + i, line.len - i), cue);
    return SV_OK; /* SubRip: X1:.. Y1:.. coordinates and the like are dropped */
}

/* True when the line after the current position contains "-->". */
static bool
sub_next_next_has_arrow(const sub_parser_t *ps)
{
    sub_parser_t copy = *ps;
    str_t a, b;
    return sub_next_line(&copy, &a) && sub_next_line(&copy, &b) && sub_has_arrow(b);
}

/*
 * Reads the text lines of a cue (its timing line read, cue filled) up to a
 * blank line, the end, or a line that starts the next cue (not consumed),
 * and adds the cue unless it is empty or lasts no time. mark: the length of
 * l->text before the cue's identifier and settings, to which it is cut back
 * when the cue is dropped.
 */
static int
sub_read_cue_text(sub_parser_t *ps, sub_cue_t *cue, size_t mark)
{
    sub_list_t *l = ps->list;
    str_t line;
    int rc;

    cue->text_off = l->text.len;
    for (;;) {
        if (!sub_peek_line(ps, &line) || sub_is_blank(line) || sub_has_arrow(line))
            break;
        if (!ps->vtt && sub_all_digits(str_trim(line)) && sub_next_next_has_arrow(ps))
            break; /* a SubRip cue number without the blank line before it */
        sub_next_line(ps, &line);
        if ((rc = sub_process_line(l, line, ps->vtt)) != SV_OK)
            return sub_buf_failed(l, rc);
        if ((rc = sub_append_cue_line(l, cue->text_off, l->scratch.data, l->scratch.len)) !=
            SV_OK)
            return sub_buf_failed(l, rc);
    }
    cue->text_len = l->text.len - cue->text_off;
    if (cue->text_len == 0 || cue->end_ms == cue->start_ms) {
        sub_buf_truncate(&l->text, mark);
        return SV_OK;
    }
    return sub_list_add(l, cue);
}

static int
sub_parse_srt(sub_parser_t *ps)
{
    sub_list_t *l = ps->list;
    char q[SUB_QUOTE_MAX * 4 + 8], q2[SUB_QUOTE_MAX * 4 + 8];
    str_t line, timing;
    int rc;

    while (sub_skip_blank(ps)) {
        sub_cue_t cue = {0};
        size_t mark = l->text.len;
        sub_next_line(ps, &line);
        if (sub_all_digits(str_trim(line))) {
            unsigned number_line = ps->line_no;
            if (!sub_next_line(ps, &timing) || sub_is_blank(timing)) {
                snprintf(l->err, l->errlen,
                         "line %u: cue number %s is not followed by a timing line", number_line,
                         sub_quote(line, q, sizeof(q)));
                return SV_BAD_DATA;
            }
            if (!sub_has_arrow(timing) && !sub_is_digit(str_trim(timing).p[0])) {
                snprintf(l->err, l->errlen,
                         "line %u: expected the timing line of cue %s, found \"%s\"",
                         ps->line_no, sub_quote(line, q, sizeof(q)),
                         sub_quote(timing, q2, sizeof(q2)));
                return SV_BAD_DATA;
            }
        } else if (sub_has_arrow(line)) {
            timing = line;
        } else {
            snprintf(l->err, l->errlen,
                     "line %u: expected a cue number or a timing line, found \"%s\"%s",
                     ps->line_no, sub_quote(line, q, sizeof(q)),
                     l->n == 0 && str_has_prefix(line, "WEBVTT")
                         ? " (a WebVTT file starts with \"WEBVTT\" on its first line, alone "
                           "or followed by a space)"
                         : "");
            return SV_BAD_DATA;
        }
        if ((rc = sub_parse_timing(ps, timing, &cue)) != SV_OK)
            return rc;
        if ((rc = sub_read_cue_text(ps, &cue, mark)) != SV_OK)
            return rc;
    }
    return SV_OK;
}

static int
sub_parse_vtt(sub_parser_t *ps)
{
    sub_list_t *l = ps->list;
    char q[SUB_QUOTE_MAX * 4 + 8], q2[SUB_QUOTE_MAX * 4 + 8];
    str_t line, timing;
    int rc;

    /* The header: "WEBVTT ..." and the lines up to a blank one are dropped. */
    sub_next_line(ps, &line);
    while (sub_peek_line(ps, &line) && !sub_is_blank(line) && !sub_has_arrow(line))
        sub_next_line(ps, &line);

    while (sub_skip_blank(ps)) {
        sub_cue_t cue = {0};
        size_t mark = l->text.len;
        sub_next_line(ps, &line);
        /* Comments go. STYLE and REGION blocks go too: libavformat's webvtt
         * demuxer (FFmpeg 5.1) stops at the first block that is not a cue
         * and loses every cue after it, and whoever packages our output may
         * read it with libavformat. */
        if (sub_starts_with_word(line, "NOTE") || sub_starts_with_word(line, "STYLE") ||
            sub_starts_with_word(line, "REGION")) {
            while (sub_peek_line(ps, &line) && !sub_is_blank(line) && !sub_has_arrow(line))
                sub_next_line(ps, &line);
            continue;
        }
        if (sub_has_arrow(line)) {
            timing = line;
        } else {
            str_t id = line; /* verbatim: trimmed, "  NOTE" would turn into a comment */
            unsigned id_line = ps->line_no;
            if (!sub_next_line(ps, &timing) || sub_is_blank(timing)) {
                snprintf(l->err, l->errlen,
                         "line %u: cue identifier \"%s\" is not followed by a timing line",
                         id_line, sub_quote(id, q, sizeof(q)));
                return SV_BAD_DATA;
            }
            if (!sub_has_arrow(timing) && !sub_is_digit(str_trim(timing).p[0])) {
                snprintf(l->err, l->errlen,
                         "line %u: expected the timing line of cue \"%s\", found \"%s\"",
                         ps->line_no, sub_quote(id, q, sizeof(q)),
                         sub_quote(timing, q2, sizeof(q2)));
                return SV_BAD_DATA;
            }
            /* libavformat takes a block that starts with these for a header
             * or a comment: such an identifier would lose its cue there. */
            if (!str_has_prefix(id, "NOTE") && !str_has_prefix(id, "WEBVTT") &&
                !str_has_prefix(id, "STYLE") && !str_has_prefix(id, "REGION")) {
                cue.id_off = l->text.len;
                cue.id_len = id.len;
                if ((rc = buf_append(&l->text, id.p, id.len)) != SV_OK)
                    return sub_buf_failed(l, rc);
            }
        }
        if ((rc = sub_parse_timing(ps, timing, &cue)) != SV_OK)
            return rc;
        if ((rc = sub_read_cue_text(ps, &cue, mark)) != SV_OK)
            return rc;
    }
    return SV_OK;
}

/* ---- writing ---- */

static int
sub_cue_cmp(const void *a, const void *b)
{
    const sub_cue_t *x = a, *y = b;
    if (x->start_ms != y->start_ms)
        return x->start_ms < y->start_ms ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Sorts the cues, settles open ends, and appends the WebVTT file to out. */
static int
sub_write_vtt(sub_list_t *l, buf_t *out)
{
    char a[32], b[32];
    int rc;

    if (l->n > 1)
        qsort(l->cues, l->n, sizeof(l->cues[0]), sub_cue_cmp);
    for (size_t k = 0; k < l->n; k++) {
        sub_cue_t *c = &l->cues[k];
        if (c->open_end && k + 1 < l->n && l->cues[k + 1].start_ms > c->start_ms &&
            l->cues[k + 1].start_ms < c->end_ms)
            c->end_ms = l->cues[k + 1].start_ms;
    }
    if ((rc = buf_append_cstr(out, "WEBVTT\n")) != SV_OK)
        goto fail;
    for (size_t k = 0; k < l->n; k++) {
        const sub_cue_t *c = &l->cues[k];
        if ((rc = buf_append_char(out, '\n')) != SV_OK)
            goto fail;
        if (c->id_len > 0 &&
            ((rc = buf_append(out, l->text.data + c->id_off, c->id_len)) != SV_OK ||
             (rc = buf_append_char(out, '\n')) != SV_OK))
            goto fail;
        rc = buf_appendf(out, "%s --> %s", sub_fmt_time(c->start_ms, a, sizeof(a)),
                         sub_fmt_time(c->end_ms, b, sizeof(b)));
        if (rc == SV_OK && c->settings_len > 0) {
            rc = buf_append_char(out, ' ');
            if (rc == SV_OK)
                rc = buf_append(out, l->text.data + c->settings_off, c->settings_len);
        }
        if (rc == SV_OK)
            rc = buf_append_char(out, '\n');
        if (rc == SV_OK)
            rc = buf_append(out, l->text.data + c->text_off, c->text_len);
        if (rc == SV_OK)
            rc = buf_append_char(out, '\n');
        if (rc != SV_OK)
            goto fail;
    }
    return SV_OK;
fail:
    if (rc == SV_NO_MEMORY)
        snprintf(l->err, l->errlen, "out of memory");
    else
        snprintf(l->err, l->errlen, "the WebVTT output is larger than %zu bytes", out->max);
    return rc;
}

/* Writes data to path through a temporary file in the same directory. */
static int
sub_write_file(const char *path, const char *data, size_t len, char *err, size_t errlen)
{
    char tmp[4096];
    const char *slash = strrchr(path, '/');
    int fd = -1, rc = SV_IO, n;

    if (slash)
        n = snprintf(tmp, sizeof(tmp), "%.*s/.%s.XXXXXX", (int)(slash - path), path, slash + 1);
    else
        n = snprintf(tmp, sizeof(tmp), ".%s.XXXXXX", path);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        snprintf(err, errlen, "the output path is too long");
        return SV_IO;
    }
    fd = mkstemp(tmp);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create a file next to %s: %s", path, strerror(errno));
        return SV_IO;
    }
    for (size_t off = 0; off < len;) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            snprintf(err, errlen, "cannot write %s: %s", tmp,
                     w < 0 ? strerror(errno) : "no progress");
            goto out;
        }
        off += (size_t)w;
    }
    if (fchmod(fd, 0644) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        goto out;
    }
    n = close(fd);
    fd = -1;
    if (n != 0) {
        snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        goto out;
    }
    if (rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        goto out;
    }
    rc = SV_OK;
out:
    if (fd >= 0)
        close(fd);
    if (rc != SV_OK)
        unlink(tmp);
    return rc;
}

/* ---- sidecars ---- */

int
subtitles_convert_buffer(const char *data, size_t len, buf_t *out, char *err, size_t errlen)
{
    sub_list_t l;
    sub_parser_t ps;
    size_t skip = 0;
    int rc;

    if (len > SUBTITLES_MAX_BYTES) {
        snprintf(err, errlen, "the file is %zu bytes; subtitles are limited to %u bytes", len,
                 SUBTITLES_MAX_BYTES);
        return SV_TOO_BIG;
    }
    if (len == 0) {
        snprintf(err, errlen, "the file is empty: no cues");
        return SV_BAD_DATA;
    }
    if (len >= 2 && (((unsigned char)data[0] == 0xFF && (unsigned char)data[1] == 0xFE) ||
                     ((unsigned char)data[0] == 0xFE && (unsigned char)data[1] == 0xFF))) {
        snprintf(err, errlen,
                 "the file is UTF-16 (it starts with a UTF-16 byte order mark); "
                 "only UTF-8 is accepted");
        return SV_BAD_DATA;
    }
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
        skip = 3;
    if ((rc = sub_check_utf8((const unsigned char *)data + skip, len - skip, skip, err,
                             errlen)) != SV_OK)
        return rc;

    sub_list_init(&l, err, errlen);
    ps.base = data;
    ps.pos = data + skip;
    ps.end = data + len;
    ps.line_no = 0;
    ps.list = &l;
    str_t first = STR_NULL;
    if (!sub_peek_line(&ps, &first) || (sub_is_blank(first) && !sub_skip_blank(&ps))) {
        snprintf(err, errlen, "the file is empty: no cues");
        rc = SV_BAD_DATA;
        goto out;
    }
    ps.vtt = sub_starts_with_word(first, "WEBVTT");
    rc = ps.vtt ? sub_parse_vtt(&ps) : sub_parse_srt(&ps);
    if (rc == SV_OK)
        rc = sub_write_vtt(&l, out);
out:
    sub_list_free(&l);
    return rc;
}

int
subtitles_convert_file(const char *in_path, const char *out_path, char *err, size_t errlen)
{
    struct stat sb;
    char *data = NULL;
    buf_t out;
    int fd = -1, rc = SV_IO;
    size_t got = 0;

    buf_init(&out, SUB_MAX_OUTPUT);
    fd = open(in_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", in_path, strerror(errno));
        rc = errno == ENOENT ? SV_NOT_FOUND : SV_IO;
        goto out;
    }
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        snprintf(err, errlen, "%s is not a regular file", in_path);
        rc = SV_BAD_DATA;
        goto out;
    }
    if (sb.st_size > (off_t)SUBTITLES_MAX_BYTES) {
        snprintf(err, errlen, "the file is %lld bytes; subtitles are limited to %u bytes",
                 (long long)sb.st_size, SUBTITLES_MAX_BYTES);
        rc = SV_TOO_BIG;
        goto out;
    }
    /* One byte more than the ceiling, so a file that grew meanwhile is seen. */
    data = malloc((size_t)sb.st_size + 1);
    if (data == NULL) {
        snprintf(err, errlen, "out of memory");
        rc = SV_NO_MEMORY;
        goto out;
    }
    for (;;) {
        ssize_t r = read(fd, data + got, (size_t)sb.st_size + 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(err, errlen, "cannot read %s: %s", in_path, strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        got += (size_t)r;
        if (got > (size_t)sb.st_size) {
            snprintf(err, errlen, "%s changed while it was read", in_path);
            goto out;
        }
    }
    if ((rc = subtitles_convert_buffer(data, got, &out, err, errlen)) != SV_OK)
        goto out;
    rc = sub_write_file(out_path, out.data, out.len, err, errlen);
out:
    if (fd >= 0)
        close(fd);
    free(data);
    buf_free(&out);
    return rc;
}

/* ---- streams in media files ---- */

typedef struct {
    bool on[3]; /* i, b, u */
    int order[3];
    int depth; /* order[0..depth) are open, innermost last */
} sub_ass_style_t;

static const char sub_ass_tags[3] = {'i', 'b', 'u'};

/* Opens (on) or closes tag t, keeping the WebVTT tags properly nested. */
static int
sub_ass_set(buf_t *out, sub_ass_style_t *st, int t, bool on)
{
    char tag[8];
    int rc, n;
    if (st->on[t] == on)
        return SV_OK;
    if (on) {
        st->on[t] = true;
        st->order[st->depth++] = t;
        n = snprintf(tag, sizeof(tag), "<%c>", sub_ass_tags[t]);
        return buf_append(out, tag, (size_t)n);
    }
    /* Close the tags opened after t, close t, reopen the others. */
    int pos = 0;
    while (st->order[pos] != t)
        pos++;
    for (int k = st->depth - 1; k >= pos; k--) {
        n = snprintf(tag, sizeof(tag), "</%c>", sub_ass_tags[st->order[k]]);
        if ((rc = buf_append(out, tag, (size_t)n)) != SV_OK)
            return rc;
    }
    for (int k = pos + 1; k < st->depth; k++) {
        st->order[k - 1] = st->order[k];
        n = snprintf(tag, sizeof(tag), "<%c>", sub_ass_tags[st->order[k - 1]]);
        if ((rc = buf_append(out, tag, (size_t)n)) != SV_OK)
            return rc;
    }
    st->depth--;
    st->on[t] = false;
    return SV_OK;
}

/* The commands of one override block ("\i1\b0\pos(1,2)"): i, b, u and r are
 * followed, everything else is dropped. */
static int
sub_ass_override(buf_t *out, sub_ass_style_t *st, const char *p, size_t n)
{
    int rc = SV_OK;
    for (size_t i = 0; i < n && rc == SV_OK; i++) {
        if (p[i] != '\\' || i + 1 >= n)
            continue;
        char c = p[i + 1];
        size_t d = i + 2;
        while (d < n && sub_is_digit(p[d]))
            d++;
        bool bare = d == i + 2; /* "\i" alone: back to the style's default (off) */
        bool end = d >= n || p[d] == '\\' || p[d] == '}';
        if (c == 'r') { /* \r or \rStyle: back to a style, here: plain */
            for (int t = 0; t < 3 && rc == SV_OK; t++)
                rc = sub_ass_set(out, st, t, false);
            continue;
        }
        if ((c != 'i' && c != 'b' && c != 'u') || !end)
            continue; /* \iclip, \blur, \bord, \fn... */
        int t = c == 'i' ? 0 : c == 'b' ? 1 : 2;
        bool on = false;
        if (!bare) {
            long v = 0;
            for (size_t k = i + 2; k < d && v < 10000; k++)
                v = v * 10 + (p[k] - '0');
            on = c == 'b' ? (v == 1 || v >= 700) : v == 1;
        }
        rc = sub_ass_set(out, st, t, on);
    }
    return rc;
}

/*
 * The text of one ASS event (fields before the text already skipped) into
 * l->scratch as WebVTT cue text, lines separated by '\n'.
 */
static int
sub_ass_text(sub_list_t *l, str_t s)
{
    buf_t *out = &l->scratch;
    sub_ass_style_t st = {{false, false, false}, {0, 0, 0}, 0};
    size_t i = 0;
    int rc = SV_OK;

    while (i < s.len && rc == SV_OK) {
        char c = s.p[i];
        if (c == '{') {
            size_t j = i + 1;
            while (j < s.len && s.p[j] != '}')
                j++;
            if (j < s.len) { /* an override block, or a comment: never text */
                rc = sub_ass_override(out, &st, s.p + i + 1, j - i - 1);
                i = j + 1;
                continue;
            }
        } else if (c == '\\' && i + 1 < s.len &&
                   (s.p[i + 1] == 'N' || s.p[i + 1] == 'n' || s.p[i + 1] == 'h')) {
            rc =
                s.p[i + 1] == 'h' ? buf_append(out, "\xC2\xA0", 2) : buf_append_char(out, '\n');
            i += 2;
            continue;
        } else if (c == '\n') {
            rc = buf_append_char(out, '\n');
            i++;
            continue;
        }
        rc = sub_put_text_char(out, s, &i);
    }
    for (int k = st.depth - 1; k >= 0 && rc == SV_OK; k--) {
        char tag[8];
        int n = snprintf(tag, sizeof(tag), "</%c>", sub_ass_tags[st.order[k]]);
        rc = buf_append(out, tag, (size_t)n);
    }
    return rc;
}

/* Skips the n comma-separated fields before the text of an ASS event. */
static str_t
sub_ass_skip_fields(str_t s, int n)
{
    size_t i = 0;
    for (int f = 0; f < n; f++) {
        ptrdiff_t c = str_find_char(s, i, ',');
        if (c < 0)
            return s; /* not an event line: take it all as text */
        i = (size_t)c + 1;
    }
    return str_make(s.p + i, s.len - i);
}

/* Appends the text of one rect to the cue text at text_off. */
static int
sub_add_rect(sub_list_t *l, const AVSubtitleRect *r, size_t text_off)
{
    str_t s;
    int rc;

    if (r->type == SUBTITLE_ASS && r->ass) {
        s = str_from_cstr(r->ass);
        /* "ReadOrder,Layer,Style,Name,MarginL,MarginR,MarginV,Effect,Text", or
         * the older "Dialogue: Layer,Start,End,Style,...,Effect,Text". */
        s = str_has_prefix(s, "Dialogue:") ? sub_ass_skip_fields(s, 9)
                                           : sub_ass_skip_fields(s, 8);
    } else if (r->type == SUBTITLE_TEXT && r->text) {
        s = str_from_cstr(r->text);
    } else {
        return SV_OK;
    }
    if (sub_check_utf8((const unsigned char *)s.p, s.len, 0, l->err, l->errlen) != SV_OK) {
        snprintf(l->err, l->errlen, "the decoded text is not UTF-8");
        return SV_BAD_DATA;
    }
    buf_reset(&l->scratch);
    if (r->type == SUBTITLE_ASS) {
        rc = sub_ass_text(l, s);
    } else {
        rc = SV_OK;
        for (size_t i = 0; i < s.len && rc == SV_OK;) {
            if (s.p[i] == '\n') {
                rc = buf_append_char(&l->scratch, '\n');
                i++;
            } else {
                rc = sub_put_text_char(&l->scratch, s, &i);
            }
        }
    }
    if (rc != SV_OK)
        return sub_buf_failed(l, rc);
    str_t all = buf_str(&l->scratch);
    for (size_t i = 0; i <= all.len;) {
        ptrdiff_t nl = str_find_char(all, i, '\n');
        size_t e = nl < 0 ? all.len : (size_t)nl;
        if ((rc = sub_append_cue_line(l, text_off, all.p + i, e - i)) != SV_OK)
            return sub_buf_failed(l, rc);
        i = e + 1;
    }
    return SV_OK;
}

static int64_t
sub_ms(int64_t ts, AVRational tb)
{
    return av_rescale_q(ts, tb, (AVRational){1, 1000});
}

int
subtitles_extract_stream(const char *media_path, int stream_index, const char *out_path,
                         char *err, size_t errlen)
{
    AVFormatContext *fmt = NULL; /* owned here; closed at out */
    AVCodecContext *dec = NULL;
    AVPacket *pkt = NULL;
    sub_list_t l;
    buf_t out;
    char averr[128], t[32];
    int rc = SV_BAD_DATA, r;

    probe_init_logging();
    sub_list_init(&l, err, errlen);
    buf_init(&out, SUB_MAX_OUTPUT);
    pkt = av_packet_alloc();
    if (pkt == NULL) {
        snprintf(err, errlen, "out of memory");
        rc = SV_NO_MEMORY;
        goto out;
    }
    r = avformat_open_input(&fmt, media_path, NULL, NULL); /* frees fmt on failure */
    if (r < 0) {
        av_strerror(r, averr, sizeof(averr));
        snprintf(err, errlen, "cannot open %s: %s", media_path, averr);
        rc = r == AVERROR(ENOENT) ? SV_NOT_FOUND : SV_BAD_DATA;
        fmt = NULL;
        goto out;
    }
    if ((r = avformat_find_stream_info(fmt, NULL)) < 0) {
        av_strerror(r, averr, sizeof(averr));
        snprintf(err, errlen, "cannot read the streams of %s: %s", media_path, averr);
        goto out;
    }
    if (stream_index < 0 || (unsigned)stream_index >= fmt->nb_streams) {
        snprintf(err, errlen, "stream #%d does not exist (the file has %u streams)",
                 stream_index, fmt->nb_streams);
        rc = SV_NOT_FOUND;
        goto out;
    }
    const AVStream *st = fmt->streams[stream_index];
    const AVCodecParameters *cp = st->codecpar;
    const char *codec_name = avcodec_get_name(cp->codec_id);
    if (cp->codec_type != AVMEDIA_TYPE_SUBTITLE) {
        snprintf(err, errlen, "stream #%d is %s (%s), not subtitles", stream_index,
                 av_get_media_type_string(cp->codec_type)
                     ? av_get_media_type_string(cp->codec_type)
                     : "unknown",
                 codec_name);
        goto out;
    }
    const AVCodecDescriptor *desc = avcodec_descriptor_get(cp->codec_id);
    if (desc && (desc->props & AV_CODEC_PROP_BITMAP_SUB)) {
        snprintf(err, errlen,
                 "stream #%d is %s, a bitmap format; only text subtitles become WebVTT",
                 stream_index, codec_name);
        rc = SV_UNSUPPORTED;
        goto out;
    }
    const AVCodec *codec = avcodec_find_decoder(cp->codec_id);
    if (desc == NULL || !(desc->props & AV_CODEC_PROP_TEXT_SUB) || codec == NULL) {
        snprintf(err, errlen, "stream #%d is %s, a subtitle format that cannot be read",
                 stream_index, codec_name);
        rc = SV_UNSUPPORTED;
        goto out;
    }
    dec = avcodec_alloc_context3(codec);
    if (dec == NULL) {
        snprintf(err, errlen, "out of memory");
        rc = SV_NO_MEMORY;
        goto out;
    }
    r = avcodec_parameters_to_context(dec, cp);
    dec->pkt_timebase = st->time_base; /* the decoders' own timings are in it */
    if (r >= 0)
        r = avcodec_open2(dec, codec, NULL);
    if (r < 0) {
        av_strerror(r, averr, sizeof(averr));
        snprintf(err, errlen, "stream #%d (%s): cannot open the decoder: %s", stream_index,
                 codec_name, averr);
        rc = r == AVERROR(ENOMEM) ? SV_NO_MEMORY : SV_BAD_DATA;
        goto out;
    }
    for (unsigned k = 0; k < fmt->nb_streams; k++)
        if ((int)k != stream_index)
            fmt->streams[k]->discard = AVDISCARD_ALL;
    int64_t origin_ms = fmt->start_time != AV_NOPTS_VALUE && fmt->start_time > 0
                            ? fmt->start_time / (AV_TIME_BASE / 1000)
                            : 0;

    for (;;) {
        r = av_read_frame(fmt, pkt);
        if (r == AVERROR_EOF)
            break;
        if (r < 0) {
            av_strerror(r, averr, sizeof(averr));
            snprintf(err, errlen, "cannot read %s: %s", media_path, averr);
            rc = r == AVERROR(ENOMEM) ? SV_NO_MEMORY : SV_BAD_DATA;
            goto out;
        }
        if (pkt->stream_index != stream_index) {
            av_packet_unref(pkt);
            continue;
        }
        int64_t ts = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
        if (ts == AV_NOPTS_VALUE) {
            av_packet_unref(pkt);
            continue; /* a subtitle at no time cannot be shown */
        }
        int64_t start = sub_ms(ts, st->time_base) - origin_ms;
        int64_t dur = pkt->duration > 0 ? sub_ms(pkt->duration, st->time_base) : 0;
        AVSubtitle sub;
        int got = 0;
        r = avcodec_decode_subtitle2(dec, &sub, &got, pkt);
        av_packet_unref(pkt);
        if (r < 0) {
            av_strerror(r, averr, sizeof(averr));
            snprintf(err, errlen, "stream #%d (%s): cannot decode the subtitle at %s: %s",
                     stream_index, codec_name,
                     sub_fmt_time(start < 0 ? 0 : start, t, sizeof(t)), averr);
            rc = r == AVERROR(ENOMEM) ? SV_NO_MEMORY : SV_BAD_DATA;
            goto out;
        }
        if (!got)
            continue;
        sub_cue_t cue = {0};
        cue.start_ms = start + sub.start_display_time;
        if (dur == 0 && sub.end_display_time > sub.start_display_time &&
            sub.end_display_time != UINT32_MAX)
            dur = sub.end_display_time - sub.start_display_time;
        cue.open_end = dur <= 0;
        cue.end_ms = cue.start_ms + (dur > 0 ? dur : SUB_OPEN_END_MS);
        cue.text_off = l.text.len;
        rc = SV_OK;
        for (unsigned k = 0; k < sub.num_rects && rc == SV_OK; k++)
            rc = sub_add_rect(&l, sub.rects[k], cue.text_off);
        avsubtitle_free(&sub);
        if (rc != SV_OK) {
            if (rc == SV_BAD_DATA) {
                char why[128];
                snprintf(why, sizeof(why), "%s", err);
                snprintf(err, errlen, "stream #%d (%s): the subtitle at %s: %s", stream_index,
                         codec_name, sub_fmt_time(start < 0 ? 0 : start, t, sizeof(t)), why);
            }
            goto out;
        }
        cue.text_len = l.text.len - cue.text_off;
        if (cue.text_len == 0 || cue.end_ms <= 0) {
            sub_buf_truncate(&l.text, cue.text_off);
            continue; /* empty (mov_text writes gaps as empty samples), or before the start */
        }
        if (cue.start_ms < 0)
            cue.start_ms = 0;
        if ((rc = sub_list_add(&l, &cue)) != SV_OK)
            goto out;
    }
    if ((rc = sub_write_vtt(&l, &out)) != SV_OK)
        goto out;
    rc = sub_write_file(out_path, out.data, out.len, err, errlen);
out:
    avcodec_free_context(&dec);
    avformat_close_input(&fmt);
    av_packet_free(&pkt);
    sub_list_free(&l);
    buf_free(&out);
    return rc;
}
