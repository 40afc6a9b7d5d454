/*
 * pamauth.c - password logins through PAM (pamauth.h).
 *
 * The conversation answers only what a password login can answer: every
 * hidden prompt gets the password, messages are ignored, and anything else
 * (a visible prompt: a one-time code, a user name) ends the attempt as a
 * PAM failure rather than a wrong password. Calls are PAM_SILENT and carry
 * PAM_DISALLOW_NULL_AUTHTOK: an account without a password never logs in
 * over the network. PAM's own failure delay (pam_unix: about 2 s, or
 * pam_faildelay) is kept: it hides whether the name exists, and it holds
 * the request's login slot while it runs (docs/security.md).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <security/pam_appl.h>

#include "account.h"
#include "addr.h"
#include "crypto.h"
#include "log.h"
#include "pamauth.h"

struct conv_ctx {
	const char *password;
};

/* Free n PAM responses, wiping the answers. */
static void free_responses(struct pam_response *r, int n)
{
	for (int i = 0; i < n; i++)
		if (r[i].resp != NULL) {
			crypto_wipe(r[i].resp, strlen(r[i].resp));
			free(r[i].resp);
		}
	free(r);
}

/* PAM's conversation function: the password for hidden prompts, nothing
 * else. */
static int converse(int n, const struct pam_message **msg, struct pam_response **resp,
                    void *appdata)
{
	const struct conv_ctx *ctx = appdata;
	if (n <= 0 || n > PAM_MAX_NUM_MSG)
		return PAM_CONV_ERR;
	struct pam_response *r = calloc((size_t)n, sizeof *r);
	if (r == NULL)
		return PAM_BUF_ERR;
	for (int i = 0; i < n; i++) {
		switch (msg[i]->msg_style) {
		case PAM_PROMPT_ECHO_OFF:
			r[i].resp = strdup(ctx->password);
			if (r[i].resp == NULL) {
				free_responses(r, n);
				return PAM_BUF_ERR;
			}
			break;
		case PAM_ERROR_MSG:
		case PAM_TEXT_INFO:
			break;
		default:   /* a visible prompt, or binary: not a password login */
			free_responses(r, n);
			return PAM_CONV_ERR;
		}
	}
	*resp = r;
	return PAM_SUCCESS;
}

/* True if a PAM result means "no" about this user and password (as
 * opposed to a PAM stack that could not decide). */
static bool is_refusal(int rc)
{
	switch (rc) {
	case PAM_AUTH_ERR:
	case PAM_USER_UNKNOWN:
	case PAM_CRED_INSUFFICIENT:
	case PAM_MAXTRIES:
	case PAM_PERM_DENIED:
	case PAM_ACCT_EXPIRED:
	case PAM_NEW_AUTHTOK_REQD:
	case PAM_AUTHTOK_EXPIRED:
		return true;
	default:
		return false;
	}
}

