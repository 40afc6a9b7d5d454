/*
 * login-key.c - public-key login on the client's side (keylogin.h).
 *
 * The keys offered are --identity's (an OpenSSH private key file) first,
 * then ssh-agent's ($SSH_AUTH_SOCK). The agent signs without its keys ever
 * leaving it; a key file is decrypted only if the server accepts its public
 * half (read from FILE.pub when it is there) and only then is a passphrase
 * asked for. Challenge and signed login go out on one TLS connection, whose
 * exporter value the signature covers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "client-int.h"
#include "fileio.h"
#include "keylogin.h"
#include "login-key.h"
#include "sshkey.h"

struct offer {
	struct sshkey *pub;         /* what is offered */
	struct sshkey *priv;        /* a loaded key file, or NULL */
	bool           in_agent;
	char           file[BOUND_PATH];   /* --identity's, "" for an agent's */
};

struct key_offers {
	struct offer v[KEYLOGIN_OFFER_MAX];
	int          n;
	const char  *sock;          /* the agent's, or NULL */
};

/* Decrypt --identity's key, asking for a passphrase if it needs one. */
static tether_err load_identity(tether_client *c, struct offer *of,
                                const struct tether_login_opts *o)
{
	size_t len = 0;
	char why[200], pass[BOUND_PASSWORD + 2] = "";
	char *text = fileio_read(of->file, SSHKEY_PRIVATE_MAX, &len);
	if (text == NULL)
		return client_fail(c, TETHER_E_USAGE, "cannot read the key file %s", of->file);
	int rc = sshkey_load_private(text, len, NULL, &of->priv, why, sizeof why);
	for (int tries = 0; rc == SSHKEY_E_PASSPHRASE && tries < 3; tries++) {
		if (o->get_passphrase == NULL ||
		    o->get_passphrase(o->passphrase_ctx, of->file, pass, sizeof pass) != 0)
			break;
		rc = sshkey_load_private(text, len, pass, &of->priv, why, sizeof why);
		crypto_wipe(pass, sizeof pass);
		if (rc == SSHKEY_E_PASSPHRASE && o->get_passphrase != NULL)
			fprintf(stderr, "tether: wrong passphrase for %s\n", of->file);
	}
	crypto_wipe(text, len);
	free(text);
	if (rc == SSHKEY_E_PASSPHRASE)
		return client_fail(c, TETHER_E_AUTH_FAILED, "%s is encrypted and no (right) "
		                   "passphrase was given", of->file);
	if (rc != SSHKEY_OK)
		return client_fail(c, TETHER_E_USAGE, "%s: %s", of->file, why);
	if (of->pub != NULL && !sshkey_equal(of->pub, of->priv))
		return client_fail(c, TETHER_E_USAGE, "%s.pub is not the public half of %s",
		                   of->file, of->file);
	return TETHER_E_OK;
}

/* The public half of --identity: FILE.pub if there is one, else the key
 * itself (decrypted now). */
static tether_err add_identity(tether_client *c, struct key_offers *os,
                               const struct tether_login_opts *o)
{
	struct offer *of = &os->v[os->n];
	memset(of, 0, sizeof *of);
	if (snprintf(of->file, sizeof of->file, "%s", o->identity) >= (int)sizeof of->file)
		return client_fail(c, TETHER_E_USAGE, "key file name too long");
	char pubpath[BOUND_PATH + 8], comment[SSHKEY_COMMENT_MAX], why[160];
	snprintf(pubpath, sizeof pubpath, "%s.pub", o->identity);
	size_t len = 0;
	char *text = fileio_read(pubpath, SSHKEY_LINE_MAX, &len);
	if (text != NULL) {
		const char *nl = memchr(text, '\n', len);
		if (sshkey_parse_line(text, nl ? (size_t)(nl - text) : len, &of->pub, comment,
		                      sizeof comment, why, sizeof why) != 1)
			of->pub = NULL;   /* unusable: go by the key file alone */
		free(text);
	}
	os->n++;
	if (of->pub == NULL) {
		tether_err e = load_identity(c, of, o);
		if (e != TETHER_E_OK)
			return e;
		size_t bl;
		const unsigned char *blob = sshkey_blob(of->priv, &bl);
		of->pub = sshkey_from_blob(blob, bl, why, sizeof why);
		if (of->pub == NULL)
			return client_fail(c, TETHER_E_NOMEM, "out of memory");
	}
	return TETHER_E_OK;
}

/* Add the agent's keys (mark --identity's as the agent's if it holds it). */
static void add_agent(struct key_offers *os)
{
	struct agent_key *keys = NULL;
	int n = 0;
	char why[200];
	if (os->sock == NULL || agent_list(os->sock, &keys, &n, why, sizeof why) != 0) {
		os->sock = NULL;
		return;
	}
	for (int i = 0; i < n; i++) {
		struct sshkey *k = sshkey_from_blob(keys[i].blob, keys[i].len, why, sizeof why);
		if (k == NULL)
			continue;
		bool dup = false;
		for (int j = 0; j < os->n && !dup; j++)
			if (sshkey_equal(os->v[j].pub, k))
				dup = os->v[j].in_agent = true;
		if (dup || os->n == KEYLOGIN_OFFER_MAX) {
			sshkey_free(k);
			continue;
		}
		struct offer *of = &os->v[os->n++];
		memset(of, 0, sizeof *of);
		of->pub = k;
		of->in_agent = true;
	}
	agent_keys_free(keys, n);
}

