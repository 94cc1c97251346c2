/*
 * filecache.c: direct-mapped, per-thread, time-bounded cache of open files.
 */
#include "base/filecache.h"
#include "base/clock.h"
#include "base/status.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    char *path; /* NULL: empty slot */
    size_t len;
    uint64_t hash;
    int fd;
    struct stat st;
    uint64_t opened_ms;
} filecache_entry_t;

typedef struct {
    filecache_entry_t slots[FILECACHE_SLOTS];
} filecache_t;

static pthread_key_t filecache_key;
static pthread_once_t filecache_once = PTHREAD_ONCE_INIT;

static void
filecache_entry_drop(filecache_entry_t *e)
{
    if (e->path) {
        close(e->fd);
        free(e->path);
        e->path = NULL;
    }
}

static void
filecache_destroy(void *arg)
{
    filecache_t *fc = arg;
    for (size_t i = 0; i < FILECACHE_SLOTS; i++)
        filecache_entry_drop(&fc->slots[i]);
    free(fc);
}

static void
filecache_key_init(void)
{
    pthread_key_create(&filecache_key, filecache_destroy);
}

static filecache_t *
filecache_get(void)
{
    pthread_once(&filecache_once, filecache_key_init);
    filecache_t *fc = pthread_getspecific(filecache_key);
    if (fc == NULL) {
        fc = calloc(1, sizeof(*fc));
        if (fc && pthread_setspecific(filecache_key, fc) != 0) {
            free(fc);
            fc = NULL;
        }
    }
    return fc;
}

/* FNV-1a, 64 bits. */
static uint64_t
filecache_hash(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static int
filecache_open_direct(const char *path, int *fd, struct stat *st)
{
    int f = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (f < 0)
        return errno == EACCES                       ? SV_FORBIDDEN
               : errno == ENOENT || errno == ENOTDIR ? SV_NOT_FOUND
                                                     : SV_IO;
    if (fstat(f, st) != 0) {
        int e = errno;
        close(f);
        errno = e;
        return SV_IO;
    }
    if (!S_ISREG(st->st_mode)) {
        close(f);
        return SV_DECLINED;
    }
    *fd = f;
    return SV_OK;
}

int
filecache_open(const char *path, uint64_t valid_ms, int *fd, struct stat *st)
{
    filecache_t *fc = valid_ms ? filecache_get() : NULL;
    size_t len = strlen(path);
    uint64_t h, now;
    filecache_entry_t *e;
    int f, rc;

    if (fc == NULL)
        return filecache_open_direct(path, fd, st);
    h = filecache_hash(path, len);
    e = &fc->slots[h % FILECACHE_SLOTS];
    now = clock_mono_ms();
    if (e->path && e->hash == h && e->len == len && memcmp(e->path, path, len) == 0 &&
        now - e->opened_ms < valid_ms) {
        f = fcntl(e->fd, F_DUPFD_CLOEXEC, 0);
        if (f >= 0) {
            *fd = f;
            *st = e->st;
            return SV_OK;
        }
        /* out of descriptors: fall through to a plain open, which will say so */
    }
    rc = filecache_open_direct(path, &f, st);
    if (rc != SV_OK) {
        if (e->path && e->hash == h && e->len == len && memcmp(e->path, path, len) == 0)
            filecache_entry_drop(e); /* gone or changed: forget it */
        return rc;
    }
    /* Keep a duplicate in the slot (replacing what was there); the caller
     * gets the descriptor it opened either way. */
    int keep = fcntl(f, F_DUPFD_CLOEXEC, 0);
    char *copy = keep >= 0 ? malloc(len + 1) : NULL;
    if (copy) {
        memcpy(copy, path, len + 1);
        filecache_entry_drop(e);
        e->path = copy;
        e->len = len;
        e->hash = h;
        e->fd = keep;
        e->st = *st;
        e->opened_ms = now;
    } else if (keep >= 0) {
        close(keep);
    }
    *fd = f;
    return SV_OK;
}

void
filecache_clear(void)
{
    pthread_once(&filecache_once, filecache_key_init);
    filecache_t *fc = pthread_getspecific(filecache_key);
    if (fc) {
        for (size_t i = 0; i < FILECACHE_SLOTS; i++)
            filecache_entry_drop(&fc->slots[i]);
    }
}
