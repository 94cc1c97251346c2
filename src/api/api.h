/*
 * api.h: the routes of `streamverse serve`: health, readiness, metrics, the
 * OpenAPI document, the JSON API under /api/v1, and static files.
 *
 * JSON API conventions (every later route follows them):
 *  - paths under /api/v1/, JSON bodies, UTF-8;
 *  - one error shape: {"error":{"code":"...","message":"...","field":"..."}},
 *    the code and HTTP status coming from the one status table (status.h);
 *  - lists are paginated with ?limit=N (default api_page_default, at most
 *    api_page_max) and an opaque ?cursor= taken from the previous page's
 *    "next_cursor" (null on the last page);
 *  - times are ISO 8601 UTC strings; money is integer minor units with a currency.
 */
#ifndef SV_API_H
#define SV_API_H

#include "base/config.h"
#include "net/http_server.h"
#include "net/router.h"

typedef struct api api_t;

/* cfg must outlive the api. NULL on out-of-memory. */
api_t *api_create(const config_t *cfg, const char *web_root);
void api_destroy(api_t *api);
/* Adds every route to rt. */
int api_routes_add(api_t *api, router_t *rt);
/* The server whose metrics /metrics reports (set once it exists). */
void api_set_server(api_t *api, http_server_t *srv);

/* The embedded OpenAPI document. */
extern const char api_openapi_json[];
extern const unsigned api_openapi_json_len;

#endif
