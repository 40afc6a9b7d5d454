/*
 * test-config.c - unit tests for the "key = value" configuration reader.
 *
 * A recording callback captures every pair the reader hands out, so each
 * test can check both what was accepted and, on error, the exact message
 * with its line number and that nothing after the bad line was delivered.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "bounds.h"
#include "config.h"

#define MAXPAIRS 16

struct rec {
	int  n;
	char key[MAXPAIRS][64];
	char val[MAXPAIRS][BOUND_CONFIG_LINE + 1];
	const char *reject;    /* key to refuse */
	const char *why;       /* message for a refusal ("" for none) */
};

/* Record each pair; refuse the key named in rec->reject. */
static int record(void *ctx, const char *key, const char *value, char *err, size_t errsz)
{
	struct rec *r = ctx;

	if (r->reject && strcmp(key, r->reject) == 0) {
		snprintf(err, errsz, "%s", r->why);
		return -1;
	}
	assert_true(r->n < MAXPAIRS);
	snprintf(r->key[r->n], sizeof r->key[0], "%s", key);
	snprintf(r->val[r->n], sizeof r->val[0], "%s", value);
	r->n++;
	return 0;
}

/* Parse a C string with a fresh recorder; returns config_parse's result. */
static int parse(const char *text, struct rec *r, char *err, size_t errsz)
{
	memset(r, 0, sizeof *r);
	err[0] = '\0';
	return config_parse(text, strlen(text), record, r, err, errsz);
}

/* Plain pairs with assorted spacing. */
static void test_basic(void **state)
{
	static struct rec r;
	char err[256];

	assert_int_equal(parse("a=1\n  b   =   two words  \n\tc\t=\tx\t\nd= e\n", &r, err,
	                       sizeof err), 0);
	assert_int_equal(r.n, 4);
	assert_string_equal(r.key[0], "a");
	assert_string_equal(r.val[0], "1");
	assert_string_equal(r.key[1], "b");
	assert_string_equal(r.val[1], "two words");
	assert_string_equal(r.key[2], "c");
	assert_string_equal(r.val[2], "x");
	assert_string_equal(r.key[3], "d");
	assert_string_equal(r.val[3], "e");
	assert_string_equal(err, "");
}

/* Keys may use letters, digits, '_' and '-'. */
static void test_key_charset(void **state)
{
	static struct rec r;
	char err[256];

	assert_int_equal(parse("Listen_Port-2 = 7443\n", &r, err, sizeof err), 0);
	assert_string_equal(r.key[0], "Listen_Port-2");
	assert_int_equal(parse("a.b = 1\n", &r, err, sizeof err), -1);
	assert_string_equal(err, "line 1: expected key = value");
	assert_int_equal(parse("a b = 1\n", &r, err, sizeof err), -1);
	assert_string_equal(err, "line 1: expected key = value");
	assert_int_equal(parse("= 1\n", &r, err, sizeof err), -1);
	assert_string_equal(err, "line 1: expected key = value");
	assert_int_equal(r.n, 0);
}

/* Comments, blank lines and trailing comments are skipped. */
static void test_comments(void **state)
{
	static struct rec r;
	char err[256];

	assert_int_equal(parse("# header\n\n   \n  # indented\na = 1 # trailing\n"
	                       "b = x#y\nc = \"has # hash\" # and comment\n#=x\n",
	                       &r, err, sizeof err), 0);
	assert_int_equal(r.n, 3);
	assert_string_equal(r.val[0], "1");
	assert_string_equal(r.val[1], "x");
	assert_string_equal(r.val[2], "has # hash");
}

/* Quoted values keep their spaces and decode \" and \\. */
static void test_quoting(void **state)
{
	static struct rec r;
	char err[256];

	assert_int_equal(parse("a = \"  padded  \"\nb = \"say \\\"hi\\\"\"\n"
	                       "c = \"back\\\\slash\"\nd = \"\"\ne = \"=\"\nf=\"x\"   \n",
	                       &r, err, sizeof err), 0);
	assert_int_equal(r.n, 6);
	assert_string_equal(r.val[0], "  padded  ");
	assert_string_equal(r.val[1], "say \"hi\"");
	assert_string_equal(r.val[2], "back\\slash");
	assert_string_equal(r.val[3], "");
	assert_string_equal(r.val[4], "=");
	assert_string_equal(r.val[5], "x");
}

