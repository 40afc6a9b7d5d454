/*
 * api-auth.c - login, logout and whoami.
 *
 * Login is the only endpoint that sees a password. It is rate-limited per
 * user name and per source address (429 with Retry-After while locked),
 * takes the same scrypt time whether or not the user exists, and never says
 * which of name or password was wrong. Every outcome is audited. The token
 * it returns is shown once; only its SHA-256 is kept.
 */
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "api.h"
#include "crypto.h"
#include "jsonu.h"
#include "log.h"
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

/* Answer 429 for a locked key. */
static tether_err locked(struct req *r, const char *user, int64_t left)
{
	r->retry_after = left;
	login_event(r, "login_locked", user, LOG_WARN);
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
	struct lockout *lo = r->srv->lockout;
	int64_t left = lockout_remaining(lo, ukey, now);
	if (left == 0)
		left = lockout_remaining(lo, akey, now);
	if (left > 0)
		return locked(r, user, left);

	char pwhash[CRYPTO_PWHASH_MAX] = "";
	struct user_rec u;
	tether_err e = addr_valid_name(user)
		? store_user_get(r->srv->store, user, &u, pwhash, sizeof pwhash)
		: TETHER_E_NOT_FOUND;
	if (e != TETHER_E_OK && e != TETHER_E_NOT_FOUND)
		return req_error(r, e, "cannot look the user up");
	int ok = crypto_pw_verify(password, e == TETHER_E_OK ? pwhash : dummy_hash);
	crypto_wipe(pwhash, sizeof pwhash);
	crypto_wipe((char *)password, strlen(password));  /* our copy, in r->in */
	if (e != TETHER_E_OK || ok != 1) {
		int64_t l1 = lockout_fail(lo, ukey, now);
		int64_t l2 = lockout_fail(lo, akey, now);
		login_event(r, "login_failed", user, LOG_WARN);
		if (l1 > 0 || l2 > 0)
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
