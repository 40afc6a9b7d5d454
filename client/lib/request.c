/*
 * request.c - one HTTPS + JSON exchange with a tetherd, over libcurl.
 *
 * Trust is decided per request from the target: a pinned key (libcurl's
 * CURLOPT_PINNEDPUBLICKEY, checked in the handshake before any request byte
 * is sent), a CA file with full verification, or a probe that trusts
 * nothing, sends nothing secret, and only reads back the key the server
 * presented (CURLINFO_CERTINFO) so the user can be asked about it. A
 * certificate refused under full verification is explained: not signed by
 * the CA, or not naming the host connected to. Replies
 * are read into a bounded buffer. Server errors keep their code and message.
 */
#include <signal.h>
#include <stdio.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "buf.h"
#include "client-int.h"
#include "jsonu.h"
#include "keylogin.h"
#include "proto.h"
#include "strparse.h"
#include "tether-curl.h"

/* Read the connection's TLS exporter value for a key login (keylogin.h);
 * libcurl's TLS handle is only valid during a transfer, so this runs from
 * its write callback. */
static void read_binding(struct request *r)
{
	struct curl_tlssessioninfo *ti = NULL;
	static const char label[] = KEYLOGIN_EXPORTER_LABEL, ctx[] = KEYLOGIN_EXPORTER_CTX;
	r->t->want_binding = false;
	if (curl_easy_getinfo(r->h, CURLINFO_TLS_SSL_PTR, &ti) != CURLE_OK || ti == NULL ||
	    ti->backend != CURLSSLBACKEND_OPENSSL || ti->internals == NULL)
		return;
	r->t->have_binding = SSL_export_keying_material(ti->internals, r->t->binding,
	                                                sizeof r->t->binding, label,
	                                                sizeof label - 1,
	                                                (const unsigned char *)ctx,
	                                                sizeof ctx - 1, 1) == 1;
}

/* libcurl write callback: append to a bounded buffer. */
static size_t on_data(char *p, size_t size, size_t n, void *ctx)
{
	struct request *r = ctx;
	if (r->t->want_binding)
		read_binding(r);
	if (r->tls_check)
		tlscache_note(r);
	curl_off_t whole = 0;
	if (r->reply.cap == 0 &&   /* the first bytes: room for all that is coming */
	    curl_easy_getinfo(r->h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &whole) == CURLE_OK &&
	    whole > 0 && (uint64_t)whole <= r->reply.max)
		buf_reserve(&r->reply, (size_t)whole);
	if (buf_append(&r->reply, p, size * n) != 0)
		return 0;   /* too large: abort the transfer */
	return size * n;
}

/* Read the presented key's fingerprint after a probe. */
static void probe_fingerprint(CURL *h, struct target *t)
{
	struct curl_certinfo *ci = NULL;
	t->seen_fp[0] = '\0';
	if (curl_easy_getinfo(h, CURLINFO_CERTINFO, &ci) != CURLE_OK || ci == NULL ||
	    ci->num_of_certs < 1)
		return;
	for (struct curl_slist *s = ci->certinfo[0]; s != NULL; s = s->next)
		if (strncmp(s->data, "Cert:", 5) == 0)
			crypto_fingerprint_cert_pem(s->data + 5, strlen(s->data + 5), t->seen_fp);
}

/* -v: print libcurl's account of the connection and the headers, one
 * "tether: " line each, with the token cut out; bodies are never shown
 * (a login's holds a password). */
static int on_debug(CURL *h, curl_infotype type, char *data, size_t size, void *ctx)
{
	const char *mark = type == CURLINFO_TEXT ? "* " : type == CURLINFO_HEADER_OUT ? "> "
	                 : type == CURLINFO_HEADER_IN ? "< " : NULL;
	(void)h;
	(void)ctx;
	while (mark != NULL && size > 0) {
		const char *nl = memchr(data, '\n', size);
		size_t n = nl ? (size_t)(nl - data) + 1 : size, len = n;
		while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
			len--;
		if (len > 0 && len <= 2048) {
			bool secret = len > 14 && strncasecmp(data, "Authorization:", 14) == 0;
			fprintf(stderr, "tether: %s%.*s\n", mark, secret ? 14 : (int)len, data);
			if (secret)
				fputs("tether: > (the token is not shown)\n", stderr);
		}
		data += n;
		size -= n;
	}
	return 0;
}

