/*
 * test-log.c - unit tests for structured logging.
 *
 * Lines are written into a pipe and read back, so the tests see exactly the
 * bytes an operator would. The important properties are that a value can
 * never break out of its quotes or its line, that long values and long lines
 * are cut visibly, and that concurrent lines never interleave.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"

static int fds[2];
static char got[65536];

/* Open a non-blocking pipe and send the log there. */
static int setup(void **state)
{
	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0)
		return -1;
	log_setup(LOG_DEBUG, fds[1]);
	return 0;
}

/* Restore the default log target and close the pipe. */
static int teardown(void **state)
{
	log_setup(LOG_INFO, 2);
	close(fds[0]);
	close(fds[1]);
	return 0;
}

/* Read everything written so far into got; returns its length. */
static size_t drain(void)
{
	size_t n = 0;
	ssize_t r;

	while (n < sizeof got - 1 && (r = read(fds[0], got + n, sizeof got - 1 - n)) > 0)
		n += (size_t)r;
	got[n] = '\0';
	return n;
}

/* The part of a single line after "ts=<20 chars> ". */
static const char *after_ts(void)
{
	assert_true(strlen(got) > 24);
	assert_memory_equal(got, "ts=", 3);
	assert_int_equal(got[3 + 4], '-');
	assert_int_equal(got[3 + 10], 'T');
	assert_int_equal(got[3 + 19], 'Z');
	assert_int_equal(got[3 + 20], ' ');
	return got + 24;
}

/* Count occurrences of c in s. */
static size_t count(const char *s, char c)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == c;
	return n;
}

/* A line has the documented shape. */
static void test_basic_line(void **state)
{
	struct logline l;

	log_begin(&l, LOG_INFO, "login");
	log_str(&l, "user", "alice");
	log_int(&l, "attempts", 3);
	log_end(&l);
	drain();
	assert_string_equal(after_ts(), "level=info event=login user=\"alice\" attempts=3\n");
}

/* Values are escaped so nothing can escape the quotes. */
static void test_escaping(void **state)
{
	struct logline l;

	log_begin(&l, LOG_WARN, "x");
	log_str(&l, "v", "a\"b\\c\nd\re\tf\x01g\x7fh\xffi j=k");
	log_end(&l);
	drain();
	assert_string_equal(after_ts(),
	                    "level=warn event=x v=\"a\\\"b\\\\c\\nd\\re\\tf\\x01g\\x7fh\\xffi j=k\"\n");
}

/* An attempt to inject a second log line stays inside one line. */
static void test_injection(void **state)
{
	struct logline l;

	log_begin(&l, LOG_ERROR, "auth");
	log_str(&l, "user", "bob\nts=2026-01-01T00:00:00Z level=info event=login user=\"root\"");
	log_end(&l);
	drain();
	assert_int_equal(count(got, '\n'), 1);
	assert_int_equal(got[strlen(got) - 1], '\n');
	assert_non_null(strstr(got, "user=\"bob\\nts=2026-01-01T00:00:00Z level=info "
	                            "event=login user=\\\"root\\\"\"\n"));
}

/* Empty and NULL values are written as "". */
static void test_empty_values(void **state)
{
	struct logline l;

	log_begin(&l, LOG_INFO, "e");
	log_str(&l, "a", "");
	log_str(&l, "b", NULL);
	log_end(&l);
	drain();
	assert_string_equal(after_ts(), "level=info event=e a=\"\" b=\"\"\n");
}

/* Values are cut at BOUND_LOG_VALUE bytes with a visible marker. */
static void test_value_truncation(void **state)
{
	char v[BOUND_LOG_VALUE + 2], want[BOUND_LOG_VALUE + 64];
	struct logline l;

	memset(v, 'a', BOUND_LOG_VALUE);
	v[BOUND_LOG_VALUE] = '\0';
	log_begin(&l, LOG_INFO, "t");
	log_str(&l, "v", v);
	log_end(&l);
	drain();
	snprintf(want, sizeof want, "level=info event=t v=\"%s\"\n", v);
	assert_string_equal(after_ts(), want);

	v[BOUND_LOG_VALUE] = 'b';
	v[BOUND_LOG_VALUE + 1] = '\0';
	log_begin(&l, LOG_INFO, "t");
	log_str(&l, "v", v);
	log_end(&l);
	drain();
	v[BOUND_LOG_VALUE] = '\0';
	snprintf(want, sizeof want, "level=info event=t v=\"%s...\"\n", v);
	assert_string_equal(after_ts(), want);
}

/* A value of nothing but bytes to escape still fits and is cut properly. */
static void test_worst_case_value(void **state)
{
	char v[1000];
	struct logline l;
	const char *q;

	memset(v, '\x01', sizeof v - 1);
	v[sizeof v - 1] = '\0';
	log_begin(&l, LOG_INFO, "w");
	log_str(&l, "v", v);
	log_end(&l);
	drain();
	q = strstr(got, "v=\"");
	assert_non_null(q);
	assert_int_equal(strlen(q), 3 + 4 * BOUND_LOG_VALUE + 3 + 2);
	assert_string_equal(q + 3 + 4 * BOUND_LOG_VALUE, "...\"\n");
}

