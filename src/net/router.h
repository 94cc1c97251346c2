/*
 * router.h: maps (method, path) to a route.
 *
 * Patterns are literal segments and parameters: "/api/v1/jobs/{id}" binds one
 * segment to "id"; a final "{path*}" binds the rest of the path (possibly
 * empty, without its leading '/'). Routes are tried in the order they were
 * added; literal routes should be added before overlapping parameter routes.
 * A router is built at start-up and read-only afterwards, so any number of
 * threads may match concurrently.
 */
#ifndef SV_ROUTER_H
#define SV_ROUTER_H

#include "net/http.h"

typedef struct router router_t;

router_t *router_create(void);
void router_destroy(router_t *rt);
/* Copies *route. SV_BAD_DATA for a malformed pattern, SV_NO_MEMORY. */
int router_add(router_t *rt, const http_route_t *route);

/*
 * Finds the route for method and path (decoded, normalised). On SV_OK, *out
 * is the route and r->param_* are set (values point into path). SV_NOT_FOUND
 * when no pattern matches; SV_METHOD when patterns match but none allows the
 * method, with the allowed methods in *allowed.
 */
int router_match(const router_t *rt, unsigned method, str_t path, http_request_t *r,
                 const http_route_t **out, unsigned *allowed);

size_t router_count(const router_t *rt);
const http_route_t *router_get(const router_t *rt, size_t i);

/* "GET, HEAD, POST" for a method mask, into out (at least 64 bytes). */
void router_methods_str(unsigned methods, char *out, size_t cap);

#endif
