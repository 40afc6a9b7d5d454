/*
 * output.c - how tether shows results and failures.
 *
 * People get aligned tables and one clear line per failure on stderr;
 * scripts (--json) get exactly one JSON document on stdout, errors included
 * ({"error": {"code", "message"}}). A changed server key is shouted, like
 * ssh does, whatever the output mode.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "bounds.h"
#include "cmd.h"
#include "strparse.h"
#include "timeu.h"

/* Print a library failure and pick the exit status. */
int out_fail(struct cmd_ctx *x, tether_err e)
{
	const char *msg = x->c ? tether_last_error(x->c) : "";
	if (msg[0] == '\0')
		msg = tether_strerror(e);
	if (e == TETHER_E_HOSTKEY_CHANGED)
		fputs("@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n"
		      "@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n"
		      "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n",
		      stderr);
	if (x->json) {
		const char *code = x->c ? tether_last_error_code(x->c) : "";
		json_t *doc = json_pack("{s:{s:s,s:s}}", "error", "code",
		                        code[0] ? code : tether_err_code(e), "message", msg);
		out_json(doc);
		json_decref(doc);
	} else {
		fprintf(stderr, "tether: %s\n", msg);
	}
	return e == TETHER_E_USAGE ? EXIT_USAGE : EXIT_TETHER;
}

/* Report one failure of a multi-target command: a line on stderr now, and
 * remember the first for out_finish_multi (so --json stays one document). */
void out_fail_multi(struct cmd_ctx *x, tether_err e)
{
	const char *msg = tether_last_error(x->c);
	if (e == TETHER_E_HOSTKEY_CHANGED || !x->json) {
		int json = x->json;
		x->json = 0;
		out_fail(x, e);
		x->json = json;
	} else {
		fprintf(stderr, "tether: %s\n", msg[0] ? msg : tether_strerror(e));
	}
	if (x->first_err == TETHER_E_OK) {
		x->first_err = e;
		snprintf(x->first_msg, sizeof x->first_msg, "%s", msg[0] ? msg : tether_strerror(e));
		snprintf(x->first_code, sizeof x->first_code, "%s",
		         tether_last_error_code(x->c)[0] ? tether_last_error_code(x->c)
		                                         : tether_err_code(e));
	}
}

/* Finish a multi-target command: print results (or, with --json and a
 * failure, the error document) and return the exit status. */
int out_finish_multi(struct cmd_ctx *x, json_t *results, void (*table)(json_t *))
{
	if (x->json && x->first_err != TETHER_E_OK) {
		json_t *doc = json_pack("{s:{s:s,s:s}}", "error", "code", x->first_code,
		                        "message", x->first_msg);
		if (json_array_size(results) > 0)   /* what did succeed, alongside */
			json_object_set(doc, "results", results);
		out_json(doc);
		json_decref(doc);
	} else if (x->json) {
		out_json(results);
	} else if (table != NULL) {
		table(results);
	}
	if (x->first_err == TETHER_E_OK)
		return 0;
	return x->first_err == TETHER_E_USAGE ? EXIT_USAGE : EXIT_TETHER;
}

/* A multi-target command over its operands; see cmd.h. */
int out_each(struct cmd_ctx *x, const struct args *a, out_each_fn fn, void *ctx,
             void (*table)(json_t *))
{
	json_t *all = json_array();
	for (int i = 0; i < a->argc; i++) {
		json_t *o = NULL;
		tether_err e = fn(x, ctx, a->argv[i], &o);
		if (e != TETHER_E_OK) {
			json_decref(o);
			out_fail_multi(x, e);
			continue;
		}
		json_array_append_new(all, o);
	}
	int rc = out_finish_multi(x, all, table);
	json_decref(all);
	return rc;
}

/* Print a usage error. */
int out_usage(const struct cmd_entry *ce, const char *fmt, ...)
{
	va_list ap;
	fputs("tether: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: tether %s %s\n", ce->name, ce->usage);
	return EXIT_USAGE;
}

/* Pretty-print JSON. */
int out_result(struct cmd_ctx *x, tether_err e, json_t *v, void (*table)(json_t *))
{
	if (e != TETHER_E_OK) {
		json_decref(v);
		return out_fail(x, e);
	}
	if (x->json) {
		out_json(v);
	} else {
		json_t *rows = json_is_array(v) ? json_incref(v) : json_pack("[O]", v);
		table(rows);
		json_decref(rows);
	}
	json_decref(v);
	return 0;
}

