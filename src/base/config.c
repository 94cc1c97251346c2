/*
 * config.c: the key table, and the parsers for config files, the environment
 * and flags.
 *
 * One static table (config_keys) drives everything. Defaults are written in
 * it as config-file text and go through the same parser as a file, so a
 * default can never be out of range nor disagree with what config_print()
 * writes; test_config checks that every default is in its canonical form and
 * that the table covers every byte of config_t.
 *
 * The file parser works on the whole text at once (a config file is read
 * completely before parsing, and is at most CONFIG_FILE_MAX bytes), line by
 * line over (p, end), and never reads past end. Nothing in it allocates.
 */
#include "base/config.h"
#include "base/status.h"
#include "base/str.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define CONFIG_FILE_MAX (1024 * 1024) /* bytes of a config file, at most */
#define CONFIG_LINE_MAX 4096          /* bytes of one line without its newline, at most */
#define CONFIG_SHOW_MAX 64            /* bytes of an offending value quoted in an error */
#define CONFIG_ENV_PREFIX "STREAMVERSE_"

#define CONFIG_KIB ((int64_t)1 << 10)
#define CONFIG_MIB ((int64_t)1 << 20)
#define CONFIG_GIB ((int64_t)1 << 30)
#define CONFIG_TIB ((int64_t)1 << 40)
#define CONFIG_SEC ((int64_t)1000)
#define CONFIG_MIN (60 * CONFIG_SEC)
#define CONFIG_HOUR (60 * CONFIG_MIN)

typedef enum {
    CONFIG_STRING,   /* free text without control characters; min is the minimum length */
    CONFIG_ENUM,     /* one of choices */
    CONFIG_LISTEN,   /* HOST:PORT or [IPv6]:PORT */
    CONFIG_INT,      /* decimal integer */
    CONFIG_SIZE,     /* bytes; k, m, g, t suffixes are powers of 1024 */
    CONFIG_DURATION, /* milliseconds; ms, s, m, h suffixes, a bare number is seconds */
} config_type_t;

typedef struct {
    const char *name;
    config_type_t type;
    size_t offset;              /* of the field in config_t */
    size_t size;                /* bytes of the field; for text, including the NUL */
    const char *def;            /* default, in canonical config-file syntax, unquoted */
    int64_t min, max;           /* numbers: inclusive bounds (ms for durations) */
    const char *const *choices; /* CONFIG_ENUM: NULL-terminated */
    const char *section;        /* heading printed before this key, or NULL */
    const char *help;           /* one or more lines separated by '\n' */
} config_key_t;

/*
 * Field accessors that fail to compile if the field has the wrong type, so
 * the table cannot silently write an int64_t into a char array or back.
 */
#define CONFIG_I64_AT(f)                                                                       \
    (offsetof(config_t, f) + 0 * sizeof(_Generic(((config_t *)0)->f, int64_t : 1)))
#define CONFIG_TEXT_AT(f)                                                                      \
    (offsetof(config_t, f) + 0 * sizeof(_Generic(((config_t *)0)->f, char * : 1)))
#define CONFIG_SIZEOF(f) sizeof(((config_t *)0)->f)

#define KEY_TEXT(sec, f, type_, minlen, choices_, def_, help_)                                 \
    {                                                                                          \
        .name = #f, .type = (type_), .offset = CONFIG_TEXT_AT(f), .size = CONFIG_SIZEOF(f),    \
        .def = (def_), .min = (minlen), .choices = (choices_), .section = (sec),               \
        .help = (help_)                                                                        \
    }
#define KEY_NUM(sec, f, type_, def_, min_, max_, help_)                                        \
    {                                                                                          \
        .name = #f, .type = (type_), .offset = CONFIG_I64_AT(f), .size = sizeof(int64_t),      \
        .def = (def_), .min = (min_), .max = (max_), .section = (sec), .help = (help_)         \
    }
/* Durations are named without the _ms suffix their field carries. */
#define KEY_DURATION(sec, f, def_, min_, max_, help_)                                          \
    {                                                                                          \
        .name = #f, .type = CONFIG_DURATION, .offset = CONFIG_I64_AT(f##_ms),                  \
        .size = sizeof(int64_t), .def = (def_), .min = (min_), .max = (max_),                  \
        .section = (sec), .help = (help_)                                                      \
    }

static const char *const config_log_levels[] = {"debug", "info", "warn", "error", "off", NULL};
static const char *const config_video_codecs[] = {"h264", "hevc", "av1", NULL};
static const char *const config_video_presets[] = {
    "ultrafast", "superfast", "veryfast", "faster",   "fast",
    "medium",    "slow",      "slower",   "veryslow", NULL};
static const char *const config_log_formats[] = {"json", "text", NULL};

