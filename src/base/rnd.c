/*
 * rnd.c: random bytes from the kernel.
 */
#include "base/rnd.h"
#include "base/status.h"

#include <errno.h>
#include <sys/random.h>

int
rnd_bytes(void *p, size_t n)
{
    unsigned char *q = p;
    while (n > 0) {
        ssize_t got = getrandom(q, n, 0);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return SV_IO;
        }
        q += got;
        n -= (size_t)got;
    }
    return SV_OK;
}

int
rnd_hex(char *out, size_t nbytes)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[64];
    size_t done = 0;

    while (done < nbytes) {
        size_t n = nbytes - done < sizeof(raw) ? nbytes - done : sizeof(raw);
        if (rnd_bytes(raw, n) != SV_OK)
            return SV_IO;
        for (size_t i = 0; i < n; i++) {
            out[2 * (done + i)] = hex[raw[i] >> 4];
            out[2 * (done + i) + 1] = hex[raw[i] & 15];
        }
        done += n;
    }
    out[2 * nbytes] = '\0';
    return SV_OK;
}
