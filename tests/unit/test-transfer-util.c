/*
 * test-transfer-util.c - unit tests for the transfer commands' pure logic:
 * the "Source, Destination" CSV reader, wildcard detection, and the human
 * forms of sizes, rates, times left and the progress line.
 *
 * The CSV cases are the ways a hand-edited or spreadsheet-exported file
 * differs from the ideal one; each must either parse to exactly the fields
 * meant, or be refused with the line number.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "transfer-util.h"

/* What the CSV callback saw. */
struct rows {
	unsigned n;
	unsigned line[8];
	char     src[8][128], dst[8][128];
	int      stop_at;   /* refuse the row with this 1-based index (0: never) */
};

static int collect(void *ctx, unsigned line, const char *source, const char *destination,
                   char *why, size_t whysz)
{
	struct rows *r = ctx;
	if (r->stop_at != 0 && (int)r->n + 1 == r->stop_at) {
		snprintf(why, whysz, "refused line %u", line);
		return -1;
	}
	assert_true(r->n < 8);
	r->line[r->n] = line;
	snprintf(r->src[r->n], sizeof r->src[0], "%s", source);
	snprintf(r->dst[r->n], sizeof r->dst[0], "%s", destination);
	r->n++;
	return 0;
}

/* Parse text; returns the parser's result, rows in *r, reason in why. */
static int parse(const char *text, struct rows *r, char *why, size_t whysz)
{
	int stop = r->stop_at;
	memset(r, 0, sizeof *r);
	r->stop_at = stop;
	why[0] = '\0';
	return transfer_csv_parse(text, strlen(text), collect, r, why, whysz);
}

/* The doc's example: header skipped, spaces after commas dropped. */
static void test_csv_plain(void **state)
{
	struct rows r = { 0 };
	char why[128];
	const char *text = "Source, Destination\n"
	                   "c:\\dir\\f1.txt, https://s/dir/f1.txt\n"
	                   "/srv/f2.txt,https://s/dir/f2.txt\n";
	assert_int_equal(parse(text, &r, why, sizeof why), 2);
	assert_string_equal(r.src[0], "c:\\dir\\f1.txt");
	assert_string_equal(r.dst[0], "https://s/dir/f1.txt");
	assert_int_equal(r.line[0], 2);
	assert_string_equal(r.src[1], "/srv/f2.txt");
	assert_string_equal(r.dst[1], "https://s/dir/f2.txt");
	assert_int_equal(r.line[1], 3);
}

/* The header is recognised in any case and with any spacing, only first. */
static void test_csv_header(void **state)
{
	struct rows r = { 0 };
	char why[128];
	assert_int_equal(parse("  SOURCE ,destination  \na,b\n", &r, why, sizeof why), 1);
	assert_string_equal(r.src[0], "a");
	assert_int_equal(parse("\"Source\",\"Destination\"\na,b\n", &r, why, sizeof why), 1);
	/* no header: the first row is data */
	assert_int_equal(parse("a,b\n", &r, why, sizeof why), 1);
	/* a header-looking row later on is data */
	assert_int_equal(parse("a,b\nSource,Destination\n", &r, why, sizeof why), 2);
	assert_string_equal(r.src[1], "Source");
	/* half a header is data, not a header */
	assert_int_equal(parse("Source,Target\n", &r, why, sizeof why), 1);
	assert_string_equal(r.dst[0], "Target");
	/* header only: zero rows, not an error */
	assert_int_equal(parse("Source, Destination\r\n", &r, why, sizeof why), 0);
}

/* Quoted fields keep commas and inner spaces; "" is one quote. */
static void test_csv_quotes(void **state)
{
	struct rows r = { 0 };
	char why[128];
	assert_int_equal(parse("\"/srv/a, b.txt\" , \" /dst/ \"\n", &r, why, sizeof why), 1);
	assert_string_equal(r.src[0], "/srv/a, b.txt");
	assert_string_equal(r.dst[0], " /dst/ ");
	assert_int_equal(parse("\"say \"\"hi\"\".txt\",\"\"\"\"\n", &r, why, sizeof why), 1);
	assert_string_equal(r.src[0], "say \"hi\".txt");
	assert_string_equal(r.dst[0], "\"");
}