static const config_key_t config_keys[] = {
    KEY_TEXT("process", data_dir, CONFIG_STRING, 1, NULL, "./data",
             "Directory for the database, media, logs and temporary files."),
    KEY_TEXT(NULL, database, CONFIG_STRING, 0, NULL, "",
             "Database: empty for SQLite in data_dir, or a PostgreSQL connection URI."),
    KEY_TEXT(NULL, log_level, CONFIG_ENUM, 0, config_log_levels, "info",
             "Least severe log level written: debug, info, warn, error or off."),
    KEY_TEXT(NULL, log_format, CONFIG_ENUM, 0, config_log_formats, "json",
             "Log record format: json (one object per line) or text."),
    KEY_TEXT(NULL, access_log, CONFIG_STRING, 0, NULL, "",
             "Access log: empty for data_dir/logs/access.log, \"off\", \"stderr\",\n"
             "or the path of a file."),
    KEY_TEXT(NULL, web_root, CONFIG_STRING, 1, NULL, "./web",
             "Directory of the web app's files, served at /."),

    KEY_TEXT("HTTP server", listen, CONFIG_LISTEN, 0, NULL, "127.0.0.1:8080",
             "Address the HTTP server listens on: HOST:PORT or [IPv6]:PORT."),
    KEY_NUM(NULL, workers, CONFIG_INT, "0", 0, 256,
            "Event loop threads; 0 starts one per CPU core."),
    KEY_NUM(NULL, http_max_connections, CONFIG_INT, "10000", 1, 1000000,
            "Client connections open at once, at most."),
    KEY_NUM(NULL, http_max_header_bytes, CONFIG_SIZE, "16k", CONFIG_KIB, CONFIG_MIB,
            "Bytes of the request line and headers of one request, at most."),
    KEY_NUM(NULL, http_max_headers, CONFIG_INT, "100", 1, 10000,
            "Header fields in one request, at most."),
    KEY_NUM(NULL, http_max_body_bytes, CONFIG_SIZE, "1m", 1, CONFIG_TIB,
            "Bytes of the body of a request that is not an upload, at most."),
    KEY_NUM(NULL, http_max_upload_bytes, CONFIG_SIZE, "20g", 1, 64 * CONFIG_TIB,
            "Bytes of the body of an upload request, at most."),
    KEY_NUM(NULL, http_body_memory_bytes, CONFIG_SIZE, "1m", 1, CONFIG_GIB,
            "Request bodies larger than this are spooled to a file instead of memory."),
    KEY_NUM(NULL, http_output_max_bytes, CONFIG_SIZE, "8m", CONFIG_KIB, CONFIG_GIB,
            "Bytes queued for sending to one client, at most (the ceiling for a slow reader)."),
    KEY_DURATION(NULL, http_header_timeout, "10s", 1, CONFIG_HOUR,
                 "Time allowed to receive the request line and headers."),
    KEY_DURATION(NULL, http_body_timeout, "30s", 1, CONFIG_HOUR,
                 "Time allowed without progress while receiving a request body."),
    KEY_DURATION(NULL, http_send_timeout, "30s", 1, CONFIG_HOUR,
                 "Time allowed without progress while sending a response."),
    KEY_DURATION(NULL, http_keepalive_timeout, "65s", 0, CONFIG_HOUR,
                 "Idle time before a keep-alive connection is closed; 0 disables keep-alive."),
    KEY_NUM(NULL, http_keepalive_requests, CONFIG_INT, "10000", 1, 1000000,
            "Requests served on one connection before it is closed."),
    KEY_DURATION(NULL, http_shutdown_timeout, "30s", 0, CONFIG_HOUR,
                 "Time requests in flight get to finish when the server shuts down."),
    KEY_DURATION(NULL, http_file_cache_valid, "1s", 0, CONFIG_HOUR,
                 "How long an open media or web file is reused before its path is opened "
                 "again (a replaced file is seen after at most this); 0 opens every time."),
    KEY_TEXT(NULL, cors_allow_origin, CONFIG_STRING, 0, NULL, "*",
             "Access-Control-Allow-Origin sent to browsers; empty sends no CORS headers."),

    KEY_DURATION("outbound HTTP client", http_client_timeout, "10s", 1, CONFIG_HOUR,
                 "Time allowed for a whole outbound HTTP request."),
    KEY_DURATION(NULL, http_client_connect_timeout, "3s", 1, 10 * CONFIG_MIN,
                 "Time allowed to connect for an outbound HTTP request."),

    KEY_NUM("API", api_workers, CONFIG_INT, "4", 1, 256,
            "Threads that run API handlers which block (database access)."),
    KEY_NUM(NULL, api_page_default, CONFIG_INT, "50", 1, 10000,
            "Items in a list page when the request does not say (at most api_page_max)."),
    KEY_NUM(NULL, api_page_max, CONFIG_INT, "500", 1, 10000, "Items in a list page, at most."),
    KEY_NUM(NULL, json_max_depth, CONFIG_INT, "32", 1, 1000,
            "Nesting depth of a JSON request body, at most."),

    KEY_NUM("media ingest", media_max_width, CONFIG_INT, "7680", 16, 16384,
            "Widest picture accepted at ingest, in pixels; wider sources are refused."),
    KEY_NUM(NULL, media_max_height, CONFIG_INT, "4320", 16, 16384,
            "Tallest picture accepted at ingest, in pixels; taller sources are refused."),
    KEY_DURATION(NULL, media_max_duration, "24h", CONFIG_SEC, 7 * 24 * CONFIG_HOUR,
                 "Longest source accepted at ingest."),
    KEY_DURATION(NULL, media_probe_timeout, "30s", CONFIG_SEC, CONFIG_HOUR,
                 "Time allowed to open a source and read its streams."),
    KEY_TEXT(NULL, video_ladder, CONFIG_STRING, 1, NULL,
             "1080:5000,720:3000,480:1400,360:800,240:400",
             "ABR ladder: SHORT_SIDE:KBPS rungs, highest first (H.264 kbit/s at 16:9)."),
    KEY_TEXT(NULL, video_codec, CONFIG_ENUM, 0, config_video_codecs, "h264",
             "Video codec of the ladder: h264, hevc or av1."),
    KEY_TEXT(NULL, video_preset, CONFIG_ENUM, 0, config_video_presets, "veryfast",
             "Encoder speed preset (x264/x265 names; mapped for SVT-AV1): slower is smaller."),
    KEY_DURATION(
        NULL, segment_duration, "4s", CONFIG_SEC, 30 * CONFIG_SEC,
        "Target segment duration: every rendition gets an IDR frame at each boundary."),
    KEY_NUM(NULL, media_max_decode_errors, CONFIG_INT, "100", 0, 1000000,
            "Damaged packets or frames a source may have before its ingest fails."),
    KEY_NUM("job queue", job_workers, CONFIG_INT, "2", 0, 256,
            "Threads that run background jobs; 0 runs none in this process."),
    KEY_DURATION(NULL, job_lease, "1m", CONFIG_SEC, 24 * CONFIG_HOUR,
                 "Time a worker holds a claimed job before another worker may take it over."),
    KEY_NUM(NULL, job_max_attempts, CONFIG_INT, "5", 1, 100,
            "Attempts at a failing job before it is given up."),
    KEY_DURATION(NULL, job_backoff_base, "5s", 1, 24 * CONFIG_HOUR,
                 "Delay before the first retry of a failed job; it doubles with each retry."),
    KEY_DURATION(NULL, job_backoff_max, "10m", 1, 24 * CONFIG_HOUR,
                 "Delay before a retry, at most (at least job_backoff_base)."),
    KEY_DURATION(NULL, job_poll, "1s", 10, CONFIG_HOUR,
                 "How often idle job workers look for new jobs."),
};

