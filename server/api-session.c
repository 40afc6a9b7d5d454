/*
 * api-session.c - session endpoints: create, list, get, remove.
 *
 * Every lookup is scoped to the authenticated user by the store, so another
 * user's session is indistinguishable from one that does not exist. The one
 * exception is an administrator's ?all_users=1 (docs/security.md): the list
 * names every owner's sessions, and the routes that take it address any
 * session by its numeric id.
 */
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "api.h"
#include "jobs.h"
#include "session.h"
#include "jsonu.h"
#include "joblog.h"
#include "log.h"
#include "outcap.h"
#include "strparse.h"
#include "timeu.h"

/* Add a job's held output to its session's figure in an object keyed by
 * session id (outcap_sessions' callback). */
static void add_held(void *ctx, int64_t session, int64_t bytes)
{
	char id[24];
	snprintf(id, sizeof id, "%lld", (long long)session);
	json_int_t now = json_integer_value(json_object_get(ctx, id));
	json_object_set_new(ctx, id, json_integer(now + bytes));
}

/* Output held for session s (bytes < 0) or bytes. */
static json_int_t held_of(struct req *r, const struct session_rec *s, int64_t bytes)
{
	if (bytes >= 0)
		return bytes;
	char id[24];
	json_t *held = json_object();
	outcap_sessions(r->srv, s->user_id, add_held, held);
	snprintf(id, sizeof id, "%lld", (long long)s->id);
	json_int_t n = json_integer_value(json_object_get(held, id));
	json_decref(held);
	return n;
}

/* The JSON form of a session (docs/cli.md "JSON fields"); bytes is the
 * output it holds, or -1 to find out. */
static json_t *session_json(struct req *r, const struct session_rec *s, const char *owner,
                            int64_t bytes)
{
	char created[TIMEU_RFC3339_LEN], active[TIMEU_RFC3339_LEN];
	timeu_rfc3339(s->created, created);
	timeu_rfc3339(s->last_activity, active);
	const char *state = proto_session_state_str(s->state);
	int a = s->busy ? AVAIL_BUSY : s->state == SESSION_OPENED ? AVAIL_AVAILABLE : AVAIL_NONE;
	const char *avail = proto_availability_str(a);
	const char *buffering = proto_buffering_str(s->output_buffering);
	return json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:s,s:I,s:[]}",
		"id", (json_int_t)s->id, "name", s->name, "host", r->srv->hostname,
		"owner", owner, "state", state ? state : "Broken",
		"availability", avail ? avail : "None", "created", created,
		"last_activity", active, "idle_timeout", (json_int_t)s->idle_timeout,
		"output_buffering", buffering ? buffering : "block",
		"output_bytes", held_of(r, s, bytes), "jobs");
}

/* Load the session named by the route's {ref}, or answer 404. */
tether_err api_load_session(struct req *r, struct session_rec *s)
{
	tether_err e = store_session_get(r->srv->store, r->user.id, r->params.v[0], s);
	if (e == TETHER_E_NOT_FOUND)
		return req_error(r, e, "no session '%s'", r->params.v[0]);
	if (e != TETHER_E_OK)
		return req_error(r, e, "cannot read the session");
	if (s->state == SESSION_OPENED && r->client_id[0] != '\0' &&
	    strcmp(s->client_id, r->client_id) == 0) {
		s->lease_expires = timeu_now() + r->srv->conf.keepalive;
		store_session_touch(r->srv->store, s->id, s->lease_expires, timeu_now());
	}
	return TETHER_E_OK;
}

/* Read ?all_users=0|1 into *all; 1 from anyone but an administrator is 403. */
tether_err api_all_users(struct req *r, bool *all)
{
	int64_t v;
	if (req_query_i64(r, "all_users", 0, 1, 0, &v) != 0)
		return r->err;
	if (v == 1 && !r->user.admin)
		return req_error(r, TETHER_E_FORBIDDEN,
		                 "--all-users needs an administrator account");
	*all = v == 1;
	return TETHER_E_OK;
}

/* Load {ref} as api_load_session does; with an administrator's ?all_users=1
 * a numeric ref is any user's session. owner gets the session's owner. */
