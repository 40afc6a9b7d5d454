/*
 * cmd-transfer.c - the transfer verbs: transfer start, list, show, complete,
 * suspend, resume, remove, set (BITS' Start-, Get-, Complete-, Suspend-,
 * Resume-, Remove-, Set-BitsTransfer), and wait.
 *
 * A transfer job runs on the session's host, not here: the server fetches
 * URLs to its disk (or sends its files to a URL) and keeps at it across
 * disconnects, retrying transient errors. So start is mostly about building
 * the create request right (transfer-spec.c checks everything checkable
 * before a job exists), and a synchronous start then watches its jobs to
 * the end (transfer-wait.c). The verbs share the option checks and the
 * printing, so they share this file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "bounds.h"
#include "cmd-transfer.h"
#include "crypto.h"
#include "targets.h"
#include "transfer-util.h"

static int exec_start(struct cmd_ctx *x, const struct args *a);
static int exec_list(struct cmd_ctx *x, const struct args *a);
static int exec_show(struct cmd_ctx *x, const struct args *a);
static int exec_complete(struct cmd_ctx *x, const struct args *a);
static int exec_suspend(struct cmd_ctx *x, const struct args *a);
static int exec_resume(struct cmd_ctx *x, const struct args *a);
static int exec_remove(struct cmd_ctx *x, const struct args *a);
static int exec_set(struct cmd_ctx *x, const struct args *a);
static int exec_wait(struct cmd_ctx *x, const struct args *a);

#define SECONDS_MAX      (365 * 86400)
#define RATE_MAX         (1ull << 50)   /* bytes/s: 1 PiB/s, "no limit" really */

/* A synchronous start owns its jobs and waits as long as they take. */
static const struct watch_mode start_watch = { 1, 0 };

static const char *const priorities[] = { "foreground", "high", "normal", "low", NULL };
static const char *const auths[] = { "basic", "digest", "ntlm", "negotiate", "any", NULL };
static const char *const proxy_usages[] = { "system", "none", "override", NULL };

/* Each verb's options: a table per verb, so the parser itself refuses an
 * option the verb does not take. */
#define SESSION_OPT  { 's', "session", ARG_VALUE | ARG_REQUIRED, "SESSION", NULL }
#define TUNABLE_OPTS \
	{ 0, "priority", ARG_VALUE, "P", priorities }, \
	{ 0, "max-rate", ARG_VALUE, "BYTES", NULL }, \
	{ 0, "retry-delay", ARG_VALUE, "SECONDS", NULL }, \
	{ 0, "no-progress-timeout", ARG_VALUE, "SECONDS", NULL }
#define OPTS_END     { 0, NULL, 0, NULL, NULL }
static const struct args_opt session_opts[] = { SESSION_OPT, OPTS_END };
static const struct args_opt set_opts[] = { SESSION_OPT, TUNABLE_OPTS, OPTS_END };
static const struct args_opt list_opts[] = {
	{ 's', "session", ARG_VALUE, "SESSION", NULL }, { 0, "all-users", 0, NULL, NULL },
	OPTS_END,
};
/* suspend, resume, remove: an administrator may reach anyone's jobs */
static const struct args_opt admin_opts[] = {
	SESSION_OPT, { 0, "all-users", 0, NULL, NULL }, OPTS_END,
};
#define ALL_USERS_HELP \
	"  --all-users             any user's: SESSION is HOST/ID, the session's id\n" \
	"                          from session list --all-users (administrators only)\n"
static const struct args_opt wait_opts[] = {
	SESSION_OPT, { 0, "timeout", ARG_VALUE, "SECONDS", NULL }, OPTS_END,
};
static const struct args_opt start_opts[] = {
	SESSION_OPT, TUNABLE_OPTS,
	{ 0, "upload", 0, NULL, NULL },
	{ 0, "async", 0, NULL, NULL },
	{ 0, "suspended", 0, NULL, NULL },
	{ 0, "name", ARG_VALUE, "NAME", NULL },
	{ 0, "user", ARG_VALUE, "USER", NULL },
	{ 0, "password-stdin", 0, NULL, NULL },
	{ 0, "auth", ARG_VALUE, "SCHEME", auths },
	{ 0, "proxy-usage", ARG_VALUE, "MODE", proxy_usages },
	{ 0, "proxy-list", ARG_VALUE, "URL,...", NULL },
	{ 0, "proxy-bypass", ARG_VALUE, "HOST,...", NULL },
	{ 0, "proxy-user", ARG_VALUE, "USER", NULL },
	{ 0, "csv", ARG_VALUE, "FILE", NULL },
	{ 0, "sha256", ARG_VALUE, "HEX", NULL },
	{ 0, "cacert", ARG_VALUE, "FILE", NULL },
	{ 0, "insecure", 0, NULL, NULL },
	{ 0, "notify-cmd", ARG_VALUE, "COMMAND", NULL },
	OPTS_END,
};
#define ONE_JOB   "expected exactly one JOB"
#define SOME_JOBS "expected at least one JOB"

#define SESSION_HELP \
	"  -s, --session SESSION   the session (HOST/NAME or HOST/ID) whose host runs\n" \
	"                          the transfer\n"
#define JOB_HELP \
	"JOB is a transfer job's id or name (see transfer list).\n"
