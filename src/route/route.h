/* route/route.h: method + path-template routing. Templates are compiled once into segments; a
 * request path is split and percent-decoded once, then compared segment by segment against routes
 * kept in priority order (at the first segment where two templates differ, a static segment wins
 * over a parameter), so "/items/latest" is found before "/items/{id}". */
#ifndef CREST_ROUTE_ROUTE_H
#define CREST_ROUTE_ROUTE_H

#include "crest.h"
#include "mem/arena.h"

#include <stdint.h>

enum { ROUTE_MAX_SEGMENTS = 16, ROUTE_MAX_PARAMS = 8 };

enum route_segment_kind {
    ROUTE_SEG_STATIC,
    ROUTE_SEG_STR,
    ROUTE_SEG_INT,
    ROUTE_SEG_PATH, /* "{name:path}", last: the rest of the path, its segments joined by '/' */
};

struct route_segment {
    uint8_t kind;
    uint16_t len;
    const char *text; /* static text or parameter name, inside the route's template copy */
};

struct route {
    struct crest_route def; /* as declared; strings borrowed */
    char *template_copy;    /* owned (MEM_ROUTER): segments point into it */
    uint8_t method;
    uint8_t n_segments;
    uint8_t n_params;
    struct route_segment segments[ROUTE_MAX_SEGMENTS];
};

struct route_table {
    struct route *routes; /* MEM_ROUTER, in priority order */
    uint32_t n_routes;
    uint32_t cap_routes;
};

struct route_param {
    const struct route_segment *segment;
    struct crest_str value; /* percent-decoded */
};

struct route_match {
    const struct route *route; /* NULL: no route for this method and path */
    uint16_t status;           /* 0 on a match; else 404, 405 or 400 (bad percent-encoding) */
    uint16_t allow;            /* 405: bit m set when method m has a route for this path */
    uint8_t n_params;
    struct route_param params[ROUTE_MAX_PARAMS];
};

/* Compiles a declaration into route (its template copied, MEM_ROUTER): 0, or -EINVAL (bad
 * template or method, reason in err), -ENOMEM; on failure route holds nothing. */
int route_compile(struct route *route, const struct crest_route *def, char *err);
/* Frees what route_compile allocated. */
void route_fini(struct route *route);
/* Adds a compiled route, taking it whatever the outcome (on failure it is freed): 0, -EEXIST (a
 * route of the same method and shape exists, reason in err), -ENOMEM. */
int route_table_take(struct route_table *r, struct route *route, char *err);
void route_table_fini(struct route_table *r);

/* Finds the route for method and path; decoded segments are allocated in arena. */
void route_table_match(const struct route_table *r, uint8_t method, struct crest_str path,
                       struct mem_arena *arena, struct route_match *out);

/* "GET" → CREST_METHOD_GET; CREST_METHOD_UNKNOWN for anything else. */
uint8_t route_method_from_name(const char *name);
const char *route_method_name(uint8_t method);

/* The route index /metrics uses for requests no route matched (404, 405, 501). */
enum { ROUTE_NONE = 0xfffe };

#endif
