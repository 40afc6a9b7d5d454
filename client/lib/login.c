/*
 * login.c - login and logout, with ssh-like trust on first use.
 *
 * Before a password is sent, the server's key must be trusted: pinned in
 * known_hosts already (and matching), named by --fingerprint, accepted by
 * the user at a prompt or by --accept-new, or verified against --cacert
 * (or TETHER_CACERT, for hosts not yet in known_hosts).
 * Learning an unknown key is a probe request that carries no secret.
 */
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client-int.h"
#include "login-key.h"

/* The local account name, the default user for a login. */
static const char *local_user(void)
{
	const char *u = getenv("USER");
	if (u != NULL && u[0] != '\0')
		return u;
	struct passwd *pw = getpwuid(getuid());
	return pw ? pw->pw_name : NULL;
}

/* Decide how to trust the server for this login; may pin a new key. */
static tether_err establish_trust(tether_client *c, struct target *t,
                                  const struct tether_login_opts *o)
{
	if (t->trust == TRUST_SYSTEM || t->trust == TRUST_NONE)
		return TETHER_E_OK;   /* a remote client's: decided by its caller */
	const char *ca = o->cacert;
	if (ca == NULL && o->fingerprint == NULL && !o->accept_new && t->trust == TRUST_PROBE)
		ca = o->cacert_default;   /* a pin already made still holds (docs/security.md) */
	if (ca != NULL) {
		if (realpath(ca, t->cacert) == NULL)
			return client_fail(c, TETHER_E_USAGE, "cannot read CA file %s%s", ca,
			                   o->cacert ? "" : " (TETHER_CACERT)");
		t->trust = TRUST_CA;
		return TETHER_E_OK;   /* recorded once the login succeeds */
	}
	if (t->trust == TRUST_PIN && o->fingerprint == NULL)
		return TETHER_E_OK;   /* a mismatch surfaces as HOSTKEY_CHANGED */
	if (t->trust == TRUST_CA && o->fingerprint == NULL)
		return TETHER_E_OK;
	struct target probe = *t;
	probe.trust = TRUST_PROBE;
	probe.token[0] = '\0';
	tether_err e = client_request(c, &probe, "GET", "/v1/health", NULL, NULL);
	if (e != TETHER_E_OK)
		return e;
	if (probe.seen_fp[0] == '\0')
		return client_fail(c, TETHER_E_TLS, "could not read the key of %s", t->key);
	if (o->fingerprint != NULL) {
		if (strcmp(o->fingerprint, probe.seen_fp) != 0)
			return client_fail(c, TETHER_E_HOSTKEY_REJECTED,
			                   "%s presented key %s, not the expected %s; not logging in",
			                   t->key, probe.seen_fp, o->fingerprint);
	} else if (!o->accept_new &&
	           (o->confirm == NULL || o->confirm(o->confirm_ctx, t->key, probe.seen_fp) != 1)) {
		return client_fail(c, TETHER_E_HOSTKEY_UNKNOWN,
		                   "the authenticity of %s can't be established; its key "
		                   "fingerprint is %s. Check it with 'tetherd fingerprint' on "
		                   "the server, then log in with --fingerprint %s (or "
		                   "--accept-new)", t->key, probe.seen_fp, probe.seen_fp);
	}
	if (known_hosts_set(c, t->key, probe.seen_fp) != 0)
		return client_fail(c, TETHER_E_IO, "cannot write %s/known_hosts", c->config_dir);
	t->trust = TRUST_PIN;
	snprintf(t->pin, sizeof t->pin, "%s", probe.seen_fp);
	return TETHER_E_OK;
}

/* Log in with the password, after the keys (whose failure c's message
 * says) were not accepted. */