/* Authenticate and check the account with PAM; see pamauth.h. */
int pamauth_check(const char *service, const char *user, const char *password,
                  const char *rhost, char *err, size_t errsz)
{
	struct conv_ctx ctx = { password };
	struct pam_conv conv = { converse, &ctx };
	pam_handle_t *ph = NULL;
	const char *step = "pam_start";
	int rc = pam_start(service, user, &conv, &ph);
	if (rc == PAM_SUCCESS && rhost != NULL && rhost[0] != '\0')
		rc = pam_set_item(ph, PAM_RHOST, rhost);
	if (rc == PAM_SUCCESS) {
		step = "pam_authenticate";
		rc = pam_authenticate(ph, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
	}
	if (rc == PAM_SUCCESS) {
		step = "pam_acct_mgmt";
		rc = pam_acct_mgmt(ph, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
	}
	snprintf(err, errsz, "%s: %s", step, pam_strerror(ph, rc));
	if (ph != NULL)
		pam_end(ph, rc);
	if (rc == PAM_SUCCESS)
		return 1;
	return is_refusal(rc) ? 0 : -1;
}

/* Add a tether user for a name PAM accepted, if its OS account may be
 * acted as; 1 with u filled in, else 0 with *e and why set. */
static int create_user(struct server *srv, const char *peer, const char *user,
                       struct user_rec *u, tether_err *e, char *why, size_t whysz)
{
	struct user_rec nu;
	struct account acct;
	char pwhash[CRYPTO_PWHASH_MAX] = "";
	memset(&nu, 0, sizeof nu);
	snprintf(nu.name, sizeof nu.name, "%s", user);   /* os_user "": the same name */
	tether_err ae = account_of(&nu, &acct, why, whysz);
	if (ae != TETHER_E_OK) {
		*e = ae;
		log_msg(LOG_WARN, "pam_user_refused", "user", user);
		store_audit(srv->store, "pam_user_refused", user, peer, why);
		return 0;
	}
	tether_err ce = store_user_add(srv->store, user, PAMAUTH_NO_PASSWORD, false, NULL);
	if (ce == TETHER_E_OK) {
		log_msg(LOG_INFO, "user_created_pam", "user", user);
		store_audit(srv->store, "user_created_pam", user, peer, acct.name);
	} else if (ce != TETHER_E_CONFLICT) {   /* a conflict: a login at the same time */
		*e = ce;
		snprintf(why, whysz, "cannot record the new user");
		return 0;
	}
	ce = store_user_get(srv->store, user, u, pwhash, sizeof pwhash);
	if (ce != TETHER_E_OK) {
		*e = ce == TETHER_E_NOT_FOUND ? TETHER_E_INTERNAL : ce;
		snprintf(why, whysz, "cannot look the new user up");
		return 0;
	}
	if (strcmp(pwhash, "!") == 0)
		return 0;   /* being removed: as a wrong password */
	*e = TETHER_E_OK;
	return 1;
}

/* The password step of a login under auth = pam; see pamauth.h. */
int pamauth_login(struct server *srv, const char *peer, const char *user,
                  const char *password, const char *pwhash, struct user_rec *u,
                  tether_err *e, char *why, size_t whysz)
{
	char err[200];
	why[0] = '\0';
	if ((*e != TETHER_E_OK && *e != TETHER_E_NOT_FOUND) || !addr_valid_name(user))
		return 0;
	/* a user being removed is disabled whatever PAM would say */
	if (*e == TETHER_E_OK && strcmp(pwhash, "!") == 0)
		return 0;
	int rc = pamauth_check(srv->conf.pam_service, user, password, peer, err, sizeof err);
	if (rc < 0) {
		struct logline l;
		log_begin(&l, LOG_ERROR, "pam_failed");
		log_str(&l, "user", user);
		log_str(&l, "service", srv->conf.pam_service);
		log_str(&l, "reason", err);
		log_end(&l);
		*e = TETHER_E_UNAVAILABLE;
		snprintf(why, whysz, "the password could not be checked (PAM service '%s' "
		         "failed); the server's log says why", srv->conf.pam_service);
		return 0;
	}
	if (rc == 0) {
		struct logline l;
		log_begin(&l, LOG_DEBUG, "pam_refused");
		log_str(&l, "user", user);
		log_str(&l, "reason", err);
		log_end(&l);
		return 0;
	}
	if (*e == TETHER_E_OK)
		return 1;
	return create_user(srv, peer, user, u, e, why, whysz);
}

/* Warn about a PAM service without a file; see pamauth.h. */
void pamauth_check_service(const char *service)
{
	char a[BOUND_PATH], b[BOUND_PATH];
	snprintf(a, sizeof a, "/etc/pam.d/%s", service);
	snprintf(b, sizeof b, "/usr/lib/pam.d/%s", service);
	if (access(a, F_OK) != 0 && access(b, F_OK) != 0)
		log_msg(LOG_WARN, "pam_service_missing", "path", a);
	else
		log_msg(LOG_INFO, "auth_pam", "service", service);
}
