/*
 * fleet.c - one verb on many hosts, from one thread (docs/fleet.md).
 *
 * Each host in flight has a slot: an easy handle on a shared multi handle
 * (so connections and TLS sessions are reused between a host's requests)
 * and a small state machine that turns each reply into the next request:
 * create a temporary session, invoke, read output by long polls, remove.
 * The requests are the ones the single-host calls make (request_prepare),
 * so a fleet and one host never disagree about the protocol. A host ends
 * with a result, never with the fleet: a failure, a refusal or a timeout is
 * that host's, and the slot passes to the next waiting host.
 *
 * With stdin (an invoke's), every host's command gets the same bytes: one
 * piece of stdin at a time is held, and each host posts it to its job's
 * input from a second easy handle of its slot, beside its output polls.
 * The next piece is read only once every live host has taken this one, so
 * the slowest reader paces the others and memory stays one piece; a host
 * that ends, fails or times out stops counting. With more hosts than
 * --throttle, hosts that start later need stdin from its beginning: it is
 * then copied as it comes into an unlinked 0600 spool file, and each host
 * is posted what it has not taken from there. Each post names the stdin
 * offset it starts at, so a post cut with its connection is posted again
 * and the server skips what it has (docs/fleet.md, "stdin").
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "crypto.h"
#include "client-int.h"
#include "fileio.h"
#include "jsonu.h"
#include "login-int.h"
#include "outlog.h"
#include "proto.h"
#include "timeu.h"

#define FLEET_THROTTLE_DEFAULT 32
#define FLEET_THROTTLE_MAX     4096
#define FLEET_POLL_WAIT        20    /* seconds the server may hold an output request */
#define FLEET_CLEANUP_TIMEOUT  10L   /* seconds for a stop or a removal after a failure */
#define FLEET_FD_SPARE         32    /* descriptors beyond one per host in flight */
/* A host still connecting (TCP and TLS) after FLEET_STALL_FACTOR times the
 * slowest handshake of the fleet so far, bounded to FLEET_STALL_MIN_MS ..
 * FLEET_STALL_MAX_MS (the minimum before any handshake), stops counting
 * against --throttle: a dead or hanging host then costs its own timeout and
 * not the others' time. Up to FLEET_STALL_ROOM such hosts (or --throttle,
 * if more) wait for their timeouts beside the throttle's hosts. */
#define FLEET_STALL_MIN_MS     250
#define FLEET_STALL_MAX_MS     1000
#define FLEET_STALL_FACTOR     4
#define FLEET_STALL_ROOM       256
#define FLEET_INPUT_PAUSE_MS   20    /* before posting again what a command has not
                                      * read yet */
#define FLEET_INPUT_CUTS       5     /* cut input posts in a row that end a host */

enum step {
	ST_CREATE,     /* POST /sessions (temporary or named) */
	ST_START,      /* POST invoke / jobs */
	ST_RECEIVE,    /* POST receive */
	ST_OUTPUT,     /* GET output, long poll */
	ST_ACK,        /* GET output at the end: acknowledge it all */
	ST_CALL,       /* the one request of a session verb */
	ST_STOP,       /* POST stop after a timeout or an interrupt */
	ST_CLEANUP,    /* DELETE the temporary session */
	ST_LOGIN,      /* the requests of a login (login-int.h) */
	ST_DONE,
};

struct slot {
	size_t            host;      /* index into the fleet */
	CURL             *h;
	bool              busy;      /* a request is on the multi handle */
	struct target     t;
	struct request    r;
	struct reply_info ri;
	enum step         step;
	char              ref[BOUND_NAME + 24];   /* session name or id */
	bool              temporary; /* ours to remove at the end */
	int64_t           job, offset;
	int64_t           deadline;  /* monotonic ms, 0: none */
	int64_t           began;     /* monotonic ms the host began */
	bool              connected; /* a TLS session with the host was made */
	bool              cut;       /* timed out or interrupted: winding down */
	struct login_run  login;     /* ST_LOGIN */
	CURL             *in_h;      /* stdin posts, beside the output polls */
	bool              in_busy;   /* a post is on the multi handle */
	bool              in_closed; /* no more stdin for this host (or none at all) */
	struct request    in_r;
	int64_t           in_off;    /* stdin bytes the host's command has taken */
	int64_t           in_at;     /* monotonic ms: no post before (a pause) */
	int               in_cuts;   /* cut posts in a row */
};

/* The piece of stdin every live host is given, and where it starts; or,
 * spooled, all of stdin read so far. */
struct fleet_input {
	int      fd;       /* stdin, or -1: none */
	int      spool;    /* stdin as read so far (more hosts than --throttle), or -1 */
	uint8_t *buf;      /* CLIENT_STDIN_SMALL bytes */
	size_t   len;
	int64_t  base;     /* buf[0]'s offset in stdin; spooled: 0, len unused */
	int64_t  spooled;  /* bytes in the spool */
	bool     end;      /* stdin has ended: each host's input is closed next */
	char    *enc;      /* scratch for a post's base64 */
};

/* The end of the stdin read so far. */
static int64_t input_held(const struct fleet_input *in)
{
	return in->spool >= 0 ? in->spooled : in->base + (int64_t)in->len;
}

/* An unlinked 0600 file for stdin, in $TMPDIR or /tmp. */
static int spool_open(void)
{
	const char *dir = getenv("TMPDIR");
	char path[BOUND_PATH];
	if (dir == NULL || dir[0] != '/')
		dir = "/tmp";
	int fd = open(dir, O_TMPFILE | O_RDWR | O_EXCL | O_CLOEXEC, 0600);
	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
		return fd;
	if (snprintf(path, sizeof path, "%s/tether-stdin.XXXXXX", dir) >= (int)sizeof path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = mkostemp(path, O_CLOEXEC);   /* a file system without O_TMPFILE */
	if (fd >= 0)
		unlink(path);
	return fd;
}

struct fleet {
	tether_client                 *c;
	const char *const             *hosts;
	const struct tether_fleet_req *req;
	const struct tether_fleet_io  *io;
	struct tether_fleet_result    *res;
	CURLM                         *multi;
	struct slot                   *slots;
	size_t                         nslots;    /* throttle + room for stalled hosts */
	size_t                         throttle;
	int64_t                        slowest_tls;   /* ms, slowest handshake so far */
	bool                           interrupted;
	bool                           added;   /* a request went on since the last perform */
	struct key_offers             *offers;  /* LOGIN: the keys, gathered once */
	struct fleet_input             in;
};

static void slot_next(struct fleet *f, struct slot *s);
static void input_close(struct fleet *f, struct slot *s);
static void note_connected(struct fleet *f, struct slot *s);

/* Wall-clock milliseconds. */
static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Monotonic milliseconds. */
static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Make room under RLIMIT_NOFILE for the throttle's connections (each
 * per_host descriptors), raising the soft limit if need be, and for as
 * many of *nslots as fit: *nslots is lowered to what fits, never below
 * throttle. */
