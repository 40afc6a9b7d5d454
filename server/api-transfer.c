/*
 * api-transfer.c - /v1/sessions/{ref}/transfers: BITS-style transfer jobs.
 *
 * Thin: parsing, ownership and replies here; the engine (xfer.c) validates
 * the transfer itself and does the work.
 */
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "xfer.h"

#define TRANSFER_WAIT_MAX 60   /* seconds a GET may wait for the job's worker */

/* Load the session and the transfer named by {job}; any_owner: an
 * administrator's ?all_users=1 may name anyone's session by id (owner gets
 * the owner; else the user). */
static tether_err load_as(struct req *r, struct session_rec *s, struct user_rec *owner,
                          bool any_owner, int64_t *job)
{
	if (any_owner ? api_load_session_any(r, s, owner) != TETHER_E_OK
	              : api_load_session(r, s) != TETHER_E_OK)
		return r->err;
	if (!any_owner)
		*owner = r->user;
	tether_err e = xfer_find(r->srv, s, r->params.v[1], job);
	if (e == TETHER_E_NOT_FOUND)
		return req_error(r, e, "no transfer '%s' in session '%s'", r->params.v[1], s->name);
	if (e != TETHER_E_OK)
		return req_error(r, e, "cannot read the transfer");
	return TETHER_E_OK;
}

/* Load the user's own session and the transfer named by {job}. */
static tether_err load(struct req *r, struct session_rec *s, int64_t *job)
{
	struct user_rec owner;
	return load_as(r, s, &owner, false, job);
}

/* POST /v1/sessions/{ref}/transfers -> 201 the new transfer job */
tether_err api_transfer_start(struct req *r)
{
	struct session_rec s;
	char why[512];
	json_t *out = NULL;
	if (r->in == NULL)
		return req_error(r, TETHER_E_INVALID_ARGUMENT, "expected a JSON body with sources "
		                 "and a destination");
	if (api_load_session(r, &s) != TETHER_E_OK || api_require_holder(r, &s) != TETHER_E_OK)
		return r->err;
	tether_err e = xfer_create(r->srv, &r->user, &s, r->in, &out, why, sizeof why);
	if (e != TETHER_E_OK)
		return req_error(r, e, "%s", why);
	store_audit(r->srv->store, "transfer_start", r->user.name, r->peer,
	            json_string_value(json_object_get(out, "name")));
	return req_reply(r, 201, out);
}

/* GET /v1/sessions/{ref}/transfers?all_users=0|1 -> {"transfers": [...]};
 * with an administrator's all_users, {ref} may be anyone's session id and
 * each transfer names its owner. */
tether_err api_transfer_list(struct req *r)
{
	struct session_rec s;
	struct user_rec owner;
	json_t *arr, *t;
	size_t i;
	bool all;
	if (api_all_users(r, &all) != TETHER_E_OK ||
	    api_load_session_any(r, &s, &owner) != TETHER_E_OK)
		return r->err;
	if (xfer_list(r->srv, &s, &arr) != TETHER_E_OK)
		return req_error(r, TETHER_E_INTERNAL, "cannot list the transfers");
	if (all)
		json_array_foreach(arr, i, t)
			json_object_set_new(t, "owner", json_string(owner.name));
	return req_reply(r, 200, json_pack("{s:o}", "transfers", arr));
}

/* GET /v1/sessions/{ref}/transfers/{job}?wait=S */
tether_err api_transfer_get(struct req *r)
{
	struct session_rec s;
	int64_t job, wait;
	json_t *out;
	if (load(r, &s, &job) != TETHER_E_OK ||
	    req_query_i64(r, "wait", 0, TRANSFER_WAIT_MAX, 0, &wait) != 0)
		return r->err;
	if (wait > 0)
		xfer_wait(r->srv, &s, job, (int)(wait * 1000));
	tether_err e = xfer_show(r->srv, &s, job, &out);
	if (e != TETHER_E_OK)
		return req_error(r, e, "cannot read the transfer");
	return req_reply(r, 200, out);
}

/* complete / suspend / resume / remove; all but complete take an
 * administrator's ?all_users=1 (anyone's session by id; the files are
 * handled as their owner, as always). */
static tether_err act(struct req *r, const char *action)
{
	struct session_rec s;
	struct user_rec owner;
	int64_t job;
	json_t *out;
	char why[512];
	if (load_as(r, &s, &owner, strcmp(action, "complete") != 0, &job) != TETHER_E_OK)
		return r->err;
	tether_err e = xfer_act(r->srv, &owner, &s, job, action, &out, why, sizeof why);
	if (e != TETHER_E_OK)
		return req_error(r, e, "%s", why);
	char ev[32];
	snprintf(ev, sizeof ev, "transfer_%s", action);
	store_audit(r->srv->store, ev, r->user.name, r->peer, r->params.v[1]);
	if (owner.id != r->user.id) {
		snprintf(ev, sizeof ev, "admin_transfer_%s", action);
		api_audit_admin(r, ev, &owner, &s, r->params.v[1]);
	}	return req_reply(r, 200, out);
}

tether_err api_transfer_complete(struct req *r) { return act(r, "complete"); }
tether_err api_transfer_suspend(struct req *r) { return act(r, "suspend"); }
tether_err api_transfer_resume(struct req *r) { return act(r, "resume"); }
tether_err api_transfer_remove(struct req *r) { return act(r, "remove"); }

/* PATCH /v1/sessions/{ref}/transfers/{job} {priority?, max_rate?, ...} */
tether_err api_transfer_set(struct req *r)
{
	struct session_rec s;
	int64_t job;
	json_t *out;
	char why[512];
	if (r->in == NULL)
		return req_error(r, TETHER_E_INVALID_ARGUMENT, "expected a JSON body");
	if (load(r, &s, &job) != TETHER_E_OK)
		return r->err;
	tether_err e = xfer_set(r->srv, &s, job, r->in, &out, why, sizeof why);
	if (e != TETHER_E_OK)
		return req_error(r, e, "%s", why);
	return req_reply(r, 200, out);
}
