/*
 * xfer.c - the transfer engine: scheduler and verbs (see xfer.h).
 *
 * One mutex serialises scheduling passes and the verbs, so a verb never
 * races a pass over the same job (a suspend cannot be undone by a pass that
 * read the job a moment earlier). Everything the worker writes is read as
 * untrusted input: its directory belongs to the user.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <glob.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "addr.h"
#include "fileio.h"
#include "jobs.h"
#include "jsonu.h"
#include "log.h"
#include "account.h"
#include "userfile.h"
#include "proto.h"
#include "secrets.h"
#include "spool.h"
#include "strparse.h"
#include "ticker.h"
#include "timeu.h"
#include "xfer.h"
#include "xfer-worker.h"

#define WORKER_VERB     "__transfer"
#define START_GRACE     10          /* seconds a new worker has to write its pid */
#define MAX_REPORT      (64 * 1024) /* bytes read from a worker's report file */
#define MAX_CACERT      (256 * 1024)
#define MAX_TEXT        4096        /* a source, destination, command... */

static pthread_mutex_t xlock = PTHREAD_MUTEX_INITIALIZER;
static struct ticker ticker;

/* ---- spool paths and the worker's reports ---- */

static void job_path(char out[BOUND_PATH], int64_t job, const char *name)
{
	spool_job_file(out, job, name);
}

static void work_path(char out[BOUND_PATH], int64_t job, const char *name)
{
	char n[64];
	snprintf(n, sizeof n, XFER_WORKDIR "/%s", name);
	spool_job_file(out, job, n);
}

/* Read a report from the worker's directory, which the user owns: read as
 * untrusted (no symlink, FIFO or foreign hard link; bounded), a JSON object
 * or NULL. */
static json_t *read_report(int64_t job, const char *name)
{
	char path[BOUND_PATH];
	size_t len;
	work_path(path, job, name);
	char *buf = fileio_read_untrusted(path, MAX_REPORT, &len);
	json_t *v = buf ? json_loadb(buf, len, 0, NULL) : NULL;
	free(buf);
	if (!json_is_object(v)) {
		json_decref(v);
		v = NULL;
	}
	return v;
}

/* The hidden partial file of a download: DIR/.NAME.tether-JOB-IDX.part */
static void partial_path(char *out, size_t outsz, const char *dest, int64_t job, size_t idx)
{
	const char *slash = strrchr(dest, '/');
	int dl = slash ? (int)(slash - dest) : 0;
	snprintf(out, outsz, "%.*s/.%s.tether-%lld-%zu.part", dl, dest, slash ? slash + 1 : dest,
	         (long long)job, idx);
}

/* True if the job's worker process is alive (its pid file names a process
 * whose command line is ours for this job: pid reuse cannot fool it). */
static bool worker_alive(int64_t job, pid_t *pidp)
{
	char path[BOUND_PATH], jdir[BOUND_PATH];
	work_path(path, job, "pid");
	/* the user owns this directory: never a blocking open (a FIFO here once
	 * froze every transfer, under xlock), never a symlink or hard link */
	char *t = fileio_read_untrusted(path, 31, NULL);
	int64_t pid = 0;
	if (t == NULL)
		return false;
	t[strcspn(t, "\n")] = '\0';
	int bad = strparse_i64(t, 2, INT32_MAX, &pid);
	free(t);
	if (bad != 0)
		return false;
	spool_job_dir(jdir, job);
	bool ok = jobs_proc_is((pid_t)pid, WORKER_VERB, jdir);
	if (ok && pidp)
		*pidp = (pid_t)pid;
	return ok;
}

/* For a worker that is not alive: did it run and end (its pid file is
 * there), or never get going? Either way its job needs settling. */
static bool worker_gone(int64_t job, int64_t last_start, int64_t now)
{
	char path[BOUND_PATH];
	struct stat st;
	work_path(path, job, "pid");
	return lstat(path, &st) == 0 || now - last_start > START_GRACE;
}

/* Where the key that seals credentials lives. */
static void key_path(char out[BOUND_PATH + 32], const struct server *srv)
{
	snprintf(out, BOUND_PATH + 32, "%s/%s", srv->conf.state_dir, SECRETS_KEY_FILE);
}

__attribute__((format(printf, 1, 2)))
static json_t *answer_error(const char *fmt, ...)
{
	char msg[2 * BOUND_PATH + 512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return json_pack("{s:s}", "error", msg);
}

static bool has_wildcard(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

static bool is_url(const char *s)
{
	const char *c = strstr(s, "://");
	return c != NULL && c > s && memchr(s, '/', (size_t)(c - s)) == NULL;
}

/* The file name a URL's path ends in, decoded; "" if it has none. */
static void url_name(const char *url, char *out, size_t outsz)
{
	out[0] = '\0';
	CURLU *u = curl_url();
	char *path = NULL;
	if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PATH, &path, CURLU_URLDECODE) == CURLUE_OK && path) {
		const char *slash = strrchr(path, '/');
		snprintf(out, outsz, "%s", slash ? slash + 1 : path);
	}
	curl_free(path);
	curl_url_cleanup(u);
}

static bool good_name(const char *n)
{
	return n[0] && strcmp(n, ".") != 0 && strcmp(n, "..") != 0 && !strchr(n, '/');
}

/* Add one source (with the name its destination takes) to the plan. */
static json_t *plan_add(json_t *plan, const char *src, const char *name)
{
	if (!good_name(name))
		return answer_error("cannot name a destination file after '%s'; give a file "
		                    "name as the destination", src);
	json_array_append_new(plan, json_pack("{s:s,s:s}", "source", src, "name", name));
	return NULL;
}

/* Local sources, with wildcards expanded, as the owner sees them. */
static json_t *plan_local(json_t *plan, const char *home, const char *src)
{
	char path[BOUND_PATH];
	struct stat st;
	path_absolute(path, sizeof path, home, src);
	if (!has_wildcard(path)) {
		if (stat(path, &st) != 0)
			return answer_error("cannot read '%s': %s", src, strerror(errno));
		if (!S_ISREG(st.st_mode))
			return answer_error("'%s' is not a regular file", src);
		const char *slash = strrchr(path, '/');
		return plan_add(plan, path, slash + 1);
	}
	glob_t g;
	int rc = glob(path, GLOB_ERR, NULL, &g);
	if (rc != 0) {
		globfree(&g);
		return rc == GLOB_NOMATCH ? answer_error("no files match '%s'", src)
		                          : answer_error("cannot list '%s'", src);
	}
	json_t *err = NULL;
	size_t n = 0;
	for (size_t i = 0; i < g.gl_pathc && err == NULL; i++) {
		if (stat(g.gl_pathv[i], &st) != 0 || !S_ISREG(st.st_mode))
			continue;   /* directories and the like are not files to move */
		const char *slash = strrchr(g.gl_pathv[i], '/');
		err = plan_add(plan, g.gl_pathv[i], slash + 1);
		n++;
	}
	globfree(&g);
	if (err == NULL && n == 0)
		err = answer_error("no regular files match '%s'", src);
	return err;
}

/* Work out a transfer's files as the owner: expand local sources, resolve
 * the destination, check the directories are there and writable.
 * arg: {"upload","sources","destination","home"}.
 * Answer: {"files":[{"source","destination"}]} or {"error"}. */
