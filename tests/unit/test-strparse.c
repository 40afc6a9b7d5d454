/*
 * test-strparse.c - unit tests for the strict number and flag parsers.
 *
 * Each case is something strtoull would happily accept or mangle: signs,
 * spaces, junk, overflow, empty input. The parsers must refuse them all and
 * leave the output alone when they do.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "strparse.h"

/* Valid unsigned numbers parse, including the extremes. */
static void test_u64_valid(void **state)
{
	uint64_t v = 0;

	assert_int_equal(strparse_u64("0", 0, 10, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(strparse_u64("42", 0, 100, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(strparse_u64("007", 0, 100, &v), 0);
	assert_int_equal(v, 7);
	assert_int_equal(strparse_u64("18446744073709551615", 0, UINT64_MAX, &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(strparse_u64("10", 10, 10, &v), 0);
	assert_int_equal(v, 10);
}

/* Bad unsigned input is refused and the output untouched. */
static void test_u64_invalid(void **state)
{
	static const char *const bad[] = {
		"", " 1", "1 ", "+1", "-1", "-0", "1a", "0x10", "1.0", "1e3",
		"\t1", "\n1", "18446744073709551616", "99999999999999999999999", "١",
	};
	uint64_t v = 12345;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(strparse_u64(bad[i], 0, UINT64_MAX, &v), -1);
		assert_int_equal(v, 12345);
	}
	assert_int_equal(strparse_u64(NULL, 0, 10, &v), -1);
	assert_int_equal(v, 12345);
}

/* The range is inclusive at both ends and enforced. */
static void test_u64_range(void **state)
{
	uint64_t v = 5;

	assert_int_equal(strparse_u64("0", 1, 65535, &v), -1);
	assert_int_equal(strparse_u64("65536", 1, 65535, &v), -1);
	assert_int_equal(v, 5);
	assert_int_equal(strparse_u64("1", 1, 65535, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(strparse_u64("65535", 1, 65535, &v), 0);
	assert_int_equal(v, 65535);
}

/* Signed numbers accept '-' but not '+', and check overflow both ways. */
static void test_i64(void **state)
{
	int64_t v = 0;

	assert_int_equal(strparse_i64("-5", -10, 10, &v), 0);
	assert_int_equal(v, -5);
	assert_int_equal(strparse_i64("9223372036854775807", INT64_MIN, INT64_MAX, &v), 0);
	assert_true(v == INT64_MAX);
	assert_int_equal(strparse_i64("-9223372036854775808", INT64_MIN, INT64_MAX, &v), 0);
	assert_true(v == INT64_MIN);
	v = 77;
	assert_int_equal(strparse_i64("9223372036854775808", INT64_MIN, INT64_MAX, &v), -1);
	assert_int_equal(strparse_i64("-9223372036854775809", INT64_MIN, INT64_MAX, &v), -1);
	assert_int_equal(strparse_i64("+5", -10, 10, &v), -1);
	assert_int_equal(strparse_i64("-", -10, 10, &v), -1);
	assert_int_equal(strparse_i64("--5", -10, 10, &v), -1);
	assert_int_equal(strparse_i64("- 5", -10, 10, &v), -1);
	assert_int_equal(strparse_i64(" -5", -10, 10, &v), -1);
	assert_int_equal(strparse_i64("", -10, 10, &v), -1);
	assert_int_equal(strparse_i64("5x", -10, 10, &v), -1);
	assert_int_equal(strparse_i64("-11", -10, 10, &v), -1);
	assert_int_equal(strparse_i64("11", -10, 10, &v), -1);
	assert_int_equal(strparse_i64(NULL, -10, 10, &v), -1);
	assert_int_equal(v, 77);
}

/* Boolean words in any case, nothing else. */
static void test_bool(void **state)
{
	static const char *const yes[] = { "yes", "YES", "true", "True", "on", "1" };
	static const char *const no[] = { "no", "No", "false", "FALSE", "off", "0" };
	static const char *const bad[] = { "", "y", "n", "2", "yes ", " no", "truee", "of" };
	bool b;

	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
		b = false;
		assert_int_equal(strparse_bool(yes[i], &b), 0);
		assert_true(b);
	}
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
		b = true;
		assert_int_equal(strparse_bool(no[i], &b), 0);
		assert_false(b);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		b = true;
		assert_int_equal(strparse_bool(bad[i], &b), -1);
		assert_true(b);
	}
	assert_int_equal(strparse_bool(NULL, &b), -1);
}

/* Copy fits exactly or truncates with a NUL and reports it. */
static void test_copy(void **state)
{
	char d[6];

	assert_int_equal(strparse_copy(d, sizeof d, "hello"), 0);
	assert_string_equal(d, "hello");
	assert_int_equal(strparse_copy(d, sizeof d, ""), 0);
	assert_string_equal(d, "");
	assert_int_equal(strparse_copy(d, sizeof d, "hello!"), -1);
	assert_string_equal(d, "hello");
	assert_int_equal(strparse_copy(d, 1, "x"), -1);
	assert_string_equal(d, "");
	memset(d, 'q', sizeof d);
	assert_int_equal(strparse_copy(d, 0, "x"), -1);
	assert_int_equal(d[0], 'q');
}

/* Digit strings: at least one ASCII digit, nothing else. */
static void test_is_digits(void **state)
{
	assert_true(strparse_is_digits("0"));
	assert_true(strparse_is_digits("1234567890"));
	assert_false(strparse_is_digits(""));
	assert_false(strparse_is_digits(NULL));
	assert_false(strparse_is_digits("12a"));
	assert_false(strparse_is_digits("-1"));
	assert_false(strparse_is_digits(" 1"));
	assert_false(strparse_is_digits("1 "));
	assert_false(strparse_is_digits("\xd9\xa1"));
}

/* Seconds with up to three decimals, as milliseconds, within a range. */
static void test_seconds_ms(void **state)
{
	int64_t ms = -1;
	(void)state;
	assert_int_equal(strparse_seconds_ms("10", 0, 100000, &ms), 0);
	assert_int_equal(ms, 10000);
	assert_int_equal(strparse_seconds_ms("0.5", 0, 100000, &ms), 0);
	assert_int_equal(ms, 500);
	assert_int_equal(strparse_seconds_ms("1.25", 0, 100000, &ms), 0);
	assert_int_equal(ms, 1250);
	assert_int_equal(strparse_seconds_ms("2.005", 0, 100000, &ms), 0);
	assert_int_equal(ms, 2005);
	static const char *const bad[] = { "", ".", ".5", "5.", "1.2345", "-1", "+1", " 1",
	                                   "1 ", "1e3", "1.2.3", "0x10", "1.-5", "1.+5",
	                                   "99999999999999999999", NULL };
	for (size_t i = 0; bad[i] != NULL; i++)
		assert_int_equal(strparse_seconds_ms(bad[i], 0, INT64_MAX, &ms), -1);
	assert_int_equal(strparse_seconds_ms(NULL, 0, 10, &ms), -1);
	assert_int_equal(strparse_seconds_ms("0.0005", 1, 10, &ms), -1);
	assert_int_equal(strparse_seconds_ms("0", 1, 10000, &ms), -1);     /* below min */
	assert_int_equal(strparse_seconds_ms("10.001", 1, 10000, &ms), -1); /* above max */
}

/* Run the tests. */
int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_u64_valid),
		cmocka_unit_test(test_u64_invalid),
		cmocka_unit_test(test_u64_range),
		cmocka_unit_test(test_i64),
		cmocka_unit_test(test_seconds_ms),
		cmocka_unit_test(test_bool),
		cmocka_unit_test(test_copy),
		cmocka_unit_test(test_is_digits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