/* -v: the server's key and how long the request took, phase by phase. */
static void verbose_summary(CURL *h, long status)
{
	struct curl_certinfo *ci = NULL;
	char fp[CRYPTO_FP_MAX] = "";
	if (curl_easy_getinfo(h, CURLINFO_CERTINFO, &ci) == CURLE_OK && ci != NULL &&
	    ci->num_of_certs > 0)
		for (struct curl_slist *s = ci->certinfo[0]; s != NULL; s = s->next)
			if (strncmp(s->data, "Cert:", 5) == 0)
				crypto_fingerprint_cert_pem(s->data + 5, strlen(s->data + 5), fp);
	if (fp[0] != '\0')
		fprintf(stderr, "tether: * server key %s\n", fp);
	curl_off_t conn = 0, tls = 0, first = 0, total = 0;
	const char *method = NULL, *url = NULL;
	curl_easy_getinfo(h, CURLINFO_EFFECTIVE_METHOD, &method);
	curl_easy_getinfo(h, CURLINFO_EFFECTIVE_URL, &url);
	curl_easy_getinfo(h, CURLINFO_CONNECT_TIME_T, &conn);
	curl_easy_getinfo(h, CURLINFO_APPCONNECT_TIME_T, &tls);
	curl_easy_getinfo(h, CURLINFO_STARTTRANSFER_TIME_T, &first);
	curl_easy_getinfo(h, CURLINFO_TOTAL_TIME_T, &total);
	fprintf(stderr, "tether: * %s %s: HTTP %ld in %.1f ms (connected %.1f, TLS done %.1f, "
	        "first byte %.1f; 0: connection reused)\n", method ? method : "?",
	        url ? url : "?", status, (double)total / 1000, (double)conn / 1000,
	        (double)tls / 1000, (double)first / 1000);
}

/* Turn a non-2xx reply into the server's error. */
static tether_err http_failure(tether_client *c, long status, const struct buf *b)
{
	char why[160];
	json_t *doc = jsonu_parse_object(b->data ? b->data : "", b->len, why, sizeof why);
	json_t *err = json_object_get(doc, "error");
	const char *code = json_string_value(json_object_get(err, "code"));
	const char *msg = json_string_value(json_object_get(err, "message"));
	tether_err e = TETHER_E_PROTOCOL;
	if (code != NULL && msg != NULL) {
		e = tether_err_from_code(code);
		snprintf(c->errcode, sizeof c->errcode, "%s", code);
		client_fail(c, e, "%s", msg);
	} else {
		client_fail(c, e, "unexpected HTTP %ld reply from the server", status);
	}
	json_decref(doc);
	return e;
}

/* Explain a pinned-key mismatch, probing (sending nothing) for the new key. */
static tether_err hostkey_changed(tether_client *c, struct target *t)
{
	struct target probe = *t;
	probe.trust = TRUST_PROBE;
	probe.token[0] = '\0';
	if (client_request(c, &probe, "GET", "/v1/health", NULL, NULL) != TETHER_E_OK)
		snprintf(probe.seen_fp, sizeof probe.seen_fp, "(unreadable)");
	crypto_wipe(probe.token, sizeof probe.token);
	return client_fail(c, TETHER_E_HOSTKEY_CHANGED,
	                   "the key of %s has changed: pinned %s, now presented %s. "
	                   "Someone may be intercepting the connection, or the server's "
	                   "key was replaced. If you trust the new key, remove the line "
	                   "for %s from %s/known_hosts and log in again.", t->key, t->pin,
	                   probe.seen_fp, t->key, c->config_dir);
}

