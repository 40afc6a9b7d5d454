/*
 * shell.c - the interactive shell of a session (tether enter): open or
 * re-attach, send keystrokes and window sizes, follow its output.
 *
 * Keystrokes go as base64 in small JSON requests on this client's kept-alive
 * connection; the output is the shell job's ordinary output stream, so the
 * streaming, acknowledgement and re-attach machinery is the same as for
 * any job. Use one tether_client for input and another (in another thread)
 * for output: a tether_client is not thread-safe.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client-int.h"
#include "crypto.h"

tether_err tether_shell_open(tether_client *c, const char *session, int rows, int cols,
                             const char *term, json_t **job, int64_t *offset)
{
	struct target t;
	json_t *body = json_object();
	if (rows > 0 && cols > 0) {
		json_object_set_new(body, "rows", json_integer(rows));
		json_object_set_new(body, "cols", json_integer(cols));
	}
	if (term != NULL)
		json_object_set_new(body, "term", json_string(term));
	tether_err e = client_session_request(c, "POST", session, "shell", body, job, &t);
	json_decref(body);
	if (e != TETHER_E_OK)
		return e;
	json_t *id = json_object_get(*job, "id"), *off = json_object_get(*job, "replay_offset");
	if (!json_is_integer(id) || !json_is_integer(off) || json_integer_value(off) < 0) {
		json_decref(*job);
		*job = NULL;
		return client_fail(c, TETHER_E_PROTOCOL, "shell reply without a job id or offset");
	}
	*offset = json_integer_value(off);
	return TETHER_E_OK;
}

/* POST one input request (and release its body). */
static tether_err post_input(tether_client *c, const char *session, int64_t job, json_t *body)
{
	struct target t;
	char sub[64];
	snprintf(sub, sizeof sub, "jobs/%lld/input", (long long)job);
	tether_err e = client_session_request(c, "POST", session, sub, body, NULL, &t);
	json_decref(body);
	return e;
}

tether_err tether_shell_input(tether_client *c, const char *session, int64_t job,
                              const void *data, size_t len)
{
	char enc[TETHER_SHELL_INPUT_MAX * 4 / 3 + 8];
	if (len > TETHER_SHELL_INPUT_MAX)
		return client_fail(c, TETHER_E_USAGE, "at most %d bytes of input at a time",
		                   TETHER_SHELL_INPUT_MAX);
	crypto_b64_encode(data, len, false, true, enc, sizeof enc);
	return post_input(c, session, job, json_pack("{s:s}", "data", enc));
}

tether_err tether_shell_resize(tether_client *c, const char *session, int64_t job, int rows,
                               int cols)
{
	return post_input(c, session, job, json_pack("{s:i,s:i}", "rows", rows, "cols", cols));
}

tether_err tether_shell_output(tether_client *c, const char *session, int64_t job,
                               int64_t offset, const struct tether_output *out, int *status)
{
	struct target t;
	char ref[BOUND_NAME + 1];
	tether_err e = client_resolve_session(c, session, &t, ref);
	if (e != TETHER_E_OK)
		return e;
	/* a terminal attaches at the server's replay (docs/jobs.md): what
	 * an earlier stream of this client noted when it broke off (a long poll
	 * answered 409 after a detach) must not skip the replay's start */
	cursor_take(c, &t, job);
	return job_stream_to(c, &t, ref, job, offset, false, true, out, status);
}
