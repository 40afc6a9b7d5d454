/*
 * jsonu.c - checked reading of untrusted JSON over jansson.
 *
 * Parsing is strict (whole input, duplicate keys and \u0000 rejected) and
 * the top level must be an object. Each getter checks one field's presence,
 * type and bounds and, on failure, writes a message naming the field that a
 * client can act on. A JSON null is a wrong type, never "missing".
 */
#include "buf.h"
#include "error.h"
#include "jsonu.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Parse len bytes that must form exactly one JSON object. */
json_t *jsonu_parse_object(const char *text, size_t len, char *err, size_t errsz)
{
	json_error_t je;
	json_t *v;

	v = json_loadb(text ? text : "", text ? len : 0,
	               JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
	if (!v) {
		tether_reason(err, errsz, "invalid JSON at line %d column %d: %s", je.line,
		       je.column, je.text);
		return NULL;
	}
	if (!json_is_object(v)) {
		json_decref(v);
		tether_reason(err, errsz, "expected a JSON object");
		return NULL;
	}
	return v;
}

/* Look up key; report MISSING (or BAD when required) if it is absent. */
static int field(json_t *obj, const char *key, bool required, json_t **v,
                 char *err, size_t errsz)
{
	*v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
	if (*v)
		return JSONU_OK;
	if (!required)
		return JSONU_MISSING;
	tether_reason(err, errsz, "field '%s': missing", key);
	return JSONU_BAD;
}

/* Read a non-empty string field of at most maxlen bytes. */
int jsonu_get_string(json_t *obj, const char *key, bool required, size_t maxlen,
                     const char **out, char *err, size_t errsz)
{
	json_t *v;
	const char *s;
	size_t n;
	int r = field(obj, key, required, &v, err, errsz);

	if (r != JSONU_OK)
		return r;
	if (!json_is_string(v)) {
		tether_reason(err, errsz, "field '%s': expected a string", key);
		return JSONU_BAD;
	}
	s = json_string_value(v);
	n = json_string_length(v);
	if (strlen(s) != n) {
		tether_reason(err, errsz, "field '%s': contains a NUL byte", key);
		return JSONU_BAD;
	}
	if (n == 0) {
		tether_reason(err, errsz, "field '%s': empty", key);
		return JSONU_BAD;
	}
	if (n > maxlen) {
		tether_reason(err, errsz, "field '%s': too long (max %zu bytes)", key, maxlen);
		return JSONU_BAD;
	}
	*out = s;
	return JSONU_OK;
}

/* Read an integer field in [min, max]; reals and booleans are refused. */
int jsonu_get_int(json_t *obj, const char *key, bool required, int64_t min,
                  int64_t max, int64_t *out, char *err, size_t errsz)
{
	json_t *v;
	json_int_t x;
	int r = field(obj, key, required, &v, err, errsz);

	if (r != JSONU_OK)
		return r;
	if (!json_is_integer(v)) {
		tether_reason(err, errsz, "field '%s': expected an integer", key);
		return JSONU_BAD;
	}
	x = json_integer_value(v);
	if (x < min || x > max) {
		tether_reason(err, errsz, "field '%s': must be between %" PRId64 " and %" PRId64,
		       key, min, max);
		return JSONU_BAD;
	}
	*out = (int64_t)x;
	return JSONU_OK;
}

/* Read a true/false field. */
int jsonu_get_bool(json_t *obj, const char *key, bool required, bool *out,
                   char *err, size_t errsz)
{
	json_t *v;
	int r = field(obj, key, required, &v, err, errsz);

	if (r != JSONU_OK)
		return r;
	if (!json_is_boolean(v)) {
		tether_reason(err, errsz, "field '%s': expected true or false", key);
		return JSONU_BAD;
	}
	*out = json_is_true(v);
	return JSONU_OK;
}

/* Serialise v compactly into a malloc'd string. */
char *jsonu_dump(const json_t *v, size_t *lenp)
{
	char *s = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;

	if (s && lenp)
		*lenp = strlen(s);
	return s;
}

/* The length of the UTF-8 sequence at p (1-4), or 0 if it is not one
 * (overlong forms, surrogates and code points past U+10FFFF included). */
static size_t utf8_seq(const unsigned char *p)
{
	unsigned c = p[0];
	size_t n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3
	         : (c & 0xf8) == 0xf0 ? 4 : 0;
	for (size_t i = 1; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	if (n == 2 && c < 0xc2)
		return 0;
	if (n == 3 && ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] >= 0xa0)))
		return 0;
	if (n == 4 && ((c == 0xf0 && p[1] < 0x90) || c > 0xf4 || (c == 0xf4 && p[1] >= 0x90)))
		return 0;
	return n;
}

int jsonu_write_string(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	if (buf_append(b, "\"", 1) != 0)
		return -1;
	while (*p != '\0') {
		const unsigned char *run = p;   /* the next bytes that need no escape */
		size_t n;
		while (*p >= 0x20 && *p != '"' && *p != '\\' && (n = utf8_seq(p)) > 0)
			p += n;
		if (p > run && buf_append(b, run, (size_t)(p - run)) != 0)
			return -1;
		if (*p == '\0')
			break;
		char esc[7] = "\\u00";
		size_t len = 2;
		if (*p == '"' || *p == '\\')
			esc[1] = (char)*p;
		else if (*p == '\n')
			esc[1] = 'n';
		else if (*p == '\t')
			esc[1] = 't';
		else if (*p == '\r')
			esc[1] = 'r';
		else if (*p < 0x20) {
			esc[4] = hex[*p >> 4];
			esc[5] = hex[*p & 15];
			len = 6;
		} else {
			memcpy(esc, "\\ufffd", 6);   /* not UTF-8 */
			len = 6;
		}
		if (buf_append(b, esc, len) != 0)
			return -1;
		p++;
	}
	return buf_append(b, "\"", 1);
}

int jsonu_write_int(struct buf *b, int64_t v)
{
	char t[24], *e = t + sizeof t, *q = e;
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
	do
		*--q = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	if (v < 0)
		*--q = '-';
	return buf_append(b, q, (size_t)(e - q));
}
