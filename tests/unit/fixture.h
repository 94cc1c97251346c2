/*
 * fixture.h: files for a unit test in its temporary directory, and media
 * made there by the ffmpeg command line (installed by scripts/deps.sh; a
 * test that needs it fails, loudly, without it).
 *
 * The test sets dir (from tmpdir_make) before using path_of or ffmpeg.
 */
#ifndef SV_TEST_FIXTURE_H
#define SV_TEST_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>

static const char *dir;

/* dir/name, in one of 8 rotating buffers (so a call can use several). */
static const char *
path_of(const char *name)
{
    static char p[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(p[k], sizeof(p[k]), "%s/%s", dir, name);
    return p[k];
}

/* Runs `ffmpeg -nostdin -v error -y ARGS` in dir; its exit status (0: made). */
static inline int
ffmpeg(const char *args)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "cd '%s' && ffmpeg -nostdin -v error -y %s", dir, args);
    int rc = system(cmd);
    if (rc != 0)
        printf("# ffmpeg failed (%d): %s\n", rc, args);
    return rc;
}

#endif
