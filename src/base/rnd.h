/*
 * rnd.h: cryptographically secure random bytes and identifiers (getrandom(2)).
 */
#ifndef SV_RND_H
#define SV_RND_H

#include <stddef.h>

/* Fills p with n random bytes. SV_OK or SV_IO. Thread-safe. */
int rnd_bytes(void *p, size_t n);
/* Writes 2*nbytes lowercase hex digits and a NUL into out. SV_OK or SV_IO. */
int rnd_hex(char *out, size_t nbytes);

#endif