#define SET_HELP \
	"  --max-rate BYTES        limit the job to BYTES per second (0: no limit)\n" \
	"  --retry-delay SECONDS   wait this long after a transient error (such as a\n" \
	"                          lost connection) before trying again\n" \
	"                          (server default 600)\n" \
	"  --no-progress-timeout SECONDS  give up (state Error) after this long\n" \
	"                          without progress (server default 1209600, 14 days)\n"

const struct cmd_entry cmd_transfer_start_entry = {
	"transfer start", "-s SESSION (SOURCE... DESTINATION | --csv FILE) [--upload] [--async] "
	"[--suspended] [OPTION...]",
	"start a transfer job on a session's host (download, or --upload)",
	SESSION_HELP
	"                          (TARGETS/NAME: the same jobs in session NAME on\n"
	"                          every host; docs/fleet.md)\n"
	"  SOURCE... DESTINATION   download (default): SOURCEs are URLs (or paths on\n"
	"                          the session's host), DESTINATION a path there; a\n"
	"                          DESTINATION ending in / (or a directory) keeps each\n"
	"                          file's name. --upload: SOURCEs are paths on the\n"
	"                          session's host, DESTINATION a URL. Paths may have\n"
	"                          wildcards (quote them); URLs and DESTINATION not.\n"
	"  --upload                send files from the session's host to a URL:\n"
	"                          http(s) PUT, ftp(s), sftp, smb, or\n"
	"                          tether://HOST[:PORT]/PATH, another tetherd's\n"
	"                          resumable upload endpoint (needs --user for the\n"
	"                          account there, and --cacert for its cert.pem)\n"
	"  --async                 return at once with the job; follow it with\n"
	"                          transfer show, take the files with transfer complete\n"
	"  --suspended             create the job suspended (implies --async); start\n"
	"                          it with transfer resume\n"
	"  --name NAME             the job's name (default Job<ID>); with --csv, jobs\n"
	"                          are named NAME-1, NAME-2, ... in row order\n"
	"  --priority P            foreground, high, normal or low. Default:\n"
	"                          foreground when waiting, normal with --async\n"
	"                          (as Start-BitsTransfer)\n"
	"  --user USER             credentials for the remote web server; the\n"
	"                          password is asked on the terminal, never taken\n"
	"                          from the command line\n"
	"  --password-stdin        read that password from the first line of stdin\n"
	"  --auth SCHEME           basic, digest, ntlm, negotiate or any (default:\n"
	"                          the server's choice)\n"
	"  --proxy-usage MODE      system (the host's proxy settings), none, or\n"
	"                          override (only the proxies of --proxy-list)\n"
	"  --proxy-list URL,...    proxies to use, in order (implies --proxy-usage\n"
	"                          override); HOST:PORT means http://HOST:PORT\n"
	"  --proxy-bypass HOST,... hosts reached without the proxy (implies override)\n"
	"  --proxy-user USER       log in to the proxy as USER; the password is read\n"
	"                          from stdin (the line after --user's password with\n"
	"                          --password-stdin), or asked on the terminal; kept\n"
	"                          sealed on the server like --user's\n"
	"  --csv FILE              one job per row of FILE: 'Source, Destination'\n"
	"                          rows (that header line is optional; fields may be\n"
	"                          \"double-quoted\", with \"\" for a quote). No SOURCE\n"
	"                          or DESTINATION arguments then.\n"
	"  --sha256 HEX            the expected SHA-256 of the (single) file: the\n"
	"                          server checks it, a mismatch is an Error\n"
	"  --cacert FILE           trust the remote web server's certificate if this\n"
	"                          PEM CA file signed it (sent with the job)\n"
	"  --insecure              do not verify that certificate at all (dangerous)\n"
	"  --notify-cmd COMMAND    run COMMAND in the session when the job\n"
	"                          is Transferred or in Error\n"
	SET_HELP
	"Without --async tether waits: a progress line on a terminal, the job\n"
	"completed (its files put in place) once every byte is in, exit 0. A job\n"
	"in Error is kept (transfer resume retries it, transfer remove drops it)\n"
	"and tether exits 255; Ctrl-C or SIGTERM cancels the job(s) and exits 130.\n"
	"Example:\n"
	"  tether transfer start -s srv/build https://example.org/big.iso /data/\n"
	"  tether transfer start -s srv/build --async --csv files.csv --name nightly\n"
	"  tether transfer start -s srv/build --upload /data/out.tar \\\n"
	"      tether://backup1:7443/srv/in/ --user alice --cacert backup1.pem\n",
	{ start_opts, 0, -1, NULL, 0 }, CMD_TARGET_SESSION_OPTION, exec_start,
};
const struct cmd_entry cmd_transfer_list_entry = {
	"transfer list", "-s SESSION | HOST [--all-users]",
	"list a session's transfer jobs, or yours in every session of a host",
	SESSION_HELP
	"  HOST                    instead of -s: your transfer jobs in every session\n"
	"                          of yours on HOST, with a SESSION column\n"
	"  --all-users             every user's, with an OWNER column; with -s,\n"
	"                          SESSION may be HOST/ID of anyone's session\n"
	"                          (administrators only)\n"
	"Jobs that were completed or removed are gone from the list.\n"
	"Example:\n"
	"  tether transfer list -s srv/build\n"
	"  tether transfer list srv\n"
	"  tether transfer list srv --all-users\n",
	{ list_opts, 0, 1, "expected -s SESSION or one HOST", 0 }, CMD_TARGET_NONE, exec_list,
};
const struct cmd_entry cmd_transfer_show_entry = {
	"transfer show", "-s SESSION JOB", "show a transfer job: progress, files, error",
	SESSION_HELP JOB_HELP
	"Example:\n"
	"  tether transfer show -s srv/build nightly-3\n",
	{ session_opts, 1, 1, ONE_JOB, 0 }, CMD_TARGET_NONE, exec_show,
};
const struct cmd_entry cmd_transfer_complete_entry = {
	"transfer complete", "-s SESSION JOB...",
	"take a Transferred job's files (put them in place; the job is then gone)",
	SESSION_HELP JOB_HELP
	"Completing makes the transferred files final at their destinations and\n"
	"ends the job (it leaves the list). A job in any other state than\n"
	"Transferred is refused (tether names its state, exit 255) and stays as it\n"
	"was, files and all: transfer wait waits for Transferred.\n"
	"A synchronous transfer start completes its job itself.\n"
	"Example:\n"
	"  tether transfer complete -s srv/build Job12 Job13\n",
	{ session_opts, 1, -1, SOME_JOBS, 0 }, CMD_TARGET_NONE, exec_complete,
};
const struct cmd_entry cmd_transfer_suspend_entry = {
	"transfer suspend", "-s SESSION JOB... [--all-users]",
	"pause transfer jobs (resume goes on from there)",
	SESSION_HELP JOB_HELP ALL_USERS_HELP
	"Example:\n"
	"  tether transfer suspend -s srv/build Job12\n",
	{ admin_opts, 1, -1, SOME_JOBS, 0 }, CMD_TARGET_NONE, exec_suspend,
};
const struct cmd_entry cmd_transfer_resume_entry = {
	"transfer resume", "-s SESSION JOB... [--all-users]",
	"start suspended jobs, or retry jobs in Error or TransientError now",
	SESSION_HELP JOB_HELP ALL_USERS_HELP
	"Example:\n"
	"  tether transfer resume -s srv/build Job12\n",
	{ admin_opts, 1, -1, SOME_JOBS, 0 }, CMD_TARGET_NONE, exec_resume,
};
const struct cmd_entry cmd_transfer_remove_entry = {
	"transfer remove", "-s SESSION JOB... [--all-users]",
	"cancel transfer jobs (files not completed yet are dropped)",
	SESSION_HELP JOB_HELP ALL_USERS_HELP
	"Files already put in place by transfer complete are not touched.\n"
	"Example:\n"
	"  tether transfer remove -s srv/build Job12\n"
	"  tether transfer remove -s srv/42 Job3 --all-users\n",
	{ admin_opts, 1, -1, SOME_JOBS, 0 }, CMD_TARGET_NONE, exec_remove,
};
const struct cmd_entry cmd_transfer_set_entry = {
	"transfer set", "-s SESSION JOB [--priority P] [--max-rate R] [--retry-delay S] "
	"[--no-progress-timeout S]",
	"change a transfer job's priority, rate limit or timeouts",
	SESSION_HELP
	"  --priority P            foreground, high, normal or low: the server runs\n"
	"                          higher priorities first\n"
	SET_HELP JOB_HELP
	"Example:\n"
	"  tether transfer set -s srv/build Job12 --priority low --max-rate 1048576\n",
	{ set_opts, 1, 1, ONE_JOB, 0 }, CMD_TARGET_NONE, exec_set,
};
const struct cmd_entry cmd_transfer_wait_entry = {
	"transfer wait", "-s SESSION JOB... [--timeout SECONDS]",
	"wait until transfer jobs are Transferred or in Error",
	SESSION_HELP
	"  --timeout SECONDS       give up after this long (decimals allowed: 0.5)\n"
	JOB_HELP
	"Waits until every JOB is Transferred or in Error (or completed or removed\n"
	"meanwhile: Acknowledged, Cancelled), with a progress line on a terminal,\n"
	"and prints the jobs as they ended. It changes nothing: a Transferred job\n"
	"still needs transfer complete, and Ctrl-C leaves the jobs running.\n"
	"Exit 0 if every job is Transferred (or Acknowledged); 1 if any is in Error\n"
	"(or Cancelled, or gone); on timeout 1 as job wait, with 'timed out' on\n"
	"stderr and the jobs as they are; 255 if the server cannot be asked.\n"
	"Example:\n"
	"  tether transfer wait -s srv/build nightly-1 nightly-2 --timeout 3600 &&\n"
	"      tether transfer complete -s srv/build nightly-1 nightly-2\n",
	{ wait_opts, 1, -1, SOME_JOBS, 0 }, CMD_TARGET_NONE, exec_wait,
};

