/* Unit tests for server/srvconf.c: keys, ranges, listen addresses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "proto.h"
#include "srvconf.h"

static int cb(void *ctx, const char *k, const char *v, char *err, size_t errsz)
{
	return srvconf_set(ctx, k, v, err, errsz);
}

static void test_defaults_and_keys(void **state)
{
	struct srvconf c;
	char err[256];
	srvconf_defaults(&c);
	assert_int_equal(c.nlisten, 0);
	assert_int_equal(c.idle_timeout, TETHER_IDLE_TIMEOUT_DEFAULT);
	static const char text[] =
		"# comment\n"
		"token_ttl = 60\n"
		"lockout_threshold=2\n"
		"listen = 127.0.0.1:9000\n"
		"listen = [::1]:9001\n"
		"log_level = warn\n"
		"state_dir = \"/tmp/x y\"\n";
	assert_int_equal(config_parse(text, sizeof text - 1, cb, &c, err, sizeof err), 0);
	assert_int_equal(c.token_ttl, 60);
	assert_int_equal(c.lockout_threshold, 2);
	assert_int_equal(c.nlisten, 2);
	assert_string_equal(c.listen[1], "[::1]:9001");
	assert_int_equal(c.log_level, LOG_WARN);
	assert_string_equal(c.state_dir, "/tmp/x y");
}

static void test_rejections(void **state)
{
	struct srvconf c;
	char err[256];
	srvconf_defaults(&c);
	static const char *const bad[][2] = {
		{ "token_ttl", "0" }, { "token_ttl", "abc" }, { "token_ttl", "-1" },
		{ "token_ttl", "99999999999" }, { "state_dir", "relative/path" },
		{ "log_level", "loud" }, { "listen", "::1:80" }, { "listen", "1.2.3.4:99999" },
		{ "listen", "[::1" }, { "no_such_key", "1" }, { "listen", ":80" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = '\0';
		assert_int_equal(srvconf_set(&c, bad[i][0], bad[i][1], err, sizeof err), -1);
		assert_true(strlen(err) > 0);
	}
	assert_int_equal(c.token_ttl, 30 * 86400);   /* unchanged by failures */
	assert_int_equal(c.nlisten, 0);
	char text[] = "token_ttl = 5\nbogus = 1\n";
	assert_int_equal(config_parse(text, strlen(text), cb, &c, err, sizeof err), -1);
	assert_non_null(strstr(err, "line 2"));
}

static void test_parse_listen(void **state)
{
	char addr[64], err[128];
	uint16_t port;
	assert_int_equal(srvconf_parse_listen("0.0.0.0:1", addr, sizeof addr, &port, err, sizeof err), 0);
	assert_string_equal(addr, "0.0.0.0");
	assert_int_equal(port, 1);
	assert_int_equal(srvconf_parse_listen("127.0.0.1", addr, sizeof addr, &port, err, sizeof err), 0);
	assert_int_equal(port, TETHER_DEFAULT_PORT);
	assert_int_equal(srvconf_parse_listen("[::1]:0", addr, sizeof addr, &port, err, sizeof err), 0);
	assert_string_equal(addr, "::1");
	assert_int_equal(port, 0);
	assert_int_equal(srvconf_parse_listen("[::1]x", addr, sizeof addr, &port, err, sizeof err), -1);
	assert_int_equal(srvconf_parse_listen("h:", addr, sizeof addr, &port, err, sizeof err), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_and_keys),
		cmocka_unit_test(test_rejections),
		cmocka_unit_test(test_parse_listen),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