static json_t *plan_files(json_t *arg)
{
	bool upload = json_is_true(json_object_get(arg, "upload"));
	const char *home = json_string_value(json_object_get(arg, "home"));
	const char *dest = json_string_value(json_object_get(arg, "destination"));
	json_t *plan = json_array(), *err = NULL, *v;
	size_t i;
	json_array_foreach(json_object_get(arg, "sources"), i, v) {
		const char *src = json_string_value(v);
		char name[BOUND_PATH];
		if (is_url(src)) {
			url_name(src, name, sizeof name);
			err = plan_add(plan, src, name);
		} else {
			err = plan_local(plan, home, src);
		}
		if (err != NULL)
			break;
	}
	json_t *files = json_array();
	size_t n = json_array_size(plan);
	char d[BOUND_PATH], path[BOUND_PATH];
	struct stat st;
	bool dir_mode = dest[strlen(dest) - 1] == '/';
	if (err == NULL && !upload) {
		path_absolute(d, sizeof d, home, dest);
		if (!dir_mode && stat(d, &st) == 0 && S_ISDIR(st.st_mode))
			dir_mode = true;
		if (dir_mode) {
			size_t l = strlen(d);
			while (l > 1 && d[l - 1] == '/')
				d[--l] = '\0';
			snprintf(path, sizeof path, "%s", d);
		} else {
			const char *slash = strrchr(d, '/');
			snprintf(path, sizeof path, "%.*s", slash == d ? 1 : (int)(slash - d), d);
		}
		if (stat(path, &st) != 0)
			err = answer_error("destination directory '%s': %s", path, strerror(errno));
		else if (!S_ISDIR(st.st_mode))
			err = answer_error("'%s' is not a directory", path);
		else if (access(path, W_OK | X_OK) != 0)
			err = answer_error("cannot write in '%s': %s", path, strerror(errno));
	}
	if (err == NULL && !dir_mode && n != 1)
		err = answer_error("%s files need a directory destination (end it with '/')",
		                   n > 1 ? "several" : "no");
	json_array_foreach(plan, i, v) {
		if (err != NULL)
			break;
		const char *src = json_string_value(json_object_get(v, "source"));
		const char *name = json_string_value(json_object_get(v, "name"));
		char out[BOUND_PATH + 256];
		if (upload && dir_mode) {
			char *esc = curl_easy_escape(NULL, name, 0);
			snprintf(out, sizeof out, "%s%s", dest, esc ? esc : name);
			curl_free(esc);
		} else if (upload) {
			snprintf(out, sizeof out, "%s", dest);
		} else if (dir_mode) {
			snprintf(out, sizeof out, "%s/%s", strcmp(d, "/") ? d : "", name);
		} else {
			snprintf(out, sizeof out, "%s", d);
		}
		for (size_t k = 0; k < json_array_size(files); k++)
			if (strcmp(json_string_value(json_object_get(json_array_get(files, k),
			           "destination")), out) == 0)
				err = answer_error("two sources would both be written to '%s'", out);
		json_array_append_new(files, json_pack("{s:s,s:s}", "source", src,
		                                       "destination", out));
	}
	json_decref(plan);
	if (err != NULL) {
		json_decref(files);
		return err;
	}
	return json_pack("{s:o}", "files", files);
}

/* Rename finished downloads into place, delete the rest; or (discard)
 * delete every partial. arg: {"commit", "files":[{"partial","destination","done"}]}.
 * Answer: {"committed": N} or {"error"}. */
static json_t *finish_files(json_t *arg)
{
	bool commit = json_is_true(json_object_get(arg, "commit"));
	size_t i, n = 0;
	json_t *v;
	json_array_foreach(json_object_get(arg, "files"), i, v) {
		const char *part = json_string_value(json_object_get(v, "partial"));
		const char *dest = json_string_value(json_object_get(v, "destination"));
		if (commit && json_is_true(json_object_get(v, "done"))) {
			if (userfile_commit(part, dest) != 0)
				return answer_error("cannot move the file into place at '%s': %s", dest,
				                    strerror(errno));
			n++;
		} else {
			unlink(part);
		}
	}
	return json_pack("{s:I}", "committed", (json_int_t)n);
}

/* ---- the job object ---- */

static json_t *time_or_null(int64_t t)
{
	if (t <= 0)
		return json_null();
	char buf[TIMEU_RFC3339_LEN];
	timeu_rfc3339(t, buf);
	return json_string(buf);
}

static json_t *int_or_null(int64_t v)
{
	return v >= 0 ? json_integer(v) : json_null();
}

/* The job object of docs/cli.md "transfer" (rate from the live worker). */
static json_t *xfer_json(const struct xfer_rec *t, const char *session, int state)
{
	int64_t total = 0, done = 0, nfiles_done = 0;
	json_t *files = json_array();
	for (size_t i = 0; i < t->nfiles; i++) {
		const struct xfer_file *f = &t->files[i];
		if (total >= 0)
			total = f->bytes_total >= 0 ? total + f->bytes_total : -1;
		done += f->bytes_transferred;
		nfiles_done += f->done;
		json_array_append_new(files, json_pack("{s:s,s:s,s:o,s:I,s:b}", "source", f->source,
			"destination", f->destination, "bytes_total", int_or_null(f->bytes_total),
			"bytes_transferred", (json_int_t)f->bytes_transferred, "done", f->done));
	}
	json_t *o = json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:I,s:I,s:I,s:o}",
		"id", (json_int_t)t->job_id, "name", t->name, "type", proto_job_type_str(JOB_TYPE_TRANSFER),
		"session", session, "direction", t->upload ? "upload" : "download",
		"state", proto_xfer_state_str(state), "priority", proto_xfer_priority_str(t->priority),
		"bytes_total", int_or_null(total), "bytes_transferred", (json_int_t)done,
		"files_total", (json_int_t)t->nfiles, "files_transferred", (json_int_t)nfiles_done,
		"files", files);
	json_object_set_new(o, "error", t->error_code[0]
		? json_pack("{s:s,s:s,s:s}", "code", t->error_code, "message", t->error_message,
		            "file", t->error_file)
		: json_null());
	json_t *progress = (state == XFER_TRANSFERRING || state == XFER_CONNECTING)
	                 ? read_report(t->job_id, "progress.json") : NULL;
	json_t *rate = json_object_get(progress, "rate");
	json_object_set_new(o, "rate", json_integer(json_is_integer(rate)
	                                            ? json_integer_value(rate) : 0));
	json_decref(progress);
	json_object_set_new(o, "retry_at", time_or_null(state == XFER_TRANSIENTERROR
	                                                 ? t->retry_at : 0));
	json_object_set(o, "notes", t->notes);
	json_object_set_new(o, "created", time_or_null(t->created));
	json_object_set_new(o, "modified", time_or_null(t->modified));
	json_object_set_new(o, "completed", time_or_null(t->completed));
	json_t *opts = json_deep_copy(t->options);
	if (json_object_get(opts, "cacert"))
		json_object_set_new(opts, "cacert", json_true());   /* given, not echoed */
	json_object_set_new(o, "options", opts);
	return o;
}

/* ---- the scheduler ---- */

static bool live_state(int s)
{
	return s == XFER_CONNECTING || s == XFER_TRANSFERRING;
}

static int64_t opt_int(const struct xfer_rec *t, const char *key, int64_t dflt)
{
	json_t *v = json_object_get(t->options, key);
	return json_is_integer(v) ? json_integer_value(v) : dflt;
}

static void set_error(struct xfer_rec *t, const char *code, const char *msg, const char *file)
{
	snprintf(t->error_code, sizeof t->error_code, "%s", code ? code : "");
	snprintf(t->error_message, sizeof t->error_message, "%s", msg ? msg : "");
	snprintf(t->error_file, sizeof t->error_file, "%s", file ? file : "");
}

static void add_note(struct xfer_rec *t, const char *text)
{
	size_t i;
	json_t *v;
	json_array_foreach(t->notes, i, v)
		if (strcmp(json_string_value(v), text) == 0)
			return;
	if (json_array_size(t->notes) < 32)
		json_array_append_new(t->notes, json_string(text));
}

static void log_xfer(const struct xfer_rec *t, const char *event)
{
	struct logline l;
	log_begin(&l, LOG_INFO, event);
	log_int(&l, "job", t->job_id);
	log_str(&l, "state", proto_xfer_state_str(t->state));
	if (t->error_code[0])
		log_str(&l, "error", t->error_code);
	log_end(&l);
}