#define CONFIG_NKEYS (sizeof(config_keys) / sizeof(config_keys[0]))

/* STREAMVERSE_* variables that are not config keys; config_apply_env skips them. */
static const char *const config_env_reserved[] = {
    "STREAMVERSE_ARENA_MALLOC", /* arena.c: debug allocation mode */
};

static void config_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Formats a message into err, if the caller gave room for one. */
static void
config_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

#define CONFIG_SHOW_CAP (CONFIG_SHOW_MAX * 4 + 4)

/*
 * Writes untrusted bytes into dst (CONFIG_SHOW_CAP bytes) so they can be quoted
 * in an error message: printable ASCII as is, '"' and '\' and everything else
 * escaped, at most CONFIG_SHOW_MAX input bytes, then "...". Returns dst.
 */
static const char *
config_show(char *dst, str_t s)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;

    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if (i == CONFIG_SHOW_MAX) {
            memcpy(dst + o, "...", 3);
            o += 3;
            break;
        }
        if (c == '"' || c == '\\') {
            dst[o++] = '\\';
            dst[o++] = (char)c;
        } else if (c >= 0x20 && c < 0x7f) {
            dst[o++] = (char)c;
        } else {
            dst[o++] = '\\';
            dst[o++] = 'x';
            dst[o++] = hex[c >> 4];
            dst[o++] = hex[c & 15];
        }
    }
    dst[o] = '\0';
    return dst;
}

static const config_key_t *
config_key_find(str_t name)
{
    for (size_t i = 0; i < CONFIG_NKEYS; i++) {
        if (str_eq_cstr(name, config_keys[i].name))
            return &config_keys[i];
    }
    return NULL;
}

/* The key whose upper-cased name is name (the part after STREAMVERSE_), or NULL. */
static const config_key_t *
config_key_find_env(str_t name)
{
    for (size_t i = 0; i < CONFIG_NKEYS; i++) {
        const char *k = config_keys[i].name;
        size_t j = 0;
        while (j < name.len && k[j] != '\0') {
            char u = (k[j] >= 'a' && k[j] <= 'z') ? (char)(k[j] - 'a' + 'A') : k[j];
            if (name.p[j] != u)
                break;
            j++;
        }
        if (j == name.len && k[j] == '\0')
            return &config_keys[i];
    }
    return NULL;
}

