/*
 * api-shell.c - interactive shells: open or re-attach, and input.
 *
 * A shell is an exclusive job of type "shell" whose supervisor owns a pty.
 * Its output is read like any job's (GET .../output); keystrokes and window
 * sizes come in through POST .../input. A shell outlives its client: a
 * detach is just a session disconnect, and opening a shell in a session
 * that already runs one re-attaches to it, replaying the last 64 KiB.
 *
 * The same input route feeds a command's stdin (invoke "stdin": true). Its
 * pieces may carry the stdin offset they start at: the route keeps a
 * count of what the command's stdin has taken beside the job, so a client
 * whose connection was cut after a post can post the same piece again and
 * nothing is written twice (docs/sessions.md, "stdin").
 */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "crypto.h"
#include "jobs.h"
#include "jsonu.h"
#include "joblog.h"

#define REPLAY_BYTES (64 * 1024)
#define ROWS_MAX 1000
#define COLS_MAX 2000

/* Read optional "rows" and "cols" into rows/cols (0 if absent). */
static tether_err window_size(struct req *r, int64_t *rows, int64_t *cols)
{
	char why[160];
	*rows = *cols = 0;
	if (r->in != NULL &&
	    (jsonu_get_int(r->in, "rows", false, 1, ROWS_MAX, rows, why, sizeof why) == JSONU_BAD ||
	     jsonu_get_int(r->in, "cols", false, 1, COLS_MAX, cols, why, sizeof why) == JSONU_BAD))
		return req_error(r, TETHER_E_INVALID_ARGUMENT, "%s", why);
	if ((*rows == 0) != (*cols == 0))
		return req_error(r, TETHER_E_INVALID_ARGUMENT, "rows and cols go together");
	return TETHER_E_OK;
}

/* A TERM value: letters, digits and . + _ - only. */
static bool valid_term(const char *t)
{
	size_t n = strlen(t);
	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((t[i] >= 'a' && t[i] <= 'z') || (t[i] >= 'A' && t[i] <= 'Z') ||
		      (t[i] >= '0' && t[i] <= '9') || strchr(".+_-", t[i]) != NULL))
			return false;
	return true;
}

/* Reply with the shell job and where a client should start reading. */
static tether_err reply_shell(struct req *r, int status, const struct session_rec *s,
                              const struct job_rec *j, int64_t replay)
{
	json_t *o = api_job_json(r, s, j);
	json_object_set_new(o, "replay_offset", json_integer(replay));
	return req_reply(r, status, o);
}

/* POST /v1/sessions/{ref}/shell {"rows"?, "cols"?, "term"?} -> 201 a new
 * shell, or 200 the running one (re-attach), each with "replay_offset". */
tether_err api_shell_open(struct req *r)
{
	struct session_rec s;
	struct job_rec j;
	struct jobs_pty pty = { .rows = 24, .cols = 80, .term = "xterm-256color" };
	const char *term = NULL;
	int64_t rows, cols;
	char why[160];
	if (window_size(r, &rows, &cols) != TETHER_E_OK)
		return r->err;
	if (r->in != NULL &&
	    jsonu_get_string(r->in, "term", false, 64, &term, why, sizeof why) == JSONU_BAD)
		return req_error(r, TETHER_E_INVALID_ARGUMENT, "%s", why);
	if (term != NULL && !valid_term(term))
		return req_error(r, TETHER_E_INVALID_ARGUMENT,
		                 "term may hold only letters, digits, '.', '+', '_' and '-'");
	if (api_load_session(r, &s) != TETHER_E_OK || api_require_holder(r, &s) != TETHER_E_OK)
		return r->err;
	tether_err e = store_job_latest(r->srv->store, s.id, &j);
	if (e == TETHER_E_OK && (j.state == JOB_RUNNING || j.state == JOB_BLOCKED) &&
	    !jobs_settle(r->srv, &j)) {
		if (j.type != JOB_TYPE_SHELL) {
			job_rec_clear(&j);
			return req_error(r, TETHER_E_CONFLICT, "session '%s' is busy: a command is "
			                 "running in it", s.name);
		}
		/* re-attach: the new terminal's size, and the recent output */
		if (rows > 0)
			jobs_input(j.id, NULL, 0, (int)rows, (int)cols, false, why, sizeof why);
		reply_shell(r, 200, &s, &j, joblog_replay_from(j.id, REPLAY_BYTES));
		job_rec_clear(&j);
		return TETHER_E_OK;
	}
	if (e == TETHER_E_OK)
		job_rec_clear(&j);
	if (rows > 0) {
		pty.rows = (int)rows;
		pty.cols = (int)cols;
	}
	if (term != NULL)
		snprintf(pty.term, sizeof pty.term, "%s", term);
	if (api_create_job(r, &s, JOB_TYPE_SHELL, "(interactive shell)", NULL, &pty, true,
	                   &j) != TETHER_E_OK)
		return r->err;
	return reply_shell(r, 201, &s, &j, 0);
}

/* A command's stdin: write bytes[0..n) that start at stdin offset (-1: at
 * the end of what came), skipping what an earlier post gave, then with
 * eof its end once all of it is in; reply with "written" (of these n, what
 * the command now has), "received" (its whole stdin so far) and, for eof,
 * "eof" (true: the end was passed on; false: post it again). */