static tether_err check_fds(tether_client *c, size_t throttle, size_t per_host,
                            size_t *nslots)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)(throttle * per_host) + FLEET_FD_SPARE;
	rlim_t want = (rlim_t)(*nslots * per_host) + FLEET_FD_SPARE;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
		return TETHER_E_OK;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need)
		return client_fail(c, TETHER_E_USAGE, "--throttle %zu needs %llu open files but "
		                   "the hard limit is %llu (ulimit -Hn); use a smaller --throttle",
		                   throttle, (unsigned long long)need,
		                   (unsigned long long)rl.rlim_max);
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want) {
		want = rl.rlim_max;
		*nslots = (size_t)(want - FLEET_FD_SPARE) / per_host;
	}
	rl.rlim_cur = want;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		return client_fail(c, TETHER_E_IO, "cannot raise the open file limit to %llu",
		                   (unsigned long long)want);
	return TETHER_E_OK;
}

/* End a host: its result is final and its slot free for the next. */
static void slot_end(struct fleet *f, struct slot *s)
{
	struct tether_fleet_result *r = &f->res[s->host];
	input_close(f, s);
	s->step = ST_DONE;
	r->state = TETHER_FLEET_DONE;
	r->ended_ms = wall_ms();
	crypto_wipe(s->t.token, sizeof s->t.token);
	login_run_clear(&s->login);
	if (f->io != NULL && f->io->done != NULL)
		f->io->done(f->io->ctx, s->host);
}

/* Record a host's failure (the first one counts) from c's last error. */
static void slot_fail(struct fleet *f, struct slot *s, tether_err e)
{
	struct tether_fleet_result *r = &f->res[s->host];
	if (r->err != TETHER_E_OK)
		return;
	r->err = e;
	snprintf(r->code, sizeof r->code, "%s",
	         f->c->errcode[0] ? f->c->errcode : tether_err_code(e));
	snprintf(r->message, sizeof r->message, "%s",
	         f->c->errmsg[0] ? f->c->errmsg : tether_strerror(e));
}

/* Put METHOD path to target t on the multi handle for s. */
static void slot_send_on(struct fleet *f, struct slot *s, struct target *t, const char *method,
                         const char *path, json_t *body)
{
	tether_err e = request_prepare(f->c, s->h, t, method, path, body, &s->r, &s->ri);
	json_decref(body);
	if (e != TETHER_E_OK) {
		request_release(s->h, &s->r);
		slot_fail(f, s, e);
		slot_end(f, s);
		return;
	}
	if (f->req->connect_timeout > 0)
		curl_easy_setopt(s->h, CURLOPT_CONNECTTIMEOUT, f->req->connect_timeout);
	if (s->cut)   /* winding down: a stop or removal gets a short leash */
		curl_easy_setopt(s->h, CURLOPT_TIMEOUT, FLEET_CLEANUP_TIMEOUT);
	curl_easy_setopt(s->h, CURLOPT_PRIVATE, (void *)s);
	curl_multi_add_handle(f->multi, s->h);
	s->busy = true;
	f->added = true;
}

/* Put METHOD path on the multi handle for s. */
static void slot_send(struct fleet *f, struct slot *s, const char *method, const char *path,
                      json_t *body)
{
	slot_send_on(f, s, &s->t, method, path, body);
}

/* Take s's request off the multi handle without finishing it. */
static void slot_abort(struct fleet *f, struct slot *s)
{
	if (!s->busy)
		return;
	curl_multi_remove_handle(f->multi, s->h);
	request_release(s->h, &s->r);
	s->busy = false;
}

/* "/v1/sessions/REF" followed by sub. */
static void session_path(char *out, size_t outsz, const struct slot *s, const char *sub)
{
	snprintf(out, outsz, "%s/sessions/%s%s", TETHER_API_PREFIX, s->ref, sub);
}

/* The body of the create call for session new / a temporary session. */
static json_t *create_body(const struct tether_fleet_req *q)
{
	json_t *b = json_object();
	if (q->verb == TETHER_FLEET_SESSION_NEW) {
		if (q->session != NULL)
			json_object_set_new(b, "name", json_string(q->session));
		if (q->idle_timeout > 0)
			json_object_set_new(b, "idle_timeout", json_integer(q->idle_timeout));
		if (q->buffering != NULL)
			json_object_set_new(b, "output_buffering", json_string(q->buffering));
	}
	return b;
}

/* The request of a one-call session verb. */
static void send_call(struct fleet *f, struct slot *s)
{
	char path[BOUND_URL];
	switch (f->req->verb) {
	case TETHER_FLEET_SESSION_REMOVE:
		session_path(path, sizeof path, s, "");
		slot_send(f, s, "DELETE", path, NULL);
		break;
	case TETHER_FLEET_SESSION_CONNECT:
		session_path(path, sizeof path, s, "/connect");
		slot_send(f, s, "POST", path, json_pack("{s:b}", "force", f->req->force));
		break;
	case TETHER_FLEET_SESSION_DISCONNECT:
		session_path(path, sizeof path, s, "/disconnect");
		slot_send(f, s, "POST", path, NULL);
		break;
	case TETHER_FLEET_SESSION_LIST:
		slot_send(f, s, "GET", TETHER_API_PREFIX "/sessions", NULL);
		break;
	default:
		slot_send(f, s, "POST", TETHER_API_PREFIX "/sessions", create_body(f->req));
		break;
	}
}

