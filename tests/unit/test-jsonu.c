/*
 * test-jsonu.c - unit tests for checked JSON access.
 *
 * Request bodies are hostile by assumption, so the parser is fed the usual
 * tricks (trailing data, duplicate keys, \u0000, deep nesting, non-objects)
 * and every getter is checked for its exact client-facing message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "jsonu.h"

/* Parse a C string as an object. */
static json_t *parse(const char *s, char *err, size_t errsz)
{
	err[0] = '\0';
	return jsonu_parse_object(s, strlen(s), err, errsz);
}

/* Objects parse; only len bytes are looked at. */
static void test_parse_ok(void **state)
{
	char err[256];
	json_t *o = parse("  {\"a\": 1, \"b\": [true, null]}\n", err, sizeof err);

	assert_non_null(o);
	assert_string_equal(err, "");
	assert_true(json_is_object(o));
	assert_int_equal(json_object_size(o), 2);
	json_decref(o);
	o = jsonu_parse_object("{}garbage", 2, err, sizeof err);
	assert_non_null(o);
	json_decref(o);
}

/* Syntax errors report line and column. */
static void test_parse_syntax(void **state)
{
	static const char *const bad[] = {
		"", "{", "{\"a\":}", "{} x", "{}{}", "{\"a\":1,}", "{'a':1}", "{\"a\":01}",
		"{\"a\":\"\\u0000\"}", "{\"a\":1,\"a\":2}", "{\"a\":\"\xff\"}", "nul",
	};
	char err[256];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_null(parse(bad[i], err, sizeof err));
		assert_memory_equal(err, "invalid JSON at line ", 21);
		assert_non_null(strstr(err, " column "));
	}
	assert_null(parse("{\n\n  \"a\": x}", err, sizeof err));
	assert_memory_equal(err, "invalid JSON at line 3 column", 29);
}

/* A raw NUL byte inside the input is refused. */
static void test_parse_raw_nul(void **state)
{
	char err[256];

	assert_null(jsonu_parse_object("{\"a\":\"x\0y\"}", 11, err, sizeof err));
	assert_memory_equal(err, "invalid JSON", 12);
	assert_null(jsonu_parse_object("{}\0", 3, err, sizeof err));
}

/* Valid JSON that is not an object is refused with its own message. */
static void test_parse_not_object(void **state)
{
	static const char *const bad[] = { "[]", "[1,2]", "42", "\"s\"", "true", "null", "1.5" };
	char err[256];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_null(parse(bad[i], err, sizeof err));
		assert_string_equal(err, "expected a JSON object");
	}
}

/* Absurd nesting fails cleanly instead of exhausting the stack. */
static void test_parse_deep(void **state)
{
	size_t n = 100000;
	char *s = malloc(2 * n + 3), err[256];

	assert_non_null(s);
	s[0] = '{';
	s[1] = '"';
	s[2] = 'a';
	s[3] = '"';
	s[4] = ':';
	memset(s + 5, '[', n - 5);
	memset(s + n, ']', n - 5);
	s[2 * n - 5] = '}';
	assert_null(jsonu_parse_object(s, 2 * n - 4, err, sizeof err));
	assert_memory_equal(err, "invalid JSON", 12);
	free(s);
}

