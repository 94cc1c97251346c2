/*
 * fuzz_config.c: config_parse on arbitrary bytes, then round trips.
 *
 * 1. The bytes as a config file. Whatever parses must print to a file that
 *    parses back to the same configuration.
 * 2. The bytes as "key=value" given to config_set, as a flag would: a literal
 *    value that a file can only spell quoted (a leading '"', '#', spaces at
 *    either end) must survive config_print and config_parse too.
 *
 * A mismatch abort()s so libFuzzer saves the input. config_defaults() zeroes
 * config_t and text fields are zero-filled past their NUL, so equal
 * configurations are equal bytes and memcmp is an exact comparison.
 */
#include "base/config.h"
#include "base/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Prints c, parses the output over fresh defaults, aborts unless it is c again. */
static void
check_round_trip(const config_t *c)
{
    static config_t back;
    char err[512];
    buf_t out;

    buf_init(&out, 1 << 20);
    if (config_print(c, &out) != SV_OK)
        abort();
    config_defaults(&back);
    if (config_parse(&back, out.data, out.len, "printed", err, sizeof(err)) != SV_OK) {
        fprintf(stderr, "printed config does not parse: %s\n%s", err, out.data);
        abort();
    }
    if (memcmp(c, &back, sizeof(back)) != 0) {
        fprintf(stderr, "round trip changed the configuration:\n%s", out.data);
        abort();
    }
    buf_free(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static config_t c;
    char err[512], key[64];
    const uint8_t *eq;

    config_defaults(&c);
    if (config_parse(&c, (const char *)data, size, "fuzz", err, sizeof(err)) == SV_OK) {
        (void)config_validate(&c, err, sizeof(err));
        check_round_trip(&c);
    } else if (strncmp(err, "fuzz:", 5) != 0 || strlen(err) >= sizeof(err)) {
        abort(); /* errors always name the origin and fit, NUL-terminated */
    }

    eq = memchr(data, '=', size);
    if (eq != NULL && (size_t)(eq - data) < sizeof(key)) {
        size_t klen = (size_t)(eq - data), vlen = size - klen - 1;
        char *value = malloc(vlen + 1);
        if (value == NULL)
            return 0;
        memcpy(key, data, klen);
        key[klen] = '\0';
        memcpy(value, eq + 1, vlen);
        value[vlen] = '\0';
        config_defaults(&c);
        if (config_set(&c, key, value, err, sizeof(err)) == SV_OK)
            check_round_trip(&c);
        free(value);
    }
    return 0;
}
