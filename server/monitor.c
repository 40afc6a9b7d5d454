/*
 * monitor.c - housekeeping (see monitor.h).
 *
 * A pass runs every duty in the table below; each does what is due now and
 * returns when it is next due (epoch ms) or NEVER. Adding a duty is one
 * function and one row. What can make a duty due earlier than it said must
 * wake the thread: the state dir's inotify watch covers every database
 * write (sessions, jobs, uploads, user removals, from this process or a
 * `tetherd` command beside it), the supervisors' pidfds cover jobs that
 * end, connguard reports a first unauthenticated connection, and
 * monitor_kick() is there for anything else.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bounds.h"
#include "upload.h"
#include "jobs.h"
#include "session.h"
#include "log.h"
#include "connguard.h"
#include "monitor.h"
#include "proto.h"
#include "ticker.h"
#include "timeu.h"

#define NEVER        INT64_MAX
#define MIN_GAP      500    /* ms between passes that events cause (the old period) */
#define RETRY        1000   /* ms before a duty that could not finish tries again */
#define STARTING     100    /* ms between looks for a new supervisor's pid file */
#define UPLOAD_SWEEP 10     /* s before retrying an upload that could not expire */
#define AUDIT_PRUNE  3600   /* s between prunes of old audit records */
#define WATCH_MAX    8192   /* supervisors watched by pidfd; past it, polled */
#define FD_HEADROOM  (BOUND_CONNECTIONS + 512)   /* fds left to connections and the rest */

static struct ticker ticker;
static int dirwatch = -1;   /* inotify on the state dir: the database changed */

/* ---- jobs: a pidfd per running job's supervisor ---- */

struct watch {
	int64_t job;
	int     fd;
	bool    seen;   /* still running at this pass */
};

static struct watch *watches;
static size_t nwatch, watch_max;

/* The watch of job, or NULL. */
static struct watch *watch_of(int64_t job)
{
	for (size_t i = 0; i < nwatch; i++)
		if (watches[i].job == job)
			return &watches[i];
	return NULL;
}

/* Stop watching the i-th entry. */
static void unwatch(size_t i)
{
	ticker_unwatch(&ticker, watches[i].fd);
	close(watches[i].fd);
	watches[i] = watches[--nwatch];
}

struct running {
	int64_t *ids;
	size_t   n, cap;
};

/* Collect the running jobs the monitor settles (not transfers: xfer.c). */
static void collect_running(void *ctx, const struct job_rec *j)
{
	struct running *r = ctx;
	if (j->type == JOB_TYPE_TRANSFER)
		return;
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		int64_t *ids = realloc(r->ids, cap * sizeof *ids);
		if (ids == NULL)
			return;
		r->ids = ids;
		r->cap = cap;
	}
	r->ids[r->n++] = j->id;
}

/* Settle the jobs that ended, then watch the supervisors of the rest. A job
 * whose supervisor has not written its pid yet is looked at again shortly;
 * one that cannot be watched (no pidfd, too many) is polled each second. */
static int64_t duty_jobs(struct server *srv, int64_t now)
{
	struct running r = { 0 };
	int64_t due = NEVER;
	jobs_settle_all(srv);
	store_job_list_running(srv->store, collect_running, &r);
	for (size_t i = 0; i < nwatch; i++)
		watches[i].seen = false;
	for (size_t i = 0; i < r.n; i++) {
		struct watch *w = watch_of(r.ids[i]);
		if (w != NULL) {
			w->seen = true;
			continue;
		}
		int fd = nwatch < watch_max ? jobs_supervisor_fd(r.ids[i]) : -1;
		if (fd < 0) {
			int64_t in = errno == EAGAIN ? STARTING : RETRY;
			due = now + in < due ? now + in : due;
			continue;
		}
		if (ticker_watch(&ticker, fd) != 0) {
			close(fd);
			due = now + RETRY < due ? now + RETRY : due;
			continue;
		}
		watches[nwatch++] = (struct watch){ r.ids[i], fd, true };
	}
	for (size_t i = 0; i < nwatch;)
		if (!watches[i].seen)
			unwatch(i);   /* settled: by this pass or by a client */
		else
			i++;
	free(r.ids);
	return due;
}

/* ---- sessions: keepalive leases and idle timeouts ---- */

#define MAX_ACTIONS 1024

