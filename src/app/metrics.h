/* app/metrics.h: GET /metrics, the Prometheus text exposition of crest's figures. */
#ifndef CREST_APP_METRICS_H
#define CREST_APP_METRICS_H

#include "crest.h"

/* Adds GET /metrics to app. Route indexes recorded by app_record are resolved against app's
 * router when a scrape renders them, so every route must be added before serving. 0, -ENOMEM. */
int app_metrics_add_route(struct crest_app *app);

#endif