/* Base64 of a key's blob, as a JSON string. */
static json_t *b64_json(const unsigned char *p, size_t n)
{
	char text[4 * (SSHKEY_SIG_MAX > SSHKEY_BLOB_MAX ? SSHKEY_SIG_MAX : SSHKEY_BLOB_MAX) / 3 + 8];
	if (crypto_b64_encode(p, n, false, true, text, sizeof text) == 0)
		return NULL;
	return json_string(text);
}

/* Sign the login's data with offer of; the signature is appended to sig. */
static tether_err sign(tether_client *c, struct key_offers *os, struct offer *of,
                       const struct tether_login_opts *o, const struct buf *data,
                       struct buf *sig)
{
	char why[200];
	size_t bl;
	const unsigned char *blob = sshkey_blob(of->pub, &bl);
	if (of->in_agent && os->sock != NULL) {
		uint32_t flags = strcmp(sshkey_type(of->pub), "ssh-rsa") == 0 ? AGENT_RSA_SHA2_512 : 0;
		if (agent_sign(os->sock, blob, bl, (const unsigned char *)data->data, data->len,
		               flags, sig, why, sizeof why) == 0)
			return TETHER_E_OK;
		if (of->file[0] == '\0')
			return client_fail(c, TETHER_E_AUTH_FAILED, "ssh-agent did not sign: %s", why);
	}
	if (of->priv == NULL) {
		tether_err e = load_identity(c, of, o);
		if (e != TETHER_E_OK)
			return e;
	}
	if (sshkey_sign(of->priv, (const unsigned char *)data->data, data->len, sig) != 0)
		return client_fail(c, TETHER_E_INTERNAL, "cannot sign with %s", of->file);
	return TETHER_E_OK;
}

/* See login-key.h. */
tether_err login_offers_new(tether_client *c, const struct tether_login_opts *o,
                            struct key_offers **out)
{
	struct key_offers *os = calloc(1, sizeof *os);
	*out = NULL;
	if (os == NULL)
		return client_fail(c, TETHER_E_NOMEM, "out of memory");
	os->sock = o->no_agent ? NULL : getenv("SSH_AUTH_SOCK");
	if (os->sock != NULL && os->sock[0] == '\0')
		os->sock = NULL;
	tether_err e = o->identity != NULL ? add_identity(c, os, o) : TETHER_E_OK;
	if (e != TETHER_E_OK) {
		login_offers_free(os);
		return e;
	}
	add_agent(os);
	*out = os;
	return TETHER_E_OK;
}

/* See login-key.h. */
void login_offers_free(struct key_offers *os)
{
	if (os == NULL)
		return;
	for (int i = 0; i < os->n; i++) {
		sshkey_free(os->v[i].pub);
		sshkey_free(os->v[i].priv);
	}
	free(os);
}

/* See login-key.h. */
json_t *login_challenge_body(tether_client *c, const struct key_offers *os, const char *user)
{
	if (os == NULL || os->n == 0) {
		client_fail(c, TETHER_E_AUTH_FAILED, "no key to offer");
		return NULL;
	}
	json_t *keys = json_array();
	for (int i = 0; i < os->n; i++) {
		size_t bl;
		const unsigned char *blob = sshkey_blob(os->v[i].pub, &bl);
		json_array_append_new(keys, b64_json(blob, bl));
	}
	return json_pack("{s:s,s:o}", "user", user, "keys", keys);
}

/* See login-key.h. */
tether_err login_signed_body(tether_client *c, struct key_offers *os,
                             const struct tether_login_opts *o, const struct target *t,
                             const char *user, json_t *challenge, json_t **body,
                             char *fp, size_t fpsz)
{
	unsigned char nonce[KEYLOGIN_NONCE_LEN];
	const char *ntext = json_string_value(json_object_get(challenge, "nonce"));
	json_t *accept = json_object_get(challenge, "accept");
	*body = NULL;
	if (ntext == NULL || crypto_b64_decode(ntext, nonce, sizeof nonce) != KEYLOGIN_NONCE_LEN ||
	    !json_is_array(accept))
		return client_fail(c, TETHER_E_PROTOCOL, "malformed login challenge from %s", t->key);
	if (!t->have_binding)
		return client_fail(c, TETHER_E_TLS, "cannot read the TLS binding of the connection "
		                   "to %s", t->key);
	json_int_t pick = json_integer_value(json_array_get(accept, 0));
	if (json_array_size(accept) == 0 || pick < 0 || pick >= os->n)
		return client_fail(c, TETHER_E_AUTH_FAILED, "%s accepted none of the %d key%s "
		                   "offered for %s", t->key, os->n, os->n == 1 ? "" : "s", user);
	struct offer *of = &os->v[pick];
	struct buf data, sig;
	buf_init(&data, 0);
	buf_init(&sig, SSHKEY_SIG_MAX);
	size_t bl;
	const unsigned char *blob = sshkey_blob(of->pub, &bl);
	tether_err e = TETHER_E_OK;
	if (keylogin_data(user, nonce, t->binding, blob, bl, &data) != 0)
		e = client_fail(c, TETHER_E_NOMEM, "out of memory");
	else
		e = sign(c, os, of, o, &data, &sig);
	if (e == TETHER_E_OK) {
		*body = json_pack("{s:s,s:o,s:s,s:o}", "user", user, "key", b64_json(blob, bl),
		                  "nonce", ntext, "signature",
		                  b64_json((const unsigned char *)sig.data, sig.len));
		char f[SSHKEY_FP_LEN];
		sshkey_fingerprint(of->pub, f);
		snprintf(fp, fpsz, "%s", f);
	}
	buf_free(&data);
	buf_free(&sig);
	return e;
}