/* Splits s into its leading digits and the rest, and parses the digits. */
static int
config_number_prefix(str_t s, uint64_t *num, str_t *suffix)
{
    size_t n = 0;
    int rc;

    while (n < s.len && s.p[n] >= '0' && s.p[n] <= '9')
        n++;
    rc = str_to_u64(str_make(s.p, n), num);
    if (rc != SV_OK)
        return rc;
    *suffix = str_make(s.p + n, s.len - n);
    return SV_OK;
}

/* "123", "16k", "1M", ... -> bytes. SV_OK, SV_BAD_DATA or SV_TOO_BIG (past INT64_MAX). */
static int
config_size_parse(str_t s, int64_t *out)
{
    uint64_t v, mul;
    str_t suf;
    int rc;

    rc = config_number_prefix(s, &v, &suf);
    if (rc != SV_OK)
        return rc;
    if (suf.len == 0)
        mul = 1;
    else if (str_caseeq(suf, "k"))
        mul = (uint64_t)CONFIG_KIB;
    else if (str_caseeq(suf, "m"))
        mul = (uint64_t)CONFIG_MIB;
    else if (str_caseeq(suf, "g"))
        mul = (uint64_t)CONFIG_GIB;
    else if (str_caseeq(suf, "t"))
        mul = (uint64_t)CONFIG_TIB;
    else
        return SV_BAD_DATA;
    if (v > (uint64_t)INT64_MAX / mul)
        return SV_TOO_BIG;
    *out = (int64_t)(v * mul);
    return SV_OK;
}

/* "1500ms", "2s", "5m", "1h", "30" (seconds) -> ms. SV_OK, SV_BAD_DATA or SV_TOO_BIG. */
static int
config_duration_parse(str_t s, int64_t *out)
{
    uint64_t v, mul;
    str_t suf;
    int rc;

    rc = config_number_prefix(s, &v, &suf);
    if (rc != SV_OK)
        return rc;
    if (suf.len == 0 || str_eq_cstr(suf, "s"))
        mul = (uint64_t)CONFIG_SEC;
    else if (str_eq_cstr(suf, "ms"))
        mul = 1;
    else if (str_eq_cstr(suf, "m"))
        mul = (uint64_t)CONFIG_MIN;
    else if (str_eq_cstr(suf, "h"))
        mul = (uint64_t)CONFIG_HOUR;
    else
        return SV_BAD_DATA;
    if (v > (uint64_t)INT64_MAX / mul)
        return SV_TOO_BIG;
    *out = (int64_t)(v * mul);
    return SV_OK;
}

int
config_parse_size(const char *s, int64_t *out)
{
    return config_size_parse(str_from_cstr(s), out);
}

int
config_parse_duration_ms(const char *s, int64_t *out)
{
    return config_duration_parse(str_from_cstr(s), out);
}

/*
 * Writes v in the canonical syntax of type t (the largest unit that divides
 * it exactly: 16384 -> "16k", 90000 -> "90s", 600000 -> "10m") into out.
 */
static void
config_format_number(config_type_t t, int64_t v, char *out, size_t cap)
{
    static const struct {
        int64_t unit;
        const char *suffix;
    } sizes[] = {{CONFIG_TIB, "t"}, {CONFIG_GIB, "g"}, {CONFIG_MIB, "m"}, {CONFIG_KIB, "k"}},
      durations[] = {{CONFIG_HOUR, "h"}, {CONFIG_MIN, "m"}, {CONFIG_SEC, "s"}, {1, "ms"}};
    const char *suffix = "";
    int64_t unit = 1;

    if (t == CONFIG_SIZE && v > 0) {
        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
            if (v % sizes[i].unit == 0) {
                unit = sizes[i].unit;
                suffix = sizes[i].suffix;
                break;
            }
        }
    } else if (t == CONFIG_DURATION) {
        suffix = "s";
        unit = CONFIG_SEC;
        for (size_t i = 0; v != 0 && i < sizeof(durations) / sizeof(durations[0]); i++) {
            if (v % durations[i].unit == 0) {
                unit = durations[i].unit;
                suffix = durations[i].suffix;
                break;
            }
        }
    }
    snprintf(out, cap, "%" PRId64 "%s", v / unit, suffix);
}

