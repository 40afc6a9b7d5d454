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
		/* evict an unlocked entry if there is one, else the stalest */
		e = &l->e[0];
		for (size_t i = 1; i < l->n; i++) {
			bool ilocked = l->e[i].locked_until > now;
			bool elocked = e->locked_until > now;
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

/* Seconds of lockout left for a key. */
int64_t lockout_remaining(struct lockout *l, const char *key, int64_t now)
{
	pthread_mutex_lock(&l->lock);
	struct entry *e = find(l, key);
	int64_t left = (e != NULL && e->locked_until > now) ? e->locked_until - now : 0;
	pthread_mutex_unlock(&l->lock);
	return left;
}

/* Count a failure and lock at the threshold. */
int64_t lockout_fail(struct lockout *l, const char *key, int64_t now)
{
	pthread_mutex_lock(&l->lock);
	struct entry *e = find_or_add(l, key, now);
	if (now - e->first >= l->window) {
		e->first = now;
		e->count = 0;
	}
	e->count++;
	e->touched = now;
	if (e->count >= l->threshold) {
		e->locked_until = now + l->duration;
		e->count = 0;
		e->first = now;
	}
	int64_t left = e->locked_until > now ? e->locked_until - now : 0;
	pthread_mutex_unlock(&l->lock);
	return left;
}

/* Forget a key. */
void lockout_clear(struct lockout *l, const char *key)
{
	pthread_mutex_lock(&l->lock);
	struct entry *e = find(l, key);
	if (e != NULL) {
		*e = l->e[l->n - 1];
		l->n--;
	}
	pthread_mutex_unlock(&l->lock);
}
