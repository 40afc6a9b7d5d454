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
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "buf.h"
#include "api.h"
#include "jobs.h"
#include "session.h"
#include "jsonu.h"
#include "joblog.h"
#include "log.h"
#include "outcap.h"
#include "strparse.h"
#include "timeu.h"

/* Output held per session: (session, bytes) pairs, sorted by session and
 * summed once collected (outcap_sessions calls back per job). */
struct held {
	struct held_one { int64_t session, bytes; } *v;
	size_t n, cap;
	bool   short_of_memory;
};

/* Room for element n of the array at *vp (a pointer to the array's
 * pointer; elements of sz bytes, *cap of them), grown by doubling; false
 * if memory ran out. */
static bool room_for(void *vp, size_t *cap, size_t n, size_t sz)
{
	void *v;
	if (n < *cap)
		return true;
	memcpy(&v, vp, sizeof v);
	size_t want = *cap ? *cap * 2 : 64;
	void *grown = realloc(v, want * sz);
	if (grown == NULL)
		return false;
	memcpy(vp, &grown, sizeof grown);
	*cap = want;
	return true;
}

static void add_held(void *ctx, int64_t session, int64_t bytes)
{
	struct held *h = ctx;
	if (!room_for(&h->v, &h->cap, h->n, sizeof *h->v)) {
		h->short_of_memory = true;
		return;
	}
	h->v[h->n++] = (struct held_one){ session, bytes };
}

static int by_session(const void *a, const void *b)
{
	int64_t x = ((const struct held_one *)a)->session, y = ((const struct held_one *)b)->session;
	return x < y ? -1 : x > y;
}

/* Collect the output held in user's sessions (-1: every user's). */
static void held_load(struct req *r, int64_t user, struct held *h)
{
	*h = (struct held){ NULL, 0, 0, false };
	outcap_sessions(r->srv, user, add_held, h);
	if (h->n > 1)
		qsort(h->v, h->n, sizeof *h->v, by_session);
	size_t k = 0;
	for (size_t i = 0; i < h->n; i++) {
		if (k > 0 && h->v[k - 1].session == h->v[i].session)
			h->v[k - 1].bytes += h->v[i].bytes;
		else
			h->v[k++] = h->v[i];
	}
	h->n = k;
}

static int64_t held_of(const struct held *h, int64_t session)
{
	struct held_one key = { session, 0 };
	const struct held_one *f = h->n ? bsearch(&key, h->v, h->n, sizeof *h->v, by_session)
	                                : NULL;
	return f ? f->bytes : 0;
}

/* The jobs that sessions' JSON lists, at most JOBS_LISTED per session
 * (the newest; `job list` has them all), sorted by session. */
#define JOBS_LISTED 100
struct briefs {
	struct job_brief *v;
	size_t            n, cap, in_session;   /* in_session: of the last one's */
	bool              short_of_memory;
};

static void add_brief(void *ctx, const struct job_brief *b)
{
	struct briefs *l = ctx;
	if (l->n > 0 && l->v[l->n - 1].session_id == b->session_id) {
		if (l->in_session >= JOBS_LISTED)
			return;
	} else {
		l->in_session = 0;
	}
	if (!room_for(&l->v, &l->cap, l->n, sizeof *l->v)) {
		l->short_of_memory = true;
		return;
	}
	l->v[l->n++] = *b;
	l->in_session++;
}

/* Load the briefs of user's sessions (-1: everyone's), or of one session. */
static void briefs_load(struct req *r, int64_t user, int64_t session, struct briefs *l)
{
	*l = (struct briefs){ NULL, 0, 0, 0, false };
	if (store_job_briefs(r->srv->store, user, session, add_brief, l) != TETHER_E_OK)
		l->short_of_memory = true;   /* never a session shown without its jobs */
}

