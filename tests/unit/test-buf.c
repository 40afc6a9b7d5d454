/*
 * test-buf.c - unit tests for the bounded byte buffer.
 *
 * The buffer is the first line of defence against a peer that sends too
 * much, so these tests lean on the limits: exact fits, one byte over, failed
 * appends leaving the contents alone, and the allocation cap.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"

/* A fresh buffer has no allocation and reads as "". */
static void test_init_empty(void **state)
{
	struct buf b;

	buf_init(&b, 100);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
	assert_int_equal(b.max, 100);
	assert_string_equal(buf_cstr(&b), "");
	buf_free(&b);
}

/* Appends accumulate and stay NUL-terminated. */
static void test_append_basic(void **state)
{
	struct buf b;

	buf_init(&b, 100);
	assert_int_equal(buf_append(&b, "hello", 5), 0);
	assert_non_null(b.data);
	assert_int_equal(b.len, 5);
	assert_int_equal(b.data[5], '\0');
	assert_int_equal(buf_puts(&b, ", world"), 0);
	assert_string_equal(buf_cstr(&b), "hello, world");
	assert_int_equal(b.len, 12);
	buf_free(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
}

/* A zero-length append succeeds and needs no source pointer. */
static void test_append_zero(void **state)
{
	struct buf b;

	buf_init(&b, 0);
	assert_int_equal(buf_append(&b, NULL, 0), 0);
	assert_int_equal(b.len, 0);
	assert_string_equal(buf_cstr(&b), "");
	assert_int_equal(buf_append(&b, "x", 1), -1);
	assert_string_equal(buf_cstr(&b), "");
	buf_free(&b);
}

/* Filling to exactly max works; one more byte fails and changes nothing. */
static void test_max_boundary(void **state)
{
	struct buf b;

	buf_init(&b, 10);
	assert_int_equal(buf_append(&b, "0123456789", 10), 0);
	assert_int_equal(b.len, 10);
	assert_true(b.cap <= 11);
	assert_int_equal(buf_append(&b, "x", 1), -1);
	assert_int_equal(buf_puts(&b, "y"), -1);
	assert_int_equal(buf_printf(&b, "%d", 1), -1);
	assert_int_equal(b.len, 10);
	assert_string_equal(buf_cstr(&b), "0123456789");
	buf_free(&b);

	buf_init(&b, 10);
	assert_int_equal(buf_append(&b, "abc", 3), 0);
	assert_int_equal(buf_append(&b, "01234567", 8), -1);
	assert_string_equal(buf_cstr(&b), "abc");
	assert_int_equal(buf_append(&b, "0123456", 7), 0);
	assert_string_equal(buf_cstr(&b), "abc0123456");
	buf_free(&b);
}

/* Growth doubles but never allocates more than max + 1 bytes. */
static void test_growth_capped(void **state)
{
	struct buf b;
	char chunk[50];

	memset(chunk, 'z', sizeof chunk);
	buf_init(&b, 100);
	assert_int_equal(buf_append(&b, chunk, 1), 0);
	assert_true(b.cap >= 2 && b.cap <= 101);
	while (b.len + sizeof chunk <= 100)
		assert_int_equal(buf_append(&b, chunk, sizeof chunk), 0);
	assert_int_equal(buf_append(&b, chunk, 100 - b.len), 0);
	assert_int_equal(b.len, 100);
	assert_int_equal(b.cap, 101);
	buf_free(&b);
}

/* Large contents survive many reallocations intact, binary bytes included. */
static void test_many_appends(void **state)
{
	struct buf b;
	size_t i;

	buf_init(&b, 100000);
	for (i = 0; i < 100000; i++) {
		unsigned char c = (unsigned char)(i * 7);

		assert_int_equal(buf_append(&b, &c, 1), 0);
	}
	assert_int_equal(b.len, 100000);
	for (i = 0; i < 100000; i++)
		assert_int_equal((unsigned char)b.data[i], (unsigned char)(i * 7));
	assert_int_equal(b.data[100000], '\0');
	assert_int_equal(buf_append(&b, "", 1), -1);
	buf_free(&b);
}

/* Embedded NUL bytes are kept and counted. */
static void test_embedded_nul(void **state)
{
	struct buf b;

	buf_init(&b, 16);
	assert_int_equal(buf_append(&b, "a\0b", 3), 0);
	assert_int_equal(b.len, 3);
	assert_memory_equal(b.data, "a\0b\0", 4);
	buf_free(&b);
}

/* Absurd sizes fail cleanly instead of overflowing. */
static void test_huge_request(void **state)
{
	struct buf b;

	buf_init(&b, SIZE_MAX);
	assert_true(b.max < SIZE_MAX);
	assert_int_equal(buf_append(&b, "x", 1), 0);
	assert_int_equal(buf_append(&b, "y", SIZE_MAX), -1);
	assert_int_equal(buf_append(&b, "y", SIZE_MAX - 1), -1);
	assert_string_equal(buf_cstr(&b), "x");
	buf_free(&b);
}

/* printf appends formatted text and fails whole when too long. */
static void test_printf(void **state)
{
	struct buf b;

	buf_init(&b, 12);
	assert_int_equal(buf_printf(&b, "%s=%d", "n", 42), 0);
	assert_string_equal(buf_cstr(&b), "n=42");
	assert_int_equal(buf_printf(&b, "%s", "12345678"), 0);
	assert_string_equal(buf_cstr(&b), "n=4212345678");
	buf_reset(&b);
	assert_int_equal(buf_printf(&b, "%s", "abcd"), 0);
	assert_int_equal(buf_printf(&b, "%s", "123456789"), -1);
	assert_string_equal(buf_cstr(&b), "abcd");
	assert_int_equal(b.len, 4);
	assert_int_equal(buf_printf(&b, "%s", ""), 0);
	assert_string_equal(buf_cstr(&b), "abcd");
	buf_free(&b);
}

/* Reset empties the buffer but keeps the allocation. */
static void test_reset(void **state)
{
	struct buf b;
	char *before;
	size_t cap;

	buf_init(&b, 50);
	buf_reset(&b);
	assert_string_equal(buf_cstr(&b), "");
	assert_int_equal(buf_puts(&b, "some text"), 0);
	before = b.data;
	cap = b.cap;
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_ptr_equal(b.data, before);
	assert_int_equal(b.cap, cap);
	assert_int_equal(b.max, 50);
	assert_string_equal(buf_cstr(&b), "");
	assert_int_equal(buf_puts(&b, "again"), 0);
	assert_string_equal(buf_cstr(&b), "again");
	buf_free(&b);
}

/* Take hands over the string and leaves the buffer reusable. */
static void test_take(void **state)
{
	struct buf b;
	size_t len = 99;
	char *s;

	buf_init(&b, 50);
	s = buf_take(&b, &len);
	assert_non_null(s);
	assert_string_equal(s, "");
	assert_int_equal(len, 0);
	free(s);

	assert_int_equal(buf_puts(&b, "taken"), 0);
	s = buf_take(&b, &len);
	assert_string_equal(s, "taken");
	assert_int_equal(len, 5);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
	assert_string_equal(buf_cstr(&b), "");
	assert_int_equal(buf_puts(&b, "next"), 0);
	assert_string_equal(buf_cstr(&b), "next");
	free(s);
	s = buf_take(&b, NULL);
	assert_string_equal(s, "next");
	free(s);
	buf_free(&b);
}

/* Secret buffers free cleanly, whether used or not. */
static void test_free_secret(void **state)
{
	struct buf b;

	buf_init(&b, 64);
	buf_free_secret(&b);
	assert_null(b.data);
	buf_init(&b, 64);
	assert_int_equal(buf_puts(&b, "hunter2"), 0);
	assert_int_equal(buf_puts(&b, " and a longer secret that forces growth"), 0);
	buf_free_secret(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
}

/* Run the tests. */
int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_empty),
		cmocka_unit_test(test_append_basic),
		cmocka_unit_test(test_append_zero),
		cmocka_unit_test(test_max_boundary),
		cmocka_unit_test(test_growth_capped),
		cmocka_unit_test(test_many_appends),
		cmocka_unit_test(test_embedded_nul),
		cmocka_unit_test(test_huge_request),
		cmocka_unit_test(test_printf),
		cmocka_unit_test(test_reset),
		cmocka_unit_test(test_take),
		cmocka_unit_test(test_free_secret),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
