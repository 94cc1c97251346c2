/*
 * test_filecache.c: the per-thread open-file cache: what it returns, that it
 * is used within valid_ms and refreshed after, that it never hands out a
 * shared descriptor, and that it leaks no descriptor.
 */
#include "test.h"
#include "tmpdir.h"

#include "base/filecache.h"
#include "base/status.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char dir[256];

static void
put(const char *name, const char *text)
{
    char p[512], tmp[512];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    snprintf(tmp, sizeof(tmp), "%s/.tmp", dir);
    FILE *f = fopen(tmp, "w");
    fputs(text, f);
    fclose(f);
    rename(tmp, p); /* replace atomically, as a deploy would: a new inode */
}

static const char *
read_via_cache(const char *name, uint64_t valid_ms, int *rc_out)
{
    static char got[256];
    char p[512];
    struct stat st;
    int fd;
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    *rc_out = filecache_open(p, valid_ms, &fd, &st);
    if (*rc_out != SV_OK)
        return NULL;
    ssize_t n = pread(fd, got, sizeof(got) - 1, 0);
    close(fd);
    got[n > 0 ? n : 0] = '\0';
    return (size_t)st.st_size == (size_t)(n > 0 ? n : 0) ? got : "size mismatch";
}

static int
open_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    while (d && readdir(d))
        n++;
    if (d)
        closedir(d);
    return n;
}

TEST(returns_the_file_and_its_size)
{
    int rc;
    put("a.txt", "first");
    CHECK_STR(read_via_cache("a.txt", 1000, &rc), "first");
    CHECK_INT(rc, SV_OK);
}

TEST(within_valid_ms_the_cached_file_is_used_and_after_it_the_new_one)
{
    int rc;
    put("b.txt", "old");
    CHECK_STR(read_via_cache("b.txt", 300, &rc), "old");
    put("b.txt", "new content");
    CHECK_STR(read_via_cache("b.txt", 300, &rc), "old"); /* the cache answered */
    usleep(350 * 1000);
    CHECK_STR(read_via_cache("b.txt", 300, &rc), "new content");
}

TEST(valid_zero_always_opens_the_path)
{
    int rc;
    put("c.txt", "one");
    CHECK_STR(read_via_cache("c.txt", 0, &rc), "one");
    put("c.txt", "two");
    CHECK_STR(read_via_cache("c.txt", 0, &rc), "two");
}

TEST(a_removed_file_is_not_found_once_its_entry_expires)
{
    int rc;
    char p[512];
    put("d.txt", "here");
    CHECK_STR(read_via_cache("d.txt", 200, &rc), "here");
    snprintf(p, sizeof(p), "%s/d.txt", dir);
    unlink(p);
    usleep(250 * 1000);
    CHECK(read_via_cache("d.txt", 200, &rc) == NULL);
    CHECK_INT(rc, SV_NOT_FOUND);
    CHECK(read_via_cache("never.txt", 200, &rc) == NULL);
    CHECK_INT(rc, SV_NOT_FOUND);
}

TEST(a_directory_is_declined_with_its_stat)
{
    char p[512];
    struct stat st;
    int fd = -1;
    snprintf(p, sizeof(p), "%s/sub", dir);
    mkdir(p, 0755);
    CHECK_INT(filecache_open(p, 1000, &fd, &st), SV_DECLINED);
    CHECK(S_ISDIR(st.st_mode));
    CHECK_INT(fd, -1);
}

TEST(each_caller_gets_its_own_descriptor)
{
    char p[512];
    struct stat st;
    int a, b;
    put("e.txt", "shared?");
    snprintf(p, sizeof(p), "%s/e.txt", dir);
    CHECK_INT(filecache_open(p, 1000, &a, &st), SV_OK);
    CHECK_INT(filecache_open(p, 1000, &b, &st), SV_OK);
    CHECK(a != b);
    close(a); /* closing one must not affect the other */
    char buf[16] = {0};
    CHECK_INT(pread(b, buf, sizeof(buf) - 1, 0), 7);
    close(b);
}

TEST(many_paths_and_clear_leak_no_descriptor)
{
    int before = open_fds(), rc;
    char name[32];
    for (int i = 0; i < 3 * FILECACHE_SLOTS / 2; i++) {
        snprintf(name, sizeof(name), "f%d", i);
        put(name, "x");
        read_via_cache(name, 60000, &rc);
    }
    CHECK(open_fds() <= before + FILECACHE_SLOTS); /* collisions replace, never pile up */
    filecache_clear();
    CHECK(open_fds() <= before);
}

int
main(void)
{
    const char *d = tmpdir_make("filecache");
    if (d == NULL)
        return 1;
    snprintf(dir, sizeof(dir), "%s", d);
    RUN(returns_the_file_and_its_size);
    RUN(within_valid_ms_the_cached_file_is_used_and_after_it_the_new_one);
    RUN(valid_zero_always_opens_the_path);
    RUN(a_removed_file_is_not_found_once_its_entry_expires);
    RUN(a_directory_is_declined_with_its_stat);
    RUN(each_caller_gets_its_own_descriptor);
    RUN(many_paths_and_clear_leak_no_descriptor);
    filecache_clear();
    tmpdir_remove();
    return test_done();
}