/* Say which check a certificate failed under full verification: its chain
 * (libcurl's verify result is OpenSSL's X509_V_ERR_*), else, the chain being
 * good, its names: libcurl checks those after the handshake, and its verify
 * result then still holds its starting value, X509_V_ERR_UNSPECIFIED
 * (libcurl's own text is added, in case it was something else). */
static tether_err verify_failure(tether_client *c, CURL *h, struct target *t,
                                 const char *what)
{
	long vr = X509_V_OK;
	const char *ca = t->trust == TRUST_CA ? t->cacert
	                 : c->cacert_pem != NULL ? "the CA given" : "the system's CAs";
	if (curl_easy_getinfo(h, CURLINFO_SSL_VERIFYRESULT, &vr) != CURLE_OK)
		vr = X509_V_OK;
	switch (vr) {
	case X509_V_OK:
	case X509_V_ERR_UNSPECIFIED:
		return client_fail(c, TETHER_E_TLS, "TLS with %s failed: its certificate is not "
		                   "for the name '%s' (none of its subjectAltName DNS/IP names "
		                   "matches: %s)", t->key, t->hs.host, what);
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_CERT_SIGNATURE_FAILURE:
		return client_fail(c, TETHER_E_TLS, "TLS with %s failed: its certificate is not "
		                   "signed by %s (%s)", t->key, ca, X509_verify_cert_error_string(vr));
	default:
		return client_fail(c, TETHER_E_TLS, "TLS with %s failed: its certificate did not "
		                   "verify against %s (%s)", t->key, ca,
		                   X509_verify_cert_error_string(vr));
	}
}

/* Map a libcurl failure to ours. */
static tether_err curl_failure(tether_client *c, CURL *h, struct target *t, CURLcode rc,
                               const char *detail)
{
	const char *what = detail[0] ? detail : curl_easy_strerror(rc);
	if (rc == CURLE_PEER_FAILED_VERIFICATION && (t->trust == TRUST_CA ||
	                                             t->trust == TRUST_SYSTEM))
		return verify_failure(c, h, t, what);
	switch (rc) {
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
		return hostkey_changed(c, t);
	case CURLE_OPERATION_TIMEDOUT:
		return client_fail(c, TETHER_E_CONNECT, "no answer from %s: %s (limits: "
		                   "TETHER_CONNECT_TIMEOUT=%ld s to connect, TETHER_IO_TIMEOUT=%ld s "
		                   "of silence)", t->key, what, c->connect_timeout, c->io_timeout);
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
		return client_fail(c, TETHER_E_CONNECT, "cannot reach %s: %s", t->key, what);
	case CURLE_ABORTED_BY_CALLBACK:
		return client_fail(c, TETHER_E_INTERRUPTED, "interrupted");
	case CURLE_WRITE_ERROR:
		return client_fail(c, TETHER_E_PROTOCOL, "reply from %s too large", t->key);
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CONNECT_ERROR:
		return client_fail(c, TETHER_E_TLS, "TLS with %s failed: %s", t->key, what);
	default:
		return client_fail(c, TETHER_E_CONNECT, "request to %s failed: %s", t->key, what);
	}
}

