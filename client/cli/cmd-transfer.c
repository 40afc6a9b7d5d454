/*
 * cmd-transfer.c - the transfer verbs: transfer start, list, show, complete,
 * suspend, resume, remove, set (BITS' Start-, Get-, Complete-, Suspend-,
 * Resume-, Remove-, Set-BitsTransfer).
 *
 * A transfer job runs on the session's host, not here: the server fetches
 * URLs to its disk (or sends its files to a URL) and keeps at it across
 * disconnects, retrying transient errors. So start is mostly about building
 * the create request right (everything checkable is checked here, before a
 * job exists), and a synchronous start is a loop that asks after the job (a
 * long poll for one job: the server answers when its worker ends), draws a
 * progress line on a terminal, and completes the job once all bytes are in,
 * as Start-BitsTransfer does. A synchronous start owns its jobs: stopped by
 * Ctrl-C or SIGTERM it cancels them rather than leave work nobody waits for.
 * The verbs share the option checks and the printing, so they share a file.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "bounds.h"
#include "cmd.h"
#include "crypto.h"
#include "strparse.h"
#include "term.h"
#include "timeu.h"
#include "targets.h"
#include "transfer-util.h"
#include "xferplan.h"

static int exec_start(struct cmd_ctx *x, const struct args *a);
static int exec_list(struct cmd_ctx *x, const struct args *a);
static int exec_show(struct cmd_ctx *x, const struct args *a);
static int exec_complete(struct cmd_ctx *x, const struct args *a);
static int exec_suspend(struct cmd_ctx *x, const struct args *a);
static int exec_resume(struct cmd_ctx *x, const struct args *a);
static int exec_remove(struct cmd_ctx *x, const struct args *a);
static int exec_set(struct cmd_ctx *x, const struct args *a);

#define POLL_MS          100         /* how often a synchronous start asks */
#define WAIT_S           10          /* how long the server may hold one ask (one job) */
#define WAIT_DRAW_S      1           /* the same while drawing progress */
#define LOST_GRACE_MS    60000       /* how long it rides out a lost server */
#define SECONDS_MAX      (365 * 86400)
#define RATE_MAX         (1ull << 50)   /* bytes/s: 1 PiB/s, "no limit" really */
#define LIST_ITEMS_MAX   32u         /* --proxy-list / --proxy-bypass entries */
#define EXIT_INTERRUPTED 130

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
	"  --proxy-list URL,...    proxies to use (implies --proxy-usage override)\n"
	"  --proxy-bypass HOST,... hosts reached without the proxy (implies override)\n"
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
	"transfer list", "-s SESSION", "list a session's transfer jobs",
	SESSION_HELP
	"Jobs that were completed or removed are gone from the list.\n"
	"Example:\n"
	"  tether transfer list -s srv/build\n",
	{ session_opts, 0, 0, NULL, 0 }, CMD_TARGET_NONE, exec_list,
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
	"ends the job (it leaves the list). A job not Transferred yet is refused.\n"
	"A synchronous transfer start completes its job itself.\n"
	"Example:\n"
	"  tether transfer complete -s srv/build Job12 Job13\n",
	{ session_opts, 1, -1, SOME_JOBS, 0 }, CMD_TARGET_NONE, exec_complete,
};
const struct cmd_entry cmd_transfer_suspend_entry = {
	"transfer suspend", "-s SESSION JOB...", "pause transfer jobs (resume goes on from there)",
	SESSION_HELP JOB_HELP
	"Example:\n"
	"  tether transfer suspend -s srv/build Job12\n",
	{ session_opts, 1, -1, SOME_JOBS, 0 }, CMD_TARGET_NONE, exec_suspend,
};
const struct cmd_entry cmd_transfer_resume_entry = {
	"transfer resume", "-s SESSION JOB...",
	"start suspended jobs, or retry jobs in Error or TransientError now",
	SESSION_HELP JOB_HELP
	"Example:\n"
	"  tether transfer resume -s srv/build Job12\n",
	{ session_opts, 1, -1, SOME_JOBS, 0 }, CMD_TARGET_NONE, exec_resume,
};
const struct cmd_entry cmd_transfer_remove_entry = {
	"transfer remove", "-s SESSION JOB...",
	"cancel transfer jobs (files not completed yet are dropped)",
	SESSION_HELP JOB_HELP
	"Files already put in place by transfer complete are not touched.\n"
	"Example:\n"
	"  tether transfer remove -s srv/build Job12\n",
	{ session_opts, 1, -1, SOME_JOBS, 0 }, CMD_TARGET_NONE, exec_remove,
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

/* ---- values and checks shared by the verbs ---- */

/* What transfer start and transfer set take; -1 numbers are "not given". */
struct transfer_opts {
	const char *session, *name, *priority, *user, *auth, *proxy_usage, *proxy_list,
	           *proxy_bypass, *csv, *sha256, *cacert, *notify_cmd;
	int         upload, async, suspended, password_stdin, insecure;
	int64_t     retry_delay, no_progress_timeout, max_rate;
};

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
static const char *str(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s != NULL && s[0] != '\0' ? s : "-";
}

/* An integer field (-1 if absent or null: "not known"). */
static int64_t num(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_integer(v) ? json_integer_value(v) : -1;
}

/* "12.0 MiB/1.0 GiB" for a transfer or one of its files. */
static void bytes_of(json_t *o, char *out, size_t outsz)
{
	transfer_fmt_progress(num(o, "bytes_transferred"), num(o, "bytes_total"), out, outsz);
}

/* Transfer jobs as a table, like Get-BitsTransfer. */
static void transfers_table(json_t *arr)
{
	size_t i;
	json_t *t;
	int wname = 12;
	if (json_array_size(arr) == 0) {
		printf("no transfer jobs\n");
		return;
	}
	json_array_foreach(arr, i, t) {
		int n = (int)strlen(str(t, "name"));
		wname = n > wname ? n : wname;
	}
	printf("%-6s %-*s %-9s %-14s %-10s %-22s %s\n", "ID", wname, "NAME", "DIRECTION",
	       "STATE", "PRIORITY", "BYTES", "FILES");
	json_array_foreach(arr, i, t) {
		char bytes[80];
		bytes_of(t, bytes, sizeof bytes);
		printf("%-6lld %-*s %-9s %-14s %-10s %-22s %lld/%lld\n",
		       (long long)num(t, "id"), wname, str(t, "name"), str(t, "direction"),
		       str(t, "state"), str(t, "priority"), bytes,
		       (long long)(num(t, "files_transferred") > 0 ? num(t, "files_transferred") : 0),
		       (long long)(num(t, "files_total") > 0 ? num(t, "files_total") : 0));
	}
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
		int s = (int)strlen(str(f, "source")), d = (int)strlen(str(f, "destination"));
		ws = s > ws ? s : ws;
		wd = d > wd ? d : wd;
	}
	printf("\n%-*s  %-*s  %s\n", ws, "SOURCE", wd, "DESTINATION", "BYTES");
	json_array_foreach(files, i, f) {
		char bytes[80];
		bytes_of(f, bytes, sizeof bytes);
		printf("%-*s  %-*s  %s%s\n", ws, str(f, "source"), wd, str(f, "destination"), bytes,
		       json_is_true(json_object_get(f, "done")) ? " (done)" : "");
	}
}

