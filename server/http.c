/*
 * http.c - libmicrohttpd glue, the dispatcher, and the one error renderer.
 *
 * libmicrohttpd calls the access handler several times per request: first
 * with the headers (we allocate the request context and run every policy
 * check the route table asks for, answering at once if one fails, before any
 * body byte is read), then with body chunks (appended to a bounded buffer),
 * then once with nothing (we parse the JSON and run the handler). One thread
 * per connection keeps handlers simple blocking code; the number of
 * connections is capped.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <gnutls/gnutls.h>
#include <microhttpd.h>

#include "api.h"
#include "bounds.h"
#include "crypto.h"
#include "connguard.h"
#include "http.h"
#include "jsonu.h"
#include "keylogin.h"
#include "log.h"
#include "metrics.h"
#include "proto.h"
#include "strparse.h"
#include "timeu.h"

#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"
/* Body bytes dropped past a route's limit before the connection is cut:
 * enough for a body somewhat too large to get its 413, not for an endless one. */
#define HTTP_DISCARD_MAX ((size_t)1 << 20)

static struct MHD_Daemon *daemons[SRVCONF_MAX_LISTEN];
static int ndaemons;
/* The key session tickets are sealed with (docs/security.md, "Session
 * resumption"): made at start, in memory only, so a restart ends every
 * ticket; GnuTLS derives rotating keys from it. Empty: no tickets. */
static gnutls_datum_t ticket_key;

/* Record an error for the response. */
tether_err req_error(struct req *r, tether_err e, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->errmsg, sizeof r->errmsg, fmt, ap);
	va_end(ap);
	r->err = e;
	return e;
}

/* Record a successful response. */
tether_err req_reply(struct req *r, int status, json_t *body)
{
	json_decref(r->out);
	r->out = body;
	r->status = status;
	r->err = TETHER_E_OK;
	return TETHER_E_OK;
}

/* The end of a binary reply's bytes: their owner is told. */
static void raw_release(struct req *r)
{
	void (*done)(void *) = r->raw_done;
	r->raw_done = NULL;
	if (done != NULL)
		done(r->raw_done_ctx);
}

/* Record a binary reply. */
tether_err req_reply_raw(struct req *r, int status, struct buf *data)
{
	buf_free(&r->raw);
	raw_release(r);
	r->raw = *data;
	buf_init(data, 0);
	r->raw_reply = true;
	r->status = status;
	r->err = TETHER_E_OK;
	return TETHER_E_OK;
}

tether_err req_reply_raw_then(struct req *r, int status, struct buf *data,
                              void (*done)(void *ctx), void *ctx)
{
	raw_release(r);
	req_reply_raw(r, status, data);
	r->raw_done = done;
	r->raw_done_ctx = ctx;
	return TETHER_E_OK;
}

/* A binary reply's bytes and who to tell when the response frees them. */
struct raw_owned {
	char  *data;
	void (*done)(void *ctx);
	void  *ctx;
};

static void raw_owned_free(void *cls)
{
	struct raw_owned *o = cls;
	free(o->data);
	o->done(o->ctx);
	free(o);
}

/* A streamed reply's producer, owned by the libmicrohttpd response. */
struct stream_reply {
	uint64_t len;
	ssize_t (*read)(void *ctx, uint64_t pos, char *buf, size_t max);
	void (*done)(void *ctx);
	void *ctx;
};

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream_reply *s = cls;
	ssize_t n = pos < s->len ? s->read(s->ctx, pos, buf, max) : -1;
	return n > 0 ? n : MHD_CONTENT_READER_END_WITH_ERROR;
}

static void stream_free(void *cls)
{
	struct stream_reply *s = cls;
	s->done(s->ctx);
	free(s);
}

tether_err req_reply_stream(struct req *r, int status, uint64_t len,
                            ssize_t (*read)(void *ctx, uint64_t pos, char *buf, size_t max),
                            void (*done)(void *ctx), void *ctx)
{
	struct stream_reply *s = malloc(sizeof *s);
	if (s == NULL) {
		done(ctx);
		return req_error(r, TETHER_E_INTERNAL, "out of memory");
	}
	*s = (struct stream_reply){ len, read, done, ctx };
	if (r->stream != NULL)
		stream_free(r->stream);
	r->stream = s;
	r->status = status;
	r->err = TETHER_E_OK;
	return TETHER_E_OK;
}

