/*
 * test-pwhash.c - unit tests for server/pwhash.c: yescrypt hashes made,
 * verified and told apart from the formats that are upgraded or refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pwhash.h"

static void test_make_and_verify(void **state)
{
	char a[PWHASH_MAX], b[PWHASH_MAX];
	assert_int_equal(pwhash_make("correct horse", a, sizeof a), 0);
	assert_int_equal(pwhash_make("correct horse", b, sizeof b), 0);
	assert_memory_equal(a, "$y$", 3);
	assert_string_not_equal(a, b);                 /* a fresh salt each time */
	assert_int_equal(pwhash_verify("correct horse", a), 1);
	assert_int_equal(pwhash_verify("correct horsf", a), 0);
	assert_int_equal(pwhash_verify("", a), 0);
	assert_false(pwhash_outdated(a));
	char small[20];
	assert_int_equal(pwhash_make("x", small, sizeof small), -1);
}

static void test_other_formats(void **state)
{
	char legacy[CRYPTO_PWHASH_MAX];
	assert_int_equal(crypto_pw_hash("pw-legacy", legacy, sizeof legacy), 0);
	assert_int_equal(pwhash_verify("pw-legacy", legacy), 1);   /* tetherd's old format */
	assert_int_equal(pwhash_verify("pw-wrong", legacy), 0);
	assert_true(pwhash_outdated(legacy));
	/* sha512crypt of "password" with salt "saltsalt" (crypt(3)'s own example format) */
	const char *six = "$6$saltsalt$qFmFH.bQmmtXzyBY0s9v7Oicd2z4XSIecDzlB5KiA2/jctKu9YterL"
	                  "p8wwnSq.qc.eoxqOmSuNp2xS0ktL3nh/";
	assert_int_equal(pwhash_verify("password", six), 1);
	assert_int_equal(pwhash_verify("Password", six), 0);
	assert_true(pwhash_outdated(six));
	/* weak or unknown formats never verify, whatever the password */
	assert_int_equal(pwhash_verify("password", "$1$saltsalt$qjXMvbEw8oaL.CzflDtaK/"), -1);
	assert_int_equal(pwhash_verify("password", "sa3tHJ3/KuYvI"), -1);
	assert_int_equal(pwhash_verify("password", "!"), -1);
	assert_int_equal(pwhash_verify("password", ""), -1);
	assert_int_equal(pwhash_verify("password", "$y$garbage"), -1);
	assert_int_equal(pwhash_verify(NULL, six), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_make_and_verify),
		cmocka_unit_test(test_other_formats),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
