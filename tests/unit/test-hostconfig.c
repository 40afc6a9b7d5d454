/*
 * test-hostconfig.c - unit tests for the client's configuration file
 * (client/lib/hostconfig.c): which block applies, first value wins,
 * negation, any-case keywords and patterns, '=' and quotes, defaults, and
 * every kind of error naming its line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hostconfig.h"

static const char conf[] =
	"# defaults before any Host apply everywhere\n"
	"ConnectTimeout 5\n"
	"\n"
	"Host web*  !web9\n"
	"  HostName 10.0.0.5\n"
	"  Port=7444\n"
	"  User deploy\n"
	"  IdentityFile ~/.ssh/id_web\n"
	"\n"
	"host DB1 db2\n"
	"  hostname \"db.example.org\"\n"
	"  CACert /etc/tether/ca.pem\n"
	"  Port 7443\n"
	"\n"
	"Host *\n"
	"  User ops\n"
	"  Port 9000\n"
	"  Throttle 64\n"
	"  Timeout 300\n"
	"  ConnectTimeout 7\n";

static void lookup_ok(const char *text, const char *host, struct hostconfig *c)
{
	char why[300] = "";
	assert_int_equal(hostconfig_lookup(text, strlen(text), host, "/home/u", c, why,
	                                   sizeof why), 0);
	assert_string_equal(why, "");
}

static void test_specific_block_then_defaults(void **state)
{
	struct hostconfig c;
	lookup_ok(conf, "web01", &c);
	assert_string_equal(c.hostname, "10.0.0.5");
	assert_int_equal(c.port, 7444);                /* the block's, not Host *'s */
	assert_string_equal(c.user, "deploy");
	assert_string_equal(c.identity, "/home/u/.ssh/id_web");
	assert_string_equal(c.cacert, "");
	assert_int_equal(c.throttle, 64);              /* from Host * */
	assert_int_equal(c.timeout, 300);
	assert_int_equal(c.connect_timeout, 5);        /* the first value wins */
}

static void test_negation_and_case(void **state)
{
	struct hostconfig c;
	lookup_ok(conf, "web9", &c);                   /* excluded from web* */
	assert_string_equal(c.hostname, "");
	assert_int_equal(c.port, 9000);
	assert_string_equal(c.user, "ops");
	lookup_ok(conf, "db2", &c);                    /* "DB1 db2" in any case */
	assert_string_equal(c.hostname, "db.example.org");
	assert_string_equal(c.cacert, "/etc/tether/ca.pem");
	assert_int_equal(c.port, 7443);
	lookup_ok(conf, "DB1", &c);
	assert_string_equal(c.hostname, "db.example.org");
}

static void test_defaults_alone(void **state)
{
	struct hostconfig c;
	lookup_ok(conf, "", &c);
	assert_string_equal(c.hostname, "");
	assert_int_equal(c.throttle, 64);
	assert_int_equal(c.connect_timeout, 5);
	lookup_ok("", "web01", &c);                    /* an empty file says nothing */
	assert_int_equal(c.port, 0);
	assert_int_equal(c.throttle, 0);
}

static void expect_error(const char *text, const char *words)
{
	struct hostconfig c;
	char why[300] = "";
	assert_int_equal(hostconfig_lookup(text, strlen(text), "web01", "/h", &c, why,
	                                   sizeof why), -1);
	if (strstr(why, words) == NULL)
		fail_msg("error '%s' lacks '%s'", why, words);
	assert_int_equal(c.port, 0);                   /* nothing half-applied */
	assert_string_equal(c.hostname, "");
}

static void test_errors_name_the_line(void **state)
{
	expect_error("Port 7443\nBogus 1\n", "line 2: unknown keyword 'Bogus'");
	expect_error("Host other\n  Port 70000\n", "line 2: Port '70000'");   /* in any block */
	expect_error("Port 7443\nHostName\n", "line 2: expected");
	expect_error("User bad name!\n", "line 1: User");
	expect_error("HostName a/b\n", "line 1: HostName");
	expect_error("Throttle 0\n", "line 1: Throttle");
	expect_error("Timeout -3\n", "line 1: Timeout");
	expect_error("HostName \"unterminated\n", "line 1: expected");
	char big[2100];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	expect_error(big, "line 1: line too long");
	const char nul[] = "Port 1\0\n";
	struct hostconfig c;
	char why[200];
	assert_int_equal(hostconfig_lookup(nul, sizeof nul - 1, "h", "/h", &c, why, sizeof why),
	                 -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_specific_block_then_defaults),
		cmocka_unit_test(test_negation_and_case),
		cmocka_unit_test(test_defaults_alone),
		cmocka_unit_test(test_errors_name_the_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
