/*
 * api-auth.c - login, logout and whoami.
 *
 * Login is the only endpoint that sees a password. It is rate-limited per
 * user name and per source address (429 with Retry-After while locked),
 * takes the same scrypt time whether or not the user exists, and never says
 * which of name or password was wrong. Passwords are checked against the
 * users table, or by PAM with auth = pam (pamauth.h). Every outcome is
 * audited. The token it returns is shown once; only its SHA-256 is kept.
 */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "api.h"
#include "crypto.h"
#include "jsonu.h"
#include "keyauth.h"
#include "log.h"
#include "metrics.h"
#include "pamauth.h"
#include "pwhash.h"
#include "timeu.h"

/* A hash of a random password nobody knows, made like every user's: an
 * unknown user costs the same hashing time as a known one. */
static char dummy_hash[PWHASH_MAX];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void dummy_make(void)
{
	uint8_t raw[32];
	char pw[64];
	if (crypto_random(raw, sizeof raw) != 0 ||
	    crypto_b64_encode(raw, sizeof raw, false, false, pw, sizeof pw) == 0 ||
	    pwhash_make(pw, dummy_hash, sizeof dummy_hash) != 0)
		dummy_hash[0] = '\0';   /* verifies nothing (-1), at no cost */
	crypto_wipe(pw, sizeof pw);
	crypto_wipe(raw, sizeof raw);
}

/* Replace an outdated hash of user's (the password just matched it) by a
 * yescrypt one (docs/security.md, "Passwords"). */
static void upgrade_hash(struct req *r, const char *user, const char *password,
                         const char *pwhash)
{
	char fresh[PWHASH_MAX];
	if (!pwhash_outdated(pwhash) || pwhash_make(password, fresh, sizeof fresh) != 0)
		return;
	if (store_user_set_password(r->srv->store, user, fresh) == TETHER_E_OK) {
		struct logline l;
		log_begin(&l, LOG_INFO, "password_hash_upgraded");
		log_str(&l, "user", user);
		log_end(&l);
	}
	crypto_wipe(fresh, sizeof fresh);
}

/* Log and audit one login outcome. */
static void login_event(struct req *r, const char *event, const char *user,
                        enum log_level lv)
{
	struct logline l;
	log_begin(&l, lv, event);
	log_str(&l, "user", user);
	log_str(&l, "peer", r->peer);
	log_end(&l);
	store_audit(r->srv->store, event, user, r->peer, "");
}

/* Password hashes in flight: each scrypt costs ~32 MiB, so concurrent
 * logins are bounded (login_concurrency); others wait up to
 * HASH_WAIT_MS for a slot, then get 503. */
#define HASH_WAIT_MS 2000
static sem_t hash_slots;

int api_auth_init(const struct server *srv)
{
	return sem_init(&hash_slots, 0, (unsigned)srv->conf.login_concurrency);
}

