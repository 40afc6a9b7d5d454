/*
 * api-job.c - invoke, job status, output streaming, stop, and receive.
 *
 * Output is served as raw output-log records (application/octet-stream)
 * from a byte offset, with the cursor and the job's state in X-Tether-*
 * headers; the reader may ask to wait for more. Asking for output from
 * offset N acknowledges everything before N, which is what moves the
 * delivered cursor: a reader that dies before acknowledging gets those bytes
 * again from the next reader, so nothing is lost in flight.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "api.h"
#include "jobs.h"
#include "jsonu.h"
#include "joblog.h"
#include "outcap.h"
#include "outlog.h"
#include "session.h"
#include "timeu.h"
#include "xfer.h"

#define OUTPUT_WAIT_MAX 60           /* seconds a reader may wait */

int api_job_visible_state(int64_t job, int state)
{
	return state == JOB_RUNNING && joblog_blocked(job) ? JOB_BLOCKED : state;
}

static int visible_state(const struct job_rec *j)
{
	return api_job_visible_state(j->id, j->state);
}

/* The JSON form of a job (docs/cli.md "JSON fields"). */
json_t *api_job_json(struct req *r, const struct session_rec *s,
                     const struct job_rec *j)
{
	char started[TIMEU_RFC3339_LEN], ended[TIMEU_RFC3339_LEN];
	timeu_rfc3339(j->started, started);
	timeu_rfc3339(j->ended, ended);
	json_t *o = json_pack("{s:I,s:s,s:s,s:s,s:b,s:s,s:s,s:s,s:s,s:[]}",
		"id", (json_int_t)j->id, "name", j->name, "type", proto_job_type_str(j->type),
		"state", proto_job_state_str(visible_state(j)),
		"has_more_data", joblog_has_more(j->id, j->delivered), "location", r->srv->hostname,
		"command", j->command ? j->command : "", "started", started,
		"session", s->name, "children");
	json_object_set_new(o, "exit_code", j->exit_code >= 0 ? json_integer(j->exit_code)
	                                                    : json_null());
	json_object_set_new(o, "ended", j->ended ? json_string(ended) : json_null());
	if (j->term_signal)
		json_object_set_new(o, "signal", json_integer(j->term_signal));
	if (j->error[0])
		json_object_set_new(o, "error", json_string(j->error));
	return o;
}

/* A transfer job's state is its transfer's (Queued ... Transferred, Error;
 * docs/cli.md "States"): the job row only says it exists. o is a job
 * object of session s from api_job_json; the transfer is settled first. */
static void transfer_state(struct req *r, const struct session_rec *s, json_t *o)
{
	json_t *t = NULL;
	const char *type = json_string_value(json_object_get(o, "type"));
	if (type == NULL || strcmp(type, proto_job_type_str(JOB_TYPE_TRANSFER)) != 0 ||
	    xfer_show(r->srv, s, json_integer_value(json_object_get(o, "id")), &t) != TETHER_E_OK)
		return;
	json_object_set(o, "state", json_object_get(t, "state"));
	json_object_set(o, "ended", json_object_get(t, "completed"));
	json_decref(t);
}

/* Load the job named by route parameter 1 in session s (settled if ended). */
tether_err api_load_job(struct req *r, const struct session_rec *s, struct job_rec *j)
{
	tether_err e = store_job_get(r->srv->store, s->id, r->params.v[1], j);
	if (e == TETHER_E_NOT_FOUND)
		return req_error(r, e, "no job '%s' in session '%s'", r->params.v[1], s->name);
	if (e != TETHER_E_OK)
		return req_error(r, e, "cannot read the job");
	if ((j->state == JOB_RUNNING || j->state == JOB_BLOCKED) && jobs_settle(r->srv, j)) {
		job_rec_clear(j);
		e = store_job_by_id(r->srv->store, j->id, j);
		if (e != TETHER_E_OK)
			return req_error(r, e, "cannot read the job");
	}
	return TETHER_E_OK;
}

/* Answer with j's output from ?offset (default: what was delivered),
 * waiting up to ?wait seconds for some, ?keep leaving it undelivered: the
 * output records as the body, the X-Tether-* headers saying where it ends
 * and how the job is. Consumes j. */
static tether_err send_output(struct req *r, struct session_rec *s, struct job_rec *j,
                              int status);