struct actions {
	int64_t disconnect[MAX_ACTIONS];
	char    holder[MAX_ACTIONS][TETHER_CLIENT_ID_LEN + 1];
	size_t  ndisconnect;
	int64_t expire[MAX_ACTIONS][2];   /* session, user */
	size_t  nexpire;
	int64_t now;                      /* seconds */
	int64_t due;                      /* ms: the earliest deadline not acted on */
	bool    more;                     /* more were due than fit */
};

/* The earlier of due and the moment (ms) the whole second t has passed:
 * the checks below are strict ("< now" in seconds). */
static void due_after(struct actions *a, int64_t t)
{
	int64_t ms = (t + 1) * 1000;
	if (ms < a->due)
		a->due = ms;
}

/* Decide what to do with a session (the store is locked: only collect). */
static void check_session(void *ctx, const struct session_rec *s)
{
	struct actions *a = ctx;
	if (s->state == SESSION_OPENED && s->lease_expires > 0) {
		if (s->lease_expires >= a->now)
			due_after(a, s->lease_expires);
		else if (a->ndisconnect < MAX_ACTIONS) {
			memcpy(a->holder[a->ndisconnect], s->client_id, sizeof s->client_id);
			a->disconnect[a->ndisconnect++] = s->id;
		} else {
			a->more = true;
		}
	}
	if (s->state == SESSION_DISCONNECTED && !s->active) {
		if (s->last_activity + s->idle_timeout >= a->now)
			due_after(a, s->last_activity + s->idle_timeout);
		else if (a->nexpire < MAX_ACTIONS) {
			a->expire[a->nexpire][0] = s->id;
			a->expire[a->nexpire++][1] = s->user_id;
		} else {
			a->more = true;
		}
	}
}

/* Disconnect sessions whose lease ran out, remove idle ones. */
static int64_t duty_sessions(struct server *srv, int64_t now)
{
	static struct actions a;
	a.ndisconnect = a.nexpire = 0;
	a.now = now / 1000;
	a.due = NEVER;
	a.more = false;
	store_session_list_all(srv->store, check_session, &a);
	for (size_t i = 0; i < a.ndisconnect; i++) {
		/* the silent client stays on record: it may come back transparently */
		store_session_set_conn(srv->store, a.disconnect[i], SESSION_DISCONNECTED,
		                       a.holder[i], 0);
		struct logline l;
		log_begin(&l, LOG_INFO, "session_keepalive_expired");
		log_int(&l, "session", a.disconnect[i]);
		log_end(&l);
	}
	for (size_t i = 0; i < a.nexpire; i++) {
		session_remove(srv, a.expire[i][1], a.expire[i][0]);
		struct logline l;
		log_begin(&l, LOG_INFO, "session_idle_removed");
		log_int(&l, "session", a.expire[i][0]);
		log_end(&l);
	}
	/* what was acted on (or failed to be) is looked at again */
	if (a.more || a.ndisconnect > 0 || a.nexpire > 0)
		return now + RETRY < a.due ? now + RETRY : a.due;
	return a.due;
}

/* ---- the rest ---- */

/* Carry out `tetherd user remove` asked beside the daemon (its request is
 * a database write: the state dir's watch wakes the pass). */
static int64_t duty_removals(struct server *srv, int64_t now)
{
	(void)now;
	session_remove_requested_users(srv);
	return NEVER;
}

/* Drop unauthenticated connections past their grace time. */
static int64_t duty_connections(struct server *srv, int64_t now)
{
	(void)srv;
	unsigned dropped = connguard_sweep(timeu_mono_ms());
	if (dropped > 0) {
		struct logline l;
		log_begin(&l, LOG_INFO, "unauthenticated_dropped");
		log_int(&l, "connections", dropped);
		log_end(&l);
	}
	int64_t due = connguard_next_due();
	return due < 0 ? NEVER : now + (due - timeu_mono_ms());
}

/* Expire uploads untouched for upload_expiry; due when the oldest is. */
static int64_t duty_uploads(struct server *srv, int64_t now)
{
	static struct upload_rec oldest;   /* the monitor thread's only */
	size_t n = 0;
	int64_t secs = now / 1000;
	upload_expire(srv, secs);
	if (store_upload_stale(srv->store, INT64_MAX, &oldest, 1, &n) != TETHER_E_OK || n == 0)
		return NEVER;
	int64_t at = oldest.modified + srv->conf.upload_expiry;
	if (at < secs)   /* busy, or its files could not go yet */
		at = secs + UPLOAD_SWEEP;
	return (at + 1) * 1000;
}