void out_json(json_t *v)
{
	json_dumpf(v, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	putchar('\n');
}

/* A string field or "-". */
static const char *field(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s && s[0] ? s : "-";
}

/* Print sessions as rows of a table, like Get-PSSession: the header first
 * if *header is false (it is then true). */
void out_sessions_rows(json_t *sessions, bool owners, bool *header)
{
	size_t i;
	json_t *s;
	if (json_array_size(sessions) == 0)
		return;
	if (!*header) {
		if (owners)
			printf("%-12s ", "OWNER");
		printf("%-6s %-20s %-22s %-13s %-12s %s\n", "ID", "NAME", "HOST", "STATE",
		       "AVAILABILITY", "IDLE_TIMEOUT");
		*header = true;
	}
	json_array_foreach(sessions, i, s) {
		if (owners)
			printf("%-12s ", field(s, "owner"));
		printf("%-6lld %-20s %-22s %-13s %-12s %llds\n",
		       (long long)json_integer_value(json_object_get(s, "id")),
		       field(s, "name"), field(s, "host"), field(s, "state"),
		       field(s, "availability"),
		       (long long)json_integer_value(json_object_get(s, "idle_timeout")));
	}
}

/* Print sessions as a table (a note on stderr if there are none). */
static void sessions_table(json_t *sessions, bool owners)
{
	bool header = false;
	out_sessions_rows(sessions, owners, &header);
	if (!header)
		fprintf(stderr, "no sessions\n");   /* a note, not a row: stdout stays empty */
}

void out_sessions_table(json_t *sessions)
{
	sessions_table(sessions, false);
}

/* Print jobs (an array) as a table, like Get-Job; NAME and LOCATION widen
 * to fit their longest value. */
void out_jobs_table(json_t *jobs)
{
	size_t i;
	json_t *j;
	int wname = 16, wloc = 12;
	if (json_array_size(jobs) == 0) {
		fprintf(stderr, "no jobs\n");
		return;
	}
	json_array_foreach(jobs, i, j) {
		int n = (int)strlen(field(j, "name")), l = (int)strlen(field(j, "location"));
		wname = n > wname ? n : wname;
		wloc = l > wloc ? l : wloc;
	}
	/* an all-users list names each job's owner */
	bool owners = json_object_get(json_array_get(jobs, 0), "owner") != NULL;
	if (owners)
		printf("%-12s ", "OWNER");
	printf("%-6s %-*s %-11s %-14s %-11s %-*s %s\n", "ID", wname, "NAME", "TYPE", "STATE",
	       "HASMOREDATA", wloc, "LOCATION", "COMMAND");
	json_array_foreach(jobs, i, j) {
		if (owners)
			printf("%-12s ", field(j, "owner"));
		printf("%-6lld %-*s %-11s %-14s %-11s %-*s %.60s\n",
		       (long long)json_integer_value(json_object_get(j, "id")),
		       wname, field(j, "name"), field(j, "type"), field(j, "state"),
		       json_is_true(json_object_get(j, "has_more_data")) ? "True" : "False",
		       wloc, field(j, "location"), field(j, "command"));
	}
}

/* Join the remote command's words (after an optional "--") with spaces. */
int cmd_command_words(const struct cmd_entry *ce, const struct args *a, struct buf *cmd)
{
	int first = a->nwords > 0 && strcmp(a->words[0], "--") == 0 ? 1 : 0;
	if (first >= a->nwords) {
		out_usage(ce, "no COMMAND given");
		return -1;
	}
	buf_init(cmd, BOUND_BODY_COMMAND - 1024);   /* room for the JSON around it */
	for (int i = first; i < a->nwords; i++)
		if (buf_printf(cmd, "%s%s", i > first ? " " : "", a->words[i]) != 0) {
			buf_free(cmd);
			out_usage(ce, "COMMAND is too long");
			return -1;
		}
	return 0;
}

/* Parse a number option; see cmd.h. */
int cmd_number(const struct cmd_entry *ce, const struct args *a, const char *name,
               uint64_t min, uint64_t max, int64_t *out)
{
	const char *text = args_get(a, name);
	uint64_t v;
	if (text == NULL)
		return 0;
	if (strparse_u64(text, min, max, &v) != 0) {
		out_usage(ce, "--%s takes a whole number from %llu to %llu", name,
		          (unsigned long long)min, (unsigned long long)max);
		return -1;
	}
	*out = (int64_t)v;
	return 0;
}

/* --timeout as a deadline; see cmd.h. */
int cmd_wait_deadline(const struct cmd_entry *ce, const struct args *a, int64_t *deadline_ms)
{
	const char *text = args_get(a, "timeout");
	int64_t ms;
	*deadline_ms = 0;
	if (text == NULL)
		return 0;
	if (strparse_seconds_ms(text, 1, WAIT_TIMEOUT_MAX_MS, &ms) != 0) {
		out_usage(ce, "--timeout takes seconds (up to three decimals: 0.5), at most a year");
		return -1;
	}
	*deadline_ms = timeu_mono_ms() + ms;
	return 0;
}

/* Time left before a wait's deadline. */
int64_t cmd_wait_left_ms(int64_t deadline_ms)
{
	if (deadline_ms == 0)
		return INT64_MAX;
	int64_t left = deadline_ms - timeu_mono_ms();
	return left > 0 ? left : 0;
}

/* A wait that ran out of time. */
int out_timed_out(const struct args *a)
{
	fprintf(stderr, "tether: timed out after %s seconds\n", args_get(a, "timeout"));
	return EXIT_TIMEOUT;
}
