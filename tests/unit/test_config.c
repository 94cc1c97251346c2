/*
 * test_config.c: the key table, every value type, the three sources and
 * their precedence, every error message, and print -> parse round trips.
 * Includes config.c to check the table itself.
 */
#include "base/config.c"

#include "base/log.h"
#include "test.h"

#include <stdlib.h>
#include <sys/stat.h>

static char err[1024];

/* Parses text over the defaults; returns the status, the message is in err. */
static int
parse(config_t *c, const char *text)
{
    config_defaults(c);
    err[0] = '\0';
    return config_parse(c, text, strlen(text), "t.conf", err, sizeof(err));
}

/* The error config_parse gives for text, or "" when it parses. */
static const char *
parse_err(const char *text)
{
    config_t c;
    if (parse(&c, text) == SV_OK)
        return "";
    return err;
}

TEST(defaults)
{
    config_t c;
    config_defaults(&c);
    CHECK_STR(c.data_dir, "./data");
    CHECK_STR(c.database, "");
    CHECK_STR(c.log_level, "info");
    CHECK_STR(c.log_format, "json");
    CHECK_STR(c.access_log, "");
    CHECK_STR(c.web_root, "./web");
    CHECK_STR(c.listen, "127.0.0.1:8080");
    CHECK_INT(c.workers, 0);
    CHECK_INT(c.http_max_connections, 10000);
    CHECK_INT(c.http_max_header_bytes, 16 * 1024);
    CHECK_INT(c.http_max_headers, 100);
    CHECK_INT(c.http_max_body_bytes, 1024 * 1024);
    CHECK_INT(c.http_max_upload_bytes, 20LL * 1024 * 1024 * 1024);
    CHECK_INT(c.http_body_memory_bytes, 1024 * 1024);
    CHECK_INT(c.http_output_max_bytes, 8 * 1024 * 1024);
    CHECK_INT(c.http_header_timeout_ms, 10000);
    CHECK_INT(c.http_body_timeout_ms, 30000);
    CHECK_INT(c.http_send_timeout_ms, 30000);
    CHECK_INT(c.http_keepalive_timeout_ms, 65000);
    CHECK_INT(c.http_keepalive_requests, 10000);
    CHECK_INT(c.http_shutdown_timeout_ms, 30000);
    CHECK_STR(c.cors_allow_origin, "*");
    CHECK_INT(c.http_client_timeout_ms, 10000);
    CHECK_INT(c.http_client_connect_timeout_ms, 3000);
    CHECK_INT(c.api_workers, 4);
    CHECK_INT(c.api_page_default, 50);
    CHECK_INT(c.api_page_max, 500);
    CHECK_INT(c.json_max_depth, 32);
    CHECK_INT(c.job_workers, 2);
    CHECK_INT(c.job_lease_ms, 60000);
    CHECK_INT(c.job_max_attempts, 5);
    CHECK_INT(c.job_backoff_base_ms, 5000);
    CHECK_INT(c.job_backoff_max_ms, 600000);
    CHECK_INT(c.job_poll_ms, 1000);
    CHECK_INT(config_validate(&c, err, sizeof(err)), SV_OK);
}

