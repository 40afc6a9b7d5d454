/* Unit tests for server/sysacct.c: login.defs ranges and /etc/shells. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "sysacct.h"

static void test_uid_range(void **state)
{
	uid_t min, max;
	sysacct_uid_range(NULL, &min, &max);
	assert_int_equal(min, SYSACCT_UID_MIN_DEFAULT);
	assert_int_equal(max, SYSACCT_UID_MAX_DEFAULT);
	sysacct_uid_range("# UID_MIN 5\nUID_MIN\t\t 500 \nUID_MAX 29999\r\n", &min, &max);
	assert_int_equal(min, 500);
	assert_int_equal(max, 29999);
	/* a prefix of another key, junk values and a missing value keep defaults */
	sysacct_uid_range("UID_MINIMUM 5\nUID_MAX x12\nUID_MIN\n", &min, &max);
	assert_int_equal(min, SYSACCT_UID_MIN_DEFAULT);
	assert_int_equal(max, SYSACCT_UID_MAX_DEFAULT);
	sysacct_uid_range("  UID_MIN 2000\nUID_MAX -1\n", &min, &max);
	assert_int_equal(min, 2000);
	assert_int_equal(max, SYSACCT_UID_MAX_DEFAULT);
}

static void test_umask(void **state)
{
	(void)state;
	assert_int_equal(sysacct_umask(NULL), 022);
	assert_int_equal(sysacct_umask("UMASK\t\t027\n"), 027);
	assert_int_equal(sysacct_umask("# UMASK 077\nUMASK 077\nUMASK 002\n"), 002);   /* last */
	assert_int_equal(sysacct_umask("UMASK 0077\n"), 077);
	assert_int_equal(sysacct_umask("UMASK 099\n"), 022);    /* not octal */
	assert_int_equal(sysacct_umask("UMASK 07777\n"), 022);  /* too long */
	assert_int_equal(sysacct_umask("UMASK\n"), 022);
	assert_int_equal(sysacct_umask("UMASKS 077\n"), 022);
}

static void test_shell_listed(void **state)
{
	static const char shells[] = "# /etc/shells\n/bin/sh\n/bin/bash \n/usr/bin/zsh";
	assert_true(sysacct_shell_listed(shells, "/bin/sh"));
	assert_true(sysacct_shell_listed(shells, "/bin/bash"));
	assert_true(sysacct_shell_listed(shells, "/usr/bin/zsh"));
	assert_false(sysacct_shell_listed(shells, "/usr/sbin/nologin"));
	assert_false(sysacct_shell_listed(shells, "/bin/ba"));
	assert_false(sysacct_shell_listed(shells, "# /etc/shells"));
	assert_false(sysacct_shell_listed(shells, ""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uid_range),
		cmocka_unit_test(test_shell_listed),
		cmocka_unit_test(test_umask),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