static bool
config_is_alnum(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
config_is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/*
 * HOST:PORT (host of letters, digits, '.', '-') or [IPv6]:PORT (hex digits,
 * ':', '.', and an optional %zone), port 1..65535. Syntax only: whether the
 * host resolves is for the server to find out when it binds.
 */
static bool
config_listen_valid(str_t v)
{
    const char *p = v.p, *end = v.p + v.len, *q;
    uint64_t port;

    if (v.len == 0)
        return false;
    if (*p == '[') {
        const char *rb = memchr(p, ']', v.len);
        size_t colons = 0;
        const char *zone = NULL;
        if (rb == NULL)
            return false;
        for (q = p + 1; q < rb; q++) {
            if (zone == NULL && *q == '%')
                zone = q;
            else if (zone != NULL &&
                     (config_is_alnum(*q) || *q == '.' || *q == '_' || *q == '-'))
                continue;
            else if (zone == NULL && (config_is_hex(*q) || *q == '.' || *q == ':'))
                colons += *q == ':';
            else
                return false;
        }
        if (colons < 2 || (zone != NULL && zone + 1 == rb))
            return false;
        q = rb + 1;
    } else {
        for (q = p; q < end && *q != ':'; q++) {
            if (!config_is_alnum(*q) && *q != '.' && *q != '-')
                return false;
        }
        if (q == p)
            return false;
    }
    if (q == end || *q != ':')
        return false;
    q++;
    if (end - q > 5 || str_to_u64(str_make(q, (size_t)(end - q)), &port) != SV_OK)
        return false;
    return port >= 1 && port <= 65535;
}

/* Writes what a valid value of k looks like ("expected ...") into why. */
static void
config_expected(const config_key_t *k, str_t v, char *why, size_t whylen)
{
    char shown[CONFIG_SHOW_CAP], lo[32], hi[32], list[128];
    size_t o = 0;

    config_show(shown, v);
    switch (k->type) {
    case CONFIG_ENUM:
        list[0] = '\0';
        for (size_t i = 0; k->choices[i] != NULL && o < sizeof(list); i++) {
            int n = snprintf(list + o, sizeof(list) - o, "%s%s", i ? ", " : "", k->choices[i]);
            if (n < 0)
                break;
            o += (size_t)n;
        }
        config_err(why, whylen, "bad value \"%s\": expected one of %s", shown, list);
        break;
    case CONFIG_LISTEN:
        config_err(
            why, whylen,
            "bad value \"%s\": expected HOST:PORT or [IPv6]:PORT with a port in 1..65535",
            shown);
        break;
    case CONFIG_INT:
        config_err(why, whylen,
                   "bad value \"%s\": expected an integer in %" PRId64 "..%" PRId64, shown,
                   k->min, k->max);
        break;
    case CONFIG_SIZE:
        config_format_number(k->type, k->min, lo, sizeof(lo));
        config_format_number(k->type, k->max, hi, sizeof(hi));
        config_err(why, whylen,
                   "bad value \"%s\": expected a size in %s..%s bytes "
                   "(a number with an optional k, m, g or t suffix)",
                   shown, lo, hi);
        break;
    case CONFIG_DURATION:
        config_format_number(k->type, k->min, lo, sizeof(lo));
        config_format_number(k->type, k->max, hi, sizeof(hi));
        config_err(why, whylen,
                   "bad value \"%s\": expected a duration in %s..%s "
                   "(a number with an optional ms, s, m or h suffix; seconds if none)",
                   shown, lo, hi);
        break;
    case CONFIG_STRING:
        config_err(why, whylen, "bad value \"%s\"", shown);
        break;
    }
}

/* Checks a value for a text field: length, characters, then the type's syntax. */
static int
config_check_text(const config_key_t *k, str_t v, char *why, size_t whylen)
{
    if (v.len > k->size - 1) {
        config_err(why, whylen, "value is %zu bytes long; the limit is %zu", v.len,
                   k->size - 1);
        return SV_BAD_DATA;
    }
    if ((int64_t)v.len < k->min) {
        config_err(why, whylen, "must not be empty");
        return SV_BAD_DATA;
    }
    /* No CR or LF may reach a path, a header (cors_allow_origin) or a log. */
    for (size_t i = 0; i < v.len; i++) {
        unsigned char c = (unsigned char)v.p[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            config_err(why, whylen, "control character 0x%02x in value", c);
            return SV_BAD_DATA;
        }
    }
    if (k->type == CONFIG_ENUM) {
        for (size_t i = 0; k->choices[i] != NULL; i++) {
            if (str_eq_cstr(v, k->choices[i]))
                return SV_OK;
        }
        config_expected(k, v, why, whylen);
        return SV_BAD_DATA;
    }
    if (k->type == CONFIG_LISTEN && !config_listen_valid(v)) {
        config_expected(k, v, why, whylen);
        return SV_BAD_DATA;
    }
    return SV_OK;
}

/*
 * Validates v for k and stores it in c. SV_OK, or SV_BAD_DATA with what is
 * wrong (without the key) in why; c is unchanged on failure.
 */
static int
config_store(config_t *c, const config_key_t *k, str_t v, char *why, size_t whylen)
{
    char *field = (char *)c + k->offset;
    int64_t n = 0;
    int rc = SV_BAD_DATA;

    switch (k->type) {
    case CONFIG_STRING:
    case CONFIG_ENUM:
    case CONFIG_LISTEN:
        rc = config_check_text(k, v, why, whylen);
        if (rc != SV_OK)
            return rc;
        if (v.len)
            memcpy(field, v.p, v.len);
        /* Zero the whole tail so equal configs are equal bytes (memcmp-able). */
        memset(field + v.len, 0, k->size - v.len);
        return SV_OK;
    case CONFIG_INT:
        rc = str_to_i64(v, &n);
        break;
    case CONFIG_SIZE:
        rc = config_size_parse(v, &n);
        break;
    case CONFIG_DURATION:
        rc = config_duration_parse(v, &n);
        break;
    }
    if (rc != SV_OK || n < k->min || n > k->max) {
        config_expected(k, v, why, whylen);
        return SV_BAD_DATA;
    }
    memcpy(field, &n, sizeof(n));
    return SV_OK;
}

void
config_defaults(config_t *c)
{
    char why[256];

    memset(c, 0, sizeof(*c));
    for (size_t i = 0; i < CONFIG_NKEYS; i++) {
        int rc = config_store(c, &config_keys[i], str_from_cstr(config_keys[i].def), why,
                              sizeof(why));
        /* The table is compiled in; test_config checks every default. */
        assert(rc == SV_OK);
        (void)rc;
    }
}

static bool
config_is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/*
 * Parses one line (without its newline) and applies it to c. seen[i] holds
 * the line that set config_keys[i] (0: not yet). SV_OK, or SV_BAD_DATA with
 * "key: what is wrong" (or just what is wrong, when there is no key) in msg.
 */
static int
config_parse_line(config_t *c, str_t line, size_t lineno, size_t *seen, char *msg,
                  size_t msglen)
{
    const char *p = line.p, *end = line.p + line.len;
    char unquoted[CONFIG_LINE_MAX]; /* a quoted value without its quotes is shorter than its
                                       line */
    char shown[CONFIG_SHOW_CAP], why[512];
    const config_key_t *k;
    str_t key, value;
    size_t idx;

    while (p < end && config_is_blank(*p))
        p++;
    if (p == end || *p == '#')
        return SV_OK;

    key.p = p;
    while (p < end && *p != '=' && *p != '#' && !config_is_blank(*p))
        p++;
    key.len = (size_t)(p - key.p);
    while (p < end && config_is_blank(*p))
        p++;
    if (key.len == 0) {
        config_err(msg, msglen, "missing key before '='");
        return SV_BAD_DATA;
    }
    if (p == end || *p != '=') {
        config_err(msg, msglen, "%s: missing '=' (expected key = value)",
                   config_show(shown, key));
        return SV_BAD_DATA;
    }
    p++;

    k = config_key_find(key);
    if (k == NULL) {
        config_err(msg, msglen, "%s: unknown key", config_show(shown, key));
        return SV_BAD_DATA;
    }
    idx = (size_t)(k - config_keys);
    if (seen[idx] != 0) {
        config_err(msg, msglen, "%s: duplicate key (first set on line %zu)", k->name,
                   seen[idx]);
        return SV_BAD_DATA;
    }

    while (p < end && config_is_blank(*p))
        p++;
    if (p < end && *p == '"') {
        size_t n = 0;
        p++;
        for (;;) {
            char ch;
            if (p == end) {
                config_err(msg, msglen, "%s: unterminated quote", k->name);
                return SV_BAD_DATA;
            }
            ch = *p++;
            if (ch == '"')
                break;
            if (ch == '\\') {
                if (p == end) {
                    config_err(msg, msglen, "%s: unterminated quote", k->name);
                    return SV_BAD_DATA;
                }
                ch = *p++;
                switch (ch) {
                case '"':
                case '\\':
                    break;
                case 'n':
                    ch = '\n';
                    break;
                case 't':
                    ch = '\t';
                    break;
                default:
                    config_err(
                        msg, msglen,
                        "%s: unknown escape \\%s in quoted value (use \\\" \\\\ \\n \\t)",
                        k->name, config_show(shown, str_make(p - 1, 1)));
                    return SV_BAD_DATA;
                }
            }
            unquoted[n++] = ch;
        }
        while (p < end && config_is_blank(*p))
            p++;
        if (p < end && *p != '#') {
            config_err(msg, msglen, "%s: unexpected text after the closing quote", k->name);
            return SV_BAD_DATA;
        }
        value = str_make(unquoted, n);
    } else {
        const char *hash = memchr(p, '#', (size_t)(end - p));
        value = str_trim(str_make(p, (size_t)((hash ? hash : end) - p)));
    }

    if (config_store(c, k, value, why, sizeof(why)) != SV_OK) {
        config_err(msg, msglen, "%s: %s", k->name, why);
        return SV_BAD_DATA;
    }
    seen[idx] = lineno;
    return SV_OK;
}

int
config_parse(config_t *c, const char *text, size_t len, const char *origin, char *err,
             size_t errlen)
{
    size_t seen[CONFIG_NKEYS] = {0};
    char msg[1024];
    const char *p, *end;
    size_t lineno = 0;

    if (origin == NULL)
        origin = "config";
    if (len == 0)
        return SV_OK;
    p = text;
    end = text + len;
    if ((size_t)(end - p) >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
        p += 3; /* a UTF-8 byte order mark, as some editors write */

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        str_t line = str_make(p, (size_t)((nl ? nl : end) - p));
        p = nl ? nl + 1 : end;
        lineno++;
        if (line.len > CONFIG_LINE_MAX) {
            config_err(err, errlen, "%s:%zu: line is longer than %d bytes", origin, lineno,
                       CONFIG_LINE_MAX);
            return SV_BAD_DATA;
        }
        if (line.len > 0 && line.p[line.len - 1] == '\r')
            line.len--;
        if (config_parse_line(c, line, lineno, seen, msg, sizeof(msg)) != SV_OK) {
            config_err(err, errlen, "%s:%zu: %s", origin, lineno, msg);
            return SV_BAD_DATA;
        }
    }
    return SV_OK;
}

int
config_load_file(config_t *c, const char *path, char *err, size_t errlen)
{
    char ebuf[128];
    buf_t text;
    int fd = -1;
    int rc = SV_IO;

    /* One byte over the limit, to tell "exactly at the limit" from "over it". */
    buf_init(&text, CONFIG_FILE_MAX + 1);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = errno == ENOENT ? SV_NOT_FOUND : SV_IO;
        config_err(err, errlen, "%s: cannot open: %s", path,
                   strerror_r(errno, ebuf, sizeof(ebuf)));
        goto out;
    }
    for (;;) {
        size_t room;
        ssize_t got;

        if (text.len == text.max) {
            config_err(err, errlen, "%s: larger than %d bytes", path, CONFIG_FILE_MAX);
            rc = SV_TOO_BIG;
            goto out;
        }
        room = text.max - text.len < 65536 ? text.max - text.len : 65536;
        rc = buf_reserve(&text, room);
        if (rc != SV_OK) {
            config_err(err, errlen, "%s: out of memory", path);
            goto out;
        }
        got = read(fd, text.data + text.len, room);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            config_err(err, errlen, "%s: cannot read: %s", path,
                       strerror_r(errno, ebuf, sizeof(ebuf)));
            rc = SV_IO;
            goto out;
        }
        if (got == 0)
            break;
        text.len += (size_t)got;
    }
    rc = config_parse(c, text.data, text.len, path, err, errlen);

