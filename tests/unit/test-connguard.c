/* Unit tests for server/connguard.c: caps and which connection gives way.
 * Descriptors are -1 (shutdown of it fails harmlessly); what is checked is
 * the bookkeeping: who is counted, who was dropped. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "connguard.h"

static struct sockaddr_in from(const char *ip)
{
	struct sockaddr_in a;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	inet_pton(AF_INET, ip, &a.sin_addr);
	return a;
}

static void test_caps_and_early_drop(void **state)
{
	unsigned open, unauth;
	struct connguard_slot *s[8];
	struct sockaddr_in a = from("192.0.2.1"), b = from("192.0.2.2");
	connguard_init(3, 2, 1000);
	/* two from a: the per-address cap */
	s[0] = connguard_open(-1, (struct sockaddr *)&a, 0);
	s[1] = connguard_open(-1, (struct sockaddr *)&a, 1);
	assert_non_null(s[0]);
	assert_non_null(s[1]);
	connguard_authed(s[0]);
	/* a third from a drops a's oldest unauthenticated one (s[1]), not s[0] */
	s[2] = connguard_open(-1, (struct sockaddr *)&a, 2);
	assert_non_null(s[2]);
	connguard_counts(&open, &unauth);
	assert_int_equal(open, 2);
	assert_int_equal(unauth, 1);
	/* a's two are authenticated: the next from a is refused */
	connguard_authed(s[2]);
	assert_null(connguard_open(-1, (struct sockaddr *)&a, 3));
	/* three unauthenticated from b fill the cap; a fourth drops the oldest */
	s[3] = connguard_open(-1, (struct sockaddr *)&b, 4);
	connguard_init(3, 8, 1000);
	s[4] = connguard_open(-1, (struct sockaddr *)&b, 5);
	s[5] = connguard_open(-1, (struct sockaddr *)&b, 6);
	s[6] = connguard_open(-1, (struct sockaddr *)&b, 7);
	assert_non_null(s[6]);
	connguard_counts(&open, &unauth);
	assert_int_equal(unauth, 3);
	assert_int_equal(open, 5);
	/* the grace time: unauthenticated ones older than 1 s go */
	assert_int_equal(connguard_sweep(1007), 2);   /* s[4], s[5] (since 5, 6); not s[6] */
	connguard_counts(&open, &unauth);
	assert_int_equal(unauth, 1);
	for (int i = 0; i < 7; i++)
		connguard_close(s[i]);
	connguard_counts(&open, &unauth);
	assert_int_equal(open, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_caps_and_early_drop),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
