/*
 * job.c - invoking commands and streaming their output.
 *
 * Output arrives as output-log records (common/outlog.h) from a byte
 * offset; each request for the next offset acknowledges what came before,
 * so a client that dies mid-stream costs the next receiver at most a repeat
 * of the last unacknowledged chunk, never a gap. A final request at the end
 * offset acknowledges everything. One loop (job_stream) does this for every
 * reader; what becomes of the bytes is its sink's business: decoded for a
 * tether_output here, appended to this client's own copy in localjobs.c.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "addr.h"
#include "client-int.h"
#include "crypto.h"
#include "jsonu.h"
#include "outlog.h"
#include "proto.h"
#include "timeu.h"

#define POLL_WAIT 20   /* seconds the server may hold an output request */
#define POLL_BACKOFF_MIN 50     /* ms: first pause after an empty, immediate answer */
#define POLL_BACKOFF_MAX 2000   /* ms: the pause stops growing here */
#define POLL_QUICK_MS    1000   /* an answer sooner than this was not held */

/* Remember the caller's interrupt flag. */
void tether_set_interrupt(tether_client *c, volatile sig_atomic_t *flag)
{
	c->interrupt = flag;
}

/* Ask for every user's objects where the server takes it. */
void tether_set_all_users(tether_client *c, int on)
{
	c->all_users = on != 0;
}

/* The body of an invoke: the command, and what the client asks of it. */
static json_t *invoke_body(const tether_client *c, const char *command, bool with_stdin)
{
	json_t *b = json_pack("{s:s}", "command", command);
	if (with_stdin)
		json_object_set_new(b, "stdin", json_true());
	if (c->no_state)   /* an older tetherd ignores it */
		json_object_set_new(b, "keep_state", json_false());
	return b;
}

/* Add all_users=1 to path (which may have a query) if the client asks it. */
static void all_users_query(const tether_client *c, char *path, size_t pathsz)
{
	size_t n = strlen(path);
	if (c->all_users && n < pathsz)
		snprintf(path + n, pathsz - n, "%sall_users=1", strchr(path, '?') ? "&" : "?");
}

/* outlog_parse callback: hand a record to the caller's writer. */
static int deliver(void *ctx, int stream, const uint8_t *data, size_t len)
{
	const struct tether_output *out = ctx;
	return out->write(out->ctx, stream, data, len) == 0 ? 0 : 1;
}

/* job_sink callback: decode a chunk's records for a tether_output. */
static tether_err to_output(void *ctx, tether_client *c, int64_t offset, const uint8_t *raw,
                           size_t len, const struct reply_info *ri)
{
	(void)offset;
	(void)ri;
	if (outlog_parse(raw, len, deliver, ctx) < 0)
		return client_fail(c, TETHER_E_IO, "cannot write the output");
	return TETHER_E_OK;
}

/* Send a signal to the job (without the interrupt flag aborting it). The
 * interrupted request's connection was torn down; if the new one cannot be
 * made at once (a busy host), try again briefly rather than let the Ctrl-C
 * go unheard while the command runs on. An answer of any kind (a job that
 * has just ended is a 409) is the end of it. */
