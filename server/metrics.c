/*
 * metrics.c - the counters and the /metrics page.
 *
 * Counters are relaxed atomics bumped from any thread, with no lock: a
 * scrape may see one counter a request ahead of another, which
 * Prometheus tolerates. The latency histogram keeps per-bucket counts
 * and adds them up into cumulative buckets when rendered.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "metrics.h"
#include "proto.h"

/* Latency bucket bounds in milliseconds; long polls wait up to 60 s. */
static const int64_t bucket_ms[] = { 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000,
                                     10000, 30000, 60000 };
#define NBUCKETS (sizeof bucket_ms / sizeof bucket_ms[0])

static atomic_llong lat_bucket[NBUCKETS + 1];   /* the last: above every bound */
static atomic_llong lat_sum_ms;
static atomic_llong by_class[6];               /* status / 100, 0 = other */
static atomic_llong login_failures;
static atomic_llong bytes_moved[2];            /* enum metrics_bytes */
static atomic_llong connections;

/* Count one request in its status class and latency bucket. */
void metrics_request(int status, int64_t ms)
{
	size_t b = 0;
	if (ms < 0)
		ms = 0;
	while (b < NBUCKETS && ms > bucket_ms[b])
		b++;
	atomic_fetch_add_explicit(&lat_bucket[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&lat_sum_ms, ms, memory_order_relaxed);
	int cls = status >= 100 && status < 600 ? status / 100 : 0;
	atomic_fetch_add_explicit(&by_class[cls], 1, memory_order_relaxed);
}

/* Count a failed login. */
void metrics_login_failed(void)
{
	atomic_fetch_add_explicit(&login_failures, 1, memory_order_relaxed);
}

/* Count bytes moved. */
void metrics_bytes(enum metrics_bytes kind, int64_t n)
{
	if (n > 0 && (unsigned)kind < 2)
		atomic_fetch_add_explicit(&bytes_moved[kind], n, memory_order_relaxed);
}

/* Track open connections. */
void metrics_connection(int delta)
{
	atomic_fetch_add_explicit(&connections, delta, memory_order_relaxed);
}

/* Read a counter. */
static long long get(atomic_llong *a)
{
	return atomic_load_explicit(a, memory_order_relaxed);
}

/* A census under construction: counts by state (and job type). */
struct census {
	int64_t n[16][8];   /* [state][type]; enough for every enum */
};

/* store_census callback for sessions and jobs (numeric states). */
static void count_numeric(void *ctx, int64_t state, const char *state_text,
                          const char *type, int64_t n)
{
	struct census *c = ctx;
	(void)state_text;
	int t = type[0] != '\0' ? proto_job_type_parse(type) : 0;
	if (state >= 0 && state < 16 && t >= 0 && t < 8)
		c->n[state][t] += n;
}

/* store_census callback for transfers (states by spelling). */
static void count_text(void *ctx, int64_t state, const char *state_text,
                       const char *type, int64_t n)
{
	struct census *c = ctx;
	(void)state;
	(void)type;
	int s = proto_xfer_state_parse(state_text);
	if (s >= 0 && s < 16)
		c->n[s][0] += n;
}

/* HELP and TYPE lines of a metric. */
static void head(struct buf *b, const char *name, const char *type, const char *help)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The gauges read from the store; -1 if a query failed. */
static int render_census(struct store *st, struct buf *b)
{
	struct census c;
	memset(&c, 0, sizeof c);
	if (store_census(st, STORE_CENSUS_SESSIONS, count_numeric, &c) != TETHER_E_OK)
		return -1;
	head(b, "tether_sessions", "gauge", "Sessions by state.");
	for (int s = 0; proto_session_state_str(s) != NULL && s < 16; s++)
		buf_printf(b, "tether_sessions{state=\"%s\"} %lld\n", proto_session_state_str(s),
		           (long long)c.n[s][0]);
	memset(&c, 0, sizeof c);
	if (store_census(st, STORE_CENSUS_JOBS, count_numeric, &c) != TETHER_E_OK)
		return -1;
	head(b, "tether_jobs", "gauge", "Jobs by state and type (transfer jobs included).");
	for (int s = 0; proto_job_state_str(s) != NULL && s < 16; s++)
		for (int t = 0; proto_job_type_str(t) != NULL && t < 8; t++)
			buf_printf(b, "tether_jobs{state=\"%s\",type=\"%s\"} %lld\n",
			           proto_job_state_str(s), proto_job_type_str(t),
			           (long long)c.n[s][t]);
	memset(&c, 0, sizeof c);
	if (store_census(st, STORE_CENSUS_TRANSFERS, count_text, &c) != TETHER_E_OK)
		return -1;
	head(b, "tether_transfers", "gauge", "Transfer jobs by state.");
	for (int s = 0; proto_xfer_state_str(s) != NULL && s < 16; s++)
		buf_printf(b, "tether_transfers{state=\"%s\"} %lld\n", proto_xfer_state_str(s),
		           (long long)c.n[s][0]);
	return 0;
}

/* The in-memory counters. */
static void render_counters(struct buf *b)
{
	static const char *const kinds[] = { "transfer", "upload" };
	head(b, "tether_transferred_bytes_total", "counter",
	     "Bytes moved by transfer jobs and received by resumable uploads.");
	for (int k = 0; k < 2; k++)
		buf_printf(b, "tether_transferred_bytes_total{kind=\"%s\"} %lld\n", kinds[k],
		           get(&bytes_moved[k]));
	head(b, "tether_login_failures_total", "counter",
	     "Failed logins (wrong password or key), since the daemon started.");
	buf_printf(b, "tether_login_failures_total %lld\n", get(&login_failures));
	head(b, "tether_open_connections", "gauge", "HTTPS connections open now.");
	buf_printf(b, "tether_open_connections %lld\n", get(&connections));
	head(b, "tether_http_requests_total", "counter", "Requests answered, by status class.");
	static const char *const classes[] = { "other", "1xx", "2xx", "3xx", "4xx", "5xx" };
	for (int c = 0; c < 6; c++)
		buf_printf(b, "tether_http_requests_total{code=\"%s\"} %lld\n", classes[c],
		           get(&by_class[c]));
	head(b, "tether_http_request_duration_seconds", "histogram",
	     "Time from a request's headers to its answer.");
	long long cum = 0;
	for (size_t i = 0; i < NBUCKETS; i++) {
		cum += get(&lat_bucket[i]);
		buf_printf(b, "tether_http_request_duration_seconds_bucket{le=\"%g\"} %lld\n",
		           (double)bucket_ms[i] / 1000, cum);
	}
	cum += get(&lat_bucket[NBUCKETS]);
	long long sum = get(&lat_sum_ms);
	buf_printf(b, "tether_http_request_duration_seconds_bucket{le=\"+Inf\"} %lld\n", cum);
	buf_printf(b, "tether_http_request_duration_seconds_sum %lld.%03lld\n", sum / 1000,
	           sum % 1000);
	buf_printf(b, "tether_http_request_duration_seconds_count %lld\n", cum);
	head(b, "tether_build_info", "gauge", "The running tetherd's version; always 1.");
	buf_printf(b, "tether_build_info{version=\"%s\",api=\"%d\"} 1\n", TETHER_VERSION,
	           TETHER_API_VERSION);
}

/* The whole page. */
int metrics_render(struct store *st, struct buf *b)
{
	if (render_census(st, b) != 0)
		return -1;
	render_counters(b);
	return 0;
}
