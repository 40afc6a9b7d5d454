/* Unit tests for common/outlog.c: framing round trips and hostile input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "outlog.h"

struct seen {
	int    n;
	int    streams[8];
	size_t lens[8];
	char   text[256];
	size_t tlen;
};

static int collect(void *ctx, int stream, const uint8_t *data, size_t len)
{
	struct seen *s = ctx;
	s->streams[s->n] = stream;
	s->lens[s->n++] = len;
	memcpy(s->text + s->tlen, data, len);
	s->tlen += len;
	return 0;
}

static size_t put(uint8_t *buf, int stream, const char *payload, size_t len)
{
	outlog_header(buf, stream, (uint32_t)len);
	memcpy(buf + OUTLOG_HDR, payload, len);
	return OUTLOG_HDR + len;
}

static void test_round_trip_and_partial(void **state)
{
	uint8_t buf[128];
	size_t n = 0;
	n += put(buf + n, OUTLOG_STDOUT, "out1", 4);
	n += put(buf + n, OUTLOG_STDERR, "e\0r", 3);   /* binary payload */
	n += put(buf + n, OUTLOG_STDOUT, "", 0);
	size_t full = n;
	n += put(buf + n, OUTLOG_STDOUT, "tail", 4);
	struct seen s = { 0 };
	/* a partial last record is left for later */
	assert_int_equal(outlog_parse(buf, n - 2, collect, &s), (long)full);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.streams[1], OUTLOG_STDERR);
	assert_int_equal(s.lens[1], 3);
	assert_memory_equal(s.text, "out1e\0r", 7);
	/* a header split in the middle is also partial */
	assert_int_equal(outlog_parse(buf, 3, NULL, NULL), 0);
	assert_int_equal(outlog_parse(buf, n, NULL, NULL), (long)n);
}

static void test_hostile_headers(void **state)
{
	uint8_t buf[16] = { 0 };
	outlog_header(buf, 9, 1);
	assert_int_equal(outlog_parse(buf, sizeof buf, NULL, NULL), -1);
	outlog_header(buf, 0, 1);
	assert_int_equal(outlog_parse(buf, sizeof buf, NULL, NULL), -1);
	outlog_header(buf, OUTLOG_STDOUT, OUTLOG_MAX_RECORD + 1);
	assert_int_equal(outlog_parse(buf, sizeof buf, NULL, NULL), -1);
	outlog_header(buf, OUTLOG_STDOUT, 0xffffffffu);
	assert_int_equal(outlog_parse(buf, sizeof buf, NULL, NULL), -1);
	/* the length is little-endian */
	outlog_header(buf, OUTLOG_MARKER, 0x01020304u);
	assert_int_equal(buf[1], 4);
	assert_int_equal(buf[4], 1);
}

static int stop_cb(void *ctx, int stream, const uint8_t *d, size_t len) { return 1; }

static void test_callback_abort(void **state)
{
	uint8_t buf[16];
	size_t n = put(buf, OUTLOG_STDOUT, "x", 1);
	assert_int_equal(outlog_parse(buf, n, stop_cb, NULL), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_and_partial),
		cmocka_unit_test(test_hostile_headers),
		cmocka_unit_test(test_callback_abort),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