/* Append session's jobs as a JSON array to b. */
static int briefs_write(struct buf *b, const struct briefs *l, int64_t session)
{
	size_t lo = 0, hi = l->n;
	while (lo < hi) {   /* the first of session's */
		size_t mid = lo + (hi - lo) / 2;
		if (l->v[mid].session_id < session)
			lo = mid + 1;
		else
			hi = mid;
	}
	int rc = buf_puts(b, "[");
	for (size_t i = lo; i < l->n && l->v[i].session_id == session; i++) {
		const struct job_brief *j = &l->v[i];
		const char *st = j->xstate[0] != '\0' ? j->xstate
		               : proto_job_state_str(api_job_visible_state(j->id, j->state));
		const char *type = proto_job_type_str(j->type);
		rc |= buf_puts(b, i > lo ? ",{\"id\":" : "{\"id\":") | jsonu_write_int(b, j->id) |
		      buf_puts(b, ",\"name\":") | jsonu_write_string(b, j->name) |
		      buf_puts(b, ",\"type\":") | jsonu_write_string(b, type ? type : "background") |
		      buf_puts(b, ",\"state\":") | jsonu_write_string(b, st ? st : "Failed") |
		      buf_puts(b, "}");
	}
	return rc | buf_puts(b, "]");
}

/* A session's JSON fields (docs/cli.md "JSON fields"), in their order;
 * ?fields= on a list picks some of them. */
enum {
	F_ID, F_NAME, F_HOST, F_OWNER, F_STATE, F_AVAILABILITY, F_CREATED, F_LAST_ACTIVITY,
	F_IDLE_TIMEOUT, F_OUTPUT_BUFFERING, F_OUTPUT_BYTES, F_JOBS, F_COUNT
};
static const char *const field_names[F_COUNT] = {
	"id", "name", "host", "owner", "state", "availability", "created", "last_activity",
	"idle_timeout", "output_buffering", "output_bytes", "jobs",
};
#define FIELDS_ALL ((1u << F_COUNT) - 1)

/* Append the JSON form of a session to b, with the fields in mask (the
 * output it holds being held); -1 if b is full. The one writer of a
 * session's JSON: lists of thousands are written straight from the rows. */
static int session_write(struct buf *b, const char *host, const struct session_rec *s,
                         const char *owner, int64_t held, const struct briefs *jobs,
                         unsigned mask)
{
	char when[TIMEU_RFC3339_LEN];
	int rc = buf_puts(b, "{");
	bool first = true;
	for (unsigned f = 0; f < F_COUNT; f++) {
		if ((mask & (1u << f)) == 0)
			continue;
		rc |= buf_puts(b, first ? "\"" : ",\"") | buf_puts(b, field_names[f]) |
		      buf_puts(b, "\":");
		first = false;
		const char *str = NULL;
		switch (f) {
		case F_ID:           rc |= jsonu_write_int(b, s->id); break;
		case F_NAME:         str = s->name; break;
		case F_HOST:         str = host; break;
		case F_OWNER:        str = owner; break;
		case F_STATE:
			str = proto_session_state_str(s->state);
			str = str ? str : "Broken";
			break;
		case F_AVAILABILITY:
			str = proto_availability_str(s->busy ? AVAIL_BUSY : s->state == SESSION_OPENED
			                             ? AVAIL_AVAILABLE : AVAIL_NONE);
			str = str ? str : "None";
			break;
		case F_CREATED:
		case F_LAST_ACTIVITY:
			timeu_rfc3339(f == F_CREATED ? s->created : s->last_activity, when);
			str = when;
			break;
		case F_IDLE_TIMEOUT: rc |= jsonu_write_int(b, s->idle_timeout); break;
		case F_OUTPUT_BUFFERING:
			str = proto_buffering_str(s->output_buffering);
			str = str ? str : "block";
			break;
		case F_OUTPUT_BYTES: rc |= jsonu_write_int(b, held); break;
		case F_JOBS:         rc |= briefs_write(b, jobs, s->id); break;
		}
		if (str != NULL)
			rc |= jsonu_write_string(b, str);
	}
	return rc | buf_puts(b, "}");
}

/* ?fields=a,b,...: the fields a list's sessions carry (all without it);
 * 0, or -1 with a 400 recorded for a name that is not a field. */
static int fields_query(struct req *r, unsigned *mask)
{
	char q[256];
	*mask = FIELDS_ALL;
	int got = req_query_str(r, "fields", q, sizeof q);
	if (got <= 0)
		return got;
	*mask = 0;
	for (char *save = NULL, *f = strtok_r(q, ",", &save); f != NULL;
	     f = strtok_r(NULL, ",", &save)) {
		unsigned i = 0;
		while (i < F_COUNT && strcmp(f, field_names[i]) != 0)
			i++;
		if (i == F_COUNT) {
			req_error(r, TETHER_E_INVALID_ARGUMENT, "unknown session field '%s' in "
			          "'fields' (id, name, host, owner, state, availability, created, "
			          "last_activity, idle_timeout, output_buffering, output_bytes, jobs)",
			          f);
			return -1;
		}
		*mask |= 1u << i;
	}
	if (*mask == 0) {
		req_error(r, TETHER_E_INVALID_ARGUMENT, "'fields' names no field");
		return -1;
	}
	return 0;
}

