/*
 * login-key.h - public-key login, the client's half (login-key.c).
 */
#ifndef TETHER_LOGIN_KEY_H
#define TETHER_LOGIN_KEY_H

#include <jansson.h>
#include <stddef.h>

#include "client-int.h"

/* The keys a login offers: --identity's (an OpenSSH private key file),
 * then ssh-agent's. Gathered once for any number of hosts; an encrypted
 * key file is decrypted (its passphrase asked) the first time a server
 * accepts it, and stays so. */
struct key_offers;

/* Gather o's keys into *out (possibly none). Fails only when --identity
 * cannot be used. */
tether_err login_offers_new(tether_client *c, const struct tether_login_opts *o,
                            struct key_offers **out);
void login_offers_free(struct key_offers *os);

/* The body of POST /v1/login/challenge offering os's keys for user; NULL
 * (TETHER_E_AUTH_FAILED recorded on c) when there is no key to offer. */
json_t *login_challenge_body(tether_client *c, const struct key_offers *os, const char *user);

/* From t's reply to the challenge (answered on a connection whose binding
 * t holds): the body of the signed POST /v1/login, and the key's
 * fingerprint in fp. TETHER_E_AUTH_FAILED when the server accepted none of
 * the keys; any other failure is the connection's or the user's to see. */
tether_err login_signed_body(tether_client *c, struct key_offers *os,
                             const struct tether_login_opts *o, const struct target *t,
                             const char *user, json_t *challenge, json_t **body,
                             char *fp, size_t fpsz);

#endif
