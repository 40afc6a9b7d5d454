/*
 * router.h - the route table type and the pure path matcher.
 *
 * Policy lives in the table, not in handlers (tmux's CMD_* flags, OpenSSH's
 * monitor permit flags): each route declares its method, path pattern,
 * whether it needs an authenticated user and its body limit, and the
 * dispatcher in http.c enforces all of that before any handler runs.
 * Patterns are literal segments and "{name}" placeholders; a placeholder
 * matches one segment of [A-Za-z0-9._-], so hostile paths never reach a
 * handler.
 */
#ifndef TETHER_ROUTER_H
#define TETHER_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

#include "bounds.h"
#include "error.h"

#define ROUTE_MAX_PARAMS   4
#define ROUTE_MAX_SEGMENTS 8

struct req;

enum route_method { M_GET = 1, M_POST = 2, M_PUT = 4, M_DELETE = 8, M_PATCH = 16, M_HEAD = 32,
                    M_OPTIONS = 64 };

/* A handler fills r's response and returns TETHER_E_OK, or returns an error
 * after req_error() has recorded a message. */
typedef tether_err (*route_handler)(struct req *r);

/* A streamed body's bytes, as they arrive (see struct route's stream). */
typedef tether_err (*route_body)(struct req *r, const char *data, size_t len);

struct route {
	int           method;      /* one enum route_method value */
	const char   *pattern;     /* "/v1/sessions/{ref}" */
	bool          auth;        /* needs a valid bearer token */
	size_t        body_max;    /* largest accepted body in bytes */
	route_handler handler;
	/* A streamed route takes a raw body (application/offset+octet-stream)
	 * that is never buffered: `begin` runs on the headers, after every
	 * other check and before a byte of the body is read (an error answers
	 * at once), `stream` gets the body piece by piece, then `handler`. */
	route_handler begin;
	route_body    stream;
	/* The body may also be raw bytes (application/octet-stream), buffered
	 * within body_max like JSON and left unparsed (req's in_raw). */
	bool          raw_ok;
};

/* Table rows: an ordinary route, a streamed one, one that also takes raw
 * bytes. */
#define ROUTE(m, path, auth, limit, handler) { m, path, auth, limit, handler, NULL, NULL, false }
#define STREAMED(m, path, auth, limit, handler, begin, stream) \
	{ m, path, auth, limit, handler, begin, stream, false }
#define RAW_OK(m, path, auth, limit, handler) { m, path, auth, limit, handler, NULL, NULL, true }

struct route_params {
	int  n;
	char v[ROUTE_MAX_PARAMS][BOUND_NAME + 1];
};

enum route_result { ROUTE_FOUND, ROUTE_NO_PATH, ROUTE_BAD_METHOD };

/* Map "GET", "POST"... to a method bit, 0 if unknown. */
int router_method(const char *s);

/* Find the route for method+path. On ROUTE_FOUND *out and params are set; on
 * ROUTE_BAD_METHOD *allowed has the bits of methods the path does accept. */
enum route_result router_match(const struct route *table, size_t n, int method,
                               const char *path, const struct route **out,
                               struct route_params *params, int *allowed);

/* "GET, POST" for an allowed-methods mask, for the Allow header. */
void router_allow_header(int allowed, char *out, size_t outsz);

#endif
