/*
 * cmd-job.c - the job verbs: job start, list, receive, wait, stop, remove
 * (PowerShell's Start-Job, Get-Job, Receive-Job, Wait-Job, Stop-Job,
 * Remove-Job). With -s SESSION they act on jobs kept on the remote host;
 * without, on this client's local job table (jobs made by invoke --as-job,
 * whose output comes back here). The descriptors share this file because
 * they share their parsing, printing and waiting; only the library call
 * differs between the two forms.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bounds.h"
#include "cmd.h"
#include "strparse.h"
#include "timeu.h"

static int exec_start(struct cmd_ctx *x, const struct args *a);
static int exec_list(struct cmd_ctx *x, const struct args *a);
static int exec_receive(struct cmd_ctx *x, const struct args *a);
static int exec_wait(struct cmd_ctx *x, const struct args *a);
static int exec_stop(struct cmd_ctx *x, const struct args *a);
static int exec_remove(struct cmd_ctx *x, const struct args *a);

static const struct args_opt start_opts[] = {
	{ 0, "name", ARG_VALUE, "NAME", NULL },
	{ 0, NULL, 0, NULL, NULL },
};

/* The verbs other than start share one set of options. */
#define JOB_OPTS \
	{ 's', "session", ARG_VALUE, "SESSION", NULL }, \
	{ 0, "keep", 0, NULL, NULL }, \
	{ 0, "wait", 0, NULL, NULL }, \
	{ 0, "any", 0, NULL, NULL }, \
	{ 0, "force", 0, NULL, NULL }, \
	{ 0, "timeout", ARG_VALUE, "SECONDS", NULL }, \
	{ 0, "host", ARG_VALUE, "HOST", NULL }
static const struct args_opt job_opts[] = {
	JOB_OPTS,
	{ 0, NULL, 0, NULL, NULL },
};
/* list, stop and remove: the shared ones, and an administrator's --all-users */
static const struct args_opt admin_opts[] = {
	JOB_OPTS,
	{ 0, "all-users", 0, NULL, NULL },
	{ 0, NULL, 0, NULL, NULL },
};
#define ALL_USERS_HELP \
	"  --all-users             any user's (administrators only; needs -s): SESSION\n" \
	"                          is HOST/ID, the id from session list --all-users\n"
#define ONE_JOB   "expected exactly one JOB"
#define SOME_JOBS "expected at least one JOB"

/* How the two forms address a job, for every verb's help. */
#define JOB_FORMS \
	"  -s, --session SESSION   the jobs kept on the remote host in SESSION (from\n" \
	"                          job start and invoke); without -s, this client's\n" \
	"                          local jobs (from invoke --as-job), whose output\n" \
	"                          receive copies to this client\n" \
	"JOB is a job's id or name: the remote ones with -s, the local ones without.\n"

