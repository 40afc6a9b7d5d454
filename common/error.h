/*
 * error.h - tether's one error vocabulary, shared by server and client.
 *
 * An X-macro generates the enum, the stable wire codes and the HTTP status
 * together (libuv's UV_ERRNO_MAP idea), so the mapping from a failure to what
 * the peer sees lives in exactly one place. Wire codes are stable; enum values
 * never leave the process, so new wire errors go before the client-only ones.
 */
#ifndef TETHER_ERROR_H
#define TETHER_ERROR_H

#include <stddef.h>

/*  X(ENUM,                 "wire_code",            http, "default message") */
#define TETHER_ERROR_MAP(X) \
	X(OK,                   "ok",                   200, "success") \
	X(BAD_REQUEST,          "bad_request",          400, "malformed request") \
	X(INVALID_ARGUMENT,     "invalid_argument",     400, "invalid argument") \
	X(UNAUTHORIZED,         "unauthorized",         401, "authentication required") \
	X(AUTH_FAILED,          "auth_failed",          401, "wrong user name or password") \
	X(FORBIDDEN,            "forbidden",            403, "not permitted") \
	X(NOT_FOUND,            "not_found",            404, "no such object") \
	X(METHOD_NOT_ALLOWED,   "method_not_allowed",   405, "method not allowed") \
	X(CONFLICT,             "conflict",             409, "conflict") \
	X(PAYLOAD_TOO_LARGE,    "payload_too_large",    413, "request body too large") \
	X(UNSUPPORTED_MEDIA,    "unsupported_media_type", 415, "expected application/json") \
	X(LOCKED_OUT,           "locked_out",           429, "too many failed attempts") \
	X(LIMIT_EXCEEDED,       "limit_exceeded",       429, "limit exceeded") \
	X(VERSION_MISMATCH,     "version_mismatch",     400, "unsupported API version") \
	X(INTERNAL,             "internal",             500, "internal error") \
	X(UNAVAILABLE,          "unavailable",          503, "service unavailable") \
	X(CHECKSUM_MISMATCH,    "checksum_mismatch",    460, "checksum mismatch") \
	X(INSUFFICIENT_STORAGE, "insufficient_storage", 507, "no space left on the server") \
	X(PRECONDITION_FAILED,  "precondition_failed",  412, "unsupported protocol version") \
	/* client-side failures below never travel on the wire */ \
	X(USAGE,                "usage",                  0, "usage error") \
	X(CONNECT,              "connect_failed",         0, "cannot connect") \
	X(TLS,                  "tls_failed",             0, "TLS handshake failed") \
	X(HOSTKEY_CHANGED,      "hostkey_changed",        0, "server key changed") \
	X(HOSTKEY_UNKNOWN,      "hostkey_unknown",        0, "server key not known") \
	X(HOSTKEY_REJECTED,     "hostkey_rejected",       0, "server key not accepted") \
	X(NOT_LOGGED_IN,        "not_logged_in",          0, "not logged in") \
	X(PROTOCOL,             "protocol_error",         0, "unexpected reply") \
	X(IO,                   "io_error",               0, "input/output error") \
	X(NOMEM,                "out_of_memory",          0, "out of memory") \
	X(INTERRUPTED,          "interrupted",            0, "interrupted") \
	X(TIMED_OUT,            "timed_out",              0, "timed out")

typedef enum {
#define TETHER_ERR_ENUM(name, code, http, msg) TETHER_E_##name,
	TETHER_ERROR_MAP(TETHER_ERR_ENUM)
#undef TETHER_ERR_ENUM
	TETHER_E__COUNT
} tether_err;

/* The stable wire code ("not_found") for an error. */
const char *tether_err_code(tether_err e);

/* A short English description of an error. */
const char *tether_strerror(tether_err e);

/* The HTTP status an error maps to (500 for client-only errors). */
int tether_err_http_status(tether_err e);

/* The error for a wire code, or TETHER_E_PROTOCOL if unknown. */
tether_err tether_err_from_code(const char *code);

/* ---- Not libtether API: the installed <tether/error.h> ends above this line
 * (client/CMakeLists.txt cuts it here; docs/install.md). ---- */

/* Write a formatted reason into err (errsz bytes), if there is one: how
 * parsers and validators say why they refused. */
__attribute__((format(printf, 3, 4)))
void tether_reason(char *err, size_t errsz, const char *fmt, ...);

#endif