/* ---- values and checks shared by the verbs ---- */

/* The options start and set share into o (numbers not given: -1); 0, or
 * -1 after a usage message. */
static int get_tunables(const struct cmd_entry *ce, const struct args *a,
                        struct transfer_opts *o)
{
	memset(o, 0, sizeof *o);
	o->session = args_get(a, "session");
	o->priority = args_get(a, "priority");
	o->retry_delay = o->no_progress_timeout = o->max_rate = -1;
	if (cmd_number(ce, a, "max-rate", 0, RATE_MAX, &o->max_rate) != 0 ||
	    cmd_number(ce, a, "retry-delay", 1, SECONDS_MAX, &o->retry_delay) != 0 ||
	    cmd_number(ce, a, "no-progress-timeout", 0, SECONDS_MAX, &o->no_progress_timeout) != 0)
		return -1;
	return 0;
}

/* ---- printing ---- */

/* A string field, or "-". */
const char *transfer_str(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s != NULL && s[0] != '\0' ? s : "-";
}

/* An integer field (-1 if absent or null: "not known"). */
int64_t transfer_num(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_integer(v) ? json_integer_value(v) : -1;
}

/* "12.0 MiB/1.0 GiB" for a transfer or one of its files. */
static void bytes_of(json_t *o, char *out, size_t outsz)
{
	transfer_fmt_progress(transfer_num(o, "bytes_transferred"), transfer_num(o, "bytes_total"),
	                      out, outsz);
}