/* How long the server may hold s's next request for output. */
static long output_wait(const struct slot *s)
{
	long wait = FLEET_POLL_WAIT;
	if (s->deadline > 0) {
		int64_t left = (s->deadline - mono_ms()) / 1000;
		wait = left < 1 ? 1 : left < wait ? (long)left : wait;
	}
	return wait;
}

/* Does s's invoke start return its first output (invoke?wait)? Only in
 * a temporary session: a timeout or an interrupt that comes before the
 * answer (and the job's id) is then handled by removing the session,
 * which stops the command. */
static bool start_streams(const struct fleet *f, const struct slot *s)
{
	/* not with stdin: a command reading it answers nothing until fed */
	return f->req->verb == TETHER_FLEET_INVOKE && s->temporary && f->in.fd < 0;
}

/* Is s's temporary session made with its command in one exchange (POST
 * /v1/sessions with "command", ?wait and ?remove)? Not with stdin (see
 * start_streams). */
static bool create_runs(const struct fleet *f)
{
	return f->req->verb == TETHER_FLEET_INVOKE && f->req->session == NULL && f->in.fd < 0;
}

/* The create of a temporary session that runs the command too (see
 * client_run_request). */
static void send_create_run(struct fleet *f, struct slot *s)
{
	char path[BOUND_URL];
	json_t *body = client_run_request(f->c, f->req->command, output_wait(s), true, s->ref,
	                                  path, sizeof path);
	if (body == NULL) {
		slot_fail(f, s, TETHER_E_IO);
		slot_end(f, s);
		return;
	}
	s->temporary = true;
	slot_send(f, s, "POST", path, body);
}

/* The first request of the invoke or job start. */
static void send_start(struct fleet *f, struct slot *s)
{
	char path[BOUND_URL], sub[48];
	json_t *b = json_pack("{s:s}", "command", f->req->command);
	if (s->temporary)   /* removed next: nothing to save (an older tetherd ignores it) */
		json_object_set_new(b, "keep_state", json_false());
	if (f->in.fd >= 0 && f->req->verb == TETHER_FLEET_INVOKE)
		json_object_set_new(b, "stdin", json_true());
	if (f->req->verb == TETHER_FLEET_JOB_START) {
		if (f->req->job_name != NULL)
			json_object_set_new(b, "name", json_string(f->req->job_name));
		session_path(path, sizeof path, s, "/jobs");
	} else if (start_streams(f, s)) {
		/* remove=1: the reply that ends the output removes the session */
		snprintf(sub, sizeof sub, "/invoke?wait=%ld&remove=1&max=1048576", output_wait(s));
		session_path(path, sizeof path, s, sub);
	} else {
		session_path(path, sizeof path, s, "/invoke");
	}
	slot_send(f, s, "POST", path, b);
}

/* The next long poll for output (or, ack, the final acknowledgement). */
static void send_output(struct fleet *f, struct slot *s, bool ack)
{
	char path[BOUND_URL], sub[120];
	long wait = output_wait(s);
	if (ack)
		snprintf(sub, sizeof sub, "/jobs/%lld/output?offset=%lld", (long long)s->job,
		         (long long)s->offset);
	else
		/* max: 1 MiB a reply, as many hosts' replies are held at once */
		snprintf(sub, sizeof sub, "/jobs/%lld/output?offset=%lld&wait=%ld&keep=0&max=1048576%s",
		         (long long)s->job, (long long)s->offset, wait,
		         s->temporary ? "&remove=1" : "");
	session_path(path, sizeof path, s, sub);
	slot_send(f, s, "GET", path, NULL);
}

/* outlog_parse callback: hand a record to the caller. */
static int deliver(void *ctx, int stream, const uint8_t *data, size_t len)
{
	struct fleet *f = ((void **)ctx)[0];
	struct slot *s = ((void **)ctx)[1];
	if (f->io == NULL || f->io->write == NULL)
		return 0;
	return f->io->write(f->io->ctx, s->host, stream, data, len) == 0 ? 0 : 1;
}

/* Take an output reply: pass the records on, note the end. */
static tether_err took_output(struct fleet *f, struct slot *s, const struct buf *raw)
{
	void *ctx[2] = { f, s };
	if (s->ri.next < s->offset)
		return client_fail(f->c, TETHER_E_PROTOCOL, "server went backwards in the output");
	if (raw->len > 0 && outlog_parse((const uint8_t *)raw->data, raw->len, deliver, ctx) < 0)
		return client_fail(f->c, TETHER_E_IO, "cannot write the output");
	s->offset = s->ri.next;
	if (s->ri.done)
		f->res[s->host].exit_code = s->ri.signal ? 128 + s->ri.signal
		                            : s->ri.exit_code >= 0 ? s->ri.exit_code : 255;
	return TETHER_E_OK;
}

/* Keep a verb's reply object, with "host" as this client addresses it. */
static void keep_object(struct fleet *f, struct slot *s, json_t *reply)
{
	json_t *o = reply;
	if (f->req->verb == TETHER_FLEET_SESSION_LIST)
		o = json_incref(json_object_get(reply, "sessions"));
	else
		json_incref(o);
	json_decref(reply);
	size_t i;
	json_t *v;
	if (json_is_array(o))
		json_array_foreach(o, i, v)
			json_object_set_new(v, "host", json_string(s->t.key));
	else if (json_is_object(o) && json_object_get(o, "host") != NULL)
		json_object_set_new(o, "host", json_string(s->t.key));
	json_decref(f->res[s->host].object);
	f->res[s->host].object = o;
}

/* The next request of s's login, or its end: the token saved and the
 * login's description kept as the host's object. */