/* Start a command in the session: an invoke (exclusive, saves the session
 * state back) or a background job (runs beside others from a snapshot). */
static tether_err start_job(struct req *r, enum job_type type)
{
	bool exclusive = type == JOB_TYPE_INVOKE;
	struct session_rec s;
	const char *cmd = NULL, *name = NULL;
	bool keep_state = true, with_stdin = false;
	char why[200];
	if (r->in == NULL ||
	    jsonu_get_string(r->in, "command", true, BOUND_BODY_COMMAND, &cmd, why,
	                     sizeof why) != JSONU_OK ||
	    jsonu_get_string(r->in, "name", false, BOUND_NAME, &name, why,
	                     sizeof why) == JSONU_BAD ||
	    jsonu_get_bool(r->in, "keep_state", false, &keep_state, why, sizeof why) == JSONU_BAD ||
	    jsonu_get_bool(r->in, "stdin", false, &with_stdin, why, sizeof why) == JSONU_BAD)
		return req_error(r, TETHER_E_INVALID_ARGUMENT, "%s",
		                 r->in ? why : "expected a JSON body with a command");
	if (name != NULL && (exclusive || !addr_valid_name(name)))
		return req_error(r, TETHER_E_INVALID_ARGUMENT, exclusive
		                 ? "an invoke takes no name" : "invalid job name: use a letter, "
		                 "then letters, digits, '.', '_' or '-'");
	int64_t wait;
	if (api_load_session(r, &s) != TETHER_E_OK || api_require_holder(r, &s) != TETHER_E_OK ||
	    api_start_query(r, &wait) != TETHER_E_OK)
		return r->err;
	unsigned flags = (exclusive && keep_state ? JOBS_SAVE_STATE : 0) |
	                 (with_stdin ? JOBS_STDIN : 0);
	return api_start_in(r, &s, type, cmd, name, flags, wait);
}

tether_err api_start_query(struct req *r, int64_t *wait)
{
	int64_t remove, max;   /* send_output's, checked before anything starts */
	if (req_query_i64(r, "wait", 0, OUTPUT_WAIT_MAX, 0, wait) != 0 ||
	    req_query_i64(r, "remove", 0, 1, 0, &remove) != 0 ||
	    req_query_i64(r, "max", JOBLOG_CHUNK, JOBLOG_CHUNK_BIG, JOBLOG_CHUNK_BIG, &max) != 0)
		return r->err;
	return TETHER_E_OK;
}

tether_err api_start_in(struct req *r, struct session_rec *sp, enum job_type type,
                        const char *cmd, const char *name, unsigned flags, int64_t wait)
{
	bool exclusive = type == JOB_TYPE_INVOKE;
	struct session_rec s = *sp;
	struct job_rec j;
	if (api_create_job(r, &s, type, cmd, name, NULL, flags, &j) != TETHER_E_OK)
		return r->err;
	if (!exclusive || wait == 0)
		return req_reply(r, 201, api_job_json(r, &s, &j));
	/* invoke?wait=N: the start and the first output in one exchange (the
	 * reply is then the output's, with the job's id in X-Tether-Job) */
	char num[32];
	int64_t id = j.id;
	if (store_job_by_id(r->srv->store, id, &j) != TETHER_E_OK)
		return req_error(r, TETHER_E_INTERNAL, "cannot read the job back");
	snprintf(num, sizeof num, "%lld", (long long)id);
	req_header(r, "X-Tether-Job", num);
	return send_output(r, &s, &j, 201);
}

/* Record and start a job in s: exclusive types (invoke, shell) refuse a
 * busy session; pty makes it an interactive shell; flags as jobs_start's.
 * j gets the job (its command points at cmd). */
