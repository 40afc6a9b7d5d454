/* Unit tests for common/escape.c: ssh-style escapes at line start only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "escape.h"

/* Feed s in pieces of step bytes; collect what is sent; return the first
 * action and how much of s it took to get there. */
static enum escape_action feed(struct escape *e, const char *s, size_t step, char *sent,
                               size_t *consumed)
{
	size_t n = strlen(s), off = 0, total = 0;
	enum escape_action act = ESCAPE_NONE;
	while (off < n && act == ESCAPE_NONE) {
		size_t len = n - off < step ? n - off : step, outn, used;
		act = escape_filter(e, s + off, len, sent + total, &outn, &used);
		total += outn;
		off += used;
	}
	sent[total] = '\0';
	*consumed = off;
	return act;
}

static void test_detach_at_start_and_after_newline(void **state)
{
	(void)state;
	char sent[64];
	size_t used;
	for (size_t step = 1; step <= 8; step++) {
		struct escape e = { 0 };
		assert_int_equal(feed(&e, "~.rest", step, sent, &used), ESCAPE_DETACH);
		assert_string_equal(sent, "");
		assert_int_equal(used, 2);
		struct escape f = { 0 };
		assert_int_equal(feed(&f, "ls\r~.x", step, sent, &used), ESCAPE_DETACH);
		assert_string_equal(sent, "ls\r");
		assert_int_equal(used, 5);
		struct escape g = { 0 };
		assert_int_equal(feed(&g, "a\n~.", step, sent, &used), ESCAPE_DETACH);
		assert_string_equal(sent, "a\n");
	}
}

static void test_tilde_mid_line_and_doubled(void **state)
{
	(void)state;
	char sent[64];
	size_t used;
	struct escape e = { 0 };
	assert_int_equal(feed(&e, "cd ~.", 1, sent, &used), ESCAPE_NONE);
	assert_string_equal(sent, "cd ~.");
	struct escape f = { 0 };
	assert_int_equal(feed(&f, "~~.\r~x", 1, sent, &used), ESCAPE_NONE);
	assert_string_equal(sent, "~.\r~x");   /* "~~" is one '~', then mid-line */
	struct escape g = { 0 };
	assert_int_equal(feed(&g, "~?", 2, sent, &used), ESCAPE_HELP);
	assert_string_equal(sent, "");
	/* after help, still at line start */
	assert_int_equal(feed(&g, "~.", 2, sent, &used), ESCAPE_DETACH);
}

static void test_held_tilde_survives_a_split(void **state)
{
	(void)state;
	char out[8];
	size_t outn, used;
	struct escape e = { 0 };
	assert_int_equal(escape_filter(&e, "~", 1, out, &outn, &used), ESCAPE_NONE);
	assert_int_equal(outn, 0);   /* held back until the next byte */
	assert_int_equal(escape_filter(&e, "a", 1, out, &outn, &used), ESCAPE_NONE);
	assert_int_equal(outn, 2);
	assert_memory_equal(out, "~a", 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_detach_at_start_and_after_newline),
		cmocka_unit_test(test_tilde_mid_line_and_doubled),
		cmocka_unit_test(test_held_tilde_survives_a_split),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
