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
#include "hostconfig.h"
#include "login-int.h"

/* The local account name, the default user for a login. */
static const char *local_user(void)
{
	const char *u = getenv("USER");
	if (u != NULL && u[0] != '\0')
		return u;
	struct passwd *pw = getpwuid(getuid());
	return pw ? pw->pw_name : NULL;
}

/* Decide how to trust the server before logging in: *probe set when its
 * key must be learnt first (login_reply judges it). */
static tether_err trust_before(tether_client *c, struct target *t,
                               const struct tether_login_opts *o, const char *conf_ca,
                               bool *probe)
{
	*probe = false;
	if (t->trust == TRUST_SYSTEM || t->trust == TRUST_NONE)
		return TETHER_E_OK;   /* a remote client's: decided by its caller */
	const char *ca = o->cacert;
	/* a pin already made still holds (docs/security.md); the config file's
	 * CACert for the host, else $TETHER_CACERT, for a host not yet known */
	if (ca == NULL && o->fingerprint == NULL && !o->accept_new && t->trust == TRUST_PROBE)
		ca = conf_ca[0] ? conf_ca : o->cacert_default;
	if (ca != NULL) {
		if (realpath(ca, t->cacert) == NULL)
			return client_fail(c, TETHER_E_USAGE, "cannot read CA file %s%s", ca,
			                   o->cacert ? "" : ca == conf_ca ? " (CACert in the config "
			                   "file)" : " (TETHER_CACERT)");
		t->trust = TRUST_CA;
		return TETHER_E_OK;   /* recorded once the login succeeds */
	}
	if (t->trust == TRUST_PIN && o->fingerprint == NULL)
		return TETHER_E_OK;   /* a mismatch surfaces as HOSTKEY_CHANGED */
	if (t->trust == TRUST_CA && o->fingerprint == NULL)
		return TETHER_E_OK;
	*probe = true;
	return TETHER_E_OK;
}

/* Judge the key the probe saw: demanded, accepted or confirmed, it is
 * pinned. */
static tether_err trust_after(tether_client *c, struct login_run *r,
                              const struct tether_login_opts *o)
{
	struct target *t = &r->t;
	const char *seen = r->probe.seen_fp;
	if (seen[0] == '\0')
		return client_fail(c, TETHER_E_TLS, "could not read the key of %s", t->key);
	if (o->fingerprint != NULL) {
		if (strcmp(o->fingerprint, seen) != 0)
			return client_fail(c, TETHER_E_HOSTKEY_REJECTED,
			                   "%s presented key %s, not the expected %s; not logging in",
			                   t->key, seen, o->fingerprint);
	} else if (!o->accept_new &&
	           (o->confirm == NULL || o->confirm(o->confirm_ctx, t->key, seen) != 1)) {
		return client_fail(c, TETHER_E_HOSTKEY_UNKNOWN,
		                   "the authenticity of %s can't be established; its key "
		                   "fingerprint is %s. Check it with 'tetherd fingerprint' on "
		                   "the server, then log in with --fingerprint %s (or "
		                   "--accept-new)", t->key, seen, seen);
	}
	if (known_hosts_set(c, t->key, seen) != 0)
		return client_fail(c, TETHER_E_IO, "cannot write %s/known_hosts", c->config_dir);
	t->trust = TRUST_PIN;
	snprintf(t->pin, sizeof t->pin, "%s", seen);
	return TETHER_E_OK;
}

/* The password login's body, after the keys (whose failure r says) were
 * not accepted. */
static tether_err password_body(tether_client *c, struct login_run *r,
                                const struct tether_login_opts *o, json_t **body)
{
	char asked[BOUND_PASSWORD + 2];
	const char *password = o->password;
	if (password == NULL && o->get_password == NULL)
		return client_fail(c, TETHER_E_AUTH_FAILED, "public key login failed (%s) and no "
		                   "password was given (use --password-stdin, or a terminal)",
		                   r->keys_failed);
	if (password == NULL) {
		if (o->get_password(o->password_ctx, asked, sizeof asked) != 0)
			return client_fail(c, TETHER_E_USAGE, "no password given");
		password = asked;
	}
	*body = json_pack("{s:s,s:s}", "user", r->user, "password", password);
	crypto_wipe(asked, sizeof asked);
	return TETHER_E_OK;
}

