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
 * This module is below the HTTP layer (which calls it, as do the engines
 * that count); the route's handler is api_metrics in api-misc.c.
 */
#ifndef TETHER_METRICS_H
#define TETHER_METRICS_H

#include <stdint.h>

#include "buf.h"
#include "store.h"

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

/* Append the whole page to b (bounded by the caller: a few KiB); 0, or -1
 * if the store could not be read. GET /metrics is api-misc.c's. */
int metrics_render(struct store *st, struct buf *b);

#endif