/* Set the TLS trust options for t. */
static tether_err set_trust(tether_client *c, CURL *h, struct target *t)
{
	char pin[CRYPTO_FP_MAX + 16];
	curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	switch (t->trust) {
	case TRUST_PIN:
		if (crypto_fingerprint_to_curl_pin(t->pin, pin, sizeof pin) != 0)
			return client_fail(c, TETHER_E_IO, "malformed pinned key for %s in "
			                   "%s/known_hosts", t->key, c->config_dir);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
		curl_easy_setopt(h, CURLOPT_PINNEDPUBLICKEY, pin);
		break;
	case TRUST_CA:
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
		curl_easy_setopt(h, CURLOPT_CAINFO, t->cacert);
		break;
	case TRUST_PROBE:
		if (t->token[0] != '\0')   /* never send a secret to an unverified key */
			return client_fail(c, TETHER_E_HOSTKEY_UNKNOWN, "refusing to send "
			                   "credentials to %s without a pinned key", t->key);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
		curl_easy_setopt(h, CURLOPT_CERTINFO, 1L);
		curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
		curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
		break;
	case TRUST_SYSTEM:
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
		if (c->cacert_pem != NULL) {
			struct curl_blob blob = { c->cacert_pem, strlen(c->cacert_pem),
			                          CURL_BLOB_COPY };
			curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
		}
		break;
	case TRUST_NONE:
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
		break;
	}
	return TETHER_E_OK;
}

/* Capture X-Tether-* reply headers. */
static size_t on_header(char *p, size_t size, size_t n, void *ctx)
{
	struct reply_info *ri = ctx;
	size_t len = size * n;
	char line[128];
	if (ri == NULL || len >= sizeof line || len < 9 || strncasecmp(p, "X-Tether-", 9) != 0)
		return len;
	memcpy(line, p, len);
	line[len] = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	char *colon = strchr(line, ':');
	if (colon == NULL)
		return len;
	*colon = '\0';
	const char *v = colon + 1;
	while (*v == ' ')
		v++;
	int64_t num = 0;
	bool isnum = strparse_i64(v, INT64_MIN, INT64_MAX, &num) == 0;
	if (strcasecmp(line, "X-Tether-Next") == 0 && isnum)
		ri->next = num;
	else if (strcasecmp(line, "X-Tether-Size") == 0 && isnum)
		ri->size = num;
	else if (strcasecmp(line, "X-Tether-Exit-Code") == 0 && isnum)
		ri->exit_code = (int)num;
	else if (strcasecmp(line, "X-Tether-Signal") == 0 && isnum)
		ri->signal = (int)num;
	else if (strcasecmp(line, "X-Tether-Done") == 0)
		ri->done = strcmp(v, "1") == 0;
	else if (strcasecmp(line, "X-Tether-Error") == 0)
		ri->job_error = strcmp(v, "1") == 0;
	else if (strcasecmp(line, "X-Tether-Removed") == 0)
		ri->removed = strcmp(v, "1") == 0;
	else if (strcasecmp(line, "X-Tether-Delivered") == 0)
		ri->delivered = strcmp(v, "1") == 0;
	else if (strcasecmp(line, "X-Tether-Job") == 0 && isnum)
		ri->job = num;
	else if (strcasecmp(line, "X-Tether-State") == 0)
		snprintf(ri->state, sizeof ri->state, "%.23s", v);
	return len;
}

/* Abort a transfer when the caller's interrupt flag is raised. */
static int on_progress(void *ctx, curl_off_t a, curl_off_t b, curl_off_t c2, curl_off_t d)
{
	const volatile sig_atomic_t *flag = ctx;
	(void)a; (void)b; (void)c2; (void)d;
	return flag != NULL && *flag ? 1 : 0;
}

/* One request; see client-int.h. */
tether_err client_request(tether_client *c, struct target *t, const char *method,
                          const char *path, json_t *body, json_t **out)
{
	return client_exchange(c, t, method, path, body, out, NULL, NULL);
}

bool request_sent(CURL *h)
{
	long n = 0;
	return curl_easy_getinfo(h, CURLINFO_REQUEST_SIZE, &n) != CURLE_OK || n > 0;
}