tether_err api_create_job(struct req *r, struct session_rec *s, enum job_type type,
                          const char *cmd, const char *name, const struct jobs_pty *pty,
                          unsigned flags, struct job_rec *j)
{
	char why[200];
	bool exclusive = type != JOB_TYPE_BACKGROUND;   /* invoke, shell */
	memset(j, 0, sizeof *j);
	j->session_id = s->id;
	j->type = type;
	if (name != NULL)
		snprintf(j->name, sizeof j->name, "%s", name);
	j->state = JOB_RUNNING;
	j->command = (char *)cmd;
	j->exit_code = -1;
	j->started = timeu_now();
	tether_err e = store_job_create(r->srv->store, j, exclusive);
	if (e == TETHER_E_CONFLICT && exclusive)
		return req_error(r, e, "session '%s' is busy: a command is already running "
		                 "in it", s->name);
	if (e == TETHER_E_CONFLICT)
		return req_error(r, e, "session '%s' already has a job named '%s'", s->name, name);
	if (e != TETHER_E_OK)
		return req_error(r, e, "cannot record the job");
	e = jobs_start(r->srv, &r->user, s, j, flags, pty, why, sizeof why);
	if (e != TETHER_E_OK)
		return req_error(r, e, "%s", why);
	s->busy = s->busy || exclusive;
	return TETHER_E_OK;
}

/* POST /v1/sessions/{ref}/invoke {"command"} -> 201 job */
tether_err api_invoke(struct req *r)
{
	return start_job(r, JOB_TYPE_INVOKE);
}

/* POST /v1/sessions/{ref}/jobs {"command", "name"?} -> 201 job */
tether_err api_job_start(struct req *r)
{
	return start_job(r, JOB_TYPE_BACKGROUND);
}

/* Collects job objects (the store is locked: no store calls in here);
 * owner, if not NULL, is named in each (an all-users list). */
struct jobs_ctx {
	struct req               *r;
	const struct session_rec *s;
	json_t                   *arr;
	const char               *owner;
};

static void list_cb(void *ctx, const struct job_rec *j)
{
	struct jobs_ctx *c = ctx;
	json_t *o = api_job_json(c->r, c->s, j);
	if (c->owner != NULL)
		json_object_set_new(o, "owner", json_string(c->owner));
	json_array_append_new(c->arr, o);
}

/* GET /v1/sessions/{ref}/jobs?all_users=0|1 -> {"jobs": [...]}; with an
 * administrator's all_users, {ref} may be anyone's session id and each job
 * names its owner. */
tether_err api_job_list(struct req *r)
{
	struct session_rec s;
	struct user_rec owner;
	bool all;
	if (api_all_users(r, &all) != TETHER_E_OK ||
	    api_load_session_any(r, &s, &owner) != TETHER_E_OK)
		return r->err;
	jobs_settle_all(r->srv);   /* so states are current */
	struct jobs_ctx c = { r, &s, json_array(), all ? owner.name : NULL };
	tether_err e = store_job_list_session(r->srv->store, s.id, list_cb, &c);
	if (e != TETHER_E_OK) {
		json_decref(c.arr);
		return req_error(r, e, "cannot list jobs");
	}
	size_t i;
	json_t *o;
	json_array_foreach(c.arr, i, o)
		transfer_state(r, &s, o);   /* the store is free again here */
	return req_reply(r, 200, json_pack("{s:o}", "jobs", c.arr));
}

/* Transfer jobs have their own verbs (their files need cancelling). */
static tether_err refuse_transfer(struct req *r, struct job_rec *j, const char *verb)
{
	if (j->type != JOB_TYPE_TRANSFER)
		return TETHER_E_OK;
	req_error(r, TETHER_E_CONFLICT, "job '%s' is a transfer: use tether transfer %s",
	          j->name, verb);
	job_rec_clear(j);
	return r->err;
}

/* DELETE /v1/sessions/{ref}/jobs/{job}?force=0|1&all_users=0|1 -> the
 * removed job (all_users: an administrator's, in anyone's session by id) */
tether_err api_job_remove(struct req *r)
{
	struct session_rec s;
	struct user_rec owner;
	struct job_rec j;
	int64_t force;
	if (req_query_i64(r, "force", 0, 1, 0, &force) != 0)
		return r->err;
	if (api_load_session_any(r, &s, &owner) != TETHER_E_OK ||
	    api_load_job(r, &s, &j) != TETHER_E_OK ||
	    refuse_transfer(r, &j, "remove") != TETHER_E_OK)
		return r->err;
	tether_err e = TETHER_E_OK;
	if (j.state == JOB_RUNNING || j.state == JOB_BLOCKED) {
		if (!force) {
			e = req_error(r, TETHER_E_CONFLICT, "job '%s' is running; stop it first, "
			              "or remove it with --force", j.name);
			goto out;
		}
		jobs_stop(r->srv, &j, (int)r->srv->conf.stop_grace * 1000);
	}
	e = jobs_remove(r->srv, j.id);
	if (e != TETHER_E_OK) {
		req_error(r, e, "cannot remove the job");
		goto out;
	}
	store_audit(r->srv->store, "job_remove", r->user.name, r->peer, j.name);
	if (owner.id != r->user.id)
		api_audit_admin(r, "admin_job_remove", &owner, &s, j.name);
	req_reply(r, 200, api_job_json(r, &s, &j));
out:
	job_rec_clear(&j);
	return e;
}