/* Every byte of config_t belongs to exactly one key, and names are unique. */
TEST(table_covers_config_t)
{
    unsigned char owner[sizeof(config_t)];
    size_t total = 0;

    memset(owner, 0, sizeof(owner));
    for (size_t i = 0; i < CONFIG_NKEYS; i++) {
        const config_key_t *k = &config_keys[i];
        CHECK(k->offset + k->size <= sizeof(config_t));
        for (size_t b = k->offset; b < k->offset + k->size && b < sizeof(config_t); b++) {
            CHECK(owner[b] == 0);
            owner[b] = 1;
        }
        total += k->size;
        for (size_t j = 0; j < i; j++)
            CHECK(strcmp(k->name, config_keys[j].name) != 0);
        for (const char *p = k->name; *p; p++)
            CHECK((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_');
        CHECK(k->help != NULL && k->help[0] != '\0');
        CHECK(!str_has_suffix(str_from_cstr(k->name), "_ms"));
        if (k->type == CONFIG_INT || k->type == CONFIG_SIZE || k->type == CONFIG_DURATION) {
            CHECK(k->min <= k->max);
            CHECK(k->type != CONFIG_SIZE || k->min > 0);
        }
    }
    CHECK_INT(total, sizeof(config_t));
    CHECK_INT(offsetof(config_t, http_header_timeout_ms),
              config_key_find(STR("http_header_timeout"))->offset);
}

/* Defaults are written in the form config_print uses, so "# default:" and the
 * value line agree, and are inside their own bounds. */
TEST(defaults_are_canonical)
{
    config_t c;
    char num[32], why[256];

    config_defaults(&c);
    for (size_t i = 0; i < CONFIG_NKEYS; i++) {
        const config_key_t *k = &config_keys[i];
        CHECK_INT(config_store(&c, k, str_from_cstr(k->def), why, sizeof(why)), SV_OK);
        if (k->type == CONFIG_SIZE || k->type == CONFIG_DURATION || k->type == CONFIG_INT) {
            int64_t v;
            memcpy(&v, (char *)&c + k->offset, sizeof(v));
            config_format_number(k->type, v, num, sizeof(num));
            CHECK_STR(num, k->def);
        }
    }
}

/* The enumerations accept exactly what the log module accepts. */
TEST(enums_match_log_module)
{
    log_level_t lv;
    for (size_t i = 0; config_log_levels[i]; i++)
        CHECK_INT(log_level_parse(config_log_levels[i], &lv), SV_OK);
    CHECK_INT(lv, LOG_OFF);
    for (size_t i = 0; config_log_formats[i]; i++)
        CHECK_INT(log_set_format(config_log_formats[i]), SV_OK);
    log_set_format("json");
}

TEST(parse_size)
{
    static const struct {
        const char *in;
        int rc;
        int64_t v;
    } cases[] = {
        {"0", SV_OK, 0},
        {"1", SV_OK, 1},
        {"16k", SV_OK, 16384},
        {"16K", SV_OK, 16384},
        {"1m", SV_OK, 1048576},
        {"1M", SV_OK, 1048576},
        {"20g", SV_OK, 20LL << 30},
        {"2t", SV_OK, 2LL << 40},
        {"9223372036854775807", SV_OK, INT64_MAX},
        {"8388607t", SV_OK, 8388607LL << 40},
        {"8388608t", SV_TOO_BIG, 0},
        {"9007199254740992k", SV_TOO_BIG, 0},
        {"9223372036854775808", SV_TOO_BIG, 0},
        {"18446744073709551616", SV_TOO_BIG, 0},
        {"", SV_BAD_DATA, 0},
        {"k", SV_BAD_DATA, 0},
        {"-1", SV_BAD_DATA, 0},
        {"+1", SV_BAD_DATA, 0},
        {" 1", SV_BAD_DATA, 0},
        {"1 k", SV_BAD_DATA, 0},
        {"1kb", SV_BAD_DATA, 0},
        {"1.5k", SV_BAD_DATA, 0},
        {"1p", SV_BAD_DATA, 0},
        {"0x10", SV_BAD_DATA, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t v = -7;
        int rc = config_parse_size(cases[i].in, &v);
        if (rc != cases[i].rc)
            printf("# size \"%s\"\n", cases[i].in);
        CHECK_INT(rc, cases[i].rc);
        CHECK_INT(v, cases[i].rc == SV_OK ? cases[i].v : -7); /* untouched on failure */
    }
}

TEST(parse_duration)
{
    static const struct {
        const char *in;
        int rc;
        int64_t v;
    } cases[] = {
        {"0", SV_OK, 0},
        {"30", SV_OK, 30000},
        {"1500ms", SV_OK, 1500},
        {"2s", SV_OK, 2000},
        {"5m", SV_OK, 300000},
        {"1h", SV_OK, 3600000},
        {"0ms", SV_OK, 0},
        {"9223372036854775807ms", SV_OK, INT64_MAX},
        {"9223372036854775s", SV_OK, 9223372036854775000},
        {"9223372036854776s", SV_TOO_BIG, 0},
        {"2562047788015216h", SV_TOO_BIG, 0},
        {"", SV_BAD_DATA, 0},
        {"s", SV_BAD_DATA, 0},
        {"1S", SV_BAD_DATA, 0},
        {"1d", SV_BAD_DATA, 0},
        {"1 s", SV_BAD_DATA, 0},
        {"1.5s", SV_BAD_DATA, 0},
        {"-1s", SV_BAD_DATA, 0},
        {"1sm", SV_BAD_DATA, 0},
        {"1mss", SV_BAD_DATA, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t v = -7;
        int rc = config_parse_duration_ms(cases[i].in, &v);
        if (rc != cases[i].rc)
            printf("# duration \"%s\"\n", cases[i].in);
        CHECK_INT(rc, cases[i].rc);
        CHECK_INT(v, cases[i].rc == SV_OK ? cases[i].v : -7);
    }
}

TEST(format_number)
{
    char b[32];
    config_format_number(CONFIG_SIZE, 16384, b, sizeof(b));
    CHECK_STR(b, "16k");
    config_format_number(CONFIG_SIZE, 16385, b, sizeof(b));
    CHECK_STR(b, "16385");
    config_format_number(CONFIG_SIZE, 3LL << 40, b, sizeof(b));
    CHECK_STR(b, "3t");
    config_format_number(CONFIG_SIZE, 1536 * 1024, b, sizeof(b));
    CHECK_STR(b, "1536k");
    config_format_number(CONFIG_DURATION, 0, b, sizeof(b));
    CHECK_STR(b, "0s");
    config_format_number(CONFIG_DURATION, 90000, b, sizeof(b));
    CHECK_STR(b, "90s");
    config_format_number(CONFIG_DURATION, 7200000, b, sizeof(b));
    CHECK_STR(b, "2h");
    config_format_number(CONFIG_DURATION, 1500, b, sizeof(b));
    CHECK_STR(b, "1500ms");
    config_format_number(CONFIG_INT, 42, b, sizeof(b));
    CHECK_STR(b, "42");
}

TEST(parse_every_type)
{
    config_t c;
    int rc = parse(&c, "# a comment\n"
                       "\n"
                       "   \t\n"
                       "data_dir = /var/lib/streamverse   # trailing comment\n"
                       "database=\"postgresql://u@db/sv?x=1#frag\"\n"
                       "log_level = debug\n"
                       "log_format = \"text\"\n"
                       "access_log = \"  a \\\"b\\\" \\\\ \\t c  \"  # kept verbatim\n"
                       "listen = [::1]:443\n"
                       "\tworkers\t=\t8\t\n"
                       "http_max_header_bytes = 64k\n"
                       "http_max_upload_bytes = 2t\n"
                       "http_header_timeout = 1500ms\n"
                       "http_body_timeout = 2m\n"
                       "http_send_timeout = 45\n"
                       "http_shutdown_timeout = 0\n"
                       "job_backoff_max = 1h\n"
                       "cors_allow_origin =\n");
    CHECK_INT(rc, SV_OK);
    CHECK_STR(err, "");
    CHECK_STR(c.data_dir, "/var/lib/streamverse");
    CHECK_STR(c.database, "postgresql://u@db/sv?x=1#frag");
    CHECK_STR(c.log_level, "debug");
    CHECK_STR(c.log_format, "text");
    CHECK_STR(c.access_log, "  a \"b\" \\ \t c  ");
    CHECK_STR(c.listen, "[::1]:443");
    CHECK_INT(c.workers, 8);
    CHECK_INT(c.http_max_header_bytes, 65536);
    CHECK_INT(c.http_max_upload_bytes, 2LL << 40);
    CHECK_INT(c.http_header_timeout_ms, 1500);
    CHECK_INT(c.http_body_timeout_ms, 120000);
    CHECK_INT(c.http_send_timeout_ms, 45000);
    CHECK_INT(c.http_shutdown_timeout_ms, 0);
    CHECK_INT(c.job_backoff_max_ms, 3600000);
    CHECK_STR(c.cors_allow_origin, "");
    /* untouched keys keep their defaults */
    CHECK_INT(c.api_page_max, 500);
}

TEST(parse_line_endings_bom_and_last_line)
{
    config_t c;
    CHECK_INT(parse(&c, "\xef\xbb\xbfworkers = 3\r\njob_workers = 7\r\napi_workers = 9"),
              SV_OK);
    CHECK_INT(c.workers, 3);
    CHECK_INT(c.job_workers, 7);
    CHECK_INT(c.api_workers, 9);
    CHECK_INT(parse(&c, ""), SV_OK);
    CHECK_INT(config_parse(&c, NULL, 0, NULL, err, sizeof(err)), SV_OK);
    /* A NUL inside a comment is harmless; the text carries its length. */
    config_defaults(&c);
    CHECK_INT(config_parse(&c, "# a\0b\nworkers = 5\n", 18, "t", err, sizeof(err)), SV_OK);
    CHECK_INT(c.workers, 5);
}

TEST(parse_bounds_of_numbers)
{
    config_t c;
    CHECK_INT(parse(&c, "workers = 256"), SV_OK);
    CHECK_INT(parse(&c, "workers = 257"), SV_BAD_DATA);
    CHECK_INT(parse(&c, "workers = -1"), SV_BAD_DATA);
    CHECK_INT(parse(&c, "workers = 99999999999999999999"), SV_BAD_DATA);
    CHECK_INT(parse(&c, "http_max_header_bytes = 1k"), SV_OK);
    CHECK_INT(parse(&c, "http_max_header_bytes = 1023"), SV_BAD_DATA);
    CHECK_INT(parse(&c, "http_max_body_bytes = 0"), SV_BAD_DATA);
    CHECK_INT(parse(&c, "http_max_body_bytes = 1"), SV_OK);
    CHECK_INT(parse(&c, "http_keepalive_timeout = 0"), SV_OK);
    CHECK_INT(parse(&c, "http_header_timeout = 0"), SV_BAD_DATA);
    CHECK_INT(parse(&c, "http_header_timeout = 1ms"), SV_OK);
    CHECK_INT(parse(&c, "http_header_timeout = 61m"), SV_BAD_DATA);
    CHECK_INT(parse(&c, "job_lease = 999ms"), SV_BAD_DATA);
    CHECK_INT(parse(&c, "http_max_upload_bytes = 99999999999t"), SV_BAD_DATA);
}

TEST(parse_listen)
{
    static const char *good[] = {
        "127.0.0.1:8080",
        "0.0.0.0:1",
        "localhost:65535",
        "[::]:80",
        "[::1]:8080",
        "[fe80::1%eth0]:80",
        "[::ffff:10.0.0.1]:443",
        "media-1.example.com:08080",
    };
    static const char *bad[] = {
        "",
        "127.0.0.1",
        "127.0.0.1:",
        ":8080",
        "127.0.0.1:0",
        "127.0.0.1:65536",
        "127.0.0.1:123456",
        "host:80x",
        "host:-1",
        "::1:80",
        "[::1]",
        "[::1]80",
        "[::1:80",
        "[]:80",
        "[1]:80",
        "[fe80::1%]:80",
        "[::1%a%b]:80",
        "[g::1]:80",
        "ho st:80",
        "host_1:80",
        "*:80",
    };
    char why[512];
    const config_key_t *k = config_key_find(STR("listen"));
    config_t c;

    config_defaults(&c);
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        int rc = config_store(&c, k, str_from_cstr(good[i]), why, sizeof(why));
        if (rc != SV_OK)
            printf("# rejected \"%s\": %s\n", good[i], why);
        CHECK_INT(rc, SV_OK);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = config_store(&c, k, str_from_cstr(bad[i]), why, sizeof(why));
        if (rc == SV_OK)
            printf("# accepted \"%s\"\n", bad[i]);
        CHECK_INT(rc, SV_BAD_DATA);
    }
    CHECK_STR(c.listen, "media-1.example.com:08080"); /* failures left it alone */
}

TEST(parse_text_limits)
{
    char line[CONFIG_STR_MAX + 64];
    config_t c;
    int n;

    n = snprintf(line, sizeof(line), "data_dir = %0*d", CONFIG_STR_MAX - 1, 0);
    CHECK(n > 0 && (size_t)n < sizeof(line));
    CHECK_INT(parse(&c, line), SV_OK);
    CHECK_INT(strlen(c.data_dir), CONFIG_STR_MAX - 1);
    snprintf(line, sizeof(line), "data_dir = %0*d", CONFIG_STR_MAX, 0);
    CHECK_INT(parse(&c, line), SV_BAD_DATA);
    CHECK_STR(err, "t.conf:1: data_dir: value is 1024 bytes long; the limit is 1023");
    CHECK_STR(parse_err("log_level = \"debugdebugdebugdebug\""),
              "t.conf:1: log_level: value is 20 bytes long; the limit is 15");
    CHECK_STR(parse_err("data_dir = \"\""), "t.conf:1: data_dir: must not be empty");
    /* an empty web_root would serve files from / */
    CHECK_STR(parse_err("web_root ="), "t.conf:1: web_root: must not be empty");
    CHECK_STR(parse_err("data_dir = \"a\\nb\""),
              "t.conf:1: data_dir: control character 0x0a in value");
    CHECK_STR(parse_err("cors_allow_origin = x\ry"),
              "t.conf:1: cors_allow_origin: control character 0x0d in value");
    CHECK_STR(parse_err("data_dir = \"a\\tb\""), "");
}

TEST(line_length_limit)
{
    static char text[CONFIG_LINE_MAX + 64];
    config_t c;

    /* exactly CONFIG_LINE_MAX bytes before the newline: accepted */
    memset(text, ' ', sizeof(text));
    memcpy(text, "workers = 7", 11);
    text[CONFIG_LINE_MAX] = '\n';
    config_defaults(&c);
    CHECK_INT(config_parse(&c, text, CONFIG_LINE_MAX + 1, "t.conf", err, sizeof(err)), SV_OK);
    CHECK_INT(c.workers, 7);
    /* with a CR it is one byte too long: the limit counts the raw line */
    text[CONFIG_LINE_MAX] = '\r';
    text[CONFIG_LINE_MAX + 1] = '\n';
    CHECK_INT(config_parse(&c, text, CONFIG_LINE_MAX + 2, "t.conf", err, sizeof(err)),
              SV_BAD_DATA);
    CHECK_STR(err, "t.conf:1: line is longer than 4096 bytes");
    /* even a comment; here the second and last line, without a newline */
    memset(text, '#', sizeof(text));
    text[3] = '\n';
    CHECK_INT(config_parse(&c, text, 4 + CONFIG_LINE_MAX, "t.conf", err, sizeof(err)), SV_OK);
    CHECK_INT(config_parse(&c, text, 4 + CONFIG_LINE_MAX + 1, "t.conf", err, sizeof(err)),
              SV_BAD_DATA);
    CHECK_STR(err, "t.conf:2: line is longer than 4096 bytes");
}

/* One test per error kind: the exact message shape "origin:line: key: what". */
TEST(error_messages)
{
    CHECK_STR(parse_err("workers = 1\nbogus = 1\n"), "t.conf:2: bogus: unknown key");
    CHECK_STR(parse_err("http_header_timeout_ms = 5000"),
              "t.conf:1: http_header_timeout_ms: unknown key");
    CHECK_STR(parse_err("Workers = 1"), "t.conf:1: Workers: unknown key");
    CHECK_STR(parse_err("\n\nworkers = 1\n# c\nworkers = 2\n"),
              "t.conf:5: workers: duplicate key (first set on line 3)");
    CHECK_STR(parse_err("workers 4"), "t.conf:1: workers: missing '=' (expected key = value)");
    CHECK_STR(parse_err("workers"), "t.conf:1: workers: missing '=' (expected key = value)");
    CHECK_STR(parse_err("workers # = 4"),
              "t.conf:1: workers: missing '=' (expected key = value)");
    CHECK_STR(parse_err("  = 4"), "t.conf:1: missing key before '='");
    CHECK_STR(parse_err("workers = lots"),
              "t.conf:1: workers: bad value \"lots\": expected an integer in 0..256");
    CHECK_STR(parse_err("workers ="),
              "t.conf:1: workers: bad value \"\": expected an integer in 0..256");
    CHECK_STR(parse_err("http_max_header_bytes = 2m"),
              "t.conf:1: http_max_header_bytes: bad value \"2m\": expected a size in 1k..1m "
              "bytes (a number with an optional k, m, g or t suffix)");
    CHECK_STR(parse_err("job_poll = 5ms"),
              "t.conf:1: job_poll: bad value \"5ms\": expected a duration in 10ms..1h "
              "(a number with an optional ms, s, m or h suffix; seconds if none)");
    CHECK_STR(parse_err("log_level = loud"),
              "t.conf:1: log_level: bad value \"loud\": expected one of debug, info, warn, "
              "error, off");
    CHECK_STR(parse_err("log_format = xml"),
              "t.conf:1: log_format: bad value \"xml\": expected one of json, text");
    CHECK_STR(parse_err("listen = 8080"),
              "t.conf:1: listen: bad value \"8080\": expected HOST:PORT or [IPv6]:PORT with a "
              "port in 1..65535");
    CHECK_STR(parse_err("data_dir = \"/tmp"), "t.conf:1: data_dir: unterminated quote");
    CHECK_STR(parse_err("data_dir = \"/tmp\\"), "t.conf:1: data_dir: unterminated quote");
    CHECK_STR(parse_err("data_dir = \"/tmp\ndatabase = \"x\""),
              "t.conf:1: data_dir: unterminated quote");
    CHECK_STR(parse_err("data_dir = \"/tmp\" x"),
              "t.conf:1: data_dir: unexpected text after the closing quote");
    CHECK_STR(parse_err("data_dir = \"a\\qb\""),
              "t.conf:1: data_dir: unknown escape \\q in quoted value (use \\\" \\\\ \\n \\t)");
    CHECK_STR(parse_err("data_dir = \"/tmp\"   # fine"), "");
}

/* Untrusted bytes are escaped and truncated before they reach a message. */
TEST(error_messages_escape_input)
{
    CHECK_STR(parse_err("k\x1b[31m\"\\ = 1"), "t.conf:1: k\\x1b[31m\\\"\\\\: unknown key");
    CHECK_STR(parse_err("workers = \xff\x01"),
              "t.conf:1: workers: bad value \"\\xff\\x01\": expected an integer in 0..256");
    CHECK_STR(parse_err("data_dir = \xff\x01"),
              "t.conf:1: data_dir: control character 0x01 in value");
    CHECK_STR(parse_err("workers = \xff"),
              "t.conf:1: workers: bad value \"\\xff\": expected an integer in 0..256");
    CHECK_STR(parse_err("data_dir = \"\\\x07\""),
              "t.conf:1: data_dir: unknown escape \\\\x07 in quoted value (use \\\" \\\\ \\n "
              "\\t)");
    CHECK_STR(
        parse_err(
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa = 1"),
        "t.conf:1: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...: "
        "unknown key");

    /* A short err buffer truncates, NUL-terminated; a NULL one is fine. */
    char small[8];
    config_t c;
    config_defaults(&c);
    CHECK_INT(config_parse(&c, "x = 1", 5, "t.conf", small, sizeof(small)), SV_BAD_DATA);
    CHECK_STR(small, "t.conf:");
    CHECK_INT(config_parse(&c, "x = 1", 5, "t.conf", NULL, 0), SV_BAD_DATA);
    CHECK_INT(config_parse(&c, "x = 1", 5, NULL, err, sizeof(err)), SV_BAD_DATA);
    CHECK_STR(err, "config:1: x: unknown key");
}

TEST(failed_parse_keeps_earlier_lines)
{
    config_t c;
    CHECK_INT(parse(&c, "workers = 3\nworkers = x\n"), SV_BAD_DATA);
    CHECK_INT(c.workers, 3);
    CHECK_INT(parse(&c, "workers = 3\njob_workers = 300\n"), SV_BAD_DATA);
    CHECK_INT(c.job_workers, 2);
}

TEST(env)
{
    char *envp[] = {
        "PATH=/usr/bin",
        "STREAMVERSE_WORKERS=12",
        "STREAMVERSE_DATA_DIR= /srv/sv # not a comment",
        "STREAMVERSE_HTTP_HEADER_TIMEOUT=250ms",
        "STREAMVERSE_ARENA_MALLOC=1",
        "STREAMVERSE_NOEQUALS",
        "streamverse_workers=99",
        NULL,
    };
    config_t c;

    config_defaults(&c);
    CHECK_INT(config_apply_env(&c, envp, err, sizeof(err)), SV_OK);
    CHECK_INT(c.workers, 12);
    CHECK_STR(c.data_dir, " /srv/sv # not a comment"); /* literal, like a flag */
    CHECK_INT(c.http_header_timeout_ms, 250);
    CHECK_INT(config_apply_env(&c, NULL, err, sizeof(err)), SV_OK);
}

TEST(env_errors)
{
    char *unknown[] = {"STREAMVERSE_WORKERZ=1", NULL};
    char *lower[] = {"STREAMVERSE_workers=1", NULL};
    char *ms[] = {"STREAMVERSE_JOB_POLL_MS=1", NULL};
    char *twice[] = {"STREAMVERSE_WORKERS=1", "STREAMVERSE_WORKERS=2", NULL};
    char *bad[] = {"STREAMVERSE_WORKERS=1000", NULL};
    char *prefix_only[] = {"STREAMVERSE_=1", NULL};
    config_t c;

    config_defaults(&c);
    CHECK_INT(config_apply_env(&c, unknown, err, sizeof(err)), SV_BAD_DATA);
    CHECK_STR(err, "environment: STREAMVERSE_WORKERZ: unknown setting");
    CHECK_INT(config_apply_env(&c, lower, err, sizeof(err)), SV_BAD_DATA);
    CHECK_STR(err, "environment: STREAMVERSE_workers: unknown setting");
    CHECK_INT(config_apply_env(&c, ms, err, sizeof(err)), SV_BAD_DATA);
    CHECK_INT(config_apply_env(&c, prefix_only, err, sizeof(err)), SV_BAD_DATA);
    CHECK_STR(err, "environment: STREAMVERSE_: unknown setting");
    CHECK_INT(config_apply_env(&c, twice, err, sizeof(err)), SV_BAD_DATA);
    CHECK_STR(err, "environment: STREAMVERSE_WORKERS: set more than once");
    CHECK_INT(config_apply_env(&c, bad, err, sizeof(err)), SV_BAD_DATA);
    CHECK_STR(err, "environment: STREAMVERSE_WORKERS: bad value \"1000\": expected an integer "
                   "in 0..256");
}

TEST(set)
{
    config_t c;
    config_defaults(&c);
    CHECK_INT(config_set(&c, "listen", "0.0.0.0:9000", err, sizeof(err)), SV_OK);
    CHECK_STR(c.listen, "0.0.0.0:9000");
    CHECK_INT(config_set(&c, "http_max_body_bytes", "4m", err, sizeof(err)), SV_OK);
    CHECK_INT(c.http_max_body_bytes, 4 << 20);
    CHECK_INT(config_set(&c, "data_dir", "\"quoted\"", err, sizeof(err)), SV_OK);
    CHECK_STR(c.data_dir, "\"quoted\""); /* literal */
    CHECK_INT(config_set(&c, "nope", "1", err, sizeof(err)), SV_NOT_FOUND);
    CHECK_STR(err, "nope: unknown key");
    CHECK_INT(config_set(&c, "http_max_body_bytes_ms", "1", err, sizeof(err)), SV_NOT_FOUND);
    CHECK_INT(config_set(&c, "api_page_max", "0", err, sizeof(err)), SV_BAD_DATA);
    CHECK_STR(err, "api_page_max: bad value \"0\": expected an integer in 1..10000");
    CHECK_INT(c.api_page_max, 500);
}

/* defaults < file < environment < flags */
TEST(precedence)
{
    char *envp[] = {"STREAMVERSE_WORKERS=5", "STREAMVERSE_JOB_WORKERS=6", NULL};
    const char *file = "workers = 3\njob_workers = 3\napi_workers = 3\n";
    config_t c;

    config_defaults(&c);
    CHECK_INT(config_parse(&c, file, strlen(file), "f", err, sizeof(err)), SV_OK);
    CHECK_INT(config_apply_env(&c, envp, err, sizeof(err)), SV_OK);
    CHECK_INT(config_set(&c, "job_workers", "9", err, sizeof(err)), SV_OK);
    CHECK_INT(c.api_workers, 3);     /* file */
    CHECK_INT(c.workers, 5);         /* env over file */
    CHECK_INT(c.job_workers, 9);     /* flag over env */
    CHECK_INT(c.json_max_depth, 32); /* default */
}

TEST(validate)
{
    config_t c;
    config_defaults(&c);
    CHECK_INT(config_set(&c, "api_page_default", "600", err, sizeof(err)), SV_OK);
    CHECK_INT(config_validate(&c, err, sizeof(err)), SV_BAD_DATA);
    CHECK_STR(err, "api_page_default: 600 is more than api_page_max (500)");
    CHECK_INT(config_set(&c, "api_page_max", "600", err, sizeof(err)), SV_OK);
    CHECK_INT(config_validate(&c, err, sizeof(err)), SV_OK);
    CHECK_INT(config_set(&c, "job_backoff_base", "2h", err, sizeof(err)), SV_OK);
    CHECK_INT(config_validate(&c, err, sizeof(err)), SV_BAD_DATA);
    CHECK_STR(err, "job_backoff_base: 2h is more than job_backoff_max (10m)");
}

/* Prints c, parses the output over fresh defaults, and checks it is c again. */
static void
check_round_trip(const config_t *c)
{
    config_t back;
    buf_t out;

    buf_init(&out, 1 << 20);
    CHECK_INT(config_print(c, &out), SV_OK);
    config_defaults(&back);
    memset(&back, 0x55, sizeof(back)); /* every field must come from the file */
    for (size_t i = 0; i < CONFIG_NKEYS; i++) {
        if (config_keys[i].type <= CONFIG_LISTEN)
            memset((char *)&back + config_keys[i].offset, 0, config_keys[i].size);
    }
    CHECK_INT(config_parse(&back, out.data, out.len, "printed", err, sizeof(err)), SV_OK);
    if (memcmp(c, &back, sizeof(back)) != 0)
        printf("# round trip differs:\n%s", out.data);
    CHECK(memcmp(c, &back, sizeof(back)) == 0);
    buf_free(&out);
}

TEST(print_round_trip_defaults)
{
    config_t c;
    buf_t out;

    config_defaults(&c);
    check_round_trip(&c);

    /* Every key appears with its help and its default. */
    buf_init(&out, 1 << 20);
    CHECK_INT(config_print(&c, &out), SV_OK);
    for (size_t i = 0; i < CONFIG_NKEYS; i++) {
        char want[256];
        const config_key_t *k = &config_keys[i];
        bool quoted = k->type == CONFIG_STRING || k->type == CONFIG_LISTEN;
        snprintf(want, sizeof(want), "# default: %s%s%s\n%s = %s%s%s\n", quoted ? "\"" : "",
                 k->def, quoted ? "\"" : "", k->name, quoted ? "\"" : "", k->def,
                 quoted ? "\"" : "");
        if (strstr(out.data, want) == NULL)
            printf("# missing: %s", want);
        CHECK(strstr(out.data, want) != NULL);
    }
    CHECK(strstr(out.data, "# Directory for the database, media, logs and temporary files.\n"
                           "# default: \"./data\"\ndata_dir = \"./data\"\n") != NULL);
    CHECK(strstr(out.data, "# Access log: empty for data_dir/logs/access.log, \"off\", "
                           "\"stderr\",\n# or the path of a file.\n") != NULL);
    CHECK(strstr(out.data, "\nhttp_keepalive_timeout = 65s\n") != NULL);
    CHECK(strstr(out.data, "\nlog_level = info\n") != NULL);
    /* every line of the output is within the parser's limit */
    for (const char *p = out.data; *p;) {
        const char *nl = strchr(p, '\n');
        CHECK(nl != NULL && nl - p <= CONFIG_LINE_MAX);
        p = nl ? nl + 1 : p + strlen(p);
    }
    buf_free(&out);
}

TEST(print_round_trip_changed)
{
    config_t c;
    char big[CONFIG_STR_MAX];

    config_defaults(&c);
    CHECK_INT(config_set(&c, "data_dir", " lead\\ \"q\" #hash\ttab trail ", err, sizeof(err)),
              SV_OK);
    CHECK_INT(config_set(&c, "database", "postgresql://h/db?sslmode=require", err, sizeof(err)),
              SV_OK);
    CHECK_INT(config_set(&c, "access_log", "/var/log/\xc3\xa9t\xe9\xff.log", err, sizeof(err)),
              SV_OK);
    CHECK_INT(config_set(&c, "listen", "[fe80::1%eth0]:443", err, sizeof(err)), SV_OK);
    CHECK_INT(config_set(&c, "log_level", "off", err, sizeof(err)), SV_OK);
    CHECK_INT(config_set(&c, "cors_allow_origin", "", err, sizeof(err)), SV_OK);
    CHECK_INT(config_set(&c, "http_max_body_bytes", "1000001", err, sizeof(err)), SV_OK);
    CHECK_INT(config_set(&c, "http_max_upload_bytes", "64t", err, sizeof(err)), SV_OK);
    CHECK_INT(config_set(&c, "http_header_timeout", "1ms", err, sizeof(err)), SV_OK);
    CHECK_INT(config_set(&c, "http_keepalive_timeout", "0", err, sizeof(err)), SV_OK);
    CHECK_INT(config_set(&c, "job_lease", "24h", err, sizeof(err)), SV_OK);
    CHECK_INT(config_set(&c, "workers", "256", err, sizeof(err)), SV_OK);
    check_round_trip(&c);

    /* The longest values, every byte escaped: still within the line limit. */
    memset(big, '"', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    CHECK_INT(config_set(&c, "data_dir", big, err, sizeof(err)), SV_OK);
    memset(big, '\\', sizeof(big) - 1);
    CHECK_INT(config_set(&c, "database", big, err, sizeof(err)), SV_OK);
    check_round_trip(&c);
}

TEST(print_too_small_leaves_buffer_alone)
{
    config_t c;
    buf_t out;

    config_defaults(&c);
    buf_init(&out, 600);
    CHECK_INT(buf_append_cstr(&out, "keep"), SV_OK);
    CHECK_INT(config_print(&c, &out), SV_TOO_BIG);
    CHECK_INT(out.len, 4);
    CHECK_STR(out.data, "keep");
    buf_free(&out);
}

static const char *
write_temp(const char *name, const char *text, size_t len)
{
    static char path[256];
    FILE *f;

    snprintf(path, sizeof(path), "%s/sv_test_config_%d_%s",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid(), name);
    f = fopen(path, "wb");
    if (f == NULL)
        return NULL;
    if (len && fwrite(text, 1, len, f) != len) {
        fclose(f);
        return NULL;
    }
    fclose(f);
    return path;
}

TEST(load_file)
{
    config_t c;
    const char *path;
    char want[512];
    char *big;
    size_t max = CONFIG_FILE_MAX;

    config_defaults(&c);
    path = write_temp("ok", "workers = 2\napi_workers = 7\n", 27);
    CHECK(path != NULL);
    CHECK_INT(config_load_file(&c, path, err, sizeof(err)), SV_OK);
    CHECK_INT(c.api_workers, 7);
    unlink(path);

    path = write_temp("bad", "workers = 2\n\nworkers = 3\n", 25);
    CHECK_INT(config_load_file(&c, path, err, sizeof(err)), SV_BAD_DATA);
    snprintf(want, sizeof(want), "%s:3: workers: duplicate key (first set on line 1)", path);
    CHECK_STR(err, want);
    unlink(path);

    CHECK_INT(config_load_file(&c, "/nonexistent/sv.conf", err, sizeof(err)), SV_NOT_FOUND);
    CHECK_STR(err, "/nonexistent/sv.conf: cannot open: No such file or directory");
    CHECK_INT(config_load_file(&c, "/", err, sizeof(err)), SV_IO);
    CHECK_STR(err, "/: cannot read: Is a directory");

    /* Exactly 1 MiB of comments is accepted, one more byte is not. */
    big = malloc(max + 1);
    CHECK(big != NULL);
    if (big == NULL)
        return;
    memset(big, '#', max + 1);
    for (size_t i = 1000; i < max + 1; i += 1000)
        big[i] = '\n';
    path = write_temp("big", big, max);
    CHECK_INT(config_load_file(&c, path, err, sizeof(err)), SV_OK);
    path = write_temp("big", big, max + 1);
    CHECK_INT(config_load_file(&c, path, err, sizeof(err)), SV_TOO_BIG);
    snprintf(want, sizeof(want), "%s: larger than 1048576 bytes", path);
    CHECK_STR(err, want);
    unlink(path);
    free(big);
}

int
main(void)
{
    RUN(defaults);
    RUN(table_covers_config_t);
    RUN(defaults_are_canonical);
    RUN(enums_match_log_module);
    RUN(parse_size);
    RUN(parse_duration);
    RUN(format_number);
    RUN(parse_every_type);
    RUN(parse_line_endings_bom_and_last_line);
    RUN(parse_bounds_of_numbers);
    RUN(parse_listen);
    RUN(parse_text_limits);
    RUN(line_length_limit);
    RUN(error_messages);
    RUN(error_messages_escape_input);
    RUN(failed_parse_keeps_earlier_lines);
    RUN(env);
    RUN(env_errors);
    RUN(set);
    RUN(precedence);
    RUN(validate);
    RUN(print_round_trip_defaults);
    RUN(print_round_trip_changed);
    RUN(print_too_small_leaves_buffer_alone);
    RUN(load_file);
    return test_done();
}
