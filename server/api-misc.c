/*
 * api-misc.c - endpoints that belong to no particular area.
 */
#include "api.h"
#include "metrics.h"
#include "proto.h"

#define METRICS_PAGE_MAX (256 * 1024)   /* a page is a few KiB */

/* GET /v1/health: open to anyone, says only that we serve and what we speak. */
tether_err api_health(struct req *r)
{
	return req_reply(r, 200, json_pack("{s:s,s:s,s:i}", "status", "ok",
	                                   "version", TETHER_VERSION,
	                                   "api", TETHER_API_VERSION));
}

/* GET /metrics: Prometheus' text format (metrics.h), for admins only: the
 * counts say what the host is doing. The route's auth answers 401 without
 * a token; a token without the admin flag gets 403. */
tether_err api_metrics(struct req *r)
{
	struct buf b;
	if (!r->user.admin)
		return req_error(r, TETHER_E_FORBIDDEN, "metrics are for administrators "
		                 "(tetherd user add --admin)");
	buf_init(&b, METRICS_PAGE_MAX);
	if (metrics_render(r->srv->store, &b) != 0) {
		buf_free(&b);
		return req_error(r, TETHER_E_INTERNAL, "cannot count sessions, jobs and transfers");
	}
	req_reply_raw(r, 200, &b);
	r->raw_type = METRICS_CONTENT_TYPE;
	return TETHER_E_OK;
}
