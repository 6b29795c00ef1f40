/* app/router.h: method + path-template routing. Templates are compiled once into segments; a
 * request path is split and percent-decoded once, then compared segment by segment against routes
 * kept in priority order (at the first segment where two templates differ, a static segment wins
 * over a parameter), so "/items/latest" is found before "/items/{id}". */
#ifndef CREST_APP_ROUTER_H
#define CREST_APP_ROUTER_H

#include "crest.h"
#include "mem/arena.h"

#include <stdint.h>

enum { APP_MAX_SEGMENTS = 16, APP_MAX_PARAMS = 8 };

enum app_segment_kind {
    APP_SEG_STATIC,
    APP_SEG_STR,
    APP_SEG_INT,
};

struct app_segment {
    uint8_t kind;
    uint16_t len;
    const char *text; /* static text or parameter name, inside the route's template copy */
};

struct app_route {
    struct crest_route def; /* as declared; strings borrowed */
    char *template_copy;    /* owned (MEM_ROUTER): segments point into it */
    uint8_t method;
    uint8_t n_segments;
    uint8_t n_params;
    struct app_segment segments[APP_MAX_SEGMENTS];
};

struct app_router {
    struct app_route *routes; /* MEM_ROUTER, in priority order */
    uint32_t n_routes;
    uint32_t cap_routes;
};

struct app_param {
    const struct app_segment *segment;
    struct crest_str value; /* percent-decoded */
};

struct app_match {
    const struct app_route *route; /* NULL: no route for this method and path */
    uint16_t status;               /* 0 on a match; else 404, 405 or 400 (bad percent-encoding) */
    uint16_t allow;                /* 405: bit m set when method m has a route for this path */
    uint8_t n_params;
    struct app_param params[APP_MAX_PARAMS];
};

/* 0, -EINVAL (bad template or method, reason in err), -EEXIST, -ENOMEM. */
int app_router_add(struct app_router *r, const struct crest_route *def, char *err);
void app_router_fini(struct app_router *r);

/* Finds the route for method and path; decoded segments are allocated in arena. */
void app_router_match(const struct app_router *r, uint8_t method, struct crest_str path,
                      struct mem_arena *arena, struct app_match *out);

/* "GET" → CREST_METHOD_GET; CREST_METHOD_UNKNOWN for anything else. */
uint8_t app_method_from_name(const char *name);
const char *app_method_name(uint8_t method);

#endif