/* Transfer jobs as a table, like Get-BitsTransfer; with_session: a
 * SESSION column first (the jobs of several sessions). */
static void transfers_table_of(json_t *arr, int with_session)
{
	size_t i;
	json_t *t;
	int wname = 12, wsess = with_session ? 7 : 0;
	if (json_array_size(arr) == 0) {
		fprintf(stderr, "no transfer jobs\n");
		return;
	}
	/* an all-users list names each job's owner */
	int wowner = json_object_get(json_array_get(arr, 0), "owner") ? 12 : 0;
	json_array_foreach(arr, i, t) {
		int n = (int)strlen(transfer_str(t, "owner"));
		wowner = wowner && n > wowner ? n : wowner;
	}
	json_array_foreach(arr, i, t) {
		int n = (int)strlen(transfer_str(t, "name"));
		int m = (int)strlen(transfer_str(t, "session"));
		wname = n > wname ? n : wname;
		wsess = with_session && m > wsess ? m : wsess;
	}
	if (wowner)
		printf("%-*s ", wowner, "OWNER");
	if (with_session)
		printf("%-*s ", wsess, "SESSION");
	printf("%-6s %-*s %-9s %-14s %-10s %-22s %s\n", "ID", wname, "NAME", "DIRECTION",
	       "STATE", "PRIORITY", "BYTES", "FILES");
	json_array_foreach(arr, i, t) {
		char bytes[80];
		bytes_of(t, bytes, sizeof bytes);
		if (wowner)
			printf("%-*s ", wowner, transfer_str(t, "owner"));
		if (with_session)
			printf("%-*s ", wsess, transfer_str(t, "session"));
		printf("%-6lld %-*s %-9s %-14s %-10s %-22s %lld/%lld\n",
		       (long long)transfer_num(t, "id"), wname, transfer_str(t, "name"),
		       transfer_str(t, "direction"),
		       transfer_str(t, "state"), transfer_str(t, "priority"), bytes,
		       (long long)(transfer_num(t, "files_transferred") > 0
		                   ? transfer_num(t, "files_transferred") : 0),
		       (long long)(transfer_num(t, "files_total") > 0 ? transfer_num(t, "files_total") : 0));
	}
}

/* The jobs of one session. */
static void transfers_table(json_t *arr)
{
	transfers_table_of(arr, 0);
}

/* The jobs of every session of a host. */
static void host_transfers_table(json_t *arr)
{
	transfers_table_of(arr, 1);
}

/* "1.0 MiB/s", or "unlimited" for a limit of 0. */
static void rate_text(int64_t rate, int zero_is_unlimited, char *out, size_t outsz)
{
	if (rate < 0)
		snprintf(out, outsz, "-");
	else if (rate == 0 && zero_is_unlimited)
		snprintf(out, outsz, "unlimited");
	else
		transfer_fmt_rate((uint64_t)rate, out, outsz);
}

/* "10m00s (600 s)" for an option given in seconds. */
static void seconds_text(int64_t s, char *out, size_t outsz)
{
	char d[24];
	if (s < 0) {
		snprintf(out, outsz, "-");
		return;
	}
	transfer_fmt_duration((uint64_t)s, d, sizeof d);
	snprintf(out, outsz, "%s (%lld s)", d, (long long)s);
}

#define KV "%-20s %s\n"

/* The job's files as a table. */
static void files_table(json_t *files)
{
	size_t i;
	json_t *f;
	int ws = 6, wd = 11;
	json_array_foreach(files, i, f) {
		int s = (int)strlen(transfer_str(f, "source"));
		int d = (int)strlen(transfer_str(f, "destination"));
		ws = s > ws ? s : ws;
		wd = d > wd ? d : wd;
	}
	printf("\n%-*s  %-*s  %s\n", ws, "SOURCE", wd, "DESTINATION", "BYTES");
	json_array_foreach(files, i, f) {
		char bytes[80];
		bytes_of(f, bytes, sizeof bytes);
		printf("%-*s  %-*s  %s%s\n", ws, transfer_str(f, "source"), wd,
		       transfer_str(f, "destination"), bytes,
		       json_is_true(json_object_get(f, "done")) ? " (done)" : "");
	}
}

