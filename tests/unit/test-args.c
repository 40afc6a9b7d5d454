/*
 * test-args.c - unit tests for the CLI's one argument parser (client/cli/
 * args.c): what a command's spec lets through, how repeated options add up,
 * and the message for each way a command line can be wrong.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "args.h"

static const char *const colours[] = { "red", "green", "blue", NULL };

static const struct args_opt opts[] = {
	{ 's', "session", ARG_VALUE | ARG_REPEAT, "SESSION", NULL },
	{ 'H', "hosts", ARG_VALUE | ARG_REPEAT, "TARGETS", NULL },
	{ 'f', "fold", 0, NULL, NULL },
	{ 0, "name", ARG_VALUE, "NAME", NULL },
	{ 0, "session-name", ARG_VALUE, "NAME", NULL },
	{ 0, "colour", ARG_VALUE, "C", colours },
	{ 0, NULL, 0, NULL, NULL },
};
static const struct args_spec one_job = { opts, 1, 1, "expected exactly one JOB", 0 };
static const struct args_spec words = { opts, 0, 0, NULL, ARGS_IN_ORDER | ARGS_WORDS };

/* Parse a NULL-ended list of words (after a program name) by spec. */
static int parse(const struct args_spec *spec, struct args *a, char *err, size_t errsz, ...)
{
	char *argv[32] = { "tether" };
	int argc = 1;
	va_list ap;
	va_start(ap, errsz);
	for (char *w; argc < 31 && (w = va_arg(ap, char *)) != NULL;)
		argv[argc++] = w;
	va_end(ap);
	err[0] = '\0';
	return args_parse(spec, argc, argv, a, err, errsz);   /* a points at the literals */
}

static void test_repeated_options_accumulate(void **state)
{
	(void)state;
	struct args a;
	char err[200];
	int n;
	assert_int_equal(parse(&one_job, &a, err, sizeof err, "-H", "a", "J1", "--hosts", "b",
	                       "-Hc", "--hosts=d", NULL), 0);
	const char *const *v = args_values(&a, "hosts", &n);
	assert_int_equal(n, 4);
	assert_string_equal(v[0], "a");
	assert_string_equal(v[1], "b");
	assert_string_equal(v[2], "c");
	assert_string_equal(v[3], "d");
	assert_int_equal(a.argc, 1);
	assert_string_equal(a.argv[0], "J1");
	assert_false(args_has(&a, "session"));
	assert_null(args_get(&a, "name"));
	args_free(&a);
}

static void test_single_value_given_twice(void **state)
{
	(void)state;
	struct args a;
	char err[200];
	assert_int_equal(parse(&one_job, &a, err, sizeof err, "--name", "x", "J", "--name=y",
	                       NULL), -1);
	assert_string_equal(err, "option --name given more than once");
	args_free(&a);
	/* a flag given twice is only said twice */
	assert_int_equal(parse(&one_job, &a, err, sizeof err, "-f", "J", "--fold", NULL), 0);
	assert_true(args_has(&a, "fold"));
	args_free(&a);
}

static void test_mistakes(void **state)
{
	(void)state;
	static const struct { const char *w[4]; const char *msg; } cases[] = {
		{ { "J", "--bogus" }, "unknown option --bogus" },
		{ { "J", "--bogus=1" }, "unknown option --bogus" },
		{ { "J", "-x" }, "unknown option -x" },
		{ { "J", "--name" }, "option --name needs a value" },
		{ { "J", "-s" }, "option -s needs a value" },
		{ { "J", "--fold=yes" }, "option --fold takes no value" },
		{ { "J", "--sess", "x" }, "option --sess is ambiguous" },
		{ { "J", "--colour", "pink" }, "--colour takes red, green or blue" },
		{ { NULL }, "expected exactly one JOB" },
		{ { "J", "K" }, "expected exactly one JOB" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct args a;
		char err[200];
		assert_int_equal(parse(&one_job, &a, err, sizeof err, cases[i].w[0], cases[i].w[1],
		                       cases[i].w[2], cases[i].w[3], NULL), -1);
		assert_string_equal(err, cases[i].msg);
		args_free(&a);
	}
}

static void test_long_forms(void **state)
{
	(void)state;
	struct args a;
	char err[200];
	/* an unambiguous prefix, "=" values, a cluster ending in a value */
	assert_int_equal(parse(&one_job, &a, err, sizeof err, "--session-n", "n", "--col=red",
	                       "-fsX", "J", NULL), 0);
	assert_string_equal(args_get(&a, "session-name"), "n");
	assert_string_equal(args_get(&a, "colour"), "red");
	assert_string_equal(args_get(&a, "session"), "X");
	assert_true(args_has(&a, "fold"));
	args_free(&a);
}

static void test_dashdash_and_words(void **state)
{
	(void)state;
	struct args a;
	char err[200];
	/* options anywhere before "--"; operands before it are counted */
	static const struct args_spec first = { opts, 1, 1, "expected SESSION", ARGS_WORDS };
	assert_int_equal(parse(&first, &a, err, sizeof err, "S1", "--name", "n", "S2", "--", "-f",
	                       NULL), 0);
	assert_int_equal(a.before_dashdash, 2);
	assert_string_equal(a.argv[0], "S1");
	assert_int_equal(a.nwords, 2);
	assert_string_equal(a.words[0], "S2");
	assert_string_equal(a.words[1], "-f");
	assert_false(args_has(&a, "fold"));
	args_free(&a);
	/* in order: options end at the first word, which keeps its own */
	assert_int_equal(parse(&words, &a, err, sizeof err, "-s", "h/s", "ls", "-l", "--", "x",
	                       NULL), 0);
	assert_int_equal(a.before_dashdash, -1);
	assert_int_equal(a.argc, 0);
	assert_int_equal(a.nwords, 4);
	assert_string_equal(a.words[1], "-l");
	assert_string_equal(a.words[2], "--");
	args_free(&a);
	/* "-" is an operand, not an option */
	assert_int_equal(parse(&one_job, &a, err, sizeof err, "-", NULL), 0);
	assert_string_equal(a.argv[0], "-");
	args_free(&a);
}

static void test_required_and_no_operands(void **state)
{
	(void)state;
	static const struct args_opt req[] = {
		{ 's', "session", ARG_VALUE | ARG_REQUIRED, "SESSION", NULL },
		{ 0, NULL, 0, NULL, NULL },
	};
	static const struct args_spec none = { req, 0, 0, NULL, 0 };
	struct args a;
	char err[200];
	assert_int_equal(parse(&none, &a, err, sizeof err, "extra", NULL), -1);
	assert_string_equal(err, "-s SESSION is required");
	args_free(&a);
	assert_int_equal(parse(&none, &a, err, sizeof err, "-s", "S", "extra", NULL), -1);
	assert_string_equal(err, "unexpected argument extra");
	args_free(&a);
	assert_int_equal(parse(&none, &a, err, sizeof err, "-s", "S", NULL), 0);
	args_free(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_repeated_options_accumulate),
		cmocka_unit_test(test_single_value_given_twice),
		cmocka_unit_test(test_mistakes),
		cmocka_unit_test(test_long_forms),
		cmocka_unit_test(test_dashdash_and_words),
		cmocka_unit_test(test_required_and_no_operands),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