const struct cmd_entry cmd_job_start_entry = {
	"job start", "SESSION [--name NAME] -- COMMAND...",
	"start a background job in a session (from a snapshot of its state)",
	"  --name NAME             the job's name (default Job<ID>)\n"
	"The job is kept on the remote host: manage it with the job verbs and\n"
	"-s SESSION. For a job whose output comes back to this client, use\n"
	"tether invoke -s SESSION --as-job instead.\n",
	{ start_opts, 1, 1, "expected SESSION", ARGS_WORDS }, CMD_TARGET_SESSION, exec_start,
};
const struct cmd_entry cmd_job_list_entry = {
	"job list", "[-s SESSION [--all-users]]",
	"list a session's jobs, or (no -s) this client's local jobs",
	JOB_FORMS ALL_USERS_HELP
	"Without -s the state of unfinished local jobs is asked of their hosts; a\n"
	"host that cannot be reached shows its jobs as Disconnected. With\n"
	"--all-users each job shows its OWNER.\n"
	"Example:\n"
	"  tether job list -s srv/42 --all-users\n",
	{ admin_opts, 0, 0, NULL, 0 }, CMD_TARGET_NONE, exec_list,
};
const struct cmd_entry cmd_job_receive_entry = {
	"job receive", "[-s SESSION] JOB [--keep] [--wait] [--host HOST]",
	"print a job's undelivered output (--keep leaves it; --wait follows to the end)",
	JOB_FORMS
	"  --keep                  leave the output undelivered, to receive again\n"
	"  --wait                  follow the job until it ends; exit with its status\n"
	"  --host HOST             a fleet job's output from that host only\n"
	"A local job's new output is fetched from its host (and counts as received\n"
	"there), added to this client's copy, and printed from the copy; --keep\n"
	"applies to the copy. If the host cannot be reached, the copy is printed\n"
	"with a warning (exit 0; 255 if there was nothing to print, or with --wait).\n",
	{ job_opts, 1, 1, ONE_JOB, 0 }, CMD_TARGET_NONE, exec_receive,
};
const struct cmd_entry cmd_job_wait_entry = {
	"job wait", "[-s SESSION] JOB... [--any] [--timeout SECONDS]",
	"wait for jobs to end (all, or --any); exit 1 on timeout",
	JOB_FORMS
	"  --any                   return when any one of the jobs has ended\n"
	"  --timeout SECONDS       give up after this long (exit 1); decimals allowed\n"
	"Prints the jobs that have ended. A local job whose host cannot be reached\n"
	"ends the wait with exit 255.\n",
	{ job_opts, 1, -1, SOME_JOBS, 0 }, CMD_TARGET_NONE, exec_wait,
};
const struct cmd_entry cmd_job_stop_entry = {
	"job stop", "[-s SESSION [--all-users]] JOB...",
	"stop jobs (SIGTERM, grace, SIGKILL to their group)",
	JOB_FORMS ALL_USERS_HELP, { admin_opts, 1, -1, SOME_JOBS, 0 }, CMD_TARGET_NONE, exec_stop,
};
const struct cmd_entry cmd_job_remove_entry = {
	"job remove", "[-s SESSION [--all-users]] JOB... [--force]",
	"delete jobs and their output (--force stops running ones first)",
	JOB_FORMS ALL_USERS_HELP
	"  --force                 stop a running job first (else it is refused)\n"
	"A local job is removed on its host and here, with the output copied here.\n"
	"If its host cannot be reached it is kept, unless --force: then it is\n"
	"forgotten here (with a warning) and the remote job is left as it is.\n",
	{ admin_opts, 1, -1, SOME_JOBS, 0 }, CMD_TARGET_NONE, exec_remove,
};

struct job_opts {
	const char *session;
	const char *host;      /* receive: one child of a fleet job */
	int         keep, wait, any, force;
	int64_t     deadline;  /* --timeout's, on the monotonic clock in ms; 0 = none */
};

/* The shared options of a verb's arguments; 0, or -1 after a usage error. */
static int get_opts(const struct cmd_entry *ce, const struct args *a, struct job_opts *o)
{
	memset(o, 0, sizeof *o);
	o->session = args_get(a, "session");
	o->host = args_get(a, "host");
	o->keep = args_has(a, "keep");
	o->wait = args_has(a, "wait");
	o->any = args_has(a, "any");
	o->force = args_has(a, "force");
	return cmd_wait_deadline(ce, a, &o->deadline);
}

static int exec_start(struct cmd_ctx *x, const struct args *a)
{
	const char *name = args_get(a, "name"), *session = a->argv[0];
	int rc;
	/* "S1 S2 -- cmd" is refused rather than run as "S2 cmd" in S1 */
	if (a->before_dashdash > 1)
		return out_usage(&cmd_job_start_entry, "one SESSION before --; for the same "
		                 "session on several hosts use TARGETS/NAME");
	struct buf cmd;
	if (cmd_command_words(&cmd_job_start_entry, a, &cmd) != 0)
		return EXIT_USAGE;
	struct tether_fleet_req req = { .command = buf_cstr(&cmd), .job_name = name };
	if (fleet_session_verb(x, &cmd_job_start_entry, &x->target, TETHER_FLEET_JOB_START,
	                       &req, &rc)) {
		buf_free(&cmd);
		return rc;
	}
	json_t *job = NULL;
	tether_err e = tether_job_start(x->c, session, name, buf_cstr(&cmd), &job);
	buf_free(&cmd);
	return out_result(x, e, job, out_jobs_table);
}

/* --all-users (list, stop, remove): told to the client; it needs -s.
 * 0, or -1 after a usage error. */
static int all_users_opt(struct cmd_ctx *x, const struct cmd_entry *ce,
                         const struct args *a, const struct job_opts *o)
{
	bool all = args_has(a, "all-users");
	if (all && o->session == NULL) {
		out_usage(ce, "--all-users needs -s SESSION (a remote session)");
		return -1;
	}
	tether_set_all_users(x->c, all);
	return 0;
}

