/*
 * ticker.h - a thread that runs a pass when something is due: at the
 * deadline the last pass asked for, when kicked, or when a file
 * descriptor it watches becomes readable (a pidfd: a process ended).
 * Nothing is periodic: with no deadline and no event the thread sleeps
 * in the kernel and an idle daemon does no timer-driven work. Shared by
 * the monitor and the transfer scheduler; see docs/performance.md.
 */
#ifndef TETHER_TICKER_H
#define TETHER_TICKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

/* What a pass returns when nothing is due until an event. */
#define TICKER_IDLE (-1)

struct ticker {
	int           (*fn)(void *arg);   /* a pass; ms until the next is due, or TICKER_IDLE */
	void           *arg;
	int             min_gap_ms;       /* passes started by events are at least this apart */
	pthread_t       thread;
	int             epfd, evfd;       /* the watched fds, and the kick */
	atomic_bool     kicked, stopping;
	bool            running;
};

/* Start the thread; its first pass runs at once. Passes that events cause
 * start at least min_gap_ms after the previous one began (a burst of kicks
 * costs one pass); a deadline fn asked for is kept exactly. 0 or -1. */
int ticker_start(struct ticker *t, int (*fn)(void *), void *arg, int min_gap_ms);

/* Run a pass soon (see the gap above); cheap and safe from any thread,
 * also with other locks held: it never waits for the pass. */
void ticker_kick(struct ticker *t);

/* A pass is due whenever fd is readable (level-triggered: the pass must
 * close or unwatch an fd it has dealt with); 0 or -1. */
int ticker_watch(struct ticker *t, int fd);

/* Stop watching fd (before the caller closes it). */
void ticker_unwatch(struct ticker *t, int fd);

/* Stop and join (the pass under way finishes first); no-op if not started. */
void ticker_stop(struct ticker *t);

#endif
