/*
 * timeu.h - time helpers: wall clock, monotonic clock, RFC 3339 UTC text.
 */
#ifndef TETHER_TIMEU_H
#define TETHER_TIMEU_H

#include <stddef.h>
#include <stdint.h>

#define TIMEU_RFC3339_LEN 21   /* "2026-11-21T17:19:00Z" + NUL */

/* Seconds since the epoch (wall clock). */
int64_t timeu_now(void);

/* Milliseconds from a monotonic clock (for timeouts, never stored). */
int64_t timeu_mono_ms(void);

/* Format epoch seconds as "YYYY-MM-DDTHH:MM:SSZ". */
void timeu_rfc3339(int64_t t, char out[TIMEU_RFC3339_LEN]);

/* Parse the same form (only 'Z', no fractions); 0 or -1. */
int timeu_parse_rfc3339(const char *s, int64_t *out);

#endif
