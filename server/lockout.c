/*
 * lockout.c - bounded failure counters with lockouts.
 *
 * A linear table is enough: it is bounded (a few thousand entries) and only
 * touched on logins, which cost an scrypt each anyway. A mutex makes it safe
 * for the daemon's connection threads.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lockout.h"

#define LOCKOUT_KEY_MAX 96

struct entry {
	char    key[LOCKOUT_KEY_MAX];
	int64_t first;        /* start of the current counting window */
	int64_t count;        /* failures in the window */
	int64_t locked_until;
	int64_t touched;
	int64_t inflight;     /* attempts admitted and not yet decided */
};

struct lockout {
	pthread_mutex_t lock;
	struct entry   *e;
	size_t          n, cap;
	int64_t         threshold, window, duration;
};

/* Create a table. */
struct lockout *lockout_new(size_t cap, int64_t threshold, int64_t window,
                            int64_t duration)
{
	struct lockout *l = calloc(1, sizeof *l);
	if (l == NULL || cap == 0)
		goto fail;
	l->e = calloc(cap, sizeof *l->e);
	if (l->e == NULL)
		goto fail;
	pthread_mutex_init(&l->lock, NULL);
	l->cap = cap;
	l->threshold = threshold;
	l->window = window;
	l->duration = duration;
	return l;
fail:
	free(l);
	return NULL;
}

/* Free a table. */
void lockout_free(struct lockout *l)
{
	if (l == NULL)
		return;
	pthread_mutex_destroy(&l->lock);
	free(l->e);
	free(l);
}

/* Find a key's entry, or NULL. */
static struct entry *find(struct lockout *l, const char *key)
{
	for (size_t i = 0; i < l->n; i++)
		if (strncmp(l->e[i].key, key, LOCKOUT_KEY_MAX - 1) == 0)
			return &l->e[i];
	return NULL;
}

/* Find or make a key's entry, evicting the stalest entry when full. */
static struct entry *find_or_add(struct lockout *l, const char *key, int64_t now)
{
	struct entry *e = find(l, key);
	if (e != NULL)
		return e;
	if (l->n < l->cap) {
		e = &l->e[l->n++];
	} else {
		/* evict an idle entry if there is one (not locked, no attempt in
		 * flight), else the stalest */
		e = &l->e[0];
		for (size_t i = 1; i < l->n; i++) {
			bool ilocked = l->e[i].locked_until > now || l->e[i].inflight > 0;
			bool elocked = e->locked_until > now || e->inflight > 0;
			if ((elocked && !ilocked) ||
			    (elocked == ilocked && l->e[i].touched < e->touched))
				e = &l->e[i];
		}
	}
	memset(e, 0, sizeof *e);
	snprintf(e->key, sizeof e->key, "%s", key);
	e->first = now;
	return e;
}

/* The window's failures of an entry, restarting the window if it is over. */
static int64_t window_count(struct lockout *l, struct entry *e, int64_t now)
{
	if (now - e->first >= l->window) {
		e->first = now;
		e->count = 0;
	}
	return e->count;
}

/* Seconds of lockout left for a key. */
int64_t lockout_remaining(struct lockout *l, const char *key, int64_t now)
{
	pthread_mutex_lock(&l->lock);
	struct entry *e = find(l, key);
	int64_t left = (e != NULL && e->locked_until > now) ? e->locked_until - now : 0;
	pthread_mutex_unlock(&l->lock);
	return left;
}

/* Count one failure on an entry, locking it at the threshold; the seconds
 * of lockout that now apply. Called with the lock held. */
static int64_t count_failure(struct lockout *l, struct entry *e, int64_t now)
{
	window_count(l, e, now);
	e->count++;
	e->touched = now;
	if (e->count >= l->threshold) {
		e->locked_until = now + l->duration;
		e->count = 0;
		e->first = now;
	}
	return e->locked_until > now ? e->locked_until - now : 0;
}

/* Count a failure and lock at the threshold. */
int64_t lockout_fail(struct lockout *l, const char *key, int64_t now)
{
	pthread_mutex_lock(&l->lock);
	int64_t left = count_failure(l, find_or_add(l, key, now), now);
	pthread_mutex_unlock(&l->lock);
	return left;
}

/* Forget a key. */
void lockout_clear(struct lockout *l, const char *key)
{
	pthread_mutex_lock(&l->lock);
	struct entry *e = find(l, key);
	if (e != NULL && e->inflight > 0) {
		e->count = 0;
		e->locked_until = 0;
	} else if (e != NULL) {
		*e = l->e[l->n - 1];
		l->n--;
	}
	pthread_mutex_unlock(&l->lock);
}


int64_t lockout_enter(struct lockout *l, const char *const keys[], size_t n, int64_t now)
{
	int64_t wait = 0;
	struct entry *e[LOCKOUT_KEYS_MAX];
	if (n > LOCKOUT_KEYS_MAX)
		return 1;
	pthread_mutex_lock(&l->lock);
	for (size_t i = 0; i < n; i++) {
		e[i] = find_or_add(l, keys[i], now);
		e[i]->touched = now;
		int64_t left = e[i]->locked_until > now ? e[i]->locked_until - now : 0;
		/* every attempt in flight may fail: they count already */
		if (left == 0 && window_count(l, e[i], now) + e[i]->inflight >= l->threshold)
			left = 1;
		if (left > wait)
			wait = left;
	}
	for (size_t i = 0; wait == 0 && i < n; i++)
		e[i]->inflight++;
	pthread_mutex_unlock(&l->lock);
	return wait;
}

int64_t lockout_leave(struct lockout *l, const char *const keys[], size_t n, int64_t now,
                      bool failed)
{
	int64_t left = 0;
	pthread_mutex_lock(&l->lock);
	for (size_t i = 0; i < n; i++) {
		struct entry *e = find(l, keys[i]);
		if (e == NULL)
			continue;   /* evicted while in flight: only when the table is all busy */
		if (e->inflight > 0)
			e->inflight--;
		int64_t l1 = failed ? count_failure(l, e, now) : 0;
		if (l1 > left)
			left = l1;
	}
	pthread_mutex_unlock(&l->lock);
	return left;
}