/* Blank lines, CRLF, tabs, a byte order mark and no final newline. */
static void test_csv_whitespace(void **state)
{
	struct rows r = { 0 };
	char why[128];
	const char *text = "\xef\xbb\xbfSource,Destination\r\n"
	                   "\r\n"
	                   "   \t \n"
	                   "\ta b ,\t c d\t\r\n"
	                   "\n"
	                   "x,y";
	assert_int_equal(parse(text, &r, why, sizeof why), 2);
	assert_string_equal(r.src[0], "a b");
	assert_string_equal(r.dst[0], "c d");
	assert_int_equal(r.line[0], 4);
	assert_string_equal(r.src[1], "x");
	assert_string_equal(r.dst[1], "y");
	assert_int_equal(r.line[1], 6);
	assert_int_equal(parse("", &r, why, sizeof why), 0);
}

/* Each malformed row is refused with its line number. */
static void test_csv_bad_rows(void **state)
{
	static const struct { const char *text, *why; } cases[] = {
		{ "a,b\nonlyone\n", "line 2: expected two fields" },
		{ "a,b,c\n", "line 1: more than two fields" },
		{ "a,\n", "line 1: empty destination" },
		{ " ,b\n", "line 1: empty source" },
		{ "\"\",b\n", "line 1: empty source" },
		{ "\"a,b\n", "line 1: unterminated quoted field" },
		{ "\"a\"x,b\n", "line 1: text after a closing quote" },
		{ "a\"b,c\n", "line 1: quote inside an unquoted field" },
		{ "Source,Destination\n\na,b\nc\0d,e\n", "line 4: NUL byte" },
	};
	static const size_t lens[] = { 0, 0, 0, 0, 0, 0, 0, 0, 31 };
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct rows r = { 0 };
		char why[128] = "";
		size_t len = lens[i] ? lens[i] : strlen(cases[i].text);
		assert_int_equal(transfer_csv_parse(cases[i].text, len, collect, &r, why,
		                                    sizeof why), -1);
		if (strncmp(why, cases[i].why, strlen(cases[i].why)) != 0)
			fail_msg("case %zu: got '%s', expected '%s...'", i, why, cases[i].why);
	}
}

/* A field longer than TRANSFER_FIELD_MAX is refused, not cut. */
static void test_csv_long_field(void **state)
{
	static char text[TRANSFER_FIELD_MAX + 16];
	struct rows r = { 0 };
	char why[128];
	memset(text, 'a', TRANSFER_FIELD_MAX);
	memcpy(text + TRANSFER_FIELD_MAX, ",b\n", 4);
	assert_int_equal(parse(text, &r, why, sizeof why), -1);
	assert_string_equal(why, "line 1: field too long");
	/* one byte shorter fits exactly (the NUL takes the last byte) */
	memcpy(text + TRANSFER_FIELD_MAX - 1, ",b\n", 4);
	assert_int_equal(parse(text, &r, why, sizeof why), 1);
}

/* The callback's refusal stops the parse with its reason. */
static void test_csv_callback_stops(void **state)
{
	struct rows r = { 0 };
	char why[128];
	r.stop_at = 2;
	assert_int_equal(parse("a,b\nc,d\ne,f\n", &r, why, sizeof why), -1);
	assert_int_equal(r.n, 1);
	assert_string_equal(why, "refused line 2");
}

/* Count rows. */
static int count_rows(void *ctx, unsigned line, const char *s, const char *d, char *why,
                      size_t whysz)
{
	(*(unsigned *)ctx)++;
	return 0;
}

/* More rows than TRANSFER_CSV_ROWS_MAX are refused. */
static void test_csv_row_limit(void **state)
{
	static char text[(TRANSFER_CSV_ROWS_MAX + 1) * 4 + 1];
	size_t n = 0;
	char why[128];
	unsigned count = 0;
	for (unsigned i = 0; i < TRANSFER_CSV_ROWS_MAX; i++, n += 4)
		memcpy(text + n, "a,b\n", 4);
	assert_int_equal(transfer_csv_parse(text, n, count_rows, &count, why, sizeof why),
	                 (int)TRANSFER_CSV_ROWS_MAX);
	memcpy(text + n, "a,b\n", 4);
	count = 0;
	assert_int_equal(transfer_csv_parse(text, n + 4, count_rows, &count, why, sizeof why),
	                 -1);
	assert_int_equal(count, TRANSFER_CSV_ROWS_MAX);
	assert_string_equal(why, "line 1001: too many rows");
}

