/*
 * test-timeu.c - unit tests for clocks and RFC 3339 timestamps.
 *
 * Formatting is checked against epoch values computed independently; the
 * parser against everything a sloppy or hostile writer could send: wrong
 * separators, offsets, fractions, impossible dates, trailing bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "timeu.h"

/* Known instants format exactly. */
static void test_format(void **state)
{
	char s[TIMEU_RFC3339_LEN];

	timeu_rfc3339(0, s);
	assert_string_equal(s, "1970-01-01T00:00:00Z");
	timeu_rfc3339(1795281540, s);
	assert_string_equal(s, "2026-11-21T17:19:00Z");
	timeu_rfc3339(951782400, s);
	assert_string_equal(s, "2000-02-29T00:00:00Z");
	timeu_rfc3339(-1, s);
	assert_string_equal(s, "1969-12-31T23:59:59Z");
	timeu_rfc3339(253402300799LL, s);
	assert_string_equal(s, "9999-12-31T23:59:59Z");
}

/* Out-of-range instants are clamped and never overflow the buffer. */
static void test_format_clamped(void **state)
{
	char s[TIMEU_RFC3339_LEN + 8];

	memset(s, 'X', sizeof s);
	timeu_rfc3339(INT64_MAX, s);
	assert_string_equal(s, "9999-12-31T23:59:59Z");
	assert_int_equal(s[TIMEU_RFC3339_LEN], 'X');
	timeu_rfc3339(INT64_MIN, s);
	assert_string_equal(s, "0000-01-01T00:00:00Z");
}

/* Valid timestamps parse to the right instant. */
static void test_parse_valid(void **state)
{
	int64_t t = 0;

	assert_int_equal(timeu_parse_rfc3339("1970-01-01T00:00:00Z", &t), 0);
	assert_int_equal(t, 0);
	assert_int_equal(timeu_parse_rfc3339("2026-11-21T17:19:00Z", &t), 0);
	assert_int_equal(t, 1795281540);
	assert_int_equal(timeu_parse_rfc3339("2000-02-29T00:00:00Z", &t), 0);
	assert_int_equal(t, 951782400);
	assert_int_equal(timeu_parse_rfc3339("2024-12-31T23:59:59Z", &t), 0);
	assert_int_equal(timeu_parse_rfc3339("1969-12-31T23:59:59Z", &t), 0);
	assert_int_equal(t, -1);
}

/* Format and parse are inverses over a spread of instants. */
static void test_round_trip(void **state)
{
	char s[TIMEU_RFC3339_LEN];
	int64_t t;

	for (int64_t x = 0; x < 4102444800LL; x += 7777777) {
		timeu_rfc3339(x, s);
		assert_int_equal(timeu_parse_rfc3339(s, &t), 0);
		assert_int_equal(t, x);
	}
}

/* Anything but the exact form, or an impossible date, is refused. */
static void test_parse_invalid(void **state)
{
	static const char *const bad[] = {
		"", "2026-11-21", "2026-11-21T17:19:00", "2026-11-21t17:19:00Z",
		"2026-11-21T17:19:00z", "2026-11-21 17:19:00Z", "2026-11-21T17:19:00+00:00",
		"2026-11-21T17:19:00.5Z", "2026-11-21T17:19:00Z ", " 2026-11-21T17:19:00Z",
		"2026-11-21T17:19:00ZZ", "2026/11/21T17:19:00Z", "2026-1-21T17:19:00Z",
		"+026-11-21T17:19:00Z", "2026-+1-21T17:19:00Z", "2026-11-21T17:19:-0Z",
		"2026-13-01T00:00:00Z", "2026-00-01T00:00:00Z", "2026-01-00T00:00:00Z",
		"2026-01-32T00:00:00Z", "2026-04-31T00:00:00Z", "2023-02-29T00:00:00Z",
		"1900-02-29T00:00:00Z", "2026-11-21T24:00:00Z", "2026-11-21T23:60:00Z",
		"2026-11-21T23:59:60Z", "2026-11-21T17:19:0aZ",
	};
	int64_t t = 12345;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(timeu_parse_rfc3339(bad[i], &t), -1);
		assert_int_equal(t, 12345);
	}
	assert_int_equal(timeu_parse_rfc3339(NULL, &t), -1);
}

/* The wall clock is plausible and the monotonic clock does not go back. */
static void test_clocks(void **state)
{
	int64_t now = timeu_now(), a, b;

	assert_true(now > 1700000000);
	assert_true(now - (int64_t)time(NULL) <= 1);
	a = timeu_mono_ms();
	for (int i = 0; i < 1000; i++) {
		b = timeu_mono_ms();
		assert_true(b >= a);
		a = b;
	}
	assert_true(a > 0);
}

/* Run the tests. */
int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_format_clamped),
		cmocka_unit_test(test_parse_valid),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_parse_invalid),
		cmocka_unit_test(test_clocks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