/* One transfer job in detail: key/value lines, then its files. */
static void show_one(json_t *t)
{
	char buf[160], bytes[80];
	json_t *err = json_object_get(t, "error"), *opts = json_object_get(t, "options");
	printf("%-20s %lld\n", "Id:", (long long)transfer_num(t, "id"));
	printf(KV KV KV KV, "Name:", transfer_str(t, "name"), "State:", transfer_str(t, "state"),
	       "Direction:", transfer_str(t, "direction"), "Priority:", transfer_str(t, "priority"));
	bytes_of(t, bytes, sizeof bytes);
	int64_t done = transfer_num(t, "bytes_transferred"), total = transfer_num(t, "bytes_total");
	if (total > 0 && done >= 0)
		snprintf(buf, sizeof buf, "%s (%d%%), files %lld/%lld", bytes,
		         (int)((double)done * 100 / (double)total),
		         (long long)transfer_num(t, "files_transferred"),
		         (long long)transfer_num(t, "files_total"));
	else
		snprintf(buf, sizeof buf, "%s, files %lld/%lld", bytes,
		         (long long)transfer_num(t, "files_transferred"),
		         (long long)transfer_num(t, "files_total"));
	printf(KV, "Progress:", buf);
	rate_text(transfer_num(t, "rate"), 0, buf, sizeof buf);
	printf(KV, "Rate:", buf);
	printf(KV KV KV, "Created:", transfer_str(t, "created"),
	       "Modified:", transfer_str(t, "modified"),
	       "Completed:", transfer_str(t, "completed"));
	if (json_is_string(json_object_get(t, "retry_at")))
		printf(KV, "Retry at:", transfer_str(t, "retry_at"));
	if (json_is_object(err))
		printf(KV KV KV, "Error code:", transfer_str(err, "code"), "Error message:",
		       transfer_str(err, "message"), "Error file:", transfer_str(err, "file"));
	if (json_is_object(opts)) {
		rate_text(transfer_num(opts, "max_rate"), 1, buf, sizeof buf);
		printf(KV, "Max rate:", buf);
		seconds_text(transfer_num(opts, "retry_delay"), buf, sizeof buf);
		printf(KV, "Retry delay:", buf);
		seconds_text(transfer_num(opts, "no_progress_timeout"), buf, sizeof buf);
		printf(KV, "No-progress timeout:", buf);
	}
	size_t i;
	json_t *note;
	json_array_foreach(json_object_get(t, "notes"), i, note)
		printf(KV, i == 0 ? "Notes:" : "", json_string_value(note) ? json_string_value(note)
		                                                         : "-");
	files_table(json_object_get(t, "files"));
}

/* out_result's table for show: each object in detail. */
static void show_table(json_t *arr)
{
	size_t i;
	json_t *t;
	json_array_foreach(arr, i, t) {
		if (i > 0)
			putchar('\n');
		show_one(t);
	}
}

/* ---- list, show, the actions, set ---- */

/* transfer list HOST: the transfers of every session of the user there
 * (a session removed meanwhile is skipped), each naming its session. */
static int list_host(struct cmd_ctx *x, const char *host)
{
	json_t *sessions = NULL, *all = json_array(), *s;
	size_t i;
	tether_err e = tether_session_list(x->c, host, &sessions);
	json_array_foreach(sessions, i, s) {
		char ref[BOUND_HOSTSPEC + 32];
		json_t *arr = NULL, *t;
		size_t k;
		snprintf(ref, sizeof ref, "%s/%lld", host,
		         (long long)json_integer_value(json_object_get(s, "id")));
		tether_err le = tether_transfer_list(x->c, ref, &arr);
		if (le == TETHER_E_NOT_FOUND)
			continue;
		if (le != TETHER_E_OK) {
			e = le;
			break;
		}
		json_array_foreach(arr, k, t)
			if (!json_is_string(json_object_get(t, "session")))
				json_object_set(t, "session", json_object_get(s, "name"));
		json_array_extend(all, arr);
		json_decref(arr);
	}
	json_decref(sessions);
	return out_result(x, e, all, host_transfers_table);
}

static int exec_list(struct cmd_ctx *x, const struct args *a)
{
	json_t *arr = NULL;
	const char *session = args_get(a, "session");
	tether_set_all_users(x->c, args_has(a, "all-users"));
	if ((session != NULL) == (a->argc == 1))
		return out_usage(&cmd_transfer_list_entry, "expected -s SESSION or one HOST");
	if (session == NULL && strchr(a->argv[0], '/') != NULL)
		return out_usage(&cmd_transfer_list_entry, "'%s' is a SESSION: give it with -s",
		                 a->argv[0]);
	if (session == NULL)
		return list_host(x, a->argv[0]);
	tether_err e = tether_transfer_list(x->c, session, &arr);
	return out_result(x, e, arr, transfers_table);
}

static int exec_show(struct cmd_ctx *x, const struct args *a)
{
	json_t *t = NULL;
	tether_err e = tether_transfer_get(x->c, args_get(a, "session"), a->argv[0], &t);
	return out_result(x, e, t, show_table);
}

/* One action (out_each_fn; ctx: {session, action}) on one JOB. */
static tether_err act_on_job(struct cmd_ctx *x, void *ctx, const char *ref, json_t **t)
{
	const char *const *sa = ctx;
	return tether_transfer_action(x->c, sa[0], ref, sa[1], t);
}

/* Do action on each JOB argument; report each failure, fail if any did. */
static int each_job(struct cmd_ctx *x, const char *action, const struct args *a)
{
	const char *sa[2] = { args_get(a, "session"), action };
	if (strcmp(action, "complete") != 0)
		tether_set_all_users(x->c, args_has(a, "all-users"));
	return out_each(x, a, act_on_job, (void *)sa, transfers_table);
}

