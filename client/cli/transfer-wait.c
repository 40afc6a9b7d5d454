/*
 * transfer-wait.c - the watch loop of a synchronous transfer start and of
 * transfer wait: ask after the jobs (a long poll for one job: the server
 * answers when its worker ends; one listing a round for several), draw a
 * progress line on a terminal, complete each job once all its bytes are
 * in, as Start-BitsTransfer does, and ride out a short loss of the server.
 * The start owns its jobs: stopped by Ctrl-C or SIGTERM it cancels them
 * rather than leave work nobody waits for. transfer wait watches the same
 * way, until its deadline if it has one, but leaves the jobs alone.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cmd-transfer.h"
#include "timeu.h"
#include "transfer-util.h"

#define POLL_MS          100         /* how often a synchronous start asks */
#define WAIT_S           10          /* how long the server may hold one ask (one job) */
#define WAIT_DRAW_S      1           /* the same while drawing progress */
#define LOST_GRACE_MS    60000       /* how long it rides out a lost server */

static volatile sig_atomic_t stop_signal;

/* The signal that asked a synchronous start to stop, or 0. */
int transfer_stopped(void)
{
	return (int)stop_signal;
}

/* SIGINT/SIGTERM during a synchronous start: cancel and leave. */
static void on_stop(int sig)
{
	stop_signal = sig;
}

/* Catch SIGINT and SIGTERM without SA_RESTART, so a wait ends at once. */
void transfer_catch_stop_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	stop_signal = 0;   /* a control master's worker runs many commands */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* The state of a job object ("" if none). */
const char *transfer_state_of(json_t *t)
{
	const char *s = json_string_value(json_object_get(t, "state"));
	return s ? s : "";
}

/* A job's name for messages. */
const char *transfer_name_of(const struct waited *w)
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
		int64_t total = transfer_num(t, "bytes_total");
		int64_t bytes = transfer_num(t, "bytes_transferred");
		int64_t files = transfer_num(t, "files_transferred");
		p.bytes_done += bytes > 0 ? bytes : 0;
		p.bytes_total = i > 0 && p.bytes_total < 0 ? -1
		                : total < 0 ? -1 : p.bytes_total + total;
		p.files_done += files > 0 ? files : 0;
		p.files_total += transfer_num(t, "files_total") > 0 ? transfer_num(t, "files_total") : 0;
		p.rate += transfer_num(t, "rate") > 0 ? (uint64_t)transfer_num(t, "rate") : 0;
		if (w[i].end != W_RUNNING)
			continue;
		running++;
		if (lead == NULL || (strcmp(transfer_state_of(lead), "Transferring") != 0 &&
		                     strcmp(transfer_state_of(t), "Transferring") == 0))
			lead = t;
	}
	if (n == 1)
		snprintf(label, sizeof label, "%.31s", transfer_name_of(&w[0]));
	else
		snprintf(label, sizeof label, "%zu/%zu jobs", n - running, n);
	p.label = label;
	p.state = pr->lost[0] ? "Reconnecting" : lead ? transfer_state_of(lead) : "Transferring";
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

/* Record the first failure (later ones are on stderr already). */
static void fail_once(struct outcome *oc, int rc, const char *code, const char *msg)
{
	if (oc->rc != 0)
		return;
	oc->rc = rc;
	snprintf(oc->code, sizeof oc->code, "%s", code);
	snprintf(oc->msg, sizeof oc->msg, "%s", msg);
}

/* A job's end as transfer wait sees it: done at Transferred or
 * Acknowledged, failed at Error or Cancelled (said on stderr), else still
 * running (a Suspended job may be resumed by someone). */
