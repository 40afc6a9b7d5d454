/*
 * test-error.c - unit tests for the error vocabulary tables.
 *
 * The tables are generated, so the tests check the properties that matter
 * to peers: codes are unique and round-trip, statuses are sane, client-only
 * errors never look like wire errors, and garbage values stay safe.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "error.h"

/* A few spot checks against the map. */
static void test_known_values(void **state)
{
	assert_string_equal(tether_err_code(TETHER_E_OK), "ok");
	assert_int_equal(tether_err_http_status(TETHER_E_OK), 200);
	assert_string_equal(tether_err_code(TETHER_E_NOT_FOUND), "not_found");
	assert_int_equal(tether_err_http_status(TETHER_E_NOT_FOUND), 404);
	assert_string_equal(tether_strerror(TETHER_E_NOT_FOUND), "no such object");
	assert_string_equal(tether_err_code(TETHER_E_UNSUPPORTED_MEDIA),
	                    "unsupported_media_type");
	assert_int_equal(tether_err_http_status(TETHER_E_UNSUPPORTED_MEDIA), 415);
	assert_int_equal(tether_err_http_status(TETHER_E_LOCKED_OUT), 429);
	assert_int_equal(tether_err_http_status(TETHER_E_UNAVAILABLE), 503);
	assert_string_equal(tether_err_code(TETHER_E_NOMEM), "out_of_memory");
	assert_string_equal(tether_strerror(TETHER_E_HOSTKEY_CHANGED), "server key changed");
}

/* Client-only errors map to 500, never to 0. */
static void test_client_only_status(void **state)
{
	assert_int_equal(tether_err_http_status(TETHER_E_USAGE), 500);
	assert_int_equal(tether_err_http_status(TETHER_E_CONNECT), 500);
	assert_int_equal(tether_err_http_status(TETHER_E_NOMEM), 500);
	for (int e = 0; e < TETHER_E__COUNT; e++) {
		int s = tether_err_http_status((tether_err)e);

		assert_in_range(s, 200, 599);
	}
}

/* Every wire code is unique and maps back to its error. */
static void test_round_trip(void **state)
{
	for (int e = 0; e < TETHER_E__COUNT; e++) {
		const char *c = tether_err_code((tether_err)e);

		assert_non_null(c);
		assert_non_null(tether_strerror((tether_err)e));
		assert_true(strlen(tether_strerror((tether_err)e)) > 0);
		for (int f = e + 1; f < TETHER_E__COUNT; f++)
			assert_string_not_equal(c, tether_err_code((tether_err)f));
		if (e < TETHER_E_USAGE)
			assert_int_equal(tether_err_from_code(c), e);
	}
}

/* Unknown, empty, client-only or missing codes read as a protocol error. */
static void test_from_code_unknown(void **state)
{
	assert_int_equal(tether_err_from_code("no_such_code"), TETHER_E_PROTOCOL);
	assert_int_equal(tether_err_from_code(""), TETHER_E_PROTOCOL);
	assert_int_equal(tether_err_from_code(NULL), TETHER_E_PROTOCOL);
	assert_int_equal(tether_err_from_code("NOT_FOUND"), TETHER_E_PROTOCOL);
	assert_int_equal(tether_err_from_code("not_found "), TETHER_E_PROTOCOL);
	assert_int_equal(tether_err_from_code("hostkey_changed"), TETHER_E_PROTOCOL);
	assert_int_equal(tether_err_from_code("usage"), TETHER_E_PROTOCOL);
}

/* Out-of-range enum values degrade to internal/500. */
static void test_out_of_range(void **state)
{
	tether_err bad[] = { TETHER_E__COUNT, (tether_err)(TETHER_E__COUNT + 100),
	                     (tether_err)-1 };

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_string_equal(tether_err_code(bad[i]), "internal");
		assert_string_equal(tether_strerror(bad[i]), "internal error");
		assert_int_equal(tether_err_http_status(bad[i]), 500);
	}
}

/* Run the tests. */
int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_values),
		cmocka_unit_test(test_client_only_status),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_from_code_unknown),
		cmocka_unit_test(test_out_of_range),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