/* GET /v1/sessions/{ref}/jobs/{job} */
tether_err api_job_get(struct req *r)
{
	struct session_rec s;
	struct job_rec j;
	if (api_load_session(r, &s) != TETHER_E_OK || api_load_job(r, &s, &j) != TETHER_E_OK)
		return r->err;
	json_t *o = api_job_json(r, &s, &j);
	transfer_state(r, &s, o);
	req_reply(r, 200, o);
	job_rec_clear(&j);
	return TETHER_E_OK;
}

/* Acknowledge j's output up to offset (a record boundary; size is the
 * log's): the delivered cursor moves and the output before it is released
 * (a shell keeps a tail for its replay). A finished invoke or background
 * job whose output has all been delivered loses its directory; its record
 * (state, exit code) stays (docs/jobs.md, "Output caps"). */
static void acknowledge(struct req *r, const struct job_rec *j, int64_t offset, int64_t size)
{
	bool ended = j->state != JOB_RUNNING && j->state != JOB_BLOCKED;
	store_job_set_delivered(r->srv->store, j->id, offset);
	joblog_deliver(j->id, offset, j->type == JOB_TYPE_SHELL ? JOBLOG_REPLAY_KEEP : 0);
	if (ended && offset >= size &&
	    (j->type == JOB_TYPE_INVOKE || j->type == JOB_TYPE_BACKGROUND))
		jobs_discard_spool(j->id);
	outcap_received(r->srv, r->user.id, j->id, ended);
}

/* Acknowledge offset before waiting for more, if it provably ends a run of
 * whole records after the delivered cursor (it is usually the end of what
 * the last reply carried). */
static void ack_early(struct req *r, const struct job_rec *j, int64_t offset)
{
	if (joblog_whole(j->id, j->delivered, offset))
		acknowledge(r, j, offset, INT64_MAX);
}

/* GET .../jobs/{job}/output?offset=N&wait=S&keep=0|1 -> raw records */
/* Is the client of an output request for a shell still the session's
 * holder? (A shell's output goes to the one attached terminal: one taken
 * over with `enter --force` ends the other's stream.) */
static bool still_holder(void *ctx)
{
	struct req *r = ctx;
	struct session_rec s;
	/* a holder dropped for silence (Disconnected, same client) is still it */
	return store_session_get(r->srv->store, r->user.id, r->params.v[0], &s) == TETHER_E_OK &&
	       strcmp(s.client_id, r->client_id) == 0;
}

tether_err api_job_output(struct req *r)
{
	struct session_rec s;
	struct job_rec j;
	if (api_load_session(r, &s) != TETHER_E_OK || api_load_job(r, &s, &j) != TETHER_E_OK)
		return r->err;
	return send_output(r, &s, &j, 200);
}

