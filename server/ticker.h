/*
 * ticker.h - a thread that runs a function every period, or at once when
 * kicked; shared by the monitor and the transfer scheduler.
 */
#ifndef TETHER_TICKER_H
#define TETHER_TICKER_H

#include <pthread.h>
#include <stdbool.h>

struct ticker {
	void          (*fn)(void *arg);
	void           *arg;
	int             period_ms;
	pthread_t       thread;
	pthread_mutex_t lock;
	pthread_cond_t  cond;
	bool            running, stopping, kicked;
};

/* Start calling fn(arg) every period_ms. 0 or -1. */
int ticker_start(struct ticker *t, void (*fn)(void *), void *arg, int period_ms);

/* Run the next pass now (or as soon as the current one ends). */
void ticker_kick(struct ticker *t);

/* Stop and join (the pass under way finishes first); no-op if not started. */
void ticker_stop(struct ticker *t);

#endif