static void test_fmt_bytes(void **state)
{
	char b[32];
	transfer_fmt_bytes(0, b, sizeof b);
	assert_string_equal(b, "0 B");
	transfer_fmt_bytes(1023, b, sizeof b);
	assert_string_equal(b, "1023 B");
	transfer_fmt_bytes(1024, b, sizeof b);
	assert_string_equal(b, "1.0 KiB");
	transfer_fmt_bytes(1536, b, sizeof b);
	assert_string_equal(b, "1.5 KiB");
	transfer_fmt_bytes(12u * 1024 * 1024, b, sizeof b);
	assert_string_equal(b, "12.0 MiB");
	transfer_fmt_bytes(1024u * 1024 - 1, b, sizeof b);
	assert_string_equal(b, "1.0 MiB");
	transfer_fmt_bytes(1024ull * 1024 * 1024, b, sizeof b);
	assert_string_equal(b, "1.0 GiB");
	transfer_fmt_bytes(UINT64_MAX, b, sizeof b);
	assert_string_equal(b, "16.0 EiB");
	transfer_fmt_rate(0, b, sizeof b);
	assert_string_equal(b, "0 B/s");
	transfer_fmt_rate(1572864, b, sizeof b);
	assert_string_equal(b, "1.5 MiB/s");
	transfer_fmt_progress(12 * 1024 * 1024, 1024 * 1024 * 1024, b, sizeof b);
	assert_string_equal(b, "12.0 MiB/1.0 GiB");
	transfer_fmt_progress(3 * 1024 * 1024, -1, b, sizeof b);
	assert_string_equal(b, "3.0 MiB/?");
	/* a small buffer truncates, never overflows */
	char tiny[4];
	transfer_fmt_bytes(1536, tiny, sizeof tiny);
	assert_string_equal(tiny, "1.5");
}

/* Time left: rounded up, two units, "--" when it cannot be known. */
static void test_fmt_eta(void **state)
{
	char b[16];
	transfer_fmt_eta(1000, 0, b, sizeof b);
	assert_string_equal(b, "--");
	transfer_fmt_eta(0, 10, b, sizeof b);
	assert_string_equal(b, "0s");
	transfer_fmt_eta(0, 0, b, sizeof b);
	assert_string_equal(b, "0s");   /* done: no rate needed */
	transfer_fmt_eta(1, 10, b, sizeof b);
	assert_string_equal(b, "1s");   /* rounded up */
	transfer_fmt_eta(590, 10, b, sizeof b);
	assert_string_equal(b, "59s");
	transfer_fmt_eta(600, 10, b, sizeof b);
	assert_string_equal(b, "1m00s");
	transfer_fmt_eta(1850, 10, b, sizeof b);
	assert_string_equal(b, "3m05s");
	transfer_fmt_eta(7620, 1, b, sizeof b);
	assert_string_equal(b, "2h07m");
	transfer_fmt_eta(86400 * 3 + 3600 * 4 + 59, 1, b, sizeof b);
	assert_string_equal(b, "3d04h");
	transfer_fmt_eta(UINT64_MAX, 1, b, sizeof b);
	assert_string_equal(b, "--");
}

/* The progress line at a comfortable width: every part, bar included. */
static void test_progress_full(void **state)
{
	char out[256];
	struct transfer_progress p = {
		"Job12", "Transferring", 450ll * 1024 * 1024, 1024ll * 1024 * 1024,
		1572864, 1, 2, NULL,
	};
	size_t n = transfer_progress_line(&p, 100, out, sizeof out);
	assert_int_equal(n, strlen(out));
	assert_true(n <= 100);
	assert_string_equal(out, "Job12 [#############.................]   43%  450.0 MiB/1.0 GiB   "
	                         "1.5 MiB/s  ETA 6m23s  files 1/2");
	/* done: full bar, 100% */
	p.bytes_done = p.bytes_total;
	transfer_progress_line(&p, 100, out, sizeof out);
	assert_non_null(strstr(out, "[##############################]  100%"));
	assert_non_null(strstr(out, "ETA 0s "));
}

