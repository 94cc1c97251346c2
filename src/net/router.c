/*
 * router.c: segment-by-segment matching of pre-split patterns.
 */
#include "net/router.h"
#include "base/status.h"

#include <stdlib.h>
#include <string.h>

#define ROUTER_MAX_SEGS 16

typedef struct {
    str_t text; /* literal text, or the parameter name */
    int kind;   /* 0 literal, 1 parameter, 2 rest */
} router_seg_t;

typedef struct {
    http_route_t route;
    router_seg_t segs[ROUTER_MAX_SEGS];
    unsigned nsegs;
} router_entry_t;

struct router {
    router_entry_t *entries;
    size_t n, cap;
};

router_t *
router_create(void)
{
    return calloc(1, sizeof(router_t));
}

void
router_destroy(router_t *rt)
{
    if (rt == NULL)
        return;
    free(rt->entries);
    free(rt);
}

static int
router_split(router_entry_t *e)
{
    const char *p = e->route.pattern;
    size_t len = strlen(p), i = 0;

    if (len == 0 || p[0] != '/')
        return SV_BAD_DATA;
    e->nsegs = 0;
    while (i < len) {
        size_t start = i + 1, end = start;
        while (end < len && p[end] != '/')
            end++;
        if (e->nsegs == ROUTER_MAX_SEGS)
            return SV_BAD_DATA;
        router_seg_t *s = &e->segs[e->nsegs++];
        str_t seg = str_make(p + start, end - start);
        if (seg.len >= 2 && seg.p[0] == '{' && seg.p[seg.len - 1] == '}') {
            s->kind = 1;
            s->text = str_make(seg.p + 1, seg.len - 2);
            if (s->text.len > 0 && s->text.p[s->text.len - 1] == '*') {
                s->kind = 2;
                s->text.len--;
                if (end != len)
                    return SV_BAD_DATA; /* a rest parameter must be last */
            }
            if (s->text.len == 0)
                return SV_BAD_DATA;
        } else {
            s->kind = 0;
            s->text = seg;
        }
        i = end;
    }
    return SV_OK;
}

int
router_add(router_t *rt, const http_route_t *route)
{
    if (rt->n == rt->cap) {
        size_t ncap = rt->cap ? rt->cap * 2 : 16;
        router_entry_t *e = realloc(rt->entries, ncap * sizeof(*e));
        if (e == NULL)
            return SV_NO_MEMORY;
        rt->entries = e;
        rt->cap = ncap;
    }
    router_entry_t *e = &rt->entries[rt->n];
    memset(e, 0, sizeof(*e));
    e->route = *route;
    e->route.index = (unsigned)rt->n;
    if (router_split(e) != SV_OK)
        return SV_BAD_DATA;
    rt->n++;
    return SV_OK;
}

/* Matches one entry; fills params on success. */
static bool
router_entry_match(const router_entry_t *e, str_t path, http_request_t *r)
{
    size_t i = 0;
    unsigned np = 0;

    for (unsigned k = 0; k < e->nsegs; k++) {
        const router_seg_t *s = &e->segs[k];
        if (i >= path.len || path.p[i] != '/')
            return false;
        size_t start = i + 1, end = start;
        if (s->kind == 2) {
            if (np < HTTP_MAX_PARAMS) {
                r->param_names[np] = s->text;
                r->param_values[np] = str_make(path.p + start, path.len - start);
                np++;
            }
            r->nparams = np;
            return true;
        }
        while (end < path.len && path.p[end] != '/')
            end++;
        str_t seg = str_make(path.p + start, end - start);
        if (s->kind == 0) {
            if (!str_eq(seg, s->text))
                return false;
        } else {
            if (seg.len == 0)
                return false;
            if (np < HTTP_MAX_PARAMS) {
                r->param_names[np] = s->text;
                r->param_values[np] = seg;
                np++;
            }
        }
        i = end;
    }
    if (i != path.len)
        return false;
    r->nparams = np;
    return true;
}

int
router_match(const router_t *rt, unsigned method, str_t path, http_request_t *r,
             const http_route_t **out, unsigned *allowed)
{
    unsigned allow = 0;
    /* HEAD is served by GET routes. */
    unsigned want = method == HTTP_HEAD ? (HTTP_HEAD | HTTP_GET) : method;

    for (size_t i = 0; i < rt->n; i++) {
        const router_entry_t *e = &rt->entries[i];
        if (!router_entry_match(e, path, r))
            continue;
        unsigned m = e->route.methods;
        if (m & HTTP_GET)
            m |= HTTP_HEAD;
        if (m & want) {
            *out = &e->route;
            return SV_OK;
        }
        allow |= m;
    }
    r->nparams = 0;
    if (allow) {
        *allowed = allow;
        return SV_METHOD;
    }
    return SV_NOT_FOUND;
}

size_t
router_count(const router_t *rt)
{
    return rt->n;
}

const http_route_t *
router_get(const router_t *rt, size_t i)
{
    return i < rt->n ? &rt->entries[i].route : NULL;
}

void
router_methods_str(unsigned methods, char *out, size_t cap)
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {{HTTP_GET, "GET"},        {HTTP_HEAD, "HEAD"},   {HTTP_POST, "POST"},
                 {HTTP_PUT, "PUT"},        {HTTP_PATCH, "PATCH"}, {HTTP_DELETE, "DELETE"},
                 {HTTP_OPTIONS, "OPTIONS"}};
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (!(methods & names[i].bit))
            continue;
        size_t l = strlen(names[i].name);
        if (n + l + 3 > cap)
            break;
        if (n) {
            memcpy(out + n, ", ", 2);
            n += 2;
        }
        memcpy(out + n, names[i].name, l);
        n += l;
        out[n] = '\0';
    }
}
