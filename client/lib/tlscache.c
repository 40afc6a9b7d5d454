/*
 * tlscache.c - TLS sessions kept across client processes, so that a second
 * `tether` run resumes its server's session instead of a full handshake
 * (docs/security.md, "Session resumption").
 *
 * One file per "host:port" under $TETHER_HOME/tls-sessions, mode 0600,
 * replaced atomically, at most TLSCACHE_MAX bytes: an OpenSSL session (DER)
 * holding a TLS 1.3 ticket and the certificate the server presented in the
 * full handshake that issued it. Only targets trusted by a pinned key use
 * it, and a saved session is offered only while that certificate's key is
 * the pinned one; libcurl's pin check then runs on the resumed connection as
 * on any other (it reads the session's certificate). A server that cannot
 * open the ticket (restarted, other key) makes a full handshake.
 *
 * libcurl cannot be handed a session, so the session is installed from
 * OpenSSL's info callback at the start of the handshake, before the
 * ClientHello is written; a session is saved after a full handshake only
 * (from the reply's first bytes, by when the server's tickets have been
 * read), then reused until the server declines it.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "client-int.h"
#include "fileio.h"
#include "tether-curl.h"

#define TLSCACHE_DIR "tls-sessions"
#define TLSCACHE_MAX (16 * 1024)

static int ctx_index = -1;   /* SSL_CTX ex_data slot of the session to offer */
static bool disabled;        /* TETHER_TLS_RESUME=0 (docs/performance.md) */
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* Free the session an SSL_CTX held for its connection. */
static void free_session(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
                         long argl, void *argp)
{
	(void)parent; (void)ad; (void)idx; (void)argl; (void)argp;
	SSL_SESSION_free(ptr);
}

/* Make the ex_data slot and read the switch, once per process. */
static void make_index(void)
{
	const char *v = getenv("TETHER_TLS_RESUME");
	disabled = v != NULL && strcmp(v, "0") == 0;
	ctx_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, free_session);
}

/* The session file of t in out; 0, or -1 if it does not fit. */
static int file_of(const tether_client *c, const struct target *t, char *out, size_t outsz)
{
	char name[sizeof t->key];
	size_t i = 0;
	for (; t->key[i] != '\0' && i < sizeof name - 1; i++) {
		char ch = t->key[i];
		bool plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		             (ch >= '0' && ch <= '9') || ch == '.' || ch == '-';
		name[i] = plain ? ch : '_';
	}
	name[i] = '\0';
	int n = snprintf(out, outsz, "%s/" TLSCACHE_DIR "/%s", c->config_dir, name);
	return n > 0 && (size_t)n < outsz && i > 0 ? 0 : -1;
}

/* Whether sess is a TLS 1.3 session worth offering to t: resumable, with a
 * server certificate whose key is t's pinned key. */
static bool fits_pin(SSL_SESSION *sess, const struct target *t)
{
	if (!SSL_SESSION_is_resumable(sess) ||
	    SSL_SESSION_get_protocol_version(sess) != TLS1_3_VERSION)
		return false;
	X509 *peer = SSL_SESSION_get0_peer(sess);
	unsigned char *der = NULL;
	int len = peer != NULL ? i2d_PUBKEY(X509_get0_pubkey(peer), &der) : -1;
	if (len <= 0)
		return false;
	char fp[CRYPTO_FP_MAX];
	crypto_fingerprint_spki(der, (size_t)len, fp);
	OPENSSL_free(der);
	return strcmp(fp, t->pin) == 0;
}

/* Load t's saved session if it may be offered; NULL otherwise. */
static SSL_SESSION *load(const tether_client *c, const struct target *t)
{
	char path[BOUND_PATH];
	size_t len = 0;
	if (file_of(c, t, path, sizeof path) != 0)
		return NULL;
	char *data = fileio_read(path, TLSCACHE_MAX, &len);
	if (data == NULL)
		return NULL;
	const unsigned char *p = (const unsigned char *)data;
	SSL_SESSION *sess = d2i_SSL_SESSION(NULL, &p, (long)len);
	crypto_wipe(data, len);
	free(data);
	if (sess != NULL && !fits_pin(sess, t)) {
		SSL_SESSION_free(sess);
		sess = NULL;
	}
	return sess;
}