static void send_login(struct fleet *f, struct slot *s)
{
	const char *method, *path;
	json_t *body;
	struct target *t;
	tether_err e;
	if (s->login.step == LOGIN_DONE) {
		json_t *info = NULL;
		if ((e = login_finish(f->c, &s->login, &info)) != TETHER_E_OK)
			slot_fail(f, s, e);
		f->res[s->host].object = info;
		slot_end(f, s);
		return;
	}
	e = login_request(f->c, &s->login, f->offers, f->req->login, &method, &path, &body, &t);
	if (e != TETHER_E_OK) {
		slot_fail(f, s, e);
		slot_end(f, s);
		return;
	}
	slot_send_on(f, s, t, method, path, json_incref(body));
	login_body_done(body);
}


/* A temporary session's command has ended and its output is all here:
 * removed already by that reply (?remove=1), or to be removed now (a
 * tetherd older than remove=1 ignores it). */
static enum step ended_step(struct slot *s)
{
	if (!s->ri.removed)
		return ST_CLEANUP;
	s->temporary = false;
	return ST_DONE;
}

/* A reply that started the command and carries its first output (the job
 * in X-Tether-Job): take it, and go on to the rest or to the end. */
static tether_err took_first(struct fleet *f, struct slot *s, const struct buf *raw)
{
	s->job = s->ri.job;
	s->offset = 0;
	tether_err e = took_output(f, s, raw);
	if (e == TETHER_E_OK)
		s->step = s->ri.done ? ended_step(s) : ST_OUTPUT;
	return e;
}

/* What follows a reply in step s->step; e: the reply's judgement. */
static void slot_reply(struct fleet *f, struct slot *s, tether_err e, json_t *reply,
                       const struct buf *raw)
{
	switch (s->step) {
	case ST_CREATE:
		if (create_runs(f)) {
			if (e != TETHER_E_OK) {
				/* refused: nothing was made, or it was removed again;
				 * without an answer it is removed by name, in case,
				 * if the request went out at all */
				s->temporary = f->c->last_status < 400 && request_sent(s->h);
			} else if (s->ri.job > 0) {   /* made, and the first output came */
				e = took_first(f, s, raw);
			} else {   /* a tetherd that ignores "command": the session alone */
				char why[120];
				json_t *j = jsonu_parse_object(raw->data ? raw->data : "", raw->len, why,
				                               sizeof why);
				if (json_integer_value(json_object_get(j, "id")) <= 0)
					e = client_fail(f->c, TETHER_E_PROTOCOL, "session reply without an id");
				json_decref(j);
				s->step = ST_START;
			}
		} else if (e == TETHER_E_OK && f->req->verb == TETHER_FLEET_INVOKE) {
			int64_t id = json_integer_value(json_object_get(reply, "id"));
			snprintf(s->ref, sizeof s->ref, "%lld", (long long)id);
			s->temporary = id > 0;
			if (!s->temporary)
				e = client_fail(f->c, TETHER_E_PROTOCOL, "session reply without an id");
			s->step = ST_START;
		} else if (e == TETHER_E_OK) {
			keep_object(f, s, json_incref(reply));
			s->step = ST_DONE;
		}
		break;
	case ST_START:
		if (e == TETHER_E_OK && start_streams(f, s) && s->ri.job > 0) {
			e = took_first(f, s, raw);   /* the first output came too */
		} else if (e == TETHER_E_OK && start_streams(f, s)) {
			/* a tetherd before invoke?wait: the job alone */
			char why[120];
			json_t *j = jsonu_parse_object(raw->data ? raw->data : "", raw->len, why,
			                               sizeof why);
			s->job = json_integer_value(json_object_get(j, "id"));
			s->offset = 0;
			json_decref(j);
			if (s->job <= 0)
				e = client_fail(f->c, TETHER_E_PROTOCOL, "invoke reply without a job id");
			else
				s->step = ST_OUTPUT;
		} else if (e == TETHER_E_OK) {
			s->job = json_integer_value(json_object_get(reply, "id"));
			if (f->req->verb == TETHER_FLEET_JOB_START) {
				keep_object(f, s, json_incref(reply));
				s->step = ST_DONE;
			} else if (s->job <= 0) {
				e = client_fail(f->c, TETHER_E_PROTOCOL, "invoke reply without a job id");
			} else {
				s->offset = 0;
				s->step = ST_OUTPUT;
			}
		}
		break;
	case ST_RECEIVE:
		if (e == TETHER_E_OK) {
			json_t *j = json_object_get(reply, "job");
			s->job = json_integer_value(json_object_get(j, "id"));
			s->offset = json_integer_value(json_object_get(reply, "offset"));
			s->step = s->job > 0 ? ST_OUTPUT : ST_DONE;   /* nothing has run */
			if (s->job <= 0)
				f->res[s->host].exit_code = 0;
		}
		break;
	case ST_OUTPUT:
		if (e == TETHER_E_OK)
			e = took_output(f, s, raw);
		if (e == TETHER_E_OK && s->ri.done)
			s->step = s->temporary ? ended_step(s) : ST_ACK;
		break;
	case ST_ACK:
	case ST_STOP:
		e = TETHER_E_OK;   /* best effort */
		s->step = s->temporary ? ST_CLEANUP : ST_DONE;
		break;
	case ST_CALL:
		if (e == TETHER_E_OK)
			keep_object(f, s, json_incref(reply));
		s->step = ST_DONE;
		break;
	case ST_CLEANUP:
		if (e != TETHER_E_OK && !s->cut)
			slot_fail(f, s, e);
		s->temporary = false;
		s->step = ST_DONE;
		return;
	case ST_LOGIN:
		e = login_reply(f->c, &s->login, f->offers, f->req->login, e, reply);
		break;
	case ST_DONE:
		return;
	}
	if (e != TETHER_E_OK) {
		slot_fail(f, s, e);
		s->step = s->temporary ? ST_CLEANUP : ST_DONE;
	}
}

