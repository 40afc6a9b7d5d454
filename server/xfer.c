/*
 * xfer.c - the transfer engine: scheduler and verbs (see xfer.h).
 *
 * One mutex serialises scheduling passes and the verbs, so a verb never
 * races a pass over the same job (a suspend cannot be undone by a pass that
 * read the job a moment earlier). Everything the worker writes is read as
 * untrusted input: its directory belongs to the user.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
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
#include "metrics.h"
#include "account.h"
#include "userfile.h"
#include "proto.h"
#include "secrets.h"
#include "spool.h"
#include "strparse.h"
#include "ticker.h"
#include "timeu.h"
#include "xfer.h"
#include "xfer-int.h"
#include "xferplan.h"
#include "xfer-worker.h"

#define WORKER_VERB     "__transfer"
#define START_GRACE     10          /* seconds a new worker has to write its pid */
#define MAX_REPORT      (64 * 1024) /* bytes read from a worker's report file */
#define MAX_BATCH       (256 * 1024)   /* ... from one done-K.json (1,024 records) */
#define MAX_BATCHES     (32 << 20)     /* ... from all of a job's done-K.json */

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
static json_t *read_report_max(int64_t job, const char *name, size_t max, size_t *lenp)
{
	char path[BOUND_PATH];
	size_t len = 0;
	work_path(path, job, name);
	char *buf = fileio_read_untrusted(path, max, &len);
	if (lenp != NULL)
		*lenp = len;
	json_t *v = buf ? json_loadb(buf, len, 0, NULL) : NULL;
	free(buf);
	if (!json_is_object(v)) {
		json_decref(v);
		v = NULL;
	}
	return v;
}