tether_err api_load_session_any(struct req *r, struct session_rec *s,
                                struct user_rec *owner)
{
	bool all;
	if (api_all_users(r, &all) != TETHER_E_OK)
		return r->err;
	if (!all || !strparse_is_digits(r->params.v[0])) {
		*owner = r->user;
		return api_load_session(r, s);
	}
	uint64_t id;
	tether_err e = strparse_u64(r->params.v[0], 1, INT64_MAX, &id) == 0
		? store_session_by_id(r->srv->store, (int64_t)id, s) : TETHER_E_NOT_FOUND;
	if (e == TETHER_E_NOT_FOUND)
		return req_error(r, e, "no session '%s'", r->params.v[0]);
	if (e != TETHER_E_OK)
		return req_error(r, e, "cannot read the session");
	if (s->user_id == r->user.id) {
		*owner = r->user;
		return TETHER_E_OK;
	}
	e = store_user_by_id(r->srv->store, s->user_id, owner);
	if (e == TETHER_E_NOT_FOUND)
		return req_error(r, e, "no session '%s'", r->params.v[0]);
	return e == TETHER_E_OK ? e : req_error(r, e, "cannot read the session's owner");
}

/* Audit and log what an administrator did to another user's object: event,
 * the owner, the session and the object (a job's name). */
void api_audit_admin(struct req *r, const char *event, const struct user_rec *owner,
                     const struct session_rec *s, const char *object)
{
	char detail[BOUND_NAME * 3 + 64];
	snprintf(detail, sizeof detail, "owner=%s session=%lld/%s object=%s", owner->name,
	         (long long)s->id, s->name, object);
	store_audit(r->srv->store, event, r->user.name, r->peer, detail);
	struct logline l;
	log_begin(&l, LOG_INFO, event);
	log_str(&l, "admin", r->user.name);
	log_str(&l, "owner", owner->name);
	log_int(&l, "session", s->id);
	log_str(&l, "object", object);
	log_end(&l);
}

/* Require that this client holds the session (s may be updated). */
tether_err api_require_holder(struct req *r, struct session_rec *s)
{
	if (r->client_id[0] == '\0')
		return req_error(r, TETHER_E_BAD_REQUEST, "the %s header is required here",
		                 TETHER_HDR_CLIENT_ID);
	if (s->state == SESSION_DISCONNECTED && strcmp(s->client_id, r->client_id) == 0) {
		/* dropped for silence, not by choice: the same client just carries on */
		s->state = SESSION_OPENED;
		s->lease_expires = timeu_now() + r->srv->conf.keepalive;
		if (store_session_set_conn(r->srv->store, s->id, s->state, s->client_id,
		                           s->lease_expires) != TETHER_E_OK)
			return req_error(r, TETHER_E_INTERNAL, "cannot reconnect the session");
		return TETHER_E_OK;
	}
	if (s->state == SESSION_DISCONNECTED)
		return req_error(r, TETHER_E_CONFLICT, "session '%s' is disconnected; "
		                 "connect to it first", s->name);
	if (s->state != SESSION_OPENED || strcmp(s->client_id, r->client_id) != 0)
		return req_error(r, TETHER_E_CONFLICT, "session '%s' is in use by another "
		                 "client; disconnect it there, or connect with --force", s->name);
	return TETHER_E_OK;
}

/* POST /v1/sessions/{ref}/connect {"force"?}: take the session for this client. */
tether_err api_session_connect(struct req *r)
{
	struct session_rec s;
	char why[160];
	bool force = false;
	if (r->in != NULL &&
	    jsonu_get_bool(r->in, "force", false, &force, why, sizeof why) == JSONU_BAD)
		return req_error(r, TETHER_E_INVALID_ARGUMENT, "%s", why);
	if (r->client_id[0] == '\0')
		return req_error(r, TETHER_E_BAD_REQUEST, "the %s header is required here",
		                 TETHER_HDR_CLIENT_ID);
	if (api_load_session(r, &s) != TETHER_E_OK)
		return r->err;
	if (s.state == SESSION_OPENED && strcmp(s.client_id, r->client_id) != 0 && !force)
		return req_error(r, TETHER_E_CONFLICT, "session '%s' is in use by another "
		                 "client; disconnect it there, or connect with --force", s.name);
	s.state = SESSION_OPENED;
	s.lease_expires = timeu_now() + r->srv->conf.keepalive;
	memcpy(s.client_id, r->client_id, sizeof s.client_id);
	tether_err e = store_session_set_conn(r->srv->store, s.id, s.state, s.client_id,
	                                      s.lease_expires);
	if (e != TETHER_E_OK)
		return req_error(r, e, "cannot connect the session");
	store_audit(r->srv->store, force ? "session_connect_force" : "session_connect",
	            r->user.name, r->peer, s.name);
	return req_reply(r, 200, session_json(r, &s, r->user.name, -1));
}

