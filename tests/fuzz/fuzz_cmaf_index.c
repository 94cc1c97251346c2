/*
 * fuzz_cmaf_index.c: cmaf_index_parse on arbitrary bytes.
 *
 * Whatever parses must keep the promises of cmaf.h: as many entries as
 * whole records follow the header, each one the bytes of its record,
 * offsets increasing without overlap from init_size, starts contiguous,
 * total_duration their sum. The parsed index is then written back in the
 * file's layout and must parse to the same index. A refusal must come with
 * a message. A broken promise abort()s so libFuzzer keeps the input.
 */
#include "media/cmaf.h"
#include "base/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t
get_le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* Aborts unless ix keeps every promise about the input it came from. */
static void
check_index(const cmaf_index_t *ix, const uint8_t *data, size_t size)
{
    uint64_t sum = 0;
    if (ix->nentries != (size - CMAF_INDEX_HEADER_SIZE) / CMAF_INDEX_ENTRY_SIZE)
        abort();
    if (ix->timescale == 0 || ix->init_size == 0)
        abort();
    for (size_t i = 0; i < ix->nentries; i++) {
        const cmaf_index_entry_t *e = &ix->entries[i];
        const uint8_t *p = data + CMAF_INDEX_HEADER_SIZE + i * CMAF_INDEX_ENTRY_SIZE;
        if ((uint64_t)e->start != get_le(p, 8) || e->duration != get_le(p + 8, 4) ||
            e->flags != get_le(p + 12, 4) || e->offset != get_le(p + 16, 8) ||
            e->size != get_le(p + 24, 4) || e->iframe_size != get_le(p + 28, 4))
            abort();
        if (e->size == 0 || e->duration == 0 || e->iframe_size > e->size)
            abort();
        if (i == 0 ? e->offset != ix->init_size
                   : e->offset < ix->entries[i - 1].offset + ix->entries[i - 1].size ||
                         (__int128)e->start !=
                             (__int128)ix->entries[i - 1].start + ix->entries[i - 1].duration)
            abort();
        sum += e->duration;
    }
    if ((uint64_t)ix->total_duration != sum)
        abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cmaf_index_t ix = {0}, back = {0};
    char err[256] = "";
    uint64_t avg, peak;
    uint8_t *out;
    size_t n;

    int rc = cmaf_index_parse(data, size, &ix, err, sizeof(err));
    if (rc != SV_OK) {
        if (rc != SV_BAD_DATA || err[0] == '\0' || strlen(err) >= sizeof(err))
            abort();
        return 0;
    }
    check_index(&ix, data, size);
    cmaf_index_bandwidth(&ix, &avg, &peak);
    if ((avg == 0) != (ix.nentries == 0) || peak < avg)
        abort();

    /* Written back in the file's layout, it parses to the same index. */
    n = CMAF_INDEX_HEADER_SIZE + ix.nentries * CMAF_INDEX_ENTRY_SIZE;
    out = calloc(1, n);
    if (out == NULL)
        abort();
    memcpy(out, CMAF_INDEX_MAGIC, 8);
    put_le(out + 8, CMAF_INDEX_VERSION, 4);
    put_le(out + 12, CMAF_INDEX_HEADER_SIZE, 4);
    put_le(out + 16, ix.timescale, 4);
    put_le(out + 20, CMAF_INDEX_ENTRY_SIZE, 4);
    put_le(out + 24, ix.init_size, 8);
    put_le(out + 32, ix.complete ? CMAF_INDEX_COMPLETE : 0, 4);
    put_le(out + 40, (uint64_t)ix.total_duration, 8);
    memcpy(out + CMAF_INDEX_HEADER_SIZE, data + CMAF_INDEX_HEADER_SIZE,
           ix.nentries * CMAF_INDEX_ENTRY_SIZE);
    if (cmaf_index_parse(out, n, &back, err, sizeof(err)) != SV_OK) {
        fprintf(stderr, "written back, the index does not parse: %s\n", err);
        abort();
    }
    if (back.timescale != ix.timescale || back.init_size != ix.init_size ||
        back.complete != ix.complete || back.total_duration != ix.total_duration ||
        back.nentries != ix.nentries ||
        (ix.nentries > 0 &&
         memcmp(back.entries, ix.entries, ix.nentries * sizeof(*ix.entries)) != 0))
        abort();
    free(out);
    cmaf_index_free(&back);
    cmaf_index_free(&ix);
    return 0;
}
