/*
 * login-int.h - one host's login as a sequence of requests (login.c), so
 * that tether_login and a fleet's login (fleet.c) take the same steps.
 */
#ifndef TETHER_LOGIN_INT_H
#define TETHER_LOGIN_INT_H

#include "client-int.h"
#include "login-key.h"
#include "sshkey.h"

enum login_step {
	LOGIN_PROBE,       /* GET /v1/health: learn the server's key (no secret sent) */
	LOGIN_CHALLENGE,   /* POST /v1/login/challenge, offering the keys */
	LOGIN_SIGNED,      /* POST /v1/login with a key's signature */
	LOGIN_PASSWORD,    /* POST /v1/login with the password */
	LOGIN_DONE,        /* reply holds the token */
};

struct login_run {
	struct target   t;
	struct target   probe;     /* LOGIN_PROBE's: no token, TRUST_PROBE */
	char            user[BOUND_NAME + 1];
	enum login_step step;
	json_t         *next;      /* LOGIN_SIGNED's body, made from the challenge */
	json_t         *reply;     /* the login reply, once LOGIN_DONE */
	char            keyfp[SSHKEY_FP_LEN];   /* the key that logged in, or "" */
	char            keys_failed[256];       /* why no key logged in */
	char            cacert[BOUND_PATH];     /* the config file's CACert for it */
	char            identity[BOUND_PATH];   /* and its IdentityFile */
};

/* Begin logging in to host: resolve it, and trust or decide to probe it. */
tether_err login_begin(tether_client *c, const char *host, const struct tether_login_opts *o,
                       struct login_run *r);

/* The request of r's step: method, path, *body (the caller's, to pass to
 * login_body_done after sending) and the target to send it on. */
tether_err login_request(tether_client *c, struct login_run *r, struct key_offers *os,
                         const struct tether_login_opts *o, const char **method,
                         const char **path, json_t **body, struct target **t);

/* Wipe a login request's body (a password, a signature) and free it. */
void login_body_done(json_t *body);

/* Take the reply to r's step (e: its judgement, reply: its JSON) and move
 * on; a failure that ends the login is returned (recorded on c). */
tether_err login_reply(tether_client *c, struct login_run *r, struct key_offers *os,
                       const struct tether_login_opts *o, tether_err e, json_t *reply);

/* Save the token of a login at LOGIN_DONE; *info (may be NULL) as
 * tether_login gives it. */
tether_err login_finish(tether_client *c, struct login_run *r, json_t **info);

/* o with --identity's default filled in from the configuration file's
 * IdentityFile for host (path in buf), for a fleet, which gathers its keys
 * once: it offers the first host's. */
struct tether_login_opts login_opts_for(tether_client *c, const struct tether_login_opts *o,
                                        const char *host, char *buf, size_t bufsz);

/* Free and wipe what r holds. */
void login_run_clear(struct login_run *r);

#endif