static int exec_complete(struct cmd_ctx *x, const struct args *a)
{
	return each_job(x, "complete", a);
}

static int exec_suspend(struct cmd_ctx *x, const struct args *a)
{
	return each_job(x, "suspend", a);
}

static int exec_resume(struct cmd_ctx *x, const struct args *a)
{
	return each_job(x, "resume", a);
}

static int exec_remove(struct cmd_ctx *x, const struct args *a)
{
	return each_job(x, "remove", a);
}

static int exec_set(struct cmd_ctx *x, const struct args *a)
{
	struct transfer_opts o;
	if (get_tunables(&cmd_transfer_set_entry, a, &o) != 0)
		return EXIT_USAGE;
	json_t *changes = json_object(), *t = NULL;
	transfer_put_tunables(changes, &o);
	if (json_object_size(changes) == 0) {
		json_decref(changes);
		return out_usage(&cmd_transfer_set_entry, "nothing to change: give --priority, "
		                 "--max-rate, --retry-delay or --no-progress-timeout");
	}
	tether_err e = tether_transfer_set(x->c, o.session, a->argv[0], changes, &t);
	json_decref(changes);
	return out_result(x, e, t, transfers_table);
}

/* transfer wait: watch the jobs (transfer-wait.c, not owning them) until
 * each has ended or the deadline passes. */
static int exec_wait(struct cmd_ctx *x, const struct args *a)
{
	struct watch_mode m = { 0, 0 };
	const char *session = args_get(a, "session");
	if (cmd_wait_deadline(&cmd_transfer_wait_entry, a, &m.deadline) != 0)
		return EXIT_USAGE;
	struct waited *w = calloc((size_t)a->argc, sizeof *w);
	if (w == NULL) {
		fprintf(stderr, "tether: out of memory\n");
		return EXIT_TETHER;
	}
	int rc = 0;
	size_t n = 0;
	for (; n < (size_t)a->argc; n++) {
		tether_err e = tether_transfer_get(x->c, session, a->argv[n], &w[n].job);
		if (e != TETHER_E_OK) {
			rc = out_fail(x, e);
			break;
		}
		snprintf(w[n].ref, sizeof w[n].ref, "%lld", (long long)transfer_num(w[n].job, "id"));
	}
	struct outcome oc = { 0, "", "", 0 };
	if (rc == 0) {
		transfer_catch_stop_signals();
		transfer_wait_all(x, session, w, n, &m, &oc);
	}
	json_t *jobs = json_array();
	for (size_t i = 0; i < n; i++) {
		if (w[i].end == W_FAILED && rc == 0)
			rc = 1;   /* Error, Cancelled, gone */
		json_array_append_new(jobs, w[i].job);
	}
	free(w);
	if (n < (size_t)a->argc) {
		json_decref(jobs);
		return rc;   /* a JOB that could not be read, reported */
	}
	if (oc.rc != 0) {   /* the server lost, or a signal */
		if (x->json) {
			json_t *doc = json_pack("{s:{s:s,s:s},s:o}", "error", "code", oc.code,
			                        "message", oc.msg, "results", jobs);
			out_json(doc);
			json_decref(doc);
		} else {
			json_decref(jobs);
		}
		return oc.rc;
	}
	if (oc.timed_out)
		rc = out_timed_out(a);
	out_result(x, TETHER_E_OK, jobs, transfers_table);
	return rc;
}

/* ---- start ---- */

/* Check the options of transfer start that do not depend on the files;
 * 0, or EXIT_USAGE after a usage message. */
static int check_start_opts(const struct transfer_opts *o)
{
	const struct cmd_entry *ce = &cmd_transfer_start_entry;
	if (o->auth != NULL && o->user == NULL)
		return out_usage(ce, "--auth goes with --user");
	if (o->password_stdin && o->user == NULL && o->proxy_user == NULL)
		return out_usage(ce, "--password-stdin goes with --user (or --proxy-user)");
	if (o->proxy_user && o->proxy_usage && strcmp(o->proxy_usage, "none") == 0)
		return out_usage(ce, "--proxy-user needs a proxy: not with --proxy-usage none");
	if ((o->proxy_list || o->proxy_bypass) && o->proxy_usage &&
	    strcmp(o->proxy_usage, "override") != 0)
		return out_usage(ce, "--proxy-list and --proxy-bypass go with --proxy-usage "
		                 "override");
	if (o->proxy_usage && strcmp(o->proxy_usage, "override") == 0 && !o->proxy_list)
		return out_usage(ce, "--proxy-usage override needs --proxy-list");
	if (o->cacert && o->insecure)
		return out_usage(ce, "--cacert and --insecure exclude each other");
	if (o->sha256 && (strlen(o->sha256) != 64 ||
	                  strspn(o->sha256, "0123456789abcdefABCDEF") != 64))
		return out_usage(ce, "--sha256 takes 64 hexadecimal digits");
	if (o->sha256 && o->csv)
		return out_usage(ce, "--sha256 goes with a single file, not with --csv");
	if (o->name && !addr_valid_name(o->name))
		return out_usage(ce, "invalid --name '%s': a letter, then letters, digits, '.', "
		                 "'_' or '-'", o->name);
	if (o->notify_cmd && o->notify_cmd[0] == '\0')
		return out_usage(ce, "--notify-cmd needs a command");
	return 0;
}

/* The final document: the job (or the jobs of a --csv), or with --json and
 * a failure {"error": ..., "results": [...]}. Releases results. */