/* Run the job's notify command, as a background job of its session. */
static void notify(struct server *srv, const struct xfer_rec *t)
{
	const char *cmd = json_string_value(json_object_get(t->options, "notify_cmd"));
	if (cmd == NULL)
		return;
	struct user_rec u;
	struct session_rec s;
	char ref[32], why[200];
	snprintf(ref, sizeof ref, "%lld", (long long)t->session_id);
	if (store_user_by_id(srv->store, t->user_id, &u) != TETHER_E_OK ||
	    store_session_get(srv->store, t->user_id, ref, &s) != TETHER_E_OK)
		return;
	size_t len = strlen(cmd) + BOUND_NAME + 160;
	char *full = malloc(len);
	if (full == NULL)
		return;
	/* the job and its state reach the command as environment variables */
	snprintf(full, len, "export TETHER_TRANSFER_ID=%lld TETHER_TRANSFER_NAME='%s' "
	         "TETHER_TRANSFER_STATE=%s\n%s", (long long)t->job_id, t->name,
	         proto_xfer_state_str(t->state), cmd);
	struct job_rec j = { .session_id = s.id, .state = JOB_RUNNING, .command = full,
	                     .exit_code = -1, .started = timeu_now() };
	j.type = JOB_TYPE_BACKGROUND;
	if (store_job_create(srv->store, &j, false) == TETHER_E_OK)
		jobs_start(srv, &u, &s, &j, false, NULL, why, sizeof why);
	free(full);
}

/* Add the notes of a worker report (an array of strings) to t. */
static void take_notes(struct xfer_rec *t, json_t *notes)
{
	size_t i;
	json_t *v;
	json_array_foreach(notes, i, v)
		if (json_is_string(v))
			add_note(t, json_string_value(v));
}

/* Fold a worker's file-N.json into t; see xfer.h. */
void xfer_fold_file_report(struct xfer_rec *t, size_t i, json_t *m)
{
	struct xfer_file *f = &t->files[i];
	json_t *tot = json_object_get(m, "total");
	if (json_is_integer(tot) && json_integer_value(tot) >= 0)
		f->bytes_total = json_integer_value(tot);
	f->done = json_is_true(json_object_get(m, "done"));
	take_notes(t, json_object_get(m, "notes"));
}

/* Fold a worker's progress.json into t; see xfer.h. */
void xfer_fold_progress(struct xfer_rec *t, json_t *p)
{
	int64_t idx = json_integer_value(json_object_get(p, "idx"));
	if (idx >= 0 && (size_t)idx < t->nfiles) {
		struct xfer_file *f = &t->files[idx];
		int64_t b = json_integer_value(json_object_get(p, "bytes"));
		json_t *tot = json_object_get(p, "total");
		if (b >= 0)
			f->bytes_transferred = b;
		if (json_is_integer(tot) && json_integer_value(tot) >= 0)
			f->bytes_total = json_integer_value(tot);
		for (int64_t k = 0; k < idx; k++)
			if (!t->files[k].done) {
				t->files[k].done = true;   /* the worker goes in order */
				t->files[k].bytes_transferred = t->files[k].bytes_total;
			}
	}
	const char *st = json_string_value(json_object_get(p, "state"));
	if (st != NULL && strcmp(st, "Transferring") == 0)
		t->state = XFER_TRANSFERRING;
	take_notes(t, json_object_get(p, "notes"));
}

/* Fold a worker's result.json (r may be NULL: it vanished) into t's state
 * and error; see xfer.h. */
void xfer_fold_result(struct xfer_rec *t, json_t *r, int64_t now)
{
	const char *outcome = json_string_value(json_object_get(r, "outcome"));
	json_t *err = json_object_get(r, "error");
	take_notes(t, json_object_get(r, "notes"));
	bool all = true;
	for (size_t i = 0; i < t->nfiles; i++)
		all = all && t->files[i].done;
	const char *code = json_string_value(json_object_get(err, "code"));
	const char *msg = json_string_value(json_object_get(err, "message"));
	const char *file = json_string_value(json_object_get(err, "file"));
	if (outcome != NULL && strcmp(outcome, "transferred") == 0 && all) {
		t->state = XFER_TRANSFERRED;
		t->completed = now;
		set_error(t, NULL, NULL, NULL);
	} else if (outcome != NULL && strcmp(outcome, "error") == 0) {
		t->state = XFER_ERROR;
		set_error(t, code, msg, file);
	} else if (outcome != NULL && strcmp(outcome, "transient") == 0) {
		int64_t delay = opt_int(t, "retry_delay", 600);
		int64_t after = json_integer_value(json_object_get(r, "retry_after"));
		if (after > delay && after < 86400)
			delay = after;   /* the server asked for a longer pause */
		t->state = XFER_TRANSIENTERROR;
		t->retry_at = now + delay;
		set_error(t, code, msg, file);
	} else {
		/* stopped on purpose, or vanished (a reboot): go again from disk */
		t->state = XFER_QUEUED;
	}
}

/* Fold the worker's per-file records and the partials' sizes into t. */
static void read_files(struct xfer_rec *t)
{
	for (size_t i = 0; i < t->nfiles; i++) {
		struct xfer_file *f = &t->files[i];
		char name[48];
		snprintf(name, sizeof name, "file-%zu.json", i);
		json_t *m = read_report(t->job_id, name);
		xfer_fold_file_report(t, i, m);
		json_decref(m);
		if (f->done) {
			f->bytes_transferred = f->bytes_total;
		} else if (!t->upload) {
			char part[BOUND_PATH];
			struct stat st;
			partial_path(part, sizeof part, f->destination, t->job_id, i);
			f->bytes_transferred = lstat(part, &st) == 0 && S_ISREG(st.st_mode)
			                     ? st.st_size : 0;
		} else {
			f->bytes_transferred = 0;   /* uploads restart from zero */
		}
	}
}

/* Take the running worker's progress report into t. */
static void take_progress(struct xfer_rec *t)
{
	json_t *p = read_report(t->job_id, "progress.json");
	if (p == NULL)
		return;
	xfer_fold_progress(t, p);
	json_decref(p);
}

static int64_t bytes_done(const struct xfer_rec *t)
{
	int64_t n = 0;
	for (size_t i = 0; i < t->nfiles; i++)
		n += t->files[i].bytes_transferred;
	return n;
}

/* A worker ended: take its result. */
static void settle(struct server *srv, struct xfer_rec *t, int64_t now)
{
	json_t *r = read_report(t->job_id, "result.json");
	read_files(t);
	xfer_fold_result(t, r, now);
	json_decref(r);
	char path[BOUND_PATH];
	work_path(path, t->job_id, "result.json");
	unlink(path);
	if (t->state == XFER_TRANSIENTERROR &&
	    now - t->progress_at > opt_int(t, "no_progress_timeout", 14 * 86400)) {
		char m[sizeof t->error_message + 64];
		int n = snprintf(m, sizeof m, "no progress for %lld s; last error: %s",
		                 (long long)(now - t->progress_at), t->error_message);
		if (n >= (int)sizeof t->error_message)
			m[sizeof t->error_message - 1] = '\0';
		memcpy(t->error_message, m, sizeof t->error_message);
		t->state = XFER_ERROR;
	}
	log_xfer(t, "transfer_settled");
	if (t->state == XFER_TRANSFERRED || t->state == XFER_ERROR)
		notify(srv, t);
}

