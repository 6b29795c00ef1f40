/* obs/prom.c: Prometheus' text exposition format 0.0.4: families (HELP and TYPE lines), series
 * with escaped label values, integers and doubles (the shortest text that reads back, non-finite
 * values spelt as Go spells them). What the figures are and where they come from is ops/metrics.c's
 * business; this file only writes the text. */
#include "obs/prom.h"

#include "json/json.h"

#include <math.h>
#include <string.h>

void obs_prom_put(struct obs_prom *t, const char *s, size_t n)
{
    if (!t->err)
        t->err = mem_buf_append(&t->buf, t->tag, s, n);
}

void obs_prom_str(struct obs_prom *t, const char *s)
{
    obs_prom_put(t, s, strlen(s));
}

void obs_prom_u64(struct obs_prom *t, uint64_t v)
{
    if (!t->err)
        t->err = mem_buf_append_u64(&t->buf, t->tag, v);
}

void obs_prom_i64(struct obs_prom *t, int64_t v)
{
    if (v < 0)
        obs_prom_put(t, "-", 1);
    obs_prom_u64(t, v < 0 ? 0 - (uint64_t)v : (uint64_t)v);
}

/* Shortest text that reads back as v; the format spells the non-finite values as Go does. */
void obs_prom_double(struct obs_prom *t, double v)
{
    char text[32];
    if (isnan(v))
        obs_prom_str(t, "NaN");
    else if (isinf(v))
        obs_prom_str(t, v > 0 ? "+Inf" : "-Inf");
    else
        obs_prom_put(t, text, (size_t)json_write_format_double(v, text));
}

/* Label values escape backslash, double quote and line feed, and nothing else (format 0.0.4). */
static void label_value(struct obs_prom *t, const char *s)
{
    for (const char *run = s;; s++) {
        const char *esc = *s == '\\' ? "\\\\" : *s == '"' ? "\\\"" : *s == '\n' ? "\\n" : NULL;
        if (!esc && *s)
            continue;
        obs_prom_put(t, run, (size_t)(s - run));
        if (!*s)
            return;
        obs_prom_str(t, esc);
        run = s + 1;
    }
}

/* `sep` is '{' for a series' first label, ',' for the others. */
void obs_prom_label(struct obs_prom *t, char sep, const char *name, const char *value)
{
    obs_prom_put(t, &sep, 1);
    obs_prom_str(t, name);
    obs_prom_put(t, "=\"", 2);
    label_value(t, value);
    obs_prom_put(t, "\"", 1);
}

/* The help texts are constants of this file with no backslash or line feed, which are all HELP
 * would need escaped. */
void obs_prom_family(struct obs_prom *t, const char *name, const char *type, const char *help)
{
    obs_prom_str(t, "# HELP ");
    obs_prom_str(t, name);
    obs_prom_put(t, " ", 1);
    obs_prom_str(t, help);
    obs_prom_str(t, "\n# TYPE ");
    obs_prom_str(t, name);
    obs_prom_put(t, " ", 1);
    obs_prom_str(t, type);
    obs_prom_put(t, "\n", 1);
}

void obs_prom_single_u64(struct obs_prom *t, const char *name, const char *type, const char *help,
                         uint64_t v)
{
    obs_prom_family(t, name, type, help);
    obs_prom_str(t, name);
    obs_prom_put(t, " ", 1);
    obs_prom_u64(t, v);
    obs_prom_put(t, "\n", 1);
}

void obs_prom_single_double(struct obs_prom *t, const char *name, const char *type,
                            const char *help, double v)
{
    obs_prom_family(t, name, type, help);
    obs_prom_str(t, name);
    obs_prom_put(t, " ", 1);
    obs_prom_double(t, v);
    obs_prom_put(t, "\n", 1);
}