static int finish(struct cmd_ctx *x, json_t *results, int many, const struct outcome *oc)
{
	json_t *v = many ? json_incref(results) : json_incref(json_array_get(results, 0));
	if (x->json && oc->rc != 0) {
		json_t *doc = json_pack("{s:{s:s,s:s}}", "error", "code", oc->code, "message",
		                        oc->msg);
		if (json_array_size(results) > 0)
			json_object_set(doc, "results", results);
		out_json(doc);
		json_decref(doc);
	} else if (v != NULL) {
		out_result(x, TETHER_E_OK, json_incref(v), transfers_table);
	}
	json_decref(v);
	json_decref(results);
	return oc->rc;
}

/* Create every job of specs; on a failure (or a signal) remove the ones
 * already made, so that running the same command again does not double
 * them. Returns the number made, or -1 after reporting. */
static int create_all(struct cmd_ctx *x, const char *session, json_t *base, json_t *specs,
                      struct waited *w)
{
	size_t i;
	json_t *spec;
	json_array_foreach(specs, i, spec) {
		json_t *req = json_copy(base), *t = NULL;
		json_object_update(req, spec);
		tether_err e = tether_transfer_start(x->c, session, req, &t);
		json_decref(req);   /* a shallow copy: the password is still base's */
		if (e == TETHER_E_OK) {
			w[i].job = t;
			snprintf(w[i].ref, sizeof w[i].ref, "%lld", (long long)transfer_num(t, "id"));
			if (transfer_num(t, "id") <= 0)
				e = TETHER_E_PROTOCOL;
		}
		if (e == TETHER_E_OK && !transfer_stopped())
			continue;
		if (e != TETHER_E_OK && json_array_size(specs) > 1)
			fprintf(stderr, "tether: creating job %zu of %zu (%s):\n", i + 1,
			        json_array_size(specs),
			        json_string_value(json_array_get(json_object_get(spec, "sources"), 0)));
		int rc = e != TETHER_E_OK ? out_fail(x, e) : EXIT_INTERRUPTED;
		size_t made = e == TETHER_E_OK ? i + 1 : i;
		for (size_t k = 0; k < made; k++) {
			json_t *gone = NULL;
			if (tether_transfer_action(x->c, session, w[k].ref, "remove", &gone) == TETHER_E_OK)
				fprintf(stderr, "tether: removed transfer %s again\n", transfer_name_of(&w[k]));
			else
				fprintf(stderr, "tether: could not remove transfer %s: %s\n",
				        transfer_name_of(&w[k]), tether_last_error(x->c));
			json_decref(gone);
		}
		if (e == TETHER_E_OK && x->json) {   /* stopped by a signal between two creates */
			json_t *doc = json_pack("{s:{s:s,s:s}}", "error", "code", "interrupted",
			                        "message", "interrupted before all jobs were created");
			out_json(doc);
			json_decref(doc);
		} else if (e == TETHER_E_OK) {
			fprintf(stderr, "tether: interrupted before all jobs were created\n");
		}
		return -rc;
	}
	return (int)json_array_size(specs);
}

/* One host's part of a fleet transfer, as --json reports it. */
static json_t *fleet_host_json(const char *host, const struct waited *w, size_t n, int made,
                               const struct outcome *oc)
{
	json_t *jobs = json_array();
	for (size_t i = 0; made >= 0 && i < n; i++)
		json_array_append(jobs, w[i].job);
	json_t *err = made < 0 ? json_pack("{s:s,s:s}", "code", "not_created", "message",
	                                   "the transfer jobs were not created there")
	              : oc->rc != 0 ? json_pack("{s:s,s:s}", "code", oc->code, "message", oc->msg)
	                            : json_null();
	return json_pack("{s:s,s:o,s:o}", "host", host, "transfers", jobs, "error", err);
}

/* transfer start -s TARGETS/NAME (docs/fleet.md): the same jobs in session
 * NAME on every host, created host by host; then, unless --async, each
 * host's are waited for and completed in turn (the transfers themselves run
 * on every host at once). Exit 0 only if every host did it all. */