/* Stop a worker (SIGTERM, then SIGKILL after grace) and wait for it. */
static void stop_worker(int64_t job, int grace_ms)
{
	pid_t pid;
	if (!worker_alive(job, &pid))
		return;
	kill(pid, SIGTERM);
	bool killed = false;
	for (int ms = 0; worker_alive(job, NULL); ms += 20) {
		if (ms >= grace_ms && !killed) {
			kill(pid, SIGKILL);
			killed = true;
		}
		if (ms > grace_ms + 5000)
			break;
		struct timespec ts = { 0, 20 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}

/* Write the rate a worker may use (the worker re-reads it each second). */
static void write_rate(int64_t job, int64_t rate)
{
	char path[BOUND_PATH], text[32];
	job_path(path, job, "rate");
	int n = snprintf(text, sizeof text, "%lld\n", (long long)rate);
	char *old = fileio_read(path, 32, NULL);
	if (old == NULL || strcmp(old, text) != 0)
		fileio_replace(path, text, (size_t)n, 0644, false);
	free(old);
}

/* Start the job's worker. */
static void spawn(struct server *srv, struct xfer_rec *t, int64_t now, int64_t rate)
{
	struct user_rec u;
	struct account acct;
	char why[200], jdir[BOUND_PATH], wdir[BOUND_PATH], path[BOUND_PATH];
	if (store_user_by_id(srv->store, t->user_id, &u) != TETHER_E_OK ||
	    account_of(&u, &acct, why, sizeof why) != TETHER_E_OK) {
		t->state = XFER_ERROR;
		set_error(t, "no_account", "the owner has no account to transfer as", "");
		return;
	}
	spool_job_dir(jdir, t->job_id);
	work_path(wdir, t->job_id, "");
	if (spool_mkdir(jdir, (uid_t)-1, (gid_t)-1) != 0 || chmod(jdir, 0711) != 0 ||
	    spool_mkdir(wdir, acct.uid, acct.gid) != 0) {
		t->state = XFER_ERROR;
		set_error(t, "internal", "cannot create the transfer's spool", "");
		return;
	}
	static const char *const stale[] = { "result.json", "pid", "progress.json" };
	for (size_t i = 0; i < sizeof stale / sizeof stale[0]; i++) {
		work_path(path, t->job_id, stale[i]);
		unlink(path);
	}
	json_t *files = json_array();
	for (size_t i = 0; i < t->nfiles; i++) {
		const struct xfer_file *f = &t->files[i];
		if (f->done)
			continue;
		char part[BOUND_PATH];
		json_t *o = json_pack("{s:I}", "idx", (json_int_t)i);
		if (t->upload) {
			json_object_set_new(o, "path", json_string(f->source));
			json_object_set_new(o, "url", json_string(f->destination));
		} else {
			partial_path(part, sizeof part, f->destination, t->job_id, i);
			json_object_set_new(o, "path", json_string(f->destination));
			json_object_set_new(o, "partial", json_string(part));
			if (is_url(f->source)) {
				json_object_set_new(o, "url", json_string(f->source));
			} else {
				char *esc = NULL;
				CURLU *cu = curl_url();
				if (cu && curl_url_set(cu, CURLUPART_SCHEME, "file", 0) == CURLUE_OK &&
				    curl_url_set(cu, CURLUPART_PATH, f->source, CURLU_URLENCODE) == CURLUE_OK)
					curl_url_get(cu, CURLUPART_URL, &esc, 0);
				json_object_set_new(o, "url", json_string(esc ? esc : ""));
				curl_free(esc);
				curl_url_cleanup(cu);
			}
		}
		json_array_append_new(files, o);
	}
	char key[BOUND_PATH + 32], rate_file[BOUND_PATH];
	key_path(key, srv);
	job_path(rate_file, t->job_id, "rate");
	json_t *spec = json_pack("{s:b,s:o,s:O,s:s,s:s,s:s}",
		"upload", t->upload, "files", files, "options", t->options,
		"workdir", wdir, "rate_file", rate_file, "key_path", key);
	account_to_spec(&acct, spec);
	if (t->credentials != NULL)
		json_object_set_new(spec, "credentials", json_string(t->credentials));
	char *text = json_dumps(spec, JSON_COMPACT);
	json_decref(spec);
	job_path(path, t->job_id, "spec.json");
	write_rate(t->job_id, rate);
	int ok = text && fileio_replace(path, text, strlen(text), 0600, false) == 0 &&
	         jobs_spawn_detached(WORKER_VERB, jdir) == 0;
	free(text);
	if (!ok) {
		t->state = XFER_ERROR;
		set_error(t, "internal", "cannot start the transfer worker", "");
		return;
	}
	t->state = XFER_CONNECTING;
	t->last_start = now;
	set_error(t, NULL, NULL, NULL);
	t->retry_at = 0;
	log_xfer(t, "transfer_start");
}

/* A transfer as the pass sees it. */
struct slot {
	struct xfer_rec t;
	bool   alive, want;
	int64_t before;     /* bytes before this pass */
	int    state0;
};

static int by_turn(const void *a, const void *b)
{
	const struct slot *x = *(struct slot *const *)a, *y = *(struct slot *const *)b;
	if (x->t.priority != y->t.priority)
		return x->t.priority - y->t.priority;
	/* round robin: whoever started longest ago goes first */
	return x->t.last_start < y->t.last_start ? -1 : x->t.last_start > y->t.last_start;
}

/* One pass over every live transfer. Called with xlock held. */
static void pass_locked(struct server *srv)
{
	int64_t *ids = NULL, now = timeu_now();
	size_t n = 0;
	if (store_xfer_ids(srv->store, 0, &ids, &n) != TETHER_E_OK || n == 0) {
		free(ids);
		return;
	}
	struct slot *sl = calloc(n, sizeof *sl);
	struct slot **bg = calloc(n, sizeof *bg);
	size_t nbg = 0;
	bool fg_active = false;
	for (size_t i = 0; sl && bg && i < n; i++) {
		struct slot *s = &sl[i];
		if (store_xfer_get(srv->store, ids[i], &s->t) != TETHER_E_OK) {
			s->t.job_id = 0;
			continue;
		}
		struct xfer_rec *t = &s->t;
		s->state0 = t->state;
		s->before = bytes_done(t);
		s->alive = worker_alive(t->job_id, NULL);
		if (live_state(t->state) && !s->alive) {
			if (worker_gone(t->job_id, t->last_start, now))
				settle(srv, t, now);
		} else if (s->alive) {
			take_progress(t);
		}
		if (t->state == XFER_TRANSIENTERROR && t->retry_at <= now)
			t->state = XFER_QUEUED;
		if (t->state == XFER_QUEUED || live_state(t->state)) {
			if (t->priority == XPRIO_FOREGROUND) {
				fg_active = true;
				s->want = true;
			} else {
				bg[nbg++] = s;
			}
		}
	}
	/* background: in priority order, round robin in a class; a running job
	 * keeps its place until its slice is over */
	if (!fg_active && nbg > 0) {
		for (size_t i = 0; i < nbg; i++)
			if (bg[i]->alive && live_state(bg[i]->t.state) &&
			    now - bg[i]->t.last_start < srv->conf.transfer_slice)
				bg[i]->t.last_start -= 1LL << 40;   /* sort first (restored below) */
		qsort(bg, nbg, sizeof *bg, by_turn);
		for (size_t i = 0; i < nbg; i++) {
			if (bg[i]->t.last_start < 0)
				bg[i]->t.last_start += 1LL << 40;
			bg[i]->want = i < (size_t)srv->conf.transfer_concurrency;
		}
	}
	size_t nbg_run = 0;
	for (size_t i = 0; i < nbg; i++)
		nbg_run += bg[i]->want;
	int64_t cap = srv->conf.transfer_background_rate;
	for (size_t i = 0; sl && bg && i < n; i++) {
		struct slot *s = &sl[i];
		struct xfer_rec *t = &s->t;
		if (t->job_id == 0)
			continue;
		int64_t rate = opt_int(t, "max_rate", 0);
		if (t->priority != XPRIO_FOREGROUND && cap > 0 && nbg_run > 0) {
			int64_t share = cap / (int64_t)nbg_run;
			rate = rate > 0 && rate < share ? rate : (share > 0 ? share : 1);
		}
		if (s->want && !s->alive && (t->state == XFER_QUEUED))
			spawn(srv, t, now, rate);
		else if (s->want && s->alive)
			write_rate(t->job_id, rate);
		else if (!s->want && s->alive && live_state(t->state)) {
			pid_t pid;
			if (worker_alive(t->job_id, &pid))
				kill(pid, SIGTERM);   /* preempted: it goes back to the queue */
			t->state = XFER_QUEUED;
		}
		int64_t after = bytes_done(t);
		if (after > s->before)
			t->progress_at = now;
		if (after != s->before || t->state != s->state0) {
			if (t->state != s->state0)
				t->modified = now;
			store_xfer_update(srv->store, t);
		}
		xfer_rec_clear(t);
	}
	free(bg);
	free(sl);
	free(ids);
}

/* Waiters (xfer_wait) learn of passes: a queued job may have been started,
 * a worker's end settled. */
static pthread_mutex_t wait_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t  passed = PTHREAD_COND_INITIALIZER;
static uint64_t        passes;
static bool            released;   /* the daemon is stopping: nobody waits */

void xfer_pass(struct server *srv)
{
	pthread_mutex_lock(&xlock);
	pass_locked(srv);
	pthread_mutex_unlock(&xlock);
	pthread_mutex_lock(&wait_lock);
	passes++;
	pthread_cond_broadcast(&passed);
	pthread_mutex_unlock(&wait_lock);
}

void xfer_release_waiters(void)
{
	pthread_mutex_lock(&wait_lock);
	released = true;
	pthread_cond_broadcast(&passed);
	pthread_mutex_unlock(&wait_lock);
}

/* The number of passes so far; false once the daemon is stopping. */
static bool pass_count(uint64_t *n)
{
	pthread_mutex_lock(&wait_lock);
	*n = passes;
	bool ok = !released;
	pthread_mutex_unlock(&wait_lock);
	return ok;
}

/* Sleep until a pass after the since-th, the daemon stopping, or ms. */
static void await_pass(uint64_t since, int ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += (long)ms * 1000 * 1000;
	ts.tv_sec += ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	pthread_mutex_lock(&wait_lock);
	while (passes == since && !released)
		if (pthread_cond_timedwait(&passed, &wait_lock, &ts) != 0)
			break;
	pthread_mutex_unlock(&wait_lock);
}

/* Sleep until the job's worker (pid) exits, or ms; false if it cannot be
 * watched (no pidfd_open: kernels before 5.3). */
static bool await_exit(int64_t job, pid_t pid, int ms)
{
#ifdef SYS_pidfd_open
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0)
		return errno == ESRCH;   /* it is gone already */
	pid_t again;
	/* the pid could have been reused before it was opened: still ours? */
	if (worker_alive(job, &again) && again == pid) {
		struct pollfd p = { fd, POLLIN, 0 };
		poll(&p, 1, ms);
	}
	close(fd);
	return true;
#else
	(void)job; (void)pid; (void)ms;
	return false;
#endif
}

void xfer_wait(struct server *srv, const struct session_rec *s, int64_t job, int timeout_ms)
{
	int64_t deadline = timeu_mono_ms() + timeout_ms;
	for (;;) {
		uint64_t gen;
		struct xfer_rec t;
		if (!pass_count(&gen) || store_xfer_get(srv->store, job, &t) != TETHER_E_OK)
			return;
		bool live = live_state(t.state);
		bool waits = t.session_id == s->id && (live || t.state == XFER_QUEUED);
		int64_t last_start = t.last_start;
		xfer_rec_clear(&t);
		int64_t left = deadline - timeu_mono_ms();
		if (!waits || left <= 0)
			return;
		int step = left > 250 ? 250 : (int)left;   /* the daemon may stop meanwhile */
		pid_t pid;
		if (live && worker_alive(job, &pid)) {
			if (!await_exit(job, pid, step))
				await_pass(gen, step);   /* a pass settles it */
		} else if (live && worker_gone(job, last_start, timeu_now())) {
			return;   /* it ended: the caller settles it */
		} else if (live) {
			/* starting up: its pid file comes within milliseconds */
			struct timespec ts = { 0, (step < 10 ? step : 10) * 1000 * 1000L };
			nanosleep(&ts, NULL);
		} else {
			await_pass(gen, step);   /* queued: the scheduler starts it */
		}
	}
}

static void tick(void *arg)
{
	xfer_pass(arg);
}

int xfer_start(struct server *srv)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	return ticker_start(&ticker, tick, srv, 250);   /* a finished worker is seen soon */
}