/* Strings: present, missing, wrong type, empty, too long, NUL. */
static void test_get_string(void **state)
{
	char err[256];
	json_t *o = parse("{\"name\":\"web\",\"n\":5,\"z\":null,\"e\":\"\",\"b\":true,\"o\":{},"
	                  "\"max\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
	                  err, sizeof err);
	const char *s = "untouched";

	assert_non_null(o);
	assert_int_equal(jsonu_get_string(o, "name", true, 64, &s, err, sizeof err), JSONU_OK);
	assert_string_equal(s, "web");
	s = "untouched";
	assert_int_equal(jsonu_get_string(o, "nope", false, 64, &s, err, sizeof err),
	                 JSONU_MISSING);
	assert_string_equal(s, "untouched");
	assert_int_equal(jsonu_get_string(o, "nope", true, 64, &s, err, sizeof err), JSONU_BAD);
	assert_string_equal(err, "field 'nope': missing");
	assert_int_equal(jsonu_get_string(o, "n", false, 64, &s, err, sizeof err), JSONU_BAD);
	assert_string_equal(err, "field 'n': expected a string");
	assert_int_equal(jsonu_get_string(o, "z", false, 64, &s, err, sizeof err), JSONU_BAD);
	assert_string_equal(err, "field 'z': expected a string");
	assert_int_equal(jsonu_get_string(o, "b", false, 64, &s, err, sizeof err), JSONU_BAD);
	assert_int_equal(jsonu_get_string(o, "o", false, 64, &s, err, sizeof err), JSONU_BAD);
	assert_int_equal(jsonu_get_string(o, "e", false, 64, &s, err, sizeof err), JSONU_BAD);
	assert_string_equal(err, "field 'e': empty");
	assert_int_equal(jsonu_get_string(o, "max", true, 64, &s, err, sizeof err), JSONU_OK);
	assert_int_equal(strlen(s), 64);
	assert_int_equal(jsonu_get_string(o, "max", true, 63, &s, err, sizeof err), JSONU_BAD);
	assert_string_equal(err, "field 'max': too long (max 63 bytes)");
	assert_string_equal(s, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	json_decref(o);
}

/* A string with an embedded NUL (built directly) is refused. */
static void test_get_string_nul(void **state)
{
	json_t *o = json_object();
	const char *s = NULL;
	char err[256];

	assert_non_null(o);
	assert_int_equal(json_object_set_new(o, "name", json_stringn("a\0b", 3)), 0);
	assert_int_equal(jsonu_get_string(o, "name", true, 64, &s, err, sizeof err), JSONU_BAD);
	assert_string_equal(err, "field 'name': contains a NUL byte");
	assert_null(s);
	json_decref(o);
	assert_int_equal(jsonu_get_string(NULL, "name", false, 64, &s, err, sizeof err),
	                 JSONU_MISSING);
}

/* Integers: range inclusive, reals, booleans, strings and null refused. */
static void test_get_int(void **state)
{
	char err[256];
	json_t *o = parse("{\"idle_timeout\":7200,\"lo\":0,\"hi\":31536000,\"over\":31536001,"
	                  "\"neg\":-1,\"real\":1.0,\"t\":true,\"s\":\"5\",\"z\":null,"
	                  "\"big\":9223372036854775807,\"small\":-9223372036854775808}",
	                  err, sizeof err);
	int64_t v = 99;

	assert_non_null(o);
	assert_int_equal(jsonu_get_int(o, "idle_timeout", true, 0, 31536000, &v, err,
	                               sizeof err), JSONU_OK);
	assert_int_equal(v, 7200);
	assert_int_equal(jsonu_get_int(o, "lo", true, 0, 31536000, &v, err, sizeof err),
	                 JSONU_OK);
	assert_int_equal(v, 0);
	assert_int_equal(jsonu_get_int(o, "hi", true, 0, 31536000, &v, err, sizeof err),
	                 JSONU_OK);
	assert_int_equal(v, 31536000);
	v = 99;
	assert_int_equal(jsonu_get_int(o, "over", true, 0, 31536000, &v, err, sizeof err),
	                 JSONU_BAD);
	assert_string_equal(err, "field 'over': must be between 0 and 31536000");
	assert_int_equal(jsonu_get_int(o, "neg", true, 0, 31536000, &v, err, sizeof err),
	                 JSONU_BAD);
	assert_string_equal(err, "field 'neg': must be between 0 and 31536000");
	assert_int_equal(v, 99);
	assert_int_equal(jsonu_get_int(o, "real", true, 0, 10, &v, err, sizeof err), JSONU_BAD);
	assert_string_equal(err, "field 'real': expected an integer");
	assert_int_equal(jsonu_get_int(o, "t", true, 0, 10, &v, err, sizeof err), JSONU_BAD);
	assert_int_equal(jsonu_get_int(o, "s", true, 0, 10, &v, err, sizeof err), JSONU_BAD);
	assert_int_equal(jsonu_get_int(o, "z", false, 0, 10, &v, err, sizeof err), JSONU_BAD);
	assert_string_equal(err, "field 'z': expected an integer");
	assert_int_equal(jsonu_get_int(o, "nope", false, 0, 10, &v, err, sizeof err),
	                 JSONU_MISSING);
	assert_int_equal(jsonu_get_int(o, "nope", true, 0, 10, &v, err, sizeof err), JSONU_BAD);
	assert_string_equal(err, "field 'nope': missing");
	assert_int_equal(v, 99);
	assert_int_equal(jsonu_get_int(o, "big", true, INT64_MIN, INT64_MAX, &v, err,
	                               sizeof err), JSONU_OK);
	assert_true(v == INT64_MAX);
	assert_int_equal(jsonu_get_int(o, "small", true, INT64_MIN, INT64_MAX, &v, err,
	                               sizeof err), JSONU_OK);
	assert_true(v == INT64_MIN);
	json_decref(o);
	assert_null(parse("{\"n\":9223372036854775808}", err, sizeof err));
}

/* Booleans: only true and false. */
static void test_get_bool(void **state)
{
	char err[256];
	json_t *o = parse("{\"t\":true,\"f\":false,\"one\":1,\"s\":\"true\",\"z\":null}", err,
	                  sizeof err);
	bool b = false;

	assert_non_null(o);
	assert_int_equal(jsonu_get_bool(o, "t", true, &b, err, sizeof err), JSONU_OK);
	assert_true(b);
	assert_int_equal(jsonu_get_bool(o, "f", true, &b, err, sizeof err), JSONU_OK);
	assert_false(b);
	b = true;
	assert_int_equal(jsonu_get_bool(o, "one", true, &b, err, sizeof err), JSONU_BAD);
	assert_string_equal(err, "field 'one': expected true or false");
	assert_int_equal(jsonu_get_bool(o, "s", true, &b, err, sizeof err), JSONU_BAD);
	assert_int_equal(jsonu_get_bool(o, "z", true, &b, err, sizeof err), JSONU_BAD);
	assert_int_equal(jsonu_get_bool(o, "nope", false, &b, err, sizeof err), JSONU_MISSING);
	assert_true(b);
	assert_int_equal(jsonu_get_bool(o, "nope", true, &b, err, sizeof err), JSONU_BAD);
	assert_string_equal(err, "field 'nope': missing");
	json_decref(o);
}

/* A tiny or absent error buffer is handled. */
static void test_err_buffers(void **state)
{
	char err[6];
	json_t *o = json_object();
	const char *s;

	assert_null(jsonu_parse_object("[]", 2, err, sizeof err));
	assert_string_equal(err, "expec");
	assert_null(jsonu_parse_object("[]", 2, NULL, 0));
	assert_int_equal(jsonu_get_string(o, "k", true, 1, &s, NULL, 0), JSONU_BAD);
	json_decref(o);
}

/* Dumps are compact, keep insertion order and report their length. */
static void test_dump(void **state)
{
	json_t *o = json_pack("{s:i, s:[i,i], s:s, s:b}", "a", 1, "b", 1, 2, "c", "x\"y", "d", 0);
	json_t *n = json_integer(5);
	size_t len = 0;
	char *s;

	assert_non_null(o);
	s = jsonu_dump(o, &len);
	assert_non_null(s);
	assert_string_equal(s, "{\"a\":1,\"b\":[1,2],\"c\":\"x\\\"y\",\"d\":false}");
	assert_int_equal(len, strlen(s));
	free(s);
	s = jsonu_dump(n, NULL);
	assert_string_equal(s, "5");
	free(s);
	assert_null(jsonu_dump(NULL, &len));
	json_decref(o);
	json_decref(n);
}

/* Run the tests. */
/* Write s as a JSON string, parse it back with jansson: the decoded text. */
static char *round_trip(const char *s)
{
	struct buf b;
	buf_init(&b, 4096);
	assert_int_equal(jsonu_write_string(&b, s), 0);
	json_error_t je;
	json_t *v = json_loads(buf_cstr(&b), JSON_DECODE_ANY, &je);
	assert_non_null(v);
	assert_true(json_is_string(v));
	char *out = strdup(json_string_value(v));
	json_decref(v);
	buf_free(&b);
	return out;
}

/* Strings come back as they went, escapes where JSON needs them, and
 * bytes that are not UTF-8 as U+FFFD; a full buffer is -1. */
static void test_write_string(void **state)
{
	(void)state;
	static const struct { const char *in, *json, *back; } cases[] = {
		{ "", "\"\"", "" },
		{ "plain-name_1.x", "\"plain-name_1.x\"", "plain-name_1.x" },
		{ "q\"b\\", "\"q\\\"b\\\\\"", "q\"b\\" },
		{ "a\nb\tc\rd\x01\x1f\x7f", "\"a\\nb\\tc\\rd\\u0001\\u001f\x7f\"",
		  "a\nb\tc\rd\x01\x1f\x7f" },
		{ "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", NULL,
		  "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80" },
		{ "x\xffy", "\"x\\ufffdy\"", "x\xef\xbf\xbdy" },
		{ "\xc3", NULL, "\xef\xbf\xbd" },                     /* cut short */
		{ "\xc0\xaf", NULL, "\xef\xbf\xbd\xef\xbf\xbd" },     /* overlong */
		{ "\xed\xa0\x80", NULL, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },   /* surrogate */
		{ "\xf4\x90\x80\x80", NULL,
		  "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },   /* past U+10FFFF */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		if (cases[i].json != NULL) {
			struct buf b;
			buf_init(&b, 4096);
			assert_int_equal(jsonu_write_string(&b, cases[i].in), 0);
			assert_string_equal(buf_cstr(&b), cases[i].json);
			buf_free(&b);
		}
		char *back = round_trip(cases[i].in);
		assert_string_equal(back, cases[i].back);
		free(back);
	}
	struct buf small;
	buf_init(&small, 8);
	assert_int_equal(jsonu_write_string(&small, "0123456789"), -1);
	assert_true(small.len <= 8);
	buf_free(&small);
}

/* Integers as JSON numbers, the extremes included. */
static void test_write_int(void **state)
{
	(void)state;
	static const struct { int64_t v; const char *text; } cases[] = {
		{ 0, "0" }, { 7, "7" }, { -1, "-1" }, { 1234567890123, "1234567890123" },
		{ INT64_MAX, "9223372036854775807" }, { INT64_MIN, "-9223372036854775808" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct buf b;
		buf_init(&b, 64);
		assert_int_equal(jsonu_write_int(&b, cases[i].v), 0);
		assert_string_equal(buf_cstr(&b), cases[i].text);
		buf_free(&b);
	}
	struct buf small;
	buf_init(&small, 2);
	assert_int_equal(jsonu_write_int(&small, 123), -1);
	buf_free(&small);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ok),
		cmocka_unit_test(test_parse_syntax),
		cmocka_unit_test(test_parse_raw_nul),
		cmocka_unit_test(test_parse_not_object),
		cmocka_unit_test(test_parse_deep),
		cmocka_unit_test(test_get_string),
		cmocka_unit_test(test_get_string_nul),
		cmocka_unit_test(test_get_int),
		cmocka_unit_test(test_get_bool),
		cmocka_unit_test(test_err_buffers),
		cmocka_unit_test(test_dump),
		cmocka_unit_test(test_write_string),
		cmocka_unit_test(test_write_int),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
