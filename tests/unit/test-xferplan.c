/*
 * test-xferplan.c - the transfer rules client and daemon share: what is a
 * URL, a wildcard, an acceptable URL and file name.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "xferplan.h"

static void test_is_url(void **state)
{
	(void)state;
	assert_true(xferplan_is_url("https://h/a"));
	assert_true(xferplan_is_url("HTTP://h"));
	assert_true(xferplan_is_url("svn+ssh://h"));
	assert_false(xferplan_is_url("/srv/https://x"));
	assert_false(xferplan_is_url("c:\\dir"));
	assert_false(xferplan_is_url("://h"));
	assert_false(xferplan_is_url("1http://h"));
	assert_false(xferplan_is_url("a b://h"));
	assert_false(xferplan_is_url("https:/h"));
}

static void test_wildcards(void **state)
{
	(void)state;
	assert_true(xferplan_has_wildcard("/srv/*.txt"));
	assert_true(xferplan_has_wildcard("/srv/a?.txt"));
	assert_true(xferplan_has_wildcard("/srv/a[12].txt"));
	assert_false(xferplan_has_wildcard("/srv/a.txt"));
	assert_true(xferplan_has_wildcard("https://h/dir/*.iso"));
	assert_true(xferplan_has_wildcard("https://h/dir/a[1].iso"));
	assert_false(xferplan_has_wildcard("https://h/a.iso?sig=x*y&z=[1]"));
	assert_false(xferplan_has_wildcard("https://[::1]:8443/a.iso"));
	assert_false(xferplan_has_wildcard("https://h"));
	assert_false(xferplan_has_wildcard("https://h/a#frag*"));
}

static void test_check_url(void **state)
{
	char err[256];
	(void)state;
	assert_int_equal(xferplan_check_url("https://h/a.iso?sig=x*y", false, err, sizeof err), 0);
	assert_int_equal(xferplan_check_url("https://[::1]:8443/a.iso", false, err, sizeof err), 0);
	assert_int_equal(xferplan_check_url("sftp://h/a", false, err, sizeof err), 0);
	assert_int_equal(xferplan_check_url("https://h/*.iso", false, err, sizeof err), -1);
	assert_non_null(strstr(err, "wildcards are only allowed in local paths"));
	assert_int_equal(xferplan_check_url("gopher://h/a", false, err, sizeof err), -1);
	assert_non_null(strstr(err, "unsupported scheme 'gopher'"));
	/* tether:// only as an upload's destination */
	assert_int_equal(xferplan_check_url("tether://h/a", false, err, sizeof err), -1);
	assert_int_equal(xferplan_check_url("tether://h/a", true, err, sizeof err), 0);
	assert_int_equal(xferplan_check_url("https://h:99999/a", false, err, sizeof err), -1);
	assert_non_null(strstr(err, "malformed URL"));
}

static void test_names(void **state)
{
	char name[64];
	(void)state;
	xferplan_url_name("https://h/dir/a%20b.iso?x=1", name, sizeof name);
	assert_string_equal(name, "a b.iso");
	xferplan_url_name("https://h/", name, sizeof name);
	assert_string_equal(name, "");
	xferplan_url_name("not a url", name, sizeof name);
	assert_string_equal(name, "");
	assert_true(xferplan_good_name("a.iso"));
	assert_false(xferplan_good_name(""));
	assert_false(xferplan_good_name("."));
	assert_false(xferplan_good_name(".."));
	assert_false(xferplan_good_name("a/b"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_is_url),
		cmocka_unit_test(test_wildcards),
		cmocka_unit_test(test_check_url),
		cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