/* Narrower terminals: the bar shrinks, then goes; nothing passes width. */
static void test_progress_widths(void **state)
{
	char out[256];
	struct transfer_progress p = {
		"Job12", "Transferring", 512, 1024, 0, 0, 1, NULL,
	};
	for (int w = 0; w <= 120; w++) {
		size_t n = transfer_progress_line(&p, w, out, sizeof out);
		assert_true(n <= (size_t)w);
		assert_int_equal(n, strlen(out));
	}
	transfer_progress_line(&p, 70, out, sizeof out);
	assert_non_null(strchr(out, '['));
	assert_int_equal(strlen(out), 70);   /* the bar takes up the slack */
	/* numbers keep their widths (padded), so the bar does not jitter */
	assert_string_equal(out, "Job12 [##...]   50%    512 B/1.0 KiB       0 B/s  ETA --     "
	                         "files 0/1");
	transfer_progress_line(&p, 69, out, sizeof out);
	assert_null(strchr(out, '['));       /* too narrow for a bar of 5 */
	assert_string_equal(out, "Job12   50%    512 B/1.0 KiB       0 B/s  ETA --     files 0/1");
	/* narrower still: files go, then the rate, then the ETA, then it is cut;
	 * the room freed never brings the bar back */
	transfer_progress_line(&p, 61, out, sizeof out);
	assert_string_equal(out, "Job12   50%    512 B/1.0 KiB       0 B/s  ETA --   ");
	transfer_progress_line(&p, 41, out, sizeof out);
	assert_string_equal(out, "Job12   50%    512 B/1.0 KiB  ETA --   ");
	transfer_progress_line(&p, 33, out, sizeof out);
	assert_string_equal(out, "Job12   50%    512 B/1.0 KiB");
	transfer_progress_line(&p, 20, out, sizeof out);
	assert_string_equal(out, "Job12   50%    512 B");
	/* a small buffer wins over a big width */
	char small[10];
	assert_int_equal(transfer_progress_line(&p, 200, small, sizeof small), 9);
	assert_string_equal(small, "Job12 [##");
}

/* Unknown total: no bar, no percent, "?" for the total, ETA "--". */
static void test_progress_unknown_total(void **state)
{
	char out[256];
	struct transfer_progress p = {
		"big", "Transferring", 3 * 1024 * 1024, -1, 2048, 0, 1, NULL,
	};
	transfer_progress_line(&p, 100, out, sizeof out);
	assert_string_equal(out, "big  3.0 MiB/?   2.0 KiB/s  ETA --     files 0/1");
	assert_null(strchr(out, '%'));
}

/* Other states replace the bar with the state and its detail. */
static void test_progress_states(void **state)
{
	char out[256];
	struct transfer_progress p = {
		"Job3", "TransientError", 1024, 4096, 0, 0, 1, "retry at 12:00:05Z (in 4m10s)",
	};
	transfer_progress_line(&p, 100, out, sizeof out);
	assert_string_equal(out, "Job3  TransientError: retry at 12:00:05Z (in 4m10s)  "
	                         "1.0 KiB/4.0 KiB  files 0/1");
	p.state = "Connecting";
	p.detail = NULL;
	transfer_progress_line(&p, 100, out, sizeof out);
	assert_string_equal(out, "Job3  Connecting  1.0 KiB/4.0 KiB  files 0/1");
}

/* A long or multibyte label is cut on a character boundary. */
static void test_progress_label(void **state)
{
	char out[256];
	/* 11 two-byte characters: 22 bytes; then 'x' pairs past the label cap */
	struct transfer_progress p = {
		"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
		"\xc3\xa9\xc3\xa9xxxxxxxx",
		"Queued", 0, -1, 0, 0, 1, NULL,
	};
	transfer_progress_line(&p, 100, out, sizeof out);
	assert_int_equal(strncmp(out, p.label, 24), 0);
	assert_string_equal(out + 24, "  Queued  0 B/?  files 0/1");
	/* cut mid-character by width: the partial character is dropped */
	transfer_progress_line(&p, 5, out, sizeof out);
	assert_int_equal(strlen(out), 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_csv_plain),
		cmocka_unit_test(test_csv_header),
		cmocka_unit_test(test_csv_quotes),
		cmocka_unit_test(test_csv_whitespace),
		cmocka_unit_test(test_csv_bad_rows),
		cmocka_unit_test(test_csv_long_field),
		cmocka_unit_test(test_csv_callback_stops),
		cmocka_unit_test(test_csv_row_limit),
		cmocka_unit_test(test_fmt_bytes),
		cmocka_unit_test(test_fmt_eta),
		cmocka_unit_test(test_progress_full),
		cmocka_unit_test(test_progress_widths),
		cmocka_unit_test(test_progress_unknown_total),
		cmocka_unit_test(test_progress_states),
		cmocka_unit_test(test_progress_label),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
