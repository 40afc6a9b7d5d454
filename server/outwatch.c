/*
 * outwatch.c - the daemon's one watcher of job directories (outwatch.h).
 *
 * A table of watched jobs, each with the inotify watch descriptor, how
 * many requests wait on it and a change counter, under one mutex; waiters
 * sleep on one condition variable and look at their job's counter. The
 * thread is the only one that removes watches (inotify_rm_watch can take
 * a while), so a request only ever adds one.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "outwatch.h"
#include "timeu.h"

struct watched {
	int64_t  job;
	int      wd;        /* -1: being dropped */
	int      waiters;
	bool     ended;     /* outwatch_forget was called */
	uint64_t changes;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed;
static struct watched *table;
static size_t ntable;
static int ifd = -1;
static int kick[2] = { -1, -1 };   /* wakes the thread: a sweep, or the stop */
static pthread_t thread;
static bool running, stopping;

/* The entry of job, or NULL. Call with mu held. */
static struct watched *find(int64_t job)
{
	for (size_t i = 0; i < ntable; i++)
		if (table[i].job == job)
			return &table[i];
	return NULL;
}

/* Drop entries whose job ended and that nobody waits on, removing their
 * watches (the thread only). Call with mu held. */
static void sweep(void)
{
	for (size_t i = 0; i < ntable;) {
		struct watched *w = &table[i];
		if (w->waiters == 0 && (w->ended || w->wd < 0)) {
			if (w->wd >= 0)
				inotify_rm_watch(ifd, w->wd);
			table[i] = table[--ntable];
		} else {
			i++;
		}
	}
}

/* Read inotify events: bump the counters of the jobs they concern. */
static void *run(void *arg)
{
	(void)arg;
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	for (;;) {
		/* no timeout: an idle daemon's watcher never wakes */
		struct pollfd p[2] = { { ifd, POLLIN, 0 }, { kick[0], POLLIN, 0 } };
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents) {
			char drain[64];
			while (read(kick[0], drain, sizeof drain) > 0)
				;
		}
		ssize_t n = p[0].revents ? read(ifd, buf, sizeof buf) : 0;
		pthread_mutex_lock(&mu);
		if (stopping) {
			pthread_mutex_unlock(&mu);
			break;
		}
		for (char *q = buf; n > 0 && q < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)q;
			for (size_t i = 0; i < ntable; i++)
				if (table[i].wd == ev->wd) {
					table[i].changes++;
					if (ev->mask & IN_IGNORED)   /* the directory went */
						table[i].wd = -1;
				}
			q += sizeof *ev + ev->len;
		}
		if (n > 0)
			pthread_cond_broadcast(&changed);
		sweep();
		pthread_mutex_unlock(&mu);
	}
	return NULL;
}

/* See outwatch.h. */
int outwatch_start(void)
{
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&changed, &ca);
	pthread_condattr_destroy(&ca);
	table = calloc(OUTWATCH_MAX, sizeof *table);
	ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (table == NULL || ifd < 0 || pipe2(kick, O_CLOEXEC | O_NONBLOCK) != 0 ||
	    pthread_create(&thread, NULL, run, NULL) != 0) {
		if (ifd >= 0)
			close(ifd);
		ifd = -1;
		return -1;
	}
	running = true;
	return 0;
}

/* See outwatch.h. */
void outwatch_stop(void)
{
	if (!running)
		return;
	pthread_mutex_lock(&mu);
	stopping = true;
	pthread_mutex_unlock(&mu);
	if (write(kick[1], "x", 1) < 0) {
		/* a full pipe wakes it as well */
	}
	pthread_join(thread, NULL);
	running = stopping = false;
	close(ifd);
	close(kick[0]);
	close(kick[1]);
	ifd = kick[0] = kick[1] = -1;
	free(table);
	table = NULL;
	ntable = 0;
}

/* Begin waiting on job, adding a watch on dir if it has none; false if it
 * cannot be watched. Call with mu held. Entries move in the table (sweep),
 * so callers find theirs again each time they take mu. */
static bool enter(int64_t job, const char *dir)
{
	struct watched *w = find(job);
	if (w == NULL) {
		if (!running || ntable == OUTWATCH_MAX)
			return false;
		int wd = inotify_add_watch(ifd, dir, IN_MODIFY | IN_MOVED_TO | IN_CREATE |
		                                     IN_ONLYDIR);
		if (wd < 0)
			return false;
		w = &table[ntable++];
		*w = (struct watched){ .job = job, .wd = wd };
	}
	w->waiters++;
	return true;
}

/* See outwatch.h. */
bool outwatch_wait(int64_t job, const char *dir, int timeout_ms, int poll_ms,
                   bool (*done)(void *ctx), void *ctx)
{
	int64_t deadline = timeu_mono_ms() + timeout_ms;
	if (done(ctx))
		return true;   /* the usual case of a busy stream: no watch needed */
	pthread_mutex_lock(&mu);
	bool watched = enter(job, dir), ok;
	struct watched *w;
	for (;;) {
		w = find(job);
		uint64_t seen = w != NULL ? w->changes : 0;
		bool live = w != NULL && w->wd >= 0;
		pthread_mutex_unlock(&mu);
		ok = done(ctx);   /* looked at after the counter was read: no lost wake */
		int64_t left = deadline - timeu_mono_ms();
		int64_t nap = left < poll_ms ? left : poll_ms;
		if (!ok && left > 0 && !live) {   /* unwatched: poll */
			struct timespec ts = { 0, (nap < 20 ? nap : 20) * 1000000L };
			nanosleep(&ts, NULL);
		}
		pthread_mutex_lock(&mu);
		if (ok || left <= 0)
			break;
		if (!live)
			continue;
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += nap / 1000;
		until.tv_nsec += (nap % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		while ((w = find(job)) != NULL && w->changes == seen &&
		       pthread_cond_timedwait(&changed, &mu, &until) == 0)
			;
	}
	if (watched && (w = find(job)) != NULL && w->waiters > 0)
		w->waiters--;
	pthread_mutex_unlock(&mu);
	return ok;
}

/* See outwatch.h. */
void outwatch_forget(int64_t job)
{
	pthread_mutex_lock(&mu);
	struct watched *w = find(job);
	bool sweep_now = w != NULL && !w->ended;
	if (w != NULL)
		w->ended = true;
	pthread_mutex_unlock(&mu);
	if (sweep_now && write(kick[1], "s", 1) < 0) {
		/* full: a sweep is due anyway */
	}
}
