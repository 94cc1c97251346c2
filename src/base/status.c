/*
 * status.c: the one table from status to HTTP status and API error code.
 */
#include "base/status.h"

typedef struct {
    const char *code;
    int http;
    const char *text;
} status_entry_t;

/* Indexed by -rc. */
static const status_entry_t status_table[] = {
    [0] = {"ok", 200, "success"},
    [-SV_ERROR] = {"internal", 500, "internal error"},
    [-SV_AGAIN] = {"again", 503, "try again"},
    [-SV_DECLINED] = {"declined", 404, "not handled"},
    [-SV_NO_MEMORY] = {"no_memory", 503, "out of memory"},
    [-SV_BAD_DATA] = {"bad_request", 400, "malformed input"},
    [-SV_TOO_BIG] = {"too_big", 413, "input exceeds a limit"},
    [-SV_NOT_FOUND] = {"not_found", 404, "not found"},
    [-SV_EXISTS] = {"exists", 409, "already exists"},
    [-SV_FORBIDDEN] = {"forbidden", 403, "forbidden"},
    [-SV_UNAUTHORIZED] = {"unauthorized", 401, "authentication required"},
    [-SV_CONFLICT] = {"conflict", 409, "conflicts with current state"},
    [-SV_UNSUPPORTED] = {"unsupported", 501, "not supported"},
    [-SV_IO] = {"io", 500, "input/output error"},
    [-SV_TIMEOUT] = {"timeout", 504, "timed out"},
    [-SV_BUSY] = {"busy", 503, "busy"},
    [-SV_RANGE] = {"range_not_satisfiable", 416, "range not satisfiable"},
    [-SV_DB] = {"database", 500, "database error"},
    [-SV_UNAVAILABLE] = {"unavailable", 503, "service unavailable"},
    [-SV_RATE_LIMITED] = {"rate_limited", 429, "too many requests"},
    [-SV_METHOD] = {"method_not_allowed", 405, "method not allowed"},
};

static const status_entry_t *
status_lookup(int rc)
{
    if (rc > 0 || rc < SV_STATUS_MIN_)
        return &status_table[-SV_ERROR];
    return &status_table[-rc];
}

const char *
status_code(int rc)
{
    return status_lookup(rc)->code;
}

int
status_http(int rc)
{
    return status_lookup(rc)->http;
}

const char *
status_text(int rc)
{
    return status_lookup(rc)->text;
}