void xfer_stop(void)
{
	if (!ticker.running)
		return;
	ticker_stop(&ticker);
	curl_global_cleanup();
}

void xfer_kick(void)
{
	ticker_kick(&ticker);
}

/* ---- creating ---- */

static const char *const schemes[] = { "http", "https", "ftp", "ftps", "sftp", "smb",
                                       "smbs", "file" };

/* A URL the worker may use: parses, and has a scheme we transfer over
 * (tether://, another tetherd's upload endpoint, only if upload_dest). */
static int check_url(const char *url, bool upload_dest, char *err, size_t errsz)
{
	/* '?' starts a query and '[' an IPv6 literal: '*' is the wildcard people try */
	const char *q = strchr(url, '?');
	const char *star = strchr(url, '*');
	if (star != NULL && (q == NULL || star < q)) {
		snprintf(err, errsz, "wildcards are only allowed in local paths, not in URLs: %s",
		         url);
		return -1;
	}
	CURLU *u = curl_url();
	char *scheme = NULL;
	CURLUcode rc = u ? curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME)
	                 : CURLUE_OUT_OF_MEMORY;
	if (rc == CURLUE_OK)
		rc = curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
	int ok = -1;
	if (rc != CURLUE_OK) {
		snprintf(err, errsz, "malformed URL '%s': %s", url, curl_url_strerror(rc));
	} else {
		for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++)
			if (strcasecmp(scheme, schemes[i]) == 0)
				ok = 0;
		if (upload_dest && strcasecmp(scheme, "tether") == 0)
			ok = 0;
		if (ok != 0)
			snprintf(err, errsz, "unsupported scheme '%s' (use http, https, ftp, ftps, "
			         "sftp, smb, smbs or file%s)", scheme,
			         upload_dest ? "; or tether to upload to another tetherd" : "");
	}
	curl_free(scheme);
	curl_url_cleanup(u);
	return ok;
}

/* Text fields: bounded, no control characters. */
static int check_text(const char *what, const char *s, size_t max, char *err, size_t errsz)
{
	size_t n = strlen(s);
	if (n == 0 || n > max) {
		snprintf(err, errsz, "%s must be 1 to %zu characters", what, max);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
			snprintf(err, errsz, "%s must not contain control characters", what);
			return -1;
		}
	return 0;
}