static tether_err send_output(struct req *r, struct session_rec *sp, struct job_rec *jp,
                              int status)
{
	struct session_rec s = *sp;
	struct job_rec j = *jp;
	int64_t offset, wait, keep, remove, max;
	char why[120], num[32];
	tether_err e = TETHER_E_OK;
	bool shell = j.type == JOB_TYPE_SHELL;
	if (shell && (j.state == JOB_RUNNING || j.state == JOB_BLOCKED) && !still_holder(r)) {
		e = req_error(r, TETHER_E_CONFLICT, "session '%s' was taken over by another client "
		              "(enter --force); this terminal is detached", s.name);
		goto out;
	}
	if (req_query_i64(r, "offset", 0, INT64_MAX, j.delivered, &offset) != 0 ||
	    req_query_i64(r, "wait", 0, OUTPUT_WAIT_MAX, 0, &wait) != 0 ||
	    req_query_i64(r, "keep", 0, 1, 0, &keep) != 0 ||
	    req_query_i64(r, "remove", 0, 1, 0, &remove) != 0 ||
	    req_query_i64(r, "max", JOBLOG_CHUNK, JOBLOG_CHUNK_BIG, JOBLOG_CHUNK_BIG, &max) != 0) {
		e = r->err;
		goto out;
	}
	/* a finished job's cleaned directory: all of it was delivered */
	int64_t size = joblog_size(j.id);
	if (size < j.delivered)
		size = j.delivered;
	if (offset > size) {
		e = req_error(r, TETHER_E_INVALID_ARGUMENT, "offset %lld is past the end of the "
		              "output (%lld bytes)", (long long)offset, (long long)size);
		goto out;
	}
	bool running = j.state == JOB_RUNNING || j.state == JOB_BLOCKED;
	if (running && offset == size && wait > 0) {
		if (!keep && offset > j.delivered && visible_state(&j) == JOB_BLOCKED)
			ack_early(r, &j, offset);   /* or the supervisor waits on us */
		jobs_wait_output(r->srv, j.id, offset, (int)(wait * 1000),
		                 shell ? still_holder : NULL, r);
		if (shell && !still_holder(r)) {
			e = req_error(r, TETHER_E_CONFLICT, "session '%s' was taken over by another "
			              "client (enter --force); this terminal is detached", s.name);
			goto out;
		}
		if (jobs_settle(r->srv, &j)) {
			job_rec_clear(&j);
			if (store_job_by_id(r->srv->store, j.id, &j) != TETHER_E_OK) {
				e = req_error(r, TETHER_E_INTERNAL, "cannot read the job");
				goto out;
			}
		}
		running = j.state == JOB_RUNNING || j.state == JOB_BLOCKED;
		size = joblog_size(j.id);   /* after the state: a settled job's log is whole */
		if (size < j.delivered)
			size = j.delivered;
	}
	struct buf data;
	int64_t next;
	size_t lent;
	int rc = joblog_read(j.id, offset, size, max, &data, &next, &lent, why, sizeof why);
	if (rc != 0) {
		buf_free(&data);
		joblog_reply_done((void *)(uintptr_t)lent);
		e = req_error(r, rc < 0 ? TETHER_E_INTERNAL : TETHER_E_INVALID_ARGUMENT, "%s", why);
		goto out;
	}
	if (!keep && offset > j.delivered)
		acknowledge(r, &j, offset, size);   /* once the offset proved a boundary */
	/* an ended invoke or job that wrote nothing has nothing to lose: it
	 * is delivered now, and the client need not acknowledge it */
	bool delivered = !keep && !running && size == 0 && j.delivered == 0 &&
	                 (j.type == JOB_TYPE_INVOKE || j.type == JOB_TYPE_BACKGROUND);
	if (delivered)
		acknowledge(r, &j, 0, 0);
	snprintf(num, sizeof num, "%lld", (long long)next);
	req_header(r, "X-Tether-Next", num);
	snprintf(num, sizeof num, "%lld", (long long)size);
	req_header(r, "X-Tether-Size", num);
	req_header(r, "X-Tether-State", proto_job_state_str(visible_state(&j)));
	if (!running && j.exit_code >= 0) {
		snprintf(num, sizeof num, "%d", j.exit_code);
		req_header(r, "X-Tether-Exit-Code", num);
	}
	if (j.term_signal) {
		snprintf(num, sizeof num, "%d", j.term_signal);
		req_header(r, "X-Tether-Signal", num);
	}
	req_header(r, "X-Tether-Done", !running && next >= size ? "1" : "0");
	if (delivered)
		req_header(r, "X-Tether-Delivered", "1");
	if (j.error[0] != '\0')
		req_header(r, "X-Tether-Error", "1");   /* the job object says what */
	/* ?remove=1: a temporary session goes with the reply that ends its
	 * command's output, as DELETE would (the output is in data already);
	 * one request less per host of invoke -H. Not if the client has gone
	 * while the request was held: an interrupted client reads the output
	 * again, from the session */
	if (remove && !running && next >= size && j.error[0] == '\0' && !req_client_gone(r) &&
	    session_remove(r->srv, r->user.id, s.id) == TETHER_E_OK) {
		store_audit(r->srv->store, "session_remove", r->user.name, r->peer, s.name);
		req_header(r, "X-Tether-Removed", "1");
	}
	if (lent > 0)   /* what the reply took from the shared pool comes back when sent */
		req_reply_raw_then(r, status, &data, joblog_reply_done, (void *)(uintptr_t)lent);
	else
		req_reply_raw(r, status, &data);
out:
	job_rec_clear(&j);
	return e;
}

