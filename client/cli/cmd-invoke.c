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
#include "strparse.h"
#include "targets.h"

static int exec_invoke(struct cmd_ctx *x, int argc, char **argv);
static int invoke_in(struct cmd_ctx *x, const char *session, const char *cmd);
static int invoke_on_host(struct cmd_ctx *x, const char *host, const char *name,
                          int disconnected, const char *cmd);
static int invoke_as_job(struct cmd_ctx *x, const char *session, const char *name,
                         const char *cmd);

const struct cmd_entry cmd_invoke_entry = {
	"invoke", "(-s SESSION [--as-job [--job-name NAME]] | "
	"-H TARGETS [--in-disconnected-session [--session-name NAME]]) [fleet options] "
	"-- COMMAND...",
	"run a command in a session's saved shell state, streaming its output",
	"  -s, --session SESSION   the session (HOST/NAME or HOST/ID), connected by\n"
	"                          this client; TARGETS/NAME: session NAME on each host\n"
	"  -H, --hosts TARGETS     run in a temporary session on each host, removed\n"
	"                          after. TARGETS: HOST, a list (a,b), ranges\n"
	"                          (web[01-40]), @GROUP of the inventory, @FILE\n"
	"                          (see docs/fleet.md); -H and -s may be repeated\n"
	"  --in-disconnected-session  with -H HOST: create a session, start COMMAND in\n"
	"                          it, disconnect at once and print the session\n"
	"  --session-name NAME     with --in-disconnected-session: the session's name\n"
	"  --as-job                start COMMAND and return at once with a local job\n"
	"                          in this client's job table; manage it with\n"
	"                          job list, receive, wait, stop and remove (no -s).\n"
	"                          It runs as an invoke: the session is busy until it\n"
	"                          ends, and its state is saved. On several hosts: one\n"
	"                          parent job with a child job per host (with -H, in\n"
	"                          a session made for it, removed with the job)\n"
	"  --job-name NAME         with --as-job: the local job's name (default\n"
	"                          Job<ID>; unique among this client's local jobs)\n"
	"Fleet options (several hosts):\n"
	"  --throttle N            hosts in flight at once (default 32)\n"
	"  --connect-timeout S     per host: seconds to connect (default 10)\n"
	"  --timeout S             per host: seconds for it all; then the command is\n"
	"                          stopped and the host reported as timed out\n"
	"  --hide-host             no \"HOST: \" before each line\n"
	"  --gather                print each distinct output once, under the hosts\n"
	"                          that produced it (like clush -b)\n"
	"  --inventory FILE        the inventory for @GROUP (default $TETHER_INVENTORY,\n"
	"                          then $TETHER_HOME/inventory; any command takes it)\n"
	"COMMAND runs with bash; its words are joined with spaces (as ssh does).\n"
	"cd, variables, functions and aliases persist to the next invoke.\n"
	"Ctrl-C interrupts the remote command (twice: kills it). The exit status is\n"
	"the command's, 128+N if a signal N killed it, 255 if tether failed. On\n"
	"several hosts: 0 if every host ran it and it exited 0, else 1 with a\n"
	"per-host summary on stderr.\n",
	exec_invoke,
};

/* Options of one invoke. */
struct invoke_opts {
	struct buf  sessions, hosts;   /* -s / -H, repeated ones joined with ',' */
	const char *name, *job_name;
	int         disconnected, as_job;
	enum fleet_mode mode;
	struct tether_fleet_req req;
};

/* Add a repeated option's value to a comma list. */
static int add_target(struct buf *list, const char *v)
{
	if (list->len > 0 && buf_puts(list, ",") != 0)
		return -1;
	return buf_puts(list, v);
}

/* Split "TARGETS/NAME" at its last '/' into targets (list) and name;
 * several -s must all name the same session. */
static int add_session(struct buf *targets, char *name, size_t namesz, const char *v)
{
	const char *slash = strrchr(v, '/');
	if (slash == NULL || slash[1] == '\0' || slash == v)
		return -1;
	if (name[0] != '\0' && strcmp(name, slash + 1) != 0)
		return -2;
	snprintf(name, namesz, "%s", slash + 1);
	if (targets->len > 0 && buf_puts(targets, ",") != 0)
		return -1;
	return buf_append(targets, v, (size_t)(slash - v));
}

/* Parse a whole number of seconds or hosts for an option. */
static int parse_count(const char *opt, const char *v, long max, long *out)
{
	int64_t n;
	if (strparse_i64(v, 1, max, &n) != 0)
		return out_usage(&cmd_invoke_entry, "%s must be a whole number from 1 to %ld",
		                 opt, max);
	*out = (long)n;
	return 0;
}

/* Run COMMAND on a fleet (several targets). */
static int invoke_fleet(struct cmd_ctx *x, struct invoke_opts *o, const char *spec,
                        const char *session_name, const char *cmd)
{
	struct fleet_hosts hosts = { NULL, 0 };
	int rc = fleet_targets(x, &cmd_invoke_entry, spec, &hosts);
	if (rc != 0)
		return rc;
	o->req.verb = TETHER_FLEET_INVOKE;
	o->req.session = session_name;
	o->req.command = cmd;
	rc = fleet_exec(x, &hosts, &o->req, o->mode);
	fleet_hosts_free(&hosts);
	return rc;
}