/* Set h up for one request; see client-int.h. */
tether_err request_prepare(tether_client *c, CURL *h, struct target *t, const char *method,
                           const char *path, json_t *body, struct request *r,
                           struct reply_info *ri)
{
	char url[BOUND_URL + 400], hdr[BOUND_TOKEN + 64];
	memset(r, 0, sizeof *r);
	r->t = t;
	r->h = h;
	c->last_status = 0;
	c->last_transport = 0;
	buf_init(&r->reply, BOUND_RESPONSE);
	curl_easy_reset(h);   /* keeps the connection cache */
	snprintf(url, sizeof url, "https://%s%s%s:%u%s", t->hs.ipv6 ? "[" : "", t->hs.host,
	         t->hs.ipv6 ? "]" : "", (unsigned)t->hs.port, path);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_VERBOSE, c->verbose ? 1L : 0L);
	if (c->verbose) {
		curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, on_debug);
		curl_easy_setopt(h, CURLOPT_CERTINFO, 1L);
	}
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, c->connect_timeout);
	/* a server that accepted and went silent must not hold us forever */
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, c->io_timeout);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, r->errbuf);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	if (ri != NULL) {
		memset(ri, 0, sizeof *ri);
		ri->exit_code = -1;
		curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
		curl_easy_setopt(h, CURLOPT_HEADERDATA, ri);
	}
	if (c->interrupt != NULL) {
		curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(h, CURLOPT_XFERINFODATA, (void *)c->interrupt);
		curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	}
	if (c->proxy != NULL)
		curl_easy_setopt(h, CURLOPT_PROXY, c->proxy);
	if (c->noproxy != NULL)
		curl_easy_setopt(h, CURLOPT_NOPROXY, c->noproxy);
	if (c->proxy_user != NULL) {
		curl_easy_setopt(h, CURLOPT_PROXYUSERNAME, c->proxy_user);
		curl_easy_setopt(h, CURLOPT_PROXYPASSWORD, c->proxy_password ? c->proxy_password : "");
	}
	if (c->user_agent != NULL)
		curl_easy_setopt(h, CURLOPT_USERAGENT, c->user_agent);
	tether_err e = set_trust(c, h, t);
	if (e != TETHER_E_OK)
		return e;
	tlscache_prepare(c, h, r);
	r->hdrs = curl_slist_append(r->hdrs, "Accept: application/json");
	if (c->client_id[0] != '\0') {   /* a remote client has none */
		snprintf(hdr, sizeof hdr, "%s: %s", TETHER_HDR_CLIENT_ID, c->client_id);
		r->hdrs = curl_slist_append(r->hdrs, hdr);
	}
	snprintf(hdr, sizeof hdr, "%s: %d", TETHER_HDR_API_VERSION, TETHER_API_VERSION);
	r->hdrs = curl_slist_append(r->hdrs, hdr);
	if (t->token[0] != '\0') {
		snprintf(hdr, sizeof hdr, "Authorization: Bearer %s", t->token);
		r->hdrs = curl_slist_append(r->hdrs, hdr);
		crypto_wipe(hdr, sizeof hdr);
	}
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	if (body != NULL) {
		size_t len = 0;
		r->text = jsonu_dump(body, &len);
		if (r->text == NULL)
			return client_fail(c, TETHER_E_NOMEM, "cannot encode the request");
		r->hdrs = curl_slist_append(r->hdrs, "Content-Type: application/json");
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->text);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	} else if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, r->hdrs);
	return TETHER_E_OK;
}

/* Judge a performed request; see client-int.h. */
tether_err request_finish(tether_client *c, CURL *h, struct request *r, CURLcode rc,
                          json_t **out, struct buf *raw)
{
	c->errmsg[0] = c->errcode[0] = '\0';
	c->last_status = 0;
	c->last_transport = (int)rc;
	if (out != NULL)
		*out = NULL;
	if (rc != CURLE_OK)
		return curl_failure(c, h, r->t, rc, r->errbuf);
	if (r->t->trust == TRUST_PROBE)
		probe_fingerprint(h, r->t);
	long status = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	c->last_status = status;
	if (c->verbose)
		verbose_summary(h, status);
	if (status < 200 || status > 299)
		return http_failure(c, status, &r->reply);
	if (raw != NULL) {
		*raw = r->reply;   /* hand the bytes over */
		buf_init(&r->reply, 0);
	} else if (out != NULL && r->reply.len > 0) {
		char why[160];
		*out = jsonu_parse_object(r->reply.data, r->reply.len, why, sizeof why);
		if (*out == NULL)
			return client_fail(c, TETHER_E_PROTOCOL, "bad reply from %s: %s",
			                   r->t->key, why);
	}
	return TETHER_E_OK;
}

