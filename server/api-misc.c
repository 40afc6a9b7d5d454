/*
 * api-misc.c - endpoints that belong to no particular area.
 */
#include "api.h"
#include "proto.h"

/* GET /v1/health: open to anyone, says only that we serve and what we speak. */
tether_err api_health(struct req *r)
{
	return req_reply(r, 200, json_pack("{s:s,s:s,s:i}", "status", "ok",
	                                   "version", TETHER_VERSION,
	                                   "api", TETHER_API_VERSION));
}
