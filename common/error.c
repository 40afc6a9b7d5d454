/*
 * error.c - tables generated from TETHER_ERROR_MAP.
 *
 * The three lookups are plain arrays indexed by the enum, built by the same
 * X-macro as the enum itself, so they cannot drift apart. Any out-of-range
 * value (a corrupted or future code) degrades to "internal"/500 rather than
 * reading past a table.
 */
#include <stdarg.h>
#include <stdio.h>

#include "error.h"

#include <stddef.h>
#include <string.h>

static const struct {
	const char *code;
	int         http;
	const char *msg;
} errors[] = {
#define TETHER_ERR_ROW(name, code, http, msg) { code, http, msg },
	TETHER_ERROR_MAP(TETHER_ERR_ROW)
#undef TETHER_ERR_ROW
};

_Static_assert(sizeof errors / sizeof errors[0] == TETHER_E__COUNT,
               "error table out of step with the enum");

/* The table index for e, with anything out of range mapped to INTERNAL. */
static size_t err_index(tether_err e)
{
	return (size_t)e < TETHER_E__COUNT ? (size_t)e : (size_t)TETHER_E_INTERNAL;
}

/* The stable wire code for e. */
const char *tether_err_code(tether_err e)
{
	return errors[err_index(e)].code;
}

/* The default English message for e. */
const char *tether_strerror(tether_err e)
{
	return errors[err_index(e)].msg;
}

/* The HTTP status for e; client-only errors become 500. */
int tether_err_http_status(tether_err e)
{
	int http = errors[err_index(e)].http;

	return http ? http : 500;
}

/* The error named by a wire code; client-only codes never arrive on the wire,
 * so they (like unknown codes) read as a protocol error. */
tether_err tether_err_from_code(const char *code)
{
	size_t i;

	if (!code)
		return TETHER_E_PROTOCOL;
	for (i = 0; i < TETHER_E__COUNT; i++)
		if (errors[i].http && strcmp(errors[i].code, code) == 0)
			return (tether_err)i;
	return TETHER_E_PROTOCOL;
}

void tether_reason(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;
	if (err == NULL || errsz == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
}
