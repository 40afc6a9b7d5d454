/*
 * cmd-invoke.c - tether invoke -s SESSION -- COMMAND...: run a command in a
 * persistent session and stream its output; exit with its status. With
 * --as-job it returns at once with a local job instead (Invoke-Command
 * -AsJob), managed by the job verbs without -s.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bounds.h"
#include "cmd.h"
#include "strparse.h"

static int exec_invoke(struct cmd_ctx *x, const struct args *a);
static int invoke_in(struct cmd_ctx *x, const char *session, const char *cmd);
static int invoke_on_host(struct cmd_ctx *x, const char *host, const char *name,
                          int disconnected, const char *cmd);
static int invoke_as_job(struct cmd_ctx *x, const char *session, const char *name,
                         const char *cmd);

static const struct args_opt invoke_spec[] = {
	{ 's', "session", ARG_VALUE | ARG_REPEAT, "SESSION", NULL },
	{ 'H', "hosts", ARG_VALUE | ARG_REPEAT, "TARGETS", NULL },
	{ 0, "in-disconnected-session", 0, NULL, NULL },
	{ 0, "session-name", ARG_VALUE, "NAME", NULL },
	{ 0, "as-job", 0, NULL, NULL },
	{ 0, "job-name", ARG_VALUE, "NAME", NULL },
	{ 0, "throttle", ARG_VALUE, "N", NULL },
	{ 0, "connect-timeout", ARG_VALUE, "S", NULL },
	{ 0, "timeout", ARG_VALUE, "S", NULL },
	{ 0, "hide-host", 0, NULL, NULL },
	{ 0, "gather", 0, NULL, NULL },
	{ 'n', "no-stdin", 0, NULL, NULL },
	{ 0, NULL, 0, NULL, NULL },
};

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
	"  -n, --no-stdin          the command's stdin is /dev/null. Without it, a\n"
	"                          stdin that is a pipe or a file is streamed to the\n"
	"                          command, as ssh does (on several hosts the same\n"
	"                          bytes to each, read as the slowest host takes\n"
	"                          them; they must all run at once: --throttle);\n"
	"                          a terminal or /dev/null never is, nor with\n"
	"                          --as-job or --in-disconnected-session\n"
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
	{ invoke_spec, 0, 0, NULL, ARGS_IN_ORDER | ARGS_WORDS }, CMD_TARGET_NONE, exec_invoke,
};

/* The descriptor whose bytes become the command's stdin, or -1: this
 * process's stdin when it is a pipe or a file (not a terminal, /dev/null or
 * closed) and -n was not given. */
static int stdin_fd = -1;

static int pick_stdin(const struct args *a)
{
	struct stat in, null;
	if (args_has(a, "no-stdin") || isatty(0) || fstat(0, &in) != 0)
		return -1;
	if (S_ISCHR(in.st_mode) && stat("/dev/null", &null) == 0 && in.st_rdev == null.st_rdev)
		return -1;
	return 0;
}

/* Options of one invoke. */
struct invoke_opts {
	const char *name, *job_name;
	int         disconnected, as_job;
	enum fleet_mode mode;
	struct tether_fleet_req req;
};

/* Add "TARGETS/NAME"'s TARGETS (before its last '/') to a comma list, its
 * NAME in name: several -s must all name the same session. */
static int add_session(struct buf *targets, char *name, size_t namesz, const char *v)
{
	const char *slash = strrchr(v, '/');
	if (slash == NULL || slash[1] == '\0' || slash == v)
		return out_usage(&cmd_invoke_entry, "invalid session '%s': HOST/NAME or "
		                 "TARGETS/NAME", v);
	if (name[0] != '\0' && strcmp(name, slash + 1) != 0)
		return out_usage(&cmd_invoke_entry, "several -s must name the same session on "
		                 "each host (TARGETS/NAME)");
	snprintf(name, namesz, "%s", slash + 1);
	if ((targets->len > 0 && buf_puts(targets, ",") != 0) ||
	    buf_append(targets, v, (size_t)(slash - v)) != 0)
		return out_usage(&cmd_invoke_entry, "TARGETS is too long");
	return 0;
}

/* Expand the TARGETS of -H, or of -s TARGETS/NAME (the NAME they share into
 * name), once into x->target; 0, or EXIT_USAGE after a usage error. */
static int invoke_target(struct cmd_ctx *x, const struct args *a, char *name, size_t namesz)
{
	int nh, ns, rc = 0;
	const char *const *hosts = args_values(a, "hosts", &nh);
	const char *const *sessions = args_values(a, "session", &ns);
	struct buf spec;
	buf_init(&spec, 64 * 1024);
	for (int i = 0; i < ns && rc == 0; i++)
		rc = add_session(&spec, name, namesz, sessions[i]);
	if (rc == 0 && (ns == 0) == (nh == 0))
		rc = out_usage(&cmd_invoke_entry, "give -s SESSION or -H TARGETS (not both)");
	for (int i = 0; i < nh && rc == 0; i++)
		if ((spec.len > 0 && buf_puts(&spec, ",") != 0) || buf_puts(&spec, hosts[i]) != 0)
			rc = out_usage(&cmd_invoke_entry, "TARGETS is too long");
	if (rc == 0)
		fleet_target_expand(x, &x->target, buf_cstr(&spec));
	buf_free(&spec);
	return rc;
}

