/*
 * pamauth.h - PAM as tetherd's password backend (auth = pam).
 *
 * With `auth = pam` in the config a password login is checked by the PAM
 * service `pam_service` (pam_authenticate, then pam_acct_mgmt) instead of
 * the scrypt hash in tether's users table; the login endpoint keeps its
 * lockout, its bound on checks at once (login_concurrency: PAM runs in the
 * request's thread, inside that bound) and its audit. PAM checks the name
 * given at login; the user's OS mapping still decides which account jobs
 * run as. A name PAM accepts that tether does not know yet becomes a
 * (non-admin) tether user acting as the OS account of that name, if that is
 * a login account (account.h). See docs/security.md, "Password backends".
 */
#ifndef TETHER_PAMAUTH_H
#define TETHER_PAMAUTH_H

#include <stddef.h>

#include "error.h"
#include "store.h"
#include "tetherd.h"

/* The users-table password of a user PAM created: no password matches it,
 * so with auth = builtin such a user cannot log in until an administrator
 * sets a password (tetherd user passwd). */
#define PAMAUTH_NO_PASSWORD "-pam"

/* Check user's password with PAM service `service` (rhost: the client's
 * address, for modules that judge it). 1 accepted, 0 refused (wrong
 * password, unknown user, account expired or locked), -1 PAM failed (the
 * stack is broken or asked for more than a password); err says why, for
 * the log only. */
int pamauth_check(const char *service, const char *user, const char *password,
                  const char *rhost, char *err, size_t errsz);

/* The password step of a login under auth = pam, in place of the scrypt
 * check: *e and u come from looking the user up (TETHER_E_OK with pwhash,
 * or TETHER_E_NOT_FOUND). 1 if the login may go on (u and *e = OK filled
 * in, the user created if it was new); 0 if refused: a wrong password
 * leaves *e as it was, while an accepted password whose user cannot be
 * admitted, or a PAM failure, sets *e (FORBIDDEN, UNAVAILABLE, ...) and a
 * reason for the client in why. */
int pamauth_login(struct server *srv, const char *peer, const char *user,
                  const char *password, const char *pwhash, struct user_rec *u,
                  tether_err *e, char *why, size_t whysz);

/* Warn at start (in the log) about a PAM service that has no file: PAM
 * would then use its "other" service, which on Debian denies everything. */
void pamauth_check_service(const char *service);

#endif