/* Broken quoting is reported with its line. */
static void test_bad_quoting(void **state)
{
	static struct rec r;
	char err[256];

	assert_int_equal(parse("a = 1\nb = \"open\n", &r, err, sizeof err), -1);
	assert_string_equal(err, "line 2: unterminated quoted value");
	assert_int_equal(r.n, 1);
	assert_int_equal(parse("b = \"x\" y\n", &r, err, sizeof err), -1);
	assert_string_equal(err, "line 1: unexpected text after quoted value");
	assert_int_equal(parse("b = \"a\\nb\"\n", &r, err, sizeof err), -1);
	assert_non_null(strstr(err, "line 1: invalid escape"));
	assert_int_equal(parse("b = \"trailing\\\"\n", &r, err, sizeof err), -1);
	assert_string_equal(err, "line 1: unterminated quoted value");
	assert_int_equal(parse("b = \"x\\", &r, err, sizeof err), -1);
	assert_non_null(strstr(err, "line 1: "));
	assert_int_equal(r.n, 0);
}

/* Unquoted values may be empty; inner quotes are literal. */
static void test_empty_and_literal(void **state)
{
	static struct rec r;
	char err[256];

	assert_int_equal(parse("a =\nb=   \nc = # nothing\nd = it's \"fine\"\n", &r, err,
	                       sizeof err), 0);
	assert_int_equal(r.n, 4);
	assert_string_equal(r.val[0], "");
	assert_string_equal(r.val[1], "");
	assert_string_equal(r.val[2], "");
	assert_string_equal(r.val[3], "it's \"fine\"");
}

/* Missing '=' names the line, counting blank and comment lines. */
static void test_missing_equals(void **state)
{
	static struct rec r;
	char err[256];

	assert_int_equal(parse("a = 1\n# c\n\nnonsense\nb = 2\n", &r, err, sizeof err), -1);
	assert_string_equal(err, "line 4: expected key = value");
	assert_int_equal(r.n, 1);
	assert_int_equal(parse("key value\n", &r, err, sizeof err), -1);
	assert_string_equal(err, "line 1: expected key = value");
}

/* CRLF line endings and a last line without newline both work. */
static void test_line_endings(void **state)
{
	static struct rec r;
	char err[256];

	assert_int_equal(parse("a = 1\r\nb = \"q\"\r\nc = last", &r, err, sizeof err), 0);
	assert_int_equal(r.n, 3);
	assert_string_equal(r.val[0], "1");
	assert_string_equal(r.val[1], "q");
	assert_string_equal(r.val[2], "last");
	assert_int_equal(parse("", &r, err, sizeof err), 0);
	assert_int_equal(r.n, 0);
	assert_int_equal(parse("\n\n\n", &r, err, sizeof err), 0);
}

/* Only len bytes are read: the text need not be NUL-terminated. */
static void test_length_respected(void **state)
{
	static struct rec r;
	char err[256];
	const char text[] = "a = 1\nb = 2";

	memset(&r, 0, sizeof r);
	assert_int_equal(config_parse(text, 6, record, &r, err, sizeof err), 0);
	assert_int_equal(r.n, 1);
	memset(&r, 0, sizeof r);
	assert_int_equal(config_parse(text, 7, record, &r, err, sizeof err), -1);
	assert_string_equal(err, "line 2: expected key = value");
	memset(&r, 0, sizeof r);
	assert_int_equal(config_parse(text, 10, record, &r, err, sizeof err), 0);
	assert_int_equal(r.n, 2);
	assert_string_equal(r.val[1], "");
}

/* A line of BOUND_CONFIG_LINE bytes is fine; one more byte is an error. */
static void test_long_line(void **state)
{
	static struct rec r;
	static char text[BOUND_CONFIG_LINE + 16];
	char err[256];

	memcpy(text, "k = ", 4);
	memset(text + 4, 'v', BOUND_CONFIG_LINE - 4);
	memcpy(text + BOUND_CONFIG_LINE, "\n", 2);
	assert_int_equal(parse(text, &r, err, sizeof err), 0);
	assert_int_equal(r.n, 1);
	assert_int_equal(strlen(r.val[0]), BOUND_CONFIG_LINE - 4);
	memcpy(text + BOUND_CONFIG_LINE, "v\n", 3);
	assert_int_equal(parse(text, &r, err, sizeof err), -1);
	assert_non_null(strstr(err, "line 1: line too long"));
	assert_int_equal(r.n, 0);
}

/* An embedded NUL byte is an error naming its line. */
static void test_embedded_nul(void **state)
{
	static struct rec r;
	char err[256];
	const char text[] = "a = 1\nb = x\0y\nc = 3\n";

	memset(&r, 0, sizeof r);
	assert_int_equal(config_parse(text, sizeof text - 1, record, &r, err, sizeof err), -1);
	assert_string_equal(err, "line 2: embedded NUL byte");
	assert_int_equal(r.n, 1);
}