out:
    if (fd >= 0)
        close(fd);
    buf_free(&text);
    return rc;
}

int
config_apply_env(config_t *c, char *const *envp, char *err, size_t errlen)
{
    const size_t plen = sizeof(CONFIG_ENV_PREFIX) - 1;
    bool seen[CONFIG_NKEYS] = {false};
    char shown[CONFIG_SHOW_CAP], why[512];

    for (size_t i = 0; envp != NULL && envp[i] != NULL; i++) {
        const char *e = envp[i];
        const char *eq = strchr(e, '=');
        const config_key_t *k;
        str_t name;
        bool reserved = false;

        /* An entry without '=' is not a variable (getenv cannot see it either). */
        if (strncmp(e, CONFIG_ENV_PREFIX, plen) != 0 || eq == NULL)
            continue;
        name = str_make(e, (size_t)(eq - e));
        for (size_t j = 0; j < sizeof(config_env_reserved) / sizeof(config_env_reserved[0]);
             j++)
            reserved = reserved || str_eq_cstr(name, config_env_reserved[j]);
        if (reserved)
            continue;
        k = config_key_find_env(str_make(name.p + plen, name.len - plen));
        if (k == NULL) {
            config_err(err, errlen, "environment: %s: unknown setting",
                       config_show(shown, name));
            return SV_BAD_DATA;
        }
        if (seen[k - config_keys]) {
            config_err(err, errlen, "environment: %s: set more than once",
                       config_show(shown, name));
            return SV_BAD_DATA;
        }
        if (config_store(c, k, str_from_cstr(eq + 1), why, sizeof(why)) != SV_OK) {
            config_err(err, errlen, "environment: %s: %s", config_show(shown, name), why);
            return SV_BAD_DATA;
        }
        seen[k - config_keys] = true;
    }
    return SV_OK;
}

