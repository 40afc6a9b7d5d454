/*
 * test-addr.c - unit tests for HOST and SESSION address parsing.
 *
 * Users type these, so besides the grammar the tests pin the error messages
 * that explain a mistake, the boundaries (name and host lengths, port range,
 * the largest id) and the rule that a failed parse leaves outputs alone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "addr.h"
#include "proto.h"

/* Names: a letter, then letters, digits, '.', '_', '-'; 1..64 bytes. */
static void test_valid_name(void **state)
{
	char n[BOUND_NAME + 2];

	assert_true(addr_valid_name("a"));
	assert_true(addr_valid_name("Z"));
	assert_true(addr_valid_name("web-1.prod_x"));
	assert_false(addr_valid_name(""));
	assert_false(addr_valid_name(NULL));
	assert_false(addr_valid_name("1abc"));
	assert_false(addr_valid_name(".a"));
	assert_false(addr_valid_name("-a"));
	assert_false(addr_valid_name("_a"));
	assert_false(addr_valid_name("a b"));
	assert_false(addr_valid_name("a/b"));
	assert_false(addr_valid_name("a@b"));
	assert_false(addr_valid_name("a:b"));
	assert_false(addr_valid_name("a\n"));
	assert_false(addr_valid_name("caf\xc3\xa9"));
	assert_false(addr_valid_name("\xc3\xa9"));
	memset(n, 'x', BOUND_NAME);
	n[BOUND_NAME] = '\0';
	assert_true(addr_valid_name(n));
	n[BOUND_NAME] = 'x';
	n[BOUND_NAME + 1] = '\0';
	assert_false(addr_valid_name(n));
}

/* Host forms with and without user and port. */
static void test_host_forms(void **state)
{
	struct hostspec h;
	char err[256];

	assert_int_equal(addr_parse_host("example.com", &h, err, sizeof err), 0);
	assert_string_equal(h.user, "");
	assert_string_equal(h.host, "example.com");
	assert_int_equal(h.port, TETHER_DEFAULT_PORT);
	assert_false(h.port_given);
	assert_false(h.ipv6);

	assert_int_equal(addr_parse_host("alice@build-01:22", &h, err, sizeof err), 0);
	assert_string_equal(h.user, "alice");
	assert_string_equal(h.host, "build-01");
	assert_int_equal(h.port, 22);
	assert_true(h.port_given);

	assert_int_equal(addr_parse_host("10.0.0.1:65535", &h, err, sizeof err), 0);
	assert_string_equal(h.host, "10.0.0.1");
	assert_int_equal(h.port, 65535);

	assert_int_equal(addr_parse_host("h:1", &h, err, sizeof err), 0);
	assert_int_equal(h.port, 1);
}

/* IPv6 literals need brackets; the brackets are not kept. */
static void test_host_ipv6(void **state)
{
	struct hostspec h;
	char err[256];

	assert_int_equal(addr_parse_host("[::1]", &h, err, sizeof err), 0);
	assert_string_equal(h.host, "::1");
	assert_true(h.ipv6);
	assert_false(h.port_given);
	assert_int_equal(h.port, TETHER_DEFAULT_PORT);

	assert_int_equal(addr_parse_host("bob@[fe80::1:AbCd]:8443", &h, err, sizeof err), 0);
	assert_string_equal(h.user, "bob");
	assert_string_equal(h.host, "fe80::1:AbCd");
	assert_int_equal(h.port, 8443);
	assert_true(h.ipv6);

	assert_int_equal(addr_parse_host("[::ffff:192.0.2.1]:7", &h, err, sizeof err), 0);
	assert_string_equal(h.host, "::ffff:192.0.2.1");

	assert_int_equal(addr_parse_host("::1", &h, err, sizeof err), -1);
	assert_non_null(strstr(err, "brackets"));
	assert_int_equal(addr_parse_host("fe80::1:7443", &h, err, sizeof err), -1);
	assert_non_null(strstr(err, "brackets"));
	assert_int_equal(addr_parse_host("[::1", &h, err, sizeof err), -1);
	assert_string_equal(err, "missing ']' in '[::1'");
	assert_int_equal(addr_parse_host("[]", &h, err, sizeof err), -1);
	assert_int_equal(addr_parse_host("[]:1", &h, err, sizeof err), -1);
	assert_int_equal(addr_parse_host("[host]", &h, err, sizeof err), -1);
	assert_string_equal(err, "invalid IPv6 address 'host' in '[host]'");
	assert_int_equal(addr_parse_host("[::g]", &h, err, sizeof err), -1);
	assert_int_equal(addr_parse_host("[fe80::1%eth0]", &h, err, sizeof err), -1);
	assert_int_equal(addr_parse_host("[::1]x", &h, err, sizeof err), -1);
	assert_int_equal(addr_parse_host("[::1]:", &h, err, sizeof err), -1);
	assert_string_equal(err, "missing port after ':' in '[::1]:'");
	assert_int_equal(addr_parse_host("[[::1]]", &h, err, sizeof err), -1);
	assert_int_equal(addr_parse_host("[1:2:3:4:5:6:7:8:9:a:b:c:d:e:f:1:2:3:4:5:6:7:8:9]",
	                                 &h, err, sizeof err), -1);
}

