/*
 * fuzz_subtitles.c: the SubRip/WebVTT sidecar parser on arbitrary bytes, and
 * a round trip through its own output.
 *
 * Whatever converts must be WebVTT that converts again to the very same
 * bytes: the output is sorted, escaped and normalised already, so a second
 * pass that changes it (or refuses it) means the writer produced something
 * the parser reads differently. A refusal must come with a message that
 * fits err. A broken invariant abort()s so libFuzzer saves the input.
 */
#include "base/buf.h"
#include "base/status.h"
#include "media/subtitles.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256], err2[256];
    buf_t first, second;
    int rc;

    buf_init(&first, 64u << 20);
    buf_init(&second, 64u << 20);
    memset(err, 0xff, sizeof(err));
    rc = subtitles_convert_buffer((const char *)data, size, &first, err, sizeof(err));
    if (rc != SV_OK) {
        if (memchr(err, '\0', sizeof(err)) == NULL || err[0] == '\0')
            abort(); /* a refusal always says why, NUL-terminated */
        if (rc != SV_BAD_DATA && rc != SV_TOO_BIG && rc != SV_NO_MEMORY)
            abort();
        goto out;
    }
    if (first.len < 7 || memcmp(first.data, "WEBVTT\n", 7) != 0)
        abort();
    rc = subtitles_convert_buffer(first.data, first.len, &second, err2, sizeof(err2));
    if (rc != SV_OK) {
        fprintf(stderr, "the output does not convert again: %s\n%s", err2, first.data);
        abort();
    }
    if (first.len != second.len || memcmp(first.data, second.data, first.len) != 0) {
        fprintf(stderr, "a second conversion changed the output:\n%s\n----\n%s", first.data,
                second.data);
        abort();
    }
out:
    buf_free(&first);
    buf_free(&second);
    return 0;
}