/* See login-int.h. */
void login_body_done(json_t *body)
{
	const char *wipe[] = { "password", "signature" };
	for (size_t i = 0; i < sizeof wipe / sizeof wipe[0]; i++) {
		char *v = (char *)json_string_value(json_object_get(body, wipe[i]));
		if (v != NULL)
			crypto_wipe(v, strlen(v));
	}
	json_decref(body);
}

/* What the configuration file says for host as written (its alias). */
static tether_err alias_config(tether_client *c, const char *host, struct hostconfig *hc)
{
	struct hostspec alias;
	char why[200];
	if (addr_parse_host(host, &alias, why, sizeof why) != 0)
		return client_fail(c, TETHER_E_USAGE, "%s", why);
	return client_hostconfig(c, alias.host, hc);
}

/* See login-int.h. */
tether_err login_begin(tether_client *c, const char *host, const struct tether_login_opts *o,
                       struct login_run *r)
{
	memset(r, 0, sizeof *r);
	r->step = LOGIN_DONE;
	struct hostconfig hc;
	tether_err e = alias_config(c, host, &hc);
	if (e == TETHER_E_OK)
		e = client_target_parse(c, host, &r->t);
	if (e != TETHER_E_OK)
		return e;
	snprintf(r->cacert, sizeof r->cacert, "%s", hc.cacert);
	snprintf(r->identity, sizeof r->identity, "%s", hc.identity);
	const char *user = o->user ? o->user : r->t.hs.user[0] ? r->t.hs.user : local_user();
	if (user == NULL || !addr_valid_name(user) ||
	    snprintf(r->user, sizeof r->user, "%s", user) >= (int)sizeof r->user)
		return client_fail(c, TETHER_E_USAGE, "invalid or unknown user name; use --user");
	/* the key first (as ssh does): no password is asked for an untrusted host */
	bool probe;
	if ((e = trust_before(c, &r->t, o, r->cacert, &probe)) != TETHER_E_OK)
		return e;
	if (probe) {
		r->probe = r->t;
		r->probe.trust = TRUST_PROBE;
		r->probe.token[0] = '\0';
	}
	r->step = probe ? LOGIN_PROBE : LOGIN_CHALLENGE;
	return TETHER_E_OK;
}

/* See login-int.h. */
tether_err login_request(tether_client *c, struct login_run *r, struct key_offers *os,
                         const struct tether_login_opts *o, const char **method,
                         const char **path, json_t **body, struct target **t)
{
	*method = "POST";
	*path = TETHER_API_PREFIX "/login";
	*body = NULL;
	*t = &r->t;
	switch (r->step) {
	case LOGIN_PROBE:
		*method = "GET";
		*path = TETHER_API_PREFIX "/health";
		*t = &r->probe;
		return TETHER_E_OK;
	case LOGIN_CHALLENGE:
		if ((*body = login_challenge_body(c, os, r->user)) != NULL) {
			*path = TETHER_API_PREFIX "/login/challenge";
			r->t.want_binding = true;
			r->t.have_binding = false;
			return TETHER_E_OK;
		}
		snprintf(r->keys_failed, sizeof r->keys_failed, "%s", tether_last_error(c));
		r->step = LOGIN_PASSWORD;
		return password_body(c, r, o, body);
	case LOGIN_SIGNED:
		*body = r->next;
		r->next = NULL;
		return TETHER_E_OK;
	case LOGIN_PASSWORD:
		return password_body(c, r, o, body);
	case LOGIN_DONE:
		break;
	}
	return client_fail(c, TETHER_E_INTERNAL, "login has no next request");
}

/* The keys failed (c says why): the password is next. */
static tether_err keys_failed(tether_client *c, struct login_run *r)
{
	snprintf(r->keys_failed, sizeof r->keys_failed, "%s", tether_last_error(c));
	r->step = LOGIN_PASSWORD;
	return TETHER_E_OK;
}