/* Validate the request's options into the stored form. */
static int parse_options(struct server *srv, json_t *body, json_t *opts, char **sealed,
                         char *err, size_t errsz)
{
	int64_t v;
	const char *s;
	bool b;
	static const struct { const char *key; int64_t min, max, dflt; } nums[] = {
		{ "retry_delay", 1, 30 * 86400, 600 },
		{ "no_progress_timeout", 1, 3650LL * 86400, 14 * 86400 },
		{ "max_rate", 0, INT64_MAX / 2, 0 },
	};
	for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
		v = nums[i].dflt;
		if (jsonu_get_int(body, nums[i].key, false, nums[i].min, nums[i].max, &v, err,
		                  errsz) < 0)
			return -1;
		json_object_set_new(opts, nums[i].key, json_integer(v));
	}
	b = false;
	if (jsonu_get_bool(body, "insecure", false, &b, err, errsz) < 0)
		return -1;
	json_object_set_new(opts, "insecure", json_boolean(b));
	json_t *ca = json_object_get(body, "cacert");
	if (ca != NULL) {
		s = json_string_value(ca);
		if (s == NULL || strlen(s) > MAX_CACERT || !strstr(s, "-----BEGIN CERTIFICATE-----")) {
			snprintf(err, errsz, "cacert must be PEM certificate text (at most %d bytes)",
			         MAX_CACERT);
			return -1;
		}
		if (b) {
			snprintf(err, errsz, "cacert and insecure exclude each other");
			return -1;
		}
		json_object_set(opts, "cacert", ca);
	}
	json_t *sha = json_object_get(body, "sha256");
	if (sha != NULL) {
		s = json_string_value(sha);
		bool hex = s != NULL && strlen(s) == 64;
		for (size_t i = 0; hex && i < 64; i++)
			hex = strchr("0123456789abcdefABCDEF", s[i]) != NULL;
		if (!hex) {
			snprintf(err, errsz, "sha256 must be 64 hexadecimal digits");
			return -1;
		}
		json_object_set(opts, "sha256", sha);
	}
	json_t *cmd = json_object_get(body, "notify_cmd");
	if (cmd != NULL) {
		if (!json_is_string(cmd) || strlen(json_string_value(cmd)) == 0 ||
		    strlen(json_string_value(cmd)) > MAX_TEXT) {
			snprintf(err, errsz, "notify_cmd must be a command of 1 to %d characters",
			         MAX_TEXT);
			return -1;
		}
		json_object_set(opts, "notify_cmd", cmd);
	}
	json_t *cred = json_object_get(body, "credentials");
	if (cred != NULL) {
		const char *user = NULL, *pass = NULL, *auth = "any";
		if (!json_is_object(cred) ||
		    jsonu_get_string(cred, "user", true, BOUND_NAME * 4, &user, err, errsz) < 0 ||
		    jsonu_get_string(cred, "password", false, SECRETS_MAX, &pass, err, errsz) < 0 ||
		    jsonu_get_string(cred, "auth", false, 16, &auth, err, errsz) < 0) {
			if (!json_is_object(cred))
				snprintf(err, errsz, "credentials must be an object {user, password, auth}");
			return -1;
		}
		if (auth == NULL)
			auth = "any";
		static const char *const auths[] = { "basic", "digest", "ntlm", "negotiate", "any" };
		bool known = false;
		for (size_t i = 0; i < sizeof auths / sizeof auths[0]; i++)
			known = known || strcmp(auth, auths[i]) == 0;
		if (!known || check_text("credentials.user", user, BOUND_NAME * 4, err, errsz) != 0) {
			if (!known)
				snprintf(err, errsz, "credentials.auth must be basic, digest, ntlm, "
				         "negotiate or any");
			return -1;
		}
		json_object_set_new(opts, "user", json_string(user));
		json_object_set_new(opts, "auth", json_string(auth));
		if (pass != NULL) {
			char key[BOUND_PATH + 32];
			key_path(key, srv);
			*sealed = secrets_seal(key, pass, strlen(pass));
			if (*sealed == NULL) {
				snprintf(err, errsz, "cannot protect the credentials");
				return -1;
			}
		}
	}
	json_t *proxy = json_object_get(body, "proxy");
	if (proxy != NULL) {
		const char *usage = "system";
		if (!json_is_object(proxy) ||
		    jsonu_get_string(proxy, "usage", false, 16, &usage, err, errsz) < 0) {
			if (!json_is_object(proxy))
				snprintf(err, errsz, "proxy must be an object {usage, list, bypass}");
			return -1;
		}
		usage = usage ? usage : "system";
		if (strcmp(usage, "system") && strcmp(usage, "none") && strcmp(usage, "override")) {
			snprintf(err, errsz, "proxy.usage must be system, none or override");
			return -1;
		}
		json_t *list = json_object_get(proxy, "list"), *bypass = json_object_get(proxy, "bypass");
		json_t *out = json_pack("{s:s}", "usage", usage);
		json_object_set_new(opts, "proxy", out);
		size_t i;
		json_t *e;
		if ((list && (!json_is_array(list) || json_array_size(list) > 16)) ||
		    (bypass && (!json_is_array(bypass) || json_array_size(bypass) > 64))) {
			snprintf(err, errsz, "proxy.list (at most 16) and proxy.bypass (at most 64) "
			         "must be arrays of strings");
			return -1;
		}
		json_array_foreach(list, i, e)
			if (!json_is_string(e) || check_url(json_string_value(e), false, err, errsz) != 0) {
				if (!json_is_string(e))
					snprintf(err, errsz, "proxy.list must hold URLs");
				return -1;
			}
		if (strcmp(usage, "override") == 0 && json_array_size(list) == 0) {
			snprintf(err, errsz, "proxy usage override needs a proxy list");
			return -1;
		}
		if (list)
			json_object_set(out, "list", list);
		char joined[MAX_TEXT] = "";
		json_array_foreach(bypass, i, e) {
			const char *h = json_string_value(e);
			if (h == NULL || check_text("proxy.bypass", h, 253, err, errsz) != 0 ||
			    strchr(h, ',') != NULL) {
				if (h == NULL || strchr(h, ','))
					snprintf(err, errsz, "proxy.bypass must hold host names");
				return -1;
			}
			size_t l = strlen(joined);
			snprintf(joined + l, sizeof joined - l, "%s%s", l ? "," : "", h);
		}
		if (joined[0])
			json_object_set_new(out, "bypass", json_string(joined));
	}
	return 0;
}

/* A summary for the job row's command column. */
static char *summary(const struct xfer_rec *t)
{
	size_t len = strlen(t->files[0].source) + strlen(t->files[0].destination) + 64;
	char *s = malloc(len);
	if (s != NULL)
		snprintf(s, len, "%s %s%s -> %s", t->upload ? "upload" : "download",
		         t->files[0].source, t->nfiles > 1 ? " ..." : "", t->files[0].destination);
	return s;
}