/* Options other than the targets into o; 0, or EXIT_USAGE after a usage error. */
static int invoke_options(const struct args *a, struct invoke_opts *o)
{
	const struct cmd_entry *ce = &cmd_invoke_entry;
	int64_t throttle = 0, connect_timeout = 0, timeout = 0;
	memset(o, 0, sizeof *o);
	if (cmd_number(ce, a, "throttle", 1, 4096, &throttle) != 0 ||
	    cmd_number(ce, a, "connect-timeout", 1, 86400 * 30, &connect_timeout) != 0 ||
	    cmd_number(ce, a, "timeout", 1, 86400 * 30, &timeout) != 0)
		return EXIT_USAGE;
	o->req.throttle = (int)throttle;
	o->req.connect_timeout = (long)connect_timeout;
	o->req.timeout = (long)timeout;
	o->disconnected = args_has(a, "in-disconnected-session");
	o->name = args_get(a, "session-name");
	o->as_job = args_has(a, "as-job");
	o->job_name = args_get(a, "job-name");
	if (args_has(a, "gather") && args_has(a, "hide-host"))
		return out_usage(ce, "--hide-host and --gather exclude each other");
	o->mode = args_has(a, "gather") ? FLEET_GATHER
	          : args_has(a, "hide-host") ? FLEET_HIDE_HOST : FLEET_PREFIX;
	return 0;
}

/* Run COMMAND on a fleet (several targets). */
static int invoke_fleet(struct cmd_ctx *x, struct invoke_opts *o, const char *session_name,
                        const char *cmd)
{
	int rc = fleet_target_hosts(&cmd_invoke_entry, &x->target);
	if (rc != 0)
		return rc;
	o->req.verb = TETHER_FLEET_INVOKE;
	o->req.session = session_name;
	o->req.command = cmd;
	o->req.has_stdin = stdin_fd >= 0;
	o->req.stdin_fd = stdin_fd;
	return fleet_exec(x, &x->target.hosts, &o->req, o->mode);
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
static int invoke_fleet_job(struct cmd_ctx *x, struct invoke_opts *o,
                            const char *session_name, const char *cmd)
{
	const struct fleet_hosts *hosts = &x->target.hosts;
	int rc = fleet_target_hosts(&cmd_invoke_entry, &x->target);
	if (rc != 0)
		return rc;
	size_t n = hosts->n, k = 0;
	char **sessions = calloc(n, sizeof *sessions);
	const char **ss = calloc(n, sizeof *ss), **labels = calloc(n, sizeof *labels);
	bool *own = calloc(n, sizeof *own), *kown = calloc(n, sizeof *kown);
	json_t *job = NULL, *failures = NULL;
	rc = EXIT_TETHER;
	if (sessions == NULL || ss == NULL || labels == NULL || own == NULL || kown == NULL)
		goto out;
	size_t have = fleet_job_sessions(x, hosts, session_name, sessions, own);
	for (size_t i = 0; i < n; i++)
		if (sessions[i] != NULL) {
			ss[k] = sessions[i];
			labels[k] = hosts->v[i].name;
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
	return rc;
}

static int exec_invoke(struct cmd_ctx *x, const struct args *a)
{
	const struct cmd_entry *ce = &cmd_invoke_entry;
	struct invoke_opts o;
	char sname[BOUND_NAME + 24] = "";
	int rc;
	if (invoke_target(x, a, sname, sizeof sname) != 0 || invoke_options(a, &o) != 0)
		return EXIT_USAGE;
	bool on_hosts = args_has(a, "hosts"), single = !x->target.fleet;
	if ((o.disconnected || o.name) && (!on_hosts || !single))
		return out_usage(ce, "--in-disconnected-session and --session-name go with -H HOST "
		                 "(one host; for a fleet: session new TARGETS --name N, then invoke "
		                 "-s TARGETS/N)");
	if (o.name && !o.disconnected)
		return out_usage(ce, "--session-name needs --in-disconnected-session");
	if (o.as_job && on_hosts && single)
		return out_usage(ce, "--as-job goes with -s SESSION, or with -H on several hosts "
		                 "(TARGETS)");
	if (o.job_name && !o.as_job)
		return out_usage(ce, "--job-name needs --as-job");
	struct buf cmd;
	if (cmd_command_words(ce, a, &cmd) != 0)
		return EXIT_USAGE;
	const char *session = args_get(a, "session");   /* the one -s, when single */
	stdin_fd = !o.as_job && !o.disconnected ? pick_stdin(a) : -1;
	if (!single && o.as_job)
		rc = invoke_fleet_job(x, &o, on_hosts ? NULL : sname, buf_cstr(&cmd));
	else if (!single)
		rc = invoke_fleet(x, &o, on_hosts ? NULL : sname, buf_cstr(&cmd));
	else if (on_hosts)
		rc = invoke_on_host(x, x->target.spec, o.name, o.disconnected, buf_cstr(&cmd));
	else if (o.as_job)
		rc = invoke_as_job(x, session, o.job_name, buf_cstr(&cmd));
	else
		rc = invoke_in(x, session, buf_cstr(&cmd));
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
	/* the final job object only for --json: one request less per invoke */
	tether_err e = tether_invoke_stdin(x->c, session, cmd, stdin_fd, &so.cb, &status,
	                                   x->json ? &job : NULL);
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
	if (!disconnected) {
		struct stream_out so;
		stream_out_init(&so, x);
		int status = 0;
		tether_err e = tether_invoke_host(x->c, host, cmd, stdin_fd, &so.cb, &status,
		                                  x->json ? &job : NULL);
		return stream_out_done(x, &so, e, status, job);
	}
	tether_err e = tether_session_new(x->c, host, name, 0, NULL, &s);
	if (e != TETHER_E_OK)
		return out_fail(x, e);
	snprintf(session, sizeof session, "%s/%s",
	         json_string_value(json_object_get(s, "host")),
	         json_string_value(json_object_get(s, "name")));
	json_decref(s);
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