/* Callback refusals are reported with the line, and parsing stops there. */
static void test_callback_error(void **state)
{
	static struct rec r;
	static const char text[] = "a = 1\n\nport = 0\nz = 9\n";
	char err[256];

	memset(&r, 0, sizeof r);
	r.reject = "port";
	r.why = "must be between 1 and 65535";
	assert_int_equal(config_parse(text, sizeof text - 1, record, &r, err, sizeof err), -1);
	assert_string_equal(err, "line 3: must be between 1 and 65535");
	assert_int_equal(r.n, 1);

	memset(&r, 0, sizeof r);
	r.reject = "x";
	r.why = "";
	assert_int_equal(config_parse("x = 1", 5, record, &r, err, sizeof err), -1);
	assert_string_equal(err, "line 1: rejected");
}

/* A tiny error buffer truncates; a NULL one is tolerated. */
static void test_err_buffers(void **state)
{
	static struct rec r;
	char err[8];

	memset(&r, 0, sizeof r);
	assert_int_equal(config_parse("bad", 3, record, &r, err, sizeof err), -1);
	assert_string_equal(err, "line 1:");
	assert_int_equal(config_parse("bad", 3, record, &r, NULL, 0), -1);
}

/* Write text to a new temporary file; returns its path in path. */
static void tmpfile_with(char *path, size_t pathsz, const char *text, size_t len)
{
	int fd;

	snprintf(path, pathsz, "/tmp/tether-test-config-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
}

/* Files parse like text; open failures carry strerror. */
static void test_file(void **state)
{
	static struct rec r;
	char path[64], err[512];

	tmpfile_with(path, sizeof path, "# file\nlisten = 0.0.0.0\nport = 7443\n", 36);
	memset(&r, 0, sizeof r);
	assert_int_equal(config_parse_file(path, record, &r, err, sizeof err), 0);
	assert_int_equal(r.n, 2);
	assert_string_equal(r.val[0], "0.0.0.0");
	assert_string_equal(r.val[1], "7443");
	unlink(path);

	assert_int_equal(config_parse_file(path, record, &r, err, sizeof err), -1);
	assert_non_null(strstr(err, strerror(ENOENT)));
	assert_non_null(strstr(err, path));

	assert_int_equal(config_parse_file("/tmp", record, &r, err, sizeof err), -1);
	assert_non_null(strstr(err, strerror(EISDIR)));

	/* a FIFO is refused at once, not waited on (no writer will come) */
	snprintf(path, sizeof path, "/tmp/test-config-fifo-%d", (int)getpid());
	unlink(path);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(config_parse_file(path, record, &r, err, sizeof err), -1);
	assert_non_null(strstr(err, "not a regular file"));
	unlink(path);
}

/* A file of exactly BOUND_CONFIG_FILE bytes is read; one byte more is not. */
static void test_file_size_limit(void **state)
{
	static struct rec r;
	char path[64], err[512];
	char *text = malloc(BOUND_CONFIG_FILE + 64);

	assert_non_null(text);
	for (size_t i = 0; i <= BOUND_CONFIG_FILE; i += 64) {
		memset(text + i, '#', 63);
		text[i + 63] = '\n';
	}
	text[BOUND_CONFIG_FILE - 1] = '\n';
	memcpy(text + BOUND_CONFIG_FILE - 7, "\nk = 1\n", 7);
	tmpfile_with(path, sizeof path, text, BOUND_CONFIG_FILE);
	memset(&r, 0, sizeof r);
	assert_int_equal(config_parse_file(path, record, &r, err, sizeof err), 0);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.key[0], "k");
	unlink(path);

	text[BOUND_CONFIG_FILE] = '\n';
	tmpfile_with(path, sizeof path, text, BOUND_CONFIG_FILE + 1);
	memset(&r, 0, sizeof r);
	assert_int_equal(config_parse_file(path, record, &r, err, sizeof err), -1);
	assert_non_null(strstr(err, "too large"));
	assert_int_equal(r.n, 0);
	unlink(path);
	free(text);
}

/* File errors from parsing keep their line numbers. */
static void test_file_parse_error(void **state)
{
	static struct rec r;
	char path[64], err[512];

	tmpfile_with(path, sizeof path, "a = 1\nb\n", 8);
	memset(&r, 0, sizeof r);
	assert_int_equal(config_parse_file(path, record, &r, err, sizeof err), -1);
	assert_string_equal(err, "line 2: expected key = value");
	unlink(path);
}

/* Run the tests. */
int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_key_charset),
		cmocka_unit_test(test_comments),
		cmocka_unit_test(test_quoting),
		cmocka_unit_test(test_bad_quoting),
		cmocka_unit_test(test_empty_and_literal),
		cmocka_unit_test(test_missing_equals),
		cmocka_unit_test(test_line_endings),
		cmocka_unit_test(test_length_respected),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_embedded_nul),
		cmocka_unit_test(test_callback_error),
		cmocka_unit_test(test_err_buffers),
		cmocka_unit_test(test_file),
		cmocka_unit_test(test_file_parse_error),
		cmocka_unit_test(test_file_size_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
