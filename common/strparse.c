/*
 * strparse.c - strict conversions of untrusted text to numbers and flags.
 *
 * strtoull/strtoll alone accept leading spaces, signs and partial input and
 * wrap negative numbers around; so the first character is checked by hand,
 * then errno and the end pointer, then the caller's range. The digit test is
 * locale independent on purpose.
 */
#include "strparse.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* True for an ASCII decimal digit. */
static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Parse an unsigned decimal number in [min, max]. */
int strparse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!s || !is_digit(s[0]))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Seconds with up to three decimals, as milliseconds. */
int strparse_seconds_ms(const char *s, int64_t min_ms, int64_t max_ms, int64_t *out)
{
	char whole[24];
	uint64_t sec, frac = 0;
	const char *dot = s ? strchr(s, '.') : NULL;
	size_t wl = dot ? (size_t)(dot - s) : (s ? strlen(s) : 0);
	if (s == NULL || wl == 0 || wl >= sizeof whole)
		return -1;
	memcpy(whole, s, wl);
	whole[wl] = '\0';
	if (strparse_u64(whole, 0, (uint64_t)INT64_MAX / 1000 - 1, &sec) != 0)
		return -1;
	if (dot != NULL) {
		size_t fl = strlen(dot + 1);
		if (fl == 0 || fl > 3 || strparse_u64(dot + 1, 0, 999, &frac) != 0)
			return -1;
		for (; fl < 3; fl++)
			frac *= 10;
	}
	int64_t ms = (int64_t)(sec * 1000 + frac);
	if (ms < min_ms || ms > max_ms)
		return -1;
	*out = ms;
	return 0;
}

/* Parse a signed decimal number in [min, max]; only '-' may precede it. */
int strparse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
	long long v;
	char *end;

	if (!s || !is_digit(s[0] == '-' ? s[1] : s[0]))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Parse a boolean word, case-insensitively. */
int strparse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	size_t i;

	if (!s)
		return -1;
	for (i = 0; i < sizeof yes / sizeof yes[0]; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

/* Copy src into dst, truncating (and failing) if it does not fit. */
int strparse_copy(char *dst, size_t dstsz, const char *src)
{
	size_t n = strlen(src);

	if (dstsz == 0)
		return -1;
	if (n < dstsz) {
		memcpy(dst, src, n + 1);
		return 0;
	}
	memcpy(dst, src, dstsz - 1);
	dst[dstsz - 1] = '\0';
	return -1;
}

/* True if s is one or more ASCII digits and nothing else. */
bool strparse_is_digits(const char *s)
{
	if (!s || !*s)
		return false;
	for (; *s; s++)
		if (!is_digit(*s))
			return false;
	return true;
}
