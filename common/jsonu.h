/*
 * jsonu.h - checked access to untrusted JSON (over jansson).
 *
 * A request body is parsed once into an object, then every field is read
 * through a getter that checks type, range and length, rejects embedded NUL
 * bytes, and writes a reason a client can act on ("field 'name': expected a
 * string"). Handlers never touch json_t values directly.
 */
#ifndef TETHER_JSONU_H
#define TETHER_JSONU_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Parse len bytes into a JSON object (anything else is rejected).
 * Returns the new reference, or NULL with a reason in err. Duplicate keys
 * and embedded NULs are rejected. */
json_t *jsonu_parse_object(const char *text, size_t len, char *err, size_t errsz);

/* Getter results: a missing optional field leaves *out untouched. */
enum { JSONU_OK = 0, JSONU_MISSING = 1, JSONU_BAD = -1 };

/* Read a string field of 1..maxlen bytes without embedded NUL. *out points
 * into obj (valid while obj lives). required: missing is JSONU_BAD. */
int jsonu_get_string(json_t *obj, const char *key, bool required, size_t maxlen,
                     const char **out, char *err, size_t errsz);

/* Read an integer field in [min, max]. */
int jsonu_get_int(json_t *obj, const char *key, bool required, int64_t min,
                  int64_t max, int64_t *out, char *err, size_t errsz);

/* Read a boolean field. */
int jsonu_get_bool(json_t *obj, const char *key, bool required, bool *out,
                   char *err, size_t errsz);

/* Serialise compactly into a malloc'd string (caller frees); NULL on failure. */
char *jsonu_dump(const json_t *v, size_t *lenp);

/* Writing JSON text straight into a buffer, for replies too large to build
 * as a tree first (thousands of rows). Each returns 0, or -1 when the
 * buffer is full (its maximum); the buffer then holds part of the value. */
struct buf;

/* s as a JSON string: quoted; '"', '\\' and control characters escaped;
 * bytes that are not UTF-8 written as U+FFFD (as jansson would refuse
 * them, a reply never carries them). */
int jsonu_write_string(struct buf *b, const char *s);

/* v as a JSON number. */
int jsonu_write_int(struct buf *b, int64_t v);

#endif