static tether_err command_input(struct req *r, const struct job_rec *j, const uint8_t *bytes,
                                long n, bool eof, int64_t offset)
{
	int64_t count = 0;
	long skip = 0, taken = 0, ended = -2;
	char why[160];
	int fd = jobs_input_count_lock(j->id, &count);
	if (fd < 0)
		return req_error(r, TETHER_E_CONFLICT, "job '%s' is not taking input", j->name);
	if (offset > count) {
		jobs_input_count_unlock(fd, count);
		return req_error(r, TETHER_E_CONFLICT, "input offset %lld is past the %lld bytes "
		                 "job '%s' has taken", (long long)offset, (long long)count, j->name);
	}
	if (offset >= 0)
		skip = count - offset < n ? (long)(count - offset) : n;
	if (n > skip)
		taken = jobs_input(j->id, bytes + skip, (size_t)(n - skip), 0, 0, false, why,
		                   sizeof why);
	if (taken == -1) {
		jobs_input_count_unlock(fd, count);
		return req_error(r, TETHER_E_CONFLICT, "%s", why);
	}
	taken = taken < 0 ? 0 : taken;   /* -2: not read yet, the client tries again */
	count += taken;
	if (eof && skip + taken == n &&
	    (ended = jobs_input(j->id, NULL, 0, 0, 0, true, why, sizeof why)) == -1) {
		jobs_input_count_unlock(fd, count);
		return req_error(r, TETHER_E_CONFLICT, "%s", why);
	}
	jobs_input_count_unlock(fd, count);
	json_t *o = json_pack("{s:I,s:I}", "written", (json_int_t)(skip + taken),
	                      "received", (json_int_t)count);
	if (eof)
		json_object_set_new(o, "eof", json_boolean(ended >= 0));
	return req_reply(r, 200, o);
}

/* POST .../jobs/{job}/input {"data"?: base64, "eof"?, "offset"?, "rows"?,
 * "cols"?} -> 200 {"written", "received"?} */
tether_err api_shell_input(struct req *r)
{
	struct session_rec s;
	struct job_rec j;
	const char *data = NULL;
	int64_t rows, cols, offset = -1;
	char why[160];
	uint8_t *decoded = NULL;       /* base64 data, decoded */
	const uint8_t *bytes = NULL;   /* what to write: decoded, or the raw body */
	long n = 0, taken = 0;
	bool eof = false;
	if (window_size(r, &rows, &cols) != TETHER_E_OK)
		return r->err;
	if (r->in != NULL &&
	    (jsonu_get_string(r->in, "data", false, BOUND_BODY_INPUT, &data, why,
	                      sizeof why) == JSONU_BAD ||
	     jsonu_get_bool(r->in, "eof", false, &eof, why, sizeof why) == JSONU_BAD ||
	     jsonu_get_int(r->in, "offset", false, 0, INT64_MAX, &offset, why,
	                   sizeof why) == JSONU_BAD))
		return req_error(r, TETHER_E_INVALID_ARGUMENT, "%s", why);
	if (r->in_raw) {   /* the bytes as they are; offset and eof in the query */
		int64_t end;
		if (req_query_i64(r, "offset", 0, INT64_MAX, -1, &offset) != 0 ||
		    req_query_i64(r, "eof", 0, 1, 0, &end) != 0)
			return r->err;
		eof = end == 1;
		n = (long)r->body.len;
		bytes = (const uint8_t *)r->body.data;
		if (n == 0 && !eof)
			return req_error(r, TETHER_E_INVALID_ARGUMENT, "give bytes, or eof=1");
	} else if (data == NULL && rows == 0 && !eof) {
		return req_error(r, TETHER_E_INVALID_ARGUMENT, "give data (base64), eof, or rows "
		                 "and cols");
	}
	if (data != NULL && (bytes = decoded = malloc(BOUND_INPUT_DATA)) == NULL)
		return req_error(r, TETHER_E_INTERNAL, "out of memory");
	if (data != NULL && (n = crypto_b64_decode(data, decoded, BOUND_INPUT_DATA)) < 0) {
		free(decoded);
		return req_error(r, TETHER_E_INVALID_ARGUMENT, "data is not valid base64, or "
		                 "decodes to more than %u bytes", BOUND_INPUT_DATA);
	}
	if (api_load_session(r, &s) != TETHER_E_OK || api_require_holder(r, &s) != TETHER_E_OK ||
	    api_load_job(r, &s, &j) != TETHER_E_OK) {
		free(decoded);
		return r->err;
	}
	tether_err e = TETHER_E_OK;
	bool shell = j.type == JOB_TYPE_SHELL;
	if (j.type == JOB_TYPE_TRANSFER || (j.state != JOB_RUNNING && j.state != JOB_BLOCKED) ||
	    (shell && (eof || offset >= 0)) || (!shell && rows > 0)) {
		e = req_error(r, TETHER_E_CONFLICT, shell ? "job '%s' is not a running shell, or a "
		              "terminal takes no eof or offset" : "job '%s' is not running, or takes "
		              "no window size", j.name);
		goto out;
	}
	if (!shell) {   /* a command's stdin may take part of the data: see command_input */
		e = command_input(r, &j, bytes, n, eof, offset);
		goto out;
	}
	if ((rows > 0 && jobs_input(j.id, NULL, 0, (int)rows, (int)cols, false, why,
	                            sizeof why) < 0) ||
	    (n > 0 && (taken = jobs_input(j.id, bytes, (size_t)n, 0, 0, false, why,
	                                  sizeof why)) < 0)) {
		e = req_error(r, TETHER_E_CONFLICT, "%s", why);
		goto out;
	}
	req_reply(r, 200, json_pack("{s:I}", "written", (json_int_t)taken));
out:
	job_rec_clear(&j);
	free(decoded);
	return e;
}