/* Sessions for a fleet job: session_name on each host, or (NULL) a new one
 * on each, made for the job. Fills sessions/own for the hosts that have
 * one; returns how many, reporting the others. */
static size_t fleet_job_sessions(struct cmd_ctx *x, const struct fleet_hosts *hosts,
                                 const char *session_name, char **sessions, bool *own)
{
	size_t n = hosts->n, ok = 0;
	if (session_name != NULL) {
		for (size_t i = 0; i < n; i++) {
			size_t len = strlen(hosts->v[i].addr) + strlen(session_name) + 2;
			if ((sessions[i] = malloc(len)) != NULL) {
				snprintf(sessions[i], len, "%s/%s", hosts->v[i].addr, session_name);
				ok++;
			}
		}
		return ok;
	}
	const char **addrs = calloc(n, sizeof *addrs);
	struct tether_fleet_result *res = calloc(n, sizeof *res);
	struct tether_fleet_req req = { .verb = TETHER_FLEET_SESSION_NEW };
	if (addrs == NULL || res == NULL)
		goto out;
	for (size_t i = 0; i < n; i++)
		addrs[i] = hosts->v[i].addr;
	if (tether_fleet_run(x->c, addrs, n, &req, NULL, res) != TETHER_E_OK) {
		fprintf(stderr, "tether: %s\n", tether_last_error(x->c));
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const char *key = json_string_value(json_object_get(res[i].object, "host"));
		json_int_t id = json_integer_value(json_object_get(res[i].object, "id"));
		if (res[i].err != TETHER_E_OK || key == NULL || id <= 0) {
			fprintf(stderr, "tether: %s: %s\n", hosts->v[i].name, res[i].message);
			continue;
		}
		size_t len = strlen(hosts->v[i].addr) + 24;
		if ((sessions[i] = malloc(len)) != NULL) {
			snprintf(sessions[i], len, "%s/%lld", hosts->v[i].addr, (long long)id);
			own[i] = true;
			ok++;
		}
	}
out:
	if (res != NULL)
		tether_fleet_free(res, n);
	free(res);
	free(addrs);
	return ok;
}

/* invoke --as-job on several hosts: one local parent job, a child per host
 * (Invoke-Command -ComputerName a,b -AsJob). */
static int invoke_fleet_job(struct cmd_ctx *x, struct invoke_opts *o, const char *spec,
                            const char *session_name, const char *cmd)
{
	struct fleet_hosts hosts = { NULL, 0 };
	int rc = fleet_targets(x, &cmd_invoke_entry, spec, &hosts);
	if (rc != 0)
		return rc;
	size_t n = hosts.n, k = 0;
	char **sessions = calloc(n, sizeof *sessions);
	const char **ss = calloc(n, sizeof *ss), **labels = calloc(n, sizeof *labels);
	bool *own = calloc(n, sizeof *own), *kown = calloc(n, sizeof *kown);
	json_t *job = NULL, *failures = NULL;
	rc = EXIT_TETHER;
	if (sessions == NULL || ss == NULL || labels == NULL || own == NULL || kown == NULL)
		goto out;
	size_t have = fleet_job_sessions(x, &hosts, session_name, sessions, own);
	for (size_t i = 0; i < n; i++)
		if (sessions[i] != NULL) {
			ss[k] = sessions[i];
			labels[k] = hosts.v[i].name;
			kown[k++] = own[i];
		}
	tether_err e = have == 0 ? TETHER_E_CONNECT
	               : tether_local_job_start_fleet(x->c, k, ss, labels, kown, o->job_name,
	                                              cmd, &job, &failures);
	size_t i;
	json_t *f;
	json_array_foreach(failures, i, f) {   /* and drop the sessions made for them */
		size_t at = (size_t)json_integer_value(json_object_get(f, "index"));
		fprintf(stderr, "tether: %s: %s\n", json_string_value(json_object_get(f, "host")),
		        json_string_value(json_object_get(json_object_get(f, "error"), "message")));
		if (at < k && kown[at])
			tether_session_remove(x->c, ss[at], NULL);
	}
	if (have == 0) {
		fprintf(stderr, "tether: the job could not start on any host\n");
		goto out;
	}
	if (e != TETHER_E_OK)
		for (size_t j = 0; j < k; j++)
			if (kown[j])
				tether_session_remove(x->c, ss[j], NULL);
	rc = out_result(x, e, job, out_jobs_table);
	if (rc == 0 && (have < n || json_array_size(failures) > 0))
		rc = 1;   /* started, but not everywhere */
out:
	for (size_t j = 0; sessions != NULL && j < n; j++)
		free(sessions[j]);
	free(sessions);
	free(ss);
	free(labels);
	free(own);
	free(kown);
	json_decref(failures);
	fleet_hosts_free(&hosts);
	return rc;
}

