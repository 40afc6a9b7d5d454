/*
 * outcap.c - per-session and per-user output caps: what each holds, and
 * each running job's share (outcap.h).
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "joblog.h"
#include "outcap.h"
#include "spool.h"
#include "store.h"
#include "strparse.h"

/* A job that may hold output, and whose. */
struct tracked {
	int64_t  job;
	int64_t  session;
	int64_t  user;
	int64_t  limit;   /* the share last given it (-1 none), -2 not known */
	uint64_t given;   /* the rebalance that gave it (its number) */
};

/* What one look at a tracked job found. */
struct look {
	int64_t held;
	bool    running;
	bool    gone;     /* its directory is gone, or it ended holding nothing */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct tracked *jobs;   /* under lock */
static size_t njobs, room;
static bool scanned;
static uint64_t rebalances;    /* under lock: the last one's number */

/* Add a job unless it is there already (under lock); -1 without memory
 * or room. */
static int add(int64_t job, int64_t session, int64_t user)
{
	for (size_t i = 0; i < njobs; i++)
		if (jobs[i].job == job)
			return 0;
	if (njobs == OUTCAP_TRACK_MAX)
		return -1;
	if (njobs == room) {
		size_t n = room ? room * 2 : 64;
		if (n > OUTCAP_TRACK_MAX)
			n = OUTCAP_TRACK_MAX;
		struct tracked *t = realloc(jobs, n * sizeof *t);
		if (t == NULL)
			return -1;
		jobs = t;
		room = n;
	}
	jobs[njobs++] = (struct tracked){ job, session, user, -2, 0 };
	return 0;
}

/* Track every job that has a spool directory (once, under lock): they are
 * the only ones that can hold output. */
static void scan(struct server *srv)
{
	char dir[BOUND_PATH];
	if (scanned)
		return;
	scanned = true;
	spool_job_dir(dir, 0);
	*strrchr(dir, '/') = '\0';
	DIR *d = opendir(dir);
	if (d == NULL)
		return;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		int64_t id;
		struct job_rec j;
		struct session_rec s;
		if (!strparse_is_digits(e->d_name) || strparse_i64(e->d_name, 1, INT64_MAX, &id) != 0 ||
		    store_job_by_id(srv->store, id, &j) != TETHER_E_OK)
			continue;
		int64_t session = j.session_id;
		bool transfer = j.type == JOB_TYPE_TRANSFER;
		job_rec_clear(&j);
		if (!transfer && store_session_by_id(srv->store, session, &s) == TETHER_E_OK)
			add(id, session, s.user_id);
	}
	closedir(d);
}

/* Look at a job's files (no lock needed: they are the job's). */
static void look(int64_t job, struct look *l)
{
	char path[BOUND_PATH];
	struct stat st;
	spool_job_dir(path, job);
	l->running = false;
	l->held = 0;
	if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		spool_job_file(path, job, "status");
		l->running = access(path, F_OK) != 0;
		l->held = joblog_held(job);
	}
	l->gone = !l->running && l->held == 0;
}

/* Forget tracked job i (under lock): the last entry takes its place. */
static void forget(size_t i)
{
	jobs[i] = jobs[--njobs];
}

/* Look at tracked job i: false (and it is forgotten) if its directory is
 * gone or it has ended holding nothing. Under lock; i stays valid for the
 * caller's loop (the last entry takes a forgotten one's place, so the
 * caller looks at i again). */
static bool look_at(size_t i, struct look *l)
{
	look(jobs[i].job, l);
	if (l->gone)
		forget(i);
	return !l->gone;
}

/* Where job is in jobs[] (under lock), looked for first at hint; njobs if
 * it has been forgotten meanwhile. */
static size_t find(int64_t job, size_t hint)
{
	if (hint < njobs && jobs[hint].job == job)
		return hint;
	for (size_t i = 0; i < njobs; i++)
		if (jobs[i].job == job)
			return i;
	return njobs;
}

/* Sum of held bytes per session of one user, small: a user's jobs that
 * hold output are few. */
struct tally {
	int64_t session;
	int64_t held;
	int64_t running;
};

/* The entry of session in t (n entries, room for one more), made if new. */
static struct tally *tally_of(struct tally *t, size_t *n, int64_t session)
{
	for (size_t i = 0; i < *n; i++)
		if (t[i].session == session)
			return &t[i];
	t[*n] = (struct tally){ session, 0, 0 };
	return &t[(*n)++];
}