/* Take a hashing slot, waiting briefly; false if none came free. */
static bool hash_slot_take(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += HASH_WAIT_MS / 1000;
	ts.tv_nsec += (long)(HASH_WAIT_MS % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	int rc;
	while ((rc = sem_timedwait(&hash_slots, &ts)) != 0 && errno == EINTR)
		;
	return rc == 0;
}

static void hash_slot_give(void)
{
	sem_post(&hash_slots);
}

/* Log and audit a refused attempt (locked out, or no hashing slot) at most
 * once a second: a guesser's flood would otherwise write a row per try.
 * The record that is written says how many went unrecorded before it. */
static void refusal_event(struct req *r, const char *event, const char *user)
{
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	static int64_t last, quiet;
	int64_t now = timeu_now(), skipped = -1;
	pthread_mutex_lock(&mu);
	if (now != last) {
		skipped = quiet;
		last = now;
		quiet = 0;
	} else {
		quiet++;
	}
	pthread_mutex_unlock(&mu);
	if (skipped < 0)
		return;
	char detail[64];
	snprintf(detail, sizeof detail, skipped ? "%lld earlier refusals not recorded" : "",
	         (long long)skipped);
	struct logline l;
	log_begin(&l, LOG_WARN, event);
	log_str(&l, "user", user);
	log_str(&l, "peer", r->peer);
	if (skipped)
		log_int(&l, "unrecorded", skipped);
	log_end(&l);
	store_audit(r->srv->store, event, user, r->peer, detail);
}

/* Answer 429 for a locked key. */
static tether_err locked(struct req *r, const char *user, int64_t left)
{
	r->retry_after = left;
	refusal_event(r, "login_locked", user);
	return req_error(r, TETHER_E_LOCKED_OUT,
	                 "too many failed logins; try again in %lld seconds",
	                 (long long)left);
}

/* Issue a token to u and answer the login; detail says how u proved it
 * (for the audit trail: "" for a password, the key's fingerprint). */
static tether_err issue_token(struct req *r, const struct user_rec *u, int64_t now,
                              const char *detail)
{
	char token[CRYPTO_TOKEN_TEXT], hash[2 * CRYPTO_SHA256_LEN + 1];
	int64_t expires = now + r->srv->conf.token_ttl;
	if (crypto_token_new(token, hash) != 0)
		return req_error(r, TETHER_E_INTERNAL, "cannot make a token");
	tether_err e = store_token_add(r->srv->store, u->id, hash, r->client_id, now, expires);
	if (e != TETHER_E_OK) {
		crypto_wipe(token, sizeof token);
		return req_error(r, e, "cannot record the token");
	}
	struct logline l;
	log_begin(&l, LOG_INFO, "login");
	log_str(&l, "user", u->name);
	log_str(&l, "peer", r->peer);
	if (detail[0] != '\0')
		log_str(&l, "key", detail);   /* a fingerprint: nothing secret */
	log_end(&l);
	store_audit(r->srv->store, "login", u->name, r->peer, detail);
	char exp[TIMEU_RFC3339_LEN];
	timeu_rfc3339(expires, exp);
	json_t *out = json_pack("{s:s,s:s,s:s,s:b}", "token", token, "user", u->name,
	                        "expires", exp, "admin", u->admin);
	crypto_wipe(token, sizeof token);
	return req_reply(r, 200, out);
}

/* Decode a base64 member of r->in into out (at most outsz bytes); its
 * length, or -1 with a 400 recorded. */
static long get_b64(struct req *r, json_t *obj, const char *key, unsigned char *out,
                    size_t outsz)
{
	const char *text = NULL;
	char why[160];
	if (jsonu_get_string(obj, key, true, 4 * outsz / 3 + 4, &text, why, sizeof why) != JSONU_OK) {
		req_error(r, TETHER_E_INVALID_ARGUMENT, "%s", why);
		return -1;
	}
	long n = crypto_b64_decode(text, out, outsz);
	if (n < 0)
		req_error(r, TETHER_E_INVALID_ARGUMENT, "%s: not base64, or too long", key);
	return n;
}

/* Look a login's user up: OK, NOT_FOUND (also for a name that cannot be
 * one), or an internal error. */
static tether_err login_user(struct req *r, const char *user, struct user_rec *u,
                             char *pwhash, size_t pwhashsz)
{
	return addr_valid_name(user)
		? store_user_get(r->srv->store, user, u, pwhash, pwhashsz)
		: TETHER_E_NOT_FOUND;
}

/* A user's keys (u NULL: none). With authorized_keys = yes that forks a
 * child to read the account's file, so those reads share the login slots
 * (login_concurrency) with password checks: NULL and *busy if none came
 * free. */
static struct keyset *user_keys(struct req *r, const struct user_rec *u, bool *busy)
{
	bool slot = u != NULL && r->srv->conf.authorized_keys;
	*busy = slot && !hash_slot_take();
	if (*busy)
		return NULL;
	struct keyset *ks = keyauth_keys(r->srv, u);
	if (slot)
		hash_slot_give();
	return ks;
}

/* Answer 503 when no login slot came free. */
static tether_err busy_reply(struct req *r, const char *user)
{
	r->retry_after = 1;
	refusal_event(r, "login_busy", user);
	return req_error(r, TETHER_E_UNAVAILABLE, "too many logins in progress; try again "
	                 "in a second");
}

static void free_keys(struct sshkey **keys, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sshkey_free(keys[i]);
}

/* POST /v1/login/challenge {"user", "keys": [base64 public key blob, ...]}
 * -> {"nonce", "accept": [indexes of the offered keys the user may log in
 * with]}. An unknown user gets the same answer as one without those keys. */
tether_err api_login_challenge(struct req *r)
{
	char why[160];
	const char *user = NULL;
	if (r->in == NULL)
		return req_error(r, TETHER_E_BAD_REQUEST, "expected a JSON body with user and keys");
	if (jsonu_get_string(r->in, "user", true, BOUND_NAME, &user, why, sizeof why) != JSONU_OK)
		return req_error(r, TETHER_E_INVALID_ARGUMENT, "%s", why);
	json_t *offered = json_object_get(r->in, "keys");
	if (!json_is_array(offered) || json_array_size(offered) == 0 ||
	    json_array_size(offered) > KEYLOGIN_OFFER_MAX)
		return req_error(r, TETHER_E_INVALID_ARGUMENT, "keys: expected an array of 1 to %d "
		                 "base64 public keys", KEYLOGIN_OFFER_MAX);
	/* every offered key is read before anything is looked up: bad input
	 * costs no store query and no authorized_keys read */
	struct sshkey *keys[KEYLOGIN_OFFER_MAX] = { NULL };
	size_t i, n = json_array_size(offered);
	json_t *v;
	unsigned char blob[SSHKEY_BLOB_MAX];
	json_array_foreach(offered, i, v) {
		const char *text = json_string_value(v);
		long len = text && strlen(text) <= 4 * sizeof blob / 3 + 4
			? crypto_b64_decode(text, blob, sizeof blob) : -1;
		if (len < 0) {
			free_keys(keys, i);
			return req_error(r, TETHER_E_INVALID_ARGUMENT, "keys[%zu]: not a base64 "
			                 "public key", i);
		}
		/* a key type we don't know stays NULL: simply not accepted */
		keys[i] = sshkey_from_blob(blob, (size_t)len, why, sizeof why);
	}
	unsigned char binding[KEYLOGIN_BINDING_LEN], nonce[KEYLOGIN_NONCE_LEN];
	struct user_rec u;
	bool busy = false;
	struct keyset *ks = NULL;
	tether_err e = req_tls_binding(r, binding) == 0 ? login_user(r, user, &u, NULL, 0)
	                                                : TETHER_E_INTERNAL;
	if (e == TETHER_E_OK || e == TETHER_E_NOT_FOUND)
		ks = user_keys(r, e == TETHER_E_OK ? &u : NULL, &busy);
	json_t *accept = json_array();
	const char *source;
	for (i = 0; ks != NULL && i < n; i++)
		if (keys[i] != NULL && keyauth_match(ks, keys[i], &source))
			json_array_append_new(accept, json_integer((json_int_t)i));
	free_keys(keys, n);
	if (ks == NULL) {
		json_decref(accept);
		if (busy)
			return busy_reply(r, user);
		return req_error(r, e == TETHER_E_OK || e == TETHER_E_NOT_FOUND ? TETHER_E_NOMEM : e,
		                 "cannot look the user or their keys up");
	}
	keyauth_keys_free(ks);
	if (keyauth_nonce_new(user, binding, nonce, timeu_now()) != 0) {
		json_decref(accept);
		return req_error(r, TETHER_E_INTERNAL, "cannot make a nonce");
	}
	char text[2 * KEYLOGIN_NONCE_LEN];
	crypto_b64_encode(nonce, sizeof nonce, false, true, text, sizeof text);
	return req_reply(r, 200, json_pack("{s:s,s:o}", "nonce", text, "accept", accept));
}

/* The key half of api_login: {"user", "key", "nonce", "signature"}. The
 * attempt has been admitted by the lockout; *failed says how it ended, fp
 * is the key's fingerprint and *from where the user's key was found. */
static tether_err key_login(struct req *r, const char *user, int64_t now, bool *failed,
                            struct user_rec *u, char fp[SSHKEY_FP_LEN], const char **from)
{
	unsigned char blob[SSHKEY_BLOB_MAX], sig[SSHKEY_SIG_MAX], nonce[KEYLOGIN_NONCE_LEN];
	unsigned char binding[KEYLOGIN_BINDING_LEN];
	char why[160];
	long nblob, nsig, nnonce;
	*failed = false;
	if ((nblob = get_b64(r, r->in, "key", blob, sizeof blob)) < 0 ||
	    (nsig = get_b64(r, r->in, "signature", sig, sizeof sig)) < 0 ||
	    (nnonce = get_b64(r, r->in, "nonce", nonce, sizeof nonce)) < 0)
		return r->err;
	if (nnonce != KEYLOGIN_NONCE_LEN)
		return req_error(r, TETHER_E_INVALID_ARGUMENT, "nonce: expected %d bytes",
		                 KEYLOGIN_NONCE_LEN);
	if (req_tls_binding(r, binding) != 0)
		return req_error(r, TETHER_E_INTERNAL, "cannot read the TLS connection's binding");
	struct sshkey *k = sshkey_from_blob(blob, (size_t)nblob, why, sizeof why);
	if (k == NULL)
		return req_error(r, TETHER_E_INVALID_ARGUMENT, "key: %s", why);
	sshkey_fingerprint(k, fp);
	*failed = true;
	const char *source = "";
	tether_err e = login_user(r, user, u, NULL, 0);
	struct keyset *ks = NULL;
	if (e != TETHER_E_OK && e != TETHER_E_NOT_FOUND) {
		sshkey_free(k);
		*failed = false;
		return req_error(r, e, "cannot look the user up");
	}
	/* the nonce is used up first, whatever fails after */
	bool fresh = keyauth_nonce_take(user, binding, nonce, now), busy = false;
	if (e == TETHER_E_OK)
		ks = user_keys(r, u, &busy);
	if (busy) {
		sshkey_free(k);
		*failed = false;
		return busy_reply(r, user);
	}
	if (ks != NULL && keyauth_match(ks, k, &source) && fresh &&
	    keyauth_verify(k, user, nonce, binding, sig, (size_t)nsig, why, sizeof why) == 0)
		*failed = false;
	else if (!fresh)
		snprintf(why, sizeof why, "the nonce is unknown, used, expired or from another "
		         "connection");
	else if (e != TETHER_E_OK || ks == NULL || source[0] == '\0')
		snprintf(why, sizeof why, "key not accepted for this user");
	keyauth_keys_free(ks);
	sshkey_free(k);
	if (*failed) {
		struct logline l;
		log_begin(&l, LOG_WARN, "key_login_refused");
		log_str(&l, "user", user);
		log_str(&l, "peer", r->peer);
		log_str(&l, "key", fp);
		log_str(&l, "reason", why);
		log_end(&l);
	} else {
		*from = source;
	}
	return TETHER_E_OK;
}

/* POST /v1/login {"user", "password"} or {"user", "key", "nonce",
 * "signature"} -> {"token", "user", "expires", "admin"} */
tether_err api_login(struct req *r)
{
	char why[160], ukey[BOUND_NAME + 8], akey[80];
	const char *user = NULL, *password = NULL;
	if (r->in == NULL)
		return req_error(r, TETHER_E_BAD_REQUEST, "expected a JSON body with user and password");
	bool by_key = json_object_get(r->in, "signature") != NULL;
	if (jsonu_get_string(r->in, "user", true, BOUND_NAME, &user, why, sizeof why) != JSONU_OK ||
	    (!by_key && jsonu_get_string(r->in, "password", true, BOUND_PASSWORD, &password, why,
	                                 sizeof why) != JSONU_OK))
		return req_error(r, TETHER_E_INVALID_ARGUMENT, "%s", why);

	int64_t now = timeu_now();
	snprintf(ukey, sizeof ukey, "user:%s", user);
	snprintf(akey, sizeof akey, "addr:%s", r->peer);
	const char *const keys[] = { ukey, akey };
	struct lockout *lo = r->srv->lockout;
	/* the attempt counts before it is evaluated: concurrent guesses cannot
	 * all slip under the threshold (docs/security.md) */
	int64_t left = lockout_enter(lo, keys, 2, now);
	if (left > 0)
		return locked(r, user, left);
	struct user_rec u;
	if (by_key) {
		char fp[SSHKEY_FP_LEN] = "";
		const char *from = "";
		bool failed;
		tether_err e = key_login(r, user, now, &failed, &u, fp, &from);
		left = lockout_leave(lo, keys, 2, timeu_now(), failed);
		if (e != TETHER_E_OK)
			return e;
		if (failed) {
			metrics_login_failed();
			store_audit(r->srv->store, "login_failed", user, r->peer, fp);
			if (left > 0)
				login_event(r, "lockout", user, LOG_WARN);
			return req_error(r, TETHER_E_AUTH_FAILED, "public key login refused");
		}
		lockout_clear(lo, ukey);
		char detail[SSHKEY_FP_LEN + 32];
		snprintf(detail, sizeof detail, "%s (%s)", fp, from);
		return issue_token(r, &u, now, detail);
	}
	if (!hash_slot_take()) {
		lockout_leave(lo, keys, 2, timeu_now(), false);
		return busy_reply(r, user);
	}

	char pwhash[CRYPTO_PWHASH_MAX] = "";
	tether_err e = login_user(r, user, &u, pwhash, sizeof pwhash);
	int ok = 0;
	char refusal[300] = "";   /* from PAM: why a right password is not enough */
	if (r->srv->conf.auth == SRVCONF_AUTH_PAM)
		ok = pamauth_login(r->srv, r->peer, user, password, pwhash, &u, &e, refusal,
		                   sizeof refusal);
	else if (e == TETHER_E_OK || e == TETHER_E_NOT_FOUND) {
		pthread_once(&dummy_once, dummy_make);
		ok = pwhash_verify(password, e == TETHER_E_OK ? pwhash : dummy_hash);
		if (ok == 1 && e == TETHER_E_OK)
			upgrade_hash(r, user, password, pwhash);
	}
	hash_slot_give();
	crypto_wipe(pwhash, sizeof pwhash);
	crypto_wipe((char *)password, strlen(password));  /* our copy, in r->in */
	if (e != TETHER_E_OK && e != TETHER_E_NOT_FOUND) {
		lockout_leave(lo, keys, 2, timeu_now(), false);
		return req_error(r, e, "%s", refusal[0] ? refusal : "cannot look the user up");
	}
	bool failed = e != TETHER_E_OK || ok != 1;
	left = lockout_leave(lo, keys, 2, timeu_now(), failed);
	if (failed) {
		metrics_login_failed();
		login_event(r, "login_failed", user, LOG_WARN);
		if (left > 0)
			login_event(r, "lockout", user, LOG_WARN);
		return req_error(r, TETHER_E_AUTH_FAILED, "wrong user name or password");
	}
	lockout_clear(lo, ukey);
	return issue_token(r, &u, now, "");
}

/* POST /v1/logout: revoke the token this request carries. */
tether_err api_logout(struct req *r)
{
	tether_err e = store_token_revoke(r->srv->store, r->token_hash);
	if (e != TETHER_E_OK)
		return req_error(r, e, "cannot revoke the token");
	store_audit(r->srv->store, "logout", r->user.name, r->peer, "");
	return req_reply(r, 200, json_pack("{s:b}", "revoked", 1));
}

/* GET /v1/whoami: the token's user and expiry. */
tether_err api_whoami(struct req *r)
{
	char exp[TIMEU_RFC3339_LEN];
	timeu_rfc3339(r->token_expires, exp);
	return req_reply(r, 200, json_pack("{s:s,s:b,s:s,s:s}", "user", r->user.name,
	                                   "admin", r->user.admin, "expires", exp,
	                                   "host", r->srv->hostname));
}