/* Ports: 1..65535 decimal, nothing else. */
static void test_host_ports(void **state)
{
	static const char *const bad[] = {
		"h:0", "h:65536", "h:99999", "h:-1", "h:+1", "h: 1", "h:1 ", "h:1x", "h:0x10",
		"h:18446744073709551617",
	};
	struct hostspec h;
	char err[256], want[128];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(addr_parse_host(bad[i], &h, err, sizeof err), -1);
		snprintf(want, sizeof want, "invalid port '%s' in '%s'", bad[i] + 2, bad[i]);
		assert_string_equal(err, want);
	}
	assert_int_equal(addr_parse_host("h:", &h, err, sizeof err), -1);
	assert_string_equal(err, "missing port after ':' in 'h:'");
}

/* Bad users and host names are named in the message. */
static void test_host_invalid(void **state)
{
	struct hostspec h;
	char err[256], big[600];

	assert_int_equal(addr_parse_host("", &h, err, sizeof err), -1);
	assert_string_equal(err, "empty host");
	assert_int_equal(addr_parse_host(NULL, &h, err, sizeof err), -1);
	assert_int_equal(addr_parse_host("@host", &h, err, sizeof err), -1);
	assert_string_equal(err, "invalid user name '' in '@host'");
	assert_int_equal(addr_parse_host("1user@host", &h, err, sizeof err), -1);
	assert_string_equal(err, "invalid user name '1user' in '1user@host'");
	assert_int_equal(addr_parse_host("u@", &h, err, sizeof err), -1);
	assert_string_equal(err, "missing host name in 'u@'");
	assert_int_equal(addr_parse_host(":22", &h, err, sizeof err), -1);
	assert_string_equal(err, "missing host name in ':22'");
	assert_int_equal(addr_parse_host("a@b@c", &h, err, sizeof err), -1);
	assert_string_equal(err, "invalid host name 'b@c' in 'a@b@c'");
	assert_int_equal(addr_parse_host("-host", &h, err, sizeof err), -1);
	assert_string_equal(err, "invalid host name '-host' in '-host'");
	assert_int_equal(addr_parse_host("host/x", &h, err, sizeof err), -1);
	assert_int_equal(addr_parse_host("a b", &h, err, sizeof err), -1);
	assert_int_equal(addr_parse_host("a\nb", &h, err, sizeof err), -1);
	assert_int_equal(addr_parse_host("h_x", &h, err, sizeof err), -1);
	assert_int_equal(addr_parse_host("caf\xc3\xa9", &h, err, sizeof err), -1);

	memset(big, 'u', BOUND_NAME + 1);
	memcpy(big + BOUND_NAME + 1, "@h", 3);
	assert_int_equal(addr_parse_host(big, &h, err, sizeof err), -1);
	assert_memory_equal(err, "invalid user name", 17);
	memcpy(big + BOUND_NAME, "@h", 3);
	assert_int_equal(addr_parse_host(big, &h, err, sizeof err), 0);
	assert_int_equal(strlen(h.user), BOUND_NAME);
}

/* Host names up to 253 bytes, specs up to BOUND_HOSTSPEC bytes. */
static void test_host_lengths(void **state)
{
	struct hostspec h;
	char err[256], big[BOUND_HOSTSPEC + 8];

	memset(big, 'a', 253);
	big[253] = '\0';
	assert_int_equal(addr_parse_host(big, &h, err, sizeof err), 0);
	assert_int_equal(strlen(h.host), 253);
	memcpy(big + 253, ":1", 3);
	assert_int_equal(addr_parse_host(big, &h, err, sizeof err), 0);
	big[253] = 'a';
	big[254] = '\0';
	assert_int_equal(addr_parse_host(big, &h, err, sizeof err), -1);
	assert_memory_equal(err, "invalid host name", 17);
	memset(big, 'a', BOUND_HOSTSPEC + 1);
	big[BOUND_HOSTSPEC + 1] = '\0';
	assert_int_equal(addr_parse_host(big, &h, err, sizeof err), -1);
	assert_string_equal(err, "host too long (max 512 bytes)");
}

/* A failed parse leaves the output untouched. */
static void test_host_untouched(void **state)
{
	struct hostspec h, copy;
	char err[256];

	memset(&h, 0x5a, sizeof h);
	copy = h;
	assert_int_equal(addr_parse_host("u@h:0", &h, err, sizeof err), -1);
	assert_memory_equal(&h, &copy, sizeof h);
	assert_int_equal(addr_parse_host("u@h:1", &h, NULL, 0), 0);
	assert_int_equal(addr_parse_host("u@h:0", &h, NULL, 0), -1);
}

