/*
 * test-cmdline.c - unit tests for cmdline_direct(): which commands run
 * without a shell, and how they are split.
 *
 * Every command bash would read as more than "run this program with these
 * words" must be refused: quotes, expansions, globs, redirections,
 * operators, assignments, keywords and builtins.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cmdline.h"

static size_t split(const char *cmd, char **words)
{
	static char buf[512];
	return cmdline_direct(cmd, buf, sizeof buf, words, CMDLINE_WORDS_MAX);
}

/* Plain commands split into their words, spaces collapsed. */
static void test_plain_commands_split(void **state)
{
	char *w[CMDLINE_WORDS_MAX];
	(void)state;
	assert_int_equal(split("true", w), 1);
	assert_string_equal(w[0], "true");
	assert_int_equal(split("sleep 5", w), 2);
	assert_string_equal(w[0], "sleep");
	assert_string_equal(w[1], "5");
	assert_int_equal(split("dd  if=/dev/zero of=/tmp/x bs=1M,x count=1 user@host %p -v", w), 8);
	assert_string_equal(w[0], "dd");
	assert_string_equal(w[1], "if=/dev/zero");
	assert_string_equal(w[5], "user@host");
	assert_string_equal(w[6], "%p");
	assert_string_equal(w[7], "-v");
	assert_int_equal(split("/usr/bin/env", w), 1);
	assert_int_equal(split("./run.sh --all", w), 2);
	assert_int_equal(split("systemctl restart nginx.service", w), 3);
	assert_int_equal(split("false", w), 1);
}

/* Anything bash would expand, redirect, join or parse is refused. */
static void test_shell_syntax_is_refused(void **state)
{
	static const char *const bad[] = {
		"", " ", " true", "true ", "echo $HOME", "ls *", "ls ?", "ls [ab]", "ls ~",
		"ls ~/x", "cat <x", "echo >x", "a | b", "a; b", "a && b", "a & ", "a &",
		"(a)", "{ a; }", "a\nb", "a\tb", "'true'", "\"true\"", "tr\\ue", "echo `id`",
		"echo $(id)", "FOO=1 env", "x=1", "a=b c", "# c", "echo #x", "echo a!", "!x",
		"echo {a,b}", "ls ^x", "echo \x01", "caf\xc3\xa9",
	};
	char *w[CMDLINE_WORDS_MAX];
	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		w[0] = NULL;
		if (split(bad[i], w) != 0)
			fail_msg("accepted: [%s]", bad[i]);
		assert_null(w[0]);
	}
}

/* Keywords and builtins are bash's own; bare true and false are not. */
static void test_keywords_and_builtins_are_refused(void **state)
{
	static const char *const bad[] = {
		"cd /tmp", "export X", "exec ls", "echo hi", "printf x", "test -f x", "pwd",
		"read x", "time sleep 1", "coproc x", "if", "for", "while", "source x", ". x",
		"kill 1", "wait", "exit 3", "true --help", "false 1", "eval ls", "type ls",
		"umask 077", "ulimit -n", "command ls", "builtin echo", "trap x EXIT", "set -e",
	};
	char *w[CMDLINE_WORDS_MAX];
	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (split(bad[i], w) != 0)
			fail_msg("accepted: [%s]", bad[i]);
	/* a word that merely starts like one is a program */
	assert_int_equal(split("trueish", w), 1);
	assert_int_equal(split("timeout 5 sleep 1", w), 4);
	assert_int_equal(split("echo2 x", w), 2);
}

/* Bounds: the buffer and the word count. */
static void test_bounds(void **state)
{
	char *w[CMDLINE_WORDS_MAX], buf[8], cmd[CMDLINE_WORDS_MAX * 2 + 8];
	(void)state;
	assert_int_equal(cmdline_direct("sleep 1", buf, sizeof buf, w, 4), 2);
	assert_int_equal(cmdline_direct("sleep 10", buf, sizeof buf, w, 4), 0);   /* no room */
	assert_int_equal(cmdline_direct("a b c", buf, sizeof buf, w, 2), 0);
	assert_int_equal(cmdline_direct("a b", buf, sizeof buf, w, 2), 2);
	/* CMDLINE_WORDS_MAX words run directly, one more does not */
	char *p = cmd;
	for (int i = 0; i < CMDLINE_WORDS_MAX; i++) {
		*p++ = 'x';
		*p++ = ' ';
	}
	p[-1] = '\0';
	assert_int_equal(split(cmd, w), CMDLINE_WORDS_MAX);
	p[-1] = ' ';
	p[0] = 'y';
	p[1] = '\0';
	assert_int_equal(split(cmd, w), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_commands_split),
		cmocka_unit_test(test_shell_syntax_is_refused),
		cmocka_unit_test(test_keywords_and_builtins_are_refused),
		cmocka_unit_test(test_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
