/*
 * transfer.c - transfer jobs (BITS-style): start, list, show, act, set.
 *
 * A transfer is a job the server runs on its own host: it downloads URLs
 * (or copies local files) there, or uploads files from there, and keeps
 * going while no client is connected. The client only creates the job
 * record and asks after it, so these calls are thin: one request each, on
 * "/v1/sessions/REF/transfers[/JOB[/ACTION]]", answering with the transfer
 * object as the server sent it. Waiting and progress display are the
 * caller's business (the CLI polls tether_transfer_get).
 */
#include <stdio.h>
#include <string.h>

#include "client-int.h"

/* Make "transfers", "transfers/JOB" or "transfers/JOB/ACTION" after
 * checking JOB the way every job verb does. */
static tether_err transfers_sub(tether_client *c, const char *job, const char *action,
                                char *out, size_t outsz)
{
	if (job != NULL && !client_job_ref_ok(job))
		return client_fail(c, TETHER_E_USAGE, "invalid job '%s': a numeric id or a name",
		                   job);
	snprintf(out, outsz, "transfers%s%s%s%s", job ? "/" : "", job ? job : "",
	         action ? "/" : "", action ? action : "");
	return TETHER_E_OK;
}

/* One request on a session's transfers; *out gets the reply object. */
static tether_err transfer_call_q(tether_client *c, const char *method, const char *session,
                                  const char *job, const char *action, const char *query,
                                  json_t *body, json_t **out)
{
	struct target t;
	char sub[BOUND_NAME + 80];
	*out = NULL;
	tether_err e = transfers_sub(c, job, action, sub, sizeof sub);
	if (e == TETHER_E_OK && query != NULL) {
		size_t n = strlen(sub);
		snprintf(sub + n, sizeof sub - n, "?%s", query);
	}
	if (e == TETHER_E_OK)
		e = client_session_request(c, method, session, sub, body, out, &t);
	if (e == TETHER_E_OK && !json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		return client_fail(c, TETHER_E_PROTOCOL, "reply without a transfer object");
	}
	return e;
}

static tether_err transfer_call(tether_client *c, const char *method, const char *session,
                                const char *job, const char *action, json_t *body,
                                json_t **out)
{
	return transfer_call_q(c, method, session, job, action, NULL, body, out);
}

/* Create a transfer job (or several files in one job). */
tether_err tether_transfer_start(tether_client *c, const char *session, json_t *request,
                                 json_t **out)
{
	*out = NULL;
	if (!json_is_object(request))
		return client_fail(c, TETHER_E_USAGE, "a transfer request must be a JSON object");
	return transfer_call(c, "POST", session, NULL, NULL, request, out);
}

/* A session's transfer jobs (an array). */
tether_err tether_transfer_list(tether_client *c, const char *session, json_t **transfers)
{
	json_t *reply = NULL;
	*transfers = NULL;
	tether_err e = transfer_call_q(c, "GET", session, NULL, NULL,
	                               c->all_users ? "all_users=1" : NULL, NULL, &reply);
	if (e != TETHER_E_OK)
		return e;
	json_t *arr = json_object_get(reply, "transfers");
	if (!json_is_array(arr)) {
		json_decref(reply);
		return client_fail(c, TETHER_E_PROTOCOL, "reply without transfers");
	}
	*transfers = json_incref(arr);
	json_decref(reply);
	return TETHER_E_OK;
}

/* One transfer job. */
tether_err tether_transfer_get(tether_client *c, const char *session, const char *job,
                               json_t **out)
{
	return transfer_call(c, "GET", session, job, NULL, NULL, out);
}

/* One transfer job, the server holding the answer while it runs. */
tether_err tether_transfer_wait(tether_client *c, const char *session, const char *job,
                                int wait, json_t **out)
{
	char q[32];
	snprintf(q, sizeof q, "wait=%d", wait < 0 ? 0 : wait > 60 ? 60 : wait);
	return transfer_call_q(c, "GET", session, job, NULL, q, NULL, out);
}

/* complete, suspend, resume (POST .../ACTION) or remove (DELETE). */
tether_err tether_transfer_action(tether_client *c, const char *session, const char *job,
                                  const char *action, json_t **out)
{
	static const char *const posted[] = { "complete", "suspend", "resume" };
	/* complete is the owner's own (it puts the files in place) */
	const char *q = c->all_users && action != NULL && strcmp(action, "complete") != 0
		? "all_users=1" : NULL;
	*out = NULL;
	if (job == NULL)
		return client_fail(c, TETHER_E_USAGE, "no transfer job given");
	if (action != NULL && strcmp(action, "remove") == 0)
		return transfer_call_q(c, "DELETE", session, job, NULL, q, NULL, out);
	for (size_t i = 0; action != NULL && i < sizeof posted / sizeof posted[0]; i++)
		if (strcmp(action, posted[i]) == 0)
			return transfer_call_q(c, "POST", session, job, action, q, NULL, out);
	return client_fail(c, TETHER_E_USAGE, "unknown transfer action '%s'",
	                   action ? action : "(none)");
}

/* Change a job's priority, rate limit or timeouts. */
tether_err tether_transfer_set(tether_client *c, const char *session, const char *job,
                               json_t *changes, json_t **out)
{
	*out = NULL;
	if (job == NULL)
		return client_fail(c, TETHER_E_USAGE, "no transfer job given");
	if (!json_is_object(changes) || json_object_size(changes) == 0)
		return client_fail(c, TETHER_E_USAGE, "nothing to change");
	return transfer_call(c, "PATCH", session, job, NULL, changes, out);
}