/* OpenSSL's info callback: at the start of the first handshake, offer the
 * session the connection's SSL_CTX holds. */
static void on_info(const SSL *ssl, int where, int ret)
{
	(void)ret;
	if (!(where & SSL_CB_HANDSHAKE_START) || !SSL_in_before(ssl))
		return;
	SSL_CTX *ctx = SSL_get_SSL_CTX(ssl);
	SSL_SESSION *sess = SSL_CTX_get_ex_data(ctx, ctx_index);
	if (sess != NULL && SSL_get_session(ssl) == NULL)
		SSL_set_session((SSL *)ssl, sess);   /* takes its own reference */
}

/* libcurl's SSL_CTX hook, once per new connection: attach t's saved
 * session (freed with the context) and the callback that offers it. */
static CURLcode on_ssl_ctx(CURL *h, void *sslctx, void *arg)
{
	struct request *r = arg;
	(void)h;
	SSL_SESSION *sess = load(r->c, r->t);
	if (sess == NULL)
		return CURLE_OK;
	if (!SSL_CTX_set_ex_data(sslctx, ctx_index, sess)) {
		SSL_SESSION_free(sess);
		return CURLE_OK;
	}
	SSL_CTX_set_info_callback(sslctx, on_info);
	return CURLE_OK;
}

/* Set h up to offer t's saved session; see client-int.h. */
void tlscache_prepare(tether_client *c, CURL *h, struct request *r)
{
	if (r->t->trust != TRUST_PIN)
		return;
	pthread_once(&once, make_index);
	if (ctx_index < 0 || disabled)
		return;
	r->c = c;
	r->tls_check = true;
	curl_easy_setopt(h, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx);
	curl_easy_setopt(h, CURLOPT_SSL_CTX_DATA, r);
}

/* Save the connection's session after a full handshake; see client-int.h. */
void tlscache_note(struct request *r)
{
	struct curl_tlssessioninfo *ti = NULL;
	long fresh = 0;   /* connections this transfer made: 0 on a reused one */
	r->tls_check = false;
	if (curl_easy_getinfo(r->h, CURLINFO_NUM_CONNECTS, &fresh) != CURLE_OK || fresh == 0 ||
	    curl_easy_getinfo(r->h, CURLINFO_TLS_SSL_PTR, &ti) != CURLE_OK || ti == NULL ||
	    ti->backend != CURLSSLBACKEND_OPENSSL || ti->internals == NULL)
		return;
	SSL *ssl = ti->internals;
	if (SSL_session_reused(ssl)) {
		if (r->c->verbose)
			fprintf(stderr, "tether: * TLS session resumed\n");
		return;
	}
	SSL_SESSION *sess = SSL_get1_session(ssl);
	unsigned char *der = NULL;
	int len = sess != NULL && fits_pin(sess, r->t) ? i2d_SSL_SESSION(sess, &der) : -1;
	char dir[BOUND_PATH], path[BOUND_PATH];
	if (len > 0 && len <= TLSCACHE_MAX && file_of(r->c, r->t, path, sizeof path) == 0 &&
	    snprintf(dir, sizeof dir, "%s/" TLSCACHE_DIR, r->c->config_dir) < (int)sizeof dir &&
	    fileio_mkdirs(dir, 0700, 0700) == 0 &&
	    fileio_replace(path, der, (size_t)len, 0600, false) == 0 && r->c->verbose)
		fprintf(stderr, "tether: * TLS session saved for resumption\n");
	if (der != NULL) {
		crypto_wipe(der, (size_t)len);
		OPENSSL_free(der);
	}
	SSL_SESSION_free(sess);
}