#define SESSION_JSON_MAX (4u * BOUND_NAME + 1024u)   /* one session's, escapes included */

/* Answer with one of the caller's sessions. */
static tether_err session_reply(struct req *r, int status, const struct session_rec *s)
{
	struct held h;
	struct briefs jobs;
	struct buf b;
	held_load(r, s->user_id, &h);
	briefs_load(r, s->user_id, s->id, &jobs);
	buf_init(&b, SESSION_JSON_MAX + JOBS_LISTED * (BOUND_NAME * 6 + 128));
	int rc = jobs.short_of_memory ? -1
	       : session_write(&b, r->srv->hostname, s, r->user.name, held_of(&h, s->id), &jobs,
	                       FIELDS_ALL);
	free(h.v);
	free(jobs.v);
	if (rc != 0) {
		buf_free(&b);
		return req_error(r, TETHER_E_INTERNAL, "cannot write the session");
	}
	r->raw_type = "application/json";
	return req_reply_raw(r, status, &b);
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
	bool all = false;   /* set by api_all_users; gcc -O3 cannot tell */
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
	return session_reply(r, 200, &s);
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
	return session_reply(r, 200, &s);
}

/* Writes sessions into a reply; owners names each one's owner for an
 * all-users list (NULL: the caller's own). */
struct list_ctx {
	struct req  *r;
	struct buf   b;
	struct owner { int64_t id; char name[BOUND_NAME + 1]; } *owners;
	size_t       nowners, capowners;
	struct held  held;
	unsigned     fields;     /* which fields (FIELDS_ALL: all) */
	struct briefs jobs;      /* with the field jobs */
	size_t       n;          /* sessions written */
	int64_t      last;       /* the last one's id */
	bool         full;       /* the reply outgrew its bound, or memory ran out */
};

static int by_owner(const void *a, const void *b)
{
	int64_t x = ((const struct owner *)a)->id, y = ((const struct owner *)b)->id;
	return x < y ? -1 : x > y;
}

static void list_cb(void *ctx, const struct session_rec *s)
{
	struct list_ctx *c = ctx;
	const char *owner = c->r->user.name;
	if (c->owners != NULL) {
		struct owner key = { .id = s->user_id };
		const struct owner *o = bsearch(&key, c->owners, c->nowners, sizeof key, by_owner);
		owner = o ? o->name : "";
	}
	if (c->full || (c->n > 0 && buf_puts(&c->b, ",") != 0) ||
	    session_write(&c->b, c->r->srv->hostname, s, owner, held_of(&c->held, s->id),
	                  &c->jobs, c->fields) != 0) {
		c->full = true;
		return;
	}
	c->n++;
	c->last = s->id;
}

/* Note one user's name under its id (store_user_cb; ids come in order). */
static void owner_cb(void *ctx, const struct user_rec *u)
{
	struct list_ctx *c = ctx;
	if (!room_for(&c->owners, &c->capowners, c->nowners, sizeof *c->owners)) {
		c->full = true;
		return;
	}
	struct owner *o = &c->owners[c->nowners++];
	o->id = u->id;
	snprintf(o->name, sizeof o->name, "%s", u->name);
}

#define SESSION_PAGE_MAX 100000   /* ?limit= at most */
#define SESSION_LIST_MAX ((size_t)1 << 30)   /* a reply's bytes, whatever the count */

/* GET /v1/sessions?all_users=0|1&limit=N&after=ID -> {"sessions": [...]}
 * (with "next": ID when a limit cut the list short); all_users (an
 * administrator's) lists every user's, each naming its owner. Written
 * straight from the rows: no JSON tree per session. */
