/*
 * strparse.h - checked conversions from untrusted text.
 *
 * No atoi: every number is parsed completely (no trailing junk, no sign
 * surprises, no overflow) and checked against a caller-supplied range.
 */
#ifndef TETHER_STRPARSE_H
#define TETHER_STRPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Parse a decimal unsigned integer in [min, max]. Leading '+', '-', spaces
 * and trailing characters are rejected. Returns 0 or -1. */
int strparse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* Parse a decimal signed integer in [min, max]. Returns 0 or -1. */
int strparse_i64(const char *s, int64_t min, int64_t max, int64_t *out);

/* Parse seconds with up to three decimals ("10", "0.5", "1.250") as
 * milliseconds in [min_ms, max_ms]. Signs, spaces, exponents, a bare "." and
 * a fourth decimal are rejected. Returns 0 or -1. */
int strparse_seconds_ms(const char *s, int64_t min_ms, int64_t max_ms, int64_t *out);

/* Parse yes/no/true/false/on/off/1/0 (case-insensitive). Returns 0 or -1. */
int strparse_bool(const char *s, bool *out);

/* Copy src into dst of size dstsz; returns 0, or -1 if it did not fit (dst
 * then holds a truncated, NUL-terminated prefix). */
int strparse_copy(char *dst, size_t dstsz, const char *src);

/* True if s is all decimal digits (at least one). */
bool strparse_is_digits(const char *s);

#endif
