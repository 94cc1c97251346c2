/*
 * cmaf_index_stub.h: TEMPORARY reader of the fragment index (the format in
 * src/media/cmaf.h), so that the manifest tests build and run before
 * src/media/cmaf.c lands from its own branch.
 *
 * Include it in exactly one test file. It defines cmaf_index_parse,
 * cmaf_index_load, cmaf_index_free and cmaf_index_bandwidth with external
 * linkage, as cmaf.c will; the test links with -Wl,--allow-multiple-definition
 * and its own definitions come first, so once cmaf.c is in libsv.a this stub
 * would shadow it: delete this file and its #include at that merge, so the
 * tests run against the real reader.
 *
 * It checks what cmaf.h promises (magic, version, sizes, offsets that start
 * at the init segment and do not overlap, contiguous starts) but is not a
 * product parser: it is never compiled into src/.
 */
#ifndef SV_TEST_CMAF_INDEX_STUB_H
#define SV_TEST_CMAF_INDEX_STUB_H

#include "base/status.h"
#include "media/cmaf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t
stub_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t
stub_le64(const uint8_t *p)
{
    return (uint64_t)stub_le32(p) | (uint64_t)stub_le32(p + 4) << 32;
}

int
cmaf_index_parse(const uint8_t *data, size_t len, cmaf_index_t *out, char *err, size_t errlen)
{
    cmaf_index_t ix;
    memset(&ix, 0, sizeof(ix));
    if (len < CMAF_INDEX_HEADER_SIZE || memcmp(data, CMAF_INDEX_MAGIC, 8) != 0) {
        snprintf(err, errlen, "not a fragment index");
        return SV_BAD_DATA;
    }
    if (stub_le32(data + 8) != CMAF_INDEX_VERSION ||
        stub_le32(data + 12) != CMAF_INDEX_HEADER_SIZE ||
        stub_le32(data + 20) != CMAF_INDEX_ENTRY_SIZE || stub_le32(data + 16) == 0) {
        snprintf(err, errlen, "unsupported index header");
        return SV_BAD_DATA;
    }
    ix.timescale = stub_le32(data + 16);
    ix.init_size = stub_le64(data + 24);
    ix.complete = (stub_le32(data + 32) & CMAF_INDEX_COMPLETE) != 0;
    ix.nentries = (len - CMAF_INDEX_HEADER_SIZE) / CMAF_INDEX_ENTRY_SIZE;
    if (ix.nentries > 0) {
        ix.entries = calloc(ix.nentries, sizeof(*ix.entries));
        if (ix.entries == NULL)
            return SV_NO_MEMORY;
    }
    for (size_t i = 0; i < ix.nentries; i++) {
        const uint8_t *e = data + CMAF_INDEX_HEADER_SIZE + i * CMAF_INDEX_ENTRY_SIZE;
        cmaf_index_entry_t *x = &ix.entries[i];
        x->start = (int64_t)stub_le64(e);
        x->duration = stub_le32(e + 8);
        x->flags = stub_le32(e + 12);
        x->offset = stub_le64(e + 16);
        x->size = stub_le32(e + 24);
        x->iframe_size = stub_le32(e + 28);
        const char *bad = NULL;
        if (x->duration == 0 || x->size == 0)
            bad = "duration or size 0";
        else if (i == 0 && x->offset != ix.init_size)
            bad = "offset is not the init size";
        else if (i > 0 && x->offset < ix.entries[i - 1].offset + ix.entries[i - 1].size)
            bad = "offset overlaps the previous fragment";
        else if (i > 0 && x->start != ix.entries[i - 1].start + ix.entries[i - 1].duration)
            bad = "start does not follow the previous fragment";
        if (bad != NULL) {
            snprintf(err, errlen, "entry %zu: %s", i, bad);
            free(ix.entries);
            return SV_BAD_DATA;
        }
        ix.total_duration += x->duration;
    }
    *out = ix;
    return SV_OK;
}

int
cmaf_index_load(const char *path, cmaf_index_t *out, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    uint8_t *data = NULL;
    size_t len = 0, cap = 0;
    int rc;

    if (f == NULL) {
        snprintf(err, errlen, "%s", strerror(errno));
        return errno == ENOENT ? SV_NOT_FOUND : SV_IO;
    }
    for (;;) {
        if (len == cap) {
            uint8_t *n = realloc(data, cap ? cap * 2 : 4096);
            if (n == NULL) {
                free(data);
                fclose(f);
                return SV_NO_MEMORY;
            }
            data = n;
            cap = cap ? cap * 2 : 4096;
        }
        size_t got = fread(data + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    fclose(f);
    rc = cmaf_index_parse(data, len, out, err, errlen);
    free(data);
    return rc;
}

void
cmaf_index_free(cmaf_index_t *ix)
{
    free(ix->entries);
    ix->entries = NULL;
    ix->nentries = 0;
}

/* Rounded up, as a bound should be; the fixtures use sizes that divide exactly. */
void
cmaf_index_bandwidth(const cmaf_index_t *ix, uint64_t *avg_bps, uint64_t *peak_bps)
{
    uint64_t bytes = 0, peak = 0;
    for (size_t i = 0; i < ix->nentries; i++) {
        const cmaf_index_entry_t *e = &ix->entries[i];
        uint64_t bps = ((uint64_t)e->size * 8 * ix->timescale + e->duration - 1) / e->duration;
        if (bps > peak)
            peak = bps;
        bytes += e->size;
    }
    *peak_bps = peak;
    *avg_bps = ix->total_duration > 0
                   ? (bytes * 8 * ix->timescale + (uint64_t)ix->total_duration - 1) /
                         (uint64_t)ix->total_duration
                   : 0;
}

#endif