tether_err api_session_list(struct req *r)
{
	bool all = false;   /* as above */
	int64_t limit, after;
	if (api_all_users(r, &all) != TETHER_E_OK ||
	    req_query_i64(r, "limit", 1, SESSION_PAGE_MAX, -1, &limit) != 0 ||
	    req_query_i64(r, "after", 0, INT64_MAX, 0, &after) != 0)
		return r->err;
	struct list_ctx c = { .r = r };
	if (fields_query(r, &c.fields) != 0)
		return r->err;
	buf_init(&c.b, SESSION_LIST_MAX);
	/* first: the store is locked while sessions are listed (and only if
	 * the reply says how much output each holds) */
	if ((c.fields & (1u << F_OUTPUT_BYTES)) != 0)
		held_load(r, all ? -1 : r->user.id, &c.held);
	if ((c.fields & (1u << F_JOBS)) != 0)
		briefs_load(r, all ? -1 : r->user.id, 0, &c.jobs);
	tether_err e = TETHER_E_OK;
	if (all && (c.fields & (1u << F_OWNER)) != 0) {
		e = store_user_list(r->srv->store, owner_cb, &c);
		if (c.owners == NULL)
			c.owners = malloc(sizeof *c.owners);   /* no users: none to name */
		if (c.owners == NULL)
			c.full = true;   /* out of memory: never a list without its owners */
		if (c.nowners > 1)
			qsort(c.owners, c.nowners, sizeof *c.owners, by_owner);
	}
	if (buf_puts(&c.b, "{\"sessions\":[") != 0)
		c.full = true;
	if (e == TETHER_E_OK && !c.full)
		e = store_session_page(r->srv->store, all ? -1 : r->user.id, after, limit, list_cb,
		                       &c);
	if (e == TETHER_E_OK && !c.full && buf_puts(&c.b, "]") == 0 &&
	    (limit < 0 || c.n < (size_t)limit ||
	     (buf_puts(&c.b, ",\"next\":") == 0 && jsonu_write_int(&c.b, c.last) == 0)) &&
	    buf_puts(&c.b, "}") != 0)
		c.full = true;
	free(c.owners);
	free(c.held.v);
	free(c.jobs.v);
	if (e == TETHER_E_OK && (c.full || c.held.short_of_memory || c.jobs.short_of_memory))
		e = TETHER_E_INTERNAL;
	if (e != TETHER_E_OK) {
		buf_free(&c.b);
		return req_error(r, e, "cannot list sessions");
	}
	r->raw_type = "application/json";
	return req_reply_raw(r, 200, &c.b);
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
	const char *cmd = NULL;
	bool keep_state = true;
	int64_t wait = 0;
	if (r->in != NULL &&
	    (jsonu_get_string(r->in, "name", false, BOUND_NAME, &name, why, sizeof why) == JSONU_BAD ||
	     jsonu_get_string(r->in, "command", false, BOUND_BODY_COMMAND, &cmd, why,
	                      sizeof why) == JSONU_BAD ||
	     jsonu_get_bool(r->in, "keep_state", false, &keep_state, why, sizeof why) == JSONU_BAD))
		return req_error(r, TETHER_E_INVALID_ARGUMENT, "%s", why);
	if (session_options(r, &s) != TETHER_E_OK)
		return r->err;
	/* with a command: the session and an invoke in it, in one exchange */
	if (cmd != NULL && r->client_id[0] == '\0')
		return req_error(r, TETHER_E_INVALID_ARGUMENT, "a session made with a command "
		                 "needs the client's X-Tether-Client id (it runs the command)");
	if (cmd != NULL && api_start_query(r, &wait) != TETHER_E_OK)
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
	if (cmd == NULL)
		return session_reply(r, 201, &s);
	char num[32];
	snprintf(num, sizeof num, "%lld", (long long)s.id);
	req_header(r, "X-Tether-Session", num);
	e = api_start_in(r, &s, JOB_TYPE_INVOKE, cmd, NULL, keep_state ? JOBS_SAVE_STATE : 0,
	                 wait);
	if (e != TETHER_E_OK && session_remove(r->srv, r->user.id, s.id) == TETHER_E_OK)
		store_audit(r->srv->store, "session_remove", r->user.name, r->peer, s.name);
	return e;
}

/* GET /v1/sessions/{ref} */
tether_err api_session_get(struct req *r)
{
	struct session_rec s;
	if (api_load_session(r, &s) != TETHER_E_OK)
		return r->err;
	return session_reply(r, 200, &s);
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
	return session_reply(r, 200, &s);
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
	return session_reply(r, 200, &s);
}
