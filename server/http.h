/*
 * http.h - the HTTPS front end: libmicrohttpd, the request context and the
 * one dispatcher that applies the route table's policy.
 *
 * Order of checks for every request, before any handler runs: route and
 * method (404/405), API version header, client id header, bearer token
 * (401), body size against Content-Length (413, before a byte is read, and
 * again while reading), Content-Type (415), JSON syntax (400). Errors are always {"error":{"code","message"}}, built in
 * exactly one place from the tether_err table.
 */
#ifndef TETHER_HTTP_H
#define TETHER_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"
#include "router.h"
#include "store.h"
#include "tetherd.h"

struct req {
	struct server          *srv;
	struct MHD_Connection  *conn;
	const struct route     *route;
	struct route_params     params;
	int                     method;
	struct buf              body;
	bool                    body_too_large;
	bool                    in_raw;      /* body is raw bytes (a raw_ok route) */
	size_t                  discarded;   /* body bytes dropped past the limit */
	bool                    responded;
	json_t                 *in;          /* parsed body (an object) or NULL */
	bool                    authed;
	struct user_rec         user;
	char                    token_hash[2 * CRYPTO_SHA256_LEN + 1];
	int64_t                 token_expires;
	char                    client_id[TETHER_CLIENT_ID_LEN + 1];
	char                    peer[64];
	/* response */
	int                     status;
	json_t                 *out;
	tether_err              err;
	char                    errmsg[256];
	int64_t                 retry_after;  /* seconds, for 429 */
	char                    allow[64];    /* Allow header, for 405 */
	struct buf              raw;          /* a binary reply, if raw_reply */
	bool                    raw_reply;
	void                  (*raw_done)(void *ctx);   /* called once raw is freed */
	void                   *raw_done_ctx;
	const char             *raw_type;     /* its Content-Type; NULL: octet-stream */
	struct stream_reply    *stream;       /* a reply produced as it is sent */
	char                    xhdr[12][2][80]; /* extra response headers (an output
	                                          * reply has up to 10) */
	int                     nxhdr;
	int64_t                 t0_ms;
	/* a streamed route's (struct route's begin/stream) */
	int64_t                 body_len;     /* its Content-Length */
	void                   *ctx;          /* its state, freed by ctx_free */
	void                  (*ctx_free)(void *ctx);
};

/* The body type of streamed routes (tus's). */
#define HTTP_MEDIA_STREAM "application/offset+octet-stream"

/* A request header, or NULL. */
const char *req_get_header(struct req *r, const char *name);

/* The TLS exporter value of r's connection (keylogin.h: the channel a key
 * login's signature is bound to). 0, or -1. */
int req_tls_binding(struct req *r, unsigned char out[32]);

/* Record an error for the response and return it (printf-style message). */
tether_err req_error(struct req *r, tether_err e, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Set a successful response; takes ownership of body (may be NULL). */
tether_err req_reply(struct req *r, int status, json_t *body);

/* Set a binary (application/octet-stream) reply; takes data's contents. */
tether_err req_reply_raw(struct req *r, int status, struct buf *data);

/* The same, and done(ctx) once the reply's bytes are freed: after it was
 * sent, or when the request ends without it. */
tether_err req_reply_raw_then(struct req *r, int status, struct buf *data,
                              void (*done)(void *ctx), void *ctx);

/* Set a reply of len bytes (application/octet-stream) that read(ctx,
 * pos, buf, max) produces as the client takes them: the count it put in
 * buf (at least 1), or -1 to cut the reply short (the client sees a body
 * shorter than its Content-Length). done(ctx) is called exactly once,
 * whatever happens, even if the reply is never sent. */
tether_err req_reply_stream(struct req *r, int status, uint64_t len,
                            ssize_t (*read)(void *ctx, uint64_t pos, char *buf, size_t max),
                            void (*done)(void *ctx), void *ctx);

/* A query parameter, percent-decoded into out (at most outsz - 1 bytes);
 * 1 if given, 0 if absent, -1 (a 400 error recorded) if malformed, too
 * long or holding a NUL or another control character. */
int req_query_str(struct req *r, const char *name, char *out, size_t outsz);

/* True if the client has closed its side of r's connection (it went
 * away while the request was held, as an interrupted client does). */
bool req_client_gone(struct req *r);

/* Add a response header (name and value at most 79 bytes each). */
void req_header(struct req *r, const char *name, const char *value);

/* Read an integer query parameter in [min, max] (dflt when absent);
 * 0, or -1 with a 400 error recorded. */
int req_query_i64(struct req *r, const char *name, int64_t min, int64_t max,
                  int64_t dflt, int64_t *out);

/* Start one listener per configured address; 0 or -1 (err set). Logs the
 * bound address and port of each. */
int http_start(struct server *srv, const char *cert_pem, const char *key_pem,
               char *err, size_t errsz);

/* Stop all listeners (waits for in-flight requests). */
void http_stop(void);

#endif