tether_err xfer_create(struct server *srv, const struct user_rec *u,
                       const struct session_rec *s, json_t *body, json_t **out,
                       char *err, size_t errsz)
{
	const char *name = NULL, *dir = "download", *prio = "normal", *dest = NULL;
	bool suspended = false;
	if (jsonu_get_string(body, "name", false, BOUND_NAME, &name, err, errsz) < 0 ||
	    jsonu_get_string(body, "direction", false, 16, &dir, err, errsz) < 0 ||
	    jsonu_get_string(body, "priority", false, 16, &prio, err, errsz) < 0 ||
	    jsonu_get_string(body, "destination", true, MAX_TEXT, &dest, err, errsz) < 0 ||
	    jsonu_get_bool(body, "suspended", false, &suspended, err, errsz) < 0)
		return TETHER_E_INVALID_ARGUMENT;
	dir = dir ? dir : "download";
	prio = prio ? prio : "normal";
	if (name != NULL && !addr_valid_name(name)) {
		snprintf(err, errsz, "name must start with a letter or digit, then letters, "
		         "digits, '.', '_' or '-'");
		return TETHER_E_INVALID_ARGUMENT;
	}
	bool upload = strcmp(dir, "upload") == 0;
	if (!upload && strcmp(dir, "download") != 0) {
		snprintf(err, errsz, "direction must be download or upload");
		return TETHER_E_INVALID_ARGUMENT;
	}
	int priority = proto_xfer_priority_parse(prio);
	if (priority < 0) {
		snprintf(err, errsz, "priority must be foreground, high, normal or low");
		return TETHER_E_INVALID_ARGUMENT;
	}
	json_t *sources = json_object_get(body, "sources");
	if (!json_is_array(sources) || json_array_size(sources) == 0 ||
	    json_array_size(sources) > (size_t)srv->conf.transfer_files_per_job) {
		snprintf(err, errsz, "sources must be an array of 1 to %lld files",
		         (long long)srv->conf.transfer_files_per_job);
		return json_is_array(sources) && json_array_size(sources) > 0
		       ? TETHER_E_LIMIT_EXCEEDED : TETHER_E_INVALID_ARGUMENT;
	}
	if (check_text("destination", dest, MAX_TEXT, err, errsz) != 0)
		return TETHER_E_INVALID_ARGUMENT;
	if (has_wildcard(dest)) {
		snprintf(err, errsz, "the destination cannot contain wildcards: %s", dest);
		return TETHER_E_INVALID_ARGUMENT;
	}
	if (upload ? check_url(dest, true, err, errsz) != 0 : is_url(dest)) {
		if (!upload)
			snprintf(err, errsz, "a download's destination is a path on this host, not a "
			         "URL (use upload to send files to a URL)");
		return TETHER_E_INVALID_ARGUMENT;
	}
	if (!upload && path_has_dotdot(dest)) {
		snprintf(err, errsz, "the destination must not contain '..' components");
		return TETHER_E_INVALID_ARGUMENT;
	}
	size_t i;
	json_t *v;
	json_array_foreach(sources, i, v) {
		const char *src = json_string_value(v);
		if (src == NULL) {
			snprintf(err, errsz, "sources must be strings");
			return TETHER_E_INVALID_ARGUMENT;
		}
		if (check_text("a source", src, MAX_TEXT, err, errsz) != 0)
			return TETHER_E_INVALID_ARGUMENT;
		if (is_url(src) && (upload || check_url(src, false, err, errsz) != 0)) {
			if (upload)
				snprintf(err, errsz, "an upload's sources are paths on this host, not URLs");
			return TETHER_E_INVALID_ARGUMENT;
		}
	}
	struct account o;
	tether_err e = account_of(u, &o, err, errsz);
	if (e != TETHER_E_OK)
		return e;
	struct xfer_rec t = { .session_id = s->id, .user_id = u->id, .upload = upload,
	                      .priority = priority, .options = json_object(),
	                      .notes = json_array() };
	if (parse_options(srv, body, t.options, &t.credentials, err, errsz) != 0) {
		xfer_rec_clear(&t);
		return TETHER_E_INVALID_ARGUMENT;
	}
	if (upload && strncasecmp(dest, "tether://", 9) == 0 &&
	    (t.credentials == NULL || !json_object_get(t.options, "user"))) {
		snprintf(err, errsz, "a tether:// destination needs the account on the receiving "
		         "tetherd: user and password");
		xfer_rec_clear(&t);
		return TETHER_E_INVALID_ARGUMENT;
	}
	json_t *arg = json_pack("{s:b,s:O,s:s,s:s}", "upload", upload, "sources", sources,
	                        "destination", dest, "home", o.home);
	json_t *plan = account_run(&o, plan_files, arg);
	json_decref(arg);
	json_t *files = json_object_get(plan, "files");
	if (!json_is_array(files) || json_array_size(files) == 0) {
		const char *why = json_string_value(json_object_get(plan, "error"));
		snprintf(err, errsz, "%s", why ? why : "cannot examine the files as their owner");
		json_decref(plan);
		xfer_rec_clear(&t);
		return why ? TETHER_E_INVALID_ARGUMENT : TETHER_E_INTERNAL;
	}
	t.nfiles = json_array_size(files);
	if (t.nfiles > (size_t)srv->conf.transfer_files_per_job ||
	    (t.nfiles > 1 && json_object_get(t.options, "sha256"))) {
		snprintf(err, errsz, t.nfiles > 1 && json_object_get(t.options, "sha256")
		         ? "sha256 needs a job of exactly one file (this one has %zu)"
		         : "too many files in one job (%zu; at most transfer_files_per_job)", t.nfiles);
		json_decref(plan);
		t.nfiles = 0;
		xfer_rec_clear(&t);
		return TETHER_E_LIMIT_EXCEEDED;
	}
	t.files = calloc(t.nfiles, sizeof *t.files);
	bool made = t.files != NULL;
	json_array_foreach(files, i, v) {
		if (!made)
			break;
		t.files[i].source = strdup(json_string_value(json_object_get(v, "source")));
		t.files[i].destination = strdup(json_string_value(json_object_get(v, "destination")));
		t.files[i].bytes_total = -1;
		made = t.files[i].source != NULL && t.files[i].destination != NULL;
	}
	if (!made) {
		snprintf(err, errsz, "out of memory");
		json_decref(plan);
		if (t.files == NULL)
			t.nfiles = 0;
		xfer_rec_clear(&t);
		return TETHER_E_NOMEM;
	}
	json_decref(plan);
	int64_t now = timeu_now();
	t.state = suspended ? XFER_SUSPENDED : XFER_QUEUED;
	t.created = t.modified = t.progress_at = now;
	struct job_rec j = { .session_id = s->id, .state = JOB_RUNNING, .exit_code = -1,
	                     .started = now };
	j.type = JOB_TYPE_TRANSFER;
	if (name != NULL)
		snprintf(j.name, sizeof j.name, "%s", name);
	j.command = summary(&t);
	e = store_xfer_create(srv->store, &j, &t, srv->conf.transfer_jobs_per_user);
	free(j.command);
	if (e == TETHER_E_CONFLICT)
		snprintf(err, errsz, "session '%s' already has a job named '%s'", s->name, name);
	else if (e == TETHER_E_LIMIT_EXCEEDED)
		snprintf(err, errsz, "you already have %lld transfer jobs (transfer_jobs_per_user); "
		         "complete or remove some first", (long long)srv->conf.transfer_jobs_per_user);
	else if (e != TETHER_E_OK)
		snprintf(err, errsz, "cannot record the transfer");
	if (e == TETHER_E_OK) {
		log_xfer(&t, "transfer_created");
		*out = xfer_json(&t, s->name, t.state);
		xfer_kick();
	}
	xfer_rec_clear(&t);
	return e;
}

/* ---- the verbs ---- */

tether_err xfer_find(struct server *srv, const struct session_rec *s, const char *ref,
                     int64_t *job)
{
	struct job_rec j;
	tether_err e = store_job_get(srv->store, s->id, ref, &j);
	if (e != TETHER_E_OK)
		return e;
	bool ok = j.type == JOB_TYPE_TRANSFER;
	*job = j.id;
	job_rec_clear(&j);
	return ok ? TETHER_E_OK : TETHER_E_NOT_FOUND;
}

tether_err xfer_show(struct server *srv, const struct session_rec *s, int64_t job,
                     json_t **out)
{
	struct xfer_rec t;
	tether_err e = store_xfer_get(srv->store, job, &t);
	if (e == TETHER_E_OK && t.session_id != s->id)
		e = TETHER_E_NOT_FOUND;
	if (e == TETHER_E_OK && live_state(t.state) && !worker_alive(job, NULL) &&
	    worker_gone(job, t.last_start, timeu_now())) {
		/* its worker just ended: settle now rather than at the next tick,
		 * so a waiting client sees Transferred at once */
		xfer_rec_clear(&t);
		xfer_pass(srv);
		e = store_xfer_get(srv->store, job, &t);
	}
	if (e == TETHER_E_OK)
		*out = xfer_json(&t, s->name, t.state);
	xfer_rec_clear(&t);   /* harmless on a record store_xfer_get cleared */
	return e;
}

tether_err xfer_list(struct server *srv, const struct session_rec *s, json_t **out)
{
	int64_t *ids;
	size_t n;
	tether_err e = store_xfer_ids(srv->store, s->id, &ids, &n);
	if (e != TETHER_E_OK)
		return e;
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *o;
		if (xfer_show(srv, s, ids[i], &o) == TETHER_E_OK)
			json_array_append_new(arr, o);
	}
	free(ids);
	*out = arr;
	return TETHER_E_OK;
}