/* Issue the request of s's step, or end the host. */
static void slot_next(struct fleet *f, struct slot *s)
{
	char path[BOUND_URL];
	switch (s->step) {
	case ST_CREATE:
		if (create_runs(f))
			send_create_run(f, s);
		else
			slot_send(f, s, "POST", TETHER_API_PREFIX "/sessions", create_body(f->req));
		break;
	case ST_START:   send_start(f, s); break;
	case ST_RECEIVE: session_path(path, sizeof path, s, "/receive");
	                 slot_send(f, s, "POST", path, NULL); break;
	case ST_OUTPUT:  send_output(f, s, false); break;
	case ST_ACK:     send_output(f, s, true); break;
	case ST_CALL:    send_call(f, s); break;
	case ST_STOP: {
		char sub[64];
		snprintf(sub, sizeof sub, "/jobs/%lld/stop", (long long)s->job);
		session_path(path, sizeof path, s, sub);
		slot_send(f, s, "POST", path, json_pack("{s:s}", "signal", "TERM"));
		break;
	}
	case ST_CLEANUP: session_path(path, sizeof path, s, "");
	                 slot_send(f, s, "DELETE", path, NULL); break;
	case ST_LOGIN:   send_login(f, s); break;
	case ST_DONE:    slot_end(f, s); break;
	}
}

/* The first step of the request's verb. */
static enum step first_step(const struct tether_fleet_req *q)
{
	switch (q->verb) {
	case TETHER_FLEET_INVOKE:      return q->session == NULL ? ST_CREATE : ST_START;
	case TETHER_FLEET_JOB_START:   return ST_START;
	case TETHER_FLEET_RECEIVE:     return ST_RECEIVE;
	case TETHER_FLEET_SESSION_NEW: return ST_CREATE;
	case TETHER_FLEET_LOGIN:       return ST_LOGIN;
	default:                       return ST_CALL;
	}
}

/* Give slot s to host i and send its first request. */
static void slot_begin(struct fleet *f, struct slot *s, size_t i)
{
	struct tether_fleet_result *r = &f->res[i];
	s->host = i;
	s->busy = s->temporary = s->cut = s->connected = false;
	s->began = mono_ms();
	s->job = s->offset = 0;
	s->ref[0] = '\0';
	s->in_closed = f->in.fd < 0 || f->req->verb != TETHER_FLEET_INVOKE;
	s->in_off = s->in_at = 0;
	s->in_cuts = 0;
	r->state = TETHER_FLEET_RUNNING;
	r->started_ms = wall_ms();
	s->deadline = f->req->timeout > 0 ? mono_ms() + f->req->timeout * 1000 : 0;
	if (f->req->session != NULL)
		snprintf(s->ref, sizeof s->ref, "%s", f->req->session);
	s->step = first_step(f->req);
	/* a slot's handles are made when first used: most of the room for
	 * stalled hosts never is */
	if ((s->h == NULL && (s->h = curl_easy_init()) == NULL) ||
	    (f->in.fd >= 0 && s->in_h == NULL && (s->in_h = curl_easy_init()) == NULL)) {
		client_fail(f->c, TETHER_E_NOMEM, "out of memory");
		slot_fail(f, s, TETHER_E_NOMEM);
		slot_end(f, s);
		return;
	}
	tether_err e = s->step == ST_LOGIN
	             ? login_begin(f->c, f->hosts[i], f->req->login, &s->login)
	             : client_target(f->c, f->hosts[i], &s->t);
	if (e != TETHER_E_OK) {
		slot_fail(f, s, e);
		slot_end(f, s);
		return;
	}
	slot_next(f, s);
}

/* True while s's host is still working on the verb itself (not winding
 * down after it ended). */
static bool cuttable(const struct slot *s)
{
	return !s->cut && (s->step == ST_CREATE || s->step == ST_START ||
	                   s->step == ST_RECEIVE || s->step == ST_OUTPUT || s->step == ST_CALL ||
	                   s->step == ST_LOGIN);
}

/* A timeout or an interrupt: stop the command if it runs, remove what is
 * temporary, and report why. */
static void slot_cut(struct fleet *f, struct slot *s, tether_err why)
{
	if (!cuttable(s))
		return;
	if (s->step == ST_CREATE && s->temporary && !request_sent(s->h))
		s->temporary = false;   /* still connecting: nothing was made */
	slot_abort(f, s);
	s->cut = true;
	if (why == TETHER_E_TIMED_OUT)
		client_fail(f->c, why, "timed out after %ld s", f->req->timeout);
	else if (why == TETHER_E_INTERRUPTED)
		client_fail(f->c, why, "interrupted");
	/* else the caller has said why (client_fail) */
	slot_fail(f, s, why);
	bool running = s->job > 0 && (s->step == ST_OUTPUT || s->step == ST_START);
	s->step = running && !s->temporary ? ST_STOP : s->temporary ? ST_CLEANUP : ST_DONE;
	slot_next(f, s);
}

/* A request of s has finished on the multi handle. */
static void slot_finished(struct fleet *f, struct slot *s, CURLcode rc)
{
	json_t *reply = NULL;
	struct buf raw;
	bool want_raw = s->step == ST_OUTPUT || s->step == ST_ACK ||
	                (s->step == ST_START && start_streams(f, s)) ||
	                (s->step == ST_CREATE && create_runs(f));
	buf_init(&raw, 0);
	/* an answer, or a failure: either way not connecting */
	if (rc == CURLE_OK)
		note_connected(f, s);
	s->connected = true;
	curl_multi_remove_handle(f->multi, s->h);
	s->busy = false;
	tether_err e = request_finish(f->c, s->h, &s->r, rc, want_raw ? NULL : &reply,
	                              want_raw ? &raw : NULL);
	request_release(s->h, &s->r);
	if (e == TETHER_E_INTERRUPTED && !s->cut) {   /* Ctrl-C: wind the fleet down */
		f->interrupted = true;
		*f->c->interrupt = 0;
		slot_cut(f, s, TETHER_E_INTERRUPTED);
	} else {
		slot_reply(f, s, e, reply, &raw);
		slot_next(f, s);
	}
	json_decref(reply);
	buf_free(&raw);
}

#define FLEET_INPUT_ENC (CLIENT_STDIN_SMALL * 4 / 3 + 8)

/* Let s's stdin go: the post in flight is dropped, no more are made. */
static void input_close(struct fleet *f, struct slot *s)
{
	if (s->in_busy) {
		curl_multi_remove_handle(f->multi, s->in_h);
		request_release(s->in_h, &s->in_r);
		s->in_busy = false;
	}
	s->in_closed = true;
}