/* The value of one hex digit, or -1. */
static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool req_client_gone(struct req *r)
{
	const union MHD_ConnectionInfo *fi =
		MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (fi == NULL)
		return false;
	struct pollfd p = { fi->connect_fd, POLLRDHUP, 0 };
	return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

/* Read a string query parameter (escapes are left to us: no_unescape). */
int req_query_str(struct req *r, const char *name, char *out, size_t outsz)
{
	const char *v = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
	size_t n = 0;
	if (v == NULL)
		return 0;
	for (const char *p = v; *p != '\0'; p++) {
		int c = (unsigned char)*p;
		if (c == '%') {
			int hi = hexval(p[1]), lo = hi < 0 ? -1 : hexval(p[2]);
			if (lo < 0)
				goto bad;
			c = hi * 16 + lo;
			p += 2;
		}
		if (c < 0x20 || c == 0x7f || n + 1 >= outsz)
			goto bad;
		out[n++] = (char)c;
	}
	out[n] = '\0';
	return 1;
bad:
	req_error(r, TETHER_E_INVALID_ARGUMENT, "query parameter '%s' must be percent-encoded "
	          "text of at most %zu bytes, without control characters", name, outsz - 1);
	return -1;
}

/* Add a response header. */
void req_header(struct req *r, const char *name, const char *value)
{
	if (r->nxhdr >= (int)(sizeof r->xhdr / sizeof r->xhdr[0]))
		return;
	snprintf(r->xhdr[r->nxhdr][0], sizeof r->xhdr[0][0], "%s", name);
	snprintf(r->xhdr[r->nxhdr][1], sizeof r->xhdr[0][1], "%s", value);
	r->nxhdr++;
}

/* Read an integer query parameter. */
int req_query_i64(struct req *r, const char *name, int64_t min, int64_t max,
                  int64_t dflt, int64_t *out)
{
	const char *v = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
	if (v == NULL) {
		*out = dflt;
		return 0;
	}
	if (strparse_i64(v, min, max, out) != 0) {
		req_error(r, TETHER_E_INVALID_ARGUMENT, "query parameter '%s' must be an "
		          "integer between %lld and %lld", name, (long long)min, (long long)max);
		return -1;
	}
	return 0;
}

/* Build {"error": {"code", "message"}} for r's error. */
static json_t *error_body(const struct req *r)
{
	const char *msg = r->errmsg[0] ? r->errmsg : tether_strerror(r->err);
	return json_pack("{s:{s:s,s:s}}", "error", "code", tether_err_code(r->err),
	                 "message", msg);
}

/* One log line per request, and its count in the metrics. */
static void log_request(struct req *r, const char *method, const char *url, int status)
{
	struct logline l;
	log_begin(&l, status >= 500 ? LOG_ERROR : LOG_INFO, "request");
	log_str(&l, "method", method);
	log_str(&l, "path", url);
	log_int(&l, "status", status);
	if (r->err != TETHER_E_OK)
		log_str(&l, "error", tether_err_code(r->err));
	if (r->authed)
		log_str(&l, "user", r->user.name);
	log_str(&l, "peer", r->peer);
	int64_t ms = timeu_mono_ms() - r->t0_ms;
	log_int(&l, "ms", ms);
	log_end(&l);
	metrics_request(status, ms);
}

/* Queue r's response (error or success) and log the request. */
static enum MHD_Result respond(struct req *r, const char *method, const char *url)
{
	int status;
	json_t *body;
	if (r->err == TETHER_E_OK && r->raw_reply) {
		size_t rawlen = r->raw.len;
		char *data = buf_take(&r->raw, NULL);
		struct raw_owned *o = r->raw_done != NULL ? malloc(sizeof *o) : NULL;
		struct MHD_Response *rr = NULL;
		if (o != NULL) {
			*o = (struct raw_owned){ data, r->raw_done, r->raw_done_ctx };
			rr = MHD_create_response_from_buffer_with_free_callback_cls(
				rawlen, data, raw_owned_free, o);
			if (rr != NULL)
				r->raw_done = NULL;   /* the response's now */
			else
				free(o);
		} else if (r->raw_done == NULL) {
			rr = MHD_create_response_from_buffer(rawlen, data, MHD_RESPMEM_MUST_FREE);
		}
		if (rr == NULL) {
			free(data);
			raw_release(r);
			return MHD_NO;
		}
		MHD_add_response_header(rr, MHD_HTTP_HEADER_CONTENT_TYPE,
		                        r->raw_type ? r->raw_type : "application/octet-stream");
		MHD_add_response_header(rr, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
		for (int i = 0; i < r->nxhdr; i++)
			MHD_add_response_header(rr, r->xhdr[i][0], r->xhdr[i][1]);
		enum MHD_Result rret = MHD_queue_response(r->conn, (unsigned)r->status, rr);
		MHD_destroy_response(rr);
		r->responded = true;
		log_request(r, method, url, r->status);
		return rret;
	}
	if (r->err == TETHER_E_OK && r->stream != NULL) {
		struct MHD_Response *fr = MHD_create_response_from_callback(
			r->stream->len, 1 << 16, stream_read, r->stream, stream_free);
		if (fr == NULL)
			return MHD_NO;   /* on_completed ends the producer */
		r->stream = NULL;    /* the response's now */
		MHD_add_response_header(fr, MHD_HTTP_HEADER_CONTENT_TYPE, "application/octet-stream");
		MHD_add_response_header(fr, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
		for (int i = 0; i < r->nxhdr; i++)
			MHD_add_response_header(fr, r->xhdr[i][0], r->xhdr[i][1]);
		enum MHD_Result fret = MHD_queue_response(r->conn, (unsigned)r->status, fr);
		MHD_destroy_response(fr);
		r->responded = true;
		log_request(r, method, url, r->status);
		return fret;
	}
	if (r->err != TETHER_E_OK) {
		status = tether_err_http_status(r->err);
		body = error_body(r);
	} else {
		status = r->status ? r->status : 200;
		body = r->out;
		r->out = NULL;
	}
	size_t len = 0;
	char *text = body ? jsonu_dump(body, &len) : NULL;
	json_decref(body);
	struct MHD_Response *resp = text
		? MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE)
		: MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	if (resp == NULL) {
		free(text);
		return MHD_NO;
	}
	if (text != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (r->retry_after > 0) {
		char ra[24];
		snprintf(ra, sizeof ra, "%lld", (long long)r->retry_after);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, ra);
	}
	if (r->err == TETHER_E_UNAUTHORIZED || r->err == TETHER_E_AUTH_FAILED)   /* every 401 */
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
	for (int i = 0; i < r->nxhdr; i++)
		MHD_add_response_header(resp, r->xhdr[i][0], r->xhdr[i][1]);
	if (r->allow[0] != '\0')
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
	enum MHD_Result ret = MHD_queue_response(r->conn, (unsigned)status, resp);
	MHD_destroy_response(resp);
	r->responded = true;

	log_request(r, method, url, status);
	return ret;
}

/* Look a request header up (NULL if absent). */
const char *req_get_header(struct req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

/* The connection's TLS exporter value for key logins (keylogin.h). */
int req_tls_binding(struct req *r, unsigned char out[KEYLOGIN_BINDING_LEN])
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (ci == NULL || ci->tls_session == NULL)
		return -1;
	static const char label[] = KEYLOGIN_EXPORTER_LABEL, ctx[] = KEYLOGIN_EXPORTER_CTX;
	return gnutls_prf_rfc5705((gnutls_session_t)ci->tls_session, sizeof label - 1, label,
	                          sizeof ctx - 1, ctx, KEYLOGIN_BINDING_LEN,
	                          (char *)out) == 0 ? 0 : -1;
}

/* The peer's numeric address. */
static void peer_address(struct MHD_Connection *c, char *out, size_t outsz)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	snprintf(out, outsz, "?");
	if (ci == NULL || ci->client_addr == NULL)
		return;
	socklen_t len = ci->client_addr->sa_family == AF_INET6
		? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	getnameinfo(ci->client_addr, len, out, (socklen_t)outsz, NULL, 0, NI_NUMERICHOST);
}

/* True if s is exactly TETHER_CLIENT_ID_LEN lower-case hex digits. */
static bool valid_client_id(const char *s)
{
	size_t n = strlen(s);
	if (n != TETHER_CLIENT_ID_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* Check the bearer token and load the user. */
static tether_err authenticate(struct req *r)
{
	const char *h = req_get_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
	if (h == NULL)
		return req_error(r, TETHER_E_UNAUTHORIZED, "missing bearer token; log in first");
	if (strncmp(h, "Bearer ", 7) != 0 || strlen(h + 7) == 0 || strlen(h + 7) > BOUND_TOKEN)
		return req_error(r, TETHER_E_UNAUTHORIZED, "malformed Authorization header");
	crypto_token_hash(h + 7, r->token_hash);
	tether_err e = store_token_check(r->srv->store, r->token_hash, timeu_now(),
	                                 &r->user, &r->token_expires);
	if (e == TETHER_E_UNAUTHORIZED)
		return req_error(r, e, "invalid, expired or revoked token; log in again");
	if (e != TETHER_E_OK)
		return req_error(r, e, "cannot check token");
	r->authed = true;
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	if (ci != NULL)
		connguard_authed(ci->socket_context);
	return TETHER_E_OK;
}

/* MHD_get_connection_values iterator: count Content-Length headers. */
static enum MHD_Result count_content_length(void *cls, enum MHD_ValueKind kind,
                                            const char *key, const char *value)
{
	(void)kind;
	(void)value;
	if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0)
		(*(unsigned *)cls)++;
	return MHD_YES;
}

/* Every check the route table asks for, run on the headers alone. */
static tether_err precheck(struct req *r, const char *url, const char *method)
{
	int allowed = 0;
	r->method = router_method(method);
	switch (router_match(api_routes, api_nroutes, r->method, url, &r->route,
	                     &r->params, &allowed)) {
	case ROUTE_NO_PATH:
		return req_error(r, TETHER_E_NOT_FOUND, "no such endpoint");
	case ROUTE_BAD_METHOD:
		router_allow_header(allowed, r->allow, sizeof r->allow);
		return req_error(r, TETHER_E_METHOD_NOT_ALLOWED,
		                 "%.16s not allowed here; allowed: %s", method, r->allow);
	case ROUTE_FOUND:
		break;
	}
	const char *v = req_get_header(r, TETHER_HDR_API_VERSION);
	if (v != NULL) {
		uint64_t ver;
		if (strparse_u64(v, 1, 1000, &ver) != 0 || ver != TETHER_API_VERSION)
			return req_error(r, TETHER_E_VERSION_MISMATCH,
			                 "this server speaks API version %d; upgrade the "
			                 "older side", TETHER_API_VERSION);
	}
	const char *cid = req_get_header(r, TETHER_HDR_CLIENT_ID);
	if (cid != NULL) {
		if (!valid_client_id(cid))
			return req_error(r, TETHER_E_BAD_REQUEST, "malformed %s header",
			                 TETHER_HDR_CLIENT_ID);
		memcpy(r->client_id, cid, TETHER_CLIENT_ID_LEN + 1);
	}
	if (r->route->auth && authenticate(r) != TETHER_E_OK)
		return r->err;
	const char *cl = req_get_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
	const char *te = req_get_header(r, MHD_HTTP_HEADER_TRANSFER_ENCODING);
	uint64_t clen = 0;
	/* one framing only: two lengths, or a length beside chunking, is how
	 * requests are smuggled past a proxy; refused before any body byte */
	unsigned ncl = 0;
	MHD_get_connection_values(r->conn, MHD_HEADER_KIND, count_content_length, &ncl);
	if (ncl > 1 || (cl != NULL && te != NULL))
		return req_error(r, TETHER_E_BAD_REQUEST, ncl > 1 ? "more than one Content-Length"
		                 : "both Content-Length and Transfer-Encoding");
	if (cl != NULL && strparse_u64(cl, 0, UINT64_MAX, &clen) != 0)
		return req_error(r, TETHER_E_BAD_REQUEST, "malformed Content-Length");
	if (clen > r->route->body_max)
		return req_error(r, TETHER_E_PAYLOAD_TOO_LARGE,
		                 "request body of %llu bytes exceeds this endpoint's "
		                 "limit of %zu", (unsigned long long)clen, r->route->body_max);
	const char *media = r->route->stream ? HTTP_MEDIA_STREAM : "application/json";
	size_t ml = strlen(media);
	if (clen > 0 || te != NULL || r->route->stream) {
		static const char raw[] = "application/octet-stream";
		const char *ct = req_get_header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
		r->in_raw = r->route->raw_ok && ct != NULL &&
		            strncasecmp(ct, raw, sizeof raw - 1) == 0 &&
		            (ct[sizeof raw - 1] == '\0' || ct[sizeof raw - 1] == ';');
		if (!r->in_raw && (ct == NULL || strncasecmp(ct, media, ml) != 0 ||
		                   (ct[ml] != '\0' && ct[ml] != ';')))
			return req_error(r, TETHER_E_UNSUPPORTED_MEDIA,
			                 r->route->raw_ok ? "request body must be %s or "
			                 "application/octet-stream" : "request body must be %s", media);
	}
	if (r->route->stream) {
		if (cl == NULL)
			return req_error(r, TETHER_E_BAD_REQUEST, "Content-Length is required here");
		r->body_len = (int64_t)clen;
		return r->route->begin(r);
	}
	buf_init(&r->body, r->route->body_max);
	return TETHER_E_OK;
}

/* A streamed route refusing a request whose body is on its way (no
 * "Expect: 100-continue" held it back): answering now would close the
 * connection under a client still sending, which then never reads why. So
 * the body (within the route's limit) is read and dropped, and the error
 * answered after it; only for a logged-in user, so nobody unknown can
 * make us read megabytes, and only for a body of a declared length (at
 * most the route's limit, checked before). */
static bool defer_error(struct req *r)
{
	const char *expect = req_get_header(r, MHD_HTTP_HEADER_EXPECT);
	return r->route != NULL && r->route->stream != NULL && r->authed &&
	       r->err != TETHER_E_PAYLOAD_TOO_LARGE &&
	       req_get_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH) != NULL &&
	       (expect == NULL || strcasecmp(expect, "100-continue") != 0);
}

/* The request is complete: parse the body and run the handler. */
static void run(struct req *r)
{
	if (r->route->stream) {
		if (r->err == TETHER_E_OK)
			r->route->handler(r);
		return;
	}
	if (r->body_too_large) {
		req_error(r, TETHER_E_PAYLOAD_TOO_LARGE,
		          "request body exceeds this endpoint's limit of %zu bytes",
		          r->route->body_max);
		return;
	}
	if (r->body.len > 0 && !r->in_raw) {
		char why[200];
		r->in = jsonu_parse_object(r->body.data, r->body.len, why, sizeof why);
		if (r->in == NULL) {
			req_error(r, TETHER_E_BAD_REQUEST, "%s", why);
			return;
		}
	}
	r->route->handler(r);
}

/* libmicrohttpd's access handler: see the file comment for the phases. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
	struct req *r = *con_cls;
	if (r == NULL) {
		r = calloc(1, sizeof *r);
		if (r == NULL)
			return MHD_NO;
		*con_cls = r;
		r->srv = cls;
		r->conn = conn;
		r->t0_ms = timeu_mono_ms();
		buf_init(&r->body, 0);
		peer_address(conn, r->peer, sizeof r->peer);
		if (precheck(r, url, method) != TETHER_E_OK && !defer_error(r))
			return respond(r, method, url);
		return MHD_YES;
	}
	if (r->responded) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size != 0 && r->route->stream) {
		/* after a failure the rest is read and ignored; the error answers */
		if (r->err == TETHER_E_OK)
			r->route->stream(r, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size != 0) {
		/* past the limit (a chunked body declares no length to refuse up
		 * front) the rest is dropped, so that a body a little too large still
		 * gets its 413 once it has been sent; one that goes on past
		 * HTTP_DISCARD_MAX more is cut off there, unanswered */
		if (r->body_too_large || buf_append(&r->body, upload_data, *upload_data_size) != 0) {
			r->body_too_large = true;
			r->discarded += *upload_data_size;
			if (r->discarded > HTTP_DISCARD_MAX) {
				struct logline l;
				log_begin(&l, LOG_INFO, "body_cut_off");
				log_str(&l, "peer", r->peer);
				log_int(&l, "limit", (int64_t)r->route->body_max);
				log_end(&l);
				return MHD_NO;
			}
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	run(r);
	return respond(r, method, url);
}

/* Free a request context when libmicrohttpd is done with it. */
static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
	struct req *r = *con_cls;
	if (r == NULL)
		return;
	if (r->ctx_free != NULL)
		r->ctx_free(r->ctx);
	json_decref(r->in);
	json_decref(r->out);
	buf_free_secret(&r->body);   /* a login body holds a password */
	buf_free(&r->raw);
	raw_release(r);   /* a reply that was never sent */
	if (r->stream != NULL)
		stream_free(r->stream);   /* a reply that was never sent */
	free(r);
	*con_cls = NULL;
}

/* Leave percent-escapes in URLs undecoded. Path segments we accept are
 * plain [A-Za-z0-9._-] anyway, and decoding would let "%00" cut a path short
 * ("web%00xyz" would reach session "web"): an escaped path simply matches
 * no route. */
static size_t no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
	(void)cls;
	(void)c;
	return strlen(s);
}