/* Take back the disk-space reserve after a full disk, once there is room. */
static int64_t duty_reserve(struct server *srv, int64_t now)
{
	return store_take_reserve(srv->store) ? NEVER : now + RETRY;
}

/* Drop audit records older than audit_retention days, hourly. */
static int64_t duty_audit(struct server *srv, int64_t now)
{
	static int64_t next;
	int64_t removed = 0;
	if (now < next)
		return next;
	next = now + AUDIT_PRUNE * 1000LL;
	int64_t secs = now / 1000;
	if (store_audit_prune(srv->store, secs - srv->conf.audit_retention * 86400, &removed) ==
	        TETHER_E_OK && removed > 0) {
		struct logline l;
		log_begin(&l, LOG_INFO, "audit_pruned");
		log_int(&l, "records", removed);
		log_end(&l);
	}
	return next;
}

/* A duty: does what is due at now (epoch ms) and returns when it is next
 * due (epoch ms), or NEVER until an event. */
static const struct {
	const char *name;
	int64_t   (*run)(struct server *srv, int64_t now);
} duties[] = {
	{ "jobs",        duty_jobs },        /* first: a job's end makes its session idle */
	{ "removals",    duty_removals },
	{ "connections", duty_connections },
	{ "uploads",     duty_uploads },
	{ "reserve",     duty_reserve },
	{ "audit",       duty_audit },
	{ "sessions",    duty_sessions },
};

/* The wall clock in ms (the store's deadlines are epoch seconds). */
static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Empty the state dir watch: this pass looks at whatever changed. */
static void drain_dirwatch(void)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	while (dirwatch >= 0 && read(dirwatch, buf, sizeof buf) > 0)
		;
}

/* One pass. */
int monitor_pass(struct server *srv)
{
	drain_dirwatch();
	int64_t now = wall_ms(), due = NEVER;
	for (size_t i = 0; i < sizeof duties / sizeof duties[0]; i++) {
		int64_t d = duties[i].run(srv, now);
		if (d < due)
			due = d;
	}
	if (due == NEVER)
		return dirwatch >= 0 ? TICKER_IDLE : MIN_GAP;   /* unwatched: poll as before */
	int64_t in = due - wall_ms();
	if (dirwatch < 0 && in > MIN_GAP)
		in = MIN_GAP;
	return in < 0 ? 0 : in > 3600 * 1000 ? 3600 * 1000 : (int)in;
}

/* The ticker's pass. */
static int tick(void *arg)
{
	return monitor_pass(arg);
}

/* See monitor.h. */
void monitor_kick(void)
{
	ticker_kick(&ticker);
}

/* Start the thread, watching the state dir and the supervisors. */
int monitor_start(struct server *srv)
{
	struct rlimit rl;
	watches = calloc(WATCH_MAX, sizeof *watches);
	if (watches == NULL)
		return -1;
	/* pidfds never take the descriptors connections need (the unit file
	 * sets LimitNOFILE=65536; a daemon started by hand may have 1024) */
	watch_max = 0;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur > FD_HEADROOM)
		watch_max = rl.rlim_cur - FD_HEADROOM < WATCH_MAX ? rl.rlim_cur - FD_HEADROOM
		                                                  : WATCH_MAX;
	dirwatch = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (dirwatch >= 0 && inotify_add_watch(dirwatch, srv->conf.state_dir,
	                                       IN_MODIFY | IN_ONLYDIR) < 0) {
		close(dirwatch);
		dirwatch = -1;
	}
	if (dirwatch < 0)
		log_msg(LOG_WARN, "monitor_polling", "detail",
		        "cannot watch the state dir: housekeeping looks every 500 ms");
	if (ticker_start(&ticker, tick, srv, MIN_GAP) != 0)
		return -1;
	if (dirwatch >= 0 && ticker_watch(&ticker, dirwatch) != 0) {
		ticker_stop(&ticker);
		return -1;
	}
	connguard_on_first(monitor_kick);
	return 0;
}

/* Stop the thread and close the watches. */
void monitor_stop(void)
{
	connguard_on_first(NULL);
	ticker_stop(&ticker);
	while (nwatch > 0) {
		close(watches[nwatch - 1].fd);
		nwatch--;
	}
	free(watches);
	watches = NULL;
	if (dirwatch >= 0)
		close(dirwatch);
	dirwatch = -1;
}