/* One transfer job in detail: key/value lines, then its files. */
static void show_one(json_t *t)
{
	char buf[160], bytes[80];
	json_t *err = json_object_get(t, "error"), *opts = json_object_get(t, "options");
	printf("%-20s %lld\n", "Id:", (long long)num(t, "id"));
	printf(KV KV KV KV, "Name:", str(t, "name"), "State:", str(t, "state"),
	       "Direction:", str(t, "direction"), "Priority:", str(t, "priority"));
	bytes_of(t, bytes, sizeof bytes);
	int64_t done = num(t, "bytes_transferred"), total = num(t, "bytes_total");
	if (total > 0 && done >= 0)
		snprintf(buf, sizeof buf, "%s (%d%%), files %lld/%lld", bytes,
		         (int)((double)done * 100 / (double)total), (long long)num(t, "files_transferred"),
		         (long long)num(t, "files_total"));
	else
		snprintf(buf, sizeof buf, "%s, files %lld/%lld", bytes,
		         (long long)num(t, "files_transferred"), (long long)num(t, "files_total"));
	printf(KV, "Progress:", buf);
	rate_text(num(t, "rate"), 0, buf, sizeof buf);
	printf(KV, "Rate:", buf);
	printf(KV KV KV, "Created:", str(t, "created"), "Modified:", str(t, "modified"),
	       "Completed:", str(t, "completed"));
	if (json_is_string(json_object_get(t, "retry_at")))
		printf(KV, "Retry at:", str(t, "retry_at"));
	if (json_is_object(err))
		printf(KV KV KV, "Error code:", str(err, "code"), "Error message:",
		       str(err, "message"), "Error file:", str(err, "file"));
	if (json_is_object(opts)) {
		rate_text(num(opts, "max_rate"), 1, buf, sizeof buf);
		printf(KV, "Max rate:", buf);
		seconds_text(num(opts, "retry_delay"), buf, sizeof buf);
		printf(KV, "Retry delay:", buf);
		seconds_text(num(opts, "no_progress_timeout"), buf, sizeof buf);
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

static int exec_list(struct cmd_ctx *x, const struct args *a)
{
	json_t *arr = NULL;
	tether_err e = tether_transfer_list(x->c, args_get(a, "session"), &arr);
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

/* Put the options start and set share into a request body. */
static void put_tunables(json_t *body, const struct transfer_opts *o)
{
	if (o->priority != NULL)
		json_object_set_new(body, "priority", json_string(o->priority));
	if (o->max_rate >= 0)
		json_object_set_new(body, "max_rate", json_integer(o->max_rate));
	if (o->retry_delay >= 0)
		json_object_set_new(body, "retry_delay", json_integer(o->retry_delay));
	if (o->no_progress_timeout >= 0)
		json_object_set_new(body, "no_progress_timeout", json_integer(o->no_progress_timeout));
}

static int exec_set(struct cmd_ctx *x, const struct args *a)
{
	struct transfer_opts o;
	if (get_tunables(&cmd_transfer_set_entry, a, &o) != 0)
		return EXIT_USAGE;
	json_t *changes = json_object(), *t = NULL;
	put_tunables(changes, &o);
	if (json_object_size(changes) == 0) {
		json_decref(changes);
		return out_usage(&cmd_transfer_set_entry, "nothing to change: give --priority, "
		                 "--max-rate, --retry-delay or --no-progress-timeout");
	}
	tether_err e = tether_transfer_set(x->c, o.session, a->argv[0], changes, &t);
	json_decref(changes);
	return out_result(x, e, t, transfers_table);
}

/* ---- start: building the requests ---- */

/* Read a whole small file (regular, at most max bytes) into a malloc'd
 * NUL-terminated buffer; NULL with the reason in why. Symlinks are fine
 * here (CA bundles usually are one), unlike for tether's own state files. */
static char *read_small_file(const char *path, size_t max, size_t *lenp, char *why,
                             size_t whysz)
{
	struct stat st;
	const char *bad = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0)
		bad = strerror(errno);
	else if (!S_ISREG(st.st_mode))
		bad = "not a regular file";
	else if ((uint64_t)st.st_size > max)
		bad = "file too large";
	char *data = bad ? NULL : malloc(max + 1);
	size_t n = 0;
	if (bad == NULL && data == NULL)
		bad = "out of memory";
	while (bad == NULL && n <= max) {   /* to max + 1: a file that grew is too large */
		ssize_t r = read(fd, data + n, max + 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			bad = strerror(errno);
		else if (r == 0)
			break;
		n += r > 0 ? (size_t)r : 0;
	}
	if (bad == NULL && n > max)
		bad = "file too large";
	if (fd >= 0)
		close(fd);
	if (bad != NULL) {
		snprintf(why, whysz, "cannot read %s: %s", path, bad);
		free(data);
		return NULL;
	}
	data[n] = '\0';
	*lenp = n;
	return data;
}

/* Split "a,b, c" into a JSON array of trimmed, non-empty items; NULL with
 * the reason in why. */
static json_t *split_list(const char *text, char *why, size_t whysz)
{
	json_t *arr = json_array();
	const char *p = text;
	for (;;) {
		size_t n = strcspn(p, ",");
		const char *s = p, *e = p + n;
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		json_t *item = e > s ? json_stringn(s, (size_t)(e - s)) : NULL;
		if (item == NULL || json_array_size(arr) >= LIST_ITEMS_MAX ||
		    json_array_append_new(arr, item) != 0) {
			snprintf(why, whysz, "%s", item == NULL ? "an empty (or non-UTF-8) item"
			                                        : "too many items");
			json_decref(item);
			json_decref(arr);
			return NULL;
		}
		if (p[n] == '\0')
			return arr;
		p += n + 1;
	}
}

/* Check one source or destination against the direction, by the rules
 * the daemon applies too (common/xferplan.h); NULL if fine, else the
 * reason. */
static const char *bad_location(const char *s, int upload, int is_destination)
{
	static char why[TRANSFER_FIELD_MAX + 160];
	int url = xferplan_is_url(s);
	if (s[0] == '\0')
		return "an empty source or destination";
	if (url && xferplan_has_wildcard(s))
		return "wildcards (* ? [) are not allowed in a URL";
	if (is_destination && xferplan_has_wildcard(s))
		return "wildcards (* ? [) are not allowed in the destination";
	if (upload && is_destination && !url)
		return "with --upload the destination must be a URL";
	if (upload && !is_destination && url)
		return "with --upload the sources are paths on the session's host, not URLs";
	if (!upload && is_destination && url)
		return "the destination of a download is a path on the session's host, not a "
		       "URL (use --upload to send files to a URL)";
	if (url && xferplan_check_url(s, upload && is_destination, why, sizeof why) != 0)
		return why;
	return NULL;
}

/* Where the job specs ({"sources", "destination"[, "name"]}) are gathered. */
struct specs {
	json_t     *arr;
	const char *name;     /* --name: a prefix with --csv */
	int         upload;
};

/* Add one job spec; 0, or -1 with the reason in why. */
static int add_spec(struct specs *sp, const char *const *sources, int nsources,
                    const char *destination, char *why, size_t whysz)
{
	const char *bad = bad_location(destination, sp->upload, 1), *where = destination;
	json_t *spec = json_object(), *srcs = json_array(), *dst = json_string(destination);
	for (int i = 0; bad == NULL && i < nsources; i++) {
		where = sources[i];
		bad = bad_location(where, sp->upload, 0);
		if (bad == NULL && json_array_append_new(srcs, json_string(where)) != 0)
			bad = "not valid UTF-8 text";
	}
	if (bad == NULL && dst == NULL) {
		where = destination;
		bad = "not valid UTF-8 text";
	}
	if (bad != NULL) {
		snprintf(why, whysz, "%s: %s", bad, where);
		json_decref(dst);
		json_decref(srcs);
		json_decref(spec);
		return -1;
	}
	json_object_set_new(spec, "sources", srcs);
	json_object_set_new(spec, "destination", dst);
	json_array_append_new(sp->arr, spec);
	return 0;
}

/* transfer_csv_parse callback: one row, one job. */
static int csv_row(void *ctx, unsigned line, const char *source, const char *destination,
                   char *why, size_t whysz)
{
	char reason[TRANSFER_FIELD_MAX + 160];
	const char *sources[1] = { source };
	if (add_spec(ctx, sources, 1, destination, reason, sizeof reason) == 0)
		return 0;
	snprintf(why, whysz, "line %u: %s", line, reason);
	return -1;
}

/* Name the specs: NAME alone, or NAME-1, NAME-2, ... for a --csv batch;
 * 0, or -1 with the reason in why. */
static int name_specs(struct specs *sp, int csv, char *why, size_t whysz)
{
	size_t i;
	json_t *spec;
	if (sp->name == NULL)
		return 0;
	json_array_foreach(sp->arr, i, spec) {
		char name[BOUND_NAME + 16];
		if (csv)
			snprintf(name, sizeof name, "%s-%zu", sp->name, i + 1);
		else
			snprintf(name, sizeof name, "%s", sp->name);
		if (!addr_valid_name(name)) {
			snprintf(why, whysz, "invalid name '%s': a letter, then letters, digits, "
			         "'.', '_' or '-', at most %u characters", name, BOUND_NAME);
			return -1;
		}
		json_object_set_new(spec, "name", json_string(name));
	}
	return 0;
}

/* Check the options of transfer start that do not depend on the files;
 * 0, or EXIT_USAGE after a usage message. */
static int check_start_opts(const struct transfer_opts *o)
{
	const struct cmd_entry *ce = &cmd_transfer_start_entry;
	if (o->auth != NULL && o->user == NULL)
		return out_usage(ce, "--auth goes with --user");
	if (o->password_stdin && o->user == NULL)
		return out_usage(ce, "--password-stdin goes with --user");
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

/* Gather the job specs from the arguments or the --csv file; 0, or
 * EXIT_USAGE after a usage message. */
static int gather_specs(const struct transfer_opts *o, const struct args *a, struct specs *sp)
{
	const struct cmd_entry *ce = &cmd_transfer_start_entry;
	char why[TRANSFER_FIELD_MAX + 256];
	sp->arr = json_array();
	sp->name = o->name;
	sp->upload = o->upload;
	if (o->csv != NULL) {
		size_t len = 0;
		if (a->argc > 0)
			return out_usage(ce, "no SOURCE or DESTINATION arguments with --csv "
			                 "(got %s)", a->argv[0]);
		char *text = read_small_file(o->csv, TRANSFER_CSV_MAX, &len, why, sizeof why);
		if (text == NULL)
			return out_usage(ce, "--csv: %s", why);
		int n = transfer_csv_parse(text, len, csv_row, sp, why, sizeof why);
		free(text);
		if (n < 0)
			return out_usage(ce, "--csv %s, %s", o->csv, why);
		if (n == 0)
			return out_usage(ce, "%s has no Source, Destination rows", o->csv);
	} else {
		if (a->argc < 2)
			return out_usage(ce, "expected SOURCE... DESTINATION (or --csv FILE)");
		if (o->sha256 && a->argc > 2)
			return out_usage(ce, "--sha256 goes with a single SOURCE");
		if (add_spec(sp, (const char *const *)a->argv, a->argc - 1, a->argv[a->argc - 1],
		             why, sizeof why) != 0)
			return out_usage(ce, "%s", why);
	}
	if (name_specs(sp, o->csv != NULL, why, sizeof why) != 0)
		return out_usage(ce, "%s", why);
	return 0;
}

/* The password for --user: stdin's first line, or asked on the terminal;
 * 0, or EXIT_USAGE after a usage message. */
static int get_password(const struct transfer_opts *o, char *pw, size_t pwsz)
{
	const struct cmd_entry *ce = &cmd_transfer_start_entry;
	if (o->password_stdin) {
		if (term_read_line(0, pw, pwsz) < 0)
			return out_usage(ce, "--password-stdin: no password line on stdin");
		return 0;
	}
	int tty = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (tty < 0)
		return out_usage(ce, "--user needs a password: no terminal to ask on, so give "
		                 "--password-stdin");
	close(tty);
	char prompt[BOUND_NAME + 64];
	snprintf(prompt, sizeof prompt, "Password for %.*s on the remote web server: ",
	         (int)BOUND_NAME, o->user);
	if (term_prompt_secret(prompt, pw, pwsz) < 0)
		return out_usage(ce, "no password given");
	return 0;
}

/* The create request common to every job of this start (all but sources,
 * destination, name); NULL after a usage message. pw holds the password
 * (if any) and must outlive the request. */
static json_t *base_request(const struct transfer_opts *o, const char *pw)
{
	const struct cmd_entry *ce = &cmd_transfer_start_entry;
	char why[200];
	json_t *req = json_pack("{s:s, s:b}", "direction", o->upload ? "upload" : "download",
	                        "suspended", o->suspended);
	put_tunables(req, o);
	if (o->priority == NULL)   /* Start-BitsTransfer's defaults */
		json_object_set_new(req, "priority", json_string(o->async ? "normal" : "foreground"));
	if (o->user != NULL) {
		json_t *cred = json_pack("{s:s?, s:s?}", "user", o->user, "password", pw);
		if (cred == NULL) {
			json_decref(req);
			out_usage(ce, "--user and its password must be UTF-8 text");
			return NULL;
		}
		if (o->auth != NULL)
			json_object_set_new(cred, "auth", json_string(o->auth));
		json_object_set_new(req, "credentials", cred);
	}
	if (o->proxy_usage || o->proxy_list || o->proxy_bypass) {
		json_t *proxy = json_pack("{s:s}", "usage", o->proxy_usage ? o->proxy_usage
		                                                           : "override");
		const char *lists[2][2] = { { "list", o->proxy_list }, { "bypass", o->proxy_bypass } };
		for (int i = 0; i < 2; i++) {
			if (lists[i][1] == NULL)
				continue;
			json_t *arr = split_list(lists[i][1], why, sizeof why);
			if (arr == NULL) {
				json_decref(proxy);
				json_decref(req);
				out_usage(ce, "--proxy-%s: %s", lists[i][0], why);
				return NULL;
			}
			json_object_set_new(proxy, lists[i][0], arr);
		}
		json_object_set_new(req, "proxy", proxy);
	}
	if (o->sha256 != NULL) {
		char hex[65];
		for (int i = 0; i < 64; i++)
			hex[i] = (char)(o->sha256[i] | 0x20);   /* lower case: digits are unchanged */
		hex[64] = '\0';
		json_object_set_new(req, "sha256", json_string(hex));
	}
	if (o->notify_cmd != NULL) {
		json_t *cmd = json_string(o->notify_cmd);
		if (cmd == NULL) {
			json_decref(req);
			out_usage(ce, "--notify-cmd must be UTF-8 text");
			return NULL;
		}
		json_object_set_new(req, "notify_cmd", cmd);
	}
	if (o->insecure)
		json_object_set_new(req, "insecure", json_true());
	if (o->cacert != NULL) {
		size_t len = 0;
		char *pem = read_small_file(o->cacert, TRANSFER_CACERT_MAX, &len, why, sizeof why);
		json_t *text = pem ? json_stringn(pem, len) : NULL;
		free(pem);
		if (text == NULL || strstr(json_string_value(text), "-----BEGIN CERTIFICATE-----")
		                    == NULL) {
			json_decref(text);
			json_decref(req);
			out_usage(ce, "--cacert: %s", pem ? "not a PEM certificate file" : why);
			return NULL;
		}
		json_object_set_new(req, "cacert", text);
	}
	return req;
}

/* Zero the password inside a request before it is freed: jansson frees
 * strings without clearing them, and this one is the user's secret. */
static void wipe_request(json_t *req)
{
	json_t *pw = json_object_get(json_object_get(req, "credentials"), "password");
	if (json_is_string(pw))
		crypto_wipe((char *)json_string_value(pw), json_string_length(pw));
}

/* ---- start: waiting ---- */

static volatile sig_atomic_t stop_signal;

/* SIGINT/SIGTERM during a synchronous start: cancel and leave. */
static void on_stop(int sig)
{
	stop_signal = sig;
}

/* Catch SIGINT and SIGTERM without SA_RESTART, so a wait ends at once. */
static void catch_stop_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* One job a synchronous start waits for. */
enum waited_end { W_RUNNING, W_DONE, W_FAILED };
struct waited {
	json_t         *job;      /* the latest object seen */
	char            ref[24];  /* its id, to ask for it */
	enum waited_end end;
};

/* The state of a job object ("" if none). */
static const char *state_of(json_t *t)
{
	const char *s = json_string_value(json_object_get(t, "state"));
	return s ? s : "";
}

/* A job's name for messages. */
static const char *name_of(const struct waited *w)
{
	const char *n = json_string_value(json_object_get(w->job, "name"));
	return n ? n : w->ref;
}

/* Replace w's object with t (taking it). */
static void set_job(struct waited *w, json_t *t)
{
	json_decref(w->job);
	w->job = t;
}

/* The progress display: on a terminal only, one line redrawn in place. */
struct progress {
	int  on;
	int  drawn;
	char lost[160];   /* why the server cannot be asked, while retrying */
};

/* Wipe the progress line, so a message can take its place. */
static void progress_clear(struct progress *pr)
{
	if (pr->drawn)
		fputs("\r\033[K", stderr);
	pr->drawn = 0;
}

/* "retry at 12:00:05Z (in 4m10s)" for a job in TransientError. */
static void retry_detail(json_t *t, char *out, size_t outsz)
{
	const char *at = json_string_value(json_object_get(t, "retry_at"));
	int64_t when;
	out[0] = '\0';
	if (at == NULL)
		return;
	if (timeu_parse_rfc3339(at, &when) != 0) {
		snprintf(out, outsz, "retry at %s", at);
		return;
	}
	char in[24];
	int64_t left = when - timeu_now();
	transfer_fmt_duration(left > 0 ? (uint64_t)left : 0, in, sizeof in);
	snprintf(out, outsz, "retry at %s (in %s)", strlen(at) > 11 ? at + 11 : at, in);
}

/* Draw the sum of the unfinished jobs' progress (all of them if one). */
static void progress_draw(struct progress *pr, struct waited *w, size_t n)
{
	struct transfer_progress p = { 0 };
	char label[32], detail[200] = "", line[512];
	struct winsize ws;
	json_t *lead = NULL;   /* whose state shows: one moving, else the first */
	size_t running = 0;
	if (!pr->on)
		return;
	for (size_t i = 0; i < n; i++) {
		json_t *t = w[i].job;
		int64_t total = num(t, "bytes_total");
		p.bytes_done += num(t, "bytes_transferred") > 0 ? num(t, "bytes_transferred") : 0;
		p.bytes_total = i > 0 && p.bytes_total < 0 ? -1
		                : total < 0 ? -1 : p.bytes_total + total;
		p.files_done += num(t, "files_transferred") > 0 ? num(t, "files_transferred") : 0;
		p.files_total += num(t, "files_total") > 0 ? num(t, "files_total") : 0;
		p.rate += num(t, "rate") > 0 ? (uint64_t)num(t, "rate") : 0;
		if (w[i].end != W_RUNNING)
			continue;
		running++;
		if (lead == NULL || (strcmp(state_of(lead), "Transferring") != 0 &&
		                     strcmp(state_of(t), "Transferring") == 0))
			lead = t;
	}
	if (n == 1)
		snprintf(label, sizeof label, "%.31s", name_of(&w[0]));
	else
		snprintf(label, sizeof label, "%zu/%zu jobs", n - running, n);
	p.label = label;
	p.state = pr->lost[0] ? "Reconnecting" : lead ? state_of(lead) : "Transferring";
	if (pr->lost[0])
		snprintf(detail, sizeof detail, "%s", pr->lost);
	else if (lead != NULL && strcmp(p.state, "TransientError") == 0)
		retry_detail(lead, detail, sizeof detail);
	p.detail = detail[0] ? detail : NULL;
	int width = ioctl(2, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 ? ws.ws_col : 80;
	/* one column short of the edge: a full line would wrap on some terminals */
	transfer_progress_line(&p, width - 1, line, sizeof line);
	fprintf(stderr, "\r%s\033[K", line);
	pr->drawn = 1;
}

/* What a wait came to, for the final document. */
struct outcome {
	int  rc;
	char code[48];
	char msg[512];
};

/* Record the first failure (later ones are on stderr already). */
static void fail_once(struct outcome *oc, int rc, const char *code, const char *msg)
{
	if (oc->rc != 0)
		return;
	oc->rc = rc;
	snprintf(oc->code, sizeof oc->code, "%s", code);
	snprintf(oc->msg, sizeof oc->msg, "%s", msg);
}

/* Look at a job's new state: complete it once Transferred, report an Error
 * or someone else's hand. */
static void settle(struct cmd_ctx *x, const char *session, struct waited *w,
                   struct progress *pr, struct outcome *oc)
{
	const char *st = state_of(w->job);
	char msg[512];
	if (strcmp(st, "Transferred") == 0) {
		json_t *t = NULL;
		tether_err e = tether_transfer_action(x->c, session, w->ref, "complete", &t);
		if (e == TETHER_E_OK) {
			set_job(w, t);
			w->end = W_DONE;
			return;
		}
		if (e == TETHER_E_INTERRUPTED)
			return;   /* still ours: the stop that cut this short cancels it */
		snprintf(msg, sizeof msg, "could not complete transfer %s: %s", name_of(w),
		         tether_last_error(x->c));
		progress_clear(pr);
		fprintf(stderr, "tether: %s\n", msg);
		fail_once(oc, EXIT_TETHER, tether_last_error_code(x->c)[0]
		                           ? tether_last_error_code(x->c) : tether_err_code(e), msg);
		w->end = W_FAILED;
	} else if (strcmp(st, "Error") == 0) {
		json_t *err = json_object_get(w->job, "error");
		const char *file = json_string_value(json_object_get(err, "file"));
		snprintf(msg, sizeof msg, "transfer %s failed: %s: %s%s%s%s", name_of(w),
		         str(err, "code"), str(err, "message"), file ? " (" : "", file ? file : "",
		         file ? ")" : "");
		progress_clear(pr);
		fprintf(stderr, "tether: %s\n"
		        "tether: the job is kept: 'tether transfer resume -s %s %s' retries it, "
		        "'tether transfer remove -s %s %s' drops it\n",
		        msg, session, name_of(w), session, name_of(w));
		fail_once(oc, EXIT_TETHER, json_is_string(json_object_get(err, "code"))
		                           ? str(err, "code") : "transfer_failed", msg);
		w->end = W_FAILED;
	} else if (strcmp(st, "Cancelled") == 0 || strcmp(st, "Acknowledged") == 0 ||
	           strcmp(st, "Suspended") == 0) {
		snprintf(msg, sizeof msg, "transfer %s was %s by someone else (state %s)%s",
		         name_of(w), st[0] == 'C' ? "removed" : st[0] == 'A' ? "completed"
		                                                          : "suspended", st,
		         st[0] == 'S' ? "; transfer resume starts it again" : "");
		progress_clear(pr);
		fprintf(stderr, "tether: %s\n", msg);
		fail_once(oc, EXIT_TETHER, "conflict", msg);
		w->end = W_FAILED;
	}
}

/* Ask after the unfinished jobs: one get for one job (which the server holds
 * until its worker ends, at most wait seconds), one listing a round for
 * several (a job missing from it is asked for alone, to learn why). */
static tether_err refresh(struct cmd_ctx *x, const char *session, struct waited *w, size_t n,
                          int wait, struct progress *pr, struct outcome *oc)
{
	json_t *listed = NULL;
	tether_err e = n > 1 ? tether_transfer_list(x->c, session, &listed) : TETHER_E_OK;
	for (size_t i = 0; e == TETHER_E_OK && i < n; i++) {
		size_t k;
		json_t *t, *found = NULL;
		if (w[i].end != W_RUNNING)
			continue;
		json_array_foreach(listed, k, t)
			if (num(t, "id") == num(w[i].job, "id"))
				found = json_incref(t);
		if (found == NULL && n == 1)
			e = tether_transfer_wait(x->c, session, w[i].ref, wait, &found);
		else if (found == NULL)
			e = tether_transfer_get(x->c, session, w[i].ref, &found);
		if (e == TETHER_E_NOT_FOUND) {
			char msg[300];
			snprintf(msg, sizeof msg, "transfer %s is gone (removed or completed by "
			         "someone else)", name_of(&w[i]));
			progress_clear(pr);
			fprintf(stderr, "tether: %s\n", msg);
			fail_once(oc, EXIT_TETHER, "not_found", msg);
			w[i].end = W_FAILED;
			e = TETHER_E_OK;
			continue;
		}
		if (e == TETHER_E_OK) {
			set_job(&w[i], found);
			settle(x, session, &w[i], pr, oc);
		}
	}
	json_decref(listed);
	return e;
}

/* Cancel the unfinished jobs after SIGINT/SIGTERM. */
static void cancel_all(struct cmd_ctx *x, const char *session, struct waited *w, size_t n,
                       struct progress *pr, struct outcome *oc)
{
	char msg[512];
	size_t removed = 0, kept = 0;
	tether_set_interrupt(x->c, NULL);   /* the removals must not be cut short */
	progress_clear(pr);
	for (size_t i = 0; i < n; i++) {
		json_t *t = NULL;
		if (w[i].end != W_RUNNING)
			continue;
		if (tether_transfer_action(x->c, session, w[i].ref, "remove", &t) == TETHER_E_OK) {
			set_job(&w[i], t);
			removed++;
			fprintf(stderr, "tether: cancelled transfer %s (removed)\n", name_of(&w[i]));
		} else {
			kept++;
			fprintf(stderr, "tether: could not cancel transfer %s: %s\n", name_of(&w[i]),
			        tether_last_error(x->c));
		}
	}
	snprintf(msg, sizeof msg, "interrupted by %s: %zu transfer job%s cancelled%s",
	         stop_signal == SIGTERM ? "SIGTERM" : "SIGINT", removed, removed == 1 ? "" : "s",
	         kept ? ", some could not be (see above)" : "");
	fprintf(stderr, "tether: %s\n", msg);
	oc->rc = 0;   /* the interruption is what this run comes to */
	fail_once(oc, EXIT_INTERRUPTED, "interrupted", msg);
}

/* Milliseconds of sleep, cut short by a signal. */
static void pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static size_t running_jobs(const struct waited *w, size_t n)
{
	size_t running = 0;
	for (size_t i = 0; i < n; i++)
		running += w[i].end == W_RUNNING;
	return running;
}

/* Poll until every job is done or failed, or a signal says stop. */
static void wait_all(struct cmd_ctx *x, const char *session, struct waited *w, size_t n,
                     struct outcome *oc)
{
	struct progress pr = { isatty(2) == 1, 0, "" };
	int64_t lost_since = -1;
	tether_set_interrupt(x->c, &stop_signal);
	for (;;) {
		if (stop_signal) {
			cancel_all(x, session, w, n, &pr, oc);
			break;
		}
		if (running_jobs(w, n) == 0)
			break;
		int64_t asked = timeu_mono_ms();
		tether_err e = refresh(x, session, w, n, pr.on ? WAIT_DRAW_S : WAIT_S, &pr, oc);
		if (e == TETHER_E_INTERRUPTED)
			continue;
		if (e == TETHER_E_CONNECT || e == TETHER_E_UNAVAILABLE) {
			/* ride out a short outage: the job goes on without us */
			int64_t now = timeu_mono_ms();
			lost_since = lost_since < 0 ? now : lost_since;
			snprintf(pr.lost, sizeof pr.lost, "%.120s", tether_last_error(x->c));
			if (now - lost_since < LOST_GRACE_MS) {
				progress_draw(&pr, w, n);
				pause_ms(1000);
				continue;
			}
		}
		if (e != TETHER_E_OK) {
			char msg[512];
			progress_clear(&pr);
			snprintf(msg, sizeof msg, "%s; the transfer job%s go%s on in the session "
			         "(see transfer list -s %s)", tether_last_error(x->c), n > 1 ? "s" : "",
			         n > 1 ? "" : "es", session);
			fprintf(stderr, "tether: %s\n", msg);
			fail_once(oc, EXIT_TETHER, tether_last_error_code(x->c)[0]
			                           ? tether_last_error_code(x->c) : tether_err_code(e),
			          msg);
			break;
		}
		lost_since = -1;
		pr.lost[0] = '\0';
		progress_draw(&pr, w, n);
		/* no pause after the last job ended, nor after a wait the server
		 * held (one that answered at once: a job in TransientError, or
		 * several jobs, or a server without waits) */
		int64_t took = timeu_mono_ms() - asked;
		if (running_jobs(w, n) > 0 && took < POLL_MS)
			pause_ms(POLL_MS - (long)took);
	}
	tether_set_interrupt(x->c, NULL);
	progress_clear(&pr);
}

/* Print the server's notes on the jobs ("file 1 restarted from zero"). */
static void print_notes(struct waited *w, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t k;
		json_t *note;
		json_array_foreach(json_object_get(w[i].job, "notes"), k, note)
			if (json_is_string(note))
				fprintf(stderr, "tether: note: transfer %s: %s\n", name_of(&w[i]),
				        json_string_value(note));
	}
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
			snprintf(w[i].ref, sizeof w[i].ref, "%lld", (long long)num(t, "id"));
			if (num(t, "id") <= 0)
				e = TETHER_E_PROTOCOL;
		}
		if (e == TETHER_E_OK && !stop_signal)
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
				fprintf(stderr, "tether: removed transfer %s again\n", name_of(&w[k]));
			else
				fprintf(stderr, "tether: could not remove transfer %s: %s\n",
				        name_of(&w[k]), tether_last_error(x->c));
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
		catch_stop_signals();
	for (size_t h = 0; h < nh; h++) {
		char session[BOUND_HOSTSPEC + BOUND_NAME + 2];
		snprintf(session, sizeof session, "%s/%s", hosts->v[h].addr, name);
		made[h] = stop_signal ? -EXIT_INTERRUPTED : create_all(x, session, base, specs,
		                                                        &w[h * n]);
		if (made[h] < 0)
			fprintf(stderr, "tether: %s: the transfer was not started there\n",
			        hosts->v[h].name);
	}
	for (size_t h = 0; !o->async && h < nh; h++) {
		char session[BOUND_HOSTSPEC + BOUND_NAME + 2];
		snprintf(session, sizeof session, "%s/%s", hosts->v[h].addr, name);
		if (made[h] >= 0)
			wait_all(x, session, &w[h * n], n, &oc[h]);
	}
	x->json = json;
	json_t *doc = json_array();
	for (size_t h = 0; h < nh; h++) {
		failed += made[h] < 0 || oc[h].rc != 0;
		if (json)
			json_array_append_new(doc, fleet_host_json(hosts->v[h].name, &w[h * n], n,
			                                           made[h], &oc[h]));
		for (size_t i = 0; !json && made[h] >= 0 && i < n; i++)
			printf("%s: transfer %s %s\n", hosts->v[h].name, name_of(&w[h * n + i]),
			       state_of(w[h * n + i].job));
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
	struct specs sp = { 0 };
	char pw[BOUND_PASSWORD + 2] = "";
	if (get_start_opts(a, &o) != 0 || gather_specs(&o, a, &sp) != 0) {
		json_decref(sp.arr);
		return EXIT_USAGE;
	}
	if (o.user != NULL && get_password(&o, pw, sizeof pw) != 0) {
		json_decref(sp.arr);
		return EXIT_USAGE;
	}
	json_t *base = base_request(&o, o.user ? pw : NULL);
	crypto_wipe(pw, sizeof pw);   /* base holds its own copy now */
	if (base == NULL) {
		json_decref(sp.arr);
		return EXIT_USAGE;
	}
	if (o.insecure)
		fputs("tether: WARNING: --insecure: the server will NOT verify the TLS certificate "
		      "of the remote web server.\ntether: WARNING: anyone on the network path can "
		      "read or change the transferred data.\n", stderr);
	if (x->target.fleet) {   /* -s TARGETS/NAME */
		int rc = start_fleet(x, &o, base, sp.arr);
		wipe_request(base);
		json_decref(base);
		json_decref(sp.arr);
		return rc;
	}
	size_t n = json_array_size(sp.arr);
	struct waited *w = calloc(n, sizeof *w);
	if (w == NULL) {
		wipe_request(base);
		json_decref(base);
		json_decref(sp.arr);
		fprintf(stderr, "tether: out of memory\n");
		return EXIT_TETHER;
	}
	if (!o.async)
		catch_stop_signals();
	int made = create_all(x, o.session, base, sp.arr, w);
	wipe_request(base);
	json_decref(base);
	json_decref(sp.arr);
	struct outcome oc = { 0, "", "" };
	if (made >= 0 && !o.async) {
		wait_all(x, o.session, w, n, &oc);
		if (oc.rc == 0)
			print_notes(w, n);
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
