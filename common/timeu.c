/*
 * timeu.c - wall and monotonic clocks, and RFC 3339 UTC timestamps.
 *
 * Only one textual form exists ("YYYY-MM-DDTHH:MM:SSZ"), so the parser can be
 * exact: fixed positions, range-checked fields, real month lengths. Anything
 * the formatter could not have produced is rejected.
 */
#include "timeu.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define TIMEU_MIN (-62167219200LL)  /* 0000-01-01T00:00:00Z */
#define TIMEU_MAX 253402300799LL    /* 9999-12-31T23:59:59Z */

/* Seconds since the epoch. */
int64_t timeu_now(void)
{
	return (int64_t)time(NULL);
}

/* Milliseconds on the monotonic clock. */
int64_t timeu_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Format t (clamped to years 0000..9999) as an RFC 3339 UTC timestamp. */
void timeu_rfc3339(int64_t t, char out[TIMEU_RFC3339_LEN])
{
	time_t tt = (time_t)(t < TIMEU_MIN ? TIMEU_MIN : t > TIMEU_MAX ? TIMEU_MAX : t);
	struct tm tm;

	if (!gmtime_r(&tt, &tm)) {
		snprintf(out, TIMEU_RFC3339_LEN, "1970-01-01T00:00:00Z");
		return;
	}
	snprintf(out, TIMEU_RFC3339_LEN, "%04u-%02u-%02uT%02u:%02u:%02uZ",
	         (unsigned)(tm.tm_year + 1900) % 10000u, (unsigned)(tm.tm_mon + 1) % 100u,
	         (unsigned)tm.tm_mday % 100u, (unsigned)tm.tm_hour % 100u,
	         (unsigned)tm.tm_min % 100u, (unsigned)tm.tm_sec % 60u);
}

/* Read n digits at s into *v; false if any is not a digit. */
static bool digits(const char *s, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		*v = *v * 10 + (s[i] - '0');
	}
	return true;
}

/* Days in month m (1..12) of year y. */
static int month_days(int y, int m)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : days[m - 1];
}

/* Parse exactly "YYYY-MM-DDTHH:MM:SSZ". */
int timeu_parse_rfc3339(const char *s, int64_t *out)
{
	int y, mo, d, h, mi, sec;
	struct tm tm;

	if (!s || strlen(s) != TIMEU_RFC3339_LEN - 1 || s[4] != '-' || s[7] != '-' ||
	    s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != 'Z')
		return -1;
	if (!digits(s, 4, &y) || !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d) ||
	    !digits(s + 11, 2, &h) || !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &sec))
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > month_days(y, mo) || h > 23 || mi > 59 ||
	    sec > 59)
		return -1;
	memset(&tm, 0, sizeof tm);
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	*out = (int64_t)timegm(&tm);
	return 0;
}