/* POST /v1/sessions/{ref}/disconnect: leave everything running. */
tether_err api_session_disconnect(struct req *r)
{
	struct session_rec s;
	if (api_load_session(r, &s) != TETHER_E_OK)
		return r->err;
	if (s.state != SESSION_DISCONNECTED && api_require_holder(r, &s) != TETHER_E_OK)
		return r->err;
	/* an explicit disconnect also forgets a holder dropped for silence */
	tether_err e = store_session_set_conn(r->srv->store, s.id, SESSION_DISCONNECTED, "", 0);
	if (e != TETHER_E_OK)
		return req_error(r, e, "cannot disconnect the session");
	store_session_touch(r->srv->store, s.id, 0, timeu_now());
	s.state = SESSION_DISCONNECTED;
	s.client_id[0] = '\0';
	return req_reply(r, 200, session_json(r, &s, r->user.name, -1));
}

/* Collects sessions into a JSON array; owners maps user ids ("%lld") to
 * names for an all-users list, NULL for the user's own. */
struct list_ctx {
	struct req *r;
	json_t     *arr;
	json_t     *owners;
	json_t     *held;     /* output held per session id ("%lld") */
};

static void list_cb(void *ctx, const struct session_rec *s)
{
	struct list_ctx *c = ctx;
	const char *owner = c->r->user.name;
	char id[24];
	if (c->owners != NULL) {
		snprintf(id, sizeof id, "%lld", (long long)s->user_id);
		owner = json_string_value(json_object_get(c->owners, id));
	}
	snprintf(id, sizeof id, "%lld", (long long)s->id);
	int64_t held = json_integer_value(json_object_get(c->held, id));
	json_array_append_new(c->arr, session_json(c->r, s, owner ? owner : "", held));
}

/* Note one user's name under its id (store_user_cb). */
static void owner_cb(void *ctx, const struct user_rec *u)
{
	char id[24];
	snprintf(id, sizeof id, "%lld", (long long)u->id);
	json_object_set_new(ctx, id, json_string(u->name));
}

/* GET /v1/sessions?all_users=0|1 -> {"sessions": [...]}; all_users (an
 * administrator's) lists every user's, each naming its owner. */
tether_err api_session_list(struct req *r)
{
	bool all;
	if (api_all_users(r, &all) != TETHER_E_OK)
		return r->err;
	struct list_ctx c = { r, json_array(), all ? json_object() : NULL, json_object() };
	/* first: the store is locked while sessions are listed */
	outcap_sessions(r->srv, all ? -1 : r->user.id, add_held, c.held);
	tether_err e = all ? store_user_list(r->srv->store, owner_cb, c.owners) : TETHER_E_OK;
	if (e == TETHER_E_OK)
		e = all ? store_session_list_all(r->srv->store, list_cb, &c)
		        : store_session_list(r->srv->store, r->user.id, list_cb, &c);
	json_decref(c.owners);
	json_decref(c.held);
	if (e != TETHER_E_OK) {
		json_decref(c.arr);
		return req_error(r, e, "cannot list sessions");
	}
	return req_reply(r, 200, json_pack("{s:o}", "sessions", c.arr));
}

/* Read the optional "idle_timeout" and "output_buffering" of a create or
 * change request into s (whose values are the defaults). */
static tether_err session_options(struct req *r, struct session_rec *s)
{
	char why[160];
	const char *buffering = NULL;
	if (r->in != NULL &&
	    (jsonu_get_int(r->in, "idle_timeout", false, 1, TETHER_IDLE_TIMEOUT_MAX,
	                   &s->idle_timeout, why, sizeof why) == JSONU_BAD ||
	     jsonu_get_string(r->in, "output_buffering", false, 16, &buffering, why,
	                      sizeof why) == JSONU_BAD))
		return req_error(r, TETHER_E_INVALID_ARGUMENT, "%s", why);
	if (buffering != NULL) {
		int b = proto_buffering_parse(buffering);
		if (b < 0)
			return req_error(r, TETHER_E_INVALID_ARGUMENT,
			                 "output_buffering must be 'block' or 'drop'");
		s->output_buffering = b;
	}
	return TETHER_E_OK;
}

