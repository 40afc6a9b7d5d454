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
#include "log.h"
#include "pamauth.h"
#include "timeu.h"

/* A well-formed hash that matches no password: spends the same scrypt time
 * for unknown users as for known ones. */
static const char dummy_hash[] =
	"$scrypt$ln=15,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$"
	"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

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

/* POST /v1/login {"user", "password"} -> {"token", "user", "expires", "admin"} */
tether_err api_login(struct req *r)
{
	char why[160], ukey[BOUND_NAME + 8], akey[80];
	const char *user = NULL, *password = NULL;
	if (r->in == NULL)
		return req_error(r, TETHER_E_BAD_REQUEST, "expected a JSON body with user and password");
	if (jsonu_get_string(r->in, "user", true, BOUND_NAME, &user, why, sizeof why) != JSONU_OK ||
	    jsonu_get_string(r->in, "password", true, BOUND_PASSWORD, &password, why, sizeof why) != JSONU_OK)
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
	if (!hash_slot_take()) {
		lockout_leave(lo, keys, 2, timeu_now(), false);
		r->retry_after = 1;
		refusal_event(r, "login_busy", user);
		return req_error(r, TETHER_E_UNAVAILABLE, "too many logins in progress; try again "
		                 "in a second");
	}

	char pwhash[CRYPTO_PWHASH_MAX] = "";
	struct user_rec u;
	tether_err e = addr_valid_name(user)
		? store_user_get(r->srv->store, user, &u, pwhash, sizeof pwhash)
		: TETHER_E_NOT_FOUND;
	int ok = 0;
	char refusal[300] = "";   /* from PAM: why a right password is not enough */
	if (r->srv->conf.auth == SRVCONF_AUTH_PAM)
		ok = pamauth_login(r->srv, r->peer, user, password, pwhash, &u, &e, refusal,
		                   sizeof refusal);
	else if (e == TETHER_E_OK || e == TETHER_E_NOT_FOUND)
		ok = crypto_pw_verify(password, e == TETHER_E_OK ? pwhash : dummy_hash);
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
		login_event(r, "login_failed", user, LOG_WARN);
		if (left > 0)
			login_event(r, "lockout", user, LOG_WARN);
		return req_error(r, TETHER_E_AUTH_FAILED, "wrong user name or password");
	}
	lockout_clear(lo, ukey);

	char token[CRYPTO_TOKEN_TEXT], hash[2 * CRYPTO_SHA256_LEN + 1];
	int64_t expires = now + r->srv->conf.token_ttl;
	if (crypto_token_new(token, hash) != 0)
		return req_error(r, TETHER_E_INTERNAL, "cannot make a token");
	e = store_token_add(r->srv->store, u.id, hash, r->client_id, now, expires);
	if (e != TETHER_E_OK) {
		crypto_wipe(token, sizeof token);
		return req_error(r, e, "cannot record the token");
	}
	login_event(r, "login", u.name, LOG_INFO);
	char exp[TIMEU_RFC3339_LEN];
	timeu_rfc3339(expires, exp);
	json_t *out = json_pack("{s:s,s:s,s:s,s:b}", "token", token, "user", u.name,
	                        "expires", exp, "admin", u.admin);
	crypto_wipe(token, sizeof token);
	return req_reply(r, 200, out);
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