/* Rename or delete the job's files as the owner. */
static tether_err finish(struct server *srv, const struct user_rec *u, struct xfer_rec *t,
                         bool commit, char *err, size_t errsz)
{
	if (t->upload)
		return TETHER_E_OK;   /* nothing of an upload stays here */
	struct account o;
	tether_err e = account_of(u, &o, err, errsz);
	if (e != TETHER_E_OK)
		return e;
	json_t *files = json_array();
	for (size_t i = 0; i < t->nfiles; i++) {
		char part[BOUND_PATH];
		partial_path(part, sizeof part, t->files[i].destination, t->job_id, i);
		json_array_append_new(files, json_pack("{s:s,s:s,s:b}", "partial", part,
		                      "destination", t->files[i].destination, "done", t->files[i].done));
	}
	json_t *arg = json_pack("{s:b,s:o}", "commit", commit, "files", files);
	json_t *res = account_run(&o, finish_files, arg);
	json_decref(arg);
	const char *why = json_string_value(json_object_get(res, "error"));
	if (res == NULL || why != NULL) {
		snprintf(err, errsz, "%s", why ? why : "cannot reach the files as their owner");
		e = TETHER_E_CONFLICT;
	}
	json_decref(res);
	return e;
}

/* Forget a finished or cancelled job: its record, job row and spool. */
static void forget(struct server *srv, int64_t job)
{
	char path[BOUND_PATH];
	store_job_remove(srv->store, job);
	spool_job_dir(path, job);
	spool_rmtree(path);
}

tether_err xfer_act(struct server *srv, const struct user_rec *u,
                    const struct session_rec *s, int64_t job, const char *action,
                    json_t **out, char *err, size_t errsz)
{
	pthread_mutex_lock(&xlock);
	struct xfer_rec t;
	tether_err e = store_xfer_get(srv->store, job, &t);
	if (e == TETHER_E_OK && t.session_id != s->id)
		e = TETHER_E_NOT_FOUND;
	if (e != TETHER_E_OK) {
		if (e == TETHER_E_NOT_FOUND)
			snprintf(err, errsz, "no such transfer in session '%s'", s->name);
		pthread_mutex_unlock(&xlock);
		xfer_rec_clear(&t);
		return e;
	}
	int64_t now = timeu_now();
	int grace = (int)srv->conf.stop_grace * 1000;
	int final = -1;
	if (strcmp(action, "suspend") == 0) {
		if (t.state == XFER_TRANSFERRED) {
			snprintf(err, errsz, "the transfer is done: complete it instead");
			e = TETHER_E_CONFLICT;
		} else if (t.state != XFER_SUSPENDED) {
			stop_worker(job, grace);
			read_files(&t);
			t.state = XFER_SUSPENDED;
		}
	} else if (strcmp(action, "resume") == 0) {
		if (t.state == XFER_SUSPENDED || t.state == XFER_ERROR ||
		    t.state == XFER_TRANSIENTERROR) {
			t.state = XFER_QUEUED;
			t.retry_at = 0;
			t.progress_at = now;   /* a fresh no-progress allowance */
			set_error(&t, NULL, NULL, NULL);
		}
	} else if (strcmp(action, "complete") == 0 || strcmp(action, "remove") == 0) {
		bool commit = action[0] == 'c';
		stop_worker(job, grace);
		read_files(&t);
		e = finish(srv, u, &t, commit, err, errsz);
		if (e == TETHER_E_OK) {
			final = commit ? XFER_ACKNOWLEDGED : XFER_CANCELLED;
			t.state = final;
			if (commit && t.completed == 0)
				t.completed = now;
		}
	} else {
		snprintf(err, errsz, "unknown action '%s'", action);
		e = TETHER_E_NOT_FOUND;
	}
	if (e == TETHER_E_OK) {
		t.modified = now;
		*out = xfer_json(&t, s->name, t.state);
		if (final >= 0) {
			forget(srv, job);
		} else {
			store_xfer_update(srv->store, &t);
		}
		char ev[48];
		snprintf(ev, sizeof ev, "transfer_%s", action);
		log_xfer(&t, ev);
	}
	xfer_rec_clear(&t);
	pthread_mutex_unlock(&xlock);
	if (e == TETHER_E_OK)
		xfer_kick();
	return e;
}

tether_err xfer_set(struct server *srv, const struct session_rec *s, int64_t job,
                    json_t *body, json_t **out, char *err, size_t errsz)
{
	const char *prio = NULL;
	if (jsonu_get_string(body, "priority", false, 16, &prio, err, errsz) < 0)
		return TETHER_E_INVALID_ARGUMENT;
	int priority = prio ? proto_xfer_priority_parse(prio) : -1;
	if (prio != NULL && priority < 0) {
		snprintf(err, errsz, "priority must be foreground, high, normal or low");
		return TETHER_E_INVALID_ARGUMENT;
	}
	static const struct { const char *key; int64_t min, max; } nums[] = {
		{ "retry_delay", 1, 30 * 86400 },
		{ "no_progress_timeout", 1, 3650LL * 86400 },
		{ "max_rate", 0, INT64_MAX / 2 },
	};
	int64_t vals[3];
	bool given[3];
	for (size_t i = 0; i < 3; i++) {
		given[i] = json_object_get(body, nums[i].key) != NULL;
		if (jsonu_get_int(body, nums[i].key, false, nums[i].min, nums[i].max, &vals[i], err,
		                  errsz) < 0)
			return TETHER_E_INVALID_ARGUMENT;
	}
	pthread_mutex_lock(&xlock);
	struct xfer_rec t;
	tether_err e = store_xfer_get(srv->store, job, &t);
	if (e == TETHER_E_OK && t.session_id != s->id)
		e = TETHER_E_NOT_FOUND;
	if (e == TETHER_E_OK) {
		if (priority >= 0)
			t.priority = priority;
		for (size_t i = 0; i < 3; i++)
			if (given[i])
				json_object_set_new(t.options, nums[i].key, json_integer(vals[i]));
		t.modified = timeu_now();
		e = store_xfer_update(srv->store, &t);
		if (e == TETHER_E_OK)
			*out = xfer_json(&t, s->name, t.state);
	} else if (e == TETHER_E_NOT_FOUND) {
		snprintf(err, errsz, "no such transfer in session '%s'", s->name);
	}
	xfer_rec_clear(&t);
	pthread_mutex_unlock(&xlock);
	xfer_kick();
	return e;
}

void xfer_discard_session(struct server *srv, int64_t session)
{
	int64_t *ids;
	size_t n;
	if (store_xfer_ids(srv->store, session, &ids, &n) != TETHER_E_OK)
		return;
	pthread_mutex_lock(&xlock);
	for (size_t i = 0; i < n; i++) {
		struct xfer_rec t;
		struct user_rec u;
		char why[200];
		if (store_xfer_get(srv->store, ids[i], &t) != TETHER_E_OK)
			continue;
		stop_worker(ids[i], (int)srv->conf.stop_grace * 1000);
		read_files(&t);
		if (store_user_by_id(srv->store, t.user_id, &u) == TETHER_E_OK)
			finish(srv, &u, &t, false, why, sizeof why);
		t.state = XFER_CANCELLED;
		log_xfer(&t, "transfer_remove");
		forget(srv, ids[i]);
		xfer_rec_clear(&t);
	}
	pthread_mutex_unlock(&xlock);
	free(ids);
}

/* parse_options, for tests/fuzz/fuzz_transfer.c; see xfer.h. */
int xfer_test_parse_options(struct server *srv, json_t *body, json_t *opts, char **sealed,
                            char *err, size_t errsz)
{
	return parse_options(srv, body, opts, sealed, err, errsz);
}