static int exec_invoke(struct cmd_ctx *x, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "session", required_argument, NULL, 's' },
		{ "hosts", required_argument, NULL, 'H' },
		{ "in-disconnected-session", no_argument, NULL, 'D' },
		{ "session-name", required_argument, NULL, 'N' },
		{ "as-job", no_argument, NULL, 'J' },
		{ "job-name", required_argument, NULL, 'j' },
		{ "throttle", required_argument, NULL, 'T' },
		{ "connect-timeout", required_argument, NULL, 'C' },
		{ "timeout", required_argument, NULL, 't' },
		{ "hide-host", no_argument, NULL, 'h' + 256 },
		{ "gather", no_argument, NULL, 'g' + 256 },
		{ NULL, 0, NULL, 0 },
	};
	struct invoke_opts o;
	char sname[BOUND_NAME + 24] = "";
	long v = 0;
	int ch, rc = EXIT_USAGE;
	memset(&o, 0, sizeof o);
	buf_init(&o.sessions, 64 * 1024);
	buf_init(&o.hosts, 64 * 1024);
	while ((ch = cmd_getopt(&cmd_invoke_entry, argc, argv, "+s:H:", longopts)) != -1) {
		switch (ch) {
		case 's':
			if ((rc = add_session(&o.sessions, sname, sizeof sname, optarg)) == -2) {
				rc = out_usage(&cmd_invoke_entry, "several -s must name the same "
				               "session on each host (TARGETS/NAME)");
				goto out;
			}
			if (rc != 0) {
				rc = out_usage(&cmd_invoke_entry, "invalid session '%s': HOST/NAME "
				               "or TARGETS/NAME", optarg);
				goto out;
			}
			break;
		case 'H': add_target(&o.hosts, optarg); break;
		case 'D': o.disconnected = 1; break;
		case 'N': o.name = optarg; break;
		case 'J': o.as_job = 1; break;
		case 'j': o.job_name = optarg; break;
		case 'T':
		case 'C':
		case 't':
			if ((rc = parse_count(ch == 'T' ? "--throttle" : ch == 'C' ?
			                      "--connect-timeout" : "--timeout", optarg,
			                      ch == 'T' ? 4096 : 86400 * 30, &v)) != 0)
				goto out;
			if (ch == 'T')
				o.req.throttle = (int)v;
			else if (ch == 'C')
				o.req.connect_timeout = v;
			else
				o.req.timeout = v;
			break;
		case 'h' + 256: o.mode = FLEET_HIDE_HOST; break;
		case 'g' + 256: o.mode = FLEET_GATHER; break;
		default: goto out;
		}
	}
	rc = EXIT_USAGE;
	if ((o.sessions.len == 0) == (o.hosts.len == 0)) {
		rc = out_usage(&cmd_invoke_entry, "give -s SESSION or -H TARGETS (not both)");
		goto out;
	}
	const char *targets = o.hosts.len ? buf_cstr(&o.hosts) : buf_cstr(&o.sessions);
	bool single = fleet_is_single(x, targets);
	if ((o.disconnected || o.name) && (o.hosts.len == 0 || !single)) {
		rc = out_usage(&cmd_invoke_entry, "--in-disconnected-session and --session-name "
		               "go with -H HOST (one host; for a fleet: session new TARGETS "
		               "--name N, then invoke -s TARGETS/N)");
		goto out;
	}
	if (o.name && !o.disconnected) {
		rc = out_usage(&cmd_invoke_entry, "--session-name needs --in-disconnected-session");
		goto out;
	}
	if (o.as_job && o.hosts.len > 0 && single) {
		rc = out_usage(&cmd_invoke_entry, "--as-job goes with -s SESSION, or with -H "
		               "on several hosts (TARGETS)");
		goto out;
	}
	if (o.job_name && !o.as_job) {
		rc = out_usage(&cmd_invoke_entry, "--job-name needs --as-job");
		goto out;
	}
	struct buf cmd;
	if (cmd_command_words(&cmd_invoke_entry, argc, argv, optind, &cmd) != 0)
		goto out;
	char session[BOUND_HOSTSPEC + BOUND_NAME + 2];
	snprintf(session, sizeof session, "%s/%s", targets, sname);
	if (!single && o.as_job)
		rc = invoke_fleet_job(x, &o, targets, o.sessions.len ? sname : NULL, buf_cstr(&cmd));
	else if (!single)
		rc = invoke_fleet(x, &o, targets, o.sessions.len ? sname : NULL, buf_cstr(&cmd));
	else if (o.hosts.len > 0)
		rc = invoke_on_host(x, targets, o.name, o.disconnected, buf_cstr(&cmd));
	else if (o.as_job)
		rc = invoke_as_job(x, session, o.job_name, buf_cstr(&cmd));
	else
		rc = invoke_in(x, session, buf_cstr(&cmd));
	buf_free(&cmd);
out:
	buf_free(&o.sessions);
	buf_free(&o.hosts);
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
