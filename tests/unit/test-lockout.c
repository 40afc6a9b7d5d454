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

/* Attempts in flight count: no more than the threshold are ever admitted,
 * a success releases its place, failures lock both keys. */
static void test_enter_leave(void **state)
{
	struct lockout *l = lockout_new(16, 3, 60, 100);
	const char *const k[] = { "user:a", "addr:x" };
	const char *const other[] = { "user:b", "addr:x" };
	assert_int_equal(lockout_enter(l, k, 2, 1000), 0);
	assert_int_equal(lockout_enter(l, k, 2, 1000), 0);
	assert_int_equal(lockout_enter(l, k, 2, 1000), 0);
	/* three in flight reach the threshold: the fourth waits */
	assert_int_equal(lockout_enter(l, k, 2, 1000), 1);
	/* the address is shared: another name from it waits too, and is not
	 * counted on its own key */
	assert_int_equal(lockout_enter(l, other, 2, 1000), 1);
	assert_int_equal(lockout_remaining(l, "user:b", 1000), 0);
	/* one succeeds: its place is free again */
	assert_int_equal(lockout_leave(l, k, 2, 1001, false), 0);
	assert_int_equal(lockout_enter(l, k, 2, 1001), 0);
	/* three failures lock both keys */
	assert_int_equal(lockout_leave(l, k, 2, 1002, true), 0);
	assert_int_equal(lockout_leave(l, k, 2, 1002, true), 0);
	assert_int_equal(lockout_leave(l, k, 2, 1002, true), 100);
	assert_int_equal(lockout_enter(l, k, 2, 1003), 99);
	assert_int_equal(lockout_remaining(l, "addr:x", 1003), 99);
	/* after the lock, a fresh start */
	assert_int_equal(lockout_enter(l, k, 2, 1102), 0);
	assert_int_equal(lockout_leave(l, k, 2, 1102, false), 0);
	lockout_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_threshold_and_expiry),
		cmocka_unit_test(test_window_resets),
		cmocka_unit_test(test_clear),
		cmocka_unit_test(test_flood_cannot_evict_a_lock),
		cmocka_unit_test(test_enter_leave),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