/* Why h failed at its proxy, or NULL; see tether-curl.h. */
const char *tether_curl_proxy_failure(CURL *h, CURLcode rc)
{
	long tunnel = 0;
	if (rc == CURLE_OK)
		return NULL;
	curl_easy_getinfo(h, CURLINFO_HTTP_CONNECTCODE, &tunnel);
	if (tunnel >= 400)
		return "tunnel refused";
	if (rc == CURLE_COULDNT_RESOLVE_PROXY || rc == CURLE_COULDNT_CONNECT || rc == CURLE_PROXY)
		return curl_easy_strerror(rc);
	return NULL;
}

/* Perform h, going on to the next proxy; see client-int.h. */
CURLcode request_perform(tether_client *c, CURL *h)
{
	for (;;) {
		CURLcode rc = curl_easy_perform(h);
		const char *why = c->proxy != NULL && c->next_proxy != NULL
		                  ? tether_curl_proxy_failure(h, rc) : NULL;
		const char *next = why != NULL ? c->next_proxy(c->proxy_ctx, c->proxy, why) : NULL;
		char *copy = next != NULL ? strdup(next) : NULL;
		if (copy == NULL)
			return rc;
		free(c->proxy);
		c->proxy = copy;
		curl_easy_setopt(h, CURLOPT_PROXY, c->proxy);
	}
}

/* Let go of a request; see client-int.h. */
void request_release(CURL *h, struct request *r)
{
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);   /* no dangling pointers into */
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);  /* r */
	curl_easy_setopt(h, CURLOPT_WRITEDATA, NULL);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, NULL);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
	for (struct curl_slist *l = r->hdrs; l != NULL; l = l->next)
		crypto_wipe(l->data, strlen(l->data));   /* one held the token */
	curl_slist_free_all(r->hdrs);
	r->hdrs = NULL;
	if (r->text != NULL) {
		crypto_wipe(r->text, strlen(r->text));
		free(r->text);
		r->text = NULL;
	}
	buf_free_secret(&r->reply);
}

/* A request whose body is bytes; see client-int.h. */
tether_err client_request_bytes(tether_client *c, struct target *t, const char *method,
                                const char *path, const void *data, size_t len,
                                bool probe, json_t **out)
{
	struct request r;
	c->errmsg[0] = c->errcode[0] = '\0';
	if (out != NULL)
		*out = NULL;
	tether_err e = request_prepare(c, c->curl, t, method, path, NULL, &r, NULL);
	if (e == TETHER_E_OK) {
		r.hdrs = curl_slist_append(r.hdrs, "Content-Type: application/octet-stream");
		r.hdrs = curl_slist_append(r.hdrs, probe ? "Expect: 100-continue" : "Expect:");
		curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, r.hdrs);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, data);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
		e = request_finish(c, c->curl, &r, request_perform(c, c->curl), out, NULL);
	}
	request_release(c->curl, &r);
	return e;
}

/* One request with an optional binary reply; see client-int.h. */
tether_err client_exchange(tether_client *c, struct target *t, const char *method,
                           const char *path, json_t *body, json_t **out,
                           struct buf *raw, struct reply_info *ri)
{
	struct request r;
	c->errmsg[0] = c->errcode[0] = '\0';
	if (out != NULL)
		*out = NULL;
	tether_err e = request_prepare(c, c->curl, t, method, path, body, &r, ri);
	if (e == TETHER_E_OK)
		e = request_finish(c, c->curl, &r, request_perform(c, c->curl), out, raw);
	request_release(c->curl, &r);
	return e;
}