static int exec_list(struct cmd_ctx *x, const struct args *a)
{
	struct job_opts o;
	if (get_opts(&cmd_job_list_entry, a, &o) != 0 ||
	    all_users_opt(x, &cmd_job_list_entry, a, &o) != 0)
		return EXIT_USAGE;
	json_t *jobs = NULL;
	tether_err e = o.session ? tether_job_list(x->c, o.session, &jobs)
	                         : tether_local_job_list(x->c, &jobs);
	return out_result(x, e, jobs, out_jobs_table);
}

/* receive on a fleet job: each child's output in turn (all, or --host's),
 * lines prefixed with its host; --json: an array of per-host objects. With
 * --wait the status is 0 only if every child ran and exited 0. */
static int receive_fleet(struct cmd_ctx *x, const struct job_opts *o, const char *job,
                         json_t *kids)
{
	size_t i, shown = 0;
	json_t *k, *docs = json_array();
	int rc = 0;
	json_array_foreach(kids, i, k) {
		const char *host = json_string_value(json_object_get(k, "host"));
		char id[24];
		if (o->host != NULL && strcmp(o->host, host) != 0)
			continue;
		shown++;
		snprintf(id, sizeof id, "%lld", (long long)json_integer_value(json_object_get(k, "id")));
		int status = -1, local_only = 0;
		json_t *final = NULL;
		struct stream_out so;
		struct host_lines hl;
		struct tether_output lines;
		tether_err e;
		if (x->json) {
			stream_out_init(&so, x);
			e = tether_local_job_receive(x->c, id, o->keep, o->wait, &so.cb, &status,
			                             &local_only, &final);
			json_t *d = json_pack("{s:s,s:o}", "host", host, "exit_code",
			                      status >= 0 ? json_integer(status) : json_null());
			stream_out_put_bytes(d, "stdout", &so.out);
			stream_out_put_bytes(d, "stderr", &so.err);
			json_object_set_new(d, "error", e == TETHER_E_OK ? json_null()
			                    : json_pack("{s:s,s:s}", "code", tether_err_code(e),
			                                "message", tether_last_error(x->c)));
			json_array_append_new(docs, d);
			buf_free(&so.out);
			buf_free(&so.err);
		} else {
			stream_out_catch_sigint(x);
			host_lines_init(&hl, host);
			lines = host_lines_output(&hl);
			e = tether_local_job_receive(x->c, id, o->keep, o->wait, &lines, &status,
			                             &local_only, &final);
			host_lines_finish(&hl);
			if (e != TETHER_E_OK || local_only)
				fprintf(stderr, "tether: %s: %s\n", host, tether_last_error(x->c));
		}
		if (e != TETHER_E_OK || (o->wait && status != 0))
			rc = 1;
		json_decref(final);
	}
	if (x->json)
		out_json(docs);
	json_decref(docs);
	json_decref(kids);
	if (o->host != NULL && shown == 0) {
		fprintf(stderr, "tether: job '%s' has no child on host '%s'\n", job, o->host);
		return EXIT_TETHER;
	}
	return rc;
}

static int exec_receive(struct cmd_ctx *x, const struct args *a)
{
	struct job_opts o;
	const char *ref = a->argv[0];
	if (get_opts(&cmd_job_receive_entry, a, &o) != 0)
		return EXIT_USAGE;
	json_t *kids = NULL;
	if (o.session == NULL &&
	    tether_local_job_children(x->c, ref, &kids) == TETHER_E_OK && kids != NULL)
		return receive_fleet(x, &o, ref, kids);
	if (o.host != NULL)
		return out_usage(&cmd_job_receive_entry, "--host goes with a fleet job (one "
		                 "started with invoke --as-job on several hosts)");
	struct stream_out so;
	stream_out_init(&so, x);
	int status = -1, local_only = 0;
	json_t *job = NULL;
	tether_err e = o.session ? tether_job_receive(x->c, o.session, ref, o.keep,
	                                              o.wait, &so.cb, &status, &job)
	                         : tether_local_job_receive(x->c, ref, o.keep, o.wait,
	                                                    &so.cb, &status, &local_only, &job);
	if (e == TETHER_E_OK && local_only)
		fprintf(stderr, "tether: warning: %s; showed only the output held locally\n",
		        tether_last_error(x->c));
	/* with --wait the job's status is ours, like invoke; else success is 0,
	 * and --json says how the job ended (null while it runs) */
	so.job_exit = status;
	so.job_exit_set = true;
	return stream_out_done(x, &so, e, o.wait && status >= 0 ? status : 0, job);
}