static json_t *read_report(int64_t job, const char *name)
{
	return read_report_max(job, name, MAX_REPORT, NULL);
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
void xfer_key_path(char out[BOUND_PATH + 32], const struct server *srv)
{
	snprintf(out, BOUND_PATH + 32, "%s/%s", srv->conf.state_dir, SECRETS_KEY_FILE);
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
json_t *xfer_job_json(const struct xfer_rec *t, const char *session, int state)
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
	json_object_del(opts, "url_passwords");   /* sealed, but never shown */
	json_object_del(opts, "proxy_password");
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

void xfer_log(const struct xfer_rec *t, const char *event)
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
		jobs_start(srv, &u, &s, &j, 0, NULL, why, sizeof why);
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

/* Fold a worker's done-K.json into t; see xfer.h. */
void xfer_fold_done_batch(struct xfer_rec *t, json_t *b)
{
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(b, "done"), i, v) {
		json_t *idx = json_object_get(v, "idx"), *tot = json_object_get(v, "total");
		if (!json_is_integer(idx) || json_integer_value(idx) < 0 ||
		    (uint64_t)json_integer_value(idx) >= t->nfiles)
			continue;
		struct xfer_file *f = &t->files[json_integer_value(idx)];
		if (json_is_integer(tot) && json_integer_value(tot) >= 0)
			f->bytes_total = json_integer_value(tot);
		f->done = true;
	}
	take_notes(t, json_object_get(b, "notes"));
}

/* Fold a worker's progress.json into t; see xfer.h. */
void xfer_fold_progress(struct xfer_rec *t, json_t *p)
{
	int64_t idx = json_integer_value(json_object_get(p, "idx"));
	if (idx >= 0 && (size_t)idx < t->nfiles) {
		struct xfer_file *f = &t->files[idx];
		int64_t b = json_integer_value(json_object_get(p, "bytes"));
		json_t *tot = json_object_get(p, "total");
		if (b > f->bytes_transferred)   /* growth only: a restart from 0 counts anew */
			metrics_bytes(METRICS_BYTES_TRANSFER, b - f->bytes_transferred);
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
		char name[48];
		snprintf(name, sizeof name, "file-%zu.json", i);
		json_t *m = read_report(t->job_id, name);
		xfer_fold_file_report(t, i, m);
		json_decref(m);
	}
	/* the done records of batches (xfer-worker.c batch_write): done-0.json,
	 * done-1.json... until one is missing; each names at least one file,
	 * and all are bounded together */
	size_t budget = MAX_BATCHES;
	for (size_t k = 0; k < t->nfiles && budget > 0; k++) {
		char name[48];
		size_t len;
		snprintf(name, sizeof name, "done-%zu.json", k);
		json_t *b = read_report_max(t->job_id, name, budget < MAX_BATCH ? budget : MAX_BATCH,
		                            &len);
		if (b == NULL)
			break;
		budget -= len < budget ? len : budget;
		xfer_fold_done_batch(t, b);
		json_decref(b);
	}
	for (size_t i = 0; i < t->nfiles; i++) {
		struct xfer_file *f = &t->files[i];
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
	xfer_log(t, "transfer_settled");
	if (t->state == XFER_TRANSFERRED || t->state == XFER_ERROR)
		notify(srv, t);
}

/* Stop a worker (SIGTERM, then SIGKILL after grace) and wait for it; no
 * worker of the job may start working after this returns. A worker that
 * is still starting has no pid file to find it by, so the spec goes first:
 * the worker writes its pid file, then checks that its spec is still there
 * before it touches a file (xfer-worker.c). Either its pid file is there
 * to be read below, or it finds no spec and exits. */
static void stop_worker(int64_t job, int grace_ms)
{
	char spec[BOUND_PATH];
	pid_t pid;
	job_path(spec, job, "spec.json");
	unlink(spec);   /* spawn writes it afresh for the next worker */
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
			if (xferplan_is_url(f->source)) {
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
	xfer_key_path(key, srv);
	job_path(rate_file, t->job_id, "rate");
	json_t *spec = json_pack("{s:b,s:o,s:O,s:s,s:s,s:s,s:I}",
		"upload", t->upload, "files", files, "options", t->options,
		"workdir", wdir, "rate_file", rate_file, "key_path", key,
		"parallel", (json_int_t)srv->conf.transfer_parallel_files);
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
	xfer_log(t, "transfer_start");
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

#define PASS_BUSY 250   /* ms between passes while a worker runs: its progress, its end */

/* One pass over every live transfer. Called with xlock held. Returns the
 * ms until the next pass is due: PASS_BUSY while a worker runs or a job
 * waits for one, until the earliest retry of a transient error, or
 * TICKER_IDLE (the verbs kick the scheduler). */
static int pass_locked(struct server *srv)
{
	int64_t *ids = NULL, now = timeu_now(), retry = INT64_MAX;
	size_t n = 0;
	bool busy = false;
	if (store_xfer_ids(srv->store, 0, &ids, &n) != TETHER_E_OK || n == 0) {
		free(ids);
		return TICKER_IDLE;
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
		if (live_state(t->state) || t->state == XFER_QUEUED)
			busy = true;
		else if (t->state == XFER_TRANSIENTERROR && t->retry_at < retry)
			retry = t->retry_at;
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
	bool short_of_memory = sl == NULL || bg == NULL;
	free(bg);
	free(sl);
	free(ids);
	if (busy || short_of_memory)
		return PASS_BUSY;
	if (retry == INT64_MAX)
		return TICKER_IDLE;
	/* due once the wall clock reaches retry_at (whole seconds) */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t in = retry * 1000 - ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
	return in < 0 ? 0 : in > 3600 * 1000 ? 3600 * 1000 : (int)in;
}

/* Waiters (xfer_wait) learn of passes: a queued job may have been started,
 * a worker's end settled. */
static pthread_mutex_t wait_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t  passed = PTHREAD_COND_INITIALIZER;
static uint64_t        passes;
static bool            released;   /* the daemon is stopping: nobody waits */

/* A pass; returns when the next is due (see pass_locked). */
static int pass(struct server *srv)
{
	pthread_mutex_lock(&xlock);
	int due = pass_locked(srv);
	pthread_mutex_unlock(&xlock);
	pthread_mutex_lock(&wait_lock);
	passes++;
	pthread_cond_broadcast(&passed);
	pthread_mutex_unlock(&wait_lock);
	return due;
}

void xfer_pass(struct server *srv)
{
	pass(srv);
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

/* The ticker's pass. */
static int tick(void *arg)
{
	return pass(arg);
}

/* Passes run when due (see pass_locked), or at once when a verb kicks.
 * No curl_global_init here: the daemon only parses and escapes URLs, which
 * needs none, and the worker process initialises libcurl for itself; the
 * init would cost the idle daemon 0.3 MB (docs/performance.md). */
int xfer_start(struct server *srv)
{
	return ticker_start(&ticker, tick, srv, 0);
}

void xfer_stop(void)
{
	if (!ticker.running)
		return;
	ticker_stop(&ticker);
}

void xfer_kick(void)
{
	ticker_kick(&ticker);
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
		*out = xfer_job_json(&t, s->name, t.state);
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
	json_t *res = account_run(&o, xfer_finish_files, arg);
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
	if (live_state(t.state) && !worker_alive(job, NULL) &&
	    worker_gone(job, t.last_start, now)) {
		/* its worker just ended: judge the action by the settled state */
		settle(srv, &t, now);
		t.modified = now;
		store_xfer_update(srv->store, &t);
	}
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
	} else if (strcmp(action, "complete") == 0 && t.state != XFER_TRANSFERRED) {
		/* as Complete-BitsTransfer: only every byte in makes files final;
		 * refused, the job and its partial files stay as they are */
		snprintf(err, errsz, "transfer '%s' is %s, not Transferred: only a Transferred job "
		         "can be completed (transfer wait waits for it; transfer remove drops it)",
		         t.name, proto_xfer_state_str(t.state));
		e = TETHER_E_CONFLICT;
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
		*out = xfer_job_json(&t, s->name, t.state);
		if (final >= 0) {
			forget(srv, job);
		} else {
			store_xfer_update(srv->store, &t);
		}
		char ev[48];
		snprintf(ev, sizeof ev, "transfer_%s", action);
		xfer_log(&t, ev);
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
			*out = xfer_job_json(&t, s->name, t.state);
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
		xfer_log(&t, "transfer_remove");
		forget(srv, ids[i]);
		xfer_rec_clear(&t);
	}
	pthread_mutex_unlock(&xlock);
	free(ids);
}
