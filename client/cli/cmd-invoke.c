/*
 * cmd-invoke.c - tether invoke -s SESSION -- COMMAND...: run a command in a
 * persistent session and stream its output; exit with its status. With
 * --as-job it returns at once with a local job instead (Invoke-Command
 * -AsJob), managed by the job verbs without -s.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "bounds.h"
#include "cmd.h"

static int exec_invoke(struct cmd_ctx *x, int argc, char **argv);
static int invoke_in(struct cmd_ctx *x, const char *session, const char *cmd);
static int invoke_on_host(struct cmd_ctx *x, const char *host, const char *name,
                          int disconnected, const char *cmd);
static int invoke_as_job(struct cmd_ctx *x, const char *session, const char *name,
                         const char *cmd);

const struct cmd_entry cmd_invoke_entry = {
	"invoke", "(-s SESSION [--as-job [--job-name NAME]] | "
	"-H HOST [--in-disconnected-session [--session-name NAME]]) -- COMMAND...",
	"run a command in a session's saved shell state, streaming its output",
	"  -s, --session SESSION   the session (HOST/NAME or HOST/ID), connected by\n"
	"                          this client\n"
	"  -H, --hosts HOST        run in a temporary session on HOST, removed after\n"
	"                          (one host for now; fleets are not implemented yet)\n"
	"  --in-disconnected-session  with -H: create a session, start COMMAND in it,\n"
	"                          disconnect at once and print the session\n"
	"  --session-name NAME     with --in-disconnected-session: the session's name\n"
	"  --as-job                with -s: start COMMAND and return at once with a\n"
	"                          local job in this client's job table; manage it\n"
	"                          with job list, receive, wait, stop and remove\n"
	"                          (without -s). It runs as an invoke: the session\n"
	"                          is busy until it ends, and its state is saved\n"
	"  --job-name NAME         with --as-job: the local job's name (default\n"
	"                          Job<ID>; unique among this client's local jobs)\n"
	"COMMAND runs with bash; its words are joined with spaces (as ssh does).\n"
	"cd, variables, functions and aliases persist to the next invoke.\n"
	"Ctrl-C interrupts the remote command (twice: kills it). The exit status is\n"
	"the command's, 128+N if a signal N killed it, 255 if tether failed.\n",
	exec_invoke,
};

static int exec_invoke(struct cmd_ctx *x, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "session", required_argument, NULL, 's' },
		{ "hosts", required_argument, NULL, 'H' },
		{ "in-disconnected-session", no_argument, NULL, 'D' },
		{ "session-name", required_argument, NULL, 'N' },
		{ "as-job", no_argument, NULL, 'J' },
		{ "job-name", required_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const char *session = NULL, *host = NULL, *name = NULL, *job_name = NULL;
	int disconnected = 0, as_job = 0, ch;
	while ((ch = cmd_getopt(&cmd_invoke_entry, argc, argv, "+s:H:", longopts)) != -1) {
		switch (ch) {
		case 's': session = optarg; break;
		case 'H': host = optarg; break;
		case 'D': disconnected = 1; break;
		case 'N': name = optarg; break;
		case 'J': as_job = 1; break;
		case 'j': job_name = optarg; break;
		default: return EXIT_USAGE;
		}
	}
	if ((session == NULL) == (host == NULL))
		return out_usage(&cmd_invoke_entry, "give exactly one of -s SESSION or -H HOST");
	if (host != NULL && (strchr(host, ',') || host[0] == '@'))
		return out_usage(&cmd_invoke_entry, "invoking on several hosts (fleets) is not "
		                 "implemented yet; give one HOST");
	if ((disconnected || name) && host == NULL)
		return out_usage(&cmd_invoke_entry, "--in-disconnected-session and "
		                 "--session-name go with -H HOST");
	if (name && !disconnected)
		return out_usage(&cmd_invoke_entry, "--session-name needs --in-disconnected-session");
	if (as_job && host != NULL)
		return out_usage(&cmd_invoke_entry, "--as-job goes with -s SESSION (jobs on "
		                 "several hosts, fleets, are not implemented yet)");
	if (job_name && !as_job)
		return out_usage(&cmd_invoke_entry, "--job-name needs --as-job");
	struct buf cmd;
	if (cmd_command_words(&cmd_invoke_entry, argc, argv, optind, &cmd) != 0)
		return EXIT_USAGE;
	int rc = host     ? invoke_on_host(x, host, name, disconnected, buf_cstr(&cmd))
	         : as_job ? invoke_as_job(x, session, job_name, buf_cstr(&cmd))
	                  : invoke_in(x, session, buf_cstr(&cmd));
	buf_free(&cmd);
	return rc;
}

/* Stream a command in an existing session; returns the exit status. */
static int invoke_in(struct cmd_ctx *x, const char *session, const char *cmd)
{
	struct stream_out so;
	stream_out_init(&so, x);
	int status = 0;
	json_t *job = NULL;
	tether_err e = tether_invoke(x->c, session, cmd, &so.cb, &status, &job);
	return stream_out_done(x, &so, e, status, job);
}

/* -H HOST: a temporary session (removed afterwards), or with
 * --in-disconnected-session one that is left disconnected with the command
 * running in it. */
static int invoke_on_host(struct cmd_ctx *x, const char *host, const char *name,
                          int disconnected, const char *cmd)
{
	json_t *s = NULL, *job = NULL;
	char session[BOUND_HOSTSPEC + BOUND_NAME + 2];
	tether_err e = tether_session_new(x->c, host, name, 0, NULL, &s);
	if (e != TETHER_E_OK)
		return out_fail(x, e);
	snprintf(session, sizeof session, "%s/%s",
	         json_string_value(json_object_get(s, "host")),
	         json_string_value(json_object_get(s, "name")));
	json_decref(s);
	if (!disconnected) {
		int rc = invoke_in(x, session, cmd);
		json_t *gone = NULL;
		if (tether_session_remove(x->c, session, &gone) != TETHER_E_OK)
			fprintf(stderr, "tether: could not remove temporary session %s: %s\n",
			        session, tether_last_error(x->c));
		json_decref(gone);
		return rc;
	}
	e = tether_invoke_start(x->c, session, cmd, &job);
	json_decref(job);
	if (e == TETHER_E_OK)
		e = tether_session_disconnect(x->c, session, &s);
	return out_result(x, e, s, out_sessions_table);
}

/* --as-job: start the command and print the local job made for it. */
static int invoke_as_job(struct cmd_ctx *x, const char *session, const char *name,
                         const char *cmd)
{
	json_t *job = NULL;
	tether_err e = tether_local_job_start(x->c, session, name, cmd, &job);
	return out_result(x, e, job, out_jobs_table);
}