/* Give the user's running jobs their shares (called and returning with
 * the lock held): each gets what it holds plus an equal part of what is
 * left under its session's cap and of what is left under the user's cap,
 * the smaller; -1 (no share) when that is at least the job's own cap.
 *
 * The jobs' files are looked at with the lock let go: under 50 concurrent
 * starts, each looking at every running job of its user, the lock's
 * holders were preempted mid-look and made the starts' tail (a p99 of
 * 30-85 ms waiting here, docs/performance.md). Each rebalance has a number
 * taken with its list of jobs; a job's share is set by the latest-numbered
 * rebalance that reaches it, whose list was taken last, so an older one
 * finishing late changes nothing. The share last given each job is kept,
 * so an unchanged one costs no look at its file. */
static void rebalance(struct server *srv, int64_t user)
{
	size_t k = 0;
	for (size_t i = 0; i < njobs; i++)
		k += jobs[i].user == user;
	if (k == 0)
		return;
	struct tracked *mine = calloc(k, sizeof *mine);   /* the list, copied */
	size_t *at = calloc(k, sizeof *at);               /* where each was in jobs[] */
	struct look *looks = calloc(k, sizeof *looks);
	struct tally *t = calloc(k, sizeof *t);
	if (mine == NULL || at == NULL || looks == NULL || t == NULL)
		goto out;
	size_t n = 0, nt = 0;
	for (size_t i = 0; i < njobs; i++)
		if (jobs[i].user == user) {
			mine[n] = jobs[i];
			at[n++] = i;
		}
	uint64_t number = ++rebalances;
	pthread_mutex_unlock(&lock);
	int64_t user_held = 0, user_running = 0;
	for (size_t m = 0; m < n; m++) {
		look(mine[m].job, &looks[m]);
		struct tally *s = tally_of(t, &nt, mine[m].session);
		s->held += looks[m].held;
		s->running += looks[m].running;
		user_held += looks[m].held;
		user_running += looks[m].running;
	}
	pthread_mutex_lock(&lock);
	int64_t user_left = srv->conf.user_output_cap - user_held;
	for (size_t m = 0; m < n; m++) {
		size_t i = find(mine[m].job, at[m]);
		if (i == njobs || jobs[i].given > number)
			continue;   /* forgotten, or a later rebalance has set it */
		if (looks[m].gone) {
			forget(i);
			continue;
		}
		jobs[i].given = number;
		if (!looks[m].running)
			continue;
		struct tally *s = tally_of(t, &nt, mine[m].session);
		int64_t session_left = srv->conf.session_output_cap - s->held;
		int64_t share_s = session_left > 0 ? session_left / s->running : 0;
		int64_t share_u = user_left > 0 ? user_left / user_running : 0;
		int64_t limit = looks[m].held + (share_s < share_u ? share_s : share_u);
		if (limit >= srv->conf.output_cap)
			limit = -1;
		if (limit != jobs[i].limit) {
			joblog_set_limit(jobs[i].job, limit);
			jobs[i].limit = limit;
		}
	}
out:
	free(mine);
	free(at);
	free(looks);
	free(t);
}

void outcap_started(struct server *srv, int64_t job, int64_t session, int64_t user)
{
	pthread_mutex_lock(&lock);
	scan(srv);
	add(job, session, user);
	rebalance(srv, user);
	pthread_mutex_unlock(&lock);
}

void outcap_received(struct server *srv, int64_t user, int64_t job, bool ended)
{
	pthread_mutex_lock(&lock);
	scan(srv);
	bool waiting = ended;
	for (size_t i = 0; i < njobs && !waiting; i++)
		waiting = jobs[i].user == user && jobs[i].job != job && joblog_blocked(jobs[i].job);
	if (waiting)
		rebalance(srv, user);
	pthread_mutex_unlock(&lock);
}

void outcap_sessions(struct server *srv, int64_t user,
                     void (*cb)(void *ctx, int64_t session, int64_t bytes), void *ctx)
{
	pthread_mutex_lock(&lock);
	scan(srv);
	for (size_t i = 0; i < njobs;) {
		struct look l;
		if (user >= 0 && jobs[i].user != user) {
			i++;
			continue;
		}
		if (!look_at(i, &l))
			continue;
		if (l.held > 0)
			cb(ctx, jobs[i].session, l.held);
		i++;
	}
	pthread_mutex_unlock(&lock);
}