int
config_set(config_t *c, const char *key, const char *value, char *err, size_t errlen)
{
    char shown[CONFIG_SHOW_CAP], why[512];
    const config_key_t *k = config_key_find(str_from_cstr(key));

    if (k == NULL) {
        config_err(err, errlen, "%s: unknown key", config_show(shown, str_from_cstr(key)));
        return SV_NOT_FOUND;
    }
    if (config_store(c, k, str_from_cstr(value), why, sizeof(why)) != SV_OK) {
        config_err(err, errlen, "%s: %s", k->name, why);
        return SV_BAD_DATA;
    }
    return SV_OK;
}

int
config_validate(const config_t *c, char *err, size_t errlen)
{
    if (c->api_page_default > c->api_page_max) {
        config_err(err, errlen,
                   "api_page_default: %" PRId64 " is more than api_page_max (%" PRId64 ")",
                   c->api_page_default, c->api_page_max);
        return SV_BAD_DATA;
    }
    if (c->job_backoff_base_ms > c->job_backoff_max_ms) {
        char base[32], max[32];
        config_format_number(CONFIG_DURATION, c->job_backoff_base_ms, base, sizeof(base));
        config_format_number(CONFIG_DURATION, c->job_backoff_max_ms, max, sizeof(max));
        config_err(err, errlen, "job_backoff_base: %s is more than job_backoff_max (%s)", base,
                   max);
        return SV_BAD_DATA;
    }
    return SV_OK;
}