/* Every connection passes the guard (connguard.h) when it arrives, before
 * its TLS handshake, and leaves it when it closes. */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
	(void)cls;
	if (toe != MHD_CONNECTION_NOTIFY_STARTED) {
		metrics_connection(-1);
		connguard_close(*socket_context);
		*socket_context = NULL;
		return;
	}
	metrics_connection(1);   /* every start has its close */
	/* libmicrohttpd has set the TLS session up and not yet shaken hands:
	 * let it issue tickets, and accept them */
	const union MHD_ConnectionInfo *ti =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (ti != NULL && ti->tls_session != NULL && ticket_key.data != NULL)
		gnutls_session_ticket_enable_server((gnutls_session_t)ti->tls_session,
		                                    &ticket_key);
	const union MHD_ConnectionInfo *fi =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	const union MHD_ConnectionInfo *ai =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (fi == NULL)
		return;
	*socket_context = connguard_open(fi->connect_fd, ai ? ai->client_addr : NULL,
	                                 timeu_mono_ms());
	if (*socket_context == NULL)
		shutdown(fi->connect_fd, SHUT_RDWR);   /* its address holds too many */
}

/* Route libmicrohttpd's own diagnostics into our log. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[256];
	vsnprintf(msg, sizeof msg, fmt, ap);
	size_t n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	log_msg(LOG_DEBUG, "mhd", "message", msg);
}

/* Start one daemon on addr:port. */
static int start_one(struct server *srv, const char *spec, const char *cert_pem,
                     const char *key_pem, char *err, size_t errsz)
{
	char addr[BOUND_HOSTSPEC];
	uint16_t port;
	if (srvconf_parse_listen(spec, addr, sizeof addr, &port, err, errsz) != 0)
		return -1;
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
	                 MHD_USE_TLS | MHD_USE_ERROR_LOG;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
	} else if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		flags |= MHD_USE_IPv6;
	} else {
		snprintf(err, errsz, "listen '%.64s': not a numeric IP address", spec);
		return -1;
	}
	struct MHD_Daemon *d = MHD_start_daemon(flags, port, NULL, NULL,
		on_request, srv,
		MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,   /* first, per the docs */
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
		MHD_OPTION_HTTPS_MEM_KEY, key_pem,
		MHD_OPTION_HTTPS_MEM_CERT, cert_pem,
		MHD_OPTION_HTTPS_PRIORITIES, TLS_PRIORITIES,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)BOUND_CONNECTIONS,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)srv->conf.connection_timeout,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024),
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL,
		MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, NULL,
		MHD_OPTION_END);
	if (d == NULL) {
		snprintf(err, errsz, "cannot listen on %.64s (address in use, or not "
		         "permitted?)", spec);
		return -1;
	}
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	struct logline l;
	log_begin(&l, LOG_INFO, "listening");
	log_str(&l, "addr", addr);
	log_int(&l, "port", di ? di->port : port);
	log_end(&l);
	daemons[ndaemons++] = d;
	return 0;
}