static void settle_watched(const char *session, struct waited *w, struct progress *pr)
{
	const char *st = transfer_state_of(w->job);
	json_t *err = json_object_get(w->job, "error");
	if (strcmp(st, "Transferred") == 0 || strcmp(st, "Acknowledged") == 0) {
		w->end = W_DONE;
	} else if (strcmp(st, "Error") == 0) {
		progress_clear(pr);
		fprintf(stderr, "tether: transfer %s is in Error: %s: %s (transfer resume -s %s %s "
		        "retries it)\n", transfer_name_of(w), transfer_str(err, "code"),
		        transfer_str(err, "message"), session, transfer_name_of(w));
		w->end = W_FAILED;
	} else if (strcmp(st, "Cancelled") == 0) {
		progress_clear(pr);
		fprintf(stderr, "tether: transfer %s was removed (Cancelled)\n", transfer_name_of(w));
		w->end = W_FAILED;
	}
}

/* Look at a job's new state: complete it once Transferred, report an Error
 * or someone else's hand (a watch that does not own it: settle_watched). */
static void settle(struct cmd_ctx *x, const char *session, struct waited *w,
                   const struct watch_mode *m, struct progress *pr, struct outcome *oc)
{
	const char *st = transfer_state_of(w->job);
	char msg[512];
	if (!m->own) {
		settle_watched(session, w, pr);
		return;
	}
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
		snprintf(msg, sizeof msg, "could not complete transfer %s: %s", transfer_name_of(w),
		         tether_last_error(x->c));
		progress_clear(pr);
		fprintf(stderr, "tether: %s\n", msg);
		fail_once(oc, EXIT_TETHER, tether_last_error_code(x->c)[0]
		                           ? tether_last_error_code(x->c) : tether_err_code(e), msg);
		w->end = W_FAILED;
	} else if (strcmp(st, "Error") == 0) {
		json_t *err = json_object_get(w->job, "error");
		const char *file = json_string_value(json_object_get(err, "file"));
		snprintf(msg, sizeof msg, "transfer %s failed: %s: %s%s%s%s", transfer_name_of(w),
		         transfer_str(err, "code"), transfer_str(err, "message"), file ? " (" : "",
		         file ? file : "",
		         file ? ")" : "");
		progress_clear(pr);
		fprintf(stderr, "tether: %s\n"
		        "tether: the job is kept: 'tether transfer resume -s %s %s' retries it, "
		        "'tether transfer remove -s %s %s' drops it\n",
		        msg, session, transfer_name_of(w), session, transfer_name_of(w));
		fail_once(oc, EXIT_TETHER, json_is_string(json_object_get(err, "code"))
		                           ? transfer_str(err, "code") : "transfer_failed", msg);
		w->end = W_FAILED;
	} else if (strcmp(st, "Cancelled") == 0 || strcmp(st, "Acknowledged") == 0 ||
	           strcmp(st, "Suspended") == 0) {
		snprintf(msg, sizeof msg, "transfer %s was %s by someone else (state %s)%s",
		         transfer_name_of(w), st[0] == 'C' ? "removed" : st[0] == 'A' ? "completed"
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
                          int wait, const struct watch_mode *m, struct progress *pr,
                          struct outcome *oc)
{
	json_t *listed = NULL;
	tether_err e = n > 1 ? tether_transfer_list(x->c, session, &listed) : TETHER_E_OK;
	for (size_t i = 0; e == TETHER_E_OK && i < n; i++) {
		size_t k;
		json_t *t, *found = NULL;
		if (w[i].end != W_RUNNING)
			continue;
		json_array_foreach(listed, k, t)
			if (transfer_num(t, "id") == transfer_num(w[i].job, "id"))
				found = json_incref(t);
		if (found == NULL && n == 1)
			e = tether_transfer_wait(x->c, session, w[i].ref, wait, &found);
		else if (found == NULL)
			e = tether_transfer_get(x->c, session, w[i].ref, &found);
		if (e == TETHER_E_NOT_FOUND) {
			char msg[300];
			snprintf(msg, sizeof msg, "transfer %s is gone (removed or completed by "
			         "someone else)", transfer_name_of(&w[i]));
			progress_clear(pr);
			fprintf(stderr, "tether: %s\n", msg);
			if (m->own)
				fail_once(oc, EXIT_TETHER, "not_found", msg);
			w[i].end = W_FAILED;
			e = TETHER_E_OK;
			continue;
		}
		if (e == TETHER_E_OK) {
			set_job(&w[i], found);
			settle(x, session, &w[i], m, pr, oc);
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
			fprintf(stderr, "tether: cancelled transfer %s (removed)\n", transfer_name_of(&w[i]));
		} else {
			kept++;
			fprintf(stderr, "tether: could not cancel transfer %s: %s\n", transfer_name_of(&w[i]),
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

/* A stop signal during transfer wait: the jobs go on. */
static void leave_all(const char *session, struct progress *pr, struct outcome *oc)
{
	char msg[300];
	progress_clear(pr);
	snprintf(msg, sizeof msg, "interrupted by %s: the transfer jobs go on (transfer list "
	         "-s %s)", stop_signal == SIGTERM ? "SIGTERM" : "SIGINT", session);
	fprintf(stderr, "tether: %s\n", msg);
	oc->rc = 0;
	fail_once(oc, EXIT_INTERRUPTED, "interrupted", msg);
}

/* Poll until every job is done or failed, a signal says stop, or the
 * deadline passes. */
void transfer_wait_all(struct cmd_ctx *x, const char *session, struct waited *w, size_t n,
                       const struct watch_mode *m, struct outcome *oc)
{
	struct progress pr = { isatty(2) == 1, 0, "" };
	int64_t lost_since = -1;
	tether_set_interrupt(x->c, &stop_signal);
	for (;;) {
		if (stop_signal) {
			if (m->own)
				cancel_all(x, session, w, n, &pr, oc);
			else
				leave_all(session, &pr, oc);
			break;
		}
		if (running_jobs(w, n) == 0)
			break;
		int64_t left = cmd_wait_left_ms(m->deadline);
		int wait = pr.on ? WAIT_DRAW_S : WAIT_S;
		if (left / 1000 < wait)
			wait = (int)(left / 1000);   /* under a second left: ask, do not hold */
		int64_t asked = timeu_mono_ms();
		tether_err e = refresh(x, session, w, n, wait, m, &pr, oc);
		if (e == TETHER_E_INTERRUPTED)
			continue;
		if (e == TETHER_E_CONNECT || e == TETHER_E_UNAVAILABLE) {
			/* ride out a short outage: the job goes on without us */
			int64_t now = timeu_mono_ms();
			lost_since = lost_since < 0 ? now : lost_since;
			snprintf(pr.lost, sizeof pr.lost, "%.120s", tether_last_error(x->c));
			left = cmd_wait_left_ms(m->deadline);
			if (left == 0) {
				oc->timed_out = 1;
				break;
			}
			if (now - lost_since < LOST_GRACE_MS) {
				progress_draw(&pr, w, n);
				pause_ms(left < 1000 ? (long)left : 1000);
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
		left = cmd_wait_left_ms(m->deadline);
		if (running_jobs(w, n) > 0 && left == 0) {   /* asked once more at the end */
			oc->timed_out = 1;
			break;
		}
		if (running_jobs(w, n) > 0 && took < POLL_MS)
			pause_ms(POLL_MS - took < left ? (long)(POLL_MS - took) : (long)left);
	}
	tether_set_interrupt(x->c, NULL);
	progress_clear(&pr);
}

/* Print the server's notes on the jobs ("file 1 restarted from zero"). */
void transfer_print_notes(struct waited *w, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t k;
		json_t *note;
		json_array_foreach(json_object_get(w[i].job, "notes"), k, note)
			if (json_is_string(note))
				fprintf(stderr, "tether: note: transfer %s: %s\n", transfer_name_of(&w[i]),
				        json_string_value(note));
	}
}