/* True while s's host still takes stdin: its command is being started or
 * runs, and the host has not been cut. */
static bool input_live(const struct slot *s)
{
	return !s->in_closed && !s->cut &&
	       (s->step == ST_CREATE || s->step == ST_START || s->step == ST_OUTPUT);
}

/* s's command cannot have all of stdin: the host fails (its command is
 * stopped: a part of its input must not pass for the whole). */
static void input_failed(struct fleet *f, struct slot *s, tether_err e)
{
	char why[sizeof f->c->errmsg];
	snprintf(why, sizeof why, "%s", f->c->errmsg[0] ? f->c->errmsg : tether_strerror(e));
	input_close(f, s);
	client_fail(f->c, e, "stdin was cut short: %s", why);
	slot_cut(f, s, e);
}

/* Post to s's job what it has not taken of the held piece of stdin, or
 * the end of stdin, at s's offset. */
static void input_send(struct fleet *f, struct slot *s)
{
	char path[BOUND_URL], sub[64];
	json_t *body;
	int64_t held = input_held(&f->in);
	if (s->in_off < f->in.base) {   /* cannot be: the piece waits for every host */
		input_failed(f, s, client_fail(f->c, TETHER_E_INTERNAL, "stdin went on without "
		                               "this host"));
		return;
	}
	if (s->in_off < held) {
		const uint8_t *p = f->in.buf + (s->in_off - f->in.base);
		size_t len = (size_t)(held - s->in_off);
		if (f->in.spool >= 0) {   /* this host's next piece, from the spool */
			ssize_t got = pread(f->in.spool, f->in.buf, len < CLIENT_STDIN_SMALL ?
			                    len : CLIENT_STDIN_SMALL, s->in_off);
			if (got <= 0) {
				input_failed(f, s, client_fail(f->c, TETHER_E_IO, "reading the stdin "
				                               "spool: %s", got < 0 ? strerror(errno) :
				                               "short file"));
				return;
			}
			p = f->in.buf;
			len = (size_t)got;
		}
		crypto_b64_encode(p, len, false, true, f->in.enc, FLEET_INPUT_ENC);
		body = json_pack("{s:s,s:I}", "data", f->in.enc, "offset", (json_int_t)s->in_off);
	} else {
		body = json_pack("{s:b,s:I}", "eof", 1, "offset", (json_int_t)s->in_off);
	}
	snprintf(sub, sizeof sub, "/jobs/%lld/input", (long long)s->job);
	session_path(path, sizeof path, s, sub);
	tether_err e = request_prepare(f->c, s->in_h, &s->t, "POST", path, body, &s->in_r, NULL);
	json_decref(body);
	if (e != TETHER_E_OK) {
		request_release(s->in_h, &s->in_r);
		input_failed(f, s, e);
		return;
	}
	if (f->req->connect_timeout > 0)
		curl_easy_setopt(s->in_h, CURLOPT_CONNECTTIMEOUT, f->req->connect_timeout);
	curl_easy_setopt(s->in_h, CURLOPT_PRIVATE, (void *)s);
	curl_multi_add_handle(f->multi, s->in_h);
	s->in_busy = true;
	f->added = true;
}

/* A stdin post of s has finished: note what the command took; a cut
 * connection is posted again after a pause (the offset makes that safe),
 * a few times in a row at most. */
static void input_finished(struct fleet *f, struct slot *s, CURLcode rc)
{
	json_t *reply = NULL;
	bool eof_post = f->in.end && s->in_off >= input_held(&f->in);
	curl_multi_remove_handle(f->multi, s->in_h);
	s->in_busy = false;
	tether_err e = request_finish(f->c, s->in_h, &s->in_r, rc, &reply, NULL);
	request_release(s->in_h, &s->in_r);
	int64_t taken = json_integer_value(json_object_get(reply, "written"));
	bool ended = !json_is_false(json_object_get(reply, "eof"));
	json_decref(reply);
	if (!input_live(s)) {   /* the host has moved on: the post no longer matters */
		input_close(f, s);
	} else if (e == TETHER_E_OK) {
		s->in_cuts = 0;
		s->in_off += taken > 0 ? taken : 0;
		if (eof_post && ended)
			s->in_closed = true;
		else if (taken <= 0)   /* not read yet */
			s->in_at = mono_ms() + FLEET_INPUT_PAUSE_MS;
	} else if (e == TETHER_E_CONFLICT) {
		input_close(f, s);   /* the command has ended: its output says how */
	} else if (e == TETHER_E_INTERRUPTED) {
		f->interrupted = true;   /* the loop winds every host down */
		*f->c->interrupt = 0;
	} else if (e == TETHER_E_CONNECT && ++s->in_cuts < FLEET_INPUT_CUTS) {
		s->in_at = mono_ms() + 200L * s->in_cuts;
	} else {
		input_failed(f, s, e);
	}
}

/* The spool could not keep stdin (a full disk): no host can have all of
 * it, so the ones running fail and no more are begun. */
static void spool_failed(struct fleet *f)
{
	for (size_t i = 0; i < f->nslots; i++)
		if (input_live(&f->slots[i]))
			input_failed(f, &f->slots[i], TETHER_E_IO);
	f->interrupted = true;
	f->in.end = true;
}

/* Feed stdin: close it for hosts that no longer take it, post to the
 * others what they have not taken, and read the next piece once every
 * live host has taken this one. *watch: wait for stdin to be readable;
 * *paused: a post waits out a pause. */
