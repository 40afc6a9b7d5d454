/*
 * keylogin-probe.c - a test client that does a public-key login by hand,
 * so tests can send what tether never would: a signature replayed on
 * another TLS connection, or a nonce used twice.
 *
 * usage: keylogin-probe PORT USER KEYFILE MODE
 *   MODE same:   challenge and login on one connection (should succeed)
 *   MODE fresh:  the signed login sent on a new connection (a replay:
 *                should be refused), then on the first one (should succeed)
 *   MODE twice:  the signed login sent twice on the first connection (the
 *                second should be refused: the nonce is used up)
 * Prints one line per request: "challenge|login STATUS BODY".
 * Loopback tests only: the server's certificate is not checked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/ssl.h>

#include "buf.h"
#include "crypto.h"
#include "fileio.h"
#include "keylogin.h"
#include "sshkey.h"
#include "strparse.h"

struct reply {
	struct buf    body;
	CURL         *h;
	bool          want;
	unsigned char binding[KEYLOGIN_BINDING_LEN];
};

static size_t on_data(char *p, size_t size, size_t n, void *ctx)
{
	struct reply *r = ctx;
	if (r->want) {
		struct curl_tlssessioninfo *ti = NULL;
		static const char label[] = KEYLOGIN_EXPORTER_LABEL, c[] = KEYLOGIN_EXPORTER_CTX;
		r->want = false;
		if (curl_easy_getinfo(r->h, CURLINFO_TLS_SSL_PTR, &ti) == CURLE_OK && ti != NULL)
			SSL_export_keying_material(ti->internals, r->binding, sizeof r->binding,
			                           label, sizeof label - 1,
			                           (const unsigned char *)c, sizeof c - 1, 1);
	}
	return buf_append(&r->body, p, size * n) == 0 ? size * n : 0;
}

/* POST body to path on h; prints and returns the status. */
static long post(CURL *h, uint64_t port, const char *what, const char *path, json_t *body,
                 struct reply *r)
{
	char url[128], *text = json_dumps(body, JSON_COMPACT);
	struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: application/json");
	hd = curl_slist_append(hd, "X-Tether-Api: 1");
	hd = curl_slist_append(hd, "X-Tether-Client: 0123456789abcdef0123456789abcdef");
	snprintf(url, sizeof url, "https://127.0.0.1:%u%s", (unsigned)port, path);
	buf_reset(&r->body);
	r->h = h;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, text);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	long status = 0;
	if (curl_easy_perform(h) == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	printf("%s %ld %s\n", what, status, buf_cstr(&r->body));
	fflush(stdout);
	curl_slist_free_all(hd);
	free(text);
	return status;
}

static json_t *b64(const void *p, size_t n)
{
	char text[8192];
	crypto_b64_encode(p, n, false, true, text, sizeof text);
	return json_string(text);
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: keylogin-probe PORT USER KEYFILE same|fresh|twice\n");
		return 2;
	}
	uint64_t port;
	const char *user = argv[2], *mode = argv[4];
	if (strparse_u64(argv[1], 1, 65535, &port) != 0) {
		fprintf(stderr, "keylogin-probe: bad port '%s'\n", argv[1]);
		return 2;
	}
	size_t len;
	char why[200];
	char *text = fileio_read(argv[3], SSHKEY_PRIVATE_MAX, &len);
	struct sshkey *k = NULL;
	int rc = text != NULL ? sshkey_load_private(text, len, NULL, &k, why, sizeof why) : -1;
	free(text);
	if (rc != 0) {
		fprintf(stderr, "keylogin-probe: cannot load %s\n", argv[3]);
		return 2;
	}
	size_t bl;
	const unsigned char *blob = sshkey_blob(k, &bl);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	CURL *h = curl_easy_init(), *h2 = curl_easy_init();
	struct reply r = { .want = true };
	buf_init(&r.body, 1 << 20);
	json_t *ch = json_pack("{s:s,s:[o]}", "user", user, "keys", b64(blob, bl));
	json_t *doc = NULL, *login = NULL;
	struct buf data, sig;
	buf_init(&data, 0);
	buf_init(&sig, SSHKEY_SIG_MAX);
	unsigned char nonce[KEYLOGIN_NONCE_LEN];
	const char *ntext = NULL;
	rc = 1;
	if (post(h, port, "challenge", "/v1/login/challenge", ch, &r) != 200)
		goto out;
	doc = json_loads(buf_cstr(&r.body), 0, NULL);
	ntext = json_string_value(json_object_get(doc, "nonce"));
	if (ntext == NULL || crypto_b64_decode(ntext, nonce, sizeof nonce) != KEYLOGIN_NONCE_LEN)
		goto out;
	buf_free(&data);
	if (keylogin_data(user, nonce, r.binding, blob, bl, &data) != 0 ||
	    sshkey_sign(k, (const unsigned char *)data.data, data.len, &sig) != 0)
		goto out;
	login = json_pack("{s:s,s:o,s:s,s:o}", "user", user, "key", b64(blob, bl),
	                  "nonce", ntext, "signature", b64(sig.data, sig.len));
	if (strcmp(mode, "fresh") == 0)
		post(h2, port, "login", "/v1/login", login, &r);
	post(h, port, "login", "/v1/login", login, &r);
	if (strcmp(mode, "twice") == 0)
		post(h, port, "login", "/v1/login", login, &r);
	rc = 0;
out:
	json_decref(ch);
	json_decref(doc);
	json_decref(login);
	buf_free(&data);
	buf_free(&sig);
	buf_free(&r.body);
	sshkey_free(k);
	curl_easy_cleanup(h);
	curl_easy_cleanup(h2);
	curl_global_cleanup();
	return rc;
}
