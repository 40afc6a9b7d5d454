/*
 * job.c - invoking commands and streaming their output.
 *
 * Output arrives as output-log records (common/outlog.h) from a byte
 * offset; each request for the next offset acknowledges what came before,
 * so a client that dies mid-stream costs the next receiver at most a repeat
 * of the last unacknowledged chunk, never a gap. A final request at the end
 * offset acknowledges everything.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "client-int.h"
#include "outlog.h"
#include "proto.h"

#define POLL_WAIT 20   /* seconds the server may hold an output request */

/* Remember the caller's interrupt flag. */
void tether_set_interrupt(tether_client *c, volatile sig_atomic_t *flag)
{
	c->interrupt = flag;
}

/* outlog_parse callback: hand a record to the caller's writer. */
static int deliver(void *ctx, int stream, const uint8_t *data, size_t len)
{
	const struct tether_output *out = ctx;
	return out->write(out->ctx, stream, data, len) == 0 ? 0 : 1;
}

/* Send a signal to the job (without the interrupt flag aborting it). */
static void send_stop(tether_client *c, struct target *t, const char *base, const char *sig)
{
	char path[256];
	volatile sig_atomic_t *flag = c->interrupt;
	c->interrupt = NULL;
	snprintf(path, sizeof path, "%s/stop", base);
	json_t *body = json_pack("{s:s}", "signal", sig);
	client_request(c, t, "POST", path, body, NULL);
	json_decref(body);
	c->interrupt = flag;
}

/* Stream a job's output from offset until it ends. */
static tether_err stream(tether_client *c, struct target *t, const char *ref, int64_t job,
                         int64_t offset, const struct tether_output *out, int *status)
{
	char base[160], path[256];
	int interrupts = 0;
	snprintf(base, sizeof base, "%s/sessions/%s/jobs/%lld", TETHER_API_PREFIX, ref,
	         (long long)job);
	for (;;) {
		struct buf raw;
		struct reply_info ri;
		snprintf(path, sizeof path, "%s/output?offset=%lld&wait=%d", base,
		         (long long)offset, POLL_WAIT);
		tether_err e = client_exchange(c, t, "GET", path, NULL, NULL, &raw, &ri);
		if (e == TETHER_E_INTERRUPTED) {
			*c->interrupt = 0;
			send_stop(c, t, base, interrupts++ == 0 ? "INT" : "KILL");
			continue;
		}
		if (e != TETHER_E_OK)
			return e;
		long used = outlog_parse((const uint8_t *)raw.data, raw.len, deliver, (void *)out);
		buf_free(&raw);
		if (used < 0)
			return client_fail(c, TETHER_E_IO, "cannot write the output");
		if (ri.next < offset)
			return client_fail(c, TETHER_E_PROTOCOL, "server went backwards in the output");
		offset = ri.next;
		if (ri.done) {
			*status = ri.signal ? 128 + ri.signal : ri.exit_code >= 0 ? ri.exit_code : 255;
			/* acknowledge the end, so nothing shows as undelivered */
			snprintf(path, sizeof path, "%s/output?offset=%lld", base, (long long)offset);
			client_exchange(c, t, "GET", path, NULL, NULL, &raw, &ri);
			buf_free(&raw);
			return TETHER_E_OK;
		}
	}
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
tether_err tether_invoke(tether_client *c, const char *session, const char *command,
                         const struct tether_output *out, int *status, json_t **job)
{
	struct target t;
	char ref[BOUND_NAME + 1];
	json_t *reply = NULL;
	int64_t id;
	if (job != NULL)
		*job = NULL;
	tether_err e = start(c, session, command, &t, ref, &reply, &id);
	json_decref(reply);
	if (e != TETHER_E_OK)
		return e;
	e = stream(c, &t, ref, id, 0, out, status);
	if (e == TETHER_E_OK)
		final_job(c, &t, ref, id, job);
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
