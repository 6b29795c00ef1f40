/* obs/prom.h: a writer of Prometheus' text exposition format 0.0.4 into a buffer. Out of memory
 * is sticky, as in the JSON writer: writes after it do nothing and err keeps the first error. */
#ifndef CREST_OBS_PROM_H
#define CREST_OBS_PROM_H

#include "mem/buf.h"

#include <stdint.h>

struct obs_prom {
    struct mem_buf buf;
    enum mem_tag tag; /* of buf's storage */
    int err;          /* sticky: 0 or -ENOMEM */
};

void obs_prom_put(struct obs_prom *t, const char *s, size_t n);
void obs_prom_str(struct obs_prom *t, const char *s);
void obs_prom_u64(struct obs_prom *t, uint64_t v);
void obs_prom_i64(struct obs_prom *t, int64_t v);
/* The shortest text that reads back as v; NaN, +Inf and -Inf as the format spells them. */
void obs_prom_double(struct obs_prom *t, double v);
/* A label of a series: sep is '{' for its first label, ',' for the others; the value is escaped
 * (backslash, double quote, line feed). */
void obs_prom_label(struct obs_prom *t, char sep, const char *name, const char *value);
/* The HELP and TYPE lines of a family; help must need no escaping (no backslash or line feed). */
void obs_prom_family(struct obs_prom *t, const char *name, const char *type, const char *help);
/* A family of one unlabelled series. */
void obs_prom_single_u64(struct obs_prom *t, const char *name, const char *type, const char *help,
                         uint64_t v);
void obs_prom_single_double(struct obs_prom *t, const char *name, const char *type,
                            const char *help, double v);

#endif
