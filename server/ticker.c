/*
 * ticker.c - a periodic, kickable thread (see ticker.h).
 */
#include <time.h>

#include "ticker.h"

static void *loop(void *arg)
{
	struct ticker *t = arg;
	pthread_mutex_lock(&t->lock);
	while (!t->stopping) {
		t->kicked = false;
		pthread_mutex_unlock(&t->lock);
		t->fn(t->arg);
		pthread_mutex_lock(&t->lock);
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += (long)t->period_ms * 1000 * 1000;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		if (!t->stopping && !t->kicked)
			pthread_cond_timedwait(&t->cond, &t->lock, &ts);
	}
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

int ticker_start(struct ticker *t, void (*fn)(void *), void *arg, int period_ms)
{
	t->fn = fn;
	t->arg = arg;
	t->period_ms = period_ms;
	t->stopping = t->kicked = false;
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->cond, NULL);
	if (pthread_create(&t->thread, NULL, loop, t) != 0)
		return -1;
	t->running = true;
	return 0;
}

void ticker_kick(struct ticker *t)
{
	if (!t->running)
		return;
	pthread_mutex_lock(&t->lock);
	t->kicked = true;
	pthread_cond_signal(&t->cond);
	pthread_mutex_unlock(&t->lock);
}

void ticker_stop(struct ticker *t)
{
	if (!t->running)
		return;
	pthread_mutex_lock(&t->lock);
	t->stopping = true;
	pthread_cond_signal(&t->cond);
	pthread_mutex_unlock(&t->lock);
	pthread_join(t->thread, NULL);
	t->running = false;
}