static tether_err login_password(tether_client *c, struct target *t, const char *user,
                                 const struct tether_login_opts *o, json_t **reply)
{
	char asked[BOUND_PASSWORD + 2];
	const char *password = o->password;
	if (password == NULL && o->get_password == NULL) {
		char why[256];
		snprintf(why, sizeof why, "%s", tether_last_error(c));
		return client_fail(c, TETHER_E_AUTH_FAILED, "public key login failed (%s) and no "
		                   "password was given (use --password-stdin, or a terminal)", why);
	}
	if (password == NULL) {
		if (o->get_password(o->password_ctx, asked, sizeof asked) != 0)
			return client_fail(c, TETHER_E_USAGE, "no password given");
		password = asked;
	}
	json_t *body = json_pack("{s:s,s:s}", "user", user, "password", password);
	crypto_wipe(asked, sizeof asked);
	tether_err e = client_request(c, t, "POST", "/v1/login", body, reply);
	/* wipe our copy of the password inside the request object */
	json_t *pw = json_object_get(body, "password");
	if (pw != NULL) {
		char *s = (char *)json_string_value(pw);
		crypto_wipe(s, strlen(s));
	}
	json_decref(body);
	return e;
}

/* Log in; see tether.h. */
tether_err tether_login(tether_client *c, const char *host,
                        const struct tether_login_opts *o, json_t **info)
{
	struct target t;
	json_t *reply = NULL;
	tether_err e = client_target_parse(c, host, &t);
	if (e != TETHER_E_OK)
		return e;
	const char *user = o->user ? o->user : t.hs.user[0] ? t.hs.user : local_user();
	if (user == NULL || !addr_valid_name(user))
		return client_fail(c, TETHER_E_USAGE, "invalid or unknown user name; use --user");
	/* the key first (as ssh does): no password is asked for an untrusted host */
	if ((e = establish_trust(c, &t, o)) != TETHER_E_OK)
		return e;
	char keyfp[64] = "";
	e = login_key(c, &t, user, o, &reply, keyfp, sizeof keyfp);
	if (e != TETHER_E_OK && e != TETHER_E_AUTH_FAILED)
		return e;
	if (e != TETHER_E_OK && (e = login_password(c, &t, user, o, &reply)) != TETHER_E_OK)
		return e;
	const char *token = json_string_value(json_object_get(reply, "token"));
	const char *expires = json_string_value(json_object_get(reply, "expires"));
	if (token == NULL) {
		json_decref(reply);
		return client_fail(c, TETHER_E_PROTOCOL, "login reply without a token");
	}
	if (t.trust == TRUST_CA) {
		char v[BOUND_PATH + 8];
		snprintf(v, sizeof v, "cacert:%s", t.cacert);
		known_hosts_set(c, t.key, v);
	}
	int saved = creds_set(c, t.key, user, token, expires);
	crypto_wipe((char *)token, strlen(token));
	if (saved != 0) {
		json_decref(reply);
		return client_fail(c, TETHER_E_IO, "cannot save the token in %s", c->state_dir);
	}
	if (info != NULL)
		*info = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "user", user, "host", t.key,
		                  "expires", expires ? expires : "",
		                  "fingerprint", t.trust == TRUST_PIN ? t.pin : "",
		                  "method", keyfp[0] ? "publickey" : "password", "key", keyfp);
	json_decref(reply);
	return TETHER_E_OK;
}

/* Log out: revoke the token on the server, then forget it here. */
tether_err tether_logout(tether_client *c, const char *host)
{
	struct target t;
	tether_err e = client_target(c, host, &t);
	if (e != TETHER_E_OK)
		return e;
	e = client_request(c, &t, "POST", "/v1/logout", NULL, NULL);
	/* a token the server no longer honours is as good as gone */
	if (e != TETHER_E_OK && e != TETHER_E_UNAUTHORIZED)
		return e;
	if (creds_remove(c, t.key, t.user) != 0)
		return client_fail(c, TETHER_E_IO, "cannot update %s", c->state_dir);
	crypto_wipe(t.token, sizeof t.token);
	return TETHER_E_OK;
}