static void input_pump(struct fleet *f, bool *watch, bool *paused)
{
	*watch = *paused = false;
	if (f->in.fd < 0)
		return;
	int64_t now = mono_ms(), held = input_held(&f->in);
	bool live = false, behind = false;
	for (size_t i = 0; i < f->nslots; i++) {
		struct slot *s = &f->slots[i];
		if (!s->in_closed && !input_live(s))
			input_close(f, s);
		if (s->in_closed)
			continue;
		live = true;
		behind = behind || s->in_off < held;
	}
	/* spooled, stdin is read as it comes: hosts not begun yet need it too */
	if (((live && !behind) || f->in.spool >= 0) && !f->in.end) {
		struct pollfd pf = { f->in.fd, POLLIN, 0 };
		ssize_t n = poll(&pf, 1, 0) > 0 ? read(f->in.fd, f->in.buf, CLIENT_STDIN_SMALL) : -1;
		if (n > 0 && f->in.spool >= 0) {
			if (fileio_pwrite_all(f->in.spool, f->in.buf, (size_t)n, f->in.spooled) != 0) {
				client_fail(f->c, TETHER_E_IO, "writing the stdin spool: %s",
				            strerror(errno));
				spool_failed(f);
			} else {
				f->in.spooled += n;
				*watch = true;   /* more may be there: the wait ends at once if so */
			}
		} else if (n > 0) {
			f->in.base = held;
			f->in.len = (size_t)n;
		} else if (n == 0 || (pf.revents != 0 && errno != EAGAIN && errno != EINTR)) {
			f->in.end = true;   /* the end (an unreadable stdin too) */
		} else {
			*watch = true;
		}
		held = input_held(&f->in);
	}
	for (size_t i = 0; i < f->nslots; i++) {
		struct slot *s = &f->slots[i];
		if (s->in_closed || s->in_busy || s->step != ST_OUTPUT || s->job <= 0 ||
		    (s->in_off >= held && !f->in.end))
			continue;
		if (now < s->in_at)
			*paused = true;
		else
			input_send(f, s);
	}
}

/* Wind down every host in flight (after an interrupt). */
static void cut_all(struct fleet *f)
{
	for (size_t i = 0; i < f->nslots; i++)
		if (cuttable(&f->slots[i]))
			slot_cut(f, &f->slots[i], TETHER_E_INTERRUPTED);
}

/* How long a host may take to connect before it counts as stalled (see
 * FLEET_STALL_FACTOR). */
static int64_t stall_ms(const struct fleet *f)
{
	int64_t ms = f->slowest_tls * FLEET_STALL_FACTOR;
	return ms < FLEET_STALL_MIN_MS ? FLEET_STALL_MIN_MS
	     : ms > FLEET_STALL_MAX_MS ? FLEET_STALL_MAX_MS : ms;
}

/* Note s's handshake time once its connection is up (or it answered). */
static void note_connected(struct fleet *f, struct slot *s)
{
	curl_off_t us = 0;
	if (s->connected)
		return;
	s->connected = true;
	if (curl_easy_getinfo(s->h, CURLINFO_APPCONNECT_TIME_T, &us) == CURLE_OK &&
	    us / 1000 > f->slowest_tls)
		f->slowest_tls = us / 1000;
}

/* True if s's host has been trying to connect for longer than stall_ms: a
 * dead or hanging host, which then stops holding one of the --throttle
 * places (FLEET_STALL_ROOM more wait beside them), so that it costs its
 * own timeout and not the others' time. */
static bool stalled(struct fleet *f, struct slot *s, int64_t now)
{
	if (s->step == ST_DONE || s->connected || now - s->began < FLEET_STALL_MIN_MS)
		return false;
	curl_off_t tls = 0;
	if (s->busy && curl_easy_getinfo(s->h, CURLINFO_APPCONNECT_TIME_T, &tls) == CURLE_OK &&
	    tls > 0)
		note_connected(f, s);
	return !s->connected && now - s->began >= stall_ms(f);
}

/* Drive the multi handle until every host has ended. */
static void fleet_loop(struct fleet *f, size_t n)
{
	size_t next = 0;
	int64_t last_tick = 0;
	for (;;) {
		size_t active = 0, working = 0;
		int64_t now0 = mono_ms();
		for (size_t i = 0; i < f->nslots; i++)
			if (f->slots[i].step != ST_DONE) {
				active++;
				working += !stalled(f, &f->slots[i], now0);
			}
		for (size_t i = 0; i < f->nslots; i++) {
			struct slot *s = &f->slots[i];
			while (s->step == ST_DONE && next < n && !f->interrupted &&
			       working < f->throttle) {
				slot_begin(f, s, next++);
				active += s->step != ST_DONE;
				working += s->step != ST_DONE;
			}
		}
		if (active == 0 && (next >= n || f->interrupted))
			break;
		if (active == 0)
			continue;   /* every slot ended at once: refill */
		int running = 0;
		f->added = false;
		curl_multi_perform(f->multi, &running);
		CURLMsg *m;
		int left;
		while ((m = curl_multi_info_read(f->multi, &left)) != NULL) {
			struct slot *s = NULL;
			if (m->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&s);
			if (m->easy_handle == s->in_h)
				input_finished(f, s, m->data.result);
			else
				slot_finished(f, s, m->data.result);
		}
		if (f->interrupted)
			cut_all(f);
		int64_t now = mono_ms();
		for (size_t i = 0; i < f->nslots; i++) {
			struct slot *s = &f->slots[i];
			if (s->deadline > 0 && now >= s->deadline && cuttable(s))
				slot_cut(f, s, TETHER_E_TIMED_OUT);
		}
		if (f->io != NULL && f->io->tick != NULL && now - last_tick >= 200) {
			f->io->tick(f->io->ctx);
			last_tick = now;
		}
		bool busy = false, watch, paused;
		input_pump(f, &watch, &paused);
		for (size_t i = 0; i < f->nslots && !busy; i++)
			busy = f->slots[i].busy || f->slots[i].in_busy;
		/* a new request starts at the next perform, not after a wait; with
		 * nothing in flight there is nothing to wait for but stdin */
		struct curl_waitfd in = { f->in.fd, CURL_WAIT_POLLIN, 0 };
		if ((busy || watch) && !f->added)
			curl_multi_poll(f->multi, watch ? &in : NULL, watch ? 1 : 0,
			                paused ? FLEET_INPUT_PAUSE_MS : 100, NULL);
	}
}

