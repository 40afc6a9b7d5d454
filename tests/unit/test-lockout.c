/* Unit tests for server/lockout.c: thresholds, windows, eviction. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "lockout.h"

static void test_threshold_and_expiry(void **state)
{
	struct lockout *l = lockout_new(16, 3, 60, 30);
	assert_non_null(l);
	assert_int_equal(lockout_fail(l, "user:a", 100), 0);
	assert_int_equal(lockout_fail(l, "user:a", 101), 0);
	assert_int_equal(lockout_remaining(l, "user:a", 101), 0);
	assert_int_equal(lockout_fail(l, "user:a", 102), 30);
	assert_int_equal(lockout_remaining(l, "user:a", 102), 30);
	assert_int_equal(lockout_remaining(l, "user:a", 131), 1);
	assert_int_equal(lockout_remaining(l, "user:a", 132), 0);
	assert_int_equal(lockout_remaining(l, "user:b", 102), 0);   /* keys are separate */
	lockout_free(l);
}

static void test_window_resets(void **state)
{
	struct lockout *l = lockout_new(16, 3, 60, 30);
	lockout_fail(l, "k", 0);
	lockout_fail(l, "k", 10);
	assert_int_equal(lockout_fail(l, "k", 70), 0);   /* window restarted at 70 */
	assert_int_equal(lockout_fail(l, "k", 71), 0);
	assert_int_equal(lockout_fail(l, "k", 72), 30);
	lockout_free(l);
}

static void test_clear(void **state)
{
	struct lockout *l = lockout_new(4, 2, 60, 30);
	lockout_fail(l, "a", 0);
	lockout_fail(l, "b", 0);
	lockout_clear(l, "a");
	assert_int_equal(lockout_fail(l, "a", 1), 0);     /* count restarted */
	assert_int_equal(lockout_fail(l, "b", 1), 30);    /* b unaffected */
	lockout_clear(l, "nonexistent");
	lockout_free(l);
}

static void test_flood_cannot_evict_a_lock(void **state)
{
	struct lockout *l = lockout_new(8, 2, 60, 300);
	lockout_fail(l, "victim", 0);
	assert_int_equal(lockout_fail(l, "victim", 0), 300);
	char key[32];
	for (int i = 0; i < 1000; i++) {
		snprintf(key, sizeof key, "junk%d", i);
		lockout_fail(l, key, 1 + i % 50);
	}
	assert_true(lockout_remaining(l, "victim", 60) > 0);
	lockout_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_threshold_and_expiry),
		cmocka_unit_test(test_window_resets),
		cmocka_unit_test(test_clear),
		cmocka_unit_test(test_flood_cannot_evict_a_lock),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