/* POST /v1/sessions {"name"?, "idle_timeout"?, "output_buffering"?} */
tether_err api_session_create(struct req *r)
{
	char why[160];
	const char *name = NULL;
	struct session_rec s;
	memset(&s, 0, sizeof s);
	s.idle_timeout = r->srv->conf.idle_timeout;
	s.output_buffering = BUFFERING_BLOCK;
	if (r->in != NULL &&
	    jsonu_get_string(r->in, "name", false, BOUND_NAME, &name, why, sizeof why) == JSONU_BAD)
		return req_error(r, TETHER_E_INVALID_ARGUMENT, "%s", why);
	if (session_options(r, &s) != TETHER_E_OK)
		return r->err;
	if (name != NULL && !addr_valid_name(name))
		return req_error(r, TETHER_E_INVALID_ARGUMENT,
		                 "invalid session name: use a letter, then letters, digits, "
		                 "'.', '_' or '-' (at most %u)", BOUND_NAME);
	s.user_id = r->user.id;
	if (name != NULL)
		memcpy(s.name, name, strlen(name) + 1);
	/* held by the creating client; made by nobody in particular, by nobody */
	s.state = r->client_id[0] ? SESSION_OPENED : SESSION_DISCONNECTED;
	s.availability = AVAIL_AVAILABLE;
	memcpy(s.client_id, r->client_id, sizeof s.client_id);
	s.created = s.last_activity = timeu_now();
	s.lease_expires = r->client_id[0] ? s.created + r->srv->conf.keepalive : 0;
	tether_err e = store_session_create(r->srv->store, &s,
	                                    r->srv->conf.max_sessions_per_user);
	if (e == TETHER_E_CONFLICT)
		return req_error(r, e, "you already have a session named '%s'", s.name);
	if (e == TETHER_E_LIMIT_EXCEEDED)
		return req_error(r, e, "session limit reached (%lld per user)",
		                 (long long)r->srv->conf.max_sessions_per_user);
	if (e != TETHER_E_OK)
		return req_error(r, e, "cannot create the session");
	store_audit(r->srv->store, "session_new", r->user.name, r->peer, s.name);
	return req_reply(r, 201, session_json(r, &s, r->user.name, -1));
}

/* GET /v1/sessions/{ref} */
tether_err api_session_get(struct req *r)
{
	struct session_rec s;
	if (api_load_session(r, &s) != TETHER_E_OK)
		return r->err;
	return req_reply(r, 200, session_json(r, &s, r->user.name, -1));
}

/* Tell a running job's supervisor the session's new buffering policy. */
static void note_buffering(void *ctx, const struct job_rec *j)
{
	if (j->state != JOB_RUNNING && j->state != JOB_BLOCKED)
		return;
	joblog_set_buffering(j->id, *(const int *)ctx);
}

/* PATCH /v1/sessions/{ref} {"idle_timeout"?, "output_buffering"?} -> session.
 * Running jobs follow a new buffering policy at once. */
tether_err api_session_set(struct req *r)
{
	struct session_rec s;
	if (api_load_session(r, &s) != TETHER_E_OK || session_options(r, &s) != TETHER_E_OK)
		return r->err;
	if (store_session_set_options(r->srv->store, s.id, s.idle_timeout,
	                              s.output_buffering) != TETHER_E_OK)
		return req_error(r, TETHER_E_INTERNAL, "cannot change the session");
	store_job_list_session(r->srv->store, s.id, note_buffering, &s.output_buffering);
	store_audit(r->srv->store, "session_set", r->user.name, r->peer, s.name);
	return req_reply(r, 200, session_json(r, &s, r->user.name, -1));
}

/* DELETE /v1/sessions/{ref} -> the removed session, state Closed. */
tether_err api_session_remove(struct req *r)
{
	struct session_rec s;
	if (api_load_session(r, &s) != TETHER_E_OK)
		return r->err;
	tether_err e = session_remove(r->srv, r->user.id, s.id);
	if (e == TETHER_E_NOT_FOUND)   /* removed concurrently */
		return req_error(r, e, "no session '%s'", r->params.v[0]);
	if (e != TETHER_E_OK)
		return req_error(r, e, "cannot remove the session");
	store_audit(r->srv->store, "session_remove", r->user.name, r->peer, s.name);
	s.state = SESSION_CLOSED;
	s.availability = AVAIL_NONE;
	return req_reply(r, 200, session_json(r, &s, r->user.name, -1));
}