/* Run a verb on a fleet; see tether.h. */
tether_err tether_fleet_run(tether_client *c, const char *const *hosts, size_t n,
                            const struct tether_fleet_req *req,
                            const struct tether_fleet_io *io,
                            struct tether_fleet_result *results)
{
	/* the configuration file's defaults for what the caller left at 0 (its
	 * ConnectTimeout is the client's connect timeout already) */
	struct tether_fleet_req q = *req;
	tether_err e;
	q.throttle = q.throttle != 0 ? q.throttle : c->dflt_throttle;
	q.timeout = q.timeout > 0 ? q.timeout : c->dflt_timeout;
	req = &q;
	struct fleet f = { .c = c, .hosts = hosts, .req = req, .io = io, .res = results,
	                   .in = { .fd = -1, .spool = -1 } };
	size_t throttle = req->throttle > 0 ? (size_t)req->throttle : FLEET_THROTTLE_DEFAULT;
	for (size_t i = 0; i < n; i++) {
		memset(&results[i], 0, sizeof results[i]);
		results[i].exit_code = -1;
	}
	if (req->throttle < 0 || throttle > FLEET_THROTTLE_MAX)
		return client_fail(c, TETHER_E_USAGE, "--throttle must be 1 to %d",
		                   FLEET_THROTTLE_MAX);
	if ((req->verb == TETHER_FLEET_INVOKE || req->verb == TETHER_FLEET_JOB_START) &&
	    req->command == NULL)
		return client_fail(c, TETHER_E_USAGE, "no command");
	if (req->verb == TETHER_FLEET_LOGIN && req->login == NULL)
		return client_fail(c, TETHER_E_USAGE, "no login options");
	if (req->session == NULL && req->verb != TETHER_FLEET_INVOKE &&
	    req->verb != TETHER_FLEET_SESSION_NEW && req->verb != TETHER_FLEET_SESSION_LIST &&
	    req->verb != TETHER_FLEET_LOGIN)
		return client_fail(c, TETHER_E_USAGE, "no session name");
	if (req->session != NULL && !client_job_ref_ok(req->session))
		return client_fail(c, TETHER_E_USAGE, "invalid session name '%s'", req->session);
	f.throttle = throttle;
	size_t room = throttle > FLEET_STALL_ROOM ? throttle : FLEET_STALL_ROOM;
	size_t nslots = throttle + room < n ? throttle + room : n;
	if (nslots < throttle)   /* fewer hosts */
		throttle = nslots;
	e = check_fds(c, throttle, req->has_stdin ? 2 : 1, &nslots);
	if (e != TETHER_E_OK || n == 0)
		return e;
	if (req->verb == TETHER_FLEET_LOGIN) {
		char identity[BOUND_PATH];
		struct tether_login_opts lo = login_opts_for(c, req->login, hosts[0], identity,
		                                             sizeof identity);
		if ((e = login_offers_new(c, &lo, &f.offers)) != TETHER_E_OK)
			return e;
	}
	f.slots = calloc(nslots, sizeof *f.slots);
	f.multi = curl_multi_init();
	if (f.slots == NULL || f.multi == NULL) {
		e = client_fail(c, TETHER_E_NOMEM, "out of memory");
		goto out;
	}
	/* with stdin, a host's posts go on a second connection beside its polls */
	curl_multi_setopt(f.multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
	                  (long)nslots * (req->verb == TETHER_FLEET_INVOKE && req->has_stdin ? 2 : 1));
	/* a finished host's connection is not used again: keep no more idle
	 * ones than the hosts in flight may come back to between requests */
	curl_multi_setopt(f.multi, CURLMOPT_MAXCONNECTS, (long)(f.throttle * 2));
	/* a key login's signature covers the connection its challenge came on:
	 * two names for one server (an inventory may have them) must not trade
	 * connections between challenge and login, so they queue for one */
	if (req->verb == TETHER_FLEET_LOGIN)
		curl_multi_setopt(f.multi, CURLMOPT_MAX_HOST_CONNECTIONS, 1L);
	if (req->verb == TETHER_FLEET_INVOKE && req->has_stdin) {
		f.in.buf = malloc(CLIENT_STDIN_SMALL);
		f.in.enc = malloc(FLEET_INPUT_ENC);
		if (f.in.buf == NULL || f.in.enc == NULL) {
			e = client_fail(c, TETHER_E_NOMEM, "out of memory");
			goto out;
		}
		f.in.fd = req->stdin_fd;
		if (n > throttle && (f.in.spool = spool_open()) < 0) {
			e = client_fail(c, TETHER_E_IO, "stdin for more hosts than --throttle is kept "
			                "in a temporary file, which could not be made: %s",
			                strerror(errno));
			goto out;
		}
	}
	for (f.nslots = 0; f.nslots < nslots; f.nslots++) {   /* handles: slot_begin */
		f.slots[f.nslots].step = ST_DONE;
		f.slots[f.nslots].in_closed = true;
	}
	fleet_loop(&f, n);
	for (size_t i = 0; i < n; i++)   /* hosts never begun (an interrupt) */
		if (results[i].state == TETHER_FLEET_WAITING) {
			results[i].err = TETHER_E_INTERRUPTED;
			snprintf(results[i].code, sizeof results[i].code, "%s",
			         tether_err_code(TETHER_E_INTERRUPTED));
			snprintf(results[i].message, sizeof results[i].message, "not started: "
			         "interrupted");
		}
	c->errmsg[0] = c->errcode[0] = '\0';
out:
	for (size_t i = 0; i < f.nslots; i++) {
		slot_abort(&f, &f.slots[i]);
		input_close(&f, &f.slots[i]);
		curl_easy_cleanup(f.slots[i].h);
		curl_easy_cleanup(f.slots[i].in_h);
	}
	if (f.multi != NULL)
		curl_multi_cleanup(f.multi);
	for (size_t i = 0; f.slots != NULL && i < nslots; i++)
		login_run_clear(&f.slots[i].login);
	free(f.slots);
	free(f.in.buf);
	free(f.in.enc);
	if (f.in.spool >= 0)
		close(f.in.spool);
	login_offers_free(f.offers);
	return e;
}

/* Release the results' objects. */
void tether_fleet_free(struct tether_fleet_result *results, size_t n)
{
	for (size_t i = 0; results != NULL && i < n; i++) {
		json_decref(results[i].object);
		results[i].object = NULL;
	}
}