/* Appends s as a double-quoted config value, escaping what the parser unescapes. */
static int
config_print_quoted(buf_t *out, str_t s)
{
    int rc = buf_append_char(out, '"');
    for (size_t i = 0; rc == SV_OK && i < s.len; i++) {
        switch (s.p[i]) {
        case '"':
            rc = buf_append(out, "\\\"", 2);
            break;
        case '\\':
            rc = buf_append(out, "\\\\", 2);
            break;
        case '\n':
            rc = buf_append(out, "\\n", 2);
            break;
        case '\t':
            rc = buf_append(out, "\\t", 2);
            break;
        default:
            rc = buf_append_char(out, s.p[i]);
        }
    }
    return rc == SV_OK ? buf_append_char(out, '"') : rc;
}

/* Appends the value of k in c, or its default when c is NULL, in file syntax. */
static int
config_print_value(buf_t *out, const config_key_t *k, const config_t *c)
{
    char num[32];
    int64_t v;

    if (c == NULL)
        return k->type == CONFIG_STRING || k->type == CONFIG_LISTEN
                   ? config_print_quoted(out, str_from_cstr(k->def))
                   : buf_append_cstr(out, k->def);
    switch (k->type) {
    case CONFIG_STRING:
    case CONFIG_LISTEN:
        /* strnlen: a field filled by hand without a NUL still prints within bounds. */
        return config_print_quoted(out,
                                   str_make((const char *)c + k->offset,
                                            strnlen((const char *)c + k->offset, k->size)));
    case CONFIG_ENUM:
        return buf_append(out, (const char *)c + k->offset,
                          strnlen((const char *)c + k->offset, k->size));
    case CONFIG_INT:
    case CONFIG_SIZE:
    case CONFIG_DURATION:
        break;
    }
    memcpy(&v, (const char *)c + k->offset, sizeof(v));
    config_format_number(k->type, v, num, sizeof(num));
    return buf_append_cstr(out, num);
}

int
config_print(const config_t *c, buf_t *out)
{
    size_t start = out->len;
    int rc;

    rc = buf_append_cstr(
        out, "# StreamVerse configuration: one \"key = value\" per line.\n"
             "# Sizes take k, m, g, t suffixes (powers of 1024); durations take\n"
             "# ms, s, m, h suffixes (a bare number is seconds). Quote a value that\n"
             "# contains '#'; in quotes, \\\" \\\\ \\n \\t are escapes.\n"
             "# Each key can also be set as STREAMVERSE_<KEY> in the environment.\n");
    for (size_t i = 0; rc == SV_OK && i < CONFIG_NKEYS; i++) {
        const config_key_t *k = &config_keys[i];
        const char *h = k->help;

        if (k->section != NULL)
            rc = buf_appendf(out, "\n# ---- %s ----\n", k->section);
        if (rc == SV_OK)
            rc = buf_append_char(out, '\n');
        while (rc == SV_OK && *h != '\0') {
            size_t n = strcspn(h, "\n");
            rc = buf_appendf(out, "# %.*s\n", (int)n, h);
            h += n + (h[n] == '\n');
        }
        if (rc == SV_OK)
            rc = buf_append_cstr(out, "# default: ");
        if (rc == SV_OK)
            rc = config_print_value(out, k, NULL);
        if (rc == SV_OK)
            rc = buf_appendf(out, "\n%s = ", k->name);
        if (rc == SV_OK)
            rc = config_print_value(out, k, c);
        if (rc == SV_OK)
            rc = buf_append_char(out, '\n');
    }
    if (rc != SV_OK) {
        /* All or nothing: drop the partial file. */
        out->len = start;
        if (out->data)
            out->data[start] = '\0';
    }
    return rc;
}
