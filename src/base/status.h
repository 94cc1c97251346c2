/*
 * status.h: the one status type of StreamVerse.
 *
 * Every function that can fail returns an int: SV_OK (0) on success, a negative
 * SV_* value on failure. SV_AGAIN and SV_DECLINED are ordinary results in
 * event-driven code (come back later / not mine, let the next one try).
 * status_http() and status_code() are the one table that maps a status to an
 * HTTP status and to the API error code string.
 */
#ifndef SV_STATUS_H
#define SV_STATUS_H

enum {
    SV_OK = 0,
    SV_ERROR = -1,         /* unspecified internal failure */
    SV_AGAIN = -2,         /* not complete yet; call again when more data or time arrives */
    SV_DECLINED = -3,      /* not handled here; let another handler try */
    SV_NO_MEMORY = -4,     /* allocation failed */
    SV_BAD_DATA = -5,      /* input is malformed */
    SV_TOO_BIG = -6,       /* input exceeds a configured ceiling */
    SV_NOT_FOUND = -7,     /* no such thing */
    SV_EXISTS = -8,        /* already exists */
    SV_FORBIDDEN = -9,     /* authenticated but not allowed */
    SV_UNAUTHORIZED = -10, /* no or bad credentials */
    SV_CONFLICT = -11,     /* state does not allow it */
    SV_UNSUPPORTED = -12,  /* understood but not implemented */
    SV_IO = -13,           /* file or socket I/O failed */
    SV_TIMEOUT = -14,      /* a deadline passed */
    SV_BUSY = -15,         /* temporarily overloaded or locked */
    SV_RANGE = -16,        /* requested range not satisfiable */
    SV_DB = -17,           /* database failure */
    SV_UNAVAILABLE = -18,  /* shutting down or dependency down */
    SV_RATE_LIMITED = -19, /* too many requests */
    SV_METHOD = -20,       /* method not allowed on this resource */
    SV_STATUS_MIN_ = -20
};

/* "ok", "bad_data", ...: stable API error code for a status. Never NULL. */
const char *status_code(int rc);

/* HTTP status code that answers a request that failed with rc (500 for unknown). */
int status_http(int rc);

/* Short English description, for logs and default error messages. Never NULL. */
const char *status_text(int rc);

#endif
