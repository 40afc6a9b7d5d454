/*
 * lockout.h - counting failed logins and locking out the guessers.
 *
 * Keys are opaque strings ("user:alice", "addr:192.0.2.7"); each key counts
 * failures within a sliding window and, at the threshold, is locked for a
 * fixed duration. The table is bounded: when full, the stalest unlocked
 * entry is evicted (locked ones go last), so a flood of random user names can cost us
 * only a fixed amount of memory. Pure logic with an injected clock.
 */
#ifndef TETHER_LOCKOUT_H
#define TETHER_LOCKOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lockout;

/* A table of at most cap keys. Returns NULL if out of memory. */
struct lockout *lockout_new(size_t cap, int64_t threshold, int64_t window,
                            int64_t duration);
void lockout_free(struct lockout *l);

/* Seconds until key may try again, 0 if it is not locked. */
int64_t lockout_remaining(struct lockout *l, const char *key, int64_t now);

/* Record a failure; returns the seconds of lockout that now apply (0 if the
 * threshold has not been reached). */
int64_t lockout_fail(struct lockout *l, const char *key, int64_t now);

#define LOCKOUT_KEYS_MAX 4

/* Admit one attempt for all of keys (at most LOCKOUT_KEYS_MAX) at once, or
 * none: returns 0 and counts the attempt as in flight on each key, or the
 * seconds to wait if a key is locked or if its failures plus the attempts
 * already in flight reach the threshold (those may all fail). So under any
 * number of concurrent guesses at most threshold are ever evaluated.
 * Every admitted attempt is ended with lockout_leave. */
int64_t lockout_enter(struct lockout *l, const char *const keys[], size_t n, int64_t now);

/* End an admitted attempt; a failed one is counted and may lock its keys.
 * Returns the seconds of lockout that now apply. */
int64_t lockout_leave(struct lockout *l, const char *const keys[], size_t n, int64_t now,
                      bool failed);

/* Forget a key's failures (after a successful login). */
void lockout_clear(struct lockout *l, const char *key);

#endif