static int start_fleet(struct cmd_ctx *x, const struct transfer_opts *o, json_t *base,
                       json_t *specs)
{
	const struct fleet_hosts *hosts = &x->target.hosts;
	const char *name = x->target.name;
	int rc = fleet_target_hosts(&cmd_transfer_start_entry, &x->target);
	if (rc != 0)
		return rc;
	size_t n = json_array_size(specs), nh = hosts->n, failed = 0;
	struct waited *w = calloc(nh * n, sizeof *w);
	struct outcome *oc = calloc(nh, sizeof *oc);
	int *made = calloc(nh, sizeof *made), json = x->json;
	if (w == NULL || oc == NULL || made == NULL) {
		fprintf(stderr, "tether: out of memory\n");
		rc = EXIT_TETHER;
		goto out;
	}
	x->json = 0;   /* the per-host failures go to stderr; one document at the end */
	if (!o->async)
		transfer_catch_stop_signals();
	for (size_t h = 0; h < nh; h++) {
		char session[BOUND_HOSTSPEC + BOUND_NAME + 2];
		snprintf(session, sizeof session, "%s/%s", hosts->v[h].addr, name);
		made[h] = transfer_stopped() ? -EXIT_INTERRUPTED : create_all(x, session, base, specs,
		                                                        &w[h * n]);
		if (made[h] < 0)
			fprintf(stderr, "tether: %s: the transfer was not started there\n",
			        hosts->v[h].name);
	}
	for (size_t h = 0; !o->async && h < nh; h++) {
		char session[BOUND_HOSTSPEC + BOUND_NAME + 2];
		snprintf(session, sizeof session, "%s/%s", hosts->v[h].addr, name);
		if (made[h] >= 0)
			transfer_wait_all(x, session, &w[h * n], n, &start_watch, &oc[h]);
	}
	x->json = json;
	json_t *doc = json_array();
	for (size_t h = 0; h < nh; h++) {
		failed += made[h] < 0 || oc[h].rc != 0;
		if (json)
			json_array_append_new(doc, fleet_host_json(hosts->v[h].name, &w[h * n], n,
			                                           made[h], &oc[h]));
		for (size_t i = 0; !json && made[h] >= 0 && i < n; i++)
			printf("%s: transfer %s %s\n", hosts->v[h].name, transfer_name_of(&w[h * n + i]),
			       transfer_state_of(w[h * n + i].job));
	}
	if (json)
		out_json(doc);
	json_decref(doc);
	if (failed > 0)
		fprintf(stderr, "tether: %zu of %zu hosts failed\n", failed, nh);
	rc = failed > 0 ? 1 : 0;
out:
	for (size_t i = 0; w != NULL && i < nh * n; i++)
		json_decref(w[i].job);
	free(w);
	free(oc);
	free(made);
	return rc;
}

/* transfer start's options into o; 0, or -1 after a usage message. */
static int get_start_opts(const struct args *a, struct transfer_opts *o)
{
	if (get_tunables(&cmd_transfer_start_entry, a, o) != 0)
		return -1;
	o->name = args_get(a, "name");
	o->user = args_get(a, "user");
	o->auth = args_get(a, "auth");
	o->proxy_usage = args_get(a, "proxy-usage");
	o->proxy_list = args_get(a, "proxy-list");
	o->proxy_bypass = args_get(a, "proxy-bypass");
	o->proxy_user = args_get(a, "proxy-user");
	o->csv = args_get(a, "csv");
	o->sha256 = args_get(a, "sha256");
	o->cacert = args_get(a, "cacert");
	o->notify_cmd = args_get(a, "notify-cmd");
	o->upload = args_has(a, "upload");
	o->suspended = args_has(a, "suspended");
	o->async = args_has(a, "async") || o->suspended;   /* suspended: nothing to wait for */
	o->password_stdin = args_has(a, "password-stdin");
	o->insecure = args_has(a, "insecure");
	return check_start_opts(o);
}

static int exec_start(struct cmd_ctx *x, const struct args *a)
{
	struct transfer_opts o;
	json_t *specs = NULL;
	char pw[BOUND_PASSWORD + 2] = "";
	if (get_start_opts(a, &o) != 0 || transfer_gather_specs(&o, a, &specs) != 0) {
		json_decref(specs);
		return EXIT_USAGE;
	}
	char ppw[BOUND_PASSWORD + 2] = "";
	if ((o.user != NULL && transfer_get_password(&o, pw, sizeof pw) != 0) ||
	    (o.proxy_user != NULL && transfer_get_proxy_password(&o, ppw, sizeof ppw) != 0)) {
		crypto_wipe(pw, sizeof pw);
		json_decref(specs);
		return EXIT_USAGE;
	}
	json_t *base = transfer_base_request(&o, o.user ? pw : NULL, o.proxy_user ? ppw : NULL);
	crypto_wipe(pw, sizeof pw);   /* base holds its own copies now */
	crypto_wipe(ppw, sizeof ppw);
	if (base == NULL) {
		json_decref(specs);
		return EXIT_USAGE;
	}
	if (o.insecure)
		fputs("tether: WARNING: --insecure: the server will NOT verify the TLS certificate "
		      "of the remote web server.\ntether: WARNING: anyone on the network path can "
		      "read or change the transferred data.\n", stderr);
	if (x->target.fleet) {   /* -s TARGETS/NAME */
		int rc = start_fleet(x, &o, base, specs);
		transfer_wipe_request(base);
		json_decref(base);
		json_decref(specs);
		return rc;
	}
	size_t n = json_array_size(specs);
	struct waited *w = calloc(n, sizeof *w);
	if (w == NULL) {
		transfer_wipe_request(base);
		json_decref(base);
		json_decref(specs);
		fprintf(stderr, "tether: out of memory\n");
		return EXIT_TETHER;
	}
	if (!o.async)
		transfer_catch_stop_signals();
	int made = create_all(x, o.session, base, specs, w);
	transfer_wipe_request(base);
	json_decref(base);
	json_decref(specs);
	struct outcome oc = { 0, "", "", 0 };
	if (made >= 0 && !o.async) {
		transfer_wait_all(x, o.session, w, n, &start_watch, &oc);
		if (oc.rc == 0)
			transfer_print_notes(w, n);
	}
	json_t *results = json_array();
	for (size_t i = 0; made >= 0 && i < n; i++)
		json_array_append(results, w[i].job);
	for (size_t i = 0; i < n; i++)
		json_decref(w[i].job);
	free(w);
	if (made < 0) {
		json_decref(results);
		return -made;
	}
	return finish(x, results, o.csv != NULL, &oc);
}