static void send_stop(tether_client *c, struct target *t, const char *base, const char *sig)
{
	char path[256];
	volatile sig_atomic_t *flag = c->interrupt;
	c->interrupt = NULL;
	snprintf(path, sizeof path, "%s/stop", base);
	json_t *body = json_pack("{s:s}", "signal", sig);
	for (int i = 0; i < 5; i++) {
		if (client_request(c, t, "POST", path, body, NULL) != TETHER_E_CONNECT)
			break;
		struct timespec ts = { 0, 200 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	json_decref(body);
	c->interrupt = flag;
}

/* job_stream, whose first reply (raw, *first_ri: output from offset) may
 * have come already, with the invoke that started the job. */
static tether_err job_stream_from(tether_client *c, struct target *t, const char *ref,
                                  int64_t job, int64_t offset, bool keep, bool follow,
                                  const struct job_sink *sink, int *status,
                                  struct buf *first, const struct reply_info *first_ri)
{
	char base[160], path[256];
	int interrupts = 0;
	long idle_ms = 0;     /* pause before the next poll; 0 after progress */
	*status = -1;
	c->job_error = false;
	int64_t noted = keep || first != NULL ? -1 : cursor_take(c, t, job);
	if (noted > offset)   /* a broken stream of ours got this far: go on from there */
		offset = noted;
	snprintf(base, sizeof base, "%s/sessions/%s/jobs/%lld", TETHER_API_PREFIX, ref,
	         (long long)job);
	for (;;) {
		struct buf raw;
		struct reply_info ri;
		char off[40] = "";
		if (offset >= 0)   /* else the server starts at the delivered cursor */
			snprintf(off, sizeof off, "offset=%lld&", (long long)offset);
		snprintf(path, sizeof path, "%s/output?%swait=%d&keep=%d%s", base, off,
		         follow ? POLL_WAIT : 0, keep ? 1 : 0,
		         c->remove_at_end && !keep ? "&remove=1" : "");
		int64_t asked = timeu_mono_ms();
		tether_err e = TETHER_E_OK;
		if (first != NULL) {
			raw = *first;
			ri = *first_ri;
			first = NULL;
		} else {
			e = client_exchange(c, t, "GET", path, NULL, NULL, &raw, &ri);
		}
		if (e == TETHER_E_INTERRUPTED) {
			*c->interrupt = 0;
			send_stop(c, t, base, interrupts++ == 0 ? "INT" : "KILL");
			continue;
		}
		if (e != TETHER_E_OK && offset > 0 && !keep)
			cursor_save(c, t, job, offset);   /* the server's cursor lags this */
		if (e != TETHER_E_OK)
			return e;
		if (offset >= 0 && ri.next < offset) {
			buf_free(&raw);
			return client_fail(c, TETHER_E_PROTOCOL, "server went backwards in the output");
		}
		/* Next is offset + length, except past dropped output (a marker record) */
		int64_t from = offset >= 0 ? offset : ri.next - (int64_t)raw.len;
		e = sink->chunk(sink->ctx, c, from, (const uint8_t *)raw.data, raw.len, &ri);
		buf_free(&raw);
		if (e != TETHER_E_OK)
			return e;
		/* a long poll that comes back at once with nothing new (a server in
		 * trouble) is asked again after a growing pause, not at full speed */
		bool quick = timeu_mono_ms() - asked < POLL_QUICK_MS;
		idle_ms = ri.next > offset || ri.done || !quick ? 0
		          : idle_ms ? idle_ms * 2 : POLL_BACKOFF_MIN;
		if (idle_ms > POLL_BACKOFF_MAX)
			idle_ms = POLL_BACKOFF_MAX;
		offset = ri.next;
		c->job_error = c->job_error || ri.job_error;
		if (ri.done)
			*status = ri.signal ? 128 + ri.signal : ri.exit_code >= 0 ? ri.exit_code : 255;
		if (ri.done || (!follow && offset >= ri.size)) {
			c->removed = c->removed || ri.removed;
			/* a removed session's output is gone; an empty one was
			 * delivered by the reply */
			if (keep || ri.removed || (ri.delivered && ri.done))
				return TETHER_E_OK;
			/* acknowledge what we got, so it no longer shows as undelivered */
			snprintf(path, sizeof path, "%s/output?offset=%lld", base, (long long)offset);
			client_exchange(c, t, "GET", path, NULL, NULL, &raw, &ri);
			buf_free(&raw);
			return TETHER_E_OK;
		}
		if (follow && idle_ms > 0) {
			struct timespec ts = { idle_ms / 1000, (idle_ms % 1000) * 1000000L };
			nanosleep(&ts, NULL);
		}
	}
}

/* Stream a job's output; see client-int.h. */
tether_err job_stream(tether_client *c, struct target *t, const char *ref, int64_t job,
                      int64_t offset, bool keep, bool follow, const struct job_sink *sink,
                      int *status)
{
	return job_stream_from(c, t, ref, job, offset, keep, follow, sink, status, NULL, NULL);
}

/* Stream a job's output to a caller's writer. */
tether_err job_stream_to(tether_client *c, struct target *t, const char *ref, int64_t job,
                         int64_t offset, bool keep, bool follow,
                         const struct tether_output *out, int *status)
{
	struct job_sink sink = { to_output, (void *)out };
	return job_stream(c, t, ref, job, offset, keep, follow, &sink, status);
}

/* The stream of an invoke or a receive: everything, until the end. */
static tether_err stream(tether_client *c, struct target *t, const char *ref, int64_t job,
                         int64_t offset, const struct tether_output *out, int *status)
{
	return job_stream_to(c, t, ref, job, offset, false, true, out, status);
}

/* Fetch the final job object. */
static void final_job(tether_client *c, struct target *t, const char *ref, int64_t id,
                      json_t **job)
{
	char path[160];
	if (job == NULL)
		return;
	snprintf(path, sizeof path, "%s/sessions/%s/jobs/%lld", TETHER_API_PREFIX, ref,
	         (long long)id);
	if (client_request(c, t, "GET", path, NULL, job) != TETHER_E_OK)
		*job = NULL;
}

/* POST the invoke; *reply gets the job. */
static tether_err start(tether_client *c, const char *session, const char *command,
                        struct target *t, char ref[BOUND_NAME + 1], json_t **reply,
                        int64_t *id)
{
	char path[160];
	tether_err e = client_resolve_session(c, session, t, ref);
	if (e != TETHER_E_OK)
		return e;
	snprintf(path, sizeof path, "%s/sessions/%s/invoke", TETHER_API_PREFIX, ref);
	json_t *body = json_pack("{s:s}", "command", command);
	e = client_request(c, t, "POST", path, body, reply);
	json_decref(body);
	if (e != TETHER_E_OK)
		return e;
	*id = json_integer_value(json_object_get(*reply, "id"));
	if (*id <= 0) {
		json_decref(*reply);
		*reply = NULL;
		return client_fail(c, TETHER_E_PROTOCOL, "invoke reply without a job id");
	}
	return TETHER_E_OK;
}

/* The end of an invoke that streamed to its end: the final job object
 * when the caller wants it (or the stream saw X-Tether-Error), and what went
 * wrong beside the command (output lost on a full disk, a vanished
 * supervisor) said on the notice stream, not only kept in the job. */
static void invoke_end(tether_client *c, struct target *t, const char *ref, int64_t id,
                       const struct tether_output *out, json_t **job)
{
	json_t *got = NULL;
	if (job != NULL || c->job_error)
		final_job(c, t, ref, id, &got);
	const char *why = json_string_value(json_object_get(got, "error"));
	if (job == NULL && why != NULL && why[0] != '\0') {
		char note[300];
		snprintf(note, sizeof note, "job '%s': %s",
		         json_string_value(json_object_get(got, "name")), why);
		out->write(out->ctx, 3, note, strlen(note));
	}
	if (job != NULL)
		*job = got;
	else
		json_decref(got);
}

/* Start a command without waiting. */
tether_err tether_invoke_start(tether_client *c, const char *session, const char *command,
                               json_t **job)
{
	struct target t;
	char ref[BOUND_NAME + 1];
	int64_t id;
	*job = NULL;
	return start(c, session, command, &t, ref, job, &id);
}

/* Run a command and stream it. */
/* Ctrl-C came while the invoke that starts the command was held for its
 * first output, so its job id never arrived: the session's running invoke
 * (there is at most one) is that command. Stop it and stream the rest. */
static tether_err interrupted_start(tether_client *c, struct target *t, const char *ref,
                                    const struct tether_output *out, int *status,
                                    json_t **job)
{
	char path[160], base[200];
	json_t *list = NULL, *j;
	size_t i;
	int64_t id = -1;
	*c->interrupt = 0;
	volatile sig_atomic_t *flag = c->interrupt;
	c->interrupt = NULL;   /* this lookup must not be cut short too */
	snprintf(path, sizeof path, "%s/sessions/%s/jobs", TETHER_API_PREFIX, ref);
	tether_err e = client_request(c, t, "GET", path, NULL, &list);
	c->interrupt = flag;
	if (e != TETHER_E_OK)
		return client_fail(c, TETHER_E_INTERRUPTED, "interrupted");
	json_array_foreach(json_object_get(list, "jobs"), i, j) {
		const char *type = json_string_value(json_object_get(j, "type"));
		const char *st = json_string_value(json_object_get(j, "state"));
		json_int_t jid = json_integer_value(json_object_get(j, "id"));
		if (type && st && strcmp(type, "invoke") == 0 && jid > id &&
		    (strcmp(st, "Running") == 0 || strcmp(st, "Blocked") == 0))
			id = jid;
	}
	json_decref(list);
	if (id < 0)   /* it ended already: its output is for the next receive */
		return client_fail(c, TETHER_E_INTERRUPTED, "interrupted");
	snprintf(base, sizeof base, "%s/sessions/%s/jobs/%lld", TETHER_API_PREFIX, ref,
	         (long long)id);
	send_stop(c, t, base, "INT");
	e = stream(c, t, ref, id, 0, out, status);
	if (e == TETHER_E_OK && job != NULL)
		final_job(c, t, ref, id, job);
	return e;
}

tether_err tether_invoke(tether_client *c, const char *session, const char *command,
                         const struct tether_output *out, int *status, json_t **job)
{
	struct target t;
	char ref[BOUND_NAME + 1], path[160];
	struct buf raw;
	struct reply_info ri;
	if (job != NULL)
		*job = NULL;
	tether_err e = client_resolve_session(c, session, &t, ref);
	if (e != TETHER_E_OK)
		return e;
	/* start and first output in one exchange: for a short command, that
	 * and the acknowledgement are all the requests there are */
	snprintf(path, sizeof path, "%s/sessions/%s/invoke?wait=%d%s", TETHER_API_PREFIX, ref,
	         POLL_WAIT, c->remove_at_end ? "&remove=1" : "");
	json_t *body = invoke_body(c, command, false);
	e = client_exchange(c, &t, "POST", path, body, NULL, &raw, &ri);
	json_decref(body);
	if (e == TETHER_E_INTERRUPTED)   /* Ctrl-C before the first answer */
		return interrupted_start(c, &t, ref, out, status, job);
	if (e != TETHER_E_OK)
		return e;
	struct job_sink sink = { to_output, (void *)out };
	if (ri.job <= 0) {
		/* a tetherd that predates invoke?wait answered with the job alone */
		char why[120];
		json_t *started = jsonu_parse_object(raw.data ? raw.data : "", raw.len, why,
		                                     sizeof why);
		ri.job = json_integer_value(json_object_get(started, "id"));
		json_decref(started);
		buf_free(&raw);
		if (ri.job <= 0)
			return client_fail(c, TETHER_E_PROTOCOL, "invoke reply without a job id");
		e = job_stream_from(c, &t, ref, ri.job, 0, false, true, &sink, status, NULL, NULL);
	} else {
		e = job_stream_from(c, &t, ref, ri.job, 0, false, true, &sink, status, &raw, &ri);
	}
	if (e != TETHER_E_OK)
		return e;
	if (!c->removed)
		invoke_end(c, &t, ref, ri.job, out, job);
	return TETHER_E_OK;
}

/* The stdin pump of tether_invoke_stdin: its own client (a tether_client
 * is not thread-safe) posting what fd gives to the job's input, in pieces
 * that fit a request, until fd's end (then the end is posted) or stop.
 * Each piece says the stdin offset it starts at, so a post whose
 * connection was cut is simply posted again: the server skips what it
 * already has (docs/sessions.md, "stdin"). */
#define STDIN_RETRIES 5   /* cut posts in a row before the input is given up */

struct stdin_pump {
	const char            *session;
	int64_t                job;
	int                    fd;
	volatile sig_atomic_t  stop;
	tether_err             err;
	char                   why[300];
};

/* POST one piece of input at offset (len 0: the end of stdin); *taken
 * gets what the command's stdin took of it, *ended whether an eof went
 * through. Bytes go as they are (raw), or in base64 inside JSON (enc: room
 * for CLIENT_STDIN_SMALL of it) to a tetherd without raw input. A cut
 * connection is tried again, a few times, at the same offset. probe: ask
 * before the body goes (client_request_bytes), for the first raw piece. */
static tether_err pump_post(tether_client *c, struct stdin_pump *p, bool raw, bool probe,
                            const uint8_t *data, size_t len, char *enc, int64_t offset,
                            int64_t *taken, bool *ended)
{
	struct target t;
	char sub[96], ref[BOUND_NAME + 1], path[BOUND_URL];
	tether_err e = TETHER_E_CONNECT;
	*taken = 0;
	*ended = false;
	snprintf(sub, sizeof sub, "jobs/%lld/input", (long long)p->job);
	if (len > 0 && !raw)
		crypto_b64_encode(data, len, false, true, enc, CLIENT_STDIN_SMALL * 4 / 3 + 8);
	for (int tries = 0; e == TETHER_E_CONNECT && tries < STDIN_RETRIES && !p->stop; tries++) {
		json_t *reply = NULL, *body = len > 0 && raw ? NULL : len > 0
		                ? json_pack("{s:s,s:I}", "data", enc, "offset", (json_int_t)offset)
		                : json_pack("{s:b,s:I}", "eof", 1, "offset", (json_int_t)offset);
		if (tries > 0) {   /* the connection was cut: a moment, then again */
			struct timespec ts = { 0, tries * 200L * 1000 * 1000 };
			nanosleep(&ts, NULL);
		}
		if (len > 0 && raw) {   /* the offset in the query */
			e = client_resolve_session(c, p->session, &t, ref);
			if (e != TETHER_E_OK)
				return e;
			snprintf(path, sizeof path, "%s/sessions/%s/%s?offset=%lld", TETHER_API_PREFIX,
			         ref, sub, (long long)offset);
			e = client_request_bytes(c, &t, "POST", path, data, len, probe, &reply);
		} else {
			e = client_session_request(c, "POST", p->session, sub, body, &reply, &t);
		}
		json_decref(body);
		*taken = json_integer_value(json_object_get(reply, "written"));
		/* a tetherd before offsets says nothing of the eof: it went through */
		*ended = !json_is_false(json_object_get(reply, "eof"));
		json_decref(reply);
		crypto_wipe(t.token, sizeof t.token);
	}
	return e;
}

static void *pump_main(void *arg)
{
	struct stdin_pump *p = arg;
	tether_client *c = NULL;
	uint8_t *buf = malloc(CLIENT_STDIN_CHUNK);
	char *enc = malloc(CLIENT_STDIN_SMALL * 4 / 3 + 8);
	bool raw = true;   /* false: a tetherd without raw input, given base64 pieces */
	bool raw_ok = false;   /* a raw piece went through */
	int64_t sent = 0;   /* stdin bytes the command has */
	/* a server that closes the connection under a post must give this
	 * thread EPIPE, not end the process with SIGPIPE (libcurl leaves
	 * SIGPIPE alone: CURLOPT_NOSIGNAL); it is thread-directed, so blocking
	 * it here is enough */
	sigset_t pipe;
	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe, NULL);
	p->err = buf == NULL || enc == NULL ? TETHER_E_NOMEM : tether_client_new(&c);
	while (p->err == TETHER_E_OK && !p->stop) {
		struct pollfd pf = { p->fd, POLLIN, 0 };
		if (poll(&pf, 1, 200) <= 0)
			continue;   /* nothing yet: look at stop again */
		ssize_t n = read(p->fd, buf, CLIENT_STDIN_CHUNK);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		int64_t taken = 0;
		bool ended = false;
		for (size_t off = 0; p->err == TETHER_E_OK && !p->stop && (n <= 0 ? !ended
		     : off < (size_t)n); ) {   /* n <= 0: the end (an unreadable stdin too) */
			size_t len = n > 0 ? (size_t)n - off : 0, piece = raw ? len : CLIENT_STDIN_SMALL;
			p->err = pump_post(c, p, raw, raw && !raw_ok, buf + off,
			                   len < piece ? len : piece, enc, sent, &taken, &ended);
			raw_ok = raw_ok || (raw && len > 0 && p->err == TETHER_E_OK);
			if (raw && len > 0 && (p->err == TETHER_E_PAYLOAD_TOO_LARGE ||
			                       p->err == TETHER_E_UNSUPPORTED_MEDIA)) {
				raw = false;   /* an older tetherd: JSON bodies of 64 KiB */
				p->err = TETHER_E_OK;
				continue;
			}
			taken = taken > 0 ? taken : 0;
			off += (size_t)taken;
			sent += taken;
			if (p->err == TETHER_E_OK && taken == 0 && (n > 0 || !ended)) {
				struct timespec ts = { 0, 20 * 1000 * 1000 };   /* not read yet */
				nanosleep(&ts, NULL);
			}
		}
		if (n <= 0)
			break;
	}
	if (p->err != TETHER_E_OK)
		snprintf(p->why, sizeof p->why, "%s", c != NULL ? tether_last_error(c)
		         : tether_strerror(p->err));
	if (p->err != TETHER_E_OK && p->err != TETHER_E_CONFLICT && c != NULL && !p->stop) {
		/* the input is lost: the command must not wait for the rest, nor
		 * take a part of it for the whole (the invoke says so at its end) */
		struct target t;
		char sub[64];
		json_t *body = json_pack("{s:s}", "signal", "TERM");
		snprintf(sub, sizeof sub, "jobs/%lld/stop", (long long)p->job);
		client_session_request(c, "POST", p->session, sub, body, NULL, &t);
		crypto_wipe(t.token, sizeof t.token);
		json_decref(body);
		size_t len = strlen(p->why);
		snprintf(p->why + len, sizeof p->why - len, " (the command was stopped)");
	}
	tether_client_free(c);
	free(buf);
	free(enc);
	return NULL;
}

/* Run a command with fd as its stdin; see tether.h. The invoke is started
 * without ?wait (a command reading stdin answers nothing until fed), then
 * input goes out from a second thread while this one streams the output;
 * once the command has ended, input still unread is dropped (as ssh does
 * when the remote side goes). */
tether_err tether_invoke_stdin(tether_client *c, const char *session, const char *command,
                               int fd, const struct tether_output *out, int *status,
                               json_t **job)
{
	struct target t;
	char ref[BOUND_NAME + 1], path[160];
	json_t *reply = NULL;
	if (fd < 0)
		return tether_invoke(c, session, command, out, status, job);
	if (job != NULL)
		*job = NULL;
	tether_err e = client_resolve_session(c, session, &t, ref);
	if (e != TETHER_E_OK)
		return e;
	snprintf(path, sizeof path, "%s/sessions/%s/invoke", TETHER_API_PREFIX, ref);
	json_t *body = invoke_body(c, command, true);
	e = client_request(c, &t, "POST", path, body, &reply);
	json_decref(body);
	int64_t id = json_integer_value(json_object_get(reply, "id"));
	json_decref(reply);
	if (e != TETHER_E_OK)
		return e;
	if (id <= 0)
		return client_fail(c, TETHER_E_PROTOCOL, "invoke reply without a job id");
	struct stdin_pump p = { .session = session, .job = id, .fd = fd, .stop = 0 };
	pthread_t th;
	bool pumping = pthread_create(&th, NULL, pump_main, &p) == 0;
	if (!pumping) {   /* no thread to feed it: its stdin would never end */
		snprintf(path, sizeof path, "%s/sessions/%s/jobs/%lld", TETHER_API_PREFIX, ref,
		         (long long)id);
		send_stop(c, &t, path, "TERM");
	}
	e = stream(c, &t, ref, id, 0, out, status);
	if (pumping) {
		p.stop = 1;
		pthread_join(th, NULL);
	}
	/* a command that ended first refuses the rest (409), or its session is
	 * gone with the reply that ended it (404, tether_invoke_host) */
	bool ended = p.err == TETHER_E_CONFLICT || (c->removed && p.err == TETHER_E_NOT_FOUND);
	if (e == TETHER_E_OK && pumping && p.err != TETHER_E_OK && !ended) {
		char note[400];   /* the command ran; its input did not all arrive */
		snprintf(note, sizeof note, "stdin was cut short: %s", p.why);
		out->write(out->ctx, 3, note, strlen(note));
	}
	if (e == TETHER_E_OK && !c->removed)
		invoke_end(c, &t, ref, id, out, job);
	return e;
}

json_t *client_run_request(tether_client *c, const char *command, long wait, bool remove,
                           char name[BOUND_NAME + 1], char *path, size_t pathsz)
{
	uint8_t rnd[8];
	if (crypto_random(rnd, sizeof rnd) != 0) {
		client_fail(c, TETHER_E_IO, "no random bytes for a session name");
		return NULL;
	}
	snprintf(name, BOUND_NAME + 1, "tether-run-%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0],
	         rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
	snprintf(path, pathsz, "%s/sessions?wait=%ld%s", TETHER_API_PREFIX, wait,
	         remove ? "&remove=1" : "");
	return json_pack("{s:s,s:s,s:b}", "name", name, "command", command, "keep_state", 0);
}

/* tether_invoke_host without stdin: the session made with the command in
 * one exchange (POST /v1/sessions with "command"), named here at random so
 * that an interrupt before the answer knows what to stop and remove. The
 * session ("HOST/NAME") is in session; *made tells if it may exist. */
static tether_err invoke_at_once(tether_client *c, struct target *t, const char *command,
                                 const struct tether_output *out, int *status, json_t **job,
                                 char *session, size_t sessionsz, bool *made)
{
	char name[BOUND_NAME + 1], path[160];
	struct buf raw;
	struct reply_info ri;
	*made = false;
	json_t *body = client_run_request(c, command, POLL_WAIT, c->remove_at_end, name, path,
	                                  sizeof path);
	if (body == NULL)
		return TETHER_E_IO;
	snprintf(session, sessionsz, "%s/%s", t->key, name);
	tether_err e = client_exchange(c, t, "POST", path, body, NULL, &raw, &ri);
	json_decref(body);
	/* made, or maybe: answered with success, or went out but no answer came */
	*made = e == TETHER_E_OK || (c->last_status == 0 && request_sent(c->curl));
	if (e == TETHER_E_INTERRUPTED)   /* Ctrl-C before the first answer */
		return interrupted_start(c, t, name, out, status, job);
	if (e != TETHER_E_OK)
		return e;
	if (ri.job <= 0) {   /* a tetherd that ignores "command": the session alone */
		buf_free(&raw);
		return tether_invoke(c, session, command, out, status, job);
	}
	struct job_sink sink = { to_output, (void *)out };
	e = job_stream_from(c, t, name, ri.job, 0, false, true, &sink, status, &raw, &ri);
	if (e == TETHER_E_OK && !c->removed)
		invoke_end(c, t, name, ri.job, out, job);
	return e;
}

/* Run a command in a temporary session on host; see tether.h. */
tether_err tether_invoke_host(tether_client *c, const char *host, const char *command,
                              int fd, const struct tether_output *out, int *status,
                              json_t **job)
{
	json_t *s = NULL, *gone = NULL;
	char session[BOUND_HOSTSPEC + BOUND_NAME + 2], note[BOUND_HOSTSPEC + 400];
	struct target t;
	bool made = true;
	*status = -1;
	if (job != NULL)
		*job = NULL;
	/* nothing to save for a session removed next; removed by the reply
	 * that ends the output, unless the final job object is wanted */
	c->no_state = true;
	c->remove_at_end = job == NULL;
	c->removed = false;
	tether_err e = client_target(c, host, &t);
	if (e == TETHER_E_OK && fd < 0) {
		e = invoke_at_once(c, &t, command, out, status, job, session, sizeof session, &made);
	} else if (e == TETHER_E_OK && (e = tether_session_new(c, host, NULL, 0, NULL, &s)) ==
	           TETHER_E_OK) {
		snprintf(session, sizeof session, "%s/%s",
		         json_string_value(json_object_get(s, "host")),
		         json_string_value(json_object_get(s, "name")));
		json_decref(s);
		e = tether_invoke_stdin(c, session, command, fd, out, status, job);
	} else {
		made = false;
	}
	c->no_state = false;
	c->remove_at_end = false;
	bool removed = c->removed;
	c->removed = false;
	if (removed || !made)
		return e;
	char why[300];   /* the invoke's error stays the one reported */
	snprintf(why, sizeof why, "%s", tether_last_error(c));
	tether_err r = tether_session_remove(c, session, &gone);
	if (r != TETHER_E_OK && !(r == TETHER_E_NOT_FOUND && e != TETHER_E_OK)) {
		snprintf(note, sizeof note, "could not remove temporary session %s: %s", session,
		         tether_last_error(c));
		out->write(out->ctx, 3, note, strlen(note));
	}
	json_decref(gone);
	if (e != TETHER_E_OK)
		client_fail(c, e, "%s", why);
	return e;
}

/* Receive what the session's latest command produced. */
tether_err tether_session_receive(tether_client *c, const char *session,
                                  const struct tether_output *out, int *status,
                                  json_t **job)
{
	struct target t;
	char ref[BOUND_NAME + 1], path[160];
	json_t *reply = NULL;
	*status = 0;
	if (job != NULL)
		*job = NULL;
	tether_err e = client_resolve_session(c, session, &t, ref);
	if (e != TETHER_E_OK)
		return e;
	snprintf(path, sizeof path, "%s/sessions/%s/receive", TETHER_API_PREFIX, ref);
	e = client_request(c, &t, "POST", path, NULL, &reply);
	if (e != TETHER_E_OK)
		return e;
	json_t *j = json_object_get(reply, "job");
	int64_t id = json_integer_value(json_object_get(j, "id"));
	int64_t offset = json_integer_value(json_object_get(reply, "offset"));
	json_decref(reply);
	if (id <= 0)
		return TETHER_E_OK;   /* nothing has run in the session */
	e = stream(c, &t, ref, id, offset, out, status);
	if (e == TETHER_E_OK)
		final_job(c, &t, ref, id, job);
	return e;
}

/* True if job is a numeric id or a valid name: nothing that needs escaping
 * in a path, so it can go into one as it is. */
bool client_job_ref_ok(const char *job)
{
	size_t n = strlen(job);
	return addr_valid_name(job) || (n > 0 && n < 20 && strspn(job, "0123456789") == n);
}

/* Resolve SESSION and make "/v1/sessions/REF/jobs[/JOB]". */
static tether_err jobs_path(tether_client *c, const char *session, const char *job,
                            struct target *t, char ref[BOUND_NAME + 1], char *path,
                            size_t pathsz)
{
	tether_err e = client_resolve_session(c, session, t, ref);
	if (e != TETHER_E_OK)
		return e;
	if (job != NULL && !client_job_ref_ok(job))
		return client_fail(c, TETHER_E_USAGE, "invalid job '%s': a numeric id or a name",
		                   job);
	snprintf(path, pathsz, "%s/sessions/%s/jobs%s%s", TETHER_API_PREFIX, ref,
	         job ? "/" : "", job ? job : "");
	return TETHER_E_OK;
}

/* Start a background job. */
tether_err tether_job_start(tether_client *c, const char *session, const char *name,
                            const char *command, json_t **job)
{
	struct target t;
	char ref[BOUND_NAME + 1], path[200];
	*job = NULL;
	tether_err e = jobs_path(c, session, NULL, &t, ref, path, sizeof path);
	if (e != TETHER_E_OK)
		return e;
	json_t *body = json_pack("{s:s}", "command", command);
	if (name != NULL)
		json_object_set_new(body, "name", json_string(name));
	e = client_request(c, &t, "POST", path, body, job);
	json_decref(body);
	return e;
}

/* A session's jobs. */
tether_err tether_job_list(tether_client *c, const char *session, json_t **jobs)
{
	struct target t;
	char ref[BOUND_NAME + 1], path[200];
	json_t *reply = NULL;
	tether_err e = jobs_path(c, session, NULL, &t, ref, path, sizeof path);
	if (e == TETHER_E_OK) {
		all_users_query(c, path, sizeof path);
		e = client_request(c, &t, "GET", path, NULL, &reply);
	}
	if (e != TETHER_E_OK)
		return e;
	*jobs = json_incref(json_object_get(reply, "jobs"));
	json_decref(reply);
	return *jobs ? TETHER_E_OK : client_fail(c, TETHER_E_PROTOCOL, "reply without jobs");
}

/* One job. */
tether_err tether_job_get(tether_client *c, const char *session, const char *job,
                          json_t **out)
{
	struct target t;
	char ref[BOUND_NAME + 1], path[200];
	tether_err e = jobs_path(c, session, job, &t, ref, path, sizeof path);
	return e == TETHER_E_OK ? client_request(c, &t, "GET", path, NULL, out) : e;
}

/* Stop a job (TERM, grace, KILL on the server). */
tether_err tether_job_stop(tether_client *c, const char *session, const char *job,
                           json_t **out)
{
	struct target t;
	char ref[BOUND_NAME + 1], path[220];
	tether_err e = jobs_path(c, session, job, &t, ref, path, sizeof path);
	if (e != TETHER_E_OK)
		return e;
	strncat(path, "/stop", sizeof path - strlen(path) - 1);
	all_users_query(c, path, sizeof path);
	json_t *body = json_pack("{s:s}", "signal", "TERM");
	e = client_request(c, &t, "POST", path, body, out);
	json_decref(body);
	return e;
}

/* Remove a job (force: stop it first if it runs). */
tether_err tether_job_remove(tether_client *c, const char *session, const char *job,
                             int force, json_t **out)
{
	struct target t;
	char ref[BOUND_NAME + 1], path[220];
	tether_err e = jobs_path(c, session, job, &t, ref, path, sizeof path);
	if (e != TETHER_E_OK)
		return e;
	if (force)
		strncat(path, "?force=1", sizeof path - strlen(path) - 1);
	all_users_query(c, path, sizeof path);
	return client_request(c, &t, "DELETE", path, NULL, out);
}

/* Receive a job's undelivered output. */
tether_err tether_job_receive(tether_client *c, const char *session, const char *job,
                              int keep, int wait, const struct tether_output *out,
                              int *status, json_t **final)
{
	struct target t;
	char ref[BOUND_NAME + 1];
	json_t *j = NULL;
	tether_err e = tether_job_get(c, session, job, &j);
	if (e != TETHER_E_OK)
		return e;
	int64_t id = json_integer_value(json_object_get(j, "id"));
	json_decref(j);
	if ((e = client_resolve_session(c, session, &t, ref)) != TETHER_E_OK)
		return e;
	/* the offset defaults to the delivered cursor on the server: ask without one */
	e = job_stream_to(c, &t, ref, id, -1, keep, wait, out, status);
	if (e == TETHER_E_OK && final != NULL) {
		char idtext[24];
		snprintf(idtext, sizeof idtext, "%lld", (long long)id);
		e = tether_job_get(c, session, idtext, final);
	}
	return e;
}
