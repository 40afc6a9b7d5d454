/*
 * metrics.h - what GET /metrics reports, in Prometheus' text format.
 *
 * Two kinds of figure: counters kept in memory by the code that sees the
 * event (requests and their latency, login failures, bytes moved, open
 * connections; they start from zero with the daemon, as Prometheus
 * expects of counters), and gauges read from the store when scraped
 * (sessions, jobs and transfers by state), with one cheap GROUP BY each.
 * Every label takes values from a fixed list, so the number of series is
 * bounded whatever clients do. docs/monitoring.md lists the metrics.
 */
#ifndef TETHER_METRICS_H
#define TETHER_METRICS_H

#include <stdint.h>

#include "http.h"

/* The media type of the text exposition format 0.0.4. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Where moved bytes came from (the "kind" label). */
enum metrics_bytes { METRICS_BYTES_TRANSFER, METRICS_BYTES_UPLOAD };

/* One request answered with status after ms milliseconds. */
void metrics_request(int status, int64_t ms);

/* One failed login (a wrong password or key; not a refused lockout). */
void metrics_login_failed(void);

/* n more bytes moved by a transfer job or received by an upload. */
void metrics_bytes(enum metrics_bytes kind, int64_t n);

/* A connection opened (+1) or closed (-1). */
void metrics_connection(int delta);

/* GET /metrics: the text exposition for an admin user; 403 for others
 * (the route's auth makes it 401 without a token). */
tether_err api_metrics(struct req *r);

#endif