/* Start every configured listener. */
int http_start(struct server *srv, const char *cert_pem, const char *key_pem,
               char *err, size_t errsz)
{
	char deflt[BOUND_HOSTSPEC];
	snprintf(deflt, sizeof deflt, "127.0.0.1:%d", TETHER_DEFAULT_PORT);
	if (ticket_key.data == NULL && gnutls_session_ticket_key_generate(&ticket_key) != 0)
		ticket_key.data = NULL;   /* full handshakes only */
	connguard_init((unsigned)srv->conf.max_unauthenticated,
	               (unsigned)srv->conf.max_connections_per_address,
	               srv->conf.login_grace_time * 1000);
	if (srv->conf.nlisten == 0)
		return start_one(srv, deflt, cert_pem, key_pem, err, errsz);
	for (int i = 0; i < srv->conf.nlisten; i++)
		if (start_one(srv, srv->conf.listen[i], cert_pem, key_pem, err, errsz) != 0) {
			http_stop();
			return -1;
		}
	return 0;
}

/* Stop every listener. */
void http_stop(void)
{
	for (int i = 0; i < ndaemons; i++)
		MHD_stop_daemon(daemons[i]);
	ndaemons = 0;
	if (ticket_key.data != NULL) {
		crypto_wipe(ticket_key.data, ticket_key.size);
		gnutls_free(ticket_key.data);
		ticket_key.data = NULL;
	}
}
