/*
 * filecache.h: a per-thread cache of open files, so that serving a popular
 * file does not walk its path (openat + fstat) on every request.
 *
 * Each thread has its own direct-mapped table of FILECACHE_SLOTS entries
 * (no locks). An entry is trusted for valid_ms after it was opened; after
 * that the path is opened again, so a file replaced or removed on disk is
 * seen within valid_ms. Only regular files are cached. Media segments are
 * immutable, which is what makes this safe for them; web files are seen
 * fresh within valid_ms, like nginx's open_file_cache_valid.
 */
#ifndef SV_FILECACHE_H
#define SV_FILECACHE_H

#include <stdint.h>
#include <sys/stat.h>

#define FILECACHE_SLOTS 1024

/*
 * Opens path read-only. On SV_OK *fd is a new descriptor the caller owns
 * (close it) and *st describes the file. valid_ms 0 bypasses the cache.
 * SV_DECLINED when the path is not a regular file (*st then describes it,
 * so the caller can tell a directory). Errors: SV_NOT_FOUND, SV_FORBIDDEN,
 * SV_IO.
 */
int filecache_open(const char *path, uint64_t valid_ms, int *fd, struct stat *st);

/* Closes this thread's cached descriptors (also done when the thread exits). */
void filecache_clear(void);

#endif