/* A line that would overflow the buffer ends in "..." and one newline. */
static void test_line_overflow(void **state)
{
	char v[BOUND_LOG_VALUE + 1];
	struct logline l;
	size_t n;

	memset(v, 'q', BOUND_LOG_VALUE);
	v[BOUND_LOG_VALUE] = '\0';
	log_begin(&l, LOG_INFO, "big");
	for (int i = 0; i < 40; i++)
		log_str(&l, "field", v);
	log_int(&l, "last", 1);
	log_end(&l);
	n = drain();
	assert_true(n <= BOUND_LOG_LINE);
	assert_true(n > BOUND_LOG_LINE / 2);
	assert_int_equal(count(got, '\n'), 1);
	assert_string_equal(got + n - 5, " ...\n");
	assert_int_equal(got[n - 6], '"');
	assert_null(strstr(got, "last="));
	/* every complete field kept is intact: quotes balance */
	assert_int_equal(count(got, '"') % 2, 0);
}

/* Lines below the minimum level produce nothing at all. */
static void test_level_filter(void **state)
{
	struct logline l;

	log_setup(LOG_WARN, fds[1]);
	log_begin(&l, LOG_INFO, "quiet");
	assert_int_equal(l.skip, 1);
	log_str(&l, "k", "v");
	log_int(&l, "n", 1);
	log_end(&l);
	log_msg(LOG_DEBUG, "quiet", "k", "v");
	assert_int_equal(drain(), 0);
	log_msg(LOG_WARN, "loud", "k", "v");
	drain();
	assert_string_equal(after_ts(), "level=warn event=loud k=\"v\"\n");
	log_setup(LOG_DEBUG, fds[1]);
	log_msg(LOG_DEBUG, "dbg", NULL, NULL);
	drain();
	assert_string_equal(after_ts(), "level=debug event=dbg\n");
}

/* Numbers print in full, including the extremes. */
static void test_int_extremes(void **state)
{
	struct logline l;

	log_begin(&l, LOG_INFO, "n");
	log_int(&l, "min", INT64_MIN);
	log_int(&l, "max", INT64_MAX);
	log_int(&l, "zero", 0);
	log_end(&l);
	drain();
	assert_string_equal(after_ts(), "level=info event=n min=-9223372036854775808 "
	                                "max=9223372036854775807 zero=0\n");
}

/* Keys and event names are reduced to a safe alphabet. */
static void test_key_sanitised(void **state)
{
	struct logline l;

	log_begin(&l, LOG_INFO, "ev ent\n");
	log_str(&l, "k=e y", "v");
	log_int(&l, "", 1);
	log_end(&l);
	drain();
	assert_string_equal(after_ts(), "level=info event=ev_ent_ k_e_y=\"v\" _=1\n");
}

/* log_end keeps errno, and a second log_end writes nothing. */
static void test_errno_and_double_end(void **state)
{
	struct logline l;

	log_begin(&l, LOG_INFO, "e");
	errno = ENOENT;
	log_end(&l);
	assert_int_equal(errno, ENOENT);
	log_end(&l);
	drain();
	assert_int_equal(count(got, '\n'), 1);
}

/* Level names parse, anything else does not. */
static void test_level_parse(void **state)
{
	assert_int_equal(log_level_parse("debug"), LOG_DEBUG);
	assert_int_equal(log_level_parse("info"), LOG_INFO);
	assert_int_equal(log_level_parse("warn"), LOG_WARN);
	assert_int_equal(log_level_parse("error"), LOG_ERROR);
	assert_int_equal(log_level_parse("INFO"), LOG_INFO);
	assert_int_equal(log_level_parse("inf"), -1);
	assert_int_equal(log_level_parse("info "), -1);
	assert_int_equal(log_level_parse(""), -1);
	assert_int_equal(log_level_parse(NULL), -1);
}

/* log_escape alone: limits on input and on output space. */
static void test_escape_direct(void **state)
{
	char d[32];

	assert_int_equal(log_escape(d, sizeof d, "abc", 10), 3);
	assert_string_equal(d, "abc");
	assert_int_equal(log_escape(d, sizeof d, "abcdef", 3), 6);
	assert_string_equal(d, "abc...");
	assert_int_equal(log_escape(d, sizeof d, "abc", 3), 3);
	assert_string_equal(d, "abc");
	assert_int_equal(log_escape(d, sizeof d, "\n", 10), 2);
	assert_string_equal(d, "\\n");
	/* exact fit: 6 bytes of output plus NUL in 7; one less is cut */
	assert_int_equal(log_escape(d, 6, "ab\ncd", 10), 5);
	assert_string_equal(d, "ab...");
	assert_int_equal(log_escape(d, 7, "ab\ncd", 10), 6);
	assert_string_equal(d, "ab\\ncd");
	/* one short: cut on a whole escape, marker added */
	assert_int_equal(log_escape(d, 6, "abcdef", 10), 5);
	assert_string_equal(d, "ab...");
	assert_int_equal(log_escape(d, 7, "a\x01" "bcdef", 10), 4);
	assert_string_equal(d, "a...");
	assert_int_equal(log_escape(d, 3, "abcdef", 10), 0);
	assert_string_equal(d, "");
	assert_int_equal(log_escape(d, 1, "", 10), 0);
	assert_string_equal(d, "");
	d[0] = 'z';
	assert_int_equal(log_escape(d, 0, "abc", 10), 0);
	assert_int_equal(d[0], 'z');
	assert_int_equal(log_escape(d, sizeof d, "abc", 0), 3);
	assert_string_equal(d, "...");
}

