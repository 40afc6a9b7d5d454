/* Unit tests for server/router.c: path matching, captures, methods. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "router.h"

static tether_err h(struct req *r) { (void)r; return TETHER_E_OK; }

static const struct route table[] = {
	ROUTE(M_GET,    "/v1/health",             false, 0, h),
	ROUTE(M_GET,    "/v1/sessions",           true,  0, h),
	ROUTE(M_POST,   "/v1/sessions",           true,  64, h),
	ROUTE(M_GET,    "/v1/sessions/{ref}",     true,  0, h),
	ROUTE(M_DELETE, "/v1/sessions/{ref}",     true,  0, h),
	ROUTE(M_GET,    "/v1/sessions/{s}/jobs/{j}", true, 0, h),
};
#define N (sizeof table / sizeof table[0])

static enum route_result match(int m, const char *path, const struct route **r,
                               struct route_params *p, int *allowed)
{
	return router_match(table, N, m, path, r, p, allowed);
}

static void test_literal_and_method(void **state)
{
	const struct route *r;
	struct route_params p;
	int allowed;
	assert_int_equal(match(M_GET, "/v1/health", &r, &p, &allowed), ROUTE_FOUND);
	assert_ptr_equal(r, &table[0]);
	assert_int_equal(p.n, 0);
	assert_int_equal(match(M_POST, "/v1/sessions", &r, &p, &allowed), ROUTE_FOUND);
	assert_ptr_equal(r, &table[2]);
	assert_int_equal(match(M_PUT, "/v1/sessions", &r, &p, &allowed), ROUTE_BAD_METHOD);
	assert_null(r);
	assert_int_equal(allowed, M_GET | M_POST);
	char allow[64];
	router_allow_header(allowed, allow, sizeof allow);
	assert_string_equal(allow, "GET, POST");
	assert_int_equal(match(0, "/v1/health", &r, &p, &allowed), ROUTE_BAD_METHOD);
}

static void test_captures(void **state)
{
	const struct route *r;
	struct route_params p;
	int allowed;
	assert_int_equal(match(M_GET, "/v1/sessions/web-1.a_b", &r, &p, &allowed), ROUTE_FOUND);
	assert_int_equal(p.n, 1);
	assert_string_equal(p.v[0], "web-1.a_b");
	assert_int_equal(match(M_GET, "/v1/sessions/7/jobs/build", &r, &p, &allowed), ROUTE_FOUND);
	assert_int_equal(p.n, 2);
	assert_string_equal(p.v[0], "7");
	assert_string_equal(p.v[1], "build");
	assert_int_equal(match(M_DELETE, "/v1/sessions/x", &r, &p, &allowed), ROUTE_FOUND);
	assert_ptr_equal(r, &table[4]);
}

static void test_hostile_paths(void **state)
{
	const struct route *r;
	struct route_params p;
	int allowed;
	static const char *bad[] = {
		"/v1/sessions/", "/v1/sessions//", "/v1/sessions/..", "/v1/sessions/.hidden",
		"/v1/sessions/a/b", "/v1/sessions/a%2fb", "/v1/sessions/a b", "/v1//sessions",
		"/v1/health/", "v1/health", "", "/", "/v1/sessions/\xc3\xa9",
		"/v1/sessions/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		"/v1/HEALTH",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(match(M_GET, bad[i], &r, &p, &allowed), ROUTE_NO_PATH);
		assert_null(r);
	}
	/* exactly BOUND_NAME characters is still a name */
	char ok[100] = "/v1/sessions/";
	memset(ok + strlen(ok), 'a', BOUND_NAME);
	assert_int_equal(match(M_GET, ok, &r, &p, &allowed), ROUTE_FOUND);
	assert_int_equal(strlen(p.v[0]), BOUND_NAME);
}

static void test_methods(void **state)
{
	assert_int_equal(router_method("GET"), M_GET);
	assert_int_equal(router_method("DELETE"), M_DELETE);
	assert_int_equal(router_method("HEAD"), M_HEAD);
	assert_int_equal(router_method("PATCH"), M_PATCH);
	assert_int_equal(router_method("get"), 0);
	assert_int_equal(router_method("BREW"), 0);
	char allow[8];
	router_allow_header(M_GET | M_POST | M_DELETE, allow, sizeof allow);
	assert_true(strlen(allow) < sizeof allow);   /* truncates, never overflows */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_literal_and_method),
		cmocka_unit_test(test_captures),
		cmocka_unit_test(test_hostile_paths),
		cmocka_unit_test(test_methods),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
