/*
 * tmpdir.h: a private temporary directory for a unit test, removed with
 * everything in it at the end.
 */
#ifndef SV_TEST_TMPDIR_H
#define SV_TEST_TMPDIR_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char tmpdir_path[256];

/* Creates /tmp/sv-NAME-XXXXXX; returns its path, or NULL. */
static inline const char *
tmpdir_make(const char *name)
{
    snprintf(tmpdir_path, sizeof(tmpdir_path), "/tmp/sv-%s-XXXXXX", name);
    return mkdtemp(tmpdir_path);
}

static inline int
tmpdir_rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Removes the directory and what it holds. */
static inline void
tmpdir_remove(void)
{
    if (tmpdir_path[0])
        nftw(tmpdir_path, tmpdir_rm_one, 16, FTW_DEPTH | FTW_PHYS);
    tmpdir_path[0] = '\0';
}

#endif