/* Write 50 lines tagged with this thread's number. */
static void *writer(void *arg)
{
	char v[64];

	snprintf(v, sizeof v, "thread-%d", *(int *)arg);
	for (int i = 0; i < 50; i++) {
		struct logline l;

		log_begin(&l, LOG_INFO, "par");
		log_str(&l, "who", v);
		log_int(&l, "i", i);
		log_str(&l, "pad", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
		log_end(&l);
	}
	return NULL;
}

/* Concurrent writers never interleave within a line. */
static void test_threads(void **state)
{
	pthread_t t[4];
	int ids[4];
	size_t lines = 0;
	char *p, *nl, *q;

	for (int i = 0; i < 4; i++) {
		ids[i] = i;
		assert_int_equal(pthread_create(&t[i], NULL, writer, &ids[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	drain();
	for (p = got; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
		*nl = '\0';
		assert_memory_equal(p, "ts=", 3);
		assert_non_null(strstr(p, " level=info event=par who=\"thread-"));
		q = strstr(p, " pad=\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"");
		assert_non_null(q);
		assert_int_equal(strlen(q), 47);
		assert_int_equal(count(p, '='), 6);
		lines++;
	}
	assert_int_equal(*p, '\0');
	assert_int_equal(lines, 200);
}

/* Run the tests. */
/* The same line in a row is written once; the next different line is
 * preceded by how many were folded. */
static void test_repeats_folded(void **state)
{
	drain();
	for (int i = 0; i < 100; i++)
		log_msg(LOG_ERROR, "store_error", "detail", "database or disk is full");
	drain();
	assert_int_equal(count(got, '\n'), 1);
	assert_non_null(strstr(got, "event=store_error"));
	log_msg(LOG_INFO, "other", NULL, NULL);
	drain();
	assert_int_equal(count(got, '\n'), 2);
	assert_non_null(strstr(got, "event=log_repeated count=99\n"));
	assert_non_null(strstr(got, "event=other"));
	/* a different line is never folded */
	log_msg(LOG_INFO, "other2", NULL, NULL);
	drain();
	assert_int_equal(count(got, '\n'), 1);
}

/* To the journal ($JOURNAL_STREAM names the output's dev:ino) a line
 * starts with its syslog priority and has no timestamp of its own; any
 * other output keeps the timestamp. */
static void test_journal_stream(void **state)
{
	char path[256], env[64], text[4096];
	const char *tmp = getenv("TMPDIR");
	struct stat st;
	snprintf(path, sizeof path, "%s/test-log-XXXXXX", tmp && tmp[0] == '/' ? tmp : "/tmp");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	snprintf(env, sizeof env, "%llu:%llu", (unsigned long long)st.st_dev,
	         (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", env, 1);
	log_setup(LOG_DEBUG, fd);
	log_msg(LOG_DEBUG, "a", NULL, NULL);
	log_msg(LOG_INFO, "b", "k", "v");
	log_msg(LOG_WARN, "c", NULL, NULL);
	log_msg(LOG_ERROR, "d", NULL, NULL);
	log_setup(LOG_DEBUG, fds[1]);   /* not the journal's stream: timestamps */
	log_msg(LOG_INFO, "e", NULL, NULL);
	unsetenv("JOURNAL_STREAM");
	ssize_t n = pread(fd, text, sizeof text - 1, 0);
	assert_true(n > 0);
	text[n] = '\0';
	assert_string_equal(text, "<7>level=debug event=a\n<6>level=info event=b k=\"v\"\n"
	                          "<4>level=warn event=c\n<3>level=error event=d\n");
	drain();
	assert_string_equal(after_ts(), "level=info event=e\n");
	close(fd);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_basic_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_escaping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_injection, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_value_truncation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_worst_case_value, setup, teardown),
		cmocka_unit_test_setup_teardown(test_line_overflow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_level_filter, setup, teardown),
		cmocka_unit_test_setup_teardown(test_int_extremes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_sanitised, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errno_and_double_end, setup, teardown),
		cmocka_unit_test(test_level_parse),
		cmocka_unit_test(test_escape_direct),
		cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_repeats_folded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_journal_stream, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