/* See login-int.h. */
tether_err login_reply(tether_client *c, struct login_run *r, struct key_offers *os,
                       const struct tether_login_opts *o, tether_err e, json_t *reply)
{
	r->t.want_binding = false;
	switch (r->step) {
	case LOGIN_PROBE:
		if (e == TETHER_E_OK && (e = trust_after(c, r, o)) == TETHER_E_OK)
			r->step = LOGIN_CHALLENGE;
		break;
	case LOGIN_CHALLENGE:
		if (e == TETHER_E_NOT_FOUND) {   /* a tetherd without key logins */
			client_fail(c, TETHER_E_AUTH_FAILED, "%s takes passwords only", r->t.key);
			return keys_failed(c, r);
		}
		if (e == TETHER_E_OK)
			e = login_signed_body(c, os, o, &r->t, r->user, reply, &r->next, r->keyfp,
			                      sizeof r->keyfp);
		crypto_wipe(r->t.binding, sizeof r->t.binding);
		if (e == TETHER_E_AUTH_FAILED)
			return keys_failed(c, r);
		if (e == TETHER_E_OK)
			r->step = LOGIN_SIGNED;
		break;
	case LOGIN_SIGNED:
		if (e == TETHER_E_AUTH_FAILED) {
			r->keyfp[0] = '\0';
			return keys_failed(c, r);
		}
		/* fall through */
	case LOGIN_PASSWORD:
		if (e == TETHER_E_OK) {
			r->reply = json_incref(reply);
			r->step = LOGIN_DONE;
		}
		break;
	case LOGIN_DONE:
		break;
	}
	return e;
}

/* See login-int.h. */
tether_err login_finish(tether_client *c, struct login_run *r, json_t **info)
{
	const char *token = json_string_value(json_object_get(r->reply, "token"));
	const char *expires = json_string_value(json_object_get(r->reply, "expires"));
	struct target *t = &r->t;
	if (token == NULL)
		return client_fail(c, TETHER_E_PROTOCOL, "login reply without a token");
	if (t->trust == TRUST_CA) {
		char v[BOUND_PATH + 8];
		snprintf(v, sizeof v, "cacert:%s", t->cacert);
		known_hosts_set(c, t->key, v);
	}
	int saved = creds_set(c, t->key, r->user, token, expires);
	crypto_wipe((char *)token, strlen(token));
	if (saved != 0)
		return client_fail(c, TETHER_E_IO, "cannot save the token in %s", c->state_dir);
	if (info != NULL)
		*info = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "user", r->user, "host", t->key,
		                  "expires", expires ? expires : "",
		                  "fingerprint", t->trust == TRUST_PIN ? t->pin : "",
		                  "method", r->keyfp[0] ? "publickey" : "password", "key", r->keyfp);
	return TETHER_E_OK;
}

/* See login-int.h. */
void login_run_clear(struct login_run *r)
{
	if (r->next != NULL)
		login_body_done(r->next);
	json_decref(r->reply);
	r->next = r->reply = NULL;
	crypto_wipe(r->t.token, sizeof r->t.token);
	crypto_wipe(r->t.binding, sizeof r->t.binding);
}

/* See login-int.h. */
struct tether_login_opts login_opts_for(tether_client *c, const struct tether_login_opts *o,
                                        const char *host, char *buf, size_t bufsz)
{
	struct tether_login_opts lo = *o;
	struct hostconfig hc;
	if (o->identity == NULL && alias_config(c, host, &hc) == TETHER_E_OK &&
	    hc.identity[0] != '\0') {
		snprintf(buf, bufsz, "%s", hc.identity);
		lo.identity = buf;
	}
	return lo;
}

/* Log in; see tether.h. */
tether_err tether_login(tether_client *c, const char *host,
                        const struct tether_login_opts *opts, json_t **info)
{
	struct login_run r;
	struct key_offers *os = NULL;
	struct tether_login_opts lo = *opts;
	const struct tether_login_opts *o = &lo;
	tether_err e = login_begin(c, host, o, &r);
	if (lo.identity == NULL && r.identity[0] != '\0')   /* the keys are read later */
		lo.identity = r.identity;
	while (e == TETHER_E_OK && r.step != LOGIN_DONE) {
		const char *method, *path;
		json_t *body, *reply = NULL;
		struct target *t;
		if (r.step == LOGIN_CHALLENGE && os == NULL &&
		    (e = login_offers_new(c, o, &os)) != TETHER_E_OK)
			break;
		if ((e = login_request(c, &r, os, o, &method, &path, &body, &t)) != TETHER_E_OK)
			break;
		e = client_request(c, t, method, path, body, &reply);
		login_body_done(body);
		e = login_reply(c, &r, os, o, e, reply);
		json_decref(reply);
	}
	if (e == TETHER_E_OK)
		e = login_finish(c, &r, info);
	login_run_clear(&r);
	login_offers_free(os);
	return e;
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