/* Sessions: HOST/NAME and HOST/ID. */
static void test_session(void **state)
{
	struct hostspec h;
	char ref[BOUND_NAME + 1], err[256];

	assert_int_equal(addr_parse_session("h/work", &h, ref, err, sizeof err), 0);
	assert_string_equal(h.host, "h");
	assert_string_equal(ref, "work");
	assert_int_equal(addr_parse_session("u@[::1]:7443/12", &h, ref, err, sizeof err), 0);
	assert_string_equal(h.user, "u");
	assert_string_equal(h.host, "::1");
	assert_true(h.ipv6);
	assert_int_equal(h.port, 7443);
	assert_string_equal(ref, "12");
	assert_int_equal(addr_parse_session("h:9/9223372036854775807", &h, ref, err,
	                                    sizeof err), 0);
	assert_string_equal(ref, "9223372036854775807");
	assert_int_equal(h.port, 9);
}

/* Bad session references and hosts are refused with a reason. */
static void test_session_invalid(void **state)
{
	struct hostspec h;
	char ref[BOUND_NAME + 1] = "keep", err[256], big[128];

	assert_int_equal(addr_parse_session("h", &h, ref, err, sizeof err), -1);
	assert_string_equal(err, "missing '/' in 'h' (expected HOST/NAME or HOST/ID)");
	assert_int_equal(addr_parse_session("h/", &h, ref, err, sizeof err), -1);
	assert_string_equal(err, "missing session name or id after '/' in 'h/'");
	assert_int_equal(addr_parse_session("/x", &h, ref, err, sizeof err), -1);
	assert_string_equal(err, "empty host");
	assert_int_equal(addr_parse_session("h:0/x", &h, ref, err, sizeof err), -1);
	assert_string_equal(err, "invalid port '0' in 'h:0'");
	assert_int_equal(addr_parse_session("h/1abc", &h, ref, err, sizeof err), -1);
	assert_memory_equal(err, "invalid session name '1abc' in 'h/1abc'", 39);
	assert_int_equal(addr_parse_session("h/a/b", &h, ref, err, sizeof err), -1);
	assert_int_equal(addr_parse_session("h/a b", &h, ref, err, sizeof err), -1);
	assert_int_equal(addr_parse_session("h/9223372036854775808", &h, ref, err,
	                                    sizeof err), -1);
	assert_string_equal(err, "invalid session id '9223372036854775808' in "
	                         "'h/9223372036854775808'");
	assert_int_equal(addr_parse_session("h/00000000000000000001", &h, ref, err,
	                                    sizeof err), -1);
	assert_int_equal(addr_parse_session(NULL, &h, ref, err, sizeof err), -1);
	snprintf(big, sizeof big, "h/%0*d", BOUND_NAME, 0);
	memset(big + 2, 'n', BOUND_NAME);
	assert_int_equal(addr_parse_session(big, &h, ref, err, sizeof err), 0);
	assert_int_equal(strlen(ref), BOUND_NAME);
	memcpy(ref, "keep", 5);
	memcpy(big + 2 + BOUND_NAME, "n", 2);
	assert_int_equal(addr_parse_session(big, &h, ref, err, sizeof err), -1);
	assert_string_equal(ref, "keep");
}

/* Host keys drop the user, keep the port and bracket IPv6. */
static void test_host_key(void **state)
{
	struct hostspec h;
	char key[300], err[256];

	assert_int_equal(addr_parse_host("alice@Example.COM", &h, err, sizeof err), 0);
	addr_host_key(&h, key, sizeof key);
	assert_string_equal(key, "example.com:7443");
	assert_int_equal(addr_parse_host("[::1]:22", &h, err, sizeof err), 0);
	addr_host_key(&h, key, sizeof key);
	assert_string_equal(key, "[::1]:22");
	assert_int_equal(addr_parse_host("[FE80::A]", &h, err, sizeof err), 0);
	addr_host_key(&h, key, sizeof key);
	assert_string_equal(key, "[fe80::a]:7443");
	addr_host_key(&h, key, 6);
	assert_string_equal(key, "[fe80");
}

/* Run the tests. */
int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_name),
		cmocka_unit_test(test_host_forms),
		cmocka_unit_test(test_host_ipv6),
		cmocka_unit_test(test_host_ports),
		cmocka_unit_test(test_host_invalid),
		cmocka_unit_test(test_host_lengths),
		cmocka_unit_test(test_host_untouched),
		cmocka_unit_test(test_session),
		cmocka_unit_test(test_session_invalid),
		cmocka_unit_test(test_host_key),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