/* POST .../jobs/{job}/stop?all_users=0|1 {"signal"?: "INT"|"TERM"|"KILL"|
 * "HUP"|"QUIT"} (all_users: an administrator's, in anyone's session by id) */
tether_err api_job_stop(struct req *r)
{
	static const struct { const char *name; int sig; } sigs[] = {
		{ "INT", SIGINT }, { "TERM", SIGTERM }, { "KILL", SIGKILL },
		{ "HUP", SIGHUP }, { "QUIT", SIGQUIT },
	};
	struct session_rec s;
	struct user_rec owner;
	struct job_rec j;
	const char *name = "TERM";
	char why[160];
	if (r->in != NULL &&
	    jsonu_get_string(r->in, "signal", false, 8, &name, why, sizeof why) == JSONU_BAD)
		return req_error(r, TETHER_E_INVALID_ARGUMENT, "%s", why);
	int sig = 0;
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		if (strcmp(name, sigs[i].name) == 0)
			sig = sigs[i].sig;
	if (sig == 0)
		return req_error(r, TETHER_E_INVALID_ARGUMENT,
		                 "signal must be INT, TERM, KILL, HUP or QUIT");
	if (api_load_session_any(r, &s, &owner) != TETHER_E_OK ||
	    api_load_job(r, &s, &j) != TETHER_E_OK ||
	    refuse_transfer(r, &j, "suspend or remove") != TETHER_E_OK)
		return r->err;
	if (j.state == JOB_RUNNING || j.state == JOB_BLOCKED) {
		if (sig == SIGTERM) {
			jobs_stop(r->srv, &j, (int)r->srv->conf.stop_grace * 1000);
		} else {
			store_job_set_stop(r->srv->store, j.id);
			jobs_signal(r->srv, j.id, sig);
		}
		job_rec_clear(&j);
		if (api_load_job(r, &s, &j) != TETHER_E_OK)
			return r->err;
	}
	store_audit(r->srv->store, "job_stop", r->user.name, r->peer, name);
	if (owner.id != r->user.id)
		api_audit_admin(r, "admin_job_stop", &owner, &s, j.name);
	req_reply(r, 200, api_job_json(r, &s, &j));
	job_rec_clear(&j);
	return TETHER_E_OK;
}

/* POST /v1/sessions/{ref}/receive: connect if needed; the latest command. */
tether_err api_session_receive(struct req *r)
{
	struct session_rec s;
	struct job_rec j;
	if (api_load_session(r, &s) != TETHER_E_OK)
		return r->err;
	if (r->client_id[0] == '\0')
		return req_error(r, TETHER_E_BAD_REQUEST, "the %s header is required here",
		                 TETHER_HDR_CLIENT_ID);
	if (s.state == SESSION_DISCONNECTED) {
		s.state = SESSION_OPENED;
		s.lease_expires = timeu_now() + r->srv->conf.keepalive;
		memcpy(s.client_id, r->client_id, sizeof s.client_id);
		if (store_session_set_conn(r->srv->store, s.id, s.state, s.client_id,
		                           s.lease_expires) != TETHER_E_OK)
			return req_error(r, TETHER_E_INTERNAL, "cannot connect the session");
	} else if (api_require_holder(r, &s) != TETHER_E_OK) {
		return r->err;
	}
	json_t *out = json_object();
	tether_err e = store_job_latest(r->srv->store, s.id, &j);
	if (e == TETHER_E_OK) {
		if (j.state == JOB_RUNNING || j.state == JOB_BLOCKED) {
			jobs_settle(r->srv, &j);
			job_rec_clear(&j);
			store_job_by_id(r->srv->store, j.id, &j);
		}
		json_object_set_new(out, "job", api_job_json(r, &s, &j));
		json_object_set_new(out, "offset", json_integer(j.delivered));
		job_rec_clear(&j);
	} else if (e == TETHER_E_NOT_FOUND) {
		json_object_set_new(out, "job", json_null());
	} else {
		json_decref(out);
		return req_error(r, e, "cannot read the session's jobs");
	}
	return req_reply(r, 200, out);
}
