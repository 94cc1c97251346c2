/*
 * log.c: structured, escaped, one-write-per-record logging.
 */
#include "base/log.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/status.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static _Atomic int log_level = LOG_INFO;
static _Atomic int log_fd = 2;
static _Atomic int log_json = 1;

static const char *const log_names[] = {"debug", "info", "warn", "error", "off"};

void
log_set_level(log_level_t level)
{
    log_level = (int)level;
}

log_level_t
log_get_level(void)
{
    return (log_level_t)log_level;
}

int
log_level_parse(const char *name, log_level_t *out)
{
    for (int i = 0; i <= LOG_OFF; i++) {
        if (strcmp(name, log_names[i]) == 0) {
            *out = (log_level_t)i;
            return SV_OK;
        }
    }
    return SV_BAD_DATA;
}

int
log_set_format(const char *format)
{
    if (strcmp(format, "json") == 0)
        log_json = 1;
    else if (strcmp(format, "text") == 0)
        log_json = 0;
    else
        return SV_BAD_DATA;
    return SV_OK;
}

void
log_set_fd(int fd)
{
    log_fd = fd;
}

void
log_vwrite(log_level_t level, const char *module, const char *fmt, va_list ap)
{
    char msg[2048];
    char ts[CLOCK_ISO_LEN + 1];
    char line_mem[16384]; /* fits the worst-case escaping (6x) of msg plus fields */
    buf_t line;
    int n;

    if ((int)level < log_level || level >= LOG_OFF)
        return;
    n = vsnprintf(msg, sizeof(msg), fmt, ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(msg))
        n = sizeof(msg) - 1; /* truncated; the record stays one line */
    clock_iso8601(clock_wall_ms(), ts);

    /* A buf_t over a stack array: no allocation on the logging path. */
    line.data = line_mem;
    line.len = 0;
    line.cap = sizeof(line_mem);
    line.max = sizeof(line_mem) - 1;
    if (log_json) {
        buf_append_cstr(&line, "{\"ts\":\"");
        buf_append_cstr(&line, ts);
        buf_append_cstr(&line, "\",\"level\":\"");
        buf_append_cstr(&line, log_names[level]);
        buf_append_cstr(&line, "\",\"module\":\"");
        buf_append_json_escaped(&line, str_from_cstr(module));
        buf_append_cstr(&line, "\",\"msg\":\"");
        buf_append_json_escaped(&line, str_make(msg, (size_t)n));
        buf_append_cstr(&line, "\"}\n");
    } else {
        buf_append_cstr(&line, ts);
        buf_append_char(&line, ' ');
        buf_append_cstr(&line, log_names[level]);
        buf_append_char(&line, ' ');
        buf_append_cstr(&line, module);
        buf_append_cstr(&line, ": ");
        buf_append_json_escaped(&line, str_make(msg, (size_t)n));
        buf_append_char(&line, '\n');
    }
    const char *p = line.data;
    size_t left = line.len;
    while (left > 0) {
        ssize_t w = write(log_fd, p, left);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        p += w;
        left -= (size_t)w;
    }
}

void
log_write(log_level_t level, const char *module, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vwrite(level, module, fmt, ap);
    va_end(ap);
}
