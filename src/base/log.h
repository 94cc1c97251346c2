/*
 * log.h: structured logs with levels.
 *
 * Each record is one line written with a single write(2), so lines from
 * several threads never interleave. In "json" format (the default) a record
 * is {"ts":..,"level":..,"module":..,"msg":..}; in "text" format it is
 * "ts level module: msg". The message is always escaped, so untrusted bytes
 * passed through %s can never forge a record or a terminal sequence.
 * Thread-safe; the settings are meant to be made once at start-up.
 */
#ifndef SV_LOG_H
#define SV_LOG_H

#include <stdarg.h>

typedef enum { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_OFF } log_level_t;

void log_set_level(log_level_t level);
log_level_t log_get_level(void);
/* SV_OK, or SV_BAD_DATA for an unknown name ("debug", "info", "warn", "error", "off"). */
int log_level_parse(const char *name, log_level_t *out);
/* format: "json" or "text". SV_OK or SV_BAD_DATA. */
int log_set_format(const char *format);
/* Where records go (default 2, stderr). The caller keeps fd open. */
void log_set_fd(int fd);

void log_write(log_level_t level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void log_vwrite(log_level_t level, const char *module, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

#define log_debug(mod, ...)                                                                    \
    do {                                                                                       \
        if (log_get_level() <= LOG_DEBUG)                                                      \
            log_write(LOG_DEBUG, mod, __VA_ARGS__);                                            \
    } while (0)
#define log_info(mod, ...) log_write(LOG_INFO, mod, __VA_ARGS__)
#define log_warn(mod, ...) log_write(LOG_WARN, mod, __VA_ARGS__)
#define log_error(mod, ...) log_write(LOG_ERROR, mod, __VA_ARGS__)

#endif