/* One job, remote (-s) or local. */
static tether_err get_job(struct cmd_ctx *x, const struct job_opts *o, const char *job,
                          json_t **out)
{
	return o->session ? tether_job_get(x->c, o->session, job, out)
	                  : tether_local_job_get(x->c, job, out);
}

/* The job called ref (an id or a name) in a list of job objects, or NULL. */
static json_t *find_job(json_t *jobs, const char *ref)
{
	size_t i;
	json_t *j;
	json_array_foreach(jobs, i, j) {
		char id[32];
		snprintf(id, sizeof id, "%lld", (long long)json_integer_value(json_object_get(j, "id")));
		const char *name = json_string_value(json_object_get(j, "name"));
		if (strcmp(ref, id) == 0 || (name != NULL && strcmp(ref, name) == 0))
			return j;
	}
	return NULL;
}

/* True if a job object has ended (a transfer job: Transferred or past it,
 * or Error, as transfer wait sees it). */
static int ended(json_t *j)
{
	const char *st = json_string_value(json_object_get(j, "state"));
	return st && (strcmp(st, "Completed") == 0 || strcmp(st, "Failed") == 0 ||
	              strcmp(st, "Stopped") == 0 || strcmp(st, "Transferred") == 0 ||
	              strcmp(st, "Error") == 0 || strcmp(st, "Acknowledged") == 0 ||
	              strcmp(st, "Cancelled") == 0);
}

static int exec_wait(struct cmd_ctx *x, const struct args *a)
{
	struct job_opts o;
	if (get_opts(&cmd_job_wait_entry, a, &o) != 0)
		return EXIT_USAGE;
	for (;;) {
		json_t *done = json_array(), *listed = NULL;
		int all = 1, any = 0;
		/* remote jobs: one listing a round, however many jobs are waited on */
		if (o.session != NULL && tether_job_list(x->c, o.session, &listed) != TETHER_E_OK)
			listed = NULL;
		for (int i = 0; i < a->argc; i++) {
			json_t *j = json_incref(find_job(listed, a->argv[i]));
			tether_err e = j != NULL ? TETHER_E_OK : get_job(x, &o, a->argv[i], &j);
			if (e != TETHER_E_OK) {
				json_decref(j);
				json_decref(done);
				json_decref(listed);
				return out_fail(x, e);
			}
			if (ended(j)) {
				any = 1;
				json_array_append(done, j);
			} else {
				all = 0;
			}
			json_decref(j);
		}
		json_decref(listed);
		if (all || (o.any && any))
			return out_result(x, TETHER_E_OK, done, out_jobs_table);
		json_decref(done);
		int64_t left = cmd_wait_left_ms(o.deadline);
		if (left == 0)
			return out_timed_out(a);
		left = left < 200 ? left : 200;
		struct timespec pause = { 0, (long)left * 1000 * 1000 };
		nanosleep(&pause, NULL);
	}
}

/* What stop and remove do to one JOB. */
struct job_action {
	struct job_opts o;
	int             remove;
};

/* Stop or remove one job (out_each_fn), printing the warning it may carry. */
static tether_err act_on_job(struct cmd_ctx *x, void *ctx, const char *ref, json_t **j)
{
	const struct job_action *act = ctx;
	const struct job_opts *o = &act->o;
	tether_err e;
	if (o->session != NULL)
		e = act->remove ? tether_job_remove(x->c, o->session, ref, o->force, j)
		                : tether_job_stop(x->c, o->session, ref, j);
	else
		e = act->remove ? tether_local_job_remove(x->c, ref, o->force, j)
		                : tether_local_job_stop(x->c, ref, j);
	const char *warning = json_string_value(json_object_get(*j, "warning"));
	if (e == TETHER_E_OK && warning != NULL)
		fprintf(stderr, "tether: warning: job '%s': %s\n",
		        json_string_value(json_object_get(*j, "name")), warning);
	return e;
}

/* Stop or remove each JOB argument. */
static int each_job(struct cmd_ctx *x, const struct cmd_entry *ce, const struct args *a,
                    int remove)
{
	struct job_action act = { .remove = remove };
	if (get_opts(ce, a, &act.o) != 0 || all_users_opt(x, ce, a, &act.o) != 0)
		return EXIT_USAGE;
	return out_each(x, a, act_on_job, &act, out_jobs_table);
}

static int exec_stop(struct cmd_ctx *x, const struct args *a)
{
	return each_job(x, &cmd_job_stop_entry, a, 0);
}

static int exec_remove(struct cmd_ctx *x, const struct args *a)
{
	return each_job(x, &cmd_job_remove_entry, a, 1);
}
